"""Correlated returns whose log returns follow a multivariate Student-t distribution."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def simulate_student_t_nb(rng, drift, chol_scale, df, out):
    """Fill ``out`` with simple returns whose log returns are multivariate Student-t.

    For each path and step, one chi-square draw ``w`` with ``df`` degrees of freedom is made
    and shared by all series (this common factor is what gives the t its tail dependence:
    large moves of several series come together), then ``n_series`` standard normals ``z``;

    ``log(1 + r) = drift + sqrt(df / w) * chol_scale @ z``.

    Draws are made path by path, step by step (``w`` first, then ``z`` series by series), so a
    block drawn in chunks gives the same numbers as in one call. Numba-compiled.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's own generator; advanced in place.
    drift : ndarray of shape (n_series,)
        Mean log return per step, ``(mu - sigma**2 / 2) * dt``.
    chol_scale : ndarray of shape (n_series, n_series)
        Lower Cholesky factor of the *scale* matrix per step, ``cov * dt * (df - 2) / df``, so
        that the covariance of log returns per step is ``cov * dt``.
    df : float
        Degrees of freedom (> 2).
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with simple returns per step.
    """
    n_paths, n_steps, n_series = out.shape
    z = np.empty(n_series)
    for p in range(n_paths):
        for t in range(n_steps):
            s = np.sqrt(df / rng.chisquare(df))
            for j in range(n_series):
                z[j] = rng.standard_normal()
            for i in range(n_series):
                x = 0.0
                for j in range(i + 1):
                    x += chol_scale[i, j] * z[j]
                out[p, t, i] = np.expm1(drift[i] + s * x)
