"""The learned policy: a built-in rule that evaluates a fitted model at each check."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._validation import as_float, as_int, as_str, check_keys
from ..errors import ConfigError
from ..kernels import registry
from ..policies.base import Policy, PolicyContext, register_policy
from .model import REGRESSORS, LearnedModel
from .train import TrainSettings, train

__all__ = ["LearnedPolicy"]

# Fields of the TOML table (``fitted`` is the loaded model, never written in a scenario).
_TABLE_FIELDS = (
    "model", "regressor", "check_every", "band", "window", "train_paths", "train_seed",
    "degree", "max_depth",
)  # fmt: skip


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class LearnedPolicy(Policy):
    """Decide at each check among hold, trade to the band edge and trade to target, with a
    model fitted on simulated paths (``docs/learned.md``).

    Parameters
    ----------
    model : str, optional
        The model file (``model.json`` written by ``mcsim learn``); relative to the scenario
        file when run from ``mcsim run``. Without it, ``mcsim run`` trains the model first.
    regressor : {"linear", "tree", "boosting"}
        Ridge regression on polynomial features, a decision tree, or gradient boosting.
    check_every : int
        Steps between checks (3 with monthly steps = quarterly).
    band : float
        Half-width of the band the "edge" action trades to (weight points, fraction).
    window : int
        Steps of the trailing window of the volatility and return features.
    train_paths : int
        Simulated training paths.
    train_seed : int
        Seed of the training paths; must differ from ``[simulation].seed``.
    degree : int
        Degree of the polynomial features (``"linear"``).
    max_depth : int
        Depth of each tree (``"tree"`` and ``"boosting"``).
    fitted : LearnedModel, optional
        The model itself (instead of ``model``), as :meth:`fit` returns it.
    """

    kind: ClassVar[str] = "learned"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.LEARNED
    model: str | None = None
    regressor: str = "tree"
    check_every: int = 3
    band: float = 0.05
    window: int = 12
    train_paths: int = 10_000
    train_seed: int = 7
    degree: int = 2
    max_depth: int = 5
    fitted: LearnedModel | None = field(default=None, compare=False, repr=False)
    # Fields set from Python only, never keys of a scenario's table (nor of its schema).
    python_only: ClassVar[tuple[str, ...]] = ("fitted",)

    def __post_init__(self) -> None:
        super(LearnedPolicy, self).__post_init__()
        w = self._where
        if self.model is not None and not isinstance(self.model, (str, Path)):
            raise ConfigError(f"`{w}.model` must be a path to a model.json file.")
        as_str(self.regressor, f"{w}.regressor", choices=REGRESSORS)
        as_int(self.check_every, f"{w}.check_every", low=1)
        as_float(self.band, f"{w}.band", low=0.0, high=1.0, high_open=True)
        as_int(self.window, f"{w}.window", low=2)
        as_int(self.train_paths, f"{w}.train_paths", low=1)
        as_int(self.train_seed, f"{w}.train_seed", low=0)
        as_int(self.degree, f"{w}.degree", low=1, high=3)
        as_int(self.max_depth, f"{w}.max_depth", low=1, high=12)
        if self.glide is not None:
            raise ConfigError(
                f"`{w}.glide`: the learned policy trades to one fixed target; remove `glide`."
            )
        if self.fitted is not None and not isinstance(self.fitted, LearnedModel):
            raise ConfigError(f"`{w}.fitted` must be a LearnedModel (LearnedPolicy.fit).")

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str) -> Policy:
        names = [f.name for f in dataclasses.fields(cls) if f.name not in cls.python_only]
        check_keys(section, ["kind", *names], where)
        return cls(**{k: v for k, v in section.items() if k != "kind"})

    def to_dict(self) -> dict[str, Any]:
        out = Policy.to_dict(self)
        out.pop("fitted", None)
        if self.model is not None:
            out["model"] = str(self.model)
        return out

    @property
    def settings(self) -> TrainSettings:
        """The training settings of this policy."""
        return TrainSettings(
            name=self.name,
            regressor=self.regressor,
            check_every=self.check_every,
            band=self.band,
            window=self.window,
            n_paths=self.train_paths,
            seed=self.train_seed,
            degree=self.degree,
            max_depth=self.max_depth,
            target=None if self.target is None else dict(self.target),
        )

    @classmethod
    def fit(
        cls,
        scenario: Any,
        policy: str | None = None,
        *,
        regressor: str | None = None,
        n_paths: int | None = None,
        seed: int | None = None,
    ) -> LearnedModel:
        """Train the model of a learned policy of ``scenario`` on simulated paths.

        Parameters
        ----------
        scenario : Scenario
            The scenario; its model, costs, horizon and ``[decision].risk_aversion`` (3 when
            absent) define the training problem.
        policy : str, optional
            The learned policy's name; needed only when the scenario has several.
        regressor, n_paths, seed : optional
            Override the policy's ``regressor``, ``train_paths`` and ``train_seed``.

        Returns
        -------
        LearnedModel
            Save it with ``.save("model.json")`` or run with
            ``LearnedPolicy(name=..., fitted=model)``.
        """
        pol = find_learned(scenario, policy)
        s = pol.settings
        changes = {
            k: v
            for k, v in {"regressor": regressor, "n_paths": n_paths, "seed": seed}.items()
            if v is not None
        }
        return train(scenario, dataclasses.replace(s, **changes))

    def with_model(self, model: LearnedModel) -> LearnedPolicy:
        """This policy holding ``model``."""
        return dataclasses.replace(self, fitted=model)

    def loaded(self, base_dir: str | Path | None = None) -> LearnedPolicy:
        """This policy with its model file read and checked (``model`` relative to
        ``base_dir`` when given); unchanged when it holds a model or names none."""
        if self.fitted is not None or self.model is None:
            return self
        path = Path(self.model).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        return self.with_model(LearnedModel.load(path, f"{self._where}.model"))

    def _model(self, ctx: PolicyContext) -> LearnedModel:
        model = self.loaded().fitted
        if model is None:
            raise ConfigError(
                f'`{self._where}` has no model: give `model = "model.json"` (from `mcsim '
                "learn`), or run it with `mcsim run`, which trains it first."
            )
        model.check_for(ctx.asset_names, f"{self._where}.model")
        return model

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        return self._model(ctx).check_every, 0

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        model = self._model(ctx)
        wealth = 1.0 if ctx.initial_wealth is None else float(ctx.initial_wealth)
        params = model.params(ctx.n_steps, ctx.steps_per_year, wealth)
        return self.builtin.kind, params, model.state0()


def find_learned(scenario: Any, name: str | None) -> LearnedPolicy:
    """The scenario's learned policy ``name`` (or its only one)."""
    learned = [p for p in scenario.policies if isinstance(p, LearnedPolicy)]
    if name is not None:
        for p in learned:
            if p.name == name:
                return p
        raise ConfigError(
            f"`--policy` = {name!r} is not a learned policy of the scenario; learned policies: "
            f"{', '.join(p.name for p in learned) or 'none'}."
        )
    if not learned:
        raise ConfigError(
            'The scenario has no learned policy: add one with `kind = "learned"` to `[[policies]]`.'
        )
    if len(learned) > 1:
        raise ConfigError(
            f"The scenario has {len(learned)} learned policies "
            f"({', '.join(p.name for p in learned)}); choose one with `--policy NAME`."
        )
    return learned[0]
