"""The learned policy end to end: what it learns where the answer is known, determinism,
and the command line."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import mcsim
from mcsim.cli import main
from mcsim.decision import fee_equivalent
from mcsim.engine import _run_key
from mcsim.errors import ConfigError
from mcsim.learned import LearnedPolicy
from mcsim.plan import prepare
from mcsim.report import build_figures
from mcsim.report.sections import report_sections
from mcsim.report.view import ReportView

YEARS = 10
CHECKS = YEARS * 4 - 1  # quarterly checks before the horizon


def _table(cost_bps=0.0, risk_aversion=1.0, learned=None):
    """Two uncorrelated assets with equal means and 30 % volatility: the 50/50 constant mix
    grows fastest, so rebalancing pays (the constant-mix premium) unless costs eat it."""
    return {
        "simulation": {
            "n_paths": 2_000,
            "horizon_years": YEARS,
            "steps_per_year": 12,
            "seed": 11,
            "block_size": 500,
        },
        "model": {
            "kind": "gaussian",
            "assets": ["a", "b"],
            "mu": [0.08, 0.08],
            "vol": [0.30, 0.30],
            "corr": [[1.0, 0.0], [0.0, 1.0]],
        },
        "portfolio": {"target": {"a": 0.5, "b": 0.5}},
        "costs": {"proportional_bps": cost_bps},
        "decision": {"risk_aversion": risk_aversion},
        "policies": [
            {"name": "quarterly", "kind": "calendar", "every": 3},
            {"name": "hold", "kind": "buy_and_hold"},
            {"name": "learned", "kind": "learned", "train_paths": 2_000, **(learned or {})},
        ],
    }


def _run(table, **fit):
    scenario = mcsim.Scenario.from_dict(table)
    model = LearnedPolicy.fit(scenario, **fit)
    ready = dataclasses.replace(
        scenario,
        policies=tuple(
            p.with_model(model) if isinstance(p, LearnedPolicy) else p for p in scenario.policies
        ),
    )
    return model, mcsim.run(ready)


@pytest.fixture(scope="module")
def premium_run():
    return _run(_table())


def test_with_no_costs_and_a_rebalancing_premium_it_rebalances_at_almost_every_check(
    premium_run,
):
    _, res = premium_run
    n = res.metric("n_rebalances")["learned"].to_numpy()
    assert n.mean() > 0.9 * CHECKS


def test_it_does_as_well_as_the_best_band_within_the_paired_standard_error(premium_run):
    # Without costs, trading to target at every check is optimal among the quarterly rules.
    _, res = premium_run
    tw = res.metric("terminal_wealth")
    cfe, se = fee_equivalent(
        tw["learned"].to_numpy(), tw["quarterly"].to_numpy(), 1.0, YEARS, initial_wealth=1.0
    )
    assert cfe[0] > -2.0 * se[0]
    # ... and it beats holding, which loses the premium.
    cfe_h, se_h = fee_equivalent(
        tw["learned"].to_numpy(), tw["hold"].to_numpy(), 1.0, YEARS, initial_wealth=1.0
    )
    assert cfe_h[0] > 2.0 * se_h[0]


def test_with_costs_far_above_any_benefit_it_almost_never_trades():
    _, res = _run(_table(cost_bps=2_000.0), regressor="linear")
    assert res.metric("n_rebalances")["learned"].mean() < 0.05 * CHECKS


def test_training_is_deterministic_for_a_seed_and_changes_with_it():
    table = _table(learned={"train_paths": 500})
    scenario = mcsim.Scenario.from_dict(table)
    a = LearnedPolicy.fit(scenario).to_dict()
    b = LearnedPolicy.fit(scenario).to_dict()
    c = LearnedPolicy.fit(scenario, seed=8).to_dict()
    for d in (a, b, c):
        d["info"].pop("train_seconds")
    assert a == b
    assert a["arrays"] != c["arrays"]


def test_evaluation_is_bit_identical_for_any_number_of_jobs(premium_run):
    model, res = premium_run
    scenario = mcsim.Scenario.from_dict(_table())
    ready = dataclasses.replace(
        scenario,
        policies=tuple(
            p.with_model(model) if isinstance(p, LearnedPolicy) else p for p in scenario.policies
        ),
    )
    two = mcsim.run(ready, n_jobs=2)
    np.testing.assert_array_equal(
        res.metric("terminal_wealth").to_numpy(), two.metric("terminal_wealth").to_numpy()
    )


@pytest.mark.parametrize(
    "learned, message",
    [
        ({"train_paths": 50}, r"`\[policies\.learned\]\.train_paths` = 50 is too few"),
        ({"train_seed": 11}, r"`\[policies\.learned\]\.train_seed` = 11 equals"),
    ],
)
def test_bad_training_settings_are_refused(learned, message):
    scenario = mcsim.Scenario.from_dict(_table(learned=learned))
    with pytest.raises(ConfigError, match=message):
        LearnedPolicy.fit(scenario)


def _toml(path, model_line=""):
    path.write_text(
        f"""
[simulation]
n_paths = 300
horizon_years = 3
steps_per_year = 12
seed = 3

[model]
kind = "gaussian"
assets = ["a", "b"]
mu = [0.07, 0.03]
vol = [0.16, 0.06]
corr = [[1.0, 0.1], [0.1, 1.0]]

[portfolio]
target = {{ a = 0.6, b = 0.4 }}

[[policies]]
name = "annual"
kind = "calendar"
every = 12

[[policies]]
name = "learned"
kind = "learned"
train_paths = 400
{model_line}
"""
    )
    return path


def test_cli_learn_then_run_with_the_model_relative_to_the_scenario(tmp_path, capsys):
    folder = tmp_path / "sc"
    folder.mkdir()
    scenario = _toml(folder / "s.toml")
    assert main(["learn", str(scenario), "--out", str(folder / "m.json")]) == 0
    assert "Feature importances" in capsys.readouterr().out
    d = json.loads((folder / "m.json").read_text())
    assert d["n_assets"] == 2 and d["regressor"] == "tree" and d["training_scenario_hash"]
    with_model = _toml(folder / "t.toml", 'model = "m.json"')
    out = tmp_path / "out"
    assert main(["run", str(with_model), "--out", str(out), "--no-report"]) == 0
    assert "Training" not in capsys.readouterr().out
    assert not (out / "model.json").exists()


def test_cli_run_without_a_model_trains_first_and_saves_it(tmp_path, capsys):
    scenario = _toml(tmp_path / "s.toml")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "Training learned policy 'learned'" in text
    assert "Saved the trained model to" in text
    assert json.loads((out / "model.json").read_text())["format"] == "mcsim-learned-model"


def test_cli_refuses_a_missing_model_in_one_line_and_writes_nothing(tmp_path, capsys):
    scenario = _toml(tmp_path / "s.toml", 'model = "absent.json"')
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`[policies.learned].model`" in err[0] and "no such file" in err[0]
    assert not out.exists()


def test_cli_learn_refuses_an_unknown_policy_and_keeps_an_existing_file(tmp_path, capsys):
    scenario = _toml(tmp_path / "s.toml")
    target = tmp_path / "m.json"
    target.write_text("keep")
    assert main(["learn", str(scenario), "--policy", "annual", "--out", str(target)]) == 2
    assert "not a learned policy" in capsys.readouterr().err
    assert target.read_text() == "keep"


def test_the_report_shows_feature_importances_and_a_decision_map(premium_run):
    model, res = premium_run
    view = ReportView.from_result(res)
    (sec,) = [s for s in report_sections(view) if s.key == "learned_learned"]
    assert sec.figures == ["learned_importance_learned", "learned_map_learned"]
    figs = build_figures(res)
    bars = figs["learned_importance_learned"].data
    assert len(bars) == 1 and len(bars[0].y) == len(model.info["feature_importances"])
    heat = figs["learned_map_learned"].data[0]
    dmap = model.info["decision_map"]
    assert np.shape(heat.z) == (len(dmap["max_gap"]), len(dmap["trailing_vol"]))
    # Without costs the map trades (to the edge or to target) once the drift is large.
    assert heat.z[-1][len(heat.z[-1]) // 2] > 0


def test_a_run_without_learned_policies_has_no_learned_section():
    res = mcsim.run(mcsim.Scenario.from_dict({**_table(), "policies": _table()["policies"][:2]}))
    assert not [s for s in report_sections(ReportView.from_result(res)) if "learned" in s.key]


def test_validate_checks_model_files_and_notes_the_training(tmp_path, capsys):
    assert main(["validate", str(_toml(tmp_path / "s.toml"))]) == 0
    assert "names no model file: `mcsim run` trains it first" in capsys.readouterr().out
    assert main(["validate", str(_toml(tmp_path / "t.toml", 'model = "absent.json"'))]) == 2
    assert "`[policies.learned].model`" in capsys.readouterr().err


def test_a_run_with_another_model_has_another_checkpoint_key():
    # The model lives in the policy's arrays, not in the scenario's text: resuming a folder
    # with another model under the same settings must not reuse its blocks.
    table = _table()
    table["simulation"]["n_paths"] = 400
    table["policies"][2]["train_paths"] = 400
    scenario = mcsim.Scenario.from_dict(table)
    keys = set()
    for regressor in ("linear", "tree"):
        model = LearnedPolicy.fit(scenario, regressor=regressor)
        ready = dataclasses.replace(
            scenario,
            policies=tuple(
                p.with_model(model) if isinstance(p, LearnedPolicy) else p
                for p in scenario.policies
            ),
        )
        keys.add(_run_key(prepare(ready)))
    assert len(keys) == 2


def test_cli_backtest_trains_on_simulated_paths_and_judges_on_history(tmp_path, capsys):
    # Honest evaluation on history: the model is trained on the scenario's own (simulated)
    # paths, then run on every rolling window of the data, paths it never saw.
    scenario = tmp_path / "h.toml"
    scenario.write_text(
        """
[simulation]
horizon_years = 5
steps_per_year = 12

[data]
source = "shiller"
columns = ["us_stocks_tr", "us_bonds_10y_tr"]

[portfolio]
target = { us_stocks_tr = 0.6, us_bonds_10y_tr = 0.4 }

[costs]
proportional_bps = 10

[decision]
risk_aversion = 3

[[policies]]
name = "annual"
kind = "calendar"
every = 12

[[policies]]
name = "learned"
kind = "learned"
train_paths = 400
"""
    )
    out = tmp_path / "out"
    assert main(["backtest", str(scenario), "--out", str(out), "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "Training learned policy 'learned'" in text
    assert "rolling 5-year windows" in text
    assert json.loads((out / "model.json").read_text())["format"] == "mcsim-learned-model"
    ranking = pd.read_csv(out / "ranking.csv")
    row = ranking.loc[ranking["policy"] == "learned"].iloc[0]
    assert np.isfinite(row["certainty_fee_equivalent_bp"])
    assert row["certainty_fee_equivalent_bp_se"] > 0
