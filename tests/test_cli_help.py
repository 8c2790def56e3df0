"""The command line explains itself: help text on every argument of every subcommand, and
``mcsim data`` fits the terminal's width."""

from __future__ import annotations

import argparse

import pytest

from mcsim import cli
from mcsim.data import list_datasets


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = sub
                out.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return out


def _missing_help(parser: argparse.ArgumentParser) -> list[str]:
    return [
        "/".join(a.option_strings) or a.dest
        for a in parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
        and not (a.help and a.help.strip() and a.help != argparse.SUPPRESS)
    ]


def test_the_walk_finds_a_missing_help():
    p = argparse.ArgumentParser()
    p.add_argument("--documented", help="yes")
    p.add_argument("--bare")
    assert _missing_help(p) == ["--bare"]


def test_every_argument_of_every_subcommand_has_help():
    parser = cli.build_parser()
    subs = _subparsers(parser)
    assert {"run", "validate", "data", "fit", "sweep", "schema"} <= set(subs)
    missing = {name: _missing_help(p) for name, p in {"mcsim": parser, **subs}.items()}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"arguments without help: {missing}"
    # The subcommands are listed with a line each in `mcsim --help`.
    listing = parser.format_help()
    for name in (n for n in subs if " " not in n):
        assert name in listing


@pytest.mark.parametrize("columns", [80, 60])
def test_data_listing_wraps_to_the_terminal(columns, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert cli.main(["data"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    # Nothing is cut: every word of every description and citation is printed.
    words = set(out.split())
    for row in list_datasets().itertuples():
        assert set(row.description.split()) <= words
        assert set(row.citation.split()) <= words
        assert row.name + ":" in words


def test_data_description_wraps_to_the_terminal(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["data", "damodaran"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("damodaran: ")
