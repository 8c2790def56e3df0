"""Per-path metrics and mergeable histogram sketches of wealth on a reporting grid."""

import numpy as np
from numba import njit

from ._layout import (
    A_N_R,
    A_NAV,
    A_PEAK_NAV,
    A_PRICE_INDEX,
    A_RF_ON,
    A_RUIN_PEAK,
    A_SUM_DOWN2,
    A_SUM_E,
    A_SUM_E2,
    A_SUM_EDOWN2,
    A_SUM_R,
    A_SUM_R2,
    A_TRADED,
    A_UNDER,
    A_UNREALISED_TAX,
    A_WEALTH,
    M_AFTER_TAX_WEALTH,
    M_CAGR,
    M_CALMAR,
    M_FLOWS,
    M_GOAL_MET,
    M_GOAL_SHORTFALL,
    M_LOSS,
    M_MAX_DRAWDOWN,
    M_MAX_DRAWDOWN_DURATION,
    M_REAL_TERMINAL_WEALTH,
    M_RUINED,
    M_SHARPE,
    M_SORTINO,
    M_TERMINAL_WEALTH,
    M_TURNOVER,
    M_VOLATILITY,
    N_METRICS,
)
from ._memory import njit_no_refcount

# Relative rounding error of a running sum, per term, with a margin: 4 x machine epsilon.
_VAR_NOISE = 4.0 * 2.220446049250313e-16


@njit(cache=True, inline="always")
def histogram_bin_nb(log_value, lo, inv_width, n_bins):
    """Bin of ``log_value`` in a histogram whose first and last bins catch the tails.

    Interior bins ``1 .. n_bins - 2`` cover ``[lo, lo + (n_bins - 2) / inv_width)``; bin 0
    holds everything below (including ruin, ``-inf``) and bin ``n_bins - 1`` everything above.
    """
    if not log_value >= lo:
        return 0
    k = int((log_value - lo) * inv_width) + 1
    if k > n_bins - 1:
        return n_bins - 1
    return k


@njit(cache=True, inline="always")
def record_unit_return_nb(r, acc):
    """Fold one per-step portfolio return into the unit value, drawdown and moments."""
    nav = acc[A_NAV] * (1.0 + r)
    acc[A_NAV] = nav
    acc[A_SUM_R] += r
    acc[A_SUM_R2] += r * r
    acc[A_N_R] += 1.0
    # Branch-free: the sign of a step's return and whether it sets a new peak are as good
    # as random, so branches on them were mispredicted on about every other step. The
    # selects store what the branches stored (the downside sum holds no -0.0 for the
    # added +0.0 to change, and a new peak's drawdown is never above the maximum).
    acc[A_SUM_DOWN2] += r * r if r < 0.0 else 0.0
    peak = acc[A_PEAK_NAV]
    up = nav >= peak
    dd = 1.0 - nav / peak
    under = 0.0 if up else acc[A_UNDER] + 1.0
    acc[A_PEAK_NAV] = nav if up else peak
    acc[A_UNDER] = under
    longest = acc[M_MAX_DRAWDOWN_DURATION]
    acc[M_MAX_DRAWDOWN_DURATION] = under if under > longest else longest
    deepest = acc[M_MAX_DRAWDOWN]
    acc[M_MAX_DRAWDOWN] = dd if (not up and dd > deepest) else deepest


@njit(cache=True, inline="always")
def record_excess_return_nb(e, acc):
    """Fold one per-step excess return ``e = r - rf`` (fraction per step) into its sums."""
    acc[A_SUM_E] += e
    acc[A_SUM_E2] += e * e
    # Branch-free, as in record_unit_return_nb.
    acc[A_SUM_EDOWN2] += e * e if e < 0.0 else 0.0


@njit_no_refcount
def finish_path_nb(acc, initial_wealth, n_steps, steps_per_year, goal, out_row):
    """Write the path's metrics (columns ``layout.M_*``) into ``out_row`` from ``acc``.

    A ruined path (wealth ran out before the horizon) is a total loss whatever drove it:
    ``loss`` 1, ``cagr`` -1, ``max_drawdown`` 1, terminal, real and after-tax wealth 0, and
    under water from the unit value's last peak before ruin until the horizon. Its volatility
    is that of the per-step returns until (and including) the step of ruin.
    """
    for k in range(N_METRICS):
        out_row[k] = acc[k]
    years = n_steps / steps_per_year
    wealth = acc[A_WEALTH]
    ruined = acc[M_RUINED] != 0.0
    out_row[M_TERMINAL_WEALTH] = wealth
    out_row[M_REAL_TERMINAL_WEALTH] = wealth / acc[A_PRICE_INDEX]
    out_row[M_AFTER_TAX_WEALTH] = wealth - acc[A_UNREALISED_TAX]
    nav = acc[A_NAV]
    out_row[M_CAGR] = nav ** (1.0 / years) - 1.0 if nav > 0.0 else -1.0
    n = acc[A_N_R]
    if n > 1.0:
        var = (acc[A_SUM_R2] - acc[A_SUM_R] * acc[A_SUM_R] / n) / (n - 1.0)
        # The running sums cancel: a variance within their rounding error (about n eps of
        # the sum of squares) is noise, and a riskless path has zero volatility, not 1e-9.
        if var <= _VAR_NOISE * n * acc[A_SUM_R2] / (n - 1.0):
            var = 0.0
        out_row[M_VOLATILITY] = np.sqrt(var * steps_per_year)
    else:
        out_row[M_VOLATILITY] = np.nan
    under = acc[M_MAX_DRAWDOWN_DURATION]
    out_row[M_TURNOVER] = acc[A_TRADED] / years
    out_row[M_LOSS] = 1.0 if wealth < initial_wealth + acc[M_FLOWS] else 0.0
    if ruined:
        # A withdrawal that empties the account leaves the unit value (a time-weighted
        # return) untouched, so the path's loss is booked here, not by the step returns.
        out_row[M_TERMINAL_WEALTH] = 0.0
        out_row[M_REAL_TERMINAL_WEALTH] = 0.0
        out_row[M_AFTER_TAX_WEALTH] = 0.0
        out_row[M_CAGR] = -1.0
        out_row[M_MAX_DRAWDOWN] = 1.0
        out_row[M_LOSS] = 1.0
        under = max(under, n_steps - acc[A_RUIN_PEAK])
    out_row[M_MAX_DRAWDOWN_DURATION] = under / steps_per_year
    risk_adjusted_nb(acc, steps_per_year, out_row)
    # Without a goal (goal = inf) success means never running out of money.
    if np.isfinite(goal):
        out_row[M_GOAL_SHORTFALL] = max(goal - out_row[M_TERMINAL_WEALTH], 0.0)
        out_row[M_GOAL_MET] = 1.0 if (wealth >= goal and not ruined) else 0.0
    else:
        out_row[M_GOAL_SHORTFALL] = 0.0
        out_row[M_GOAL_MET] = 0.0 if ruined else 1.0


@njit(cache=True, inline="always")
def risk_adjusted_nb(acc, steps_per_year, out_row):
    """Sharpe, Sortino and Calmar ratios of the path, from ``acc`` and the row's CAGR,
    volatility and maximum drawdown (written first).

    With ``e`` the per-step excess returns of the unit value over the risk-free asset
    (``r - rf``; ``r`` itself, against 0, without one), ``n`` their number and ``f`` steps per
    year: Sharpe ``= mean(e) f / (std(e, ddof=1) sqrt(f))``; Sortino ``= mean(e) f /
    sqrt(f sum(min(e, 0)^2) / n)`` (downside deviation over all steps); Calmar ``= CAGR /
    max_drawdown``, never against the risk-free asset. Against 0 the Sharpe denominator is
    the path's volatility. A ratio whose denominator is 0 (no volatility, no losing step, no
    drawdown) is NaN. A ruined path keeps the ratios of its steps until ruin for Sharpe and
    Sortino; its Calmar is -1 (CAGR -1 over drawdown 1).
    """
    n = acc[A_N_R]
    if acc[A_RF_ON] > 0.0:
        mean_annual = acc[A_SUM_E] / n * steps_per_year if n > 0.0 else np.nan
        vol = excess_volatility_nb(acc[A_SUM_E], acc[A_SUM_E2], n, steps_per_year)
        down2 = acc[A_SUM_EDOWN2]
    else:
        mean_annual = acc[A_SUM_R] / n * steps_per_year if n > 0.0 else np.nan
        vol = out_row[M_VOLATILITY]
        down2 = acc[A_SUM_DOWN2]
    out_row[M_SHARPE] = mean_annual / vol if vol > 0.0 else np.nan
    down = np.sqrt(down2 / n * steps_per_year) if n > 0.0 else 0.0
    out_row[M_SORTINO] = mean_annual / down if down > 0.0 else np.nan
    mdd = out_row[M_MAX_DRAWDOWN]
    out_row[M_CALMAR] = out_row[M_CAGR] / mdd if mdd > 0.0 else np.nan


@njit(cache=True, inline="always")
def excess_volatility_nb(sum_e, sum_e2, n, steps_per_year):
    """Annualised standard deviation (ddof 1) of ``n`` per-step excess returns from their
    sum and sum of squares; 0 within the sums' rounding error, NaN below two returns."""
    if n <= 1.0:
        return np.nan
    var = (sum_e2 - sum_e * sum_e / n) / (n - 1.0)
    if var <= _VAR_NOISE * n * sum_e2 / (n - 1.0):
        var = 0.0
    return np.sqrt(var * steps_per_year)


def quantiles_from_histogram(counts, lo, width, probs):
    """Quantiles of a histogram sketch, linearly interpolated inside bins.

    Parameters
    ----------
    counts : ndarray of shape (..., n_bins)
        Bin counts; bin 0 and bin ``n_bins - 1`` hold the lower and upper tails.
    lo, width : float
        Left edge of bin 1 and the width of interior bins (log-wealth units).
    probs : ndarray of shape (n_probs,)
        Probabilities in [0, 1].

    Returns
    -------
    ndarray of shape (..., n_probs)
        Quantiles in the histogram's units; ``-inf`` / ``inf`` when they fall in a tail bin.
    """
    counts = np.asarray(counts, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    n_bins = counts.shape[-1]
    flat = counts.reshape(-1, n_bins)
    out = np.empty((flat.shape[0], probs.size))
    for row in range(flat.shape[0]):
        c = flat[row]
        total = c.sum()
        cum = np.cumsum(c)
        for j, p in enumerate(probs):
            if total == 0:
                out[row, j] = np.nan
                continue
            rank = p * total
            k = int(np.searchsorted(cum, rank, side="left"))
            k = min(k, n_bins - 1)
            if k == 0:
                out[row, j] = -np.inf if cum[0] > 0 else lo
            elif k == n_bins - 1:
                out[row, j] = np.inf if c[-1] > 0 else lo + (n_bins - 2) * width
            else:
                below = cum[k - 1]
                frac = (rank - below) / c[k] if c[k] > 0 else 0.0
                out[row, j] = lo + (k - 1 + frac) * width
    return out.reshape((*counts.shape[:-1], probs.size))
