"""Bootstrap of historical return vectors: i.i.d. rows or Politis-Romano stationary blocks."""

from numba import int64, njit
from numba.np.random.generator_core import next_uint32
from numba.np.random.random_methods import buffered_bounded_lemire_uint32


@njit(cache=True, inline="always")
def row_index_nb(rng, n_obs):
    """``rng.integers(0, n_obs)`` for ``1 <= n_obs <= 2**32``: the same draws and value, bit
    for bit (a longer history, over 32 GiB a series, is refused).

    The 32-bit branches of Numba's ``Generator.integers`` (``random_bounded_uint64_fill``)
    for one int64 value, with its argument types (an int64 bound, the sum ``low + draw`` as
    Numba forms it), without the one-element array it fills and its argument checks: those
    took about 1 s of a first run's compile (the default scenario's model).
    """
    low = int64(0)
    bound = int64(n_obs) - int64(1)
    bitgen = rng.bit_generator
    if bound == 0:
        return low
    if bound <= 0xFFFFFFFF:
        if bound == 0xFFFFFFFF:
            return int64(low + next_uint32(bitgen))
        return int64(low + buffered_bounded_lemire_uint32(bitgen, bound))
    raise ValueError("a bootstrap history has at most 2**32 rows")


@njit(cache=True, nogil=True)
def bootstrap_iid_nb(rng, history, out):
    """Fill ``out`` with whole rows of ``history`` drawn uniformly with replacement.

    One ``rng.integers(0, n_obs)`` (:func:`row_index_nb`) per path and step, path by path,
    so a block drawn in chunks gives the same numbers as in one call. Numba-compiled.

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
            k = row_index_nb(rng, n_obs)
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
                k = row_index_nb(rng, n_obs)
            elif rng.random() < p_new:
                k = row_index_nb(rng, n_obs)
            else:
                k += 1
                if k == n_obs:
                    k = 0
            for j in range(n_series):
                out[p, t, j] = history[k, j]
