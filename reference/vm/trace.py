"""
Tracing
=======

Events the interpreter emits to an optional :class:`Tracer`: one :class:`InsnStart` before
each executed instruction, one :class:`HelperCall` per completed helper call and one
:class:`FaultEvent` per fault. The CLI's ``--trace`` and the differential tests' "first
divergence at pc N" messages are built on this hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from arspec.reference.isa.instructions import Instruction
from arspec.spec.errors import ExecutionFault


@dataclass(frozen=True)
class InsnStart:
    """Instruction ``insn`` at ``pc`` is about to run; ``registers`` are r0..r10 before it."""

    pc: int
    insn: Instruction
    registers: tuple[int, ...]


@dataclass(frozen=True)
class HelperCall:
    """The helper ``helper_id`` (``name``) returned ``result`` for ``args`` (r1..r5)."""

    pc: int
    helper_id: int
    name: str
    args: tuple[int, ...]
    result: int


@dataclass(frozen=True)
class FaultEvent:
    """Execution stopped with ``fault`` at ``pc``."""

    pc: int
    fault: ExecutionFault = field(compare=False)

    @property
    def key(self) -> tuple[int, str, str]:
        """Return ``(pc, fault class, message)``: what two equal faults have in common."""
        return (self.pc, type(self.fault).__name__, str(self.fault))


Event: TypeAlias = InsnStart | HelperCall | FaultEvent


class Tracer(Protocol):
    """Anything that accepts events."""

    def event(self, e: Event) -> None:
        """Receive one event."""


class ListTracer:
    """A tracer that keeps every event, in order, in :attr:`events`."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def event(self, e: Event) -> None:
        """Append ``e``."""
        self.events.append(e)


def _comparable(e: Event) -> object:
    return ("fault", e.key) if isinstance(e, FaultEvent) else e


def first_divergence(a: Sequence[Event], b: Sequence[Event]) -> int | None:
    """Return the index of the first event where ``a`` and ``b`` differ, or ``None``.

    Faults compare by pc, class and message. When one trace is a prefix of the other, the
    divergence is at the length of the shorter one.
    """
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if _comparable(x) != _comparable(y):
            return i
    return None if len(a) == len(b) else min(len(a), len(b))
