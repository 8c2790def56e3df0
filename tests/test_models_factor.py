"""Factor covariance model: the kernel, the implied covariance, the PCA fit, bad inputs, runs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._factor import simulate_factor_nb

from mcsim.cli import main
from mcsim.errors import ConfigError
from mcsim.models import FactorModel, model_from_config
from mcsim.models.factor import fit_factor_structure
from mcsim.testing.models import check_runs_alike_for_any_jobs, scenario_table

NAMES = ["a", "b", "c", "d"]
MU = [0.07, 0.03, 0.05, 0.06]
LOADINGS = [[0.15, 0.02], [0.02, 0.05], [0.10, -0.03], [0.12, 0.04]]
IDIO = [0.10, 0.03, 0.06, 0.08]
FACTOR_VOL = [1.0, 1.2]
FACTOR_CORR = [[1.0, 0.3], [0.3, 1.0]]


def _model() -> FactorModel:
    return FactorModel(
        MU,
        loadings=LOADINGS,
        idiosyncratic_vol=IDIO,
        factor_vol=FACTOR_VOL,
        factor_corr=FACTOR_CORR,
        names=NAMES,
    )


def _factor_reference(rng, drift, factor_chol, loadings, idio_sd, n_paths, n_steps):
    """Plain NumPy twin of the kernel, with its draw order (per step: factors, then series)."""
    k, n = factor_chol.shape[0], loadings.shape[0]
    out = np.empty((n_paths, n_steps, n))
    for p in range(n_paths):
        for t in range(n_steps):
            u = np.array([rng.standard_normal() for _ in range(k)])
            e = np.array([rng.standard_normal() for _ in range(n)])
            out[p, t] = np.expm1(drift + loadings @ (factor_chol @ u) + idio_sd * e)
    return out


def _factor_history(n_series: int, n_factors: int, n_obs: int, seed: int):
    """Monthly simple returns from a known factor structure, and its covariance per month."""
    rng = np.random.default_rng(seed)
    b = rng.normal(0.3, 0.25, (n_series, n_factors)) / np.sqrt(12)
    d = rng.uniform(0.02, 0.08, n_series) / 12
    x = 0.005 + rng.standard_normal((n_obs, n_factors)) @ b.T
    x += rng.standard_normal((n_obs, n_series)) * np.sqrt(d)
    names = [f"s{i}" for i in range(n_series)]
    index = pd.date_range("1990-01-31", periods=n_obs, freq="ME")
    return pd.DataFrame(np.expm1(x), columns=names, index=index), b @ b.T + np.diag(d)


def _se_of_sample_cov(cov: np.ndarray, n_obs: int) -> np.ndarray:
    """Standard error of each sample covariance entry of normal data."""
    d = np.diag(cov)
    return np.sqrt((np.outer(d, d) + cov**2) / n_obs)


# -- kernel --------------------------------------------------------------------------------------
def test_kernel_equals_numpy_reference():
    drift, chol, loadings, idio = _model().step_moments(12)
    out = np.empty((3, 7, 4))
    simulate_factor_nb(np.random.default_rng(5), drift, chol, loadings, idio, out)
    ref = _factor_reference(np.random.default_rng(5), drift, chol, loadings, idio, 3, 7)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)


def test_chunks_equal_one_block():
    model = _model()
    whole = np.empty((9, 5, 4))
    model.simulate_into(np.random.default_rng(8), whole, 12)
    rng = np.random.default_rng(8)
    parts = np.empty((9, 5, 4))
    for lo, hi in [(0, 2), (2, 7), (7, 9)]:
        model.simulate_into(rng, parts[lo:hi], 12)
    np.testing.assert_array_equal(whole, parts)


def test_implied_covariance_is_loadings_factor_cov_plus_idiosyncratic():
    model = _model()
    b, s = np.array(LOADINGS), np.diag(FACTOR_VOL)
    expected = b @ s @ np.array(FACTOR_CORR) @ s @ b.T + np.diag(np.square(IDIO))
    np.testing.assert_allclose(model.cov_, expected, rtol=1e-14)
    np.testing.assert_allclose(model.vol_, np.sqrt(np.diag(expected)), rtol=1e-14)


def test_simulated_covariance_and_mean_match_the_model():
    # 300,000 monthly draws; entries of the sample covariance and mean within 5 standard
    # errors of the model's per-step values.
    n = 300_000
    model = _model()
    x = np.log1p(model.simulate(1, n, 12, seed=21)[0])
    cov = model.cov_ / 12
    assert np.all(np.abs(np.cov(x, rowvar=False) - cov) < 5 * _se_of_sample_cov(cov, n))
    drift = (np.array(MU) - 0.5 * np.diag(model.cov_)) / 12
    assert np.all(np.abs(x.mean(axis=0) - drift) < 5 * np.sqrt(np.diag(cov) / n))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 12),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_explicit_parameters_give_a_psd_covariance_and_finite_returns(n, k, seed):
    rng = np.random.default_rng(seed)
    model = FactorModel(
        rng.uniform(-0.02, 0.1, n).tolist(),
        loadings=rng.normal(0, 0.2, (n, k)).tolist(),
        idiosyncratic_vol=rng.uniform(0, 0.3, n).tolist(),
        factor_vol=rng.uniform(0, 1.5, k).tolist(),
        names=[f"x{i}" for i in range(n)],
    )
    assert np.linalg.eigvalsh(model.cov_).min() > -1e-12
    r = model.simulate(2, 6, 12, seed=seed)
    assert np.all(np.isfinite(r)) and np.all(r > -1.0)


# -- fit -----------------------------------------------------------------------------------------
def test_fit_structure_recovers_an_exact_factor_covariance():
    rng = np.random.default_rng(3)
    b = rng.normal(0.1, 0.1, (25, 3))
    cov = b @ b.T + np.diag(rng.uniform(0.01, 0.04, 25))
    res = fit_factor_structure(cov, 3)
    assert res.converged
    g = res.loadings * res.factor_vol
    np.testing.assert_allclose(g @ g.T + np.diag(res.idio_var), cov, atol=1e-7 * cov.max())
    np.testing.assert_allclose(np.linalg.norm(res.loadings, axis=0), 1.0)


def test_pca_fit_recovers_the_covariance_of_data_from_a_factor_structure():
    # 5,000 months of 40 series with 3 factors: every entry of the fitted covariance within
    # 5 standard errors of a sample covariance entry of the true one (the fit only smooths
    # the sample covariance, it does not add noise).
    n_obs = 5_000
    returns, true_cov = _factor_history(40, 3, n_obs, seed=11)
    model = FactorModel(n_factors=3).fit(returns, periods_per_year=12)
    err = np.abs(model.cov_ / 12 - true_cov)
    assert np.all(err < 5 * _se_of_sample_cov(true_cov, n_obs))
    # The fitted volatilities are the sample ones, and the mean log return is kept.
    x = np.log1p(returns.to_numpy())
    np.testing.assert_allclose(model.vol_**2 / 12, x.var(axis=0, ddof=1), rtol=1e-6)
    drift = model.mu_ - 0.5 * model.vol_**2
    np.testing.assert_allclose(drift / 12, x.mean(axis=0), rtol=1e-9, atol=1e-12)
    assert model.fit_info_["n_factors"] == 3
    assert 0.0 < model.fit_info_["variance_explained"] < 1.0


def test_fit_with_fewer_rows_than_series_is_positive_definite():
    returns, _ = _factor_history(120, 2, 36, seed=4)
    model = FactorModel(n_factors=2).fit(returns, periods_per_year=12)
    assert np.linalg.eigvalsh(model.cov_).min() > 0.0


def test_given_mu_is_kept_by_the_fit():
    returns, _ = _factor_history(5, 1, 200, seed=2)
    mu = {f"s{i}": 0.01 * i for i in range(5)}
    model = FactorModel(mu, n_factors=1).fit(returns, periods_per_year=12)
    np.testing.assert_array_equal(model.mu_, [0.0, 0.01, 0.02, 0.03, 0.04])
    assert model.fit_info_["mu"] == "given"


def test_params_round_trip_through_the_config():
    returns, _ = _factor_history(6, 2, 300, seed=9)
    model = FactorModel(n_factors=2).fit(returns, periods_per_year=12)
    again = model_from_config(model.params())
    np.testing.assert_allclose(again.cov_, model.cov_, rtol=1e-13)
    np.testing.assert_array_equal(again.mu_, model.mu_)


# -- bad inputs ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"kind": "factor"}, "n_factors"),
        ({"kind": "factor", "n_factors": 0}, "n_factors"),
        ({"kind": "factor", "n_factors": 2, "loadings": [[1.0]]}, "n_factors"),
        ({"kind": "factor", "n_factor": 2}, "n_factor"),
        (
            {"kind": "factor", "assets": ["a", "b"], "mu": [0.1, 0.1], "loadings": [[0.1], [0.2]]},
            "idiosyncratic_vol",
        ),
        (
            {
                "kind": "factor",
                "assets": ["a", "b"],
                "mu": [0.1, 0.1],
                "loadings": [[0.1], [0.2], [0.3]],
                "idiosyncratic_vol": [0.1, 0.1],
            },
            "loadings",
        ),
        (
            {
                "kind": "factor",
                "assets": ["a", "b"],
                "mu": [0.1, 0.1],
                "loadings": [[0.1], [0.2]],
                "idiosyncratic_vol": [0.1, -0.1],
            },
            "idiosyncratic_vol",
        ),
        (
            {
                "kind": "factor",
                "assets": ["a", "b"],
                "mu": [0.1, 0.1],
                "loadings": [[0.1, 0.0], [0.2, 0.1]],
                "idiosyncratic_vol": [0.1, 0.1],
                "factor_vol": [1.0],
            },
            "factor_vol",
        ),
        (
            {
                "kind": "factor",
                "assets": ["a", "b"],
                "mu": [0.1, 0.1],
                "loadings": [[0.1, 0.0], [0.2, 0.1]],
                "idiosyncratic_vol": [0.1, 0.1],
                "factor_corr": [[1.0, 2.0], [2.0, 1.0]],
            },
            "factor_corr",
        ),
    ],
)
def test_bad_sections_name_the_field(section, field):
    with pytest.raises(ConfigError, match=field):
        model_from_config(section)


def test_as_many_factors_as_series_is_refused_at_fit():
    returns, _ = _factor_history(3, 1, 100, seed=1)
    with pytest.raises(ConfigError, match=r"n_factors.*below the number of series"):
        FactorModel(n_factors=3).fit(returns, periods_per_year=12)


# -- end to end ----------------------------------------------------------------------------------
def test_explicit_model_runs_alike_for_any_jobs():
    section = {
        "kind": "factor",
        "assets": NAMES,
        "mu": MU,
        "loadings": LOADINGS,
        "idiosyncratic_vol": IDIO,
        "factor_vol": FACTOR_VOL,
        "factor_corr": FACTOR_CORR,
    }
    table = scenario_table(section, data={})
    table["portfolio"]["target"] = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}
    check_runs_alike_for_any_jobs(table)


def test_fitted_model_runs_from_a_csv_and_records_the_fit(tmp_path):
    returns, _ = _factor_history(6, 2, 240, seed=13)
    path = tmp_path / "returns.csv"
    returns.rename_axis("date").to_csv(path)
    table = scenario_table(
        {"kind": "factor", "n_factors": 2},
        data={"source": str(path), "columns": list(returns.columns)},
    )
    table["portfolio"]["target"] = dict.fromkeys(returns.columns, 1 / 6)
    result = check_runs_alike_for_any_jobs(table)
    model = result.manifest["model"]
    assert model["kind"] == "factor"
    assert np.array(model["loadings"]).shape == (6, 2)
    assert model["fit"]["n_factors"] == 2


def test_cli_run_with_a_factor_model(tmp_path):
    returns, _ = _factor_history(4, 1, 240, seed=17)
    path = tmp_path / "returns.csv"
    returns.rename_axis("date").to_csv(path)
    config = tmp_path / "factor.toml"
    config.write_text(
        "[simulation]\nn_paths = 50\nhorizon_years = 2\nsteps_per_year = 12\nseed = 1\n"
        f'[data]\nsource = "{path}"\n'
        '[model]\nkind = "factor"\nn_factors = 1\n'
        "[portfolio]\ntarget = { s0 = 0.25, s1 = 0.25, s2 = 0.25, s3 = 0.25 }\n"
        '[[policies]]\nname = "quarterly"\nkind = "calendar"\nfrequency = "quarterly"\n'
    )
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--no-report"]) == 0


# -- benchmark inputs ----------------------------------------------------------------------------
def _benchmarks():
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    return importlib.import_module("bench_many_assets"), importlib.import_module("rows_models")


def test_w1_factor_row_is_w1s_covariance():
    _, rows_models = _benchmarks()
    w1 = rows_models.w1
    section = dict(rows_models.ROWS)["factor, W1's one-factor covariance (explicit)"]["model"]
    model = model_from_config(section)
    np.testing.assert_allclose(model.cov_, w1.correlation() * np.outer(w1.VOL, w1.VOL), rtol=1e-13)


def test_many_assets_dense_row_has_the_factor_rows_covariance():
    bench, _ = _benchmarks()
    factor = model_from_config(bench.factor_section(30, 3))
    dense = model_from_config(bench.dense_section(30, 3))
    np.testing.assert_allclose(dense.cov_, factor.cov_, rtol=1e-12)
    np.testing.assert_array_equal(dense.mu_, factor.mu_)
