"""How the report writes numbers and names and colours things: values, ticks, colours, labels."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from plotly.colors import hex_to_rgb, qualitative

__all__ = [
    "COST_COLOURS",
    "COST_LABELS",
    "COST_PARTS",
    "FONT",
    "LOG_MAX",
    "LOG_MIN",
    "METRIC_LABELS",
    "esc",
    "format_amount",
    "format_value",
    "is_fraction",
    "log_bound",
    "log_ticks",
    "param_number",
    "policy_colours",
    "rgba",
    "rounded",
    "short",
    "si",
    "to_json",
]

COST_PARTS = ("cost_proportional", "cost_fixed", "cost_spread", "cost_slippage", "cost_impact")
"""The per-path metrics of each kind of trading cost, in the order the report stacks them."""
COST_LABELS = {
    "cost_proportional": "commission",
    "cost_fixed": "fixed fees",
    "cost_spread": "half spread",
    "cost_slippage": "slippage",
    "cost_impact": "market impact",
}
COST_COLOURS = ("#5b6b82", "#a3785f", "#8fb3c9", "#d6a85c", "#7c9a6d")
METRIC_LABELS = {
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
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
"""The font stack of figures (the page's CSS uses the same)."""
_PALETTE = (*qualitative.Plotly, *qualitative.Dark24)
LOG_MIN = 1e-300
"""The smallest value a log axis shows: powers of ten whose 1, 2 and 5 multiples are finite."""
LOG_MAX = 1e300
"""The largest value a log axis shows (see :data:`LOG_MIN`)."""
# More decades than this get ticks at powers of ten only, every few decades.
_MAX_DECADES = 8


def is_fraction(unit: str) -> bool:
    """Whether values of ``unit`` are shown in percent (fractions and probabilities)."""
    return unit.startswith("fraction") or unit == "probability"


def format_value(x: float, unit: str, *, signed: bool = False) -> str:
    """A number as shown in the report's tables.

    Currency as :func:`format_amount` (``12,345,678``; ``4.123`` and ``0.8123`` at the scale
    of an initial wealth of 1); fractions and probabilities are shown in percent
    with two decimals (``7.53%``), and differences of fractions in percentage points
    (``-0.48 pp``); years with one decimal; ratios (Sharpe, Sortino, Calmar) with two;
    counts with one.
    Missing values (NaN) show as an en dash.
    """
    if x is None or not np.isfinite(x):
        return "–" if x is None or np.isnan(x) else ("∞" if x > 0 else "-∞")
    sign = "+" if signed else ""
    if unit == "currency":
        return format_amount(x, signed=signed)
    if is_fraction(unit):
        return f"{100 * x:{sign}.2f} pp" if signed else f"{100 * x:.2f}%"
    if unit == "years":
        return f"{x:{sign}.1f} y"
    if unit == "ratio":
        return f"{x:{sign}.2f}"
    return f"{x:{sign},.1f}"


def format_amount(x: float, *, signed: bool = False) -> str:
    """An amount of money with the digits its scale needs.

    From 1,000 on: thousands separators and no decimals (``12,345,678``); from 1e15 on,
    scientific notation (``3.142e+200``: all the digits past that are noise to a reader).
    Below 1,000: four significant digits (``812.3``, ``4.123``, ``0.8123``, ``0.0001235``), so
    a scenario that starts from wealth 1 shows its quantiles apart instead of as "4" and "0".
    Zero is ``0``; NaN an en dash, infinities ``∞`` and ``-∞``.
    """
    if not np.isfinite(x):
        return "–" if np.isnan(x) else ("∞" if x > 0 else "-∞")
    sign = "+" if signed else ""
    a = abs(x)
    if a >= 1e15:
        return f"{x:{sign}.3e}"
    if a >= 1e3 or x == 0:
        return f"{x:{sign},.0f}"
    decimals = 3 - math.floor(math.log10(a))
    return f"{x:{sign}.{decimals}f}"


def esc(x: Any) -> str:
    """``str(x)`` escaped for HTML text and attribute values."""
    return html.escape(str(x), quote=True)


def policy_colours(policy_names: Sequence[str]) -> dict[str, str]:
    """The colour of each policy, the same in every figure (hex strings)."""
    return {p: _PALETTE[i % len(_PALETTE)] for i, p in enumerate(policy_names)}


def si(x: float) -> str:
    """A short tick label with an SI suffix: 1500000 -> '1.5M', 200000 -> '200k'; from 1e15
    on, '1e+200'."""
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1e15:
        return f"{x:.3g}"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def log_bound(x: float) -> float:
    """``x`` clamped to [:data:`LOG_MIN`, :data:`LOG_MAX`], what a log axis can show (NaN
    stays NaN)."""
    if math.isnan(x):
        return x
    return min(max(x, LOG_MIN), LOG_MAX)


def log_ticks(lo: float, hi: float) -> dict[str, list]:
    """Tick values 1, 2, 5 x 10^k between ``lo`` and ``hi`` (log axes), with short labels.

    Any input is accepted: bounds are swapped when ``lo > hi``, clamped to
    [:data:`LOG_MIN`, :data:`LOG_MAX`] (zero, negative and infinite values included), and
    a NaN bound takes the other one. A wide range gets powers of ten only, at most about ten
    of them; a degenerate one (``lo == hi``) its single value. Both NaN: no ticks (plotly
    chooses).
    """
    lo, hi = log_bound(float(lo)), log_bound(float(hi))
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
    return {"tickvals": vals, "ticktext": [si(v) for v in vals]}


def rgba(colour: str, alpha: float) -> str:
    """A hex colour with transparency, as a CSS ``rgba(...)`` string."""
    r, g, b = hex_to_rgb(colour)
    return f"rgba({r}, {g}, {b}, {alpha})"


def param_number(x: Any) -> str:
    """A model parameter: 4 decimals, or 4 significant digits when tiny or huge."""
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.4g}"
    return f"{x:.4f}"


def rounded(x: Any) -> Any:
    """Floats rounded to 6 significant digits, recursively (for readable JSON)."""
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v) for v in x]
    return x


def short(v: Any) -> str:
    """A setting's value on one line: floats as ``%g``, lists and dicts as JSON."""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return str(v)


def to_json(x: Any) -> str:
    """Indented JSON, with anything JSON does not know written as its ``str``."""
    return json.dumps(x, indent=2, default=str)
