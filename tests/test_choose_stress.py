"""A sweep and stress testing in one run: grid points and stressed variants on the same blocks."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mcsim
from mcsim import engine

W0 = 1_000_000.0
STRESSES = [
    {"name": "crash", "kind": "shock", "returns": {"stocks": -0.3}, "at_year": 0.5},
    {"name": "lost", "kind": "drift", "shift": -0.05, "years": 2},
]
SWEEP = [{"policy": "bands", "grid": {"band": [0.02, 0.05, 0.1, 0.2]}}]


def _table(*, sweeps=None, extra_policies=()):
    t = {
        "simulation": {
            "n_paths": 300,
            "horizon_years": 3,
            "steps_per_year": 12,
            "seed": 5,
            "block_size": 100,
            "initial_wealth": W0,
            "goal": 1.1 * W0,
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
        "stresses": STRESSES,
        "failure": {"below_goal": True, "n_worst": 3},
        "decision": {"risk_aversion": 3},
    }
    if sweeps is not None:
        t["sweeps"] = sweeps
    return t


@pytest.fixture(scope="module")
def both():
    return mcsim.run(mcsim.Scenario.from_dict(_table(sweeps=SWEEP)))


def _assert_same(a, b):
    assert a.policy_names == b.policy_names
    np.testing.assert_array_equal(a.metrics_array, b.metrics_array)
    np.testing.assert_array_equal(a.stress_metrics_array, b.stress_metrics_array)
    np.testing.assert_array_equal(a.stress_hist, b.stress_hist)
    np.testing.assert_array_equal(a.features_array, b.features_array)
    for name in ("m_mean", "m_m2", "u_mean", "pair_q", "hist", "dd_hist"):
        np.testing.assert_array_equal(
            getattr(a.sweep.accumulator, name), getattr(b.sweep.accumulator, name)
        )
    assert a.ranking.equals(b.ranking)


def test_kept_grid_points_have_their_stressed_variants_like_named_policies(both):
    kept = list(both.sweep.kept)
    assert kept and all(k in both.policy_names for k in kept)
    n_pol = len(both.policy_names)
    assert both.stress_metrics_array.shape[:2] == (len(STRESSES), n_pol)
    assert both.stress_hist.shape[:2] == (len(STRESSES), n_pol)
    points = {
        p.name: p.to_dict() for p in mcsim.Scenario.from_dict(_table(sweeps=SWEEP)).sweep_points
    }
    named = mcsim.run(mcsim.Scenario.from_dict(_table(extra_policies=[points[k] for k in kept])))
    for k in kept:
        i, j = both.policy_names.index(k), named.policy_names.index(k)
        np.testing.assert_array_equal(both.metrics_array[i], named.metrics_array[j])
        np.testing.assert_array_equal(
            both.stress_metrics_array[:, i], named.stress_metrics_array[:, j]
        )
        np.testing.assert_array_equal(both.stress_hist[:, i], named.stress_hist[:, j])
    np.testing.assert_array_equal(both.features_array, named.features_array)
    stressed_policies = set(both.stress.index.get_level_values("policy"))
    assert set(kept) <= stressed_policies
    assert set(kept) <= set(both.failure.summary.index)


def test_a_sweep_with_stresses_is_bit_identical_for_any_jobs(both):
    _assert_same(both, mcsim.run(mcsim.Scenario.from_dict(_table(sweeps=SWEEP)), n_jobs=2))


def test_a_sweep_with_stresses_resumes_after_a_kill_with_the_same_numbers(
    both, tmp_path, monkeypatch
):
    sc = mcsim.Scenario.from_dict(_table(sweeps=SWEEP))
    real = engine.simulate_block

    def killed_at_block_2(plan, block):
        if block == 2:
            raise KeyboardInterrupt
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", killed_at_block_2)
    with pytest.raises(KeyboardInterrupt):
        mcsim.run(sc, checkpoint_dir=tmp_path)
    monkeypatch.undo()
    blocks = sorted(tmp_path.glob("run-*/block_*.npz"))
    assert len(blocks) == 2
    with np.load(blocks[0]) as z:
        proof = json.loads(bytes(z["proof"]).decode())
    covered = json.loads(proof["header"])["arrays"]
    # The proof names (and its digest covers) the stressed variants and the sweep's sums
    # (sketches as their non-empty bins).
    names = {"metrics", "stress_metrics", "sparse_stress_hist_at", "features", "acc_u_mean"}
    assert names <= set(covered)
    resumed = mcsim.run(sc, checkpoint_dir=tmp_path)
    assert resumed.timings["blocks_resumed"] == 2
    _assert_same(resumed, both)


def test_a_damaged_sweep_sum_in_a_checkpoint_is_simulated_again(both, tmp_path):
    sc = mcsim.Scenario.from_dict(_table(sweeps=SWEEP))
    run_dir = tmp_path / "ck"
    mcsim.run(sc, checkpoint_dir=run_dir)
    blocks = sorted(run_dir.glob("run-*/block_*.npz"))
    assert blocks, "a run without --out keeps its blocks"
    with np.load(blocks[0]) as z:
        arrays = {k: z[k].copy() for k in z.files}
    arrays["acc_u_mean"] = arrays["acc_u_mean"] + 1.0
    with open(blocks[0], "wb") as f:
        np.savez(f, **arrays)
    with pytest.warns(mcsim.errors.CheckpointWarning):
        again = mcsim.run(sc, checkpoint_dir=run_dir)
    assert again.timings["blocks_resumed"] == len(blocks) - 1
    _assert_same(again, both)
