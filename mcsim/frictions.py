"""Costs and taxes of one run combined into the kernels' friction arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_vector
from .costs import CostModel
from .errors import ConfigError
from .kernels import layout
from .taxes import TaxConfig

__all__ = ["FrictionArrays", "friction_arrays"]


@dataclass(frozen=True, slots=True, eq=False)
class FrictionArrays:
    """Kernel inputs for costs and taxes of one run."""

    asset_params: np.ndarray  # (n_assets, N_ASSET_PARAMS)
    tax_params: np.ndarray  # (N_TAX_PARAMS,)
    n_noise: int  # normals per step the run may draw (0: no execution-noise keys needed)
    max_lots: int  # lot slots per asset in the kernels


def friction_arrays(
    costs: CostModel,
    taxes: TaxConfig,
    policies: Sequence[Any],
    names: list[str],
    vol_step: np.ndarray,
    steps_per_year: int,
) -> FrictionArrays:
    """Validate costs and taxes against the assets and policies and build kernel arrays.

    Parameters
    ----------
    costs : CostModel
        The scenario's ``[costs]``; gives the per-asset parameters.
    taxes : TaxConfig
        The scenario's ``[taxes]``; gives the tax parameters, and may hold the dividend
        yields instead of ``[costs]`` (not both).
    policies : sequence of Policy
        The scenario's :class:`~mcsim.policies.Policy` objects; their tax options
        (``harvest``, ``tax_aware``) are checked against ``[taxes].enabled``.
    names : list of str
        Asset names, in the model's order.
    vol_step : ndarray of shape (n_assets,)
        Each asset's volatility over one step (fraction), from the model.
    steps_per_year : int
        Simulation steps per year.

    Returns
    -------
    FrictionArrays
        ``asset_params`` of shape (n_assets, N_ASSET_PARAMS), ``tax_params`` of shape
        (N_TAX_PARAMS,), the normals per step the run may draw and the lot slots per asset.

    Raises
    ------
    ConfigError
        A dividend yield given in both sections, a tax option of a policy in a tax-free
        account, or any per-asset cost setting that does not fit the assets.
    """
    ap = costs.asset_params(names, vol_step, steps_per_year)
    if taxes.dividend_yield is not None:
        if np.any(ap[:, layout.AP_DIVIDEND_YIELD] > 0):
            raise ConfigError(
                "`dividend_yield` is given in both [costs] and [taxes]: keep one of them."
            )
        ap[:, layout.AP_DIVIDEND_YIELD] = as_vector(
            taxes.dividend_yield, "[taxes].dividend_yield", names, low=0.0, high=1.0
        )
        ap[:, layout.AP_DIVIDEND_STEP] = ap[:, layout.AP_DIVIDEND_YIELD] / steps_per_year
    harvesting = False
    for p in policies:
        harvest = bool(getattr(p, "harvest", False))
        tax_aware = getattr(p, "tax_aware", None)
        if (harvest or tax_aware is not None) and not taxes.enabled:
            key = "harvest" if harvest else "tax_aware"
            raise ConfigError(
                f"`[policies.{p.name}].{key}` needs a taxable account: set "
                "`[taxes].enabled = true`."
            )
        harvesting |= harvest
    n = len(names)
    n_noise = n if costs.has_slippage else 0
    tracking_noise = 0
    if taxes.enabled and harvesting and taxes.substitute_tracking_error > 0:
        tracking_noise = n_noise
        n_noise += n
    has_div = bool(np.any(ap[:, layout.AP_DIVIDEND_YIELD] > 0))
    tp = taxes.tax_params(
        steps_per_year,
        tracking_noise=tracking_noise,
        track_prices=taxes.enabled or has_div or costs.adv_growth,
        has_dividends=has_div,
    )
    return FrictionArrays(
        asset_params=ap,
        tax_params=tp,
        n_noise=n_noise,
        max_lots=taxes.max_lots if taxes.enabled else 1,
    )
