"""Trading frictions: kernels against plain references, closed forms and validation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _costs, layout

from mcsim import ConfigError, CostModel
from mcsim.testing import frictions as ref

NAMES = ["a", "b", "c"]
PROFILE = settings(deadline=None, derandomize=True, max_examples=40)


def _asset_params(rng, n=3, growth=False):
    ap = np.zeros((n, layout.N_ASSET_PARAMS))
    ap[:, layout.AP_PROPORTIONAL] = rng.uniform(0, 0.002, n)
    ap[:, layout.AP_FIXED_FEE] = rng.uniform(0, 5, n)
    ap[:, layout.AP_HALF_SPREAD] = rng.uniform(0, 0.001, n)
    ap[:, layout.AP_SLIPPAGE] = rng.uniform(0, 0.5, n)
    ap[:, layout.AP_VOL_STEP] = rng.uniform(0.01, 0.06, n)
    ap[:, layout.AP_IMPACT_ETA] = rng.uniform(0, 1, n)
    ap[:, layout.AP_VOL_DAILY] = rng.uniform(0.005, 0.02, n)
    ap[:, layout.AP_ADV] = rng.uniform(1e5, 1e7, n)
    ap[:, layout.AP_DAYS_PER_STEP] = 21.0
    ap[:, layout.AP_PARTICIPATION] = rng.uniform(0.01, 1.0, n)
    ap[:, layout.AP_ADV_GROWTH] = float(growth)
    return ap


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), growth=st.booleans())
def test_trade_costs_match_reference(seed, growth):
    rng = np.random.default_rng(seed)
    ap = _asset_params(rng, growth=growth)
    trade = rng.normal(0, 1e5, 3) * (rng.random(3) < 0.8)
    key = np.uint64(rng.integers(0, 2**64, dtype=np.uint64))
    ts = np.zeros((3, layout.N_TAX_STATE))
    ts[:, layout.TS_PRICE] = rng.uniform(0.5, 2.0, 3)
    acc = np.zeros(layout.N_ACC)
    total = _costs.execution_costs_nb(2, trade, ap, key, ts, acc)
    parts = {"proportional": 0.0, "fixed": 0.0, "spread": 0.0, "slippage": 0.0, "impact": 0.0}
    for i in range(3):
        mine = 0.0
        if trade[i] != 0:
            for k, v in ref.asset_cost(
                abs(trade[i]), ap[i], ref.execution_normal(key, 2, i, 3, 0), ts[i, layout.TS_PRICE]
            ).items():
                parts[k] += v
                mine += v
        # Each asset's own cost is kept for its tax lots (basis of a purchase, proceeds).
        assert ts[i, layout.TS_TRADE_COST] == pytest.approx(mine, rel=1e-12, abs=1e-300)
    assert acc[layout.M_COST_PROPORTIONAL] == pytest.approx(parts["proportional"], rel=1e-12)
    assert acc[layout.M_COST_FIXED] == pytest.approx(parts["fixed"], rel=1e-12)
    assert acc[layout.M_COST_SPREAD] == pytest.approx(parts["spread"], rel=1e-12)
    assert acc[layout.M_COST_SLIPPAGE] == pytest.approx(parts["slippage"], rel=1e-12)
    assert acc[layout.M_COST_IMPACT] == pytest.approx(parts["impact"], rel=1e-12)
    assert total == pytest.approx(sum(parts.values()), rel=1e-12)
    assert total >= 0.0 and all(v >= 0 for v in parts.values())


def test_square_root_impact_of_a_known_trade():
    # 1 % of ADV at 2 % daily volatility with eta = 1: cost = 0.02 * sqrt(0.01) = 0.2 %.
    assert _costs.impact_cost_nb(1e4, 1.0, 0.02, 1e6) == pytest.approx(20.0, rel=1e-14)
    # Four times the trade costs eight times as much (|trade|^1.5).
    assert _costs.impact_cost_nb(4e4, 1.0, 0.02, 1e6) == pytest.approx(160.0, rel=1e-14)
    assert _costs.impact_cost_nb(1e4, 1.0, 0.02, np.inf) == 0.0


def test_adv_grows_with_the_price_index():
    ap = np.zeros((1, layout.N_ASSET_PARAMS))
    ap[0, layout.AP_ADV] = 1e6
    ap[0, layout.AP_ADV_GROWTH] = 1.0
    ts = np.zeros((1, layout.N_TAX_STATE))
    ts[0, layout.TS_PRICE] = 4.0
    assert _costs.adv_nb(0, ap, ts) == 4e6
    ap[0, layout.AP_ADV_GROWTH] = 0.0
    assert _costs.adv_nb(0, ap, ts) == 1e6


@PROFILE
@given(seed=st.integers(0, 2**32 - 1))
def test_participation_cap_matches_reference_and_carries(seed):
    rng = np.random.default_rng(seed)
    ap = _asset_params(rng)
    ap[:, layout.AP_ADV] = 1e4
    trade = rng.normal(0, 1e6, 3)
    trade -= trade.mean()
    ts = np.zeros((3, layout.N_TAX_STATE))
    ts[:, layout.TS_PRICE] = 1.0
    expect = ref.participation_scale(trade, ap, ts[:, layout.TS_PRICE])
    acc = np.zeros(layout.N_ACC)
    w_new = np.array([0.2, 0.3, 0.5])
    t2 = trade.copy()
    scale = _costs.cap_trades_nb(t2, w_new, ap, ts, acc)
    assert scale == pytest.approx(expect, rel=1e-14)
    np.testing.assert_allclose(t2, trade * expect, rtol=1e-14)
    assert abs(t2.sum()) < 1e-6 * np.abs(trade).sum()  # still self-financing
    limit = ap[:, layout.AP_ADV] * 21.0 * ap[:, layout.AP_PARTICIPATION]
    assert np.all(np.abs(t2) <= limit * (1 + 1e-12))
    carried = expect < 1.0
    assert acc[layout.M_DEFERRED_TRADES] == float(carried)
    w = np.zeros(3)
    assert _costs.pending_weights_nb(ts, acc, w) == carried
    if carried:
        np.testing.assert_array_equal(w, w_new)


def test_asset_params_from_config():
    c = CostModel(
        proportional_bps=10,
        half_spread_bps={"a": 1, "b": 2, "c": 3},
        slippage=0.1,
        impact_eta=0.5,
        adv=1e6,
        participation=0.1,
        dividend_yield=0.02,
    )
    ap = c.asset_params(NAMES, np.array([0.05, 0.04, 0.03]), 12)
    assert ap[0, layout.AP_PROPORTIONAL] == pytest.approx(0.001)
    assert ap[2, layout.AP_HALF_SPREAD] == pytest.approx(0.0003)
    assert ap[1, layout.AP_VOL_DAILY] == pytest.approx(0.04 * math.sqrt(12 / 252))
    assert ap[0, layout.AP_DAYS_PER_STEP] == 21.0
    assert np.all(ap[:, layout.AP_PARTICIPATION] == 0.1)
    assert c.has_slippage


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"proportional_bps": -1}, r"\[costs\]\.proportional_bps"),
        ({"fixed_fee": -0.5}, r"\[costs\]\.fixed_fee"),
        ({"half_spread_bps": {"a": -1}}, r"\[costs\]\.half_spread_bps\[a\]"),
        ({"slippage": -0.1}, r"\[costs\]\.slippage"),
        ({"impact_eta": 0.5, "adv": 0}, r"\[costs\]\.adv"),
        ({"impact_eta": 0.5}, r"\[costs\]\.impact_eta` needs `\[costs\]\.adv"),
        ({"participation": 0, "adv": 1e6}, r"\[costs\]\.participation"),
        ({"participation": 1.5, "adv": 1e6}, r"\[costs\]\.participation"),
        ({"dividend_yield": -0.01}, r"\[costs\]\.dividend_yield"),
        ({"adv_growth": "yes"}, r"\[costs\]\.adv_growth"),
    ],
)
def test_bad_costs_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CostModel(**kwargs)


def test_slippage_without_volatility_is_an_error():
    with pytest.raises(ConfigError, match=r"\[costs\]\.volatility"):
        CostModel(slippage=0.1).asset_params(NAMES, np.zeros(3), 12)


def test_unknown_cost_key():
    with pytest.raises(ConfigError, match="Did you mean `slippage`"):
        CostModel.from_config({"slipage": 0.1})
