"""Glide paths: target weights that change over the horizon.

Two forms, given as the ``glide`` table of any policy:

* a table by year: ``{ years = [0, 10, 20, 30], weights = [[0.9, 0.1], [0.7, 0.3], ...] }``
  (rows in asset order) or ``weights = { stocks = [0.9, 0.7, ...], bonds = [...] }``
  (one list per asset name, one entry per year);
* a straight line: ``{ end = { stocks = 0.3, bonds = 0.7 }, start_year = 0, end_year = 30 }``
  from ``start`` (default: the policy's target) to ``end``.

Weights are linearly interpolated between the points and held constant before the first and
after the last. The target of step ``t`` is the glide path at the end of the step,
``(t + 1) / steps_per_year`` years; the initial portfolio is the glide path at year 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import as_float, as_weights, check_keys
from ..errors import ConfigError

__all__ = ["check_glide", "glide_weights"]

_TABLE_KEYS = ("years", "weights")
_LINE_KEYS = ("start", "end", "start_year", "end_year")


def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple, np.ndarray))


def check_glide(glide: Any, where: str) -> None:
    """Validate what can be checked without the asset names (raises ConfigError)."""
    if glide is None:
        return
    w = f"{where}.glide"
    if not isinstance(glide, Mapping):
        raise ConfigError(
            f"`{w}` must be a table: {{ years = [...], weights = [...] }} or "
            f"{{ end = {{ asset = weight, ... }}, end_year = ... }}; got {glide!r}."
        )
    check_keys(glide, (*_TABLE_KEYS, *_LINE_KEYS), w)
    table = any(k in glide for k in _TABLE_KEYS)
    line = any(k in glide for k in _LINE_KEYS)
    if table and line:
        raise ConfigError(
            f"`{w}` mixes a table by year (`years`, `weights`) with a straight line (`start`, "
            "`end`, `start_year`, `end_year`); use one form."
        )
    if table:
        years = _years(glide, w)
        rows = _rows(glide, w, len(years), names=None)
        for k, row in enumerate(rows):
            _row_weights(row, f"{w}.weights", k, years[k], names=None)
        return
    if "end" not in glide:
        raise ConfigError(f"`{w}` needs `end` (the target weights at `end_year`) or `years`.")
    start_year = as_float(glide.get("start_year", 0.0), f"{w}.start_year", low=0.0)
    if "end_year" in glide:
        end_year = as_float(glide["end_year"], f"{w}.end_year", low=0.0)
        if end_year <= start_year:
            raise ConfigError(
                f"`{w}.end_year` ({end_year:g}) must be after `start_year` ({start_year:g})."
            )
    for key in ("start", "end"):
        if key in glide and not isinstance(glide[key], Mapping):
            if not _is_seq(glide[key]):
                raise ConfigError(
                    f"`{w}.{key}` must be a table of asset = weight or a list in asset order."
                )
            _row_weights(list(glide[key]), f"{w}.{key}", None, None, names=None)
        elif key in glide:
            _row_weights(glide[key], f"{w}.{key}", None, None, names=None)


def _years(glide: Mapping[str, Any], w: str) -> np.ndarray:
    years = glide.get("years")
    if not _is_seq(years) or len(years) == 0:
        raise ConfigError(f"`{w}.years` must be a non-empty list of years, such as [0, 10, 20].")
    ys = np.array([as_float(y, f"{w}.years[{i}]", low=0.0) for i, y in enumerate(years)])
    bad = np.flatnonzero(np.diff(ys) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise ConfigError(
            f"`{w}.years` must increase strictly; entry {i} ({ys[i]:g}) follows {ys[i - 1]:g}."
        )
    return ys


def _rows(glide: Mapping[str, Any], w: str, n_years: int, names: list[str] | None) -> list:
    """Rows (one per year) of the weights table: lists in asset order or dicts by name."""
    weights = glide.get("weights")
    if isinstance(weights, Mapping):
        for asset, col in weights.items():
            if not _is_seq(col) or len(col) != n_years:
                raise ConfigError(
                    f"`{w}.weights.{asset}` must list one weight per year ({n_years} values)."
                )
        return [{a: col[k] for a, col in weights.items()} for k in range(n_years)]
    if not _is_seq(weights) or len(weights) != n_years:
        raise ConfigError(
            f"`{w}.weights` must have one row per year ({n_years} rows), or be a table of one "
            "list per asset name."
        )
    for k, row in enumerate(weights):
        if not _is_seq(row):
            raise ConfigError(f"`{w}.weights` row {k + 1} must be a list of weights.")
    return [list(r) for r in weights]


def _row_weights(
    row: Any, field: str, k: int | None, year: float | None, names: list[str] | None
) -> np.ndarray:
    """One row of weights; ConfigError naming the row when it does not sum to 1."""
    if isinstance(row, Mapping):
        values = list(row.values())
    else:
        values = list(row)
    where = field if k is None else f"{field}[{k}]"
    x = np.array([as_float(v, where, low=0.0) for v in values])
    total = float(x.sum())
    if abs(total - 1.0) > 1e-8:
        name = f"`{field}`" if k is None else f"`{field}` row {k + 1} (year {year:g})"
        raise ConfigError(
            f"{name} sums to {total:.10g}; the weights of each glide-path row must sum to 1."
        )
    if names is None:
        return x
    if isinstance(row, Mapping):
        return as_weights(row, where, names)
    if len(values) != len(names):
        name = f"`{field}`" if k is None else f"`{field}` row {k + 1}"
        raise ConfigError(
            f"{name} has {len(values)} weights but there are {len(names)} assets "
            f"({', '.join(names)})."
        )
    return x / total


def glide_weights(
    glide: Mapping[str, Any],
    where: str,
    names: Sequence[str],
    times: np.ndarray,
    start: np.ndarray,
    horizon: float,
) -> np.ndarray:
    """Target weights of the glide path at ``times`` (years), shape (n_times, n_assets).

    ``start`` is the policy's target (the start of a straight-line path); ``horizon`` the
    run's length in years (the default ``end_year``).
    """
    check_glide(glide, where)
    w = f"{where}.glide"
    names = list(names)
    if "years" in glide or "weights" in glide:
        years = _years(glide, w)
        rows = _rows(glide, w, len(years), names)
        table = np.vstack(
            [_row_weights(row, f"{w}.weights", k, years[k], names) for k, row in enumerate(rows)]
        )
    else:
        start_year = float(glide.get("start_year", 0.0))
        end_year = float(glide.get("end_year", horizon))
        if end_year <= start_year:
            raise ConfigError(
                f"`{w}.end_year` ({end_year:g}) must be after `start_year` ({start_year:g}); "
                f"the horizon is {horizon:g} years."
            )
        first = start
        if "start" in glide:
            first = _row_weights(glide["start"], f"{w}.start", None, None, names)
        last = _row_weights(glide["end"], f"{w}.end", None, None, names)
        years = np.array([start_year, end_year])
        table = np.vstack([first, last])
    out = np.empty((times.size, len(names)))
    for i in range(len(names)):
        out[:, i] = np.interp(times, years, table[:, i])
    # Interpolation keeps rows summing to 1 up to rounding; make it exact.
    out /= out.sum(axis=1, keepdims=True)
    return out
