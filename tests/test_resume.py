"""A run stopped part way resumes from its finished blocks and ends with the same numbers.

The stop is simulated by making ``mcsim.engine.simulate_block`` raise ``KeyboardInterrupt``
on one block (blocks run in order with ``n_jobs=1``), which is what Ctrl-C does to a run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.cli
from mcsim import engine
from mcsim.errors import CheckpointWarning

N_BLOCKS = 4


@pytest.fixture(scope="module")
def table(small_table):
    return small_table(flows=[{"amount": 20.0, "every": 3}])


@pytest.fixture(scope="module")
def scenario(table):
    return mcsim.Scenario.from_dict(table)


@pytest.fixture(scope="module")
def uninterrupted(scenario):
    return mcsim.run(scenario)


def _stop_at(monkeypatch, stop_block: int | None) -> list[int]:
    """Make ``simulate_block`` raise KeyboardInterrupt on ``stop_block``; returns the blocks
    that were asked for."""
    real = engine.simulate_block
    calls: list[int] = []

    def simulate_block(plan, block):
        calls.append(block)
        if block == stop_block:
            raise KeyboardInterrupt
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", simulate_block)
    return calls


def _assert_same(a: mcsim.SimulationResult, b: mcsim.SimulationResult) -> None:
    np.testing.assert_array_equal(a.metrics_array, b.metrics_array)
    np.testing.assert_array_equal(a.hist, b.hist)
    np.testing.assert_array_equal(a.wealth_array, b.wealth_array)


def _interrupted(scenario, ckpt, monkeypatch, stop_block=2, **kw):
    calls = _stop_at(monkeypatch, stop_block)
    with pytest.raises(KeyboardInterrupt):
        mcsim.run(scenario, checkpoint_dir=ckpt, **kw)
    monkeypatch.undo()
    assert calls == list(range(stop_block + 1))
    (run_dir,) = ckpt.glob("run-*")
    return run_dir


def test_resume_after_interruption_gives_the_same_numbers(
    scenario, uninterrupted, tmp_path, monkeypatch
):
    ckpt = tmp_path / "ckpt"
    run_dir = _interrupted(scenario, ckpt, monkeypatch, stop_block=2)
    # The two finished blocks are on disk, nothing else.
    assert sorted(p.name for p in run_dir.iterdir()) == ["block_000000.npz", "block_000001.npz"]
    calls = _stop_at(monkeypatch, None)
    resumed = mcsim.run(scenario, checkpoint_dir=ckpt)
    assert calls == [2, 3]  # only the missing blocks are simulated again
    assert resumed.timings["blocks_resumed"] == 2
    _assert_same(resumed, uninterrupted)
    pd.testing.assert_frame_equal(resumed.summary, uninterrupted.summary, check_exact=True)
    # The blocks stay until the results are saved, then go.
    assert len(list(run_dir.glob("block_*.npz"))) == N_BLOCKS
    resumed.save(tmp_path / "out", report=False)
    assert not ckpt.exists()


def test_checkpoint_blocks_stay_until_the_result_is_saved(scenario, uninterrupted, tmp_path):
    ckpt = tmp_path / "ckpt"
    res = mcsim.run(scenario, checkpoint_dir=ckpt)
    assert res.timings["blocks_resumed"] == 0
    _assert_same(res, uninterrupted)
    (run_dir,) = ckpt.glob("run-*")
    assert len(list(run_dir.glob("block_*.npz"))) == N_BLOCKS
    # A second run finds every block and simulates nothing.
    again = mcsim.run(scenario, checkpoint_dir=ckpt)
    assert again.timings["blocks_resumed"] == N_BLOCKS
    _assert_same(again, uninterrupted)
    again.remove_checkpoint()
    assert not ckpt.exists()
    # A save removes the checkpoint only once every file is in place.
    res.save(tmp_path / "out", report=False)
    assert (tmp_path / "out" / "manifest.json").exists() and not ckpt.exists()


def test_a_run_into_a_folder_leaves_no_checkpoint(scenario, uninterrupted, tmp_path):
    out = tmp_path / "out"
    res = mcsim.run(scenario, out=out, report=False)
    _assert_same(res, uninterrupted)
    assert sorted(p.name for p in res.files.values()) == sorted(p.name for p in out.iterdir())
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 1},  # another seed
        {"scenario": {"costs": {"proportional_bps": 20}}},  # another scenario
        {"scenario": {"simulation": {"n_paths": 48}}},  # other blocks
    ],
    ids=["seed", "costs", "n_paths"],
)
def test_a_checkpoint_of_another_run_is_not_used(
    scenario, table, small_table, change, tmp_path, monkeypatch
):
    ckpt = tmp_path / "ckpt"
    old_dir = _interrupted(scenario, ckpt, monkeypatch, stop_block=3)
    other = scenario
    if "scenario" in change:
        sections = {k: {**table[k], **v} for k, v in change["scenario"].items()}
        other = mcsim.Scenario.from_dict({**table, **sections})
    seed = change.get("seed")
    res = mcsim.run(other, checkpoint_dir=ckpt, seed=seed)
    assert res.timings["blocks_resumed"] == 0
    _assert_same(res, mcsim.run(other, seed=seed))
    # The other run's blocks are left alone (it may still be resumed).
    assert len(list(old_dir.glob("block_*.npz"))) == 3


def test_a_damaged_block_file_is_simulated_again(scenario, uninterrupted, tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    run_dir = _interrupted(scenario, ckpt, monkeypatch, stop_block=3)
    (run_dir / "block_000001.npz").write_bytes(b"not a numpy file")
    calls = _stop_at(monkeypatch, None)
    with pytest.warns(CheckpointWarning, match="checkpoint block 1 is damaged"):
        res = mcsim.run(scenario, checkpoint_dir=ckpt)
    assert calls == [1, 3]
    assert res.timings["blocks_resumed"] == 2
    _assert_same(res, uninterrupted)


def test_resume_with_more_workers(scenario, uninterrupted, tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    _interrupted(scenario, ckpt, monkeypatch, stop_block=1)
    res = mcsim.run(scenario, checkpoint_dir=ckpt, n_jobs=2)
    assert res.timings["blocks_resumed"] == 1
    _assert_same(res, uninterrupted)


# -- through the command line -------------------------------------------------------------
def _cli_run(scenario_file, out) -> list[str]:
    return ["run", str(scenario_file), "--out", str(out), "--no-progress", "--no-report"]


def test_cli_run_interrupted_then_rerun_resumes(table, write_toml, tmp_path, monkeypatch, capsys):
    path = write_toml(table, tmp_path / "small.toml")
    out = tmp_path / "out"
    _stop_at(monkeypatch, 2)
    assert mcsim.cli.main(_cli_run(path, out)) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "rerun resumes" in err
    monkeypatch.undo()
    (run_dir,) = (out / ".mcsim-checkpoint").glob("run-*")
    assert sorted(p.name for p in run_dir.glob("*.npz")) == [
        "block_000000.npz",
        "block_000001.npz",
    ]
    assert not (out / "paths.parquet").exists()  # no results from an unfinished run

    assert mcsim.cli.main(_cli_run(path, out)) == 0
    assert "2 block(s) resumed" in capsys.readouterr().out
    assert not (out / ".mcsim-checkpoint").exists()

    fresh = tmp_path / "fresh"
    assert mcsim.cli.main(_cli_run(path, fresh)) == 0
    assert "resumed" not in capsys.readouterr().out
    for name in ("paths.parquet", "sample_paths.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / name), pd.read_parquet(fresh / name), check_exact=True
        )
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "summary.csv"), pd.read_csv(fresh / "summary.csv"), check_exact=True
    )
    assert len(pd.read_parquet(out / "paths.parquet")) == N_BLOCKS * 16 * len(table["policies"])
