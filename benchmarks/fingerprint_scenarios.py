"""Fingerprints of every bundled scenario's numbers, to prove a change leaves them bit-identical.

Runs each bundled scenario at a fixed seed and size and records a SHA-256 of its per-path
metrics, its wealth sketches and its kept wealth paths, column by column. Record the
fingerprints on the commit before a change, then compare on the commit after it::

    python benchmarks/fingerprint_scenarios.py --write before.json          # on the old commit
    python benchmarks/fingerprint_scenarios.py --compare before.json        # on the new one

The comparison prints one line per scenario and, where numbers differ, the metrics whose
columns changed and on how many paths, then exits with status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

import mcsim
from mcsim.learned.run import ready_learned
from mcsim.scenarios import bundled_scenarios, scenario_path


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:20]


def fingerprint(name: str, n_paths: int, seed: int) -> dict:
    """Digests of one bundled scenario's results, and its per-path table for diffs."""
    scenario = mcsim.Scenario.from_toml(scenario_path(name))
    # Learned policies without a model file are trained first, as `mcsim run` does.
    scenario, _ = ready_learned(scenario, scenario_path(name).parent, say=lambda _: None)
    if scenario.decision is not None or scenario.sweeps:
        # The honest winner is chosen on some blocks and judged on others: a small run
        # needs small blocks to have both halves.
        simulation = dataclasses.replace(scenario.simulation, block_size=max(2, n_paths // 4))
        scenario = dataclasses.replace(scenario, simulation=simulation)
    result = mcsim.run(scenario, n_paths=n_paths, seed=seed)
    paths = result.paths
    return {
        "metrics": {m: _digest(paths[m].to_numpy()) for m in paths.columns},
        "hist": _digest(result.hist),
        "wealth": _digest(result.wealth_array),
        "values": {m: paths[m].to_numpy().tolist() for m in paths.columns},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="FILE", help="record the fingerprints into FILE")
    group.add_argument("--compare", metavar="FILE", help="compare with fingerprints in FILE")
    parser.add_argument("--paths", type=int, default=300, help="paths per scenario (300)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every run (1)")
    parser.add_argument("--only", action="append", help="a scenario name (repeatable)")
    args = parser.parse_args(argv)

    names = args.only or bundled_scenarios()
    prints = {}
    for name in names:
        prints[name] = fingerprint(name, args.paths, args.seed)
        print(f"{name}: done", file=sys.stderr)
    meta = {"paths": args.paths, "seed": args.seed, "mcsim": mcsim.__version__}
    if args.write:
        Path(args.write).write_text(json.dumps({"meta": meta, "scenarios": prints}))
        print(f"wrote fingerprints of {len(prints)} scenario(s) to {args.write}")
        return 0

    old = json.loads(Path(args.compare).read_text())
    if old["meta"]["paths"] != args.paths or old["meta"]["seed"] != args.seed:
        print(f"recorded with {old['meta']}; rerun with the same --paths and --seed")
        return 2
    failed = False
    for name, new in prints.items():
        before = old["scenarios"].get(name)
        if before is None:
            print(f"{name:30s} new (no recorded fingerprint)")
            continue
        changed = [m for m, d in new["metrics"].items() if before["metrics"].get(m) != d]
        sketch = [k for k in ("hist", "wealth") if before[k] != new[k]]
        if not changed and not sketch:
            print(f"{name:30s} identical")
            continue
        failed = True
        parts = []
        for m in changed:
            if m not in before["values"]:
                parts.append(f"{m} (new metric)")
                continue
            a = np.asarray(before["values"][m])
            b = np.asarray(new["values"][m])
            n = int(np.sum(~((a == b) | (np.isnan(a) & np.isnan(b)))))
            parts.append(f"{m} ({n} of {a.size} rows)")
        print(f"{name:30s} CHANGED: " + ", ".join(parts + sketch))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
