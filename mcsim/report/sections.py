"""Which sections a run's report gets, in which order, and their text; the header's facts."""

from __future__ import annotations

from typing import Any

from .choose import choose_sections
from .figures import N_SAMPLE_PATHS, n_bins
from .format import esc, format_value
from .learned import learned_sections
from .section import Section
from .stress import stress_sections
from .tables import (
    comparison_table,
    costs_table,
    event_table,
    flows_table,
    key_value_table,
    model_check_table,
    policies_html,
    summary_table,
    taxes_table,
)
from .view import ReportView

__all__ = ["Section", "facts", "report_sections"]


def report_sections(view: ReportView) -> list[Section]:
    """The sections that apply to a run, in page order."""
    sim = view.sim
    summary = view.summary
    policies, baseline = view.policies, view.baseline
    secs = [
        Section(
            "summary",
            "Summary",
            "<p>Per policy, over all simulated paths. Terminal wealth is nominal, before "
            "tax on unrealised gains; CVaR 5% is the mean of the worst 5% of paths. CAGR, "
            "volatility, drawdown, turnover and costs are means over paths; P(loss) is the "
            "share of paths ending below initial wealth plus net flows.</p>",
            body=[
                summary_table(
                    summary, policies, baseline, view.metric_info, view.sim.currency
                ).to_html()
            ],
        ),
        Section(
            "fan",
            "Wealth over time",
            "<p>Quantiles of wealth at each year, from mergeable histograms of log wealth "
            "(bins of 0.5 % of wealth). Dark line: median; darker band: 25th–75th "
            "percentile; light band: 5th–95th; thin lines: the first "
            f"{min(N_SAMPLE_PATHS, sim.keep_paths)} sample paths. All panels share "
            "the log-scale wealth axis. Below: under water, how far wealth is below its "
            "running peak at each year (median and 5–95 % band of the kept sample paths; "
            "cash flows move it too)."
            + (
                " Second chart: real wealth, wealth over the simulated price index in "
                f"{view.sim.currency} of the start, from its own histograms (no sample paths)."
                if view.real_fan is not None
                else ""
            )
            + "</p>",
            ["fan", "real_fan", "underwater"]
            if view.real_fan is not None
            else ["fan", "underwater"],
        ),
        Section(
            "distributions",
            "Distributions",
            f"<p>Left: share of paths in each of {n_bins(view.n_paths)} bins (terminal "
            "wealth binned on a log scale). Right: box from the 25th to the 75th "
            "percentile, line at the median, whiskers at the 5th and 95th percentiles, "
            "dashed line at the mean.</p>",
            ["terminal_wealth", "max_drawdown"],
        ),
    ]
    if len(policies) > 1:
        table = comparison_table(
            view.comparison, view.compared_metrics, view.metric_info, policies, baseline
        )
        secs.append(
            Section(
                "comparison",
                f"Paired comparison against {baseline}",
                "<p>Every policy ran on the same simulated paths, so each path gives one "
                "difference (policy − baseline). Shown: the mean difference, its 95 % "
                "confidence interval (mean ± 1.96 standard errors of the paired "
                "differences) and the share of paths on which the policy's value is higher "
                "(P(higher)) or lower (P(lower)) than the baseline's. The verdict is "
                "<i>better</i> or <i>worse</i> when the interval excludes zero.</p>",
                ["comparison"],
                [table.to_html()],
            )
        )
    if view.has_costs:
        secs.append(
            Section(
                "costs",
                "Trading costs",
                "<p>Costs paid over the whole horizon, in currency, by kind.</p>",
                ["costs"],
                [costs_table(summary, view.cost_parts, policies, baseline).to_html()],
            )
        )
    if view.has_taxes:
        secs.append(
            Section(
                "taxes",
                "Taxes",
                "<p>Taxes paid over the horizon, wealth after tax on unrealised gains at "
                "the horizon, net realised gains and losses harvested.</p>",
                ["taxes"],
                [taxes_table(summary, policies, baseline).to_html()],
            )
        )
    if view.has_flows:
        intro = (
            "<p>P(success) is the share of paths that never ran out of money "
            "(1 − mean of <code>ruined</code>). Real wealth is in today's money."
        )
        if view.has_goal:
            intro += (
                f" Goal: terminal wealth of {format_value(sim.goal, 'currency')}; "
                "P(goal met) counts paths that reach it without running out; the shortfall "
                "is how far below the goal a path ends (0 when met)."
            )
        table = flows_table(summary, policies, baseline, has_goal=view.has_goal)
        secs.append(
            Section(
                "flows",
                "Cash flows and goal",
                intro + "</p>",
                ["success", "flows"],
                [table.to_html()],
            )
        )
    for name, event in view.events.items():
        table = event_table(view.metric(name), summary, policies, baseline, name, event)
        secs.append(
            Section(event.anchor, event.title, f"<p>{esc(event.intro)}</p>", body=[table.to_html()])
        )
    secs.extend(choose_sections(view))
    secs.extend(learned_sections(view))
    secs.extend(stress_sections(view))
    check = view.model_check
    if isinstance(check, tuple):
        table = check[0]
        n_in = int(table["inside_90"].sum())
        secs.append(
            Section(
                "model_check",
                "Model vs history",
                "<p>Statistics of the history against the same statistics of "
                f"{int(table.attrs['n_paths']):,} simulated paths "
                "of the fitted model, each as long as the history. The history is inside "
                f"the simulated 5–95 % band for <b>{n_in} of {len(table)}</b> statistics; "
                "statistics outside the band are what the model does not reproduce.</p>",
                ["model_check"],
                [
                    "<details><summary>Table of the statistics</summary>"
                    + model_check_table(table).to_html("data compact")
                    + "</details>"
                ],
            )
        )
    elif isinstance(check, str):
        secs.append(Section("model_check", "Model vs history", f"<p>{esc(check)}</p>"))
    secs.append(_details_section(view))
    return secs


def _details_section(view: ReportView) -> Section:
    sc = view.scenario
    details = [
        "<h3>Policies</h3>",
        policies_html(sc.policies, view.baseline),
        "<h3>Costs</h3>",
        key_value_table(sc.costs.to_dict()),
    ]
    if sc.flows:
        details += [
            "<h3>Cash flows</h3>",
            key_value_table({f"flow {i + 1}": f.to_dict() for i, f in enumerate(sc.flows)}),
        ]
    man = view.manifest
    run_info = {
        "seed": man["seed"],
        "sketch": _sketch_info(man),
        "timings": man["timings"],
        "versions": man["versions"],
    }
    details += ["<h3>Run</h3>", key_value_table(run_info)]
    return Section(
        "details",
        "Run details",
        "<p>Everything needed to replay the run is in <code>manifest.json</code> next "
        "to this report.</p>",
        body=details,
    )


def _sketch_info(manifest: dict[str, Any]) -> dict[str, Any]:
    sk = dict(manifest.get("sketch", {}))
    sk.pop("grid_steps", None)
    return sk


def facts(view: ReportView) -> list[tuple[str, str]]:
    """The header's (label, value) facts of a run: horizon, paths, assets, model, seed, ..."""
    man = view.manifest
    sim = view.sim
    sc = view.scenario
    target = ", ".join(f"{k} {100 * float(v):.1f}%" for k, v in sc.target.items())
    out = [
        ("Horizon", f"{sim.horizon_years:g} years ({sim.n_steps:,} steps)"),
        ("Steps per year", f"{sim.steps_per_year}"),
        ("Paths", f"{view.n_paths:,}"),
        ("Initial wealth", format_value(sim.initial_wealth, "currency")),
        ("Assets", ", ".join(man["assets"])),
        ("Target weights", target),
        ("Model", str(man["model"].get("kind", sc.model.kind))),
        ("Baseline", view.baseline),
        ("Seed entropy", str(man["seed"]["entropy"])),
        ("Block size", f"{sim.block_size:,} paths ({sim.n_blocks:,} blocks)"),
    ]
    if man.get("inflation_series"):
        out.append(("Inflation series", str(man["inflation_series"])))
    hist = man.get("history")
    if hist:
        out.append(
            (
                "History",
                f"{hist.get('source')}: {hist.get('first')} to {hist.get('last')} "
                f"({hist.get('rows'):,} rows, {hist.get('periods_per_year')} per year)",
            )
        )
    if sim.goal is not None:
        out.append(("Goal", format_value(sim.goal, "currency")))
    if sc.flows:
        out.append(("Cash flows", f"{len(sc.flows)} schedule(s)"))
    out.append(("Taxes", "enabled" if view.has_taxes else "none (tax-free account)"))
    return out
