"""Mergeable per-policy sums for sweeps of many policies.

A sweep of hundreds of policies over a million paths cannot keep a per-path table per policy.
An :class:`Accumulator` keeps, per policy and per half of the paths (selection and
evaluation, see :func:`mcsim.decision.is_selection_block`), only what the decision figures
need:

* count, mean and centred sum of squares of each chosen metric (Chan's merge: the stable
  form of "sum and sum of squares"), and the same of its paired difference against each
  reference policy (the baseline first);
* per risk aversion ``g``, the CRRA utility sums in a scaled form: ``e = exp((1 - g) log W - m)``
  with ``m`` the policy's largest exponent so far, its mean and centred sum of squares, and
  per reference the sums that give the paired variance of the log-CE difference without
  cancellation (see :meth:`Accumulator._merge_state`); at ``g = 1`` the same of ``log W``;
* a fixed-bin histogram of ``log(W / W0)`` with the engine's sketch bins, for quantiles;
* a fixed-bin histogram of the maximum drawdown (:data:`DRAWDOWN_BINS` bins of width
  :data:`DRAWDOWN_WIDTH` over [0, 1]), for its quantiles (the p95 of the frontier chart).

Merging is exact for the counts and histograms and correct to rounding for the sums; merging
per-block accumulators in block order gives the same bits for any ``n_jobs``. The figures of
:meth:`Accumulator.summary` equal those of :func:`mcsim.decision.ranking_table` on the same
paths to about 1e-12 relative.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_float
from .decision import (
    DEFAULT_WEALTH_FLOOR,
    Z95,
    _check_risk_aversion,
    is_selection_block,
)
from .errors import ConfigError, DataError
from .kernels import layout, quantiles_from_histogram
from .results import RESULT_METRICS as METRICS
from .sketch import HIST_BINS, HIST_LO, HIST_WIDTH

__all__ = [
    "DEFAULT_ACCUMULATED_METRICS",
    "DRAWDOWN_BINS",
    "DRAWDOWN_WIDTH",
    "HALVES",
    "STATE_ARRAYS",
    "Accumulator",
    "accumulator_bytes",
    "merge_in_order",
]

#: The per-half state arrays of an :class:`Accumulator` besides ``n_paths``: what a
#: checkpoint stores and a merge combines.
STATE_ARRAYS = (
    "m_n",
    "m_mean",
    "m_m2",
    "d_n",
    "d_mean",
    "d_m2",
    "u_shift",
    "u_mean",
    "u_m2",
    "pair_q",
    "pair_p",
    "hist",
    "dd_hist",
)

HALVES = ("selection", "evaluation")
DEFAULT_ACCUMULATED_METRICS = (
    "terminal_wealth",
    "real_terminal_wealth",
    "cagr",
    "max_drawdown",
    "turnover",
    "costs",
    "taxes",
    "ruined",
)
_QUANTILES = (0.05, 0.5, 0.95)

#: Interior bins of the maximum-drawdown histogram over [0, 1] (a drawdown is a fraction);
#: bins 0 and ``DRAWDOWN_BINS + 1`` are the (always empty) tails of the sketch layout.
DRAWDOWN_BINS = 500
DRAWDOWN_WIDTH = 1.0 / DRAWDOWN_BINS
_DRAWDOWN_QUANTILES = (0.5, 0.95)


def accumulator_bytes(
    n_policies: int, n_metrics: int, n_risk_aversions: int, n_references: int = 1
) -> int:
    """Bytes held by an :class:`Accumulator` of that size (its :attr:`~Accumulator.nbytes`).

    Per half: ``3 n_metrics`` floats per policy for the metric moments and ``3 n_metrics``
    per (reference, policy) for the paired ones, ``3`` per (risk aversion, policy) for the
    utility and ``2`` per (risk aversion, reference, policy) for the paired utility, plus the
    ``HIST_BINS`` int64 wealth histogram and the ``DRAWDOWN_BINS + 2`` int64 drawdown
    histogram per policy, and the path count.
    """
    per_half = (
        3 * n_metrics * n_policies * (1 + n_references)
        + 3 * n_risk_aversions * n_policies
        + 2 * n_risk_aversions * n_references * n_policies
        + (HIST_BINS + DRAWDOWN_BINS + 2) * n_policies
        + 1
    )
    return 2 * per_half * 8


def _chan_merge(
    n_a: np.ndarray,
    mean_a: np.ndarray,
    m2_a: np.ndarray,
    n_b: np.ndarray,
    mean_b: np.ndarray,
    m2_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and centred sum of squares of the union of two samples (Chan et al.)."""
    n = n_a + n_b
    safe = np.where(n > 0, n, 1.0)
    delta = mean_b - mean_a
    mean = np.where(n > 0, mean_a + delta * (n_b / safe), 0.0)
    m2 = np.where(n > 0, m2_a + m2_b + delta * delta * (n_a * n_b / safe), 0.0)
    return n, mean, m2


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and centred sum of squares along the last axis, ignoring NaN."""
    ok = np.isfinite(x)
    n = ok.sum(axis=-1).astype(np.float64)
    safe = np.where(n > 0, n, 1.0)
    xz = np.where(ok, x, 0.0)
    mean = xz.sum(axis=-1) / safe
    dev = np.where(ok, x - mean[..., None], 0.0)
    return n, mean, np.einsum("...i,...i->...", dev, dev)


class Accumulator:
    """Per-policy mergeable sums of a sweep, split into selection and evaluation halves.

    Parameters
    ----------
    n_policies : int
        Policies of the sweep (rows of the metric blocks).
    initial_wealth : float
        ``W0``: the histogram unit and the wealth floor.
    horizon_years : float
        ``T`` of CE returns and fee equivalents.
    policy_names : sequence of str, optional
        Labels of the summary rows.
    metrics : sequence of str
        Names of :data:`mcsim.METRICS` whose mean and paired difference are kept.
    risk_aversions : sequence of float
        CRRA ``g >= 0`` values of the utility sums.
    references : sequence of int
        Policies the paired sums are taken against; the first is the baseline of the fee
        equivalents. A second pass over the evaluation blocks with the winner as a reference
        gives its exact paired differences.
    select_fraction : float
        Share of blocks in the selection half (:func:`mcsim.decision.is_selection_block`).
    wealth_floor : float
        Floor of ruined paths in the utility, as a fraction of ``W0``.
    wealth_metric : str
        The terminal wealth the utility and the histogram use (``"real_terminal_wealth"`` when
        inflation is simulated).
    goal : float, optional
        Also keep ``P(W >= goal)`` (metric ``goal_reached``).
    """

    def __init__(
        self,
        n_policies: int,
        *,
        initial_wealth: float,
        horizon_years: float,
        policy_names: Sequence[str] | None = None,
        metrics: Sequence[str] = DEFAULT_ACCUMULATED_METRICS,
        risk_aversions: Sequence[float] = (3.0,),
        references: Sequence[int] = (0,),
        select_fraction: float = 0.5,
        wealth_floor: float = DEFAULT_WEALTH_FLOOR,
        wealth_metric: str = "terminal_wealth",
        goal: float | None = None,
    ) -> None:
        if int(n_policies) < 1:
            raise ConfigError(f"`n_policies` must be >= 1; got {n_policies}.")
        self.n_policies = int(n_policies)
        self.policy_names = (
            [f"policy_{i}" for i in range(self.n_policies)]
            if policy_names is None
            else list(policy_names)
        )
        if len(self.policy_names) != self.n_policies:
            raise ConfigError(
                f"{len(self.policy_names)} policy names for {self.n_policies} policies."
            )
        self.initial_wealth = as_float(initial_wealth, "initial_wealth", low=0.0, low_open=True)
        self.horizon_years = as_float(horizon_years, "horizon_years", low=0.0, low_open=True)
        for m in (*metrics, wealth_metric):
            if m not in METRICS:
                close = difflib.get_close_matches(m, list(METRICS), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown metric {m!r}.{hint}")
        self.metric_names = [*metrics] + (["goal_reached"] if goal is not None else [])
        self._columns = [METRICS[m].column for m in metrics]
        self.goal = None if goal is None else float(goal)
        self.risk_aversions = tuple(_check_risk_aversion(g) for g in risk_aversions)
        if not self.risk_aversions:
            raise ConfigError("`risk_aversions` must hold at least one value.")
        self.references = tuple(int(r) for r in references)
        if not self.references or any(not 0 <= r < self.n_policies for r in self.references):
            raise ConfigError(
                f"`references` must be policy indices in [0, {self.n_policies}); "
                f"got {list(references)}."
            )
        self.select_fraction = float(select_fraction)
        is_selection_block(0, self.select_fraction)  # validates the fraction
        self.wealth_floor = as_float(
            wealth_floor, "wealth_floor", low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.wealth_metric = wealth_metric
        self._wealth_column = METRICS[wealth_metric].column
        n_h, n_p, n_k = 2, self.n_policies, len(self.metric_names)
        n_g, n_r = len(self.risk_aversions), len(self.references)
        f8 = np.float64
        self.n_paths = np.zeros(n_h, dtype=f8)
        # metric moments: count, mean, centred sum of squares
        self.m_n = np.zeros((n_h, n_p, n_k), dtype=f8)
        self.m_mean = np.zeros((n_h, n_p, n_k), dtype=f8)
        self.m_m2 = np.zeros((n_h, n_p, n_k), dtype=f8)
        # paired differences (policy - reference) of the metrics
        self.d_n = np.zeros((n_h, n_r, n_p, n_k), dtype=f8)
        self.d_mean = np.zeros((n_h, n_r, n_p, n_k), dtype=f8)
        self.d_m2 = np.zeros((n_h, n_r, n_p, n_k), dtype=f8)
        # utility: for g != 1, e = exp((1 - g) log W - shift); for g = 1, log W (shift 0)
        self.u_shift = np.full((n_h, n_g, n_p), -np.inf, dtype=f8)
        self.u_mean = np.zeros((n_h, n_g, n_p), dtype=f8)
        self.u_m2 = np.zeros((n_h, n_g, n_p), dtype=f8)
        # paired utility against each reference r. For g != 1, with R = mean e_p / mean e_r:
        # pair_q = sum (e_p - R e_r)^2 and pair_p = sum (e_p - R e_r) e_r; for g = 1 the mean
        # (pair_p) and centred sum of squares (pair_q) of d = log W_p - log W_r.
        self.pair_q = np.zeros((n_h, n_g, n_r, n_p), dtype=f8)
        self.pair_p = np.zeros((n_h, n_g, n_r, n_p), dtype=f8)
        self.hist = np.zeros((n_h, n_p, HIST_BINS), dtype=np.int64)
        self.dd_hist = np.zeros((n_h, n_p, DRAWDOWN_BINS + 2), dtype=np.int64)

    # -- size --------------------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Bytes held by the sums (see :func:`accumulator_bytes`)."""
        arrays = (
            self.n_paths,
            self.m_n,
            self.m_mean,
            self.m_m2,
            self.d_n,
            self.d_mean,
            self.d_m2,
            self.u_shift,
            self.u_mean,
            self.u_m2,
            self.pair_q,
            self.pair_p,
            self.hist,
            self.dd_hist,
        )
        return int(sum(a.nbytes for a in arrays))

    # -- feeding -----------------------------------------------------------------------------
    def empty_like(self) -> Accumulator:
        """A new, empty accumulator with the same settings."""
        out = copy.copy(self)
        for name in (
            "n_paths",
            "m_n",
            "m_mean",
            "m_m2",
            "d_n",
            "d_mean",
            "d_m2",
            "u_mean",
            "u_m2",
            "pair_q",
            "pair_p",
            "hist",
            "dd_hist",
        ):
            setattr(out, name, np.zeros_like(getattr(self, name)))
        out.u_shift = np.full_like(self.u_shift, -np.inf)
        return out

    def update(self, block_index: int, metrics_block: np.ndarray) -> Accumulator:
        """Add one random block's per-path metrics to its half.

        Parameters
        ----------
        block_index : int
            The block's index in the run: it decides the half.
        metrics_block : ndarray of shape (n_policies, n_paths_in_block, N_METRICS)
            The engine's per-path metrics of the block (columns ``layout.M_*``).

        Returns
        -------
        Accumulator
            ``self``.
        """
        block = np.asarray(metrics_block, dtype=np.float64)
        if (
            block.ndim != 3
            or block.shape[0] != self.n_policies
            or block.shape[2] != (layout.N_METRICS)
        ):
            raise DataError(
                f"metrics block must have shape ({self.n_policies}, n_paths, "
                f"{layout.N_METRICS}); got {block.shape}."
            )
        if block.shape[1] == 0:
            return self
        h = 0 if is_selection_block(block_index, self.select_fraction) else 1
        part = self.empty_like()
        part._fill(h, block)
        return self.merge(part)

    def _fill(self, h: int, block: np.ndarray) -> None:
        """Set half ``h`` of this (empty) accumulator from one block."""
        values = np.moveaxis(block[:, :, self._columns], 2, 1)  # (n_pol, n_k, n)
        wealth = block[:, :, self._wealth_column]
        if not np.all(np.isfinite(wealth)):
            raise DataError(
                f"`{self.wealth_metric}` holds a non-finite value in this block; every path "
                "needs a finite terminal wealth."
            )
        if self.goal is not None:
            hit = (wealth >= self.goal).astype(np.float64)[:, None, :]
            values = np.concatenate([values, hit], axis=1)
        self.n_paths[h] = block.shape[1]
        self.m_n[h], self.m_mean[h], self.m_m2[h] = _moments(values)
        for ri, r in enumerate(self.references):
            d = values - values[r][None]
            self.d_n[h, ri], self.d_mean[h, ri], self.d_m2[h, ri] = _moments(d)
        log_w = np.log(np.maximum(wealth, self.wealth_floor * self.initial_wealth))
        for gi, g in enumerate(self.risk_aversions):
            if g == 1.0:
                self.u_shift[h, gi] = 0.0
                _, self.u_mean[h, gi], self.u_m2[h, gi] = _moments(log_w)
                for ri, r in enumerate(self.references):
                    _, self.pair_p[h, gi, ri], self.pair_q[h, gi, ri] = _moments(log_w - log_w[r])
                continue
            x = (1.0 - g) * log_w
            shift = x.max(axis=1)
            e = np.exp(x - shift[:, None])
            self.u_shift[h, gi] = shift
            _, self.u_mean[h, gi], self.u_m2[h, gi] = _moments(e)
            for ri, r in enumerate(self.references):
                ratio = self.u_mean[h, gi] / self.u_mean[h, gi, r]
                v = e - ratio[:, None] * e[r][None, :]
                self.pair_q[h, gi, ri] = np.einsum("pi,pi->p", v, v)
                self.pair_p[h, gi, ri] = v @ e[r]
        rel = np.where(
            wealth > 0.0, np.log(np.where(wealth > 0.0, wealth, 1.0) / self.initial_wealth), -np.inf
        )
        bins = _histogram_bins(rel)
        for p in range(self.n_policies):
            self.hist[h, p] = np.bincount(bins[p], minlength=HIST_BINS)
        drawdown = block[:, :, METRICS["max_drawdown"].column]
        for p in range(self.n_policies):
            self.dd_hist[h, p] = np.bincount(
                _drawdown_bins(drawdown[p]), minlength=DRAWDOWN_BINS + 2
            )

    # -- merging -----------------------------------------------------------------------------
    def _check_compatible(self, other: Accumulator) -> None:
        same = (
            self.n_policies == other.n_policies
            and self.metric_names == other.metric_names
            and self.risk_aversions == other.risk_aversions
            and self.references == other.references
            and self.select_fraction == other.select_fraction
            and self.wealth_floor == other.wealth_floor
            and self.initial_wealth == other.initial_wealth
            and self.wealth_metric == other.wealth_metric
            and self.goal == other.goal
        )
        if not same:
            raise ConfigError("cannot merge accumulators built with different settings.")

    def merge(self, other: Accumulator) -> Accumulator:
        """Add ``other``'s sums to this accumulator, half by half; returns ``self``.

        Exact for counts and histograms, correct to rounding for the sums. The result depends
        on the order of merges only through rounding: merge per-block accumulators in block
        order (:func:`merge_in_order`) for bit-identical results.
        """
        self._check_compatible(other)
        for h in range(2):
            if other.n_paths[h] == 0:
                continue
            if self.n_paths[h] == 0:
                self._copy_half(other, h)
                continue
            self._merge_state(other, h)
        return self

    def _copy_half(self, other: Accumulator, h: int) -> None:
        self._copy_half_into(other, h, h)

    def _merge_state(self, other: Accumulator, h: int) -> None:
        """Merge half ``h`` of ``other`` into half ``h`` of ``self`` (both non-empty).

        Utility sums of ``g != 1`` are first brought to the common shift
        ``m = max(m_a, m_b)`` (``e`` scales by ``c = exp(m_old - m)``: means by ``c``, centred
        squares by ``c^2``, pair sums by ``c_p c_r`` and ``c_p^2``). The paired sums use each
        side's own ratio ``R_a`` and are moved to the merged ratio ``R``:
        ``sum (e_p - R e_r)^2 = Q_a + 2 (R_a - R) P_a + (R_a - R)^2 E_a`` with
        ``E_a = sum e_r^2``. The corrections are of the size of the sampling error of ``R_a``,
        so nothing cancels, unlike ``sum e_p^2 - 2 R sum e_p e_r + R^2 sum e_r^2``, which loses
        all digits when two policies are close.
        """
        n_a, n_b = self.n_paths[h], other.n_paths[h]
        self.m_n[h], self.m_mean[h], self.m_m2[h] = _chan_merge(
            self.m_n[h],
            self.m_mean[h],
            self.m_m2[h],
            other.m_n[h],
            other.m_mean[h],
            other.m_m2[h],
        )
        self.d_n[h], self.d_mean[h], self.d_m2[h] = _chan_merge(
            self.d_n[h],
            self.d_mean[h],
            self.d_m2[h],
            other.d_n[h],
            other.d_mean[h],
            other.d_m2[h],
        )
        self.hist[h] += other.hist[h]
        self.dd_hist[h] += other.dd_hist[h]
        one = np.array(1.0)
        for gi, g in enumerate(self.risk_aversions):
            if g == 1.0:
                _, self.u_mean[h, gi], self.u_m2[h, gi] = _chan_merge(
                    n_a * one,
                    self.u_mean[h, gi],
                    self.u_m2[h, gi],
                    n_b * one,
                    other.u_mean[h, gi],
                    other.u_m2[h, gi],
                )
                _, self.pair_p[h, gi], self.pair_q[h, gi] = _chan_merge(
                    n_a * one,
                    self.pair_p[h, gi],
                    self.pair_q[h, gi],
                    n_b * one,
                    other.pair_p[h, gi],
                    other.pair_q[h, gi],
                )
                continue
            shift = np.maximum(self.u_shift[h, gi], other.u_shift[h, gi])
            sides = []
            for acc in (self, other):
                c = np.exp(acc.u_shift[h, gi] - shift)
                mean = acc.u_mean[h, gi] * c
                m2 = acc.u_m2[h, gi] * c * c
                refs = list(acc.references)
                c_r = c[refs]  # (n_r,)
                q = acc.pair_q[h, gi] * (c * c)[None, :]
                p = acc.pair_p[h, gi] * c[None, :] * c_r[:, None]
                sides.append((mean, m2, q, p))
            (mean_a, m2_a, q_a, p_a), (mean_b, m2_b, q_b, p_b) = sides
            _, mean, m2 = _chan_merge(n_a * one, mean_a, m2_a, n_b * one, mean_b, m2_b)
            refs = list(self.references)
            ratio = mean[None, :] / mean[refs][:, None]  # (n_r, n_p)
            q_new = np.zeros_like(q_a)
            p_new = np.zeros_like(p_a)
            for n_s, mean_s, m2_s, q_s, p_s in (
                (n_a, mean_a, m2_a, q_a, p_a),
                (n_b, mean_b, m2_b, q_b, p_b),
            ):
                ratio_s = mean_s[None, :] / mean_s[refs][:, None]
                e2_r = (m2_s[refs] + n_s * mean_s[refs] ** 2)[:, None]  # sum e_r^2
                dr = ratio_s - ratio
                q_new += q_s + 2.0 * dr * p_s + dr * dr * e2_r
                p_new += p_s + dr * e2_r
            self.u_shift[h, gi] = shift
            self.u_mean[h, gi] = mean
            self.u_m2[h, gi] = m2
            self.pair_q[h, gi] = q_new
            self.pair_p[h, gi] = p_new
        self.n_paths[h] = n_a + n_b

    def _merged_halves(self) -> Accumulator:
        """A one-half accumulator (half 0) holding both halves, selection merged first."""
        out = self.empty_like()
        out._copy_half(self, 0)
        other = self.empty_like()
        other._copy_half_into(self, 1, 0)
        return out.merge(other)

    def _copy_half_into(self, src: Accumulator, h_src: int, h_dst: int) -> None:
        for name in ("n_paths", *STATE_ARRAYS):
            getattr(self, name)[h_dst] = getattr(src, name)[h_src]

    # -- results -----------------------------------------------------------------------------
    def _half(self, half: str) -> tuple[Accumulator, int]:
        if half == "all":
            return self._merged_halves(), 0
        if half not in HALVES:
            raise ConfigError(f"`half` must be 'all', 'selection' or 'evaluation'; got {half!r}.")
        return self, HALVES.index(half)

    def log_certainty_equivalents(
        self, half: str = "all"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log CE wealth, its SE, and the SE of its paired difference to each reference.

        Returns
        -------
        log_ce, se : ndarray of shape (n_risk_aversions, n_policies)
        pair_se : ndarray of shape (n_risk_aversions, n_references, n_policies)
        """
        acc, h = self._half(half)
        n = acc.n_paths[h]
        if n < 2:
            raise DataError(f"the {half} paths number {int(n)}; at least 2 are needed.")
        log_ce = np.empty((len(self.risk_aversions), self.n_policies))
        se = np.empty_like(log_ce)
        pair_se = np.empty((len(self.risk_aversions), len(self.references), self.n_policies))
        denom = n * (n - 1.0)
        for gi, g in enumerate(self.risk_aversions):
            mean, m2 = acc.u_mean[h, gi], acc.u_m2[h, gi]
            if g == 1.0:
                log_ce[gi] = mean
                se[gi] = np.sqrt(m2 / denom)
                pair_se[gi] = np.sqrt(acc.pair_q[h, gi] / denom)
                continue
            a = 1.0 - g
            log_ce[gi] = (acc.u_shift[h, gi] + np.log(mean)) / a
            se[gi] = np.sqrt(m2 / denom) / (mean * abs(a))
            pair_se[gi] = np.sqrt(np.maximum(acc.pair_q[h, gi], 0.0) / denom) / (
                mean[None, :] * abs(a)
            )
        return log_ce, se, pair_se

    def summary(self, half: str = "all", reference: int = 0) -> pd.DataFrame:
        """Decision figures per (risk aversion, policy) from the sums.

        Parameters
        ----------
        half : {"all", "selection", "evaluation"}
            Which paths.
        reference : int
            Position in ``references`` of the policy paired differences and fee equivalents
            are measured against (0: the baseline).

        Returns
        -------
        DataFrame
            Columns ``risk_aversion``, ``policy``, ``n_paths``, the CE wealth, CE return and
            certainty fee equivalent (bp) columns of :func:`mcsim.decision.ranking_table`
            (with ``_se``), ``mean_M``, ``mean_M_se``, ``diff_M`` and ``diff_M_se`` per
            metric ``M`` (paired difference to the reference), and terminal-wealth quantiles
            ``wealth_p05``, ``wealth_p50``, ``wealth_p95`` from the histogram, and
            maximum-drawdown quantiles ``max_drawdown_p50``, ``max_drawdown_p95`` (fractions)
            from the drawdown histogram, within one bin (``DRAWDOWN_WIDTH``) of the per-path
            quantiles.
        """
        if not 0 <= reference < len(self.references):
            raise ConfigError(
                f"`reference` must be in [0, {len(self.references)}); got {reference}."
            )
        acc, h = self._half(half)
        n = acc.n_paths[h]
        log_ce, se_log, pair_se = self.log_certainty_equivalents(half)
        t = self.horizon_years
        r = self.references[reference]
        q = quantiles_from_histogram(acc.hist[h], HIST_LO, HIST_WIDTH, np.array(_QUANTILES))
        q_dd = quantiles_from_histogram(
            acc.dd_hist[h], 0.0, DRAWDOWN_WIDTH, np.array(_DRAWDOWN_QUANTILES)
        )
        frames = []
        for gi, g in enumerate(self.risk_aversions):
            ce = np.exp(log_ce[gi])
            ce_ret = np.exp((log_ce[gi] - math.log(self.initial_wealth)) / t) - 1.0
            d = log_ce[gi] - log_ce[gi, r]
            growth = np.exp(d / t)
            cols: dict[str, Any] = {
                "risk_aversion": np.full(self.n_policies, g),
                "policy": self.policy_names,
                "n_paths": np.full(self.n_policies, int(n)),
                "certainty_equivalent_wealth": ce,
                "certainty_equivalent_wealth_se": ce * se_log[gi],
                "certainty_equivalent_return": ce_ret,
                "certainty_equivalent_return_se": (1.0 + ce_ret) * se_log[gi] / t,
                "certainty_fee_equivalent_bp": 1e4 * (growth - 1.0),
                "certainty_fee_equivalent_bp_se": 1e4 * growth * pair_se[gi, reference] / t,
            }
            for k, name in enumerate(self.metric_names):
                m_n = acc.m_n[h, :, k]
                d_n = acc.d_n[h, reference, :, k]
                cols[f"mean_{name}"] = acc.m_mean[h, :, k]
                cols[f"mean_{name}_se"] = _se_from(acc.m_m2[h, :, k], m_n)
                cols[f"diff_{name}"] = acc.d_mean[h, reference, :, k]
                cols[f"diff_{name}_se"] = _se_from(acc.d_m2[h, reference, :, k], d_n)
            for j, p in enumerate(_QUANTILES):
                cols[f"wealth_p{round(100 * p):02d}"] = self.initial_wealth * np.exp(q[:, j])
            for j, p in enumerate(_DRAWDOWN_QUANTILES):
                cols[f"max_drawdown_p{round(100 * p):02d}"] = q_dd[:, j]
            frames.append(pd.DataFrame(cols))
        table = pd.concat(frames, ignore_index=True)
        table.attrs["reference"] = self.policy_names[r]
        return table

    def winner(
        self,
        objective: str = "certainty_equivalent",
        *,
        risk_aversion: float | None = None,
        z: float = Z95,
    ) -> dict[str, Any]:
        """The best policy on the selection half and its figures on the evaluation half.

        Parameters
        ----------
        objective : {"certainty_equivalent", "goal_probability"}
            CE wealth, or ``P(W >= goal)`` (needs ``goal``). The ``"cvar"`` objective needs
            per-path values: use :func:`mcsim.decision.select_winner`.
        risk_aversion : float, optional
            One of ``risk_aversions`` (the first when omitted).
        z : float
            Ties: paired difference to the winner within ``z`` SE on the evaluation half.

        Returns
        -------
        dict
            ``winner``, ``selection_value``, ``selection_gain`` and ``selection_gain_se``
            (inflated by the choice), ``evaluation_value``, ``evaluation_se``,
            ``evaluation_gain`` and ``evaluation_gain_se`` (against the baseline,
            ``references[0]``), ``indistinguishable`` (names) and ``exact_ties`` (False when
            the winner is not a reference: the paired SE to the winner is then bounded by
            ``SE(w - b) + SE(j - b)`` (Minkowski), which can only count more ties).
        """
        if objective == "cvar":
            raise ConfigError(
                '`[decision].objective = "cvar"` needs per-path terminal wealth; a sweep '
                'with accumulators supports "certainty_equivalent" and "goal_probability".'
            )
        if objective not in ("certainty_equivalent", "goal_probability"):
            raise ConfigError(f"unknown objective {objective!r}.")
        if objective == "goal_probability" and self.goal is None:
            raise ConfigError(
                '`[decision].objective = "goal_probability"` needs a goal: set `[simulation].goal`.'
            )
        g = self.risk_aversions[0] if risk_aversion is None else float(risk_aversion)
        if g not in self.risk_aversions:
            raise ConfigError(
                f"risk aversion {g:g} is not accumulated; have {list(self.risk_aversions)}."
            )
        gi = self.risk_aversions.index(g)

        def figures(half: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if objective == "certainty_equivalent":
                log_ce, se_log, pair_se = self.log_certainty_equivalents(half)
                ce = np.exp(log_ce[gi])
                # SE of CE_p - CE_r from that of log CE_p - log CE_r (delta method, to first
                # order around equal CEs) scaled by the policy's CE.
                return ce, ce * se_log[gi], ce[None, :] * pair_se[gi]
            h = HALVES.index(half)
            k = len(self.metric_names) - 1
            n = self.m_n[h, :, k]
            return (
                self.m_mean[h, :, k],
                _se_from(self.m_m2[h, :, k], n),
                _se_from(self.d_m2[h, :, :, k], self.d_n[h, :, :, k]),
            )

        sel, _, sel_pair_se = figures("selection")
        ev, ev_se, ev_pair_se = figures("evaluation")
        w = int(np.argmax(sel))
        b = self.references[0]
        if objective == "goal_probability":
            gain = float(self.d_mean[1, 0, w, len(self.metric_names) - 1])
        else:
            gain = float(ev[w] - ev[b])
        exact = w in self.references
        if exact:
            ri = self.references.index(w)
            diff_se = ev_pair_se[ri]
        else:
            diff_se = ev_pair_se[0][w] + ev_pair_se[0]
        tied = [
            self.policy_names[j]
            for j in range(self.n_policies)
            if j != w and ev[w] - ev[j] <= z * diff_se[j]
        ]
        return {
            "winner": self.policy_names[w],
            "winner_index": w,
            "objective": objective,
            "selection_value": float(sel[w]),
            "selection_gain": float(sel[w] - sel[b]),
            "selection_gain_se": float(sel_pair_se[0][w]),
            "evaluation_value": float(ev[w]),
            "evaluation_se": float(ev_se[w]),
            "evaluation_gain": gain,
            "evaluation_gain_se": float(ev_pair_se[0][w]),
            "indistinguishable": tuple(tied),
            "exact_ties": exact,
        }


def _se_from(m2: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Standard error of a mean from its centred sum of squares and count (NaN below 2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 2, np.sqrt(np.maximum(m2, 0.0) / (n * (n - 1.0))), np.nan)


def _histogram_bins(log_value: np.ndarray) -> np.ndarray:
    """Bins of the engine's sketch (same rule as ``kernels._stats.histogram_bin_nb``)."""
    inv_width = 1.0 / HIST_WIDTH
    with np.errstate(invalid="ignore"):
        ok = log_value >= HIST_LO
        k = np.where(ok, (np.where(ok, log_value, HIST_LO) - HIST_LO) * inv_width, 0.0)
    # Clip before the cast: a float beyond int64 has no defined conversion.
    k = np.minimum(k, HIST_BINS)
    k = np.where(ok, np.minimum(k.astype(np.int64) + 1, HIST_BINS - 1), 0)
    return k.astype(np.int64)


def _drawdown_bins(drawdown: np.ndarray) -> np.ndarray:
    """Bins of the maximum-drawdown histogram: interior bin ``1 + floor(d / width)``, with a
    drawdown of exactly 1 (ruin) in the last interior bin; a non-finite value (none is
    expected) in the upper tail bin, so it is counted and visible rather than dropped."""
    d = np.clip(np.where(np.isfinite(drawdown), drawdown, 0.0), 0.0, 1.0)
    k = np.minimum((d * DRAWDOWN_BINS).astype(np.int64) + 1, DRAWDOWN_BINS)
    return np.where(np.isfinite(drawdown), k, DRAWDOWN_BINS + 1)


def merge_in_order(accumulators: Iterable[Accumulator]) -> Accumulator:
    """Merge per-block accumulators in the order given (block order for reproducibility).

    The first is copied, never modified.
    """
    it = iter(accumulators)
    try:
        first = next(it)
    except StopIteration:
        raise ConfigError("no accumulators to merge.") from None
    out = first.empty_like().merge(first)
    for acc in it:
        out.merge(acc)
    return out
