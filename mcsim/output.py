"""The output folder of a run: checks before simulating, an exclusive lock, staged files.

A folder a run writes into is locked for the whole run (``DIR/.mcsim-lock``, an advisory
``flock`` that the kernel releases when the process ends, however it ends), so two runs
never write into the same folder at once. While the lock is held, any staging folder or
temporary block file left in the folder belongs to no live process: it is the debris of a
killed run and is removed. Result files are written into a staging folder and moved into
place only once all of them are written; an ``OSError`` on the way becomes an
:class:`~mcsim.errors.OutputError` that names the file and the reason, after the staging
folder is removed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import CheckpointWarning, OutputError

__all__ = [
    "LOCK_NAME",
    "STAGING_PREFIX",
    "FolderLock",
    "check_folder",
    "checkpoint_warnings_as_lines",
    "clean_stale",
    "fsync_dir",
    "locked",
    "write_staged",
]

LOCK_NAME = ".mcsim-lock"
STAGING_PREFIX = ".mcsim-staging-"
# Temporary block files of the checkpoint (see mcsim.engine._Checkpoint).
TMP_BLOCK_GLOB = ".block_*.tmp"

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        # Byte 0 is locked, not the holder's description, which others read from byte 1 on.
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _reason(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def _describe(label: str, path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return f"{label} {text!r}" if label.startswith("-") else f"`{label}` = {text!r}"


# Locks this process holds, by folder: a save inside a locked run reuses the run's lock
# (a second flock on a new descriptor would conflict with the first one).
_HELD: dict[str, FolderLock] = {}
_HELD_GUARD = threading.Lock()


class FolderLock:
    """An exclusive lock on a folder, held by this process until :meth:`release`.

    The lock file holds the pid, the start time and the command line of the holder, so a
    second run can say who holds the folder. ``flock`` locks vanish with their process, so
    a killed run never leaves the folder locked; its lock file is simply taken over.

    Parameters
    ----------
    folder : Path
        An existing folder.
    label : str
        How messages name the folder (``"--out"`` on the command line).
    """

    def __init__(self, folder: Path, label: str = "out") -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.label = label
        self._fd: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        """Take the lock, or raise :class:`OutputError` naming the process holding it."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise OutputError(
                    f"{_describe(self.label, self.folder)} cannot be locked: could not create "
                    f"{self.path.name} ({_reason(e)}); choose a folder you can write to."
                ) from e
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputError(
                    f"{_describe(self.label, self.folder)} is in use by another mcsim run "
                    f"({holder}); wait for it to finish or choose another folder."
                )
            # The holder before us may have removed the file between our open and our lock:
            # then we locked an orphan and must lock the file now at that path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            _unlock(fd)
            os.close(fd)
        info = {
            "pid": os.getpid(),
            "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }
        blob = json.dumps(info).encode()
        offset = 1 if os.name == "nt" else 0
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
        os.write(fd, blob)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and release the lock (a no-op when not held)."""
        if self._fd is None:
            return
        # Unlink while still holding it: a waiter that opened this file sees it is orphaned.
        with contextlib.suppress(OSError):
            self.path.unlink()
        _unlock(self._fd)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_holder(fd: int) -> str:
    """ "pid 123, started 2026-01-02T03:04:05+00:00: mcsim run ..." from a lock file."""
    try:
        offset = 1 if os.name == "nt" else 0
        os.lseek(fd, offset, os.SEEK_SET)
        info = json.loads(os.read(fd, 65536).decode())
        text = f"pid {int(info['pid'])}, started {info['started']}"
        if info.get("command"):
            text += f": {info['command']}"
        return text
    except (OSError, ValueError, KeyError, TypeError):
        # The holder has not written its details yet (or they are unreadable).
        return "pid unknown"


@contextlib.contextmanager
def locked(folder: Path, label: str = "out") -> Iterator[FolderLock]:
    """Hold the lock of ``folder`` for the ``with`` block; reentrant within this process."""
    key = os.path.realpath(folder)
    with _HELD_GUARD:
        lock = _HELD.get(key)
        if lock is None:
            lock = FolderLock(Path(folder), label)
            lock.acquire()
            _HELD[key] = lock
        lock._depth += 1
    try:
        yield lock
    finally:
        with _HELD_GUARD:
            lock._depth -= 1
            if lock._depth == 0:
                _HELD.pop(key, None)
                lock.release()


def check_folder(out: str | os.PathLike[str], label: str = "out") -> Path:
    """Create ``out`` if needed and prove it is writable, before any simulation.

    Writes and removes a probe file, so a read-only folder, a path under a file, a
    pseudo-filesystem such as ``/proc`` or a full disk is caught up front.

    Raises
    ------
    OutputError
        Naming ``label`` and what to do instead.
    """
    if not str(os.fspath(out)).strip():
        raise OutputError(
            f"{_describe(label, out)} is empty; give the folder for the results, "
            "for example `results`."
        )
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"{_describe(label, path)} exists and is not a folder; choose another path."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(
            f"{_describe(label, path)} cannot be created ({_reason(e)}); choose a folder you can "
            "write to."
        ) from e
    try:
        fd, probe = tempfile.mkstemp(prefix=".mcsim-probe-", dir=path)
        try:
            os.write(fd, b"0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(probe)
    except OSError as e:
        raise OutputError(
            f"{_describe(label, path)} is not writable ({_reason(e)}); choose a folder you can "
            "write to."
        ) from e
    return path


def clean_stale(folder: Path) -> list[Path]:
    """Remove staging folders and temporary block files that killed runs left behind.

    Call only while holding the folder's lock: every such file then belongs to no live
    process. Returns the paths removed.
    """
    removed: list[Path] = []
    candidates = list(folder.glob(STAGING_PREFIX + "*")) + list(folder.glob(".mcsim-probe-*"))
    ckpt = folder / ".mcsim-checkpoint"
    if ckpt.is_dir():
        candidates += list(ckpt.glob("run-*/" + TMP_BLOCK_GLOB))
    for p in candidates:
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            continue
        removed.append(p)
    return removed


def fsync_dir(folder: Path) -> None:
    """Make renames inside ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    if path.is_dir():  # a dataset folder: its files, then its entries
        for p in path.iterdir():
            _fsync_file(p)
        fsync_dir(path)
        return
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _place(src: Path, dest: Path) -> None:
    """Move ``src`` to ``dest``, replacing a file or folder there (a folder, or a file
    where a folder was, cannot be replaced in one rename: the old one is first renamed to
    a staging name, which a killed save leaves for :func:`clean_stale`)."""
    if (src.is_dir() or dest.is_dir()) and (dest.exists() or dest.is_symlink()):
        old = dest.with_name(f"{STAGING_PREFIX}{os.getpid()}-old-{dest.name}")
        os.rename(dest, old)
        try:
            os.replace(src, dest)
        except OSError:
            os.rename(old, dest)  # the earlier result stays where it was
            raise
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                old.unlink()
        return
    os.replace(src, dest)


def write_staged(
    folder: Path,
    writer: Callable[[Path], dict[str, Path]],
    *,
    label: str = "out",
    last: str | None = None,
) -> dict[str, Path]:
    """Write files with ``writer(staging)`` and move them into ``folder`` once all exist.

    Parameters
    ----------
    folder : Path
        The destination, which must exist.
    writer : callable
        Writes its files into the folder it is given; returns them by key.
    label : str
        How messages name the folder.
    last : str, optional
        Key of the file moved last (the manifest), so its presence means the others are
        in place.

    Returns
    -------
    dict of str to Path
        The files in ``folder``.

    Raises
    ------
    OutputError
        When a file cannot be written or moved (disk full, permissions); the staging folder
        is removed first and files already in ``folder`` are left as they were.
    """
    staging: Path | None = None
    current = "a staging folder"
    try:
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder))
        current = "the result files"
        files = writer(staging)
        for p in files.values():
            current = p.name
            _fsync_file(p)
        order = sorted(files, key=lambda k: k == last)
        final: dict[str, Path] = {}
        for key in order:
            p = files[key]
            current = p.name
            dest = folder / p.name
            _place(p, dest)
            final[key] = dest
        fsync_dir(folder)
        return {k: final[k] for k in files}
    except OSError as e:
        if getattr(e, "filename", None):
            current = Path(e.filename).name
        raise OutputError(
            f"could not write {current} in {_describe(label, folder)}: {_reason(e)}"
            + (
                " (free some space and run again)"
                if getattr(e, "errno", None) == errno.ENOSPC
                else ""
            )
            + "."
        ) from e
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def checkpoint_warnings_as_lines() -> Iterator[None]:
    """Show :class:`CheckpointWarning` as one ``mcsim: warning: ...`` line on stderr.

    For the command line: the default format adds the source file and line of the warning,
    which say nothing to a person running a scenario.
    """
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, CheckpointWarning):
                print(f"mcsim: warning: {message}", file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        warnings.simplefilter("always", CheckpointWarning)
        yield
