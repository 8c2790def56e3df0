"""Choosing a policy end to end: sweeps on common random numbers, rankings, the winner, bands."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import mcsim
from mcsim.accumulators import merge_in_order
from mcsim.band_theory import merton_weight
from mcsim.engine import simulate_block, sweep_accumulator
from mcsim.optimize import optimize_band
from mcsim.plan import prepare

W0 = 1_000_000.0


def _table(n_paths=600, *, sweeps=None, decision=None, extra_policies=(), goal=None):
    t = {
        "simulation": {
            "n_paths": n_paths,
            "horizon_years": 5,
            "steps_per_year": 12,
            "seed": 11,
            "block_size": 100,
            "initial_wealth": W0,
        },
        "model": {
            "kind": "gaussian",
            "assets": ["stocks", "bonds"],
            "mu": [0.07, 0.03],
            "vol": [0.16, 0.06],
            "corr": [[1.0, 0.1], [0.1, 1.0]],
        },
        "portfolio": {"target": {"stocks": 0.6, "bonds": 0.4}},
        "costs": {"proportional_bps": 10},
        "policies": [
            {"name": "annual", "kind": "calendar", "frequency": "annual"},
            {"name": "bands", "kind": "threshold", "band": 0.05},
            *extra_policies,
        ],
    }
    if goal is not None:
        t["simulation"]["goal"] = goal
    if sweeps is not None:
        t["sweeps"] = sweeps
    if decision is not None:
        t["decision"] = decision
    return t


SWEEP = [{"policy": "bands", "grid": {"band": [0.02, 0.05, 0.1], "trade_to": ["target", "edge"]}}]


@pytest.fixture(scope="module")
def swept():
    return mcsim.run(mcsim.Scenario.from_dict(_table(sweeps=SWEEP, decision={"risk_aversion": 3})))


def test_sweep_points_are_policies_of_the_run_identity():
    s = mcsim.Scenario.from_dict(_table(sweeps=SWEEP))
    assert len(s.sweep_points) == 6
    assert s.sweep_points[0].name == "bands[band=0.02,trade_to=target]"
    assert s.to_dict()["sweeps"] == SWEEP
    again = mcsim.Scenario.from_dict(s.to_dict())
    assert [p.name for p in again.sweep_points] == [p.name for p in s.sweep_points]


def test_kept_grid_points_equal_separate_named_runs_bit_for_bit(swept):
    kept = list(swept.sweep.kept)
    assert kept and all(k in swept.policy_names for k in kept)
    points = {
        p.name: p.to_dict() for p in mcsim.Scenario.from_dict(_table(sweeps=SWEEP)).sweep_points
    }
    named = mcsim.run(mcsim.Scenario.from_dict(_table(extra_policies=[points[k] for k in kept])))
    for k in kept:
        i, j = swept.policy_names.index(k), named.policy_names.index(k)
        np.testing.assert_array_equal(swept.metrics_array[i], named.metrics_array[j])
        np.testing.assert_array_equal(swept.hist[i], named.hist[j])


def test_grid_point_sums_equal_sums_of_a_separate_run_bit_for_bit(swept):
    """Every grid point (kept or not) gives exactly the sums of the same policy run named."""
    s = mcsim.Scenario.from_dict(_table(sweeps=SWEEP, decision={"risk_aversion": 3}))
    named = mcsim.run(
        mcsim.Scenario.from_dict(_table(extra_policies=[p.to_dict() for p in s.sweep_points]))
    )
    plan = prepare(s)
    sim = s.simulation
    parts = []
    for b in range(sim.n_blocks):
        lo, hi = b * sim.block_size, min((b + 1) * sim.block_size, sim.n_paths)
        parts.append(sweep_accumulator(plan).update(b, named.metrics_array[:, lo:hi]))
    ref = merge_in_order(parts)
    acc = swept.sweep.accumulator
    for name in ("m_mean", "m_m2", "d_mean", "u_mean", "u_m2", "pair_q", "hist", "dd_hist"):
        np.testing.assert_array_equal(getattr(acc, name), getattr(ref, name))


def test_sweep_results_are_identical_for_any_jobs(swept):
    s = mcsim.Scenario.from_dict(_table(sweeps=SWEEP, decision={"risk_aversion": 3}))
    two = mcsim.run(s, n_jobs=2)
    np.testing.assert_array_equal(two.metrics_array, swept.metrics_array)
    assert two.policy_names == swept.policy_names
    for name in ("m_mean", "u_mean", "pair_q", "hist", "dd_hist"):
        np.testing.assert_array_equal(
            getattr(two.sweep.accumulator, name), getattr(swept.sweep.accumulator, name)
        )
    assert two.ranking.equals(swept.ranking)


def test_accumulators_merge_exactly_across_blocks():
    s = mcsim.Scenario.from_dict(_table(sweeps=SWEEP))
    plan = prepare(s)
    blocks = [simulate_block(plan, b) for b in range(s.simulation.n_blocks)]
    merged = merge_in_order(b.sweep for b in blocks)
    whole = sweep_accumulator(plan)
    for b in blocks:  # the same blocks added one by one give the same bits
        whole.update(b.block, np.concatenate([b.metrics, _sweep_metrics(plan, b.block)]))
    np.testing.assert_array_equal(merged.hist, whole.hist)
    np.testing.assert_array_equal(merged.dd_hist, whole.dd_hist)
    np.testing.assert_array_equal(merged.m_n, whole.m_n)
    assert int(merged.dd_hist.sum(axis=(0, 2))[0]) == s.simulation.n_paths
    assert int(merged.hist.sum(axis=(0, 2))[0]) == s.simulation.n_paths


def _sweep_metrics(plan, block):
    named = dataclasses.replace(plan, policies=plan.sweep_policies, sweep_policies=[])
    return simulate_block(named, block).metrics


def test_ranking_covers_every_policy_with_the_documented_columns(swept, tmp_path):
    r = swept.ranking
    assert len(r) == 2 + 6
    for col in (
        "policy",
        "certainty_equivalent_wealth",
        "certainty_equivalent_wealth_se",
        "certainty_fee_equivalent_bp",
        "certainty_fee_equivalent_bp_se",
        "rank",
    ):
        assert col in r.columns
    base = r.loc[r["policy"] == "annual"].iloc[0]
    assert base["certainty_fee_equivalent_bp"] == 0.0
    files = swept.save(tmp_path / "out", report=False)
    assert files["ranking"].name == "ranking.csv"
    assert "winner" in swept.manifest and swept.manifest["sweeps"]["n_points"] == 6


def test_fee_equivalent_of_a_policy_against_itself_is_exactly_zero_end_to_end():
    twin = {"name": "annual_twin", "kind": "calendar", "frequency": "annual"}
    r = mcsim.run(
        mcsim.Scenario.from_dict(
            _table(decision={"risk_aversion": [0, 1, 3]}, extra_policies=[twin])
        )
    )
    rows = r.ranking.loc[r.ranking["policy"] == "annual_twin"]
    assert (rows["certainty_fee_equivalent_bp"] == 0.0).all()
    assert (rows["certainty_fee_equivalent_bp_se"] == 0.0).all()


def test_a_known_extra_annual_fee_is_its_certainty_fee_equivalent():
    """Asset `b` is asset `a` with its growth cut by a fee of 30 bp a year, on the same shocks."""
    f = 0.003
    t = _table(decision={"risk_aversion": 3})
    t["model"] = {
        "kind": "gaussian",
        "assets": ["a", "b"],
        "mu": [0.06, 0.06 + math.log(1 - f)],
        "vol": [0.15, 0.15],
        "corr": [[1.0, 1.0], [1.0, 1.0]],
    }
    t["portfolio"] = {"target": {"a": 0.5, "b": 0.5}}
    t["costs"] = {}
    t["policies"] = [
        {"name": "plain", "kind": "buy_and_hold", "target": {"a": 1.0, "b": 0.0}},
        {"name": "with_fee", "kind": "buy_and_hold", "target": {"a": 0.0, "b": 1.0}},
    ]
    r = mcsim.run(mcsim.Scenario.from_dict(t))
    row = r.ranking.loc[r.ranking["policy"] == "with_fee"].iloc[0]
    se = row["certainty_fee_equivalent_bp_se"]
    assert abs(row["certainty_fee_equivalent_bp"] - (-1e4 * f)) <= max(5 * se, 1e-6)


def test_the_winner_is_chosen_on_one_half_and_judged_on_the_other(swept):
    w = swept.winner
    assert w.name in swept.sweep.point_names or w.name in ("annual", "bands")
    assert w.name in swept.policy_names  # its per-path table is kept
    lo, hi = w.fee_equivalent_ci_bp
    assert lo <= w.fee_equivalent_bp <= hi
    line = w.line(swept.sweep.point_names)
    assert line.startswith("winner on paths of the selection half:")
    assert "indistinguishable" in line


def test_log_utility_at_risk_aversion_one_ranks_by_geometric_mean():
    r = mcsim.run(mcsim.Scenario.from_dict(_table(n_paths=300, decision={"risk_aversion": 1})))
    tw = r._decision_wealth()
    expected = np.exp(np.log(tw).mean(axis=1))
    np.testing.assert_allclose(r.ranking["certainty_equivalent_wealth"], expected, rtol=1e-12)


def _band_scenario(n_paths):
    g = 3.0
    pi = merton_weight(0.08, 0.2, g, rate=0.02)
    return mcsim.Scenario.from_dict(
        {
            "simulation": {
                "n_paths": n_paths,
                "horizon_years": 10,
                "steps_per_year": 12,
                "seed": 7,
                "block_size": 250,
            },
            "model": {
                "kind": "gaussian",
                "assets": ["stock", "cash"],
                "mu": [0.08, 0.02],
                "vol": [0.2, 0.0001],
                "corr": [[1, 0], [0, 1]],
            },
            "portfolio": {"target": {"stock": pi, "cash": 1 - pi}},
            "policies": [{"name": "band", "kind": "threshold", "band": 0.05, "trade_to": "edge"}],
            "decision": {"risk_aversion": g},
        }
    )


def test_optimal_band_scales_like_the_cube_root_of_the_cost_fast():
    study = optimize_band(_band_scenario(4000), costs_bps=[5, 10, 20, 50])
    assert abs(study.fit.z_score()) <= 1.0
    theory = study.table["theory_band"].to_numpy()
    found = study.table["optimal_band"].to_numpy()
    np.testing.assert_allclose(found, theory, rtol=0.3)


@pytest.mark.slow
def test_optimal_band_scales_like_the_cube_root_of_the_cost():
    study = optimize_band(_band_scenario(40_000), costs_bps=[2, 5, 10, 20])
    assert abs(study.fit.z_score()) <= 1.0
