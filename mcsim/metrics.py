"""What a run measures on each path: the metric table, and the metrics policies declare.

Every policy reports the base metrics (:data:`METRICS`), which the path kernel computes into
fixed columns of its output. A policy can declare one event metric of its own (CPPI counts
its floor breaches) as a class attribute ``event_metric = EventMetric(...)``; the kernel
reports the count the rule keeps in its state slot 0 in the event column. :func:`run_metrics`
builds the table of a run from both, so results, files and reports list a policy's metric
without any of them naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from .kernels import layout

__all__ = [
    "COMPARED",
    "EVENT_COLUMN",
    "METRICS",
    "QUANTILES",
    "QUANTILE_LABELS",
    "EventMetric",
    "MetricInfo",
    "cvar",
    "declared_event_metric",
    "run_metrics",
]


@dataclass(frozen=True, slots=True)
class EventMetric:
    """A count a policy keeps along each path, declared on the policy class.

    The report gives every declared event metric that occurred on some path a section of
    its own (a table of how often and how much); the keyword fields word that section.

    Parameters
    ----------
    name : str
        Column name in results (a Python identifier, unique among metrics).
    description : str
        One line for tables and reports.
    unit : str
        Unit of the value ("count" for a number of steps).
    higher_is_better : bool
        Direction of a better outcome (CVaR takes the worst tail on the other side).
    title : str, optional
        Heading of the report's section (default: ``description``).
    anchor : str, optional
        The section's id in the page (default: ``name``).
    intro : str, optional
        The sentence under the heading (default: ``description`` and a full stop).
    occurrence : str, optional
        One occurrence, as in "Paths with a breach" (default: "an event").
    count_label : str, optional
        What the value counts, as in "Steps below floor (mean)" (default: ``description``).
    """

    name: str
    description: str
    unit: str
    higher_is_better: bool
    _: KW_ONLY
    title: str = ""
    anchor: str = ""
    intro: str = ""
    occurrence: str = "an event"
    count_label: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"an event metric's name must be an identifier; got {self.name!r}")
        # Frozen: the defaults that derive from other fields are filled in once, here.
        for field_name, default in (
            ("title", self.description),
            ("anchor", self.name),
            ("intro", f"{self.description}."),
            ("count_label", self.description),
        ):
            if not getattr(self, field_name):
                object.__setattr__(self, field_name, default)


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """A per-path metric: its column in the kernel output, whether higher is better, unit.

    ``event`` is the declaration of a metric a policy declared (None for a base metric):
    policies that do not declare it report 0 in its column (see :func:`run_metrics`).
    """

    column: int
    higher_is_better: bool
    unit: str
    description: str
    event: EventMetric | None = None


# The kernel copies a policy's state slot 0 (its event count) into this column of every path.
EVENT_COLUMN = layout.M_FLOOR_BREACHES

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
    "goal_shortfall": MetricInfo(
        layout.M_GOAL_SHORTFALL, False, "currency", "Shortfall of terminal wealth against the goal"
    ),
    "goal_met": MetricInfo(
        layout.M_GOAL_MET,
        True,
        "probability",
        "Goal reached and money never ran out (1) or not (0); with no goal: never ran out",
    ),
    "sharpe": MetricInfo(
        layout.M_SHARPE,
        True,
        "ratio",
        "Sharpe ratio: annualised mean per-step excess return over its volatility, against "
        "[simulation].risk_free (0 without one)",
    ),
    "sortino": MetricInfo(
        layout.M_SORTINO,
        True,
        "ratio",
        "Sortino ratio: annualised mean per-step excess return over its downside deviation, "
        "against [simulation].risk_free (0 without one)",
    ),
    "calmar": MetricInfo(
        layout.M_CALMAR, True, "ratio", "Calmar ratio: CAGR over maximum drawdown"
    ),
}
"""The base metrics: every policy reports them, each in its own kernel column.

The risk-adjusted ratios are per path and annualised. Sharpe and Sortino are of excess
returns over the scenario's risk-free asset, ``[simulation].risk_free`` (an asset such as
``"cash"``: its simulated return on the same path and step), or against 0 without one (the
default). With ``r_t`` the per-step returns of the unit value over the ``n`` steps until the
horizon (or ruin), ``rf_t`` the risk-free asset's return of the step (0 without one), ``e_t =
r_t - rf_t``, ``f`` steps per year and ``m = mean(e_t)``:

* ``sharpe = m f / (std(e_t, ddof=1) sqrt(f))`` (against 0 the denominator is ``volatility``);
* ``sortino = m f / sqrt(f sum(min(e_t, 0)^2) / n)``;
* ``calmar = cagr / max_drawdown`` (-1 on a ruined path), never against the risk-free asset.

A ratio with a zero denominator (a riskless path, no losing step, no drawdown) is NaN and is
left out of the summary's statistics.
"""

QUANTILES = (0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99)
QUANTILE_LABELS = tuple(f"p{round(q * 100):02d}" for q in QUANTILES)
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


def declared_event_metric(policy: Any) -> EventMetric | None:
    """The event metric a policy (or policy class) declares, or None."""
    cls = policy if isinstance(policy, type) else type(policy)
    declared = getattr(cls, "event_metric", None)
    if declared is not None and not isinstance(declared, EventMetric):
        raise TypeError(
            f"{cls.__name__}.event_metric must be an EventMetric; got {type(declared).__name__}"
        )
    return declared


def run_metrics(policies: Iterable[Any]) -> dict[str, MetricInfo]:
    """The metric table of a run of ``policies``: base metrics, then declared event metrics.

    Parameters
    ----------
    policies : iterable of policies or policy classes
        Each may declare an event metric (class attribute ``event_metric``).

    Returns
    -------
    dict of str to MetricInfo
        Ordered by kernel column (event metrics sit at :data:`EVENT_COLUMN`, in the order
        first declared), so a table's columns do not depend on the order of its policies.

    Raises
    ------
    ValueError
        When two declarations share a name but differ, or an event metric takes the name
        of a base metric.
    """
    events: dict[str, EventMetric] = {}
    for p in policies:
        e = declared_event_metric(p)
        if e is None:
            continue
        if e.name in METRICS:
            raise ValueError(f"event metric {e.name!r} takes the name of a base metric")
        if events.setdefault(e.name, e) != e:
            raise ValueError(f"two policies declare different event metrics named {e.name!r}")
    table = [(info.column, 0, name, info) for name, info in METRICS.items()]
    table += [
        (
            EVENT_COLUMN,
            1 + i,
            e.name,
            MetricInfo(EVENT_COLUMN, e.higher_is_better, e.unit, e.description, e),
        )
        for i, e in enumerate(events.values())
    ]
    return {name: info for _, _, name, info in sorted(table, key=lambda t: t[:2])}


def cvar(values: np.ndarray, level: float, higher_is_better: bool) -> float:
    """Mean of the worst ``level`` fraction of outcomes (expected shortfall)."""
    x = np.sort(values[np.isfinite(values)])
    if x.size == 0:
        return float("nan")
    k = max(1, int(np.ceil(level * x.size)))
    tail = x[:k] if higher_is_better else x[-k:]
    return float(tail.mean())
