"""
Vector plumbing
===============

What every kind of vector shares: the envelope (``format``, ``version``, ``kind``, ``id``,
``source``, ``exercises``, ``input``, ``expected``), the canonical JSON text (sorted keys, no
floats, bytes as lower-case hex) and :class:`SpecCalls`, which records the functions of
``arspec.spec`` a computation calls so a vector can say which parts of the specification it
exercises.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from enum import Enum
from types import FrameType, TracebackType
from typing import Any, Final

#: The ``format`` field of every vector.
FORMAT: Final = "arspec-vectors"
#: The ``version`` field; bumped when a field changes meaning or disappears.
VERSION: Final = 1
#: The kinds of vector, in the order they are written.
KINDS: Final = ("instruction", "runtime", "verifier")

_SPEC_PREFIX: Final = "arspec.spec."


def make_vector(kind: str, vector_id: str, source: str, exercises: list[str],
                inputs: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Return one vector with the common envelope."""
    return {"format": FORMAT, "version": VERSION, "kind": kind, "id": vector_id,
            "source": source, "exercises": exercises, "input": inputs, "expected": expected}


def dump_line(vector: Mapping[str, Any]) -> str:
    """Return ``vector`` as one canonical JSON line (sorted keys, ASCII, no spaces)."""
    return json.dumps(vector, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def to_plain(value: object) -> Any:
    """Return ``value`` as plain JSON data.

    Dataclasses become objects of their fields, enums their value, bytes lower-case hex,
    sets sorted lists and mappings lists of ``{"key": ..., "value": ...}`` sorted by the key's
    canonical JSON (a map key may be bytes or an int, which JSON object keys cannot be).
    """
    if isinstance(value, Enum):  # before int and str: IntEnum and StrEnum are both
        return to_plain(value.value)
    if isinstance(value, bool):
        return bool(value)
    if value is None or isinstance(value, int | str):
        return int(value) if isinstance(value, int) else None if value is None else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        entries = [{"key": to_plain(k), "value": to_plain(v)} for k, v in value.items()]
        return sorted(entries, key=lambda e: json.dumps(e["key"], sort_keys=True))
    if isinstance(value, set | frozenset):
        items = [to_plain(v) for v in value]
        return sorted(items, key=lambda e: json.dumps(e, sort_keys=True))
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    raise TypeError(f"no plain JSON form for {type(value).__name__}")


class SpecCalls:
    """A context manager that records the ``arspec.spec`` functions called inside it.

    ``names`` is the sorted list of qualified names (``arspec.spec.maps.process_map_update``)
    once the block has ended. Uses :func:`sys.setprofile`, so it sees calls made from the
    fast path's compiled code too; the previous profile function is restored on exit.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._previous: Any = None
        self.names: list[str] = []

    def _profile(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            name = frame.f_code.co_qualname
            # Generated code (dataclass methods, comprehensions) has "<" in its name.
            if isinstance(module, str) and module.startswith(_SPEC_PREFIX) and "<" not in name:
                self._seen.add(f"{module}.{name}")

    def __enter__(self) -> SpecCalls:
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        sys.setprofile(self._previous)
        self.names = sorted(self._seen)
