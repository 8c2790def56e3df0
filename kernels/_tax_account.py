"""A taxable account along a path: realised gains, yearly tax, dividends, loss harvesting.

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

The lot book itself (purchases, sales by lot method) is :mod:`._lots`; tax-aware shaping of
a rebalance's trades is :mod:`._trades`.
"""

import numpy as np
from numba import njit

from ._costs import asset_cost_nb, quote_cost_nb
from ._flows import place_flow_nb
from ._layout import (
    A_CARRY,
    A_TRADED,
    A_UNREALISED_TAX,
    A_WEALTH,
    A_YEAR_LONG,
    A_YEAR_SHORT,
    AP_DIVIDEND_STEP,
    DIV_REBALANCE,
    EP_HARVEST,
    EP_HARVEST_THRESHOLD,
    EP_TAX_AWARE,
    LOT_BASIS,
    LOT_FIFO,
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
    N_LOT_FIELDS,
    TAX_AWARE_AVOID_SHORT_TERM,
    TS_BUY_STEP,
    TS_BY_COST,
    TS_CURRENT,
    TS_LOSS_SALE,
    TS_MAX_COST,
    TS_N_LOTS,
    TS_PENDING_W,
    TS_PRICE,
    TS_TRADE_COST,
    TS_UNITS,
    TS_USED_STEP,
    TS_USED_UNITS,
    TS_WASH_LONG,
    TS_WASH_SHORT,
    TS_WASH_STEP,
    TS_WASH_UNITS,
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
from ._lots import (
    add_lot_nb,
    add_wash_basis_nb,
    book_lot_nb,
    compact_nb,
    holdings_value_nb,
    lot_value_nb,
    refresh_asset_nb,
    sell_lots_nb,
    tighten_top_cost_nb,
    window_units_nb,
)
from ._memory import fixed_fields_nb, njit_no_refcount
from ._noise import STREAM_TRACKING, noise_normal_nb

# Holdings and lots may differ by rounding; differences below this fraction of wealth are
# not traded.
_SYNC_TOL = 1e-10


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


# --- wash sales ------------------------------------------------------------------------------
@njit_no_refcount
def reset_stale_wash_nb(i, t, wash_steps, tax_state):
    """Empty the wash-sale pots of asset ``i`` whose latest loss sale is more than
    ``wash_steps`` steps before ``t``: no purchase can match those losses any more."""
    for v in range(2):
        if t - tax_state[i, TS_WASH_STEP + v] > wash_steps:
            tax_state[i, TS_WASH_UNITS + v] = 0.0
            tax_state[i, TS_WASH_SHORT + v] = 0.0
            tax_state[i, TS_WASH_LONG + v] = 0.0


@njit_no_refcount
def disallow_nb(i, v, matched, tax_state, acc):
    """Disallow the loss of ``matched`` units of vehicle ``v``'s wash-sale pot (their share
    of its short- and long-term losses): the loss is taken back out of the tax year's gains.
    Returns the disallowed loss (currency, >= 0), which goes into the replacement shares'
    basis. Numba-compiled."""
    pot = tax_state[i, TS_WASH_UNITS + v]
    g = 1.0 if matched >= pot else matched / pot
    ds = g * tax_state[i, TS_WASH_SHORT + v]
    dl = g * tax_state[i, TS_WASH_LONG + v]
    tax_state[i, TS_WASH_UNITS + v] = pot - matched if g < 1.0 else 0.0
    tax_state[i, TS_WASH_SHORT + v] -= ds
    tax_state[i, TS_WASH_LONG + v] -= dl
    realise_nb(-ds, -dl, acc)
    return -(ds + dl)


@njit(cache=True, inline="always")
def used_units_nb(i, v, t, wash_steps, tax_state):
    """Replacement shares of vehicle ``v`` of asset ``i`` already matched with a loss sale
    within the window before ``t`` (units); zero once the latest match is older than it."""
    if t - tax_state[i, TS_USED_STEP + v] > wash_steps:
        return 0.0
    return tax_state[i, TS_USED_UNITS + v]


@njit(cache=True, inline="always")
def use_replacements_nb(i, v, t, wash_steps, units, tax_state):
    """Record ``units`` of vehicle ``v`` bought within the window as matched with a loss
    sale at step ``t``, so no other loss sale uses them."""
    tax_state[i, TS_USED_UNITS + v] = used_units_nb(i, v, t, wash_steps, tax_state) + units
    tax_state[i, TS_USED_STEP + v] = t


@njit_no_refcount
def replacement_units_nb(i, v, t, wash_steps, tax_state, lots):
    """Replacement shares of vehicle ``v`` of asset ``i`` available at step ``t`` (units):
    those held in lots bought within the wash-sale window, less those already matched with
    a loss sale (:func:`used_units_nb`). Counted from the lots, so an account that buys at
    every step (reinvested dividends) counts only the purchases within the window.
    Numba-compiled."""
    # Without a purchase within the window no lot can be a replacement share (a merged lot
    # keeps the later of its purchase steps), so the book is not scanned.
    if t - tax_state[i, TS_BUY_STEP + v] > wash_steps:
        return 0.0
    held = window_units_nb(i, v, t, wash_steps, lots, tax_state)
    return max(0.0, held - used_units_nb(i, v, t, wash_steps, tax_state))


@njit_no_refcount
def match_look_back_nb(i, v, t, tax_params, tax_state, lots, acc):
    """After a sale at a loss of vehicle ``v`` at step ``t``: shares of ``v`` bought within
    the wash-sale window before it and still held (not already matched with another loss)
    are replacement shares. The loss of as many units as they number is disallowed and
    added to their basis, the same loss per unit to each (:func:`._lots.add_wash_basis_nb`).
    Returns the disallowed loss (currency, >= 0). Numba-compiled."""
    wash = tax_params[TX_WASH_STEPS]
    pot = tax_state[i, TS_WASH_UNITS + v]
    if pot <= 0.0 or tax_state[i, TS_WASH_STEP + v] != t:
        return 0.0
    repl = replacement_units_nb(i, v, t, wash, tax_state, lots)
    if repl <= 0.0:
        return 0.0
    per_unit = -(tax_state[i, TS_WASH_SHORT + v] + tax_state[i, TS_WASH_LONG + v]) / pot
    matched = add_wash_basis_nb(i, v, t, wash, min(pot, repl), per_unit, lots, tax_state)
    if matched <= 0.0:
        return 0.0
    use_replacements_nb(i, v, t, wash, matched, tax_state)
    return disallow_nb(i, v, matched, tax_state, acc)


@njit_no_refcount
def match_purchase_nb(i, v, units, tax_state, acc):
    """A purchase of ``units`` of vehicle ``v`` within the wash-sale window after a sale at a
    loss: the loss of as many sold units is disallowed. Returns ``(disallowed, matched)``:
    the loss to add to the purchase's basis (currency) and the units matched."""
    matched = min(units, tax_state[i, TS_WASH_UNITS + v])
    return disallow_nb(i, v, matched, tax_state, acc), matched


@njit(cache=True, inline="always")
def buy_nb(i, amount, cost, t, tax_params, tax_state, lots, acc):
    """Buy ``amount`` (currency of shares, > 0) of asset ``i``'s current vehicle at step ``t``,
    paying ``cost`` (currency) to trade: a lot with basis ``amount + cost``.

    A purchase within the wash-sale window after a sale of the same vehicle at a loss makes
    that loss a wash sale (:func:`match_purchase_nb`): it is disallowed and added to the new
    lot's basis, and the units matched so are recorded as used (:func:`use_replacements_nb`).
    The others are replacement shares of a loss sale that follows within the window
    (:func:`match_look_back_nb` counts them from the lots). Without cost or wash sale
    the lot is booked as :func:`add_lot_nb` books it (its units divided out once). Numba-compiled.
    """
    v = int(tax_state[i, TS_CURRENT])
    wash = tax_params[TX_WASH_STEPS]
    price = tax_state[i, TS_PRICE + v]
    units = amount / price
    extra = cost
    matched = 0.0
    if tax_state[i, TS_WASH_UNITS + v] > 0.0 and t - tax_state[i, TS_WASH_STEP + v] <= wash:
        disallowed, matched = match_purchase_nb(i, v, units, tax_state, acc)
        extra += disallowed
    if matched > 0.0:
        use_replacements_nb(i, v, t, wash, matched, tax_state)
    tax_state[i, TS_BUY_STEP + v] = t
    long_steps = tax_params[TX_LONG_STEPS]
    if extra > 0.0:
        basis = amount + extra
        book_lot_nb(i, units, basis, basis / units, t, v, long_steps, lots, tax_state)
    else:
        # As add_lot_nb books it, with the units already divided out.
        book_lot_nb(i, units, amount, price, t, v, long_steps, lots, tax_state)


@njit_no_refcount
def sync_lots_nb(t, h, method, tax_params, tax_state, lots, acc, gains):
    """Book the difference between holdings ``h`` and the lots as purchases and sales.

    A purchase becomes a lot of the asset's current vehicle at today's price (:func:`buy_nb`);
    a sale picks lots by ``method`` and realises gains into the current tax year, then
    matches its losses with shares bought within the wash-sale window before it
    (:func:`match_look_back_nb`). The asset's trading cost of this rebalance
    (``TS_TRADE_COST``) is added to a purchase's basis or deducted from a sale's proceeds,
    then reset. ``gains`` is a scratch array of 2. Numba-compiled.
    """
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    tol = _SYNC_TOL * acc[A_WEALTH]
    long_steps = tax_params[TX_LONG_STEPS]
    wash = tax_params[TX_WASH_STEPS]
    for i in range(h.size):
        d = h[i] - holdings_value_nb(i, tax_state)
        if d > tol:
            buy_nb(i, d, tax_state[i, TS_TRADE_COST], t, tax_params, tax_state, lots, acc)
        elif d < -tol:
            reset_stale_wash_nb(i, t, wash, tax_state)
            gains[0] = 0.0
            gains[1] = 0.0
            sell_lots_nb(i, -d, t, method, long_steps, lots, tax_state, True, gains)
            realise_nb(gains[0], gains[1], acc)
            for v in range(2):
                match_look_back_nb(i, v, t, tax_params, tax_state, lots, acc)
        tax_state[i, TS_TRADE_COST] = 0.0


# --- along a path --------------------------------------------------------------------------
@njit_no_refcount
def start_account_nb(h, tax_params, tax_state, lots):
    """Reset the per-path tax account; the initial holdings are lots bought at step -1 (never
    replacement shares of a wash sale)."""
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
        tax_state[i, TS_TRADE_COST] = 0.0
        for v in range(2):
            tax_state[i, TS_WASH_STEP + v] = -np.inf
            tax_state[i, TS_WASH_UNITS + v] = 0.0
            tax_state[i, TS_WASH_SHORT + v] = 0.0
            tax_state[i, TS_WASH_LONG + v] = 0.0
            tax_state[i, TS_USED_STEP + v] = -np.inf
            tax_state[i, TS_USED_UNITS + v] = 0.0
            tax_state[i, TS_BUY_STEP + v] = -np.inf
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
def harvest_vehicle_nb(
    i, v, t, h, wealth, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc
):
    """Harvest the lots of vehicle ``v`` of asset ``i`` past the threshold, if it pays (see
    :func:`harvest_nb`, which has checked that the vehicle may hold such lots and that
    buying the other is no wash sale). Returns the wealth less the harvest's costs.

    The sale's cost is deducted from its proceeds (so it adds to the loss, shared by the lots
    in proportion to their value) and the purchase's cost is added to the substitute's
    basis. Shares of ``v`` bought within the wash-sale window before the harvest and kept
    make the loss of as many units a wash sale (:func:`match_look_back_nb`): the harvest
    counts only the loss it may deduct. Numba-compiled."""
    lots = fixed_fields_nb(lots, N_LOT_FIELDS)
    thr = 1.0 - exec_params[EP_HARVEST_THRESHOLD]
    long_steps = tax_params[TX_LONG_STEPS]
    wash = tax_params[TX_WASH_STEPS]
    by_cost = tax_state[i, TS_BY_COST] > 0.0
    price = tax_state[i, TS_PRICE + v]
    other = 1 - v
    short = 0.0
    long = 0.0
    sold = 0.0
    sold_long = 0.0
    sold_units = 0.0
    recent_sold = 0.0
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
        sold_long += value if (hit & held_long) else 0.0
        sold_units += units if hit else 0.0
        recent_sold += units if (hit & (t - lots[i, k, LOT_STEP] <= wash)) else 0.0
    if sold <= 0.0:
        if by_cost:
            tighten_top_cost_nb(i, v, lots, tax_state)
        return wealth
    # Harvest only when the tax value of the loss it may deduct beats the round trip's cost.
    saving = -(short * tax_params[TX_SHORT_RATE] + long * tax_params[TX_LONG_RATE])
    quote = 2.0 * quote_cost_nb(i, sold, t, asset_params, noise_key, tax_state)
    # Replacement shares only lower the saving, so a harvest that does not pay without them
    # is refused before the book is scanned for them.
    if saving <= quote:
        return wealth
    # Shares bought within the window, not yet matched and not sold now, are the
    # replacement shares.
    repl = replacement_units_nb(i, v, t, wash, tax_state, lots) - recent_sold
    if repl > 0.0:
        saving *= 1.0 - min(1.0, repl / sold_units)
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
    sell_cost = asset_cost_nb(i, sold, t, asset_params, noise_key, tax_state, acc)
    buy_cost = asset_cost_nb(i, sold, t, asset_params, noise_key, tax_state, acc)
    cost = sell_cost + buy_cost
    # The sale's cost is shared by the lots sold in proportion to their value.
    long -= sell_cost * (sold_long / sold)
    short -= sell_cost * ((sold - sold_long) / sold)
    realise_nb(short, long, acc)
    reset_stale_wash_nb(i, t, wash, tax_state)
    tax_state[i, TS_WASH_UNITS + v] += sold_units
    tax_state[i, TS_WASH_SHORT + v] += short
    tax_state[i, TS_WASH_LONG + v] += long
    tax_state[i, TS_WASH_STEP + v] = t
    disallowed = match_look_back_nb(i, v, t, tax_params, tax_state, lots, acc)
    tax_state[i, TS_CURRENT] = other
    tax_state[i, TS_LOSS_SALE + v] = t
    if sold - cost > 0.0:
        buy_nb(i, sold - cost, buy_cost, t, tax_params, tax_state, lots, acc)
    h[i] -= cost
    acc[M_COSTS] += cost
    acc[A_TRADED] += sold / acc[A_WEALTH]
    acc[M_HARVESTED_LOSSES] -= short + long + min(disallowed, -(short + long))
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


@njit(cache=True, inline="always")
def book_step_nb(t, h, method, tax_params, tax_state, lots, acc, gains):
    """:func:`sync_lots_nb` for the per-step path: purchases (flows, reinvested dividends) are
    booked here, inlined; sales, which are rare outside rebalances, go through the compiled
    :func:`sync_lots_nb`. Assets are independent, so the result is the same."""
    tol = _SYNC_TOL * acc[A_WEALTH]
    sells = False
    for i in range(h.size):
        d = h[i] - holdings_value_nb(i, tax_state)
        if d > tol:
            buy_nb(i, d, 0.0, t, tax_params, tax_state, lots, acc)
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
