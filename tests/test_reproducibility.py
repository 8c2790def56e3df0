"""A run is a pure function of (scenario, seed): workers, backends and chunking never matter.

Randomness belongs to blocks of ``block_size`` paths: block ``b`` draws from
``default_rng(SeedSequence(entropy, spawn_key=(b,)))``, path after path. Hence the same seed
gives bit-identical results whatever ``n_jobs``, backend (threads, loky, dask) or chunk size,
a longer run starts with the paths of a shorter one, and changing ``block_size`` changes the
numbers (from the second block on, paths come from other streams).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest
from mcsim.kernels import layout

import mcsim
import mcsim.plan
from mcsim import METRICS
from mcsim.plan import prepare
from mcsim.testing.engine import REF_METRICS, reference_for_plan

N_PATHS = 64  # 4 blocks of 16; the first 24 paths are kept, so kept paths span two blocks


@pytest.fixture(scope="module")
def scenario(small_table):
    table = small_table(
        flows=[{"amount": 20.0, "every": 3}],
        policies=[
            {"name": "buy_and_hold", "kind": "buy_and_hold"},
            {"name": "quarterly", "kind": "calendar", "every": 3},
            {"name": "band_3pp", "kind": "threshold", "band": 0.03},
            {
                "name": "half_way",
                "kind": "threshold",
                "relative_band": 0.1,
                "trade_to": "fraction",
                "fraction": 0.5,
            },
        ],
    )
    return mcsim.Scenario.from_dict(table)


@pytest.fixture(scope="module")
def serial(scenario):
    return mcsim.run(scenario, n_jobs=1)


def assert_same_run(a: mcsim.SimulationResult, b: mcsim.SimulationResult) -> None:
    """Bitwise-equal per-path metrics, wealth sketches and kept paths (NaN == NaN)."""
    np.testing.assert_array_equal(a.metrics_array, b.metrics_array)
    np.testing.assert_array_equal(a.hist, b.hist)
    np.testing.assert_array_equal(a.wealth_array, b.wealth_array)
    pd.testing.assert_frame_equal(a.paths, b.paths, check_exact=True)
    pd.testing.assert_frame_equal(a.fan, b.fan, check_exact=True)
    pd.testing.assert_frame_equal(a.sample_paths, b.sample_paths, check_exact=True)
    assert a.entropy == b.entropy


def test_same_seed_same_numbers(scenario, serial):
    assert_same_run(serial, mcsim.run(scenario, n_jobs=1))


@pytest.mark.parametrize(
    "kw",
    [{"n_jobs": 2}, {"n_jobs": 3, "backend": "threading"}, {"n_jobs": -1}],
    ids=["2_threads", "threading_backend", "all_cores"],
)
def test_threads_do_not_change_the_numbers(scenario, serial, kw):
    res = mcsim.run(scenario, **kw)
    assert res.timings["n_jobs"] == (kw["n_jobs"] if kw["n_jobs"] > 0 else os.cpu_count())
    assert_same_run(serial, res)


def test_loky_processes_do_not_change_the_numbers(scenario, serial):
    assert_same_run(serial, mcsim.run(scenario, n_jobs=2, backend="loky"))


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_cluster_does_not_change_the_numbers(scenario, serial, dask_client):
    from dask.distributed import get_task_stream

    with get_task_stream(client=dask_client) as tasks:
        res = mcsim.run(scenario, n_jobs=2, backend="dask")
    assert_same_run(serial, res)
    # The blocks really ran as tasks on the cluster's two worker processes.
    assert len(tasks.data) >= scenario.simulation.n_blocks
    assert len({t["worker"] for t in tasks.data}) >= 1
    assert len(dask_client.scheduler_info()["workers"]) == 2


def test_chunking_inside_a_block_does_not_change_the_numbers(scenario, serial, monkeypatch):
    # A chunk of one path at a time: the model draws path after path from the block's stream.
    monkeypatch.setattr(mcsim.plan, "_CHUNK_BYTES", 1)
    plan = prepare(scenario)
    assert plan.chunk_size == 1
    assert_same_run(serial, mcsim.run(scenario))


def test_a_longer_run_starts_with_the_paths_of_a_shorter_one(scenario, serial):
    # 20 paths end inside the second block (16 + 4): the partial block is a prefix too.
    short = mcsim.run(scenario, n_paths=20)
    np.testing.assert_array_equal(short.metrics_array, serial.metrics_array[:, :20])
    np.testing.assert_array_equal(short.wealth_array, serial.wealth_array[:, :20])
    longer = mcsim.run(scenario, n_paths=2 * N_PATHS)
    np.testing.assert_array_equal(longer.metrics_array[:, :N_PATHS], serial.metrics_array)
    np.testing.assert_array_equal(longer.wealth_array, serial.wealth_array)


def test_block_size_changes_the_numbers_but_jobs_never_do(scenario, serial):
    # Block 0 holds paths 0..7 either way, drawn first from the same stream: equal. Path 8 is
    # the 9th draw of block 0's stream with blocks of 16, but the 1st draw of block 1's
    # stream with blocks of 8: different numbers from there on.
    smaller = scenario.replace(block_size=8)
    a = mcsim.run(smaller, n_jobs=1)
    np.testing.assert_array_equal(a.metrics_array[:, :8], serial.metrics_array[:, :8])
    wealth = layout.M_TERMINAL_WEALTH
    assert np.all(a.metrics_array[:, 8:, wealth] != serial.metrics_array[:, 8:, wealth])
    assert_same_run(a, mcsim.run(smaller, n_jobs=2))


def test_fresh_entropy_is_recorded_and_replays_the_run(scenario):
    unseeded = scenario.replace(seed=None)
    first = mcsim.run(unseeded)
    assert isinstance(first.entropy, int) and first.entropy > 0
    assert first.manifest["seed"]["entropy"] == str(first.entropy)
    assert first.manifest["seed"]["given"] is None
    assert_same_run(first, mcsim.run(unseeded, seed=first.entropy))
    assert_same_run(first, mcsim.run(unseeded, seed=int(first.manifest["seed"]["entropy"])))
    other = mcsim.run(unseeded)
    assert other.entropy != first.entropy
    assert not np.array_equal(other.metrics_array, first.metrics_array)


def test_seed_argument_overrides_the_scenario_seed(scenario, serial):
    res = mcsim.run(scenario, seed=scenario.simulation.seed + 1)
    assert res.entropy == scenario.simulation.seed + 1
    assert not np.array_equal(res.metrics_array, serial.metrics_array)
    np.testing.assert_array_equal(
        mcsim.run(scenario, seed=np.random.SeedSequence(scenario.simulation.seed)).metrics_array,
        serial.metrics_array,
    )


@pytest.mark.parametrize("path", [0, 5, 20, 37, N_PATHS - 1])
def test_regenerated_path_is_the_path_the_engine_ran(scenario, serial, path):
    plan = serial.plan
    returns = mcsim.regenerate_path(plan, path)
    assert returns.shape == (plan.n_steps, len(plan.series_names))
    assert list(returns.columns) == plan.series_names
    # The same returns as the path's row of its whole block ...
    block, offset = divmod(path, scenario.simulation.block_size)
    start, stop = plan.block_range(block)
    whole = np.empty((stop - start, plan.n_steps, len(plan.series_names)))
    plan.model.simulate_into(plan.block_rng(block), whole, scenario.simulation.steps_per_year)
    np.testing.assert_array_equal(returns.to_numpy(), whole[offset])
    # ... and the returns the engine's policies ran on: the NumPy twin of the step loop on
    # them gives the path's metrics (and its kept wealth path).
    refs = reference_for_plan(plan, returns.to_numpy()[None])
    for k, pol in enumerate(plan.policies):
        for name in REF_METRICS:
            got = serial.metrics_array[k, path, METRICS[name].column]
            rtol = 1e-10 if name == "volatility" else 1e-12
            np.testing.assert_allclose(got, refs[k][name][0], rtol=rtol, err_msg=pol.name)
        if path < serial.wealth_array.shape[1]:
            np.testing.assert_allclose(serial.wealth_array[k, path], refs[k]["wealth"][0], 1e-12)


def test_regenerate_path_rejects_a_path_outside_the_run(serial):
    with pytest.raises(mcsim.ConfigError, match=r"`path` must be in \[0, 64\)"):
        mcsim.regenerate_path(serial.plan, N_PATHS)


# -- a scenario is a value: runs neither change it nor see each other ---------------------------


def _fitted_scenario(start: str | None = None) -> mcsim.Scenario:
    table = {
        "simulation": {"n_paths": 40, "horizon_years": 2, "block_size": 20, "seed": 3},
        "data": {"source": "shiller", "columns": ["us_stocks_tr", "us_bonds_10y_tr"]},
        "model": {"kind": "gaussian"},
        "portfolio": {"target": {"us_stocks_tr": 0.6, "us_bonds_10y_tr": 0.4}},
        "policies": [{"name": "annual", "kind": "calendar", "every": 12}],
    }
    if start is not None:
        table["data"]["start"] = start
    return mcsim.Scenario.from_dict(table)


def _fitted_attributes(model) -> dict[str, str]:
    """The model's fitted (``_``-suffixed) attributes that hold something."""
    return {
        k: repr(v)
        for k, v in vars(model).items()
        if k.endswith("_") and not k.startswith("_") and v is not None and not _empty(v)
    }


def _empty(v) -> bool:
    return isinstance(v, (list, tuple, dict)) and len(v) == 0


def test_a_run_fits_a_copy_and_leaves_the_scenarios_model_unfitted():
    scenario = _fitted_scenario()
    before = scenario.to_dict()
    state = {k: repr(v) for k, v in vars(scenario.model).items()}
    result = mcsim.run(scenario)
    assert {k: repr(v) for k, v in vars(scenario.model).items()} == state
    assert _fitted_attributes(result.model)
    assert scenario.model.needs_history
    assert _fitted_attributes(scenario.model) == {}
    assert scenario.to_dict() == before
    assert result.model is not scenario.model and not result.model.needs_history
    assert result.scenario.model is result.model


def test_two_data_windows_of_one_scenario_do_not_interfere():
    whole = _fitted_scenario()
    recent = dataclasses.replace(whole, data=dataclasses.replace(whole.data, start="1990-01"))
    first = mcsim.run(whole)
    after = mcsim.run(recent)
    alone = mcsim.run(_fitted_scenario(start="1990-01"))
    np.testing.assert_array_equal(after.metrics_array, alone.metrics_array)
    assert after.model.params() == alone.model.params()
    assert after.model.params() != first.model.params()
    # Running the other window did not refit (or reuse) the first one's model either.
    np.testing.assert_array_equal(mcsim.run(whole).metrics_array, first.metrics_array)


def test_a_scenario_cannot_be_changed_after_construction(scenario):
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        scenario.target["a"] = 1.0  # type: ignore[index]
    assert isinstance(scenario.policies, tuple) and isinstance(scenario.flows, tuple)


def test_a_scenario_keeps_its_own_copy_of_the_parts_given(scenario):
    model = mcsim.GaussianModel(mu=[0.05], vol=[0.15], corr=[[1.0]], names=["a"])
    target = {"a": 1.0}
    built = mcsim.Scenario(model=model, target=target, policies=list(scenario.policies[:1]))
    target["a"] = 0.5
    model.names_ = ["changed"]
    assert built.target == {"a": 1.0}
    assert built.model.series_names == ["a"]


def test_replace_gives_a_scenario_that_shares_no_mutable_state(scenario):
    other = scenario.replace(n_paths=8)
    assert other.model is not scenario.model
    assert other.simulation.n_paths == 8 and scenario.simulation.n_paths != 8
    other.model.names_ = ["x", "y"]
    assert scenario.model.series_names != ["x", "y"]
