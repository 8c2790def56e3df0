"""Workload W1 as a scenario table, and the rule that merges benchmark rows into it.

W1: 10 assets, monthly steps over 30 years (360 steps), quarterly calendar rebalancing to
equal weights, 10 bps proportional costs, correlated lognormal (Gaussian) returns with
explicit parameters, so no history is loaded or fitted.

This module imports only the standard library and NumPy, so the peers can use it from any
interpreter.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

N_ASSETS = 10
ASSETS = [f"a{i}" for i in range(N_ASSETS)]
HORIZON_YEARS = 30
STEPS_PER_YEAR = 12
N_STEPS = HORIZON_YEARS * STEPS_PER_YEAR
REBALANCE_EVERY = 3  # steps: quarterly with monthly steps
PROPORTIONAL_BPS = 10.0
BLOCK_SIZE = 2_000
SEED = 20_260_101
INITIAL_WEALTH = 1_000_000.0

# Annual arithmetic expected returns 4 % .. 10 % and volatilities 5 % .. 25 % (fractions).
MU = np.linspace(0.04, 0.10, N_ASSETS)
VOL = np.linspace(0.05, 0.25, N_ASSETS)
# One-factor correlation: corr[i, j] = beta[i] * beta[j] off the diagonal, from 0.30 to 0.59.
BETA = np.linspace(np.sqrt(0.30), np.sqrt(0.59), N_ASSETS)


def correlation() -> np.ndarray:
    """The one-factor correlation matrix of W1's log returns, shape (10, 10)."""
    corr = np.outer(BETA, BETA)
    np.fill_diagonal(corr, 1.0)
    return corr


def w1_table(n_paths: int = 100_000, *, block_size: int = BLOCK_SIZE, seed: int = SEED) -> dict:
    """The W1 scenario as nested tables, ready for ``mcsim.Scenario.from_dict``.

    Parameters
    ----------
    n_paths : int
        Simulated paths.
    block_size : int
        Paths per random block (the unit of work of a joblib worker).
    seed : int
        Root seed.
    """
    return {
        "name": "w1",
        "description": "W1 benchmark: 10 assets, monthly, 30 years, quarterly to equal weights",
        "simulation": {
            "n_paths": int(n_paths),
            "horizon_years": HORIZON_YEARS,
            "steps_per_year": STEPS_PER_YEAR,
            "block_size": int(block_size),
            "seed": int(seed),
            "initial_wealth": INITIAL_WEALTH,
            "keep_paths": 0,
        },
        "model": {
            "kind": "gaussian",
            "assets": list(ASSETS),
            "mu": MU.tolist(),
            "vol": VOL.tolist(),
            "corr": correlation().tolist(),
        },
        "portfolio": {"target": {a: 1.0 / N_ASSETS for a in ASSETS}},
        "costs": {"proportional_bps": PROPORTIONAL_BPS},
        "policies": [{"name": "quarterly", "kind": "calendar", "every": REBALANCE_EVERY}],
    }


def merge_overrides(table: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """The scenario table ``table`` with a benchmark row's ``overrides`` applied.

    Rules, per top-level key of ``overrides``:

    - a list (``policies``, ``flows``) or a scalar replaces the W1 value;
    - a table is merged key by key into the W1 section, except when it names a different
      ``kind`` (another model), which replaces the whole section;
    - a key whose value is ``None`` is removed (at the top level or inside a section).

    So ``{"costs": {"half_spread_bps": 5}}`` keeps the 10 bps commission and adds a spread,
    ``{"model": {"kind": "student_t", "df": 5, ...}}`` replaces the Gaussian model, and
    ``{"simulation": {"steps_per_year": 52}}`` changes only the step length.
    """
    out = copy.deepcopy(dict(table))
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
            continue
        base = out.get(key)
        if isinstance(value, Mapping) and isinstance(base, Mapping):
            if "kind" in value and value["kind"] != base.get("kind"):
                merged = {}
            else:
                merged = dict(base)
            for k, v in value.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = copy.deepcopy(v)
            out[key] = merged
        else:
            out[key] = copy.deepcopy(value)
    return out
