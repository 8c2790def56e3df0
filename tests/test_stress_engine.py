"""Stresses, failure anatomy and historical windows, end to end through ``mcsim.run``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from mcsim.kernels import layout

import mcsim
from mcsim import engine
from mcsim.stress import apply_stress
from mcsim.testing.history import rolling_windows_reference, withdrawal_success_rate

W0 = 1000.0


def _one_asset(small_table, **sections):
    """Buy-and-hold of one asset, no costs: terminal wealth is W0 times the compounding."""
    table = small_table(
        model={
            "kind": "gaussian",
            "assets": ["stocks"],
            "mu": [0.07],
            "vol": [0.18],
            "corr": [[1.0]],
        },
        portfolio={"target": {"stocks": 1.0}},
        costs=None,
        policies=[{"name": "hold", "kind": "buy_and_hold"}],
    )
    table.update(sections)
    return mcsim.Scenario.from_dict(table)


def _shiller(columns, *, horizon=3, policies=None, target=None, inflation=None, **extra):
    data = {"source": "shiller", "columns": columns}
    if inflation is not None:
        data["inflation"] = inflation
    table = {
        "simulation": {
            "n_paths": 40,
            "horizon_years": horizon,
            "steps_per_year": 12,
            "block_size": 16,
            "seed": 7,
            "initial_wealth": W0,
            "keep_paths": 0,
        },
        "data": data,
        "model": {"kind": "gaussian"},
        "portfolio": {"target": target or {columns[0]: 1.0}},
        "policies": policies or [{"name": "hold", "kind": "buy_and_hold"}],
        **extra,
    }
    return mcsim.Scenario.from_dict(table)


def _monthly_data(column: str, start: str, end: str) -> np.ndarray:
    data = mcsim.load_returns("shiller")
    months = data.index.to_period("M")
    keep = (months >= pd.Period(start, "M")) & (months <= pd.Period(end, "M"))
    return data.loc[keep, column].to_numpy()


def test_a_minus_40_percent_shock_at_the_first_step_scales_terminal_wealth_by_0_6(small_table):
    sc = _one_asset(
        small_table,
        stresses=[{"name": "crash", "kind": "shock", "returns": {"stocks": -0.40}}],
    )
    res = mcsim.run(sc)
    stressed = res.stress_paths("crash")["terminal_wealth"].to_numpy()
    plain = res.paths["terminal_wealth"].to_numpy()
    np.testing.assert_allclose(stressed, 0.6 * plain, rtol=1e-12)
    row = res.stress.loc[("hold", "crash", "mean_terminal_wealth")]
    assert row["difference"] == pytest.approx(-0.4 * plain.mean(), rel=1e-12)
    assert row["ci95_low"] <= row["difference"] <= row["ci95_high"]


def test_replaying_an_episode_into_buy_and_hold_reproduces_the_data_compounding():
    # The financial crisis (16 months) at year 1 of a 3-year horizon.
    sc = _shiller(
        ["us_stocks_tr"],
        stresses=[
            {"name": "gfc", "kind": "historical", "episode": "financial_crisis", "at_year": 1}
        ],
    )
    res = mcsim.run(sc)
    episode = _monthly_data("us_stocks_tr", "2007-11", "2009-02")
    assert episode.size == 16
    for path in (0, 17, 39):
        r = engine.regenerate_path(res.plan, path)["us_stocks_tr"].to_numpy().copy()
        r[12:28] = episode
        expected = W0 * np.prod(1.0 + r)
        got = res.stress_paths("gfc").loc[("hold", path), "terminal_wealth"]
        assert got == pytest.approx(expected, rel=1e-12)
    # Over the window alone, the ratio of stressed to unstressed is the episode's compounding
    # relative to the draws it replaced.
    plain = res.paths.loc[("hold", 0), "terminal_wealth"]
    r0 = engine.regenerate_path(res.plan, 0)["us_stocks_tr"].to_numpy()
    ratio = np.prod(1.0 + episode) / np.prod(1.0 + r0[12:28])
    assert res.stress_paths("gfc").loc[("hold", 0), "terminal_wealth"] == pytest.approx(
        plain * ratio, rel=1e-12
    )


def test_replaying_an_episode_into_a_monthly_60_40_gives_the_product_of_portfolio_returns():
    cols = ["us_stocks_tr", "us_bonds_10y_tr"]
    sc = _shiller(
        cols,
        target={"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4},
        policies=[{"name": "monthly", "kind": "calendar", "frequency": "monthly"}],
        stresses=[
            {"name": "y2022", "kind": "historical", "episode": "stocks_bonds_2022", "at_year": 0}
        ],
    )
    res = mcsim.run(sc)
    ep = np.column_stack([_monthly_data(c, "2022-01", "2022-09") for c in cols])
    w = np.array([0.6, 0.4])
    for path in (0, 25):
        r = engine.regenerate_path(res.plan, path)[cols].to_numpy().copy()
        r[:9] = ep
        expected = W0 * np.prod(1.0 + r @ w)
        got = res.stress_paths("y2022").loc[("monthly", path), "terminal_wealth"]
        assert got == pytest.approx(expected, rel=1e-10)


def test_a_volatility_multiplier_of_one_and_a_drift_shift_of_zero_are_exact_no_ops(small_table):
    table = small_table(
        stresses=[
            {"name": "vol1", "kind": "volatility", "multiplier": 1.0, "at_year": 0, "years": 1},
            {"name": "drift0", "kind": "drift", "shift": 0.0, "at_year": 0, "years": 1},
        ]
    )
    res = mcsim.run(mcsim.Scenario.from_dict(table))
    for name in ("vol1", "drift0"):
        np.testing.assert_array_equal(res.stress_paths(name).to_numpy(), res.paths.to_numpy())
        assert (res.stress.xs(name, level="stress")["difference"].fillna(0.0) == 0.0).all()


def test_a_correlation_stress_reaches_its_target_within_the_standard_error(small_table):
    table = small_table(
        simulation={"n_paths": 4000, "block_size": 1000},
        stresses=[{"name": "corr", "kind": "correlation", "to": 0.9, "at_year": 1, "years": 1}],
    )
    plan = mcsim.prepare(mcsim.Scenario.from_dict(table))
    (resolved,) = plan.stresses
    n = 4000
    series = np.empty((n, plan.n_steps, 2))
    plan.fill_chunk(plan.block_rng(0), 0, series)
    stressed = np.empty_like(series)
    apply_stress(resolved, series, stressed)
    x = np.log1p(stressed[:, 12:24, :]).reshape(-1, 2)
    rho = np.corrcoef(x.T)[0, 1]
    se = (1 - 0.9**2) / np.sqrt(x.shape[0])
    assert abs(rho - 0.9) < 4 * se
    outside = np.log1p(stressed[:, :12, :]).reshape(-1, 2)
    assert abs(np.corrcoef(outside.T)[0, 1] - 0.2) < 4 * (1 - 0.04) / np.sqrt(outside.shape[0])
    # The same stress through a run changes only the stressed window's paths.
    res = mcsim.run(mcsim.Scenario.from_dict(small_table(stresses=table["stresses"])))
    assert not np.array_equal(res.stress_paths("corr").to_numpy(), res.paths.to_numpy())


def _stressed_table(small_table):
    return small_table(
        simulation={"n_paths": 80, "block_size": 16, "goal": 1100.0},
        stresses=[
            {"name": "crash", "kind": "shock", "returns": {"stocks": -0.3}, "at_year": 0.5},
            {"name": "panic", "kind": "volatility", "multiplier": 2.0, "at_year": 1, "years": 1},
            {"name": "lost", "kind": "drift", "shift": -0.05, "years": 2},
        ],
        failure={"below_goal": True, "max_drawdown_above": 0.2, "n_worst": 3},
    )


@pytest.fixture(scope="module")
def stressed_result(small_table):
    return mcsim.run(mcsim.Scenario.from_dict(_stressed_table(small_table)))


def _assert_same_stressed(a, b):
    np.testing.assert_array_equal(a.metrics_array, b.metrics_array)
    np.testing.assert_array_equal(a.stress_metrics_array, b.stress_metrics_array)
    np.testing.assert_array_equal(a.stress_hist, b.stress_hist)
    np.testing.assert_array_equal(a.features_array, b.features_array)


def test_stressed_results_are_bit_identical_for_any_number_of_jobs(small_table, stressed_result):
    sc = mcsim.Scenario.from_dict(_stressed_table(small_table))
    _assert_same_stressed(stressed_result, mcsim.run(sc, n_jobs=2))


def test_a_random_splice_is_bit_identical_for_any_jobs_and_differs_between_paths():
    sc = _shiller(
        ["us_stocks_tr"],
        horizon=5,
        stresses=[
            {"name": "gfc", "kind": "historical", "episode": "financial_crisis", "at": "random"}
        ],
    )
    a, b = mcsim.run(sc), mcsim.run(sc, n_jobs=2)
    _assert_same_stressed(a, b)
    ratio = a.stress_paths("gfc")["terminal_wealth"] / a.paths["terminal_wealth"]
    assert ratio.nunique() > 30  # each path got its own start step


def test_stressed_results_resume_after_a_kill_with_the_same_numbers(
    small_table, stressed_result, tmp_path, monkeypatch
):
    sc = mcsim.Scenario.from_dict(_stressed_table(small_table))
    real = engine.simulate_block

    def killed_at_block_2(plan, block):
        if block == 2:
            raise KeyboardInterrupt
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", killed_at_block_2)
    with pytest.raises(KeyboardInterrupt):
        mcsim.run(sc, checkpoint_dir=tmp_path)
    monkeypatch.undo()
    resumed = mcsim.run(sc, checkpoint_dir=tmp_path)
    assert resumed.timings["blocks_resumed"] == 2
    _assert_same_stressed(resumed, stressed_result)


def test_the_stress_table_pairs_each_policy_with_itself_unstressed(stressed_result):
    st = stressed_result.stress
    assert st.index.names == ["policy", "stress", "metric"]
    assert set(st.index.get_level_values("stress")) == {"crash", "panic", "lost"}
    assert "p_goal" in st.index.get_level_values("metric")
    crash = stressed_result.stress_paths("crash")["terminal_wealth"]
    plain = stressed_result.paths["terminal_wealth"]
    for pol in stressed_result.policy_names:
        row = st.loc[(pol, "crash", "mean_terminal_wealth")]
        d = (crash.xs(pol) - plain.xs(pol)).to_numpy()
        assert row["difference"] == pytest.approx(d.mean(), rel=1e-12)
        assert row["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(d.size), rel=1e-9)
        assert row["unstressed"] == pytest.approx(plain.xs(pol).mean(), rel=1e-12)
    # The stressed fan of the baseline starts at the initial wealth and is lower at the end.
    fan = stressed_result.stress_fan("crash").xs("buy_and_hold")
    assert fan["p50"].iloc[-1] < stressed_result.fan.xs("buy_and_hold")["p50"].iloc[-1]
    with pytest.raises(mcsim.ConfigError, match="Unknown stress 'nope'"):
        stressed_result.stress_paths("nope")


def test_the_failure_anatomy_reads_the_unstressed_paths_and_names_the_worst(stressed_result):
    anatomy = stressed_result.failure
    m = stressed_result.metrics_array
    fails = (m[:, :, layout.M_GOAL_MET] < 0.5) | (m[:, :, layout.M_MAX_DRAWDOWN] > 0.2)
    np.testing.assert_array_equal(anatomy.summary["n_failing"].to_numpy(), fails.sum(axis=1))
    worst = anatomy.worst.xs("buy_and_hold")["path"].to_numpy()
    tw = m[0, :, layout.M_TERMINAL_WEALTH]
    failing = np.flatnonzero(fails[0])
    np.testing.assert_array_equal(worst, failing[np.argsort(tw[failing], kind="stable")][:3])
    feats = anatomy.for_policy("buy_and_hold")
    # The first-5-years return of a 2-year horizon is undefined; the worst 12 months is not.
    assert feats.loc["worst_12m_return", "failing_n"] == fails[0].sum()


def test_a_run_into_a_folder_writes_stress_and_failure_files(small_table, tmp_path):
    sc = mcsim.Scenario.from_dict(_stressed_table(small_table))
    res = mcsim.run(sc, out=tmp_path, report=True)
    assert {"stress", "failure"} <= set(res.files)
    table = pd.read_csv(tmp_path / "stress.csv", index_col=[0, 1, 2])
    assert table.shape[0] == res.stress.shape[0]
    tidy = pd.read_csv(tmp_path / "failure.csv")
    assert list(tidy.columns) == ["policy", "feature", "group", "statistic", "value"]
    html = (tmp_path / "report.html").read_text()
    assert "Stress tests" in html and "Failure anatomy" in html
    assert "understate history" in html


def test_a_run_without_stresses_writes_no_stress_files_and_keeps_its_run_key(small_table):
    sc = mcsim.Scenario.from_dict(small_table())
    assert "stresses" not in sc.to_dict() and "failure" not in sc.to_dict()
    res = mcsim.run(sc)
    assert res.stress.empty and res.failure is None and res.window_starts is None


# -- history itself -------------------------------------------------------------------------


def _windows(columns, *, target, policies, inflation=None, flows=None, horizon=30):
    data = {"source": "shiller", "columns": columns}
    if inflation:
        data["inflation"] = inflation
    table = {
        "simulation": {"n_paths": 7, "horizon_years": horizon, "initial_wealth": W0},
        "data": data,
        "model": {"kind": "historical_windows"},
        "portfolio": {"target": target},
        "policies": policies,
    }
    if flows:
        table["flows"] = flows
    return mcsim.Scenario.from_dict(table)


@pytest.fixture(scope="module")
def windows_result():
    sc = _windows(
        ["us_stocks_tr", "us_bonds_10y_tr"],
        target={"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4},
        policies=[
            {"name": "monthly", "kind": "calendar", "frequency": "monthly"},
            {
                "name": "hold_stocks",
                "kind": "buy_and_hold",
                "target": {"us_stocks_tr": 1.0, "us_bonds_10y_tr": 0.0},
            },
        ],
    )
    return mcsim.run(sc)


def test_rolling_windows_are_every_start_month_and_n_paths_is_ignored(windows_result):
    res = windows_result
    assert res.scenario.simulation.n_paths == 1503
    assert len(res.window_starts) == 1503
    assert res.window_starts[0] == pd.Timestamp("1871-02-28")
    assert res.paths.xs("monthly").shape[0] == 1503


def test_rolling_windows_buy_and_hold_and_monthly_60_40_equal_the_data(windows_result):
    h = windows_result.history[["us_stocks_tr", "us_bonds_10y_tr"]].to_numpy()
    ref = rolling_windows_reference(h, 360)
    tw = windows_result.metric("terminal_wealth")
    np.testing.assert_allclose(
        tw["hold_stocks"].to_numpy(), W0 * np.prod(1.0 + ref[:, :, 0], axis=1), rtol=1e-10
    )
    np.testing.assert_allclose(
        tw["monthly"].to_numpy(), W0 * np.prod(1.0 + ref @ np.array([0.6, 0.4]), axis=1), rtol=1e-10
    )


def test_a_withdrawal_plan_success_rate_on_history_equals_the_plain_numpy_reference():
    cols = ["us_stocks_tr", "us_bonds_10y_tr"]
    rate = 0.04
    sc = _windows(
        cols,
        inflation="cpi_inflation",
        target={"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4},
        policies=[{"name": "monthly", "kind": "calendar", "frequency": "monthly"}],
        flows=[
            {
                "name": "spending",
                "amount": -rate * W0 / 12,
                "frequency": "monthly",
                "indexation": "inflation",
            }
        ],
    )
    res = mcsim.run(sc)
    h = res.history[[*cols, "cpi_inflation"]].to_numpy()
    ref = rolling_windows_reference(h, 360)
    expected = withdrawal_success_rate(
        ref[:, :, :2], np.array([0.6, 0.4]), rate, ref[:, :, 2], steps_per_year=12
    )
    got = 1.0 - res.metric("ruined")["monthly"].mean()
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.5 < got < 1.0


def test_paths_parquet_of_a_window_run_carries_the_window_start(tmp_path):
    sc = _windows(
        ["us_stocks_tr"],
        target={"us_stocks_tr": 1.0},
        policies=[{"name": "hold", "kind": "buy_and_hold"}],
        horizon=100,
    )
    res = mcsim.run(sc, out=tmp_path, report=False)
    paths = pd.read_parquet(tmp_path / "paths.parquet")
    assert "window_start" in paths.columns
    assert paths["window_start"].iloc[0] == res.window_starts[0]
    assert len(paths) == len(res.window_starts)
    # regenerate_path of a window is that window of the data.
    np.testing.assert_array_equal(
        engine.regenerate_path(res.plan, 5)["us_stocks_tr"].to_numpy(),
        res.history["us_stocks_tr"].to_numpy()[5:1205],
    )


def test_stresses_and_failure_from_python_classes():
    sc = mcsim.Scenario(
        model=mcsim.GaussianModel(names=["a"], mu=[0.05], vol=[0.2], corr=[[1.0]]),
        target={"a": 1.0},
        policies=[mcsim.BuyAndHold(name="hold")],
        stresses=[mcsim.Shock(name="crash", returns={"a": -0.4})],
        failure=mcsim.FailureConfig(ruin=True, cagr_below=0.0),
        simulation=mcsim.SimulationConfig(n_paths=50, seed=1, horizon_years=2),
    )
    res = mcsim.run(sc)
    np.testing.assert_allclose(
        res.stress_paths("crash")["terminal_wealth"], 0.6 * res.paths["terminal_wealth"], rtol=1e-12
    )
    cagr = res.metric("cagr")["hold"].to_numpy()
    assert res.failure.summary.loc["hold", "n_failing"] == int((cagr < 0).sum())
    assert sc.to_dict()["stresses"][0]["kind"] == "shock"
    with pytest.raises(mcsim.ConfigError, match=r"\[\[stresses\]\].name"):
        dataclasses.replace(sc, stresses=[mcsim.Shock(name="x", returns={"a": -0.1})] * 2)
