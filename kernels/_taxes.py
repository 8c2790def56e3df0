"""A taxable account: tax lots, realised gains, yearly tax, dividends, loss harvesting.

Holdings ``h`` (currency per asset) stay the engine's record of the portfolio. The tax
account follows them: each asset has a price index per vehicle (``tax_state[:, TS_PRICE]``)
and a list of lots (units, cost basis, step bought, vehicle): in purchase order for FIFO
accounts, in ascending cost per unit for HIFO and tax-minimising ones (``TS_BY_COST``), so
that highest-cost sales and loss harvests take lots from the book's end. After anything
moves holdings (a flow, a dividend, a rebalance, the tax payment), :func:`sync_lots_nb`
books the difference between ``h`` and the lots' value as purchases (a new lot) or sales
(lots picked by the lot method, realising gains).

Each asset is held through two interchangeable securities, "vehicles" 0 (the original) and
1 (a substitute with the same exposure and an optional tracking error). Harvesting a loss
sells lots of one vehicle and buys the other; purchases always go to the current vehicle,
and a vehicle sold by a harvest is not bought again within ``TX_WASH_STEPS`` steps.

Gains are short-term when a lot was held fewer than ``TX_LONG_STEPS`` steps. A tax year's
gains are netted and taxed once at its end (:func:`year_tax_nb`); the tax is paid by selling
pro rata, and the gains those sales realise belong to the next tax year.
"""

import numpy as np
from numba import njit

from ._costs import asset_cost_nb, cap_trades_nb, quote_cost_nb
from ._flows import place_flow_nb
from ._layout import (
    A_CARRY,
    A_PENDING,
    A_TRADED,
    A_UNREALISED_TAX,
    A_WEALTH,
    A_YEAR_LONG,
    A_YEAR_SHORT,
    AP_ADV_GROWTH,
    AP_DIVIDEND_STEP,
    DIV_REBALANCE,
    EP_HARVEST,
    EP_HARVEST_THRESHOLD,
    EP_RISK_AVERSION,
    EP_TAX_AWARE,
    LOT_BASIS,
    LOT_FIFO,
    LOT_HIFO,
    LOT_STEP,
    LOT_TAX_MIN,
    LOT_UNITS,
    LOT_VEHICLE,
    M_COSTS,
    M_DIVIDENDS,
    M_GAINS,
    M_HARVESTED_LOSSES,
    M_REALISED_GAINS,
    M_TAXES,
    N_EXEC_PARAMS,
    N_LOT_FIELDS,
    TAX_AWARE_AVOID_SHORT_TERM,
    TAX_AWARE_DEFER,
    TS_BY_COST,
    TS_CURRENT,
    TS_LOSS_SALE,
    TS_MAX_COST,
    TS_N_LOTS,
    TS_PENDING_W,
    TS_PRICE,
    TS_UNITS,
    TX_DIVIDEND_MODE,
    TX_DIVIDEND_RATE,
    TX_ENABLED,
    TX_HAS_DIVIDENDS,
    TX_INCOME_RATE,
    TX_LONG_RATE,
    TX_LONG_STEPS,
    TX_LOSS_OFFSET,
    TX_LOT_METHOD,
    TX_SHORT_RATE,
    TX_STEPS_PER_YEAR,
    TX_TRACK_PRICES,
    TX_TRACKING_STEP,
    TX_WASH_STEPS,
)
from ._memory import fixed_fields_nb, njit_no_refcount
from ._noise import STREAM_TRACKING, noise_normal_nb

# A lot whose remaining value is below this fraction of its value is closed (rounding dust).
_DUST = 1e-12
# Holdings and lots may differ by rounding; differences below this fraction of wealth are
# not traded.
_SYNC_TOL = 1e-10
_U1 = np.uint64(1)


# --- the tax of one year -------------------------------------------------------------------
@njit_no_refcount
def year_tax_nb(short, long, carry, tax_params):
    """Tax of a year with net short-term ``short`` and long-term ``long`` gains (currency).

    Gains and losses are netted within and then across holding periods; losses carried
    forward (``carry`` >= 0) offset short-term gains first, then long-term ones. A net loss
    offsets up to ``TX_LOSS_OFFSET`` of other income (a tax saving at ``TX_INCOME_RATE``,
    returned as a negative tax); the rest is carried forward. Returns ``(tax, new_carry)``.
    Numba-compiled.
    """
    if short < 0.0 and long > 0.0:
        m = min(-short, long)
        short += m
        long -= m
    elif long < 0.0 and short > 0.0:
        m = min(-long, short)
        long += m
        short -= m
    loss = carry
    if short < 0.0:
        loss -= short
        short = 0.0
    if long < 0.0:
        loss -= long
        long = 0.0
    u = min(loss, short)
    short -= u
    loss -= u
    u = min(loss, long)
    long -= u
    loss -= u
    tax = short * tax_params[TX_SHORT_RATE] + long * tax_params[TX_LONG_RATE]
    used = min(loss, tax_params[TX_LOSS_OFFSET])
    tax -= used * tax_params[TX_INCOME_RATE]
    return tax, loss - used


# --- lots ----------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def lot_value_nb(i, k, lots, tax_state):
    """Market value of lot ``k`` of asset ``i`` (currency)."""
    return lots[i, k, LOT_UNITS] * tax_state[i, TS_PRICE + int(lots[i, k, LOT_VEHICLE])]


@njit(cache=True, inline="always")
def holdings_value_nb(i, tax_state):
    """Value of all lots of asset ``i`` (currency), from the per-vehicle unit totals."""
    return (
        tax_state[i, TS_UNITS] * tax_state[i, TS_PRICE]
        + tax_state[i, TS_UNITS + 1] * tax_state[i, TS_PRICE + 1]
    )


@njit_no_refcount
def refresh_asset_nb(i, lots, tax_state):
    """Drop closed lots of asset ``i`` (keeping order) and recompute its unit totals and the
    highest cost per unit of each vehicle. Numba-compiled."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    n = int(tax_state[i, TS_N_LOTS])
    # Without units of vehicle 1 every open lot is of vehicle 0.
    mixed = tax_state[i, TS_UNITS + 1] > 0.0
    m = 0
    u0 = 0.0
    u1 = 0.0
    c0 = 0.0
    c1 = 0.0
    for k in range(n):
        units = lots[i, k, LOT_UNITS]
        if units <= 0.0:
            continue
        if m != k:
            for f in range(N_LOT_FIELDS):
                lots[i, m, f] = lots[i, k, f]
        cost = lots[i, m, LOT_BASIS] / units
        if mixed:
            # Selects, not branches: after harvests the vehicles of a book's lots are mixed.
            first = lots[i, m, LOT_VEHICLE] == 0.0
            u0 += units if first else 0.0
            u1 += 0.0 if first else units
            c0 = max(c0, cost if first else 0.0)
            c1 = max(c1, 0.0 if first else cost)
        else:
            u0 += units
            c0 = max(c0, cost)
        m += 1
    tax_state[i, TS_N_LOTS] = m
    tax_state[i, TS_UNITS] = u0
    tax_state[i, TS_UNITS + 1] = u1
    tax_state[i, TS_MAX_COST] = c0
    tax_state[i, TS_MAX_COST + 1] = c1


@njit(cache=True, inline="always")
def merge_into_nb(i, a, b, lots):
    """Merge lot ``b`` into lot ``a`` (both bases; the later step) and close ``b``."""
    lots[i, a, LOT_UNITS] += lots[i, b, LOT_UNITS]
    lots[i, a, LOT_BASIS] += lots[i, b, LOT_BASIS]
    lots[i, a, LOT_STEP] = max(lots[i, a, LOT_STEP], lots[i, b, LOT_STEP])
    lots[i, b, LOT_UNITS] = 0.0


@njit_no_refcount
def merge_oldest_nb(i, t, long_steps, lots, tax_state):
    """Free lot slots of asset ``i`` (at least one) by merging lots of the same vehicle.

    Walking from the oldest, long-term lots of one vehicle are merged in pairs (the oldest
    two first) until a quarter of the slots are free, so a full book is merged once every
    few purchases rather than on every one. When no vehicle has two long-term lots, the two
    oldest lots of one vehicle are merged. A merged lot keeps both bases and the *later*
    step, so it is never treated as held longer than it was. Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    n = int(tax_state[i, TS_N_LOTS])
    want = max(1, n // 4)
    freed = 0
    open0 = -1
    open1 = -1
    for k in range(n):
        if freed >= want:
            break
        if t - lots[i, k, LOT_STEP] < long_steps:
            continue
        o = open0 if lots[i, k, LOT_VEHICLE] == 0.0 else open1
        if o < 0:
            o = k
        else:
            merge_into_nb(i, o, k, lots)
            freed += 1
            o = -1
        if lots[i, k, LOT_VEHICLE] == 0.0:
            open0 = o
        else:
            open1 = o
    if freed == 0:
        open0 = -1
        open1 = -1
        for k in range(n):
            o = open0 if lots[i, k, LOT_VEHICLE] == 0.0 else open1
            if o < 0:
                if lots[i, k, LOT_VEHICLE] == 0.0:
                    open0 = k
                else:
                    open1 = k
                continue
            merge_into_nb(i, o, k, lots)
            break
    refresh_asset_nb(i, lots, tax_state)


@njit(cache=True, inline="always")
def lot_position_nb(i, n, price, lots):
    """Where a lot costing ``price`` per unit goes in a cost-ordered book of ``n`` lots:
    after every lot that costs no more. Searched from the end, where purchases usually go
    (prices mostly rise, so a new lot tends to cost the most)."""
    k = n
    while k > 0 and lots[i, k - 1, LOT_BASIS] > price * lots[i, k - 1, LOT_UNITS]:
        k -= 1
    return k


@njit_no_refcount
def compact_nb(i, start, lots, tax_state):
    """Drop the closed lots of asset ``i`` from index ``start`` on, keeping the order of the
    others."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    n = int(tax_state[i, TS_N_LOTS])
    m = start
    for k in range(start, n):
        if lots[i, k, LOT_UNITS] <= 0.0:
            continue
        if m != k:
            for f in range(N_LOT_FIELDS):
                lots[i, m, f] = lots[i, k, f]
        m += 1
    tax_state[i, TS_N_LOTS] = m


@njit_no_refcount
def tighten_top_cost_nb(i, v, lots, tax_state):
    """Make ``TS_MAX_COST`` of vehicle ``v`` exact in a cost-ordered book: the cost per unit
    of its last lot, found from the end. A vehicle without lots gets zero, and zero units
    (clearing the rounding left by sales that subtract units).

    Sales and harvests from a cost-ordered book leave the value as it was, an upper bound:
    the harvest check only needs one (it rejects a vehicle whose price is above
    ``(1 - threshold)`` times it), and tightens it when a check passes without a lot past
    the threshold; merging lots makes both vehicles' values exact. Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    k = int(tax_state[i, TS_N_LOTS]) - 1
    while k >= 0 and lots[i, k, LOT_VEHICLE] != v:
        k -= 1
    if k < 0:
        tax_state[i, TS_UNITS + v] = 0.0
        tax_state[i, TS_MAX_COST + v] = 0.0
    else:
        tax_state[i, TS_MAX_COST + v] = lots[i, k, LOT_BASIS] / lots[i, k, LOT_UNITS]


@njit_no_refcount
def merge_neighbours_nb(i, t, long_steps, lots, tax_state):
    """Free lot slots of a cost-ordered book (at least one) by merging neighbouring lots.

    Walking from the cheapest, neighbouring long-term lots of one vehicle are merged in
    pairs until a quarter of the slots are free. Neighbours in cost lose the least for
    highest-cost-first sales, and their merged cost lies between theirs, so the book stays
    in order. Without such a pair, the first neighbouring pair of one vehicle is merged;
    when the vehicles alternate, the first and third lots.
    A merged lot keeps the later step, so it is never treated as held longer than it was.
    Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    n = int(tax_state[i, TS_N_LOTS])
    want = max(1, n // 4)
    freed = 0
    p = -1
    for k in range(n):
        if freed >= want:
            break
        if t - lots[i, k, LOT_STEP] < long_steps:
            p = -1
        elif p >= 0 and lots[i, p, LOT_VEHICLE] == lots[i, k, LOT_VEHICLE]:
            merge_into_nb(i, p, k, lots)
            freed += 1
            p = -1
        else:
            p = k
    if freed == 0:
        for k in range(1, n):
            if lots[i, k - 1, LOT_VEHICLE] == lots[i, k, LOT_VEHICLE]:
                merge_into_nb(i, k - 1, k, lots)
                freed = 1
                break
    if freed == 0 and n >= 3:
        # Vehicles alternate, so lots 0 and 2 are of one vehicle. Their merged lot costs
        # between them, as lot 1 does: the two swap places when it costs less than lot 1.
        merge_into_nb(i, 2, 0, lots)
        if (
            lots[i, 2, LOT_BASIS] * lots[i, 1, LOT_UNITS]
            < lots[i, 1, LOT_BASIS] * lots[i, 2, LOT_UNITS]
        ):
            for f in range(N_LOT_FIELDS):
                x = lots[i, 1, f]
                lots[i, 1, f] = lots[i, 2, f]
                lots[i, 2, f] = x
    compact_nb(i, 0, lots, tax_state)
    tighten_top_cost_nb(i, 0, lots, tax_state)
    tighten_top_cost_nb(i, 1, lots, tax_state)


@njit_no_refcount
def make_room_nb(i, t, price, long_steps, lots, tax_state):
    """Free slots of a full cost-ordered book (:func:`merge_neighbours_nb`); returns where a
    lot costing ``price`` per unit now goes. Numba-compiled."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    merge_neighbours_nb(i, t, long_steps, lots, tax_state)
    return lot_position_nb(i, int(tax_state[i, TS_N_LOTS]), price, lots)


@njit(cache=True, inline="always")
def insert_lot_nb(i, amount, units, price, t, vehicle, long_steps, lots, tax_state):
    """Book a purchase in a cost-ordered book, after the lots that cost no more per unit.

    A purchase in the same step and vehicle as a lot beside that place is merged into it
    (all purchases of one step and vehicle are at one price, so such a lot is beside it).
    When every slot is taken, neighbouring lots are merged first (:func:`make_room_nb`,
    not inlined: it runs once in ``max_lots / 4`` purchases of a full book).
    """
    n = int(tax_state[i, TS_N_LOTS])
    k = lot_position_nb(i, n, price, lots)
    j = -1
    if k > 0 and lots[i, k - 1, LOT_STEP] == t and lots[i, k - 1, LOT_VEHICLE] == vehicle:
        j = k - 1
    elif k < n and lots[i, k, LOT_STEP] == t and lots[i, k, LOT_VEHICLE] == vehicle:
        j = k
    if j >= 0:
        lots[i, j, LOT_UNITS] += units
        lots[i, j, LOT_BASIS] += amount
    else:
        if n >= lots.shape[1]:
            k = make_room_nb(i, t, price, long_steps, lots, tax_state)
            n = int(tax_state[i, TS_N_LOTS])
        # Unsigned lot indices: no negative-index wraparound, so the move of each lot is a
        # plain copy of its record.
        dst = np.uint64(n)
        stop = np.uint64(k)
        while dst > stop:
            src = dst - _U1
            for f in range(N_LOT_FIELDS):
                lots[i, dst, f] = lots[i, src, f]
            dst = src
        lots[i, k, LOT_UNITS] = units
        lots[i, k, LOT_BASIS] = amount
        lots[i, k, LOT_STEP] = t
        lots[i, k, LOT_VEHICLE] = vehicle
        tax_state[i, TS_N_LOTS] = n + 1


@njit(cache=True, inline="always")
def add_lot_nb(i, amount, t, vehicle, long_steps, lots, tax_state):
    """Buy ``amount`` (currency, > 0) of ``vehicle`` of asset ``i`` at step ``t``: a new lot.

    In a FIFO book the lot goes at the end, and a purchase in the same step and vehicle as
    the newest lot is merged into it; when every slot is taken, two old lots are merged
    first (:func:`merge_oldest_nb`). A cost-ordered book takes it in cost order
    (:func:`insert_lot_nb`). Numba-compiled.
    """
    price = tax_state[i, TS_PRICE + vehicle]
    units = amount / price
    if tax_state[i, TS_BY_COST] > 0.0:
        insert_lot_nb(i, amount, units, price, t, vehicle, long_steps, lots, tax_state)
    else:
        n = int(tax_state[i, TS_N_LOTS])
        if n > 0 and lots[i, n - 1, LOT_STEP] == t and lots[i, n - 1, LOT_VEHICLE] == vehicle:
            lots[i, n - 1, LOT_UNITS] += units
            lots[i, n - 1, LOT_BASIS] += amount
        else:
            if n >= lots.shape[1]:
                merge_oldest_nb(i, t, long_steps, lots, tax_state)
                n = int(tax_state[i, TS_N_LOTS])
            lots[i, n, LOT_UNITS] = units
            lots[i, n, LOT_BASIS] = amount
            lots[i, n, LOT_STEP] = t
            lots[i, n, LOT_VEHICLE] = vehicle
            tax_state[i, TS_N_LOTS] = n + 1
    tax_state[i, TS_UNITS + vehicle] += units
    tax_state[i, TS_MAX_COST + vehicle] = max(tax_state[i, TS_MAX_COST + vehicle], price)


@njit(cache=True, inline="always")
def lot_key_nb(i, k, method, t, long_steps, lots, tax_state):
    """Sale priority of lot ``k`` (lower sells first) under the lot ``method``."""
    if method == LOT_FIFO:
        # A FIFO book is in purchase order; a cost-ordered one is not.
        return lots[i, k, LOT_STEP] if tax_state[i, TS_BY_COST] > 0.0 else float(k)
    units = lots[i, k, LOT_UNITS]
    cost = lots[i, k, LOT_BASIS] / units
    if method == LOT_HIFO:
        return -cost
    price = tax_state[i, TS_PRICE + int(lots[i, k, LOT_VEHICLE])]
    g = 1.0 - cost / price  # gain as a fraction of value, < 1
    if g < 0.0:
        return g  # losses first, the largest first
    if t - lots[i, k, LOT_STEP] >= long_steps:
        return 2.0 + g  # then long-term gains, the smallest first
    return 4.0 + g  # short-term gains last


@njit_no_refcount
def sell_from_end_nb(i, amount, t, long_steps, lots, tax_state, commit, gains):
    """Highest-cost-first sale from a cost-ordered book: lots are taken from its end.

    As :func:`sell_lots_nb`; among lots of equal cost the later-booked one goes first.
    Units of the lots taken are subtracted from the vehicles' totals; ``TS_MAX_COST`` is
    left as it was, an upper bound (:func:`tighten_top_cost_nb`). Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    n = int(tax_state[i, TS_N_LOTS])
    left = amount
    kept = n
    k = n - 1
    while left > 0.0 and k >= 0:
        v = int(lots[i, k, LOT_VEHICLE])
        units = lots[i, k, LOT_UNITS]
        basis = lots[i, k, LOT_BASIS]
        value = units * tax_state[i, TS_PRICE + v]
        if left >= value * (1.0 - _DUST):
            take = value
            gain = value - basis
            if commit:
                tax_state[i, TS_UNITS + v] -= units
                kept = k
        else:
            take = left
            f = left / value
            gain = left - f * basis
            if commit:
                lots[i, k, LOT_UNITS] = units * (1.0 - f)
                lots[i, k, LOT_BASIS] = basis * (1.0 - f)
                tax_state[i, TS_UNITS + v] -= units * f
        held_long = t - lots[i, k, LOT_STEP] >= long_steps
        gains[1] += gain if held_long else 0.0
        gains[0] += 0.0 if held_long else gain
        left -= take
        k -= 1
    if commit:
        tax_state[i, TS_N_LOTS] = kept
        if kept == 0:
            tax_state[i, TS_UNITS] = 0.0
            tax_state[i, TS_UNITS + 1] = 0.0
    return amount - max(left, 0.0)


@njit_no_refcount
def sell_lots_nb(i, amount, t, method, long_steps, lots, tax_state, commit, gains):
    """Sell ``amount`` (currency) of asset ``i`` at step ``t``, lots chosen by ``method``.

    Adds the realised short-term and long-term gains (currency, losses negative) to
    ``gains[0]`` and ``gains[1]``. With ``commit`` False the lots are left untouched (a dry
    run, to estimate the tax of a trade). Returns the value sold (currency, at most the value
    of the lots). Lots are taken in (key, index) order of :func:`lot_key_nb`; when ``gains``
    has room for ``lots.shape[1]`` more values (the engine's scratch array), the keys are
    computed once per sale instead of once per lot taken. A HIFO sale from a cost-ordered
    book takes lots from its end (:func:`sell_from_end_nb`). Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    by_cost = tax_state[i, TS_BY_COST] > 0.0
    if method == LOT_HIFO and by_cost:
        return sell_from_end_nb(i, amount, t, long_steps, lots, tax_state, commit, gains)
    # A FIFO sale from a FIFO book takes the first open lot: no keys, no search.
    in_order = method == LOT_FIFO and not by_cost
    n = int(tax_state[i, TS_N_LOTS])
    left = amount
    last_key = -np.inf
    last_k = -1
    # With scratch room (the engine's ``gains`` holds 2 + max_lots values), the keys are
    # computed once per sale; a lot taken gets key inf, so each pick is a plain scan.
    cached = not in_order and gains.size >= 2 + lots.shape[1]
    if cached:
        for k in range(n):
            if lots[i, k, LOT_UNITS] <= 0.0:
                gains[2 + k] = np.inf
            else:
                gains[2 + k] = lot_key_nb(i, k, method, t, long_steps, lots, tax_state)
    while left > 0.0:
        best = -1
        best_key = np.inf
        if cached:
            for k in range(n):
                key = gains[2 + k]
                if key < best_key:
                    best_key = key
                    best = k
            if best < 0:
                break
            gains[2 + best] = np.inf
        else:
            for k in range(n):
                if lots[i, k, LOT_UNITS] <= 0.0:
                    continue
                key = lot_key_nb(i, k, method, t, long_steps, lots, tax_state)
                # Next lot after (last_key, last_k) in (key, index) order: dry runs mark
                # nothing.
                if key < last_key or (key == last_key and k <= last_k):
                    continue
                if key < best_key:
                    best_key = key
                    best = k
                if in_order:
                    break
            if best < 0:
                break
            last_key = best_key
            last_k = best
        value = lot_value_nb(i, best, lots, tax_state)
        basis = lots[i, best, LOT_BASIS]
        if left >= value * (1.0 - _DUST):
            take = value
            gain = value - basis
            if commit:
                lots[i, best, LOT_UNITS] = 0.0
                lots[i, best, LOT_BASIS] = 0.0
        else:
            take = left
            f = left / value
            gain = left - f * basis
            if commit:
                lots[i, best, LOT_UNITS] *= 1.0 - f
                lots[i, best, LOT_BASIS] *= 1.0 - f
        if t - lots[i, best, LOT_STEP] >= long_steps:
            gains[1] += gain
        else:
            gains[0] += gain
        left -= take
    if commit:
        refresh_asset_nb(i, lots, tax_state)
    return amount - max(left, 0.0)


@njit_no_refcount
def realise_nb(short, long, acc):
    """Book realised gains into the current tax year and the path's total."""
    acc[A_YEAR_SHORT] += short
    acc[A_YEAR_LONG] += long
    acc[M_REALISED_GAINS] += short + long


@njit(cache=True, inline="always")
def sale_method_nb(tax_params, exec_params):
    """Lot method of a policy's sales: tax-minimising when it avoids short-term gains."""
    if int(exec_params[EP_TAX_AWARE]) == TAX_AWARE_AVOID_SHORT_TERM:
        return LOT_TAX_MIN
    return int(tax_params[TX_LOT_METHOD])


@njit_no_refcount
def sync_lots_nb(t, h, method, tax_params, tax_state, lots, acc, gains):
    """Book the difference between holdings ``h`` and the lots as purchases and sales.

    A purchase becomes a lot of the asset's current vehicle at today's price; a sale picks
    lots by ``method`` and realises gains into the current tax year. ``gains`` is a scratch
    array of 2. Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    tol = _SYNC_TOL * acc[A_WEALTH]
    long_steps = tax_params[TX_LONG_STEPS]
    for i in range(h.size):
        d = h[i] - holdings_value_nb(i, tax_state)
        if d > tol:
            add_lot_nb(i, d, t, int(tax_state[i, TS_CURRENT]), long_steps, lots, tax_state)
        elif d < -tol:
            gains[0] = 0.0
            gains[1] = 0.0
            sell_lots_nb(i, -d, t, method, long_steps, lots, tax_state, True, gains)
            realise_nb(gains[0], gains[1], acc)


# --- along a path --------------------------------------------------------------------------
@njit_no_refcount
def start_account_nb(h, tax_params, tax_state, lots):
    """Reset the per-path tax account; the initial holdings are lots bought at step -1."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    for i in range(h.size):
        tax_state[i, TS_N_LOTS] = 0.0
        tax_state[i, TS_CURRENT] = 0.0
        tax_state[i, TS_UNITS] = 0.0
        tax_state[i, TS_UNITS + 1] = 0.0
        tax_state[i, TS_PRICE] = 1.0
        tax_state[i, TS_PRICE + 1] = 1.0
        tax_state[i, TS_MAX_COST] = 0.0
        tax_state[i, TS_MAX_COST + 1] = 0.0
        tax_state[i, TS_LOSS_SALE] = -np.inf
        tax_state[i, TS_LOSS_SALE + 1] = -np.inf
        tax_state[i, TS_PENDING_W] = 0.0
        tax_state[i, TS_BY_COST] = 1.0 if int(tax_params[TX_LOT_METHOD]) != LOT_FIFO else 0.0
        if tax_params[TX_ENABLED] > 0.0 and h[i] > 0.0:
            add_lot_nb(i, h[i], -1, 0, tax_params[TX_LONG_STEPS], lots, tax_state)


@njit(cache=True, inline="always")
def after_market_nb(
    t,
    h,
    r_path,
    noise_key,
    asset_params,
    tax_params,
    target,
    flow_mode,
    tax_state,
    acc,
):
    """After the market move of step ``t``: price indices, substitute tracking, dividends.

    The model's returns are total returns. A dividend of ``yield / steps_per_year`` of the
    asset's start-of-step value is paid in cash out of the asset, taxed at
    ``TX_DIVIDEND_RATE`` when taxes are on, and the rest reinvested in the asset or placed
    like a contribution (``TX_DIVIDEND_MODE``). Holdings of vehicle 1 earn the asset's return
    plus ``TX_TRACKING_STEP * z`` (``z`` the path's normal for the step and asset, tracking
    stream). Returns the wealth.
    Numba-compiled.
    """
    wealth = acc[A_WEALTH]
    if tax_params[TX_TRACK_PRICES] <= 0.0 or wealth <= 0.0:
        return wealth
    te = tax_params[TX_TRACKING_STEP]
    has_div = tax_params[TX_HAS_DIVIDENDS] > 0.0
    reinvest = int(tax_params[TX_DIVIDEND_MODE]) != DIV_REBALANCE
    div_rate = tax_params[TX_DIVIDEND_RATE] if tax_params[TX_ENABLED] > 0.0 else 0.0
    extra = 0.0
    paid = 0.0
    tax = 0.0
    net_total = 0.0
    for i in range(h.size):
        g = 1.0 + r_path[t, i]
        dy = asset_params[i, AP_DIVIDEND_STEP] if has_div else 0.0
        div = 0.0
        if dy > 0.0 and g > 0.0:
            div = h[i] / g * dy
        tracking = 0.0
        if te > 0.0:
            z = te * noise_normal_nb(noise_key, t, i, h.size, STREAM_TRACKING)
            tracking = tax_state[i, TS_UNITS + 1] * tax_state[i, TS_PRICE + 1] * z
            tax_state[i, TS_PRICE + 1] *= g - dy + z
        else:
            tax_state[i, TS_PRICE + 1] *= g - dy
        tax_state[i, TS_PRICE] *= g - dy
        extra += tracking
        if div > 0.0:
            dtax = div * div_rate
            net = div - dtax
            paid += div
            tax += dtax
            h[i] += tracking - div + (net if reinvest else 0.0)
            net_total += net
        else:
            h[i] += tracking
    if extra != 0.0:
        acc[M_GAINS] += extra
        wealth += extra
    if paid > 0.0:
        acc[M_DIVIDENDS] += paid
        acc[M_TAXES] += tax
        wealth -= tax
        if not reinvest:
            place_flow_nb(h, net_total, target, flow_mode)
    acc[A_WEALTH] = wealth
    return wealth


@njit_no_refcount
def light_tracking_nb(asset_params, tax_params):
    """True when nothing needs the per-step work of :func:`after_market_nb`: an untaxed
    account reinvesting its dividends, with no substitute tracking error. Reinvested
    dividends then leave holdings unchanged (returns are total returns), so the engine's
    market step counts them and, only when ADV grows, moves the price indices
    (``_engine.market_step_light_nb``)."""
    return not (
        tax_params[TX_ENABLED] > 0.0
        or int(tax_params[TX_DIVIDEND_MODE]) == DIV_REBALANCE
        or tax_params[TX_TRACKING_STEP] > 0.0
    )


@njit_no_refcount
def adv_grows_nb(asset_params):
    """True when some asset's ADV grows with its price index."""
    for i in range(asset_params.shape[0]):
        if asset_params[i, AP_ADV_GROWTH] > 0.0:
            return True
    return False


@njit_no_refcount
def harvest_vehicle_nb(
    i, v, t, h, wealth, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc
):
    """Harvest the lots of vehicle ``v`` of asset ``i`` past the threshold, if it pays (see
    :func:`harvest_nb`, which has checked that the vehicle may hold such lots and that
    buying the other is no wash sale). Returns the wealth less the harvest's costs.
    Numba-compiled."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    thr = 1.0 - exec_params[EP_HARVEST_THRESHOLD]
    long_steps = tax_params[TX_LONG_STEPS]
    by_cost = tax_state[i, TS_BY_COST] > 0.0
    price = tax_state[i, TS_PRICE + v]
    other = 1 - v
    short = 0.0
    long = 0.0
    sold = 0.0
    sold_units = 0.0
    n = int(tax_state[i, TS_N_LOTS])
    # Lots past the threshold cost more than price / (1 - threshold) per unit: in a
    # cost-ordered book they lie in a suffix, in a FIFO book anywhere.
    first = 0
    if by_cost:
        first = n
        while (
            first > 0
            and lots[i, first - 1, LOT_UNITS] * price < thr * lots[i, first - 1, LOT_BASIS]
        ):
            first -= 1
    # Branch-free scans: whether a lot is past the threshold is data.
    for k in range(first, n):
        units = lots[i, k, LOT_UNITS]
        value = units * price
        basis = lots[i, k, LOT_BASIS]
        hit = (lots[i, k, LOT_VEHICLE] == v) & (value < thr * basis)
        held_long = t - lots[i, k, LOT_STEP] >= long_steps
        long += value - basis if (hit & held_long) else 0.0
        short += value - basis if (hit & (not held_long)) else 0.0
        sold += value if hit else 0.0
        sold_units += units if hit else 0.0
    if sold <= 0.0:
        if by_cost:
            tighten_top_cost_nb(i, v, lots, tax_state)
        return wealth
    # Harvest only when the tax value of the loss beats the round trip's cost.
    saving = -(short * tax_params[TX_SHORT_RATE] + long * tax_params[TX_LONG_RATE])
    quote = 2.0 * quote_cost_nb(i, sold, t, asset_params, noise_key, tax_state)
    if saving <= quote:
        return wealth
    for k in range(first, n):
        units = lots[i, k, LOT_UNITS]
        hit = (lots[i, k, LOT_VEHICLE] == v) & (units * price < thr * lots[i, k, LOT_BASIS])
        lots[i, k, LOT_UNITS] = 0.0 if hit else units
    if by_cost:
        compact_nb(i, first, lots, tax_state)
        tax_state[i, TS_UNITS + v] -= sold_units
    else:
        refresh_asset_nb(i, lots, tax_state)
    cost = asset_cost_nb(i, sold, t, asset_params, noise_key, tax_state, acc)
    cost += asset_cost_nb(i, sold, t, asset_params, noise_key, tax_state, acc)
    tax_state[i, TS_CURRENT] = other
    tax_state[i, TS_LOSS_SALE + v] = t
    if sold - cost > 0.0:
        add_lot_nb(i, sold - cost, t, other, long_steps, lots, tax_state)
    h[i] -= cost
    acc[M_COSTS] += cost
    acc[A_TRADED] += sold / acc[A_WEALTH]
    acc[M_HARVESTED_LOSSES] -= short + long
    realise_nb(short, long, acc)
    return wealth - cost


@njit_no_refcount
def harvest_nb(t, h, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc):
    """Tax-loss harvesting at step ``t``: sell lots whose loss passed the threshold and buy
    the other vehicle of the same asset for the proceeds (less trading costs).

    A lot is harvested when its value is below ``(1 - threshold)`` times its basis, and a
    vehicle's harvest goes ahead only when the tax value of its losses (at the short- and
    long-term rates) exceeds the cost of selling and buying back. A vehicle sold by a
    harvest is not bought again within ``TX_WASH_STEPS`` steps: a harvest that would buy it
    is skipped. The check per vehicle is a comparison with its highest cost per unit; the
    harvest itself (:func:`harvest_vehicle_nb`, not inlined) runs on the few steps it
    passes. Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    thr = 1.0 - exec_params[EP_HARVEST_THRESHOLD]
    wash = tax_params[TX_WASH_STEPS]
    wealth = acc[A_WEALTH]
    for i in range(h.size):
        for v in range(2):
            if (
                tax_state[i, TS_UNITS + v] <= 0.0
                or tax_state[i, TS_PRICE + v] >= thr * tax_state[i, TS_MAX_COST + v]
            ):
                continue
            if t - tax_state[i, TS_LOSS_SALE + 1 - v] <= wash:
                continue  # buying the other vehicle now would be a wash sale
            wealth = harvest_vehicle_nb(
                i, v, t, h, wealth, asset_params, tax_params, exec_params, noise_key,
                tax_state, lots, acc,
            )  # fmt: skip
    acc[A_WEALTH] = wealth
    return wealth


@njit_no_refcount
def liquidation_tax_nb(tax_params, tax_state, lots, acc, n_assets, t):
    """Tax due if every lot were sold at step ``t`` and the tax year closed (currency)."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    short = acc[A_YEAR_SHORT]
    long = acc[A_YEAR_LONG]
    long_steps = tax_params[TX_LONG_STEPS]
    for i in range(n_assets):
        for k in range(int(tax_state[i, TS_N_LOTS])):
            gain = lot_value_nb(i, k, lots, tax_state) - lots[i, k, LOT_BASIS]
            if t - lots[i, k, LOT_STEP] >= long_steps:
                long += gain
            else:
                short += gain
    tax, _ = year_tax_nb(short, long, acc[A_CARRY], tax_params)
    return tax


@njit_no_refcount
def year_end_nb(t, n_steps, h, tax_params, exec_params, tax_state, lots, acc, gains):
    """At the end of a tax year (and at the horizon): tax the year's gains and pay.

    The tax is paid from the portfolio pro rata (a refund from the loss offset is invested
    pro rata); the gains those sales realise belong to the next tax year. At the horizon the
    tax on liquidating every lot is stored in ``acc[A_UNREALISED_TAX]``. Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    if tax_params[TX_ENABLED] <= 0.0:
        return acc[A_WEALTH]
    steps_per_year = int(tax_params[TX_STEPS_PER_YEAR])
    last = t == n_steps - 1
    if (t + 1) % steps_per_year != 0 and not last:
        return acc[A_WEALTH]
    wealth = acc[A_WEALTH]
    tax, carry = year_tax_nb(acc[A_YEAR_SHORT], acc[A_YEAR_LONG], acc[A_CARRY], tax_params)
    acc[A_YEAR_SHORT] = 0.0
    acc[A_YEAR_LONG] = 0.0
    acc[A_CARRY] = carry
    if wealth > 0.0 and tax != 0.0:
        tax = min(tax, wealth)
        scale = (wealth - tax) / wealth
        for i in range(h.size):
            h[i] *= scale
        wealth -= tax
        acc[A_WEALTH] = wealth
        acc[M_TAXES] += tax
        if wealth > 0.0:
            method = sale_method_nb(tax_params, exec_params)
            sync_lots_nb(t, h, method, tax_params, tax_state, lots, acc, gains)
    if last:
        acc[A_UNREALISED_TAX] = liquidation_tax_nb(tax_params, tax_state, lots, acc, h.size, t)
    return wealth


# --- tax-aware rebalancing -----------------------------------------------------------------
@njit_no_refcount
def avoid_short_term_nb(t, trade, tax_params, tax_state, lots):
    """Cut sales to what can be sold without realising a short-term gain; scale buys to match.

    Only lots held long-term or standing at a loss count as sellable. Returns the one-way
    value traded after the cut (currency). Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    long_steps = tax_params[TX_LONG_STEPS]
    sells = 0.0
    buys = 0.0
    for i in range(trade.size):
        if trade[i] < 0.0:
            sellable = 0.0
            for k in range(int(tax_state[i, TS_N_LOTS])):
                value = lot_value_nb(i, k, lots, tax_state)
                if t - lots[i, k, LOT_STEP] >= long_steps or value <= lots[i, k, LOT_BASIS]:
                    sellable += value
            trade[i] = max(trade[i], -sellable)
            sells -= trade[i]
        else:
            buys += trade[i]
    if buys > sells:
        f = sells / buys if buys > 0.0 else 0.0
        for i in range(trade.size):
            if trade[i] > 0.0:
                trade[i] *= f
    return sells


@njit_no_refcount
def trade_tax_nb(t, trade, method, tax_params, tax_state, lots, gains):
    """Estimated tax of the sales in ``trade`` at the marginal rates (currency, may be < 0)."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    gains[0] = 0.0
    gains[1] = 0.0
    for i in range(trade.size):
        if trade[i] < 0.0:
            sell_lots_nb(
                i, -trade[i], t, method, tax_params[TX_LONG_STEPS], lots, tax_state, False, gains
            )
    return gains[0] * tax_params[TX_SHORT_RATE] + gains[1] * tax_params[TX_LONG_RATE]


@njit_no_refcount
def trade_benefit_nb(trade, wealth, exec_params, cov_offset):
    """Benefit of a trade (currency): one year of the mean-variance certainty-equivalent cost
    of holding the pre-trade weights instead of the policy's new weights,
    ``0.5 * risk_aversion * d' Sigma d * wealth`` with ``d = trade / wealth``. Numba-compiled.
    """
    n = trade.size
    q = 0.0
    for i in range(n):
        di = trade[i] / wealth
        row = cov_offset + i * n
        for j in range(n):
            q += di * exec_params[row + j] * trade[j] / wealth
    return 0.5 * exec_params[EP_RISK_AVERSION] * q * wealth


@njit(cache=True, inline="always")
def shape_trades_nb(
    t, trade, w_new, wealth, asset_params, tax_params, exec_params, tax_state, lots, acc, gains
):
    """Adjust a policy's trades (currency per asset) before they are executed.

    Tax-aware policies first cut sales that would realise short-term gains
    (``TAX_AWARE_AVOID_SHORT_TERM``) or skip the trade when its estimated tax exceeds its
    benefit (``TAX_AWARE_DEFER``, see :func:`trade_benefit_nb`); then the participation cap
    scales the trade down and carries the rest. Returns the sum of ``|trade|`` (0 = no
    trade). Numba-compiled.
    """
    mode = int(exec_params[EP_TAX_AWARE])
    if tax_params[TX_ENABLED] > 0.0 and mode != 0:
        if mode == TAX_AWARE_AVOID_SHORT_TERM:
            avoid_short_term_nb(t, trade, tax_params, tax_state, lots)
        elif mode == TAX_AWARE_DEFER:
            method = int(tax_params[TX_LOT_METHOD])
            tax = trade_tax_nb(t, trade, method, tax_params, tax_state, lots, gains)
            if tax > 0.0 and tax > trade_benefit_nb(trade, wealth, exec_params, N_EXEC_PARAMS):
                acc[A_PENDING] = 0.0
                return 0.0
    cap_trades_nb(trade, w_new, asset_params, tax_state, acc)
    traded = 0.0
    for i in range(trade.size):
        traded += abs(trade[i])
    return traded


@njit(cache=True, inline="always")
def book_step_nb(t, h, method, tax_params, tax_state, lots, acc, gains):
    """:func:`sync_lots_nb` for the per-step path: purchases (flows, reinvested dividends) are
    booked here, inlined; sales, which are rare outside rebalances, go through the compiled
    :func:`sync_lots_nb`. Assets are independent, so the result is the same."""
    tol = _SYNC_TOL * acc[A_WEALTH]
    long_steps = tax_params[TX_LONG_STEPS]
    sells = False
    for i in range(h.size):
        d = h[i] - holdings_value_nb(i, tax_state)
        if d > tol:
            add_lot_nb(i, d, t, int(tax_state[i, TS_CURRENT]), long_steps, lots, tax_state)
        elif d < -tol:
            sells = True
    if sells:
        sync_lots_nb(t, h, method, tax_params, tax_state, lots, acc, gains)


@njit_no_refcount
def before_trading_nb(
    t, h, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc, gains
):
    """After the step's flows, before the policy looks: book flows and dividends into lots,
    then harvest losses when the policy does. Returns the wealth. Numba-compiled."""
    if tax_params[TX_ENABLED] <= 0.0 or acc[A_WEALTH] <= 0.0:
        return acc[A_WEALTH]
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    book_step_nb(
        t, h, sale_method_nb(tax_params, exec_params), tax_params, tax_state, lots, acc, gains
    )
    if exec_params[EP_HARVEST] > 0.0:
        return harvest_nb(
            t, h, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc
        )
    return acc[A_WEALTH]


@njit(cache=True, inline="always")
def after_trading_nb(t, h, tax_params, exec_params, tax_state, lots, acc, gains):
    """Book a rebalance's purchases and sales into lots. Numba-compiled."""
    if tax_params[TX_ENABLED] > 0.0:
        sync_lots_nb(
            t, h, sale_method_nb(tax_params, exec_params), tax_params, tax_state, lots, acc, gains
        )
