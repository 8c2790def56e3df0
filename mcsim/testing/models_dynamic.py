"""Plain NumPy references for the GARCH / DCC and regime-switching kernels.

Written for clarity, not speed: each makes the same draws from the generator in the same
order as its kernel, so tests can compare them on small inputs to within rounding.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.special import gammaln

__all__ = [
    "all_policies_table",
    "dcc_loglik_reference",
    "hamilton_kim_reference",
    "rebalance_every_n_nb",
    "simulate_garch_reference",
    "simulate_regime_reference",
]


def _corr_cholesky(q: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(q))
    r = q / np.outer(sd, sd)
    return np.linalg.cholesky(r)


def simulate_garch_reference(
    rng: np.random.Generator,
    mu: np.ndarray,
    omega: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    h0: np.ndarray,
    q0: np.ndarray,
    qbar: np.ndarray,
    dcc_a: float,
    dcc_b: float,
    nu: float,
    n_paths: int,
    n_steps: int,
) -> np.ndarray:
    """Simple returns of shape (n_paths, n_steps, n_series); see ``simulate_garch_nb``."""
    n = mu.size
    out = np.empty((n_paths, n_steps, n))
    dynamic = dcc_a > 0.0 or dcc_b > 0.0
    for p in range(n_paths):
        h = h0.copy()
        q = q0.copy()
        for t in range(n_steps):
            chol = _corr_cholesky(q if dynamic else qbar)
            z = rng.standard_normal(n)
            s = 1.0
            if nu > 0.0:
                s = math.sqrt((nu - 2.0) / (2.0 * rng.standard_gamma(0.5 * nu)))
            e = chol @ z * s
            out[p, t] = np.expm1(mu + np.sqrt(h) * e)
            h = omega + (alpha * e**2 + beta) * h
            q = (1.0 - dcc_a - dcc_b) * qbar + dcc_a * np.outer(e, e) + dcc_b * q
    return out


def dcc_loglik_reference(
    e: np.ndarray, qbar: np.ndarray, dcc_a: float, dcc_b: float, nu: float
) -> tuple[float, np.ndarray]:
    """Log-likelihood and ``Q_{T+1}``; see ``dcc_loglik_nb``."""
    n_obs, n = e.shape
    q = qbar.copy()
    ll = 0.0
    for t in range(n_obs):
        sd = np.sqrt(np.diag(q))
        r = q / np.outer(sd, sd)
        _, logdet = np.linalg.slogdet(r)
        quad = e[t] @ np.linalg.solve(r, e[t])
        if nu > 0.0:
            ll += (
                gammaln(0.5 * (nu + n))
                - gammaln(0.5 * nu)
                - 0.5 * n * math.log(math.pi * (nu - 2.0))
                - 0.5 * logdet
                - 0.5 * (nu + n) * math.log1p(quad / (nu - 2.0))
            )
        else:
            ll += -0.5 * (logdet + quad - e[t] @ e[t])
        q = (1.0 - dcc_a - dcc_b) * qbar + dcc_a * np.outer(e[t], e[t]) + dcc_b * q
    return ll, q


def simulate_regime_reference(
    rng: np.random.Generator,
    drift: np.ndarray,
    chol: np.ndarray,
    trans: np.ndarray,
    init: np.ndarray,
    n_paths: int,
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Simple returns (n_paths, n_steps, n_series) and regimes (n_paths, n_steps).

    See ``simulate_regime_nb``: a uniform ``u`` picks the first ``k`` with
    ``cumsum(p)[k] > u``.
    """
    k_reg, n = drift.shape
    out = np.empty((n_paths, n_steps, n))
    regimes = np.empty((n_paths, n_steps), dtype=np.int64)

    def pick(u: float, p: np.ndarray) -> int:
        above = np.nonzero(np.cumsum(p)[:-1] > u)[0]
        return int(above[0]) if above.size else k_reg - 1

    for p in range(n_paths):
        s = pick(rng.random(), init)
        for t in range(n_steps):
            if t > 0:
                s = pick(rng.random(), trans[s])
            z = rng.standard_normal(n)
            out[p, t] = np.expm1(drift[s] + chol[s] @ z)
            regimes[p, t] = s
    return out, regimes


def hamilton_kim_reference(
    log_dens: np.ndarray, trans: np.ndarray, init: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, filtered and smoothed probabilities, and summed joint probabilities.

    The textbook recursions without rescaling tricks beyond normalising each step:
    ``filtered_t ∝ (filtered_{t-1} P) * f(x_t)``; ``smoothed_t = filtered_t *
    (P @ (smoothed_{t+1} / (filtered_t P)))``.
    """
    n_obs, k_reg = log_dens.shape
    dens = np.exp(log_dens)
    filtered = np.empty((n_obs, k_reg))
    ll = 0.0
    pred = init
    for t in range(n_obs):
        a = pred * dens[t]
        ll += math.log(a.sum())
        filtered[t] = a / a.sum()
        pred = filtered[t] @ trans
    smoothed = np.empty_like(filtered)
    smoothed[-1] = filtered[-1]
    xi_sum = np.zeros((k_reg, k_reg))
    for t in range(n_obs - 2, -1, -1):
        ratio = smoothed[t + 1] / (filtered[t] @ trans)
        xi = filtered[t][:, None] * trans * ratio[None, :]
        xi_sum += xi
        smoothed[t] = xi.sum(axis=1)
    return ll, filtered, smoothed, xi_sum


def _custom_rule():
    @njit(cache=True)
    def rebalance_every_n_nb(t, returns, w, wealth, target, params, state, w_new):
        """A custom policy for end-to-end tests: back to target every ``params[0]`` steps."""
        if (t + 1) % int(params[0]) != 0:
            return False
        for i in range(w.size):
            w_new[i] = target[i]
        return True

    return rebalance_every_n_nb


rebalance_every_n_nb = _custom_rule()


def all_policies_table(
    model: dict, assets: list[str], data: dict | None = None, *, custom: bool = False
) -> dict:
    """A small scenario table running ``model`` under every built-in policy kind.

    60/40 in the first two ``assets``; 3 years of monthly steps, 120 paths in blocks of 40.
    With ``custom``, a custom (user-compiled) policy is added too; its kernel is never cached,
    so compiling it takes tens of seconds in every new process.
    """
    table = {
        "simulation": {
            "n_paths": 120,
            "horizon_years": 3,
            "steps_per_year": 12,
            "block_size": 40,
            "seed": 11,
        },
        "model": model,
        "portfolio": {"target": {assets[0]: 0.6, assets[1]: 0.4}},
        "costs": {"proportional_bps": 10},
        "policies": [
            {"name": "hold", "kind": "buy_and_hold"},
            {"name": "quarterly", "kind": "calendar", "frequency": "quarterly"},
            {"name": "band", "kind": "threshold", "band": 0.05},
            {
                "name": "check_band",
                "kind": "calendar_threshold",
                "frequency": "quarterly",
                "band": 0.03,
            },
        ],
    }
    if custom:
        table["policies"].append(
            {
                "name": "custom",
                "kind": "custom",
                "params": [6.0],
                "rebalance_nb": "mcsim.testing.models_dynamic:rebalance_every_n_nb",
            }
        )
    if data:
        table["data"] = data
    return table
