"""Finished blocks on disk, each carrying the proof that it is the block a run asks for.

A block file ``ROOT/run-KEY/block_NNNNNN.npz`` holds the block's arrays and a ``proof``: the
run's full key, the block index, every array's shape and dtype, and a BLAKE2b digest keyed
with the run key over that header and the arrays' bytes. A block is used only when its proof
matches what the run expects; any other content (truncated, empty, damaged, altered, of the
wrong shape, copied from another run, a folder where a file should be) is reported with a
:class:`~mcsim.errors.CheckpointWarning`, discarded and simulated again, so a resumed run
ends with the numbers of an uninterrupted one or does not end at all.

Blocks are written atomically (temporary file, ``fsync``, ``os.replace``), and the checkpoint
root is locked while a run uses it, so temporary files found then are a killed run's debris.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from .errors import CheckpointWarning, OutputError
from .output import TMP_BLOCK_GLOB, fsync_dir, locked

__all__ = [
    "FORMAT",
    "SPARSE_PREFIX",
    "Checkpoint",
    "ExpectedArrays",
    "dense_array",
    "sparse_arrays",
    "sparse_spec",
]

FORMAT = 2
# name -> (shape, dtype string such as "<f8")
ExpectedArrays = Mapping[str, tuple[tuple[int, ...], str]]
#: Arrays named ``sparse_*`` are one-dimensional and of any length (the non-zero entries of
#: a block's sketches): their length is not part of the header; the digest covers their
#: bytes as for every other array.
SPARSE_PREFIX = "sparse_"


def _spec_shape(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    return (-1,) if name.startswith(SPARSE_PREFIX) else tuple(shape)


class _Damaged(Exception):
    """A block file failed its proof; the message says how."""


def _digest(key: str, header: bytes, arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.blake2b(key=hashlib.sha256(key.encode()).digest(), digest_size=32)
    h.update(header)
    for name in sorted(arrays):
        h.update(name.encode() + b"\0")
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


def _header(key: str, block: int, expected: ExpectedArrays) -> bytes:
    spec = {
        name: [list(_spec_shape(name, shape)), dtype]
        for name, (shape, dtype) in sorted(expected.items())
    }
    payload = {"format": FORMAT, "run_key": key, "block": block, "arrays": spec}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sparse_arrays(name: str, a: np.ndarray) -> dict[str, np.ndarray]:
    """The non-zero entries of ``a`` as two ``sparse_*`` arrays: flat positions and values.

    A block's wealth sketches are mostly zeros (a block of 1,000 paths fills at most 1,000 of
    each grid point's 4,002 bins), so a checkpoint stores them this way.
    """
    flat = a.reshape(-1)
    at = np.flatnonzero(flat).astype(np.int64)
    return {f"{SPARSE_PREFIX}{name}_at": at, f"{SPARSE_PREFIX}{name}_values": flat[at]}


def sparse_spec(name: str, dtype: np.dtype | type) -> ExpectedArrays:
    """The expected arrays of :func:`sparse_arrays` of an array of ``dtype``."""
    return {
        f"{SPARSE_PREFIX}{name}_at": ((-1,), np.dtype(np.int64).str),
        f"{SPARSE_PREFIX}{name}_values": ((-1,), np.dtype(dtype).str),
    }


def dense_array(arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The array of shape ``shape`` that :func:`sparse_arrays` stored under ``name``."""
    at = arrays[f"{SPARSE_PREFIX}{name}_at"]
    values = arrays[f"{SPARSE_PREFIX}{name}_values"]
    out = np.zeros(int(np.prod(shape)), dtype=values.dtype)
    out[at] = values
    return out.reshape(shape)


def _remove(p: Path) -> None:
    with contextlib.suppress(OSError):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


class Checkpoint:
    """The blocks of one run under ``root``; use as a context manager while simulating.

    Parameters
    ----------
    root : Path
        The checkpoint folder (``DIR/.mcsim-checkpoint`` for a run into ``DIR``).
    key : str
        The run's full key; its first 16 characters name the run's folder.
    label : str
        How messages name the folder the checkpoint lives in.
    """

    def __init__(self, root: str | os.PathLike[str], key: str, label: str = "checkpoint_dir"):
        self.root = Path(root)
        self.key = key
        self.dir = self.root / f"run-{key[:16]}"
        self.label = label

    # -- the folder -------------------------------------------------------------------------
    def _make_dirs(self) -> None:
        for d in (self.root, self.dir):
            # The names are ours: whatever else sits there is replaced by a folder.
            if (d.exists() or d.is_symlink()) and (d.is_symlink() or not d.is_dir()):
                _remove(d)
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise OutputError(
                    f"the checkpoint folder {str(d)!r} cannot be created "
                    f"({e.strerror or e}); choose a folder you can write to."
                ) from e

    @contextlib.contextmanager
    def opened(self) -> Iterator[Checkpoint]:
        """Lock the checkpoint folder, remove dead runs' temporary files, yield self."""
        self._make_dirs()
        with locked(self.root, self.label):
            for tmp in self.root.glob("run-*/" + TMP_BLOCK_GLOB):
                _remove(tmp)
            yield self

    def path(self, block: int) -> Path:
        return self.dir / f"block_{block:06d}.npz"

    # -- blocks -----------------------------------------------------------------------------
    def load(self, block: int, expected: ExpectedArrays) -> dict[str, np.ndarray] | None:
        """The arrays of ``block`` if its file proves to be that block of this run.

        Returns None when there is no file; a file that fails its proof is reported with a
        :class:`CheckpointWarning` and removed, and None is returned.
        """
        p = self.path(block)
        if not (p.exists() or p.is_symlink()):
            return None
        try:
            arrays = self._read(p, block, expected)
        except _Damaged as e:
            reason = str(e)
        # Any content at all may be in the file (a truncated zip, a zlib stream that does
        # not inflate, a folder): none of it may stop the run, so every failure is a reason.
        except Exception as e:
            reason = f"unreadable: {type(e).__name__}"
        else:
            return arrays
        warnings.warn(
            f"checkpoint block {block} is damaged ({reason}); recomputing it",
            CheckpointWarning,
            stacklevel=2,
        )
        _remove(p)
        return None

    def _read(self, p: Path, block: int, expected: ExpectedArrays) -> dict[str, np.ndarray]:
        if p.is_symlink() or not p.is_file():
            raise _Damaged("not a file")
        if p.stat().st_size == 0:
            raise _Damaged("empty file")
        # Our own handle: np.load leaks its file when the zip directory cannot be parsed.
        with open(p, "rb") as f, np.load(f, allow_pickle=False) as z:
            if "proof" not in z.files:
                raise _Damaged("no proof in the file")
            proof = json.loads(bytes(z["proof"]).decode())
            if not isinstance(proof, dict):
                raise _Damaged("malformed proof")
            if proof.get("run_key") != self.key:
                raise _Damaged("it belongs to another run")
            if proof.get("block") != block:
                raise _Damaged(f"it holds block {proof.get('block')!r}")
            header = _header(self.key, block, expected)
            if proof.get("header") != header.decode():
                raise _Damaged("wrong shape or dtype")
            arrays = {}
            for name, (shape, dtype) in expected.items():
                if name not in z.files:
                    raise _Damaged(f"no {name} array")
                a = z[name]
                # A sparse array is one-dimensional, of the length it was written with.
                sparse = name.startswith(SPARSE_PREFIX)
                if (a.ndim != 1 if sparse else a.shape != tuple(shape)) or a.dtype.str != dtype:
                    raise _Damaged(f"wrong shape or dtype of {name}")
                arrays[name] = a
            if proof.get("digest") != _digest(self.key, header, arrays):
                raise _Damaged("checksum mismatch")
        return arrays

    def save(self, block: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write ``block`` atomically, with its proof."""
        expected = {k: (tuple(a.shape), a.dtype.str) for k, a in arrays.items()}
        header = _header(self.key, block, expected)
        proof = {
            "run_key": self.key,
            "block": block,
            "header": header.decode(),
            "digest": _digest(self.key, header, arrays),
        }
        blob = np.frombuffer(json.dumps(proof).encode(), dtype=np.uint8)
        dest = self.path(block)
        tmp = self.dir / f".block_{block:06d}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, proof=blob, **arrays)
                f.flush()
                os.fsync(f.fileno())
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise OutputError(
                f"could not write checkpoint block {block} to {str(self.dir)!r}: "
                f"{e.strerror or e}. Blocks finished before it are kept; free some space or "
                "fix the folder and run again to resume."
            ) from e
        fsync_dir(self.dir)

    def remove(self) -> None:
        """Remove this run's blocks, and the checkpoint folder once no run is left in it."""
        if not self.root.is_dir():
            return
        try:
            with locked(self.root, self.label):
                _remove(self.dir)
        except OutputError:
            # Another process is using the folder: leave the blocks, a rerun would use them.
            return
        # Fails, and keeps the folder, while it still holds other runs' blocks.
        with contextlib.suppress(OSError):
            self.root.rmdir()
