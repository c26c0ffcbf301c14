"""
Schema building blocks
======================

Small builders for JSON Schema (draft 2020-12) nodes, shared by the schema modules: an
object whose keys are all required and no other key allowed, a nullable node, the envelope
``{"format": "arspec-<kind>", "version": N}`` every document starts with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

Schema = dict[str, Any]

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
INT: Final[Schema] = {"type": "integer"}
COUNT: Final[Schema] = {"type": "integer", "minimum": 0}
U64: Final[Schema] = {"type": "integer", "minimum": 0, "maximum": (1 << 64) - 1}
STRING: Final[Schema] = {"type": "string"}
BOOL: Final[Schema] = {"type": "boolean"}
HEX: Final[Schema] = {"type": "string", "pattern": "^([0-9a-f]{2})*$"}
#: The exit codes of :mod:`arspec.cli.exit_codes` a document can carry.
EXIT_CODE: Final[Schema] = {"enum": [0, 1, 2, 3, 4, 5]}


def obj(properties: Mapping[str, Schema], optional: Iterable[str] = ()) -> Schema:
    """Return an object node: every key of ``properties`` but ``optional`` required, no
    other key allowed."""
    left_out = set(optional)
    return {"type": "object", "additionalProperties": False,
            "required": [k for k in properties if k not in left_out],
            "properties": dict(properties)}


def nullable(node: Schema) -> Schema:
    """Return ``node`` or ``null``."""
    return {"oneOf": [{"type": "null"}, node]}


def array(items: Schema) -> Schema:
    """Return an array node of ``items``."""
    return {"type": "array", "items": items}


def enum(values: Iterable[object]) -> Schema:
    """Return a node accepting exactly ``values``."""
    return {"enum": list(values)}


def mapping(values: Schema) -> Schema:
    """Return an object node with any keys and values of ``values``."""
    return {"type": "object", "additionalProperties": values}


def header(kind: str, version: int, title: str) -> Schema:
    """Return the ``$schema``, ``$id`` and ``title`` of the schema of ``kind``."""
    return {"$schema": DRAFT, "$id": f"https://arspec.invalid/schemas/{kind}-v{version}.json",
            "title": title}


def envelope(fmt: str, version: int) -> dict[str, Schema]:
    """Return the ``format`` and ``version`` properties every document starts with."""
    return {"format": {"const": fmt}, "version": {"const": version}}


def document(kind: str, fmt: str, version: int, title: str, properties: Mapping[str, Schema],
             optional: Iterable[str] = ()) -> Schema:
    """Return the schema of a whole document: ``$schema``, ``$id``, ``title`` and an object
    starting with ``format`` (``fmt``) and ``version`` (``version``)."""
    return {**header(kind, version, title),
            **obj({**envelope(fmt, version), **properties}, optional)}
