"""The ``mcsim`` command line: run, validate, fit, data, scenarios, errors, console script."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from mcsim import METRICS as METRIC_NAMES
from mcsim.cli import main
from mcsim.config import Scenario
from mcsim.scenarios import bundled_scenarios, scenario_path

# The default scenario simulates inflation, so its runs also write the real-wealth fan.
RESULT_FILES = [
    "paths.parquet",
    "summary.csv",
    "comparison.csv",
    "fan.csv",
    "real_fan.csv",
    "sample_paths.parquet",
    "manifest.json",
    "report.html",
]
DEFAULT_POLICIES = [
    "buy_and_hold",
    "calendar_annual",
    "calendar_quarterly",
    "band_5pp",
    "band_rel_10pct",
    "quarterly_check_5pp",
]


def _main(argv) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``mcsim argv`` (in this process)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("default")
    code, stdout, stderr = _main(["run", "--out", out, "--paths", "200", "--no-progress"])
    return out, code, stdout, stderr


def test_run_default_scenario(default_run):
    out, code, stdout, stderr = default_run
    assert code == 0, stderr
    assert stderr == ""
    assert stdout.startswith("default_60_40: 200 paths x 360 steps (30 years, 12/year)")
    assert "seed entropy 20261122" in stdout
    # The summary table: one row per policy; the comparison table against the baseline.
    for pol in DEFAULT_POLICIES:
        rows = sum(line.startswith(pol + " ") for line in stdout.splitlines())
        assert rows == (1 if pol == "buy_and_hold" else 2), pol
    for header in ("mean wealth", "median", "CAGR", "turnover/yr", "P(loss)", "vs buy_and_hold"):
        assert header in stdout
    assert f"Wrote 8 files to {out}/" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    paths = pd.read_parquet(out / "paths.parquet")
    assert list(paths.columns) == ["policy", "path", *METRIC_NAMES]
    assert len(paths) == 200 * len(DEFAULT_POLICIES)


def test_run_with_two_jobs_gives_the_same_paths(default_run, tmp_path):
    out1 = default_run[0]
    code, stdout, _ = _main(
        ["run", "--out", tmp_path, "--paths", "200", "--jobs", "2", "--no-progress", "--no-report"]
    )
    assert code == 0
    assert "on 2 worker(s)" in stdout
    for name in ("paths.parquet", "sample_paths.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / name), pd.read_parquet(out1 / name), check_exact=True
        )
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "fan.csv"), pd.read_csv(out1 / "fan.csv"), check_exact=True
    )


def test_run_seed_option(tmp_path):
    code, stdout, _ = _main(
        ["run", "--out", tmp_path, "--paths", "20", "--seed", "5", "--no-progress", "--no-report"]
    )
    assert code == 0 and "seed entropy 5," in stdout


def test_scenarios_lists_every_bundled_file():
    code, stdout, _ = _main(["scenarios"])
    assert code == 0
    names = [line.split()[0] for line in stdout.splitlines() if line.strip()]
    assert names == bundled_scenarios()
    assert "default_60_40" in names
    line = next(x for x in stdout.splitlines() if x.startswith("default_60_40"))
    assert "60/40" in line  # with its description


# A few representative scenarios run by default; every bundled one with `-m slow`.
FAST_SCENARIOS = {"default_60_40", "retirement_withdrawals", "frictions"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=() if n in FAST_SCENARIOS else pytest.mark.slow)
        for n in bundled_scenarios()
    ],
)
def test_run_bundled_scenario(name, tmp_path):
    target = name
    if Scenario.from_toml(name).decision is not None:
        # A held-out decision needs two blocks or more: 50 paths run as blocks of 25.
        text = scenario_path(name).read_text()
        target = tmp_path / f"{name}.toml"
        target.write_text(re.sub(r"(?m)^block_size = .*$", "block_size = 25", text))
    args = ["run", str(target), "--out", tmp_path / "out", "--paths", "50", "--no-report"]
    code, stdout, stderr = _main([*args, "--no-progress"])
    assert code == 0, stderr
    # A learned policy's training lines may come first.
    assert any(line.startswith(f"{name}: 50 paths") for line in stdout.splitlines())
    paths = pd.read_parquet(tmp_path / "out" / "paths.parquet")
    n_policies = paths["policy"].nunique()
    assert len(paths) == 50 * n_policies
    assert paths["terminal_wealth"].ge(0).all()


def test_validate():
    code, stdout, _ = _main(["validate", "--paths", "500"])
    assert code == 0
    assert stdout.startswith("default_60_40: valid.")
    assert "assets: us_stocks_tr, us_bonds_10y_tr" in stdout
    assert "500 paths x 360 steps in 1 block(s)" in stdout
    assert "estimated peak memory" in stdout


def test_data_lists_and_describes_datasets():
    code, stdout, _ = _main(["data"])
    assert code == 0
    for name in ("shiller", "ff3", "damodaran"):
        assert name in stdout
    code, stdout, _ = _main(["data", "shiller"])
    assert code == 0
    assert stdout.startswith("shiller: ")
    assert "us_stocks_tr" in stdout and "cpi_inflation" in stdout


def test_fit(tmp_path):
    code, stdout, stderr = _main(
        [
            "fit",
            "shiller",
            "--model",
            "gaussian",
            "--columns",
            "us_stocks_tr,us_bonds_10y_tr",
            "--paths",
            "100",
        ]
    )
    assert code == 0, stderr
    assert "us_stocks_tr" in stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "no_such_scenario.toml", "--out", "{tmp}"],
        ["run", "default_60_4", "--out", "{tmp}"],
        ["validate", "no_such_scenario.toml"],
    ],
    ids=["run_missing_file", "run_misspelt_name", "validate_missing_file"],
)
def test_bad_scenario_path_exits_2_with_one_line(argv, tmp_path, capsys):
    code = main([a.replace("{tmp}", str(tmp_path / "out")) for a in argv])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mcsim: error: Scenario file ")
    assert "does not exist" in lines[0]
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_exits_2(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("keep")
    assert main(["run", "--out", str(target), "--paths", "10", "--no-progress"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep"


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run"])  # --out is required
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["run", "--out", "x", "--backend", "spark"])
    assert info.value.code == 2


@pytest.mark.skipif(
    shutil.which("mcsim") is None, reason="the mcsim console script is not installed"
)
def test_console_script(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        ["mcsim", "run", "--out", str(out), "--paths", "100", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("default_60_40: 100 paths")
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    # And its error path: exit code 2 and one line on stderr.
    bad = subprocess.run(
        ["mcsim", "run", "missing.toml", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1


def test_module_entry_point(tmp_path):
    """``python -m mcsim.cli`` works too (no console script needed)."""
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "mcsim.cli", "scenarios"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "default_60_40" in proc.stdout
