"""Tax-loss harvesting: the wash-sale rule, and the tax alpha on lognormal paths."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _lots, _tax_account, layout

import mcsim
from mcsim import ConfigError

PROFILE = settings(deadline=None, derandomize=True, max_examples=25)


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), wash_days=st.sampled_from([30.0, 65.0, 100.0]))
def test_wash_sale_rule_is_never_broken(seed, wash_days):
    """Drive one asset through random prices, purchases and harvests; every purchase of a
    vehicle (by the policy or by a harvest) must come more than ``wash`` steps after the
    last harvest that sold that vehicle."""
    rng = np.random.default_rng(seed)
    tp = mcsim.TaxConfig(enabled=True, wash_sale_days=wash_days).tax_params(12)
    wash = tp[layout.TX_WASH_STEPS]
    ep = np.zeros(layout.N_EXEC_PARAMS)
    ep[layout.EP_HARVEST] = 1.0
    ep[layout.EP_HARVEST_THRESHOLD] = 0.03
    ap = np.zeros((1, layout.N_ASSET_PARAMS))
    ts = np.zeros((1, layout.N_TAX_STATE))
    lots = np.zeros((1, 16, layout.N_LOT_FIELDS))
    h = np.array([100.0])
    _tax_account.start_account_nb(h, tp, ts, lots)
    acc = np.zeros(layout.N_ACC)
    noise = np.uint64(0)  # execution-noise key (no slippage here)
    harvests = []  # (step, vehicle sold)
    for t in range(120):
        g = float(np.exp(rng.normal(0.0, 0.06)))
        ts[0, layout.TS_PRICE : layout.TS_PRICE + 2] *= g * np.exp(rng.normal(0, 0.01, 2))
        h[0] = _lots.holdings_value_nb(0, ts)
        acc[layout.A_WEALTH] = h[0]
        if rng.random() < 0.5:  # a purchase goes to the current vehicle
            cur = int(ts[0, layout.TS_CURRENT])
            assert all(not (0 <= t - s <= wash and v == cur) for s, v in harvests)
            _lots.add_lot_nb(0, float(rng.uniform(1, 20)), t, cur, 12.0, lots, ts)
            h[0] = _lots.holdings_value_nb(0, ts)
            acc[layout.A_WEALTH] = h[0]
        before = ts[0, layout.TS_LOSS_SALE : layout.TS_LOSS_SALE + 2].copy()
        _tax_account.harvest_nb(t, h, ap, tp, ep, noise, ts, lots, acc)
        for v in range(2):
            if ts[0, layout.TS_LOSS_SALE + v] != before[v]:
                bought = 1 - v
                assert all(not (0 <= t - s <= wash and vs == bought) for s, vs in harvests)
                assert ts[0, layout.TS_CURRENT] == bought
                harvests.append((t, v))
    assert harvests  # the random walk did trigger harvests


def _scenario(rate_scale, harvest=True, costs=0.0, n_paths=400, years=10, seed=7):
    table = {
        "simulation": {
            "n_paths": n_paths,
            "horizon_years": years,
            "steps_per_year": 12,
            "block_size": 200,
            "seed": seed,
            "initial_wealth": 100_000.0,
            "keep_paths": 0,
        },
        "model": {
            "kind": "gaussian",
            "assets": ["stocks", "bonds"],
            "mu": [0.07, 0.03],
            "vol": [0.18, 0.06],
            "corr": [[1.0, 0.0], [0.0, 1.0]],
        },
        "portfolio": {"target": {"stocks": 0.6, "bonds": 0.4}},
        "costs": {"proportional_bps": costs},
        "taxes": {
            "enabled": True,
            "short_term_rate": 0.40 * rate_scale,
            "long_term_rate": 0.20 * rate_scale,
            "income_rate": 0.40 * rate_scale,
            "dividend_rate": 0.20 * rate_scale,
            "loss_offset_limit": 3000.0,
        },
        "policies": [
            {"name": "plain", "kind": "calendar", "frequency": "annual"},
            {"name": "harvest", "kind": "calendar", "frequency": "annual", "harvest": harvest},
        ],
    }
    return mcsim.Scenario.from_dict(table)


def _tax_alpha(scale):
    r = mcsim.run(_scenario(scale))
    at = r.metric("after_tax_wealth")
    return (at["harvest"] - at["plain"]).to_numpy(), r


def test_tax_alpha_is_positive_and_shrinks_with_the_tax_rate():
    medians = {}
    for scale in (1.0, 0.5, 0.0):
        alpha, r = _tax_alpha(scale)
        medians[scale] = float(np.median(alpha))
        if scale == 0.0:
            # No tax and no costs: harvesting changes nothing at all.
            assert np.all(alpha == 0.0)
            pre = r.metric("terminal_wealth")
            assert np.array_equal(pre["harvest"].to_numpy(), pre["plain"].to_numpy())
    assert medians[1.0] > medians[0.5] > medians[0.0] == 0.0
    # The comparison table reports the same paired difference as the tax alpha.
    alpha, r = _tax_alpha(1.0)
    row = r.comparison.loc[("harvest", "after_tax_wealth")]
    assert row["mean_diff"] == pytest.approx(alpha.mean(), rel=1e-12)
    assert r.metric("harvested_losses")["harvest"].median() > 0


def test_harvest_needs_a_taxable_account():
    table = _scenario(1.0).source
    table["taxes"] = {"enabled": False}
    with pytest.raises(ConfigError, match=r"\[policies.harvest\]\.harvest` needs a taxable"):
        mcsim.prepare(mcsim.Scenario.from_dict(table))
