"""Integer constants shared by the kernels and the Python layer, and the slot declarations.

Numba freezes module globals at compile time, so everything here is a true constant: the
column of each per-path metric, the slots of the per-path accumulator and the columns of the
per-asset, execution, flow and tax parameter arrays.

A built-in rule's parameter and state slots are not listed here: each rule declares them
once, next to its kernel, with :func:`slots` (parameters) and :func:`rule_state` (state),
and the kernel and its policy class both read them from that declaration (``CP.FLOOR``).
A declaration is a named tuple of ints at module level, which Numba freezes like any other
global: ``params[CP.FLOOR]`` compiles to a constant index, cached kernels included.
"""

from typing import NamedTuple


def slots(*names: str) -> tuple[int, ...]:
    """A slot declaration: consecutive integer slots ``0, 1, ...`` named by ``names``.

    Parameters
    ----------
    *names : str
        The slots' names in order, lower case (``"every", "offset", ...``).

    Returns
    -------
    tuple of int
        A named tuple: fields ``NAME`` (upper case) holding each slot's index, then
        ``N_FIXED``, the number of named slots (per-asset values that follow them start
        there).
    """
    fields = [name.upper() for name in names]
    if len(set(fields)) != len(fields) or "N_FIXED" in fields:
        raise ValueError(f"slot names must be distinct and not N_FIXED; got {names!r}")
    cls = NamedTuple("Slots", [(f, int) for f in [*fields, "N_FIXED"]])
    return cls(*range(len(fields) + 1))


def rule_state(*names: str) -> tuple[int, ...]:
    """A built-in rule's state declaration: slot ``EVENTS`` (0) first, then ``names``.

    ``state[EVENTS]`` is the rule's own event count on a path (CPPI's floor breaches; 0 for
    a rule without events): the engine copies it into the metric ``M_POLICY_EVENTS``.
    """
    return slots("events", *names)


# Slot of every rule's state (built-in or custom) copied into ``M_POLICY_EVENTS``.
STATE_EVENTS = 0

# --- per-path metrics: columns of ``out_metrics`` (n_paths, N_METRICS) -------------------
M_TERMINAL_WEALTH = 0  # nominal pre-tax wealth at the horizon (currency)
M_REAL_TERMINAL_WEALTH = 1  # terminal wealth deflated by the path's price index (currency)
M_AFTER_TAX_WEALTH = 2  # liquidation value after tax on unrealised gains (currency)
M_CAGR = 3  # annualised time-weighted return (fraction per year)
M_VOLATILITY = 4  # annualised volatility of per-step portfolio returns (fraction)
M_MAX_DRAWDOWN = 5  # largest fall of the unit value from its running peak (fraction)
M_MAX_DRAWDOWN_DURATION = 6  # longest time under water (years)
M_TURNOVER = 7  # one-way traded value over wealth, per year (fraction per year)
M_COSTS = 8  # all trading costs paid (currency)
M_TAXES = 9  # all taxes paid (currency)
M_FLOWS = 10  # net external cash flows: contributions minus withdrawals (currency)
M_GAINS = 11  # market gains: sum over steps of holdings times returns (currency)
M_N_REBALANCES = 12  # number of steps on which the policy traded
M_MIN_WEALTH = 13  # lowest wealth along the path (currency)
M_RUINED = 14  # 1.0 when wealth ran out before the horizon, else 0.0
M_RUIN_YEAR = 15  # years elapsed when wealth ran out (NaN when it never did)
M_LOSS = 16  # 1.0 when ruined or terminal wealth < initial wealth + net flows, else 0.0
M_COST_PROPORTIONAL = 17  # commissions in bps of traded value (currency)
M_COST_FIXED = 18  # fixed fees per trade (currency)
M_COST_SPREAD = 19  # half bid-ask spread (currency)
M_COST_SLIPPAGE = 20  # execution price error (currency)
M_COST_IMPACT = 21  # market impact (currency)
M_DEFERRED_TRADES = 22  # steps on which a participation cap carried trades forward
M_HARVESTED_LOSSES = 23  # losses realised by tax-loss harvesting (currency)
M_REALISED_GAINS = 24  # net capital gains realised (currency)
M_DIVIDENDS = 25  # dividends received (currency)
M_POLICY_EVENTS = 26  # the policy's own event count, ``state[STATE_EVENTS]`` at the horizon
# CPPI's floor breaches are its events (``mcsim.policies.CPPI.event_metric``).
M_FLOOR_BREACHES = M_POLICY_EVENTS
M_GOAL_SHORTFALL = 27  # max(goal - terminal wealth, 0) (currency)
M_GOAL_MET = 28  # 1.0 when terminal wealth >= goal and never ruined, else 0.0
# Sharpe and Sortino are of per-step excess returns over the risk-free asset
# (``EP_RISK_FREE``), or of the returns themselves (against 0) without one.
M_SHARPE = 29  # annualised mean per-step excess return over its annualised volatility
M_SORTINO = 30  # annualised mean per-step excess return over its annualised downside deviation
M_CALMAR = 31  # CAGR over maximum drawdown (never against a risk-free return)
N_METRICS = 32

# --- per-path accumulator: slots of ``acc`` (N_ACC,) -------------------------------------
# Sums that become metrics share the metric's column; the rest follow.
A_WEALTH = N_METRICS + 0  # current wealth (currency)
A_NAV = N_METRICS + 1  # unit value: wealth with flows taken out (starts at 1)
A_PEAK_NAV = N_METRICS + 2
A_UNDER = N_METRICS + 3  # steps since the last peak of the unit value
A_SUM_R = N_METRICS + 4  # sum of per-step portfolio returns
A_SUM_R2 = N_METRICS + 5
A_N_R = N_METRICS + 6  # number of per-step returns recorded
A_TRADED = N_METRICS + 7  # sum of one-way traded fractions of wealth
A_PRICE_INDEX = N_METRICS + 8  # consumer price index of the path (starts at 1)
A_START_WEALTH = N_METRICS + 9  # wealth at the start of the current step
A_FLOW_STEP = N_METRICS + 10  # external flow of the current step (currency)
A_UNREALISED_TAX = N_METRICS + 11  # tax due if the portfolio were sold at the horizon
A_YEAR_SHORT = N_METRICS + 12  # net short-term gains realised in the current tax year
A_YEAR_LONG = N_METRICS + 13  # net long-term gains realised in the current tax year
A_CARRY = N_METRICS + 14  # capital losses carried forward (currency, >= 0)
A_PENDING = N_METRICS + 15  # 1.0 when a capped trade is carried to the next step
A_RUIN_PEAK = N_METRICS + 16  # elapsed steps at the unit value's last peak before ruin
A_SUM_DOWN2 = N_METRICS + 17  # sum of squared negative per-step portfolio returns
# Excess returns e = r - rf over the risk-free asset's return rf of the step; recorded only
# when the policy has a risk-free asset (A_RF_ON = 1.0).
A_SUM_E = N_METRICS + 18  # sum of per-step excess returns
A_SUM_E2 = N_METRICS + 19  # sum of their squares
A_SUM_EDOWN2 = N_METRICS + 20  # sum of squared negative excess returns
A_RF_STEP = N_METRICS + 21  # the risk-free asset's simple return over the current step
A_RF_ON = N_METRICS + 22  # 1.0 when the path records excess returns
N_ACC = N_METRICS + 23

# --- per-asset parameters: columns of ``asset_params`` (n_assets, N_ASSET_PARAMS) ------------
AP_PROPORTIONAL = 0  # commission as a fraction of traded value (10 bps = 0.001)
AP_FIXED_FEE = 1  # fee per trade in the asset (currency)
AP_HALF_SPREAD = 2  # half bid-ask spread as a fraction of traded value
AP_SLIPPAGE = 3  # execution error scale, in units of the asset's volatility over the step
AP_IMPACT_ETA = 4  # square-root impact coefficient
AP_ADV = 5  # average daily volume at the start (currency; inf = no impact)
AP_PARTICIPATION = 6  # largest traded fraction of the step's volume (inf = no cap)
AP_DIVIDEND_YIELD = 7  # dividend yield per year (fraction)
AP_VOL_STEP = 8  # the asset's volatility over one step (fraction), for slippage
AP_VOL_DAILY = 9  # the asset's daily volatility (fraction), for market impact
AP_DAYS_PER_STEP = 10  # trading days in one step (252 / steps per year)
AP_ADV_GROWTH = 11  # 1.0 when ADV grows with the asset's price index along the path
AP_DIVIDEND_STEP = 12  # dividend yield per step (fraction): AP_DIVIDEND_YIELD / steps per year
N_ASSET_PARAMS = 13

# --- per-policy execution settings: ``exec_params`` (N_EXEC_PARAMS,) ------------------------
EP_FLOW_MODE = 0  # how external flows are placed: one of FLOW_TO_*
EP_HARVEST = 1  # 1.0 to harvest tax losses
EP_HARVEST_THRESHOLD = 2  # unrealised loss (fraction of basis) that triggers a harvest
EP_TAX_AWARE = 3  # tax-aware trading mode: one of TAX_AWARE_*
EP_RISK_AVERSION = 4  # risk aversion that values a trade's benefit when TAX_AWARE_DEFER
EP_RISK_FREE = 5  # asset index of the risk-free series for Sharpe and Sortino (-1 = none: 0)
N_EXEC_PARAMS = 8
# With TAX_AWARE_DEFER, exec_params[N_EXEC_PARAMS:] holds the annual covariance of the assets'
# returns, flattened row by row (n_assets * n_assets values).
TAX_AWARE_OFF = 0
TAX_AWARE_AVOID_SHORT_TERM = 1  # never realise short-term gains in a rebalance
TAX_AWARE_DEFER = 2  # skip a rebalance whose estimated tax exceeds its benefit
FLOW_PRO_RATA = 0  # in proportion to current holdings
FLOW_TO_TARGET = 1  # in proportion to target weights
FLOW_REBALANCE = 2  # to the most underweight assets first (cash-flow rebalancing)

# --- scheduled external flows: rows of ``flows`` (n_flows, N_FLOW_FIELDS) -------------------
FL_AMOUNT = 0  # currency per payment (positive = contribution, negative = withdrawal)
FL_PCT_WEALTH = 1  # fraction of current wealth per payment (negative = withdrawal)
FL_EVERY = 2  # steps between payments
FL_START = 3  # first step index (0-based, end of step) that pays
FL_END = 4  # last step index that may pay
FL_INDEX = 5  # indexation: one of INDEX_*
FL_GROWTH = 6  # fixed growth per year of the amount when INDEX_FIXED (fraction)
N_FLOW_FIELDS = 7
INDEX_NONE = 0
INDEX_FIXED = 1
INDEX_INFLATION = 2  # grows with the path's simulated price index

# --- tax settings: ``tax_params`` (N_TAX_PARAMS,) --------------------------------------------
TX_ENABLED = 0
TX_SHORT_RATE = 1  # tax rate on short-term capital gains (fraction)
TX_LONG_RATE = 2  # tax rate on long-term capital gains (fraction)
TX_LONG_STEPS = 3  # steps a lot must be held for its gain to be long-term
TX_LOT_METHOD = 4  # one of LOT_*
TX_MAX_LOTS = 5  # lots kept per asset
TX_LOSS_OFFSET = 6  # net capital loss deductible from other income per year (currency)
TX_INCOME_RATE = 7  # tax rate on other income: the value of that deduction (fraction)
TX_DIVIDEND_RATE = 8  # tax rate on dividends (fraction)
TX_DIVIDEND_MODE = 9  # one of DIV_* (read even when taxes are off)
TX_WASH_STEPS = 10  # steps after a harvest during which the sold security may not be bought
TX_TRACKING_STEP = 11  # substitute's tracking error over one step (fraction)
TX_TRACKING_NOISE = 12  # first noise column of the substitute's tracking noise
TX_STEPS_PER_YEAR = 13  # steps per tax year
TX_TRACK_PRICES = 14  # 1.0 when per-asset price indices are needed (taxes, dividends, ADV growth)
TX_HAS_DIVIDENDS = 15  # 1.0 when any asset pays a dividend
N_TAX_PARAMS = 16
LOT_FIFO = 0
LOT_HIFO = 1
LOT_TAX_MIN = 2  # losses first, then long-term gains, short-term gains last
DIV_REINVEST = 0  # net dividends buy more of the asset that paid them
DIV_REBALANCE = 1  # net dividends are placed like a contribution (the policy's flow mode)

# --- per-asset state of a taxable account: columns of ``tax_state`` (n_assets, N_TAX_STATE) --
# Each asset is held through two interchangeable securities ("vehicles" 0 and 1): harvesting a
# loss sells one and buys the other, so exposure is kept and the wash-sale rule respected.
TS_N_LOTS = 0  # number of open lots
TS_CURRENT = 1  # vehicle that purchases go to (0 or 1)
TS_UNITS = 2  # total units of vehicle 0 (vehicle 1 at TS_UNITS + 1)
TS_PRICE = 4  # price index of vehicle 0 (vehicle 1 at TS_PRICE + 1); starts at 1
TS_MAX_COST = 6  # highest cost per unit among open lots of vehicle 0 (vehicle 1 at + 1);
# in a cost-ordered book an upper bound after sales (see _lots.tighten_top_cost_nb)
TS_LOSS_SALE = 8  # step of the last harvest of vehicle 0 (vehicle 1 at + 1); -inf if none
TS_PENDING_W = 10  # target weight of a capped trade carried to the next step
TS_BY_COST = 11  # 1.0 when the asset's lots are kept in cost order (HIFO and tax-min books)
TS_TRADE_COST = 12  # trading cost of the asset's trade in this rebalance (currency), booked
# into the purchase's basis or deducted from the sale's proceeds, then reset to zero
# Wash sales (per vehicle v at + v). The "loss pot": losses of sales at a loss not yet matched
# by a purchase of the same vehicle, and the step of the latest such sale.
TS_WASH_STEP = 13  # step of the latest sale at a loss; -inf if none
TS_WASH_UNITS = 15  # units sold at a loss, not yet matched by a replacement purchase
TS_WASH_SHORT = 17  # their unmatched short-term loss (currency, <= 0)
TS_WASH_LONG = 19  # their unmatched long-term loss (currency, <= 0)
# Replacement shares already used: units of lots bought within the window whose purchase was
# matched with a loss sale (either way round), and the step of the latest such match. The
# shares still available are the units of the vehicle's lots bought within the window less
# these (``_lots.window_units_nb``).
TS_USED_STEP = 21  # step of the latest match of a purchase with a loss sale; -inf if none
TS_USED_UNITS = 23  # units matched since, as replacement shares
TS_BUY_STEP = 25  # step of the latest purchase (per vehicle); -inf if none
N_TAX_STATE = 27

# --- tax lots: ``lots`` (n_assets, max_lots, N_LOT_FIELDS) ----------------------------------
# A FIFO book is kept in purchase order; a HIFO or tax-min book (``TS_BY_COST``) in ascending
# cost per unit, so the highest-cost lots are at its end.
LOT_UNITS = 0  # units held
LOT_BASIS = 1  # cost basis (currency paid for the units still held)
LOT_STEP = 2  # step bought (-1 = held at the start)
LOT_VEHICLE = 3  # 0 or 1
N_LOT_FIELDS = 4
