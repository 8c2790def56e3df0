"""Custom policies: a user's numba function with the policy signature."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._validation import as_int
from ..errors import ConfigError
from .base import Policy, PolicyContext

__all__ = ["Custom", "load_function"]


def load_function(spec: str, where: str) -> Callable[..., Any]:
    """Import ``package.module:function``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(
            f"`{where}` must name a function as 'package.module:function'; got {spec!r}."
        )
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"`{where}`: cannot import module {module_name!r} ({e}).") from e
    try:
        return getattr(module, attr)
    except AttributeError as e:
        raise ConfigError(f"`{where}`: module {module_name!r} has no {attr!r}.") from e


@dataclass(frozen=True, slots=True, kw_only=True)
class Custom(Policy):
    """A user's rule: a numba function with the policy signature.

    ``rebalance_nb(t, returns, w, wealth, target, params, state, w_new) -> bool``; see
    :mod:`mcsim.kernels._policies` for the meaning of each argument. It is called once at
    construction on tiny arrays, so a typing error surfaces here and names the policy.

    Parameters
    ----------
    rebalance_nb : numba dispatcher or str
        The compiled rule, or ``"package.module:function"``.
    params : sequence of float
        The rule's parameters (``params`` argument, float64).
    state_size : int
        Length of the per-path ``state`` scratch array (zeros at the start of every path).
    """

    kind: ClassVar[str] = "custom"
    rebalance_nb: Any = None
    params: Sequence[float] = field(default_factory=tuple)
    state_size: int = 1

    def __post_init__(self) -> None:
        super(Custom, self).__post_init__()
        fn = self.rebalance_nb
        where = f"{self._where}.rebalance_nb"
        if isinstance(fn, str):
            fn = load_function(fn, where)
            object.__setattr__(self, "rebalance_nb", fn)
        from numba.core.registry import CPUDispatcher

        if not isinstance(fn, CPUDispatcher):
            raise ConfigError(
                f"`{where}` must be a numba-compiled function (decorate it with "
                f"@numba.njit); got {type(fn).__name__}."
            )
        as_int(self.state_size, f"{self._where}.state_size", low=1)
        params = np.asarray(self.params, dtype=float)
        object.__setattr__(self, "params", tuple(params.tolist()))
        self._probe(fn, params)

    def _probe(self, fn: Any, params: np.ndarray) -> None:
        returns = np.zeros((2, 2))
        w = np.array([0.5, 0.5])
        w_new = np.empty(2)
        state = np.zeros(self.state_size)
        try:
            out = fn(0, returns, w, 1.0, w.copy(), params, state, w_new)
        except Exception as e:
            raise ConfigError(
                f"`{self._where}.rebalance_nb` fails on a test call with the policy signature "
                "rebalance_nb(t: int, returns: float64[:, :], w: float64[:], wealth: float, "
                "target: float64[:], params: float64[:], state: float64[:], "
                f"w_new: float64[:]) -> bool: {type(e).__name__}: {e}"
            ) from e
        if not isinstance(out, (bool, np.bool_)):
            raise ConfigError(
                f"`{self._where}.rebalance_nb` must return a bool (True when it trades); "
                f"got {type(out).__name__}."
            )

    def compiled_rule(self) -> Callable[..., bool] | None:
        return self.rebalance_nb

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        params = np.asarray(self.params, dtype=float)
        if params.size == 0:
            params = np.zeros(1)
        return -1, params, np.zeros(self.state_size)
