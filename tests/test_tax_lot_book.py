"""The cost-ordered lot book's shortcuts book exactly what the plain walks they replace book.

A HIFO sale from the end of a cost-ordered book (``sell_from_end_nb``, totals kept in
locals) books exactly what the generic lot-by-lot sale (``sell_lots_nb``'s key scan, totals
kept in ``tax_state`` by ``pot_loss_nb``) books for the same lots: gains, wash-sale pots and
their step bit for bit, lots and unit totals to rounding.

The wash-sale look-back's walk stops below the lowest cost of the lots bought in the window
(``recent_cost_floor_nb``): random accounts run with the floor and without it (a zero
``TS_RECENT_SPAN``, so the walk goes through the whole book) and must stay bit-identical."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _lots, _tax_account, layout

from mcsim import TaxConfig

L = layout


def _cost_ordered_book(rng, n_lots, max_lots=12):
    """One asset's book of ``n_lots`` random lots of both vehicles in ascending cost per
    unit, with its unit totals, prices and a wash-sale pot already holding a loss."""
    ts = np.zeros((1, L.N_TAX_STATE))
    lots = np.zeros((1, max_lots, L.N_LOT_FIELDS))
    units = rng.uniform(1.0, 100.0, n_lots)
    cost = np.sort(rng.uniform(0.5, 2.0, n_lots))
    lots[0, :n_lots, L.LOT_UNITS] = units
    lots[0, :n_lots, L.LOT_BASIS] = units * cost
    lots[0, :n_lots, L.LOT_STEP] = rng.integers(-1, 30, n_lots)
    lots[0, :n_lots, L.LOT_VEHICLE] = rng.integers(0, 2, n_lots)
    ts[0, L.TS_N_LOTS] = n_lots
    ts[0, L.TS_BY_COST] = 1.0
    for v in range(2):
        mine = lots[0, :n_lots, L.LOT_VEHICLE] == v
        ts[0, L.TS_UNITS + v] = units[mine].sum()
        ts[0, L.TS_MAX_COST + v] = cost[mine].max() if mine.any() else 0.0
        ts[0, L.TS_PRICE + v] = rng.uniform(0.5, 2.0)
        ts[0, L.TS_WASH_UNITS + v] = rng.uniform(0.0, 5.0)
        ts[0, L.TS_WASH_SHORT + v] = -rng.uniform(0.0, 3.0)
        ts[0, L.TS_WASH_LONG + v] = -rng.uniform(0.0, 3.0)
        ts[0, L.TS_WASH_STEP + v] = -np.inf
    ts[0, L.TS_TRADE_COST] = rng.uniform(0.0, 1.0)
    return ts, lots


@settings(deadline=None, derandomize=True, max_examples=60)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_lots=st.integers(1, 12),
    share=st.floats(0.001, 1.2),
    commit=st.booleans(),
)
def test_sale_from_the_end_books_what_the_lot_by_lot_sale_books(seed, n_lots, share, commit):
    rng = np.random.default_rng(seed)
    ts, lots = _cost_ordered_book(rng, n_lots)
    value = _lots.holdings_value_nb(0, ts)
    amount = share * value
    t = 30
    gains = np.array([rng.normal(), rng.normal()])
    # The generic sale on a copy marked as not cost-ordered: HIFO by its key scan, dearest
    # first (random costs have no ties), each lot's loss added to the pots in memory.
    ts2, lots2, gains2 = ts.copy(), lots.copy(), gains.copy()
    ts2[0, L.TS_BY_COST] = 0.0
    sold = _lots.sell_from_end_nb(0, amount, t, 12.0, lots, ts, commit, gains)
    sold2 = _lots.sell_lots_nb(0, amount, t, L.LOT_HIFO, 12.0, lots2, ts2, commit, gains2)
    assert sold == sold2
    np.testing.assert_array_equal(gains, gains2)
    pots = slice(L.TS_WASH_STEP, L.TS_WASH_LONG + 2)
    np.testing.assert_array_equal(ts[0, pots], ts2[0, pots])
    n = int(ts[0, L.TS_N_LOTS])
    assert n == int(ts2[0, L.TS_N_LOTS])
    np.testing.assert_array_equal(lots[0, :n], lots2[0, :n])
    units = slice(L.TS_UNITS, L.TS_UNITS + 2)
    np.testing.assert_allclose(ts[0, units], ts2[0, units], rtol=1e-12, atol=1e-9)


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
def test_look_back_floor_takes_the_same_lots(seed, lot_method, wash_days, long_years, max_lots):
    # Small books merge often (recent lots too, when no long-term pair is left), short
    # long-term periods let merges make lots inside the window, long windows span buckets.
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


def test_floor_of_a_fresh_an_untracked_and_a_stale_book():
    tp = TaxConfig(enabled=True, lot_method="hifo", max_lots=8).tax_params(12)
    assert tp[L.TX_WASH_STEPS] == 1
    _, ts, _, _ = _start(tp, 8, tracked=True)
    # The initial lot (step -1, price 1) is within the window of step 0.
    assert _lots.recent_cost_floor_nb(0, 0, 0, ts) == 1.0 * (1.0 - 1e-9)
    # Nothing of vehicle 1 was bought; nothing of vehicle 0 within the window of step 9:
    # the walk may stop at once.
    assert _lots.recent_cost_floor_nb(0, 1, 0, ts) == np.inf
    assert _lots.recent_cost_floor_nb(0, 0, 9, ts) == np.inf
    # Purchases at steps 3 (cost 2) and 4 (cost 1.5): buckets [3, 5) then [5, 7).
    _lots.note_recent_lot_nb(0, 0, 3.0, 2.0, ts)
    _lots.note_recent_lot_nb(0, 0, 4.0, 1.5, ts)
    assert _lots.recent_cost_floor_nb(0, 0, 4, ts) == 1.5 * (1.0 - 1e-9)
    _lots.note_recent_lot_nb(0, 0, 5.0, 3.0, ts)
    # Step 5's window (4 .. 5) holds the lot bought at 1.5. Step 7's (6 .. 7) holds none,
    # and the floor is the latest bucket's (from step 5): a bound, not the window's minimum.
    assert _lots.recent_cost_floor_nb(0, 0, 5, ts) == 1.5 * (1.0 - 1e-9)
    assert _lots.recent_cost_floor_nb(0, 0, 7, ts) == 3.0 * (1.0 - 1e-9)
    assert _lots.recent_cost_floor_nb(0, 0, 9, ts) == np.inf
    ts[0, L.TS_RECENT_SPAN] = 0.0
    assert _lots.recent_cost_floor_nb(0, 0, 0, ts) == 0.0
