"""One policy along a block of return paths: market moves, flows, trades, costs, metrics.

The two entry points differ only in how they call the policy: ``simulate_policy_builtin_nb``
calls the built-in switch as a global (so it is cached), ``simulate_policy_custom_nb`` takes a
user's compiled rule as an argument (a higher-order kernel, never cached). Every phase of a
step is a cached leaf kernel below, shared by both loops.

Order of events in step ``t`` (0-based): the market moves holdings by the step's returns;
the scheduled external flow is paid in or out; the policy looks at the weights and may trade
(costs are paid from the portfolio); the step's unit-value return, drawdown, wealth sketch and
sample path are recorded.
"""

import numpy as np
from numba import njit

from ._allocation import cppi_floor_nb, cppi_nb, mean_variance_rule_nb, vol_target_nb
from ._costs import execution_costs_nb, pending_weights_nb
from ._flows import flow_table_nb, place_flow_nb, scheduled_flow_nb
from ._layout import (
    A_FLOW_STEP,
    A_NAV,
    A_PEAK_NAV,
    A_PENDING,
    A_PRICE_INDEX,
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
    M_COST_FIXED,
    M_COST_PROPORTIONAL,
    M_COST_SPREAD,
    M_COSTS,
    M_DIVIDENDS,
    M_FLOOR_BREACHES,
    M_FLOWS,
    M_GAINS,
    M_MIN_WEALTH,
    M_N_REBALANCES,
    M_RUIN_YEAR,
    M_RUINED,
    N_ACC,
    N_LOT_FIELDS,
    N_TAX_STATE,
    POLICY_CPPI,
    POLICY_MEAN_VARIANCE,
    POLICY_THRESHOLD,
    POLICY_VOL_TARGET,
    TS_PRICE,
    TX_ENABLED,
    TX_HAS_DIVIDENDS,
    TX_MAX_LOTS,
    TX_TRACK_PRICES,
)
from ._memory import borrow_nb, fixed_fields_nb, njit_no_refcount
from ._policies import band_may_breach_nb, builtin_rebalance_nb, threshold_nb
from ._stats import finish_path_nb, histogram_bin_nb, record_unit_return_nb
from ._taxes import (
    adv_grows_nb,
    after_market_nb,
    after_trading_nb,
    before_trading_nb,
    light_tracking_nb,
    shape_trades_nb,
    start_account_nb,
    year_end_nb,
)

# Trades below this fraction of wealth are rounding noise, not rebalances.
_TRADE_TOL = 1e-12


@njit(cache=True)
def start_path_nb(
    h, w_init, initial_wealth, state, state0, acc, grid_steps, hist_lo, inv_width, hist
):
    """Reset the per-path arrays and record the start on the grid; returns the grid cursor."""
    for i in range(h.size):
        h[i] = w_init[i] * initial_wealth
    state[:] = state0
    acc[:] = 0.0
    acc[A_WEALTH] = initial_wealth
    acc[A_START_WEALTH] = initial_wealth
    acc[A_NAV] = 1.0
    acc[A_PEAK_NAV] = 1.0
    acc[A_PRICE_INDEX] = 1.0
    acc[M_MIN_WEALTH] = initial_wealth
    acc[M_RUIN_YEAR] = np.nan
    if grid_steps.size > 0 and grid_steps[0] == 0:
        hist[0, histogram_bin_nb(0.0, hist_lo, inv_width, hist.shape[1])] += 1
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
    """:func:`market_step_nb` for light price tracking (``_taxes.light_tracking_nb``): also
    returns the step's dividends (currency), ``yield / steps_per_year`` of each asset's
    start-of-step value (nothing for an asset whose return wipes it out), and with
    ``prices`` moves the price index of vehicle 0 as :func:`_taxes.after_market_nb` does
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def weights_nb(h, wealth, w):
    """Current weights ``h / wealth`` into ``w``."""
    inv = 1.0 / wealth
    for i in range(h.size):
        w[i] = h[i] * inv


@njit(cache=True, inline="always")
def consult_builtin_nb(kind, t, r_path, h, w, wealth, target, params, state, w_new):
    """:func:`builtin_rebalance_nb` with the rules consulted on every step inlined (bands,
    volatility targeting, CPPI, mean-variance's rolling window): there a compiled call
    costs more than the rule's work. Band rules get their weights here, and only when the
    holdings may be outside a band (``band_may_breach_nb``); the other rules get them from
    :func:`before_decision_nb`."""
    if kind == POLICY_THRESHOLD:
        if not band_may_breach_nb(h, wealth, target, params):
            return False
        weights_nb(h, wealth, w)
        return threshold_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == POLICY_VOL_TARGET:
        return vol_target_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == POLICY_CPPI:
        return cppi_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == POLICY_MEAN_VARIANCE:
        return mean_variance_rule_nb(t, r_path, w, wealth, target, params, state, w_new)
    return builtin_rebalance_nb(kind, t, r_path, w, wealth, target, params, state, w_new)


@njit(cache=True, inline="always")
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
    tax lots then book the purchases and sales.
    """
    wealth = acc[A_WEALTH]
    traded = 0.0
    for i in range(h.size):
        trade[i] = w_new[i] * wealth - h[i]
        traded += abs(trade[i])
    if traded <= _TRADE_TOL * wealth:
        acc[A_PENDING] = 0.0
        return wealth
    done = shape_trades_nb(
        t, trade, w_new, wealth, asset_params, tax_params, exec_params, tax_state, lots, acc, gains
    )
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
    """Record the step's unit-value return, drawdown and minimum wealth."""
    wealth = acc[A_WEALTH]
    start = acc[A_START_WEALTH]
    if start > 0.0:
        record_unit_return_nb((wealth - acc[A_FLOW_STEP]) / start - 1.0, acc)
    if wealth < acc[M_MIN_WEALTH]:
        acc[M_MIN_WEALTH] = wealth


@njit_no_refcount
def record_grid_nb(g, wealth, initial_wealth, hist_lo, inv_width, hist):
    """Add the path's wealth at grid point ``g`` to the histogram sketch."""
    x = np.log(wealth / initial_wealth) if wealth > 0.0 else -np.inf
    hist[g, histogram_bin_nb(x, hist_lo, inv_width, hist.shape[1])] += 1


@njit_no_refcount
def finish_policy_path_nb(acc, state, initial_wealth, n_steps, steps_per_year, goal, out_row):
    """Write the path's metrics; ``state[0]`` is the policy's own event count (CPPI breaches)."""
    acc[M_FLOOR_BREACHES] = state[0]
    finish_path_nb(acc, initial_wealth, n_steps, steps_per_year, goal, out_row)


@njit(cache=True)
def allocate_workspace_nb(n_assets, n_steps, state0, has_flows, tax_params):
    """The step loop's scratch arrays, as owning arrays (the loop works on borrowed views)."""
    h = np.empty(n_assets)
    w = np.empty(n_assets)
    w_new = np.empty(n_assets)
    target = np.empty(n_assets)
    trade = np.empty(n_assets)
    state = np.empty_like(state0)
    acc = np.empty(N_ACC)
    tax_state = np.zeros((n_assets, N_TAX_STATE))
    lots = np.zeros((n_assets, max(1, int(tax_params[TX_MAX_LOTS])), N_LOT_FIELDS))
    # Realised gains (2) and the sale keys of one asset's lots (see _taxes.sell_lots_nb).
    gains = np.zeros(2 + lots.shape[1])
    flow_table = np.zeros(n_steps if has_flows else 0)
    no_keep = np.empty(0)  # the kept-path row of paths that are not kept
    return h, w, w_new, target, trade, state, acc, tax_state, lots, gains, flow_table, no_keep


@njit(cache=True, inline="always")
def run_flags_nb(asset_params, tax_params, targets, target):
    """What a run's step loop needs to do, from its frictions, taxes and targets:
    ``(plain, taxed, track_prices, light, light_dividends, step_prices, static_target)``.

    ``plain``: rebalances take :func:`rebalance_plain_nb`. ``light``: the per-step work of
    ``_taxes.after_market_nb`` is skipped (``_taxes.light_tracking_nb``); the market step
    (:func:`market_step_light_nb`) then counts dividends (``light_dividends``) and, when
    ADV grows, moves the price indices (``step_prices``). ``static_target``: no glide
    path; the target is then copied into ``target`` here, once.
    """
    plain = plain_execution_nb(asset_params, tax_params)
    taxed = tax_params[TX_ENABLED] > 0.0
    track_prices = tax_params[TX_TRACK_PRICES] > 0.0
    light = track_prices and light_tracking_nb(asset_params, tax_params)
    light_dividends = light and tax_params[TX_HAS_DIVIDENDS] > 0.0
    step_prices = light and adv_grows_nb(asset_params)
    static_target = targets_constant_nb(targets)
    if static_target:
        target_row_nb(targets, 0, target)
    return plain, taxed, track_prices, light, light_dividends, step_prices, static_target


@njit(cache=True, inline="always")
def before_decision_nb(
    t, due, h, w, r_path, inflation_t, targets, target, flows, flow_table, tabled, flow_mode,
    has_flows, track_prices, light, light_dividends, taxed, noise_key, asset_params,
    tax_params, exec_params, tax_state, lots, acc, gains, steps_per_year, static_target,
    lazy_weights, step_prices,
):  # fmt: skip
    """Step ``t`` up to the policy's decision: market move, dividends and price tracking,
    the scheduled flow, then (while wealth is left) tax work before trading and, on a due
    step, the current weights. Returns ``(wealth, live)``; ``live`` is False once wealth ran
    out before trading."""
    # With light price tracking, reinvested dividends are counted from the start-of-step
    # holdings (their definition), before the market moves them.
    if light_dividends or step_prices:
        wealth, dividends = market_step_light_nb(
            t, h, r_path, inflation_t, asset_params, tax_state, step_prices, acc
        )
    else:
        dividends = 0.0
        wealth = market_step_nb(t, h, r_path, inflation_t, acc)
    if (due or has_flows or track_prices) and not static_target:
        target_row_nb(targets, t, target)
    if light:
        if wealth > 0.0 and dividends > 0.0:
            acc[M_DIVIDENDS] += dividends
    elif track_prices and wealth > 0.0:
        wealth = after_market_nb(
            t, h, r_path, noise_key, asset_params, tax_params, target, flow_mode, tax_state, acc
        )
    if has_flows and wealth > 0.0:
        wealth = flow_step_nb(
            t, h, target, flows, flow_table, tabled, flow_mode, steps_per_year, acc
        )
    live = wealth > 0.0
    if live:
        if taxed:
            wealth = before_trading_nb(
                t, h, asset_params, tax_params, exec_params, noise_key, tax_state, lots, acc,
                gains,
            )  # fmt: skip
        if due and not lazy_weights:
            weights_nb(h, wealth, w)
    return wealth, live


@njit(cache=True, inline="always")
def after_decision_nb(
    traded, t, n_steps, h, w_new, plain, taxed, asset_params, tax_params, exec_params,
    noise_key, tax_state, lots, acc, trade, gains, steps_per_year,
):  # fmt: skip
    """Step ``t`` after the decision: trade to ``w_new`` when the policy traded (or to the
    carried weights of a capped trade), then the year-end tax settlement.

    Costs and taxes are capped at the wealth they are paid from; one that takes all of it
    ruins the path on this step (else ruin would show a step late, or never after the
    last step)."""
    if traded or (acc[A_PENDING] > 0.0 and pending_weights_nb(tax_state, acc, w_new)):
        if plain:
            wealth = rebalance_plain_nb(h, w_new, asset_params, acc, trade)
        else:
            wealth = rebalance_step_nb(
                t, h, w_new, asset_params, tax_params, exec_params, noise_key, tax_state, lots,
                acc, trade, gains,
            )  # fmt: skip
        if wealth <= 0.0:
            ruin_nb(t, h, steps_per_year, acc)
    if taxed:
        wealth = year_end_nb(t, n_steps, h, tax_params, exec_params, tax_state, lots, acc, gains)
        if wealth <= 0.0 and acc[M_RUINED] == 0.0:
            ruin_nb(t, h, steps_per_year, acc)


@njit_no_refcount
def ruin_step_nb(kind, t, r_path, wealth, params, state, steps_per_year, h, acc):
    """Step ``t`` of a path without wealth left: ruin it if a flow has not already, and on
    the step of ruin itself (the step started with wealth) let CPPI count a floor breach,
    as it would have with any wealth left below the floor. ``kind`` is -1 for a custom rule.

    Only paths that have run out of money come here, so the common step pays nothing.
    """
    if acc[M_RUINED] == 0.0:
        ruin_nb(t, h, steps_per_year, acc)
    if kind == POLICY_CPPI and acc[A_START_WEALTH] > 0.0:
        cppi_floor_nb(t, r_path, wealth, params, state)


@njit(cache=True, inline="always")
def end_of_step_nb(t, g, acc, grid_steps, initial_wealth, hist_lo, inv_width, hist, keep):
    """Record step ``t`` (unit value, drawdown, grid sketch, kept path); returns the grid
    cursor."""
    end_step_nb(acc)
    if g < grid_steps.size and grid_steps[g] == t + 1:
        record_grid_nb(g, acc[A_WEALTH], initial_wealth, hist_lo, inv_width, hist)
        g += 1
    if keep.size > 0:
        keep[t + 1] = acc[A_WEALTH]
    return g


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
        One of ``layout.POLICY_*``.
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
    out_hist : ndarray of shape (n_grid, n_bins), int64
        Incremented with the paths' wealth on the grid.
    out_wealth : ndarray of shape (n_keep, n_steps + 1)
        Overwritten with the wealth of the first ``n_keep`` paths (``n_keep`` may be 0).
    """
    n_paths, n_steps, n_assets = returns.shape
    has_flows = flows.shape[0] > 0
    own = allocate_workspace_nb(n_assets, n_steps, state0, has_flows, tax_params)
    n_keep = out_wealth.shape[0]
    inv_width = 1.0 / hist_width
    flow_mode = int(exec_params[EP_FLOW_MODE])
    tabled = has_flows and flow_table_nb(flows, steps_per_year, own[10])
    first_due = check_offset if check_offset > 0 else check_every
    plain, taxed, track_prices, light, light_dividends, step_prices, static_target = run_flags_nb(
        asset_params, tax_params, targets, own[3]
    )
    lazy_weights = kind == POLICY_THRESHOLD
    # Borrowed views: no reference counting in the step loop (see _memory.py).
    params = borrow_nb(params)
    state0 = borrow_nb(state0)
    exec_params = borrow_nb(exec_params)
    w_init = borrow_nb(w_init)
    targets = borrow_nb(targets)
    returns = borrow_nb(returns)
    inflation = borrow_nb(inflation)
    noise_keys = borrow_nb(noise_keys)
    asset_params = borrow_nb(asset_params)
    flows = borrow_nb(flows)
    tax_params = borrow_nb(tax_params)
    grid_steps = borrow_nb(grid_steps)
    out_metrics = borrow_nb(out_metrics)
    out_hist = borrow_nb(out_hist)
    out_wealth = borrow_nb(out_wealth)
    h = borrow_nb(own[0])
    w = borrow_nb(own[1])
    w_new = borrow_nb(own[2])
    target = borrow_nb(own[3])
    trade = borrow_nb(own[4])
    state = borrow_nb(own[5])
    acc = borrow_nb(own[6])
    tax_state = borrow_nb(own[7])
    lots = fixed_fields_nb(own[8], N_LOT_FIELDS)
    gains = borrow_nb(own[9])
    flow_table = borrow_nb(own[10])
    no_keep = borrow_nb(own[11])
    for p in range(n_paths):
        g = start_path_nb(
            h, w_init, initial_wealth, state, state0, acc, grid_steps, hist_lo, inv_width, out_hist
        )
        start_account_nb(h, tax_params, tax_state, lots)
        keep = out_wealth[p] if p < n_keep else no_keep
        if p < n_keep:
            keep[0] = initial_wealth
        r_path = returns[p]
        noise_key = noise_keys[p]
        next_due = first_due
        for t in range(n_steps):
            due = t + 1 == next_due
            if due:
                next_due += check_every
            wealth, live = before_decision_nb(
                t, due, h, w, r_path, inflation[p, t], targets, target, flows, flow_table,
                tabled, flow_mode, has_flows, track_prices, light, light_dividends, taxed,
                noise_key, asset_params, tax_params, exec_params, tax_state, lots, acc, gains,
                steps_per_year, static_target, lazy_weights, step_prices,
            )  # fmt: skip
            if live:
                traded = due and consult_builtin_nb(
                    kind, t, r_path, h, w, wealth, target, params, state, w_new
                )
                after_decision_nb(
                    traded, t, n_steps, h, w_new, plain, taxed, asset_params, tax_params,
                    exec_params, noise_key, tax_state, lots, acc, trade, gains, steps_per_year,
                )  # fmt: skip
            else:
                ruin_step_nb(kind, t, r_path, wealth, params, state, steps_per_year, h, acc)
            g = end_of_step_nb(
                t, g, acc, grid_steps, initial_wealth, hist_lo, inv_width, out_hist, keep
            )
        finish_policy_path_nb(
            acc, state, initial_wealth, n_steps, steps_per_year, goal, out_metrics[p]
        )
    # ``own`` holds the owning arrays until here, so the borrowed views stay valid.
    return own[0].size


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
    Numba-compiled, not cached (it takes a function).
    """
    n_paths, n_steps, n_assets = returns.shape
    has_flows = flows.shape[0] > 0
    own = allocate_workspace_nb(n_assets, n_steps, state0, has_flows, tax_params)
    n_keep = out_wealth.shape[0]
    inv_width = 1.0 / hist_width
    flow_mode = int(exec_params[EP_FLOW_MODE])
    tabled = has_flows and flow_table_nb(flows, steps_per_year, own[10])
    first_due = check_offset if check_offset > 0 else check_every
    plain, taxed, track_prices, light, light_dividends, step_prices, static_target = run_flags_nb(
        asset_params, tax_params, targets, own[3]
    )
    # Borrowed views: no reference counting in the step loop (see _memory.py).
    params = borrow_nb(params)
    state0 = borrow_nb(state0)
    exec_params = borrow_nb(exec_params)
    w_init = borrow_nb(w_init)
    targets = borrow_nb(targets)
    returns = borrow_nb(returns)
    inflation = borrow_nb(inflation)
    noise_keys = borrow_nb(noise_keys)
    asset_params = borrow_nb(asset_params)
    flows = borrow_nb(flows)
    tax_params = borrow_nb(tax_params)
    grid_steps = borrow_nb(grid_steps)
    out_metrics = borrow_nb(out_metrics)
    out_hist = borrow_nb(out_hist)
    out_wealth = borrow_nb(out_wealth)
    h = borrow_nb(own[0])
    w = borrow_nb(own[1])
    w_new = borrow_nb(own[2])
    target = borrow_nb(own[3])
    trade = borrow_nb(own[4])
    state = borrow_nb(own[5])
    acc = borrow_nb(own[6])
    tax_state = borrow_nb(own[7])
    lots = fixed_fields_nb(own[8], N_LOT_FIELDS)
    gains = borrow_nb(own[9])
    flow_table = borrow_nb(own[10])
    no_keep = borrow_nb(own[11])
    for p in range(n_paths):
        g = start_path_nb(
            h, w_init, initial_wealth, state, state0, acc, grid_steps, hist_lo, inv_width, out_hist
        )
        start_account_nb(h, tax_params, tax_state, lots)
        keep = out_wealth[p] if p < n_keep else no_keep
        if p < n_keep:
            keep[0] = initial_wealth
        r_path = returns[p]
        noise_key = noise_keys[p]
        next_due = first_due
        for t in range(n_steps):
            due = t + 1 == next_due
            if due:
                next_due += check_every
            wealth, live = before_decision_nb(
                t, due, h, w, r_path, inflation[p, t], targets, target, flows, flow_table,
                tabled, flow_mode, has_flows, track_prices, light, light_dividends, taxed,
                noise_key, asset_params, tax_params, exec_params, tax_state, lots, acc, gains,
                steps_per_year, static_target, False, step_prices,
            )  # fmt: skip
            if live:
                traded = due and rebalance_nb(t, r_path, w, wealth, target, params, state, w_new)
                after_decision_nb(
                    traded, t, n_steps, h, w_new, plain, taxed, asset_params, tax_params,
                    exec_params, noise_key, tax_state, lots, acc, trade, gains, steps_per_year,
                )  # fmt: skip
            else:
                ruin_step_nb(-1, t, r_path, wealth, params, state, steps_per_year, h, acc)
            g = end_of_step_nb(
                t, g, acc, grid_steps, initial_wealth, hist_lo, inv_width, out_hist, keep
            )
        finish_policy_path_nb(
            acc, state, initial_wealth, n_steps, steps_per_year, goal, out_metrics[p]
        )
    # ``own`` holds the owning arrays until here, so the borrowed views stay valid.
    return own[0].size
