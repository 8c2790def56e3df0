"""Small dense solvers for allocation rules, run inside the step loop.

* :func:`trailing_sums_update_nb`, :func:`trailing_moments_nb`: rolling sums of a trailing
  window of returns (brought up to date on a rule's due steps), and the annualised mean and
  covariance from them.
* :func:`mean_variance_nb`: long-only, fully invested mean-variance weights with an optional
  L1 turnover penalty, by a primal active-set method (exact to rounding in finitely many
  steps, no SciPy).
* :func:`risk_parity_nb`: equal (or budgeted) risk contribution weights by damped Newton on
  Spinu's convex (self-concordant) formulation; two assets in closed form.
* :func:`target_vol_scale_nb`: the exposure that gives a portfolio a target volatility.

Matrices are float64 C-contiguous; scratch space is passed in (``work``) so no solver
allocates.
"""

import numpy as np
from numba import njit

# Status of a variable in the mean-variance active set.
_LB = 0  # fixed at 0
_KINK = 1  # fixed at the current weight (the L1 penalty's kink)
_UP = 2  # free, on the piece above the kink (or above 0 when there is no kink)
_DOWN = 3  # free, between 0 and the kink


@njit(cache=True)
def trailing_sums_update_nb(returns, t, window, sums, off):
    """Roll the trailing-window sums forward to include every row up to ``t``.

    ``sums[off]`` counts the rows included so far (0 at the start of a path),
    ``sums[off + 1 : off + 1 + n]`` holds the sum of the window's returns per asset and
    ``sums[off + 1 + n : off + 1 + n + n * n]`` the lower triangle (row-major, ``i >= j``)
    of the sum of their outer products. Rows ``sums[off] .. t`` are added and the rows that
    leave the window dropped, so the sums cost O(n^2) per step instead of the
    O(window n^2) of recomputing. Rules call it on their due steps only: the rows since the
    last call are added in order. Numba-compiled.
    """
    n = returns.shape[1]
    m = off + 1
    base = m + n
    for s in range(int(sums[off]), t + 1):
        old = s - window
        if old >= 0:
            for i in range(n):
                xi = returns[s, i]
                oi = returns[old, i]
                sums[m + i] += xi - oi
                row = base + i * n
                for j in range(i + 1):
                    sums[row + j] += xi * returns[s, j] - oi * returns[old, j]
        else:
            for i in range(n):
                xi = returns[s, i]
                sums[m + i] += xi
                row = base + i * n
                for j in range(i + 1):
                    sums[row + j] += xi * returns[s, j]
    sums[off] = max(sums[off], t + 1)


@njit(cache=True)
def trailing_moments_nb(sums, off, n, window, steps_per_year, mu_out, cov_out):
    """Annualised sample mean and covariance (``ddof = 1``) from the trailing-window sums.

    ``mu_out`` is the mean simple return per step times ``steps_per_year`` (arithmetic
    annual return), ``cov_out`` the sample covariance of simple returns per step times
    ``steps_per_year``: ``(S2 - S1 S1' / window) / (window - 1)``. Numba-compiled.

    Parameters
    ----------
    sums : ndarray
        The row count and sums kept by :func:`trailing_sums_update_nb`, from ``off``.
    n, window : int
        Assets and rows in the window (>= 2).
    steps_per_year : float
        Annualisation factor.
    mu_out : ndarray of shape (n,)
    cov_out : ndarray of shape (n, n)
        Overwritten.
    """
    m = off + 1
    base = m + n
    inv_w = 1.0 / window
    scale = steps_per_year / (window - 1)
    for i in range(n):
        mu_out[i] = sums[m + i] * inv_w * steps_per_year
    for i in range(n):
        si = sums[m + i]
        for j in range(i + 1):
            c = (sums[base + i * n + j] - si * sums[m + j] * inv_w) * scale
            cov_out[i, j] = c
            cov_out[j, i] = c


@njit(cache=True)
def solve_linear_nb(a, b, m):
    """Solve ``a[:m, :m] x = b[:m]`` in place by Gaussian elimination with partial pivoting.

    ``b[:m]`` is overwritten with ``x`` and ``a`` is destroyed. Returns False when the
    matrix is singular to working precision. Numba-compiled.
    """
    scale = 0.0
    for i in range(m):
        for j in range(m):
            scale = max(scale, abs(a[i, j]))
    tiny = 1e-14 * scale if scale > 0.0 else 1e-300
    for k in range(m):
        p = k
        big = abs(a[k, k])
        for i in range(k + 1, m):
            if abs(a[i, k]) > big:
                big = abs(a[i, k])
                p = i
        if big <= tiny:
            return False
        if p != k:
            for j in range(k, m):
                tmp = a[k, j]
                a[k, j] = a[p, j]
                a[p, j] = tmp
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, m):
            f = a[i, k] * inv
            if f != 0.0:
                for j in range(k + 1, m):
                    a[i, j] -= f * a[k, j]
                b[i] -= f * b[k]
    for k in range(m - 1, -1, -1):
        s = b[k]
        for j in range(k + 1, m):
            s -= a[k, j] * b[j]
        b[k] = s / a[k, k]
    return True


@njit(cache=True, inline="always")
def _move_gradient_nb(grad, cov, risk_aversion, i, dw):
    """Update the mean-variance gradient for a change ``dw`` of weight ``i``."""
    if dw != 0.0:
        for k in range(grad.size):
            grad[k] += risk_aversion * cov[i, k] * dw


@njit(cache=True)
def mv_work_size_nb(n_assets):
    """Length of the ``work`` array :func:`mean_variance_nb` needs for ``n_assets``."""
    return (n_assets + 1) * (n_assets + 1) + (n_assets + 1) + 4 * n_assets


@njit(cache=True)
def mean_variance_nb(mu, cov, risk_aversion, w_current, turnover_penalty, w_out, work):
    """Long-only, fully invested mean-variance weights with an L1 turnover penalty.

    Solves, over the simplex ``{w >= 0, sum(w) = 1}``::

        maximise  w' mu - (risk_aversion / 2) w' cov w - turnover_penalty * sum|w - w_current|

    by a primal active-set method: each variable is either fixed (at 0 or at its current
    weight, the kink of the penalty) or free on one linear piece of the penalty; each
    iteration solves the equality-constrained subproblem on the free variables (a bordered
    KKT system), steps towards its solution until a variable hits a bound or kink, and frees
    the fixed variable with the most negative reduced cost once the subproblem's solution is
    feasible. With ``cov`` positive definite the problem is strictly convex and the result is
    exact to rounding. Numba-compiled.

    Parameters
    ----------
    mu : ndarray of shape (n_assets,)
        Expected returns (same time unit as ``cov``, e.g. annual).
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of returns, symmetric positive semi-definite.
    risk_aversion : float
        lambda > 0.
    w_current : ndarray of shape (n_assets,)
        Current weights (the kinks of the turnover penalty; also the warm start when they
        lie on the simplex).
    turnover_penalty : float
        kappa >= 0: cost per unit of ``sum|w - w_current|`` (same time unit as ``mu``).
    w_out : ndarray of shape (n_assets,)
        Overwritten with the optimal weights (always on the simplex).
    work : ndarray of shape (>= mv_work_size_nb(n_assets),)
        Scratch space.

    Returns
    -------
    int
        Number of iterations (>= 0), or -1 when the iteration limit was reached or a KKT
        system was singular (``w_out`` then holds the last feasible iterate).
    """
    n = mu.size
    m = n + 1
    kkt = work[: m * m].reshape((m, m))
    rhs = work[m * m : m * m + m]
    off = m * m + m
    status = work[off : off + n]
    kink = work[off + n : off + 2 * n]
    grad = work[off + 2 * n : off + 3 * n]
    idx = work[off + 3 * n : off + 4 * n]
    w = w_out
    kappa = turnover_penalty
    if n == 1:
        w[0] = 1.0
        return 0
    # Kinks inside the feasible region (c_i > 0 and kappa > 0); -1 marks "no kink".
    total = 0.0
    feasible = True
    for i in range(n):
        c = w_current[i]
        kink[i] = c if (kappa > 0.0 and c > 0.0) else -1.0
        if not (c >= 0.0):
            feasible = False
        total += c
    if not (abs(total - 1.0) <= 1e-9):
        feasible = False
    # Start from the current weights when they are on the simplex, else from 1/n.
    for i in range(n):
        w[i] = w_current[i] if feasible else 1.0 / n
    for i in range(n):
        if w[i] <= 0.0:
            w[i] = 0.0
            status[i] = _LB
        elif kink[i] >= 0.0 and w[i] == kink[i]:
            status[i] = _KINK
        elif kink[i] >= 0.0 and w[i] < kink[i]:
            status[i] = _DOWN
        else:
            status[i] = _UP
    # The largest |cov[i, j]| of a positive semi-definite matrix is on its diagonal.
    gscale = kappa
    for i in range(n):
        gscale = max(gscale, abs(mu[i]), risk_aversion * abs(cov[i, i]))
    tol = 1e-12 * gscale if gscale > 0.0 else 1e-300
    max_iter = 50 * n + 50
    nu = 0.0
    # The gradient -mu + lambda cov w is kept up to date as w moves (a column per moved
    # weight) instead of recomputed: few weights move per iteration.
    for i in range(n):
        g = -mu[i]
        for j in range(n):
            g += risk_aversion * cov[i, j] * w[j]
        grad[i] = g
    for it in range(max_iter):
        # Free variables, in order.
        nf = 0
        fixed_sum = 0.0
        for i in range(n):
            s = status[i]
            if s == _UP or s == _DOWN:
                idx[nf] = i
                nf += 1
            else:
                fixed_sum += w[i]
        if nf == 0:
            # A vertex of the pieces (only with kappa > 0). With nu the multiplier of the
            # budget, a fixed variable may rise when nu < lo_i = -(grad_i + lin_up_i) and (at
            # a kink) fall when nu > hi_i = kappa - grad_i. The vertex is optimal when some nu
            # satisfies all, i.e. max(lo) <= min(hi); otherwise free the pair with the
            # steepest exchange: the one that most wants to rise and the one that most wants
            # to fall.
            up = -1
            lo_max = -np.inf
            down = -1
            hi_min = np.inf
            for i in range(n):
                lin = -kappa if (status[i] == _LB and kink[i] > 0.0) else kappa
                lo = -(grad[i] + lin)
                if lo > lo_max:
                    lo_max = lo
                    up = i
                if status[i] == _KINK:
                    hi = kappa - grad[i]
                    if hi < hi_min:
                        hi_min = hi
                        down = i
            if down < 0 or lo_max <= hi_min + tol:
                _renormalise_nb(w)
                return it
            status[up] = _DOWN if (status[up] == _LB and kink[up] > 0.0) else _UP
            status[down] = _DOWN
            continue
        # Equality-constrained subproblem on the free variables: bordered KKT system.
        # The right-hand side is mu_i - lin_i - lambda (cov w)_i over the fixed j, that is
        # -grad_i - lin_i + lambda (cov w)_i over the free j.
        for a in range(nf):
            i = int(idx[a])
            lin = kappa if status[i] == _UP else -kappa
            r = -grad[i] - lin
            for b in range(nf):
                j = int(idx[b])
                h = risk_aversion * cov[i, j]
                kkt[a, b] = h
                r += h * w[j]
            rhs[a] = r
            kkt[a, nf] = 1.0
            kkt[nf, a] = 1.0
        kkt[nf, nf] = 0.0
        rhs[nf] = 1.0 - fixed_sum
        if not solve_linear_nb(kkt, rhs, nf + 1):
            return -1
        nu = rhs[nf]
        # Longest step towards the subproblem's solution that stays on every free piece.
        alpha = 1.0
        block = -1
        block_to = _LB
        for a in range(nf):
            i = int(idx[a])
            d = rhs[a] - w[i]
            if d < -1e-15:
                lo = kink[i] if (status[i] == _UP and kink[i] > 0.0) else 0.0
                step = (w[i] - lo) / (-d)
                if step < alpha:
                    alpha = step
                    block = i
                    block_to = _KINK if lo > 0.0 else _LB
            elif d > 1e-15 and status[i] == _DOWN:
                step = (kink[i] - w[i]) / d
                if step < alpha:
                    alpha = step
                    block = i
                    block_to = _KINK
        if alpha < 0.0:
            alpha = 0.0
        for a in range(nf):
            i = int(idx[a])
            moved = w[i]
            w[i] += alpha * (rhs[a] - w[i])
            if block == i:
                w[i] = kink[i] if block_to == _KINK else 0.0
            _move_gradient_nb(grad, cov, risk_aversion, i, w[i] - moved)
        if block >= 0:
            status[block] = block_to
            continue
        # Full step: the subproblem's solution is feasible. Check the fixed variables.
        worst = -1
        worst_cost = -tol
        worst_to = _UP
        for i in range(n):
            s = status[i]
            if s == _LB:
                lin = -kappa if kink[i] > 0.0 else kappa
                cost = grad[i] + nu + lin
                if cost < worst_cost:
                    worst_cost = cost
                    worst = i
                    worst_to = _DOWN if kink[i] > 0.0 else _UP
            elif s == _KINK:
                up = grad[i] + nu + kappa
                down = kappa - grad[i] - nu
                if up < worst_cost:
                    worst_cost = up
                    worst = i
                    worst_to = _UP
                if down < worst_cost:
                    worst_cost = down
                    worst = i
                    worst_to = _DOWN
        if worst < 0:
            _renormalise_nb(w)
            return it + 1
        status[worst] = worst_to
    _renormalise_nb(w)
    return -1


@njit(cache=True)
def _renormalise_nb(w):
    """Clip rounding negatives to 0 and rescale to sum to one."""
    total = 0.0
    for i in range(w.size):
        if w[i] < 0.0:
            w[i] = 0.0
        total += w[i]
    if total > 0.0:
        for i in range(w.size):
            w[i] /= total


@njit(cache=True)
def rp_work_size_nb(n_assets):
    """Length of the ``work`` array :func:`risk_parity_nb` needs for ``n_assets``."""
    return n_assets * n_assets + 4 * n_assets


# Newton decrement below which the full step is taken unchecked: inside (3 - sqrt(5)) / 2
# the full step of a self-concordant function converges quadratically (Nesterov 2004,
# theorem 4.1.14).
_FULL_STEP_DECREMENT = 0.38

# Multiplicative steps towards the budgets taken from a warm start before Newton's.
_WARM_STEPS = 2


@njit(cache=True)
def _spinu_objective_nb(cov, budgets, y):
    n = y.size
    f = 0.0
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += cov[i, j] * y[j]
        f += 0.5 * y[i] * s - budgets[i] * np.log(y[i])
    return f


@njit(cache=True)
def risk_parity_nb(cov, budgets, w_out, work, warm_start):
    """Risk-budgeting weights: risk contributions proportional to ``budgets``.

    Minimises Spinu's strictly convex function ``f(y) = y' cov y / 2 - sum(b_i log y_i)``
    over ``y > 0`` by Newton's method, and returns ``w = y / sum(y)``. At the minimum
    ``y_i (cov y)_i = b_i``, so the risk contributions ``w_i (cov w)_i`` are proportional to
    the budgets. ``f / min(b)`` is self-concordant (each ``-(b_i / min b) log y_i`` is), so
    once its Newton decrement ``lambda`` is below 0.38 the full step stays positive,
    decreases ``f`` and converges quadratically: it is taken without evaluating ``f`` (no
    logarithms, no line search), which is the usual case after a warm start. A warm start
    first takes two multiplicative steps ``y_i <- sqrt(b_i y_i / (cov y)_i)`` towards the
    budgets (cheap, and worth about one Newton iteration). Farther away the step is
    backtracked with Armijo's rule on ``f``. Two assets are solved in closed
    form. Stops when every ``|y_i (cov y)_i - b_i| <= 1e-12 sum(b)``.
    Numba-compiled.

    Parameters
    ----------
    cov : ndarray of shape (n_assets, n_assets)
        Covariance (positive definite; any time unit).
    budgets : ndarray of shape (n_assets,)
        Positive risk budgets (equal for equal risk contribution); any scale.
    w_out : ndarray of shape (n_assets,)
        Overwritten with the weights (positive, summing to one). On entry, the starting
        point when ``warm_start`` is True and all its entries are positive.
    work : ndarray of shape (>= rp_work_size_nb(n_assets),)
        Scratch space.
    warm_start : bool
        Start Newton from ``w_out`` (e.g. the previous solution) instead of inverse
        volatility.

    Returns
    -------
    int
        Newton iterations (>= 0; 0 for the closed form), or -1 when it did not converge
        (``w_out`` then holds the last iterate, normalised, or the budget-weighted
        inverse-volatility start).
    """
    n = budgets.size
    if n == 2 and cov[0, 0] > 0.0 and cov[1, 1] > 0.0:
        return _risk_parity_two_nb(cov, budgets, w_out)
    hess = work[: n * n].reshape((n, n))
    grad = work[n * n : n * n + n]
    step = work[n * n + n : n * n + 2 * n]
    y = work[n * n + 2 * n : n * n + 3 * n]
    trial = work[n * n + 3 * n : n * n + 4 * n]
    bsum = 0.0
    bmin = np.inf
    for i in range(n):
        bsum += budgets[i]
        bmin = min(bmin, budgets[i])
    # Start: the weights in ``w_out`` (warm start) or budget-weighted inverse volatility,
    # scaled so that y' cov y = sum(b).
    warm = warm_start
    if warm:
        for i in range(n):
            if not (w_out[i] > 0.0):
                warm = False
    for i in range(n):
        v = cov[i, i]
        if warm:
            y[i] = w_out[i]
        else:
            y[i] = budgets[i] / np.sqrt(v) if v > 0.0 else budgets[i]
    q = 0.0
    for i in range(n):
        for j in range(n):
            q += y[i] * cov[i, j] * y[j]
    scale = np.sqrt(bsum / q) if q > 0.0 else 1.0
    for i in range(n):
        y[i] *= scale
    if warm:
        # A warm start (the last solve's weights) is typically 1e-2 off in the risk
        # contributions, where Newton's first step gains only a factor 10. Two multiplicative
        # steps y_i <- sqrt(b_i y_i / (cov y)_i), each one matrix-vector product, bring
        # each contribution y_i (cov y)_i towards its budget and save about one Newton
        # iteration (3.99 -> 3.02 a solve along W1 paths). A contribution with
        # (cov y)_i <= 0 is left alone (negative correlations), so y stays positive.
        for _ in range(_WARM_STEPS):
            for i in range(n):
                s = 0.0
                for j in range(n):
                    s += cov[i, j] * y[j]
                grad[i] = s
            for i in range(n):
                if grad[i] > 0.0:
                    y[i] = np.sqrt(budgets[i] * y[i] / grad[i])
    status = -1
    for it in range(100):
        # Gradient and convergence test on the risk contributions y_i (cov y)_i - b_i;
        # ``step`` receives the Hessian's diagonal term b_i / y_i^2 meanwhile.
        worst = 0.0
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += cov[i, j] * y[j]
            inv_y = 1.0 / y[i]
            g = s - budgets[i] * inv_y
            grad[i] = g
            step[i] = budgets[i] * inv_y * inv_y
            worst = max(worst, abs(y[i] * g))
        if worst <= 1e-12 * bsum:
            status = it
            break
        # Only the lower triangle is factorised, so only it is filled.
        for i in range(n):
            for j in range(i):
                hess[i, j] = cov[i, j]
            hess[i, i] = cov[i, i] + step[i]
            step[i] = -grad[i]
        if not _cholesky_factor_nb(hess, n):
            break
        _cholesky_solve_nb(hess, step, n)
        dec2 = 0.0
        for i in range(n):
            dec2 -= grad[i] * step[i]
        if np.sqrt(max(dec2, 0.0) / bmin) < _FULL_STEP_DECREMENT:
            # Inside the region of quadratic convergence the full step is safe (it stays
            # positive and decreases f): no objective, no logarithms.
            ok = True
            for i in range(n):
                trial[i] = y[i] + step[i]
                if trial[i] <= 0.0:
                    ok = False
        else:
            ok = False
        if not ok:
            # Far from the answer: backtracking on f with Armijo's rule from the full step.
            f = _spinu_objective_nb(cov, budgets, y)
            t = 1.0
            for _ in range(60):
                positive = True
                for i in range(n):
                    trial[i] = y[i] + t * step[i]
                    if trial[i] <= 0.0:
                        positive = False
                if positive:
                    f_new = _spinu_objective_nb(cov, budgets, trial)
                    if f_new <= f - 1e-4 * t * dec2 or abs(f_new - f) <= 1e-15 * (1.0 + abs(f)):
                        ok = True
                        break
                t *= 0.5
        if not ok:
            break
        for i in range(n):
            y[i] = trial[i]
    total = 0.0
    for i in range(n):
        total += y[i]
    for i in range(n):
        w_out[i] = y[i] / total
    return status


@njit(cache=True)
def _risk_parity_two_nb(cov, budgets, w_out):
    """Two-asset risk budgeting in closed form.

    With ``r = w_0 / w_1`` and ``beta = b_0 / b_1``, equal budgeted contributions
    ``w_0 (cov w)_0 / b_0 = w_1 (cov w)_1 / b_1`` give
    ``s00 r^2 + s01 (1 - beta) r - beta s11 = 0``, whose positive root is taken (written
    without cancellation). Equal budgets give ``w proportional to 1 / vol`` for any
    correlation.
    """
    s00 = cov[0, 0]
    s11 = cov[1, 1]
    s01 = 0.5 * (cov[0, 1] + cov[1, 0])
    beta = budgets[0] / budgets[1]
    bq = s01 * (1.0 - beta)
    disc = np.sqrt(bq * bq + 4.0 * s00 * beta * s11)
    # r = (-bq + disc) / (2 s00) = 2 beta s11 / (bq + disc); take the stable form.
    r = (disc - bq) / (2.0 * s00) if bq <= 0.0 else 2.0 * beta * s11 / (bq + disc)
    w_out[0] = r / (1.0 + r)
    w_out[1] = 1.0 / (1.0 + r)
    return 0


@njit(cache=True)
def _cholesky_factor_nb(a, n):
    """Cholesky factor of symmetric positive definite ``a[:n, :n]``, in place.

    Only the lower triangle of ``a`` is read; it is overwritten with the factor ``L``,
    except that its diagonal receives ``1 / L_jj``. A division is slow and does not
    pipeline: one reciprocal per column, and multiplications by it everywhere else (the
    factor's columns here, both triangular solves in :func:`_cholesky_solve_nb`), take
    about half the time of a division per element at 10 assets. Returns False when ``a``
    is not positive definite.
    """
    for j in range(n):
        d = a[j, j]
        for k in range(j):
            d -= a[j, k] * a[j, k]
        if not (d > 0.0):
            return False
        inv = 1.0 / np.sqrt(d)
        a[j, j] = inv
        for i in range(j + 1, n):
            s = a[i, j]
            for k in range(j):
                s -= a[i, k] * a[j, k]
            a[i, j] = s * inv
    return True


@njit(cache=True)
def _cholesky_solve_nb(a, b, n):
    """Solve ``L L' x = b`` in place (``b`` becomes x) with the factor of
    :func:`_cholesky_factor_nb` (``L`` below the diagonal, ``1 / L_jj`` on it)."""
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= a[i, k] * b[k]
        b[i] = s * a[i, i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s -= a[k, i] * b[k]
        b[i] = s * a[i, i]


@njit(cache=True)
def target_vol_scale_nb(cov, target, safe, target_vol, max_leverage):
    """Exposure ``k`` such that ``w = k * target + (1 - k) * e_safe`` has volatility ``target_vol``.

    With ``d = target - e_safe`` the variance ``w' cov w = a k^2 + b k + c`` is quadratic in
    ``k`` (``a = d' cov d``, ``b = 2 d' cov e_safe``, ``c = cov[safe, safe]``); the larger root
    of ``a k^2 + b k + c = target_vol^2`` is taken. When the target is below the smallest
    attainable volatility, the minimum-variance ``k`` is returned. The result is clipped to
    ``[0, max_leverage]``. ``safe < 0`` means no safe asset (then ``k`` scales the weights
    and the remainder is unallocated: callers always pass a safe asset). Numba-compiled.
    """
    n = target.size
    a = 0.0
    b = 0.0
    for i in range(n):
        di = target[i] - (1.0 if i == safe else 0.0)
        for j in range(n):
            dj = target[j] - (1.0 if j == safe else 0.0)
            a += di * cov[i, j] * dj
        if safe >= 0:
            b += 2.0 * di * cov[i, safe]
    c = cov[safe, safe] if safe >= 0 else 0.0
    c -= target_vol * target_vol
    if a <= 0.0:
        return max_leverage
    disc = b * b - 4.0 * a * c
    if disc < 0.0:
        k = -b / (2.0 * a)
    else:
        k = (-b + np.sqrt(disc)) / (2.0 * a)
    return min(max(k, 0.0), max_leverage)
