"""Correlated lognormal (geometric Brownian) returns."""

import numpy as np
from numba import njit

from ._math import expm1_row_nb


@njit(cache=True, nogil=True)
def simulate_gaussian_nb(rng, drift, chol, out):
    """Fill ``out`` with simple returns whose log returns are correlated normals.

    For each path and step, ``log(1 + r) = drift + chol @ z`` with ``z`` standard normal,
    drawn path by path, step by step, series by series from ``rng`` (so a block drawn in
    chunks gives the same numbers as in one call). Numba-compiled.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's own generator; advanced in place.
    drift : ndarray of shape (n_series,)
        Mean log return per step, ``(mu - sigma**2 / 2) * dt``.
    chol : ndarray of shape (n_series, n_series)
        Lower Cholesky factor of the covariance of log returns per step, ``cov * dt``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with simple returns per step.
    """
    n_paths, n_steps, n_series = out.shape
    # Series-major scratch so the product with ``chol`` and the exponential run along steps,
    # contiguous loops the compiler vectorises; each element's sum keeps the order drift,
    # j = 0, 1, ...
    z = np.empty((n_series, n_steps))
    x = np.empty((n_series, n_steps))
    y = np.empty((n_series, n_steps))
    for p in range(n_paths):
        for t in range(n_steps):
            for j in range(n_series):
                z[j, t] = rng.standard_normal()
        for i in range(n_series):
            d = drift[i]
            for t in range(n_steps):
                x[i, t] = d
            for j in range(i + 1):
                c = chol[i, j]
                for t in range(n_steps):
                    x[i, t] += c * z[j, t]
            expm1_row_nb(x, y, i)
        for t in range(n_steps):
            for i in range(n_series):
                out[p, t, i] = y[i, t]
