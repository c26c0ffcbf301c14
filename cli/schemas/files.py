"""
File schemas
============

The JSON Schemas of the files arspec writes besides its reports: the counterexample trace
of ``explore --trace-out`` (:mod:`arspec.model.trace_file`, read back by ``replay``), and
the test vectors' manifest and vector lines (:mod:`arspec.cli.vectors`).
"""

from __future__ import annotations

from typing import Final

from arspec.cli.schemas.common import (
    COUNT,
    INT,
    STRING,
    Schema,
    array,
    document,
    enum,
    obj,
)
from arspec.cli.vectors import common as vectors
from arspec.cli.vectors.schemas import SCHEMAS as VECTOR_SCHEMAS
from arspec.model import trace_file

_STEP: Final[Schema] = {"oneOf": [
    obj({"action": enum(["ApplyWrite", "EnqueueDue", "RunHead", "EndSlot"])}),
    obj({"action": {"const": "DomainWrite"}, "account": STRING, "field": STRING,
         "value": INT}),
    obj({"action": {"const": "Watch"}, "position": COUNT}),
]}

TRACE: Final = document("trace", trace_file.TRACE_FORMAT, trace_file.TRACE_VERSION,
                        "spec-check explore --trace-out (read by spec-check replay)", {
    "bundle": STRING, "bundle_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "slots": COUNT, "invariant": STRING, "kind": enum(["state", "transition", "lasso"]),
    "reason": STRING, "steps": array(_STEP), "cycle_from": COUNT}, optional=("cycle_from",))

VECTORS_MANIFEST: Final = document(
    "vectors-manifest", vectors.FORMAT, vectors.VERSION,
    "manifest.json of spec-check vectors", {
        "files": array(obj({"path": STRING, "kind": enum([*vectors.KINDS, "schema"]),
                            "vectors": COUNT,
                            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}))})

#: One line of each kind of vector file.
VECTOR_LINES: Final = dict(VECTOR_SCHEMAS)
