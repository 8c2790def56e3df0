"""The bytes a run writes to disk, and the free-space check made before it starts.

A run into a folder writes its checkpoint blocks (every block, kept until the results are
saved), the per-path table (a Parquet dataset beside the blocks when streamed, one file at
the save otherwise) and the result files, so the folder's disk must hold all of them at
once. :class:`DiskNeed` adds up what one folder receives; :func:`check_disk` compares the
needs of every folder of a run with :func:`shutil.disk_usage` of the disk each sits on and
refuses, before any block is simulated, a run that would not fit.

The figures are estimates with a margin, not bounds. Dense arrays are counted exactly. A
block's sketches are stored as their non-empty bins, at most one per path of the block and
grid point; how many a block fills depends on the spread of wealth, unknown before the run:
they are counted at :data:`SKETCH_FILL` of that bound (31 % in the default scenario, blocks
of 1,000 paths). The Parquet table is counted at its uncompressed size, 8 bytes per value
(the default scenario's compresses to about half). A disk that fills all the same stops the
run with one message, the finished blocks kept for a rerun to resume.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoint import SPARSE_PREFIX, ExpectedArrays
from .errors import OutputError

__all__ = [
    "REPORT_BYTES",
    "RESULT_FILES_BYTES",
    "SKETCH_FILL",
    "DiskNeed",
    "check_disk",
    "free_bytes",
    "npz_bytes",
    "parquet_bytes",
    "same_disk",
    "tree_bytes",
]

#: Fraction of the most sketch bins a block can fill that the estimate counts (measured:
#: 31 % for the default scenario's blocks of 1,000 paths over 30 years).
SKETCH_FILL = 0.5

#: The report with plotly.js inline, at most (5.4 MB for the default scenario's 6 policies,
#: 4.6 MB of it plotly.js).
REPORT_BYTES = 8 * 2**20
#: The summary, comparison, fan and sample-path files of a save, a generous allowance when
#: the run's plan is not at hand (the default scenario's: 1.2 MB together).
RESULT_FILES_BYTES = 4 * 2**20

# A block file's zip headers and proof, and a Parquet file's footer and per-row-group
# metadata (both measured under 1 KiB; counted generously).
_NPZ_OVERHEAD = 4096
_PARQUET_OVERHEAD = 64 * 1024


def npz_bytes(expected: ExpectedArrays, sparse_entries: Mapping[str, int]) -> int:
    """Bytes of one checkpoint block file with the arrays ``expected``.

    Parameters
    ----------
    expected : mapping of str to (shape, dtype string)
        The block's arrays, as :meth:`mcsim.checkpoint.Checkpoint.load` expects them;
        ``sparse_*`` arrays have shape ``(-1,)``.
    sparse_entries : mapping of str to int
        For each sparse array, the entries it is expected to hold.

    Returns
    -------
    int
        Bytes (the arrays are stored uncompressed).
    """
    total = _NPZ_OVERHEAD
    for name, (shape, dtype) in expected.items():
        n = sparse_entries[name] if name.startswith(SPARSE_PREFIX) else int(np.prod(shape))
        total += n * np.dtype(dtype).itemsize + 128
    return total


def parquet_bytes(n_rows: int, n_columns: int, n_row_groups: int = 1) -> int:
    """Bytes of a Parquet table of ``n_rows`` rows of ``n_columns`` 8-byte values, at most.

    Uncompressed: random floats hardly compress, so the bound is close for the metric
    columns that vary and about twice the size for a table with many constant ones.
    """
    return n_rows * n_columns * 8 + _PARQUET_OVERHEAD * max(1, n_row_groups)


def tree_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of the file ``path``, or of every file under the folder ``path``; 0 when it
    does not exist."""
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    if not p.is_dir():
        return 0
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


@dataclass
class DiskNeed:
    """What a run writes into one folder, by part, in bytes.

    Parameters
    ----------
    folder : Path
        Where the bytes go (it may not exist yet: its nearest existing parent's disk
        counts).
    label : str
        How messages name the folder (``"--out"``, ``"checkpoint_dir"``, ...).
    parts : dict of str to int
        Bytes by what they are ("checkpoint blocks", "per-path table", ...).
    reclaimed : int
        Bytes already in the folder that the run removes before writing (a killed run's
        partial table): they count as free.
    """

    folder: Path
    label: str
    parts: dict[str, int] = field(default_factory=dict)
    reclaimed: int = 0

    @property
    def total(self) -> int:
        """Bytes of every part."""
        return sum(self.parts.values())

    def describe(self) -> str:
        """The parts as ``"1.2 GiB: checkpoint blocks 1.0 GiB, per-path table 0.2 GiB"``."""
        inner = ", ".join(f"{name} {format_bytes(n)}" for name, n in self.parts.items() if n)
        return f"{format_bytes(self.total)}" + (f" ({inner})" if inner else "")


def format_bytes(n: float) -> str:
    """``n`` bytes as MiB below 1 GiB, else GiB."""
    if n < 2**30:
        return f"{n / 2**20:,.1f} MiB"
    return f"{n / 2**30:,.2f} GiB"


def existing_parent(folder: Path) -> Path:
    """``folder``, or its nearest parent that exists (where it will be created)."""
    p = Path(os.path.abspath(folder))
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def free_bytes(folder: str | os.PathLike[str]) -> int | None:
    """Bytes free for this user on the disk of ``folder`` (or of its nearest existing
    parent), or None when the system cannot say."""
    try:
        return int(shutil.disk_usage(existing_parent(Path(folder))).free)
    except OSError:
        return None


def _device(folder: Path) -> int | None:
    try:
        return existing_parent(folder).stat().st_dev
    except OSError:
        return None


def same_disk(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` (or their nearest existing parents) are on one file system,
    where a hard link works and no bytes are copied."""
    da, db = _device(Path(a)), _device(Path(b))
    return da is not None and da == db


def check_disk(needs: Iterable[DiskNeed], fix: str) -> None:
    """Refuse a run whose folders' disks cannot hold what it writes.

    Folders on one disk share its free space, so their needs are added up per disk.

    Parameters
    ----------
    needs : iterable of DiskNeed
        What the run writes, by folder.
    fix : str
        The ways out, for the message (such as "run into a folder on a larger disk
        (`--out`) or lower `--paths`").

    Raises
    ------
    OutputError
        Naming the folder, the bytes needed and free, and ``fix``.
    """
    by_disk: dict[int | None, list[DiskNeed]] = {}
    for need in needs:
        if need.total:
            by_disk.setdefault(_device(need.folder), []).append(need)
    for group in by_disk.values():
        free = free_bytes(group[0].folder)
        if free is None:
            continue
        free += sum(n.reclaimed for n in group)
        total = sum(n.total for n in group)
        if total <= free:
            continue
        where = "; ".join(f"{_name(n)}: {n.describe()}" for n in group)
        raise OutputError(
            f"not enough disk space on the disk of {str(existing_parent(group[0].folder))!r}: "
            f"this run writes about {format_bytes(total)} there ({where}) but only "
            f"{format_bytes(free)} is free. Nothing was simulated or removed; {fix}."
        )


def _name(need: DiskNeed) -> str:
    text = str(need.folder)
    return f"{need.label} {text!r}" if need.label.startswith("-") else f"`{need.label}` {text!r}"
