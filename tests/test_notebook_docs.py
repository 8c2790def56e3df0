"""The Python examples of the docs run as written: README.md's "Python" section and the code
cells of docs/notebook.md, each as one script from an empty folder (so they cannot rely on a
clone's files, and a test fails when a page drifts from the package)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text, in order."""
    return _BLOCK.findall(text)


def section(text: str, heading: str) -> str:
    """The part of a Markdown text under ``## heading``, up to the next ``## ``."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _run(code: str) -> dict:
    namespace: dict = {"__name__": "__docs__"}
    exec(compile(code, "<docs>", "exec"), namespace)  # the docs' own code, from the repository
    return namespace


def test_python_blocks_are_found():
    assert python_blocks("a\n```python\nx = 1\n```\n```bash\nls\n```\n") == ["x = 1\n"]


def test_readme_python_section_runs_from_an_empty_folder(tmp_path, monkeypatch):
    blocks = python_blocks(section((ROOT / "README.md").read_text(encoding="utf-8"), "Python"))
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    ns = _run(blocks[0])
    result = ns["result"]
    assert result.scenario.name == "default_60_40"
    assert (tmp_path / "results" / "summary.csv").is_file()
    assert (tmp_path / "results" / "report.html").is_file()


def test_notebook_page_runs_from_an_empty_folder(tmp_path, monkeypatch, capsys):
    blocks = python_blocks((ROOT / "docs" / "notebook.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    ns = _run("\n".join(blocks))
    assert "a result is a frozen value" in capsys.readouterr().out
    assert ns["other_result"].baseline == "calendar_annual"
    assert (tmp_path / "fan.html").stat().st_size > 1000
    for name in ("fan", "wealth", "drawdown", "paired", "paired_two"):
        assert ns[name].data, name


@pytest.mark.parametrize("page", ["README.md", "docs/notebook.md"])
def test_pages_name_bundled_scenarios_not_clone_paths(page):
    code = "\n".join(python_blocks((ROOT / page).read_text(encoding="utf-8")))
    assert "configs/" not in code
