"""Taxes of a taxable account (settings; the lot accounting lives in the kernels)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from ._validation import check_keys
from .kernels import layout

__all__ = ["TaxConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxConfig:
    """Tax settings. With ``enabled = False`` (the default) the account is tax-free."""

    enabled: bool = False

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        check_keys(section, cls.__dataclass_fields__, "[taxes]")
        return cls(**section)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def tax_params(self, steps_per_year: int) -> np.ndarray:
        """Settings as the kernel's ``tax_params`` array."""
        tp = np.zeros(layout.N_TAX_PARAMS)
        tp[layout.TX_ENABLED] = float(self.enabled)
        return tp
