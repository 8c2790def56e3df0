"""Plain NumPy twins of the return-model kernels, for tests and benchmarks.

Each function draws from the generator in exactly the order its kernel does (path by path,
step by step), so with generators seeded alike the outputs agree to rounding. They are written
for clarity, not speed.
"""

from __future__ import annotations

import numpy as np

import mcsim

__all__ = [
    "bootstrap_iid_reference",
    "bootstrap_stationary_reference",
    "gaussian_reference",
    "student_t_reference",
]


def gaussian_reference(
    rng: np.random.Generator, drift: np.ndarray, chol: np.ndarray, n_paths: int, n_steps: int
) -> np.ndarray:
    """Simple returns with ``log(1 + r) = drift + chol @ z``, z standard normal per step.

    Returns an ndarray of shape (n_paths, n_steps, n_series).
    """
    n = drift.size
    out = np.empty((n_paths, n_steps, n))
    for p in range(n_paths):
        for t in range(n_steps):
            z = rng.standard_normal(n)
            out[p, t] = np.expm1(drift + chol @ z)
    return out


def student_t_reference(
    rng: np.random.Generator,
    drift: np.ndarray,
    chol_scale: np.ndarray,
    df: float,
    n_paths: int,
    n_steps: int,
) -> np.ndarray:
    """Simple returns with multivariate-t log returns.

    Per step: ``w = chisquare(df)`` (one draw shared by all series), then ``z`` standard
    normal, and ``log(1 + r) = drift + sqrt(df / w) * chol_scale @ z``.
    """
    n = drift.size
    out = np.empty((n_paths, n_steps, n))
    for p in range(n_paths):
        for t in range(n_steps):
            w = rng.chisquare(df)
            z = rng.standard_normal(n)
            out[p, t] = np.expm1(drift + np.sqrt(df / w) * (chol_scale @ z))
    return out


def bootstrap_iid_reference(
    rng: np.random.Generator, history: np.ndarray, n_paths: int, n_steps: int
) -> np.ndarray:
    """Rows of ``history`` (n_obs, n_series) drawn uniformly with replacement, per step."""
    n_obs = history.shape[0]
    out = np.empty((n_paths, n_steps, history.shape[1]))
    for p in range(n_paths):
        for t in range(n_steps):
            out[p, t] = history[rng.integers(0, n_obs)]
    return out


def bootstrap_stationary_reference(
    rng: np.random.Generator,
    history: np.ndarray,
    block_length: float,
    n_paths: int,
    n_steps: int,
) -> np.ndarray:
    """Politis-Romano stationary bootstrap of the rows of ``history``, circularly.

    Each path starts at a uniform random row; at each later step a uniform ``u`` is drawn and
    a new uniform random row starts a block when ``u < 1 / block_length``, otherwise the path
    moves on to the next row (after the last row comes the first).
    """
    n_obs = history.shape[0]
    p_new = 1.0 / block_length
    out = np.empty((n_paths, n_steps, history.shape[1]))
    for p in range(n_paths):
        idx = 0
        for t in range(n_steps):
            if t == 0:
                idx = rng.integers(0, n_obs)
            elif rng.random() < p_new:
                idx = rng.integers(0, n_obs)
            else:
                idx = (idx + 1) % n_obs
            out[p, t] = history[idx]
    return out


def scenario_table(
    model: dict,
    *,
    data: dict | None = None,
    n_paths: int = 120,
    horizon_years: float = 3,
    steps_per_year: int = 12,
    block_size: int = 40,
) -> dict:
    """A small scenario table running ``model`` under every built-in policy kind.

    The default data are the bundled Shiller stock and bond returns with inflation; the
    portfolio is 60/40 in the first two series. ``data={}`` leaves the ``[data]`` section out
    (for a model with explicit parameters).
    """
    if data is None:
        data = {
            "source": "shiller",
            "columns": ["us_stocks_tr", "us_bonds_10y_tr"],
            "inflation": "cpi_inflation",
        }
    assets = data.get("columns") or model.get("assets")
    table = {
        "simulation": {
            "n_paths": n_paths,
            "horizon_years": horizon_years,
            "steps_per_year": steps_per_year,
            "block_size": block_size,
            "seed": 7,
        },
        "model": model,
        "portfolio": {"target": {assets[0]: 0.6, assets[1]: 0.4}},
        "costs": {"proportional_bps": 10},
        "policies": [
            {"name": "hold", "kind": "buy_and_hold"},
            {"name": "quarterly", "kind": "calendar", "frequency": "quarterly"},
            {"name": "band", "kind": "threshold", "band": 0.05},
        ],
    }
    if data:
        table["data"] = data
    return table


def check_runs_alike_for_any_jobs(table: dict) -> object:
    """Run a scenario table with ``n_jobs`` 1 and 2; assert identical per-path results.

    Also asserts that every path ends with positive wealth and that the calendar policy
    trades while buy-and-hold does not. Returns the first result.
    """
    scenario = mcsim.Scenario.from_dict(table)
    one = mcsim.run(scenario, n_jobs=1)
    two = mcsim.run(scenario, n_jobs=2)
    np.testing.assert_array_equal(one.paths.to_numpy(), two.paths.to_numpy())
    assert (one.paths["terminal_wealth"] > 0).all()
    turnover = one.paths["turnover"]
    assert (turnover.loc["hold"] == 0).all()
    assert (turnover.loc["quarterly"] > 0).all()
    return one
