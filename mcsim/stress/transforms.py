"""Apply a resolved stress to a chunk of simulated returns; random splice steps per block.

Two ways to apply a stress: :func:`apply_stress` writes the whole stressed chunk into a fresh
buffer; the engine instead copies a chunk once into its stressed buffer and, per stress,
calls :func:`rewrite_stress` (only the cells the stress changes), runs the policies, and
calls :func:`restore_stress` (the window copied back), so a stress costs in proportion to
its window.
"""

from __future__ import annotations

import numpy as np

from ..kernels._stress import (
    drift_rewrite_nb,
    linear_rewrite_nb,
    restore_window_nb,
    scale_rewrite_nb,
    shock_rewrite_nb,
    splice_rewrite_nb,
)
from .resolve import ResolvedStress

__all__ = ["SPLICE_KEY_OFFSET", "apply_stress", "restore_stress", "rewrite_stress", "splice_steps"]

# Splice streams sit at spawn_key (block, SPLICE_KEY_OFFSET + stress_index): far from the
# model's (block,) and from any small second key, so they never overlap another stream.
SPLICE_KEY_OFFSET = 2**31


def splice_steps(
    entropy: int, block: int, stress_index: int, n_paths_in_block: int, low: int, high: int
) -> np.ndarray:
    """The random start step of a splice for every path of one block.

    Drawn from ``default_rng(SeedSequence(entropy, spawn_key=(block, 2**31 + stress_index)))``,
    one integer per path in path order, uniform on ``[low, high)``. The model's stream for the
    block (``spawn_key=(block,)``) is not touched, so stressed and unstressed paths stay paired;
    draw once per block and slice per chunk, so the steps are the same for any chunking and any
    ``n_jobs``.

    Parameters
    ----------
    entropy : int
        The run's root entropy.
    block : int
        Index of the block (>= 0).
    stress_index : int
        Position of the stress among the run's stresses (>= 0).
    n_paths_in_block : int
        Paths in this block.
    low, high : int
        Range of start steps, ``0 <= low < high`` (``ResolvedStress.splice_low`` and
        ``splice_high``).

    Returns
    -------
    ndarray of shape (n_paths_in_block,)
        int64 start steps.
    """
    if block < 0 or stress_index < 0 or n_paths_in_block < 0 or not 0 <= low < high:
        raise ValueError(
            f"splice_steps needs block, stress_index, n_paths_in_block >= 0 and 0 <= low < high; "
            f"got {block}, {stress_index}, {n_paths_in_block}, {low}, {high}."
        )
    seq = np.random.SeedSequence(
        int(entropy), spawn_key=(int(block), SPLICE_KEY_OFFSET + stress_index)
    )
    return np.random.default_rng(seq).integers(low, high, size=n_paths_in_block, dtype=np.int64)


def _check_buffers(resolved: ResolvedStress, returns: np.ndarray, out: np.ndarray) -> None:
    for name, a in (("returns", returns), ("out", out)):
        if not isinstance(a, np.ndarray) or a.dtype != np.float64 or not a.flags.c_contiguous:
            raise ValueError(f"apply_stress: `{name}` must be a C-contiguous float64 ndarray.")
    if returns.ndim != 3 or returns.shape[1:] != (resolved.n_steps, resolved.n_series):
        raise ValueError(
            f"apply_stress: `returns` must have shape (n_paths, {resolved.n_steps}, "
            f"{resolved.n_series}); got {returns.shape}."
        )
    if out.shape != returns.shape:
        raise ValueError(
            f"apply_stress: `out` must have the shape of `returns` {returns.shape}; got "
            f"{out.shape}."
        )
    if np.shares_memory(returns, out):
        raise ValueError("apply_stress: `out` must not share memory with `returns`.")
    if not out.flags.writeable:
        raise ValueError("apply_stress: `out` must be writeable.")


def _window_starts(
    resolved: ResolvedStress, n_paths: int, splice_steps: np.ndarray | None
) -> np.ndarray:
    """Each path's first step of the window the stress changes, checked (int64)."""
    needs_steps = resolved.kind == "splice" and resolved.random_start
    if needs_steps != (splice_steps is not None):
        raise ValueError(
            "apply_stress: `splice_steps` is required for a random splice and refused otherwise."
        )
    if not needs_steps:
        return np.full(n_paths, resolved.start, dtype=np.int64)
    starts = np.ascontiguousarray(splice_steps, dtype=np.int64)
    if starts.shape != (n_paths,):
        raise ValueError(
            f"apply_stress: `splice_steps` must have shape ({n_paths},); got {starts.shape}."
        )
    if n_paths and (starts.min() < resolved.splice_low or starts.max() >= resolved.splice_high):
        raise ValueError(
            "apply_stress: `splice_steps` must lie in "
            f"[{resolved.splice_low}, {resolved.splice_high})."
        )
    return starts


def _window_length(resolved: ResolvedStress) -> int:
    """Steps of the window the stress changes on each path (0 for a no-op)."""
    if resolved.kind == "copy":
        return 0
    if resolved.kind == "splice":
        return int(resolved.episode.shape[0])
    return resolved.stop - resolved.start


def rewrite_stress(
    resolved: ResolvedStress,
    returns: np.ndarray,
    out: np.ndarray,
    *,
    splice_steps: np.ndarray | None = None,
) -> None:
    """Overwrite the cells of ``out`` that the stress changes, inside its window only.

    ``out`` must hold a copy of ``returns`` inside the stress's window (a chunk copied once,
    or restored with :func:`restore_stress` after the previous stress): the cells the stress
    leaves alone are not written. Afterwards ``out`` holds the stressed returns wherever it
    held the unstressed ones.

    Parameters
    ----------
    resolved : ResolvedStress
        From :func:`mcsim.stress.resolve`.
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns of the chunk, as the model drew them; not modified.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 buffer, not sharing memory with ``returns``.
    splice_steps : ndarray of shape (n_paths,), optional
        Required for a splice with ``random_start``: each path's start step, the chunk's slice
        of :func:`splice_steps` for its block. Refused for any other stress.

    Raises
    ------
    ValueError
        Buffers of the wrong shape, dtype or layout, aliased buffers, or ``splice_steps``
        missing, unexpected or out of range (programming errors of the caller).
    """
    _check_buffers(resolved, returns, out)
    starts = _window_starts(resolved, returns.shape[0], splice_steps)
    kind = resolved.kind
    if kind == "copy":
        return
    if kind == "splice":
        splice_rewrite_nb(resolved.episode, starts, out)
    elif kind == "shock":
        shock_rewrite_nb(returns, resolved.shock, resolved.start, out)
    elif kind == "linear":
        linear_rewrite_nb(
            returns,
            resolved.drift,
            resolved.matrix,
            resolved.rows,
            resolved.start,
            resolved.stop,
            out,
        )
    elif kind == "scale":
        scale_rewrite_nb(
            returns,
            resolved.drift,
            resolved.scale,
            resolved.rows,
            resolved.start,
            resolved.stop,
            out,
        )
    elif kind == "drift":
        drift_rewrite_nb(returns, resolved.shift, resolved.start, resolved.stop, out)
    else:
        raise ValueError(f"apply_stress: unknown resolved kind {kind!r}.")


def restore_stress(
    resolved: ResolvedStress,
    returns: np.ndarray,
    out: np.ndarray,
    *,
    splice_steps: np.ndarray | None = None,
) -> None:
    """Copy the stress's window of steps back from ``returns`` into ``out``.

    Undoes :func:`rewrite_stress` with the same arguments: ``out`` then holds ``returns``
    again wherever it did before, ready for the next stress.

    Parameters
    ----------
    resolved, returns, out, splice_steps
        As given to :func:`rewrite_stress`.

    Raises
    ------
    ValueError
        As :func:`rewrite_stress`.
    """
    _check_buffers(resolved, returns, out)
    starts = _window_starts(resolved, returns.shape[0], splice_steps)
    n_window = _window_length(resolved)
    if n_window:
        restore_window_nb(returns, starts, n_window, out)


def apply_stress(
    resolved: ResolvedStress,
    returns: np.ndarray,
    out: np.ndarray,
    *,
    splice_steps: np.ndarray | None = None,
) -> None:
    """Write the stressed returns of one chunk of paths into ``out``.

    A copy of ``returns`` followed by :func:`rewrite_stress`.

    Parameters
    ----------
    resolved : ResolvedStress
        From :func:`mcsim.stress.resolve`.
    returns : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 simple returns of the chunk, as the model drew them; not modified.
    out : ndarray of shape (n_paths, n_steps, n_series)
        C-contiguous float64 buffer, not sharing memory with ``returns``; overwritten.
    splice_steps : ndarray of shape (n_paths,), optional
        Required for a splice with ``random_start``: each path's start step, the chunk's slice
        of :func:`splice_steps` for its block. Refused for any other stress.

    Raises
    ------
    ValueError
        Buffers of the wrong shape, dtype or layout, aliased buffers, or ``splice_steps``
        missing, unexpected or out of range (programming errors of the caller).
    """
    _check_buffers(resolved, returns, out)
    _window_starts(resolved, returns.shape[0], splice_steps)
    np.copyto(out, returns)
    rewrite_stress(resolved, returns, out, splice_steps=splice_steps)
