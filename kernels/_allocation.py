"""Allocation rules: volatility targeting, CPPI, mean-variance, risk parity, target volatility.

Each rule has the one policy signature (see :mod:`._policies`)::

    rule_nb(t, returns, w, wealth, target, params, state, w_new) -> bool

and is reached through the registry's dispatch (:mod:`._registry`). Each rule's parameter
and state slots are declared once, below, with ``_layout.slots`` / ``_layout.rule_state``
(``VT / CP / MV / RP / TV`` and their states); the policy classes fill the parameter arrays
from the same declarations. ``state[EVENTS]`` (slot 0) is the path's event count: CPPI's
floor breaches, 0 for the other rules.

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

from ._layout import rule_state, slots
from ._solvers import (
    mean_variance_nb,
    risk_parity_nb,
    target_vol_scale_nb,
    trailing_moments_nb,
    trailing_sums_update_nb,
)

ESTIMATE_MODEL = 0  # moments of the return model (annual)
ESTIMATE_TRAILING = 1  # sample moments of the path's trailing window

# Volatility target: params [every, offset, safe, target_vol, decay, max_leverage,
# threshold, steps_per_year]; state [events, ewma_mean, ewma_var] (per step). safe is the
# index of the safe asset, target_vol the annual volatility target of the portfolio, decay
# the EWMA decay per step (0.5 ** (1 / halflife)), max_leverage the largest sleeve exposure
# (fraction of wealth); the rule trades only when |desired - current exposure| > threshold.
VT = slots(
    "every", "offset", "safe", "target_vol", "decay", "max_leverage", "threshold",
    "steps_per_year",
)  # fmt: skip
VS = rule_state("mean", "var")

# CPPI: params [every, offset, safe, floor, multiplier, max_exposure, floor_growth,
# initial_wealth], then w_init[0..n_assets); state [events (floor breaches), floor
# (currency; NaN at the start)]. floor is a fraction of initial wealth, max_exposure the cap
# of the sleeve exposure (fraction of wealth; inf = none), floor_growth the floor's growth
# per step (NaN = the safe asset's return), initial_wealth in currency (NaN = recover it at
# the first step).
CP = slots(
    "every", "offset", "safe", "floor", "multiplier", "max_exposure", "floor_growth",
    "initial_wealth",
)  # fmt: skip
CS = rule_state("floor")

# Mean-variance: params [every, offset, estimate, window, risk_aversion, turnover,
# steps_per_year, has_model], then mu[0..n) and cov[0..n*n) (annual model moments); state
# [events, failed, cached], then mu_work[n], cov_work[n*n], w_sol[n] and solver work.
# estimate is one of ESTIMATE_*, window the trailing window (steps), risk_aversion lambda,
# turnover the L1 turnover penalty kappa (annual return units), has_model 1.0 when the
# model moments are given; failed counts solves that hit the iteration limit.
MV = slots(
    "every", "offset", "estimate", "window", "risk_aversion", "turnover", "steps_per_year",
    "has_model",
)  # fmt: skip
MS = rule_state("failed", "cached")

# Risk parity: params [every, offset, estimate, window, steps_per_year, has_model], then
# budgets[0..n) and cov[0..n*n); state like mean-variance's.
RP = slots("every", "offset", "estimate", "window", "steps_per_year", "has_model")
RS = rule_state("failed", "cached")

# Target volatility: params [every, offset, safe, target_vol, max_leverage, threshold,
# estimate, window, steps_per_year, has_model], then cov[0..n*n); state [events], then
# mu_work[n], cov_work[n*n]. target_vol is annual, max_leverage the cap of k (the scale of
# the target weights).
TV = slots(
    "every", "offset", "safe", "target_vol", "max_leverage", "threshold", "estimate",
    "window", "steps_per_year", "has_model",
)  # fmt: skip
TVS = rule_state()


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
    safe = int(params[VT.SAFE])
    total = sleeve_total_nb(target, safe)
    if total <= 0.0:
        return False
    x = 0.0
    for i in range(w.size):
        if i != safe:
            x += target[i] * returns[t, i]
    x /= total
    lam = params[VT.DECAY]
    d = x - state[VS.MEAN]
    state[VS.MEAN] += (1.0 - lam) * d
    state[VS.VAR] = lam * (state[VS.VAR] + (1.0 - lam) * d * d)
    if not is_due_nb(t, params[VT.EVERY], params[VT.OFFSET]):
        return False
    vol = np.sqrt(state[VS.VAR] * params[VT.STEPS_PER_YEAR])
    max_lev = params[VT.MAX_LEVERAGE]
    exposure = max_lev if vol <= 0.0 else min(max_lev, params[VT.TARGET_VOL] / vol)
    if abs(exposure - (1.0 - w[safe])) <= params[VT.THRESHOLD]:
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
    floor = state[CS.FLOOR]
    if np.isnan(floor):
        w0 = params[CP.INITIAL_WEALTH]
        if np.isnan(w0):
            growth0 = 1.0
            for i in range(returns.shape[1]):
                growth0 += params[CP.N_FIXED + i] * returns[0, i]
            w0 = wealth / growth0
        floor = params[CP.FLOOR] * w0
    g = params[CP.FLOOR_GROWTH]
    floor *= 1.0 + (returns[t, int(params[CP.SAFE])] if np.isnan(g) else g)
    state[CS.FLOOR] = floor
    if wealth < floor:
        state[CS.EVENTS] += 1.0
    return floor


@njit(cache=True, inline="always")
def cppi_nb(t, returns, w, wealth, target, params, state, w_new):
    """Constant proportion portfolio insurance (Perold-Sharpe).

    The floor ``F`` starts at ``floor * W_0`` and grows every step at the safe asset's
    realised return (or at the fixed ``floor_growth`` per step when that is not NaN). Every
    step with ``wealth < F`` adds one to ``state[0]``, the step on which wealth runs out
    included (:func:`cppi_floor_nb`). On a due step the exposure to the sleeve is
    ``min(max_exposure * W, multiplier * max(W - F, 0))``.

    ``W_0`` is ``params[CP.INITIAL_WEALTH]``; when that is NaN it is recovered at the first
    step from the wealth and the initial weights (``params[CP.N_FIXED:]``):
    ``W_0 = wealth / (1 + w_init' r_0)``, which counts a flow paid on the first step as part
    of the initial wealth.
    """
    safe = int(params[CP.SAFE])
    floor = cppi_floor_nb(t, returns, wealth, params, state)
    if not is_due_nb(t, params[CP.EVERY], params[CP.OFFSET]):
        return False
    total = sleeve_total_nb(target, safe)
    if total <= 0.0:
        return False
    cushion = max(wealth - floor, 0.0)
    exposure = min(params[CP.MAX_EXPOSURE], params[CP.MULTIPLIER] * cushion / wealth)
    sleeve_weights_nb(target, safe, total, exposure, w_new)
    return True


@njit(cache=True, inline="always")
def mean_variance_rule_nb(t, returns, w, wealth, target, params, state, w_new):
    """Mean-variance re-optimisation on due steps (long-only, fully invested).

    Moments are the trailing window's (once ``window`` steps have elapsed) or the model's
    (annual, from ``params``); before the window fills, the model's moments are used when
    known, else the rule holds. With model moments and no turnover penalty the solution is
    the same every time: it is solved once per path and kept in ``state``.
    ``state[MS.FAILED]`` counts solves that hit the iteration limit. With trailing moments
    the last ``1 + n + n * n`` slots of ``state`` hold the window's rolling sums
    (``trailing_sums_update_nb``), brought up to date on due steps.
    """
    n = w.size
    window = int(params[MV.WINDOW])
    trailing = params[MV.ESTIMATE] == ESTIMATE_TRAILING
    o_sums = state.size - 1 - n - n * n
    if not is_due_nb(t, params[MV.EVERY], params[MV.OFFSET]):
        return False
    if trailing:
        trailing_sums_update_nb(returns, t, window, state, o_sums)
    o_mu = MS.N_FIXED
    o_cov = o_mu + n
    o_sol = o_cov + n * n
    o_work = o_sol + n
    w_sol = state[o_sol : o_sol + n]
    kappa = params[MV.TURNOVER]
    if trailing and t + 1 >= window:
        mu = state[o_mu : o_mu + n]
        cov = state[o_cov : o_cov + n * n].reshape((n, n))
        trailing_moments_nb(state, o_sums, n, window, params[MV.STEPS_PER_YEAR], mu, cov)
        cached = False
    elif params[MV.HAS_MODEL] == 1.0:
        if kappa == 0.0 and state[MS.CACHED] == 1.0:
            for i in range(n):
                w_new[i] = w_sol[i]
            return True
        mu = params[MV.N_FIXED : MV.N_FIXED + n]
        cov = params[MV.N_FIXED + n : MV.N_FIXED + n + n * n].reshape((n, n))
        cached = kappa == 0.0
    else:
        return False
    status = mean_variance_nb(
        mu, cov, params[MV.RISK_AVERSION], w, kappa, w_sol, state[o_work:o_sums]
    )
    if status < 0:
        state[MS.FAILED] += 1.0
    if cached:
        state[MS.CACHED] = 1.0
    for i in range(n):
        w_new[i] = w_sol[i]
    return True


@njit(cache=True, inline="always")
def risk_parity_rule_nb(t, returns, w, wealth, target, params, state, w_new):
    """Risk parity (risk budgeting) re-solved on due steps, long-only and fully invested.

    The covariance is the trailing window's or the model's (as for mean-variance); the
    budgets are ``params[RP.N_FIXED : RP.N_FIXED + n]``. ``state[RS.FAILED]`` counts solves
    that did not converge.
    """
    n = w.size
    window = int(params[RP.WINDOW])
    trailing = params[RP.ESTIMATE] == ESTIMATE_TRAILING
    o_sums = state.size - 1 - n - n * n
    if not is_due_nb(t, params[RP.EVERY], params[RP.OFFSET]):
        return False
    if trailing:
        trailing_sums_update_nb(returns, t, window, state, o_sums)
    o_mu = RS.N_FIXED
    o_cov = o_mu + n
    o_sol = o_cov + n * n
    o_work = o_sol + n
    w_sol = state[o_sol : o_sol + n]
    budgets = params[RP.N_FIXED : RP.N_FIXED + n]
    if trailing and t + 1 >= window:
        mu = state[o_mu : o_mu + n]
        cov = state[o_cov : o_cov + n * n].reshape((n, n))
        trailing_moments_nb(state, o_sums, n, window, params[RP.STEPS_PER_YEAR], mu, cov)
        cached = False
    elif params[RP.HAS_MODEL] == 1.0:
        if state[RS.CACHED] == 1.0:
            for i in range(n):
                w_new[i] = w_sol[i]
            return True
        cov = params[RP.N_FIXED + n : RP.N_FIXED + n + n * n].reshape((n, n))
        cached = True
    else:
        return False
    # Warm start from the previous solution of the path (zeros before the first solve).
    status = risk_parity_nb(cov, budgets, w_sol, state[o_work:o_sums], w_sol[0] > 0.0)
    if status < 0:
        state[RS.FAILED] += 1.0
    if cached:
        state[RS.CACHED] = 1.0
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
    window = int(params[TV.WINDOW])
    trailing = params[TV.ESTIMATE] == ESTIMATE_TRAILING
    o_sums = state.size - 1 - n - n * n
    if not is_due_nb(t, params[TV.EVERY], params[TV.OFFSET]):
        return False
    if trailing:
        trailing_sums_update_nb(returns, t, window, state, o_sums)
    safe = int(params[TV.SAFE])
    if trailing and t + 1 >= window:
        o_mu = TVS.N_FIXED
        o_cov = o_mu + n
        mu = state[o_mu : o_mu + n]
        cov = state[o_cov : o_cov + n * n].reshape((n, n))
        trailing_moments_nb(state, o_sums, n, window, params[TV.STEPS_PER_YEAR], mu, cov)
    elif params[TV.HAS_MODEL] == 1.0:
        cov = params[TV.N_FIXED : TV.N_FIXED + n * n].reshape((n, n))
    else:
        return False
    k = target_vol_scale_nb(cov, target, safe, params[TV.TARGET_VOL], params[TV.MAX_LEVERAGE])
    exposure = k * (1.0 - target[safe])
    if abs(exposure - (1.0 - w[safe])) <= params[TV.THRESHOLD]:
        return False
    for i in range(n):
        w_new[i] = k * target[i]
    w_new[safe] += 1.0 - k
    return True
