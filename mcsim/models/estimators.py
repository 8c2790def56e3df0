"""Covariance estimators for the moment-based models (Gaussian, Student-t).

Every estimator takes log returns per period, shape (n_obs, n_series), and returns the
covariance *per period* (the caller annualises). Names follow scikit-learn's meaning:

``"sample"``
    Unbiased sample covariance (divisor ``n_obs - 1``).
``"ewma"``
    Exponentially weighted covariance, RiskMetrics style: the weight of the observation
    ``k`` periods before the last one is proportional to ``lambda**k`` with
    ``lambda = 2**(-1/halflife)``; weights are normalised to sum to one over the sample and
    the covariance is taken around the weighted mean. This is
    ``DataFrame.ewm(halflife=halflife).cov(bias=True)`` at the last date.
``"ledoit_wolf"``, ``"oas"``
    :class:`sklearn.covariance.LedoitWolf` and :class:`sklearn.covariance.OAS` with
    ``assume_centered=False``: shrinkage of the maximum-likelihood covariance (divisor
    ``n_obs``) towards a scaled identity.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import NumericalWarning

__all__ = [
    "ESTIMATORS",
    "check_covariance_rank",
    "estimate_covariance",
    "ewma_covariance",
    "ewma_weights",
    "min_rows",
]

ESTIMATORS = ("sample", "ewma", "ledoit_wolf", "oas")


def ewma_weights(n_obs: int, halflife: float) -> np.ndarray:
    """Weights of ``n_obs`` observations, oldest first, summing to one.

    The newest observation has the largest weight; each step back in time multiplies the
    weight by ``2**(-1/halflife)`` (``halflife`` in periods, > 0).
    """
    decay = 2.0 ** (-1.0 / halflife)
    w = decay ** np.arange(n_obs - 1, -1, -1, dtype=float)
    return w / w.sum()


def ewma_covariance(x: np.ndarray, halflife: float) -> np.ndarray:
    """Exponentially weighted covariance per period of ``x`` (n_obs, n_series)."""
    w = ewma_weights(x.shape[0], halflife)
    mean = w @ x
    d = x - mean
    return (d * w[:, None]).T @ d


def estimate_covariance(x: np.ndarray, estimator: str, halflife: float | None = None) -> np.ndarray:
    """Covariance per period of log returns ``x`` of shape (n_obs, n_series).

    Parameters
    ----------
    x : ndarray of shape (n_obs, n_series)
        Log returns per period.
    estimator : {"sample", "ewma", "ledoit_wolf", "oas"}
        See the module docstring.
    halflife : float, optional
        Half-life in periods, required for ``"ewma"``.

    Returns
    -------
    ndarray of shape (n_series, n_series)
        Covariance of log returns per period.
    """
    x = np.asarray(x, dtype=float)
    if estimator == "sample":
        return np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    if estimator == "ewma":
        if halflife is None:
            raise ValueError("the 'ewma' estimator needs a half-life")
        return ewma_covariance(x, halflife)
    if estimator == "ledoit_wolf":
        # Imported here: scikit-learn takes about a second to import.
        from sklearn.covariance import LedoitWolf

        return LedoitWolf(assume_centered=False).fit(x).covariance_
    if estimator == "oas":
        from sklearn.covariance import OAS

        return OAS(assume_centered=False).fit(x).covariance_
    raise ValueError(f"unknown covariance estimator {estimator!r}")


def min_rows(estimator: str, n_series: int) -> int:
    """Fewest observations an estimator is fitted to.

    The sample and EWMA covariances are singular with ``n_obs <= n_series``; two more rows
    than series (and at least 12) keep them invertible. The shrinkage estimators are
    well defined with fewer rows than series, but a mean and a variance still need data: 12.
    """
    if estimator in ("sample", "ewma"):
        return max(n_series + 2, 12)
    return 12


def check_covariance_rank(cov: np.ndarray, names: list[str], estimator: str) -> None:
    """Warn when a fitted covariance is singular (or nearly so), saying what to do.

    A singular covariance still simulates (the Cholesky factor gets a zero column), but it
    means some portfolio of the series has no risk at all in the model, which is rarely true.
    """
    vol = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    if np.any(vol == 0.0):
        flat = [names[i] for i in np.flatnonzero(vol == 0.0)]
        warnings.warn(
            f"Series {', '.join(map(repr, flat))} never move in the data (zero variance): the "
            "model simulates them as riskless. Check the data or drop those columns.",
            NumericalWarning,
            stacklevel=3,
        )
        return
    corr = cov / np.outer(vol, vol)
    eig = np.linalg.eigvalsh(corr)
    if eig[0] < 1e-10 * len(names):
        hint = (
            ' Use `estimator = "ledoit_wolf"` or `"oas"` (shrinkage keeps it invertible),'
            if estimator in ("sample", "ewma")
            else ""
        )
        warnings.warn(
            f"The fitted covariance of {', '.join(names)} is singular (smallest eigenvalue of "
            f"the correlation matrix {eig[0]:.2g}): some mix of the series has no risk in the "
            f"model.{hint} drop a duplicated or collinear series, or use a longer history.",
            NumericalWarning,
            stacklevel=3,
        )
