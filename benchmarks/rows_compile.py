"""Cold compile of each bundled scenario: the first `mcsim run` on an empty cache.

For each scenario, in fresh processes one after the other:

- **cold**: `mcsim run NAME --paths N --no-report` with a new, empty ``NUMBA_CACHE_DIR`` and
  ``MCSIM_CACHE_DIR`` (no compiled kernel, no custom-rule loop): wall time of the process;
- **warm**: the same command again with the cache the cold process filled;
- **warm again**: a third time, to show the second warm run is as fast as the first (a
  custom rule's loop loaded from the cache, not recompiled).

The ratio cold / warm is the goal's "at most 8x a warm run". Run under the shared lock, and
state the load average printed with the table::

    python benchmarks/rows_compile.py --only default_60_40
    python benchmarks/rows_compile.py --json compile.json          # every bundled scenario

``--baseline PATH`` also times another install's ``mcsim`` executable (for example a
worktree of an older commit with its own venv) in the same way, interleaved with this one
scenario by scenario, so both are measured under the same load (``--rounds`` repeats that).

``--profile`` instead runs ``mcsim.run`` in a new process on an empty cache (each build's
Python, next to its ``mcsim``) and prints where the cold compile goes: the run's seconds,
peak memory, the kernels compiled by inclusive seconds and Numba's pass times of each step
loop compiled (inlining, typing with the callees it compiles, lowering)::

    python benchmarks/rows_compile.py --profile --only default_60_40 --baseline .../bin/mcsim

A cold compile takes tens of seconds per scenario, so ``--only`` (repeatable) picks some.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mcsim.scenarios import bundled_scenarios

# No W1 rows for bench_w1.py / bench_rounds.py (they load ``ROWS`` from every rows_*.py): these
# rows time whole processes on fresh caches, which the in-process rounds cannot.
ROWS: list[tuple[str, dict]] = []

# Scenarios that choose a winner on half the blocks need at least two blocks of paths.
_MIN_PATHS = {"choose_bands": 1000}


_MCSIM = Path(sys.executable).with_name("mcsim")


def _mcsim_run(exe: Path, name: str, n_paths: int, env: dict[str, str], out: Path) -> float:
    """Wall seconds of one `mcsim run` process of executable ``exe`` (raises when it fails)."""
    cmd = [str(exe), "run", name, "--paths", str(n_paths)]
    cmd += ["--no-report", "--no-progress", "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name}: {' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return wall


@contextlib.contextmanager
def _empty_caches() -> Iterator[tuple[Path, dict[str, str]]]:
    """A scratch folder, removed after, and an environment whose numba and mcsim caches
    are empty folders in it."""
    scratch = Path(tempfile.mkdtemp(prefix="mcsim-compile-"))
    try:
        yield (
            scratch,
            dict(
                os.environ,
                NUMBA_CACHE_DIR=str(scratch / "numba"),
                MCSIM_CACHE_DIR=str(scratch / "mcsim"),
            ),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(name: str, n_paths: int, exe: Path = _MCSIM) -> dict[str, float]:
    """Cold, warm and second warm wall seconds of scenario ``name`` (fresh caches) with the
    ``mcsim`` executable ``exe``."""
    with _empty_caches() as (scratch, env):
        n = max(n_paths, _MIN_PATHS.get(name, 0))
        cold = _mcsim_run(exe, name, n, env, scratch / "out")
        warm = _mcsim_run(exe, name, n, env, scratch / "out")
        again = _mcsim_run(exe, name, n, env, scratch / "out")
    return {"paths": n, "cold_s": cold, "warm_s": warm, "warm_again_s": again}


# Run in a new process by --profile: a cold ``mcsim.run`` with Numba's compile events.
_PROFILE = """
import os, resource, sys, time
from numba.core import event
import mcsim
from mcsim.kernels import _loops
rec = event.RecordingListener()
event.register("numba:compile", rec)
scenario = mcsim.Scenario.from_toml(sys.argv[1])
t0 = time.perf_counter()
mcsim.run(scenario, n_paths=int(sys.argv[2]), seed=1, progress=False)
run_s = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
starts, rows = {}, []
for ts, ev in rec.buffer:
    key = id(ev.data["dispatcher"]), str(ev.data["args"])
    if ev.is_start:
        starts[key] = ts
    else:
        f = ev.data["dispatcher"].py_func
        rows.append((ts - starts.pop(key), f"{f.__module__}.{f.__name__}"))
print(f"run {run_s:.2f} s, peak memory {rss:.0f} MiB, {len(rows)} kernels compiled")
for dt, name in sorted(rows, reverse=True)[:8]:
    print(f"  {dt:6.2f} s  {name}")
for loop in _loops.LOOPS.values():
    for cres in loop.overloads.values():
        for passes in cres.metadata["pipeline_times"].values():
            t = {p.split("_", 1)[1]: v.init + v.run + v.finalize for p, v in passes.items()}
            top = sorted(t.items(), key=lambda kv: -kv[1])[:4]
            print(f"  {loop.__name__}: " + ", ".join(f"{p} {v:.2f} s" for p, v in top))
"""


def profile(name: str, n_paths: int, exe: Path = _MCSIM) -> str:
    """The in-process cold compile profile of scenario ``name`` (see the module docstring)
    with the Python next to the ``mcsim`` executable ``exe``, as printed."""
    with _empty_caches() as (scratch, env):
        python = exe.with_name("python")
        cmd = [str(python), "-c", _PROFILE, name, str(n_paths)]
        # From the scratch folder: in a source tree, ``import mcsim`` could find the tree.
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=scratch)
        if done.returncode != 0:
            raise RuntimeError(f"{name}: profile failed: {done.stderr.strip()[-400:]}")
        return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="a bundled scenario (repeatable)")
    parser.add_argument("--paths", type=int, default=100, help="paths per run (100)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument(
        "--baseline", type=Path, help="another install's mcsim executable, timed alternately"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds per scenario (1)")
    parser.add_argument(
        "--profile", action="store_true", help="where the cold compile goes, in-process"
    )
    args = parser.parse_args(argv)
    names = args.only or bundled_scenarios()
    builds = [("this", _MCSIM)] + ([("baseline", args.baseline)] if args.baseline else [])
    rows: dict[str, list] = {}
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    if args.profile:
        for name in names:
            for round_ in range(args.rounds):
                for build, exe in builds if round_ % 2 == 0 else builds[::-1]:
                    print(f"{name}, {build}, {args.paths:,} paths:", flush=True)
                    print(profile(name, args.paths, exe), end="", flush=True)
        print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
        return 0
    print("| scenario | build | paths | cold (s) | warm (s) | warm again (s) | cold / warm |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        for round_ in range(args.rounds):
            # Alternate which build goes first, so neither always meets the same load.
            for build, exe in builds if round_ % 2 == 0 else builds[::-1]:
                r = measure(name, args.paths, exe)
                r["load_after"] = Path("/proc/loadavg").read_text().split()[0]
                rows.setdefault(name, []).append({"build": build, **r})
                print(
                    f"| {name} | {build} | {r['paths']:,} | {r['cold_s']:.1f} | "
                    f"{r['warm_s']:.2f} | {r['warm_again_s']:.2f} | "
                    f"{r['cold_s'] / r['warm_s']:.1f}x |",
                    flush=True,
                )
    load = Path("/proc/loadavg").read_text().strip()
    print(f"load average after: {load}")
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
