"""The report of choosing a policy: the ranking section, objective heatmaps and the frontier."""

from __future__ import annotations

import numpy as np
import pytest

import mcsim
from mcsim.accumulators import DRAWDOWN_WIDTH
from mcsim.report import build_figures
from mcsim.report.choose import grid_points
from mcsim.report.sections import report_sections
from mcsim.report.view import ReportView

BANDS = [0.02, 0.05, 0.1]
CHECKS = [1, 3]


def _table(*, sweeps=None, decision=None):
    t = {
        "simulation": {
            "n_paths": 400,
            "horizon_years": 3,
            "steps_per_year": 12,
            "seed": 3,
            "block_size": 100,
            "initial_wealth": 1_000_000.0,
        },
        "model": {
            "kind": "gaussian",
            "assets": ["stocks", "bonds"],
            "mu": [0.07, 0.03],
            "vol": [0.16, 0.06],
            "corr": [[1.0, 0.1], [0.1, 1.0]],
        },
        "portfolio": {"target": {"stocks": 0.6, "bonds": 0.4}},
        "costs": {"proportional_bps": 10},
        "policies": [
            {"name": "annual", "kind": "calendar", "frequency": "annual"},
            {"name": "bands", "kind": "threshold", "band": 0.05},
        ],
    }
    if sweeps is not None:
        t["sweeps"] = sweeps
    if decision is not None:
        t["decision"] = decision
    return t


SWEEP = [
    {"policy": "bands", "grid": {"band": BANDS, "check_every": CHECKS}},
    {"policy": "bands", "name": "edge", "grid": {"band": BANDS}},
]


@pytest.fixture(scope="module")
def swept():
    sc = mcsim.Scenario.from_dict(_table(sweeps=SWEEP, decision={"risk_aversion": [3, 1]}))
    return mcsim.run(sc)


@pytest.fixture(scope="module")
def figures(swept):
    return build_figures(swept)


def _objective(result):
    r = result.ranking
    first = r.loc[r["risk_aversion"] == 3].set_index("policy")
    return first["objective_value"]


def test_grid_points_give_every_point_its_swept_values(swept):
    points = grid_points(swept.sweep.sweeps, swept.sweep.point_names)
    assert list(points.index) == list(swept.sweep.point_names)
    assert len(points) == len(BANDS) * len(CHECKS) + len(BANDS)
    row = points.loc["bands[band=0.05,check_every=3]"]
    assert (row["sweep"], row["band"], row["check_every"]) == (0, 0.05, 3)
    assert points.loc["edge[band=0.1]", "sweep"] == 1
    with pytest.raises(ValueError, match="point names"):
        grid_points(swept.sweep.sweeps, swept.sweep.point_names[:-1])


def test_a_sweep_of_two_fields_gets_a_heatmap_and_the_run_a_frontier(figures):
    assert "choose_heatmap_0" in figures
    # The second sweep varies one field only: no map of it.
    assert "choose_heatmap_1" not in figures
    assert "choose_frontier" in figures


def test_heatmap_cells_are_the_objective_of_their_grid_point(swept, figures):
    fig = figures["choose_heatmap_0"]
    heat = fig.data[0]
    assert heat.type == "heatmap"
    assert list(heat.x) == [f"{b:g}" for b in BANDS]
    assert list(heat.y) == [str(c) for c in CHECKS]
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (len(CHECKS), len(BANDS))
    objective = _objective(swept)
    for i, c in enumerate(CHECKS):
        for j, b in enumerate(BANDS):
            assert z[i, j] == objective[f"bands[band={b:g},check_every={c}]"]
    assert fig.layout.xaxis.title.text == "band"
    assert fig.layout.yaxis.title.text == "check_every"


def test_the_winner_is_starred_where_it_lies_on_the_map(swept, figures):
    winner = swept.winner.name
    fig = figures["choose_heatmap_0"]
    stars = [t for t in fig.data if t.type == "scatter"]
    points = grid_points(swept.sweep.sweeps, swept.sweep.point_names)
    if winner in points.index and points.loc[winner, "sweep"] == 0:
        (star,) = stars
        assert star.marker.symbol == "star"
        assert star.x[0] == f"{points.loc[winner, 'band']:g}"
        assert star.y[0] == str(int(points.loc[winner, "check_every"]))
    else:
        assert stars == []


def test_the_frontier_has_one_point_per_policy_and_marks_winner_and_baseline(swept, figures):
    fig = figures["choose_frontier"]
    first = swept.ranking.loc[swept.ranking["risk_aversion"] == 3]
    cloud = fig.data[0]
    assert len(cloud.x) == len(first) == 2 + len(swept.sweep.point_names)
    np.testing.assert_array_equal(np.asarray(cloud.x), first["mean_costs"].to_numpy())
    np.testing.assert_array_equal(
        np.asarray(cloud.y), first["certainty_equivalent_wealth"].to_numpy()
    )
    marks = {t.name.split(":")[0]: t for t in fig.data[1:]}
    assert set(marks) == {"winner", "baseline"}
    assert marks["winner"].marker.symbol == "star"
    w = first.loc[first["policy"] == swept.winner.name]
    assert marks["winner"].y[0] == w["certainty_equivalent_wealth"].iloc[0]
    assert marks["baseline"].name == f"baseline: {swept.baseline}"


def test_the_drawdown_frontier_puts_each_point_at_its_p95_maximum_drawdown(swept, figures):
    fig = figures["choose_frontier_drawdown"]
    first = swept.ranking.loc[swept.ranking["risk_aversion"] == 3]
    cloud = fig.data[0]
    assert len(cloud.x) == len(first) == 2 + len(swept.sweep.point_names)
    np.testing.assert_array_equal(np.asarray(cloud.x), first["max_drawdown_p95"].to_numpy())
    assert fig.layout.title.text == "Certainty equivalent against p95 maximum drawdown"
    marks = {t.name.split(":")[0]: t for t in fig.data[1:]}
    assert set(marks) == {"winner", "baseline"}
    assert marks["winner"].marker.symbol == "star"
    # Policies with per-path tables (the named ones and the kept grid points): the p95 from
    # the accumulated drawdown histogram is within one bin of the per-path quantile.
    dd = swept.metric("max_drawdown")
    for policy in dd.columns:
        row = first.loc[first["policy"] == policy]
        expected = np.quantile(dd[policy].to_numpy(), 0.95)
        assert abs(row["max_drawdown_p95"].iloc[0] - expected) <= DRAWDOWN_WIDTH, policy


def test_the_ranking_section_shows_the_table_and_the_winner_line(swept):
    view = ReportView.from_result(swept)
    (sec,) = [s for s in report_sections(view) if s.key == "choose"]
    assert sec.figures == ["choose_heatmap_0", "choose_frontier", "choose_frontier_drawdown"]
    assert "judged on the other half" in sec.intro
    table = sec.body[0]
    assert "(winner)" in table and "(baseline)" in table
    assert "fee equivalent, bp/yr" in table
    # Top 10 and the baseline, per risk aversion.
    assert table.count("<tr") - 1 <= 2 * 11


def test_named_policies_with_a_decision_get_the_ranking_but_no_sweep_figures():
    res = mcsim.run(mcsim.Scenario.from_dict(_table(decision={"risk_aversion": 3})))
    figs = build_figures(res)
    assert not [k for k in figs if k.startswith("choose_")]
    keys = [s.key for s in report_sections(ReportView.from_result(res))]
    assert "choose" in keys


def test_a_run_without_a_decision_has_no_choosing_section():
    res = mcsim.run(mcsim.Scenario.from_dict(_table()))
    assert "choose" not in [s.key for s in report_sections(ReportView.from_result(res))]
    assert not [k for k in build_figures(res) if k.startswith("choose_")]
