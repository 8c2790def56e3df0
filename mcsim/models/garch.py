"""GARCH(1,1) volatility per asset with constant (CCC) or dynamic (DCC) conditional correlation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar

from .._validation import (
    as_array,
    as_float,
    as_float_list,
    as_int,
    as_str,
    as_vector,
    check_correlation,
    check_keys,
)
from ..errors import ConfigError, ConvergenceWarning, ModelFitError, NumericalWarning
from ..kernels._garch import dcc_loglik_nb, simulate_garch_nb
from .base import ReturnModel, check_history

__all__ = ["GarchModel", "check_step_frequency", "jsonable"]

# A fitted GARCH whose variance half-life exceeds this many years is treated as integrated
# (alpha + beta = 1 within estimation error: no usable long-run variance); one beyond the
# warning level gets a NumericalWarning.
MAX_HALF_LIFE_YEARS = 50.0
WARN_HALF_LIFE_YEARS = 10.0
# DCC a + b is constrained below this while fitting; a fit that ends on it is integrated.
_MAX_DCC_PERSISTENCE = 1.0 - 1e-4
# Minimum rows of history: GARCH(1,1) variance parameters are poorly identified below this.
MIN_GARCH_ROWS = 100


def check_step_frequency(kind: str, ppy: int, steps_per_year: int, fitted: bool) -> None:
    """Raise ConfigError unless the simulation step equals the model's period.

    GARCH and regime-switching parameters are per period of their data (a variance
    recursion or a transition matrix per step): they cannot be rescaled to another step.
    """
    if steps_per_year == ppy:
        return
    if fitted:
        raise ConfigError(
            f"The {kind!r} model was fitted to data with {ppy} periods per year but "
            f"`[simulation].steps_per_year` = {steps_per_year}. This model simulates one step per "
            f"data period: set `steps_per_year = {ppy}`, or use data at least as fine as the step "
            "(finer data is compounded to the step when the step is a whole number of periods, "
            "such as daily or monthly data for monthly steps)."
        )
    raise ConfigError(
        f"The {kind!r} model's parameters are per period at `[model].periods_per_year` = {ppy} "
        f"but `[simulation].steps_per_year` = {steps_per_year}. Its dynamics are per step and "
        f"cannot be rescaled: set `steps_per_year = {ppy}` or give parameters for that frequency."
    )


def _json_float(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _matrix(value: Any, field: str, n: int) -> np.ndarray:
    return as_array(value, field, ndim=2, shape=(n, n))


class GarchModel(ReturnModel):
    r"""GARCH(1,1) volatility per asset with constant or DCC(1,1) conditional correlation.

    Log returns per step (one step = one period of the data) are

    .. math:: r_{i,t} = m_i + \sqrt{h_{i,t}}\, e_{i,t},\qquad
              h_{i,t+1} = \omega_i + \alpha_i h_{i,t} e_{i,t}^2 + \beta_i h_{i,t},

    with standardized innovations :math:`e_t = \mathrm{chol}(R_t) z_t` (multivariate normal,
    or multivariate Student-t with unit variance and ``nu`` degrees of freedom). The
    correlation :math:`R_t` is constant (CCC) or follows Engle's DCC(1,1):
    :math:`Q_{t+1} = (1-a-b)\bar Q + a e_t e_t^\top + b Q_t`,
    :math:`R_t = \mathrm{diag}(Q_t)^{-1/2} Q_t\, \mathrm{diag}(Q_t)^{-1/2}`.

    Annual parameters follow the Gaussian model's convention: ``vol`` is the unconditional
    annual volatility of log returns, :math:`\sqrt{\text{ppy}\cdot\omega/(1-\alpha-\beta)}`, and
    ``mu`` the annual arithmetic mean in continuous time, so the mean log return per step is
    :math:`m = (\mu - \sigma^2/2)/\text{ppy}`.

    Parameters
    ----------
    correlation : {"dcc", "constant"}
        Dynamic (DCC(1,1)) or constant conditional correlation.
    distribution : {"normal", "t"}
        Distribution of the standardized innovations.
    start : {"last", "long_run"}, optional
        First simulated step's state: the one-step-ahead forecast at the end of the data
        (``"last"``, the default when it is known) or the long-run state
        (unconditional variances and ``Qbar``; the default for explicit parameters).
    mu : array-like of shape (n_series,), optional
        Annual expected returns (fraction per year). Given alone, it replaces the fitted mean.
    vol : array-like of shape (n_series,), optional
        Unconditional annual volatilities (fraction per year, > 0): makes the parameters explicit.
    corr : array-like of shape (n_series, n_series), optional
        Constant correlation (CCC) or the DCC target ``Qbar`` (a correlation matrix).
    alpha, beta : array-like of shape (n_series,), optional
        GARCH(1,1) coefficients (>= 0, ``alpha + beta < 1``).
    dcc_a, dcc_b : float, optional
        DCC(1,1) coefficients (>= 0, ``a + b < 1``).
    nu : float, optional
        Degrees of freedom (> 2) of the Student-t innovations.
    names : sequence of str, optional
        Asset names; required with explicit parameters.
    periods_per_year : int, optional
        Periods per year the explicit parameters are given at (default 12); the simulation
        step must match.
    start_vol : array-like of shape (n_series,), optional
        Annualised conditional volatility of the first simulated step (explicit ``"last"``
        state).
    start_q : array-like of shape (n_series, n_series), optional
        DCC state ``Q`` of the first simulated step (explicit ``"last"`` state).

    Attributes
    ----------
    mu_, cov_ : ndarray
        Annual expected returns and annual unconditional covariance of log returns.
    omega_, alpha_, beta_ : ndarray of shape (n_series,)
        GARCH coefficients (``omega_`` is a variance per step, as a fraction squared).
    dcc_a_, dcc_b_, nu_ : float
        DCC coefficients (0 for constant correlation) and degrees of freedom (0 for normal).
    fit_info_ : dict
        Standard errors, log-likelihoods and convergence flags of the last fit.
    """

    kind = "garch"
    _KEYS = (
        "kind",
        "assets",
        "correlation",
        "distribution",
        "start",
        "periods_per_year",
        "mu",
        "vol",
        "corr",
        "alpha",
        "beta",
        "dcc_a",
        "dcc_b",
        "nu",
        "start_vol",
        "start_q",
        "summary",
    )

    def __init__(
        self,
        *,
        correlation: str = "dcc",
        distribution: str = "normal",
        start: str | None = None,
        mu: Sequence[float] | None = None,
        vol: Sequence[float] | None = None,
        corr: Sequence[Sequence[float]] | None = None,
        alpha: Sequence[float] | float | None = None,
        beta: Sequence[float] | float | None = None,
        dcc_a: float | None = None,
        dcc_b: float | None = None,
        nu: float | None = None,
        names: Sequence[str] | None = None,
        periods_per_year: int | None = None,
        start_vol: Sequence[float] | None = None,
        start_q: Sequence[Sequence[float]] | None = None,
    ) -> None:
        w = "[model]"
        self.correlation = as_str(correlation, f"{w}.correlation", choices=["dcc", "constant"])
        self.distribution = as_str(distribution, f"{w}.distribution", choices=["normal", "t"])
        if start is not None:
            as_str(start, f"{w}.start", choices=["last", "long_run"])
        self.start = start
        if self.correlation == "constant" and (dcc_a is not None or dcc_b is not None):
            raise ConfigError(
                f"`{w}.dcc_a` and `dcc_b` apply only with `correlation = 'dcc'`; remove them or "
                "set `correlation = 'dcc'`."
            )
        if self.distribution == "normal" and nu is not None:
            raise ConfigError(
                f"`{w}.nu` applies only with `distribution = 't'`; remove it or set "
                "`distribution = 't'`."
            )
        if self.correlation == "constant" and start_q is not None:
            raise ConfigError(f"`{w}.start_q` applies only with `correlation = 'dcc'`.")
        self.mu = None if mu is None else as_float_list(mu, f"{w}.mu")
        self.names = None if names is None else list(names)
        self.periods_per_year = periods_per_year
        self._explicit = dict(
            vol=vol,
            corr=corr,
            alpha=alpha,
            beta=beta,
            dcc_a=dcc_a,
            dcc_b=dcc_b,
            nu=nu,
            start_vol=start_vol,
            start_q=start_q,
        )
        self.names_: list[str] = []
        self.fit_info_: dict[str, Any] = {}
        self._args: tuple | None = None
        if any(v is not None for v in self._explicit.values()) or periods_per_year is not None:
            self._set_explicit()

    # -- explicit parameters --------------------------------------------------------------------
    def _set_explicit(self) -> None:
        w = "[model]"
        p = self._explicit
        needed = ["assets", "mu", "vol", "alpha", "beta"]
        if self.correlation == "dcc":
            needed += ["dcc_a", "dcc_b"]
        if self.distribution == "t":
            needed.append("nu")
        have = {"assets": self.names, "mu": self.mu} | p
        missing = [k for k in needed if have.get(k) is None]
        if missing:
            raise ConfigError(
                f"`{w}` gives some explicit GARCH parameters but not "
                f"{', '.join(f'`{k}`' for k in missing)}: give all of {', '.join(needed)} "
                "(and `corr` for several assets), or none of them and a [data] section to fit."
            )
        names = list(self.names)
        n = len(names)
        ppy = as_int(
            12 if self.periods_per_year is None else self.periods_per_year,
            f"{w}.periods_per_year",
            low=1,
        )
        mu = as_vector(list(np.atleast_1d(self.mu)), f"{w}.mu", names)
        vol = as_vector(_listish(p["vol"]), f"{w}.vol", names, low=0.0)
        if np.any(vol <= 0.0):
            raise ConfigError(f"`{w}.vol` must be > 0 for every asset; got {vol.tolist()}.")
        alpha = as_vector(_listish(p["alpha"]), f"{w}.alpha", names, low=0.0)
        beta = as_vector(_listish(p["beta"]), f"{w}.beta", names, low=0.0)
        bad = np.nonzero(alpha + beta >= 1.0)[0]
        if bad.size:
            i = bad[0]
            raise ConfigError(
                f"`{w}.alpha` + `beta` must be < 1 for a stationary GARCH (a finite long-run "
                f"variance); for {names[i]!r} it is {alpha[i] + beta[i]:g}. Lower them "
                "(monthly equity values are typically alpha ~ 0.1, beta ~ 0.85)."
            )
        if p["corr"] is None:
            if n > 1:
                raise ConfigError(f"`{w}.corr` is required for {n} assets.")
            corr = np.ones((1, 1))
        else:
            corr = check_correlation(p["corr"], f"{w}.corr", n)
        a = b = 0.0
        if self.correlation == "dcc":
            a = as_float(p["dcc_a"], f"{w}.dcc_a", low=0.0)
            b = as_float(p["dcc_b"], f"{w}.dcc_b", low=0.0)
            if a + b >= 1.0:
                raise ConfigError(
                    f"`{w}.dcc_a` + `dcc_b` must be < 1 for stationary correlations; got "
                    f"{a + b:g}. Lower them, or use `correlation = 'constant'`."
                )
        nu = 0.0
        if self.distribution == "t":
            nu = as_float(p["nu"], f"{w}.nu", low=2.0, low_open=True)
        h_next = q_next = None
        if p["start_vol"] is not None:
            sv = as_vector(_listish(p["start_vol"]), f"{w}.start_vol", names, low=0.0)
            if np.any(sv <= 0.0):
                raise ConfigError(f"`{w}.start_vol` must be > 0 for every asset.")
            h_next = sv**2 / ppy
            if self.correlation == "dcc":
                if p["start_q"] is None:
                    raise ConfigError(
                        f"`{w}.start_q` is required with `start_vol` under DCC (the correlation "
                        "state of the first step); or remove both and use `start = 'long_run'`."
                    )
                q_next = _matrix(p["start_q"], f"{w}.start_q", n)
                _check_q(q_next, f"{w}.start_q")
        elif p["start_q"] is not None:
            raise ConfigError(f"`{w}.start_q` needs `start_vol` too (the variances of that state).")
        hbar = vol**2 / ppy
        self._store(
            names=names,
            ppy=ppy,
            m=(mu - 0.5 * vol**2) / ppy,
            omega=hbar * (1.0 - alpha - beta),
            alpha=alpha,
            beta=beta,
            qbar=corr,
            dcc_a=a,
            dcc_b=b,
            nu=nu,
            h_next=h_next,
            q_next=q_next,
            fitted=False,
        )
        self._resolve_start()

    def _store(
        self, *, names, ppy, m, omega, alpha, beta, qbar, dcc_a, dcc_b, nu, h_next, q_next, fitted
    ) -> None:
        self.names_ = list(names)
        self.ppy_ = int(ppy)
        self.m_ = np.asarray(m, dtype=float)
        self.omega_ = np.asarray(omega, dtype=float)
        self.alpha_ = np.asarray(alpha, dtype=float)
        self.beta_ = np.asarray(beta, dtype=float)
        self.qbar_ = np.ascontiguousarray(qbar, dtype=float)
        self.dcc_a_ = float(dcc_a)
        self.dcc_b_ = float(dcc_b)
        self.nu_ = float(nu)
        self.h_next_ = None if h_next is None else np.asarray(h_next, dtype=float)
        self.q_next_ = None if q_next is None else np.ascontiguousarray(q_next, dtype=float)
        self.fitted_ = fitted
        self._args = None

    def _resolve_start(self) -> None:
        has_last = self.h_next_ is not None
        if self.start == "last" and not has_last:
            raise ConfigError(
                "`[model].start` = 'last' needs the state at the end of the data: fit the model "
                "to history, or give `start_vol` (and `start_q` for DCC); or use "
                "`start = 'long_run'`."
            )
        self.start_ = self.start or ("last" if has_last else "long_run")

    # -- construction from a scenario --------------------------------------------------------------
    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        check_keys(section, cls._KEYS, where)
        names = section.get("assets")
        mu = section.get("mu")
        if isinstance(mu, Mapping):
            names = names or list(mu)
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) for n in names)
        ):
            raise ConfigError(f"`{where}.assets` must be a list of names.")
        if mu is not None and names is not None:
            mu = as_vector(mu, f"{where}.mu", names)
        elif isinstance(mu, Mapping):
            mu = list(mu.values())
        vectors = {}
        for key in ("vol", "alpha", "beta", "start_vol"):
            value = section.get(key)
            if value is not None and names is None:
                raise ConfigError(f"`{where}.assets` is required when `{key}` is given.")
            vectors[key] = None if value is None else as_vector(value, f"{where}.{key}", names)
        ppy = section.get("periods_per_year")
        if ppy is not None:
            ppy = as_int(ppy, f"{where}.periods_per_year", low=1)
        summary = section.get("summary")
        if summary is not None and not isinstance(summary, Mapping):
            raise ConfigError(f"`{where}.summary` is a table written by `params()`; remove it.")
        return cls(
            correlation=section.get("correlation", "dcc"),
            distribution=section.get("distribution", "normal"),
            start=section.get("start"),
            mu=mu,
            corr=section.get("corr"),
            dcc_a=section.get("dcc_a"),
            dcc_b=section.get("dcc_b"),
            nu=section.get("nu"),
            names=names,
            periods_per_year=ppy,
            start_q=section.get("start_q"),
            **vectors,
        )

    # -- ReturnModel interface ----------------------------------------------------------------
    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Fit GARCH(1,1) per column (with ``arch``), then the correlation on the residuals.

        Parameters
        ----------
        returns : DataFrame of shape (n_obs, n_series)
            Simple returns per period (fractions); at least 100 rows.
        periods_per_year : int
            Periods per year of the data; the simulation step must equal it.

        Raises
        ------
        DataError
            Too few rows, or bad values.
        ModelFitError
            An integrated GARCH (``alpha + beta >= 1``) or DCC (``a + b >= 1``) fit.
        """
        n_series = returns.shape[1]
        x = check_history(returns, max(MIN_GARCH_ROWS, 10 * n_series), "garch")
        names = [str(c) for c in returns.columns]
        ppy = as_int(periods_per_year, "periods_per_year", low=1)
        logr = np.log1p(x)
        uni = [
            _fit_univariate(logr[:, i], names[i], self.distribution, ppy) for i in range(n_series)
        ]
        resid = np.column_stack([u["std_resid"] for u in uni])
        dcc = _fit_correlation(resid, self.correlation, self.distribution)
        m = np.array([u["mu"] for u in uni])
        hbar = np.array([u["omega"] / (1.0 - u["alpha"] - u["beta"]) for u in uni])
        if self.mu is not None:
            mu = np.atleast_1d(np.asarray(self.mu, dtype=float))
            if mu.size != n_series:
                raise ConfigError(
                    f"`[model].mu` has {mu.size} values but the data has {n_series} columns "
                    f"({', '.join(names)})."
                )
            m = mu / ppy - 0.5 * hbar
        self._store(
            names=names,
            ppy=ppy,
            m=m,
            omega=[u["omega"] for u in uni],
            alpha=[u["alpha"] for u in uni],
            beta=[u["beta"] for u in uni],
            qbar=dcc["qbar"],
            dcc_a=dcc["a"],
            dcc_b=dcc["b"],
            nu=dcc["nu"],
            h_next=[u["h_next"] for u in uni],
            q_next=dcc["q_next"],
            fitted=True,
        )
        self._resolve_start()
        self.fit_info_ = {
            "n_obs": int(x.shape[0]),
            "periods_per_year": ppy,
            "univariate": {
                u["name"]: {k: v for k, v in u.items() if k not in ("std_resid", "name")}
                for u in uni
            },
            "correlation": {k: v for k, v in dcc.items() if k not in ("qbar", "q_next")},
        }
        return self

    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        self.check_fitted()
        check_step_frequency(self.kind, self.ppy_, steps_per_year, self.fitted_)
        if self._args is None:
            self._args = self.kernel_args()
        simulate_garch_nb(rng, *self._args, out)

    def kernel_args(self) -> tuple:
        """Arguments of ``simulate_garch_nb`` before ``out``, for the chosen start.

        Returns ``(mu, omega, alpha, beta, h0, q0, qbar, dcc_a, dcc_b, nu)`` (per step).
        """
        self.check_fitted()
        n = len(self.names_)
        hbar = self.omega_ / (1.0 - self.alpha_ - self.beta_)
        if self.start_ == "last":
            h0 = self.h_next_
            q0 = self.q_next_ if self.q_next_ is not None else self.qbar_
        else:
            h0, q0 = hbar, self.qbar_
        dynamic = self.correlation == "dcc" and n > 1
        return (
            self.m_,
            self.omega_,
            self.alpha_,
            self.beta_,
            np.ascontiguousarray(h0, dtype=float),
            np.ascontiguousarray(q0, dtype=float),
            self.qbar_,
            self.dcc_a_ if dynamic else 0.0,
            self.dcc_b_ if dynamic else 0.0,
            self.nu_,
        )

    # -- derived quantities ---------------------------------------------------------------------
    @property
    def persistence_(self) -> np.ndarray:
        """``alpha + beta`` per asset."""
        return self.alpha_ + self.beta_

    @property
    def vol_(self) -> np.ndarray:
        """Unconditional annual volatility of log returns per asset."""
        return np.sqrt(self.omega_ / (1.0 - self.persistence_) * self.ppy_)

    @property
    def mu_(self) -> np.ndarray:
        """Annual arithmetic expected return (continuous-time convention, as ``gaussian``)."""
        return self.m_ * self.ppy_ + 0.5 * self.vol_**2

    @property
    def corr_(self) -> np.ndarray:
        """Unconditional (CCC) or target (DCC ``Qbar``, normalised) correlation."""
        sd = np.sqrt(np.diag(self.qbar_))
        return self.qbar_ / np.outer(sd, sd)

    @property
    def cov_(self) -> np.ndarray:
        """Annual covariance of log returns implied by ``vol_`` and ``corr_``."""
        v = self.vol_
        return self.corr_ * np.outer(v, v)

    @property
    def start_vol_(self) -> np.ndarray:
        """Annualised conditional volatility of the first simulated step."""
        h0 = self.kernel_args()[4]
        return np.sqrt(h0 * self.ppy_)

    def describe(self) -> pd.DataFrame:
        """One row per asset: annual mean and volatility, GARCH coefficients, persistence."""
        self.check_fitted()
        pers = self.persistence_
        with np.errstate(divide="ignore"):
            half_life = np.where(pers > 0, np.log(0.5) / np.log(pers), 0.0) / self.ppy_
        table = {
            "mu": self.mu_,
            "vol": self.vol_,
            "start_vol": self.start_vol_,
            "omega": self.omega_,
            "alpha": self.alpha_,
            "beta": self.beta_,
            "persistence": pers,
            "half_life_years": half_life,
        }
        if self.nu_ > 0:
            table["nu"] = np.full(len(self.names_), self.nu_)
        return pd.DataFrame(table, index=pd.Index(self.names_, name="asset"))

    def params(self) -> dict[str, Any]:
        self.check_fitted()
        out: dict[str, Any] = {
            "kind": self.kind,
            "assets": self.series_names,
            "correlation": self.correlation,
            "distribution": self.distribution,
            "start": self.start_,
            "periods_per_year": self.ppy_,
            "mu": self.mu_.tolist(),
            "vol": self.vol_.tolist(),
            "corr": self.corr_.tolist(),
            "alpha": self.alpha_.tolist(),
            "beta": self.beta_.tolist(),
        }
        if self.correlation == "dcc":
            out["dcc_a"] = self.dcc_a_
            out["dcc_b"] = self.dcc_b_
        if self.distribution == "t":
            out["nu"] = self.nu_
        if self.h_next_ is not None:
            out["start_vol"] = np.sqrt(self.h_next_ * self.ppy_).tolist()
            if self.correlation == "dcc":
                q = self.q_next_ if self.q_next_ is not None else self.qbar_
                out["start_q"] = q.tolist()
        pers = self.persistence_
        summary: dict[str, Any] = {
            "omega": self.omega_.tolist(),
            "persistence": pers.tolist(),
            "half_life_years": [
                _json_float(math.log(0.5) / math.log(p) / self.ppy_) if p > 0 else 0.0 for p in pers
            ],
        }
        if self.fit_info_:
            summary["fit"] = jsonable(self.fit_info_)
        out["summary"] = summary
        return out


# -- fitting helpers ------------------------------------------------------------------------------
def _listish(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim else float(value)
    return value


def _check_q(q: np.ndarray, field: str) -> None:
    if not np.allclose(q, q.T, atol=1e-10) or np.any(np.diag(q) <= 0):
        raise ConfigError(f"`{field}` must be symmetric with a positive diagonal.")
    if np.linalg.eigvalsh(q)[0] < -1e-10 * float(np.max(np.diag(q))):
        raise ConfigError(f"`{field}` must be positive semi-definite.")


def jsonable(obj: Any) -> Any:
    """Nested dicts/lists/arrays as plain JSON types (non-finite floats become None)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _json_float(obj)
    return obj


def _fit_univariate(logr: np.ndarray, name: str, distribution: str, ppy: int) -> dict[str, Any]:
    """GARCH(1,1) with a constant mean on log returns in percent, converted back to fractions."""
    from arch import arch_model

    y = 100.0 * logr
    dist = "t" if distribution == "t" else "normal"
    am = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = am.fit(disp="off", show_warning=False)
    par = res.params
    se = res.std_err
    alpha, beta = float(par["alpha[1]"]), float(par["beta[1]"])
    if res.convergence_flag != 0:
        warnings.warn(
            f"The GARCH(1,1) fit of {name!r} did not converge (optimizer: "
            f"{res.optimization_result.message}). Check the series for outliers or structural "
            "breaks, use a different date range (`[data].start`), or `distribution = 't'`.",
            ConvergenceWarning,
            stacklevel=4,
        )
    pers = alpha + beta
    if pers <= 0.0:
        half_life = 0.0  # no volatility clustering: a constant variance
    elif pers < 1.0:
        half_life = math.log(0.5) / math.log(pers) / ppy
    else:
        half_life = math.inf
    if pers >= 1.0 or half_life > MAX_HALF_LIFE_YEARS:
        raise ModelFitError(
            f"The GARCH(1,1) fit of {name!r} is integrated: alpha + beta = {pers:.6f} (a variance "
            f"half-life of {half_life:.3g} years > {MAX_HALF_LIFE_YEARS:g}), so its long-run "
            "variance is not determined and the simulated volatility would not revert. Use a "
            "different date range (`[data].start`; for the bundled Shiller bonds, data from "
            "1970 on fits a stationary GARCH), drop the series, or use `kind = 'gaussian'` or "
            "`kind = 'regime'`."
        )
    if half_life > WARN_HALF_LIFE_YEARS:
        warnings.warn(
            f"The GARCH(1,1) fit of {name!r} is nearly integrated (alpha + beta = {pers:.5f}, a "
            f"variance half-life of {half_life:.0f} years): its long-run volatility is poorly "
            "determined. Prefer `start = 'last'`, check the volatilities in `describe()`, or use "
            "a longer history.",
            NumericalWarning,
            stacklevel=4,
        )
    mu_pct = float(par["mu"])
    omega_pct = float(par["omega"])
    sigma = np.asarray(res.conditional_volatility, dtype=float)
    h_next_pct = omega_pct + alpha * (y[-1] - mu_pct) ** 2 + beta * sigma[-1] ** 2
    out = {
        "name": name,
        "mu": mu_pct / 100.0,
        "omega": omega_pct / 1e4,
        "alpha": alpha,
        "beta": beta,
        "h_next": h_next_pct / 1e4,
        "std_resid": (y - mu_pct) / sigma,
        "loglik": float(res.loglikelihood),
        "converged": bool(res.convergence_flag == 0),
        "std_err": {
            "mu": float(se["mu"]) / 100.0,
            "omega": float(se["omega"]) / 1e4,
            "alpha": float(se["alpha[1]"]),
            "beta": float(se["beta[1]"]),
        },
    }
    if dist == "t":
        out["nu"] = float(par["nu"])
        out["std_err"]["nu"] = float(se["nu"])
    return out


def _fit_correlation(e: np.ndarray, correlation: str, distribution: str) -> dict[str, Any]:
    """Second step: the correlation (and the joint Student-t ``nu``) on standardized residuals.

    Maximises the quasi-likelihood of ``dcc_loglik_nb`` over ``(a, b)`` (DCC) and ``nu``
    (Student-t) with SLSQP under ``a, b >= 0``, ``a + b <= 1 - 1e-4``; standard errors from
    the numerical Hessian of that step (they ignore first-step estimation error, so they are
    somewhat too small).
    """
    n_obs, n = e.shape
    student = distribution == "t"
    dynamic = correlation == "dcc" and n > 1
    q_next = np.empty((n, n))
    if dynamic:
        # Engle's Qbar is the second-moment matrix of the residuals; normalised to unit
        # diagonal it is the correlation target that `corr` reports (and a round trip keeps).
        s = e.T @ e / n_obs
        sd = np.sqrt(np.diag(s))
        qbar = s / np.outer(sd, sd)
    else:
        qbar = np.corrcoef(e, rowvar=False) if n > 1 else np.ones((1, 1))
        qbar = np.atleast_2d(qbar)
    qbar = np.ascontiguousarray(0.5 * (qbar + qbar.T))
    e = np.ascontiguousarray(e)

    def loglik(a: float, b: float, nu: float) -> float:
        return dcc_loglik_nb(e, qbar, a, b, nu, q_next)

    a = b = 0.0
    nu = 0.0
    se: dict[str, float | None] = {}
    if dynamic:
        nu0 = 8.0 if student else 0.0
        grid = [(ga, gb) for ga in (0.01, 0.03, 0.08) for gb in (0.5, 0.85, 0.95) if ga + gb < 1]
        x0 = max(grid, key=lambda ab: loglik(ab[0], ab[1], nu0))
        if student:
            x0 = (*x0, nu0)

        def objective(x: np.ndarray) -> float:
            ll = loglik(x[0], x[1], x[2] if student else 0.0)
            return -ll / n_obs if np.isfinite(ll) else 1e10

        bounds = [(0.0, 1.0), (0.0, 1.0)] + ([(2.05, 200.0)] if student else [])
        cons = [{"type": "ineq", "fun": lambda x: _MAX_DCC_PERSISTENCE - x[0] - x[1]}]
        res = minimize(
            objective,
            np.array(x0),
            method="SLSQP",
            bounds=bounds,
            constraints=cons,
            options={"ftol": 1e-12, "maxiter": 500},
        )
        a, b = float(max(res.x[0], 0.0)), float(max(res.x[1], 0.0))
        nu = float(res.x[2]) if student else 0.0
        if not res.success:
            warnings.warn(
                f"The DCC(1,1) fit did not converge ({res.message}). Use a longer history, or "
                "`correlation = 'constant'`.",
                ConvergenceWarning,
                stacklevel=4,
            )
        if a + b >= _MAX_DCC_PERSISTENCE - 1e-6:
            raise ModelFitError(
                f"The DCC(1,1) fit is integrated: a + b = {a + b:.6f} (>= 1), so the correlations "
                "would not revert to a long-run level. Use `correlation = 'constant'`, or a "
                "different date range (`[data].start`)."
            )
        names = ["a", "b", "nu"] if student else ["a", "b"]
        x_hat = np.array([a, b, nu] if student else [a, b])
        se = dict(
            zip(
                names,
                _hessian_std_err(lambda x: loglik(x[0], x[1], x[2] if student else 0.0), x_hat),
                strict=True,
            )
        )
    elif student:
        res = minimize_scalar(
            lambda v: -loglik(0.0, 0.0, v) / n_obs,
            bounds=(2.05, 200.0),
            method="bounded",
            options={"xatol": 1e-6},
        )
        nu = float(res.x)
        se = {"nu": _hessian_std_err(lambda x: loglik(0.0, 0.0, x[0]), np.array([nu]))[0]}
    ll = loglik(a, b, nu)
    return {
        "qbar": qbar,
        "q_next": q_next.copy() if dynamic else None,
        "a": a,
        "b": b,
        "nu": nu,
        "loglik": float(ll),
        "std_err": se,
    }


def _hessian_std_err(f, x: np.ndarray) -> list[float | None]:
    """Standard errors from the inverse of the numerical Hessian of log-likelihood ``f`` at ``x``.

    Central differences with steps ``1e-4 * max(|x|, 0.01)``; a parameter on a bound (where
    the differences leave the admissible region) or an indefinite Hessian gives None.
    """
    k = x.size
    step = 1e-4 * np.maximum(np.abs(x), 0.01)
    hess = np.empty((k, k))
    f0 = f(x)
    for i in range(k):
        for j in range(i, k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = step[i]
            ej[j] = step[j]
            if i == j:
                val = (f(x + ei) - 2.0 * f0 + f(x - ei)) / step[i] ** 2
            else:
                val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4.0 * step[i] * step[j]
                )
            hess[i, j] = hess[j, i] = val
    if not np.all(np.isfinite(hess)):
        return [None] * k
    try:
        cov = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return [None] * k
    d = np.diag(cov)
    return [float(np.sqrt(v)) if v > 0 and np.isfinite(v) else None for v in d]
