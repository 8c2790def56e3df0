"""Bootstrap of historical return vectors: i.i.d. rows or Politis-Romano stationary blocks."""

from numba import njit


@njit(cache=True, nogil=True)
def bootstrap_iid_nb(rng, history, out):
    """Fill ``out`` with whole rows of ``history`` drawn uniformly with replacement.

    One ``rng.integers(0, n_obs)`` per path and step, path by path, so a block drawn in
    chunks gives the same numbers as in one call. Numba-compiled.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's own generator; advanced in place.
    history : ndarray of shape (n_obs, n_series)
        C-contiguous float64 simple returns per period (rows are resampled whole, which keeps
        the cross-series structure of each period).
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with simple returns per step.
    """
    n_paths, n_steps, n_series = out.shape
    n_obs = history.shape[0]
    for p in range(n_paths):
        for t in range(n_steps):
            k = rng.integers(0, n_obs)
            for j in range(n_series):
                out[p, t, j] = history[k, j]


@njit(cache=True, nogil=True)
def bootstrap_stationary_nb(rng, history, p_new, out):
    """Fill ``out`` with the stationary bootstrap (Politis and Romano 1994) of ``history``.

    Each path starts at a uniform random row. At each later step one uniform ``u`` is drawn:
    when ``u < p_new`` a new block starts at a uniform random row (one more
    ``rng.integers(0, n_obs)``), otherwise the path moves to the next row, wrapping from the
    last row to the first. Block lengths are geometric with mean ``1 / p_new``.
    Numba-compiled.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's own generator; advanced in place.
    history : ndarray of shape (n_obs, n_series)
        C-contiguous float64 simple returns per period.
    p_new : float
        Probability of starting a new block at a step, ``1 / block_length``, in (0, 1].
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64, overwritten with simple returns per step.
    """
    n_paths, n_steps, n_series = out.shape
    n_obs = history.shape[0]
    for p in range(n_paths):
        k = 0
        for t in range(n_steps):
            if t == 0:
                k = rng.integers(0, n_obs)
            elif rng.random() < p_new:
                k = rng.integers(0, n_obs)
            else:
                k += 1
                if k == n_obs:
                    k = 0
            for j in range(n_series):
                out[p, t, j] = history[k, j]
