"""Numba-compiled numeric kernels of mcsim (installed as ``mcsim.kernels``).

Pure numeric code only: functions over NumPy arrays and scalars, no pandas, no config objects,
no I/O. Axes are always ``(path, step, asset)``. Compiled callables end in ``_nb``.

``layout`` holds the engine's array layouts; ``registry`` the built-in rules (their kinds and
parameter and state slot declarations, see ``_registry.py``).
"""

from . import _layout as layout
from . import _registry as registry
from ._engine import simulate_policy_builtin_nb, simulate_policy_custom_nb
from ._gaussian import simulate_gaussian_nb
from ._registry import builtin_rebalance_nb
from ._stats import quantiles_from_histogram

__all__ = [
    "builtin_rebalance_nb",
    "layout",
    "quantiles_from_histogram",
    "registry",
    "simulate_gaussian_nb",
    "simulate_policy_builtin_nb",
    "simulate_policy_custom_nb",
]
