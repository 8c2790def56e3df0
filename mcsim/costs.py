"""Trading frictions per asset, turned into the kernel's ``asset_params`` array."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from ._validation import as_int, as_vector, check_keys, check_per_asset
from .errors import ConfigError
from .kernels import layout

__all__ = ["CostModel"]

_BPS = 1e-4
_PER_ASSET = (
    "proportional_bps",
    "fixed_fee",
    "half_spread_bps",
    "slippage",
    "impact_eta",
    "adv",
    "participation",
    "dividend_yield",
    "volatility",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostModel:
    """Costs of trading, paid from the portfolio; each is reported separately.

    Every per-asset setting is a number for all assets, a list in asset order, or a table
    ``{asset = value}``.

    Parameters
    ----------
    proportional_bps : float or mapping
        Commission in basis points of traded value (10 = 0.10 %).
    fixed_fee : float or mapping
        Fee per trade in an asset (currency).
    half_spread_bps : float or mapping
        Half the bid-ask spread, in basis points of traded value.
    slippage : float or mapping
        Execution price error in units of the asset's volatility over one step: each trade
        pays ``slippage * vol_step * |z| * |trade|`` with ``z`` standard normal (adverse
        only, never a gain).
    impact_eta : float or mapping
        Square-root market impact coefficient: a trade pays
        ``impact_eta * sigma_daily * sqrt(|trade| / ADV) * |trade|``. Needs ``adv``.
    adv : float or mapping, optional
        Average daily traded volume (currency per day, > 0) at the start.
    adv_growth : bool
        When true, ADV grows with the asset's price index along each path.
    participation : float or mapping, optional
        Largest fraction of the step's volume (ADV x trading days in the step) a trade may
        take, in (0, 1]. A trade beyond it is executed in part and the rest carried to the
        next step. Needs ``adv``.
    dividend_yield : float or mapping
        Dividend yield per year (fraction, in [0, 1)). Returns are total returns: the
        dividend is the part of the return paid in cash (see ``[taxes].dividends``).
    volatility : float or mapping, optional
        Annual volatility per asset used to scale slippage and impact (fraction); by default
        the model's.
    trading_days : int
        Trading days per year (252): converts volatility to daily and ADV to volume per step.
    """

    proportional_bps: float | Mapping[str, float] = 0.0
    fixed_fee: float | Mapping[str, float] = 0.0
    half_spread_bps: float | Mapping[str, float] = 0.0
    slippage: float | Mapping[str, float] = 0.0
    impact_eta: float | Mapping[str, float] = 0.0
    adv: float | Mapping[str, float] | None = None
    adv_growth: bool = False
    participation: float | Mapping[str, float] | None = None
    dividend_yield: float | Mapping[str, float] = 0.0
    volatility: float | Mapping[str, float] | None = None
    trading_days: int = 252

    def __post_init__(self) -> None:
        w = "[costs]"
        for key in ("proportional_bps", "fixed_fee", "half_spread_bps", "slippage", "impact_eta"):
            check_per_asset(getattr(self, key), f"{w}.{key}", low=0.0)
        check_per_asset(self.adv, f"{w}.adv", low=0.0, low_open=True, allow_inf=True)
        check_per_asset(self.participation, f"{w}.participation", low=0.0, high=1.0, low_open=True)
        check_per_asset(
            self.dividend_yield, f"{w}.dividend_yield", low=0.0, high=1.0, high_open=True
        )
        check_per_asset(self.volatility, f"{w}.volatility", low=0.0)
        if not isinstance(self.adv_growth, bool):
            raise ConfigError(f"`{w}.adv_growth` must be true or false; got {self.adv_growth!r}.")
        as_int(self.trading_days, f"{w}.trading_days", low=1, high=366)
        if self.adv is None:
            for key in ("impact_eta", "participation"):
                value = getattr(self, key)
                active = (
                    any(float(v) > 0 for v in value.values())
                    if isinstance(value, Mapping)
                    else value is not None and (key == "participation" or float(value) > 0)
                )
                if active:
                    raise ConfigError(
                        f"`{w}.{key}` needs `{w}.adv`, the average daily volume per asset "
                        "(currency per day)."
                    )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        check_keys(section, cls.__dataclass_fields__, "[costs]")
        return cls(**section)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (dict(v) if isinstance(v, Mapping) else v)
            for k in self.__dataclass_fields__
            if (v := getattr(self, k)) is not None
        }

    @property
    def has_slippage(self) -> bool:
        """True when any asset has slippage (the run then draws execution noise)."""
        s = self.slippage
        return any(float(v) > 0 for v in s.values()) if isinstance(s, Mapping) else float(s) > 0

    def asset_params(
        self, names: list[str], vol_step: np.ndarray, steps_per_year: int = 12
    ) -> np.ndarray:
        """Per-asset friction array of shape (n_assets, N_ASSET_PARAMS) for the kernels.

        ``vol_step`` is each asset's volatility over one step (fraction), from the model;
        ``[costs].volatility`` overrides it.
        """
        n = len(names)
        w = "[costs]"
        ap = np.zeros((n, layout.N_ASSET_PARAMS))
        ap[:, layout.AP_PROPORTIONAL] = (
            as_vector(self.proportional_bps, f"{w}.proportional_bps", names, low=0.0) * _BPS
        )
        ap[:, layout.AP_FIXED_FEE] = as_vector(self.fixed_fee, f"{w}.fixed_fee", names, low=0.0)
        ap[:, layout.AP_HALF_SPREAD] = (
            as_vector(self.half_spread_bps, f"{w}.half_spread_bps", names, low=0.0) * _BPS
        )
        ap[:, layout.AP_SLIPPAGE] = as_vector(self.slippage, f"{w}.slippage", names, low=0.0)
        ap[:, layout.AP_IMPACT_ETA] = as_vector(self.impact_eta, f"{w}.impact_eta", names, low=0.0)
        ap[:, layout.AP_ADV] = (
            np.inf
            if self.adv is None
            else as_vector(self.adv, f"{w}.adv", names, low=0.0, allow_inf=True)
        )
        if np.any(ap[:, layout.AP_ADV] <= 0):
            bad = names[int(np.argmin(ap[:, layout.AP_ADV]))]
            raise ConfigError(f"`{w}.adv[{bad}]` must be > 0 (currency per day); got 0.")
        ap[:, layout.AP_PARTICIPATION] = (
            np.inf
            if self.participation is None
            else as_vector(self.participation, f"{w}.participation", names, low=0.0, high=1.0)
        )
        if np.any(ap[:, layout.AP_PARTICIPATION] <= 0):
            raise ConfigError(f"`{w}.participation` must be in (0, 1] for every asset.")
        ap[:, layout.AP_DIVIDEND_YIELD] = as_vector(
            self.dividend_yield, f"{w}.dividend_yield", names, low=0.0, high=1.0
        )
        vol_step = np.asarray(vol_step, dtype=float)
        if self.volatility is not None:
            annual = as_vector(self.volatility, f"{w}.volatility", names, low=0.0)
            vol_step = annual / np.sqrt(steps_per_year)
        needs_vol = (ap[:, layout.AP_SLIPPAGE] > 0) | (ap[:, layout.AP_IMPACT_ETA] > 0)
        if np.any(needs_vol & ~(vol_step > 0)):
            bad = names[int(np.argmax(needs_vol & ~(vol_step > 0)))]
            raise ConfigError(
                f"Slippage and impact of {bad!r} scale with its volatility, which the model "
                f"does not give: set `{w}.volatility` (annual, per asset)."
            )
        ap[:, layout.AP_VOL_STEP] = vol_step
        ap[:, layout.AP_VOL_DAILY] = vol_step * np.sqrt(steps_per_year / self.trading_days)
        ap[:, layout.AP_DAYS_PER_STEP] = self.trading_days / steps_per_year
        ap[:, layout.AP_ADV_GROWTH] = float(self.adv_growth)
        ap[:, layout.AP_DIVIDEND_STEP] = ap[:, layout.AP_DIVIDEND_YIELD] / steps_per_year
        return ap
