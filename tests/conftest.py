"""Shared test settings and small fixtures.

Hypothesis runs with the "ci" profile (no deadline: the first example may compile kernels;
derandomized: the same examples on every run). ``small_table`` builds a fast scenario table
with explicit model parameters (no data to fit); ``write_toml`` writes one to a file.
"""

from __future__ import annotations

import copy
import json
import math
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci")

# Two assets, monthly steps over two years, 64 paths in 4 blocks of 16, three policies.
_SMALL = {
    "name": "small",
    "description": "two assets, explicit lognormal model",
    "simulation": {
        "n_paths": 64,
        "horizon_years": 2,
        "steps_per_year": 12,
        "block_size": 16,
        "seed": 20240601,
        "initial_wealth": 1000.0,
        "keep_paths": 24,
    },
    "model": {
        "kind": "gaussian",
        "assets": ["stocks", "bonds"],
        "mu": [0.07, 0.03],
        "vol": [0.18, 0.06],
        "corr": [[1.0, 0.2], [0.2, 1.0]],
    },
    "portfolio": {"target": {"stocks": 0.6, "bonds": 0.4}},
    "costs": {"proportional_bps": 10},
    "policies": [
        {"name": "buy_and_hold", "kind": "buy_and_hold"},
        {"name": "quarterly", "kind": "calendar", "every": 3},
        {"name": "band_3pp", "kind": "threshold", "band": 0.03},
    ],
}


def _small_table(**sections: Any) -> dict[str, Any]:
    """A copy of the small scenario table; a dict argument updates that section's keys, any
    other value replaces the section, and None removes it."""
    table = copy.deepcopy(_SMALL)
    for key, value in sections.items():
        if value is None:
            table.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(table.get(key), Mapping):
            table[key] = {**table[key], **copy.deepcopy(dict(value))}
        else:
            table[key] = copy.deepcopy(value)
    return table


@pytest.fixture(scope="session")
def small_table() -> Callable[..., dict[str, Any]]:
    """Builder of small scenario tables: ``small_table(simulation={"n_paths": 8})``."""
    return _small_table


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _write_toml(table: Mapping[str, Any], path: str | Path) -> Path:
    """Write a scenario table (scalars, sections, arrays of tables) as a TOML file."""
    lines = []
    arrays = {
        k: v for k, v in table.items() if isinstance(v, list) and v and isinstance(v[0], dict)
    }
    sections = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    for k, v in table.items():
        if k not in arrays and k not in sections:
            lines.append(f"{k} = {_toml_value(v)}")
    for name, section in sections.items():
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in section.items())
    for name, items in arrays.items():
        for item in items:
            lines.append(f"\n[[{name}]]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in item.items())
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def write_toml() -> Callable[[Mapping[str, Any], str | Path], Path]:
    """Writer of scenario tables to TOML files: ``write_toml(table, tmp_path / "s.toml")``."""
    return _write_toml


def _kill_during(argv: list[str], phase: str, delay: float, cwd: Path) -> bool:
    """Start a run, SIGKILL it ``delay`` seconds after it prints the line ``phase``; True if
    it was killed (it may have finished first)."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd
    )
    try:
        for line in proc.stdout:
            if line.strip() == phase:
                time.sleep(delay)
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.stdout.close()
        proc.wait()
    return proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="session")
def kill_during() -> Callable[[list[str], str, float, Path], bool]:
    """:func:`_kill_during`: the fault tests' SIGKILL at a moment of a run's output."""
    return _kill_during


# The fault tests' run (tests/test_trust_output.py, tests/test_streaming.py): `mcsim run`
# that prints "blocks" when it first writes a checkpoint block and "save" when it first
# syncs a result file, and is slowed down there so a kill lands inside those phases.
_FAULT_WRAPPER = textwrap.dedent(
    """
    import os, sys, time
    import mcsim.checkpoint, mcsim.cli, mcsim.output

    DELAY = 0.03
    real_save, real_fsync, real_replace = (
        mcsim.checkpoint.Checkpoint.save, mcsim.output._fsync_file, os.replace
    )
    said = set()

    def say(word):
        if word not in said:
            said.add(word)
            print(word, flush=True)

    def save(self, block, arrays):
        say("blocks")
        time.sleep(DELAY)
        real_save(self, block, arrays)

    def fsync_file(path):
        say("save")
        time.sleep(DELAY)
        real_fsync(path)

    def replace(src, dst):
        time.sleep(DELAY)
        real_replace(src, dst)

    mcsim.checkpoint.Checkpoint.save = save
    mcsim.output._fsync_file = fsync_file
    os.replace = replace
    sys.exit(mcsim.cli.main(sys.argv[1:]))
    """
)


@pytest.fixture
def fault_wrapper(tmp_path: Path) -> Path:
    """A script, ``python SCRIPT ARGS`` running ``mcsim ARGS`` slowed as the fault tests
    need (:data:`_FAULT_WRAPPER`), written into ``tmp_path``."""
    path = tmp_path / "wrapper.py"
    path.write_text(_FAULT_WRAPPER)
    return path
