"""The report's HTML tables: summary, comparison, costs, taxes, flows, policy-declared
events, model check, model parameters and policies, each a function of the frames it shows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..metrics import EventMetric, MetricInfo
from .format import (
    COST_LABELS,
    METRIC_LABELS,
    esc,
    format_value,
    param_number,
    rounded,
    short,
    to_json,
)

if TYPE_CHECKING:
    from ..policies.base import Policy

__all__ = [
    "Table",
    "comparison_table",
    "costs_table",
    "event_table",
    "flows_table",
    "key_value_table",
    "model_check_table",
    "model_params_html",
    "policies_html",
    "summary_table",
    "taxes_table",
]


@dataclass
class Table:
    """A formatted table: header rows of (text, colspan), body rows of cells.

    ``first_col_left`` leading columns are labels (left-aligned), the rest numbers.
    """

    header: list[list[tuple[str, int]]]
    rows: list[list[str]]
    row_classes: list[str] = field(default_factory=list)
    first_col_left: int = 1

    def to_html(self, css_class: str = "data") -> str:
        """The table as one HTML ``<table>`` element, every cell escaped."""
        out = [f'<table class="{css_class}"><thead>']
        for hrow in self.header:
            cells = "".join(
                f'<th colspan="{span}">{esc(text)}</th>' if span > 1 else f"<th>{esc(text)}</th>"
                for text, span in hrow
            )
            out.append(f"<tr>{cells}</tr>")
        out.append("</thead><tbody>")
        for i, row in enumerate(self.rows):
            cls = self.row_classes[i] if i < len(self.row_classes) else ""
            cells = "".join(
                f'<td class="{"label" if j < self.first_col_left else "num"}">{esc(c)}</td>'
                for j, c in enumerate(row)
            )
            out.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
        out.append("</tbody></table>")
        return "".join(out)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, float):
        return [(prefix, f"{float(f'{value:.6g}'):g}")]
    return [(prefix, short(value))]


def key_value_table(
    value: Mapping[str, Any], header: tuple[str, str] = ("Setting", "Value")
) -> str:
    """A nested mapping as a two-column HTML table, nested keys joined by dots
    (``per_asset.us_stocks_tr.proportional_bps``); floats to 6 significant digits."""
    rows = [[k, v] for k, v in _flatten(value)]
    t = Table([[(header[0], 1), (header[1], 1)]], rows)
    t.first_col_left = 2
    return t.to_html("data compact kv")


def _stat(summary: pd.DataFrame, policy: str, metric: str, column: str) -> float:
    return float(summary.loc[(policy, metric), column])


def _policy_label(policy: str, baseline: str) -> str:
    return policy + (" (baseline)" if policy == baseline else "")


def _row_classes(policies: Sequence[str], baseline: str) -> list[str]:
    return ["baseline" if p == baseline else "" for p in policies]


def summary_table(
    summary: pd.DataFrame,
    policies: Sequence[str],
    baseline: str,
    metric_info: Mapping[str, MetricInfo],
    currency: str = "currency",
) -> Table:
    """Terminal wealth quantiles (labelled with ``currency``) and the mean of the main
    metrics, one row per policy."""
    tw = [("mean", "Mean"), ("p05", "5th pct"), ("p50", "Median"), ("p95", "95th pct")]
    tw.append(("cvar05", "CVaR 5%"))
    means = [
        ("cagr", "CAGR"),
        ("volatility", "Volatility"),
        ("max_drawdown", "Max drawdown"),
        ("turnover", "Turnover / yr"),
        ("costs", "Costs"),
        ("loss", "P(loss)"),
    ]
    header = [
        [("", 1), (f"Terminal wealth ({currency})", len(tw)), ("Mean per path", len(means))],
        [("Policy", 1), *[(t, 1) for _, t in tw], *[(t, 1) for _, t in means]],
    ]
    rows = []
    for pol in policies:
        row = [_policy_label(pol, baseline)]
        row += [format_value(_stat(summary, pol, "terminal_wealth", c), "currency") for c, _ in tw]
        for m, _ in means:
            row.append(format_value(_stat(summary, pol, m, "mean"), metric_info[m].unit))
        rows.append(row)
    return Table(header, rows, _row_classes(policies, baseline))


def comparison_table(
    comparison: pd.DataFrame,
    metrics: Sequence[str],
    metric_info: Mapping[str, MetricInfo],
    policies: Sequence[str],
    baseline: str,
) -> Table:
    """Paired differences against the baseline per policy and metric, with a verdict.

    The verdict is *better* or *worse* when the 95 % interval excludes zero, *same* when both
    ends are zero and *unclear* otherwise.
    """
    header = [
        [
            ("Policy", 1),
            ("Metric", 1),
            ("Mean difference", 1),
            ("95% CI", 1),
            ("P(higher)", 1),
            ("P(lower)", 1),
            ("Verdict", 1),
        ]
    ]
    rows = []
    classes = []
    for pol in policies:
        if pol == baseline:
            continue
        for k, m in enumerate(metrics):
            row = comparison.loc[(pol, m)]
            unit = metric_info[m].unit
            lo, hi = float(row["ci95_low"]), float(row["ci95_high"])
            good_side = 1 if metric_info[m].higher_is_better else -1
            if lo > 0 or hi < 0:
                verdict = "better" if (lo > 0) == (good_side > 0) else "worse"
            elif lo == hi == 0:
                verdict = "same"
            else:
                verdict = "unclear"
            rows.append(
                [
                    pol if k == 0 else "",
                    METRIC_LABELS.get(m, m),
                    format_value(float(row["mean_diff"]), unit, signed=True),
                    f"{format_value(lo, unit, signed=True)} to "
                    f"{format_value(hi, unit, signed=True)}",
                    format_value(float(row["prob_higher"]), "probability"),
                    format_value(float(row["prob_lower"]), "probability"),
                    verdict,
                ]
            )
            classes.append(("group-start " if k == 0 else "") + f"verdict-{verdict}")
    return Table(header, rows, classes, first_col_left=2)


def costs_table(
    summary: pd.DataFrame, parts: Sequence[str], policies: Sequence[str], baseline: str
) -> Table:
    """Mean cost of each kind in ``parts``, total cost and rebalances, one row per policy."""
    header = [
        [
            ("Policy", 1),
            *[(COST_LABELS[p].capitalize(), 1) for p in parts],
            ("Total (mean)", 1),
            ("Total (95th pct)", 1),
            ("Rebalances (mean)", 1),
        ]
    ]
    rows = []
    for pol in policies:
        rows.append(
            [
                _policy_label(pol, baseline),
                *[format_value(_stat(summary, pol, p, "mean"), "currency") for p in parts],
                format_value(_stat(summary, pol, "costs", "mean"), "currency"),
                format_value(_stat(summary, pol, "costs", "p95"), "currency"),
                format_value(_stat(summary, pol, "n_rebalances", "mean"), "count"),
            ]
        )
    return Table(header, rows, _row_classes(policies, baseline))


def taxes_table(summary: pd.DataFrame, policies: Sequence[str], baseline: str) -> Table:
    """Taxes paid, after-tax wealth and realised gains and losses, one row per policy."""
    cols = [
        ("taxes", "mean", "Taxes (mean)"),
        ("taxes", "p95", "Taxes (95th pct)"),
        ("after_tax_wealth", "p05", "After-tax wealth 5th pct"),
        ("after_tax_wealth", "p50", "After-tax wealth median"),
        ("after_tax_wealth", "mean", "After-tax wealth mean"),
        ("realised_gains", "mean", "Realised gains (mean)"),
        ("harvested_losses", "mean", "Harvested losses (mean)"),
    ]
    header = [[("Policy", 1), *[(t, 1) for _, _, t in cols]]]
    rows = [
        [_policy_label(pol, baseline)]
        + [format_value(_stat(summary, pol, m, c), "currency") for m, c, _ in cols]
        for pol in policies
    ]
    return Table(header, rows, _row_classes(policies, baseline))


def flows_table(
    summary: pd.DataFrame, policies: Sequence[str], baseline: str, *, has_goal: bool
) -> Table:
    """Success, goal, ruin year, net flows and real wealth, one row per policy."""

    def stat(metric: str, column: str, unit: str) -> Callable[[str], str]:
        return lambda p: format_value(_stat(summary, p, metric, column), unit)

    cols: list[tuple[str, Callable[[str], str]]] = [
        (
            "P(success)",
            lambda p: format_value(1.0 - _stat(summary, p, "ruined", "mean"), "probability"),
        ),
    ]
    if has_goal:
        cols.append(("P(goal met)", stat("goal_met", "mean", "probability")))
    cols += [
        ("Ruin year (median, if ruined)", stat("ruin_year", "p50", "years")),
        ("Net flows (mean)", stat("flows", "mean", "currency")),
        ("Real terminal wealth 5th pct", stat("real_terminal_wealth", "p05", "currency")),
        ("Real terminal wealth median", stat("real_terminal_wealth", "p50", "currency")),
    ]
    if has_goal:
        cols += [
            ("Goal shortfall (mean)", stat("goal_shortfall", "mean", "currency")),
            ("Goal shortfall (95th pct)", stat("goal_shortfall", "p95", "currency")),
        ]
    header = [[("Policy", 1), *[(t, 1) for t, _ in cols]]]
    rows = [[_policy_label(p, baseline)] + [f(p) for _, f in cols] for p in policies]
    return Table(header, rows, _row_classes(policies, baseline))


def event_table(
    values: pd.DataFrame,
    summary: pd.DataFrame,
    policies: Sequence[str],
    baseline: str,
    name: str,
    event: EventMetric,
) -> Table:
    """How often and how much a policy-declared event metric occurred, per policy.

    ``values`` is the metric ``name`` per path and policy (path x policy); ``event`` its
    declaration, which words the headers (for CPPI: "Paths with a breach", "Steps below
    floor (mean)").
    """
    header = [
        [
            ("Policy", 1),
            (f"Paths with {event.occurrence}", 1),
            (f"{event.count_label} (mean)", 1),
            (f"{event.count_label} (95th pct)", 1),
            (f"{event.count_label} (max)", 1),
        ]
    ]
    rows = []
    for pol in policies:
        x = values[pol].to_numpy()
        x = x[np.isfinite(x)]
        share = float((x > 0).mean()) if x.size else float("nan")
        rows.append(
            [
                _policy_label(pol, baseline),
                format_value(share, "probability"),
                f"{_stat(summary, pol, name, 'mean'):.2f}",
                format_value(_stat(summary, pol, name, "p95"), event.unit),
                format_value(float(x.max()) if x.size else float("nan"), event.unit),
            ]
        )
    return Table(header, rows, _row_classes(policies, baseline))


def model_check_table(table: pd.DataFrame) -> Table:
    """A model-check table (:func:`mcsim.model_check.model_check`), rows outside in red."""
    header = [
        [
            ("Statistic", 1),
            ("Series", 1),
            ("History", 1),
            ("Simulated 5th pct", 1),
            ("Simulated median", 1),
            ("Simulated 95th pct", 1),
            ("Inside 5–95 %", 1),
        ]
    ]
    rows = []
    classes = []
    for (stat, series), row in table.iterrows():
        inside = bool(row["inside_90"])
        rows.append(
            [
                str(stat),
                str(series),
                *[f"{float(row[c]):.4f}" for c in ("history", "sim_p05", "sim_median", "sim_p95")],
                "yes" if inside else "no",
            ]
        )
        classes.append("" if inside else "verdict-worse")
    return Table(header, rows, classes, first_col_left=2)


def _number_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    )


def _number_table(value: Any) -> bool:
    """A non-empty list of equal-length lists of numbers."""
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(_number_list(r) and len(r) > 0 for r in value)
        and len({len(r) for r in value}) == 1
    )


# Per-series parameters that are annual fractions: shown in percent.
_PERCENT_PARAMS = frozenset({"mu", "vol", "mean", "means", "vols", "dividend_yield"})


def model_params_html(params: Mapping[str, Any], series_names: Sequence[str]) -> str:
    """Model parameters: per-series lists and matrices as tables, the rest as a list.

    Lists with one number per series share one table; square per-series matrices
    (``corr``) and other numeric tables (per-regime means, a transition matrix) get a
    table each; scalars are listed; nested records (fit summaries) go in a folded block.
    Series are named by ``params["assets"]``, else by ``series_names``.
    """
    names = [str(s) for s in params.get("assets") or series_names]
    n = len(names)
    per_series: dict[str, list[float]] = {}
    tables: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("kind", "assets"):
            continue
        if _number_list(value) and n and len(value) == n:
            per_series[key] = [float(v) for v in value]
        elif _number_table(value):
            tables[key] = np.asarray(value, dtype=float)
        elif value is None or isinstance(value, (str, bool, int, float)):
            scalars[key] = value
        else:
            other[key] = value
    out = []
    labels = {"mu": "mean (annual, %)", "vol": "volatility (annual, %)"}
    if per_series:
        header = [[("Series", 1), *[(labels.get(k, k), 1) for k in per_series]]]
        rows = [
            [s]
            + [
                f"{100 * v[i]:.2f}" if k in _PERCENT_PARAMS else param_number(v[i])
                for k, v in per_series.items()
            ]
            for i, s in enumerate(names)
        ]
        out.append(Table(header, rows).to_html("data compact"))
    for key, mat in tables.items():
        n_rows, n_cols = mat.shape
        cols = names if n_cols == n else [str(j) for j in range(n_cols)]
        rows_lab = names if n_rows == n_cols == n else [f"{key}[{i}]" for i in range(n_rows)]
        header = [[(key, 1), *[(c, 1) for c in cols]]]
        rows = [[rows_lab[i]] + [param_number(v) for v in mat[i]] for i in range(n_rows)]
        out.append(Table(header, rows).to_html("data compact"))
    if scalars:
        lis = "".join(
            f"<li><b>{esc(k)}</b>: {esc(param_number(v) if isinstance(v, float) else v)}</li>"
            for k, v in scalars.items()
        )
        out.append(f"<ul class='plain'>{lis}</ul>")
    if other:
        out.append(
            "<details class='more'><summary>More model parameters</summary>"
            f"<pre>{esc(to_json(rounded(other)))}</pre></details>"
        )
    return "".join(out)


def policies_html(policies: Sequence[Policy], baseline: str) -> str:
    """The scenario's policies: name, kind and settings, the baseline marked."""
    header = [[("Policy", 1), ("Kind", 1), ("Settings", 1)]]
    rows = []
    for p in policies:
        d = p.to_dict()
        settings = ", ".join(f"{k} = {short(v)}" for k, v in d.items() if k not in ("name", "kind"))
        rows.append([_policy_label(p.name, baseline), str(d.get("kind", p.kind)), settings])
    t = Table(header, rows, ["baseline" if r[0].endswith("(baseline)") else "" for r in rows])
    t.first_col_left = 3
    return t.to_html("data compact policies")
