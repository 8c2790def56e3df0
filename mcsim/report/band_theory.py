"""Views of a band study (:func:`mcsim.optimize.optimize_band`): the optimal band found by the
search against the asymptotic no-trade band formula across costs, on log-log axes so the
cube-root law reads as a slope, the objective curves the optimum was read from, and the
standalone page ``mcsim optimize-band --out`` writes (``band_theory.html``).

Nothing here searches or simulates: the views take the study's tables.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .format import FONT

__all__ = ["band_curves_figure", "band_theory_figure", "band_theory_page"]

_LAYOUT = {
    "template": "plotly_white",
    "height": 460,
    "font": {"family": FONT, "size": 12, "color": "#222"},
}


def band_theory_figure(
    table: pd.DataFrame,
    *,
    slope: float | None = None,
    slope_se: float | None = None,
    intercept: float | None = None,
) -> go.Figure:
    """Optimal band half-width against the proportional cost, log-log, next to the formula.

    Parameters
    ----------
    table : DataFrame
        :attr:`mcsim.optimize.BandStudy.table`: ``cost_bps``, ``optimal_band``,
        ``optimal_band_se`` and ``theory_band`` (NaN when the formula does not apply).
    slope, slope_se, intercept : float, optional
        The fitted ``log band = intercept + slope log cost`` (cost as a fraction, as
        :class:`mcsim.band_theory.PowerLawFit` gives it); drawn as a dashed line when given.

    Returns
    -------
    plotly.graph_objects.Figure
        The search's optima with 1-SE error bars (trace ``"optimal band (search)"``), the
        formula (``"no-trade band formula"``, only where it applies) and the fitted power law.
    """
    cost = table["cost_bps"].to_numpy(dtype=float)
    found = table["optimal_band"].to_numpy(dtype=float)
    se = table["optimal_band_se"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=cost,
            y=found,
            error_y={"type": "data", "array": se, "visible": True},
            mode="markers",
            marker={"size": 9, "color": "#4c72b0"},
            name="optimal band (search)",
            hovertemplate="cost %{x:g} bp<br>band %{y:.4f}<extra>search</extra>",
        )
    )
    theory = table["theory_band"].to_numpy(dtype=float)
    ok = np.isfinite(theory)
    if ok.any():
        fig.add_trace(
            go.Scatter(
                x=cost[ok],
                y=theory[ok],
                mode="lines+markers",
                line={"color": "#d62728"},
                marker={"symbol": "x", "size": 8},
                name="no-trade band formula (cost^(1/3))",
                hovertemplate="cost %{x:g} bp<br>band %{y:.4f}<extra>formula</extra>",
            )
        )
    if slope is not None and intercept is not None:
        xs = np.geomspace(cost.min(), cost.max(), 50)
        label = f"fit: band ~ cost^{slope:.3f}"
        if slope_se is not None:
            label += f" ± {slope_se:.3f}"
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=np.exp(intercept + slope * np.log(xs / 1e4)),
                mode="lines",
                line={"color": "#4c72b0", "dash": "dash"},
                name=label,
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(type="log", title="proportional cost per trade (bp of the value traded)")
    fig.update_yaxes(type="log", title="no-trade band half-width (weight)")
    fig.update_layout(
        title={"text": "Optimal band against the cube-root law", "x": 0.01}, **_LAYOUT
    )
    return fig


def band_curves_figure(curves: pd.DataFrame) -> go.Figure:
    """Certainty-equivalent wealth against band width, one line per cost, relative to its best.

    Parameters
    ----------
    curves : DataFrame
        :attr:`mcsim.optimize.BandStudy.curves`: ``cost_bps``, ``band``,
        ``certainty_equivalent_wealth``.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per cost, in basis points of CE wealth below that cost's best band.
    """
    fig = go.Figure()
    for cost, part in curves.groupby("cost_bps", sort=True):
        part = part.sort_values("band")
        ce = part["certainty_equivalent_wealth"].to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=part["band"],
                y=1e4 * (ce / ce.max() - 1.0),
                mode="lines+markers",
                marker={"size": 5},
                name=f"{cost:g} bp",
                hovertemplate="band %{x:.4f}<br>%{y:.2f} bp<extra>" + f"{cost:g} bp</extra>",
            )
        )
    fig.update_xaxes(type="log", title="band half-width (weight)")
    fig.update_yaxes(title="CE wealth below the best band of that cost (bp)")
    fig.update_layout(
        title={"text": "Certainty equivalent over the bands searched", "x": 0.01}, **_LAYOUT
    )
    return fig


def band_theory_page(
    table: pd.DataFrame,
    curves: pd.DataFrame,
    *,
    title: str,
    lines: Sequence[str],
    slope: float | None = None,
    slope_se: float | None = None,
    intercept: float | None = None,
) -> str:
    """A self-contained HTML page of a band study (``band_theory.html``).

    Parameters
    ----------
    table, curves : DataFrame
        :attr:`mcsim.optimize.BandStudy.table` and ``curves``.
    title : str
        Page title and heading.
    lines : sequence of str
        The study as text (:meth:`mcsim.optimize.BandStudy.lines`), shown preformatted.
    slope, slope_se, intercept : float, optional
        The fitted power law (see :func:`band_theory_figure`).

    Returns
    -------
    str
        The page, with plotly.js embedded once.
    """
    theory = band_theory_figure(table, slope=slope, slope_se=slope_se, intercept=intercept)
    search = band_curves_figure(curves)
    note = (
        "The formula is the leading-order no-trade half-width of a CRRA investor with small "
        "proportional costs, h = (3 / (2 gamma) &middot; eps &middot; pi*<sup>2</sup> "
        "(1 - pi*)<sup>2</sup>)<sup>1/3</sup> (Gerhold, Guasoni, Muhle-Karbe and "
        "Schachermayer 2014, <i>Finance and Stochastics</i> 18), with eps the cost of both "
        "legs of a rebalance; on log-log axes it is a line of slope 1/3. See "
        "docs/choosing.md."
    )
    if not np.isfinite(table["theory_band"].to_numpy(dtype=float)).any():
        note += (
            " This market is not two-asset lognormal with one nearly safe asset, so the "
            "formula is not drawn."
        )
    table_html = table.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ padding: 2px 10px; text-align: right; }}
tr:nth-child(even) {{ background: #f4f6f8; }}
pre {{ background: #f4f6f8; padding: 1em; overflow-x: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{note}</p>
{theory.to_html(full_html=False, include_plotlyjs=True, div_id="fig-band-theory")}
{search.to_html(full_html=False, include_plotlyjs=False, div_id="fig-band-curves")}
<h2>Table</h2>
{table_html}
<pre>{html.escape(chr(10).join(lines), quote=False)}</pre>
</body></html>
"""
