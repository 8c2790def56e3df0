"""Integer constants shared by the kernels and the Python layer.

Numba freezes module globals at compile time, so everything here is a true constant: the
column of each per-path metric, the slots of the per-path accumulator, the built-in policy
kinds and the columns of the per-asset and per-policy parameter arrays.
"""

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
M_FLOOR_BREACHES = 26  # steps on which wealth fell below the CPPI floor (up to ruin)
M_GOAL_SHORTFALL = 27  # max(goal - terminal wealth, 0) (currency)
M_GOAL_MET = 28  # 1.0 when terminal wealth >= goal and never ruined, else 0.0
N_METRICS = 29

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
N_ACC = N_METRICS + 17

# --- built-in policy kinds ------------------------------------------------------------------
POLICY_BUY_AND_HOLD = 0
POLICY_CALENDAR = 1
POLICY_THRESHOLD = 2

# Calendar params: [every_n_steps, offset]
CAL_EVERY = 0
CAL_OFFSET = 1

# Threshold (band) params, followed by per-asset bands:
# [check_every, check_offset, trade_to, fraction, drift_band, min_trade,
#  abs_band[0..n_assets), rel_band[0..n_assets)]
TH_CHECK_EVERY = 0
TH_CHECK_OFFSET = 1
TH_TRADE_TO = 2  # one of TRADE_TO_*
TH_FRACTION = 3  # share of the gap to target closed when TRADE_TO_FRACTION
TH_DRIFT_BAND = 4  # portfolio drift trigger: half the sum of |w - target| (inf = off)
TH_MIN_TRADE = 5  # skip asset trades smaller than this fraction of wealth
TH_N_FIXED = 6
TRADE_TO_TARGET = 0
TRADE_TO_EDGE = 1
TRADE_TO_FRACTION = 2

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
# in a cost-ordered book an upper bound after sales (see _taxes.tighten_top_cost_nb)
TS_LOSS_SALE = 8  # step of the last harvest of vehicle 0 (vehicle 1 at + 1); -inf if none
TS_PENDING_W = 10  # target weight of a capped trade carried to the next step
TS_BY_COST = 11  # 1.0 when the asset's lots are kept in cost order (HIFO and tax-min books)
N_TAX_STATE = 12

# --- tax lots: ``lots`` (n_assets, max_lots, N_LOT_FIELDS) ----------------------------------
# A FIFO book is kept in purchase order; a HIFO or tax-min book (``TS_BY_COST``) in ascending
# cost per unit, so the highest-cost lots are at its end.
LOT_UNITS = 0  # units held
LOT_BASIS = 1  # cost basis (currency paid for the units still held)
LOT_STEP = 2  # step bought (-1 = held at the start)
LOT_VEHICLE = 3  # 0 or 1
N_LOT_FIELDS = 4

# --- allocation rules (volatility target, CPPI, mean-variance, risk parity, target vol) ----
# Kinds 20..24 (kernels/_allocation.py). In each state, slot 0 is the floor-breach count
# (CPPI only; 0 for the others).
POLICY_VOL_TARGET = 20
POLICY_CPPI = 21
POLICY_MEAN_VARIANCE = 22
POLICY_RISK_PARITY = 23
POLICY_TARGET_VOL = 24
ESTIMATE_MODEL = 0  # moments of the return model (annual)
ESTIMATE_TRAILING = 1  # sample moments of the path's trailing window

# Volatility target params: [every, offset, safe, target_vol, decay, max_leverage,
#  threshold, steps_per_year]; state: [breaches, ewma_mean, ewma_var] (per step)
VT_EVERY = 0
VT_OFFSET = 1
VT_SAFE = 2  # index of the safe asset
VT_TARGET_VOL = 3  # annual volatility target of the portfolio (fraction)
VT_DECAY = 4  # EWMA decay per step: 0.5 ** (1 / halflife)
VT_MAX_LEVERAGE = 5  # largest sleeve exposure (fraction of wealth)
VT_THRESHOLD = 6  # trade only when |desired - current exposure| exceeds this
VT_STEPS_PER_YEAR = 7
VT_N_FIXED = 8
VS_MEAN = 1
VS_VAR = 2
VS_N = 3

# CPPI params: [every, offset, safe, floor, multiplier, max_exposure, floor_growth,
#  initial_wealth, w_init[0..n_assets)]; state: [breaches, floor (currency; NaN at start)]
CP_EVERY = 0
CP_OFFSET = 1
CP_SAFE = 2
CP_FLOOR = 3  # floor as a fraction of initial wealth
CP_MULTIPLIER = 4
CP_MAX_EXPOSURE = 5  # cap of the sleeve exposure (fraction of wealth; inf = none)
CP_FLOOR_GROWTH = 6  # floor growth per step (fraction); NaN = the safe asset's return
CP_INITIAL_WEALTH = 7  # currency; NaN = recover it at the first step
CP_N_FIXED = 8
CS_BREACHES = 0
CS_FLOOR = 1
CS_N = 2

# Mean-variance params: [every, offset, estimate, window, risk_aversion, turnover_penalty,
#  steps_per_year, has_model, mu[0..n), cov[0..n*n)] (annual model moments);
# state: [breaches, failed_solves, cached, mu_work[n], cov_work[n*n], w_sol[n], solver work]
MV_EVERY = 0
MV_OFFSET = 1
MV_ESTIMATE = 2  # one of ESTIMATE_*
MV_WINDOW = 3  # trailing window (steps)
MV_RISK_AVERSION = 4  # lambda
MV_TURNOVER = 5  # L1 turnover penalty kappa (annual return units)
MV_STEPS_PER_YEAR = 6
MV_HAS_MODEL = 7  # 1.0 when the model moments are given
MV_N_FIXED = 8
MS_FAILED = 1
MS_CACHED = 2
MS_N_FIXED = 3

# Risk parity params: [every, offset, estimate, window, steps_per_year, has_model,
#  budgets[0..n), cov[0..n*n)]; state like mean-variance's
RP_EVERY = 0
RP_OFFSET = 1
RP_ESTIMATE = 2
RP_WINDOW = 3
RP_STEPS_PER_YEAR = 4
RP_HAS_MODEL = 5
RP_N_FIXED = 6
RS_FAILED = 1
RS_CACHED = 2
RS_N_FIXED = 3

# Target volatility params: [every, offset, safe, target_vol, max_leverage, threshold,
#  estimate, window, steps_per_year, has_model, cov[0..n*n)];
# state: [breaches, mu_work[n], cov_work[n*n]]
TV_EVERY = 0
TV_OFFSET = 1
TV_SAFE = 2
TV_TARGET_VOL = 3  # annual (fraction)
TV_MAX_LEVERAGE = 4  # cap of k (the scale of the target weights)
TV_THRESHOLD = 5
TV_ESTIMATE = 6
TV_WINDOW = 7
TV_STEPS_PER_YEAR = 8
TV_HAS_MODEL = 9
TV_N_FIXED = 10
TS_N_FIXED = 1
