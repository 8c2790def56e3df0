"""One policy along a block of return paths: market moves, flows, trades, costs, metrics.

The two entry points differ only in how they call the policy: ``simulate_policy_builtin_nb``
calls the registry's dispatch (``_registry.consult_builtin_nb``) as a global, so it is
cached; ``simulate_policy_custom_nb`` takes a user's compiled rule as an argument (a
higher-order kernel, never cached). Everything else is shared: one set-up kernel (inlined),
:func:`start_run_nb`, builds the workspace (:class:`Workspace`), the run's flags
(:class:`RunFlags`) and the inputs as borrowed views (:class:`RunInputs`, see
``_memory.py``), and the per-path loop is the same four inlined phases in both entry kernels
(:func:`begin_path_nb`, :func:`begin_step_nb`, the decision, :func:`finish_step_nb`,
:func:`end_path_nb`), so each entry kernel is a dozen lines around its one call of the rule.

Why not one loop kernel taking the decision as an argument: a kernel that receives a
function is not cacheable, and dispatching on the argument's type with an inlined
``numba.extending.overload`` miscompiled the rules inlined into it (numba 0.68: CPPI and
volatility targeting gave wrong numbers), so the loop is spelled out twice around the
shared phases instead.

Order of events in step ``t`` (0-based): the market moves holdings by the step's returns;
the scheduled external flow is paid in or out; the policy looks at the weights and may trade
(costs are paid from the portfolio); the step's unit-value return, drawdown, wealth sketch and
sample path are recorded.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from ._costs import adv_grows_nb, execution_costs_nb, pending_weights_nb
from ._flows import flow_table_nb, place_flow_nb, scheduled_flow_nb
from ._layout import (
    A_FLOW_STEP,
    A_NAV,
    A_PEAK_NAV,
    A_PENDING,
    A_PRICE_INDEX,
    A_RF_ON,
    A_RF_STEP,
    A_RUIN_PEAK,
    A_START_WEALTH,
    A_TRADED,
    A_UNDER,
    A_WEALTH,
    AP_DIVIDEND_STEP,
    AP_FIXED_FEE,
    AP_HALF_SPREAD,
    AP_IMPACT_ETA,
    AP_PARTICIPATION,
    AP_PROPORTIONAL,
    AP_SLIPPAGE,
    EP_FLOW_MODE,
    EP_RISK_FREE,
    M_COST_FIXED,
    M_COST_PROPORTIONAL,
    M_COST_SPREAD,
    M_COSTS,
    M_DIVIDENDS,
    M_FLOWS,
    M_GAINS,
    M_MIN_WEALTH,
    M_N_REBALANCES,
    M_POLICY_EVENTS,
    M_RUIN_YEAR,
    M_RUINED,
    N_ACC,
    N_LOT_FIELDS,
    N_TAX_STATE,
    STATE_EVENTS,
    TS_PRICE,
    TX_ENABLED,
    TX_HAS_DIVIDENDS,
    TX_MAX_LOTS,
    TX_TRACK_PRICES,
)
from ._memory import borrow_nb, fixed_fields_nb, njit_no_refcount
from ._policies import weights_nb
from ._registry import consult_builtin_nb, lazy_weights_nb, ruin_event_nb
from ._stats import (
    finish_path_nb,
    histogram_bin_nb,
    record_excess_return_nb,
    record_unit_return_nb,
)
from ._tax_account import (
    after_market_nb,
    after_trading_nb,
    before_trading_nb,
    light_tracking_nb,
    start_account_nb,
    year_end_nb,
)
from ._trades import shape_trades_for_nb

# Trades below this fraction of wealth are rounding noise, not rebalances.
_TRADE_TOL = 1e-12


@njit(cache=True)
def start_path_nb(
    h, w_init, initial_wealth, state, state0, acc, grid_steps, hist_lo, inv_width, hist
):
    """Reset the per-path arrays and record the start on the grid; returns the grid cursor."""
    for i in range(h.size):
        h[i] = w_init[i] * initial_wealth
    # Element by element: a slice assignment compiles numpy's shape-mismatch error message
    # (string formatting, about 4 s of a cold compile); ``state`` is shaped like ``state0``.
    for j in range(state0.size):
        state[j] = state0[j]
    acc[:] = 0.0
    acc[A_WEALTH] = initial_wealth
    acc[A_START_WEALTH] = initial_wealth
    acc[A_NAV] = 1.0
    acc[A_PEAK_NAV] = 1.0
    acc[A_PRICE_INDEX] = 1.0
    acc[M_MIN_WEALTH] = initial_wealth
    acc[M_RUIN_YEAR] = np.nan
    if grid_steps.size > 0 and grid_steps[0] == 0:
        start_bin = histogram_bin_nb(0.0, hist_lo, inv_width, hist.shape[1])
        hist[0, start_bin] += 1
        if hist.shape[0] > grid_steps.size:
            hist[grid_steps.size, start_bin] += 1
        return 1
    return 0


@njit_no_refcount
def ruin_nb(t, h, steps_per_year, acc):
    """Wealth ran out at the end of step ``t``: empty the portfolio and stop all flows.

    A leveraged loss beyond wealth is counted in the market gains, so accounting closes at
    zero wealth. The elapsed steps at the unit value's last peak before step ``t`` are kept
    for the drawdown duration of a ruined path (under water from there to the horizon).
    """
    wealth = acc[A_WEALTH]
    if wealth < 0.0:
        acc[M_GAINS] -= wealth
    for i in range(h.size):
        h[i] = 0.0
    acc[A_WEALTH] = 0.0
    if acc[M_RUINED] == 0.0:
        acc[M_RUINED] = 1.0
        acc[M_RUIN_YEAR] = (t + 1) / steps_per_year
        acc[A_RUIN_PEAK] = t - acc[A_UNDER]


@njit(cache=True, inline="always")
def book_market_move_nb(wealth, inflation_t, acc):
    """Record a step's market move in ``acc``: wealth after it (currency), the step's start
    wealth and gain, and the consumer price index."""
    before = acc[A_WEALTH]
    acc[A_START_WEALTH] = before
    acc[A_FLOW_STEP] = 0.0
    acc[A_PRICE_INDEX] *= 1.0 + inflation_t
    acc[M_GAINS] += wealth - before
    acc[A_WEALTH] = wealth


@njit(cache=True, inline="always")
def market_step_nb(t, h, r_path, inflation_t, acc):
    """Grow holdings by the simple returns of step ``t``; returns wealth after the move.

    Kept minimal: it runs on every step of every path. The step's market gain is the change
    in wealth (one running sum instead of two). The caller handles ruin.
    """
    wealth = 0.0
    for i in range(h.size):
        h[i] += h[i] * r_path[t, i]
        wealth += h[i]
    book_market_move_nb(wealth, inflation_t, acc)
    return wealth


@njit(cache=True, inline="always")
def market_step_light_nb(t, h, r_path, inflation_t, asset_params, tax_state, prices, acc):
    """:func:`market_step_nb` for light price tracking (``_tax_account.light_tracking_nb``): also
    returns the step's dividends (currency), ``yield / steps_per_year`` of each asset's
    start-of-step value (nothing for an asset whose return wipes it out), and with
    ``prices`` moves the price index of vehicle 0 as :func:`_tax_account.after_market_nb` does
    (by ``1 + r - yield / steps_per_year``). One pass over the holdings. Returns
    ``(wealth, dividends)``."""
    wealth = 0.0
    paid = 0.0
    for i in range(h.size):
        r = r_path[t, i]
        dy = asset_params[i, AP_DIVIDEND_STEP]
        d = h[i] * dy
        paid += d if r > -1.0 else 0.0
        h[i] += h[i] * r
        wealth += h[i]
        if prices:
            # Only vehicle 0: an untaxed account holds no substitute.
            tax_state[i, TS_PRICE] *= (1.0 + r) - dy
    book_market_move_nb(wealth, inflation_t, acc)
    return wealth, paid


# A compiled kernel, not inlined, for the reason given at rebalance_step_nb: only loops
# with ``frictions`` call it, and a call per step of a run with flows costs little.
@njit_no_refcount
def flow_step_nb(t, h, target, flows, flow_table, tabled, flow_mode, steps_per_year, acc):
    """Pay the step's scheduled flow; a withdrawal larger than wealth ruins the path.

    With ``tabled`` the amount is ``flow_table[t]`` (see :func:`flow_table_nb`).
    """
    wealth = acc[A_WEALTH]
    if tabled:
        amount = flow_table[t]
    else:
        amount = scheduled_flow_nb(t, wealth, acc[A_PRICE_INDEX], flows, steps_per_year)
    if amount == 0.0:
        return wealth
    if amount <= -wealth:
        acc[M_FLOWS] -= wealth
        acc[A_FLOW_STEP] = -wealth
        ruin_nb(t, h, steps_per_year, acc)
        return 0.0
    place_flow_nb(h, amount, target, flow_mode)
    wealth += amount
    acc[M_FLOWS] += amount
    acc[A_FLOW_STEP] = amount
    acc[A_WEALTH] = wealth
    return wealth


# Compiled, not inlined, for the reason given at rebalance_step_nb (only loops with
# ``frictions`` call it).
@njit_no_refcount
def track_prices_nb(t, h, r_path, noise_key, asset_params, tax_params, target, flow_mode,
                    tax_state, acc):  # fmt: skip
    """``_tax_account.after_market_nb`` (price indices, substitute tracking, dividends after
    the market move of step ``t``) as a compiled kernel; returns wealth after it."""
    return after_market_nb(
        t, h, r_path, noise_key, asset_params, tax_params, target, flow_mode, tax_state, acc
    )


@njit(cache=True, inline="always")
def target_row_nb(targets, t, target):
    """Copy row ``t`` of ``targets`` into ``target`` (no array view in the step loop)."""
    for i in range(target.size):
        target[i] = targets[t, i]


@njit_no_refcount
def targets_constant_nb(targets):
    """True when every row of ``targets`` equals the first (no glide path): the step loop
    then copies the target once instead of on every due step."""
    for t in range(1, targets.shape[0]):
        for i in range(targets.shape[1]):
            if targets[t, i] != targets[0, i]:
                return False
    return True


# The two rebalances beyond plain execution are compiled kernels, not inlined: a step loop
# calls one of them only under its literal ``frictions`` flag, so a loop without it (the
# plain feature set) prunes the call before typing without first copying the trade
# shaping, the execution costs and the lot booking into its IR (Numba inlines a function's
# whole tree before pruning). They run on rebalances only, where a call costs little.
@njit_no_refcount
def rebalance_step_nb(
    t,
    h,
    w_new,
    asset_params,
    tax_params,
    exec_params,
    noise_key,
    tax_state,
    lots,
    acc,
    trade,
    gains,
):
    """Trade holdings to weights ``w_new``, pay costs from the portfolio, count turnover.

    After costs the holdings are exactly ``w_new`` times the remaining wealth, unless the
    trade was shaped first (tax-aware rules, participation cap: ``shape_trades_nb``); the
    tax lots then book the purchases and sales. Returns wealth after the trade (currency).
    """
    return rebalance_step_for_nb(
        t, h, w_new, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc,
        trade, gains, True,
    )  # fmt: skip


@njit_no_refcount
def rebalance_step_untaxed_nb(
    t, h, w_new, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc,
    trade, gains,
):  # fmt: skip
    """:func:`rebalance_step_nb` for an untaxed loop: the tax-aware shaping and the lot
    booking are pruned before typing (never compiled)."""
    return rebalance_step_for_nb(
        t, h, w_new, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc,
        trade, gains, False,
    )  # fmt: skip


@njit(cache=True, inline="always")
def rebalance_step_for_nb(
    t, h, w_new, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc,
    trade, gains, taxes,
):  # fmt: skip
    """:func:`rebalance_step_nb` with the literal ``taxes``: False prunes the tax-aware
    shaping and the lot booking before typing (:func:`rebalance_step_untaxed_nb`)."""
    wealth = acc[A_WEALTH]
    traded = 0.0
    for i in range(h.size):
        trade[i] = w_new[i] * wealth - h[i]
        traded += abs(trade[i])
    if traded <= _TRADE_TOL * wealth:
        acc[A_PENDING] = 0.0
        return wealth
    done = shape_trades_for_nb(
        t, trade, w_new, wealth, asset_params, tax_params, exec_params, tax_state, lots, acc,
        gains, taxes,
    )  # fmt: skip
    if done <= _TRADE_TOL * wealth:
        return wealth
    cost = execution_costs_nb(t, trade, asset_params, noise_key, tax_state, acc)
    cost = min(cost, wealth)
    if done == traded:
        wealth -= cost
        for i in range(h.size):
            h[i] = w_new[i] * wealth
    else:
        scale = (wealth - cost) / wealth
        for i in range(h.size):
            h[i] = (h[i] + trade[i]) * scale
        wealth -= cost
    acc[M_COSTS] += cost
    acc[A_TRADED] += 0.5 * done / acc[A_WEALTH]
    acc[M_N_REBALANCES] += 1.0
    acc[A_WEALTH] = wealth
    if taxes:
        after_trading_nb(t, h, tax_params, exec_params, tax_state, lots, acc, gains)
    return wealth


@njit_no_refcount
def plain_execution_nb(asset_params, tax_params):
    """True when trades need no shaping or bookkeeping: untaxed, no participation cap, no
    impact, no slippage. Rebalances then take :func:`rebalance_plain_nb`."""
    if tax_params[TX_ENABLED] > 0.0:
        return False
    for i in range(asset_params.shape[0]):
        if (
            np.isfinite(asset_params[i, AP_PARTICIPATION])
            or asset_params[i, AP_IMPACT_ETA] > 0.0
            or asset_params[i, AP_SLIPPAGE] > 0.0
        ):
            return False
    return True


@njit(cache=True, inline="always")
def _plain_trade_nb(i, h, w_new, wealth, asset_params, trade):
    """Trade of asset ``i`` to ``w_new[i]`` into ``trade``; returns its size and its
    proportional, fixed and spread costs (currency)."""
    d = w_new[i] * wealth - h[i]
    trade[i] = d
    a = abs(d)
    fixed = asset_params[i, AP_FIXED_FEE] if a > 0.0 else 0.0
    return a, asset_params[i, AP_PROPORTIONAL] * a, fixed, asset_params[i, AP_HALF_SPREAD] * a


@njit_no_refcount
def rebalance_plain_nb(h, w_new, asset_params, acc, trade):
    """:func:`rebalance_step_nb` for plain execution (see :func:`plain_execution_nb`): the
    same trade and costs, without the work that taxes, caps, impact and slippage need.

    Every rebalance of an untaxed, frictionless-beyond-fees policy runs this, so the sums
    over assets are split in two (even and odd assets) to halve their chains of dependent
    additions.
    """
    n = h.size
    wealth = acc[A_WEALTH]
    traded0 = 0.0
    traded1 = 0.0
    prop0 = 0.0
    prop1 = 0.0
    fixed0 = 0.0
    fixed1 = 0.0
    spread0 = 0.0
    spread1 = 0.0
    i = 0
    while i + 1 < n:
        a, p, f, c = _plain_trade_nb(i, h, w_new, wealth, asset_params, trade)
        traded0 += a
        prop0 += p
        fixed0 += f
        spread0 += c
        a, p, f, c = _plain_trade_nb(i + 1, h, w_new, wealth, asset_params, trade)
        traded1 += a
        prop1 += p
        fixed1 += f
        spread1 += c
        i += 2
    if i < n:
        a, p, f, c = _plain_trade_nb(i, h, w_new, wealth, asset_params, trade)
        traded0 += a
        prop0 += p
        fixed0 += f
        spread0 += c
    traded = traded0 + traded1
    if traded <= _TRADE_TOL * wealth:
        return wealth
    proportional = prop0 + prop1
    fixed = fixed0 + fixed1
    spread = spread0 + spread1
    acc[M_COST_PROPORTIONAL] += proportional
    acc[M_COST_FIXED] += fixed
    acc[M_COST_SPREAD] += spread
    cost = min(proportional + fixed + spread, wealth)
    before = wealth
    wealth -= cost
    for i in range(n):
        h[i] = w_new[i] * wealth
    acc[M_COSTS] += cost
    acc[A_TRADED] += 0.5 * traded / before
    acc[M_N_REBALANCES] += 1.0
    acc[A_WEALTH] = wealth
    return wealth


@njit(cache=True, inline="always")
def end_step_nb(acc):
    """Record the step's unit-value return (and its excess over the risk-free asset's
    return ``acc[A_RF_STEP]`` when the path records one), drawdown and minimum wealth."""
    wealth = acc[A_WEALTH]
    start = acc[A_START_WEALTH]
    if start > 0.0:
        r = (wealth - acc[A_FLOW_STEP]) / start - 1.0
        record_unit_return_nb(r, acc)
        if acc[A_RF_ON] > 0.0:
            record_excess_return_nb(r - acc[A_RF_STEP], acc)
    if wealth < acc[M_MIN_WEALTH]:
        acc[M_MIN_WEALTH] = wealth


@njit_no_refcount
def record_grid_nb(g, wealth, initial_wealth, hist_lo, inv_width, hist):
    """Add the path's wealth at grid point ``g`` to the histogram sketch."""
    x = np.log(wealth / initial_wealth) if wealth > 0.0 else -np.inf
    hist[g, histogram_bin_nb(x, hist_lo, inv_width, hist.shape[1])] += 1


@njit_no_refcount
def finish_policy_path_nb(acc, state, initial_wealth, n_steps, steps_per_year, goal, out_row):
    """Write the path's metrics; ``state[STATE_EVENTS]`` is the policy's own event count
    (its declared event metric, e.g. CPPI's floor breaches)."""
    acc[M_POLICY_EVENTS] = state[STATE_EVENTS]
    finish_path_nb(acc, initial_wealth, n_steps, steps_per_year, goal, out_row)


class Workspace(NamedTuple):
    """The step loop's scratch arrays, shaped for one block and reset on every path."""

    h: np.ndarray  # holdings (currency per asset)
    w: np.ndarray  # current weights, shown to the rule
    w_new: np.ndarray  # weights the rule trades to
    target: np.ndarray  # target weights of the step
    trade: np.ndarray  # trade per asset (currency)
    state: np.ndarray  # the rule's per-path state
    acc: np.ndarray  # per-path accumulator (``layout.A_*``, ``layout.M_*``)
    tax_state: np.ndarray  # (n_assets, N_TAX_STATE), ``layout.TS_*``
    lots: np.ndarray  # (n_assets, max_lots, N_LOT_FIELDS), ``layout.LOT_*``
    gains: np.ndarray  # realised gains (2) and the sale keys of one asset's lots
    flow_table: np.ndarray  # flow per step when the schedule is tabled (else empty)
    no_keep: np.ndarray  # the kept-path row of paths that are not kept (empty)


class RunFlags(NamedTuple):
    """What the step loop of a block needs to do, decided once per block."""

    kind: int  # the built-in rule's kind, -1 for a custom rule
    check_every: int  # steps between consultations of the rule
    first_due: int  # elapsed steps at the first consultation
    has_flows: bool  # the run has scheduled external flows
    tabled: bool  # their amounts are known in advance (``flow_table_nb``)
    flow_mode: int  # where flows go, ``layout.FLOW_*``
    plain: bool  # rebalances take ``rebalance_plain_nb``
    taxed: bool  # a taxable account is kept
    track_prices: bool  # per-asset price indices are needed
    light: bool  # ``_tax_account.after_market_nb``'s per-step work is skipped
    light_dividends: bool  # ... and the market step counts dividends
    step_prices: bool  # ... and moves the price indices (ADV grows)
    static_target: bool  # no glide path: ``target`` is set once
    lazy_weights: bool  # the rule's consultation computes the weights itself
    risk_free: int  # asset index of the risk-free series (``layout.EP_RISK_FREE``), -1 = none


class RunInputs(NamedTuple):
    """The block's inputs as borrowed views (see ``_memory.py``), and its scalars; the
    arguments of the entry kernels of the same names."""

    params: np.ndarray
    state0: np.ndarray
    exec_params: np.ndarray
    w_init: np.ndarray
    targets: np.ndarray
    returns: np.ndarray
    inflation: np.ndarray
    noise_keys: np.ndarray
    asset_params: np.ndarray
    flows: np.ndarray
    tax_params: np.ndarray
    grid_steps: np.ndarray
    out_metrics: np.ndarray
    out_hist: np.ndarray
    out_wealth: np.ndarray
    initial_wealth: float
    steps_per_year: float
    goal: float
    hist_lo: float
    inv_width: float


@njit(cache=True)
def allocate_workspace_nb(n_assets, n_steps, state0, has_flows, tax_params):
    """The step loop's scratch arrays as a :class:`Workspace` of owning arrays (the loop
    works on borrowed views of them, :func:`borrow_workspace_nb`)."""
    lots = np.zeros((n_assets, max(1, int(tax_params[TX_MAX_LOTS])), N_LOT_FIELDS))
    return Workspace(
        h=np.empty(n_assets),
        w=np.empty(n_assets),
        w_new=np.empty(n_assets),
        target=np.empty(n_assets),
        trade=np.empty(n_assets),
        state=np.empty_like(state0),
        acc=np.empty(N_ACC),
        tax_state=np.zeros((n_assets, N_TAX_STATE)),
        lots=lots,
        # Realised gains (2) and the sale keys of one asset's lots (_lots.sell_lots_nb).
        gains=np.zeros(2 + lots.shape[1]),
        flow_table=np.zeros(n_steps if has_flows else 0),
        no_keep=np.empty(0),
    )


@njit(cache=True, inline="always")
def borrow_workspace_nb(own):
    """Borrowed views of a workspace's owning arrays; ``own`` must outlive them."""
    return Workspace(
        h=borrow_nb(own.h),
        w=borrow_nb(own.w),
        w_new=borrow_nb(own.w_new),
        target=borrow_nb(own.target),
        trade=borrow_nb(own.trade),
        state=borrow_nb(own.state),
        acc=borrow_nb(own.acc),
        tax_state=borrow_nb(own.tax_state),
        lots=fixed_fields_nb(own.lots, N_LOT_FIELDS),
        gains=borrow_nb(own.gains),
        flow_table=borrow_nb(own.flow_table),
        no_keep=borrow_nb(own.no_keep),
    )


# Inlined into both entry kernels: called as a compiled function, its borrowed views came
# back through a returned struct and the step loop ran three times slower (W1 measured).
@njit(cache=True, inline="always")
def start_run_nb(
    kind, check_every, check_offset, params, state0, exec_params, w_init, targets, returns,
    inflation, noise_keys, asset_params, flows, tax_params, initial_wealth, steps_per_year,
    goal, grid_steps, hist_lo, hist_width, out_metrics, out_hist, out_wealth,
):  # fmt: skip
    """The set-up of a block shared by both entry kernels: the workspace, the run's flags
    and the inputs as borrowed views. Returns ``(own, ws, run, inp)``: the owning
    :class:`Workspace` (the caller holds it until the loop is done), its borrowed views,
    the :class:`RunFlags` and the :class:`RunInputs`. ``kind`` is -1 for a custom rule; the
    other arguments are the entry kernels'.

    ``plain``: rebalances take :func:`rebalance_plain_nb`. ``light``: the per-step work of
    ``_tax_account.after_market_nb`` is skipped (``_tax_account.light_tracking_nb``); the
    market step (:func:`market_step_light_nb`) then counts dividends (``light_dividends``)
    and, when ADV grows, moves the price indices (``step_prices``). ``static_target``: no
    glide path; the target is then copied into the workspace here, once.
    """
    return start_run_for_nb(
        kind, check_every, check_offset, params, state0, exec_params, w_init, targets,
        returns, inflation, noise_keys, asset_params, flows, tax_params, initial_wealth,
        steps_per_year, goal, grid_steps, hist_lo, hist_width, out_metrics, out_hist,
        out_wealth, True,
    )  # fmt: skip


@njit(cache=True, inline="always")
def start_run_for_nb(
    kind, check_every, check_offset, params, state0, exec_params, w_init, targets, returns,
    inflation, noise_keys, asset_params, flows, tax_params, initial_wealth, steps_per_year,
    goal, grid_steps, hist_lo, hist_width, out_metrics, out_hist, out_wealth, frictions,
):  # fmt: skip
    """:func:`start_run_nb` for a feature set: without ``frictions`` (a literal False) the
    run has no flows (``_feature_sets``), so their table is not built (nor compiled)."""
    n_steps, n_assets = returns.shape[1], returns.shape[2]
    has_flows = flows.shape[0] > 0
    own = allocate_workspace_nb(n_assets, n_steps, state0, has_flows, tax_params)
    tabled = frictions and has_flows and flow_table_nb(flows, steps_per_year, own.flow_table)
    static_target = targets_constant_nb(targets)
    if static_target:
        target_row_nb(targets, 0, own.target)
    light = tax_params[TX_TRACK_PRICES] > 0.0 and light_tracking_nb(asset_params, tax_params)
    run = RunFlags(
        kind=kind,
        check_every=check_every,
        first_due=check_offset if check_offset > 0 else check_every,
        has_flows=has_flows,
        tabled=tabled,
        flow_mode=int(exec_params[EP_FLOW_MODE]),
        plain=plain_execution_nb(asset_params, tax_params),
        taxed=tax_params[TX_ENABLED] > 0.0,
        track_prices=tax_params[TX_TRACK_PRICES] > 0.0,
        light=light,
        light_dividends=light and tax_params[TX_HAS_DIVIDENDS] > 0.0,
        step_prices=light and adv_grows_nb(asset_params),
        static_target=static_target,
        lazy_weights=kind >= 0 and lazy_weights_nb(kind),
        risk_free=int(exec_params[EP_RISK_FREE]),
    )
    # Borrowed views: no reference counting in the step loop (see _memory.py).
    inp = RunInputs(
        params=borrow_nb(params),
        state0=borrow_nb(state0),
        exec_params=borrow_nb(exec_params),
        w_init=borrow_nb(w_init),
        targets=borrow_nb(targets),
        returns=borrow_nb(returns),
        inflation=borrow_nb(inflation),
        noise_keys=borrow_nb(noise_keys),
        asset_params=borrow_nb(asset_params),
        flows=borrow_nb(flows),
        tax_params=borrow_nb(tax_params),
        grid_steps=borrow_nb(grid_steps),
        out_metrics=borrow_nb(out_metrics),
        out_hist=borrow_nb(out_hist),
        out_wealth=borrow_nb(out_wealth),
        initial_wealth=initial_wealth,
        steps_per_year=steps_per_year,
        goal=goal,
        hist_lo=hist_lo,
        inv_width=1.0 / hist_width,
    )
    return own, borrow_workspace_nb(own), run, inp


@njit(cache=True, inline="always")
def before_decision_nb(t, due, r_path, inflation_t, noise_key, run, inp, ws):
    """Step ``t`` up to the policy's decision: market move, dividends and price tracking,
    the scheduled flow, then (while wealth is left) tax work before trading and, on a due
    step, the current weights. Returns ``(wealth, live)``; ``live`` is False once wealth ran
    out before trading."""
    return before_decision_for_nb(t, due, r_path, inflation_t, noise_key, run, inp, ws, True, True)


@njit(cache=True, inline="always")
def before_decision_for_nb(t, due, r_path, inflation_t, noise_key, run, inp, ws, frictions, taxes):
    """:func:`before_decision_nb` for a feature set. ``frictions`` and ``taxes`` are the
    literal flags of the calling loop (``_loops.py``): a False one prunes the price
    tracking, dividends and costs beyond fees (``frictions``) or the tax account
    (``taxes``) before typing; True leaves the choice to the run's flags. Scheduled flows
    go with ``frictions`` (the plain feature set has none)."""
    h = ws.h
    acc = ws.acc
    # With light price tracking, reinvested dividends are counted from the start-of-step
    # holdings (their definition), before the market moves them.
    if frictions and (run.light_dividends or run.step_prices):
        wealth, dividends = market_step_light_nb(
            t, h, r_path, inflation_t, inp.asset_params, ws.tax_state, run.step_prices, acc
        )
    else:
        dividends = 0.0
        wealth = market_step_nb(t, h, r_path, inflation_t, acc)
    if (due or run.has_flows or (frictions and run.track_prices)) and not run.static_target:
        target_row_nb(inp.targets, t, ws.target)
    if frictions and run.light:
        if wealth > 0.0 and dividends > 0.0:
            acc[M_DIVIDENDS] += dividends
    elif frictions and run.track_prices and wealth > 0.0:
        wealth = track_prices_nb(
            t, h, r_path, noise_key, inp.asset_params, inp.tax_params, ws.target,
            run.flow_mode, ws.tax_state, acc,
        )  # fmt: skip
    if frictions and run.has_flows and wealth > 0.0:
        wealth = flow_step_nb(
            t, h, ws.target, inp.flows, ws.flow_table, run.tabled, run.flow_mode,
            inp.steps_per_year, acc,
        )  # fmt: skip
    live = wealth > 0.0
    if live:
        if taxes and run.taxed:
            wealth = before_trading_nb(
                t, h, inp.asset_params, inp.tax_params, inp.exec_params, noise_key,
                ws.tax_state, ws.lots, acc, ws.gains,
            )  # fmt: skip
        if due and not run.lazy_weights:
            weights_nb(h, wealth, ws.w)
    return wealth, live


@njit(cache=True, inline="always")
def after_decision_nb(traded, t, n_steps, noise_key, run, inp, ws):
    """Step ``t`` after the decision: trade to ``ws.w_new`` when the policy traded (or to
    the carried weights of a capped trade), then the year-end tax settlement.

    Costs and taxes are capped at the wealth they are paid from; one that takes all of it
    ruins the path on this step (else ruin would show a step late, or never after the
    last step)."""
    after_decision_for_nb(traded, t, n_steps, noise_key, run, inp, ws, True, True)


@njit(cache=True, inline="always")
def after_decision_for_nb(traded, t, n_steps, noise_key, run, inp, ws, frictions, taxes):
    """:func:`after_decision_nb` for a feature set (see :func:`before_decision_for_nb`).
    Without ``frictions`` every rebalance is plain and no trade is ever carried (only the
    participation cap carries one), so the carried-trade check is pruned too."""
    h = ws.h
    acc = ws.acc
    if traded or (
        frictions and acc[A_PENDING] > 0.0 and pending_weights_nb(ws.tax_state, acc, ws.w_new)
    ):
        if frictions and not run.plain:
            if taxes:
                wealth = rebalance_step_nb(
                    t, h, ws.w_new, inp.asset_params, inp.tax_params, inp.exec_params,
                    noise_key, ws.tax_state, ws.lots, acc, ws.trade, ws.gains,
                )  # fmt: skip
            else:
                wealth = rebalance_step_untaxed_nb(
                    t, h, ws.w_new, inp.asset_params, inp.tax_params, inp.exec_params,
                    noise_key, ws.tax_state, ws.lots, acc, ws.trade, ws.gains,
                )  # fmt: skip
        else:
            wealth = rebalance_plain_nb(h, ws.w_new, inp.asset_params, acc, ws.trade)
        if wealth <= 0.0:
            ruin_nb(t, h, inp.steps_per_year, acc)
    if taxes and run.taxed:
        wealth = year_end_nb(
            t, n_steps, h, inp.tax_params, inp.exec_params, ws.tax_state, ws.lots, acc, ws.gains
        )
        if wealth <= 0.0 and acc[M_RUINED] == 0.0:
            ruin_nb(t, h, inp.steps_per_year, acc)


@njit_no_refcount
def ruin_step_nb(kind, t, r_path, wealth, params, state, steps_per_year, h, acc):
    """Step ``t`` of a path without wealth left: ruin it if a flow has not already, and on
    the step of ruin itself (the step started with wealth) let a rule that declares a ruin
    event count it (``_registry.ruin_event_nb``: CPPI's floor breach), as it would have
    with any wealth left. ``kind`` is -1 for a custom rule.

    Only paths that have run out of money come here, so the common step pays nothing.
    """
    if acc[M_RUINED] == 0.0:
        ruin_nb(t, h, steps_per_year, acc)
    if acc[A_START_WEALTH] > 0.0:
        ruin_event_nb(kind, t, r_path, wealth, params, state)


@njit(cache=True, inline="always")
def end_of_step_nb(t, g, acc, grid_steps, initial_wealth, hist_lo, inv_width, hist, keep):
    """Record step ``t`` (unit value, drawdown, grid sketch, kept path); returns the grid
    cursor.

    A sketch with twice the grid's rows also records real wealth (wealth over the price
    index, in the money of the start) in its second half: the run simulates inflation."""
    end_step_nb(acc)
    if g < grid_steps.size and grid_steps[g] == t + 1:
        record_grid_nb(g, acc[A_WEALTH], initial_wealth, hist_lo, inv_width, hist)
        if hist.shape[0] > grid_steps.size:
            real = acc[A_WEALTH] / acc[A_PRICE_INDEX]
            record_grid_nb(g + grid_steps.size, real, initial_wealth, hist_lo, inv_width, hist)
        g += 1
    if keep.size > 0:
        keep[t + 1] = acc[A_WEALTH]
    return g


@njit(cache=True, inline="always")
def begin_path_nb(p, run, inp, ws):
    """Start path ``p``: reset the workspace and the tax account, record the start. Returns
    ``(g, next_due, keep, r_path, noise_key)``: the grid cursor, the elapsed steps at the
    first consultation, the path's row of kept wealth (empty if not kept), its returns and
    its execution-noise key."""
    return begin_path_for_nb(p, run, inp, ws, True)


@njit(cache=True, inline="always")
def begin_path_for_nb(p, run, inp, ws, frictions):
    """:func:`begin_path_nb` for a feature set: without ``frictions`` (a literal False)
    nothing reads the tax account's state, so it is not reset (nor compiled)."""
    g = start_path_nb(
        ws.h, inp.w_init, inp.initial_wealth, ws.state, inp.state0, ws.acc, inp.grid_steps,
        inp.hist_lo, inp.inv_width, inp.out_hist,
    )  # fmt: skip
    if frictions:
        start_account_nb(ws.h, inp.tax_params, ws.tax_state, ws.lots)
    if run.risk_free >= 0:
        ws.acc[A_RF_ON] = 1.0
    kept = p < inp.out_wealth.shape[0]
    keep = inp.out_wealth[p] if kept else ws.no_keep
    if kept:
        keep[0] = inp.initial_wealth
    return g, run.first_due, keep, inp.returns[p], inp.noise_keys[p]


@njit(cache=True, inline="always")
def begin_step_nb(t, next_due, p, r_path, noise_key, run, inp, ws):
    """Step ``t`` up to the decision (:func:`before_decision_nb`). Returns ``(due,
    next_due, wealth, live)``: whether the rule is consulted on this step, the countdown
    moved on, and the wealth and liveness the decision sees."""
    return begin_step_for_nb(t, next_due, p, r_path, noise_key, run, inp, ws, True, True)


@njit(cache=True, inline="always")
def begin_step_for_nb(t, next_due, p, r_path, noise_key, run, inp, ws, frictions, taxes):
    """:func:`begin_step_nb` for a feature set (see :func:`before_decision_for_nb`)."""
    due = t + 1 == next_due
    if due:
        next_due += run.check_every
    if run.risk_free >= 0:
        ws.acc[A_RF_STEP] = r_path[t, run.risk_free]
    wealth, live = before_decision_for_nb(
        t, due, r_path, inp.inflation[p, t], noise_key, run, inp, ws, frictions, taxes
    )
    return due, next_due, wealth, live


@njit(cache=True, inline="always")
def finish_step_nb(traded, live, t, g, wealth, r_path, noise_key, keep, run, inp, ws):
    """Step ``t`` after the decision: the trade and year-end taxes of a live path
    (:func:`after_decision_nb`), or the ruin of one without wealth (:func:`ruin_step_nb`),
    then the step's records. Returns the grid cursor."""
    return finish_step_for_nb(
        traded, live, t, g, wealth, r_path, noise_key, keep, run, inp, ws, True, True
    )


@njit(cache=True, inline="always")
def finish_step_for_nb(
    traded, live, t, g, wealth, r_path, noise_key, keep, run, inp, ws, frictions, taxes
):
    """:func:`finish_step_nb` for a feature set (see :func:`before_decision_for_nb`)."""
    n_steps = inp.returns.shape[1]
    if live:
        after_decision_for_nb(traded, t, n_steps, noise_key, run, inp, ws, frictions, taxes)
    else:
        ruin_step_nb(
            run.kind, t, r_path, wealth, inp.params, ws.state, inp.steps_per_year, ws.h, ws.acc
        )
    return end_of_step_nb(
        t, g, ws.acc, inp.grid_steps, inp.initial_wealth, inp.hist_lo, inp.inv_width,
        inp.out_hist, keep,
    )  # fmt: skip


@njit(cache=True, inline="always")
def end_path_nb(p, inp, ws):
    """Write path ``p``'s metrics into ``inp.out_metrics[p]``."""
    finish_policy_path_nb(
        ws.acc, ws.state, inp.initial_wealth, inp.returns.shape[1], inp.steps_per_year,
        inp.goal, inp.out_metrics[p],
    )  # fmt: skip


@njit(cache=True, nogil=True)
def simulate_policy_builtin_nb(
    kind,
    check_every,
    check_offset,
    params,
    state0,
    exec_params,
    w_init,
    targets,
    returns,
    inflation,
    noise_keys,
    asset_params,
    flows,
    tax_params,
    initial_wealth,
    steps_per_year,
    goal,
    grid_steps,
    hist_lo,
    hist_width,
    out_metrics,
    out_hist,
    out_wealth,
):
    """Run the built-in policy ``kind`` along every path of a block. Numba-compiled.

    Parameters
    ----------
    kind : int
        The ``kind`` of a built-in rule's registry entry (``_registry.BUILTIN_RULES``).
    check_every, check_offset : int
        The policy is consulted at the end of steps ``t`` with ``t + 1 = first, first +
        check_every, ...`` where ``first = check_offset`` if it is positive, else
        ``check_every`` (1 = every step). A countdown, not a modulo, keeps this cheap.
    params, state0 : ndarray of shape (n_params,), (n_state,)
        The rule's parameters and the initial value of its per-path state.
    exec_params : ndarray of shape (N_EXEC_PARAMS,)
        Execution settings of the policy (flow placement, harvesting), ``layout.EP_*``.
    w_init : ndarray of shape (n_assets,)
        Weights held at the start (bought before the first step, at no cost).
    targets : ndarray of shape (n_steps, n_assets)
        Target weights per step.
    returns : ndarray of shape (n_paths, n_steps, n_assets)
        Simple returns per step.
    inflation : ndarray of shape (n_paths, n_steps)
        Inflation per step (fraction).
    noise_keys : ndarray of shape (n_paths,), uint64
        Each path's key of the execution-noise generator (``kernels/_noise.py``): slippage
        and the substitute's tracking error draw their normals from it.
    asset_params : ndarray of shape (n_assets, N_ASSET_PARAMS)
        Per-asset frictions, ``layout.AP_*``.
    flows : ndarray of shape (n_flows, N_FLOW_FIELDS)
        Scheduled external flows, ``layout.FL_*``.
    tax_params : ndarray of shape (N_TAX_PARAMS,)
        Tax settings, ``layout.TX_*``.
    initial_wealth, steps_per_year, goal : float
        Wealth at the start and the goal (currency); steps per year.
    grid_steps : ndarray of shape (n_grid,), int64
        Elapsed steps at which wealth enters the sketch (increasing).
    hist_lo, hist_width : float
        Left edge and width of the interior bins of log(wealth / initial_wealth).
    out_metrics : ndarray of shape (n_paths, N_METRICS)
        Overwritten with each path's metrics (``layout.M_*``).
    out_hist : ndarray of shape (n_grid, n_bins) or (2 n_grid, n_bins), int64
        Incremented with the paths' wealth on the grid; with ``2 n_grid`` rows also with
        their real wealth (wealth over the price index) in rows ``n_grid`` and after.
    out_wealth : ndarray of shape (n_keep, n_steps + 1)
        Overwritten with the wealth of the first ``n_keep`` paths (``n_keep`` may be 0).
    """
    own, ws, run, inp = start_run_nb(
        kind, check_every, check_offset, params, state0, exec_params, w_init, targets,
        returns, inflation, noise_keys, asset_params, flows, tax_params, initial_wealth,
        steps_per_year, goal, grid_steps, hist_lo, hist_width, out_metrics, out_hist,
        out_wealth,
    )  # fmt: skip
    n_paths, n_steps, _ = returns.shape
    # The rule's arrays as locals, taken from the named tuples once: a view taken at each
    # call is a new reference for Numba to count on every step.
    h, w, w_new, target, state, params = ws.h, ws.w, ws.w_new, ws.target, ws.state, inp.params
    for p in range(n_paths):
        g, next_due, keep, r_path, noise_key = begin_path_nb(p, run, inp, ws)
        for t in range(n_steps):
            due, next_due, wealth, live = begin_step_nb(
                t, next_due, p, r_path, noise_key, run, inp, ws
            )
            traded = (
                live
                and due
                and consult_builtin_nb(kind, t, r_path, h, w, wealth, target, params, state, w_new)
            )
            g = finish_step_nb(traded, live, t, g, wealth, r_path, noise_key, keep, run, inp, ws)
        end_path_nb(p, inp, ws)
    # ``own`` holds the owning arrays until here, so the borrowed views stay valid.
    return own.h.size


@njit(nogil=True)
def simulate_policy_custom_nb(
    rebalance_nb,
    check_every,
    check_offset,
    params,
    state0,
    exec_params,
    w_init,
    targets,
    returns,
    inflation,
    noise_keys,
    asset_params,
    flows,
    tax_params,
    initial_wealth,
    steps_per_year,
    goal,
    grid_steps,
    hist_lo,
    hist_width,
    out_metrics,
    out_hist,
    out_wealth,
):
    """Run a user's compiled rule ``rebalance_nb`` along every path of a block.

    Same as :func:`simulate_policy_builtin_nb` with ``kind`` replaced by the rule, which has
    the signature ``rebalance_nb(t, returns, w, wealth, target, params, state, w_new) -> bool``.
    Numba-compiled, not cached (it takes a function); the set-up and the step's phases are
    the cached kernels the built-in entry uses.
    """
    own, ws, run, inp = start_run_nb(
        -1, check_every, check_offset, params, state0, exec_params, w_init, targets,
        returns, inflation, noise_keys, asset_params, flows, tax_params, initial_wealth,
        steps_per_year, goal, grid_steps, hist_lo, hist_width, out_metrics, out_hist,
        out_wealth,
    )  # fmt: skip
    n_paths, n_steps, _ = returns.shape
    w, w_new, target, state, params = ws.w, ws.w_new, ws.target, ws.state, inp.params
    for p in range(n_paths):
        g, next_due, keep, r_path, noise_key = begin_path_nb(p, run, inp, ws)
        for t in range(n_steps):
            due, next_due, wealth, live = begin_step_nb(
                t, next_due, p, r_path, noise_key, run, inp, ws
            )
            traded = (
                live and due and rebalance_nb(t, r_path, w, wealth, target, params, state, w_new)
            )
            g = finish_step_nb(traded, live, t, g, wealth, r_path, noise_key, keep, run, inp, ws)
        end_path_nb(p, inp, ws)
    # ``own`` holds the owning arrays until here, so the borrowed views stay valid.
    return own.h.size
