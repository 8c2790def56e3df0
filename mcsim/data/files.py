"""Reading returns from bundled datasets, CSV, Excel and Parquet files and DataFrames, with
every check."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ._messages import available, cell, close_match, fmt_date, where
from .catalogue import BUNDLED, DatasetInfo, bundled_file, unknown_dataset_error
from .frequency import check_spacing, infer_periods_per_year

__all__ = ["DateLike", "load_dataset", "load_returns"]


DateLike = str | int | _dt.date | np.datetime64 | pd.Timestamp
"""A date bound: ``"1926-07"``, ``"1950"``, ``1950``, ``"2008-01-02"`` or a timestamp."""

_DATE_NAMES = ("date", "Date", "DATE", "year", "Year")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_EXCEL_SUFFIXES = (".xlsx",)
EXCEL_INSTALL = 'pip install ".[excel]"'
"""How to install the Excel reader (openpyxl) from a clone of the repository."""


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
        raise unknown_dataset_error(str(name))
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
    with bundled_file(info).open("r", encoding="utf-8") as fh:
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
            "source must be a bundled dataset name, a path to a .csv, .xlsx or .parquet file, or a "
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
    is_excel = name.endswith(_EXCEL_SUFFIXES)
    if not path.exists():
        looks_like_path = isinstance(raw_source, Path) or bool(
            path.suffix or "/" in str(raw_source) or "\\" in str(raw_source)
        )
        if not looks_like_path:
            raise unknown_dataset_error(str(raw_source), as_path=True)
        raise DataError(
            f"File not found: {str(path)!r} (absolute path {str(path.resolve())!r}). "
            "Check the path and the working directory."
        )
    if path.is_dir() or not (is_csv or is_parquet or is_excel):
        raise DataError(
            f"Unsupported file {str(path)!r}: expected a .csv (optionally compressed: "
            ".csv.gz, .csv.bz2, .csv.xz, .csv.zip), .xlsx or .parquet file. Convert it, or "
            "load it with pandas and pass the DataFrame."
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
    if is_excel:
        raw, date_col = _read_excel(path, date_column, label=label)
    else:
        raw, date_col = _read_csv(path, date_column, label=label)
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


def _read_csv(path: Path, date_column: str | None, *, label: str) -> tuple[pd.DataFrame, str]:
    """The CSV file's cells (dates as text) and the name of its date column."""
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
    return raw, date_col


def _read_excel(path: Path, date_column: str | None, *, label: str) -> tuple[pd.DataFrame, str]:
    """The first sheet of an ``.xlsx`` workbook as a CSV-like table, and its date column.

    The date column is read as text (as a CSV file's is, so the same date checks apply);
    value cells keep the numbers Excel stores, and a text cell among them is parsed, or
    refused with its row, exactly as in a CSV file.
    """
    try:
        header = pd.read_excel(path, sheet_name=0, nrows=0, engine="openpyxl")
    except ImportError as exc:
        raise DataError(
            f"Reading {label} needs openpyxl, which is not installed: {EXCEL_INSTALL} from the "
            "clone (or pip install openpyxl), or save the sheet as CSV."
        ) from exc
    except Exception as exc:  # openpyxl and zipfile raise several types for damaged files
        # Not the reader's own text: it can quote bytes of the file.
        raise DataError(
            f"Cannot read {label} as an Excel workbook ({type(exc).__name__}): the file is "
            "damaged or not an .xlsx file. Save it again from Excel, or save the sheet as CSV."
        ) from exc
    names = [str(c) for c in header.columns]
    if not names:
        raise DataError(
            f"{label} is empty: its first sheet needs a header row (the date column and one "
            "name per series) and at least 2 data rows."
        )
    date_col = _pick_date_column(names, date_column, label=label, from_file=True)
    raw = pd.read_excel(path, sheet_name=0, engine="openpyxl", dtype={date_col: str})
    raw.columns = [str(c) for c in raw.columns]
    # Excel stores a date cell as a timestamp: as text it reads "1926-07-31 00:00:00".
    raw[date_col] = raw[date_col].where(
        raw[date_col].isna(), raw[date_col].astype(str).str.removesuffix(" 00:00:00")
    )
    return raw, date_col


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
                + available(names, from_file=from_file, besides_date=False)
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
        raise DataError(f"{label} has two columns named {cell(dup)}; rename one of them.")
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
                + available(names, from_file=typed, besides_date=False)
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
    what = "the first column (taken as dates)" if guessed else f"date column {cell(column)}"
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
                    f"{label}: {what}, {where(i, None, is_file)}: "
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
                f"{label}: {what} is empty at {where(i, None, is_file)}. "
                "Drop that row or fill in its date."
            )
        parsed = _parse_date_strings(text, what, label=label, is_file=is_file, fix=fix)
    missing = np.asarray(parsed.isna())
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{label}: {what} is empty at {where(i, None, is_file)}. "
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
                    f"{label}: {what}, {where(i, None, is_file)}: "
                    f"{cell(strings.iloc[i])} has month {months.iloc[i]}, not 1-12. {fix}"
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
            f"{label}: {what}, {where(i, None, is_file)}: "
            f"cannot read {cell(strings.iloc[i])} as a date. {fix}"
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
        f"{label}: dates must be strictly increasing, but {where(i, dates, is_file)} {what} "
        f"row {i} ({fmt_date(dates[i - 1])}). Sort the rows by date and remove duplicated "
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
                "the first column" if date_guessed else f"the date column {cell(date_source)}"
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
                close = close_match(c, candidates)
                hint = f" Did you mean {cell(close)}?" if close else ""
                raise DataError(
                    f"Unknown column {c!r} in {label}.{hint} "
                    + available(candidates, from_file=from_file)
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
            f"The data cover {fmt_date(dates[0])} .. {fmt_date(dates[-1])}"
            + ("; widen start/end." if (start or end) else ".")
        )

    for c in selected:
        vals = numeric[c].to_numpy()[rows]
        bad = ~np.isfinite(vals)
        if bad.any():
            first = int(rows[np.flatnonzero(bad)[0]])
            last = int(rows[np.flatnonzero(bad)[-1]])
            raw_value = raw[c].iloc[first]
            shown = "empty (missing)" if _is_missing(raw_value) else cell(raw_value)
            after = last + (2 if kind == "prices" else 1)
            start_hint = (
                f", or pass start='{fmt_date(dates[after])}' (or later) to begin after them"
                if after < len(dates)
                else ""
            )
            n_bad = int(bad.sum())
            raise DataError(
                f"{label}: column {cell(c)} has {n_bad} missing or non-numeric value(s); the "
                f"first is at {where(first, dates, is_file)}: {shown}. Drop or fill these rows "
                f"(e.g. df.dropna(), or df.ffill() for prices){start_hint}."
            )

    values = np.column_stack([numeric[c].to_numpy()[rows] for c in selected])
    out_dates = dates[rows]
    if kind == "prices":
        nonpos = values <= 0
        if nonpos.any():
            r, j = np.argwhere(nonpos)[0]
            raise DataError(
                f"{label}: column {cell(selected[j])} has a price <= 0 at "
                f"{where(int(rows[r]), dates, is_file)}: {float(values[r, j])!r}. Prices and "
                "index levels must be positive; if the column holds returns, pass kind='returns'."
            )
        values = values[1:] / values[:-1] - 1.0
        out_dates = out_dates[1:]
        rows = rows[1:]
    elif kind == "returns":
        _check_returns(values, selected, rows, dates, label=label, is_file=is_file)

    check_spacing(pd.DatetimeIndex(out_dates), rows, dates, label=label, is_file=is_file)
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
                f"{label}: column {cell(c)} has a return of {float(col[r])!r} at "
                f"{where(int(rows[r]), dates, is_file)}: a simple return of -100 % or below is "
                "impossible. Returns must be decimal fractions (0.01 = 1 %): if the column holds "
                "percent, divide it by 100; if it holds prices or index levels, pass "
                "kind='prices'."
            )
        abs_col = np.abs(col)
        median = float(np.median(abs_col))
        r_max = int(np.argmax(abs_col))
        if median > 0.5 or abs_col[r_max] > 5.0:
            raise DataError(
                f"{label}: column {cell(c)} does not look like decimal returns: median |r| = "
                f"{median:.4g}, largest |r| = {abs_col[r_max]:.4g} at "
                f"{where(int(rows[r_max]), dates, is_file)}. Returns must be decimal fractions "
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
            f"{label}: column {cell(c)} is stored as {dtype} (text), not as numbers. Parquet "
            "keeps each column's type, so values must be stored as float: convert the column "
            "before writing, e.g. df[col] = df[col].astype('float64'); df.to_parquet(path)."
        )
