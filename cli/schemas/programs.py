"""
Single-program schemas
======================

The JSON Schemas of ``exec --format json`` (:mod:`arspec.cli.exec_run`), its trace lines
(:mod:`arspec.cli.exec_trace`) and batch lines (:mod:`arspec.cli.exec_batch`). The result
object is an instruction vector's ``expected`` object, taken from the vectors' own schema
(:mod:`arspec.cli.vectors.schemas`): one shape, one schema.
"""

from __future__ import annotations

from typing import Any, Final

from arspec.cli import exec_batch, exec_run, exec_trace
from arspec.cli.schemas.common import (
    COUNT,
    EXIT_CODE,
    HEX,
    STRING,
    U64,
    array,
    document,
    enum,
    envelope,
    header,
    nullable,
    obj,
)
from arspec.cli.vectors.schemas import INSTRUCTION

#: The result of one run: an instruction vector's ``expected`` object.
RESULT: Final[dict[str, Any]] = INSTRUCTION["properties"]["expected"]
FAULT: Final[dict[str, Any]] = RESULT["properties"]["fault"]["oneOf"][1]
PROFILE: Final = enum(["linux", "solana"])

EXEC: Final = document("exec", exec_run.EXEC_FORMAT, exec_run.EXEC_VERSION,
                       "spec-check exec --format json", {
    "program": STRING, "profile": PROFILE, "input": HEX,
    "compute_limit": nullable({"type": "integer", "minimum": 1}), "exit_code": EXIT_CODE,
    "result": RESULT})

_REGISTER_NAMES: Final = [f"r{i}" for i in range(11)]
_WRITES: Final = array(obj({"address": U64, "hex": HEX}))

_INSTRUCTION_LINE: Final = {
    "step": COUNT, "pc": COUNT,
    "instruction": obj({"text": STRING,
                        "hex": nullable({**HEX, "minLength": 16, "maxLength": 32})}),
    "entry": nullable(obj({r: U64 for r in _REGISTER_NAMES})),
    "registers": {"type": "object", "additionalProperties": False,
                  "properties": {r: U64 for r in _REGISTER_NAMES}},
    "memory": _WRITES, "compute_units": COUNT}

_TRACE_ENVELOPE: Final = envelope(exec_trace.TRACE_FORMAT, exec_trace.TRACE_VERSION)

#: A trace line: one executed instruction, or the fault that ended the run (the last line).
EXEC_TRACE: Final = {
    **header("exec-trace", exec_trace.TRACE_VERSION, "one line of spec-check exec --trace-out"),
    "oneOf": [obj({**_TRACE_ENVELOPE, **_INSTRUCTION_LINE}),
              obj({**_TRACE_ENVELOPE, "step": COUNT, "fault": FAULT, "compute_units": COUNT})]}

EXEC_BATCH: Final = document(
    "exec-batch", exec_batch.BATCH_FORMAT, exec_batch.BATCH_VERSION,
    "one line of spec-check exec --batch", {
        "line": {"type": "string", "pattern": ":[0-9]+$"}, "id": nullable(STRING),
        "profile": nullable(PROFILE), "exit_code": EXIT_CODE, "result": nullable(RESULT),
        "error": nullable(STRING)})
EXEC_BATCH["oneOf"] = [
    {"properties": {"result": {"type": "object"}, "error": {"type": "null"},
                    "exit_code": enum([0, 1])}},
    {"properties": {"result": {"type": "null"}, "error": {"type": "string"},
                    "exit_code": {"const": 2}, "profile": {"type": "null"}}},
]
