"""The real-wealth sketch: wealth over the simulated price index on the reporting grid, its
fan, its file, its chart, and its absence from runs without inflation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import mcsim
from mcsim.sketch import HIST_WIDTH


@pytest.fixture(scope="module")
def inflation_run() -> mcsim.SimulationResult:
    sc = mcsim.Scenario.from_toml("default_60_40")
    return mcsim.run(sc.replace(n_paths=1500, block_size=500, seed=7, horizon_years=10.0))


@pytest.fixture(scope="module")
def nominal_run() -> mcsim.SimulationResult:
    sc = mcsim.Scenario.from_toml("bands_5_25")
    return mcsim.run(sc.replace(n_paths=200, seed=3, horizon_years=5.0))


def test_real_sketch_counts_every_path_at_every_grid_point(inflation_run):
    r = inflation_run
    assert r.real_hist is not None
    assert r.real_hist.shape == r.hist.shape
    counts = r.real_hist.sum(axis=2)
    assert np.all(counts == r.metrics_array.shape[1])


def test_real_fan_at_horizon_matches_the_real_terminal_wealth_metric(inflation_run):
    """The sketch's horizon quantiles are the empirical quantiles of real terminal wealth to
    within one bin (0.5 % of wealth) and the gap between neighbouring order statistics."""
    r = inflation_run
    horizon = r.real_fan.index.get_level_values("year").max()
    for pol in r.policy_names:
        exact = np.sort(r.metric("real_terminal_wealth")[pol].to_numpy())
        n = exact.size
        row = r.real_fan.loc[(pol, horizon)]
        for label, q in (("p05", 0.05), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p95", 0.95)):
            k = q * (n - 1)
            lo, hi = exact[int(np.floor(k)) - 1], exact[int(np.ceil(k)) + 1]
            got = row[label]
            assert lo * np.exp(-HIST_WIDTH) <= got <= hi * np.exp(HIST_WIDTH), (pol, label)


def test_real_fan_differs_from_the_nominal_fan_by_the_price_level(inflation_run):
    """Prices rise on the default data: real wealth's median sits below nominal's later on."""
    r = inflation_run
    pol = r.baseline
    nominal = r.fan.loc[pol, "p50"].to_numpy()
    real = r.real_fan.loc[pol, "p50"].to_numpy()
    assert real[0] == pytest.approx(nominal[0], rel=HIST_WIDTH)
    assert real[-1] < nominal[-1]


def test_real_sketch_is_identical_for_any_n_jobs(inflation_run):
    sc = inflation_run.scenario
    two = mcsim.run(sc, n_jobs=2)
    np.testing.assert_array_equal(two.real_hist, inflation_run.real_hist)
    np.testing.assert_array_equal(two.hist, inflation_run.hist)


def test_real_fan_is_saved_plotted_and_in_the_report(inflation_run, tmp_path):
    files = inflation_run.save(tmp_path / "out", report=True)
    assert files["real_fan"].name == "real_fan.csv"

    saved = pd.read_csv(files["real_fan"], index_col=["policy", "year"])
    np.testing.assert_allclose(saved.to_numpy(), inflation_run.real_fan.to_numpy(), rtol=1e-12)
    fig = inflation_run.plot.fan(real=True)
    assert isinstance(fig, go.Figure)
    assert "Real wealth" in fig.layout.title.text
    html = files["report"].read_text()
    assert "Real wealth (after inflation) over time" in html


def test_run_without_inflation_has_no_real_wealth(nominal_run, tmp_path):
    r = nominal_run
    assert r.real_hist is None and r.real_fan is None
    with pytest.raises(ValueError, match="no inflation"):
        r.plot.fan(real=True)
    files = r.save(tmp_path / "out", report=False)
    assert "real_fan" not in files
    assert not (tmp_path / "out" / "real_fan.csv").exists()
