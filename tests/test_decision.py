"""Certainty equivalents, fee equivalents, rankings and the honest winner (mcsim.decision)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mcsim.decision import (
    DecisionConfig,
    certainty_equivalent,
    crra_utility,
    fee_equivalent,
    is_selection_block,
    log_certainty_equivalent,
    objective_values,
    ranking_table,
    select_winner,
    selection_mask,
    write_ranking,
)
from mcsim.errors import ConfigError, DataError, McsimError


def _paired_wealth(n: int, seed: int, n_pol: int = 3) -> np.ndarray:
    """Correlated lognormal terminal wealth of ``n_pol`` policies on the same paths."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0.4, 0.35, n)
    own = rng.normal(0.0, 0.05, (n_pol, n))
    drift = np.linspace(0.0, 0.02, n_pol)[:, None]
    return np.exp(common[None, :] + own + drift)


# -- closed forms ---------------------------------------------------------------------------
@pytest.mark.parametrize("g", [0.0, 1.0, 3.0, 10.0])
def test_lognormal_certainty_equivalent_matches_closed_form(g):
    # log W ~ N(m, s^2): mean W^(1-g) = exp((1-g) m + (1-g)^2 s^2 / 2), so
    # CE = exp(m + (1 - g) s^2 / 2) for every g (log utility included).
    m, s, n = 0.5, 0.2, 200_000
    rng = np.random.default_rng(12345)
    w = np.exp(rng.normal(m, s, n))
    ce, se = certainty_equivalent(w, g)
    exact = math.exp(m + (1.0 - g) * s * s / 2.0)
    assert se[0] > 0
    assert abs(ce[0] - exact) < 4.0 * se[0]


def test_risk_neutral_and_log_certainty_equivalents_are_mean_and_geometric_mean():
    w = _paired_wealth(1000, 1)[0]
    assert certainty_equivalent(w, 0.0)[0][0] == pytest.approx(w.mean(), rel=1e-13)
    assert certainty_equivalent(w, 1.0)[0][0] == pytest.approx(
        math.exp(np.log(w).mean()), rel=1e-13
    )


def test_certainty_equivalent_is_stable_for_huge_risk_aversion_and_wealth():
    # W^(1-g) overflows for g = 50 and wealth of 1e12 (1e12^-49 = 1e-588): the log-sum-exp
    # form still gives a finite CE just above the smallest wealth.
    w = np.array([1e12, 2e12, 3e12, 4e12])
    ce, se = certainty_equivalent(w, 50.0, initial_wealth=1e12)
    assert np.isfinite(ce[0]) and np.isfinite(se[0])
    assert 1e12 < ce[0] < 1.1e12
    with np.errstate(over="ignore", divide="ignore"):
        naive = np.mean(w**-49.0) ** (-1.0 / 49.0)
    assert not np.isfinite(naive) or naive == 0.0


def test_fee_equivalent_of_a_policy_against_itself_is_exactly_zero():
    w = _paired_wealth(5000, 2)
    for g in (0.0, 1.0, 3.0, 10.0):
        cfe, se = fee_equivalent(w, w[1], g, 30.0)
        assert cfe[1] == 0.0
        assert se[1] == 0.0


@pytest.mark.parametrize("g", [0.0, 1.0, 3.0, 10.0])
def test_a_policy_paying_an_extra_annual_fee_has_minus_that_fee_equivalent(g):
    fee, t = 0.0025, 20.0
    base = _paired_wealth(4000, 3)[0]
    paying = base * (1.0 - fee) ** t
    cfe, se = fee_equivalent(paying, base, g, t)
    assert cfe[0] == pytest.approx(-fee, rel=1e-12)
    # Scaling every path by the same factor leaves no paired noise.
    assert se[0] == pytest.approx(0.0, abs=1e-15)
    table = ranking_table(
        {"base": base, "paying": paying}, None, "base", t, 1.0, DecisionConfig(risk_aversion=g)
    )
    row = table.set_index("policy").loc["paying"]
    assert row["certainty_fee_equivalent_bp"] == pytest.approx(-25.0, rel=1e-10)


def test_fee_equivalent_is_positive_when_the_policy_is_better():
    w = _paired_wealth(4000, 4)
    cfe, _ = fee_equivalent(w[2], w[0], 3.0, 10.0)
    assert cfe[0] > 0


# -- standard errors against a bootstrap -----------------------------------------------------
def _bootstrap_se(stat, n: int, n_boot: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    return float(np.std([stat(rng.integers(0, n, n)) for _ in range(n_boot)], ddof=1))


@pytest.mark.parametrize("g", [1.0, 3.0])
def test_certainty_equivalent_and_fee_standard_errors_match_a_bootstrap(g):
    n, t = 4000, 10.0
    w = _paired_wealth(n, 5)
    _, ce_se = certainty_equivalent(w[1], g)
    _, cfe_se = fee_equivalent(w[1], w[0], g, t)
    boot_ce = _bootstrap_se(lambda i: certainty_equivalent(w[1, i], g)[0][0], n, 1000, 6)
    boot_cfe = _bootstrap_se(lambda i: fee_equivalent(w[1, i], w[0, i], g, t)[0][0], n, 1000, 7)
    assert ce_se[0] == pytest.approx(boot_ce, rel=0.10)
    assert cfe_se[0] == pytest.approx(boot_cfe, rel=0.10)
    # Pairing matters: the paired SE is far below what independent samples would give.
    _, log_se = log_certainty_equivalent(w[:2], g)
    assert cfe_se[0] < 0.5 * math.hypot(*log_se) / t


@pytest.mark.parametrize("objective", ["goal_probability", "cvar"])
def test_objective_standard_errors_match_a_bootstrap(objective):
    n = 4000
    w = _paired_wealth(n, 8)[:1]
    kw = {"goal": 1.6} if objective == "goal_probability" else {}
    est, infl = objective_values(w, objective, **kw)
    se = infl.std(axis=1, ddof=1)[0] / math.sqrt(n)
    boot = _bootstrap_se(lambda i: objective_values(w[:, i], objective, **kw)[0][0], n, 1000, 9)
    assert se == pytest.approx(boot, rel=0.10)
    if objective == "cvar":
        k = math.ceil(0.05 * n)
        assert est[0] == pytest.approx(np.sort(w[0])[:k].mean(), rel=1e-14)
    else:
        assert est[0] == np.mean(w[0] >= 1.6)


# -- ruin, bad input --------------------------------------------------------------------------
def test_ruined_paths_are_floored_counted_and_never_nan():
    w = _paired_wealth(1000, 10)[:2].copy()
    w[0, :10] = 0.0
    table = ranking_table(
        w, ["ruins", "safe"], "safe", 30.0, 1.0, DecisionConfig(risk_aversion=[0.0, 1.0, 3.0])
    )
    assert not table.drop(columns=["policy", "objective"]).isna().any().any()
    ruins = table[table["policy"] == "ruins"]
    assert (ruins["n_floored"] == 10).all()
    # For g >= 1 the floor (1e-6 W0) dominates: ten ruined paths in 1000 wreck the CE.
    high = ruins[ruins["risk_aversion"] == 3.0].iloc[0]
    assert high["certainty_equivalent_wealth"] < 1e-4
    assert high["rank"] == 2


def test_negative_risk_aversion_is_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"`\[decision\]\.risk_aversion` must be >= 0"):
        DecisionConfig.from_config({"risk_aversion": -1})
    with pytest.raises(ConfigError, match=r"`\[decision\]\.risk_aversion` must be >= 0"):
        certainty_equivalent(np.ones(3), -0.5)
    with pytest.raises(ConfigError, match=r"`\[decision\]\.risk_aversion\[1\]` must be >= 0"):
        DecisionConfig.from_config({"risk_aversion": [2, -3]})


def test_non_finite_wealth_is_a_data_error_naming_the_path():
    w = np.ones((2, 5))
    w[1, 3] = np.nan
    with pytest.raises(DataError, match="policy #1 is nan on path 3"):
        certainty_equivalent(w, 3.0)


def test_decision_config_defaults_and_lists():
    cfg = DecisionConfig.from_config({"risk_aversion": [1, 3, 10], "objective": "cvar"})
    assert cfg.risk_aversion == (1.0, 3.0, 10.0)
    assert DecisionConfig.from_config(None) == DecisionConfig()
    assert DecisionConfig.from_config(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"risk_aversio": 3}, r"Unknown key `\[decision\]\.risk_aversio`.*`risk_aversion`"),
        ({"objective": "certainty"}, r"`\[decision\]\.objective` must be one of"),
        ({"select_fraction": 1.0}, r"`\[decision\]\.select_fraction` must be < 1"),
        ({"select_fraction": 0}, r"`\[decision\]\.select_fraction` must be > 0"),
        ({"risk_aversion": []}, r"`\[decision\]\.risk_aversion` must be a number >= 0"),
        ({"risk_aversion": [3, 3]}, r"`\[decision\]\.risk_aversion` repeats"),
        ({"risk_aversion": "3"}, r"`\[decision\]\.risk_aversion` must be a number"),
        ({"baseline": 3}, r"`\[decision\]\.baseline` must be a string"),
        ({"cvar_level": 0.0}, r"`\[decision\]\.cvar_level` must be > 0"),
        ({"wealth_floor": 0.0}, r"`\[decision\]\.wealth_floor` must be > 0"),
    ],
)
def test_decision_config_refuses_bad_values_naming_the_field(table, match):
    with pytest.raises(ConfigError, match=match) as info:
        DecisionConfig.from_config(table)
    assert isinstance(info.value, McsimError)
    assert "\n" not in str(info.value)


def test_goal_objective_without_a_goal_is_refused_at_resolve_time():
    cfg = DecisionConfig.from_config({"objective": "goal_probability"})
    cfg.check(has_goal=True)
    with pytest.raises(ConfigError, match=r"needs a goal: set `\[simulation\]\.goal`"):
        cfg.check(has_goal=False)


def test_unknown_baseline_is_refused_with_a_suggestion():
    cfg = DecisionConfig.from_config({"baseline": "anual"})
    with pytest.raises(ConfigError, match=r"`\[decision\]\.baseline` = 'anual'.*'annual'"):
        cfg.check(has_goal=False, policy_names=["annual", "bands"])


def test_crra_utility_matches_its_definition():
    w = np.array([0.5, 1.0, 2.0])
    assert np.allclose(crra_utility(w, 3.0), w**-2 / -2)
    assert np.allclose(crra_utility(w, 1.0), np.log(w))


# -- ranking -----------------------------------------------------------------------------------
def test_ranking_table_has_the_documented_columns_and_ranks(tmp_path):
    w = _paired_wealth(3000, 11)
    cfg = DecisionConfig(risk_aversion=(1.0, 5.0))
    table = ranking_table(w, ["a", "b", "c"], "a", 10.0, 1.0, cfg, goal=1.5)
    assert len(table) == 6
    for col in (
        "policy",
        "certainty_equivalent_wealth",
        "certainty_equivalent_wealth_se",
        "certainty_equivalent_wealth_ci_low",
        "certainty_equivalent_wealth_ci_high",
        "certainty_equivalent_return",
        "certainty_fee_equivalent_bp",
        "certainty_fee_equivalent_bp_se",
        "certainty_fee_equivalent_bp_ci_low",
        "certainty_fee_equivalent_bp_ci_high",
        "goal_probability",
        "cvar",
        "rank",
    ):
        assert col in table.columns
    for _, group in table.groupby("risk_aversion"):
        assert sorted(group["rank"]) == [1, 2, 3]
        best = group.loc[group["rank"] == 1, "policy"].item()
        assert best == group.loc[group["certainty_equivalent_wealth"].idxmax(), "policy"]
        base = group[group["policy"] == "a"].iloc[0]
        assert base["certainty_fee_equivalent_bp"] == 0.0
    row = table.iloc[1]
    assert row["certainty_equivalent_wealth_ci_low"] < row["certainty_equivalent_wealth"]
    assert row["certainty_equivalent_wealth"] < row["certainty_equivalent_wealth_ci_high"]
    ce_ret = (row["certainty_equivalent_wealth"] / 1.0) ** (1 / 10.0) - 1
    assert row["certainty_equivalent_return"] == pytest.approx(ce_ret, rel=1e-12)
    path = write_ranking(table, tmp_path)
    assert path.name == "ranking.csv"
    back = pd.read_csv(path)
    assert list(back.columns) == list(table.columns)
    assert np.allclose(back["certainty_equivalent_wealth"], table["certainty_equivalent_wealth"])


def test_ranking_table_accepts_a_mapping_and_a_config_baseline():
    w = _paired_wealth(500, 12)
    data = {"x": w[0], "y": w[1]}
    table = ranking_table(data, None, "x", 5.0, 1.0, DecisionConfig(baseline="y"))
    assert table.attrs["baseline"] == "y"
    assert table.set_index("policy").loc["y", "certainty_fee_equivalent_bp"] == 0.0
    with pytest.raises(ConfigError, match=r"`\[decision\]\.baseline` = 'z' is not a policy"):
        ranking_table(data, None, "z", 5.0, 1.0)


# -- the honest winner -----------------------------------------------------------------------
def test_selection_blocks_interleave_and_do_not_depend_on_the_number_of_blocks():
    assert [is_selection_block(i) for i in range(6)] == [False, True] * 3
    picks = [is_selection_block(i, 0.25) for i in range(400)]
    assert sum(picks) == 100
    # Every prefix holds the share f of selection blocks to within one block.
    counts = np.cumsum(picks)
    assert np.all(np.abs(counts - 0.25 * np.arange(1, 401)) <= 1)
    mask = selection_mask(23, 4, 0.5)
    assert mask.tolist() == [is_selection_block(p // 4) for p in range(23)]
    assert selection_mask(11, 4, 0.5).tolist() == mask[:11].tolist()


def test_the_in_sample_winner_is_inflated_and_the_out_of_sample_one_is_not():
    # A baseline on common paths and 200 candidates with their own lognormal noise on top,
    # shifted so that every candidate has exactly the baseline's CE at g = 3:
    # CE_j / CE_b = exp(c + (1 - g) s^2 / 2) = 1 for c = s^2.
    rng = np.random.default_rng(2024)
    n_pol, n, s = 201, 4000, 0.05
    common = rng.normal(0.3, 0.3, n)
    noise = rng.normal(0.0, s, (n_pol, n)) + s * s
    noise[0] = 0.0
    w = np.exp(common[None, :] + noise)
    result = select_winner(
        w, block_size=50, initial_wealth=1.0, baseline=0, config=DecisionConfig(risk_aversion=3)
    )
    assert result.n_selection_paths == result.n_evaluation_paths == 2000
    # The best of 200 equal candidates beats the baseline by about 2.7 SE by luck alone ...
    assert result.selection_gain > 2.0 * result.selection_gain_se
    # ... and that gain does not survive on the paths that did not choose it.
    assert abs(result.evaluation_gain) < 3.0 * result.evaluation_gain_se
    # Nearly every candidate is tied with the winner (2.5 % are called worse by chance).
    assert result.n_indistinguishable >= 0.9 * (n_pol - 2)


def test_a_truly_better_candidate_wins_and_stands_apart():
    rng = np.random.default_rng(7)
    n_pol, n = 20, 4000
    common = rng.normal(0.3, 0.3, n)
    w = np.exp(common[None, :] + rng.normal(0.0, 0.02, (n_pol, n)))
    w[7] *= 1.05
    for objective in ("certainty_equivalent", "cvar", "goal_probability"):
        result = select_winner(
            w,
            [f"p{i}" for i in range(n_pol)],
            block_size=100,
            initial_wealth=1.0,
            config=DecisionConfig(objective=objective),
            goal=1.35,
        )
        assert result.winner == "p7"
        assert result.evaluation_gain > 3.0 * result.evaluation_gain_se
        assert result.n_indistinguishable == 0


def test_a_split_with_an_empty_half_is_refused_naming_the_field():
    w = _paired_wealth(100, 13)
    with pytest.raises(ConfigError, match=r"`\[decision\]\.select_fraction` = 0.5 leaves"):
        select_winner(w, block_size=100, initial_wealth=1.0)
