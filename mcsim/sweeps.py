"""Sweep grids: many variants of one policy, expanded and validated before simulating.

A ``[[sweeps]]`` table names one of the scenario's policies and a grid of values for some of
its fields::

    [[sweeps]]
    policy = "bands"
    grid = { band = [0.01, 0.02], check_every = [1, 3, 6, 12], trade_to = ["target", "edge"] }

:func:`expand` turns it into the Cartesian product of policy tables, each named after its grid
point (``bands[band=0.01,check_every=3,trade_to=edge]``) and checked by building it with
:func:`mcsim.policies.policy_from_config`, so an unknown field, a value out of range or an
empty grid fails before any simulation and names ``[[sweeps]][i].grid.FIELD``. The CLI's
``--grid FIELD=VALUES`` options are read by :func:`parse_grid_option`.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._validation import as_str, check_keys
from .accumulators import accumulator_bytes
from .errors import ConfigError
from .kernels import layout
from .policies import POLICIES, policy_from_config

__all__ = [
    "MAX_GRID_POINTS",
    "SweepConfig",
    "expand",
    "grid_size",
    "parse_grid_option",
    "point_name",
    "sweep_memory_bytes",
]

MAX_GRID_POINTS = 100_000  # a larger grid is almost surely a typo in a range step
_RANGE_DIGITS = 12  # range values are rounded to this many decimals (0.1 + 0.2 -> 0.3)
_NOT_SWEPT = ("name", "kind")

GridValue = bool | int | float | str


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepConfig:
    """One ``[[sweeps]]`` table.

    Parameters
    ----------
    policy : str
        Name of the scenario's policy whose fields are swept.
    grid : tuple of (str, tuple of values)
        Swept fields in the order given, each with its values (numbers, strings, booleans).
    name : str, optional
        Prefix of the point names; the policy's name when omitted.
    search : bool
        Refused when true: a run evaluates every grid point; ``mcsim optimize-band``
        searches for the best band.
    index : int
        Position of the table among ``[[sweeps]]`` (named in messages).
    """

    policy: str
    grid: tuple[tuple[str, tuple[GridValue, ...]], ...]
    name: str | None = None
    search: bool = False
    index: int = 0

    @property
    def where(self) -> str:
        """How messages name this table."""
        return f"[[sweeps]][{self.index}]"

    def __post_init__(self) -> None:
        w = self.where
        as_str(self.policy, f"{w}.policy")
        if not self.policy:
            raise ConfigError(f"`{w}.policy` must name one of the scenario's policies.")
        if self.name is not None:
            as_str(self.name, f"{w}.name")
            if not self.name:
                raise ConfigError(f"`{w}.name` must be a non-empty prefix (or be left out).")
        if not isinstance(self.search, bool):
            raise ConfigError(f"`{w}.search` must be true or false; got {self.search!r}.")
        if self.search:
            # A run evaluates every grid point; only the band optimiser searches.
            raise ConfigError(
                f"`{w}.search` = true: a run evaluates every grid point and does not search. "
                "Use `mcsim optimize-band SCENARIO` to search for the best band, or remove "
                "`search` to run the grid."
            )
        if not self.grid:
            raise ConfigError(
                f"`{w}.grid` is empty; give at least one field, such as "
                "`grid = { band = [0.01, 0.02] }`."
            )
        seen: set[str] = set()
        for field, values in self.grid:
            where = f"{w}.grid.{field}"
            if field in seen:
                raise ConfigError(f"`{where}` is given twice; give each field once.")
            seen.add(field)
            if field in _NOT_SWEPT:
                raise ConfigError(
                    f"`{where}` cannot be swept: each point is named after its "
                    "grid values and keeps the policy's kind."
                )
            if not values:
                raise ConfigError(f"`{where}` is an empty list; give at least one value.")
            names = [_format_value(v) for v in values]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ConfigError(f"`{where}` repeats {', '.join(dupes)}; give each value once.")
        size = math.prod(len(v) for _, v in self.grid)
        if size > MAX_GRID_POINTS:
            raise ConfigError(
                f"`{w}.grid` has {size:,} points, more than {MAX_GRID_POINTS:,}; use coarser "
                "ranges (a larger step) or fewer fields."
            )

    @classmethod
    def from_config(cls, table: Mapping[str, Any], index: int) -> SweepConfig:
        """Build from one ``[[sweeps]]`` table.

        ``grid`` values may be a list, a single value, or a string range ``"a:b:step"`` /
        comma list as in :func:`parse_grid_option`.
        """
        w = f"[[sweeps]][{index}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"`{w}` must be a table with `policy` and `grid`.")
        check_keys(table, ["policy", "grid", "name", "search"], w)
        if "policy" not in table:
            raise ConfigError(f"`{w}.policy` is required: the name of the policy to sweep.")
        if "grid" not in table:
            raise ConfigError(
                f"`{w}.grid` is required, such as `grid = {{ band = [0.01, 0.02] }}`."
            )
        raw = table["grid"]
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"`{w}.grid` must be a table of field = [values], such as "
                f"`grid = {{ band = [0.01, 0.02] }}`; got {raw!r}."
            )
        grid = tuple(
            (str(field), _grid_values(values, f"{w}.grid.{field}")) for field, values in raw.items()
        )
        return cls(
            policy=table["policy"],
            grid=grid,
            name=table.get("name"),
            search=table.get("search", False),
            index=index,
        )

    def to_dict(self) -> dict[str, Any]:
        """The table as written in a scenario."""
        out: dict[str, Any] = {
            "policy": self.policy,
            "grid": {field: list(values) for field, values in self.grid},
        }
        if self.name is not None:
            out["name"] = self.name
        if self.search:
            out["search"] = True
        return out


def _grid_values(values: Any, where: str) -> tuple[GridValue, ...]:
    if isinstance(values, str):
        return _parse_values(values, where)
    if isinstance(values, (list, tuple)):
        out = []
        for i, v in enumerate(values):
            if not isinstance(v, (bool, int, float, str)):
                raise ConfigError(
                    f"`{where}[{i}]` must be a number, a string or a boolean; got {v!r}."
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"`{where}[{i}]` must be a finite number; got {v!r}.")
            out.append(v)
        return tuple(out)
    if isinstance(values, (bool, int, float)):
        return (values,)
    raise ConfigError(f"`{where}` must be a list of values; got {values!r}.")


# --------------------------------------------------------------------------------------------
# CLI values
# --------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INT = re.compile(r"^[+-]?\d+$")


def _scalar(token: str) -> GridValue:
    t = token.strip()
    if _INT.match(t):
        return int(t)
    if _NUMBER.match(t):
        return float(t)
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    return t


def _parse_range(text: str, where: str) -> tuple[GridValue, ...]:
    parts = text.split(":")
    if len(parts) != 3 or not all(_NUMBER.match(p.strip()) for p in parts):
        raise ConfigError(
            f"`{where}` range {text!r} must be start:stop:step with three numbers, such as "
            "0.01:0.10:0.01."
        )
    a, b, step = (float(p) for p in parts)
    if step <= 0:
        raise ConfigError(f"`{where}` range {text!r} needs a step > 0; got {step:g}.")
    if b < a:
        raise ConfigError(f"`{where}` range {text!r} needs start <= stop; got {a:g} > {b:g}.")
    count = round((b - a) / step)
    if abs(a + count * step - b) > 1e-9 * max(1.0, abs(b), abs(a)):
        raise ConfigError(
            f"`{where}` range {text!r}: the step {step:g} does not reach {b:g} from {a:g} in "
            "whole steps; choose a stop that is start + a multiple of the step."
        )
    if count + 1 > MAX_GRID_POINTS:
        raise ConfigError(
            f"`{where}` range {text!r} has {count + 1:,} values, more than "
            f"{MAX_GRID_POINTS:,}; use a larger step."
        )
    if all(_INT.match(p.strip()) for p in parts):
        return tuple(int(a) + k * int(step) for k in range(count + 1))
    # a + k (b - a) / count hits both ends exactly, unlike repeated addition of the step;
    # rounding to 12 decimals removes the binary noise (0.01 * 3 -> 0.03).
    if count == 0:
        return (round(a, _RANGE_DIGITS),)
    return tuple(round(a + k * (b - a) / count, _RANGE_DIGITS) for k in range(count + 1))


def _parse_values(text: str, where: str) -> tuple[GridValue, ...]:
    text = text.strip()
    if not text:
        raise ConfigError(f"`{where}` has no values; give a list, such as 0.01,0.02.")
    if ":" in text and "," not in text and not text.startswith(("'", '"')):
        return _parse_range(text, where)
    tokens = [t for t in (s.strip() for s in text.split(","))]
    if any(not t for t in tokens):
        raise ConfigError(f"`{where}` = {text!r} has an empty value between commas.")
    out: list[GridValue] = []
    for t in tokens:
        if ":" in t and _NUMBER.match(t.split(":")[0].strip() or "x"):
            out.extend(_parse_range(t, where))
        else:
            out.append(_scalar(t))
    return tuple(out)


def parse_grid_option(option: str) -> tuple[str, tuple[GridValue, ...]]:
    """Read one ``--grid FIELD=VALUES`` option.

    ``VALUES`` is an inclusive range ``start:stop:step`` (``0.01:0.10:0.01`` gives the ten
    values 0.01, 0.02, ..., 0.10 exactly: they are computed as ``start + k (stop - start) / n``
    with ``n = round((stop - start) / step)`` and rounded to 12 decimals; integer ends and step
    give integers), a comma list (``1,3,6,12``; ranges may appear in it), or one value.
    Numbers become int or float, ``true``/``false`` booleans, anything else a string.

    Returns
    -------
    (field, values)

    Raises
    ------
    ConfigError
        No ``=``, an empty field or value, a step <= 0, a stop before the start, or a stop
        the step does not reach; the message names ``--grid``.
    """
    if not isinstance(option, str) or "=" not in option:
        raise ConfigError(
            f"`--grid` must be FIELD=VALUES, such as band=0.01:0.10:0.01; got {option!r}."
        )
    field, _, text = option.partition("=")
    field = field.strip()
    if not field or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", field):
        raise ConfigError(
            f"`--grid` needs a policy field name before `=`, such as band=0.01,0.02; "
            f"got {option!r}."
        )
    return field, _parse_values(text, f"--grid {field}")


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------
def grid_size(sweep: SweepConfig) -> int:
    """Number of points of the sweep's grid (the product of the value counts)."""
    return math.prod(len(values) for _, values in sweep.grid)


def _format_value(v: GridValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if not v.is_integer() or abs(v) >= 1e16 else f"{v:.1f}"
    if isinstance(v, int):
        return str(v)
    return v


def point_name(prefix: str, point: Sequence[tuple[str, GridValue]]) -> str:
    """Stable, readable name of a grid point: ``bands[band=0.03,check_every=3]``."""
    return f"{prefix}[{','.join(f'{k}={_format_value(v)}' for k, v in point)}]"


def _policy_fields(kind: str) -> list[str]:
    cls = POLICIES[kind]
    return [f.name for f in dataclasses.fields(cls) if f.name not in _NOT_SWEPT]


def expand(
    sweep: SweepConfig,
    base_policy_table: Mapping[str, Any],
    *,
    existing_names: Collection[str] = (),
) -> list[tuple[str, dict[str, Any]]]:
    """The sweep's grid points as policy tables, each validated.

    Parameters
    ----------
    sweep : SweepConfig
    base_policy_table : mapping
        The ``[[policies]]`` table of ``sweep.policy`` as written in the scenario.
    existing_names : collection of str
        Names already taken (the scenario's policies, earlier sweeps): a point may not reuse
        one.

    Returns
    -------
    list of (name, table)
        In grid order (the last field varies fastest); each table is the base table with
        the swept fields replaced and ``name`` set to the point's name.

    Raises
    ------
    ConfigError
        A field the policy kind does not have (with a suggestion), a value the policy refuses
        (its own message, prefixed with ``[[sweeps]][i].grid.FIELD`` and the point), or a point
        name that is taken; all before any simulation.
    """
    w = sweep.where
    if not isinstance(base_policy_table, Mapping):
        raise ConfigError(f"`{w}.policy` = {sweep.policy!r} has no policy table to sweep.")
    base_name = base_policy_table.get("name")
    if base_name != sweep.policy:
        raise ConfigError(
            f"`{w}.policy` = {sweep.policy!r} does not match the policy table given "
            f"({base_name!r})."
        )
    kind = base_policy_table.get("kind")
    if kind not in POLICIES:
        raise ConfigError(f"`{w}.policy` = {sweep.policy!r} has no valid `kind`.")
    allowed = _policy_fields(kind)
    for field, _ in sweep.grid:
        if field not in allowed:
            close = difflib.get_close_matches(field, allowed, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise ConfigError(
                f"`{w}.grid.{field}` is not a field of policy kind {kind!r}.{hint} "
                f"Fields: {', '.join(sorted(allowed))}."
            )
    prefix = sweep.name or sweep.policy
    fields = [f for f, _ in sweep.grid]
    taken = set(existing_names)
    out: list[tuple[str, dict[str, Any]]] = []
    for i, combo in enumerate(itertools.product(*(values for _, values in sweep.grid))):
        point = list(zip(fields, combo, strict=True))
        name = point_name(prefix, point)
        if name in taken:
            raise ConfigError(
                f"`{w}`: grid point {name} has the name of another policy; set `{w}.name` to "
                "a prefix of its own."
            )
        taken.add(name)
        table = {**dict(base_policy_table), **dict(point), "name": name}
        _validate_point(w, name, point, base_policy_table, table, i)
        out.append((name, table))
    return out


def _validate_point(
    where: str,
    name: str,
    point: list[tuple[str, GridValue]],
    base: Mapping[str, Any],
    table: dict[str, Any],
    i: int,
) -> None:
    """Build the point's policy; on refusal, name the field that alone causes it."""
    try:
        policy_from_config(table, i, allow_code=False)
    except ConfigError as e:
        culprit = None
        for field, value in point:
            try:
                policy_from_config({**dict(base), field: value, "name": name}, i)
            except ConfigError:
                culprit = field
                break
        target = (
            f"{where}.grid.{culprit}"
            if culprit is not None
            else f"{where}.grid.({','.join(f for f, _ in point)})"
        )
        raise ConfigError(f"`{target}` is refused at grid point {name}: {e}") from e


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------
def sweep_memory_bytes(
    n_points: int,
    n_paths: int,
    n_kept_tables: int,
    *,
    n_metrics: int = 8,
    n_risk_aversions: int = 1,
    n_references: int = 1,
    block_size: int = 1_000,
    n_jobs: int = 1,
) -> int:
    """Peak bytes of a sweep that keeps accumulators for its points.

    The merged :class:`~mcsim.accumulators.Accumulator` of all points and, per block in
    flight (``n_jobs``), two more (the block's sums and the part merged into them), the
    block's metric array ``(n_points, block_size, N_METRICS)`` and the working set of the
    update that reads it (the accumulated metrics and up to four temporaries of their size,
    ``5 n_metrics`` floats per point and path of the block, a bound that
    ``tests/test_sweeps_grid.py`` checks with ``tracemalloc``); and the per-path tables of
    ``n_kept_tables`` policies (counted twice, as the engine's
    :func:`~mcsim.engine.estimate_memory` does for the labelled copy). It grows with the
    grid, not with grid x paths. Measured against the peak resident memory of a 500-point
    sweep on W1 (docs/performance.md), it covers what the sweep adds (669 MiB estimated,
    about 540 MiB measured at 10,000 paths).

    Parameters
    ----------
    n_points : int
        Policies in the sweep (grid points plus the scenario's own policies).
    n_paths : int
        Simulated paths.
    n_kept_tables : int
        Policies whose per-path table is kept in full (the baseline, the winner, ...).
    n_metrics, n_risk_aversions, n_references : int
        Sizes of the accumulator (see :func:`~mcsim.accumulators.accumulator_bytes`).
    block_size, n_jobs : int
        Paths per block and blocks simulated at once.
    """
    acc = accumulator_bytes(n_points, n_metrics, n_risk_aversions, n_references)
    jobs = max(1, int(n_jobs))
    per_path = layout.N_METRICS + 5 * int(n_metrics)
    per_block = int(n_points) * min(int(block_size), int(n_paths)) * per_path * 8
    tables = 2 * int(n_kept_tables) * int(n_paths) * layout.N_METRICS * 8
    return acc * (1 + 2 * jobs) + jobs * per_block + tables
