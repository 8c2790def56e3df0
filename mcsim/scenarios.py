"""Scenario files shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ConfigError

__all__ = ["bundled_scenarios", "default_scenario_path", "scenario_path"]

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
