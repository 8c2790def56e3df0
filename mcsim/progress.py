"""Saying what a run is doing during its slow steps: compiling kernels, fitting a model,
writing the report.

:func:`announce` prints one line on stderr when a step starts and, on a terminal, an elapsed
time that ticks until it ends (then ``done in N s``). :func:`compile_message` tells whether
this scenario's kernels are in numba's cache, read from numba's own cache index of the step
loop, so the first run says it is compiling and how long that takes, and later runs say
nothing.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from .kernels import _engine
from .kernels._loops import LOOPS
from .loops import plan_feature_set, plan_loops
from .rates import compile_seconds
from .rule_loops import rule_loop

if TYPE_CHECKING:
    from .config import Scenario
    from .plan import RunPlan

__all__ = ["announce", "compile_message", "fit_message", "kernels_cached"]

# Models whose fit runs an optimiser (seconds, not milliseconds).
_SLOW_FITS = {"garch": "GARCH", "regime": "regime-switching"}
_TICK_S = 0.25


@contextlib.contextmanager
def announce(
    message: str | None, *, enabled: bool, stream: IO[str] | None = None
) -> Iterator[None]:
    """Say ``message`` on ``stream`` (stderr) while the ``with`` block runs.

    On a terminal the line shows the elapsed seconds, updated four times a second, and ends
    with ``done in N s``; elsewhere (a notebook, a log) the start and end are one line each.
    Nothing is printed when ``enabled`` is false or ``message`` is None.
    """
    if not enabled or message is None:
        yield
        return
    out = sys.stderr if stream is None else stream
    tty = bool(getattr(out, "isatty", lambda: False)())
    start = time.perf_counter()
    stop = threading.Event()
    ticker = None
    if tty:

        def tick() -> None:
            while not stop.wait(_TICK_S):
                out.write(f"\rmcsim: {message} ... {time.perf_counter() - start:.0f} s")
                out.flush()

        out.write(f"mcsim: {message} ...")
        out.flush()
        ticker = threading.Thread(target=tick, name="mcsim-progress", daemon=True)
        ticker.start()
    else:
        print(f"mcsim: {message} ...", file=out, flush=True)
    try:
        yield
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
        elapsed = time.perf_counter() - start
        if tty:
            out.write(f"\rmcsim: {message}: done in {elapsed:.1f} s\033[K\n")
        else:
            out.write(f"mcsim: {message}: done in {elapsed:.1f} s\n")
        out.flush()


def _index_fresh(dispatcher: object) -> bool | None:
    """Whether numba's cache index of a cached dispatcher holds a fresh entry (missing or
    stale: empty); None when the dispatcher is not cached or the index cannot be read."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is None:
        return None
    try:
        return bool(cache_file._load_index())
    except Exception:  # numba's private layout changed: do not guess
        return None


def kernels_cached(plan: RunPlan | None = None) -> bool | None:
    """Whether numba's cache holds the compiled step loops (the bulk of a first run's
    compile): True, False, or None when the cache cannot be read (then nothing is claimed).

    Read from numba's cache index of each step loop: the index is empty when missing or
    stale (the kernels' source changed). With ``plan``, every built-in loop its policies
    select (:func:`mcsim.loops.plan_loops`) must be fresh; without one, any fresh loop is
    enough (a run that finds one cached compiles far less than a first run).
    """
    if plan is None:
        dispatchers = [*LOOPS.values(), _engine.simulate_policy_builtin_nb]
    else:
        dispatchers = plan_loops(plan)
        if not dispatchers:
            return True
    states = [_index_fresh(d) for d in dispatchers]
    if any(state is None for state in states):
        return None
    return all(states) if plan is not None else any(states)


def _loop_cached(rule: object, features: int) -> bool:
    """Whether the disk-cached step loop of a custom rule (:mod:`mcsim.rule_loops`) for
    feature set ``features`` is compiled already; False for a rule run in the uncached loop
    (compiled every process)."""
    return bool(_index_fresh(rule_loop(rule, features)))


def compile_message(plan: RunPlan) -> str | None:
    """What the warm-up before the first block will do, when it takes long; else None.

    A cold cache compiles the step loops (measured seconds in :mod:`mcsim.rates`); a custom
    rule's loop is compiled when it is not in the rule-loop cache yet.
    """
    features = plan_feature_set(plan)
    custom = [
        p.name
        for p in plan.policies
        if getattr(p, "rebalance_nb", None) is not None
        and not _loop_cached(p.rebalance_nb, features)
    ]
    cached = kernels_cached(plan)
    if cached is False:
        return (
            f"compiling kernels for this scenario (first run only, about {compile_seconds():.0f} s)"
        )
    if custom:
        names = ", ".join(repr(n) for n in custom)
        return f"compiling the custom rule{'s' if len(custom) > 1 else ''} {names}"
    return None


def fit_message(scenario: Scenario) -> str | None:
    """The line said while a model that takes seconds to fit is fitted to history."""
    kind = scenario.model.kind
    if kind not in _SLOW_FITS or not scenario.model.needs_history or scenario.data is None:
        return None
    return f"fitting the {_SLOW_FITS[kind]} model to {scenario.data.source}"
