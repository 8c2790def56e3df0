"""Plain NumPy twins of the stress transform kernels (``mcsim.kernels._stress``)."""

from __future__ import annotations

import numpy as np


def splice_naive(returns: np.ndarray, episode: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each path's steps ``[starts[p], starts[p] + len(episode))`` replaced by ``episode``."""
    out = returns.copy()
    for p, s in enumerate(starts):
        out[p, s : s + len(episode)] = episode
    return out


def shock_naive(returns: np.ndarray, shock: np.ndarray, step: int) -> np.ndarray:
    """``(1 + r)(1 + shock) - 1`` at ``step`` for the series with a nonzero shock."""
    out = returns.copy()
    hit = shock != 0.0
    out[:, step, hit] = (1.0 + returns[:, step, hit]) * (1.0 + shock[hit]) - 1.0
    return out


def linear_window_naive(
    returns: np.ndarray,
    drift: np.ndarray,
    matrix: np.ndarray,
    rows: np.ndarray,
    start: int,
    stop: int,
) -> np.ndarray:
    """``log(1 + r'_i) = drift_i + matrix[i] @ (log(1 + r) - drift)`` for ``i`` in ``rows``."""
    out = returns.copy()
    dev = np.log1p(returns[:, start:stop]) - drift
    rebuilt = drift + dev @ matrix.T
    out[:, start:stop, rows] = np.expm1(rebuilt[..., rows])
    return out


def drift_window_naive(returns: np.ndarray, shift: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``log(1 + r') = log(1 + r) + shift`` inside ``[start, stop)`` for nonzero shifts."""
    out = returns.copy()
    hit = shift != 0.0
    window = out[:, start:stop]
    window[..., hit] = np.expm1(np.log1p(window[..., hit]) + shift[hit])
    return out
