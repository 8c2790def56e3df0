"""Many assets: the factor model at 200 and 1,000 assets against W1 and a dense Gaussian.

Every row is W1's policy (quarterly calendar rebalancing to equal weights, 10 bps, monthly
steps over 30 years) on a return model with ``n_assets`` series. The factor rows use
``[model] kind = "factor"`` with explicit parameters (:func:`factor_section`: a market
factor and ``n_factors - 1`` style factors, fixed by a seed); the dense row gives a Gaussian
model the same covariance, so the two simulate the same law and differ only in the cost of a
step (O(assets x factors) against O(assets**2 / 2) for the Cholesky product).

Rows run round after round, interleaved with W1 at the same path count and worker count, in
this process; each prints its best simulation time (``result.timings["simulate_s"]``), its
cost per asset-step, its ratio to W1's per asset-step cost in the same round (median over
rounds) and the engine's memory estimate. Run under the shared lock::

    python benchmarks/bench_many_assets.py
    python benchmarks/bench_many_assets.py --quick      # smoke test, tiny sizes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

import mcsim
from mcsim.engine import estimate_memory
from mcsim.models import model_from_config
from mcsim.plan import prepare

PARAM_SEED = 20_260_126


def factor_section(n_assets: int, n_factors: int) -> dict:
    """Explicit ``[model]`` of a factor model with ``n_assets`` series (fixed by a seed).

    Annual expected returns 4 % .. 10 %; a market factor of 16 % volatility with betas 0.6
    .. 1.4, further factors of 8 % volatility with loadings N(0, 0.5); idiosyncratic
    volatilities 10 % .. 30 %.
    """
    rng = np.random.default_rng(PARAM_SEED)
    loadings = np.empty((n_assets, n_factors))
    loadings[:, 0] = np.linspace(0.6, 1.4, n_assets)
    loadings[:, 1:] = rng.normal(0.0, 0.5, (n_assets, n_factors - 1))
    return {
        "kind": "factor",
        "assets": [f"a{i}" for i in range(n_assets)],
        "mu": np.linspace(0.04, 0.10, n_assets).tolist(),
        "loadings": loadings.tolist(),
        "factor_vol": [0.16] + [0.08] * (n_factors - 1),
        "idiosyncratic_vol": np.linspace(0.10, 0.30, n_assets).tolist(),
    }


def dense_section(n_assets: int, n_factors: int) -> dict:
    """A Gaussian ``[model]`` with the covariance of :func:`factor_section`."""
    factor = model_from_config(factor_section(n_assets, n_factors))
    vol = factor.vol_
    corr = factor.cov_ / np.outer(vol, vol)
    np.fill_diagonal(corr, 1.0)
    return {
        "kind": "gaussian",
        "assets": factor.series_names,
        "mu": factor.mu_.tolist(),
        "vol": vol.tolist(),
        "corr": corr.tolist(),
    }


def many_assets_table(model: dict, n_paths: int, block_size: int) -> dict:
    """W1's scenario with ``model`` in place of W1's and equal weights over its assets."""
    table = w1.w1_table(n_paths, block_size=block_size)
    table["model"] = model
    table["portfolio"] = {"target": {a: 1.0 / len(model["assets"]) for a in model["assets"]}}
    return table


def _run(table: dict, n_jobs: int) -> tuple[float, int]:
    scenario = mcsim.Scenario.from_dict(table)
    result = mcsim.run(scenario, n_jobs=n_jobs)
    return result.timings["simulate_s"], estimate_memory(prepare(scenario), n_jobs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--paths", type=int, default=10_000, help="paths of the 200-asset rows")
    parser.add_argument("--paths-1000", type=int, default=2_000, help="paths at 1,000 assets")
    parser.add_argument("--paths-dense", type=int, default=1_000, help="paths, dense Gaussian")
    parser.add_argument("--block-size", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.paths, args.paths_1000, args.paths_dense = 1, 40, 20, 20
        args.block_size = 20
    bs = args.block_size
    rows = {
        "W1 (10 assets, dense Gaussian)": (w1.w1_table(args.paths, block_size=bs), 10),
        "factor, 200 assets, 5 factors": (
            many_assets_table(factor_section(200, 5), args.paths, bs),
            200,
        ),
        "factor, 1,000 assets, 5 factors": (
            many_assets_table(factor_section(1000, 5), args.paths_1000, bs),
            1000,
        ),
        "dense Gaussian, 200 assets (same covariance)": (
            many_assets_table(dense_section(200, 5), args.paths_dense, bs),
            200,
        ),
    }
    # Compile every kernel first, so no row pays for it.
    for table, _ in rows.values():
        warm = json.loads(json.dumps(table))
        warm["simulation"]["n_paths"] = 2
        warm["simulation"]["block_size"] = 2
        _run(warm, 1)
    best: dict[str, float] = {}
    per_step: dict[str, float] = {}
    ratios: dict[str, list[float]] = {k: [] for k in rows}
    memory: dict[str, int] = {}
    for _ in range(args.rounds):
        w1_cost = None
        for label, (table, n_assets) in rows.items():
            seconds, memory[label] = _run(table, args.jobs)
            n_paths = table["simulation"]["n_paths"]
            cost = seconds / (n_paths * w1.N_STEPS * n_assets) * 1e9
            w1_cost = cost if w1_cost is None else w1_cost
            ratios[label].append(cost / w1_cost)
            if seconds < best.get(label, np.inf):
                best[label], per_step[label] = seconds, cost
    load = Path("/proc/loadavg").read_text().split()[:3] if os.path.exists("/proc/loadavg") else []
    print(f"load average {' '.join(load)}; {args.jobs} workers; best of {args.rounds} rounds")
    print(
        f"{'row':46} {'paths':>7} {'best s':>8} {'ns/asset-step':>14} {'vs W1':>7} {'mem MiB':>8}"
    )
    out = []
    for label, (table, _) in rows.items():
        n_paths = table["simulation"]["n_paths"]
        ratio = statistics.median(ratios[label])
        mib = memory[label] / 2**20
        print(
            f"{label:46} {n_paths:>7,} {best[label]:>8.2f} {per_step[label]:>14.2f} "
            f"{ratio:>6.2f}x {mib:>8.0f}"
        )
        out.append(
            {
                "row": label,
                "paths": n_paths,
                "best_s": best[label],
                "ns_per_asset_step": per_step[label],
                "per_asset_step_vs_w1": ratio,
                "memory_estimate_bytes": memory[label],
            }
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "rows": out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
