"""
Counterexample replay
=====================

Turns a solver model into a concrete run (input bytes, helper results) and replays it on the
reference VM with a tracer. A finding becomes ``REFUTED`` only when the replay shows the
predicted fault at the predicted pc, or the predicted compute overrun; otherwise it stays
``UNKNOWN`` with the note "counterexample did not replay".

Helper results are keyed by the executed copy of the call (its pc, call context and loop
counters, :func:`~arspec.checker.symbolic.instance_key`); :class:`InstanceTracker` recomputes
that key from the trace so each call returns the value the model chose for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    Call,
    CallKfunc,
    CallLocal,
    Callx,
    Endian,
    Exit,
    Jump,
    LegacyLoad,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Program,
    Reg,
    Store,
)
from arspec.reference.runtime.contexts import ProgramContext, execute_in_context
from arspec.reference.vm.helpers import HelperContext, HelperRegistry, HelperSpec
from arspec.reference.vm.profiles import INPUT_BASE, STACK_BASE, Profile
from arspec.reference.vm.trace import Event, InsnStart
from arspec.reference.vm.vm import execute
from arspec.spec.conventions import CONTEXT_BASE
from arspec.spec.errors import (
    CallDepthExceeded,
    DivisionByZero,
    DivisionOverflow,
    ExecutionFault,
    HelperFault,
    InstructionLimit,
    InvalidInstruction,
    MemoryFault,
    ProgramOverrun,
)

from . import solver as z
from .assertions import (
    Assertion,
    CallDepthWithin,
    ContextAccess,
    HelperDeterministic,
    HelperExists,
    HelperSucceeds,
    NoDivisionOverflow,
    StaysInProgram,
    TypeIsPointer,
    ValidAccess,
    ValidDivisor,
)
from .cfg import ControlFlow
from .symbolic import PURE_HELPERS, Context, Inputs, Iters, instance_key, next_iters
from .verdict import Counterexample

#: The fault each assertion predicts when it fails.
EXPECTED_FAULTS: dict[type, tuple[type[ExecutionFault], ...]] = {
    TypeIsPointer: (MemoryFault,),
    ValidAccess: (MemoryFault,),
    ContextAccess: (MemoryFault,),
    ValidDivisor: (DivisionByZero,),
    NoDivisionOverflow: (DivisionOverflow,),
    CallDepthWithin: (CallDepthExceeded,),
    HelperExists: (HelperFault,),
    HelperDeterministic: (HelperFault,),
    HelperSucceeds: (HelperFault,),
    StaysInProgram: (ProgramOverrun, InvalidInstruction),
}
#: Replays stop here so that a wrong model cannot run for ever.
REPLAY_LIMIT = 10_000_000


@dataclass(frozen=True)
class ConcreteInput:
    """One concrete run: input bytes and the result of each helper-call copy."""

    data: bytes
    helper_results: dict[str, int]


def concrete_input(model: z.Model, inputs: Inputs) -> ConcreteInput:
    """Read the input length, bytes and helper results out of ``model``."""
    length = model.value(inputs.length)
    data = bytes(model.value(z.select(inputs.data, z.const(i))) for i in range(length))
    results = {key: model.value(term) for key, term in sorted(inputs.helper_results.items())}
    return ConcreteInput(data, results)


class InstanceTracker:
    """A tracer that knows, at every step, the call context and loop counters of the pc."""

    def __init__(self, cfg: ControlFlow) -> None:
        self.cfg = cfg
        self.function = cfg.functions[cfg.entry]
        self.frames: list[tuple[int, Iters, int]] = []
        self.iters: Iters = ()
        self.prev: int | None = None

    def event(self, e: Event) -> None:
        """Follow one trace event."""
        if isinstance(e, InsnStart):
            self.advance(e.pc)

    def advance(self, pc: int) -> None:
        """Move to ``pc`` from the previous instruction."""
        prev, self.prev = self.prev, pc
        if prev is None:
            self.iters = next_iters(self.function, (), -1, pc)
            return
        insn = self.cfg.program.slots[prev]
        if isinstance(insn, CallLocal) and self.cfg.call_targets.get(prev) == pc:
            self.frames.append((prev, self.iters, self.function.entry))
            self.function = self.cfg.functions[pc]
            self.iters = next_iters(self.function, (), -1, pc)
        elif isinstance(insn, Exit) and self.frames:
            site, saved, entry = self.frames.pop()
            self.function = self.cfg.functions[entry]
            self.iters = next_iters(self.function, saved, site, pc)
        else:
            self.iters = next_iters(self.function, self.iters, prev, pc)

    def enter_callback(self, site: int, mark: tuple[int, int], entry: int) -> None:
        """A helper at ``site`` calls the function at ``entry``; ``mark`` numbers the call.

        The call's context is the site with the current loop counters plus ``mark`` (see
        :func:`arspec.checker.callbacks.callback_context`).
        """
        self.frames.append((site, (*self.iters, mark), self.function.entry))
        self.function = self.cfg.functions[entry]
        self.prev = None

    def leave_callback(self) -> None:
        """The callback entered last returned to its helper call."""
        site, saved, entry = self.frames.pop()
        self.function = self.cfg.functions[entry]
        self.iters = saved[:-1]
        self.prev = site

    def key(self, pc: int) -> str:
        """Return the instance key of the current copy of ``pc``."""
        ctx: Context = tuple((site, iters) for site, iters, _ in self.frames)
        return instance_key(pc, ctx, self.iters)


def control_registers(program: Program) -> frozenset[int]:
    """Return the registers whose values can decide control flow or a fault.

    The roots are what a branch compares, a load's base and both operands of a division;
    the set is closed under "an instruction writing a member reads this register". The
    other registers only feed each other (and ``r0`` at ``exit``), so they cannot change
    which path runs or whether it faults.
    """
    roots: set[int] = set()
    writes: list[tuple[int, tuple[int, ...]]] = []
    for _pc, insn in program.instructions():
        if isinstance(insn, Jump):
            roots.add(insn.dst)
            if isinstance(insn.src, Reg):
                roots.add(insn.src.index)
        elif isinstance(insn, Alu):
            src = (insn.src.index,) if isinstance(insn.src, Reg) else ()
            if insn.op in (AluOp.DIV, AluOp.SDIV, AluOp.MOD, AluOp.SMOD):
                roots.update((insn.dst, *src))
            writes.append((insn.dst, src if insn.op is AluOp.MOV else (insn.dst, *src)))
        elif isinstance(insn, Neg | Endian):
            writes.append((insn.dst, (insn.dst,)))
        elif isinstance(insn, MovSx):
            writes.append((insn.dst, (insn.src,)))
        elif isinstance(insn, Load):
            roots.add(insn.src)
            writes.append((insn.dst, (insn.src,)))
        elif isinstance(insn, LoadImm64):
            writes.append((insn.dst, ()))
        elif isinstance(insn, LegacyLoad):
            return frozenset(range(11))
    relevant = set(roots)
    changed = True
    while changed:
        changed = False
        for dst, reads in writes:
            if dst in relevant and not relevant.issuperset(reads):
                relevant.update(reads)
                changed = True
    return frozenset(relevant)


class RepeatDetector:
    """A tracer that notices a repeat of the machine state (a proof of looping).

    The pc and the registers of ``relevant`` (all when ``None``; see
    :func:`control_registers`) are compared; any memory write, helper call or local call
    starts a new epoch, so a repeat inside one epoch means memory is unchanged too, and the
    deterministic VM repeats the same path, without a fault, for ever.
    """

    def __init__(self, relevant: frozenset[int] | None = None) -> None:
        self.seen: set[tuple[int, tuple[int, ...]]] = set()
        self.repeat_pc: int | None = None
        self.relevant = tuple(sorted(relevant)) if relevant is not None else None

    def event(self, e: Event) -> None:
        """Record one step."""
        if not isinstance(e, InsnStart) or self.repeat_pc is not None:
            return
        if isinstance(e.insn, Store | Atomic | Call | CallKfunc | Callx | CallLocal | Exit):
            self.seen.clear()
            return
        regs = e.registers if self.relevant is None else tuple(
            e.registers[r] for r in self.relevant)
        key = (e.pc, regs)
        if key in self.seen:
            self.repeat_pc = e.pc
        self.seen.add(key)


class Tracers:
    """Several tracers fed the same events, in order."""

    def __init__(self, *tracers: Any) -> None:
        self.tracers = tracers

    def event(self, e: Event) -> None:
        """Pass one event to every tracer."""
        for t in self.tracers:
            t.event(e)


def replay_tracers(cfg: ControlFlow, *others: Any, detect_repeat: bool,
                   ) -> tuple[InstanceTracker, RepeatDetector, Tracers]:
    """Return the tracers of a replay of ``cfg`` and the one :class:`Tracers` the VM feeds.

    The :class:`InstanceTracker` comes first (the helper stubs ask it which copy of a call
    runs), then the :class:`RepeatDetector` over :func:`control_registers` (fed only with
    ``detect_repeat``), then ``others`` in order.
    """
    tracker = InstanceTracker(cfg)
    detector = RepeatDetector(control_registers(cfg.program))
    fed = (tracker, detector, *others) if detect_repeat else (tracker, *others)
    return tracker, detector, Tracers(*fed)


def start_registers(args: Sequence[int], profile: Profile) -> tuple[int, ...]:
    """Return ``r0``-``r10`` at the start of a replay: ``args`` from ``r1`` on, ``r10`` at
    the top of the first stack frame, the rest 0."""
    registers = [0] * 11
    registers[1:1 + len(args)] = list(args)
    registers[10] = STACK_BASE + profile.stack_frame_size
    return tuple(registers)


@dataclass(frozen=True)
class ReplayOutcome:
    """What the VM did with a concrete input (the fault, if any, the compute units used,
    what each helper call returned, in order, and the pc of a repeat of the machine state
    when one was watched for and seen)."""

    fault: ExecutionFault | None
    compute_units: int
    helper_returns: tuple[tuple[int, int], ...]
    repeat_pc: int | None

    def describe(self) -> str:
        """Return a one-line description."""
        if self.fault is None:
            return f"exited normally after {self.compute_units} CU"
        return f"{self.fault} after {self.compute_units} CU"


def run_concrete(cfg: ControlFlow, profile: Profile, registry: HelperRegistry,
                 given: ConcreteInput, *, compute_limit: int,
                 detect_repeat: bool = False,
                 context: ProgramContext | None = None) -> ReplayOutcome:
    """Run the program on ``given`` with helper results taken from it.

    With a ``context`` the program runs in it, ``given.data`` being the packet.
    """
    tracker, detector, tracers = replay_tracers(cfg, detect_repeat=detect_repeat)
    returns: list[tuple[int, int]] = []

    def stub(spec: HelperSpec) -> HelperSpec:
        def fn(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
            if spec.name not in PURE_HELPERS:
                value = spec.fn(ctx, r1, r2, r3, r4, r5)
            else:
                value = given.helper_results.get(tracker.key(ctx.pc), 0)
            returns.append((ctx.pc, value))
            return value
        return HelperSpec(spec.id, spec.name, fn, spec.cost, spec.deterministic)

    stubs = HelperRegistry(tuple(stub(spec) for spec in registry))
    if context is not None:
        result = execute_in_context(cfg.program, context, packet=given.data, profile=profile,
                                    helpers=stubs, compute_limit=compute_limit,
                                    tracer=tracers, engine="interpreter")
    else:
        result = execute(cfg.program, profile=profile, memory=given.data, helpers=stubs,
                         compute_limit=compute_limit, tracer=tracers, engine="interpreter")
    return ReplayOutcome(result.fault, result.compute_units, tuple(returns),
                         detector.repeat_pc)


def confirms(assertion: Assertion | None, pc: int, outcome: ReplayOutcome) -> bool:
    """Return whether ``outcome`` shows the fault predicted for ``assertion`` at ``pc``.

    ``assertion`` ``None`` predicts a compute overrun (anywhere).
    """
    fault = outcome.fault
    if assertion is None:
        return isinstance(fault, InstructionLimit)
    expected = EXPECTED_FAULTS.get(type(assertion), ())
    if not isinstance(fault, expected):
        return False
    return isinstance(assertion, StaysInProgram) or fault.pc == pc


def counterexample(given: ConcreteInput, profile: Profile, outcome: ReplayOutcome,
                   replayed: bool, *, context: ProgramContext | None = None) -> Counterexample:
    """Package a replayed input as a :class:`Counterexample` (r1 the context when given)."""
    args = (INPUT_BASE, len(given.data)) if context is None else (CONTEXT_BASE, 0)
    return Counterexample(start_registers(args, profile), given.data, outcome.helper_returns,
                          outcome.describe(), replayed, outcome.compute_units)
