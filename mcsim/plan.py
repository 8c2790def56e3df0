"""The plan of a run: a scenario checked against its data, its model fitted, as kernel arrays.

:func:`prepare` does every check that can fail before any path is simulated, and returns a
:class:`RunPlan` that the engine's blocks read and never change. The scenario is never
changed: its model is fitted as a copy, which the plan (and the scenario it records) hold.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._validation import as_weights
from .config import Scenario
from .data import infer_periods_per_year, load_returns, resample_returns
from .errors import ConfigError, DataError, McsimError
from .failure import FailureConfig
from .flows import flows_array
from .frictions import friction_arrays
from .models import ReturnModel
from .policies import KernelPolicy, PolicyContext
from .stress import ResolvedStress, StressContext, resolve

__all__ = ["RunPlan", "load_history", "prepare"]

# Paths simulated together inside a block: returns of a chunk stay within about 1 MiB.
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RunPlan:
    """Everything a block needs, as arrays: built once per run by :func:`prepare`."""

    scenario: Scenario
    model: ReturnModel
    asset_names: list[str]
    series_names: list[str]
    inflation_index: int  # column of the inflation series among the simulated ones, or -1
    policies: list[KernelPolicy]
    asset_params: np.ndarray
    flows: np.ndarray
    tax_params: np.ndarray
    grid_steps: np.ndarray
    entropy: int
    n_noise: int = 0
    history: pd.DataFrame | None = field(default=None, repr=False)
    history_periods_per_year: int | None = None
    # Grid points of the scenario's sweeps: run on the same blocks after `policies`, kept as
    # mergeable accumulators rather than per-path tables (see mcsim.engine's sweep section).
    sweep_policies: list[KernelPolicy] = field(default_factory=list)
    # Stress testing: the resolved stresses (one stressed variant each), the failure
    # conditions, the constant-mix weights the path features are measured on, and the
    # start dates of the paths when they are the data's rolling windows.
    stresses: tuple[ResolvedStress, ...] = ()
    failure: FailureConfig | None = None
    target_weights: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    window_starts: pd.DatetimeIndex | None = field(default=None, repr=False)

    @property
    def replays_history(self) -> bool:
        """Whether the paths are the data's rolling windows (no random numbers are drawn)."""
        return not getattr(self.model, "draws_random_numbers", True)

    def fill_chunk(self, rng: np.random.Generator, first: int, out: np.ndarray) -> None:
        """Fill ``out`` with the returns of the paths ``first, first + 1, ...``.

        A random model draws them from ``rng`` (the block's stream, in path order); the
        historical-windows model copies the windows ``first, ...`` of its data.
        """
        steps = self.scenario.simulation.steps_per_year
        if self.replays_history:
            self.model.windows_into(first, out, steps)
        else:
            self.model.simulate_into(rng, out, steps)

    @property
    def n_assets(self) -> int:
        return len(self.asset_names)

    @property
    def n_steps(self) -> int:
        return self.scenario.simulation.n_steps

    @property
    def sketch_rows(self) -> int:
        """Rows of a named policy's wealth sketch: one per grid point, twice that when
        the run simulates inflation (real wealth in the second half)."""
        return self.grid_steps.size * (2 if self.inflation_index >= 0 else 1)

    @property
    def chunk_size(self) -> int:
        per_path = self.n_steps * len(self.series_names) * 8
        return int(max(1, min(self.scenario.simulation.block_size, _CHUNK_BYTES // per_path)))

    def block_range(self, block: int) -> tuple[int, int]:
        """First and one-past-last global path index of ``block``."""
        sim = self.scenario.simulation
        start = block * sim.block_size
        return start, min(start + sim.block_size, sim.n_paths)

    def block_rng(self, block: int) -> np.random.Generator:
        """The generator of ``block``: its own stream, derived from (entropy, block)."""
        return np.random.default_rng(np.random.SeedSequence(self.entropy, spawn_key=(block,)))


def load_history(scenario: Scenario) -> tuple[pd.DataFrame, int]:
    """The scenario's history as simple returns per period, and its periods per year."""
    data = scenario.data
    assert data is not None
    columns = None
    if data.columns is not None:
        columns = list(data.columns)
    try:
        history = load_returns(
            data.resolved_source(),
            kind=data.kind,
            columns=columns,
            start=data.start,
            end=data.end,
            periods_per_year=data.periods_per_year,
        )
    except DataError as e:
        where = (
            "`[data].columns`"
            if str(e).startswith(("Unknown column", "Column "))
            else "`[data].source`"
        )
        raise DataError(f"{where} = {data.source!r}: {e}") from e
    if data.inflation is not None and data.inflation not in history.columns:
        if columns is not None:
            # Load the inflation column separately so an error names `[data].inflation`.
            try:
                extra = load_returns(
                    data.resolved_source(),
                    kind=data.kind,
                    columns=[data.inflation],
                    start=data.start,
                    end=data.end,
                    periods_per_year=data.periods_per_year,
                )
            except DataError as e:
                raise DataError(f"`[data].inflation` = {data.inflation!r}: {e}") from e
            history = history.join(extra, how="inner")
    if data.inflation is not None and data.inflation not in history.columns:
        raise DataError(
            f"`[data].inflation` = {data.inflation!r} is not a column of the data; columns: "
            f"{', '.join(map(str, history.columns))}."
        )
    ppy = data.periods_per_year or history.attrs.get("periods_per_year")
    if ppy is None:
        ppy = infer_periods_per_year(history.index)
    steps = scenario.simulation.steps_per_year
    if ppy > steps and ppy % steps == 0:
        history = resample_returns(history, steps)
        ppy = steps
    return history, int(ppy)


def prepare(scenario: Scenario, *, seed: int | np.random.SeedSequence | None = None) -> RunPlan:
    """Validate the scenario against its data, fit the model and build kernel arrays.

    Every check that can fail does so here, before any path is simulated. A scenario whose
    custom rule was read from a file without ``allow_code`` (nothing imported) is refused
    first, before any data is read.

    ``scenario`` is not changed: its model is copied, and the copy is fitted. The plan's
    ``scenario`` is the scenario as run, holding that fitted copy (so its ``to_dict()``
    records the fitted parameters), and ``model`` is the same copy.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    seed : int or SeedSequence, optional
        Overrides ``[simulation].seed``; without either, fresh entropy is drawn.

    Returns
    -------
    RunPlan

    Raises
    ------
    ConfigError, DataError
        For a scenario its data or model cannot run.
    """
    scenario.check_code()
    sim = scenario.simulation
    # Fitting and the simulation caches of a model change it: work on a copy, so a scenario
    # run twice (or two scenarios built from one) never sees another run's fit.
    model = scenario.model.copy()
    history = None
    history_ppy = None
    if scenario.data is not None:
        history, history_ppy = load_history(scenario)
        if model.needs_history:
            try:
                model.fit(history, periods_per_year=history_ppy)
            except McsimError:
                raise
            except (ValueError, np.linalg.LinAlgError) as e:
                raise DataError(f"Fitting the {model.kind!r} model failed: {e}") from e
    model.check_fitted()
    window_starts = None
    if getattr(model, "draws_random_numbers", True):
        # One tiny draw surfaces simulation-time errors (a step the model cannot take, such
        # as monthly steps from an annual bootstrap) here, before any block runs.
        model.simulate_into(
            np.random.default_rng(0), np.empty((1, 1, len(model.series_names))), sim.steps_per_year
        )
    else:
        # History replayed: one path per rolling window of the data, whatever n_paths says.
        window_starts = model.window_starts(sim.n_steps, sim.steps_per_year)
        sim = dataclasses.replace(sim, n_paths=len(window_starts))
        model.windows_into(
            0, np.empty((1, sim.n_steps, len(model.series_names))), sim.steps_per_year
        )
    series = model.series_names
    inflation_name = scenario.data.inflation if scenario.data is not None else None
    inflation_index = series.index(inflation_name) if inflation_name in series else -1
    assets = [s for s in series if s != inflation_name]
    unknown = [k for k in scenario.target if k not in assets]
    if unknown:
        raise ConfigError(
            f"`[portfolio].target` names {unknown[0]!r}, which the model does not simulate; "
            f"assets are: {', '.join(assets)}."
        )
    target = as_weights(scenario.target, "[portfolio].target", assets)

    if sim.risk_free is not None and sim.risk_free not in assets:
        close = difflib.get_close_matches(sim.risk_free, assets, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"`[simulation].risk_free` = {sim.risk_free!r} is not an asset the model "
            f"simulates.{hint} Assets: {', '.join(assets)}."
        )
    mu, cov = _model_moments(model, series, assets)
    ctx = PolicyContext(
        asset_names=assets,
        steps_per_year=sim.steps_per_year,
        n_steps=sim.n_steps,
        target=target,
        mu=mu,
        cov=cov,
        initial_wealth=float(sim.initial_wealth),
        risk_free_index=-1 if sim.risk_free is None else assets.index(sim.risk_free),
    )
    policies = [p.to_kernel(ctx) for p in scenario.policies]
    sweep_policies = [p.to_kernel(ctx) for p in scenario.sweep_points]
    vol_step = (
        np.sqrt(np.diag(cov) / sim.steps_per_year) if cov is not None else np.zeros(len(assets))
    )
    frictions = friction_arrays(
        scenario.costs, scenario.taxes, scenario.all_policies, assets, vol_step, sim.steps_per_year
    )
    if isinstance(seed, np.random.SeedSequence):
        entropy = int(seed.entropy)
    elif seed is not None:
        entropy = int(seed)
    elif sim.seed is not None:
        entropy = int(sim.seed)
    else:
        entropy = int(np.random.SeedSequence().entropy)
    grid = np.unique(
        np.append(np.arange(0, sim.n_steps + 1, sim.steps_per_year), sim.n_steps)
    ).astype(np.int64)
    ran = dataclasses.replace(scenario, model=model, simulation=sim)
    stresses = _resolve_stresses(ran, model, series, assets, inflation_index, history, history_ppy)
    return RunPlan(
        scenario=ran,
        model=ran.model,
        asset_names=assets,
        series_names=series,
        inflation_index=inflation_index,
        policies=policies,
        asset_params=frictions.asset_params,
        flows=flows_array(
            scenario.flows,
            sim.steps_per_year,
            n_steps=sim.n_steps,
            has_inflation=inflation_index >= 0,
        ),
        tax_params=frictions.tax_params,
        grid_steps=grid,
        entropy=entropy,
        n_noise=frictions.n_noise,
        history=history,
        history_periods_per_year=history_ppy,
        sweep_policies=sweep_policies,
        stresses=stresses,
        failure=scenario.failure,
        target_weights=np.asarray(target, dtype=np.float64),
        window_starts=window_starts,
    )


def _resolve_stresses(
    scenario: Scenario,
    model: ReturnModel,
    series: list[str],
    assets: list[str],
    inflation_index: int,
    history: pd.DataFrame | None,
    history_ppy: int | None,
) -> tuple[ResolvedStress, ...]:
    """Check every stress against the run (before any simulation) and resolve it to arrays."""
    if not scenario.stresses:
        return ()
    sim = scenario.simulation
    ctx = StressContext(
        series_names=series,
        asset_names=assets,
        inflation_index=inflation_index,
        steps_per_year=sim.steps_per_year,
        n_steps=sim.n_steps,
        model=model,
        history=history,
        history_periods_per_year=history_ppy,
    )
    return tuple(resolve(s, ctx) for s in scenario.stresses)


def _model_moments(
    model: ReturnModel, series: list[str], assets: list[str]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    mu = getattr(model, "mu_", None)
    cov = getattr(model, "cov_", None)
    if mu is None or cov is None:
        return None, None
    idx = [series.index(a) for a in assets]
    return np.asarray(mu)[idx], np.asarray(cov)[np.ix_(idx, idx)]
