"""Model check: statistics against hand computations, power, calibration, `mcsim fit`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

import mcsim.model_check
from mcsim.data import load_returns
from mcsim.errors import ConfigError, DataError
from mcsim.fit_command import fit_command, format_params, parse_options
from mcsim.model_check import compare_models, model_check
from mcsim.models import MODELS, GaussianModel, model_from_config
from mcsim.path_statistics import (
    STATISTICS,
    annualised_mean,
    annualised_vol,
    cagr,
    compound,
    excess_kurtosis,
    max_drawdown,
    pairwise_correlation,
    path_statistics,
    return_acf,
    skewness,
    squared_return_acf,
    worst_window_return,
)
from mcsim.report import model_check_figure

COLUMNS = ["history", "sim_median", "sim_p05", "sim_p95", "inside_90"]
# Kinds other engineers are adding; tests for them skip until they are registered.
EXPECTED_KINDS = {"gaussian", "student_t", "bootstrap", "garch", "regime"}
# What a kind needs beyond its name to be fitted (the factor model: how many factors).
REQUIRED_OPTIONS = {"factor": {"n_factors": 1}}
# Models with random draws: the historical-windows model replays the data, nothing to check.
ALL_KINDS = sorted(
    EXPECTED_KINDS | {k for k, m in MODELS.items() if getattr(m, "draws_random_numbers", True)}
)


def _require_kind(kind: str) -> None:
    if kind not in MODELS:
        pytest.skip(f"model kind {kind!r} is not registered yet")


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    """Small random simple returns of shape (4 paths, 40 steps, 3 series)."""
    rng = np.random.default_rng(7)
    return np.expm1(rng.standard_t(4, size=(4, 40, 3)) * 0.04 + 0.005)


@pytest.fixture(scope="module")
def shiller() -> pd.DataFrame:
    return load_returns("shiller")


@pytest.fixture(scope="module")
def recent() -> pd.DataFrame:
    """36 years of monthly stocks and bonds: short enough to fit any model quickly."""
    return load_returns("shiller", columns=["us_stocks_tr", "us_bonds_10y_tr"], start="1990")


# --------------------------------------------------------------------------------------------
# Statistics against hand computations
# --------------------------------------------------------------------------------------------


def test_mean_vol_cagr_match_direct_formulas(returns):
    r = returns
    np.testing.assert_allclose(annualised_mean(r, 12), r.mean(axis=1) * 12, rtol=1e-14)
    np.testing.assert_allclose(
        annualised_vol(r, 12), r.std(axis=1, ddof=1) * np.sqrt(12), rtol=1e-12
    )
    growth = np.prod(1 + r, axis=1)
    np.testing.assert_allclose(cagr(r, 12), growth ** (12 / 40) - 1, rtol=1e-12)


def test_skewness_and_kurtosis_equal_scipy_biased(returns):
    # Documented convention: biased central moments, as SciPy's defaults (bias=True).
    np.testing.assert_allclose(
        skewness(returns), scipy.stats.skew(returns, axis=1, bias=True), rtol=1e-10
    )
    np.testing.assert_allclose(
        excess_kurtosis(returns),
        scipy.stats.kurtosis(returns, axis=1, fisher=True, bias=True),
        rtol=1e-10,
    )


def test_moments_of_a_constant_series_are_nan():
    r = np.full((2, 30, 1), 0.01)
    r[1] = 0.1 / 3  # a value with rounding noise around its mean
    assert np.isnan(skewness(r)).all()
    assert np.isnan(excess_kurtosis(r)).all()
    assert np.isnan(squared_return_acf(r)).all()
    assert np.isnan(return_acf(r)).all()
    assert np.isnan(pairwise_correlation(np.concatenate([r, r + np.arange(30)[:, None]], 2))).all()


def test_max_drawdown_of_a_known_path():
    # Wealth 1, 1.1, 0.55, 0.66, 1.32, 1.188: peak 1.1 -> trough 0.55 is a 50 % drawdown;
    # the later fall 1.32 -> 1.188 is only 10 %.
    r = np.array([0.1, -0.5, 0.2, 1.0, -0.1])[:, None]
    np.testing.assert_allclose(max_drawdown(r), [[0.5]], rtol=1e-12)
    # Wealth starts at 1, so a loss in the first period counts.
    np.testing.assert_allclose(max_drawdown(np.array([[-0.2], [0.1]])), [[0.2]], rtol=1e-12)
    assert max_drawdown(np.array([[0.1], [0.2]]))[0, 0] == 0.0


@pytest.mark.parametrize("window", [1, 3, 12, 40])
def test_worst_window_return_by_brute_force(returns, window):
    n_paths, n_steps, n_series = returns.shape
    expected = np.empty((n_paths, n_series))
    for p in range(n_paths):
        for s in range(n_series):
            expected[p, s] = min(
                np.prod(1 + returns[p, t : t + window, s]) - 1 for t in range(n_steps - window + 1)
            )
    np.testing.assert_allclose(worst_window_return(returns, window), expected, rtol=1e-10)
    assert np.isnan(worst_window_return(returns, 41)).all()


def test_squared_return_acf_by_brute_force(returns):
    lags = [1, 2, 5, 12]
    got = squared_return_acf(returns, lags)
    n_paths, n_steps, n_series = returns.shape
    for p in range(n_paths):
        for s in range(n_series):
            x = returns[p, :, s]
            y = (x - x.mean()) ** 2
            c = y - y.mean()
            for i, k in enumerate(lags):
                num = sum(c[t] * c[t + k] for t in range(n_steps - k))
                assert got[p, s, i] == pytest.approx(num / np.sum(c * c), rel=1e-10)


@pytest.mark.parametrize("lag", [1, 3])
def test_return_acf_by_brute_force(returns, lag):
    got = return_acf(returns, lag)
    for p in range(returns.shape[0]):
        for s in range(returns.shape[2]):
            d = returns[p, :, s] - returns[p, :, s].mean()
            num = sum(d[t] * d[t + lag] for t in range(len(d) - lag))
            assert got[p, s] == pytest.approx(num / np.sum(d * d), rel=1e-10)


def test_pairwise_correlation_matches_corrcoef(returns):
    got = pairwise_correlation(returns)
    assert got.shape == (4, 3)
    for p in range(4):
        c = np.corrcoef(returns[p].T)
        np.testing.assert_allclose(got[p], [c[0, 1], c[0, 2], c[1, 2]], rtol=1e-12)


def test_compound_groups_from_the_first_period_and_drops_the_rest(returns):
    got = compound(returns, 12)
    assert got.shape == (4, 3, 3)  # 40 // 12 full groups
    expected = np.prod(1 + returns[:, 12:24], axis=1) - 1
    np.testing.assert_allclose(got[:, 1], expected, rtol=1e-12)


@settings(deadline=None, derandomize=True, max_examples=15)
@given(
    n_paths=st.integers(1, 5),
    n_steps=st.integers(2, 30),
    n_series=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_statistics_of_a_path_do_not_depend_on_the_other_paths(n_paths, n_steps, n_series, seed):
    # Vectorised over paths: path i's row equals the statistics of path i alone.
    r = np.expm1(np.random.default_rng(seed).normal(0.0, 0.05, size=(n_paths, n_steps, n_series)))
    names = [f"s{i}" for i in range(n_series)]
    all_paths = path_statistics(r, 12, names)
    assert all_paths.shape == (n_paths, n_series * 10 + n_series * (n_series - 1) // 2)
    for p in range(n_paths):
        one = path_statistics(r[p], 12, names)  # a 2-D history is one path
        np.testing.assert_array_equal(all_paths.iloc[[p]].to_numpy(), one.to_numpy())


def test_path_statistics_columns():
    stats = path_statistics(np.zeros((20, 3)) + 0.01, 12, ["a", "b", "c"])
    assert list(dict.fromkeys(stats.columns.get_level_values(0))) == list(STATISTICS)
    assert list(stats["correlation"].columns) == ["a~b", "a~c", "b~c"]


# --------------------------------------------------------------------------------------------
# The check on real data: it says yes where the Gaussian fits and no where it cannot
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shiller_check(shiller) -> pd.DataFrame:
    model = GaussianModel().fit(shiller, periods_per_year=12)
    return model_check(model, shiller, 12, n_paths=500, seed=3)


def test_table_shape_and_types(shiller_check):
    t = shiller_check
    assert list(t.columns) == COLUMNS
    assert t.index.names == ["statistic", "series"]
    assert len(t) == 3 * 10 + 3
    assert t["inside_90"].dtype == bool
    assert (t["sim_p05"] <= t["sim_median"]).all() and (t["sim_median"] <= t["sim_p95"]).all()
    assert t.attrs["n_periods"] == 1862 and t.attrs["n_paths"] == 500


def test_gaussian_reproduces_mean_and_vol_of_shiller(shiller_check):
    for stat in ("ann_mean", "ann_vol", "cagr"):
        assert shiller_check.loc[stat, "inside_90"].all(), stat


def test_gaussian_fails_the_fat_tails_of_shiller(shiller_check):
    # Monthly stock returns 1871-2026 have excess kurtosis ~17; a lognormal's sample excess
    # kurtosis over 1862 months is ~0 +- 0.12. The check must be able to say "no".
    row = shiller_check.loc[("excess_kurtosis", "us_stocks_tr")]
    assert row["history"] > 5 and not row["inside_90"]
    assert row["history"] > row["sim_p95"]
    assert not shiller_check.loc[("acf_sq_lag1", "us_stocks_tr"), "inside_90"]


# --------------------------------------------------------------------------------------------
# Calibration: a model's own simulated path passes its own check
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_model_passes_its_own_check(kind, recent):
    _require_kind(kind)
    model = model_from_config({"kind": kind, **REQUIRED_OPTIONS.get(kind, {})})
    model = model.fit(recent, periods_per_year=12)
    names = model.series_names
    fake = pd.DataFrame(model.simulate(1, len(recent), 12, seed=11)[0], columns=names)
    table = model_check(model, fake, 12, n_paths=400, seed=12)
    # Each of the K = 21 statistics falls outside its band with probability ~0.10. If they
    # were independent, failures ~ Bin(21, 0.1): mean 2.1, sd 1.4. They come in correlated
    # pairs (ann_mean/cagr, the two squared ACFs, worst_12m/max_drawdown), which is at worst
    # like 2 x Bin(11, 0.1): mean 2.2, sd 2.0; mean + 4.5 sd ~ 11. P(Bin(11, 0.1) >= 5) =
    # 0.0028, so allow at most 8 failures.
    failures = int((~table["inside_90"]).sum())
    assert len(table) == 21
    assert failures <= 8, table[~table["inside_90"]]


def test_coverage_of_the_band_is_90_percent():
    # R independent "histories" drawn from the model itself. For each statistic, the number
    # of histories inside the empirical 5-95 % band of n sims is Bin(R, p) with
    # p = 0.9 * n / (n + 1) ~ 0.8955 (rank of the history among n + 1 exchangeable draws).
    # R = 80: sd = sqrt(80 * 0.9 * 0.1) = 2.7, so each count must be >= 71.6 - 5 sd = 58.
    # Overall: the share of statistics inside, m_i, is i.i.d. across histories i, so its mean
    # has standard error sd(m_i) / sqrt(R), estimated from the sample (~0.01; about 0.0073 if
    # the 21 statistics were independent). Within 5 SE of p: a band that was really 2-98 %
    # (coverage 0.96) or 10-90 % (0.80) fails.
    model = GaussianModel(
        mu=[0.07, 0.03], vol=[0.16, 0.06], corr=[[1, 0.2], [0.2, 1]], names=["a", "b"]
    )
    n_sims, n_hist, n_rep = 200, 48, 80
    rng = np.random.default_rng(5)
    inside = []
    for i in range(n_rep):
        hist = np.empty((1, n_hist, 2))
        model.simulate_into(rng, hist, 12)
        inside.append(model_check(model, hist[0], 12, n_paths=n_sims, seed=100 + i)["inside_90"])
    hits = pd.concat(inside, axis=1)  # (statistic, history)
    p = 0.9 * n_sims / (n_sims + 1)
    sd = np.sqrt(n_rep * p * (1 - p))
    assert (hits.sum(axis=1) >= n_rep * p - 5 * sd).all(), hits.sum(axis=1)
    share = hits.mean(axis=0)  # m_i
    se = share.std(ddof=1) / np.sqrt(n_rep)
    assert 0 < se < 0.03
    assert abs(share.mean() - p) < 5 * se, (share.mean(), se)


def test_chunked_simulation_gives_the_same_table(recent, monkeypatch):
    model = GaussianModel().fit(recent, periods_per_year=12)
    whole = model_check(model, recent, 12, n_paths=60, seed=4)
    monkeypatch.setattr(mcsim.model_check, "_CHUNK_VALUES", 1000)  # one path per chunk
    chunked = model_check(model, recent, 12, n_paths=60, seed=4)
    pd.testing.assert_frame_equal(whole, chunked)


@pytest.mark.parametrize(("steps_per_year", "freq", "n_periods"), [(24, 12, 435), (4, 4, 145)])
def test_other_simulation_frequency_is_compared_at_the_coarser_one(
    recent, steps_per_year, freq, n_periods
):
    # History drawn monthly from a lognormal model: compounded to any coarser frequency it
    # has exactly the model's distribution at that frequency, so it must pass the check.
    model = GaussianModel().fit(recent, periods_per_year=12)
    fake = pd.DataFrame(model.simulate(1, 435, 12, seed=8)[0], columns=model.series_names)
    table = model_check(model, fake, 12, steps_per_year=steps_per_year, n_paths=300, seed=2)
    assert table.attrs["periods_per_year"] == freq
    assert table.attrs["steps_per_year"] == steps_per_year
    assert table.attrs["n_periods"] == n_periods
    assert table.loc["ann_vol", "inside_90"].all()
    assert table.loc["ann_mean", "inside_90"].all()
    hist = compound(fake.to_numpy(), 12 // freq)
    expected = path_statistics(hist, freq, fake.columns)
    np.testing.assert_allclose(table["history"], expected.to_numpy()[0])


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def test_steps_per_year_must_divide_or_be_a_multiple(recent):
    model = GaussianModel().fit(recent, periods_per_year=12)
    with pytest.raises(ConfigError, match="`steps_per_year` \\(5\\) must be a multiple"):
        model_check(model, recent, 12, steps_per_year=5)


def test_periods_per_year_must_match_the_loaded_history(recent):
    model = GaussianModel().fit(recent, periods_per_year=12)
    with pytest.raises(ConfigError, match="loaded with 12 periods per year"):
        model_check(model, recent, 4)


def test_n_paths_must_be_at_least_20(recent):
    model = GaussianModel().fit(recent, periods_per_year=12)
    with pytest.raises(ConfigError, match="`n_paths` must be >= 20"):
        model_check(model, recent, 12, n_paths=5)


def test_history_must_hold_the_model_series(recent):
    model = GaussianModel().fit(recent, periods_per_year=12)
    with pytest.raises(DataError, match="no column\\(s\\) 'us_bonds_10y_tr'"):
        model_check(model, recent[["us_stocks_tr"]], 12)
    with pytest.raises(DataError, match="shape \\(n_periods, 2\\)"):
        model_check(model, recent.to_numpy()[:, :1], 12)


def test_history_must_be_finite(recent):
    model = GaussianModel().fit(recent, periods_per_year=12)
    bad = recent.copy()
    bad.iloc[3, 0] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        model_check(model, bad, 12)


def test_history_too_short(recent):
    model = GaussianModel().fit(recent, periods_per_year=12)
    with pytest.raises(DataError, match="at least 3"):
        model_check(model, recent.iloc[:30], 12, steps_per_year=1)


def test_unfitted_model_is_refused(recent):
    with pytest.raises(ConfigError, match="no parameters"):
        model_check(GaussianModel(), recent, 12)


def test_parse_options():
    assert parse_options(["df=5", "mu=[0.06, 0.02]", "estimator=ledoit_wolf", "x=1.5"]) == {
        "df": 5,
        "mu": [0.06, 0.02],
        "estimator": "ledoit_wolf",
        "x": 1.5,
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_options(["df"])


# --------------------------------------------------------------------------------------------
# compare_models, figure, text
# --------------------------------------------------------------------------------------------


def test_compare_models_side_by_side(recent):
    kinds = {"plain": {"kind": "gaussian"}, "gaussian": {"estimator": "ledoit_wolf"}}
    if "student_t" in MODELS:
        kinds["student_t"] = {}
    table = compare_models(recent, 12, kinds, n_paths=100, seed=1)
    assert table.columns[0] == ("history", "value")
    assert list(table.columns.get_level_values("model").unique()) == ["history", *kinds]
    assert table.shape == (21, 1 + 2 * len(kinds))
    single = model_check(
        GaussianModel().fit(recent, periods_per_year=12), recent, 12, n_paths=100, seed=1
    )
    pd.testing.assert_series_equal(
        table["plain", "sim_median"], single["sim_median"], check_names=False
    )
    assert table.xs("inside_90", axis=1, level="field").dtypes.eq(bool).all()


def test_compare_models_list_and_unknown_kind(recent):
    table = compare_models(recent, 12, ["gaussian"], n_paths=50)
    assert list(table.columns) == [
        ("history", "value"),
        ("gaussian", "sim_median"),
        ("gaussian", "inside_90"),
    ]
    with pytest.raises(ConfigError, match=r"must be one of.*'gaussian'"):
        compare_models(recent, 12, ["gausian"], n_paths=50)
    with pytest.raises(ConfigError, match="at least one model"):
        compare_models(recent, 12, [], n_paths=50)


def test_model_check_figure_structure(shiller_check):
    fig = model_check_figure(shiller_check)
    n_stats = len(STATISTICS)
    assert len(fig.data) == 3 * n_stats
    titles = [a.text for a in fig.layout.annotations]
    assert titles == list(STATISTICS)
    kurt = fig.data[3 * list(STATISTICS).index("excess_kurtosis") + 2]
    assert kurt.name == "history" and list(kurt.marker.color) == ["crimson"] * 3
    assert sum(trace.showlegend is True for trace in fig.data) == 3


def test_format_params_handles_any_model_shape():
    text = format_params(
        {
            "kind": "demo",
            "assets": ["a", "b"],
            "mu": [0.05, 0.02],
            "df": 4.5,
            "corr": [[1.0, 0.3], [0.3, 1.0]],
            "extra": {"p": [0.9, 0.1], "nested": {"q": 1}},
        }
    )
    lines = text.splitlines()
    assert lines[:2] == ["Model: demo", "Series: a, b"]
    assert "mu (annual mean)" in text and "0.0500" in text
    assert "corr:" in text and "0.3000" in text
    assert "df: 4.5" in lines
    assert "  p: [0.9, 0.1]" in lines and "    q: 1" in lines


def test_format_params_labels_regimes_apart_from_series():
    # Two regimes and two series: shapes alone cannot tell them apart; the count key does.
    text = format_params(
        {
            "kind": "regime",
            "assets": ["a", "b"],
            "n_regimes": 2,
            "means": [[0.1, 0.02], [-0.1, 0.05]],
            "corrs": [[[1.0, 0.2], [0.2, 1.0]], [[1.0, -0.4], [-0.4, 1.0]]],
            "transition": [[0.95, 0.05], [0.2, 0.8]],
            "last_probs": [0.7, 0.3],
        }
    )
    rows = [line.split() for line in text.splitlines()]

    def block(title: str) -> list[list[str]]:
        i = rows.index(title.split())
        return rows[i + 1 : i + 4]

    assert block("means:") == [
        ["a", "b"],
        ["regime", "0", "0.1000", "0.0200"],
        ["regime", "1", "-0.1000", "0.0500"],
    ]
    assert block("corrs [regime 1]:")[:2] == [["a", "b"], ["a", "1.0000", "-0.4000"]]
    assert block("transition:")[0] == ["regime", "0", "regime", "1"]
    assert ["regime", "0", "0.7000"] in rows and ["last_probs"] in rows


# --------------------------------------------------------------------------------------------
# mcsim fit
# --------------------------------------------------------------------------------------------


def test_fit_command_end_to_end(tmp_path, capsys):
    code = fit_command(
        "shiller",
        "gaussian",
        columns="us_stocks_tr,us_bonds_10y_tr",
        start="1950",
        n_paths=100,
        seed=1,
        out=tmp_path,
        options=["estimator=ledoit_wolf"],
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "mu (annual mean)" in printed and "excess_kurtosis" in printed
    assert "History is inside the simulated 5-95 % band for" in printed
    params = json.loads((tmp_path / "fit.json").read_text())
    assert params["kind"] == "gaussian"
    assert params["assets"] == ["us_stocks_tr", "us_bonds_10y_tr"]
    table = pd.read_csv(tmp_path / "model_check.csv", index_col=[0, 1])
    assert list(table.columns) == COLUMNS
    assert table.shape == (21, 5)
    assert table["inside_90"].dtype == bool
    html = (tmp_path / "model_check.html").read_text()
    assert "plotly" in html and "<table" in html and "excess_kurtosis" in html


def test_fit_command_bad_model_names_valid_kinds():
    with pytest.raises(ConfigError, match=r"must be one of.*'gaussian'.*got 'gausian'"):
        fit_command("shiller", "gausian", n_paths=50)


def test_fit_command_bad_data_path(tmp_path):
    with pytest.raises(DataError):
        fit_command(str(tmp_path / "missing.csv"), "gaussian", n_paths=50)


def test_fit_command_kind_option_conflicts_with_model():
    with pytest.raises(ConfigError, match="conflicts with `--model gaussian`"):
        fit_command("shiller", "gaussian", options={"kind": "student_t"}, n_paths=50)


def test_mcsim_fit_command_line(tmp_path, capsys):
    cli = pytest.importorskip("mcsim.cli")
    argv = ["fit", "shiller", "--model", "gaussian", "--columns", "us_stocks_tr"]
    argv += ["--start", "1950", "--steps-per-year", "4", "--paths", "100", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "at 4 per year" in printed and "corr:" not in printed
    table = pd.read_csv(tmp_path / "model_check.csv", index_col=[0, 1])
    assert table.shape == (10, 5)
    assert cli.main(["fit", "shiller", "--model", "gausian"]) == 2
    err = capsys.readouterr().err
    assert "'gaussian'" in err and "'lognormal'" in err and "Did you mean 'gaussian'?" in err
