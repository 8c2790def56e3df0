"""Allocation policies: volatility targeting, CPPI, mean-variance, risk parity, target volatility.

Unlike the band and calendar rules, these policies decide their own weights: the risky
sleeve's exposure against a safe asset (volatility targeting, CPPI, target volatility) or a
whole new portfolio from an optimiser solved inside the kernel (mean-variance, risk parity).
See ``docs/policies_allocation.md`` for the formulas and conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import as_float, as_int, as_str, as_vector
from ..errors import ConfigError
from ..kernels import registry
from ..kernels._allocation import ESTIMATE_MODEL, ESTIMATE_TRAILING
from ..kernels._solvers import (
    mean_variance_nb,
    mv_work_size_nb,
    risk_parity_nb,
    rp_work_size_nb,
    target_vol_scale_nb,
)
from ..metrics import EventMetric
from .base import _FREQUENCIES, Policy, PolicyContext, register_policy, slot_array
from .rules import _every_steps

__all__ = ["CPPI", "MeanVariance", "RiskParity", "TargetVolatility", "VolatilityTarget"]

_ESTIMATES = {"model": ESTIMATE_MODEL, "trailing": ESTIMATE_TRAILING}


def _schedule(policy: Any, ctx: PolicyContext) -> int:
    """Steps between decisions: ``every`` or ``frequency``, 1 (every step) when neither."""
    if policy.every is None and policy.frequency is None:
        return 1
    return _every_steps(policy.every, policy.frequency, ctx.steps_per_year, policy._where)


def _calendar_schedule(policy: Any, ctx: PolicyContext) -> tuple[int, int]:
    """When the engine calls the rule: on its due steps only (trailing window sums are
    brought up to date there)."""
    return _schedule(policy, ctx), 0


def _check_schedule(policy: Any) -> None:
    w = policy._where
    if policy.every is not None:
        as_int(policy.every, f"{w}.every", low=1)
    if policy.frequency is not None:
        if policy.every is not None:
            raise ConfigError(f"Give either `{w}.every` (steps) or `{w}.frequency`, not both.")
        as_str(policy.frequency, f"{w}.frequency", choices=_FREQUENCIES)


def _safe_index(policy: Any, ctx: PolicyContext) -> int:
    """Index of ``safe_asset`` among the assets, or ConfigError naming the field."""
    names = ctx.asset_names
    if policy.safe_asset not in names:
        raise ConfigError(
            f"`{policy._where}.safe_asset` = {policy.safe_asset!r} is not an asset of the run; "
            f"choose one of: {', '.join(names)}."
        )
    return names.index(policy.safe_asset)


def _check_safe_name(policy: Any) -> None:
    if not isinstance(policy.safe_asset, str) or not policy.safe_asset:
        raise ConfigError(
            f"`{policy._where}.safe_asset` is required: the name of the asset that holds the "
            "rest of the portfolio (cash, T-bills)."
        )


def _sleeve(policy: Policy, ctx: PolicyContext, safe: int) -> tuple[np.ndarray, np.ndarray]:
    """Target weights and the sleeve weights (target outside ``safe``, summing to one)."""
    target = policy.resolve_target(ctx)
    sleeve = target.copy()
    sleeve[safe] = 0.0
    total = sleeve.sum()
    if total <= 0.0:
        raise ConfigError(
            f"`{policy._where}.target` puts no weight outside the safe asset "
            f"{ctx.asset_names[safe]!r}; give the risky assets positive target weights."
        )
    return target, sleeve / total


def _check_estimate(policy: Any) -> None:
    w = policy._where
    as_str(policy.estimate, f"{w}.estimate", choices=_ESTIMATES)
    as_int(policy.window, f"{w}.window", low=2)


def _check_window(policy: Any, ctx: PolicyContext) -> None:
    n = len(ctx.asset_names)
    w = policy._where
    if policy.estimate == "trailing":
        if policy.window < n + 1:
            raise ConfigError(
                f"`{w}.window` must be >= n_assets + 1 = {n + 1} steps so that the trailing "
                f"covariance can be positive definite; got {policy.window}."
            )
        if policy.window > ctx.n_steps:
            raise ConfigError(
                f"`{w}.window` = {policy.window} steps is longer than the horizon "
                f"({ctx.n_steps} steps): the trailing estimate would never be used. Shorten it "
                'or use `estimate = "model"`.'
            )


def _trailing_scratch(policy: Any, n_assets: int) -> int:
    """State slots for the trailing window's row count and rolling sums (the end of the
    state; always reserved, so the rule's offsets do not depend on the estimate)."""
    return 1 + n_assets + n_assets * n_assets


def _model_cov(policy: Any, ctx: PolicyContext, *, required: bool) -> np.ndarray | None:
    """The model's annual covariance (symmetrised), or None / ConfigError when unknown."""
    if ctx.cov is None:
        if required:
            raise ConfigError(
                f"`{policy._where}` needs the model's covariance, which this model does not "
                'provide; use a model with `cov_` (e.g. kind = "gaussian") or, where the '
                'policy has it, `estimate = "trailing"`.'
            )
        return None
    cov = np.asarray(ctx.cov, dtype=float)
    return 0.5 * (cov + cov.T)


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class VolatilityTarget(Policy):
    """Scale the risky sleeve against a safe asset to a forecast volatility target.

    The sleeve is the target weights outside ``safe_asset``, rescaled to sum to one. Its
    return is tracked every step by an EWMA mean and variance (half-life ``halflife`` steps,
    started from the model's covariance); on a due step the desired exposure is
    ``min(max_leverage, target_vol / forecast_vol)``, traded when it differs from the current
    exposure by more than ``threshold``.

    Parameters
    ----------
    safe_asset : str
        The asset that holds the rest (negative when borrowing).
    target_vol : float
        Annual volatility target of the portfolio (fraction, > 0).
    halflife : float
        EWMA half-life in steps (> 0).
    max_leverage : float
        Largest sleeve exposure as a fraction of wealth (> 0; above 1 borrows at the safe
        asset's return).
    threshold : float
        Trade only when ``|desired - current exposure|`` exceeds this (fraction, >= 0).
    every, frequency : optional
        Steps between decisions (default: every step), or a named frequency.
    """

    kind: ClassVar[str] = "vol_target"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.VOL_TARGET
    safe_asset: str = ""
    target_vol: float = 0.10
    halflife: float = 12.0
    max_leverage: float = 1.0
    threshold: float = 0.0
    every: int | None = None
    frequency: str | None = None

    def __post_init__(self) -> None:
        super(VolatilityTarget, self).__post_init__()
        w = self._where
        _check_safe_name(self)
        as_float(self.target_vol, f"{w}.target_vol", low=0.0, low_open=True)
        as_float(self.halflife, f"{w}.halflife", low=0.0, low_open=True)
        as_float(self.max_leverage, f"{w}.max_leverage", low=0.0, low_open=True)
        as_float(self.threshold, f"{w}.threshold", low=0.0)
        _check_schedule(self)

    def _exposure0(self, ctx: PolicyContext, sleeve: np.ndarray) -> tuple[float, float, float]:
        cov = _model_cov(self, ctx, required=True)
        var_year = float(sleeve @ cov @ sleeve)
        mean_year = float(sleeve @ ctx.mu) if ctx.mu is not None else 0.0
        vol = np.sqrt(max(var_year, 0.0))
        exposure = (
            self.max_leverage if vol == 0.0 else min(self.max_leverage, self.target_vol / vol)
        )
        return exposure, mean_year / ctx.steps_per_year, var_year / ctx.steps_per_year

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        safe = _safe_index(self, ctx)
        _, sleeve = _sleeve(self, ctx, safe)
        _, mean_step, var_step = self._exposure0(ctx, sleeve)
        rule = self.builtin
        params = slot_array(
            rule.params,
            every=_schedule(self, ctx),
            offset=0,
            safe=safe,
            target_vol=self.target_vol,
            decay=0.5 ** (1.0 / self.halflife),
            max_leverage=self.max_leverage,
            threshold=self.threshold,
            steps_per_year=ctx.steps_per_year,
        )
        state0 = slot_array(rule.state, events=0.0, mean=mean_step, var=var_step)
        return rule.kind, params, state0

    def initial_weights(self, ctx: PolicyContext, targets: np.ndarray) -> np.ndarray:
        safe = _safe_index(self, ctx)
        _, sleeve = _sleeve(self, ctx, safe)
        exposure, _, _ = self._exposure0(ctx, sleeve)
        w = exposure * sleeve
        w[safe] = 1.0 - exposure
        return w


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class CPPI(Policy):
    """Constant proportion portfolio insurance (Perold-Sharpe).

    The floor starts at ``floor`` times the initial wealth and grows at the safe asset's
    realised return (or at ``floor_growth`` per year); the sleeve (target weights outside the
    safe asset) gets ``min(max_exposure * W, multiplier * max(W - F, 0))``, the safe asset the
    rest. Steps that end with wealth below the floor are counted in the ``floor_breaches``
    metric.

    Parameters
    ----------
    safe_asset : str
        The reserve asset (cash, T-bills); it also sets the floor's growth.
    floor : float
        Floor as a fraction of initial wealth, in [0, 1).
    multiplier : float
        m > 0 (3 to 5 is usual).
    max_exposure : float
        Cap of the sleeve exposure as a fraction of wealth (> 0; ``inf`` for none; above 1
        borrows at the safe asset's return).
    floor_growth : float, optional
        Fixed growth of the floor per year (fraction, > -1) instead of the safe asset's
        realised return.
    every, frequency : optional
        Steps between rebalances (default: every step), or a named frequency. The floor and
        the breach count are updated every step.
    """

    kind: ClassVar[str] = "cppi"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.CPPI
    event_metric: ClassVar[EventMetric] = EventMetric(
        "floor_breaches",
        "Steps below the CPPI floor, ruin step included",
        "count",
        higher_is_better=False,
        title="CPPI floor breaches",
        anchor="floor",
        intro="Steps on which wealth was below the CPPI floor.",
        occurrence="a breach",
        count_label="Steps below floor",
    )
    safe_asset: str = ""
    floor: float = 0.8
    multiplier: float = 3.0
    max_exposure: float = 1.0
    floor_growth: float | None = None
    every: int | None = None
    frequency: str | None = None

    def __post_init__(self) -> None:
        super(CPPI, self).__post_init__()
        w = self._where
        _check_safe_name(self)
        as_float(self.floor, f"{w}.floor", low=0.0)
        if self.floor >= 1.0:
            raise ConfigError(
                f"`{w}.floor` is a fraction of initial wealth and must be < 1 (a floor at or "
                f"above initial wealth leaves no cushion to invest); got {self.floor!r}."
            )
        multiplier = as_float(self.multiplier, f"{w}.multiplier")
        if multiplier <= 0.0:
            raise ConfigError(
                f"`{w}.multiplier` must be > 0 (the exposure is multiplier times the "
                f"cushion; 3 to 5 is usual); got {self.multiplier!r}."
            )
        as_float(self.max_exposure, f"{w}.max_exposure", low=0.0, low_open=True, allow_inf=True)
        if self.floor_growth is not None:
            as_float(self.floor_growth, f"{w}.floor_growth", low=-1.0, low_open=True)
        _check_schedule(self)

    def _exposure0(self) -> float:
        return min(self.max_exposure, self.multiplier * (1.0 - self.floor))

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        safe = _safe_index(self, ctx)
        _sleeve(self, ctx, safe)
        n = len(ctx.asset_names)
        rule = self.builtin
        w0 = getattr(ctx, "initial_wealth", None)
        params = slot_array(
            rule.params,
            n,
            every=_schedule(self, ctx),
            offset=0,
            safe=safe,
            floor=self.floor,
            multiplier=self.multiplier,
            max_exposure=self.max_exposure,
            floor_growth=(
                np.nan
                if self.floor_growth is None
                else (1.0 + self.floor_growth) ** (1.0 / ctx.steps_per_year) - 1.0
            ),
            initial_wealth=np.nan if w0 is None else float(w0),
        )
        params[rule.params.N_FIXED :] = self.initial_weights(ctx, self.targets(ctx))
        state0 = slot_array(rule.state, events=0.0, floor=np.nan)
        return rule.kind, params, state0

    def initial_weights(self, ctx: PolicyContext, targets: np.ndarray) -> np.ndarray:
        safe = _safe_index(self, ctx)
        _, sleeve = _sleeve(self, ctx, safe)
        exposure = self._exposure0()
        w = exposure * sleeve
        w[safe] = 1.0 - exposure
        return w


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class MeanVariance(Policy):
    """Mean-variance re-optimisation, long-only and fully invested, solved in the kernel.

    On each due step the policy trades to the weights that maximise
    ``w' mu - (risk_aversion / 2) w' Sigma w - turnover_penalty * sum|w - w_current|`` on the
    simplex, with ``mu`` and ``Sigma`` annual: the model's (``estimate = "model"``) or the
    sample moments of the path's last ``window`` steps (``"trailing"``), annualised with the
    steps per year.

    Parameters
    ----------
    risk_aversion : float
        lambda > 0 (annual units: 3 is moderate).
    turnover_penalty : float
        kappa >= 0, in annual return per unit of one-way turnover times two
        (``sum|w - w_current|``).
    estimate : {"model", "trailing"}
        Source of the moments.
    window : int
        Trailing window in steps (>= n_assets + 1); before it fills, the model's moments are
        used when the model has them, otherwise the policy holds.
    every, frequency : optional
        Steps between re-optimisations (default: every step), or a named frequency.
    """

    kind: ClassVar[str] = "mean_variance"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.MEAN_VARIANCE
    risk_aversion: float = 3.0
    turnover_penalty: float = 0.0
    estimate: str = "model"
    window: int = 60
    every: int | None = None
    frequency: str | None = None

    def __post_init__(self) -> None:
        super(MeanVariance, self).__post_init__()
        w = self._where
        lam = as_float(self.risk_aversion, f"{w}.risk_aversion")
        if lam <= 0.0:
            raise ConfigError(
                f"`{w}.risk_aversion` (lambda) must be > 0; got {self.risk_aversion!r}. With "
                "lambda <= 0 the problem ignores risk; use a large lambda for low risk."
            )
        as_float(self.turnover_penalty, f"{w}.turnover_penalty", low=0.0)
        _check_estimate(self)
        _check_schedule(self)

    def _moments(self, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray] | None:
        """The model's annual (mu, Sigma), or None when the model has none (trailing only)."""
        if ctx.mu is None or ctx.cov is None:
            if self.estimate == "model":
                raise ConfigError(
                    f'`{self._where}.estimate` = "model" needs the model\'s expected returns '
                    "and covariance, which this model does not provide; use a model with "
                    '`mu_` and `cov_` (e.g. kind = "gaussian") or `estimate = "trailing"`.'
                )
            return None
        cov = _model_cov(self, ctx, required=True)
        assert cov is not None
        return np.asarray(ctx.mu, dtype=float), cov

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        return _calendar_schedule(self, ctx)

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        _check_window(self, ctx)
        n = len(ctx.asset_names)
        moments = self._moments(ctx)
        rule = self.builtin
        params = slot_array(
            rule.params,
            n + n * n,
            every=_schedule(self, ctx),
            offset=0,
            estimate=_ESTIMATES[self.estimate],
            window=self.window,
            risk_aversion=self.risk_aversion,
            turnover=self.turnover_penalty,
            steps_per_year=ctx.steps_per_year,
            has_model=0.0 if moments is None else 1.0,
        )
        first = rule.params.N_FIXED
        if moments is not None:
            params[first : first + n] = moments[0]
            params[first + n :] = moments[1].ravel()
        work = mv_work_size_nb(n) + _trailing_scratch(self, n)
        state0 = np.zeros(rule.state.N_FIXED + 3 * n + n * n + work)
        return rule.kind, params, state0

    def initial_weights(self, ctx: PolicyContext, targets: np.ndarray) -> np.ndarray:
        moments = self._moments(ctx)
        if moments is None:
            return targets[0].copy()
        n = len(ctx.asset_names)
        w = np.empty(n)
        work = np.empty(mv_work_size_nb(n))
        mean_variance_nb(
            moments[0], moments[1], float(self.risk_aversion), targets[0], 0.0, w, work
        )
        return w


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class RiskParity(Policy):
    """Risk parity (equal risk contribution or given risk budgets), solved in the kernel.

    On each due step the policy trades to the long-only, fully invested weights whose risk
    contributions ``w_i (Sigma w)_i`` are proportional to ``budgets`` (equal by default),
    with ``Sigma`` the model's covariance or the trailing window's.

    Parameters
    ----------
    budgets : float or mapping of asset name to float, optional
        Positive risk budgets (any scale); equal when omitted.
    estimate : {"model", "trailing"}
    window : int
        Trailing window in steps (>= n_assets + 1).
    every, frequency : optional
        Steps between re-solves (default: every step), or a named frequency.
    """

    kind: ClassVar[str] = "risk_parity"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.RISK_PARITY
    budgets: float | Mapping[str, float] | None = None
    estimate: str = "model"
    window: int = 60
    every: int | None = None
    frequency: str | None = None

    def __post_init__(self) -> None:
        super(RiskParity, self).__post_init__()
        _check_estimate(self)
        _check_schedule(self)
        if self.budgets is not None and not isinstance(self.budgets, Mapping):
            as_float(self.budgets, f"{self._where}.budgets", low=0.0, low_open=True)

    def _budgets(self, ctx: PolicyContext) -> np.ndarray:
        n = len(ctx.asset_names)
        if self.budgets is None:
            return np.full(n, 1.0 / n)
        b = as_vector(self.budgets, f"{self._where}.budgets", ctx.asset_names, low=0.0)
        if np.any(b <= 0.0):
            bad = ctx.asset_names[int(np.argmin(b))]
            raise ConfigError(
                f"`{self._where}.budgets[{bad}]` must be > 0: every asset needs a positive "
                "risk budget (drop the asset from the model to exclude it)."
            )
        return b / b.sum()

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        return _calendar_schedule(self, ctx)

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        _check_window(self, ctx)
        n = len(ctx.asset_names)
        cov = _model_cov(self, ctx, required=self.estimate == "model")
        rule = self.builtin
        params = slot_array(
            rule.params,
            n + n * n,
            every=_schedule(self, ctx),
            offset=0,
            estimate=_ESTIMATES[self.estimate],
            window=self.window,
            steps_per_year=ctx.steps_per_year,
            has_model=0.0 if cov is None else 1.0,
        )
        first = rule.params.N_FIXED
        params[first : first + n] = self._budgets(ctx)
        if cov is not None:
            _check_positive_definite(self, cov, ctx)
            params[first + n :] = cov.ravel()
        work = rp_work_size_nb(n) + _trailing_scratch(self, n)
        state0 = np.zeros(rule.state.N_FIXED + 3 * n + n * n + work)
        return rule.kind, params, state0

    def initial_weights(self, ctx: PolicyContext, targets: np.ndarray) -> np.ndarray:
        cov = _model_cov(self, ctx, required=False)
        if cov is None:
            return targets[0].copy()
        n = len(ctx.asset_names)
        w = np.empty(n)
        risk_parity_nb(cov, self._budgets(ctx), w, np.empty(rp_work_size_nb(n)), False)
        return w


def _check_positive_definite(policy: Any, cov: np.ndarray, ctx: PolicyContext) -> None:
    eig = np.linalg.eigvalsh(cov)
    if eig[0] <= 1e-12 * max(1.0, float(eig[-1])):
        raise ConfigError(
            f"`{policy._where}` needs a positive definite model covariance (risk parity puts "
            "unbounded weight on a riskless asset); the model's smallest eigenvalue is "
            f"{eig[0]:.3g}. Remove riskless or redundant assets, or use `estimate = "
            '"trailing"`.'
        )


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class TargetVolatility(Policy):
    """Scale the target portfolio so that its volatility is ``target_vol``; the rest is safe.

    On each due step the weights are ``k * target + (1 - k) * e_safe`` with ``k`` solving
    ``w' Sigma w = target_vol^2`` (``Sigma`` annual: the model's or the trailing window's),
    capped at ``max_leverage``. Unlike :class:`VolatilityTarget` the whole portfolio's
    covariance is used, safe asset included.

    Parameters
    ----------
    safe_asset : str
    target_vol : float
        Annual volatility target (fraction, > 0).
    max_leverage : float
        Largest ``k`` (> 0; above 1 borrows at the safe asset's return).
    threshold : float
        Trade only when the sleeve exposure changes by more than this (fraction, >= 0).
    estimate : {"model", "trailing"}
    window : int
        Trailing window in steps (>= n_assets + 1).
    every, frequency : optional
        Steps between decisions (default: every step), or a named frequency.
    """

    kind: ClassVar[str] = "target_vol"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.TARGET_VOL
    safe_asset: str = ""
    target_vol: float = 0.10
    max_leverage: float = 1.0
    threshold: float = 0.0
    estimate: str = "model"
    window: int = 60
    every: int | None = None
    frequency: str | None = None

    def __post_init__(self) -> None:
        super(TargetVolatility, self).__post_init__()
        w = self._where
        _check_safe_name(self)
        as_float(self.target_vol, f"{w}.target_vol", low=0.0, low_open=True)
        as_float(self.max_leverage, f"{w}.max_leverage", low=0.0, low_open=True)
        as_float(self.threshold, f"{w}.threshold", low=0.0)
        _check_estimate(self)
        _check_schedule(self)

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        return _calendar_schedule(self, ctx)

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        _check_window(self, ctx)
        safe = _safe_index(self, ctx)
        _sleeve(self, ctx, safe)
        n = len(ctx.asset_names)
        cov = _model_cov(self, ctx, required=self.estimate == "model")
        rule = self.builtin
        params = slot_array(
            rule.params,
            n * n,
            every=_schedule(self, ctx),
            offset=0,
            safe=safe,
            target_vol=self.target_vol,
            max_leverage=self.max_leverage,
            threshold=self.threshold,
            estimate=_ESTIMATES[self.estimate],
            window=self.window,
            steps_per_year=ctx.steps_per_year,
            has_model=0.0 if cov is None else 1.0,
        )
        if cov is not None:
            params[rule.params.N_FIXED :] = cov.ravel()
        state0 = np.zeros(rule.state.N_FIXED + n + n * n + _trailing_scratch(self, n))
        return rule.kind, params, state0

    def initial_weights(self, ctx: PolicyContext, targets: np.ndarray) -> np.ndarray:
        safe = _safe_index(self, ctx)
        target = targets[0]
        cov = _model_cov(self, ctx, required=False)
        if cov is None:
            return target.copy()
        k = target_vol_scale_nb(cov, target, safe, float(self.target_vol), float(self.max_leverage))
        w = k * target
        w[safe] += 1.0 - k
        return w
