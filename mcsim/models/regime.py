"""Markov regime switching: each regime has its own Gaussian mean and covariance of log returns."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from .._validation import (
    as_array,
    as_float,
    as_int,
    as_str,
    as_vector,
    check_correlation,
    check_keys,
)
from ..errors import ConfigError, ConvergenceWarning, DataError, ModelFitError, NumericalWarning
from ..kernels._regime import hamilton_kim_nb, simulate_regime_nb
from .base import ReturnModel, check_history, psd_cholesky
from .garch import check_step_frequency, jsonable

__all__ = ["RegimeModel", "min_regime_rows", "stationary_distribution"]

# Row sums of a transition matrix must be 1 to this tolerance.
_ROW_SUM_TOL = 1e-8
# Observations per free parameter the EM fit needs at least.
OBS_PER_PARAMETER = 10


def min_regime_rows(n_regimes: int, n_series: int) -> int:
    """Rows of history a fit needs: 10 per free parameter (means, covariances, transitions)."""
    return OBS_PER_PARAMETER * _n_params(n_regimes, n_series)


def _n_params(k: int, n: int) -> int:
    return k * (n + n * (n + 1) // 2) + k * (k - 1)


def stationary_distribution(trans: np.ndarray, field: str = "[model].transition") -> np.ndarray:
    """The unique stationary distribution ``pi = pi @ trans``, or ConfigError when not unique."""
    k = trans.shape[0]
    a = np.vstack([trans.T - np.eye(k), np.ones((1, k))])
    rank = np.linalg.matrix_rank(trans.T - np.eye(k), tol=1e-10)
    if rank < k - 1:
        raise ConfigError(
            f"`{field}` has no unique stationary distribution: some regime (or group of regimes) "
            "is never left or never reached. Give every regime a chance to be left "
            "(diagonal entries < 1) and to be entered."
        )
    stuck = np.flatnonzero(np.diag(trans) >= 1.0)
    if stuck.size:
        raise ConfigError(
            f"`{field}`: regime {stuck[0]} is never left (its diagonal entry is 1), so it would "
            "last forever once entered. Give it a probability of leaving (diagonal < 1)."
        )
    b = np.zeros(k + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    pi = pi / pi.sum()
    never = np.flatnonzero(pi < 1e-12)
    if never.size:
        raise ConfigError(
            f"`{field}`: regime {never[0]} is never reached in the long run (stationary "
            "probability 0). Give some regime a probability of moving into it, or drop it."
        )
    return pi


def check_transition(value: Any, field: str, k: int | None = None) -> np.ndarray:
    """A square row-stochastic matrix (entries in [0, 1], rows summing to 1)."""
    p = as_array(value, field, ndim=2)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        raise ConfigError(f"`{field}` must be a square matrix (one row per regime); got {p.shape}.")
    if k is not None and p.shape[0] != k:
        raise ConfigError(f"`{field}` is {p.shape[0]}x{p.shape[1]} but there are {k} regimes.")
    if not np.all(np.isfinite(p)) or np.any(p < 0.0) or np.any(p > 1.0):
        raise ConfigError(f"`{field}` entries must be probabilities in [0, 1].")
    sums = p.sum(axis=1)
    bad = np.nonzero(np.abs(sums - 1.0) > _ROW_SUM_TOL)[0]
    if bad.size:
        i = bad[0]
        raise ConfigError(
            f"`{field}` rows must sum to 1 (row = regime now, column = regime next step); "
            f"row {i} sums to {sums[i]:.10g}. Fix that row, for example set its diagonal to "
            f"{p[i, i] + 1.0 - sums[i]:.10g}."
        )
    return p / sums[:, None]


class RegimeModel(ReturnModel):
    r"""Markov regime switching with Gaussian log returns in each regime.

    A hidden Markov chain :math:`s_t` over ``n_regimes`` regimes moves by the transition
    matrix :math:`P_{jk} = P(s_{t+1}=k \mid s_t=j)` once per step; given the regime, log
    returns are

    .. math:: \log(1 + r_t) \mid s_t = k \;\sim\; N\big((\mu_k - \tfrac12\sigma_k^2)\,\Delta t,\;
              \Sigma_k\,\Delta t\big),

    with annual parameters in the Gaussian model's convention (:math:`\mu_k` arithmetic
    annual mean, :math:`\Sigma_k` annual covariance of log returns,
    :math:`\Delta t = 1/\text{periods\_per\_year}`). Regimes are numbered by volatility
    (trace of :math:`\Sigma_k`), calmest first. Fitted by EM (Hamilton filter and Kim smoother)
    on log returns from several seeded starts.

    Parameters
    ----------
    n_regimes : int
        Number of regimes (>= 2).
    start : {"stationary", "last"}
        Regime distribution of the first simulated step: the chain's stationary distribution,
        or the filtered probabilities at the end of the data moved one step forward.
    means, vols : array-like of shape (n_regimes, n_series), optional
        Explicit annual arithmetic means and annual volatilities of each regime.
    corrs : array-like of shape (n_regimes, n_series, n_series), optional
        Explicit correlation matrix of each regime (may be omitted for one asset).
    transition : array-like of shape (n_regimes, n_regimes), optional
        Explicit transition probabilities per step (rows sum to 1).
    names : sequence of str, optional
        Asset names (required with explicit parameters).
    periods_per_year : int, optional
        Steps per year the explicit transition matrix is given at (default 12).
    last_probs : array-like of shape (n_regimes,), optional
        Explicit regime probabilities at the end of the data (for ``start = "last"``).
    n_starts : int
        EM starts (the first deterministic, the others random from ``seed``).
    max_iter : int
        EM iterations per start.
    tol : float
        Convergence: stop when the log-likelihood gains less than ``tol`` per observation.
    seed : int
        Seed of the random EM starts.

    Attributes
    ----------
    mu_, cov_ : ndarray
        Annual mean and covariance of the stationary mixture (used by policies needing moments).
    drift_ : ndarray of shape (n_regimes, n_series)
        Mean log return per step of each regime.
    covs_ : ndarray of shape (n_regimes, n_series, n_series)
        Covariance of log returns per step of each regime.
    transition_ : ndarray of shape (n_regimes, n_regimes)
    probabilities_ : DataFrame or None
        Smoothed regime probabilities over the history (after a fit).
    fit_info_ : dict
        Log-likelihood, BIC, iterations and convergence of the last fit.
    """

    kind = "regime"
    _KEYS = (
        "kind",
        "assets",
        "n_regimes",
        "start",
        "periods_per_year",
        "means",
        "vols",
        "corrs",
        "transition",
        "last_probs",
        "n_starts",
        "max_iter",
        "tol",
        "seed",
        "summary",
    )

    def __init__(
        self,
        *,
        n_regimes: int = 2,
        start: str = "stationary",
        means: Sequence[Sequence[float]] | None = None,
        vols: Sequence[Sequence[float]] | None = None,
        corrs: Sequence[Sequence[Sequence[float]]] | None = None,
        transition: Sequence[Sequence[float]] | None = None,
        names: Sequence[str] | None = None,
        periods_per_year: int | None = None,
        last_probs: Sequence[float] | None = None,
        n_starts: int = 10,
        max_iter: int = 1000,
        tol: float = 1e-8,
        seed: int = 0,
    ) -> None:
        w = "[model]"
        self.n_regimes = as_int(n_regimes, f"{w}.n_regimes", low=2, high=20)
        self.start = as_str(start, f"{w}.start", choices=["stationary", "last"])
        self.n_starts = as_int(n_starts, f"{w}.n_starts", low=1)
        self.max_iter = as_int(max_iter, f"{w}.max_iter", low=1)
        self.tol = as_float(tol, f"{w}.tol", low=0.0, low_open=True)
        self.seed = as_int(seed, f"{w}.seed", low=0)
        self.names = None if names is None else list(names)
        self._explicit = dict(
            means=means,
            vols=vols,
            corrs=corrs,
            transition=transition,
            periods_per_year=periods_per_year,
            last_probs=last_probs,
        )
        self.names_: list[str] = []
        self.fit_info_: dict[str, Any] = {}
        self.probabilities_: pd.DataFrame | None = None
        self._args: tuple | None = None
        if any(v is not None for v in self._explicit.values()):
            self._set_explicit()

    # -- explicit parameters --------------------------------------------------------------------
    def _set_explicit(self) -> None:
        w = "[model]"
        p = self._explicit
        needed = ["assets", "means", "vols", "transition"]
        have = {"assets": self.names} | p
        missing = [k for k in needed if have.get(k) is None]
        if missing:
            raise ConfigError(
                f"`{w}` gives some explicit regime parameters but not "
                f"{', '.join(f'`{k}`' for k in missing)}: give all of assets, means, vols, "
                "transition (and corrs for several assets), or none and a [data] section to fit."
            )
        names = list(self.names)
        n = len(names)
        ppy = as_int(
            12 if p["periods_per_year"] is None else p["periods_per_year"],
            f"{w}.periods_per_year",
            low=1,
        )
        trans = check_transition(p["transition"], f"{w}.transition")
        k = trans.shape[0]
        if k != self.n_regimes:
            raise ConfigError(
                f"`{w}.n_regimes` = {self.n_regimes} but `transition` is {k}x{k}; make them agree "
                "(or leave `n_regimes` out)."
            )
        means = _per_regime_vectors(p["means"], f"{w}.means", names, k)
        vols = _per_regime_vectors(p["vols"], f"{w}.vols", names, k, low=0.0)
        if p["corrs"] is None:
            if n > 1:
                raise ConfigError(
                    f"`{w}.corrs` is required for {n} assets: one correlation matrix per regime."
                )
            corrs = np.ones((k, 1, 1))
        else:
            if not isinstance(p["corrs"], (list, tuple, np.ndarray)) or len(p["corrs"]) != k:
                raise ConfigError(f"`{w}.corrs` must be a list of {k} matrices (one per regime).")
            corrs = np.array(
                [check_correlation(c, f"{w}.corrs[{j}]", n) for j, c in enumerate(p["corrs"])]
            )
        last = None
        if p["last_probs"] is not None:
            last = as_array(p["last_probs"], f"{w}.last_probs", ndim=1, shape=(k,))
            if np.any(last < 0) or abs(last.sum() - 1.0) > 1e-8:
                raise ConfigError(
                    f"`{w}.last_probs` must be {k} probabilities summing to 1; "
                    f"got {p['last_probs']}."
                )
        covs = corrs * vols[:, :, None] * vols[:, None, :] / ppy
        drift = (means - 0.5 * vols**2) / ppy
        self._store(names, ppy, drift, covs, trans, last, fitted=False)

    def _store(self, names, ppy, drift, covs, trans, last_probs, fitted) -> None:
        if fitted:
            try:
                self.stationary_ = stationary_distribution(trans, "fitted transition")
            except ConfigError as e:
                raise ModelFitError(
                    f"The regime fit is degenerate: {e} Use fewer regimes (`n_regimes`)."
                ) from e
        else:
            self.stationary_ = stationary_distribution(trans)
        self.names_ = list(names)
        self.ppy_ = int(ppy)
        self.drift_ = np.ascontiguousarray(drift, dtype=float)
        self.covs_ = np.ascontiguousarray(covs, dtype=float)
        self.transition_ = np.ascontiguousarray(trans, dtype=float)
        self.last_probs_ = None if last_probs is None else np.asarray(last_probs, dtype=float)
        self.fitted_ = fitted
        self._args = None
        if self.start == "last" and self.last_probs_ is None:
            raise ConfigError(
                "`[model].start` = 'last' needs the regime probabilities at the end of the data: "
                "fit the model to history or give `last_probs`; or use `start = 'stationary'`."
            )

    # -- construction from a scenario --------------------------------------------------------------
    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "[model]") -> Self:
        check_keys(section, cls._KEYS, where)
        names = section.get("assets")
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) for n in names)
        ):
            raise ConfigError(f"`{where}.assets` must be a list of names.")
        summary = section.get("summary")
        if summary is not None and not isinstance(summary, Mapping):
            raise ConfigError(f"`{where}.summary` is a table written by `params()`; remove it.")
        n_regimes = section.get("n_regimes")
        if n_regimes is None:
            trans = section.get("transition")
            n_regimes = len(trans) if isinstance(trans, list) and trans else 2
        kwargs = {
            k: section[k]
            for k in ("start", "n_starts", "max_iter", "tol", "seed", "means", "vols", "corrs")
            if k in section
        }
        return cls(
            n_regimes=n_regimes,
            transition=section.get("transition"),
            names=names,
            periods_per_year=section.get("periods_per_year"),
            last_probs=section.get("last_probs"),
            **kwargs,
        )

    # -- ReturnModel interface ----------------------------------------------------------------
    def fit(self, returns: pd.DataFrame, *, periods_per_year: int) -> Self:
        """Fit means, covariances and transitions by EM on log returns.

        Parameters
        ----------
        returns : DataFrame of shape (n_obs, n_series)
            Simple returns per period (fractions); at least
            ``10 * (K * (n + n (n + 1) / 2) + K (K - 1))`` rows (120 for two regimes of two
            assets).
        periods_per_year : int
            Periods per year of the data; the simulation step must equal it.

        Warns
        -----
        ConvergenceWarning
            The best EM start stopped at ``max_iter`` before converging.
        NumericalWarning
            A regime's covariance was singular and was regularised with a small ridge.
        """
        k = self.n_regimes
        n = returns.shape[1]
        x = np.log1p(check_history(returns, min_regime_rows(k, n), f"regime ({k} regimes)"))
        ppy = as_int(periods_per_year, "periods_per_year", low=1)
        best = _fit_em(x, k, self.n_starts, self.max_iter, self.tol, self.seed)
        if best["degenerate"]:
            warnings.warn(
                f"A regime's covariance was singular (a regime holding too few observations, or "
                f"collinear series) and was regularised with a ridge of {best['ridge']:.3g} on its "
                "diagonal. Check `describe()`; use fewer regimes (`n_regimes`), fewer or less "
                "collinear assets, or a longer history.",
                NumericalWarning,
                stacklevel=2,
            )
        if not best["converged"]:
            warnings.warn(
                f"The EM fit of {k} regimes did not converge in {self.max_iter} iterations "
                f"(last log-likelihood gain {best['last_gain']:.3g} per observation > tol "
                f"{self.tol:g}). Raise `[model].max_iter`, or change `n_regimes`.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self._store(
            [str(c) for c in returns.columns],
            ppy,
            best["means"],
            best["covs"],
            best["trans"],
            best["filtered"][-1],
            fitted=True,
        )
        self.probabilities_ = pd.DataFrame(
            best["smoothed"], index=returns.index, columns=pd.RangeIndex(k, name="regime")
        )
        n_obs = x.shape[0]
        n_par = _n_params(k, n)
        self.fit_info_ = {
            "n_obs": n_obs,
            "periods_per_year": ppy,
            "loglik": best["loglik"],
            "n_params": n_par,
            "bic": -2.0 * best["loglik"] + n_par * math.log(n_obs),
            "aic": -2.0 * best["loglik"] + 2.0 * n_par,
            "converged": best["converged"],
            "n_iter": best["n_iter"],
            "starts_loglik": best["starts_loglik"],
            "regularised": best["degenerate"],
        }
        return self

    def simulate_into(self, rng: np.random.Generator, out: np.ndarray, steps_per_year: int) -> None:
        self.check_fitted()
        check_step_frequency(self.kind, self.ppy_, steps_per_year, self.fitted_)
        if self._args is None:
            self._args = self.kernel_args()
        simulate_regime_nb(rng, *self._args, out, np.empty((0, 0), dtype=np.int64))

    def simulate_regimes(
        self,
        n_paths: int,
        n_steps: int,
        *,
        seed: int | np.random.SeedSequence | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Simple returns (n_paths, n_steps, n_series) and the regime of each step (int64)."""
        self.check_fitted()
        out = np.empty((n_paths, n_steps, len(self.names_)))
        regimes = np.empty((n_paths, n_steps), dtype=np.int64)
        simulate_regime_nb(np.random.default_rng(seed), *self.kernel_args(), out, regimes)
        return out, regimes

    def kernel_args(self) -> tuple:
        """``(drift, chol, cum_trans, cum_init)`` of ``simulate_regime_nb`` (per step)."""
        self.check_fitted()
        chol = np.ascontiguousarray([psd_cholesky(c) for c in self.covs_])
        cum_trans = np.ascontiguousarray(np.cumsum(self.transition_, axis=1))
        cum_init = np.ascontiguousarray(np.cumsum(self.initial_probs_)[None, :])
        return self.drift_, chol, cum_trans, cum_init

    # -- derived quantities ---------------------------------------------------------------------
    @property
    def initial_probs_(self) -> np.ndarray:
        """Regime distribution of the first simulated step (from ``start``)."""
        if self.start == "last":
            return self.last_probs_ @ self.transition_
        return self.stationary_

    @property
    def means_(self) -> np.ndarray:
        """Annual arithmetic mean of each regime, shape (n_regimes, n_series)."""
        return (self.drift_ + 0.5 * np.diagonal(self.covs_, axis1=1, axis2=2)) * self.ppy_

    @property
    def vols_(self) -> np.ndarray:
        """Annual volatility of log returns of each regime, shape (n_regimes, n_series)."""
        return np.sqrt(np.diagonal(self.covs_, axis1=1, axis2=2) * self.ppy_)

    @property
    def corrs_(self) -> np.ndarray:
        """Correlation of log returns of each regime, shape (n_regimes, n_series, n_series)."""
        sd = np.sqrt(np.diagonal(self.covs_, axis1=1, axis2=2))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = self.covs_ / (sd[:, :, None] * sd[:, None, :])
        c[~np.isfinite(c)] = 0.0
        for j in range(c.shape[0]):
            np.fill_diagonal(c[j], 1.0)
        return c

    @property
    def durations_(self) -> np.ndarray:
        """Expected stay in each regime, ``1 / (1 - p_kk)``, in years."""
        with np.errstate(divide="ignore"):
            return 1.0 / (1.0 - np.diag(self.transition_)) / self.ppy_

    @property
    def cov_(self) -> np.ndarray:
        """Annual covariance of log returns of the stationary mixture (serial dependence aside)."""
        pi = self.stationary_
        m = pi @ self.drift_
        second = np.einsum(
            "k,kij->ij", pi, self.covs_ + np.einsum("ki,kj->kij", *[self.drift_] * 2)
        )
        return (second - np.outer(m, m)) * self.ppy_

    @property
    def mu_(self) -> np.ndarray:
        """Annual arithmetic mean of the stationary mixture (continuous-time convention)."""
        return (self.stationary_ @ self.drift_) * self.ppy_ + 0.5 * np.diag(self.cov_)

    def describe(self) -> pd.DataFrame:
        """One row per regime: stationary probability, duration (years), annual means, vols, corrs.

        Columns are a MultiIndex ``(quantity, asset)``; correlations are labelled
        ``"a / b"``.
        """
        self.check_fitted()
        names = self.names_
        cols: dict[tuple[str, str], np.ndarray] = {
            ("stationary_prob", ""): self.stationary_,
            ("duration_years", ""): self.durations_,
            ("p_stay", ""): np.diag(self.transition_),
        }
        for i, a in enumerate(names):
            cols[("mean", a)] = self.means_[:, i]
        for i, a in enumerate(names):
            cols[("vol", a)] = self.vols_[:, i]
        corrs = self.corrs_
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                cols[("corr", f"{names[i]} / {names[j]}")] = corrs[:, i, j]
        df = pd.DataFrame(cols, index=pd.RangeIndex(self.n_regimes, name="regime"))
        df.columns = pd.MultiIndex.from_tuples(df.columns, names=["quantity", "asset"])
        return df

    def params(self) -> dict[str, Any]:
        self.check_fitted()
        out: dict[str, Any] = {
            "kind": self.kind,
            "assets": self.series_names,
            "n_regimes": self.n_regimes,
            "start": self.start,
            "periods_per_year": self.ppy_,
            "means": self.means_.tolist(),
            "vols": self.vols_.tolist(),
            "corrs": self.corrs_.tolist(),
            "transition": self.transition_.tolist(),
        }
        if self.last_probs_ is not None:
            out["last_probs"] = self.last_probs_.tolist()
        summary: dict[str, Any] = {
            "stationary": self.stationary_.tolist(),
            "duration_years": [d if math.isfinite(d) else None for d in self.durations_.tolist()],
        }
        if self.fit_info_:
            summary["fit"] = jsonable(self.fit_info_)
        out["summary"] = summary
        return out


def _per_regime_vectors(
    value: Any, field: str, names: list[str], k: int, low: float | None = None
) -> np.ndarray:
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != k:
        raise ConfigError(
            f"`{field}` must be a list of {k} entries (one per regime), each a value per asset."
        )
    return np.array([as_vector(v, f"{field}[{j}]", names, low=low) for j, v in enumerate(value)])


# -- EM (Baum-Welch) ------------------------------------------------------------------------------
def _log_densities(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    n_obs, n = x.shape
    k = means.shape[0]
    out = np.empty((n_obs, k))
    for j in range(k):
        chol = np.linalg.cholesky(covs[j])
        d = solve_triangular(chol, (x - means[j]).T, lower=True, check_finite=False)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        out[:, j] = -0.5 * (n * math.log(2.0 * math.pi) + logdet + (d * d).sum(axis=0))
    return out


def _m_step(x, smoothed, xi_sum, means, covs, trans, var_scale):
    """New (means, covs, trans, init, regularised) from the smoothed probabilities."""
    n_obs, n = x.shape
    k = smoothed.shape[1]
    weight = smoothed.sum(axis=0)
    means = means.copy()
    covs = covs.copy()
    trans = trans.copy()
    ridge = 1e-6 * var_scale
    regularised = False
    for j in range(k):
        if weight[j] < 1e-8 * n_obs:
            regularised = True  # an empty regime: keep its parameters
            continue
        means[j] = smoothed[:, j] @ x / weight[j]
        d = x - means[j]
        c = (d * smoothed[:, j : j + 1]).T @ d / weight[j]
        c = 0.5 * (c + c.T)
        if weight[j] < n + 1 or np.linalg.eigvalsh(c)[0] < 1e-8 * var_scale:
            c = c + ridge * np.eye(n)
            regularised = True
        covs[j] = c
    rows = xi_sum.sum(axis=1)
    ok = rows > 0
    trans[ok] = xi_sum[ok] / rows[ok, None]
    return means, covs, trans, smoothed[0].copy(), regularised


def _em(x, means, covs, trans, init, max_iter, tol, var_scale) -> dict[str, Any]:
    n_obs = x.shape[0]
    k = means.shape[0]
    filtered = np.empty((n_obs, k))
    smoothed = np.empty((n_obs, k))
    xi_sum = np.empty((k, k))
    ll_old = -np.inf
    converged = False
    regularised = False
    gain = np.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 2):
        try:
            log_dens = _log_densities(x, means, covs)
        except np.linalg.LinAlgError:
            ll = -np.inf
            break
        ll = hamilton_kim_nb(log_dens, trans, init, filtered, smoothed, xi_sum)
        if not np.isfinite(ll):
            break
        gain = (ll - ll_old) / n_obs
        if gain < tol:
            converged = True
            break
        if n_iter > max_iter:
            break
        ll_old = ll
        means, covs, trans, init, regularised = _m_step(
            x, smoothed, xi_sum, means, covs, trans, var_scale
        )
    return {
        "loglik": float(ll),
        "means": means,
        "covs": covs,
        "trans": trans,
        "filtered": filtered,
        "smoothed": smoothed,
        "converged": converged,
        "n_iter": min(n_iter, max_iter),
        "last_gain": float(gain),
        "degenerate": regularised or bool(np.any(smoothed.sum(axis=0) < x.shape[1] + 1)),
        "ridge": 1e-6 * var_scale,
    }


def _starts(x: np.ndarray, k: int, n_starts: int, seed: int, var_scale: float):
    """EM starting points: one deterministic (volatility scaled 0.5x..2x), others random."""
    n = x.shape[1]
    mean = x.mean(axis=0)
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    if np.linalg.eigvalsh(cov)[0] < 1e-8 * var_scale:
        cov = cov + 1e-6 * var_scale * np.eye(n)  # collinear series: start from a ridge
    chol = np.linalg.cholesky(cov)
    rng = np.random.default_rng(seed)
    for s in range(n_starts):
        if s == 0:
            scales = np.geomspace(0.5, 2.0, k)
            means = np.tile(mean, (k, 1))
            stay = np.full(k, 0.9)
        else:
            scales = np.sort(np.exp(rng.uniform(np.log(0.2), np.log(5.0), k)))
            means = mean + 0.5 * rng.standard_normal((k, n)) @ chol.T
            stay = rng.uniform(0.7, 0.99, k)
        covs = scales[:, None, None] * cov
        trans = np.tile(((1.0 - stay) / (k - 1))[:, None], (1, k))
        trans[np.diag_indices(k)] = stay
        yield means, covs, trans, np.full(k, 1.0 / k)


def _fit_em(x: np.ndarray, k: int, n_starts: int, max_iter: int, tol: float, seed: int):
    """The best EM run over the starts (non-degenerate runs first), regimes sorted by volatility."""
    var_scale = float(np.mean(np.var(x, axis=0)))
    if var_scale <= 0.0:
        raise DataError("The history has zero variance: a regime model needs moving returns.")
    runs = [
        _em(x, *start, max_iter, tol, var_scale)
        for start in _starts(x, k, n_starts, seed, var_scale)
    ]
    ok = [r for r in runs if np.isfinite(r["loglik"])]
    if not ok:
        raise ModelFitError(
            "Every EM start of the regime model failed (non-finite likelihood); check the data "
            "for extreme values, or use fewer regimes."
        )
    good = [r for r in ok if not r["degenerate"]] or ok
    best = max(good, key=lambda r: r["loglik"])
    order = np.argsort([np.trace(c) for c in best["covs"]], kind="stable")
    best = dict(best)
    best["means"] = best["means"][order]
    best["covs"] = best["covs"][order]
    best["trans"] = best["trans"][np.ix_(order, order)]
    best["filtered"] = best["filtered"][:, order]
    best["smoothed"] = best["smoothed"][:, order]
    best["starts_loglik"] = [r["loglik"] for r in runs]
    return best
