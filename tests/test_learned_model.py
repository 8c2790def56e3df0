"""The learned policy's exported model: kernel evaluation against scikit-learn, and the
checks of a model file."""

import dataclasses
import json

import numpy as np
import pytest
from mcsim.kernels import _learned as kl

import mcsim
from mcsim.errors import ConfigError
from mcsim.learned import FEATURES, LearnedModel, LearnedPolicy, TrainSettings, predict
from mcsim.learned.regressors import export, fit_regressor

N_FEATURES = len(FEATURES)


def _data(n=4_000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES)) * np.linspace(0.1, 3.0, N_FEATURES)
    Y = np.column_stack([np.sin(X[:, 0]) + X[:, 3] * X[:, 5], X[:, 1] ** 2 - X[:, 6]])
    return X, Y + 0.1 * rng.normal(size=Y.shape)


def _model(regressor, est, assets=("a", "b")):
    return LearnedModel(
        regressor=regressor,
        assets=list(assets),
        cost_rates=np.full(len(assets), 0.001),
        band=0.05,
        check_every=3,
        window=12,
        out_offset=np.zeros(2),
        out_scale=np.ones(2),
        arrays=export(regressor, est),
    )


@pytest.mark.parametrize("regressor", ["linear", "tree", "boosting"])
def test_kernel_evaluation_equals_sklearn_predict_on_10000_vectors(regressor):
    X, Y = _data()
    est = fit_regressor(TrainSettings(name="x", regressor=regressor, max_depth=4), X, Y)
    model = _model(regressor, est)
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(10_000, N_FEATURES)) * 2.0
    ours = predict(model, Z)
    theirs = est.predict(Z)
    if regressor == "tree":
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_output_scaling_is_applied_after_the_raw_prediction():
    X, Y = _data(1_000)
    est = fit_regressor(TrainSettings(name="x", regressor="tree", max_depth=3), X, Y)
    model = dataclasses.replace(
        _model("tree", est), out_offset=np.array([1.0, -2.0]), out_scale=np.array([-0.5, 3.0])
    )
    np.testing.assert_array_equal(
        predict(model, X), np.array([1.0, -2.0]) + np.array([-0.5, 3.0]) * est.predict(X)
    )


def test_a_model_survives_its_json_file(tmp_path):
    X, Y = _data(1_000)
    est = fit_regressor(TrainSettings(name="x", regressor="linear"), X, Y)
    model = _model("linear", est)
    back = LearnedModel.load(model.save(tmp_path / "m.json"), "[policies.x].model")
    np.testing.assert_array_equal(predict(back, X), predict(model, X))
    assert json.loads((tmp_path / "m.json").read_text())["n_assets"] == 2


@pytest.fixture
def tree_file(tmp_path):
    X, Y = _data(1_000)
    est = fit_regressor(TrainSettings(name="x", regressor="tree", max_depth=3), X, Y)
    path = _model("tree", est).save(tmp_path / "model.json")
    return path, json.loads(path.read_text())


def _write(path, d):
    path.write_text(json.dumps(d))
    return path


WHERE = r"`\[policies\.x\]\.model`"


def test_a_missing_file_is_refused_with_the_field_and_the_fix(tmp_path):
    with pytest.raises(ConfigError, match=WHERE + r".*no such file.*mcsim learn"):
        LearnedModel.load(tmp_path / "nope.json", "[policies.x].model")


def test_invalid_json_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=WHERE + r".*not valid JSON"):
        LearnedModel.load(path, "[policies.x].model")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["features"].pop(), "trained on features"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(format="other"), "not an mcsim learned-policy model"),
        (lambda d: d.update(regressor="forest"), "unknown regressor"),
        (lambda d: d["arrays"]["left"].pop(), "inconsistent arrays: left has shape"),
        (lambda d: d["arrays"]["right"].__setitem__(0, 10_000), "child indices"),
        (lambda d: d["arrays"]["feature"].__setitem__(0, 42), "split features"),
        (lambda d: d["arrays"]["left"].__setitem__(0, 0), "children must come after"),
        (lambda d: d.update(cost_rates=[0.001]), "cost_rates"),
        (lambda d: d["arrays"].pop("value"), "tree arrays must be"),
        (lambda d: d.pop("band"), "missing or malformed"),
    ],
)
def test_inconsistent_model_files_are_refused(tree_file, change, message):
    path, d = tree_file
    change(d)
    with pytest.raises(ConfigError, match=WHERE + ".*" + message):
        LearnedModel.load(_write(path, d), "[policies.x].model")


def test_a_model_for_other_assets_is_refused_before_simulating(tree_file):
    path, _ = tree_file
    scenario = mcsim.Scenario.from_dict(
        {
            "simulation": {"n_paths": 10, "horizon_years": 1, "steps_per_year": 12, "seed": 1},
            "model": {
                "kind": "gaussian",
                "assets": ["a", "b", "c"],
                "mu": [0.05, 0.05, 0.05],
                "vol": [0.1, 0.1, 0.1],
                "corr": np.eye(3).tolist(),
            },
            "portfolio": {"target": {"a": 0.4, "b": 0.3, "c": 0.3}},
            "policies": [{"name": "x", "kind": "learned", "model": str(path)}],
        }
    )
    with pytest.raises(ConfigError, match=WHERE + r".*trained on 2 assets.*has 3"):
        mcsim.prepare(scenario)


def test_policy_fields_are_checked():
    with pytest.raises(ConfigError, match=r"`\[policies\.x\]\.regressor`"):
        LearnedPolicy(name="x", regressor="forest")
    with pytest.raises(ConfigError, match=r"`\[policies\.x\]\.band`"):
        LearnedPolicy(name="x", band=1.5)
    with pytest.raises(ConfigError, match=r"`\[policies\.x\]\.glide`"):
        LearnedPolicy(name="x", glide={"end": {"a": 0.5, "b": 0.5}, "end_year": 5})
    with pytest.raises(ConfigError, match=r"has no model"):
        LearnedPolicy(name="x").rule(
            mcsim.policies.PolicyContext(
                asset_names=["a"], steps_per_year=12, n_steps=12, target=np.ones(1)
            )
        )


@pytest.mark.parametrize("every, window", [(1, 12), (3, 12), (5, 4), (12, 6)])
def test_the_cached_trailing_window_gives_the_same_bits(every, window):
    rng = np.random.default_rng(every)
    returns = rng.normal(0.005, 0.04, size=(120, 3))
    target = np.array([0.5, 0.3, 0.2])
    ring = kl.LS.N_FIXED
    state = np.zeros(ring + window)
    for t in range(every - 1, 120, every):
        assert kl.trailing_cached_nb(returns, t, target, window, state, ring) == (
            kl.trailing_market_nb(returns, t, target, float(window))
        )
