"""W1 benchmark rows for the allocation policies: vol target, CPPI, mean-variance, risk parity.

W1 has no safe asset, so the volatility-target and CPPI rows turn its 10th asset (``a9``)
into a low-volatility "cash" asset in the row's model: 2 % expected return, 0.5 %
volatility, uncorrelated with the others. The other nine assets keep W1's parameters, and
the target stays W1's equal weights, so the risky sleeve is ``a0 .. a8`` at equal weights.
The mean-variance and risk-parity rows keep W1's model unchanged and re-estimate moments
from each path's trailing window, so the solver runs on every due step of every path.

Goals (issue #4): vol target and CPPI within 1.3x of W1's calendar row, mean-variance
quarterly within 5x; issue #26: mean-variance within 3x, risk parity within 4x
(``profile_allocation.py`` shows where their time goes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

CASH = w1.ASSETS[-1]
CASH_MU = 0.02  # annual arithmetic expected return
CASH_VOL = 0.005  # annual volatility


def cash_model() -> dict:
    """W1's model overrides with ``a9`` as cash (merged key by key into W1's ``[model]``)."""
    mu = w1.MU.copy()
    vol = w1.VOL.copy()
    corr = w1.correlation()
    mu[-1] = CASH_MU
    vol[-1] = CASH_VOL
    corr[-1, :] = 0.0
    corr[:, -1] = 0.0
    corr[-1, -1] = 1.0
    return {"mu": mu.tolist(), "vol": vol.tolist(), "corr": np.asarray(corr).tolist()}


ROWS: list[tuple[str, dict]] = [
    (
        "vol target 10 %, EWMA hl 12, quarterly (a9 cash)",
        {
            "model": cash_model(),
            "policies": [
                {
                    "name": "vol_target",
                    "kind": "vol_target",
                    "safe_asset": CASH,
                    "target_vol": 0.10,
                    "halflife": 12,
                    "max_leverage": 1.0,
                    "frequency": "quarterly",
                }
            ],
        },
    ),
    (
        "CPPI floor 80 %, m 4, quarterly (a9 cash)",
        {
            "model": cash_model(),
            "policies": [
                {
                    "name": "cppi",
                    "kind": "cppi",
                    "safe_asset": CASH,
                    "floor": 0.8,
                    "multiplier": 4.0,
                    "frequency": "quarterly",
                }
            ],
        },
    ),
    (
        "mean-variance quarterly, trailing 60 m",
        {
            "policies": [
                {
                    "name": "mean_variance",
                    "kind": "mean_variance",
                    "risk_aversion": 4.0,
                    "turnover_penalty": 0.001,
                    "estimate": "trailing",
                    "window": 60,
                    "frequency": "quarterly",
                }
            ]
        },
    ),
    (
        "risk parity quarterly, trailing 36 m",
        {
            "policies": [
                {
                    "name": "risk_parity",
                    "kind": "risk_parity",
                    "estimate": "trailing",
                    "window": 36,
                    "frequency": "quarterly",
                }
            ]
        },
    ),
]
