"""A fitted learned-policy model as plain arrays: its JSON file, its checks, its params.

The model predicts, from the features of :data:`FEATURES`, the advantage of trading to the
band edge and of trading to target over holding (in units where larger is better). It is
either a linear model on polynomial features (``"linear"``) or a sum of regression trees
(``"tree"``: one tree; ``"boosting"``: gradient boosting). The kernel evaluates the same
arrays (``kernels/_learned.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..kernels import _learned as kl
from ..kernels._policies import TH, TRADE_TO_EDGE

__all__ = ["FEATURES", "MODEL_VERSION", "REGRESSORS", "LearnedModel"]

MODEL_VERSION = 1
REGRESSORS = ("linear", "tree", "boosting")
# Feature names and definitions, in the model's input order (kernels/_learned.py F_*).
FEATURES = {
    "max_gap": "largest |weight - target| over the assets (fraction of wealth)",
    "sum_gap": "sum of |weight - target| over the assets (fraction of wealth)",
    "trade_cost": "proportional cost of trading back to target (fraction of wealth)",
    "trailing_vol": "volatility of the target mix over the trailing window (annual fraction)",
    "trailing_return": "mean simple return of the target mix over the trailing window (annual)",
    "years_since_rebalance": "years since the last trade (or the start)",
    "years_to_horizon": "years left to the horizon",
    "log_wealth": "log of wealth over initial wealth",
}
ACTIONS = ("hold", "edge", "target")
_N_OUT = 2  # advantages of edge and of target over hold


@dataclass(frozen=True, eq=False)
class LearnedModel:
    """A fitted model of the learned policy, as the arrays the kernel evaluates.

    Attributes
    ----------
    regressor : {"linear", "tree", "boosting"}
    assets : list of str
        The assets it was trained on, in order.
    cost_rates : ndarray (n_assets,)
        Proportional cost per asset (fraction of traded value) of the training scenario,
        used by the ``trade_cost`` feature.
    band : float
        Half-width of the band the "edge" action trades to (weight points, fraction).
    check_every, window : int
        Steps between checks; steps of the trailing window.
    out_offset, out_scale : ndarray (2,)
        Advantage = offset + scale * raw prediction.
    arrays : dict of ndarray
        Linear: ``mean, scale, powers, coef, intercept``; trees: ``bias, root, weight,
        feature, threshold, left, right, value``.
    scenario_hash : str
        Hash of the training scenario.
    info : dict
        Training settings and diagnostics (feature importances, seeds, timings).
    """

    regressor: str
    assets: list[str]
    cost_rates: np.ndarray
    band: float
    check_every: int
    window: int
    out_offset: np.ndarray
    out_scale: np.ndarray
    arrays: dict[str, np.ndarray]
    scenario_hash: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> int:
        return kl.MODEL_LINEAR if self.regressor == "linear" else kl.MODEL_FOREST

    @property
    def n_terms(self) -> int:
        a = self.arrays
        return int(a["powers"].shape[0]) if self.regressor == "linear" else int(a["root"].size)

    @property
    def n_nodes(self) -> int:
        return 0 if self.regressor == "linear" else int(self.arrays["feature"].size)

    def model_block(self) -> np.ndarray:
        """The model block of the params (see ``kernels/_learned.py``)."""
        a = self.arrays
        parts = [self.out_offset, self.out_scale]
        if self.regressor == "linear":
            keys = ("mean", "scale", "powers", "coef", "intercept")
        else:
            keys = ("bias", "root", "weight", "feature", "threshold", "left", "right", "value")
        parts += [np.asarray(a[k], dtype=np.float64).ravel() for k in keys]
        return np.concatenate(parts)

    def params(self, n_steps: int, steps_per_year: int, initial_wealth: float) -> np.ndarray:
        """The rule's params for a run of ``n_steps`` steps (see ``kernels/_learned.py``)."""
        n = len(self.assets)
        th = np.zeros(TH.N_FIXED + 2 * n)
        th[TH.CHECK_EVERY] = 1
        th[TH.TRADE_TO] = TRADE_TO_EDGE
        th[TH.FRACTION] = 1.0
        th[TH.DRIFT_BAND] = np.inf
        th[TH.N_FIXED : TH.N_FIXED + n] = self.band
        th[TH.N_FIXED + n :] = np.inf
        ln = np.zeros(kl.LN.N_FIXED)
        ln[kl.LN.EVERY] = self.check_every
        ln[kl.LN.N_STEPS] = n_steps
        ln[kl.LN.STEPS_PER_YEAR] = steps_per_year
        ln[kl.LN.WINDOW] = self.window
        ln[kl.LN.INITIAL_WEALTH] = initial_wealth
        ln[kl.LN.MODEL_KIND] = self.kind
        ln[kl.LN.N_FEATURES] = len(FEATURES)
        ln[kl.LN.N_OUT] = _N_OUT
        ln[kl.LN.N_TERMS] = self.n_terms
        ln[kl.LN.N_NODES] = self.n_nodes
        return np.concatenate([th, ln, self.cost_rates, self.model_block()])

    def state0(self) -> np.ndarray:
        """The rule's initial state: events, last trade, steps seen, then feature and output
        scratch and the ring of trailing target-mix returns."""
        return np.zeros(kl.LS.N_FIXED + len(FEATURES) + _N_OUT + self.window)

    # -- files ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "mcsim-learned-model",
            "version": MODEL_VERSION,
            "regressor": self.regressor,
            "assets": list(self.assets),
            "n_assets": len(self.assets),
            "features": [{"name": k, "definition": v} for k, v in FEATURES.items()],
            "actions": list(ACTIONS),
            "cost_rates": self.cost_rates.tolist(),
            "band": self.band,
            "check_every": self.check_every,
            "window": self.window,
            "out_offset": self.out_offset.tolist(),
            "out_scale": self.out_scale.tolist(),
            "arrays": {k: np.asarray(v).tolist() for k, v in self.arrays.items()},
            "training_scenario_hash": self.scenario_hash,
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON to ``path`` (through a temporary file, so a failed write
        leaves any previous file as it was)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, where: str) -> LearnedModel:
        """Read and check a model file; errors name ``where`` (``[policies.x].model``)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"`{where}` = {str(path)!r}: no such file. Train one with `mcsim learn "
                "SCENARIO --out model.json`, or remove `model` to train in the run."
            )
        try:
            d = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(
                f"`{where}` = {str(path)!r} is not valid JSON ({e}); train it again with "
                "`mcsim learn`."
            ) from e
        return cls.from_dict(d, where)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> LearnedModel:
        """A model from its JSON table, checked: format, version, features, shapes."""

        def bad(what: str) -> ConfigError:
            return ConfigError(
                f"`{where}`: {what}; train the model again with `mcsim learn` for this scenario."
            )

        if not isinstance(d, dict) or d.get("format") != "mcsim-learned-model":
            raise bad("not an mcsim learned-policy model file")
        if d.get("version") != MODEL_VERSION:
            raise bad(
                f"model format version {d.get('version')!r}, this mcsim reads {MODEL_VERSION}"
            )
        names = [f.get("name") if isinstance(f, dict) else f for f in d.get("features", [])]
        if names != list(FEATURES):
            raise bad(f"trained on features {names}, this mcsim computes {list(FEATURES)}")
        regressor = d.get("regressor")
        if regressor not in REGRESSORS:
            raise bad(f"unknown regressor {regressor!r}; known: {', '.join(REGRESSORS)}")
        try:
            assets = [str(a) for a in d["assets"]]
            arrays = {k: np.asarray(v, dtype=np.float64) for k, v in d["arrays"].items()}
            model = cls(
                regressor=regressor,
                assets=assets,
                cost_rates=np.asarray(d["cost_rates"], dtype=np.float64),
                band=float(d["band"]),
                check_every=int(d["check_every"]),
                window=int(d["window"]),
                out_offset=np.asarray(d["out_offset"], dtype=np.float64),
                out_scale=np.asarray(d["out_scale"], dtype=np.float64),
                arrays=arrays,
                scenario_hash=str(d.get("training_scenario_hash", "")),
                info=dict(d.get("info", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise bad(f"a field is missing or malformed ({e!r})") from e
        problem = model.inconsistency()
        if problem:
            raise bad(f"inconsistent arrays: {problem}")
        return model

    def inconsistency(self) -> str | None:
        """What is inconsistent in the arrays, or None."""
        n, nf, a = len(self.assets), len(FEATURES), self.arrays
        if self.cost_rates.shape != (n,) or not np.all(np.isfinite(self.cost_rates)):
            return f"cost_rates must be {n} finite numbers"
        if not (0.0 <= self.band < 1.0) or self.check_every < 1 or self.window < 1:
            return "band must be in [0, 1), check_every and window >= 1"
        if self.out_offset.shape != (_N_OUT,) or self.out_scale.shape != (_N_OUT,):
            return f"out_offset and out_scale must have {_N_OUT} values"
        if self.regressor == "linear":
            need = {"mean", "scale", "powers", "coef", "intercept"}
            if set(a) != need:
                return f"linear arrays must be {sorted(need)}"
            k = a["powers"].shape[0] if a["powers"].ndim == 2 else -1
            shapes = {
                "mean": (nf,), "scale": (nf,), "powers": (k, nf), "coef": (_N_OUT, k),
                "intercept": (_N_OUT,),
            }  # fmt: skip
            for key, shape in shapes.items():
                if a[key].shape != shape:
                    return f"{key} has shape {a[key].shape}, expected {shape}"
            if np.any(a["scale"] == 0) or np.any(a["powers"] < 0):
                return "scale must be non-zero and powers >= 0"
        else:
            need = {"bias", "root", "weight", "feature", "threshold", "left", "right", "value"}
            if set(a) != need:
                return f"tree arrays must be {sorted(need)}"
            m = a["feature"].size
            t = a["root"].size
            if t < 1 or m < 1:
                return "a tree model needs at least one tree and one node"
            for key, shape in {
                "bias": (_N_OUT,), "root": (t,), "weight": (t,), "threshold": (m,),
                "left": (m,), "right": (m,), "value": (m, _N_OUT),
            }.items():  # fmt: skip
                if a[key].shape != shape:
                    return f"{key} has shape {a[key].shape}, expected {shape}"
            left, right, feat = a["left"], a["right"], a["feature"]
            split = left >= 0
            if np.any((left >= m) | (right >= m)) or np.any(split & (right < 0)):
                return "child indices must point at nodes"
            if np.any(split & ((feat < 0) | (feat >= nf))):
                return f"split features must be in 0..{nf - 1}"
            # Children come after their parent, so every walk ends at a leaf.
            idx = np.arange(m)
            if np.any(split & ((left <= idx) | (right <= idx))):
                return "children must come after their parent"
            if np.any((a["root"] < 0) | (a["root"] >= m)):
                return "tree roots must point at nodes"
        for key, v in a.items():
            if not np.all(np.isfinite(v)) and key != "threshold":
                return f"{key} has values that are not finite"
        return None

    def check_for(self, assets: list[str], where: str) -> None:
        """Refuse a run on other assets than the training scenario's."""
        if list(assets) != list(self.assets):
            raise ConfigError(
                f"`{where}`: the model was trained on {len(self.assets)} assets "
                f"({', '.join(self.assets)}), the scenario has {len(assets)} "
                f"({', '.join(assets)}); train it for this scenario with `mcsim learn`."
            )
