"""The asymptotic no-trade band of a CRRA investor with small proportional costs.

One risky asset (geometric Brownian motion, drift ``mu``, volatility ``sigma``) and a safe one
(rate ``r``), constant relative risk aversion ``gamma``, a long horizon, and a cost ``eps`` per
trade as a fraction of the value traded (buying 1 of stock costs ``1 + eps``, selling it
gives ``1 - eps``). Without costs the investor holds the Merton weight
``pi* = (mu - r) / (gamma sigma^2)``; with small costs the weight is left alone inside
``[pi* - h, pi* + h]`` and pushed back to the nearest edge when it leaves, with

    h = (3 / (2 gamma) * eps * pi*^2 (1 - pi*)^2) ** (1/3) + O(eps)

(Gerhold, Guasoni, Muhle-Karbe and Schachermayer 2014, "Transaction costs, trading volume,
and the liquidity premium", Finance and Stochastics 18, 1-37, whose main result is stated
with a relative bid-ask spread ``s`` (ask ``S``, bid ``(1 - s) S``) as
``h = (3 / (4 gamma) * s * pi*^2 (1 - pi*)^2) ** (1/3)``: a cost ``eps`` per side is a spread
of about ``2 eps``;
Janecek and Shreve 2004, Finance and Stochastics 8, for the same leading order with
consumption). The width does not depend on ``sigma`` once ``pi*`` is given.

Two risky assets (a stock against a low-volatility bond, both lognormal): the weight of the
stock ``pi`` moves with the volatility ``sigma_d`` of the log price ratio
(``sigma_d^2 = sigma_s^2 + sigma_b^2 - 2 rho sigma_s sigma_b``), the loss of being off target
is ``gamma sigma_d^2 (pi - pi*)^2 / 2``, and moving wealth between the two pays both assets'
costs, so the same leading-order balance gives the formula above with
``eps = eps_stock + eps_bond`` and ``pi*`` the two-asset Merton weight of
:func:`merton_weight_two_assets`. This extension is the same heuristic argument, not a theorem
of the papers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._validation import as_float
from .errors import ConfigError, DataError

__all__ = [
    "PowerLawFit",
    "fit_power_law",
    "merton_weight",
    "merton_weight_two_assets",
    "no_trade_half_width",
]


def merton_weight(mu: float, sigma: float, risk_aversion: float, rate: float = 0.0) -> float:
    """Frictionless optimal weight of one risky asset: ``(mu - rate) / (gamma sigma^2)``.

    Parameters
    ----------
    mu : float
        Expected arithmetic return per year of the risky asset.
    sigma : float
        Its volatility per year (> 0).
    risk_aversion : float
        CRRA ``gamma`` (> 0).
    rate : float
        Safe rate per year.
    """
    mu = as_float(mu, "mu")
    sigma = as_float(sigma, "sigma", low=0.0, low_open=True)
    gamma = as_float(risk_aversion, "risk_aversion", low=0.0, low_open=True)
    rate = as_float(rate, "rate")
    return (mu - rate) / (gamma * sigma * sigma)


def merton_weight_two_assets(
    mu_stock: float,
    mu_bond: float,
    sigma_stock: float,
    sigma_bond: float,
    corr: float,
    risk_aversion: float,
) -> tuple[float, float]:
    """Frictionless optimal stock weight against a risky bond, and the relative volatility.

    Maximises ``mean - gamma / 2 * variance`` of the portfolio return over the stock weight:
    ``pi* = ((mu_s - mu_b) / gamma + sigma_b^2 - rho sigma_s sigma_b) / sigma_d^2``.

    Returns
    -------
    merton_weight : float
    sigma_d : float
        Volatility per year of ``log(stock / bond)``.
    """
    mu_s, mu_b = as_float(mu_stock, "mu_stock"), as_float(mu_bond, "mu_bond")
    s_s = as_float(sigma_stock, "sigma_stock", low=0.0)
    s_b = as_float(sigma_bond, "sigma_bond", low=0.0)
    rho = as_float(corr, "corr", low=-1.0, high=1.0)
    gamma = as_float(risk_aversion, "risk_aversion", low=0.0, low_open=True)
    var_d = s_s * s_s + s_b * s_b - 2.0 * rho * s_s * s_b
    if not var_d > 0:
        raise ConfigError(
            "`sigma_stock`, `sigma_bond` and `corr` give the two assets the same risk "
            "(their log ratio has no volatility): the band is undefined."
        )
    pi = ((mu_s - mu_b) / gamma + s_b * s_b - rho * s_s * s_b) / var_d
    return pi, math.sqrt(var_d)


def no_trade_half_width(
    cost: float | np.ndarray,
    risk_aversion: float,
    merton_weight: float,
    *,
    bond_cost: float = 0.0,
) -> float | np.ndarray:
    """Leading-order half-width of the no-trade band around the Merton weight.

    ``h = (3 / (2 gamma) * (cost + bond_cost) * pi*^2 (1 - pi*)^2) ** (1/3)``; exactly
    proportional to ``cost ** (1/3)`` (with ``bond_cost = 0``).

    Parameters
    ----------
    cost : float or ndarray
        Cost per trade of the risky asset as a fraction of the value traded (10 bps =
        0.001), >= 0: commission plus half the bid-ask spread.
    risk_aversion : float
        CRRA ``gamma`` (> 0).
    merton_weight : float
        Frictionless optimal weight ``pi*`` in [0, 1].
    bond_cost : float
        Cost per trade of the other asset (0 for cash): both legs of a rebalance pay.

    Returns
    -------
    float or ndarray
        Half-width in weight units (0.05 = 5 points either side).

    Raises
    ------
    ConfigError
        A negative cost, ``gamma <= 0`` or ``pi*`` outside [0, 1] (leverage and short
        positions are outside what this module was checked for).
    """
    c = np.asarray(cost, dtype=np.float64)
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ConfigError(f"`cost` must be finite and >= 0; got {cost!r}.")
    gamma = as_float(risk_aversion, "risk_aversion", low=0.0, low_open=True)
    pi = as_float(merton_weight, "merton_weight", low=0.0, high=1.0)
    eps_b = as_float(bond_cost, "bond_cost", low=0.0)
    h = np.cbrt(1.5 / gamma * (c + eps_b) * (pi * (1.0 - pi)) ** 2)
    return float(h) if h.ndim == 0 else h


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerLawFit:
    """Weighted least-squares fit of ``log width = intercept + slope * log cost``.

    Attributes
    ----------
    slope, slope_se : float
        Exponent and its standard error from the widths' standard errors.
    intercept, intercept_se : float
        Log of the width at cost 1.
    chi2 : float
        Sum of squared standardised residuals; ``chi2 / dof`` well above 1 says the power law
        (or the SEs) do not fit.
    dof : int
        Points minus 2.
    """

    slope: float
    slope_se: float
    intercept: float
    intercept_se: float
    chi2: float
    dof: int

    def z_score(self, slope: float = 1.0 / 3.0) -> float:
        """Distance of the fitted slope from ``slope`` in standard errors."""
        return (self.slope - slope) / self.slope_se


def fit_power_law(
    costs: Sequence[float] | np.ndarray,
    widths: Sequence[float] | np.ndarray,
    width_se: Sequence[float] | np.ndarray,
) -> PowerLawFit:
    """Fit ``width = A * cost ** slope`` by weighted least squares in logs.

    The variance of ``log width`` is taken as ``(width_se / width)^2`` (delta method), so
    ``slope_se`` is the formal standard error given those SEs; compare the slope with 1/3
    through :meth:`PowerLawFit.z_score`.

    Parameters
    ----------
    costs : array-like of shape (n,)
        Costs (> 0, at least 2 distinct).
    widths : array-like of shape (n,)
        Estimated optimal half-widths (> 0).
    width_se : array-like of shape (n,)
        Their standard errors (> 0).

    Raises
    ------
    DataError
        Mismatched lengths, fewer than 2 points, or a value that is not positive and finite.
    """
    x = np.asarray(costs, dtype=np.float64).ravel()
    y = np.asarray(widths, dtype=np.float64).ravel()
    s = np.asarray(width_se, dtype=np.float64).ravel()
    if not x.size == y.size == s.size:
        raise DataError(
            f"`costs`, `widths` and `width_se` must have the same length; got {x.size}, "
            f"{y.size} and {s.size}."
        )
    for name, v in (("costs", x), ("widths", y), ("width_se", s)):
        if not np.all(np.isfinite(v) & (v > 0)):
            raise DataError(f"`{name}` must all be positive and finite; got {v.tolist()}.")
    if np.unique(x).size < 2:
        raise DataError("`costs` must hold at least 2 distinct values to fit a slope.")
    lx, ly = np.log(x), np.log(y)
    wt = (y / s) ** 2
    sw = wt.sum()
    mx = (wt * lx).sum() / sw
    my = (wt * ly).sum() / sw
    sxx = (wt * (lx - mx) ** 2).sum()
    slope = (wt * (lx - mx) * (ly - my)).sum() / sxx
    intercept = my - slope * mx
    resid = ly - intercept - slope * lx
    return PowerLawFit(
        slope=float(slope),
        slope_se=float(math.sqrt(1.0 / sxx)),
        intercept=float(intercept),
        intercept_se=float(math.sqrt(1.0 / sw + mx * mx / sxx)),
        chi2=float((wt * resid * resid).sum()),
        dof=int(x.size - 2),
    )
