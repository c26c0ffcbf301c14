"""The bundle schema: JSON Schema for editors and docs, strictness, and model-level rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from arspec.spec import bundle as schema
from arspec.spec.bundle import (
    ASYNC_CAPABLE,
    HASH_LIKE,
    Bundle,
    FieldType,
    MapSpec,
    MapType,
    bundle_json_schema,
    field_range,
    field_width,
)
from arspec.spec.yaml_source import parse_yaml

VALID = sorted((Path(__file__).parent / "bundles" / "valid").glob("*.yaml"))
PROGRAM = {"p": {"code": "exit", "hook": {"on": "startup"}}}


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_objects(value))
    return found


def _rule_errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        Bundle.model_validate(data)
    return [dict(e) for e in info.value.errors()]


def test_schema_is_deterministic_json() -> None:
    first = json.dumps(bundle_json_schema(), indent=2)
    assert first == json.dumps(bundle_json_schema(), indent=2)
    schema_doc = json.loads(first)
    assert list(schema_doc)[:2] == ["$schema", "$id"]
    assert list(schema_doc["$defs"]) == sorted(schema_doc["$defs"])
    assert list(schema_doc["properties"]) == ["arspec", "name", "profile", "preset", "budgets",
                                              "accounts", "maps", "programs", "scenario",
                                              "properties"]
    assert schema_doc["required"] == ["arspec", "programs"]


def test_every_property_is_documented() -> None:
    objects = _objects(bundle_json_schema())
    assert len(objects) >= 20
    for obj in objects:
        for name, prop in obj["properties"].items():
            assert prop.get("description"), f"{obj.get('title')}.{name} has no description"


def test_every_object_forbids_unknown_keys() -> None:
    for obj in _objects(bundle_json_schema()):
        assert obj.get("additionalProperties") is False, obj.get("title")


def test_map_sizes_not_required_in_schema() -> None:
    required = bundle_json_schema()["$defs"]["MapSpec"]["required"]
    assert required == ["type", "max_entries"]


def test_hook_is_discriminated_on_on() -> None:
    hook = bundle_json_schema()["$defs"]["Program"]["properties"]["hook"]
    assert hook["discriminator"]["propertyName"] == "on"
    assert set(hook["discriminator"]["mapping"]) == {
        "startup", "every", "watch", "timer", "workqueue", "ringbuf", "tail_call"}


def test_map_type_names() -> None:
    assert [t.value for t in MapType] == ["hash", "array", "percpu_array", "percpu_hash",
                                          "lru_hash", "queue", "stack", "prog_array", "ringbuf"]
    assert bundle_json_schema()["$defs"]["MapType"]["enum"] == [t.value for t in MapType]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_bundles_conform_to_the_json_schema(path: Path) -> None:
    data = parse_yaml(path.read_text(), filename=str(path)).data
    # JSON has only string keys; prog_array indices are written as integers in YAML.
    text = json.dumps(data)
    jsonschema.validate(json.loads(text), bundle_json_schema())


@pytest.mark.parametrize("data", [
    {"arspec": 1},
    {"arspec": 1, "programs": PROGRAM, "extra": 1},
    {"arspec": 1, "programs": PROGRAM, "maps": {"m": {"type": "nope", "max_entries": 1}}},
    {"arspec": 1, "programs": {"p": {"code": "exit", "hook": {"on": "never"}}}},
    {"arspec": 1, "programs": PROGRAM, "budgets": {"per_invocation": 0}},
    {"arspec": 1, "programs": PROGRAM, "accounts": {"a": {"size": 1, "data": "zz"}}},
    {"arspec": 1, "programs": {"2x": PROGRAM["p"]}},
])
def test_invalid_json_schema_rejects_what_the_models_reject(data: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, bundle_json_schema())
    with pytest.raises(ValidationError):
        Bundle.model_validate(data)


# --------------------------------------------------------------------------- strictness


@pytest.mark.parametrize("value", ["1", 1.0, True, None])
def test_invalid_version_types(value: object) -> None:
    errors = _rule_errors({"arspec": value, "programs": PROGRAM})
    assert errors[0]["loc"] == ("arspec",)


def test_invalid_map_type_instance_of_other_enum() -> None:
    errors = _rule_errors({"arspec": 1, "programs": PROGRAM,
                           "maps": {"m": {"type": 2, "value_size": 4, "max_entries": 1}}})
    assert errors[0]["loc"] == ("maps", "m", "type")


def test_invalid_rule_error_carries_its_key_path() -> None:
    errors = _rule_errors({"arspec": 1, "programs": PROGRAM,
                           "maps": {"chain": {"type": "prog_array", "max_entries": 2,
                                              "entries": {1: "ghost"}}}})
    assert errors[0]["type"] == "bundle_rule"
    assert errors[0]["loc"] == ()
    assert errors[0]["ctx"]["at"] == ("maps", "chain", "entries", 1)


def test_invalid_async_struct_outside_capable_maps() -> None:
    for kind in MapType:
        data: dict[str, object] = {"type": kind.value, "max_entries": 4096, "timer": 0}
        if kind in HASH_LIKE:
            data["key_size"] = 4
        if kind not in (MapType.PROG_ARRAY, MapType.RINGBUF):
            data["value_size"] = 32
        if kind in ASYNC_CAPABLE:
            assert MapSpec.model_validate(data).timer == 0
        else:
            with pytest.raises(ValidationError, match=f"a {kind.value} map cannot hold a timer"):
                MapSpec.model_validate(data)


def test_python_construction_runs_cross_checks() -> None:
    errors = _rule_errors({"arspec": 1, "budgets": {"per_invocation": 10},
                           "programs": {"p": {**PROGRAM["p"], "budget": 11}}})
    assert errors[0]["ctx"]["at"] == ("programs", "p", "budget")


def test_field_types() -> None:
    assert [field_width(t) for t in FieldType] == [1, 2, 4, 8, 1, 2, 4, 8]
    assert field_range(FieldType.U16) == (0, 65535)
    assert field_range(FieldType.I64) == (-(1 << 63), (1 << 63) - 1)


def test_models_are_frozen_and_forbid_extras() -> None:
    for name in dir(schema):
        model = getattr(schema, name)
        if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel:
            assert model.model_config.get("frozen") is True, name
            assert model.model_config.get("extra") == "forbid", name
            assert model.model_config.get("strict") is True, name
