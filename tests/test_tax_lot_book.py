"""The cost-ordered lot book's shortcuts take the same lots as the plain walks they replace.

Random prices, purchases, sales and harvests on one asset with a small book (so that full
books merge lots, including recent ones) run twice: with the book's shortcuts and with them
switched off (a zero ``TS_RECENT_SPAN``: every lot may be recent, so the wash-sale look-back
walks the whole book). Books, tax state and account must be bit-identical."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _lots, _tax_account, layout

from mcsim import TaxConfig

L = layout


def _harvester(threshold):
    ep = np.zeros(L.N_EXEC_PARAMS)
    ep[L.EP_HARVEST] = 1.0
    ep[L.EP_HARVEST_THRESHOLD] = threshold
    return ep


def _start(tp, max_lots, tracked):
    h = np.array([100.0])
    ts = np.zeros((1, L.N_TAX_STATE))
    lots = np.zeros((1, max_lots, L.N_LOT_FIELDS))
    _tax_account.start_account_nb(h, tp, ts, lots)
    if not tracked:
        ts[0, L.TS_RECENT_SPAN] = 0.0
    acc = np.zeros(L.N_ACC)
    acc[L.A_WEALTH] = h[0]
    return h, ts, lots, acc


def _recent_lots_above_floor(t, wash, ts, lots):
    """Every open lot bought within the window before ``t`` costs at least the floor."""
    n = int(ts[0, L.TS_N_LOTS])
    for v in range(2):
        low = _lots.recent_cost_floor_nb(0, v, t, ts)
        for k in range(n):
            units, basis, step, vehicle = lots[0, k]
            if vehicle == v and t - step <= wash:
                assert basis >= low * units, (t, v, k, basis / units, low)


@settings(deadline=None, derandomize=True, max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    lot_method=st.sampled_from(["hifo", "tax_min"]),
    wash_days=st.sampled_from([30.0, 65.0, 100.0]),
    long_years=st.sampled_from([1.0 / 12.0, 1.0]),
    max_lots=st.sampled_from([4, 6, 9]),
)
def test_look_back_shortcut_takes_the_same_lots(seed, lot_method, wash_days, long_years, max_lots):
    tp = TaxConfig(
        enabled=True,
        lot_method=lot_method,
        max_lots=max_lots,
        wash_sale_days=wash_days,
        long_term_years=long_years,
    ).tax_params(12)
    wash = tp[L.TX_WASH_STEPS]
    method = int(tp[L.TX_LOT_METHOD])
    ap = np.zeros((1, L.N_ASSET_PARAMS))
    ap[:, L.AP_PARTICIPATION] = np.inf
    ap[:, L.AP_ADV] = np.inf
    ap[:, L.AP_PROPORTIONAL] = 0.001
    ep = _harvester(0.03)
    books = [_start(tp, max_lots, tracked) for tracked in (True, False)]
    gains = np.zeros(2 + max_lots)
    rng = np.random.default_rng(seed)
    for t in range(60):
        move = np.exp(rng.normal(0.0, 0.06, 2))
        u = rng.random()
        amount = float(rng.uniform(-0.5, 0.5))
        cost = float(rng.uniform(0.0, 0.005))
        harvest = rng.random() < 0.4
        for h, ts, lots, acc in books:
            ts[0, L.TS_PRICE : L.TS_PRICE + 2] *= move
            h[0] = _lots.holdings_value_nb(0, ts)
            acc[L.A_WEALTH] = h[0]
            # A small purchase every step (a reinvested dividend), and trades in most.
            h[0] += 0.002 * h[0]
            acc[L.A_WEALTH] = h[0]
            _tax_account.book_step_nb(t, h, method, tp, ts, lots, acc, gains)
            if u < 0.7:
                ts[0, L.TS_TRADE_COST] = cost * abs(amount) * h[0]
                h[0] += amount * h[0]
                acc[L.A_WEALTH] = h[0]
                _tax_account.sync_lots_nb(t, h, method, tp, ts, lots, acc, gains)
            if harvest:
                _tax_account.harvest_nb(t, h, ap, tp, ep, np.uint64(0), ts, lots, acc)
        (h1, ts1, lots1, acc1), (h2, ts2, lots2, acc2) = books
        _recent_lots_above_floor(t, wash, ts1, lots1)
        np.testing.assert_array_equal(lots1, lots2)
        np.testing.assert_array_equal(ts1[:, : L.TS_RECENT_SPAN], ts2[:, : L.TS_RECENT_SPAN])
        np.testing.assert_array_equal(acc1, acc2)
        np.testing.assert_array_equal(h1, h2)


def test_floor_is_zero_for_an_untracked_or_stale_book():
    tp = TaxConfig(enabled=True, lot_method="hifo", max_lots=8).tax_params(12)
    _, ts, _, _ = _start(tp, 8, tracked=True)
    # The initial lot (step -1, price 1) is within the window of step 0.
    assert _lots.recent_cost_floor_nb(0, 0, 0, ts) == 1.0 * (1.0 - 1e-9)
    # Nothing of vehicle 1 was booked; nothing of vehicle 0 in the window of step 9.
    assert _lots.recent_cost_floor_nb(0, 1, 0, ts) == 0.0
    assert _lots.recent_cost_floor_nb(0, 0, 9, ts) == 0.0
    ts[0, L.TS_RECENT_SPAN] = 0.0
    assert _lots.recent_cost_floor_nb(0, 0, 0, ts) == 0.0
