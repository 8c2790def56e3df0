"""The built-in rule registry: the one place a built-in rebalancing rule is added.

An entry (:class:`BuiltinRule`) gives a rule's integer ``kind`` and its parameter and state
slot declarations (made next to the rule's kernel, see ``_layout.slots``), and states the
properties the engine asks about instead of checking kind numbers or ranges:

- ``lazy_weights``: the rule's consultation (:func:`consult_builtin_nb`) computes the
  current weights itself, only when it may trade (the band rule checks its bands on the
  holdings first), so the step loop does not compute them on every due step;
- ``ruin_event``: on the step a path runs out of wealth, where rules are no longer
  consulted, :func:`ruin_event_nb` still lets the rule count its event (CPPI's breach).
- ``family``: the rule family whose step loops run it (``FAMILY_*``). A loop specialised
  to one family (``_loops.py``) calls only that family's consultation
  (:func:`consult_simple_nb`, :func:`consult_allocation_nb`, :func:`consult_learned_nb`),
  so it never types or compiles the other families' rules.

Numba needs the dispatch on ``kind`` as a compiled ``if kind == ...`` chain, written by hand
below, next to the entries. Adding a built-in rule therefore means: its kernel (with its
slot declarations), its entry here (with its family) and a branch in
:func:`builtin_rebalance_nb` and in its family's dispatch (:func:`simple_rebalance_nb`,
:func:`allocation_rebalance_nb`; and in :func:`consult_builtin_nb` and its family's
consultation if its call should be inlined into the step loop, or in :func:`ruin_event_nb`
if it counts an event on ruin), its policy class in
:mod:`mcsim.policies` (which names the entry) and its test. ``tests/test_policies_registry.py``
checks that the entries and the chains agree.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from ._allocation import (
    CP,
    CS,
    MS,
    MV,
    RP,
    RS,
    TV,
    TVS,
    VS,
    VT,
    cppi_floor_nb,
    cppi_nb,
    mean_variance_rule_nb,
    risk_parity_rule_nb,
    target_vol_rule_nb,
    vol_target_nb,
)
from ._layout import rule_state, slots
from ._learned import LN, LS, learned_nb
from ._memory import njit_no_refcount
from ._policies import (
    CAL,
    CAL_STATE,
    TH,
    TH_STATE,
    TRADE_TO_EDGE,
    band_may_breach_nb,
    calendar_nb,
    threshold_for_nb,
    threshold_nb,
    weights_nb,
)

# Rule families: each has its own step loops (``_loops.py``), which compile only its rules.
FAMILY_SIMPLE = 1  # buy and hold, calendar, bands
FAMILY_ALLOCATION = 2  # volatility targeting, CPPI, mean-variance, risk parity, target vol
FAMILY_LEARNED = 3  # the learned rule


class BuiltinRule(NamedTuple):
    """A built-in rule's registry entry.

    Attributes
    ----------
    kind : int
        The rule's integer kind, unique among the entries (``-1`` is a custom rule).
    params, state : named tuple of int
        Its parameter and state slot declarations (``_layout.slots`` / ``rule_state``).
    lazy_weights : bool
        Its consultation computes the current weights itself (see the module docstring).
    ruin_event : bool
        It counts an event on the step of ruin (see :func:`ruin_event_nb`).
    family : int
        Its rule family, ``FAMILY_*``.
    """

    kind: int
    params: tuple
    state: tuple
    lazy_weights: bool = False
    ruin_event: bool = False
    family: int = FAMILY_SIMPLE


BUY_AND_HOLD = BuiltinRule(kind=0, params=slots(), state=rule_state())
CALENDAR = BuiltinRule(kind=1, params=CAL, state=CAL_STATE)
THRESHOLD = BuiltinRule(kind=2, params=TH, state=TH_STATE, lazy_weights=True)
VOL_TARGET = BuiltinRule(kind=20, params=VT, state=VS, family=FAMILY_ALLOCATION)
CPPI = BuiltinRule(kind=21, params=CP, state=CS, ruin_event=True, family=FAMILY_ALLOCATION)
MEAN_VARIANCE = BuiltinRule(kind=22, params=MV, state=MS, family=FAMILY_ALLOCATION)
RISK_PARITY = BuiltinRule(kind=23, params=RP, state=RS, family=FAMILY_ALLOCATION)
TARGET_VOL = BuiltinRule(kind=24, params=TV, state=TVS, family=FAMILY_ALLOCATION)
# The learned rule's params start with a band rule's (its edge action), then LN: see _learned.
LEARNED = BuiltinRule(kind=30, params=LN, state=LS, family=FAMILY_LEARNED)

BUILTIN_RULES = (
    BUY_AND_HOLD,
    CALENDAR,
    THRESHOLD,
    VOL_TARGET,
    CPPI,
    MEAN_VARIANCE,
    RISK_PARITY,
    TARGET_VOL,
    LEARNED,
)
# The kinds with each property, for the kernels (frozen as constants by Numba).
_LAZY_WEIGHT_KINDS = np.array([r.kind for r in BUILTIN_RULES if r.lazy_weights], np.int64)
_FAMILY_KINDS = np.array([r.kind for r in BUILTIN_RULES], np.int64)
_FAMILY_OF = np.array([r.family for r in BUILTIN_RULES], np.int64)


def family_of(kind: int) -> int:
    """The family (``FAMILY_*``) of built-in rule ``kind``; an unknown kind (which never
    trades, like buy and hold) is simple."""
    for rule in BUILTIN_RULES:
        if rule.kind == kind:
            return rule.family
    return FAMILY_SIMPLE


@njit(cache=True, inline="always")
def family_of_nb(kind):
    """:func:`family_of` in the kernels."""
    family = FAMILY_SIMPLE
    for j in range(_FAMILY_KINDS.size):
        if _FAMILY_KINDS[j] == kind:
            family = _FAMILY_OF[j]
    return family


def trades_to_band_edges(kind: int, params) -> bool:
    """Whether built-in rule ``kind`` with parameters ``params`` trades to its band edges
    (``_policies.to_band_edge_nb``): a band rule with ``trade_to = "edge"``. Only loops
    with the ``band_edges`` literal compile that trade (``_feature_sets``)."""
    return kind == THRESHOLD.kind and int(params[TH.TRADE_TO]) == TRADE_TO_EDGE


@njit(cache=True, inline="always")
def rule_fits_nb(kind, params, family, band_edges):
    """Whether a loop of rule ``family`` with the literal ``band_edges`` runs rule
    ``kind``: of that family, and no band-edge trade unless ``band_edges``."""
    if family_of_nb(kind) != family:
        return False
    return band_edges or not (kind == THRESHOLD.kind and int(params[TH.TRADE_TO]) == TRADE_TO_EDGE)


@njit(cache=True, inline="always")
def lazy_weights_nb(kind):
    """True when rule ``kind``'s consultation computes the current weights itself."""
    lazy = False
    for k in _LAZY_WEIGHT_KINDS:
        lazy |= kind == k
    return lazy


# Not inlined: the engine calls a policy only on the steps it asked for (``check_every``), and
# inlining every rule into the step loop made Numba keep reference-count updates of the array
# arguments inside the loop, costing more than the call.
@njit_no_refcount
def builtin_rebalance_nb(kind, t, returns, w, wealth, target, params, state, w_new):
    """Dispatch to the built-in rule ``kind`` (the ``kind`` of a :data:`BUILTIN_RULES`
    entry); an unknown kind (buy and hold) never trades. Numba-compiled."""
    if kind == CALENDAR.kind:
        return calendar_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == THRESHOLD.kind:
        return threshold_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == VOL_TARGET.kind:
        return vol_target_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == CPPI.kind:
        return cppi_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == MEAN_VARIANCE.kind:
        return mean_variance_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == RISK_PARITY.kind:
        return risk_parity_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == TARGET_VOL.kind:
        return target_vol_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == LEARNED.kind:
        return learned_nb(t, returns, w, wealth, target, params, state, w_new)
    return False


@njit(cache=True, inline="always")
def consult_builtin_nb(kind, t, r_path, h, w, wealth, target, params, state, w_new):
    """The step loop's call of rule ``kind``: :func:`builtin_rebalance_nb`, with the rules
    consulted on every step inlined (bands, volatility targeting, CPPI, mean-variance's
    rolling window): there a compiled call costs more than the rule's work.

    A rule with ``lazy_weights`` (bands) gets its weights ``w`` here, and only when the
    holdings ``h`` may be outside a band (``band_may_breach_nb``); the others get them from
    the step loop.
    """
    if kind == THRESHOLD.kind:
        if not band_may_breach_nb(h, wealth, target, params):
            return False
        weights_nb(h, wealth, w)
        return threshold_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == VOL_TARGET.kind:
        return vol_target_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == CPPI.kind:
        return cppi_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == MEAN_VARIANCE.kind:
        return mean_variance_rule_nb(t, r_path, w, wealth, target, params, state, w_new)
    return builtin_rebalance_nb(kind, t, r_path, w, wealth, target, params, state, w_new)


# Not inlined, like builtin_rebalance_nb: each family's rules that its consultation below
# does not inline (those it inlines are not compiled a second time here).
@njit_no_refcount
def simple_rebalance_nb(kind, t, returns, w, wealth, target, params, state, w_new):
    """The simple family's rules not inlined into its consultation: the calendar rule
    (buy and hold never trades)."""
    if kind == CALENDAR.kind:
        return calendar_nb(t, returns, w, wealth, target, params, state, w_new)
    return False


@njit_no_refcount
def allocation_rebalance_nb(kind, t, returns, w, wealth, target, params, state, w_new):
    """The allocation family's rules not inlined into its consultation: risk parity and
    target volatility."""
    if kind == RISK_PARITY.kind:
        return risk_parity_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    elif kind == TARGET_VOL.kind:
        return target_vol_rule_nb(t, returns, w, wealth, target, params, state, w_new)
    return False


@njit_no_refcount
def learned_rebalance_nb(kind, t, returns, w, wealth, target, params, state, w_new):
    """:func:`builtin_rebalance_nb` for the learned family."""
    if kind == LEARNED.kind:
        return learned_nb(t, returns, w, wealth, target, params, state, w_new)
    return False


# The family consultations take the loop's literal ``band_edges`` (see threshold_for_nb).
@njit(cache=True, inline="always")
def consult_simple_nb(kind, t, r_path, h, w, wealth, target, params, state, w_new, band_edges):
    """:func:`consult_builtin_nb` for the simple family: the same calls, inlined the same
    way, without the other families' rules (a loop of this family never types them)."""
    if kind == THRESHOLD.kind:
        if not band_may_breach_nb(h, wealth, target, params):
            return False
        weights_nb(h, wealth, w)
        return threshold_for_nb(t, r_path, w, wealth, target, params, state, w_new, band_edges)
    return simple_rebalance_nb(kind, t, r_path, w, wealth, target, params, state, w_new)


@njit(cache=True, inline="always")
def consult_allocation_nb(kind, t, r_path, h, w, wealth, target, params, state, w_new, band_edges):
    """:func:`consult_builtin_nb` for the allocation family (see :func:`consult_simple_nb`)."""
    if kind == VOL_TARGET.kind:
        return vol_target_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == CPPI.kind:
        return cppi_nb(t, r_path, w, wealth, target, params, state, w_new)
    if kind == MEAN_VARIANCE.kind:
        return mean_variance_rule_nb(t, r_path, w, wealth, target, params, state, w_new)
    return allocation_rebalance_nb(kind, t, r_path, w, wealth, target, params, state, w_new)


@njit(cache=True, inline="always")
def consult_learned_nb(kind, t, r_path, h, w, wealth, target, params, state, w_new, band_edges):
    """:func:`consult_builtin_nb` for the learned family (see :func:`consult_simple_nb`)."""
    return learned_rebalance_nb(kind, t, r_path, w, wealth, target, params, state, w_new)


@njit(cache=True, inline="always")
def ruin_event_nb(kind, t, r_path, wealth, params, state):
    """On the step a path is ruined, let a rule with ``ruin_event`` count its event, as it
    would have with any wealth left (CPPI: the breach of its floor)."""
    if kind == CPPI.kind:
        cppi_floor_nb(t, r_path, wealth, params, state)
