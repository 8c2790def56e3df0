"""The fused Gaussian draw and policy pass (kernels/_fused.py) gives the two passes' numbers.

``RunPlan.fused_draw`` selects it; turning it off (``mcsim.plan._fused_draw`` returning
None) runs the model's draw and every policy as separate passes over each chunk, the block
loop as it was before. Every array of the result must be bitwise equal either way.
"""

from __future__ import annotations

import dataclasses
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
    # A second policy runs on the chunk the fused kernel filled.
    table["policies"].append({"name": "band_5pp", "kind": "threshold", "band": 0.05})
    # Stressed variants rewrite the chunk the fused kernel filled.
    table["stresses"] = [
        {"name": "shock", "kind": "shock", "returns": {"a0": -0.3}, "at_year": 0},
        {"name": "corr_one", "kind": "correlation", "to": 0.99, "at_year": 1, "years": 1},
    ]
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
    np.testing.assert_array_equal(fused.stress_metrics_array, two.stress_metrics_array)
    np.testing.assert_array_equal(fused.stress_hist, two.stress_hist)


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
def test_bundled_gaussian_scenarios_fused_equal_two_passes(name, monkeypatch):
    scenario = mcsim.Scenario.from_toml(scenario_path(name))
    assert prepare(scenario, seed=3).fused_draw is not None
    two = _run(scenario, monkeypatch, fused=False, n_paths=60, n_jobs=1, seed=3)
    fused = _run(scenario, monkeypatch, fused=True, n_paths=60, n_jobs=1, seed=3)
    _assert_same(fused, two)


def test_other_models_and_custom_first_rules_do_not_fuse(small_table):
    # The Student-t model subclasses the Gaussian one but draws with its own kernel.
    # A model simulating inflation (stress_60_40: Gaussian with CPI) keeps two passes.
    for name in ("student_t_60_40", "bootstrap_60_40", "garch_dcc_60_40", "stress_60_40"):
        scenario = mcsim.Scenario.from_toml(scenario_path(name))
        assert prepare(scenario, seed=1).fused_draw is None, name
    bands = mcsim.Scenario.from_toml(scenario_path("bands_5_25"), allow_code=True)
    custom = [p for p in bands.policies if isinstance(p, mcsim.Custom)]
    builtin = [p for p in bands.policies if not isinstance(p, mcsim.Custom)]
    assert prepare(bands, seed=1).fused_draw is not None  # a built-in rule comes first
    custom_first = dataclasses.replace(bands, policies=[*custom, *builtin])
    assert prepare(custom_first, seed=1).fused_draw is None


def test_profile_script_runs(capsys):
    assert profile_w1.main(["--quick", "--bit-generator", "sfc64"]) == 0
    out = capsys.readouterr().out
    for row in ("floor sfc64", "model pass", "policy pass", "W1 (mcsim.run", "two passes"):
        assert row in out
