"""Stress specifications: every bad input is refused before simulating, naming the field."""

from __future__ import annotations

import numpy as np
import pytest

import mcsim
from mcsim.errors import ConfigError, DataError, McsimError
from mcsim.stress import (
    CorrelationStress,
    DriftStress,
    HistoricalEpisode,
    Shock,
    StressContext,
    VolatilityStress,
    resolve,
    stress_from_config,
)

SERIES = ["us_stocks_tr", "us_bonds_10y_tr", "cpi_inflation"]


def _model() -> mcsim.GaussianModel:
    corr = [[1.0, 0.2, 0.1], [0.2, 1.0, 0.3], [0.1, 0.3, 1.0]]
    return mcsim.GaussianModel(
        mu=[0.07, 0.03, 0.025], vol=[0.18, 0.07, 0.012], corr=corr, names=SERIES
    )


def _ctx(model=None, names=SERIES, n_steps=120, **kw) -> StressContext:
    names = list(names)
    infl = names.index("cpi_inflation") if "cpi_inflation" in names else -1
    return StressContext(
        series_names=names,
        asset_names=[n for n in names if n != "cpi_inflation"],
        inflation_index=infl,
        steps_per_year=12,
        n_steps=n_steps,
        model=model if model is not None else _model(),
        **kw,
    )


def _refused(exc, fn, *needles):
    with pytest.raises(exc) as info:
        fn()
    text = str(info.value)
    assert isinstance(info.value, McsimError)
    assert "\n" not in text and "Traceback" not in text
    for needle in needles:
        assert needle in text, text
    return text


def _table(**kw):
    return {"name": "s", **kw}


# -- from the scenario table -------------------------------------------------------------------
def test_config_builds_each_kind():
    built = [
        stress_from_config(_table(kind="historical", episode="covid_crash", at_year=1), 0),
        stress_from_config(_table(kind="shock", returns={"us_stocks_tr": -0.4}), 1),
        stress_from_config(_table(kind="volatility", multiplier=2, years=2), 2),
        stress_from_config(_table(kind="correlation", to=0.9, weight=0.5, years=1), 3),
        stress_from_config(_table(kind="drift", shift=-0.05, years=10), 4),
    ]
    kinds = [type(s) for s in built]
    assert kinds == [HistoricalEpisode, Shock, VolatilityStress, CorrelationStress, DriftStress]
    for i, s in enumerate(built):
        assert stress_from_config(s.to_dict(), i) == s


def test_config_unknown_kind_suggests():
    _refused(
        ConfigError,
        lambda: stress_from_config(_table(kind="shok"), 1),
        "`[[stresses]][2].kind`",
        "'shock'",
    )


def test_config_unknown_key_suggests():
    _refused(
        ConfigError,
        lambda: stress_from_config(_table(kind="shock", returns={"a": -0.1}, at_yaer=1), 0),
        "`[[stresses]][1].at_yaer`",
        "at_year",
    )


def test_config_missing_name():
    _refused(
        ConfigError, lambda: stress_from_config({"kind": "shock"}, 0), "`[[stresses]][1].name`"
    )


def test_config_missing_required_setting():
    _refused(
        ConfigError,
        lambda: stress_from_config(_table(kind="volatility"), 0),
        "`[[stresses]][1].multiplier`",
    )


def test_unknown_episode_suggests_nearest():
    _refused(
        ConfigError,
        lambda: stress_from_config(_table(kind="historical", episode="financial_crysis"), 2),
        "`[[stresses]][3].episode`",
        "Did you mean 'financial_crisis'",
    )


def test_episode_and_range_together_refused():
    _refused(
        ConfigError,
        lambda: HistoricalEpisode(name="x", episode="covid_crash", start="2020-01", end="2020-02"),
        "episode",
    )


def test_range_needs_both_ends():
    _refused(ConfigError, lambda: HistoricalEpisode(name="x", start="2020-01"), "stress 'x'.end")


def test_range_end_before_start():
    _refused(
        ConfigError,
        lambda: HistoricalEpisode(name="x", start="2020-05", end="2020-01"),
        ".end",
        "swap",
    )


def test_random_and_at_year_together_refused():
    _refused(
        ConfigError,
        lambda: HistoricalEpisode(name="x", episode="covid_crash", at="random", at_year=2),
        ".at",
    )


def test_at_other_than_random_refused():
    _refused(
        ConfigError,
        lambda: HistoricalEpisode(name="x", episode="covid_crash", at="middle"),
        ".at",
        "'random'",
    )


def test_negative_at_year_refused():
    _refused(
        ConfigError,
        lambda: Shock(name="x", returns={"a": -0.1}, at_year=-1),
        "stress 'x'.at_year",
        ">= 0",
    )


@pytest.mark.parametrize("value", [-1.0, -1.5])
def test_shock_at_or_below_minus_100_percent_refused(value):
    _refused(
        ConfigError,
        lambda: stress_from_config(_table(kind="shock", returns={"us_stocks_tr": value}), 0),
        "`[[stresses]][1].returns.us_stocks_tr`",
        "> -1",
    )


@pytest.mark.parametrize("value", [0.0, -2.0])
def test_volatility_multiplier_must_be_positive(value):
    _refused(
        ConfigError, lambda: VolatilityStress(name="v", multiplier=value), "stress 'v'.multiplier"
    )


def test_window_years_must_be_positive():
    _refused(ConfigError, lambda: DriftStress(name="d", shift=-0.05, years=0), "stress 'd'.years")


@pytest.mark.parametrize(
    ("field", "value"), [("weight", 1.5), ("weight", -0.1), ("to", -1.0), ("to", 1.2)]
)
def test_correlation_ranges(field, value):
    _refused(
        ConfigError, lambda: CorrelationStress(name="c", **{field: value}), f"stress 'c'.{field}"
    )


def test_bad_proxy_table_refused():
    _refused(
        ConfigError,
        lambda: HistoricalEpisode(name="h", episode="covid_crash", proxies={"a": {"beta": 1.0}}),
        "proxies.a.series",
    )


def test_proxy_beta_word_other_than_fit_refused():
    _refused(
        ConfigError,
        lambda: HistoricalEpisode(
            name="h", episode="covid_crash", proxies={"a": {"series": "x", "beta": "fitted"}}
        ),
        "proxies.a.beta",
        "'fit'",
    )


# -- against the run ---------------------------------------------------------------------------
def test_at_year_off_a_whole_step_refused():
    _refused(
        ConfigError,
        lambda: resolve(Shock(name="s", returns={"us_stocks_tr": -0.2}, at_year=0.04), _ctx()),
        "at_year",
        "whole",
    )


def test_at_year_at_the_horizon_refused():
    _refused(
        ConfigError,
        lambda: resolve(Shock(name="s", returns={"us_stocks_tr": -0.2}, at_year=10), _ctx()),
        "stress 's'.at_year",
        "horizon",
    )


def test_window_past_the_horizon_refused():
    _refused(
        ConfigError,
        lambda: resolve(DriftStress(name="d", shift=-0.05, at_year=5, years=10), _ctx()),
        "stress 'd'.years",
        "years <= 5",
    )


def test_window_years_off_whole_steps_refused():
    _refused(
        ConfigError,
        lambda: resolve(VolatilityStress(name="v", multiplier=2, years=0.01), _ctx()),
        "stress 'v'.years",
    )


def test_unknown_series_in_a_table_refused_with_suggestion():
    _refused(
        ConfigError,
        lambda: resolve(Shock(name="s", returns={"us_stock_tr": -0.2}), _ctx()),
        "stress 's'.returns.us_stock_tr",
        "Did you mean 'us_stocks_tr'",
    )


def test_episode_longer_than_the_horizon_refused():
    stress = HistoricalEpisode(name="h", episode="seventies")
    _refused(
        ConfigError,
        lambda: resolve(stress, _ctx(n_steps=60)),
        "stress 'h'.episode",
        "longer than the horizon",
    )


def test_episode_spliced_past_the_horizon_refused():
    stress = HistoricalEpisode(name="h", episode="financial_crisis", at_year=9)
    _refused(
        ConfigError,
        lambda: resolve(stress, _ctx()),
        "stress 'h'.at_year",
        "past the horizon",
        "at_year <= 8.66667",
    )


def test_asset_without_a_mapping_refused_with_the_fix():
    model = mcsim.GaussianModel(mu=[0.07], vol=[0.2], corr=[[1.0]], names=["my_fund"])
    stress = HistoricalEpisode(name="h", episode="financial_crisis")
    _refused(
        ConfigError,
        lambda: resolve(stress, _ctx(model, ["my_fund"])),
        "proxies",
        'my_fund = "us_stocks_tr"',
    )


def test_proxy_to_a_missing_column_refused():
    model = mcsim.GaussianModel(mu=[0.07], vol=[0.2], corr=[[1.0]], names=["my_fund"])
    stress = HistoricalEpisode(
        name="h", episode="financial_crisis", proxies={"my_fund": "us_stock_tr"}
    )
    _refused(
        DataError,
        lambda: resolve(stress, _ctx(model, ["my_fund"])),
        "proxies.my_fund",
        "Did you mean 'us_stocks_tr'",
    )


def test_proxy_for_a_series_the_run_lacks_refused():
    stress = HistoricalEpisode(name="h", episode="covid_crash", proxies={"gold": "us_stocks_tr"})
    _refused(ConfigError, lambda: resolve(stress, _ctx()), "proxies.gold")


def test_window_outside_the_data_refused():
    stress = HistoricalEpisode(name="h", start="1850-01", end="1851-12", dataset="shiller")
    _refused(DataError, lambda: resolve(stress, _ctx()), "stress 'h'.start", "outside the data")


def test_window_of_own_data_without_history_refused():
    stress = HistoricalEpisode(name="h", start="2008-01", end="2008-12")
    _refused(
        ConfigError, lambda: resolve(stress, _ctx()), "stress 'h'.start", 'dataset = "shiller"'
    )


def test_window_of_own_history_splices_its_rows():
    history = mcsim.load_dataset("shiller").loc["2000":"2010"]
    stress = HistoricalEpisode(name="h", start="2008-01", end="2008-12")
    res = resolve(stress, _ctx(history=history, history_periods_per_year=12))
    np.testing.assert_array_equal(res.episode, history.loc["2008"].to_numpy())


def test_unknown_dataset_refused():
    stress = HistoricalEpisode(name="h", episode="covid_crash", dataset="shillr")
    _refused(DataError, lambda: resolve(stress, _ctx()), "stress 'h'.dataset", "'shiller'")


def test_fitted_beta_without_history_refused():
    stress = HistoricalEpisode(
        name="h",
        episode="covid_crash",
        proxies={"us_stocks_tr": {"series": "us_stocks_tr", "beta": "fit"}},
    )
    _refused(
        ConfigError, lambda: resolve(stress, _ctx()), "proxies.us_stocks_tr.beta", "beta = 1.0"
    )


def test_fitted_beta_with_too_short_an_overlap_refused():
    history = mcsim.load_dataset("shiller").loc["2024-01":"2025-06"]
    stress = HistoricalEpisode(
        name="h",
        episode="covid_crash",
        proxies={"us_stocks_tr": {"series": "us_stocks_tr", "beta": "fit"}},
    )
    ctx = _ctx(history=history, history_periods_per_year=12)
    _refused(DataError, lambda: resolve(stress, ctx), "proxies.us_stocks_tr.beta", "at least 24")


def test_correlation_target_that_cannot_be_valid_refused():
    model = mcsim.GaussianModel(
        mu=[0.05] * 3, vol=[0.2] * 3, corr=np.eye(3).tolist(), names=["a", "b", "c"]
    )
    stress = CorrelationStress(name="c", to=-0.9)
    _refused(
        ConfigError, lambda: resolve(stress, _ctx(model, ["a", "b", "c"])), "stress 'c'.to", "-0.5"
    )


def test_correlation_target_matrix_not_psd_refused():
    bad = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]
    model = mcsim.GaussianModel(
        mu=[0.05] * 3, vol=[0.2] * 3, corr=np.eye(3).tolist(), names=["a", "b", "c"]
    )
    _refused(
        ConfigError,
        lambda: resolve(CorrelationStress(name="c", to=bad), _ctx(model, ["a", "b", "c"])),
        "stress 'c'.to",
        "positive semi-definite",
    )


def test_correlation_target_matrix_of_the_wrong_size_refused():
    _refused(
        ConfigError,
        lambda: resolve(CorrelationStress(name="c", to=np.eye(3)), _ctx()),
        "stress 'c'.to",
        "2x2",
    )


@pytest.mark.parametrize("kind", ["volatility", "correlation"])
def test_stress_on_a_model_without_draws_to_rebuild_refused(kind):
    history = mcsim.load_dataset("shiller").loc["1990":"2020"]
    boot = mcsim.BootstrapModel("iid").fit(history, periods_per_year=12)
    table = {"volatility": {"multiplier": 2.0}, "correlation": {"to": 0.9}}[kind]
    stress = stress_from_config({"name": "s", "kind": kind, **table}, 0)
    _refused(
        ConfigError,
        lambda: resolve(stress, _ctx(boot)),
        "`[[stresses]][1].kind`",
        "'bootstrap'",
        "drift",
    )


def test_drift_and_shock_work_on_any_model():
    history = mcsim.load_dataset("shiller").loc["1990":"2020"]
    boot = mcsim.BootstrapModel("iid").fit(history, periods_per_year=12)
    assert resolve(DriftStress(name="d", shift=-0.05), _ctx(boot)).kind == "drift"
    assert resolve(Shock(name="s", returns={"us_stocks_tr": -0.3}), _ctx(boot)).kind == "shock"
    assert resolve(HistoricalEpisode(name="h", episode="covid_crash"), _ctx(boot)).kind == "splice"


def test_context_from_a_prepared_plan(small_table):
    plan = mcsim.prepare(mcsim.Scenario.from_dict(small_table()), seed=1)
    ctx = StressContext.from_plan(plan)
    assert list(ctx.series_names) == ["stocks", "bonds"] and ctx.n_steps == 24
    res = resolve(Shock(name="s", returns={"stocks": -0.4}), ctx)
    assert res.shock.tolist() == [-0.4, 0.0]
