"""Feature sets: what a block's step loop must be able to do, decided in Python.

A step loop specialised to a feature set (``_loops.py``) passes the set's two flags,
``frictions`` and ``taxes``, as literal constants to the engine's phases
(``_engine.begin_path_for_nb`` ...); once the phases are inlined, Numba's dead-branch pruning
removes the branches a False flag turns off before type inference, so their kernels are
never typed or compiled. The sets, each including the ones before it:

- ``plain``: untaxed, no per-asset price tracking (dividends, ADV growth), plain execution
  (no participation cap, impact or slippage: ``_engine.plain_execution_nb``), no scheduled
  flows and no band rule that trades to its band edges;
- ``frictions``: untaxed, any frictions, flows and band-edge trades;
- ``taxed``: everything (the general loop's code).
"""

import numpy as np
from numba import njit

from ._layout import AP_IMPACT_ETA, AP_PARTICIPATION, AP_SLIPPAGE, TX_ENABLED, TX_TRACK_PRICES

FEATURES_PLAIN = 0
FEATURES_FRICTIONS = 1
FEATURES_TAXED = 2
FEATURE_SET_NAMES = {
    FEATURES_PLAIN: "plain",
    FEATURES_FRICTIONS: "frictions",
    FEATURES_TAXED: "taxed",
}
# Each set's literal flags ``(frictions, taxes)``; ``frictions`` also allows flows and
# band-edge trades.
FEATURE_FLAGS = {
    FEATURES_PLAIN: (False, False),
    FEATURES_FRICTIONS: (True, False),
    FEATURES_TAXED: (True, True),
}


def feature_set(
    asset_params: np.ndarray,
    tax_params: np.ndarray,
    band_edges: bool = False,
    flows: np.ndarray | None = None,
) -> int:
    """The smallest feature set (``FEATURES_*``) that runs a block with these parameters.

    Parameters
    ----------
    asset_params : ndarray of shape (n_assets, N_ASSET_PARAMS)
        Per-asset frictions, ``layout.AP_*``.
    tax_params : ndarray of shape (N_TAX_PARAMS,)
        Tax settings, ``layout.TX_*``.
    band_edges : bool
        Some policy of the run trades to its band edges (``_registry.trades_to_band_edges``):
        decided for the run, so its band rules share one loop.
    flows : ndarray of shape (n_flows, N_FLOW_FIELDS), optional
        The run's scheduled flows (``layout.FL_*``); None or empty for none.

    Returns
    -------
    int
        ``FEATURES_TAXED`` with taxes, else ``FEATURES_PLAIN`` when nothing needs price
        tracking and every asset executes plainly (the conditions of
        ``_engine.plain_execution_nb``), no flow and no band-edge trade, else
        ``FEATURES_FRICTIONS``.
    """
    if tax_params[TX_ENABLED] > 0.0:
        return FEATURES_TAXED
    has_flows = flows is not None and flows.shape[0] > 0
    if tax_params[TX_TRACK_PRICES] > 0.0 or band_edges or has_flows:
        return FEATURES_FRICTIONS
    frictions = (
        np.isfinite(asset_params[:, AP_PARTICIPATION])
        | (asset_params[:, AP_IMPACT_ETA] > 0.0)
        | (asset_params[:, AP_SLIPPAGE] > 0.0)
    )
    return FEATURES_FRICTIONS if bool(frictions.any()) else FEATURES_PLAIN


@njit(cache=True, inline="always")
def run_fits_nb(run, frictions, taxes):
    """Whether a block's ``_engine.RunFlags`` ``run`` fits a loop with these literal
    feature flags: without ``frictions`` every rebalance must be plain, no price tracked
    and no flow scheduled, without ``taxes`` no tax account kept."""
    if not frictions and not (run.plain and not run.track_prices and not run.has_flows):
        return False
    return taxes or not run.taxed
