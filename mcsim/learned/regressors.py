"""The scikit-learn regressors of the learned policy, and their export to plain arrays.

scikit-learn is imported inside these functions: it is slow to import and only training
needs it (evaluation runs on the exported arrays in the kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["export", "fit_regressor", "importances"]

_RIDGE_ALPHA = 1.0
_BOOST_STAGES = 40
_BOOST_RATE = 0.1


class LinearRegressor:
    """Ridge regression on polynomial features of the standardised features."""

    def __init__(self, degree: int) -> None:
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import PolynomialFeatures

        self.poly = PolynomialFeatures(degree=degree, include_bias=False)
        self.ridge = Ridge(alpha=_RIDGE_ALPHA)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> LinearRegressor:
        self.mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale == 0] = 1.0
        self.scale = scale
        self.ridge.fit(self.poly.fit_transform((X - self.mean) / self.scale), Y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.ridge.predict(self.poly.transform((X - self.mean) / self.scale))


class BoostingRegressor:
    """One small gradient-boosting regressor per output."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = min(max_depth, 3)
        self.models: list[Any] = []

    def fit(self, X: np.ndarray, Y: np.ndarray) -> BoostingRegressor:
        from sklearn.ensemble import GradientBoostingRegressor

        self.models = [
            GradientBoostingRegressor(
                n_estimators=_BOOST_STAGES,
                learning_rate=_BOOST_RATE,
                max_depth=self.max_depth,
                subsample=0.8,
                min_samples_leaf=max(20, X.shape[0] // 500),
                random_state=0,
            ).fit(X, Y[:, o])
            for o in range(Y.shape[1])
        ]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict(X) for m in self.models])


def fit_regressor(settings: Any, X: np.ndarray, Y: np.ndarray) -> Any:
    """Fit the regressor named by ``settings.regressor`` on ``X`` (rows, features) and the
    outputs ``Y`` (rows, outputs); deterministic (fixed random states)."""
    if settings.regressor == "linear":
        return LinearRegressor(settings.degree).fit(X, Y)
    if settings.regressor == "tree":
        from sklearn.tree import DecisionTreeRegressor

        return DecisionTreeRegressor(
            max_depth=settings.max_depth,
            min_samples_leaf=max(20, X.shape[0] // 200),
            random_state=0,
        ).fit(X, Y)
    return BoostingRegressor(settings.max_depth).fit(X, Y)


def _tree_arrays(tree: Any, n_out: int, output: int | None) -> dict[str, np.ndarray]:
    t = tree.tree_
    value = t.value[:, :, 0]
    if output is not None:
        full = np.zeros((t.node_count, n_out))
        full[:, output] = value[:, 0]
        value = full
    return {
        "feature": np.where(t.children_left >= 0, t.feature, -1).astype(np.float64),
        "threshold": t.threshold.astype(np.float64),
        "left": t.children_left.astype(np.float64),
        "right": t.children_right.astype(np.float64),
        "value": value.astype(np.float64),
    }


def export(name: str, est: Any) -> dict[str, np.ndarray]:
    """The arrays of a fitted regressor (``LearnedModel.arrays``)."""
    if name == "linear":
        return {
            "mean": est.mean.copy(),
            "scale": est.scale.copy(),
            "powers": est.poly.powers_.astype(np.float64),
            "coef": np.atleast_2d(est.ridge.coef_).astype(np.float64),
            "intercept": np.atleast_1d(est.ridge.intercept_).astype(np.float64),
        }
    if name == "tree":
        trees = [(est, None, 1.0)]
        n_out = est.n_outputs_
        bias = np.zeros(n_out)
    else:
        n_out = len(est.models)
        trees = [
            (stage[0], o, m.learning_rate)
            for o, m in enumerate(est.models)
            for stage in m.estimators_
        ]
        bias = np.array([float(np.ravel(m.init_.constant_)[0]) for m in est.models])
    parts = []
    roots = []
    offset = 0
    for tree, output, _ in trees:
        a = _tree_arrays(tree, n_out, output)
        split = a["left"] >= 0
        a["left"] = np.where(split, a["left"] + offset, -1.0)
        a["right"] = np.where(split, a["right"] + offset, -1.0)
        roots.append(offset)
        offset += a["feature"].size
        parts.append(a)
    return {
        "bias": bias,
        "root": np.array(roots, dtype=np.float64),
        "weight": np.array([w for _, _, w in trees], dtype=np.float64),
        **{k: np.concatenate([p[k] for p in parts]) for k in parts[0]},
    }


def importances(name: str, est: Any, X: np.ndarray) -> list[float]:
    """Feature importances summing to one: the trees' impurity decrease; for the linear
    model, each term's coefficient times its spread on ``X``, shared by its features."""
    if name == "tree":
        imp = np.asarray(est.feature_importances_, dtype=np.float64)
    elif name == "boosting":
        imp = np.mean([m.feature_importances_ for m in est.models], axis=0)
    else:
        terms = est.poly.transform((X - est.mean) / est.scale)
        weight = np.abs(np.atleast_2d(est.ridge.coef_)).mean(axis=0) * terms.std(axis=0)
        powers = est.poly.powers_.astype(np.float64)
        share = powers / np.maximum(powers.sum(axis=1, keepdims=True), 1.0)
        imp = weight @ share
    total = imp.sum()
    return [float(v) for v in (imp / total if total > 0 else imp)]
