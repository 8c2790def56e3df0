"""Choosing a policy from a run: the ranking table and the honest winner.

The engine runs the named policies with per-path tables and a sweep's grid points as
mergeable sums (:class:`~mcsim.accumulators.Accumulator`); this module turns either into the
same two things: a ranking table (one row per policy and risk aversion, written as
``ranking.csv``) and a :class:`Winner`, chosen on the selection half of the paths and judged
on the evaluation half only (see ``docs/choosing.md``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .decision import (
    Z95,
    DecisionConfig,
    ranking_table,
    select_winner,
    selection_mask,
)

if TYPE_CHECKING:
    # Only for annotations: the accumulators read metric names from mcsim.results, which
    # itself builds rankings with this module.
    from .accumulators import Accumulator
    from .sweeps import SweepConfig

__all__ = [
    "SweepOutcome",
    "Winner",
    "per_path_ranking",
    "per_path_winner",
    "sweep_ranking",
    "sweep_winner",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Winner:
    """The policy chosen on the selection paths, with figures from the evaluation paths.

    Attributes
    ----------
    name : str
        The chosen policy.
    objective : str
        What was maximised.
    risk_aversion : float
        The CRRA risk aversion of the choice.
    baseline : str
        The policy fee equivalents are measured against.
    selection_value : float
        The winner's objective on the selection paths (inflated by the choice).
    evaluation_value, evaluation_se : float
        Its objective on the evaluation paths, which played no part in choosing it.
    fee_equivalent_bp, fee_equivalent_se_bp : float
        Its certainty fee equivalent against the baseline on the evaluation paths (bp/yr).
    fee_equivalent_ci_bp : tuple of float
        95 % interval of that fee equivalent.
    indistinguishable : tuple of str
        Other policies whose objective on the evaluation paths is within 1.96 SE of the
        winner's (paired).
    n_candidates : int
        Policies the winner was chosen among.
    """

    name: str
    objective: str
    risk_aversion: float
    baseline: str
    selection_value: float
    evaluation_value: float
    evaluation_se: float
    fee_equivalent_bp: float
    fee_equivalent_se_bp: float
    fee_equivalent_ci_bp: tuple[float, float]
    indistinguishable: tuple[str, ...]
    n_candidates: int

    @property
    def n_indistinguishable(self) -> int:
        """Number of other candidates statistically tied with the winner."""
        return len(self.indistinguishable)

    def line(self, grid_points: Sequence[str] | None = None) -> str:
        """The one-line verdict the CLI prints.

        Parameters
        ----------
        grid_points : sequence of str, optional
            Names of a sweep's grid points: the ties are then counted among them.
        """
        lo, hi = self.fee_equivalent_ci_bp
        if grid_points is not None:
            points = set(grid_points)
            n = sum(1 for p in self.indistinguishable if p in points)
            what = "grid point" if n == 1 else "grid points"
        else:
            n = self.n_indistinguishable
            what = "other policy" if n == 1 else "other policies"
        verb = "is" if n == 1 else "are"
        return (
            f"winner on paths of the selection half: {self.name}; on the evaluation half its "
            f"fee equivalent is {self.fee_equivalent_bp:+.1f} bp/yr [{lo:+.1f}, {hi:+.1f}] "
            f"against {self.baseline}; {n} {what} {verb} indistinguishable from it."
        )

    def to_dict(self) -> dict[str, Any]:
        """The winner as a JSON-able table (for the manifest)."""
        return {
            "name": self.name,
            "objective": self.objective,
            "risk_aversion": self.risk_aversion,
            "baseline": self.baseline,
            "selection_value": self.selection_value,
            "evaluation_value": self.evaluation_value,
            "evaluation_se": self.evaluation_se,
            "fee_equivalent_bp": self.fee_equivalent_bp,
            "fee_equivalent_se_bp": self.fee_equivalent_se_bp,
            "fee_equivalent_ci_bp": list(self.fee_equivalent_ci_bp),
            "n_indistinguishable": self.n_indistinguishable,
            "n_candidates": self.n_candidates,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SweepOutcome:
    """What a sweep produced besides the per-path tables of its kept policies.

    Attributes
    ----------
    accumulator : Accumulator
        The merged sums of every policy (named first, then the grid points).
    sweeps : tuple of SweepConfig
        The scenario's ``[[sweeps]]`` tables.
    point_names : tuple of str
        Every grid point, in run order.
    kept : tuple of str
        Grid points whose per-path tables the result holds (the winner and the best few).
    winner : Winner
    ranking : DataFrame
        The ranking table of every policy (see :func:`sweep_ranking`).
    """

    accumulator: Accumulator
    sweeps: tuple[SweepConfig, ...]
    point_names: tuple[str, ...]
    kept: tuple[str, ...]
    winner: Winner
    ranking: pd.DataFrame


def _ci(value: np.ndarray, se: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    return value - Z95 * se * scale, value + Z95 * se * scale


def _rank(table: pd.DataFrame) -> pd.Series:
    return (
        table.groupby("risk_aversion")["objective_value"]
        .rank(ascending=False, method="min")
        .astype(np.int64)
    )


def sweep_ranking(acc: Accumulator, decision: DecisionConfig) -> pd.DataFrame:
    """Ranking table of every policy of a sweep, from its merged sums (all paths).

    Columns as :func:`mcsim.decision.ranking_table` for the CE wealth, CE return and
    certainty fee equivalent (each with ``_se``, ``_ci_low``, ``_ci_high``; intervals on the
    log scale), ``goal_probability`` (with a goal), ``objective_value``, ``objective_se``,
    ``rank``, the means of the accumulated metrics (``mean_turnover``, ``mean_costs``,
    ``mean_max_drawdown``, ...), and ``max_drawdown_p95``, the 95th percentile of the
    maximum drawdown (a fraction, from the accumulators' drawdown histogram, within
    :data:`mcsim.accumulators.DRAWDOWN_WIDTH`).
    """
    s = acc.summary("all")
    t = acc.horizon_years
    w0 = acc.initial_wealth
    out = pd.DataFrame({"risk_aversion": s["risk_aversion"], "policy": s["policy"]})
    ce, ce_se = s["certainty_equivalent_wealth"], s["certainty_equivalent_wealth_se"]
    log_se = ce_se / ce
    out["certainty_equivalent_wealth"] = ce
    out["certainty_equivalent_wealth_se"] = ce_se
    out["certainty_equivalent_wealth_ci_low"] = ce * np.exp(-Z95 * log_se)
    out["certainty_equivalent_wealth_ci_high"] = ce * np.exp(Z95 * log_se)
    ret = s["certainty_equivalent_return"]
    out["certainty_equivalent_return"] = ret
    out["certainty_equivalent_return_se"] = s["certainty_equivalent_return_se"]
    out["certainty_equivalent_return_ci_low"] = (ce * np.exp(-Z95 * log_se) / w0) ** (1 / t) - 1
    out["certainty_equivalent_return_ci_high"] = (ce * np.exp(Z95 * log_se) / w0) ** (1 / t) - 1
    cfe, cfe_se = s["certainty_fee_equivalent_bp"], s["certainty_fee_equivalent_bp_se"]
    d = t * np.log1p(cfe / 1e4)  # log CE difference to the baseline
    d_se = t * cfe_se / (1e4 + cfe)
    out["certainty_fee_equivalent_bp"] = cfe
    out["certainty_fee_equivalent_bp_se"] = cfe_se
    out["certainty_fee_equivalent_bp_ci_low"] = 1e4 * (np.exp((d - Z95 * d_se) / t) - 1)
    out["certainty_fee_equivalent_bp_ci_high"] = 1e4 * (np.exp((d + Z95 * d_se) / t) - 1)
    if acc.goal is not None:
        out["goal_probability"] = s["mean_goal_reached"]
        out["goal_probability_se"] = s["mean_goal_reached_se"]
    out["objective"] = decision.objective
    if decision.objective == "goal_probability":
        out["objective_value"] = s["mean_goal_reached"]
        out["objective_se"] = s["mean_goal_reached_se"]
    else:
        out["objective_value"] = ce
        out["objective_se"] = ce_se
    out["n_paths"] = s["n_paths"]
    for m in ("turnover", "costs", "taxes", "max_drawdown", "cagr"):
        if f"mean_{m}" in s:
            out[f"mean_{m}"] = s[f"mean_{m}"]
    out["max_drawdown_p95"] = s["max_drawdown_p95"]
    out["rank"] = _rank(out)
    out.attrs["baseline"] = s.attrs.get("reference")
    return out


def sweep_winner(acc: Accumulator, decision: DecisionConfig) -> Winner:
    """The sweep's winner on the selection half, judged on the evaluation half (from sums)."""
    g = decision.risk_aversion[0]
    w = acc.winner(decision.objective, risk_aversion=g)
    ev = acc.summary("evaluation")
    row = ev.loc[(ev["risk_aversion"] == g) & (ev["policy"] == w["winner"])].iloc[0]
    return _winner(
        w["winner"],
        decision,
        g,
        acc.policy_names[acc.references[0]],
        w["selection_value"],
        w["evaluation_value"],
        w["evaluation_se"],
        float(row["certainty_fee_equivalent_bp"]),
        float(row["certainty_fee_equivalent_bp_se"]),
        acc.horizon_years,
        w["indistinguishable"],
        acc.n_policies,
    )


def _winner(
    name: str,
    decision: DecisionConfig,
    g: float,
    baseline: str,
    sel: float,
    ev: float,
    ev_se: float,
    cfe: float,
    cfe_se: float,
    horizon: float,
    tied: Sequence[str],
    n: int,
) -> Winner:
    d = horizon * math.log1p(cfe / 1e4)
    d_se = horizon * cfe_se / (1e4 + cfe)
    ci = (
        1e4 * (math.exp((d - Z95 * d_se) / horizon) - 1),
        1e4 * (math.exp((d + Z95 * d_se) / horizon) - 1),
    )
    return Winner(
        name=name,
        objective=decision.objective,
        risk_aversion=g,
        baseline=baseline,
        selection_value=float(sel),
        evaluation_value=float(ev),
        evaluation_se=float(ev_se),
        fee_equivalent_bp=cfe,
        fee_equivalent_se_bp=cfe_se,
        fee_equivalent_ci_bp=ci,
        indistinguishable=tuple(tied),
        n_candidates=n,
    )


def per_path_ranking(
    wealth: np.ndarray,
    names: Sequence[str],
    *,
    baseline: str,
    horizon_years: float,
    initial_wealth: float,
    decision: DecisionConfig,
    goal: float | None,
) -> pd.DataFrame:
    """Ranking table of policies with per-path terminal wealth (:func:`ranking_table`)."""
    return ranking_table(
        wealth, list(names), baseline, horizon_years, initial_wealth, decision, goal=goal
    )


def per_path_winner(
    wealth: np.ndarray,
    names: Sequence[str],
    *,
    baseline: str,
    horizon_years: float,
    initial_wealth: float,
    block_size: int,
    decision: DecisionConfig,
    goal: float | None,
) -> Winner:
    """The winner of policies with per-path terminal wealth, chosen and judged on halves."""
    g = decision.risk_aversion[0]
    names = list(names)
    sel = select_winner(
        wealth,
        names,
        block_size=block_size,
        initial_wealth=initial_wealth,
        config=decision,
        baseline=baseline,
        risk_aversion=g,
        goal=goal,
    )
    mask = selection_mask(wealth.shape[1], block_size, decision.select_fraction)
    one = DecisionConfig(
        risk_aversion=(g,),
        objective=decision.objective,
        baseline=decision.baseline,
        select_fraction=decision.select_fraction,
        cvar_level=decision.cvar_level,
        wealth_floor=decision.wealth_floor,
    )
    ev = ranking_table(
        wealth[:, ~mask], names, baseline, horizon_years, initial_wealth, one, goal=goal
    )
    row = ev.loc[ev["policy"] == sel.winner].iloc[0]
    return _winner(
        sel.winner,
        decision,
        g,
        sel.baseline,
        sel.selection_value,
        sel.evaluation_value,
        sel.evaluation_se,
        float(row["certainty_fee_equivalent_bp"]),
        float(row["certainty_fee_equivalent_bp_se"]),
        horizon_years,
        sel.indistinguishable,
        len(names),
    )
