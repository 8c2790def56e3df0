"""Historical return data: the bundled datasets and users' own files.

Every loader returns the same tidy shape:

* a :class:`pandas.DatetimeIndex` named ``"date"``, strictly increasing, of period-END timestamps
  (a monthly ``"1871-02"`` becomes 1871-02-28, an annual ``1928`` becomes 1928-12-31; full dates
  such as daily ``2008-01-02`` are kept as given);
* one float64 column per asset, holding **simple returns per period as decimal fractions**
  (0.01 = 1 %), nominal, labelled by the date at which the period ends;
* ``df.attrs["periods_per_year"]`` (int: 252, 365, 52, 12, 4 or 1, or the value passed
  explicitly) and ``df.attrs["source"]`` (dataset name, file path or ``"DataFrame"``).

Errors in the data raise :class:`mcsim.errors.DataError` with a message that names the column,
the row and the fix. Row numbers in messages count data rows from 1 (the header row of a file
is not counted, so row ``n`` is line ``n + 1`` of a CSV file). A message quotes at most one cell
of a file's content besides the column it is about, cut to 20 characters (a path given by
mistake may point at a file that is not meant to be shown); it never passes on a parser's text,
which can hold a whole line.

The four bundled files (see ``mcsim/data/PROVENANCE.md`` for sources, checks and citations) are
read with :mod:`importlib.resources`, so they load from an installed wheel as well as from a
source checkout.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mcsim.errors import ConfigError, DataError

__all__ = [
    "BUNDLED",
    "DatasetInfo",
    "align_returns",
    "infer_periods_per_year",
    "list_datasets",
    "load_dataset",
    "load_returns",
    "resample_returns",
]

DateLike = str | int | _dt.date | np.datetime64 | pd.Timestamp
"""A date bound: ``"1926-07"``, ``"1950"``, ``1950``, ``"2008-01-02"`` or a timestamp."""

_DATA_PACKAGE = "mcsim.data"
_DATE_NAMES = ("date", "Date", "DATE", "year", "Year")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")

# periods_per_year -> pandas period frequency, for the frequencies resample_returns can produce.
_PERIOD_FREQ = {52: "W-FRI", 12: "M", 4: "Q", 1: "Y"}
_FREQ_NAME = {
    365: "calendar-daily",
    252: "daily",
    52: "weekly",
    12: "monthly",
    4: "quarterly",
    1: "annual",
}


# --------------------------------------------------------------------------------------------
# Bundled datasets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one bundled dataset.

    Attributes
    ----------
    name : str
        Name passed to :func:`load_dataset` / :func:`load_returns`.
    file : str
        File name inside the ``mcsim.data`` package.
    frequency : {"monthly", "annual"}
        Spacing of the rows.
    periods_per_year : int
        12 for monthly, 1 for annual data.
    first, last : pandas.Timestamp
        Period-end dates of the first and last rows.
    rows : int
        Number of data rows.
    columns : tuple of str
        Value columns (the date column excluded).
    kind : {"returns", "levels"}
        ``"returns"``: simple returns per period as decimal fractions. ``"levels"``: index
        levels, prices, CPI and yields, as stored (convert price columns with
        ``load_returns(name, kind="prices", columns=[...])``).
    description : str
        One-line summary.
    citation : str
        How to cite the source.
    date_column : str
        Name of the date column in the file.
    """

    name: str
    file: str
    frequency: Literal["monthly", "annual"]
    periods_per_year: int
    first: pd.Timestamp
    last: pd.Timestamp
    rows: int
    columns: tuple[str, ...]
    kind: Literal["returns", "levels"]
    description: str
    citation: str
    date_column: str = "date"


_SHILLER_CITATION = (
    "Robert J. Shiller, Irrational Exuberance data, 'U.S. Stock Markets 1871-Present and CAPE "
    "Ratio' (ie_data.xls, May-2026 edition), econ.yale.edu/~shiller"
)

BUNDLED: dict[str, DatasetInfo] = {
    "shiller": DatasetInfo(
        name="shiller",
        file="shiller_monthly_returns.csv",
        frequency="monthly",
        periods_per_year=12,
        first=pd.Timestamp("1871-02-28"),
        last=pd.Timestamp("2026-03-31"),
        rows=1862,
        columns=("us_stocks_tr", "us_bonds_10y_tr", "cpi_inflation"),
        kind="returns",
        description=(
            "US stocks (S&P Composite, with dividends) and 10-year Treasury total returns and CPI "
            "inflation, monthly since 1871 (Shiller; stock prices are monthly averages)"
        ),
        citation=_SHILLER_CITATION,
    ),
    "shiller_levels": DatasetInfo(
        name="shiller_levels",
        file="shiller_monthly_levels.csv",
        frequency="monthly",
        periods_per_year=12,
        first=pd.Timestamp("1871-01-31"),
        last=pd.Timestamp("2026-03-31"),
        rows=1863,
        columns=("sp500_price", "sp500_dividend", "sp500_earnings", "cpi", "gs10_yield"),
        kind="levels",
        description=(
            "S&P Composite price, annualised dividend and earnings, CPI and 10-year Treasury "
            "yield (decimal), monthly levels since 1871 (Shiller)"
        ),
        citation=_SHILLER_CITATION,
    ),
    "ff3": DatasetInfo(
        name="ff3",
        file="ff3_monthly.csv",
        frequency="monthly",
        periods_per_year=12,
        first=pd.Timestamp("1926-07-31"),
        last=pd.Timestamp("2025-07-31"),
        rows=1189,
        columns=("mkt_rf", "smb", "hml", "rf", "us_market_tr"),
        kind="returns",
        description=(
            "Fama/French 3 factors, 1-month T-bill (rf) and US market total return "
            "(us_market_tr = mkt_rf + rf), month-end to month-end since 1926-07"
        ),
        citation=(
            "Fama, E. F. and French, K. R. (1993), 'Common risk factors in the returns on stocks "
            "and bonds', Journal of Financial Economics 33(1), 3-56; Kenneth R. French Data "
            "Library, 'Fama/French 3 Factors' (monthly, CRSP 2025-07 vintage)"
        ),
    ),
    "damodaran": DatasetInfo(
        name="damodaran",
        file="damodaran_annual_returns.csv",
        frequency="annual",
        periods_per_year=1,
        first=pd.Timestamp("1928-12-31"),
        last=pd.Timestamp("2025-12-31"),
        rows=98,
        columns=(
            "sp500_tr",
            "us_small_cap_tr",
            "tbill_3m",
            "tbond_10y_tr",
            "baa_corp_bond_tr",
            "real_estate",
            "gold",
            "cpi_inflation",
        ),
        kind="returns",
        description=(
            "Annual US stocks, small caps, T-bills, T-bonds, Baa bonds, real estate (price only), "
            "gold and CPI inflation, calendar years 1928-2025 (Damodaran)"
        ),
        citation=(
            "Aswath Damodaran, Damodaran Online, 'Historical Returns on Stocks, Bonds and Bills' "
            "(histretSP.xls, January-2026 edition), NYU Stern"
        ),
        date_column="year",
    ),
}


def list_datasets() -> pd.DataFrame:
    """Describe the bundled datasets, one row each.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``file``, ``frequency`` ("monthly"/"annual"), ``periods_per_year``,
        ``first`` and ``last`` (period-end timestamps), ``rows``, ``columns`` (comma-separated
        value columns), ``kind`` ("returns"/"levels"), ``description`` and ``citation``.
    """
    records = [
        {
            "name": info.name,
            "file": info.file,
            "frequency": info.frequency,
            "periods_per_year": info.periods_per_year,
            "first": info.first,
            "last": info.last,
            "rows": info.rows,
            "columns": ", ".join(info.columns),
            "kind": info.kind,
            "description": info.description,
            "citation": info.citation,
        }
        for info in BUNDLED.values()
    ]
    return pd.DataFrame.from_records(records)


def _close_match(name: str, options: Sequence[str]) -> str | None:
    """The option closest to ``name`` (ignoring case), or None."""
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _unknown_dataset_error(name: str, *, as_path: bool = False) -> DataError:
    valid = ", ".join(repr(n) for n in BUNDLED)
    close = _close_match(name, list(BUNDLED))
    hint = f" Did you mean {close!r}?" if close else ""
    tail = (
        " It is not a file either; pass a path to a .csv or .parquet file, or a DataFrame."
        if as_path
        else ""
    )
    return DataError(f"Unknown dataset {name!r}.{hint} Valid names: {valid}.{tail}")


def load_dataset(
    name: str,
    columns: Sequence[str] | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """Load one bundled dataset as a tidy DataFrame.

    Parameters
    ----------
    name : str
        One of ``"shiller"``, ``"shiller_levels"``, ``"ff3"``, ``"damodaran"`` (see
        :func:`list_datasets`).
    columns : sequence of str, optional
        Columns to keep, in this order; all by default.
    start, end : str, int or timestamp, optional
        Inclusive bounds: ``"1926-07"`` (whole month), ``"1950"`` or ``1950`` (whole year),
        ``"2008-01-02"`` or a timestamp.

    Returns
    -------
    pandas.DataFrame
        Index ``"date"`` of period-end timestamps, float64 columns. For the ``"returns"``
        datasets, simple returns per period as decimal fractions (monthly or annual, per the
        dataset); ``"shiller_levels"`` holds levels as stored (index points, USD per index unit
        per year, CPI index, yield as a decimal per year). ``attrs["periods_per_year"]`` is 12 or
        1, ``attrs["source"]`` the dataset name and ``attrs["citation"]`` its citation.

    Raises
    ------
    DataError
        Unknown dataset or column, or fewer than 2 rows between ``start`` and ``end``.
    """
    info = BUNDLED.get(name) if isinstance(name, str) else None
    if info is None:
        raise _unknown_dataset_error(str(name))
    return _load_bundled(info, kind=info.kind, columns=columns, start=start, end=end, ppy=None)


def _load_bundled(
    info: DatasetInfo,
    *,
    kind: str,
    columns: Sequence[str] | None,
    start: DateLike | None,
    end: DateLike | None,
    ppy: int | None,
) -> pd.DataFrame:
    resource = resources.files(_DATA_PACKAGE).joinpath(info.file)
    with resource.open("r", encoding="utf-8") as fh:
        raw = pd.read_csv(fh, dtype={info.date_column: str})
    return _tidy(
        raw,
        date_source=info.date_column,
        label=f"bundled dataset {info.name!r} ({info.file})",
        is_file=True,
        kind=kind,
        columns=columns,
        start=start,
        end=end,
        periods_per_year=info.periods_per_year if ppy is None else ppy,
        attrs={"source": info.name, "citation": info.citation},
    )


# --------------------------------------------------------------------------------------------
# Users' data
# --------------------------------------------------------------------------------------------


def load_returns(
    source: str | Path | pd.DataFrame,
    *,
    kind: Literal["returns", "prices"] = "returns",
    date_column: str | None = None,
    columns: Sequence[str] | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    periods_per_year: int | None = None,
) -> pd.DataFrame:
    """Load and check historical returns from a bundled dataset, a file or a DataFrame.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A bundled dataset name (``"shiller"``, ``"ff3"``, ``"damodaran"``,
        ``"shiller_levels"`` with ``kind="prices"``), a path to a ``.csv`` (optionally
        ``.csv.gz``/``.bz2``/``.xz``/``.zip``) or ``.parquet`` file, or a DataFrame.
    kind : {"returns", "prices"}
        ``"returns"``: the values are simple returns per period as decimal fractions
        (0.01 = 1 %). ``"prices"``: price or total-return index levels (any positive unit);
        they are converted to simple returns ``p[t] / p[t-1] - 1`` and the first row is dropped.
    date_column : str, optional
        Column holding the dates. By default a column named date/Date/DATE/year/Year, else (for
        a DataFrame) its DatetimeIndex or PeriodIndex, else the first column. Dates may be ISO
        dates (``2008-01-02``), months (``2008-01`` or ``200801``, labelled at month end) or
        integer years (labelled at 31 December). Ignored for bundled datasets.
    columns : sequence of str, optional
        Value columns to keep, in this order. By default every column that holds numbers
        (columns with no numeric value at all, such as a text ``ticker`` column, are skipped).
    start, end : str, int or timestamp, optional
        Inclusive bounds on the dates of the returned returns: ``"1926-07"`` (whole month),
        ``"1950"``/``1950`` (whole year), ``"2008-01-02"`` or a timestamp. With
        ``kind="prices"`` the price just before ``start`` is used, so the first return is the
        one ending on or after ``start``. Values outside the bounds are not checked.
    periods_per_year : int, optional
        Number of return periods per year (252 for trading days, 12 for months, ...). Inferred
        from the dates by :func:`infer_periods_per_year` when not given.

    Returns
    -------
    pandas.DataFrame
        Index ``"date"`` (strictly increasing timestamps), float64 columns of simple returns
        per period as decimal fractions, ``attrs["periods_per_year"]`` and ``attrs["source"]``
        (dataset name, file path or ``"DataFrame"``).

    Raises
    ------
    DataError
        Unknown dataset, missing file, unsupported file type, unknown or non-numeric columns,
        missing or non-numeric values, dates that are unparseable, duplicated or not increasing,
        prices <= 0, returns <= -100 % or that look like percent, fewer than 2 returns after
        slicing, or a date spacing that cannot be recognised (pass ``periods_per_year``).
    ConfigError
        Invalid ``kind``, ``start``/``end`` or ``periods_per_year`` argument.
    """
    if kind not in ("returns", "prices"):
        raise ConfigError(f"kind must be 'returns' or 'prices', not {kind!r}.")
    if periods_per_year is not None:
        if (
            isinstance(periods_per_year, bool)
            or not isinstance(periods_per_year, int | np.integer)
            or periods_per_year < 1
        ):
            raise ConfigError(
                f"periods_per_year must be a positive integer (e.g. 252, 12, 1), "
                f"not {periods_per_year!r}."
            )
        periods_per_year = int(periods_per_year)

    if isinstance(source, pd.DataFrame):
        return _load_frame(
            source,
            kind=kind,
            date_column=date_column,
            columns=columns,
            start=start,
            end=end,
            periods_per_year=periods_per_year,
        )
    if isinstance(source, str) and source in BUNDLED:
        info = BUNDLED[source]
        if info.kind == "levels" and kind == "returns":
            raise DataError(
                f"Dataset {source!r} holds levels ({', '.join(info.columns)}), not returns. "
                f"Pass kind='prices' with the price-like columns, e.g. "
                f"load_returns({source!r}, kind='prices', columns=['sp500_price', 'cpi'])."
            )
        return _load_bundled(
            info, kind=kind, columns=columns, start=start, end=end, ppy=periods_per_year
        )
    if not isinstance(source, str | Path):
        raise ConfigError(
            "source must be a bundled dataset name, a path to a .csv or .parquet file, or a "
            f"pandas DataFrame, not {type(source).__name__}."
        )
    return _load_file(
        Path(source),
        raw_source=source,
        kind=kind,
        date_column=date_column,
        columns=columns,
        start=start,
        end=end,
        periods_per_year=periods_per_year,
    )


def _load_file(
    path: Path,
    *,
    raw_source: str | Path,
    kind: str,
    date_column: str | None,
    columns: Sequence[str] | None,
    start: DateLike | None,
    end: DateLike | None,
    periods_per_year: int | None,
) -> pd.DataFrame:
    name = path.name.lower()
    is_csv = name.endswith(_CSV_SUFFIXES)
    is_parquet = name.endswith(_PARQUET_SUFFIXES)
    if not path.exists():
        looks_like_path = isinstance(raw_source, Path) or bool(
            path.suffix or "/" in str(raw_source) or "\\" in str(raw_source)
        )
        if not looks_like_path:
            raise _unknown_dataset_error(str(raw_source), as_path=True)
        raise DataError(
            f"File not found: {str(path)!r} (absolute path {str(path.resolve())!r}). "
            "Check the path and the working directory."
        )
    if path.is_dir() or not (is_csv or is_parquet):
        raise DataError(
            f"Unsupported file {str(path)!r}: expected a .csv (optionally compressed: "
            ".csv.gz, .csv.bz2, .csv.xz, .csv.zip) or .parquet file. Convert it, or load it "
            "with pandas and pass the DataFrame."
        )
    label = f"file {str(path)!r}"
    if is_parquet:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            # Not the reader's own text: it can quote bytes of the file.
            raise DataError(
                f"Cannot read {label} as Parquet ({type(exc).__name__}): the file is damaged or "
                "not a Parquet file. Write it again with DataFrame.to_parquet, or save it as CSV."
            ) from exc
        return _load_frame(
            frame,
            kind=kind,
            date_column=date_column,
            columns=columns,
            start=start,
            end=end,
            periods_per_year=periods_per_year,
            label=label,
            source=str(path),
            typed=True,
        )
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise _csv_error(exc, label) from exc
    names = [str(c) for c in header.columns]
    date_col = _pick_date_column(names, date_column, label=label, from_file=True)
    try:
        raw = pd.read_csv(path, dtype={date_col: str}, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise _csv_error(exc, label) from exc
    raw.columns = [str(c) for c in raw.columns]
    return _tidy(
        raw,
        date_source=date_col,
        label=label,
        is_file=True,
        kind=kind,
        columns=columns,
        start=start,
        end=end,
        periods_per_year=periods_per_year,
        attrs={"source": str(path)},
        date_guessed=date_column is None and date_col not in _DATE_NAMES,
        from_file=True,
    )


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _csv_error(exc: Exception, label: str) -> DataError:
    """A reader failure as a DataError that names the line but quotes none of the file.

    pandas' and Python's own messages can hold part of a line (or bytes of a binary file), so
    only the numbers are taken from them.
    """
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(
            f"{label} is empty: a CSV file needs a header line (the date column and one name "
            "per series) and at least 2 data rows."
        )
    if isinstance(exc, UnicodeDecodeError):
        return DataError(
            f"{label} is not UTF-8 text (byte {exc.start} cannot be decoded): it may not be a "
            "CSV file at all. Save it as a UTF-8 CSV file."
        )
    m = _FIELDS_RE.search(str(exc))
    if m is not None:
        expected, line, seen = m.groups()
        return DataError(
            f"Cannot read {label} as CSV: line {line} has {seen} fields but the header line has "
            f"{expected}. Check the delimiter (a comma is expected) and the quotes on that line."
        )
    return DataError(
        f"Cannot read {label} as CSV ({type(exc).__name__}): the lines cannot be split into "
        "fields. Check that it is comma-separated text and that every quote is closed."
    )


def _pick_date_column(
    names: list[str], date_column: str | None, *, label: str, from_file: bool
) -> str:
    if date_column is not None:
        if date_column not in names:
            raise DataError(
                f"date_column {date_column!r} is not a column of {label}. "
                + _available(names, from_file=from_file, besides_date=False)
            )
        return date_column
    for candidate in _DATE_NAMES:
        if candidate in names:
            return candidate
    if not names:
        raise DataError(f"{label} has no columns.")
    return names[0]


def _load_frame(
    frame: pd.DataFrame,
    *,
    kind: str,
    date_column: str | None,
    columns: Sequence[str] | None,
    start: DateLike | None,
    end: DateLike | None,
    periods_per_year: int | None,
    label: str = "DataFrame",
    source: str = "DataFrame",
    typed: bool = False,
) -> pd.DataFrame:
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"{label} has two columns named {_cell(dup)}; rename one of them.")
    raw = frame.copy()
    raw.columns = [str(c) for c in raw.columns]
    names = list(raw.columns)
    index_name = None if raw.index.name is None else str(raw.index.name)
    date_source: str | None
    guessed = False
    if date_column is not None:
        if date_column in names:
            date_source = date_column
        elif index_name == date_column:
            date_source = None
        else:
            raise DataError(
                f"date_column {date_column!r} is neither a column nor the index name of {label}. "
                + _available(names, from_file=typed, besides_date=False)
            )
    elif any(n in names for n in _DATE_NAMES):
        date_source = next(n for n in _DATE_NAMES if n in names)
    elif isinstance(raw.index, pd.DatetimeIndex | pd.PeriodIndex) or index_name in _DATE_NAMES:
        date_source = None
    elif names:
        date_source = names[0]
        guessed = True
    else:
        raise DataError(f"{label} has no columns.")
    raw = raw.reset_index(drop=date_source is not None)
    if date_source is None:
        date_source = str(raw.columns[0])
        raw.columns = [date_source, *raw.columns[1:]]
    return _tidy(
        raw.reset_index(drop=True),
        date_source=date_source,
        label=label,
        is_file=False,
        kind=kind,
        columns=columns,
        start=start,
        end=end,
        periods_per_year=periods_per_year,
        attrs={"source": source},
        date_guessed=guessed,
        from_file=typed,
        typed=typed,
    )


# --------------------------------------------------------------------------------------------
# Parsing and checks
# --------------------------------------------------------------------------------------------


def _where(i: int, dates: pd.DatetimeIndex | None, is_file: bool) -> str:
    """Describe data row ``i`` (0-based) for a message."""
    parts = []
    if dates is not None:
        parts.append(f"date {_fmt_date(dates[i])}")
    if is_file:
        parts.append(f"line {i + 2} of the file")
    extra = f" ({', '.join(parts)})" if parts else ""
    return f"row {i + 1}{extra}"


def _fmt_date(ts: pd.Timestamp) -> str:
    if ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return str(ts)


_CELL_CHARS = 20


def _cell(value: Any) -> str:
    """A cell of the data (or a column name) quoted for a message: at most 20 characters."""
    text = str(value)
    if len(text) > _CELL_CHARS:
        text = text[:_CELL_CHARS] + "..."
    return repr(text)


def _available(names: Sequence[str], *, from_file: bool, besides_date: bool = True) -> str:
    """The sentence that tells which columns exist, without listing a file's header cells."""
    if from_file:
        other = " besides the date column" if besides_date else ""
        return f"The file has {len(names)} column(s){other}; check the names on its header line."
    return f"Available columns: {', '.join(_cell(n) for n in names)}."


_YEAR_RE = re.compile(r"^\d{4}$")
_MONTH_RE = re.compile(r"^(\d{4})[-/](\d{1,2})$")
_YYYYMM_RE = re.compile(r"^(\d{4})(\d{2})$")


def _parse_dates(
    values: pd.Series, column: str, *, label: str, is_file: bool, guessed: bool = False
) -> pd.DatetimeIndex:
    """Parse a date column into a tz-naive, nanosecond DatetimeIndex of period-end dates."""
    fix = (
        "Use ISO dates (YYYY-MM-DD), months (YYYY-MM) or integer years, or pass date_column= "
        "to name the date column."
    )
    if guessed:
        fix += (
            " (No column is named date/Date/DATE/year/Year, so the first column was taken as "
            "the dates.)"
        )
    # A guessed column is named by position: its name is a cell of the file's first line, and
    # a message quotes at most one cell (the bad value).
    what = "the first column (taken as dates)" if guessed else f"date column {_cell(column)}"
    dtype = values.dtype
    if isinstance(dtype, pd.PeriodDtype):
        parsed = pd.PeriodIndex(values).to_timestamp(how="end").normalize()
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        parsed = pd.DatetimeIndex(values)
        if parsed.tz is not None:
            parsed = parsed.tz_localize(None)
    else:
        if pd.api.types.is_bool_dtype(dtype):
            raise DataError(f"{label}: {what} holds booleans, not dates. {fix}")
        if pd.api.types.is_numeric_dtype(dtype):
            num = values.to_numpy(dtype="float64", na_value=np.nan)
            finite = np.isfinite(num)
            not_int = finite & (num != np.round(num))
            if not_int.any():
                i = int(np.flatnonzero(not_int)[0])
                raise DataError(
                    f"{label}: {what}, {_where(i, None, is_file)}: "
                    f"value {float(num[i])!r} is not a date or a year. {fix}"
                )
            text = pd.Series(
                [str(int(v)) if f else None for v, f in zip(num, finite, strict=True)],
                dtype=object,
            )
        else:
            text = pd.Series(
                [None if _is_missing(v) else str(v).strip() for v in values], dtype=object
            )
            text[text == ""] = None
        missing = text.isna().to_numpy()
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"{label}: {what} is empty at {_where(i, None, is_file)}. "
                "Drop that row or fill in its date."
            )
        parsed = _parse_date_strings(text, what, label=label, is_file=is_file, fix=fix)
    missing = np.asarray(parsed.isna())
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{label}: {what} is empty at {_where(i, None, is_file)}. "
            "Drop that row or fill in its date."
        )
    try:
        parsed = parsed.as_unit("ns")
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as exc:
        raise DataError(
            f"{label}: {what} has dates outside 1678-2261, the range pandas can hold. "
            "Drop those rows, or check that the column holds dates."
        ) from exc
    return pd.DatetimeIndex(parsed, name="date")


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _parse_date_strings(
    text: pd.Series, what: str, *, label: str, is_file: bool, fix: str
) -> pd.DatetimeIndex:
    strings = text.astype(str)
    if strings.str.fullmatch(_YEAR_RE).all():
        years = pd.to_datetime(strings, format="%Y")
        return pd.DatetimeIndex(years + pd.offsets.YearEnd(0))
    for regex in (_MONTH_RE, _YYYYMM_RE):
        parts = strings.str.extract(regex)
        if parts.notna().all().all():
            months = parts[1].astype(int)
            bad = ~months.between(1, 12)
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(
                    f"{label}: {what}, {_where(i, None, is_file)}: "
                    f"{_cell(strings.iloc[i])} has month {months.iloc[i]}, not 1-12. {fix}"
                )
            first = pd.to_datetime(
                parts[0] + "-" + months.map("{:02d}".format) + "-01", format="%Y-%m-%d"
            )
            return pd.DatetimeIndex(first + pd.offsets.MonthEnd(0))
    parsed = pd.to_datetime(strings, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{label}: {what}, {_where(i, None, is_file)}: "
            f"cannot read {_cell(strings.iloc[i])} as a date. {fix}"
        )
    result = pd.DatetimeIndex(parsed)
    if result.tz is not None:
        result = result.tz_localize(None)
    return result


def _check_increasing(dates: pd.DatetimeIndex, *, label: str, is_file: bool) -> None:
    values = dates.asi8
    bad = np.flatnonzero(values[1:] <= values[:-1])
    if bad.size == 0:
        return
    i = int(bad[0]) + 1
    what = "repeats the date of" if values[i] == values[i - 1] else "is earlier than"
    raise DataError(
        f"{label}: dates must be strictly increasing, but {_where(i, dates, is_file)} {what} "
        f"row {i} ({_fmt_date(dates[i - 1])}). Sort the rows by date and remove duplicated "
        "dates (e.g. df.sort_values('date').drop_duplicates('date', keep='last'))."
    )


def _parse_bound(value: DateLike | None, side: Literal["start", "end"]) -> pd.Timestamp | None:
    """Turn a start/end argument into an inclusive timestamp bound."""
    if value is None:
        return None
    period: pd.Period | None = None
    if isinstance(value, bool):
        raise ConfigError(f"{side}= must be a date, a month or a year, not {value!r}.")
    if isinstance(value, int | np.integer):
        period = pd.Period(year=int(value), freq="Y")
    elif isinstance(value, str):
        text = value.strip()
        if _YEAR_RE.fullmatch(text):
            period = pd.Period(year=int(text), freq="Y")
        elif m := _MONTH_RE.fullmatch(text):
            month = int(m.group(2))
            if not 1 <= month <= 12:
                raise ConfigError(f"{side}={value!r} has month {month}, not 1-12.")
            period = pd.Period(year=int(m.group(1)), month=month, freq="M")
    if period is not None:
        ts = period.start_time if side == "start" else period.end_time
        return pd.Timestamp(ts).as_unit("ns")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{side}={value!r} is not a date: use e.g. '1926-07', '1950', 1950 or '2008-01-02'."
        ) from exc
    if ts is pd.NaT or pd.isna(ts):
        raise ConfigError(f"{side}= must be a date, not {value!r}.")
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return ts


def _tidy(
    raw: pd.DataFrame,
    *,
    date_source: str,
    label: str,
    is_file: bool,
    kind: str,
    columns: Sequence[str] | None,
    start: DateLike | None,
    end: DateLike | None,
    periods_per_year: int | None,
    attrs: dict[str, Any],
    date_guessed: bool = False,
    from_file: bool = False,
    typed: bool = False,
) -> pd.DataFrame:
    """Parse, select, slice, check and convert a raw table; see load_returns.

    ``from_file``: the table is a user's file, so messages do not list its header cells.
    ``typed``: it comes from a typed format (Parquet), so text columns are not parsed as
    numbers the way a CSV file's cells are.
    """
    min_rows = 3 if kind == "prices" else 2
    if len(raw) == 0:
        unit = "rows of prices (2 returns)" if kind == "prices" else "rows of returns"
        raise DataError(
            f"{label} has no data rows, only a header line: at least {min_rows} {unit} are "
            "needed (and more to fit a model). Check that the right file is named."
        )
    dates = _parse_dates(
        raw[date_source], date_source, label=label, is_file=is_file, guessed=date_guessed
    )
    _check_increasing(dates, label=label, is_file=is_file)

    candidates = [c for c in raw.columns if c != date_source]
    numeric = {c: pd.to_numeric(raw[c], errors="coerce").astype("float64") for c in candidates}
    if columns is None:
        selected = [c for c in candidates if numeric[c].notna().any()]
        if typed:
            _check_typed(raw, selected, label=label)
        if not selected:
            date_name = (
                "the first column" if date_guessed else f"the date column {_cell(date_source)}"
            )
            raise DataError(
                f"{label} has no numeric columns besides {date_name} "
                f"({len(raw.columns)} column(s) in all). Check the delimiter "
                "(a comma is expected) and that the values are plain numbers."
            )
    else:
        if isinstance(columns, str):
            columns = [columns]
        selected = [str(c) for c in columns]
        for c in selected:
            if c not in numeric:
                close = _close_match(c, candidates)
                hint = f" Did you mean {_cell(close)}?" if close else ""
                raise DataError(
                    f"Unknown column {c!r} in {label}.{hint} "
                    + _available(candidates, from_file=from_file)
                )
        if len(set(selected)) != len(selected):
            dup = next(c for c in selected if selected.count(c) > 1)
            raise DataError(f"Column {dup!r} is requested twice in columns=.")
        if not selected:
            raise DataError("columns= is empty: name at least one column.")
        if typed:
            _check_typed(raw, selected, label=label)

    lo = _parse_bound(start, "start")
    hi = _parse_bound(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"start={start!r} is after end={end!r}.")
    in_range = np.ones(len(dates), dtype=bool)
    if lo is not None:
        in_range &= np.asarray(dates >= lo)
    if hi is not None:
        in_range &= np.asarray(dates <= hi)
    rows = np.flatnonzero(in_range)
    if kind == "prices" and rows.size and rows[0] > 0:
        rows = np.concatenate([[rows[0] - 1], rows])  # the price before the first return

    if rows.size < min_rows:
        bounds = f" between start={start!r} and end={end!r}" if (start or end) else ""
        unit = "prices (2 returns)" if kind == "prices" else "rows"
        raise DataError(
            f"{label} has {rows.size} row(s){bounds}; at least {min_rows} {unit} are needed. "
            f"The data cover {_fmt_date(dates[0])} .. {_fmt_date(dates[-1])}"
            + ("; widen start/end." if (start or end) else ".")
        )

    for c in selected:
        vals = numeric[c].to_numpy()[rows]
        bad = ~np.isfinite(vals)
        if bad.any():
            first = int(rows[np.flatnonzero(bad)[0]])
            last = int(rows[np.flatnonzero(bad)[-1]])
            raw_value = raw[c].iloc[first]
            shown = "empty (missing)" if _is_missing(raw_value) else _cell(raw_value)
            after = last + (2 if kind == "prices" else 1)
            start_hint = (
                f", or pass start='{_fmt_date(dates[after])}' (or later) to begin after them"
                if after < len(dates)
                else ""
            )
            n_bad = int(bad.sum())
            raise DataError(
                f"{label}: column {_cell(c)} has {n_bad} missing or non-numeric value(s); the "
                f"first is at {_where(first, dates, is_file)}: {shown}. Drop or fill these rows "
                f"(e.g. df.dropna(), or df.ffill() for prices){start_hint}."
            )

    values = np.column_stack([numeric[c].to_numpy()[rows] for c in selected])
    out_dates = dates[rows]
    if kind == "prices":
        nonpos = values <= 0
        if nonpos.any():
            r, j = np.argwhere(nonpos)[0]
            raise DataError(
                f"{label}: column {_cell(selected[j])} has a price <= 0 at "
                f"{_where(int(rows[r]), dates, is_file)}: {float(values[r, j])!r}. Prices and "
                "index levels must be positive; if the column holds returns, pass kind='returns'."
            )
        values = values[1:] / values[:-1] - 1.0
        out_dates = out_dates[1:]
        rows = rows[1:]
    elif kind == "returns":
        _check_returns(values, selected, rows, dates, label=label, is_file=is_file)

    _check_spacing(pd.DatetimeIndex(out_dates), rows, dates, label=label, is_file=is_file)
    out = pd.DataFrame(values, index=pd.DatetimeIndex(out_dates, name="date"), columns=selected)
    out = out.astype("float64")
    if periods_per_year is None:
        periods_per_year = infer_periods_per_year(out.index)
    out.attrs = {"periods_per_year": int(periods_per_year), **attrs}
    return out


def _check_returns(
    values: np.ndarray,
    names: list[str],
    rows: np.ndarray,
    dates: pd.DatetimeIndex,
    *,
    label: str,
    is_file: bool,
) -> None:
    for j, c in enumerate(names):
        col = values[:, j]
        low = np.flatnonzero(col <= -1.0)
        if low.size:
            r = int(low[0])
            raise DataError(
                f"{label}: column {_cell(c)} has a return of {float(col[r])!r} at "
                f"{_where(int(rows[r]), dates, is_file)}: a simple return of -100 % or below is "
                "impossible. Returns must be decimal fractions (0.01 = 1 %): if the column holds "
                "percent, divide it by 100; if it holds prices or index levels, pass "
                "kind='prices'."
            )
        abs_col = np.abs(col)
        median = float(np.median(abs_col))
        r_max = int(np.argmax(abs_col))
        if median > 0.5 or abs_col[r_max] > 5.0:
            raise DataError(
                f"{label}: column {_cell(c)} does not look like decimal returns: median |r| = "
                f"{median:.4g}, largest |r| = {abs_col[r_max]:.4g} at "
                f"{_where(int(rows[r_max]), dates, is_file)}. Returns must be decimal fractions "
                "(0.01 = 1 %): if the column holds percent, divide it by 100; if it holds prices "
                "or index levels, pass kind='prices'."
            )


def _check_typed(raw: pd.DataFrame, selected: list[str], *, label: str) -> None:
    """Refuse value columns of a typed file (Parquet) that are stored as text.

    A CSV file is all text, so its cells are parsed as numbers. A Parquet column stored as
    strings says the writer did not mean numbers (or lost their type on the way): parsing it
    silently would hide that, and unparseable cells would turn into missing values.
    """
    for c in selected:
        dtype = raw[c].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            continue
        raise DataError(
            f"{label}: column {_cell(c)} is stored as {dtype} (text), not as numbers. Parquet "
            "keeps each column's type, so values must be stored as float: convert the column "
            "before writing, e.g. df[col] = df[col].astype('float64'); df.to_parquet(path)."
        )


# Per frequency (periods per year): the range of gaps between consecutive dates, in days, that
# the frequency's own calendar produces. Trading days skip weekends and holidays, and markets
# have closed for up to a week (2001-09-11); month ends are 28-31 days apart (20 leaves room for
# data labelled by the last trading day or the first of the month); a quarter is 89-92 days; a
# year 365-366 (300 for first-trading-day labels).
_NORMAL_GAP_DAYS = {
    365: (0.5, 7.5),
    252: (0.5, 7.5),
    52: (3.5, 10.5),
    12: (20.0, 35.5),
    4: (60.0, 100.0),
    1: (300.0, 380.0),
}
# A run of this many consecutive gaps longer than a period is a coarser spacing, not missing
# data: a single long gap is a missing stretch (accepted, as a missing month always was).
_LONG_RUN = 3


def _gap_class(median: float) -> int | None:
    """The periods per year whose spacing the median gap (in days) matches, or None."""
    if 0.5 <= median <= 2.0:
        return 252
    for lo, hi, ppy in ((5, 9, 52), (26, 35, 12), (80, 100, 4), (350, 380, 1)):
        if lo <= median <= hi:
            return ppy
    return None


def _check_spacing(
    out_dates: pd.DatetimeIndex,
    rows: np.ndarray,
    dates: pd.DatetimeIndex,
    *,
    label: str,
    is_file: bool,
) -> None:
    """Refuse dates whose spacing changes, such as monthly rows followed by daily ones.

    Parameters
    ----------
    out_dates : pandas.DatetimeIndex
        Dates of the returns that will be used, increasing.
    rows : ndarray of int
        Data row (0-based) of each of ``out_dates``, for messages.
    dates : pandas.DatetimeIndex
        Dates of every data row, for messages.

    Raises
    ------
    DataError
        Gaps shorter than the data's frequency allows (finer rows mixed in), or a run of
        consecutive gaps longer than one period (coarser rows), naming where it starts and ends.
    """
    if len(out_dates) < 3:
        return
    gaps = np.diff(out_dates.asi8) / 86_400e9
    median = float(np.median(gaps))
    ppy = _gap_class(median)
    lo, hi = _NORMAL_GAP_DAYS[ppy] if ppy is not None else (0.6 * median, 1.6 * median)
    spacing = _freq_name(ppy) if ppy is not None else f"{median:.3g}-day-spaced"
    short = gaps < lo
    long = gaps > hi
    first = _first_run(short, 1)
    kind = "shorter"
    long_first = _first_run(long, _LONG_RUN)
    if first is None or (long_first is not None and long_first[0] < first[0]):
        first, kind = long_first, "longer"
    if first is None:
        return
    a, b = first  # gaps a..b (inclusive) are off; gap k runs from row rows[k] to rows[k + 1]
    seen = gaps[a : b + 1]
    # The first odd row ends the first off gap, except when finer rows follow a missing
    # stretch (a long gap, then short ones): then the short gaps' first row is already odd.
    begin = a if kind == "shorter" and a > 0 and long[a - 1] else a + 1
    keep = (
        f"end='{_fmt_date(dates[int(rows[begin]) - 1])}' for the rows before the change, or "
        if int(rows[begin]) > 0
        else ""
    )
    days = "day" if median == 1 else "days"
    raise DataError(
        f"{label}: the spacing of the dates changes. Most rows are {spacing} (the median gap "
        f"is {median:.3g} {days}), but from {_where(int(rows[begin]), dates, is_file)} to "
        f"{_where(int(rows[b + 1]), dates, is_file)} the dates are {seen.min():g}-{seen.max():g} "
        f"days apart, {kind} than {spacing} data allows ({lo:g}-{hi:g} days). Rows of "
        "different frequencies cannot be read as one series of returns: keep one frequency "
        f"({keep}start=/end= around the other part), or compound the finer rows to the "
        "coarser frequency first with resample_returns."
    )


def _first_run(flags: np.ndarray, min_length: int) -> tuple[int, int] | None:
    """First and last index of the first run of at least ``min_length`` True values."""
    k = 0
    n = len(flags)
    while k < n:
        if not flags[k]:
            k += 1
            continue
        end = k
        while end + 1 < n and flags[end + 1]:
            end += 1
        if end - k + 1 >= min_length:
            return k, end
        k = end + 1
    return None


# --------------------------------------------------------------------------------------------
# Frequency
# --------------------------------------------------------------------------------------------


def infer_periods_per_year(index: pd.DatetimeIndex) -> int:
    """Infer the number of return periods per year from the spacing of dates.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        At least two increasing dates.

    Returns
    -------
    int
        252 for trading days (median spacing 1-2 days, no weekend dates), 365 for calendar
        days (weekend dates present), 52 for weeks (5-9 days), 12 for months (26-35 days), 4 for
        quarters (80-100 days) or 1 for years (350-380 days).

    Raises
    ------
    DataError
        Fewer than two dates, or a median spacing that matches none of these frequencies; pass
        ``periods_per_year=`` explicitly to :func:`load_returns` then.
    """
    dates = pd.DatetimeIndex(index)
    if len(dates) < 2:
        raise DataError(
            f"Cannot infer the frequency from {len(dates)} date(s); at least 2 are needed."
        )
    ns = np.sort(dates.as_unit("ns").asi8)
    gaps = np.diff(ns) / 86_400e9
    median = float(np.median(gaps))
    if 0.5 <= median <= 2.0:
        weekend_share = float(np.mean(dates.day_of_week >= 5))
        return 365 if weekend_share > 0.1 else 252
    for lo, hi, ppy in ((5, 9, 52), (26, 35, 12), (80, 100, 4), (350, 380, 1)):
        if lo <= median <= hi:
            return ppy
    raise DataError(
        f"Cannot recognise the frequency of the dates ({_fmt_date(dates[0])} .. "
        f"{_fmt_date(dates[-1])}): the median spacing is {median:.3g} days, which is not daily, "
        "weekly, monthly, quarterly or annual. Pass periods_per_year= explicitly "
        "(e.g. load_returns(..., periods_per_year=26))."
    )


def _periods_per_year_of(frame: pd.DataFrame) -> int:
    ppy = frame.attrs.get("periods_per_year")
    if ppy is None:
        return infer_periods_per_year(frame.index)
    return int(ppy)


def _require_returns_frame(frame: Any, what: str) -> None:
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(
            f"{what} must be a DataFrame with a DatetimeIndex (as returned by load_returns)."
        )
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise DataError(f"{what}: the dates must be strictly increasing; sort and deduplicate.")


def resample_returns(returns: pd.DataFrame, periods_per_year: int) -> pd.DataFrame:
    """Compound simple returns to a lower frequency.

    Each output value is ``prod(1 + r) - 1`` over the input periods whose dates fall in the
    output period. Output dates are period ends: the Friday of the week (52), the last day of
    the month (12), of the quarter (4) or of the calendar year (1).

    Incomplete first and last periods are dropped: with monthly or quarterly input, a period
    must hold every month/quarter (e.g. 12 months for a year); with daily or weekly input, the
    first date must fall within a few days of the period's start (3 days for trading days, 6
    for weekly data) and the last date within as many days of its end. Monthly or quarterly
    input with a missing month/quarter inside the range raises an error. Weekly returns are
    assigned to the period that contains their date.

    Parameters
    ----------
    returns : pandas.DataFrame
        Simple returns per period as decimal fractions, DatetimeIndex of period ends (as from
        :func:`load_returns`). Its frequency is ``returns.attrs["periods_per_year"]`` if set,
        else inferred from the dates.
    periods_per_year : {52, 12, 4, 1}
        Target frequency: weekly, monthly, quarterly or annual.

    Returns
    -------
    pandas.DataFrame
        Compounded simple returns per target period (decimal fractions), index ``"date"``,
        ``attrs["periods_per_year"]`` set to the target. Same frequency: a copy.

    Raises
    ------
    DataError
        Target frequency higher than the data's (returns cannot be split by compounding),
        missing values, a gap inside monthly/quarterly data, or no complete target period.
    ConfigError
        Target frequency not one of 52, 12, 4, 1.
    """
    _require_returns_frame(returns, "returns")
    source_ppy = _periods_per_year_of(returns)
    target = periods_per_year
    if isinstance(target, bool) or not isinstance(target, int | np.integer) or target < 1:
        raise ConfigError(f"periods_per_year must be a positive integer, not {target!r}.")
    target = int(target)
    if target == source_ppy:
        out = returns.copy()
        out.attrs = dict(returns.attrs)
        out.attrs["periods_per_year"] = source_ppy
        return out
    if target > source_ppy:
        raise DataError(
            f"Cannot resample {_freq_name(source_ppy)} returns ({source_ppy} per year) to a "
            f"higher frequency ({target} per year): a compounded return cannot be split into "
            "shorter periods. Load higher-frequency data instead; the models fit annual moments "
            "and scale them to the simulation step, so the data need not match the step."
        )
    if target not in _PERIOD_FREQ:
        raise ConfigError(
            f"periods_per_year={target} is not supported for resampling: use 52 (weekly), "
            "12 (monthly), 4 (quarterly) or 1 (annual)."
        )
    if returns.isna().to_numpy().any():
        col = returns.columns[returns.isna().any()][0]
        i = int(np.flatnonzero(returns[col].isna().to_numpy())[0])
        raise DataError(
            f"returns: column {col!r} is missing at row {i + 1} "
            f"(date {_fmt_date(returns.index[i])}); drop or fill it before resampling."
        )

    index = pd.DatetimeIndex(returns.index)
    periods = index.to_period(_PERIOD_FREQ[target])
    grouped = (1.0 + returns.astype("float64")).groupby(periods)
    compounded = grouped.prod() - 1.0
    counts = grouped.size()
    keep = np.ones(len(compounded), dtype=bool)

    if source_ppy in (12, 4):
        sub = index.to_period("M" if source_ppy == 12 else "Q")
        per_group = pd.Series(sub, index=periods).groupby(level=0).nunique()
        expected = source_ppy // target
        unit = "month" if source_ppy == 12 else "quarter"
        for k, (period, n) in enumerate(per_group.items()):
            if counts.iloc[k] != n:
                raise DataError(
                    f"returns: two rows fall in the same {unit} within {period}; "
                    f"one {unit} per row is expected."
                )
            if n != expected and 0 < k < len(per_group) - 1:
                raise DataError(
                    f"returns: {period} holds {n} of {expected} {unit}ly returns (a gap in the "
                    "data); fill the missing periods or slice the data to avoid the gap."
                )
            if n != expected:
                keep[k] = False
    else:
        slack = pd.Timedelta(days={252: 3, 365: 0, 52: 6}.get(source_ppy, 365 // source_ppy))
        first_start = compounded.index[0].start_time
        last_end = compounded.index[-1].end_time.normalize()
        if index[0] - first_start > slack:
            keep[0] = False
        if last_end - index[-1] > slack:
            keep[-1] = False

    compounded = compounded[keep]
    if compounded.empty:
        raise DataError(
            f"returns ({_fmt_date(index[0])} .. {_fmt_date(index[-1])}) contain no complete "
            f"{_freq_name(target)} period."
        )
    new_index = compounded.index.to_timestamp(how="end").normalize().as_unit("ns")
    compounded.index = pd.DatetimeIndex(new_index, name="date", freq=None)
    compounded = compounded.astype("float64")
    compounded.attrs = dict(returns.attrs)
    compounded.attrs["periods_per_year"] = target
    return compounded


def _freq_name(ppy: int) -> str:
    return _FREQ_NAME.get(ppy, f"{ppy}-per-year")


def align_returns(frames: Sequence[pd.DataFrame], how: Literal["inner"] = "inner") -> pd.DataFrame:
    """Join the columns of several return tables on their common dates.

    Parameters
    ----------
    frames : sequence of pandas.DataFrame
        Return tables as from :func:`load_returns`, all of the same frequency
        (``attrs["periods_per_year"]``, else inferred) and with distinct column names.
    how : {"inner"}
        Only the dates present in every frame are kept (the engine needs every asset on every
        date).

    Returns
    -------
    pandas.DataFrame
        All columns side by side on the common dates, simple returns per period as decimal
        fractions; ``attrs["periods_per_year"]`` is the common frequency and
        ``attrs["source"]`` the sources joined with ``" + "``.

    Raises
    ------
    DataError
        Frequencies differ (resample the higher-frequency frames first with
        :func:`resample_returns`), a column name repeats, or fewer than 2 common dates (the
        message lists each frame's date range).
    ConfigError
        ``how`` is not ``"inner"``, or ``frames`` is empty.
    """
    if how != "inner":
        raise ConfigError(f"how={how!r} is not supported; only 'inner' is.")
    frames = list(frames)
    if not frames:
        raise ConfigError("align_returns needs at least one DataFrame.")
    ppys = []
    for k, frame in enumerate(frames):
        _require_returns_frame(frame, f"frame {k}")
        ppys.append(_periods_per_year_of(frame))
    if len(set(ppys)) > 1:
        listing = "; ".join(
            f"frame {k} ({_describe(f)}): {p} per year"
            for k, (f, p) in enumerate(zip(frames, ppys, strict=True))
        )
        raise DataError(
            f"Cannot align returns of different frequencies ({listing}). Resample the "
            f"higher-frequency frames first, e.g. resample_returns(frame, {min(ppys)})."
        )
    seen: dict[str, int] = {}
    for k, frame in enumerate(frames):
        for c in frame.columns:
            if str(c) in seen:
                raise DataError(
                    f"Column {c!r} appears in frame {seen[str(c)]} and frame {k}; rename one "
                    "(e.g. frame.add_prefix('ff3_'))."
                )
            seen[str(c)] = k
    joined = pd.concat(frames, axis=1, join="inner").sort_index()
    if len(joined) < 2:
        ranges = "; ".join(f"frame {k} ({_describe(f)})" for k, f in enumerate(frames))
        raise DataError(
            f"The frames share {len(joined)} date(s); at least 2 are needed. Date ranges: "
            f"{ranges}. Check that the ranges overlap and that dates use the same labels "
            "(e.g. month-end in every frame)."
        )
    joined.index = pd.DatetimeIndex(joined.index, name="date")
    joined = joined.astype("float64")
    joined.attrs = {
        "periods_per_year": ppys[0],
        "source": " + ".join(str(f.attrs.get("source", "DataFrame")) for f in frames),
    }
    return joined


def _describe(frame: pd.DataFrame) -> str:
    src = frame.attrs.get("source", "DataFrame")
    if len(frame.index) == 0:
        return f"{src}: no rows"
    return f"{src}: {_fmt_date(frame.index[0])} .. {_fmt_date(frame.index[-1])}, {len(frame)} rows"
