"""The step loops specialised per feature set and rule family (``kernels/_loops.py``).

A scenario must run in the smallest loop that serves it (an untaxed scenario never loads
a taxed loop), the features a loop lacks must be gone from its IR before typing (so they
are never compiled), loops must give the same numbers where they overlap, and a block
that does not fit its loop must fail loudly instead of giving wrong numbers.
"""

from __future__ import annotations

import ast
import gc
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mcsim.kernels import _engine, _loop_template, _loops, registry
from mcsim.kernels._feature_sets import (
    FEATURES_FRICTIONS,
    FEATURES_PLAIN,
    FEATURES_TAXED,
)
from numba import njit
from numba.core import ir
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import AnalysisPass, register_pass
from numba.core.untyped_passes import InlineInlinables

import mcsim
from mcsim import engine
from mcsim.loops import plan_feature_set
from mcsim.scenarios import scenario_path


def test_loops_module_is_the_rendered_template():
    text = Path(_loops.__file__).read_text(encoding="utf-8")
    assert text == _loop_template.render_builtin_loops(), (
        "kernels/_loops.py is stale: python -m mcsim.kernels._loop_template > kernels/_loops.py"
    )


def test_every_feature_set_and_family_has_a_loop():
    families = {r.family for r in registry.BUILTIN_RULES}
    features = {FEATURES_PLAIN, FEATURES_FRICTIONS, FEATURES_TAXED}
    assert set(_loops.LOOPS) == {(f, fam) for f in features for fam in families}
    for r in registry.BUILTIN_RULES:
        assert registry.family_of(r.kind) == r.family
        assert registry.family_of_nb(r.kind) == r.family


def _kinds_compared(func) -> set[str]:
    """Names ``X`` of the registry entries a dispatch compares ``kind`` with (``X.kind``)."""
    tree = ast.parse(inspect.getsource(func.py_func))
    return {
        right.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare) and getattr(node.left, "id", None) == "kind"
        for right in node.comparators
        if isinstance(right, ast.Attribute) and right.attr == "kind"
    }


@pytest.mark.parametrize(
    ("family", "consult", "dispatch"),
    [
        (registry.FAMILY_SIMPLE, registry.consult_simple_nb, registry.simple_rebalance_nb),
        (
            registry.FAMILY_ALLOCATION,
            registry.consult_allocation_nb,
            registry.allocation_rebalance_nb,
        ),
        (registry.FAMILY_LEARNED, registry.consult_learned_nb, registry.learned_rebalance_nb),
    ],
)
def test_each_family_consultation_runs_exactly_its_rules(family, consult, dispatch):
    entries = {n: v for n, v in vars(registry).items() if isinstance(v, registry.BuiltinRule)}
    mine = {n for n, r in entries.items() if r.family == family} - {"BUY_AND_HOLD"}
    inlined, called = _kinds_compared(consult), _kinds_compared(dispatch)
    assert inlined | called == mine
    assert not inlined & called  # a rule inlined by its consultation is not compiled twice


@pytest.mark.parametrize(
    ("name", "features", "families"),
    [
        ("default_60_40", FEATURES_PLAIN, {registry.FAMILY_SIMPLE}),
        # A band rule trades to its edges: the run's band rules share the frictions loop.
        ("bands_5_25", FEATURES_FRICTIONS, {registry.FAMILY_SIMPLE}),
        ("taxable_60_40", FEATURES_TAXED, {registry.FAMILY_SIMPLE}),
        ("frictions", FEATURES_FRICTIONS, {registry.FAMILY_SIMPLE}),
        ("cppi", FEATURES_PLAIN, {registry.FAMILY_SIMPLE, registry.FAMILY_ALLOCATION}),
    ],
)
def test_bundled_scenarios_select_the_smallest_loop(name, features, families):
    plan = mcsim.prepare(mcsim.Scenario.from_toml(name, allow_code=True))
    assert plan_feature_set(plan) == features
    builtin = [p for p in plan.policies if p.rebalance_nb is None]
    assert {registry.family_of(p.kind) for p in builtin} == families


_PROBE = """
import json, mcsim
from mcsim.kernels import _engine, _loops
mcsim.run(mcsim.Scenario.from_toml("default_60_40"), n_paths=100, seed=1, progress=False)
loaded = {name: len(d.signatures) for name, d in
          [(d.__name__, d) for d in _loops.LOOPS.values()]
          + [("simulate_policy_builtin_nb", _engine.simulate_policy_builtin_nb)]}
print(json.dumps(loaded))
"""


def test_a_plain_scenario_loads_only_the_plain_simple_loop(tmp_path):
    """In a new process, the default scenario's run compiles or loads one step loop."""
    # From an empty folder: in the repo root, `import mcsim` would find the source tree,
    # not the installed package (whose kernels live in mcsim.kernels).
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=tmp_path
    )
    assert probe.returncode == 0, probe.stderr
    out = probe.stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert loaded.pop("simulate_plain_simple_nb") == 1
    assert set(loaded.values()) == {0}, loaded


# --- pruning before typing -------------------------------------------------------------------
class _Globals(Exception):
    """Carries the names of the globals left in a loop's IR out of the compiler."""


@register_pass(mutates_CFG=False, analysis_only=True)
class _CollectGlobals(AnalysisPass):
    _name = "mcsim_test_collect_globals"

    def __init__(self):
        AnalysisPass.__init__(self)

    def run_pass(self, state):
        names = set()
        for block in state.func_ir.blocks.values():
            for assign in block.find_insts(ir.Assign):
                if isinstance(assign.value, (ir.Global, ir.FreeVar)):
                    names.add(getattr(assign.value.value, "__name__", ""))
        raise _Globals(names)


class _UntypedOnly(CompilerBase):
    """Numba's untyped pipeline (inlining and dead-branch pruning), then stop."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_untyped_pipeline(self.state)
        pm.add_pass(_CollectGlobals, "collect the globals left after pruning")
        pm.finalize()
        return [pm]


class _InlinedOnly(CompilerBase):
    """Numba's untyped pipeline up to inlining, before dead-branch pruning, then stop."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_untyped_pipeline(self.state)
        pm.add_pass_after(_CollectGlobals, InlineInlinables)
        pm.finalize()
        return [pm]


def _globals_before_typing(loop, pipeline=_UntypedOnly) -> set[str]:
    """The globals a loop's IR still uses when type inference would start (or, with
    ``_InlinedOnly``, once every inlined function is copied in, before pruning: the
    inlined functions' names are among them)."""
    plain = _loops.simulate_plain_simple_nb
    if not plain.signatures:  # every loop takes the same argument types
        mcsim.run(mcsim.Scenario.from_toml("default_60_40"), n_paths=20, seed=1, progress=False)
    probe = njit(pipeline_class=pipeline)(loop.py_func)
    with pytest.raises(Exception) as caught:
        probe.compile(plain.signatures[0])
    err = caught.value
    while not isinstance(err, _Globals) and err is not None:
        err = err.__cause__ or err.__context__
    assert isinstance(err, _Globals), caught.value
    return err.args[0]


# Compiled (not inlined) kernels that only taxes, frictions or other rule families call.
_TAXES = {"before_trading_nb", "year_end_nb", "rebalance_step_nb"}
_FRICTIONS = {"start_account_nb", "pending_weights_nb", "track_prices_nb", "flow_step_nb"}
_UNTAXED_FRICTIONS = {"rebalance_step_untaxed_nb"}
_OTHER_FAMILIES = {"allocation_rebalance_nb", "learned_rebalance_nb", "builtin_rebalance_nb"}
_EDGES = {"to_band_edge_nb"}
# Functions of the rebalances beyond plain execution, the price tracking and the flows:
# inlined into those compiled kernels, never copied into a step loop.
_BEHIND_KERNELS = {
    "rebalance_step_for_nb",
    "shape_trades_for_nb",
    "execution_costs_nb",
    "after_trading_nb",
    "after_market_nb",
    "scheduled_flow_nb",
    "place_flow_nb",
    "trade_tax_nb",
}


def test_the_plain_loop_has_no_tax_friction_or_other_rule_code_before_typing():
    plain = _globals_before_typing(_loops.simulate_plain_simple_nb)
    assert {"simple_rebalance_nb", "rebalance_plain_nb"} <= plain  # what it does run
    assert not plain & (_TAXES | _FRICTIONS | _UNTAXED_FRICTIONS | _OTHER_FAMILIES | _EDGES)
    frictions = _globals_before_typing(_loops.simulate_frictions_simple_nb)
    assert (_FRICTIONS | _UNTAXED_FRICTIONS | _EDGES) <= frictions
    assert not frictions & (_TAXES | _OTHER_FAMILIES)
    taxed = _globals_before_typing(_loops.simulate_taxed_simple_nb)
    assert (_TAXES | _FRICTIONS | _EDGES | {"simple_rebalance_nb"}) <= taxed
    assert not taxed & (_OTHER_FAMILIES | _UNTAXED_FRICTIONS)


@pytest.mark.parametrize("loop", [_loops.simulate_plain_simple_nb, _loops.simulate_taxed_simple_nb])
def test_no_loop_inlines_the_code_behind_its_compiled_friction_kernels(loop):
    """Numba inlines a function's whole tree before pruning it, so the friction and tax
    work a loop may skip sits behind compiled kernels: even before pruning, no loop's IR
    holds a copy of it (the plain loop's inlining took 5 s of a cold start with it)."""
    inlined = _globals_before_typing(loop, _InlinedOnly)
    assert "end_of_step_nb" in inlined  # the inlined phases are there
    assert not inlined & _BEHIND_KERNELS


# --- same numbers where loops overlap -------------------------------------------------------
def _metrics(name, n_paths=120, **kw):
    scenario = mcsim.Scenario.from_toml(scenario_path(name), allow_code=True)
    result = mcsim.run(scenario, n_paths=n_paths, seed=3, progress=False, **kw)
    return result.paths.to_numpy(), result.hist, result.wealth_array


def _assert_identical(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("name", "wider"),
    [
        ("default_60_40", FEATURES_FRICTIONS),
        ("default_60_40", FEATURES_TAXED),
        ("bands_5_25", FEATURES_TAXED),  # a custom rule's cached loops too
        ("frictions", FEATURES_TAXED),
    ],
)
def test_a_scenario_gives_the_same_numbers_in_a_wider_loop(name, wider, monkeypatch):
    smallest = _metrics(name, n_paths=60)
    monkeypatch.setattr(engine, "plan_feature_set", lambda plan: wider)
    _assert_identical(_metrics(name, n_paths=60), smallest)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default_60_40", "taxable_60_40", "cppi", "frictions"])
def test_the_specialised_loops_give_the_general_loops_numbers(name, monkeypatch):
    """The general loop (every feature and rule, decided at run time) as the reference;
    slow: it compiles the whole general loop on a cold cache."""
    specialised = _metrics(name, n_paths=60)
    general = _engine.simulate_policy_builtin_nb
    monkeypatch.setattr(engine, "builtin_loop", lambda features, pol: general)
    _assert_identical(_metrics(name, n_paths=60), specialised)


@pytest.mark.parametrize("name", ["taxable_60_40", "bands_5_25"])
def test_a_block_outside_its_loop_fails_loudly(name, monkeypatch):
    """Taxes, or a band rule trading to its edges, forced into the plain loop: refused (-1)."""
    monkeypatch.setattr(engine, "plan_feature_set", lambda plan: FEATURES_PLAIN)
    with pytest.raises(RuntimeError, match="does not fit"):
        _metrics(name, n_paths=20)


# --- the collector during the compile -------------------------------------------------------
@pytest.mark.parametrize("enabled", [True, False])
def test_the_warm_up_compiles_with_the_collector_paused_and_restores_it(enabled, monkeypatch):
    seen = []

    def fake_warm_up(plan):
        seen.append(gc.isenabled())
        raise KeyboardInterrupt  # an interrupted compile restores the collector too

    monkeypatch.setattr(engine, "_warm_up_kernels", fake_warm_up)
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine._warm_up(None)
        assert seen == [False]
        assert gc.isenabled() == enabled
    finally:
        gc.enable()
