"""Model checking: does a fitted return model look like the history it was fitted to?

A fitted model is simulated many times over the length of the history, and a set of statistics
(mean, volatility, skewness, tails, volatility clustering, worst year, drawdown, correlation) is
computed by the *same* function on the history and on every simulated path. The table then says,
per statistic and series, where history falls in the simulated distribution:

>>> import mcsim
>>> from mcsim.diagnostics import model_check
>>> hist = mcsim.load_returns("shiller", columns=["us_stocks_tr", "us_bonds_10y_tr"])
>>> model = mcsim.GaussianModel().fit(hist, periods_per_year=12)
>>> table = model_check(model, hist, 12, n_paths=500, seed=1)  # doctest: +SKIP
>>> table.loc["excess_kurtosis"]                                 # doctest: +SKIP

Every statistic is vectorised over paths in NumPy: a (n_paths, n_steps, n_series) array of
simple returns goes in, one value per path comes out. See ``docs/model_check.md``.
"""

from __future__ import annotations

import json
import math
import textwrap
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_int
from .errors import ConfigError, DataError
from .models import MODELS, ReturnModel, model_from_config

__all__ = [
    "STATISTICS",
    "annualised_mean",
    "annualised_vol",
    "cagr",
    "compare_models",
    "compound",
    "excess_kurtosis",
    "fit_command",
    "format_check_table",
    "format_params",
    "max_drawdown",
    "model_check",
    "model_check_figure",
    "pairwise_correlation",
    "parse_options",
    "path_statistics",
    "return_acf",
    "skewness",
    "squared_return_acf",
    "worst_window_return",
]

STATISTICS: dict[str, str] = {
    "ann_mean": "annualised arithmetic mean of simple returns (fraction per year)",
    "ann_vol": "annualised volatility of simple returns (fraction per year)",
    "cagr": "compound annual growth rate over the whole length (fraction per year)",
    "skewness": "skewness of returns per period (biased moment ratio m3 / m2^1.5)",
    "excess_kurtosis": "excess kurtosis of returns per period (m4 / m2^2 - 3; 0 for a normal)",
    "acf_lag1": "lag-1 autocorrelation of returns (momentum > 0, mean reversion < 0)",
    "acf_sq_lag1": "lag-1 autocorrelation of squared demeaned returns (volatility clustering)",
    "acf_sq_1_12": "mean autocorrelation of squared demeaned returns over lags 1-12",
    "worst_12m": "worst compounded return over any 12-month window (fraction)",
    "max_drawdown": "maximum drawdown of wealth over the whole length (positive fraction)",
    "correlation": "Pearson correlation of returns per period, per pair of series",
}
"""Statistic names (first level of the model-check index) and what each one measures."""

_CHUNK_VALUES = 2_000_000  # simulated floats held at once (16 MB), bounding memory
_ACF_LAGS = np.arange(1, 13)
_PAIR_SEP = "~"


# --------------------------------------------------------------------------------------------
# Statistics: arrays of shape (n_paths, n_steps, n_series) in, (n_paths, n_series) out
# --------------------------------------------------------------------------------------------


def _as_paths(returns: np.ndarray) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim == 2:
        r = r[None]
    if r.ndim != 3:
        raise ValueError(
            f"returns must have shape (n_paths, n_steps, n_series) or (n_steps, n_series); "
            f"got shape {r.shape}."
        )
    return r


_EPS = float(np.finfo(float).resolution) * 10  # relative size of rounding noise (as SciPy)


class _Paths:
    """Returns laid out as (path, series, step), C-contiguous, so every reduction over steps
    runs over contiguous memory; intermediates shared by several statistics are kept."""

    def __init__(self, returns: np.ndarray) -> None:
        r = _as_paths(returns)
        self.n_paths, self.n_steps, self.n_series = r.shape
        self.x = np.ascontiguousarray(r.transpose(0, 2, 1))

    @cached_property
    def dev(self) -> np.ndarray:
        """Deviations from each path's mean."""
        return self.x - self.x.mean(axis=2, keepdims=True)

    @cached_property
    def dev2(self) -> np.ndarray:
        return self.dev * self.dev

    @cached_property
    def m2(self) -> np.ndarray:
        return self.dev2.mean(axis=2)

    @cached_property
    def constant(self) -> np.ndarray:
        """(n_paths, n_series) mask of series constant up to rounding (moments undefined)."""
        return _is_constant(self.x, self.m2)

    @cached_property
    def log_wealth(self) -> np.ndarray:
        """Log wealth of shape (n_paths, n_series, n_steps + 1), starting at 0."""
        out = np.zeros((self.n_paths, self.n_series, self.n_steps + 1))
        np.cumsum(np.log1p(self.x), axis=2, out=out[:, :, 1:])
        return out


def _is_constant(x: np.ndarray, m2: np.ndarray) -> np.ndarray:
    return m2 <= (_EPS * x.mean(axis=2)) ** 2


def _acf(x: np.ndarray, lags: Sequence[int], undefined: np.ndarray | None = None) -> np.ndarray:
    """Sample ACF of x of shape (n_paths, n_series, n_steps): (n_paths, n_series, n_lags).

    NaN where x is constant or ``undefined`` (n_paths, n_series) is True.
    """
    c = x - x.mean(axis=2, keepdims=True)
    denom = np.einsum("pst,pst->ps", c, c)
    flat = _is_constant(x, denom / x.shape[2])
    if undefined is not None:
        flat |= undefined
    out = np.full((*x.shape[:2], len(lags)), np.nan)
    for i, k in enumerate(lags):  # a loop over lags; each lag is vectorised over paths
        if 0 < k < x.shape[2]:
            num = np.einsum("pst,pst->ps", c[:, :, :-k], c[:, :, k:])
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, :, i] = np.where(flat, np.nan, num / denom)
    return out


def _mean(p: _Paths, ppy: int) -> np.ndarray:
    return p.x.mean(axis=2) * ppy


def _vol(p: _Paths, ppy: int) -> np.ndarray:
    if p.n_steps < 2:
        return np.full((p.n_paths, p.n_series), np.nan)
    return np.sqrt(p.m2 * (p.n_steps / (p.n_steps - 1)) * ppy)


def _cagr(p: _Paths, ppy: int) -> np.ndarray:
    return np.expm1(p.log_wealth[:, :, -1] * ppy / p.n_steps)


def _skewness(p: _Paths) -> np.ndarray:
    m3 = np.einsum("pst,pst->ps", p.dev2, p.dev) / p.n_steps
    with np.errstate(invalid="ignore", divide="ignore"):
        out = m3 / p.m2**1.5
    return np.where(p.constant, np.nan, out)


def _kurtosis(p: _Paths) -> np.ndarray:
    m4 = np.einsum("pst,pst->ps", p.dev2, p.dev2) / p.n_steps
    with np.errstate(invalid="ignore", divide="ignore"):
        out = m4 / (p.m2 * p.m2) - 3.0
    return np.where(p.constant, np.nan, out)


def _worst_window(p: _Paths, window: int) -> np.ndarray:
    if window < 1 or p.n_steps < window:
        return np.full((p.n_paths, p.n_series), np.nan)
    lw = p.log_wealth
    return np.expm1((lw[:, :, window:] - lw[:, :, :-window]).min(axis=2))


def _drawdown(p: _Paths) -> np.ndarray:
    lw = p.log_wealth
    peak = np.maximum.accumulate(lw, axis=2)
    return -np.expm1(-(peak - lw).max(axis=2))


def _correlation(p: _Paths) -> np.ndarray:
    cov = p.dev @ p.dev.transpose(0, 2, 1)
    sd = np.sqrt(np.einsum("pii->pi", cov))
    iu, ju = np.triu_indices(p.n_series, k=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = cov[:, iu, ju] / (sd[:, iu] * sd[:, ju])
    return np.where(p.constant[:, iu] | p.constant[:, ju], np.nan, out)


def annualised_mean(returns: np.ndarray, periods_per_year: int) -> np.ndarray:
    """Arithmetic mean of simple returns per period times ``periods_per_year``.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series) or (n_steps, n_series)
        Simple returns per period (fractions).
    periods_per_year : int
        Periods per year of ``returns``.

    Returns
    -------
    ndarray of shape (n_paths, n_series)
        Fraction per year.
    """
    return _mean(_Paths(returns), periods_per_year)


def annualised_vol(returns: np.ndarray, periods_per_year: int) -> np.ndarray:
    """Sample standard deviation (``ddof=1``) of simple returns times ``sqrt(periods_per_year)``.

    Shapes as in :func:`annualised_mean`; NaN for fewer than 2 periods. Fraction per year.
    """
    return _vol(_Paths(returns), periods_per_year)


def cagr(returns: np.ndarray, periods_per_year: int) -> np.ndarray:
    """Compound annual growth rate ``(prod(1 + r))**(periods_per_year / n_steps) - 1``.

    Shapes as in :func:`annualised_mean`. Fraction per year.
    """
    return _cagr(_Paths(returns), periods_per_year)


def skewness(returns: np.ndarray) -> np.ndarray:
    """Skewness ``m3 / m2**1.5`` with biased central moments ``m_k = mean((r - mean)**k)``.

    Equals ``scipy.stats.skew(r, axis=1, bias=True)`` (SciPy's default). NaN for a constant
    series. Shapes as in :func:`annualised_mean`.
    """
    return _skewness(_Paths(returns))


def excess_kurtosis(returns: np.ndarray) -> np.ndarray:
    """Excess kurtosis ``m4 / m2**2 - 3`` with biased central moments (0 for a normal).

    Equals ``scipy.stats.kurtosis(r, axis=1, fisher=True, bias=True)`` (SciPy's default).
    NaN for a constant series. Shapes as in :func:`annualised_mean`.
    """
    return _kurtosis(_Paths(returns))


def return_acf(returns: np.ndarray, lag: int = 1) -> np.ndarray:
    r"""Sample autocorrelation of returns at one lag.

    :math:`\rho_k = \sum_{t=1}^{n-k} d_t d_{t+k} / \sum_{t=1}^{n} d_t^2` with
    :math:`d_t = r_t - \bar r` (``statsmodels.tsa.stattools.acf`` with ``adjusted=False``).
    Positive when returns trend (or when prices are period averages), negative when they
    revert. Returns an ndarray of shape (n_paths, n_series); NaN for a constant series or
    ``lag >= n_steps``.
    """
    return _acf(_Paths(returns).x, [lag])[:, :, 0]


def squared_return_acf(returns: np.ndarray, lags: Sequence[int] = tuple(_ACF_LAGS)) -> np.ndarray:
    r"""Autocorrelation of squared demeaned returns at the given lags (volatility clustering).

    The sample ACF of :func:`return_acf` applied to :math:`y_t = (r_t - \bar r)^2`.
    Near 0 for i.i.d. returns; clearly positive when calm and turbulent periods cluster.

    Returns
    -------
    ndarray of shape (n_paths, n_series, n_lags)
        NaN for a lag >= n_steps or a series whose squared deviations are constant.
    """
    p = _Paths(returns)
    return _acf(p.dev2, lags, p.constant)


def worst_window_return(returns: np.ndarray, window: int) -> np.ndarray:
    """Worst compounded simple return over any ``window`` consecutive periods.

    ``min over t of prod(1 + r[t : t + window]) - 1``; NaN when there are fewer than ``window``
    periods. Shapes as in :func:`annualised_mean`. Fraction (negative for a loss).
    """
    return _worst_window(_Paths(returns), window)


def max_drawdown(returns: np.ndarray) -> np.ndarray:
    """Largest fall of wealth from its running peak, as a positive fraction.

    Wealth starts at 1 before the first return (a first-period loss counts), so this is
    ``max over t of 1 - W_t / max_{s <= t} W_s``. Shapes as in :func:`annualised_mean`.
    """
    return _drawdown(_Paths(returns))


def pairwise_correlation(returns: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pair of series ``(i, j)``, ``i < j``, in row-major order.

    Returns
    -------
    ndarray of shape (n_paths, n_series * (n_series - 1) / 2)
        NaN for a pair with a constant series.
    """
    return _correlation(_Paths(returns))


def compound(returns: np.ndarray, k: int) -> np.ndarray:
    """Compound simple returns over consecutive groups of ``k`` periods, from the first.

    An incomplete group at the end is dropped. ``returns`` of shape (n_paths, n_steps,
    n_series) gives shape (n_paths, n_steps // k, n_series).
    """
    r = _as_paths(returns)
    if k == 1:
        return r
    n = (r.shape[1] // k) * k
    grouped = r[:, :n].reshape(r.shape[0], n // k, k, r.shape[2])
    return np.expm1(np.log1p(grouped).sum(axis=2))


def _row_index(series_names: Sequence[str]) -> pd.MultiIndex:
    names = [str(s) for s in series_names]
    rows = [(stat, s) for stat in STATISTICS if stat != "correlation" for s in names]
    iu, ju = np.triu_indices(len(names), k=1)
    pairs = zip(iu.tolist(), ju.tolist(), strict=True)
    rows += [("correlation", f"{names[i]}{_PAIR_SEP}{names[j]}") for i, j in pairs]
    return pd.MultiIndex.from_tuples(rows, names=["statistic", "series"])


def path_statistics(
    returns: np.ndarray, periods_per_year: int, series_names: Sequence[str]
) -> pd.DataFrame:
    """Every model-check statistic of every path: one row per path, one column per statistic.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series) or (n_steps, n_series)
        Simple returns per period (fractions). A history is one path.
    periods_per_year : int
        Periods per year of ``returns``; used to annualise and as the window of ``worst_12m``.
    series_names : sequence of str
        Names of the series, in column order.

    Returns
    -------
    pandas.DataFrame of shape (n_paths, n_statistics)
        Columns are a MultiIndex (statistic, series) in the order of :data:`STATISTICS`;
        correlation columns are named ``"a~b"``.
    """
    p = _Paths(returns)
    if p.n_series != len(series_names):
        raise ValueError(
            f"returns have {p.n_series} series but {len(series_names)} names were given."
        )
    ppy = periods_per_year
    acf_sq = _acf(p.dev2, _ACF_LAGS, p.constant)
    blocks = [
        _mean(p, ppy),
        _vol(p, ppy),
        _cagr(p, ppy),
        _skewness(p),
        _kurtosis(p),
        _acf(p.x, [1])[:, :, 0],
        acf_sq[:, :, 0],
        acf_sq.mean(axis=2),  # NaN unless every lag 1-12 is defined
        _worst_window(p, ppy),
        _drawdown(p),
        _correlation(p),
    ]
    values = np.concatenate(blocks, axis=1)
    return pd.DataFrame(values, columns=_row_index(series_names))


# --------------------------------------------------------------------------------------------
# Model check
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Figures and text
# --------------------------------------------------------------------------------------------


def model_check_figure(table: pd.DataFrame):
    """Plotly figure of a :func:`model_check` table: one panel per statistic.

    Each panel shows, per series, the simulated 5-95 % band (a floating bar), the simulated
    median (a dash) and the historical value (a diamond: green inside the band, red outside).

    Returns
    -------
    plotly.graph_objects.Figure
        Three traces per statistic (band, median, history), in the order of the table.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    stats = list(dict.fromkeys(table.index.get_level_values("statistic")))
    n_cols = min(3, len(stats))
    n_rows = math.ceil(len(stats) / n_cols)
    fig = make_subplots(
        rows=n_rows,
        cols=n_cols,
        subplot_titles=stats,
        vertical_spacing=min(0.12, 0.6 / max(n_rows - 1, 1)),
        horizontal_spacing=0.08,
    )
    for i, stat in enumerate(stats):
        sub = table.xs(stat, level="statistic")
        row, col = i // n_cols + 1, i % n_cols + 1
        x = [str(s) for s in sub.index]
        first = i == 0
        fig.add_trace(
            go.Bar(
                x=x,
                y=sub["sim_p95"] - sub["sim_p05"],
                base=sub["sim_p05"],
                name="simulated 5-95 %",
                marker_color="rgba(70, 130, 180, 0.35)",
                legendgroup="band",
                showlegend=first,
                hovertemplate="%{x}<br>5 %%: %{base:.4g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=sub["sim_median"],
                mode="markers",
                name="simulated median",
                marker={"symbol": "line-ew-open", "size": 18, "color": "steelblue"},
                legendgroup="median",
                showlegend=first,
            ),
            row=row,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=sub["history"],
                mode="markers",
                name="history",
                marker={
                    "symbol": "diamond",
                    "size": 10,
                    "color": ["seagreen" if v else "crimson" for v in sub["inside_90"]],
                },
                legendgroup="history",
                showlegend=first,
            ),
            row=row,
            col=col,
        )
    model = table.attrs.get("model", "model")
    n_paths = table.attrs.get("n_paths")
    title = f"Model check: history vs {n_paths or ''} simulated paths of the {model} model"
    fig.update_layout(
        title=" ".join(title.split()),
        height=300 * n_rows + 100,
        barmode="overlay",
        template="plotly_white",
    )
    return fig


def format_check_table(table: pd.DataFrame) -> str:
    """The model-check table as aligned text, with a verdict (see :func:`model_check`) below."""
    shown = table[["history", "sim_p05", "sim_median", "sim_p95"]].copy()
    shown["inside_90"] = np.where(table["inside_90"], "yes", "NO")
    text = shown.to_string(float_format=lambda v: f"{v:.4f}")
    return text + "\n\n" + textwrap.fill(_verdict(table), width=100, break_on_hyphens=False)


def _verdict(table: pd.DataFrame) -> str:
    n_in = int(table["inside_90"].sum())
    outside = [f"{s}[{k}]" for (s, k), ok in table["inside_90"].items() if not ok]
    verdict = f"History is inside the simulated 5-95 % band for {n_in} of {len(table)} statistics."
    if outside:
        verdict += " Outside: " + ", ".join(outside) + "."
    return verdict


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


def _html_page(table: pd.DataFrame, params: Mapping[str, Any], title: str) -> str:
    fig = model_check_figure(table)
    shown = table.copy()
    shown["inside_90"] = np.where(table["inside_90"], "yes", "NO")
    table_html = shown.to_html(float_format=lambda v: f"{v:.4f}", border=0, classes="check")
    rows = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in STATISTICS.items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table.check {{ border-collapse: collapse; font-size: 0.9em; }}
table.check td, table.check th {{ padding: 2px 10px; text-align: right; }}
table.check tr:nth-child(even) {{ background: #f4f6f8; }}
pre {{ background: #f4f6f8; padding: 1em; }}
</style></head><body>
<h1>{title}</h1>
<p>{_verdict(table)}</p>
{fig.to_html(full_html=False, include_plotlyjs=True)}
<h2>Table</h2>
{table_html}
<h2>Statistics</h2><ul>{rows}</ul>
<h2>Fitted parameters</h2>
<pre>{_escape(format_params(params, table.attrs.get("series_names")))}</pre>
</body></html>
"""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------------------------
# `mcsim fit`
# --------------------------------------------------------------------------------------------


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
    history = _load_history(source, kind=kind, columns=columns, start=start, end=end)
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
        (folder / "model_check.html").write_text(_html_page(table, params, title))
        print(f"\nWrote fit.json, model_check.csv and model_check.html to {folder}")
    return 0


def _load_history(source: str, **kwargs: Any) -> pd.DataFrame:
    from .data import load_returns

    return load_returns(source, **kwargs)
