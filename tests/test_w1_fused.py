"""The fused Gaussian draw and policy pass (kernels/_fused.py) gives the two passes' numbers.

``RunPlan.fused_draw`` selects it; turning it off (``mcsim.plan._fused_draw`` returning
None) runs the model's draw and every policy as separate passes over each chunk, the block
loop as it was before. Every array of the result must be bitwise equal either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.plan
from mcsim.engine import regenerate_path, simulate_block
from mcsim.plan import prepare
from mcsim.scenarios import scenario_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import profile_w1
import w1


def _run(scenario, monkeypatch, *, fused: bool, **kw) -> mcsim.SimulationResult:
    with monkeypatch.context() as m:
        if not fused:
            m.setattr(mcsim.plan, "_fused_draw", lambda *a: None)
        return mcsim.run(scenario, **kw)


def _assert_same(a: mcsim.SimulationResult, b: mcsim.SimulationResult) -> None:
    np.testing.assert_array_equal(a.metrics_array, b.metrics_array)
    np.testing.assert_array_equal(a.hist, b.hist)
    np.testing.assert_array_equal(a.wealth_array, b.wealth_array)
    pd.testing.assert_frame_equal(a.paths, b.paths, check_exact=True)


@pytest.fixture(scope="module")
def w1_small():
    table = w1.w1_table(90, block_size=40)
    table["simulation"]["keep_paths"] = 45  # kept paths span two blocks
    return mcsim.Scenario.from_dict(table)


def test_w1_takes_the_fused_path(w1_small):
    plan = prepare(w1_small, seed=1)
    assert plan.fused_draw is not None
    drift, chol = plan.model.step_moments(12)
    np.testing.assert_array_equal(plan.fused_draw[0], drift)
    np.testing.assert_array_equal(plan.fused_draw[1], chol)


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 3 * 360 * 10 * 8])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_w1_fused_equals_two_passes(w1_small, monkeypatch, n_jobs, chunk_bytes):
    monkeypatch.setattr(mcsim.plan, "_CHUNK_BYTES", chunk_bytes)
    two = _run(w1_small, monkeypatch, fused=False, n_jobs=1, seed=5)
    fused = _run(w1_small, monkeypatch, fused=True, n_jobs=n_jobs, seed=5)
    _assert_same(fused, two)


def test_regenerated_path_is_the_fused_runs_path(w1_small, monkeypatch):
    # The chunk the fused kernel fills is the model's draw: a path regenerated alone (which
    # never fuses) gives the same returns, so a single path replayed matches its metrics.
    plan = prepare(w1_small, seed=5)
    block = simulate_block(plan, 1)
    returns = regenerate_path(plan, 40 + 7).to_numpy()
    monkeypatch.setattr(mcsim.plan, "_fused_draw", lambda *a: None)
    unfused = prepare(w1_small, seed=5)
    assert unfused.fused_draw is None
    buf = np.empty((8, plan.n_steps, plan.n_assets))
    unfused.fill_chunk(unfused.block_rng(1), 40, buf)
    np.testing.assert_array_equal(buf[7], returns)
    np.testing.assert_array_equal(block.metrics, simulate_block(unfused, 1).metrics)


@pytest.mark.parametrize("name", ["taxable_60_40", "cppi", "frictions", "glide_path"])
def test_bundled_gaussian_scenarios_with_one_policy_fused_equal_two_passes(name, monkeypatch):
    # The bundled scenarios compare several policies (two passes); each one alone fuses.
    bundled = mcsim.Scenario.from_toml(scenario_path(name))
    assert prepare(bundled, seed=3).fused_draw is None
    table = bundled.to_dict()
    table.pop("comparison", None)  # its baseline names another policy
    for policy in table["policies"]:
        scenario = mcsim.Scenario.from_dict(dict(table, policies=[policy]))
        assert prepare(scenario, seed=3).fused_draw is not None
        two = _run(scenario, monkeypatch, fused=False, n_paths=30, n_jobs=1, seed=3)
        fused = _run(scenario, monkeypatch, fused=True, n_paths=30, n_jobs=1, seed=3)
        _assert_same(fused, two)


def test_runs_with_more_policy_passes_do_not_fuse(w1_small):
    table = w1_small.to_dict()
    two_policies = dict(
        table, policies=[*table["policies"], {"name": "bh", "kind": "buy_and_hold"}]
    )
    stressed = dict(
        table, stresses=[{"name": "shock", "kind": "shock", "returns": {"a0": -0.3}, "at_year": 0}]
    )
    for t in (two_policies, stressed):
        assert prepare(mcsim.Scenario.from_dict(t), seed=1).fused_draw is None


def test_other_models_and_custom_rules_do_not_fuse(w1_small):
    # The Student-t model subclasses the Gaussian one but draws with its own kernel.
    # A model simulating inflation (stress_60_40: Gaussian with CPI) keeps two passes.
    for name in ("student_t_60_40", "bootstrap_60_40", "garch_dcc_60_40", "stress_60_40"):
        scenario = mcsim.Scenario.from_toml(scenario_path(name))
        assert prepare(scenario, seed=1).fused_draw is None, name
    custom = {
        "name": "momentum_tilt",
        "kind": "custom",
        "rebalance_nb": "mcsim.examples.rules:momentum_tilt_nb",
        "params": [3, 0.05, 12],
        "state_size": 1,
    }
    table = dict(w1.w1_table(20, block_size=10), policies=[custom])
    scenario = mcsim.Scenario.from_dict(table, allow_code=True)
    assert prepare(scenario, seed=1).fused_draw is None


def test_profile_script_runs(capsys):
    assert profile_w1.main(["--quick", "--bit-generator", "sfc64"]) == 0
    out = capsys.readouterr().out
    for row in ("floor sfc64", "model pass", "policy pass", "W1 (mcsim.run", "two passes"):
        assert row in out
