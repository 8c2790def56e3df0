"""Orchestration: scenario -> fitted model -> blocks of paths on joblib workers -> results.

Randomness belongs to blocks, never to workers: block ``i`` of a run with root entropy ``e``
draws its returns from ``default_rng(SeedSequence(e, spawn_key=(i,)))``. Block results are
merged by position (per-path rows) and by integer addition (histograms), so a run is
bit-identical for any ``n_jobs``, backend or order of completion, and the first ``N`` paths
of a longer run equal a run of ``N`` paths with the same seed and block size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm.auto import tqdm

from ._version import __version__
from .accumulators import STATE_ARRAYS, Accumulator, merge_in_order
from .checkpoint import Checkpoint, dense_array, sparse_arrays, sparse_spec
from .choose import SweepOutcome, sweep_ranking, sweep_winner
from .config import Scenario
from .decision import DecisionConfig, is_selection_block, selection_mask
from .disk import (
    REPORT_BYTES,
    SKETCH_FILL,
    DiskNeed,
    check_disk,
    npz_bytes,
    parquet_bytes,
    tree_bytes,
)
from .errors import ConfigError, OutputError
from .failure import feature_names, path_features
from .kernels import layout
from .loops import builtin_loop, plan_feature_set
from .metrics import run_metrics
from .model_check import _CHUNK_VALUES, MODEL_CHECK_PATHS
from .output import check_folder, clean_stale, locked
from .path_store import ROW_GROUP_PATHS, PathStoreWriter, event_masks
from .plan import RunPlan, prepare
from .policies import POLICIES
from .progress import announce, compile_message, fit_message
from .report.page import PLOTLY_MODES
from .results import SimulationResult
from .rule_loops import rule_loop
from .saving import save_result
from .sketch import HIST_BINS, HIST_LO, HIST_WIDTH
from .stress import apply_stress, restore_stress, rewrite_stress, splice_steps
from .sweeps import sweep_memory_bytes

__all__ = [
    "STREAM_BYTES",
    "estimate_disk",
    "estimate_memory",
    "noise_keys",
    "regenerate_path",
    "run",
    "streams",
]

#: A run streams its per-path table to disk (:mod:`mcsim.path_store`) when the table would
#: take more than this many bytes in memory, unless told (``run(stream=...)``, ``--stream``).
STREAM_BYTES = 256 * 2**20

# SplitMix64's increment (execution-noise keys, see noise_keys).
_GAMMA = np.uint64(0x9E3779B97F4A7C15)


@dataclass(slots=True)
class BlockResult:
    """Output of one block: per-path metrics, wealth sketches, kept sample paths."""

    block: int
    metrics: np.ndarray  # (n_policies, n_block_paths, N_METRICS)
    hist: np.ndarray  # (n_policies, n_grid, HIST_BINS) int64
    wealth: np.ndarray  # (n_policies, n_keep_in_block, n_steps + 1)
    # Stressed variants and failure features; empty (size 0) for a run without them.
    stress_metrics: np.ndarray  # (n_stresses, n_policies, n_block_paths, N_METRICS)
    stress_hist: np.ndarray  # (n_stresses, n_policies, n_grid, HIST_BINS) int64
    features: np.ndarray  # (n_block_paths, n_features), or (0, 0) without [failure]
    sweep: Accumulator | None = None  # the block's sums over named policies and grid points

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a checkpoint stores (the stress, failure and sweep ones only when the
        run has them, so blocks of runs without them keep their layout)."""
        # The sketches are mostly zeros: their non-zero bins only (a tenth of the bytes).
        out = {"metrics": self.metrics, **sparse_arrays("hist", self.hist), "wealth": self.wealth}
        if self.stress_metrics.shape[0]:
            out["stress_metrics"] = self.stress_metrics
            out.update(sparse_arrays("stress_hist", self.stress_hist))
        if self.features.shape[1]:
            out["features"] = self.features
        out.update(_accumulator_arrays(self))
        return out


def n_features(plan: RunPlan) -> int:
    """Columns of the path-feature array of a run (0 without a ``[failure]`` section)."""
    return len(feature_names(plan.asset_names)) if plan.failure is not None else 0


def simulate_block(plan: RunPlan, block: int) -> BlockResult:
    """Simulate one block: its returns, then every policy along the same returns.

    Each stress of the plan rewrites the chunk's returns into a second buffer (the model
    draws once) and every policy runs again on it, so a stressed path is the same draw as
    its unstressed twin. The path features of ``[failure]`` are measured on the unstressed
    returns. The grid points of a sweep run on the unstressed returns too, into the block's
    mergeable sums rather than per-path tables.

    The second buffer is a copy of the chunk made once; each stress rewrites only its window
    there and copies the window back after the policies ran, so a stress costs its policy
    pass plus work in proportion to its window, not a copy and a transform of every path.
    """
    sim = plan.scenario.simulation
    start, stop = plan.block_range(block)
    n_block = stop - start
    n_steps = plan.n_steps
    n_pol = len(plan.policies)
    n_str = len(plan.stresses)
    n_grid = plan.grid_steps.size
    n_keep = max(0, min(sim.keep_paths, stop) - start)
    n_sweep = len(plan.sweep_policies)
    # Named policies and grid points write into one array, so the block's sums read it
    # without a concatenated copy (a copy would double the largest buffer of a sweep).
    all_metrics = np.empty((n_pol + n_sweep, n_block, layout.N_METRICS))
    metrics = all_metrics[:n_pol]
    hist = np.zeros((n_pol, plan.sketch_rows, HIST_BINS), dtype=np.int64)
    wealth = np.zeros((n_pol, n_keep, n_steps + 1))
    stress_metrics = np.empty((n_str, n_pol, n_block, layout.N_METRICS))
    stress_hist = np.zeros((n_str, n_pol, n_grid, HIST_BINS), dtype=np.int64)
    n_feat = n_features(plan)
    features = np.empty((n_block if n_feat else 0, n_feat))
    rng = plan.block_rng(block)
    chunk = plan.chunk_size
    n_series = len(plan.series_names)
    buf = np.empty((chunk, n_steps, n_series))
    stressed_buf = np.empty((chunk, n_steps, n_series)) if n_str else buf[:0]
    no_wealth = np.zeros((0, n_steps + 1))
    sweep_metrics = all_metrics[n_pol:]
    # Grid points keep no sketches or sample paths: the kernel adds into a scratch histogram.
    scratch_hist = np.zeros((n_grid, HIST_BINS), dtype=np.int64)
    # Random splice steps are drawn once per block (not per chunk): the same for any chunking.
    starts = [
        splice_steps(plan.entropy, block, j, n_block, r.splice_low, r.splice_high)
        if r.kind == "splice" and r.random_start
        else None
        for j, r in enumerate(plan.stresses)
    ]
    for c0 in range(0, n_block, chunk):
        m = min(chunk, n_block - c0)
        series = buf[:m]
        plan.fill_chunk(rng, start + c0, series)
        returns, inflation = _split_series(series, plan.inflation_index)
        if plan.n_noise:
            noise = noise_keys(plan.entropy, start + c0, m)
        else:
            noise = np.zeros(m, dtype=np.uint64)
        keep_lo, keep_hi = min(c0, n_keep), min(c0 + m, n_keep)
        for k, pol in enumerate(plan.policies):
            _run_policy(
                plan,
                pol,
                returns,
                inflation,
                noise,
                metrics[k, c0 : c0 + m],
                hist[k],
                wealth[k, keep_lo:keep_hi],
            )
        for k, pol in enumerate(plan.sweep_policies):
            _run_policy(
                plan,
                pol,
                returns,
                inflation,
                noise,
                sweep_metrics[k, c0 : c0 + m],
                scratch_hist,
                no_wealth,
            )
        if n_feat:
            _chunk_features(plan, series, features[c0 : c0 + m])
        stressed = stressed_buf[:m]
        if n_str:
            np.copyto(stressed, series)
        for j, resolved in enumerate(plan.stresses):
            steps = None if starts[j] is None else starts[j][c0 : c0 + m]
            rewrite_stress(resolved, series, stressed, splice_steps=steps)
            if plan.inflation_index < 0:
                # The buffer itself is the policies' input, and inflation is the same zeros.
                s_returns, s_inflation = stressed, inflation
            else:
                s_returns, s_inflation = _split_series(stressed, plan.inflation_index)
            for k, pol in enumerate(plan.policies):
                _run_policy(
                    plan,
                    pol,
                    s_returns,
                    s_inflation,
                    noise,
                    stress_metrics[j, k, c0 : c0 + m],
                    stress_hist[j, k],
                    no_wealth,
                )
            restore_stress(resolved, series, stressed, splice_steps=steps)
    acc = None
    if n_sweep:
        acc = sweep_accumulator(plan).update(block, all_metrics)
        # Keep only the named policies' rows: a view would hold the grid's buffer alive.
        metrics = metrics.copy()
        del all_metrics, sweep_metrics
    return BlockResult(
        block=block,
        metrics=metrics,
        hist=hist,
        wealth=wealth,
        stress_metrics=stress_metrics,
        stress_hist=stress_hist,
        features=features,
        sweep=acc,
    )


def _chunk_features(plan: RunPlan, series: np.ndarray, out: np.ndarray) -> None:
    """Market features of a chunk's unstressed paths, on the target constant mix."""
    asset_index = [i for i in range(len(plan.series_names)) if i != plan.inflation_index]
    path_features(
        series,
        plan.target_weights,
        asset_index,
        plan.inflation_index,
        plan.scenario.simulation.steps_per_year,
        out=out,
    )


def noise_keys(entropy: int, start: int, n: int) -> np.ndarray:
    """Execution-noise keys of the global paths ``start, ..., start + n - 1``, uint64.

    The key of path ``p`` is output ``p + 1`` of SplitMix64 seeded with the run's root key,
    the first 64 bits of ``SeedSequence(entropy)``. The kernels draw each normal from its
    path's key, step, asset and stream (``kernels/_noise.py``), so execution noise does not
    depend on blocks, chunks or workers, and does not shift the return draws.
    """
    root = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
    z = root + np.arange(start + 1, start + n + 1, dtype=np.uint64) * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _split_series(series: np.ndarray, inflation_index: int) -> tuple[np.ndarray, np.ndarray]:
    if inflation_index < 0:
        return series, np.zeros(series.shape[:2])
    keep = [i for i in range(series.shape[2]) if i != inflation_index]
    return np.ascontiguousarray(series[:, :, keep]), np.ascontiguousarray(
        series[:, :, inflation_index]
    )


def _run_policy(plan, pol, returns, inflation, noise, out_metrics, out_hist, out_wealth) -> None:
    """Run one policy on a chunk; ``noise`` holds the paths' execution-noise keys."""
    sim = plan.scenario.simulation
    goal = np.inf if sim.goal is None else float(sim.goal)
    args = (
        pol.params,
        pol.state0,
        pol.exec_params,
        pol.w_init,
        pol.targets,
        returns,
        inflation,
        noise,
        plan.asset_params,
        plan.flows,
        plan.tax_params,
        float(sim.initial_wealth),
        float(sim.steps_per_year),
        goal,
        plan.grid_steps,
        HIST_LO,
        HIST_WIDTH,
        out_metrics,
        out_hist,
        out_wealth,
    )
    features = plan_feature_set(plan)
    if pol.rebalance_nb is None:
        done = builtin_loop(features, pol)(pol.kind, pol.check_every, pol.check_offset, *args)
    else:
        done = rule_loop(pol.rebalance_nb, features)(pol.check_every, pol.check_offset, *args)
    if done < 0:
        # The loop refused a block outside its feature set: a bug in feature_set, not input.
        raise RuntimeError(f"policy {pol.name!r}: the selected step loop does not fit the run")


def regenerate_path(plan: RunPlan, path: int) -> pd.DataFrame:
    """The simulated returns of one path, regenerated alone from its block's stream.

    Returns a DataFrame of shape (n_steps, n_series) of simple returns per step.
    """
    sim = plan.scenario.simulation
    if not 0 <= path < sim.n_paths:
        raise ConfigError(f"`path` must be in [0, {sim.n_paths}); got {path}.")
    block, offset = divmod(path, sim.block_size)
    if plan.replays_history:
        out = np.empty((1, plan.n_steps, len(plan.series_names)))
        plan.fill_chunk(plan.block_rng(block), path, out)
        return pd.DataFrame(out[0], columns=plan.series_names).rename_axis("step")
    rng = plan.block_rng(block)
    out = np.empty((offset + 1, plan.n_steps, len(plan.series_names)))
    plan.model.simulate_into(rng, out, sim.steps_per_year)
    return pd.DataFrame(out[offset], columns=plan.series_names).rename_axis("step")


def table_bytes(plan: RunPlan) -> int:
    """Bytes of the named policies' per-path table in memory (the kernel's output)."""
    sim = plan.scenario.simulation
    return sim.n_paths * len(plan.policies) * layout.N_METRICS * 8


def can_stream(plan: RunPlan) -> str | None:
    """Why the per-path table of ``plan`` cannot be streamed (None when it can)."""
    if plan.sweep_policies:
        return "a sweep keeps its grid points' sums and tables in memory"
    if plan.failure is not None:
        return "`[failure]` reads the whole per-path table at once"
    return None


def streams(plan: RunPlan, stream: bool | None = None) -> bool:
    """Whether a run of ``plan`` streams its per-path table to disk.

    ``stream=None`` (the default) streams a table larger than :data:`STREAM_BYTES` when the
    run can (no sweep, no ``[failure]``); True and False force it.

    Raises
    ------
    ConfigError
        ``stream=True`` for a run that cannot stream.
    """
    why = can_stream(plan)
    if stream is None:
        return why is None and table_bytes(plan) > STREAM_BYTES
    if stream and why is not None:
        raise ConfigError(f"`stream`: this run cannot stream its per-path table: {why}.")
    return bool(stream)


def estimate_memory(plan: RunPlan, n_jobs: int = 1, stream: bool | None = None) -> int:
    """Peak bytes a run of ``plan`` needs, to refuse one that would not fit.

    ``stream`` as in :func:`streams` (None: the size rule). A streamed run holds no per-path
    table: it counts the writer's buffer and one metric of every policy read back at once
    (the comparison and the report), not the table.
    """
    sim = plan.scenario.simulation
    n_pol = len(plan.policies)
    n_str = len(plan.stresses)
    n_feat = n_features(plan)
    if streams(plan, stream):
        # Stressed tables and features stay in memory; the named policies' table does not.
        per_path_table = sim.n_paths * (n_pol * layout.N_METRICS * n_str + n_feat) * 8
        # Buffered rows (the kernel output, then one policy's rows, labelled columns, frame
        # and Arrow copy) and one metric of every policy read back, with a labelled copy.
        rows = min(ROW_GROUP_PATHS + sim.block_size, sim.n_paths)
        buffered = rows * n_pol * layout.N_METRICS * 8
        streaming = buffered + 4 * buffered // n_pol + 2 * sim.n_paths * n_pol * 8
    else:
        per_path_table = sim.n_paths * (n_pol * layout.N_METRICS * (1 + n_str) + n_feat) * 8
        # Saving the table in one file holds a third copy of it at once: the labelled
        # table's reset_index copy and its Arrow copy, built one after the other (measured:
        # 4.7 GiB at 1,000,000 paths x 6 policies, where two copies are 2.9 GiB).
        streaming = table_bytes(plan)
    n_grid = plan.grid_steps.size
    per_block = (
        sim.block_size * n_pol * layout.N_METRICS * 8
        + n_pol * plan.sketch_rows * HIST_BINS * 8
        + plan.chunk_size * plan.n_steps * (len(plan.series_names) + 1) * 8
        + n_pol * min(sim.keep_paths, sim.block_size) * (plan.n_steps + 1) * 8
        # stressed variants: their metrics and sketches, and the second returns buffer
        + n_str * sim.block_size * n_pol * layout.N_METRICS * 8
        + n_str * n_pol * n_grid * HIST_BINS * 8
        + (plan.chunk_size * plan.n_steps * len(plan.series_names) * 8 if n_str else 0)
        + sim.block_size * n_feat * 8
        # tax lots and tax-account state of the path being simulated (per policy kernel)
        + plan.n_assets
        * (int(plan.tax_params[layout.TX_MAX_LOTS]) * layout.N_LOT_FIELDS + layout.N_TAX_STATE)
        * 8
    )
    # The labelled per-path table is built once the run is done: count it twice.
    merged_hist = (n_str * n_grid + plan.sketch_rows) * n_pol * HIST_BINS * 8
    need = 2 * per_path_table + streaming + max(1, n_jobs) * 2 * per_block + merged_hist
    need += model_check_bytes(plan)
    if plan.sweep_policies:
        need += _sweep_extra_bytes(plan, n_jobs, len(plan.sweep_policies))
    return need


# Peak working copies of a chunk of simulated values in the model check (compounding, log
# returns, drawdowns, ...): tracemalloc measured 107 MiB for chunks of 2,000,000 values.
_MODEL_CHECK_COPIES = 7


def model_check_bytes(plan: RunPlan) -> int:
    """Bytes the model-vs-history check takes at its peak, 0 when a run has none.

    A model fitted to history is checked against it after the run (``mcsim run`` prints
    the verdict, the report shows the table): :data:`MODEL_CHECK_PATHS` paths as long as the
    history, simulated in chunks of at most ``_CHUNK_VALUES`` values.
    """
    if plan.history is None or plan.replays_history:
        return 0
    steps = plan.scenario.simulation.steps_per_year
    ppy = plan.history_periods_per_year or steps
    n_steps = len(plan.history) * max(1, steps // ppy)
    per_path = n_steps * len(plan.series_names)
    chunk = max(1, min(MODEL_CHECK_PATHS, _CHUNK_VALUES // per_path))
    return _MODEL_CHECK_COPIES * chunk * per_path * 8


def _sweep_extra_bytes(plan: RunPlan, n_jobs: int, n_points: int) -> int:
    """Bytes a sweep of ``n_points`` grid points adds to the named policies' run."""
    sim = plan.scenario.simulation
    decision = plan.scenario.decision or DecisionConfig()
    n_kept = min(n_points, KEPT_GRID_POINTS + 1)
    return sweep_memory_bytes(
        n_points + len(plan.policies),
        sim.n_paths,
        # a kept grid point has a per-path table per stressed variant too
        n_kept * (1 + len(plan.stresses)),
        n_metrics=len(sweep_accumulator(plan, n_points=1).metric_names),
        n_risk_aversions=len(decision.risk_aversion),
        block_size=sim.block_size,
        n_jobs=n_jobs,
    )


def _proc_bytes(path: str, key: str) -> int | None:
    """The ``key:`` line of a Linux /proc file given in kB, in bytes; None when unknown."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_memory() -> int | None:
    """Bytes of memory available now (Linux /proc/meminfo), or None when unknown."""
    return _proc_bytes("/proc/meminfo", "MemAvailable")


def process_memory() -> int | None:
    """Bytes of memory this process uses now (its resident set), or None when unknown.

    Measured where a run would start (the modules a run needs imported, the scenario
    prepared), it is the baseline a run's own arrays add to: about 300 MiB with numpy,
    numba, pandas and pyarrow.
    """
    return _proc_bytes("/proc/self/status", "VmRSS")


def _check_memory(
    plan: RunPlan, n_jobs: int, max_memory: int | None, stream: bool | None = None
) -> bool:
    """Refuse a run that would not fit; return whether it streams its per-path table.

    Without ``stream``, a run whose table in memory would not fit streams it when it can.
    """
    limit = max_memory if max_memory is not None else available_memory()
    chosen = streams(plan, stream)
    need = estimate_memory(plan, n_jobs, chosen)
    if stream is None and not chosen and limit is not None and need > 0.9 * limit:
        if can_stream(plan) is None:
            chosen = True
            need = estimate_memory(plan, n_jobs, chosen)
    if limit is not None and need > 0.9 * limit and plan.sweep_policies:
        _refuse_sweep(plan, n_jobs, need, limit)
    if limit is not None and need > 0.9 * limit and chosen and plan.stresses:
        _refuse_stressed(plan, need, limit)
    if limit is not None and need > 0.9 * limit:
        sim = plan.scenario.simulation
        what = (
            "streaming the per-path table to disk"
            if chosen
            else f"{sim.n_paths:,} paths x {len(plan.policies)} policies of per-path results"
        )
        raise ConfigError(
            f"This run needs about {need / 2**30:.2f} GiB but only {limit / 2**30:.2f} GiB is "
            f"available ({what}). Lower `[simulation].n_paths`, run fewer policies at once, "
            "or lower `--jobs`."
        )
    return chosen


def stressed_table_bytes(plan: RunPlan) -> int:
    """Bytes of the stressed variants' per-path tables, held in memory even when the
    named policies' table streams (counted twice, as the estimate counts tables)."""
    sim = plan.scenario.simulation
    return 2 * sim.n_paths * len(plan.policies) * layout.N_METRICS * len(plan.stresses) * 8


def _refuse_stressed(plan: RunPlan, need: int, limit: int) -> None:
    """Refuse a streamed run whose stressed variants' tables do not fit in memory."""
    sim = plan.scenario.simulation
    held = stressed_table_bytes(plan)
    raise ConfigError(
        f"`[[stresses]]`: the {len(plan.stresses)} stressed variant(s) keep their per-path "
        f"tables in memory (they are not streamed to disk): {held / 2**30:.2f} GiB of the "
        f"{need / 2**30:.2f} GiB this run of {sim.n_paths:,} paths needs, but only "
        f"{limit / 2**30:.2f} GiB is available. Run the stresses on fewer paths "
        "(`[simulation].n_paths`, `--paths`) or fewer at once, or give more memory "
        "(`--max-memory`)."
    )


def _run_key(plan: RunPlan) -> str:
    """SHA-256 of everything a block's numbers depend on (its first 16 digits name its folder)."""
    # The policies' kernel arrays too: a learned policy's model (or any policy given in memory)
    # is not in the scenario's text, only its path.
    arrays = hashlib.sha256()
    for policy in [*plan.policies, *plan.sweep_policies]:
        for a in (policy.params, policy.state0, policy.exec_params, policy.w_init):
            arrays.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    payload = {
        "scenario": plan.scenario.to_dict(),
        "model": plan.model.params(),
        "policy_arrays": arrays.hexdigest(),
        "entropy": str(plan.entropy),
        "version": __version__,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _block_arrays(
    plan: RunPlan, block: int, *, accumulators: bool = True
) -> dict[str, tuple[tuple[int, ...], str]]:
    """Shape and dtype of each array of ``block``, as :func:`simulate_block` makes them
    (without a sweep's sums with ``accumulators=False``)."""
    sim = plan.scenario.simulation
    start, stop = plan.block_range(block)
    n_pol = len(plan.policies)
    n_keep = max(0, min(sim.keep_paths, stop) - start)
    f8 = np.dtype(np.float64).str
    out = {
        "metrics": ((n_pol, stop - start, layout.N_METRICS), f8),
        **sparse_spec("hist", np.int64),
        "wealth": ((n_pol, n_keep, plan.n_steps + 1), f8),
    }
    n_str = len(plan.stresses)
    if n_str:
        out["stress_metrics"] = ((n_str, n_pol, stop - start, layout.N_METRICS), f8)
        out.update(sparse_spec("stress_hist", np.int64))
    n_feat = n_features(plan)
    if n_feat:
        out["features"] = ((stop - start, n_feat), f8)
    if accumulators:
        out.update(_accumulator_shapes(plan))
    return out


CHECKPOINT_NAME = ".mcsim-checkpoint"
#: The streamed per-path table of a run into a folder, inside the run's checkpoint folder
#: (rebuilt from the blocks by every run, removed with the blocks once the results are saved).
STORE_NAME = "paths.parquet"

# The summary, comparison, fan and stress tables of a save, per policy and variant, at most
# (under 30 kB each for the default scenario).
_TABLES_BYTES_PER_POLICY = 256 * 2**10


def checkpoint_bytes(plan: RunPlan, blocks: range | list[int] | None = None) -> int:
    """Bytes of the checkpoint files of ``blocks`` (default: every block), estimated.

    Dense arrays are counted exactly; a block's sparse sketches at
    :data:`mcsim.disk.SKETCH_FILL` of their bound, one bin per path of the block (at most
    :data:`HIST_BINS`) for each policy and grid point.
    """
    sim = plan.scenario.simulation
    blocks = range(sim.n_blocks) if blocks is None else blocks
    n_pol, n_str = len(plan.policies), len(plan.stresses)
    accumulators = _accumulator_shapes(plan)
    sizes: dict[tuple[int, int], int] = {}
    total = 0
    for b in blocks:
        start, stop = plan.block_range(b)
        shape = (stop - start, max(0, min(sim.keep_paths, stop) - start))
        if shape not in sizes:
            expected = {**_block_arrays(plan, b, accumulators=False), **accumulators}
            bins = int(np.ceil(SKETCH_FILL * min(shape[0], HIST_BINS)))
            entries = {
                "sparse_hist_at": n_pol * plan.sketch_rows * bins,
                "sparse_hist_values": n_pol * plan.sketch_rows * bins,
                "sparse_stress_hist_at": n_str * n_pol * plan.grid_steps.size * bins,
                "sparse_stress_hist_values": n_str * n_pol * plan.grid_steps.size * bins,
            }
            sizes[shape] = npz_bytes(expected, entries)
        total += sizes[shape]
    return total


def table_file_bytes(plan: RunPlan) -> int:
    """Bytes of the per-path table's Parquet files (streamed or not), uncompressed."""
    sim = plan.scenario.simulation
    n_columns = len(run_metrics((*POLICIES.values(), *plan.scenario.policies)))
    # policy and path, and the window's start date with replayed history
    n_columns += 2 + (plan.window_starts is not None)
    n_pol = len(plan.policies)
    groups = -(-sim.n_paths // ROW_GROUP_PATHS)
    return n_pol * parquet_bytes(sim.n_paths, n_columns, groups)


def result_file_bytes(plan: RunPlan, report: bool | str) -> int:
    """Bytes of the result files but the per-path table, at most."""
    sim = plan.scenario.simulation
    n_pol = len(plan.policies)
    # kept wealth paths, nominal and real, in sample_paths.parquet and again in the report
    sample = n_pol * min(sim.keep_paths, sim.n_paths) * (plan.n_steps + 1) * 8 * 2
    tables = n_pol * (1 + len(plan.stresses)) * _TABLES_BYTES_PER_POLICY
    return tables + sample * (2 if report else 1) + (REPORT_BYTES if report else 0)


def estimate_disk(
    plan: RunPlan,
    *,
    out: str | os.PathLike[str] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    stream: bool | None = None,
    report: bool | str = True,
    label: str = "out",
) -> list[DiskNeed]:
    """What a run of ``plan`` writes, by folder, in bytes (estimates, see :mod:`mcsim.disk`).

    A run into ``out`` keeps every checkpoint block in ``out/.mcsim-checkpoint`` until the
    results are saved, and the streamed table beside them (the save links it into
    ``out/paths.parquet``, no second copy), so ``out`` needs the blocks, the table and the
    other result files at once. Blocks already on disk (a resumed run) count as written; a
    killed run's partial table is removed before the new one is written, so its bytes count
    as free. With ``checkpoint_dir`` the blocks go there, and a streamed table without
    ``out`` goes to the temporary folder.

    Parameters
    ----------
    plan : RunPlan
    out, checkpoint_dir : path, optional
        As in :func:`run`.
    stream : bool, optional
        Whether the table is streamed (as :func:`streams` decides when None).
    report : bool or str
        Whether ``report.html`` is written (with ``out``).
    label : str
        How messages name ``out``.

    Returns
    -------
    list of DiskNeed
        One per folder written to (none for a run in memory without checkpoint).
    """
    streamed = streams(plan, stream)
    needs = []
    if out is not None:
        ckpt = Checkpoint(Path(out) / CHECKPOINT_NAME, _run_key(plan), label)
        need = DiskNeed(Path(out), label)
        need.parts["checkpoint blocks"] = checkpoint_bytes(plan, _missing_blocks(plan, ckpt))
        need.parts["per-path table"] = table_file_bytes(plan)
        need.parts["result files"] = result_file_bytes(plan, report)
        if streamed:
            need.reclaimed = tree_bytes(ckpt.dir / STORE_NAME)
        return [need]
    if checkpoint_dir is not None:
        ckpt = Checkpoint(checkpoint_dir, _run_key(plan), "checkpoint_dir")
        need = DiskNeed(Path(checkpoint_dir), "checkpoint_dir")
        need.parts["checkpoint blocks"] = checkpoint_bytes(plan, _missing_blocks(plan, ckpt))
        needs.append(need)
    if streamed:
        need = DiskNeed(Path(tempfile.gettempdir()), "TMPDIR")
        need.parts["per-path table"] = table_file_bytes(plan)
        needs.append(need)
    return needs


def _missing_blocks(plan: RunPlan, ckpt: Checkpoint) -> list[int]:
    """Blocks without a file in ``ckpt`` (files there are assumed whole for the estimate)."""
    return [b for b in range(plan.scenario.simulation.n_blocks) if not ckpt.path(b).is_file()]


def _disk_fix(out: bool) -> str:
    skip = "`--no-disk-check`" if out else "`disk_check=False`"
    where = (
        "run into a folder on a disk with more space (`--out`)"
        if out
        else "give folders on a disk with more space (`checkpoint_dir`, or TMPDIR for a "
        "streamed table)"
    )
    return (
        f"{where}, free some space, or lower `[simulation].n_paths` (`--paths`); a larger "
        "`[simulation].block_size` also makes the checkpoint blocks smaller. The estimate "
        f"has a margin: {skip} runs anyway (a disk that fills stops the run with the finished "
        "blocks kept)"
    )


def run(
    scenario: Scenario,
    *,
    n_jobs: int = 1,
    seed: int | np.random.SeedSequence | None = None,
    n_paths: int | None = None,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
    out: str | os.PathLike[str] | None = None,
    report: bool | str = True,
    out_name: str = "out",
    backend: str | None = None,
    max_memory: int | None = None,
    stream: bool | None = None,
    disk_check: bool = True,
):
    """Simulate every policy of ``scenario`` along the same paths.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    n_jobs : int
        Workers (joblib); -1 for all cores. Results do not depend on it.
    seed : int or SeedSequence, optional
        Overrides ``[simulation].seed``. Without either, fresh entropy is drawn and stored
        in the result (``result.entropy``) so the run can be replayed.
    n_paths : int, optional
        Overrides ``[simulation].n_paths``.
    progress : bool
        Show a progress bar (on stderr).
    checkpoint_dir : path, optional
        Folder for finished blocks: a run killed and started again with the same arguments
        resumes from them and ends with the same numbers. The blocks stay on disk when the
        run returns; :meth:`SimulationResult.save` removes them once every result file is in
        place (or call :meth:`SimulationResult.remove_checkpoint`). Not with ``out``.
    out : path, optional
        Run into this folder, as ``mcsim run --out`` does: the folder is created and proved
        writable before simulating and locked for the whole run, blocks are checkpointed
        into ``out/.mcsim-checkpoint``, every result file is saved (see
        :meth:`SimulationResult.save`, ``result.files``), and only then are the blocks
        removed. When saving fails the blocks stay, and a rerun resumes without simulating.
    report : bool or {"inline", "directory"}
        With ``out``: also write ``report.html`` (True or ``"inline"``: plotly.js embedded;
        ``"directory"``: one ``plotly.min.js`` beside it, see :func:`mcsim.report.write_report`).
    out_name : str
        How messages name ``out`` (the command line passes ``"--out"``).
    backend : str, optional
        joblib backend ("threading", "loky", "dask", ...). Default: threads (the kernels
        release the GIL).
    max_memory : int, optional
        Bytes the run may use (default: the memory available now).
    stream : bool, optional
        Write the per-path table to disk as blocks finish (a Parquet dataset, see
        :mod:`mcsim.path_store`) instead of holding it in memory; the result reads it one
        column at a time. Default: when the table would exceed :data:`STREAM_BYTES` or not
        fit in ``max_memory``. With ``out`` the dataset is ``out/paths.parquet`` (a folder);
        otherwise a temporary folder that lives as long as the result. The numbers do not
        depend on it.
    disk_check : bool
        Refuse, before simulating, a run whose checkpoint blocks, streamed table and result
        files would not fit on their disks (estimated with a margin, see :mod:`mcsim.disk`).
        False skips the check: a disk that fills all the same stops the run with one
        message, the finished blocks kept for a rerun to resume.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError, DataError
        Before any simulation, for a bad scenario, data or argument.
    OutputError
        Before any simulation when ``out`` cannot be used (not a folder, not writable,
        locked by another run); afterwards when a file cannot be written (disk full).
    """
    if out is not None and checkpoint_dir is not None:
        raise ConfigError(
            "`checkpoint_dir` cannot be combined with `out`: a run into `out` keeps its "
            "blocks in `out/.mcsim-checkpoint`. Drop `checkpoint_dir`."
        )
    if not isinstance(report, bool) and report not in PLOTLY_MODES:
        raise ConfigError(f'`report` must be True, False, "inline" or "directory"; got {report!r}.')
    if n_paths is not None:
        scenario = scenario.replace(n_paths=n_paths)
    t0 = time.perf_counter()
    with announce(fit_message(scenario), enabled=progress):
        plan = prepare(scenario, seed=seed)
    t_prepare = time.perf_counter() - t0
    requested_jobs = n_jobs
    n_jobs = _resolve_jobs(n_jobs)
    streamed = _check_memory(plan, n_jobs, max_memory, stream)
    _check_decision_halves(plan)
    jobs = requested_jobs if backend == "dask" else n_jobs
    if out is None:
        if disk_check:
            needs = estimate_disk(plan, checkpoint_dir=checkpoint_dir, stream=streamed)
            check_disk(needs, _disk_fix(out=False))
        ckpt = None
        if checkpoint_dir is not None:
            ckpt = Checkpoint(checkpoint_dir, _run_key(plan), "checkpoint_dir")
        # A temporary folder, made once the run starts writing, removed with the result.
        store = (None, True) if streamed else None
        return _simulate(plan, ckpt, jobs, backend, progress, t_prepare, store)

    folder = check_folder(out, out_name)
    with locked(folder, out_name):
        clean_stale(folder)
        if disk_check:
            needs = estimate_disk(plan, out=folder, stream=streamed, report=report, label=out_name)
            check_disk(needs, _disk_fix(out=True))
        ckpt = Checkpoint(folder / CHECKPOINT_NAME, _run_key(plan), out_name)
        store = (ckpt.dir / STORE_NAME, False) if streamed else None
        result = _simulate(plan, ckpt, jobs, backend, progress, t_prepare, store)
        saving = "writing the results and the report" if report else None
        try:
            with announce(saving, enabled=progress):
                files = save_result(result, folder, report=report, out_name=out_name)
        except OutputError as e:
            raise OutputError(
                f"{e} The simulated blocks are kept in {str(ckpt.dir)!r}: run again with the "
                "same arguments to save the results without simulating again."
            ) from e
    return result.with_files(files)


def _path_writer(plan: RunPlan, folder: Path, owner: bool, hint: str = "") -> PathStoreWriter:
    table = run_metrics((*POLICIES.values(), *plan.scenario.policies))
    sim = plan.scenario.simulation
    return PathStoreWriter(
        folder,
        policy_names=[p.name for p in plan.policies],
        metric_table=table,
        masks=event_masks(plan.scenario.policies, table),
        block_size=sim.block_size,
        n_paths=sim.n_paths,
        window_starts=plan.window_starts,
        owner=owner,
        failure_hint=hint,
    )


def _simulate(
    plan: RunPlan,
    ckpt: Checkpoint | None,
    n_jobs: int,
    backend: str | None,
    progress: bool,
    t_prepare: float,
    store: tuple[Path | None, bool] | None = None,
):
    """Resume verified blocks from ``ckpt``, simulate the others and merge them in order.

    With ``store`` (a folder, or None for a new temporary one, and whether the result's store
    removes it), the per-path table is written there in block order as blocks are merged,
    and never held in memory.
    """
    sim = plan.scenario.simulation
    n_pol = len(plan.policies)
    metrics = None if store is not None else np.empty((n_pol, sim.n_paths, layout.N_METRICS))
    hist = np.zeros((n_pol, plan.sketch_rows, HIST_BINS), dtype=np.int64)
    wealth = np.zeros((n_pol, min(sim.keep_paths, sim.n_paths), plan.n_steps + 1))
    n_str = len(plan.stresses)
    n_feat = n_features(plan)
    stressed = _Stressed(
        metrics=np.empty((n_str, n_pol, sim.n_paths, layout.N_METRICS)),
        hist=np.zeros((n_str, n_pol, plan.grid_steps.size, HIST_BINS), dtype=np.int64),
        features=np.empty((sim.n_paths if n_feat else 0, n_feat)),
    )
    sums = _OrderedSums()

    with (
        ckpt.opened() if ckpt is not None else contextlib.nullcontext(),
        _writing(plan, store, _write_failure_hint(ckpt)) as writer,
    ):
        todo = []
        resumed = 0
        for b in range(sim.n_blocks):
            arrays = ckpt.load(b, _block_arrays(plan, b)) if ckpt is not None else None
            if arrays is None:
                todo.append(b)
                continue
            res = _block_from_arrays(plan, b, arrays)
            _merge(plan, res, metrics, hist, wealth, stressed)
            if writer is not None:
                if writer.next_block == b:
                    writer.add(b, res.metrics)
                else:
                    # Behind a block still to simulate: read again from disk when its turn
                    # comes, so a resumed run with a gap holds no table in memory.
                    writer.add_later(b, _reloader(ckpt, plan, b))
            sums.add(b, res.sweep)
            resumed += 1

        # Compile (or load from cache) in this thread before workers start.
        t1 = time.perf_counter()
        with announce(compile_message(plan) if progress else None, enabled=progress):
            _warm_up(plan)
        t_compile = time.perf_counter() - t1

        bar = _progress_bar(sim.n_blocks, resumed, sim.n_paths) if progress else None
        t2 = time.perf_counter()
        try:
            for res in _execute(plan, todo, n_jobs, backend):
                if ckpt is not None:
                    ckpt.save(res.block, res.arrays())
                _merge(plan, res, metrics, hist, wealth, stressed)
                if writer is not None:
                    writer.add(res.block, res.metrics)
                sums.add(res.block, res.sweep)
                if bar is not None:
                    bar.update(1)
            path_store = writer.close() if writer is not None else None
        finally:
            if bar is not None:
                bar.close()
        t_sim = time.perf_counter() - t2
    timings = {
        "prepare_s": t_prepare,
        "compile_s": t_compile,
        "simulate_s": t_sim,
        "blocks_resumed": resumed,
        "n_jobs": n_jobs,
    }
    outcome = None
    if plan.sweep_policies:
        t3 = time.perf_counter()
        outcome, plan, (metrics, hist, wealth, stressed) = _finish_sweep(
            plan, sums.merged(), metrics, hist, wealth, stressed, n_jobs, backend
        )
        timings["sweep_second_pass_s"] = time.perf_counter() - t3
    return SimulationResult(
        plan=plan,
        metrics=metrics,
        hist=hist,
        wealth=wealth,
        timings=timings,
        checkpoint=ckpt,
        stress_metrics=stressed.metrics,
        stress_hist=stressed.hist,
        features=stressed.features,
        sweep=outcome,
        path_store=path_store,
    )


@dataclass(slots=True)
class _Stressed:
    """The merged arrays of the stressed variants and the failure features of a run."""

    metrics: np.ndarray
    hist: np.ndarray
    features: np.ndarray


def _block_from_arrays(plan: RunPlan, block: int, arrays: dict[str, np.ndarray]) -> BlockResult:
    """A checkpointed block as a BlockResult (empty stress/feature arrays when not stored)."""
    start, stop = plan.block_range(block)
    n_pol = len(plan.policies)
    empty_metrics = np.empty((0, n_pol, stop - start, layout.N_METRICS))
    n_str = arrays["stress_metrics"].shape[0] if "stress_metrics" in arrays else 0
    stress_shape = (n_str, n_pol, plan.grid_steps.size, HIST_BINS)
    return BlockResult(
        block,
        metrics=arrays["metrics"],
        hist=dense_array(arrays, "hist", (n_pol, plan.sketch_rows, HIST_BINS)),
        wealth=arrays["wealth"],
        stress_metrics=arrays.get("stress_metrics", empty_metrics),
        stress_hist=(
            dense_array(arrays, "stress_hist", stress_shape)
            if n_str
            else np.zeros(stress_shape, dtype=np.int64)
        ),
        features=arrays.get("features", np.empty((0, 0))),
        sweep=_accumulator_from_arrays(plan, block, arrays) if plan.sweep_policies else None,
    )


def _resolve_jobs(n_jobs: int) -> int:
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ConfigError(f"`n_jobs` must be a positive integer or -1 (all cores); got {n_jobs!r}.")
    return os.cpu_count() or 1 if n_jobs == -1 else n_jobs


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, then back as it was.

    Numba's compiler allocates millions of small IR objects, and each collection walks
    every live one: a cold compile of the default scenario spent 15-25 % of its time in
    the collector (measured in-process, docs/performance.md). Its garbage is freed at the
    next collection after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _warm_up(plan: RunPlan) -> None:
    """Compile every kernel of the run on one tiny path (the numba cache makes this fast),
    with the garbage collector paused (:func:`_gc_paused`)."""
    with _gc_paused():
        _warm_up_kernels(plan)


def _warm_up_kernels(plan: RunPlan) -> None:
    rng = np.random.default_rng(0)
    series = np.empty((1, plan.n_steps, len(plan.series_names)))
    plan.fill_chunk(rng, 0, series)
    returns, inflation = _split_series(series, plan.inflation_index)
    noise = np.zeros(1, dtype=np.uint64)
    for pol in plan.policies:
        _run_policy(
            plan,
            pol,
            returns,
            inflation,
            noise,
            np.empty((1, layout.N_METRICS)),
            np.zeros((plan.grid_steps.size, HIST_BINS), dtype=np.int64),
            np.zeros((0, plan.n_steps + 1)),
        )
    stressed = np.empty_like(series)
    for r in plan.stresses:
        steps = np.array([r.splice_low]) if r.kind == "splice" and r.random_start else None
        apply_stress(r, series, stressed, splice_steps=steps)
        restore_stress(r, series, stressed, splice_steps=steps)
    if plan.failure is not None:
        _chunk_features(plan, series, np.empty((1, n_features(plan))))


def _execute(
    plan: RunPlan, blocks: list[int], n_jobs: int, backend: str | None
) -> Iterator[BlockResult]:
    if not blocks:
        return iter(())
    if n_jobs == 1 and backend is None:
        return (simulate_block(plan, b) for b in blocks)
    if backend is None:
        parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator_unordered")
        return parallel(delayed(simulate_block)(plan, b) for b in blocks)

    def gen() -> Iterator[BlockResult]:
        with parallel_config(backend=backend, n_jobs=n_jobs):
            parallel = Parallel(return_as="generator_unordered")
            yield from parallel(delayed(simulate_block)(plan, b) for b in blocks)

    return gen()


@contextlib.contextmanager
def _writing(
    plan: RunPlan, store: tuple[Path | None, bool] | None, hint: str = ""
) -> Iterator[PathStoreWriter | None]:
    """The writer of a streamed table (None in memory); a failed run leaves no partial
    files open, and a temporary folder is removed."""
    if store is None:
        yield None
        return
    folder, owner = store
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="mcsim-paths-"))
    writer = _path_writer(plan, folder, owner, hint)
    try:
        yield writer
    except BaseException:
        writer.abort()
        if owner:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _write_failure_hint(ckpt: Checkpoint | None) -> str:
    """What a failed write of the streamed table leaves, and how to go on."""
    if ckpt is None:
        return " Nothing was saved: free some space (or set TMPDIR to a larger disk) and run again."
    return (
        f" The finished blocks are kept in {str(ckpt.dir)!r}: free some space and run again "
        "with the same arguments to resume."
    )


def _reloader(ckpt: Checkpoint, plan: RunPlan, block: int):
    """A function reading ``block``'s per-path metrics from ``ckpt`` again (verified)."""

    def load() -> np.ndarray:
        arrays = ckpt.load(block, _block_arrays(plan, block))
        if arrays is None:
            raise OutputError(
                f"checkpoint block {block} changed on disk while the run used it; run again "
                "with the same arguments to resume."
            )
        return arrays["metrics"]

    return load


def _merge(plan: RunPlan, res: BlockResult, metrics, hist, wealth, stressed: _Stressed) -> None:
    """Merge a block's arrays; ``metrics`` None when the per-path table is streamed."""
    start, stop = plan.block_range(res.block)
    if metrics is not None:
        metrics[:, start:stop] = res.metrics
    hist += res.hist
    if stressed.metrics.shape[0]:
        stressed.metrics[:, :, start:stop] = res.stress_metrics
        stressed.hist += res.stress_hist
    if stressed.features.shape[1]:
        stressed.features[start:stop] = res.features
    if res.wealth.shape[1]:
        wealth[:, start : start + res.wealth.shape[1]] = res.wealth


def _progress_bar(n_blocks: int, done: int, n_paths: int) -> Any:
    return tqdm(total=n_blocks, initial=done, unit="block", desc=f"{n_paths:,} paths", leave=False)


# --------------------------------------------------------------------------------------------
# Sweeps: grid points on the same blocks, kept as mergeable sums
# --------------------------------------------------------------------------------------------
#: Grid points, besides the winner on the selection half, whose per-path tables a sweep keeps
#: (the best by the objective on all paths).
KEPT_GRID_POINTS = 3


def _check_decision_halves(plan: RunPlan) -> None:
    """Refuse, before simulating, a choice that would have a half of the paths too small.

    The winner is chosen on the paths of the selection blocks and judged on the others; with
    too few blocks one half is empty and the choice cannot be made or judged.
    """
    scenario = plan.scenario
    if not plan.sweep_policies and (scenario.decision is None or len(plan.policies) < 2):
        return
    sim = scenario.simulation
    decision = _decision(plan)
    mask = selection_mask(sim.n_paths, sim.block_size, decision.select_fraction)
    n_select = int(mask.sum())
    n_evaluate = sim.n_paths - n_select
    if min(n_select, n_evaluate) >= 2:
        return
    # The fewest whole blocks that give both halves 2 paths: a block's half depends on its
    # index alone, so this is the smallest run that can choose.
    counts, blocks = [0, 0], 0
    while min(counts) < 2:
        counts[is_selection_block(blocks, decision.select_fraction)] += sim.block_size
        blocks += 1
    raise ConfigError(
        f"`[decision]`: the winner is chosen on the paths of some blocks and judged on the "
        f"others, but {sim.n_paths:,} paths in blocks of `[simulation].block_size` = "
        f"{sim.block_size:,} give {n_select:,} path(s) to choose on and {n_evaluate:,} to "
        f"judge on (at least 2 each are needed). Simulate at least {blocks * sim.block_size:,} "
        "paths (`--paths` or `[simulation].n_paths`) or lower `[simulation].block_size`."
    )


def _decision(plan: RunPlan) -> DecisionConfig:
    return plan.scenario.decision if plan.scenario.decision is not None else DecisionConfig()


def sweep_accumulator(plan: RunPlan, *, n_points: int | None = None) -> Accumulator:
    """An empty accumulator over the plan's named policies followed by its grid points.

    Its reference is the decision baseline (the scenario's baseline when ``[decision]`` names
    none), its risk aversions those of ``[decision]``, and its wealth the real terminal
    wealth when inflation is simulated.
    """
    scenario = plan.scenario
    decision = _decision(plan)
    names = [p.name for p in plan.policies] + [p.name for p in plan.sweep_policies]
    if n_points is not None:
        names = names[: len(plan.policies) + n_points]
    baseline = decision.baseline if decision.baseline is not None else scenario.baseline
    sim = scenario.simulation
    return Accumulator(
        len(names),
        initial_wealth=sim.initial_wealth,
        horizon_years=sim.horizon_years,
        policy_names=names,
        risk_aversions=decision.risk_aversion,
        references=(names.index(baseline),),
        select_fraction=decision.select_fraction,
        wealth_floor=decision.wealth_floor,
        wealth_metric="real_terminal_wealth" if plan.inflation_index >= 0 else "terminal_wealth",
        goal=sim.goal,
    )


def _refuse_sweep(plan: RunPlan, n_jobs: int, need: int, limit: int) -> None:
    """Say how many grid points fit in ``limit`` bytes (the guard of a sweep too large)."""
    base = need - _sweep_extra_bytes(plan, n_jobs, len(plan.sweep_policies))
    lo, hi = 0, len(plan.sweep_policies)
    while lo < hi:  # largest grid that fits; the estimate grows with the number of points
        mid = (lo + hi + 1) // 2
        if base + _sweep_extra_bytes(plan, n_jobs, mid) <= 0.9 * limit:
            lo = mid
        else:
            hi = mid - 1
    sim = plan.scenario.simulation
    raise ConfigError(
        f"`[[sweeps]]`: this sweep of {len(plan.sweep_policies):,} grid points on "
        f"{sim.n_paths:,} paths needs about {need / 2**30:.2f} GiB but only "
        f"{limit / 2**30:.2f} GiB is available; at most {lo:,} grid points fit. Use a coarser "
        "grid, lower `[simulation].block_size` or `--jobs`, or give more memory "
        "(`--max-memory`)."
    )


class _OrderedSums:
    """Merges per-block accumulators in block order, whatever order the blocks finish in."""

    def __init__(self) -> None:
        self._pending: dict[int, Accumulator] = {}
        self._next = 0
        self._acc: Accumulator | None = None

    def add(self, block: int, acc: Accumulator | None) -> None:
        if acc is None:
            return
        self._pending[block] = acc
        while self._next in self._pending:
            part = self._pending.pop(self._next)
            if self._acc is None:
                self._acc = merge_in_order([part])
            else:
                self._acc.merge(part)
            self._next += 1

    def merged(self) -> Accumulator:
        if self._pending or self._acc is None:
            raise RuntimeError(f"blocks {sorted(self._pending)} were not merged in order.")
        return self._acc


def _accumulator_arrays(res: BlockResult) -> dict[str, np.ndarray]:
    """The block's sums for its checkpoint file (its own half only: the other is empty)."""
    if res.sweep is None:
        return {}
    h = int(np.argmax(res.sweep.n_paths > 0)) if res.sweep.n_paths.any() else 0
    out = {"acc_n_paths": res.sweep.n_paths.copy()}
    for name in STATE_ARRAYS:
        out[f"acc_{name}"] = np.ascontiguousarray(getattr(res.sweep, name)[h])
    return out


def _accumulator_shapes(plan: RunPlan) -> dict[str, tuple[tuple[int, ...], str]]:
    if not plan.sweep_policies:
        return {}
    acc = sweep_accumulator(plan)
    out = {"acc_n_paths": ((2,), acc.n_paths.dtype.str)}
    for name in STATE_ARRAYS:
        a = getattr(acc, name)
        out[f"acc_{name}"] = (a.shape[1:], a.dtype.str)
    return out


def _accumulator_from_arrays(plan: RunPlan, block: int, arrays: dict) -> Accumulator:
    acc = sweep_accumulator(plan)
    n_paths = arrays["acc_n_paths"]
    acc.n_paths = np.array(n_paths, dtype=np.float64)
    h = int(np.argmax(n_paths > 0)) if n_paths.any() else 0
    for name in STATE_ARRAYS:
        getattr(acc, name)[h] = arrays[f"acc_{name}"]
    return acc


def _finish_sweep(
    plan: RunPlan,
    acc: Accumulator,
    metrics: np.ndarray,
    hist: np.ndarray,
    wealth: np.ndarray,
    stressed: _Stressed,
    n_jobs: int,
    backend: str | None,
) -> tuple[SweepOutcome, RunPlan, tuple[np.ndarray, np.ndarray, np.ndarray, _Stressed]]:
    """Rank every policy from the sums, choose the winner, and give the best few grid points
    their per-path tables by a second pass over the same blocks (regenerated returns).

    The second pass runs the plan's stresses too, so a kept grid point has its stressed
    variants like a named policy; the failure features, which do not depend on the policy,
    are not measured again.
    """
    decision = _decision(plan)
    g = decision.risk_aversion[0]
    n_named = len(plan.policies)
    winner = sweep_winner(acc, decision)
    ranking = sweep_ranking(acc, decision)
    table = acc.summary("all")
    values = table.loc[table["risk_aversion"] == g]
    objective = (
        values["certainty_equivalent_wealth"].to_numpy()
        if decision.objective == "certainty_equivalent"
        else values["mean_goal_reached"].to_numpy()
    )
    order = [int(i) for i in np.argsort(-objective[n_named:], kind="stable")]
    kept = list(order[:KEPT_GRID_POINTS])
    w = acc.policy_names.index(winner.name) - n_named
    if w >= 0 and w not in kept:
        kept.insert(0, w)
    b = acc.references[0] - n_named
    if b >= 0 and b not in kept:  # a grid point as the decision baseline stays a policy
        kept.append(b)
    kept_policies = [plan.sweep_policies[i] for i in kept]
    points = plan.scenario.sweep_points
    second = dataclasses.replace(plan, policies=kept_policies, sweep_policies=[], failure=None)
    sim = plan.scenario.simulation
    n_str = len(plan.stresses)
    k_metrics = np.empty((len(kept), sim.n_paths, layout.N_METRICS))
    k_hist = np.zeros((len(kept), plan.sketch_rows, HIST_BINS), dtype=np.int64)
    k_wealth = np.zeros((len(kept), wealth.shape[1], plan.n_steps + 1))
    k_stressed = _Stressed(
        metrics=np.empty((n_str, len(kept), sim.n_paths, layout.N_METRICS)),
        hist=np.zeros((n_str, len(kept), plan.grid_steps.size, HIST_BINS), dtype=np.int64),
        features=np.empty((0, 0)),
    )
    for res in _execute(second, list(range(sim.n_blocks)), n_jobs, backend):
        _merge(second, res, k_metrics, k_hist, k_wealth, k_stressed)
    kept_scenario = dataclasses.replace(
        plan.scenario,
        policies=(*plan.scenario.policies, *(points[i] for i in kept)),
        sweeps=(),
    )
    kept_plan = dataclasses.replace(
        plan,
        scenario=kept_scenario,
        policies=[*plan.policies, *kept_policies],
        sweep_policies=[],
    )
    outcome = SweepOutcome(
        accumulator=acc,
        sweeps=tuple(plan.scenario.sweeps),
        point_names=tuple(p.name for p in points),
        kept=tuple(points[i].name for i in kept),
        winner=winner,
        ranking=ranking,
    )
    all_stressed = _Stressed(
        metrics=np.concatenate((stressed.metrics, k_stressed.metrics), axis=1),
        hist=np.concatenate((stressed.hist, k_stressed.hist), axis=1),
        features=stressed.features,
    )
    arrays = (
        np.concatenate((metrics, k_metrics)),
        np.concatenate((hist, k_hist)),
        np.concatenate((wealth, k_wealth)),
        all_stressed,
    )
    return outcome, kept_plan, arrays
