"""GARCH(1,1) per series with constant or DCC(1,1) conditional correlation.

Log returns per step are ``r_t = mu + sqrt(h_t) * e_t`` with, per series ``i``,
``h_{t+1} = omega + alpha * h_t * e_t**2 + beta * h_t``, and standardized innovations
``e_t = chol(R_t) @ z_t * s_t`` (``z_t`` standard normal; ``s_t = 1`` for normal innovations,
``sqrt((nu - 2) / W)`` with ``W ~ chi2(nu)`` for a multivariate Student-t with unit variance).
The correlation ``R_t`` is constant, or follows Engle's (2002) DCC(1,1):
``Q_{t+1} = (1 - a - b) Qbar + a e_t e_t' + b Q_t``,
``R_t = diag(Q_t)^-1/2 Q_t diag(Q_t)^-1/2``.

Under DCC the simulation never forms ``R_t``: with ``Q_t = L D L'`` (``L`` unit lower),
``chol(R_t) = diag(Q_t)^-1/2 L D^1/2``, so ``e_t = diag(Q_t)^-1/2 L (D^1/2 z_t) * s_t``. The
factorisation has one division and no square root on its chain of dependent operations,
where the Cholesky factor of ``R_t`` has both per column (see ``dcc_innovations_nb``).
"""

import math

import numpy as np
from numba import njit

from ._math import expm1_row_nb


@njit(cache=True, inline="always")
def corr_cholesky_nb(q, inv_sd, chol):
    """Lower Cholesky factor of the correlation matrix of ``q``, written into ``chol``.

    ``inv_sd`` of shape (n,) is scratch space (it receives ``1 / sqrt(diag(q))``). Only the
    lower triangle of ``chol`` is written. A non-positive pivot (a singular correlation)
    gives a zero column. Used for a constant correlation (once per block) and by the
    likelihood of the fit; the DCC simulation uses ``dcc_innovations_nb``. Numba-compiled,
    inlined.
    """
    n = q.shape[0]
    for i in range(n):
        inv_sd[i] = 1.0 / math.sqrt(q[i, i])
    for j in range(n):
        s = 1.0
        for k in range(j):
            s -= chol[j, k] * chol[j, k]
        if s > 1e-14:
            d = math.sqrt(s)
            chol[j, j] = d
            # One division per column: this runs every step of every path.
            inv_d = 1.0 / d
            for i in range(j + 1, n):
                x = q[i, j] * inv_sd[i] * inv_sd[j]
                for k in range(j):
                    x -= chol[i, k] * chol[j, k]
                chol[i, j] = x * inv_d
        else:
            chol[j, j] = 0.0
            for i in range(j + 1, n):
                chol[i, j] = 0.0


@njit(cache=True, inline="always")
def dcc_innovations_nb(q, update, cq, b, ae_prev, e_prev, z, s, w_fac, l_fac, inv_d, y, e):
    """Standardized innovations ``e = chol(R) @ z * s`` of the correlation of ``q``.

    Factors ``q = L D L'`` row by row (``L`` unit lower triangular, only the lower triangle
    of ``q`` is read) and forms ``e_i = (L D^1/2 z)_i * s / sqrt(q_ii)`` as each row of ``L``
    is done. This equals ``chol(R) @ z * s`` for ``R = diag(q)^-1/2 q diag(q)^-1/2`` up to
    rounding (a relative 1e-15 per step): it skips the normalisation of ``q``, and the
    chain from one row to the next holds one division and no square root. A pivot
    ``D_i <= 1e-14 q_ii`` (a singular correlation) gives a zero column, as in
    ``corr_cholesky_nb``. With ``update``, each element of ``q`` is first brought one step
    on, ``q_ij <- cq_ij + ae_prev_i * e_prev_j + b * q_ij``, as it is read (one pass over
    ``q`` a step instead of two). Numba-compiled, inlined into the step loop.

    Parameters
    ----------
    q : ndarray of shape (n, n)
        The DCC state (lower triangle and diagonal): ``Q_t``, or ``Q_t-1`` with ``update``,
        which then leaves ``Q_t`` in it.
    update : bool
        Whether to apply the DCC recursion to ``q`` first.
    cq : ndarray of shape (n, n)
        ``(1 - a - b) Qbar`` (read with ``update`` only).
    b : float
        DCC ``b``.
    ae_prev, e_prev : ndarray of shape (n,)
        ``a * e_t-1`` and ``e_t-1`` (read with ``update`` only).
    z : ndarray of shape (n,)
        Standard normals of the step.
    s : float
        Scale of the step (1 for normal innovations).
    w_fac, l_fac : ndarray of shape (n, n)
        Scratch: ``L D`` and ``L`` (strictly lower triangles written).
    inv_d, y : ndarray of shape (n,)
        Scratch: ``1 / D`` (0 for a singular pivot) and ``D^1/2 z``.
    e : ndarray of shape (n,)
        Overwritten with the innovations.
    """
    n = q.shape[0]
    for i in range(n):
        acc = 0.0
        ae_i = 0.0
        if update:
            ae_i = ae_prev[i]
            q[i, i] = cq[i, i] + ae_i * e_prev[i] + b * q[i, i]
        q_ii = q[i, i]
        d_i = q_ii
        for j in range(i):
            if update:
                q[i, j] = cq[i, j] + ae_i * e_prev[j] + b * q[i, j]
            w = q[i, j]
            for k in range(j):
                w -= w_fac[i, k] * l_fac[j, k]
            w_fac[i, j] = w
            lv = w * inv_d[j]
            l_fac[i, j] = lv
            d_i -= w * lv
            acc += lv * y[j]
        if d_i > 1e-14 * q_ii:
            inv_d[i] = 1.0 / d_i
            y_i = math.sqrt(d_i) * z[i]
        else:
            inv_d[i] = 0.0
            y_i = 0.0
        y[i] = y_i
        e[i] = (acc + y_i) * (s / math.sqrt(q_ii))


@njit(cache=True, nogil=True)
def simulate_garch_nb(rng, mu, omega, alpha, beta, h0, q0, qbar, dcc_a, dcc_b, nu, out):
    """Fill ``out`` with simple returns from GARCH(1,1) series with CCC or DCC correlation.

    Draws per path, per step: ``n_series`` standard normals, then (Student-t only) one
    ``standard_gamma(nu / 2)``; so a block drawn in chunks equals the block drawn at once.
    Every path starts from the same state ``(h0, q0)``. Numba-compiled.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's own generator; advanced in place.
    mu, omega, alpha, beta, h0 : ndarray of shape (n_series,)
        Mean log return per step, GARCH(1,1) coefficients (variance per step), and the
        conditional variance per step of the first simulated step.
    q0, qbar : ndarray of shape (n_series, n_series)
        DCC state of the first step and its long-run target. With ``dcc_a == dcc_b == 0``
        the correlation is constant and equal to ``qbar`` (which must then be a correlation
        matrix); ``q0`` is ignored.
    dcc_a, dcc_b : float
        DCC(1,1) coefficients, ``a, b >= 0``, ``a + b < 1``.
    nu : float
        Degrees of freedom (> 2) of the multivariate standardized Student-t innovations;
        ``0`` for normal innovations.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with simple returns per step, ``expm1(r_t)``.
    """
    n_paths, n_steps, n = out.shape
    dynamic = dcc_a > 0.0 or dcc_b > 0.0
    student = nu > 0.0
    half_nu = 0.5 * nu
    nu_m2 = nu - 2.0
    c = 1.0 - dcc_a - dcc_b
    h = np.empty(n)
    q = np.empty((n, n))
    chol = np.zeros((n, n))
    inv_sd = np.empty(n)
    # (1 - a - b) Qbar, fixed for the run
    cq = c * qbar
    e_prev = np.empty(n)
    ae_prev = np.empty(n)
    w_fac = np.zeros((n, n))
    l_fac = np.zeros((n, n))
    inv_d = np.empty(n)
    y = np.empty(n)
    z = np.empty(n)
    e = np.empty(n)
    # A path's log returns, series-major, exponentiated in vectorised passes at its end.
    x_path = np.empty((n, n_steps))
    y_path = np.empty((n, n_steps))
    if not dynamic:
        corr_cholesky_nb(qbar, inv_sd, chol)
    for p in range(n_paths):
        for i in range(n):
            h[i] = h0[i]
            for j in range(n):
                q[i, j] = q0[i, j]
        for t in range(n_steps):
            for j in range(n):
                z[j] = rng.standard_normal()
            s = 1.0
            if student:
                s = math.sqrt(nu_m2 / (2.0 * rng.standard_gamma(half_nu)))
            if dynamic:
                # Q of the step is formed inside, from the last step's innovations
                dcc_innovations_nb(
                    q, t > 0, cq, dcc_b, ae_prev, e_prev, z, s, w_fac, l_fac, inv_d, y, e
                )
            else:
                for i in range(n):
                    x = 0.0
                    for j in range(i + 1):
                        x += chol[i, j] * z[j]
                    e[i] = x * s
            for i in range(n):
                x_path[i, t] = mu[i] + math.sqrt(h[i]) * e[i]
                h[i] = omega[i] + (alpha[i] * e[i] * e[i] + beta[i]) * h[i]
            if dynamic:
                for i in range(n):
                    e_prev[i] = e[i]
                    ae_prev[i] = dcc_a * e[i]
        for i in range(n):
            expm1_row_nb(x_path, y_path, i)
        for t in range(n_steps):
            for i in range(n):
                out[p, t, i] = y_path[i, t]


@njit(cache=True)
def dcc_loglik_nb(e, qbar, dcc_a, dcc_b, nu, q_next):
    """Log-likelihood of standardized residuals under a DCC(1,1) (or constant) correlation.

    With normal innovations (``nu == 0``) this is Engle's correlation part,
    ``-1/2 sum_t (log|R_t| + e_t' R_t^-1 e_t - e_t' e_t)``; with ``nu > 2`` it is the full
    log-density of the multivariate standardized Student-t, ``sum_t log f(e_t; R_t, nu)``.
    The recursion starts at ``Q_1 = Qbar``. Numba-compiled.

    Parameters
    ----------
    e : ndarray of shape (n_obs, n_series)
        Standardized residuals (unit variance).
    qbar : ndarray of shape (n_series, n_series)
        Long-run target of ``Q``.
    dcc_a, dcc_b : float
        DCC coefficients (``0, 0`` for a constant correlation ``qbar``).
    nu : float
        Degrees of freedom, or 0 for normal.
    q_next : ndarray of shape (n_series, n_series)
        Overwritten with ``Q_{T+1}``, the state of the step after the data.

    Returns
    -------
    float
        The log-likelihood (sum over observations).
    """
    n_obs, n = e.shape
    c = 1.0 - dcc_a - dcc_b
    q = qbar.copy()
    chol = np.zeros((n, n))
    inv_sd = np.empty(n)
    y = np.empty(n)
    const = 0.0
    if nu > 0.0:
        const = (
            math.lgamma(0.5 * (nu + n))
            - math.lgamma(0.5 * nu)
            - 0.5 * n * math.log(math.pi * (nu - 2.0))
        )
    ll = 0.0
    for t in range(n_obs):
        corr_cholesky_nb(q, inv_sd, chol)
        logdet = 0.0
        quad = 0.0
        ee = 0.0
        for i in range(n):
            x = e[t, i]
            for k in range(i):
                x -= chol[i, k] * y[k]
            if chol[i, i] <= 0.0:
                return -np.inf
            y[i] = x / chol[i, i]
            logdet += 2.0 * math.log(chol[i, i])
            quad += y[i] * y[i]
            ee += e[t, i] * e[t, i]
        if nu > 0.0:
            ll += const - 0.5 * logdet - 0.5 * (nu + n) * math.log1p(quad / (nu - 2.0))
        else:
            ll += -0.5 * (logdet + quad - ee)
        for i in range(n):
            for j in range(n):
                q[i, j] = c * qbar[i, j] + dcc_a * e[t, i] * e[t, j] + dcc_b * q[i, j]
    for i in range(n):
        for j in range(n):
            q_next[i, j] = q[i, j]
    return ll
