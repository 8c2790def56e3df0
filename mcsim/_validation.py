"""Argument checks that name the field and say how to fix it."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import ConfigError


def check_keys(section: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise ConfigError for a key of ``section`` that is not in ``allowed``."""
    allowed = list(allowed)
    for key in section:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise ConfigError(
                f"Unknown key `{where}.{key}`.{hint} Allowed keys: {', '.join(sorted(allowed))}."
            )


def require(section: Mapping[str, Any], key: str, where: str) -> Any:
    """The value of a required key, or ConfigError naming it."""
    if key not in section:
        raise ConfigError(f"`{where}.{key}` is required but missing; add it to the scenario.")
    return section[key]


def as_float(
    value: Any,
    field: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """A finite float in the given range, or ConfigError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"`{field}` must be a number; got {value!r} ({type(value).__name__}).")
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ConfigError(f"`{field}` must be a finite number; got {value!r}.")
    if low is not None and (x < low or (low_open and x == low)):
        op = ">" if low_open else ">="
        raise ConfigError(f"`{field}` must be {op} {low:g}; got {value!r}.")
    if high is not None and (x > high or (high_open and x == high)):
        op = "<" if high_open else "<="
        raise ConfigError(f"`{field}` must be {op} {high:g}; got {value!r}.")
    return x


def as_int(value: Any, field: str, *, low: int | None = None, high: int | None = None) -> int:
    """An int in the given range (floats with integral values accepted), or ConfigError."""
    if isinstance(value, bool):
        raise ConfigError(f"`{field}` must be an integer; got {value!r}.")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise ConfigError(f"`{field}` must be an integer; got {value!r} ({type(value).__name__}).")
    x = int(value)
    if low is not None and x < low:
        raise ConfigError(f"`{field}` must be >= {low}; got {x}.")
    if high is not None and x > high:
        raise ConfigError(f"`{field}` must be <= {high}; got {x}.")
    return x


def as_str(value: Any, field: str, choices: Iterable[str] | None = None) -> str:
    """A string, optionally one of ``choices``, or ConfigError naming ``field``."""
    if not isinstance(value, str):
        raise ConfigError(f"`{field}` must be a string; got {value!r} ({type(value).__name__}).")
    if choices is not None:
        choices = list(choices)
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"`{field}` must be one of {', '.join(map(repr, choices))}; got {value!r}.{hint}"
            )
    return value


def as_vector(
    value: Any,
    field: str,
    names: list[str],
    *,
    low: float | None = None,
    high: float | None = None,
    allow_inf: bool = False,
) -> np.ndarray:
    """A float per name from a scalar, a list in ``names`` order, or a {name: value} table."""
    n = len(names)
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in names]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"`{field}` names unknown asset {unknown[0]!r}.{hint} Assets: {', '.join(names)}."
            )
        missing = [k for k in names if k not in value]
        if missing:
            raise ConfigError(
                f"`{field}` has no value for asset(s) {', '.join(map(repr, missing))}; "
                "give one for every asset or a single number for all."
            )
        items = [value[k] for k in names]
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        if len(items) != n:
            raise ConfigError(
                f"`{field}` has {len(items)} values but there are {n} assets ({', '.join(names)})."
            )
    else:
        items = [value] * n
    return np.array(
        [
            as_float(v, f"{field}[{names[i]}]", low=low, high=high, allow_inf=allow_inf)
            for i, v in enumerate(items)
        ]
    )


def as_weights(value: Any, field: str, names: list[str], *, long_only: bool = True) -> np.ndarray:
    """Portfolio weights per asset that sum to one."""
    w = as_vector(value, field, names, low=0.0 if long_only else None)
    total = float(w.sum())
    if abs(total - 1.0) > 1e-8:
        raise ConfigError(
            f"`{field}` must sum to 1; got {total:.10g}. Rescale the weights "
            f"(for example divide each by {total:.6g})."
        )
    return w / total


def _expected_shape(ndim: int, shape: tuple[int, ...] | None) -> str:
    """How a value of ``ndim`` nested lists (and ``shape``, if known) is written in a message."""
    if ndim == 1:
        return "a list of numbers" if shape is None else f"a list of {shape[0]} numbers"
    if ndim == 2:
        if shape is None:
            return "a matrix: a list of rows of equal length, each a list of numbers"
        rows, cols = shape
        return f"a {rows}x{cols} matrix: a list of {rows} rows, each a list of {cols} numbers"
    dims = "x".join(str(d) for d in shape) if shape is not None else f"{ndim}-level"
    return f"a {dims} nested list of numbers"


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters so a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_array(
    value: Any, field: str, *, ndim: int, shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """A float array from nested lists of finite numbers, or ConfigError naming ``field``.

    ``np.asarray`` raises a bare ValueError for ragged lists (``[[1, 0.2], [0.2]]``) and turns
    numeric strings into numbers; walking the lists instead names the entry that is wrong.

    Parameters
    ----------
    value : Any
        Nested lists or tuples (or an ndarray) ``ndim`` levels deep.
    field : str
        Name used in messages, such as ``"[model].corr"``.
    ndim : int
        Required nesting depth (1 for a vector, 2 for a matrix, ...).
    shape : tuple of int, optional
        Required shape, when it is known (for example ``(n_assets, n_assets)``).

    Returns
    -------
    ndarray of float64 with ``ndim`` dimensions

    Raises
    ------
    ConfigError
        A level that is not a list, an entry that is not a finite number, rows of different
        lengths, or a shape other than ``shape``.
    """
    expected = _expected_shape(ndim, shape)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    lengths: dict[int, tuple[str, int]] = {}

    def walk(v: Any, depth: int, index: str) -> Any:
        if depth == ndim:
            return as_float(v, f"{field}{index}")
        name = f"`{field}{index}`"
        if not isinstance(v, (list, tuple)):
            raise ConfigError(f"`{field}` must be {expected}; {name} is {_short(v)}, not a list.")
        seen = lengths.setdefault(depth, (name, len(v)))
        if len(v) != seen[1]:
            raise ConfigError(
                f"`{field}` must be {expected}; {name} has {len(v)} value(s) but {seen[0]} has "
                f"{seen[1]}."
            )
        return [walk(x, depth + 1, f"{index}[{i}]") for i, x in enumerate(v)]

    arr = np.array(walk(value, 0, ""), dtype=float)
    if arr.ndim != ndim:
        # An empty level: np.array([]) has fewer dimensions than asked for.
        raise ConfigError(f"`{field}` must be {expected}; got an empty list.")
    if shape is not None and arr.shape != tuple(shape):
        got = "x".join(str(d) for d in arr.shape)
        raise ConfigError(f"`{field}` must be {expected}; got {got}.")
    return arr


def as_float_list(value: Any, field: str) -> np.ndarray:
    """A 1-d float array from a number, a flat list of numbers or an ndarray (flattened).

    For parameters given before the asset names are known (so :func:`as_vector` cannot be
    used yet): a nested or ragged list raises ConfigError naming ``field`` instead of the bare
    ValueError of ``np.asarray``.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            raise ConfigError(f"`{field}` must hold numbers; got an array of {value.dtype}.")
        return value.astype(float).ravel()
    if isinstance(value, (list, tuple)):
        return as_array(value, field, ndim=1)
    return np.array([as_float(value, field)])


def check_correlation(corr: Any, field: str, n: int | None = None) -> np.ndarray:
    """A symmetric positive semi-definite matrix with a unit diagonal.

    Parameters
    ----------
    corr : array-like of shape (n, n)
        Nested lists (one row per asset) or an ndarray.
    field : str
        Name used in messages, such as ``"[model].corr"``.
    n : int, optional
        Number of assets, when known: the matrix must then be ``n x n``.

    Returns
    -------
    ndarray of shape (n, n)

    Raises
    ------
    ConfigError
        Ragged or non-numeric rows, a shape that is not square (or not ``n x n``), asymmetry,
        a diagonal other than ones, entries outside [-1, 1], or a negative eigenvalue.
    """
    corr = as_array(corr, field, ndim=2, shape=None if n is None else (n, n))
    if corr.shape[0] != corr.shape[1]:
        rows, cols = corr.shape
        raise ConfigError(
            f"`{field}` must be a square matrix (one row and one column per asset); got "
            f"{rows}x{cols}."
        )
    if not np.all(np.isfinite(corr)):
        raise ConfigError(f"`{field}` must hold finite numbers.")
    if not np.allclose(corr, corr.T, atol=1e-10):
        i, j = np.unravel_index(np.argmax(np.abs(corr - corr.T)), corr.shape)
        raise ConfigError(
            f"`{field}` must be symmetric; entry [{i}][{j}] = {corr[i, j]:g} but "
            f"[{j}][{i}] = {corr[j, i]:g}."
        )
    if not np.allclose(np.diag(corr), 1.0, atol=1e-10):
        raise ConfigError(f"`{field}` must have ones on the diagonal; got {np.diag(corr)}.")
    if np.any(np.abs(corr) > 1.0 + 1e-12):
        raise ConfigError(f"`{field}` entries must lie in [-1, 1].")
    check_psd(corr, field)
    return corr


def check_psd(matrix: np.ndarray, field: str, tol: float = 1e-10) -> None:
    """Raise ConfigError when a symmetric matrix has a negative eigenvalue."""
    eig = np.linalg.eigvalsh(matrix)
    scale = max(1.0, float(np.max(np.abs(np.diag(matrix)))))
    if eig[0] < -tol * scale:
        raise ConfigError(
            f"`{field}` is not positive semi-definite (smallest eigenvalue {eig[0]:.3g}). "
            "Correlations this far apart cannot hold together: check the entries, or use a "
            "matrix estimated from data."
        )


def check_per_asset(value: Any, field: str, **bounds: Any) -> None:
    """Check a scalar, or every value of a per-asset table, against ``bounds``."""
    if value is None:
        return
    if isinstance(value, Mapping):
        for name, v in value.items():
            as_float(v, f"{field}[{name}]", **bounds)
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            as_float(v, f"{field}[{k}]", **bounds)
    else:
        as_float(value, field, **bounds)
