"""CPPI against the continuous-time closed form, its payoff shape, and its floor accounting.

Market: a GBM risky asset (annual drift ``mu``, volatility ``sigma``) and a riskless asset
whose simple return per step is ``e^{r dt} - 1``, so the floor (growing at the safe asset's
realised return) is exactly ``F_0 e^{rt}``.

Continuous time (Black & Perold 1992; Bertrand & Prigent 2005): with exposure ``m C`` and
``dF = r F dt``, the cushion ``C = W - F`` obeys ``dC = C (m dS/S + (1 - m) r dt)``. Ito on
``log C`` with ``int dS/S = log(S_T/S_0) + sigma^2 T / 2`` gives

    C_T = C_0 (S_T/S_0)^m exp((1 - m)(r + m sigma^2 / 2) T),
    E[C_T] = C_0 exp((r + m (mu - r)) T).

Discrete time with rebalancing every step and no cap: ``C_{t+1} = C_t (1 + m R_t + (1 - m)
r_t)`` exactly (``R_t`` the risky, ``r_t`` the riskless simple return of the step), as long as
the cushion stays positive. So ``E[C_T] = C_0 (1 + m E[R] + (1 - m) r_dt)^N`` exactly, and
the per-path gap to the continuous formula is ``log C_T^disc - log C_T^cont = sum_t [log(1 +
m R_t + (1-m) r_t) - m log(1 + R_t) - ...]``, whose leading random term is
``(m - m^2)/2 sum_t (R_t^2 - sigma^2 dt)``: standard deviation
``|m^2 - m| sigma^2 sqrt(2 dt T) / 2`` (~2 % for m = 4, sigma = 20 %, daily steps, 1 year),
vanishing like ``sqrt(dt)``.
"""

import numpy as np
import pytest
from mcsim.kernels import layout

from mcsim import CPPI, Calendar, ConfigError
from mcsim.testing.allocation import cppi_continuous, run_allocation, simulate_ref

NAMES = ["risky", "safe"]
TARGET = np.array([1.0, 0.0])


def market(seed, n_paths, n_steps, mu, sigma, r, steps_per_year):
    """Returns (n_paths, n_steps, 2): GBM risky asset and a riskless asset."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / steps_per_year
    z = rng.standard_normal((n_paths, n_steps))
    out = np.empty((n_paths, n_steps, 2))
    out[:, :, 0] = np.expm1((mu - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * z)
    out[:, :, 1] = np.expm1(r * dt)
    return out


def model_moments(mu, sigma, r):
    return np.array([mu, r]), np.diag([sigma**2, 0.0])


MU, SIGMA, R, M, FLOOR = 0.08, 0.20, 0.03, 4.0, 0.8
SPY = 252


@pytest.fixture(scope="module")
def daily_run():
    n_paths = 2000
    returns = market(11, n_paths, SPY, MU, SIGMA, R, SPY)
    policy = CPPI(name="c", safe_asset="safe", floor=FLOOR, multiplier=M, max_exposure=np.inf)
    mu, cov = model_moments(MU, SIGMA, R)
    metrics, wealth, kp = run_allocation(
        policy,
        returns,
        asset_names=NAMES,
        target=TARGET,
        mu=mu,
        cov=cov,
        steps_per_year=SPY,
        keep=n_paths,
    )
    return returns, metrics, wealth, kp


def test_discrete_cushion_recursion_is_exact(daily_run):
    returns, metrics, _, _ = daily_run
    dt_r = np.expm1(R / SPY)
    cushion = (1 - FLOOR) * np.prod(1 + M * returns[:, :, 0] + (1 - M) * dt_r, axis=1)
    expected = FLOOR * (1 + dt_r) ** SPY + cushion
    np.testing.assert_allclose(metrics[:, layout.M_TERMINAL_WEALTH], expected, rtol=1e-10)


def test_mean_terminal_wealth_matches_closed_form(daily_run):
    _, metrics, _, _ = daily_run
    tw = metrics[:, layout.M_TERMINAL_WEALTH]
    closed = FLOOR * np.exp(R) + (1 - FLOOR) * np.exp(R + M * (MU - R))
    # Exact discrete mean; its gap to the closed form is the discretisation error, O(dt).
    step_r = np.expm1(R / SPY)
    discrete = (
        FLOOR * (1 + step_r) ** SPY
        + (1 - FLOOR) * (1 + M * np.expm1(MU / SPY) + (1 - M) * step_r) ** SPY
    )
    se = tw.std(ddof=1) / np.sqrt(tw.size)
    assert abs(tw.mean() - closed) <= 5 * se + abs(discrete - closed)
    assert abs(discrete - closed) < 0.2 * se  # the discretisation error is negligible here


def test_pathwise_agreement_with_continuous_formula(daily_run):
    returns, metrics, _, _ = daily_run
    s_ratio = np.prod(1 + returns[:, :, 0], axis=1)
    cont = cppi_continuous(s_ratio, FLOOR, M, R, SIGMA, 1.0)
    floor_t = FLOOR * np.exp(R)
    gap = np.log((metrics[:, layout.M_TERMINAL_WEALTH] - floor_t) / (cont - floor_t))
    sd_pred = abs(M * M - M) * SIGMA**2 * np.sqrt(2.0 / SPY) / 2
    # Mean gap: zero up to the third- and fourth-order terms of log(1 + x), about
    # ((m^3 - m) mu - 3 (m^4 - m) sigma^2 / 4) sigma^2 dt ~ -0.002 over the year; allow 0.005.
    assert abs(gap.mean()) <= 5 * gap.std(ddof=1) / np.sqrt(gap.size) + 0.005
    # Spread of the gap: the predicted sqrt(dt) discretisation noise (sample sd of 2000
    # values is within 10 % of the truth with overwhelming probability; 30 % allows for
    # the higher-order terms).
    assert 0.7 * sd_pred <= gap.std(ddof=1) <= 1.3 * sd_pred
    assert np.abs(gap).max() <= 6 * sd_pred


def test_payoff_is_convex_in_terminal_price():
    # Flat but volatile market: mu = r = 0, sigma = 30 %, weekly rebalancing, one year.
    # Regress terminal wealth on x = S_T/S_0 and x^2; CPPI's payoff F + C_0 x^m e^{...} is
    # convex (m = 3), buy-and-hold's is linear. The quadratic coefficient must be positive
    # by more than 5 of its OLS standard errors.
    spy = 52
    returns = market(12, 3000, spy, 0.0, 0.3, 0.0, spy)
    policy = CPPI(name="c", safe_asset="safe", floor=0.8, multiplier=3.0, max_exposure=np.inf)
    mu, cov = model_moments(0.0, 0.3, 0.0)
    metrics, _, _ = run_allocation(
        policy, returns, asset_names=NAMES, target=TARGET, mu=mu, cov=cov, steps_per_year=spy
    )
    x = np.prod(1 + returns[:, :, 0], axis=1)
    y = metrics[:, layout.M_TERMINAL_WEALTH]
    design = np.column_stack([np.ones_like(x), x, x**2])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    sigma2 = resid @ resid / (x.size - 3)
    se = np.sqrt(sigma2 * np.diag(np.linalg.inv(design.T @ design)))
    assert coef[2] > 5 * se[2]
    # Floor protection: wealth never ends far below the floor with weekly trading.
    assert y.min() > 0.8 * 0.97


def test_floor_breaches_counted_on_gap_risk():
    # Monthly rebalancing, m = 5, and a 30 % crash in month 3: the cushion (20 %) is wiped
    # out, wealth ends month 3 below the floor and stays there (exposure 0 afterwards).
    returns = np.zeros((2, 12, 2))
    returns[:, :, 0] = 0.01
    returns[0, 2, 0] = -0.30
    policy = CPPI(name="c", safe_asset="safe", floor=0.8, multiplier=5.0)
    mu, cov = model_moments(0.05, 0.2, 0.0)
    metrics, _, kp = run_allocation(
        policy, returns, asset_names=NAMES, target=TARGET, mu=mu, cov=cov, keep=2
    )
    ref = simulate_ref(kp, returns)
    np.testing.assert_array_equal(metrics[:, layout.M_FLOOR_BREACHES], ref["state0"])
    # Exposure 100 % (capped: 5 x 0.2 = 1): wealth 1.01^2 * 0.7 < 0.8 from month 3 on.
    assert metrics[0, layout.M_FLOOR_BREACHES] == 10
    assert metrics[1, layout.M_FLOOR_BREACHES] == 0


def test_fixed_floor_growth_and_quarterly_schedule_match_twin():
    returns = market(13, 5, 48, 0.06, 0.35, 0.02, 12)
    policy = CPPI(
        name="c", safe_asset="safe", floor=0.9, multiplier=6.0, floor_growth=0.04, every=3
    )
    mu, cov = model_moments(0.06, 0.35, 0.02)
    metrics, wealth, kp = run_allocation(
        policy, returns, asset_names=NAMES, target=TARGET, mu=mu, cov=cov, keep=5
    )
    ref = simulate_ref(kp, returns)
    np.testing.assert_allclose(wealth, ref["wealth"], rtol=1e-12)
    np.testing.assert_array_equal(metrics[:, layout.M_FLOOR_BREACHES], ref["state0"])
    # Trades only on the 16 quarter ends (none once the cushion is gone: exposure stays 0).
    np.testing.assert_array_equal(metrics[:, layout.M_N_REBALANCES], ref["n_rebalances"])
    assert 0 < metrics[:, layout.M_N_REBALANCES].max() <= 16
    assert ref["state0"].sum() > 0  # the volatile market breaches the 90 % floor


def test_initial_weights_and_end_to_end_breach_metric():
    import mcsim

    table = {
        "name": "cppi_e2e",
        "simulation": {
            "n_paths": 200,
            "horizon_years": 5,
            "steps_per_year": 4,
            "block_size": 100,
            "seed": 3,
            "initial_wealth": 100.0,
            "keep_paths": 0,
        },
        "model": {
            "kind": "gaussian",
            "assets": NAMES,
            "mu": [0.07, 0.02],
            "vol": [0.35, 0.0],
            "corr": [[1.0, 0.0], [0.0, 1.0]],
        },
        "portfolio": {"target": {"risky": 1.0, "safe": 0.0}},
        "policies": [
            {"name": "cppi", "kind": "cppi", "safe_asset": "safe", "floor": 0.9, "multiplier": 8},
            {"name": "hold", "kind": "calendar", "every": 4},
        ],
    }
    result = mcsim.run(mcsim.Scenario.from_dict(table))
    breaches = result.metric("floor_breaches")
    assert breaches["cppi"].sum() > 0  # quarterly steps, m = 8: gap risk shows
    assert (breaches["hold"] == 0).all()
    kp = CPPI(name="c", safe_asset="safe", floor=0.9, multiplier=8).to_kernel(
        _ctx(np.array([0.07, 0.02]), np.diag([0.1225, 0.0]))
    )
    np.testing.assert_allclose(kp.w_init, [0.8, 0.2])  # min(1, 8 x 0.1)


def _ctx(mu, cov):
    from mcsim.policies import PolicyContext

    return PolicyContext(
        asset_names=NAMES, steps_per_year=12, n_steps=12, target=TARGET, mu=mu, cov=cov
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"multiplier": 0.0}, r"`\[policies.c\].multiplier` must be > 0"),
        ({"multiplier": -1.0}, r"multiplier` must be > 0"),
        ({"floor": 1.0}, r"`\[policies.c\].floor` .*must be < 1"),
        ({"floor": 1.5}, r"floor` .*must be < 1"),
    ],
)
def test_bad_cppi_raises(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CPPI(name="c", safe_asset="safe", **kwargs)


def test_calendar_is_not_a_cppi():
    # Sanity check of the harness: a calendar policy never reports floor breaches.
    returns = market(14, 3, 24, 0.0, 0.5, 0.0, 12)
    metrics, _, _ = run_allocation(
        Calendar(name="cal", every=1), returns, asset_names=NAMES, target=np.array([0.5, 0.5])
    )
    assert np.all(metrics[:, layout.M_FLOOR_BREACHES] == 0)
