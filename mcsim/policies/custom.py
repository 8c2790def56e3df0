"""Custom policies: a user's numba function with the policy signature.

The rule is one ``@numba.njit`` function::

    rebalance_nb(t, returns, w, wealth, target, params, state, w_new) -> bool

(the meaning of each argument is in :mod:`mcsim.kernels._policies`). It is checked when the
policy is built: it must be a numba dispatcher with eight parameters, compile for the
signature's types, return a bool, and fill ``w_new`` with finite weights summing to one when
it returns True. Every error names the policy.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._validation import as_float, as_int
from ..errors import ConfigError
from .base import Policy, PolicyContext

__all__ = ["SIGNATURE", "Custom", "load_function"]

SIGNATURE = (
    "rebalance_nb(t: int, returns: float64[:, :], w: float64[:], wealth: float, "
    "target: float64[:], params: float64[:], state: float64[:], w_new: float64[:]) -> bool"
)
_N_ARGS = 8


def load_function(spec: str, where: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (ConfigError naming ``where`` on failure)."""
    if not isinstance(spec, str) or spec.count(":") != 1 or spec.startswith(":"):
        raise ConfigError(
            f"`{where}` must name a function as 'package.module:function'; got {spec!r}."
        )
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(
            f"`{where}`: cannot import module {module_name!r} ({e}). Is it installed or on "
            "PYTHONPATH?"
        ) from e
    try:
        return getattr(module, attr)
    except AttributeError as e:
        raise ConfigError(f"`{where}`: module {module_name!r} has no {attr!r}.") from e


def _is_numba_function(fn: Any) -> bool:
    from numba.core.registry import CPUDispatcher

    return isinstance(fn, CPUDispatcher)


def _short(e: Exception, limit: int = 600) -> str:
    """The gist of a (possibly very long) numba error message."""
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + " ..."


@dataclass(frozen=True, slots=True, kw_only=True)
class Custom(Policy):
    """A user's rule: a numba function with the policy signature.

    ``rebalance_nb(t, returns, w, wealth, target, params, state, w_new) -> bool``; see
    :mod:`mcsim.kernels._policies` for the meaning of each argument. It is called once at
    construction on tiny arrays, so a typing error surfaces here and names the policy.

    Parameters
    ----------
    rebalance_nb : numba dispatcher or str
        The compiled rule, or ``"package.module:function"`` (how a scenario file names it).
    params : sequence of float
        The rule's parameters (``params`` argument, float64; may be empty).
    state_size : int
        Length of the per-path ``state`` scratch array (zeros at the start of every path).

    Notes
    -----
    The engine compiles its step loop once per distinct function (this loop is not cached
    on disk), which takes several seconds on the first run of a process.
    """

    kind: ClassVar[str] = "custom"
    rebalance_nb: Any = None
    params: Sequence[float] = field(default_factory=tuple)
    state_size: int = 1

    def __post_init__(self) -> None:
        super(Custom, self).__post_init__()
        where = f"{self._where}.rebalance_nb"
        fn = self.rebalance_nb
        if fn is None:
            raise ConfigError(
                f"`{where}` is required: a numba function with the signature {SIGNATURE}, "
                "or its name as 'package.module:function'."
            )
        if isinstance(fn, str):
            fn = load_function(fn, where)
            object.__setattr__(self, "rebalance_nb", fn)
        if not _is_numba_function(fn):
            raise ConfigError(
                f"`{where}` must be a numba-compiled function (decorate it with @numba.njit); "
                f"got {type(fn).__name__} {getattr(fn, '__name__', '')!r}."
            )
        n_args = len(inspect.signature(fn.py_func).parameters)
        if n_args != _N_ARGS:
            raise ConfigError(
                f"`{where}` ({fn.__name__}) takes {n_args} argument(s); the policy signature "
                f"has {_N_ARGS}: {SIGNATURE}."
            )
        as_int(self.state_size, f"{self._where}.state_size", low=1)
        if isinstance(self.params, (str, bytes)) or not isinstance(
            self.params, (Sequence, np.ndarray)
        ):
            raise ConfigError(
                f"`{self._where}.params` must be a list of numbers; got {self.params!r}."
            )
        params = np.array(
            [as_float(p, f"{self._where}.params[{i}]") for i, p in enumerate(self.params)],
            dtype=np.float64,
        )
        object.__setattr__(self, "params", tuple(params.tolist()))
        self._probe(fn, params)

    def _probe(self, fn: Any, params: np.ndarray) -> None:
        """Call the rule once on two assets, off target, to catch typing and output errors."""
        where = f"{self._where}.rebalance_nb"
        returns = np.full((4, 2), 0.01)
        w = np.array([0.7, 0.3])
        target = np.array([0.5, 0.5])
        w_new = np.full(2, np.nan)
        state = np.zeros(self.state_size)
        try:
            out = fn(3, returns, w, 1.0, target, params, state, w_new)
        except Exception as e:
            raise ConfigError(
                f"`{where}` ({fn.__name__}) fails on a test call with the policy signature "
                f"{SIGNATURE}: {type(e).__name__}: {_short(e)}"
            ) from e
        if not isinstance(out, (bool, np.bool_)):
            raise ConfigError(
                f"`{where}` ({fn.__name__}) must return a bool (True when it trades); got "
                f"{type(out).__name__}."
            )
        if out and (not np.all(np.isfinite(w_new)) or abs(w_new.sum() - 1.0) > 1e-6):
            raise ConfigError(
                f"`{where}` ({fn.__name__}) returned True on a test call but left `w_new` = "
                f"{w_new.tolist()}: when it trades it must write weights that sum to 1 "
                "into every entry of w_new."
            )

    def compiled_rule(self) -> Callable[..., bool] | None:
        return self.rebalance_nb

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        params = np.asarray(self.params, dtype=float)
        if params.size == 0:
            params = np.zeros(1)
        return -1, params, np.zeros(self.state_size)
