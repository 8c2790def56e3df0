"""Markov regime switching: kernels, EM fit, durations, validation, engine."""

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
from mcsim.kernels._regime import hamilton_kim_nb, simulate_regime_nb

import mcsim
from mcsim.errors import ConfigError, ConvergenceWarning, DataError, NumericalWarning
from mcsim.models import RegimeModel, model_from_config
from mcsim.testing.models_dynamic import (
    all_policies_table,
    hamilton_kim_reference,
    simulate_regime_reference,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NAMES = ["a", "b"]
MEANS = [[0.10, 0.04], [-0.15, 0.06]]
VOLS = [[0.10, 0.05], [0.30, 0.10]]
CORRS = [[[1.0, 0.2], [0.2, 1.0]], [[1.0, -0.3], [-0.3, 1.0]]]
TRANS = [[0.97, 0.03], [0.10, 0.90]]


def _explicit(**changes) -> RegimeModel:
    kw = dict(means=MEANS, vols=VOLS, corrs=CORRS, transition=TRANS, names=NAMES)
    kw.update(changes)
    return RegimeModel(**kw)


@pytest.fixture(scope="module")
def shiller_1970() -> pd.DataFrame:
    return mcsim.load_returns("shiller").loc["1970":, ["us_stocks_tr", "us_bonds_10y_tr"]]


@pytest.fixture(scope="module")
def fitted(shiller_1970) -> RegimeModel:
    return RegimeModel(n_regimes=2, n_starts=4).fit(shiller_1970, periods_per_year=12)


# -- kernels against the NumPy references ---------------------------------------------------------
def _random_chain(g: np.random.Generator, k: int) -> np.ndarray:
    p = g.dirichlet(np.ones(k), size=k) + np.eye(k) * g.uniform(0, 3)
    return p / p.sum(axis=1, keepdims=True)


@settings(deadline=None, derandomize=True, max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(2, 4),
    n=st.integers(1, 3),
    n_paths=st.integers(1, 3),
    n_steps=st.integers(1, 8),
)
def test_simulate_kernel_equals_reference(seed, k, n, n_paths, n_steps):
    g = np.random.default_rng(seed)
    drift = g.normal(0.0, 0.01, (k, n))
    chol = np.tril(g.normal(0.0, 0.03, (k, n, n)))
    trans = _random_chain(g, k)
    init = g.dirichlet(np.ones(k))
    out = np.empty((n_paths, n_steps, n))
    regimes = np.empty((n_paths, n_steps), dtype=np.int64)
    cum_trans = np.cumsum(trans, axis=1)
    cum_init = np.cumsum(init)[None, :]
    simulate_regime_nb(np.random.default_rng(seed), drift, chol, cum_trans, cum_init, out, regimes)
    ref, ref_regimes = simulate_regime_reference(
        np.random.default_rng(seed), drift, chol, trans, init, n_paths, n_steps
    )
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(regimes, ref_regimes)


@settings(deadline=None, derandomize=True, max_examples=25)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4), n_obs=st.integers(1, 40))
def test_hamilton_kim_kernel_equals_reference(seed, k, n_obs):
    g = np.random.default_rng(seed)
    log_dens = g.normal(0.0, 3.0, (n_obs, k))
    trans = _random_chain(g, k)
    init = g.dirichlet(np.ones(k))
    filtered = np.empty((n_obs, k))
    smoothed = np.empty((n_obs, k))
    xi_sum = np.empty((k, k))
    ll = hamilton_kim_nb(log_dens, trans, init, filtered, smoothed, xi_sum)
    ll_ref, f_ref, s_ref, xi_ref = hamilton_kim_reference(log_dens, trans, init)
    assert ll == pytest.approx(ll_ref, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(filtered, f_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(smoothed, s_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(xi_sum, xi_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(smoothed.sum(axis=1), 1.0, rtol=1e-12)


def test_chunks_equal_one_block():
    model = _explicit()
    whole = np.empty((9, 7, 2))
    model.simulate_into(np.random.default_rng(4), whole, 12)
    rng = np.random.default_rng(4)
    parts = np.empty((9, 7, 2))
    for lo, hi in [(0, 2), (2, 3), (3, 9)]:
        model.simulate_into(rng, parts[lo:hi], 12)
    np.testing.assert_array_equal(whole, parts)


# -- simulated chain ------------------------------------------------------------------------------
def _sojourns(regimes: np.ndarray, k: int) -> np.ndarray:
    """Lengths of the completed stays in regime ``k`` (the last stay of each path is censored)."""
    lengths = []
    for path in regimes:
        change = np.flatnonzero(np.diff(path) != 0)
        starts = np.concatenate([[0], change + 1])
        ends = np.concatenate([change + 1, [path.size]])
        for s, e in zip(starts[:-1], ends[:-1], strict=True):  # drop the censored last stay
            if path[s] == k:
                lengths.append(e - s)
    return np.asarray(lengths)


def test_durations_and_stationary_probabilities_match_the_chain():
    # Stays in regime k are geometric with mean 1 / (1 - p_kk) and standard deviation
    # sqrt(p_kk) / (1 - p_kk); the standard error of the mean stay over N stays is that over
    # sqrt(N). Dropping each path's censored last stay biases the mean down by about
    # duration / path length (< 0.5 %), far below the SE. The time share in regime k has mean
    # pi_k when starting from the stationary law; each path is one i.i.d. batch. 5 SE each.
    model = _explicit()
    _, regimes = model.simulate_regimes(400, 1_200, seed=3)
    p = np.diag(model.transition_)
    for k in range(2):
        stays = _sojourns(regimes, k)
        expected = 1.0 / (1.0 - p[k])
        se = math.sqrt(p[k]) / (1.0 - p[k]) / math.sqrt(stays.size)
        assert abs(stays.mean() - expected) < 5 * se, (k, stays.mean(), expected, se)
        share = (regimes == k).mean(axis=1)
        se_share = share.std(ddof=1) / math.sqrt(share.size)
        assert abs(share.mean() - model.stationary_[k]) < 5 * se_share
    np.testing.assert_allclose(model.durations_, 1.0 / (1.0 - p) / 12)
    np.testing.assert_allclose(model.stationary_, [10 / 13, 3 / 13], rtol=1e-12)


def test_start_last_draws_the_first_regime_from_the_last_probabilities():
    # First-step regime frequency over 20,000 paths is binomial: SE sqrt(q (1 - q) / n).
    model = _explicit(start="last", last_probs=[0.2, 0.8])
    q = model.initial_probs_[1]
    assert q == pytest.approx(0.2 * 0.03 + 0.8 * 0.90)
    _, regimes = model.simulate_regimes(20_000, 1, seed=5)
    share = regimes[:, 0].mean()
    assert abs(share - q) < 5 * math.sqrt(q * (1 - q) / 20_000)


def test_regime_moments_of_log_returns():
    # Given regime k, log returns are N((mu_k - vol_k^2 / 2) / 12, Sigma_k / 12): the sample
    # mean over the N_k steps spent in k is within 5 SE = 5 sqrt(Sigma_kk / 12 / N_k).
    model = _explicit()
    r, regimes = model.simulate_regimes(200, 600, seed=8)
    x = np.log1p(r)
    for k in range(2):
        xk = x[regimes == k]
        var = np.asarray(VOLS[k]) ** 2 / 12
        drift = (np.asarray(MEANS[k]) - 0.5 * np.asarray(VOLS[k]) ** 2) / 12
        assert np.all(np.abs(xk.mean(axis=0) - drift) < 5 * np.sqrt(var / xk.shape[0]))


# -- parameter recovery ---------------------------------------------------------------------------
def _check_recovery(true: RegimeModel, fit: RegimeModel, regimes: np.ndarray) -> None:
    # With well-separated regimes the smoothed probabilities are nearly 0/1, so the EM
    # estimates behave like the complete-data ones: p_kk has SE sqrt(p (1 - p) / N_k) with
    # N_k the visits to k; a regime's mean log return per step has SE sqrt(Sigma_kk / N_k);
    # its variance has SE Sigma_kk sqrt(2 / N_k), i.e. the volatility about vol / sqrt(2 N_k).
    # 5 SE each, with N_k counted on the true regime path.
    counts = np.array([(regimes[:-1] == k).sum() for k in range(true.n_regimes)])
    p_true = np.diag(true.transition_)
    se_p = np.sqrt(p_true * (1 - p_true) / counts)
    assert np.all(np.abs(np.diag(fit.transition_) - p_true) < 5 * se_p)
    var = np.diagonal(true.covs_, axis1=1, axis2=2)
    se_m = np.sqrt(var / counts[:, None])
    assert np.all(np.abs(fit.drift_ - true.drift_) < 5 * se_m)
    sd = np.sqrt(var)
    fit_sd = np.sqrt(np.diagonal(fit.covs_, axis1=1, axis2=2))
    assert np.all(np.abs(fit_sd - sd) < 5 * sd / np.sqrt(2 * counts[:, None]))


def _history(r: np.ndarray, names: list[str]) -> pd.DataFrame:
    index = pd.date_range("1700-01-31", periods=r.shape[0], freq="ME")
    return pd.DataFrame(r, columns=names, index=index)


def test_parameter_recovery_quick():
    true = _explicit()
    r, regimes = true.simulate_regimes(1, 3_000, seed=21)
    fit = RegimeModel(n_regimes=2, n_starts=3).fit(_history(r[0], NAMES), periods_per_year=12)
    assert fit.fit_info_["converged"]
    _check_recovery(true, fit, regimes[0])


@pytest.mark.slow
def test_parameter_recovery_three_regimes_long():
    names = ["a", "b", "c"]
    corr = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.0]])
    true = RegimeModel(
        n_regimes=3,
        means=[[0.10, 0.04, 0.06], [0.0, 0.05, 0.02], [-0.20, 0.08, 0.0]],
        vols=[[0.08, 0.04, 0.05], [0.18, 0.07, 0.10], [0.40, 0.12, 0.20]],
        corrs=[corr, corr * 0.5 + np.eye(3) * 0.5, corr.T],
        transition=[[0.97, 0.02, 0.01], [0.04, 0.92, 0.04], [0.05, 0.10, 0.85]],
        names=names,
    )
    r, regimes = true.simulate_regimes(1, 20_000, seed=22)
    fit = RegimeModel(n_regimes=3, n_starts=5).fit(_history(r[0], names), periods_per_year=12)
    _check_recovery(true, fit, regimes[0])


# -- fit on data, report, round trip --------------------------------------------------------------
def test_fit_reports_regimes(fitted, shiller_1970):
    d = fitted.describe()
    assert list(d.index) == [0, 1]
    vols = d["vol"]["us_stocks_tr"]
    assert vols.iloc[0] < vols.iloc[1]  # calm first
    np.testing.assert_allclose(d["stationary_prob"].to_numpy().ravel().sum(), 1.0)
    p = fitted.params()
    json.dumps(p, allow_nan=False)
    assert p["summary"]["duration_years"] == pytest.approx(fitted.durations_.tolist())
    assert p["summary"]["stationary"] == pytest.approx(fitted.stationary_.tolist())
    assert p["summary"]["fit"]["converged"] is True
    probs = fitted.probabilities_
    assert probs.shape == (len(shiller_1970), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_params_round_trip(fitted):
    again = RegimeModel.from_config(json.loads(json.dumps(fitted.params())))
    for a, b in zip(again.kernel_args(), fitted.kernel_args(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(again.cov_, fitted.cov_, rtol=1e-10)
    np.testing.assert_allclose(again.mu_, fitted.mu_, rtol=1e-10)


def test_mixture_moments_match_simulation():
    # The stationary mixture's annual covariance and mean (used by moment-based policies):
    # per-step covariance of log returns from 2,000 paths x 240 steps starting stationary.
    # Paths are i.i.d. batches; the SE of each per-path mean of x_i x_j products is taken
    # from the spread of the batch means. 5 SE.
    model = _explicit()
    x = np.log1p(model.simulate(2_000, 240, 12, seed=9))
    m = model.stationary_ @ model.drift_
    c = model.cov_ / 12
    dev = x - m
    for i in range(2):
        for j in range(2):
            batch = (dev[:, :, i] * dev[:, :, j]).mean(axis=1)
            se = batch.std(ddof=1) / math.sqrt(batch.size)
            assert abs(batch.mean() - c[i, j]) < 5 * se
    batch = x.mean(axis=1)
    se = batch.std(axis=0, ddof=1) / math.sqrt(batch.shape[0])
    assert np.all(np.abs(batch.mean(axis=0) - m) < 5 * se)


def test_not_converged_warns(shiller_1970):
    with pytest.warns(ConvergenceWarning, match=r"Raise `\[model\].max_iter`"):
        RegimeModel(n_starts=1, max_iter=2).fit(shiller_1970, periods_per_year=12)


def test_singular_regime_covariance_is_regularised_with_a_warning(shiller_1970):
    twins = shiller_1970.assign(copy=shiller_1970["us_stocks_tr"])
    with pytest.warns(NumericalWarning, match="regularised with a ridge"):
        model = RegimeModel(n_starts=2).fit(twins, periods_per_year=12)
    assert np.all(np.linalg.eigvalsh(model.covs_) > 0)


def test_too_few_rows_is_a_data_error(shiller_1970):
    with pytest.raises(DataError, match="at least 120 rows"):
        RegimeModel().fit(shiller_1970.iloc[:100], periods_per_year=12)


def test_step_must_equal_the_data_period(shiller_1970):
    quarterly = (1 + shiller_1970).groupby(np.arange(len(shiller_1970)) // 3).prod() - 1
    model = RegimeModel(n_starts=1).fit(quarterly, periods_per_year=4)
    with pytest.raises(ConfigError, match=r"fitted to data with 4 periods per year"):
        model.simulate(2, 4, 12, seed=0)
    with pytest.raises(ConfigError, match=r"periods_per_year` = 12.*steps_per_year` = 52"):
        _explicit().simulate(2, 4, 52, seed=0)


# -- validation: one rule per case -----------------------------------------------------------------
BASE = {
    "kind": "regime",
    "assets": NAMES,
    "means": MEANS,
    "vols": VOLS,
    "corrs": CORRS,
    "transition": TRANS,
}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"n_regimes": 1}, r"`\[model\].n_regimes` must be >= 2"),
        ({"n_regimes": 3}, r"`\[model\].n_regimes` = 3 but `transition` is 2x2"),
        ({"start": "first"}, r"`\[model\].start` must be one of"),
        ({"transition": [[0.97, 0.02], [0.1, 0.9]]}, r"rows must sum to 1.*row 0 sums to 0.99"),
        ({"transition": [[1.1, -0.1], [0.1, 0.9]]}, r"entries must be probabilities"),
        ({"n_regimes": 2, "transition": [[0.97, 0.03]]}, r"must be a square matrix"),
        ({"transition": [[1.0, 0.0], [0.1, 0.9]]}, r"regime 0 is never left"),
        (
            {
                "n_regimes": 3,
                "transition": [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.5, 0.5, 0.0]],
                "means": [*MEANS, [0.0, 0.0]],
                "vols": [*VOLS, [0.1, 0.1]],
                "corrs": [*CORRS, CORRS[0]],
            },
            r"regime 2 is never reached",
        ),
        (
            {
                "n_regimes": 4,
                "transition": [
                    [0.9, 0.1, 0, 0],
                    [0.1, 0.9, 0, 0],
                    [0, 0, 0.5, 0.5],
                    [0, 0, 0.5, 0.5],
                ],
                "means": MEANS * 2,
                "vols": VOLS * 2,
                "corrs": CORRS * 2,
            },
            r"no unique stationary distribution",
        ),
        ({"means": [[0.1, 0.04]]}, r"`\[model\].means` must be a list of 2 entries"),
        ({"vols": [[0.1, 0.05], [0.3, -0.1]]}, r"`\[model\].vols\[1\]\[b\]` must be >= 0"),
        ({"corrs": None}, r"`\[model\].corrs` is required for 2 assets"),
        ({"corrs": CORRS[:1]}, r"`\[model\].corrs` must be a list of 2 matrices"),
        ({"corrs": [CORRS[0], [[1.0, 1.5], [1.5, 1.0]]]}, r"`\[model\].corrs\[1\]`"),
        ({"transition": None}, r"not `transition`"),
        ({"start": "last"}, r"start` = 'last' needs the regime probabilities"),
        ({"last_probs": [0.5, 0.6]}, r"last_probs` must be 2 probabilities summing to 1"),
        ({"max_iter": 0}, r"`\[model\].max_iter` must be >= 1"),
        ({"tol": 0.0}, r"`\[model\].tol` must be > 0"),
        ({"n_starts": 0}, r"`\[model\].n_starts` must be >= 1"),
        ({"seed": -1}, r"`\[model\].seed` must be >= 0"),
        ({"periods_per_year": 0}, r"`\[model\].periods_per_year` must be >= 1"),
        ({"transitions": TRANS}, r"Unknown key `\[model\].transitions`. Did you mean `transition`"),
        ({"assets": "a"}, r"`\[model\].assets` must be a list of names"),
    ],
)
def test_invalid_config(change, match):
    section = {k: v for k, v in (BASE | change).items() if v is not None}
    with pytest.raises(ConfigError, match=match):
        model_from_config(section)


# -- end to end -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "custom", [False, pytest.param(True, marks=pytest.mark.slow, id="with-custom-policy")]
)
def test_every_policy_runs_and_jobs_do_not_change_results(custom):
    scenario = mcsim.Scenario.from_dict(all_policies_table(BASE, NAMES, custom=custom))
    one = mcsim.run(scenario, n_jobs=1)
    two = mcsim.run(scenario, n_jobs=2)
    np.testing.assert_array_equal(one.paths.to_numpy(), two.paths.to_numpy())
    assert (one.paths["terminal_wealth"] > 0).all()
    assert (one.paths["turnover"].loc["hold"] == 0).all()
    assert (one.paths["turnover"].loc["quarterly"] > 0).all()


def test_example_config_runs():
    scenario = mcsim.Scenario.from_toml(CONFIGS / "regimes_60_40.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = mcsim.run(scenario, n_paths=60)
    assert result.paths.shape[0] == 60 * len(scenario.policies)
    d = result.model.describe()  # the fitted copy: the scenario's own model stays as given
    assert d.shape[0] == 2
    # the calm regime lasts longer and has the higher stock mean on this history
    durations = d[("duration_years", "")]
    assert durations.iloc[0] > durations.iloc[1]


@pytest.mark.parametrize("model", [RegimeModel(), mcsim.GarchModel()], ids=["regime", "garch"])
def test_series_with_different_date_ranges_are_a_data_error(model, shiller_1970):
    # A series that starts later than the others has missing values at the start.
    late = shiller_1970.copy()
    late.iloc[:24, 1] = np.nan
    with pytest.raises(DataError, match=r"'us_bonds_10y_tr' has a missing or non-finite value"):
        model.fit(late, periods_per_year=12)
