"""Borrowed array views of the step loop (kernels/_memory.py)."""

import numpy as np
from mcsim.kernels._layout import N_LOT_FIELDS
from mcsim.kernels._memory import fixed_fields_nb, njit_no_refcount


@njit_no_refcount
def _shift_and_sum_nb(lots, i, k):
    view = fixed_fields_nb(lots, N_LOT_FIELDS)
    n = view.shape[1]
    for m in range(n - 2, k - 1, -1):
        for f in range(N_LOT_FIELDS):
            view[i, m + 1, f] = view[i, m, f]
    total = 0.0
    for a in range(view.shape[0]):
        for m in range(view.shape[1]):
            for f in range(view.shape[2]):
                total += view[a, m, f] * (1.0 + a + 10.0 * m + 100.0 * f)
    return total, view.shape[0], view.shape[1], view.shape[2]


def test_fixed_fields_view_reads_and_writes_the_array_itself():
    rng = np.random.default_rng(3)
    lots = rng.standard_normal((3, 7, N_LOT_FIELDS))
    expected = lots.copy()
    expected[1, 3:, :] = lots[1, 2:-1, :]
    weights = (
        1.0
        + np.arange(3)[:, None, None]
        + 10.0 * np.arange(7)[None, :, None]
        + 100.0 * np.arange(N_LOT_FIELDS)[None, None, :]
    )
    total, a, m, f = _shift_and_sum_nb(lots, 1, 2)
    assert (a, m, f) == lots.shape
    np.testing.assert_array_equal(lots, expected)
    # Summation order differs from NumPy's pairwise sum.
    assert np.isclose(total, np.sum(expected * weights), rtol=1e-12, atol=0.0)
