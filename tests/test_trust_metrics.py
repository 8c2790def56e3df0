"""Metrics that must agree with each other on edge paths, and a report that survives them.

A ruined path (wealth ran out before the horizon) is a total loss whatever emptied it: a
crash or a withdrawal. The unit value behind CAGR and drawdowns is a time-weighted return,
which a withdrawal does not move, so before these rules a path emptied by withdrawals could
report ``ruined = 1`` with a positive CAGR, no drawdown and ``loss = 0``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from mcsim.kernels import layout

import mcsim
from mcsim.cli import main
from mcsim.flows import CashFlow, flows_array
from mcsim.policies import PolicyContext
from mcsim.testing.allocation import run_allocation, simulate_ref
from mcsim.testing.engine import REF_METRICS, simulate_policy_ref
from mcsim.testing.policies import run_policy

M = layout
SPY = 12
YEARS = 30


def _returns(seed: int, n_paths: int, mu=(0.06, 0.03), vol=(0.18, 0.06)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mu, vol = np.asarray(mu), np.asarray(vol)
    dt = 1.0 / SPY
    z = rng.standard_normal((n_paths, SPY * YEARS, mu.size))
    return np.expm1((mu - 0.5 * vol**2) * dt + vol * np.sqrt(dt) * z)


def _withdrawal_run(withdrawal: float, seed: int = 5, n_paths: int = 300):
    """Annual rebalancing of 60/40 with a yearly withdrawal (fraction of initial wealth):
    the engine's metrics and its plain-NumPy twin's, on the same returns."""
    r = _returns(seed, n_paths)
    flows = [CashFlow(amount=-withdrawal, frequency="annual")]
    target = np.array([0.6, 0.4])
    policy = mcsim.Calendar(name="c", every=12)
    m = run_policy(policy, r, target=target, flows=flows, goal=1.0)
    kp = policy.to_kernel(
        PolicyContext(
            asset_names=["a0", "a1"], steps_per_year=SPY, n_steps=r.shape[1], target=target
        )
    )
    ref = simulate_policy_ref(
        r,
        kind=kp.kind,
        params=kp.params,
        w_init=kp.w_init,
        targets=kp.targets,
        flows=flows_array(flows, SPY),
        steps_per_year=SPY,
    )
    return m, ref


@pytest.mark.parametrize(
    ("withdrawal", "share_ruined"),
    [(0.30, "all"), (0.065, "some"), (0.01, "none")],
    ids=["every_path_ruined", "some_paths_ruined", "no_path_ruined"],
)
def test_ruined_paths_are_total_losses(withdrawal, share_ruined):
    m, ref = _withdrawal_run(withdrawal)
    ruined = m[:, M.M_RUINED] == 1.0
    expected = {
        "all": ruined.all(),
        "some": 0 < ruined.sum() < ruined.size,
        "none": not ruined.any(),
    }
    assert expected[share_ruined], ruined.mean()
    assert m[:, M.M_LOSS].mean() >= m[:, M.M_RUINED].mean()
    np.testing.assert_array_equal(m[ruined, M.M_CAGR], -1.0)
    np.testing.assert_array_equal(m[ruined, M.M_MAX_DRAWDOWN], 1.0)
    np.testing.assert_array_equal(m[ruined, M.M_LOSS], 1.0)
    for col in (M.M_TERMINAL_WEALTH, M.M_REAL_TERMINAL_WEALTH, M.M_AFTER_TAX_WEALTH):
        np.testing.assert_array_equal(m[ruined, col], 0.0)
    np.testing.assert_array_equal(m[ruined, M.M_GOAL_MET], 0.0)
    np.testing.assert_array_equal(m[ruined, M.M_GOAL_SHORTFALL], 1.0)
    assert np.all(np.isfinite(m[ruined, M.M_VOLATILITY]))
    # Under water from the last peak before ruin until the horizon: at least the time left.
    left = YEARS - m[ruined, M.M_RUIN_YEAR]
    assert np.all(m[ruined, M.M_MAX_DRAWDOWN_DURATION] >= left)
    assert np.all(m[:, M.M_MAX_DRAWDOWN_DURATION] <= YEARS)
    # The plain-NumPy twin computes the metrics from the whole unit-value series.
    for name in REF_METRICS:
        col = mcsim.METRICS[name].column
        np.testing.assert_allclose(m[:, col], ref[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_ruin_by_withdrawal_in_a_flat_market_has_exact_metrics():
    """Zero returns and 5 % of initial wealth withdrawn yearly: ruin at the end of month
    240. The unit value stays at its peak (1) until then, so the path is under water from
    month 239 to the horizon (121 months); its volatility is that of 240 zero returns."""
    r = np.zeros((1, SPY * YEARS, 2))
    m = run_policy(mcsim.Calendar(name="c", every=12), r, flows=[CashFlow(amount=-0.05, every=12)])
    assert m[0, M.M_RUINED] == 1.0
    assert m[0, M.M_RUIN_YEAR] == pytest.approx(20.0)
    assert m[0, M.M_CAGR] == -1.0
    assert m[0, M.M_MAX_DRAWDOWN] == 1.0
    assert m[0, M.M_LOSS] == 1.0
    assert m[0, M.M_MAX_DRAWDOWN_DURATION] == pytest.approx(121 / SPY)
    assert m[0, M.M_VOLATILITY] == 0.0


def test_ruin_on_a_peak_counts_the_ruin_step_under_water():
    """The step of ruin itself is under water even when the market rose on it: a steady
    1 % a month, and the account emptied at the end of month 12 of 24."""
    r = np.full((1, 24, 1), 0.01)
    m = run_policy(mcsim.BuyAndHold(name="h"), r, flows=[CashFlow(amount=-5.0, every=12)])
    assert m[0, M.M_RUIN_YEAR] == pytest.approx(1.0)
    # Last peak at month 11, under water for months 12..24: 13 steps.
    assert m[0, M.M_MAX_DRAWDOWN_DURATION] == pytest.approx(13 / SPY)
    assert m[0, M.M_CAGR] == -1.0


def test_crash_ruin_metrics_agree():
    """A crash that wipes out wealth (the market's ruin, not a withdrawal's) gives the same
    ruined-path metrics."""
    r = np.zeros((2, 24, 1))
    r[:, :, 0] = 0.01
    r[0, 5, 0] = -1.0
    m = run_policy(mcsim.BuyAndHold(name="h"), r)
    assert m[0, M.M_RUINED] == 1.0 and m[1, M.M_RUINED] == 0.0
    assert m[0, M.M_CAGR] == -1.0 and m[0, M.M_MAX_DRAWDOWN] == 1.0 and m[0, M.M_LOSS] == 1.0
    assert m[0, M.M_MAX_DRAWDOWN_DURATION] == pytest.approx(19 / SPY)
    assert m[1, M.M_LOSS] == 0.0 and m[1, M.M_MAX_DRAWDOWN] == 0.0


def test_zero_goal_and_zero_volatility_paths_agree():
    """A goal of zero is met by every path that never ran out; a riskless path has zero
    volatility, no drawdown and a CAGR equal to its rate."""
    r = np.full((2, 24, 1), 0.005)
    r[1, 3, 0] = -1.0
    m = run_policy(mcsim.BuyAndHold(name="h"), r, goal=0.0)
    np.testing.assert_array_equal(m[:, M.M_GOAL_MET], [1.0, 0.0])
    np.testing.assert_array_equal(m[:, M.M_GOAL_SHORTFALL], [0.0, 0.0])
    assert m[0, M.M_VOLATILITY] == 0.0  # not the rounding noise of the running sums
    assert m[0, M.M_MAX_DRAWDOWN] == 0.0
    assert m[0, M.M_CAGR] == pytest.approx(1.005**12 - 1.0, rel=1e-12)


# -- CPPI floor breaches on the step of ruin -----------------------------------------------
def test_cppi_breach_on_the_step_of_ruin_is_counted():
    """Multiplier 10 without a cap: exposure is 2x wealth (cushion 20 %), so a 60 % crash
    in month 3 takes wealth below zero in one step. That step is below the floor and counts,
    though the rule is never consulted with wealth gone; the twin agrees."""
    returns = np.zeros((3, 12, 2))
    returns[:, :, 0] = 0.01
    returns[0, 2, 0] = -0.60  # ruin within one step
    returns[1, 2, 0] = -0.15  # a breach without ruin: wealth above zero, below the floor
    policy = mcsim.CPPI(
        name="c", safe_asset="safe", floor=0.8, multiplier=10.0, max_exposure=np.inf
    )
    mu, cov = np.array([0.05, 0.0]), np.diag([0.04, 0.0])
    metrics, _, kp = run_allocation(
        policy, returns, asset_names=["risky", "safe"], target=[1.0, 0.0], mu=mu, cov=cov
    )
    ref = simulate_ref(kp, returns)
    assert metrics[0, M.M_RUINED] == 1.0 and metrics[0, M.M_RUIN_YEAR] == pytest.approx(3 / SPY)
    assert metrics[0, M.M_FLOOR_BREACHES] == 1.0
    assert metrics[1, M.M_RUINED] == 0.0 and metrics[1, M.M_FLOOR_BREACHES] >= 1.0
    assert metrics[2, M.M_FLOOR_BREACHES] == 0.0
    np.testing.assert_array_equal(metrics[:, M.M_FLOOR_BREACHES], ref["state0"])


def test_cppi_breaches_never_fewer_than_ruins():
    """High multipliers on a volatile market: every ruined CPPI path counts a breach."""
    rng = np.random.default_rng(8)
    n_paths, n_steps = 400, 60
    returns = np.zeros((n_paths, n_steps, 2))
    returns[:, :, 0] = np.expm1(0.02 + 0.25 * rng.standard_normal((n_paths, n_steps)))
    policy = mcsim.CPPI(
        name="c", safe_asset="safe", floor=0.9, multiplier=12.0, max_exposure=np.inf
    )
    mu, cov = np.array([0.2, 0.0]), np.diag([0.75, 0.0])
    metrics, _, kp = run_allocation(
        policy, returns, asset_names=["risky", "safe"], target=[1.0, 0.0], mu=mu, cov=cov
    )
    ruined = metrics[:, M.M_RUINED] == 1.0
    assert ruined.sum() > 10
    assert np.all(metrics[ruined, M.M_FLOOR_BREACHES] >= 1.0)
    np.testing.assert_array_equal(
        metrics[:, M.M_FLOOR_BREACHES], simulate_ref(kp, returns)["state0"]
    )


# -- a run with extreme numbers keeps its report --------------------------------------------
HUGE_TOML = """
name = "huge_returns"
[simulation]
n_paths = 60
horizon_years = 100
steps_per_year = 1
block_size = 60
seed = 1
initial_wealth = 1_000_000.0
keep_paths = 5
goal = 2_000_000.0
[model]
kind = "gaussian"
assets = ["rocket", "bond"]
mu = [5.0, 0.02]
vol = [0.3, 0.05]
corr = [[1.0, 0.0], [0.0, 1.0]]
[portfolio]
target = { rocket = 0.6, bond = 0.4 }
[costs]
proportional_bps = 10
[[policies]]
name = "hold"
kind = "buy_and_hold"
[[policies]]
name = "annual"
kind = "calendar"
frequency = "annual"
"""


def test_run_with_huge_wealth_writes_its_report(tmp_path, capsys):
    """mu = 5 over 100 years: wealth near 1e222, far beyond the wealth sketch (quantiles are
    infinite there). The run ends with its report, and no traceback."""
    scenario = tmp_path / "huge.toml"
    scenario.write_text(HUGE_TOML, encoding="utf-8")
    out = tmp_path / "out"
    with warnings.catch_warnings():
        # The summaries of wealth near 1e222 must not overflow (squares of the deviations).
        warnings.filterwarnings("error", category=RuntimeWarning, message=".*overflow")
        code = main(["run", str(scenario), "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "drawn at its edge" in html  # the fan chart says what it could not show
    assert "could not be drawn" not in html  # every figure was drawn, none is a note


def test_costs_that_take_everything_ruin_on_that_step():
    """Fixed fees of 0.6 per asset traded on a wealth of 1: the year-end rebalance (the last
    step) costs everything left. The path is ruined then, not a step later (or never, as the
    last step has no next one), so it is no success; the twin agrees."""
    r = np.zeros((1, 12, 2))
    r[0, :, 0] = 0.01
    policy = mcsim.Calendar(name="c", every=12)
    m = run_policy(policy, r, costs=mcsim.CostModel(fixed_fee=0.6))
    assert m[0, M.M_TERMINAL_WEALTH] == 0.0
    assert m[0, M.M_RUINED] == 1.0
    assert m[0, M.M_RUIN_YEAR] == pytest.approx(1.0)
    assert m[0, M.M_GOAL_MET] == 0.0  # no goal: success is never running out
    assert m[0, M.M_LOSS] == 1.0 and m[0, M.M_CAGR] == -1.0
