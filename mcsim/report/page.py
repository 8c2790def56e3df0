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
from plotly.offline import get_plotlyjs

from .figures import report_figures
from .format import esc
from .headline import headline_frame
from .model_risk import model_risk_line
from .sections import facts, report_sections
from .tables import model_params_html
from .view import ReportView

if TYPE_CHECKING:
    from ..results import SimulationResult

__all__ = [
    "PLOTLY_FILE",
    "PLOTLY_MODES",
    "build_figures",
    "check_plotly_mode",
    "render_page",
    "write_report",
]

PLOTLY_MODES = ("inline", "directory")
"""How a report gets plotly.js: embedded in the page, or one file beside it."""
PLOTLY_FILE = "plotly.min.js"
"""The file plotly.js is written to beside the reports in ``"directory"`` mode."""


def check_plotly_mode(mode: object, where: str = "plotly") -> str:
    """``mode`` if it is one of :data:`PLOTLY_MODES`, else a ValueError naming ``where``."""
    if mode not in PLOTLY_MODES:
        raise ValueError(
            f'`{where}` must be "inline" (plotly.js in the page, works offline) or '
            f'"directory" (one {PLOTLY_FILE} beside the reports); got {mode!r}.'
        )
    return str(mode)


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render_page(view: ReportView, plotly: str = "inline") -> str:
    """The whole report of a run as one HTML document.

    ``plotly`` is ``"inline"`` (plotly.js embedded once, with the first figure) or
    ``"directory"`` (a ``<script src="plotly.min.js">``: the file must sit beside the page).
    """
    check_plotly_mode(plotly)
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
                    include_plotlyjs=(PLOTLY_FILE if plotly == "directory" else True)
                    if first
                    else False,
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
        headline=headline_html(view),
        params=model_params_html(man["model"], view.series_names),
        nav=nav,
        body="\n".join(parts),
        css=_asset("report.css"),
    )


def headline_html(view: ReportView) -> str:
    """The top of the report: the headline table, and the model-risk sentence if any."""
    table = headline_frame(
        view.scenario, view.summary, view.policies, has_inflation=view.has_inflation
    )
    parts = [
        '<div class="table-scroll">'
        + table.to_html(classes="data headline", border=0, escape=True)
        + "</div>"
    ]
    risk = model_risk_line(view.scenario, view.model_check_table)
    if risk is not None:
        parts.append(f'<p class="model-risk" role="note">{esc(risk)}</p>')
    return "\n".join(parts)


def build_figures(result: SimulationResult) -> dict[str, go.Figure]:
    """The report's figures, keyed by section.

    Always ``"fan"`` (wealth quantiles over time, one panel per policy); ``"real_fan"`` (the
    same for real wealth) when the run simulates inflation; ``"underwater"``
    (drawdown over time of the kept sample paths; when the run keeps some), ``"terminal_wealth"``
    and ``"max_drawdown"`` (binned distribution and quantile box per policy); ``"comparison"``
    (paired differences against the baseline) when there are two policies or more; and, when
    relevant to the run, ``"costs"``, ``"taxes"``, ``"success"`` (probability of success by
    year), ``"flows"`` (share of paths ruined by each year) and ``"model_check"`` (model vs
    history, when the model was fitted to history).

    Every trace of a policy is named after the policy and drawn in its colour
    (:func:`mcsim.report.policy_colours`), the same in every figure.
    """
    return report_figures(ReportView.from_result(result))


def write_report(result: SimulationResult, path: str | Path, *, plotly: str = "inline") -> Path:
    """Write the run report as one HTML file.

    With ``plotly="inline"`` (the default) plotly.js is embedded once (about 4.8 MB) and the
    file opens without a network connection or any other file. With ``"directory"`` the page
    loads ``plotly.min.js`` from its own folder, and that file is written there once (kept
    when it is already the same), so a folder of reports shares one copy and each page stays
    a few hundred kilobytes. The data of all figures is pre-binned in both modes, so the size
    does not grow with the number of paths.

    Parameters
    ----------
    result : SimulationResult
        A finished run.
    path : str or Path
        File to write (``.html``); its folder must exist.
    plotly : {"inline", "directory"}
        Where the page gets plotly.js.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        When ``plotly`` is neither mode (checked before anything is written).
    """
    check_plotly_mode(plotly)
    path = Path(path)
    page = render_page(ReportView.from_result(result), plotly=plotly)
    if plotly == "directory":
        write_plotly_js(path.parent)
    path.write_text(page, encoding="utf-8")
    return path


def write_plotly_js(folder: Path) -> Path:
    """Write plotly.js as ``folder / plotly.min.js`` unless the same file is already there."""
    target = folder / PLOTLY_FILE
    js = _plotly_js()
    if not (target.exists() and target.stat().st_size == len(js.encode("utf-8"))):
        target.write_text(js, encoding="utf-8")
    return target


@cache
def _plotly_js() -> str:
    return get_plotlyjs()
