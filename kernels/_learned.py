"""The learned rebalancing rule: features of the path, a fitted model, one of three actions.

At each check the rule computes its features (:data:`FEATURES`, the same function is used
by training), evaluates the exported regressor on them and takes the action with the
largest predicted advantage over holding: hold, trade to the band edge, or trade to target.

Parameter layout (float64, one array)::

    [0, TH.N_FIXED + 2n)          a band rule's parameters (``_policies.TH``): the band
                                  whose edge the "edge" action trades to
    base = TH.N_FIXED + 2n        LN slots (below)
    base + LN.N_FIXED             proportional cost rate per asset (fraction of traded value)
    m = base + LN.N_FIXED + n     the model block:
        out_offset[n_out], out_scale[n_out]      advantage = offset + scale * raw
        linear: mean[nf], scale[nf], powers[n_terms * nf], coef[n_out * n_terms],
                intercept[n_out]                 raw = intercept + coef . prod(z ** powers)
        forest: bias[n_out], root[n_trees], weight[n_trees], feature[n_nodes],
                threshold[n_nodes], left[n_nodes], right[n_nodes], value[n_nodes * n_out]
                                  raw = bias + sum_trees weight * value[leaf]

Tree nodes use absolute indices into the node arrays; a leaf has ``left = -1``. Features are
compared as float32, as scikit-learn's trees do, so predictions match them exactly.

State: [events, last_trade (elapsed steps at the last trade), seen (steps whose target-mix
return is cached)], then the feature vector (nf) and the advantages (n_out) as scratch, then
a ring of the last ``window`` target-mix returns: a check only computes the returns of the
steps since the previous one (the rule is consulted every ``every`` steps).
"""

import math

import numpy as np
from numba import njit

from ._layout import rule_state, slots
from ._memory import njit_no_refcount
from ._policies import TH, to_band_edge_nb

LN = slots(
    "every", "n_steps", "steps_per_year", "window", "initial_wealth", "model_kind",
    "n_features", "n_out", "n_terms", "n_nodes",
)  # fmt: skip
LS = rule_state("last_trade", "seen")

MODEL_LINEAR = 0
MODEL_FOREST = 1

ACTION_HOLD = 0
ACTION_EDGE = 1
ACTION_TARGET = 2

# Feature columns (the order of the model's inputs).
F_MAX_GAP = 0  # largest |w_i - target_i| (fraction of wealth)
F_SUM_GAP = 1  # sum of |w_i - target_i| (fraction of wealth)
F_COST = 2  # cost of trading to target (fraction of wealth)
F_TRAILING_VOL = 3  # volatility of the target mix over the trailing window (annual)
F_TRAILING_RETURN = 4  # mean simple return of the target mix over the window (annual)
F_SINCE_REBALANCE = 5  # years since the last trade (or the start)
F_TO_HORIZON = 6  # years left to the horizon
F_LOG_WEALTH = 7  # log of wealth over initial wealth
N_FEATURES = 8


@njit(cache=True, inline="always")
def params_base_nb(n):
    """Index of the LN slots in the params of ``n`` assets."""
    return TH.N_FIXED + 2 * n


@njit_no_refcount
def trailing_market_nb(returns, t, target, window):
    """Volatility and mean simple return per step of the target mix over steps
    ``max(0, t + 1 - window) .. t`` (both 0 with fewer than two steps). Simple rather than
    log returns: no logarithm per step of the window."""
    lo = max(0, t + 1 - int(window))
    k = t + 1 - lo
    if k < 2:
        return 0.0, 0.0
    s = 0.0
    s2 = 0.0
    for u in range(lo, t + 1):
        r = 0.0
        for i in range(target.size):
            r += target[i] * returns[u, i]
        s += r
        s2 += r * r
    mean = s / k
    var = (s2 - k * mean * mean) / (k - 1)
    return math.sqrt(max(var, 0.0)), mean


@njit_no_refcount
def trailing_cached_nb(returns, t, target, window, state, ring):
    """:func:`trailing_market_nb` with the target-mix returns kept in ``state[ring:ring +
    window]``; the same sums in the same order, so the same bits."""
    lo = max(0, t + 1 - window)
    for u in range(max(int(state[LS.SEEN]), lo), t + 1):
        r = 0.0
        for i in range(target.size):
            r += target[i] * returns[u, i]
        state[ring + u % window] = r
    state[LS.SEEN] = t + 1
    k = t + 1 - lo
    if k < 2:
        return 0.0, 0.0
    s = 0.0
    s2 = 0.0
    for u in range(lo, t + 1):
        r = state[ring + u % window]
        s += r
        s2 += r * r
    mean = s / k
    var = (s2 - k * mean * mean) / (k - 1)
    return math.sqrt(max(var, 0.0)), mean


@njit_no_refcount
def features_nb(w, target, params, wealth_rel, since_steps, elapsed, tvol, tret, x, xo):
    """The feature vector into ``x[xo:xo + N_FEATURES]``.

    ``wealth_rel`` is wealth over initial wealth, ``since_steps`` the steps since the last
    trade, ``elapsed`` the steps elapsed, ``tvol`` / ``tret`` the trailing volatility and
    mean return per step (:func:`trailing_market_nb`).
    """
    n = w.size
    base = params_base_nb(n)
    spy = params[base + LN.STEPS_PER_YEAR]
    cost0 = base + LN.N_FIXED
    mx = 0.0
    sm = 0.0
    cost = 0.0
    for i in range(n):
        g = abs(w[i] - target[i])
        mx = max(mx, g)
        sm += g
        cost += params[cost0 + i] * g
    x[xo + F_MAX_GAP] = mx
    x[xo + F_SUM_GAP] = sm
    x[xo + F_COST] = cost
    x[xo + F_TRAILING_VOL] = tvol * math.sqrt(spy)
    x[xo + F_TRAILING_RETURN] = tret * spy
    x[xo + F_SINCE_REBALANCE] = since_steps / spy
    x[xo + F_TO_HORIZON] = (params[base + LN.N_STEPS] - elapsed) / spy
    x[xo + F_LOG_WEALTH] = math.log(max(wealth_rel, 1e-300))


@njit_no_refcount
def model_eval_nb(params, m, nf, n_out, n_terms, n_nodes, kind, x, xo, y, yo):
    """The model's advantages of the actions (edge, target) over holding into
    ``y[yo:yo + n_out]``, from features ``x[xo:xo + nf]`` (see the module docstring)."""
    off = m
    sc = m + n_out
    p = m + 2 * n_out
    if kind == MODEL_LINEAR:
        mean = p
        scale = p + nf
        powers = p + 2 * nf
        coef = powers + n_terms * nf
        icpt = coef + n_out * n_terms
        for o in range(n_out):
            y[yo + o] = params[icpt + o]
        for k in range(n_terms):
            term = 1.0
            for j in range(nf):
                e = int(params[powers + k * nf + j])
                if e > 0:
                    z = (x[xo + j] - params[mean + j]) / params[scale + j]
                    for _ in range(e):
                        term *= z
            for o in range(n_out):
                y[yo + o] += params[coef + o * n_terms + k] * term
    else:
        n_trees = n_terms
        bias = p
        root = p + n_out
        weight = root + n_trees
        feat = weight + n_trees
        thr = feat + n_nodes
        left = thr + n_nodes
        right = left + n_nodes
        value = right + n_nodes
        for o in range(n_out):
            y[yo + o] = params[bias + o]
        for tr in range(n_trees):
            node = int(params[root + tr])
            while params[left + node] >= 0.0:
                f = int(params[feat + node])
                xf = np.float64(np.float32(x[xo + f]))
                if xf <= params[thr + node]:
                    node = int(params[left + node])
                else:
                    node = int(params[right + node])
            wt = params[weight + tr]
            for o in range(n_out):
                y[yo + o] += wt * params[value + node * n_out + o]
    for o in range(n_out):
        y[yo + o] = params[off + o] + params[sc + o] * y[yo + o]


@njit_no_refcount
def model_block_nb(params, n):
    """``(m, nf, n_out, n_terms, n_nodes, kind)`` of the params of ``n`` assets."""
    base = params_base_nb(n)
    return (
        base + LN.N_FIXED + n,
        int(params[base + LN.N_FEATURES]),
        int(params[base + LN.N_OUT]),
        int(params[base + LN.N_TERMS]),
        int(params[base + LN.N_NODES]),
        int(params[base + LN.MODEL_KIND]),
    )


@njit_no_refcount
def choose_action_nb(y, yo):
    """The action with the largest advantage over holding (hold when none is positive)."""
    a_edge = y[yo]
    a_target = y[yo + 1]
    if a_target > 0.0 and a_target >= a_edge:
        return ACTION_TARGET
    if a_edge > 0.0:
        return ACTION_EDGE
    return ACTION_HOLD


@njit_no_refcount
def apply_action_nb(action, w, target, params, w_new):
    """Weights after ``action`` into ``w_new``; returns True when they differ from ``w``."""
    if action == ACTION_TARGET:
        for i in range(w.size):
            w_new[i] = target[i]
    elif action == ACTION_EDGE:
        to_band_edge_nb(w, target, params, w_new)
    else:
        for i in range(w.size):
            w_new[i] = w[i]
    for i in range(w.size):
        if w_new[i] != w[i]:
            return True
    return False


@njit_no_refcount
def learned_nb(t, returns, w, wealth, target, params, state, w_new):
    """The learned rule (the policy signature, see :mod:`._policies`): on a check before the
    horizon, compute the features, evaluate the model and apply the best action."""
    n = w.size
    base = params_base_nb(n)
    elapsed = t + 1
    if elapsed >= params[base + LN.N_STEPS]:
        return False
    m, nf, n_out, n_terms, n_nodes, kind = model_block_nb(params, n)
    tvol, tret = trailing_cached_nb(
        returns, t, target, int(params[base + LN.WINDOW]), state, LS.N_FIXED + nf + n_out
    )
    xo = LS.N_FIXED
    features_nb(
        w, target, params, wealth / params[base + LN.INITIAL_WEALTH],
        elapsed - state[LS.LAST_TRADE], elapsed, tvol, tret, state, xo,
    )  # fmt: skip
    yo = xo + nf
    model_eval_nb(params, m, nf, n_out, n_terms, n_nodes, kind, state, xo, state, yo)
    action = choose_action_nb(state, yo)
    if action == ACTION_HOLD:
        return False
    traded = apply_action_nb(action, w, target, params, w_new)
    if traded:
        state[LS.LAST_TRADE] = elapsed
    return traded


# --- batch versions for training and tests (same scalar kernels) ---------------------------


@njit(cache=True)
def predict_batch_nb(params, n, X, out):
    """The model's advantages for each row of ``X`` (n_rows, nf) into ``out`` (n_rows,
    n_out)."""
    m, nf, n_out, n_terms, n_nodes, kind = model_block_nb(params, n)
    for r in range(X.shape[0]):
        model_eval_nb(params, m, nf, n_out, n_terms, n_nodes, kind, X[r], 0, out[r], 0)


@njit(cache=True)
def features_batch_nb(W, target, params, wealth_rel, since_steps, elapsed, tvol, tret, X):
    """:func:`features_nb` for each row of ``W`` (n_rows, n_assets) into ``X``."""
    for r in range(W.shape[0]):
        features_nb(
            W[r], target, params, wealth_rel[r], since_steps[r], elapsed, tvol[r], tret[r],
            X[r], 0,
        )  # fmt: skip


@njit(cache=True)
def edge_batch_nb(W, target, params, out):
    """Band-edge weights (:func:`to_band_edge_nb`) of each row of ``W`` into ``out``."""
    for r in range(W.shape[0]):
        to_band_edge_nb(W[r], target, params, out[r])


@njit(cache=True)
def path_inputs_nb(returns, target, window, checks, growth, tvol, tret):
    """Per path and check: the gross growth of each asset since the previous check (or the
    start) into ``growth`` (n_paths, n_checks + 1, n_assets; the last row runs to the
    horizon), and the trailing market features (:func:`trailing_market_nb`) into ``tvol``
    and ``tret`` (n_paths, n_checks). ``checks`` are the elapsed steps of the checks."""
    n_paths, n_steps, n = returns.shape
    k_n = checks.size
    for p in range(n_paths):
        r = returns[p]
        start = 0
        for k in range(k_n + 1):
            end = checks[k] if k < k_n else n_steps
            for i in range(n):
                g = 1.0
                for u in range(start, end):
                    g *= 1.0 + r[u, i]
                growth[p, k, i] = g
            if k < k_n:
                v, m = trailing_market_nb(r, end - 1, target, window)
                tvol[p, k] = v
                tret[p, k] = m
            start = end
