"""Peak memory of `mcsim run` by paths: the per-path table streamed to disk or held in memory.

For each number of paths, in a fresh process each: `mcsim run SCENARIO --paths N --no-report`
under ``/usr/bin/time -v``, with the per-path table streamed (``--stream``) and, where asked,
held in memory (``--no-stream``). Prints the peak resident set size (the kernel's
"Maximum resident set size"), the wall time, the estimate of `mcsim validate` for the same
mode (the memory baseline measured in this process, which has imported what a run imports
and prepared the scenario, plus the run's estimate), and the bytes of ``paths.parquet``
against the disk estimate of the table, with the load average before and after. Peak memory
of a streamed run should be flat in paths but for one metric of every policy read back at
once (8 bytes per policy and path)::

    python benchmarks/rows_memory.py --paths 100000 1000000
    python benchmarks/rows_memory.py --paths 1000000 --in-memory --json memory.json
    python benchmarks/rows_memory.py --rounds 3 --paths 200000   # time, in one process

With ``--rounds R`` it times instead, in this process: ``mcsim.run(..., out=..., report=False)``
streamed and in memory, alternating, R rounds per number of paths (after a warm-up run), and
prints each round's ratio streamed / in memory (the whole run: blocks, checkpoint, save).

Each run writes its folder under a temporary directory, removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mcsim
from mcsim import engine
from mcsim.scenarios import scenario_path

# No W1 rows for bench_w1.py / bench_rounds.py (they load ``ROWS`` from every rows_*.py):
# these rows measure whole processes' memory, which the in-process rounds cannot.
ROWS: list[tuple[str, dict]] = []

_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _tree_bytes(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _estimates(name: str, n_paths: int, stream: bool) -> dict:
    """What `mcsim validate` states: the baseline, the run's memory, the table's disk bytes."""
    scenario = mcsim.Scenario.from_toml(scenario_path(name)).replace(n_paths=n_paths)
    plan = engine.prepare(scenario)
    baseline = engine.process_memory() or 0
    run = engine.estimate_memory(plan, 1, stream=stream)
    return {
        "baseline_mib": baseline / 2**20,
        "run_estimate_mib": run / 2**20,
        "estimate_mib": (baseline + run) / 2**20,
        "table_estimate_mib": engine.table_file_bytes(plan) / 2**20,
    }


def measure(name: str, n_paths: int, stream: bool, jobs: int) -> dict:
    """One `mcsim run` process: peak RSS, wall seconds, bytes written."""
    scratch = Path(tempfile.mkdtemp(prefix="mcsim-memory-"))
    out = scratch / "out"
    mcsim_bin = str(Path(sys.executable).with_name("mcsim"))
    cmd = ["/usr/bin/time", "-v", mcsim_bin, "run", name, "--paths", str(n_paths)]
    cmd += ["--no-report", "--no-progress", "--jobs", str(jobs), "--out", str(out)]
    cmd += ["--stream" if stream else "--no-stream"]
    try:
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-600:]}")
        match = _RSS.search(done.stderr)
        if match is None:
            raise RuntimeError("no 'Maximum resident set size' in the output of /usr/bin/time")
        return {
            "scenario": name,
            "n_paths": n_paths,
            "mode": "streamed" if stream else "in memory",
            "jobs": jobs,
            "peak_rss_mib": int(match.group(1)) / 1024,
            **_estimates(name, n_paths, stream),
            "wall_s": wall,
            "paths_parquet_mib": _tree_bytes(out / "paths.parquet") / 2**20,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def time_rounds(name: str, n_paths: int, rounds: int) -> list[dict]:
    """Wall seconds of whole runs into a folder, streamed and in memory, interleaved."""
    scenario = mcsim.Scenario.from_toml(scenario_path(name)).replace(n_paths=n_paths)
    mcsim.run(scenario, n_paths=min(n_paths, 2_000))  # compile / load the kernels first
    out = []
    for r in range(rounds):
        row = {"scenario": name, "n_paths": n_paths, "round": r}
        for stream in (True, False):
            scratch = Path(tempfile.mkdtemp(prefix="mcsim-memory-"))
            try:
                start = time.perf_counter()
                mcsim.run(scenario, out=scratch / "out", report=False, stream=stream)
                row["streamed_s" if stream else "in_memory_s"] = time.perf_counter() - start
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        row["ratio"] = row["streamed_s"] / row["in_memory_s"]
        print(
            f"{name:>14} {n_paths:>11,} paths  round {r}  streamed {row['streamed_s']:7.2f} s  "
            f"in memory {row['in_memory_s']:7.2f} s  ratio {row['ratio']:.3f}",
            flush=True,
        )
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="default_60_40")
    ap.add_argument("--paths", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--in-memory", action="store_true", help="also run each with --no-stream")
    ap.add_argument("--only-in-memory", action="store_true", help="run each with --no-stream only")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--rounds", type=int, help="time R interleaved rounds in this process")
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args(argv)
    rows = []
    load_before = _loadavg()
    for n in args.paths if args.rounds else ():
        rows += time_rounds(args.scenario, n, args.rounds)
    for n in () if args.rounds else args.paths:
        modes = (False,) if args.only_in_memory else (True, False) if args.in_memory else (True,)
        for stream in modes:
            row = measure(args.scenario, n, stream, args.jobs)
            rows.append(row)
            ratio = row["peak_rss_mib"] / row["estimate_mib"]
            print(
                f"{row['scenario']:>14} {n:>11,} paths  {row['mode']:>9}  "
                f"peak RSS {row['peak_rss_mib']:8,.0f} MiB  (estimate {row['estimate_mib']:7,.0f}"
                f" = baseline {row['baseline_mib']:,.0f} + run {row['run_estimate_mib']:,.0f};"
                f" measured / estimate {ratio:.2f})  {row['wall_s']:7.1f} s  paths.parquet "
                f"{row['paths_parquet_mib']:7,.0f} MiB (estimate {row['table_estimate_mib']:,.0f})",
                flush=True,
            )
    load_after = _loadavg()
    print(f"load average before {load_before}, after {load_after}")
    if args.json:
        info = {"rows": rows, "loadavg_before": load_before, "loadavg_after": load_after}
        Path(args.json).write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
