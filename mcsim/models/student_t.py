"""Correlated returns with fat tails: multivariate Student-t log returns."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, solve_triangular
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from .._validation import as_float
from ..errors import ConfigError, ConvergenceWarning, DataError, ModelFitError, NumericalWarning
from ..kernels._student_t import simulate_student_t_nb
from .base import psd_cholesky
from .estimators import min_rows
from .gaussian import GaussianModel

__all__ = ["StudentTFit", "StudentTModel", "fit_student_t", "student_t_loglik"]

# Degrees of freedom searched by the maximum-likelihood fit. Above DF_MAX the t is a normal
# for any practical purpose; below DF_MIN its variance is barely finite.
DF_MIN = 2.1
DF_MAX = 200.0
# Fewest observations to fit the degrees of freedom: tails need data.
MIN_ROWS_DF = 60


def student_t_loglik(x: np.ndarray, loc: np.ndarray, scale: np.ndarray, df: float) -> float:
    """Log-likelihood of rows ``x`` (n_obs, n_series) under a multivariate t.

    ``loc`` is the location (the mean), ``scale`` the scale matrix (the covariance is
    ``scale * df / (df - 2)``), ``df`` the degrees of freedom.
    """
    n, p = x.shape
    chol = np.linalg.cholesky(scale)
    sol = solve_triangular(chol, (x - loc).T, lower=True)
    delta = np.einsum("ij,ij->j", sol, sol)
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    const = gammaln((df + p) / 2) - gammaln(df / 2) - 0.5 * p * np.log(df * np.pi)
    return float(n * (const - 0.5 * logdet) - 0.5 * (df + p) * np.sum(np.log1p(delta / df)))


def _em_fixed_df(
    x: np.ndarray, df: float, loc: np.ndarray, scale: np.ndarray, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Maximise the t likelihood over location and scale for a fixed ``df``.

    The EM algorithm with the parameter-expanded scale update (Liu, Rubin and Wu 1998:
    weights ``w = (df + p) / (df + delta)``, scale divided by ``sum(w)``), which converges
    to the same maximum as plain EM, faster. Returns (loc, scale, loglik, converged).
    """
    p = x.shape[1]
    ll_old = -np.inf
    for _ in range(2000):
        chol = np.linalg.cholesky(scale)
        sol = solve_triangular(chol, (x - loc).T, lower=True)
        delta = np.einsum("ij,ij->j", sol, sol)
        w = (df + p) / (df + delta)
        loc = w @ x / w.sum()
        d = x - loc
        scale = (d * w[:, None]).T @ d / w.sum()
        ll = student_t_loglik(x, loc, scale, df)
        if abs(ll - ll_old) <= tol * (1.0 + abs(ll)):
            return loc, scale, ll, True
        ll_old = ll
    return loc, scale, ll_old, False


@dataclass(frozen=True, slots=True)
class StudentTFit:
    """Maximum-likelihood fit of a multivariate t.

    Attributes
    ----------
    df : float
        Degrees of freedom.
    df_se : float
        Standard error of ``df`` from the curvature of the profile log-likelihood (the
        observed information, location and scale maximised out); ``nan`` at a bound.
    loc, scale : ndarray
        Location (shape (n_series,)) and scale matrix (n_series, n_series), per period.
    loglik : float
        Maximised log-likelihood.
    at_bound : bool
        True when ``df`` stopped at DF_MIN or DF_MAX.
    converged : bool
    """

    df: float
    df_se: float
    loc: np.ndarray
    scale: np.ndarray
    loglik: float
    at_bound: bool
    converged: bool


def fit_student_t(x: np.ndarray) -> StudentTFit:
    """Fit a multivariate t to rows ``x`` (n_obs, n_series) by maximum likelihood.

    The profile log-likelihood of ``df`` (location and scale maximised out by EM at each
    ``df``) is maximised with bounded Brent search over ``log(df - 2)``, ``df`` in
    [DF_MIN, DF_MAX]. The standard error comes from a central second difference of the
    profile log-likelihood at the maximum.
    """
    x = np.asarray(x, dtype=float)
    start_loc = x.mean(axis=0)
    start_scale = np.atleast_2d(np.cov(x, rowvar=False))
    cho_factor(start_scale)  # raises LinAlgError for a singular sample covariance
    state = {"loc": start_loc, "scale": start_scale, "ok": True}

    def profile(df: float) -> float:
        loc, scale, ll, ok = _em_fixed_df(x, df, state["loc"], state["scale"])
        state.update(loc=loc, scale=scale)
        state["ok"] &= ok
        return ll

    lo, hi = np.log(DF_MIN - 2.0), np.log(DF_MAX - 2.0)
    res = minimize_scalar(
        lambda u: -profile(2.0 + np.exp(u)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    df = 2.0 + float(np.exp(res.x))
    loc, scale, ll, ok = _em_fixed_df(x, df, state["loc"], state["scale"], tol=1e-13)
    at_bound = res.x - lo < 1e-3 or hi - res.x < 1e-3
    se = float("nan")
    if not at_bound:
        h = 1e-2 * (df - 2.0)
        lp = _em_fixed_df(x, df + h, loc, scale, tol=1e-13)[2]
        lm = _em_fixed_df(x, df - h, loc, scale, tol=1e-13)[2]
        curv = (lp - 2.0 * ll + lm) / h**2
        if curv < 0:
            se = float(np.sqrt(-1.0 / curv))
    return StudentTFit(
        df=df,
        df_se=se,
        loc=loc,
        scale=scale,
        loglik=ll,
        at_bound=bool(at_bound),
        converged=bool(ok and state["ok"] and res.success),
    )


class StudentTModel(GaussianModel):
    r"""Correlated returns whose log returns are multivariate Student-t, i.i.d. over steps.

    Over a step of :math:`\Delta t = 1/\text{steps\_per\_year}` years,

    .. math:: \log(1 + r_t) = (\mu - \tfrac12 \sigma^2)\,\Delta t
              + \sqrt{\Delta t}\, \sqrt{\tfrac{\nu - 2}{\nu}}\, L z_t \sqrt{\nu / w_t},
              \qquad L L^\top = \Sigma,\; z_t \sim N(0, I),\; w_t \sim \chi^2_\nu,

    with one :math:`w_t` per step shared by every series. The log returns have mean
    :math:`(\mu - \sigma^2/2)\Delta t` and covariance :math:`\Sigma \Delta t`, exactly as in
    :class:`GaussianModel` with the same ``mu``, ``vol`` and ``corr``; only the shape differs
    (fat tails, and tail dependence: big moves of several series come together). ``mu`` is
    therefore defined through the mean log return; the expected *simple* return of a t on log
    returns is not finite, although simulated averages behave for ``df`` well above 2.

    Fitted to history, the mean and covariance come from the Gaussian fit (with the chosen
    ``estimator``) and ``df`` from the maximum-likelihood fit of a multivariate t to the
    log returns (location and scale maximised out), unless ``df`` is given.

    Parameters
    ----------
    df : float, optional
        Degrees of freedom (> 2). Fitted when omitted.
    mu, vol, corr, names, estimator, halflife
        As for :class:`GaussianModel`.

    Attributes
    ----------
    df_ : float
        Degrees of freedom used.
    df_se_ : float or None
        Standard error of the fitted ``df`` (None when ``df`` was given or hit a bound).
    """

    kind = "student_t"
    _KEYS = (*GaussianModel._KEYS, "df")

    def __init__(
        self,
        mu: Sequence[float] | Mapping[str, float] | None = None,
        vol: Sequence[float] | None = None,
        corr: Sequence[Sequence[float]] | None = None,
        names: Sequence[str] | None = None,
        *,
        df: float | None = None,
        estimator: str = "sample",
        halflife: float | None = None,
    ) -> None:
        if df is not None:
            df = as_float(df, "[model].df", allow_inf=False)
            if df <= 2.0:
                raise ConfigError(
                    f"`[model].df` must be > 2 (the variance is infinite otherwise); got {df:g}. "
                    "Typical values for monthly returns are 4 to 10; omit `df` to fit it."
                )
        self.df = df
        self.df_: float | None = df
        self.df_se_: float | None = None
        super().__init__(mu, vol, corr, names, estimator=estimator, halflife=halflife)
        if self.names_ and df is None:
            raise ConfigError(
                "`[model].df` is required with explicit `vol` and `corr` (there is no data to "
                "fit it to); for example df = 5."
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        """Build the model from its scenario section (Gaussian keys plus ``df``)."""
        options = cls._options(section, where)
        return cls(**options, df=section.get("df"))

    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Fit mean and covariance as :meth:`GaussianModel.fit`, and ``df`` unless given.

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
        if self.df is None and isinstance(returns, pd.DataFrame):
            need = max(MIN_ROWS_DF, min_rows(self.estimator, returns.shape[1]))
            if returns.shape[0] < need:
                raise DataError(
                    f"Fitting the Student-t degrees of freedom needs at least {need} rows of "
                    f"returns; the data has {returns.shape[0]}. Use a longer history, or give "
                    "`[model].df` (for example df = 5) to fit only the mean and covariance."
                )
        super().fit(returns, periods_per_year=periods_per_year)
        if self.df is not None:
            self.df_, self.df_se_ = self.df, None
            self.fit_info_["df"] = "given"
            return self
        x = np.log1p(returns.to_numpy(dtype=float))
        try:
            res = fit_student_t(x)
        except np.linalg.LinAlgError as e:
            raise ConfigError(
                "The Student-t fit needs an invertible covariance of the data, and this one is "
                "singular (a duplicated or collinear series?). Drop that series, or give "
                "`[model].df` to skip fitting the tails."
            ) from e
        if res.at_bound and res.df < 3.0:
            raise ModelFitError(
                f"The Student-t degrees of freedom fitted to {', '.join(self.names_)} fell to the "
                f"lower bound {DF_MIN:g}: the data are more peaked and fat-tailed than any t with "
                "a finite variance (often calm and turbulent periods mixed together: volatility "
                "clustering). Give `[model].df` (for example df = 4), fit a shorter or more "
                "recent history, or use kind = 'bootstrap' or a GARCH model."
            )
        if res.at_bound:
            warnings.warn(
                f"The fitted Student-t degrees of freedom reached the upper bound {DF_MAX:g}: the "
                "data show no fat tails and the t is almost normal. Use kind = 'gaussian', or "
                "give `[model].df`.",
                NumericalWarning,
                stacklevel=2,
            )
        if not res.converged:
            warnings.warn(
                "The Student-t maximum-likelihood fit did not fully converge; the degrees of "
                f"freedom ({res.df:.3g}) may be imprecise. Give `[model].df` to fix them.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.df_ = res.df
        self.df_se_ = None if not np.isfinite(res.df_se) else res.df_se
        self.fit_info_.update(df="fitted", df_se=self.df_se_, loglik=res.loglik)
        return self

    def step_moments(self, steps_per_year: int) -> tuple[np.ndarray, np.ndarray]:
        """Drift of log returns per step and the Cholesky factor of the t scale per step."""
        dt = 1.0 / steps_per_year
        drift = (self.mu_ - 0.5 * np.diag(self.cov_)) * dt
        df = float(self.df_)
        return drift, psd_cholesky(self.cov_ * dt * (df - 2.0) / df)

    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        drift, chol = self._kernel_inputs(steps_per_year)
        simulate_student_t_nb(rng, drift, chol, float(self.df_), out)

    def params(self) -> dict[str, Any]:
        out = super().params()
        out["df"] = float(self.df_)
        return out
