"""Execution noise: the counter-based normal generator against references and its moments."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _noise
from numba import njit
from scipy import stats
from scipy.special import ndtri

from mcsim.engine import noise_keys
from mcsim.testing import frictions as ref

PROFILE = settings(deadline=None, derandomize=True, max_examples=40)


@njit(cache=True)
def _draw_nb(keys, n_steps, n_assets, stream, out):
    for p in range(keys.size):
        for t in range(n_steps):
            for i in range(n_assets):
                out[p, t, i] = _noise.noise_normal_nb(keys[p], t, i, n_assets, stream)


def _draw(keys, n_steps, n_assets, stream):
    out = np.empty((keys.size, n_steps, n_assets))
    _draw_nb(keys, n_steps, n_assets, stream, out)
    return out


@PROFILE
@given(
    key=st.integers(0, 2**64 - 1),
    t=st.integers(0, 10_000),
    i=st.integers(0, 49),
    stream=st.integers(0, 1),
)
def test_normal_matches_reference(key, t, i, stream):
    z = _noise.noise_normal_nb(np.uint64(key), t, i, 50, stream)
    assert z == pytest.approx(ref.execution_normal(key, t, i, 50, stream), rel=1e-13, abs=1e-15)


def test_quantile_matches_scipy_from_centre_to_tails():
    p = np.concatenate(
        [
            2.0 ** -np.arange(2.0, 55.0),
            np.linspace(0.001, 0.999, 999),
            1.0 - 2.0 ** -np.arange(2.0, 53.0),
        ]
    )
    got = np.array([_noise.normal_quantile_nb(x) for x in p])
    np.testing.assert_allclose(got, ndtri(p), rtol=1e-14, atol=1e-15)


def test_path_keys_match_reference_and_do_not_depend_on_chunking():
    keys = noise_keys(12345, 7, 20)
    assert keys.dtype == np.uint64
    assert [int(k) for k in keys] == ref.noise_keys(12345, 7, 20)
    np.testing.assert_array_equal(np.concatenate([noise_keys(9, 0, 5), noise_keys(9, 5, 6)]),
                                  noise_keys(9, 0, 11))  # fmt: skip


def test_normals_have_standard_moments_and_streams_are_independent():
    # 200 paths x 100 steps x 10 assets = 200,000 draws per stream.
    keys = noise_keys(2026, 0, 200)
    z0 = _draw(keys, 100, 10, _noise.STREAM_SLIPPAGE).ravel()
    z1 = _draw(keys, 100, 10, _noise.STREAM_TRACKING).ravel()
    n = z0.size
    # Standard errors: mean 1/sqrt(n); variance sqrt(2/n); a correlation 1/sqrt(n); the
    # mean of |z| (sqrt(2/pi), what slippage costs) sqrt(1 - 2/pi)/sqrt(n). Bounds at 5 SE.
    for z in (z0, z1):
        assert abs(z.mean()) < 5 / np.sqrt(n)
        assert abs(z.var() - 1.0) < 5 * np.sqrt(2 / n)
        assert abs(np.abs(z).mean() - np.sqrt(2 / np.pi)) < 5 * np.sqrt(1 - 2 / np.pi) / np.sqrt(n)
        assert stats.kstest(z, "norm").pvalue > 1e-6
    assert abs(np.corrcoef(z0, z1)[0, 1]) < 5 / np.sqrt(n)
    # neighbouring steps, assets and paths are uncorrelated
    z = z0.reshape(200, 100, 10)
    for a, b in ((z[:, 1:], z[:, :-1]), (z[:, :, 1:], z[:, :, :-1]), (z[1:], z[:-1])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / np.sqrt(a.size)
