"""Bad input of sweeps and decisions through the CLI: exit 2, the field named, nothing written."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mcsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
BANDS = ROOT / "configs" / "choose_bands.toml"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_bytes(b"earlier results")
    return folder


def _scenario(tmp_path, edit) -> Path:
    text = BANDS.read_text()
    text = edit(text)
    tomllib.loads(text)
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def _fails(capsys, argv, out, *needles):
    before = _snapshot(out)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mcsim: error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err
    assert _snapshot(out) == before
    return err


def test_sweep_of_an_unknown_policy_is_refused_with_a_suggestion(capsys, out):
    _fails(
        capsys,
        ["sweep", str(BANDS), "--policy", "band", "--grid", "band=0.01,0.02", "--out", str(out)],
        out,
        "--policy",
        "'bands'",
    )


def test_unknown_grid_field_is_refused_with_a_suggestion(capsys, out):
    _fails(
        capsys,
        ["sweep", str(BANDS), "--policy", "bands", "--grid", "bnad=0.01,0.02", "--out", str(out)],
        out,
        "--grid bnad",
        "band",
    )


def test_grid_value_out_of_range_is_refused(capsys, out):
    _fails(
        capsys,
        ["sweep", str(BANDS), "--policy", "bands", "--grid", "band=0.5,1.5", "--out", str(out)],
        out,
        "--grid band",
    )


def test_empty_grid_is_refused(capsys, out):
    _fails(capsys, ["sweep", str(BANDS), "--policy", "bands", "--out", str(out)], out, "--grid")
    _fails(
        capsys,
        ["sweep", str(BANDS), "--policy", "bands", "--grid", "band=", "--out", str(out)],
        out,
        "--grid band",
    )


def test_empty_grid_in_the_scenario_is_refused(capsys, out, tmp_path):
    p = _scenario(
        tmp_path, lambda t: t.replace("grid = { band = [0.01,", "grid = { band = [], x = [0.01,")
    )
    _fails(capsys, ["run", str(p), "--out", str(out)], out, "[[sweeps]][0].grid.band")


def test_unknown_sweep_policy_in_the_scenario_is_refused(capsys, out, tmp_path):
    p = _scenario(tmp_path, lambda t: t.replace('policy = "bands"', 'policy = "bandz"'))
    _fails(capsys, ["run", str(p), "--out", str(out)], out, "[[sweeps]][0].policy", "'bands'")


def test_search_in_a_scenario_sweep_is_refused_naming_optimize_band(capsys, out, tmp_path):
    p = _scenario(
        tmp_path, lambda t: t.replace('policy = "bands"', 'policy = "bands"\nsearch = true')
    )
    _fails(capsys, ["run", str(p), "--out", str(out)], out, "[[sweeps]][0].search", "optimize-band")


def test_grid_larger_than_the_memory_guard_says_how_many_points_fit(capsys, out):
    err = _fails(
        capsys,
        [
            "sweep",
            str(BANDS),
            "--policy",
            "bands",
            "--grid",
            "band=0.001:0.5:0.001",
            "--paths",
            "100000",
            "--max-memory",
            "0.2",
            "--out",
            str(out),
        ],
        out,
        "[[sweeps]]",
        "grid points fit",
    )
    assert "at most" in err


def test_negative_risk_aversion_is_refused(capsys, out, tmp_path):
    p = _scenario(tmp_path, lambda t: t.replace("risk_aversion = [3, 1]", "risk_aversion = -1"))
    _fails(capsys, ["run", str(p), "--out", str(out)], out, "[decision].risk_aversion", ">= 0")


def test_goal_objective_without_a_goal_is_refused(capsys, out, tmp_path):
    p = _scenario(
        tmp_path,
        lambda t: t.replace(
            "risk_aversion = [3, 1]", 'risk_aversion = [3, 1]\nobjective = "goal_probability"'
        ),
    )
    _fails(capsys, ["run", str(p), "--out", str(out)], out, "[simulation].goal")


def test_unknown_decision_key_is_refused_with_a_suggestion(capsys, out, tmp_path):
    p = _scenario(tmp_path, lambda t: t.replace("risk_aversion = [3, 1]", "risk_aversoin = 3"))
    _fails(capsys, ["run", str(p), "--out", str(out)], out, "risk_aversion")


def test_optimize_band_refuses_a_policy_that_is_not_a_threshold(capsys, out):
    _fails(capsys, ["optimize-band", str(BANDS), "--policy", "annual"], out, "--policy")


def test_optimize_band_refuses_bad_costs(capsys, out):
    _fails(capsys, ["optimize-band", str(BANDS), "--costs", "1,x"], out, "--costs")
    _fails(capsys, ["optimize-band", str(BANDS), "--costs=-1,2"], out, "--costs")


def test_sweep_command_prints_the_ranking_and_the_winner(capsys, tmp_path):
    folder = tmp_path / "run"
    argv = [
        "sweep",
        str(BANDS),
        "--policy",
        "bands",
        "--grid",
        "band=0.02:0.06:0.02",
        "--paths",
        "1000",
        "--no-report",
        "--out",
        str(folder),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "ranking, risk aversion 3" in text
    assert "winner on paths of the selection half:" in text
    assert (folder / "ranking.csv").is_file()


def test_a_sweep_too_small_for_both_halves_is_refused_before_simulating(capsys, out):
    # 300 paths in blocks of 500 are one block: nothing to choose on, or nothing to judge on.
    err = _fails(
        capsys,
        ["run", str(BANDS), "--paths", "300", "--out", str(out)],
        out,
        "`[decision]`",
        "`[simulation].block_size`",
        "--paths",
        "1,000 paths",
    )
    assert "0 path(s) to choose on" in err


def test_a_decision_between_named_policies_too_small_for_both_halves_is_refused(
    capsys, tmp_path, out
):
    def named_only(text):
        head, _, _ = text.partition("[[sweeps]]")
        return head.replace("block_size = 500", "block_size = 100") + (
            "\n[decision]\nrisk_aversion = [3]\n"
        )

    p = _scenario(tmp_path, named_only)
    _fails(
        capsys,
        ["run", str(p), "--paths", "100", "--out", str(out)],
        out,
        "`[decision]`",
        "200 paths",
    )
