"""Plain NumPy twin of the path-feature kernel (``mcsim.kernels._features``), for tests.

Written from the definitions, vectorised over paths, with products over windows instead of
the kernel's running wealth: the arithmetic order differs, so comparisons use ``rtol=1e-10``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["path_features_reference"]


def path_features_reference(
    returns: np.ndarray,
    weights: np.ndarray,
    asset_index: np.ndarray,
    inflation_index: int,
    steps_per_year: int,
) -> np.ndarray:
    """Features of each path: the columns of ``mcsim.kernels._features`` (see its docstring).

    Parameters
    ----------
    returns : ndarray of shape (m, n_steps, n_series)
    weights : ndarray of shape (n_assets,)
    asset_index : ndarray of shape (n_assets,)
    inflation_index : int
        Column of the inflation series, or -1.
    steps_per_year : int

    Returns
    -------
    ndarray of shape (m, 6 + n_assets)
        Return over 5 and 10 years (annualised), worst one-year return and its start (years),
        volatility, annualised inflation, then each asset's total return over 5 years.
    """
    returns = np.asarray(returns, dtype=float)
    m, n_steps, _ = returns.shape
    assets = returns[:, :, np.asarray(asset_index)]
    r_p = assets @ np.asarray(weights, dtype=float)
    out = np.full((m, 6 + assets.shape[2]), np.nan)
    for col, years in ((0, 5), (1, 10)):
        k = years * steps_per_year
        if n_steps >= k:
            out[:, col] = np.prod(1.0 + r_p[:, :k], axis=1) ** (1.0 / years) - 1.0
    window = steps_per_year
    if n_steps >= window:
        rolling = np.stack(
            [
                np.prod(1.0 + r_p[:, s : s + window], axis=1) - 1.0
                for s in range(n_steps - window + 1)
            ],
            axis=1,
        )
        out[:, 2] = rolling.min(axis=1)
        out[:, 3] = rolling.argmin(axis=1) / steps_per_year
    if n_steps > 1:
        out[:, 4] = r_p.std(axis=1, ddof=1) * np.sqrt(steps_per_year)
    if inflation_index >= 0:
        level = np.prod(1.0 + returns[:, :, inflation_index], axis=1)
        out[:, 5] = level ** (steps_per_year / n_steps) - 1.0
    k5 = 5 * steps_per_year
    if n_steps >= k5:
        out[:, 6:] = np.prod(1.0 + assets[:, :k5, :], axis=1) - 1.0
    return out
