"""Execution noise from a counter-based generator: a standard normal per (path, step, asset).

Trades need a normal only where they happen (slippage of a trade, the substitute's tracking
error), so nothing is drawn or stored ahead. The normal of path key ``key`` at step ``t``,
asset ``i`` and stream ``stream`` is

    c = (t * n_assets + i) * N_STREAMS + stream
    u = (bits(c) >> 11 + 1/2) / 2**53           (a uniform in (0, 1), 53 bits)
    z = Phi^-1(u)                                (Wichura's AS 241, double precision)

where ``bits(c)`` is output ``c + 1`` of SplitMix64 seeded with ``key``:
``mix64(key + (c + 1) * GAMMA)``. The same (path, step, asset, stream) always gives the same
``z``, whatever the chunking, the workers or the policy (common random numbers across
policies), and a step without trades costs nothing. Path keys are made by the same
generator from the run's root key (``mcsim.engine.noise_keys``).
"""

import numpy as np
from numba import njit

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)

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
def normal_quantile_nb(p):
    """Standard normal quantile of ``p`` in (0, 1): Wichura's algorithm AS 241 (PPND16),
    accurate to about 1e-16 relative."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (
            ((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                + 67265.770927008700853) * r + 45921.953931549871457) * r
              + 13731.693765509461125) * r + 1971.5909503065514427) * r
             + 133.14166789178437745) * r + 3.387132872796366608
        )  # fmt: skip
        den = (
            ((((((5226.495278852545925 * r + 28729.085735721942674) * r
                + 39307.89580009271061) * r + 21213.794301586595867) * r
              + 5394.1960214247511077) * r + 687.1870074920579083) * r
             + 42.313330701600911252) * r + 1.0
        )  # fmt: skip
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = np.sqrt(-np.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (
            ((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
                + 0.24178072517745061177) * r + 1.27045825245236838258) * r
              + 3.64784832476320460504) * r + 5.7694972214606914055) * r
             + 4.6303378461565452959) * r + 1.42343711074968357734
        )  # fmt: skip
        den = (
            ((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966) * r + 0.14810397642748007459) * r
              + 0.68976733498510000455) * r + 1.6763848301838038494) * r
             + 2.05319162663775882187) * r + 1.0
        )  # fmt: skip
    else:
        r -= 5.0
        num = (
            ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                + 0.0012426609473880784386) * r + 0.026532189526576123093) * r
              + 0.29656057182850489123) * r + 1.7848265399172913358) * r
             + 5.4637849111641143699) * r + 6.6579046435011037772
        )  # fmt: skip
        den = (
            ((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r
              + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
             + 0.59983220655588793769) * r + 1.0
        )  # fmt: skip
    val = num / den
    return -val if q < 0.0 else val


@njit(cache=True, inline="always")
def noise_normal_nb(key, t, i, n_assets, stream):
    """The standard normal of path key ``key`` (uint64) at step ``t``, asset ``i``, ``stream``
    (one of ``STREAM_*``); see the module docstring."""
    c = np.uint64((t * n_assets + i) * N_STREAMS + stream) + _ONE
    bits = mix64_nb(key + c * GAMMA)
    u = (float(bits >> _S11) + 0.5) * (1.0 / 9007199254740992.0)
    return normal_quantile_nb(u)
