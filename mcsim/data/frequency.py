"""Frequency of return tables: infer it, check the spacing of dates, resample and align."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ._messages import fmt_date, where

__all__ = ["align_returns", "check_spacing", "infer_periods_per_year", "resample_returns"]


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


def check_spacing(
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
    label : str
        What the data are (``"file 'x.csv'"``), for messages.
    is_file : bool
        Whether messages also give the line of the file.

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
        f"end='{fmt_date(dates[int(rows[begin]) - 1])}' for the rows before the change, or "
        if int(rows[begin]) > 0
        else ""
    )
    days = "day" if median == 1 else "days"
    raise DataError(
        f"{label}: the spacing of the dates changes. Most rows are {spacing} (the median gap "
        f"is {median:.3g} {days}), but from {where(int(rows[begin]), dates, is_file)} to "
        f"{where(int(rows[b + 1]), dates, is_file)} the dates are {seen.min():g}-{seen.max():g} "
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
        f"Cannot recognise the frequency of the dates ({fmt_date(dates[0])} .. "
        f"{fmt_date(dates[-1])}): the median spacing is {median:.3g} days, which is not daily, "
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
            f"(date {fmt_date(returns.index[i])}); drop or fill it before resampling."
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
            f"returns ({fmt_date(index[0])} .. {fmt_date(index[-1])}) contain no complete "
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
    return f"{src}: {fmt_date(frame.index[0])} .. {fmt_date(frame.index[-1])}, {len(frame)} rows"
