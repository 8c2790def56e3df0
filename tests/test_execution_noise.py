"""Execution noise: the counter-based normal generator against references and its moments."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import _noise
from numba import njit
from scipy import stats

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
    assert z == ref.execution_normal(key, t, i, 50, stream)


def test_slow_draws_match_reference():
    # Draws outside the ziggurat's rectangles (wedges and the tail, about 1 %) take the
    # compiled slow path: find some and compare them too.
    keys = noise_keys(3, 0, 50)
    z = _draw(keys, 100, 10, _noise.STREAM_SLIPPAGE)
    tail = np.argwhere(np.abs(z) > _noise.ZIG_R)
    assert len(tail) > 0
    for p, t, i in tail[:20]:
        assert z[p, t, i] == ref.execution_normal(int(keys[p]), int(t), int(i), 10, 0)
    # 3,000 cells include about 30 wedge draws
    for p in range(3):
        for t in range(100):
            for i in range(10):
                assert z[p, t, i] == ref.execution_normal(int(keys[p]), int(t), int(i), 10, 0)


def test_ziggurat_layers_have_equal_area():
    x = _noise.ZIG_W * 2.0**52
    f = _noise.ZIG_F
    areas = x[1:] * (f[:-1] - f[1:])
    np.testing.assert_allclose(areas, _noise.ZIG_V, rtol=1e-8)
    np.testing.assert_allclose(x[1] * (1.0 - f[1]), _noise.ZIG_V, rtol=1e-8)


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
