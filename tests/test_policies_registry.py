"""The built-in rule registry (kernels/_registry.py), slot declarations and event metrics."""

import ast
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest
from mcsim.kernels import layout, registry
from mcsim.kernels._layout import rule_state, slots

import mcsim
from mcsim.policies import (
    CPPI,
    POLICIES,
    Custom,
    EventMetric,
    Policy,
    register_policy,
    slot_array,
)

KERNELS = Path(registry.__file__).resolve().parent


def _entries() -> dict[str, registry.BuiltinRule]:
    return {
        name: value
        for name, value in vars(registry).items()
        if isinstance(value, registry.BuiltinRule)
    }


def _kinds_compared(func) -> set[str]:
    """Names ``X`` of the registry entries a dispatch compares ``kind`` with (``X.kind``)."""
    tree = ast.parse(inspect.getsource(func.py_func))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            if node.left.id == "kind":
                for right in node.comparators:
                    if isinstance(right, ast.Attribute) and right.attr == "kind":
                        names.add(right.value.id)
    return names


def test_every_entry_is_listed_once_with_a_unique_kind():
    entries = _entries()
    assert set(entries.values()) == set(registry.BUILTIN_RULES)
    kinds = [r.kind for r in registry.BUILTIN_RULES]
    assert len(set(kinds)) == len(kinds)
    assert all(k >= 0 for k in kinds)  # -1 is a custom rule


def test_dispatch_chains_cover_the_entries_and_their_properties():
    entries = _entries()
    # Buy and hold never trades: it is the chain's fall-through.
    assert _kinds_compared(registry.builtin_rebalance_nb) == set(entries) - {"BUY_AND_HOLD"}
    lazy = {name for name, r in entries.items() if r.lazy_weights}
    assert lazy <= _kinds_compared(registry.consult_builtin_nb)
    ruin = {name for name, r in entries.items() if r.ruin_event}
    assert _kinds_compared(registry.ruin_event_nb) == ruin
    for r in registry.BUILTIN_RULES:
        assert registry.lazy_weights_nb(r.kind) == r.lazy_weights


def test_every_builtin_policy_class_names_a_registry_entry():
    named = {cls.builtin for cls in POLICIES.values() if cls.builtin is not None}
    assert named == set(registry.BUILTIN_RULES)
    assert Custom.builtin is None


@pytest.mark.parametrize("rule", registry.BUILTIN_RULES, ids=lambda r: str(r.kind))
def test_slot_declarations_are_consecutive_and_states_count_events_first(rule):
    for decl in (rule.params, rule.state):
        assert list(decl) == list(range(len(decl)))
        assert decl._fields[-1] == "N_FIXED" and decl.N_FIXED == len(decl) - 1
    assert rule.state._fields[0] == "EVENTS" and rule.state.EVENTS == layout.STATE_EVENTS


def test_slot_declarations_reject_duplicate_names():
    with pytest.raises(ValueError, match="distinct"):
        slots("every", "EVERY")
    with pytest.raises(ValueError, match="N_FIXED"):
        rule_state("n_fixed")


def test_slot_array_fills_by_name_and_requires_every_slot():
    decl = slots("every", "offset", "floor")
    out = slot_array(decl, 2, floor=0.8, every=3, offset=1)
    np.testing.assert_array_equal(out, [3.0, 1.0, 0.8, 0.0, 0.0])
    with pytest.raises(TypeError, match=r"missing \['OFFSET'\]"):
        slot_array(decl, every=3, floor=0.8)
    with pytest.raises(TypeError, match=r"unknown \['FLOR'\]"):
        slot_array(decl, every=3, offset=1, floor=0.8, flor=1.0)


def test_event_metric_declarations():
    assert isinstance(CPPI.event_metric, EventMetric)
    assert CPPI.event_metric.name == "floor_breaches"
    assert CPPI.event_metric.higher_is_better is False
    assert Policy.event_metric is None
    others = [cls for cls in POLICIES.values() if cls is not CPPI]
    assert all(cls.event_metric is None for cls in others)
    assert layout.M_FLOOR_BREACHES == layout.M_POLICY_EVENTS


def _imports(path: Path) -> set[str]:
    """Modules imported by a kernels file: relative siblings as ``.name``, others absolute."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                out.add("." + (node.module or ""))
            else:
                out.add(node.module or "")
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def test_kernels_import_only_numpy_numba_and_siblings_without_cycles():
    graph = {p.stem: _imports(p) for p in KERNELS.glob("*.py")}
    for name, imported in graph.items():
        outside = {m for m in imported if not m.startswith(".")}
        # NumPy, Numba and the standard library only: nothing of mcsim, pandas or I/O.
        allowed = {"numpy", "numba", *sys.stdlib_module_names}
        assert {m.split(".")[0] for m in outside} <= allowed, name
    siblings = {
        name: {m[1:] for m in imported if m.startswith(".")} for name, imported in graph.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in siblings.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*trail, nxt])}"
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in siblings:
        if name not in state:
            visit(name, [name])


def test_policy_classes_register_themselves_by_kind():
    assert POLICIES["calendar"] is mcsim.Calendar and POLICIES["cppi"] is CPPI
    assert all(cls.kind == kind for kind, cls in POLICIES.items())

    class Twin(Policy):
        kind = "calendar"

    with pytest.raises(TypeError, match="already Calendar"):
        register_policy(Twin)

    class Nameless(Policy):
        pass

    with pytest.raises(TypeError, match="needs a `kind`"):
        register_policy(Nameless)
    assert "" not in POLICIES
