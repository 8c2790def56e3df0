"""Trading frictions per asset, turned into the kernel's ``asset_params`` array."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from ._validation import as_float, as_vector, check_keys
from .kernels import layout

__all__ = ["CostModel"]

_BPS = 1e-4


@dataclass(frozen=True, slots=True, kw_only=True)
class CostModel:
    """Costs of trading, paid from the portfolio.

    Parameters
    ----------
    proportional_bps : float or mapping of asset name to float
        Commission in basis points of traded value (10 = 0.10 %), per asset or for all.
    fixed_fee : float or mapping
        Fee per trade in an asset (currency).
    half_spread_bps : float or mapping
        Half the bid-ask spread, in basis points of traded value.
    """

    proportional_bps: float | Mapping[str, float] = 0.0
    fixed_fee: float | Mapping[str, float] = 0.0
    half_spread_bps: float | Mapping[str, float] = 0.0

    def __post_init__(self) -> None:
        for key in ("proportional_bps", "fixed_fee", "half_spread_bps"):
            value = getattr(self, key)
            if not isinstance(value, Mapping):
                as_float(value, f"[costs].{key}", low=0.0)

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

    def asset_params(self, names: list[str], vol_step: np.ndarray) -> np.ndarray:
        """Per-asset friction array of shape (n_assets, N_ASSET_PARAMS) for the kernels.

        ``vol_step`` is each asset's volatility over one step (fraction).
        """
        n = len(names)
        ap = np.zeros((n, layout.N_ASSET_PARAMS))
        ap[:, layout.AP_PROPORTIONAL] = (
            as_vector(self.proportional_bps, "[costs].proportional_bps", names, low=0.0) * _BPS
        )
        ap[:, layout.AP_FIXED_FEE] = as_vector(self.fixed_fee, "[costs].fixed_fee", names, low=0.0)
        ap[:, layout.AP_HALF_SPREAD] = (
            as_vector(self.half_spread_bps, "[costs].half_spread_bps", names, low=0.0) * _BPS
        )
        ap[:, layout.AP_ADV] = np.inf
        ap[:, layout.AP_PARTICIPATION] = 1.0
        ap[:, layout.AP_VOL_STEP] = vol_step
        return ap
