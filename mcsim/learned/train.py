"""Training of the learned policy: fitted Q iteration backward over the check dates.

Paths are drawn from the scenario's own model (its kernels, the training seed). Between two
checks nothing trades, so a path only needs each asset's growth from check to check and the
trailing market features at each check (``path_inputs_nb``). A forward pass with random
actions gives the states the regressions see; the backward pass then values, on the same
paths (common random numbers), each of the three actions at each check:

    J_a = ratio_a ** (1 - g) * V_{k+1}(state after a)        (g = 1: log ratio_a + V_{k+1})

in signed utility per unit of wealth (CRRA is homogeneous in wealth), where ``ratio_a`` is
the wealth growth to the next check after the action's proportional cost and ``V_{k+1}``
the fitted value of the next check (see :func:`_backward`). Each check's regression fits
the differences of the actions against trading to target, with control variates; the
exported model is one regressor fitted on the advantages over holding of all checks pooled
(``years_to_horizon`` is a feature), signed so that larger is better.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from .._validation import as_weights
from ..errors import ConfigError
from ..kernels import _learned as kl
from ..kernels._layout import AP_HALF_SPREAD, AP_PROPORTIONAL
from ..plan import prepare
from ..policies.rules import BuyAndHold
from .model import FEATURES, REGRESSORS, LearnedModel
from .regressors import export, fit_regressor, importances

__all__ = ["MIN_TRAIN_PATHS", "TrainSettings", "train"]

MIN_TRAIN_PATHS = 200
DEFAULT_RISK_AVERSION = 3.0
# Rows of the pooled regression (a random subset of checks x paths beyond this).
_POOLED_ROWS = 200_000
# Probabilities of hold, edge and target in the forward pass that generates the states.
_EXPLORE = np.array([0.5, 0.25, 0.25])


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """What to train: a learned policy's settings (see :class:`LearnedPolicy`)."""

    name: str
    regressor: str = "tree"
    check_every: int = 3
    band: float = 0.05
    window: int = 12
    n_paths: int = 10_000
    seed: int = 7
    degree: int = 2
    max_depth: int = 5
    target: dict[str, float] | None = None

    @property
    def where(self) -> str:
        return f"[policies.{self.name}]"


def train(scenario: Any, s: TrainSettings) -> LearnedModel:
    """Fit the model of the learned policy ``s.name`` of ``scenario`` (module docstring).

    Deterministic for a seed. Raises ConfigError naming the field for an unknown
    regressor, too few paths or a training seed equal to the evaluation seed.
    """
    # Many small regressions: BLAS threads cost far more than they save on them (measured
    # 280 ms against 5 ms per ridge fit of 3,000 rows on a busy 2-core machine).
    with threadpool_limits(1):
        return _train(scenario, s)


def _train(scenario: Any, s: TrainSettings) -> LearnedModel:
    t0 = time.perf_counter()
    w = s.where
    if s.regressor not in REGRESSORS:
        raise ConfigError(
            f"`{w}.regressor` = {s.regressor!r} is unknown; choose one of {', '.join(REGRESSORS)}."
        )
    if s.n_paths < MIN_TRAIN_PATHS:
        raise ConfigError(
            f"`{w}.train_paths` = {s.n_paths} is too few for the regressors; give at least "
            f"{MIN_TRAIN_PATHS} (10,000 or more for a stable policy)."
        )
    if scenario.simulation.seed is not None and int(scenario.simulation.seed) == s.seed:
        raise ConfigError(
            f"`{w}.train_seed` = {s.seed} equals `[simulation].seed`: training and evaluation "
            "paths must differ; choose another train_seed."
        )
    base = dataclasses.replace(
        scenario,
        policies=(BuyAndHold(name="training"),),
        baseline=None,
        sweeps=(),
        stresses=(),
        failure=None,
        decision=None,
    ).replace(n_paths=s.n_paths, seed=s.seed, keep_paths=0)
    plan = prepare(base, seed=s.seed)
    sim = plan.scenario.simulation
    n_steps, spy = sim.n_steps, sim.steps_per_year
    assets = plan.asset_names
    target = (
        plan.target_weights.copy()
        if s.target is None
        else as_weights(s.target, f"{w}.target", assets)
    )
    target = np.ascontiguousarray(target, dtype=np.float64)
    cost_rates = np.ascontiguousarray(
        plan.asset_params[:, AP_PROPORTIONAL] + plan.asset_params[:, AP_HALF_SPREAD]
    )
    checks = np.arange(s.check_every, n_steps, s.check_every, dtype=np.int64)
    if checks.size < 1:
        raise ConfigError(
            f"`{w}.check_every` = {s.check_every} leaves no check before the horizon "
            f"({n_steps} steps); choose a smaller one."
        )
    decision = scenario.decision
    g = float(decision.risk_aversion[0]) if decision is not None else DEFAULT_RISK_AVERSION
    growth, tvol, tret = _path_inputs(plan, target, s.window, checks)
    n_paths = growth.shape[0]
    if n_paths < MIN_TRAIN_PATHS:
        raise ConfigError(
            f"`{w}`: the model gives only {n_paths} training paths (historical windows); the "
            f"regressors need at least {MIN_TRAIN_PATHS}. Train on a simulated model."
        )
    # A model of zeros: the params carry the band, costs and horizon the features need.
    shell = LearnedModel(
        regressor="linear",
        assets=assets,
        cost_rates=cost_rates,
        band=s.band,
        check_every=s.check_every,
        window=s.window,
        out_offset=np.zeros(2),
        out_scale=np.ones(2),
        arrays={
            "mean": np.zeros(len(FEATURES)),
            "scale": np.ones(len(FEATURES)),
            "powers": np.zeros((1, len(FEATURES))),
            "coef": np.zeros((2, 1)),
            "intercept": np.zeros(2),
        },
    )
    params = shell.params(n_steps, spy, 1.0)
    rng = np.random.default_rng(np.random.SeedSequence(s.seed, spawn_key=(1,)))
    states = _forward(growth, target, params, cost_rates, checks, rng)
    X_all, Y_all = _backward(growth, tvol, tret, target, params, cost_rates, checks, states, g, s)
    rows = X_all.shape[0]
    take = np.arange(rows)
    if rows > _POOLED_ROWS:
        take = np.sort(rng.choice(rows, _POOLED_ROWS, replace=False))
    X = X_all[take]
    Y = Y_all[take]
    mu = Y.mean(axis=0)
    sd = Y.std(axis=0)
    sd[sd == 0] = 1.0
    est = fit_regressor(s, X, (Y - mu) / sd)
    model = LearnedModel(
        regressor=s.regressor,
        assets=assets,
        cost_rates=cost_rates,
        band=s.band,
        check_every=s.check_every,
        window=s.window,
        out_offset=mu,
        out_scale=sd,
        arrays=export(s.regressor, est),
        scenario_hash=scenario_hash(scenario),
    )
    info = {
        "risk_aversion": g,
        "train_paths": int(n_paths),
        "train_seed": s.seed,
        "n_checks": int(checks.size),
        "pooled_rows": int(X.shape[0]),
        "feature_importances": dict(zip(FEATURES, importances(s.regressor, est, X), strict=True)),
        "decision_map": decision_map(model, X, n_steps, spy),
        "train_seconds": round(time.perf_counter() - t0, 3),
    }
    return dataclasses.replace(model, info=info)


def scenario_hash(scenario: Any) -> str:
    """SHA-256 of the scenario's tables without its policies (what training depends on)."""
    d = scenario.to_dict()
    d.pop("policies", None)
    d.pop("comparison", None)
    blob = json.dumps(d, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _path_inputs(plan, target, window, checks):
    """Growth between checks and trailing features of every training path."""
    sim = plan.scenario.simulation
    n_series = len(plan.series_names)
    idx = [plan.series_names.index(a) for a in plan.asset_names]
    n_paths = sim.n_paths
    k = checks.size
    growth = np.empty((n_paths, k + 1, len(idx)))
    tvol = np.empty((n_paths, k))
    tret = np.empty((n_paths, k))
    rng = plan.block_rng(0)
    chunk = plan.chunk_size
    for first in range(0, n_paths, chunk):
        c = min(chunk, n_paths - first)
        out = np.empty((c, sim.n_steps, n_series))
        plan.fill_chunk(rng, first, out)
        r = np.ascontiguousarray(out[:, :, idx])
        kl.path_inputs_nb(
            r, target, float(window), checks, growth[first : first + c],
            tvol[first : first + c], tret[first : first + c],
        )  # fmt: skip
    return growth, tvol, tret


@dataclass
class _States:
    """Pre-decision states of the forward pass, per check: weights, wealth, steps since."""

    w: np.ndarray  # (k, n_paths, n_assets)
    wealth: np.ndarray  # (k, n_paths), over initial wealth
    since: np.ndarray  # (k, n_paths), steps


def _after(action, w, target, params, cost_rates):
    """Weights after ``action`` (rows of ``w``), the cost factor ``1 - cost`` and whether
    each row traded (the kernel's ``apply_action_nb``)."""
    if action == kl.ACTION_HOLD:
        return w, np.ones(w.shape[0]), np.zeros(w.shape[0], dtype=bool)
    if action == kl.ACTION_TARGET:
        post = np.broadcast_to(target, w.shape).copy()
    else:
        post = np.empty_like(w)
        kl.edge_batch_nb(np.ascontiguousarray(w), target, params, post)
    factor = 1.0 - np.abs(post - w) @ cost_rates
    return post, factor, np.any(post != w, axis=1)


def _forward(growth, target, params, cost_rates, checks, rng) -> _States:
    n_paths, _, n = growth.shape
    k_n = checks.size
    out = _States(
        w=np.empty((k_n, n_paths, n)),
        wealth=np.empty((k_n, n_paths)),
        since=np.empty((k_n, n_paths)),
    )
    w = np.broadcast_to(target, (n_paths, n)).copy()
    wealth = np.ones(n_paths)
    last = np.zeros(n_paths)
    for k in range(k_n):
        gross = w * growth[:, k]
        total = gross.sum(axis=1)
        w = gross / total[:, None]
        wealth = wealth * total
        out.w[k], out.wealth[k], out.since[k] = w, wealth, checks[k] - last
        actions = rng.choice(3, size=n_paths, p=_EXPLORE)
        new_w = w.copy()
        for a in (kl.ACTION_EDGE, kl.ACTION_TARGET):
            rows = actions == a
            if rows.any():
                post, factor, traded = _after(a, w[rows], target, params, cost_rates)
                new_w[rows] = post
                wealth[rows] *= factor
                last[np.flatnonzero(rows)[traded]] = checks[k]
        w = new_w
    return out


def _features(w, wealth, since, elapsed, tvol, tret, target, params):
    X = np.empty((w.shape[0], len(FEATURES)))
    kl.features_batch_nb(
        np.ascontiguousarray(w), target, params, np.ascontiguousarray(wealth),
        np.ascontiguousarray(since, dtype=np.float64), float(elapsed),
        np.ascontiguousarray(tvol), np.ascontiguousarray(tret), X,
    )  # fmt: skip
    return X


def _backward(growth, tvol, tret, target, params, cost_rates, checks, st, g, s):
    """Fitted Q iteration from the last check back: the features and the advantage samples
    (edge and target over hold, signed so larger is better) of every check, stacked.

    Values are signed utilities per unit of wealth, ``J = sign(1 - g) * ratio ** (1 - g) *
    ...`` (log for ``g = 1``). The value of a state is expressed against trading to target:
    ``V(x) = J_target(x) + max(0, D_hold(x), D_edge(x))``. After trading to target every
    state is the same but for the cost paid, so ``J_target(x) = (1 - cost(x)) ** (1 - g) *
    M`` with one number ``M`` per check; only the differences ``D`` are regressed. Fitting
    the level instead made the fitted differences between neighbouring states (noise of a
    level regression) swamp the advantages, and the error grew check after check.
    """
    k_n = checks.size
    sense = 1.0 if g <= 1.0 else -1.0
    xs, ys = [], []
    nxt = None  # (regressor, output mean, output scale, M) of check k + 1
    for k in range(k_n - 1, -1, -1):
        w, wealth, since = st.w[k], st.wealth[k], st.since[k]
        X = _features(w, wealth, since, checks[k], tvol[:, k], tret[:, k], target, params)
        J = np.empty((w.shape[0], 3))
        post_w = []
        cost_target = None
        for a in (kl.ACTION_HOLD, kl.ACTION_EDGE, kl.ACTION_TARGET):
            post, factor, traded = _after(a, w, target, params, cost_rates)
            post_w.append(post)
            if a == kl.ACTION_TARGET:
                cost_target = factor
            gross = post * growth[:, k + 1]
            total = gross.sum(axis=1)
            ratio = factor * total
            if nxt is None:
                cont = np.zeros(w.shape[0]) if g == 1.0 else np.full(w.shape[0], sense)
            else:
                w_next = gross / total[:, None]
                since_next = (checks[k + 1] - checks[k]) + np.where(traded, 0.0, since)
                Xn = _features(
                    w_next, wealth * ratio, since_next, checks[k + 1], tvol[:, k + 1],
                    tret[:, k + 1], target, params,
                )  # fmt: skip
                est, mu, sd, level = nxt
                d = est.predict(Xn) * sd + mu
                factor_next = 1.0 - np.abs(target - w_next) @ cost_rates
                cont = _scaled(level, factor_next, g) + np.maximum(0.0, d.max(axis=1))
            J[:, a] = np.log(ratio) + cont if g == 1.0 else ratio ** (1.0 - g) * cont
        level = float(np.mean(_unscaled(J[:, kl.ACTION_TARGET], cost_target, g)))
        D = _controlled(J, post_w, w, growth[:, k + 1])
        mu = D.mean(axis=0)
        sd = D.std(axis=0)
        sd[sd == 0] = 1.0
        nxt = (fit_regressor(s, X, (D - mu) / sd), mu, sd, level)
        xs.append(X)
        # Advantages over hold: edge - hold = D_edge - D_hold, target - hold = -D_hold.
        ys.append(np.column_stack([D[:, 1] - D[:, 0], -D[:, 0]]))
    return np.concatenate(xs[::-1]), np.concatenate(ys[::-1])


def _scaled(level, factor, g):
    """``J_target`` of states whose trade to target keeps ``factor`` of wealth."""
    return np.log(factor) + level if g == 1.0 else factor ** (1.0 - g) * level


def _unscaled(j, factor, g):
    """Inverse of :func:`_scaled`: the level implied by each sample."""
    return j - np.log(factor) if g == 1.0 else j / factor ** (1.0 - g)


def _controlled(J, post_w, w, growth):
    """``[J_hold - J_target, J_edge - J_target]`` minus control variates: the first-order
    effect of each action's weights (against target's) on the growth to the next check.

    The controls have mean zero given the features when returns do not depend on the past
    (every i.i.d. model), so the fitted conditional means are unchanged; they remove the
    market noise that otherwise swamps an advantage of a few basis points. Coefficients are
    the least-squares ones of each check (the usual estimated control variate).
    """
    g_mean = growth.mean(axis=0)
    centred = growth - g_mean
    denom = w @ g_mean
    out = []
    for a in (kl.ACTION_HOLD, kl.ACTION_EDGE):
        first_order = np.einsum("ij,ij->i", post_w[a] - post_w[kl.ACTION_TARGET], centred) / denom
        out.append(_minus_control(J[:, a] - J[:, kl.ACTION_TARGET], first_order))
    return np.column_stack(out)


def _minus_control(y, c):
    """``y - beta * c`` with the least-squares ``beta`` (``c`` has mean zero)."""
    var = float(c @ c)
    if var <= 0.0:
        return y
    return y - (float((y - y.mean()) @ c) / var) * c


def decision_map(model: LearnedModel, X: np.ndarray, n_steps: int, spy: int) -> dict[str, Any]:
    """The chosen action on a grid of drift (``max_gap``) and trailing volatility, the other
    features at their training medians (``years_to_horizon`` at half the horizon)."""
    gaps = np.linspace(0.0, max(float(np.quantile(X[:, kl.F_MAX_GAP], 0.99)), 0.01), 21)
    vols = np.linspace(
        float(np.quantile(X[:, kl.F_TRAILING_VOL], 0.01)),
        float(np.quantile(X[:, kl.F_TRAILING_VOL], 0.99)),
        15,
    )
    med = np.median(X, axis=0)
    med[kl.F_TO_HORIZON] = 0.5 * n_steps / spy
    # sum_gap and trade_cost move with max_gap as they do on average in training.
    ratio_sum = float(np.median(X[:, kl.F_SUM_GAP] / np.maximum(X[:, kl.F_MAX_GAP], 1e-12)))
    ratio_cost = float(np.median(X[:, kl.F_COST] / np.maximum(X[:, kl.F_SUM_GAP], 1e-12)))
    grid = np.tile(med, (gaps.size * vols.size, 1))
    gg, vv = np.meshgrid(gaps, vols, indexing="ij")
    grid[:, kl.F_MAX_GAP] = gg.ravel()
    grid[:, kl.F_SUM_GAP] = gg.ravel() * ratio_sum
    grid[:, kl.F_COST] = grid[:, kl.F_SUM_GAP] * ratio_cost
    grid[:, kl.F_TRAILING_VOL] = vv.ravel()
    adv = predict(model, grid)
    actions = np.array([kl_choose(row) for row in adv]).reshape(gaps.size, vols.size)
    return {"max_gap": gaps.tolist(), "trailing_vol": vols.tolist(), "action": actions.tolist()}


def kl_choose(adv: np.ndarray) -> int:
    """The kernel's choice from the two advantages (``choose_action_nb``)."""
    return int(kl.choose_action_nb(np.ascontiguousarray(adv, dtype=np.float64), 0))


def predict(model: LearnedModel, X: np.ndarray) -> np.ndarray:
    """The advantages (edge, target) the kernel computes for each row of ``X``."""
    n = len(model.assets)
    params = model.params(1, 1, 1.0)
    out = np.empty((X.shape[0], 2))
    kl.predict_batch_nb(params, n, np.ascontiguousarray(X, dtype=np.float64), out)
    return out
