"""Labelled results: summaries, tail means, paired comparisons, fan chart, files, manifest.

Every statistic is recomputed by hand from the per-path table and compared.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

import mcsim
from mcsim import METRICS
from mcsim.metrics import (
    COMPARED,
    EVENT_COLUMN,
    EventMetric,
    declared_event_metric,
    run_metrics,
)
from mcsim.metrics import METRICS as BASE_METRICS
from mcsim.saving import save_result
from mcsim.sketch import HIST_WIDTH

METRIC_NAMES = list(METRICS)

N_PATHS = 200
QUANTILES = [0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99]
Q_LABELS = ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def result(small_table):
    table = small_table(
        simulation={"n_paths": N_PATHS, "block_size": 64, "horizon_years": 3, "keep_paths": 10},
    )
    return mcsim.run(mcsim.Scenario.from_dict(table))


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    return out, result.save(out)


def test_per_path_table(result):
    paths = result.paths
    assert paths.index.names == ["policy", "path"]
    assert list(paths.columns) == METRIC_NAMES
    assert paths.shape == (3 * N_PATHS, len(METRICS))
    assert list(paths.index.get_level_values("policy").unique()) == result.policy_names
    for k, pol in enumerate(result.policy_names):
        for name, info in METRICS.items():
            np.testing.assert_array_equal(
                paths.loc[pol, name].to_numpy(), result.metrics_array[k, :, info.column]
            )
    wide = result.metric("terminal_wealth")
    assert list(wide.columns) == result.policy_names and wide.index.name == "path"
    np.testing.assert_array_equal(wide["quarterly"], paths.loc["quarterly", "terminal_wealth"])
    with pytest.raises(KeyError, match="Unknown metric 'wealth'"):
        result.metric("wealth")


def test_summary_shape_and_labels(result):
    s = result.summary
    assert s.index.names == ["policy", "metric"]
    assert list(s.index) == [(p, m) for p in result.policy_names for m in METRIC_NAMES]
    assert list(s.columns) == ["count", "mean", "std", "se", *Q_LABELS, "cvar05"]
    table = result.table()
    assert list(table.index) == result.policy_names
    assert list(table.columns) == [
        "terminal_wealth",
        "cagr",
        "volatility",
        "max_drawdown",
        "turnover",
        "costs",
        "loss",
    ]


@pytest.mark.parametrize("metric", ["terminal_wealth", "cagr", "max_drawdown", "turnover"])
def test_summary_statistics_by_hand(result, metric):
    for pol in result.policy_names:
        x = result.metric(metric)[pol].to_numpy()
        row = result.summary.loc[(pol, metric)]
        assert row["count"] == N_PATHS
        assert row["mean"] == pytest.approx(x.mean(), rel=1e-12, abs=1e-15)
        assert row["std"] == pytest.approx(x.std(ddof=1), rel=1e-12, abs=1e-15)
        assert row["se"] == pytest.approx(x.std(ddof=1) / math.sqrt(N_PATHS), rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(row[Q_LABELS].to_numpy(float), np.quantile(x, QUANTILES))


def test_summary_of_a_metric_without_values(result):
    # Nobody ran out of money: ruin_year is NaN on every path, so it has no statistics.
    row = result.summary.loc[("buy_and_hold", "ruin_year")]
    assert row["count"] == 0
    assert row.drop("count").isna().all()


@pytest.mark.parametrize(
    ("metric", "higher_is_better"),
    [("terminal_wealth", True), ("cagr", True), ("max_drawdown", False), ("volatility", False)],
)
def test_cvar_is_the_mean_of_the_worst_five_percent(result, metric, higher_is_better):
    assert METRICS[metric].higher_is_better is higher_is_better
    k = math.ceil(0.05 * N_PATHS)  # 10 worst paths of 200
    for pol in result.policy_names:
        x = np.sort(result.metric(metric)[pol].to_numpy())
        worst = x[:k] if higher_is_better else x[::-1][:k]
        assert result.summary.loc[(pol, metric), "cvar05"] == pytest.approx(worst.mean(), rel=1e-12)
        if x[0] != x[-1]:
            # The tail mean lies beyond the 5 % quantile, on the bad side.
            q = np.quantile(x, 0.05 if higher_is_better else 0.95)
            assert (worst.mean() <= q) if higher_is_better else (worst.mean() >= q)


def test_comparison_by_hand(result):
    c = result.comparison
    others = [p for p in result.policy_names if p != result.baseline]
    assert result.baseline == "buy_and_hold"
    assert list(c.index) == [(p, m) for p in others for m in COMPARED]
    assert list(c.columns) == [
        "count",
        "mean_diff",
        "se",
        "ci95_low",
        "ci95_high",
        "prob_higher",
        "prob_lower",
    ]
    for pol in others:
        for metric in ("terminal_wealth", "max_drawdown", "costs"):
            wide = result.metric(metric)
            d = (wide[pol] - wide[result.baseline]).to_numpy()
            row = c.loc[(pol, metric)]
            se = d.std(ddof=1) / math.sqrt(d.size)
            assert row["count"] == N_PATHS
            assert row["mean_diff"] == pytest.approx(d.mean(), rel=1e-12, abs=1e-12)
            assert row["se"] == pytest.approx(se, rel=1e-12, abs=1e-15)
            assert row["ci95_low"] == pytest.approx(d.mean() - Z95 * se, rel=1e-12, abs=1e-12)
            assert row["ci95_high"] == pytest.approx(d.mean() + Z95 * se, rel=1e-12, abs=1e-12)
            assert row["prob_higher"] == np.mean(d > 0)
            assert row["prob_lower"] == np.mean(d < 0)
    # Rebalancing pays costs that buy-and-hold never pays.
    assert c.loc[("quarterly", "costs"), "prob_higher"] == 1.0


def test_fan_quantiles_within_one_bin_of_exact_quantiles(result):
    fan = result.fan
    w0 = result.scenario.simulation.initial_wealth
    assert fan.index.names == ["policy", "year"]
    assert list(fan.columns) == Q_LABELS
    years = [0.0, 1.0, 2.0, 3.0]
    for pol in result.policy_names:
        assert list(fan.loc[pol].index) == years
        # At the start every path holds exactly w0.
        np.testing.assert_array_equal(fan.loc[(pol, 0.0)].to_numpy(float), w0)
        # The sketch's quantile p is interpolated inside the bin holding the order statistic
        # of rank ceil(p * n) (the inverted-CDF quantile), so they are less than one bin
        # (0.005 in log wealth) apart.
        x = result.metric("terminal_wealth")[pol].to_numpy()
        exact = np.quantile(x, QUANTILES, method="inverted_cdf")
        sketch = fan.loc[(pol, 3.0)].to_numpy(float)
        gap = np.abs(np.log(sketch / w0) - np.log(exact / w0))
        assert np.all(gap <= HIST_WIDTH + 1e-12), gap
    # Quantiles increase across columns at every year.
    assert np.all(np.diff(fan.to_numpy(float), axis=1) >= 0)


def test_sample_paths(result):
    sp = result.sample_paths
    n_steps = result.scenario.simulation.n_steps
    assert sp.index.names == ["policy", "path"]
    assert sp.shape == (3 * 10, n_steps + 1)
    assert list(sp.columns) == list(range(n_steps + 1))
    np.testing.assert_array_equal(sp[0].to_numpy(), result.scenario.simulation.initial_wealth)
    for pol in result.policy_names:
        np.testing.assert_array_equal(
            sp.loc[pol, n_steps].to_numpy(),
            result.metric("terminal_wealth")[pol].to_numpy()[:10],
        )
        np.testing.assert_array_equal(
            sp.loc[pol].min(axis=1).to_numpy(),
            result.metric("min_wealth")[pol].to_numpy()[:10],
        )


def test_save_writes_the_documented_files(result, saved):
    out, files = saved
    assert sorted(files) == sorted(
        ["paths", "summary", "comparison", "fan", "sample_paths", "manifest", "report"]
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "paths.parquet",
            "summary.csv",
            "comparison.csv",
            "fan.csv",
            "sample_paths.parquet",
            "manifest.json",
            "report.html",
        ]
    )
    for p in files.values():
        assert p.parent == out and p.stat().st_size > 0
    # One row per policy and path, every metric a column.
    paths = pd.read_parquet(files["paths"])
    assert list(paths.columns) == ["policy", "path", *METRIC_NAMES]
    assert len(paths) == 3 * N_PATHS
    assert not paths.duplicated(["policy", "path"]).any()
    back = paths.assign(policy=paths["policy"].astype(str)).set_index(["policy", "path"])
    pd.testing.assert_frame_equal(back, result.paths, check_exact=True, check_index_type=False)

    summary = pd.read_csv(files["summary"], index_col=[0, 1])
    assert list(summary.columns) == list(result.summary.columns)
    pd.testing.assert_frame_equal(summary, result.summary, check_dtype=False, rtol=1e-14)
    comparison = pd.read_csv(files["comparison"], index_col=[0, 1])
    pd.testing.assert_frame_equal(comparison, result.comparison, check_dtype=False, rtol=1e-14)
    fan = pd.read_csv(files["fan"], index_col=[0, 1])
    pd.testing.assert_frame_equal(fan, result.fan, check_dtype=False, rtol=1e-14)

    sp = pd.read_parquet(files["sample_paths"])
    n_steps = result.scenario.simulation.n_steps
    assert list(sp.columns) == ["policy", "path", *[str(i) for i in range(n_steps + 1)]]
    assert len(sp) == 3 * 10
    assert "<html" in files["report"].read_text()[:2000].lower()


def test_save_without_report(result, tmp_path):
    files = result.save(tmp_path / "r", report=False)
    assert "report" not in files and len(files) == 6
    assert not (tmp_path / "r" / "report.html").exists()
    assert [p.name for p in (tmp_path / "r").iterdir() if p.name.startswith(".")] == []


def test_manifest(result, saved):
    _, files = saved
    m = json.loads(files["manifest"].read_text())
    assert m["mcsim_version"] == mcsim.__version__
    assert m["scenario"] == json.loads(json.dumps(result.scenario.to_dict()))
    assert m["seed"]["entropy"] == str(result.entropy)
    assert m["seed"]["given"] == result.scenario.simulation.seed
    assert m["seed"]["block_size"] == 64 and m["seed"]["n_blocks"] == 4
    assert m["model"] == json.loads(json.dumps(result.plan.model.params()))
    assert m["assets"] == ["stocks", "bonds"]
    for lib in ("python", "numpy", "numba", "pandas", "scipy", "joblib"):
        assert m["versions"][lib]
    assert m["versions"]["numpy"] == np.__version__
    assert m["sketch"]["width"] == HIST_WIDTH
    assert {"prepare_s", "simulate_s", "blocks_resumed", "n_jobs"} <= set(m["timings"])


def test_manifest_replays_the_run(result, saved):
    """The manifest's scenario and entropy are enough to get the same numbers again."""
    m = json.loads(saved[1]["manifest"].read_text())
    again = mcsim.run(mcsim.Scenario.from_dict(m["scenario"]), seed=int(m["seed"]["entropy"]))
    np.testing.assert_array_equal(again.metrics_array, result.metrics_array)
    np.testing.assert_array_equal(again.hist, result.hist)


def test_repr(result):
    text = repr(result)
    assert "200 paths x 36 steps" in text and "baseline 'buy_and_hold'" in text


# -- a result is a frozen value ---------------------------------------------------------------


def test_a_result_refuses_attribute_assignment(result):
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.baseline = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del result.scenario
    with pytest.raises(ValueError, match="read-only"):
        result.metrics_array[0, 0, 0] = 1.0
    with pytest.raises(TypeError):
        result.files["paths"] = "x"  # type: ignore[index]


def test_frames_are_computed_once(result):
    assert result.summary is result.summary
    assert result.paths is result.paths
    assert result.fan is result.fan


def test_views_need_no_plan(result):
    plan = result.plan
    assert result.asset_names == plan.asset_names
    assert result.series_names == plan.series_names
    assert result.model is plan.model
    np.testing.assert_array_equal(result.grid_steps, plan.grid_steps)
    assert result.inflation_series is None


def test_save_result_is_what_save_does(result, saved, tmp_path):
    _, files = saved
    again = save_result(result, tmp_path, report=False)
    assert [p.name for p in again.values()] == [
        p.name for p in files.values() if p.suffix != ".html"
    ]
    for kind in ("summary", "comparison", "fan"):
        assert again[kind].read_bytes() == files[kind].read_bytes()


def test_with_files_keeps_the_frames_already_computed(result, tmp_path):
    summary = result.summary
    recorded = result.with_files({"summary": tmp_path / "summary.csv"})
    assert recorded.summary is summary
    assert recorded.files == {"summary": tmp_path / "summary.csv"}
    assert result.files == {}


# -- event metrics declared by policies ------------------------------------------------------


class _Plain:
    pass


class _Breaches:
    event_metric = EventMetric("floor_breaches", "Steps below the floor", "count", False)


class _Alarms:
    event_metric = EventMetric("alarms", "Steps an alarm rang", "count", False)


def test_run_metrics_are_the_base_metrics_and_the_declared_ones():
    assert list(run_metrics([_Plain()])) == list(BASE_METRICS)
    table = run_metrics([_Plain(), _Alarms(), _Breaches, _Alarms()])
    names = list(table)
    assert [n for n in names if n not in BASE_METRICS] == ["alarms", "floor_breaches"]
    # Event metrics sit at the kernel's event column, between the base metrics around it.
    assert names.index("alarms") == names.index("dividends") + 1
    assert table["alarms"].column == EVENT_COLUMN
    assert table["alarms"].event == _Alarms.event_metric
    assert table["terminal_wealth"].event is None


def test_an_event_metric_words_its_report_section_from_its_description_by_default():
    e = _Alarms.event_metric
    assert (e.title, e.anchor, e.intro) == ("Steps an alarm rang", "alarms", "Steps an alarm rang.")
    assert (e.occurrence, e.count_label) == ("an event", "Steps an alarm rang")
    cppi = mcsim.CPPI.event_metric
    assert (cppi.anchor, cppi.title, cppi.occurrence) == (
        "floor",
        "CPPI floor breaches",
        "a breach",
    )
    assert cppi.description == "Steps below the CPPI floor, ruin step included"


def test_conflicting_event_metrics_are_refused():
    class Other:
        event_metric = EventMetric("alarms", "something else", "count", True)

    class Shadow:
        event_metric = EventMetric("cagr", "a base name", "fraction", True)

    with pytest.raises(ValueError, match="different event metrics named 'alarms'"):
        run_metrics([_Alarms, Other])
    with pytest.raises(ValueError, match="name of a base metric"):
        run_metrics([Shadow])
    with pytest.raises(ValueError, match="identifier"):
        EventMetric("two words", "", "count", False)


def test_cppi_declares_its_floor_breaches_and_results_pick_them_up(small_table):
    assert declared_event_metric(mcsim.CPPI).name == "floor_breaches"
    table = small_table(
        policies=[
            {"name": "hold", "kind": "buy_and_hold"},
            {
                "name": "cppi",
                "kind": "cppi",
                "safe_asset": "bonds",
                "floor": 0.99,
                "multiplier": 5,
                "every": 12,
            },
        ]
    )
    res = mcsim.run(mcsim.Scenario.from_dict(table), n_paths=32)
    assert res.metric_table["floor_breaches"].event
    breaches = res.metric("floor_breaches")
    np.testing.assert_array_equal(breaches["cppi"], res.metrics_array[1, :, EVENT_COLUMN])
    assert breaches["cppi"].gt(0).any() and (breaches["hold"] == 0).all()
    assert list(res.paths.columns) == METRIC_NAMES


def test_every_run_has_the_columns_of_every_registered_kind(result):
    # No CPPI in this run: its event metric is still a column (0), so files always align.
    assert "floor_breaches" in result.paths.columns
    assert (result.paths["floor_breaches"] == 0).all()


class _AlarmHold(mcsim.BuyAndHold):
    event_metric = EventMetric("alarms", "Steps an alarm rang", "count", False)


def test_each_policy_reports_only_the_event_metric_it_declares(small_table):
    base = mcsim.Scenario.from_dict(small_table())
    cppi = mcsim.CPPI(name="cppi", safe_asset="bonds", floor=0.99, multiplier=5, every=12)
    scenario = dataclasses.replace(
        base, policies=[_AlarmHold(name="alarm"), cppi], baseline="alarm"
    )
    res = mcsim.run(scenario, n_paths=32)
    assert {"alarms", "floor_breaches"} <= set(res.paths.columns)
    assert (res.metric("floor_breaches")["alarm"] == 0).all()
    assert (res.metric("alarms")["cppi"] == 0).all()
    np.testing.assert_array_equal(
        res.metric("floor_breaches")["cppi"], res.metrics_array[1, :, EVENT_COLUMN]
    )
