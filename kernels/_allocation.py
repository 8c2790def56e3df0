"""Allocation rules: volatility targeting, CPPI, mean-variance, risk parity, target volatility.

Each rule has the one policy signature (see :mod:`._policies`)::

    rule_nb(t, returns, w, wealth, target, params, state, w_new) -> bool

and is reached through ``builtin_rebalance_nb``. Parameter and state slots are the
``VT_* / CP_* / MV_* / RP_* / TV_*`` constants of :mod:`._layout`. ``state[0]`` is the
path's floor-breach count (CPPI) and stays 0 for the other rules.

The *risky sleeve* of a rule with a safe asset is the target weights of the other assets,
rescaled to sum to one; its *exposure* is the fraction of wealth it holds (``1 - w[safe]``).
The safe asset takes the rest, negative when the exposure exceeds one (borrowing at the safe
asset's return).

Conventions: ``returns`` are simple returns per step; annual figures (``target_vol``,
moments) use ``steps_per_year`` (variance times ``steps_per_year``, volatility times its
square root); trailing moments are sample moments of simple returns (``ddof = 1``).
"""

import numpy as np
from numba import njit

from ._layout import (
    CP_EVERY,
    CP_FLOOR,
    CP_FLOOR_GROWTH,
    CP_INITIAL_WEALTH,
    CP_MAX_EXPOSURE,
    CP_MULTIPLIER,
    CP_N_FIXED,
    CP_OFFSET,
    CP_SAFE,
    CS_BREACHES,
    CS_FLOOR,
    ESTIMATE_TRAILING,
    MS_CACHED,
    MS_FAILED,
    MS_N_FIXED,
    MV_ESTIMATE,
    MV_EVERY,
    MV_HAS_MODEL,
    MV_N_FIXED,
    MV_OFFSET,
    MV_RISK_AVERSION,
    MV_STEPS_PER_YEAR,
    MV_TURNOVER,
    MV_WINDOW,
    POLICY_CPPI,
    POLICY_MEAN_VARIANCE,
    POLICY_RISK_PARITY,
    POLICY_TARGET_VOL,
    POLICY_VOL_TARGET,
    RP_ESTIMATE,
    RP_EVERY,
    RP_HAS_MODEL,
    RP_N_FIXED,
    RP_OFFSET,
    RP_STEPS_PER_YEAR,
    RP_WINDOW,
    RS_CACHED,
    RS_FAILED,
    RS_N_FIXED,
    TS_N_FIXED,
    TV_ESTIMATE,
    TV_EVERY,
    TV_HAS_MODEL,
    TV_MAX_LEVERAGE,
    TV_N_FIXED,
    TV_OFFSET,
    TV_SAFE,
    TV_STEPS_PER_YEAR,
    TV_TARGET_VOL,
    TV_THRESHOLD,
    TV_WINDOW,
    VS_MEAN,
    VS_VAR,
    VT_DECAY,
    VT_EVERY,
    VT_MAX_LEVERAGE,
    VT_OFFSET,
    VT_SAFE,
    VT_STEPS_PER_YEAR,
    VT_TARGET_VOL,
    VT_THRESHOLD,
)
from ._solvers import (
    mean_variance_nb,
    risk_parity_nb,
    target_vol_scale_nb,
    trailing_moments_nb,
    trailing_sums_update_nb,
)


@njit(cache=True, inline="always")
def is_due_nb(t, every, offset):
    """True when ``t + 1`` elapsed steps is ``offset`` plus a multiple of ``every`` (> 0).

    With ``offset = 0`` a rule is due after ``every``, ``2 * every``, ... steps.
    """
    k = int(every)
    elapsed = t + 1 - int(offset)
    if k == 1:
        # Continuous monitoring asks on every step: no integer division there.
        return elapsed >= 0
    return k > 0 and elapsed >= 0 and elapsed % k == 0


@njit(cache=True, inline="always")
def sleeve_total_nb(target, safe):
    """Sum of the target weights outside the safe asset (the sleeve's normaliser)."""
    total = 0.0
    for i in range(target.size):
        if i != safe:
            total += target[i]
    return total


@njit(cache=True, inline="always")
def sleeve_weights_nb(target, safe, total, exposure, w_new):
    """``exposure`` spread over the sleeve in proportion to target, the rest in ``safe``."""
    scale = exposure / total
    for i in range(target.size):
        w_new[i] = target[i] * scale
    w_new[safe] = 1.0 - exposure


@njit(cache=True, inline="always")
def vol_target_nb(t, returns, w, wealth, target, params, state, w_new):
    """Volatility targeting of the risky sleeve against a safe asset.

    Every step, the EWMA mean and variance of the sleeve's return (per step) are updated
    (decay ``lambda = 0.5 ** (1 / halflife)``): ``d = x - m``, ``m += (1 - lambda) d``,
    ``v = lambda (v + (1 - lambda) d^2)``. On a due step the desired exposure is
    ``min(max_leverage, target_vol / sqrt(v * steps_per_year))``; the rule trades when it
    differs from the current exposure ``1 - w[safe]`` by more than ``threshold``.
    """
    safe = int(params[VT_SAFE])
    total = sleeve_total_nb(target, safe)
    if total <= 0.0:
        return False
    x = 0.0
    for i in range(w.size):
        if i != safe:
            x += target[i] * returns[t, i]
    x /= total
    lam = params[VT_DECAY]
    d = x - state[VS_MEAN]
    state[VS_MEAN] += (1.0 - lam) * d
    state[VS_VAR] = lam * (state[VS_VAR] + (1.0 - lam) * d * d)
    if not is_due_nb(t, params[VT_EVERY], params[VT_OFFSET]):
        return False
    vol = np.sqrt(state[VS_VAR] * params[VT_STEPS_PER_YEAR])
    max_lev = params[VT_MAX_LEVERAGE]
    exposure = max_lev if vol <= 0.0 else min(max_lev, params[VT_TARGET_VOL] / vol)
    if abs(exposure - (1.0 - w[safe])) <= params[VT_THRESHOLD]:
        return False
    sleeve_weights_nb(target, safe, total, exposure, w_new)
    return True


@njit(cache=True, inline="always")
def cppi_floor_nb(t, returns, wealth, params, state):
    """Move the CPPI floor to the end of step ``t`` and count a breach (``wealth`` below
    it) in ``state[0]``; returns the floor (currency).

    The engine calls it alone on the step a path is ruined (``wealth <= 0``), where the rule
    itself is no longer consulted, so a crash that wipes out wealth in one step counts.
    See :func:`cppi_nb` for the floor's definition.
    """
    floor = state[CS_FLOOR]
    if np.isnan(floor):
        w0 = params[CP_INITIAL_WEALTH]
        if np.isnan(w0):
            growth0 = 1.0
            for i in range(returns.shape[1]):
                growth0 += params[CP_N_FIXED + i] * returns[0, i]
            w0 = wealth / growth0
        floor = params[CP_FLOOR] * w0
    g = params[CP_FLOOR_GROWTH]
    floor *= 1.0 + (returns[t, int(params[CP_SAFE])] if np.isnan(g) else g)
    state[CS_FLOOR] = floor
    if wealth < floor:
        state[CS_BREACHES] += 1.0
    return floor


@njit(cache=True, inline="always")
def cppi_nb(t, returns, w, wealth, target, params, state, w_new):
    """Constant proportion portfolio insurance (Perold-Sharpe).

    The floor ``F`` starts at ``floor * W_0`` and grows every step at the safe asset's
    realised return (or at the fixed ``floor_growth`` per step when that is not NaN). Every
    step with ``wealth < F`` adds one to ``state[0]``, the step on which wealth runs out
    included (:func:`cppi_floor_nb`). On a due step the exposure to the sleeve is
    ``min(max_exposure * W, multiplier * max(W - F, 0))``.

    ``W_0`` is ``params[CP_INITIAL_WEALTH]``; when that is NaN it is recovered at the first
    step from the wealth and the initial weights (``params[CP_N_FIXED:]``):
    ``W_0 = wealth / (1 + w_init' r_0)``, which counts a flow paid on the first step as part
    of the initial wealth.
    """
    safe = int(params[CP_SAFE])
    floor = cppi_floor_nb(t, returns, wealth, params, state)
    if not is_due_nb(t, params[CP_EVERY], params[CP_OFFSET]):
        return False
    total = sleeve_total_nb(target, safe)
    if total <= 0.0:
        return False
    cushion = max(wealth - floor, 0.0)
    exposure = min(params[CP_MAX_EXPOSURE], params[CP_MULTIPLIER] * cushion / wealth)
    sleeve_weights_nb(target, safe, total, exposure, w_new)
    return True


@njit(cache=True, inline="always")
def mean_variance_rule_nb(t, returns, w, wealth, target, params, state, w_new):
    """Mean-variance re-optimisation on due steps (long-only, fully invested).

    Moments are the trailing window's (once ``window`` steps have elapsed) or the model's
    (annual, from ``params``); before the window fills, the model's moments are used when
    known, else the rule holds. With model moments and no turnover penalty the solution is
    the same every time: it is solved once per path and kept in ``state``.
    ``state[MS_FAILED]`` counts solves that hit the iteration limit. With trailing moments
    the last ``1 + n + n * n`` slots of ``state`` hold the window's rolling sums
    (``trailing_sums_update_nb``), brought up to date on due steps.
    """
    n = w.size
    window = int(params[MV_WINDOW])
    trailing = params[MV_ESTIMATE] == ESTIMATE_TRAILING
    o_sums = state.size - 1 - n - n * n
    if not is_due_nb(t, params[MV_EVERY], params[MV_OFFSET]):
        return False
    if trailing:
        trailing_sums_update_nb(returns, t, window, state, o_sums)
    o_mu = MS_N_FIXED
    o_cov = o_mu + n
    o_sol = o_cov + n * n
    o_work = o_sol + n
    w_sol = state[o_sol : o_sol + n]
    kappa = params[MV_TURNOVER]
    if trailing and t + 1 >= window:
        mu = state[o_mu : o_mu + n]
        cov = state[o_cov : o_cov + n * n].reshape((n, n))
        trailing_moments_nb(state, o_sums, n, window, params[MV_STEPS_PER_YEAR], mu, cov)
        cached = False
    elif params[MV_HAS_MODEL] == 1.0:
        if kappa == 0.0 and state[MS_CACHED] == 1.0:
            for i in range(n):
                w_new[i] = w_sol[i]
            return True
        mu = params[MV_N_FIXED : MV_N_FIXED + n]
        cov = params[MV_N_FIXED + n : MV_N_FIXED + n + n * n].reshape((n, n))
        cached = kappa == 0.0
    else:
        return False
    status = mean_variance_nb(
        mu, cov, params[MV_RISK_AVERSION], w, kappa, w_sol, state[o_work:o_sums]
    )
    if status < 0:
        state[MS_FAILED] += 1.0
    if cached:
        state[MS_CACHED] = 1.0
    for i in range(n):
        w_new[i] = w_sol[i]
    return True


@njit(cache=True, inline="always")
def risk_parity_rule_nb(t, returns, w, wealth, target, params, state, w_new):
    """Risk parity (risk budgeting) re-solved on due steps, long-only and fully invested.

    The covariance is the trailing window's or the model's (as for mean-variance); the
    budgets are ``params[RP_N_FIXED : RP_N_FIXED + n]``. ``state[RS_FAILED]`` counts solves
    that did not converge.
    """
    n = w.size
    window = int(params[RP_WINDOW])
    trailing = params[RP_ESTIMATE] == ESTIMATE_TRAILING
    o_sums = state.size - 1 - n - n * n
    if not is_due_nb(t, params[RP_EVERY], params[RP_OFFSET]):
        return False
    if trailing:
        trailing_sums_update_nb(returns, t, window, state, o_sums)
    o_mu = RS_N_FIXED
    o_cov = o_mu + n
    o_sol = o_cov + n * n
    o_work = o_sol + n
    w_sol = state[o_sol : o_sol + n]
    budgets = params[RP_N_FIXED : RP_N_FIXED + n]
    if trailing and t + 1 >= window:
        mu = state[o_mu : o_mu + n]
        cov = state[o_cov : o_cov + n * n].reshape((n, n))
        trailing_moments_nb(state, o_sums, n, window, params[RP_STEPS_PER_YEAR], mu, cov)
        cached = False
    elif params[RP_HAS_MODEL] == 1.0:
        if state[RS_CACHED] == 1.0:
            for i in range(n):
                w_new[i] = w_sol[i]
            return True
        cov = params[RP_N_FIXED + n : RP_N_FIXED + n + n * n].reshape((n, n))
        cached = True
    else:
        return False
    # Warm start from the previous solution of the path (zeros before the first solve).
    status = risk_parity_nb(cov, budgets, w_sol, state[o_work:o_sums], w_sol[0] > 0.0)
    if status < 0:
        state[RS_FAILED] += 1.0
    if cached:
        state[RS_CACHED] = 1.0
    for i in range(n):
        w_new[i] = w_sol[i]
    return True


@njit(cache=True, inline="always")
def target_vol_rule_nb(t, returns, w, wealth, target, params, state, w_new):
    """Target volatility of the whole portfolio: ``w = k * target + (1 - k) * e_safe``.

    ``k`` solves ``w' cov w = target_vol^2`` (annual covariance, trailing or model), capped
    at ``max_leverage``. The rule trades on due steps when the sleeve exposure ``k * (1 -
    target[safe])`` differs from the current ``1 - w[safe]`` by more than ``threshold``.
    """
    n = w.size
    window = int(params[TV_WINDOW])
    trailing = params[TV_ESTIMATE] == ESTIMATE_TRAILING
    o_sums = state.size - 1 - n - n * n
    if not is_due_nb(t, params[TV_EVERY], params[TV_OFFSET]):
        return False
    if trailing:
        trailing_sums_update_nb(returns, t, window, state, o_sums)
    safe = int(params[TV_SAFE])
    if trailing and t + 1 >= window:
        o_mu = TS_N_FIXED
        o_cov = o_mu + n
        mu = state[o_mu : o_mu + n]
        cov = state[o_cov : o_cov + n * n].reshape((n, n))
        trailing_moments_nb(state, o_sums, n, window, params[TV_STEPS_PER_YEAR], mu, cov)
    elif params[TV_HAS_MODEL] == 1.0:
        cov = params[TV_N_FIXED : TV_N_FIXED + n * n].reshape((n, n))
    else:
        return False
    k = target_vol_scale_nb(cov, target, safe, params[TV_TARGET_VOL], params[TV_MAX_LEVERAGE])
    exposure = k * (1.0 - target[safe])
    if abs(exposure - (1.0 - w[safe])) <= params[TV_THRESHOLD]:
        return False
    for i in range(n):
        w_new[i] = k * target[i]
    w_new[safe] += 1.0 - k
    return True


@njit(cache=True, inline="always")
def is_allocation_kind_nb(kind):
    """True when ``kind`` is one of the allocation rules of this module."""
    return POLICY_VOL_TARGET <= kind <= POLICY_TARGET_VOL


@njit(cache=True, inline="always")
def allocation_rebalance_nb(kind, t, returns, w, wealth, target, params, state, w_new):
    """Dispatch to the allocation rule ``kind`` (``layout.POLICY_VOL_TARGET`` and after)."""
    if kind == POLICY_VOL_TARGET:
        return vol_target_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == POLICY_CPPI:
        return cppi_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == POLICY_MEAN_VARIANCE:
        return mean_variance_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == POLICY_RISK_PARITY:
        return risk_parity_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == POLICY_TARGET_VOL:
        return target_vol_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    return False
