"""What W1 costs without mcsim: the random-number floor, plain NumPy, and vectorbt.

- :func:`normals_floor` draws the standard normals W1 needs (paths x steps x assets) from
  NumPy's PCG64 ``Generator`` inside a numba loop, into a 1 MiB buffer reused per chunk: the
  least any Monte Carlo engine of W1 has to do.
- :func:`numpy_w1` is W1 written the way a NumPy user would: vectorised over a block of paths,
  a Python loop over steps. It uses mcsim's seeding convention (block ``i`` draws from
  ``default_rng(SeedSequence(seed, spawn_key=(i,)))``, path by path, step by step, asset by
  asset), so with the same seed and block size it simulates the very paths mcsim does.
- :func:`vectorbt_w1` runs the same rebalancing through ``vectorbt.Portfolio.from_orders``,
  one group of 10 columns per path with shared cash.

Run one peer in its own process (the bench script does, so peak memory is per peer)::

    python benchmarks/peers.py numpy --paths 10000 --repeat 1
    /tmp/vbt-venv/bin/python benchmarks/peers.py vectorbt --paths 2000

Each prints one line of JSON. This module needs only NumPy at import time; numba is imported
by the floor, vectorbt by its peer.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any

import numpy as np

try:
    from . import w1
except ImportError:  # run as a script, or imported with benchmarks/ on sys.path
    import w1

# Histogram sketch of log(wealth / initial wealth), as mcsim keeps it (mcsim.sketch).
HIST_LO = -10.0
HIST_WIDTH = 0.005
HIST_BINS = 4000 + 2
# The floor's buffer: as large as one chunk of returns in mcsim's engine.
FLOOR_BUFFER_BYTES = 1 << 20


def w1_params() -> dict[str, Any]:
    """W1's parameters as the peers use them (annual mu, vol, corr; fractions)."""
    return {
        "mu": w1.MU.copy(),
        "vol": w1.VOL.copy(),
        "corr": w1.correlation(),
        "target": np.full(w1.N_ASSETS, 1.0 / w1.N_ASSETS),
        "every": w1.REBALANCE_EVERY,
        "cost_rate": w1.PROPORTIONAL_BPS * 1e-4,
        "n_steps": w1.N_STEPS,
        "steps_per_year": w1.STEPS_PER_YEAR,
        "initial_wealth": w1.INITIAL_WEALTH,
        "block_size": w1.BLOCK_SIZE,
    }


def step_moments(
    mu: np.ndarray, vol: np.ndarray, corr: np.ndarray, steps_per_year: int
) -> tuple[np.ndarray, np.ndarray]:
    """Drift of log returns per step and the Cholesky factor of their covariance per step."""
    cov = np.asarray(corr) * np.outer(vol, vol)
    dt = 1.0 / steps_per_year
    drift = (np.asarray(mu) - 0.5 * np.diag(cov)) * dt
    return drift, np.linalg.cholesky(cov * dt)


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator of block ``block``: mcsim's convention."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))


def block_returns(
    rng: np.random.Generator, n_paths: int, n_steps: int, drift: np.ndarray, chol: np.ndarray
) -> np.ndarray:
    """Simple returns of shape (n_paths, n_steps, n_assets) drawn path-major from ``rng``."""
    z = rng.standard_normal((n_paths, n_steps, drift.size))
    x = z @ chol.T
    x += drift
    return np.expm1(x, out=x)


# --- the plain NumPy peer -----------------------------------------------------------------


def numpy_w1(
    n_paths: int,
    *,
    seed: int = w1.SEED,
    mu: np.ndarray | None = None,
    vol: np.ndarray | None = None,
    corr: np.ndarray | None = None,
    target: np.ndarray | None = None,
    every: int = w1.REBALANCE_EVERY,
    cost_rate: float = w1.PROPORTIONAL_BPS * 1e-4,
    n_steps: int = w1.N_STEPS,
    steps_per_year: int = w1.STEPS_PER_YEAR,
    initial_wealth: float = w1.INITIAL_WEALTH,
    block_size: int = w1.BLOCK_SIZE,
) -> dict[str, np.ndarray]:
    """W1 in plain NumPy: per-path metrics and the wealth sketch, block by block.

    Each step: holdings grow by the step's simple returns; every ``every`` steps they are
    traded back to ``target`` and ``cost_rate`` (fraction of traded value) is paid from the
    portfolio; the step's portfolio return updates the unit value, drawdown and moments; on
    every whole year, log(wealth / initial wealth) enters a fixed-bin histogram.

    Parameters default to W1 (annual ``mu``/``vol`` as fractions, ``corr`` a correlation
    matrix). Memory is bounded by one block of returns (``block_size x n_steps x n_assets``).

    Returns
    -------
    dict
        Arrays of shape (n_paths,): ``terminal_wealth``, ``cagr``, ``volatility``,
        ``max_drawdown``, ``max_drawdown_duration`` (years), ``turnover`` (per year),
        ``costs``, ``n_rebalances``, ``min_wealth``; and ``hist`` of shape
        (n_grid, HIST_BINS) with the counts of the sketch.
    """
    mu = w1.MU if mu is None else np.asarray(mu, dtype=float)
    vol = w1.VOL if vol is None else np.asarray(vol, dtype=float)
    corr = w1.correlation() if corr is None else np.asarray(corr, dtype=float)
    target = np.full(mu.size, 1.0 / mu.size) if target is None else np.asarray(target, float)
    drift, chol = step_moments(mu, vol, corr, steps_per_year)
    grid = np.unique(np.append(np.arange(0, n_steps + 1, steps_per_year), n_steps))
    names = (
        "terminal_wealth",
        "cagr",
        "volatility",
        "max_drawdown",
        "max_drawdown_duration",
        "turnover",
        "costs",
        "n_rebalances",
        "min_wealth",
    )
    out = {k: np.empty(n_paths) for k in names}
    hist = np.zeros((grid.size, HIST_BINS), dtype=np.int64)
    hist[0, _bins(np.zeros(1))[0]] += n_paths  # every path starts at log(1) = 0
    grid_row = {int(s): g for g, s in enumerate(grid)}
    years = n_steps / steps_per_year
    for block, start in enumerate(range(0, n_paths, block_size)):
        m = min(block_size, n_paths - start)
        r = block_returns(block_rng(seed, block), m, n_steps, drift, chol)
        r = np.ascontiguousarray(r.transpose(1, 0, 2))  # (n_steps, m, n_assets): rows per step
        h = np.outer(np.full(m, initial_wealth), target)
        wealth = np.full(m, initial_wealth)
        nav = np.ones(m)
        peak = np.ones(m)
        under = np.zeros(m)
        max_under = np.zeros(m)
        max_dd = np.zeros(m)
        sum_r = np.zeros(m)
        sum_r2 = np.zeros(m)
        traded = np.zeros(m)
        costs = np.zeros(m)
        n_reb = np.zeros(m)
        min_wealth = wealth.copy()
        for t in range(n_steps):
            start_wealth = wealth
            h *= 1.0 + r[t]
            wealth = h.sum(axis=1)
            if (t + 1) % every == 0:
                trade = np.abs(target * wealth[:, None] - h).sum(axis=1)
                traded += 0.5 * trade / wealth
                cost = cost_rate * trade
                costs += cost
                wealth = wealth - cost
                h = target * wealth[:, None]
                n_reb += 1.0
            ret = wealth / start_wealth - 1.0
            nav *= 1.0 + ret
            sum_r += ret
            sum_r2 += ret * ret
            up = nav >= peak
            np.maximum(peak, nav, out=peak)
            under = np.where(up, 0.0, under + 1.0)
            np.maximum(max_under, under, out=max_under)
            np.maximum(max_dd, 1.0 - nav / peak, out=max_dd)
            np.minimum(min_wealth, wealth, out=min_wealth)
            g = grid_row.get(t + 1)
            if g is not None:
                hist[g] += np.bincount(_bins(np.log(wealth / initial_wealth)), minlength=HIST_BINS)
        sl = slice(start, start + m)
        out["terminal_wealth"][sl] = wealth
        out["cagr"][sl] = nav ** (1.0 / years) - 1.0
        var = (sum_r2 - sum_r * sum_r / n_steps) / (n_steps - 1)
        out["volatility"][sl] = np.sqrt(np.maximum(var, 0.0) * steps_per_year)
        out["max_drawdown"][sl] = max_dd
        out["max_drawdown_duration"][sl] = max_under / steps_per_year
        out["turnover"][sl] = traded / years
        out["costs"][sl] = costs
        out["n_rebalances"][sl] = n_reb
        out["min_wealth"][sl] = min_wealth
    out["hist"] = hist
    return out


def _bins(log_value: np.ndarray) -> np.ndarray:
    """Histogram bins as mcsim assigns them: two tail bins around the interior ones."""
    x = (log_value - HIST_LO) * (1.0 / HIST_WIDTH)
    k = np.where(x >= 0.0, np.floor(np.where(x >= 0.0, x, 0.0)) + 1, 0).astype(np.int64)
    return np.minimum(k, HIST_BINS - 1)


# --- the random-number floor --------------------------------------------------------------

_FLOOR_KERNEL = None


def _floor_kernel():
    global _FLOOR_KERNEL
    if _FLOOR_KERNEL is None:
        from numba import njit

        @njit(cache=True, nogil=True)
        def normals_floor_nb(rng, n_paths, per_path, buf):
            chunk = max(1, buf.size // per_path)
            check = 0.0
            done = 0
            while done < n_paths:
                m = min(chunk, n_paths - done)
                n = m * per_path
                for k in range(n):
                    buf[k] = rng.standard_normal()
                check += buf[n - 1]
                done += m
            return check

        _FLOOR_KERNEL = normals_floor_nb
    return _FLOOR_KERNEL


def normals_floor(
    n_paths: int,
    *,
    n_steps: int = w1.N_STEPS,
    n_assets: int = w1.N_ASSETS,
    seed: int = w1.SEED,
    buffer_bytes: int = FLOOR_BUFFER_BYTES,
) -> float:
    """Draw ``n_paths x n_steps x n_assets`` standard normals in a compiled loop.

    The normals go into one preallocated buffer of ``buffer_bytes``, refilled per chunk of
    paths (the full array is never allocated). Returns a checksum so nothing is optimised
    away. Compiles on the first call; time a second call.
    """
    kernel = _floor_kernel()
    per_path = n_steps * n_assets
    buf = np.empty(max(per_path, buffer_bytes // 8))
    rng = np.random.default_rng(seed)
    return float(kernel(rng, n_paths, per_path, buf))


# --- vectorbt -----------------------------------------------------------------------------


def vectorbt_w1(n_paths: int, *, seed: int = w1.SEED) -> dict[str, Any]:
    """W1 through ``vectorbt.Portfolio.from_orders``; returns per-path results and timings.

    Prices of every (path, asset) column start at 1 and compound the simulated returns; an
    order to 10 % of the group's value (``size_type="targetpercent"``) is placed at the start
    and at the end of every third step, in groups of 10 columns per path with shared cash,
    ``call_seq="auto"`` (sells before buys) and ``fees=0.001``. Unlike mcsim and the NumPy
    peer, vectorbt also pays the 10 bps on the initial purchase.

    Returns
    -------
    dict
        ``terminal_wealth`` and ``max_drawdown`` arrays of shape (n_paths,), and timings in
        seconds: ``generate_s`` (returns and prices), ``backtest_s`` (from_orders and the two
        metrics), ``import_s``.
    """
    t0 = time.perf_counter()
    import vectorbt as vbt

    t1 = time.perf_counter()
    p = w1_params()
    drift, chol = step_moments(p["mu"], p["vol"], p["corr"], p["steps_per_year"])
    n_steps, n_assets, every = p["n_steps"], w1.N_ASSETS, p["every"]
    prices = np.empty((n_steps + 1, n_paths * n_assets))
    prices[0] = 1.0
    for block, start in enumerate(range(0, n_paths, p["block_size"])):
        m = min(p["block_size"], n_paths - start)
        r = block_returns(block_rng(seed, block), m, n_steps, drift, chol)
        cols = slice(start * n_assets, (start + m) * n_assets)
        prices[1:, cols] = np.cumprod(1.0 + r, axis=1).transpose(1, 0, 2).reshape(n_steps, -1)
    size = np.full(prices.shape, np.nan)
    size[0] = 1.0 / n_assets
    size[every::every] = 1.0 / n_assets
    t2 = time.perf_counter()
    pf = vbt.Portfolio.from_orders(
        prices,
        size,
        size_type="targetpercent",
        group_by=np.repeat(np.arange(n_paths), n_assets),
        cash_sharing=True,
        call_seq="auto",
        fees=0.001,
        init_cash=p["initial_wealth"],
        freq="30D",
    )
    terminal = np.asarray(pf.final_value())
    max_dd = -np.asarray(pf.max_drawdown())
    t3 = time.perf_counter()
    return {
        "terminal_wealth": terminal,
        "max_drawdown": max_dd,
        "import_s": t1 - t0,
        "generate_s": t2 - t1,
        "backtest_s": t3 - t2,
        "vectorbt_version": vbt.__version__,
    }


# --- command line: one peer per process ---------------------------------------------------


def peak_rss_mib() -> float:
    """The process's resident-set high-water mark (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    try:
        import numba

        out["numba"] = numba.__version__
    except ImportError:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one W1 peer; print one line of JSON.")
    parser.add_argument("peer", choices=["floor", "numpy", "vectorbt"])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=w1.SEED)
    args = parser.parse_args(argv)
    rss_start = peak_rss_mib()
    result: dict[str, Any] = {"peer": args.peer, "n_paths": args.paths}
    times = []
    if args.peer == "floor":
        normals_floor(1, seed=args.seed)  # compile (or load from the cache) first
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            normals_floor(args.paths, seed=args.seed)
            times.append(time.perf_counter() - t0)
    elif args.peer == "numpy":
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = numpy_w1(args.paths, seed=args.seed)
            times.append(time.perf_counter() - t0)
        result["mean_terminal_wealth"] = float(res["terminal_wealth"].mean())
    else:
        try:
            first = vectorbt_w1(2, seed=args.seed)  # compile vectorbt's kernels first
        except ImportError as e:
            print(json.dumps({"peer": "vectorbt", "error": f"vectorbt not importable: {e}"}))
            return 0
        for _ in range(args.repeat):
            res = vectorbt_w1(args.paths, seed=args.seed)
            times.append(res["generate_s"] + res["backtest_s"])
        res["import_s"] = first["import_s"]
        result.update(
            generate_s=res["generate_s"],
            backtest_s=res["backtest_s"],
            import_s=res["import_s"],
            vectorbt=res["vectorbt_version"],
            mean_terminal_wealth=float(res["terminal_wealth"].mean()),
            mean_max_drawdown=float(res["max_drawdown"].mean()),
        )
        ref = numpy_w1(min(args.paths, 500), seed=args.seed)
        result["numpy_peer_same_paths_terminal_wealth_ratio"] = float(
            np.mean(res["terminal_wealth"][: ref["terminal_wealth"].size] / ref["terminal_wealth"])
        )
    result.update(
        seconds=min(times),
        all_seconds=times,
        peak_rss_mib=peak_rss_mib(),
        start_rss_mib=rss_start,
        versions=_versions(),
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
