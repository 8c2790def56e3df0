"""How a result shows itself in a notebook: the compact HTML of ``_repr_html_``.

The tables are the report's own (:mod:`mcsim.report.tables`), so the numbers read the same in
a notebook cell, in ``report.html`` and in ``mcsim run``'s output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .report.format import esc
from .report.tables import comparison_table, summary_table

if TYPE_CHECKING:
    from .results import SimulationResult

__all__ = ["COMPACT_COMPARED", "result_html"]

COMPACT_COMPARED = ("terminal_wealth", "cagr", "max_drawdown")
"""Metrics of the paired comparison shown in a notebook (``result.comparison`` has them all)."""

_STYLE = (
    "<style>.mcsim-result table{border-collapse:collapse;font-size:12px;margin:4px 0 10px}"
    ".mcsim-result th,.mcsim-result td{padding:2px 8px;border-bottom:1px solid #ddd}"
    ".mcsim-result td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".mcsim-result td.label{text-align:left}"
    ".mcsim-result tr.baseline td{font-weight:600}"
    ".mcsim-result .caption{color:#555;font-size:12px}</style>"
)


def result_html(result: SimulationResult) -> str:
    """The run as compact HTML: one line on what was run, the summary table and, with two
    policies or more, the paired comparison against the baseline."""
    sim = result.scenario.simulation
    policies = list(result.policy_names)
    parts = [
        _STYLE,
        '<div class="mcsim-result">',
        f"<b>{esc(result.scenario.name)}</b>: {sim.n_paths:,} paths x {sim.n_steps} steps "
        f"({sim.horizon_years:g} years, {sim.steps_per_year}/year), "
        f"{len(policies)} {'policy' if len(policies) == 1 else 'policies'}, "
        f"baseline {esc(result.baseline)}",
        summary_table(result.summary, policies, result.baseline, result.metric_table).to_html(),
    ]
    if len(policies) > 1:
        parts.append(
            '<div class="caption">Paired against the baseline on the same paths '
            "(mean difference and 95 % interval):</div>"
        )
        parts.append(
            comparison_table(
                result.comparison, COMPACT_COMPARED, result.metric_table, policies, result.baseline
            ).to_html()
        )
    parts.append(
        '<div class="caption">result.summary, result.comparison and result.paths hold every '
        "metric; result.plot draws the figures.</div></div>"
    )
    return "".join(parts)
