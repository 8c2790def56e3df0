"""The report page: sections and figures put together in one self-contained HTML file.

The page template (``page.html``) and its style sheet (``report.css``) are package data of
``mcsim.report``; plotly.js is embedded once, with the first figure.
"""

from __future__ import annotations

import datetime as _dt
import string
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from .figures import report_figures
from .format import esc
from .sections import facts, report_sections
from .tables import model_params_html
from .view import ReportView

if TYPE_CHECKING:
    from ..results import SimulationResult

__all__ = ["build_figures", "render_page", "write_report"]


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render_page(view: ReportView) -> str:
    """The whole report of a run as one HTML document."""
    figs = report_figures(view)
    sections = report_sections(view)
    first = True
    parts = []
    for sec in sections:
        parts.append(f'<section id="{sec.key}"><h2>{esc(sec.title)}</h2>{sec.intro}')
        for key in sec.figures:
            fig = figs.get(key)
            if fig is None:
                continue
            parts.append(
                '<div class="figure">'
                + fig.to_html(
                    full_html=False,
                    include_plotlyjs=first,
                    div_id=f"fig-{key}",
                    default_width="100%",
                    default_height=f"{int(fig.layout.height or 450)}px",
                    config={"displaylogo": False, "responsive": True},
                )
                + "</div>"
            )
            first = False
        parts.extend(sec.body)
        parts.append("</section>")
    nav = " · ".join(f'<a href="#{s.key}">{esc(s.title)}</a>' for s in sections)
    header_facts = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts(view))
    sc = view.scenario
    man = view.manifest
    created = man.get("created") or _dt.datetime.now(_dt.UTC).isoformat()
    return string.Template(_asset("page.html")).substitute(
        title=esc(f"mcsim report: {sc.name}"),
        name=esc(sc.name),
        description=esc(sc.description) if sc.description else "",
        subtitle=esc(
            f"mcsim {man.get('mcsim_version', '')} · created {created} · "
            f"{view.n_paths:,} paths × {len(view.policies)} policies"
        ),
        facts=header_facts,
        params=model_params_html(man["model"], view.series_names),
        nav=nav,
        body="\n".join(parts),
        css=_asset("report.css"),
    )


def build_figures(result: SimulationResult) -> dict[str, go.Figure]:
    """The report's figures, keyed by section.

    Always ``"fan"`` (wealth quantiles over time, one panel per policy), ``"terminal_wealth"``
    and ``"max_drawdown"`` (binned distribution and quantile box per policy); ``"comparison"``
    (paired differences against the baseline) when there are two policies or more; and, when
    relevant to the run, ``"costs"``, ``"taxes"``, ``"flows"`` (share of paths ruined by each
    year) and ``"model_check"`` (model vs history, when the model was fitted to history).

    Every trace of a policy is named after the policy and drawn in its colour
    (:func:`mcsim.report.policy_colours`), the same in every figure.
    """
    return report_figures(ReportView.from_result(result))


def write_report(result: SimulationResult, path: str | Path) -> Path:
    """Write the run report as one self-contained HTML file.

    plotly.js is embedded once (about 4.8 MB); the data of all figures is pre-binned, so the
    file size does not grow with the number of paths. No network access is needed to open it.

    Parameters
    ----------
    result : SimulationResult
        A finished run.
    path : str or Path
        File to write (``.html``); its folder must exist.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.write_text(render_page(ReportView.from_result(result)), encoding="utf-8")
    return path
