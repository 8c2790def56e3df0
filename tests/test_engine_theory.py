"""The engine's statistics against closed forms of the lognormal model (no costs).

Every tolerance is a multiple of the Monte Carlo standard error of the quantity tested
(``Z = 5``: a correct engine fails a given check with probability below 1e-6), plus, where the
reference is a continuous-time limit, an explicit bound on the discretisation error.
"""

import numpy as np
import pytest

import mcsim

Z = 5.0


def scenario(mu, vol, corr, policy, *, n_paths, years, steps_per_year, target=None, seed=7):
    n = len(mu)
    names = [f"a{i}" for i in range(n)]
    target = target if target is not None else [1.0 / n] * n
    return mcsim.Scenario.from_dict(
        {
            "simulation": {
                "n_paths": n_paths,
                "horizon_years": years,
                "steps_per_year": steps_per_year,
                "block_size": 1000,
                "seed": seed,
                "initial_wealth": 1.0,
                "keep_paths": 0,
            },
            "model": {
                "kind": "gaussian",
                "assets": names,
                "mu": list(mu),
                "vol": list(vol),
                "corr": [list(r) for r in corr],
            },
            "portfolio": {"target": dict(zip(names, target, strict=True))},
            "policies": policy if isinstance(policy, list) else [policy],
        }
    )


MU = np.array([0.08, 0.03])
VOL = np.array([0.20, 0.07])
CORR = np.array([[1.0, 0.2], [0.2, 1.0]])
W = np.array([0.6, 0.4])
COV = CORR * np.outer(VOL, VOL)


def test_buy_and_hold_expected_wealth():
    # W_T = sum_i w_i exp(X_i) with E[exp(X_i)] = exp(mu_i T) exactly (exact lognormal steps).
    years, n = 20, 20_000
    sc = scenario(MU, VOL, CORR, {"name": "bh", "kind": "buy_and_hold"}, n_paths=n,
                  years=years, steps_per_year=12, target=W)  # fmt: skip
    wealth = mcsim.run(sc).metric("terminal_wealth")["bh"].to_numpy()
    expected = W @ np.exp(MU * years)
    se = wealth.std(ddof=1) / np.sqrt(n)
    assert abs(wealth.mean() - expected) < Z * se


@pytest.mark.parametrize("every", [1, 12])
def test_calendar_expected_wealth(every):
    # Between rebalances the portfolio is bought and held from target weights, so each
    # period of k steps multiplies wealth by a factor with mean sum_i w_i exp(mu_i k dt),
    # independent across periods: E[W_T] = (sum_i w_i exp(mu_i k dt)) ** (n_steps / k).
    years, spy, n = 20, 12, 20_000
    pol = {"name": "cal", "kind": "calendar", "every": every}
    sc = scenario(MU, VOL, CORR, pol, n_paths=n, years=years, steps_per_year=spy, target=W)
    wealth = mcsim.run(sc).metric("terminal_wealth")["cal"].to_numpy()
    k_dt = every / spy
    expected = (W @ np.exp(MU * k_dt)) ** (years * spy / every)
    se = wealth.std(ddof=1) / np.sqrt(n)
    assert abs(wealth.mean() - expected) < Z * se


def _log_growth_moments(mu, cov, w, dt, order=40):
    """Exact mean and variance of log(sum_i w_i exp(x_i)) for x ~ N((mu - s^2/2) dt, cov dt).

    Two-dimensional Gauss-Hermite quadrature: exact to ~1e-13 for this smooth integrand,
    and independent of the simulation it checks.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    weights = weights / weights.sum()
    L = np.linalg.cholesky(cov * dt)
    drift = (mu - 0.5 * np.diag(cov)) * dt
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    pw = np.outer(weights, weights)
    x = drift[:, None, None] + np.einsum("ij,jab->iab", L, np.stack([z1, z2]))
    g = np.log(np.tensordot(w, np.exp(x), axes=1))
    m = float((pw * g).sum())
    v = float((pw * (g - m) ** 2).sum())
    return m, v


def test_log_wealth_of_frequent_rebalancing_is_normal_with_exact_moments():
    # Rebalanced every step, log W_T is a sum of n i.i.d. step log-growths: its mean and
    # variance are n times the per-step moments (computed exactly by quadrature), and by the
    # CLT it is close to normal. In the continuous limit the moments are
    # (w'mu - w'Sigma w / 2) T and w'Sigma w T; the quadrature agrees to O(dt).
    years, spy, n = 10, 252, 10_000
    pol = {"name": "cm", "kind": "calendar", "every": 1}
    sc = scenario(MU, VOL, CORR, pol, n_paths=n, years=years, steps_per_year=spy, target=W)
    logw = np.log(mcsim.run(sc).metric("terminal_wealth")["cm"].to_numpy())
    m, v = _log_growth_moments(MU, COV, W, 1 / spy)
    n_steps = years * spy
    mean_exp, var_exp = n_steps * m, n_steps * v
    # Continuous-time closed form, and the discretisation gap at daily steps.
    cont_mean = (W @ MU - 0.5 * W @ COV @ W) * years
    cont_var = W @ COV @ W * years
    assert abs(mean_exp - cont_mean) < 2e-3 * abs(cont_mean)
    assert abs(var_exp - cont_var) < 2e-3 * cont_var
    # Sample mean: SE = sd / sqrt(n). Sample variance of a normal: SE = var * sqrt(2 / (n-1)).
    assert abs(logw.mean() - mean_exp) < Z * np.sqrt(var_exp / n)
    assert abs(logw.var(ddof=1) - var_exp) < Z * var_exp * np.sqrt(2 / (n - 1))
    # Normal shape: skewness and excess kurtosis within Z standard errors of 0
    # (SE ~ sqrt(6/n) and sqrt(24/n) for a normal sample).
    s = (logw - logw.mean()) / logw.std()
    assert abs((s**3).mean()) < Z * np.sqrt(6 / n)
    assert abs((s**4).mean() - 3) < Z * np.sqrt(24 / n)


def test_rebalancing_bonus():
    # Two uncorrelated assets with equal growth rates g = mu - s^2/2: a constant mix grows at
    # w'mu - w'Sigma w/2 = g + (sum_i w_i s_i^2 - w'Sigma w)/2, the excess growth (rebalancing
    # bonus) of Fernholz and Booth-Fama; for 50/50 it is s^2/4.
    s = 0.30
    mu = np.array([0.05 + s**2 / 2, 0.05 + s**2 / 2])
    vol = np.array([s, s])
    corr = np.eye(2)
    years, spy, n = 10, 252, 10_000
    pols = [
        {"name": "cm", "kind": "calendar", "every": 1},
        {"name": "bh", "kind": "buy_and_hold"},
    ]
    res = mcsim.run(scenario(mu, vol, corr, pols, n_paths=n, years=years, steps_per_year=spy))
    growth_cm = np.log(res.metric("terminal_wealth")["cm"].to_numpy()) / years
    bonus = s**2 / 4
    g = 0.05
    m, _ = _log_growth_moments(mu, np.diag(vol**2), np.array([0.5, 0.5]), 1 / spy)
    exact_rate = m * spy  # discrete-time growth per year, equal to g + bonus to O(dt)
    assert abs(exact_rate - (g + bonus)) < 1e-3
    se = growth_cm.std(ddof=1) / np.sqrt(n)
    assert abs(growth_cm.mean() - exact_rate) < Z * se
    assert growth_cm.mean() - g > bonus - Z * se
    # On the same paths, the constant mix beats buy-and-hold in median growth.
    growth_bh = np.log(res.metric("terminal_wealth")["bh"].to_numpy()) / years
    assert np.median(growth_cm - growth_bh) > 0


def test_max_drawdown_of_brownian_motion():
    # One asset with mu = s^2/2: log wealth is a driftless Brownian motion with volatility s.
    # Its maximum drawdown D over [0, T] has E[D] = sqrt(pi/2) s sqrt(T) (Magdon-Ismail et al.
    # 2004). Monitoring at discrete steps misses the extremes: each end of the drawdown is
    # short by about beta s sqrt(dt), beta = -zeta(1/2)/sqrt(2 pi) = 0.5826 (Broadie,
    # Glasserman & Kou 1997), so E[D_discrete] ~ E[D] - 2 beta s sqrt(dt).
    s, years, spy, n = 0.2, 5, 252, 10_000
    sc = scenario([s**2 / 2], [s], [[1.0]], {"name": "bh", "kind": "buy_and_hold"},
                  n_paths=n, years=years, steps_per_year=spy)  # fmt: skip
    mdd = mcsim.run(sc).metric("max_drawdown")["bh"].to_numpy()
    d = -np.log1p(-mdd)  # drawdown of log wealth
    beta = 0.5825971579390106
    correction = 2 * beta * s * np.sqrt(1 / spy)
    expected = np.sqrt(np.pi / 2) * s * np.sqrt(years) - correction
    se = d.std(ddof=1) / np.sqrt(n)
    # The correction is first order; allow half of it again for the next terms.
    assert abs(d.mean() - expected) < Z * se + 0.5 * correction


def test_cagr_and_volatility_match_the_unit_value():
    # CAGR is the annualised growth of the unit value, which equals wealth without flows;
    # volatility is the annualised standard deviation of per-step portfolio returns.
    years, spy, n = 10, 12, 2_000
    pol = {"name": "bh", "kind": "buy_and_hold"}
    res = mcsim.run(scenario(MU, VOL, CORR, pol, n_paths=n, years=years, steps_per_year=spy))
    p = res.paths.loc["bh"]
    expected_cagr = p["terminal_wealth"] ** (1 / years) - 1
    np.testing.assert_allclose(p["cagr"], expected_cagr, rtol=1e-12, atol=1e-14)
    # A single asset's volatility estimate is unbiased for sd of simple returns per step
    # times sqrt(12); its mean over paths is within Z SE of the lognormal value.
    sc1 = scenario([0.06], [0.15], [[1.0]], pol, n_paths=n, years=years, steps_per_year=spy)
    vol = mcsim.run(sc1).metric("volatility")["bh"].to_numpy()
    dt = 1 / spy
    m = np.exp(0.06 * dt)
    sd_step = m * np.sqrt(np.exp(0.15**2 * dt) - 1)
    # E[sample sd] < sd (Jensen); the bias is ~ sd / (4 (n_steps - 1)), far below the SE.
    assert abs(vol.mean() - sd_step * np.sqrt(spy)) < Z * vol.std(ddof=1) / np.sqrt(n) + (
        sd_step * np.sqrt(spy) / (4 * (years * spy - 1))
    )
