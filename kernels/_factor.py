"""Lognormal returns with a factor covariance: O(series x factors) work per step."""

import numpy as np
from numba import njit

from ._math import expm1_row_nb


@njit(cache=True, nogil=True)
def simulate_factor_nb(rng, drift, factor_chol, loadings, idio_sd, out):
    """Fill ``out`` with simple returns whose log returns follow a linear factor model.

    For each path and step, ``log(1 + r) = drift + loadings @ (factor_chol @ u) + idio_sd * e``
    with ``u`` (n_factors) and ``e`` (n_series) standard normal. The covariance of log
    returns per step is ``loadings @ factor_chol @ factor_chol.T @ loadings.T +
    diag(idio_sd**2)``, formed without any (n_series, n_series) product: the work per step is
    ``n_series * n_factors`` multiply-adds plus ``n_factors**2 / 2`` for the factors.

    Draws are made path by path, step by step; within a step first the ``n_factors``
    factor normals, then the ``n_series`` idiosyncratic ones (so a block drawn in chunks
    gives the same numbers as in one call). Numba-compiled.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's own generator; advanced in place.
    drift : ndarray of shape (n_series,)
        Mean log return per step, ``(mu - sigma**2 / 2) * dt``.
    factor_chol : ndarray of shape (n_factors, n_factors)
        Lower Cholesky factor of the factor covariance per step.
    loadings : ndarray of shape (n_series, n_factors)
        Exposure of each series' log return to each factor.
    idio_sd : ndarray of shape (n_series,)
        Idiosyncratic standard deviation of log returns per step.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with simple returns per step.
    """
    n_paths, n_steps, n_series = out.shape
    n_factors = loadings.shape[1]
    # Series-major scratch so the products and the exponential run along steps, contiguous
    # loops the compiler vectorises.
    u = np.empty((n_factors, n_steps))
    f = np.empty((n_factors, n_steps))
    e = np.empty((n_series, n_steps))
    x = np.empty((n_series, n_steps))
    y = np.empty((n_series, n_steps))
    for p in range(n_paths):
        for t in range(n_steps):
            for k in range(n_factors):
                u[k, t] = rng.standard_normal()
            for i in range(n_series):
                e[i, t] = rng.standard_normal()
        for k in range(n_factors):
            for t in range(n_steps):
                f[k, t] = 0.0
            for m in range(k + 1):
                c = factor_chol[k, m]
                for t in range(n_steps):
                    f[k, t] += c * u[m, t]
        for i in range(n_series):
            d = drift[i]
            s = idio_sd[i]
            for t in range(n_steps):
                x[i, t] = d + s * e[i, t]
            for k in range(n_factors):
                b = loadings[i, k]
                for t in range(n_steps):
                    x[i, t] += b * f[k, t]
            expm1_row_nb(x, y, i)
        for t in range(n_steps):
            for i in range(n_series):
                out[p, t, i] = y[i, t]
