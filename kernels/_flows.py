"""Scheduled contributions and withdrawals, and where they go."""

from numba import njit

from ._layout import (
    FL_AMOUNT,
    FL_END,
    FL_EVERY,
    FL_GROWTH,
    FL_INDEX,
    FL_PCT_WEALTH,
    FL_START,
    FLOW_REBALANCE,
    FLOW_TO_TARGET,
    INDEX_FIXED,
    INDEX_INFLATION,
)


@njit(cache=True, inline="always")
def scheduled_flow_nb(t, wealth, price_index, flows, steps_per_year):
    """Net external flow at the end of step ``t`` (currency; + contribution, - withdrawal).

    ``flows`` has one row per schedule (columns ``layout.FL_*``); rows add up. Numba-compiled.
    """
    total = 0.0
    for k in range(flows.shape[0]):
        every = int(flows[k, FL_EVERY])
        start = int(flows[k, FL_START])
        if t < start or t > flows[k, FL_END] or every <= 0 or (t - start) % every != 0:
            continue
        amount = flows[k, FL_AMOUNT]
        index = int(flows[k, FL_INDEX])
        if index == INDEX_FIXED:
            amount *= (1.0 + flows[k, FL_GROWTH]) ** ((t + 1) / steps_per_year)
        elif index == INDEX_INFLATION:
            amount *= price_index
        total += amount + flows[k, FL_PCT_WEALTH] * wealth
    return total


@njit(cache=True)
def place_flow_nb(h, amount, target, mode):
    """Add ``amount`` (currency) to holdings ``h`` in place, following ``mode``.

    ``FLOW_PRO_RATA`` keeps current weights, ``FLOW_TO_TARGET`` splits by target weight,
    ``FLOW_REBALANCE`` sends a contribution to the most underweight assets (a withdrawal
    comes from the most overweight) so the flow itself moves the portfolio to target.
    The caller ensures a withdrawal never exceeds wealth.
    """
    n = h.size
    wealth = 0.0
    for i in range(n):
        wealth += h[i]
    if mode == FLOW_REBALANCE:
        new_wealth = wealth + amount
        # Gaps to target after the flow; fill them in proportion, never trading against them.
        gap_sum = 0.0
        for i in range(n):
            gap = target[i] * new_wealth - h[i]
            if gap * amount > 0.0:
                gap_sum += gap
        if gap_sum != 0.0 and abs(gap_sum) >= abs(amount):
            for i in range(n):
                gap = target[i] * new_wealth - h[i]
                if gap * amount > 0.0:
                    h[i] += amount * gap / gap_sum
            return
        if gap_sum != 0.0:
            # The flow closes every gap; what is left goes by target weight.
            rest = amount - gap_sum
            for i in range(n):
                gap = target[i] * new_wealth - h[i]
                if gap * amount > 0.0:
                    h[i] += gap
            for i in range(n):
                h[i] += rest * target[i]
            return
        mode = FLOW_TO_TARGET
    if mode == FLOW_TO_TARGET or wealth <= 0.0:
        for i in range(n):
            h[i] += amount * target[i]
        return
    for i in range(n):
        h[i] += amount * h[i] / wealth
