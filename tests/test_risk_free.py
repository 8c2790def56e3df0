"""Sharpe and Sortino against a risk-free asset (``[simulation].risk_free``): the kernel and
a whole run against a plain NumPy twin of the excess-return formulas."""

from __future__ import annotations

import numpy as np
import pytest
from mcsim.kernels import layout as L

import mcsim
from mcsim.engine import simulate_block
from mcsim.errors import ConfigError
from mcsim.examples.rules import drift_or_calendar_nb
from mcsim.plan import prepare
from mcsim.policies import BuyAndHold
from mcsim.report.headline import headline_columns
from mcsim.testing.policies import run_policy

SPY = 12
RATIOS = (("sharpe", L.M_SHARPE), ("sortino", L.M_SORTINO))


def _twin(r: np.ndarray, rf: np.ndarray, f: int = SPY) -> dict[str, np.ndarray]:
    """Sharpe and Sortino of each row of per-step portfolio returns ``r`` (n_paths,
    n_steps) against the risk-free returns ``rf`` of the same steps."""
    e = r - rf
    n = e.shape[1]
    mean_annual = e.mean(axis=1) * f
    vol = e.std(axis=1, ddof=1) * np.sqrt(f)
    down = np.sqrt(f * (np.minimum(e, 0.0) ** 2).sum(axis=1) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "sharpe": np.where(vol > 0, mean_annual / vol, np.nan),
            "sortino": np.where(down > 0, mean_annual / down, np.nan),
        }


def _random_returns(seed: int, n_paths: int = 150, n_steps: int = 96) -> np.ndarray:
    """Stocks (column 0) and a cash asset with a small, varying return (column 1)."""
    rng = np.random.default_rng(seed)
    stocks = rng.normal(0.006, 0.045, size=(n_paths, n_steps))
    cash = 0.002 + rng.normal(0.0, 0.0008, size=(n_paths, n_steps))
    return np.stack([stocks, cash], axis=2)


def test_kernel_ratios_match_the_twin_of_excess_returns():
    r = _random_returns(3)
    m = run_policy(
        BuyAndHold(name="bh"), r, asset_names=["stocks", "cash"], target=[1.0, 0.0],
        risk_free="cash",
    )  # fmt: skip
    twin = _twin(r[:, :, 0], r[:, :, 1])
    for name, col in RATIOS:
        np.testing.assert_allclose(m[:, col], twin[name], rtol=1e-9, atol=1e-12, err_msg=name)
    # Against a positive cash return the ratios are lower than against 0.
    plain = run_policy(BuyAndHold(name="bh"), r, asset_names=["stocks", "cash"], target=[1.0, 0.0])
    assert (m[:, L.M_SHARPE] < plain[:, L.M_SHARPE]).all()


def test_a_custom_rule_is_measured_against_the_risk_free_asset_too():
    """The custom-rule loop (its own kernel) records excess returns like the built-in one:
    a custom rule that rebalances every step equals the built-in calendar."""
    r = _random_returns(6, n_paths=40, n_steps=36)
    kw = dict(asset_names=["stocks", "cash"], target=[0.6, 0.4], risk_free="cash")
    custom = mcsim.Custom(
        name="c", rebalance_nb=drift_or_calendar_nb, params=[0.0, 1e9], state_size=1
    )
    a = run_policy(custom, r, **kw)
    b = run_policy(mcsim.Calendar(name="b", every=1), r, **kw)
    twin = _twin(0.6 * r[:, :, 0] + 0.4 * r[:, :, 1], r[:, :, 1])
    for name, col in RATIOS:
        np.testing.assert_allclose(a[:, col], b[:, col], rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(a[:, col], twin[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_other_metrics_and_calmar_do_not_depend_on_the_risk_free_asset():
    r = _random_returns(4)
    kw = dict(asset_names=["stocks", "cash"], target=[0.7, 0.3])
    with_rf = run_policy(BuyAndHold(name="bh"), r, risk_free="cash", **kw)
    without = run_policy(BuyAndHold(name="bh"), r, **kw)
    others = [c for c in range(L.N_METRICS) if c not in (L.M_SHARPE, L.M_SORTINO)]
    np.testing.assert_array_equal(with_rf[:, others], without[:, others])
    assert L.M_CALMAR in others


def test_a_risk_free_asset_that_returns_nothing_gives_the_ratios_against_zero():
    r = _random_returns(5)
    r[:, :, 1] = 0.0
    kw = dict(asset_names=["stocks", "cash"], target=[1.0, 0.0])
    with_rf = run_policy(BuyAndHold(name="bh"), r, risk_free="cash", **kw)
    without = run_policy(BuyAndHold(name="bh"), r, **kw)
    for name, col in RATIOS:
        np.testing.assert_allclose(with_rf[:, col], without[:, col], rtol=1e-12, err_msg=name)


def _cash_table(small_table, **simulation):
    """The small scenario with a stock and a cash asset, no costs; buy and hold of stocks
    and a 60/40 mix rebalanced every step (its step return is the weighted mean)."""
    return small_table(
        simulation={"n_paths": 40, "block_size": 16, **simulation},
        model={
            "assets": ["stocks", "cash"],
            "mu": [0.07, 0.02],
            "vol": [0.18, 0.01],
            "corr": [[1.0, 0.0], [0.0, 1.0]],
        },
        portfolio={"target": {"stocks": 0.6, "cash": 0.4}},
        costs={"proportional_bps": 0},
        policies=[
            {"name": "stocks_only", "kind": "buy_and_hold", "target": {"stocks": 1.0, "cash": 0.0}},
            {"name": "monthly", "kind": "calendar", "every": 1},
        ],
    )


def test_a_run_against_cash_matches_the_twin_on_the_simulated_returns(small_table):
    plan = prepare(mcsim.Scenario.from_dict(_cash_table(small_table, risk_free="cash")))
    sim = plan.scenario.simulation
    cash = plan.asset_names.index("cash")
    stocks = plan.asset_names.index("stocks")
    for b in range(sim.n_blocks):
        res = simulate_block(plan, b)
        start, stop = plan.block_range(b)
        returns = np.empty((stop - start, sim.n_steps, len(plan.series_names)))
        plan.model.simulate_into(plan.block_rng(b), returns, sim.steps_per_year)
        rf = returns[:, :, cash]
        portfolios = (returns[:, :, stocks], 0.6 * returns[:, :, stocks] + 0.4 * rf)
        for p, r in enumerate(portfolios):
            twin = _twin(r, rf)
            for name, col in RATIOS:
                np.testing.assert_allclose(
                    res.metrics[p, :, col], twin[name], rtol=1e-9, atol=1e-12, err_msg=name
                )


def test_without_a_risk_free_asset_the_ratios_are_against_zero(small_table):
    plan = prepare(mcsim.Scenario.from_dict(_cash_table(small_table)))
    sim = plan.scenario.simulation
    res = simulate_block(plan, 0)
    start, stop = plan.block_range(0)
    returns = np.empty((stop - start, sim.n_steps, len(plan.series_names)))
    plan.model.simulate_into(plan.block_rng(0), returns, sim.steps_per_year)
    twin = _twin(returns[:, :, plan.asset_names.index("stocks")], 0.0)
    for name, col in RATIOS:
        np.testing.assert_allclose(res.metrics[0, :, col], twin[name], rtol=1e-9, err_msg=name)


def test_an_unknown_risk_free_asset_fails_naming_the_field_and_the_assets(small_table):
    with pytest.raises(ConfigError, match=r"\[simulation\]\.risk_free.*cash.*Assets: stocks, cash"):
        prepare(mcsim.Scenario.from_dict(_cash_table(small_table, risk_free="cahs")))


@pytest.mark.parametrize("bad", [3, ""])
def test_a_risk_free_that_is_not_a_name_fails_early(small_table, bad):
    with pytest.raises(ConfigError, match=r"\[simulation\]\.risk_free"):
        mcsim.Scenario.from_dict(_cash_table(small_table, risk_free=bad))


def test_the_labels_and_the_manifest_name_the_risk_free_asset(small_table):
    labels = [c.label for c in headline_columns(
        currency="USD", has_inflation=False, has_flows=False, has_goal=False, risk_free="cash"
    )]  # fmt: skip
    assert "Sharpe vs cash" in labels and "Sortino vs cash" in labels and "Calmar" in labels
    plain = [c.label for c in headline_columns(
        currency="USD", has_inflation=False, has_flows=False, has_goal=False
    )]  # fmt: skip
    assert "Sharpe" in plain and "Sortino" in plain
    table = _cash_table(small_table, risk_free="cash", n_paths=8, block_size=8)
    result = mcsim.run(mcsim.Scenario.from_dict(table))
    assert result.manifest["risk_free"] == "cash"
    assert "Sharpe vs cash" in mcsim.report.headline.headline_table(result).columns
    assert mcsim.Scenario.from_dict(result.scenario.to_dict()).simulation.risk_free == "cash"
