"""Views of a model-check table: its figure and the standalone page ``mcsim fit`` writes.

The table comes from :func:`mcsim.model_check.model_check`; nothing here computes statistics or
simulates, so the views take the texts they show (verdict, statistic descriptions, parameters).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["model_check_figure", "model_check_page"]


def model_check_figure(table: pd.DataFrame) -> go.Figure:
    """Plotly figure of a :func:`model_check` table: one panel per statistic.

    Each panel shows, per series, the simulated 5-95 % band (a floating bar), the simulated
    median (a dash) and the historical value (a diamond: green inside the band, red outside).

    Returns
    -------
    plotly.graph_objects.Figure
        Three traces per statistic (band, median, history), in the order of the table.
    """
    stats = list(dict.fromkeys(table.index.get_level_values("statistic")))
    n_cols = min(3, len(stats))
    n_rows = math.ceil(len(stats) / n_cols)
    fig = make_subplots(
        rows=n_rows,
        cols=n_cols,
        subplot_titles=stats,
        vertical_spacing=min(0.12, 0.6 / max(n_rows - 1, 1)),
        horizontal_spacing=0.08,
    )
    for i, stat in enumerate(stats):
        sub = table.xs(stat, level="statistic")
        row, col = i // n_cols + 1, i % n_cols + 1
        x = [str(s) for s in sub.index]
        first = i == 0
        fig.add_trace(
            go.Bar(
                x=x,
                y=sub["sim_p95"] - sub["sim_p05"],
                base=sub["sim_p05"],
                name="simulated 5-95 %",
                marker_color="rgba(70, 130, 180, 0.35)",
                legendgroup="band",
                showlegend=first,
                hovertemplate="%{x}<br>5 %%: %{base:.4g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=sub["sim_median"],
                mode="markers",
                name="simulated median",
                marker={"symbol": "line-ew-open", "size": 18, "color": "steelblue"},
                legendgroup="median",
                showlegend=first,
            ),
            row=row,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=sub["history"],
                mode="markers",
                name="history",
                marker={
                    "symbol": "diamond",
                    "size": 10,
                    "color": ["seagreen" if v else "crimson" for v in sub["inside_90"]],
                },
                legendgroup="history",
                showlegend=first,
            ),
            row=row,
            col=col,
        )
    model = table.attrs.get("model", "model")
    n_paths = table.attrs.get("n_paths")
    title = f"Model check: history vs {n_paths or ''} simulated paths of the {model} model"
    fig.update_layout(
        title=" ".join(title.split()),
        height=300 * n_rows + 100,
        barmode="overlay",
        template="plotly_white",
    )
    return fig


def model_check_page(
    table: pd.DataFrame,
    *,
    title: str,
    verdict: str,
    statistics: Mapping[str, str],
    params_text: str,
) -> str:
    """A self-contained HTML page of a model check (``model_check.html`` of ``mcsim fit``).

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`mcsim.model_check.model_check` table.
    title : str
        Page title and heading.
    verdict : str
        The sentence under the heading (:func:`mcsim.model_check.verdict`).
    statistics : mapping of str to str
        Statistic names and what each measures (:data:`mcsim.path_statistics.STATISTICS`).
    params_text : str
        The fitted parameters as text, shown preformatted.

    Returns
    -------
    str
        The page, with plotly.js embedded.
    """
    fig = model_check_figure(table)
    shown = table.copy()
    shown["inside_90"] = np.where(table["inside_90"], "yes", "NO")
    table_html = shown.to_html(float_format=lambda v: f"{v:.4f}", border=0, classes="check")
    rows = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in statistics.items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table.check {{ border-collapse: collapse; font-size: 0.9em; }}
table.check td, table.check th {{ padding: 2px 10px; text-align: right; }}
table.check tr:nth-child(even) {{ background: #f4f6f8; }}
pre {{ background: #f4f6f8; padding: 1em; }}
</style></head><body>
<h1>{title}</h1>
<p>{verdict}</p>
{fig.to_html(full_html=False, include_plotlyjs=True)}
<h2>Table</h2>
{table_html}
<h2>Statistics</h2><ul>{rows}</ul>
<h2>Fitted parameters</h2>
<pre>{html.escape(params_text, quote=False)}</pre>
</body></html>
"""
