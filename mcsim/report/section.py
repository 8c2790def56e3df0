"""One section of the report page: what every section builder returns."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Section"]


@dataclass
class Section:
    """One section of the page: an anchor, a title, an HTML intro, figures, then HTML blocks.

    ``figures`` are keys into the figure dict of :func:`mcsim.report.figures.report_figures`.
    """

    key: str
    title: str
    intro: str = ""
    figures: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
