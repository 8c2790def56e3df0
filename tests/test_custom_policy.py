"""Custom policies: a user's numba rule, from Python and from a scenario file."""

import tomllib
from pathlib import Path

import numpy as np
import pytest
from mcsim.kernels import layout
from numba import njit

import mcsim
from mcsim.errors import ConfigError
from mcsim.examples.rules import drift_or_calendar_nb, momentum_tilt_nb
from mcsim.testing import policies as references
from mcsim.testing.policies import run_policy

M = layout


def returns(seed=1, n_paths=40, n_steps=30, n_assets=3):
    rng = np.random.default_rng(seed)
    vol = np.linspace(0.1, 0.3, n_assets) / np.sqrt(12)
    return np.expm1(0.005 + vol * rng.standard_normal((n_paths, n_steps, n_assets)))


@pytest.mark.parametrize(
    ("params", "builtin"),
    [
        ([0.0, 1e9], mcsim.Calendar(name="b", every=1)),  # any drift triggers
        ([1.0, 12.0], mcsim.Calendar(name="b", every=12)),  # the step counter in `state`
        ([0.03, 1e9], mcsim.Threshold(name="b", drift=0.03)),
    ],
)
def test_custom_rule_reproduces_builtins_exactly(params, builtin):
    """The custom loop, the rule's params and its per-path state (reset at every path: 30
    steps is not a multiple of 12, so a state carried over would shift the calendar)."""
    r = returns()
    costs = mcsim.CostModel(proportional_bps=25)
    pol = mcsim.Custom(name="c", rebalance_nb=drift_or_calendar_nb, params=params, state_size=1)
    a = run_policy(pol, r, costs=costs)
    b = run_policy(builtin, r, costs=costs)
    np.testing.assert_array_equal(a[:, M.M_N_REBALANCES], b[:, M.M_N_REBALANCES])
    np.testing.assert_allclose(a[:, M.M_TERMINAL_WEALTH], b[:, M.M_TERMINAL_WEALTH], rtol=1e-13)


def test_custom_rule_sees_the_returns_so_far():
    """Momentum tilt: the best asset over the look-back gets the tilt; weights on the simplex."""
    r = np.zeros((1, 6, 3))
    r[0, :3, 1] = 0.05  # asset 1 leads over steps 0..2
    w_new = np.empty(3)
    target = np.array([0.5, 0.3, 0.2])
    params = np.array([3.0, 0.1, 3.0])
    assert momentum_tilt_nb(2, r[0], target, 1.0, target, params, np.zeros(1), w_new)
    np.testing.assert_allclose(w_new, [0.5 - 0.1 * 0.5 / 0.7, 0.4, 0.2 - 0.1 * 0.2 / 0.7])
    assert not momentum_tilt_nb(3, r[0], target, 1.0, target, params, np.zeros(1), w_new)


def test_custom_from_a_scenario_file():
    sc = mcsim.Scenario.from_toml("configs/bands_5_25.toml")
    custom = [p for p in sc.policies if isinstance(p, mcsim.Custom)]
    assert custom and custom[0].rebalance_nb is momentum_tilt_nb
    res = mcsim.run(sc, n_paths=60, seed=5)
    m = res.metric("n_rebalances")
    assert (m[custom[0].name] > 0).all()
    assert res.scenario.to_dict()["policies"][-1]["rebalance_nb"] == (
        "mcsim.examples.rules:momentum_tilt_nb"
    )


def test_example_rules_ship_as_their_own_package():
    """The bundled scenario's rule lives in mcsim.examples (in the wheel), not with the test
    references of mcsim.testing."""
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "mcsim.examples" in project["tool"]["setuptools"]["packages"]
    assert not hasattr(references, "momentum_tilt_nb")
    assert not hasattr(references, "drift_or_calendar_nb")
    assert momentum_tilt_nb.__module__ == "mcsim.examples.rules"


def test_custom_built_in_python_runs_in_a_scenario():
    table = {
        "simulation": {"n_paths": 30, "horizon_years": 3, "seed": 1},
        "model": {
            "kind": "gaussian",
            "assets": ["s", "b"],
            "mu": [0.06, 0.03],
            "vol": [0.16, 0.05],
            "corr": [[1, 0.1], [0.1, 1]],
        },
        "portfolio": {"target": {"s": 0.6, "b": 0.4}},
        "policies": [{"name": "annual", "kind": "calendar", "every": 12}],
    }
    base = mcsim.Scenario.from_dict(table)
    pol = mcsim.Custom(name="mine", rebalance_nb=drift_or_calendar_nb, params=[1.0, 12.0])
    sc = mcsim.Scenario(
        model=base.model, target=base.target, simulation=base.simulation,
        policies=[*base.policies, pol],
    )  # fmt: skip
    res = mcsim.run(sc)
    tw = res.metric("terminal_wealth")
    np.testing.assert_allclose(tw["mine"], tw["annual"], rtol=1e-13)


# -- errors caught at load, naming the policy ------------------------------------------------
def plain_python(t, returns, w, wealth, target, params, state, w_new):
    return False


@njit
def three_args(t, w, w_new):
    return False


@njit
def returns_float(t, returns, w, wealth, target, params, state, w_new):
    return 1.0


@njit
def forgets_w_new(t, returns, w, wealth, target, params, state, w_new):
    return True


@njit
def wrong_types(t, returns, w, wealth, target, params, state, w_new):
    return returns.shape[2] > 0  # treats returns as 3-D


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rebalance_nb": plain_python}, r"`\[policies.mine\].rebalance_nb` must be a numba"),
        ({"rebalance_nb": np.sum}, "must be a numba-compiled function"),
        ({"rebalance_nb": three_args}, r"takes 3 argument\(s\); the policy signature has 8"),
        ({"rebalance_nb": returns_float}, "must return a bool"),
        ({"rebalance_nb": forgets_w_new}, "returned True on a test call but left `w_new`"),
        ({"rebalance_nb": wrong_types}, r"\(wrong_types\) fails on a test call.*TypingError"),
        ({}, r"rebalance_nb` is required"),
        ({"rebalance_nb": "mcsim.examples.rules"}, "as 'package.module:function'"),
        ({"rebalance_nb": "no_such_module_xyz:f"}, "cannot import module 'no_such_module_xyz'"),
        ({"rebalance_nb": "mcsim.examples.rules:nope"}, "has no 'nope'"),
        ({"rebalance_nb": drift_or_calendar_nb, "state_size": 0}, r"state_size` must be >= 1"),
        ({"rebalance_nb": drift_or_calendar_nb, "params": ["a"]}, r"params\[0\]` must be a number"),
        ({"rebalance_nb": drift_or_calendar_nb, "params": 0.5}, r"params` must be a list"),
    ],
)
def test_custom_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        mcsim.Custom(name="mine", **kwargs)


def test_custom_unknown_key_in_scenario():
    from mcsim.policies import policy_from_config

    with pytest.raises(ConfigError, match=r"Unknown key `\[policies.x\].param`"):
        policy_from_config(
            {"name": "x", "kind": "custom", "param": [1.0],
             "rebalance_nb": "mcsim.examples.rules:momentum_tilt_nb"},
            0,
        )  # fmt: skip
