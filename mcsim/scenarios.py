"""Scenario files shipped with the package."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

from .errors import ConfigError

__all__ = ["bundled_scenarios", "default_scenario_path", "resolve_scenario", "scenario_path"]

DEFAULT = "default_60_40"


def bundled_scenarios() -> list[str]:
    """Names of the scenario files shipped with mcsim."""
    root = resources.files("mcsim.configs")
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def scenario_path(name: str) -> Path:
    """Path of a bundled scenario file by name (without ``.toml``)."""
    names = bundled_scenarios()
    if name not in names:
        raise ConfigError(f"No bundled scenario {name!r}; bundled: {', '.join(names)}.")
    return Path(str(resources.files("mcsim.configs") / f"{name}.toml"))


def default_scenario_path() -> Path:
    """Path of the default scenario (60/40 stocks/bonds fitted to Shiller's data)."""
    return scenario_path(DEFAULT)


def resolve_scenario(arg: str | Path) -> Path:
    """The scenario file ``arg`` names: an existing file, else a bundled scenario's name.

    A bare name, with or without ``.toml`` (``"default_60_40"``, ``"default_60_40.toml"``),
    that is not a file in the current folder names the bundled scenario, from any folder.

    Raises
    ------
    ConfigError
        When ``arg`` is neither a file nor a bundled scenario (with the closest bundled name).
    """
    path = Path(arg)
    if path.is_file():
        return path
    bare = path.parent == Path(".") and not str(arg).startswith(".")
    name = path.name.removesuffix(".toml")
    names = bundled_scenarios()
    if bare and name in names:
        return scenario_path(name)
    close = difflib.get_close_matches(name, names, n=1) if bare else []
    hint = f" Did you mean the bundled scenario {close[0]!r}?" if close else ""
    raise ConfigError(
        f"Scenario file {str(arg)!r} does not exist and is not a bundled scenario.{hint} "
        "`mcsim scenarios` lists the bundled ones."
    )
