"""Stress testing from the command line: tables, catalogue, backtest, and every bad input."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest

from mcsim.cli import main

BASE = {
    "simulation": {
        "n_paths": 32,
        "horizon_years": 3,
        "steps_per_year": 12,
        "block_size": 16,
        "seed": 3,
        "keep_paths": 0,
    },
    "data": {"source": "shiller", "columns": ["us_stocks_tr", "us_bonds_10y_tr"]},
    "model": {"kind": "gaussian"},
    "portfolio": {"target": {"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4}},
    "policies": [
        {"name": "hold", "kind": "buy_and_hold"},
        {"name": "annual", "kind": "calendar", "frequency": "annual"},
    ],
}


def _table(stresses=(), **sections):
    t = copy.deepcopy(BASE)
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(t.get(k), dict):
            t[k] = {**t[k], **v}
        else:
            t[k] = v
    if stresses:
        t["stresses"] = list(stresses)
    return t


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _refused(table, write_toml, tmp_path, capsys, *fields, command="run"):
    """Run ``table``; assert exit 2, one clean line naming every field, --out untouched."""
    scenario = write_toml(table, tmp_path / "s.toml")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    before = _snapshot(out)
    code = main([command, str(scenario), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("mcsim: error: ")
    for f in fields:
        assert f in err, err
    assert _snapshot(out) == before
    return err


def test_unknown_episode_suggests_the_nearest_name(write_toml, tmp_path, capsys):
    err = _refused(
        _table([{"name": "gfc", "kind": "historical", "episode": "financial_crisi"}]),
        write_toml,
        tmp_path,
        capsys,
        "[[stresses]][1].episode",
        "financial_crisis",
    )
    assert "mcsim stresses" in err or "financial_crisis" in err


def test_an_episode_window_outside_the_data_is_refused(write_toml, tmp_path, capsys):
    _refused(
        _table([{"name": "old", "kind": "historical", "start": "1801-01", "end": "1802-06"}]),
        write_toml,
        tmp_path,
        capsys,
        "[[stresses]][1]",
        "1801",
    )


def test_an_episode_longer_than_the_horizon_is_refused(write_toml, tmp_path, capsys):
    _refused(
        _table([{"name": "70s", "kind": "historical", "episode": "seventies"}]),
        write_toml,
        tmp_path,
        capsys,
        "[[stresses]][1]",
        "horizon",
    )


def test_an_asset_without_a_mapping_names_the_proxy_to_add(write_toml, tmp_path, capsys):
    table = _table(
        [{"name": "gfc", "kind": "historical", "episode": "financial_crisis"}],
        data={"source": "ff3", "columns": ["us_market_tr", "rf"]},
        portfolio={"target": {"us_market_tr": 0.6, "rf": 0.4}},
    )
    _refused(table, write_toml, tmp_path, capsys, "[[stresses]][1].proxies", "us_market_tr")


def test_a_shock_at_or_below_minus_100_percent_is_refused(write_toml, tmp_path, capsys):
    _refused(
        _table([{"name": "wipe", "kind": "shock", "returns": {"us_stocks_tr": -1.0}}]),
        write_toml,
        tmp_path,
        capsys,
        "[[stresses]][1].returns",
    )


def test_a_correlation_target_that_cannot_be_valid_is_refused(write_toml, tmp_path, capsys):
    _refused(
        _table(
            [
                {
                    "name": "bad",
                    "kind": "correlation",
                    "to": [[1.0, 1.5], [1.5, 1.0]],
                    "years": 1,
                }
            ]
        ),
        write_toml,
        tmp_path,
        capsys,
        "[[stresses]][1].to",
    )


def test_a_stress_the_model_does_not_support_is_refused(write_toml, tmp_path, capsys):
    _refused(
        _table(
            [{"name": "panic", "kind": "volatility", "multiplier": 2.0, "years": 1}],
            model={"kind": "bootstrap"},
        ),
        write_toml,
        tmp_path,
        capsys,
        "[[stresses]][1].kind",
        "gaussian",
    )


def test_a_window_backtest_on_data_shorter_than_the_horizon_is_refused(
    write_toml, tmp_path, capsys
):
    table = _table(simulation={"horizon_years": 200})
    _refused(table, write_toml, tmp_path, capsys, "[simulation].horizon_years", command="backtest")
    table = _table(model={"kind": "historical_windows", "start": "2000-01", "end": "2010-12"})
    table["simulation"]["horizon_years"] = 20
    sub = tmp_path / "windows"
    sub.mkdir()
    _refused(table, write_toml, sub, capsys, "[simulation].horizon_years", "[model].start")


def test_a_backtest_without_data_is_refused(small_table, write_toml, tmp_path, capsys):
    _refused(small_table(), write_toml, tmp_path, capsys, "[data]", command="backtest")


def test_duplicate_stress_names_are_refused(write_toml, tmp_path, capsys):
    shock = {"name": "x", "kind": "shock", "returns": {"us_stocks_tr": -0.2}}
    _refused(_table([shock, shock]), write_toml, tmp_path, capsys, "[[stresses]].name")


def test_failure_below_goal_without_a_goal_is_refused(write_toml, tmp_path, capsys):
    table = _table(failure={"below_goal": True})
    _refused(table, write_toml, tmp_path, capsys, "[failure].below_goal", "[simulation].goal")


def test_run_prints_the_stress_and_failure_tables(write_toml, tmp_path, capsys):
    table = _table(
        [
            {"name": "crash", "kind": "shock", "returns": {"us_stocks_tr": -0.3}},
            {"name": "gfc", "kind": "historical", "episode": "financial_crisis", "at_year": 1},
        ],
        failure={"max_drawdown_above": 0.2},
    )
    scenario = write_toml(table, tmp_path / "s.toml")
    code = main(["run", str(scenario), "--out", str(tmp_path / "o"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Stresses (paired" in out and "crash" in out and "gfc" in out
    assert "Failure (max_drawdown_above" in out
    assert (tmp_path / "o" / "stress.csv").is_file()
    assert (tmp_path / "o" / "failure.csv").is_file()


def test_stresses_lists_the_catalogue_with_dates_and_effects(capsys):
    assert main(["stresses"]) == 0
    out = capsys.readouterr().out
    for name, start in (
        ("great_depression", "1929-09"),
        ("bear_1973_74", "1973"),
        ("dot_com_crash", "2000-03"),
        ("financial_crisis", "2007-11"),
        ("covid_crash", "2020-02"),
        ("stocks_bonds_2022", "2022-01"),
    ):
        assert name in out and start in out
    assert "shiller.us_stocks_tr" in out and "-46.0%" in out


def test_backtest_prints_the_share_of_windows_survived(write_toml, tmp_path, capsys):
    table = _table(
        simulation={"horizon_years": 30, "n_paths": 5},
        data={
            "source": "shiller",
            "columns": ["us_stocks_tr", "us_bonds_10y_tr"],
            "inflation": "cpi_inflation",
        },
        flows=[
            {
                "name": "spending",
                "amount": -40_000.0,
                "frequency": "annual",
                "indexation": "inflation",
            }
        ],
    )
    scenario = write_toml(table, tmp_path / "s.toml")
    out_dir = tmp_path / "bt"
    code = main(["backtest", str(scenario), "--out", str(out_dir), "--no-report"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1,503 rolling 30-year windows" in out
    assert "hold survived" in out and "% of the 1,503 historical 30-year windows" in out
    assert (out_dir / "paths.parquet").is_file()


@pytest.mark.slow
def test_the_bundled_stress_scenario_runs(tmp_path, capsys):
    code = main(["run", "stress_60_40", "--out", str(tmp_path), "--paths", "200", "--no-report"])
    assert code == 0
    out = capsys.readouterr().out
    for name in ("financial_crisis_y1", "seventies_y0", "equity_shock_30", "correlation_one_y1"):
        assert name in out
