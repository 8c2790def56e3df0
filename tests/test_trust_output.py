"""An output folder never loses work: it is checked and locked before simulating, results
appear only once all are written, checkpoints stay until then, and a killed run leaves
nothing that a rerun does not clean up.

Every bad folder is exit status 2 with one ``mcsim: error:`` line naming ``--out`` (or the
file and the reason), no traceback, and the folder as it was.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.cli
import mcsim.output
import mcsim.report
from mcsim.errors import OutputError
from mcsim.output import FolderLock

N_BLOCKS = 4
OLD = {"summary.csv": "old summary\n", "paths.parquet": "old paths\n", "notes.txt": "mine\n"}


@pytest.fixture
def scenario_file(small_table, write_toml, tmp_path) -> Path:
    return write_toml(small_table(), tmp_path / "s.toml")


def _argv(path, out) -> list[str]:
    return ["run", str(path), "--out", str(out), "--no-progress", "--no-report"]


def _old_results(out: Path) -> Path:
    out.mkdir()
    for name, text in OLD.items():
        (out / name).write_text(text)
    return out


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones too): bytes of files, None for folders."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
    }


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcsim: error: "), err
    return lines[0]


def _spy_blocks(monkeypatch) -> list[int]:
    from mcsim import engine

    real = engine.simulate_block
    calls: list[int] = []

    def simulate_block(plan, block):
        calls.append(block)
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", simulate_block)
    return calls


# -- bad folders, caught before simulating ------------------------------------------------
def test_empty_out_is_refused_and_writes_nothing(scenario_file, tmp_path, monkeypatch, capsys):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    calls = _spy_blocks(monkeypatch)
    assert mcsim.cli.main(_argv(scenario_file, "")) == 2
    line = _error_line(capsys)
    assert "--out ''" in line and "is empty" in line
    assert calls == [] and list(work.iterdir()) == []


def test_out_that_is_a_file(scenario_file, tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("keep me")
    assert mcsim.cli.main(_argv(scenario_file, f)) == 2
    assert "--out" in _error_line(capsys)
    assert f.read_text() == "keep me"


def test_out_under_a_file(scenario_file, tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("keep me")
    assert mcsim.cli.main(_argv(scenario_file, f / "sub")) == 2
    line = _error_line(capsys)
    assert "--out" in line and "cannot be created (Not a directory)" in line
    assert f.read_text() == "keep me"


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
@pytest.mark.parametrize("out", ["/proc/mcsim-results", "/proc"])
def test_out_in_proc(scenario_file, out, capsys, monkeypatch):
    calls = _spy_blocks(monkeypatch)
    assert mcsim.cli.main(_argv(scenario_file, out)) == 2
    assert f"--out {out!r}" in _error_line(capsys)
    assert calls == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_out(scenario_file, tmp_path, capsys):
    out = _old_results(tmp_path / "out")
    before = _snapshot(out)
    out.chmod(0o555)
    try:
        assert mcsim.cli.main(_argv(scenario_file, out)) == 2
    finally:
        out.chmod(0o755)
    assert "--out" in _error_line(capsys)
    assert _snapshot(out) == before


def test_unwritable_out_is_refused_before_simulating(scenario_file, tmp_path, monkeypatch, capsys):
    # What a read-only folder does for a user who is not root.
    out = _old_results(tmp_path / "out")
    before = _snapshot(out)

    def mkstemp(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(mcsim.output.tempfile, "mkstemp", mkstemp)
    calls = _spy_blocks(monkeypatch)
    assert mcsim.cli.main(_argv(scenario_file, out)) == 2
    line = _error_line(capsys)
    assert "--out" in line and "not writable (Permission denied)" in line
    assert calls == [] and _snapshot(out) == before


def test_python_api_names_out(scenario_file, tmp_path):
    scenario = mcsim.Scenario.from_toml(scenario_file)
    with pytest.raises(OutputError, match=r"`out` = '' is empty"):
        mcsim.run(scenario, out="")
    with pytest.raises(mcsim.ConfigError, match="`checkpoint_dir` cannot be combined"):
        mcsim.run(scenario, out=tmp_path / "o", checkpoint_dir=tmp_path / "c")


# -- failures while saving keep the simulated work ----------------------------------------
def test_full_disk_while_saving_keeps_old_results_and_blocks(
    scenario_file, tmp_path, monkeypatch, capsys
):
    out = _old_results(tmp_path / "out")
    before = _snapshot(out)

    def full_disk(result, path):
        # A report that gets 2 MB in and runs out of space.
        Path(path).write_bytes(b"x" * 2_000_000)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(mcsim.report, "write_report", full_disk)
    argv = ["run", str(scenario_file), "--out", str(out), "--no-progress"]
    assert mcsim.cli.main(argv) == 2
    line = _error_line(capsys)
    assert "could not write report.html" in line and "--out" in line
    assert "No space left on device" in line and "without simulating again" in line
    # Old results intact, no partial file, the blocks kept for the rerun.
    after = _snapshot(out)
    assert {k: v for k, v in after.items() if not k.startswith(".mcsim-checkpoint")} == before
    assert len(list(out.glob(".mcsim-checkpoint/run-*/block_*.npz"))) == N_BLOCKS
    assert all(len(v or b"") < 2_000_000 for v in after.values())

    monkeypatch.undo()
    calls = _spy_blocks(monkeypatch)
    assert mcsim.cli.main(argv) == 0
    assert f"{N_BLOCKS} block(s) resumed" in capsys.readouterr().out
    assert calls == []
    assert not (out / ".mcsim-checkpoint").exists()
    assert (out / "report.html").exists() and (out / "notes.txt").read_text() == "mine\n"


def test_permission_denied_when_placing_files(scenario_file, tmp_path, monkeypatch, capsys):
    out = _old_results(tmp_path / "out")
    before = _snapshot(out)
    real = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst).parent == out and Path(dst).name == "fan.csv":
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    assert mcsim.cli.main(_argv(scenario_file, out)) == 2
    line = _error_line(capsys)
    assert "could not write fan.csv" in line and "Permission denied" in line
    assert not list(out.glob(".mcsim-staging-*"))
    # Files moved before fan.csv are new; the manifest, moved last, is not there yet.
    assert not (out / "manifest.json").exists() and (out / "notes.txt").read_text() == "mine\n"
    assert len(list(out.glob(".mcsim-checkpoint/run-*/block_*.npz"))) == N_BLOCKS
    monkeypatch.undo()
    assert mcsim.cli.main(_argv(scenario_file, out)) == 0
    assert before.keys() <= _snapshot(out).keys()


def test_full_disk_while_writing_a_block(scenario_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    real = np.savez
    written: list[int] = []

    def savez(f, **arrays):
        if len(written) == 2:
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(1)
        return real(f, **arrays)

    monkeypatch.setattr(np, "savez", savez)
    assert mcsim.cli.main(_argv(scenario_file, out)) == 2
    line = _error_line(capsys)
    assert "could not write checkpoint block 2" in line and "No space left on device" in line
    (run_dir,) = out.glob(".mcsim-checkpoint/run-*")
    assert sorted(p.name for p in run_dir.iterdir()) == ["block_000000.npz", "block_000001.npz"]
    assert not (out / ".mcsim-lock").exists()


# -- the lock -----------------------------------------------------------------------------
_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mcsim.output import FolderLock
    FolderLock(Path(sys.argv[1])).acquire()
    print("locked", flush=True)
    time.sleep(60)
    """
)


def test_second_run_into_a_locked_folder_stops_before_simulating(
    scenario_file, tmp_path, monkeypatch, capsys
):
    out = _old_results(tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _snapshot(out)
        calls = _spy_blocks(monkeypatch)
        assert mcsim.cli.main(_argv(scenario_file, out)) == 2
        line = _error_line(capsys)
        assert f"--out {str(out)!r} is in use by another mcsim run (pid {holder.pid}" in line
        assert "started 20" in line
        assert calls == [] and _snapshot(out) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel released the dead holder's lock: the folder is usable again.
    assert mcsim.cli.main(_argv(scenario_file, out)) == 0
    assert not (out / ".mcsim-lock").exists()


def test_lock_in_the_same_process_and_release(tmp_path):
    lock = FolderLock(tmp_path, "--out")
    lock.acquire()
    info = json.loads((tmp_path / ".mcsim-lock").read_text())
    assert info["pid"] == os.getpid()
    with pytest.raises(OutputError, match=rf"in use by another mcsim run \(pid {os.getpid()}"):
        FolderLock(tmp_path).acquire()
    lock.release()
    assert not (tmp_path / ".mcsim-lock").exists()
    with mcsim.output.locked(tmp_path), mcsim.output.locked(tmp_path):
        pass  # reentrant within a process


def test_stale_staging_and_temp_files_are_cleaned(scenario_file, tmp_path, capsys):
    out = _old_results(tmp_path / "out")
    staging = out / ".mcsim-staging-99999-abc"
    staging.mkdir()
    (staging / "paths.parquet").write_bytes(b"x" * 1000)
    run_dir = out / ".mcsim-checkpoint" / "run-0123456789abcdef"
    run_dir.mkdir(parents=True)
    (run_dir / ".block_000001.99999.tmp").write_bytes(b"half")
    (out / ".mcsim-lock").write_text('{"pid": 99999, "started": "then"}')  # a dead holder's
    assert mcsim.cli.main(_argv(scenario_file, out)) == 0
    assert not staging.exists() and not (run_dir / ".block_000001.99999.tmp").exists()
    assert not (out / ".mcsim-lock").exists()
    # Another run's (empty) folder is left to it.
    assert [p.name for p in (out / ".mcsim-checkpoint").iterdir()] == [run_dir.name]


# -- fault injection: SIGKILL at random moments -------------------------------------------
N_FAULT_BLOCKS = 20
# Phases to kill in, per chain of runs into one folder; the chain then runs to the end.
CHAINS = [("blocks", "blocks", "save", "save")] * 3
# Seconds into a phase to kill at, at most: blocks take about N_FAULT_BLOCKS * DELAY, the
# save about 12 * DELAY (conftest's fault_wrapper: 0.03 s).
LATEST = {"blocks": 0.45, "save": 0.3}


def _assert_clean(out: Path) -> None:
    hidden = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert hidden == [], hidden
    lock = FolderLock(out)
    lock.acquire()  # nobody holds it
    lock.release()


def _comparable(out: Path) -> dict[str, object]:
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "manifest.json"}
    manifest = json.loads((out / "manifest.json").read_text())
    for volatile in ("timings", "created"):
        manifest.pop(volatile)
    files["manifest.json"] = manifest
    return files


def test_sigkill_at_random_moments_then_rerun_gives_identical_results(
    small_table, write_toml, kill_during, fault_wrapper, tmp_path
):
    table = small_table(
        simulation={
            "n_paths": N_FAULT_BLOCKS * 50,
            "block_size": 50,
            "horizon_years": 1,
            "keep_paths": 5,
        }
    )
    path = write_toml(table, tmp_path / "f.toml")
    wrapper = fault_wrapper
    reference = tmp_path / "reference"
    assert mcsim.cli.main(_argv(path, reference)) == 0
    expected = _comparable(reference)
    ref_paths = pd.read_parquet(reference / "paths.parquet")

    rng = np.random.default_rng(20240607)
    kills = {"blocks": 0, "save": 0}
    for k, phases in enumerate(CHAINS):
        out = tmp_path / f"out{k}"
        argv = [sys.executable, str(wrapper), *_argv(path, out)]
        for phase in phases:
            killed = kill_during(argv, phase, float(rng.uniform(0.0, LATEST[phase])), tmp_path)
            kills[phase] += killed
        done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / "paths.parquet"), ref_paths, check_exact=True
        )
        assert _comparable(out) == expected
        _assert_clean(out)
    assert sum(kills.values()) >= 10 and min(kills.values()) >= 3, kills
