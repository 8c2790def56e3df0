"""The report's plotly figures: wealth fan, distributions, paired comparison, costs, taxes, flows.

Each figure is a function of the frames it draws (summary, comparison, fan, per-path metrics),
the policy names and their colours. Per-path data is never embedded: distributions are binned
here (at most :data:`N_BINS` bins per policy) and at most :data:`N_SAMPLE_PATHS` paths per
policy are drawn, so a figure's size does not grow with the number of paths.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..metrics import MetricInfo
from .choose import choose_figure_builders
from .format import (
    COST_COLOURS,
    COST_LABELS,
    COST_PARTS,
    FONT,
    LOG_MAX,
    METRIC_LABELS,
    esc,
    is_fraction,
    log_bound,
    log_ticks,
    rgba,
    si,
)
from .learned import learned_figure_builders
from .stress import stress_figures
from .view import ReportView

__all__ = [
    "N_BINS",
    "N_SAMPLE_PATHS",
    "comparison_figure",
    "costs_figure",
    "distribution_figure",
    "fan_figure",
    "flows_figure",
    "n_bins",
    "report_figures",
    "run_fan_figure",
    "share_at_or_above",
    "success_figure",
    "taxes_figure",
    "underwater_figure",
]

N_SAMPLE_PATHS = 20
"""Sample wealth paths drawn faintly per policy in the fan chart."""
N_BINS = 100
"""Most bins of a pre-binned distribution (terminal wealth on a log scale, drawdown)."""
_MAX_POINTS_PER_PATH = 180
# Summary statistics drawn in a distribution's box.
_BOX_STATS = ("p05", "p25", "p50", "p75", "p95", "mean")


def n_bins(n_paths: int) -> int:
    """Rice's rule, 2 n^(1/3), between 20 and :data:`N_BINS` (100 from 125,000 paths)."""
    return int(min(N_BINS, max(20, round(2 * n_paths ** (1 / 3)))))


def report_figures(view: ReportView) -> dict[str, go.Figure]:
    """The figures that apply to a run, by section (see :func:`mcsim.report.build_figures`).

    A figure that fails to draw is replaced by a note saying why, with a warning: the numbers
    of a finished run are worth more than any one figure, so a figure never costs the report.
    """
    sim = view.sim
    builders: dict[str, Callable[[], go.Figure]] = {
        "fan": lambda: run_fan_figure(view),
        "terminal_wealth": lambda: distribution_figure(
            "terminal_wealth", view.metric("terminal_wealth"), view.summary, view.colours
        ),
        "max_drawdown": lambda: distribution_figure(
            "max_drawdown", view.metric("max_drawdown"), view.summary, view.colours
        ),
    }
    if view.real_fan is not None:
        builders["real_fan"] = lambda: run_fan_figure(view, real=True)
    if len(view.sample_paths):
        builders["underwater"] = lambda: underwater_figure(
            view.sample_paths, view.colours, steps_per_year=sim.steps_per_year
        )
    if len(view.policies) > 1:
        builders["comparison"] = lambda: comparison_figure(
            view.comparison,
            view.compared_metrics,
            view.metric_info,
            view.policies,
            view.baseline,
            view.colours,
        )
    if view.has_costs:
        builders["costs"] = lambda: costs_figure(
            view.summary, view.cost_parts, view.policies, sim.currency
        )
    if view.has_taxes:
        builders["taxes"] = lambda: taxes_figure(view.summary, view.colours, sim.currency)
    if view.has_flows and view.wealth_hist is not None:
        sketch = view.manifest["sketch"]
        builders["success"] = lambda: success_figure(
            view.wealth_hist,
            view.grid_steps,
            view.colours,
            steps_per_year=sim.steps_per_year,
            initial_wealth=sim.initial_wealth,
            goal=sim.goal,
            hist_lo=float(sketch["lo"]),
            hist_width=float(sketch["width"]),
        )
    if view.has_flows:
        builders["flows"] = lambda: flows_figure(
            view.metric("ruin_year"),
            view.metric("ruined"),
            view.colours,
            n_steps=sim.n_steps,
            steps_per_year=sim.steps_per_year,
            n_paths=view.n_paths,
        )
    figs = {}
    for key, build in builders.items():
        figs[key] = _safe_figure(key, build)
    for key, fig in stress_figures(view).items():
        figs[key] = _safe_figure(key, lambda fig=fig: fig)
    for key, build in choose_figure_builders(view).items():
        figs[key] = _safe_figure(key, build)
    for key, build in learned_figure_builders(view).items():
        figs[key] = _safe_figure(key, build)
    check = view.model_check
    if isinstance(check, tuple):
        figs["model_check"] = check[1]
    return figs


def _safe_figure(key: str, build: Callable[[], go.Figure]) -> go.Figure:
    """``build()``, or a figure with a note saying why it could not be drawn (and a warning)."""
    try:
        # Overflow to inf and NaN are handled by every figure: numpy's warnings are noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return build()
    except Exception as e:
        warnings.warn(
            f"The report's {key!r} figure could not be drawn ({type(e).__name__}: {e}); "
            "the report shows a note in its place. The run's numbers are unaffected.",
            UserWarning,
            stacklevel=4,
        )
        fig = go.Figure()
        fig.add_annotation(
            text=esc(f"This figure could not be drawn: {type(e).__name__}: {e}"),
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return _layout(fig, f"{key.replace('_', ' ').capitalize()} (not drawn)", 200)


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
        template="plotly_white",
        height=height,
        font={"family": FONT, "size": 12, "color": "#222"},
        margin={"l": 70, "r": 30, "t": 80, "b": 60},
        hoverlabel={"font": {"family": FONT}},
    )
    return fig


def _positive_finite(x: np.ndarray) -> np.ndarray:
    """The values of ``x`` a log axis can place (finite and > 0), flattened."""
    x = np.asarray(x, dtype=np.float64).ravel()
    return x[np.isfinite(x) & (x > 0)]


def _plot_values(x: np.ndarray) -> np.ndarray:
    """``x`` as compact plot data: float32 when every finite value fits, else float64;
    infinities become NaN (a gap) rather than a point off any axis."""
    x = np.where(np.isfinite(x), x, np.nan)
    finite = x[np.isfinite(x)]
    fits = not finite.size or np.abs(finite).max() < 1e38
    return x.astype(np.float32) if fits else x


def run_fan_figure(view: ReportView, *, real: bool = False) -> go.Figure:
    """:func:`fan_figure` of a run: its nominal fan with sample paths, or with ``real`` its
    real-wealth fan (``view.real_fan``, which must exist) without them (they are nominal)."""
    sim = view.sim
    return fan_figure(
        view.real_fan if real else view.fan,
        view.sample_paths.iloc[:0] if real else view.sample_paths,
        view.policies,
        view.baseline,
        view.colours,
        steps_per_year=sim.steps_per_year,
        initial_wealth=sim.initial_wealth,
        currency=sim.currency,
        real=real,
    )


def fan_figure(
    fan: pd.DataFrame,
    samples: pd.DataFrame,
    policies: Sequence[str],
    baseline: str,
    colours: Mapping[str, str],
    *,
    steps_per_year: int,
    initial_wealth: float,
    currency: str = "currency",
    real: bool = False,
) -> go.Figure:
    """Wealth quantiles over time, one panel per policy, shared log axis.

    A log axis cannot show zero, and the wealth sketch has no value for a quantile beyond its
    range (it is infinite): such quantiles are drawn at the axis edge, and the title says so.

    Parameters
    ----------
    fan : pandas.DataFrame
        Index (policy, year); columns p05, p25, p50, p75, p95 (the result's ``fan``).
    samples : pandas.DataFrame
        Index (policy, path); wealth per step (the result's ``sample_paths``); may be empty.
    policies : sequence of str
        Policies in panel order.
    baseline : str
        The baseline, marked in its panel's title.
    colours : mapping of str to str
        Colour of each policy.
    steps_per_year : int
        Steps per year of the sample paths.
    initial_wealth : float
        Wealth at the start, drawn as a dotted line.
    currency : str
        What amounts are in (``[simulation].currency``), shown in the axis title.
    real : bool
        The fan is of real wealth (wealth over the simulated price index, in the money of
        the start): said in the titles. ``samples`` are then usually empty (sample paths
        are kept nominal).
    """
    n = len(policies)
    cols = 1 if n == 1 else 2 if n in (2, 4) else 3
    rows = math.ceil(n / cols)
    titles = [p + (" (baseline)" if p == baseline else "") for p in policies]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        shared_xaxes=True,
        shared_yaxes=True,
        horizontal_spacing=0.03,
        vertical_spacing=0.1 if rows > 1 else 0.0,
    )
    spy = steps_per_year
    quantiles = fan.loc[list(policies), ["p05", "p25", "p50", "p75", "p95"]].to_numpy(
        dtype=np.float64
    )
    shown = _positive_finite(quantiles)
    # Below 1 % of initial wealth the money is all but gone: the axis stops there.
    w0 = initial_wealth
    lo_all = float(shown.min()) if shown.size else w0
    hi_all = float(shown.max()) if shown.size else w0
    lo_all = log_bound(max(min(lo_all, w0), 0.01 * w0))
    hi_all = log_bound(max(hi_all, lo_all))
    yrange = [math.log10(lo_all) - 0.12, math.log10(hi_all) + 0.1]
    y_lo, y_hi = 10 ** yrange[0], 10 ** yrange[1]
    clamped = bool(np.any(~np.isfinite(quantiles) | (quantiles < y_lo) | (quantiles > y_hi)))
    for i, pol in enumerate(policies):
        r, c = i // cols + 1, i % cols + 1
        colour = colours[pol]
        q = fan.loc[pol]
        years = q.index.to_numpy(dtype=float)
        # Off-axis quantiles (zero, beyond the sketch) at the axis edge; NaN stays a gap.
        band = {k: np.clip(q[k].to_numpy(dtype=np.float64), y_lo, y_hi) for k in q.columns}
        if len(samples) and pol in samples.index.get_level_values("policy"):
            w = samples.loc[pol].to_numpy()[:N_SAMPLE_PATHS]
            n_steps = w.shape[1] - 1
            stride = max(1, math.ceil(n_steps / _MAX_POINTS_PER_PATH))
            idx = np.unique(np.append(np.arange(0, n_steps + 1, stride), n_steps))
            # One trace for all sample paths, broken by NaN; float32 halves the bytes.
            x = np.append(idx / spy, np.nan)
            xs = np.tile(x, w.shape[0]).astype(np.float32)
            ys = np.column_stack([w[:, idx], np.full(w.shape[0], np.nan)]).ravel()
            ys = _plot_values(np.where(ys > 0, ys, np.nan))  # log axis: no zeros
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=pol,
                    legendgroup=pol,
                    showlegend=False,
                    line={"color": rgba(colour, 0.28), "width": 0.8},
                    hoverinfo="skip",
                    connectgaps=False,
                ),
                row=r,
                col=c,
            )
        for lo, hi, alpha in (("p05", "p95", 0.16), ("p25", "p75", 0.32)):
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([years, years[::-1]]),
                    y=np.concatenate([band[hi], band[lo][::-1]]),
                    fill="toself",
                    fillcolor=rgba(colour, alpha),
                    line={"width": 0},
                    mode="lines",
                    name=pol,
                    legendgroup=pol,
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=r,
                col=c,
            )
        hover = q[["p05", "p25", "p75", "p95"]].to_numpy(dtype=np.float64)
        fig.add_trace(
            go.Scatter(
                x=years,
                y=band["p50"],
                mode="lines",
                name=pol,
                legendgroup=pol,
                showlegend=False,
                line={"color": colour, "width": 2.2},
                customdata=np.where(np.isfinite(hover), hover, np.nan),
                hovertemplate=(
                    f"<b>{esc(pol)}</b> · year %{{x:.0f}}<br>"
                    "95th pct %{customdata[3]:,.0f}<br>75th pct %{customdata[2]:,.0f}<br>"
                    "<b>median %{y:,.0f}</b><br>25th pct %{customdata[1]:,.0f}<br>"
                    "5th pct %{customdata[0]:,.0f}<extra></extra>"
                ),
            ),
            row=r,
            col=c,
        )
    fig.update_yaxes(
        type="log",
        range=yrange,
        gridcolor="#e6e8eb",
        **log_ticks(y_lo, y_hi),
    )
    fig.add_hline(
        y=initial_wealth,
        line={"color": "#555", "width": 1, "dash": "dot"},
        row="all",
        col="all",
    )
    fig.update_xaxes(gridcolor="#e6e8eb")
    for r in range(1, rows + 1):
        money = f"{currency} of the start" if real else currency
        fig.update_yaxes(
            title_text=f"{'Real wealth' if real else 'Wealth'} ({money}, log scale)", row=r, col=1
        )
    for c in range(1, cols + 1):
        fig.update_xaxes(title_text="Years", row=rows, col=c)
    title = (
        "Real wealth (after inflation) over time" if real else "Wealth over time"
    ) + ": median, 25–75 % and 5–95 % bands"
    if clamped:
        title += (
            "<br><sup>Quantiles the log axis cannot show (zero, or beyond the wealth "
            "sketch's range) are drawn at its edge.</sup>"
        )
    _layout(fig, title, 300 * rows + 130)
    return fig


def _density(
    name: str, data: pd.DataFrame, policies: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float], dict[str, float]]:
    """Common bin edges, share of paths per bin (percent), and per policy the share of paths
    left out because they are at or below zero (log axis only) and the share whose value is
    not finite (an overflow to infinity, or NaN)."""
    log = name != "max_drawdown"
    raw = {p: data[p].to_numpy(dtype=np.float64) for p in policies}
    finite = {p: x[np.isfinite(x)] for p, x in raw.items()}
    # A log axis shows positive values up to what its ticks can reach.
    shown = {p: (x[(x > 0) & (x <= LOG_MAX)] if log else x) for p, x in finite.items()}
    values = np.concatenate([x for x in shown.values() if x.size] or [np.zeros(1)])
    bins = n_bins(len(data))
    lo, hi = float(values.min()), float(values.max())
    if log:
        lo = log_bound(lo)
        hi = max(log_bound(hi), lo)
        # A single value still gets bins of a finite width around it.
        edges = (
            np.geomspace(lo, hi, bins + 1)
            if hi > lo * 1.0001
            else np.geomspace(lo / 1.0001, lo * 1.0001, bins + 1)
        )
        edges[0], edges[-1] = min(edges[0], lo), max(edges[-1], hi)
    else:
        hi = max(hi, lo + 1e-9)
        edges = np.linspace(lo, hi, bins + 1)
    shares = {}
    at_zero = {}
    not_finite = {}
    for p in policies:
        total = max(raw[p].size, 1)
        if log:  # bin on log wealth so every bin covers the same ratio
            counts, _ = np.histogram(np.log(shown[p]), bins=np.log(edges))
        else:
            counts, _ = np.histogram(shown[p], bins=edges)
        shares[p] = 100.0 * counts / total
        not_finite[p] = 1.0 - finite[p].size / total
        at_zero[p] = float(np.sum(finite[p] <= 0)) / total if log else 0.0
    return edges, shares, at_zero, not_finite


def distribution_figure(
    name: str, data: pd.DataFrame, summary: pd.DataFrame, colours: Mapping[str, str]
) -> go.Figure:
    """Binned distribution (left) and quantile box (right) of a per-path metric.

    Paths a log axis cannot show (at zero), values that are not finite and values past
    :data:`~mcsim.report.format.LOG_MAX` are left out of the bins, and the panel's title
    says so (with the largest share of paths left out).

    Parameters
    ----------
    name : {"terminal_wealth", "max_drawdown"}
        The metric: terminal wealth is binned on a log scale, drawdown on a linear one.
    data : pandas.DataFrame
        The metric per path, one column per policy.
    summary : pandas.DataFrame
        Index (policy, metric); quantiles p05..p95 and the mean (the result's ``summary``).
    colours : mapping of str to str
        Colour of each policy, in the order of the policies.
    """
    policies = list(colours)
    log = name != "max_drawdown"
    label = "Terminal wealth" if name == "terminal_wealth" else "Maximum drawdown"
    edges, shares, at_zero, not_finite = _density(name, data, policies)
    left_title = "Share of paths per bin"
    notes = []
    worst = max(at_zero.values(), default=0.0)
    if worst > 0:
        notes.append(f"paths at zero, up to {worst:.1%}, are off the log axis")
    worst = max(not_finite.values(), default=0.0)
    if worst > 0:
        notes.append(f"values that are not finite, up to {worst:.1%}, are left out")
    values = data[policies].to_numpy(dtype=np.float64)
    if log and np.any(np.isfinite(values) & (values > LOG_MAX)):
        notes.append(f"values above {si(LOG_MAX)} are left out")
    if notes:
        left_title += " (" + "; ".join(notes) + ")"
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.6, 0.4],
        horizontal_spacing=0.12,
        subplot_titles=[left_title, "5th, 25th, 50th, 75th, 95th percentiles"],
    )
    # Geometric centres as a product of roots: the product itself overflows past 1e154.
    centres = np.sqrt(edges[:-1]) * np.sqrt(edges[1:]) if log else 0.5 * (edges[:-1] + edges[1:])
    if log:
        # Past 1e15 a currency amount with all its digits is unreadable.
        fmt = ",.0f" if edges[-1] < 1e15 else ".3~e"
        axis_title = f"{label} (currency, log scale)"
    else:
        fmt, axis_title = ".1%", f"{label} (fraction of peak wealth)"
    for pol in policies:
        colour = colours[pol]
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=shares[pol],
                mode="lines",
                line={"color": colour, "width": 1.8, "shape": "spline", "smoothing": 0.4},
                name=pol,
                legendgroup=pol,
                customdata=np.column_stack([edges[:-1], edges[1:]]),
                hovertemplate=(
                    f"<b>{esc(pol)}</b><br>%{{customdata[0]:{fmt}}} – %{{customdata[1]:{fmt}}}"
                    "<br>%{y:.2f} % of paths<extra></extra>"
                ),
            ),
            row=1,
            col=1,
        )
    for pol in reversed(policies):
        s = summary.loc[(pol, name)]
        # A statistic that is not finite is no point to draw: a gap.
        box = {k: float(s[k]) if np.isfinite(s[k]) else np.nan for k in _BOX_STATS}
        fig.add_trace(
            go.Box(
                y=[pol],
                q1=[box["p25"]],
                median=[box["p50"]],
                q3=[box["p75"]],
                lowerfence=[box["p05"]],
                upperfence=[box["p95"]],
                mean=[box["mean"]],
                orientation="h",
                name=pol,
                legendgroup=pol,
                showlegend=False,
                marker={"color": colours[pol]},
                line={"color": colours[pol]},
                fillcolor=rgba(colours[pol], 0.3),
                boxpoints=False,
                boxmean=True,
                hoverinfo="x",
            ),
            row=1,
            col=2,
        )
    if log:
        xaxis = {"type": "log", **log_ticks(edges[0], edges[-1])}
    else:
        xaxis = {"tickformat": ".0%"}
    fig.update_xaxes(title_text=axis_title, hoverformat=fmt, **xaxis, row=1, col=1)
    fig.update_xaxes(title_text=axis_title, hoverformat=fmt, **xaxis, row=1, col=2)
    fig.update_yaxes(title_text="Share of paths (%)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(automargin=True, row=1, col=2)
    what = "at the horizon" if name == "terminal_wealth" else "over the horizon"
    _layout(fig, f"{label} {what}", 420)
    fig.update_layout(legend={"orientation": "h", "y": -0.2, "x": 0})
    return fig


def comparison_figure(
    comparison: pd.DataFrame,
    metrics: Sequence[str],
    metric_info: Mapping[str, MetricInfo],
    policies: Sequence[str],
    baseline: str,
    colours: Mapping[str, str],
) -> go.Figure:
    """Paired mean differences against the baseline with 95 % intervals, per metric.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Index (policy, metric); mean_diff, ci95_low, ci95_high, prob_higher (the result's
        ``comparison``).
    metrics : sequence of str
        The metrics to show, one panel each.
    metric_info : mapping of str to MetricInfo
        Unit and direction of each metric.
    policies, baseline, colours
        Policy names, the baseline among them, and their colours.
    """
    others = [p for p in policies if p != baseline]
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    panel, gap = max(150, 40 + 28 * len(others)), 110  # pixels
    height = panel * rows + gap * (rows - 1) + 140
    titles = []
    for m in metrics:
        better = "higher" if metric_info[m].higher_is_better else "lower"
        titles.append(f"{METRIC_LABELS.get(m, m)} ({better} is better)")
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        vertical_spacing=gap / max(height - 140, 1) if rows > 1 else 0.0,
    )
    for i, m in enumerate(metrics):
        r, c = i // cols + 1, i % cols + 1
        unit = metric_info[m].unit
        scale = 100.0 if is_fraction(unit) else 1.0
        fmt = ",.0f" if unit == "currency" else ".2f"
        suffix = "" if unit == "currency" else " pp" if is_fraction(unit) else ""
        for pol in others:
            row = comparison.loc[(pol, m)]
            # An overflowing difference (inf, or inf - inf) is no point to draw: a gap.
            mean, lo, hi = (
                scale * v if np.isfinite(v) else np.nan
                for v in (row["mean_diff"], row["ci95_low"], row["ci95_high"])
            )
            fig.add_trace(
                go.Scatter(
                    x=[mean],
                    y=[pol],
                    mode="markers",
                    marker={"color": colours[pol], "size": 9},
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": [hi - mean],
                        "arrayminus": [mean - lo],
                        "color": colours[pol],
                        "thickness": 2,
                        "width": 5,
                    },
                    name=pol,
                    legendgroup=pol,
                    showlegend=False,
                    customdata=[[lo, hi, 100 * row["prob_higher"]]],
                    hovertemplate=(
                        f"<b>{esc(pol)}</b> − {esc(baseline)}<br>"
                        f"mean %{{x:+{fmt}}}{suffix}<br>"
                        f"95 % CI %{{customdata[0]:+{fmt}}} to %{{customdata[1]:+{fmt}}}"
                        f"{suffix}<br>higher on %{{customdata[2]:.1f}} % of paths"
                        "<extra></extra>"
                    ),
                ),
                row=r,
                col=c,
            )
        fig.add_vline(x=0, line={"color": "#888", "width": 1, "dash": "dot"}, row=r, col=c)
        unit_label = "currency" if unit == "currency" else "percentage points"
        fig.update_xaxes(title_text=f"Difference ({unit_label})", row=r, col=c)
    fig.update_yaxes(autorange="reversed", automargin=True)
    _layout(
        fig,
        f"Paired difference against {baseline}: mean and 95 % confidence interval",
        height,
    )
    return fig


def costs_figure(
    summary: pd.DataFrame,
    parts: Sequence[str],
    policies: Sequence[str],
    currency: str = "currency",
) -> go.Figure:
    """Mean trading costs per policy, stacked by kind of cost (``parts``: cost metrics shown)."""
    fig = go.Figure()
    for part, colour in zip(COST_PARTS, COST_COLOURS, strict=True):
        if part not in parts:
            continue
        means = [float(summary.loc[(p, part), "mean"]) for p in policies]
        fig.add_trace(
            go.Bar(
                x=list(policies),
                y=means,
                name=COST_LABELS[part],
                marker_color=colour,
                hovertemplate=(f"%{{x}}<br>{COST_LABELS[part]}: %{{y:,.0f}} (mean)<extra></extra>"),
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=f"Mean cost ({currency})", tickformat="~s")
    fig.update_xaxes(title_text="Policy", tickfont={"color": "#222"})
    _layout(fig, "Trading costs by kind (mean per path)", 380)
    return fig


def taxes_figure(
    summary: pd.DataFrame, colours: Mapping[str, str], currency: str = "currency"
) -> go.Figure:
    """Mean taxes paid per policy (``colours``: each policy's colour, in policy order)."""
    fig = go.Figure()
    for pol, colour in colours.items():
        fig.add_trace(
            go.Bar(
                x=[pol],
                y=[float(summary.loc[(pol, "taxes"), "mean"])],
                name=pol,
                marker_color=colour,
                showlegend=False,
                hovertemplate="%{x}<br>mean taxes %{y:,.0f}<extra></extra>",
            )
        )
    fig.update_yaxes(title_text=f"Mean taxes paid ({currency})")
    fig.update_xaxes(title_text="Policy")
    _layout(fig, "Taxes paid (mean per path)", 360)
    return fig


def underwater_figure(
    samples: pd.DataFrame, colours: Mapping[str, str], *, steps_per_year: int
) -> go.Figure:
    """Drawdown over time (underwater chart): median and 5-95 % band per policy.

    The drawdown of a path at step ``t`` is ``1 - W_t / max_{s<=t} W_s`` of its wealth
    ``W`` (with flows in it: a withdrawal deepens it), in percent below the running peak.
    The quantiles are over the kept sample paths (``[simulation].keep_paths``), the only
    paths whose whole wealth path a run keeps; with few of them the band is rough.

    Parameters
    ----------
    samples : pandas.DataFrame
        Index (policy, path); wealth per step (the result's ``sample_paths``).
    colours : mapping of str to str
        Colour of each policy, in policy order (policies without samples are left out).
    steps_per_year : int
        Steps per year of the sample paths.
    """
    fig = go.Figure()
    kept = set(samples.index.get_level_values("policy"))
    n_kept = 0
    for pol, colour in colours.items():
        if pol not in kept:
            continue
        w = samples.loc[pol].to_numpy(dtype=np.float64)
        n_kept = w.shape[0]
        peak = np.maximum.accumulate(w, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(peak > 0, 1.0 - w / peak, 1.0)
        p05, p50, p95 = np.quantile(dd, [0.05, 0.5, 0.95], axis=0)
        n_steps = w.shape[1] - 1
        stride = max(1, math.ceil(n_steps / _MAX_POINTS_PER_PATH))
        idx = np.unique(np.append(np.arange(0, n_steps + 1, stride), n_steps))
        years = idx / steps_per_year
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([years, years[::-1]]),
                y=-100.0 * np.concatenate([p05[idx], p95[idx][::-1]]),
                fill="toself",
                fillcolor=rgba(colour, 0.12),
                line={"width": 0},
                mode="lines",
                name=pol,
                legendgroup=pol,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=years,
                y=-100.0 * p50[idx],
                mode="lines",
                line={"color": colour, "width": 2},
                name=pol,
                legendgroup=pol,
                hovertemplate=(
                    f"<b>{esc(pol)}</b><br>year %{{x:.1f}}: median %{{y:.1f}} % below the "
                    "peak<extra></extra>"
                ),
            )
        )
    fig.update_xaxes(title_text="Years")
    fig.update_yaxes(title_text="Drawdown of wealth (% below its peak)")
    _layout(
        fig,
        f"Under water: drawdown over time, median and 5–95 % band of {n_kept} sample paths",
        400,
    )
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig


def share_at_or_above(counts: np.ndarray, log_level: float, lo: float, width: float) -> float:
    """Share of a wealth sketch's paths at or above ``log_level`` (log of wealth over initial
    wealth), linearly interpolated inside the bin that holds it; bin 0 (ruin and below the
    sketch) is never above a finite level."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    pos = (log_level - lo) / width + 1.0
    k = int(np.floor(pos))
    if k < 1:
        return float(counts[1:].sum() / total)
    if k >= counts.size - 1:  # beyond the sketch's range: the upper tail bin, an upper bound
        return float(counts[-1] / total)
    above = counts[k + 1 :].sum() + counts[k] * (1.0 - (pos - k))
    return float(above / total)


def success_figure(
    hist: np.ndarray,
    grid_steps: np.ndarray,
    colours: Mapping[str, str],
    *,
    steps_per_year: int,
    initial_wealth: float,
    goal: float | None,
    hist_lo: float,
    hist_width: float,
) -> go.Figure:
    """Probability of success by year, from the wealth sketches.

    With a goal: the share of paths whose wealth at year ``t`` is at or above the goal (a
    ruined path has wealth 0, so it never counts); at the horizon this is P(goal met) up to the
    paths within one sketch bin (0.5 %) of the goal. Without a goal: the share of paths that
    still have money (not ruined by year ``t``).

    Parameters
    ----------
    hist : ndarray of shape (n_policies, n_grid, n_bins)
        Merged sketch counts of log(wealth / initial wealth), policies in ``colours`` order.
    grid_steps : ndarray of shape (n_grid,)
        Step of each grid point.
    colours : mapping of str to str
        Colour of each policy, in policy order.
    steps_per_year : int
    initial_wealth, goal : float
        Currency; ``goal`` None for none.
    hist_lo, hist_width : float
        Left edge of bin 1 and the width of interior bins (log-wealth units).
    """
    years = np.asarray(grid_steps, dtype=float) / steps_per_year
    level = math.log(goal / initial_wealth) if goal else None
    fig = go.Figure()
    for k, (pol, colour) in enumerate(colours.items()):
        if level is None:
            share = [1.0 - hist[k, g, 0] / max(hist[k, g].sum(), 1) for g in range(years.size)]
        else:
            share = [
                share_at_or_above(hist[k, g], level, hist_lo, hist_width) for g in range(years.size)
            ]
        fig.add_trace(
            go.Scatter(
                x=years,
                y=100.0 * np.asarray(share),
                mode="lines+markers",
                line={"color": colour, "width": 2},
                marker={"size": 4},
                name=pol,
                hovertemplate=f"<b>{esc(pol)}</b><br>year %{{x:.0f}}: %{{y:.1f}} %<extra></extra>",
            )
        )
    what = "wealth at or above the goal" if level is not None else "paths that still have money"
    fig.update_xaxes(title_text="Years")
    fig.update_yaxes(title_text=f"P(success) (%): {what}", range=[0, 100.5])
    _layout(fig, f"Probability of success by year: {what}", 380)
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig


def flows_figure(
    ruin_year: pd.DataFrame,
    ruined: pd.DataFrame,
    colours: Mapping[str, str],
    *,
    n_steps: int,
    steps_per_year: int,
    n_paths: int,
) -> go.Figure:
    """Share of paths that have run out of money, by year.

    Parameters
    ----------
    ruin_year, ruined : pandas.DataFrame
        The per-path metrics ``ruin_year`` and ``ruined``, one column per policy.
    colours : mapping of str to str
        Colour of each policy, in policy order.
    n_steps, steps_per_year : int
        The horizon in steps, and steps per year.
    n_paths : int
        Paths per policy (the denominator of the shares).
    """
    spy = steps_per_year
    horizon = n_steps / spy
    times = np.arange(n_steps + 1) / spy
    fig = go.Figure()
    for pol, colour in colours.items():
        years = ruin_year[pol].to_numpy()
        years = np.sort(years[np.isfinite(years) & (ruined[pol].to_numpy() > 0)])
        # Share of all paths with ruin_year <= t, at every step end t.
        cum = 100.0 * np.searchsorted(years, times + 1e-9, side="right") / n_paths
        fig.add_trace(
            go.Scatter(
                x=times,
                y=cum,
                mode="lines",
                line={"color": colour, "width": 2, "shape": "hv"},
                name=pol,
                hovertemplate=(
                    f"<b>{esc(pol)}</b><br>year %{{x:.2f}}: %{{y:.2f}} % of paths have run "
                    "out<extra></extra>"
                ),
            )
        )
    fig.update_xaxes(title_text="Years", range=[0, horizon])
    fig.update_yaxes(title_text="Paths that have run out of money (%)", rangemode="tozero")
    _layout(fig, "Running out of money: share of paths ruined by each year", 380)
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig
