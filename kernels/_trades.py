"""Shaping a rebalance's trades before execution: tax-aware cuts and deferral, the
participation cap.

A policy's trades (currency per asset) are adjusted here before the engine executes them:
a tax-aware policy avoids realising short-term gains or skips a trade whose estimated tax
exceeds its benefit, and the participation cap (``_costs.cap_trades_nb``) scales the trade
down and carries the rest to the next step.
"""

from numba import njit

from ._costs import cap_trades_nb
from ._layout import (
    A_PENDING,
    EP_RISK_AVERSION,
    EP_TAX_AWARE,
    LOT_BASIS,
    LOT_STEP,
    N_EXEC_PARAMS,
    N_LOT_FIELDS,
    TAX_AWARE_AVOID_SHORT_TERM,
    TAX_AWARE_DEFER,
    TS_N_LOTS,
    TX_ENABLED,
    TX_LONG_RATE,
    TX_LONG_STEPS,
    TX_LOT_METHOD,
    TX_SHORT_RATE,
)
from ._lots import (
    lot_value_nb,
    sell_lots_nb,
)
from ._memory import fixed_fields_nb, njit_no_refcount


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
    """Shape a trade for every feature (see :func:`shape_trades_for_nb`)."""
    return shape_trades_for_nb(
        t, trade, w_new, wealth, asset_params, tax_params, exec_params, tax_state, lots, acc,
        gains, True,
    )  # fmt: skip


@njit(cache=True, inline="always")
def shape_trades_for_nb(
    t, trade, w_new, wealth, asset_params, tax_params, exec_params, tax_state, lots, acc, gains,
    taxes,
):  # fmt: skip
    """Adjust a policy's trades (currency per asset) before they are executed.

    Tax-aware policies first cut sales that would realise short-term gains
    (``TAX_AWARE_AVOID_SHORT_TERM``) or skip the trade when its estimated tax exceeds its
    benefit (``TAX_AWARE_DEFER``, see :func:`trade_benefit_nb`); then the participation cap
    scales the trade down and carries the rest. Returns the sum of ``|trade|`` (0 = no
    trade). With ``taxes`` a literal False (an untaxed loop) the tax-aware part is pruned
    before typing. Numba-compiled.
    """
    mode = int(exec_params[EP_TAX_AWARE])
    if taxes and tax_params[TX_ENABLED] > 0.0 and mode != 0:
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
