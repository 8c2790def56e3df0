"""Stress transforms: deterministic rewrites of a block's simulated returns.

Every stress changes only a window of steps, so the kernels work in place on a stressed
buffer that already holds a copy of the model's returns: a ``*_rewrite_nb`` kernel reads the
returns and overwrites only the cells of ``out`` the stress changes (inside its window), and
:func:`restore_window_nb` copies the window back once the policies have run on it. A chunk's
returns are then copied once for all its stresses, and each stress costs in proportion to its
window, not to the whole path. ``out`` must not share memory with the returns (the caller
checks); no kernel modifies its inputs.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def restore_window_nb(returns, starts, n_window, out):
    """Copy each path's window of steps back from the returns, every series.

    Path ``p`` gets ``returns[p, t]`` for ``starts[p] <= t < starts[p] + n_window``; the other
    steps of ``out`` are not touched. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    starts : ndarray of shape (n_paths,)
        int64 first step of the window on each path, with
        ``0 <= starts[p] <= n_steps - n_window``.
    n_window : int
        Steps in the window (>= 0).
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, the stressed buffer.
    """
    n_paths, _, n_series = returns.shape
    for p in range(n_paths):
        s = starts[p]
        for t in range(s, s + n_window):
            for i in range(n_series):
                out[p, t, i] = returns[p, t, i]


@njit(cache=True, nogil=True)
def splice_rewrite_nb(episode, starts, out):
    """Write an episode's returns into a window of steps of every path.

    Path ``p`` gets ``episode`` at steps ``[starts[p], starts[p] + n_episode)``, every series;
    the other steps of ``out`` are not touched. Numba-compiled.

    Parameters
    ----------
    episode : ndarray of shape (n_episode, n_series)
        C-contiguous float64 simple returns per step of the episode, every series.
    starts : ndarray of shape (n_paths,)
        int64 first step of the episode on each path, with
        ``0 <= starts[p] <= n_steps - n_episode``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, the stressed buffer.
    """
    n_paths = out.shape[0]
    n_episode, n_series = episode.shape
    for p in range(n_paths):
        s = starts[p]
        for k in range(n_episode):
            for i in range(n_series):
                out[p, s + k, i] = episode[k, i]


@njit(cache=True, nogil=True)
def shock_rewrite_nb(returns, shock, step, out):
    """Apply a one-off jump at the start of one step: ``r' = (1 + r)(1 + shock) - 1``.

    The shock compounds with that step's market return; only the cells of ``step`` whose
    shock is not exactly 0 are written. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    shock : ndarray of shape (n_series,)
        float64 simple return of the jump per series (> -1).
    step : int
        Step at whose start the jump happens, ``0 <= step < n_steps``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, the stressed buffer.
    """
    n_paths, _, n_series = returns.shape
    for p in range(n_paths):
        for i in range(n_series):
            q = shock[i]
            if q != 0.0:
                out[p, step, i] = (1.0 + returns[p, step, i]) * (1.0 + q) - 1.0


@njit(cache=True, nogil=True)
def linear_rewrite_nb(returns, drift, matrix, rows, start, stop, out):
    """Rebuild some series' log returns inside a window by a linear map of the deviations.

    For steps ``start <= t < stop`` and each series ``i`` in ``rows``,
    ``log(1 + r'_i) = drift_i + sum_j matrix[i, j] * (log(1 + r_j) - drift_j)``; only those
    cells are written. With ``matrix = L' L^{-1}`` (``L`` the model's Cholesky factor per step,
    ``L'`` the stressed one) this recovers the standardised draws and rebuilds them with the
    stressed covariance. One ``log1p`` per series the rows use and one ``expm1`` per row, per
    step. Numba-compiled.

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
        C-contiguous float64, the stressed buffer.
    """
    n_paths, _, n_series = returns.shape
    n_rows = rows.shape[0]
    # The map is triangular in the resolved order: list each row's nonzero columns once, so
    # the inner product skips the zeros and series no row uses are never logged.
    cols = np.empty((n_rows, n_series), dtype=np.int64)
    n_cols = np.zeros(n_rows, dtype=np.int64)
    used = np.zeros(n_series, dtype=np.bool_)
    for k in range(n_rows):
        for j in range(n_series):
            if matrix[rows[k], j] != 0.0:
                cols[k, n_cols[k]] = j
                n_cols[k] += 1
                used[j] = True
    dev = np.zeros(n_series)
    for p in range(n_paths):
        for t in range(start, stop):
            for j in range(n_series):
                if used[j]:
                    dev[j] = np.log1p(returns[p, t, j]) - drift[j]
            for k in range(n_rows):
                i = rows[k]
                x = 0.0
                for c in range(n_cols[k]):
                    j = cols[k, c]
                    x += matrix[i, j] * dev[j]
                out[p, t, i] = np.expm1(drift[i] + x)


@njit(cache=True, nogil=True)
def scale_rewrite_nb(returns, drift, scale, rows, start, stop, out):
    """Scale some series' log-return deviations from the drift inside a window.

    For steps ``start <= t < stop`` and each series ``i`` in ``rows``,
    ``log(1 + r'_i) = drift_i + scale_i (log(1 + r_i) - drift_i)``: the linear map of
    :func:`linear_rewrite_nb` with a diagonal matrix, without the matrix. Only those cells are
    written. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    drift : ndarray of shape (n_series,)
        float64 mean log return per step of the model.
    scale : ndarray of shape (n_series,)
        float64 multiplier of the deviations per series.
    rows : ndarray of shape (n_rows,)
        int64 indices of the series that are rescaled.
    start, stop : int
        Window of steps, ``0 <= start < stop <= n_steps``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, the stressed buffer.
    """
    n_paths = returns.shape[0]
    n_rows = rows.shape[0]
    for p in range(n_paths):
        for t in range(start, stop):
            for k in range(n_rows):
                i = rows[k]
                m = drift[i]
                out[p, t, i] = np.expm1(m + scale[i] * (np.log1p(returns[p, t, i]) - m))


@njit(cache=True, nogil=True)
def drift_rewrite_nb(returns, shift, start, stop, out):
    """Add a shift to the log return of each series inside a window of steps.

    For ``start <= t < stop``, ``log(1 + r'_i) = log(1 + r_i) + shift_i``, computed as
    ``r'_i = r_i g_i + (g_i - 1)`` with ``g_i = exp(shift_i)`` and ``g_i - 1 = expm1(shift_i)``
    taken once per series: one multiply-add per cell instead of a ``log1p`` and an ``expm1``.
    This is ``(1 + r) g - 1`` without the cancellation of subtracting 1, and differs from the
    log-space form by a few units in the last place of ``max(|r|, |r'|, |g - 1|)``. Series
    whose shift is exactly 0 keep their returns bit for bit. Numba-compiled.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns per step.
    shift : ndarray of shape (n_series,)
        float64 shift of the log return per step (an annual shift times ``dt``).
    start, stop : int
        Window of steps, ``0 <= start < stop <= n_steps``.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, the stressed buffer.
    """
    n_paths, _, n_series = returns.shape
    growth = np.exp(shift)
    growth_m1 = np.expm1(shift)
    for p in range(n_paths):
        for t in range(start, stop):
            # A select over every series (not a list of the shifted ones) keeps the loop
            # contiguous, so it vectorises: about twice as fast on the W1 row.
            for i in range(n_series):
                r = returns[p, t, i]
                out[p, t, i] = r * growth[i] + growth_m1[i] if shift[i] != 0.0 else r
