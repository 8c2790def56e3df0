"""The learned policies of a scenario made ready to run: model files read, missing ones
trained on the training seed (what ``mcsim run`` does before simulating)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..policies.rules import BuyAndHold
from .model import LearnedModel
from .policy import LearnedPolicy, find_learned

__all__ = [
    "learn_command",
    "model_file_name",
    "ready_learned",
    "save_trained",
    "validation_stand_ins",
]


def ready_learned(
    scenario: Any, base_dir: str | Path | None, *, say: Callable[[str], None] = print
) -> tuple[Any, dict[str, LearnedModel]]:
    """The scenario with every learned policy holding its model, and the models trained.

    Model files are read relative to ``base_dir`` (the scenario file's folder) and checked
    first, so a bad file fails before any training; policies without ``model`` are then
    trained (``say`` reports each).
    """
    loaded = [p.loaded(base_dir) if isinstance(p, LearnedPolicy) else p for p in scenario.policies]
    trained: dict[str, LearnedModel] = {}
    ready = []
    for p in loaded:
        if isinstance(p, LearnedPolicy) and p.fitted is None:
            say(
                f"Training learned policy {p.name!r} ({p.regressor}, {p.train_paths:,} paths, "
                f"train_seed {p.train_seed}) ..."
            )
            model = LearnedPolicy.fit(scenario, p.name)
            say(f"  trained in {model.info['train_seconds']:.1f} s")
            trained[p.name] = model
            p = p.with_model(model)
        ready.append(p)
    return dataclasses.replace(scenario, policies=tuple(ready)), trained


def model_file_name(name: str, trained: dict[str, LearnedModel]) -> str:
    """``model.json``, or ``model_NAME.json`` when several policies were trained."""
    return "model.json" if len(trained) == 1 else f"model_{name}.json"


def save_trained(trained: dict[str, LearnedModel], out: str | Path) -> list[Path]:
    """Write the trained models into the folder ``out``."""
    return [m.save(Path(out) / model_file_name(n, trained)) for n, m in trained.items()]


def learn_command(
    scenario: Any,
    *,
    policy: str | None,
    out: str | Path,
    regressor: str | None = None,
    n_paths: int | None = None,
    seed: int | None = None,
    say: Callable[[str], None] = print,
) -> Path:
    """``mcsim learn``: train a learned policy of ``scenario`` and write its model file.

    The file is written only once training succeeded (and through a temporary file), so an
    error leaves an existing ``out`` as it was.
    """
    out = Path(out)
    if out.suffix != ".json":
        raise ConfigError(f"`--out` = {str(out)!r} must name a .json file, such as model.json.")
    if not out.parent.is_dir():
        raise ConfigError(f"`--out` = {str(out)!r}: the folder {str(out.parent)!r} does not exist.")
    name = find_learned(scenario, policy).name
    model = LearnedPolicy.fit(scenario, name, regressor=regressor, n_paths=n_paths, seed=seed)
    path = model.save(out)
    info = model.info
    imp = sorted(info["feature_importances"].items(), key=lambda kv: -kv[1])
    say(
        f"{scenario.name}: trained {name!r} ({model.regressor}) on {info['train_paths']:,} "
        f"paths (train_seed {info['train_seed']}, risk aversion {info['risk_aversion']:g}, "
        f"{info['n_checks']} checks) in {info['train_seconds']:.1f} s"
    )
    say("Feature importances: " + ", ".join(f"{k} {v:.2f}" for k, v in imp))
    say(f"Wrote {path}")
    return path


def validation_stand_ins(scenario: Any, base_dir: str | Path | None) -> tuple[Any, list[str]]:
    """For ``mcsim validate``: model files read and checked (relative to ``base_dir``), and
    each learned policy without one replaced by a buy-and-hold stand-in of the same name (it
    would be trained in the run); returns the scenario and the notes to print."""
    policies, notes = [], []
    for p in scenario.policies:
        if isinstance(p, LearnedPolicy):
            p = p.loaded(base_dir)
            if p.fitted is None:
                notes.append(
                    f"learned policy {p.name!r} names no model file: `mcsim run` trains it "
                    f"first ({p.regressor}, {p.train_paths:,} paths, train_seed {p.train_seed})"
                )
                p = BuyAndHold(name=p.name)
        policies.append(p)
    return dataclasses.replace(scenario, policies=tuple(policies)), notes
