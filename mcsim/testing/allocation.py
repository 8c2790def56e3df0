"""Plain NumPy / SciPy references for the allocation rules and solvers, and a harness.

* ``*_ref`` rules mirror ``mcsim.kernels._allocation`` with the one policy signature
  ``rule(t, returns, w, wealth, target, params, state, w_new) -> bool``, written with
  whole-array NumPy and, for the optimisers, :func:`scipy.optimize.minimize` instead of the
  kernels' active-set and Newton solvers.
* :func:`mean_variance_scipy`, :func:`risk_parity_scipy`: SciPy solutions of the same
  problems the kernel solvers solve.
* :func:`simulate_ref`: a path-by-path twin of the engine's step loop (proportional costs,
  no flows) that runs a ``*_ref`` rule and returns terminal wealth, rebalances, the rule's
  ``state[0]`` and the wealth paths.
* :func:`run_allocation`: a policy through the real kernel on given returns, with model
  moments in the policy context.
* :func:`cppi_continuous`: the continuous-time CPPI wealth given the risky asset's price.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize

from ..costs import CostModel
from ..kernels import layout, registry
from ..kernels._allocation import CP, CS, ESTIMATE_TRAILING, MV, RP, TV, VS, VT
from ..kernels._feature_sets import feature_set
from ..loops import builtin_loop
from ..policies import PolicyContext

__all__ = [
    "cppi_continuous",
    "cppi_floor_ref",
    "cppi_ref",
    "mean_variance_ref",
    "mean_variance_scipy",
    "risk_parity_ref",
    "risk_parity_scipy",
    "run_allocation",
    "simulate_ref",
    "target_vol_ref",
    "target_vol_scale_ref",
    "vol_target_ref",
]


def _due(t: int, every: float, offset: float) -> bool:
    elapsed = t + 1 - int(offset)
    return int(every) > 0 and elapsed >= 0 and elapsed % int(every) == 0


def _sleeve(target: np.ndarray, safe: int) -> tuple[np.ndarray, float]:
    mask = np.ones(target.size, dtype=bool)
    mask[safe] = False
    return mask, float(target[mask].sum())


# -- solvers --------------------------------------------------------------------------------
def mean_variance_scipy(
    mu: np.ndarray,
    cov: np.ndarray,
    risk_aversion: float,
    w_current: np.ndarray,
    turnover_penalty: float = 0.0,
) -> np.ndarray:
    """SLSQP solution of ``max w'mu - lam/2 w'Sigma w - kappa |w - c|_1`` on the simplex.

    The L1 term is made smooth by splitting ``w = c + u - v`` with ``u >= 0`` and
    ``0 <= v <= c`` (which also keeps ``w >= 0``) when ``kappa > 0``; ``c`` must then lie on
    the simplex.
    """
    mu = np.asarray(mu, float)
    cov = np.asarray(cov, float)
    n = mu.size
    lam = float(risk_aversion)
    kappa = float(turnover_penalty)
    opts = {"ftol": 1e-16, "maxiter": 2000}
    if kappa == 0.0:

        def f(w):
            return -(w @ mu) + 0.5 * lam * w @ cov @ w

        def jac(w):
            return -mu + lam * cov @ w

        res = optimize.minimize(
            f,
            np.full(n, 1.0 / n),
            jac=jac,
            bounds=[(0.0, None)] * n,
            constraints=[
                {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n)}
            ],
            method="SLSQP",
            options=opts,
        )
        w = np.clip(res.x, 0.0, None)
        return w / w.sum()
    c = np.asarray(w_current, float)

    def fs(x):
        w = c + x[:n] - x[n:]
        return -(w @ mu) + 0.5 * lam * w @ cov @ w + kappa * x.sum()

    def jacs(x):
        w = c + x[:n] - x[n:]
        g = -mu + lam * cov @ w
        return np.concatenate([g + kappa, -g + kappa])

    sign = np.concatenate([np.ones(n), -np.ones(n)])
    res = optimize.minimize(
        fs,
        np.zeros(2 * n),
        jac=jacs,
        bounds=[(0.0, None)] * n + [(0.0, max(ci, 0.0)) for ci in c],
        constraints=[{"type": "eq", "fun": lambda x: sign @ x, "jac": lambda x: sign}],
        method="SLSQP",
        options=opts,
    )
    w = np.clip(c + res.x[:n] - res.x[n:], 0.0, None)
    return w / w.sum()


def mean_variance_objective(mu, cov, risk_aversion, w_current, turnover_penalty, w) -> float:
    """The maximised objective ``w'mu - lam/2 w'Sigma w - kappa |w - c|_1``."""
    w = np.asarray(w, float)
    return float(
        w @ mu
        - 0.5 * risk_aversion * w @ cov @ w
        - turnover_penalty * np.abs(w - np.asarray(w_current, float)).sum()
    )


def risk_parity_scipy(cov: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Risk-budgeting weights from SLSQP on Spinu's problem, refined by Newton steps.

    ``min y'Sigma y / 2 - sum b_i log y_i`` over ``y > 0``; weights ``y / sum(y)``. A few
    Newton steps with NumPy's dense solver polish SLSQP's answer (the problem is smooth and
    strictly convex, so they converge quadratically from there).
    """
    cov = np.asarray(cov, float)
    b = np.asarray(budgets, float)
    n = b.size

    def f(y):
        return 0.5 * y @ cov @ y - b @ np.log(y)

    def jac(y):
        return cov @ y - b / y

    y0 = b / np.sqrt(np.diag(cov))
    y0 *= np.sqrt(b.sum() / (y0 @ cov @ y0))
    res = optimize.minimize(
        f,
        y0,
        jac=jac,
        bounds=[(1e-12, None)] * n,
        method="SLSQP",
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    y = res.x
    for _ in range(5):
        hess = cov + np.diag(b / y**2)
        step = np.linalg.solve(hess, -jac(y))
        t = 1.0
        while np.any(y + t * step <= 0):
            t /= 2
        y = y + t * step
    return y / y.sum()


def sample_moments_ref(returns: np.ndarray, t_end: int, window: int, steps_per_year: float):
    """Annual mean and covariance (``ddof = 1``) of rows ``t_end - window + 1 .. t_end``."""
    x = returns[t_end - window + 1 : t_end + 1]
    return x.mean(axis=0) * steps_per_year, np.cov(x, rowvar=False, ddof=1) * steps_per_year


def target_vol_scale_ref(cov, target, safe, target_vol, max_leverage) -> float:
    """``k`` with ``(k t + (1-k) e)' Sigma (k t + (1-k) e) = target_vol^2`` via numpy.roots."""
    e = np.zeros(target.size)
    e[safe] = 1.0
    d = target - e
    a, b, c = d @ cov @ d, 2 * d @ cov @ e, e @ cov @ e - target_vol**2
    if a <= 0:
        return float(max_leverage)
    roots = np.roots([a, b, c])
    real = roots[np.abs(roots.imag) < 1e-12 * max(1.0, np.abs(roots).max())].real
    k = real.max() if real.size else -b / (2 * a)
    return float(min(max(k, 0.0), max_leverage))


# -- rules ----------------------------------------------------------------------------------
def vol_target_ref(t, returns, w, wealth, target, params, state, w_new) -> bool:
    """Twin of ``vol_target_nb``."""
    safe = int(params[VT.SAFE])
    mask, total = _sleeve(target, safe)
    if total <= 0:
        return False
    x = target[mask] @ returns[t][mask] / total
    lam = params[VT.DECAY]
    m, v = state[VS.MEAN], state[VS.VAR]
    state[VS.MEAN] = lam * m + (1 - lam) * x
    state[VS.VAR] = lam * (v + (1 - lam) * (x - m) ** 2)
    if not _due(t, params[VT.EVERY], params[VT.OFFSET]):
        return False
    vol = np.sqrt(state[VS.VAR] * params[VT.STEPS_PER_YEAR])
    lev = params[VT.MAX_LEVERAGE]
    e = lev if vol <= 0 else min(lev, params[VT.TARGET_VOL] / vol)
    if abs(e - (1 - w[safe])) <= params[VT.THRESHOLD]:
        return False
    w_new[:] = np.where(mask, target * e / total, 1 - e)
    return True


def cppi_floor_ref(t, returns, wealth, params, state) -> float:
    """Twin of ``cppi_floor_nb``: move the floor to the end of step ``t``, count a breach."""
    n = returns.shape[1]
    floor = state[CS.FLOOR]
    if np.isnan(floor):
        w0 = params[CP.INITIAL_WEALTH]
        if np.isnan(w0):
            w0 = wealth / (1 + params[CP.N_FIXED : CP.N_FIXED + n] @ returns[0])
        floor = params[CP.FLOOR] * w0
    g = params[CP.FLOOR_GROWTH]
    floor *= 1 + (returns[t, int(params[CP.SAFE])] if np.isnan(g) else g)
    state[CS.FLOOR] = floor
    state[CS.EVENTS] += float(wealth < floor)
    return floor


def cppi_ref(t, returns, w, wealth, target, params, state, w_new) -> bool:
    """Twin of ``cppi_nb``."""
    safe = int(params[CP.SAFE])
    floor = cppi_floor_ref(t, returns, wealth, params, state)
    if not _due(t, params[CP.EVERY], params[CP.OFFSET]):
        return False
    mask, total = _sleeve(target, safe)
    if total <= 0:
        return False
    e = min(
        params[CP.MAX_EXPOSURE],
        params[CP.MULTIPLIER] * max(wealth - floor, 0) / wealth,
    )
    w_new[:] = np.where(mask, target * e / total, 1 - e)
    return True


def mean_variance_ref(t, returns, w, wealth, target, params, state, w_new) -> bool:
    """Twin of ``mean_variance_rule_nb`` with the SciPy solver (no caching)."""
    if not _due(t, params[MV.EVERY], params[MV.OFFSET]):
        return False
    n = w.size
    window = int(params[MV.WINDOW])
    if params[MV.ESTIMATE] == ESTIMATE_TRAILING and t + 1 >= window:
        mu, cov = sample_moments_ref(returns, t, window, params[MV.STEPS_PER_YEAR])
    elif params[MV.HAS_MODEL] == 1.0:
        k = MV.N_FIXED
        mu, cov = params[k : k + n], params[k + n : k + n + n * n].reshape(n, n)
    else:
        return False
    w_new[:] = mean_variance_scipy(mu, cov, params[MV.RISK_AVERSION], w, params[MV.TURNOVER])
    return True


def risk_parity_ref(t, returns, w, wealth, target, params, state, w_new) -> bool:
    """Twin of ``risk_parity_rule_nb`` with the SciPy solver (no caching)."""
    if not _due(t, params[RP.EVERY], params[RP.OFFSET]):
        return False
    n = w.size
    k = RP.N_FIXED
    window = int(params[RP.WINDOW])
    if params[RP.ESTIMATE] == ESTIMATE_TRAILING and t + 1 >= window:
        _, cov = sample_moments_ref(returns, t, window, params[RP.STEPS_PER_YEAR])
    elif params[RP.HAS_MODEL] == 1.0:
        cov = params[k + n : k + n + n * n].reshape(n, n)
    else:
        return False
    w_new[:] = risk_parity_scipy(cov, params[k : k + n])
    return True


def target_vol_ref(t, returns, w, wealth, target, params, state, w_new) -> bool:
    """Twin of ``target_vol_rule_nb``."""
    if not _due(t, params[TV.EVERY], params[TV.OFFSET]):
        return False
    n = w.size
    safe = int(params[TV.SAFE])
    window = int(params[TV.WINDOW])
    if params[TV.ESTIMATE] == ESTIMATE_TRAILING and t + 1 >= window:
        _, cov = sample_moments_ref(returns, t, window, params[TV.STEPS_PER_YEAR])
    elif params[TV.HAS_MODEL] == 1.0:
        cov = params[TV.N_FIXED : TV.N_FIXED + n * n].reshape(n, n)
    else:
        return False
    k = target_vol_scale_ref(cov, target, safe, params[TV.TARGET_VOL], params[TV.MAX_LEVERAGE])
    if abs(k * (1 - target[safe]) - (1 - w[safe])) <= params[TV.THRESHOLD]:
        return False
    w_new[:] = k * target
    w_new[safe] += 1 - k
    return True


REFERENCES = {
    registry.VOL_TARGET.kind: vol_target_ref,
    registry.CPPI.kind: cppi_ref,
    registry.MEAN_VARIANCE.kind: mean_variance_ref,
    registry.RISK_PARITY.kind: risk_parity_ref,
    registry.TARGET_VOL.kind: target_vol_ref,
}


# -- harnesses ------------------------------------------------------------------------------
def simulate_ref(
    kernel_policy,
    returns: np.ndarray,
    *,
    proportional: float = 0.0,
    initial_wealth: float = 1.0,
) -> dict[str, np.ndarray]:
    """Path-by-path twin of the engine's step loop for an allocation rule (no flows).

    ``kernel_policy`` is the :class:`~mcsim.policies.KernelPolicy` of one of this module's
    policies; its ``*_ref`` twin is looked up by kind. Returns ``terminal_wealth``,
    ``n_rebalances``, ``costs``, ``state0`` (the rule's ``state[0]`` at the end) per path
    and ``wealth`` of shape (n_paths, n_steps + 1). On the step a path is ruined (wealth at
    or below zero after the market move) the rule is not consulted, but CPPI still moves its
    floor and counts the breach (:func:`cppi_floor_ref`), as the engine does.
    """
    rule = REFERENCES[kernel_policy.kind]
    n_paths, n_steps, n_assets = returns.shape
    out = {k: np.zeros(n_paths) for k in ("terminal_wealth", "n_rebalances", "costs", "state0")}
    out["wealth"] = np.zeros((n_paths, n_steps + 1))
    for p in range(n_paths):
        h = kernel_policy.w_init * initial_wealth
        state = kernel_policy.state0.copy()
        out["wealth"][p, 0] = initial_wealth
        for t in range(n_steps):
            start = wealth = h.sum()
            if wealth > 0:
                h = h * (1 + returns[p, t])
                wealth = h.sum()
            if wealth <= 0:
                if kernel_policy.kind == registry.CPPI.kind and start > 0:
                    cppi_floor_ref(t, returns[p], wealth, kernel_policy.params, state)
                h = np.zeros(n_assets)
                out["wealth"][p, t + 1] = 0.0
                continue
            w_new = np.empty(n_assets)
            target = kernel_policy.targets[t]
            if rule(t, returns[p], h / wealth, wealth, target, kernel_policy.params, state, w_new):
                trade = w_new * wealth - h
                if np.abs(trade).sum() > 1e-12 * wealth:
                    cost = min(proportional * np.abs(trade).sum(), wealth)
                    out["costs"][p] += cost
                    out["n_rebalances"][p] += 1
                    h = w_new * (wealth - cost)
            out["wealth"][p, t + 1] = h.sum()
        out["terminal_wealth"][p] = h.sum()
        out["state0"][p] = state[0]
    return out


def run_allocation(
    policy,
    returns: np.ndarray,
    *,
    asset_names: Sequence[str] | None = None,
    target: Sequence[float] | None = None,
    mu: Sequence[float] | None = None,
    cov: np.ndarray | None = None,
    steps_per_year: int = 12,
    proportional: float = 0.0,
    initial_wealth: float = 1.0,
    keep: int = 0,
):
    """Run ``policy`` through the engine's kernel on given simple returns.

    Parameters
    ----------
    policy : mcsim.policies.Policy
    returns : ndarray of shape (n_paths, n_steps, n_assets)
    asset_names : sequence of str, optional
        Default ``a0, a1, ...``.
    target : sequence of float, optional
        The scenario target (default equal weights).
    mu, cov : optional
        The model's annual expected returns and covariance, given to the policy context.
    proportional : float
        Commission as a fraction of traded value.
    keep : int
        Number of paths whose wealth is returned.

    Returns
    -------
    metrics : ndarray of shape (n_paths, N_METRICS)
    wealth : ndarray of shape (keep, n_steps + 1)
    kernel_policy : KernelPolicy
    """
    returns = np.ascontiguousarray(returns, dtype=np.float64)
    n_paths, n_steps, n_assets = returns.shape
    names = list(asset_names) if asset_names is not None else [f"a{i}" for i in range(n_assets)]
    tgt = np.full(n_assets, 1.0 / n_assets) if target is None else np.asarray(target, float)
    ctx = PolicyContext(
        asset_names=names,
        steps_per_year=steps_per_year,
        n_steps=n_steps,
        target=tgt,
        mu=None if mu is None else np.asarray(mu, float),
        cov=None if cov is None else np.asarray(cov, float),
    )
    kp = policy.to_kernel(ctx)
    costs = CostModel(proportional_bps=proportional * 1e4)
    asset_params = costs.asset_params(names, np.zeros(n_assets))
    out = np.empty((n_paths, layout.N_METRICS))
    grid = np.array([0, n_steps], dtype=np.int64)
    hist = np.zeros((grid.size, 12), dtype=np.int64)
    wealth = np.zeros((keep, n_steps + 1))
    # The loop a run would pick for this block, so the twins test what runs.
    loop = builtin_loop(feature_set(asset_params, np.zeros(layout.N_TAX_PARAMS)), kp)
    done = loop(
        kp.kind,
        kp.check_every,
        kp.check_offset,
        kp.params,
        kp.state0,
        kp.exec_params,
        kp.w_init,
        kp.targets,
        returns,
        np.zeros((n_paths, n_steps)),
        np.zeros(n_paths, dtype=np.uint64),  # execution-noise keys
        asset_params,
        np.zeros((0, layout.N_FLOW_FIELDS)),
        np.zeros(layout.N_TAX_PARAMS),
        float(initial_wealth),
        float(steps_per_year),
        np.inf,
        grid,
        -10.0,
        2.0,
        out,
        hist,
        wealth,
    )
    if done < 0:
        raise RuntimeError("the block does not fit the loop chosen for it")
    return out, wealth, kp


def cppi_continuous(
    s_ratio: np.ndarray, floor: float, multiplier: float, rate: float, sigma: float, years: float
) -> np.ndarray:
    r"""Continuous-time CPPI wealth (initial wealth 1) given the risky price ratio ``S_T/S_0``.

    With the floor growing at the riskless rate ``r`` and exposure ``m C_t`` rebalanced
    continuously, ``dC = C (m dS/S + (1 - m) r dt)``; Ito on ``log C`` with
    ``\int dS/S = \log(S_T/S_0) + \sigma^2 T / 2`` gives

    .. math:: C_T = C_0 (S_T/S_0)^m \exp\big((1-m)(r + m\sigma^2/2) T\big),

    and ``W_T = F_0 e^{rT} + C_T`` with ``F_0 = floor``, ``C_0 = 1 - floor``.
    """
    c0 = 1.0 - floor
    m = multiplier
    cushion = c0 * s_ratio**m * np.exp((1 - m) * (rate + m * sigma**2 / 2) * years)
    return floor * np.exp(rate * years) + cushion
