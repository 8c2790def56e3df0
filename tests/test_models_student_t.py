"""Multivariate Student-t model: the kernel, covariance scaling, the df fit, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._student_t import simulate_student_t_nb

import mcsim
from mcsim.errors import ConfigError, DataError, ModelFitError, NumericalWarning
from mcsim.models import StudentTModel, model_from_config
from mcsim.models.student_t import fit_student_t, student_t_loglik
from mcsim.testing.models import (
    check_runs_alike_for_any_jobs,
    scenario_table,
    student_t_reference,
)

NAMES = ["a", "b", "c"]
MU = np.array([0.07, 0.03, 0.05])
VOL = np.array([0.18, 0.06, 0.12])
CORR = np.array([[1.0, 0.2, 0.5], [0.2, 1.0, -0.1], [0.5, -0.1, 1.0]])


def _model(df: float) -> StudentTModel:
    return StudentTModel(mu=MU, vol=VOL, corr=CORR, names=NAMES, df=df)


def _history(df: float, n: int, seed: int) -> pd.DataFrame:
    r = _model(df).simulate(1, n, 12, seed=seed)[0]
    return pd.DataFrame(r, columns=NAMES, index=pd.date_range("1900-01-31", periods=n, freq="ME"))


# -- kernel --------------------------------------------------------------------------------------
def test_kernel_equals_numpy_reference():
    model = _model(4.5)
    drift, chol = model.step_moments(12)
    out = np.empty((4, 9, 3))
    simulate_student_t_nb(np.random.default_rng(3), drift, chol, 4.5, out)
    ref = student_t_reference(np.random.default_rng(3), drift, chol, 4.5, 4, 9)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)


def test_chunks_equal_one_block():
    model = _model(5.0)
    whole = np.empty((9, 5, 3))
    model.simulate_into(np.random.default_rng(8), whole, 12)
    rng = np.random.default_rng(8)
    parts = np.empty((9, 5, 3))
    for lo, hi in [(0, 2), (2, 7), (7, 9)]:
        model.simulate_into(rng, parts[lo:hi], 12)
    np.testing.assert_array_equal(whole, parts)


def test_scaling_gives_the_requested_covariance_and_mean():
    # 400,000 monthly draws with df = 8. For an elliptical law with kurtosis parameter
    # k = 2 / (df - 4) = 0.5, Var(x_i x_j) = (1 + k)(s_ii s_jj + 2 s_ij^2) - s_ij^2, so the
    # standard error of a sample covariance entry is sqrt(that / n); the mean's is
    # sqrt(s_ii / n). We allow 5 standard errors.
    df, n = 8.0, 400_000
    model = _model(df)
    x = np.log1p(model.simulate(1, n, 12, seed=21)[0])
    cov = model.cov_ / 12
    k = 2.0 / (df - 4.0)
    d = np.diag(cov)
    se_cov = np.sqrt(((1 + k) * (np.outer(d, d) + 2 * cov**2) - cov**2) / n)
    assert np.all(np.abs(np.cov(x, rowvar=False) - cov) < 5 * se_cov)
    drift = (MU - 0.5 * VOL**2) / 12
    assert np.all(np.abs(x.mean(axis=0) - drift) < 5 * np.sqrt(d / n))


def test_one_shared_chi_square_gives_tail_dependence():
    # With independent series (identity correlation), joint extremes of a t still come together:
    # the fourth cross moment E[x^2 y^2] = (df - 2) / (df - 4) > 1 (unit variances), against
    # 1 for independent series. df = 6: expected 2.0; the estimate's standard error over
    # 200,000 draws is below 0.05, so 1.5 is far outside the independent case.
    model = StudentTModel(mu=[0, 0], vol=[0.2, 0.2], corr=np.eye(2), names=["x", "y"], df=6.0)
    x = np.log1p(model.simulate(1, 200_000, 1, seed=4)[0])
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    assert np.mean(x[:, 0] ** 2 * x[:, 1] ** 2) > 1.5


# -- fitting -------------------------------------------------------------------------------------
def test_loglik_matches_scipy():
    from scipy.stats import multivariate_t

    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    scale = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.1], [0.0, 0.1, 0.5]])
    loc = np.array([0.1, -0.2, 0.0])
    ref = multivariate_t(loc=loc, shape=scale, df=4.3).logpdf(x).sum()
    assert student_t_loglik(x, loc, scale, 4.3) == pytest.approx(ref, rel=1e-12)


def test_df_recovered_within_its_standard_error():
    # 3,000 monthly draws with df = 5: the fit reports df and its standard error from the
    # observed information of the profile likelihood (about 0.27 here; over 40 replicates in
    # development the spread of the estimates was 0.27 too). We allow 5 standard errors; mean and
    # covariance are the Gaussian fit, checked there.
    model = StudentTModel().fit(_history(5.0, 3000, 11), periods_per_year=12)
    assert model.df_se_ is not None and 0.1 < model.df_se_ < 0.6
    assert abs(model.df_ - 5.0) < 5 * model.df_se_
    assert model.params()["fit"]["df"] == "fitted"


@pytest.mark.slow
def test_df_standard_error_matches_the_spread_of_estimates():
    # 60 replicates of 2,000 draws with df = 6: the standard deviation of the estimates and the
    # mean reported standard error agree within 30 % (the sampling error of a standard
    # deviation from 60 replicates is about 9 %).
    rng = np.random.default_rng(99)
    p, df, n = 3, 6.0, 2000
    chol = np.linalg.cholesky(CORR * np.outer(VOL, VOL) / 12 * (df - 2) / df)
    est, se = [], []
    for _ in range(60):
        w = rng.chisquare(df, n)
        x = (rng.standard_normal((n, p)) @ chol.T) * np.sqrt(df / w)[:, None]
        res = fit_student_t(x)
        est.append(res.df)
        se.append(res.df_se)
    assert np.std(est) == pytest.approx(np.mean(se), rel=0.3)


def test_given_df_is_kept_and_moments_fitted():
    hist = _history(5.0, 600, 2)
    model = StudentTModel(df=7, estimator="oas").fit(hist, periods_per_year=12)
    assert model.df_ == 7 and model.df_se_ is None
    gauss = mcsim.GaussianModel(estimator="oas").fit(hist, periods_per_year=12)
    np.testing.assert_allclose(model.cov_, gauss.cov_, rtol=1e-14)
    np.testing.assert_allclose(model.mu_, gauss.mu_, rtol=1e-14)


def test_normal_data_warn_at_the_upper_bound():
    rng = np.random.default_rng(5)
    hist = pd.DataFrame(rng.normal(0.005, 0.04, (3000, 2)), columns=["x", "y"])
    with pytest.warns(NumericalWarning, match="no fat tails"):
        model = StudentTModel().fit(hist, periods_per_year=12)
    assert model.df_ > 50


def test_tails_too_fat_raise_with_the_fix():
    # Cauchy-like data (df = 1) cannot be fitted by a t with a finite variance.
    rng = np.random.default_rng(6)
    x = rng.standard_t(1.0, (2000, 2)) * 0.002
    hist = pd.DataFrame(np.expm1(np.clip(x, -5, 5)), columns=["x", "y"])
    with pytest.raises(ModelFitError, match=r"Give `\[model\].df`"):
        StudentTModel().fit(hist, periods_per_year=12)


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("df", [2, 1.5, -3])
def test_df_must_exceed_two(df):
    with pytest.raises(ConfigError, match=r"`\[model\].df` must be > 2"):
        model_from_config({"kind": "student_t", "df": df})


def test_df_must_be_a_number():
    with pytest.raises(ConfigError, match=r"`\[model\].df` must be a number"):
        model_from_config({"kind": "student_t", "df": "five"})


def test_explicit_parameters_need_df():
    with pytest.raises(ConfigError, match=r"`\[model\].df` is required with explicit"):
        StudentTModel(mu=MU, vol=VOL, corr=CORR, names=NAMES)


def test_too_few_rows_to_fit_df():
    with pytest.raises(DataError, match="at least 60 rows"):
        StudentTModel().fit(_history(5.0, 40, 1), periods_per_year=12)
    StudentTModel(df=5).fit(_history(5.0, 40, 1), periods_per_year=12)  # given df: fine


def test_singular_data_raise_with_the_fix():
    hist = _history(5.0, 200, 1)
    hist["d"] = hist["a"]
    with pytest.warns(NumericalWarning), pytest.raises(ConfigError, match="singular"):
        StudentTModel().fit(hist, periods_per_year=12)


def test_unknown_estimator():
    with pytest.raises(ConfigError, match=r"`\[model\].estimator` must be one of"):
        model_from_config({"kind": "student_t", "estimator": "robust"})


# -- params and scenarios ---------------------------------------------------------------------
def test_params_are_json_and_round_trip():
    model = StudentTModel().fit(_history(6.0, 800, 9), periods_per_year=12)
    p = json.loads(json.dumps(model.params()))
    assert p["kind"] == "student_t" and p["df"] == model.df_
    again = model_from_config(p)
    assert isinstance(again, StudentTModel) and again.df_ == model.df_
    np.testing.assert_allclose(again.cov_, model.cov_, rtol=1e-12)


@pytest.mark.parametrize(
    "model", [{"kind": "student_t", "df": 5}, {"kind": "student_t", "estimator": "ledoit_wolf"}]
)
def test_every_policy_runs_and_jobs_do_not_change_results(model):
    data = {"source": "shiller", "columns": ["us_stocks_tr", "us_bonds_10y_tr"], "start": "1950"}
    check_runs_alike_for_any_jobs(scenario_table(model, data=data))


def test_example_config_runs():
    scenario = mcsim.Scenario.from_toml("configs/student_t_60_40.toml")
    result = mcsim.run(scenario, n_paths=50)
    df = result.plan.model.params()["df"]
    assert 3 < df < 10


@settings(deadline=None, derandomize=True, max_examples=25)
@given(
    n_series=st.integers(1, 5),
    n_paths=st.integers(1, 4),
    n_steps=st.integers(1, 12),
    df=st.floats(2.05, 100.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernel_equals_reference_on_any_shape(n_series, n_paths, n_steps, df, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n_series, n_series))
    chol = np.linalg.cholesky(a @ a.T / n_series * 0.002 + 1e-6 * np.eye(n_series))
    drift = rng.normal(0.0, 0.01, n_series)
    out = np.empty((n_paths, n_steps, n_series))
    simulate_student_t_nb(np.random.default_rng(seed), drift, chol, df, out)
    ref = student_t_reference(np.random.default_rng(seed), drift, chol, df, n_paths, n_steps)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)
