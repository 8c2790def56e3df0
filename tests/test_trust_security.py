"""A scenario file is data: reading, validating or refusing it imports no code.

A custom rule named in a file as ``package.module:function`` is imported only with the
opt-in (``allow_code=True``, ``--allow-code``); modules of the ``mcsim`` package itself are
part of the installed tool and need none. The local Dask cluster listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import mcsim
from mcsim.cli import _dask_client, _local_cluster_options, main
from mcsim.errors import ConfigError
from mcsim.examples.rules import drift_or_calendar_nb, momentum_tilt_nb
from mcsim.policies import CodeReference, is_trusted_reference
from mcsim.scenarios import scenario_path

# A module that leaves evidence when imported: a marker file, and an entry in a list kept
# on the `sys` module (which outlives re-imports).
_MODULE = """
import pathlib
import sys

from numba import njit

pathlib.Path({marker!r}).write_text("imported")
sys.mcsim_test_imports = [*getattr(sys, "mcsim_test_imports", []), __name__]


@njit
def never_nb(t, returns, w, wealth, target, params, state, w_new):
    return False
"""


class SideEffectModule:
    """A freshly named module with import side effects, in a folder on ``sys.path``."""

    def __init__(self, folder: Path, prefix: str = "side_effect") -> None:
        self.folder = folder
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.marker = folder / f"{self.name}.imported"
        (folder / f"{self.name}.py").write_text(
            textwrap.dedent(_MODULE.format(marker=str(self.marker)))
        )
        self.spec = f"{self.name}:never_nb"

    @property
    def imported(self) -> bool:
        return (
            self.marker.exists()
            or self.name in sys.modules
            or self.name in getattr(sys, "mcsim_test_imports", [])
        )


@pytest.fixture
def side_effect(tmp_path, monkeypatch) -> SideEffectModule:
    folder = tmp_path / "code"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return SideEffectModule(folder)


def _custom_table(small_table, spec: str) -> dict:
    return small_table(
        simulation={"n_paths": 16, "horizon_years": 1, "block_size": 8},
        policies=[
            {"name": "buy_and_hold", "kind": "buy_and_hold"},
            {"name": "mine", "kind": "custom", "rebalance_nb": spec},
        ],
    )


@pytest.fixture
def custom_file(small_table, write_toml, side_effect, tmp_path) -> Path:
    return write_toml(_custom_table(small_table, side_effect.spec), tmp_path / "custom.toml")


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``: file bytes, or None for a directory."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
    }


# -- the API: loading imports nothing, running refuses, the opt-in imports -------------------
def test_from_toml_imports_nothing_without_allow_code(custom_file, side_effect):
    sc = mcsim.Scenario.from_toml(custom_file)
    assert not side_effect.imported
    pol = next(p for p in sc.policies if p.name == "mine")
    assert isinstance(pol.rebalance_nb, CodeReference)
    assert pol.code_reference == side_effect.spec
    assert sc.code_references == (("mine", side_effect.spec),)
    # The reference survives a round trip through the scenario's table, still unimported.
    assert sc.to_dict()["policies"][1]["rebalance_nb"] == side_effect.spec
    again = mcsim.Scenario.from_dict(sc.to_dict())
    assert again.code_references == (("mine", side_effect.spec),)
    assert not side_effect.imported


def test_from_dict_imports_nothing_without_allow_code(small_table, side_effect):
    sc = mcsim.Scenario.from_dict(_custom_table(small_table, side_effect.spec))
    assert sc.code_references == (("mine", side_effect.spec),)
    assert not side_effect.imported


def test_run_refuses_unimported_code_naming_the_field_and_the_fix(custom_file, side_effect):
    sc = mcsim.Scenario.from_toml(custom_file)
    for call in (mcsim.run, mcsim.prepare):
        with pytest.raises(ConfigError) as info:
            call(sc)
        msg = str(info.value)
        assert "`[policies.mine].rebalance_nb`" in msg
        assert repr(side_effect.spec) in msg
        assert "allow_code=True" in msg and "--allow-code" in msg
    assert not side_effect.imported


def test_malformed_reference_is_refused_at_load_without_importing(small_table):
    for spec in (".relative:f", "pkg..mod:f", "pkg.mod:f:g", "pkg.mod", "pkg mod:f"):
        with pytest.raises(ConfigError, match=r"`\[policies.mine\].rebalance_nb` must name"):
            mcsim.Scenario.from_dict(_custom_table(small_table, spec))


def test_allow_code_imports_the_module_and_runs(custom_file, side_effect, tmp_path, capsys):
    sc = mcsim.Scenario.from_toml(custom_file, allow_code=True)
    assert side_effect.imported
    pol = next(p for p in sc.policies if p.name == "mine")
    assert pol.code_reference is None and sc.code_references == ()
    res = mcsim.run(sc)
    assert (res.metric("n_rebalances")["mine"] == 0).all()
    # The command line, with the flag, runs it as well.
    out = tmp_path / "out"
    code = main(["run", str(custom_file), "--out", str(out), "--no-progress", "--allow-code"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out / "summary.csv").exists()
    code = main(["validate", str(custom_file), "--allow-code"])
    captured = capsys.readouterr()
    assert code == 0 and "--allow-code" not in captured.out


# -- the command line ------------------------------------------------------------------------
def test_validate_reports_code_without_importing_it(custom_file, side_effect, capsys):
    code = main(["validate", str(custom_file)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("small: valid.")
    assert (
        f"policy 'mine' names code '{side_effect.spec}'; it is imported only with --allow-code"
        in captured.out
    )
    assert "policies: buy_and_hold, mine" in captured.out
    assert not side_effect.imported


def test_validate_still_checks_the_rest_of_a_policy_naming_code(
    small_table, write_toml, side_effect, tmp_path, capsys
):
    table = _custom_table(small_table, side_effect.spec)
    table["policies"][1]["target"] = {"stocks": 0.5, "gold": 0.5}
    code = main(["validate", str(write_toml(table, tmp_path / "bad.toml"))])
    err = capsys.readouterr().err
    assert code == 2
    assert "gold" in err and "Traceback" not in err
    assert not side_effect.imported


def test_run_without_allow_code_exits_2_and_leaves_out_untouched(
    custom_file, side_effect, tmp_path, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    before = _snapshot(out)
    code = main(["run", str(custom_file), "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcsim: error: ")
    assert "policy 'mine'" in lines[0] and "--allow-code" in lines[0]
    assert side_effect.spec in lines[0]
    assert "Traceback" not in captured.err
    assert _snapshot(out) == before
    assert not side_effect.imported


def test_command_line_processes_import_nothing_without_allow_code(custom_file, side_effect):
    """Real processes, with the module's folder on PYTHONPATH: validate and run."""
    env = os.environ | {"PYTHONPATH": str(side_effect.folder)}
    out = custom_file.parent / "out"
    for argv, status in ((["validate"], 0), (["run", "--out", str(out), "--no-progress"], 2)):
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "mcsim.cli", argv[0], str(custom_file), *argv[1:]],
            capture_output=True,
            text=True,
            env=env,
            cwd=custom_file.parent,
            timeout=300,
            check=False,
        )
        assert proc.returncode == status, proc.stderr
        assert "--allow-code" in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
    assert not side_effect.marker.exists()
    assert not out.exists()


# -- what needs no opt-in --------------------------------------------------------------------
def test_mcsim_modules_need_no_opt_in(tmp_path, capsys):
    sc = mcsim.Scenario.from_toml(scenario_path("bands_5_25"))
    custom = next(p for p in sc.policies if isinstance(p, mcsim.Custom))
    assert custom.rebalance_nb is momentum_tilt_nb
    assert sc.code_references == ()
    code = main(["run", "bands_5_25", "--out", str(tmp_path), "--paths", "20", "--no-report"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("bands_5_25: 20 paths")


def test_a_function_object_needs_no_opt_in(small_table):
    base = mcsim.Scenario.from_dict(small_table())
    pol = mcsim.Custom(name="mine", rebalance_nb=drift_or_calendar_nb, params=[0.05, 12])
    sc = mcsim.Scenario(
        model=base.model, target=base.target, simulation=base.simulation, policies=[pol]
    )
    assert sc.code_references == ()
    plan = mcsim.prepare(sc)
    assert plan.policies[0].rebalance_nb is drift_or_calendar_nb


@pytest.mark.parametrize(
    ("spec", "trusted"),
    [
        ("mcsim.examples.rules:momentum_tilt_nb", True),
        ("mcsim:run", True),
        ("mcsimx.evil:f", False),
        ("mcsim_evil:f", False),
        ("evil.mcsim:f", False),
        ("xmcsim.examples.rules:momentum_tilt_nb", False),
        (".mcsim.testing:f", False),
        ("mcsim..testing:f", False),
        ("mcsim.__main__:main", False),
        ("mcsim.examples.rules", False),
        (" mcsim.examples.rules:momentum_tilt_nb", False),
    ],
)
def test_mcsim_prefix_cannot_be_fooled(spec, trusted):
    assert is_trusted_reference(spec) is trusted


def test_a_lookalike_of_mcsim_is_not_imported(small_table, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    lookalike = SideEffectModule(tmp_path, prefix="mcsimx")
    sc = mcsim.Scenario.from_dict(_custom_table(small_table, lookalike.spec))
    assert sc.code_references == (("mine", lookalike.spec),)
    assert not lookalike.imported


# -- Dask: the local cluster stays on this machine -------------------------------------------
def test_local_cluster_binds_scheduler_and_dashboard_to_localhost():
    options = _local_cluster_options(3)
    assert options["host"] == "127.0.0.1"
    assert options["dashboard_address"].startswith("127.0.0.1:")
    assert options["n_workers"] == 3


def test_local_dask_cluster_listens_on_localhost_and_prints_its_dashboard(monkeypatch, capsys):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    client = _dask_client(None)
    try:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        workers = client.scheduler_info()["workers"]
        assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)
        err = capsys.readouterr().err
        assert "mcsim: Dask dashboard at http://127.0.0.1:" in err
    finally:
        client.close()
