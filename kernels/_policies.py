"""Built-in rebalancing rules.

Every rule has the one policy signature shared with custom policies::

    rule_nb(t, returns, w, wealth, target, params, state, w_new) -> bool

``t`` is the 0-based index of the step just ended (``t + 1`` steps have elapsed), ``returns``
the path's simple returns of shape (n_steps, n_assets) (rows ``<= t`` are known), ``w`` the
current weights after the step's market move and cash flow, ``wealth`` the current wealth
(currency), ``target`` the target weights for this step, ``params`` the rule's float64
parameters and ``state`` its per-path scratch array (reset at the start of every path). A rule
returns True when it trades and then writes the weights to trade to into ``w_new`` (they must
sum to one: the trade is self-financing, costs are paid afterwards). Rules must not write to
any argument but ``state`` and ``w_new``.

Each rule declares its parameter and state slots once, next to it, with ``_layout.slots``
and ``_layout.rule_state`` (``CAL``, ``TH``); the policy classes of :mod:`mcsim.policies`
fill the parameter arrays from the same declarations. The engine reaches the rules through
the registry's dispatch (:mod:`._registry`).

Band semantics (``threshold_nb``): asset ``i`` breaches when ``|w_i - target_i| > width_i``
with ``width_i = min(abs_band_i, rel_band_i * |target_i|)``. Breaching the tighter band is the
same event as breaching either band, so "tighter applies" and "either triggers" coincide: the
5/25 rule is ``abs_band = 0.05, rel_band = 0.25``. The portfolio drift trigger fires when half
the sum of ``|w_i - target_i|`` (the one-way turnover needed to get back to target) exceeds
``drift_band``. An unset band is ``inf``.
"""

import numpy as np
from numba import njit

from ._allocation import is_due_nb
from ._layout import rule_state, slots
from ._memory import njit_no_refcount

# Calendar: params [every, offset].
CAL = slots("every", "offset")
CAL_STATE = rule_state()

# Threshold (band) params [check_every, check_offset, trade_to, fraction, drift_band,
# min_trade], then abs_band[0..n_assets) and rel_band[0..n_assets) from TH.N_FIXED:
# trade_to is one of TRADE_TO_*; fraction is the share of the gap to target closed when
# TRADE_TO_FRACTION; drift_band the portfolio drift trigger, half the sum of |w - target|
# (inf = off); min_trade skips asset trades smaller than this fraction of wealth.
TH = slots("check_every", "check_offset", "trade_to", "fraction", "drift_band", "min_trade")
TH_STATE = rule_state()
TRADE_TO_TARGET = 0
TRADE_TO_EDGE = 1
TRADE_TO_FRACTION = 2


@njit(cache=True, inline="always")
def weights_nb(h, wealth, w):
    """Current weights ``h / wealth`` into ``w``."""
    inv = 1.0 / wealth
    for i in range(h.size):
        w[i] = h[i] * inv


@njit(cache=True, inline="always")
def calendar_nb(t, returns, w, wealth, target, params, state, w_new):
    """Back to target every ``params[CAL.EVERY]`` steps."""
    if not is_due_nb(t, params[CAL.EVERY], params[CAL.OFFSET]):
        return False
    for i in range(w.size):
        w_new[i] = target[i]
    return True


@njit(cache=True, inline="always")
def band_width_nb(target_i, abs_band, rel_band):
    """Half-width of an asset's band: the tighter of the absolute and the relative band.

    ``inf`` when neither is set. An unset relative band (``inf``) gives ``inf`` or, for a
    zero target, NaN; both compare False, so the absolute band applies. Written as a select
    rather than a branch so the band check vectorises.
    """
    r = rel_band * abs(target_i)
    return r if r < abs_band else abs_band


@njit(cache=True, inline="always")
def band_may_breach_nb(h, wealth, target, params):
    """Cheap pre-check of :func:`threshold_nb` on holdings ``h`` (currency): False only
    when no asset can be outside its band, so the engine may skip computing weights on the
    steps (most of them) where the rule would not trade. Widths get a relative slack of
    1e-9, so rounding never hides a breach the rule would see; with a drift band it always
    defers to the rule."""
    n = h.size
    if params[TH.DRIFT_BAND] < np.inf:
        return True
    scale = wealth * (1.0 - 1e-9)
    breach = False
    for i in range(n):
        dev = abs(h[i] - target[i] * wealth)
        width = band_width_nb(target[i], params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
        breach |= dev > width * scale
    return breach


@njit(cache=True, inline="always")
def threshold_nb(t, returns, w, wealth, target, params, state, w_new):
    """The band rule with every trade-to mode (see :func:`threshold_for_nb`)."""
    return threshold_for_nb(t, returns, w, wealth, target, params, state, w_new, True)


@njit(cache=True, inline="always")
def threshold_for_nb(t, returns, w, wealth, target, params, state, w_new, band_edges):
    """Band rule: trade when a weight leaves its band or the portfolio drifts too far.

    Checked when ``is_due_nb(t, check_every, check_offset)`` (``check_every = 1``:
    continuous monitoring). On a breach the rule trades back to target, to the band edge
    (:func:`to_band_edge_nb`), or ``fraction`` of the way; asset trades smaller than
    ``min_trade`` (fraction of wealth) are then dropped (:func:`drop_small_trades_nb`).

    ``band_edges`` is a literal of the calling loop: False prunes the trade to the band
    edge before typing (the loop refuses a rule that asks for it, ``_registry``).
    """
    if not is_due_nb(t, params[TH.CHECK_EVERY], params[TH.CHECK_OFFSET]):
        return False
    n = w.size
    breach = False
    for i in range(n):
        dev = abs(w[i] - target[i])
        breach |= dev > band_width_nb(target[i], params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
    # The drift sum is a chain of dependent additions: skipped when no drift band is set.
    if not breach and params[TH.DRIFT_BAND] < np.inf:
        drift = 0.0
        for i in range(n):
            drift += abs(w[i] - target[i])
        breach = 0.5 * drift > params[TH.DRIFT_BAND]
    if not breach:
        return False
    mode = int(params[TH.TRADE_TO])
    if band_edges and mode == TRADE_TO_EDGE:
        to_band_edge_nb(w, target, params, w_new)
    elif mode == TRADE_TO_FRACTION:
        f = params[TH.FRACTION]
        for i in range(n):
            w_new[i] = w[i] + f * (target[i] - w[i])
    else:
        for i in range(n):
            w_new[i] = target[i]
    min_trade = params[TH.MIN_TRADE]
    if min_trade > 0.0:
        return drop_small_trades_nb(w, w_new, min_trade)
    return True


@njit_no_refcount
def to_band_edge_nb(w, target, params, w_new):
    """Weights on the edge of the bands nearest to ``w``, into ``w_new``. Numba-compiled.

    1. Each asset outside its band moves to the nearest edge; the others stay.
    2. The clamped weights rarely sum to one (they always do for two assets with equal
       absolute bands). The residual is shared by the assets that can take it without
       leaving their band, in proportion to their room to the far edge; an asset without a
       band (infinite room) takes it first, in proportion to target weight. A weight that is
       not negative is never pushed below zero. Such a share always exists because the
       target itself is inside every band.
    3. If the portfolio drift trigger is set and still exceeded, the weights move along the
       straight line to target until half the sum of absolute deviations equals the drift
       band (the edge of the drift band). Moving towards target keeps every asset in band.

    Turnover: any feasible share of the residual adds the same turnover (it is bought or
    sold by assets not trading against it), so the split only decides where it lands.

    With every band finite (the usual case) the rooms for adding and for removing weight
    are summed while clamping, two assets at a time, and the share is placed without
    branches: this runs on every band trade and is bound by the latency of those sums.
    """
    n = w.size
    clamped0 = 0.0
    clamped1 = 0.0
    up0 = 0.0
    up1 = 0.0
    down0 = 0.0
    down1 = 0.0
    widest = 0.0
    i = 0
    while i + 1 < n:
        b, x, up, down = _clamp_to_band_nb(i, w, target, params, w_new)
        widest = max(widest, b)
        clamped0 += x
        up0 += up
        down0 += down
        b, x, up, down = _clamp_to_band_nb(i + 1, w, target, params, w_new)
        widest = max(widest, b)
        clamped1 += x
        up1 += up
        down1 += down
        i += 2
    if i < n:
        b, x, up, down = _clamp_to_band_nb(i, w, target, params, w_new)
        widest = max(widest, b)
        clamped0 += x
        up0 += up
        down0 += down
    if widest == np.inf:
        to_band_edge_unbounded_nb(w, target, params, w_new)
        return
    residual = 1.0 - (clamped0 + clamped1)
    adding = residual > 0.0
    room = up0 + up1 if adding else down0 + down1
    if room > 0.0:
        share = residual / room
        for i in range(n):
            t = target[i]
            b = band_width_nb(t, params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
            x = w_new[i]
            r = t + b - x if adding else max(x - _floor_nb(w[i], t, b), 0.0)
            w_new[i] = x + share * r
    elif residual != 0.0:
        # Only rounding is left (room >= |residual| in exact arithmetic).
        for i in range(n):
            w_new[i] += residual * target[i]
    drift_to_band_nb(target, params[TH.DRIFT_BAND], w_new)


@njit(cache=True, inline="always")
def _clamp_to_band_nb(i, w, target, params, w_new):
    """Clamp asset ``i`` into its band (into ``w_new``); returns its band half-width, the
    clamped weight and its room to add and to remove weight."""
    n = w.size
    t = target[i]
    b = band_width_nb(t, params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
    x = min(max(w[i], t - b), t + b)
    w_new[i] = x
    return b, x, t + b - x, max(x - _floor_nb(w[i], t, b), 0.0)


@njit(cache=True, inline="always")
def _floor_nb(w_i, target_i, b):
    """Lowest weight an asset may be moved to: its band's lower edge, but not below zero
    for a weight and target that are not negative."""
    floor = target_i - b
    if floor < 0.0 and w_i >= 0.0 and target_i >= 0.0:
        floor = 0.0
    return floor


@njit(cache=True, inline="always")
def drift_to_band_nb(target, drift_band, w_new):
    """Move ``w_new`` along the line to target onto the edge of the drift band, if outside."""
    if drift_band < np.inf:
        drift = 0.0
        for i in range(target.size):
            drift += abs(w_new[i] - target[i])
        drift *= 0.5
        if drift > drift_band:
            s = drift_band / drift
            for i in range(target.size):
                w_new[i] = target[i] + s * (w_new[i] - target[i])


@njit_no_refcount
def to_band_edge_unbounded_nb(w, target, params, w_new):
    """:func:`to_band_edge_nb` when some asset has no band (infinite room). Numba-compiled."""
    n = w.size
    residual = 1.0
    for i in range(n):
        b = band_width_nb(target[i], params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
        x = w[i]
        if x < target[i] - b:
            x = target[i] - b
        elif x > target[i] + b:
            x = target[i] + b
        w_new[i] = x
        residual -= x
    if residual != 0.0:
        room = 0.0
        n_free = 0
        free_weight = 0.0
        for i in range(n):
            b = band_width_nb(target[i], params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
            r = _room_nb(w[i], target[i], b, w_new[i], residual)
            if r == np.inf:
                n_free += 1
                free_weight += abs(target[i])
            elif r > 0.0:
                room += r
        for i in range(n):
            b = band_width_nb(target[i], params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
            r = _room_nb(w[i], target[i], b, w_new[i], residual)
            if n_free > 0:
                if r == np.inf:
                    if free_weight > 0.0:
                        w_new[i] += residual * abs(target[i]) / free_weight
                    else:
                        w_new[i] += residual / n_free
            elif room > 0.0:
                if r > 0.0:
                    w_new[i] += residual * r / room
            else:
                # Only rounding is left (room >= |residual| in exact arithmetic).
                w_new[i] += residual * target[i]
    drift_to_band_nb(target, params[TH.DRIFT_BAND], w_new)


@njit(cache=True, inline="always")
def _room_nb(w_i, target_i, b, w_new_i, residual):
    """Room of an asset to absorb ``residual`` (+ add, - remove) without leaving its band.

    Scalars only (no array arguments to reference-count). A weight that is not negative is
    not pushed below zero.
    """
    if residual > 0.0:
        return target_i + b - w_new_i
    return w_new_i - _floor_nb(w_i, target_i, b)


@njit_no_refcount
def drop_small_trades_nb(w, w_new, min_trade):
    """Cancel asset trades below ``min_trade``; returns True when a trade is left.

    Trades are ``w_new - w`` (fractions of wealth). Cancelling a trade unbalances buys and
    sells, so the larger side is scaled down until they match again: no trade grows or
    changes direction, and turnover only falls. Scaling can make another trade small, so
    this repeats (at most ``n_assets`` times). ``w_new`` is updated in place.
    Numba-compiled.
    """
    n = w.size
    for _ in range(n + 1):
        cancelled = False
        buys = 0.0
        sells = 0.0
        for i in range(n):
            d = w_new[i] - w[i]
            if d != 0.0 and abs(d) < min_trade:
                w_new[i] = w[i]
                cancelled = True
            elif d > 0.0:
                buys += d
            else:
                sells -= d
        if not cancelled:
            break
        if buys > sells:
            s = sells / buys
            for i in range(n):
                d = w_new[i] - w[i]
                if d > 0.0:
                    w_new[i] = w[i] + s * d
        elif sells > buys:
            s = buys / sells
            for i in range(n):
                d = w_new[i] - w[i]
                if d < 0.0:
                    w_new[i] = w[i] + s * d
    for i in range(n):
        if w_new[i] != w[i]:
            return True
    return False
