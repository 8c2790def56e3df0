"""The run report: figure structure, formatted numbers, optional sections, self-containment."""

from __future__ import annotations

import ast
import dataclasses
import re
import tomllib
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.model_check
import mcsim.report.figures
import mcsim.report.view
from mcsim import METRICS, report
from mcsim.metrics import EVENT_COLUMN, EventMetric
from mcsim.model_check import MODEL_CHECK_PATHS
from mcsim.report import build_figures, format_value, policy_colours, write_report
from mcsim.report.figures import n_bins
from mcsim.report.format import COST_PARTS, log_bound, log_ticks
from mcsim.report.page import render_page
from mcsim.report.view import ReportView
from mcsim.results import SimulationResult

N_PATHS = 300


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    """The default scenario with the lognormal model: parameters the header shows in full."""
    table = _default_table()
    table["model"] = {"kind": "gaussian"}
    return mcsim.run(mcsim.Scenario.from_dict(table), n_paths=N_PATHS, seed=1)


@pytest.fixture(scope="module")
def figures(result):
    return build_figures(result)


@pytest.fixture(scope="module")
def html_text(result, tmp_path_factory) -> str:
    path = write_report(result, tmp_path_factory.mktemp("report") / "report.html")
    return path.read_text(encoding="utf-8")


def _default_table() -> dict:
    with open(mcsim.default_scenario_path(), "rb") as f:
        return tomllib.load(f)


def _small_table(**changes) -> dict:
    """The default scenario with two policies (faster runs), plus ``changes`` per section."""
    table = _default_table()
    table["policies"] = table["policies"][:2]
    for key, value in changes.items():
        table[key] = value
    return table


def _with_metrics(result: SimulationResult, metrics: np.ndarray, **sim_changes):
    """A copy of ``result`` with other per-path metrics (and [simulation] fields)."""
    plan = result.plan
    if sim_changes:
        plan = dataclasses.replace(plan, scenario=plan.scenario.replace(**sim_changes))
    return SimulationResult(
        plan=plan,
        metrics=metrics,
        hist=result.hist,
        wealth=result.wealth_array,
        timings=result.timings,
    )


def _section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([a-z_]+)">', html)


# -- formatting --------------------------------------------------------------------------------


def test_format_value_rules():
    assert format_value(12_345_678.4, "currency") == "12,345,678"
    assert format_value(-2_500.6, "currency", signed=True) == "-2,501"
    assert format_value(2_500.0, "currency", signed=True) == "+2,500"
    assert format_value(0.07534, "fraction per year") == "7.53%"
    assert format_value(0.25, "probability") == "25.00%"
    assert format_value(-0.0048, "fraction", signed=True) == "-0.48 pp"
    assert format_value(26.0, "years") == "26.0 y"
    assert format_value(12.25, "count") == "12.2"
    assert format_value(float("nan"), "currency") == "–"
    assert format_value(float("inf"), "currency") == "∞"


def test_format_value_huge_currency_is_scientific():
    assert format_value(3.14159e200, "currency") == "3.142e+200"
    assert format_value(-2e15, "currency", signed=True) == "-2.000e+15"
    assert format_value(999_999_999_999_999.0, "currency") == "999,999,999,999,999"


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (1e6, 1e6),  # lo == hi
        (3.3e6, 3.3e6),  # lo == hi, not a round number
        (5e7, 2e5),  # lo > hi
        (1e5, float("inf")),
        (float("-inf"), 1e5),
        (0.0, 1e6),
        (-5.0, 1e6),
        (float("nan"), 1e6),
        (1e6, float("nan")),
        (1e-300, 1e300),
        (5e-324, 1.7e308),
        (float("inf"), float("inf")),
        (0.0, 0.0),
        (1e150, 1e222),
    ],
)
def test_log_ticks_on_extreme_ranges(lo, hi):
    ticks = log_ticks(lo, hi)
    vals = np.asarray(ticks["tickvals"], dtype=float)
    assert len(ticks["ticktext"]) == vals.size
    assert 1 <= vals.size <= 30
    assert np.all(np.isfinite(vals)) and np.all(vals > 0)
    assert np.all(np.diff(vals) > 0)
    bounds = [log_bound(x) for x in (lo, hi) if not np.isnan(x)]
    assert vals.min() >= min(bounds) * (1 - 1e-12)
    assert vals.max() <= max(bounds) * (1 + 1e-12)
    assert all(isinstance(t, str) and len(t) <= 8 for t in ticks["ticktext"])


def test_log_ticks_without_any_bound_leave_the_choice_to_plotly():
    assert log_ticks(float("nan"), float("nan")) == {"tickvals": [], "ticktext": []}


def test_log_ticks_keep_the_usual_labels():
    ticks = log_ticks(1e5, 1e7)
    assert ticks["tickvals"][:3] == [1e5, 2e5, 5e5]
    assert ticks["ticktext"][:4] == ["100k", "200k", "500k", "1M"]
    assert log_ticks(1e-300, 1e300)["ticktext"][0] == "1e-300"


def test_figures_survive_extreme_values(result, recwarn):
    """Terminal wealth at zero, tiny, huge, infinite and NaN, and a wealth sketch with all
    paths beyond its top (infinite quantiles): every figure is drawn, says what it left out,
    and the report is written."""
    metrics = result.metrics_array.copy()
    col = METRICS["terminal_wealth"].column
    extreme = [0.0, 1e-300, 1e300, 1.7e308, np.inf, np.nan, -1.0]
    metrics[:, : len(extreme), col] = extreme
    metrics[:, len(extreme) :, col] *= 1e200
    metrics[0, :, METRICS["max_drawdown"].column][:3] = [np.nan, np.inf, 0.0]
    hist = np.zeros_like(result.hist)
    hist[:, :, -1] = result.hist.sum(axis=2)  # every path above the sketch's top edge
    hist[:, 0, :] = result.hist[:, 0, :]  # the start is at the initial wealth
    odd = SimulationResult(
        plan=result.plan,
        metrics=metrics,
        hist=hist,
        wealth=result.wealth_array * 1e250,
        timings=result.timings,
    )
    figs = build_figures(odd)
    assert not [w for w in recwarn if "could not be drawn" in str(w.message)]
    fan = figs["fan"]
    assert "drawn at its edge" in fan.layout.title.text
    for trace in fan.data:
        y = np.asarray(trace.y, dtype=float)
        assert not np.any(np.isinf(y))
    title = figs["terminal_wealth"].layout.annotations[0].text
    assert "paths at zero" in title and "not finite" in title
    edges = np.asarray(figs["terminal_wealth"].data[0].x, dtype=float)
    assert np.all(np.isfinite(edges)) and np.all(edges > 0)
    html = render_page(ReportView.from_result(odd))
    assert "could not be drawn" not in html


def test_a_failing_figure_becomes_a_note(result, monkeypatch):
    """A figure that fails to draw is replaced by a note, with a warning: the report of a
    finished run is always written."""

    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(mcsim.report.figures, "costs_figure", broken)
    with pytest.warns(UserWarning, match="'costs' figure could not be drawn"):
        figs = build_figures(result)
    assert "boom" in figs["costs"].layout.annotations[0].text
    assert "not drawn" in figs["costs"].layout.title.text


def test_policy_colours_are_distinct_and_stable():
    names = [f"p{i}" for i in range(12)]
    colours = policy_colours(names)
    assert len(set(colours.values())) == 12
    assert policy_colours(names[:3]) == {n: colours[n] for n in names[:3]}


# -- figures -----------------------------------------------------------------------------------


def test_figure_keys_follow_the_scenario(result, figures):
    # The default run has costs (10 bps), history (Shiller) and simulated inflation (CPI):
    # no taxes, flows or goal.
    assert set(figures) == {
        "fan",
        "real_fan",
        "underwater",
        "terminal_wealth",
        "max_drawdown",
        "comparison",
        "costs",
        "model_check",
    }


def test_fan_chart_structure(result, figures):
    fig = figures["fan"]
    pols = result.policy_names
    # Per policy: sample paths, 5-95 band, 25-75 band, median.
    assert len(fig.data) == 4 * len(pols)
    assert [t.name for t in fig.data[3::4]] == pols
    assert {t.name for t in fig.data} == set(pols)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [p + (" (baseline)" if p == result.baseline else "") for p in pols]
    assert fig.layout.yaxis.type == "log"
    assert "Wealth" in fig.layout.yaxis.title.text
    layout = fig.layout.to_plotly_json()
    x_titles = [v.get("title", {}).get("text") for k, v in layout.items() if k.startswith("xaxis")]
    assert x_titles.count("Years") == 3  # the bottom row of a 2 x 3 grid
    colours = policy_colours(pols)
    for k, pol in enumerate(pols):
        median = fig.data[4 * k + 3]
        np.testing.assert_allclose(median.y, result.fan.loc[pol, "p50"].to_numpy())
        np.testing.assert_allclose(median.x, result.fan.loc[pol].index.to_numpy())
        assert median.line.color == colours[pol]
        band = fig.data[4 * k + 1]  # 5-95: upper edge out, lower edge back
        n = len(median.x)
        np.testing.assert_allclose(band.y[:n], result.fan.loc[pol, "p95"].to_numpy())
        np.testing.assert_allclose(band.y[n:], result.fan.loc[pol, "p05"].to_numpy()[::-1])
        samples = fig.data[4 * k]
        n_samples = int(np.isnan(np.asarray(samples.x, dtype=float)).sum())
        assert n_samples == min(report.N_SAMPLE_PATHS, result.scenario.simulation.keep_paths)


def test_fan_chart_without_sample_paths(result):
    empty = SimulationResult(
        plan=result.plan,
        metrics=result.metrics_array,
        hist=result.hist,
        wealth=result.wealth_array[:, :0],
        timings=result.timings,
    )
    fig = build_figures(empty)["fan"]
    assert len(fig.data) == 3 * len(result.policy_names)


@pytest.mark.parametrize("metric", ["terminal_wealth", "max_drawdown"])
def test_distribution_figures(result, figures, metric):
    fig = figures[metric]
    pols = result.policy_names
    n = len(pols)
    assert len(fig.data) == 2 * n
    lines, boxes = fig.data[:n], fig.data[n:]
    assert [t.name for t in lines] == pols
    assert sorted(t.name for t in boxes) == sorted(pols)
    colours = policy_colours(pols)
    values = result.metric(metric)
    for t in lines:
        assert t.line.color == colours[t.name]
        x = values[t.name].to_numpy()
        expected = 100.0 * ((x > 0).mean() if metric == "terminal_wealth" else 1.0)
        assert np.sum(t.y) == pytest.approx(expected)
    for b in boxes:
        s = result.summary.loc[(b.name, metric)]
        assert b.median[0] == pytest.approx(s["p50"])
        assert b.q1[0] == pytest.approx(s["p25"])
        assert b.upperfence[0] == pytest.approx(s["p95"])
    if metric == "terminal_wealth":
        assert fig.layout.xaxis.type == "log"
        assert "currency" in fig.layout.xaxis.title.text
    else:
        assert "fraction" in fig.layout.xaxis.title.text
    assert fig.layout.yaxis.title.text == "Share of paths (%)"


def test_distribution_bins_bounded_for_many_paths(result):
    """Bins come from Rice's rule and stop at N_BINS however many paths there are."""
    assert n_bins(300) == 20
    assert n_bins(10_000) == 43
    assert n_bins(1_000_000) == report.N_BINS


def test_comparison_figure(result, figures):
    fig = figures["comparison"]
    others = [p for p in result.policy_names if p != result.baseline]
    metrics = ["terminal_wealth", "real_terminal_wealth", "cagr", "volatility"]
    metrics += ["max_drawdown", "turnover", "costs"]
    assert len(fig.data) == len(metrics) * len(others)
    assert [t.name for t in fig.data[: len(others)]] == others
    assert "Terminal wealth" in fig.layout.annotations[0].text
    first = fig.data[0]
    row = result.comparison.loc[(others[0], "terminal_wealth")]
    assert first.x[0] == pytest.approx(row["mean_diff"])
    assert first.x[0] + first.error_x.array[0] == pytest.approx(row["ci95_high"])
    assert first.x[0] - first.error_x.arrayminus[0] == pytest.approx(row["ci95_low"])
    # Fractions are shown in percentage points.
    cagr = fig.data[2 * len(others)]
    assert cagr.x[0] == pytest.approx(100 * result.comparison.loc[(others[0], "cagr"), "mean_diff"])
    assert fig.layout.xaxis3.title.text == "Difference (percentage points)"


def test_costs_figure(result, figures):
    fig = figures["costs"]
    # Only commissions are nonzero in the default scenario.
    assert [t.name for t in fig.data] == ["commission"]
    np.testing.assert_allclose(
        fig.data[0].y,
        [result.summary.loc[(p, "cost_proportional"), "mean"] for p in result.policy_names],
    )
    assert fig.layout.yaxis.title.text == "Mean cost (USD)"  # [simulation].currency


# -- HTML --------------------------------------------------------------------------------------


def test_html_is_self_contained(html_text, figures):
    # No external script, stylesheet or CDN: plotly.js is inline, exactly once.
    assert not re.search(r"<script[^>]*\ssrc\s*=", html_text, re.IGNORECASE)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?:", html_text, re.IGNORECASE)
    for tag in re.findall(r"<script[^>]*>", html_text):
        assert "http://cdn" not in tag and "https://cdn" not in tag
    assert html_text.count("plotly.js v") == 1 or html_text.count("* plotly.js") == 1
    assert len(html_text) > 3_000_000  # the bundle itself is several megabytes
    assert html_text.count("Plotly.newPlot(") == len(figures)
    for key in figures:
        assert f'id="fig-{key}"' in html_text


def test_html_header(result, html_text):
    sc = result.scenario
    assert f"<h1>{sc.name}</h1>" in html_text
    assert sc.description in html_text
    for text in ("30 years (360 steps)", f"{N_PATHS:,}", "us_stocks_tr 60.0%", "Seed entropy"):
        assert text in html_text
    assert f"<dd>{result.entropy}</dd>" in html_text
    assert f"<dd>{result.baseline}</dd>" in html_text
    mu = result.manifest["model"]["mu"][0]
    assert f'<td class="num">{100 * mu:.2f}</td>' in html_text  # annual mean, in percent
    assert "mean (annual, %)" in html_text


def _section(html: str, key: str) -> str:
    m = re.search(rf'<section id="{key}">(.*?)</section>', html, re.DOTALL)
    assert m is not None, key
    return m.group(1)


def _row(html: str, label: str) -> list[str]:
    """The cells of the first table row whose first cell is ``label``."""
    m = re.search(rf'<tr[^>]*><td class="label">{re.escape(label)}</td>(.*?)</tr>', html)
    assert m is not None, label
    return re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))


def test_summary_table_numbers(result, html_text):
    pol = "calendar_annual"
    cells = _row(_section(html_text, "summary"), pol)
    s = result.summary
    expected = [f"{s.loc[(pol, 'terminal_wealth'), c]:,.0f}" for c in ("mean", "p05", "p50")]
    assert cells[:3] == expected
    assert cells[5] == f"{100 * s.loc[(pol, 'cagr'), 'mean']:.2f}%"
    assert cells[9] == f"{s.loc[(pol, 'costs'), 'mean']:,.0f}"
    assert cells[10] == f"{100 * s.loc[(pol, 'loss'), 'mean']:.2f}%"
    baseline = _row(html_text, f"{result.baseline} (baseline)")
    assert baseline[0] == f"{s.loc[(result.baseline, 'terminal_wealth'), 'mean']:,.0f}"


def test_comparison_table_numbers(result, html_text):
    pol = "band_5pp"
    row = result.comparison.loc[(pol, "terminal_wealth")]
    cells = _row(_section(html_text, "comparison"), pol)  # first row: terminal wealth
    assert cells[0] == "Terminal wealth"
    assert cells[1] == f"{row['mean_diff']:+,.0f}"
    assert cells[2] == f"{row['ci95_low']:+,.0f} to {row['ci95_high']:+,.0f}"
    assert cells[3] == f"{100 * row['prob_higher']:.2f}%"
    assert cells[4] == f"{100 * row['prob_lower']:.2f}%"
    verdict = "worse" if row["ci95_high"] < 0 else "better" if row["ci95_low"] > 0 else "unclear"
    assert cells[5] == verdict


def test_default_sections(html_text):
    ids = _section_ids(html_text)
    assert ids == [
        "summary",
        "fan",
        "distributions",
        "comparison",
        "costs",
        "model_check",
        "details",
    ]
    assert "JavaScript error" in html_text  # the handler is there, hidden until an error
    assert '<div id="js-errors" hidden></div>' in html_text


def test_report_size_bounded_for_many_paths(result, tmp_path):
    """20,000 paths (tiled from the 300 simulated): the file stays far below 8 MB."""
    reps = -(-20_000 // N_PATHS)
    big = np.tile(result.metrics_array, (1, reps, 1))[:, :20_000]
    res = _with_metrics(result, np.ascontiguousarray(big), n_paths=20_000)
    path = write_report(res, tmp_path / "big.html")
    size = path.stat().st_size
    assert size < 8_000_000
    small = write_report(result, tmp_path / "small.html").stat().st_size
    assert abs(size - small) < 200_000  # nothing per path is embedded


@pytest.mark.slow
def test_report_size_real_20000_paths(tmp_path):
    scenario = mcsim.Scenario.from_toml(mcsim.default_scenario_path())
    res = mcsim.run(scenario, n_paths=20_000, seed=2)
    assert write_report(res, tmp_path / "r.html").stat().st_size < 8_000_000


def test_save_writes_the_report(result, tmp_path):
    files = result.save(tmp_path)
    assert files["report"] == tmp_path / "report.html"
    assert "Plotly.newPlot(" in files["report"].read_text(encoding="utf-8")


def test_library_never_shows_figures(result, monkeypatch):
    import plotly.basedatatypes

    def boom(*args, **kwargs):
        raise AssertionError("show() called")

    monkeypatch.setattr(plotly.basedatatypes.BaseFigure, "show", boom)
    build_figures(result)


# -- optional sections -------------------------------------------------------------------------


def test_no_costs_section_without_costs(result, tmp_path):
    m = result.metrics_array.copy()
    for name in ("costs", *COST_PARTS):
        m[:, :, METRICS[name].column] = 0.0
    res = _with_metrics(result, m)
    figs = build_figures(res)
    assert "costs" not in figs
    assert len(figs["comparison"].data) == 6 * (len(result.policy_names) - 1)
    html = write_report(res, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "costs" not in _section_ids(html)


def test_floor_section_only_with_breaches(result, html_text, tmp_path):
    assert "floor" not in _section_ids(html_text)
    m = result.metrics_array.copy()
    col = METRICS["floor_breaches"].column
    m[1, :30, col] = 2.0  # second policy: 10 % of paths below the floor for 2 steps
    html = write_report(_with_metrics(result, m), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "floor" in _section_ids(html)
    cells = _row(_section(html, "floor"), result.policy_names[1])
    assert cells == ["10.00%", "0.20", "2.0", "2.0"]  # share, mean, 95th pct, max
    assert "<th>Paths with a breach</th><th>Steps below floor (mean)</th>" in html


def test_a_declared_event_metric_gets_its_section_worded_by_its_declaration(result, tmp_path):
    # A policy class of the test's own: the report names none of it, yet shows its events.
    alarm = EventMetric(
        "alarms",
        "Steps an alarm rang",
        "count",
        False,
        title="Alarms & bells",
        occurrence="an alarm",
        count_label="Alarm steps",
    )
    second = result.scenario.policies[1]
    alarmed_cls = type("Alarmed", (type(second),), {"event_metric": alarm})
    alarmed = alarmed_cls(
        **{f.name: getattr(second, f.name) for f in dataclasses.fields(second) if f.init}
    )
    policies = [result.scenario.policies[0], alarmed, *result.scenario.policies[2:]]
    scenario = dataclasses.replace(result.scenario, policies=policies)
    m = result.metrics_array.copy()
    m[1, :60, EVENT_COLUMN] = 3.0  # 20 % of the paths, 3 steps each
    res = SimulationResult(
        plan=dataclasses.replace(result.plan, scenario=scenario),
        metrics=m,
        hist=result.hist,
        wealth=result.wealth_array,
        timings=result.timings,
    )
    assert res.metric_table["alarms"].event == alarm
    html = write_report(res, tmp_path / "r.html").read_text(encoding="utf-8")
    ids = _section_ids(html)
    # The alarm policy's slot counts alarms, not floor breaches: no CPPI section.
    assert "alarms" in ids and "floor" not in ids
    section = _section(html, "alarms")
    assert section.startswith("<h2>Alarms &amp; bells</h2><p>Steps an alarm rang.</p>")
    assert "<th>Paths with an alarm</th><th>Alarm steps (mean)</th>" in section
    assert _row(section, alarmed.name) == ["20.00%", "0.60", "3.0", "3.0"]


@pytest.fixture(scope="module")
def flows_result() -> SimulationResult:
    flows = [{"amount": -60_000.0, "every": 12, "indexation": "inflation"}]
    table = _small_table(flows=flows)
    table["simulation"]["goal"] = 1_500_000.0
    return mcsim.run(mcsim.Scenario.from_dict(table), n_paths=200, seed=3)


def test_flows_section(flows_result, tmp_path):
    res = flows_result
    figs = build_figures(res)
    assert "flows" in figs
    fig = figs["flows"]
    assert [t.name for t in fig.data] == res.policy_names
    assert "Years" in fig.layout.xaxis.title.text
    ruined = res.metric("ruined")
    for t in fig.data:
        # The curve ends at the share of paths that ran out by the horizon.
        assert t.y[-1] == pytest.approx(100 * ruined[t.name].mean())
        assert np.all(np.diff(t.y) >= 0)
    html = write_report(res, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "flows" in _section_ids(html)
    assert "P(goal met)" in html
    pol = res.policy_names[1]
    flows_row = _row(_section(html, "flows"), pol)
    assert flows_row[0] == f"{100 * (1 - ruined[pol].mean()):.2f}%"
    assert flows_row[1] == f"{100 * res.metric('goal_met')[pol].mean():.2f}%"


def test_goal_alone_gives_flows_section(result):
    res = _with_metrics(result, result.metrics_array, goal=2_000_000.0)
    assert "flows" in build_figures(res)


def test_taxes_section(tmp_path):
    table = _small_table(taxes={"enabled": True})
    res = mcsim.run(mcsim.Scenario.from_dict(table), n_paths=100, seed=4)
    figs = build_figures(res)
    assert "taxes" in figs
    assert [t.name for t in figs["taxes"].data] == res.policy_names
    html = write_report(res, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "taxes" in _section_ids(html)
    comp = [t.name for t in figs["comparison"].data]
    assert len(comp) == 9 * (len(res.policy_names) - 1)


# -- model vs history --------------------------------------------------------------------------


def test_model_check_section_present(result, figures, html_text):
    fig = figures["model_check"]
    assert len(fig.data) > 0
    assert "Model vs history" in html_text
    assert "inside the simulated 5–95 % band" in html_text


def test_result_model_check_is_the_check_of_the_run_model(result):
    plan = result.plan
    expected = mcsim.model_check.model_check(
        plan.model,
        plan.history,
        plan.history_periods_per_year,
        steps_per_year=result.scenario.simulation.steps_per_year,
        n_paths=MODEL_CHECK_PATHS,
        seed=int(result.entropy),
    )
    assert result.model_check is result.model_check  # computed once, then cached
    pd.testing.assert_frame_equal(result.model_check, expected, check_exact=True)
    assert result.model_check.attrs["n_paths"] == MODEL_CHECK_PATHS


def test_model_check_of_the_frozen_result_is_kept_and_cannot_be_replaced(result):
    table = result.model_check
    assert result.with_files({}).model_check is table  # the copy keeps the cached check
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.model_check = None
    assert result.model_check is table


def test_report_renders_the_result_model_check_without_recomputing(result, monkeypatch, tmp_path):
    table = result.model_check  # computed by the result before the report is written

    def forbidden(*args, **kwargs):
        raise AssertionError("the report simulated a model check of its own")

    monkeypatch.setattr(mcsim.model_check, "model_check", forbidden)
    html = write_report(result, tmp_path / "r.html").read_text(encoding="utf-8")
    check = _section(html, "model_check")
    n_in = int(table["inside_90"].sum())
    assert f"<b>{n_in} of {len(table)}</b> statistics" in check
    assert f"{MODEL_CHECK_PATHS:,} simulated paths" in check


def test_model_check_failure_is_reported_not_fatal(result, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("no luck")

    monkeypatch.setattr(mcsim.model_check, "model_check", broken)
    fresh = _with_metrics(result, result.metrics_array)  # no cached check yet
    with pytest.warns(UserWarning, match="model-vs-history check failed"):
        html = write_report(fresh, tmp_path / "r.html").read_text(encoding="utf-8")
    assert fresh.model_check == "The model check failed: RuntimeError: no luck"
    assert "model_check" in _section_ids(html)
    assert "The model check failed: RuntimeError: no luck" in html
    assert "model_check" not in build_figures(fresh)


def test_model_check_figure_failure_is_reported_not_fatal(result, monkeypatch, tmp_path):
    def broken(table):
        raise ValueError("bad figure")

    monkeypatch.setattr(mcsim.report.view, "model_check_figure", broken)
    with pytest.warns(UserWarning, match="model-vs-history figure failed"):
        html = write_report(result, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "The model check failed: ValueError: bad figure" in _section(html, "model_check")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert "model_check" not in build_figures(result)


def test_no_model_check_without_history(result):
    plan = dataclasses.replace(result.plan, history=None)
    res = SimulationResult(
        plan=plan,
        metrics=result.metrics_array,
        hist=result.hist,
        wealth=result.wealth_array,
        timings=result.timings,
    )
    assert res.model_check is None
    assert "model_check" not in build_figures(res)


def test_single_policy_report(tmp_path):
    table = _small_table()
    table["policies"] = table["policies"][:1]  # buy_and_hold, also the baseline
    res = mcsim.run(mcsim.Scenario.from_dict(table), n_paths=50, seed=5)
    figs = build_figures(res)
    assert "comparison" not in figs
    assert len(figs["fan"].data) == 4
    html = write_report(res, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "comparison" not in _section_ids(html)
    assert html.count("Plotly.newPlot(") == len(figs)


# -- the package -------------------------------------------------------------------------------

_REPORT_DIR = Path(report.__file__).parent


def test_page_template_and_css_are_package_data(html_text):
    root = resources.files("mcsim.report")
    template = root.joinpath("page.html").read_text(encoding="utf-8")
    css = root.joinpath("report.css").read_text(encoding="utf-8")
    assert "${body}" in template and "${css}" in template
    assert "table.data" in css
    assert css in html_text  # the style sheet is inlined: the file stays self-contained
    placeholders = set(re.findall(r"\$\{(\w+)\}", template))
    assert {"title", "css", "facts", "params", "nav", "body"} <= placeholders
    assert not [p for p in placeholders if "${" + p + "}" in html_text]


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a report module imports (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ["mcsim", "report"][: max(0, 2 - node.level + 1)] if node.level else []
            out.add(".".join([*base, node.module] if node.module else base))
    return out


@pytest.mark.parametrize("path", sorted(_REPORT_DIR.glob("*.py")), ids=lambda p: p.name)
def test_report_modules_do_not_reach_into_models_or_the_engine(path):
    names = _imports(path)
    banned = ("mcsim.models", "mcsim.model_check", "mcsim.path_statistics", "mcsim.engine")
    assert not [n for n in names if n.startswith(banned)], names
    tree = ast.parse(path.read_text(encoding="utf-8"))
    dynamic = [
        n
        for n in ast.walk(tree)
        if (isinstance(n, ast.Attribute) and n.attr == "import_module")
        or (isinstance(n, ast.Name) and n.id in ("import_module", "__import__"))
        or (isinstance(n, ast.alias) and n.name == "import_module")
    ]
    assert not dynamic, f"{path.name} imports modules by name"
    plan_reads = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "plan"]
    assert not plan_reads, f"{path.name} reads the engine's run plan"
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not inner, f"{path.name}: import inside {fn.name}()"


def test_import_resolution_helper_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..model_check import model_check\nfrom .format import esc\n")
    assert _imports(bad) == {"mcsim.model_check", "mcsim.report.format"}
