"""
Symbolic execution
==================

Runs a program over symbolic inputs (input length and bytes, helper results) along its
control-flow graph, **merging** the states that meet at a join point with if-then-else terms
guarded by their path conditions, so the work grows with the program, not with the number
of paths. Each instruction's assertions (:mod:`~arspec.checker.assertions`) are checked
against the current state with the solver.

Two conditions are kept apart for every check. The *policy* condition is the verifier's
rule (a pointer base, an access inside its region's live bytes, no uninitialised read).
The *fault* condition is exactly what makes the reference VM stop (an address outside every
mapped region, a zero divisor in sBPF, an unknown helper). A satisfiable fault condition
yields a model that :mod:`~arspec.checker.replay` turns into a concrete run; a policy-only
violation is a finding without a counterexample. After a check, the path continues only
where the VM does not fault, which is exactly the set of runs that go on.

Loops (natural loops of :mod:`~arspec.checker.cfg`) are bounded by a ranking function and
unrolled, or executed once from a havocked header state (:mod:`~arspec.checker.symloops`).
The state itself (kinds, values, memory, merged states) is defined in
:mod:`~arspec.checker.symstate`; its names are re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from arspec.reference.isa.instructions import (
    FRAME_POINTER,
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Call,
    CallKfunc,
    CallLocal,
    Callx,
    Endian,
    Exit,
    Imm,
    Instruction,
    Ja,
    JmpCond,
    Jump,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.vm.helpers import HelperSpec
from arspec.reference.vm.profiles import (
    HEAP_REGION,
    INPUT_BASE,
    STACK_BASE,
    STACK_REGION,
)

from . import solver as z
from . import symloops
from .assertions import (
    CallDepthWithin,
    HelperDeterministic,
    HelperExists,
    HelperModelled,
    HelperSucceeds,
    InitializedStack,
    NoDivisionOverflow,
    StaysInProgram,
    Supported,
    ValidAccess,
    ValidDivisor,
    assertions_for,
)
from .cfg import Function, Loop, TimeLimitReached
from .symcore import ExecutorCore, may_be_object, not_number
from .symstate import (
    FUNCREF,
    HAVOC,
    INPUT,
    MAPREF,
    NULLPTR,
    OBJECT,
    OPAQUE,
    SCALAR,
    STACK,
    UNINIT,
    Context,
    Inputs,
    Iters,
    Kind,
    LoopSummary,
    Memory,
    RawFinding,
    State,
    Value,
    instance_key,
    kind_is,
    merge_kind,
    next_iters,
)

#: Helpers of the test registry whose only effect is their result (no memory, no code).
PURE_HELPERS: Final = frozenset({"gather_bytes", "no_op", "sqrti", "expensive_no_op"})
#: Helpers that fault whenever they are called.
FAULTING_HELPERS: Final = frozenset({"abort", "sol_panic_"})


#: The clock :meth:`Executor.step` compares with its deadline.
clock: Callable[[], float] = time.monotonic


class Executor(ExecutorCore):
    """Symbolic executor of one program (see the module docstring)."""

    # -- entry ----------------------------------------------------------------------------

    def initial_state(self) -> State:
        """Return the entry state: r1 = input, r2 = its length, r10 = top of frame 0."""
        base, init = z.region_initial_memory(
            self.inputs.data, z.byte_array("unmapped"), input_base=INPUT_BASE,
            zero_regions=[STACK_REGION, *([HEAP_REGION] if self.profile.has_heap else [])])
        regs = [Value(z.const(0), UNINIT) for _ in range(11)]
        regs[1] = Value(z.const(INPUT_BASE), INPUT)
        regs[2] = Value(self.inputs.length, SCALAR)
        top = STACK_BASE + self.profile.stack_frame_size
        regs[FRAME_POINTER] = Value(z.const(top), STACK)
        path = z.ule(self.inputs.length, z.const(self.max_input))
        return State(path, regs, Memory(base, init, {}, True), z.const(0), top)

    def run(self) -> None:
        """Execute the program from pc 0, collecting findings and exit states."""
        state = self.initial_state()
        if self.program_context is not None:
            self.program_context.enter(self, state)
        self.run_function(self.cfg.entry, state, ())

    # -- instructions ---------------------------------------------------------------------

    def operand(self, pc: int, state: State, src: Reg | Imm, is64: bool) -> Value:
        """Return the value of a register or immediate operand."""
        if isinstance(src, Reg):
            return self.read(pc, state, src.index)
        return Value(z.immediate(src.value, is64), SCALAR)

    def alu_kind(self, insn: Alu, dst: Value, src: Value) -> Kind:
        """Return the kind of an ALU result (pointer arithmetic rules)."""
        if not insn.is64:
            return SCALAR
        if insn.op is AluOp.MOV:
            return src.kind if isinstance(insn.src, Reg) else SCALAR
        if insn.op not in (AluOp.ADD, AluOp.SUB):
            return SCALAR
        d_ptr, s_ptr = kind_is(dst.kind, *self.arith_kinds), kind_is(src.kind, *self.arith_kinds)
        if insn.op is AluOp.ADD:
            if z.truth_of(s_ptr) is False:
                return dst.kind if z.truth_of(d_ptr) is True else merge_kind(
                    [(d_ptr, dst.kind), (z.true(), SCALAR)])
            if z.truth_of(d_ptr) is False and z.truth_of(s_ptr) is True:
                return src.kind
            return merge_kind([(z.and_(d_ptr, z.not_(s_ptr)), dst.kind),
                               (z.and_(s_ptr, z.not_(d_ptr)), src.kind), (z.true(), SCALAR)])
        if z.truth_of(s_ptr) is False and z.truth_of(d_ptr) is True:
            return dst.kind
        return merge_kind([(z.and_(d_ptr, z.not_(s_ptr)), dst.kind), (z.true(), SCALAR)])

    def exec_alu(self, pc: int, insn: Alu, state: State) -> None:
        """Execute ``dst = dst <op> src``, checking divisors where division faults."""
        if self.program_context is not None:
            self.program_context.check_alu(self, pc, insn, state)
        src = self.operand(pc, state, insn.src, insn.is64)
        dst = state.regs[insn.dst] if insn.op is AluOp.MOV else self.read(pc, state, insn.dst)
        if self.profile.division_faults and insn.op in (AluOp.DIV, AluOp.SDIV, AluOp.MOD,
                                                        AluOp.SMOD):
            zero, overflow = z.division_faults(insn.op, dst.value, src.value, is64=insn.is64)
            for check in assertions_for(pc, insn, self.profile):
                if isinstance(check, ValidDivisor):
                    self.require(pc, check, state, zero, zero)
                elif isinstance(check, NoDivisionOverflow):
                    self.require(pc, check, state, overflow, overflow)
            fault = z.or_(zero, overflow)
            self.add_fault_exit(state, fault)
            state.path = z.and_(state.path, z.not_(fault))
        self.observe_alu(pc, insn, state, dst, src)
        value = z.alu(insn.op, dst.value, src.value, is64=insn.is64, profile=self.profile)
        state.regs[insn.dst] = Value(value, self.alu_kind(insn, dst, src))

    def observe_alu(self, pc: int, insn: Alu, state: State, dst: Value, src: Value) -> None:
        """Record an ALU operation that reads an object pointer as a number
        (:meth:`~arspec.checker.symcore.ExecutorCore.observe`).

        Only a 64-bit copy, a 64-bit scalar offset added to the pointer (either side) and a
        64-bit scalar subtracted from it keep the address the runtime's own: they move
        within the object. Every other operation on it (32-bit ones, shifts, masks, products,
        pointer differences) exposes the region number.
        """
        src_obj = may_be_object(src) if isinstance(insn.src, Reg) else z.false()
        dst_obj = z.false() if insn.op is AluOp.MOV else may_be_object(dst)
        if insn.op is AluOp.MOV and insn.is64:
            return
        if insn.is64 and insn.op is AluOp.ADD:
            possible = z.or_(z.and_(dst_obj, not_number(src)), z.and_(src_obj, not_number(dst)))
        elif insn.is64 and insn.op is AluOp.SUB:
            possible = z.or_(src_obj, z.and_(dst_obj, not_number(src)))
        else:
            possible = z.or_(dst_obj, src_obj)
        width = 64 if insn.is64 else 32
        self.observe(pc, state, f"{insn.op.name.lower()}{width} on the pointer", possible)

    def exec_memory(self, pc: int, insn: Load | Store | Atomic, state: State) -> None:
        """Execute a load, store or atomic read-modify-write."""
        if isinstance(insn, Store) and isinstance(insn.value, Reg):
            # A spill: the reload is a number whose bits are the verifier's address.
            self.observe(pc, state, "stored to memory",
                         may_be_object(state.regs[insn.value.index]))
        elif isinstance(insn, Atomic):
            operands = [insn.src, *([0] if insn.op is AtomicOp.CMPXCHG else [])]
            self.observe(pc, state, "an atomic operand",
                         z.or_(*(may_be_object(state.regs[r]) for r in operands)))
        if self.program_context is not None \
                and self.program_context.exec_memory(self, pc, insn, state):
            return
        if isinstance(insn, Load):
            address = self.access(pc, state, insn.src, insn.offset, insn.size, write=False)
            value, init = self.load_bytes(state, address, insn.size)
            self.require(pc, InitializedStack(insn.src, insn.offset, insn.size), state,
                         z.not_(init), None)
            widened = (z.sign_extend(value, 64) if insn.signed else z.zero_extend(value, 64))
            state.regs[insn.dst] = Value(widened, SCALAR)
            return
        if isinstance(insn, Store):
            stored = self.operand(pc, state, insn.value, True)
            kind = state.regs[insn.dst].kind
            address = self.access(pc, state, insn.dst, insn.offset, insn.size, write=True)
            check = ValidAccess(insn.dst, insn.offset, insn.size, True)
            proved = self.checking and (pc, type(check).__name__, str(check)) not in self._status
            self.store_bytes(state, address, stored.value, insn.size,
                             region=self.kind_region(kind) if proved else None)
            return
        operand = self.read(pc, state, insn.src)
        expected = self.read(pc, state, 0) if insn.op is AtomicOp.CMPXCHG else None
        address = self.access(pc, state, insn.dst, insn.offset, insn.size, write=True)
        old, init = self.load_bytes(state, address, insn.size)
        self.require(pc, InitializedStack(insn.dst, insn.offset, insn.size), state,
                     z.not_(init), None)
        old64 = z.zero_extend(old, 64)
        if expected is not None:
            low = z.extract(8 * insn.size - 1, 0, expected.value)
            new = z.ite(z.eq(old, low), operand.value, old64)
            self.store_bytes(state, address, new, insn.size)
            state.regs[0] = Value(old64, SCALAR)
            return
        new = z.atomic_value(insn.op, old64, operand.value, size=insn.size)
        self.store_bytes(state, address, new, insn.size)
        if insn.fetch:
            state.regs[insn.src] = Value(old64, SCALAR)

    def exec_call(self, pc: int, insn: Call, state: State, ctx: Context,
                  iters: Iters) -> None:
        """Execute a helper call: existence, determinism, cost and an unknown result."""
        spec: HelperSpec | None = self.helpers.lookup(insn.imm, self.profile)
        if spec is None:
            self.require(pc, HelperExists(insn.imm), state, z.true(), z.true())
            self.add_fault_exit(state, z.true())
            state.path = z.false()
            return
        if not spec.deterministic and self.profile.name == "solana":
            self.require(pc, HelperDeterministic(spec.name), state, z.true(), z.true())
            self.add_fault_exit(state, z.true())
            state.path = z.false()
            return
        state.cu = z.add(state.cu, z.const(spec.cost))
        if spec.name in FAULTING_HELPERS:
            self.require(pc, HelperSucceeds(spec.name), state, z.true(), z.true())
            self.add_fault_exit(state, z.true())
            state.path = z.false()
            return
        if spec.name not in PURE_HELPERS:
            self.note(pc, HelperModelled(spec.name), "memory and compute effects are havocked")
            self.havoc_memory(state)
            state.cu = self.fresh("cu")
            state.exact = False
            self.cu_exact = False
        key = instance_key(pc, ctx, iters)
        result = z.var(f"helper:{key}") if self.checking else self.fresh("helper")
        if self.checking:
            self.inputs.helper_results[key] = result
        state.regs[0] = Value(result, SCALAR)
        for reg in range(1, 6):
            state.regs[reg] = Value(state.regs[reg].value, UNINIT)

    def exec_simple(self, pc: int, insn: Instruction, state: State) -> None:
        """Execute an instruction that only computes registers."""
        if isinstance(insn, Alu):
            self.exec_alu(pc, insn, state)
        elif isinstance(insn, Neg):
            dst = self.read(pc, state, insn.dst)
            self.observe(pc, state, "negated", may_be_object(dst))
            state.regs[insn.dst] = Value(z.neg(dst.value, is64=insn.is64), SCALAR)
        elif isinstance(insn, MovSx):
            src = self.read(pc, state, insn.src)
            self.observe(pc, state, "sign-extended", may_be_object(src))
            state.regs[insn.dst] = Value(z.movsx(src.value, bits=insn.bits, is64=insn.is64),
                                         SCALAR)
        elif isinstance(insn, Endian):
            dst = self.read(pc, state, insn.dst)
            self.observe(pc, state, "byte-swapped", may_be_object(dst))
            state.regs[insn.dst] = Value(z.endian(insn.op, dst.value, width=insn.width),
                                         SCALAR)
        elif isinstance(insn, Load | Store | Atomic):
            self.exec_memory(pc, insn, state)
        elif isinstance(insn, LoadImm64):
            if insn.pseudo is Pseudo.IMM64:
                state.regs[insn.dst] = Value(z.const(insn.value), SCALAR)
            elif not self.load_pseudo(pc, insn, state):
                self.unsupported(pc, insn, state)
        else:
            self.unsupported(pc, insn, state)

    def load_pseudo(self, pc: int, insn: LoadImm64, state: State) -> bool:
        """Execute a map or code form of ``lddw``; return ``False`` when not modelled."""
        del pc, insn, state
        return False

    def unsupported(self, pc: int, insn: Instruction, state: State) -> None:
        """Note an instruction the verifier does not model and over-approximate it."""
        for check in assertions_for(pc, insn, self.profile):
            if isinstance(check, Supported):
                self.note(pc, check, "its effects are havocked")
        for reg in range(10):
            state.regs[reg] = Value(self.fresh("havoc"), SCALAR)
        self.havoc_memory(state)
        state.exact = False
        if isinstance(insn, CallKfunc | Callx):
            state.cu = self.fresh("cu")
            self.cu_exact = False

    def step(self, function: Function, pc: int, state: State, ctx: Context,
             iters: Iters) -> tuple[list[tuple[int, State]], State | None]:
        """Execute ``pc``; return the successor states and the returning state if any."""
        if self.deadline is not None and clock() > self.deadline:
            raise TimeLimitReached(pc)
        insn = self.program.slots[pc]
        assert insn is not None
        state.cu = z.add(state.cu, z.const(self.profile.insn_cost))
        if isinstance(insn, Exit):
            self.read(pc, state, 0)
            if not ctx:
                self.on_exit(pc, state)
            return [], state
        if isinstance(insn, Call):
            if self.program_context is not None:
                self.program_context.check_call(self, pc, insn, state)
            self.exec_call(pc, insn, state, ctx, iters)
        elif isinstance(insn, CallLocal):
            self.exec_local_call(pc, state, ctx, iters)
        elif isinstance(insn, Jump):
            return self.exec_jump(function, pc, insn, state), None
        elif not isinstance(insn, Ja):
            self.exec_simple(pc, insn, state)
        if isinstance(insn, Callx):
            self.incomplete = True
            return [], None
        succs = [s for s in function.graph.successors(pc)]
        if not succs and not isinstance(insn, Callx):
            self.fall_off(pc, insn, state)
        return [(s, state) for s in succs], None

    def on_exit(self, pc: int, state: State) -> None:
        """Check what must hold when the program ends (nothing in a standalone program)."""

    def fall_off(self, pc: int, insn: Instruction, state: State) -> None:
        """Report control leaving the program after ``pc``."""
        target = pc + 2 if isinstance(insn, LoadImm64) else pc + 1
        self.require(pc, StaysInProgram(target), state, z.true(), z.true())
        self.add_fault_exit(state, z.true())

    def exec_jump(self, function: Function, pc: int, insn: Jump,
                  state: State) -> list[tuple[int, State]]:
        """Split the state on a conditional jump."""
        dst = self.read(pc, state, insn.dst)
        src = self.operand(pc, state, insn.src, insn.is64)
        null_check = insn.is64 and insn.cond in (JmpCond.EQ, JmpCond.NE) and (
            z.value_of(src.value) == 0 or z.value_of(dst.value) == 0)
        if not null_check:
            self.observe(pc, state, "compared", z.or_(may_be_object(dst), may_be_object(src)))
        taken = z.condition(insn.cond, dst.value, src.value, is64=insn.is64)
        following, target = pc + 1, pc + 1 + insn.offset
        if following == target:
            return self._edges(function, pc, state, [(following, z.true())])
        return self._edges(function, pc, state, [(following, z.not_(taken)),
                                                 (target, taken)])

    def _edges(self, function: Function, pc: int, state: State,
               edges: list[tuple[int, Any]]) -> list[tuple[int, State]]:
        out: list[tuple[int, State]] = []
        live = [(t, c) for t, c in edges if z.truth_of(c) is not False]
        for i, (target, cond) in enumerate(live):
            path = z.and_(state.path, cond)
            if z.truth_of(path) is False:
                continue
            if not function.graph.has_edge(pc, target):
                branch = state if i == len(live) - 1 else state.fork(path)
                branch.path = path
                self.fall_off(pc, self.program.slots[pc] or Exit(), branch)
                continue
            successor = state if i == len(live) - 1 else state.fork(path)
            successor.path = path
            out.append((target, successor))
        return out

    def exec_local_call(self, pc: int, state: State, ctx: Context, iters: Iters) -> None:
        """Inline a bpf-to-bpf call in a new frame; restore r6-r9 and r10 on return."""
        target = self.cfg.call_targets.get(pc)
        depth = len(ctx) + 1
        if depth >= self.profile.max_frames:
            self.require(pc, CallDepthWithin(depth + 1, self.profile.max_frames), state,
                         z.true(), z.true())
            self.add_fault_exit(state, z.true())
            state.path = z.false()
            return
        if target is None:
            state.path = z.false()
            return
        saved = [Value(state.regs[r].value, state.regs[r].kind) for r in range(6, 11)]
        saved_top = state.frame_top
        callee = state.fork(state.path)
        callee.frame_top = saved_top + self.profile.frame_stride
        callee.regs[FRAME_POINTER] = Value(z.const(callee.frame_top), STACK)
        returned = self.run_function(target, callee, (*ctx, (pc, iters)))
        if returned is None:
            state.path = z.false()
            return
        state.path, state.memory, state.cu = returned.path, returned.memory, returned.cu
        # What the callee reserved (and whether it havocked anything) outlives its frame.
        state.refs, state.exact = returned.refs, returned.exact
        state.marks = returned.marks
        state.regs = returned.regs
        for i, value in enumerate(saved):
            state.regs[6 + i] = value
        state.frame_top = saved_top

    # -- regions and loops ---------------------------------------------------------------

    def run_function(self, entry: int, state: State, ctx: Context) -> State | None:
        """Execute the function at ``entry``; return the merged state at its exits."""
        function = self.cfg.functions[entry]
        exits, returns, _ = self.run_region(function, frozenset(function.graph.nodes), None,
                                            entry, state, ctx, ())
        del exits
        if not ctx:
            self.exits.extend(r for r in returns if z.truth_of(r.path) is not False)
            return None
        return self.merge(returns)

    def run_region(self, function: Function, region: frozenset[int], header: int | None,
                   start: int, state: State, ctx: Context, iters: Iters
                   ) -> tuple[dict[int, list[State]], list[State], list[State]]:
        """Execute the pcs of ``region`` from ``start`` in topological order.

        Returns states leaving the region (by target pc), returning states and states on
        back edges to ``header``.
        """
        pending: dict[int, list[State]] = {start: [state]}
        exits: dict[int, list[State]] = {}
        returns: list[State] = []
        latches: list[State] = []
        done: set[int] = set()
        for pc in function.order:
            if pc not in region or pc in done or pc not in pending:
                continue
            merged = self.merge(pending.pop(pc))
            if merged is None:
                continue
            if pc != header and pc in function.loops:
                loop = function.loops[pc]
                done.update(loop.body)
                outs, loop_returns = self.run_loop(function, loop, merged, ctx, iters)
                returns.extend(loop_returns)
                for target, states in outs.items():
                    self._route(function, region, header, target, states, pending, exits,
                                latches)
                continue
            node_iters = self._iters_at(function, pc, iters, header)
            succs, returned = self.step(function, pc, merged, ctx, node_iters)
            if returned is not None:
                returns.append(returned)
            for target, succ in succs:
                self._route(function, region, header, target, [succ], pending, exits,
                            latches)
        return exits, returns, latches

    @staticmethod
    def _iters_at(function: Function, pc: int, iters: Iters, header: int | None) -> Iters:
        """Return the counters of ``pc`` inside a region whose enclosing counters are
        ``iters`` (the innermost entry belongs to ``header``)."""
        depth = len(function.nesting.get(pc, ()))
        return iters[:depth]

    @staticmethod
    def _route(function: Function, region: frozenset[int], header: int | None, target: int,
               states: list[State], pending: dict[int, list[State]],
               exits: dict[int, list[State]], latches: list[State]) -> None:
        if target == header:
            latches.extend(states)
        elif target not in region:
            exits.setdefault(target, []).extend(states)
        else:
            pending.setdefault(target, []).extend(states)

    def run_loop(self, function: Function, loop: Loop, entry: State, ctx: Context,
                 iters: Iters) -> tuple[dict[int, list[State]], list[State]]:
        """Execute a natural loop (:func:`~arspec.checker.symloops.run_loop`)."""
        return symloops.run_loop(self, function, loop, entry, ctx, iters)

    def iteration_bound(self, state: State, limit: int) -> int | None:
        """Return a bound on the back edges from memory-held loop state (none here)."""
        del state, limit
        return None


__all__ = ["FAULTING_HELPERS", "FUNCREF", "HAVOC", "INPUT", "MAPREF", "NULLPTR", "OBJECT",
           "OPAQUE", "PURE_HELPERS", "SCALAR", "STACK", "UNINIT", "Context", "Executor",
           "Inputs", "Iters", "Kind", "LoopSummary", "Memory", "RawFinding", "State",
           "TimeLimitReached", "Value", "instance_key", "kind_is", "merge_kind", "next_iters"]
