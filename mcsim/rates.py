"""Measured speeds of the kernels, to estimate a run's time before it runs (``mcsim validate``).

``rates.json`` (package data) is written by ``benchmarks/measure_rates.py`` on one machine:
nanoseconds per path-step-series of each model's draws, nanoseconds per path-step-asset of
each policy kind's step loop, and the seconds of a cold compile of the default scenario. An
estimate scales them by the run's paths, steps, series, assets, policies, stresses and
workers; it is a guide (within a factor of about two on a machine like the one measured),
not a promise.
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plan import RunPlan

__all__ = ["RATES_FILE", "compile_seconds", "estimate_run_seconds", "load_rates"]

RATES_FILE = "rates.json"


@cache
def load_rates() -> dict[str, Any]:
    """The measured rates (see the module's docstring), read once."""
    text = resources.files("mcsim").joinpath(RATES_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def compile_seconds() -> float:
    """Seconds a cold compile of the default scenario took where the rates were measured."""
    return float(load_rates()["compile_s"])


def _rate(table: dict[str, float], kind: str) -> float:
    # A kind measured nowhere (a new one) counts as the slowest measured one.
    return float(table.get(kind, max(table.values())))


def estimate_run_seconds(plan: RunPlan, n_jobs: int, *, with_factor: bool = True) -> float:
    """Seconds of simulation for ``plan`` on ``n_jobs`` workers, from the measured rates.

    ``paths x steps x (model ns x series + sum over policies of policy ns x assets) x
    (1 + stresses) x run_factor``, divided by the workers that can run at once (at most one
    per core and one per block). ``run_factor`` is the measured ratio of whole runs to the
    sum of their parts (1 when not measured, or with ``with_factor=False``). Compiling and
    writing files are not included.
    """
    rates = load_rates()
    sim = plan.scenario.simulation
    kinds = {p.name: p.kind for p in plan.scenario.all_policies}
    n_series = len(plan.series_names)
    n_assets = len(plan.asset_names)
    variants = 1 + len(plan.stresses)
    per_path_step = _rate(rates["model_ns_per_series_step"], plan.model.kind) * n_series
    per_path_step *= variants
    # A sweep's grid points run beside the named policies on every path.
    for pol in (*plan.policies, *plan.sweep_policies):
        kind = kinds.get(pol.name, "custom")
        per_path_step += _rate(rates["policy_ns_per_asset_step"], kind) * n_assets * variants
    workers = max(1, min(n_jobs, os.cpu_count() or 1, sim.n_blocks))
    factor = float(rates.get("run_factor") or 1.0) if with_factor else 1.0
    return sim.n_paths * plan.n_steps * per_path_step * factor * 1e-9 / workers
