"""Report sections of stress testing: each stress against the unstressed run, the failure
anatomy, and the note on replayed history."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from ..failure import feature_infos
from .format import FONT, esc, format_value
from .section import Section
from .tables import Table

if TYPE_CHECKING:
    from .view import ReportView

__all__ = ["stress_figures", "stress_sections"]

#: Why replaying real episodes matters, said once above the stress tables.
TAILS_NOTE = (
    "The fitted models, the default lognormal above all, understate history's tails: the "
    "model check of the bundled default puts the historical maximum drawdown of US stocks "
    "(0.82) far above its simulated 5–95 % band (about 0.31–0.55). Replaying the real "
    "episodes, and backtesting on history itself (<code>mcsim backtest</code>), is the "
    "honest answer to that."
)


def _fan_key(stress: str) -> str:
    return f"stress_fan_{stress}"


def stress_figures(view: ReportView) -> dict[str, go.Figure]:
    """Per stress: the baseline's wealth fan stressed and unstressed."""
    figs = {}
    for name, fan in view.stress_fans.items():
        figs[_fan_key(name)] = _stress_fan_figure(
            view.fan.xs(view.baseline), fan.xs(view.baseline), name, view.baseline
        )
    return figs


def _stress_fan_figure(plain, stressed, stress: str, baseline: str) -> go.Figure:
    fig = go.Figure()
    for label, fan, colour in (("unstressed", plain, "#4c72b0"), (stress, stressed, "#c44e52")):
        years = fan.index.to_numpy()
        fig.add_trace(
            go.Scatter(
                x=[*years, *years[::-1]],
                y=[*fan["p05"], *fan["p95"][::-1]],
                fill="toself",
                line={"width": 0},
                fillcolor=colour,
                opacity=0.15,
                name=f"{label}: 5–95 %",
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(x=years, y=fan["p50"], line={"color": colour}, name=f"{label}: median")
        )
    fig.update_yaxes(type="log", title="wealth")
    fig.update_xaxes(title="year")
    fig.update_layout(
        title={"text": f"{baseline}: wealth under {stress} and unstressed", "x": 0.01},
        template="plotly_white",
        height=420,
        font={"family": FONT, "size": 12, "color": "#222"},
    )
    return fig


def _stress_table(view: ReportView, stress: str) -> Table:
    st = view.stress.xs(stress, level="stress")
    rows = []
    for pol in view.policies:
        tw = st.loc[(pol, "mean_terminal_wealth")]
        dd = st.loc[(pol, "median_max_drawdown")]
        dd95 = st.loc[(pol, "p95_max_drawdown")]
        rows.append(
            [
                pol,
                format_value(tw["stressed"], "currency"),
                format_value(tw["difference"], "currency", signed=True),
                f"[{format_value(tw['ci95_low'], 'currency', signed=True)}, "
                f"{format_value(tw['ci95_high'], 'currency', signed=True)}]",
                format_value(
                    st.loc[(pol, "median_terminal_wealth"), "difference"], "currency", signed=True
                ),
                format_value(dd["stressed"], "fraction"),
                format_value(dd["difference"], "fraction", signed=True),
                format_value(dd95["difference"], "fraction", signed=True),
                format_value(st.loc[(pol, "p_ruin"), "stressed"], "probability"),
            ]
        )
    header = [
        [
            ("policy", 1),
            ("mean wealth", 1),
            ("wealth change", 1),
            ("95 % interval", 1),
            ("median change", 1),
            ("median maxDD", 1),
            ("maxDD change", 1),
            ("p95 maxDD change", 1),
            ("P(ruin)", 1),
        ]
    ]
    return Table(header, rows)


def _failure_tables(view: ReportView) -> list[str]:
    anatomy = view.failure
    conditions = view.scenario.failure
    summary = Table(
        [[("policy", 1), ("paths", 1), ("failing", 1), ("share failing", 1), ("± s.e.", 1)]],
        [
            [
                pol,
                f"{int(s['n_paths']):,}",
                f"{int(s['n_failing']):,}",
                format_value(s["share_failing"], "probability"),
                format_value(s["share_failing_se"], "probability"),
            ]
            for pol, s in anatomy.summary.iterrows()
        ],
    )
    units = {f.name: f.unit for f in feature_infos(view.manifest["assets"])}
    rows = []
    for (pol, feature), f in anatomy.features.iterrows():
        unit = units.get(feature, "fraction")
        rows.append(
            [
                pol,
                feature,
                format_value(f["failing_mean"], unit),
                format_value(f["failing_p10"], unit),
                format_value(f["failing_p90"], unit),
                format_value(f["surviving_mean"], unit),
                format_value(f["difference"], unit, signed=True),
                format_value(f["difference_se"], unit),
            ]
        )
    features = Table(
        [
            [
                ("policy", 1),
                ("feature", 1),
                ("failing mean", 1),
                ("failing p10", 1),
                ("failing p90", 1),
                ("surviving mean", 1),
                ("difference", 1),
                ("± s.e.", 1),
            ]
        ],
        rows,
        first_col_left=2,
    )
    worst = anatomy.worst.reset_index()
    worst_lines = [
        f"<p><b>{esc(pol)}</b>: worst failing paths "
        + ", ".join(str(int(p)) for p in group["path"])
        + "</p>"
        for pol, group in worst.groupby("policy", sort=False)
    ]
    intro = (
        f"<p>A path fails when {esc(conditions.mode)} of: "
        f"{esc(', '.join(conditions.conditions()))}. Features describe the market along "
        "each (unstressed) path, measured on the target constant mix; "
        "<code>mcsim.regenerate_path(result.plan, i)</code> shows path <i>i</i>.</p>"
    )
    return [intro, summary.to_html(), features.to_html("data compact"), *worst_lines]


def stress_sections(view: ReportView) -> list[Section]:
    """The stress-testing sections that apply to a run (none without stresses or failure)."""
    secs = []
    if view.window_starts is not None:
        ws = view.window_starts
        secs.append(
            Section(
                "history",
                "History itself",
                f"<p>Every path is a rolling window of the data: {len(ws):,} windows starting "
                f"{ws[0]:%Y-%m} to {ws[-1]:%Y-%m}, each policy run on each with the same "
                "costs, flows and taxes. <code>[simulation].n_paths</code> is ignored.</p>",
            )
        )
    if view.stress is not None:
        body = []
        figures = []
        for name in view.stress_fans:
            figures.append(_fan_key(name))
            body.append(f"<h3>{esc(name)}</h3>" + _stress_table(view, name).to_html())
        secs.append(
            Section(
                "stress",
                "Stress tests",
                f"<p>{TAILS_NOTE}</p><p>Each stress rewrites the same simulated paths, so "
                "every change is paired: the same policy on the same path, stressed minus "
                "unstressed. The interval is the 95 % interval of the mean change.</p>",
                figures,
                body,
            )
        )
    if view.failure is not None:
        secs.append(Section("failure", "Failure anatomy", "", body=_failure_tables(view)))
    return secs
