"""The wealth sketch: fixed-bin histograms of log wealth on the reporting grid.

Each block counts ``log(wealth / initial_wealth)`` of its paths into the same bins, so
sketches merge exactly across blocks by integer addition, and wealth quantiles are read from
the merged counts (within one bin width, 0.5 % of wealth) without keeping the paths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .kernels import quantiles_from_histogram

__all__ = ["HIST_BINS", "HIST_LO", "HIST_WIDTH", "wealth_quantiles"]

# [-10, 10) in steps of 0.005 (0.5 % of wealth), plus one tail bin either side.
HIST_LO = -10.0
HIST_WIDTH = 0.005
HIST_BINS = 4000 + 2


def wealth_quantiles(
    hist: np.ndarray,
    grid_steps: np.ndarray,
    initial_wealth: float,
    quantiles: Sequence[float],
) -> np.ndarray:
    """Wealth quantiles on the reporting grid, read from merged sketches.

    Parameters
    ----------
    hist : ndarray of shape (n_policies, n_grid, HIST_BINS), int64
        Merged counts of log(wealth / initial wealth).
    grid_steps : ndarray of shape (n_grid,), int64
        Step of each grid point.
    initial_wealth : float
        Wealth at step 0 (currency).
    quantiles : sequence of float
        Probabilities in [0, 1].

    Returns
    -------
    ndarray of shape (n_policies, n_grid, n_quantiles)
        Wealth (currency); ``0`` / ``inf`` where a quantile falls in a tail bin.
    """
    q = quantiles_from_histogram(hist, HIST_LO, HIST_WIDTH, np.array(quantiles))
    wealth = initial_wealth * np.exp(q)
    # Every path starts at the initial wealth; interpolating inside its sketch bin would
    # spread that point mass over up to 0.5 % above it, so report it exactly.
    wealth[:, grid_steps == 0, :] = initial_wealth
    return wealth
