"""Labelled results of a run: per-path table, summaries, paired comparison, fan chart.

A :class:`SimulationResult` is a frozen value: the run's arrays and what labels them. Its
frames are computed on first use and cached; saving it is :func:`mcsim.saving.save_result`.
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
import warnings
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import joblib
import numba
import numpy as np
import pandas as pd
import scipy

from . import model_check as _model_check
from ._version import __version__
from .choose import SweepOutcome, Winner, per_path_ranking, per_path_winner
from .decision import DecisionConfig
from .errors import ConfigError
from .failure import FailureAnatomy, failure_anatomy, failure_flags, feature_names
from .kernels import layout
from .metrics import (
    COMPARED,
    METRICS,
    QUANTILE_LABELS,
    QUANTILES,
    MetricInfo,
    cvar,
    declared_event_metric,
    run_metrics,
)
from .notebook import result_html
from .path_store import PathStore, event_masks, labelled_values
from .plotting import ResultPlots
from .policies import POLICIES
from .saving import save_result
from .sketch import HIST_BINS, HIST_LO, HIST_WIDTH, wealth_quantiles

if TYPE_CHECKING:
    import os

    from .checkpoint import Checkpoint
    from .plan import RunPlan

__all__ = ["METRICS", "RESULT_METRICS", "STRESS_METRICS", "SimulationResult"]

_Z95 = 1.959963984540054


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (the caller's array stays writable)."""
    v = a.view()
    v.flags.writeable = False
    return v


class SimulationResult:
    """What a run produced, as pandas objects; a frozen value (attributes cannot be set).

    Attributes
    ----------
    scenario : Scenario
        The scenario as run (its model fitted).
    policy_names : list of str
        Policies in the order of the arrays' first axis.
    baseline : str
        The policy others are compared with.
    metric_table : mapping of str to MetricInfo
        The run's metrics: the base metrics and the event metrics its policies declare.
    asset_names, series_names : list of str
        Invested assets; every simulated series (assets and inflation).
    inflation_series : str or None
        The simulated inflation series, if any.
    model : ReturnModel
        The fitted model (a copy; the scenario given to :func:`mcsim.run` is unchanged).
    grid_steps : ndarray of shape (n_grid,)
        Steps of the reporting grid of the sketches.
    history : DataFrame or None
        The history the model was fitted to.
    metrics_array, hist, wealth_array : ndarray
        The merged kernel outputs (read-only); ``hist`` is the nominal wealth sketch,
        shape (n_policies, n_grid, n_bins). A streamed run (:attr:`path_store`) reads
        ``metrics_array`` from its dataset on first use: the whole table in memory.
    n_paths : int
        Paths per policy.
    path_store : PathStore or None
        Where a streamed run keeps its per-path table (a Parquet dataset read one column at
        a time, see :mod:`mcsim.path_store`); None when the table is in memory.
    real_hist : ndarray or None
        The real wealth sketch (wealth over the simulated price index, in the money of the
        start), same shape as ``hist``; None when the run simulates no inflation.
    paths : DataFrame
        One row per (policy, path), one column per metric (see :attr:`metric_table`);
        a streamed run loads it from its dataset on first use.
    summary : DataFrame
        Index (policy, metric); columns mean, std, se, quantiles p01..p99, cvar05.
    comparison : DataFrame
        Index (policy, metric); paired differences against the baseline on the same paths.
    fan : DataFrame
        Index (policy, year); wealth quantiles on the reporting grid, from the sketches.
    real_fan : DataFrame or None
        The same for real wealth (in the money of the start); None without inflation.
    sample_paths : DataFrame
        Wealth of the first ``keep_paths`` paths per step; index (policy, path).
    manifest : dict
        Resolved scenario, seed entropy, model parameters, versions and timings.
    model_check : DataFrame, str or None
        The fitted model against its history (see :mod:`mcsim.model_check`), computed on
        first use and cached.
    files : mapping of str to Path
        The files of the run's folder (``mcsim.run(..., out=...)``); empty otherwise.
    plan : RunPlan
        The run's plan, for :func:`mcsim.regenerate_path`; views need none of it.
    stress_names : list of str
        The scenario's stresses, in the order of the stressed arrays' first axis.
    stress : DataFrame
        Index (policy, stress, metric): each key metric stressed and unstressed, and the
        paired difference on the same paths with its standard error and 95 % interval (see
        :attr:`stress`). Empty without stresses.
    failure : FailureAnatomy or None
        The reverse stress test of ``[failure]`` (None without it).
    window_starts : DatetimeIndex or None
        With the ``historical_windows`` model: the start date of each path's window.
    """

    def __init__(
        self,
        *,
        plan: RunPlan,
        metrics: np.ndarray | None,
        hist: np.ndarray,
        wealth: np.ndarray,
        timings: Mapping[str, Any],
        checkpoint: Checkpoint | None = None,
        files: Mapping[str, Path] | None = None,
        sweep: SweepOutcome | None = None,
        stress_metrics: np.ndarray | None = None,
        stress_hist: np.ndarray | None = None,
        features: np.ndarray | None = None,
        path_store: PathStore | None = None,
    ) -> None:
        if (metrics is None) == (path_store is None):
            raise ValueError("give the per-path metrics either in memory or as a path store")
        n_pol = len(plan.policies)
        n_paths = metrics.shape[1] if metrics is not None else path_store.n_paths
        if stress_metrics is None:
            stress_metrics = np.empty((0, n_pol, n_paths, layout.N_METRICS))
        n_grid = plan.grid_steps.size
        # The kernel records real wealth in a second half of the sketch's rows.
        real_hist = hist[:, n_grid:] if hist.shape[1] > n_grid else None
        hist = hist[:, :n_grid]
        if stress_hist is None:
            stress_hist = np.zeros((0, *hist.shape), dtype=np.int64)
        if features is None:
            features = np.empty((0, 0))
        inflation = plan.series_names[plan.inflation_index] if plan.inflation_index >= 0 else None
        values = {
            "plan": plan,
            "scenario": plan.scenario,
            "policy_names": [p.name for p in plan.policies],
            "baseline": plan.scenario.baseline,
            # Every registered kind's event metrics are columns of every run (0 for the
            # policies without them), so files of any two runs have the same columns.
            "metric_table": MappingProxyType(
                run_metrics((*POLICIES.values(), *plan.scenario.policies))
            ),
            "asset_names": list(plan.asset_names),
            "series_names": list(plan.series_names),
            "inflation_series": inflation,
            "model": plan.model,
            "grid_steps": _frozen(plan.grid_steps),
            "history": plan.history,
            "history_periods_per_year": plan.history_periods_per_year,
            "entropy": plan.entropy,
            "n_paths": int(n_paths),
            "path_store": path_store,
            "hist": _frozen(hist),
            "real_hist": None if real_hist is None else _frozen(real_hist),
            "wealth_array": _frozen(wealth),
            "timings": dict(timings),
            "checkpoint": checkpoint,
            "files": MappingProxyType(dict(files or {})),
            "sweep": sweep,
            "stress_names": [r.name for r in plan.stresses],
            "stress_metrics_array": _frozen(stress_metrics),
            "stress_hist": _frozen(stress_hist),
            "features_array": _frozen(features),
            "window_starts": plan.window_starts,
        }
        if metrics is not None:
            # In memory; a streamed run reads it on first use (the cached property).
            values["metrics_array"] = _frozen(metrics)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a result is a frozen value")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}: a result is a frozen value")

    def with_files(self, files: Mapping[str, Path]) -> SimulationResult:
        """The same result, recording ``files`` as its folder's files (frames already
        computed are kept). A streamed run then reads its table from the saved dataset."""
        store = self.path_store
        if store is not None and "paths" in files:
            store = store.at(files["paths"])
        new = SimulationResult(
            plan=self.plan,
            metrics=None if store is not None else self.metrics_array,
            hist=(
                self.hist
                if self.real_hist is None
                else np.concatenate((self.hist, self.real_hist), axis=1)
            ),
            wealth=self.wealth_array,
            timings=self.timings,
            checkpoint=self.checkpoint,
            files=files,
            sweep=self.sweep,
            stress_metrics=self.stress_metrics_array,
            stress_hist=self.stress_hist,
            features=self.features_array,
            path_store=store,
        )
        cached = type(self).__dict__
        for name, value in vars(self).items():
            if isinstance(cached.get(name), cached_property) and name not in new.__dict__:
                new.__dict__[name] = value
        return new

    def __repr__(self) -> str:
        sim = self.scenario.simulation
        return (
            f"SimulationResult({self.scenario.name!r}: {sim.n_paths:,} paths x "
            f"{sim.n_steps} steps, policies {self.policy_names}, "
            f"baseline {self.baseline!r})"
        )

    def _repr_html_(self) -> str:
        """The summary and the paired comparison as compact HTML (notebooks)."""
        return result_html(self)

    @cached_property
    def plot(self) -> ResultPlots:
        """The run's plotly figures: ``plot.fan()``, ``plot.distribution(metric)``,
        ``plot.comparison()``, ``plot.drawdown()`` (see :class:`mcsim.plotting.ResultPlots`)."""
        return ResultPlots(self)

    # -- per-path ---------------------------------------------------------------------------
    @cached_property
    def _event_masks(self) -> dict[str, np.ndarray]:
        """For each event metric, the policies (by position) whose slot holds another one."""
        return event_masks(self.scenario.policies, self.metric_table)

    @cached_property
    def metrics_array(self) -> np.ndarray:
        """The kernel's per-path output of a streamed run, read from its dataset (the whole
        table: n_policies x n_paths x N_METRICS floats). Runs in memory set it directly."""
        store = self.path_store
        out = np.zeros((len(self.policy_names), self.n_paths, layout.N_METRICS))
        declared = [declared_event_metric(p) for p in self.scenario.policies]
        for name, info in self.metric_table.items():
            x = store.values(name)
            if info.event:
                # The slot holds the declared event's count (0 for a policy declaring none).
                mine = np.array([e is not None and e.name == name for e in declared])
                out[mine, :, info.column] = x[mine]
            else:
                out[:, :, info.column] = x
        return _frozen(out)

    def _values(self, name: str, metrics: np.ndarray | None = None) -> np.ndarray:
        """Metric ``name`` of every policy and path, shape (n_policies, n_paths), from the
        run's metrics or from ``metrics`` of the same layout (a stressed variant's)."""
        info = self.metric_table[name]
        if metrics is None and self.path_store is not None:
            return self.path_store.values(name)
        source = self.metrics_array if metrics is None else metrics
        return labelled_values(source, info, self._event_masks.get(name))

    def _policy_values(self, name: str, k: int) -> np.ndarray:
        """Metric ``name`` of the policy at position ``k``, shape (n_paths,); a streamed run
        reads the one column from its dataset."""
        if self.path_store is not None:
            return self.path_store.column(name, k)
        return self._values(name)[k]

    @cached_property
    def paths(self) -> pd.DataFrame:
        n_paths = self.n_paths
        names = list(self.metric_table)
        data = np.stack([self._values(m).reshape(-1) for m in names], axis=1)
        index = pd.MultiIndex.from_product(
            [pd.Index(self.policy_names, name="policy"), pd.RangeIndex(n_paths, name="path")]
        )
        return pd.DataFrame(data, index=index, columns=names)

    def metric(self, name: str) -> pd.DataFrame:
        """One metric as a (path x policy) table, for paired work."""
        if name not in self.metric_table:
            raise KeyError(f"Unknown metric {name!r}; metrics: {', '.join(self.metric_table)}.")
        return pd.DataFrame(
            self._values(name).T,
            columns=pd.Index(self.policy_names, name="policy"),
        ).rename_axis("path")

    # -- summaries --------------------------------------------------------------------------
    @cached_property
    def summary(self) -> pd.DataFrame:
        rows = []
        index = []
        # In memory every metric at once; streamed, one column of one policy at a time
        # (the same numbers: the statistics see the same values in the same order).
        values = None
        if self.path_store is None:
            values = {name: self._values(name) for name in self.metric_table}
        for k, pol in enumerate(self.policy_names):
            for name, info in self.metric_table.items():
                x = values[name][k] if values is not None else self._policy_values(name, k)
                rows.append(_summary_stats(x, info.higher_is_better))
                index.append((pol, name))
        return pd.DataFrame(
            rows,
            index=pd.MultiIndex.from_tuples(index, names=["policy", "metric"]),
            columns=["count", "mean", "std", "se", *QUANTILE_LABELS, "cvar05"],
        )

    def table(
        self,
        metrics: tuple[str, ...] = (
            "terminal_wealth",
            "cagr",
            "volatility",
            "max_drawdown",
            "turnover",
            "costs",
            "loss",
        ),
    ) -> pd.DataFrame:
        """A compact policy x metric table of means (probabilities for 0/1 metrics)."""
        s = self.summary["mean"].unstack("metric")
        return s.loc[self.policy_names, list(metrics)]

    @cached_property
    def comparison(self) -> pd.DataFrame:
        base = self.policy_names.index(self.baseline)
        rows = []
        index = []
        for k, pol in enumerate(self.policy_names):
            if k == base:
                continue
            for name in COMPARED:
                # Paths whose wealth overflowed to inf on both sides have no difference.
                with np.errstate(invalid="ignore"):
                    d = self._policy_values(name, k) - self._policy_values(name, base)
                d = d[np.isfinite(d)]
                n = d.size
                mean = float(d.mean()) if n else float("nan")
                se = _std(d) / np.sqrt(n) if n > 1 else float("nan")
                rows.append(
                    [
                        n,
                        mean,
                        se,
                        mean - _Z95 * se,
                        mean + _Z95 * se,
                        float((d > 0).mean()) if n else float("nan"),
                        float((d < 0).mean()) if n else float("nan"),
                    ]
                )
                index.append((pol, name))
        return pd.DataFrame(
            rows,
            index=pd.MultiIndex.from_tuples(index, names=["policy", "metric"]),
            columns=[
                "count",
                "mean_diff",
                "se",
                "ci95_low",
                "ci95_high",
                "prob_higher",
                "prob_lower",
            ],
        )

    @cached_property
    def fan(self) -> pd.DataFrame:
        return self._fan_of(self.hist)

    @cached_property
    def real_fan(self) -> pd.DataFrame | None:
        return None if self.real_hist is None else self._fan_of(self.real_hist)

    def _fan_of(self, hist: np.ndarray) -> pd.DataFrame:
        sim = self.scenario.simulation
        wealth = wealth_quantiles(hist, self.grid_steps, sim.initial_wealth, QUANTILES)
        years = self.grid_steps / sim.steps_per_year
        frames = []
        for k, pol in enumerate(self.policy_names):
            df = pd.DataFrame(wealth[k], columns=list(QUANTILE_LABELS))
            df.insert(0, "year", years)
            df.insert(0, "policy", pol)
            frames.append(df)
        return pd.concat(frames).set_index(["policy", "year"])

    @cached_property
    def sample_paths(self) -> pd.DataFrame:
        n_pol, n_keep, n_cols = self.wealth_array.shape
        index = pd.MultiIndex.from_product(
            [pd.Index(self.policy_names, name="policy"), pd.RangeIndex(n_keep, name="path")]
        )
        return pd.DataFrame(
            self.wealth_array.reshape(n_pol * n_keep, n_cols),
            index=index,
            columns=pd.RangeIndex(n_cols, name="step"),
        )

    @cached_property
    def model_check(self) -> pd.DataFrame | str | None:
        """The model-vs-history check of the run's model, for the report.

        :func:`mcsim.model_check.model_check` of the run's (fitted) model against the history
        it was fitted to, with :data:`~mcsim.model_check.MODEL_CHECK_PATHS` simulated paths at
        the run's steps per year, seeded by the run's seed entropy.

        Returns
        -------
        pandas.DataFrame, str or None
            The table; None when the model was not fitted to history or replays it
            (``historical_windows``); a one-line message
            when the check failed (a warning says so too: a failed diagnostic must not cost
            the user the report).
        """
        if self.history is None or self.window_starts is not None:
            # Paths that are the history's own windows have no model to check against it.
            return None
        try:
            return _model_check.model_check(
                self.model,
                self.history,
                self.history_periods_per_year,
                steps_per_year=self.scenario.simulation.steps_per_year,
                n_paths=_model_check.MODEL_CHECK_PATHS,
                seed=int(self.entropy),
            )
        except Exception as e:  # any failure: the report shows the message instead
            warnings.warn(
                f"The model-vs-history check failed ({type(e).__name__}: {e}); the report "
                "leaves it out. Run mcsim.model_check.model_check yourself to see why.",
                UserWarning,
                stacklevel=3,
            )
            return f"The model check failed: {type(e).__name__}: {e}"

    # -- stress testing ---------------------------------------------------------------------
    def _stress_index(self, stress: str) -> int:
        if stress not in self.stress_names:
            names = ", ".join(self.stress_names) or "none"
            raise ConfigError(f"Unknown stress {stress!r}; this run's stresses: {names}.")
        return self.stress_names.index(stress)

    def stress_paths(self, stress: str) -> pd.DataFrame:
        """The per-path table of one stressed variant (the layout of :attr:`paths`).

        Row ``(policy, path)`` is the same draw as that row of :attr:`paths`, stressed.
        """
        arr = self.stress_metrics_array[self._stress_index(stress)]
        names = list(self.metric_table)
        data = np.stack([self._values(m, arr).reshape(-1) for m in names], axis=1)
        index = pd.MultiIndex.from_product(
            [
                pd.Index(self.policy_names, name="policy"),
                pd.RangeIndex(arr.shape[1], name="path"),
            ]
        )
        return pd.DataFrame(data, index=index, columns=names)

    def stress_fan(self, stress: str) -> pd.DataFrame:
        """Wealth quantiles of one stressed variant on the reporting grid (layout of
        :attr:`fan`)."""
        hist = self.stress_hist[self._stress_index(stress)]
        return self._fan_of(hist)

    @cached_property
    def stress(self) -> pd.DataFrame:
        """Each policy under each stress against the same policy unstressed, path by path.

        Index (policy, stress, metric), metrics of :data:`STRESS_METRICS` (``goal`` only
        with a goal). Columns: ``stressed`` and ``unstressed`` (the statistic of the metric:
        mean, median, 5th or 95th percentile, or probability), ``difference`` (stressed minus
        unstressed) and, for the means and probabilities, ``se`` and ``ci95_low`` /
        ``ci95_high``: the standard error of the mean of the paired per-path differences
        and its normal 95 % interval. Quantile rows have no standard error (NaN).
        """
        rows, index = [], []
        metrics = [m for m in STRESS_METRICS if m[1] != "goal_met" or self._has_goal]
        for j, stress in enumerate(self.stress_names):
            arr = self.stress_metrics_array[j]
            for k, pol in enumerate(self.policy_names):
                for label, metric, stat in metrics:
                    a = self._values(metric, arr)[k]
                    b = self._values(metric)[k]
                    rows.append(_paired_stat(a, b, stat))
                    index.append((pol, stress, label))
        return pd.DataFrame(
            rows,
            index=pd.MultiIndex.from_tuples(index, names=["policy", "stress", "metric"]),
            columns=["stressed", "unstressed", "difference", "se", "ci95_low", "ci95_high"],
        )

    @property
    def _has_goal(self) -> bool:
        return self.scenario.simulation.goal is not None

    @cached_property
    def failure(self) -> FailureAnatomy | None:
        """The reverse stress test of the scenario's ``[failure]`` conditions (or None).

        Per policy: the share of (unstressed) paths that fail, the path features of the
        failing against the surviving paths, and the worst failing paths (lowest terminal
        wealth) by index, for :func:`mcsim.regenerate_path`.
        """
        config = self.scenario.failure
        if config is None or self.features_array.shape[1] == 0:
            return None
        flags = failure_flags(config, self.metrics_array)
        return failure_anatomy(
            flags,
            self.features_array,
            self.policy_names,
            feature_names(self.asset_names),
            worst_metric=self.metrics_array[:, :, layout.M_TERMINAL_WEALTH],
            n_worst=config.n_worst,
        )

    # -- provenance -------------------------------------------------------------------------
    @cached_property
    def manifest(self) -> dict[str, Any]:
        sim = self.scenario.simulation
        extra: dict[str, Any] = {}
        if self.stress_names:
            extra["stresses"] = [
                {"name": r.name, "kind": r.kind, "start": r.start, "stop": r.stop, **r.info}
                for r in self.plan.stresses
            ]
        if self.window_starts is not None:
            extra["windows"] = {
                "n_windows": len(self.window_starts),
                "first_start": str(self.window_starts[0].date()),
                "last_start": str(self.window_starts[-1].date()),
                "note": "historical_windows: one path per rolling window; "
                "[simulation].n_paths is ignored",
            }
        return {
            "mcsim_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "scenario": self.scenario.to_dict(),
            "seed": {
                "given": sim.seed,
                "entropy": str(self.entropy),
                "rule": "block i draws from default_rng(SeedSequence(entropy, spawn_key=(i,)))",
                "block_size": sim.block_size,
                "n_blocks": sim.n_blocks,
            },
            "model": self.model.params(),
            "assets": list(self.asset_names),
            "inflation_series": self.inflation_series,
            # The asset Sharpe and Sortino are against (null: against 0).
            "risk_free": sim.risk_free,
            "history": self._history_info(),
            "sketch": {
                "quantity": "log(wealth / initial_wealth)",
                "lo": HIST_LO,
                "width": HIST_WIDTH,
                "bins": HIST_BINS,
                "grid_steps": self.grid_steps.tolist(),
            },
            "timings": self.timings,
            "versions": _versions(),
            **self._decision_info(),
            **extra,
        }

    # -- choosing a policy ------------------------------------------------------------------
    def _decision_config(self) -> DecisionConfig | None:
        if self.sweep is not None:
            return self.scenario.decision or DecisionConfig()
        return self.scenario.decision

    @cached_property
    def ranking(self) -> pd.DataFrame | None:
        """Ranking of the policies by the ``[decision]`` objective, or None without one.

        One row per policy and risk aversion: certainty-equivalent wealth and return and the
        certainty fee equivalent against the baseline (bp/yr), each with its standard error
        and 95 % interval, ``objective_value`` and ``rank`` (see ``docs/choosing.md``). With
        a sweep, every grid point has a row (computed from its mergeable sums).
        """
        if self.sweep is not None:
            return self.sweep.ranking
        decision = self.scenario.decision
        if decision is None:
            return None
        sim = self.scenario.simulation
        return per_path_ranking(
            self._decision_wealth(),
            self.policy_names,
            baseline=self.baseline,
            horizon_years=sim.horizon_years,
            initial_wealth=sim.initial_wealth,
            decision=decision,
            goal=sim.goal,
        )

    @cached_property
    def winner(self) -> Winner | None:
        """The policy chosen on the selection half of the paths and judged on the other half
        (None without ``[decision]`` or a sweep, or with a single policy)."""
        if self.sweep is not None:
            return self.sweep.winner
        decision = self.scenario.decision
        if decision is None or len(self.policy_names) < 2:
            return None
        sim = self.scenario.simulation
        return per_path_winner(
            self._decision_wealth(),
            self.policy_names,
            baseline=self.baseline,
            horizon_years=sim.horizon_years,
            initial_wealth=sim.initial_wealth,
            block_size=sim.block_size,
            decision=decision,
            goal=sim.goal,
        )

    def _decision_wealth(self) -> np.ndarray:
        """Terminal wealth per policy and path, real when inflation is simulated."""
        name = "real_terminal_wealth" if self.inflation_series is not None else "terminal_wealth"
        return self._values(name)

    def _decision_info(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sweep is not None:
            out["sweeps"] = {
                "tables": [s.to_dict() for s in self.sweep.sweeps],
                "n_points": len(self.sweep.point_names),
                "kept": list(self.sweep.kept),
            }
        if self.winner is not None:
            out["winner"] = self.winner.to_dict()
        return out

    def _history_info(self) -> dict[str, Any] | None:
        h = self.history
        if h is None:
            return None
        return {
            "source": self.scenario.data.source if self.scenario.data else None,
            "first": str(h.index[0].date()) if len(h) else None,
            "last": str(h.index[-1].date()) if len(h) else None,
            "rows": len(h),
            "periods_per_year": self.history_periods_per_year,
            "columns": [str(c) for c in h.columns],
        }

    # -- files ------------------------------------------------------------------------------
    def save(
        self, out_dir: str | os.PathLike[str], *, report: bool = True, out_name: str = "out_dir"
    ) -> dict[str, Path]:
        """Write results into ``out_dir``; files appear only once all are written.

        See :func:`mcsim.saving.save_result`, which this calls.

        Returns
        -------
        dict of str to Path
            The files written, by kind.
        """
        return save_result(self, out_dir, report=report, out_name=out_name)

    def remove_checkpoint(self) -> None:
        """Remove the checkpoint blocks the run wrote (a no-op without any, or done before)."""
        if self.checkpoint is not None:
            self.checkpoint.remove()


#: Rows of :attr:`SimulationResult.stress`: (label, metric, statistic).
STRESS_METRICS: tuple[tuple[str, str, str], ...] = (
    ("mean_terminal_wealth", "terminal_wealth", "mean"),
    ("median_terminal_wealth", "terminal_wealth", "p50"),
    ("p05_terminal_wealth", "terminal_wealth", "p05"),
    ("cagr", "cagr", "mean"),
    ("median_max_drawdown", "max_drawdown", "p50"),
    ("p95_max_drawdown", "max_drawdown", "p95"),
    ("p_ruin", "ruined", "mean"),
    ("p_loss", "loss", "mean"),
    ("p_goal", "goal_met", "mean"),
)
_STAT_Q = {"p50": 0.5, "p05": 0.05, "p95": 0.95}


def _summary_stats(x: np.ndarray, higher_is_better: bool) -> list[float]:
    """count, mean, std, se, the quantiles and the 5 % CVaR of the finite values of ``x``."""
    finite = x[np.isfinite(x)]
    n = finite.size
    if n == 0:
        return [0, *[np.nan] * (3 + len(QUANTILES) + 1)]
    std = _std(finite) if n > 1 else float("nan")
    return [
        n,
        float(finite.mean()),
        std,
        std / np.sqrt(n) if n > 1 else float("nan"),
        *np.quantile(finite, QUANTILES).tolist(),
        cvar(finite, 0.05, higher_is_better),
    ]


def _paired_stat(stressed: np.ndarray, unstressed: np.ndarray, stat: str) -> list[float]:
    """Statistic of both samples, their difference, and for a mean the paired SE and CI."""
    ok = np.isfinite(stressed) & np.isfinite(unstressed)
    a, b = stressed[ok], unstressed[ok]
    nan = float("nan")
    if a.size == 0:
        return [nan] * 6
    if stat != "mean":
        qa, qb = np.quantile(a, _STAT_Q[stat]), np.quantile(b, _STAT_Q[stat])
        return [float(qa), float(qb), float(qa - qb), nan, nan, nan]
    d = a - b
    mean = float(d.mean())
    se = _std(d) / np.sqrt(d.size) if d.size > 1 else nan
    return [float(a.mean()), float(b.mean()), mean, se, mean - _Z95 * se, mean + _Z95 * se]


# Above this magnitude squares overflow float64: such samples are rescaled first.
_HUGE = 1e150


def _std(x: np.ndarray) -> float:
    """Sample standard deviation (ddof 1), without overflow for values beyond 1e150."""
    scale = float(np.max(np.abs(x)))
    if scale <= _HUGE:
        return float(x.std(ddof=1))
    return scale * float((x / scale).std(ddof=1))


def _versions() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


RESULT_METRICS: Mapping[str, MetricInfo] = MappingProxyType(run_metrics(POLICIES.values()))
"""The columns of every run's per-path table: the base metrics (:data:`METRICS`) and the
event metrics of every registered policy kind, with units and directions."""
