"""
Stopping a command early
========================

``explore --timeout`` and ``replay --timeout`` bound a command's wall-clock time, and a pass
that runs out of its own budget (the replica-determinism check's share of ``--max-states``
or ``--max-memory``) ends the whole command. Every long loop of the explorer (the state
search, the starvation search and its strongly connected components, the replica check,
replay) asks :func:`get_stop_reason` and, when it answers, stops, says so with
:func:`request_stop`, and reports what it covered as BOUND-REACHED; none of them raises.

The limits hold while :func:`stop_after` is active (the command line enters it around one
command); outside it :func:`get_stop_reason` is always ``None``, so library callers and
tests are not affected.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

#: The reason given when the wall-clock limit has passed.
TIMEOUT: Final = "timeout"
#: The reason given when the replica-determinism check used up ``--max-states``.
REPLICA_STATES: Final = "replica-states"
#: The reason given when the process's resident memory passed ``--max-memory``.
MAX_MEMORY: Final = "max-memory"


@dataclass
class _Limits:
    deadline: float | None = None
    seconds: float | None = None
    reason: str | None = None
    cut: bool = False


_ACTIVE: list[_Limits] = []


@contextlib.contextmanager
def stop_after(seconds: float | None) -> Iterator[None]:
    """Let the passes inside stop after ``seconds`` of wall-clock time (``None``: never),
    or when one of them calls :func:`request_stop`."""
    limits = _Limits(None if seconds is None else time.monotonic() + seconds, seconds)
    _ACTIVE.append(limits)
    try:
        yield
    finally:
        _ACTIVE.remove(limits)


def get_stop_reason() -> str | None:
    """Return why the current command must stop (:data:`TIMEOUT`, or what a pass asked
    for), or ``None`` to go on."""
    if not _ACTIVE:
        return None
    limits = _ACTIVE[-1]
    if limits.reason is None and limits.deadline is not None \
            and time.monotonic() >= limits.deadline:
        limits.reason = TIMEOUT
    return limits.reason


def request_stop(reason: str) -> None:
    """Make every pass of the current command stop, for ``reason`` (the first one wins),
    and record that a pass left part of its work undone."""
    if _ACTIVE:
        _ACTIVE[-1].cut = True
        if _ACTIVE[-1].reason is None:
            _ACTIVE[-1].reason = reason


def get_cut_reason() -> str | None:
    """Return the stop reason if a pass left work undone because of it (a search that
    finished before the deadline passed is complete), else ``None``."""
    return _ACTIVE[-1].reason if _ACTIVE and _ACTIVE[-1].cut else None


def get_timeout_seconds() -> float | None:
    """Return the wall-clock limit of the current command in seconds, if it has one."""
    return _ACTIVE[-1].seconds if _ACTIVE else None


__all__ = ["MAX_MEMORY", "REPLICA_STATES", "TIMEOUT", "get_cut_reason", "get_stop_reason",
           "get_timeout_seconds", "request_stop", "stop_after"]
