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

A cold compile takes tens of seconds per scenario, so ``--only`` (repeatable) picks some.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
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


def measure(name: str, n_paths: int, exe: Path = _MCSIM) -> dict[str, float]:
    """Cold, warm and second warm wall seconds of scenario ``name`` (fresh caches) with the
    ``mcsim`` executable ``exe``."""
    scratch = Path(tempfile.mkdtemp(prefix="mcsim-compile-"))
    try:
        env = dict(
            os.environ,
            NUMBA_CACHE_DIR=str(scratch / "numba"),
            MCSIM_CACHE_DIR=str(scratch / "mcsim"),
        )
        n = max(n_paths, _MIN_PATHS.get(name, 0))
        cold = _mcsim_run(exe, name, n, env, scratch / "out")
        warm = _mcsim_run(exe, name, n, env, scratch / "out")
        again = _mcsim_run(exe, name, n, env, scratch / "out")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"paths": n, "cold_s": cold, "warm_s": warm, "warm_again_s": again}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="a bundled scenario (repeatable)")
    parser.add_argument("--paths", type=int, default=100, help="paths per run (100)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument(
        "--baseline", type=Path, help="another install's mcsim executable, timed alternately"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds per scenario (1)")
    args = parser.parse_args(argv)
    names = args.only or bundled_scenarios()
    builds = [("this", _MCSIM)] + ([("baseline", args.baseline)] if args.baseline else [])
    rows: dict[str, list] = {}
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
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
