"""Execution noise from a counter-based generator: a standard normal per (path, step, asset).

Trades need a normal only where they happen (slippage of a trade, the substitute's tracking
error), so nothing is drawn or stored ahead. The normal of path key ``key`` at step ``t``,
asset ``i`` and stream ``stream`` is drawn by the 256-layer ziggurat method (Marsaglia and
Tsang, as NumPy's ``standard_normal``) from the 64-bit words

    c = (t * n_assets + i) * N_STREAMS + stream
    bits_j = mix64(key + (c * 256 + j + 1) * GAMMA),   j = 0, 1, ...

that is outputs ``c * 256 + j + 1`` of SplitMix64 seeded with ``key``. Word 0 settles about
99 % of draws (a table lookup and a comparison); the rest read the next words. The same
(path, step, asset, stream) always gives the same ``z``, whatever the chunking, the workers
or the policy (common random numbers across policies), and a step without trades costs
nothing. Path keys are made by the same generator from the run's root key
(``mcsim.engine.noise_keys``).
"""

import numpy as np
from numba import njit

from ._memory import njit_no_refcount

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)

_S8 = np.uint64(8)
_S12 = np.uint64(12)
_LOW8 = np.uint64(0xFF)
_LOW52 = np.uint64(0x000FFFFFFFFFFFFF)

# Ziggurat of the standard normal: 256 layers of equal area ZIG_V, base layer edge ZIG_R.
ZIG_R = 3.6541528853610088
ZIG_V = 4.92867323399e-3


def ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer tables (k, w, f) of the 256-layer ziggurat for 52-bit magnitudes.

    ``w[i] * 2**52`` is the right edge of layer ``i``, ``f[i]`` the density there (times
    sqrt(2 pi)), ``k[i]`` the magnitude below which a point of layer ``i`` is surely under the
    curve (Marsaglia and Tsang's setup).
    """
    m1 = 2.0**52
    k = np.zeros(256)
    w = np.zeros(256)
    f = np.zeros(256)
    dn = ZIG_R
    tn = dn
    q = ZIG_V / np.exp(-0.5 * dn * dn)
    k[0] = np.floor((dn / q) * m1)
    w[0] = q / m1
    w[255] = dn / m1
    f[0] = 1.0
    f[255] = np.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = np.sqrt(-2.0 * np.log(ZIG_V / dn + np.exp(-0.5 * dn * dn)))
        k[i + 1] = np.floor((dn / tn) * m1)
        tn = dn
        f[i] = np.exp(-0.5 * dn * dn)
        w[i] = dn / m1
    return k, w, f


ZIG_K, ZIG_W, ZIG_F = ziggurat_tables()

STREAM_SLIPPAGE = 0  # execution price error of a trade
STREAM_TRACKING = 1  # tracking error of the harvesting substitute
N_STREAMS = 2


@njit(cache=True, inline="always")
def mix64_nb(z):
    """SplitMix64's output function (a bijection of 64-bit integers)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def _uniform_nb(bits):
    """A uniform in [0, 1) from the top 53 bits of ``bits``."""
    return float(bits >> _S11) * (1.0 / 9007199254740992.0)


@njit_no_refcount
def _ziggurat_slow_nb(base, bits):
    """The rare draws of :func:`noise_normal_nb` (about 1 %): the tail and the wedges,
    reading words 1, 2, ... after ``base`` (the counter of word 0)."""
    j = _ONE
    while True:
        idx = int(bits & _LOW8)
        rabs = (bits >> _S12) & _LOW52
        negative = ((bits >> _S8) & _ONE) == _ONE
        x = float(rabs) * ZIG_W[idx]
        if float(rabs) < ZIG_K[idx]:
            return -x if negative else x
        if idx == 0:
            # The tail beyond ZIG_R (Marsaglia's method).
            while True:
                u1 = _uniform_nb(mix64_nb(base + j * GAMMA))
                u2 = _uniform_nb(mix64_nb(base + (j + _ONE) * GAMMA))
                j += np.uint64(2)
                xx = -np.log1p(-u1) / ZIG_R
                yy = -np.log1p(-u2)
                if yy + yy > xx * xx:
                    return -(ZIG_R + xx) if negative else ZIG_R + xx
        u = _uniform_nb(mix64_nb(base + j * GAMMA))
        j += _ONE
        if (ZIG_F[idx - 1] - ZIG_F[idx]) * u + ZIG_F[idx] < np.exp(-0.5 * x * x):
            return -x if negative else x
        bits = mix64_nb(base + j * GAMMA)
        j += _ONE


@njit(cache=True, inline="always")
def noise_normal_nb(key, t, i, n_assets, stream):
    """The standard normal of path key ``key`` (uint64) at step ``t``, asset ``i``, ``stream``
    (one of ``STREAM_*``); see the module docstring."""
    c = np.uint64((t * n_assets + i) * N_STREAMS + stream)
    base = key + (c * np.uint64(256) + _ONE) * GAMMA
    bits = mix64_nb(base)
    rabs = (bits >> _S12) & _LOW52
    idx = int(bits & _LOW8)
    if float(rabs) < ZIG_K[idx]:
        x = float(rabs) * ZIG_W[idx]
        return -x if ((bits >> _S8) & _ONE) == _ONE else x
    return _ziggurat_slow_nb(base, bits)
