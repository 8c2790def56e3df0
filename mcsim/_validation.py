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


def check_correlation(corr: np.ndarray, field: str) -> np.ndarray:
    """A symmetric positive semi-definite matrix with a unit diagonal."""
    corr = np.asarray(corr, dtype=float)
    if corr.ndim != 2 or corr.shape[0] != corr.shape[1]:
        raise ConfigError(f"`{field}` must be a square matrix; got shape {corr.shape}.")
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
