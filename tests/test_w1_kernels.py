"""The W1 kernels' fast paths give the very numbers of their plain twins."""

import math
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._math import _C, EXPM1_POLY_BOUND, expm1_row_nb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import profile_w1


def _expm1_twin(v: float) -> float:
    """Horner's rule on the same coefficients in Python floats, libm outside the range."""
    if not abs(v) <= EXPM1_POLY_BOUND:
        return math.expm1(v) if math.isfinite(v) else float(np.expm1(v))
    p = _C[-1]
    for c in _C[-2::-1]:
        p = p * v + c
    return p * v


_values = st.one_of(
    st.floats(-EXPM1_POLY_BOUND, EXPM1_POLY_BOUND),
    st.floats(-50.0, 50.0),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.5, -0.5, np.nextafter(0.5, 1.0)]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_values, min_size=7, max_size=7), min_size=1, max_size=4))
def test_expm1_rows_equal_their_scalar_twin_bit_for_bit(rows):
    x = np.array(rows)
    y = np.full_like(x, -7.0)
    for i in range(x.shape[0]):
        expm1_row_nb(x, y, i)
    twin = np.array([[_expm1_twin(v) for v in row] for row in rows])
    np.testing.assert_array_equal(y, twin)


def test_expm1_row_in_range_skips_nothing_and_fixes_each_outlier():
    # The same row without and with outliers: the skipped second pass changes nothing where
    # both are in range, and the taken one fixes exactly the outliers.
    rng = np.random.default_rng(3)
    x = np.repeat(rng.uniform(-0.4, 0.4, size=(1, 360)), 2, axis=0)
    x[1, [0, 17, 359]] = [0.9, -3.0, np.nan]
    y = np.empty_like(x)
    expm1_row_nb(x, y, 0)
    expm1_row_nb(x, y, 1)
    keep = np.ones(360, dtype=bool)
    keep[[0, 17, 359]] = False
    np.testing.assert_array_equal(y[0], [_expm1_twin(v) for v in x[0]])
    np.testing.assert_array_equal(y[1, keep], y[0, keep])
    assert y[1, 0] == math.expm1(0.9) and y[1, 17] == math.expm1(-3.0) and np.isnan(y[1, 359])


def test_profile_script_runs(capsys):
    assert profile_w1.main(["--quick", "--bit-generator", "sfc64"]) == 0
    out = capsys.readouterr().out
    for row in ("floor sfc64", "model pass", "policy pass", "W1 (mcsim.run"):
        assert row in out
