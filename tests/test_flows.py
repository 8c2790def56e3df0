"""Scheduled cash flows, cash-flow rebalancing, ruin and the wealth metrics that use them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import layout
from mcsim.kernels._flows import place_flow_nb, scheduled_flow_nb

import mcsim
from mcsim.errors import ConfigError
from mcsim.flows import CashFlow, check_flows, flows_array
from mcsim.policies import PolicyContext
from mcsim.testing.policies import (
    calendar_ref,
    place_flow_ref,
    run_policy,
    scheduled_flow_ref,
    simulate_ref,
    threshold_ref,
)

HYP = settings(deadline=None, derandomize=True, max_examples=60)
M = layout
MODES = [layout.FLOW_PRO_RATA, layout.FLOW_TO_TARGET, layout.FLOW_REBALANCE]


def lognormal_returns(rng, n_paths, n_steps, mu, vol, dt=1 / 12):
    mu, vol = np.asarray(mu, float), np.asarray(vol, float)
    z = rng.standard_normal((n_paths, n_steps, mu.size))
    return np.expm1((mu - 0.5 * vol**2) * dt + vol * np.sqrt(dt) * z)


@st.composite
def simplex(draw, n):
    x = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))) + 1e-3
    return x / x.sum()


@st.composite
def cash_flow(draw):
    return CashFlow(
        amount=draw(st.sampled_from([0.0, 0.02, -0.01, -0.05, 0.1])) or 0.01,
        pct_of_wealth=draw(st.sampled_from([0.0, 0.0, -0.01, 0.005])),
        every=draw(st.integers(1, 12)),
        start_year=(start := draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))),
        end_year=start + draw(st.sampled_from([np.inf, 0.5, 1.0])),
        indexation=(ix := draw(st.sampled_from(["none", "fixed", "inflation"]))),
        growth=draw(st.floats(-0.05, 0.1)) if ix == "fixed" else 0.0,
    )


# -- kernels against the NumPy references --------------------------------------------------
@HYP
@given(st.lists(cash_flow(), min_size=1, max_size=3), st.integers(0, 47), st.floats(0.1, 10))
def test_scheduled_flow_matches_reference(flows, t, wealth):
    arr = flows_array(flows, 12)
    got = scheduled_flow_nb(t, wealth, 1.07, arr, 12.0)
    assert got == pytest.approx(scheduled_flow_ref(t, wealth, 1.07, arr, 12.0), rel=1e-13)


def test_schedule_timing():
    """Yearly from year 1 to year 3 inclusive, monthly steps: end of steps 11, 23, 35."""
    arr = flows_array([CashFlow(amount=-1.0, frequency="annual", start_year=1, end_year=3)], 12)
    paid = [t for t in range(60) if scheduled_flow_nb(t, 100.0, 1.0, arr, 12.0) != 0.0]
    assert paid == [11, 23, 35]
    arr = flows_array([CashFlow(amount=2.0, indexation="fixed", growth=0.1, every=6)], 12)
    assert scheduled_flow_nb(11, 1.0, 1.0, arr, 12.0) == pytest.approx(2.0 * 1.1)


@HYP
@given(
    st.integers(1, 6).flatmap(lambda n: st.tuples(simplex(n), simplex(n))),
    st.floats(-0.9, 2.0),
    st.sampled_from(MODES),
)
def test_place_flow_matches_reference(weights, amount_frac, mode):
    w, target = weights
    h = w * 3.0
    amount = amount_frac * 3.0
    got = h.copy()
    place_flow_nb(got, amount, target, mode)
    np.testing.assert_allclose(got, place_flow_ref(h, amount, target, mode), rtol=1e-11, atol=1e-12)
    assert got.sum() == pytest.approx(h.sum() + amount, rel=1e-12)
    assert np.all(got >= -1e-12)


@HYP
@given(
    st.integers(2, 6).flatmap(lambda n: st.tuples(simplex(n), simplex(n))),
    st.floats(-0.5, 0.5).filter(lambda a: abs(a) > 1e-6),
)
def test_cash_flow_rebalancing_fills_the_largest_gaps_first(weights, amount):
    """Each asset moves only towards its target, never past it, and the gaps left above
    the common level are all equal (water-filling): the deviation from target in weight
    points is never larger than with any other placement, and never grows."""
    w, target = weights
    h = w.copy()
    got = h.copy()
    place_flow_nb(got, amount, target, layout.FLOW_REBALANCE)
    new_wealth = 1.0 + amount
    gap_before = target * new_wealth - h
    gap_after = target * new_wealth - got
    moved = got - h
    assert np.all(
        moved * np.sign(amount) >= -1e-15
    )  # bought on a contribution, sold on a withdrawal
    assert np.all(gap_after * gap_before >= -1e-15)  # never past target
    side = np.sign(amount) * gap_after
    traded = np.abs(moved) > 1e-12
    if traded.any():
        level = side[traded]
        np.testing.assert_allclose(level, level.max(), atol=1e-12)
        assert np.all(side[~traded] <= level.max() + 1e-12)
    assert np.abs(gap_after).max() <= np.abs(gap_before).max() + 1e-12


# -- the engine loop: twin, identity, ruin --------------------------------------------------
def scenario_returns(seed, n_paths=20, n_steps=36, n_assets=3):
    rng = np.random.default_rng(seed)
    vol = np.linspace(0.05, 0.35, n_assets)
    r = lognormal_returns(rng, n_paths, n_steps, np.full(n_assets, 0.05), vol)
    infl = 0.002 + 0.003 * rng.standard_normal((n_paths, n_steps))
    return r, infl


@pytest.mark.parametrize("flow_mode", ["pro_rata", "target", "rebalance"])
@pytest.mark.parametrize("kind", ["calendar", "threshold"])
def test_engine_with_flows_matches_numpy_twin(flow_mode, kind):
    r, infl = scenario_returns(4)
    flows = [
        CashFlow(amount=0.02, every=1, end_year=2, indexation="inflation"),
        CashFlow(amount=-0.17, pct_of_wealth=-0.01, frequency="quarterly", start_year=1),
    ]
    target = np.array([0.5, 0.3, 0.2])
    if kind == "calendar":
        pol, rule = mcsim.Calendar(name="p", every=6, flows=flow_mode), calendar_ref
    else:
        pol, rule = mcsim.Threshold(name="p", band=0.04, flows=flow_mode), threshold_ref
    m = run_policy(
        pol,
        r,
        target=target,
        inflation=infl,
        flows=flows,
        costs=mcsim.CostModel(proportional_bps=15),
    )
    ctx = PolicyContext(
        asset_names=["a0", "a1", "a2"], steps_per_year=12, n_steps=36, target=target
    )
    kp = pol.to_kernel(ctx)
    ref = simulate_ref(
        rule,
        kp.params,
        kp.targets,
        kp.w_init,
        r,
        inflation=infl,
        flows=flows_array(flows, 12),
        flow_mode=int(kp.exec_params[layout.EP_FLOW_MODE]),
        proportional=0.0015,
    )
    for name, col in [
        ("terminal_wealth", M.M_TERMINAL_WEALTH),
        ("real_terminal_wealth", M.M_REAL_TERMINAL_WEALTH),
        ("flows", M.M_FLOWS),
        ("gains", M.M_GAINS),
        ("costs", M.M_COSTS),
        ("n_rebalances", M.M_N_REBALANCES),
        ("ruined", M.M_RUINED),
    ]:
        np.testing.assert_allclose(m[:, col], ref[name], rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(np.isnan(m[:, M.M_RUIN_YEAR]), np.isnan(ref["ruin_year"]))
    assert 0 < ref["ruined"].sum() < len(r)  # the case covers both outcomes


@HYP
@given(
    st.integers(0, 2**32 - 1),
    st.lists(cash_flow(), min_size=1, max_size=3),
    st.sampled_from(["pro_rata", "target", "rebalance"]),
    st.sampled_from(["hold", "calendar", "band", "edge"]),
    st.floats(0.0, 100.0),
)
def test_accounting_identity_with_flows(seed, flows, flow_mode, kind, bps):
    """final = initial + flows + gains - costs (no taxes here), on every path; wealth >= 0."""
    r, infl = scenario_returns(seed, n_paths=10, n_steps=48)
    pol = {
        "hold": mcsim.BuyAndHold(name="p", flows=flow_mode),
        "calendar": mcsim.Calendar(name="p", every=3, flows=flow_mode),
        "band": mcsim.Threshold(name="p", band=0.03, flows=flow_mode),
        "edge": mcsim.Threshold(name="p", relative_band=0.2, trade_to="edge", flows=flow_mode),
    }[kind]
    costs = mcsim.CostModel(proportional_bps=bps, fixed_fee=0.0005)
    m = run_policy(pol, r, inflation=infl, flows=flows, costs=costs)
    final = m[:, M.M_TERMINAL_WEALTH]
    rhs = 1.0 + m[:, M.M_FLOWS] + m[:, M.M_GAINS] - m[:, M.M_COSTS] - m[:, M.M_TAXES]
    np.testing.assert_allclose(final, rhs, rtol=1e-9, atol=1e-9)
    assert np.all(final >= 0.0)
    assert np.all(m[:, M.M_COSTS] >= 0.0)
    ruined = m[:, M.M_RUINED] == 1.0
    assert np.all(final[ruined] == 0.0)
    assert np.all(np.isfinite(m[ruined, M.M_RUIN_YEAR]))
    assert np.all(np.isnan(m[~ruined, M.M_RUIN_YEAR]))


def test_ruin_in_a_flat_market_is_exact():
    """No returns, 5 % of initial wealth withdrawn yearly: money runs out at year 20, and the
    last payment only takes what is left."""
    r = np.zeros((2, 12 * 30, 2))
    flows = [CashFlow(amount=-0.05, frequency="annual")]
    m = run_policy(mcsim.Calendar(name="c", every=12), r, flows=flows)
    np.testing.assert_array_equal(m[:, M.M_RUINED], 1.0)
    np.testing.assert_allclose(m[:, M.M_RUIN_YEAR], 20.0)
    np.testing.assert_array_equal(m[:, M.M_TERMINAL_WEALTH], 0.0)
    np.testing.assert_allclose(m[:, M.M_FLOWS], -1.0)
    np.testing.assert_allclose(m[:, M.M_MIN_WEALTH], 0.0)
    # 4.5 % lasts 22 payments (0.99 taken), the 23rd takes the last 0.01.
    m = run_policy(mcsim.BuyAndHold(name="h"), r, flows=[CashFlow(amount=-0.045, every=12)])
    np.testing.assert_allclose(m[:, M.M_RUIN_YEAR], 23.0)
    np.testing.assert_allclose(m[:, M.M_FLOWS], -1.0)


def four_percent_rule_numpy(r, cpi, weights, withdrawal, rebalance_every):
    """Direct NumPy simulation, vectorised over paths: withdraw ``withdrawal`` times the
    price index at the end of every 12th step, pro rata, then rebalance to ``weights`` every
    ``rebalance_every`` steps. Returns (ruined, terminal wealth)."""
    n_paths, n_steps, _ = r.shape
    h = np.tile(weights, (n_paths, 1))
    alive = np.ones(n_paths, bool)
    for t in range(n_steps):
        h = h * (1 + r[:, t])
        if (t + 1) % 12 == 0:
            wealth = h.sum(axis=1)
            pay = withdrawal * cpi[:, t]
            broke = alive & (pay >= wealth)
            alive &= ~broke
            h[~alive] = 0.0
            keep = np.where(alive, (wealth - pay) / np.where(wealth > 0, wealth, 1), 0.0)
            h = h * keep[:, None]
        if (t + 1) % rebalance_every == 0:
            h = h.sum(axis=1, keepdims=True) * weights
    return ~alive, h.sum(axis=1)


def test_four_percent_rule_success_probability_against_numpy():
    """60/40, 30 years, 4 % of initial wealth withdrawn yearly and indexed to simulated
    inflation, annual rebalancing: the engine's probability of success (1 - mean(ruined))
    equals a direct vectorised NumPy simulation on the same paths."""
    n_paths, years = 2000, 30
    rng = np.random.default_rng(404)
    r = lognormal_returns(rng, n_paths, 12 * years, [0.08, 0.04], [0.17, 0.07])
    infl = 0.0025 + 0.004 * rng.standard_normal((n_paths, 12 * years))
    cpi = np.cumprod(1 + infl, axis=1)
    flows = [CashFlow(amount=-0.04, frequency="annual", indexation="inflation")]
    w = np.array([0.6, 0.4])
    m = run_policy(mcsim.Calendar(name="c", every=12), r, target=w, inflation=infl, flows=flows)
    ruined, final = four_percent_rule_numpy(r, cpi, w, 0.04, 12)
    np.testing.assert_array_equal(m[:, M.M_RUINED] == 1.0, ruined)
    np.testing.assert_allclose(m[:, M.M_TERMINAL_WEALTH], final, rtol=1e-9, atol=1e-12)
    success = 1.0 - m[:, M.M_RUINED].mean()
    assert 0.5 < success < 1.0  # a case with failures to count
    np.testing.assert_allclose(
        m[:, M.M_REAL_TERMINAL_WEALTH], m[:, M.M_TERMINAL_WEALTH] / cpi[:, -1], rtol=1e-12
    )


def test_goal_shortfall_and_goal_met():
    r = np.zeros((3, 12, 1))
    r[0, :, 0], r[1, :, 0], r[2, :, 0] = 0.01, 0.0, -0.3
    m = run_policy(
        mcsim.BuyAndHold(name="h"), r, goal=1.05, flows=[CashFlow(amount=-0.05, every=12)]
    )
    w = m[:, M.M_TERMINAL_WEALTH]
    np.testing.assert_allclose(m[:, M.M_GOAL_SHORTFALL], np.maximum(1.05 - w, 0.0))
    np.testing.assert_array_equal(m[:, M.M_GOAL_MET], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(m[:, M.M_RUINED], [0.0, 0.0, 1.0])


def test_cash_flow_rebalancing_trades_less_with_contributions():
    """Monthly contributions placed by cash-flow rebalancing keep the portfolio in band more
    often than pro-rata placement: fewer band trades on the same paths (paired, 5 SE), and
    the same flows. A contribution that brings the weights back inside the band means no
    trade at all."""
    rng = np.random.default_rng(8)
    r = lognormal_returns(rng, 1000, 120, [0.07, 0.03], [0.18, 0.06])
    flows = [CashFlow(amount=0.01, every=1)]
    tgt = [0.6, 0.4]
    band = dict(band=0.05)
    a = run_policy(mcsim.Threshold(name="a", **band), r, target=tgt, flows=flows)
    b = run_policy(mcsim.Threshold(name="b", flows="rebalance", **band), r, target=tgt, flows=flows)
    np.testing.assert_allclose(a[:, M.M_FLOWS], b[:, M.M_FLOWS])
    d = b[:, M.M_N_REBALANCES] - a[:, M.M_N_REBALANCES]
    assert d.mean() + 5 * d.std(ddof=1) / np.sqrt(d.size) < 0
    # One step: 70/30 after the move; a contribution of 0.5 fills the bonds' gap -> in band.
    r1 = np.zeros((1, 1, 2))
    r1[0, 0] = [0.4 / 0.6 * 1.0, 0.0]  # 0.6 -> 1.0, 0.4 stays: 71.4 / 28.6
    flows1 = np.array([CashFlow(amount=0.5, every=1).row(12)])
    m = run_policy(
        mcsim.Threshold(name="b", flows="rebalance", **band), r1, target=tgt, flows=flows1
    )
    assert m[0, M.M_N_REBALANCES] == 0
    m = run_policy(mcsim.Threshold(name="a", **band), r1, target=tgt, flows=flows1)
    assert m[0, M.M_N_REBALANCES] == 1


# -- from a scenario ------------------------------------------------------------------------
def test_retirement_scenario_runs_from_toml(tmp_path):
    sc = mcsim.Scenario.from_toml("configs/retirement_withdrawals.toml")
    res = mcsim.run(sc, n_paths=200, seed=3)
    s = res.summary["mean"].unstack("metric")
    assert np.all((s["ruined"] >= 0) & (s["ruined"] <= 1))
    assert np.all(s["flows"] < 0)
    assert np.all(res.metrics_array[:, :, M.M_TERMINAL_WEALTH] >= 0)


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"amount": -1.0, "every": 0}, r"every` must be >= 1"),
        ({"amount": -1.0, "every": -12}, r"every` must be >= 1"),
        ({"amount": -1.0, "every": 12, "frequency": "annual"}, "not both"),
        ({"amount": -1.0, "frequency": "weekly"}, r"frequency` must be one of"),
        ({"amount": -1.0, "start_year": 5, "end_year": 2}, "must not be before"),
        ({"amount": -1.0, "start_year": -1}, r"start_year` must be >= 0"),
        ({"amount": -1.0, "indexation": "cpi"}, r"indexation` must be one of"),
        ({"amount": -1.0, "indexation": "fixed", "growth": -1.0}, r"growth` must be > -1"),
        ({"amount": -1.0, "growth": 0.02}, r"growth` only applies"),
        ({"amount": float("nan")}, r"amount` must be a finite number"),
        ({"amount": "1000"}, r"amount` must be a number"),
        ({"pct_of_wealth": -1.0}, r"pct_of_wealth` must be > -1"),
        ({"pct_of_wealth": 1.5}, r"pct_of_wealth` must be <= 1"),
        ({}, r"needs a non-zero `amount` or `pct_of_wealth`"),
    ],
)
def test_cash_flow_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CashFlow(**kwargs)


def test_cash_flow_checks_against_the_run():
    with pytest.raises(ConfigError, match="does not fit 1 steps per year"):
        flows_array([CashFlow(amount=1.0, frequency="monthly")], 1)
    with pytest.raises(ConfigError, match="after the horizon"):
        check_flows(
            [CashFlow(amount=1.0, start_year=40)],
            steps_per_year=12,
            n_steps=360,
            has_inflation=False,
        )
    with pytest.raises(
        ConfigError, match=r"needs a simulated inflation series.*\[data\].inflation"
    ):
        check_flows(
            [CashFlow(amount=-1.0, indexation="inflation")],
            steps_per_year=12,
            n_steps=360,
            has_inflation=False,
        )


def test_inflation_indexing_without_an_inflation_series_is_refused_by_run():
    table = {
        "simulation": {"n_paths": 10, "horizon_years": 2, "seed": 1},
        "model": {
            "kind": "gaussian",
            "assets": ["s", "b"],
            "mu": [0.05, 0.02],
            "vol": [0.15, 0.05],
            "corr": [[1, 0], [0, 1]],
        },
        "portfolio": {"target": {"s": 0.5, "b": 0.5}},
        "policies": [{"name": "c", "kind": "calendar", "every": 12}],
        "flows": [{"amount": -1000.0, "frequency": "annual", "indexation": "inflation"}],
    }
    sc = mcsim.Scenario.from_dict(table)
    with pytest.raises(ConfigError, match="needs a simulated inflation series"):
        mcsim.run(sc)
    table["flows"] = [{"amount": -1000.0, "every": 12, "when": 3}]
    with pytest.raises(ConfigError, match=r"Unknown key `\[\[flows\]\].when`"):
        mcsim.Scenario.from_dict(table)
