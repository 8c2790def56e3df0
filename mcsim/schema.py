"""A JSON Schema (draft 2020-12) of scenario files, built from the validator's own definitions.

Editors that check TOML against a JSON Schema (Taplo, the Even Better TOML extension) use it
to complete and check fields. Nothing here is written by hand per field, so the schema cannot
drift from what :meth:`mcsim.Scenario.from_dict` accepts:

- the keys of each section are those the validator allows (dataclass fields, a model's or a
  stress's ``_KEYS``, the top-level keys), and every section refuses other keys;
- the kinds of models, policies and stresses are their registries (:data:`mcsim.models.MODELS`,
  :data:`mcsim.policies.POLICIES`, :data:`mcsim.stress.STRESS_KINDS`);
- descriptions and types come from the classes' NumPy-style docstrings (``name : type``);
- ranges and choices are read from the validating calls in the classes' source
  (``as_int(..., low=1)``, ``as_float(..., high=1.0, high_open=True)``,
  ``as_str(..., choices=...)``), with their bounds' values taken from the modules.

The schema is a help for editing, not the judge: cross-field rules (weights summing to 1, a
goal with a ``below_goal`` condition, ...) are checked only by mcsim itself.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .config import _TOP_KEYS, DataConfig, SimulationConfig
from .costs import CostModel
from .decision import DecisionConfig
from .failure import FailureConfig
from .flows import CashFlow
from .models import MODELS
from .policies import POLICIES
from .stress import STRESS_KINDS
from .stress.specs import _COMMON_KEYS
from .sweeps import SweepConfig
from .taxes import TaxConfig

__all__ = ["SCHEMA_ID", "scenario_schema", "write_schema"]

SCHEMA_ID = "https://mcsim.invalid/scenario.schema.json"
"""The schema's ``$id`` (a name, not a place to download it from)."""

_CHECKS = {"as_int", "as_float", "as_str"}
# Keys of a model's section that its parameters table (``params()``) writes back, so a saved
# model reads again; no class documents them as a parameter.
_WRITTEN_BACK = {
    "assets": "Names of the simulated series, in column order (with explicit parameters; a "
    "fitted model takes the data's columns).",
    "fit": "How the parameters were fitted (a table written by the model; informational).",
    "summary": "A table written by the model's params() (informational).",
}
_BULLET = re.compile(r"^\* ``(?P<name>\w+) = (?P<value>[^`]*)``: (?P<text>.*)$")
_PARAM = re.compile(r"^(?P<names>[A-Za-z_][\w, ]*?)\s*:\s*(?P<type>.+)$")
_SECTION_RULE = re.compile(r"^-{3,}$")
_JSON_TYPES = (
    ("bool", "boolean"),
    ("int", "integer"),
    ("float", "number"),
    ("number", "number"),
    ("str", "string"),
    ("mapping", "object"),
    ("dict", "object"),
    ("table", "object"),
    ("list", "array"),
    ("sequence", "array"),
    ("array", "array"),
    ("tuple", "array"),
)


# -- docstrings ------------------------------------------------------------------------------


@cache
def _documented(cls: type) -> dict[str, tuple[str, str]]:
    """``{parameter: (type text, description)}`` from the Parameters and Attributes sections
    of the docstrings of ``cls`` and its bases (the class's own text wins)."""
    out: dict[str, tuple[str, str]] = {}
    for klass in reversed(cls.__mro__):
        out.update(_parse_params(inspect.getdoc(klass) or ""))
    return out


def _parse_params(doc: str) -> dict[str, tuple[str, str]]:
    lines = doc.splitlines()
    out: dict[str, tuple[str, str]] = {}
    in_params = False
    current: list[str] = []
    text: list[str] = []

    def flush() -> None:
        if current:
            desc = " ".join(t.strip() for t in text).strip()
            for name in current:
                out.setdefault(name, (type_text, desc))

    type_text = ""
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _SECTION_RULE.match(nxt.strip()) and line.strip():
            flush()
            current, text = [], []
            in_params = line.strip() in ("Parameters", "Attributes", "Other Parameters")
            continue
        if _SECTION_RULE.match(line.strip()):
            continue
        b = _BULLET.match(line)
        if b and not in_params:
            flush()
            value = b["value"].strip()
            type_text = "bool" if value in ("true", "false") else "float" if value == "x" else ""
            current, text = [b["name"]], [b["text"]]
            continue
        if not in_params:
            if current and line.startswith("  "):
                text.append(line)
            elif current:
                flush()
                current, text = [], []
            continue
        m = _PARAM.match(line) if line and not line.startswith(" ") else None
        if m:
            flush()
            current = [n.strip() for n in m["names"].split(",") if n.strip()]
            type_text, text = m["type"].strip(), []
        elif current:
            text.append(line)
    flush()
    return out


def _types_of(type_text: str) -> dict[str, Any]:
    """JSON types (and an enum) from a docstring's type text, such as ``float or mapping``,
    ``int, optional`` or ``{"fifo", "hifo"}``."""
    text = re.sub(r"\([^)]*\)", "", type_text.lower().replace(", optional", ""))
    if text.startswith("{"):
        values = re.findall(r"""["']([^"']+)["']""", text.split("}")[0])
        if values:
            return {"enum": values}
        numbers = re.findall(r"-?\d+(?:\.\d+)?", text.split("}")[0])
        if numbers:
            return {"enum": [float(n) if "." in n else int(n) for n in numbers]}
    found: list[str] = []
    for word in re.split(r"\bor\b|,|\|", text):
        word = word.strip()
        if word[:1] in "\"'" and word:
            word = "str"  # a literal such as "auto"
        for key, json_type in _JSON_TYPES:
            if word.startswith(key) and json_type not in found:
                found.append(json_type)
                break
        else:
            if word:
                return {}  # a type we cannot say in JSON: leave it open
    if "integer" in found and "number" in found:
        found.remove("integer")
    if not found:
        return {}
    return {"type": found[0] if len(found) == 1 else found}


# -- the validating calls ----------------------------------------------------------------------


@cache
def _checked(cls: type) -> dict[str, dict[str, Any]]:
    """Ranges and choices of fields, read from the ``as_int`` / ``as_float`` / ``as_str``
    calls in the source of ``cls`` and its bases: ``{field: {"minimum": 1, ...}}``."""
    out: dict[str, dict[str, Any]] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not klass.__module__.startswith("mcsim"):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        module = sys.modules[klass.__module__]
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in _CHECKS):
                continue
            field = _field_of(node)
            if field is None:
                continue
            rules = _rules(node, vars(module))
            if rules is not None:
                out[field] = {**out.get(field, {}), **rules}
    return out


def _field_of(call: ast.Call) -> str | None:
    """The field a check names: the last part of its ``f"{w}.field"`` label."""
    if len(call.args) < 2:
        return None
    label = call.args[1]
    tail = None
    if isinstance(label, ast.JoinedStr) and label.values:
        last = label.values[-1]
        tail = last.value if isinstance(last, ast.Constant) else None
    elif isinstance(label, ast.Constant):
        tail = label.value
    if not isinstance(tail, str) or "." not in tail:
        return None
    name = tail.rsplit(".", 1)[1]
    return name if name.isidentifier() else None


def _value(node: ast.expr, names: Mapping[str, Any]) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("sorted", "list"):
            inner = _value(node.args[0], names) if node.args else None
            return sorted(inner) if inner is not None else None
        return None


def _rules(call: ast.Call, names: Mapping[str, Any]) -> dict[str, Any] | None:
    kw = {k.arg: _value(k.value, names) for k in call.keywords if k.arg}
    kind = call.func.id  # type: ignore[attr-defined]
    if kind == "as_str":
        choices = kw.get("choices")
        if isinstance(choices, Iterable) and not isinstance(choices, str):
            values = list(choices)
            if values and all(isinstance(v, str) for v in values):
                return {"enum": values}
        return {}
    rules: dict[str, Any] = {}
    for bound, inclusive, exclusive, open_key in (
        ("low", "minimum", "exclusiveMinimum", "low_open"),
        ("high", "maximum", "exclusiveMaximum", "high_open"),
    ):
        value = kw.get(bound)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rules[exclusive if kw.get(open_key) else inclusive] = value
    return rules


# -- sections --------------------------------------------------------------------------------


def _doc_of(cls: type, name: str) -> tuple[str, str]:
    """The docstring entry of ``name``: from ``cls``, else from another policy or model that
    documents the same key (such as ``every``), else the written-back keys' text."""
    own_type, own_text = _documented(cls).get(name, ("", ""))
    if own_text:
        return own_type, own_text
    for other in (*POLICIES.values(), *MODELS.values()):
        found_type, found_text = _documented(other).get(name, ("", ""))
        if found_text:
            return own_type or found_type, found_text
    return own_type, _WRITTEN_BACK.get(name, "")


def _property(cls: type, name: str) -> dict[str, Any]:
    doc_type, desc = _doc_of(cls, name)
    prop: dict[str, Any] = {}
    if desc:
        prop["description"] = desc
    checked = _checked(cls).get(name, {})
    prop.update(_types_of(doc_type))
    if "enum" in checked:
        prop.pop("type", None)
        prop["enum"] = checked["enum"]
    elif checked:
        prop.update(checked)
        types = prop.get("type")
        if types is None:
            prop["type"] = "number"
    if dataclasses.is_dataclass(cls):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        f = fields.get(name)
        if f is not None and f.default is not dataclasses.MISSING:
            default = f.default
            if isinstance(default, (bool, int, float, str)):
                prop["default"] = default
    return prop


def _section(
    cls: type,
    keys: Iterable[str],
    *,
    title: str,
    description: str | None = None,
    required: Iterable[str] = (),
    extra: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    props = {k: _property(cls, k) for k in keys}
    props.update(extra or {})
    out: dict[str, Any] = {
        "type": "object",
        "title": title,
        "description": description or _summary(cls),
        "properties": props,
        "additionalProperties": False,
    }
    required = list(required)
    if required:
        out["required"] = required
    return out


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _fields(cls: type, skip: Iterable[str] = ()) -> list[str]:
    skip = set(skip)
    return [f.name for f in dataclasses.fields(cls) if f.init and f.name not in skip]


def _by_kind(
    registry: Mapping[str, type],
    keys_of: Callable[[type], list[str]],
    *,
    what: str,
    default_kind: str | None = None,
    required: Iterable[str] = ("kind",),
) -> dict[str, Any]:
    """One table whose ``kind`` chooses the allowed keys: an ``if kind = ... then`` per kind."""
    kinds = list(registry)
    branches = []
    for kind, cls in registry.items():
        keys = [k for k in keys_of(cls) if k != "kind"]
        then = _section(cls, keys, title=f"{what} kind {kind!r}", required=())
        then["properties"]["kind"] = {"const": kind}
        condition: dict[str, Any] = {"properties": {"kind": {"const": kind}}}
        if kind == default_kind:
            # Without `kind` the validator takes the default kind.
            condition = {
                "anyOf": [condition, {"not": {"required": ["kind"]}}],
            }
        else:
            condition["required"] = ["kind"]
        branches.append({"if": condition, "then": then})
    kind_prop: dict[str, Any] = {"enum": kinds, "description": f"Which {what.lower()} this is."}
    if default_kind is not None:
        kind_prop["default"] = default_kind
    return {
        "type": "object",
        "properties": {"kind": kind_prop},
        "required": [r for r in required if not (r == "kind" and default_kind)],
        "allOf": branches,
    }


def _policy_keys(cls: type) -> list[str]:
    return _fields(cls, skip=getattr(cls, "python_only", ()))


def _stress_keys(cls: type) -> list[str]:
    return [*_COMMON_KEYS, *cls._KEYS]


def _model_keys(cls: type) -> list[str]:
    return list(cls._KEYS)


@cache
def _build() -> str:
    sim = _section(SimulationConfig, _fields(SimulationConfig), title="[simulation]")
    data = _section(
        DataConfig, _fields(DataConfig, skip=["base_dir"]), title="[data]", required=["source"]
    )
    model = _by_kind(MODELS, _model_keys, what="Return model", default_kind="gaussian")
    model["title"] = "[model]"
    model["description"] = "The return model: its kind and settings (see docs/models.md)."
    portfolio = {
        "type": "object",
        "title": "[portfolio]",
        "description": "The target mix.",
        "properties": {
            "target": {
                "type": "object",
                "description": "Weight of each asset (fractions summing to 1), such as "
                "{ us_stocks_tr = 0.6, us_bonds_10y_tr = 0.4 }.",
                "additionalProperties": {"type": "number"},
                "minProperties": 1,
            }
        },
        "required": ["target"],
        "additionalProperties": False,
    }
    policy = _by_kind(POLICIES, _policy_keys, what="Policy", required=("kind", "name"))
    policy["title"] = "[[policies]]"
    policy["description"] = "A rebalancing policy (see docs/policies.md)."
    stress = _by_kind(STRESS_KINDS, _stress_keys, what="Stress", required=("kind", "name"))
    stress["title"] = "[[stresses]]"
    stress["description"] = "A stress applied to the run's paths (see docs/stress.md)."
    comparison = {
        "type": "object",
        "title": "[comparison]",
        "description": "What the policies are compared with.",
        "properties": {
            "baseline": {
                "type": "string",
                "description": "The policy the others are compared with, path by path "
                "(default: the first policy).",
            }
        },
        "additionalProperties": False,
    }
    grid = {
        "type": "object",
        "description": "Swept fields of the policy and their values: a list, or a range "
        '"start:stop:step" (inclusive), such as band = [0.02, 0.05] or band = "0.01:0.1:0.01".',
        "additionalProperties": {"type": ["array", "string", "number", "boolean"]},
        "minProperties": 1,
    }
    sweep = _section(
        SweepConfig,
        _fields(SweepConfig, skip=["index", "grid"]),
        title="[[sweeps]]",
        required=["policy", "grid"],
        extra={"grid": grid},
    )
    sections: dict[str, Any] = {
        "name": {"type": "string", "description": "The scenario's name (in results and reports)."},
        "description": {"type": "string", "description": "One line on what the scenario is."},
        "simulation": sim,
        "data": data,
        "model": model,
        "portfolio": portfolio,
        "costs": _section(CostModel, _fields(CostModel), title="[costs]"),
        "flows": {
            "type": "array",
            "description": "Cash flows in and out (see docs/policies.md).",
            "items": _section(CashFlow, _fields(CashFlow), title="[[flows]]"),
        },
        "taxes": _section(TaxConfig, _fields(TaxConfig), title="[taxes]"),
        "policies": {
            "type": "array",
            "description": "The policies run on the same paths.",
            "minItems": 1,
            "items": policy,
        },
        "comparison": comparison,
        "sweeps": {
            "type": "array",
            "description": "Grids of variants of one policy.",
            "items": sweep,
        },
        "decision": _section(DecisionConfig, _fields(DecisionConfig), title="[decision]"),
        "stresses": {
            "type": "array",
            "description": "Stresses, each compared path by path with the unstressed run.",
            "items": stress,
        },
        "failure": _section(FailureConfig, _fields(FailureConfig), title="[failure]"),
    }
    missing = set(_TOP_KEYS) ^ set(sections)
    if missing:  # pragma: no cover - a new section without its schema
        raise RuntimeError(f"scenario sections without a schema: {sorted(missing)}")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mcsim scenario",
        "description": "A scenario file of mcsim (TOML). Written by `mcsim schema`.",
        "type": "object",
        "properties": sections,
        "required": ["portfolio", "policies"],
        "additionalProperties": False,
    }
    return json.dumps(schema, indent=2, sort_keys=False)


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of scenario files, as a dict (a fresh copy)."""
    return json.loads(_build())


def write_schema(path: str | Path) -> Path:
    """Write :func:`scenario_schema` to ``path`` as indented JSON (UTF-8) and return it."""
    path = Path(path)
    path.write_text(_build() + "\n", encoding="utf-8")
    return path
