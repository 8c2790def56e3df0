"""The headline numbers of a run: which columns the scenario calls for, and the model-risk line.

One list serves the table ``mcsim run`` prints and the table at the top of the report, so the
two never disagree. The columns follow the scenario: wealth quantiles and risk always; real
wealth beside nominal when inflation is simulated; P(success), P(ruin), the median ruin year
and the expected shortfall when there are flows or a goal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .format import format_amount, format_value

if TYPE_CHECKING:
    from ..config import Scenario
    from ..results import SimulationResult

__all__ = [
    "HeadlineColumn",
    "headline_columns",
    "headline_frame",
    "headline_table",
]


@dataclass(frozen=True, slots=True)
class HeadlineColumn:
    """One column of the headline table: a statistic of a metric of the summary.

    ``unit`` is the metric's unit ("currency", "fraction ...", "probability", "years"); the
    label of a currency column gets the scenario's currency in brackets.
    """

    metric: str
    stat: str
    label: str
    unit: str


def headline_columns(
    *,
    currency: str,
    has_inflation: bool,
    has_flows: bool,
    has_goal: bool,
    risk_free: str | None = None,
) -> list[HeadlineColumn]:
    """The headline columns a scenario calls for, in the order they are shown.

    Parameters
    ----------
    currency : str
        The scenario's ``[simulation].currency`` (shown in the labels of amounts).
    has_inflation : bool
        Inflation is simulated: the median real terminal wealth is shown beside the nominal.
    has_flows : bool
        The scenario has cash flows or a goal: P(success), P(ruin), the median ruin year
        (of paths that ran out) and the expected shortfall (mean of the worst 5 % of
        terminal wealth) are shown.
    has_goal : bool
        The scenario has a goal: the mean shortfall against it is shown too.
    risk_free : str, optional
        The scenario's ``[simulation].risk_free`` asset: the Sharpe and Sortino labels say
        they are against it (``"Sharpe vs cash"``); without one they are against 0.
    """
    c = f" ({currency})"
    vs = f" vs {risk_free}" if risk_free is not None else ""
    cols = [
        HeadlineColumn("terminal_wealth", "mean", f"mean wealth{c}", "currency"),
        HeadlineColumn("terminal_wealth", "p05", "p5 wealth", "currency"),
        HeadlineColumn("terminal_wealth", "p50", "median", "currency"),
        HeadlineColumn("terminal_wealth", "p95", "p95 wealth", "currency"),
    ]
    if has_inflation:
        cols.append(HeadlineColumn("real_terminal_wealth", "p50", "median real", "currency"))
    if has_flows:
        cols += [
            HeadlineColumn("goal_met", "mean", "P(success)", "probability"),
            HeadlineColumn("ruined", "mean", "P(ruin)", "probability"),
            HeadlineColumn("ruin_year", "p50", "median ruin yr", "years"),
            HeadlineColumn("terminal_wealth", "cvar05", "ES 5% wealth", "currency"),
        ]
        if has_goal:
            cols.append(HeadlineColumn("goal_shortfall", "mean", "mean shortfall", "currency"))
    cols += [
        HeadlineColumn("cagr", "mean", "CAGR", "fraction per year"),
        HeadlineColumn("volatility", "mean", "vol", "fraction per year"),
        HeadlineColumn("max_drawdown", "p50", "median maxDD", "fraction"),
        HeadlineColumn("max_drawdown", "p95", "p95 maxDD", "fraction"),
        HeadlineColumn("sharpe", "p50", f"Sharpe{vs}", "ratio"),
        HeadlineColumn("sortino", "p50", f"Sortino{vs}", "ratio"),
        HeadlineColumn("calmar", "p50", "Calmar", "ratio"),
        HeadlineColumn("turnover", "mean", "turnover/yr", "fraction per year"),
        HeadlineColumn("costs", "mean", "costs", "currency"),
        HeadlineColumn("loss", "mean", "P(loss)", "probability"),
    ]
    return cols


def _cell(x: float, unit: str) -> str:
    if pd.isna(x):
        return "-"
    if unit == "currency":
        return format_amount(float(x))
    return format_value(float(x), unit)


def headline_table(result: SimulationResult) -> pd.DataFrame:
    """The headline table of a run: one row per policy, formatted cells (str).

    A statistic that is undefined (the median ruin year when no path ran out) is ``-``.
    """
    return headline_frame(
        result.scenario,
        result.summary,
        list(result.policy_names),
        has_inflation=result.inflation_series is not None,
    )


def headline_frame(
    scenario: Scenario, summary: pd.DataFrame, policies: list[str], *, has_inflation: bool
) -> pd.DataFrame:
    """:func:`headline_table` from its parts: a scenario, a run's summary and its policies."""
    sim = scenario.simulation
    cols = headline_columns(
        currency=sim.currency,
        has_inflation=has_inflation,
        has_flows=len(scenario.flows) > 0 or sim.goal is not None,
        has_goal=sim.goal is not None,
        risk_free=sim.risk_free,
    )
    rows = {
        pol: {col.label: _cell(summary.loc[(pol, col.metric), col.stat], col.unit) for col in cols}
        for pol in policies
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")
