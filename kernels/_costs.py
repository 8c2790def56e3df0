"""Trading costs: commissions, fixed fees, spread, slippage, market impact, participation cap.

Every component is a cost (>= 0, currency) paid from the portfolio and added to its own
metric slot, so a report can show each one separately. Slippage is *adverse*: the execution
price error is ``slippage * vol_step * |z|`` of the traded value with ``z`` the standard
normal of the path, step and asset (``_noise.noise_normal_nb``), never a gain. Market impact
follows the square-root law ``eta * sigma_daily * sqrt(|trade| / ADV) * |trade|``, with ADV
optionally growing with the asset's price index along the path.
"""

import numpy as np
from numba import njit

from ._layout import (
    A_PENDING,
    AP_ADV,
    AP_ADV_GROWTH,
    AP_DAYS_PER_STEP,
    AP_FIXED_FEE,
    AP_HALF_SPREAD,
    AP_IMPACT_ETA,
    AP_PARTICIPATION,
    AP_PROPORTIONAL,
    AP_SLIPPAGE,
    AP_VOL_DAILY,
    AP_VOL_STEP,
    M_COST_FIXED,
    M_COST_IMPACT,
    M_COST_PROPORTIONAL,
    M_COST_SLIPPAGE,
    M_COST_SPREAD,
    M_DEFERRED_TRADES,
    TS_PENDING_W,
    TS_PRICE,
    TS_TRADE_COST,
)
from ._memory import njit_no_refcount
from ._noise import STREAM_SLIPPAGE, noise_normal_nb


@njit(cache=True, inline="always")
def adv_nb(i, asset_params, tax_state):
    """Average daily volume of asset ``i`` now (currency): grows with its price index if set."""
    adv = asset_params[i, AP_ADV]
    if asset_params[i, AP_ADV_GROWTH] > 0.0:
        adv *= tax_state[i, TS_PRICE]
    return adv


@njit(cache=True, inline="always")
def impact_cost_nb(amount, eta, vol_daily, adv):
    """Square-root market impact of trading ``amount`` (currency, >= 0): ``eta s sqrt(a/V) a``."""
    if eta <= 0.0 or amount <= 0.0 or not np.isfinite(adv):
        return 0.0
    return eta * vol_daily * np.sqrt(amount / adv) * amount


@njit(cache=True, inline="always")
def asset_cost_parts_nb(i, amount, t, asset_params, noise_key, tax_state):
    """Components of the cost of trading ``amount`` (currency, > 0) of asset ``i`` at step
    ``t``: (proportional, fixed, spread, slippage, impact), each >= 0 (currency).

    Slippage uses the normal of the path key ``noise_key`` (uint64) at step ``t`` and asset
    ``i`` (slippage stream), drawn only when the asset has slippage. Numba-compiled.
    """
    proportional = asset_params[i, AP_PROPORTIONAL] * amount
    spread = asset_params[i, AP_HALF_SPREAD] * amount
    fixed = asset_params[i, AP_FIXED_FEE]
    slip = 0.0
    s = asset_params[i, AP_SLIPPAGE]
    if s > 0.0:
        z = noise_normal_nb(noise_key, t, i, asset_params.shape[0], STREAM_SLIPPAGE)
        slip = s * asset_params[i, AP_VOL_STEP] * abs(z) * amount
    impact = 0.0
    eta = asset_params[i, AP_IMPACT_ETA]
    if eta > 0.0:
        impact = impact_cost_nb(
            amount, eta, asset_params[i, AP_VOL_DAILY], adv_nb(i, asset_params, tax_state)
        )
    return proportional, fixed, spread, slip, impact


@njit(cache=True, inline="always")
def quote_cost_nb(i, amount, t, asset_params, noise_key, tax_state):
    """Total cost of trading ``amount`` of asset ``i`` (currency), without booking it."""
    a, b, c, d, e = asset_cost_parts_nb(i, amount, t, asset_params, noise_key, tax_state)
    return a + b + c + d + e


@njit(cache=True, inline="always")
def book_costs_nb(proportional, fixed, spread, slip, impact, acc):
    """Add cost components (currency) to their ``acc`` slots; returns their total."""
    acc[M_COST_PROPORTIONAL] += proportional
    acc[M_COST_FIXED] += fixed
    acc[M_COST_SPREAD] += spread
    acc[M_COST_SLIPPAGE] += slip
    acc[M_COST_IMPACT] += impact
    return proportional + fixed + spread + slip + impact


@njit(cache=True, inline="always")
def asset_cost_nb(i, amount, t, asset_params, noise_key, tax_state, acc):
    """Cost of trading ``amount`` (currency, > 0) of asset ``i`` at step ``t``.

    Adds each component to its ``acc`` slot and returns the total (currency, >= 0).
    Numba-compiled.
    """
    proportional, fixed, spread, slip, impact = asset_cost_parts_nb(
        i, amount, t, asset_params, noise_key, tax_state
    )
    return book_costs_nb(proportional, fixed, spread, slip, impact, acc)


@njit(cache=True, inline="always")
def execution_costs_nb(t, trade, asset_params, noise_key, tax_state, acc):
    """Cost of the trades ``trade`` (currency per asset, + buy / - sell).

    Adds each component to its slot of ``acc`` and returns the total (currency, >= 0).
    Each asset's cost is kept in ``tax_state[:, TS_TRADE_COST]`` for the tax lots (basis of a
    purchase, proceeds of a sale). Numba-compiled.
    """
    # Components are summed in locals and booked once: adding to ``acc`` per asset would
    # chain every asset's cost through memory.
    proportional = 0.0
    fixed = 0.0
    spread = 0.0
    slip = 0.0
    impact = 0.0
    for i in range(trade.size):
        a = abs(trade[i])
        if a == 0.0:
            tax_state[i, TS_TRADE_COST] = 0.0
            continue
        p, f, s, sl, im = asset_cost_parts_nb(i, a, t, asset_params, noise_key, tax_state)
        tax_state[i, TS_TRADE_COST] = p + f + s + sl + im
        proportional += p
        fixed += f
        spread += s
        slip += sl
        impact += im
    return book_costs_nb(proportional, fixed, spread, slip, impact, acc)


@njit(cache=True, inline="always")
def participation_scale_nb(trade, asset_params, tax_state):
    """Largest fraction in (0, 1] of ``trade`` that keeps every asset within its volume cap.

    The cap of asset ``i`` is ``ADV * trading days in the step * participation``. Scaling the
    whole trade vector keeps it self-financing. Numba-compiled.
    """
    scale = 1.0
    for i in range(trade.size):
        cap = asset_params[i, AP_PARTICIPATION]
        if not np.isfinite(cap):
            continue
        a = abs(trade[i])
        if a == 0.0:
            continue
        limit = adv_nb(i, asset_params, tax_state) * asset_params[i, AP_DAYS_PER_STEP] * cap
        if a > limit:
            scale = min(scale, limit / a)
    return scale


@njit(cache=True, inline="always")
def cap_trades_nb(trade, w_new, asset_params, tax_state, acc):
    """Apply the participation cap to ``trade`` in place; carry the rest to the next step.

    When the cap binds, the target weights ``w_new`` are kept in ``tax_state[:, TS_PENDING_W]``
    and ``acc[A_PENDING]`` is set, so the next step trades toward them again (unless the
    policy decides anew); ``M_DEFERRED_TRADES`` counts the steps on which this happened.
    Returns the scale applied. Numba-compiled.
    """
    scale = participation_scale_nb(trade, asset_params, tax_state)
    if scale < 1.0:
        for i in range(trade.size):
            trade[i] *= scale
            tax_state[i, TS_PENDING_W] = w_new[i]
        acc[A_PENDING] = 1.0
        acc[M_DEFERRED_TRADES] += 1.0
    else:
        acc[A_PENDING] = 0.0
    return scale


@njit_no_refcount
def pending_weights_nb(tax_state, acc, w_new):
    """When a capped trade is carried, write its target weights into ``w_new``; True if so."""
    if acc[A_PENDING] <= 0.0:
        return False
    for i in range(w_new.size):
        w_new[i] = tax_state[i, TS_PENDING_W]
    return True


@njit_no_refcount
def adv_grows_nb(asset_params):
    """True when some asset's ADV grows with its price index."""
    for i in range(asset_params.shape[0]):
        if asset_params[i, AP_ADV_GROWTH] > 0.0:
            return True
    return False
