"""Risk parity's damped Newton and its two-asset closed form: hard starts, budgets, accuracy."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._solvers import risk_parity_nb, rp_work_size_nb

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
