"""Sweep grids (mcsim.sweeps): parsing, expansion, validation before simulating, memory."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from mcsim.kernels import layout

from mcsim.accumulators import Accumulator, accumulator_bytes
from mcsim.config import Scenario
from mcsim.engine import estimate_memory, run
from mcsim.errors import ConfigError
from mcsim.plan import prepare
from mcsim.policies import Threshold, policy_from_config
from mcsim.sweeps import (
    MAX_GRID_POINTS,
    SweepConfig,
    expand,
    grid_size,
    parse_grid_option,
    point_name,
    sweep_memory_bytes,
)

ROOT = Path(__file__).resolve().parents[1]
BANDS = {"name": "bands", "kind": "threshold", "band": 0.05, "relative_band": 0.25}


def _sweep(grid, **kw) -> SweepConfig:
    return SweepConfig.from_config({"policy": "bands", "grid": grid, **kw}, 0)


def test_expand_gives_the_cartesian_product_with_readable_names():
    sweep = _sweep(
        {"band": [0.01, 0.02], "check_every": [1, 3, 6, 12], "trade_to": ["target", "edge"]}
    )
    assert grid_size(sweep) == 16
    points = expand(sweep, BANDS)
    assert len(points) == 16
    names = [n for n, _ in points]
    assert names[0] == "bands[band=0.01,check_every=1,trade_to=target]"
    assert names[1] == "bands[band=0.01,check_every=1,trade_to=edge]"
    assert names[-1] == "bands[band=0.02,check_every=12,trade_to=edge]"
    assert len(set(names)) == 16
    name, table = points[5]
    assert table == {**BANDS, "name": name, "band": 0.01, "check_every": 6, "trade_to": "edge"}
    policy = policy_from_config(table, 0)
    assert isinstance(policy, Threshold) and policy.check_every == 6
    # The base table is not modified.
    assert BANDS["band"] == 0.05


def test_point_names_are_stable_and_use_the_prefix():
    assert point_name("bands", [("band", 0.03), ("check_every", 3)]) == (
        "bands[band=0.03,check_every=3]"
    )
    assert point_name("b", [("band", 1.0), ("harvest", True)]) == "b[band=1.0,harvest=true]"
    sweep = _sweep({"band": [0.03]}, name="tight")
    assert expand(sweep, BANDS)[0][0] == "tight[band=0.03]"


def test_parse_grid_option_gives_exact_range_values():
    field, values = parse_grid_option("band=0.01:0.10:0.01")
    assert field == "band"
    assert values == (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1)
    assert parse_grid_option("check_every=1:12:1")[1] == tuple(range(1, 13))
    assert parse_grid_option("check_every=1,3,6,12")[1] == (1, 3, 6, 12)
    assert parse_grid_option("trade_to=target,edge")[1] == ("target", "edge")
    assert parse_grid_option("band=0.005,0.01:0.03:0.01")[1] == (0.005, 0.01, 0.02, 0.03)
    assert parse_grid_option("harvest=true,false")[1] == (True, False)
    assert parse_grid_option(" band = 0.05 ")[1] == (0.05,)
    assert parse_grid_option("band=0.1:0.3:0.1")[1] == (0.1, 0.2, 0.3)


def test_grid_values_in_a_scenario_may_be_range_strings():
    sweep = _sweep({"band": "0.01:0.05:0.01", "check_every": 3})
    assert sweep.grid == (("band", (0.01, 0.02, 0.03, 0.04, 0.05)), ("check_every", (3,)))
    assert SweepConfig.from_config(sweep.to_dict(), 0) == sweep


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ("band", r"`--grid` must be FIELD=VALUES"),
        ("=0.01", r"`--grid` needs a policy field name"),
        ("band=", r"`--grid band` has no values"),
        ("band=0.01:0.10:0", r"`--grid band` range '0.01:0.10:0' needs a step > 0"),
        ("band=0.10:0.01:0.01", r"`--grid band` range .* needs start <= stop"),
        ("band=0:1:0.3", r"`--grid band` range '0:1:0.3': the step 0.3 does not reach 1"),
        ("band=0.01:0.1", r"`--grid band` range '0.01:0.1' must be start:stop:step"),
        ("band=0.01,,0.02", r"`--grid band` = '0.01,,0.02' has an empty value"),
        ("band=0:1:0.000001", r"`--grid band` range .* more than 100,000"),
    ],
)
def test_bad_grid_options_are_refused_naming_the_flag(option, match):
    with pytest.raises(ConfigError, match=match) as info:
        parse_grid_option(option)
    assert "\n" not in str(info.value)


def test_an_unknown_grid_field_is_refused_with_a_suggestion():
    with pytest.raises(
        ConfigError,
        match=r"`\[\[sweeps\]\]\[0\]\.grid\.bnad` is not a field of "
        r"policy kind 'threshold'\. Did you mean `band`\?",
    ):
        expand(_sweep({"bnad": [0.01]}), BANDS)


def test_a_value_out_of_range_names_the_grid_field_and_the_point():
    with pytest.raises(ConfigError) as info:
        expand(_sweep({"check_every": [3], "band": [0.02, 1.5]}), BANDS)
    msg = str(info.value)
    assert msg.startswith(
        "`[[sweeps]][0].grid.band` is refused at grid point bands[check_every=3,band=1.5]:"
    )
    assert "band" in msg and "1.5" in msg


def test_a_refused_combination_names_the_field_that_causes_it():
    with pytest.raises(
        ConfigError,
        match=r"`\[\[sweeps\]\]\[0\]\.grid\.fraction` is refused.*"
        r"only applies with `trade_to = \"fraction\"`",
    ):
        expand(_sweep({"trade_to": ["fraction", "target"], "fraction": [0.5]}), BANDS)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"policy": "bands", "grid": {}}, r"`\[\[sweeps\]\]\[0\]\.grid` is empty"),
        (
            {"policy": "bands", "grid": {"band": []}},
            r"`\[\[sweeps\]\]\[0\]\.grid\.band` is an empty list",
        ),
        ({"policy": "bands"}, r"`\[\[sweeps\]\]\[0\]\.grid` is required"),
        ({"grid": {"band": [0.1]}}, r"`\[\[sweeps\]\]\[0\]\.policy` is required"),
        (
            {"policy": "bands", "grid": {"band": [0.1]}, "serach": True},
            r"Unknown key `\[\[sweeps\]\]\[0\]\.serach`.*`search`",
        ),
        ({"policy": "bands", "grid": [0.1]}, r"`\[\[sweeps\]\]\[0\]\.grid` must be a table"),
        (
            {"policy": "bands", "grid": {"band": [0.1, 0.1]}},
            r"`\[\[sweeps\]\]\[0\]\.grid\.band` repeats 0.1",
        ),
        (
            {"policy": "bands", "grid": {"name": ["x"]}},
            r"`\[\[sweeps\]\]\[0\]\.grid\.name` cannot be swept",
        ),
        (
            {"policy": "bands", "grid": {"band": [{"a": 1}]}},
            r"`\[\[sweeps\]\]\[0\]\.grid\.band\[0\]` must be a number",
        ),
        (
            {"policy": "bands", "grid": {"band": [0.1]}, "search": True},
            r"`\[\[sweeps\]\]\[0\]\.search` = true: .*`mcsim optimize-band",
        ),
        (
            {"policy": "bands", "grid": {"band": [0.1]}, "search": "yes"},
            r"`\[\[sweeps\]\]\[0\]\.search` must be true or false",
        ),
        (
            {"policy": "bands", "grid": {"band": "0:1:0.0001", "check_every": "1:20:1"}},
            r"`\[\[sweeps\]\]\[0\]\.grid` has 200,020 points",
        ),
        ({"policy": 3, "grid": {"band": [0.1]}}, r"`\[\[sweeps\]\]\[0\]\.policy` must be a string"),
    ],
)
def test_bad_sweep_tables_are_refused_naming_the_field(table, match):
    with pytest.raises(ConfigError, match=match) as info:
        SweepConfig.from_config(table, 0)
    assert "\n" not in str(info.value)


def test_point_names_may_not_collide_with_other_policies():
    sweep = _sweep({"band": [0.03]})
    with pytest.raises(ConfigError, match=r"grid point bands\[band=0.03\] has the name of another"):
        expand(sweep, BANDS, existing_names={"bands[band=0.03]"})


def test_the_base_table_must_be_the_swept_policy():
    with pytest.raises(
        ConfigError, match=r"`\[\[sweeps\]\]\[0\]\.policy` = 'bands' does not match"
    ):
        expand(_sweep({"band": [0.03]}), {**BANDS, "name": "other"})


def test_a_custom_rule_is_never_imported_while_expanding(monkeypatch):
    import importlib

    imported: list[str] = []
    real = importlib.import_module

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", spy)
    table = {"name": "mine", "kind": "custom", "rebalance_nb": "evil_pkg.rules:trade"}
    sweep = SweepConfig.from_config({"policy": "mine", "grid": {"state_size": [1, 2]}}, 0)
    points = expand(sweep, table)
    assert [n for n, _ in points] == ["mine[state_size=1]", "mine[state_size=2]"]
    assert not any(name.startswith("evil_pkg") for name in imported)


def test_sweep_memory_grows_with_the_grid_not_with_grid_times_paths():
    acc = Accumulator(100, initial_wealth=1.0, horizon_years=1.0)
    assert accumulator_bytes(100, len(acc.metric_names), 1) == acc.nbytes
    small = sweep_memory_bytes(100, 1_000_000, 0)
    n_metrics = len(acc.metric_names)
    assert small == 3 * acc.nbytes + 100 * 1000 * (layout.N_METRICS + 5 * n_metrics) * 8
    # 1,000 points over a million paths: about 1.7 GB, mostly one block's metrics of every
    # point and the update's working set, where per-path tables of every point would need
    # 464 GB.
    big = sweep_memory_bytes(1000, 1_000_000, 2)
    assert big < 2e9
    assert big - sweep_memory_bytes(1000, 1_000_000, 0) == 2 * 2 * 1_000_000 * layout.N_METRICS * 8
    assert sweep_memory_bytes(1000, 1_000_000, 0, n_jobs=2) > sweep_memory_bytes(1000, 1_000_000, 0)
    assert MAX_GRID_POINTS == 100_000


def _bands_sweep(n_paths: int, band: str | list[float]) -> Scenario:
    table = tomllib.loads((ROOT / "configs" / "choose_bands.toml").read_text())
    table["simulation"]["n_paths"] = n_paths
    table["sweeps"] = [
        {
            "policy": "bands",
            "grid": {"band": band, "check_every": [1, 2, 3, 6, 12], "trade_to": ["target", "edge"]},
        }
    ]
    return Scenario.from_dict(table)


_GRID_500 = "0.002:0.10:0.002"  # 50 widths x 5 checks x 2 rules
_GRID_10 = [0.05]  # 1 width: 10 points


def test_the_run_estimate_of_a_500_point_sweep_on_100k_paths_is_under_2_gib():
    plan = prepare(_bands_sweep(100_000, _GRID_500), seed=1)
    assert len(plan.sweep_policies) == 500
    assert estimate_memory(plan) < 2 * 2**30

    # Each path adds the same bytes whatever the grid: only the named policies' and the
    # kept grid points' per-path tables grow with the paths, never grid x paths.
    def per_50k_paths(band):
        big = estimate_memory(prepare(_bands_sweep(100_000, band), seed=1))
        return big - estimate_memory(prepare(_bands_sweep(50_000, band), seed=1))

    assert per_50k_paths(_GRID_500) == per_50k_paths(_GRID_10)


def test_the_guard_refuses_a_sweep_too_large_and_says_how_many_points_fit():
    sc = _bands_sweep(100_000, _GRID_500)
    plan = prepare(sc, seed=1)
    limit = estimate_memory(plan) // 2
    with pytest.raises(ConfigError, match=r"at most ([\d,]+) grid points fit") as info:
        run(sc, seed=1, max_memory=limit)
    fit = int(re.search(r"at most ([\d,]+) grid", str(info.value)).group(1).replace(",", ""))
    assert 0 < fit < 500
    smaller = dataclasses.replace(plan, sweep_policies=plan.sweep_policies[:fit])
    larger = dataclasses.replace(plan, sweep_policies=plan.sweep_policies[: fit + 1])
    assert estimate_memory(smaller) <= 0.9 * limit < estimate_memory(larger)


@pytest.mark.parametrize(
    ("n_points", "n_block", "gammas", "refs", "goal"),
    [
        (200, 1000, (3.0,), (0,), None),
        (200, 1000, (0.0, 1.0, 3.0, 10.0), (0,), None),
        (100, 2000, (3.0,), (0, 5), 1.2),
        (500, 500, (3.0, 1.0), (0,), None),
    ],
)
def test_the_estimate_covers_the_working_set_of_a_block_update(
    n_points, n_block, gammas, refs, goal
):
    rng = np.random.default_rng(0)
    block = rng.random((n_points, n_block, layout.N_METRICS)) + 0.5
    acc = Accumulator(
        n_points,
        initial_wealth=1.0,
        horizon_years=10.0,
        risk_aversions=gammas,
        references=refs,
        goal=goal,
    )
    tracemalloc.start()
    try:
        acc.update(1, block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = sweep_memory_bytes(
        n_points,
        n_block,
        0,
        n_metrics=len(acc.metric_names),
        n_risk_aversions=len(gammas),
        n_references=len(refs),
        block_size=n_block,
    )
    # What the update allocates, against the estimate less what existed before it: the
    # block's metric array and the merged sums.
    assert peak <= estimate - block.nbytes - acc.nbytes
