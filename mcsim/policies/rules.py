"""Calendar and band (threshold) rebalancing, and buy-and-hold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import as_float, as_int, as_str, as_vector
from ..errors import ConfigError
from ..kernels import registry
from ..kernels._policies import TRADE_TO_EDGE, TRADE_TO_FRACTION, TRADE_TO_TARGET
from .base import _FREQUENCIES, Policy, PolicyContext, register_policy, slot_array

__all__ = ["BuyAndHold", "Calendar", "CalendarThreshold", "Threshold"]


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class BuyAndHold(Policy):
    """Never trade: weights drift with the market."""

    kind: ClassVar[str] = "buy_and_hold"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.BUY_AND_HOLD

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        # Never consulted: the first due step lies beyond the horizon.
        return ctx.n_steps + 1, 0


def _scheduled_by_params(policy: Policy, ctx: PolicyContext) -> tuple[int, int]:
    """Schedule of rules whose params start with [every, offset] (calendar, bands)."""
    _, params, _ = policy.rule(ctx)
    return int(params[0]), int(params[1])


def _every_steps(every: Any, frequency: Any, steps_per_year: int, where: str) -> int:
    if every is not None and frequency is not None:
        raise ConfigError(f"Give either `{where}.every` (steps) or `{where}.frequency`, not both.")
    if frequency is not None:
        freq = as_str(frequency, f"{where}.frequency", choices=_FREQUENCIES)
        n = steps_per_year / _FREQUENCIES[freq]
        if not float(n).is_integer() or n < 1:
            raise ConfigError(
                f"`{where}.frequency` = {freq!r} does not fit {steps_per_year} steps per year; "
                "give `every` in steps instead."
            )
        return int(n)
    if every is None:
        raise ConfigError(f"`{where}.every` (steps between rebalances) is required.")
    return as_int(every, f"{where}.every", low=1)


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class Calendar(Policy):
    """Back to target every ``every`` steps (or at a named ``frequency``).

    Parameters
    ----------
    every : int, optional
        Steps between rebalances (12 with monthly steps = once a year).
    frequency : {"monthly", "quarterly", "semiannual", "annual"}, optional
        Alternative to ``every``.
    offset : int
        Steps before the first rebalance is due (0: the first is after ``every`` steps).
    """

    kind: ClassVar[str] = "calendar"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.CALENDAR
    every: int | None = None
    frequency: str | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        super(Calendar, self).__post_init__()
        if self.every is not None:
            as_int(self.every, f"{self._where}.every", low=1)
        if self.frequency is not None:
            as_str(self.frequency, f"{self._where}.frequency", choices=_FREQUENCIES)
        if self.every is None and self.frequency is None:
            raise ConfigError(f"`{self._where}.every` (steps between rebalances) is required.")
        as_int(self.offset, f"{self._where}.offset", low=0)

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        return _scheduled_by_params(self, ctx)

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        every = _every_steps(self.every, self.frequency, ctx.steps_per_year, self._where)
        rule = self.builtin
        params = slot_array(rule.params, every=every, offset=self.offset)
        return rule.kind, params, np.zeros(rule.state.N_FIXED)


def _check_band(value: Any, field: str) -> None:
    """A band is a number in [0, 1), or a table of such numbers per asset."""
    if value is None:
        return
    if isinstance(value, Mapping):
        if not value:
            raise ConfigError(f"`{field}` is an empty table; give a band per asset or one number.")
        for k, v in value.items():
            as_float(v, f"{field}[{k}]", low=0.0, high=1.0, high_open=True)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            as_float(v, f"{field}[{i}]", low=0.0, high=1.0, high_open=True)
    else:
        as_float(value, field, low=0.0, high=1.0, high_open=True)


_TRADE_TO = {
    "target": TRADE_TO_TARGET,
    "edge": TRADE_TO_EDGE,
    "fraction": TRADE_TO_FRACTION,
}


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold(Policy):
    """Trade when a weight leaves its band (or the portfolio drifts too far).

    Parameters
    ----------
    band : float or mapping of asset name to float, optional
        Absolute band: weight points either side of target (0.05 = 5 points), in [0, 1).
    relative_band : float or mapping, optional
        Relative band: fraction of the target weight (0.25 = 25 %), in [0, 1). With ``band``
        too, the tighter applies per asset, which is the same as "either band triggers"
        (the "5/25" rule: ``band = 0.05, relative_band = 0.25``).
    drift : float, optional
        Portfolio trigger: half the sum of absolute deviations from target, in [0, 1).
    check_every : int
        Steps between checks (1 = continuous monitoring; 3 with monthly steps = quarterly).
    trade_to : {"target", "edge", "fraction"}
        On a breach, trade back to target, to the band edge, or ``fraction`` of the way.
    fraction : float
        Share of the gap closed when ``trade_to = "fraction"``, in (0, 1].
    min_trade : float
        Skip asset trades smaller than this fraction of wealth.
    """

    kind: ClassVar[str] = "threshold"
    builtin: ClassVar[registry.BuiltinRule | None] = registry.THRESHOLD
    band: float | Mapping[str, float] | None = None
    relative_band: float | Mapping[str, float] | None = None
    drift: float | None = None
    check_every: int = 1
    trade_to: str = "target"
    fraction: float = 1.0
    min_trade: float = 0.0

    def __post_init__(self) -> None:
        super(Threshold, self).__post_init__()
        w = self._where
        if self.band is None and self.relative_band is None and self.drift is None:
            raise ConfigError(
                f"`{w}` needs a trigger: `band` (absolute), `relative_band` or `drift`."
            )
        for key in ("band", "relative_band"):
            _check_band(getattr(self, key), f"{w}.{key}")
        if self.drift is not None:
            as_float(self.drift, f"{w}.drift", low=0.0, high=1.0, high_open=True)
        as_int(self.check_every, f"{w}.check_every", low=1)
        as_str(self.trade_to, f"{w}.trade_to", choices=_TRADE_TO)
        as_float(self.fraction, f"{w}.fraction", low=0.0, high=1.0, low_open=True)
        if self.fraction != 1.0 and self.trade_to != "fraction":
            raise ConfigError(
                f'`{w}.fraction` only applies with `trade_to = "fraction"`; got trade_to = '
                f'{self.trade_to!r}. Remove `fraction` or set `trade_to = "fraction"`.'
            )
        as_float(self.min_trade, f"{w}.min_trade", low=0.0, high=1.0, high_open=True)

    def schedule(self, ctx: PolicyContext) -> tuple[int, int]:
        return _scheduled_by_params(self, ctx)

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        names = ctx.asset_names
        n = len(names)
        w = self._where
        inf = np.full(n, np.inf)
        abs_band = inf if self.band is None else as_vector(self.band, f"{w}.band", names)
        rel_band = (
            inf
            if self.relative_band is None
            else as_vector(self.relative_band, f"{w}.relative_band", names)
        )
        rule = self.builtin
        params = slot_array(
            rule.params,
            2 * n,
            check_every=self.check_every,
            check_offset=0,
            trade_to=_TRADE_TO[self.trade_to],
            fraction=self.fraction,
            drift_band=np.inf if self.drift is None else self.drift,
            min_trade=self.min_trade,
        )
        first = rule.params.N_FIXED
        params[first : first + n] = abs_band
        params[first + n :] = rel_band
        return rule.kind, params, np.zeros(rule.state.N_FIXED)


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarThreshold(Threshold):
    """Check the bands every ``every`` steps only; trade only when outside them."""

    kind: ClassVar[str] = "calendar_threshold"
    every: int | None = None
    frequency: str | None = None

    def __post_init__(self) -> None:
        super(CalendarThreshold, self).__post_init__()
        if self.every is None and self.frequency is None:
            raise ConfigError(f"`{self._where}.every` (steps between checks) is required.")

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        kind, params, state0 = super(CalendarThreshold, self).rule(ctx)
        every = _every_steps(self.every, self.frequency, ctx.steps_per_year, self._where)
        params[self.builtin.params.CHECK_EVERY] = every
        return kind, params, state0
