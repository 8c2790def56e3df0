"""Check a stress against the run and turn it into plain arrays for the transform kernels."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from .._validation import check_correlation
from ..data import BUNDLED, resample_returns
from ..data.catalogue import unknown_dataset_error
from ..errors import ConfigError, DataError
from ..models.base import ReturnModel, psd_cholesky
from .episodes import EPISODES, _bundled, _periods_per_year, episode_returns
from .specs import (
    CorrelationStress,
    DriftStress,
    HistoricalEpisode,
    Proxy,
    Shock,
    Stress,
    VolatilityStress,
    _WindowStress,
    steps_of,
)

__all__ = [
    "MIN_BETA_ROWS",
    "MODEL_SUPPORT",
    "ResolvedStress",
    "StressContext",
    "fit_beta",
    "resolve",
]

# Fewer overlapping periods than this give a beta too noisy to scale a crisis by.
MIN_BETA_ROWS = 24

# Model kinds (ReturnModel.kind) each stress kind works with; None = any model.
MODEL_SUPPORT: dict[str, tuple[str, ...] | None] = {
    "historical": None,
    "shock": None,
    "drift": None,
    "volatility": ("gaussian", "student_t"),
    "correlation": ("gaussian", "student_t"),
}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StressContext:
    """What a stress is checked against: the run's series, steps, model and history.

    Parameters
    ----------
    series_names : sequence of str
        Simulated series in column order (assets and, if simulated, inflation).
    asset_names : sequence of str
        The investable series (``series_names`` without inflation).
    inflation_index : int
        Column of the inflation series in ``series_names``, or -1.
    steps_per_year : int
        Steps per year of the simulation.
    n_steps : int
        Steps over the horizon.
    model : ReturnModel, optional
        The fitted model (needed by volatility and correlation stresses).
    history : pandas.DataFrame, optional
        The scenario's history (simple returns, one column per series), as the model was
        fitted to; needed by ``start``/``end`` windows without ``dataset`` and by fitted betas.
    history_periods_per_year : int, optional
        Periods per year of ``history`` (else read from its attrs or inferred).
    """

    series_names: Sequence[str]
    asset_names: Sequence[str]
    inflation_index: int
    steps_per_year: int
    n_steps: int
    model: ReturnModel | None = None
    history: pd.DataFrame | None = None
    history_periods_per_year: int | None = None

    @property
    def horizon_years(self) -> float:
        """The horizon in years."""
        return self.n_steps / self.steps_per_year

    @classmethod
    def from_plan(cls, plan: Any) -> StressContext:
        """The context of a prepared run (a ``RunPlan`` from :func:`mcsim.prepare`)."""
        return cls(
            series_names=list(plan.series_names),
            asset_names=list(plan.asset_names),
            inflation_index=int(plan.inflation_index),
            steps_per_year=int(plan.scenario.simulation.steps_per_year),
            n_steps=int(plan.n_steps),
            model=plan.model,
            history=plan.history,
            history_periods_per_year=plan.history_periods_per_year,
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ResolvedStress:
    """A stress checked against a run, as plain arrays for :func:`mcsim.stress.apply_stress`.

    Attributes
    ----------
    name : str
        The stress's name.
    kind : {"copy", "splice", "shock", "linear", "scale", "drift"}
        Transform to run. ``"copy"``: the stress is an exact no-op for this run.
        ``"scale"``: a linear map whose matrix is diagonal (a volatility stress), applied as a
        per-series scale.
    n_steps, n_series : int
        Shape of the paths it applies to.
    start, stop : int
        Window of steps ``[start, stop)`` (a shock's step is ``start``; a random splice has
        ``start = 0`` and ``stop`` = its length).
    random_start : bool
        Splice only: each path starts the episode at its own step, drawn with
        :func:`mcsim.stress.splice_steps` in ``[splice_low, splice_high)``.
    episode : ndarray of shape (n_episode, n_series)
        Splice: the episode's simple returns per step for every series.
    shock : ndarray of shape (n_series,)
        Shock: simple return of the jump per series (0 = untouched).
    drift : ndarray of shape (n_series,)
        Linear and scale: the model's mean log return per step.
    matrix : ndarray of shape (n_series, n_series)
        Linear: map of log-return deviations, ``L' L^{-1}`` (rows in ``rows`` only).
    rows : ndarray of shape (n_rows,)
        Linear and scale: int64 series that are rebuilt; the others are copied.
    scale : ndarray of shape (n_series,)
        Scale: multiplier of the log-return deviations from the drift per series.
    shift : ndarray of shape (n_series,)
        Drift: shift of the log return per step.
    info : dict
        What was resolved, as plain objects (window, proxies and betas, ...), for manifests.
    """

    name: str
    kind: str
    n_steps: int
    n_series: int
    start: int = 0
    stop: int = 0
    random_start: bool = False
    episode: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    shock: np.ndarray = field(default_factory=lambda: np.empty(0))
    drift: np.ndarray = field(default_factory=lambda: np.empty(0))
    matrix: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    shift: np.ndarray = field(default_factory=lambda: np.empty(0))
    scale: np.ndarray = field(default_factory=lambda: np.empty(0))
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def splice_low(self) -> int:
        """Lowest start step of a random splice (inclusive)."""
        return 0

    @property
    def splice_high(self) -> int:
        """One past the highest start step of a random splice (the episode must fit)."""
        return self.n_steps - self.episode.shape[0] + 1


def resolve(stress: Stress, ctx: StressContext) -> ResolvedStress:
    """Check ``stress`` against the run and return the arrays its transform needs.

    Parameters
    ----------
    stress : Stress
        A :class:`HistoricalEpisode`, :class:`Shock`, :class:`VolatilityStress`,
        :class:`CorrelationStress` or :class:`DriftStress`.
    ctx : StressContext
        The run (see :meth:`StressContext.from_plan`).

    Returns
    -------
    ResolvedStress

    Raises
    ------
    ConfigError
        A start or window off whole steps or past the horizon, a series name the run does not
        simulate, a model that does not support the kind, a correlation target that cannot be
        valid, a series without a proxy.
    DataError
        An episode window outside its data, a proxy or dataset column that does not exist, too
        short an overlap to fit a beta.
    """
    supported = MODEL_SUPPORT.get(stress.kind)
    if supported is not None:
        kind = getattr(ctx.model, "kind", None)
        if kind not in supported:
            raise ConfigError(
                f"`{stress.label('kind')}` = {stress.kind!r} works with the Gaussian and "
                "Student-t models only (it rebuilds their standardised draws); this run's model "
                f"is {kind!r}. Use a drift, shock or historical stress with this model, or "
                'model kind = "gaussian" or "student_t".'
            )
    if isinstance(stress, HistoricalEpisode):
        return _resolve_historical(stress, ctx)
    if isinstance(stress, Shock):
        return _resolve_shock(stress, ctx)
    if isinstance(stress, VolatilityStress):
        return _resolve_volatility(stress, ctx)
    if isinstance(stress, CorrelationStress):
        return _resolve_correlation(stress, ctx)
    if isinstance(stress, DriftStress):
        return _resolve_drift(stress, ctx)
    raise TypeError(f"resolve() takes a Stress; got {type(stress).__name__}.")


# -- shared checks -----------------------------------------------------------------------------
def _copy(stress: Stress, ctx: StressContext, reason: str) -> ResolvedStress:
    return ResolvedStress(
        name=stress.name,
        kind="copy",
        n_steps=ctx.n_steps,
        n_series=len(ctx.series_names),
        info={"no_op": reason},
    )


def _start_step(stress: Stress, ctx: StressContext) -> int:
    name = stress.label("at_year")
    s = steps_of(stress.at_year, ctx.steps_per_year, name)
    if s >= ctx.n_steps:
        raise ConfigError(
            f"`{name}` = {stress.at_year:g} is at or after the end of the horizon "
            f"({ctx.horizon_years:g} years); use a value below {ctx.horizon_years:g}."
        )
    return s


def _window(stress: _WindowStress, ctx: StressContext) -> tuple[int, int]:
    s = _start_step(stress, ctx)
    if stress.years is None:
        return s, ctx.n_steps
    length = steps_of(stress.years, ctx.steps_per_year, stress.label("years"))
    if s + length > ctx.n_steps:
        room = (ctx.n_steps - s) / ctx.steps_per_year
        raise ConfigError(
            f"`{stress.label('years')}` = {stress.years:g} from at_year = {stress.at_year:g} "
            f"ends after the horizon ({ctx.horizon_years:g} years); use years <= {room:g}, or "
            "omit `years` to run to the horizon."
        )
    return s, s + length


def _unknown_series(key: str, ctx: StressContext, name: str) -> ConfigError:
    names = list(ctx.series_names)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"`{name}.{key}` names a series the run does not simulate.{hint} Series: "
        f"{', '.join(names)}."
    )


def _per_series(
    value: float | Mapping[str, float], ctx: StressContext, name: str, default: float
) -> np.ndarray:
    """A value per series: a number for every asset (inflation keeps ``default``) or a table."""
    out = np.full(len(ctx.series_names), default, dtype=float)
    if isinstance(value, Mapping):
        for key, v in value.items():
            if key not in ctx.series_names:
                raise _unknown_series(key, ctx, name)
            out[list(ctx.series_names).index(key)] = v
    else:
        for a in ctx.asset_names:
            out[list(ctx.series_names).index(a)] = value
    return out


# -- shock, drift, volatility ------------------------------------------------------------------
def _resolve_shock(stress: Shock, ctx: StressContext) -> ResolvedStress:
    s = _start_step(stress, ctx)
    shock = _per_series(dict(stress.returns), ctx, stress.label("returns"), 0.0)
    if not shock.any():
        return _copy(stress, ctx, "every shock is 0")
    return ResolvedStress(
        name=stress.name,
        kind="shock",
        n_steps=ctx.n_steps,
        n_series=len(ctx.series_names),
        start=s,
        stop=s + 1,
        shock=shock,
        info={"step": s},
    )


def _resolve_drift(stress: DriftStress, ctx: StressContext) -> ResolvedStress:
    s0, s1 = _window(stress, ctx)
    annual = _per_series(stress.shift, ctx, stress.label("shift"), 0.0)
    if not annual.any():
        return _copy(stress, ctx, "every shift is 0")
    return ResolvedStress(
        name=stress.name,
        kind="drift",
        n_steps=ctx.n_steps,
        n_series=len(ctx.series_names),
        start=s0,
        stop=s1,
        shift=annual / ctx.steps_per_year,
        info={"steps": [s0, s1]},
    )


def _log_space_window(
    stress: Stress, ctx: StressContext, s0: int, s1: int, kind: str, rows: np.ndarray, **maps
) -> ResolvedStress:
    """A window rebuilt around the model's per-step drift: ``"linear"`` (``matrix``) or
    ``"scale"`` (``scale``), over the series ``rows``."""
    drift, _ = ctx.model.step_moments(ctx.steps_per_year)
    return ResolvedStress(
        name=stress.name,
        kind=kind,
        n_steps=ctx.n_steps,
        n_series=len(ctx.series_names),
        start=s0,
        stop=s1,
        drift=np.ascontiguousarray(drift, dtype=float),
        rows=np.ascontiguousarray(rows, dtype=np.int64),
        info={"steps": [s0, s1]},
        **{k: np.ascontiguousarray(v, dtype=float) for k, v in maps.items()},
    )


def _linear(
    stress: Stress, ctx: StressContext, s0: int, s1: int, matrix: np.ndarray, rows: np.ndarray
) -> ResolvedStress:
    return _log_space_window(stress, ctx, s0, s1, "linear", rows, matrix=matrix)


def _resolve_volatility(stress: VolatilityStress, ctx: StressContext) -> ResolvedStress:
    s0, s1 = _window(stress, ctx)
    k = _per_series(stress.multiplier, ctx, stress.label("multiplier"), 1.0)
    if np.all(k == 1.0):
        return _copy(stress, ctx, "every multiplier is 1")
    # Scaling the volatilities scales the Cholesky factor row by row (L' = K L), so the map
    # L' L^{-1} is K itself: no inverse, and singular covariances are fine. K is diagonal, so
    # it is kept as the per-series scale, with no matrix product to run.
    return _log_space_window(stress, ctx, s0, s1, "scale", np.flatnonzero(k != 1.0), scale=k)


# -- correlation -------------------------------------------------------------------------------
def _resolve_correlation(stress: CorrelationStress, ctx: StressContext) -> ResolvedStress:
    s0, s1 = _window(stress, ctx)
    names = list(ctx.series_names)
    assets = [names.index(a) for a in ctx.asset_names]
    to_name = stress.label("to")
    _, chol = ctx.model.step_moments(ctx.steps_per_year)
    cov = chol @ chol.T
    var = np.diag(cov)
    # Riskless series have no correlation to move: they are left as they are.
    positive = [i for i in range(len(names)) if var[i] > 1e-14 * max(float(var.max()), 1e-300)]
    stressed = [i for i in assets if i in positive]
    target = _target_matrix(stress, ctx, assets, stressed, to_name)
    vol = np.sqrt(var)
    corr = np.eye(len(names))
    p = np.ix_(positive, positive)
    corr[p] = cov[p] / np.outer(vol[positive], vol[positive])
    np.fill_diagonal(corr, 1.0)
    sq = np.ix_(stressed, stressed)
    w = stress.weight
    if len(stressed) < 2 or np.allclose(
        (1.0 - w) * corr[sq] + w * target, corr[sq], rtol=0.0, atol=1e-12
    ):
        return _copy(stress, ctx, "the stressed correlation equals the model's")
    kept = [i for i in positive if i not in stressed]
    full, scale = _coherent_target(corr, positive, kept, stressed, target)
    # Both the model's matrix and the coherent target are valid, so is every mix of them.
    new = corr.copy()
    new[p] = (1.0 - w) * corr[p] + w * full[p]
    np.fill_diagonal(new, 1.0)
    # Untouched series first: their rows of the Cholesky factor, hence their paths, stay the same.
    order = kept + stressed
    o = np.ix_(order, order)
    try:
        L = np.linalg.cholesky(cov[o])
    except np.linalg.LinAlgError:
        L = None
    diag = np.diag(L) if L is not None else np.zeros(1)
    if L is None or diag.min() <= 1e-8 * diag.max():
        raise ConfigError(
            f"`{stress.label('kind')}` = 'correlation' needs the model's covariance of "
            f"{', '.join(names[i] for i in order)} to be non-singular (a series that is an "
            "exact combination of others has no draws of its own to rebuild). Drop the "
            "redundant series or use a drift or shock stress."
        )
    new_cov = np.outer(vol[order], vol[order]) * new[o]
    L_new = psd_cholesky(new_cov)
    a = solve_triangular(L, L_new.T, trans="T", lower=True).T
    matrix = np.zeros((len(names), len(names)))
    matrix[o] = a
    out = _linear(stress, ctx, s0, s1, matrix, np.array(stressed))
    out.info["correlation"] = new[sq].tolist()
    out.info["cross_scale"] = scale
    return out


def _coherent_target(
    corr: np.ndarray, positive: list[int], kept: list[int], stressed: list[int], target: np.ndarray
) -> tuple[np.ndarray, float]:
    """The full target matrix: assets at ``target``, the other series' correlations coherent.

    Assets moved toward a common correlation cannot keep different correlations with a series
    that is not stressed (at ``to = 1`` they must be equal), so in the target each kept series
    gets its average correlation with the stressed assets, times the largest factor in [0, 1]
    that leaves the target positive semi-definite (1 unless the target is far from the data;
    0 always works, as the matrix is then block diagonal). Returns (target, factor).
    """
    full = corr.copy()
    full[np.ix_(stressed, stressed)] = target
    mean = corr[np.ix_(stressed, kept)].mean(axis=0) if kept else np.empty(0)
    p = np.ix_(positive, positive)

    def with_scale(scale: float) -> np.ndarray:
        m = full.copy()
        for k, u in enumerate(kept):
            m[stressed, u] = scale * mean[k]
            m[u, stressed] = scale * mean[k]
        return m

    def valid(scale: float) -> bool:
        return bool(np.linalg.eigvalsh(with_scale(scale)[p])[0] >= -1e-12)

    if not kept or valid(1.0):
        return with_scale(1.0), 1.0
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if valid(mid) else (lo, mid)
    return with_scale(lo), lo


def _target_matrix(
    stress: CorrelationStress,
    ctx: StressContext,
    assets: list[int],
    stressed: list[int],
    to_name: str,
) -> np.ndarray:
    """The target correlation among the stressed assets, checked to be valid."""
    n = len(stressed)
    if isinstance(stress.to, np.ndarray):
        full = check_correlation(stress.to, to_name, len(assets))
        pos = [assets.index(i) for i in stressed]
        return full[np.ix_(pos, pos)]
    rho = float(stress.to)
    if n > 1 and rho < -1.0 / (n - 1) - 1e-12:
        raise ConfigError(
            f"`{to_name}` = {rho:g} cannot hold among {n} assets: when every pair has the same "
            f"correlation, the matrix is valid (positive semi-definite) only for values >= "
            f"-1/(n - 1) = {-1.0 / (n - 1):.4g}. Use to >= {-1.0 / (n - 1):.4g}, or give a full "
            "matrix."
        )
    target = np.full((n, n), rho)
    np.fill_diagonal(target, 1.0)
    return target


# -- historical --------------------------------------------------------------------------------
def _source(stress: HistoricalEpisode, ctx: StressContext) -> tuple[pd.DataFrame, str, Any]:
    """(data, label for messages, window) of a historical stress."""
    if stress.episode is not None:
        window: Any = EPISODES[stress.episode]
        dataset = stress.dataset or window.dataset
    else:
        window = (stress.start, stress.end)
        dataset = stress.dataset
    if dataset is None:
        if ctx.history is None:
            raise ConfigError(
                f"`{stress.label('start')}`/`end` are a window of the scenario's own data, and "
                'this run has no [data] history; add dataset = "shiller" (or another bundled '
                "dataset) to the stress."
            )
        data = ctx.history
        if "periods_per_year" not in data.attrs and ctx.history_periods_per_year is not None:
            data = data.copy()
            data.attrs["periods_per_year"] = int(ctx.history_periods_per_year)
        return data, "the scenario's history", window
    if dataset not in BUNDLED:
        err = unknown_dataset_error(dataset)
        raise DataError(f"`{stress.label('dataset')}`: {err}") from None
    return _bundled(dataset), f"dataset {dataset!r}", window


def _proxies(
    stress: HistoricalEpisode, ctx: StressContext, data: pd.DataFrame, label: str
) -> dict[str, Proxy]:
    names = list(ctx.series_names)
    where = stress.label("proxies")
    for key in stress.proxies:
        if key not in names:
            raise _unknown_series(key, ctx, where)
    columns = [str(c) for c in data.columns]
    out: dict[str, Proxy] = {}
    for name in names:
        proxy = stress.proxies.get(name)
        if proxy is None:
            if name not in columns:
                raise ConfigError(
                    f"`{where}`: the run's series {name!r} is not a column of {label}, so the "
                    f'episode has nothing to put in its place; add proxies = {{ {name} = "'
                    f'{columns[0]}" }} (columns: {", ".join(columns)}).'
                )
            proxy = Proxy(name)
        elif proxy.series not in columns:
            close = difflib.get_close_matches(proxy.series, columns, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise DataError(
                f"`{where}.{name}` = {proxy.series!r} is not a column of {label}.{hint} "
                f"Columns: {', '.join(columns)}."
            )
        out[name] = proxy
    return out


def fit_beta(
    asset: pd.Series,
    proxy: pd.Series,
    *,
    field: str,
    asset_periods_per_year: int | None = None,
    proxy_periods_per_year: int | None = None,
) -> float:
    """OLS slope, with an intercept, of an asset's log returns on a proxy's, over their overlap.

    The finer of the two series is first compounded to the other's frequency; the slope is
    ``cov(x, y) / var(x)`` with ``x = log(1 + proxy)`` and ``y = log(1 + asset)``.

    Parameters
    ----------
    asset, proxy : pandas.Series
        Simple returns per period with DatetimeIndex of period ends.
    field : str
        The setting the beta belongs to, for messages.
    asset_periods_per_year, proxy_periods_per_year : int, optional
        Frequencies (default: from ``attrs`` or inferred from the dates).

    Returns
    -------
    float

    Raises
    ------
    DataError
        Fewer than :data:`MIN_BETA_ROWS` overlapping periods, or a proxy without variation.
    """
    a = asset.to_frame("asset")
    p = proxy.to_frame("proxy")
    a.attrs["periods_per_year"] = asset_periods_per_year or _periods_per_year(asset.to_frame())
    p.attrs["periods_per_year"] = proxy_periods_per_year or _periods_per_year(proxy.to_frame())
    if p.attrs["periods_per_year"] > a.attrs["periods_per_year"]:
        p = resample_returns(p, a.attrs["periods_per_year"])
    elif a.attrs["periods_per_year"] > p.attrs["periods_per_year"]:
        a = resample_returns(a, p.attrs["periods_per_year"])
    both = a.join(p, how="inner").dropna()
    if len(both) < MIN_BETA_ROWS:
        raise DataError(
            f'`{field}` = "fit" needs at least {MIN_BETA_ROWS} periods where the scenario\'s '
            f"history of {asset.name!r} and the proxy {proxy.name!r} overlap; they overlap on "
            f"{len(both)}. Give a number instead, such as beta = 1.0."
        )
    y = np.log1p(both["asset"].to_numpy(dtype=float))
    x = np.log1p(both["proxy"].to_numpy(dtype=float))
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0.0:
        raise DataError(
            f'`{field}` = "fit": the proxy {proxy.name!r} does not vary over the overlap; '
            "give a number instead, such as beta = 1.0."
        )
    return float(xc @ (y - y.mean()) / sxx)


def _resolve_historical(stress: HistoricalEpisode, ctx: StressContext) -> ResolvedStress:
    data, label, window = _source(stress, ctx)
    proxies = _proxies(stress, ctx, data, label)
    window_field = stress.label("episode" if stress.episode is not None else "start")
    columns = list(dict.fromkeys(p.series for p in proxies.values()))
    steps = episode_returns(window, columns, ctx.steps_per_year, data, field=window_field)
    n_episode = len(steps)
    if n_episode > ctx.n_steps:
        raise ConfigError(
            f"`{window_field}`: the episode is {n_episode} steps "
            f"({n_episode / ctx.steps_per_year:g} years), longer than the horizon "
            f"({ctx.horizon_years:g} years); lengthen the horizon or choose a shorter window."
        )
    start = 0
    if not stress.random_start:
        start = _start_step(stress, ctx)
        if start + n_episode > ctx.n_steps:
            latest = (ctx.n_steps - n_episode) / ctx.steps_per_year
            raise ConfigError(
                f"`{stress.label('at_year')}` = {stress.at_year:g}: the episode's "
                f"{n_episode / ctx.steps_per_year:g} years would run past the horizon "
                f"({ctx.horizon_years:g} years); use at_year <= {latest:g}."
            )
    episode = np.empty((n_episode, len(ctx.series_names)))
    used: dict[str, Any] = {}
    for i, name in enumerate(ctx.series_names):
        proxy = proxies[name]
        r = steps[proxy.series].to_numpy(dtype=float)
        beta = proxy.beta
        if beta == "fit":
            beta = _fitted_beta(stress, ctx, name, proxy, data)
        if beta is None:
            episode[:, i] = r
        else:
            # Scaling log returns keeps every step above -100 % and compounds consistently:
            # the episode's total log return is beta times the proxy's at any step length.
            episode[:, i] = np.expm1(float(beta) * np.log1p(r))
        used[name] = {"series": proxy.series, "beta": beta}
    return ResolvedStress(
        name=stress.name,
        kind="splice",
        n_steps=ctx.n_steps,
        n_series=len(ctx.series_names),
        start=start,
        stop=start + n_episode,
        random_start=stress.random_start,
        episode=np.ascontiguousarray(episode),
        info={
            "source": label,
            "first": str(steps.index[0].date()),
            "last": str(steps.index[-1].date()),
            "steps": n_episode,
            "proxies": used,
        },
    )


def _fitted_beta(
    stress: HistoricalEpisode, ctx: StressContext, name: str, proxy: Proxy, data: pd.DataFrame
) -> float:
    where = f"{stress.label('proxies')}.{name}.beta"
    if ctx.history is None or name not in ctx.history.columns:
        raise ConfigError(
            f'`{where}` = "fit" needs the scenario\'s history of {name!r} (a [data] section with '
            "that column); give a number instead, such as beta = 1.0."
        )
    return fit_beta(
        ctx.history[name],
        data[proxy.series],
        field=where,
        asset_periods_per_year=ctx.history_periods_per_year,
        proxy_periods_per_year=_periods_per_year(data),
    )
