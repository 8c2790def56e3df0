"""The reverse stress test: which paths fail, and what the markets along them looked like.

A ``[failure]`` section of a scenario says when a path *fails* (ran out of money, missed the
goal, fell too far, earned too little). After a run, :func:`failure_flags` marks the failing
paths of every policy from the per-path metrics, :func:`path_features` describes each path's
market (returns over the first 5 and 10 years, worst year and when it came, volatility,
inflation, each asset's first 5 years) and :func:`failure_anatomy` compares the failing paths
with the surviving ones, feature by feature, and names the worst failing paths so that
``regenerate_path`` can show them. :func:`write_failure_csv` writes ``failure.csv``.

Example ``[failure]`` section::

    [failure]
    ruin = true                  # wealth ran out before the horizon
    max_drawdown_above = 0.4     # or fell more than 40 % from a peak
    mode = "any"                 # a path fails when any condition holds ("all": every one)
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_float, as_int, as_str, check_keys
from .errors import ConfigError, OutputError
from .kernels import _features as fk
from .kernels import layout
from .kernels._features import path_features_nb

__all__ = [
    "FEATURES",
    "FailureAnatomy",
    "FailureConfig",
    "FeatureInfo",
    "failure_anatomy",
    "failure_flags",
    "feature_infos",
    "feature_names",
    "path_features",
    "write_failure_csv",
]


# --- path features ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeatureInfo:
    """A column of the path-feature array: its name, unit and meaning."""

    name: str
    column: int
    unit: str
    description: str


#: Features that do not depend on the assets, in column order (``kernels/_features.py``).
#: Each is measured on the constant-mix portfolio: the target weights rebalanced every step,
#: without costs or flows, so they describe the market a path went through, not a policy.
FEATURES: tuple[FeatureInfo, ...] = (
    FeatureInfo(
        "return_5y",
        fk.F_RETURN_5Y,
        "fraction per year",
        "Annualised return of the constant-mix portfolio over the first 5 years",
    ),
    FeatureInfo(
        "return_10y",
        fk.F_RETURN_10Y,
        "fraction per year",
        "Annualised return of the constant-mix portfolio over the first 10 years",
    ),
    FeatureInfo(
        "worst_12m_return",
        fk.F_WORST_12M,
        "fraction",
        "Worst compounded return of the constant-mix portfolio over any 12 months",
    ),
    FeatureInfo(
        "worst_12m_year",
        fk.F_WORST_12M_YEAR,
        "years",
        "Years elapsed when that worst 12-month window began",
    ),
    FeatureInfo(
        "volatility",
        fk.F_VOLATILITY,
        "fraction per year",
        "Annualised volatility of the constant-mix portfolio's per-step returns",
    ),
    FeatureInfo(
        "inflation",
        fk.F_INFLATION,
        "fraction per year",
        "Annualised (geometric mean) inflation over the horizon",
    ),
)


def feature_infos(asset_names: Sequence[str]) -> list[FeatureInfo]:
    """Every feature column for these assets: :data:`FEATURES`, then one per asset.

    The per-asset feature of asset ``a`` is named ``"<a>_return_5y"``: its total (not
    annualised) return over the first 5 years.
    """
    infos = list(FEATURES)
    for j, name in enumerate(asset_names):
        infos.append(
            FeatureInfo(
                f"{name}_return_5y",
                fk.N_FIXED_FEATURES + j,
                "fraction",
                f"Total return of {name} over the first 5 years",
            )
        )
    return infos


def feature_names(asset_names: Sequence[str]) -> list[str]:
    """Names of the feature columns for these assets, in column order."""
    return [f.name for f in feature_infos(asset_names)]


def path_features(
    returns: np.ndarray,
    weights: np.ndarray,
    asset_index: Sequence[int] | np.ndarray,
    inflation_index: int,
    steps_per_year: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Market features of each path of a block (see :data:`FEATURES`).

    Parameters
    ----------
    returns : ndarray of shape (m, n_steps, n_series)
        Simple returns per step of the block, as the model fills them (assets and,
        optionally, inflation).
    weights : ndarray of shape (n_assets,)
        Target weights of the constant-mix portfolio: finite, >= 0, summing to 1.
    asset_index : sequence of int of length n_assets
        Column of each asset among the series.
    inflation_index : int
        Column of the inflation series, or -1.
    steps_per_year : int
        Steps per year (>= 1); the worst window is ``steps_per_year`` steps long.
    out : ndarray of shape (m, len(FEATURES) + n_assets), optional
        C-contiguous float64 buffer to fill (allocated when not given).

    Returns
    -------
    ndarray of shape (m, len(FEATURES) + n_assets)
        Columns named by :func:`feature_names`; NaN where a feature is undefined (a horizon
        shorter than 5 or 10 years or one year, no inflation series).

    Raises
    ------
    ConfigError
        Weights that are not finite, negative or do not sum to 1; indices out of range;
        ``out`` of the wrong shape.
    """
    x = np.ascontiguousarray(returns, dtype=np.float64)
    if x.ndim != 3:
        raise ConfigError(f"`returns` must have shape (m, n_steps, n_series); got {x.shape}.")
    n_series = x.shape[2]
    w = np.ascontiguousarray(weights, dtype=np.float64).ravel()
    idx = np.ascontiguousarray(asset_index, dtype=np.int64).ravel()
    if w.size != idx.size or w.size == 0:
        raise ConfigError(
            f"`weights` ({w.size}) and `asset_index` ({idx.size}) need one entry per asset."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0.0) or abs(float(w.sum()) - 1.0) > 1e-8:
        raise ConfigError(
            f"`weights` must be finite, >= 0 and sum to 1 (the constant-mix portfolio); got "
            f"{w.tolist()}."
        )
    inflation_index = int(inflation_index)
    cols = idx.tolist() + ([inflation_index] if inflation_index >= 0 else [])
    if any(c < 0 or c >= n_series for c in cols) or inflation_index in idx.tolist():
        raise ConfigError(
            f"`asset_index` {idx.tolist()} and `inflation_index` {inflation_index} must be "
            f"distinct columns in [0, {n_series}) (inflation -1 when none)."
        )
    steps_per_year = as_int(steps_per_year, "steps_per_year", low=1)
    shape = (x.shape[0], fk.N_FIXED_FEATURES + w.size)
    if out is None:
        out = np.empty(shape)
    elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ConfigError(f"`out` must be a C-contiguous float64 array of shape {shape}.")
    path_features_nb(x, w, idx, inflation_index, steps_per_year, out)
    return out


# --- the [failure] section ----------------------------------------------------------------

MODES = ("any", "all")
# Threshold conditions: config field -> (metric name, comparison). A path meets one when its
# metric is strictly beyond the threshold; a NaN metric meets no condition.
_THRESHOLDS: dict[str, tuple[str, str]] = {
    "max_drawdown_above": ("max_drawdown", ">"),
    "cagr_below": ("cagr", "<"),
    "terminal_wealth_below": ("terminal_wealth", "<"),
    "real_terminal_wealth_below": ("real_terminal_wealth", "<"),
}
# Metric columns used by default (``mcsim.kernels.layout``).
DEFAULT_METRIC_COLUMNS: dict[str, int] = {
    "ruined": layout.M_RUINED,
    "goal_met": layout.M_GOAL_MET,
    "max_drawdown": layout.M_MAX_DRAWDOWN,
    "cagr": layout.M_CAGR,
    "terminal_wealth": layout.M_TERMINAL_WEALTH,
    "real_terminal_wealth": layout.M_REAL_TERMINAL_WEALTH,
}


def _as_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"`{field}` must be true or false; got {value!r}.")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureConfig:
    """When a path counts as failed (the ``[failure]`` section of a scenario).

    Conditions (give at least one):

    * ``ruin = true``: wealth ran out before the horizon (metric ``ruined``).
    * ``below_goal = true``: the goal was not met (metric ``goal_met`` is 0: terminal wealth
      below ``[simulation].goal``, or ruined); needs a goal, see :meth:`check`.
    * ``max_drawdown_above = x``: the largest fall from a peak exceeded ``x`` (fraction in
      [0, 1)).
    * ``cagr_below = x``: the annualised return was below ``x`` (fraction per year, > -1).
    * ``terminal_wealth_below = x``: nominal terminal wealth below ``x`` (currency, > 0).
    * ``real_terminal_wealth_below = x``: terminal wealth in today's money below ``x``.

    Thresholds are strict (a drawdown of exactly 0.4 does not exceed 0.4) and a NaN metric
    meets no condition. With ``mode = "any"`` (the default) a path fails when any condition
    holds; with ``mode = "all"``, when every one does. ``n_worst`` failing paths with the
    lowest terminal wealth are listed per policy.

    Parameters
    ----------
    mode : {"any", "all"}
        Whether a path fails when any condition holds (the default) or when every one does.
    n_worst : int
        Failing paths with the lowest terminal wealth listed per policy (>= 0).
    """

    ruin: bool = False
    below_goal: bool = False
    max_drawdown_above: float | None = None
    cagr_below: float | None = None
    terminal_wealth_below: float | None = None
    real_terminal_wealth_below: float | None = None
    mode: str = "any"
    n_worst: int = 10

    _WHERE = "[failure]"

    def __post_init__(self) -> None:
        w = self._WHERE
        _as_bool(self.ruin, f"{w}.ruin")
        _as_bool(self.below_goal, f"{w}.below_goal")
        if self.max_drawdown_above is not None:
            as_float(
                self.max_drawdown_above,
                f"{w}.max_drawdown_above",
                low=0.0,
                high=1.0,
                high_open=True,
            )
        if self.cagr_below is not None:
            as_float(self.cagr_below, f"{w}.cagr_below", low=-1.0, low_open=True)
        for name in ("terminal_wealth_below", "real_terminal_wealth_below"):
            value = getattr(self, name)
            if value is not None:
                as_float(value, f"{w}.{name}", low=0.0, low_open=True)
        as_str(self.mode, f"{w}.mode", choices=MODES)
        as_int(self.n_worst, f"{w}.n_worst", low=0)
        if not self.conditions():
            raise ConfigError(
                f"`{w}` sets no condition, so no path could fail. Add at least one of "
                "`ruin = true`, `below_goal = true`, `max_drawdown_above`, `cagr_below`, "
                "`terminal_wealth_below`, `real_terminal_wealth_below`."
            )

    @classmethod
    def from_config(cls, table: Mapping[str, Any], where: str = "[failure]") -> FailureConfig:
        """Build the configuration from a scenario's ``[failure]`` table.

        Raises
        ------
        ConfigError
            An unknown key (with the closest allowed one), a value of the wrong type or out
            of range, or no condition at all; the message names the field.
        """
        if not isinstance(table, Mapping):
            raise ConfigError(f"`{where}` must be a table of conditions.")
        allowed = ("ruin", "below_goal", *_THRESHOLDS, "mode", "n_worst")
        check_keys(table, allowed, where)
        kwargs = dict(table)
        for key in _THRESHOLDS:
            if key in kwargs:
                kwargs[key] = as_float(kwargs[key], f"{where}.{key}")
        if "n_worst" in kwargs:
            kwargs["n_worst"] = as_int(kwargs["n_worst"], f"{where}.n_worst", low=0)
        return cls(**kwargs)

    def conditions(self) -> list[str]:
        """Names of the conditions that are set, in a fixed order."""
        out = [name for name in ("ruin", "below_goal") if getattr(self, name)]
        out += [name for name in _THRESHOLDS if getattr(self, name) is not None]
        return out

    def check(self, scenario_goal: float | None) -> None:
        """Check the conditions against the scenario (call when resolving the scenario).

        Parameters
        ----------
        scenario_goal : float or None
            The scenario's ``[simulation].goal``.

        Raises
        ------
        ConfigError
            ``below_goal = true`` without a goal.
        """
        if self.below_goal and scenario_goal is None:
            raise ConfigError(
                "`[failure].below_goal` = true needs a goal: set `[simulation].goal` (terminal "
                "wealth to reach) or remove `below_goal`."
            )

    def to_dict(self) -> dict[str, Any]:
        """The conditions that are set, mode and n_worst, as a TOML/JSON-able table."""
        out: dict[str, Any] = {name: getattr(self, name) for name in self.conditions()}
        out["mode"] = self.mode
        out["n_worst"] = self.n_worst
        return out


def failure_flags(
    config: FailureConfig,
    metrics: np.ndarray,
    metric_columns: Mapping[str, int] | None = None,
) -> np.ndarray:
    """Which paths fail, per policy.

    Parameters
    ----------
    config : FailureConfig
        The conditions and how they combine (``mode``).
    metrics : ndarray of shape (n_policies, n_paths, n_metrics)
        Per-path metrics as the engine returns them.
    metric_columns : mapping of str to int, optional
        Column of each metric the conditions read (``ruined``, ``goal_met``,
        ``max_drawdown``, ``cagr``, ``terminal_wealth``, ``real_terminal_wealth``); default:
        the columns of ``mcsim.kernels.layout``.

    Returns
    -------
    ndarray of bool, shape (n_policies, n_paths)
    """
    metrics = np.asarray(metrics, dtype=float)
    if metrics.ndim != 3:
        raise ConfigError(
            f"`metrics` must have shape (n_policies, n_paths, n_metrics); got {metrics.shape}."
        )
    cols = DEFAULT_METRIC_COLUMNS if metric_columns is None else metric_columns

    def column(name: str) -> np.ndarray:
        if name not in cols:
            raise ConfigError(f"`metric_columns` has no column for metric {name!r}.")
        return metrics[:, :, cols[name]]

    held: list[np.ndarray] = []
    if config.ruin:
        held.append(column("ruined") > 0.5)
    if config.below_goal:
        held.append(column("goal_met") < 0.5)
    for field, (metric, op) in _THRESHOLDS.items():
        threshold = getattr(config, field)
        if threshold is None:
            continue
        values = column(metric)
        held.append(values > threshold if op == ">" else values < threshold)
    combine = np.logical_or if config.mode == "any" else np.logical_and
    return combine.reduce(held)


# --- anatomy of the failing paths ---------------------------------------------------------

_GROUP_STATS = ("n", "mean", "p10", "p50", "p90")


@dataclass(frozen=True, slots=True, eq=False)
class FailureAnatomy:
    """Failing against surviving paths, per policy (from :func:`failure_anatomy`).

    Attributes
    ----------
    summary : pandas.DataFrame
        Index ``policy``; columns ``n_paths``, ``n_failing``, ``share_failing`` and
        ``share_failing_se`` (binomial standard error ``sqrt(p (1 - p) / n)``).
    features : pandas.DataFrame
        Index (``policy``, ``feature``); columns ``failing_n``, ``failing_mean``,
        ``failing_p10``, ``failing_p50``, ``failing_p90``, the same for ``surviving_``,
        ``difference`` (failing mean minus surviving mean) and ``difference_se`` (Welch:
        ``sqrt(s_f^2 / n_f + s_s^2 / n_s)``, sample variances). ``n`` counts the paths whose
        feature is defined (not NaN); statistics of an empty group are NaN, and the standard
        error needs two paths in each group.
    worst : pandas.DataFrame
        Index (``policy``, ``rank``), rank 1 the worst; columns ``path`` (the path's index in
        the run, for ``regenerate_path``) and ``value`` (its ``worst_metric``). At most
        ``n_worst`` failing paths per policy, lowest value first (ties by path index).
    """

    summary: pd.DataFrame
    features: pd.DataFrame
    worst: pd.DataFrame

    def for_policy(self, policy: str) -> pd.DataFrame:
        """The feature table of one policy (index ``feature``)."""
        if policy not in self.summary.index:
            raise ConfigError(
                f"Unknown policy {policy!r}; policies: {', '.join(map(str, self.summary.index))}."
            )
        return self.features.xs(policy, level="policy")

    def to_tidy(self) -> pd.DataFrame:
        """One row per number: columns ``policy``, ``feature``, ``group``, ``statistic``,
        ``value`` (the layout of ``failure.csv``, see :func:`write_failure_csv`)."""
        rows: list[tuple[str, str, str, str, float]] = []
        for policy, s in self.summary.iterrows():
            for stat in ("n_paths", "n_failing", "share_failing", "share_failing_se"):
                rows.append((str(policy), "paths", "all", stat, float(s[stat])))
        for (policy, feature), s in self.features.iterrows():
            for group in ("failing", "surviving"):
                for stat in _GROUP_STATS:
                    rows.append((policy, feature, group, stat, float(s[f"{group}_{stat}"])))
            rows.append((policy, feature, "difference", "mean", float(s["difference"])))
            rows.append((policy, feature, "difference", "se", float(s["difference_se"])))
        for (policy, rank), s in self.worst.iterrows():
            rows.append((policy, "worst_path", "failing", f"rank_{rank}", float(s["path"])))
            rows.append((policy, "worst_value", "failing", f"rank_{rank}", float(s["value"])))
        return pd.DataFrame(rows, columns=["policy", "feature", "group", "statistic", "value"])


def _group_stats(x: np.ndarray) -> tuple[int, float, float, float, float, float]:
    """n, mean, p10, p50, p90 and sample variance of the finite values of ``x``."""
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan, math.nan
    p10, p50, p90 = np.percentile(x, [10.0, 50.0, 90.0])
    var = float(np.var(x, ddof=1)) if n > 1 else math.nan
    return n, float(x.mean()), float(p10), float(p50), float(p90), var


def failure_anatomy(
    flags: np.ndarray,
    features: np.ndarray,
    policy_names: Sequence[str],
    feature_names: Sequence[str],
    *,
    worst_metric: np.ndarray,
    n_worst: int = 10,
    path_ids: np.ndarray | None = None,
) -> FailureAnatomy:
    """Compare failing with surviving paths, feature by feature, for every policy.

    Parameters
    ----------
    flags : ndarray of bool, shape (n_policies, n_paths)
        Failing paths, from :func:`failure_flags`.
    features : ndarray of shape (n_paths, n_features) or (n_policies, n_paths, n_features)
        Path features (from :func:`path_features`), shared by the policies or per policy.
    policy_names : sequence of str of length n_policies
    feature_names : sequence of str of length n_features
    worst_metric : ndarray of shape (n_policies, n_paths)
        The metric that ranks failing paths, lowest first (terminal wealth:
        ``metrics[:, :, layout.M_TERMINAL_WEALTH]``).
    n_worst : int
        Failing paths listed per policy (>= 0).
    path_ids : ndarray of int of shape (n_paths,), optional
        The run's index of each path (default ``0 .. n_paths - 1``), for a subset of paths.

    Returns
    -------
    FailureAnatomy
        Percentiles are NumPy's default (linear interpolation).

    Raises
    ------
    ConfigError
        Shapes that do not agree, or a wrong number of names.
    """
    flags = np.asarray(flags, dtype=bool)
    if flags.ndim != 2:
        raise ConfigError(f"`flags` must have shape (n_policies, n_paths); got {flags.shape}.")
    n_pol, n_paths = flags.shape
    feats = np.asarray(features, dtype=float)
    if feats.ndim == 2:
        feats = np.broadcast_to(feats, (n_pol, *feats.shape))
    if feats.ndim != 3 or feats.shape[:2] != (n_pol, n_paths):
        raise ConfigError(
            f"`features` must have shape ({n_paths}, n_features) or ({n_pol}, {n_paths}, "
            f"n_features); got {np.shape(features)}."
        )
    if len(policy_names) != n_pol:
        raise ConfigError(f"`policy_names` has {len(policy_names)} names for {n_pol} policies.")
    if len(feature_names) != feats.shape[2]:
        raise ConfigError(
            f"`feature_names` has {len(feature_names)} names for {feats.shape[2]} features."
        )
    worst_metric = np.asarray(worst_metric, dtype=float)
    if worst_metric.shape != (n_pol, n_paths):
        raise ConfigError(
            f"`worst_metric` must have shape ({n_pol}, {n_paths}); got {worst_metric.shape}."
        )
    n_worst = as_int(n_worst, "n_worst", low=0)
    ids = np.arange(n_paths) if path_ids is None else np.asarray(path_ids, dtype=np.int64)
    if ids.shape != (n_paths,):
        raise ConfigError(f"`path_ids` must have {n_paths} entries; got {ids.shape}.")

    summary_rows, feature_rows, worst_rows = [], [], []
    for k, policy in enumerate(policy_names):
        fail = flags[k]
        n_fail = int(fail.sum())
        share = n_fail / n_paths if n_paths else math.nan
        se = math.sqrt(share * (1.0 - share) / n_paths) if n_paths else math.nan
        summary_rows.append((policy, n_paths, n_fail, share, se))
        for j, feature in enumerate(feature_names):
            f_stats = _group_stats(feats[k, fail, j])
            s_stats = _group_stats(feats[k, ~fail, j])
            diff = f_stats[1] - s_stats[1]
            diff_se = math.nan
            if f_stats[0] > 1 and s_stats[0] > 1:
                diff_se = math.sqrt(f_stats[5] / f_stats[0] + s_stats[5] / s_stats[0])
            feature_rows.append((policy, feature, *f_stats[:5], *s_stats[:5], diff, diff_se))
        failing = np.flatnonzero(fail)
        # Stable sort on the value: ties keep path order. NaN values sort last.
        order = failing[np.argsort(worst_metric[k, failing], kind="stable")][:n_worst]
        for rank, i in enumerate(order, start=1):
            worst_rows.append((policy, rank, int(ids[i]), float(worst_metric[k, i])))

    summary = pd.DataFrame(
        summary_rows,
        columns=["policy", "n_paths", "n_failing", "share_failing", "share_failing_se"],
    ).set_index("policy")
    stat_cols = [f"{g}_{s}" for g in ("failing", "surviving") for s in _GROUP_STATS]
    feature_table = pd.DataFrame(
        feature_rows, columns=["policy", "feature", *stat_cols, "difference", "difference_se"]
    ).set_index(["policy", "feature"])
    worst = pd.DataFrame(worst_rows, columns=["policy", "rank", "path", "value"]).set_index(
        ["policy", "rank"]
    )
    return FailureAnatomy(summary=summary, features=feature_table, worst=worst)


def write_failure_csv(anatomy: FailureAnatomy, path: str | os.PathLike[str]) -> Path:
    """Write ``failure.csv``: the anatomy in tidy form, one number per row.

    Columns: ``policy``, ``feature``, ``group``, ``statistic``, ``value``.

    * ``feature = "paths"``, ``group = "all"``: ``statistic`` is ``n_paths``, ``n_failing``,
      ``share_failing`` or ``share_failing_se``.
    * ``feature`` a feature name, ``group`` ``"failing"`` or ``"surviving"``: ``statistic``
      is ``n``, ``mean``, ``p10``, ``p50`` or ``p90``; ``group = "difference"``: ``mean``
      (failing minus surviving) and ``se`` (Welch standard error).
    * ``feature = "worst_path"`` / ``"worst_value"``, ``group = "failing"``, ``statistic =
      "rank_<r>"``: the path index and the ranking metric of the ``r``-th worst failing path.

    Rows come in that order, policy by policy within each part. Floats are written with full
    precision; NaN is an empty field. The file is written beside its destination and moved
    into place, so an interrupted write leaves no partial ``failure.csv``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OutputError
        The file cannot be written; the message names it and the reason.
    """
    dest = Path(path)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        with os.fdopen(fd, "w", newline="") as f:
            anatomy.to_tidy().to_csv(f, index=False)
        os.replace(tmp, dest)
        tmp = None
    except OSError as e:
        raise OutputError(f"could not write {dest}: {e.strerror or e}.") from e
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return dest
