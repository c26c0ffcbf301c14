"""
Program contexts at run time
============================

Gives a program of a declared Linux program type (:mod:`arspec.spec.contexts`) its context:
``r1`` points at a context region at :data:`CONTEXT_BASE`, the packet (if the type has one)
is the input region, and every access to the context region is checked against the type's
field table. A load of a pointer field yields a packet address; a load of a scalar field
reads the context's bytes; a forbidden access is a :class:`~arspec.spec.errors.MemoryFault`
(Linux rejects it at load; here it faults, so the verifier's finding replays).
"""

from __future__ import annotations

from dataclasses import dataclass

from arspec.reference.isa.instructions import Program
from arspec.reference.vm.helpers import HelperRegistry
from arspec.reference.vm.load_checks import check_program
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.profiles import (
    HEAP_REGION,
    INPUT_BASE,
    INPUT_REGION,
    LINUX,
    PROGRAM_REGION,
    REGION_SHIFT,
    STACK_REGION,
    Profile,
)
from arspec.reference.vm.trace import Tracer
from arspec.reference.vm.vm import ExecutionResult, Vm, standard_memory
from arspec.spec import bundle as schema
from arspec.spec.contexts import (
    DEFAULT_RAW_CONTEXT,
    MAX_PACKET_SIZE,
    ContextLayout,
    FieldKind,
    compute_context_bytes,
    get_allowed_field,
    get_context_layout,
)
from arspec.spec.conventions import CONTEXT_BASE, CONTEXT_REGION
from arspec.spec.errors import InputError, MemoryFault

_OFFSET_MASK = (1 << REGION_SHIFT) - 1


class ContextMemory(Memory):
    """Region memory whose context region obeys the program type's access rule."""

    __slots__ = ("layout",)

    def __init__(self, layout: ContextLayout) -> None:
        super().__init__()
        self.layout = layout

    def _field_fault(self, pc: int, address: int, size: int, *, write: bool) -> MemoryFault:
        what = "write" if write else "read"
        offset = address & _OFFSET_MASK
        return MemoryFault(pc, address, size, f"{self.layout.program_type.value} context: "
                           f"{size}-byte {what} at offset {offset} not allowed")

    def load(self, pc: int, address: int, size: int) -> int:
        """Load as :class:`Memory` does; context fields by the type's rule."""
        if address >> REGION_SHIFT != CONTEXT_REGION:
            return super().load(pc, address, size)
        field = get_allowed_field(self.layout, address & _OFFSET_MASK, size, write=False)
        if field is None:
            raise self._field_fault(pc, address, size, write=False)
        if field.kind in (FieldKind.PACKET, FieldKind.PACKET_META):
            return INPUT_BASE
        if field.kind is FieldKind.PACKET_END:
            return INPUT_BASE + len(self.region(INPUT_BASE))
        return super().load(pc, address, size)

    def window(self, address: int, *, write: bool = False) -> tuple[int, bytearray | memoryview]:
        """Return :meth:`Memory.window`, but no run in the context region: every access
        there must meet the field rule, so translated code may not cache its bytes."""
        if address >> REGION_SHIFT == CONTEXT_REGION:
            return address & ~_OFFSET_MASK, bytearray()
        return super().window(address, write=write)

    def store(self, pc: int, address: int, size: int, value: int) -> None:
        """Store as :class:`Memory` does; context fields by the type's rule."""
        if address >> REGION_SHIFT == CONTEXT_REGION and get_allowed_field(
                self.layout, address & _OFFSET_MASK, size, write=True) is None:
            raise self._field_fault(pc, address, size, write=True)
        super().store(pc, address, size, value)


@dataclass(frozen=True)
class ProgramContext:
    """A declared program type's context layout, as the runtime and the verifier use it."""

    layout: ContextLayout

    def new_memory(self, program: Program, profile: Profile, packet: bytes,
                   raw: bytes = b"") -> ContextMemory:
        """Return fresh memory: code, stack, the packet as input, the context region."""
        if len(packet) > MAX_PACKET_SIZE:
            raise InputError(f"packet of {len(packet)} bytes exceeds {MAX_PACKET_SIZE}")
        if packet and not self.layout.has_packet:
            raise InputError(f"a {self.layout.program_type.value} program takes no packet")
        standard = standard_memory(program, profile, packet)
        memory = ContextMemory(self.layout)
        for index in (PROGRAM_REGION, STACK_REGION, HEAP_REGION, INPUT_REGION):
            if standard.is_mapped(index):
                memory.adopt(standard, index)
        memory.add_region(CONTEXT_REGION, compute_context_bytes(self.layout, packet, raw),
                          writable=True)
        return memory


def execute_in_context(program: Program, context: ProgramContext, *, packet: bytes = b"",
                       raw: bytes = b"", profile: Profile = LINUX,
                       helpers: HelperRegistry | None = None, compute_limit: int | None = None,
                       tracer: Tracer | None = None,
                       engine: str = "auto") -> ExecutionResult:
    """Run ``program`` once with ``r1`` = the context built from ``packet`` (or ``raw``)."""
    check_program(program, profile)
    vm = Vm(program, profile=profile, helpers=helpers,
            memory=context.new_memory(program, profile, packet, raw),
            compute_limit=compute_limit, tracer=tracer, engine=engine)
    return vm.run(0, (CONTEXT_BASE,))


def get_bundle_context(bundle: schema.Bundle, name: str) -> ProgramContext | None:
    """Return the context of bundle program ``name``, or ``None`` if it declares no type."""
    prog = bundle.programs.get(name)
    if prog is None or prog.program_type is None:
        return None
    size = prog.context_size or DEFAULT_RAW_CONTEXT
    return ProgramContext(get_context_layout(prog.program_type, size))


def get_packet(bundle: schema.Bundle, name: str, slot: int) -> bytes:
    """Return the scenario's bytes for runs of ``name`` in ``slot`` (empty when none)."""
    for packet in bundle.scenario.packets.get(name, ()):
        if packet.slot == slot:
            return packet.hex
    return b""


def enter_bundle_context(bundle: schema.Bundle, name: str, slot: int,
                         memory: Memory) -> tuple[Memory, tuple[int, ...]] | None:
    """Give a run of ``name`` in ``slot`` its context: new memory and entry registers.

    ``memory`` is the run's fresh memory (its code, stack and heap regions are kept); the
    packet (or raw context) is the scenario's for this program and slot. ``None`` when the
    program declares no program type.
    """
    context = get_bundle_context(bundle, name)
    if context is None:
        return None
    data = get_packet(bundle, name, slot)
    packet, raw = (data, b"") if context.layout.has_packet else (b"", data)
    adopted = ContextMemory(context.layout)
    for index in (PROGRAM_REGION, STACK_REGION, HEAP_REGION):
        if memory.is_mapped(index):
            adopted.adopt(memory, index)
    adopted.add_region(INPUT_REGION, bytearray(packet), writable=True)
    adopted.add_region(CONTEXT_REGION, compute_context_bytes(context.layout, packet, raw),
                       writable=True)
    return adopted, (CONTEXT_BASE,)
