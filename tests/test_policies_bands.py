"""Band (threshold) and calendar rules: kernels vs NumPy references, theory, properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import layout
from mcsim.kernels._policies import (
    TH,
    band_width_nb,
    calendar_nb,
    drop_small_trades_nb,
    threshold_nb,
    to_band_edge_nb,
)

import mcsim
from mcsim.errors import ConfigError
from mcsim.policies import PolicyContext
from mcsim.testing.policies import (
    band_rebalance_moments,
    calendar_ref,
    drop_small_trades_ref,
    run_policy,
    simulate_ref,
    threshold_ref,
    to_band_edge_ref,
)

HYP = settings(deadline=None, derandomize=True, max_examples=60)
M = layout


def ctx_for(n_assets, n_steps=12, target=None):
    names = [f"a{i}" for i in range(n_assets)]
    tgt = np.full(n_assets, 1.0 / n_assets) if target is None else np.asarray(target, float)
    return PolicyContext(asset_names=names, steps_per_year=12, n_steps=n_steps, target=tgt)


def kernel_params(policy, n_assets, target=None):
    return policy.rule(ctx_for(n_assets, target=target))[1]


def lognormal_returns(rng, n_paths, n_steps, mu, vol, dt=1 / 12):
    mu, vol = np.asarray(mu), np.asarray(vol)
    z = rng.standard_normal((n_paths, n_steps, mu.size))
    return np.expm1((mu - 0.5 * vol**2) * dt + vol * np.sqrt(dt) * z)


# -- strategies -----------------------------------------------------------------------------
@st.composite
def simplex(draw, n):
    x = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))) + 1e-3
    return x / x.sum()


@st.composite
def band_case(draw):
    n = draw(st.integers(1, 5))
    target = draw(simplex(n))
    w = draw(simplex(n))
    absb = draw(st.one_of(st.none(), st.floats(0.0, 0.3)))
    relb = draw(st.one_of(st.none(), st.floats(0.0, 0.9)))
    drift = draw(st.one_of(st.none(), st.floats(0.0, 0.3)))
    if absb is None and relb is None and drift is None:
        absb = 0.05
    trade_to = draw(st.sampled_from(["target", "edge", "fraction"]))
    fraction = draw(st.floats(0.1, 1.0)) if trade_to == "fraction" else 1.0
    min_trade = draw(st.sampled_from([0.0, 0.0, 0.01, 0.05]))
    pol = mcsim.Threshold(
        name="b",
        band=absb,
        relative_band=relb,
        drift=drift,
        trade_to=trade_to,
        fraction=fraction,
        min_trade=min_trade,
    )
    return w, target, kernel_params(pol, n, target)


# -- rules against the NumPy references ----------------------------------------------------
@HYP
@given(band_case())
def test_threshold_matches_reference(case):
    w, target, params = case
    w_new = np.full_like(w, np.nan)
    traded = threshold_nb(0, np.zeros((1, w.size)), w, 1.0, target, params, np.zeros(1), w_new)
    traded_ref, w_ref = threshold_ref(0, w, target, params)
    assert traded == traded_ref
    if traded:
        np.testing.assert_allclose(w_new, w_ref, rtol=1e-12, atol=1e-14)


@HYP
@given(band_case())
def test_band_policy_weights_stay_on_the_simplex(case):
    """Long-only input, long-only output: every trade mode keeps weights >= 0 summing to 1."""
    w, target, params = case
    w_new = w.copy()
    threshold_nb(0, np.zeros((1, w.size)), w, 1.0, target, params, np.zeros(1), w_new)
    assert np.all(w_new >= -1e-15)
    assert w_new.sum() == pytest.approx(1.0, abs=1e-12)


@HYP
@given(band_case())
def test_band_edge_lands_inside_every_band(case):
    w, target, params = case
    n = w.size
    w_new = np.empty(n)
    to_band_edge_nb(w, target, params, w_new)
    np.testing.assert_allclose(w_new, to_band_edge_ref(w, target, params), rtol=1e-12, atol=1e-14)
    widths = np.array(
        [
            band_width_nb(target[i], params[TH.N_FIXED + i], params[TH.N_FIXED + n + i])
            for i in range(n)
        ]
    )
    assert np.all(np.abs(w_new - target) <= widths + 1e-12)
    assert 0.5 * np.abs(w_new - target).sum() <= params[TH.DRIFT_BAND] + 1e-12
    # Inside all bands the weights do not move.
    if (
        np.all(np.abs(w - target) <= widths)
        and 0.5 * np.abs(w - target).sum() <= params[TH.DRIFT_BAND]
    ):
        np.testing.assert_allclose(w_new, w, atol=1e-12)


@HYP
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(simplex(n), simplex(n))), st.floats(0, 0.2))
def test_drop_small_trades_matches_reference_and_only_shrinks(ww, min_trade):
    w, w_target = ww
    w_new = w_target.copy()
    left = drop_small_trades_nb(w, w_new, min_trade)
    left_ref, w_ref = drop_small_trades_ref(w, w_target, min_trade)
    assert left == left_ref
    np.testing.assert_allclose(w_new, w_ref, rtol=1e-12, atol=1e-15)
    d, d0 = w_new - w, w_target - w
    assert w_new.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.abs(d) <= np.abs(d0) + 1e-15)  # no trade grows
    assert np.all(d * d0 >= 0.0)  # or changes direction
    assert np.all((d == 0.0) | (np.abs(d) >= min_trade * (1 - 1e-12)))  # none is small


def test_drop_small_trades_example():
    """Sell 5 points of a0, buy 4 of a1 and 1 of a2; min 2 points: a2's buy is cancelled,
    so the sale shrinks to 4 points and a1's buy stays."""
    w = np.array([0.55, 0.26, 0.19])
    w_new = np.array([0.50, 0.30, 0.20])
    assert drop_small_trades_nb(w, w_new, 0.02)
    np.testing.assert_allclose(w_new, [0.51, 0.30, 0.19], atol=1e-15)
    w_new = np.array([0.50, 0.30, 0.20])
    assert not drop_small_trades_nb(w, w_new, 0.06)  # every trade too small
    np.testing.assert_array_equal(w_new, w)


@pytest.mark.parametrize("t", range(10))
def test_calendar_matches_reference(t):
    pol = mcsim.Calendar(name="c", every=3, offset=1)
    params = kernel_params(pol, 2)
    w, target = np.array([0.7, 0.3]), np.array([0.5, 0.5])
    w_new = np.full(2, np.nan)
    traded = calendar_nb(t, np.zeros((1, 2)), w, 1.0, target, params, np.zeros(1), w_new)
    traded_ref, _ = calendar_ref(t, w, target, params)
    assert traded == traded_ref == ((t + 1) in (1, 4, 7, 10))
    if traded:
        np.testing.assert_array_equal(w_new, target)


# -- band semantics -------------------------------------------------------------------------
def breach(w, target, **kw):
    params = kernel_params(mcsim.Threshold(name="b", **kw), len(w), target)
    w_new = np.empty(len(w))
    args = (np.zeros((1, len(w))), np.asarray(w, float), 1.0, np.asarray(target, float))
    return threshold_nb(0, *args, params, np.zeros(1), w_new)


def test_five_25_rule_is_either_band_triggers():
    """5/25: trade when an asset is 5 points off target OR 25 % of its target off."""
    tgt = [0.6, 0.3, 0.1]
    rule = {"band": 0.05, "relative_band": 0.25}
    assert breach([0.66, 0.24, 0.10], tgt, **rule)  # 6 points: absolute (rel would be 15)
    assert not breach([0.64, 0.26, 0.10], tgt, **rule)  # 4 points, 4 / 30 = 13 % relative
    assert breach([0.60, 0.27, 0.13], tgt, **rule)  # 3 points = 30 % of 10: relative
    assert not breach([0.60, 0.28, 0.12], tgt, **rule)  # 2 points = 20 % of 10
    # Each band alone:
    assert not breach([0.60, 0.27, 0.13], tgt, band=0.05)
    assert breach([0.60, 0.27, 0.13], tgt, relative_band=0.25)
    assert not breach([0.66, 0.24, 0.10], tgt, relative_band=0.25)


def test_zero_target_asset_with_absolute_band():
    """An unset relative band times a zero target must not silence the absolute band."""
    assert breach([0.06, 0.47, 0.47], [0.0, 0.5, 0.5], band=0.05)
    assert not breach([0.04, 0.48, 0.48], [0.0, 0.5, 0.5], band=0.05)
    assert breach([0.01, 0.49, 0.50], [0.0, 0.5, 0.5], relative_band=0.25)  # width 0


def test_per_asset_bands_and_drift_trigger():
    tgt = [0.5, 0.3, 0.2]
    assert breach([0.53, 0.27, 0.20], tgt, band={"a0": 0.02, "a1": 0.10, "a2": 0.10})
    assert not breach([0.53, 0.27, 0.20], tgt, band={"a0": 0.05, "a1": 0.10, "a2": 0.10})
    # Drift = half the sum of |deviations| = 0.04 here.
    assert breach([0.54, 0.28, 0.18], tgt, drift=0.035)
    assert not breach([0.54, 0.28, 0.18], tgt, drift=0.045)


def test_edge_two_assets_with_relative_bands_stops_at_the_tighter_edge():
    """60/40 with 25 % relative bands (15 and 10 points): at 76/24 the bond band binds."""
    params = kernel_params(
        mcsim.Threshold(name="b", relative_band=0.25, trade_to="edge"), 2, [0.6, 0.4]
    )
    w_new = np.empty(2)
    to_band_edge_nb(np.array([0.76, 0.24]), np.array([0.6, 0.4]), params, w_new)
    np.testing.assert_allclose(w_new, [0.70, 0.30], atol=1e-15)


def test_drift_edge_moves_onto_the_drift_band():
    params = kernel_params(mcsim.Threshold(name="b", drift=0.02, trade_to="edge"), 3)
    w, tgt = np.array([0.40, 0.30, 0.30]), np.full(3, 1 / 3)
    w_new = np.empty(3)
    to_band_edge_nb(w, tgt, params, w_new)
    assert 0.5 * np.abs(w_new - tgt).sum() == pytest.approx(0.02, rel=1e-12)
    np.testing.assert_allclose((w_new - tgt) / (w - tgt), 0.02 / (1 / 15), rtol=1e-12)


def test_check_every_gates_the_band_check():
    params = kernel_params(mcsim.CalendarThreshold(name="b", every=3, band=0.01), 2)
    w, tgt = np.array([0.7, 0.3]), np.array([0.5, 0.5])
    due = [
        threshold_nb(t, np.zeros((1, 2)), w, 1.0, tgt, params, np.zeros(1), np.empty(2))
        for t in range(9)
    ]
    assert due == [t % 3 == 2 for t in range(9)]


# -- the engine loop against the NumPy twin -------------------------------------------------
@pytest.mark.parametrize(
    "policy",
    [
        mcsim.Calendar(name="c", every=3),
        mcsim.Threshold(name="t", band=0.03),
        mcsim.Threshold(name="e", band=0.03, relative_band=0.1, trade_to="edge"),
        mcsim.Threshold(name="f", drift=0.02, trade_to="fraction", fraction=0.5),
        mcsim.Threshold(name="m", band=0.02, min_trade=0.015, check_every=2),
    ],
    ids=lambda p: p.name,
)
def test_engine_matches_numpy_twin(policy):
    rng = np.random.default_rng(3)
    r = lognormal_returns(rng, 30, 48, [0.08, 0.04, 0.06], [0.25, 0.06, 0.15])
    tgt = [0.5, 0.3, 0.2]
    costs = mcsim.CostModel(proportional_bps=20)
    m = run_policy(policy, r, target=tgt, costs=costs, initial_wealth=100.0)
    kp = policy.to_kernel(ctx_for(3, 48, tgt))
    rule = calendar_ref if isinstance(policy, mcsim.Calendar) else threshold_ref
    ref = simulate_ref(
        rule, kp.params, kp.targets, kp.w_init, r, proportional=0.002, initial_wealth=100.0
    )
    np.testing.assert_allclose(m[:, M.M_TERMINAL_WEALTH], ref["terminal_wealth"], rtol=1e-12)
    np.testing.assert_allclose(m[:, M.M_COSTS], ref["costs"], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(m[:, M.M_N_REBALANCES], ref["n_rebalances"])
    np.testing.assert_allclose(m[:, M.M_TURNOVER] * 4, ref["traded"], rtol=1e-10, atol=1e-14)
    assert ref["n_rebalances"].sum() > 0


# -- properties -----------------------------------------------------------------------------
@HYP
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 4),
    st.floats(0.0, 50.0),
)
def test_calendar_every_step_equals_band_zero(seed, n_assets, bps):
    rng = np.random.default_rng(seed)
    r = lognormal_returns(rng, 8, 24, np.full(n_assets, 0.06), np.linspace(0.05, 0.4, n_assets))
    tgt = rng.dirichlet(np.ones(n_assets))
    costs = mcsim.CostModel(proportional_bps=bps)
    a = run_policy(mcsim.Calendar(name="c", every=1), r, target=tgt, costs=costs)
    b = run_policy(mcsim.Threshold(name="t", band=0.0), r, target=tgt, costs=costs)
    np.testing.assert_allclose(a[:, M.M_TERMINAL_WEALTH], b[:, M.M_TERMINAL_WEALTH], rtol=1e-9)


@HYP
@given(st.integers(0, 2**32 - 1), band_case())
def test_buy_and_hold_never_trades_and_costs_are_never_negative(seed, case):
    _, target, _ = case
    n = target.size
    rng = np.random.default_rng(seed)
    r = lognormal_returns(rng, 6, 24, np.full(n, 0.05), np.full(n, 0.3))
    costs = mcsim.CostModel(proportional_bps=10, fixed_fee=0.001)
    bh = run_policy(mcsim.BuyAndHold(name="h"), r, target=target, costs=costs)
    assert np.all(bh[:, M.M_N_REBALANCES] == 0)
    assert np.all(bh[:, M.M_TURNOVER] == 0)
    assert np.all(bh[:, M.M_COSTS] == 0)
    for pol in (
        mcsim.Threshold(name="e", band=0.02, trade_to="edge", min_trade=0.005),
        mcsim.Calendar(name="c", every=2),
    ):
        m = run_policy(pol, r, target=target, costs=costs)
        assert np.all(m[:, M.M_COSTS] >= 0)
        assert np.all(m[:, M.M_TERMINAL_WEALTH] > 0)


# -- theory ---------------------------------------------------------------------------------
def two_asset_market(n_paths, n_steps, seed):
    """Stocks (7 %, vol 20 %) and bonds (3 %, vol 5 %), independent, monthly steps."""
    dt = 1 / 12
    mu, vol = np.array([0.07, 0.03]), np.array([0.20, 0.05])
    r = lognormal_returns(np.random.default_rng(seed), n_paths, n_steps, mu, vol, dt)
    drift_step = ((mu[0] - vol[0] ** 2 / 2) - (mu[1] - vol[1] ** 2 / 2)) * dt
    vol_step = np.sqrt((vol**2).sum() * dt)
    return r, drift_step, vol_step


@pytest.mark.parametrize("band", [0.03, 0.08])
def test_band_rebalances_and_turnover_match_the_renewal_solution(band):
    """Mean number of rebalances and one-way turnover over 10 years vs the exact values.

    The reference (``band_rebalance_moments``) solves the discrete-time renewal equation of
    the log-odds random walk; it is exact up to quadrature error (< 1e-9, checked by
    doubling the nodes). The tolerance is 5 standard errors of the path mean.
    """
    n_paths, n_steps = 4000, 120
    r, m, s = two_asset_market(n_paths, n_steps, seed=11)
    out = run_policy(mcsim.Threshold(name="b", band=band), r, target=[0.6, 0.4])
    expected_n, expected_traded = band_rebalance_moments(0.6, band, m, s, n_steps)
    n_reb = out[:, M.M_N_REBALANCES]
    traded = out[:, M.M_TURNOVER] * 10.0  # per year -> over the 10 years
    assert abs(n_reb.mean() - expected_n) < 5 * n_reb.std(ddof=1) / np.sqrt(n_paths)
    assert abs(traded.mean() - expected_traded) < 5 * traded.std(ddof=1) / np.sqrt(n_paths)
    assert expected_n > 1.0


def test_renewal_reference_against_brute_force():
    """The reference itself, checked once against a plain NumPy simulation of the walk."""
    m, s, band, n_steps, n = 0.002, 0.06, 0.05, 60, 20000
    rng = np.random.default_rng(5)
    y0 = np.log(0.6 / 0.4)
    y = np.full(n, y0)
    count = np.zeros(n)
    traded = np.zeros(n)
    for _ in range(n_steps):
        y += m + s * rng.standard_normal(n)
        w = 1 / (1 + np.exp(-y))
        out = np.abs(w - 0.6) > band
        count += out
        traded += np.where(out, np.abs(w - 0.6), 0.0)
        y[out] = y0
    en, et = band_rebalance_moments(0.6, band, m, s, n_steps)
    assert abs(count.mean() - en) < 5 * count.std() / np.sqrt(n)
    assert abs(traded.mean() - et) < 5 * traded.std() / np.sqrt(n)


def test_band_edge_trades_less_than_back_to_target():
    """Paired on the same paths: trading to the edge has lower turnover (5 SE margin)."""
    r, _, _ = two_asset_market(2000, 120, seed=12)
    tgt = [0.6, 0.4]
    a = run_policy(mcsim.Threshold(name="t", band=0.05), r, target=tgt)[:, M.M_TURNOVER]
    b = run_policy(mcsim.Threshold(name="e", band=0.05, trade_to="edge"), r, target=tgt)
    d = b[:, M.M_TURNOVER] - a
    assert d.mean() + 5 * d.std(ddof=1) / np.sqrt(d.size) < 0


def test_perold_sharpe_constant_mix_concave_buy_and_hold_linear():
    """Flat but volatile market (risky mu = 0, cash at 0): regress terminal wealth on the
    risky asset's terminal price and its square. Constant mix is concave (quadratic term
    negative by more than 5 SE); buy-and-hold is exactly linear, W = 0.5 S + 0.5."""
    n_paths, n_steps = 3000, 120
    rng = np.random.default_rng(21)
    risky = lognormal_returns(rng, n_paths, n_steps, [0.0], [0.3])[:, :, 0]
    r = np.stack([risky, np.zeros_like(risky)], axis=-1)
    price = np.prod(1 + risky, axis=1)
    x = np.column_stack([np.ones(n_paths), price, price**2])

    def quadratic_term(wealth):
        beta, *_ = np.linalg.lstsq(x, wealth, rcond=None)
        resid = wealth - x @ beta
        sigma2 = resid @ resid / (n_paths - 3)
        se = np.sqrt(sigma2 * np.linalg.inv(x.T @ x)[2, 2])
        return beta, se

    tgt = [0.5, 0.5]
    mix = run_policy(mcsim.Calendar(name="c", every=1), r, target=tgt)[:, M.M_TERMINAL_WEALTH]
    beta, se = quadratic_term(mix)
    assert beta[2] < -5 * se
    hold = run_policy(mcsim.BuyAndHold(name="h"), r, target=tgt)[:, M.M_TERMINAL_WEALTH]
    np.testing.assert_allclose(hold, 0.5 * price + 0.5, rtol=1e-12)
    beta, _ = quadratic_term(hold)
    assert abs(beta[2]) < 1e-9


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"band": 1.0}, r"band` must be < 1"),
        ({"band": -0.01}, r"band` must be >= 0"),
        ({"relative_band": 1.5}, r"relative_band` must be < 1"),
        ({"band": {"a0": 0.05, "a1": 1.2}}, r"band\[a1\]` must be < 1"),
        ({"band": {}}, r"band` is an empty table"),
        ({"drift": 1.0}, r"drift` must be < 1"),
        ({"band": 0.05, "trade_to": "fraction", "fraction": 0.0}, r"fraction` must be > 0"),
        ({"band": 0.05, "trade_to": "fraction", "fraction": 1.5}, r"fraction` must be <= 1"),
        ({"band": 0.05, "fraction": 0.5}, r"fraction` only applies"),
        ({"band": 0.05, "trade_to": "middle"}, r"trade_to` must be one of"),
        ({"band": 0.05, "check_every": 0}, r"check_every` must be >= 1"),
        ({"band": 0.05, "min_trade": -0.1}, r"min_trade` must be >= 0"),
        ({}, r"needs a trigger"),
    ],
)
def test_threshold_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        mcsim.Threshold(name="b", **kwargs)


def test_per_asset_band_names_are_checked_against_the_assets():
    pol = mcsim.Threshold(name="b", band={"a0": 0.05, "stocks": 0.05})
    with pytest.raises(ConfigError, match="unknown asset 'stocks'"):
        pol.to_kernel(ctx_for(2))


def test_calendar_validation():
    with pytest.raises(ConfigError, match=r"every` must be >= 1"):
        mcsim.Calendar(name="c", every=0)
    with pytest.raises(ConfigError, match="does not fit 2 steps per year"):
        mcsim.Calendar(name="c", frequency="quarterly").to_kernel(
            PolicyContext(asset_names=["a"], steps_per_year=2, n_steps=4, target=np.ones(1))
        )
