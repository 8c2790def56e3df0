"""Report section of choosing a policy: the ranking, the honest winner, and for a sweep the
objective over the grid (heatmaps) and the frontiers of certainty equivalent against costs
and against the 95th percentile of the maximum drawdown."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .format import FONT, esc, format_value
from .section import Section
from .tables import Table

if TYPE_CHECKING:
    from ..sweeps import SweepConfig
    from .view import ReportView

__all__ = [
    "RANKING_SHOWN",
    "choose_figure_builders",
    "choose_figures",
    "choose_sections",
    "frontier_figure",
    "grid_points",
    "objective_heatmap_figure",
    "ranking_html_table",
]

RANKING_SHOWN = 10
"""Policies shown per risk aversion in the ranking table (the baseline is always added)."""

_OBJECTIVE_LABELS = {
    "certainty_equivalent": "certainty-equivalent wealth",
    "goal_probability": "P(goal met)",
    "cvar": "CVaR",
}


def grid_points(sweeps: Sequence[SweepConfig], point_names: Sequence[str]) -> pd.DataFrame:
    """The swept value of every grid point, by point name.

    Parameters
    ----------
    sweeps : sequence of SweepConfig
        The run's ``[[sweeps]]`` tables, in order.
    point_names : sequence of str
        Every grid point, in run order (as :class:`mcsim.choose.SweepOutcome` gives them):
        each sweep's points in grid order, the last field varying fastest.

    Returns
    -------
    DataFrame
        Index ``policy`` (the point names); columns ``sweep`` (its position among the
        sweeps) and one per swept field (NaN/None where a sweep does not vary it).
    """
    rows = []
    for i, sweep in enumerate(sweeps):
        fields = [f for f, _ in sweep.grid]
        for combo in itertools.product(*(values for _, values in sweep.grid)):
            rows.append({"sweep": i, **dict(zip(fields, combo, strict=True))})
    if len(rows) != len(point_names):
        raise ValueError(f"{len(point_names)} point names for {len(rows)} grid points.")
    return pd.DataFrame(rows, index=pd.Index(list(point_names), name="policy"))


def ranking_html_table(ranking: pd.DataFrame, baseline: str, winner: str | None) -> Table:
    """The ranking as the report shows it: per risk aversion, the best policies and the baseline.

    Parameters
    ----------
    ranking : DataFrame
        :attr:`mcsim.SimulationResult.ranking`.
    baseline : str
        The policy fee equivalents are measured against (always shown).
    winner : str, optional
        The chosen policy, marked in the table.
    """
    rows, classes = [], []
    for g, part in ranking.groupby("risk_aversion", sort=False):
        part = part.sort_values("rank")
        shown = part.head(RANKING_SHOWN)
        base = part.loc[part["policy"] == baseline]
        if not base.empty and baseline not in set(shown["policy"]):
            shown = pd.concat([shown, base])
        for r in shown.itertuples():
            label = r.policy + (" (baseline)" if r.policy == baseline else "")
            if r.policy == winner:
                label += " (winner)"
            rows.append(
                [
                    f"{g:g}",
                    label,
                    str(int(r.rank)),
                    format_value(r.certainty_equivalent_wealth, "currency"),
                    format_value(r.certainty_equivalent_wealth_se, "currency"),
                    format_value(r.certainty_equivalent_return, "fraction"),
                    f"{r.certainty_fee_equivalent_bp:+.1f}",
                    f"[{r.certainty_fee_equivalent_bp_ci_low:+.1f}, "
                    f"{r.certainty_fee_equivalent_bp_ci_high:+.1f}]",
                ]
            )
            classes.append("baseline" if r.policy == baseline else "")
    header = [
        [
            ("risk aversion", 1),
            ("policy", 1),
            ("rank", 1),
            ("CE wealth", 1),
            ("± s.e.", 1),
            ("CE return", 1),
            ("fee equivalent, bp/yr", 1),
            ("95 % interval", 1),
        ]
    ]
    return Table(header, rows, row_classes=classes, first_col_left=2)


def _objective(ranking: pd.DataFrame) -> tuple[pd.Series, str]:
    """The objective of each policy at the first risk aversion (the one the winner uses)."""
    g = ranking["risk_aversion"].iloc[0]
    part = ranking.loc[ranking["risk_aversion"] == g].set_index("policy")
    objective = str(part["objective"].iloc[0]) if "objective" in part else "certainty_equivalent"
    label = _OBJECTIVE_LABELS.get(objective, objective)
    return part["objective_value"], f"{label} (risk aversion {g:g})"


def _axis_text(values: Sequence[Any]) -> list[str]:
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in values]


def objective_heatmap_figure(
    ranking: pd.DataFrame,
    points: pd.DataFrame,
    x: str,
    y: str,
    *,
    winner: str | None = None,
    title: str = "",
) -> go.Figure:
    """The objective over two swept fields of one sweep.

    A cell holds the best objective among the grid points with that pair of values (the
    other swept fields at their best), so a sweep of three fields still reads as one map.

    Parameters
    ----------
    ranking : DataFrame
        :attr:`mcsim.SimulationResult.ranking`.
    points : DataFrame
        The sweep's grid points (the rows of :func:`grid_points` of one sweep).
    x, y : str
        The swept fields on the horizontal and vertical axes.
    winner : str, optional
        The chosen policy, marked with a star when it is one of these points.
    title : str
        The figure's title.
    """
    value, label = _objective(ranking)
    frame = points[[x, y]].copy()
    frame["value"] = value.reindex(frame.index).to_numpy()
    best = frame.groupby([y, x], sort=False)["value"].max()
    xs = list(dict.fromkeys(points[x]))
    ys = list(dict.fromkeys(points[y]))
    z = np.full((len(ys), len(xs)), np.nan)
    for (yv, xv), v in best.items():
        z[ys.index(yv), xs.index(xv)] = v
    x_text, y_text = _axis_text(xs), _axis_text(ys)
    fig = go.Figure(
        go.Heatmap(
            x=x_text,
            y=y_text,
            z=z,
            colorscale="Viridis",
            colorbar={"title": {"text": label, "side": "right"}},
            hovertemplate=f"{esc(x)} %{{x}}<br>{esc(y)} %{{y}}<br>%{{z:,.4g}}<extra></extra>",
            name="objective",
        )
    )
    if winner is not None and winner in points.index:
        w = points.loc[winner]
        fig.add_trace(
            go.Scatter(
                x=[x_text[xs.index(w[x])]],
                y=[y_text[ys.index(w[y])]],
                mode="markers",
                marker={"symbol": "star", "size": 16, "color": "#d62728", "line": {"width": 1}},
                name=f"winner: {winner}",
            )
        )
    fig.update_xaxes(title=x, type="category")
    fig.update_yaxes(title=y, type="category")
    fig.update_layout(
        title={"text": title or f"{label} over {x} and {y}", "x": 0.01},
        template="plotly_white",
        height=420,
        font={"family": FONT, "size": 12, "color": "#222"},
        showlegend=winner is not None and winner in points.index,
    )
    return fig


def frontier_figure(
    ranking: pd.DataFrame,
    *,
    baseline: str,
    winner: str | None = None,
    cost: str = "mean_costs",
) -> go.Figure:
    """Certainty-equivalent wealth against a cost or risk: one point per policy or grid point.

    Parameters
    ----------
    ranking : DataFrame
        :attr:`mcsim.SimulationResult.ranking` (its first risk aversion is drawn).
    baseline : str
        The baseline, drawn as a diamond.
    winner : str, optional
        The chosen policy, drawn as a star.
    cost : str
        The ranking column on the horizontal axis (``mean_costs``, ``mean_turnover``,
        ``mean_max_drawdown`` or ``max_drawdown_p95``; drawdowns are fractions, drawn as
        percent).
    """
    g = ranking["risk_aversion"].iloc[0]
    part = ranking.loc[ranking["risk_aversion"] == g]
    labels = {
        "mean_costs": ("mean trading costs", "costs"),
        "mean_turnover": ("mean turnover", "turnover"),
        "mean_max_drawdown": ("mean maximum drawdown", "mean maximum drawdown"),
        "max_drawdown_p95": (
            "maximum drawdown, 95th percentile of paths",
            "p95 maximum drawdown",
        ),
    }
    axis_label, short = labels.get(cost, (cost, cost))
    fig = go.Figure(
        go.Scatter(
            x=part[cost],
            y=part["certainty_equivalent_wealth"],
            mode="markers",
            marker={"size": 7, "color": "#4c72b0", "opacity": 0.7},
            text=part["policy"],
            hovertemplate="%{text}<br>%{x:,.4g}<br>CE %{y:,.0f}<extra></extra>",
            name="policies",
        )
    )
    for name, symbol, colour in ((baseline, "diamond", "#222222"), (winner, "star", "#d62728")):
        row = part.loc[part["policy"] == name]
        if name is None or row.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=row[cost],
                y=row["certainty_equivalent_wealth"],
                mode="markers",
                marker={"symbol": symbol, "size": 16, "color": colour},
                name=f"{'winner' if name == winner else 'baseline'}: {name}",
            )
        )
    fig.update_xaxes(title=axis_label, tickformat=".1%" if "drawdown" in cost else None)
    fig.update_yaxes(title=f"certainty-equivalent wealth (risk aversion {g:g})")
    fig.update_layout(
        title={"text": f"Certainty equivalent against {short}", "x": 0.01},
        template="plotly_white",
        height=420,
        font={"family": FONT, "size": 12, "color": "#222"},
    )
    return fig


def _heatmap_key(sweep: int) -> str:
    return f"choose_heatmap_{sweep}"


def _heatmap_axes(points: pd.DataFrame) -> tuple[str, str] | None:
    """The first two fields of a sweep that take more than one value, or None."""
    fields = [c for c in points.columns if c != "sweep" and points[c].nunique() > 1]
    return (fields[0], fields[1]) if len(fields) >= 2 else None


def choose_figure_builders(view: ReportView) -> dict[str, Callable[[], go.Figure]]:
    """The figures of choosing that apply to a run, by key, each a function that draws it
    (so the report can draw each one on its own and survive one that fails)."""
    if view.ranking is None or view.sweep_points is None:
        return {}
    ranking = view.ranking
    winner = view.winner.name if view.winner is not None else None
    out: dict[str, Callable[[], go.Figure]] = {}
    for i, points in view.sweep_points.groupby("sweep", sort=True):
        points = points.dropna(axis=1, how="all")
        axes = _heatmap_axes(points)
        if axes is not None:
            out[_heatmap_key(int(i))] = lambda p=points, a=axes: objective_heatmap_figure(
                ranking, p, *a, winner=winner
            )
    if "mean_costs" in ranking:
        out["choose_frontier"] = lambda: frontier_figure(
            ranking, baseline=view.baseline, winner=winner
        )
    if "max_drawdown_p95" in ranking:
        out["choose_frontier_drawdown"] = lambda: frontier_figure(
            ranking, baseline=view.baseline, winner=winner, cost="max_drawdown_p95"
        )
    return out


def choose_figures(view: ReportView) -> dict[str, go.Figure]:
    """For a sweep: per sweep of two or more fields a heatmap of the objective, and the
    frontiers of certainty equivalent against mean costs and against the p95 maximum
    drawdown (none without a sweep's ranking)."""
    return {key: build() for key, build in choose_figure_builders(view).items()}


def choose_sections(view: ReportView) -> list[Section]:
    """The "Choosing a policy" section (none without ``[decision]`` or a sweep)."""
    if view.ranking is None:
        return []
    winner = view.winner
    body = [ranking_html_table(view.ranking, view.baseline, winner.name if winner else None)]
    intro = (
        "<p>Policies ranked by the <code>[decision]</code> objective on all paths; the fee "
        "equivalent is the extra return a year the baseline would need to be worth as much to "
        f"a CRRA investor (positive: better than {esc(view.baseline)}). "
    )
    if winner is not None:
        points = view.sweep_points.index if view.sweep_points is not None else None
        intro += (
            "The winner is chosen on the paths of one half of the blocks and judged on the "
            "other half, which played no part in choosing it: "
            f"</p><p><b>{esc(winner.line(points))}</b>"
        )
    intro += "</p>"
    figures = list(choose_figure_builders(view))
    if figures:
        intro += (
            "<p>Each grid point is a policy on the very same paths. The heatmap shows the "
            "objective over two swept fields (the best over any others); the frontiers, "
            "certainty-equivalent wealth against mean costs and against the 95th percentile "
            "of the maximum drawdown, one point per policy, the winner starred.</p>"
        )
    return [Section("choose", "Choosing a policy", intro, figures, [t.to_html() for t in body])]
