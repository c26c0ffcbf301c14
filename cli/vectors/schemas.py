"""
Vector schemas
==============

The JSON Schema (draft 2020-12) of each kind of vector, written next to the vectors and
published in ``docs/vectors/``. The runtime state and events are described by their shape
only (objects, ``{"key", "value"}`` entry lists, hex strings), since they follow the spec's
state record field for field.
"""

from __future__ import annotations

from typing import Any, Final

from arspec.cli.vectors.common import FORMAT, VERSION

_DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
_HEX: Final = {"type": "string", "pattern": "^([0-9a-f]{2})*$"}
_U64: Final = {"type": "integer", "minimum": 0, "maximum": (1 << 64) - 1}
_NAMES: Final = {"type": "array", "items": {"type": "string", "pattern": r"^arspec\.spec\."},
                 "uniqueItems": True}
_VERDICT: Final = {"enum": ["PROVED", "REFUTED", "UNKNOWN"]}


def _envelope(kind: str, inputs: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": _DRAFT,
        "$id": f"https://arspec.invalid/schemas/vectors-{kind}-v{VERSION}.json",
        "title": f"arspec {kind} test vector, version {VERSION}",
        "type": "object",
        "required": ["format", "version", "kind", "id", "source", "exercises", "input",
                     "expected"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": FORMAT},
            "version": {"const": VERSION},
            "kind": {"const": kind},
            "id": {"type": "string", "minLength": 1},
            "source": {"type": "string"},
            "exercises": _NAMES,
            "input": inputs,
            "expected": expected,
        },
    }


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": sorted(properties), "additionalProperties": False,
            "properties": properties}


_FAULT: Final = {"oneOf": [{"type": "null"}, _object({
    "code": {"type": "string"},
    "pc": {"type": ["integer", "null"]},
    "address": {"oneOf": [{"type": "null"}, _U64]},
    "message": {"type": "string"},
})]}

INSTRUCTION: Final = _envelope("instruction", _object({
    "profile": {"enum": ["linux", "solana"]},
    "loader": {"enum": ["raw", "sbpf_v0"]},
    "program": _HEX,
    "text": {"oneOf": [{"type": "null"}, _HEX]},
    "memory": _HEX,
    "registers": {"type": "object", "additionalProperties": False,
                  "patternProperties": {"^r[1-5]$": _U64}},
    "compute_limit": {"type": "integer", "minimum": 1},
    "helpers": {"enum": ["plugin", "solana_syscalls"]},
}), _object({
    "status": {"enum": ["exit", "fault", "refused"]},
    "registers": {"oneOf": [{"type": "null"},
                            {"type": "array", "items": _U64, "minItems": 11, "maxItems": 11}]},
    "memory": {"type": "array", "items": _object({"address": _U64, "hex": _HEX})},
    "compute_units": {"type": "integer", "minimum": 0},
    "instructions": {"type": "integer", "minimum": 0},
    "fault": _FAULT,
    "logs": {"type": "array", "items": {"type": "string"}},
}))

_STATE: Final = {"type": "object", "required": ["slot", "maps", "accounts", "fifo",
                                                  "slot_cu_used", "watchers",
                                                  "runtime_watchers"]}

RUNTIME: Final = _envelope("runtime", _object({
    "bundle_name": {"type": "string"},
    "profile": {"enum": ["linux", "solana"]},
    "bundle": {"type": "string"},
    "slot": {"type": "integer", "minimum": 0},
    "state_before": _STATE,
}), _object({
    "events": {"type": "array", "items": {"type": "object",
                                          "required": ["slot", "kind", "charged"]}},
    "state_after": _STATE,
}))

VERIFIER: Final = _envelope("verifier", _object({
    "bundle_name": {"type": "string"},
    "profile": {"enum": ["linux", "solana"]},
    "bundle": {"type": "string"},
}), _object({
    "programs": {"type": "array", "items": _object({
        "name": {"type": "string"},
        "verdicts": {"type": "object", "additionalProperties": _VERDICT},
    })},
}))

#: Each kind's schema.
SCHEMAS: Final = {"instruction": INSTRUCTION, "runtime": RUNTIME, "verifier": VERIFIER}
