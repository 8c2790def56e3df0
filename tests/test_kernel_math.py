"""The vectorisable expm1 against libm."""

import math

import numpy as np
from mcsim.kernels._math import EXPM1_POLY_BOUND, expm1_row_nb


def test_expm1_rows_match_libm_within_two_ulp():
    x = np.concatenate(
        [
            np.linspace(-EXPM1_POLY_BOUND, EXPM1_POLY_BOUND, 200_001),
            [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-8, -1e-8],
            [0.5000001, -0.5000001, 3.0, -3.0, 40.0, -40.0, 700.0, -800.0],
        ]
    )[None, :]
    y = np.empty_like(x)
    expm1_row_nb(x, y, 0)
    ref = np.expm1(x)
    ulp = np.abs(y - ref) / np.spacing(np.abs(ref))
    assert np.all(ulp[ref != 0] <= 2.0)
    assert np.array_equal(y[ref == 0], ref[ref == 0])
    # Outside the polynomial's range the C library's expm1 (what math.expm1 calls) is used;
    # NumPy's own expm1 may differ from it in the last bit.
    outside = np.abs(x) > EXPM1_POLY_BOUND
    assert np.array_equal(y[outside], [math.expm1(v) for v in x[outside]])


def test_expm1_rows_propagate_nan_and_inf():
    x = np.array([[np.nan, np.inf, -np.inf]])
    y = np.empty_like(x)
    expm1_row_nb(x, y, 0)
    np.testing.assert_array_equal(y, np.expm1(x))
