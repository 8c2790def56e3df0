"""Plain NumPy references for the policy and cash-flow kernels, and a harness to run them.

Everything here is written for clarity, not speed: the rules and flows of
``mcsim.kernels._policies`` and ``mcsim.kernels._flows`` re-implemented with whole-array
NumPy operations (and, where it helps, a different algorithm), plus :func:`simulate_ref`, a
path-by-path twin of the engine's step loop for proportional costs. :func:`run_policy` runs
a :class:`~mcsim.policies.Policy` through the real kernel on given returns, without a model.

The module also holds :func:`band_rebalance_moments`, the exact expected number of
rebalances and turnover of a two-asset band policy in a lognormal market (numerical
integration of the renewal equation over the log-odds state). The example custom rules live
in :mod:`mcsim.examples.rules`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

from ..costs import CostModel
from ..flows import flows_array
from ..kernels import layout, simulate_policy_custom_nb
from ..kernels._feature_sets import feature_set
from ..kernels._policies import CAL, TH, TRADE_TO_EDGE, TRADE_TO_FRACTION
from ..kernels._registry import trades_to_band_edges
from ..loops import builtin_loop
from ..policies import PolicyContext

__all__ = [
    "band_rebalance_moments",
    "band_widths",
    "calendar_ref",
    "drop_small_trades_ref",
    "is_due",
    "place_flow_ref",
    "run_policy",
    "scheduled_flow_ref",
    "simulate_ref",
    "threshold_ref",
    "to_band_edge_ref",
]


# -- rules ----------------------------------------------------------------------------------
def is_due(t: int, every: float, offset: float) -> bool:
    """Whether a rule checked every ``every`` steps from ``offset`` is due after step ``t``."""
    k, off = int(every), int(offset)
    return k > 0 and t + 1 >= off and (t + 1 - off) % k == 0


def band_widths(target: np.ndarray, abs_band: np.ndarray, rel_band: np.ndarray) -> np.ndarray:
    """Per-asset half-widths: the tighter of the absolute and relative bands (inf when unset)."""
    rel = np.where(np.isinf(rel_band), np.inf, rel_band * np.abs(target))
    return np.minimum(abs_band, rel)


def _split_threshold(params: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    f = TH.N_FIXED
    return params[f : f + n], params[f + n : f + 2 * n]


def calendar_ref(t: int, w: np.ndarray, target: np.ndarray, params: np.ndarray):
    """(trades, w_new) of the calendar rule."""
    if not is_due(t, params[CAL.EVERY], params[CAL.OFFSET]):
        return False, None
    return True, target.copy()


def to_band_edge_ref(w: np.ndarray, target: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Nearest band edge with the residual shared by room (see ``to_band_edge_nb``)."""
    n = w.size
    abs_band, rel_band = _split_threshold(params, n)
    b = band_widths(target, abs_band, rel_band)
    lo, hi = target - b, target + b
    w_new = np.clip(w, lo, hi)
    residual = 1.0 - w_new.sum()
    if residual != 0.0:
        if residual > 0:
            room = hi - w_new
        else:
            floor = np.where((lo < 0) & (w >= 0) & (target >= 0), 0.0, lo)
            room = w_new - floor
        free = np.isinf(room)
        if free.any():
            share = np.where(free, np.abs(target), 0.0)
            share = share / share.sum() if share.sum() > 0 else free / free.sum()
            w_new = w_new + residual * share
        elif (room > 0).any():
            room = np.maximum(room, 0.0)
            w_new = w_new + residual * room / room.sum()
        else:
            w_new = w_new + residual * target
    drift_band = params[TH.DRIFT_BAND]
    drift = 0.5 * np.abs(w_new - target).sum()
    if np.isfinite(drift_band) and drift > drift_band:
        w_new = target + drift_band / drift * (w_new - target)
    return w_new


def drop_small_trades_ref(w: np.ndarray, w_new: np.ndarray, min_trade: float):
    """(trade_left, w_new): trades below ``min_trade`` cancelled, the larger side scaled down."""
    w_new = w_new.copy()
    for _ in range(w.size + 1):
        d = w_new - w
        small = (d != 0) & (np.abs(d) < min_trade)
        if not small.any():
            break
        d[small] = 0.0
        buys, sells = d[d > 0].sum(), -d[d < 0].sum()
        if buys > sells:
            d[d > 0] *= sells / buys
        elif sells > buys:
            d[d < 0] *= buys / sells
        w_new = w + d
    return bool(np.any(w_new != w)), w_new


def threshold_ref(t: int, w: np.ndarray, target: np.ndarray, params: np.ndarray):
    """(trades, w_new) of the band rule."""
    if not is_due(t, params[TH.CHECK_EVERY], params[TH.CHECK_OFFSET]):
        return False, None
    n = w.size
    abs_band, rel_band = _split_threshold(params, n)
    dev = np.abs(w - target)
    breach = np.any(dev > band_widths(target, abs_band, rel_band))
    breach |= 0.5 * dev.sum() > params[TH.DRIFT_BAND]
    if not breach:
        return False, None
    mode = int(params[TH.TRADE_TO])
    if mode == TRADE_TO_EDGE:
        w_new = to_band_edge_ref(w, target, params)
    elif mode == TRADE_TO_FRACTION:
        w_new = w + params[TH.FRACTION] * (target - w)
    else:
        w_new = target.copy()
    if params[TH.MIN_TRADE] > 0:
        return drop_small_trades_ref(w, w_new, params[TH.MIN_TRADE])
    return True, w_new


# -- flows ----------------------------------------------------------------------------------
def scheduled_flow_ref(
    t: int, wealth: float, price_index: float, flows: np.ndarray, steps_per_year: float
) -> float:
    """Net scheduled flow at the end of step ``t`` (see ``scheduled_flow_nb``)."""
    total = 0.0
    for row in flows:
        every, start = int(row[layout.FL_EVERY]), int(row[layout.FL_START])
        if t < start or t > row[layout.FL_END] or (t - start) % every:
            continue
        amount = row[layout.FL_AMOUNT]
        if row[layout.FL_INDEX] == layout.INDEX_FIXED:
            amount *= (1 + row[layout.FL_GROWTH]) ** ((t + 1) / steps_per_year)
        elif row[layout.FL_INDEX] == layout.INDEX_INFLATION:
            amount *= price_index
        total += amount + row[layout.FL_PCT_WEALTH] * wealth
    return total


def place_flow_ref(h: np.ndarray, amount: float, target: np.ndarray, mode: int) -> np.ndarray:
    """Holdings after placing ``amount``; cash-flow rebalancing by sorting the gaps."""
    h = np.asarray(h, dtype=float)
    wealth = h.sum()
    if mode == layout.FLOW_REBALANCE and wealth > 0:
        sign = np.sign(amount)
        gaps = sign * (target * (wealth + amount) - h)
        g = np.sort(gaps[gaps > 0])[::-1]
        # Largest k gaps active: level = (sum of the k largest - |amount|) / k, valid when it
        # lies between the (k+1)-th largest gap and the k-th.
        for k in range(1, g.size + 1):
            level = max((g[:k].sum() - abs(amount)) / k, 0.0)
            if k == g.size or g[k] <= level:
                return h + sign * np.maximum(gaps - level, 0.0)
        mode = layout.FLOW_TO_TARGET  # no gap at all (a zero flow)
    if wealth <= 0 or (mode == layout.FLOW_TO_TARGET and amount > 0):
        return h + amount * target
    if mode == layout.FLOW_TO_TARGET:
        take = -amount * target
        clipped = (take > h) & (h >= 0)
        short = (take - h)[clipped].sum()
        keep = np.where(clipped, 0.0, h - take)
        if short > 0:
            keep = keep - short * keep / keep.sum()
        return keep
    return h + amount * h / wealth


# -- one policy along paths -----------------------------------------------------------------
def simulate_ref(
    rule,
    params: np.ndarray,
    targets: np.ndarray,
    w_init: np.ndarray,
    returns: np.ndarray,
    *,
    inflation: np.ndarray | None = None,
    flows: np.ndarray | None = None,
    flow_mode: int = layout.FLOW_PRO_RATA,
    proportional: float | np.ndarray = 0.0,
    initial_wealth: float = 1.0,
    steps_per_year: float = 12.0,
) -> dict[str, np.ndarray]:
    """Path-by-path twin of the engine's step loop (proportional costs only).

    ``rule(t, w, target, params) -> (trades, w_new)`` is one of the ``*_ref`` rules (or None
    for buy-and-hold). Returns per-path arrays: terminal_wealth, real_terminal_wealth, flows,
    gains, costs, traded (sum of one-way traded fractions), n_rebalances, ruined, ruin_year.
    """
    n_paths, n_steps, n_assets = returns.shape
    if inflation is None:
        inflation = np.zeros((n_paths, n_steps))
    if flows is None:
        flows = np.zeros((0, layout.N_FLOW_FIELDS))
    prop = np.broadcast_to(np.asarray(proportional, dtype=float), (n_assets,))
    keys = (
        "terminal_wealth real_terminal_wealth flows gains costs traded n_rebalances ruined "
        "ruin_year"
    ).split()
    out = {k: np.zeros(n_paths) for k in keys}
    out["ruin_year"][:] = np.nan
    for p in range(n_paths):
        h = w_init * initial_wealth
        cpi = 1.0
        ruined = False
        acc = dict.fromkeys(keys, 0.0)
        acc["ruin_year"] = np.nan
        for t in range(n_steps):
            cpi *= 1 + inflation[p, t]
            if ruined:
                continue
            g = h * returns[p, t]
            h = h + g
            acc["gains"] += g.sum()
            wealth = h.sum()
            if wealth <= 0:
                acc["gains"] -= wealth
                ruined, h = True, np.zeros(n_assets)
                acc["ruin_year"] = (t + 1) / steps_per_year
                continue
            target = targets[t]
            amount = scheduled_flow_ref(t, wealth, cpi, flows, steps_per_year)
            if amount != 0.0:
                if amount <= -wealth:
                    acc["flows"] -= wealth
                    ruined, h = True, np.zeros(n_assets)
                    acc["ruin_year"] = (t + 1) / steps_per_year
                    continue
                h = place_flow_ref(h, amount, target, flow_mode)
                acc["flows"] += amount
                wealth = wealth + amount
            if rule is None:
                continue
            trades, w_new = rule(t, h / wealth, target, params)
            if not trades:
                continue
            trade = w_new * wealth - h
            traded = np.abs(trade).sum()
            if traded <= 1e-12 * wealth:
                continue
            cost = min((prop * np.abs(trade)).sum(), wealth)
            acc["costs"] += cost
            acc["traded"] += 0.5 * traded / wealth
            acc["n_rebalances"] += 1
            h = w_new * (wealth - cost)
            if wealth - cost <= 0:
                # Costs took everything left: ruined on this very step.
                ruined, h = True, np.zeros(n_assets)
                acc["ruin_year"] = (t + 1) / steps_per_year
        acc["terminal_wealth"] = 0.0 if ruined else h.sum()
        acc["real_terminal_wealth"] = acc["terminal_wealth"] / cpi
        acc["ruined"] = float(ruined)
        for k in keys:
            out[k][p] = acc[k]
    return out


def run_policy(
    policy,
    returns: np.ndarray,
    *,
    asset_names: Sequence[str] | None = None,
    target: Sequence[float] | None = None,
    steps_per_year: int = 12,
    inflation: np.ndarray | None = None,
    flows: Sequence | np.ndarray = (),
    costs=None,
    initial_wealth: float = 1.0,
    goal: float | None = None,
    risk_free: str | None = None,
) -> np.ndarray:
    """Run ``policy`` through the engine's kernel on given simple returns.

    Parameters
    ----------
    policy : mcsim.policies.Policy
    returns : ndarray of shape (n_paths, n_steps, n_assets)
    asset_names : sequence of str, optional
        Default ``a0, a1, ...``.
    target : sequence of float, optional
        The scenario target (default equal weights).
    inflation : ndarray of shape (n_paths, n_steps), optional
    flows : sequence of CashFlow, or a ready ``flows`` array
    costs : mcsim.CostModel, optional
    initial_wealth, goal : float
    risk_free : str, optional
        The asset whose returns Sharpe and Sortino are against (``[simulation].risk_free``);
        without one, against 0.

    Returns
    -------
    ndarray of shape (n_paths, N_METRICS)
        Per-path metrics, columns ``layout.M_*``.
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
        risk_free_index=-1 if risk_free is None else names.index(risk_free),
    )
    kp = policy.to_kernel(ctx)
    if isinstance(flows, np.ndarray):
        flow_arr = np.ascontiguousarray(flows, dtype=np.float64)
    else:
        flow_arr = flows_array(list(flows), steps_per_year)
    infl = np.zeros((n_paths, n_steps)) if inflation is None else np.ascontiguousarray(inflation)
    asset_params = (costs or CostModel()).asset_params(names, np.zeros(n_assets))
    out = np.empty((n_paths, layout.N_METRICS))
    grid = np.array([0, n_steps], dtype=np.int64)
    hist = np.zeros((grid.size, 12), dtype=np.int64)
    args = (
        kp.params,
        kp.state0,
        kp.exec_params,
        kp.w_init,
        kp.targets,
        returns,
        infl,
        np.zeros(n_paths, dtype=np.uint64),  # execution-noise keys
        asset_params,
        flow_arr,
        np.zeros(layout.N_TAX_PARAMS),
        float(initial_wealth),
        float(steps_per_year),
        np.inf if goal is None else float(goal),
        grid,
        -10.0,
        2.0,
        out,
        hist,
        np.zeros((0, n_steps + 1)),
    )
    if kp.rebalance_nb is None:
        # The loop a run would pick for this block, so the twins test what runs.
        band_edges = trades_to_band_edges(kp.kind, kp.params)
        fn = builtin_loop(feature_set(asset_params, args[10], band_edges, flow_arr), kp)
        head = (kp.kind, kp.check_every, kp.check_offset)
    else:
        fn = simulate_policy_custom_nb
        head = (kp.rebalance_nb,)
        if "check_every" in inspect.signature(fn.py_func).parameters:
            head = (*head, kp.check_every, kp.check_offset)
    if fn(*head, *args) < 0:
        raise RuntimeError("the block does not fit the loop chosen for it")
    return out


# -- exact band-policy moments for two lognormal assets -------------------------------------
def band_rebalance_moments(
    target: float,
    band: float,
    drift_step: float,
    vol_step: float,
    n_steps: int,
    n_nodes: int = 240,
) -> tuple[float, float]:
    """Exact expected rebalances and one-way turnover of a two-asset band policy.

    Asset 1 has target weight ``target``; the policy checks every step and trades back to
    target when ``|w - target| > band``. With log prices that are Brownian motions, the
    log-odds ``y = log(h1 / h2)`` is a Gaussian random walk with increments
    ``N(drift_step, vol_step**2)`` per step (``drift_step`` and ``vol_step`` are the mean and
    standard deviation of ``log(1 + r1) - log(1 + r2)``) and ``w = logistic(y)``; a rebalance
    resets ``y`` to ``logit(target)``. The band is the interval ``[a, b]`` of ``y`` with
    ``a = logit(target - band)`` and ``b = logit(target + band)``. Rebalances form a renewal
    process: with ``p_k`` the sub-density of ``y`` after ``k`` steps without a breach
    (Nyström discretisation of the transition kernel on Gauss-Legendre nodes over
    ``[a, b]``), the first-breach probabilities are ``f_k = int p_{k-1}(y) P(exit | y) dy``
    and the expected traded fraction on that breach
    ``g_k = int p_{k-1}(y) E[|w(Y') - target|; Y' outside] dy``, both with normal CDFs and a
    fine quadrature outside the band. Then with ``R(0) = T(0) = 0``::

        R(n) = sum_{k <= n} f_k (1 + R(n - k)),    T(n) = sum_{k <= n} (g_k + f_k T(n - k)).

    The result is exact up to the quadrature error (well below 1e-6 here). No costs, no flows.

    Returns
    -------
    (expected number of rebalances, expected sum of one-way traded fractions) over
    ``n_steps`` steps.
    """
    y0 = special.logit(target)
    a, b = special.logit(target - band), special.logit(target + band)
    x, wq = np.polynomial.legendre.leggauss(n_nodes)
    y = 0.5 * (b - a) * x + 0.5 * (b + a)
    wq = wq * 0.5 * (b - a)
    # Transition density between nodes (the next state must stay in the band).
    kern = stats.norm.pdf(y[None, :], loc=y[:, None] + drift_step, scale=vol_step)
    # Exit probability and expected |w' - target| on exit, from each node and from y0.
    z = np.linspace(0.0, 10.0 * vol_step, 4001)
    dz = z[1] - z[0]
    simpson = np.ones_like(z)
    simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
    simpson *= dz / 3.0

    def exit_moments(y_from: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = y_from + drift_step
        p_exit = stats.norm.cdf((a - m) / vol_step) + stats.norm.sf((b - m) / vol_step)
        up = b + z[None, :]
        dn = a - z[None, :]
        trade = (
            np.abs(special.expit(up) - target) * stats.norm.pdf(up, m[:, None], vol_step)
            + np.abs(special.expit(dn) - target) * stats.norm.pdf(dn, m[:, None], vol_step)
        ) @ simpson
        return p_exit, trade

    exit_nodes, trade_nodes = exit_moments(y)
    exit0, trade0 = exit_moments(np.array([y0]))
    f = np.empty(n_steps + 1)
    g = np.empty(n_steps + 1)
    f[1], g[1] = exit0[0], trade0[0]
    p = stats.norm.pdf(y, loc=y0 + drift_step, scale=vol_step)  # p_1 on the nodes
    for k in range(2, n_steps + 1):
        f[k] = (p * wq) @ exit_nodes
        g[k] = (p * wq) @ trade_nodes
        p = (p * wq) @ kern
    r = np.zeros(n_steps + 1)
    tt = np.zeros(n_steps + 1)
    for n in range(1, n_steps + 1):
        k = np.arange(1, n + 1)
        r[n] = np.sum(f[k] * (1.0 + r[n - k]))
        tt[n] = np.sum(g[k] + f[k] * tt[n - k])
    return float(r[n_steps]), float(tt[n_steps])
