"""W1 benchmark rows for the dynamic return models: GARCH(1,1)-DCC(1,1) and regime switching.

W1 has no 10-asset history, so both rows give explicit parameters built on W1's own
(``benchmarks/w1.py``): annual means ``MU``, volatilities ``VOL`` and the one-factor
correlation. Everything else (10 assets, monthly steps, 30 years, quarterly rebalancing to
equal weights, 10 bps) is W1's.

- GARCH-DCC: unconditional volatilities ``VOL`` and means ``MU``; alpha 0.08, beta 0.90 per
  asset (monthly; persistence 0.98); DCC a = 0.03, b = 0.95 around W1's correlation; normal
  innovations; start from the long-run state. The kernel updates 10 variances and the 10x10
  ``Q`` and factors ``R_t`` every step.
- Regimes: two regimes; calm (means ``MU + 0.02``, volatilities ``0.8 VOL``, W1's
  correlation) and crisis (means ``MU - 0.15``, volatilities ``1.8 VOL``, correlations pulled
  half way to 1); monthly transition ``[[0.98, 0.02], [0.08, 0.92]]`` (spells of about 4.2
  and 1.0 years, 80 % of the time calm); start from the stationary distribution.

Goal (issue #3): each row within 4x of W1's Gaussian row; issue #26: GARCH-DCC within 2.5x
(``profile_allocation.py`` times its kernel with DCC, with CCC and its normals).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1


def garch_dcc_model() -> dict:
    """W1's model replaced by a GARCH(1,1)-DCC(1,1) with W1's long-run moments."""
    return {
        "kind": "garch",
        "correlation": "dcc",
        "distribution": "normal",
        "start": "long_run",
        "periods_per_year": w1.STEPS_PER_YEAR,
        "assets": list(w1.ASSETS),
        "mu": w1.MU.tolist(),
        "vol": w1.VOL.tolist(),
        "corr": w1.correlation().tolist(),
        "alpha": 0.08,
        "beta": 0.90,
        "dcc_a": 0.03,
        "dcc_b": 0.95,
    }


def regime_model() -> dict:
    """W1's model replaced by a calm / crisis Markov switching model around W1's moments."""
    corr = w1.correlation()
    crisis_corr = 0.5 * corr + 0.5 * np.ones_like(corr)
    return {
        "kind": "regime",
        "n_regimes": 2,
        "start": "stationary",
        "periods_per_year": w1.STEPS_PER_YEAR,
        "assets": list(w1.ASSETS),
        "means": [(w1.MU + 0.02).tolist(), (w1.MU - 0.15).tolist()],
        "vols": [(0.8 * w1.VOL).tolist(), (1.8 * w1.VOL).tolist()],
        "corrs": [corr.tolist(), crisis_corr.tolist()],
        "transition": [[0.98, 0.02], [0.08, 0.92]],
    }


ROWS: list[tuple[str, dict]] = [
    ("W1 GARCH(1,1)-DCC(1,1), explicit", {"model": garch_dcc_model()}),
    ("W1 2-regime Markov switching, explicit", {"model": regime_model()}),
]
