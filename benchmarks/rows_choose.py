"""W1 benchmark rows for choosing a policy: band sweeps on W1's paths.

Each row keeps W1 (10 assets, monthly, 30 years, quarterly to equal weights, 10 bps), adds a
5-point band policy and sweeps it, ranked by certainty equivalent at risk aversion 3:

- 16 grid points: band 1 %..8 % (8 values) x trade to target or edge;
- 48 grid points: the same x checked every 1, 3 or 12 months;
- 100 grid points: band 1 %..10 % (10 values) x checked every 1, 2, 3, 6 or 12 months x
  trade to target or edge (the issue's row: each extra policy at most 0.75 x W1).

``MEMORY_ROWS`` (not in ``ROWS``, so ``bench_rounds.py`` does not time it round after round)
is the 500-point sweep (band 0.2 %..10 % in 50 steps x the same checks and trade-to rules),
measured once for its peak memory (goal: under 2 GiB at 100,000 paths).

A grid point is one more policy on the same block (the returns are drawn once), kept as
mergeable sums, not a per-path table; the best 3 and the winner are simulated again for their
per-path tables. So a row should cost W1 plus about one policy pass per point, and its memory
should grow with the grid, not with grid x paths. Goal: the ratio per extra policy,
``(row / W1 - 1) / extra policies``, at most the share of W1's time spent in its policy pass,
and peak memory within W1's plus the accumulators (``mcsim.sweeps.sweep_memory_bytes``).

``bench_w1.py`` and ``bench_rounds.py`` pick these rows up as area ``choose`` (their ratio is
the first pass, ``simulate_s``). Run this file for the figures of this area: each row's time
including the second pass, its ratio to W1 and per extra policy (W1 measured in the same
rounds, in one process), and its peak memory (each row in a fresh process)::

    python benchmarks/rows_choose.py [--paths 20000] [--rounds 3] [--quick]
                                     [--only LABEL] [--memory-paths N] [--no-memory-rows]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

_BANDS = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]
_CHECKS = [1, 2, 3, 6, 12]
_BASE = {
    "policies": [
        {"name": "quarterly", "kind": "calendar", "every": w1.REBALANCE_EVERY},
        {"name": "bands", "kind": "threshold", "band": 0.05},
    ],
    "decision": {"risk_aversion": [3]},
}

ROWS: list[tuple[str, dict]] = [
    (
        "band sweep, 16 grid points",
        {
            **_BASE,
            "sweeps": [
                {"policy": "bands", "grid": {"band": _BANDS, "trade_to": ["target", "edge"]}}
            ],
        },
    ),
    (
        "band sweep, 48 grid points",
        {
            **_BASE,
            "sweeps": [
                {
                    "policy": "bands",
                    "grid": {
                        "band": _BANDS,
                        "check_every": [1, 3, 12],
                        "trade_to": ["target", "edge"],
                    },
                }
            ],
        },
    ),
    (
        "band sweep, 100 grid points",
        {
            **_BASE,
            "sweeps": [
                {
                    "policy": "bands",
                    "grid": {
                        "band": "0.01:0.10:0.01",
                        "check_every": _CHECKS,
                        "trade_to": ["target", "edge"],
                    },
                }
            ],
        },
    ),
]

MEMORY_ROWS: list[tuple[str, dict]] = [
    (
        "band sweep, 500 grid points",
        {
            **_BASE,
            "sweeps": [
                {
                    "policy": "bands",
                    "grid": {
                        "band": "0.002:0.10:0.002",
                        "check_every": _CHECKS,
                        "trade_to": ["target", "edge"],
                    },
                }
            ],
        },
    ),
]


def _grid_len(values) -> int:
    """Values of a grid field: a list, or a ``start:stop:step`` range as ``--grid`` reads it."""
    if isinstance(values, str):
        from mcsim.sweeps import parse_grid_option

        return len(parse_grid_option(f"x={values}")[1])
    return len(values)


def n_policies(overrides: dict) -> int:
    """Policies a row runs on each block: its named ones plus every grid point."""
    n = len(overrides.get("policies", [None]))
    for sweep in overrides.get("sweeps", []):
        size = 1
        for values in sweep["grid"].values():
            size *= _grid_len(values)
        n += size
    return n


def _seconds(result) -> float:
    t = result.timings
    return t["simulate_s"] + t.get("sweep_second_pass_s", 0.0)


def _estimate_mib(scenario) -> float:
    """The run's own memory estimate (what its guard compares with the memory available)."""
    from mcsim.engine import estimate_memory
    from mcsim.plan import prepare

    return estimate_memory(prepare(scenario, seed=w1.SEED), 1) / 2**20


def main(argv: list[str] | None = None) -> int:
    import bench_w1

    import mcsim

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=20_000, help="paths per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--only", action="append", help="time only rows whose label has this")
    parser.add_argument(
        "--memory-paths", type=int, help="paths of the memory rows (default: --paths)"
    )
    parser.add_argument("--no-memory-rows", action="store_true", help="skip MEMORY_ROWS")
    args = parser.parse_args(argv)
    block = w1.BLOCK_SIZE
    if args.quick:
        args.paths, args.rounds, block = 80, 1, 20
        args.memory_paths = 80
    rows = [("W1", {})] + [
        (label, o) for label, o in ROWS if not args.only or any(k in label for k in args.only)
    ]
    scenarios = [
        (label, o, mcsim.Scenario.from_dict(bench_w1.row_table(o, args.paths, block)))
        for label, o in rows
    ]
    for _, _, sc in scenarios:  # compile (or load from the cache) before timing
        mcsim.run(sc, n_paths=min(args.paths, 2 * block), seed=w1.SEED)
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(args.rounds):
        for label, _, sc in scenarios:
            times[label].append(_seconds(mcsim.run(sc, seed=w1.SEED)))
    env = dict(os.environ)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"{args.rounds} interleaved rounds of {args.paths:,} paths, one core; load {load}")
    print(
        f"{'row':<28} {'policies':>8} {'best s':>8} {'x W1':>6} {'x W1 / extra':>12} "
        f"{'peak MiB':>9} {'estimate MiB':>12}"
    )
    base = times["W1"]
    for label, o, sc in scenarios:
        ratio = statistics.median(a / b for a, b in zip(times[label], base, strict=True))
        n = n_policies(o) if o else 1
        per_extra = (ratio - 1.0) / (n - 1) if n > 1 else float("nan")
        child = bench_w1._mcsim_child(bench_w1.row_table(o, args.paths, block), 1, 1, env)
        peak = child.get("peak_rss_mib", float("nan"))
        print(
            f"{label:<28} {n:>8} {min(times[label]):8.3f} {ratio:6.2f} {per_extra:12.3f} "
            f"{peak:9.0f} {_estimate_mib(sc):12.0f}"
        )
    if args.no_memory_rows:
        return 0
    paths = args.memory_paths or args.paths
    print(f"memory rows, one run each in a fresh process, {paths:,} paths")
    print(f"{'row':<28} {'policies':>8} {'process s':>9} {'peak MiB':>9} {'estimate MiB':>12}")
    for label, o in MEMORY_ROWS:
        table = bench_w1.row_table(o, paths, block)
        child = bench_w1._mcsim_child(table, 1, 1, env)
        peak = child.get("peak_rss_mib", float("nan"))
        est = _estimate_mib(mcsim.Scenario.from_dict(table))
        print(
            f"{label:<28} {n_policies(o):>8} {child.get('process_s', float('nan')):9.1f} "
            f"{peak:9.0f} {est:12.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
