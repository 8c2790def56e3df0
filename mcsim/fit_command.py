"""The ``mcsim fit`` command: fit a model to history, print its parameters and model check."""

from __future__ import annotations

import json
import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .data import load_returns
from .errors import ConfigError
from .model_check import model_check, verdict
from .models import model_from_config
from .path_statistics import STATISTICS
from .report.model_check import model_check_page

__all__ = ["fit_command", "format_check_table", "format_params", "parse_options"]


def parse_options(items: Sequence[str] | None) -> dict[str, Any]:
    """Parse ``--option key=value`` strings; values use TOML syntax, else stay strings.

    ``["df=5", "mu=[0.06, 0.02]", "estimator=ledoit_wolf"]`` gives
    ``{"df": 5, "mu": [0.06, 0.02], "estimator": "ledoit_wolf"}``.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"`--option` must look like key=value (for example df=5); got {item!r}."
            )
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        out[key] = value
    return out


def fit_command(
    source: str,
    model: str,
    *,
    columns: Sequence[str] | str | None = None,
    start: str | int | None = None,
    end: str | int | None = None,
    kind: str = "returns",
    steps_per_year: int | None = None,
    options: Mapping[str, Any] | Sequence[str] | None = None,
    n_paths: int = 2000,
    seed: int = 0,
    out: str | Path | None = None,
) -> int:
    """Fit a model to history, print its parameters and the model check (``mcsim fit``).

    Parameters
    ----------
    source : str
        Bundled dataset name (``"shiller"``) or a CSV/Parquet path, read by
        :func:`mcsim.data.load_returns`.
    model : str
        Model kind (a key of :data:`mcsim.models.MODELS`).
    columns : sequence of str or comma-separated str, optional
        Columns to fit (default: all numeric columns).
    start, end : str or int, optional
        Inclusive date bounds (``"1950"``, ``"1926-07"``).
    kind : {"returns", "prices"}
        What the data's values are.
    steps_per_year : int, optional
        Simulation steps per year for the check (default: the data's periods per year).
    options : dict or list of "key=value", optional
        Further ``[model]`` options (for example ``{"df": 5}``).
    n_paths, seed : int
        Size and seed of the model-check simulation.
    out : str or pathlib.Path, optional
        Folder for ``fit.json`` (``model.params()``),
        ``model_check.csv`` and ``model_check.html``.

    Returns
    -------
    int
        0 on success (errors raise ConfigError, DataError or ModelFitError).
    """
    opts = dict(options) if isinstance(options, Mapping) else parse_options(options)
    if "kind" in opts and opts["kind"] != model:
        raise ConfigError(
            f"`--option kind={opts['kind']}` conflicts with `--model {model}`; use --model only."
        )
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    fitted = model_from_config({"kind": model, **opts})
    history = load_returns(source, kind=kind, columns=columns, start=start, end=end)
    ppy = int(history.attrs["periods_per_year"])
    fitted.fit(history, periods_per_year=ppy)
    params = fitted.params()
    table = model_check(
        fitted, history, ppy, steps_per_year=steps_per_year, n_paths=n_paths, seed=seed
    )
    table.attrs["series_names"] = fitted.series_names

    first, last = history.index[0], history.index[-1]
    print(
        f"Data: {history.attrs.get('source', source)}, {len(history)} periods "
        f"({ppy} per year) from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    )
    print()
    print(format_params(params, fitted.series_names))
    print()
    print(
        f"Model check: {n_paths} simulated paths of {table.attrs['n_periods']} periods at "
        f"{table.attrs['periods_per_year']} per year (seed {seed})"
    )
    print(format_check_table(table))
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "fit.json").write_text(json.dumps(params, indent=2) + "\n")
        table.to_csv(folder / "model_check.csv")
        title = f"Model check: {model} fitted to {history.attrs.get('source', source)}"
        page = model_check_page(
            table,
            title=title,
            verdict=verdict(table),
            statistics=STATISTICS,
            params_text=format_params(params, fitted.series_names),
        )
        (folder / "model_check.html").write_text(page)
        print(f"\nWrote fit.json, model_check.csv and model_check.html to {folder}")
    return 0


def format_check_table(table: pd.DataFrame) -> str:
    """The model-check table as aligned text, with a verdict (see :func:`model_check`) below."""
    shown = table[["history", "sim_p05", "sim_median", "sim_p95"]].copy()
    shown["inside_90"] = np.where(table["inside_90"], "yes", "NO")
    text = shown.to_string(float_format=lambda v: f"{v:.4f}")
    return text + "\n\n" + textwrap.fill(verdict(table), width=100, break_on_hyphens=False)


def format_params(params: Mapping[str, Any], series_names: Sequence[str] | None = None) -> str:
    """Fitted parameters as readable text (``fit.json`` holds the exact values).

    Scalars are listed; lists with one number per series are gathered in one table (``mu``,
    ``vol``, ...); numeric matrices are shown labelled, their axes named after the series or
    after a count parameter of the same length (``n_regimes = 2`` labels rows "regime 0",
    "regime 1"); anything else (summaries, nested tables) is shown as JSON. Keys naming a
    correlation or covariance are labelled by series, keys naming a transition by the count.
    """
    names = [str(x) for x in (params.get("assets") or series_names or [])]
    n = len(names)
    counts = {
        key[2:].removesuffix("s"): value
        for key, value in params.items()
        if key.startswith("n_") and isinstance(value, int) and not isinstance(value, bool)
    }

    def labels(length: int, *, prefer_count: bool, allow_series: bool = True) -> list[str]:
        by_count = [f"{c} {i}" for c, k in counts.items() if k == length for i in range(k)]
        by_count = by_count[:length]
        if by_count and prefer_count:
            return by_count
        if allow_series and length == n:
            return names
        return by_count or [str(i) for i in range(length)]

    per_series: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    blocks: list[str] = []
    for key, value in params.items():
        if key in ("kind", "assets"):
            continue
        if value is None or isinstance(value, (str, bool, int, float)):
            scalars[key] = value
            continue
        arr = _numeric_array(value)
        lowered = key.lower()
        series_key = "corr" in lowered or "cov" in lowered or lowered.startswith("start_q")
        count_key = "transition" in lowered
        fmt = _fmt4
        if arr is None or arr.ndim > 3 or arr.size == 0:
            blocks.append(f"{key}:\n" + "\n".join(_outline(value, 2)))
        elif arr.ndim == 1:
            rows = labels(len(arr), prefer_count=not series_key)
            if rows == names:
                per_series[key] = arr
            else:
                frame = pd.DataFrame({key: arr}, index=rows)
                blocks.append(frame.to_string(float_format=fmt))
        elif arr.ndim == 2 and arr.shape == (1, 1) and series_key:
            continue  # the correlation of a single series with itself
        else:
            mats = [arr] if arr.ndim == 2 else list(arr)
            outer = (
                [""]
                if arr.ndim == 2
                else [f" [{x}]" for x in labels(arr.shape[0], prefer_count=True)]
            )
            for title, mat in zip(outer, mats, strict=True):
                rows = labels(mat.shape[0], prefer_count=not series_key)
                cols = labels(mat.shape[1], prefer_count=count_key, allow_series=not count_key)
                frame = pd.DataFrame(mat, index=rows, columns=cols)
                blocks.append(f"{key}{title}:\n{frame.to_string(float_format=fmt)}")

    lines = [f"Model: {params.get('kind', '?')}"]
    if n:
        lines.append(f"Series: {', '.join(names)}")
    if per_series:
        titles = {"mu": "mu (annual mean)", "vol": "vol (annual)"}
        frame = pd.DataFrame({titles.get(k, k): v for k, v in per_series.items()}, index=names)
        lines += ["", frame.to_string(float_format=_fmt4)]
    if scalars:
        lines += ["", *(f"{k}: {_inline(v)}" for k, v in scalars.items())]
    for block in blocks:
        lines += ["", block]
    return "\n".join(lines)


def _inline(value: Any) -> str | None:
    """A scalar or a flat list as one short string, or None for nested values."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None or isinstance(value, (str, bool, int)):
        return str(value)
    if isinstance(value, (list, tuple)):
        parts = [_inline(v) for v in value]
        if all(p is not None and not p.startswith("[") for p in parts):
            return "[" + ", ".join(parts) + "]"  # type: ignore[arg-type]
    return None


def _outline(value: Any, indent: int) -> list[str]:
    """Nested dicts and lists as indented ``key: value`` lines, numbers to 6 digits."""
    pad = " " * indent
    items = value.items() if isinstance(value, Mapping) else enumerate(value)
    lines = []
    for key, item in items:
        text = _inline(item)
        if text is not None:
            lines.append(f"{pad}{key}: {text}")
        elif isinstance(item, (Mapping, list, tuple)):
            lines += [f"{pad}{key}:", *_outline(item, indent + 2)]
        else:
            lines.append(f"{pad}{key}: {item!r}")
    return lines


def _fmt4(v: float) -> str:
    return f"{v:.4f}"


def _numeric_array(value: Any) -> np.ndarray | None:
    """A rectangular float array from nested lists of numbers, or None."""
    if not isinstance(value, list):
        return None
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged
        return None
    if arr.dtype.kind not in "iuf":
        return None
    return arr.astype(float)
