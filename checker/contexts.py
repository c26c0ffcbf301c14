"""
Program contexts in the verifier
================================

How the symbolic executor (:mod:`~arspec.checker.symbolic`) models ``r1``'s context for a
program of a declared Linux program type (:mod:`arspec.spec.contexts`):

* at entry ``r1`` is the context pointer (kind :data:`CTX`), ``r2``-``r5`` are
  uninitialised, and the packet is the symbolic input of any length up to
  :data:`~arspec.spec.contexts.MAX_PACKET_SIZE` (none for ``tracing``);
* a load or store through a :data:`CTX` register is checked against the type's field table
  at its constant offset; a forbidden access is a
  :class:`~arspec.checker.assertions.ContextAccess` violation that faults on the runtime
  (so it replays), a store of a pointer is a policy violation;
* a load of ``data`` / ``data_meta`` yields an input pointer (the packet start), of
  ``data_end`` the packet end (kind :data:`PKT_END`, never dereferenceable); packet
  accesses are then ordinary input accesses, safe exactly where the path condition (the
  program's comparisons against ``data_end``, in 32 or 64 bits, on either branch) bounds
  them inside the packet;
* scalar fields are the context region's bytes, unknown at entry: the verifier relies on no
  value. The runtime's values (``len`` and ``protocol`` from the packet, zero elsewhere) are
  *realisable* facts: they shape counterexamples, never proofs;
* Linux's other load-time rules (:data:`~arspec.spec.contexts.LINUX_RULES`: pointer
  operators, stack alignment and spills, the context argument of ``bpf_tail_call``) are
  policy checks (:class:`~arspec.checker.assertions.LinuxRule`): never REFUTED, since no
  run faults, but they keep such a program from being PROVED.
"""

from __future__ import annotations

from typing import Any, Final

from arspec.reference.isa.instructions import Alu, AluOp, Atomic, Call, Load, Reg, Store
from arspec.reference.runtime.contexts import ContextMemory, ProgramContext
from arspec.spec.contexts import (
    MAX_PACKET_SIZE,
    FieldKind,
    ProgramType,
    compute_context_bytes,
    get_allowed_field,
)
from arspec.spec.conventions import CONTEXT_BASE, CONTEXT_REGION, INPUT_BASE

from . import solver as z
from .assertions import ContextAccess, LinuxRule
from .executor_api import SymbolicExecutor
from .symstate import (
    FUNCREF,
    INPUT,
    MAPREF,
    NULLPTR,
    OBJECT,
    SCALAR,
    STACK,
    UNINIT,
    State,
    Value,
    kind_is,
)

#: Register kind of the context pointer (``r1`` at entry) and of ``data_end``.
CTX: Final = 12
PKT_END: Final = 13
#: Every pointer kind, and those Linux allows no arithmetic on.
POINTERS: Final = (STACK, INPUT, OBJECT, NULLPTR, MAPREF, FUNCREF, CTX, PKT_END)
FIXED_POINTERS: Final = (PKT_END, MAPREF, NULLPTR, FUNCREF)
#: ``bpf_tail_call``'s helper id (include/uapi/linux/bpf.h).
TAIL_CALL: Final = 12


class ContextModel:
    """The verifier's side of one program context (see the module docstring)."""

    def __init__(self, context: ProgramContext) -> None:
        self.context = context
        self.layout = context.layout

    @property
    def type_name(self) -> str:
        """Return the program type's name."""
        return self.layout.program_type.value

    def enter(self, executor: SymbolicExecutor, state: State) -> None:
        """Set the entry registers and the packet length's range; add realisable facts."""
        length = executor.inputs.length
        state.regs[1] = Value(z.const(CONTEXT_BASE), CTX)
        for reg in range(2, 6):
            state.regs[reg] = Value(z.const(0), UNINIT)
        bound = MAX_PACKET_SIZE if self.layout.has_packet else 0
        state.path = z.ule(length, z.const(bound))
        executor.realisable.extend(self.realisable_bytes(executor))

    def realisable_bytes(self, executor: SymbolicExecutor) -> list[Any]:
        """Return "context byte k is the runtime's byte k" for every byte of the context."""
        unknown = z.byte_array("unmapped")
        length, data = executor.inputs.length, executor.inputs.data
        facts = []
        for k in range(self.layout.size):
            at = z.select(unknown, z.const(CONTEXT_BASE + k))
            if self.layout.has_packet and self.layout.program_type is not ProgramType.XDP \
                    and k < 4:
                value = z.extract(8 * k + 7, 8 * k, length)
            elif self.layout.has_packet and self.layout.program_type is not ProgramType.XDP \
                    and k in (16, 17):
                value = z.ite(z.ule(z.const(14), length),
                              z.select(data, z.const(12 + k - 16)), z.const(0, 8))
            else:
                value = z.const(0, 8)
            facts.append(z.eq(at, value))
        return facts

    def exec_memory(self, executor: SymbolicExecutor, pc: int, insn: Load | Store | Atomic,
                    state: State) -> bool:
        """Execute a context access; return ``False`` when the base is not the context."""
        reg = insn.src if isinstance(insn, Load) else insn.dst
        base = state.regs[reg]
        if not (isinstance(base.kind, int) and base.kind == CTX):
            self.check_stack(executor, pc, insn, state)
            return False
        write = not isinstance(insn, Load)
        check = ContextAccess(reg, insn.offset, insn.size, write, self.type_name)
        field = get_allowed_field(self.layout, insn.offset, insn.size, write=write)
        if isinstance(insn, Atomic):
            # Linux refuses atomics on the context; the runtime sees a load and a store.
            executor.note(pc, check, "atomic operations on the context are not allowed")
            executor.unsupported(pc, insn, state)
            return True
        if field is None:
            executor.require(pc, check, state, z.true(), z.true())
            executor.add_fault_exit(state, z.true())
            state.path = z.false()
            return True
        address = z.const(CONTEXT_BASE + insn.offset)
        if isinstance(insn, Store):
            stored = executor.operand(pc, state, insn.value, True)
            pointer = z.not_(kind_is(stored.kind, SCALAR))
            executor.require(pc, check, state, pointer, None)
            executor.store_bytes(state, address, stored.value, insn.size)
            return True
        if insn.signed and field.kind is not FieldKind.SCALAR:
            executor.require(pc, LinuxRule("pointer_field_sign", reg), state, z.true(), None)
            state.regs[insn.dst] = Value(executor.fresh("ctx"), SCALAR)
            state.exact = False
        elif field.kind in (FieldKind.PACKET, FieldKind.PACKET_META):
            state.regs[insn.dst] = Value(z.const(INPUT_BASE), INPUT)
        elif field.kind is FieldKind.PACKET_END:
            end = z.add(z.const(INPUT_BASE), executor.inputs.length)
            state.regs[insn.dst] = Value(end, PKT_END)
        else:
            value, _ = executor.load_bytes(state, address, insn.size)
            widened = z.sign_extend(value, 64) if insn.signed else z.zero_extend(value, 64)
            state.regs[insn.dst] = Value(widened, SCALAR)
        return True

    def replay_memory(self, packet: bytes) -> ContextMemory:
        """Return replay memory holding only the context region (the caller adds the rest)."""
        memory = ContextMemory(self.layout)
        memory.add_region(CONTEXT_REGION, compute_context_bytes(self.layout, packet),
                          writable=True)
        return memory

    # -- Linux's other load-time rules ----------------------------------------------------

    def check_stack(self, executor: SymbolicExecutor, pc: int, insn: Load | Store | Atomic,
                    state: State) -> None:
        """Stack accesses aligned to their size; pointers spilled whole."""
        reg = insn.src if isinstance(insn, Load) else insn.dst
        base = state.regs[reg]
        on_stack = kind_is(base.kind, STACK)
        if z.truth_of(on_stack) is False:
            return
        if insn.size > 1:
            address = z.add(base.value, z.const(insn.offset))
            low = z.extract(insn.size.bit_length() - 2, 0, address)
            misaligned = z.not_(z.eq(low, z.const(0, insn.size.bit_length() - 1)))
            executor.require(pc, LinuxRule("stack_alignment", reg), state,
                             z.and_(on_stack, misaligned), None)
        if isinstance(insn, Store) and isinstance(insn.value, Reg) and insn.size < 8:
            spilled = kind_is(state.regs[insn.value.index].kind, *POINTERS)
            executor.require(pc, LinuxRule("spill_size", insn.value.index), state,
                             z.and_(on_stack, spilled), None)

    def check_alu(self, executor: SymbolicExecutor, pc: int, insn: Alu, state: State) -> None:
        """Pointer operands only with the operators and kinds Linux allows."""
        if insn.op is AluOp.MOV:
            return
        dst = state.regs[insn.dst].kind
        src = state.regs[insn.src.index].kind if isinstance(insn.src, Reg) else SCALAR
        d_ptr, s_ptr = kind_is(dst, *POINTERS), kind_is(src, *POINTERS)
        any_ptr = z.or_(d_ptr, s_ptr)
        checks: list[tuple[str, Any]] = []
        if not insn.is64:
            checks.append(("pointer_alu32", any_ptr))
        elif insn.op not in (AluOp.ADD, AluOp.SUB):
            checks.append(("pointer_operator", any_ptr))
        else:
            fixed = z.or_(kind_is(dst, *FIXED_POINTERS), kind_is(src, *FIXED_POINTERS))
            checks.append(("fixed_pointer", fixed))
            if insn.op is AluOp.ADD:
                checks.append(("pointer_plus_pointer", z.and_(d_ptr, s_ptr)))
            else:
                checks.append(("stack_subtraction",
                               z.and_(kind_is(dst, STACK), z.not_(s_ptr))))
        for rule, violation in checks:
            executor.require(pc, LinuxRule(rule, insn.dst), state, violation, None)

    def check_call(self, executor: SymbolicExecutor, pc: int, insn: Call, state: State) -> None:
        """``bpf_tail_call`` takes the context in r1."""
        if insn.imm == TAIL_CALL:
            executor.require(pc, LinuxRule("tail_call_context", 1), state,
                             z.not_(kind_is(state.regs[1].kind, CTX)), None)
