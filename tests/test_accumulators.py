"""Mergeable per-policy sums (mcsim.accumulators) against the per-path computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcsim.kernels import layout
from mcsim.kernels._stats import histogram_bin_nb

from mcsim.accumulators import (
    DRAWDOWN_BINS,
    DRAWDOWN_WIDTH,
    Accumulator,
    accumulator_bytes,
    merge_in_order,
)
from mcsim.decision import DecisionConfig, ranking_table, selection_mask
from mcsim.errors import ConfigError, DataError
from mcsim.sketch import HIST_BINS, HIST_LO, HIST_WIDTH

W0, T = 1000.0, 10.0
GAMMAS = (0.0, 1.0, 3.0, 10.0)


def _metrics(n_pol: int, n: int, seed: int, spread: float = 0.05) -> np.ndarray:
    """Per-path metric blocks (n_pol, n, N_METRICS): paired lognormal wealth, random others."""
    rng = np.random.default_rng(seed)
    out = rng.normal(size=(n_pol, n, layout.N_METRICS))
    common = rng.normal(0.4, 0.35, n)
    wealth = W0 * np.exp(
        common[None, :] + rng.normal(0, spread, (n_pol, n)) + np.linspace(0, 0.03, n_pol)[:, None]
    )
    out[:, :, layout.M_TERMINAL_WEALTH] = wealth
    out[:, :, layout.M_REAL_TERMINAL_WEALTH] = wealth * 0.7
    out[:, :, layout.M_RUINED] = rng.random((n_pol, n)) < 0.02
    return out


def _accumulate(data: np.ndarray, block_size: int, **kw) -> Accumulator:
    n_pol, n, _ = data.shape
    kw.setdefault("risk_aversions", GAMMAS)
    parts = []
    for b, start in enumerate(range(0, n, block_size)):
        acc = Accumulator(n_pol, initial_wealth=W0, horizon_years=T, **kw)
        parts.append(acc.update(b, data[:, start : start + block_size]))
    return merge_in_order(parts)


_COMPARED = (
    "certainty_equivalent_wealth",
    "certainty_equivalent_wealth_se",
    "certainty_equivalent_return",
    "certainty_equivalent_return_se",
    "certainty_fee_equivalent_bp",
    "certainty_fee_equivalent_bp_se",
)


@pytest.mark.parametrize("half", ["all", "selection", "evaluation"])
def test_summary_equals_the_per_path_ranking_table(half):
    metrics = _metrics(4, 3000, 1)
    acc = _accumulate(metrics, 128)
    summary = acc.summary(half)
    wealth = metrics[:, :, layout.M_TERMINAL_WEALTH]
    if half != "all":
        mask = selection_mask(3000, 128)
        wealth = wealth[:, mask if half == "selection" else ~mask]
    table = ranking_table(wealth, acc.policy_names, 0, T, W0, DecisionConfig(risk_aversion=GAMMAS))
    assert summary["n_paths"].iloc[0] == wealth.shape[1]
    for col in _COMPARED:
        a, b = summary[col].to_numpy(), table[col].to_numpy()
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max()), col


def test_paired_sums_stay_accurate_for_nearly_identical_policies():
    # Policies 1e-4 apart per path: sum e_p^2 - 2 R sum e_p e_r + R^2 sum e_r^2 has a
    # relative error of about 2e-9 here; the provisional-ratio sums keep the fee SE to 1e-12.
    metrics = _metrics(3, 4000, 2, spread=1e-4)
    acc = _accumulate(metrics, 97)
    summary = acc.summary()
    wealth = metrics[:, :, layout.M_TERMINAL_WEALTH]
    table = ranking_table(wealth, acc.policy_names, 0, T, W0, DecisionConfig(risk_aversion=GAMMAS))
    a = summary["certainty_fee_equivalent_bp_se"].to_numpy()
    b = table["certainty_fee_equivalent_bp_se"].to_numpy()
    assert np.allclose(a, b, rtol=1e-12, atol=0.0)


def test_metric_means_and_paired_differences_equal_numpy():
    metrics = _metrics(3, 1000, 3)
    acc = _accumulate(metrics, 64, goal=1.5 * W0)
    s = acc.summary().iloc[:3]
    for name, col in (("cagr", layout.M_CAGR), ("max_drawdown", layout.M_MAX_DRAWDOWN)):
        x = metrics[:, :, col]
        d = x - x[0]
        assert np.allclose(s[f"mean_{name}"], x.mean(axis=1), rtol=1e-12, atol=1e-15)
        se = x.std(axis=1, ddof=1) / np.sqrt(1000)
        assert np.allclose(s[f"mean_{name}_se"], se, rtol=1e-12)
        assert np.allclose(s[f"diff_{name}"], d.mean(axis=1), rtol=1e-12, atol=1e-15)
        assert np.allclose(s[f"diff_{name}_se"][1:], d[1:].std(axis=1, ddof=1) / np.sqrt(1000))
    hit = metrics[:, :, layout.M_TERMINAL_WEALTH] >= 1.5 * W0
    assert np.allclose(s["mean_goal_reached"], hit.mean(axis=1), rtol=1e-12)


def test_metrics_with_nan_count_only_their_finite_values():
    metrics = _metrics(2, 200, 4)
    metrics[0, :50, layout.M_CAGR] = np.nan
    acc = _accumulate(metrics, 30, metrics=("cagr",), risk_aversions=(3.0,))
    s = acc.summary()
    assert s["mean_cagr"].iloc[0] == pytest.approx(np.nanmean(metrics[0, :, layout.M_CAGR]))


def test_histogram_uses_the_engine_bins_and_gives_quantiles():
    x = np.array(
        [
            -np.inf,
            -50.0,
            HIST_LO - 1e-12,
            HIST_LO,
            HIST_LO + HIST_WIDTH,
            0.0,
            1e-3,
            9.99,
            10.0,
            700.0,
        ]
    )
    from mcsim.accumulators import _histogram_bins

    expected = [histogram_bin_nb(v, HIST_LO, 1.0 / HIST_WIDTH, HIST_BINS) for v in x]
    assert _histogram_bins(x).tolist() == expected
    metrics = _metrics(2, 5000, 5)
    acc = _accumulate(metrics, 500)
    s = acc.summary().iloc[:2]
    median = np.median(metrics[:, :, layout.M_TERMINAL_WEALTH], axis=1)
    assert np.allclose(s["wealth_p50"], median, rtol=2 * HIST_WIDTH)
    assert acc.hist.sum() == 2 * 5000


def test_drawdown_quantiles_are_within_one_bin_of_the_per_path_quantiles():
    rng = np.random.default_rng(11)
    metrics = _metrics(3, 6000, 12)
    # Realistic maximum drawdowns: fractions in [0, 1], a few ruined paths at exactly 1.
    dd = rng.beta(2.0, 6.0, size=(3, 6000)) * np.array([0.6, 1.0, 1.4])[:, None]
    dd = np.minimum(dd, 1.0)
    dd[1, :40] = 1.0
    metrics[:, :, layout.M_MAX_DRAWDOWN] = dd
    acc = _accumulate(metrics, 700, risk_aversions=(3.0,))
    assert acc.dd_hist.sum() == 3 * 6000
    assert acc.dd_hist[:, :, 0].sum() == 0 and acc.dd_hist[:, :, -1].sum() == 0
    assert acc.dd_hist[:, 1, DRAWDOWN_BINS].sum() >= 40  # ruin is in the last interior bin
    s = acc.summary()
    for q, col in ((0.5, "max_drawdown_p50"), (0.95, "max_drawdown_p95")):
        expected = np.quantile(dd, q, axis=1)
        np.testing.assert_allclose(s[col].to_numpy(), expected, atol=DRAWDOWN_WIDTH)
    # A histogram of the selection half plus one of the evaluation half is the whole one.
    sel = acc.summary("selection")["max_drawdown_p95"].to_numpy()
    mask = selection_mask(6000, 700, 0.5)
    np.testing.assert_allclose(sel, np.quantile(dd[:, mask], 0.95, axis=1), atol=DRAWDOWN_WIDTH)


def test_merging_in_block_order_gives_the_same_bits_whatever_the_computation_order():
    metrics = _metrics(3, 1200, 6)
    blocks = [(b, metrics[:, s : s + 100]) for b, s in enumerate(range(0, 1200, 100))]

    def one(b, m):
        return Accumulator(3, initial_wealth=W0, horizon_years=T, risk_aversions=GAMMAS).update(
            b, m
        )

    forward = [one(b, m) for b, m in blocks]
    backward = sorted(((b, one(b, m)) for b, m in reversed(blocks)), key=lambda t: t[0])
    a = merge_in_order(forward).summary()
    b = merge_in_order(acc for _, acc in backward).summary()
    assert a.equals(b)


@st.composite
def _two_samples(draw):
    n_pol = draw(st.integers(1, 3))
    n_a = draw(st.integers(2, 40))
    n_b = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**31))
    return _metrics(n_pol, n_a + n_b, seed), n_a


_STATE = (
    "n_paths",
    "m_n",
    "m_mean",
    "m_m2",
    "d_n",
    "d_mean",
    "d_m2",
    "u_shift",
    "u_mean",
    "u_m2",
    "pair_q",
    "pair_p",
)


def _assert_same_state(x: Accumulator, y: Accumulator) -> None:
    assert np.array_equal(x.hist, y.hist)
    assert np.array_equal(x.dd_hist, y.dd_hist)
    assert np.array_equal(x.n_paths, y.n_paths)
    assert np.array_equal(x.m_n, y.m_n)
    for name in _STATE:
        a, b = getattr(x, name), getattr(y, name)
        scale = np.nanmax(np.abs(b[np.isfinite(b)]), initial=1.0)
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12 * scale, equal_nan=True), name


@settings(deadline=None, max_examples=60, derandomize=True)
@given(_two_samples())
def test_merge_of_two_accumulators_equals_the_accumulator_of_the_union(data):
    metrics, n_a = data
    n_pol = metrics.shape[0]
    kw = {
        "initial_wealth": W0,
        "horizon_years": T,
        "risk_aversions": GAMMAS,
        "references": tuple(range(n_pol)),
    }
    whole = Accumulator(n_pol, **kw).update(1, metrics)
    a = Accumulator(n_pol, **kw).update(1, metrics[:, :n_a])
    b = Accumulator(n_pol, **kw).update(3, metrics[:, n_a:])
    _assert_same_state(a.merge(b), whole)


@settings(deadline=None, max_examples=30, derandomize=True)
@given(_two_samples(), st.integers(1, 30))
def test_merge_is_associative_to_rounding(data, cut):
    metrics, n_a = data
    n = metrics.shape[1]
    cut = min(max(cut, 1), n - n_a - 1) if n - n_a > 1 else None
    kw = {"initial_wealth": W0, "horizon_years": T, "risk_aversions": GAMMAS}
    n_pol = metrics.shape[0]
    parts = (
        [metrics[:, :n_a], metrics[:, n_a:]]
        if cut is None
        else [metrics[:, :n_a], metrics[:, n_a : n_a + cut], metrics[:, n_a + cut :]]
    )
    accs = [Accumulator(n_pol, **kw).update(i, p) for i, p in enumerate(parts)]
    left = accs[0].empty_like().merge(accs[0])
    for acc in accs[1:]:
        left.merge(acc)
    right = accs[-1].empty_like().merge(accs[-1])
    for acc in reversed(accs[:-1]):
        right = acc.empty_like().merge(acc).merge(right)
    _assert_same_state(left, right)


def test_nbytes_matches_the_size_formula():
    for n_pol, metrics, gammas, refs in (
        (1, ("cagr",), (3.0,), (0,)),
        (7, None, (1.0, 3.0), (0, 2)),
    ):
        kw = {} if metrics is None else {"metrics": metrics}
        acc = Accumulator(
            n_pol, initial_wealth=W0, horizon_years=T, risk_aversions=gammas, references=refs, **kw
        )
        assert acc.nbytes == accumulator_bytes(n_pol, len(acc.metric_names), len(gammas), len(refs))


def test_the_accumulated_winner_matches_the_per_path_one_in_spirit():
    # Equal candidates: the out-of-sample gain is ~0 and nearly all are tied.
    rng = np.random.default_rng(99)
    n_pol, n, s = 51, 4000, 0.05
    metrics = np.zeros((n_pol, n, layout.N_METRICS))
    common = rng.normal(0.3, 0.3, n)
    noise = rng.normal(0.0, s, (n_pol, n)) + s * s
    noise[0] = 0.0
    metrics[:, :, layout.M_TERMINAL_WEALTH] = W0 * np.exp(common[None, :] + noise)
    acc = _accumulate(metrics, 100, risk_aversions=(3.0,))
    result = acc.winner()
    assert abs(result["evaluation_gain"]) < 3.0 * result["evaluation_gain_se"]
    assert result["selection_gain"] > 2.0 * result["selection_gain_se"]
    assert len(result["indistinguishable"]) >= 0.9 * (n_pol - 2)
    assert result["exact_ties"] is False


def test_bad_blocks_and_mismatched_merges_are_refused():
    acc = Accumulator(2, initial_wealth=W0, horizon_years=T)
    with pytest.raises(DataError, match=r"metrics block must have shape \(2, n_paths, "):
        acc.update(0, np.zeros((3, 5, layout.N_METRICS)))
    bad = _metrics(2, 5, 1)
    bad[1, 2, layout.M_TERMINAL_WEALTH] = np.nan
    with pytest.raises(DataError, match="`terminal_wealth` holds a non-finite value"):
        acc.update(0, bad)
    other = Accumulator(2, initial_wealth=W0, horizon_years=T, risk_aversions=(1.0,))
    with pytest.raises(ConfigError, match="different settings"):
        acc.merge(other)
    with pytest.raises(ConfigError, match=r"unknown metric 'cagrr'\. Did you mean 'cagr'"):
        Accumulator(2, initial_wealth=W0, horizon_years=T, metrics=("cagrr",))
    with pytest.raises(ConfigError, match=r"`\[decision\]\.risk_aversion` must be >= 0"):
        Accumulator(2, initial_wealth=W0, horizon_years=T, risk_aversions=(-1.0,))
    with pytest.raises(ConfigError, match="cvar"):
        acc.update(1, _metrics(2, 10, 2)).winner("cvar")
