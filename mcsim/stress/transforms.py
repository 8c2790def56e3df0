"""Apply a resolved stress to a chunk of simulated returns; random splice steps per block."""

from __future__ import annotations

import numpy as np

from ..kernels._stress import drift_window_nb, linear_window_nb, shock_nb, splice_nb
from .resolve import ResolvedStress

__all__ = ["SPLICE_KEY_OFFSET", "apply_stress", "splice_steps"]

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


def apply_stress(
    resolved: ResolvedStress,
    returns: np.ndarray,
    out: np.ndarray,
    *,
    splice_steps: np.ndarray | None = None,
) -> None:
    """Write the stressed returns of one chunk of paths into ``out``.

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
    n_paths = returns.shape[0]
    needs_steps = resolved.kind == "splice" and resolved.random_start
    if needs_steps != (splice_steps is not None):
        raise ValueError(
            "apply_stress: `splice_steps` is required for a random splice and refused otherwise."
        )
    kind = resolved.kind
    if kind == "copy":
        np.copyto(out, returns)
    elif kind == "splice":
        if needs_steps:
            starts = np.ascontiguousarray(splice_steps, dtype=np.int64)
            if starts.shape != (n_paths,):
                raise ValueError(
                    f"apply_stress: `splice_steps` must have shape ({n_paths},); got "
                    f"{starts.shape}."
                )
            if n_paths and (
                starts.min() < resolved.splice_low or starts.max() >= resolved.splice_high
            ):
                raise ValueError(
                    "apply_stress: `splice_steps` must lie in "
                    f"[{resolved.splice_low}, {resolved.splice_high})."
                )
        else:
            starts = np.full(n_paths, resolved.start, dtype=np.int64)
        splice_nb(returns, resolved.episode, starts, out)
    elif kind == "shock":
        shock_nb(returns, resolved.shock, resolved.start, out)
    elif kind == "linear":
        linear_window_nb(
            returns,
            resolved.drift,
            resolved.matrix,
            resolved.rows,
            resolved.start,
            resolved.stop,
            out,
        )
    elif kind == "drift":
        drift_window_nb(returns, resolved.shift, resolved.start, resolved.stop, out)
    else:
        raise ValueError(f"apply_stress: unknown resolved kind {kind!r}.")
