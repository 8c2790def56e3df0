"""Stress transforms: deterministic rewrites of a block's simulated returns.

Each kernel reads the model's returns of shape (n_paths, n_steps, n_series), writes the
stressed returns into ``out`` of the same shape, and never modifies its inputs. ``out`` must not
share memory with the returns (the caller checks). Columns and steps the stress does not touch
are copied bit for bit.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def splice_nb(returns, episode, starts, out):
    """Replace a window of steps of every path with an episode's returns.

    Path ``p`` gets ``episode`` at steps ``[starts[p], starts[p] + n_episode)``; every other
    step is copied. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    episode : ndarray of shape (n_episode, n_series)
        C-contiguous float64 simple returns per step of the episode, every series.
    starts : ndarray of shape (n_paths,)
        int64 first step of the episode on each path, with
        ``0 <= starts[p] <= n_steps - n_episode``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with the stressed returns.
    """
    n_paths, n_steps, n_series = returns.shape
    n_episode = episode.shape[0]
    for p in range(n_paths):
        s = starts[p]
        for t in range(n_steps):
            k = t - s
            if 0 <= k < n_episode:
                for i in range(n_series):
                    out[p, t, i] = episode[k, i]
            else:
                for i in range(n_series):
                    out[p, t, i] = returns[p, t, i]


@njit(cache=True, nogil=True)
def shock_nb(returns, shock, step, out):
    """Apply a one-off jump at the start of one step: ``r' = (1 + r)(1 + shock) - 1``.

    The shock compounds with that step's market return; series whose shock is exactly 0 are
    copied, as are all other steps. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    shock : ndarray of shape (n_series,)
        float64 simple return of the jump per series (> -1).
    step : int
        Step at whose start the jump happens, ``0 <= step < n_steps``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with the stressed returns.
    """
    n_paths, n_steps, n_series = returns.shape
    for p in range(n_paths):
        for t in range(n_steps):
            for i in range(n_series):
                out[p, t, i] = returns[p, t, i]
        for i in range(n_series):
            q = shock[i]
            if q != 0.0:
                out[p, step, i] = (1.0 + returns[p, step, i]) * (1.0 + q) - 1.0


@njit(cache=True, nogil=True)
def linear_window_nb(returns, drift, matrix, rows, start, stop, out):
    """Rebuild some series' log returns inside a window by a linear map of the deviations.

    For steps ``start <= t < stop`` and each series ``i`` in ``rows``,
    ``log(1 + r'_i) = drift_i + sum_j matrix[i, j] * (log(1 + r_j) - drift_j)``; every other
    value is copied. With ``matrix = L' L^{-1}`` (``L`` the model's Cholesky factor per step,
    ``L'`` the stressed one) this recovers the standardised draws and rebuilds them with the
    stressed covariance. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    drift : ndarray of shape (n_series,)
        float64 mean log return per step of the model.
    matrix : ndarray of shape (n_series, n_series)
        C-contiguous float64 map from the deviations of all series to those of row ``i``.
    rows : ndarray of shape (n_rows,)
        int64 indices of the series that are rebuilt.
    start, stop : int
        Window of steps, ``0 <= start < stop <= n_steps``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with the stressed returns.
    """
    n_paths, n_steps, n_series = returns.shape
    dev = np.empty(n_series)
    for p in range(n_paths):
        for t in range(n_steps):
            for i in range(n_series):
                out[p, t, i] = returns[p, t, i]
        for t in range(start, stop):
            for j in range(n_series):
                dev[j] = np.log1p(returns[p, t, j]) - drift[j]
            for k in range(rows.shape[0]):
                i = rows[k]
                x = 0.0
                for j in range(n_series):
                    x += matrix[i, j] * dev[j]
                out[p, t, i] = np.expm1(drift[i] + x)


@njit(cache=True, nogil=True)
def drift_window_nb(returns, shift, start, stop, out):
    """Add a shift to the log return of each series inside a window of steps.

    For ``start <= t < stop``, ``log(1 + r'_i) = log(1 + r_i) + shift_i``; series whose shift
    is exactly 0, and all other steps, are copied. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    shift : ndarray of shape (n_series,)
        float64 shift of the log return per step (an annual shift times ``dt``).
    start, stop : int
        Window of steps, ``0 <= start < stop <= n_steps``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with the stressed returns.
    """
    n_paths, n_steps, n_series = returns.shape
    for p in range(n_paths):
        for t in range(n_steps):
            inside = start <= t < stop
            for i in range(n_series):
                d = shift[i]
                if inside and d != 0.0:
                    out[p, t, i] = np.expm1(np.log1p(returns[p, t, i]) + d)
                else:
                    out[p, t, i] = returns[p, t, i]
