"""Measure the rates behind ``mcsim validate``'s run-time estimate and write mcsim/rates.json.

For every bundled scenario: the model's draws (ns per path-step-series) and each policy's
step loop (ns per path-step-asset), timed on the same chunk of paths after a warm-up; per
kind the median over the scenarios that use it. Then ``run_factor``: the median over the
bundled scenarios of a whole run's simulation time (one worker) over the sum of its parts,
which holds what the parts leave out (blocks, merging, statistics of stresses and sweeps).
Then the cold compile of the default scenario, in a fresh process with an empty
NUMBA_CACHE_DIR. Run under the shared lock::

    python benchmarks/measure_rates.py [--paths 1000] [--write]
    python benchmarks/measure_rates.py --calibrate-only --write
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mcsim.kernels import layout

import mcsim
from mcsim import engine
from mcsim.rates import estimate_run_seconds
from mcsim.scenarios import bundled_scenarios, scenario_path
from mcsim.sketch import HIST_BINS

OUT = Path(mcsim.__file__).parent / "rates.json"

_COLD = (
    "import mcsim, json; r = mcsim.run(mcsim.Scenario.from_toml('default_60_40'), "
    "n_paths=1000, seed=1); print(json.dumps(r.timings))"
)


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure_scenario(name: str, n_paths: int) -> tuple[str, float, dict[str, list[float]]]:
    scenario = mcsim.Scenario.from_toml(scenario_path(name), allow_code=True)
    plan = mcsim.prepare(scenario, seed=1)
    engine._warm_up(plan)
    steps, n_series = plan.n_steps, len(plan.series_names)
    series = np.empty((n_paths, steps, n_series))
    model_s = _time(lambda: plan.fill_chunk(plan.block_rng(0), 0, series))
    model_ns = model_s * 1e9 / (n_paths * steps * n_series)
    returns, inflation = engine._split_series(series, plan.inflation_index)
    noise = engine.noise_keys(1, 0, n_paths)
    kinds = {p.name: p.kind for p in scenario.all_policies}
    per_kind: dict[str, list[float]] = {}
    for pol in plan.policies:
        metrics = np.empty((n_paths, layout.N_METRICS))
        hist = np.zeros((plan.grid_steps.size, HIST_BINS), dtype=np.int64)
        wealth = np.zeros((0, steps + 1))
        t = _time(
            lambda pol=pol, metrics=metrics, hist=hist, wealth=wealth: engine._run_policy(
                plan, pol, returns, inflation, noise, metrics, hist, wealth
            )
        )
        ns = t * 1e9 / (n_paths * steps * returns.shape[2])
        per_kind.setdefault(kinds[pol.name], []).append(ns)
    return plan.model.kind, model_ns, per_kind


def run_factor(n_paths: int) -> float:
    """Median of (whole run's simulate_s) / (estimate from the parts) over bundled scenarios."""
    ratios = []
    for name in bundled_scenarios():
        scenario = mcsim.Scenario.from_toml(scenario_path(name), allow_code=True)
        scenario = scenario.replace(n_paths=max(n_paths, 2 * scenario.simulation.block_size))
        result = mcsim.run(scenario, n_jobs=1, seed=1)
        parts = estimate_run_seconds(mcsim.prepare(scenario, seed=1), 1, with_factor=False)
        ratios.append(result.timings["simulate_s"] / parts)
        print(
            f"{name:28s} run {result.timings['simulate_s']:.3f} s, parts {parts:.3f} s, "
            f"ratio {ratios[-1]:.2f}"
        )
    return statistics.median(ratios)


def cold_compile_seconds() -> float:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-P", "-c", _COLD], env=env, capture_output=True, text=True, check=True
        )
        wall = time.perf_counter() - t
    timings = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"cold run: {wall:.1f} s wall, compile_s {timings['compile_s']:.1f} s")
    return wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, default=1000, help="paths per timed chunk")
    p.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-compile measurement")
    p.add_argument(
        "--calibrate-only", action="store_true", help="measure run_factor alone, keep the rest"
    )
    args = p.parse_args()
    print(f"load average: {open('/proc/loadavg').read().strip()}")
    if args.calibrate_only:
        rates = json.loads(OUT.read_text(encoding="utf-8"))
        rates["run_factor"] = round(run_factor(2 * args.paths), 3)
        rates["measured"]["run_factor_load_average"] = open("/proc/loadavg").read().split()[:3]
        print(json.dumps(rates, indent=2))
        if args.write:
            OUT.write_text(json.dumps(rates, indent=2) + "\n", encoding="utf-8")
            print(f"wrote {OUT}")
        return
    models: dict[str, list[float]] = {}
    policies: dict[str, list[float]] = {}
    for name in bundled_scenarios():
        kind, model_ns, per_kind = measure_scenario(name, args.paths)
        models.setdefault(kind, []).append(model_ns)
        for k, v in per_kind.items():
            policies.setdefault(k, []).extend(v)
        print(
            f"{name:28s} model {kind:18s} {model_ns:6.2f} ns  "
            + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in per_kind.items())
        )
    rates = {
        "measured": {
            "date": _dt.date.today().isoformat(),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.processor()}",
            "load_average": open("/proc/loadavg").read().split()[:3],
            "paths_per_chunk": args.paths,
        },
        "compile_s": round(cold_compile_seconds(), 1) if not args.no_cold else None,
        "model_ns_per_series_step": {k: round(statistics.median(v), 3) for k, v in models.items()},
        "policy_ns_per_asset_step": {
            k: round(statistics.median(v), 3) for k, v in policies.items()
        },
    }
    print(json.dumps(rates, indent=2))
    print(f"load average: {open('/proc/loadavg').read().strip()}")
    if args.write:
        OUT.write_text(json.dumps(rates, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
