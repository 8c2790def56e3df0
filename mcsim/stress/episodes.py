"""The catalogue of historical episodes and their returns per simulation step.

An episode is a window of whole calendar months, ``start`` to ``end`` *inclusive*: it holds
the returns of the periods that end in those months (``"2007-11".."2009-02"`` is 16 monthly
returns, from the close of October 2007 to the close of February 2009). The catalogue's dates
are peak-to-trough on month-end total returns of the US market (``ff3``'s ``us_market_tr``):
``start`` is the first month of the fall, ``end`` the month of the trough.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import as_str
from ..data import infer_periods_per_year, load_dataset, resample_returns
from ..data._messages import close_match
from ..errors import ConfigError, DataError

__all__ = [
    "EPISODES",
    "Episode",
    "episode_returns",
    "episode_table",
    "get_episode",
    "parse_month",
]

# Datasets whose series episode_table() reports (monthly, so every episode covers whole periods).
TABLE_DATASETS = ("shiller", "ff3")


@dataclass(frozen=True, slots=True)
class Episode:
    """One historical episode of the catalogue.

    Attributes
    ----------
    name : str
        snake_case key used in scenarios (``episode = "financial_crisis"``).
    title : str
        Human-readable title.
    start, end : str
        First and last month of the window, ``"YYYY-MM"``, inclusive.
    description : str
        One line on what happened.
    dataset : str
        Bundled dataset its returns are taken from by default.
    """

    name: str
    title: str
    start: str
    end: str
    description: str
    dataset: str = "shiller"

    @property
    def months(self) -> int:
        """Number of calendar months in the window."""
        return _months_between(parse_month(self.start, "start"), parse_month(self.end, "end"))


_CATALOGUE = (
    Episode(
        name="great_depression",
        title="Great Depression",
        start="1929-09",
        end="1932-06",
        description="The 1929 crash and the slide to the June 1932 low: US stocks lost over 80 %.",
    ),
    Episode(
        name="bear_1973_74",
        title="1973-74 bear market",
        start="1973-01",
        end="1974-09",
        description=(
            "Oil embargo, Watergate and rising inflation: the Nifty Fifty bust, peak (Dec 1972 "
            "close) to trough (Sep 1974 close)."
        ),
    ),
    Episode(
        name="dot_com_crash",
        title="Dot-com crash",
        start="2000-03",
        end="2002-09",
        description="The technology bubble bursts: March 2000 peak to the October 2002 low.",
    ),
    Episode(
        name="financial_crisis",
        title="Global financial crisis",
        start="2007-11",
        end="2009-02",
        description="Subprime losses, Lehman's failure and the bear market to the March 2009 low.",
    ),
    Episode(
        name="covid_crash",
        title="Covid crash",
        start="2020-02",
        end="2020-03",
        description="The fastest bear market on record as the pandemic shut economies down.",
    ),
    Episode(
        name="stocks_bonds_2022",
        title="2022 stock-bond fall",
        start="2022-01",
        end="2022-09",
        description="Inflation and rate rises push stocks and long bonds down together.",
    ),
    Episode(
        name="seventies",
        title="The 1970s",
        start="1970-01",
        end="1979-12",
        description="A decade of high inflation: nominal gains, negative real returns.",
    ),
)

EPISODES: dict[str, Episode] = {e.name: e for e in _CATALOGUE}
"""The catalogue, keyed by episode name."""


def get_episode(name: Any, field: str = "episode") -> Episode:
    """The catalogue episode called ``name``; ConfigError naming ``field`` (with a suggestion)."""
    name = as_str(name, field)
    if name in EPISODES:
        return EPISODES[name]
    close = close_match(name, list(EPISODES))
    hint = f" Did you mean {close!r}?" if close else ""
    raise ConfigError(
        f"`{field}` = {name!r} is not a known episode.{hint} Known episodes: "
        f"{', '.join(EPISODES)}; or give `start` and `end` months instead."
    )


def parse_month(value: Any, field: str) -> pd.Period:
    """A calendar month from ``"YYYY-MM"``, a date or a timestamp; ConfigError naming ``field``."""
    if isinstance(value, pd.Period):
        return value.asfreq("M")
    if isinstance(value, (_dt.date, pd.Timestamp)):
        return pd.Period(pd.Timestamp(value), freq="M")
    if isinstance(value, str):
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError):
            ts = None
        if ts is not None and not pd.isna(ts):
            return pd.Period(ts, freq="M")
    raise ConfigError(f'`{field}` must be a month such as "2007-11" (or a date); got {value!r}.')


def _months_between(start: pd.Period, end: pd.Period) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


@functools.lru_cache(maxsize=8)
def _bundled(name: str) -> pd.DataFrame:
    # Cached read-only: callers select rows and never write into the frame.
    return load_dataset(name)


def _periods_per_year(data: pd.DataFrame) -> int:
    ppy = data.attrs.get("periods_per_year")
    return int(ppy) if ppy is not None else int(infer_periods_per_year(data.index))


def _resolve_window(
    episode: str | Episode | tuple[Any, Any], field: str
) -> tuple[pd.Period, pd.Period, str | None]:
    """(start month, end month, default dataset or None) of a name or a (start, end) pair."""
    if isinstance(episode, Episode):
        ep = episode
    elif isinstance(episode, str):
        ep = get_episode(episode, field)
    elif isinstance(episode, (tuple, list)) and len(episode) == 2:
        start = parse_month(episode[0], f"{field}.start")
        end = parse_month(episode[1], f"{field}.end")
        if end < start:
            raise ConfigError(
                f"`{field}.end` ({end}) is before `{field}.start` ({start}); swap them."
            )
        return start, end, None
    else:
        raise ConfigError(
            f"`{field}` must be an episode name or a (start, end) pair of months; got {episode!r}."
        )
    return parse_month(ep.start, "start"), parse_month(ep.end, "end"), ep.dataset


def _month_rows(
    data: pd.DataFrame, ppy: int, start: pd.Period, end: pd.Period, label: str, field: str
) -> pd.DataFrame:
    """The rows of monthly-or-coarser ``data`` that make up months ``start..end`` exactly."""
    months_per_period = 12 // ppy
    labels = pd.DatetimeIndex(data.index).to_period("M")
    first_covered = labels[0] - (months_per_period - 1)
    if start < first_covered or end > labels[-1]:
        raise DataError(
            f"`{field}` covers {start}..{end}, outside the data of {label} "
            f"({first_covered}..{labels[-1]}). Choose a window inside the data or another "
            "dataset."
        )
    inside = (labels >= start) & (labels <= end)
    rows = data.loc[inside]
    got = labels[inside]
    n_months = _months_between(start, end)
    aligned = (
        len(got) > 0
        and got[0] - (months_per_period - 1) == start
        and got[-1] == end
        and n_months % months_per_period == 0
    )
    if not aligned:
        unit = {1: "year", 4: "quarter", 2: "half-year"}.get(ppy, f"{months_per_period} months")
        raise DataError(
            f"`{field}` = {start}..{end} does not cover whole periods of {label}, whose rows are "
            f"one {unit} each: start and end the window on the data's period boundaries."
        )
    if len(got) != n_months // months_per_period:
        raise DataError(
            f"`{field}`: {label} has {n_months // months_per_period - len(got)} missing row(s) "
            f"inside {start}..{end}; choose a window without gaps."
        )
    return rows


def _window(
    data: pd.DataFrame,
    start: pd.Period,
    end: pd.Period,
    steps_per_year: int,
    label: str,
    field: str,
) -> tuple[pd.DataFrame, int]:
    """The data's rows over the window and their periods per year (finer data made monthly)."""
    ppy = _periods_per_year(data)
    if ppy > 12 and ppy == steps_per_year:
        t0, t1 = start.start_time, end.end_time
        # Daily or weekly rows are labelled by trading days: allow a week at each edge.
        slack = pd.Timedelta(days=7)
        if data.index[0] > t0 + slack or data.index[-1] < t1 - slack:
            raise DataError(
                f"`{field}` covers {start}..{end}, outside the data of {label} "
                f"({data.index[0]:%Y-%m-%d}..{data.index[-1]:%Y-%m-%d}). Choose a window inside "
                "the data or another dataset."
            )
        return data.loc[(data.index >= t0) & (data.index <= t1)], ppy
    if ppy > 12:
        data = resample_returns(data, 12)
        ppy = 12
    if 12 % ppy != 0:
        raise DataError(
            f"`{field}`: {label} has {ppy} periods a year, which do not make whole months; use "
            "monthly, quarterly or annual data."
        )
    return _month_rows(data, ppy, start, end, label, field), ppy


def _to_steps(
    rows: pd.DataFrame,
    ppy: int,
    steps_per_year: int,
    start: pd.Period,
    end: pd.Period,
    label: str,
    field: str,
) -> pd.DataFrame:
    """Compound consecutive rows (from the window's start) into simulation steps."""
    if ppy == steps_per_year:
        return rows
    if ppy < steps_per_year or ppy % steps_per_year != 0:
        raise DataError(
            f"`{field}`: {label} has {ppy} periods a year and cannot give steps of "
            f"1/{steps_per_year} year (a return can only be compounded into whole, longer "
            "steps). Use data at least as fine as the step, or a step that is a whole number "
            "of data periods."
        )
    group = ppy // steps_per_year
    if len(rows) % group != 0:
        months_per_step = 12 // steps_per_year
        cut = end - (len(rows) % group) * (12 // ppy)
        extend = cut + months_per_step
        raise DataError(
            f"`{field}` = {start}..{end} is {len(rows)} periods of the data, not a whole number "
            f"of steps of {group} periods ({months_per_step} months). End it in {cut} or "
            f"{extend} instead."
        )
    values = 1.0 + rows.to_numpy(dtype=float)
    compounded = values.reshape(-1, group, values.shape[1]).prod(axis=1) - 1.0
    return pd.DataFrame(compounded, index=rows.index[group - 1 :: group], columns=rows.columns)


def episode_returns(
    name_or_range: str | Episode | tuple[Any, Any],
    series: str | Sequence[str],
    steps_per_year: int,
    data: pd.DataFrame | None = None,
    *,
    field: str = "episode",
) -> pd.DataFrame:
    """An episode's simple returns per simulation step for the requested series.

    Parameters
    ----------
    name_or_range : str, Episode or (start, end)
        A catalogue key (see :data:`EPISODES`), an :class:`Episode`, or a pair of months
        (``("2007-11", "2009-02")``, inclusive).
    series : str or sequence of str
        Columns of the data to return.
    steps_per_year : int
        Steps per year of the simulation. Data finer than the step is compounded over
        consecutive groups of periods counted from the window's start; the window must then
        hold a whole number of steps.
    data : pandas.DataFrame, optional
        Simple returns per period with a DatetimeIndex of period ends (as from
        :func:`mcsim.load_dataset`). Default: the episode's dataset (``"shiller"`` for a range).
    field : str
        Name of the setting the window came from, used in messages.

    Returns
    -------
    pandas.DataFrame of shape (n_episode_steps, len(series))
        Simple returns per step, indexed by the date the step ends, one column per series.

    Raises
    ------
    ConfigError
        Unknown episode (with the nearest name), a malformed range.
    DataError
        A series not in the data, a window outside the data or not made of whole data periods
        or whole steps, data coarser than the step.
    """
    start, end, default_dataset = _resolve_window(name_or_range, field)
    if data is None:
        dataset = default_dataset or "shiller"
        data = _bundled(dataset)
        label = f"dataset {dataset!r}"
    else:
        label = "the data"
    names = [series] if isinstance(series, str) else list(series)
    missing = [s for s in names if s not in data.columns]
    if missing:
        close = close_match(str(missing[0]), [str(c) for c in data.columns])
        hint = f" Did you mean {close!r}?" if close else ""
        raise DataError(
            f"`{field}`: series {missing[0]!r} is not a column of {label}.{hint} Columns: "
            f"{', '.join(map(str, data.columns))}."
        )
    rows, ppy = _window(data[names], start, end, steps_per_year, label, field)
    if rows.isna().to_numpy().any():
        col = rows.columns[rows.isna().any()][0]
        raise DataError(
            f"`{field}`: series {col!r} has missing values inside {start}..{end} in {label}; "
            "choose a window it covers fully."
        )
    return _to_steps(rows, ppy, steps_per_year, start, end, label, field)


def episode_table() -> pd.DataFrame:
    """One row per catalogue episode: its dates and what it did to each bundled series.

    Returns
    -------
    pandas.DataFrame
        Indexed by episode name. Columns ``title``, ``start``, ``end`` (``"YYYY-MM"``),
        ``months``, ``dataset`` (the default source of its returns), ``description``, then one
        column ``"<dataset>.<series>"`` per series of the ``shiller`` and ``ff3`` datasets:
        the series' compounded simple return over the window, ``prod(1 + r) - 1`` (for
        ``shiller.cpi_inflation``, the cumulative inflation), NaN where the data do not cover
        the window.
    """
    records: list[dict[str, Any]] = []
    for ep in EPISODES.values():
        start, end = parse_month(ep.start, "start"), parse_month(ep.end, "end")
        row: dict[str, Any] = {
            "name": ep.name,
            "title": ep.title,
            "start": ep.start,
            "end": ep.end,
            "months": ep.months,
            "dataset": ep.dataset,
            "description": ep.description,
        }
        for dataset in TABLE_DATASETS:
            data = _bundled(dataset)
            labels = pd.DatetimeIndex(data.index).to_period("M")
            covered = labels[0] <= start and end <= labels[-1]
            window = data.loc[(labels >= start) & (labels <= end)]
            for col in data.columns:
                value = float(np.prod(1.0 + window[col].to_numpy()) - 1.0) if covered else np.nan
                row[f"{dataset}.{col}"] = value
        records.append(row)
    return pd.DataFrame.from_records(records).set_index("name")
