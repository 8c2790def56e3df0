"""Risk parity's damped Newton and its two-asset closed form: hard starts, budgets, accuracy."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._solvers import (
    _cholesky_factor_nb,
    _cholesky_solve_nb,
    risk_parity_nb,
    rp_work_size_nb,
)

from mcsim.testing.allocation import risk_parity_scipy

SETTINGS = settings(deadline=None, derandomize=True, max_examples=60)


def _solve(cov, b, start=None):
    n = b.size
    w = np.zeros(n) if start is None else start.copy()
    status = risk_parity_nb(cov, b, w, np.empty(rp_work_size_nb(n)), start is not None)
    return w, status


def _contributions_match(cov, b, w, atol):
    rc = w * (cov @ w)
    np.testing.assert_allclose(rc / rc.sum(), b / b.sum(), atol=atol)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(3, 12),
    spread=st.floats(1.0, 1e3),
    rho=st.floats(-0.05, 0.95),
)
def test_damped_newton_converges_from_far_starts(seed, n, spread, rho):
    # Volatilities spread over up to three orders of magnitude, equicorrelation up to 0.95,
    # budgets over a factor 100, and a warm start far from the answer (one asset with almost
    # all the weight): the damped steps must stay positive and converge.
    rng = np.random.default_rng(seed)
    vol = np.exp(rng.uniform(0.0, np.log(spread), n)) * 0.01
    corr = np.full((n, n), rho)
    np.fill_diagonal(corr, 1.0)
    cov = corr * np.outer(vol, vol)
    b = np.exp(rng.uniform(0.0, np.log(100.0), n))
    far = np.full(n, 1e-6)
    far[int(rng.integers(n))] = 1.0
    for start in (None, far / far.sum()):
        w, status = _solve(cov, b, start)
        assert status >= 0
        assert np.all(w > 0.0) and abs(w.sum() - 1.0) < 1e-12
        _contributions_match(cov, b, w, 1e-11)


@SETTINGS
@given(
    v0=st.floats(0.01, 1.0),
    v1=st.floats(0.01, 1.0),
    rho=st.floats(-0.99, 0.99),
    b0=st.floats(0.01, 100.0),
    b1=st.floats(0.01, 100.0),
)
def test_two_assets_closed_form_gives_the_budgets(v0, v1, rho, b0, b1):
    cov = np.array([[v0 * v0, rho * v0 * v1], [rho * v0 * v1, v1 * v1]])
    b = np.array([b0, b1])
    w, status = _solve(cov, b)
    assert status == 0
    assert np.all(w > 0.0) and abs(w.sum() - 1.0) < 1e-15
    _contributions_match(cov, b, w, 1e-12)


def test_two_assets_closed_form_matches_scipy():
    cov = np.array([[0.04, -0.006], [-0.006, 0.0025]])
    b = np.array([0.7, 0.3])
    w, _ = _solve(cov, b)
    np.testing.assert_allclose(w, risk_parity_scipy(cov, b / b.sum()), atol=1e-7)


def test_warm_start_equals_cold_start_to_the_tolerance():
    # The trailing covariance moves a little between due steps; a warm start from the last
    # solution lands on the same weights as a cold start, within the stopping tolerance.
    rng = np.random.default_rng(4)
    n = 10
    a = rng.standard_normal((60, n)) * np.linspace(0.02, 0.08, n)
    b = np.ones(n)
    w_prev, _ = _solve(np.cov(a[:36], rowvar=False), b)
    for start in range(3, 24, 3):
        cov = np.cov(a[start : start + 36], rowvar=False)
        w_cold, s_cold = _solve(cov, b)
        w_warm, s_warm = _solve(cov, b, w_prev)
        assert s_cold >= 0 and s_warm >= 0
        assert s_warm <= s_cold
        np.testing.assert_allclose(w_warm, w_cold, atol=1e-11)
        w_prev = w_warm


def test_cholesky_factor_and_solve_match_numpy():
    # The factor keeps 1 / L_jj on its diagonal and reads only the lower triangle: the
    # upper one is filled with garbage to prove it is ignored.
    rng = np.random.default_rng(11)
    for n in (1, 3, 10, 17):
        m = rng.standard_normal((n, n))
        a = m @ m.T + n * np.eye(n)
        rhs = rng.standard_normal(n)
        work = a.copy()
        work[np.triu_indices(n, 1)] = np.nan
        assert _cholesky_factor_nb(work, n)
        lower = np.tril(work, -1) + np.diag(1.0 / np.diag(work))
        np.testing.assert_allclose(lower, np.linalg.cholesky(a), rtol=1e-13, atol=1e-13)
        x = rhs.copy()
        _cholesky_solve_nb(work, x, n)
        np.testing.assert_allclose(x, np.linalg.solve(a, rhs), rtol=1e-12)
    assert not _cholesky_factor_nb(-np.eye(3), 3)


def _pure_newton(cov, b):
    """Spinu's Newton in plain NumPy from inverse volatility (dense solves), each step
    halved while it would leave y > 0."""
    y = b / np.sqrt(np.diag(cov))
    y *= np.sqrt(b.sum() / (y @ cov @ y))
    for _ in range(200):
        cy = cov @ y
        if np.max(np.abs(y * cy - b)) <= 1e-14 * b.sum():
            break
        d = np.linalg.solve(cov + np.diag(b / y**2), b / y - cy)
        t = 1.0
        while np.any(y + t * d <= 0.0):
            t *= 0.5
        y = y + t * d
    return y / y.sum()


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 15), window=st.integers(20, 48))
def test_warm_started_path_of_trailing_solves_meets_the_tolerance(seed, n, window):
    # As in the rule: quarterly re-solves of a trailing window's covariance, each warm
    # started from the last solution. Every solve must converge to plain Newton's answer
    # within the stopping tolerance on the risk contributions.
    rng = np.random.default_rng(seed)
    window = max(window, n + 2)
    r = rng.standard_normal((window + 60, n)) * rng.uniform(0.01, 0.08, n)
    r += 0.5 * rng.standard_normal((window + 60, 1)) * 0.03
    b = rng.uniform(0.5, 2.0, n)
    w = np.zeros(n)
    for start in range(0, 61, 3):
        cov = np.cov(r[start : start + window], rowvar=False)
        w, status = _solve(cov, b, w if start else None)
        assert status >= 0
        _contributions_match(cov, b, w, 1e-11)
        ref = _pure_newton(cov, b)
        np.testing.assert_allclose(w, ref, atol=1e-11)


def test_warm_start_with_a_negative_marginal_risk_stays_positive():
    # From this start (cov y)_0 < 0: asset 0 hedges asset 1, which holds almost everything.
    # The multiplicative warm-start steps must leave that weight alone (a square root of
    # a negative number) and Newton must still reach the budgets.
    vol = np.array([0.2, 0.1, 0.15])
    corr = np.array([[1.0, -0.9, 0.1], [-0.9, 1.0, 0.0], [0.1, 0.0, 1.0]])
    cov = corr * np.outer(vol, vol)
    start = np.array([0.01, 0.98, 0.01])
    assert (cov @ start)[0] < 0.0
    b = np.array([1.0, 2.0, 1.0])
    w, status = _solve(cov, b, start)
    assert status >= 0 and np.all(w > 0.0)
    _contributions_match(cov, b, w, 1e-12)
    np.testing.assert_allclose(w, _pure_newton(cov, b), atol=1e-12)
