"""Bootstrap (historical simulation): kernels, resampling statistics, validation, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import optimal_block_length
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._bootstrap import bootstrap_iid_nb, bootstrap_stationary_nb

import mcsim
from mcsim.errors import ConfigError, DataError
from mcsim.models import BootstrapModel, model_from_config
from mcsim.testing.models import (
    bootstrap_iid_reference,
    bootstrap_stationary_reference,
    check_runs_alike_for_any_jobs,
    scenario_table,
)


def _ar1(n: int, phi: float = 0.6, seed: int = 0) -> np.ndarray:
    """An AR(1) series of ``n`` small returns (strong serial dependence)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, 0.02, n)
    x = np.empty(n)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x + 0.005


def _frame(x: np.ndarray, names=None) -> pd.DataFrame:
    x = np.atleast_2d(x.T).T
    names = names or [f"s{i}" for i in range(x.shape[1])]
    index = pd.date_range("1950-01-31", periods=x.shape[0], freq="ME")
    return pd.DataFrame(x, index=index, columns=names)


def _circular_autocov(x: np.ndarray, k: int) -> float:
    d = x - x.mean()
    return float(np.mean(d * np.roll(d, -k)))


def stationary_mean_variance(x: np.ndarray, block_length: float, n_steps: int) -> float:
    """Exact variance of the mean of ``n_steps`` stationary-bootstrap draws of ``x``.

    Two draws ``k`` steps apart lie in the same block with probability ``q**k``
    (``q = 1 - 1/L``); then they are ``x[I]`` and ``x[(I + k) mod n]`` with ``I`` uniform, whose
    covariance is the circular autocovariance at lag ``k``; otherwise they are independent.
    So ``Var = (1/N) [g(0) + 2 sum_{k=1}^{N-1} (1 - k/N) q^k g(k)]``, which for ``N = n`` is
    Politis and Romano's (1994) formula with ``b(i) = (1 - i/n) q^i + (i/n) q^(n-i)``.
    """
    q = 1.0 - 1.0 / block_length
    total = _circular_autocov(x, 0)
    for k in range(1, n_steps):
        total += 2.0 * (1.0 - k / n_steps) * q**k * _circular_autocov(x, k % x.size)
    return total / n_steps


# -- kernels ------------------------------------------------------------------------------------
def test_iid_kernel_equals_numpy_reference():
    hist = np.random.default_rng(0).normal(size=(37, 3))
    out = np.empty((5, 11, 3))
    bootstrap_iid_nb(np.random.default_rng(4), hist, out)
    np.testing.assert_array_equal(
        out, bootstrap_iid_reference(np.random.default_rng(4), hist, 5, 11)
    )


@pytest.mark.parametrize("block_length", [1.0, 3.5, 1000.0])
def test_stationary_kernel_equals_numpy_reference(block_length):
    hist = np.random.default_rng(1).normal(size=(13, 2))
    out = np.empty((6, 40, 2))
    bootstrap_stationary_nb(np.random.default_rng(9), hist, 1.0 / block_length, out)
    ref = bootstrap_stationary_reference(np.random.default_rng(9), hist, block_length, 6, 40)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("method", ["iid", "stationary"])
def test_chunks_equal_one_block(method):
    model = BootstrapModel(method, history=_frame(_ar1(120)), periods_per_year=12)
    whole = np.empty((10, 30, 1))
    model.simulate_into(np.random.default_rng(2), whole, 12)
    rng = np.random.default_rng(2)
    parts = np.empty((10, 30, 1))
    model.simulate_into(rng, parts[:4], 12)
    model.simulate_into(rng, parts[4:], 12)
    np.testing.assert_array_equal(whole, parts)


# -- resampling statistics ----------------------------------------------------------------------
def test_rows_are_resampled_whole_with_the_history_covariance():
    # Every simulated vector is a row of history, and the pooled covariance of 200,000 draws
    # matches the history's (divisor n). The standard error of a pooled entry is
    # sqrt(Var(d_i d_j) / N) with d the deviations from the mean, computed on the history
    # itself (the draws are uniform over its rows); 5 standard errors allowed.
    rng = np.random.default_rng(3)
    hist = rng.multivariate_normal([0.01, 0.0], [[0.002, 0.001], [0.001, 0.003]], size=90)
    model = BootstrapModel("iid", history=_frame(hist), periods_per_year=12)
    sims = model.simulate(2000, 100, 12, seed=5).reshape(-1, 2)
    rows = {tuple(r) for r in hist}
    assert all(tuple(r) in rows for r in sims[:5000])
    d = hist - hist.mean(axis=0)
    cov = d.T @ d / len(hist)
    prod = d[:, :, None] * d[:, None, :]
    se = np.sqrt(prod.var(axis=0) / len(sims))
    assert np.all(np.abs(np.cov(sims, rowvar=False, ddof=0) - cov) < 5 * se)
    assert np.all(
        np.abs(sims.mean(axis=0) - hist.mean(axis=0)) < 5 * np.sqrt(np.diag(cov) / len(sims))
    )


@pytest.mark.parametrize(("method", "block_length"), [("iid", None), ("stationary", 6.0)])
def test_variance_of_the_bootstrap_mean_matches_the_closed_form(method, block_length):
    # 20,000 paths of 120 steps from an AR(1) history of 200 periods. The path mean is close
    # to normal, so the sample variance of 20,000 path means has a relative standard error of
    # sqrt(2 / 19,999) = 1 %; we allow 5 %. For iid draws the variance is g(0) / N.
    x = _ar1(200, seed=1)
    model = BootstrapModel(method, block_length, history=_frame(x), periods_per_year=12)
    sims = model.simulate(20_000, 120, 12, seed=11)[:, :, 0]
    means = sims.mean(axis=1)
    expected = (
        _circular_autocov(x, 0) / 120
        if method == "iid"
        else stationary_mean_variance(x, block_length, 120)
    )
    assert means.var(ddof=1) == pytest.approx(expected, rel=0.05)
    assert abs(means.mean() - x.mean()) < 5 * np.sqrt(expected / means.size)
    if method == "stationary":
        # The blocks matter: the iid variance would be a third smaller here.
        assert expected > 1.3 * _circular_autocov(x, 0) / 120


def test_expected_block_length():
    # History 0, 1, ..., n-1 shows where each step comes from. A step starts a new block with
    # probability p = 1 / L; the new row equals the next one by chance with probability 1 / n,
    # so a visible break has probability p (1 - 1/n). Over 50,000 x 99 transitions the
    # standard error of the break frequency is below 0.0005; we allow 5 of them.
    n, L = 50, 8.0
    model = BootstrapModel("stationary", L, history=_frame(np.arange(n) / 1e3), periods_per_year=1)
    idx = np.rint(model.simulate(50_000, 100, 1, seed=6)[:, :, 0] * 1e3).astype(int)
    breaks = (np.diff(idx, axis=1) % n) != 1
    q = 1.0 / L * (1.0 - 1.0 / n)
    se = np.sqrt(q * (1 - q) / breaks.size)
    assert abs(breaks.mean() - q) < 5 * se
    # Starting rows are uniform over the history.
    counts = np.bincount(idx[:, 0], minlength=n)
    assert counts.min() > 0.8 * 1000 and counts.max() < 1.2 * 1000


def test_auto_block_length_is_the_mean_of_arch_stationary_column():
    x = np.column_stack([_ar1(300, 0.7, 1), _ar1(300, 0.2, 2)])
    model = BootstrapModel(history=_frame(x), periods_per_year=12)
    expected = optimal_block_length(x)["stationary"].mean()
    assert model.block_length_ == pytest.approx(expected, rel=1e-12)
    assert model.params()["fit"]["block_length"] == "auto"


def test_moments_for_policies_follow_the_gaussian_convention():
    hist = _frame(np.column_stack([_ar1(240, seed=3), _ar1(240, seed=4)]))
    boot = BootstrapModel("iid", history=hist, periods_per_year=12)
    gauss = mcsim.GaussianModel().fit(hist, periods_per_year=12)
    np.testing.assert_allclose(boot.mu_, gauss.mu_, rtol=1e-12)
    np.testing.assert_allclose(boot.cov_, gauss.cov_, rtol=1e-12)


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, -2.0])
def test_block_length_must_be_positive(value):
    with pytest.raises(ConfigError, match=r"`\[model\].block_length` must be > 0"):
        model_from_config({"kind": "bootstrap", "block_length": value})


def test_block_length_below_one_period():
    with pytest.raises(ConfigError, match=r"must be >= 1; got 0.5"):
        model_from_config({"kind": "bootstrap", "block_length": 0.5})


def test_block_length_text_other_than_auto():
    with pytest.raises(ConfigError, match=r'or "auto"; got \'long\''):
        model_from_config({"kind": "bootstrap", "block_length": "long"})


def test_block_length_refused_for_iid():
    with pytest.raises(ConfigError, match=r"applies to method = \"stationary\" only"):
        model_from_config({"kind": "bootstrap", "method": "iid", "block_length": 3})


def test_unknown_method():
    with pytest.raises(ConfigError, match=r"`\[model\].method` must be one of .*Did you mean"):
        model_from_config({"kind": "bootstrap", "method": "stationnary"})


def test_too_few_rows():
    with pytest.raises(DataError, match="at least 12 rows"):
        BootstrapModel().fit(_frame(_ar1(10)), periods_per_year=12)


def test_assets_must_match_the_data():
    with pytest.raises(ConfigError, match=r"`\[model\].assets` \(x\) does not match"):
        BootstrapModel(assets=["x"]).fit(_frame(_ar1(40)), periods_per_year=12)


def test_history_needs_periods_per_year():
    with pytest.raises(ConfigError, match="`periods_per_year` is required"):
        BootstrapModel(history=_frame(_ar1(40)))


def test_annual_data_cannot_be_split_into_months():
    table = scenario_table(
        {"kind": "bootstrap"},
        data={"source": "damodaran", "columns": ["sp500_tr", "tbond_10y_tr"]},
    )
    scenario = mcsim.Scenario.from_dict(table)
    with pytest.raises(ConfigError, match=r"`\[simulation\].steps_per_year = 1`"):
        mcsim.run(scenario)


def test_steps_coarser_than_data_suggest_resampling():
    model = BootstrapModel(history=_frame(_ar1(60)), periods_per_year=12)
    with pytest.raises(ConfigError, match="resample the data to 4 periods per year"):
        model.simulate(2, 4, 4, seed=0)


# -- params and scenarios ---------------------------------------------------------------------
def test_params_report_the_history_and_round_trip():
    hist = mcsim.load_dataset("shiller", columns=["us_stocks_tr", "us_bonds_10y_tr"], start="1926")
    model = BootstrapModel().fit(hist, periods_per_year=12)
    p = json.loads(json.dumps(model.params()))
    assert p["method"] == "stationary" and p["block_length"] == model.block_length_ >= 1
    assert p["fit"]["n_obs"] == len(hist)
    assert p["fit"]["start"] == "1926-01-31" and p["fit"]["end"] == hist.index[-1].strftime(
        "%Y-%m-%d"
    )
    again = model_from_config(p).fit(hist, periods_per_year=12)
    assert again.block_length_ == model.block_length_
    assert again.params()["fit"]["block_length"] == "given"


@pytest.mark.parametrize(
    "model",
    [{"kind": "bootstrap", "method": "iid"}, {"kind": "bootstrap", "block_length": 12}],
)
def test_every_policy_runs_and_jobs_do_not_change_results(model):
    check_runs_alike_for_any_jobs(scenario_table(model))


def test_annual_data_with_annual_steps():
    table = scenario_table(
        {"kind": "bootstrap"},
        data={"source": "damodaran", "columns": ["sp500_tr", "tbond_10y_tr"]},
        steps_per_year=1,
        horizon_years=10,
    )
    table["policies"][1] = {"name": "quarterly", "kind": "calendar", "every": 1}
    check_runs_alike_for_any_jobs(table)


def test_example_config_runs():
    scenario = mcsim.Scenario.from_toml("configs/bootstrap_60_40.toml")
    result = mcsim.run(scenario, n_paths=50)
    p = result.plan.model.params()
    assert p["kind"] == "bootstrap" and p["fit"]["start"] == "1926-01-31"


@settings(deadline=None, derandomize=True, max_examples=25)
@given(
    n_obs=st.integers(1, 30),
    n_series=st.integers(1, 4),
    n_paths=st.integers(1, 5),
    n_steps=st.integers(1, 25),
    block_length=st.floats(1.0, 50.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernels_equal_references_on_any_shape(
    n_obs, n_series, n_paths, n_steps, block_length, seed
):
    hist = np.random.default_rng(seed).normal(size=(n_obs, n_series))
    out = np.empty((n_paths, n_steps, n_series))
    bootstrap_stationary_nb(np.random.default_rng(seed), hist, 1.0 / block_length, out)
    ref = bootstrap_stationary_reference(
        np.random.default_rng(seed), hist, block_length, n_paths, n_steps
    )
    np.testing.assert_array_equal(out, ref)
    bootstrap_iid_nb(np.random.default_rng(seed), hist, out)
    ref = bootstrap_iid_reference(np.random.default_rng(seed), hist, n_paths, n_steps)
    np.testing.assert_array_equal(out, ref)
