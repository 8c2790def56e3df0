"""Taxable account: lot kernels against plain references, tax netting, validation, and
whole runs (accounting identity, value of deferral)."""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _taxes, layout

import mcsim
from mcsim import ConfigError, TaxConfig
from mcsim.testing import frictions as ref

PROFILE = settings(deadline=None, derandomize=True, max_examples=40)
METHODS = [layout.LOT_FIFO, layout.LOT_HIFO, layout.LOT_TAX_MIN]


def _tax_params(**kw):
    tp = TaxConfig(enabled=True, **kw).tax_params(12)
    return tp


def _random_book(rng, n_lots, max_lots=12, long_steps=12):
    book = ref.LotBook(max_lots=max_lots, long_steps=long_steps)
    book.prices = [float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.5, 2.0))]
    step = -1
    for _ in range(n_lots):
        step += int(rng.integers(1, 6))
        book.lots.append(
            {
                "units": float(rng.uniform(1, 100)),
                "basis": float(rng.uniform(10, 200)),
                "step": float(step),
                "vehicle": float(rng.integers(0, 2)),
            }
        )
    return book, step


@PROFILE
@given(
    short=st.floats(-1e5, 1e5),
    long=st.floats(-1e5, 1e5),
    carry=st.floats(0, 1e5),
    limit=st.sampled_from([0.0, 3000.0]),
)
def test_year_tax_matches_reference(short, long, carry, limit):
    tp = _tax_params(short_term_rate=0.4, long_term_rate=0.2, loss_offset_limit=limit)
    tax, new_carry = _taxes.year_tax_nb(short, long, carry, tp)
    rtax, rcarry = ref.year_tax(short, long, carry, 0.4, 0.2, limit, 0.4)
    assert tax == pytest.approx(rtax, rel=1e-9, abs=1e-6)
    assert new_carry == pytest.approx(rcarry, rel=1e-9, abs=1e-6)
    if short <= 0 and long <= 0:
        assert tax <= 0.0  # no tax is paid in a year with only losses


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), method=st.sampled_from(METHODS))
def test_sale_matches_reference(seed, method):
    rng = np.random.default_rng(seed)
    book, last = _random_book(rng, int(rng.integers(1, 10)))
    ts, lots = book.to_arrays()
    amount = float(rng.uniform(0, 1.2) * book.total_value())
    t = last + int(rng.integers(0, 20))
    gains = np.zeros(2)
    sold = _taxes.sell_lots_nb(0, amount, t, method, 12.0, lots, ts, True, gains)
    short, long, rsold = book.sell(amount, t, method)
    assert sold == pytest.approx(rsold, rel=1e-12)
    assert gains[0] == pytest.approx(short, rel=1e-9, abs=1e-9)
    assert gains[1] == pytest.approx(long, rel=1e-9, abs=1e-9)
    ts2, lots2 = book.to_arrays()
    n = int(ts2[0, layout.TS_N_LOTS])
    assert ts[0, layout.TS_N_LOTS] == n
    np.testing.assert_allclose(lots[0, :n], lots2[0, :n], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ts[0, :8], ts2[0, :8], rtol=1e-12, atol=1e-9)


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), method=st.sampled_from(METHODS))
def test_dry_run_leaves_lots_untouched(seed, method):
    rng = np.random.default_rng(seed)
    book, last = _random_book(rng, 8)
    ts, lots = book.to_arrays()
    before = lots.copy(), ts.copy()
    gains = np.zeros(2)
    _taxes.sell_lots_nb(0, 0.5 * book.total_value(), last, method, 12.0, lots, ts, False, gains)
    np.testing.assert_array_equal(lots, before[0])
    np.testing.assert_array_equal(ts, before[1])
    short, long, _ = book.sell(0.5 * book.total_value(), last, method, commit=False)
    assert gains[0] + gains[1] == pytest.approx(short + long, rel=1e-9, abs=1e-9)


@PROFILE
@given(seed=st.integers(0, 2**32 - 1))
def test_hifo_never_realises_more_gain_than_fifo(seed):
    rng = np.random.default_rng(seed)
    book, last = _random_book(rng, int(rng.integers(1, 10)))
    book.prices = [book.prices[0]] * 2  # one price: HIFO is then optimal for total gain
    amount = float(rng.uniform(0, 1) * book.total_value())
    out = {}
    for m in (layout.LOT_FIFO, layout.LOT_HIFO):
        ts, lots = copy.deepcopy(book).to_arrays()
        g = np.zeros(2)
        _taxes.sell_lots_nb(0, amount, last + 3, m, 12.0, lots, ts, True, g)
        out[m] = g.sum()
    assert out[layout.LOT_HIFO] <= out[layout.LOT_FIFO] + 1e-9 * max(1.0, amount)


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), max_lots=st.integers(4, 8))
def test_buys_merge_and_basis_sums_to_what_was_paid(seed, max_lots):
    rng = np.random.default_rng(seed)
    book = ref.LotBook(max_lots=max_lots, long_steps=12)
    ts, lots = book.to_arrays()
    paid = 0.0
    sold_basis = 0.0
    t = 0
    for _ in range(30):
        t += int(rng.integers(0, 3))
        price = float(rng.uniform(0.5, 2))
        book.prices = [price, price * 1.01]
        ts[0, layout.TS_PRICE] = price
        ts[0, layout.TS_PRICE + 1] = price * 1.01
        if rng.random() < 0.75 or not book.lots:
            amount = float(rng.uniform(1, 100))
            v = int(rng.integers(0, 2))
            _taxes.add_lot_nb(0, amount, t, v, 12.0, lots, ts)
            book.buy(amount, t, v)
            paid += amount
        else:
            amount = float(rng.uniform(0, 0.8) * book.total_value())
            basis_before = lots[0, : int(ts[0, layout.TS_N_LOTS]), layout.LOT_BASIS].sum()
            _taxes.sell_lots_nb(0, amount, t, layout.LOT_HIFO, 12.0, lots, ts, True, np.zeros(2))
            book.sell(amount, t, layout.LOT_HIFO)
            basis_after = lots[0, : int(ts[0, layout.TS_N_LOTS]), layout.LOT_BASIS].sum()
            sold_basis += basis_before - basis_after
        n = int(ts[0, layout.TS_N_LOTS])
        assert n == len(book.lots) <= max_lots
        np.testing.assert_allclose(
            lots[0, :n], [list(lot.values()) for lot in book.lots], rtol=1e-10, atol=1e-9
        )
        basis = lots[0, :n, layout.LOT_BASIS].sum()
        assert basis == pytest.approx(paid - sold_basis, rel=1e-10)


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), vehicle=st.integers(0, 1))
def test_harvest_matches_reference(seed, vehicle):
    rng = np.random.default_rng(seed)
    book, last = _random_book(rng, 8)
    ts, lots = book.to_arrays()
    ts[0, layout.TS_CURRENT] = vehicle
    t = last + 2
    # make `vehicle` the one whose price triggers: push its price down
    tp = _tax_params()
    ep = np.zeros(layout.N_EXEC_PARAMS)
    ep[layout.EP_HARVEST] = 1.0
    ep[layout.EP_HARVEST_THRESHOLD] = 0.05
    ap = np.zeros((1, layout.N_ASSET_PARAMS))
    ap[0, layout.AP_PROPORTIONAL] = 0.001
    h = np.array([book.total_value()])
    acc = np.zeros(layout.N_ACC)
    acc[layout.A_WEALTH] = h[0]
    expect = copy.deepcopy(book)
    # the kernel visits vehicle 0 first, then 1 (unless a harvest of 0 blocks buying 0 back)
    results = []
    for v in (0, 1):
        before = expect.total_value()
        has_loss = any(
            lot["vehicle"] == v and expect.value(lot) < 0.95 * lot["basis"] for lot in expect.lots
        )
        if not has_loss or (v == 1 and results and results[0][2] > 0):
            results.append([0.0, 0.0, 0.0])
            continue
        r = expect.harvest(v, 0.05, t)
        cost = min(2 * 0.001 * r[2], r[2])
        expect.buy(r[2] - cost, t, 1 - v)
        results.append(r)
        assert expect.total_value() == pytest.approx(before - cost, rel=1e-12)
    _taxes.harvest_nb(t, h, ap, tp, ep, np.zeros((t + 1, 1)), ts, lots, acc)
    losses = -sum(r[0] + r[1] for r in results)
    assert acc[layout.M_HARVESTED_LOSSES] == pytest.approx(losses, rel=1e-10, abs=1e-9)
    assert acc[layout.A_YEAR_SHORT] == pytest.approx(sum(r[0] for r in results), abs=1e-9)
    assert h[0] == pytest.approx(expect.total_value(), rel=1e-12)
    assert _taxes.holdings_value_nb(0, ts) == pytest.approx(h[0], rel=1e-12)


def test_wash_sale_blocks_buying_back_within_the_window():
    tp = _tax_params()
    assert tp[layout.TX_WASH_STEPS] == 1  # 30 days with monthly steps: the next step
    ep = np.zeros(layout.N_EXEC_PARAMS)
    ep[layout.EP_HARVEST] = 1.0
    ep[layout.EP_HARVEST_THRESHOLD] = 0.05
    ap = np.zeros((1, layout.N_ASSET_PARAMS))
    ts = np.zeros((1, layout.N_TAX_STATE))
    lots = np.zeros((1, 8, layout.N_LOT_FIELDS))
    h = np.array([100.0])
    _taxes.start_account_nb(h, tp, ts, lots)
    acc = np.zeros(layout.N_ACC)
    noise = np.zeros((10, 1))
    # step 0: price falls 10 %: harvest vehicle 0, buy vehicle 1
    ts[0, layout.TS_PRICE : layout.TS_PRICE + 2] = 0.9
    h[0] = 90.0
    acc[layout.A_WEALTH] = 90.0
    _taxes.harvest_nb(0, h, ap, tp, ep, noise, ts, lots, acc)
    assert ts[0, layout.TS_CURRENT] == 1 and ts[0, layout.TS_UNITS] == 0
    # step 1: the substitute falls 10 % more: harvesting it would buy vehicle 0 back: blocked
    ts[0, layout.TS_PRICE : layout.TS_PRICE + 2] = 0.81
    h[0] = 81.0
    _taxes.harvest_nb(1, h, ap, tp, ep, noise, ts, lots, acc)
    assert ts[0, layout.TS_CURRENT] == 1 and ts[0, layout.TS_UNITS + 1] > 0
    # step 2: outside the window: allowed
    _taxes.harvest_nb(2, h, ap, tp, ep, noise, ts, lots, acc)
    assert ts[0, layout.TS_CURRENT] == 0
    assert acc[layout.M_HARVESTED_LOSSES] == pytest.approx(10.0 + 9.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"short_term_rate": -0.1}, r"\[taxes\]\.short_term_rate"),
        ({"long_term_rate": 1.2}, r"\[taxes\]\.long_term_rate"),
        ({"dividend_rate": 1.01}, r"\[taxes\]\.dividend_rate"),
        ({"income_rate": -1}, r"\[taxes\]\.income_rate"),
        ({"lot_method": "lifo"}, r"\[taxes\]\.lot_method"),
        ({"max_lots": 2}, r"\[taxes\]\.max_lots"),
        ({"loss_offset_limit": -3000}, r"\[taxes\]\.loss_offset_limit"),
        ({"long_term_years": 0}, r"\[taxes\]\.long_term_years"),
        ({"dividends": "cash"}, r"\[taxes\]\.dividends"),
        ({"substitute_tracking_error": -0.01}, r"\[taxes\]\.substitute_tracking_error"),
    ],
)
def test_bad_taxes_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TaxConfig(enabled=True, **kwargs)


def test_policy_tax_options_are_validated():
    with pytest.raises(ConfigError, match=r"harvest_threshold"):
        mcsim.Calendar(name="x", every=3, harvest=True, harvest_threshold=-0.1)
    with pytest.raises(ConfigError, match=r"tax_aware"):
        mcsim.Calendar(name="x", every=3, tax_aware="sometimes")
