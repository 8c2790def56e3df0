"""Plain NumPy references for history replayed as paths: rolling windows and safe withdrawals.

Written with explicit loops from the definitions, independently of
``mcsim.models.historical_windows`` and of the engine, so that both can be tested against
them: the classic question "a 4 % inflation-indexed withdrawal from a monthly-rebalanced
60/40 survived what share of historical 30-year windows?" has one answer here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rolling_windows_reference", "withdrawal_outcomes", "withdrawal_success_rate"]


def rolling_windows_reference(
    history: np.ndarray, n_steps: int, *, step: int = 1, periods_per_step: int = 1
) -> np.ndarray:
    """Every window of ``n_steps`` steps of ``history``, starting at rows ``0, step, ...``.

    Step ``t`` of the window starting at row ``s`` compounds rows ``s + t f .. s + t f + f -
    1`` (``f = periods_per_step``; with ``f = 1`` the rows themselves). Windows that would run
    past the data are left out.

    Parameters
    ----------
    history : ndarray of shape (n_obs, n_series)
        Simple returns per data period.
    n_steps : int
    step : int
        Rows between window starts.
    periods_per_step : int
        Data periods compounded into a step.

    Returns
    -------
    ndarray of shape (n_windows, n_steps, n_series)
    """
    history = np.asarray(history, dtype=float)
    n_obs, n_series = history.shape
    f = periods_per_step
    windows = []
    s = 0
    while s + n_steps * f <= n_obs:
        w = np.empty((n_steps, n_series))
        for t in range(n_steps):
            if f == 1:
                w[t] = history[s + t]
            else:
                w[t] = np.prod(1.0 + history[s + t * f : s + (t + 1) * f], axis=0) - 1.0
        windows.append(w)
        s += step
    return np.array(windows).reshape(len(windows), n_steps, n_series)


def withdrawal_outcomes(
    returns: np.ndarray,
    weights: np.ndarray,
    rate: float,
    inflation: np.ndarray | None = None,
    *,
    steps_per_year: int = 12,
) -> tuple[np.ndarray, np.ndarray]:
    """Wealth left and survival of a fixed real withdrawal along each path.

    Convention (the engine's, for a Calendar(1) policy and an inflation-indexed
    ``[[flows]]`` withdrawal paid every step from ``start_year = 0``): wealth starts at 1,
    invested at ``weights``. Each step ``t``: the portfolio earns ``weights @ returns[p, t]``
    (rebalanced to ``weights`` at the start of every step, no costs, no taxes); then, at the
    end of the step, ``rate / steps_per_year`` of the initial wealth times the price index
    ``prod_{u <= t} (1 + inflation[p, u])`` (this step's inflation included) is withdrawn. A
    withdrawal at least as large as the wealth left ruins the path: wealth becomes 0 and
    stays there.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_assets)
        Simple returns per step of the assets.
    weights : ndarray of shape (n_assets,)
    rate : float
        Withdrawal per year as a fraction of initial wealth (0.04 for 4 %).
    inflation : ndarray of shape (n_paths, n_steps), optional
        Inflation per step; without it the withdrawal is fixed in nominal terms.
    steps_per_year : int

    Returns
    -------
    (ndarray of shape (n_paths,), ndarray of bool of shape (n_paths,))
        Terminal wealth (fraction of initial wealth; 0 when ruined) and survival flags.
    """
    returns = np.asarray(returns, dtype=float)
    weights = np.asarray(weights, dtype=float)
    n_paths, n_steps, _ = returns.shape
    withdrawal = rate / steps_per_year
    wealth = np.empty(n_paths)
    survived = np.empty(n_paths, dtype=bool)
    for p in range(n_paths):
        w = 1.0
        price = 1.0
        alive = True
        for t in range(n_steps):
            w *= 1.0 + float(weights @ returns[p, t])
            if inflation is not None:
                price *= 1.0 + float(inflation[p, t])
            amount = withdrawal * price
            if amount >= w:
                w = 0.0
                alive = False
                break
            w -= amount
        wealth[p] = w
        survived[p] = alive
    return wealth, survived


def withdrawal_success_rate(
    returns: np.ndarray,
    weights: np.ndarray,
    rate: float,
    inflation: np.ndarray | None = None,
    *,
    steps_per_year: int = 12,
) -> float:
    """Share of paths along which the withdrawal of :func:`withdrawal_outcomes` never ruins.

    With ``returns`` and ``inflation`` from :func:`rolling_windows_reference` this is the
    historical success rate of a safe-withdrawal study.
    """
    _, survived = withdrawal_outcomes(
        returns, weights, rate, inflation, steps_per_year=steps_per_year
    )
    return float(survived.mean())
