"""W1 benchmark rows for the band, cash-flow and glide-path policies.

Each row keeps W1 (10 assets, monthly steps, 30 years, equal-weight target, 10 bps) and
replaces the quarterly calendar policy:

- 5/25 bands to the edge: every step, trade when an asset is 5 points or 25 % of its target
  (2.5 points at 10 %) off, only to the band edge.
- 5/25 bands back to target: the same bands, trading all the way back to target.
- cash-flow rebalancing with monthly contributions: 1,000 a month (growing 2 % a year)
  placed into the most underweight assets, and the 5/25 bands (to target) checked every step.
- glide path: equal weights gliding linearly to 60 % in the four least volatile assets
  (15 % each) and 40 % in the other six by year 30, rebalanced quarterly (the W1 calendar).

Goal (issue #4): each row within 1.3x of W1's calendar row.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

_END = {a: (0.15 if i < 4 else 0.40 / 6) for i, a in enumerate(w1.ASSETS)}

ROWS: list[tuple[str, dict]] = [
    (
        "bands 5/25 to edge, checked monthly",
        {
            "policies": [
                {
                    "name": "band_5_25_edge",
                    "kind": "threshold",
                    "band": 0.05,
                    "relative_band": 0.25,
                    "trade_to": "edge",
                }
            ]
        },
    ),
    (
        "bands 5/25 back to target, checked monthly",
        {
            "policies": [
                {
                    "name": "band_5_25_target",
                    "kind": "threshold",
                    "band": 0.05,
                    "relative_band": 0.25,
                }
            ]
        },
    ),
    (
        "cash-flow rebalancing, monthly contributions, 5/25 bands",
        {
            "flows": [
                {"amount": 1000.0, "every": 1, "indexation": "fixed", "growth": 0.02},
            ],
            "policies": [
                {
                    "name": "cashflow_band",
                    "kind": "threshold",
                    "band": 0.05,
                    "relative_band": 0.25,
                    "flows": "rebalance",
                }
            ],
        },
    ),
    (
        "glide path to 60/40 low/high vol over 30 y, quarterly",
        {
            "policies": [
                {
                    "name": "glide_quarterly",
                    "kind": "calendar",
                    "every": w1.REBALANCE_EVERY,
                    "glide": {"end": _END, "end_year": w1.HORIZON_YEARS},
                }
            ]
        },
    ),
]
