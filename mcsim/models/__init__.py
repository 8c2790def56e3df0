"""Return models: fitted to history or given explicitly, simulated in numba kernels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._validation import as_str
from .base import ReturnModel, psd_cholesky
from .bootstrap import BootstrapModel
from .factor import FactorModel
from .garch import GarchModel
from .gaussian import GaussianModel
from .historical_windows import HistoricalWindowsModel
from .regime import RegimeModel
from .student_t import StudentTModel

MODELS: dict[str, type[ReturnModel]] = {
    "gaussian": GaussianModel,
    "lognormal": GaussianModel,
    "garch": GarchModel,
    "factor": FactorModel,
    "regime": RegimeModel,
    "student_t": StudentTModel,
    "bootstrap": BootstrapModel,
    "historical_windows": HistoricalWindowsModel,
}


def model_from_config(section: Mapping[str, Any], where: str = "[model]") -> ReturnModel:
    """Build the model named by ``section["kind"]`` from its scenario section."""
    kind = as_str(section.get("kind", "gaussian"), f"{where}.kind", choices=sorted(MODELS))
    return MODELS[kind].from_config(section, where)


__all__ = [
    "MODELS",
    "BootstrapModel",
    "FactorModel",
    "GarchModel",
    "GaussianModel",
    "HistoricalWindowsModel",
    "RegimeModel",
    "ReturnModel",
    "StudentTModel",
    "model_from_config",
    "psd_cholesky",
]
