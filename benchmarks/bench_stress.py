"""Stress-testing benchmarks (issue #22), measured in one process.

1. W1 with six stresses (``rows_stress.py``) as a ratio to W1, against the goal
   ``1 + 6 p``, where ``p`` is the share of W1's simulation time spent outside drawing the
   random numbers (its policy pass): the floor is timed by drawing W1's blocks alone.
2. The 1,503-window backtest (monthly Shiller data, 30 years) of the six policies of the
   bundled ``default_60_40`` scenario, warm (kernels compiled), end to end through
   ``mcsim.run``.

Rounds are interleaved and the best round of each is reported. Usage::

    python benchmarks/bench_stress.py [--paths 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rows_stress
import w1

import mcsim
from mcsim.models import HistoricalWindowsModel


def _floor(plan) -> float:
    """Seconds to draw every block's returns of ``plan``, as the engine's blocks do."""
    sim = plan.scenario.simulation
    buf = np.empty((plan.chunk_size, plan.n_steps, len(plan.series_names)))
    t0 = time.perf_counter()
    for b in range(sim.n_blocks):
        start, stop = plan.block_range(b)
        rng = plan.block_rng(b)
        for c0 in range(0, stop - start, plan.chunk_size):
            m = min(plan.chunk_size, stop - start - c0)
            plan.fill_chunk(rng, start + c0, buf[:m])
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    base = mcsim.Scenario.from_dict(w1.w1_table(args.paths))
    stressed = mcsim.Scenario.from_dict(
        w1.merge_overrides(w1.w1_table(args.paths), {"stresses": rows_stress.SIX_STRESSES})
    )
    default = mcsim.Scenario.from_toml(mcsim.default_scenario_path())
    backtest = dataclasses.replace(default, model=HistoricalWindowsModel())
    plan = mcsim.prepare(base)
    mcsim.run(stressed, n_paths=2_000)  # compile every kernel once
    mcsim.run(backtest)

    best = {"w1": np.inf, "floor": np.inf, "six": np.inf, "backtest": np.inf}
    for _ in range(args.rounds):
        best["w1"] = min(best["w1"], mcsim.run(base).timings["simulate_s"])
        best["floor"] = min(best["floor"], _floor(plan))
        best["six"] = min(best["six"], mcsim.run(stressed).timings["simulate_s"])
        t0 = time.perf_counter()
        res = mcsim.run(backtest)
        best["backtest"] = min(best["backtest"], time.perf_counter() - t0)
    share = max(0.0, 1.0 - best["floor"] / best["w1"])
    ratio = best["six"] / best["w1"]
    goal = 1.0 + 6.0 * share
    print(f"W1 ({args.paths:,} paths), best of {args.rounds} rounds, simulation time:")
    print(f"  W1                      {best['w1']:8.3f} s")
    print(f"  draws alone (floor)     {best['floor']:8.3f} s   policy-pass share p = {share:.2f}")
    print(
        f"  W1 + six stresses       {best['six']:8.3f} s   {ratio:.2f} x W1 "
        f"(goal <= 1 + 6 p = {goal:.2f}: {'met' if ratio <= goal else 'NOT met'})"
    )
    n = len(res.window_starts)
    print(
        f"Backtest: {n:,} windows x {len(res.policy_names)} policies, warm, end to end: "
        f"{best['backtest']:.3f} s (goal < 2 s: {'met' if best['backtest'] < 2 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
