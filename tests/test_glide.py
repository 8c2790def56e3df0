"""Glide paths: target weights that change over the horizon, with any trigger."""

import numpy as np
import pytest
from mcsim.kernels import layout

import mcsim
from mcsim.errors import ConfigError
from mcsim.policies import PolicyContext
from mcsim.testing.policies import calendar_ref, run_policy, simulate_ref, threshold_ref

NAMES = ["stocks", "bonds"]
TABLE = {"years": [0, 10, 20, 30], "weights": [[0.9, 0.1], [0.7, 0.3], [0.5, 0.5], [0.3, 0.7]]}


def ctx(n_steps=12 * 40, steps_per_year=12, target=(0.6, 0.4)):
    return PolicyContext(
        asset_names=NAMES,
        steps_per_year=steps_per_year,
        n_steps=n_steps,
        target=np.asarray(target, float),
    )


def test_table_by_year_is_interpolated_and_constant_after_the_last_point():
    kp = mcsim.Calendar(name="c", every=12, glide=TABLE).to_kernel(ctx())
    times = np.arange(1, 12 * 40 + 1) / 12
    stocks = np.interp(times, TABLE["years"], [0.9, 0.7, 0.5, 0.3])
    np.testing.assert_allclose(kp.targets[:, 0], stocks, rtol=1e-14)
    np.testing.assert_allclose(kp.targets.sum(axis=1), 1.0, rtol=1e-15)
    assert kp.targets[12 * 5 - 1, 0] == pytest.approx(0.8)  # year 5: halfway 0.9 -> 0.7
    np.testing.assert_allclose(kp.targets[12 * 30 - 1 :, 0], 0.3)  # held after year 30
    np.testing.assert_allclose(kp.w_init, [0.9, 0.1])  # the path at year 0


def test_table_by_asset_name_equals_rows_in_asset_order():
    by_name = {
        "years": TABLE["years"],
        "weights": {"bonds": [0.1, 0.3, 0.5, 0.7], "stocks": [0.9, 0.7, 0.5, 0.3]},
    }
    a = mcsim.Threshold(name="a", band=0.05, glide=TABLE).to_kernel(ctx())
    b = mcsim.Threshold(name="b", band=0.05, glide=by_name).to_kernel(ctx())
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.w_init, b.w_init)


def test_points_after_year_zero_hold_the_first_row_before_it():
    glide = {"years": [5, 15], "weights": [[0.8, 0.2], [0.4, 0.6]]}
    kp = mcsim.Calendar(name="c", every=1, glide=glide).to_kernel(ctx(n_steps=12 * 20))
    np.testing.assert_allclose(kp.w_init, [0.8, 0.2])
    np.testing.assert_allclose(kp.targets[: 12 * 5, 0], 0.8)
    assert kp.targets[12 * 10 - 1, 0] == pytest.approx(0.6)
    np.testing.assert_allclose(kp.targets[12 * 15 - 1 :, 0], 0.4)


def test_straight_line_from_the_target_to_the_end_weights():
    pol = mcsim.Calendar(name="c", every=3, glide={"end": {"stocks": 0.2, "bonds": 0.8}})
    kp = pol.to_kernel(ctx(n_steps=12 * 20))  # end_year defaults to the horizon (20)
    t = np.arange(1, 241) / 12
    np.testing.assert_allclose(kp.targets[:, 0], 0.6 + (0.2 - 0.6) * t / 20, rtol=1e-13)
    np.testing.assert_allclose(kp.w_init, [0.6, 0.4])
    # An explicit start, a window, and the policy's own target as start.
    pol = mcsim.Calendar(
        name="c",
        every=3,
        glide={"start": [1.0, 0.0], "end": [0.5, 0.5], "start_year": 5, "end_year": 10},
    )
    kp = pol.to_kernel(ctx(n_steps=12 * 20))
    np.testing.assert_allclose(kp.targets[: 12 * 5, 0], 1.0)
    assert kp.targets[12 * 7 + 5, 0] == pytest.approx(1.0 - 0.5 * 2.5 / 5)
    np.testing.assert_allclose(kp.targets[12 * 10 - 1 :, 0], 0.5)
    pol = mcsim.Calendar(
        name="c", every=3, target={"stocks": 0.8, "bonds": 0.2}, glide={"end": [0.4, 0.6]}
    )
    np.testing.assert_allclose(pol.to_kernel(ctx(n_steps=120)).w_init, [0.8, 0.2])


@pytest.mark.parametrize(
    ("policy", "rule"),
    [
        (mcsim.Calendar(name="c", every=6, glide=TABLE), calendar_ref),
        (mcsim.Threshold(name="t", band=0.04, glide=TABLE, flows="rebalance"), threshold_ref),
        (
            mcsim.Threshold(name="e", band=0.04, relative_band=0.2, trade_to="edge", glide=TABLE),
            threshold_ref,
        ),
    ],
    ids=lambda x: getattr(x, "name", ""),
)
def test_glide_with_triggers_matches_numpy_twin(policy, rule):
    """The engine follows the moving target exactly as the NumPy twin does (with a monthly
    contribution, placed as the policy says)."""
    rng = np.random.default_rng(9)
    n_steps = 12 * 35
    r = np.expm1(0.004 + np.array([0.045, 0.015]) * rng.standard_normal((20, n_steps, 2)))
    flows = [mcsim.CashFlow(amount=0.005, every=1)]
    m = run_policy(
        policy,
        r,
        asset_names=NAMES,
        target=[0.6, 0.4],
        flows=flows,
        costs=mcsim.CostModel(proportional_bps=10),
    )
    kp = policy.to_kernel(ctx(n_steps=n_steps))
    from mcsim.flows import flows_array

    ref = simulate_ref(
        rule,
        kp.params,
        kp.targets,
        kp.w_init,
        r,
        proportional=0.001,
        flows=flows_array(flows, 12),
        flow_mode=int(kp.exec_params[layout.EP_FLOW_MODE]),
    )
    np.testing.assert_allclose(m[:, layout.M_TERMINAL_WEALTH], ref["terminal_wealth"], rtol=1e-11)
    np.testing.assert_array_equal(m[:, layout.M_N_REBALANCES], ref["n_rebalances"])


def test_glide_calendar_every_step_holds_the_path_weights():
    """Rebalancing every step to the glide path in a market where both assets return the
    same: wealth grows at that return, and a one-asset-up market shows the weights."""
    n_steps = 12 * 30
    r = np.zeros((1, n_steps, 2))
    r[0, -1, 0] = 1.0  # stocks double in the last month only
    m = run_policy(mcsim.Calendar(name="c", every=1, glide=TABLE), r, asset_names=NAMES)
    # Before the last month the weights are the glide path at 29 11/12 years.
    w_stocks = np.interp(30 - 1 / 12, TABLE["years"], [0.9, 0.7, 0.5, 0.3])
    assert m[0, layout.M_TERMINAL_WEALTH] == pytest.approx(1.0 + w_stocks, rel=1e-12)


def test_glide_scenario_runs_from_toml():
    sc = mcsim.Scenario.from_toml("configs/glide_path.toml")
    res = mcsim.run(sc, n_paths=100, seed=2)
    assert set(res.policy_names) >= {"glide_annual", "glide_band"}
    assert np.all(res.metrics_array[:, :, layout.M_TERMINAL_WEALTH] > 0)
    assert sc.to_dict()["policies"][1]["glide"]["years"] == [0, 10, 20, 30]


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("glide", "match"),
    [
        (
            {"years": [0, 10], "weights": [[0.9, 0.1], [0.7, 0.2]]},
            r"glide.weights` row 2 \(year 10\) sums to 0.9",
        ),
        (
            {"years": [0, 10], "weights": {"stocks": [0.9, 0.7], "bonds": [0.1, 0.4]}},
            r"row 2 \(year 10\) sums to 1.1",
        ),
        ({"years": [0, 10, 10], "weights": [[1, 0], [1, 0], [1, 0]]}, "must increase strictly"),
        ({"years": [0, 10], "weights": [[1, 0]]}, "one row per year"),
        ({"years": [0, 10], "weights": {"stocks": [1.0]}}, "one weight per year"),
        ({"years": [], "weights": []}, "non-empty list"),
        ({"years": [-1, 10], "weights": [[1, 0], [1, 0]]}, r"years\[0\]` must be >= 0"),
        ({"years": [0], "weights": [[1.2, -0.2]]}, r"must be >= 0"),
        ({"years": [0], "weights": [[1, 0]], "end": [1, 0]}, "use one form"),
        ({"start_year": 3}, "needs `end`"),
        ({"end": [0.5, 0.5], "start_year": 5, "end_year": 5}, "must be after `start_year`"),
        ({"end": [0.5, 0.6]}, r"glide.end` sums to 1.1"),
        ({"ends": [0.5, 0.5]}, r"Unknown key .*glide.ends.*Did you mean `end`"),
        ([0.5, 0.5], "must be a table"),
    ],
)
def test_glide_validation(glide, match):
    with pytest.raises(ConfigError, match=match):
        mcsim.Calendar(name="c", every=12, glide=glide)


def test_glide_validation_against_the_assets():
    with pytest.raises(ConfigError, match="has 3 weights but there are 2 assets"):
        mcsim.Calendar(
            name="c", every=12, glide={"years": [0], "weights": [[0.5, 0.25, 0.25]]}
        ).to_kernel(ctx())
    with pytest.raises(ConfigError, match="unknown asset 'gold'"):
        mcsim.Calendar(
            name="c", every=12, glide={"years": [0], "weights": {"stocks": [0.5], "gold": [0.5]}}
        ).to_kernel(ctx())
    with pytest.raises(ConfigError, match="both `target` and a glide-path table"):
        mcsim.Calendar(name="c", every=12, target={"stocks": 1.0, "bonds": 0.0}, glide=TABLE)
    with pytest.raises(ConfigError, match=r"must be after `start_year` \(40\)"):
        mcsim.Calendar(name="c", every=12, glide={"end": [0.5, 0.5], "start_year": 40}).to_kernel(
            ctx(n_steps=120)
        )
