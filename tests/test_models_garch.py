"""GARCH(1,1) with CCC / DCC correlation: kernels, fit, simulation moments, validation, engine."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._garch import dcc_loglik_nb, simulate_garch_nb

import mcsim
from mcsim.errors import ConfigError, DataError, ModelFitError
from mcsim.models import GarchModel, model_from_config
from mcsim.testing.models_dynamic import (
    all_policies_table,
    dcc_loglik_reference,
    simulate_garch_reference,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NAMES = ["a", "b"]
CORR = [[1.0, 0.4], [0.4, 1.0]]


def _explicit(**changes) -> GarchModel:
    kw = dict(
        correlation="dcc",
        distribution="normal",
        mu=[0.08, 0.04],
        vol=[0.16, 0.06],
        corr=CORR,
        alpha=[0.10, 0.06],
        beta=[0.85, 0.90],
        dcc_a=0.05,
        dcc_b=0.90,
        names=NAMES,
    )
    kw.update(changes)
    return GarchModel(**kw)


def _history(model: GarchModel, n_obs: int, seed: int) -> pd.DataFrame:
    r = model.simulate(1, n_obs, model.ppy_, seed=seed)[0]
    index = pd.date_range("1800-01-31", periods=n_obs, freq="ME")
    return pd.DataFrame(r, columns=model.series_names, index=index)


@pytest.fixture(scope="module")
def shiller_1970() -> pd.DataFrame:
    return mcsim.load_returns("shiller").loc["1970":, ["us_stocks_tr", "us_bonds_10y_tr"]]


@pytest.fixture(scope="module")
def fitted_dcc(shiller_1970) -> GarchModel:
    return GarchModel(correlation="dcc").fit(shiller_1970, periods_per_year=12)


# -- kernels against the NumPy references ---------------------------------------------------------
def _random_args(seed: int, n: int, dynamic: bool, student: bool) -> tuple:
    g = np.random.default_rng(seed)
    mu = g.normal(0.005, 0.002, n)
    alpha = g.uniform(0.0, 0.2, n)
    beta = g.uniform(0.0, 0.75, n)
    omega = g.uniform(1e-4, 3e-3, n) * (1 - alpha - beta)
    h0 = g.uniform(5e-4, 5e-3, n)
    a = g.uniform(0.0, 0.1) if dynamic else 0.0
    b = g.uniform(0.0, 0.85) if dynamic else 0.0
    m = g.normal(size=(n, n + 2))
    cov = m @ m.T / (n + 2)
    sd = np.sqrt(np.diag(cov))
    qbar = cov / np.outer(sd, sd)
    m = g.normal(size=(n, n + 2))
    q0 = m @ m.T / (n + 2) + 0.1 * np.eye(n)
    nu = g.uniform(2.5, 12.0) if student else 0.0
    return mu, omega, alpha, beta, h0, q0, qbar, a, b, nu


@settings(deadline=None, derandomize=True, max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 4),
    n_paths=st.integers(1, 3),
    n_steps=st.integers(1, 7),
    dynamic=st.booleans(),
    student=st.booleans(),
)
def test_simulate_kernel_equals_reference(seed, n, n_paths, n_steps, dynamic, student):
    args = _random_args(seed, n, dynamic, student)
    out = np.empty((n_paths, n_steps, n))
    simulate_garch_nb(np.random.default_rng(seed), *args, out)
    ref = simulate_garch_reference(np.random.default_rng(seed), *args, n_paths, n_steps)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)


@settings(deadline=None, derandomize=True, max_examples=20)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4), student=st.booleans())
def test_dcc_loglik_kernel_equals_reference(seed, n, student):
    _, _, _, _, _, _, qbar, a, b, nu = _random_args(seed, n, True, student)
    e = np.random.default_rng(seed + 1).standard_normal((25, n))
    q_next = np.empty((n, n))
    ll = dcc_loglik_nb(e, qbar, a, b, nu, q_next)
    ll_ref, q_ref = dcc_loglik_reference(e, qbar, a, b, nu)
    assert ll == pytest.approx(ll_ref, rel=1e-12, abs=1e-10)
    np.testing.assert_allclose(q_next, q_ref, rtol=1e-12)


def test_chunks_equal_one_block():
    model = _explicit(distribution="t", nu=6.0)
    whole = np.empty((9, 6, 2))
    model.simulate_into(np.random.default_rng(4), whole, 12)
    rng = np.random.default_rng(4)
    parts = np.empty((9, 6, 2))
    for lo, hi in [(0, 1), (1, 5), (5, 9)]:
        model.simulate_into(rng, parts[lo:hi], 12)
    np.testing.assert_array_equal(whole, parts)


# -- simulated moments ----------------------------------------------------------------------------
@pytest.mark.parametrize("distribution", ["normal", "t"])
def test_unconditional_variance_and_mean_of_log_returns(distribution):
    # Started from the long-run variance, E[h_t] = omega / (1 - alpha - beta) = hbar at every
    # step, so E[(r_t - m)^2] = hbar exactly and E[r_t] = m = (mu - vol^2 / 2) / 12. The squared
    # deviations are serially dependent within a path (volatility clustering), so the standard
    # error is not sigma / sqrt(n): each of the 4,000 independent paths is one batch, and the
    # batch means are i.i.d. (the fourth moment is finite: alpha^2 E[e^4] + 2 alpha beta +
    # beta^2 < 1 for both series with nu = 8). Tolerance: 5 standard errors.
    nu = 8.0 if distribution == "t" else None
    model = _explicit(distribution=distribution, nu=nu, start="long_run")
    x = np.log1p(model.simulate(4_000, 120, 12, seed=5))
    m = model.m_
    hbar = model.omega_ / (1 - model.alpha_ - model.beta_)
    np.testing.assert_allclose(hbar, model.vol_**2 / 12, rtol=1e-12)
    sq = ((x - m) ** 2).mean(axis=1)  # (paths, series): batch means
    se_var = sq.std(axis=0, ddof=1) / math.sqrt(sq.shape[0])
    assert np.all(np.abs(sq.mean(axis=0) - hbar) < 5 * se_var)
    means = x.mean(axis=1)
    se_mean = means.std(axis=0, ddof=1) / math.sqrt(means.shape[0])
    assert np.all(np.abs(means.mean(axis=0) - m) < 5 * se_mean)
    # and the annual mean keeps the Gaussian convention
    np.testing.assert_allclose(model.mu_, [0.08, 0.04], rtol=1e-12)


def test_fitted_model_simulates_its_unconditional_variance(fitted_dcc):
    # Same batch-means argument as above, for the parameters fitted to Shiller 1970-.
    model = GarchModel.from_config(fitted_dcc.params() | {"start": "long_run"})
    x = np.log1p(model.simulate(3_000, 120, 12, seed=6))
    hbar = fitted_dcc.omega_ / (1 - fitted_dcc.alpha_ - fitted_dcc.beta_)
    sq = ((x - fitted_dcc.m_) ** 2).mean(axis=1)
    se = sq.std(axis=0, ddof=1) / math.sqrt(sq.shape[0])
    assert np.all(np.abs(sq.mean(axis=0) - hbar) < 5 * se)


def test_start_last_uses_the_state_at_the_end_of_the_data(fitted_dcc):
    # The first step's conditional variance is h_{T+1}: the squared first-step deviation has
    # that mean, across 20,000 paths (i.i.d.; SE from the sample), within 5 SE.
    x = np.log1p(fitted_dcc.simulate(20_000, 1, 12, seed=7))[:, 0, :]
    sq = (x - fitted_dcc.m_) ** 2
    se = sq.std(axis=0, ddof=1) / math.sqrt(sq.shape[0])
    assert np.all(np.abs(sq.mean(axis=0) - fitted_dcc.h_next_) < 5 * se)
    assert fitted_dcc.start_ == "last"


# -- parameter recovery ---------------------------------------------------------------------------
def _check_recovery(true: GarchModel, fit: GarchModel, n_se: float = 5.0) -> None:
    info = fit.fit_info_
    for i, name in enumerate(fit.series_names):
        se = info["univariate"][name]["std_err"]
        for key, truth, est in (
            ("omega", true.omega_[i], fit.omega_[i]),
            ("alpha", true.alpha_[i], fit.alpha_[i]),
            ("beta", true.beta_[i], fit.beta_[i]),
        ):
            assert abs(est - truth) < n_se * se[key], (name, key, est, truth, se[key])
    corr_info = info["correlation"]
    for key, truth in (("a", true.dcc_a_), ("b", true.dcc_b_), ("nu", true.nu_)):
        if key in corr_info["std_err"]:
            se = corr_info["std_err"][key]
            assert se is not None
            est = corr_info[key]
            assert abs(est - truth) < n_se * se, (key, est, truth, se)


def test_parameter_recovery_quick():
    # 4,000 monthly steps from known parameters, fitted back. GARCH coefficients within 5 of
    # arch's robust standard errors; DCC a, b within 5 of the second step's Hessian standard
    # errors (which ignore first-step estimation error, hence the generous multiple).
    true = _explicit(start="long_run")
    fit = GarchModel(correlation="dcc").fit(_history(true, 4_000, 10), periods_per_year=12)
    _check_recovery(true, fit)


@pytest.mark.slow
@pytest.mark.parametrize("distribution", ["normal", "t"])
def test_parameter_recovery_long(distribution):
    names = ["a", "b", "c"]
    corr = [[1.0, 0.4, 0.2], [0.4, 1.0, -0.1], [0.2, -0.1, 1.0]]
    nu = 7.0 if distribution == "t" else None
    true = GarchModel(
        correlation="dcc",
        distribution=distribution,
        mu=[0.08, 0.04, 0.06],
        vol=[0.16, 0.06, 0.10],
        corr=corr,
        alpha=[0.10, 0.06, 0.08],
        beta=[0.85, 0.90, 0.80],
        dcc_a=0.04,
        dcc_b=0.93,
        nu=nu,
        names=names,
        start="long_run",
    )
    fit = GarchModel(correlation="dcc", distribution=distribution).fit(
        _history(true, 20_000, 12), periods_per_year=12
    )
    _check_recovery(true, fit)


# -- fit on data, params, round trip ---------------------------------------------------------------
def test_params_are_json_and_round_trip(fitted_dcc):
    p = fitted_dcc.params()
    json.dumps(p, allow_nan=False)
    again = GarchModel.from_config(json.loads(json.dumps(p)))
    for a, b in zip(again.kernel_args(), fitted_dcc.kernel_args(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)
    assert not again.needs_history
    d = fitted_dcc.describe()
    assert list(d.index) == ["us_stocks_tr", "us_bonds_10y_tr"]
    assert (d["persistence"] < 1).all()
    np.testing.assert_allclose(d["vol"], np.sqrt(np.diag(fitted_dcc.cov_)))


def test_mu_given_alone_replaces_the_fitted_mean(shiller_1970):
    model = GarchModel(correlation="constant", mu=[0.07, 0.03]).fit(
        shiller_1970, periods_per_year=12
    )
    np.testing.assert_allclose(model.mu_, [0.07, 0.03], rtol=1e-12)


def test_one_series_with_dcc_is_constant(shiller_1970):
    model = GarchModel(correlation="dcc").fit(shiller_1970[["us_stocks_tr"]], periods_per_year=12)
    args = model.kernel_args()
    assert args[7] == 0.0 and args[8] == 0.0
    assert model.simulate(2, 3, 12, seed=1).shape == (2, 3, 1)


def test_integrated_fit_is_an_error():
    # Shiller bonds over 1871-: the GARCH(1,1) fit sits on alpha + beta = 1.
    bonds = mcsim.load_returns("shiller")[["us_stocks_tr", "us_bonds_10y_tr"]]
    with pytest.raises(
        ModelFitError, match=r"integrated.*us_bonds_10y_tr|us_bonds_10y_tr.*integrated"
    ):
        GarchModel().fit(bonds, periods_per_year=12)


def test_too_few_rows_is_a_data_error(shiller_1970):
    with pytest.raises(DataError, match="at least 100 rows"):
        GarchModel().fit(shiller_1970.iloc[:60], periods_per_year=12)


def test_coarser_data_than_the_step_is_a_config_error(shiller_1970):
    quarterly = (1 + shiller_1970).groupby(np.arange(len(shiller_1970)) // 3).prod() - 1
    model = GarchModel(correlation="constant").fit(quarterly, periods_per_year=4)
    with pytest.raises(ConfigError, match=r"periods per year.*steps_per_year"):
        model.simulate(2, 4, 12, seed=0)
    with pytest.raises(ConfigError, match=r"periods_per_year` = 12.*steps_per_year` = 4"):
        _explicit().simulate(2, 4, 4, seed=0)


# -- validation: one rule per test case -----------------------------------------------------------
BASE = {
    "kind": "garch",
    "assets": NAMES,
    "mu": [0.08, 0.04],
    "vol": [0.16, 0.06],
    "corr": CORR,
    "alpha": 0.1,
    "beta": 0.85,
    "dcc_a": 0.05,
    "dcc_b": 0.9,
}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"correlation": "dynamic"}, r"`\[model\].correlation` must be one of"),
        ({"distribution": "student"}, r"`\[model\].distribution` must be one of"),
        ({"start": "first"}, r"`\[model\].start` must be one of"),
        ({"correlation": "constant"}, r"dcc_a` and `dcc_b` apply only"),
        ({"nu": 5.0}, r"`\[model\].nu` applies only"),
        ({"vol": None}, r"not `vol`"),
        ({"dcc_b": None}, r"not `dcc_b`"),
        ({"distribution": "t"}, r"not `nu`"),
        ({"vol": [0.16, 0.0]}, r"`\[model\].vol` must be > 0"),
        ({"alpha": -0.1}, r"`\[model\].alpha\[a\]` must be >= 0"),
        ({"alpha": 0.2, "beta": 0.8}, r"alpha` \+ `beta` must be < 1"),
        ({"dcc_a": 0.1, "dcc_b": 0.9}, r"dcc_a` \+ `dcc_b` must be < 1"),
        ({"distribution": "t", "nu": 2.0}, r"`\[model\].nu` must be > 2"),
        ({"corr": [[1.0, 0.4], [0.3, 1.0]]}, r"`\[model\].corr` must be symmetric"),
        ({"corr": None}, r"`\[model\].corr` is required"),
        ({"start": "last"}, r"start` = 'last' needs the state"),
        ({"start_vol": [0.1, 0.05]}, r"`\[model\].start_q` is required"),
        ({"start_q": CORR}, r"start_q` needs `start_vol`"),
        (
            {"correlation": "constant", "dcc_a": None, "dcc_b": None, "start_q": CORR},
            r"start_q` applies only",
        ),
        (
            {"start_vol": [0.1, 0.05], "start_q": [[1.0, 2.0], [2.0, 1.0]]},
            r"start_q` must be positive semi-definite",
        ),
        ({"periods_per_year": 0}, r"periods_per_year` must be >= 1"),
        ({"alhpa": 0.1}, r"Unknown key `\[model\].alhpa`. Did you mean `alpha`"),
        ({"assets": None}, r"`\[model\].assets` is required"),
    ],
)
def test_invalid_config(change, match):
    section = {k: v for k, v in (BASE | change).items() if v is not None}
    with pytest.raises(ConfigError, match=match):
        model_from_config(section)


def test_mu_length_mismatch_in_fit(shiller_1970):
    with pytest.raises(ConfigError, match=r"`\[model\].mu` has 3 values"):
        GarchModel(correlation="constant", mu=[0.1, 0.2, 0.3]).fit(
            shiller_1970, periods_per_year=12
        )


# -- end to end -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "custom", [False, pytest.param(True, marks=pytest.mark.slow, id="with-custom-policy")]
)
def test_every_policy_runs_and_jobs_do_not_change_results(custom):
    section = dict(BASE, distribution="t", nu=6.0)
    scenario = mcsim.Scenario.from_dict(all_policies_table(section, NAMES, custom=custom))
    one = mcsim.run(scenario, n_jobs=1)
    two = mcsim.run(scenario, n_jobs=2)
    np.testing.assert_array_equal(one.paths.to_numpy(), two.paths.to_numpy())
    assert (one.paths["terminal_wealth"] > 0).all()
    assert (one.paths["turnover"].loc["hold"] == 0).all()
    assert (one.paths["turnover"].loc["quarterly"] > 0).all()
    if custom:
        assert (one.paths["turnover"].loc["custom"] > 0).all()


def test_example_config_runs():
    scenario = mcsim.Scenario.from_toml(CONFIGS / "garch_dcc_60_40.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = mcsim.run(scenario, n_paths=60)
    assert result.paths.shape[0] == 60 * len(scenario.policies)
    p = result.model.params()  # the fitted copy: the scenario's own model stays as given
    assert p["kind"] == "garch" and p["correlation"] == "dcc"
    json.dumps(p, allow_nan=False)


def test_daily_data_is_compounded_to_monthly_steps(tmp_path):
    # 30 years of business-day returns from a daily GARCH: the engine compounds them to months
    # before the fit, so the model is fitted (and simulates) at 12 periods per year.
    daily = _explicit(periods_per_year=252, alpha=0.05, beta=0.9)
    r = daily.simulate(1, 30 * 252, 252, seed=30)[0]
    dates = pd.bdate_range("2000-01-03", periods=r.shape[0])
    pd.DataFrame(r, columns=NAMES, index=pd.Index(dates, name="date")).to_csv(tmp_path / "d.csv")
    table = all_policies_table({"kind": "garch", "correlation": "constant"}, NAMES)
    table["data"] = {"source": str(tmp_path / "d.csv"), "periods_per_year": 252}
    result = mcsim.run(mcsim.Scenario.from_dict(table), n_paths=40)
    model = result.plan.model
    assert model.ppy_ == 12
    months = dates.to_period("M").nunique()  # 348 (an incomplete last month may be dropped)
    assert months - 1 <= model.fit_info_["n_obs"] <= months
    assert (result.paths["terminal_wealth"] > 0).all()


def test_no_clustering_has_zero_half_life_and_constant_variance():
    model = _explicit(alpha=0.0, beta=0.0, correlation="constant", dcc_a=None, dcc_b=None)
    assert (model.describe()["half_life_years"] == 0).all()
    assert model.params()["summary"]["half_life_years"] == [0.0, 0.0]
    np.testing.assert_allclose(model.kernel_args()[4], model.vol_**2 / 12)
