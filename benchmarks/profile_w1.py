"""Where W1's nanoseconds go: the floor, the model pass, the policy pass and W1, side by side.

Each round times, one after the other in this process (one numba cache, one core):

- ``floor <bit generator>``: the standard normals W1 needs (paths x 360 x 10) drawn one by
  one in a numba loop into a 1 MiB buffer (``peers.normals_floor``'s kernel), from a
  ``numpy.random.Generator`` on each bit generator named by ``--bit-generator``;
- ``model pass``: the Gaussian model filling every chunk of every block, exactly as the
  engine does (``RunPlan.fill_chunk``: normals, Cholesky product, ``expm1``, store);
- ``policy pass``: the W1 policy kernel alone, run on one chunk of returns drawn once before
  timing, over as many paths as W1 (the same work as in W1, on returns that may still be in
  cache);
- ``W1``: ``mcsim.run(scenario, n_jobs=1)``'s simulate time, as ``bench_w1.py`` reports it.

Rounds are interleaved so a busy machine slows every row of a round alike; the table gives
each row's best round in ns per asset-step and its per-round ratio to the PCG64 floor.

Usage::

    python benchmarks/profile_w1.py [--paths 20000] [--rounds 5]
                                                                [--bit-generator sfc64 ...]

``--quick`` runs tiny sizes, a smoke test whose numbers mean nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import peers  # noqa: E402
import w1  # noqa: E402

BIT_GENERATORS = {
    "pcg64": np.random.PCG64,
    "pcg64dxsm": np.random.PCG64DXSM,
    "sfc64": np.random.SFC64,
    "philox": np.random.Philox,
}


def floor_row(n_paths: int, bit_generator: str) -> Callable[[], float]:
    """The floor on ``bit_generator``: seconds of one call (compiled before)."""
    kernel = peers._floor_kernel()
    per_path = w1.N_STEPS * w1.N_ASSETS
    buf = np.empty(max(per_path, peers.FLOOR_BUFFER_BYTES // 8))
    make = BIT_GENERATORS[bit_generator]
    kernel(np.random.Generator(make(1)), 2, per_path, buf)

    def run() -> float:
        rng = np.random.Generator(make(w1.SEED))
        t0 = time.perf_counter()
        kernel(rng, n_paths, per_path, buf)
        return time.perf_counter() - t0

    return run


def _plan(n_paths: int, block_size: int):
    import mcsim
    from mcsim.plan import prepare

    scenario = mcsim.Scenario.from_dict(w1.w1_table(n_paths, block_size=block_size))
    return scenario, prepare(scenario, seed=w1.SEED)


def model_row(n_paths: int, block_size: int) -> Callable[[], float]:
    """Every chunk of every block filled by the model, as the engine's block loop does."""
    _, plan = _plan(n_paths, block_size)
    chunk = plan.chunk_size
    buf = np.empty((chunk, plan.n_steps, len(plan.series_names)))
    n_blocks = -(-n_paths // block_size)

    def run() -> float:
        t0 = time.perf_counter()
        for b in range(n_blocks):
            start, stop = plan.block_range(b)
            rng = plan.block_rng(b)
            for c0 in range(0, stop - start, chunk):
                m = min(chunk, stop - start - c0)
                plan.fill_chunk(rng, start + c0, buf[:m])
        return time.perf_counter() - t0

    run()
    return run


def policy_row(n_paths: int, block_size: int) -> Callable[[], float]:
    """The policy kernel alone on one precomputed chunk, once per chunk of the run."""
    from mcsim.kernels import layout

    from mcsim.engine import _run_policy
    from mcsim.sketch import HIST_BINS

    _, plan = _plan(n_paths, block_size)
    chunk = plan.chunk_size
    returns = np.empty((chunk, plan.n_steps, plan.n_assets))
    plan.fill_chunk(plan.block_rng(0), 0, returns)
    inflation = np.zeros(returns.shape[:2])
    noise = np.zeros(chunk, dtype=np.uint64)
    metrics = np.empty((chunk, layout.N_METRICS))
    hist = np.zeros((plan.sketch_rows, HIST_BINS), dtype=np.int64)
    wealth = np.zeros((0, plan.n_steps + 1))
    pol = plan.policies[0]
    full = n_paths // chunk
    rest = n_paths - full * chunk

    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(full):
            _run_policy(plan, pol, returns, inflation, noise, metrics, hist, wealth)
        if rest:
            _run_policy(
                plan, pol, returns[:rest], inflation[:rest], noise[:rest], metrics[:rest], hist,
                wealth,
            )  # fmt: skip
        return time.perf_counter() - t0

    run()
    return run


def w1_row(n_paths: int, block_size: int) -> Callable[[], float]:
    """W1 through ``mcsim.run`` on one core: its simulate time."""
    import mcsim

    scenario, _ = _plan(n_paths, block_size)
    mcsim.run(scenario, n_paths=min(n_paths, 2 * block_size), n_jobs=1, seed=w1.SEED)

    def run() -> float:
        res = mcsim.run(scenario, n_jobs=1, seed=w1.SEED)
        return float(res.timings["simulate_s"])

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--block-size", type=int, default=w1.BLOCK_SIZE)
    parser.add_argument(
        "--bit-generator",
        action="append",
        choices=sorted(BIT_GENERATORS),
        help="floor rows to measure (repeatable; default: all four)",
    )
    parser.add_argument(
        "--only", action="append", help="measure only these rows (floor, model, policy, W1)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.paths, args.rounds, args.block_size = 40, 1, 20
    if args.paths < 1 or args.rounds < 1 or args.block_size < 1:
        parser.error("--paths, --rounds and --block-size must be at least 1")
    n, bs = args.paths, args.block_size
    gens = args.bit_generator or list(BIT_GENERATORS)
    rows: dict[str, Callable[[], float]] = {}
    want = set(args.only or ["floor", "model", "policy", "W1"])
    if "floor" in want:
        for g in gens:
            rows[f"floor {g}"] = floor_row(n, g)
    if "model" in want:
        rows["model pass (normals, Cholesky, expm1, store)"] = model_row(n, bs)
    if "policy" in want:
        rows["policy pass (precomputed chunk)"] = policy_row(n, bs)
    if "W1" in want:
        rows["W1 (mcsim.run, simulate_s)"] = w1_row(n, bs)
    times: dict[str, list[float]] = {k: [] for k in rows}
    load = [open("/proc/loadavg").read().split()[:3]]
    for r in range(args.rounds):
        for label, fn in rows.items():
            times[label].append(fn())
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    load.append(open("/proc/loadavg").read().split()[:3])
    asset_steps = n * w1.N_STEPS * w1.N_ASSETS
    base_label = "floor pcg64" if "floor pcg64" in times else None
    print(
        f"{args.rounds} interleaved rounds, {n:,} paths, block {bs:,}, one core; load average "
        f"{' '.join(load[0])} before, {' '.join(load[1])} after"
    )
    width = max(len(k) for k in times)
    print(f"{'row':<{width}}  {'best ns':>8}  {'median ns':>9}  x floor pcg64 per round")
    for label, secs in times.items():
        best = min(secs) / asset_steps * 1e9
        med = statistics.median(secs) / asset_steps * 1e9
        ratio = ""
        if base_label:
            rs = [a / b for a, b in zip(secs, times[base_label], strict=True)]
            ratio = f"{statistics.median(rs):.2f} ({min(rs):.2f}-{max(rs):.2f})"
        print(f"{label:<{width}}  {best:8.2f}  {med:9.2f}  {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
