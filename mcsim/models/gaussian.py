"""Correlated lognormal returns (geometric Brownian motion)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from .._validation import as_vector, check_correlation, check_keys
from ..errors import ConfigError
from ..kernels import simulate_gaussian_nb
from .base import ReturnModel, check_history, psd_cholesky


class GaussianModel(ReturnModel):
    r"""Correlated lognormal returns: log returns are multivariate normal and i.i.d.

    Over a step of length :math:`\Delta t = 1/\text{steps\_per\_year}` years,

    .. math:: \log(1 + r_t) = (\mu - \tfrac12 \sigma^2)\,\Delta t + L z_t \sqrt{\Delta t},
              \qquad L L^\top = \Sigma,\; z_t \sim N(0, I),

    so :math:`\mu` is the annual *arithmetic* expected return in continuous time
    (:math:`E[W_T] = W_0 e^{\mu T}` for a single asset) and :math:`\Sigma` the annual
    covariance of log returns, with volatilities :math:`\sigma` on its diagonal.

    Parameters
    ----------
    mu : array-like of shape (n_series,), optional
        Annual expected returns (fraction per year). Given alone, the covariance is fitted to
        history (the usual "capital market assumptions with historical risk").
    vol : array-like of shape (n_series,), optional
        Annual volatilities (fraction per year, >= 0).
    corr : array-like of shape (n_series, n_series), optional
        Correlation matrix of log returns (symmetric, positive semi-definite).
    names : sequence of str, optional
        Series names; required when all parameters are explicit.

    Attributes
    ----------
    mu_, cov_ : ndarray
        Annual expected returns and annual covariance of log returns.
    names_ : list of str
    """

    kind = "gaussian"
    _KEYS = ("kind", "assets", "mu", "vol", "corr")

    def __init__(
        self,
        mu: Sequence[float] | None = None,
        vol: Sequence[float] | None = None,
        corr: Sequence[Sequence[float]] | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        self.mu = None if mu is None else np.asarray(mu, dtype=float)
        self.vol = None if vol is None else np.asarray(vol, dtype=float)
        self.corr = None if corr is None else np.asarray(corr, dtype=float)
        self.names = None if names is None else list(names)
        self.names_: list[str] = []
        if self.vol is not None or self.corr is not None:
            self._set_explicit()

    def _set_explicit(self) -> None:
        where = "[model]"
        if self.vol is None or self.corr is None or self.mu is None or self.names is None:
            raise ConfigError(
                f"`{where}` gives some explicit parameters: give all of `assets`, `mu`, `vol` "
                "and `corr`, or only `mu` (the covariance is then fitted to the data)."
            )
        names = self.names
        mu = as_vector(list(self.mu), f"{where}.mu", names)
        vol = as_vector(list(self.vol), f"{where}.vol", names, low=0.0)
        corr = check_correlation(self.corr, f"{where}.corr")
        if corr.shape[0] != len(names):
            raise ConfigError(
                f"`{where}.corr` is {corr.shape[0]}x{corr.shape[1]} but there are "
                f"{len(names)} assets."
            )
        self.mu_ = mu
        self.cov_ = corr * np.outer(vol, vol)
        self.names_ = names

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        check_keys(section, cls._KEYS, where)
        names = section.get("assets")
        mu = section.get("mu")
        if isinstance(mu, Mapping):
            names = names or list(mu)
        vol = section.get("vol")
        corr = section.get("corr")
        if names is not None:
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"`{where}.assets` must be a list of names.")
        if mu is not None and names is not None:
            mu = as_vector(mu, f"{where}.mu", names)
        if vol is not None:
            if names is None:
                raise ConfigError(f"`{where}.assets` is required when `vol` is given.")
            vol = as_vector(vol, f"{where}.vol", names, low=0.0)
        return cls(mu=mu, vol=vol, corr=corr, names=names)

    @property
    def needs_history(self) -> bool:
        return not self.names_

    @property
    def series_names(self) -> list[str]:
        return list(self.names_)

    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Fit mean and covariance of log returns, annualised with ``periods_per_year``."""
        n_series = returns.shape[1]
        x = np.log1p(check_history(returns, max(n_series + 2, 12), "gaussian"))
        cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1)) * periods_per_year
        mu = x.mean(axis=0) * periods_per_year + 0.5 * np.diag(cov)
        names = [str(c) for c in returns.columns]
        if self.mu is not None:
            if len(self.mu) != n_series:
                raise ConfigError(
                    f"`[model].mu` has {len(self.mu)} values but the data has {n_series} "
                    f"columns ({', '.join(names)})."
                )
            mu = np.asarray(self.mu, dtype=float)
        self.mu_ = mu
        self.cov_ = cov
        self.names_ = names
        return self

    @property
    def vol_(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov_))

    @property
    def corr_(self) -> np.ndarray:
        v = self.vol_
        with np.errstate(invalid="ignore", divide="ignore"):
            c = self.cov_ / np.outer(v, v)
        c[~np.isfinite(c)] = 0.0
        np.fill_diagonal(c, 1.0)
        return c

    def step_moments(self, steps_per_year: int) -> tuple[np.ndarray, np.ndarray]:
        """Drift of log returns per step and the Cholesky factor of their covariance per step."""
        dt = 1.0 / steps_per_year
        drift = (self.mu_ - 0.5 * np.diag(self.cov_)) * dt
        return drift, psd_cholesky(self.cov_ * dt)

    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        drift, chol = self._kernel_inputs(steps_per_year)
        simulate_gaussian_nb(rng, drift, chol, out)

    def _kernel_inputs(self, steps_per_year: int) -> tuple[np.ndarray, np.ndarray]:
        cached = getattr(self, "_inputs", None)
        if cached is None or cached[0] != steps_per_year:
            self._inputs = (steps_per_year, *self.step_moments(steps_per_year))
        return self._inputs[1], self._inputs[2]

    def params(self) -> dict[str, Any]:
        self.check_fitted()
        return {
            "kind": self.kind,
            "assets": self.series_names,
            "mu": self.mu_.tolist(),
            "vol": self.vol_.tolist(),
            "corr": self.corr_.tolist(),
        }
