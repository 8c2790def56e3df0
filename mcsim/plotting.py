"""``result.plot``: the report's plotly figures of one run, for notebooks.

Each method returns a :class:`plotly.graph_objects.Figure` drawn by the same function as the
report (:mod:`mcsim.report.figures`), so a figure in a notebook and in ``report.html`` are the
same figure. Nothing is computed until a method is called, and the model check (which
simulates) is never run here.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from .report.figures import (
    comparison_figure,
    distribution_figure,
    run_fan_figure,
    success_figure,
    underwater_figure,
)
from .report.view import ReportView

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .results import SimulationResult

__all__ = ["DISTRIBUTION_METRICS", "ResultPlots"]

DISTRIBUTION_METRICS = ("terminal_wealth", "max_drawdown")
"""Metrics :meth:`ResultPlots.distribution` draws (wealth on a log axis, drawdown linear)."""


class ResultPlots:
    """The figures of one run: ``result.plot.fan()``, ``.distribution(metric)``,
    ``.comparison()``, ``.drawdown()``.

    Parameters
    ----------
    result : SimulationResult
        A finished run.
    """

    def __init__(self, result: SimulationResult) -> None:
        self._result = result

    def __repr__(self) -> str:
        return (
            f"<plots of {self._result.scenario.name!r}: fan(), distribution(metric), "
            "comparison(), drawdown(), underwater(), success()>"
        )

    @cached_property
    def _view(self) -> ReportView:
        # The report's view without its model check: that check simulates, and no figure
        # here needs it.
        r = self._result
        return ReportView(
            scenario=r.scenario,
            policies=list(r.policy_names),
            baseline=r.baseline,
            n_paths=r.n_paths,
            summary=r.summary,
            comparison=r.comparison,
            fan=r.fan,
            real_fan=r.real_fan,
            sample_paths=r.sample_paths,
            manifest=r.manifest,
            metric_info=r.metric_table,
            series_names=list(r.series_names),
            per_path=r.metric,
            model_check_table=None,
            wealth_hist=r.hist,
            grid_steps=r.grid_steps,
        )

    def fan(self, real: bool = False) -> go.Figure:
        """Wealth quantiles (5-95 %) per year, one panel per policy, on a log axis.

        Parameters
        ----------
        real : bool
            False: nominal wealth in the scenario's currency, with a few sample paths.
            True: real wealth (wealth over the simulated price index, in the currency of
            the start), from its own sketches, without sample paths.

        Raises
        ------
        ValueError
            ``real=True`` for a run that simulates no inflation.
        """
        v = self._view
        if real and v.real_fan is None:
            raise ValueError(
                "fan(real=True): this run simulates no inflation, so it has no real wealth; "
                "add an inflation series to the scenario's model (see docs/models.md) or "
                "call fan()."
            )
        return run_fan_figure(v, real=real)

    def distribution(self, metric: str = "terminal_wealth") -> go.Figure:
        """Binned distribution and quantile box of a per-path metric, per policy.

        Parameters
        ----------
        metric : {"terminal_wealth", "max_drawdown"}
            Terminal wealth (currency, log axis) or maximum drawdown (fraction of peak).

        Raises
        ------
        ValueError
            For another metric.
        """
        if metric not in DISTRIBUTION_METRICS:
            raise ValueError(
                f"distribution(metric): metric must be one of {', '.join(DISTRIBUTION_METRICS)};"
                f" got {metric!r}. For any metric, result.metric(name) gives the values per path."
            )
        v = self._view
        return distribution_figure(metric, v.metric(metric), v.summary, v.colours)

    def drawdown(self) -> go.Figure:
        """The distribution of each policy's maximum drawdown (fraction of peak wealth)."""
        return self.distribution("max_drawdown")

    def comparison(self, metrics: Sequence[str] | None = None) -> go.Figure:
        """Paired mean differences against the baseline, with 95 % intervals.

        Parameters
        ----------
        metrics : sequence of str, optional
            Metrics to show, one panel each (default: those the report shows, which are
            the ones that can differ in this run).

        Raises
        ------
        ValueError
            With a single policy (there is nothing to compare), or for a metric the paired
            comparison does not hold.
        """
        v = self._view
        if len(v.policies) < 2:
            raise ValueError(
                "comparison(): the run has one policy, so there is no paired difference to draw;"
                " add a second policy to the scenario."
            )
        shown = list(v.compared_metrics if metrics is None else metrics)
        present = list(dict.fromkeys(v.comparison.index.get_level_values("metric")))
        unknown = [m for m in shown if m not in present]
        if unknown or not shown:
            raise ValueError(
                f"comparison(metrics): {unknown or 'an empty list'} not compared; choose from "
                f"{', '.join(present)}."
            )
        return comparison_figure(
            v.comparison, shown, v.metric_info, v.policies, v.baseline, v.colours
        )

    def underwater(self) -> go.Figure:
        """Drawdown over time (percent below the running peak of wealth): median and 5-95 %
        band per policy, from the kept sample paths.

        Raises
        ------
        ValueError
            When the run kept no wealth paths (`[simulation].keep_paths = 0`).
        """
        v = self._view
        if not len(v.sample_paths):
            raise ValueError(
                "underwater(): the run kept no wealth paths; set `[simulation].keep_paths` "
                "above 0 (for example 200) and run again."
            )
        return underwater_figure(v.sample_paths, v.colours, steps_per_year=v.sim.steps_per_year)

    def success(self) -> go.Figure:
        """Probability of success by year: the share of paths at or above the goal (with
        `[simulation].goal`), else the share not yet ruined, from the wealth sketches."""
        v = self._view
        sketch = v.manifest["sketch"]
        return success_figure(
            v.wealth_hist,
            v.grid_steps,
            v.colours,
            steps_per_year=v.sim.steps_per_year,
            initial_wealth=v.sim.initial_wealth,
            goal=v.sim.goal,
            hist_lo=float(sketch["lo"]),
            hist_width=float(sketch["width"]),
        )
