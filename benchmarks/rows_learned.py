"""W1 benchmark rows for the learned policy, and its training time.

The row keeps W1 (10 assets, monthly steps, 30 years, equal-weight target, 10 bps) and
replaces the quarterly calendar policy with a learned policy deciding every quarter (a tree
trained on 500 W1 paths when this module is imported, about 2 s; the model file goes to a
temporary folder).

Goals (issue #24): the learned row within 1.5x of W1's calendar row; training on 20,000 W1
paths under 60 s. ``python benchmarks/rows_learned.py`` measures both, the two simulations
side by side in one process, and prints the load average with them::

    python benchmarks/rows_learned.py --paths 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

import mcsim

_MODEL_DIR = Path(tempfile.mkdtemp(prefix="mcsim-rows-learned-"))


def _learned_table(n_paths: int, **policy) -> dict:
    table = w1.w1_table(n_paths)
    table["policies"] = [
        {"name": "learned", "kind": "learned", "check_every": w1.REBALANCE_EVERY, **policy}
    ]
    return table


def train_w1(n_paths: int, regressor: str = "tree") -> tuple[mcsim.LearnedModel, float]:
    """Train the learned policy on ``n_paths`` W1 paths; the model and the seconds taken."""
    scenario = mcsim.Scenario.from_dict(_learned_table(1_000, train_paths=n_paths))
    t0 = time.perf_counter()
    model = mcsim.LearnedPolicy.fit(scenario, regressor=regressor)
    return model, time.perf_counter() - t0


def _model_file() -> str:
    model, _ = train_w1(500)
    return str(model.save(_MODEL_DIR / "w1_tree.json"))


ROWS: list[tuple[str, dict]] = [
    (
        "learned (tree, quarterly decisions)",
        {"policies": [{"name": "learned", "kind": "learned", "model": _model_file()}]},
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=20_000, help="simulated paths (20,000)")
    parser.add_argument("--train-paths", type=int, default=20_000, help="training paths")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--regressor", action="append", help="regressors to train (tree)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    for reg in args.regressor or ["tree"]:
        model, seconds = train_w1(args.train_paths, reg)
        print(f"training {reg} on {args.train_paths:,} W1 paths: {seconds:.1f} s (goal < 60 s)")
    calendar = mcsim.Scenario.from_dict(w1.w1_table(args.paths))
    model_file = str(model.save(_MODEL_DIR / "w1_main.json"))
    learned_sc = mcsim.Scenario.from_dict(_learned_table(args.paths, model=model_file))
    mcsim.run(calendar, n_paths=200)
    mcsim.run(learned_sc, n_paths=200)
    ratios = []
    best = {"calendar": float("inf"), "learned": float("inf")}
    for _ in range(args.rounds):
        t_cal = mcsim.run(calendar).timings["simulate_s"]
        t_learn = mcsim.run(learned_sc).timings["simulate_s"]
        best["calendar"] = min(best["calendar"], t_cal)
        best["learned"] = min(best["learned"], t_learn)
        ratios.append(t_learn / t_cal)
    ratios.sort()
    print(
        f"W1 calendar {best['calendar']:.2f} s, learned {best['learned']:.2f} s at "
        f"{args.paths:,} paths; ratio of bests {best['learned'] / best['calendar']:.2f}, "
        f"median ratio per round {ratios[len(ratios) // 2]:.2f} "
        f"[{ratios[0]:.2f}, {ratios[-1]:.2f}] (goal <= 1.5)"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
