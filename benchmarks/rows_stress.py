"""W1 benchmark row for stress testing: W1 with six stresses.

W1 (10 assets, monthly, 30 years, quarterly to equal weights, 10 bps) with six stresses: the
financial crisis at year 1 and 2022 at year 1 (a0..a4 replay the bonds, a5..a9 the stocks of
the Shiller data), a -30 % shock to the five riskiest assets, volatility x2 for a year,
correlations to 0.9 for a year, and a lost decade (drift -5 % a year for 10 years).

Goal (issue #22): at most 1 + 6 x (the share of W1's time spent in its policy pass), as a ratio
to W1 in one process: a stress must not draw the random numbers again. ``bench_stress.py``
measures that share and the ratio side by side.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

_PROXIES = {a: ("us_bonds_10y_tr" if i < 5 else "us_stocks_tr") for i, a in enumerate(w1.ASSETS)}

SIX_STRESSES: list[dict] = [
    {
        "name": "financial_crisis_y1",
        "kind": "historical",
        "episode": "financial_crisis",
        "at_year": 1,
        "proxies": _PROXIES,
    },
    {
        "name": "stocks_bonds_2022_y1",
        "kind": "historical",
        "episode": "stocks_bonds_2022",
        "at_year": 1,
        "proxies": _PROXIES,
    },
    {"name": "shock_30", "kind": "shock", "returns": {a: -0.30 for a in w1.ASSETS[5:]}},
    {"name": "vol_x2", "kind": "volatility", "multiplier": 2.0, "at_year": 2, "years": 1},
    {"name": "corr_09", "kind": "correlation", "to": 0.9, "at_year": 3, "years": 1},
    {"name": "lost_decade", "kind": "drift", "shift": -0.05, "years": 10},
]

ROWS: list[tuple[str, dict]] = [("W1 + six stresses", {"stresses": SIX_STRESSES})]
