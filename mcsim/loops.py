"""Which step loop runs each policy of a plan (``kernels/_loops.py``).

The feature set (``kernels._feature_sets``) is decided once for the whole run, from the
plan's frictions, taxes and band rules, so every built-in policy of one rule family shares
one loop and a first run compiles as few loops as it can.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .kernels._feature_sets import feature_set
from .kernels._loops import LOOPS
from .kernels._registry import family_of, trades_to_band_edges

if TYPE_CHECKING:
    from .plan import RunPlan
    from .policies import KernelPolicy

__all__ = ["builtin_loop", "plan_feature_set", "plan_loops"]


def plan_feature_set(plan: RunPlan) -> int:
    """The feature set (``FEATURES_*``) of every block of ``plan``: its frictions, taxes and
    flows, and whether any built-in policy (a sweep's grid points included) trades to its
    band edges."""
    policies = [*plan.policies, *plan.sweep_policies]
    band_edges = any(
        p.rebalance_nb is None and trades_to_band_edges(p.kind, p.params) for p in policies
    )
    return feature_set(plan.asset_params, plan.tax_params, band_edges, plan.flows)


def builtin_loop(features: int, pol: KernelPolicy) -> Any:
    """The entry kernel that runs built-in policy ``pol`` in feature set ``features``."""
    return LOOPS[features, family_of(pol.kind)]


def plan_loops(plan: RunPlan) -> list[Any]:
    """The distinct built-in step loops the plan's policies run, in a fixed order."""
    features = plan_feature_set(plan)
    policies = [p for p in [*plan.policies, *plan.sweep_policies] if p.rebalance_nb is None]
    families = sorted({family_of(p.kind) for p in policies})
    return [LOOPS[features, family] for family in families]
