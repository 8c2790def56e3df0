"""In-kernel solvers (mean-variance QP, risk parity, target-vol scale) vs SciPy and NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._solvers import (
    mean_variance_nb,
    mv_work_size_nb,
    risk_parity_nb,
    rp_work_size_nb,
    target_vol_scale_nb,
    trailing_moments_nb,
    trailing_sums_update_nb,
)

from mcsim.testing.allocation import (
    mean_variance_objective,
    mean_variance_scipy,
    risk_parity_scipy,
    sample_moments_ref,
    target_vol_scale_ref,
)

SETTINGS = settings(deadline=None, derandomize=True, max_examples=40)


def random_problem(seed: int, n: int):
    """A well-conditioned random covariance (annual, vols ~ 5-40 %) and expected returns."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n + 2))
    vols = rng.uniform(0.05, 0.4, n)
    corr_raw = a @ a.T / (n + 2) + 0.2 * np.eye(n)
    d = np.sqrt(np.diag(corr_raw))
    cov = corr_raw / np.outer(d, d) * np.outer(vols, vols)
    mu = rng.normal(0.06, 0.04, n)
    return rng, mu, cov


def solve_mv(mu, cov, lam, c, kappa):
    n = mu.size
    w = np.empty(n)
    status = mean_variance_nb(mu, cov, lam, c, kappa, w, np.empty(mv_work_size_nb(n)))
    return w, status


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6))
def test_mean_variance_matches_scipy_without_turnover_penalty(seed, n):
    rng, mu, cov = random_problem(seed, n)
    lam = float(rng.uniform(0.5, 10.0))
    c = rng.dirichlet(np.ones(n))
    w, status = solve_mv(mu, cov, lam, c, 0.0)
    ref = mean_variance_scipy(mu, cov, lam, c, 0.0)
    assert status >= 0
    assert np.all(w >= 0.0) and abs(w.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(w, ref, atol=1e-6)
    # The active-set answer is exact: never worse than SLSQP's.
    assert mean_variance_objective(mu, cov, lam, c, 0.0, w) >= (
        mean_variance_objective(mu, cov, lam, c, 0.0, ref) - 1e-12
    )


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6), zeros=st.integers(0, 2))
def test_mean_variance_matches_scipy_with_turnover_penalty(seed, n, zeros):
    rng, mu, cov = random_problem(seed, n)
    lam = float(rng.uniform(0.5, 10.0))
    kappa = float(rng.uniform(0.0005, 0.05))
    c = rng.dirichlet(np.ones(n))
    c[: min(zeros, n - 1)] = 0.0
    c /= c.sum()
    w, status = solve_mv(mu, cov, lam, c, kappa)
    ref = mean_variance_scipy(mu, cov, lam, c, kappa)
    assert status >= 0
    assert np.all(w >= 0.0) and abs(w.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(w, ref, atol=1e-6)
    assert mean_variance_objective(mu, cov, lam, c, kappa, w) >= (
        mean_variance_objective(mu, cov, lam, c, kappa, ref) - 1e-12
    )


def test_mean_variance_large_penalty_keeps_current_weights():
    _, mu, cov = random_problem(3, 4)
    c = np.array([0.1, 0.2, 0.3, 0.4])
    w, status = solve_mv(mu, cov, 3.0, c, 10.0)
    assert status >= 0
    np.testing.assert_allclose(w, c, atol=1e-15)


def test_mean_variance_single_asset_and_infeasible_start():
    w, status = solve_mv(np.array([0.05]), np.array([[0.04]]), 2.0, np.array([1.0]), 0.0)
    assert status == 0 and w[0] == 1.0
    _, mu, cov = random_problem(5, 3)
    # Leveraged current weights are not on the simplex: the solver starts from 1/n.
    w, status = solve_mv(mu, cov, 4.0, np.array([1.5, -0.5, 0.0]), 0.0)
    assert status >= 0
    np.testing.assert_allclose(w, mean_variance_scipy(mu, cov, 4.0, None, 0.0), atol=1e-6)


def test_mean_variance_unconstrained_closed_form():
    # When no bound binds, w = Sigma^-1 (mu - nu 1) / lam with nu fixing sum(w) = 1.
    cov = np.array([[0.04, 0.006], [0.006, 0.09]])
    mu = np.array([0.06, 0.08])
    lam = 4.0
    inv = np.linalg.inv(cov)
    ones = np.ones(2)
    nu = (ones @ inv @ mu - lam) / (ones @ inv @ ones)
    expected = inv @ (mu - nu) / lam
    assert np.all(expected > 0)
    w, _ = solve_mv(mu, cov, lam, np.array([0.5, 0.5]), 0.0)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 7), equal=st.booleans())
def test_risk_parity_matches_scipy(seed, n, equal):
    rng, _, cov = random_problem(seed, n)
    b = np.full(n, 1.0 / n) if equal else rng.uniform(0.2, 1.0, n)
    b /= b.sum()
    w = np.empty(n)
    status = risk_parity_nb(cov, b, w, np.empty(rp_work_size_nb(n)), False)
    assert status >= 0
    ref = risk_parity_scipy(cov, b)
    np.testing.assert_allclose(w, ref, atol=1e-6)
    rc = w * (cov @ w)
    np.testing.assert_allclose(rc / rc.sum(), b, atol=1e-10)
    # Warm start from a nearby point (a perturbed solution) reaches the same answer.
    w_warm = w * rng.uniform(0.5, 1.5, n)
    status = risk_parity_nb(cov, b, w_warm, np.empty(rp_work_size_nb(n)), True)
    assert status >= 0
    np.testing.assert_allclose(w_warm, w, atol=1e-10)


def test_risk_parity_two_assets_closed_form():
    # Two assets: equal risk contribution means w_i proportional to 1 / vol_i.
    vols = np.array([0.1, 0.3])
    cov = np.array([[0.01, 0.5 * 0.03], [0.5 * 0.03, 0.09]])
    w = np.empty(2)
    risk_parity_nb(cov, np.array([0.5, 0.5]), w, np.empty(rp_work_size_nb(2)), False)
    np.testing.assert_allclose(w, (1 / vols) / (1 / vols).sum(), rtol=1e-12)


@pytest.mark.parametrize("window", [2, 5, 12])
@pytest.mark.parametrize("every", [1, 3, 7])
def test_trailing_moments_match_numpy(window, every):
    rng = np.random.default_rng(window)
    returns = rng.normal(0.01, 0.05, (40, 4))
    sums = np.zeros(3 + 1 + 4 + 16)
    mu = np.empty(4)
    cov = np.empty((4, 4))
    for t in range(returns.shape[0]):
        # Brought up to date on some steps only (as a rule does on its due steps).
        if t + 1 < window or t % every != every - 1:
            continue
        trailing_sums_update_nb(returns, t, window, sums, 3)
        trailing_moments_nb(sums, 3, 4, window, 12.0, mu, cov)
        mu_ref, cov_ref = sample_moments_ref(returns, t, window, 12.0)
        # Rolling sums vs a fresh two-pass estimate: rounding of the add/drop updates and of
        # S2 - S1 S1'/n (the mean is small next to the volatility here).
        np.testing.assert_allclose(mu, mu_ref, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(cov, cov_ref, rtol=1e-9, atol=1e-13)
    assert sums[:3].tolist() == [0.0, 0.0, 0.0]  # slots before ``off`` untouched


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 5), vol=st.floats(0.02, 0.3))
def test_target_vol_scale_hits_target(seed, n, vol):
    rng, _, cov = random_problem(seed, n)
    safe = int(rng.integers(n))
    cov[safe, :] *= 0.1  # a low-volatility safe asset, still correlated
    cov[:, safe] *= 0.1
    target = rng.dirichlet(np.ones(n))
    k = target_vol_scale_nb(cov, target, safe, vol, 3.0)
    assert k == pytest.approx(target_vol_scale_ref(cov, target, safe, vol, 3.0), rel=1e-12)
    w = k * target
    w[safe] += 1 - k
    # Above the safe asset's own volatility the variance equation has a positive root, which
    # the solver returns unless the leverage cap binds.
    if k < 3.0 and vol > np.sqrt(cov[safe, safe]):
        assert np.sqrt(w @ cov @ w) == pytest.approx(vol, rel=1e-10)
    else:
        assert k == 3.0 or vol <= np.sqrt(cov[safe, safe])
