"""The bootstrap's row draws (``kernels/_bootstrap.row_index_nb``) are ``Generator.integers``'s.

The kernel spells out Numba's ``integers(0, n_obs)`` for one value (to compile less), so it
must draw the same words and return the same rows for every branch of the bound it takes
(a history of 1 row, up to 2**32 rows, exactly 2**32), and refuse a longer one.
"""

from __future__ import annotations

import numpy as np
import pytest
from mcsim.kernels._bootstrap import row_index_nb
from numba import njit


@njit(cache=True)
def _rows(rng, n_obs, out):
    for i in range(out.size):
        out[i] = row_index_nb(rng, n_obs)


@njit(cache=True)
def _integers(rng, n_obs, out):
    for i in range(out.size):
        out[i] = rng.integers(0, n_obs)


@pytest.mark.parametrize("n_obs", [1, 2, 7, 1866, 2**31 + 5, 2**32 - 1, 2**32])
def test_row_draws_are_the_generators_integers(n_obs):
    mine, theirs = np.random.default_rng(11), np.random.default_rng(11)
    a, b = np.empty(5000, np.int64), np.empty(5000, np.int64)
    _rows(mine, n_obs, a)
    _integers(theirs, n_obs, b)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() < n_obs
    assert mine.bit_generator.state == theirs.bit_generator.state  # the same words drawn
    numpy_rng = np.random.default_rng(11)  # NumPy's own integers, drawn one by one
    np.testing.assert_array_equal(a[:50], [numpy_rng.integers(0, n_obs) for _ in range(50)])


def test_a_history_over_2_to_the_32_rows_is_refused():
    with pytest.raises(ValueError, match="2\\*\\*32 rows"):
        _rows(np.random.default_rng(1), 2**32 + 1, np.empty(1, np.int64))
