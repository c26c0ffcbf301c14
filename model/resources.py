"""
Memory in use
=============

The explorer's ``--max-memory`` bound compares the memory the process holds, measured, not
an estimate: the store, the frontier's full states, the invocation cache and the loaded
bundle all count, and a per-state estimate of them missed the measured peak by about a
quarter. :func:`get_resident_bytes` reads the resident set size from ``/proc/self/statm``
(Linux); elsewhere it falls back to the peak from ``getrusage``.
"""

from __future__ import annotations

import re
import resource
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from arspec.spec.errors import InputError

_UNITS: Final = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20,
                 "mb": 2**20, "mib": 2**20, "g": 2**30, "gb": 2**30, "gib": 2**30,
                 "t": 2**40, "tb": 2**40, "tib": 2**40}
_SIZE: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
#: Sizes below this are refused: the interpreter alone needs more.
MIN_MEMORY_BYTES: Final = 2**20


def get_resident_bytes() -> int:
    """Return the resident set size of this process in bytes (peak RSS where unknown)."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
        return pages * resource.getpagesize()
    except (OSError, IndexError, ValueError):
        return get_peak_resident_bytes()


def get_peak_resident_bytes() -> int:
    """Return the peak resident set size of this process in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def parse_size(text: str) -> int:
    """Return the bytes of ``512M``, ``2G``, ``1.5GiB``, ``1000000`` (binary units).

    :raises InputError: for anything else, or a size below :data:`MIN_MEMORY_BYTES`.
    """
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise InputError(f"--max-memory: not a size: {text!r} (write e.g. 512M or 2G)")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value < MIN_MEMORY_BYTES:
        raise InputError(f"--max-memory: {text!r} is below the minimum of 1M")
    return value


def format_size(size: float) -> str:
    """Return ``1.5 GB``, ``312 MB``, ``12 KB`` (binary units) for a byte count."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}" if size < 10 * scale else \
                f"{size / scale:.0f} {unit}"
    return f"{size:.0f} B"


__all__: Sequence[str] = ["format_size", "get_peak_resident_bytes", "get_resident_bytes",
                          "parse_size"]
