"""Trading costs of a rebalance."""

from numba import njit

from ._layout import (
    AP_FIXED_FEE,
    AP_HALF_SPREAD,
    AP_PROPORTIONAL,
    M_COST_FIXED,
    M_COST_PROPORTIONAL,
    M_COST_SPREAD,
)


@njit(cache=True, inline="always")
def trade_costs_nb(t, trade, asset_params, noise_path, acc):
    """Cost of the trades ``trade`` (currency per asset, + buy / - sell).

    Adds each component to its slot of ``acc`` and returns the total (currency, >= 0).
    Numba-compiled.
    """
    proportional = 0.0
    fixed = 0.0
    spread = 0.0
    for i in range(trade.size):
        a = abs(trade[i])
        if a == 0.0:
            continue
        proportional += asset_params[i, AP_PROPORTIONAL] * a
        spread += asset_params[i, AP_HALF_SPREAD] * a
        fixed += asset_params[i, AP_FIXED_FEE]
    acc[M_COST_PROPORTIONAL] += proportional
    acc[M_COST_FIXED] += fixed
    acc[M_COST_SPREAD] += spread
    return proportional + fixed + spread
