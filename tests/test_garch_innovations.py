"""The DCC innovations kernel against ``chol(R) @ z * s`` computed with NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels._garch import dcc_innovations_nb


def innovations(q: np.ndarray, z: np.ndarray, s: float) -> np.ndarray:
    n = q.shape[0]
    e = np.empty(n)
    unused = np.full(n, np.nan)
    dcc_innovations_nb(
        q, False, q, np.nan, unused, unused, z, s,
        np.zeros((n, n)), np.zeros((n, n)), np.empty(n), np.empty(n), e,
    )  # fmt: skip
    return e


def numpy_twin(q: np.ndarray, z: np.ndarray, s: float) -> np.ndarray:
    sd = np.sqrt(np.diag(q))
    return np.linalg.cholesky(q / np.outer(sd, sd)) @ z * s


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    s=st.floats(0.2, 5.0),
)
def test_equals_cholesky_of_the_correlation(n, seed, s):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 2 * n))
    q = a @ a.T / (2 * n) + 0.05 * np.diag(rng.uniform(0.5, 2.0, n))
    z = rng.standard_normal(n)
    expected = numpy_twin(q, z, s)
    # Both are backward stable: the difference is rounding of a well-conditioned factor.
    np.testing.assert_allclose(innovations(q, z, s), expected, rtol=1e-12, atol=1e-13)


def test_only_the_lower_triangle_is_read():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 8))
    q = a @ a.T
    z = rng.standard_normal(4)
    junk = np.tril(q) + np.triu(np.full((4, 4), np.nan), 1)
    np.testing.assert_array_equal(innovations(junk, z, 1.0), innovations(q, z, 1.0))


@pytest.mark.parametrize("scale", [1.0, 3.7e-4])
def test_singular_correlation_gives_a_zero_column(scale):
    # Series 1 is series 0 exactly: R is singular, so its own normal must not enter.
    q = scale * np.array([[1.0, 1.0, 0.3], [1.0, 1.0, 0.3], [0.3, 0.3, 1.0]])
    z = np.array([0.7, -1.3, 0.4])
    e = innovations(q, z, 1.0)
    assert e[0] == pytest.approx(0.7, rel=1e-14)
    assert e[1] == pytest.approx(0.7, rel=1e-14)
    assert e[2] == pytest.approx(0.3 * 0.7 + np.sqrt(1 - 0.09) * 0.4, rel=1e-14)


def test_update_applies_the_dcc_recursion_first():
    rng = np.random.default_rng(11)
    n, a, b = 5, 0.04, 0.93
    x = rng.standard_normal((n, 3 * n))
    qbar = np.corrcoef(x)
    q_prev = qbar + 0.1 * np.diag(rng.uniform(size=n))
    e_prev = rng.standard_normal(n)
    z = rng.standard_normal(n)
    q_now = (1 - a - b) * qbar + a * np.outer(e_prev, e_prev) + b * q_prev
    q = q_prev.copy()
    e = np.empty(n)
    dcc_innovations_nb(
        q, True, (1 - a - b) * qbar, b, a * e_prev, e_prev, z, 1.3,
        np.zeros((n, n)), np.zeros((n, n)), np.empty(n), np.empty(n), e,
    )  # fmt: skip
    np.testing.assert_allclose(np.tril(q), np.tril(q_now), rtol=1e-15)
    np.testing.assert_allclose(e, numpy_twin(q_now, z, 1.3), rtol=1e-12, atol=1e-13)
