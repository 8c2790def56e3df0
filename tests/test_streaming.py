"""Batch runs past memory: the per-path table streamed to a Parquet dataset while blocks finish.

A streamed run must give the numbers of the same run in memory, bit for bit (summary,
comparison, per-path table, saved files), for any number of workers, with blocks finishing
in any order, and after being killed and resumed.
"""

from __future__ import annotations

import errno
import gc
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mcsim
import mcsim.cli
from mcsim import checkpoint, disk, engine, path_store, saving
from mcsim.errors import CheckpointWarning, ConfigError, OutputError
from mcsim.metrics import METRICS
from mcsim.path_store import PathStore, PathStoreWriter, event_masks

N_PATHS = 300
BLOCK = 25


@pytest.fixture(scope="module")
def table(small_table):
    return small_table(
        simulation={"n_paths": N_PATHS, "block_size": BLOCK, "horizon_years": 2, "keep_paths": 7},
        stresses=[{"name": "crash", "kind": "shock", "returns": {"stocks": -0.3}, "at_year": 0.5}],
    )


@pytest.fixture(scope="module")
def scenario(table):
    return mcsim.Scenario.from_dict(table)


@pytest.fixture(scope="module")
def in_memory(scenario):
    return mcsim.run(scenario, stream=False)


@pytest.fixture(scope="module")
def streamed(scenario):
    return mcsim.run(scenario, stream=True, n_jobs=2)


def test_a_streamed_run_has_the_numbers_of_the_run_in_memory(in_memory, streamed):
    assert in_memory.path_store is None and streamed.path_store is not None
    for frame in ("summary", "comparison", "paths", "fan", "sample_paths", "stress"):
        pd.testing.assert_frame_equal(
            getattr(streamed, frame), getattr(in_memory, frame), check_exact=True, obj=frame
        )
    np.testing.assert_array_equal(streamed.metrics_array, in_memory.metrics_array)
    pd.testing.assert_frame_equal(
        streamed.metric("max_drawdown"), in_memory.metric("max_drawdown"), check_exact=True
    )
    assert streamed.n_paths == in_memory.n_paths == N_PATHS


def test_the_dataset_is_one_file_per_policy_read_by_column(streamed):
    store = streamed.path_store
    files = store.files()
    assert [p.name for p in files] == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    assert sorted(p.name for p in store.folder.iterdir()) == [p.name for p in files]
    for k, p in enumerate(files):
        meta = pq.ParquetFile(p).metadata
        assert meta.num_rows == N_PATHS
        np.testing.assert_array_equal(
            store.column("terminal_wealth", k),
            streamed.metrics_array[k, :, METRICS["terminal_wealth"].column],
        )


def test_saved_dataset_reads_as_the_in_memory_file(in_memory, streamed, tmp_path):
    a = in_memory.save(tmp_path / "a", report=False)
    b = streamed.save(tmp_path / "b", report=False)
    assert a["paths"].is_file() and b["paths"].is_dir()
    pd.testing.assert_frame_equal(
        pd.read_parquet(b["paths"]), pd.read_parquet(a["paths"]), check_exact=True
    )
    for kind in ("summary", "comparison", "fan", "stress"):
        assert b[kind].read_bytes() == a[kind].read_bytes(), kind
    # Saving linked (or copied) the files: the result's own copy is still whole.
    assert len(streamed.path_store.files()) == 3
    pd.testing.assert_frame_equal(streamed.paths, in_memory.paths, check_exact=True)


def test_small_row_groups_and_workers_give_the_same_files(scenario, in_memory, monkeypatch):
    monkeypatch.setattr(path_store, "ROW_GROUP_PATHS", 2 * BLOCK + 1)
    res = mcsim.run(scenario, stream=True, n_jobs=2)
    meta = pq.ParquetFile(res.path_store.files()[1]).metadata
    assert meta.num_row_groups == N_PATHS // (3 * BLOCK)
    pd.testing.assert_frame_equal(res.summary, in_memory.summary, check_exact=True)
    pd.testing.assert_frame_equal(res.paths, in_memory.paths, check_exact=True)


def test_a_temporary_dataset_goes_with_its_result(scenario):
    res = mcsim.run(scenario, n_paths=2 * BLOCK, stream=True)
    folder = res.path_store.folder
    assert folder.is_dir()
    del res
    gc.collect()
    assert not folder.exists()


# -- the writer on its own: blocks in any order ---------------------------------------------
def _writer(folder, n_blocks, block, n_pol=2):
    table = {name: METRICS[name] for name in ("terminal_wealth", "cagr", "ruined")}
    return PathStoreWriter(
        folder,
        policy_names=[f"p{k}" for k in range(n_pol)],
        metric_table=table,
        masks=event_masks([], table),
        block_size=block,
        n_paths=n_blocks * block,
    )


@given(
    order=st.permutations(list(range(9))),
    later=st.sets(st.integers(0, 8)),
    rows=st.integers(1, 40),
)
def test_blocks_added_in_any_order_are_written_in_block_order(order, later, rows, tmp_path_factory):
    rng = np.random.default_rng(7)
    blocks = [rng.standard_normal((2, 5, 32)) for _ in range(9)]
    blocks[3][1, 2, 0] = np.nan
    writer = _writer(tmp_path_factory.mktemp("w"), 9, 5)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(path_store, "ROW_GROUP_PATHS", rows)
        for b in order:
            if b in later:
                writer.add_later(b, lambda b=b: blocks[b])
            else:
                writer.add(b, blocks[b])
        store = writer.close()
    assert pq.ParquetFile(store.files()[0]).metadata.num_row_groups == -(-45 // (5 * -(-rows // 5)))
    full = np.concatenate(blocks, axis=1)
    for k in range(2):
        np.testing.assert_array_equal(store.column("terminal_wealth", k), full[k, :, 0])
        np.testing.assert_array_equal(store.column("cagr", k), full[k, :, 3])
    frame = pd.read_parquet(store.folder)
    assert list(frame["path"]) == list(range(45)) * 2
    assert list(frame["policy"]) == ["p0"] * 45 + ["p1"] * 45


def test_a_missing_block_is_refused(tmp_path):
    writer = _writer(tmp_path / "w", 3, 4)
    writer.add(0, np.zeros((2, 4, 32)))
    writer.add(2, np.zeros((2, 4, 32)))
    with pytest.raises(RuntimeError, match="missing block 1"):
        writer.close()


def test_a_store_pickles_as_a_reference_that_never_removes(tmp_path):
    import pickle

    (tmp_path / "d").mkdir()
    owner = PathStore(tmp_path / "d", ["a"], 3, owner=True)
    copy = pickle.loads(pickle.dumps(owner))
    del copy
    gc.collect()
    assert (tmp_path / "d").is_dir()


# -- when a run streams, and what it needs ---------------------------------------------------
def test_the_size_rule_and_the_memory_estimate(small_table):
    big = engine.prepare(mcsim.Scenario.from_dict(small_table(simulation={"n_paths": 10**7})))
    small = engine.prepare(mcsim.Scenario.from_dict(small_table(simulation={"n_paths": 10**5})))
    assert engine.table_bytes(big) > engine.STREAM_BYTES > engine.table_bytes(small)
    assert engine.streams(big) and not engine.streams(small)
    assert engine.streams(small, stream=True) and not engine.streams(big, stream=False)
    in_memory = engine.estimate_memory(big, 2, stream=False)
    streamed = engine.estimate_memory(big, 2)
    assert in_memory > 2 * engine.table_bytes(big)
    assert streamed < 2 * 2**30 < in_memory
    # Flat in paths but for one metric of every policy read back at once, and its labelled
    # copy (8 bytes each).
    n_pol = len(big.policies)
    grow = streamed - engine.estimate_memory(small, 2, stream=True)
    assert grow == 2 * (10**7 - 10**5) * n_pol * 8


def test_a_run_that_would_not_fit_in_memory_streams(small_table):
    plan = engine.prepare(mcsim.Scenario.from_dict(small_table(simulation={"n_paths": 300_000})))
    assert not engine.streams(plan)
    limit = int(engine.estimate_memory(plan, 1, stream=True) / 0.8)
    assert engine.estimate_memory(plan, 1, stream=False) > 0.9 * limit
    assert engine._check_memory(plan, 1, limit) is True
    assert engine._check_memory(plan, 1, 100 * limit) is False
    with pytest.raises(ConfigError, match="needs about"):
        engine._check_memory(plan, 1, limit, stream=False)
    with pytest.raises(ConfigError, match="streaming the per-path table"):
        engine._check_memory(plan, 1, limit // 4)


def test_runs_that_cannot_stream_say_why(small_table):
    table = small_table(failure={"max_drawdown_above": 0.2})
    scenario = mcsim.Scenario.from_dict(table)
    with pytest.raises(ConfigError, match=r"`stream`.*\[failure\]"):
        mcsim.run(scenario, stream=True)
    assert not engine.streams(engine.prepare(scenario.replace(n_paths=10**7)))


# -- into a folder: the command line, old results, resume ------------------------------------
def _argv(path, out, *extra):
    return ["run", str(path), "--out", str(out), "--no-report", "--no-progress", *extra]


def test_cli_stream_writes_a_dataset_and_replaces_either_kind(
    table, write_toml, tmp_path, in_memory
):
    path = write_toml(table, tmp_path / "s.toml")
    out = tmp_path / "out"
    assert mcsim.cli.main(_argv(path, out)) == 0
    assert (out / "paths.parquet").is_file()
    assert mcsim.cli.main(_argv(path, out, "--stream")) == 0
    parts = sorted(p.name for p in (out / "paths.parquet").iterdir())
    assert parts == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    reference = in_memory.paths.reset_index()
    reference["policy"] = reference["policy"].astype("category")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "paths.parquet"), reference)
    assert mcsim.cli.main(_argv(path, out, "--no-stream")) == 0
    assert (out / "paths.parquet").is_file()


def test_a_result_saved_into_its_folder_reads_from_there(scenario, tmp_path):
    res = mcsim.run(scenario, stream=True, out=tmp_path / "out")
    assert res.path_store.folder == tmp_path / "out" / "paths.parquet"
    assert not (tmp_path / "out" / ".mcsim-checkpoint").exists()
    assert res.paths.shape[0] == 3 * N_PATHS
    # The report reads its per-path figures from the dataset too.
    assert res.files["report"].stat().st_size > 100_000


def test_an_interrupted_streamed_run_resumes_with_the_same_files(
    scenario, in_memory, tmp_path, monkeypatch
):
    done = []
    real = engine.simulate_block

    def dies(plan, block):
        if len(done) == 5:
            raise KeyboardInterrupt
        done.append(block)
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", dies)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        mcsim.run(scenario, stream=True, out=out, report=False)
    run_dir = next((out / ".mcsim-checkpoint").glob("run-*"))
    assert len(list(run_dir.glob("block_*.npz"))) == 5
    # Damage an early block: the later ones wait for it and are read again from disk.
    (run_dir / "block_000001.npz").write_bytes(b"damaged")
    monkeypatch.setattr(engine, "simulate_block", real)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mcsim.run(scenario, stream=True, out=out, report=False)
    assert any(issubclass(w.category, CheckpointWarning) for w in caught)
    assert res.timings["blocks_resumed"] == 4
    pd.testing.assert_frame_equal(res.summary, in_memory.summary, check_exact=True)
    fresh = mcsim.run(scenario, stream=True, out=tmp_path / "fresh", report=False)
    for a, b in zip(res.path_store.files(), fresh.path_store.files(), strict=True):
        assert a.read_bytes() == b.read_bytes()


@pytest.mark.slow
def test_sigkill_while_streaming_then_rerun_gives_identical_files(
    table, write_toml, kill_during, fault_wrapper, tmp_path
):
    path = write_toml(
        {**table, "simulation": {**table["simulation"], "block_size": 15}}, tmp_path / "k.toml"
    )
    wrapper = fault_wrapper
    reference = tmp_path / "reference"
    assert mcsim.cli.main(_argv(path, reference, "--stream")) == 0
    parts = sorted((reference / "paths.parquet").iterdir())
    rng = np.random.default_rng(11)
    out = tmp_path / "out"
    argv = [sys.executable, str(wrapper), *_argv(path, out, "--stream")]
    killed = 0
    for phase, latest in (("blocks", 0.45), ("blocks", 0.45), ("save", 0.3), ("save", 0.3)):
        killed += kill_during(argv, phase, float(rng.uniform(0.0, latest)), tmp_path)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert killed >= 2
    assert [p.read_bytes() for p in sorted((out / "paths.parquet").iterdir())] == [
        p.read_bytes() for p in parts
    ]
    for name in ("summary.csv", "comparison.csv", "fan.csv", "stress.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_a_streamed_window_run_carries_the_window_start(tmp_path):
    table = {
        "name": "windows",
        "simulation": {"n_paths": 7, "horizon_years": 60, "initial_wealth": 100.0},
        "data": {"source": "shiller", "columns": ["us_stocks_tr"]},
        "model": {"kind": "historical_windows"},
        "portfolio": {"target": {"us_stocks_tr": 1.0}},
        "policies": [
            {"name": "hold", "kind": "buy_and_hold"},
            {"name": "yearly", "kind": "calendar", "frequency": "annual"},
        ],
    }
    scenario = mcsim.Scenario.from_dict(table)
    a = mcsim.run(scenario, out=tmp_path / "a", report=False, stream=False)
    b = mcsim.run(scenario, out=tmp_path / "b", report=False, stream=True)
    assert b.files["paths"].is_dir()
    streamed = pd.read_parquet(b.files["paths"])
    assert list(streamed.columns[:3]) == ["policy", "path", "window_start"]
    pd.testing.assert_frame_equal(streamed, pd.read_parquet(a.files["paths"]), check_exact=True)
    pd.testing.assert_frame_equal(b.summary, a.summary, check_exact=True)


# -- checkpoint blocks store their sketches sparsely -----------------------------------------
@given(st.lists(st.tuples(st.integers(0, 2 * 3 * 50 - 1), st.integers(1, 10**12)), max_size=40))
def test_sparse_sketch_arrays_give_back_the_array(entries):
    from mcsim.checkpoint import dense_array, sparse_arrays

    a = np.zeros((2, 3, 50), dtype=np.int64)
    for at, value in entries:
        a.reshape(-1)[at] = value
    stored = sparse_arrays("hist", a)
    assert set(stored) == {"sparse_hist_at", "sparse_hist_values"}
    assert stored["sparse_hist_at"].size == np.count_nonzero(a)
    np.testing.assert_array_equal(dense_array(stored, "hist", a.shape), a)


def test_checkpoint_blocks_hold_the_sketch_bins_that_are_not_empty(scenario, tmp_path):
    res = mcsim.run(scenario, checkpoint_dir=tmp_path)
    (run_dir,) = tmp_path.glob("run-*")
    with np.load(run_dir / "block_000000.npz") as z:
        assert "hist" not in z.files and "stress_hist" not in z.files
        hist_bytes = z["sparse_hist_at"].nbytes + z["sparse_hist_values"].nbytes
    dense_bytes = res.hist.nbytes // (N_PATHS // BLOCK)  # one block's nominal sketch
    assert hist_bytes < dense_bytes / 10
    resumed = mcsim.run(scenario, checkpoint_dir=tmp_path)
    assert resumed.timings["blocks_resumed"] == N_PATHS // BLOCK
    for name in ("hist", "real_hist", "stress_hist"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(res, name))


def test_an_event_metric_streams_as_in_memory(small_table):
    table = small_table(
        policies=[
            {"name": "hold", "kind": "buy_and_hold"},
            {
                "name": "cppi",
                "kind": "cppi",
                "safe_asset": "bonds",
                "floor": 0.99,
                "multiplier": 5,
                "every": 12,
            },
        ]
    )
    scenario = mcsim.Scenario.from_dict(table)
    a, b = mcsim.run(scenario, stream=False), mcsim.run(scenario, stream=True)
    assert b.metric("floor_breaches")["cppi"].gt(0).any()
    np.testing.assert_array_equal(b.metrics_array, a.metrics_array)
    pd.testing.assert_frame_equal(b.paths, a.paths, check_exact=True)
    pd.testing.assert_frame_equal(b.summary, a.summary, check_exact=True)


def test_validate_says_when_the_table_is_streamed(table, write_toml, tmp_path, capsys):
    path = write_toml(table, tmp_path / "s.toml")
    assert mcsim.cli.main(["validate", str(path), "--paths", "10000000"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "peak memory" in x)
    assert line.endswith("(per-path table streamed to disk)")
    assert mcsim.cli.main(["validate", str(path), "--paths", "1000"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "peak memory" in x)
    assert "streamed" not in line


# -- disk space: checked before any work, a full disk mid-run ends with one line -----------
def _free(monkeypatch, free):
    """Make every disk report ``free`` bytes free."""
    real = disk.shutil.disk_usage

    def usage(path):
        total, used, _ = real(path)
        return type(real(path))(total, used, free)

    monkeypatch.setattr(disk.shutil, "disk_usage", usage)


def test_the_disk_estimate_is_at_least_what_a_run_writes(scenario, tmp_path, monkeypatch):
    # The sketches at their bound: every block file is within it, and above its dense part.
    monkeypatch.setattr(engine, "SKETCH_FILL", 1.0)
    res = mcsim.run(scenario, stream=True, out=tmp_path / "out", report=False)
    plan = res.plan
    (need,) = engine.estimate_disk(plan, out=tmp_path / "fresh", report=False)
    assert need.parts["per-path table"] >= sum(p.stat().st_size for p in res.path_store.files())
    res = mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt")
    files = sorted((tmp_path / "ckpt").glob("run-*/block_*.npz"))
    assert len(files) == N_PATHS // BLOCK
    for b, f in enumerate(files):
        size = f.stat().st_size
        assert engine.checkpoint_bytes(plan, [b]) >= size
        with np.load(f) as z:
            dense = sum(z[k].nbytes for k in z.files if not k.startswith("sparse_"))
        assert size > dense
    assert need.parts["checkpoint blocks"] == engine.checkpoint_bytes(plan)
    # Blocks on disk count as written: a resumed run needs none of them again.
    (resumed,) = engine.estimate_disk(plan, checkpoint_dir=tmp_path / "ckpt")[:1]
    assert resumed.parts["checkpoint blocks"] == 0


def test_check_disk_adds_up_folders_on_one_disk(tmp_path, monkeypatch):
    a = disk.DiskNeed(tmp_path / "a", "--out", {"blocks": 600})
    b = disk.DiskNeed(tmp_path / "b" / "new", "checkpoint_dir", {"table": 400})
    _free(monkeypatch, 1000)
    disk.check_disk([a, b], "lower `--paths`")
    _free(monkeypatch, 999)
    with pytest.raises(OutputError, match=r"about 0\.0 MiB there .* only 0\.0 MiB is free"):
        disk.check_disk([a, b], "lower `--paths`")
    # A killed run's partial table, removed before writing, counts as free.
    a.reclaimed = 1
    disk.check_disk([a, b], "lower `--paths`")


def test_a_run_the_disk_cannot_hold_fails_before_any_work(
    table, write_toml, tmp_path, monkeypatch, capsys
):
    path = write_toml(table, tmp_path / "s.toml")
    out = tmp_path / "out"
    assert mcsim.cli.main(_argv(path, out, "--stream")) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    plan = engine.prepare(mcsim.Scenario.from_dict(table).replace(n_paths=2 * N_PATHS))
    (need,) = engine.estimate_disk(plan, out=out, report=False, label="--out")
    _free(monkeypatch, need.total - 1)
    called = []
    monkeypatch.setattr(engine, "simulate_block", lambda *a: called.append(a))
    assert mcsim.cli.main(_argv(path, out, "--stream", "--paths", str(2 * N_PATHS))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "not enough disk space" in err and str(out) in err and "--out" in err
    assert f"{disk.format_bytes(need.total)}" in err and "checkpoint blocks" in err
    assert not called and not (out / ".mcsim-checkpoint").exists()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    # Python API: the same check, as an OutputError.
    with pytest.raises(OutputError, match="not enough disk space"):
        mcsim.run(plan.scenario, out=tmp_path / "api", report=False, stream=True)
    # Space enough: the run goes ahead.
    monkeypatch.undo()
    _free(monkeypatch, need.total)
    assert mcsim.cli.main(_argv(path, out, "--stream", "--paths", str(2 * N_PATHS))) == 0


def test_the_disk_check_can_be_skipped(table, write_toml, tmp_path, monkeypatch, capsys):
    path = write_toml(table, tmp_path / "s.toml")
    out = tmp_path / "out"
    _free(monkeypatch, 1)
    assert mcsim.cli.main(_argv(path, out, "--stream")) == 2
    err = capsys.readouterr().err
    assert "not enough disk space" in err and "--no-disk-check" in err
    assert mcsim.cli.main(_argv(path, out, "--stream", "--no-disk-check")) == 0
    assert (out / "paths.parquet").is_dir()
    scenario = mcsim.Scenario.from_dict(table)
    with pytest.raises(OutputError, match="disk_check=False"):
        mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt", stream=True)
    result = mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt", stream=True, disk_check=False)
    assert result.n_paths == N_PATHS


def test_validate_reports_the_disk_and_refuses_a_folder_too_small(
    table, write_toml, tmp_path, monkeypatch, capsys
):
    path = write_toml(table, tmp_path / "s.toml")
    assert mcsim.cli.main(["validate", str(path), "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    disk_line = next(x for x in lines if "estimated disk" in x)
    assert "checkpoint blocks" in disk_line and "per-path table" in disk_line
    assert any(x.strip().startswith("free on the disk of") for x in lines)
    _free(monkeypatch, 1000)
    assert mcsim.cli.main(["validate", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mcsim: error: not enough disk space") and err.count("\n") == 1


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["table", "checkpoint"])
def test_a_full_disk_mid_run_ends_with_one_line_and_a_rerun_resumes(
    where, table, write_toml, tmp_path, monkeypatch, capsys
):
    path = write_toml(table, tmp_path / "s.toml")
    reference = tmp_path / "reference"
    assert mcsim.cli.main(_argv(path, reference, "--stream")) == 0
    monkeypatch.setattr(path_store, "ROW_GROUP_PATHS", 2 * BLOCK)
    calls = []
    if where == "table":
        real = pq.ParquetWriter.write_table

        def write_table(self, *a, **k):
            calls.append(1)
            return _enospc() if len(calls) > 7 else real(self, *a, **k)

        monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
    else:
        real = np.savez

        def savez(*a, **k):
            calls.append(1)
            return _enospc() if len(calls) > 5 else real(*a, **k)

        monkeypatch.setattr(checkpoint.np, "savez", savez)
    out = tmp_path / "out"
    capsys.readouterr()
    assert mcsim.cli.main(_argv(path, out, "--stream")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "No space left on device" in err and "resume" in err
    kept = list((out / ".mcsim-checkpoint").glob("run-*/block_*.npz"))
    assert len(kept) >= 5
    monkeypatch.undo()
    assert mcsim.cli.main(_argv(path, out, "--stream")) == 0
    assert f"{len(kept)} block(s) resumed" in capsys.readouterr().out
    for name in ("summary.csv", "comparison.csv", "fan.csv", "stress.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes()
    a = sorted((out / "paths.parquet").iterdir())
    b = sorted((reference / "paths.parquet").iterdir())
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert not (out / ".mcsim-checkpoint").exists()


# -- the memory estimate: the interpreter's baseline, the model check, stressed tables ------
def test_validate_states_the_baseline_and_adds_it_to_the_estimate(
    table, write_toml, tmp_path, capsys
):
    path = write_toml(table, tmp_path / "s.toml")
    assert mcsim.cli.main(["validate", str(path), "--paths", "10000000"]) == 0
    out = capsys.readouterr().out
    baseline = int(re.search(r"memory baseline: ([\d,]+) MiB", out)[1].replace(",", ""))
    peak, run = (
        int(x.replace(",", ""))
        for x in re.search(r"estimated peak memory: ([\d,]+) MiB.*\+ ([\d,]+) MiB", out).groups()
    )
    # Measured in the validating process, which has imported what a run imports.
    assert 100 < baseline < 2000
    assert abs(baseline - engine.process_memory() / 2**20) < 200
    assert abs(peak - baseline - run) <= 1
    plan = engine.prepare(mcsim.Scenario.from_dict(table).replace(n_paths=10**7))
    assert abs(run - engine.estimate_memory(plan, 1) / 2**20) <= 1
    # Stressed variants are held in memory: the estimate says how much of it they are.
    held = re.search(r"of which ([\d,]+) MiB are the per-path tables of the 1 stressed", out)
    assert int(held[1].replace(",", "")) == round(engine.stressed_table_bytes(plan) / 2**20)


def test_the_model_check_is_counted_at_its_measured_peak(small_table):
    import tracemalloc

    from mcsim.model_check import MODEL_CHECK_PATHS, model_check
    from mcsim.scenarios import scenario_path

    scenario = mcsim.Scenario.from_toml(scenario_path("default_60_40")).replace(n_paths=1000)
    plan = engine.prepare(scenario)
    counted = engine.model_check_bytes(plan)
    tracemalloc.start()
    try:
        model_check(
            plan.model,
            plan.history,
            plan.history_periods_per_year,
            steps_per_year=plan.scenario.simulation.steps_per_year,
            n_paths=MODEL_CHECK_PATHS,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.8 * peak < counted < 1.25 * peak
    explicit = engine.prepare(mcsim.Scenario.from_dict(small_table()))
    assert engine.model_check_bytes(explicit) == 0


def test_a_streamed_run_whose_stressed_tables_do_not_fit_names_the_stresses(scenario):
    plan = engine.prepare(scenario.replace(n_paths=2_000_000))
    need = engine.estimate_memory(plan, 1, stream=True)
    assert engine.stressed_table_bytes(plan) > need / 2
    with pytest.raises(ConfigError, match=r"`\[\[stresses\]\]`: the 1 stressed variant"):
        engine._check_memory(plan, 1, need, stream=True)
    assert engine._check_memory(plan, 1, 2 * need, stream=True) is True


def test_saving_a_streamed_table_onto_another_disk_checks_its_space(
    scenario, tmp_path, monkeypatch
):
    res = mcsim.run(scenario, stream=True)
    table = res.path_store.nbytes_on_disk()
    monkeypatch.setattr(saving, "same_disk", lambda a, b: False)
    _free(monkeypatch, table)
    with pytest.raises(OutputError, match=r"not enough disk space.*per-path table"):
        res.save(tmp_path / "elsewhere", report=False)
    assert not list((tmp_path / "elsewhere").iterdir())
    _free(monkeypatch, table + disk.RESULT_FILES_BYTES)
    files = res.save(tmp_path / "elsewhere", report=False)
    pd.testing.assert_frame_equal(
        pd.read_parquet(files["paths"]), pd.read_parquet(res.path_store.folder)
    )


def test_the_python_api_checks_the_checkpoint_folder_and_the_temporary_one(
    scenario, tmp_path, monkeypatch
):
    plan = engine.prepare(scenario)
    ckpt, table = engine.estimate_disk(plan, checkpoint_dir=tmp_path / "ckpt", stream=True)
    assert (ckpt.label, table.label) == ("checkpoint_dir", "TMPDIR")
    assert ckpt.total == engine.checkpoint_bytes(plan)
    assert table.total == engine.table_file_bytes(plan)
    assert engine.estimate_disk(plan, stream=False) == []
    # On one disk their needs add up: each fits alone, not both.
    _free(monkeypatch, max(ckpt.total, table.total))
    with pytest.raises(OutputError, match=r"`checkpoint_dir` .*; `TMPDIR`"):
        mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt", stream=True)
    assert not (tmp_path / "ckpt").exists()
    _free(monkeypatch, ckpt.total + table.total)
    res = mcsim.run(scenario, checkpoint_dir=tmp_path / "ckpt", stream=True)
    assert res.path_store is not None
