"""The W1 benchmark table: mcsim against the random-number floor, plain NumPy and vectorbt.

W1 = 10 assets, monthly steps over 30 years (360 steps), quarterly calendar rebalancing to
equal weights, 10 bps proportional costs (see ``benchmarks/w1.py``). Every row runs in a
fresh subprocess, so its peak memory (RSS high-water mark) is its own; every ratio is
measured side by side in the same run. Rows from ``benchmarks/rows_*.py`` (``ROWS``: a list
of ``(label, overrides)``) are merged into the W1 table with ``w1.merge_overrides``.

Usage::

    python benchmarks/bench_w1.py [--paths 100000] [--million] [--quick] [--json out.json]
                                  [--no-vectorbt] [--repeat 3] [--vbt-python PATH]

``--quick`` runs tiny sizes (a smoke test of every row, well under a minute); the numbers
it prints mean nothing. See ``docs/performance.md`` for what each column means.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import w1  # noqa: E402  (needs HERE on sys.path when imported from elsewhere)

GOALS = {
    "floor": 2.5,  # W1 one core within this many times the random-number floor
    "two_workers": 1.7,  # n_jobs=2 throughput over one core, at least
    "numpy": 2.0,  # faster than plain NumPy by at least
    "vectorbt": 30.0,  # faster than vectorbt by at least
    "warm_start_s": 5.0,  # a tiny run in a new process with a warm cache, at most
    "million_peak_mib": 1024.0,  # peak memory of the 1,000,000-path row, at most
}
MILLION = 1_000_000
VBT_VENV_PYTHON = "/tmp/vbt-venv/bin/python"


# --- child processes ------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one mcsim measurement in this (fresh) process; see :func:`_run_child`."""
    rss_start = _peak_rss_mib()
    t0 = time.perf_counter()
    import numba
    import numpy as np

    import mcsim

    import_s = time.perf_counter() - t0
    rss_import = _peak_rss_mib()
    try:
        scenario = mcsim.Scenario.from_dict(spec["table"])
    except Exception as e:  # a row that does not build is reported, not fatal
        return {"error": f"{type(e).__name__}: {e}"}
    runs = []
    res = None
    for _ in range(int(spec.get("repeat", 1))):
        res = None  # drop the previous result first: peak memory is one run's
        t1 = time.perf_counter()
        try:
            res = mcsim.run(scenario, n_jobs=int(spec.get("n_jobs", 1)), seed=w1.SEED)
        except Exception as e:
            return {"error": f"{type(e).__name__}: {e}"}
        wall = time.perf_counter() - t1
        runs.append({"wall_s": wall, **{k: float(v) for k, v in res.timings.items()}})
    assert res is not None
    terminal = res.metric("terminal_wealth").iloc[:, 0].to_numpy()
    return {
        "import_s": import_s,
        "runs": runs,
        "seconds": min(r["simulate_s"] for r in runs),
        "compile_s": runs[0]["compile_s"],
        "n_paths": int(scenario.simulation.n_paths),
        "n_steps": int(res.plan.n_steps),
        "n_assets": int(res.plan.n_assets),
        "n_policies": len(res.plan.policies),
        "block_size": int(scenario.simulation.block_size),
        "n_jobs": int(res.timings["n_jobs"]),
        "mean_terminal_wealth": float(np.mean(terminal)),
        "start_rss_mib": rss_start,
        "import_rss_mib": rss_import,
        "peak_rss_mib": _peak_rss_mib(),
        "versions": {
            "python": platform.python_version(),
            "mcsim": mcsim.__version__,
            "numpy": np.__version__,
            "numba": numba.__version__,
        },
    }


def _run_child(
    argv: list[str], *, stdin: str | None = None, env: dict[str, str], python: str | None = None
) -> tuple[dict[str, Any], float]:
    """Run a child process that prints one JSON line; returns (its result, its wall seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [python or sys.executable, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=str(HERE),
        check=False,
    )
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}, wall
    return json.loads(lines[-1]), wall


def _mcsim_child(table: dict, n_jobs: int, repeat: int, env: dict[str, str]) -> dict[str, Any]:
    spec = {"table": table, "n_jobs": n_jobs, "repeat": repeat}
    argv = [str(HERE / "bench_w1.py"), "--_worker"]
    res, wall = _run_child(argv, stdin=json.dumps(spec), env=env)
    res["process_s"] = wall
    return res


def _mcsim_child_batch(specs: list[dict], env: dict[str, str]) -> list[dict[str, Any]]:
    """Several mcsim measurements in one child process (quick mode)."""
    argv = [str(HERE / "bench_w1.py"), "--_worker"]
    res, _ = _run_child(argv, stdin=json.dumps({"batch": specs}), env=env)
    if "error" in res:
        return [res] * len(specs)
    return res["batch"]


def _peer_child(
    peer: str, n_paths: int, repeat: int, env: dict[str, str], python: str | None = None
) -> dict[str, Any]:
    argv = [str(HERE / "peers.py"), peer, "--paths", str(n_paths), "--repeat", str(repeat)]
    res, wall = _run_child(argv, env=env, python=python)
    res["process_s"] = wall
    return res


# --- the machine ----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _find_vectorbt_python(explicit: str | None) -> tuple[str | None, str]:
    """An interpreter that imports vectorbt, or None and the reason."""
    candidates = [explicit, os.environ.get("MCSIM_VBT_PYTHON"), sys.executable, VBT_VENV_PYTHON]
    tried = []
    for py in dict.fromkeys(c for c in candidates if c):
        if not (Path(py).exists() or shutil.which(py)):
            tried.append(f"{py}: not found")
            continue
        try:
            proc = subprocess.run(
                [py, "-c", "import vectorbt"], capture_output=True, text=True, timeout=300
            )
        except subprocess.TimeoutExpired:
            tried.append(f"{py}: import timed out")
            continue
        if proc.returncode == 0:
            return py, ""
        tried.append(f"{py}: cannot import vectorbt")
    return None, "; ".join(tried)


def _sources_stamp() -> float:
    """Latest modification time of the engine's sources (a changed source voids numba's cache)."""
    root = HERE.parent
    files = [*root.glob("kernels/*.py"), *root.glob("mcsim/**/*.py")]
    return max((f.stat().st_mtime for f in files), default=0.0)


# --- rows -----------------------------------------------------------------------------------


def load_extra_rows(folder: Path = HERE) -> tuple[list[tuple[str, dict]], list[str]]:
    """Rows of every ``rows_*.py`` in ``folder``, and the reasons for those skipped."""
    rows: list[tuple[str, dict]] = []
    skipped: list[str] = []
    for path in sorted(Path(folder).glob("rows_*.py")):
        try:
            spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            entries = module.ROWS
        except Exception as e:
            skipped.append(f"{path.name}: cannot load ({type(e).__name__}: {e})")
            continue
        for k, entry in enumerate(entries):
            ok = (
                isinstance(entry, (tuple, list))
                and len(entry) == 2
                and isinstance(entry[0], str)
                and isinstance(entry[1], dict)
            )
            if not ok:
                skipped.append(f"{path.name}: ROWS[{k}] is not a (label, dict) pair")
                continue
            rows.append((f"{entry[0]} [{path.stem[5:]}]", entry[1]))
    return rows, skipped


def row_table(overrides: dict, n_paths: int, block_size: int) -> dict:
    """The W1 table with a row's overrides, at the chosen number of paths."""
    table = w1.merge_overrides(w1.w1_table(n_paths, block_size=block_size), overrides)
    sim = dict(table.get("simulation", {}))
    sim["n_paths"] = n_paths
    table["simulation"] = sim
    return table


# --- the table ------------------------------------------------------------------------------


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _derive(row: dict[str, Any], base: dict[str, Any] | None) -> None:
    """Add paths/s, ns per asset-step and the ratio to the W1 one-core row."""
    s, n = row.get("seconds"), row.get("n_paths")
    if s is None or not n:
        return
    steps = row.get("n_steps", w1.N_STEPS)
    assets = row.get("n_assets", w1.N_ASSETS)
    row["paths_per_s"] = n / s
    row["ns_per_asset_step"] = s / (n * steps * assets) * 1e9
    if base and base.get("seconds"):
        row["x_w1"] = (s / n) / (base["seconds"] / base["n_paths"])


def print_table(rows: list[dict[str, Any]], startup: dict[str, Any], meta: dict[str, Any]) -> None:
    width = max(44, *(len(r["label"]) for r in rows))
    header = (
        f"{'row':<{width}} {'paths':>9} {'jobs':>4} {'seconds':>9} {'paths/s':>10} "
        f"{'ns/a-step':>9} {'peak MiB':>8} {'x W1-1':>7}  goal"
    )
    print()
    print(
        f"W1: {w1.N_ASSETS} assets x {w1.N_STEPS} monthly steps, calendar every "
        f"{w1.REBALANCE_EVERY} steps, {w1.PROPORTIONAL_BPS:g} bps; block_size "
        f"{meta['block_size']:,}; seconds = simulate time (compile excluded), best of "
        f"{meta['repeat']} (W1 rows), {meta['peer_repeat']} (peers), {meta['rows_repeat']} "
        "(other rows)"
    )
    print(
        f"{meta['cpu_model']} ({meta['cpu_count']} CPUs); load average "
        f"{meta['load_before']} before, {meta['load_after']} after; {meta['versions']}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['label']:<{width}} skipped: {r['error']}")
            continue
        print(
            f"{r['label']:<{width}} {r['n_paths']:>9,} {r.get('n_jobs', 1):>4} "
            f"{_fmt(r.get('seconds'), '9.3f')} {_fmt(r.get('paths_per_s'), '10,.0f')} "
            f"{_fmt(r.get('ns_per_asset_step'), '9.2f')} {_fmt(r.get('peak_rss_mib'), '8.0f')} "
            f"{_fmt(r.get('x_w1'), '7.2f')}  {r.get('goal', '')}"
        )
        if r.get("note"):
            print(f"{'':<{width + 2}}({r['note']})")
    print()
    print("Start-up:")
    for key, text in (
        ("cold_compile", "cold compile (fresh NUMBA_CACHE_DIR, first run minus simulate)"),
        ("warm_start", "warm start (new process, same cache: import + tiny run, wall)"),
        ("steady_state", "steady state (W1 one core, best of N simulate)"),
    ):
        v = startup.get(key)
        if isinstance(v, dict) and "error" in v:
            print(f"  {text}: failed: {v['error']}")
        elif v is not None:
            parts = [f"  {text}: {v:.2f} s"]
            if key == "cold_compile" and "cold_import_s" in startup:
                parts.append(f"(import {startup['cold_import_s']:.2f} s)")
            if key == "warm_start" and "warm_import_s" in startup:
                parts.append(
                    f"(import {startup['warm_import_s']:.2f} s, load kernels "
                    f"{startup['warm_compile_s']:.2f} s)"
                )
            parts.append(startup.get(key + "_goal", ""))
            print(" ".join(p for p in parts if p))
    if "sources_changed" in startup:
        print(f"  WARNING: {startup['sources_changed']}")
    for reason in meta.get("skipped", []):
        print(f"skipped: {reason}")


def _goal(measured: float | None, target: float, higher: bool, text: str) -> str:
    if measured is None:
        return f"{text}: not measured"
    ok = measured >= target if higher else measured <= target
    sign = ">=" if higher else "<="
    lead = f"{text} {measured:.2f} " if text else ""
    return f"{lead}(goal {sign} {target:g}) {'ok' if ok else 'MISSED'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=100_000, help="paths of the W1 rows")
    parser.add_argument("--million", action="store_true", help="add the 1,000,000-path row")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--no-vectorbt", action="store_true", help="skip the vectorbt peer")
    parser.add_argument("--repeat", type=int, help="repeats per mcsim row (best is kept)")
    parser.add_argument("--peer-repeat", type=int, default=1, help="repeats of the peers")
    parser.add_argument(
        "--rows-repeat", type=int, default=1, help="repeats of the rows_*.py rows (best kept)"
    )
    parser.add_argument("--vbt-paths", type=int, help="paths of the vectorbt peer")
    parser.add_argument("--vbt-python", help="interpreter with vectorbt installed")
    parser.add_argument("--block-size", type=int, default=w1.BLOCK_SIZE)
    parser.add_argument("--cache-dir", type=Path, help="NUMBA_CACHE_DIR (default: a new one)")
    parser.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._worker:
        spec = json.loads(sys.stdin.read())
        if "batch" in spec:
            print(json.dumps({"batch": [_worker(one) for one in spec["batch"]]}))
        else:
            print(json.dumps(_worker(spec)))
        return 0

    quick = args.quick
    n_paths = 1_000 if quick else args.paths
    million = 5_000 if quick else MILLION
    repeat = args.repeat or (1 if quick else 3)
    vbt_paths = args.vbt_paths or (50 if quick else 2_000)
    tiny = 100
    # Quick mode keeps several blocks, so the two-worker row has work to share.
    block = min(args.block_size, 250 if quick else n_paths)

    # The cold-compile child compiles into a new, empty cache. The rows use the usual cache
    # (NUMBA_CACHE_DIR as set, or --cache-dir), so repeated runs do not recompile.
    cold_dir = tempfile.mkdtemp(prefix="mcsim-bench-numba-")
    cold_env = dict(os.environ, NUMBA_CACHE_DIR=cold_dir)
    env = dict(os.environ)
    if args.cache_dir is not None:
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        env["NUMBA_CACHE_DIR"] = str(args.cache_dir)

    meta: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "n_paths": n_paths,
        "block_size": block,
        "repeat": repeat,
        "peer_repeat": args.peer_repeat,
        "rows_repeat": args.rows_repeat,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "skipped": [],
    }
    print(f"mcsim W1 benchmark: {n_paths:,} paths{' (quick)' if quick else ''}", flush=True)

    # Start-up: the first child compiles into an empty cache, the second loads it.
    startup: dict[str, Any] = {}
    stamp = _sources_stamp()
    tiny_table = w1.w1_table(tiny, block_size=tiny)
    cold = _mcsim_child(tiny_table, 1, 1, cold_env)
    if "error" in cold:
        startup["cold_compile"] = cold
    else:
        run0 = cold["runs"][0]
        startup["cold_compile"] = run0["wall_s"] - run0["simulate_s"]
        startup["cold_import_s"] = cold["import_s"]
    print("  cold compile measured", flush=True)
    warm = _mcsim_child(tiny_table, 1, 1, cold_env)
    startup["warm_start"] = warm["process_s"] if "error" not in warm else warm
    if "error" not in warm:
        startup["warm_start_goal"] = _goal(warm["process_s"], GOALS["warm_start_s"], False, "")
        startup["warm_compile_s"] = warm["compile_s"]
        startup["warm_import_s"] = warm["import_s"]
    if _sources_stamp() != stamp:
        startup["sources_changed"] = (
            "engine sources changed between the cold and the warm process: the warm start "
            "recompiled and is not a warm start; measure again"
        )
    _mcsim_child(tiny_table, 1, 1, env)  # fill the rows' cache (compile is not timed anyway)

    rows: list[dict[str, Any]] = []

    def add(label: str, res: dict[str, Any], **extra: Any) -> dict[str, Any]:
        row = {"label": label, **res, **extra}
        rows.append(row)
        print(f"  {label}: {'skipped: ' + res['error'] if 'error' in res else 'done'}", flush=True)
        return row

    table = w1.w1_table(n_paths, block_size=block)
    base = add("W1, 1 core (n_jobs=1)", _mcsim_child(table, 1, repeat, env))
    _derive(base, base)
    if "seconds" in base:
        startup["steady_state"] = base["seconds"]
        startup["steady_state_all_s"] = [r["simulate_s"] for r in base["runs"]]
    two = add("W1, 2 workers (n_jobs=2, threads)", _mcsim_child(table, 2, repeat, env))
    if args.million:
        big = w1.w1_table(million, block_size=min(args.block_size, million))
        mil = add(f"W1, {million:,} paths (n_jobs=2)", _mcsim_child(big, 2, 1, env))
    floor = add(
        "floor: PCG64 normals in numba (1 core)",
        _peer_child("floor", n_paths, max(repeat, args.peer_repeat), env),
    )
    npeer = add(
        "plain NumPy peer (1 process)", _peer_child("numpy", n_paths, args.peer_repeat, env)
    )
    if args.no_vectorbt:
        meta["skipped"].append("vectorbt peer: --no-vectorbt")
        vbt = None
    else:
        py, why = _find_vectorbt_python(args.vbt_python)
        if py is None:
            meta["skipped"].append(f"vectorbt peer: vectorbt is not available ({why})")
            print(f"  vectorbt peer skipped: vectorbt is not available ({why})", flush=True)
            vbt = None
        else:
            vbt = add(
                f"vectorbt peer ({vbt_paths:,} paths, per path)",
                _peer_child("vectorbt", vbt_paths, args.peer_repeat, env, python=py),
                note=f"measured at {vbt_paths:,} paths and extrapolated per path; "
                "includes generating the returns; pays fees on the first purchase",
            )
            meta["vbt_python"] = py

    extra_rows, skipped = load_extra_rows()
    for reason in skipped:
        print(f"  skipped: {reason}", flush=True)
    meta["skipped"].extend(skipped)
    specs, merged = [], {}
    for label, overrides in extra_rows:
        try:
            merged[label] = row_table(overrides, n_paths, block)
        except Exception as e:
            merged[label] = {"error": f"cannot merge the overrides: {type(e).__name__}: {e}"}
        else:
            specs.append({"table": merged[label], "n_jobs": 1, "repeat": args.rows_repeat})
    if quick and specs:
        # One process for all extra rows: start-up would dominate the smoke test. Peak
        # memory is then the batch's, so it is not reported.
        batch = _mcsim_child_batch(specs, env)
        results = iter(batch)
    for label, overrides in extra_rows:
        if "error" in merged[label]:
            res = merged[label]
        elif quick:
            res = next(results)
            res.pop("peak_rss_mib", None)
        else:
            res = _mcsim_child(merged[label], 1, args.rows_repeat, env)
        add(label, res, overrides=overrides)

    # W1 once more at the end: how much the machine's speed drifted during the run.
    add("W1, 1 core, again at the end (drift check)", _mcsim_child(table, 1, repeat, env))

    for r in rows:
        if "error" not in r:
            _derive(r, base)
    for r in rows:
        r.setdefault("n_jobs", 1)

    # Goals, next to the measured ratios.
    if "x_w1" in floor:
        floor["goal"] = _goal(1.0 / floor["x_w1"], GOALS["floor"], False, "W1/floor")
    if "x_w1" in two:
        two["goal"] = _goal(1.0 / two["x_w1"], GOALS["two_workers"], True, "speed-up")
    if "x_w1" in npeer:
        npeer["goal"] = _goal(npeer["x_w1"], GOALS["numpy"], True, "W1 faster by")
    if vbt is not None and "x_w1" in vbt:
        vbt["goal"] = _goal(vbt["x_w1"], GOALS["vectorbt"], True, "W1 faster by")
    if args.million and "peak_rss_mib" in mil:
        mil["goal"] = _goal(mil["peak_rss_mib"], GOALS["million_peak_mib"], False, "peak MiB")

    meta["load_after"] = [round(x, 2) for x in os.getloadavg()]
    meta["versions"] = base.get("versions", {})
    meta["goals"] = GOALS
    print_table(rows, startup, meta)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"meta": meta, "startup": startup, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"wrote {args.json}")
    shutil.rmtree(cold_dir, ignore_errors=True)
    failed = [r["label"] for r in rows[:2] if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
