"""Ratios to W1 measured in interleaved rounds, in one process.

On a shared virtual machine W1 itself can run two or three times slower from one minute to
the next, and rows of different kinds (memory-bound model generation against branchy
tax-lot bookkeeping) slow down by different factors. A ratio to W1 is only meaningful when
both were measured under the same conditions, so this script runs W1 and each row of the
chosen ``rows_<area>.py`` files one after the other, round after round, in one process with
one numba cache, and reports for each row:

- ``best ns``: its fastest round, in nanoseconds per asset-step (simulation time,
  ``result.timings["simulate_s"]``, as in ``bench_w1.py``: plan and summaries excluded);
- ``x W1 (best)``: its fastest round over W1's fastest round;
- ``x W1 per round``: the median and range over rounds of (row time / W1 time in the same
  round), the steadier figure when the machine is noisy.

Usage::

    python benchmarks/bench_rounds.py [--area frictions] [--paths 20000] [--rounds 10]
                                      [--json out.json]

``--area`` may be given several times (default: every ``rows_*.py``); ``--quick`` runs tiny
sizes, a smoke test whose numbers mean nothing. ``bench_w1.py`` gives each row its own
process (its own peak memory); this script gives the ratios.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_w1  # noqa: E402
import w1  # noqa: E402

W1_LABEL = "W1"


def _area(label: str) -> str:
    """The area of a row label made by ``bench_w1.load_extra_rows`` ("... [area]")."""
    return label.rsplit("[", 1)[-1].rstrip("]")


def select_rows(areas: list[str] | None) -> list[tuple[str, dict]]:
    """W1 and the rows of the ``rows_<area>.py`` files named (all of them when None)."""
    rows, skipped = bench_w1.load_extra_rows()
    for reason in skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    if areas:
        known = sorted({_area(label) for label, _ in rows})
        unknown = [a for a in areas if a not in known]
        if unknown:
            raise SystemExit(
                f"bench_rounds: unknown --area {', '.join(unknown)}; choose from "
                f"{', '.join(known)} (the rows_<area>.py files in {HERE})."
            )
        rows = [(label, o) for label, o in rows if _area(label) in areas]
    return [(W1_LABEL, {}), *rows]


def measure(
    rows: list[tuple[str, dict]], n_paths: int, rounds: int, block_size: int, seed: int = 1
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds of each row in each round (a list per label, in round order), and each row's
    asset-steps per path (steps x assets of its plan)."""
    import mcsim

    scenarios = [
        (label, mcsim.Scenario.from_dict(bench_w1.row_table(o, n_paths, block_size)))
        for label, o in rows
    ]
    # Compile (or load from the cache) every kernel the rows use before timing anything.
    per_path = {}
    for label, scenario in scenarios:
        res = mcsim.run(scenario, n_paths=min(n_paths, 2 * block_size), n_jobs=1, seed=seed)
        per_path[label] = res.plan.n_steps * res.plan.n_assets
    times: dict[str, list[float]] = {label: [] for label, _ in scenarios}
    for r in range(rounds):
        for label, scenario in scenarios:
            result = mcsim.run(scenario, n_paths=n_paths, n_jobs=1, seed=seed)
            times[label].append(result.timings["simulate_s"])
            del result
        print(f"round {r + 1}/{rounds}: W1 {times[W1_LABEL][-1]:.2f} s", file=sys.stderr)
    return times, per_path


def summarise(
    times: dict[str, list[float]], n_paths: int, per_path: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Per row: best seconds and ns per asset-step, best ratio, per-round ratio median and
    range (ratios to W1 of the same round). ``per_path``: asset-steps per path of each row
    (W1's 360 x 10 for a row it does not name)."""
    per_path = per_path or {}
    base = times[W1_LABEL]
    out = []
    for label, secs in times.items():
        ratios = [a / b for a, b in zip(secs, base, strict=True)]
        asset_steps = n_paths * per_path.get(label, w1.N_STEPS * w1.N_ASSETS)
        out.append(
            {
                "label": label,
                "best_s": min(secs),
                "best_ns_per_asset_step": min(secs) / asset_steps * 1e9,
                "x_w1_best": min(secs) / min(base),
                "x_w1_median": statistics.median(ratios),
                "x_w1_min": min(ratios),
                "x_w1_max": max(ratios),
                "seconds": secs,
            }
        )
    return out


def print_table(summary: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    print(
        f"{meta['rounds']} interleaved rounds of {meta['paths']:,} paths, one core, {meta['date']}"
    )
    width = max(len(r["label"]) for r in summary)
    print(f"{'row':<{width}}  {'best ns':>8}  {'x W1 (best)':>11}  x W1 per round: median, range")
    for r in summary:
        print(
            f"{r['label']:<{width}}  {r['best_ns_per_asset_step']:8.2f}  {r['x_w1_best']:11.2f}"
            f"  {r['x_w1_median']:.2f}, {r['x_w1_min']:.2f}-{r['x_w1_max']:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--area", action="append", help="rows_<area>.py to measure (repeatable)")
    parser.add_argument("--paths", type=int, default=20_000, help="paths per run")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--block-size", type=int, default=w1.BLOCK_SIZE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.paths, args.rounds, args.block_size = 40, 2, 20
    if args.paths < 1 or args.rounds < 1 or args.block_size < 1:
        parser.error("--paths, --rounds and --block-size must be at least 1")
    rows = select_rows(args.area)
    times, per_path = measure(rows, args.paths, args.rounds, args.block_size)
    meta = {
        "paths": args.paths,
        "rounds": args.rounds,
        "block_size": args.block_size,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    summary = summarise(times, args.paths, per_path)
    print_table(summary, meta)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
