"""
Per-instruction traces
======================

``spec-check exec --trace-out FILE`` writes one JSON line per executed instruction
(``arspec-exec-trace``, version :data:`TRACE_VERSION`), built on the VM's tracer
(:mod:`arspec.reference.vm.trace`)::

    {"format": "arspec-exec-trace", "version": 1, "step": 0, "pc": 0,
     "instruction": {"text": "r0 = 0", "hex": "b700000000000000"},
     "entry": {"r0": 0, ..., "r10": 8589938688} | null,   # the first line only
     "registers": {"r0": 55},                # registers the instruction changed: new values
     "memory": [{"address": int, "hex": str}],  # bytes it wrote, as they are after it
     "compute_units": int}                   # consumed so far, this instruction included

A run that faults ends with one fault line: ``{"format", "version", "step", "fault":
{"code", "pc", "address", "message"}, "compute_units"}`` (the fault object of an
instruction vector's expected result). Replaying every line's ``registers`` over ``entry``
gives the final registers of ``exec --format json``.

A line's changes are the difference between the registers before it and before the next
line, so a helper call's result (r0) belongs to its ``call`` line, and so do the bytes it
wrote. A callback's instructions (``bpf_loop``, ``call_back``) have lines of their own
between the helper's ``call`` line and the line after it; what the helper does to the
registers around each callback (its arguments and frame, the caller's registers restored,
r0 set to its result) shows on the line before the callback's first instruction and on the
callback's ``exit`` line.
"""

from __future__ import annotations

import json
from typing import Any, Final, TextIO

from arspec.cli.vectors.instruction import fault_json
from arspec.reference.isa.disassembler import format_instruction
from arspec.reference.isa.encoder import encode
from arspec.reference.isa.instructions import LoadImm64, Program
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.trace import Event, FaultEvent, InsnStart
from arspec.reference.vm.vm import Vm
from arspec.spec.errors import ArspecError, MemoryFault

#: The ``format`` of a trace line.
TRACE_FORMAT: Final = "arspec-exec-trace"
#: Its ``version``; bumped when a field changes meaning or disappears.
TRACE_VERSION: Final = 1

_MASK64: Final = (1 << 64) - 1
_SLOT: Final = 8


def _names(registers: tuple[int, ...] | list[int]) -> dict[str, int]:
    return {f"r{i}": v & _MASK64 for i, v in enumerate(registers)}


def read_written(memory: Memory, writes: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Return the current bytes of each ``(address, length)`` write, in order, merged where
    one write repeats an earlier one's range (frames that have returned are read too)."""
    live = memory.stack_top
    memory.stack_top = 1 << 32
    out: list[dict[str, Any]] = []
    try:
        for address, size in dict.fromkeys(writes):
            try:
                data = memory.read_bytes(0, address, size).hex()
            except MemoryFault:  # pragma: no cover - a range that was just written reads
                continue
            out.append({"address": address, "hex": data})
    finally:
        memory.stack_top = live
    return out


class JsonLinesTracer:
    """A :class:`~arspec.reference.vm.trace.Tracer` writing one JSON line per instruction.

    A line is written when the next event shows what the instruction did (the next
    instruction's start, a fault) or, for the last one, by :meth:`finish`. ``writes`` is the
    list :func:`~arspec.cli.vectors.instruction.record_writes` fills for the run's memory.
    """

    def __init__(self, out: TextIO, program: Program, writes: list[tuple[int, int]]) -> None:
        self.out = out
        self.program = program
        self.writes = writes
        self.vm: Vm | None = None
        self.lines = 0
        self._pending: InsnStart | None = None
        self._written_from = 0
        try:
            self._code: bytes | None = encode(program)
        except ArspecError:  # a hand-built program no encoding carries
            self._code = None

    def attach(self, vm: Vm) -> None:
        """Read registers, memory and compute units from ``vm`` (before it runs)."""
        self.vm = vm

    def _hex(self, pc: int, size: int) -> str | None:
        if self._code is None:
            return None
        return self._code[pc * _SLOT:(pc + size) * _SLOT].hex()

    def _emit(self, line: dict[str, Any]) -> None:
        self.out.write(json.dumps({"format": TRACE_FORMAT, "version": TRACE_VERSION,
                                   "step": self.lines, **line}, separators=(",", ":")) + "\n")
        self.lines += 1

    def _close_pending(self, after: tuple[int, ...], units: int) -> None:
        start = self._pending
        if start is None:
            return
        assert self.vm is not None
        self._pending = None
        insn = start.insn
        size = 2 if isinstance(insn, LoadImm64) else 1
        changed = {f"r{i}": v & _MASK64 for i, (v, old) in enumerate(zip(after, start.registers,
                                                                          strict=True))
                   if v != old}
        new_writes = self.writes[self._written_from:]
        self._written_from = len(self.writes)
        self._emit({"pc": start.pc,
                    "instruction": {"text": format_instruction(insn), "hex": self._hex(start.pc,
                                                                                       size)},
                    "entry": _names(start.registers) if self.lines == 0 else None,
                    "registers": changed,
                    "memory": read_written(self.vm.memory, new_writes),
                    "compute_units": units})

    def event(self, e: Event) -> None:
        """Receive one VM event."""
        assert self.vm is not None, "attach the VM first"
        if isinstance(e, InsnStart):
            # The VM charged this instruction's cost just before announcing it.
            self._close_pending(e.registers, self.vm.units - self.vm.profile.insn_cost)
            self._pending = e
        elif isinstance(e, FaultEvent):
            self._close_pending(tuple(self.vm.regs), self.vm.units)
            self._emit({"fault": fault_json(e.fault), "compute_units": self.vm.units})

    def finish(self) -> None:
        """Write the last instruction's line once the run has ended."""
        assert self.vm is not None
        self._close_pending(tuple(self.vm.regs), self.vm.units)
