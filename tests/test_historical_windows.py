"""Historical rolling windows as paths: counts, dates, contents, resampling, errors.

Also checks the plain NumPy references of ``mcsim.testing.history`` (windows and the
safe-withdrawal success rate) against closed forms, so the engine wiring can be tested
against them later.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.models
from mcsim.cli import main
from mcsim.errors import ConfigError, DataError
from mcsim.models.historical_windows import HistoricalWindowsModel
from mcsim.testing.history import (
    rolling_windows_reference,
    withdrawal_outcomes,
    withdrawal_success_rate,
)

SHILLER_MONTHS = (2026 - 1871) * 12 + (3 - 2) + 1  # 1871-02 .. 2026-03 inclusive


@pytest.fixture(scope="module")
def shiller() -> pd.DataFrame:
    return mcsim.load_dataset("shiller")


@pytest.fixture(scope="module")
def shiller_model(shiller) -> HistoricalWindowsModel:
    return HistoricalWindowsModel().fit(shiller, periods_per_year=12)


def _frame(n_obs: int, n_series: int = 2, seed: int = 0, freq: str = "ME") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.005, 0.03, (n_obs, n_series))
    index = pd.date_range("1950-01-31", periods=n_obs, freq=freq)
    return pd.DataFrame(x, index=index, columns=[f"s{i}" for i in range(n_series)])


def _windows(model: HistoricalWindowsModel, n_steps: int, steps_per_year=None) -> np.ndarray:
    n = model.n_windows(n_steps, steps_per_year)
    out = np.empty((n, n_steps, len(model.series_names)))
    model.windows_into(0, out, steps_per_year)
    return out


# --- counts and dates ------------------------------------------------------------------------


def test_shiller_has_1503_monthly_30_year_windows(shiller, shiller_model):
    assert len(shiller) == SHILLER_MONTHS == 1862
    assert shiller_model.n_windows(360) == SHILLER_MONTHS - 360 + 1 == 1503
    starts = shiller_model.window_starts(360)
    assert isinstance(starts, pd.DatetimeIndex)
    assert starts.name == "start"
    assert len(starts) == 1503
    assert starts[0] == pd.Timestamp("1871-02-28")
    # The last window ends with the last month of data, 2026-03.
    assert starts[-1] == pd.Timestamp("1996-04-30")


def test_yearly_starts_with_step_12(shiller):
    model = HistoricalWindowsModel(step=12).fit(shiller, periods_per_year=12)
    assert model.n_windows(360) == (SHILLER_MONTHS - 360) // 12 + 1 == 126
    starts = model.window_starts(360)
    assert (starts.month == 2).all()
    assert list(starts[:2].year) == [1871, 1872]


@pytest.mark.parametrize(("n_obs", "n_steps", "step"), [(10, 10, 1), (10, 3, 1), (10, 3, 4)])
def test_window_count_formula(n_obs, n_steps, step):
    model = HistoricalWindowsModel(step=step).fit(_frame(n_obs), periods_per_year=12)
    expected = len(range(0, n_obs - n_steps + 1, step))
    assert model.n_windows(n_steps) == expected
    assert len(model.window_starts(n_steps)) == expected


def test_start_and_end_bound_the_data(shiller):
    model = HistoricalWindowsModel(start="1926-07", end=2000).fit(shiller, periods_per_year=12)
    assert model.dates_[0] == pd.Timestamp("1926-07-31")
    assert model.dates_[-1] == pd.Timestamp("2000-12-31")
    n_obs = (2000 - 1926) * 12 + 6
    assert model.n_windows(120) == n_obs - 120 + 1
    assert model.window_starts(120)[-1] == pd.Timestamp("1991-01-31")
    assert model.params()["fit"] == {
        "n_obs": n_obs,
        "periods_per_year": 12,
        "start": "1926-07-31",
        "end": "2000-12-31",
    }


def test_start_and_end_accept_toml_dates(shiller):
    model = HistoricalWindowsModel(start=dt.date(1950, 1, 1), end=dt.date(1959, 12, 31))
    model.fit(shiller, periods_per_year=12)
    assert model.history_.shape[0] == 120
    assert model.params()["start"] == "1950-01-01"


# --- contents --------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 3, 12])
def test_window_k_starts_at_data_row_k_times_step(step):
    df = _frame(60, 3)
    model = HistoricalWindowsModel(step=step).fit(df, periods_per_year=12)
    out = _windows(model, 24)
    x = df.to_numpy()
    for k in range(out.shape[0]):
        np.testing.assert_array_equal(out[k], x[k * step : k * step + 24])
    assert list(model.window_starts(24)) == list(df.index[::step][: out.shape[0]])


def test_buy_and_hold_of_one_series_is_the_data_compounded_over_each_window(shiller, shiller_model):
    out = _windows(shiller_model, 360)
    stocks = shiller["us_stocks_tr"].to_numpy()
    col = shiller_model.series_names.index("us_stocks_tr")
    growth = np.prod(1.0 + out[:, :, col], axis=1)
    expected = np.array([np.prod(1.0 + stocks[k : k + 360]) for k in range(1503)])
    np.testing.assert_allclose(growth, expected, rtol=1e-13)
    # The best and worst 30 years of US stocks are decades apart, as history has them.
    assert growth.max() / growth.min() > 5.0


def test_windows_equal_the_numpy_twin(shiller, shiller_model):
    np.testing.assert_array_equal(
        _windows(shiller_model, 360), rolling_windows_reference(shiller.to_numpy(), 360)
    )


def test_annual_steps_from_monthly_data_compound_twelve_months_from_any_start():
    df = _frame(150, 2, seed=3)
    model = HistoricalWindowsModel(step=1).fit(df, periods_per_year=12)
    out = _windows(model, 10, steps_per_year=1)
    assert model.n_windows(10, 1) == 150 - 120 + 1
    reference = rolling_windows_reference(df.to_numpy(), 10, step=1, periods_per_step=12)
    np.testing.assert_allclose(out, reference, rtol=1e-12)
    # A window starting in any month compounds the 12 months that follow it.
    x = df.to_numpy()
    np.testing.assert_allclose(out[7, 2], np.prod(1.0 + x[7 + 24 : 7 + 36], axis=0) - 1.0)


def test_quarterly_steps_from_monthly_data():
    df = _frame(40, 1, seed=4)
    model = HistoricalWindowsModel(step=2).fit(df, periods_per_year=12)
    out = _windows(model, 4, steps_per_year=4)
    reference = rolling_windows_reference(df.to_numpy(), 4, step=2, periods_per_step=3)
    np.testing.assert_allclose(out, reference, rtol=1e-12)


def test_chunks_fill_the_same_windows_as_one_call(shiller_model):
    whole = _windows(shiller_model, 360)
    chunked = np.empty_like(whole)
    for first in range(0, whole.shape[0], 400):
        m = min(400, whole.shape[0] - first)
        shiller_model.windows_into(first, chunked[first : first + m])
    np.testing.assert_array_equal(chunked, whole)


def test_model_keeps_every_series_of_a_period_together(shiller, shiller_model):
    out = _windows(shiller_model, 12)
    np.testing.assert_array_equal(out[100, 5], shiller.to_numpy()[105])
    assert shiller_model.series_names == list(shiller.columns)


def test_moments_follow_the_gaussian_convention(shiller_model, shiller):
    logx = np.log1p(shiller.to_numpy())
    np.testing.assert_allclose(shiller_model.cov_, np.cov(logx, rowvar=False) * 12)
    np.testing.assert_allclose(
        shiller_model.mu_, logx.mean(axis=0) * 12 + 0.5 * np.diag(shiller_model.cov_)
    )


def test_params_record_the_options_and_fit(shiller_model):
    p = shiller_model.params()
    assert p["kind"] == "historical_windows"
    assert p["step"] == 1
    assert p["assets"] == ["us_stocks_tr", "us_bonds_10y_tr", "cpi_inflation"]
    assert p["fit"]["n_obs"] == SHILLER_MONTHS
    assert "start" not in p


def test_from_config_and_history_argument():
    df = _frame(30)
    model = HistoricalWindowsModel.from_config(
        {"kind": "historical_windows", "step": 2, "end": "1950-12", "assets": ["s0", "s1"]}
    )
    assert model.needs_history
    model.fit(df, periods_per_year=12)
    assert model.history_.shape[0] == 12
    direct = HistoricalWindowsModel(step=2, history=df, periods_per_year=12)
    assert direct.n_windows(6) == (30 - 6) // 2 + 1


# --- refusals --------------------------------------------------------------------------------


def test_data_shorter_than_horizon_is_refused_with_the_fix():
    model = HistoricalWindowsModel().fit(_frame(240), periods_per_year=12)
    with pytest.raises(DataError) as e:
        model.n_windows(360)
    msg = str(e.value)
    assert "the data cover 20 years" in msg.lower()
    assert "the horizon is 30" in msg
    assert "`[simulation].horizon_years`" in msg
    assert "longer data" in msg
    with pytest.raises(DataError, match="horizon_years"):
        model.windows_into(0, np.empty((1, 360, 2)))
    with pytest.raises(DataError, match="horizon_years"):
        model.window_starts(360)


def test_start_end_too_narrow_for_the_horizon_names_them(shiller):
    model = HistoricalWindowsModel(start=1990, end=2009).fit(shiller, periods_per_year=12)
    with pytest.raises(DataError, match=r"cover 20 years \(after `\[model\].start`/`end`\)"):
        model.n_windows(360)


def test_steps_that_do_not_divide_the_data_periods_are_refused():
    model = HistoricalWindowsModel().fit(_frame(120), periods_per_year=12)
    with pytest.raises(ConfigError, match=r"`\[simulation\].steps_per_year` = 5 does not divide"):
        model.n_windows(10, steps_per_year=5)
    with pytest.raises(ConfigError, match="Use one of 1, 2, 3, 4, 6, 12"):
        model.windows_into(0, np.empty((1, 10, 2)), steps_per_year=5)


def test_steps_finer_than_the_data_are_refused():
    annual = _frame(50, freq="YE")
    model = HistoricalWindowsModel().fit(annual, periods_per_year=1)
    with pytest.raises(ConfigError, match=r"`\[simulation\].steps_per_year = 1`"):
        model.n_windows(12, steps_per_year=12)


def test_simulate_into_refuses_because_nothing_is_random(shiller_model):
    with pytest.raises(ConfigError, match=r"no random draws.*windows_into"):
        shiller_model.simulate_into(np.random.default_rng(0), np.empty((1, 12, 3)), 12)
    assert HistoricalWindowsModel.draws_random_numbers is False


def test_windows_past_the_last_are_refused_with_the_count(shiller_model):
    with pytest.raises(ConfigError, match=r"data give 1503 windows.*`\[simulation\].n_paths`"):
        shiller_model.windows_into(1500, np.empty((4, 360, 3)))
    with pytest.raises(ConfigError, match="`first` must be >= 0"):
        shiller_model.windows_into(-1, np.empty((1, 360, 3)))
    with pytest.raises(ConfigError, match="`out` has 2 series"):
        shiller_model.windows_into(0, np.empty((1, 360, 2)))


def test_unfitted_model_says_how_to_fit():
    with pytest.raises(ConfigError, match="has no parameters"):
        HistoricalWindowsModel().n_windows(12)


@pytest.mark.parametrize(
    ("section", "pattern"),
    [
        ({"stpe": 12}, r"Unknown key `\[model\].stpe`. Did you mean `step`\?"),
        ({"step": 0}, r"`\[model\].step` must be >= 1"),
        ({"step": 1.5}, r"`\[model\].step` must be an integer"),
        ({"start": "last spring"}, r"`\[model\].start`.*not a date"),
        ({"end": "2000-13"}, r"`\[model\].end`.*month 13"),
        ({"start": [1950]}, r"`\[model\].start` must be a date"),
        ({"start": 2000, "end": 1990}, r"`\[model\].start` \(2000\) is after `\[model\].end`"),
        ({"assets": "stocks"}, r"`\[model\].assets` must be a list"),
        ({"fit": 3}, r"`\[model\].fit` must be a table"),
    ],
    ids=lambda v: None if isinstance(v, str) else next(iter(v)),
)
def test_bad_model_section_names_the_field(section, pattern):
    with pytest.raises(ConfigError, match=pattern):
        HistoricalWindowsModel.from_config({"kind": "historical_windows", **section})


def test_bad_history_is_refused():
    df = _frame(30)
    with pytest.raises(DataError, match="DatetimeIndex"):
        HistoricalWindowsModel().fit(df.reset_index(drop=True), periods_per_year=12)
    with pytest.raises(DataError, match=r"No data lie between `\[model\].start`"):
        HistoricalWindowsModel(start=2020).fit(df, periods_per_year=12)
    bad = df.copy()
    bad.iloc[4, 1] = np.nan
    with pytest.raises(DataError, match="'s1' has a missing"):
        HistoricalWindowsModel().fit(bad, periods_per_year=12)
    with pytest.raises(ConfigError, match=r"`\[model\].assets` \(a, b\) does not match"):
        HistoricalWindowsModel(assets=["a", "b"]).fit(df, periods_per_year=12)
    with pytest.raises(ConfigError, match="`periods_per_year` is required"):
        HistoricalWindowsModel(history=df)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(
    ("model", "names"),
    [
        ({"kind": "historical_windows", "stpe": 12}, "`[model].stpe`"),
        ({"kind": "historical_windows", "step": 0}, "`[model].step`"),
        ({"kind": "historical_windows", "start": "someday"}, "`[model].start`"),
    ],
    ids=["unknown_key", "step_zero", "bad_start"],
)
def test_cli_refuses_a_bad_model_section_with_exit_2(
    model, names, small_table, write_toml, tmp_path, capsys, monkeypatch
):
    # The model is registered here the way mcsim.models.MODELS will list it.
    monkeypatch.setitem(mcsim.models.MODELS, "historical_windows", HistoricalWindowsModel)
    table = small_table(
        model=None,
        data={"source": "shiller", "columns": ["us_stocks_tr", "us_bonds_10y_tr"]},
        portfolio={"target": {"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4}},
    )
    table["model"] = model
    scenario = write_toml(table, tmp_path / "hist.toml")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("earlier results\n")
    before = _snapshot(out)
    code = main(["run", str(scenario), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcsim: error: ")
    assert names in lines[0]
    assert _snapshot(out) == before


# --- the withdrawal reference ----------------------------------------------------------------


def test_withdrawal_reference_matches_the_annuity_closed_form():
    r, c, n = 0.004, 0.05 / 12, 360
    returns = np.full((1, n, 2), r)
    wealth, survived = withdrawal_outcomes(returns, [0.6, 0.4], 0.05)
    g = (1.0 + r) ** n
    assert survived[0]
    np.testing.assert_allclose(wealth[0], g - c * (g - 1.0) / r, rtol=1e-12)


def test_inflation_indexed_withdrawal_at_zero_real_return_falls_linearly_in_real_terms():
    i, n = 0.003, 360
    returns = np.full((1, n, 1), i)
    inflation = np.full((1, n), i)
    wealth, survived = withdrawal_outcomes(returns, [1.0], 0.03, inflation)
    assert survived[0]
    np.testing.assert_allclose(wealth[0] / (1.0 + i) ** n, 1.0 - 0.03 * 30, rtol=1e-10)
    # 4 % a year for 30 years at zero real return needs 120 % of the start: ruin in year 25.
    wealth, survived = withdrawal_outcomes(returns, [1.0], 0.04, inflation)
    assert not survived[0] and wealth[0] == 0.0


def test_withdrawal_success_rate_counts_surviving_paths():
    good = np.full((1, 120, 1), 0.01)
    bad = np.full((1, 120, 1), -0.02)
    returns = np.concatenate([good, bad, good, good])
    assert withdrawal_success_rate(returns, [1.0], 0.04) == 0.75


def test_four_percent_rule_over_historical_windows(shiller, shiller_model):
    """A 4 % inflation-indexed withdrawal from a monthly-rebalanced 60/40 over every 30-year
    window of the Shiller data: the model's windows and the twin's give the same answer, and
    the failures are the retirements of the late 1960s (inflation, then the 1973-74 bear)."""
    windows = _windows(shiller_model, 360)
    names = shiller_model.series_names
    assets = [names.index("us_stocks_tr"), names.index("us_bonds_10y_tr")]
    cpi = names.index("cpi_inflation")
    rate = withdrawal_success_rate(windows[:, :, assets], [0.6, 0.4], 0.04, windows[:, :, cpi])
    twin = rolling_windows_reference(shiller.to_numpy(), 360)
    assert rate == withdrawal_success_rate(twin[:, :, [0, 1]], [0.6, 0.4], 0.04, twin[:, :, 2])
    assert 0.9 < rate < 1.0
    _, survived = withdrawal_outcomes(windows[:, :, assets], [0.6, 0.4], 0.04, windows[:, :, cpi])
    failed = shiller_model.window_starts(360)[~survived]
    assert failed.year.min() >= 1960 and failed.year.max() <= 1970
