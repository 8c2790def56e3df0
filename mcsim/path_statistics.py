"""Per-path statistics of return series: the model check's yardsticks, vectorised over paths.

Every statistic takes simple returns of shape (n_paths, n_steps, n_series) (or one history of
shape (n_steps, n_series)) and gives one value per path and series, in NumPy, so the same
function measures a history and every simulated path. See ``docs/model_check.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd

__all__ = [
    "STATISTICS",
    "annualised_mean",
    "annualised_vol",
    "cagr",
    "compound",
    "excess_kurtosis",
    "max_drawdown",
    "pairwise_correlation",
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


_ACF_LAGS = np.arange(1, 13)
_PAIR_SEP = "~"


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
