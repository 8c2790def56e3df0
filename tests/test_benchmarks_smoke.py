"""The benchmark harness: the peers compute W1 as mcsim does, and the script runs.

No test here asserts on time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mcsim

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_rounds  # noqa: E402
import bench_w1  # noqa: E402
import peers  # noqa: E402
import w1  # noqa: E402

METRICS = (
    "terminal_wealth",
    "cagr",
    "volatility",
    "max_drawdown",
    "max_drawdown_duration",
    "turnover",
    "costs",
    "n_rebalances",
    "min_wealth",
)


def _mcsim_w1(n_paths: int, seed: int, block_size: int, n_steps: int | None = None):
    table = w1.w1_table(n_paths, block_size=block_size, seed=seed)
    if n_steps is not None:
        table["simulation"]["horizon_years"] = n_steps / w1.STEPS_PER_YEAR
    return mcsim.run(mcsim.Scenario.from_dict(table), seed=seed)


def test_w1_table_builds_the_workload():
    scenario = mcsim.Scenario.from_dict(w1.w1_table(10))
    plan = mcsim.prepare(scenario, seed=1)
    assert plan.n_steps == 360
    assert plan.n_assets == 10
    corr = w1.correlation()
    off = corr[~np.eye(10, dtype=bool)]
    assert 0.3 - 1e-12 <= off.min() and off.max() <= 0.6
    assert np.all(np.linalg.eigvalsh(corr) > 0)


def test_numpy_peer_reproduces_mcsim_path_by_path():
    # Same seed and block size: the peer draws mcsim's normals in mcsim's order, so only
    # floating-point summation order differs (relative error ~1e-14).
    n, block = 150, 64
    res = _mcsim_w1(n, seed=7, block_size=block)
    ref = peers.numpy_w1(n, seed=7, block_size=block)
    for name in METRICS:
        np.testing.assert_allclose(
            res.metric(name).iloc[:, 0].to_numpy(), ref[name], rtol=1e-9, atol=1e-12, err_msg=name
        )
    np.testing.assert_array_equal(res.hist[0], ref["hist"])


def test_numpy_peer_agrees_with_mcsim_in_distribution():
    # Independent seeds: the difference of the two sample means has standard error
    # sqrt(s1^2 / n1 + s2^2 / n2); a correct peer lands within 5 SE with probability
    # ~1 - 6e-7. Ten-year horizon keeps the lognormal tails (and the test) small.
    n, steps = 2_000, 120
    res = _mcsim_w1(n, seed=11, block_size=500, n_steps=steps)
    ref = peers.numpy_w1(n, seed=12, n_steps=steps)
    for name in ("terminal_wealth", "max_drawdown", "volatility", "costs"):
        a = res.metric(name).iloc[:, 0].to_numpy()
        b = ref[name]
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(a.mean() - b.mean()) < 5 * se, name


def test_floor_draws_the_generators_normals():
    # The checksum is the sum of the last normal of every chunk: recompute it from NumPy's
    # own stream of the same generator.
    n_paths, n_steps, n_assets = 7, 5, 3
    per_path = n_steps * n_assets
    buffer_bytes = 8 * 2 * per_path  # two paths per chunk: chunks of 2, 2, 2, 1 paths
    check = peers.normals_floor(
        n_paths, n_steps=n_steps, n_assets=n_assets, seed=3, buffer_bytes=buffer_bytes
    )
    z = np.random.default_rng(3).standard_normal(n_paths * per_path)
    ends = np.array([2, 4, 6, 7]) * per_path - 1
    assert check == pytest.approx(z[ends].sum(), rel=1e-12)


def test_merge_overrides_rules():
    base = w1.w1_table(100)
    out = w1.merge_overrides(base, {"costs": {"half_spread_bps": 5}})
    assert out["costs"] == {"proportional_bps": 10.0, "half_spread_bps": 5}
    out = w1.merge_overrides(base, {"model": {"kind": "student_t", "df": 5}})
    assert out["model"] == {"kind": "student_t", "df": 5}
    out = w1.merge_overrides(base, {"model": {"mu": [0.05] * 10, "corr": None}})
    assert out["model"]["mu"] == [0.05] * 10 and "corr" not in out["model"]
    assert out["model"]["vol"] == base["model"]["vol"]
    policies = [{"name": "b", "kind": "buy_and_hold"}]
    out = w1.merge_overrides(base, {"policies": policies, "costs": None})
    assert out["policies"] == policies and "costs" not in out
    assert base["costs"] == {"proportional_bps": 10.0}  # the input is not changed


def test_row_table_forces_the_chosen_size():
    table = bench_w1.row_table({"simulation": {"n_paths": 5, "steps_per_year": 4}}, 300, 100)
    assert table["simulation"]["n_paths"] == 300
    assert table["simulation"]["steps_per_year"] == 4
    assert table["simulation"]["block_size"] == 100


def test_load_extra_rows_skips_broken_files_and_entries(tmp_path):
    (tmp_path / "rows_good.py").write_text(
        'ROWS = [("spread", {"costs": {"half_spread_bps": 5}}), ("bad", 3)]\n'
    )
    (tmp_path / "rows_broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "not_rows.py").write_text("ROWS = [('x', {})]\n")
    rows, skipped = bench_w1.load_extra_rows(tmp_path)
    assert rows == [("spread [good]", {"costs": {"half_spread_bps": 5}})]
    assert any("rows_broken.py" in s and "boom" in s for s in skipped)
    assert any("ROWS[1]" in s for s in skipped)


def test_every_rows_file_in_the_repo_loads():
    _, skipped = bench_w1.load_extra_rows()
    assert not [s for s in skipped if "cannot load" in s], skipped


def test_worker_measures_a_tiny_run():
    res = bench_w1._worker({"table": w1.w1_table(20, block_size=10), "n_jobs": 1, "repeat": 2})
    assert res["n_paths"] == 20 and len(res["runs"]) == 2
    assert res["seconds"] == min(r["simulate_s"] for r in res["runs"])
    assert res["peak_rss_mib"] >= res["start_rss_mib"] > 0
    bad = bench_w1._worker({"table": {**w1.w1_table(20), "costs": {"nope": 1}}})
    assert "nope" in bad["error"]


def test_rounds_ratios_are_per_round_against_w1():
    times = {bench_rounds.W1_LABEL: [2.0, 1.0, 4.0], "row": [3.0, 2.5, 4.4]}
    n_paths = 10
    out = {r["label"]: r for r in bench_rounds.summarise(times, n_paths)}
    row = out["row"]
    assert row["x_w1_best"] == pytest.approx(2.5 / 1.0)  # best over best, not the same round
    assert (row["x_w1_min"], row["x_w1_median"], row["x_w1_max"]) == pytest.approx((1.1, 1.5, 2.5))
    asset_steps = n_paths * w1.N_STEPS * w1.N_ASSETS
    assert row["best_ns_per_asset_step"] == pytest.approx(2.5 / asset_steps * 1e9)
    assert out[bench_rounds.W1_LABEL]["x_w1_median"] == 1.0


def test_rounds_selects_rows_by_area():
    rows = bench_rounds.select_rows(["frictions"])
    assert rows[0] == (bench_rounds.W1_LABEL, {})
    assert len(rows) > 1 and all(label.endswith("[frictions]") for label, _ in rows[1:])
    with pytest.raises(SystemExit, match="unknown --area nope"):
        bench_rounds.select_rows(["nope"])


def test_rounds_command_line_runs_tiny_rounds(tmp_path):
    out = tmp_path / "rounds.json"
    script = str(BENCH / "bench_rounds.py")
    proc = subprocess.run(
        [sys.executable, script, "--quick", "--area", "policies", "--json", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["meta"]["rounds"] == 2 and data["rows"][0]["label"] == bench_rounds.W1_LABEL
    assert all(len(r["seconds"]) == 2 and r["best_s"] > 0 for r in data["rows"])
    assert "x W1 per round" in proc.stdout


def test_peers_command_line_prints_json():
    proc = subprocess.run(
        [sys.executable, str(BENCH / "peers.py"), "numpy", "--paths", "30"],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["peer"] == "numpy" and res["n_paths"] == 30 and res["seconds"] > 0


@pytest.mark.slow
def test_quick_benchmark_runs(tmp_path):
    out = tmp_path / "w1.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_w1.py"), "--quick", "--no-vectorbt", "--json", out],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    labels = [r["label"] for r in data["rows"]]
    assert labels[:4] == [
        "W1, 1 core (n_jobs=1)",
        "W1, 2 workers (n_jobs=2, threads)",
        "floor: PCG64 normals in numba (1 core)",
        "plain NumPy peer (1 process)",
    ]
    for row in data["rows"][:4]:
        assert row["ns_per_asset_step"] > 0 and row["peak_rss_mib"] > 0
    assert data["startup"]["cold_compile"] > 0 and data["startup"]["warm_start"] > 0
    assert "W1, 1 core" in proc.stdout


@pytest.mark.slow
def test_vectorbt_peer_matches_the_same_paths():
    # vectorbt lives in its own interpreter (it may pin other numpy/numba versions).
    py, why = bench_w1._find_vectorbt_python(None)
    if py is None:
        pytest.skip(f"vectorbt is not available: {why}")
    proc = subprocess.run(
        [py, str(BENCH / "peers.py"), "vectorbt", "--paths", "40"],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    # vectorbt also pays 10 bps on the initial purchase: terminal wealth is 0.999 times the
    # NumPy peer's on the same paths (other differences: rounding only).
    assert res["numpy_peer_same_paths_terminal_wealth_ratio"] == pytest.approx(0.999, abs=2e-4)
