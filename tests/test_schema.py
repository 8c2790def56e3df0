"""The JSON Schema of scenario files: valid draft 2020-12, accepts every bundled scenario,
refuses bad files, and allows exactly the keys the validator allows (so it cannot drift)."""

from __future__ import annotations

import copy
import json
import re
import tomllib

import pytest

import mcsim
from mcsim import cli
from mcsim.errors import ConfigError
from mcsim.models import MODELS
from mcsim.policies import POLICIES
from mcsim.scenarios import bundled_scenarios, scenario_path
from mcsim.schema import scenario_schema
from mcsim.stress import STRESS_KINDS

jsonschema = pytest.importorskip("jsonschema")

_ALLOWED = re.compile(r"Allowed keys: (.*)\.$")


@pytest.fixture(scope="module")
def schema():
    return scenario_schema()


@pytest.fixture(scope="module")
def validator(schema):
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, table) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(table)]


def test_schema_is_valid_draft_2020_12(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", bundled_scenarios())
def test_every_bundled_scenario_is_valid(name, validator):
    table = tomllib.loads(scenario_path(name).read_text(encoding="utf-8"))
    assert _errors(validator, table) == []


def _walk(node, title=""):
    if isinstance(node, dict):
        for key, prop in node.get("properties", {}).items():
            yield node.get("title", title), key, prop
        for value in node.values():
            yield from _walk(value, node.get("title", title))
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, title)


def test_every_field_has_a_description(schema):
    missing = [
        f"{where}.{key}"
        for where, key, prop in _walk(schema)
        if key != "kind" and not prop.get("description")
    ]
    assert missing == []
    assert all(schema["properties"][s].get("description") for s in schema["properties"])


def test_ranges_and_choices_come_from_the_validator(schema):
    sim = schema["properties"]["simulation"]["properties"]
    assert sim["n_paths"] == {**sim["n_paths"], "type": "integer", "minimum": 1}
    assert sim["horizon_years"]["exclusiveMinimum"] == 0
    assert sim["horizon_years"]["maximum"] == mcsim.config.MAX_HORIZON_YEARS
    assert sim["steps_per_year"]["maximum"] == 100_000
    assert schema["properties"]["data"]["properties"]["kind"]["enum"] == ["returns", "prices"]
    failure = schema["properties"]["failure"]["properties"]
    assert failure["mode"]["enum"] == ["any", "all"]
    assert failure["ruin"]["type"] == "boolean"


# -- bad files fail ------------------------------------------------------------------------------


def _default() -> dict:
    return tomllib.loads(scenario_path("default_60_40").read_text(encoding="utf-8"))


def _set(table: dict, path: tuple, value) -> dict:
    table = copy.deepcopy(table)
    node = table
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return table


BAD = {
    "unknown_section": (("simulatoin",), {"n_paths": 1}),
    "unknown_simulation_key": (("simulation", "n_path"), 100),
    "zero_paths": (("simulation", "n_paths"), 0),
    "text_paths": (("simulation", "n_paths"), "many"),
    "horizon_zero": (("simulation", "horizon_years"), 0),
    "bad_data_kind": (("data", "kind"), "levels"),
    "bad_model_kind": (("model", "kind"), "gaussain"),
    "bad_estimator": (("model", "estimator"), "shrunk"),
    "model_key_of_another_kind": (("model", "halflife"), 12),
    "policy_kind": (("policies", 1, "kind"), "calender"),
    "policy_key_of_another_kind": (("policies", 1, "band"), 0.05),
    "no_policies": (("policies",), []),
    "baseline_number": (("comparison", "baseline"), 3),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_fail(case, validator):
    path, value = BAD[case]
    table = _set(_default(), path, value)
    assert _errors(validator, table), case
    # mcsim's own validator refuses each of them as well.
    with pytest.raises(ConfigError):
        mcsim.Scenario.from_dict(table)


def test_missing_sections_fail(validator):
    table = _default()
    del table["portfolio"]
    assert any("'portfolio' is a required property" in e for e in _errors(validator, table))
    policy = {"kind": "calendar", "every": 12}  # no name
    assert _errors(validator, _set(_default(), ("policies",), [policy]))


# -- the schema's keys are the validator's keys ---------------------------------------------------


def _allowed_by_validator(table: dict) -> set[str]:
    with pytest.raises(ConfigError) as e:
        mcsim.Scenario.from_dict(table)
    m = _ALLOWED.search(str(e.value))
    assert m, str(e.value)
    return set(m.group(1).split(", "))


def _branch(node: dict, kind: str) -> dict:
    for b in node["allOf"]:
        cond = b["if"]
        consts = [cond, *cond.get("anyOf", [])]
        if any(c.get("properties", {}).get("kind", {}).get("const") == kind for c in consts):
            return b["then"]
    raise AssertionError(kind)


def _base(small_table) -> dict:
    return small_table()


def test_section_keys_match_the_validator(schema, small_table):
    props = schema["properties"]
    base = _base(small_table)
    assert _allowed_by_validator({**base, "zzz": 1}) == set(props)
    for section in ("simulation", "costs", "taxes", "decision", "failure", "data", "comparison"):
        table = copy.deepcopy(base)
        table[section] = {**table.get(section, {}), "zzz": 1}
        if section == "data":
            table[section]["source"] = "shiller"
        assert _allowed_by_validator(table) == set(props[section]["properties"]), section
    flows = [{"amount": -1.0, "every": 12, "zzz": 1}]
    assert _allowed_by_validator({**base, "flows": flows}) == set(
        props["flows"]["items"]["properties"]
    )
    sweeps = [{"policy": "quarterly", "grid": {"every": [1, 3]}, "zzz": 1}]
    assert _allowed_by_validator({**base, "sweeps": sweeps}) == set(
        props["sweeps"]["items"]["properties"]
    )


@pytest.mark.parametrize("kind", list(POLICIES))
def test_policy_keys_match_the_validator(kind, schema, small_table):
    table = _base(small_table)
    table["policies"] = [{"name": "p", "kind": kind, "zzz": 1}]
    expected = set(_branch(schema["properties"]["policies"]["items"], kind)["properties"])
    assert _allowed_by_validator(table) == expected


@pytest.mark.parametrize("kind", list(MODELS))
def test_model_keys_match_the_validator(kind, schema, small_table):
    table = _base(small_table)
    table["model"] = {"kind": kind, "zzz": 1}
    expected = set(_branch(schema["properties"]["model"], kind)["properties"])
    assert _allowed_by_validator(table) == expected


@pytest.mark.parametrize("kind", list(STRESS_KINDS))
def test_stress_keys_match_the_validator(kind, schema, small_table):
    table = _base(small_table)
    table["stresses"] = [{"name": "s", "kind": kind, "zzz": 1}]
    expected = set(_branch(schema["properties"]["stresses"]["items"], kind)["properties"])
    assert _allowed_by_validator(table) == expected


# -- mcsim schema ---------------------------------------------------------------------------------


def test_cli_writes_the_schema(tmp_path, capsys):
    out = tmp_path / "mcsim.schema.json"
    assert cli.main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == scenario_schema()
    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == scenario_schema()


def test_cli_refuses_an_unwritable_place(tmp_path, capsys):
    assert cli.main(["schema", "--out", str(tmp_path / "no" / "s.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert cli.main(["schema", "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
