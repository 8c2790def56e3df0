"""Custom policies: a user's numba function with the policy signature.

The rule is one ``@numba.njit`` function::

    rebalance_nb(t, returns, w, wealth, target, params, state, w_new) -> bool

(the meaning of each argument is in :mod:`mcsim.kernels._policies`). It is checked when the
policy is built: it must be a numba dispatcher with eight parameters, compile for the
signature's types, return a bool, and fill ``w_new`` with finite weights summing to one when
it returns True. Every error names the policy.

A scenario file names the rule as ``"package.module:function"``. Reading a file must not run
code the user did not ask for, so the scenario loader keeps such a name as a
:class:`CodeReference`, imported only with ``allow_code=True``; names inside the ``mcsim``
package itself (such as ``mcsim.testing.policies:momentum_tilt_nb``) are part of the installed
tool and are imported without it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numba.core.registry import CPUDispatcher

from .._validation import as_float, as_int
from ..errors import ConfigError
from ..kernels import registry
from .base import Policy, PolicyContext, register_policy

__all__ = ["SIGNATURE", "CodeReference", "Custom", "is_trusted_reference", "load_function"]

SIGNATURE = (
    "rebalance_nb(t: int, returns: float64[:, :], w: float64[:], wealth: float, "
    "target: float64[:], params: float64[:], state: float64[:], w_new: float64[:]) -> bool"
)
_N_ARGS = 8
# How to allow a scenario's code from Python (the CLI says `--allow-code` instead).
_API_FIX = (
    "load the scenario with `Scenario.from_toml(path, allow_code=True)` (or "
    "`Scenario.from_dict(table, allow_code=True)`); on the command line, add `--allow-code`."
)


@dataclass(frozen=True, slots=True)
class CodeReference:
    """A function named as ``"package.module:function"`` and not imported.

    The scenario loader keeps a custom rule named in a file in this form unless code was
    allowed (``Scenario.from_toml(path, allow_code=True)``), so reading or validating a
    scenario never imports a module. A :class:`Custom` holding one cannot run.

    Parameters
    ----------
    spec : str
        The name as written in the scenario, ``"package.module:function"``.
    """

    spec: str

    def __str__(self) -> str:
        return self.spec


def _split_reference(spec: Any, where: str) -> tuple[str, str]:
    """``(module, attribute)`` of a well-formed reference, else ConfigError naming ``where``."""
    ok = isinstance(spec, str) and spec.count(":") == 1
    if ok:
        module_name, _, attr = spec.partition(":")
        # Absolute dotted names only: a relative name (".mod") or an empty part could
        # resolve against a package other than the one written.
        ok = attr.isidentifier() and all(part.isidentifier() for part in module_name.split("."))
    if not ok:
        raise ConfigError(
            f"`{where}` must name a function as 'package.module:function'; got {spec!r}."
        )
    return module_name, attr


def is_trusted_reference(spec: Any) -> bool:
    """Whether ``spec`` names a function inside the installed ``mcsim`` package.

    Such modules are part of the tool being run, so importing them runs no code the user did
    not already choose to run. The test is on the first dotted part, so ``mcsimx.evil`` and
    relative names are not trusted, and ``__main__`` modules (which run a program when
    imported) never are. A malformed reference is not trusted.
    """
    try:
        module_name, _ = _split_reference(spec, "rebalance_nb")
    except ConfigError:
        return False
    parts = module_name.split(".")
    return parts[0] == "mcsim" and "__main__" not in parts


def load_function(spec: str, where: str) -> Callable[..., Any]:
    """Import the function named ``"package.module:function"``.

    This runs the module's top-level code: call it only for references the user allowed
    (or that :func:`is_trusted_reference` accepts).

    Parameters
    ----------
    spec : str
        The reference, such as ``"mypkg.rules:drift_nb"``.
    where : str
        The field it came from, named in errors (``[policies.mine].rebalance_nb``).

    Returns
    -------
    callable
        The module's attribute.

    Raises
    ------
    ConfigError
        When the reference is malformed, the module cannot be imported or lacks the name.
    """
    module_name, attr = _split_reference(spec, where)
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
    return isinstance(fn, CPUDispatcher)


def _short(e: Exception, limit: int = 600) -> str:
    """The gist of a (possibly very long) numba error message."""
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + " ..."


@register_policy
@dataclass(frozen=True, slots=True, kw_only=True)
class Custom(Policy):
    """A user's rule: a numba function with the policy signature.

    ``rebalance_nb(t, returns, w, wealth, target, params, state, w_new) -> bool``; see
    :mod:`mcsim.kernels._policies` for the meaning of each argument. It is called once at
    construction on tiny arrays, so a typing error surfaces here and names the policy.

    Parameters
    ----------
    rebalance_nb : numba dispatcher, str or CodeReference
        The compiled rule; or its name, ``"package.module:function"``, imported here (a
        program that passes a name asks for it to be imported); or a :class:`CodeReference`,
        kept unimported (how the scenario loader passes a name from a file without
        ``allow_code``). A policy holding a reference is checked except for the rule
        itself, and a run refuses it: load the scenario with ``allow_code=True``.
    params : sequence of float
        The rule's parameters (``params`` argument, float64; may be empty).
    state_size : int
        Length of the per-path ``state`` scratch array (zeros at the start of every path).

    Notes
    -----
    The engine's step loop for the rule is compiled once and cached on disk when the rule is
    defined at the top level of an importable module (:mod:`mcsim.rule_loops`); otherwise it
    is compiled once per process, which takes several seconds.
    """

    kind: ClassVar[str] = "custom"
    builtin: ClassVar[registry.BuiltinRule | None] = None
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
        if isinstance(fn, CodeReference):
            _split_reference(fn.spec, where)
        elif not _is_numba_function(fn):
            raise ConfigError(
                f"`{where}` must be a numba-compiled function (decorate it with @numba.njit); "
                f"got {type(fn).__name__} {getattr(fn, '__name__', '')!r}."
            )
        else:
            n_args = len(inspect.signature(fn.py_func).parameters)
            if n_args != _N_ARGS:
                raise ConfigError(
                    f"`{where}` ({fn.__name__}) takes {n_args} argument(s); the policy "
                    f"signature has {_N_ARGS}: {SIGNATURE}."
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
        if not isinstance(fn, CodeReference):
            self._probe(fn, params)

    @property
    def code_reference(self) -> str | None:
        """The rule's unimported ``"package.module:function"`` name, or None once imported."""
        fn = self.rebalance_nb
        return fn.spec if isinstance(fn, CodeReference) else None

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
        if self.code_reference is not None:
            raise ConfigError(
                f"`{self._where}.rebalance_nb` names code {self.code_reference!r}, which was "
                "not imported: a scenario file runs no code unless you allow it. If you trust "
                f"that module, {_API_FIX}"
            )
        return self.rebalance_nb

    def to_dict(self) -> dict[str, Any]:
        out = Policy.to_dict(self)
        if self.code_reference is not None:
            out["rebalance_nb"] = self.code_reference
        return out

    def rule(self, ctx: PolicyContext) -> tuple[int, np.ndarray, np.ndarray]:
        params = np.asarray(self.params, dtype=float)
        if params.size == 0:
            params = np.zeros(1)
        return -1, params, np.zeros(self.state_size)
