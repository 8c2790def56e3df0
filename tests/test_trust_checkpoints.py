"""Checkpoint blocks carry their proof: whatever is in the checkpoint folder, a resumed run
either uses a block that is exactly the one it would simulate, or simulates it again.

Each damaged block is detected (a ``CheckpointWarning`` naming the block), recomputed, and
the results equal the uninterrupted run bit for bit, down to the saved ``paths.parquet``.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.cli
from mcsim import engine
from mcsim.checkpoint import Checkpoint
from mcsim.errors import CheckpointWarning

N_BLOCKS = 4
DAMAGED = 1


@pytest.fixture(scope="module")
def scenario(small_table):
    return mcsim.Scenario.from_dict(small_table(flows=[{"amount": 20.0, "every": 3}]))


@pytest.fixture(scope="module")
def reference(scenario, tmp_path_factory):
    res = mcsim.run(scenario)
    out = tmp_path_factory.mktemp("reference")
    res.save(out, report=False)
    return res, pd.read_parquet(out / "paths.parquet")


@pytest.fixture(scope="module")
def run_key(scenario):
    return engine._run_key(engine.prepare(scenario))


@pytest.fixture(scope="module")
def foreign_block(scenario, tmp_path_factory) -> bytes:
    """Block 1 of another run (another seed): a valid file, for the wrong run."""
    ckpt = tmp_path_factory.mktemp("foreign")
    mcsim.run(scenario, seed=1, checkpoint_dir=ckpt)
    (run_dir,) = ckpt.glob("run-*")
    return (run_dir / f"block_{DAMAGED:06d}.npz").read_bytes()


def _full_checkpoint(scenario, root: Path) -> Path:
    """A checkpoint holding every block of the run (a run's blocks stay until a save)."""
    mcsim.run(scenario, checkpoint_dir=root)
    (run_dir,) = root.glob("run-*")
    assert len(list(run_dir.glob("block_*.npz"))) == N_BLOCKS
    return run_dir


def _spy(monkeypatch) -> list[int]:
    real = engine.simulate_block
    calls: list[int] = []

    def simulate_block(plan, block):
        calls.append(block)
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", simulate_block)
    return calls


def _assert_reference(res, reference, tmp_path: Path) -> None:
    ref, ref_paths = reference
    np.testing.assert_array_equal(res.metrics_array, ref.metrics_array)
    np.testing.assert_array_equal(res.hist, ref.hist)
    np.testing.assert_array_equal(res.wealth_array, ref.wealth_array)
    out = tmp_path / "saved"
    res.save(out, report=False)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "paths.parquet"), ref_paths, check_exact=True
    )


def _read_npz(p: Path) -> dict[str, np.ndarray]:
    with np.load(p) as z:
        return {k: z[k] for k in z.files}


def _rewrite(p: Path, arrays: dict[str, np.ndarray], digest: str) -> None:
    """Write ``arrays`` back under the file's proof, with ``digest`` as its checksum: a
    tampered payload whose checksum looks recomputed (right length, hex) but is wrong."""
    proof = json.loads(bytes(arrays.pop("proof")).decode())
    proof["digest"] = digest
    blob = np.frombuffer(json.dumps(proof).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, proof=blob, **arrays)
    p.write_bytes(buf.getvalue())


def _truncate(p: Path, **_) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _empty(p: Path, **_) -> None:
    p.write_bytes(b"")


def _flip_bit(p: Path, **_) -> None:
    # A bit in the middle of the metrics payload (the zip's CRC and our digest both cover it).
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("metrics.npy")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size // 2
    data[at] ^= 0x10
    p.write_bytes(bytes(data))


def _wrong_shape(p: Path, run_key: str, **_) -> None:
    # A well-formed block with a valid proof of its own, but half the paths.
    arrays = _read_npz(p)
    arrays.pop("proof")
    arrays["metrics"] = arrays["metrics"][:, :8].copy()
    Checkpoint(p.parent.parent, run_key).save(DAMAGED, arrays)


def _nan_values(p: Path, **_) -> None:
    arrays = _read_npz(p)
    arrays["metrics"] = np.full_like(arrays["metrics"], np.nan)
    _rewrite(p, arrays, hashlib.blake2b(arrays["metrics"].tobytes(), digest_size=32).hexdigest())


def _doubled_values(p: Path, **_) -> None:
    arrays = _read_npz(p)
    arrays["metrics"] = arrays["metrics"] * 2.0
    _rewrite(p, arrays, hashlib.sha256(arrays["metrics"].tobytes()).hexdigest())


def _foreign(p: Path, foreign: bytes, **_) -> None:
    p.write_bytes(foreign)


def _folder(p: Path, **_) -> None:
    p.unlink()
    p.mkdir()
    (p / "metrics.npy").write_bytes(b"\x93NUMPY")


def _not_numpy(p: Path, **_) -> None:
    p.write_text("not a numpy file")


CASES: dict[str, tuple[Callable[..., None], str]] = {
    "truncated": (_truncate, "unreadable"),
    "empty": (_empty, "empty file"),
    "bit_flipped": (_flip_bit, "unreadable"),
    "wrong_shape": (_wrong_shape, "wrong shape"),
    "nan_values": (_nan_values, "checksum mismatch"),
    "doubled_values": (_doubled_values, "checksum mismatch"),
    "foreign_run": (_foreign, "another run"),
    "folder_instead_of_file": (_folder, "not a file"),
    "not_numpy": (_not_numpy, "unreadable"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_block_is_detected_and_recomputed(
    case, scenario, reference, run_key, foreign_block, tmp_path, monkeypatch
):
    damage, reason = CASES[case]
    run_dir = _full_checkpoint(scenario, tmp_path / "ckpt")
    damage(run_dir / f"block_{DAMAGED:06d}.npz", run_key=run_key, foreign=foreign_block)
    calls = _spy(monkeypatch)
    with pytest.warns(CheckpointWarning, match=rf"checkpoint block {DAMAGED} is damaged") as rec:
        res = mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt")
    assert calls == [DAMAGED]
    assert res.timings["blocks_resumed"] == N_BLOCKS - 1
    (message,) = [str(w.message) for w in rec if w.category is CheckpointWarning]
    assert reason in message and "recomputing it" in message
    # The recomputed block replaced the damaged one and passes its proof.
    assert (run_dir / f"block_{DAMAGED:06d}.npz").is_file()
    _assert_reference(res, reference, tmp_path)
    assert not (tmp_path / "ckpt").exists()


def test_every_block_damaged_at_once(scenario, reference, tmp_path, monkeypatch):
    run_dir = _full_checkpoint(scenario, tmp_path / "ckpt")
    for p in run_dir.glob("block_*.npz"):
        _truncate(p)
    calls = _spy(monkeypatch)
    with pytest.warns(CheckpointWarning):
        res = mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt")
    assert calls == list(range(N_BLOCKS))
    _assert_reference(res, reference, tmp_path)


def test_stray_files_in_the_checkpoint_are_ignored(scenario, reference, tmp_path, monkeypatch):
    run_dir = _full_checkpoint(scenario, tmp_path / "ckpt")
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / "block_999999.npz").write_bytes(b"junk")
    (run_dir / "subfolder").mkdir()
    (run_dir / ".block_000002.4242.tmp").write_bytes(b"half a block")
    (tmp_path / "ckpt" / "run-0000000000000000").write_text("a file where a run folder goes")
    calls = _spy(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        res = mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt")
    assert calls == []
    assert res.timings["blocks_resumed"] == N_BLOCKS
    # A dead run's temporary block file is removed once the folder is locked.
    assert not (run_dir / ".block_000002.4242.tmp").exists()
    _assert_reference(res, reference, tmp_path)
    # This run's folder goes with everything in it; the other entry is left alone.
    assert not run_dir.exists()
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["run-0000000000000000"]


@pytest.mark.parametrize("where", ["checkpoint_root", "run_folder"])
def test_a_file_where_a_checkpoint_folder_goes(scenario, reference, run_key, tmp_path, where):
    root = tmp_path / "ckpt"
    if where == "checkpoint_root":
        root.write_text("not a folder")
    else:
        root.mkdir()
        (root / f"run-{run_key[:16]}").write_text("not a folder")
    res = mcsim.run(scenario, checkpoint_dir=root)
    _assert_reference(res, reference, tmp_path)


def test_cli_reports_a_damaged_block_in_one_line(small_table, write_toml, tmp_path, capsys):
    path = write_toml(small_table(), tmp_path / "s.toml")
    out = tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--no-progress", "--no-report"]
    fresh = tmp_path / "fresh"
    assert (
        mcsim.cli.main(["run", str(path), "--out", str(fresh), "--no-progress", "--no-report"]) == 0
    )
    # Leave the blocks of a finished simulation behind, as a kill during the save does.
    res = mcsim.run(mcsim.Scenario.from_toml(path), checkpoint_dir=out / ".mcsim-checkpoint")
    assert res.checkpoint is not None
    (run_dir,) = (out / ".mcsim-checkpoint").glob("run-*")
    _doubled_values(run_dir / "block_000002.npz")
    capsys.readouterr()
    assert mcsim.cli.main(argv) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == [
        "mcsim: warning: checkpoint block 2 is damaged (checksum mismatch); recomputing it"
    ]
    assert "Traceback" not in cap.err
    assert "3 block(s) resumed" in cap.out
    assert not (out / ".mcsim-checkpoint").exists()
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "paths.parquet"),
        pd.read_parquet(fresh / "paths.parquet"),
        check_exact=True,
    )
    shutil.rmtree(out)
