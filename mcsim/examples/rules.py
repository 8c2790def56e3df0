"""Example custom rebalancing rules: compiled functions with the signature of :class:`mcsim.Custom`.

A custom rule is any ``@numba.njit`` function
``rule_nb(t, returns, w, wealth, target, params, state, w_new) -> bool`` (see
``docs/policies.md``): it is called after every step, returns True to trade and then fills
``w_new`` with the weights to trade to. A scenario file names one as ``"package.module:function"``,
e.g. ``rebalance_nb = "mcsim.examples.rules:momentum_tilt_nb"`` in ``configs/bands_5_25.toml``;
in Python, pass the function itself::

    import mcsim
    from mcsim.examples.rules import drift_or_calendar_nb

    policy = mcsim.Custom(
        name="drift_or_yearly", rebalance_nb=drift_or_calendar_nb, params=[0.05, 12], state_size=1
    )
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["drift_or_calendar_nb", "momentum_tilt_nb"]


@njit(cache=True)
def drift_or_calendar_nb(t, returns, w, wealth, target, params, state, w_new):
    """Back to target when the weights drift too far, or at the latest after a number of steps.

    Numba-compiled custom rule (see the module docstring for the signature).

    Parameters
    ----------
    t : int
        0-based index of the step just ended.
    returns : ndarray of shape (n_steps, n_assets)
        The path's simple returns; only rows ``<= t`` are read (none by this rule).
    w : ndarray of shape (n_assets,)
        Current weights.
    wealth : float
        Current wealth (not used by this rule).
    target : ndarray of shape (n_assets,)
        This step's target weights.
    params : ndarray of shape (2,)
        ``params[0]``: largest drift ``0.5 * sum |w - target|`` left alone (fraction);
        ``params[1]``: steps after the last trade at which the rule trades anyway.
    state : ndarray of shape (1,)
        ``state[0]`` counts the steps since the last trade (``state_size = 1``).
    w_new : ndarray of shape (n_assets,)
        Output: the target, when the rule trades.

    Returns
    -------
    bool
        True when the rule trades to ``w_new``.
    """
    state[0] += 1.0
    drift = 0.0
    for i in range(w.size):
        drift += abs(w[i] - target[i])
    if 0.5 * drift <= params[0] and state[0] < params[1]:
        return False
    state[0] = 0.0
    for i in range(w.size):
        w_new[i] = target[i]
    return True


@njit(cache=True)
def momentum_tilt_nb(t, returns, w, wealth, target, params, state, w_new):
    """Rebalance on a calendar to the target tilted towards the recent best performer.

    Numba-compiled custom rule (see the module docstring for the signature). Every
    ``params[0]`` steps it trades to the target plus ``params[1]`` weight points on the asset
    with the best compounded return over the last ``params[2]`` steps, taken from the other
    assets pro rata to their targets, so weights stay >= 0 and sum to 1.

    Parameters
    ----------
    t : int
        0-based index of the step just ended.
    returns : ndarray of shape (n_steps, n_assets)
        The path's simple returns; rows ``t + 1 - params[2] .. t`` are read.
    w : ndarray of shape (n_assets,)
        Current weights (only their count is used).
    wealth : float
        Current wealth (not used by this rule).
    target : ndarray of shape (n_assets,)
        This step's target weights.
    params : ndarray of shape (3,)
        ``[every, tilt, lookback]``: steps between trades, tilt (weight fraction, capped at
        the other assets' total target) and lookback (steps).
    state : ndarray
        Not used by this rule.
    w_new : ndarray of shape (n_assets,)
        Output: the tilted target, when the rule trades.

    Returns
    -------
    bool
        True on the steps where the rule trades to ``w_new``.
    """
    every = int(params[0])
    if every <= 0 or (t + 1) % every != 0:
        return False
    lookback = int(params[2])
    n = w.size
    best = 0
    best_r = -np.inf
    for i in range(n):
        growth = 1.0
        for s in range(max(0, t + 1 - lookback), t + 1):
            growth *= 1.0 + returns[s, i]
        if growth > best_r:
            best_r = growth
            best = i
    others = 1.0 - target[best]
    tilt = min(params[1], others)
    for i in range(n):
        if i == best:
            w_new[i] = target[i] + tilt
        elif others > 0.0:
            w_new[i] = target[i] - tilt * target[i] / others
        else:
            w_new[i] = target[i]
    return True
