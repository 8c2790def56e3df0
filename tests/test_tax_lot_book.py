"""A HIFO sale from the end of a cost-ordered book (``sell_from_end_nb``, totals kept in
locals) books exactly what the generic lot-by-lot sale (``sell_lots_nb``'s key scan, totals
kept in ``tax_state`` by ``pot_loss_nb``) books for the same lots: gains, wash-sale pots and
their step bit for bit, lots and unit totals to rounding. The script that counts how deep
purchases go into such a book (benchmarks/lot_depths.py) counts every purchase."""

import importlib.util
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _lots, layout

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


def test_lot_depths_script_counts_every_purchase_within_the_book():
    # benchmarks/lot_depths.py (the depths quoted in docs/frictions_taxes.md, Performance).
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "lot_depths.py"
    spec = importlib.util.spec_from_file_location("lot_depths", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    depth, size = module.count(2, seed=3)
    purchases = 2 * module.N_STEPS * module.N_ASSETS
    assert sum(depth.values()) == purchases == sum(size.values())
    assert max(depth) <= max(size) <= module.MAX_LOTS
    # Monthly dividend lots pile up: books of many lots, most purchases near the end.
    assert sum(n * c for n, c in size.items()) / purchases > 5
    assert depth[0] > 0.1 * purchases
