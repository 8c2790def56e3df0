"""Stress specifications: what to do to the simulated returns, validated on their own.

Each class checks at construction what it can without knowing the run (ranges, types, a known
episode); :func:`mcsim.stress.resolve` checks the rest against the run. Fields named in
messages are prefixed by ``where``: ``[[stresses]][N]`` (N counted from 1) for a stress read
from a scenario, ``stress 'name'`` for one built in Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._validation import as_array, as_float, as_str, check_keys
from ..errors import ConfigError
from .episodes import get_episode, parse_month

__all__ = [
    "STRESS_KINDS",
    "CorrelationStress",
    "DriftStress",
    "HistoricalEpisode",
    "Proxy",
    "Shock",
    "Stress",
    "VolatilityStress",
    "stress_from_config",
]

_COMMON_KEYS = ("name", "kind")


def _series_table(
    value: Any, name: str, *, low: float | None = None, low_open: bool = False
) -> dict[str, float]:
    """``{series: float}`` from a TOML table, each value checked; ConfigError naming the entry."""
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(
            f"`{name}` must be a table of series names to numbers, such as {{ us_stocks = -0.4 }}."
        )
    return {
        str(k): as_float(v, f"{name}.{k}", low=low, low_open=low_open) for k, v in value.items()
    }


def _number_or_table(
    value: Any, name: str, *, low: float | None = None, low_open: bool = False
) -> float | dict[str, float]:
    if isinstance(value, Mapping):
        return _series_table(value, name, low=low, low_open=low_open)
    return as_float(value, name, low=low, low_open=low_open)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stress:
    """Base of every stress: a name, where it was defined, and the step it starts at.

    Parameters
    ----------
    name : str
        Label of the stressed variant of the run (non-empty).
    at_year : float
        When the stress starts, in years from the start of the simulation (>= 0; 0 = the first
        step). At resolve time it must fall on a whole step.
    where : str, optional
        Prefix of field names in messages; defaults to ``stress 'name'``.
    """

    kind: ClassVar[str] = ""
    _KEYS: ClassVar[tuple[str, ...]] = ()

    name: str
    at_year: float = 0.0
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(
                f"`{self.where or '[[stresses]]'}.name` must be a non-empty string naming the "
                f"stress; got {self.name!r}."
            )
        if not self.where:
            object.__setattr__(self, "where", f"stress {self.name!r}")
        object.__setattr__(self, "at_year", as_float(self.at_year, self.label("at_year"), low=0.0))

    def label(self, key: str) -> str:
        """The name of setting ``key`` of this stress as messages spell it."""
        return f"{self.where}.{key}"

    def to_dict(self) -> dict[str, Any]:
        """The stress as a ``[[stresses]]`` table (plain Python objects)."""
        return {"name": self.name, "kind": self.kind, "at_year": self.at_year}


@dataclass(frozen=True, slots=True)
class Proxy:
    """The series of an episode's data that stands in for one of the run's series.

    Parameters
    ----------
    series : str
        Column of the episode's dataset (``"us_stocks_tr"``).
    beta : float, "fit" or None
        None: the proxy's returns are used as they are. A number: log returns are scaled,
        ``log(1 + r) = beta * log(1 + r_proxy)``. ``"fit"``: that beta is fitted by OLS (with
        an intercept) of the asset's log returns on the proxy's over the overlap of the
        scenario's history and the proxy series.
    """

    series: str
    beta: float | str | None = None

    def to_dict(self) -> str | dict[str, Any]:
        """The proxy as written in a scenario: a series name, or ``{series, beta}``."""
        if self.beta is None:
            return self.series
        return {"series": self.series, "beta": self.beta}


def _proxy(value: Any, name: str) -> Proxy:
    if isinstance(value, Proxy):
        return value
    if isinstance(value, str):
        return Proxy(as_str(value, name))
    if isinstance(value, Mapping):
        check_keys(value, ("series", "beta"), name)
        if "series" not in value:
            raise ConfigError(
                f"`{name}.series` is required: the proxy's column, such as "
                'series = "us_stocks_tr".'
            )
        series = as_str(value["series"], f"{name}.series")
        beta = value.get("beta")
        if beta is not None:
            if isinstance(beta, str):
                as_str(beta, f"{name}.beta", choices=["fit"])
            else:
                beta = as_float(beta, f"{name}.beta")
        return Proxy(series, beta)
    raise ConfigError(
        f'`{name}` must be a series name ("us_stocks_tr") or a table '
        f'{{ series = "us_stocks_tr", beta = "fit" }}; got {value!r}.'
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoricalEpisode(Stress):
    """Splice a historical episode into every path.

    Parameters
    ----------
    episode : str, optional
        Catalogue key (:data:`mcsim.stress.EPISODES`). Give either ``episode`` or
        ``start`` and ``end``.
    start, end : str, optional
        First and last month (``"YYYY-MM"``, inclusive) of a window of the scenario's own data
        (or of ``dataset`` when given).
    dataset : str, optional
        Bundled dataset to take the returns from (default: the episode's, ``"shiller"``; for a
        ``start``/``end`` window: the scenario's own history).
    at_year : float
        Where the episode starts on each path (a whole step).
    at : {"random"}, optional
        Start each path's episode at its own random step instead of ``at_year``.
    proxies : mapping, optional
        ``{run_series: "column"}`` or ``{run_series: {series = "column", beta = "fit"}}``: which
        column of the episode's data stands in for each of the run's series (assets and
        inflation). A series of the run with the same name as a column needs no entry.
    """

    kind: ClassVar[str] = "historical"
    _KEYS: ClassVar[tuple[str, ...]] = (
        "episode",
        "start",
        "end",
        "dataset",
        "at_year",
        "at",
        "proxies",
    )

    episode: str | None = None
    start: str | None = None
    end: str | None = None
    dataset: str | None = None
    at: str | None = None
    proxies: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Stress.__post_init__(self)
        has_range = self.start is not None or self.end is not None
        if self.episode is not None and has_range:
            raise ConfigError(
                f"`{self.label('episode')}` and `start`/`end` both given; keep one: a catalogue "
                "episode or a window of months."
            )
        if self.episode is not None:
            get_episode(self.episode, self.label("episode"))
        elif has_range:
            if self.start is None or self.end is None:
                missing = "start" if self.start is None else "end"
                raise ConfigError(
                    f"`{self.label(missing)}` is required with a window of months: give both "
                    'start and end, such as start = "2007-11", end = "2009-02".'
                )
            start = parse_month(self.start, self.label("start"))
            end = parse_month(self.end, self.label("end"))
            if end < start:
                raise ConfigError(
                    f"`{self.label('end')}` ({end}) is before `{self.label('start')}` ({start}); "
                    "swap them."
                )
            object.__setattr__(self, "start", str(start))
            object.__setattr__(self, "end", str(end))
        else:
            raise ConfigError(
                f"`{self.where}` needs `episode` (one of the catalogue, such as "
                '"financial_crisis") or `start` and `end` months.'
            )
        if self.dataset is not None:
            as_str(self.dataset, self.label("dataset"))
        if self.at is not None:
            as_str(self.at, self.label("at"), choices=["random"])
            if self.at_year != 0.0:
                raise ConfigError(
                    f'`{self.label("at")}` = "random" and `at_year` both given; keep one.'
                )
        if not isinstance(self.proxies, Mapping):
            raise ConfigError(
                f"`{self.label('proxies')}` must be a table, such as "
                '{ my_fund = "us_stocks_tr" }.'
            )
        object.__setattr__(
            self,
            "proxies",
            {str(k): _proxy(v, f"{self.label('proxies')}.{k}") for k, v in self.proxies.items()},
        )

    @property
    def random_start(self) -> bool:
        """True when each path starts the episode at its own random step."""
        return self.at == "random"

    def to_dict(self) -> dict[str, Any]:
        out = Stress.to_dict(self)
        for key in ("episode", "start", "end", "dataset", "at"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.at is not None:
            del out["at_year"]
        if self.proxies:
            out["proxies"] = {k: p.to_dict() for k, p in self.proxies.items()}
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Shock(Stress):
    """A one-off jump of some series at the start of one step.

    Parameters
    ----------
    returns : mapping of str to float
        Simple return of the jump per series of the run (each > -1: -0.40 is a 40 % fall).
        Series not named are not shocked.
    at_year : float
        The step whose start the jump happens at (a whole step, before the horizon).
    """

    kind: ClassVar[str] = "shock"
    _KEYS: ClassVar[tuple[str, ...]] = ("returns", "at_year")

    returns: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Stress.__post_init__(self)
        table = _series_table(self.returns, self.label("returns"))
        for series, value in table.items():
            if value <= -1.0:
                raise ConfigError(
                    f"`{self.label('returns')}.{series}` must be > -1 (a fall of less than "
                    f"100 %); got {value:g}. A return of -1 would wipe the asset out: use, for "
                    "example, -0.99."
                )
        object.__setattr__(self, "returns", table)

    def to_dict(self) -> dict[str, Any]:
        return {**Stress.to_dict(self), "returns": dict(self.returns)}


@dataclass(frozen=True, slots=True, kw_only=True)
class _WindowStress(Stress):
    """A stress over a window of ``years`` from ``at_year`` (None: to the horizon)."""

    years: float | None = None

    def __post_init__(self) -> None:
        Stress.__post_init__(self)
        if self.years is not None:
            object.__setattr__(
                self,
                "years",
                as_float(self.years, self.label("years"), low=0.0, low_open=True),
            )

    def to_dict(self) -> dict[str, Any]:
        out = Stress.to_dict(self)
        if self.years is not None:
            out["years"] = self.years
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class VolatilityStress(_WindowStress):
    """Scale the volatility of log returns inside a window (Gaussian and Student-t models).

    Parameters
    ----------
    multiplier : float or mapping of str to float
        Factor on the volatility (> 0). A number applies to every asset (not to inflation); a
        table names series of the run, others keep their volatility.
    at_year, years : float
        Window start and length in years (whole steps; ``years`` None = to the horizon).
    """

    kind: ClassVar[str] = "volatility"
    _KEYS: ClassVar[tuple[str, ...]] = ("multiplier", "at_year", "years")

    multiplier: float | Mapping[str, float] = 1.0

    def __post_init__(self) -> None:
        _WindowStress.__post_init__(self)
        object.__setattr__(
            self,
            "multiplier",
            _number_or_table(self.multiplier, self.label("multiplier"), low=0.0, low_open=True),
        )

    def to_dict(self) -> dict[str, Any]:
        m = self.multiplier
        return {**_WindowStress.to_dict(self), "multiplier": m if isinstance(m, float) else dict(m)}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CorrelationStress(_WindowStress):
    """Move the correlations of the assets' log returns inside a window (Gaussian, Student-t).

    Parameters
    ----------
    to : float or array-like of shape (n_assets, n_assets)
        Target: a number in (-1, 1] for every off-diagonal correlation between assets, or a
        full correlation matrix in the order of the run's assets.
    weight : float
        How far toward the target, in [0, 1]: ``C' = (1 - weight) C + weight T`` (default 1).
    at_year, years : float
        Window start and length in years (whole steps; ``years`` None = to the horizon).
    """

    kind: ClassVar[str] = "correlation"
    _KEYS: ClassVar[tuple[str, ...]] = ("to", "weight", "at_year", "years")

    to: float | np.ndarray = 1.0
    weight: float = 1.0

    def __post_init__(self) -> None:
        _WindowStress.__post_init__(self)
        if isinstance(self.to, (list, tuple, np.ndarray)):
            target = as_array(self.to, self.label("to"), ndim=2)
            target.setflags(write=False)
            object.__setattr__(self, "to", target)
        else:
            value = as_float(self.to, self.label("to"), low=-1.0, high=1.0, low_open=True)
            object.__setattr__(self, "to", value)
        object.__setattr__(
            self, "weight", as_float(self.weight, self.label("weight"), low=0.0, high=1.0)
        )

    def to_dict(self) -> dict[str, Any]:
        to = self.to.tolist() if isinstance(self.to, np.ndarray) else self.to
        return {**_WindowStress.to_dict(self), "to": to, "weight": self.weight}


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftStress(_WindowStress):
    """Shift the drift of log returns inside a window (any model).

    Parameters
    ----------
    shift : float or mapping of str to float
        Annual shift of the log return (fraction per year: -0.05 takes 5 % a year off). A
        number applies to every asset (not to inflation); a table names series of the run.
    at_year, years : float
        Window start and length in years (whole steps; ``years`` None = to the horizon).
    """

    kind: ClassVar[str] = "drift"
    _KEYS: ClassVar[tuple[str, ...]] = ("shift", "at_year", "years")

    shift: float | Mapping[str, float] = 0.0

    def __post_init__(self) -> None:
        _WindowStress.__post_init__(self)
        object.__setattr__(self, "shift", _number_or_table(self.shift, self.label("shift")))

    def to_dict(self) -> dict[str, Any]:
        s = self.shift
        return {**_WindowStress.to_dict(self), "shift": s if isinstance(s, float) else dict(s)}


STRESS_KINDS: dict[str, type[Stress]] = {
    cls.kind: cls
    for cls in (HistoricalEpisode, Shock, VolatilityStress, CorrelationStress, DriftStress)
}
"""Stress classes keyed by the ``kind`` of a ``[[stresses]]`` table."""

# Settings each kind requires in a scenario (the dataclass defaults serve Python users).
_REQUIRED = {
    "shock": ("returns",),
    "volatility": ("multiplier",),
    "correlation": ("to",),
    "drift": ("shift",),
}


def stress_from_config(table: Mapping[str, Any], index: int) -> Stress:
    """Build a stress from one ``[[stresses]]`` table of a scenario.

    Parameters
    ----------
    table : mapping
        The table: ``name``, ``kind`` (one of :data:`STRESS_KINDS`) and the kind's settings.
    index : int
        Its position among the scenario's stresses, from 0; messages name it
        ``[[stresses]][index + 1]``.

    Returns
    -------
    Stress

    Raises
    ------
    ConfigError
        A missing ``name`` or ``kind``, an unknown kind or key (with the nearest one), or a
        setting out of range.
    """
    where = f"[[stresses]][{index + 1}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"`{where}` must be a table with `name` and `kind`.")
    for key in _COMMON_KEYS:
        if key not in table:
            raise ConfigError(
                f"`{where}.{key}` is required; kinds are {', '.join(STRESS_KINDS)}, e.g. "
                'name = "crisis", kind = "historical", episode = "financial_crisis".'
            )
    kind = as_str(table["kind"], f"{where}.kind", choices=list(STRESS_KINDS))
    cls = STRESS_KINDS[kind]
    check_keys(table, (*_COMMON_KEYS, *cls._KEYS), where)
    for key in _REQUIRED.get(kind, ()):
        if key not in table:
            raise ConfigError(f"`{where}.{key}` is required for kind = {kind!r}.")
    options = {k: v for k, v in table.items() if k != "kind"}
    return cls(**options, where=where)


def _is_whole(x: float) -> bool:
    return abs(x - round(x)) <= 1e-9 * max(1.0, abs(x))


def steps_of(years: float, steps_per_year: int, name: str) -> int:
    """``years * steps_per_year`` as a whole number of steps, or ConfigError naming ``name``."""
    steps = years * steps_per_year
    if not _is_whole(steps) or not math.isfinite(steps):
        below = math.floor(steps) / steps_per_year
        above = math.ceil(steps) / steps_per_year
        raise ConfigError(
            f"`{name}` = {years:g} years is {steps:g} steps of 1/{steps_per_year} year, not a "
            f"whole number; use {below:g} or {above:g}."
        )
    return round(steps)
