"""
Trace files
===========

The JSON form of a counterexample that ``spec-check explore --trace-out`` writes and
``spec-check replay`` reads back::

    {"format": "arspec-trace", "version": 2,
     "bundle": "../bundles/vault.yaml",        # relative to the trace file's folder
     "bundle_sha256": "9f2c...",               # of the bundle file's bytes when written
     "slots": 6, "invariant": "budget", "kind": "transition", "reason": "...",
     "steps": [{"action": "DomainWrite", "account": "a", "field": "f", "value": 5},
               {"action": "RunHead"}, ...],
     "cycle_from": 4}                           # only for a no_starvation lasso

A lasso (``no_starvation``) also has ``Watch`` steps (``{"action": "Watch", "position":
0}``: the monitor starts watching the FIFO item at that position) and ``cycle_from``: the
steps from that index on form the cycle, repeated forever. The bundle path is stored
relative to the trace file, so a trace replays from any working directory as long as the
two files keep their relative places; the hash tells the replay whether the bundle file has
changed since (files the bundle names, such as ELF objects, are not hashed). Version 1
traces (bundle path as written, no hash) are still read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeGuard

from arspec.model.starvation import LiveAction, Watch
from arspec.spec.errors import InputError
from arspec.spec.files import MAX_TRACE_FILE_BYTES, read_limited
from arspec.spec.scheduler import ApplyWrite, DomainWrite, EndSlot, EnqueueDue, RunHead

TRACE_FORMAT: Final = "arspec-trace"
TRACE_VERSION: Final = 2
#: The versions :func:`read_trace` accepts.
READABLE_VERSIONS: Final = (1, 2)

_ACTIONS: Final[dict[str, Callable[[], LiveAction]]] = {
    "ApplyWrite": ApplyWrite, "EnqueueDue": EnqueueDue, "RunHead": RunHead, "EndSlot": EndSlot}


def encode_action(action: LiveAction) -> dict[str, Any]:
    """Return the JSON form of an action."""
    if isinstance(action, DomainWrite):
        return {"action": "DomainWrite", "account": action.account, "field": action.field,
                "value": action.value}
    if isinstance(action, Watch):
        return {"action": "Watch", "position": action.position}
    return {"action": type(action).__name__}


def is_int(value: object) -> TypeGuard[int]:
    """Return whether ``value`` is a JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def decode_action(data: object, where: str) -> LiveAction:
    """Return the action of a JSON step; raise :class:`InputError` when malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        raise InputError(f"{where}: a step must be an object with an `action`")
    name = data["action"]
    if name == "DomainWrite":
        account, field_name, value = data.get("account"), data.get("field"), data.get("value")
        if not isinstance(account, str) or not isinstance(field_name, str) \
                or not is_int(value):
            raise InputError(f"{where}: DomainWrite needs `account`, `field` and an integer "
                             "`value`")
        return DomainWrite(account, field_name, value)
    if name == "Watch":
        position = data.get("position")
        if not is_int(position) or position < 0:
            raise InputError(f"{where}: Watch needs a `position` >= 0")
        return Watch(position)
    if name not in _ACTIONS:
        raise InputError(f"{where}: unknown action {name!r}")
    return _ACTIONS[name]()


def compute_bundle_hash(path: str) -> str:
    """Return the SHA-256 of the bundle file's bytes (hex)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=path) from None


def encode_trace(bundle_path: str, trace_path: str, slots: int, invariant: str, kind: str,
                 reason: str, actions: Sequence[LiveAction], *,
                 cycle_from: int | None = None) -> str:
    """Return the JSON text of a trace (deterministic: sorted keys).

    :param bundle_path: the bundle, as given to the explorer.
    :param trace_path: where the trace will be written (the bundle path is stored relative
        to its folder).
    :param cycle_from: for a lasso, the index of the first step of the cycle.
    """
    relative = os.path.relpath(Path(bundle_path).resolve(), Path(trace_path).resolve().parent)
    data: dict[str, Any] = {
        "format": TRACE_FORMAT, "version": TRACE_VERSION,
        "bundle": Path(relative).as_posix(), "bundle_sha256": compute_bundle_hash(bundle_path),
        "slots": slots, "invariant": invariant, "kind": kind, "reason": reason,
        "steps": [encode_action(action) for action in actions],
    }
    if cycle_from is not None:
        data["cycle_from"] = cycle_from
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def read_trace(path: str) -> dict[str, Any]:
    """Read and check a trace file; raise :class:`InputError` when it is not one."""
    raw = read_limited(path, MAX_TRACE_FILE_BYTES, what="trace file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # ValueError: JSON, digits
        raise InputError(f"not a JSON trace: {str(err)[:200]}", file=path) from None
    if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
        raise InputError(f"not an {TRACE_FORMAT} file (missing `format: {TRACE_FORMAT}`)",
                         file=path)
    if data.get("version") not in READABLE_VERSIONS:
        raise InputError(f"unsupported trace version {data.get('version')!r}", file=path)
    for key, kind in (("bundle", str), ("invariant", str), ("slots", int), ("steps", list)):
        if not isinstance(data.get(key), kind) or (kind is int and not is_int(data[key])):
            raise InputError(f"`{key}` is missing or not a {kind.__name__}", file=path)
    if data["version"] >= 2 and not isinstance(data.get("bundle_sha256"), str):
        raise InputError("`bundle_sha256` is missing or not a str", file=path)
    cycle_from = data.get("cycle_from")
    if cycle_from is not None and (not is_int(cycle_from)
                                   or not 0 <= cycle_from < len(data["steps"])):
        raise InputError("`cycle_from` must be the index of a step", file=path)
    return data


def resolve_bundle_path(trace_path: str, data: dict[str, Any]) -> str:
    """Return the bundle's path: relative to the trace file (version 2), else as written.

    A version 1 trace's path is tried as written, then beside the trace file.
    :raises InputError: when the bundle is not there.
    """
    bundle = data["bundle"]
    beside = Path(trace_path).parent / bundle
    try:  # a name too long, or with a NUL byte, is a bundle that is not there
        written = Path(bundle).exists()
        there = beside.exists()
    except (OSError, ValueError):
        written = there = False
    if data["version"] >= 2 or not written:
        if not there:
            raise InputError(f"the trace's bundle {bundle!r} (relative to the trace file) "
                             f"is not at {beside}", file=trace_path)
        return str(beside)
    return str(bundle)


__all__: Sequence[str] = ["decode_action", "encode_action", "encode_trace", "read_trace",
                          "resolve_bundle_path"]
