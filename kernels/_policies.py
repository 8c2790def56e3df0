"""Built-in rebalancing rules.

Every rule has the one policy signature shared with custom policies::

    rule_nb(t, returns, w, wealth, target, params, state, w_new) -> bool

``t`` is the 0-based index of the step just ended (``t + 1`` steps have elapsed), ``returns``
the path's simple returns of shape (n_steps, n_assets) (rows ``<= t`` are known), ``w`` the
current weights after the step's market move and cash flow, ``wealth`` the current wealth
(currency), ``target`` the target weights for this step, ``params`` the rule's float64
parameters and ``state`` its per-path scratch array (reset at the start of every path). A rule
returns True when it trades and then writes the weights to trade to into ``w_new``.
"""

import numpy as np
from numba import njit

from ._layout import (
    CAL_EVERY,
    CAL_OFFSET,
    POLICY_CALENDAR,
    POLICY_THRESHOLD,
    TH_CHECK_EVERY,
    TH_CHECK_OFFSET,
    TH_DRIFT_BAND,
    TH_FRACTION,
    TH_MIN_TRADE,
    TH_N_FIXED,
    TH_TRADE_TO,
    TRADE_TO_EDGE,
    TRADE_TO_FRACTION,
)


@njit(cache=True, inline="always")
def is_due_nb(t, every, offset):
    """True when step ``t`` (0-based) ends a period of ``every`` steps, shifted by ``offset``."""
    k = int(every)
    return k > 0 and (t + 1 - int(offset)) % k == 0 and t + 1 >= int(offset)


@njit(cache=True, inline="always")
def calendar_nb(t, returns, w, wealth, target, params, state, w_new):
    """Back to target every ``params[CAL_EVERY]`` steps."""
    if not is_due_nb(t, params[CAL_EVERY], params[CAL_OFFSET]):
        return False
    w_new[:] = target
    return True


@njit(cache=True, inline="always")
def band_width_nb(target_i, abs_band, rel_band):
    """Half-width of an asset's band: the tighter of the absolute and the relative band."""
    return min(abs_band, rel_band * abs(target_i))


@njit(cache=True, inline="always")
def threshold_nb(t, returns, w, wealth, target, params, state, w_new):
    """Band rule: trade when a weight leaves its band or the portfolio drifts too far.

    Per-asset bands are absolute (weight points) and relative (fraction of the target
    weight); the tighter applies, so both at once give the "5/25" rule. The portfolio
    trigger is half the sum of absolute deviations. On a breach the rule trades back to
    target, to the band edge, or a fraction of the way; asset trades smaller than
    ``min_trade`` (fraction of wealth) are skipped.
    """
    if not is_due_nb(t, params[TH_CHECK_EVERY], params[TH_CHECK_OFFSET]):
        return False
    n = w.size
    breach = False
    drift = 0.0
    for i in range(n):
        dev = w[i] - target[i]
        drift += abs(dev)
        if abs(dev) > band_width_nb(target[i], params[TH_N_FIXED + i], params[TH_N_FIXED + n + i]):
            breach = True
    if 0.5 * drift > params[TH_DRIFT_BAND]:
        breach = True
    if not breach:
        return False
    mode = int(params[TH_TRADE_TO])
    if mode == TRADE_TO_EDGE:
        to_band_edge_nb(w, target, params, w_new)
    elif mode == TRADE_TO_FRACTION:
        f = params[TH_FRACTION]
        for i in range(n):
            w_new[i] = w[i] + f * (target[i] - w[i])
    else:
        w_new[:] = target
    min_trade = params[TH_MIN_TRADE]
    if min_trade > 0.0:
        drop_small_trades_nb(w, w_new, min_trade)
    return True


@njit(cache=True)
def to_band_edge_nb(w, target, params, w_new):
    """Move each asset outside its band to the nearest edge; the others absorb the rest.

    The residual that keeps weights summing to one is shared by the assets inside their
    bands in proportion to their room to the far edge, so no asset is pushed out of its
    band; when no asset has room, the residual is spread in proportion to target weights.
    """
    n = w.size
    residual = 1.0
    for i in range(n):
        b = band_width_nb(target[i], params[TH_N_FIXED + i], params[TH_N_FIXED + n + i])
        lo = target[i] - b
        hi = target[i] + b
        w_new[i] = min(max(w[i], lo), hi)
        residual -= w_new[i]
    if residual == 0.0:
        return
    room = 0.0
    for i in range(n):
        b = band_width_nb(target[i], params[TH_N_FIXED + i], params[TH_N_FIXED + n + i])
        if residual > 0.0:
            r = target[i] + b - w_new[i]
        else:
            r = w_new[i] - (target[i] - b)
        if np.isfinite(r) and r > 0.0:
            room += r
    if room >= abs(residual):
        for i in range(n):
            b = band_width_nb(target[i], params[TH_N_FIXED + i], params[TH_N_FIXED + n + i])
            if residual > 0.0:
                r = target[i] + b - w_new[i]
            else:
                r = w_new[i] - (target[i] - b)
            if np.isfinite(r) and r > 0.0:
                w_new[i] += residual * r / room
    else:
        for i in range(n):
            w_new[i] += residual * target[i]


@njit(cache=True)
def drop_small_trades_nb(w, w_new, min_trade):
    """Cancel asset trades below ``min_trade`` and rescale the rest to keep the sum at one."""
    n = w.size
    kept = 0.0
    moved = 0.0
    for i in range(n):
        if abs(w_new[i] - w[i]) < min_trade:
            w_new[i] = w[i]
            kept += w[i]
        else:
            moved += w_new[i]
    if moved > 0.0:
        scale = (1.0 - kept) / moved
        for i in range(n):
            if w_new[i] != w[i]:
                w_new[i] *= scale


@njit(cache=True, inline="always")
def builtin_rebalance_nb(kind, t, returns, w, wealth, target, params, state, w_new):
    """Dispatch to the built-in rule ``kind`` (one of ``layout.POLICY_*``)."""
    if kind == POLICY_CALENDAR:
        return calendar_nb(t, returns, w, wealth, target, params, state, w_new)
    if kind == POLICY_THRESHOLD:
        return threshold_nb(t, returns, w, wealth, target, params, state, w_new)
    return False
