"""Taxes of a taxable account (settings; the lot accounting lives in the kernels)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from ._validation import as_float, as_int, as_str, check_keys, check_per_asset
from .errors import ConfigError
from .kernels import layout

__all__ = ["TaxConfig"]

LOT_METHODS = {"fifo": layout.LOT_FIFO, "hifo": layout.LOT_HIFO, "tax_min": layout.LOT_TAX_MIN}
DIVIDEND_MODES = {"reinvest": layout.DIV_REINVEST, "rebalance": layout.DIV_REBALANCE}
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxConfig:
    """Tax settings of a taxable account. With ``enabled = False`` (the default) the account
    is tax-free.

    Parameters
    ----------
    enabled : bool
        Tax the account.
    short_term_rate, long_term_rate : float
        Tax rates on short- and long-term capital gains (fractions in [0, 1]).
    long_term_years : float
        Holding period from which a gain is long-term (years, > 0; at least one step).
    dividend_rate : float
        Tax rate on dividends, paid as they are received (fraction in [0, 1]).
    lot_method : {"fifo", "hifo", "tax_min"}
        Which lots a sale takes: oldest first, highest cost first, or tax-minimising
        (losses first, then long-term gains, short-term gains last).
    max_lots : int
        Lots kept per asset (>= 4). When a book is full, lots of one security are merged
        until a quarter of the slots are free: long-term lots in pairs, oldest first, in a
        FIFO book; neighbouring long-term lots, cheapest first, in a cost-ordered (HIFO or
        tax-minimising) book. Bases add up; the later purchase step is kept.
    loss_offset_limit : float
        Net capital loss deductible from other income per year (currency, >= 0; 3000 in
        the United States). The rest is carried forward without limit.
    income_rate : float, optional
        Tax rate on that other income, i.e. the value of the deduction (fraction); by
        default ``short_term_rate``.
    dividends : {"reinvest", "rebalance"}
        Net dividends buy more of the paying asset, or are placed like a contribution
        following the policy's ``flows`` mode (``"rebalance"`` policies then use them to
        move toward target).
    dividend_yield : float or mapping, optional
        Dividend yield per asset (annual fraction); may be given here or in ``[costs]``.
    substitute_tracking_error : float
        Annual tracking error of the substitute security bought by loss harvesting
        (fraction, >= 0).
    wash_sale_days : float
        Wash-sale window (days, 30), converted to whole steps rounding up (1 step with
        monthly steps). A harvested security is not bought back within it; a purchase of
        the same security within it before or after any sale at a loss disallows the loss
        on as many units and adds it to the purchase's basis.
    """

    enabled: bool = False
    short_term_rate: float = 0.35
    long_term_rate: float = 0.15
    long_term_years: float = 1.0
    dividend_rate: float = 0.15
    lot_method: str = "fifo"
    max_lots: int = 64
    loss_offset_limit: float = 0.0
    income_rate: float | None = None
    dividends: str = "reinvest"
    dividend_yield: float | Mapping[str, float] | None = None
    substitute_tracking_error: float = 0.0
    wash_sale_days: float = 30.0

    def __post_init__(self) -> None:
        w = "[taxes]"
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"`{w}.enabled` must be true or false; got {self.enabled!r}.")
        for key in ("short_term_rate", "long_term_rate", "dividend_rate"):
            as_float(getattr(self, key), f"{w}.{key}", low=0.0, high=1.0)
        if self.income_rate is not None:
            as_float(self.income_rate, f"{w}.income_rate", low=0.0, high=1.0)
        as_float(self.long_term_years, f"{w}.long_term_years", low=0.0, low_open=True)
        as_str(self.lot_method, f"{w}.lot_method", choices=LOT_METHODS)
        as_int(self.max_lots, f"{w}.max_lots", low=4, high=100_000)
        as_float(self.loss_offset_limit, f"{w}.loss_offset_limit", low=0.0, allow_inf=True)
        as_str(self.dividends, f"{w}.dividends", choices=DIVIDEND_MODES)
        check_per_asset(
            self.dividend_yield, f"{w}.dividend_yield", low=0.0, high=1.0, high_open=True
        )
        as_float(self.substitute_tracking_error, f"{w}.substitute_tracking_error", low=0.0)
        as_float(self.wash_sale_days, f"{w}.wash_sale_days", low=0.0)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        check_keys(section, cls.__dataclass_fields__, "[taxes]")
        return cls(**section)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (dict(v) if isinstance(v, Mapping) else v)
            for k in self.__dataclass_fields__
            if (v := getattr(self, k)) is not None
        }

    def wash_steps(self, steps_per_year: int) -> int:
        """The wash-sale window in whole steps (rounded up)."""
        return math.ceil(self.wash_sale_days * steps_per_year / _DAYS_PER_YEAR - 1e-9)

    def long_term_steps(self, steps_per_year: int) -> int:
        """The long-term holding period in whole steps (rounded up, at least one)."""
        return max(1, math.ceil(self.long_term_years * steps_per_year - 1e-9))

    def tax_params(
        self,
        steps_per_year: int,
        *,
        tracking_noise: int = 0,
        track_prices: bool | None = None,
        has_dividends: bool = False,
    ) -> np.ndarray:
        """Settings as the kernel's ``tax_params`` array (``layout.TX_*``)."""
        tp = np.zeros(layout.N_TAX_PARAMS)
        tp[layout.TX_ENABLED] = float(self.enabled)
        tp[layout.TX_SHORT_RATE] = self.short_term_rate
        tp[layout.TX_LONG_RATE] = self.long_term_rate
        tp[layout.TX_LONG_STEPS] = self.long_term_steps(steps_per_year)
        tp[layout.TX_LOT_METHOD] = LOT_METHODS[self.lot_method]
        tp[layout.TX_MAX_LOTS] = self.max_lots if self.enabled else 1
        tp[layout.TX_LOSS_OFFSET] = self.loss_offset_limit
        tp[layout.TX_INCOME_RATE] = (
            self.short_term_rate if self.income_rate is None else self.income_rate
        )
        tp[layout.TX_DIVIDEND_RATE] = self.dividend_rate
        tp[layout.TX_DIVIDEND_MODE] = DIVIDEND_MODES[self.dividends]
        tp[layout.TX_WASH_STEPS] = self.wash_steps(steps_per_year)
        tp[layout.TX_TRACKING_STEP] = self.substitute_tracking_error / np.sqrt(steps_per_year)
        tp[layout.TX_TRACKING_NOISE] = tracking_noise  # informational: noise is counter-based
        tp[layout.TX_STEPS_PER_YEAR] = steps_per_year
        if track_prices is None:
            track_prices = self.enabled or has_dividends
        tp[layout.TX_TRACK_PRICES] = float(track_prices)
        tp[layout.TX_HAS_DIVIDENDS] = float(has_dividends)
        return tp
