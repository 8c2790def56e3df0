"""The model check: does a fitted return model look like the history it was fitted to?

A fitted model is simulated many times over the length of the history, and every statistic of
:mod:`mcsim.path_statistics` is computed by the *same* function on the history and on every
simulated path. The table then says, per statistic and series, where history falls in the
simulated distribution:

>>> import mcsim
>>> from mcsim.model_check import model_check
>>> hist = mcsim.load_returns("shiller", columns=["us_stocks_tr", "us_bonds_10y_tr"])
>>> model = mcsim.GaussianModel().fit(hist, periods_per_year=12)
>>> table = model_check(model, hist, 12, n_paths=500, seed=1)  # doctest: +SKIP
>>> table.loc["excess_kurtosis"]                                 # doctest: +SKIP

See ``docs/model_check.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_int
from .errors import ConfigError, DataError
from .models import MODELS, ReturnModel, model_from_config
from .path_statistics import compound, path_statistics

__all__ = ["MODEL_CHECK_PATHS", "compare_models", "model_check", "verdict"]

MODEL_CHECK_PATHS = 1000
"""Simulated paths of a run's model check (its 5-95 % band is good to about 1 point)."""

_CHUNK_VALUES = 2_000_000  # simulated floats held at once (16 MB), bounding memory


def _history_array(model: ReturnModel, history: pd.DataFrame | np.ndarray) -> np.ndarray:
    names = model.series_names
    if isinstance(history, pd.DataFrame):
        cols = [str(c) for c in history.columns]
        missing = [n for n in names if n not in cols]
        if missing:
            raise DataError(
                f"The history has no column(s) {', '.join(map(repr, missing))} that the model "
                f"simulates; its columns are {', '.join(map(repr, cols))}. Check the history "
                "against the data the model was fitted to."
            )
        x = history.set_axis(cols, axis=1)[names].to_numpy(dtype=float)
    else:
        x = np.asarray(history, dtype=float)
        if x.ndim != 2 or x.shape[1] != len(names):
            raise DataError(
                f"The history must have shape (n_periods, {len(names)}) for the model's series "
                f"({', '.join(names)}); got shape {x.shape}."
            )
    if not np.isfinite(x).all():
        raise DataError("The history has missing or non-finite returns; drop or fill those rows.")
    return x


def _frequencies(periods_per_year: int, steps_per_year: int | None) -> tuple[int, int, int, int]:
    """(simulation steps per year, comparison periods per year, history group, sim group)."""
    ppy = as_int(periods_per_year, "periods_per_year", low=1)
    spy = ppy if steps_per_year is None else as_int(steps_per_year, "steps_per_year", low=1)
    if spy % ppy and ppy % spy:
        raise ConfigError(
            f"`steps_per_year` ({spy}) must be a multiple or a divisor of the data's periods per "
            f"year ({ppy}) so simulated and historical returns can be compounded to the same "
            "frequency; pick for example "
            f"{ppy} or {ppy * 2}."
        )
    freq = min(ppy, spy)
    return spy, freq, ppy // freq, spy // freq


def model_check(
    model: ReturnModel,
    history: pd.DataFrame | np.ndarray,
    periods_per_year: int,
    *,
    steps_per_year: int | None = None,
    n_paths: int = 1000,
    seed: int | np.random.SeedSequence | None = 0,
) -> pd.DataFrame:
    """Compare statistics of a fitted model's simulations with the same statistics of history.

    The model simulates ``n_paths`` paths as long as the history. When ``steps_per_year``
    differs from ``periods_per_year``, both are compounded to the coarser of the two
    frequencies (history and simulation in consecutive groups from their first period) before
    the statistics are computed, so they are always compared at one frequency.

    Parameters
    ----------
    model : ReturnModel
        A fitted model (or one with explicit parameters) whose series are columns of
        ``history``.
    history : pandas.DataFrame or ndarray of shape (n_periods, n_series)
        Simple returns per period (fractions). DataFrame columns are matched to
        ``model.series_names`` by name.
    periods_per_year : int
        Periods per year of ``history`` (12 for monthly).
    steps_per_year : int, optional
        Steps per year of the simulation; a multiple or divisor of ``periods_per_year``.
        Default: ``periods_per_year``.
    n_paths : int
        Number of simulated paths (>= 20). The 5 % and 95 % quantiles of 1000 paths are
        estimated to about +-0.7 percentage points of probability.
    seed : int or numpy.random.SeedSequence, optional
        Seed of the simulation.

    Returns
    -------
    pandas.DataFrame
        Index (statistic, series), statistic names as in :data:`STATISTICS`; columns
        ``history``, ``sim_median``, ``sim_p05``, ``sim_p95`` (float) and ``inside_90`` (bool:
        ``sim_p05 <= history <= sim_p95``; False when either side is undefined, e.g. the
        skewness of a constant series). ``attrs`` records ``model``, ``n_paths``, ``seed``,
        ``periods_per_year`` (of the comparison), ``steps_per_year`` and ``n_periods``.
    """
    model.check_fitted()
    n_paths = as_int(n_paths, "n_paths", low=20)
    spy, freq, hist_group, sim_group = _frequencies(periods_per_year, steps_per_year)
    loaded = getattr(history, "attrs", {}).get("periods_per_year")
    if loaded is not None and int(loaded) != periods_per_year:
        raise ConfigError(
            f"`periods_per_year` is {periods_per_year} but the history was loaded with "
            f"{loaded} periods per year; pass periods_per_year={loaded}."
        )
    x = _history_array(model, history)
    hist = compound(x, hist_group)
    n_periods = hist.shape[1]
    if n_periods < 3:
        raise DataError(
            f"The history has {n_periods} periods at {freq} per year; the model check needs at "
            "least 3. Use a longer history."
        )
    names = model.series_names
    n_steps = n_periods * sim_group
    stats_hist = path_statistics(hist, freq, names)

    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_paths, _CHUNK_VALUES // (n_steps * len(names))))
    parts = []
    for start in range(0, n_paths, chunk):  # chunks of paths bound memory; draws stay in order
        out = np.empty((min(chunk, n_paths - start), n_steps, len(names)))
        model.simulate_into(rng, out, spy)
        parts.append(path_statistics(compound(out, sim_group), freq, names).to_numpy())
    sims = np.concatenate(parts, axis=0)

    with warnings.catch_warnings():  # an undefined statistic ("All-NaN slice") stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        q05, q50, q95 = np.nanquantile(sims, [0.05, 0.5, 0.95], axis=0)
    h = stats_hist.to_numpy()[0]
    table = pd.DataFrame(
        {
            "history": h,
            "sim_median": q50,
            "sim_p05": q05,
            "sim_p95": q95,
            "inside_90": (h >= q05) & (h <= q95),
        },
        index=stats_hist.columns,
    )
    table.attrs.update(
        model=getattr(model, "kind", type(model).__name__),
        n_paths=n_paths,
        seed=seed if isinstance(seed, int) else None,
        periods_per_year=freq,
        steps_per_year=spy,
        n_periods=n_periods,
    )
    return table


def _model_specs(kinds: Sequence[str] | Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
    if isinstance(kinds, str):
        kinds = [kinds]
    if isinstance(kinds, Mapping):
        specs = {}
        for label, options in kinds.items():
            options = dict(options or {})
            options.setdefault("kind", label)
            specs[str(label)] = options
        return specs
    if not kinds:
        raise ConfigError(
            f"`kinds` must name at least one model; valid kinds are {', '.join(sorted(MODELS))}."
        )
    return {str(k): {"kind": str(k)} for k in kinds}


def compare_models(
    history: pd.DataFrame,
    periods_per_year: int,
    kinds: Sequence[str] | Mapping[str, Mapping[str, Any]],
    *,
    steps_per_year: int | None = None,
    n_paths: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Fit several models to one history and show what each one reproduces, side by side.

    Parameters
    ----------
    history : pandas.DataFrame
        Simple returns per period (fractions), one column per series.
    periods_per_year : int
        Periods per year of ``history``.
    kinds : list of str or dict of {label: options}
        Model kinds (``["gaussian", "student_t"]``), or labels mapped to their ``[model]``
        options (``{"t5": {"kind": "student_t", "df": 5}}``; ``kind`` defaults to the label).
    steps_per_year, n_paths, seed
        As in :func:`model_check`; every model uses the same seed.

    Returns
    -------
    pandas.DataFrame
        Index (statistic, series) as in :func:`model_check`. Columns are a MultiIndex
        (model, field): ``("history", "value")`` then, per model label,
        ``(label, "sim_median")`` and ``(label, "inside_90")``. The number of statistics each
        model reproduces is ``table.xs("inside_90", axis=1, level=1).sum()``.
    """
    specs = _model_specs(kinds)
    columns: dict[tuple[str, str], pd.Series] = {}
    for label, options in specs.items():
        model = model_from_config(options, f"[model] ({label})")
        model.fit(history, periods_per_year=periods_per_year)
        table = model_check(
            model,
            history,
            periods_per_year,
            steps_per_year=steps_per_year,
            n_paths=n_paths,
            seed=seed,
        )
        if not columns:
            columns["history", "value"] = table["history"]
        columns[label, "sim_median"] = table["sim_median"]
        columns[label, "inside_90"] = table["inside_90"]
    out = pd.DataFrame(columns)
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["model", "field"])
    return out


def verdict(table: pd.DataFrame) -> str:
    """One sentence on a :func:`model_check` table: how many statistics history falls inside
    the simulated 5-95 % band for, and which ones are outside.
    """
    n_in = int(table["inside_90"].sum())
    outside = [f"{s}[{k}]" for (s, k), ok in table["inside_90"].items() if not ok]
    verdict = f"History is inside the simulated 5-95 % band for {n_in} of {len(table)} statistics."
    if outside:
        verdict += " Outside: " + ", ".join(outside) + "."
    return verdict
