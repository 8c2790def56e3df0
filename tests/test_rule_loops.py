"""The disk-cached step loop of a custom rule (``mcsim.rule_loops``).

The cached loop must give the numbers of the uncached one (the loop with the rule passed in),
be reused by a second process without compiling, and be compiled afresh when the rule's
source changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import pandas as pd
import pytest
from mcsim.kernels import simulate_policy_custom_nb

import mcsim
from mcsim import engine, rule_loops
from mcsim.examples.rules import momentum_tilt_nb


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder and no loop loaded yet in this process."""
    monkeypatch.setenv("MCSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(rule_loops, "_LOADED", {})
    # Loop modules imported by earlier tests of this process would be reused from memory.
    for name in [n for n in sys.modules if n.startswith("mcsim_rule_loop_")]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path / "cache" / "rule_loops"


def _run_with_rule(small_table, rule, n_jobs=1):
    table = small_table(simulation={"n_paths": 48, "block_size": 16})
    table["policies"] = [
        *table["policies"],
        {"name": "tilt", "kind": "custom", "rebalance_nb": rule, "params": [3, 0.05, 12]},
    ]
    sc = mcsim.Scenario.from_dict(table, allow_code=True)
    return mcsim.run(sc, seed=7, report=False, n_jobs=n_jobs)


def test_cached_loop_gives_the_uncached_loops_numbers(small_table, fresh_cache, monkeypatch):
    rule = "mcsim.examples.rules:momentum_tilt_nb"
    # Two threads: the first blocks ask for the loop at once.
    cached = _run_with_rule(small_table, rule, n_jobs=2)
    loop = rule_loops.rule_loop(momentum_tilt_nb)
    assert isinstance(loop, numba.core.registry.CPUDispatcher)
    assert [p.name for p in fresh_cache.glob("*.py")] == [f"{loop.py_func.__module__}.py"]

    def uncached(fn, features):
        return lambda *args: simulate_policy_custom_nb(fn, *args)

    monkeypatch.setattr(engine, "rule_loop", uncached)
    plain = _run_with_rule(small_table, rule)
    pd.testing.assert_frame_equal(cached.paths, plain.paths, check_exact=True)
    assert (cached.hist == plain.hist).all()
    assert (cached.wealth_array == plain.wealth_array).all()
    assert cached.paths.loc["tilt", "n_rebalances"].sum() > 0


def test_a_rule_outside_a_module_runs_in_the_uncached_loop(fresh_cache):
    @numba.njit
    def local_rule_nb(t, returns, w, wealth, target, params, state, w_new):
        return False

    loop = rule_loops.rule_loop(local_rule_nb)
    assert not isinstance(loop, numba.core.registry.CPUDispatcher)
    assert not fresh_cache.exists()


def test_a_rebuilt_dispatcher_of_the_same_code_gets_the_cached_loop(fresh_cache):
    """Unpickling a rule in a worker process rebuilds its dispatcher from the same code."""
    rebuilt = numba.njit(momentum_tilt_nb.py_func)
    assert rebuilt is not momentum_tilt_nb
    loop = rule_loops.rule_loop(rebuilt)
    assert isinstance(loop, numba.core.registry.CPUDispatcher)
    assert loop is rule_loops.rule_loop(momentum_tilt_nb)


_RULE = '''\
from numba import njit


@njit
def every_k_nb(t, returns, w, wealth, target, params, state, w_new):
    """Back to target every K steps."""
    state[0] += 1.0
    if state[0] >= K:
        state[0] = 0.0
        for i in range(w.size):
            w_new[i] = target[i]
        return True
    return False
'''

_PROBE = """\
import json, sys
import mcsim
from mcsim import rule_loops
from tests.conftest import _small_table

table = _small_table(simulation={"n_paths": 32, "block_size": 16})
table["policies"] = [{"name": "k", "kind": "custom", "rebalance_nb": "user_rules:every_k_nb"}]
sc = mcsim.Scenario.from_dict(table, allow_code=True)
res = mcsim.run(sc, seed=3, report=False)
import user_rules
from mcsim.kernels._feature_sets import feature_set
plan = mcsim.prepare(sc)
features = feature_set(plan.asset_params, plan.tax_params)
stats = rule_loops.rule_loop(user_rules.every_k_nb, features).stats
print(json.dumps({
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
    "rebalances": float(res.paths["n_rebalances"].to_numpy().sum()),
}))
"""


def _probe(tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "MCSIM_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).parents[1])]),
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# Two compiles of the step loop in child processes: about 30 s of CPU.
@pytest.mark.slow
def test_second_process_reuses_the_loop_and_a_changed_rule_recompiles(tmp_path):
    rule_file = tmp_path / "user_rules.py"
    rule_file.write_text(textwrap.dedent(_RULE).replace("K", "6.0"))
    first = _probe(tmp_path)
    assert first["misses"] >= 1 and first["hits"] == 0
    second = _probe(tmp_path)
    assert second == {**first, "hits": second["hits"], "misses": 0}
    assert second["hits"] >= 1

    rule_file.write_text(textwrap.dedent(_RULE).replace("K", "4.0"))
    changed = _probe(tmp_path)
    assert changed["misses"] >= 1 and changed["hits"] == 0
    assert changed["rebalances"] > first["rebalances"]
    assert len(list((tmp_path / "cache" / "rule_loops").glob("*.py"))) == 2
