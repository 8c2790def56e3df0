"""A plain NumPy twin of the engine's step loop, for tests.

:func:`simulate_policy_ref` re-implements, path by path and step by step, what
``mcsim.kernels._engine.simulate_policy_builtin_nb`` does for the core features: the market
move, scheduled flows placed pro rata, the calendar, band and buy-and-hold rules (trading back
to target, or a fraction of the way), proportional costs paid from the portfolio, ruin, and
the per-path metrics. It is written for clarity, not speed, and it computes the metrics from
the whole recorded series at the end of a path (the kernel keeps running sums), so tests can
check the kernel's definitions rather than its bookkeeping:

* ``terminal_wealth``: wealth after the last step (currency);
* ``cagr``: ``V_T ** (1 / years) - 1`` with ``V`` the unit value (wealth with flows taken
  out: ``V_{t+1} = V_t (W_{t+1} - F_{t+1}) / W_t``, ``F`` the step's external flow);
* ``volatility``: sample standard deviation (``ddof=1``) of the per-step unit-value returns,
  times ``sqrt(steps_per_year)``; NaN with fewer than two returns;
* ``max_drawdown``: largest ``1 - V_t / max_{s <= t} V_s`` (fraction);
* ``max_drawdown_duration``: longest run of steps with ``V_t`` below its running peak, in years;
* ``turnover``: sum over trades of half the traded value over the wealth before costs,
  divided by the horizon in years (one-way, per year);
* ``costs``, ``flows``, ``gains`` (currency), ``n_rebalances``, ``min_wealth``, ``ruined``,
  ``ruin_year``; and ``wealth``, the whole wealth path of shape (n_paths, n_steps + 1);
* ``loss``: 1 when the path is ruined or ends below initial wealth plus net flows.

A ruined path's unit value is 0 from the step of ruin to the horizon, whatever emptied the
account (a crash or a withdrawal): its CAGR is -1, its maximum drawdown 1, and it is under
water from its last peak before ruin until the horizon. Its volatility is that of the
unit-value returns recorded until (and including) the step of ruin.

Sums whose order the kernel fixes (over assets within a step, and the traded value) are made
in the same order here, so most metrics agree to rounding; the volatility is computed with
``numpy.std`` instead of running sums and agrees to about ``1e-9`` relative.
"""

from __future__ import annotations

import numpy as np

from ..kernels import layout, registry
from ..kernels._policies import CAL, TH, TRADE_TO_EDGE, TRADE_TO_FRACTION

__all__ = ["REF_METRICS", "reference_for_plan", "simulate_policy_ref"]

#: Metrics :func:`simulate_policy_ref` returns (names as in ``mcsim.metrics.METRICS``).
REF_METRICS = (
    "terminal_wealth",
    "cagr",
    "volatility",
    "max_drawdown",
    "max_drawdown_duration",
    "turnover",
    "costs",
    "flows",
    "gains",
    "n_rebalances",
    "min_wealth",
    "ruined",
    "ruin_year",
    "loss",
)

# Trades below this fraction of wealth are rounding noise (as in the engine).
_TRADE_TOL = 1e-12


def _seq_sum(x: np.ndarray) -> float:
    """Left-to-right sum (NumPy's pairwise summation would change the rounding)."""
    total = 0.0
    for v in x:
        total += float(v)
    return total


def _is_due(t: int, every: float, offset: float) -> bool:
    """True when ``t + 1`` elapsed steps is ``offset`` plus a multiple of ``every``."""
    k, off = int(every), int(offset)
    return k > 0 and t + 1 - off >= 0 and (t + 1 - off) % k == 0


def _rule(kind: int, t: int, w: np.ndarray, target: np.ndarray, params: np.ndarray):
    """(trades, w_new) of a built-in rule."""
    if kind == registry.BUY_AND_HOLD.kind:
        return False, None
    if kind == registry.CALENDAR.kind:
        if not _is_due(t, params[CAL.EVERY], params[CAL.OFFSET]):
            return False, None
        return True, target.copy()
    if kind == registry.THRESHOLD.kind:
        if not _is_due(t, params[TH.CHECK_EVERY], params[TH.CHECK_OFFSET]):
            return False, None
        n = w.size
        abs_band = params[TH.N_FIXED : TH.N_FIXED + n]
        rel_band = params[TH.N_FIXED + n : TH.N_FIXED + 2 * n]
        with np.errstate(invalid="ignore"):  # an unset relative band is inf; inf * 0 is NaN
            rel = np.where(np.isinf(rel_band), np.inf, rel_band * np.abs(target))
        width = np.minimum(abs_band, rel)
        dev = np.abs(w - target)
        breach = bool(np.any(dev > width)) or 0.5 * _seq_sum(dev) > params[TH.DRIFT_BAND]
        if not breach:
            return False, None
        mode = int(params[TH.TRADE_TO])
        if params[TH.MIN_TRADE] > 0 or mode == TRADE_TO_EDGE:
            raise NotImplementedError("the reference trades to target or a fraction of the way")
        if mode == TRADE_TO_FRACTION:
            return True, w + params[TH.FRACTION] * (target - w)
        return True, target.copy()
    raise NotImplementedError(f"policy kind {kind} has no reference here")


def _scheduled_flow(t: int, wealth: float, flows: np.ndarray, steps_per_year: float) -> float:
    total = 0.0
    for row in flows:
        every, start = int(row[layout.FL_EVERY]), int(row[layout.FL_START])
        if t < start or t > row[layout.FL_END] or every <= 0 or (t - start) % every != 0:
            continue
        if row[layout.FL_INDEX] != layout.INDEX_NONE:
            raise NotImplementedError("the reference has no indexed flows")
        total += row[layout.FL_AMOUNT] + row[layout.FL_PCT_WEALTH] * wealth
    return total


def _path_metrics(
    r: np.ndarray, nav: np.ndarray, years: float, steps_per_year: float
) -> dict[str, float]:
    """CAGR, volatility and drawdowns from the unit-value returns ``r`` and values ``nav``."""
    out = {}
    v_end = nav[-1] if nav.size else 1.0
    out["cagr"] = v_end ** (1.0 / years) - 1.0 if v_end > 0 else -1.0
    out["volatility"] = (
        float(np.std(r, ddof=1) * np.sqrt(steps_per_year)) if r.size > 1 else float("nan")
    )
    if nav.size:
        peak = np.maximum.accumulate(np.concatenate([[1.0], nav]))[1:]
        out["max_drawdown"] = float(np.max(np.where(nav < peak, 1.0 - nav / peak, 0.0)))
        under = nav < peak
        longest = run = 0
        for u in under:
            run = run + 1 if u else 0
            longest = max(longest, run)
        out["max_drawdown_duration"] = longest / steps_per_year
    else:
        out["max_drawdown"] = 0.0
        out["max_drawdown_duration"] = 0.0
    return out


def simulate_policy_ref(
    returns: np.ndarray,
    *,
    kind: int,
    params: np.ndarray,
    w_init: np.ndarray,
    targets: np.ndarray,
    proportional: float | np.ndarray = 0.0,
    flows: np.ndarray | None = None,
    initial_wealth: float = 1.0,
    steps_per_year: float = 12.0,
) -> dict[str, np.ndarray]:
    """One built-in policy along given return paths, the slow and obvious way.

    Parameters
    ----------
    returns : ndarray of shape (n_paths, n_steps, n_assets)
        Simple returns per step.
    kind : int
        ``registry.BUY_AND_HOLD.kind``, ``POLICY_CALENDAR`` or ``POLICY_THRESHOLD`` (trading to
        target or a fraction of the way; no ``min_trade``).
    params : ndarray
        The rule's parameters, as built by the policy's ``to_kernel`` (``layout.CAL_*`` /
        ``layout.TH_*``).
    w_init : ndarray of shape (n_assets,)
        Weights held at the start.
    targets : ndarray of shape (n_steps, n_assets)
        Target weights per step.
    proportional : float or ndarray of shape (n_assets,)
        Commission as a fraction of traded value (10 bps = 0.001).
    flows : ndarray of shape (n_flows, N_FLOW_FIELDS), optional
        Scheduled flows (``layout.FL_*``; no indexation), placed pro rata.
    initial_wealth : float
        Wealth at the start (currency).
    steps_per_year : float
        Steps per year.

    Returns
    -------
    dict of str to ndarray
        Every name of :data:`REF_METRICS` as an array of shape (n_paths,), and ``wealth`` of
        shape (n_paths, n_steps + 1).
    """
    returns = np.asarray(returns, dtype=np.float64)
    n_paths, n_steps, n_assets = returns.shape
    flows = np.zeros((0, layout.N_FLOW_FIELDS)) if flows is None else np.asarray(flows, float)
    prop = np.broadcast_to(np.asarray(proportional, dtype=np.float64), (n_assets,))
    params = np.asarray(params, dtype=np.float64)
    years = n_steps / steps_per_year
    out = {k: np.zeros(n_paths) for k in REF_METRICS}
    out["wealth"] = np.zeros((n_paths, n_steps + 1))
    for p in range(n_paths):
        h = np.asarray(w_init, dtype=np.float64) * initial_wealth
        wealth = float(initial_wealth)
        totals = dict.fromkeys(("costs", "flows", "gains", "traded", "n_rebalances"), 0.0)
        ruined, ruin_year = False, float("nan")
        unit_returns: list[float] = []
        path_wealth = [wealth]
        for t in range(n_steps):
            start = wealth
            # 1. The market moves every holding by its return.
            g = h * returns[p, t]
            h = h + g
            totals["gains"] += _seq_sum(g)
            wealth = _seq_sum(h)
            flow = 0.0
            if wealth > 0.0:
                # 2. The scheduled flow, in proportion to current holdings.
                amount = _scheduled_flow(t, wealth, flows, steps_per_year)
                if amount != 0.0 and amount <= -wealth:
                    # A withdrawal of everything that is left: the path is ruined.
                    totals["flows"] -= wealth
                    flow = -wealth
                    h, wealth = np.zeros(n_assets), 0.0
                    if not ruined:
                        ruined, ruin_year = True, (t + 1) / steps_per_year
                elif amount != 0.0:
                    h = h + amount * h / _seq_sum(h)
                    wealth += amount
                    totals["flows"] += amount
                    flow = amount
            elif not ruined:
                # A leveraged loss beyond wealth counts in the gains: accounting closes at 0.
                totals["gains"] -= wealth
                h, wealth = np.zeros(n_assets), 0.0
                ruined, ruin_year = True, (t + 1) / steps_per_year
            if wealth > 0.0:
                # 3. The rule looks at the weights and may trade; costs leave the portfolio.
                w = h * (1.0 / wealth)
                trades, w_new = _rule(kind, t, w, targets[t], params)
                if trades:
                    trade = w_new * wealth - h
                    traded = _seq_sum(np.abs(trade))
                    if traded > _TRADE_TOL * wealth:
                        cost = min(_seq_sum(prop * np.abs(trade)), wealth)
                        totals["costs"] += cost
                        totals["traded"] += 0.5 * traded / wealth
                        totals["n_rebalances"] += 1
                        wealth -= cost
                        h = w_new * wealth
                        if wealth <= 0.0:
                            # Costs took everything left: ruined on this very step.
                            ruined, ruin_year = True, (t + 1) / steps_per_year
            # 4. The unit value moves by the step's return with the flow taken out.
            if start > 0.0:
                unit_returns.append((wealth - flow) / start - 1.0)
            path_wealth.append(wealth)
        r = np.array(unit_returns)
        nav = np.cumprod(1.0 + r)
        if ruined:
            # From the step of ruin to the horizon the unit value is 0 (the money is gone);
            # the volatility stays that of the returns recorded until then.
            k = round(ruin_year * steps_per_year)
            nav = np.concatenate([nav[: k - 1], np.zeros(n_steps - k + 1)])
        m = _path_metrics(r, nav, years, steps_per_year)
        m["terminal_wealth"] = wealth
        m["turnover"] = totals["traded"] / years
        m["costs"] = totals["costs"]
        m["flows"] = totals["flows"]
        m["gains"] = totals["gains"]
        m["n_rebalances"] = totals["n_rebalances"]
        m["min_wealth"] = min(path_wealth)
        m["ruined"] = float(ruined)
        m["ruin_year"] = ruin_year
        m["loss"] = float(ruined or wealth < initial_wealth + totals["flows"])
        for k in REF_METRICS:
            out[k][p] = m[k]
        out["wealth"][p] = path_wealth
    return out


def reference_for_plan(plan, returns: np.ndarray) -> list[dict[str, np.ndarray]]:
    """:func:`simulate_policy_ref` for every policy of a run plan (``mcsim.plan.prepare``).

    ``returns`` of shape (n_paths, n_steps, n_assets) are the plan's simulated returns (no
    inflation series). Only proportional costs are modelled.
    """
    sim = plan.scenario.simulation
    out = []
    for pol in plan.policies:
        if pol.rebalance_nb is not None:
            raise NotImplementedError("custom rules have no reference here")
        out.append(
            simulate_policy_ref(
                returns,
                kind=pol.kind,
                params=pol.params,
                w_init=pol.w_init,
                targets=pol.targets,
                proportional=plan.asset_params[:, layout.AP_PROPORTIONAL],
                flows=plan.flows,
                initial_wealth=float(sim.initial_wealth),
                steps_per_year=float(sim.steps_per_year),
            )
        )
    return out
