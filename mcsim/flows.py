"""Scheduled contributions and withdrawals (the ``[[flows]]`` tables of a scenario).

A schedule pays at the end of a step, after the step's market move and before the policy
looks at its weights. Where the money goes is the policy's ``flows`` setting (pro rata, to
target weights, or cash-flow rebalancing). A withdrawal larger than the wealth left ruins the
path: wealth becomes 0, the path stops paying and receiving flows, and its ``ruined`` and
``ruin_year`` metrics are set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_float, as_int, as_str, check_keys
from .errors import ConfigError
from .kernels import layout

__all__ = ["CashFlow", "check_flows", "flows_array", "flows_from_config"]

_INDEX = {
    "none": layout.INDEX_NONE,
    "fixed": layout.INDEX_FIXED,
    "inflation": layout.INDEX_INFLATION,
}
_FREQUENCIES = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


@dataclass(frozen=True, slots=True, kw_only=True)
class CashFlow:
    """A schedule of external payments into (+) or out of (-) the portfolio.

    Parameters
    ----------
    amount : float
        Currency per payment: positive contributes, negative withdraws. In today's money
        when indexed.
    pct_of_wealth : float
        Fraction of current wealth per payment (negative withdraws; -0.04 with
        ``frequency = "annual"`` is a 4 % yearly withdrawal), added to ``amount``. In
        (-1, 1].
    every : int, optional
        Steps between payments (12 with monthly steps = yearly). Default: every step.
    frequency : {"monthly", "quarterly", "semiannual", "annual"}, optional
        Alternative to ``every``.
    start_year, end_year : float
        First and last time (years from the start) at which a payment may be made. Payments
        are made at the end of a step: at ``start_year``, then every ``every`` steps, up to
        ``end_year`` inclusive. Nothing is paid at time 0 (that is a change of initial
        wealth): with ``start_year = 0`` the first payment is after one period, so annual
        payments fall at the end of years 1, 2, ... and monthly ones at the end of every month.
    indexation : {"none", "fixed", "inflation"}
        ``amount`` grows at ``growth`` per year (``(1 + growth) ** years``, years counted
        from the start), or with the path's simulated price index (needs ``[data].inflation``).
    growth : float
        Growth per year of ``amount`` with ``indexation = "fixed"`` (fraction, > -1).
    name : str, optional
        A label for the schedule (reports and error messages).
    """

    amount: float = 0.0
    pct_of_wealth: float = 0.0
    every: int | None = None
    frequency: str | None = None
    start_year: float = 0.0
    end_year: float = float("inf")
    indexation: str = "none"
    growth: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        w = self._where
        as_float(self.amount, f"{w}.amount")
        as_float(self.pct_of_wealth, f"{w}.pct_of_wealth", low=-1.0, high=1.0, low_open=True)
        if self.every is not None and self.frequency is not None:
            raise ConfigError(f"Give either `{w}.every` (steps) or `{w}.frequency`, not both.")
        if self.every is not None:
            as_int(self.every, f"{w}.every", low=1)
        if self.frequency is not None:
            as_str(self.frequency, f"{w}.frequency", choices=_FREQUENCIES)
        as_float(self.start_year, f"{w}.start_year", low=0.0)
        as_float(self.end_year, f"{w}.end_year", low=0.0, allow_inf=True)
        if self.end_year < self.start_year:
            raise ConfigError(
                f"`{w}.end_year` ({self.end_year:g}) must not be before `start_year` "
                f"({self.start_year:g})."
            )
        as_str(self.indexation, f"{w}.indexation", choices=_INDEX)
        as_float(self.growth, f"{w}.growth", low=-1.0, low_open=True)
        if self.growth != 0.0 and self.indexation != "fixed":
            raise ConfigError(
                f'`{w}.growth` only applies with `indexation = "fixed"`; got indexation = '
                f"{self.indexation!r}."
            )
        if self.amount == 0.0 and self.pct_of_wealth == 0.0:
            raise ConfigError(f"`{w}` needs a non-zero `amount` or `pct_of_wealth`.")
        if not isinstance(self.name, str):
            raise ConfigError(f"`{w}.name` must be a string; got {self.name!r}.")

    @property
    def _where(self) -> str:
        return f"[[flows]] {self.name!r}" if self.name else "[[flows]]"

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if v is None or (k == "end_year" and not np.isfinite(v)) or (k == "name" and not v):
                continue
            out[k] = v
        return out

    def every_steps(self, steps_per_year: int) -> int:
        """Steps between payments."""
        if self.frequency is None:
            return 1 if self.every is None else int(self.every)
        n = steps_per_year / _FREQUENCIES[self.frequency]
        if not float(n).is_integer() or n < 1:
            raise ConfigError(
                f"`{self._where}.frequency` = {self.frequency!r} does not fit {steps_per_year} "
                "steps per year; give `every` in steps instead."
            )
        return int(n)

    def row(self, steps_per_year: int) -> np.ndarray:
        """This schedule as one row of the kernel's ``flows`` array."""
        r = np.zeros(layout.N_FLOW_FIELDS)
        r[layout.FL_AMOUNT] = self.amount
        r[layout.FL_PCT_WEALTH] = self.pct_of_wealth
        every = self.every_steps(steps_per_year)
        r[layout.FL_EVERY] = every
        # Step t ends at (t + 1) / steps_per_year years. Payments fall at start_year plus
        # whole periods, never at time 0: the first is after one period when start_year = 0.
        first = round(self.start_year * steps_per_year)
        r[layout.FL_START] = (first if first > 0 else every) - 1
        r[layout.FL_END] = (
            round(self.end_year * steps_per_year) - 1 if np.isfinite(self.end_year) else np.inf
        )
        r[layout.FL_INDEX] = _INDEX[self.indexation]
        r[layout.FL_GROWTH] = self.growth
        return r


def flows_from_config(section: Any) -> list[CashFlow]:
    """Parse the ``[[flows]]`` array of tables."""
    if isinstance(section, Mapping):
        section = [section]
    if not isinstance(section, Sequence) or isinstance(section, str):
        raise ConfigError("`[[flows]]` must be an array of tables.")
    out = []
    for item in section:
        if not isinstance(item, Mapping):
            raise ConfigError("Each `[[flows]]` entry must be a table.")
        check_keys(item, CashFlow.__dataclass_fields__, "[[flows]]")
        out.append(CashFlow(**item))
    return out


def check_flows(
    flows: Sequence[CashFlow], *, steps_per_year: int, n_steps: int, has_inflation: bool
) -> None:
    """Checks that need the run: the schedule fits the horizon, inflation is simulated."""
    horizon = n_steps / steps_per_year
    for f in flows:
        w = f._where
        f.every_steps(steps_per_year)
        if f.start_year > horizon:
            raise ConfigError(
                f"`{w}.start_year` = {f.start_year:g} is after the horizon ({horizon:g} years): "
                "the schedule would never pay."
            )
        if f.indexation == "inflation" and not has_inflation:
            raise ConfigError(
                f'`{w}.indexation = "inflation"` needs a simulated inflation series: name its '
                "column in `[data].inflation` (for example 'cpi_inflation' with source = "
                "'shiller'), or use indexation = \"fixed\" with a `growth` rate."
            )


def flows_array(
    flows: Sequence[CashFlow],
    steps_per_year: int,
    *,
    n_steps: int | None = None,
    has_inflation: bool | None = None,
) -> np.ndarray:
    """All schedules as the kernel's ``flows`` array of shape (n_flows, N_FLOW_FIELDS).

    With ``n_steps`` and ``has_inflation`` the schedules are first checked against the run
    (:func:`check_flows`).
    """
    if n_steps is not None and has_inflation is not None:
        check_flows(
            flows, steps_per_year=steps_per_year, n_steps=n_steps, has_inflation=has_inflation
        )
    if not flows:
        return np.zeros((0, layout.N_FLOW_FIELDS))
    return np.vstack([f.row(steps_per_year) for f in flows])
