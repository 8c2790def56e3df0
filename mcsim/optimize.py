"""The optimal band width of a threshold policy, searched on common random numbers.

:func:`optimize_band` runs, for each proportional cost asked for, a grid of band widths of one
threshold policy on the same paths (the scenario's seed), finds the width that maximises the
certainty-equivalent wealth, and refines the grid around it on the very same paths (successive
grid refinement). The optimum is the vertex of a parabola in ``log(band)`` through the best
points, so it moves smoothly with the cost rather than in grid steps; its standard error comes
from the spread of the vertices of disjoint groups of random blocks. For a two-asset lognormal
market the optimum is put next to the leading-order no-trade band
(:func:`mcsim.band_theory.no_trade_half_width`), and ``band = A cost^slope`` is fitted across
the costs (:func:`mcsim.band_theory.fit_power_law`) so the slope can be read against 1/3.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .band_theory import PowerLawFit, fit_power_law, merton_weight, no_trade_half_width
from .config import Scenario
from .costs import CostModel
from .decision import DecisionConfig, log_certainty_equivalent
from .engine import run
from .errors import ConfigError
from .models import GaussianModel
from .output import check_folder, locked, write_staged
from .policies import Threshold
from .report.band_theory import band_theory_page

__all__ = ["BAND_STUDY_FILES", "BandStudy", "optimize_band"]

#: The files :meth:`BandStudy.save` writes, by key.
BAND_STUDY_FILES = {
    "table": "band_theory.csv",
    "curves": "band_curves.csv",
    "report": "band_theory.html",
}

DEFAULT_COSTS_BPS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
_COARSE = tuple(np.geomspace(0.004, 0.4, 15))
_REFINE_POINTS = 9
_GROUPS = 8  # disjoint groups of blocks for the optimum's standard error


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BandStudy:
    """Optimal band widths across costs, next to the asymptotic formula.

    Attributes
    ----------
    table : DataFrame
        One row per cost: ``cost_bps``, ``optimal_band``, ``optimal_band_se``,
        ``theory_band`` (NaN when the market is not two-asset lognormal),
        ``certainty_equivalent_wealth`` at the optimum, and ``n_points`` searched.
    curves : DataFrame
        Every band searched: ``cost_bps``, ``band``, ``certainty_equivalent_wealth``.
    fit : PowerLawFit or None
        ``band = A cost^slope`` fitted across the costs (None with fewer than 3 costs).
    policy : str
        The threshold policy whose band was searched.
    risk_aversion : float
    merton_weight : float or None
        The frictionless weight of the first asset (two-asset lognormal markets only).
    scenario : str
        Name of the scenario searched (the report's title).
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    fit: PowerLawFit | None
    policy: str
    risk_aversion: float
    merton_weight: float | None
    scenario: str = ""

    def lines(self) -> list[str]:
        """The table and the fitted slope as the CLI prints them."""
        out = [f"optimal band of {self.policy!r} (risk aversion {self.risk_aversion:g}):"]
        shown = self.table.copy()
        with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
            out.append(shown.to_string(index=False))
        if self.fit is not None:
            out.append(
                f"fitted band ~ cost^{self.fit.slope:.3f} +/- {self.fit.slope_se:.3f} "
                f"(cube-root law: 0.333; {self.fit.z_score():+.1f} standard errors away)"
            )
        return out

    def report_html(self) -> str:
        """The study's page: the band-versus-theory chart, the curves searched, the table."""
        fit = self.fit
        title = f"Optimal band of {self.policy!r}" + (
            f" in {self.scenario}" if self.scenario else ""
        )
        return band_theory_page(
            self.table,
            self.curves,
            title=title,
            lines=self.lines(),
            slope=None if fit is None else fit.slope,
            slope_se=None if fit is None else fit.slope_se,
            intercept=None if fit is None else fit.intercept,
        )

    def save(self, out: str | os.PathLike[str], *, out_name: str = "out") -> dict[str, Path]:
        """Write ``band_theory.csv`` (the table), ``band_curves.csv`` (every band searched)
        and ``band_theory.html`` (:meth:`report_html`) into the folder ``out``.

        The files are written to a staging folder and moved in once all exist, so a failed
        write leaves the files already in ``out`` as they were.

        Parameters
        ----------
        out : path
            The folder (created if needed).
        out_name : str
            How messages name ``out`` (the command line passes ``"--out"``).

        Returns
        -------
        dict of str to Path
            The files written, by the keys of :data:`BAND_STUDY_FILES`.

        Raises
        ------
        OutputError
            When the folder cannot be used or a file cannot be written.
        """
        folder = check_folder(out, out_name)

        def writer(staging: Path) -> dict[str, Path]:
            paths = {k: staging / name for k, name in BAND_STUDY_FILES.items()}
            self.table.to_csv(paths["table"], index=False)
            self.curves.to_csv(paths["curves"], index=False)
            paths["report"].write_text(self.report_html(), encoding="utf-8")
            return paths

        with locked(folder, out_name):
            return write_staged(folder, writer, label=out_name)


def _threshold(scenario: Scenario, policy: str | None) -> Threshold:
    names = [p.name for p in scenario.policies]
    if policy is None:
        for p in scenario.policies:
            if isinstance(p, Threshold):
                return p
        raise ConfigError(
            '`optimize-band` needs a threshold policy in the scenario (kind = "threshold"); '
            f"policies: {', '.join(names)}."
        )
    if policy not in names:
        raise ConfigError(f"`--policy` = {policy!r} is not a policy; choose one of {names}.")
    p = scenario.policies[names.index(policy)]
    if not isinstance(p, Threshold):
        raise ConfigError(
            f"`--policy` = {policy!r} is a {p.kind!r} policy; the band search needs a "
            '"threshold" policy.'
        )
    return p


def _two_asset_merton(scenario: Scenario, gamma: float) -> float | None:
    """Merton weight of the first asset against the second, risky, one (lognormal only)."""
    model = scenario.model
    if not isinstance(model, GaussianModel) or len(model.series_names) != 2:
        return None
    mu = np.asarray(model.mu_, dtype=float)
    cov = np.asarray(model.cov_, dtype=float)
    if cov[1, 1] <= 0.04 * cov[0, 0]:
        # A nearly safe second asset: the one-risky-asset formula with its mean as the rate.
        return merton_weight(float(mu[0]), math.sqrt(cov[0, 0]), gamma, rate=float(mu[1]))
    return None


def _vertex(bands: np.ndarray, log_ce: np.ndarray) -> float:
    """Argmax of a parabola in log(band) through the best point and its neighbours."""
    k = int(np.argmax(log_ce))
    lo, hi = max(0, k - 2), min(len(bands), k + 3)
    x, y = np.log(bands[lo:hi]), log_ce[lo:hi]
    if len(x) >= 3:
        a, b, _ = np.polyfit(x, y, 2)
        if a < 0:
            v = -b / (2 * a)
            return float(np.exp(np.clip(v, x.min(), x.max())))
    return float(bands[k])


def _search(
    scenario: Scenario,
    base: Threshold,
    bands: Sequence[float],
    gamma: float,
    floor: float,
    n_jobs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log CE per band on all paths, and per group of blocks."""
    pols = [
        dataclasses.replace(base, name=f"{base.name}[band={b:.6g}]", band=float(b)) for b in bands
    ]
    sc = dataclasses.replace(scenario, policies=pols, baseline=pols[0].name, sweeps=())
    res = run(sc, n_jobs=n_jobs)
    sim = sc.simulation
    w = res._decision_wealth()
    log_ce = np.asarray(
        log_certainty_equivalent(w, gamma, initial_wealth=sim.initial_wealth, wealth_floor=floor)[0]
    )
    blocks = np.arange(sim.n_paths) // sim.block_size
    groups = blocks % min(_GROUPS, sim.n_blocks)
    per_group = np.array(
        [
            log_certainty_equivalent(
                w[:, groups == g], gamma, initial_wealth=sim.initial_wealth, wealth_floor=floor
            )[0]
            for g in range(int(groups.max()) + 1)
        ]
    )
    return np.asarray(bands, dtype=float), log_ce, per_group


def optimize_band(
    scenario: Scenario,
    *,
    policy: str | None = None,
    costs_bps: Sequence[float] = DEFAULT_COSTS_BPS,
    n_paths: int | None = None,
    seed: int | None = None,
    n_jobs: int = 1,
    bands: Sequence[float] = _COARSE,
) -> BandStudy:
    """Search the band width that maximises CE wealth, for each proportional cost.

    Parameters
    ----------
    scenario : Scenario
        Its model, horizon and seed are used; its costs are replaced by each
        ``proportional_bps`` in turn (no other cost).
    policy : str, optional
        The threshold policy whose ``band`` is searched (its check frequency and trade-to
        rule are kept); the first threshold policy when omitted.
    costs_bps : sequence of float
        Proportional costs (bp of the value traded) to search at.
    n_paths, seed : int, optional
        Override ``[simulation]``. Every band and every cost sees the same paths.
    n_jobs : int
        Workers; results do not depend on it.
    bands : sequence of float
        The coarse grid of band widths; a finer grid around its best follows.

    Returns
    -------
    BandStudy

    Raises
    ------
    ConfigError
        No threshold policy (or ``policy`` not one), a cost < 0, or an empty cost list.
    """
    costs = [float(c) for c in costs_bps]
    if not costs or any(not (math.isfinite(c) and c > 0) for c in costs):
        raise ConfigError(f"`--costs` must be positive numbers of bp, such as 1,2,5; got {costs}.")
    base = _threshold(scenario, policy)
    decision = scenario.decision or DecisionConfig()
    gamma = decision.risk_aversion[0]
    if n_paths is not None or seed is not None:
        changes = {} if n_paths is None else {"n_paths": n_paths}
        if seed is not None:
            changes["seed"] = seed
        scenario = scenario.replace(**changes)
    if scenario.simulation.seed is None:
        # Common random numbers across costs and grids need one fixed stream.
        scenario = scenario.replace(seed=int(np.random.SeedSequence().entropy % 2**63))
    pi = _two_asset_merton(scenario, gamma)
    rows, curves = [], []
    for c in costs:
        sc = dataclasses.replace(scenario, costs=CostModel(proportional_bps=c))
        b1, ce1, g1 = _search(sc, base, bands, gamma, decision.wealth_floor, n_jobs)
        k = int(np.argmax(ce1))
        lo = b1[max(0, k - 1)]
        hi = b1[min(len(b1) - 1, k + 1)]
        b2, ce2, g2 = _search(
            sc, base, np.geomspace(lo, hi, _REFINE_POINTS), gamma, decision.wealth_floor, n_jobs
        )
        allb = np.concatenate((b1, b2))
        order = np.argsort(allb)
        allb, allce = allb[order], np.concatenate((ce1, ce2))[order]
        allg = np.concatenate((g1, g2), axis=1)[:, order]
        best = _vertex(allb, allce)
        group_best = np.array([_vertex(allb, gce) for gce in allg])
        se = float(np.std(group_best, ddof=1) / math.sqrt(len(group_best)))
        theory = (
            float(no_trade_half_width(c / 1e4, gamma, pi, bond_cost=c / 1e4))
            if pi is not None and 0 <= pi <= 1
            else math.nan
        )
        rows.append(
            {
                "cost_bps": c,
                "optimal_band": best,
                "optimal_band_se": se,
                "theory_band": theory,
                "certainty_equivalent_wealth": float(np.exp(allce.max())),
                "n_points": len(allb),
            }
        )
        curves.append(
            pd.DataFrame(
                {"cost_bps": c, "band": allb, "certainty_equivalent_wealth": np.exp(allce)}
            )
        )
    table = pd.DataFrame(rows)
    fit = None
    if len(costs) >= 3:
        se = np.maximum(table["optimal_band_se"].to_numpy(), 1e-6)
        fit = fit_power_law(table["cost_bps"].to_numpy() / 1e4, table["optimal_band"], se)
    return BandStudy(
        table=table,
        curves=pd.concat(curves, ignore_index=True),
        fit=fit,
        policy=base.name,
        risk_aversion=gamma,
        merton_weight=pi,
        scenario=scenario.name,
    )
