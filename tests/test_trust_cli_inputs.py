"""Command-line input that used to crash: each is refused with one line naming the flag.

Bad option values stop ``mcsim`` with exit status 2 and ``mcsim: error: ...`` before anything
is created; a closed stdout ends it quietly; sections a scenario leaves out are reported with
the defaults used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mcsim
from mcsim.cli import build_parser, check_args, main
from mcsim.errors import ConfigError


@pytest.fixture
def scenario_file(small_table, write_toml, tmp_path) -> Path:
    table = small_table(simulation={"n_paths": 16, "horizon_years": 1, "block_size": 8})
    return write_toml(table, tmp_path / "small.toml")


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """A results folder holding an earlier run's file."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("earlier results\n")
    return out


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``: file bytes, or None for a directory."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
    }


def _refused(argv: list[str], capsys) -> str:
    """Run ``mcsim argv``; check exit 2 with one error line and no traceback; return it."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mcsim: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--jobs", "0"], "`--jobs`"),
        (["--jobs", "-2"], "`--jobs`"),
        (["--jobs", "1000"], "`--jobs 1000`"),
        (["--seed", "-1"], "`--seed`"),
        (["--max-memory", "nan"], "`--max-memory`"),
        (["--max-memory", "inf"], "`--max-memory`"),
        (["--max-memory", "-1"], "`--max-memory`"),
        (["--max-memory", "0"], "`--max-memory`"),
        (["--paths", "0"], "`--paths`"),
        (["--paths", "-5"], "`--paths`"),
        (["--scheduler", "tcp://127.0.0.1:8786", "--backend", "loky"], "`--scheduler`"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_run_flag_exits_2_naming_it_and_leaves_out_untouched(
    flags, names, scenario_file, out_dir, capsys, monkeypatch
):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # the --jobs limit is per core
    before = _snapshot(out_dir)
    argv = ["run", str(scenario_file), "--out", str(out_dir), "--no-progress", *flags]
    line = _refused(argv, capsys)
    assert names in line
    # Nothing created, not even the checkpoint folder.
    assert _snapshot(out_dir) == before


def test_jobs_limit_is_named(scenario_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    line = _refused(
        ["run", str(scenario_file), "--out", str(tmp_path / "o"), "--jobs", "9"], capsys
    )
    assert "2 core(s)" in line and "at most 8" in line
    assert not (tmp_path / "o").exists()


def test_seed_minus_one_creates_no_checkpoint_folder(scenario_file, tmp_path, capsys):
    out = tmp_path / "fresh"
    line = _refused(["run", str(scenario_file), "--out", str(out), "--seed", "-1"], capsys)
    assert "`--seed` must be a whole number >= 0; got -1" in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--jobs", "0"], "`--jobs`"),
        (["--jobs", "-3"], "`--jobs`"),
        (["--paths", "0"], "`--paths`"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_validate_flag_exits_2_naming_it(flags, names, scenario_file, capsys):
    assert names in _refused(["validate", str(scenario_file), *flags], capsys)


def test_validate_all_cores_counts_the_cores(scenario_file, capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert main(["validate", str(scenario_file), "--jobs", "-1"]) == 0
    assert "with 3 worker(s)" in capsys.readouterr().out


# -- --scheduler and --backend ---------------------------------------------------------------
def _run_args(*flags: str):
    return build_parser().parse_args(["run", "--out", "x", *flags])


def test_scheduler_implies_the_dask_backend_and_says_so(capsys):
    args = _run_args("--scheduler", "tcp://127.0.0.1:8786")
    check_args(args)
    assert args.backend == "dask"
    assert "--scheduler given: using --backend dask" in capsys.readouterr().err


def test_backend_defaults_to_threads_without_a_scheduler(capsys):
    args = _run_args()
    check_args(args)
    assert args.backend == "threads"
    assert capsys.readouterr().err == ""
    args = _run_args("--backend", "dask", "--scheduler", "tcp://127.0.0.1:8786")
    check_args(args)
    assert args.backend == "dask"


def test_scheduler_with_another_backend_is_refused():
    with pytest.raises(ConfigError, match=r"`--scheduler`.*`--backend threads`"):
        check_args(_run_args("--backend", "threads", "--scheduler", "tcp://127.0.0.1:8786"))


def test_unreachable_scheduler_exits_2_naming_it(scenario_file, tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "o"
    argv = ["run", str(scenario_file), "--out", str(out), "--scheduler", "nosuchscheme://x"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "mcsim: error: `--scheduler nosuchscheme://x`: cannot connect" in err
    assert not out.exists()


# -- scenario files that are not UTF-8 -------------------------------------------------------
@pytest.fixture
def latin1_file(tmp_path) -> Path:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    return path


def test_non_utf8_scenario_file_raises_config_error(latin1_file):
    with pytest.raises(ConfigError, match=r"latin1\.toml: not UTF-8 text .*Save the file as UTF-8"):
        mcsim.Scenario.from_toml(latin1_file)


def test_non_utf8_scenario_file_exits_2(latin1_file, out_dir, capsys):
    before = _snapshot(out_dir)
    for argv in (["validate", str(latin1_file)], ["run", str(latin1_file), "--out", str(out_dir)]):
        line = _refused(argv, capsys)
        assert "latin1.toml" in line and "UTF-8" in line
    assert _snapshot(out_dir) == before


# -- a closed stdout (`mcsim run ... | head`) ------------------------------------------------
@pytest.mark.parametrize("command", ["run", "validate"])
def test_closed_stdout_exits_quietly(command, scenario_file, tmp_path):
    out = tmp_path / "piped"
    extra = ["--out", str(out), "--no-progress", "--no-report"] if command == "run" else []
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "mcsim.cli", command, str(scenario_file), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    # The reader goes away before mcsim writes anything, as `head` does after its lines.
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 141), err
    assert b"Traceback" not in err and b"BrokenPipeError" not in err
    if command == "run":
        assert (out / "summary.csv").exists()  # the results were written before the print


# -- sections left to their defaults are stated ----------------------------------------------
def test_defaulted_sections_are_recorded(small_table):
    assert mcsim.Scenario.from_dict(small_table()).defaulted_sections == ()
    sc = mcsim.Scenario.from_dict(small_table(simulation=None))
    assert sc.defaulted_sections == ("simulation",)
    # Kept by a change of [simulation] fields, which runs do for --paths.
    assert sc.replace(n_paths=5).defaulted_sections == ("simulation",)
    table = small_table(simulation=None, model=None)
    table["data"] = {"source": "shiller", "columns": ["us_stocks_tr", "us_bonds_10y_tr"]}
    table["portfolio"] = {"target": {"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4}}
    assert mcsim.Scenario.from_dict(table).defaulted_sections == ("simulation", "model")
    built = mcsim.Scenario(model=sc.model, target=sc.target, policies=sc.policies)
    assert built.defaulted_sections == ()


@pytest.fixture
def defaults_file(small_table, write_toml, tmp_path) -> Path:
    table = small_table(simulation=None, model=None, costs=None)
    table["data"] = {"source": "shiller", "columns": ["us_stocks_tr", "us_bonds_10y_tr"]}
    table["portfolio"] = {"target": {"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4}}
    return write_toml(table, tmp_path / "defaults.toml")


def test_validate_states_the_defaults_used(defaults_file, capsys):
    assert main(["validate", str(defaults_file)]) == 0
    out = capsys.readouterr().out
    assert (
        "[simulation] not given: defaults used (10,000 paths, 30 years, monthly steps, "
        "blocks of 1,000 paths, initial wealth 1,000,000, no seed: fresh entropy each run)."
    ) in out
    assert (
        "[model] not given: defaults used (kind 'gaussian' with the 'sample' covariance "
        "estimator, fitted to [data] source 'shiller')."
    ) in out


def test_run_states_the_defaults_used_after_the_summary(defaults_file, tmp_path, capsys):
    out_dir = tmp_path / "o"
    argv = ["run", str(defaults_file), "--out", str(out_dir), "--paths", "20", "--seed", "3"]
    assert main([*argv, "--no-progress", "--no-report"]) == 0
    lines = capsys.readouterr().out.splitlines()
    sim_note = next(i for i, x in enumerate(lines) if x.startswith("[simulation] not given"))
    assert "20 paths (--paths)" in lines[sim_note] and "seed 3 (--seed)" in lines[sim_note]
    assert lines[sim_note + 1].startswith("[model] not given: defaults used (kind 'gaussian'")
    summary = next(i for i, x in enumerate(lines) if x.startswith("policy"))
    wrote = next(i for i, x in enumerate(lines) if x.startswith("Wrote "))
    assert summary < sim_note < wrote


def test_no_defaults_note_when_the_sections_are_given(scenario_file, capsys):
    assert main(["validate", str(scenario_file)]) == 0
    assert "not given" not in capsys.readouterr().out
