"""Deciding between policies: certainty equivalents, fee equivalents and an honest winner.

Everything here works on per-path terminal wealth of several policies that ran on the same
paths (common random numbers), so comparisons are paired path by path. Nothing here runs
inside a kernel: decisions are computed from results (see ``docs/choosing.md``).

Conventions
-----------
* CRRA utility ``u(W) = W**(1 - g) / (1 - g)``, ``log W`` at ``g = 1``, for ``g >= 0``.
* Certainty-equivalent wealth ``CE = u^{-1}(mean u(W))``, computed from logs with a
  log-sum-exp, so ``mean W**(1 - g)`` never overflows or underflows (``g = 10`` and more).
* Terminal wealth at or below ``wealth_floor * initial_wealth`` (ruin: ``W = 0``) is raised to
  that floor before utility, for every ``g``: ``u(0) = -inf`` for ``g >= 1`` would make every
  CE of a policy with one ruined path exactly 0 and every comparison meaningless. The number
  of floored paths is reported next to each CE (column ``n_floored``).
* Certainty fee equivalent, in basis points a year, positive when the policy is better than
  the baseline (the sign of Vanguard's 2022 rebalancing study, where the CFE is the benefit
  of the chosen strategy, or the fee an investor would be willing to pay for it):
  ``CFE = (CE_policy / CE_baseline) ** (1 / T) - 1``. The baseline's wealth would need an
  extra ``CFE`` a year, compounded, to be worth the policy; a policy that pays an extra fee
  ``f`` a year and is otherwise the baseline has ``CFE = -f`` exactly.
* Standard errors come from the delta method on the per-path influence values, paired
  between policies; 95 % intervals are ``estimate +/- 1.96 SE`` on the log scale for CE
  wealth and returns (so they stay positive), on the natural scale otherwise.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_float, as_str, check_keys
from .errors import ConfigError, DataError

__all__ = [
    "DEFAULT_WEALTH_FLOOR",
    "OBJECTIVES",
    "Z95",
    "DecisionConfig",
    "WinnerSelection",
    "certainty_equivalent",
    "crra_utility",
    "fee_equivalent",
    "is_selection_block",
    "log_certainty_equivalent",
    "objective_values",
    "ranking_table",
    "select_winner",
    "selection_mask",
    "write_ranking",
]

OBJECTIVES = ("certainty_equivalent", "goal_probability", "cvar")
DEFAULT_WEALTH_FLOOR = 1e-6  # fraction of initial wealth that ruined paths are raised to
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
_FRACTION_DENOMINATOR = 10_000  # select_fraction is used as an exact fraction p / q


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionConfig:
    """The ``[decision]`` section of a scenario: how policies are ranked and chosen.

    Parameters
    ----------
    risk_aversion : float or tuple of float
        CRRA risk aversions ``g >= 0`` (0 = risk neutral, 1 = log utility). Several give one
        ranking per value.
    objective : {"certainty_equivalent", "goal_probability", "cvar"}
        What the ranking and the winner maximise: CE wealth, ``P(W >= goal)`` (needs
        ``[simulation].goal``) or the mean of the worst ``cvar_level`` of terminal wealth.
    baseline : str, optional
        Policy the fee equivalents are measured against; the scenario's baseline when omitted.
    select_fraction : float
        Share of the random blocks used to choose the winner, in (0, 1); the others evaluate it.
    cvar_level : float
        Tail share of the ``cvar`` objective, in (0, 1).
    wealth_floor : float
        Ruined or smaller terminal wealth is raised to ``wealth_floor * initial_wealth`` before
        utility, in (0, 1).
    """

    risk_aversion: tuple[float, ...] = (3.0,)
    objective: str = "certainty_equivalent"
    baseline: str | None = None
    select_fraction: float = 0.5
    cvar_level: float = 0.05
    wealth_floor: float = DEFAULT_WEALTH_FLOOR

    def __post_init__(self) -> None:
        w = "[decision]"
        values = self.risk_aversion
        if isinstance(values, (int, float, np.integer, np.floating)) and not isinstance(
            values, bool
        ):
            values = (values,)
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ConfigError(
                f"`{w}.risk_aversion` must be a number >= 0 or a non-empty list of them; "
                f"got {self.risk_aversion!r}."
            )
        checked = tuple(
            as_float(
                g, f"{w}.risk_aversion" if len(values) == 1 else f"{w}.risk_aversion[{i}]", low=0.0
            )
            for i, g in enumerate(values)
        )
        if len(set(checked)) != len(checked):
            raise ConfigError(f"`{w}.risk_aversion` repeats a value; got {list(checked)}.")
        object.__setattr__(self, "risk_aversion", checked)
        as_str(self.objective, f"{w}.objective", choices=OBJECTIVES)
        if self.baseline is not None:
            as_str(self.baseline, f"{w}.baseline")
        as_float(
            self.select_fraction,
            f"{w}.select_fraction",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        )
        as_float(
            self.cvar_level, f"{w}.cvar_level", low=0.0, high=1.0, low_open=True, high_open=True
        )
        as_float(
            self.wealth_floor, f"{w}.wealth_floor", low=0.0, high=1.0, low_open=True, high_open=True
        )

    @classmethod
    def from_config(cls, table: Mapping[str, Any] | None) -> DecisionConfig:
        """Build from a ``[decision]`` table (``None`` or ``{}`` gives the defaults).

        Raises
        ------
        ConfigError
            An unknown key (with a suggestion) or a value out of range, naming the field.
        """
        if table is None:
            return cls()
        if not isinstance(table, Mapping):
            raise ConfigError(
                "`[decision]` must be a table, such as `[decision]` then `risk_aversion = 3`."
            )
        fields = [
            "risk_aversion",
            "objective",
            "baseline",
            "select_fraction",
            "cvar_level",
            "wealth_floor",
        ]
        check_keys(table, fields, "[decision]")
        return cls(**dict(table))

    def check(self, *, has_goal: bool, policy_names: Sequence[str] | None = None) -> None:
        """Refuse, before simulating, what the scenario cannot give.

        Parameters
        ----------
        has_goal : bool
            Whether the scenario sets ``[simulation].goal``.
        policy_names : sequence of str, optional
            The scenario's policies (sweep points included): ``baseline`` must be one.

        Raises
        ------
        ConfigError
            ``objective = "goal_probability"`` without a goal, or an unknown baseline.
        """
        if self.objective == "goal_probability" and not has_goal:
            raise ConfigError(
                '`[decision].objective = "goal_probability"` needs a goal: set '
                "`[simulation].goal` (terminal wealth to reach) or choose objective "
                '"certainty_equivalent".'
            )
        if policy_names is not None and self.baseline is not None:
            names = list(policy_names)
            if self.baseline not in names:
                close = difflib.get_close_matches(self.baseline, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"`[decision].baseline` = {self.baseline!r} is not a policy.{hint} "
                    f"Policies: {', '.join(names)}."
                )

    def to_dict(self) -> dict[str, Any]:
        """The section as a scenario table."""
        out: dict[str, Any] = {
            "risk_aversion": list(self.risk_aversion),
            "objective": self.objective,
            "select_fraction": self.select_fraction,
            "cvar_level": self.cvar_level,
            "wealth_floor": self.wealth_floor,
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline
        return out


# --------------------------------------------------------------------------------------------
# Utility and certainty equivalents
# --------------------------------------------------------------------------------------------
def _check_risk_aversion(g: float) -> float:
    if isinstance(g, bool) or not isinstance(g, (int, float, np.integer, np.floating)):
        raise ConfigError(f"`[decision].risk_aversion` must be a number >= 0; got {g!r}.")
    g = float(g)
    if not math.isfinite(g) or g < 0:
        raise ConfigError(f"`[decision].risk_aversion` must be >= 0; got {g!r}.")
    return g


def crra_utility(wealth: np.ndarray, risk_aversion: float) -> np.ndarray:
    """CRRA utility ``W**(1 - g) / (1 - g)`` (``log W`` at ``g = 1``), elementwise.

    Parameters
    ----------
    wealth : ndarray
        Positive wealth (currency).
    risk_aversion : float
        ``g >= 0``.

    Returns
    -------
    ndarray of the shape of ``wealth``
    """
    g = _check_risk_aversion(risk_aversion)
    w = np.asarray(wealth, dtype=np.float64)
    if g == 1.0:
        return np.log(w)
    return w ** (1.0 - g) / (1.0 - g)


def _as_wealth(values: Any, what: str = "terminal wealth") -> np.ndarray:
    w = np.asarray(values, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] < 2:
        raise DataError(
            f"{what} must be an array of shape (n_policies, n_paths) with at least 2 paths; "
            f"got shape {np.shape(values)}."
        )
    bad = ~np.isfinite(w)
    if bad.any():
        pol, path = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(
            f"{what} of policy #{pol} is {w[pol, path]} on path {path}; every path needs a "
            "finite wealth (check the run for overflow or a failed policy)."
        )
    return w


def _floored_logs(w: np.ndarray, initial_wealth: float, wealth_floor: float) -> np.ndarray:
    floor = wealth_floor * initial_wealth
    return np.log(np.maximum(w, floor))


def _log_ce_and_influence(log_w: np.ndarray, g: float) -> tuple[np.ndarray, np.ndarray]:
    """log CE per row and the influence values of log CE per path (mean zero per row).

    For ``a = 1 - g != 0``: ``log CE = (m + log mean e) / a`` with ``e = exp(a log W - m)``
    and ``m`` the row's largest exponent, so ``e`` lies in (0, 1]; the influence of a path is
    ``(e / mean e - 1) / a``. At ``g = 1``, ``log CE = mean log W`` and the influence is
    ``log W - mean log W``.
    """
    if g == 1.0:
        log_ce = log_w.mean(axis=-1)
        return log_ce, log_w - log_ce[..., None]
    a = 1.0 - g
    x = a * log_w
    m = x.max(axis=-1)
    e = np.exp(x - m[..., None])
    e_bar = e.mean(axis=-1)
    log_ce = (m + np.log(e_bar)) / a
    return log_ce, (e / e_bar[..., None] - 1.0) / a


def _se(influence: np.ndarray) -> np.ndarray:
    """Standard error of a mean-like estimate from its (mean-zero) influence values."""
    n = influence.shape[-1]
    centred = influence - influence.mean(axis=-1, keepdims=True)
    return np.sqrt(np.einsum("...i,...i->...", centred, centred) / (n * (n - 1)))


def log_certainty_equivalent(
    wealth: np.ndarray,
    risk_aversion: float,
    *,
    initial_wealth: float = 1.0,
    wealth_floor: float = DEFAULT_WEALTH_FLOOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Log certainty-equivalent wealth per policy and its standard error.

    Parameters
    ----------
    wealth : ndarray of shape (n_policies, n_paths) or (n_paths,)
        Terminal wealth per path (real wealth when inflation is simulated).
    risk_aversion : float
        CRRA ``g >= 0``.
    initial_wealth : float
        Wealth at the start; sets the floor of ruined paths.
    wealth_floor : float
        Floor as a fraction of ``initial_wealth``.

    Returns
    -------
    log_ce, se : ndarray of shape (n_policies,)

    Raises
    ------
    ConfigError
        ``risk_aversion < 0``.
    DataError
        A non-finite wealth, or fewer than 2 paths.
    """
    g = _check_risk_aversion(risk_aversion)
    log_w = _floored_logs(_as_wealth(wealth), initial_wealth, wealth_floor)
    log_ce, infl = _log_ce_and_influence(log_w, g)
    return log_ce, _se(infl)


def certainty_equivalent(
    wealth: np.ndarray,
    risk_aversion: float,
    *,
    initial_wealth: float = 1.0,
    wealth_floor: float = DEFAULT_WEALTH_FLOOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Certainty-equivalent wealth ``u^{-1}(mean u(W))`` per policy and its delta-method SE.

    Same parameters as :func:`log_certainty_equivalent`; returns ``(ce, se)`` of shape
    ``(n_policies,)`` in currency.
    """
    log_ce, se_log = log_certainty_equivalent(
        wealth, risk_aversion, initial_wealth=initial_wealth, wealth_floor=wealth_floor
    )
    ce = np.exp(log_ce)
    return ce, ce * se_log


def fee_equivalent(
    wealth: np.ndarray,
    baseline_wealth: np.ndarray,
    risk_aversion: float,
    horizon_years: float,
    *,
    initial_wealth: float = 1.0,
    wealth_floor: float = DEFAULT_WEALTH_FLOOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Certainty fee equivalent of each policy against a baseline, as a fraction per year.

    ``CFE = (CE_policy / CE_baseline) ** (1 / T) - 1``: positive when the policy is better.
    Its standard error comes from the paired influence values (the covariance of the two
    CEs on the same paths is taken into account).

    Parameters
    ----------
    wealth : ndarray of shape (n_policies, n_paths) or (n_paths,)
        Terminal wealth of the policies.
    baseline_wealth : ndarray of shape (n_paths,)
        Terminal wealth of the baseline on the same paths.
    risk_aversion : float
        CRRA ``g >= 0``.
    horizon_years : float
        ``T`` (> 0).

    Returns
    -------
    cfe, se : ndarray of shape (n_policies,)
        Fractions per year (multiply by 1e4 for basis points).
    """
    g = _check_risk_aversion(risk_aversion)
    t = _check_horizon(horizon_years)
    w = _as_wealth(wealth)
    b = _as_wealth(baseline_wealth, "baseline terminal wealth")
    if b.shape[0] != 1 or b.shape[1] != w.shape[1]:
        raise DataError(
            f"baseline terminal wealth must have one value per path ({w.shape[1]}); got "
            f"shape {np.shape(baseline_wealth)}."
        )
    log_ce, infl = _log_ce_and_influence(_floored_logs(w, initial_wealth, wealth_floor), g)
    log_ce_b, infl_b = _log_ce_and_influence(_floored_logs(b, initial_wealth, wealth_floor), g)
    growth = np.exp((log_ce - log_ce_b) / t)
    return growth - 1.0, growth / t * _se(infl - infl_b)


def _check_horizon(horizon_years: float) -> float:
    t = float(horizon_years)
    if not (math.isfinite(t) and t > 0):
        raise ConfigError(f"`horizon_years` must be > 0; got {horizon_years!r}.")
    return t


# --------------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------------
def objective_values(
    wealth: np.ndarray,
    objective: str,
    *,
    risk_aversion: float = 3.0,
    initial_wealth: float = 1.0,
    goal: float | None = None,
    cvar_level: float = 0.05,
    wealth_floor: float = DEFAULT_WEALTH_FLOOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate of an objective per policy and its per-path influence values.

    The standard error of a policy's estimate is ``sd(influence) / sqrt(n)``, and that of the
    paired difference of two policies on the same paths uses the difference of their
    influence values. Higher is better for every objective.

    Parameters
    ----------
    wealth : ndarray of shape (n_policies, n_paths)
        Terminal wealth.
    objective : {"certainty_equivalent", "goal_probability", "cvar"}
        CE wealth (currency), ``P(W >= goal)``, or the mean of the worst ``cvar_level`` share
        of terminal wealth (currency; the influence is that of the expected shortfall).
    risk_aversion, initial_wealth, wealth_floor : float
        For the CE (see :func:`certainty_equivalent`).
    goal : float, optional
        Needed by ``"goal_probability"``.
    cvar_level : float
        Tail share of ``"cvar"``.

    Returns
    -------
    estimate : ndarray of shape (n_policies,)
    influence : ndarray of shape (n_policies, n_paths)
    """
    as_str(objective, "[decision].objective", choices=OBJECTIVES)
    w = _as_wealth(wealth)
    if objective == "certainty_equivalent":
        g = _check_risk_aversion(risk_aversion)
        log_ce, infl = _log_ce_and_influence(_floored_logs(w, initial_wealth, wealth_floor), g)
        ce = np.exp(log_ce)
        return ce, ce[:, None] * infl
    if objective == "goal_probability":
        if goal is None:
            raise ConfigError(
                '`[decision].objective = "goal_probability"` needs a goal: set `[simulation].goal`.'
            )
        hit = (w >= float(goal)).astype(np.float64)
        p = hit.mean(axis=1)
        return p, hit - p[:, None]
    level = as_float(
        cvar_level, "[decision].cvar_level", low=0.0, high=1.0, low_open=True, high_open=True
    )
    n = w.shape[1]
    k = max(1, math.ceil(level * n))
    part = np.sort(w, axis=1)
    es = part[:, :k].mean(axis=1)
    q = part[:, k - 1]
    # Influence of the lower-tail mean at tail share k / n, with the k-th value as the
    # quantile: it sums to zero exactly and gives the usual expected-shortfall variance.
    infl = q[:, None] + np.minimum(w - q[:, None], 0.0) * (n / k) - es[:, None]
    return es, infl


# --------------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------------
def _as_policy_matrix(
    terminal_wealth: Mapping[str, np.ndarray] | np.ndarray, policy_names: Sequence[str] | None
) -> tuple[np.ndarray, list[str]]:
    if isinstance(terminal_wealth, Mapping):
        names = list(terminal_wealth) if policy_names is None else list(policy_names)
        missing = [p for p in names if p not in terminal_wealth]
        if missing:
            raise DataError(f"no terminal wealth for policy {missing[0]!r}.")
        rows = [np.asarray(terminal_wealth[p], dtype=np.float64).ravel() for p in names]
        if len({r.size for r in rows}) > 1:
            raise DataError(
                "every policy needs the same paths: terminal wealth arrays differ in length."
            )
        return _as_wealth(np.vstack(rows)), names
    w = _as_wealth(terminal_wealth)
    if policy_names is None:
        names = [f"policy_{i}" for i in range(w.shape[0])]
    else:
        names = list(policy_names)
    if len(names) != w.shape[0]:
        raise DataError(f"{len(names)} policy names for {w.shape[0]} rows of terminal wealth.")
    return w, names


def _baseline_index(baseline: str | int | None, names: list[str]) -> int:
    if baseline is None:
        return 0
    if isinstance(baseline, (int, np.integer)) and not isinstance(baseline, bool):
        if not 0 <= int(baseline) < len(names):
            raise ConfigError(f"`baseline` index must be in [0, {len(names)}); got {baseline}.")
        return int(baseline)
    if baseline not in names:
        raise ConfigError(
            f"`[decision].baseline` = {baseline!r} is not a policy; choose one of "
            f"{', '.join(names)}."
        )
    return names.index(baseline)


def ranking_table(
    terminal_wealth: Mapping[str, np.ndarray] | np.ndarray,
    policy_names: Sequence[str] | None,
    baseline: str | int | None,
    horizon_years: float,
    initial_wealth: float,
    config: DecisionConfig | None = None,
    *,
    goal: float | None = None,
) -> pd.DataFrame:
    """One row per policy (and per risk aversion) with CE figures, fee equivalents and ranks.

    Parameters
    ----------
    terminal_wealth : mapping of name to ndarray of shape (n_paths,), or ndarray of shape
        (n_policies, n_paths)
        Terminal wealth of every policy on the same paths (real wealth when inflation is
        simulated).
    policy_names : sequence of str, optional
        Row order and names; the mapping's order when omitted.
    baseline : str or int, optional
        The policy fee equivalents are measured against (``config.baseline`` wins when set;
        the first policy when neither is).
    horizon_years : float
        ``T`` of the CE return and the fee equivalent.
    initial_wealth : float
        ``W0`` of the CE return and the wealth floor.
    config : DecisionConfig, optional
        Risk aversions, objective, floor; the defaults when omitted.
    goal : float, optional
        Terminal wealth to reach: adds ``goal_probability`` columns (needed by that objective).

    Returns
    -------
    DataFrame
        Columns ``risk_aversion``, ``policy``, ``certainty_equivalent_wealth`` (+ ``_se``,
        ``_ci_low``, ``_ci_high``), ``certainty_equivalent_return`` (+ the same),
        ``certainty_fee_equivalent_bp`` (+ the same), ``cvar`` (+ ``_se``),
        ``goal_probability`` (+ ``_se``, with a goal), ``objective``, ``objective_value``,
        ``objective_se``, ``n_paths``, ``n_floored`` and ``rank`` (1 = best objective within a
        risk aversion).
    """
    cfg = config if config is not None else DecisionConfig()
    w, names = _as_policy_matrix(terminal_wealth, policy_names)
    t = _check_horizon(horizon_years)
    w0 = as_float(initial_wealth, "[simulation].initial_wealth", low=0.0, low_open=True)
    b = _baseline_index(cfg.baseline if cfg.baseline is not None else baseline, names)
    if cfg.objective == "goal_probability" and goal is None:
        cfg.check(has_goal=False)
    n_pol, n = w.shape
    log_w = _floored_logs(w, w0, cfg.wealth_floor)
    n_floored = (w <= cfg.wealth_floor * w0).sum(axis=1)
    cvar, cvar_infl = objective_values(w, "cvar", cvar_level=cfg.cvar_level)
    cvar_se = _se(cvar_infl)
    if goal is not None:
        goal_p, goal_infl = objective_values(w, "goal_probability", goal=goal)
        goal_se = _se(goal_infl)
    frames = []
    for g in cfg.risk_aversion:
        log_ce, infl = _log_ce_and_influence(log_w, g)
        se_log = _se(infl)
        ce = np.exp(log_ce)
        ce_ret = np.exp((log_ce - math.log(w0)) / t) - 1.0
        d = log_ce - log_ce[b]
        se_d = _se(infl - infl[b])
        growth = np.exp(d / t)
        cols: dict[str, Any] = {
            "risk_aversion": np.full(n_pol, g),
            "policy": names,
            "certainty_equivalent_wealth": ce,
            "certainty_equivalent_wealth_se": ce * se_log,
            "certainty_equivalent_wealth_ci_low": np.exp(log_ce - Z95 * se_log),
            "certainty_equivalent_wealth_ci_high": np.exp(log_ce + Z95 * se_log),
            "certainty_equivalent_return": ce_ret,
            "certainty_equivalent_return_se": (1.0 + ce_ret) * se_log / t,
            "certainty_equivalent_return_ci_low": np.exp((log_ce - Z95 * se_log - math.log(w0)) / t)
            - 1.0,
            "certainty_equivalent_return_ci_high": np.exp(
                (log_ce + Z95 * se_log - math.log(w0)) / t
            )
            - 1.0,
            "certainty_fee_equivalent_bp": 1e4 * (growth - 1.0),
            "certainty_fee_equivalent_bp_se": 1e4 * growth * se_d / t,
            "certainty_fee_equivalent_bp_ci_low": 1e4 * (np.exp((d - Z95 * se_d) / t) - 1.0),
            "certainty_fee_equivalent_bp_ci_high": 1e4 * (np.exp((d + Z95 * se_d) / t) - 1.0),
            "cvar": cvar,
            "cvar_se": cvar_se,
        }
        if goal is not None:
            cols["goal_probability"] = goal_p
            cols["goal_probability_se"] = goal_se
        if cfg.objective == "certainty_equivalent":
            value, value_se = ce, ce * se_log
        elif cfg.objective == "cvar":
            value, value_se = cvar, cvar_se
        else:
            value, value_se = goal_p, goal_se
        cols["objective"] = cfg.objective
        cols["objective_value"] = value
        cols["objective_se"] = value_se
        cols["n_paths"] = n
        cols["n_floored"] = n_floored
        frame = pd.DataFrame(cols)
        frame["rank"] = (
            frame["objective_value"].rank(ascending=False, method="min").astype(np.int64)
        )
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.attrs["baseline"] = names[b]
    return table


def write_ranking(table: pd.DataFrame, folder: str | Path) -> Path:
    """Write ``ranking.csv`` into ``folder`` (a run's staging folder) and return its path.

    Meant for the writer given to :func:`mcsim.output.write_staged`, which turns an
    ``OSError`` into an ``OutputError`` naming the file and moves it into place with the
    run's other files.
    """
    path = Path(folder) / "ranking.csv"
    table.to_csv(path, index=False, float_format="%.10g")
    return path


# --------------------------------------------------------------------------------------------
# An honest winner
# --------------------------------------------------------------------------------------------
def _as_fraction(select_fraction: float) -> Fraction:
    f = as_float(
        select_fraction,
        "[decision].select_fraction",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    return Fraction(f).limit_denominator(_FRACTION_DENOMINATOR)


def is_selection_block(block_index: int, select_fraction: float = 0.5) -> bool:
    """Whether random block ``block_index`` belongs to the selection half.

    Block ``i`` selects when ``floor((i + 1) f) > floor(i f)`` for ``f = select_fraction``
    (taken as an exact fraction ``p / q``): the selection blocks are spread evenly over the
    run (at ``f = 0.5``: the odd blocks select, the even ones evaluate), any prefix of blocks
    holds the share ``f`` of selection blocks up to one block, and a block's half depends on
    its index alone, never on ``n_jobs``, the chunking or the total number of blocks, so a
    run with more paths keeps every earlier block in its half.
    """
    f = _as_fraction(select_fraction)
    i = int(block_index)
    return (i + 1) * f.numerator // f.denominator > i * f.numerator // f.denominator


def selection_mask(n_paths: int, block_size: int, select_fraction: float = 0.5) -> np.ndarray:
    """Boolean mask of shape (n_paths,): True for paths of selection blocks.

    Path ``p`` belongs to block ``p // block_size`` (the engine's blocks); see
    :func:`is_selection_block`.
    """
    if int(block_size) < 1:
        raise ConfigError(f"`[simulation].block_size` must be >= 1; got {block_size}.")
    f = _as_fraction(select_fraction)
    blocks = np.arange(int(n_paths)) // int(block_size)
    p, q = f.numerator, f.denominator
    return (blocks + 1) * p // q > blocks * p // q


@dataclass(frozen=True, slots=True, kw_only=True)
class WinnerSelection:
    """The winner chosen on the selection paths and its figures on the evaluation paths.

    Attributes
    ----------
    winner : str
        The chosen policy.
    winner_index : int
        Its row in the input.
    objective : str
        What was maximised.
    selection_value, selection_se : float
        The winner's objective on the selection paths (biased upwards: it is the maximum of
        noisy estimates).
    evaluation_value, evaluation_se : float
        The winner's objective on the evaluation paths (unbiased).
    selection_gain, selection_gain_se : float
        Winner minus baseline on the selection paths, paired.
    evaluation_gain, evaluation_gain_se : float
        Winner minus baseline on the evaluation paths, paired: the honest estimate of the gain.
    indistinguishable : tuple of str
        Other candidates whose paired difference to the winner on the evaluation paths is
        within ``z`` standard errors.
    n_selection_paths, n_evaluation_paths : int
    """

    winner: str
    winner_index: int
    objective: str
    baseline: str
    selection_value: float
    selection_se: float
    evaluation_value: float
    evaluation_se: float
    selection_gain: float
    selection_gain_se: float
    evaluation_gain: float
    evaluation_gain_se: float
    indistinguishable: tuple[str, ...]
    n_selection_paths: int
    n_evaluation_paths: int

    @property
    def n_indistinguishable(self) -> int:
        """Number of other candidates statistically tied with the winner."""
        return len(self.indistinguishable)


def select_winner(
    values: np.ndarray,
    policy_names: Sequence[str] | None = None,
    *,
    block_size: int,
    initial_wealth: float,
    config: DecisionConfig | None = None,
    baseline: str | int | None = None,
    risk_aversion: float | None = None,
    goal: float | None = None,
    z: float = Z95,
) -> WinnerSelection:
    """Choose the best policy on one half of the paths and judge it on the other.

    Choosing the best of many noisy candidates inflates its estimated gain (the winner's
    curse). The paths are split by random block (:func:`selection_mask`); the winner is the
    argmax of the objective on the selection paths and every figure reported for it comes from
    the evaluation paths, which played no part in choosing it.

    A candidate is counted as indistinguishable from the winner when, on the evaluation
    paths, ``winner - candidate <= z * SE`` of the paired difference. The rule is per pair
    and uncorrected for multiplicity: with many truly equal candidates, about 2.5 % of them
    are called worse by chance, so the count is a lower bound of the statistical tie.

    Parameters
    ----------
    values : ndarray of shape (n_policies, n_paths)
        Terminal wealth per policy and path (path ``p`` in block ``p // block_size``).
    policy_names : sequence of str, optional
    block_size : int
        Paths per random block of the run.
    initial_wealth : float
        ``W0`` (floor of ruined paths in the CE).
    config : DecisionConfig, optional
        Objective, ``select_fraction``, CVaR level, floor; the defaults when omitted.
    baseline : str or int, optional
        Reference of the gains (``config.baseline`` wins; else the first policy).
    risk_aversion : float, optional
        CE risk aversion; the first of ``config.risk_aversion`` when omitted.
    goal : float, optional
        For ``objective = "goal_probability"``.
    z : float
        Multiple of the SE within which candidates are tied.

    Raises
    ------
    ConfigError
        A split that leaves a half empty (too few blocks for ``select_fraction``).
    """
    cfg = config if config is not None else DecisionConfig()
    w, names = _as_policy_matrix(values, policy_names)
    b = _baseline_index(cfg.baseline if cfg.baseline is not None else baseline, names)
    g = cfg.risk_aversion[0] if risk_aversion is None else risk_aversion
    mask = selection_mask(w.shape[1], block_size, cfg.select_fraction)
    n_sel, n_eval = int(mask.sum()), int((~mask).sum())
    if n_sel < 2 or n_eval < 2:
        n_blocks = -(-w.shape[1] // int(block_size))
        raise ConfigError(
            f"`[decision].select_fraction` = {cfg.select_fraction:g} leaves {n_sel} selection "
            f"and {n_eval} evaluation paths over {n_blocks} block(s); each half needs at least "
            "2 paths: simulate more paths or use a smaller `[simulation].block_size`."
        )

    def objective(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return objective_values(
            part,
            cfg.objective,
            risk_aversion=g,
            initial_wealth=initial_wealth,
            goal=goal,
            cvar_level=cfg.cvar_level,
            wealth_floor=cfg.wealth_floor,
        )

    est_s, infl_s = objective(w[:, mask])
    est_e, infl_e = objective(w[:, ~mask])
    k = int(np.argmax(est_s))
    diff_se = _se(infl_e[k] - infl_e)
    gap = est_e[k] - est_e
    tied = tuple(names[j] for j in range(len(names)) if j != k and gap[j] <= z * diff_se[j])
    return WinnerSelection(
        winner=names[k],
        winner_index=k,
        objective=cfg.objective,
        baseline=names[b],
        selection_value=float(est_s[k]),
        selection_se=float(_se(infl_s[k])),
        evaluation_value=float(est_e[k]),
        evaluation_se=float(_se(infl_e[k])),
        selection_gain=float(est_s[k] - est_s[b]),
        selection_gain_se=float(_se(infl_s[k] - infl_s[b])),
        evaluation_gain=float(est_e[k] - est_e[b]),
        evaluation_gain_se=float(_se(infl_e[k] - infl_e[b])),
        indistinguishable=tied,
        n_selection_paths=n_sel,
        n_evaluation_paths=n_eval,
    )
