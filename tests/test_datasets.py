"""Tests of mcsim.data: bundled data, users' files, checks, frequency and resampling."""

from __future__ import annotations

import importlib
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
from mcsim.data import (
    BUNDLED,
    align_returns,
    catalogue,
    infer_periods_per_year,
    list_datasets,
    load_dataset,
    load_returns,
    resample_returns,
)
from mcsim.errors import ConfigError, DataError

ETF_FILE = Path("/work/shared/data/etf_daily_adjclose.csv")


# --------------------------------------------------------------------------------------------
# Bundled datasets
# --------------------------------------------------------------------------------------------

EXPECTED = {
    # name: (rows, first, last, periods_per_year)
    "shiller": (1862, "1871-02-28", "2026-03-31", 12),
    "shiller_levels": (1863, "1871-01-31", "2026-03-31", 12),
    "ff3": (1189, "1926-07-31", "2025-07-31", 12),
    "damodaran": (98, "1928-12-31", "2025-12-31", 1),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_dataset_shape(name: str) -> None:
    rows, first, last, ppy = EXPECTED[name]
    df = load_dataset(name)
    assert len(df) == rows
    assert df.index[0] == pd.Timestamp(first)
    assert df.index[-1] == pd.Timestamp(last)
    assert isinstance(df.index, pd.DatetimeIndex)
    assert df.index.name == "date"
    assert df.index.is_monotonic_increasing and not df.index.has_duplicates
    assert list(df.columns) == list(BUNDLED[name].columns)
    assert all(dtype == np.float64 for dtype in df.dtypes)
    assert not df.isna().to_numpy().any()
    assert df.attrs["periods_per_year"] == ppy
    assert df.attrs["source"] == name
    assert infer_periods_per_year(df.index) == ppy
    # Consecutive months / years, no gaps.
    freq = "ME" if ppy == 12 else "YE"
    assert df.index.equals(pd.date_range(first, last, freq=freq, name="date"))


def test_list_datasets_matches_files() -> None:
    table = list_datasets()
    assert list(table["name"]) == ["shiller", "shiller_levels", "ff3", "damodaran"]
    for column in [
        "file",
        "frequency",
        "periods_per_year",
        "first",
        "last",
        "columns",
        "kind",
        "description",
        "citation",
    ]:
        assert column in table.columns
    for row in table.itertuples():
        df = load_dataset(row.name)
        assert (row.first, row.last, row.rows) == (df.index[0], df.index[-1], len(df))
        assert row.columns == ", ".join(df.columns)
        assert row.frequency == {12: "monthly", 1: "annual"}[row.periods_per_year]
        assert row.kind == ("levels" if row.name == "shiller_levels" else "returns")
        assert row.citation and "\n" not in row.description


def test_damodaran_known_values() -> None:
    sp = load_dataset("damodaran", columns=["sp500_tr"])["sp500_tr"]
    assert sp.loc["2008-12-31"] == pytest.approx(-0.3655, abs=5e-5)
    assert sp.loc["1931-12-31"] == pytest.approx(-0.4384, abs=5e-5)
    assert sp.loc["1954-12-31"] == pytest.approx(0.5256, abs=5e-5)
    assert sp.loc["2022-12-31"] == pytest.approx(-0.1804, abs=5e-5)
    # Geometric mean 1928-2025 about 10 % per year.
    assert (1 + sp).prod() ** (1 / len(sp)) - 1 == pytest.approx(0.100, abs=0.002)


def test_ff3_market_is_mkt_rf_plus_rf() -> None:
    ff3 = load_dataset("ff3")
    np.testing.assert_allclose(ff3["us_market_tr"], ff3["mkt_rf"] + ff3["rf"], atol=1e-12)
    assert ff3.loc["1926-07-31", "us_market_tr"] == pytest.approx(0.0311)
    assert ff3["rf"].min() == pytest.approx(-0.0006)


def test_shiller_known_months() -> None:
    sh = load_dataset("shiller")
    assert sh.loc["1871-02-28", "us_stocks_tr"] == pytest.approx(0.01839339)
    assert sh.loc["1932-08-31", "us_stocks_tr"] == pytest.approx(0.51, abs=0.01)
    assert sh.loc["1929-11-30", "us_stocks_tr"] == pytest.approx(-0.26, abs=0.01)
    assert sh["us_stocks_tr"].idxmax() == pd.Timestamp("1932-08-31")


def test_load_dataset_columns_and_slicing() -> None:
    df = load_dataset("ff3", columns=["rf", "mkt_rf"], start="1926-07", end="1926-12")
    assert list(df.columns) == ["rf", "mkt_rf"]
    assert len(df) == 6
    assert df.index[-1] == pd.Timestamp("1926-12-31")
    years = load_dataset("damodaran", start="1950", end=1951)
    assert list(years.index.year) == [1950, 1951]
    stamps = load_dataset("shiller", start=pd.Timestamp("2000-01-31"), end="2000-03-31")
    assert len(stamps) == 3


def test_load_dataset_works_from_any_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert len(load_dataset("damodaran")) == 98


def test_bundled_files_are_resources_of_the_data_package() -> None:
    """The CSVs ship inside mcsim.data (package data of the wheel) and load through
    importlib.resources, whatever the working directory."""
    root = resources.files("mcsim.data")
    for info in BUNDLED.values():
        assert root.joinpath(info.file).is_file()
        assert catalogue.bundled_file(info).read_bytes() == root.joinpath(info.file).read_bytes()
    assert root.joinpath("PROVENANCE.md").is_file()
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    assert "mcsim.data" in setuptools["packages"]
    assert {"*.csv", "*.md"} <= set(setuptools["package-data"]["mcsim.data"])


def test_data_package_is_the_only_home_of_the_loaders() -> None:
    """The public loaders are mcsim.data's; the old single module is gone, with no shim."""
    assert mcsim.load_returns is load_returns
    assert mcsim.load_dataset is load_dataset
    assert mcsim.list_datasets is list_datasets
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("mcsim.datasets")


def test_load_returns_bundled_same_as_load_dataset() -> None:
    pd.testing.assert_frame_equal(load_returns("ff3"), load_dataset("ff3"))


def test_shiller_levels_as_prices() -> None:
    levels = load_dataset("shiller_levels", columns=["sp500_price"])
    returns = load_returns("shiller_levels", kind="prices", columns=["sp500_price"], start="1950")
    assert returns.index[0] == pd.Timestamp("1950-01-31")
    expected = levels.loc["1950-01-31", "sp500_price"] / levels.loc["1949-12-31", "sp500_price"]
    assert returns.iloc[0, 0] == pytest.approx(expected - 1)
    with pytest.raises(DataError, match=r"holds levels.*kind='prices'"):
        load_returns("shiller_levels")


def test_unknown_dataset_suggests_name() -> None:
    with pytest.raises(DataError, match=r"Unknown dataset 'shiler'.*Did you mean 'shiller'"):
        load_dataset("shiler")
    with pytest.raises(DataError, match="'ff3', 'damodaran'"):
        load_dataset("nope")
    with pytest.raises(DataError, match=r"Did you mean 'damodaran'.*not a file"):
        load_returns("damodoran")


def test_unknown_column_lists_available() -> None:
    with pytest.raises(DataError, match=r"Unknown column 'mkt'.*Available columns: 'mkt_rf'"):
        load_dataset("ff3", columns=["mkt"])


def test_too_few_rows_after_slicing() -> None:
    with pytest.raises(DataError, match=r"1 row.*at least 2.*1928-12-31 .. 2025-12-31"):
        load_dataset("damodaran", start="1950", end="1950")
    with pytest.raises(DataError, match="0 row"):
        load_returns("ff3", start="2030")


# --------------------------------------------------------------------------------------------
# Frequency inference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (pd.bdate_range("2020-01-01", "2021-12-31"), 252),
        (pd.date_range("2020-01-01", "2020-12-31", freq="D"), 365),
        (pd.date_range("2020-01-03", periods=60, freq="W-FRI"), 52),
        (pd.date_range("2000-01-31", periods=40, freq="ME"), 12),
        (pd.date_range("2000-01-01", periods=40, freq="MS"), 12),
        (pd.date_range("2000-03-31", periods=20, freq="QE"), 4),
        (pd.date_range("1990-12-31", periods=30, freq="YE"), 1),
    ],
)
def test_infer_periods_per_year(dates: pd.DatetimeIndex, expected: int) -> None:
    assert infer_periods_per_year(dates) == expected


def test_infer_periods_per_year_trading_days_with_holidays() -> None:
    days = pd.bdate_range("2019-01-01", "2019-12-31")
    days = days.drop(pd.DatetimeIndex(["2019-01-01", "2019-07-04", "2019-12-25"]))
    assert infer_periods_per_year(days) == 252


def test_infer_periods_per_year_irregular() -> None:
    with pytest.raises(DataError, match=r"median spacing is 15 days.*periods_per_year="):
        infer_periods_per_year(pd.date_range("2020-01-01", periods=30, freq="15D"))
    with pytest.raises(DataError, match="at least 2"):
        infer_periods_per_year(pd.DatetimeIndex(["2020-01-01"]))


def test_periods_per_year_override() -> None:
    dates = pd.date_range("2020-01-03", periods=30, freq="14D")
    frame = pd.DataFrame({"date": dates, "a": 0.001})
    with pytest.raises(DataError, match="periods_per_year="):
        load_returns(frame)
    assert load_returns(frame, periods_per_year=26).attrs["periods_per_year"] == 26
    monthly = load_returns(load_dataset("ff3"), periods_per_year=13)
    assert monthly.attrs["periods_per_year"] == 13
    with pytest.raises(ConfigError, match="positive integer"):
        load_returns(frame, periods_per_year=0)


# --------------------------------------------------------------------------------------------
# Users' data: formats and round trips
# --------------------------------------------------------------------------------------------


def _returns_frame(n: int = 30, start: str = "2001-01-31") -> pd.DataFrame:
    rng = np.random.default_rng(7)
    dates = pd.date_range(start, periods=n, freq="ME", name="date", unit="ns")
    return pd.DataFrame(
        {"stocks": rng.normal(0.007, 0.045, n), "bonds": rng.normal(0.003, 0.02, n)},
        index=dates,
    )


def test_csv_round_trip(tmp_path: Path) -> None:
    frame = _returns_frame()
    path = tmp_path / "returns.csv"
    frame.to_csv(path, float_format="%.17g")
    loaded = load_returns(path)
    pd.testing.assert_frame_equal(loaded, frame, check_freq=False)
    assert loaded.attrs == {"periods_per_year": 12, "source": str(path)}
    assert load_returns(str(path)).equals(loaded)


def test_parquet_round_trip(tmp_path: Path) -> None:
    frame = _returns_frame()
    indexed = tmp_path / "indexed.parquet"
    frame.to_parquet(indexed)
    pd.testing.assert_frame_equal(load_returns(indexed), frame, check_freq=False)
    as_column = tmp_path / "column.parquet"
    frame.reset_index().to_parquet(as_column, index=False)
    loaded = load_returns(as_column, columns=["bonds"])
    pd.testing.assert_frame_equal(loaded, frame[["bonds"]], check_freq=False)


def test_date_formats(tmp_path: Path) -> None:
    years = tmp_path / "years.csv"
    years.write_text("Year,a\n2001,0.05\n2002,-0.10\n2003,0.20\n")
    df = load_returns(years)
    assert list(df.index) == [pd.Timestamp(f"{y}-12-31") for y in (2001, 2002, 2003)]
    assert df.attrs["periods_per_year"] == 1
    months = tmp_path / "months.csv"
    months.write_text("when,a\n2001-01,0.01\n2001-02,0.02\n2001-03,0.03\n")
    df = load_returns(months)  # the first column holds the dates
    assert list(df.index.strftime("%Y-%m-%d")) == ["2001-01-31", "2001-02-28", "2001-03-31"]
    french = pd.DataFrame({"Date": [192607, 192608, 192609], "Mkt": [0.03, 0.03, 0.01]})
    assert load_returns(french).index[0] == pd.Timestamp("1926-07-31")
    by_year = pd.DataFrame({"x": [0.1, 0.2, -0.1]}, index=pd.Index([1990, 1991, 1992], name="year"))
    assert load_returns(by_year).index[-1] == pd.Timestamp("1992-12-31")
    days = ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"]
    named = pd.DataFrame({"t": days, "x": [0.0, 0.01, 0.0, 0.02, -0.01]})
    assert load_returns(named, date_column="t").attrs["periods_per_year"] == 252


def test_prices_to_returns_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2020-01-01", periods=300, name="date", unit="ns")
    prices = pd.DataFrame(
        {"A": 100 * np.cumprod(1 + rng.normal(0, 0.01, 300)), "B": 50.0 + np.arange(300)},
        index=dates,
    )
    returns = load_returns(prices, kind="prices")
    assert len(returns) == 299
    assert returns.index[0] == dates[1]
    pd.testing.assert_frame_equal(returns, prices.pct_change().iloc[1:], check_freq=False)
    rebuilt = prices.iloc[0] * (1 + returns).cumprod()
    np.testing.assert_allclose(rebuilt.to_numpy(), prices.iloc[1:].to_numpy(), rtol=1e-12)
    # With start=, the first return is the one ending on start (it uses the price before).
    sliced = load_returns(prices, kind="prices", start=dates[10], end=dates[20])
    assert sliced.index[0] == dates[10] and len(sliced) == 11
    assert sliced.iloc[0, 0] == pytest.approx(prices.iloc[10, 0] / prices.iloc[9, 0] - 1)


def test_text_columns_are_skipped_by_default(tmp_path: Path) -> None:
    path = tmp_path / "with_text.csv"
    path.write_text("date,ticker,r\n2020-01-31,X,0.01\n2020-02-29,X,0.02\n2020-03-31,X,0.01\n")
    assert list(load_returns(path).columns) == ["r"]


# --------------------------------------------------------------------------------------------
# Users' data: errors
# --------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_value_names_column_and_row(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "date,a,b\n2020-01-31,0.01,0.02\n2020-02-29,0.01,\n2020-03-31,0.01,0.01\n"
        "2020-04-30,0.02,0.01\n",
    )
    with pytest.raises(
        DataError,
        match=r"column 'b' has 1 missing.*row 2 \(date 2020-02-29, line 3 of the file\): "
        r"empty.*dropna.*start='2020-03-31'",
    ):
        load_returns(path)
    assert len(load_returns(path, start="2020-03")) == 2
    assert list(load_returns(path, columns=["a"]).columns) == ["a"]


def test_non_numeric_value(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,a\n2020-01-31,0.01\n2020-02-29,abc\n2020-03-31,0.01\n")
    with pytest.raises(DataError, match=r"column 'a'.*row 2 \(date 2020-02-29.*'abc'"):
        load_returns(path)
    frame = pd.DataFrame(
        {"a": [0.01, np.nan, 0.02]}, index=pd.date_range("2020-01-31", periods=3, freq="ME")
    )
    with pytest.raises(DataError, match=r"DataFrame: column 'a'.*row 2 \(date 2020-02-29\)"):
        load_returns(frame)


def test_duplicate_and_unsorted_dates(tmp_path: Path) -> None:
    dup = _write(tmp_path, "date,a\n2020-01-31,0.01\n2020-02-29,0.01\n2020-02-29,0.02\n")
    with pytest.raises(DataError, match=r"row 3 \(date 2020-02-29.*repeats the date of row 2"):
        load_returns(dup)
    unsorted = _write(tmp_path, "date,a\n2020-03-31,0.01\n2020-01-31,0.01\n2020-02-29,0.02\n")
    with pytest.raises(DataError, match=r"strictly increasing.*row 2 .*is earlier than row 1"):
        load_returns(unsorted)


def test_bad_dates(tmp_path: Path) -> None:
    bad = _write(tmp_path, "date,a\n2020-01-31,0.01\nsoon,0.01\n2020-03-31,0.02\n")
    with pytest.raises(DataError, match=r"date column 'date', row 2.*cannot read 'soon'"):
        load_returns(bad)
    empty = _write(tmp_path, "date,a\n2020-01-31,0.01\n,0.01\n2020-03-31,0.02\n")
    with pytest.raises(DataError, match=r"date column 'date' is empty at row 2"):
        load_returns(empty)
    with pytest.raises(DataError, match="date_column 'when' is not a column"):
        load_returns(bad, date_column="when")


def test_nonpositive_price(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,spy,agg\n2020-01-02,100,50\n2020-01-03,101,0\n2020-01-06,99,51\n")
    with pytest.raises(
        DataError, match=r"column 'agg' has a price <= 0 at row 2 \(date 2020-01-03.*kind='returns'"
    ):
        load_returns(path, kind="prices")


def test_return_below_minus_100_percent(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,a\n2020-01-31,0.5\n2020-02-29,-3.2\n2020-03-31,0.4\n")
    with pytest.raises(
        DataError,
        match=r"column 'a' has a return of -3.2 at row 2 \(date 2020-02-29.*impossible.*"
        r"divide it by 100.*kind='prices'",
    ):
        load_returns(path)


def test_returns_in_percent(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,a\n2020-01-31,0.8\n2020-02-29,0.9\n2020-03-31,0.7\n")
    with pytest.raises(DataError, match=r"column 'a' does not look like decimal.*divide it by 100"):
        load_returns(path)
    spike = _write(tmp_path, "date,a\n2020-01-31,0.01\n2020-02-29,7.5\n2020-03-31,0.01\n", "s.csv")
    with pytest.raises(DataError, match=r"largest \|r\| = 7.5 at row 2.*kind='prices'"):
        load_returns(spike)
    prices = _write(tmp_path, "date,a\n2020-01-31,100\n2020-02-29,101\n2020-03-31,102\n", "p.csv")
    with pytest.raises(DataError, match="kind='prices'"):
        load_returns(prices)
    assert len(load_returns(prices, kind="prices")) == 2


def test_no_numeric_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,name\n2020-01-31,x\n2020-02-29,y\n")
    with pytest.raises(DataError, match=r"no numeric columns besides the date column 'date'"):
        load_returns(path)


def test_unknown_column_in_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,spy\n2020-01-31,0.01\n2020-02-29,0.02\n")
    with pytest.raises(DataError, match=r"Unknown column 'SPY'.*Did you mean 'spy'"):
        load_returns(path, columns=["SPY"])


def test_missing_file_and_bad_extension(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "returns.csv"
    with pytest.raises(DataError, match=r"File not found: .*nowhere/returns\.csv"):
        load_returns(missing)
    # The old binary Excel format is not read (.xlsx is: tests/test_data_excel.py).
    excel = _write(tmp_path, "not really excel", "returns.xls")
    with pytest.raises(
        DataError, match=r"Unsupported file .*returns\.xls'.*\.csv.*\.xlsx.*\.parquet"
    ):
        load_returns(excel)


def test_argument_errors() -> None:
    with pytest.raises(ConfigError, match="kind must be"):
        load_returns("ff3", kind="levels")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"start=.*is after end="):
        load_returns("ff3", start="2000", end="1990")
    with pytest.raises(ConfigError, match="not a date"):
        load_returns("ff3", start="someday")


# --------------------------------------------------------------------------------------------
# Resampling
# --------------------------------------------------------------------------------------------


def test_resample_ff3_to_annual() -> None:
    ff3 = load_dataset("ff3")
    annual = resample_returns(ff3, 1)
    # 1926 (6 months) and 2025 (7 months) are incomplete and dropped.
    assert annual.index[0] == pd.Timestamp("1927-12-31")
    assert annual.index[-1] == pd.Timestamp("2024-12-31")
    assert len(annual) == 98
    assert annual.attrs["periods_per_year"] == 1
    by_hand = (1 + ff3.loc["1931", "us_market_tr"]).prod() - 1
    assert annual.loc["1931-12-31", "us_market_tr"] == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(-0.438, abs=0.001)
    assert annual.loc["2008-12-31", "us_market_tr"] == pytest.approx(-0.367, abs=0.001)
    damodaran = load_dataset("damodaran", start="1928", end="2024")["sp500_tr"]
    corr = np.corrcoef(annual.loc["1928":, "us_market_tr"], damodaran)[0, 1]
    assert corr > 0.98


def test_resample_monthly_to_quarterly() -> None:
    ff3 = load_dataset("ff3", columns=["rf"])
    quarterly = resample_returns(ff3, 4)
    assert quarterly.index[0] == pd.Timestamp("1926-09-30")
    assert quarterly.index[-1] == pd.Timestamp("2025-06-30")  # 2025-Q3 has only July
    by_hand = (1 + ff3.loc["2000-04":"2000-06", "rf"]).prod() - 1
    assert quarterly.loc["2000-06-30", "rf"] == pytest.approx(by_hand, rel=1e-12)


def test_resample_daily_to_monthly_drops_partial_months() -> None:
    dates = pd.bdate_range("2020-01-15", "2020-06-17", name="date")
    daily = pd.DataFrame({"a": 0.001}, index=dates)
    monthly = resample_returns(daily, 12)
    assert list(monthly.index.strftime("%Y-%m-%d")) == [
        "2020-02-29",
        "2020-03-31",
        "2020-04-30",
        "2020-05-31",
    ]
    n_march = int(((dates >= "2020-03-01") & (dates <= "2020-03-31")).sum())
    assert monthly.loc["2020-03-31", "a"] == pytest.approx(1.001**n_march - 1)


def test_resample_same_frequency_is_copy() -> None:
    df = load_dataset("damodaran")
    same = resample_returns(df, 1)
    assert same is not df
    pd.testing.assert_frame_equal(same, df)


def test_resample_to_higher_frequency_fails() -> None:
    with pytest.raises(DataError, match=r"cannot be split.*scale them to the simulation step"):
        resample_returns(load_dataset("damodaran"), 12)


def test_resample_gap_in_monthly_data() -> None:
    ff3 = load_dataset("ff3", columns=["rf"], start="1990", end="1995")
    with_gap = ff3.drop(pd.Timestamp("1992-05-31"))
    with pytest.raises(DataError, match="1992 holds 11 of 12"):
        resample_returns(with_gap, 1)


@pytest.mark.skipif(not ETF_FILE.exists(), reason="ETF file is only present in CI")
def test_etf_daily_prices() -> None:
    returns = load_returns(ETF_FILE, kind="prices")
    assert len(returns) == 5246
    assert returns.shape[1] == 12
    assert returns.index[0] == pd.Timestamp("2004-11-19")
    assert returns.index[-1] == pd.Timestamp("2025-09-26")
    assert returns.attrs["periods_per_year"] == 252
    annual = resample_returns(returns, 1)
    assert annual.index[0] == pd.Timestamp("2005-12-31")  # 2004 starts in November
    assert annual.index[-1] == pd.Timestamp("2024-12-31")  # 2025 ends in September
    assert annual.loc["2008-12-31", "SPY"] == pytest.approx(-0.368, abs=0.001)
    assert annual.loc["2022-12-31", "SPY"] == pytest.approx(-0.182, abs=0.001)
    assert annual.loc["2008-12-31", "TLT"] == pytest.approx(0.340, abs=0.001)
    monthly = resample_returns(returns, 12)
    assert monthly.index[0] == pd.Timestamp("2004-12-31")
    assert monthly.index[-1] == pd.Timestamp("2025-08-31")


# --------------------------------------------------------------------------------------------
# Alignment
# --------------------------------------------------------------------------------------------


def test_align_monthly_datasets() -> None:
    joined = align_returns([load_dataset("ff3", columns=["rf"]), load_dataset("shiller")])
    assert list(joined.columns) == ["rf", "us_stocks_tr", "us_bonds_10y_tr", "cpi_inflation"]
    assert len(joined) == 1189
    assert joined.index[0] == pd.Timestamp("1926-07-31")
    assert joined.attrs == {"periods_per_year": 12, "source": "ff3 + shiller"}


def test_align_needs_same_frequency() -> None:
    ff3 = load_dataset("ff3", columns=["us_market_tr"])
    damodaran = load_dataset("damodaran", columns=["gold"])
    with pytest.raises(DataError, match=r"different frequencies.*resample_returns"):
        align_returns([ff3, damodaran])
    joined = align_returns([resample_returns(ff3, 1), damodaran])
    assert (joined.index[0], joined.index[-1], len(joined)) == (
        pd.Timestamp("1928-12-31"),
        pd.Timestamp("2024-12-31"),
        97,
    )


def test_align_without_overlap_names_ranges() -> None:
    early = load_dataset("ff3", columns=["rf"], end="1930")
    late = load_dataset("shiller", columns=["cpi_inflation"], start="2000")
    with pytest.raises(
        DataError, match=r"share 0 date.*ff3: 1926-07-31 .. 1930-12-31.*shiller: 2000-01-31"
    ):
        align_returns([early, late])
    with pytest.raises(DataError, match="Column 'rf' appears in frame 0 and frame 1"):
        align_returns([early, early])
