"""Rebalancing policies: what a user names in a scenario, turned into kernel inputs.

Each policy is a frozen dataclass. :meth:`Policy.to_kernel` resolves it against the run
(asset names, steps per year, the scenario's target) into a :class:`KernelPolicy`: the
integer kind of a built-in rule (or a user's compiled rule), its float64 parameters, the
initial value of its per-path state, and the target weights per step. Adding a built-in
policy means its rule kernel (with its slot declarations), its entry in the kernels'
registry (``kernels/_registry.py``), its class in a module of this package (naming the entry
as ``builtin``, filling its parameter array with :func:`slot_array`, and decorated with
:func:`register_policy`, which puts it in :data:`POLICIES`), and its test. A policy with its
own event metric declares it as ``event_metric``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._validation import as_str
from ..errors import ConfigError
from .allocation import CPPI, MeanVariance, RiskParity, TargetVolatility, VolatilityTarget
from .base import (
    POLICIES,
    EventMetric,
    KernelPolicy,
    Policy,
    PolicyContext,
    register_policy,
    slot_array,
)
from .custom import CodeReference, Custom, is_trusted_reference, load_function
from .rules import BuyAndHold, Calendar, CalendarThreshold, Threshold

__all__ = [
    "CPPI",
    "POLICIES",
    "BuyAndHold",
    "Calendar",
    "CalendarThreshold",
    "CodeReference",
    "Custom",
    "EventMetric",
    "KernelPolicy",
    "MeanVariance",
    "Policy",
    "PolicyContext",
    "RiskParity",
    "TargetVolatility",
    "Threshold",
    "VolatilityTarget",
    "is_trusted_reference",
    "load_function",
    "policy_from_config",
    "register_policy",
    "slot_array",
]


def policy_from_config(
    section: Mapping[str, Any], index: int, *, allow_code: bool = False
) -> Policy:
    """Build a policy from one ``[[policies]]`` table of a scenario.

    Parameters
    ----------
    section : mapping
        The policy's table.
    index : int
        Its position among the scenario's policies (named in errors).
    allow_code : bool
        Import a custom rule named as ``"package.module:function"``. Without it the name is
        kept as a :class:`CodeReference` and nothing is imported, unless it names a module
        of the ``mcsim`` package itself.
    """
    where = f"[[policies]] #{index + 1}"
    if not isinstance(section, Mapping):
        raise ConfigError(f"`{where}` must be a table with `name` and `kind`.")
    name = section.get("name")
    if isinstance(name, str) and name:
        where = f"[policies.{name}]"
    else:
        raise ConfigError(f"`{where}.name` is required: a unique label for the policy.")
    kind = as_str(section.get("kind", ""), f"{where}.kind", choices=sorted(POLICIES))
    spec = section.get("rebalance_nb")
    if kind == Custom.kind and isinstance(spec, str):
        if not (allow_code or is_trusted_reference(spec)):
            section = {**section, "rebalance_nb": CodeReference(spec)}
    try:
        return POLICIES[kind].from_config(section, where)
    except TypeError as e:
        raise ConfigError(f"`{where}`: {e}") from e
