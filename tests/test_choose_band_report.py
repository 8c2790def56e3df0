"""The band-versus-theory chart of a band study: its figure, its files, and the CLI's --out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mcsim.band_theory import merton_weight
from mcsim.cli import main
from mcsim.config import Scenario
from mcsim.optimize import BAND_STUDY_FILES, optimize_band
from mcsim.report.band_theory import band_curves_figure, band_theory_figure

COSTS = [5.0, 20.0, 50.0]
PI = merton_weight(0.08, 0.2, 3.0, rate=0.02)

TOML = f"""
name = "band_theory_small"

[simulation]
n_paths = 1000
horizon_years = 5
steps_per_year = 12
seed = 7
block_size = 250

[model]
kind = "gaussian"
assets = ["stock", "cash"]
mu = [0.08, 0.02]
vol = [0.2, 0.0001]
corr = [[1, 0], [0, 1]]

[portfolio]
target = {{ stock = {PI!r}, cash = {1 - PI!r} }}

[[policies]]
name = "band"
kind = "threshold"
band = 0.05
trade_to = "edge"

[decision]
risk_aversion = 3
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("band") / "band.toml"
    p.write_text(TOML)
    return p


@pytest.fixture(scope="module")
def study(scenario_file):
    return optimize_band(Scenario.from_toml(scenario_file), costs_bps=COSTS)


def test_the_chart_puts_the_search_next_to_the_formula_on_log_log_axes(study):
    fit = study.fit
    fig = band_theory_figure(
        study.table, slope=fit.slope, slope_se=fit.slope_se, intercept=fit.intercept
    )
    search, formula, fitted = fig.data
    assert search.name == "optimal band (search)"
    np.testing.assert_array_equal(search.x, COSTS)
    np.testing.assert_array_equal(search.y, study.table["optimal_band"])
    np.testing.assert_array_equal(search.error_y.array, study.table["optimal_band_se"])
    assert formula.name.startswith("no-trade band formula")
    np.testing.assert_array_equal(formula.y, study.table["theory_band"])
    # The formula is a cube-root law: slope 1/3 between any two of its points in logs.
    slopes = np.diff(np.log(formula.y)) / np.diff(np.log(formula.x))
    np.testing.assert_allclose(slopes, 1 / 3, rtol=1e-12)
    # The fitted line has the fitted slope, and passes through A cost^slope (cost in bp/1e4).
    x, y = np.asarray(fitted.x), np.asarray(fitted.y)
    np.testing.assert_allclose(np.diff(np.log(y)) / np.diff(np.log(x)), fit.slope, rtol=1e-9)
    assert y[0] == pytest.approx(np.exp(fit.intercept) * (x[0] / 1e4) ** fit.slope)
    assert f"{fit.slope:.3f}" in fitted.name
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_a_market_without_the_formula_draws_the_search_only(study):
    table = study.table.assign(theory_band=np.nan)
    fig = band_theory_figure(table)
    assert [t.name for t in fig.data] == ["optimal band (search)"]


def test_the_curves_have_one_line_per_cost_peaking_at_zero(study):
    fig = band_curves_figure(study.curves)
    assert [t.name for t in fig.data] == [f"{c:g} bp" for c in COSTS]
    for trace in fig.data:
        assert max(trace.y) == 0.0 and min(trace.y) <= 0.0
        assert list(trace.x) == sorted(trace.x)


def test_save_writes_the_table_the_curves_and_the_page(study, tmp_path):
    files = study.save(tmp_path / "study")
    assert {k: p.name for k, p in files.items()} == BAND_STUDY_FILES
    table = pd.read_csv(files["table"])
    pd.testing.assert_frame_equal(table, study.table, check_dtype=False)
    assert len(pd.read_csv(files["curves"])) == len(study.curves)
    page = files["report"].read_text()
    assert 'id="fig-band-theory"' in page and 'id="fig-band-curves"' in page
    assert "Gerhold" in page and "band_theory_small" in page
    # Nothing but the three files (the staging folder is gone).
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == sorted(
        BAND_STUDY_FILES.values()
    )


def test_cli_optimize_band_out_writes_the_chart(scenario_file, tmp_path, capsys):
    folder = tmp_path / "cli"
    argv = ["optimize-band", str(scenario_file), "--costs", "5,20,50", "--out", str(folder)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "cube-root law" in text
    assert "Wrote 3 files to" in text
    for name in BAND_STUDY_FILES.values():
        assert (folder / name).is_file()
    table = pd.read_csv(folder / "band_theory.csv")
    assert table["cost_bps"].tolist() == COSTS
    assert np.isfinite(table["theory_band"]).all()


def test_cli_optimize_band_refuses_an_unusable_out_before_searching(
    scenario_file, tmp_path, capsys
):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("earlier results")
    argv = ["optimize-band", str(scenario_file), "--out", str(not_a_folder)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("mcsim: error: ") and "--out" in captured.err
    assert "optimal band" not in captured.out  # refused before the search
    assert not_a_folder.read_text() == "earlier results"
