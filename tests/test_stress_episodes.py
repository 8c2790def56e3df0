"""The episode catalogue, its table, and episode returns per simulation step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mcsim
from mcsim.errors import ConfigError, DataError, McsimError
from mcsim.stress import EPISODES, episode_returns, episode_table, get_episode

REQUIRED = {
    "great_depression": ("1929-09", "1932-06"),
    "bear_1973_74": ("1973-01", "1974-09"),
    "dot_com_crash": ("2000-03", "2002-09"),
    "financial_crisis": ("2007-11", "2009-02"),
    "covid_crash": ("2020-02", "2020-03"),
    "stocks_bonds_2022": ("2022-01", "2022-09"),
    "seventies": ("1970-01", "1979-12"),
}


def _window(data: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    months = data.index.to_period("M")
    return data.loc[(months >= pd.Period(start, "M")) & (months <= pd.Period(end, "M"))]


def _assert_one_line(err: McsimError, *needles: str) -> None:
    text = str(err)
    assert "\n" not in text
    for needle in needles:
        assert needle in text


def test_catalogue_has_the_required_episodes_with_their_dates():
    for name, (start, end) in REQUIRED.items():
        ep = EPISODES[name]
        assert (ep.start, ep.end) == (start, end)
        assert ep.dataset == "shiller"
        assert ep.title and ep.description and "\n" not in ep.description


def test_bear_1973_74_dates_are_month_end_peak_to_trough():
    # Month-end US market total return: the peak is the close of Dec 1972, the trough the
    # close of Sep 1974, so the fall is the returns of 1973-01..1974-09.
    level = (1.0 + mcsim.load_dataset("ff3")["us_market_tr"]).cumprod()
    span = level.loc["1972-06":"1975-06"]
    peak = span.idxmax()
    trough = span.loc[peak:].idxmin()
    assert (peak + pd.offsets.MonthEnd(1)).strftime("%Y-%m") == EPISODES["bear_1973_74"].start
    assert trough.strftime("%Y-%m") == EPISODES["bear_1973_74"].end


def test_episode_table_compounds_each_bundled_series_over_the_window():
    table = episode_table()
    assert list(table.index) == list(EPISODES)
    shiller = mcsim.load_dataset("shiller")
    ff3 = mcsim.load_dataset("ff3")
    for name, ep in EPISODES.items():
        row = table.loc[name]
        assert row["months"] == ep.months == len(_window(shiller, ep.start, ep.end))
        for ds, data in (("shiller", shiller), ("ff3", ff3)):
            for col in data.columns:
                want = np.prod(1.0 + _window(data, ep.start, ep.end)[col].to_numpy()) - 1.0
                assert row[f"{ds}.{col}"] == pytest.approx(want, rel=1e-12, abs=1e-15)
    # What the crises did: stocks fell in each crash, bonds and stocks fell together in 2022.
    assert table.loc["financial_crisis", "shiller.us_stocks_tr"] < -0.4
    assert table.loc["stocks_bonds_2022", "shiller.us_bonds_10y_tr"] < -0.1
    assert table.loc["seventies", "shiller.cpi_inflation"] > 1.0


def test_episode_returns_monthly_are_the_data_rows():
    shiller = mcsim.load_dataset("shiller")
    got = episode_returns("financial_crisis", ["us_stocks_tr", "cpi_inflation"], 12)
    want = _window(shiller, "2007-11", "2009-02")[["us_stocks_tr", "cpi_inflation"]]
    assert got.shape == (16, 2)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


@pytest.mark.parametrize(
    ("episode", "steps", "n"), [("stocks_bonds_2022", 4, 3), ("seventies", 1, 10)]
)
def test_episode_returns_compound_finer_data_into_steps(episode, steps, n):
    shiller = mcsim.load_dataset("shiller")
    ep = EPISODES[episode]
    got = episode_returns(episode, "us_stocks_tr", steps)
    assert len(got) == n
    rows = _window(shiller, ep.start, ep.end)["us_stocks_tr"].to_numpy()
    groups = rows.reshape(n, -1)
    np.testing.assert_allclose(got["us_stocks_tr"], np.prod(1.0 + groups, axis=1) - 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.prod(1.0 + got["us_stocks_tr"]), np.prod(1.0 + rows), rtol=1e-12)


def test_episode_returns_of_a_range_of_given_data():
    ff3 = mcsim.load_dataset("ff3")
    got = episode_returns(("1987-09", "1987-11"), ["us_market_tr"], 12, ff3)
    np.testing.assert_array_equal(
        got.to_numpy().ravel(), _window(ff3, "1987-09", "1987-11")["us_market_tr"]
    )


def test_unknown_episode_suggests_the_nearest():
    with pytest.raises(ConfigError, match="financial_crisis") as info:
        get_episode("financial_crysis", "[[stresses]][1].episode")
    _assert_one_line(info.value, "`[[stresses]][1].episode`", "Did you mean")


def test_window_outside_the_data_is_refused():
    with pytest.raises(DataError, match="outside the data") as info:
        episode_returns(("1860-01", "1872-12"), "us_stocks_tr", 12, field="[[stresses]][1].start")
    _assert_one_line(info.value, "`[[stresses]][1].start`", "1871-02")


def test_window_that_is_not_whole_steps_is_refused_with_the_ends_to_use():
    with pytest.raises(DataError, match="not a whole number") as info:
        episode_returns("financial_crisis", "us_stocks_tr", 4, field="[[stresses]][2].episode")
    _assert_one_line(info.value, "`[[stresses]][2].episode`", "2009-01", "2009-04")


def test_data_coarser_than_the_step_is_refused():
    with pytest.raises(DataError, match="cannot give steps"):
        episode_returns(("1970-01", "1979-12"), "sp500_tr", 12, mcsim.load_dataset("damodaran"))


def test_annual_window_off_calendar_years_is_refused():
    with pytest.raises(DataError, match="whole periods"):
        episode_returns(("1970-03", "1979-12"), "sp500_tr", 1, mcsim.load_dataset("damodaran"))


def test_unknown_series_is_refused_naming_it():
    with pytest.raises(DataError, match="us_stock_tr") as info:
        episode_returns("covid_crash", "us_stock_tr", 12)
    _assert_one_line(info.value, "Did you mean 'us_stocks_tr'")


def test_malformed_month_is_refused():
    with pytest.raises(ConfigError, match="must be a month"):
        episode_returns(("last year", "2009-02"), "us_stocks_tr", 12)
