"""What the report reads from a finished run, once, and which optional parts apply to it.

The report is a view of a result: it reads only the result's public values (scenario, policy
names, summary, comparison, fan, sample paths, manifest, per-path metrics and the model check)
and never the engine's run plan, the models or the statistics.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..metrics import EventMetric, MetricInfo
from .choose import grid_points
from .format import COST_PARTS, FONT, policy_colours
from .model_check import model_check_figure

if TYPE_CHECKING:
    from ..choose import Winner
    from ..config import Scenario, SimulationConfig
    from ..results import SimulationResult

__all__ = ["ReportView"]


@dataclass(frozen=True, eq=False, kw_only=True)
class ReportView:
    """The values of one run that the report shows.

    Attributes
    ----------
    scenario : Scenario
        The run's scenario (names, policies, costs, flows, taxes, simulation settings).
    policies : list of str
        Policy names, in the run's order.
    baseline : str
        Name of the policy the others are compared with.
    n_paths : int
        Simulated paths per policy.
    summary, comparison, fan, sample_paths : pandas.DataFrame
        As :class:`mcsim.SimulationResult` gives them.
    manifest : dict
        The run's manifest (seed, model parameters, assets, history, sketch, versions).
    metric_info : mapping of str to MetricInfo
        Unit and direction of every per-path metric (the run's ``metric_table``, with the
        event metrics its policies declare).
    series_names : list of str
        The model's simulated series, in column order (labels model parameters that do not
        name their series).
    per_path : callable
        ``per_path(metric)`` gives one metric as a (path x policy) table.
    model_check_table : pandas.DataFrame, str or None
        The model-vs-history table, a message saying why it failed, or None without history.
    stress, stress_fans, failure, window_starts
        Stress testing: the paired stress table, each stress's wealth fan, the failure
        anatomy and the start dates of replayed windows (None / empty without them).
    ranking : pandas.DataFrame or None
        :attr:`mcsim.SimulationResult.ranking` (None without ``[decision]`` or a sweep).
    winner : mcsim.choose.Winner or None
        The policy chosen on one half of the paths and judged on the other.
    sweep_points : pandas.DataFrame or None
        For a sweep, the swept values of every grid point
        (:func:`mcsim.report.choose.grid_points`).
    """

    scenario: Scenario
    policies: list[str]
    baseline: str
    n_paths: int
    summary: pd.DataFrame
    comparison: pd.DataFrame
    fan: pd.DataFrame
    sample_paths: pd.DataFrame
    manifest: Mapping[str, Any]
    metric_info: Mapping[str, MetricInfo]
    series_names: list[str]
    per_path: Callable[[str], pd.DataFrame]
    model_check_table: pd.DataFrame | str | None
    # Stress testing (empty / None for a run without it): the paired stress table, the
    # stressed fan of each stress, the failure anatomy and the windows' start dates.
    stress: pd.DataFrame | None = None
    stress_fans: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    failure: Any = None
    window_starts: pd.DatetimeIndex | None = None
    # Choosing a policy (None without [decision] or a sweep): the ranking, the winner, and
    # the swept values of every grid point (see mcsim.report.choose.grid_points).
    ranking: pd.DataFrame | None = None
    winner: Winner | None = None
    # Real wealth quantiles (index policy, year), None when the run simulates no inflation.
    real_fan: pd.DataFrame | None = None
    sweep_points: pd.DataFrame | None = None
    # The merged wealth sketches (n_policies, n_grid, n_bins) and the steps of their grid.
    wealth_hist: np.ndarray | None = None
    grid_steps: np.ndarray | None = None
    _metric_cache: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_result(cls, result: SimulationResult) -> ReportView:
        """Read the values the report shows from a finished run."""
        return cls(
            scenario=result.scenario,
            policies=list(result.policy_names),
            baseline=result.baseline,
            n_paths=len(result.metric("terminal_wealth")),
            summary=result.summary,
            comparison=result.comparison,
            fan=result.fan,
            real_fan=result.real_fan,
            sample_paths=result.sample_paths,
            manifest=result.manifest,
            metric_info=result.metric_table,
            series_names=list(result.series_names),
            per_path=result.metric,
            model_check_table=result.model_check,
            wealth_hist=result.hist,
            grid_steps=result.grid_steps,
            stress=result.stress if result.stress_names else None,
            stress_fans={name: result.stress_fan(name) for name in result.stress_names},
            failure=result.failure,
            window_starts=result.window_starts,
            ranking=result.ranking,
            winner=result.winner,
            sweep_points=(
                grid_points(result.sweep.sweeps, result.sweep.point_names)
                if result.sweep is not None
                else None
            ),
        )

    # -- data ------------------------------------------------------------------------------
    @property
    def sim(self) -> SimulationConfig:
        """The run's ``[simulation]`` settings."""
        return self.scenario.simulation

    @cached_property
    def colours(self) -> dict[str, str]:
        """The colour of each policy (:func:`mcsim.report.policy_colours`)."""
        return policy_colours(self.policies)

    def metric(self, name: str) -> pd.DataFrame:
        """One per-path metric as a (path x policy) table, read once."""
        if name not in self._metric_cache:
            self._metric_cache[name] = self.per_path(name)
        return self._metric_cache[name]

    def stat(self, policy: str, metric: str, column: str) -> float:
        """One summary value (``column`` of :attr:`summary`) of a policy's metric."""
        return float(self.summary.loc[(policy, metric), column])

    def any_nonzero(self, metric: str) -> bool:
        """Whether any finite per-path value of ``metric`` differs from zero."""
        x = self.metric(metric).to_numpy()
        x = x[np.isfinite(x)]
        return bool(x.size and np.any(x != 0))

    # -- which parts apply -----------------------------------------------------------------
    @cached_property
    def cost_parts(self) -> list[str]:
        """The kinds of cost some policy paid on some path."""
        return [p for p in COST_PARTS if self.any_nonzero(p)]

    @cached_property
    def has_costs(self) -> bool:
        return any(self.any_nonzero(m) for m in ("costs", *COST_PARTS))

    @cached_property
    def has_taxes(self) -> bool:
        return bool(self.scenario.taxes.enabled)

    @cached_property
    def has_flows(self) -> bool:
        return len(self.scenario.flows) > 0 or self.sim.goal is not None

    @cached_property
    def has_goal(self) -> bool:
        return self.sim.goal is not None

    @cached_property
    def events(self) -> dict[str, EventMetric]:
        """The policy-declared event metrics that occurred on some path, by name."""
        return {
            name: info.event
            for name, info in self.metric_info.items()
            if info.event is not None and self.any_nonzero(name)
        }

    @cached_property
    def has_inflation(self) -> bool:
        return self.manifest.get("inflation_series") is not None

    @cached_property
    def compared_metrics(self) -> list[str]:
        """Metrics shown in the paired comparison (those that can differ in this run)."""
        out = ["terminal_wealth"]
        if self.has_inflation:
            out.append("real_terminal_wealth")
        if self.has_taxes:
            out.append("after_tax_wealth")
        out += ["cagr", "volatility", "max_drawdown", "turnover"]
        if self.has_costs:
            out.append("costs")
        if self.has_taxes:
            out.append("taxes")
        present = set(self.comparison.index.get_level_values("metric"))
        return [m for m in out if m in present]

    @cached_property
    def model_check(self) -> tuple[pd.DataFrame, go.Figure] | str | None:
        """(table, figure) of the model-vs-history check, a message if it failed, or None."""
        table = self.model_check_table
        if not isinstance(table, pd.DataFrame):
            return table
        try:
            fig = model_check_figure(table)
        except Exception as e:  # a failed figure must not cost the user the whole report
            warnings.warn(
                f"The model-vs-history figure failed ({type(e).__name__}: {e}); the report "
                "leaves the check out. Draw it with mcsim.report.model_check_figure to see why.",
                UserWarning,
                stacklevel=3,
            )
            return f"The model check failed: {type(e).__name__}: {e}"
        fig.update_layout(font={"family": FONT, "size": 12, "color": "#222"})
        return table, fig
