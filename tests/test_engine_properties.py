"""The compiled step loop against its plain NumPy twin, and properties that hold on any input.

The twin, ``mcsim.testing.engine.simulate_policy_ref``, is fed the very returns the engine
drew for a block (the block's generator replayed through the model), so every per-path metric
and every kept wealth path must agree. Sums are made in the same order in both, so the
tolerance is ``rtol=1e-12`` except for the volatility: the kernel folds per-step returns into
running sums (``sum r``, ``sum r**2``) while the twin calls ``numpy.std``. The running-sum
variance loses about ``eps * mean(r**2) / var(r)`` relative, which is ``~1e-16`` for random
paths, and an absolute ``~eps * mean(r**2) ~ 1e-20`` of variance when the returns are constant
(zero volatility): ``sqrt(1e-20 * 12) ~ 3e-10`` of annual volatility. Hence ``rtol=1e-10``,
``atol=1e-9`` there.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import layout
from numba import njit

import mcsim
from mcsim import METRICS
from mcsim.engine import simulate_block
from mcsim.plan import prepare
from mcsim.testing.engine import REF_METRICS, reference_for_plan

RTOL = 1e-12
VOL_RTOL, VOL_ATOL = 1e-10, 1e-9


def _one_asset_model(vol: float = 0.15) -> dict:
    return {"assets": ["x"], "mu": [0.06], "vol": [vol], "corr": [[1.0]]}


CASES = {
    "default": {},
    "one_asset": dict(
        model=_one_asset_model(),
        portfolio={"target": {"x": 1.0}},
        policies=[
            {"name": "bh", "kind": "buy_and_hold"},
            {"name": "cal1", "kind": "calendar", "every": 1},
            {"name": "band0", "kind": "threshold", "band": 0.0},
        ],
    ),
    # The shortest horizon a scenario accepts: two annual steps (one step leaves a path's
    # volatility undefined, so SimulationConfig refuses it).
    "shortest_horizon": dict(
        simulation={"horizon_years": 2, "steps_per_year": 1},
        policies=[
            {"name": "bh", "kind": "buy_and_hold"},
            {"name": "cal1", "kind": "calendar", "every": 1},
            {"name": "band1pp", "kind": "threshold", "band": 0.01},
        ],
    ),
    "zero_volatility": dict(
        model={"vol": [0.0, 0.0]},
        policies=[
            {"name": "bh", "kind": "buy_and_hold"},
            {"name": "cal1", "kind": "calendar", "every": 1},
            {"name": "band0", "kind": "threshold", "band": 0.0},
            {"name": "band_half_pp", "kind": "threshold", "band": 0.005},
        ],
    ),
    "band0_calendar1_and_variants": dict(
        model={"vol": [0.30, 0.10]},
        costs={"proportional_bps": {"stocks": 25, "bonds": 5}},
        policies=[
            {"name": "band0", "kind": "threshold", "band": 0.0},
            {"name": "cal1", "kind": "calendar", "every": 1},
            {"name": "cal_offset", "kind": "calendar", "every": 5, "offset": 2},
            {"name": "rel_band", "kind": "threshold", "relative_band": 0.1},
            {"name": "drift", "kind": "threshold", "drift": 0.02},
            {
                "name": "half_way",
                "kind": "threshold",
                "band": 0.02,
                "trade_to": "fraction",
                "fraction": 0.5,
            },
            {"name": "quarterly_check", "kind": "calendar_threshold", "every": 3, "band": 0.01},
        ],
    ),
    "flows": dict(
        flows=[
            {"amount": 50.0, "every": 2},
            {"pct_of_wealth": -0.04, "frequency": "annual"},
            {"amount": -30.0, "every": 5, "start_year": 0.5},
        ],
        policies=[
            {"name": "bh", "kind": "buy_and_hold"},
            {"name": "quarterly", "kind": "calendar", "every": 3},
            {"name": "band2pp", "kind": "threshold", "band": 0.02},
        ],
    ),
    "ruin_by_withdrawals": dict(
        model={"vol": [0.6, 0.3]},
        flows=[{"amount": -70.0, "every": 1}],
        simulation={"horizon_years": 2},
        policies=[
            {"name": "bh", "kind": "buy_and_hold"},
            {"name": "cal1", "kind": "calendar", "every": 1},
        ],
    ),
}


def _case_table(small_table, case):
    """The small scenario with 20 paths in blocks of 8 (10 kept), changed by ``case``."""
    sections = dict(CASES[case])
    sim = {"n_paths": 20, "block_size": 8, "keep_paths": 10} | sections.pop("simulation", {})
    return small_table(simulation=sim, **sections)


def _engine_vs_reference(table):
    """(engine block result, reference per policy) for every block of the scenario."""
    plan = prepare(mcsim.Scenario.from_dict(table))
    sim = plan.scenario.simulation
    for b in range(sim.n_blocks):
        res = simulate_block(plan, b)
        start, stop = plan.block_range(b)
        returns = np.empty((stop - start, sim.n_steps, len(plan.series_names)))
        plan.model.simulate_into(plan.block_rng(b), returns, sim.steps_per_year)
        yield plan, res, reference_for_plan(plan, returns)


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_matches_numpy_reference(case, small_table):
    table = _case_table(small_table, case)
    n_checked = 0
    for plan, res, refs in _engine_vs_reference(table):
        for k, pol in enumerate(plan.policies):
            ref = refs[k]
            for name in REF_METRICS:
                got = res.metrics[k, :, METRICS[name].column]
                if name == "volatility":
                    np.testing.assert_allclose(
                        got, ref[name], rtol=VOL_RTOL, atol=VOL_ATOL, err_msg=f"{pol.name}.{name}"
                    )
                else:
                    np.testing.assert_allclose(
                        got, ref[name], rtol=RTOL, atol=0, err_msg=f"{pol.name}.{name}"
                    )
            n_keep = res.wealth.shape[1]
            np.testing.assert_allclose(
                res.wealth[k], ref["wealth"][:n_keep], rtol=RTOL, err_msg=f"{pol.name} wealth"
            )
            n_checked += res.metrics.shape[1]
    assert n_checked == 20 * len(table["policies"])


def test_edge_cases_exercise_what_they_claim(small_table):
    """The edge cases above really trade, really ruin, really have constant returns."""
    by_case = {}
    for case in ("zero_volatility", "ruin_by_withdrawals", "band0_calendar1_and_variants"):
        table = _case_table(small_table, case)
        by_case[case] = list(_engine_vs_reference(table))
    _, res, _ = by_case["zero_volatility"][0]
    # Constant returns: every path the same, the calendar policy trades every step.
    assert np.all(res.metrics[:, :, layout.M_TERMINAL_WEALTH] == res.metrics[:, :1, 0])
    assert np.all(res.metrics[1, :, layout.M_N_REBALANCES] == 24)
    blocks = by_case["ruin_by_withdrawals"]
    ruined = np.concatenate([r.metrics[:, :, layout.M_RUINED] for _, r, _ in blocks], axis=1)
    # 70 a month out of 1000 rarely lasts two years; a few volatile paths survive.
    assert ruined.mean() > 0.5 and not ruined.all()
    _, res, _ = by_case["band0_calendar1_and_variants"][0]
    assert np.all(res.metrics[:, :, layout.M_N_REBALANCES] > 0)


# -- properties on random inputs ----------------------------------------------------------
def _weights(draw, n, allow_zero=True):
    raw = draw(st.lists(st.integers(0 if allow_zero else 1, 10), min_size=n, max_size=n))
    if sum(raw) == 0:
        raw[0] = 1
    total = sum(raw)
    w = [r / total for r in raw]
    w[-1] = 1.0 - sum(w[:-1])
    return w


@st.composite
def policies(draw):
    kind = draw(st.sampled_from(["buy_and_hold", "calendar", "threshold", "calendar_threshold"]))
    p = {
        "name": "p",
        "kind": kind,
        "flows": draw(st.sampled_from(["pro_rata", "target", "rebalance"])),
    }
    if kind == "calendar":
        p["every"] = draw(st.integers(1, 6))
    elif kind in ("threshold", "calendar_threshold"):
        trigger = draw(st.sampled_from(["band", "relative_band", "drift"]))
        p[trigger] = draw(st.floats(0.0, 0.2))
        p["trade_to"] = draw(st.sampled_from(["target", "edge", "fraction"]))
        if p["trade_to"] == "fraction":
            p["fraction"] = draw(st.floats(0.1, 1.0))
        p["min_trade"] = draw(st.sampled_from([0.0, 0.0, 0.005]))
        if kind == "calendar_threshold":
            p["every"] = draw(st.integers(1, 6))
    return p


@st.composite
def scenarios(draw, policy=None):
    """A small scenario table with random assets, target, costs, flows and one policy."""
    n = draw(st.integers(1, 4))
    names = [f"a{i}" for i in range(n)]
    rho = draw(st.floats(0.0, 0.6))
    corr = [[1.0 if i == j else rho for j in range(n)] for i in range(n)]
    flows = []
    for _ in range(draw(st.integers(0, 2))):
        f = {"every": draw(st.integers(1, 6))}
        if draw(st.booleans()):
            f["amount"] = draw(st.sampled_from([-1.0, 1.0])) * draw(st.floats(1.0, 150.0))
        else:
            sign = draw(st.sampled_from([-1.0, 1.0]))
            f["pct_of_wealth"] = sign * draw(st.floats(0.001, 0.1))
        flows.append(f)
    pol = draw(policies() if policy is None else policy)
    return {
        "name": "random",
        "simulation": {
            "n_paths": 12,
            "horizon_years": draw(st.sampled_from([1, 2, 3])),
            "steps_per_year": draw(st.sampled_from([4, 12])),
            "block_size": 5,
            "seed": draw(st.integers(0, 2**32)),
            "initial_wealth": 1000.0,
            "keep_paths": 0,
        },
        "model": {
            "kind": "gaussian",
            "assets": names,
            "mu": [draw(st.floats(-0.05, 0.12)) for _ in names],
            "vol": [draw(st.floats(0.0, 0.5)) for _ in names],
            "corr": corr,
        },
        "portfolio": {"target": dict(zip(names, _weights(draw, n), strict=True))},
        "costs": {
            "proportional_bps": draw(st.floats(0.0, 100.0)),
            "fixed_fee": draw(st.sampled_from([0.0, 0.0, 0.5])),
            "half_spread_bps": draw(st.floats(0.0, 20.0)),
        },
        "flows": flows,
        "policies": [pol],
    }


def _run(table) -> mcsim.SimulationResult:
    return mcsim.run(mcsim.Scenario.from_dict(table))


@settings(max_examples=30)
@given(table=scenarios())
def test_accounting_closes_on_every_path(table):
    res = _run(table)
    m = res.metrics_array[0]
    w0 = table["simulation"]["initial_wealth"]
    lhs = m[:, layout.M_TERMINAL_WEALTH]
    rhs = (
        w0
        + m[:, layout.M_FLOWS]
        + m[:, layout.M_GAINS]
        - m[:, layout.M_COSTS]
        - m[:, layout.M_TAXES]
    )
    scale = w0 + np.abs(m[:, layout.M_FLOWS]) + np.abs(m[:, layout.M_GAINS]) + m[:, layout.M_COSTS]
    assert np.all(np.abs(lhs - rhs) <= 1e-9 * scale), np.max(np.abs(lhs - rhs) / scale)
    # Costs are never negative, in total or by component, and the components add up.
    parts = [
        layout.M_COST_PROPORTIONAL,
        layout.M_COST_FIXED,
        layout.M_COST_SPREAD,
        layout.M_COST_SLIPPAGE,
        layout.M_COST_IMPACT,
    ]
    assert np.all(m[:, layout.M_COSTS] >= 0.0)
    assert np.all(m[:, parts] >= 0.0)
    unruined = m[:, layout.M_RUINED] == 0
    np.testing.assert_allclose(
        m[unruined][:, parts].sum(axis=1), m[unruined, layout.M_COSTS], rtol=1e-12, atol=1e-12
    )
    assert np.all(m[:, layout.M_TERMINAL_WEALTH] >= 0.0)


@settings(max_examples=20)
@given(table=scenarios(policy=st.just({"name": "hold", "kind": "buy_and_hold"})))
def test_buy_and_hold_never_trades(table):
    m = _run(table).metrics_array[0]
    assert np.all(m[:, layout.M_TURNOVER] == 0.0)
    assert np.all(m[:, layout.M_N_REBALANCES] == 0.0)
    assert np.all(m[:, layout.M_COSTS] == 0.0)


@settings(max_examples=25)
@given(table=scenarios(), flow_mode=st.sampled_from(["pro_rata", "target", "rebalance"]))
def test_band_zero_equals_calendar_every_step(table, flow_mode):
    table["policies"] = [
        {"name": "band0", "kind": "threshold", "band": 0.0, "flows": flow_mode},
        {"name": "cal1", "kind": "calendar", "every": 1, "flows": flow_mode},
    ]
    m = _run(table).metrics_array
    np.testing.assert_allclose(
        m[0, :, layout.M_TERMINAL_WEALTH], m[1, :, layout.M_TERMINAL_WEALTH], rtol=1e-12, atol=0
    )
    np.testing.assert_array_equal(m[0, :, layout.M_N_REBALANCES], m[1, :, layout.M_N_REBALANCES])


# A rule that trades like a band policy (params: [tolerance, band, fraction]) and counts, in
# state[0], the steps on which the weights it is shown leave the simplex by more than the
# tolerance. The engine reports state[0] as the `floor_breaches` metric.
@njit
def simplex_checking_band_nb(t, returns, w, wealth, target, params, state, w_new):
    tol = params[0]
    total = 0.0
    off = False
    gap = 0.0
    for i in range(w.size):
        total += w[i]
        if w[i] < -tol or w[i] > 1.0 + tol:
            off = True
        gap = max(gap, abs(w[i] - target[i]))
    if off or abs(total - 1.0) > tol:
        state[0] += 1.0
    if gap <= params[1]:
        return False
    for i in range(w.size):
        w_new[i] = w[i] + params[2] * (target[i] - w[i])
    return True


def _simplex_policy(tol, band, fraction, flows):
    return mcsim.Custom(
        name="checked",
        rebalance_nb=simplex_checking_band_nb,
        params=[tol, band, fraction],
        flows=flows,
    )


def _with_custom(table, policy):
    scenario = mcsim.Scenario.from_dict(table)
    return mcsim.Scenario(
        name=scenario.name,
        simulation=scenario.simulation,
        model=scenario.model,
        target=scenario.target,
        policies=[policy],
        costs=scenario.costs,
        flows=scenario.flows,
    )


@settings(max_examples=25)
@given(
    table=scenarios(),
    band=st.floats(0.0, 0.2),
    fraction=st.floats(0.1, 1.0),
    flow_mode=st.sampled_from(["pro_rata", "target", "rebalance"]),
)
def test_long_only_weights_stay_on_the_simplex(table, band, fraction, flow_mode):
    scenario = _with_custom(table, _simplex_policy(1e-9, band, fraction, flow_mode))
    m = mcsim.run(scenario).metrics_array[0]
    assert np.all(m[:, layout.M_FLOOR_BREACHES] == 0.0)


def test_simplex_check_can_fail(small_table):
    """With a negative tolerance every consultation counts: the check is live."""
    table = small_table(simulation={"n_paths": 4, "block_size": 4})
    scenario = _with_custom(table, _simplex_policy(-1.0, 0.02, 1.0, "pro_rata"))
    m = mcsim.run(scenario).metrics_array[0]
    unruined = m[:, layout.M_RUINED] == 0
    assert np.all(m[unruined, layout.M_FLOOR_BREACHES] == scenario.simulation.n_steps)
