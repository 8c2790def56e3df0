"""Where the time of the allocation and GARCH-DCC rows goes, side by side with W1.

Times, in one process and interleaved round by round, on W1's workload (10 assets, 360
monthly steps, W1's Gaussian returns drawn once with NumPy):

- ``W1``: W1's simulation (``mcsim.run``, ``timings["simulate_s"]``), the reference;
- for risk parity (trailing 36 months) and mean-variance (trailing 60 months, kappa 0.001),
  each quarterly: the rule kernel over every due step of every path (``rule``); the
  trailing window's rolling sums and the covariance finalisation alone (``moments``); the
  solver alone on those covariances, warm started as in the rule (``solve``);
- for GARCH(1,1)-DCC(1,1) with W1's moments (``rows_models_dynamic.py``): the model kernel
  (``garch-dcc``), the same with a constant correlation (``garch-ccc``: no per-step
  factorisation), and the normals alone (``normals``, the floor).

Every figure is in microseconds per path and as a ratio to W1's per-path time of the same
round. Usage::

    python benchmarks/profile_allocation.py [--paths 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_w1  # noqa: E402
import rows_models_dynamic  # noqa: E402
import w1  # noqa: E402
from mcsim.kernels._allocation import mean_variance_rule_nb, risk_parity_rule_nb  # noqa: E402
from mcsim.kernels._garch import simulate_garch_nb  # noqa: E402
from mcsim.kernels._solvers import (  # noqa: E402
    mean_variance_nb,
    risk_parity_nb,
    trailing_moments_nb,
    trailing_sums_update_nb,
)

import mcsim  # noqa: E402
from mcsim.models.garch import GarchModel  # noqa: E402
from mcsim.policies import MeanVariance, RiskParity  # noqa: E402
from mcsim.policies.base import PolicyContext  # noqa: E402

EVERY = 3  # quarterly with monthly steps


@njit
def drive_rule_nb(kind, returns, target, params, state0, every):
    """Run an allocation rule over every due step of every path; weights drift between."""
    n_paths, n_steps, n = returns.shape
    w = np.empty(n)
    w_new = np.empty(n)
    trades = 0
    for p in range(n_paths):
        state = state0.copy()
        r = returns[p]
        for i in range(n):
            w[i] = target[i]
        for t in range(n_steps):
            total = 0.0
            for i in range(n):
                w[i] *= 1.0 + r[t, i]
                total += w[i]
            for i in range(n):
                w[i] /= total
            if (t + 1) % every != 0:
                continue
            if kind == 0:
                done = risk_parity_rule_nb(t, r, w, 1.0, target, params, state, w_new)
            else:
                done = mean_variance_rule_nb(t, r, w, 1.0, target, params, state, w_new)
            if done:
                trades += 1
                for i in range(n):
                    w[i] = w_new[i]
    return trades


@njit
def drive_moments_nb(returns, window, every, covs, weights):
    """Rolling sums and the covariance of every due step (into ``covs``), as in the rules.

    ``weights`` receives the drifted weights before each due step (the mean-variance kinks).
    """
    n_paths, n_steps, n = returns.shape
    sums = np.zeros(1 + n + n * n)
    mu = np.empty(n)
    k = 0
    for p in range(n_paths):
        sums[:] = 0.0
        r = returns[p]
        for t in range(n_steps):
            if (t + 1) % every != 0:
                continue
            trailing_sums_update_nb(r, t, window, sums, 0)
            if t + 1 >= window:
                trailing_moments_nb(sums, 0, n, window, 12.0, mu, covs[k])
                weights[k, :] = mu
                k += 1
    return k


@njit
def drive_rp_solve_nb(covs, per_path, budgets, work):
    """Risk parity on each path's covariances in order, warm started from the last solve."""
    n = budgets.size
    w = np.zeros(n)
    iters = 0
    for k in range(covs.shape[0]):
        if k % per_path == 0:
            w[:] = 0.0
        iters += risk_parity_nb(covs[k], budgets, w, work, w[0] > 0.0)
    return iters


@njit
def drive_mv_solve_nb(covs, mus, per_path, lam, kappa, work):
    """Mean-variance on each path's moments in order; the last solution is the kink."""
    n = mus.shape[1]
    w = np.full(n, 1.0 / n)
    w_cur = np.full(n, 1.0 / n)
    iters = 0
    for k in range(covs.shape[0]):
        if k % per_path == 0:
            w_cur[:] = 1.0 / n
        iters += mean_variance_nb(mus[k], covs[k], lam, w_cur, kappa, w, work)
        w_cur[:] = w
    return iters


@njit
def normals_nb(rng, out):
    """The floor of the GARCH kernel: its normals, drawn in the same order."""
    n_paths, n_steps, n = out.shape
    for p in range(n_paths):
        for t in range(n_steps):
            for j in range(n):
                out[p, t, j] = rng.standard_normal()


def w1_returns(n_paths: int, seed: int = 7) -> np.ndarray:
    """W1's simple returns, drawn once (lognormal, annual moments of ``w1``)."""
    rng = np.random.default_rng(seed)
    cov = np.outer(w1.VOL, w1.VOL) * w1.correlation() / w1.STEPS_PER_YEAR
    mu = w1.MU / w1.STEPS_PER_YEAR - 0.5 * np.diag(cov)
    z = rng.standard_normal((n_paths, w1.N_STEPS, w1.N_ASSETS))
    return np.ascontiguousarray(np.expm1(mu + z @ np.linalg.cholesky(cov).T))


def context() -> PolicyContext:
    n = w1.N_ASSETS
    return PolicyContext(
        asset_names=list(w1.ASSETS),
        steps_per_year=w1.STEPS_PER_YEAR,
        n_steps=w1.N_STEPS,
        target=np.full(n, 1.0 / n),
    )


def garch_args() -> tuple:
    """``simulate_garch_nb``'s arguments for the GARCH-DCC row of ``rows_models_dynamic``."""
    return GarchModel.from_config(rows_models_dynamic.garch_dcc_model()).kernel_args()


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    n_paths = args.paths
    ctx = context()
    returns = w1_returns(n_paths)
    target = ctx.target
    rp = RiskParity(name="rp", estimate="trailing", window=36, frequency="quarterly")
    mv = MeanVariance(
        name="mv",
        risk_aversion=4.0,
        turnover_penalty=0.001,
        estimate="trailing",
        window=60,
        frequency="quarterly",
    )
    _, rp_params, rp_state = rp.rule(ctx)
    _, mv_params, mv_state = mv.rule(ctx)
    n = w1.N_ASSETS
    due = w1.N_STEPS // EVERY

    def covs_for(window: int) -> tuple[np.ndarray, np.ndarray, int]:
        per_path = sum(1 for t in range(w1.N_STEPS) if (t + 1) % EVERY == 0 and t + 1 >= window)
        covs = np.empty((n_paths * per_path, n, n))
        mus = np.empty((n_paths * per_path, n))
        drive_moments_nb(returns, window, EVERY, covs, mus)
        return covs, mus, per_path

    rp_covs, _, rp_per = covs_for(36)
    mv_covs, mv_mus, mv_per = covs_for(60)
    budgets = np.full(n, 1.0 / n)
    rp_work = np.empty(rp_state.size)
    mv_work = np.empty(mv_state.size)
    g_args = garch_args()
    g_ccc = (*g_args[:7], 0.0, 0.0, g_args[9])
    g_out = np.empty((n_paths, w1.N_STEPS, n))
    w1_scenario = mcsim.Scenario.from_dict(bench_w1.row_table({}, n_paths, w1.BLOCK_SIZE))

    jobs = {
        "W1": lambda: mcsim.run(w1_scenario, n_paths=n_paths, n_jobs=1, seed=1).timings[
            "simulate_s"
        ],
        "rp rule": lambda: timed(drive_rule_nb, 0, returns, target, rp_params, rp_state, EVERY),
        "rp moments": lambda: timed(
            drive_moments_nb, returns, 36, EVERY, rp_covs, np.empty((rp_covs.shape[0], n))
        ),
        "rp solve": lambda: timed(drive_rp_solve_nb, rp_covs, rp_per, budgets, rp_work),
        "mv rule": lambda: timed(drive_rule_nb, 1, returns, target, mv_params, mv_state, EVERY),
        "mv moments": lambda: timed(
            drive_moments_nb, returns, 60, EVERY, mv_covs, np.empty((mv_covs.shape[0], n))
        ),
        "mv solve": lambda: timed(drive_mv_solve_nb, mv_covs, mv_mus, mv_per, 4.0, 0.001, mv_work),
        "garch-dcc": lambda: timed(simulate_garch_nb, np.random.default_rng(3), *g_args, g_out),
        "garch-ccc": lambda: timed(simulate_garch_nb, np.random.default_rng(3), *g_ccc, g_out),
        "normals": lambda: timed(normals_nb, np.random.default_rng(3), g_out),
    }
    for fn in jobs.values():  # compile
        fn()
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(args.rounds):
        for k, fn in jobs.items():
            times[k].append(fn())
    base = times["W1"]
    print(
        f"{args.rounds} interleaved rounds, {n_paths:,} paths of W1 (10 assets, 360 steps, "
        f"{due} quarterly due steps); load average {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    print(f"{'part':<12} {'us/path (best)':>14} {'x W1 (best)':>11} {'x W1 median':>11}")
    for k, secs in times.items():
        ratios = [a / b for a, b in zip(secs, base, strict=True)]
        print(
            f"{k:<12} {min(secs) / n_paths * 1e6:14.1f} {min(secs) / min(base):11.2f} "
            f"{statistics.median(ratios):11.2f}"
        )
    print(
        f"solves per path: risk parity {rp_per}, mean-variance {mv_per}; Newton iterations "
        f"per solve {drive_rp_solve_nb(rp_covs, rp_per, budgets, rp_work) / rp_covs.shape[0]:.2f}"
        f", active-set iterations per solve "
        f"{drive_mv_solve_nb(mv_covs, mv_mus, mv_per, 4.0, 0.001, mv_work) / mv_covs.shape[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
