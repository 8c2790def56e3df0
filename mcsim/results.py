"""Labelled results of a run: per-path table, summaries, paired comparison, fan chart."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import model_check as _model_check
from .kernels import layout, quantiles_from_histogram

if TYPE_CHECKING:
    from .checkpoint import Checkpoint
    from .engine import RunPlan

__all__ = ["METRICS", "MetricInfo", "SimulationResult"]


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """A per-path metric: its column in the kernel output, whether higher is better, unit."""

    column: int
    higher_is_better: bool
    unit: str
    description: str


METRICS: dict[str, MetricInfo] = {
    "terminal_wealth": MetricInfo(
        layout.M_TERMINAL_WEALTH,
        True,
        "currency",
        "Nominal wealth at the horizon, before tax on unrealised gains (0 when ruined)",
    ),
    "real_terminal_wealth": MetricInfo(
        layout.M_REAL_TERMINAL_WEALTH,
        True,
        "currency",
        "Terminal wealth in today's money (deflated by the path's price index; 0 when ruined)",
    ),
    "after_tax_wealth": MetricInfo(
        layout.M_AFTER_TAX_WEALTH,
        True,
        "currency",
        "Liquidation value after tax on unrealised gains (0 when ruined)",
    ),
    "cagr": MetricInfo(
        layout.M_CAGR,
        True,
        "fraction per year",
        "Annualised time-weighted return of the unit value; -1 (-100 %) when ruined",
    ),
    "volatility": MetricInfo(
        layout.M_VOLATILITY,
        False,
        "fraction per year",
        "Annualised volatility of per-step portfolio returns (until ruin, if ruined)",
    ),
    "max_drawdown": MetricInfo(
        layout.M_MAX_DRAWDOWN,
        False,
        "fraction",
        "Largest fall of the unit value from its running peak; 1 (100 %) when ruined",
    ),
    "max_drawdown_duration": MetricInfo(
        layout.M_MAX_DRAWDOWN_DURATION,
        False,
        "years",
        "Longest time under water; when ruined, at least from the last peak before ruin to "
        "the horizon",
    ),
    "turnover": MetricInfo(
        layout.M_TURNOVER, False, "fraction per year", "One-way traded value over wealth, per year"
    ),
    "costs": MetricInfo(layout.M_COSTS, False, "currency", "All trading costs paid"),
    "taxes": MetricInfo(layout.M_TAXES, False, "currency", "All taxes paid"),
    "flows": MetricInfo(
        layout.M_FLOWS, True, "currency", "Net external flows (contributions - withdrawals)"
    ),
    "gains": MetricInfo(layout.M_GAINS, True, "currency", "Market gains"),
    "n_rebalances": MetricInfo(
        layout.M_N_REBALANCES, False, "count", "Steps on which the policy traded"
    ),
    "min_wealth": MetricInfo(layout.M_MIN_WEALTH, True, "currency", "Lowest wealth along the path"),
    "ruined": MetricInfo(
        layout.M_RUINED, False, "probability", "Wealth ran out before the horizon (1) or not (0)"
    ),
    "ruin_year": MetricInfo(
        layout.M_RUIN_YEAR, True, "years", "Years until wealth ran out (paths that ran out only)"
    ),
    "loss": MetricInfo(
        layout.M_LOSS,
        False,
        "probability",
        "Ruined, or terminal wealth below initial wealth plus net flows (1) or not (0)",
    ),
    "cost_proportional": MetricInfo(layout.M_COST_PROPORTIONAL, False, "currency", "Commissions"),
    "cost_fixed": MetricInfo(layout.M_COST_FIXED, False, "currency", "Fixed fees per trade"),
    "cost_spread": MetricInfo(layout.M_COST_SPREAD, False, "currency", "Half bid-ask spread"),
    "cost_slippage": MetricInfo(layout.M_COST_SLIPPAGE, False, "currency", "Slippage"),
    "cost_impact": MetricInfo(layout.M_COST_IMPACT, False, "currency", "Market impact"),
    "deferred_trades": MetricInfo(
        layout.M_DEFERRED_TRADES,
        False,
        "count",
        "Steps on which a participation cap carried trades forward",
    ),
    "harvested_losses": MetricInfo(
        layout.M_HARVESTED_LOSSES, True, "currency", "Losses realised by tax-loss harvesting"
    ),
    "realised_gains": MetricInfo(
        layout.M_REALISED_GAINS, False, "currency", "Net capital gains realised"
    ),
    "dividends": MetricInfo(layout.M_DIVIDENDS, True, "currency", "Dividends received"),
    "floor_breaches": MetricInfo(
        layout.M_FLOOR_BREACHES, False, "count", "Steps below the CPPI floor, ruin step included"
    ),
    "goal_shortfall": MetricInfo(
        layout.M_GOAL_SHORTFALL, False, "currency", "Shortfall of terminal wealth against the goal"
    ),
    "goal_met": MetricInfo(
        layout.M_GOAL_MET,
        True,
        "probability",
        "Goal reached and money never ran out (1) or not (0); with no goal: never ran out",
    ),
}
METRIC_NAMES = list(METRICS)

QUANTILES = (0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99)
_Q_LABELS = [f"p{round(q * 100):02d}" for q in QUANTILES]
# Metrics compared path by path against the baseline.
COMPARED = (
    "terminal_wealth",
    "after_tax_wealth",
    "real_terminal_wealth",
    "cagr",
    "volatility",
    "max_drawdown",
    "turnover",
    "costs",
    "taxes",
)
_Z95 = 1.959963984540054


def cvar(values: np.ndarray, level: float, higher_is_better: bool) -> float:
    """Mean of the worst ``level`` fraction of outcomes (expected shortfall)."""
    x = np.sort(values[np.isfinite(values)])
    if x.size == 0:
        return float("nan")
    k = max(1, int(np.ceil(level * x.size)))
    tail = x[:k] if higher_is_better else x[-k:]
    return float(tail.mean())


class SimulationResult:
    """What a run produced, as pandas objects.

    Attributes
    ----------
    paths : DataFrame
        One row per (policy, path), one column per metric (see :data:`METRICS`).
    summary : DataFrame
        Index (policy, metric); columns mean, std, se, quantiles p01..p99, cvar05.
    comparison : DataFrame
        Index (policy, metric); paired differences against the baseline on the same paths.
    fan : DataFrame
        Index (policy, year); wealth quantiles on the reporting grid, from the sketches.
    sample_paths : DataFrame
        Wealth of the first ``keep_paths`` paths per step; index (policy, path).
    manifest : dict
        Resolved scenario, seed entropy, model parameters, versions and timings.
    series_names : list of str
        The model's simulated series (assets and an inflation series), in column order.
    model_check : DataFrame, str or None
        The fitted model against its history (see :mod:`mcsim.model_check`).
    """

    def __init__(
        self,
        *,
        plan: RunPlan,
        metrics: np.ndarray,
        hist: np.ndarray,
        wealth: np.ndarray,
        timings: dict[str, Any],
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.plan = plan
        self.scenario = plan.scenario
        self.policy_names = [p.name for p in plan.policies]
        self.series_names = list(plan.series_names)
        self.baseline = plan.scenario.baseline
        self.metrics_array = metrics
        self.hist = hist
        self.wealth_array = wealth
        self.timings = timings
        self.entropy = plan.entropy
        self.checkpoint = checkpoint
        self.files: dict[str, Path] = {}

    def __repr__(self) -> str:
        sim = self.scenario.simulation
        return (
            f"SimulationResult({self.scenario.name!r}: {sim.n_paths:,} paths x "
            f"{sim.n_steps} steps, policies {self.policy_names}, baseline {self.baseline!r})"
        )

    # -- per-path ---------------------------------------------------------------------------
    @cached_property
    def paths(self) -> pd.DataFrame:
        n_pol, n_paths, _ = self.metrics_array.shape
        cols = [METRICS[m].column for m in METRIC_NAMES]
        data = self.metrics_array.reshape(n_pol * n_paths, -1)[:, cols]
        index = pd.MultiIndex.from_product(
            [pd.Index(self.policy_names, name="policy"), pd.RangeIndex(n_paths, name="path")]
        )
        return pd.DataFrame(data, index=index, columns=METRIC_NAMES)

    def metric(self, name: str) -> pd.DataFrame:
        """One metric as a (path x policy) table, for paired work."""
        if name not in METRICS:
            raise KeyError(f"Unknown metric {name!r}; metrics: {', '.join(METRIC_NAMES)}.")
        col = METRICS[name].column
        return pd.DataFrame(
            self.metrics_array[:, :, col].T,
            columns=pd.Index(self.policy_names, name="policy"),
        ).rename_axis("path")

    # -- summaries --------------------------------------------------------------------------
    @cached_property
    def summary(self) -> pd.DataFrame:
        rows = []
        index = []
        for k, pol in enumerate(self.policy_names):
            for name, info in METRICS.items():
                x = self.metrics_array[k, :, info.column]
                finite = x[np.isfinite(x)]
                n = finite.size
                if n == 0:
                    stats = [0, *[np.nan] * (3 + len(QUANTILES) + 1)]
                else:
                    std = _std(finite) if n > 1 else float("nan")
                    stats = [
                        n,
                        float(finite.mean()),
                        std,
                        std / np.sqrt(n) if n > 1 else float("nan"),
                        *np.quantile(finite, QUANTILES).tolist(),
                        cvar(finite, 0.05, info.higher_is_better),
                    ]
                rows.append(stats)
                index.append((pol, name))
        return pd.DataFrame(
            rows,
            index=pd.MultiIndex.from_tuples(index, names=["policy", "metric"]),
            columns=["count", "mean", "std", "se", *_Q_LABELS, "cvar05"],
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
                col = METRICS[name].column
                # Paths whose wealth overflowed to inf on both sides have no difference.
                with np.errstate(invalid="ignore"):
                    d = self.metrics_array[k, :, col] - self.metrics_array[base, :, col]
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
        from .engine import HIST_LO, HIST_WIDTH

        q = quantiles_from_histogram(self.hist, HIST_LO, HIST_WIDTH, np.array(QUANTILES))
        w0 = self.scenario.simulation.initial_wealth
        wealth = w0 * np.exp(q)
        # Every path starts at the initial wealth; interpolating inside its sketch bin would
        # spread that point mass over up to 0.5 % above it, so report it exactly.
        wealth[:, self.plan.grid_steps == 0, :] = w0
        years = self.plan.grid_steps / self.scenario.simulation.steps_per_year
        frames = []
        for k, pol in enumerate(self.policy_names):
            df = pd.DataFrame(wealth[k], columns=_Q_LABELS)
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
            The table; None when the model was not fitted to history; a one-line message
            when the check failed (a warning says so too: a failed diagnostic must not cost
            the user the report).
        """
        plan = self.plan
        if plan.history is None:
            return None
        try:
            return _model_check.model_check(
                plan.model,
                plan.history,
                plan.history_periods_per_year,
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

    # -- provenance -------------------------------------------------------------------------
    @cached_property
    def manifest(self) -> dict[str, Any]:
        from . import __version__
        from .engine import HIST_BINS, HIST_LO, HIST_WIDTH

        sim = self.scenario.simulation
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
            "model": self.plan.model.params(),
            "assets": self.plan.asset_names,
            "inflation_series": (
                self.plan.series_names[self.plan.inflation_index]
                if self.plan.inflation_index >= 0
                else None
            ),
            "history": _history_info(self.plan),
            "sketch": {
                "quantity": "log(wealth / initial_wealth)",
                "lo": HIST_LO,
                "width": HIST_WIDTH,
                "bins": HIST_BINS,
                "grid_steps": self.plan.grid_steps.tolist(),
            },
            "timings": self.timings,
            "versions": _versions(),
        }

    # -- files ------------------------------------------------------------------------------
    def save(
        self, out_dir: str | os.PathLike[str], *, report: bool = True, out_name: str = "out_dir"
    ) -> dict[str, Path]:
        """Write results into ``out_dir``; files appear only once all are written.

        Writes ``paths.parquet`` (one row per policy and path), ``summary.csv``,
        ``comparison.csv``, ``fan.csv``, ``sample_paths.parquet``, ``manifest.json`` and
        ``report.html``. The folder is locked while saving (see ``mcsim.output``), and
        staging folders of killed saves are removed. Files are first written to a staging
        folder inside ``out_dir`` and moved in place at the end (``manifest.json`` last),
        so a failure leaves earlier results untouched. Once every file is in place, the
        run's checkpoint blocks (if any) are removed.

        Parameters
        ----------
        out_dir : path
            The folder, created if needed.
        report : bool
            Also write ``report.html``.
        out_name : str
            How messages name the folder.

        Returns
        -------
        dict of str to Path
            The files written, by kind; also kept as ``self.files``.

        Raises
        ------
        OutputError
            When the folder cannot be created, locked or written (the message names the
            file and the reason, such as "No space left on device").
        """
        from .output import check_folder, clean_stale, locked, write_staged

        out = check_folder(out_dir, out_name)
        with locked(out, out_name):
            clean_stale(out)
            files = write_staged(
                out,
                lambda d: self._write(d, report=report),
                label=out_name,
                last="manifest",
            )
            self.files = files
            self.remove_checkpoint()
        return files

    def remove_checkpoint(self) -> None:
        """Remove the checkpoint blocks the run wrote (a no-op without any)."""
        if self.checkpoint is not None:
            self.checkpoint.remove()
            self.checkpoint = None

    def _write(self, d: Path, *, report: bool) -> dict[str, Path]:
        files: dict[str, Path] = {}
        paths = self.paths.reset_index()
        paths["policy"] = paths["policy"].astype("category")
        files["paths"] = d / "paths.parquet"
        paths.to_parquet(files["paths"], index=False)
        files["summary"] = d / "summary.csv"
        self.summary.to_csv(files["summary"])
        files["comparison"] = d / "comparison.csv"
        self.comparison.to_csv(files["comparison"])
        files["fan"] = d / "fan.csv"
        self.fan.to_csv(files["fan"])
        files["sample_paths"] = d / "sample_paths.parquet"
        sp = self.sample_paths.copy()
        sp.columns = [str(c) for c in sp.columns]
        sp.reset_index().to_parquet(files["sample_paths"], index=False)
        files["manifest"] = d / "manifest.json"
        files["manifest"].write_text(json.dumps(self.manifest, indent=2, default=_json_default))
        if report:
            from .report import write_report

            files["report"] = d / "report.html"
            write_report(self, files["report"])
        return files


# Above this magnitude squares overflow float64: such samples are rescaled first.
_HUGE = 1e150


def _std(x: np.ndarray) -> float:
    """Sample standard deviation (ddof 1), without overflow for values beyond 1e150."""
    scale = float(np.max(np.abs(x)))
    if scale <= _HUGE:
        return float(x.std(ddof=1))
    return scale * float((x / scale).std(ddof=1))


def _history_info(plan: RunPlan) -> dict[str, Any] | None:
    h = plan.history
    if h is None:
        return None
    return {
        "source": plan.scenario.data.source if plan.scenario.data else None,
        "first": str(h.index[0].date()) if len(h) else None,
        "last": str(h.index[-1].date()) if len(h) else None,
        "rows": len(h),
        "periods_per_year": plan.history_periods_per_year,
        "columns": [str(c) for c in h.columns],
    }


def _versions() -> dict[str, str]:
    import joblib
    import numba
    import scipy

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def _json_default(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return str(x)
