"""Scenarios: what to simulate, read from TOML or built in code, validated before any run."""

from __future__ import annotations

import copy
import difflib
import os
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._validation import as_float, as_int, as_str, check_keys, require
from .costs import CostModel
from .data import BUNDLED
from .decision import DecisionConfig
from .errors import ConfigError
from .failure import FailureConfig
from .flows import CashFlow, flows_from_config
from .models import ReturnModel, model_from_config
from .policies import Custom, Policy, policy_from_config
from .scenarios import resolve_scenario
from .stress import Stress, stress_from_config
from .sweeps import SweepConfig, expand
from .taxes import TaxConfig

__all__ = ["DataConfig", "Scenario", "SimulationConfig"]

# No financial plan runs past a millennium, and float64 wealth compounded far longer overflows
# (7 % a year for 10,000 years is about 1e294): a larger horizon is a typo, refused before any run.
MAX_HORIZON_YEARS = 1_000.0
# Ten million steps is a millennium at ~10,000 steps a year, or 40 years of one-minute bars
# over trading hours; past it the per-step arrays (kept paths, sketch grids) of a single path
# alone run to gigabytes, so the limit catches a typo before the memory estimate has to.
MAX_STEPS = 10_000_000


def check_currency(value: Any, where: str) -> None:
    """Refuse a currency label that is neither a three-letter code nor a short symbol.

    Raises
    ------
    ConfigError
        Naming ``where`` and the accepted forms.
    """
    ok = isinstance(value, str) and (
        (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper())
        or (
            0 < len(value) <= 3
            and not any(c.isspace() for c in value)
            and any(unicodedata.category(c) == "Sc" for c in value)
        )
    )
    if not ok:
        raise ConfigError(
            f'`{where}` must be a three-letter currency code such as "USD" or "EUR", or a '
            f'symbol such as "$" or "€"; got {value!r}.'
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    """How many paths, how long, how fine.

    Parameters
    ----------
    n_paths : int
        Number of simulated paths (>= 1).
    horizon_years : float
        Horizon in years (> 0, at most 1,000); ``horizon_years * steps_per_year`` must be a
        whole number of steps, at least 2 and at most 10,000,000.
    steps_per_year : int
        Steps per year (12 = monthly, at most 100,000).
    block_size : int
        Paths per random block. Block ``i`` draws from its own stream derived from
        ``(seed, i)``, so results do not depend on workers or scheduling; changing
        ``block_size`` changes the random numbers.
    seed : int, optional
        Root seed (>= 0). Without one, fresh entropy is drawn and stored in the result.
    initial_wealth : float
        Wealth at the start (currency, > 0).
    goal : float, optional
        Terminal wealth to reach (currency): gives the shortfall and success metrics.
    keep_paths : int
        Number of leading paths whose whole wealth path is kept (for inspection and plots).
    currency : str
        What amounts are in, as the tables and axes show it: a three-letter code (``"USD"``,
        ``"EUR"``) or a symbol of up to three characters with a currency sign (``"$"``,
        ``"€"``, ``"R$"``). Default ``"USD"``. A label only: nothing is converted.
    risk_free : str, optional
        One of the scenario's assets (such as ``"cash"``) whose simulated per-step return on
        each path is that step's risk-free return: Sharpe and Sortino are then of the excess
        returns over it. Without one they are against 0. Calmar never changes.
    """

    n_paths: int = 10_000
    horizon_years: float = 30.0
    steps_per_year: int = 12
    block_size: int = 1_000
    seed: int | None = None
    initial_wealth: float = 1_000_000.0
    goal: float | None = None
    keep_paths: int = 50
    currency: str = "USD"
    risk_free: str | None = None

    def __post_init__(self) -> None:
        w = "[simulation]"
        if self.risk_free is not None and (
            not isinstance(self.risk_free, str) or not self.risk_free
        ):
            raise ConfigError(
                f"`{w}.risk_free` must be the name of one of the scenario's assets, such as "
                f'"cash"; got {self.risk_free!r}.'
            )
        check_currency(self.currency, f"{w}.currency")
        as_int(self.n_paths, f"{w}.n_paths", low=1)
        as_float(
            self.horizon_years, f"{w}.horizon_years", low=0.0, low_open=True, high=MAX_HORIZON_YEARS
        )
        as_int(self.steps_per_year, f"{w}.steps_per_year", low=1, high=100_000)
        as_int(self.block_size, f"{w}.block_size", low=1)
        if self.seed is not None:
            as_int(self.seed, f"{w}.seed", low=0)
        as_float(self.initial_wealth, f"{w}.initial_wealth", low=0.0, low_open=True)
        if self.goal is not None:
            as_float(self.goal, f"{w}.goal", low=0.0)
        as_int(self.keep_paths, f"{w}.keep_paths", low=0)
        steps = self.horizon_years * self.steps_per_year
        if abs(steps - round(steps)) > 1e-9:
            raise ConfigError(
                f"`{w}.horizon_years` x `steps_per_year` = {steps:g} is not a whole number of "
                "steps; choose a horizon that is a multiple of one step."
            )
        n_steps = round(steps)
        if n_steps > MAX_STEPS:
            raise ConfigError(
                f"`{w}.horizon_years` x `steps_per_year` = {n_steps:,} steps; at most "
                f"{MAX_STEPS:,} are allowed. Use fewer steps per year (monthly steps, 12, suit "
                "horizons of decades) or a shorter horizon."
            )
        if n_steps < 2:
            raise ConfigError(
                f"`{w}.horizon_years` = {self.horizon_years:g} with `{w}.steps_per_year` = "
                f"{self.steps_per_year} gives {n_steps} step; at least 2 are needed (a path's "
                "volatility and drawdown need two returns). Lengthen `horizon_years` or raise "
                "`steps_per_year`."
            )

    @property
    def n_steps(self) -> int:
        """Number of steps over the horizon."""
        return round(self.horizon_years * self.steps_per_year)

    @property
    def n_blocks(self) -> int:
        """Number of random blocks."""
        return -(-self.n_paths // self.block_size)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataConfig:
    """Which history to fit to.

    Parameters
    ----------
    source : str
        A bundled dataset (``"shiller"``, ``"ff3"``, ``"damodaran"``) or a path to a CSV
        or Parquet file. In a scenario file, a relative path is always taken from the scenario
        file's folder (see :meth:`resolved_source`).
    columns : list of str, optional
        Investable series to use (default: all but the inflation column).
    inflation : str, optional
        Column of inflation per period, simulated jointly with the assets but not invested.
    kind : {"returns", "prices"}
        Whether the file holds simple returns per period or price levels.
    start, end : str, optional
        First and last dates to use (inclusive), such as ``"1926-07"``.
    periods_per_year : int, optional
        Frequency of the data when it cannot be inferred from the dates.
    base_dir : str, optional
        Folder that relative paths in ``source`` are taken from: the scenario file's folder,
        set by :meth:`Scenario.from_toml` (not a key of the ``[data]`` section).
    """

    source: str
    columns: Sequence[str] | None = None
    inflation: str | None = None
    kind: str = "returns"
    start: str | None = None
    end: str | None = None
    periods_per_year: int | None = None
    base_dir: str | None = None

    def __post_init__(self) -> None:
        w = "[data]"
        as_str(self.source, f"{w}.source")
        as_str(self.kind, f"{w}.kind", choices=["returns", "prices"])
        if self.columns is not None:
            if not isinstance(self.columns, (list, tuple)) or not all(
                isinstance(c, str) for c in self.columns
            ):
                raise ConfigError(f"`{w}.columns` must be a list of column names.")
            if len(self.columns) == 0:
                raise ConfigError(f"`{w}.columns` must name at least one column.")
        if self.inflation is not None:
            as_str(self.inflation, f"{w}.inflation")
        for key in ("start", "end"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, (str, int)):
                raise ConfigError(f"`{w}.{key}` must be a date such as '1926-07'; got {value!r}.")
        if self.periods_per_year is not None:
            as_int(self.periods_per_year, f"{w}.periods_per_year", low=1)

    def resolved_source(self) -> str:
        """The source as :func:`mcsim.load_returns` takes it.

        A bundled dataset name stays a name. With ``base_dir`` (the scenario file's folder, set
        by :meth:`Scenario.from_toml`), a relative path is always taken from that folder, never
        from the current one, so a scenario reads the same file wherever it is run from.
        Without ``base_dir`` (a scenario built in code) a relative path is left as given and
        read from the current folder.

        Returns
        -------
        str
            The dataset name, or the path of the file (absolute when resolved against
            ``base_dir``).

        Raises
        ------
        ConfigError
            ``base_dir`` is set and the source looks like a path (it has a suffix or a folder
            separator) but no file exists there; the message gives the resolved path.
        """
        src = self.source
        if src in BUNDLED:
            return src
        path = Path(src).expanduser()
        if path.is_absolute() or not self.base_dir:
            return str(path)
        # abspath, not resolve(): keep the user's symlinked folders in the message.
        base = Path(os.path.abspath(Path(self.base_dir).expanduser()))
        candidate = Path(os.path.normpath(base / path))
        if candidate.exists():
            return str(candidate)
        if path.suffix or len(path.parts) > 1:
            raise ConfigError(
                f"`[data].source` = {src!r}: no file at {str(candidate)!r}. Relative paths are "
                f"taken from the scenario file's folder ({str(base)!r}), not from the current "
                "folder: give the path relative to the scenario file, or an absolute path."
            )
        # A bare word that is neither a bundled name nor a file there: let load_returns say
        # which bundled names are close.
        return src

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: getattr(self, k)
            for k in ("source", "columns", "inflation", "kind", "start", "end", "periods_per_year")
        }
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items() if v is not None
        }


_TOP_KEYS = (
    "name",
    "description",
    "simulation",
    "data",
    "model",
    "portfolio",
    "costs",
    "flows",
    "taxes",
    "policies",
    "comparison",
    "sweeps",
    "decision",
    "stresses",
    "failure",
)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Scenario:
    """Everything a run needs except the seed's entropy: validated on construction.

    Build one from a TOML file with :meth:`from_toml`, from a dict with :meth:`from_dict`, or
    in code from its parts. ``to_dict`` gives back a table that ``from_dict`` accepts.

    A scenario does not change after construction: it holds its own copy of the model (a
    run fits a further copy, see :func:`mcsim.prepare`), the target as a read-only mapping,
    the policies and flows as tuples, and a copy of the source table. Two scenarios never
    share a model, so :meth:`replace` and :func:`dataclasses.replace` give independent ones.
    """

    name: str = "scenario"
    description: str = ""
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    data: DataConfig | None = None
    model: ReturnModel
    target: Mapping[str, float]
    policies: Sequence[Policy]
    baseline: str | None = None
    costs: CostModel = field(default_factory=CostModel)
    flows: Sequence[CashFlow] = ()
    taxes: TaxConfig = field(default_factory=TaxConfig)
    source: dict[str, Any] | None = None
    sweeps: Sequence[SweepConfig] = ()
    decision: DecisionConfig | None = None
    stresses: Sequence[Stress] = ()
    failure: FailureConfig | None = None
    sweep_points: tuple[Policy, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if not isinstance(self.model, ReturnModel):
            raise ConfigError(
                f"`[model]` must be a return model such as mcsim.GaussianModel; got "
                f"{type(self.model).__name__}."
            )
        if isinstance(self.policies, (str, bytes)) or not isinstance(self.policies, Sequence):
            raise ConfigError("`[[policies]]` must be a list of policies.")
        # Own copies of everything mutable, so nothing done to the parts given (or to another
        # scenario built from them) changes this one.
        object.__setattr__(self, "model", self.model.copy())
        object.__setattr__(self, "policies", tuple(self.policies))
        object.__setattr__(self, "flows", tuple(self.flows))
        if self.source is not None:
            object.__setattr__(self, "source", copy.deepcopy(dict(self.source)))
        if not self.policies:
            raise ConfigError("`[[policies]]`: a scenario needs at least one policy.")
        names = [p.name for p in self.policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"`[[policies]]`: policy names must be unique; repeated: {dupes}.")
        baseline = self.baseline if self.baseline is not None else names[0]
        if baseline not in names:
            raise ConfigError(
                f"`[comparison].baseline` = {baseline!r} is not a policy; choose one of {names}."
            )
        object.__setattr__(self, "baseline", baseline)
        object.__setattr__(self, "sweep_points", _expand_sweeps(self.sweeps, self.policies))
        object.__setattr__(self, "sweeps", tuple(self.sweeps))
        if self.decision is not None:
            if not isinstance(self.decision, DecisionConfig):
                raise ConfigError("`[decision]` must be a mcsim.DecisionConfig.")
            self.decision.check(
                has_goal=self.simulation.goal is not None,
                policy_names=[*names, *(p.name for p in self.sweep_points)],
            )
            if self.sweeps and self.decision.objective == "cvar":
                raise ConfigError(
                    '`[decision].objective = "cvar"` cannot rank a sweep: grid points keep '
                    "mergeable sums, not the per-path tail; choose "
                    '"certainty_equivalent" or "goal_probability".'
                )
        if not isinstance(self.target, Mapping) or not self.target:
            raise ConfigError(
                "`[portfolio].target` must be a table of asset = weight, such as "
                "{ us_stocks_tr = 0.6, us_bonds_10y_tr = 0.4 }."
            )
        object.__setattr__(self, "target", MappingProxyType(dict(self.target)))
        if self.model.needs_history and self.data is None:
            raise ConfigError(
                f"The {self.model.kind!r} model must be fitted to history: add a [data] section "
                "(for example source = 'shiller') or give the model's parameters explicitly."
            )
        self._check_stress_testing()

    def __repr__(self) -> str:
        """A few lines a person can read: size, data, model, target, policies, extras."""
        sim = self.simulation
        seed = "fresh entropy" if sim.seed is None else f"seed {sim.seed}"
        lines = [
            f"Scenario {self.name!r}: {sim.n_paths:,} paths x {sim.n_steps} steps "
            f"({sim.horizon_years:g} years, {sim.steps_per_year}/year), {seed}"
        ]
        if self.data is not None:
            d = self.data
            cols = f" [{', '.join(d.columns)}]" if d.columns else ""
            infl = f", inflation {d.inflation}" if d.inflation else ""
            lines.append(f"  data: {d.source}{cols}{infl}")
        lines.append(f"  model: {self.model.kind}")
        lines.append("  target: " + ", ".join(f"{a} {100 * w:g}%" for a, w in self.target.items()))
        lines.append(
            "  policies: "
            + ", ".join(
                f"{p.name} ({p.kind}{', baseline' if p.name == self.baseline else ''})"
                for p in self.policies
            )
        )
        extras = []
        if self.flows:
            extras.append(f"{len(self.flows)} cash flow(s)")
        if sim.goal is not None:
            extras.append(f"goal {sim.goal:,.10g}")
        if self.taxes.enabled:
            extras.append("taxes")
        if self.sweeps:
            extras.append(f"{len(self.sweep_points)} sweep grid point(s)")
        if self.decision is not None:
            extras.append("a [decision]")
        if self.stresses:
            extras.append(f"{len(self.stresses)} stress(es)")
        if self.failure is not None:
            extras.append("a [failure] test")
        if extras:
            lines.append("  with " + ", ".join(extras))
        return "\n".join(lines)

    # -- stress testing (the [[stresses]] and [failure] keys) -------------------------------
    def _check_stress_testing(self) -> None:
        """Own the stresses as a tuple with unique names; check ``[failure]`` against the goal."""
        if isinstance(self.stresses, (str, bytes, Mapping)) or not isinstance(
            self.stresses, Sequence
        ):
            raise ConfigError("`[[stresses]]` must be a list of stresses.")
        object.__setattr__(self, "stresses", tuple(self.stresses))
        for i, s in enumerate(self.stresses):
            if not isinstance(s, Stress):
                raise ConfigError(
                    f"`[[stresses]][{i + 1}]` must be a stress such as mcsim.Shock; got "
                    f"{type(s).__name__}."
                )
        names = [s.name for s in self.stresses]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(
                f"`[[stresses]].name`: stress names must be unique; repeated: {dupes}. "
                "Rename one of them."
            )
        if self.failure is not None:
            if not isinstance(self.failure, FailureConfig):
                raise ConfigError(
                    "`[failure]` must be a table of conditions (mcsim.FailureConfig in Python)."
                )
            self.failure.check(self.simulation.goal)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path, *, allow_code: bool = False) -> Scenario:
        """Read and validate a scenario file.

        Parameters
        ----------
        path : str or Path
            The TOML file (UTF-8), or the name of a bundled scenario with or without
            ``.toml`` (``"default_60_40"``; ``mcsim scenarios`` lists them), found from any
            folder. A file of that name in the current folder comes first.
        allow_code : bool
            Import the custom rules the file names as ``"package.module:function"``, which
            runs those modules' code. Without it nothing outside mcsim is imported: such a
            policy keeps its name unimported (:attr:`code_references`), every other check
            still runs, and :func:`mcsim.run` refuses the scenario. Rules inside the
            ``mcsim`` package are imported either way.

        Returns
        -------
        Scenario

        Raises
        ------
        ConfigError
            When the file is missing, unreadable, not UTF-8, not TOML, or not a valid scenario.
        """
        path = resolve_scenario(path)
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise ConfigError(
                f"Scenario file {str(path)!r} cannot be read ({e.strerror}); check its permissions."
            ) from e
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise ConfigError(
                f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); TOML files "
                "must be UTF-8. Save the file as UTF-8 (for example "
                "`iconv -f latin1 -t utf-8 old.toml > new.toml`)."
            ) from e
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from e
        return cls.from_dict(table, base_dir=path.parent, allow_code=allow_code)

    @classmethod
    def from_dict(
        cls,
        table: Mapping[str, Any],
        *,
        base_dir: str | Path | None = None,
        allow_code: bool = False,
    ) -> Scenario:
        """Validate a scenario given as nested tables (the shape of the TOML file).

        Parameters
        ----------
        table : mapping
            The scenario's sections.
        base_dir : str or Path, optional
            Folder that relative data paths are taken from (the scenario file's folder).
        allow_code : bool
            Import custom rules named as ``"package.module:function"``; see
            :meth:`from_toml`.

        Returns
        -------
        Scenario
        """
        if not isinstance(table, Mapping):
            raise ConfigError("A scenario must be a table of sections.")
        check_keys(table, _TOP_KEYS, "scenario")
        source = copy.deepcopy(dict(table))

        sim = _section(table, "simulation")
        check_keys(
            sim, [f.name for f in SimulationConfig.__dataclass_fields__.values()], "[simulation]"
        )
        simulation = SimulationConfig(**sim)

        data = None
        if "data" in table:
            d = _section(table, "data")
            check_keys(d, [k for k in DataConfig.__dataclass_fields__ if k != "base_dir"], "[data]")
            require(d, "source", "[data]")
            data = DataConfig(**d, base_dir=None if base_dir is None else str(base_dir))

        model = model_from_config(_section(table, "model"))

        portfolio = _section(table, "portfolio")
        check_keys(portfolio, ["target"], "[portfolio]")
        target = require(portfolio, "target", "[portfolio]")

        raw_policies = table.get("policies")
        if not isinstance(raw_policies, list) or not raw_policies:
            raise ConfigError(
                "`[[policies]]` is required: add at least one, such as\n"
                '[[policies]]\nname = "annual"\nkind = "calendar"\nevery = 12'
            )
        policies = [
            policy_from_config(p, i, allow_code=allow_code) for i, p in enumerate(raw_policies)
        ]

        comparison = _section(table, "comparison")
        check_keys(comparison, ["baseline"], "[comparison]")
        baseline = comparison.get("baseline")
        if baseline is not None:
            as_str(baseline, "[comparison].baseline")

        costs = CostModel.from_config(_section(table, "costs"))
        flows = flows_from_config(table.get("flows", []))
        taxes = TaxConfig.from_config(_section(table, "taxes"))
        raw_sweeps = table.get("sweeps", [])
        if not isinstance(raw_sweeps, list):
            raise ConfigError(
                "`[[sweeps]]` must be a list of tables (write each as a [[sweeps]] section)."
            )
        sweeps = [SweepConfig.from_config(t, i) for i, t in enumerate(raw_sweeps)]
        decision = (
            DecisionConfig.from_config(_section(table, "decision")) if "decision" in table else None
        )
        stresses, failure = _stress_testing_from_config(table)
        return cls(
            name=as_str(table.get("name", "scenario"), "scenario.name"),
            description=as_str(table.get("description", ""), "scenario.description"),
            simulation=simulation,
            data=data,
            model=model,
            target=target,
            policies=policies,
            baseline=baseline,
            costs=costs,
            flows=flows,
            taxes=taxes,
            source=source,
            sweeps=sweeps,
            decision=decision,
            stresses=stresses,
            failure=failure,
        )

    @property
    def defaulted_sections(self) -> tuple[str, ...]:
        """Sections the scenario's table left out, so the run uses their defaults.

        Of ``"simulation"`` (paths, horizon, steps) and ``"model"`` (the default model kind
        with its default options): the two whose defaults decide what is simulated. Empty for
        a scenario built in code rather than from a table.
        """
        if self.source is None:
            return ()
        return tuple(key for key in ("simulation", "model") if key not in self.source)

    @property
    def code_references(self) -> tuple[tuple[str, str], ...]:
        """``(policy name, "package.module:function")`` of each custom rule not imported.

        Not empty only for a scenario read without ``allow_code`` that names code outside
        mcsim; such a scenario validates but cannot run.
        """
        return tuple(
            (p.name, p.code_reference)
            for p in self.policies
            if isinstance(p, Custom) and p.code_reference is not None
        )

    def check_code(self) -> None:
        """Raise ConfigError, naming the policy and the fix, if a custom rule is not imported."""
        for p in self.policies:
            if isinstance(p, Custom) and p.code_reference is not None:
                p.compiled_rule()

    def replace(self, **simulation_changes: Any) -> Scenario:
        """A copy with some ``[simulation]`` fields changed (n_paths, seed, ...).

        The copy shares no mutable state with this scenario (it holds its own model).
        """
        sim = {
            k: getattr(self.simulation, k) for k in SimulationConfig.__dataclass_fields__
        } | simulation_changes
        return Scenario(
            name=self.name,
            description=self.description,
            simulation=SimulationConfig(**sim),
            data=self.data,
            model=self.model,
            target=self.target,
            policies=self.policies,
            baseline=self.baseline,
            costs=self.costs,
            flows=self.flows,
            taxes=self.taxes,
            source=self.source,
            sweeps=self.sweeps,
            decision=self.decision,
            stresses=self.stresses,
            failure=self.failure,
        )

    @property
    def all_policies(self) -> tuple[Policy, ...]:
        """The named policies followed by every sweep's grid points, in run order."""
        return (*self.policies, *self.sweep_points)

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as nested tables (JSON-able)."""
        sim = {k: getattr(self.simulation, k) for k in SimulationConfig.__dataclass_fields__}
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "simulation": {k: v for k, v in sim.items() if v is not None},
        }
        if self.data is not None:
            out["data"] = self.data.to_dict()
        out["model"] = (
            self.model.params() if not self.model.needs_history else {"kind": self.model.kind}
        )
        out["portfolio"] = {"target": dict(self.target)}
        out["costs"] = self.costs.to_dict()
        if self.flows:
            out["flows"] = [f.to_dict() for f in self.flows]
        if self.taxes.enabled:
            out["taxes"] = self.taxes.to_dict()
        out["policies"] = [p.to_dict() for p in self.policies]
        out["comparison"] = {"baseline": self.baseline}
        if self.sweeps:
            out["sweeps"] = [sw.to_dict() for sw in self.sweeps]
        if self.decision is not None:
            out["decision"] = self.decision.to_dict()
        # Only when set, so scenarios without stress testing keep their run keys.
        if self.stresses:
            out["stresses"] = [s.to_dict() for s in self.stresses]
        if self.failure is not None:
            out["failure"] = self.failure.to_dict()
        return out


def _expand_sweeps(sweeps: Sequence[SweepConfig], policies: Sequence[Policy]) -> tuple[Policy, ...]:
    """Every sweep's grid points as policies, validated (at config time: part of the run key)."""
    if isinstance(sweeps, (str, bytes)) or not isinstance(sweeps, Sequence):
        raise ConfigError("`[[sweeps]]` must be a list of sweep tables.")
    by_name = {p.name: p for p in policies}
    taken = set(by_name)
    points: list[Policy] = []
    for sweep in sweeps:
        if not isinstance(sweep, SweepConfig):
            raise ConfigError("`[[sweeps]]` entries must be mcsim.SweepConfig objects.")
        if sweep.policy not in by_name:
            close = difflib.get_close_matches(sweep.policy, list(by_name), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"`{sweep.where}.policy` = {sweep.policy!r} is not a policy of the scenario."
                f"{hint} Policies: {', '.join(by_name)}."
            )
        base = by_name[sweep.policy]
        if isinstance(base, Custom):
            raise ConfigError(
                f"`{sweep.where}.policy` = {sweep.policy!r} is a custom rule; sweep a built-in "
                "policy kind (its numeric and choice fields)."
            )
        for i, (name, table) in enumerate(expand(sweep, base.to_dict(), existing_names=taken)):
            taken.add(name)
            points.append(policy_from_config(table, len(policies) + i))
    return tuple(points)


def _section(table: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"`[{key}]` must be a table (a [{key}] section in the TOML file).")
    return value


def _stress_testing_from_config(
    table: Mapping[str, Any],
) -> tuple[list[Stress], FailureConfig | None]:
    """The ``[[stresses]]`` array and the ``[failure]`` section of a scenario table."""
    raw = table.get("stresses", [])
    if not isinstance(raw, list):
        raise ConfigError(
            "`[[stresses]]` must be an array of tables, each with `name` and `kind`, such as\n"
            '[[stresses]]\nname = "crash"\nkind = "shock"\nreturns = { us_stocks_tr = -0.3 }'
        )
    stresses = [stress_from_config(t, i) for i, t in enumerate(raw)]
    failure = None
    if "failure" in table:
        failure = FailureConfig.from_config(_section(table, "failure"))
    return stresses, failure
