"""Markov regime switching: Gaussian log returns whose mean and covariance follow a hidden chain.

Simulation: the first step's regime is drawn from an initial distribution, later regimes by
the transition matrix; each step's log returns are ``drift[s] + chol[s] @ z``. Fitting helpers:
the Hamilton filter and Kim smoother (the E-step of EM / Baum-Welch).
"""

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def draw_category_nb(u, cum, row):
    """Index ``k`` of the first ``cum[row, k] > u`` (the last index when none is)."""
    k_last = cum.shape[1] - 1
    k = 0
    while k < k_last and u >= cum[row, k]:
        k += 1
    return k


@njit(cache=True, nogil=True)
def simulate_regime_nb(rng, drift, chol, cum_trans, cum_init, out, out_regime):
    """Fill ``out`` with simple returns from a Gaussian Markov regime-switching model.

    Draws per path: one uniform for the first regime, then per step (from the second on)
    one uniform for the transition, and per step ``n_series`` standard normals. So a block
    drawn in chunks equals the block drawn at once. Numba-compiled.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's own generator; advanced in place.
    drift : ndarray of shape (n_regimes, n_series)
        Mean log return per step in each regime.
    chol : ndarray of shape (n_regimes, n_series, n_series)
        Lower Cholesky factor of each regime's covariance of log returns per step.
    cum_trans : ndarray of shape (n_regimes, n_regimes)
        Cumulative sums along the rows of the transition matrix (row = regime now).
    cum_init : ndarray of shape (1, n_regimes)
        Cumulative initial distribution of the first step's regime.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with simple returns per step.
    out_regime : ndarray of shape (n_paths, n_steps) or (0, 0)
        int64; when not empty, overwritten with the regime of each step.
    """
    n_paths, n_steps, n = out.shape
    keep = out_regime.shape[0] > 0
    z = np.empty(n)
    for p in range(n_paths):
        s = draw_category_nb(rng.random(), cum_init, 0)
        for t in range(n_steps):
            if t > 0:
                s = draw_category_nb(rng.random(), cum_trans, s)
            for j in range(n):
                z[j] = rng.standard_normal()
            for i in range(n):
                x = drift[s, i]
                for j in range(i + 1):
                    x += chol[s, i, j] * z[j]
                out[p, t, i] = math.expm1(x)
            if keep:
                out_regime[p, t] = s


@njit(cache=True)
def hamilton_kim_nb(log_dens, trans, init, filtered, smoothed, xi_sum):
    """Hamilton filter and Kim smoother of a hidden Markov chain. Numba-compiled.

    Parameters
    ----------
    log_dens : ndarray of shape (n_obs, n_regimes)
        Log-density of each observation under each regime.
    trans : ndarray of shape (n_regimes, n_regimes)
        Transition matrix, ``trans[j, k] = P(s_{t+1} = k | s_t = j)``.
    init : ndarray of shape (n_regimes,)
        Distribution of the first observation's regime.
    filtered, smoothed : ndarray of shape (n_obs, n_regimes)
        Overwritten with ``P(s_t | x_1..x_t)`` and ``P(s_t | x_1..x_T)``.
    xi_sum : ndarray of shape (n_regimes, n_regimes)
        Overwritten with ``sum_t P(s_t = j, s_{t+1} = k | x_1..x_T)``.

    Returns
    -------
    float
        The log-likelihood ``log p(x_1..x_T)``.
    """
    n_obs, k_reg = log_dens.shape
    pred = np.empty(k_reg)
    ratio = np.empty(k_reg)
    ll = 0.0
    for t in range(n_obs):
        m = log_dens[t, 0]
        for k in range(1, k_reg):
            m = max(m, log_dens[t, k])
        total = 0.0
        for k in range(k_reg):
            if t == 0:
                pk = init[k]
            else:
                pk = 0.0
                for j in range(k_reg):
                    pk += filtered[t - 1, j] * trans[j, k]
            a = pk * math.exp(log_dens[t, k] - m)
            filtered[t, k] = a
            total += a
        if not total > 0.0:
            return -np.inf
        for k in range(k_reg):
            filtered[t, k] /= total
        ll += math.log(total) + m
    xi_sum[:, :] = 0.0
    for k in range(k_reg):
        smoothed[n_obs - 1, k] = filtered[n_obs - 1, k]
    for t in range(n_obs - 2, -1, -1):
        for k in range(k_reg):
            pk = 0.0
            for j in range(k_reg):
                pk += filtered[t, j] * trans[j, k]
            pred[k] = pk
            ratio[k] = smoothed[t + 1, k] / pk if pk > 0.0 else 0.0
        for j in range(k_reg):
            acc = 0.0
            for k in range(k_reg):
                x = filtered[t, j] * trans[j, k] * ratio[k]
                xi_sum[j, k] += x
                acc += x
            smoothed[t, j] = acc
    return ll
