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
from ._memory import njit_no_refcount


@njit(cache=True, inline="always")
def scheduled_flow_nb(t, wealth, price_index, flows, steps_per_year):
    """Net external flow at the end of step ``t`` (currency; + contribution, - withdrawal).

    ``flows`` has one row per schedule (columns ``layout.FL_*``); rows add up. A row pays at
    the end of steps ``start, start + every, ...`` up to ``end``. Its amount is
    ``FL_AMOUNT`` (grown by ``(1 + FL_GROWTH) ** years_elapsed`` with ``INDEX_FIXED``, or
    times the path's price index with ``INDEX_INFLATION``) plus ``FL_PCT_WEALTH * wealth``,
    with ``wealth`` the wealth after the step's market move. Numba-compiled.
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


@njit_no_refcount
def flow_table_nb(flows, steps_per_year, out):
    """Net flow of every step into ``out`` (n_steps,) when no schedule depends on the path.

    Returns False, leaving ``out`` alone, when a schedule depends on wealth
    (``FL_PCT_WEALTH``) or on the path's price index (``INDEX_INFLATION``); otherwise True,
    with ``out[t]`` equal to :func:`scheduled_flow_nb` at step ``t`` (the same arithmetic, so
    the step loop reads the table instead of recomputing amounts and growth factors).
    Numba-compiled.
    """
    for k in range(flows.shape[0]):
        if flows[k, FL_PCT_WEALTH] != 0.0 or int(flows[k, FL_INDEX]) == INDEX_INFLATION:
            return False
    for t in range(out.size):
        out[t] = scheduled_flow_nb(t, 0.0, 1.0, flows, steps_per_year)
    return True


@njit_no_refcount
def place_flow_nb(h, amount, target, mode):
    """Add ``amount`` (currency) to holdings ``h`` in place, following ``mode``.

    ``FLOW_PRO_RATA`` keeps current weights, ``FLOW_TO_TARGET`` splits by target weight
    (a withdrawal never takes a holding below zero: the excess comes pro rata from the rest).
    ``FLOW_REBALANCE`` (cash-flow rebalancing) sends a contribution to the most underweight
    assets first and takes a withdrawal from the most overweight first: with
    ``gap_i = target_i * (wealth + amount) - h_i`` (currency, the gap left after the flow),
    a contribution ``A > 0`` buys ``max(gap_i - L, 0)`` of each asset with the level ``L >= 0``
    such that the purchases add up to ``A`` ("water-filling": the largest gaps in weight
    points are closed first, down to a common level). A withdrawal does the same with the
    overweights ``-gap_i``. Since the gaps sum to ``A``, such a level always exists, and no
    asset is traded against its gap or pushed past its target.
    The caller ensures a withdrawal never exceeds wealth. Numba-compiled.
    """
    n = h.size
    wealth = 0.0
    for i in range(n):
        wealth += h[i]
    if mode == FLOW_REBALANCE and wealth > 0.0:
        new_wealth = wealth + amount
        sign = 1.0 if amount > 0.0 else -1.0
        a = abs(amount)
        # The two largest gaps (in the direction of the flow). When the flow fits into the
        # largest gap above the second one, it all goes there: the common case of a small
        # flow, settled without a search.
        g1 = 0.0
        g2 = 0.0
        top = -1
        for i in range(n):
            # Branch-free update of the two largest (the order of gaps is unpredictable).
            g = sign * (target[i] * new_wealth - h[i])
            g2 = max(g2, min(g, g1))
            top = i if g > g1 else top
            g1 = max(g1, g)
        if top >= 0 and g1 - a >= g2:
            h[top] += amount
            return
        if top >= 0:
            # Michelot's iteration: the level over the active gaps, dropping gaps below
            # it, until the level stops rising (at most n rounds). It may start from any
            # lower bound of the level: for any set S of gaps, (sum_S gap - a) / |S| is
            # one; here S is the two largest. The level stays >= 0, so `g > level` also
            # means the gap is positive.
            level = max(0.5 * (g1 + g2 - a), 0.0)
            for _ in range(n + 1):
                total = 0.0
                count = 0.0
                for i in range(n):
                    g = sign * (target[i] * new_wealth - h[i])
                    active = 1.0 if g > level else 0.0
                    total += active * g
                    count += active
                new_level = max((total - a) / count, 0.0)
                if new_level <= level:
                    break
                level = new_level
            for i in range(n):
                g = sign * (target[i] * new_wealth - h[i])
                h[i] += sign * max(g - level, 0.0)
            return
        mode = FLOW_TO_TARGET
    if wealth <= 0.0 or (mode == FLOW_TO_TARGET and amount > 0.0):
        for i in range(n):
            h[i] += amount * target[i]
        return
    if mode == FLOW_TO_TARGET:
        # A withdrawal by target weight, except that no holding goes below zero: what an
        # asset cannot give is taken from the others in proportion to what they keep.
        a = -amount
        short = 0.0
        rest = 0.0
        for i in range(n):
            take = a * target[i]
            if take > h[i] and h[i] >= 0.0:
                short += take - h[i]
            else:
                rest += h[i] - take
        for i in range(n):
            take = a * target[i]
            if take > h[i] and h[i] >= 0.0:
                h[i] = 0.0
            else:
                keep = h[i] - take
                h[i] = keep - short * keep / rest if short > 0.0 else keep
        return
    for i in range(n):
        h[i] += amount * h[i] / wealth
