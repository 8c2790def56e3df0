"""Notebook use: bundled names in ``Scenario.from_toml``, readable reprs, ``_repr_html_``,
``result.plot``, frozen results, ``py.typed`` and ``python -m mcsim``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from importlib import resources

import numpy as np
import plotly.graph_objects as go
import pytest

import mcsim
from mcsim.errors import ConfigError
from mcsim.scenarios import bundled_scenarios, scenario_path


@pytest.fixture(scope="module")
def result(small_table):
    return mcsim.run(mcsim.Scenario.from_dict(small_table()), seed=3)


@pytest.fixture(scope="module")
def single(small_table):
    table = small_table(policies=[{"name": "hold", "kind": "buy_and_hold"}])
    return mcsim.run(mcsim.Scenario.from_dict(table), seed=3)


# -- Scenario.from_toml with bundled names -----------------------------------------------------


@pytest.mark.parametrize("arg", ["default_60_40", "default_60_40.toml"])
def test_from_toml_takes_bundled_names_from_any_folder(arg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = mcsim.Scenario.from_toml(arg)
    assert s.name == "default_60_40"
    assert s.source == mcsim.Scenario.from_toml(scenario_path("default_60_40")).source


def test_every_bundled_name_resolves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in bundled_scenarios():
        assert mcsim.scenarios.resolve_scenario(name) == scenario_path(name)


def test_a_file_in_the_folder_comes_before_the_bundled_name(
    tmp_path, monkeypatch, small_table, write_toml
):
    monkeypatch.chdir(tmp_path)
    write_toml(small_table(name="local"), tmp_path / "default_60_40.toml")
    assert mcsim.Scenario.from_toml("default_60_40.toml").name == "local"


def test_an_unknown_name_fails_with_the_closest_bundled_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"Did you mean the bundled scenario 'default_60_40'"):
        mcsim.Scenario.from_toml("default_60_4")
    with pytest.raises(ConfigError, match=r"does not exist and is not a bundled scenario"):
        mcsim.Scenario.from_toml(tmp_path / "sub" / "default_60_40.toml")


# -- reprs ---------------------------------------------------------------------------------------


def test_scenario_repr_is_short_and_names_what_runs():
    s = mcsim.Scenario.from_toml("retirement_withdrawals")
    text = repr(s)
    assert text.startswith("Scenario 'retirement_withdrawals': 10,000 paths x 360 steps")
    assert "model: gaussian" in text
    assert "annual (calendar, baseline)" in text
    assert "cash flow" in text and "goal 1,000,000" in text
    assert len(text.splitlines()) <= 7


def test_result_html_holds_summary_and_comparison(result):
    html = result._repr_html_()
    assert html.count("<table") == 2
    for pol in result.policy_names:
        assert pol in html
    assert f"{result.baseline} (baseline)" in html
    assert "Terminal wealth" in html and "95% CI" in html
    # Compact: the comparison shows three metrics per policy, not every compared one.
    assert html.count("group-start") == len(result.policy_names) - 1
    assert len(html) < 20_000


def test_result_html_of_one_policy_has_no_comparison(single):
    html = single._repr_html_()
    assert html.count("<table") == 1 and "Paired" not in html


# -- result.plot ---------------------------------------------------------------------------------


def _names(fig: go.Figure) -> set[str]:
    return {t.name for t in fig.data if t.name}


def test_plot_methods_return_figures_with_every_policy(result):
    pols = set(result.policy_names)
    for fig in (
        result.plot.fan(),
        result.plot.distribution(),
        result.plot.distribution("max_drawdown"),
        result.plot.drawdown(),
    ):
        assert isinstance(fig, go.Figure)
        assert pols <= _names(fig)
    paired = result.plot.comparison()
    assert _names(paired) == pols - {result.baseline}
    assert "Maximum drawdown" in result.plot.drawdown().to_json()


def test_plot_comparison_metrics_choose_the_panels(result):
    two = result.plot.comparison(["terminal_wealth", "cagr"])
    titles = [a.text for a in two.layout.annotations]
    assert len([t for t in titles if "is better" in t]) == 2
    with pytest.raises(ValueError, match="not compared; choose from"):
        result.plot.comparison(["sharpe_of_nothing"])


def test_plot_refuses_what_it_cannot_draw(result, single):
    with pytest.raises(ValueError, match="metric must be one of terminal_wealth, max_drawdown"):
        result.plot.distribution("cagr")
    with pytest.raises(ValueError, match="one policy"):
        single.plot.comparison()


def test_plot_draws_the_report_figures(result):
    """The same figure as the report's (the functions are shared, not copied)."""
    report = mcsim.report.build_figures(result)
    assert result.plot.fan().to_json() == report["fan"].to_json()
    assert result.plot.drawdown().to_json() == report["max_drawdown"].to_json()


# -- frozen results, py.typed, python -m mcsim ---------------------------------------------------


@pytest.mark.parametrize("field", ["baseline", "policy_names", "plot", "summary", "scenario"])
def test_results_are_frozen(result, field):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, field, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(result, field)


def test_package_is_typed():
    assert resources.files("mcsim").joinpath("py.typed").is_file()


def test_python_dash_m_runs_the_command(tmp_path):
    out = subprocess.run(
        [sys.executable, "-P", "-m", "mcsim", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip() == f"mcsim {mcsim.__version__}"
    bad = subprocess.run(
        [sys.executable, "-P", "-m", "mcsim", "validate", "no_such_scenario"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "is not a bundled scenario" in bad.stderr


def test_plot_underwater_and_success_draw_the_report_figures(small_table):
    flows = small_table()
    flows["simulation"]["goal"] = 1.3 * flows["simulation"]["initial_wealth"]
    res = mcsim.run(mcsim.Scenario.from_dict(flows), seed=3)
    report = mcsim.report.build_figures(res)
    assert res.plot.underwater().to_json() == report["underwater"].to_json()
    success = res.plot.success()
    # The last point of success by year is P(goal met), in percent, up to the paths within
    # one sketch bin (0.5 %) of the goal: here none of the 64 paths is that close.
    met = res.metric("goal_met").mean()
    for trace in success.data:
        if trace.name in res.policy_names:
            y = np.asarray(trace.y, dtype=float)
            assert y[-1] == pytest.approx(100 * met[trace.name], abs=100 / 64 + 1e-9)
