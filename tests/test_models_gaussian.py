"""Gaussian (lognormal) model: covariance estimators, expected returns, kernel, end to end."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from mcsim.kernels import simulate_gaussian_nb
from sklearn.covariance import OAS, LedoitWolf

import mcsim
from mcsim.errors import ConfigError, DataError, NumericalWarning
from mcsim.models import GaussianModel, model_from_config
from mcsim.models.estimators import estimate_covariance, ewma_weights
from mcsim.testing.models import (
    check_runs_alike_for_any_jobs,
    gaussian_reference,
    scenario_table,
)

NAMES = ["a", "b", "c"]
MU = np.array([0.07, 0.03, 0.05])
VOL = np.array([0.18, 0.06, 0.12])
CORR = np.array([[1.0, 0.2, 0.5], [0.2, 1.0, -0.1], [0.5, -0.1, 1.0]])


def _history(n: int = 360, seed: int = 0, ppy: int = 12) -> pd.DataFrame:
    """Simple returns simulated from the explicit model: one path of ``n`` periods."""
    model = GaussianModel(mu=MU, vol=VOL, corr=CORR, names=NAMES)
    r = model.simulate(1, n, ppy, seed=seed)[0]
    index = pd.date_range("1990-01-31", periods=n, freq="ME")
    return pd.DataFrame(r, index=index, columns=NAMES)


# -- estimators --------------------------------------------------------------------------------
@pytest.mark.parametrize(("estimator", "cls"), [("ledoit_wolf", LedoitWolf), ("oas", OAS)])
def test_shrinkage_equals_scikit_learn(estimator, cls):
    hist = _history(120)
    model = GaussianModel(estimator=estimator).fit(hist, periods_per_year=12)
    ref = cls(assume_centered=False).fit(np.log1p(hist.to_numpy())).covariance_
    np.testing.assert_allclose(model.cov_ / 12, ref, rtol=1e-12, atol=0)


def test_sample_covariance_is_unbiased_numpy():
    hist = _history(60)
    model = GaussianModel().fit(hist, periods_per_year=12)
    ref = np.cov(np.log1p(hist.to_numpy()), rowvar=False, ddof=1) * 12
    np.testing.assert_allclose(model.cov_, ref, rtol=1e-12)


def test_ewma_equals_pandas_ewm_covariance():
    hist = _history(100)
    x = np.log1p(hist)
    model = GaussianModel(estimator="ewma", halflife=24).fit(hist, periods_per_year=12)
    ref = x.ewm(halflife=24).cov(bias=True).loc[x.index[-1]].to_numpy()
    np.testing.assert_allclose(model.cov_ / 12, ref, rtol=1e-10)


def test_ewma_weights_halve_every_halflife():
    w = ewma_weights(50, 10.0)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    assert w[-1] / w[-11] == pytest.approx(2.0, rel=1e-12)


def test_estimate_covariance_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown"):
        estimate_covariance(np.zeros((20, 2)), "shrunk")


def test_mu_keeps_the_historical_mean_log_return_for_every_estimator():
    hist = _history(120)
    mean_log = np.log1p(hist.to_numpy()).mean(axis=0) * 12
    for est, kw in [("sample", {}), ("ewma", {"halflife": 12}), ("oas", {}), ("ledoit_wolf", {})]:
        m = GaussianModel(estimator=est, **kw).fit(hist, periods_per_year=12)
        np.testing.assert_allclose(m.mu_ - 0.5 * np.diag(m.cov_), mean_log, rtol=1e-12)


# -- capital market assumptions -----------------------------------------------------------------
def test_given_mu_is_matched_by_name_and_covariance_fitted():
    hist = _history(120)
    model = GaussianModel(mu={"c": 0.05, "a": 0.07, "b": 0.02}).fit(hist, periods_per_year=12)
    np.testing.assert_allclose(model.mu_, [0.07, 0.02, 0.05])
    ref = np.cov(np.log1p(hist.to_numpy()), rowvar=False) * 12
    np.testing.assert_allclose(model.cov_, ref, rtol=1e-12)
    assert model.params()["fit"]["mu"] == "given"


def test_given_mu_from_toml_table():
    section = {"kind": "gaussian", "mu": {"a": 0.07, "b": 0.02, "c": 0.05}, "estimator": "oas"}
    model = model_from_config(section)
    assert model.needs_history
    model.fit(_history(120), periods_per_year=12)
    np.testing.assert_allclose(model.mu_, [0.07, 0.02, 0.05])


def test_mu_length_mismatch():
    with pytest.raises(ConfigError, match=r"`\[model\].mu` has 2 values but the data has 3"):
        GaussianModel(mu=[0.05, 0.03]).fit(_history(60), periods_per_year=12)


def test_mu_names_missing_a_column():
    with pytest.raises(ConfigError, match=r"no value for data column\(s\) 'c'"):
        GaussianModel(mu={"a": 0.05, "b": 0.03}).fit(_history(60), periods_per_year=12)


# -- validation --------------------------------------------------------------------------------
def test_unknown_estimator():
    with pytest.raises(ConfigError, match=r"`\[model\].estimator` must be one of .*'oas'"):
        model_from_config({"kind": "gaussian", "estimator": "ledoitwolf"})


@pytest.mark.parametrize("halflife", [0, -3.0])
def test_halflife_must_be_positive(halflife):
    with pytest.raises(ConfigError, match=r"`\[model\].halflife` must be > 0"):
        model_from_config({"kind": "gaussian", "estimator": "ewma", "halflife": halflife})


def test_halflife_required_for_ewma():
    with pytest.raises(ConfigError, match=r"`\[model\].halflife` is required"):
        model_from_config({"kind": "gaussian", "estimator": "ewma"})


def test_halflife_refused_without_ewma():
    with pytest.raises(ConfigError, match=r"applies to `estimator = \"ewma\"` only"):
        model_from_config({"kind": "gaussian", "halflife": 12})


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match="Did you mean `estimator`"):
        model_from_config({"kind": "gaussian", "estimater": "oas"})


@pytest.mark.parametrize(("estimator", "need"), [("sample", 12), ("ledoit_wolf", 12)])
def test_too_few_rows(estimator, need):
    with pytest.raises(DataError, match=f"at least {need} rows"):
        GaussianModel(estimator=estimator).fit(_history(8), periods_per_year=12)


def test_too_few_rows_grows_with_series():
    hist = pd.DataFrame(np.random.default_rng(0).normal(0, 0.01, (20, 20)))
    with pytest.raises(DataError, match="at least 22 rows"):
        GaussianModel().fit(hist, periods_per_year=12)
    GaussianModel(estimator="oas").fit(hist, periods_per_year=12)  # shrinkage copes


def test_singular_covariance_warns_with_the_fix():
    hist = _history(60)
    hist["d"] = hist["a"]
    with pytest.warns(NumericalWarning, match="ledoit_wolf"):
        GaussianModel().fit(hist, periods_per_year=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GaussianModel(estimator="ledoit_wolf").fit(hist, periods_per_year=12)


# -- parameter recovery --------------------------------------------------------------------------
def test_parameter_recovery_from_a_long_simulated_history():
    # n = 24,000 months (2,000 years). Standard errors of the estimates:
    #   annual mean log return: sigma / sqrt(years)        (18 % vol -> 0.40 %)
    #   volatility:             sigma / sqrt(2 n)          (18 % vol -> 0.08 %)
    #   correlation:            (1 - rho^2) / sqrt(n)      (-> at most 0.0065)
    # We allow 5 standard errors each.
    n, ppy = 24_000, 12
    model = GaussianModel().fit(_history(n, seed=3), periods_per_year=ppy)
    years = n / ppy
    drift_hat = model.mu_ - 0.5 * model.vol_**2
    drift = MU - 0.5 * VOL**2
    assert np.all(np.abs(drift_hat - drift) < 5 * VOL / np.sqrt(years))
    assert np.all(np.abs(model.vol_ - VOL) < 5 * VOL / np.sqrt(2 * n))
    assert np.all(np.abs(model.corr_ - CORR) < 5 * (1 - CORR**2) / np.sqrt(n) + 1e-12)


# -- kernel --------------------------------------------------------------------------------------
def test_kernel_equals_numpy_reference():
    model = GaussianModel(mu=MU, vol=VOL, corr=CORR, names=NAMES)
    drift, chol = model.step_moments(12)
    out = np.empty((5, 7, 3))
    simulate_gaussian_nb(np.random.default_rng(11), drift, chol, out)
    ref = gaussian_reference(np.random.default_rng(11), drift, chol, 5, 7)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)


def test_chunks_equal_one_block():
    model = GaussianModel(estimator="oas").fit(_history(120), periods_per_year=12)
    whole = np.empty((10, 6, 3))
    model.simulate_into(np.random.default_rng(5), whole, 12)
    rng = np.random.default_rng(5)
    parts = np.empty((10, 6, 3))
    model.simulate_into(rng, parts[:3], 12)
    model.simulate_into(rng, parts[3:], 12)
    np.testing.assert_array_equal(whole, parts)


def test_annual_moments_scale_to_monthly_steps():
    # Fitted on annual data, simulated monthly: 12 monthly log returns sum to a year's.
    annual = GaussianModel(mu=MU, vol=VOL, corr=CORR, names=NAMES).simulate(1, 2000, 1, seed=1)
    model = GaussianModel().fit(pd.DataFrame(annual[0], columns=NAMES), periods_per_year=1)
    drift, chol = model.step_moments(12)
    np.testing.assert_allclose(drift * 12, model.mu_ - 0.5 * np.diag(model.cov_), rtol=1e-12)
    np.testing.assert_allclose(chol @ chol.T * 12, model.cov_, rtol=1e-12, atol=1e-15)


# -- params and scenarios --------------------------------------------------------------------------
def test_params_are_json_and_round_trip():
    model = GaussianModel(estimator="ewma", halflife=36).fit(_history(120), periods_per_year=12)
    p = json.loads(json.dumps(model.params()))
    assert p["estimator"] == "ewma" and p["halflife"] == 36
    assert p["fit"]["n_obs"] == 120 and p["fit"]["start"] == "1990-01-31"
    again = model_from_config(p)
    assert not again.needs_history
    np.testing.assert_allclose(again.cov_, model.cov_, rtol=1e-12)
    np.testing.assert_allclose(again.mu_, model.mu_, rtol=1e-12)


@pytest.mark.parametrize(
    "model",
    [
        {"kind": "gaussian"},
        {"kind": "gaussian", "estimator": "ewma", "halflife": 36},
        {"kind": "gaussian", "estimator": "ledoit_wolf"},
        {
            "kind": "gaussian",
            "estimator": "oas",
            "mu": {"us_stocks_tr": 0.07, "us_bonds_10y_tr": 0.04, "cpi_inflation": 0.025},
        },
    ],
)
def test_every_policy_runs_and_jobs_do_not_change_results(model):
    result = check_runs_alike_for_any_jobs(scenario_table(model))
    assert result.policy_names == ["hold", "quarterly", "band"]


def test_capital_market_assumptions_config_runs():
    scenario = mcsim.Scenario.from_toml("configs/capital_market_assumptions.toml")
    result = mcsim.run(scenario, n_paths=50)
    assert result.plan.model.params()["fit"]["mu"] == "given"
