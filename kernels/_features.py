"""Per-path features of a block's returns, to explain which paths fail (the reverse stress test).

Each feature describes the market a path went through, not what a policy did along it: it is
measured on the constant-mix portfolio (the target weights, rebalanced every step, no costs,
no flows), so one set of features serves every policy of the run. The labels, units and
descriptions live in ``mcsim.failure.FEATURES``; the columns are the constants below.
"""

import numpy as np
from numba import njit

# --- columns of ``out`` (m, N_FIXED_FEATURES + n_assets) -----------------------------------
F_RETURN_5Y = 0  # annualised constant-mix return over the first 5 years (NaN if shorter)
F_RETURN_10Y = 1  # annualised constant-mix return over the first 10 years (NaN if shorter)
F_WORST_12M = 2  # worst compounded return over any steps_per_year consecutive steps
F_WORST_12M_YEAR = 3  # years elapsed at the start of that worst window
F_VOLATILITY = 4  # annualised volatility of the constant-mix per-step returns
F_INFLATION = 5  # annualised (geometric) inflation over the horizon (NaN without inflation)
N_FIXED_FEATURES = 6
# Column N_FIXED_FEATURES + j: total (not annualised) return of asset j over the first 5 years.


@njit(cache=True, nogil=True)
def path_features_nb(returns, weights, asset_index, inflation_index, steps_per_year, out):
    """Market features of every path of a block, measured on the constant-mix portfolio.

    The constant-mix portfolio earns ``r_p[t] = sum_j weights[j] * returns[p, t,
    asset_index[j]]`` at step ``t``. With ``W[t] = prod_{u < t} (1 + r_p[u])`` (``W[0] = 1``)
    the features are, per path:

    * ``F_RETURN_5Y`` / ``F_RETURN_10Y``: ``W[K] ** (1 / years) - 1`` with ``K = years *
      steps_per_year``; NaN when the path has fewer than ``K`` steps.
    * ``F_WORST_12M``: ``min over s of W[s + L] / W[s] - 1`` with ``L = steps_per_year``
      (rolling windows of one year, every start step ``s``); ``F_WORST_12M_YEAR`` is ``s /
      steps_per_year`` of the first window reaching that minimum. Both NaN when the path has
      fewer than ``L`` steps.
    * ``F_VOLATILITY``: sample standard deviation (``ddof = 1``) of ``r_p`` times
      ``sqrt(steps_per_year)``, as the ``volatility`` metric; NaN with fewer than 2 steps.
    * ``F_INFLATION``: ``prod(1 + inflation) ** (steps_per_year / n_steps) - 1``; NaN when
      ``inflation_index < 0``.
    * ``N_FIXED_FEATURES + j``: ``prod(1 + returns[p, :K5, asset_index[j]]) - 1`` over the
      first 5 years; NaN when the path is shorter.

    Numba-compiled. The caller validates the inputs (weights finite; long-only weights on
    returns above -100 % keep ``W`` positive, which the ratio ``W[s + L] / W[s]`` needs).

    Parameters
    ----------
    returns : ndarray of shape (m, n_steps, n_series)
        C-contiguous float64 simple returns per step (assets and, optionally, inflation).
    weights : ndarray of shape (n_assets,)
        Float64 target weights of the constant-mix portfolio.
    asset_index : ndarray of shape (n_assets,)
        Int64 column of each asset among the series.
    inflation_index : int
        Column of the inflation series, or -1 when none is simulated.
    steps_per_year : int
        Steps per year (>= 1).
    out : ndarray of shape (m, N_FIXED_FEATURES + n_assets)
        C-contiguous float64, overwritten with the features.
    """
    m, n_steps, _ = returns.shape
    n_assets = weights.size
    k5 = 5 * steps_per_year
    k10 = 10 * steps_per_year
    window = steps_per_year
    wealth = np.empty(n_steps + 1)
    for p in range(m):
        wealth[0] = 1.0
        total = 0.0
        for t in range(n_steps):
            r = 0.0
            for j in range(n_assets):
                r += weights[j] * returns[p, t, asset_index[j]]
            wealth[t + 1] = wealth[t] * (1.0 + r)
            total += r
        row = out[p]
        row[F_RETURN_5Y] = wealth[k5] ** (1.0 / 5.0) - 1.0 if n_steps >= k5 else np.nan
        row[F_RETURN_10Y] = wealth[k10] ** (1.0 / 10.0) - 1.0 if n_steps >= k10 else np.nan
        if n_steps >= window:
            worst = np.inf
            worst_start = 0
            for s in range(n_steps - window + 1):
                g = wealth[s + window] / wealth[s] - 1.0
                if g < worst:
                    worst = g
                    worst_start = s
            row[F_WORST_12M] = worst
            row[F_WORST_12M_YEAR] = worst_start / steps_per_year
        else:
            row[F_WORST_12M] = np.nan
            row[F_WORST_12M_YEAR] = np.nan
        if n_steps > 1:
            # Two passes (mean, then squared deviations): no cancellation for tiny volatilities.
            mean = total / n_steps
            ss = 0.0
            for t in range(n_steps):
                r = 0.0
                for j in range(n_assets):
                    r += weights[j] * returns[p, t, asset_index[j]]
                d = r - mean
                ss += d * d
            row[F_VOLATILITY] = np.sqrt(ss / (n_steps - 1) * steps_per_year)
        else:
            row[F_VOLATILITY] = np.nan
        if inflation_index >= 0:
            level = 1.0
            for t in range(n_steps):
                level *= 1.0 + returns[p, t, inflation_index]
            row[F_INFLATION] = level ** (steps_per_year / n_steps) - 1.0
        else:
            row[F_INFLATION] = np.nan
        for j in range(n_assets):
            if n_steps >= k5:
                g = 1.0
                for t in range(k5):
                    g *= 1.0 + returns[p, t, asset_index[j]]
                row[N_FIXED_FEATURES + j] = g - 1.0
            else:
                row[N_FIXED_FEATURES + j] = np.nan
