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
M_LOSS = 16  # 1.0 when terminal wealth < initial wealth + net flows, else 0.0
M_COST_PROPORTIONAL = 17  # commissions in bps of traded value (currency)
M_COST_FIXED = 18  # fixed fees per trade (currency)
M_COST_SPREAD = 19  # half bid-ask spread (currency)
M_COST_SLIPPAGE = 20  # execution price error (currency)
M_COST_IMPACT = 21  # market impact (currency)
M_DEFERRED_TRADES = 22  # steps on which a participation cap carried trades forward
M_HARVESTED_LOSSES = 23  # losses realised by tax-loss harvesting (currency)
M_REALISED_GAINS = 24  # net capital gains realised (currency)
M_DIVIDENDS = 25  # dividends received (currency)
M_FLOOR_BREACHES = 26  # steps on which wealth fell below the CPPI floor
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
N_ACC = N_METRICS + 12

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
AP_PARTICIPATION = 6  # largest traded fraction of the step's volume (1 = no cap)
AP_DIVIDEND_YIELD = 7  # dividend yield per year (fraction)
AP_VOL_STEP = 8  # the asset's volatility over one step (fraction), for slippage
N_ASSET_PARAMS = 9

# --- per-policy execution settings: ``exec_params`` (N_EXEC_PARAMS,) ------------------------
EP_FLOW_MODE = 0  # how external flows are placed: one of FLOW_TO_*
EP_HARVEST = 1  # 1.0 to harvest tax losses
EP_HARVEST_THRESHOLD = 2  # unrealised loss (fraction of basis) that triggers a harvest
EP_TAX_AWARE = 3  # tax-aware trading mode (0 = off)
N_EXEC_PARAMS = 8
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
N_TAX_PARAMS = 16
