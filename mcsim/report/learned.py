"""Report section of learned policies: what each model looks at (feature importances) and
what it decides (the chosen action against drift and trailing volatility)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from .format import FONT, esc
from .section import Section

if TYPE_CHECKING:
    from .view import ReportView

__all__ = [
    "decision_map_figure",
    "importance_figure",
    "learned_figure_builders",
    "learned_models",
    "learned_sections",
]

_ACTIONS = ("hold", "trade to band edge", "trade to target")


def learned_models(view: ReportView) -> dict[str, Any]:
    """The fitted models of the run's learned policies, by policy name (those holding one)."""
    out = {}
    for p in view.scenario.policies:
        model = getattr(p, "fitted", None)
        if p.kind == "learned" and model is not None:
            out[p.name] = model
    return out


def importance_figure(name: str, importances: Mapping[str, float]) -> go.Figure:
    """Bars of the feature importances of one model (fractions summing to one)."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            marker_color="#4c78a8",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="importance (share of the total)")
    fig.update_layout(
        title={"text": f"{name}: feature importances", "x": 0.01},
        template="plotly_white",
        height=360,
        font={"family": FONT, "size": 12, "color": "#222"},
    )
    return fig


def decision_map_figure(name: str, decision_map: Mapping[str, Any]) -> go.Figure:
    """The chosen action on a grid of drift (largest weight gap, fraction) and trailing
    volatility (annual), as the model's training recorded it."""
    gaps = [100.0 * g for g in decision_map["max_gap"]]
    vols = [100.0 * v for v in decision_map["trailing_vol"]]
    action = decision_map["action"]
    fig = go.Figure(
        go.Heatmap(
            x=vols,
            y=gaps,
            z=action,
            zmin=0,
            zmax=2,
            colorscale=[
                [0.0, "#e0e0e0"],
                [0.33, "#e0e0e0"],
                [0.33, "#f2a65a"],
                [0.67, "#f2a65a"],
                [0.67, "#2a6f97"],
                [1.0, "#2a6f97"],
            ],
            colorbar={"tickvals": [0, 1, 2], "ticktext": list(_ACTIONS)},
            text=[[_ACTIONS[int(a)] for a in row] for row in action],
            hovertemplate="drift %{y:.1f} pts, vol %{x:.1f} %<br>%{text}<extra></extra>",
        )
    )
    fig.update_xaxes(title="trailing volatility of the target mix (% per year)")
    fig.update_yaxes(title="largest weight gap from target (points)")
    fig.update_layout(
        title={"text": f"{name}: decision map", "x": 0.01},
        template="plotly_white",
        height=420,
        font={"family": FONT, "size": 12, "color": "#222"},
    )
    return fig


def _keys(name: str) -> tuple[str, str]:
    return f"learned_importance_{name}", f"learned_map_{name}"


def learned_figure_builders(view: ReportView) -> dict[str, Callable[[], go.Figure]]:
    """The figures of the learned policies, by key, each a function that draws it."""
    out: dict[str, Callable[[], go.Figure]] = {}
    for name, model in learned_models(view).items():
        imp_key, map_key = _keys(name)
        info = model.info
        if "feature_importances" in info:
            out[imp_key] = lambda n=name, i=info: importance_figure(n, i["feature_importances"])
        if "decision_map" in info:
            out[map_key] = lambda n=name, i=info: decision_map_figure(n, i["decision_map"])
    return out


def learned_sections(view: ReportView) -> list[Section]:
    """One section per learned policy holding a model (none otherwise)."""
    builders = learned_figure_builders(view)
    secs = []
    for name, model in learned_models(view).items():
        info = model.info
        facts = (
            f"{esc(model.regressor)} regressor, trained on {info.get('train_paths', '?'):,} "
            f"paths (train seed {info.get('train_seed', '?')}, risk aversion "
            f"{info.get('risk_aversion', '?')}), a decision every {model.check_every} steps"
            if isinstance(info.get("train_paths"), int)
            else f"{esc(model.regressor)} regressor"
        )
        intro = (
            f"<p>{esc(name)}: {facts}. At each check the model predicts the advantage of "
            "trading to the band edge and to target over holding, from features of the path, "
            "and the policy takes the best action (docs/learned.md). The map shows the "
            "action chosen for each drift and trailing volatility, the other features at "
            "their training medians and half the horizon left.</p>"
        )
        figures = [k for k in _keys(name) if k in builders]
        secs.append(Section(f"learned_{name}", f"Learned policy: {name}", intro, figures))
    return secs
