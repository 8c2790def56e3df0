"""A tax lot book per asset: purchases, sales by lot method, merging when the book is full.

Each asset's lots (units, cost basis, step bought, vehicle) are kept in purchase order for
FIFO accounts, in ascending cost per unit for HIFO and tax-minimising ones (``TS_BY_COST``),
so that highest-cost sales and loss harvests take lots from the book's end. A book holds at
most ``TX_MAX_LOTS`` lots per asset: a purchase into a full book merges lots first. The
book's totals per vehicle (units, highest cost per unit) are kept in ``tax_state``. The tax
account that books holdings into lots and taxes their gains is :mod:`._tax_account`.
"""

import numpy as np
from numba import njit

from ._layout import (
    LOT_BASIS,
    LOT_FIFO,
    LOT_HIFO,
    LOT_STEP,
    LOT_UNITS,
    LOT_VEHICLE,
    N_LOT_FIELDS,
    TS_BY_COST,
    TS_MAX_COST,
    TS_N_LOTS,
    TS_PRICE,
    TS_TRADE_COST,
    TS_UNITS,
    TS_WASH_LONG,
    TS_WASH_SHORT,
    TS_WASH_STEP,
    TS_WASH_UNITS,
)
from ._memory import fixed_fields_nb, njit_no_refcount

# A lot whose remaining value is below this fraction of its value is closed (rounding dust).
_DUST = 1e-12
_U1 = np.uint64(1)


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
def book_lot_nb(i, units, basis, cost, t, vehicle, long_steps, lots, tax_state):
    """Book ``units`` of ``vehicle`` of asset ``i`` bought at step ``t`` for ``basis``
    (currency; ``cost`` = ``basis / units`` per unit, passed so a plain purchase uses its
    price exactly).

    In a FIFO book the lot goes at the end, and a purchase in the same step and vehicle as
    the newest lot is merged into it; when every slot is taken, two old lots are merged
    first (:func:`merge_oldest_nb`). A cost-ordered book takes it in cost order
    (:func:`insert_lot_nb`; merging it with a neighbour of the same step and vehicle keeps
    the order, as the merged cost lies between the two). Numba-compiled.
    """
    if tax_state[i, TS_BY_COST] > 0.0:
        insert_lot_nb(i, basis, units, cost, t, vehicle, long_steps, lots, tax_state)
    else:
        n = int(tax_state[i, TS_N_LOTS])
        if n > 0 and lots[i, n - 1, LOT_STEP] == t and lots[i, n - 1, LOT_VEHICLE] == vehicle:
            lots[i, n - 1, LOT_UNITS] += units
            lots[i, n - 1, LOT_BASIS] += basis
        else:
            if n >= lots.shape[1]:
                merge_oldest_nb(i, t, long_steps, lots, tax_state)
                n = int(tax_state[i, TS_N_LOTS])
            lots[i, n, LOT_UNITS] = units
            lots[i, n, LOT_BASIS] = basis
            lots[i, n, LOT_STEP] = t
            lots[i, n, LOT_VEHICLE] = vehicle
            tax_state[i, TS_N_LOTS] = n + 1
    tax_state[i, TS_UNITS + vehicle] += units
    tax_state[i, TS_MAX_COST + vehicle] = max(tax_state[i, TS_MAX_COST + vehicle], cost)


@njit(cache=True, inline="always")
def add_lot_nb(i, amount, t, vehicle, long_steps, lots, tax_state):
    """Buy ``amount`` (currency, > 0) of ``vehicle`` of asset ``i`` at step ``t`` at today's
    price, with basis ``amount``: a new lot (:func:`book_lot_nb`). Numba-compiled."""
    price = tax_state[i, TS_PRICE + vehicle]
    book_lot_nb(i, amount / price, amount, price, t, vehicle, long_steps, lots, tax_state)


@njit(cache=True, inline="always")
def pot_loss_nb(i, v, t, units, gain, held_long, tax_state):
    """Add the loss of ``units`` of vehicle ``v`` sold at step ``t`` (``gain`` < 0) to the
    asset's wash-sale pot; a gain adds nothing. Branch-free."""
    loss = gain < 0.0
    tax_state[i, TS_WASH_UNITS + v] += units if loss else 0.0
    tax_state[i, TS_WASH_SHORT + v] += gain if (loss and not held_long) else 0.0
    tax_state[i, TS_WASH_LONG + v] += gain if (loss and held_long) else 0.0
    if loss:
        tax_state[i, TS_WASH_STEP + v] = t


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


@njit(cache=True, inline="always")
def proceeds_factor_nb(i, amount, tax_state):
    """Share of a sale's value that is proceeds: one less the asset's trading cost of this
    rebalance (``TS_TRADE_COST``) over the value sold. Exactly 1 without costs."""
    cost = tax_state[i, TS_TRADE_COST]
    return 1.0 - cost / amount if cost > 0.0 else 1.0


@njit_no_refcount
def sell_from_end_nb(i, amount, t, long_steps, lots, tax_state, commit, gains):
    """Highest-cost-first sale from a cost-ordered book: lots are taken from its end.

    As :func:`sell_lots_nb`; among lots of equal cost the later-booked one goes first.
    Units of the lots taken are subtracted from the vehicles' totals; ``TS_MAX_COST`` is
    left as it was, an upper bound (:func:`tighten_top_cost_nb`). Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    n = int(tax_state[i, TS_N_LOTS])
    q = proceeds_factor_nb(i, amount, tax_state)
    # The running totals live in locals, stored once at the end: the compiler cannot tell
    # that ``lots`` and ``tax_state`` do not overlap, so totals kept in ``tax_state`` would
    # be loaded and stored for every lot. Each total takes the same additions in the same
    # order as :func:`pot_loss_nb` would make, so the results are bit-identical.
    p0 = tax_state[i, TS_PRICE]
    p1 = tax_state[i, TS_PRICE + 1]
    units0 = tax_state[i, TS_UNITS]
    units1 = tax_state[i, TS_UNITS + 1]
    pot_units0 = tax_state[i, TS_WASH_UNITS]
    pot_units1 = tax_state[i, TS_WASH_UNITS + 1]
    pot_short0 = tax_state[i, TS_WASH_SHORT]
    pot_short1 = tax_state[i, TS_WASH_SHORT + 1]
    pot_long0 = tax_state[i, TS_WASH_LONG]
    pot_long1 = tax_state[i, TS_WASH_LONG + 1]
    loss0 = False
    loss1 = False
    short = gains[0]
    long = gains[1]
    left = amount
    kept = n
    k = n - 1
    while left > 0.0 and k >= 0:
        first = lots[i, k, LOT_VEHICLE] == 0.0
        units = lots[i, k, LOT_UNITS]
        basis = lots[i, k, LOT_BASIS]
        value = units * (p0 if first else p1)
        if left >= value * (1.0 - _DUST):
            take = value
            gain = value * q - basis
            sold_units = units
            kept = k
        else:
            take = left
            f = left / value
            gain = left * q - f * basis
            sold_units = units * f
            if commit:
                lots[i, k, LOT_UNITS] = units * (1.0 - f)
                lots[i, k, LOT_BASIS] = basis * (1.0 - f)
        held_long = t - lots[i, k, LOT_STEP] >= long_steps
        loss = gain < 0.0
        if first:
            units0 -= sold_units
            pot_units0 += sold_units if loss else 0.0
            pot_short0 += gain if (loss and not held_long) else 0.0
            pot_long0 += gain if (loss and held_long) else 0.0
            loss0 = loss0 or loss
        else:
            units1 -= sold_units
            pot_units1 += sold_units if loss else 0.0
            pot_short1 += gain if (loss and not held_long) else 0.0
            pot_long1 += gain if (loss and held_long) else 0.0
            loss1 = loss1 or loss
        long += gain if held_long else 0.0
        short += 0.0 if held_long else gain
        left -= take
        k -= 1
    gains[0] = short
    gains[1] = long
    if commit:
        tax_state[i, TS_N_LOTS] = kept
        tax_state[i, TS_UNITS] = units0 if kept > 0 else 0.0
        tax_state[i, TS_UNITS + 1] = units1 if kept > 0 else 0.0
        tax_state[i, TS_WASH_UNITS] = pot_units0
        tax_state[i, TS_WASH_UNITS + 1] = pot_units1
        tax_state[i, TS_WASH_SHORT] = pot_short0
        tax_state[i, TS_WASH_SHORT + 1] = pot_short1
        tax_state[i, TS_WASH_LONG] = pot_long0
        tax_state[i, TS_WASH_LONG + 1] = pot_long1
        if loss0:
            tax_state[i, TS_WASH_STEP] = t
        if loss1:
            tax_state[i, TS_WASH_STEP + 1] = t
    return amount - max(left, 0.0)


@njit_no_refcount
def sell_lots_nb(i, amount, t, method, long_steps, lots, tax_state, commit, gains):
    """Sell ``amount`` (currency) of asset ``i`` at step ``t``, lots chosen by ``method``.

    Adds the realised short-term and long-term gains (currency, losses negative) to
    ``gains[0]`` and ``gains[1]``; proceeds are the value sold less the asset's trading cost
    ``TS_TRADE_COST`` (:func:`proceeds_factor_nb`). A committed sale adds the losses of the
    lots it takes to the vehicles' wash-sale pots (:func:`pot_loss_nb`). With ``commit``
    False the lots are left untouched (a dry run, to estimate the tax of a trade). Returns
    the value sold (currency, at most the value of the lots). Lots are taken in (key, index)
    order of :func:`lot_key_nb`; when ``gains`` has room for ``lots.shape[1]`` more values
    (the engine's scratch array), the keys are computed once per sale instead of once per
    lot taken. A HIFO sale from a cost-ordered
    book takes lots from its end (:func:`sell_from_end_nb`). Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    by_cost = tax_state[i, TS_BY_COST] > 0.0
    if method == LOT_HIFO and by_cost:
        return sell_from_end_nb(i, amount, t, long_steps, lots, tax_state, commit, gains)
    # A FIFO sale from a FIFO book takes the first open lot: no keys, no search.
    in_order = method == LOT_FIFO and not by_cost
    n = int(tax_state[i, TS_N_LOTS])
    q = proceeds_factor_nb(i, amount, tax_state)
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
        units = lots[i, best, LOT_UNITS]
        if left >= value * (1.0 - _DUST):
            take = value
            gain = value * q - basis
            sold_units = units
            if commit:
                lots[i, best, LOT_UNITS] = 0.0
                lots[i, best, LOT_BASIS] = 0.0
        else:
            take = left
            f = left / value
            gain = left * q - f * basis
            sold_units = units * f
            if commit:
                lots[i, best, LOT_UNITS] *= 1.0 - f
                lots[i, best, LOT_BASIS] *= 1.0 - f
        held_long = t - lots[i, best, LOT_STEP] >= long_steps
        if held_long:
            gains[1] += gain
        else:
            gains[0] += gain
        if commit:
            v = int(lots[i, best, LOT_VEHICLE])
            pot_loss_nb(i, v, t, sold_units, gain, held_long, tax_state)
        left -= take
    if commit:
        refresh_asset_nb(i, lots, tax_state)
    return amount - max(left, 0.0)


@njit_no_refcount
def window_units_nb(i, v, t, wash_steps, lots, tax_state):
    """Units of vehicle ``v`` of asset ``i`` held in lots bought within ``wash_steps`` steps
    of ``t``. The initial holdings (step -1) are never counted. Numba-compiled."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    units = 0.0
    for k in range(int(tax_state[i, TS_N_LOTS])):
        step = lots[i, k, LOT_STEP]
        recent = (lots[i, k, LOT_VEHICLE] == v) & (t - step <= wash_steps) & (step >= 0.0)
        units += lots[i, k, LOT_UNITS] if recent else 0.0
    return units


@njit_no_refcount
def add_wash_basis_nb(i, v, t, wash_steps, units, per_unit, lots, tax_state):
    """Add a disallowed wash loss of ``per_unit`` (currency per unit, >= 0) to the basis of
    up to ``units`` units of vehicle ``v`` of asset ``i`` bought within ``wash_steps`` steps
    of ``t`` (the replacement shares), lot by lot from the end of the book. Returns the
    units adjusted (fewer when fewer are held).

    The vehicle's highest cost per unit stays an upper bound. In a cost-ordered book an
    adjusted lot (its cost has grown) moves toward the end past the lots that now cost
    less; walking from the end, no lot is visited twice. Numba-compiled."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    by_cost = tax_state[i, TS_BY_COST] > 0.0
    n = int(tax_state[i, TS_N_LOTS])
    top = tax_state[i, TS_MAX_COST + v]
    left = units
    k = n - 1
    while k >= 0 and left > 0.0:
        if lots[i, k, LOT_VEHICLE] == v and t - lots[i, k, LOT_STEP] <= wash_steps:
            held = lots[i, k, LOT_UNITS]
            u = min(held, left)
            lots[i, k, LOT_BASIS] += u * per_unit
            left -= u
            top = max(top, lots[i, k, LOT_BASIS] / held)
            j = k
            while (
                by_cost
                and j + 1 < n
                and lots[i, j + 1, LOT_BASIS] * lots[i, j, LOT_UNITS]
                < lots[i, j, LOT_BASIS] * lots[i, j + 1, LOT_UNITS]
            ):
                for f in range(N_LOT_FIELDS):
                    x = lots[i, j + 1, f]
                    lots[i, j + 1, f] = lots[i, j, f]
                    lots[i, j, f] = x
                j += 1
        k -= 1
    tax_state[i, TS_MAX_COST + v] = top
    return units - left
