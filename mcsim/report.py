"""The run report: one self-contained HTML file with plotly figures and formatted tables.

:func:`build_figures` returns the report's figures as a dict of plotly figures (for use in
notebooks); :func:`write_report` writes the whole report, with plotly.js embedded once, so the
file opens without a network connection. Per-path data is never embedded: distributions are
binned here (about 100 bins per policy) and at most :data:`N_SAMPLE_PATHS` paths per policy
are drawn, so the file stays a few megabytes for any number of paths.
"""

from __future__ import annotations

import datetime as _dt
import html
import importlib
import json
import math
import string
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative
from plotly.subplots import make_subplots

from .results import METRICS

if TYPE_CHECKING:
    from .results import SimulationResult

__all__ = ["N_BINS", "N_SAMPLE_PATHS", "build_figures", "policy_colours", "write_report"]

N_SAMPLE_PATHS = 20
"""Sample wealth paths drawn faintly per policy in the fan chart."""
N_BINS = 100
"""Most bins of a pre-binned distribution (terminal wealth on a log scale, drawdown)."""
MODEL_CHECK_PATHS = 1000
"""Simulated paths of the model-vs-history check (its 5-95 % band is good to about 1 point)."""
_MAX_POINTS_PER_PATH = 180
_COST_PARTS = ("cost_proportional", "cost_fixed", "cost_spread", "cost_slippage", "cost_impact")
_COST_LABELS = {
    "cost_proportional": "commission",
    "cost_fixed": "fixed fees",
    "cost_spread": "half spread",
    "cost_slippage": "slippage",
    "cost_impact": "market impact",
}
_COST_COLOURS = ("#5b6b82", "#a3785f", "#8fb3c9", "#d6a85c", "#7c9a6d")
_METRIC_LABELS = {
    "terminal_wealth": "Terminal wealth",
    "real_terminal_wealth": "Real terminal wealth",
    "after_tax_wealth": "After-tax wealth",
    "cagr": "CAGR",
    "volatility": "Volatility",
    "max_drawdown": "Max drawdown",
    "turnover": "Turnover",
    "costs": "Costs",
    "taxes": "Taxes",
}
# Summary statistics drawn in a distribution's box.
_BOX_STATS = ("p05", "p25", "p50", "p75", "p95", "mean")
_PALETTE = (*qualitative.Plotly, *qualitative.Dark24)
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


# ------------------------------------------------------------------------------------------
# Formatting
# ------------------------------------------------------------------------------------------


def _is_fraction(unit: str) -> bool:
    return unit.startswith("fraction") or unit == "probability"


def format_value(x: float, unit: str, *, signed: bool = False) -> str:
    """A number as shown in the report's tables.

    Currency gets thousands separators and no decimals (``12,345,678``; from 1e15 on,
    scientific notation: ``3.142e+200``); fractions and
    probabilities are shown in percent with two decimals (``7.53%``), and differences of
    fractions in percentage points (``-0.48 pp``); years with one decimal; counts with one.
    Missing values (NaN) show as an en dash.
    """
    if x is None or not np.isfinite(x):
        return "–" if x is None or np.isnan(x) else ("∞" if x > 0 else "-∞")
    sign = "+" if signed else ""
    if unit == "currency":
        # All the digits of an amount past 1e15 are noise to a reader: scientific notation.
        return f"{x:{sign}.3e}" if abs(x) >= 1e15 else f"{x:{sign},.0f}"
    if _is_fraction(unit):
        return f"{100 * x:{sign}.2f} pp" if signed else f"{100 * x:.2f}%"
    if unit == "years":
        return f"{x:{sign}.1f} y"
    return f"{x:{sign},.1f}"


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def policy_colours(policy_names: Sequence[str]) -> dict[str, str]:
    """The colour of each policy, the same in every figure (hex strings)."""
    return {p: _PALETTE[i % len(_PALETTE)] for i, p in enumerate(policy_names)}


def _si(x: float) -> str:
    """1500000 -> '1.5M', 200000 -> '200k'; beyond 1e15, '1e+200'."""
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1e15:
        return f"{x:.3g}"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


# What a log axis can show here: powers of ten whose 1, 2 and 5 multiples are all finite.
_LOG_MIN = 1e-300
_LOG_MAX = 1e300
# More decades than this get ticks at powers of ten only, every few decades.
_MAX_DECADES = 8


def _log_bound(x: float) -> float:
    """``x`` clamped to what a log axis can show (NaN stays NaN)."""
    if math.isnan(x):
        return x
    return min(max(x, _LOG_MIN), _LOG_MAX)


def _log_ticks(lo: float, hi: float) -> dict[str, list]:
    """Tick values 1, 2, 5 x 10^k between ``lo`` and ``hi`` (log axes), with short labels.

    Any input is accepted: bounds are swapped when ``lo > hi``, clamped to
    [:data:`_LOG_MIN`, :data:`_LOG_MAX`] (zero, negative and infinite values included), and
    a NaN bound takes the other one. A wide range gets powers of ten only, at most about ten
    of them; a degenerate one (``lo == hi``) its single value. Both NaN: no ticks (plotly
    chooses).
    """
    lo, hi = _log_bound(float(lo)), _log_bound(float(hi))
    if math.isnan(lo) and math.isnan(hi):
        return {"tickvals": [], "ticktext": []}
    lo = hi if math.isnan(lo) else lo
    hi = lo if math.isnan(hi) else hi
    lo, hi = min(lo, hi), max(lo, hi)
    k_lo, k_hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if k_hi - k_lo > _MAX_DECADES:
        step = math.ceil((k_hi - k_lo) / 10)
        vals = [10.0**k for k in range(k_lo - k_lo % step, k_hi + 1, step)]
    else:
        vals = [m * 10.0**k for k in range(k_lo, k_hi + 1) for m in (1, 2, 5)]
        if len([v for v in vals if lo <= v <= hi]) < 3:  # a narrow range: 1..9 x 10^k
            vals = [m * 10.0**k for k in range(k_lo, k_hi + 1) for m in range(1, 10)]
    vals = [v for v in vals if lo <= v <= hi] or sorted({lo, hi})
    return {"tickvals": vals, "ticktext": [_si(v) for v in vals]}


def _positive_finite(x: np.ndarray) -> np.ndarray:
    """The values of ``x`` a log axis can place (finite and > 0)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    return x[np.isfinite(x) & (x > 0)]


def _plot_values(x: np.ndarray) -> np.ndarray:
    """``x`` as compact plot data: float32 when every finite value fits, else float64;
    infinities become NaN (a gap) rather than a point off any axis."""
    x = np.where(np.isfinite(x), x, np.nan)
    finite = x[np.isfinite(x)]
    fits = not finite.size or np.abs(finite).max() < 1e38
    return x.astype(np.float32) if fits else x


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = hex_to_rgb(colour)
    return f"rgba({r}, {g}, {b}, {alpha})"


# ------------------------------------------------------------------------------------------
# Report content
# ------------------------------------------------------------------------------------------


@dataclass
class _Table:
    """A formatted table: header rows of (text, colspan), body rows of cells."""

    header: list[list[tuple[str, int]]]
    rows: list[list[str]]
    row_classes: list[str] = field(default_factory=list)
    first_col_left: int = 1  # leading columns that are labels, not numbers

    def to_html(self, css_class: str = "data") -> str:
        out = [f'<table class="{css_class}"><thead>']
        for hrow in self.header:
            cells = "".join(
                f'<th colspan="{span}">{_esc(text)}</th>' if span > 1 else f"<th>{_esc(text)}</th>"
                for text, span in hrow
            )
            out.append(f"<tr>{cells}</tr>")
        out.append("</thead><tbody>")
        for i, row in enumerate(self.rows):
            cls = self.row_classes[i] if i < len(self.row_classes) else ""
            cells = "".join(
                f'<td class="{"label" if j < self.first_col_left else "num"}">{_esc(c)}</td>'
                for j, c in enumerate(row)
            )
            out.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
        out.append("</tbody></table>")
        return "".join(out)


@dataclass
class _Section:
    key: str
    title: str
    intro: str = ""  # HTML
    figures: list[str] = field(default_factory=list)  # keys into the figure dict
    body: list[str] = field(default_factory=list)  # HTML blocks after the figures


class _Report:
    """Everything the report shows, computed once from a result."""

    def __init__(self, result: SimulationResult) -> None:
        self.result = result
        self.sim = result.scenario.simulation
        self.policies = list(result.policy_names)
        self.baseline = result.baseline
        self.colours = policy_colours(self.policies)
        self.n_paths = int(result.metrics_array.shape[1])
        self._metric_cache: dict[str, pd.DataFrame] = {}

    # -- data ------------------------------------------------------------------------------
    def metric(self, name: str) -> pd.DataFrame:
        if name not in self._metric_cache:
            self._metric_cache[name] = self.result.metric(name)
        return self._metric_cache[name]

    def stat(self, policy: str, metric: str, column: str) -> float:
        return float(self.result.summary.loc[(policy, metric), column])

    def any_nonzero(self, metric: str) -> bool:
        x = self.metric(metric).to_numpy()
        x = x[np.isfinite(x)]
        return bool(x.size and np.any(x != 0))

    @cached_property
    def has_costs(self) -> bool:
        return any(self.any_nonzero(m) for m in ("costs", *_COST_PARTS))

    @cached_property
    def has_taxes(self) -> bool:
        return bool(self.result.scenario.taxes.enabled)

    @cached_property
    def has_flows(self) -> bool:
        return len(self.result.scenario.flows) > 0 or self.sim.goal is not None

    @cached_property
    def has_goal(self) -> bool:
        return self.sim.goal is not None

    @cached_property
    def has_floor(self) -> bool:
        return self.any_nonzero("floor_breaches")

    @cached_property
    def has_inflation(self) -> bool:
        return int(self.result.plan.inflation_index) >= 0

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
        present = set(self.result.comparison.index.get_level_values("metric"))
        return [m for m in out if m in present]

    @cached_property
    def model_check(self) -> tuple[pd.DataFrame, go.Figure] | str | None:
        """(table, figure) of the model-vs-history check, a message if it failed, or None."""
        plan = self.result.plan
        if plan.history is None:
            return None
        try:
            diagnostics = importlib.import_module("mcsim.diagnostics")
            model_check = diagnostics.model_check
            model_check_figure = diagnostics.model_check_figure
        except (ImportError, AttributeError):
            return None
        try:
            table = model_check(
                plan.model,
                plan.history,
                plan.history_periods_per_year,
                steps_per_year=self.sim.steps_per_year,
                n_paths=MODEL_CHECK_PATHS,
                seed=int(self.result.entropy),
            )
            fig = model_check_figure(table)
            fig.update_layout(font={"family": _FONT, "size": 12, "color": "#222"})
        except Exception as e:  # a failed diagnostic must not cost the user the whole report
            warnings.warn(
                f"The model-vs-history check failed ({type(e).__name__}: {e}); the report "
                "leaves it out. Run mcsim.diagnostics.model_check yourself to see why.",
                UserWarning,
                stacklevel=3,
            )
            return f"The model check failed: {type(e).__name__}: {e}"
        return table, fig

    # -- figures ---------------------------------------------------------------------------
    def figures(self) -> dict[str, go.Figure]:
        builders: dict[str, Callable[[], go.Figure]] = {
            "fan": self.fan_figure,
            "terminal_wealth": lambda: self.distribution_figure("terminal_wealth"),
            "max_drawdown": lambda: self.distribution_figure("max_drawdown"),
        }
        if len(self.policies) > 1:
            builders["comparison"] = self.comparison_figure
        if self.has_costs:
            builders["costs"] = self.costs_figure
        if self.has_taxes:
            builders["taxes"] = self.taxes_figure
        if self.has_flows:
            builders["flows"] = self.flows_figure
        figs = {key: self._safe_figure(key, build) for key, build in builders.items()}
        check = self.model_check
        if isinstance(check, tuple):
            figs["model_check"] = check[1]
        return figs

    def _safe_figure(self, key: str, build: Callable[[], go.Figure]) -> go.Figure:
        """``build()``, or a figure that says why it could not be drawn: the numbers of a
        finished run are worth more than any one figure, so a figure never costs the report."""
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return build()
        except Exception as e:
            warnings.warn(
                f"The report's {key!r} figure could not be drawn ({type(e).__name__}: {e}); "
                "the report shows a note in its place. The run's numbers are unaffected.",
                UserWarning,
                stacklevel=3,
            )
            fig = go.Figure()
            fig.add_annotation(
                text=_esc(f"This figure could not be drawn: {type(e).__name__}: {e}"),
                showarrow=False,
                xref="paper",
                yref="paper",
                x=0.5,
                y=0.5,
            )
            fig.update_xaxes(visible=False)
            fig.update_yaxes(visible=False)
            return self._layout(fig, f"{key.replace('_', ' ').capitalize()} (not drawn)", 200)

    def _layout(self, fig: go.Figure, title: str, height: int) -> go.Figure:
        fig.update_layout(
            title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
            template="plotly_white",
            height=height,
            font={"family": _FONT, "size": 12, "color": "#222"},
            margin={"l": 70, "r": 30, "t": 80, "b": 60},
            hoverlabel={"font": {"family": _FONT}},
        )
        return fig

    def fan_figure(self) -> go.Figure:
        """Wealth quantiles over time, one panel per policy, shared log axis.

        A log axis cannot show zero, and the wealth sketch has no value for a quantile
        beyond its range (it is infinite): such quantiles are drawn at the axis edge, and
        the figure says so.
        """
        fan = self.result.fan
        n = len(self.policies)
        cols = 1 if n == 1 else 2 if n in (2, 4) else 3
        rows = math.ceil(n / cols)
        titles = [p + (" (baseline)" if p == self.baseline else "") for p in self.policies]
        fig = make_subplots(
            rows=rows,
            cols=cols,
            subplot_titles=titles,
            shared_xaxes=True,
            shared_yaxes=True,
            horizontal_spacing=0.03,
            vertical_spacing=0.1 if rows > 1 else 0.0,
        )
        samples = self.result.sample_paths
        spy = self.sim.steps_per_year
        quantiles = fan[["p05", "p25", "p50", "p75", "p95"]].to_numpy(dtype=np.float64)
        shown = _positive_finite(quantiles)
        # Below 1 % of initial wealth the money is all but gone: the axis stops there.
        w0 = self.sim.initial_wealth
        lo_all = float(shown.min()) if shown.size else w0
        hi_all = float(shown.max()) if shown.size else w0
        lo_all = _log_bound(max(min(lo_all, w0), 0.01 * w0))
        hi_all = _log_bound(max(hi_all, lo_all))
        yrange = [math.log10(lo_all) - 0.12, math.log10(hi_all) + 0.1]
        y_lo, y_hi = 10 ** yrange[0], 10 ** yrange[1]
        clamped = bool(np.any(~np.isfinite(quantiles) | (quantiles < y_lo) | (quantiles > y_hi)))
        for i, pol in enumerate(self.policies):
            r, c = i // cols + 1, i % cols + 1
            colour = self.colours[pol]
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
                        line={"color": _rgba(colour, 0.28), "width": 0.8},
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
                        fillcolor=_rgba(colour, alpha),
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
                        f"<b>{_esc(pol)}</b> · year %{{x:.0f}}<br>"
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
            **_log_ticks(y_lo, y_hi),
        )
        fig.add_hline(
            y=self.sim.initial_wealth,
            line={"color": "#555", "width": 1, "dash": "dot"},
            row="all",
            col="all",
        )
        fig.update_xaxes(gridcolor="#e6e8eb")
        for r in range(1, rows + 1):
            fig.update_yaxes(title_text="Wealth (currency, log scale)", row=r, col=1)
        for c in range(1, cols + 1):
            fig.update_xaxes(title_text="Years", row=rows, col=c)
        title = "Wealth over time: median, 25–75 % and 5–95 % bands"
        if clamped:
            title += (
                "<br><sup>Quantiles the log axis cannot show (zero, or beyond the wealth "
                "sketch's range) are drawn at its edge.</sup>"
            )
        self._layout(fig, title, 300 * rows + 130)
        return fig

    def _density(
        self, name: str
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float], dict[str, float]]:
        """Common bin edges, share of paths per bin (percent), and per policy the share of
        paths left out because they are at or below zero (log axis only) and the share
        whose value is not finite (an overflow to infinity, or NaN)."""
        data = self.metric(name)
        log = name != "max_drawdown"
        raw = {p: data[p].to_numpy(dtype=np.float64) for p in self.policies}
        finite = {p: x[np.isfinite(x)] for p, x in raw.items()}
        # A log axis shows positive values up to what its ticks can reach.
        shown = {p: (x[(x > 0) & (x <= _LOG_MAX)] if log else x) for p, x in finite.items()}
        values = np.concatenate([x for x in shown.values() if x.size] or [np.zeros(1)])
        n_bins = _n_bins(self.n_paths)
        lo, hi = float(values.min()), float(values.max())
        if log:
            lo = _log_bound(lo)
            hi = max(_log_bound(hi), lo)
            # A single value still gets bins of a finite width around it.
            edges = (
                np.geomspace(lo, hi, n_bins + 1)
                if hi > lo * 1.0001
                else np.geomspace(lo / 1.0001, lo * 1.0001, n_bins + 1)
            )
            edges[0], edges[-1] = min(edges[0], lo), max(edges[-1], hi)
        else:
            hi = max(hi, lo + 1e-9)
            edges = np.linspace(lo, hi, n_bins + 1)
        shares = {}
        at_zero = {}
        not_finite = {}
        for p in self.policies:
            total = max(raw[p].size, 1)
            if log:  # bin on log wealth so every bin covers the same ratio
                counts, _ = np.histogram(np.log(shown[p]), bins=np.log(edges))
            else:
                counts, _ = np.histogram(shown[p], bins=edges)
            shares[p] = 100.0 * counts / total
            not_finite[p] = 1.0 - finite[p].size / total
            at_zero[p] = float(np.sum(finite[p] <= 0)) / total if log else 0.0
        return edges, shares, at_zero, not_finite

    def distribution_figure(self, name: str) -> go.Figure:
        """Binned distribution (left) and quantile box (right) of a per-path metric.

        Paths a log axis cannot show (at zero) and values that are not finite are left out
        of the bins, and the panel's title says how many.
        """
        log = name != "max_drawdown"
        label = "Terminal wealth" if name == "terminal_wealth" else "Maximum drawdown"
        edges, shares, at_zero, not_finite = self._density(name)
        left_title = "Share of paths per bin"
        notes = []
        worst = max(at_zero.values(), default=0.0)
        if worst > 0:
            notes.append(f"paths at zero, up to {worst:.1%}, are off the log axis")
        worst = max(not_finite.values(), default=0.0)
        if worst > 0:
            notes.append(f"values that are not finite, up to {worst:.1%}, are left out")
        values = self.metric(name).to_numpy(dtype=np.float64)
        if log and np.any(np.isfinite(values) & (values > _LOG_MAX)):
            notes.append(f"values above {_si(_LOG_MAX)} are left out")
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
        centres = (
            np.sqrt(edges[:-1]) * np.sqrt(edges[1:]) if log else 0.5 * (edges[:-1] + edges[1:])
        )
        if log:
            # Past 1e15 a currency amount with all its digits is unreadable.
            fmt = ",.0f" if edges[-1] < 1e15 else ".3~e"
            axis_title = f"{label} (currency, log scale)"
        else:
            fmt, axis_title = ".1%", f"{label} (fraction of peak wealth)"
        for pol in self.policies:
            colour = self.colours[pol]
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
                        f"<b>{_esc(pol)}</b><br>%{{customdata[0]:{fmt}}} – %{{customdata[1]:{fmt}}}"
                        "<br>%{y:.2f} % of paths<extra></extra>"
                    ),
                ),
                row=1,
                col=1,
            )
        for pol in reversed(self.policies):
            s = self.result.summary.loc[(pol, name)]
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
                    marker={"color": self.colours[pol]},
                    line={"color": self.colours[pol]},
                    fillcolor=_rgba(self.colours[pol], 0.3),
                    boxpoints=False,
                    boxmean=True,
                    hoverinfo="x",
                ),
                row=1,
                col=2,
            )
        if log:
            xaxis = {"type": "log", **_log_ticks(edges[0], edges[-1])}
        else:
            xaxis = {"tickformat": ".0%"}
        fig.update_xaxes(title_text=axis_title, hoverformat=fmt, **xaxis, row=1, col=1)
        fig.update_xaxes(title_text=axis_title, hoverformat=fmt, **xaxis, row=1, col=2)
        fig.update_yaxes(title_text="Share of paths (%)", rangemode="tozero", row=1, col=1)
        fig.update_yaxes(automargin=True, row=1, col=2)
        what = "at the horizon" if name == "terminal_wealth" else "over the horizon"
        self._layout(fig, f"{label} {what}", 420)
        fig.update_layout(legend={"orientation": "h", "y": -0.2, "x": 0})
        return fig

    def comparison_figure(self) -> go.Figure:
        """Paired mean differences against the baseline with 95 % intervals, per metric."""
        comp = self.result.comparison
        metrics = self.compared_metrics
        others = [p for p in self.policies if p != self.baseline]
        cols = min(3, len(metrics))
        rows = math.ceil(len(metrics) / cols)
        panel, gap = max(150, 40 + 28 * len(others)), 110  # pixels
        height = panel * rows + gap * (rows - 1) + 140
        titles = []
        for m in metrics:
            better = "higher" if METRICS[m].higher_is_better else "lower"
            titles.append(f"{_METRIC_LABELS.get(m, m)} ({better} is better)")
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
            unit = METRICS[m].unit
            scale = 100.0 if _is_fraction(unit) else 1.0
            fmt = ",.0f" if unit == "currency" else ".2f"
            suffix = "" if unit == "currency" else " pp" if _is_fraction(unit) else ""
            for pol in others:
                row = comp.loc[(pol, m)]
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
                        marker={"color": self.colours[pol], "size": 9},
                        error_x={
                            "type": "data",
                            "symmetric": False,
                            "array": [hi - mean],
                            "arrayminus": [mean - lo],
                            "color": self.colours[pol],
                            "thickness": 2,
                            "width": 5,
                        },
                        name=pol,
                        legendgroup=pol,
                        showlegend=False,
                        customdata=[[lo, hi, 100 * row["prob_higher"]]],
                        hovertemplate=(
                            f"<b>{_esc(pol)}</b> − {_esc(self.baseline)}<br>"
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
        self._layout(
            fig,
            f"Paired difference against {self.baseline}: mean and 95 % confidence interval",
            height,
        )
        return fig

    def costs_figure(self) -> go.Figure:
        """Mean trading costs per policy, stacked by kind of cost."""
        fig = go.Figure()
        for part, colour in zip(_COST_PARTS, _COST_COLOURS, strict=True):
            if not self.any_nonzero(part):
                continue
            means = [self.stat(p, part, "mean") for p in self.policies]
            fig.add_trace(
                go.Bar(
                    x=self.policies,
                    y=means,
                    name=_COST_LABELS[part],
                    marker_color=colour,
                    hovertemplate=(
                        f"%{{x}}<br>{_COST_LABELS[part]}: %{{y:,.0f}} (mean)<extra></extra>"
                    ),
                )
            )
        fig.update_layout(barmode="stack")
        fig.update_yaxes(title_text="Mean cost (currency)", tickformat="~s")
        fig.update_xaxes(title_text="Policy", tickfont={"color": "#222"})
        self._layout(fig, "Trading costs by kind (mean per path)", 380)
        return fig

    def taxes_figure(self) -> go.Figure:
        """Mean taxes paid per policy."""
        fig = go.Figure()
        for pol in self.policies:
            fig.add_trace(
                go.Bar(
                    x=[pol],
                    y=[self.stat(pol, "taxes", "mean")],
                    name=pol,
                    marker_color=self.colours[pol],
                    showlegend=False,
                    hovertemplate="%{x}<br>mean taxes %{y:,.0f}<extra></extra>",
                )
            )
        fig.update_yaxes(title_text="Mean taxes paid (currency)")
        fig.update_xaxes(title_text="Policy")
        self._layout(fig, "Taxes paid (mean per path)", 360)
        return fig

    def flows_figure(self) -> go.Figure:
        """Share of paths that have run out of money, by year."""
        spy = self.sim.steps_per_year
        horizon = self.sim.n_steps / spy
        times = np.arange(self.sim.n_steps + 1) / spy
        ruin = self.metric("ruin_year")
        ruined = self.metric("ruined")
        fig = go.Figure()
        for pol in self.policies:
            years = ruin[pol].to_numpy()
            years = np.sort(years[np.isfinite(years) & (ruined[pol].to_numpy() > 0)])
            # Share of all paths with ruin_year <= t, at every step end t.
            cum = 100.0 * np.searchsorted(years, times + 1e-9, side="right") / self.n_paths
            fig.add_trace(
                go.Scatter(
                    x=times,
                    y=cum,
                    mode="lines",
                    line={"color": self.colours[pol], "width": 2, "shape": "hv"},
                    name=pol,
                    hovertemplate=(
                        f"<b>{_esc(pol)}</b><br>year %{{x:.2f}}: %{{y:.2f}} % of paths have run "
                        "out<extra></extra>"
                    ),
                )
            )
        fig.update_xaxes(title_text="Years", range=[0, horizon])
        fig.update_yaxes(title_text="Paths that have run out of money (%)", rangemode="tozero")
        self._layout(fig, "Running out of money: share of paths ruined by each year", 380)
        fig.update_layout(legend={"orientation": "h", "y": -0.25, "x": 0})
        return fig

    # -- tables ----------------------------------------------------------------------------
    def _policy_label(self, pol: str) -> str:
        return pol + (" (baseline)" if pol == self.baseline else "")

    def _row_classes(self) -> list[str]:
        return ["baseline" if p == self.baseline else "" for p in self.policies]

    def summary_table(self) -> _Table:
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
            [("", 1), ("Terminal wealth (currency)", len(tw)), ("Mean per path", len(means))],
            [("Policy", 1), *[(t, 1) for _, t in tw], *[(t, 1) for _, t in means]],
        ]
        rows = []
        for pol in self.policies:
            row = [self._policy_label(pol)]
            row += [format_value(self.stat(pol, "terminal_wealth", c), "currency") for c, _ in tw]
            for m, _ in means:
                row.append(format_value(self.stat(pol, m, "mean"), METRICS[m].unit))
            rows.append(row)
        return _Table(header, rows, self._row_classes())

    def comparison_table(self) -> _Table:
        comp = self.result.comparison
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
        for pol in self.policies:
            if pol == self.baseline:
                continue
            for k, m in enumerate(self.compared_metrics):
                row = comp.loc[(pol, m)]
                unit = METRICS[m].unit
                lo, hi = float(row["ci95_low"]), float(row["ci95_high"])
                good_side = 1 if METRICS[m].higher_is_better else -1
                if lo > 0 or hi < 0:
                    verdict = "better" if (lo > 0) == (good_side > 0) else "worse"
                elif lo == hi == 0:
                    verdict = "same"
                else:
                    verdict = "unclear"
                rows.append(
                    [
                        pol if k == 0 else "",
                        _METRIC_LABELS.get(m, m),
                        format_value(float(row["mean_diff"]), unit, signed=True),
                        f"{format_value(lo, unit, signed=True)} to "
                        f"{format_value(hi, unit, signed=True)}",
                        format_value(float(row["prob_higher"]), "probability"),
                        format_value(float(row["prob_lower"]), "probability"),
                        verdict,
                    ]
                )
                classes.append(("group-start " if k == 0 else "") + f"verdict-{verdict}")
        return _Table(header, rows, classes, first_col_left=2)

    def costs_table(self) -> _Table:
        parts = [p for p in _COST_PARTS if self.any_nonzero(p)]
        header = [
            [
                ("Policy", 1),
                *[(_COST_LABELS[p].capitalize(), 1) for p in parts],
                ("Total (mean)", 1),
                ("Total (95th pct)", 1),
                ("Rebalances (mean)", 1),
            ]
        ]
        rows = []
        for pol in self.policies:
            rows.append(
                [
                    self._policy_label(pol),
                    *[format_value(self.stat(pol, p, "mean"), "currency") for p in parts],
                    format_value(self.stat(pol, "costs", "mean"), "currency"),
                    format_value(self.stat(pol, "costs", "p95"), "currency"),
                    format_value(self.stat(pol, "n_rebalances", "mean"), "count"),
                ]
            )
        return _Table(header, rows, self._row_classes())

    def taxes_table(self) -> _Table:
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
            [self._policy_label(pol)]
            + [format_value(self.stat(pol, m, c), "currency") for m, c, _ in cols]
            for pol in self.policies
        ]
        return _Table(header, rows, self._row_classes())

    def flows_table(self) -> _Table:
        cols: list[tuple[str, Callable[[str], str]]] = [
            (
                "P(success)",
                lambda p: format_value(1.0 - self.stat(p, "ruined", "mean"), "probability"),
            ),
        ]
        if self.has_goal:
            cols.append(
                (
                    "P(goal met)",
                    lambda p: format_value(self.stat(p, "goal_met", "mean"), "probability"),
                )
            )
        cols += [
            (
                "Ruin year (median, if ruined)",
                lambda p: format_value(self.stat(p, "ruin_year", "p50"), "years"),
            ),
            ("Net flows (mean)", lambda p: format_value(self.stat(p, "flows", "mean"), "currency")),
            (
                "Real terminal wealth 5th pct",
                lambda p: format_value(self.stat(p, "real_terminal_wealth", "p05"), "currency"),
            ),
            (
                "Real terminal wealth median",
                lambda p: format_value(self.stat(p, "real_terminal_wealth", "p50"), "currency"),
            ),
        ]
        if self.has_goal:
            cols += [
                (
                    "Goal shortfall (mean)",
                    lambda p: format_value(self.stat(p, "goal_shortfall", "mean"), "currency"),
                ),
                (
                    "Goal shortfall (95th pct)",
                    lambda p: format_value(self.stat(p, "goal_shortfall", "p95"), "currency"),
                ),
            ]
        header = [[("Policy", 1), *[(t, 1) for t, _ in cols]]]
        rows = [[self._policy_label(p)] + [f(p) for _, f in cols] for p in self.policies]
        return _Table(header, rows, self._row_classes())

    def floor_table(self) -> _Table:
        data = self.metric("floor_breaches")
        header = [
            [
                ("Policy", 1),
                ("Paths with a breach", 1),
                ("Steps below floor (mean)", 1),
                ("Steps below floor (95th pct)", 1),
                ("Steps below floor (max)", 1),
            ]
        ]
        rows = []
        for pol in self.policies:
            x = data[pol].to_numpy()
            x = x[np.isfinite(x)]
            share = float((x > 0).mean()) if x.size else float("nan")
            rows.append(
                [
                    self._policy_label(pol),
                    format_value(share, "probability"),
                    f"{self.stat(pol, 'floor_breaches', 'mean'):.2f}",
                    format_value(self.stat(pol, "floor_breaches", "p95"), "count"),
                    format_value(float(x.max()) if x.size else float("nan"), "count"),
                ]
            )
        return _Table(header, rows, self._row_classes())

    def model_check_table(self, table: pd.DataFrame) -> _Table:
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
                    *[
                        f"{float(row[c]):.4f}"
                        for c in ("history", "sim_p05", "sim_median", "sim_p95")
                    ],
                    "yes" if inside else "no",
                ]
            )
            classes.append("" if inside else "verdict-worse")
        return _Table(header, rows, classes, first_col_left=2)

    # -- header ----------------------------------------------------------------------------
    def facts(self) -> list[tuple[str, str]]:
        res = self.result
        man = res.manifest
        sim = self.sim
        target = ", ".join(f"{k} {100 * float(v):.1f}%" for k, v in res.scenario.target.items())
        facts = [
            ("Horizon", f"{sim.horizon_years:g} years ({sim.n_steps:,} steps)"),
            ("Steps per year", f"{sim.steps_per_year}"),
            ("Paths", f"{self.n_paths:,}"),
            ("Initial wealth", format_value(sim.initial_wealth, "currency")),
            ("Assets", ", ".join(res.plan.asset_names)),
            ("Target weights", target),
            ("Model", str(man["model"].get("kind", res.plan.model.kind))),
            ("Baseline", self.baseline),
            ("Seed entropy", str(man["seed"]["entropy"])),
            ("Block size", f"{sim.block_size:,} paths ({sim.n_blocks:,} blocks)"),
        ]
        if man.get("inflation_series"):
            facts.append(("Inflation series", str(man["inflation_series"])))
        hist = man.get("history")
        if hist:
            facts.append(
                (
                    "History",
                    f"{hist.get('source')}: {hist.get('first')} to {hist.get('last')} "
                    f"({hist.get('rows'):,} rows, {hist.get('periods_per_year')} per year)",
                )
            )
        if sim.goal is not None:
            facts.append(("Goal", format_value(sim.goal, "currency")))
        if res.scenario.flows:
            facts.append(("Cash flows", f"{len(res.scenario.flows)} schedule(s)"))
        facts.append(("Taxes", "enabled" if self.has_taxes else "none (tax-free account)"))
        return facts

    def model_params_html(self) -> str:
        """Model parameters: per-series lists and matrices as tables, the rest as a list.

        Lists with one number per series share one table; square per-series matrices
        (``corr``) and other numeric tables (per-regime means, a transition matrix) get a
        table each; scalars are listed; nested records (fit summaries) go in a folded block.
        """
        params = dict(self.result.manifest["model"])
        names = [str(s) for s in params.get("assets") or self.result.plan.series_names]
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
        labels = {"mu": "mu (annual mean)", "vol": "vol (annual)"}
        if per_series:
            header = [[("Series", 1), *[(labels.get(k, k), 1) for k in per_series]]]
            rows = [[s] + [_num(v[i]) for v in per_series.values()] for i, s in enumerate(names)]
            out.append(_Table(header, rows).to_html("data compact"))
        for key, mat in tables.items():
            n_rows, n_cols = mat.shape
            cols = names if n_cols == n else [str(j) for j in range(n_cols)]
            rows_lab = names if n_rows == n_cols == n else [f"{key}[{i}]" for i in range(n_rows)]
            header = [[(key, 1), *[(c, 1) for c in cols]]]
            rows = [[rows_lab[i]] + [_num(v) for v in mat[i]] for i in range(n_rows)]
            out.append(_Table(header, rows).to_html("data compact"))
        if scalars:
            lis = "".join(
                f"<li><b>{_esc(k)}</b>: {_esc(_num(v) if isinstance(v, float) else v)}</li>"
                for k, v in scalars.items()
            )
            out.append(f"<ul class='plain'>{lis}</ul>")
        if other:
            out.append(
                "<details class='more'><summary>More model parameters</summary>"
                f"<pre>{_esc(_json(_rounded(other)))}</pre></details>"
            )
        return "".join(out)

    def policies_html(self) -> str:
        header = [[("Policy", 1), ("Kind", 1), ("Settings", 1)]]
        rows = []
        for p in self.result.scenario.policies:
            d = p.to_dict()
            settings = ", ".join(
                f"{k} = {_short(v)}" for k, v in d.items() if k not in ("name", "kind")
            )
            rows.append([self._policy_label(p.name), str(d.get("kind", p.kind)), settings])
        t = _Table(header, rows, ["baseline" if r[0].endswith("(baseline)") else "" for r in rows])
        t.first_col_left = 3
        return t.to_html("data compact")

    # -- sections --------------------------------------------------------------------------
    def sections(self) -> list[_Section]:
        res = self.result
        secs = [
            _Section(
                "summary",
                "Summary",
                "<p>Per policy, over all simulated paths. Terminal wealth is nominal, before "
                "tax on unrealised gains; CVaR 5% is the mean of the worst 5% of paths. CAGR, "
                "volatility, drawdown, turnover and costs are means over paths; P(loss) is the "
                "share of paths ending below initial wealth plus net flows.</p>",
                body=[self.summary_table().to_html()],
            ),
            _Section(
                "fan",
                "Wealth over time",
                "<p>Quantiles of wealth at each year, from mergeable histograms of log wealth "
                "(bins of 0.5 % of wealth). Dark line: median; darker band: 25th–75th "
                "percentile; light band: 5th–95th; thin lines: the first "
                f"{min(N_SAMPLE_PATHS, self.sim.keep_paths)} sample paths. All panels share "
                "the log-scale wealth axis.</p>",
                ["fan"],
            ),
            _Section(
                "distributions",
                "Distributions",
                f"<p>Left: share of paths in each of {_n_bins(self.n_paths)} bins (terminal "
                "wealth binned on a log scale). Right: box from the 25th to the 75th "
                "percentile, line at the median, whiskers at the 5th and 95th percentiles, "
                "dashed line at the mean.</p>",
                ["terminal_wealth", "max_drawdown"],
            ),
        ]
        if len(self.policies) > 1:
            secs.append(
                _Section(
                    "comparison",
                    f"Paired comparison against {self.baseline}",
                    "<p>Every policy ran on the same simulated paths, so each path gives one "
                    "difference (policy − baseline). Shown: the mean difference, its 95 % "
                    "confidence interval (mean ± 1.96 standard errors of the paired "
                    "differences) and the share of paths on which the policy's value is higher "
                    "(P(higher)) or lower (P(lower)) than the baseline's. The verdict is "
                    "<i>better</i> or <i>worse</i> when the interval excludes zero.</p>",
                    ["comparison"],
                    [self.comparison_table().to_html()],
                )
            )
        if self.has_costs:
            secs.append(
                _Section(
                    "costs",
                    "Trading costs",
                    "<p>Costs paid over the whole horizon, in currency, by kind.</p>",
                    ["costs"],
                    [self.costs_table().to_html()],
                )
            )
        if self.has_taxes:
            secs.append(
                _Section(
                    "taxes",
                    "Taxes",
                    "<p>Taxes paid over the horizon, wealth after tax on unrealised gains at "
                    "the horizon, net realised gains and losses harvested.</p>",
                    ["taxes"],
                    [self.taxes_table().to_html()],
                )
            )
        if self.has_flows:
            intro = (
                "<p>P(success) is the share of paths that never ran out of money "
                "(1 − mean of <code>ruined</code>). Real wealth is in today's money."
            )
            if self.has_goal:
                intro += (
                    f" Goal: terminal wealth of {format_value(self.sim.goal, 'currency')}; "
                    "P(goal met) counts paths that reach it without running out; the shortfall "
                    "is how far below the goal a path ends (0 when met)."
                )
            secs.append(
                _Section(
                    "flows",
                    "Cash flows and goal",
                    intro + "</p>",
                    ["flows"],
                    [self.flows_table().to_html()],
                )
            )
        if self.has_floor:
            secs.append(
                _Section(
                    "floor",
                    "CPPI floor breaches",
                    "<p>Steps on which wealth was below the CPPI floor.</p>",
                    body=[self.floor_table().to_html()],
                )
            )
        check = self.model_check
        if isinstance(check, tuple):
            table = check[0]
            n_in = int(table["inside_90"].sum())
            secs.append(
                _Section(
                    "model_check",
                    "Model vs history",
                    "<p>Statistics of the history against the same statistics of "
                    f"{int(table.attrs.get('n_paths', MODEL_CHECK_PATHS)):,} simulated paths "
                    "of the fitted model, each as long as the history. The history is inside "
                    f"the simulated 5–95 % band for <b>{n_in} of {len(table)}</b> statistics; "
                    "statistics outside the band are what the model does not reproduce.</p>",
                    ["model_check"],
                    [
                        "<details><summary>Table of the statistics</summary>"
                        + self.model_check_table(table).to_html("data compact")
                        + "</details>"
                    ],
                )
            )
        elif isinstance(check, str):
            secs.append(_Section("model_check", "Model vs history", f"<p>{_esc(check)}</p>"))
        details = [
            "<h3>Policies</h3>",
            self.policies_html(),
            "<h3>Costs</h3>",
            f"<pre>{_esc(_json(res.scenario.costs.to_dict()))}</pre>",
        ]
        if res.scenario.flows:
            details += [
                "<h3>Cash flows</h3>",
                f"<pre>{_esc(_json([f.to_dict() for f in res.scenario.flows]))}</pre>",
            ]
        man = res.manifest
        run_info = {
            "seed": man["seed"],
            "sketch": _sketch_info(man),
            "timings": man["timings"],
            "versions": man["versions"],
        }
        details += [
            "<h3>Run</h3>",
            f"<pre>{_esc(_json(run_info))}</pre>",
        ]
        secs.append(
            _Section(
                "details",
                "Run details",
                "<p>Everything needed to replay the run is in <code>manifest.json</code> next "
                "to this report.</p>",
                body=details,
            )
        )
        return secs

    # -- page ------------------------------------------------------------------------------
    def html(self) -> str:
        figs = self.figures()
        sections = self.sections()
        res = self.result
        first = True
        parts = []
        for sec in sections:
            parts.append(f'<section id="{sec.key}"><h2>{_esc(sec.title)}</h2>{sec.intro}')
            for key in sec.figures:
                fig = figs.get(key)
                if fig is None:
                    continue
                parts.append(
                    '<div class="figure">'
                    + fig.to_html(
                        full_html=False,
                        include_plotlyjs=first,
                        div_id=f"fig-{key}",
                        default_width="100%",
                        default_height=f"{int(fig.layout.height or 450)}px",
                        config={"displaylogo": False, "responsive": True},
                    )
                    + "</div>"
                )
                first = False
            parts.extend(sec.body)
            parts.append("</section>")
        nav = " · ".join(f'<a href="#{s.key}">{_esc(s.title)}</a>' for s in sections)
        facts = "".join(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>" for k, v in self.facts())
        sc = res.scenario
        created = res.manifest.get("created") or _dt.datetime.now(_dt.UTC).isoformat()
        return string.Template(_PAGE).substitute(
            title=_esc(f"mcsim report: {sc.name}"),
            name=_esc(sc.name),
            description=_esc(sc.description) if sc.description else "",
            subtitle=_esc(
                f"mcsim {res.manifest.get('mcsim_version', '')} · created {created} · "
                f"{self.n_paths:,} paths × {len(self.policies)} policies"
            ),
            facts=facts,
            params=self.model_params_html(),
            nav=nav,
            body="\n".join(parts),
            css=_CSS,
            error_script=_ERROR_SCRIPT,
        )


def _n_bins(n_paths: int) -> int:
    """Rice's rule, 2 n^(1/3), between 20 and :data:`N_BINS` (100 from 125,000 paths)."""
    return int(min(N_BINS, max(20, round(2 * n_paths ** (1 / 3)))))


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


def _num(x: Any) -> str:
    """A model parameter: 4 decimals, or 4 significant digits when tiny or huge."""
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.4g}"
    return f"{x:.4f}"


def _rounded(x: Any) -> Any:
    """Floats rounded to 6 significant digits, recursively (for readable JSON)."""
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_rounded(v) for v in x]
    return x


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return str(v)


def _json(x: Any) -> str:
    return json.dumps(x, indent=2, default=str)


def _sketch_info(manifest: dict[str, Any]) -> dict[str, Any]:
    sk = dict(manifest.get("sketch", {}))
    sk.pop("grid_steps", None)
    return sk


# ------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------


def build_figures(result: SimulationResult) -> dict[str, go.Figure]:
    """The report's figures, keyed by section.

    Always ``"fan"`` (wealth quantiles over time, one panel per policy), ``"terminal_wealth"``
    and ``"max_drawdown"`` (binned distribution and quantile box per policy); ``"comparison"``
    (paired differences against the baseline) when there are two policies or more; and, when
    relevant to the run, ``"costs"``, ``"taxes"``, ``"flows"`` (share of paths ruined by each
    year) and ``"model_check"`` (model vs history, when the model was fitted to history).

    Every trace of a policy is named after the policy and drawn in its colour
    (:func:`policy_colours`), the same in every figure.
    """
    return _Report(result).figures()


def write_report(result: SimulationResult, path: str | Path) -> Path:
    """Write the run report as one self-contained HTML file.

    plotly.js is embedded once (about 4.8 MB); the data of all figures is pre-binned, so the
    file size does not grow with the number of paths. No network access is needed to open it.

    Parameters
    ----------
    result : SimulationResult
        A finished run.
    path : str or Path
        File to write (``.html``); its folder must exist.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.write_text(_Report(result).html(), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------
# Page template
# ------------------------------------------------------------------------------------------

_ERROR_SCRIPT = """<script>
(function () {
  var pending = [];
  function show(msg) {
    var box = document.getElementById("js-errors");
    if (!box) { pending.push(msg); return; }
    box.hidden = false;
    var p = document.createElement("p");
    p.textContent = "JavaScript error: " + msg;
    box.appendChild(p);
  }
  window.addEventListener("error", function (e) { show(e.message || String(e)); });
  window.addEventListener("unhandledrejection", function (e) { show(String(e.reason)); });
  document.addEventListener("DOMContentLoaded", function () { pending.forEach(show); });
})();
</script>"""

_CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #e3e6ea; --soft: #f6f7f9; --accent: #2f6fb0; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: var(--ink); background: #fff; line-height: 1.45; font-size: 15px; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 60px; }
header h1 { margin: 0 0 4px; font-size: 28px; }
header .description { margin: 0 0 4px; font-size: 16px; color: var(--ink); }
header .subtitle { margin: 0 0 16px; color: var(--muted); font-size: 13px; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr));
  gap: 8px 18px; margin: 0 0 14px; padding: 14px 16px; background: var(--soft);
  border: 1px solid var(--line); border-radius: 8px; }
dl.facts dt { font-size: 11px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
nav { position: sticky; top: 0; z-index: 10; background: rgba(255,255,255,.95);
  border-bottom: 1px solid var(--line); padding: 8px 0; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
section { margin-top: 34px; }
h2 { font-size: 21px; margin: 0 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 6px; }
section > p { color: #3a4654; max-width: 980px; margin: 6px 0 12px; }
.figure { margin: 8px 0 16px; border: 1px solid var(--line); border-radius: 8px;
  overflow: hidden; }
table.data { border-collapse: collapse; margin: 8px 0 18px; font-size: 13.5px;
  font-variant-numeric: tabular-nums; }
table.data th { background: var(--soft); font-weight: 600; padding: 6px 10px;
  border-bottom: 1px solid #cfd5dc; text-align: center; }
table.data td { padding: 5px 10px; border-bottom: 1px solid var(--line); }
table.data td.num { text-align: right; white-space: nowrap; }
table.data td.label { text-align: left; }
table.data tbody tr:hover { background: #eef4fb; }
table.data tr.baseline td { background: #fbf7e9; }
table.data tr.group-start td { border-top: 2px solid #cfd5dc; }
table.data tr.verdict-better td:last-child { color: #17803d; font-weight: 600; }
table.data tr.verdict-worse td:last-child { color: #b42318; font-weight: 600; }
table.data.compact { font-size: 12.5px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; font-size: 12px; overflow-x: auto; }
ul.plain { padding-left: 18px; }
details.params { margin: 0 0 14px; }
details summary { cursor: pointer; font-weight: 600; margin: 4px 0; }
.param-tables { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.param-tables details.more { flex-basis: 100%; }
table.data td.label { white-space: nowrap; }
code { background: var(--soft); padding: 0 3px; border-radius: 3px; }
#js-errors { background: #fdecea; color: #b42318; border: 1px solid #f5c2bd;
  border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mcsim">
<title>${title}</title>
<style>${css}</style>
${error_script}
</head>
<body>
<main>
<header>
<h1>${name}</h1>
<p class="description">${description}</p>
<p class="subtitle">${subtitle}</p>
<dl class="facts">${facts}</dl>
<details class="params" open><summary>Model parameters</summary>
<div class="param-tables">${params}</div></details>
</header>
<div id="js-errors" hidden></div>
<nav>${nav}</nav>
${body}
<footer>Made with mcsim. Figures are interactive: hover for values, drag to zoom,
double-click to reset.</footer>
</main>
</body>
</html>
"""
