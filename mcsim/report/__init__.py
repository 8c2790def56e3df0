"""The run report: one self-contained HTML file with plotly figures and formatted tables.

:func:`build_figures` returns the report's figures as a dict of plotly figures (for use in
notebooks); :func:`write_report` writes the whole report, with plotly.js embedded once, so the
file opens without a network connection. Per-path data is never embedded: distributions are
binned (about 100 bins per policy) and at most :data:`N_SAMPLE_PATHS` paths per policy are
drawn, so the file stays a few megabytes for any number of paths.

One job per module: :mod:`~mcsim.report.format` (numbers, ticks, colours, labels),
:mod:`~mcsim.report.view` (what the report reads from a result),
:mod:`~mcsim.report.figures`, :mod:`~mcsim.report.tables`, :mod:`~mcsim.report.sections`
(which sections a run gets and their text), :mod:`~mcsim.report.page` (the page),
:mod:`~mcsim.report.model_check` (views of a model-check table) and
:mod:`~mcsim.report.band_theory` (views of a band study: the optimal band against the
cube-root formula).
"""

from .band_theory import band_curves_figure, band_theory_figure
from .figures import N_BINS, N_SAMPLE_PATHS
from .format import format_value, policy_colours
from .model_check import model_check_figure, model_check_page
from .page import PLOTLY_FILE, PLOTLY_MODES, build_figures, check_plotly_mode, write_report

__all__ = [
    "N_BINS",
    "N_SAMPLE_PATHS",
    "PLOTLY_FILE",
    "PLOTLY_MODES",
    "band_curves_figure",
    "band_theory_figure",
    "build_figures",
    "check_plotly_mode",
    "format_value",
    "model_check_figure",
    "model_check_page",
    "policy_colours",
    "write_report",
]
