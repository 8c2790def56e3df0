"""Reverse stress test: the [failure] section, failing flags, path features, anatomy, CSV."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mcsim.kernels import _features as fk
from mcsim.kernels import layout

from mcsim.errors import ConfigError, OutputError
from mcsim.failure import (
    FEATURES,
    FailureConfig,
    failure_anatomy,
    failure_flags,
    feature_infos,
    feature_names,
    path_features,
    write_failure_csv,
)
from mcsim.testing.features import path_features_reference

# --- the [failure] section -------------------------------------------------------------------


def test_config_reads_every_condition():
    cfg = FailureConfig.from_config(
        {
            "ruin": True,
            "below_goal": True,
            "max_drawdown_above": 0.4,
            "cagr_below": 0,
            "terminal_wealth_below": 500_000,
            "real_terminal_wealth_below": 400_000,
            "mode": "all",
            "n_worst": 5,
        }
    )
    assert cfg.conditions() == [
        "ruin",
        "below_goal",
        "max_drawdown_above",
        "cagr_below",
        "terminal_wealth_below",
        "real_terminal_wealth_below",
    ]
    assert cfg.cagr_below == 0.0 and isinstance(cfg.cagr_below, float)
    assert cfg.to_dict()["mode"] == "all"
    assert FailureConfig.from_config(cfg.to_dict()) == cfg


def test_defaults_are_any_and_ten_worst():
    cfg = FailureConfig.from_config({"ruin": True})
    assert cfg.mode == "any" and cfg.n_worst == 10
    assert cfg.to_dict() == {"ruin": True, "mode": "any", "n_worst": 10}


@pytest.mark.parametrize(
    ("table", "pattern"),
    [
        (
            {"ruin": True, "max_drawdown_abov": 0.4},
            r"`\[failure\].max_drawdown_abov`.*Did you "
            r"mean `max_drawdown_above`\?",
        ),
        ({"ruin": "yes"}, r"`\[failure\].ruin` must be true or false"),
        ({"below_goal": 1}, r"`\[failure\].below_goal` must be true or false"),
        ({"max_drawdown_above": 1.5}, r"`\[failure\].max_drawdown_above` must be < 1"),
        ({"max_drawdown_above": -0.1}, r"`\[failure\].max_drawdown_above` must be >= 0"),
        ({"max_drawdown_above": "40%"}, r"`\[failure\].max_drawdown_above` must be a number"),
        ({"cagr_below": -1.0}, r"`\[failure\].cagr_below` must be > -1"),
        ({"cagr_below": math.nan}, r"`\[failure\].cagr_below` must be a finite number"),
        ({"terminal_wealth_below": 0}, r"`\[failure\].terminal_wealth_below` must be > 0"),
        ({"real_terminal_wealth_below": True}, r"`\[failure\].real_terminal_wealth_below`"),
        ({"ruin": True, "mode": "either"}, r"`\[failure\].mode` must be one of 'any', 'all'"),
        ({"ruin": True, "n_worst": -1}, r"`\[failure\].n_worst` must be >= 0"),
        ({"ruin": True, "n_worst": 2.5}, r"`\[failure\].n_worst` must be an integer"),
        ({}, r"`\[failure\]` sets no condition"),
        ({"ruin": False, "below_goal": False}, r"`\[failure\]` sets no condition"),
    ],
    ids=lambda v: None if isinstance(v, str) else (", ".join(v) or "empty"),
)
def test_bad_failure_section_names_the_field(table, pattern):
    with pytest.raises(ConfigError, match=pattern):
        FailureConfig.from_config(table)


def test_failure_section_must_be_a_table():
    with pytest.raises(ConfigError, match=r"`\[failure\]` must be a table"):
        FailureConfig.from_config([("ruin", True)])


def test_below_goal_needs_a_goal_at_resolve_time():
    cfg = FailureConfig.from_config({"below_goal": True})
    with pytest.raises(ConfigError, match=r"`\[failure\].below_goal`.*`\[simulation\].goal`"):
        cfg.check(None)
    cfg.check(2_000_000.0)
    FailureConfig.from_config({"ruin": True}).check(None)


# --- failing flags ---------------------------------------------------------------------------


def _metrics(**columns: list[float]) -> np.ndarray:
    """One policy's metrics (1, n_paths, N_METRICS) with the named columns set."""
    n = len(next(iter(columns.values())))
    m = np.zeros((1, n, layout.N_METRICS))
    for name, values in columns.items():
        m[0, :, getattr(layout, f"M_{name.upper()}")] = values
    return m


METRICS_A = _metrics(
    ruined=[0, 1, 0, 0, 1, 0],
    max_drawdown=[0.1, 0.9, 0.5, 0.4, 0.95, 0.2],
    cagr=[0.05, -1.0, -0.01, 0.0, -1.0, 0.03],
    terminal_wealth=[1.2, 0.0, 0.9, 1.0, 0.0, 1.5],
    real_terminal_wealth=[0.8, 0.0, 0.5, 0.7, 0.0, 1.1],
    goal_met=[1, 0, 0, 1, 0, 1],
)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"ruin": True}, [0, 1, 0, 0, 1, 0]),
        ({"below_goal": True}, [0, 1, 1, 0, 1, 0]),
        # Strict: a drawdown of exactly 0.4 does not exceed 0.4, a CAGR of 0 is not below 0.
        ({"max_drawdown_above": 0.4}, [0, 1, 1, 0, 1, 0]),
        ({"cagr_below": 0.0}, [0, 1, 1, 0, 1, 0]),
        ({"terminal_wealth_below": 1.0}, [0, 1, 1, 0, 1, 0]),
        ({"real_terminal_wealth_below": 0.75}, [0, 1, 1, 1, 1, 0]),
        ({"ruin": True, "max_drawdown_above": 0.3}, [0, 1, 1, 1, 1, 0]),
        ({"ruin": True, "max_drawdown_above": 0.3, "mode": "all"}, [0, 1, 0, 0, 1, 0]),
        (
            {"max_drawdown_above": 0.3, "real_terminal_wealth_below": 0.75, "mode": "all"},
            [0, 1, 1, 1, 1, 0],
        ),
        (
            {"max_drawdown_above": 0.45, "real_terminal_wealth_below": 0.75, "mode": "all"},
            [0, 1, 1, 0, 1, 0],
        ),
    ],
    ids=lambda v: None if isinstance(v, list) else ",".join(f"{k}={x}" for k, x in v.items()),
)
def test_conditions_combine_as_documented(table, expected):
    flags = failure_flags(FailureConfig.from_config(table), METRICS_A)
    assert flags.dtype == bool and flags.shape == (1, 6)
    assert flags[0].tolist() == [bool(x) for x in expected]


def test_flags_are_per_policy():
    metrics = np.concatenate([METRICS_A, METRICS_A[:, ::-1]])
    flags = failure_flags(FailureConfig.from_config({"ruin": True}), metrics)
    assert flags.tolist() == [
        [False, True, False, False, True, False],
        [False, True, False, False, True, False][::-1],
    ]


def test_nan_metric_meets_no_condition():
    metrics = _metrics(cagr=[math.nan, -0.5], max_drawdown=[math.nan, 0.1])
    cfg = FailureConfig.from_config({"cagr_below": 0.0})
    assert failure_flags(cfg, metrics)[0].tolist() == [False, True]


def test_custom_metric_columns():
    metrics = np.zeros((1, 3, 2))
    metrics[0, :, 1] = [0.5, 0.2, 0.7]
    cfg = FailureConfig.from_config({"max_drawdown_above": 0.4})
    assert failure_flags(cfg, metrics, {"max_drawdown": 1})[0].tolist() == [True, False, True]
    with pytest.raises(ConfigError, match="no column for metric 'max_drawdown'"):
        failure_flags(cfg, metrics, {"cagr": 0})
    with pytest.raises(ConfigError, match="`metrics` must have shape"):
        failure_flags(cfg, metrics[0])


# --- anatomy ---------------------------------------------------------------------------------

FLAGS = np.array([[0, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0]], dtype=bool)
FEATS = np.array([[1.0, 10.0], [2.0, math.nan], [3.0, 30.0], [4.0, 40.0], [5.0, 50.0], [6.0, 60.0]])
TW = np.array([[1.2, 0.0, 0.9, 1.0, 0.0, 1.5], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])


def _anatomy(**kwargs):
    args = {"worst_metric": TW, "n_worst": 2}
    args.update(kwargs)
    return failure_anatomy(FLAGS, FEATS, ["a", "b"], ["f0", "f1"], **args)


def test_share_failing_and_binomial_se():
    s = _anatomy().summary
    assert s.index.tolist() == ["a", "b"]
    assert s.loc["a", "n_paths"] == 6 and s.loc["a", "n_failing"] == 3
    assert s.loc["a", "share_failing"] == 0.5
    assert s.loc["a", "share_failing_se"] == pytest.approx(math.sqrt(0.25 / 6), rel=1e-15)
    assert s.loc["b", "share_failing"] == 0.0 and s.loc["b", "share_failing_se"] == 0.0


def test_feature_means_percentiles_and_welch_se_by_hand():
    f = _anatomy().for_policy("a")
    # Failing paths 1, 2, 4 -> f0 = 2, 3, 5; surviving 0, 3, 5 -> 1, 4, 6.
    row = f.loc["f0"]
    assert row["failing_n"] == 3 and row["surviving_n"] == 3
    assert row["failing_mean"] == pytest.approx(10 / 3)
    assert row["surviving_mean"] == pytest.approx(11 / 3)
    # Linear interpolation: p10 of (2, 3, 5) sits 0.2 of the way from 2 to 3.
    assert (row["failing_p10"], row["failing_p50"], row["failing_p90"]) == pytest.approx(
        (2.2, 3.0, 4.6)
    )
    assert (row["surviving_p10"], row["surviving_p50"], row["surviving_p90"]) == pytest.approx(
        (1.6, 4.0, 5.6)
    )
    assert row["difference"] == pytest.approx(-1 / 3)
    # Sample variances 7/3 and 19/3 over 3 paths each.
    assert row["difference_se"] == pytest.approx(math.sqrt(7 / 9 + 19 / 9))


def test_undefined_feature_values_are_left_out_of_their_group():
    row = _anatomy().for_policy("a").loc["f1"]
    assert row["failing_n"] == 2 and row["failing_mean"] == 40.0
    assert row["surviving_n"] == 3 and row["surviving_mean"] == pytest.approx(110 / 3)
    # Sample variances 200 (30, 50) and 1900/3 (10, 40, 60).
    assert row["difference_se"] == pytest.approx(math.sqrt(200 / 2 + 1900 / 3 / 3))


def test_a_policy_without_failures_has_empty_failing_stats():
    row = _anatomy().for_policy("b").loc["f0"]
    assert row["failing_n"] == 0
    assert math.isnan(row["failing_mean"]) and math.isnan(row["difference"])
    assert math.isnan(row["difference_se"])
    assert row["surviving_mean"] == 3.5
    assert "b" not in _anatomy().worst.index.get_level_values("policy")


def test_worst_paths_are_the_lowest_terminal_wealth_among_failing():
    worst = _anatomy().worst
    # Failing paths 1, 2, 4 have wealth 0, 0.9, 0: the tie keeps path order.
    assert worst.loc["a", "path"].tolist() == [1, 4]
    assert worst.loc["a", "value"].tolist() == [0.0, 0.0]
    assert worst.loc["a"].index.tolist() == [1, 2]
    everything = _anatomy(n_worst=10).worst
    assert everything.loc["a", "path"].tolist() == [1, 4, 2]
    assert _anatomy(n_worst=0).worst.empty


def test_path_ids_map_rows_to_the_runs_paths():
    worst = _anatomy(path_ids=np.arange(100, 106)).worst
    assert worst.loc["a", "path"].tolist() == [101, 104]


def test_per_policy_features():
    feats = np.stack([FEATS, FEATS * 2.0])
    flags = np.array([FLAGS[0], FLAGS[0]])
    f = failure_anatomy(flags, feats, ["a", "b"], ["f0", "f1"], worst_metric=TW).features
    assert f.loc[("b", "f0"), "failing_mean"] == pytest.approx(20 / 3)
    assert f.loc[("a", "f0"), "failing_mean"] == pytest.approx(10 / 3)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"flags": FLAGS[0]}, "`flags` must have shape"),
        ({"features": FEATS[:4]}, "`features` must have shape"),
        ({"policy_names": ["a"]}, "`policy_names` has 1 names for 2 policies"),
        ({"feature_names": ["f0"]}, "`feature_names` has 1 names for 2 features"),
        ({"worst_metric": TW[0]}, r"`worst_metric` must have shape \(2, 6\)"),
        ({"path_ids": np.arange(3)}, "`path_ids` must have 6 entries"),
        ({"n_worst": -2}, "`n_worst` must be >= 0"),
    ],
    ids=lambda v: None if isinstance(v, str) else next(iter(v)),
)
def test_anatomy_refuses_inconsistent_inputs(kwargs, pattern):
    args = {
        "flags": FLAGS,
        "features": FEATS,
        "policy_names": ["a", "b"],
        "feature_names": ["f0", "f1"],
        "worst_metric": TW,
    }
    args.update(kwargs)
    with pytest.raises(ConfigError, match=pattern):
        failure_anatomy(**args)


def test_unknown_policy_is_named():
    with pytest.raises(ConfigError, match="Unknown policy 'c'; policies: a, b"):
        _anatomy().for_policy("c")


# --- failure.csv -----------------------------------------------------------------------------


def test_failure_csv_is_tidy_and_round_trips(tmp_path):
    anatomy = _anatomy()
    path = write_failure_csv(anatomy, tmp_path / "failure.csv")
    assert path == tmp_path / "failure.csv"
    assert [p.name for p in tmp_path.iterdir()] == ["failure.csv"]
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert table.columns.tolist() == ["policy", "feature", "group", "statistic", "value"]

    def value(policy, feature, group, statistic):
        sel = table[
            (table.policy == policy)
            & (table.feature == feature)
            & (table.group == group)
            & (table.statistic == statistic)
        ]
        assert len(sel) == 1, (policy, feature, group, statistic)
        return sel.value.iloc[0]

    assert value("a", "paths", "all", "share_failing") == 0.5
    assert value("a", "paths", "all", "n_failing") == 3
    assert value("a", "f0", "failing", "mean") == anatomy.features.loc[("a", "f0"), "failing_mean"]
    assert value("a", "f0", "surviving", "p90") == pytest.approx(5.6, rel=1e-15)
    assert value("a", "f0", "difference", "se") == pytest.approx(math.sqrt(26 / 9), rel=1e-15)
    assert math.isnan(value("b", "f0", "failing", "mean"))
    assert value("a", "worst_path", "failing", "rank_1") == 1
    assert value("a", "worst_path", "failing", "rank_2") == 4
    assert value("a", "worst_value", "failing", "rank_2") == 0.0
    # 2 policies x (4 summary + 2 features x 12) + 2 worst paths x 2 rows.
    assert len(table) == 2 * (4 + 2 * 12) + 4


def test_failure_csv_into_a_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match=r"could not write .*failure\.csv"):
        write_failure_csv(_anatomy(), tmp_path / "missing" / "failure.csv")


def test_failure_csv_replaces_an_earlier_file_whole(tmp_path):
    dest = tmp_path / "failure.csv"
    dest.write_text("old\n" * 10_000)
    write_failure_csv(_anatomy(), dest)
    assert dest.read_text().startswith("policy,feature,group,statistic,value\n")
    assert "old" not in dest.read_text()


# --- path features ---------------------------------------------------------------------------


def test_feature_columns_are_labelled_once_each():
    assert [f.column for f in FEATURES] == list(range(fk.N_FIXED_FEATURES))
    assert len({f.name for f in FEATURES}) == len(FEATURES)
    assert all(f.unit and f.description for f in FEATURES)
    infos = feature_infos(["stocks", "bonds"])
    assert [i.column for i in infos] == list(range(fk.N_FIXED_FEATURES + 2))
    assert feature_names(["stocks", "bonds"])[-2:] == ["stocks_return_5y", "bonds_return_5y"]


@pytest.mark.parametrize("n_steps", [1, 2, 11, 12, 59, 60, 119, 120, 150])
@pytest.mark.parametrize("inflation_index", [-1, 1])
def test_kernel_matches_the_numpy_twin(n_steps, inflation_index):
    rng = np.random.default_rng(n_steps)
    returns = rng.normal(0.006, 0.045, (9, n_steps, 3))
    asset_index = [2, 0] if inflation_index == 1 else [2, 1]
    weights = np.array([0.7, 0.3])
    got = path_features(returns, weights, asset_index, inflation_index, 12)
    want = path_features_reference(returns, weights, np.array(asset_index), inflation_index, 12)
    assert got.shape == (9, fk.N_FIXED_FEATURES + 2)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15, equal_nan=True)
    assert np.isnan(got[:, fk.F_RETURN_5Y]).all() == (n_steps < 60)
    assert np.isnan(got[:, fk.F_RETURN_10Y]).all() == (n_steps < 120)
    assert np.isnan(got[:, fk.F_WORST_12M]).all() == (n_steps < 12)
    assert np.isnan(got[:, fk.F_VOLATILITY]).all() == (n_steps < 2)
    assert np.isnan(got[:, fk.F_INFLATION]).all() == (inflation_index < 0)


def test_annual_steps_match_the_twin():
    rng = np.random.default_rng(7)
    returns = rng.normal(0.05, 0.15, (5, 30, 1))
    got = path_features(returns, [1.0], [0], -1, 1)
    want = path_features_reference(returns, np.array([1.0]), np.array([0]), -1, 1)
    np.testing.assert_allclose(got, want, rtol=1e-10, equal_nan=True)


def test_features_by_hand_on_a_planted_crash():
    # Monthly: 1 % a month for 15 years, except a 12-month slump of -3 % a month in year 7.
    n = 180
    stocks = np.full(n, 0.01)
    crash_start = 6 * 12 + 5
    stocks[crash_start : crash_start + 12] = -0.03
    bonds = np.full(n, 0.002)
    cpi = np.full(n, 0.0025)
    returns = np.stack([stocks, cpi, bonds], axis=-1)[None]
    f = path_features(returns, [0.5, 0.5], [0, 2], 1, 12)[0]
    r_p = 0.5 * stocks + 0.5 * bonds
    assert f[fk.F_RETURN_5Y] == pytest.approx(1.006**12 - 1.0, rel=1e-12)
    assert f[fk.F_RETURN_10Y] == pytest.approx(np.prod(1 + r_p[:120]) ** 0.1 - 1.0, rel=1e-12)
    assert f[fk.F_WORST_12M] == pytest.approx(0.986**12 - 1.0, rel=1e-12)
    assert f[fk.F_WORST_12M_YEAR] == crash_start / 12
    assert f[fk.F_VOLATILITY] == pytest.approx(np.std(r_p, ddof=1) * math.sqrt(12), rel=1e-12)
    assert f[fk.F_INFLATION] == pytest.approx(1.0025**12 - 1.0, rel=1e-12)
    assert f[fk.N_FIXED_FEATURES] == pytest.approx(1.01**60 - 1.0, rel=1e-12)
    assert f[fk.N_FIXED_FEATURES + 1] == pytest.approx(1.002**60 - 1.0, rel=1e-12)


def test_constant_returns_have_no_volatility():
    returns = np.full((2, 24, 2), 0.004)
    f = path_features(returns, [0.5, 0.5], [0, 1], -1, 12)
    # Only the rounding of the mean remains (the two-pass sum has no cancellation).
    np.testing.assert_allclose(f[:, fk.F_VOLATILITY], 0.0, atol=1e-16)


def test_features_fill_a_given_buffer():
    returns = np.full((3, 24, 1), 0.01)
    out = np.full((3, fk.N_FIXED_FEATURES + 1), -9.0)
    assert path_features(returns, [1.0], [0], -1, 12, out=out) is out
    assert not (out == -9.0).any()
    with pytest.raises(ConfigError, match="`out` must be a C-contiguous float64 array"):
        path_features(returns, [1.0], [0], -1, 12, out=np.empty((3, 2)))


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (([0.6, 0.3], [0, 1], -1, 12), "`weights` must be finite, >= 0 and sum to 1"),
        (([1.2, -0.2], [0, 1], -1, 12), "`weights` must be finite, >= 0 and sum to 1"),
        (([math.nan, 1.0], [0, 1], -1, 12), "`weights` must be finite"),
        (([0.5, 0.5], [0], -1, 12), r"`weights` \(2\) and `asset_index` \(1\)"),
        (([0.5, 0.5], [0, 3], -1, 12), r"must be distinct columns in \[0, 3\)"),
        (([0.5, 0.5], [0, 1], 1, 12), "must be distinct columns"),
        (([0.5, 0.5], [0, 1], 2, 0), "`steps_per_year` must be >= 1"),
    ],
    ids=["sum", "negative", "nan", "lengths", "index_range", "inflation_is_asset", "steps"],
)
def test_bad_feature_inputs_are_refused(args, pattern):
    returns = np.zeros((2, 24, 3))
    with pytest.raises(ConfigError, match=pattern):
        path_features(returns, *args)


def test_features_of_a_one_dimensional_block_are_refused():
    with pytest.raises(ConfigError, match=r"`returns` must have shape \(m, n_steps, n_series\)"):
        path_features(np.zeros((24, 2)), [0.5, 0.5], [0, 1], -1, 12)
