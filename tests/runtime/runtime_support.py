"""Shared helpers for the runtime tests: inline bundles, runs and state inspection."""

from __future__ import annotations

import textwrap

from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.run_report import RunReport
from arspec.reference.runtime.runner import run_bundle_state
from arspec.spec.bundle import Bundle
from arspec.spec.loader import load_bundle_text
from arspec.spec.state import RuntimeState

#: The program-code address of program ``k`` (declaration order), pc 0.
PROG_BASE = 0x100 << 32


def prog_addr(index: int, pc: int = 0) -> str:
    """Return the lddw literal for a cross-program callback address."""
    return f"{PROG_BASE + (index << 32) + 8 * pc:#x} ll"


def load(text: str) -> Bundle:
    """Load a bundle written inline (dedented)."""
    return load_bundle_text(textwrap.dedent(text), filename="inline.yaml")


def run(text: str, slots: int | None = None) -> tuple[RunReport, RuntimeState]:
    """Load and run an inline bundle; return the report and the final state."""
    return run_bundle_state(load(text), slots=slots)


def runs(report: RunReport) -> list[tuple[int, str]]:
    """Return (slot, program) of every run, in order."""
    return [(s.slot, e.program or "") for s in report.slots for e in s.events
            if e.kind == "run"]


def run_events(report: RunReport, program: str | None = None) -> list:  # type: ignore[type-arg]
    """Return every run event (of ``program`` if given)."""
    return [e for s in report.slots for e in s.events
            if e.kind == "run" and (program is None or e.program == program)]


def u64(state: RuntimeState, map_name: str, key: bytes, offset: int = 0) -> int:
    """Return the u64 at ``offset`` of a map value."""
    value = state.maps[map_name].elements[key][0].value  # type: ignore[index]
    return int.from_bytes(value[offset:offset + 8], "little")


def solana_id(name: str) -> int:
    """Return the call immediate of a helper in the solana profile."""
    return murmur3_32(name.encode())


def indent(code: str, spaces: int = 6) -> str:
    """Return assembly re-indented for a YAML block scalar."""
    lines = [line.strip() for line in code.strip("\n").splitlines()]
    return "\n".join(" " * spaces + line for line in lines if line)
