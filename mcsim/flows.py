"""Scheduled contributions and withdrawals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_float, as_int, as_str, check_keys
from .errors import ConfigError
from .kernels import layout

__all__ = ["CashFlow", "flows_from_config"]

_INDEX = {
    "none": layout.INDEX_NONE,
    "fixed": layout.INDEX_FIXED,
    "inflation": layout.INDEX_INFLATION,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CashFlow:
    """A schedule of external payments into (+) or out of (-) the portfolio.

    Parameters
    ----------
    amount : float
        Currency per payment: positive contributes, negative withdraws.
    pct_of_wealth : float
        Fraction of current wealth per payment (negative withdraws), added to ``amount``.
    every : int
        Steps between payments (12 with monthly steps = yearly).
    start_year, end_year : float
        First and last time (years from the start) at which payments are made; a payment is
        made at the end of a step.
    indexation : {"none", "fixed", "inflation"}
        ``amount`` grows at ``growth`` per year, or with the path's simulated price index.
    growth : float
        Growth per year of ``amount`` with ``indexation = "fixed"`` (fraction).
    """

    amount: float = 0.0
    pct_of_wealth: float = 0.0
    every: int = 1
    start_year: float = 0.0
    end_year: float = float("inf")
    indexation: str = "none"
    growth: float = 0.0

    def __post_init__(self) -> None:
        w = "[[flows]]"
        as_float(self.amount, f"{w}.amount")
        as_float(self.pct_of_wealth, f"{w}.pct_of_wealth", low=-1.0, high=1.0)
        as_int(self.every, f"{w}.every", low=1)
        as_float(self.start_year, f"{w}.start_year", low=0.0)
        as_float(self.end_year, f"{w}.end_year", low=0.0, allow_inf=True)
        if self.end_year < self.start_year:
            raise ConfigError(f"`{w}.end_year` must not be before `start_year`.")
        as_str(self.indexation, f"{w}.indexation", choices=_INDEX)
        as_float(self.growth, f"{w}.growth", low=-1.0, low_open=True)
        if self.amount == 0.0 and self.pct_of_wealth == 0.0:
            raise ConfigError(f"`{w}` needs a non-zero `amount` or `pct_of_wealth`.")

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in self.__dataclass_fields__
            if k != "end_year" or np.isfinite(self.end_year)
        }

    def row(self, steps_per_year: int) -> np.ndarray:
        """This schedule as one row of the kernel's ``flows`` array."""
        r = np.zeros(layout.N_FLOW_FIELDS)
        r[layout.FL_AMOUNT] = self.amount
        r[layout.FL_PCT_WEALTH] = self.pct_of_wealth
        r[layout.FL_EVERY] = self.every
        # Step t ends at (t + 1) / steps_per_year years.
        r[layout.FL_START] = max(round(self.start_year * steps_per_year) - 1, 0)
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
    if not isinstance(section, Sequence):
        raise ConfigError("`[[flows]]` must be an array of tables.")
    out = []
    for item in section:
        if not isinstance(item, Mapping):
            raise ConfigError("Each `[[flows]]` entry must be a table.")
        check_keys(item, CashFlow.__dataclass_fields__, "[[flows]]")
        out.append(CashFlow(**item))
    return out


def flows_array(flows: Sequence[CashFlow], steps_per_year: int) -> np.ndarray:
    """All schedules as the kernel's ``flows`` array of shape (n_flows, N_FLOW_FIELDS)."""
    if not flows:
        return np.zeros((0, layout.N_FLOW_FIELDS))
    return np.vstack([f.row(steps_per_year) for f in flows])
