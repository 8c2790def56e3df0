"""The per-path table on disk: a Parquet dataset written while blocks finish, read by column.

A run whose per-path table would not sit comfortably in memory streams it: every finished
block's rows go to a :class:`PathStoreWriter`, which appends them in block order (blocks
finish in any order) to one Parquet file per policy, ``part-000.parquet``,
``part-001.parquet``, ... in the order of the run's policies, one row group per
:data:`ROW_GROUP_PATHS` paths or so. The folder is a Parquet dataset: ``pandas.read_parquet``
on it gives the rows of the in-memory ``paths.parquet``, in the same order and with the same
columns and dtypes. A :class:`PathStore` reads one metric of one policy (one column chunk per
row group of one file), so exact quantiles and tail means need memory for one column, never
for the table.

Rows hold the labelled values of :attr:`SimulationResult.paths`: an event metric reads 0 for
a policy whose event slot counts another event (see :func:`event_masks`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import OutputError
from .metrics import MetricInfo, declared_event_metric

__all__ = [
    "ROW_GROUP_PATHS",
    "PathStore",
    "PathStoreWriter",
    "event_masks",
    "labelled_values",
    "link_or_copy_tree",
]

#: Paths per row group (about 16 MiB per policy with the 32 metrics): large enough for
#: fast column reads, small enough that the writer's buffer stays a few hundred MiB at most.
ROW_GROUP_PATHS = 65_536


def part_name(k: int) -> str:
    """The file of the policy at position ``k``; names sort in policy order."""
    return f"part-{k:03d}.parquet"


def event_masks(
    policies: Iterable[Any], metric_table: Mapping[str, MetricInfo]
) -> dict[str, np.ndarray]:
    """For each event metric, the policies (by position) whose slot holds another one."""
    declared = [declared_event_metric(p) for p in policies]
    return {
        name: np.array([e is not None and e.name != name for e in declared])
        for name, info in metric_table.items()
        if info.event
    }


def labelled_values(metrics: np.ndarray, info: MetricInfo, mask: np.ndarray | None) -> np.ndarray:
    """One metric of every policy from kernel output of shape (n_policies, n_paths, N_METRICS).

    Each policy's event slot counts the event it declares: under another event metric
    (``mask`` True) that policy reports 0. A policy declaring none leaves its slot at 0.
    """
    x = metrics[:, :, info.column]
    if info.event and mask is not None and mask.any():
        x = np.where(mask[:, None], 0.0, x)
    return x


class PathStore:
    """A per-path table stored as one Parquet file per policy (see the module docstring).

    Parameters
    ----------
    folder : Path
        The dataset folder (``paths.parquet`` of a results folder, or a run's working copy).
    policy_names : sequence of str
        The run's policies, in the order of the files.
    n_paths : int
        Rows per policy.
    owner : bool
        Remove the folder when this object is garbage collected (a temporary store).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        policy_names: Iterable[str],
        n_paths: int,
        *,
        owner: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self.policy_names = list(policy_names)
        self.n_paths = int(n_paths)
        if owner:
            # Also at interpreter exit, where a __del__ may no longer find shutil.
            weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def __reduce__(self) -> tuple[Callable[..., PathStore], tuple[Any, ...]]:
        # A copy reads the same folder but never removes it.
        return (PathStore, (self.folder, self.policy_names, self.n_paths))

    def at(self, folder: str | os.PathLike[str]) -> PathStore:
        """The same table in another folder (where a save placed it)."""
        return PathStore(folder, self.policy_names, self.n_paths)

    def files(self) -> list[Path]:
        """The part files, in policy order."""
        return [self.folder / part_name(k) for k in range(len(self.policy_names))]

    def column(self, name: str, k: int) -> np.ndarray:
        """Metric ``name`` of the policy at position ``k``, shape (n_paths,), float64."""
        table = pq.read_table(self.files()[k], columns=[name])
        return _to_float(table.column(0))

    def values(self, name: str) -> np.ndarray:
        """Metric ``name`` of every policy, shape (n_policies, n_paths), float64."""
        out = np.empty((len(self.policy_names), self.n_paths))
        for k in range(len(self.policy_names)):
            out[k] = self.column(name, k)
        return out

    def nbytes_on_disk(self) -> int:
        """Bytes of the part files."""
        return sum(p.stat().st_size for p in self.files())


def _to_float(col: pa.ChunkedArray) -> np.ndarray:
    # Nulls are the NaNs pandas turned into nulls on writing; read them back as NaN.
    return np.asarray(col.to_numpy(), dtype=np.float64)


class PathStoreWriter:
    """Writes finished blocks' rows into a :class:`PathStore`, in block order.

    Blocks may be added in any order: a block waits until every block before it has been
    written. A waiting block is held as its array, or as a loader (``add_later``) when it can
    be read again from the checkpoint, so a resumed run with a gap holds no table in memory.

    Parameters
    ----------
    folder : Path
        Created empty (whatever was there is a killed run's partial copy and is removed).
    policy_names : sequence of str
        The run's policies, in the order of the kernel output's first axis.
    metric_table : mapping of str to MetricInfo
        The table's metric columns, in order.
    masks : mapping of str to ndarray of bool
        :func:`event_masks` of the run.
    block_size : int
        Paths per block (the last block may be shorter).
    n_paths : int
        Paths of the run.
    window_starts : DatetimeIndex, optional
        With replayed history: the start of each path's window (a ``window_start`` column).
    owner : bool
        The store it makes removes its folder when garbage collected.
    failure_hint : str
        Appended to the message of a failed write (what is kept, how to go on).

    Raises
    ------
    OutputError
        From :meth:`add`, :meth:`add_later` and :meth:`close` when a file cannot be
        written (a full disk: ENOSPC), with the files closed.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        policy_names: Iterable[str],
        metric_table: Mapping[str, MetricInfo],
        masks: Mapping[str, np.ndarray],
        block_size: int,
        n_paths: int,
        window_starts: pd.DatetimeIndex | None = None,
        owner: bool = False,
        failure_hint: str = "",
    ) -> None:
        self.folder = Path(folder)
        if self.folder.exists() or self.folder.is_symlink():
            if self.folder.is_dir() and not self.folder.is_symlink():
                shutil.rmtree(self.folder)
            else:
                self.folder.unlink()
        self.folder.mkdir(parents=True)
        self.policy_names = list(policy_names)
        self.metric_table = dict(metric_table)
        self.masks = dict(masks)
        self.block_size = int(block_size)
        self.n_paths = int(n_paths)
        self.window_starts = window_starts
        self._owner = owner
        # Categories sorted, as pandas makes them from the policy names.
        self._categories = pd.CategoricalDtype(sorted(set(self.policy_names)))
        self._pending: dict[int, np.ndarray | Callable[[], np.ndarray]] = {}
        self._next = 0
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._written = 0
        self._writers: list[pq.ParquetWriter] = []
        self.failure_hint = failure_hint

    # -- adding blocks ----------------------------------------------------------------------
    def add(self, block: int, metrics: np.ndarray) -> None:
        """Add block ``block``'s kernel output, shape (n_policies, n_block_paths, N_METRICS)."""
        self._pending[block] = metrics
        self._drain()

    def add_later(self, block: int, load: Callable[[], np.ndarray]) -> None:
        """Add block ``block`` by a function that reads its kernel output when its turn comes."""
        self._pending[block] = load
        self._drain()

    @property
    def next_block(self) -> int:
        """The block the writer waits for (every block before it is written or buffered)."""
        return self._next

    def _drain(self) -> None:
        while self._next in self._pending:
            item = self._pending.pop(self._next)
            metrics = item() if callable(item) else item
            self._buffer.append(metrics)
            self._buffered += metrics.shape[1]
            self._next += 1
            if self._buffered >= ROW_GROUP_PATHS:
                self._flush()

    def _flush(self) -> None:
        try:
            self._write_buffer()
        except OutputError:
            raise
        except OSError as e:
            raise self._failed("write", e) from e

    def _failed(self, doing: str, e: OSError) -> OutputError:
        """A full disk (ENOSPC) or a folder gone while writing: the files closed, one
        message saying what is kept and how to go on."""
        self.abort()
        full = " (the disk is full)" if getattr(e, "errno", None) == errno.ENOSPC else ""
        return OutputError(
            f"could not {doing} the per-path table in {str(self.folder)!r}: "
            f"{e.strerror or e}{full}.{self.failure_hint}"
        )

    def _write_buffer(self) -> None:
        if not self._buffered:
            return
        buffer, n = self._buffer, self._buffered
        self._buffer, self._buffered = [], 0
        first = self._written
        # One policy at a time: the buffer plus one policy's rows, never a second copy of all.
        for k, pol in enumerate(self.policy_names):
            rows = np.concatenate([m[k : k + 1] for m in buffer], axis=1)
            columns = {
                name: labelled_values(rows, info, _row(self.masks.get(name), k))[0]
                for name, info in self.metric_table.items()
            }
            frame = self._frame(pol, first, n, columns)
            if not self._writers:
                self._open(frame)
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            self._writers[k].write_table(table)
            del rows, columns, frame, table
        self._written += n

    def _frame(self, pol: str, first: int, n: int, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        # Built as SimulationResult.paths is saved: policy (categorical), path, the columns.
        data: dict[str, Any] = {
            "policy": pd.Categorical([pol] * n, dtype=self._categories),
            "path": np.arange(first, first + n, dtype=np.int64),
        }
        if self.window_starts is not None:
            data["window_start"] = self.window_starts.values[first : first + n]
        data.update(columns)
        return pd.DataFrame(data)

    def _open(self, frame: pd.DataFrame) -> None:
        self._schema = pa.Schema.from_pandas(frame, preserve_index=False)
        for k in range(len(self.policy_names)):
            self._writers.append(pq.ParquetWriter(self.folder / part_name(k), self._schema))

    # -- finishing --------------------------------------------------------------------------
    def close(self) -> PathStore:
        """Write what is buffered, close the files and return the store.

        Raises
        ------
        RuntimeError
            When blocks are missing (a block before others was never added).
        """
        if self._pending or self._written + self._buffered != self.n_paths:
            missing = self._next
            self.abort()
            raise RuntimeError(f"the per-path table is missing block {missing}.")
        self._flush()
        try:
            for w in self._writers:
                w.close()
        except OSError as e:
            raise self._failed("finish", e) from e
        self._writers = []
        return PathStore(self.folder, self.policy_names, self.n_paths, owner=self._owner)

    def abort(self) -> None:
        """Close the files without finishing them (the folder is left for removal)."""
        for w in self._writers:
            with contextlib.suppress(Exception):
                w.close()
        self._writers = []
        self._pending.clear()
        self._buffer = []


def _row(mask: np.ndarray | None, k: int) -> np.ndarray | None:
    return None if mask is None else mask[k : k + 1]


def link_or_copy_tree(src: Path, dest: Path) -> None:
    """Give ``dest`` (a new folder) the files of ``src`` by hard links, or copies where the
    file system cannot link, so a save costs no second copy of the table on one disk."""
    dest.mkdir()
    for p in sorted(src.iterdir()):
        target = dest / p.name
        try:
            os.link(p, target)
        except OSError:
            shutil.copyfile(p, target)
