"""How data messages quote rows, cells, dates and column names (never a whole line of a file)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["CELL_CHARS", "available", "cell", "close_match", "fmt_date", "where"]

# A message quotes at most one cell of a file, cut to this many characters: a path given by
# mistake may point at a file that is not meant to be shown.
CELL_CHARS = 20


def close_match(name: str, options: Sequence[str]) -> str | None:
    """The option closest to ``name`` (ignoring case), or None."""
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def where(i: int, dates: pd.DatetimeIndex | None, is_file: bool) -> str:
    """Describe data row ``i`` (0-based) for a message."""
    parts = []
    if dates is not None:
        parts.append(f"date {fmt_date(dates[i])}")
    if is_file:
        parts.append(f"line {i + 2} of the file")
    extra = f" ({', '.join(parts)})" if parts else ""
    return f"row {i + 1}{extra}"


def fmt_date(ts: pd.Timestamp) -> str:
    """A date for a message: ``YYYY-MM-DD``, with the time only when it is not midnight."""
    if ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return str(ts)


def cell(value: Any) -> str:
    """A cell of the data (or a column name) quoted for a message: at most 20 characters."""
    text = str(value)
    if len(text) > CELL_CHARS:
        text = text[:CELL_CHARS] + "..."
    return repr(text)


def available(names: Sequence[str], *, from_file: bool, besides_date: bool = True) -> str:
    """The sentence that tells which columns exist, without listing a file's header cells."""
    if from_file:
        other = " besides the date column" if besides_date else ""
        return f"The file has {len(names)} column(s){other}; check the names on its header line."
    return f"Available columns: {', '.join(cell(n) for n in names)}."
