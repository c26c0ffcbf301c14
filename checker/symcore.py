"""
The executor's findings and memory
==================================

The lower layer of :class:`~arspec.checker.symbolic.Executor`: how a property is checked on
a state and recorded as a finding (:meth:`ExecutorCore.require`), fresh variables and
fault exits, and the symbolic memory: byte loads and stores over the array and its overlay,
which ranges an access may touch (the VM's regions and the policy's), and the merge of
states at a join. :class:`~arspec.checker.symbolic.Executor` adds the instructions, calls
and control flow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arspec.reference.vm.helpers import HelperRegistry
from arspec.reference.vm.profiles import (
    HEAP_REGION,
    HEAP_SIZE,
    INPUT_BASE,
    INPUT_REGION,
    PROGRAM_REGION,
    SLOT_SIZE,
    STACK_BASE,
    STACK_REGION,
    Profile,
)

from . import solver as z
from .assertions import (
    Assertion,
    Initialized,
    TypeIsPointer,
    ValidAccess,
)
from .cfg import ControlFlow
from .contexts import ContextModel
from .symstate import (
    INPUT,
    OBJECT,
    SCALAR,
    STACK,
    UNINIT,
    Inputs,
    Kind,
    LoopSummary,
    Memory,
    RawFinding,
    State,
    Value,
    kind_is,
    merge_kind,
)


def may_be_object(value: Value) -> Any:
    """Return the condition under which ``value`` is an object pointer."""
    return kind_is(value.kind, OBJECT)


def not_number(value: Value) -> Any:
    """Return the condition under which ``value`` is not a plain number (a pointer, a map
    reference, NULL of a lookup...)."""
    return z.not_(kind_is(value.kind, SCALAR))


class ExecutorCore:
    """The symbolic executor's findings and memory (see the module doc)."""

    def __init__(self, cfg: ControlFlow, profile: Profile, session: z.Session, *,
                 helpers: HelperRegistry, max_input: int, unroll_limit: int = 20_000) -> None:
        self.cfg = cfg
        self.program = cfg.program
        self.profile = profile
        self.session = session
        self.helpers = helpers
        self.max_input = max_input
        self.unroll_limit = unroll_limit
        self.findings: list[RawFinding] = []
        self.loops: dict[int, LoopSummary] = {}
        self.fault_exits: list[tuple[Any, Any]] = []
        self.exits: list[State] = []
        self.checking = True
        self.fresh_count = 0
        self.inputs = Inputs(z.var("input_len"), z.byte_array("input"))
        self._status: dict[tuple[int, str, str], str] = {}
        self.cu_exact = True
        #: Facts about helper results that hold at run time but are not part of the contract
        #: (an array lookup is NULL exactly when the index is out of range): added to fault
        #: queries, so a counterexample is a run the runtime can make, and never to policy
        #: queries, so the contract's rules (a null check) are still enforced.
        self.realisable: list[Any] = []
        #: ``time.monotonic()`` after which :meth:`step` gives up (``None``: no limit).
        self.deadline: float | None = None
        #: Set when some runs could not be followed (indirect calls): nothing is PROVED.
        self.incomplete = False
        #: Kinds a load or store may go through, and kinds pointer arithmetic keeps.
        self.deref_kinds: tuple[int, ...] = (STACK, INPUT)
        self.arith_kinds: tuple[int, ...] = (STACK, INPUT)
        #: The declared program type's context behind r1 (``None``: the plain input).
        self.program_context: ContextModel | None = None
        #: Where a feasible run may read an object pointer's numeric value, and how
        #: (:meth:`observe`): the verifier's object addresses are its own, so nothing is PROVED.
        self.observed: dict[int, str] = {}

    def observe(self, pc: int, state: State, reason: str, possible: Any) -> None:
        """Record that ``pc`` may read the number behind an object pointer.

        The verifier gives each object (map value, record, key copy) a region of its own
        choosing; the runtime allocates other regions, so a run whose behaviour depends on
        the address itself is not the run the verifier followed. ``possible`` is the
        condition of the event (built with :func:`may_be_object`); it is recorded when some
        feasible path satisfies it (or the solver cannot tell).
        """
        if not self.checking or OBJECT not in self.deref_kinds or pc in self.observed:
            return
        if z.truth_of(possible) is False:
            return
        if self.session.check(state.path, possible) is not z.SatResult.UNSAT:
            self.observed[pc] = reason

    def observation_note(self) -> str:
        """Return the note that explains why nothing is PROVED (empty when nothing is)."""
        if not self.observed:
            return ""
        pc = min(self.observed)
        more = len(self.observed) - 1
        also = f" (and at {more} other pc{'s' if more > 1 else ''})" if more else ""
        return (f"the program observes the numeric value of a map-value/object pointer at pc "
                f"{pc} ({self.observed[pc]}){also}; object addresses are the runtime's choice, "
                f"so no property is PROVED")

    def fresh(self, prefix: str, width: int = 64) -> Any:
        """Return a new unconstrained variable."""
        self.fresh_count += 1
        return z.var(f"{prefix}!{self.fresh_count}", width)

    def require(self, pc: int, assertion: Assertion, state: State, violation: Any,
                fault: Any | None) -> bool:
        """Check one assertion; record a finding when it can fail.

        ``violation`` is the policy condition under which the assertion fails and ``fault``
        (or ``None``) the part of it under which the VM faults. Returns ``True`` when the
        solver proved that the VM cannot fault here (so the path needs no restriction).
        """
        excluded = fault is None or z.truth_of(fault) is False
        if not self.checking or z.truth_of(violation) is False:
            return excluded
        key = (pc, type(assertion).__name__, str(assertion))
        status = self._status.get(key)
        if status == "fault":
            return excluded
        if fault is not None and z.truth_of(fault) is not False:
            answer, model = self.session.solve(state.path, fault, *self.realisable)
            if answer is z.SatResult.SAT:
                self._status[key] = "fault"
                self.findings.append(RawFinding(pc, assertion, True, model,
                                                exact=state.exact))
                return False
            if answer is z.SatResult.UNKNOWN:
                self._status[key] = "fault"
                self.findings.append(RawFinding(pc, assertion, False, None, unknown=True,
                                                note="the solver could not decide"))
                return False
            excluded = True
        if status is not None:
            return excluded
        answer = self.session.check(state.path, violation)
        if answer is z.SatResult.SAT:
            self._status[key] = "policy"
            note = "" if fault is None else "the VM would not fault here"
            self.findings.append(RawFinding(pc, assertion, False, None, note=note))
        elif answer is z.SatResult.UNKNOWN:
            self._status[key] = "policy"
            self.findings.append(RawFinding(pc, assertion, False, None, unknown=True,
                                            note="the solver could not decide"))
        return excluded

    def note(self, pc: int, assertion: Assertion, note: str) -> None:
        """Record a finding that needs no query (an unsupported construct)."""
        if not self.checking:
            return
        key = (pc, type(assertion).__name__, str(assertion))
        if key not in self._status:
            self._status[key] = "policy"
            self.findings.append(RawFinding(pc, assertion, False, None, note=note))

    def add_fault_exit(self, state: State, fault: Any) -> None:
        """Remember the runs that stop with a fault here (they count for compute)."""
        if self.checking and z.truth_of(fault) is not False \
                and z.truth_of(state.path) is not False:
            self.fault_exits.append((z.and_(state.path, fault), state.cu))

    def read(self, pc: int, state: State, reg: int) -> Value:
        """Return register ``reg``, checking it is initialised."""
        value = state.regs[reg]
        self.require(pc, Initialized(reg), state, kind_is(value.kind, UNINIT), None)
        return value

    def _initial_byte(self, state: State, address: int) -> tuple[Any, Any]:
        region = address >> 32
        if region == STACK_REGION:
            return z.const(0, 8), z.false()
        if region == HEAP_REGION and self.profile.has_heap:
            return z.const(0, 8), z.true()
        if region == INPUT_REGION:
            return z.select(self.inputs.data, z.const(address - INPUT_BASE)), z.true()
        return z.select(state.memory.base, z.const(address)), z.true()

    def _flush(self, memory: Memory, keep: Callable[[int], bool] | None = None) -> None:
        """Move overlay bytes into the arrays, except those at addresses ``keep`` accepts."""
        kept: dict[int, tuple[Any, Any]] = {}
        for address, (byte, init) in sorted(memory.overlay.items()):
            if keep is not None and keep(address):
                kept[address] = (byte, init)
                continue
            memory.base = z.store(memory.base, z.const(address), byte)
            memory.init = z.store(memory.init, z.const(address), init)
        memory.overlay = kept
        memory.initial = False

    def load_bytes(self, state: State, address: Any, size: int) -> tuple[Any, Any]:
        """Return the little-endian value of ``size`` bytes and "all initialised"."""
        literal = z.value_of(address)
        memory = state.memory
        parts, inits = [], []
        for i in range(size):
            if literal is not None:
                a = (literal + i) & z.MASK64
                if a in memory.overlay:
                    byte, init = memory.overlay[a]
                elif memory.initial:
                    byte, init = self._initial_byte(state, a)
                else:
                    byte = z.select(memory.base, z.const(a))
                    init = z.select(memory.init, z.const(a))
            else:
                if memory.overlay:
                    self._flush(memory)
                at = z.add(address, z.const(i))
                byte, init = z.select(memory.base, at), z.select(memory.init, at)
            parts.append(byte)
            inits.append(init)
        return z.concat(list(reversed(parts))), z.and_(*inits)

    def store_bytes(self, state: State, address: Any, value: Any, size: int, *,
                    region: Callable[[int], bool] | None = None) -> None:
        """Write the low ``size`` bytes of ``value`` little-endian and mark them initialised.

        ``region``, when given, accepts every address the store may reach (proved by its
        access check); literal-address bytes elsewhere then stay in the overlay.
        """
        literal = z.value_of(address)
        memory = state.memory
        for i in range(size):
            byte = z.extract(8 * i + 7, 8 * i, value)
            if literal is not None:
                memory.overlay[(literal + i) & z.MASK64] = (byte, z.true())
            else:
                if memory.overlay:
                    self._flush(memory, None if region is None
                                else (lambda a: not region(a)))
                at = z.add(address, z.const(i))
                memory.base = z.store(memory.base, at, byte)
                memory.init = z.store(memory.init, at, z.true())
                memory.initial = False

    def havoc_memory(self, state: State) -> None:
        """Forget every byte of memory (a helper or loop may have written anything)."""
        state.memory = Memory(z.byte_array(f"memory!{self.fresh_count}"),
                              z.initialised_array(True), {}, False)
        self.fresh_count += 1

    def kind_region(self, kind: Kind) -> Callable[[int], bool] | None:
        """Return a test for the addresses a ``kind`` pointer that passed its policy reaches.

        ``None`` when the kind is not one literal pointer kind.
        """
        if kind == STACK:
            return lambda address: address >> 32 == STACK_REGION
        if kind == INPUT:
            return lambda address: address >> 32 == INPUT_REGION
        return None

    def vm_valid(self, address: Any, size: int, *, write: bool) -> Any:
        """Return the condition under which the VM accepts this access."""
        region = z.extract(63, 32, address)
        offset = z.zero_extend(z.extract(31, 0, address), 64)
        end = z.add(offset, z.const(size))
        gapped = self.profile.stack_frame_gaps
        spans: list[tuple[int, Any]] = [
            *([] if gapped else [(STACK_REGION, z.const(self.profile.stack_size))]),
            (INPUT_REGION, self.inputs.length),
        ]
        if self.profile.has_heap:
            spans.append((HEAP_REGION, z.const(HEAP_SIZE)))
        if not write:
            spans.append((PROGRAM_REGION, z.const(SLOT_SIZE * len(self.program)
                                                  + (self.profile.code_base & 0xFFFFFFFF))))
        clauses = [z.and_(z.eq(region, z.const(index, 32)), z.ule(end, length))
                   for index, length in spans]
        if gapped:
            clauses.append(z.and_(z.eq(region, z.const(STACK_REGION, 32)),
                                  self.stack_chunk_valid(address, z.const(size))))
        return z.or_(*clauses)

    def stack_layout_valid(self, address: Any, size: Any) -> Any:
        """Return: a stack access fits the VM's frame layout (SBPFv0: avoids the gaps;
        Linux: stays inside one frame, since frames are isolated)."""
        if self.profile.stack_frame_gaps:
            return self.stack_chunk_valid(address, size)
        bits = self.profile.stack_frame_size.bit_length() - 1
        last = z.add(address, z.sub(size, z.const(1)))
        return z.eq(z.extract(31, bits, address), z.extract(31, bits, last))

    def stack_chunk_valid(self, address: Any, size: Any) -> Any:
        """Return: an SBPFv0 stack access avoids the gaps (as the VM's gapped region does).

        Offset ``o`` is in a gap when bit 12 is set; otherwise its host offset drops that bit
        (``o >> 13 << 12 | o & 0xfff``) and the access must end within the host stack.
        """
        low = z.extract(31, 0, address)
        host = z.zero_extend(z.concat([z.extract(31, 13, low), z.extract(11, 0, low)]), 64)
        return z.and_(z.eq(z.extract(12, 12, low), z.const(0, 1)),
                      z.ule(z.add(host, size), z.const(self.profile.stack_size)))

    def check_base(self, pc: int, state: State, base_reg: int, base: Value,
                   fault: Any) -> bool:
        """Check that an access base is a pointer; return whether no fault is possible."""
        pointer = kind_is(base.kind, *self.deref_kinds)
        return self.require(pc, TypeIsPointer(base_reg), state, z.not_(pointer),
                            z.and_(z.not_(pointer), fault))

    def policy_valid(self, state: State, kind: Kind, address: Any, size: int, *,
                     write: bool = False) -> Any:
        """Return the verifier's bounds rule for an access through a ``kind`` pointer."""
        in_stack = z.and_(z.ule(z.const(STACK_BASE), address),
                          z.ule(address, z.const(state.frame_top - size)),
                          self.stack_layout_valid(address, z.const(size)))
        offset = z.sub(address, z.const(INPUT_BASE))
        in_input = z.and_(z.ule(z.const(INPUT_BASE), address),
                          z.ule(offset, self.inputs.length),
                          z.ule(z.const(size), z.sub(self.inputs.length, offset)))
        return z.or_(z.and_(kind_is(kind, STACK), in_stack),
                     z.and_(kind_is(kind, INPUT), in_input))

    def access(self, pc: int, state: State, base_reg: int, offset: int, size: int, *,
               write: bool) -> Any:
        """Check a memory access; return its address and restrict the path to VM success."""
        base = self.read(pc, state, base_reg)
        address = z.add(base.value, z.const(offset))
        valid = self.vm_valid(address, size, write=write)
        if not self.profile.stack_frame_gaps:
            # Linux frames are isolated: only live frames (below this frame's r10), one
            # frame per access (reference/vm/memory.py, framed regions).
            live = z.and_(z.ule(z.add(address, z.const(size)), z.const(state.frame_top)),
                          self.stack_layout_valid(address, z.const(size)))
            in_stack = z.eq(z.extract(63, 32, address), z.const(STACK_REGION, 32))
            valid = z.and_(valid, z.or_(z.not_(in_stack), live))
        fault = z.not_(valid)
        pointer = kind_is(base.kind, *self.deref_kinds)
        typed = self.check_base(pc, state, base_reg, base, fault)
        inside = self.policy_valid(state, base.kind, address, size, write=write)
        bounded = self.require(pc, ValidAccess(base_reg, offset, size, write), state,
                               z.and_(pointer, z.not_(inside)), z.and_(pointer, fault))
        if not (typed and bounded and self.checking):
            self.add_fault_exit(state, fault)
            state.path = z.and_(state.path, valid)
        return address

    def merge(self, states: list[State]) -> State | None:
        """Merge the states meeting at one point (``None`` if none is feasible)."""
        states = [s for s in states if z.truth_of(s.path) is not False]
        if not states:
            return None
        if len(states) == 1:
            return states[0]
        guards = [s.path for s in states]
        path = z.or_(*guards)
        regs = []
        for r in range(11):
            choices = [(g, s.regs[r]) for g, s in zip(guards, states, strict=True)]
            value = z.merge([(g, v.value) for g, v in choices])
            kind = merge_kind([(g, v.kind) for g, v in choices])
            regs.append(Value(value, kind))
        cu = z.merge([(g, s.cu) for g, s in zip(guards, states, strict=True)])
        memory = self.merge_memory(guards, states)
        width = max(len(s.refs) for s in states)
        refs = [z.merge([(g, s.refs[i] if i < len(s.refs) else z.false())
                         for g, s in zip(guards, states, strict=True)]) for i in range(width)]
        names = sorted(set().union(*(s.marks for s in states)))
        marks = {n: z.merge([(g, s.marks.get(n, z.false()))
                             for g, s in zip(guards, states, strict=True)]) for n in names}
        return State(path, regs, memory, cu, states[0].frame_top,
                     all(s.exact for s in states), refs, marks)

    def merge_memory(self, guards: list[Any], states: list[State]) -> Memory:
        """Merge memories: literal-address overlays key by key, bases by if-then-else."""
        memories = [s.memory for s in states]
        first = memories[0]
        if all(m.base is first.base and m.init is first.init for m in memories):
            base, init, initial = first.base, first.init, all(m.initial for m in memories)
        else:
            for m in memories:
                if m.overlay:
                    self._flush(m)
            base = z.merge([(g, m.base) for g, m in zip(guards, memories, strict=True)])
            init = z.merge([(g, m.init) for g, m in zip(guards, memories, strict=True)])
            initial = False
        keys = sorted(set().union(*(m.overlay for m in memories)))
        overlay: dict[int, tuple[Any, Any]] = {}
        for address in keys:
            entries = []
            for state, m in zip(states, memories, strict=True):
                if address in m.overlay:
                    entries.append(m.overlay[address])
                elif m.initial:
                    entries.append(self._initial_byte(state, address))
                else:
                    entries.append((z.select(m.base, z.const(address)),
                                    z.select(m.init, z.const(address))))
            byte = z.merge([(g, e[0]) for g, e in zip(guards, entries, strict=True)])
            flag = z.merge([(g, e[1]) for g, e in zip(guards, entries, strict=True)])
            overlay[address] = (byte, flag)
        return Memory(base, init, overlay, initial)
