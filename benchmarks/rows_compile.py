"""Cold compile of each bundled scenario: the first `mcsim run` on an empty cache.

For each scenario, in fresh processes one after the other:

- **cold**: `mcsim run NAME --paths N --no-report` with a new, empty ``NUMBA_CACHE_DIR`` and
  ``MCSIM_CACHE_DIR`` (no compiled kernel, no custom-rule loop): wall time of the process;
- **warm**: the same command again with the cache the cold process filled;
- **warm again**: a third time, to show the second warm run is as fast as the first (a
  custom rule's loop loaded from the cache, not recompiled).

The ratio cold / warm is the goal's "at most 8x a warm run". Run under the shared lock, and
state the load average printed with the table::

    flock /work/notes/bench.lock python benchmarks/rows_compile.py --only default_60_40
    python benchmarks/rows_compile.py --json compile.json          # every bundled scenario

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


def _mcsim_run(name: str, n_paths: int, env: dict[str, str], out: Path) -> float:
    """Wall seconds of one `mcsim run` process (raises when it fails)."""
    cmd = [str(Path(sys.executable).with_name("mcsim")), "run", name, "--paths", str(n_paths)]
    cmd += ["--no-report", "--no-progress", "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name}: {' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return wall


def measure(name: str, n_paths: int) -> dict[str, float]:
    """Cold, warm and second warm wall seconds of scenario ``name`` (fresh caches)."""
    scratch = Path(tempfile.mkdtemp(prefix="mcsim-compile-"))
    try:
        env = dict(
            os.environ,
            NUMBA_CACHE_DIR=str(scratch / "numba"),
            MCSIM_CACHE_DIR=str(scratch / "mcsim"),
        )
        n = max(n_paths, _MIN_PATHS.get(name, 0))
        cold = _mcsim_run(name, n, env, scratch / "out")
        warm = _mcsim_run(name, n, env, scratch / "out")
        again = _mcsim_run(name, n, env, scratch / "out")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"paths": n, "cold_s": cold, "warm_s": warm, "warm_again_s": again}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="a bundled scenario (repeatable)")
    parser.add_argument("--paths", type=int, default=100, help="paths per run (100)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    names = args.only or bundled_scenarios()
    rows = {}
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    print("| scenario | paths | cold (s) | warm (s) | warm again (s) | cold / warm |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        r = measure(name, args.paths)
        rows[name] = r
        print(
            f"| {name} | {r['paths']:,} | {r['cold_s']:.1f} | {r['warm_s']:.2f} | "
            f"{r['warm_again_s']:.2f} | {r['cold_s'] / r['warm_s']:.1f}x |",
            flush=True,
        )
    load = Path("/proc/loadavg").read_text().strip()
    print(f"load average after: {load}")
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
