"""Tax rules against hand-worked examples: trading costs in basis and proceeds, and wash
sales (purchases within the window before a loss sale, and after one), for harvests and for
ordinary sales. Monthly steps: the 30-day window is 1 step, so a purchase at the sale's
step or the step before (or after) is within it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _engine, _lots, _tax_account, layout

from mcsim import TaxConfig

L = layout


def _account(values, lot_method="hifo", max_lots=8):
    """A taxable account holding ``values`` (currency per asset), one lot each bought at
    step -1 at price 1; no trading costs, no participation cap."""
    n = len(values)
    tp = TaxConfig(enabled=True, lot_method=lot_method, max_lots=max_lots).tax_params(12)
    assert tp[L.TX_WASH_STEPS] == 1 and tp[L.TX_LONG_STEPS] == 12
    h = np.array(values, dtype=float)
    ts = np.zeros((n, L.N_TAX_STATE))
    lots = np.zeros((n, max_lots, L.N_LOT_FIELDS))
    _tax_account.start_account_nb(h, tp, ts, lots)
    acc = np.zeros(L.N_ACC)
    acc[L.A_WEALTH] = h.sum()
    ap = np.zeros((n, L.N_ASSET_PARAMS))
    ap[:, L.AP_PARTICIPATION] = np.inf
    ap[:, L.AP_ADV] = np.inf
    return h, tp, ts, lots, acc, ap


def _move(i, price, h, ts, acc):
    """Set asset ``i``'s price index (both vehicles) and mark its holdings to it."""
    ts[i, L.TS_PRICE : L.TS_PRICE + 2] = price
    h[i] = _lots.holdings_value_nb(i, ts)
    acc[L.A_WEALTH] = h.sum()


def _sync(t, h, tp, ts, lots, acc):
    _tax_account.sync_lots_nb(t, h, L.LOT_HIFO, tp, ts, lots, acc, np.zeros(2 + lots.shape[1]))


def _book(ts, lots, i=0):
    """Asset ``i``'s open lots, one (units, basis, step, vehicle) row each."""
    return lots[i, : int(ts[i, L.TS_N_LOTS])].copy()


def _assert_book(ts, lots, expect, i=0):
    np.testing.assert_allclose(_book(ts, lots, i), np.array(expect, ndmin=2), rtol=1e-12)


def _harvester(threshold=0.05):
    ep = np.zeros(L.N_EXEC_PARAMS)
    ep[L.EP_HARVEST] = 1.0
    ep[L.EP_HARVEST_THRESHOLD] = threshold
    return ep


# --- trading costs -------------------------------------------------------------------------
def test_rebalance_costs_go_into_basis_and_proceeds():
    """Two assets of 500 each (bought at 1). A rises to 1.2 (600), B falls to 0.9 (450):
    wealth 1050. Rebalancing to 50/50 trades 75 each way at 10 bps: 0.075 per asset, 0.15
    in all, paid pro rata, so each asset ends at 0.5 x 1049.85 = 524.925.

    A sells 75.075 of shares (62.5625 units of basis 1), less its cost 0.075: proceeds
    75.000, gain 12.4375 (not 12.5125). B buys 74.925 of shares (83.25 units at 0.9) and
    pays 0.075: basis 75.000 (not 74.925)."""
    h, tp, ts, lots, acc, ap = _account([500.0, 500.0])
    ap[:, L.AP_PROPORTIONAL] = 0.001
    _move(0, 1.2, h, ts, acc)
    _move(1, 0.9, h, ts, acc)
    ep = np.zeros(L.N_EXEC_PARAMS)
    w_new = np.array([0.5, 0.5])
    trade = np.zeros(2)
    gains = np.zeros(2 + lots.shape[1])
    _engine.rebalance_step_nb(
        0, h, w_new, ap, tp, ep, np.uint64(0), ts, lots, acc, trade, gains
    )  # fmt: skip
    assert acc[L.M_COSTS] == pytest.approx(0.15, rel=1e-12)
    np.testing.assert_allclose(h, [524.925, 524.925], rtol=1e-12)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(75.0 - 62.5625, rel=1e-12)
    assert acc[L.A_YEAR_LONG] == 0.0
    _assert_book(ts, lots, [(500 - 62.5625, 500 - 62.5625, -1, 0)], 0)
    _assert_book(ts, lots, [(83.25, 75.0, 0, 0), (500.0, 500.0, -1, 0)], 1)  # cost order
    # The cost is consumed by the booking: a later sale pays none.
    assert np.all(ts[:, L.TS_TRADE_COST] == 0.0)


def test_harvest_costs_add_to_the_loss_and_to_the_substitutes_basis():
    """100 units bought at 1, now at 0.9 (value 90), harvested at 10 bps a side: the sale's
    cost 0.09 makes the loss 90 - 0.09 - 100 = -10.09; the substitute gets 90 - 0.18 = 89.82
    of shares (99.8 units) for basis 89.91 (what the sale left after its own cost)."""
    h, tp, ts, lots, acc, ap = _account([100.0])
    ap[:, L.AP_PROPORTIONAL] = 0.001
    _move(0, 0.9, h, ts, acc)
    _tax_account.harvest_nb(3, h, ap, tp, _harvester(), np.uint64(0), ts, lots, acc)
    assert acc[L.M_COSTS] == pytest.approx(0.18, rel=1e-12)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-10.09, rel=1e-12)
    assert acc[L.M_HARVESTED_LOSSES] == pytest.approx(10.09, rel=1e-12)
    _assert_book(ts, lots, [(99.8, 89.91, 3, 1)])
    assert h[0] == pytest.approx(89.82, rel=1e-12)


# --- wash sales: harvests --------------------------------------------------------------------
@pytest.mark.parametrize("lot_method", ["fifo", "hifo"])
@pytest.mark.parametrize(("bought_at", "disallowed"), [(4, 1.0), (5, 1.0), (3, 0.0)])
def test_harvest_after_a_purchase_in_the_window_is_a_wash_sale(lot_method, bought_at, disallowed):
    """100 units bought at 1; 10 more bought at 0.9 at step ``bought_at``; at step 5 the
    price is 0.9 and the first lot (value 90, basis 100) is harvested: loss 10 on 100
    units. Bought within the window (steps 4 or 5), the 10 kept units are replacement
    shares: the loss on 10 of the 100 sold units, 10 x 0.1 = 1, is disallowed and added to
    their basis (9 -> 10); 9 is deducted. Bought at step 3 (two months before), nothing."""
    h, tp, ts, lots, acc, ap = _account([100.0], lot_method=lot_method)
    _move(0, 0.9, h, ts, acc)
    h[0] += 9.0
    acc[L.A_WEALTH] = h[0]
    _sync(bought_at, h, tp, ts, lots, acc)
    _tax_account.harvest_nb(5, h, ap, tp, _harvester(), np.uint64(0), ts, lots, acc)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-10.0 + disallowed, rel=1e-12)
    assert acc[L.M_REALISED_GAINS] == pytest.approx(-10.0 + disallowed, rel=1e-12)
    assert acc[L.M_HARVESTED_LOSSES] == pytest.approx(10.0 - disallowed, rel=1e-12)
    kept = (10.0, 9.0 + disallowed, bought_at, 0)
    substitute = (100.0, 90.0, 5, 1)
    expect = [kept, substitute] if lot_method == "fifo" or disallowed == 0 else [substitute, kept]
    _assert_book(ts, lots, expect)
    assert _lots.holdings_value_nb(0, ts) == pytest.approx(h[0], rel=1e-12)


def test_harvest_counts_only_the_deductible_loss_when_deciding():
    """The same harvest with 60 units bought in the window: 60 % of the loss would be
    disallowed, so the saving is 0.35 x 10 x 0.4 = 1.4. A round trip costing 0.016 a side
    of 90 (2 x 1.44 = 2.88) then does not pay, though the whole loss (3.5) would."""
    h, tp, ts, lots, acc, ap = _account([100.0])
    ap[:, L.AP_PROPORTIONAL] = 0.016
    _move(0, 0.9, h, ts, acc)
    h[0] += 54.0
    acc[L.A_WEALTH] = h[0]
    _sync(5, h, tp, ts, lots, acc)
    before = _book(ts, lots)
    _tax_account.harvest_nb(5, h, ap, tp, _harvester(), np.uint64(0), ts, lots, acc)
    np.testing.assert_array_equal(_book(ts, lots), before)
    assert acc[L.M_HARVESTED_LOSSES] == 0.0


def test_purchases_at_every_step_count_as_replacements_only_within_the_window():
    """100 units bought at 1; the price falls to 0.9 and 1 unit (0.9) is bought at each of
    steps 0..119, as reinvested dividends would. At step 119 the first lot (value 90, basis
    100) is harvested: only the units bought at steps 118 and 119 (2 units) are within the
    window, so the loss on 2 of the 100 units sold, 0.2, is disallowed and 9.8 deducted.
    The 120 units bought over ten years are not all replacement shares: counting them would
    make the harvest look fully washed and skip it."""
    h, tp, ts, lots, acc, ap = _account([100.0], max_lots=256)
    _move(0, 0.9, h, ts, acc)
    for t in range(120):
        h[0] += 0.9
        acc[L.A_WEALTH] = h[0]
        _sync(t, h, tp, ts, lots, acc)
    assert _tax_account.replacement_units_nb(0, 0, 119, 1.0, ts, lots) == pytest.approx(2.0)
    _tax_account.harvest_nb(119, h, ap, tp, _harvester(), np.uint64(0), ts, lots, acc)
    assert acc[L.M_HARVESTED_LOSSES] == pytest.approx(9.8, rel=1e-12)
    assert acc[L.A_YEAR_SHORT] + acc[L.A_YEAR_LONG] == pytest.approx(-9.8, rel=1e-12)
    # The two replacement lots carry the disallowed 0.2 in their basis; the substitute lot
    # holds the harvest's 90.
    book = _book(ts, lots)
    assert book[book[:, 3] == 1, 1].sum() == pytest.approx(90.0, rel=1e-12)
    assert book[book[:, 3] == 0, 1].sum() == pytest.approx(120 * 0.9 + 0.2, rel=1e-12)
    # Used once: a second loss sale in the window finds no replacement shares left.
    assert _tax_account.replacement_units_nb(0, 0, 119, 1.0, ts, lots) == 0.0


# --- wash sales: ordinary sales --------------------------------------------------------------
def _sell_at_a_loss(t_sale=3):
    """100 units bought at 1, at 0.8 by step ``t_sale``: selling 40 (50 units, basis 50)
    realises a short-term loss of 10."""
    h, tp, ts, lots, acc, _ = _account([100.0])
    _move(0, 0.8, h, ts, acc)
    h[0] = 40.0
    _sync(t_sale, h, tp, ts, lots, acc)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-10.0, rel=1e-12)
    return h, tp, ts, lots, acc


@pytest.mark.parametrize(("t_buy", "disallowed"), [(3, 2.0), (4, 2.0), (5, 0.0)])
def test_purchase_after_a_sale_at_a_loss_is_a_wash_sale(t_buy, disallowed):
    """After the sale above (loss 10 on 50 units), buying 8 (10 units at 0.8) in the window
    disallows the loss on 10 of the 50 units: 10/50 x 10 = 2, added to the new lot's basis
    (8 -> 10); the year's loss is 8. Two steps later (outside the window) nothing."""
    h, tp, ts, lots, acc = _sell_at_a_loss()
    h[0] += 8.0
    acc[L.A_WEALTH] = h[0]
    _sync(t_buy, h, tp, ts, lots, acc)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-10.0 + disallowed, rel=1e-12)
    new_lot = (10.0, 8.0 + disallowed, t_buy, 0)
    old_lot = (50.0, 50.0, -1, 0)
    # In cost order: 0.8 per unit before the old lot, 1.0 (a tie) after it.
    _assert_book(ts, lots, [old_lot, new_lot] if disallowed else [new_lot, old_lot])
    # A second purchase in the window, of 40 (50 units), matches the 40 units left: 8 more
    # disallowed, basis 48. A third finds nothing left to match.
    if disallowed:
        h[0] += 40.0
        acc[L.A_WEALTH] = h[0]
        _sync(4, h, tp, ts, lots, acc)
        assert acc[L.A_YEAR_SHORT] == pytest.approx(0.0, abs=1e-12)
        h[0] += 8.0
        acc[L.A_WEALTH] = h[0]
        _sync(4, h, tp, ts, lots, acc)  # nothing left to disallow
        assert acc[L.A_YEAR_SHORT] == pytest.approx(0.0, abs=1e-12)
        basis = sum(lot[1] for lot in _book(ts, lots))
        assert basis == pytest.approx(50.0 + (8.0 + 2.0) + (40.0 + 8.0) + 8.0, rel=1e-12)


def test_sale_at_a_loss_after_a_purchase_in_the_window_is_a_wash_sale():
    """100 units bought at 1; at step 2 the price is 0.8 and 10 units are bought (8). At
    step 3 a HIFO sale of 40 takes 50 units of the first lot (loss 10 on 50 units); the 10
    units bought a step before are replacement shares: 2 disallowed, their basis 8 -> 10.
    A second sale at a loss in the same step finds them already used."""
    h, tp, ts, lots, acc, _ = _account([100.0])
    _move(0, 0.8, h, ts, acc)
    h[0] += 8.0
    acc[L.A_WEALTH] = h[0]
    _sync(2, h, tp, ts, lots, acc)
    h[0] -= 40.0
    acc[L.A_WEALTH] = h[0]
    _sync(3, h, tp, ts, lots, acc)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-8.0, rel=1e-12)
    # Both now cost 1 per unit: the adjusted lot keeps its place (ties keep their order).
    _assert_book(ts, lots, [(10.0, 10.0, 2, 0), (50.0, 50.0, -1, 0)])
    h[0] -= 8.0  # 10 more units of the first lot: loss 2, no replacement shares left
    acc[L.A_WEALTH] = h[0]
    _sync(3, h, tp, ts, lots, acc)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-10.0, rel=1e-12)
    _assert_book(ts, lots, [(10.0, 10.0, 2, 0), (40.0, 40.0, -1, 0)])


def test_substitute_bought_after_its_own_loss_sale_is_a_wash_sale():
    """100 units of the original (vehicle 0) and 50 of the substitute (vehicle 1), all
    bought at 1. At step 4 the price is 0.8 and a HIFO sale of 40 takes the substitute's
    lot (the later-booked of equal cost): 50 units, loss 10. At step 5 a harvest of the
    original (value 80, loss 20) buys 100 units of the substitute at 0.8 within the window:
    the loss of the 50 substitute units sold is disallowed and goes into the new lot's
    basis, 80 + 10 = 90. The harvest's own loss, 20, stays deductible."""
    h, tp, ts, lots, acc, ap = _account([100.0])
    ts[0, L.TS_CURRENT] = 1.0
    h[0] += 50.0
    acc[L.A_WEALTH] = h[0]
    _sync(0, h, tp, ts, lots, acc)
    ts[0, L.TS_CURRENT] = 0.0
    _move(0, 0.8, h, ts, acc)
    h[0] -= 40.0
    acc[L.A_WEALTH] = h[0]
    _sync(4, h, tp, ts, lots, acc)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-10.0, rel=1e-12)
    _assert_book(ts, lots, [(100.0, 100.0, -1, 0)])
    _tax_account.harvest_nb(5, h, ap, tp, _harvester(), np.uint64(0), ts, lots, acc)
    assert acc[L.A_YEAR_SHORT] == pytest.approx(-20.0, rel=1e-12)
    assert acc[L.M_HARVESTED_LOSSES] == pytest.approx(20.0, rel=1e-12)
    _assert_book(ts, lots, [(100.0, 90.0, 5, 1)])


# --- invariants ------------------------------------------------------------------------------
@settings(deadline=None, derandomize=True, max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    lot_method=st.sampled_from(["fifo", "hifo", "tax_min"]),
    wash_days=st.sampled_from([30.0, 65.0]),
)
def test_bookkeeping_neither_creates_nor_loses_gains(seed, lot_method, wash_days):
    """Random prices, purchases and sales (with trading costs) and harvests on one asset:
    realised gains plus unrealised ones (value less basis) always equal the market's gains
    less every trading cost. Wash sales only move a loss from the first to the second."""
    rng = np.random.default_rng(seed)
    tp = TaxConfig(
        enabled=True, lot_method=lot_method, max_lots=6, wash_sale_days=wash_days
    ).tax_params(12)
    h = np.array([100.0])
    ts = np.zeros((1, L.N_TAX_STATE))
    lots = np.zeros((1, 6, L.N_LOT_FIELDS))
    _tax_account.start_account_nb(h, tp, ts, lots)
    acc = np.zeros(L.N_ACC)
    ap = np.zeros((1, L.N_ASSET_PARAMS))
    ap[:, L.AP_PARTICIPATION] = np.inf
    ap[:, L.AP_ADV] = np.inf
    ap[:, L.AP_PROPORTIONAL] = 0.002
    method = int(tp[L.TX_LOT_METHOD])
    gains = np.zeros(2 + lots.shape[1])
    market = 0.0
    costs = 0.0
    for t in range(40):
        before = _lots.holdings_value_nb(0, ts)
        ts[0, L.TS_PRICE : L.TS_PRICE + 2] *= np.exp(rng.normal(0.0, 0.08, 2))
        h[0] = _lots.holdings_value_nb(0, ts)
        market += h[0] - before
        acc[L.A_WEALTH] = h[0]
        u = rng.random()
        if u < 0.7:
            amount = float(rng.uniform(-0.6, 0.6) * h[0])
            cost = float(rng.uniform(0, 0.01) * abs(amount))
            ts[0, L.TS_TRADE_COST] = cost
            h[0] += amount
            acc[L.A_WEALTH] = h[0]
            _tax_account.sync_lots_nb(t, h, method, tp, ts, lots, acc, gains)
            costs += cost
        if rng.random() < 0.5:
            paid = acc[L.M_COSTS]
            _tax_account.harvest_nb(t, h, ap, tp, _harvester(0.03), np.uint64(0), ts, lots, acc)
            costs += acc[L.M_COSTS] - paid
        n = int(ts[0, L.TS_N_LOTS])
        value = _lots.holdings_value_nb(0, ts)
        basis = lots[0, :n, L.LOT_BASIS].sum()
        assert value == pytest.approx(h[0], rel=1e-9)
        scale = 1e-9 * (100.0 + abs(market) + costs + basis + abs(acc[L.M_REALISED_GAINS]))
        assert abs(acc[L.M_REALISED_GAINS] + value - basis - (market - costs)) < scale
        assert np.all(ts[0, L.TS_WASH_UNITS : L.TS_WASH_UNITS + 2] >= -1e-9)
        assert np.all(ts[0, L.TS_WASH_SHORT : L.TS_WASH_LONG + 2] <= 1e-9)
        if lot_method != "fifo":
            cost_per_unit = lots[0, :n, L.LOT_BASIS] / lots[0, :n, L.LOT_UNITS]
            assert np.all(np.diff(cost_per_unit) >= -1e-12 * cost_per_unit[1:])
