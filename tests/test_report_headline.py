"""The headline numbers, their formatting at any scale, the currency label, the model-risk
sentence and the two ways a report gets plotly.js."""

from __future__ import annotations

import re
import tomllib

import numpy as np
import pandas as pd
import pytest

import mcsim
from mcsim.cli import summary_table
from mcsim.config import check_currency
from mcsim.errors import ConfigError
from mcsim.report import PLOTLY_FILE, build_figures, write_report
from mcsim.report.format import format_amount
from mcsim.report.headline import headline_columns
from mcsim.report.model_risk import RISK_STATISTICS, model_risk, model_risk_line
from mcsim.scenarios import scenario_path

N_PATHS = 200


def _table(name: str, **simulation) -> dict:
    with open(scenario_path(name), "rb") as f:
        table = tomllib.load(f)
    table["policies"] = table["policies"][:2]
    table["simulation"].update(simulation)
    return table


@pytest.fixture(scope="module")
def unit_result():
    """The default scenario started from wealth 1 (two policies)."""
    scenario = mcsim.Scenario.from_dict(_table("default_60_40", initial_wealth=1.0))
    return mcsim.run(scenario, n_paths=N_PATHS, seed=3)


@pytest.fixture(scope="module")
def retirement_result():
    scenario = mcsim.Scenario.from_dict(_table("retirement_withdrawals", currency="€"))
    return mcsim.run(scenario, n_paths=N_PATHS, seed=3)


# -- amounts at any scale --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "text"),
    [
        (12_345_678.4, "12,345,678"),
        (1_000.0, "1,000"),
        (812.34, "812.3"),
        (4.12345, "4.123"),
        (0.81234, "0.8123"),
        (0.000123456, "0.0001235"),
        (0.0, "0"),
        (-4.12345, "-4.123"),
        (3.14159e200, "3.142e+200"),
    ],
)
def test_amounts_keep_four_significant_digits_below_a_thousand(x, text):
    assert format_amount(x) == text


def test_amounts_signed_and_undefined():
    assert format_amount(4.12345, signed=True) == "+4.123"
    assert format_amount(-12_345.0, signed=True) == "-12,345"
    assert format_amount(float("nan")) == "–"
    assert format_amount(float("inf")) == "∞"


def _number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("%"))


def test_unit_wealth_table_shows_the_quantiles_apart(unit_result):
    """Wealth 1 at the start: the p5 and mean cells carry digits, and read back to within
    half a unit of their last digit of the summary's values."""
    table = summary_table(unit_result)
    s = unit_result.summary
    for pol in unit_result.policy_names:
        for label, stat in (("mean wealth (USD)", "mean"), ("p5 wealth", "p05")):
            cell = table.loc[pol, label]
            value = s.loc[(pol, "terminal_wealth"), stat]
            assert len(re.sub(r"[^0-9]", "", cell).lstrip("0")) >= 4, cell
            decimals = len(cell.split(".")[1]) if "." in cell else 0
            assert abs(_number(cell) - value) <= 0.5 * 10.0**-decimals + 1e-12


def test_million_wealth_table_keeps_whole_amounts():
    scenario = mcsim.Scenario.from_dict(_table("default_60_40"))
    result = mcsim.run(scenario, n_paths=50, seed=3)
    cell = summary_table(result).iloc[0]["median"]
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", cell), cell


# -- currency --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["USD", "EUR", "CHF", "$", "€", "£", "R$", "¥"])
def test_currency_accepts_codes_and_symbols(value):
    check_currency(value, "[simulation].currency")
    assert mcsim.SimulationConfig(currency=value).currency == value


@pytest.mark.parametrize("value", ["usd", "EURO", "", "12", "US", " $", "dollars", 5, None])
def test_currency_refuses_anything_else_naming_the_field(value):
    with pytest.raises(ConfigError, match=r"\[simulation\]\.currency"):
        mcsim.SimulationConfig(currency=value)


def test_currency_defaults_to_usd_and_labels_the_table(unit_result, retirement_result):
    assert mcsim.SimulationConfig().currency == "USD"
    assert "mean wealth (USD)" in summary_table(unit_result).columns
    assert "mean wealth (€)" in summary_table(retirement_result).columns


# -- headline columns follow the scenario -----------------------------------------------------
def test_columns_follow_the_scenario():
    plain = [
        c.label
        for c in headline_columns(
            currency="USD", **dict.fromkeys(("has_inflation", "has_flows", "has_goal"), False)
        )
    ]
    assert "P(ruin)" not in plain and "median real" not in plain
    full = [
        c.label
        for c in headline_columns(currency="USD", has_inflation=True, has_flows=True, has_goal=True)
    ]
    for label in ("median real", "P(success)", "P(ruin)", "median ruin yr", "ES 5% wealth"):
        assert label in full
    assert "mean shortfall" in full


def test_retirement_headline_numbers_are_the_summary(retirement_result):
    table = summary_table(retirement_result)
    s = retirement_result.summary
    m = retirement_result.metric("ruined")
    for pol in retirement_result.policy_names:
        p_ruin = float(m[pol].mean())
        assert table.loc[pol, "P(ruin)"] == f"{100 * p_ruin:.2f}%"
        p_goal = s.loc[(pol, "goal_met"), "mean"]
        assert table.loc[pol, "P(success)"] == f"{100 * p_goal:.2f}%"
        # Expected shortfall: the mean of the worst 5 % of terminal wealth, from the paths.
        tw = np.sort(retirement_result.metric("terminal_wealth")[pol].to_numpy())
        es = tw[: int(np.ceil(0.05 * tw.size))].mean()
        assert _number(table.loc[pol, "ES 5% wealth"]) == pytest.approx(es, abs=0.5)
        years = retirement_result.metric("ruin_year")[pol].dropna()
        cell = table.loc[pol, "median ruin yr"]
        if years.empty:
            assert cell == "-"
        else:
            assert cell == f"{np.median(years):.1f} y"
    # Inflation is simulated: real wealth sits beside nominal.
    assert "median real" in table.columns


# -- model risk ------------------------------------------------------------------------------
def _check_table(inside: dict[str, bool]) -> pd.DataFrame:
    stats = [*RISK_STATISTICS, "ann_mean"]
    index = pd.MultiIndex.from_product([stats, ["stocks", "bonds"]])
    t = pd.DataFrame(
        {"history": 0.5, "sim_p05": 0.2, "sim_p95": 0.4, "sim_median": 0.3, "inside_90": True},
        index=index,
    )
    for stat, ok in inside.items():
        t.loc[(stat, "stocks"), "inside_90"] = ok
    t.attrs["model"] = "gaussian"
    return t


def test_model_risk_names_each_tail_statistic_outside_and_the_better_models():
    t = _check_table({"max_drawdown": False, "excess_kurtosis": False, "ann_mean": False})
    line = model_risk(t, ["bootstrap"])
    assert line.startswith("Model risk: history's maximum drawdown (stocks 50 % vs 20 to 40 %)")
    assert "excess kurtosis (stocks 0.5 vs 0.2 to 0.4)" in line
    assert "worst 12-month" not in line and "ann_mean" not in line
    assert "gaussian" in line and "fit these data better: bootstrap" in line
    assert line.endswith(".") and ". " not in line  # one sentence


def test_model_risk_is_silent_when_the_tails_are_inside():
    assert model_risk(_check_table({"ann_mean": False})) is None


def test_model_risk_without_a_measurement_names_the_tail_kinds():
    line = model_risk(_check_table({"worst_12m": False}))
    assert "to check first: bootstrap, garch, regime, student_t" in line
    assert "falls outside" in line
    line = model_risk(_check_table({"worst_12m": False}), kind="bootstrap")
    assert "to check first: garch, regime, student_t" in line


def test_model_risk_leaves_out_the_inflation_series():
    assert model_risk(_check_table({"max_drawdown": False}), skip_series=["stocks"]) is None


def test_default_gaussian_run_gets_the_sentence_and_names_the_bootstrap():
    table = _table("default_60_40")
    table["model"] = {"kind": "gaussian"}
    result = mcsim.run(mcsim.Scenario.from_dict(table), n_paths=50, seed=3)
    line = model_risk_line(result.scenario, result.model_check)
    assert line is not None and "maximum drawdown (us_stocks_tr" in line
    assert "better: bootstrap" in line


# -- plotly.js inline or beside the reports ----------------------------------------------------
def test_report_directory_mode_is_light_and_shares_one_plotly(unit_result, tmp_path):
    inline = write_report(unit_result, tmp_path / "inline.html")
    light = write_report(unit_result, tmp_path / "report.html", plotly="directory")
    js = tmp_path / PLOTLY_FILE
    assert js.stat().st_size > 3_000_000
    assert light.stat().st_size < 600_000
    assert f'<script charset="utf-8" src="{PLOTLY_FILE}"></script>' in light.read_text()
    assert inline.stat().st_size > js.stat().st_size
    assert PLOTLY_FILE not in inline.read_text(encoding="utf-8")[:200_000].split("src=")[0]
    before = js.stat().st_mtime_ns
    write_report(unit_result, tmp_path / "second.html", plotly="directory")
    assert js.stat().st_mtime_ns == before  # the same file is kept, not rewritten


def test_report_mode_is_checked_before_writing(unit_result, tmp_path):
    with pytest.raises(ValueError, match="`plotly` must be"):
        write_report(unit_result, tmp_path / "r.html", plotly="cdn")
    assert not (tmp_path / "r.html").exists()
    scenario = mcsim.Scenario.from_dict(_table("default_60_40"))
    with pytest.raises(ConfigError, match="`report` must be"):
        mcsim.run(scenario, n_paths=10, out=tmp_path / "out", report="cdn")
    assert not (tmp_path / "out").exists()


def test_run_into_a_folder_writes_plotly_beside_the_report(tmp_path):
    scenario = mcsim.Scenario.from_dict(_table("default_60_40"))
    result = mcsim.run(scenario, n_paths=20, seed=1, out=tmp_path / "o", report="directory")
    assert result.files["plotly"] == tmp_path / "o" / PLOTLY_FILE
    assert result.files["plotly"].exists()
    assert result.files["report"].stat().st_size < 600_000


# -- the underwater chart ----------------------------------------------------------------------
def test_underwater_is_the_drawdown_of_the_sample_paths(unit_result):
    """The median line of each policy is the median over kept paths of 1 - W / running peak."""
    fig = build_figures(unit_result)["underwater"]
    samples = unit_result.sample_paths
    spy = unit_result.scenario.simulation.steps_per_year
    medians = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in medians] == list(unit_result.policy_names)
    for trace in medians:
        w = samples.loc[trace.name].to_numpy()
        dd = 1.0 - w / np.maximum.accumulate(w, axis=1)
        steps = np.rint(np.asarray(trace.x) * spy).astype(int)
        np.testing.assert_allclose(-np.asarray(trace.y) / 100.0, np.median(dd, axis=0)[steps])
        assert np.all(np.asarray(trace.y) <= 0.0)


# -- probability of success by year --------------------------------------------------------------
def test_success_by_year_ends_at_the_share_of_goals_met(tmp_path):
    """With a goal, the last point is P(terminal wealth >= goal) from the sketch: the per-path
    P(goal met) up to the paths within one sketch bin (0.5 %) of the goal."""
    table = _table("retirement_withdrawals")
    table["simulation"]["goal"] = 1_500_000.0
    result = mcsim.run(mcsim.Scenario.from_dict(table), n_paths=N_PATHS, seed=5)
    fig = build_figures(result)["success"]
    tw = result.metric("terminal_wealth")
    goal = 1_500_000.0
    for trace in fig.data:
        w = tw[trace.name].to_numpy()
        met = float(result.summary.loc[(trace.name, "goal_met"), "mean"])
        near = np.mean(np.abs(np.log(np.maximum(w, 1e-300) / goal)) <= 0.005)
        assert abs(trace.y[-1] / 100.0 - met) <= near + 1e-12
        assert trace.y[0] == (100.0 if goal <= result.scenario.simulation.initial_wealth else 0.0)


def test_success_without_a_goal_is_the_share_still_solvent():
    table = _table("retirement_withdrawals")
    del table["simulation"]["goal"]
    result = mcsim.run(mcsim.Scenario.from_dict(table), n_paths=N_PATHS, seed=5)
    fig = build_figures(result)["success"]
    ruined = result.metric("ruined")
    for trace in fig.data:
        assert trace.y[-1] == pytest.approx(100.0 * (1.0 - ruined[trace.name].mean()))


def test_currency_labels_the_report_axes_and_tables(retirement_result, tmp_path):
    figs = build_figures(retirement_result)
    assert figs["fan"].layout.yaxis.title.text == "Wealth (€, log scale)"
    html = write_report(retirement_result, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Terminal wealth (€)" in html and "mean wealth (€)" in html
