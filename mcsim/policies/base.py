"""The policy interface: a frozen dataclass resolved into kernel arrays."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import as_float, as_str, as_weights, check_keys
from ..errors import ConfigError
from ..kernels import layout, registry
from ..metrics import EventMetric
from .glide import check_glide, glide_weights

__all__ = [
    "POLICIES",
    "EventMetric",
    "KernelPolicy",
    "Policy",
    "PolicyContext",
    "register_policy",
    "slot_array",
]

_FLOW_MODES = {
    "pro_rata": layout.FLOW_PRO_RATA,
    "target": layout.FLOW_TO_TARGET,
    "rebalance": layout.FLOW_REBALANCE,
}
_TAX_AWARE = {
    "avoid_short_term": layout.TAX_AWARE_AVOID_SHORT_TERM,
    "defer": layout.TAX_AWARE_DEFER,
}
_FREQUENCIES = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


def slot_array(declaration: tuple[int, ...], n_tail: int = 0, **values: float) -> np.ndarray:
    """A rule's parameter (or state) array from its slot declaration.

    Parameters
    ----------
    declaration : named tuple of int
        The rule's slot declaration (``registry.CPPI.params``, see ``kernels/_layout.py``).
    n_tail : int
        Number of per-asset values after the named slots (left at zero for the caller).
    **values : float
        One value per named slot, by its lower-case name; every slot must be given.

    Returns
    -------
    ndarray of shape (declaration.N_FIXED + n_tail,)
    """
    fields = [f for f in declaration._fields if f != "N_FIXED"]  # type: ignore[attr-defined]
    given = {k.upper(): v for k, v in values.items()}
    if set(given) != set(fields):
        missing = sorted(set(fields) - set(given))
        unknown = sorted(set(given) - set(fields))
        raise TypeError(
            f"slot values do not match the declaration: missing {missing}, unknown {unknown}"
        )
    out = np.zeros(declaration.N_FIXED + n_tail)  # type: ignore[attr-defined]
    for field, value in given.items():
        out[getattr(declaration, field)] = value
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyContext:
    """What a policy needs to know about the run to build its kernel inputs."""

    asset_names: list[str]
    steps_per_year: int
    n_steps: int
    target: np.ndarray  # the scenario's target weights, shape (n_assets,)
    mu: np.ndarray | None = None  # model's annual expected returns, if known
    cov: np.ndarray | None = None  # model's annual covariance of log returns, if known
    initial_wealth: float | None = None  # wealth at the start (currency)
    risk_free_index: int = -1  # asset whose return Sharpe and Sortino are against; -1 = 0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class KernelPolicy:
    """Arrays a policy kernel runs on."""

    name: str
    kind: int
    params: np.ndarray
    state0: np.ndarray
    exec_params: np.ndarray
    w_init: np.ndarray
    targets: np.ndarray  # (n_steps, n_assets)
    rebalance_nb: Callable[..., bool] | None = None
    check_every: int = 1  # the rule is consulted every `check_every` steps ...
    check_offset: int = 0  # ... first after `check_offset` steps (0: after `check_every`)


# Policy classes by ``kind``: what ``kind = "..."`` in a scenario names (filled by
# :func:`register_policy` as the policy modules are imported).
POLICIES: dict[str, type[Policy]] = {}


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Register a policy class under its ``kind`` (a class decorator, outermost).

    Applied above ``@dataclass``, it registers the final (slotted) class. A kind can be
    registered once.
    """
    if not cls.kind:
        raise TypeError(f"{cls.__name__} needs a `kind` to be registered.")
    if cls.kind in POLICIES and POLICIES[cls.kind].__qualname__ != cls.__qualname__:
        raise TypeError(f"Policy kind {cls.kind!r} is already {POLICIES[cls.kind].__name__}.")
    POLICIES[cls.kind] = cls
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Base of all policies.

    Parameters
    ----------
    name : str
        Unique label of the policy in results.
    target : mapping of asset name to weight, optional
        Target weights (fractions summing to 1); the scenario's ``[portfolio].target`` when
        omitted.
    flows : {"pro_rata", "target", "rebalance"}
        Where external cash flows go: in proportion to current holdings, to target weights,
        or to the most underweight assets first (cash-flow rebalancing).
    glide : mapping, optional
        A glide path: target weights that change over the horizon, as a table by year
        (``{years = [0, 10, 20], weights = [[0.9, 0.1], ...]}``) or a straight line
        (``{end = {stocks = 0.3, bonds = 0.7}, end_year = 30}``); see
        :mod:`mcsim.policies.glide`. Works with every trigger.
    harvest : bool
        Harvest tax losses (needs ``[taxes].enabled``): see ``docs/frictions_taxes.md``.
    harvest_threshold : float
        Unrealised loss of a lot, as a fraction of its cost basis, that triggers a harvest.
    tax_aware : {"avoid_short_term", "defer"}, optional
        Never realise short-term gains when rebalancing, or skip a rebalance whose
        estimated tax exceeds its benefit (valued with ``risk_aversion``).
    risk_aversion : float
        Risk aversion that values a rebalance's benefit when ``tax_aware = "defer"``.
    """

    kind: ClassVar[str] = ""
    # The kernel rule: a built-in rule's registry entry (None for a user's compiled rule).
    builtin: ClassVar[registry.BuiltinRule | None] = registry.BUY_AND_HOLD
    # The policy's own event metric, counted by its rule (None when it has none).
    event_metric: ClassVar[EventMetric | None] = None
    name: str
    target: Mapping[str, float] | None = None
    flows: str = "pro_rata"
    glide: Mapping[str, Any] | None = None
    harvest: bool = False
    harvest_threshold: float = 0.05
    tax_aware: str | None = None
    risk_aversion: float = 3.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("A policy needs a non-empty string `name`.")
        as_str(self.flows, f"{self._where}.flows", choices=_FLOW_MODES)
        check_glide(self.glide, self._where)
        if self.glide is not None and self.target is not None and "end" not in self.glide:
            raise ConfigError(
                f"`{self._where}` gives both `target` and a glide-path table; the table sets "
                "the targets, so remove `target`."
            )
        if not isinstance(self.harvest, bool):
            raise ConfigError(f"`{self._where}.harvest` must be true or false.")
        as_float(
            self.harvest_threshold,
            f"{self._where}.harvest_threshold",
            low=0.0,
            high=1.0,
            high_open=True,
        )
        if self.tax_aware is not None:
            as_str(self.tax_aware, f"{self._where}.tax_aware", choices=_TAX_AWARE)
        as_float(self.risk_aversion, f"{self._where}.risk_aversion", low=0.0)

    @property
    def _where(self) -> str:
        return f"[policies.{self.name}]"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str) -> Policy:
        """Build the policy from its ``[[policies]]`` table."""
        names = [f.name for f in dataclasses.fields(cls)]
        check_keys(section, ["kind", *names], where)
        kwargs = {k: v for k, v in section.items() if k != "kind"}
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The policy as a scenario table."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if callable(value):
                value = f"{value.__module__}:{getattr(value, '__name__', repr(value))}"
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    # -- kernel inputs ---------------------------------------------------------------------
    def resolve_target(self, ctx: PolicyContext) -> np.ndarray:
        """Target weights (n_assets,) of this policy."""
        if self.target is None:
            return ctx.target
        return as_weights(self.target, f"{self._where}.target", ctx.asset_names)

    def targets(self, ctx: PolicyContext) -> np.ndarray:
        """Target weights per step, shape (n_steps, n_assets).

        Row ``t`` is the target at the end of step ``t``: the glide path at
        ``(t + 1) / steps_per_year`` years when there is one.
        """
        if self.glide is not None:
            times = np.arange(1, ctx.n_steps + 1) / ctx.steps_per_year
            return self._glide_at(ctx, times)
        return np.ascontiguousarray(
            np.broadcast_to(self.resolve_target(ctx), (ctx.n_steps, len(ctx.asset_names)))
        )

    def exec_params(self, ctx: PolicyContext) -> np.ndarray:
        ep = np.zeros(layout.N_EXEC_PARAMS)
        ep[layout.EP_FLOW_MODE] = _FLOW_MODES[self.flows]
        ep[layout.EP_HARVEST] = float(self.harvest)
        ep[layout.EP_HARVEST_THRESHOLD] = self.harvest_threshold
        ep[layout.EP_TAX_AWARE] = _TAX_AWARE[self.tax_aware] if self.tax_aware else 0
        ep[layout.EP_RISK_AVERSION] = self.risk_aversion
        ep[layout.EP_RISK_FREE] = ctx.risk_free_index
        if self.tax_aware == "defer":
            if ctx.cov is None:
                raise ConfigError(
                    f'`{self._where}.tax_aware = "defer"` values trades with the model\'s '
                    'covariance, which this model does not give; use "avoid_short_term".'
                )
            ep = np.concatenate([ep, np.asarray(ctx.cov, dtype=np.float64).ravel()])
        return ep

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        """Kind, params and initial state of the rule (the kind of :attr:`builtin`; a
        custom rule's kind is ignored)."""
        rule = self.builtin or registry.BUY_AND_HOLD
        return rule.kind, np.zeros(1), np.zeros(rule.state.N_FIXED)

    def initial_weights(self, ctx: PolicyContext, targets: np.ndarray) -> np.ndarray:
        """Weights held at the start (bought before the first step, at no cost).

        The target at year 0: the first row of ``targets``, or the glide path at year 0.
        """
        if self.glide is not None:
            return self._glide_at(ctx, np.zeros(1))[0]
        return targets[0].copy()

    def _glide_at(self, ctx: PolicyContext, times: np.ndarray) -> np.ndarray:
        start = self.resolve_target(ctx)
        horizon = ctx.n_steps / ctx.steps_per_year
        return np.ascontiguousarray(
            glide_weights(self.glide, self._where, ctx.asset_names, times, start, horizon)
        )

    def compiled_rule(self) -> Callable[..., bool] | None:
        """A user's compiled rule, or None for built-in rules."""
        return None

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        """Steps between consultations of the rule and the step count before the first.

        The engine calls the rule only at the end of steps ``t`` with ``t + 1`` in
        ``first, first + every, ...`` (``first = offset`` if positive, else ``every``). The
        default, ``(1, 0)``, consults it every step; rules that only act on a calendar
        declare it here, which saves a call on every other step.
        """
        return 1, 0

    def to_kernel(self, ctx: PolicyContext) -> KernelPolicy:
        """Resolve the policy against the run into kernel arrays."""
        targets = self.targets(ctx)
        kind, params, state0 = self.rule(ctx)
        every, offset = self.schedule(ctx)
        return KernelPolicy(
            name=self.name,
            kind=kind,
            params=np.ascontiguousarray(params, dtype=np.float64),
            state0=np.ascontiguousarray(state0, dtype=np.float64),
            exec_params=self.exec_params(ctx),
            w_init=np.ascontiguousarray(self.initial_weights(ctx, targets), dtype=np.float64),
            targets=np.ascontiguousarray(targets, dtype=np.float64),
            rebalance_nb=self.compiled_rule(),
            check_every=int(every),
            check_offset=int(offset),
        )
