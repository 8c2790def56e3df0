"""Lognormal returns with a linear factor covariance, for many assets.

The covariance of log returns is ``B F B' + D``: ``B`` the loadings (n_series, n_factors),
``F`` the factor covariance (n_factors, n_factors), ``D`` diagonal (idiosyncratic variances).
Simulating it draws the factors and one idiosyncratic normal per series, so a step costs
O(n_series * n_factors) instead of the O(n_series**2) of a dense Cholesky product, and the
model needs O(n_series * n_factors) parameters: hundreds of assets stay cheap and a short
history still gives a positive definite covariance.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.linalg import eigh

from .._validation import (
    as_array,
    as_int,
    as_vector,
    check_correlation,
    check_keys,
)
from ..errors import ConfigError, ConvergenceWarning
from ..kernels._factor import simulate_factor_nb
from .base import ReturnModel, check_history, history_info, psd_cholesky

__all__ = ["FactorFit", "FactorModel", "fit_factor_structure"]

# Principal-axis iterations stop when no entry of the fitted covariance moves by more than
# this fraction of the largest variance in a round; the floor keeps each idiosyncratic
# variance positive (a "Heywood case" otherwise drives it to zero or below).
FIT_TOL = 1e-7
FIT_MAX_ITER = 2000
IDIO_FLOOR = 1e-6


class FactorFit:
    """Result of :func:`fit_factor_structure`.

    Attributes
    ----------
    loadings : ndarray of shape (n_series, n_factors)
        Unit-norm columns (principal directions of ``cov - D``), signs chosen so that each
        column sums to a non-negative number.
    factor_vol : ndarray of shape (n_factors,)
        Standard deviation of each factor, in the units of ``cov`` (its square root).
    idio_var : ndarray of shape (n_series,)
        Idiosyncratic variances, in the units of ``cov``.
    n_iter : int
        Principal-axis iterations made.
    converged : bool
    explained : float
        Fraction of the total variance (trace of ``cov``) carried by the factors.
    """

    __slots__ = ("converged", "explained", "factor_vol", "idio_var", "loadings", "n_iter")

    def __init__(
        self,
        loadings: np.ndarray,
        factor_vol: np.ndarray,
        idio_var: np.ndarray,
        n_iter: int,
        converged: bool,
        explained: float,
    ) -> None:
        self.loadings = loadings
        self.factor_vol = factor_vol
        self.idio_var = idio_var
        self.n_iter = n_iter
        self.converged = converged
        self.explained = explained


def fit_factor_structure(cov: np.ndarray, n_factors: int) -> FactorFit:
    """Fit ``cov ~ B B' + D`` with ``n_factors`` columns in ``B`` by iterated principal axes.

    Starts from probabilistic PCA (Tipping and Bishop 1999: ``D`` the mean of the discarded
    eigenvalues) and repeats: ``B`` from the leading eigenpairs of ``cov - D``
    (``B = V sqrt(lambda)``), then ``D = diag(cov) - diag(B B')``, floored at
    ``IDIO_FLOOR`` times the series' variance. At the fixed point the diagonal of
    ``B B' + D`` equals that of ``cov`` (so the volatilities are kept) and ``B B'`` is the
    best rank-``n_factors`` approximation of ``cov - D``. When ``cov`` is exactly a factor
    covariance with ``n_factors`` factors, that covariance is recovered.

    Parameters
    ----------
    cov : ndarray of shape (n_series, n_series)
        Symmetric positive semi-definite covariance (any units, e.g. annual).
    n_factors : int
        Number of factors, 1 <= n_factors < n_series.

    Returns
    -------
    FactorFit
    """
    cov = np.asarray(cov, dtype=float)
    diag = np.diag(cov).copy()
    floor = IDIO_FLOOR * diag
    n = cov.shape[0]
    eig = np.linalg.eigvalsh(cov)
    d = np.full_like(diag, max(float(eig[: n - n_factors].mean()), 0.0))
    d = np.maximum(np.minimum(d, diag), floor)
    scale = max(float(diag.max()), np.finfo(float).tiny)
    converged = False
    n_iter = 0
    b = np.zeros((n, n_factors))
    outer_old = np.zeros_like(cov)
    for n_iter in range(1, FIT_MAX_ITER + 1):  # noqa: B007 - n_iter is reported
        # Only the leading eigenpairs: O(n^2 k) a round instead of a full decomposition.
        eig, vec = eigh(cov - np.diag(d), subset_by_index=[n - n_factors, n - 1])
        b = vec * np.sqrt(np.maximum(eig, 0.0))
        d = np.maximum(diag - np.einsum("ik,ik->i", b, b), floor)
        # The diagonal of B B' + D is pinned to diag(cov), so the fit moves only through
        # B B' off the diagonal; near a boundary D can still drift while that is settled.
        outer = b @ b.T
        step = float(np.max(np.abs(outer - outer_old)))
        outer_old = outer
        if step <= FIT_TOL * scale:
            converged = True
            break
    vol = np.linalg.norm(b, axis=0)
    loadings = np.divide(b, vol, out=np.zeros_like(b), where=vol > 0)
    sign = np.where(loadings.sum(axis=0) < 0, -1.0, 1.0)
    total = float(diag.sum())
    explained = float((vol**2).sum() / total) if total > 0 else 0.0
    return FactorFit(loadings * sign, vol, d, n_iter, converged, explained)


def _as_loadings(value: Any, field: str, names: list[str]) -> np.ndarray:
    """Loadings (n_series, n_factors) from a list of rows or a {name: [..]} table."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in names]
        missing = [n for n in names if n not in value]
        if unknown or missing:
            what = (
                f"names unknown asset {unknown[0]!r}"
                if unknown
                else f"has no row for {', '.join(map(repr, missing))}"
            )
            raise ConfigError(
                f"`{field}` {what}; give one row of loadings per asset ({', '.join(names)})."
            )
        value = [value[n] for n in names]
    b = as_array(value, field, ndim=2)
    if b.shape[0] != len(names):
        raise ConfigError(
            f"`{field}` has {b.shape[0]} rows but there are {len(names)} assets "
            f"({', '.join(names)}); give one row (one loading per factor) per asset."
        )
    if b.shape[1] < 1:
        raise ConfigError(f"`{field}` needs at least one factor (one column).")
    return b


class FactorModel(ReturnModel):
    r"""Correlated lognormal returns whose covariance has a linear factor structure.

    Over a step of :math:`\Delta t = 1/\text{steps\_per\_year}` years,

    .. math:: \log(1 + r_t) = (\mu - \tfrac12 \sigma^2)\,\Delta t
              + \sqrt{\Delta t}\,\bigl(B\, S L_f u_t + \operatorname{diag}(s)\, e_t\bigr),
              \qquad L_f L_f^\top = C,\; u_t \sim N(0, I_k),\; e_t \sim N(0, I_n),

    with loadings :math:`B` (n_series, k), factor volatilities :math:`S = \operatorname{diag}
    (\text{factor\_vol})`, factor correlation :math:`C` and idiosyncratic volatilities
    :math:`s`. The annual covariance of log returns is
    :math:`\Sigma = B S C S B^\top + \operatorname{diag}(s^2)` and :math:`\sigma^2` its
    diagonal; as in :class:`~mcsim.models.GaussianModel`, :math:`\mu` is the annual arithmetic
    expected return in continuous time. Returns have exactly the law of a Gaussian model with
    covariance :math:`\Sigma`, but a step costs O(n_series x k) and no dense matrix is formed.

    Fitted to history (``n_factors`` given), the annual sample covariance of log returns is
    split into ``B B' + D`` by iterated principal axes (:func:`fit_factor_structure`): the
    fitted volatilities equal the sample ones, factors are uncorrelated (``C = I``), and the
    loadings have unit-norm columns with the factor volatilities carrying the scale. A
    history shorter than the number of assets is fine (the factor covariance stays positive
    definite). ``mu`` given alone is kept; otherwise
    ``mu = mean(log returns) * periods_per_year + sigma**2 / 2``.

    Parameters
    ----------
    mu : array-like of shape (n_series,) or mapping of name to float, optional
        Annual expected returns (fraction per year).
    n_factors : int, optional
        Factors fitted by :meth:`fit` (1 <= n_factors < n_series). Refused with explicit
        loadings.
    loadings : array-like of shape (n_series, n_factors) or mapping name -> row, optional
        Exposures of each series' log return to each factor (dimensionless).
    idiosyncratic_vol : array-like of shape (n_series,), optional
        Annual volatility of each series' own shock (fraction per year, >= 0).
    factor_vol : array-like of shape (n_factors,), optional
        Annual volatility of each factor (fraction per year, >= 0); default 1 (then the
        loadings carry the scale).
    factor_corr : array-like of shape (n_factors, n_factors), optional
        Factor correlation matrix; default the identity.
    names : sequence of str, optional
        Series names; required with explicit loadings.

    Attributes
    ----------
    mu_, loadings_, factor_vol_, factor_corr_, idiosyncratic_vol_ : ndarray
        Parameters in use (annual).
    names_ : list of str
    fit_info_ : dict
        How the model was fitted (rows, dates, iterations, variance explained); empty when
        explicit.
    """

    kind = "factor"
    _KEYS = (
        "kind",
        "assets",
        "mu",
        "n_factors",
        "loadings",
        "idiosyncratic_vol",
        "factor_vol",
        "factor_corr",
        "fit",
    )

    def __init__(
        self,
        mu: Sequence[float] | Mapping[str, float] | None = None,
        *,
        n_factors: int | None = None,
        loadings: Any = None,
        idiosyncratic_vol: Any = None,
        factor_vol: Any = None,
        factor_corr: Any = None,
        names: Sequence[str] | None = None,
    ) -> None:
        where = "[model]"
        self.names = None if names is None else [str(n) for n in names]
        if isinstance(mu, Mapping) and self.names is None:
            self.names = [str(n) for n in mu]
        self.mu = mu
        self.n_factors = (
            None if n_factors is None else as_int(n_factors, f"{where}.n_factors", low=1)
        )
        explicit = {
            "loadings": loadings,
            "idiosyncratic_vol": idiosyncratic_vol,
            "factor_vol": factor_vol,
            "factor_corr": factor_corr,
        }
        given = [k for k, v in explicit.items() if v is not None]
        if self.n_factors is not None and given:
            raise ConfigError(
                f"`{where}.n_factors` fits the factors to data, and `{where}.{given[0]}` gives "
                "them explicitly; use one or the other."
            )
        if self.n_factors is None and not given:
            raise ConfigError(
                f"The factor model needs `{where}.n_factors` (factors fitted to the data by "
                f"PCA, for example n_factors = 3) or explicit `{where}.loadings` and "
                f"`{where}.idiosyncratic_vol`."
            )
        self.names_: list[str] = []
        self.fit_info_: dict[str, Any] = {}
        self._inputs: tuple | None = None
        if given:
            self._set_explicit(**explicit)

    # -- construction ------------------------------------------------------------------------
    def _set_explicit(
        self, *, loadings: Any, idiosyncratic_vol: Any, factor_vol: Any, factor_corr: Any
    ) -> None:
        where = "[model]"
        if loadings is None or idiosyncratic_vol is None or self.mu is None or not self.names:
            raise ConfigError(
                f"Explicit factor parameters need `{where}.assets`, `{where}.mu`, "
                f"`{where}.loadings` and `{where}.idiosyncratic_vol` (`factor_vol` and "
                "`factor_corr` are optional); or give `n_factors` to fit them to data."
            )
        names = self.names
        b = _as_loadings(loadings, f"{where}.loadings", names)
        k = b.shape[1]
        factors = [f"f{j}" for j in range(k)]
        if factor_vol is None:
            fv = np.ones(k)
        else:
            if isinstance(factor_vol, (list, tuple, np.ndarray)) and len(factor_vol) != k:
                raise ConfigError(
                    f"`{where}.factor_vol` has {len(factor_vol)} values but `{where}.loadings` "
                    f"has {k} factors (columns)."
                )
            fv = as_vector(factor_vol, f"{where}.factor_vol", factors, low=0.0)
        fc = (
            np.eye(k)
            if factor_corr is None
            else check_correlation(factor_corr, f"{where}.factor_corr", k)
        )
        self.mu_ = as_vector(self.mu, f"{where}.mu", names)
        self.loadings_ = b
        self.factor_vol_ = fv
        self.factor_corr_ = fc
        self.idiosyncratic_vol_ = as_vector(
            idiosyncratic_vol, f"{where}.idiosyncratic_vol", names, low=0.0
        )
        self.names_ = list(names)
        self._inputs = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        """Build the model from its scenario section.

        Keys: ``assets``, ``mu``, ``n_factors`` (fit by PCA), or ``loadings``,
        ``idiosyncratic_vol``, ``factor_vol``, ``factor_corr`` (explicit), and ``fit`` (a
        record of a previous fit, as written by :meth:`params`; informational).
        """
        check_keys(section, cls._KEYS, where)
        fit = section.get("fit")
        if fit is not None and not isinstance(fit, Mapping):
            raise ConfigError(f"`{where}.fit` must be a table (it records how a model was fitted).")
        names = section.get("assets")
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) for n in names)
        ):
            raise ConfigError(f"`{where}.assets` must be a list of names.")
        mu = section.get("mu")
        if mu is not None and not isinstance(mu, (Mapping, list)):
            raise ConfigError(
                f"`{where}.mu` must be a table such as {{ a = 0.07, b = 0.04 }} or a list "
                f"with `assets`; got {mu!r}."
            )
        return cls(
            mu,
            n_factors=section.get("n_factors"),
            loadings=section.get("loadings"),
            idiosyncratic_vol=section.get("idiosyncratic_vol"),
            factor_vol=section.get("factor_vol"),
            factor_corr=section.get("factor_corr"),
            names=names,
        )

    # -- fitting -----------------------------------------------------------------------------
    def _user_mu(self, columns: list[str]) -> np.ndarray | None:
        if self.mu is None:
            return None
        where = "[model]"
        if isinstance(self.mu, Mapping) or self.names is not None:
            table = (
                dict(self.mu)
                if isinstance(self.mu, Mapping)
                else dict(zip(self.names or [], self.mu, strict=False))
            )
            return as_vector(table, f"{where}.mu", columns)
        return as_vector(list(self.mu), f"{where}.mu", columns)

    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Fit loadings and idiosyncratic variances to the sample covariance of log returns.

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
        where = "[model]"
        if self.n_factors is None:
            # Explicit parameters: nothing to fit (the engine only fits models that need it).
            return self
        k = self.n_factors
        n_series = returns.shape[1] if isinstance(returns, pd.DataFrame) else 0
        if isinstance(returns, pd.DataFrame) and k >= n_series:
            raise ConfigError(
                f"`{where}.n_factors` = {k} must be below the number of series ({n_series}: "
                f"{', '.join(map(str, returns.columns))}); with as many factors as series use "
                'kind = "gaussian".'
            )
        x = np.log1p(check_history(returns, k + 2, self.kind))
        names = [str(c) for c in returns.columns]
        mu_user = self._user_mu(names)
        cov = np.atleast_2d(np.cov(x, rowvar=False)) * periods_per_year
        res = fit_factor_structure(cov, k)
        if not res.converged:
            warnings.warn(
                f"The factor fit with {k} factors did not converge in {res.n_iter} iterations; "
                "the idiosyncratic variances may be imprecise. Try fewer factors.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.loadings_ = res.loadings
        self.factor_vol_ = res.factor_vol
        self.factor_corr_ = np.eye(k)
        self.idiosyncratic_vol_ = np.sqrt(res.idio_var)
        self.names_ = names
        var = self._variances()
        self.mu_ = x.mean(axis=0) * periods_per_year + 0.5 * var if mu_user is None else mu_user
        info = history_info(returns, periods_per_year)
        info.update(
            mu="historical" if mu_user is None else "given",
            n_factors=k,
            iterations=res.n_iter,
            variance_explained=res.explained,
        )
        self.fit_info_ = info
        self._inputs = None
        return self

    # -- derived parameters ------------------------------------------------------------------
    def _scaled_loadings(self) -> np.ndarray:
        """``B S``: loadings times factor volatilities (annual), shape (n_series, k)."""
        return self.loadings_ * self.factor_vol_

    def _variances(self) -> np.ndarray:
        """Annual variances of log returns, the diagonal of the covariance, in O(n k^2)."""
        g = self._scaled_loadings()
        return np.einsum("ik,ik->i", g @ self.factor_corr_, g) + self.idiosyncratic_vol_**2

    @property
    def cov_(self) -> np.ndarray:
        """Annual covariance of log returns ``B S C S B' + diag(s**2)`` (dense, n x n)."""
        g = self._scaled_loadings()
        return g @ self.factor_corr_ @ g.T + np.diag(self.idiosyncratic_vol_**2)

    @property
    def vol_(self) -> np.ndarray:
        """Annual volatilities of log returns."""
        return np.sqrt(self._variances())

    def step_moments(self, steps_per_year: int) -> tuple[np.ndarray, ...]:
        """Kernel inputs per step: drift, factor Cholesky factor, loadings, idiosyncratic sd."""
        dt = 1.0 / steps_per_year
        drift = (self.mu_ - 0.5 * self._variances()) * dt
        fcov = self.factor_corr_ * np.outer(self.factor_vol_, self.factor_vol_) * dt
        return (
            drift,
            psd_cholesky(fcov),
            np.ascontiguousarray(self.loadings_, dtype=float),
            self.idiosyncratic_vol_ * np.sqrt(dt),
        )

    # -- simulation --------------------------------------------------------------------------
    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        if self._inputs is None or self._inputs[0] != steps_per_year:
            self._inputs = (steps_per_year, *self.step_moments(steps_per_year))
        simulate_factor_nb(rng, *self._inputs[1:], out)

    def params(self) -> dict[str, Any]:
        self.check_fitted()
        out: dict[str, Any] = {
            "kind": self.kind,
            "assets": self.series_names,
            "mu": self.mu_.tolist(),
            "loadings": self.loadings_.tolist(),
            "factor_vol": self.factor_vol_.tolist(),
            "factor_corr": self.factor_corr_.tolist(),
            "idiosyncratic_vol": self.idiosyncratic_vol_.tolist(),
        }
        if self.fit_info_:
            out["fit"] = dict(self.fit_info_)
        return out
