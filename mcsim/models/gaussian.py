"""Correlated lognormal returns (geometric Brownian motion), with a choice of covariance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from .._validation import (
    as_array,
    as_float,
    as_float_list,
    as_str,
    as_vector,
    check_correlation,
    check_keys,
)
from ..errors import ConfigError
from ..kernels import simulate_gaussian_nb
from .base import ReturnModel, check_history, history_info, psd_cholesky
from .estimators import ESTIMATORS, check_covariance_rank, estimate_covariance, min_rows


class GaussianModel(ReturnModel):
    r"""Correlated lognormal returns: log returns are multivariate normal and i.i.d.

    Over a step of length :math:`\Delta t = 1/\text{steps\_per\_year}` years,

    .. math:: \log(1 + r_t) = (\mu - \tfrac12 \sigma^2)\,\Delta t + L z_t \sqrt{\Delta t},
              \qquad L L^\top = \Sigma,\; z_t \sim N(0, I),

    so :math:`\mu` is the annual *arithmetic* expected return in continuous time
    (:math:`E[W_T] = W_0 e^{\mu T}` for a single asset) and :math:`\Sigma` the annual
    covariance of log returns, with volatilities :math:`\sigma` on its diagonal.

    Fitted to history (simple returns per period, ``periods_per_year`` a year), the model
    takes the log returns ``x = log(1 + r)``, estimates their covariance per period with
    ``estimator`` and annualises: ``Sigma = cov(x) * periods_per_year``. The expected return
    is ``mu = mean(x) * periods_per_year + sigma**2 / 2``, so the simulated mean log return per
    year equals the historical one whatever the estimator. When ``mu`` is given, only the
    covariance is fitted ("capital market assumptions with historical risk").

    Parameters
    ----------
    mu : array-like of shape (n_series,) or mapping of name to float, optional
        Annual expected returns (fraction per year). Given alone, the covariance is fitted to
        history; a mapping is matched to the data's columns by name.
    vol : array-like of shape (n_series,), optional
        Annual volatilities of log returns (fraction per year, >= 0).
    corr : array-like of shape (n_series, n_series), optional
        Correlation matrix of log returns (symmetric, positive semi-definite).
    names : sequence of str, optional
        Series names; required when all parameters are explicit.
    estimator : {"sample", "ewma", "ledoit_wolf", "oas"}
        Covariance estimator used by :meth:`fit` (see :mod:`mcsim.models.estimators`).
        With explicit ``vol`` and ``corr`` it only records how those were estimated.
    halflife : float, optional
        Half-life of the EWMA weights in periods of the data (> 0); required with
        ``estimator="ewma"`` and refused otherwise.

    Attributes
    ----------
    mu_, cov_ : ndarray
        Annual expected returns and annual covariance of log returns.
    names_ : list of str
    fit_info_ : dict
        How the model was fitted (rows, dates, periods per year); empty when explicit.
    """

    kind = "gaussian"
    _KEYS: tuple[str, ...] = (
        "kind",
        "assets",
        "mu",
        "vol",
        "corr",
        "estimator",
        "halflife",
        "fit",
    )

    def __init__(
        self,
        mu: Sequence[float] | Mapping[str, float] | None = None,
        vol: Sequence[float] | None = None,
        corr: Sequence[Sequence[float]] | None = None,
        names: Sequence[str] | None = None,
        *,
        estimator: str = "sample",
        halflife: float | None = None,
    ) -> None:
        where = "[model]"
        if isinstance(mu, Mapping):
            names = list(names) if names is not None else list(mu)
            mu = as_vector(dict(mu), f"{where}.mu", names)
        self.mu = None if mu is None else as_float_list(mu, f"{where}.mu")
        self.vol = None if vol is None else as_float_list(vol, f"{where}.vol")
        self.names = None if names is None else [str(n) for n in names]
        n = None if self.names is None else len(self.names)
        self.corr = (
            None
            if corr is None
            else as_array(corr, f"{where}.corr", ndim=2, shape=None if n is None else (n, n))
        )
        self.estimator = as_str(estimator, f"{where}.estimator", choices=ESTIMATORS)
        if halflife is not None:
            if self.estimator != "ewma":
                raise ConfigError(
                    f'`{where}.halflife` applies to `estimator = "ewma"` only; got estimator '
                    f'{self.estimator!r}. Remove `halflife` or set estimator = "ewma".'
                )
            halflife = as_float(halflife, f"{where}.halflife", low=0.0, low_open=True)
        elif self.estimator == "ewma":
            raise ConfigError(
                f'`{where}.halflife` is required with estimator = "ewma": the half-life of the '
                "weights in periods of the data, for example halflife = 36 (months)."
            )
        self.halflife = halflife
        if self.mu is not None and self.names is not None and len(self.mu) != len(self.names):
            raise ConfigError(
                f"`{where}.mu` has {len(self.mu)} values but `{where}.assets` names "
                f"{len(self.names)} series ({', '.join(self.names)})."
            )
        self.names_: list[str] = []
        self.fit_info_: dict[str, Any] = {}
        if self.vol is not None or self.corr is not None:
            self._set_explicit()

    # -- construction ------------------------------------------------------------------------
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
        corr = check_correlation(self.corr, f"{where}.corr", len(names))
        self.mu_ = mu
        self.cov_ = corr * np.outer(vol, vol)
        self.names_ = names

    @classmethod
    def _options(cls, section: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Keyword arguments of the constructor read from a scenario section."""
        check_keys(section, cls._KEYS, where)
        fit = section.get("fit")
        if fit is not None and not isinstance(fit, Mapping):
            raise ConfigError(f"`{where}.fit` must be a table (it records how a model was fitted).")
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
        elif mu is not None:
            if not isinstance(mu, list):
                raise ConfigError(
                    f"`{where}.mu` must be a table such as {{ stocks = 0.07, bonds = 0.04 }} "
                    f"or a list with `assets`; got {mu!r}."
                )
            mu = [as_float(v, f"{where}.mu[{i}]") for i, v in enumerate(mu)]
        if vol is not None:
            if names is None:
                raise ConfigError(f"`{where}.assets` is required when `vol` is given.")
            vol = as_vector(vol, f"{where}.vol", names, low=0.0)
        return {
            "mu": mu,
            "vol": vol,
            "corr": corr,
            "names": names,
            "estimator": section.get("estimator", "sample"),
            "halflife": section.get("halflife"),
        }

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        """Build the model from its scenario section.

        Keys: ``assets``, ``mu``, ``vol``, ``corr`` (explicit parameters), ``estimator``,
        ``halflife`` and ``fit`` (a record of a previous fit, as written by :meth:`params`;
        informational).
        """
        return cls(**cls._options(section, where))

    # -- fitting -----------------------------------------------------------------------------
    def _user_mu(self, columns: list[str]) -> np.ndarray | None:
        """The given expected returns in the data's column order (None when not given)."""
        if self.mu is None:
            return None
        where = "[model]"
        if self.names is None:
            if len(self.mu) != len(columns):
                raise ConfigError(
                    f"`{where}.mu` has {len(self.mu)} values but the data has {len(columns)} "
                    f"columns ({', '.join(columns)}); give one per column, best as a table "
                    "{ name = value, ... }."
                )
            return self.mu.copy()
        missing = [c for c in columns if c not in self.names]
        extra = [n for n in self.names if n not in columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"no value for data column(s) {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"names {', '.join(map(repr, extra))}, not in the data")
            raise ConfigError(
                f"`{where}.mu` does not match the data: {'; '.join(parts)}. Give one value for "
                f"every column of the data ({', '.join(columns)}), including an inflation column."
            )
        return self.mu[[self.names.index(c) for c in columns]]

    def _log_history(self, returns: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        n_series = returns.shape[1] if isinstance(returns, pd.DataFrame) else 0
        x = check_history(returns, min_rows(self.estimator, n_series), self.kind)
        return np.log1p(x), [str(c) for c in returns.columns]

    def _record_fit(self, returns: pd.DataFrame, periods_per_year: int) -> None:
        self.fit_info_ = history_info(returns, periods_per_year)

    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Fit mean and covariance of log returns, annualised with ``periods_per_year``.

        Parameters
        ----------
        returns : pandas.DataFrame
            Simple returns per period (fractions), one column per series.
        periods_per_year : int
            Periods of the data in a year (12 for monthly).

        Returns
        -------
        self
        """
        x, names = self._log_history(returns)
        mu_user = self._user_mu(names)
        cov = estimate_covariance(x, self.estimator, self.halflife) * periods_per_year
        check_covariance_rank(cov, names, self.estimator)
        mu = x.mean(axis=0) * periods_per_year + 0.5 * np.diag(cov)
        self.mu_ = mu if mu_user is None else mu_user
        self.cov_ = cov
        self.names_ = names
        self._record_fit(returns, int(periods_per_year))
        self.fit_info_["mu"] = "historical" if mu_user is None else "given"
        self._inputs = None
        return self

    # -- derived parameters ------------------------------------------------------------------
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

    # -- simulation --------------------------------------------------------------------------
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
        out: dict[str, Any] = {
            "kind": self.kind,
            "assets": self.series_names,
            "mu": self.mu_.tolist(),
            "vol": self.vol_.tolist(),
            "corr": self.corr_.tolist(),
            "estimator": self.estimator,
        }
        if self.halflife is not None:
            out["halflife"] = self.halflife
        if self.fit_info_:
            out["fit"] = dict(self.fit_info_)
        return out
