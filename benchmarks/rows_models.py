"""W1 benchmark rows for the return models: Gaussian estimators, Student-t, bootstrap.

Each row replaces W1's model (explicit Gaussian parameters) and keeps everything else (10
assets, monthly steps, 30 years, quarterly rebalancing, 10 bps). Fitted models need a
10-asset history: :func:`w1_history_csv` simulates 600 months (50 years) from W1's own
Gaussian with NumPy (fixed seed) and writes them once to a CSV file in the temporary folder;
the rows point ``[data].source`` at it. So the fitted rows simulate a model close to W1's,
and the bootstrap resamples returns with W1's moments.

The Student-t row keeps W1's explicit mean and covariance and adds ``df = 5``. The factor
row writes W1's one-factor correlation as a factor model (loadings ``vol * beta``,
idiosyncratic volatilities ``vol * sqrt(1 - beta**2)``): the same law as W1, simulated
without the Cholesky product (its 200- and 1,000-asset rows: ``bench_many_assets.py``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

HISTORY_MONTHS = 600
HISTORY_SEED = 20_260_102


def w1_history_csv() -> str:
    """Path of a CSV with 600 months of simple returns simulated from W1's Gaussian model.

    Columns ``date`` (month ends from 1976-01) and ``a0`` .. ``a9``. Written once; the same
    seed gives the same file on any machine.
    """
    path = Path(tempfile.gettempdir()) / "mcsim_bench" / f"w1_history_{HISTORY_SEED}.csv"
    if path.exists():
        return str(path)
    rng = np.random.default_rng(HISTORY_SEED)
    cov = w1.correlation() * np.outer(w1.VOL, w1.VOL)
    drift = (w1.MU - 0.5 * w1.VOL**2) / w1.STEPS_PER_YEAR
    chol = np.linalg.cholesky(cov / w1.STEPS_PER_YEAR)
    z = rng.standard_normal((HISTORY_MONTHS, w1.N_ASSETS))
    r = np.expm1(drift + z @ chol.T)
    months = np.arange(np.datetime64("1976-01"), np.datetime64("1976-01") + HISTORY_MONTHS)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{np.random.SeedSequence().entropy % 10**9}.tmp")
    with tmp.open("w") as f:
        f.write(",".join(["date", *w1.ASSETS]) + "\n")
        for m, row in zip(months, r, strict=True):
            f.write(str(m) + "," + ",".join(f"{v:.17g}" for v in row) + "\n")
    tmp.replace(path)
    return str(path)


def _fitted(model: dict) -> dict:
    """Overrides that fit ``model`` to the simulated W1 history instead of W1's parameters."""
    explicit = {"assets": None, "mu": None, "vol": None, "corr": None}
    return {"data": {"source": w1_history_csv()}, "model": {**explicit, **model}}


ROWS: list[tuple[str, dict]] = [
    ("gaussian, sample cov (600 months)", _fitted({"kind": "gaussian", "estimator": "sample"})),
    (
        "gaussian, EWMA cov halflife 36 (600 months)",
        _fitted({"kind": "gaussian", "estimator": "ewma", "halflife": 36}),
    ),
    (
        "gaussian, Ledoit-Wolf cov (600 months)",
        _fitted({"kind": "gaussian", "estimator": "ledoit_wolf"}),
    ),
    ("gaussian, OAS cov (600 months)", _fitted({"kind": "gaussian", "estimator": "oas"})),
    (
        "student_t df=5 (W1 moments)",
        {
            "model": {
                "kind": "student_t",
                "df": 5,
                "assets": list(w1.ASSETS),
                "mu": w1.MU.tolist(),
                "vol": w1.VOL.tolist(),
                "corr": w1.correlation().tolist(),
            }
        },
    ),
    (
        "factor, W1's one-factor covariance (explicit)",
        {
            "model": {
                "kind": "factor",
                "assets": list(w1.ASSETS),
                "mu": w1.MU.tolist(),
                "loadings": (w1.VOL * w1.BETA)[:, None].tolist(),
                "idiosyncratic_vol": (w1.VOL * np.sqrt(1.0 - w1.BETA**2)).tolist(),
            }
        },
    ),
    ("bootstrap iid (600 months)", _fitted({"kind": "bootstrap", "method": "iid"})),
    (
        "bootstrap stationary, auto block (600 months)",
        _fitted({"kind": "bootstrap", "method": "stationary", "block_length": "auto"}),
    ),
]
