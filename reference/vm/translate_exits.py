"""
Segment exits
=============

The ways out of a segment of a translated unit (:mod:`arspec.reference.vm.translate`): the
call of a helper (light or not) or of the interpreter's own handler, bpf-to-bpf calls and
returns, ``exit`` and conditional jumps. :class:`SegmentExits` emits them;
:class:`~arspec.reference.vm.translate.Translator` adds where control goes next
(:meth:`SegmentExits.goto`) and the unit around them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from arspec.reference.isa.instructions import (
    Atomic,
    Call,
    CallKfunc,
    CallLocal,
    Exit,
    Imm,
    Instruction,
    Ja,
    JmpCond,
    Jump,
    Reg,
)
from arspec.reference.vm import alu
from arspec.reference.vm.machine import instruction_problem
from arspec.reference.vm.profiles import STACK_BASE, Profile
from arspec.reference.vm.translate_insn import (
    BUDGET,
    DONE,
    M32,
    M64,
    NEXT,
    InstructionEmitter,
    Known,
    bounds_of,
)

#: Most instructions emitted into one unit (code reached along two paths counts twice).
MAX_UNIT: Final = 400
#: Most instructions a unit runs between two looks at the budget: below 2**30, so the
#: budget test compares one-digit integers (CPython's fast path).
MAX_CAP: Final = (1 << 30) - 1 - MAX_UNIT

#: Kinds of a helper call site, once resolved (:func:`~arspec.reference.vm.translate.fast_helper`):
#: a light helper (see :attr:`~arspec.reference.vm.helpers.HelperSpec.light`) without a cost,
#: a light one with a cost of its own or a metered one, or any other, called with the
#: machine brought up to date.
UNRESOLVED: Final = 0
LIGHT_FREE: Final = 1
LIGHT_CHARGED: Final = 2
FULL: Final = 3

#: The registers as the unit's locals.
REGS: Final = ", ".join(f"r{i}" for i in range(11))

# Placeholders in the emitted lines, replaced once the whole unit is known
# (``Translator.source``).
DROP: Final = "<drop region caches>"
#: Where the registers the unit writes go to ``vm.regs`` (before a helper or handler).
SYNC: Final = "<sync registers>"
#: The most instructions one turn of a unit's loop may run (the unit's size, known at the end).
TURN: Final = "<turn>"
#: Whether a frameless call here would go past the depth limit (see ``Translator.deep``).
DEEP: Final = "<deep>"
#: Where ``deep`` is taken again (after a helper or handler).
REDEEP: Final = "<redeep>"
#: Where the hoisted windows are taken again (after a helper or handler), followed by the
#: pc to continue at when one no longer holds.
REHOIST: Final = "<rehoist>"
#: Lines after every frame change: the live stack ends at the new r10, and a site's cached
#: window of the stack may no longer be valid.
FRAME_CHANGED: Final = (f"memory.stack_top = r10 - {STACK_BASE}", DROP)
#: Handled instructions that, when they do not fault, continue at the next instruction.
#: A legacy packet load is not among them: out of bounds it ends the program (r0 = 0).
STATIC_NEXT: Final = (Call, CallKfunc, Atomic)


@dataclass(frozen=True)
class FrameRule:
    """How a bpf-to-bpf call changes the machine, read off the interpreter (see ``probe``)."""

    r10_step: int
    max_saved: int


class SegmentExits(InstructionEmitter):
    """Emits the ways out of a segment into ``lines``; a subclass says where control goes
    next (:meth:`goto`)."""

    def __init__(self, profile: Profile, promote: dict[tuple[int, int], int],
                 invariant: frozenset[int], frame_rule: FrameRule,
                 light: Callable[[int], bool] | None) -> None:
        super().__init__(profile, promote, invariant)
        #: How a bpf-to-bpf call moves r10 and how deep calls may go.
        self.frame_rule = frame_rule
        #: Whether a ``call imm`` site gets the light helper's paths (``None``: every site).
        #: Only the unit's size and speed depend on it: the full path is right for any
        #: helper, so a unit made for one registry runs exactly under any other.
        self.light = light
        #: Whether the unit moves r10.
        self.moves = False
        self.lines: list[str] = []
        #: Helper call sites: (name, pc, immediate).
        self.helper_sites: list[tuple[str, int, int]] = []
        #: The number of the segment being emitted.
        self.segment = -1

    def goto(self, target: int, depth: int, path: frozenset[int], stack: tuple[int, ...],
             facts: Known) -> None:
        """Emit the code that continues at ``target`` (the subclass's)."""
        raise NotImplementedError

    def out(self, depth: int, *lines: str) -> None:
        pad = "    " * depth
        self.lines.extend(pad + line for line in lines)


    def transfer(self, pc: int, insn: Instruction, depth: int, facts: Known) -> None:
        """Emit an unconditional transfer inside a segment (the next block follows)."""
        if isinstance(insn, Exit):
            self.moves = True
            self.out(depth, "_, r6, r7, r8, r9, r10 = frames.pop()", *FRAME_CHANGED)
            for reg in range(6, 11):
                facts.drop(reg)
        elif isinstance(insn, CallLocal):
            self.push(pc, depth)
            facts.reset()

    def push(self, pc: int, depth: int) -> None:
        self.moves = True
        rule = self.frame_rule
        self.out(depth, f"if len(frames) >= {rule.max_saved}: raise depth_fault({pc}, profile)",
                 f"frames.append(({pc + 1}, r6, r7, r8, r9, r10))", f"r10 += {rule.r10_step}",
                 *FRAME_CHANGED)

    def light_call(self, h: str, pc: int, next_pc: int, depth: int, charged: bool,
                   rest: int) -> None:
        """Emit the call of a light helper (see :attr:`HelperSpec.light
        <arspec.reference.vm.helpers.HelperSpec.light>`): registers stay in locals (a fault
        is the unit's, at ``pc``, the segment's last instruction, which names the segment
        only then) and the promoted slots go to memory around the call. When ``charged``
        (the helper has a cost of its own or is :attr:`metered
        <arspec.reference.vm.helpers.HelperSpec.metered>`), the counters go to the machine
        first, its cost is charged through ``vm.consume`` (which faults as the interpreter
        does) and the budget left is read back after the call. ``rest`` instructions after
        the call, in its segment, are counted in ``n`` already."""
        cost = self.profile.insn_cost
        segment = f"s = {self.segment}"
        ran = f"n - {rest}" if rest else "n"
        if charged:
            units = f"vm.units += ({ran}) * {cost}" if cost != 1 else f"vm.units += {ran}"
            self.out(depth, f"vm.instructions += {ran}", units if cost else "pass",
                     f"n = {rest}; {segment}", f"if {h}c: vm.consume({h}c, {pc})")
        # On a fault inside the helper the promoted slots are read back, so the
        # ``finally``'s write-back keeps what the helper stored.
        self.out(depth, *self.flush(), "try:",
                 f"    r0 = {h}f({h}x, r1, r2, r3, r4, r5) & {M64}",
                 "except BaseException:", f"    {segment}",
                 *("    " + line for line in self.reload()), "    raise",
                 *self.reload())
        if charged:
            # What the call charged may have used up the turn the loop head covered (the
            # ``rest`` instructions are part of the turn).
            if cost == 1:
                self.out(depth, "cap = vm.compute_limit - vm.units",
                         f"if cap > {MAX_CAP}: cap = {MAX_CAP}")
            else:
                self.out(depth, "cap = REFILL(vm, 0)")
            self.out(depth, f"if {TURN} > cap: n = 0; pc = {next_pc}; return {BUDGET}")

    def handler(self, pc: int, insn: Instruction, next_pc: int, depth: int,
                path: frozenset[int], stack: tuple[int, ...], facts: Known,
                rest: int | None = None) -> None:
        """Emit an instruction the unit does not translate: a helper call (by the kind of
        its helper) or the interpreter's handler. With ``rest``, a helper call inside a
        segment whose ``rest`` instructions after it are already counted in ``n``: they are
        held back while the machine is brought up to date, and the code after it follows
        in the segment."""
        cost = self.profile.insn_cost
        helper = isinstance(insn, Call) and instruction_problem(insn) is None
        held = f"n -= {rest}" if rest else "pass"
        if helper:
            # The site's kind, once resolved: LIGHT_FREE, LIGHT_CHARGED or FULL.
            assert isinstance(insn, Call)
            h = f"h{len(self.helper_sites)}"
            self.helper_sites.append((h, pc, insn.imm))
            # The first call of a unit run takes the full path, right for any helper.
            outer = depth
            if self.light is None or self.light(insn.imm):
                self.out(depth, f"if {h}k == {LIGHT_FREE}:")
                self.light_call(h, pc, next_pc, depth + 1, False, rest or 0)
                self.out(depth, f"elif {h}k == {LIGHT_CHARGED}:")
                self.light_call(h, pc, next_pc, depth + 1, True, rest or 0)
                self.out(depth, "else:")
                depth += 1
            self.out(depth, f"if {h}k == {UNRESOLVED}: {h}f, {h}c, {h}x, {h}k = "
                            f"HELPERS(vm, {pc}, {insn.imm})")
        self.out(depth, held, "vm.instructions += n",
                 f"vm.units += n * {cost}" if cost != 1 else "vm.units += n", "n = 0",
                 SYNC, f"vm.pc = {pc}", *self.flush(), "live = False")
        if helper:
            # Helpers see r1-r5 and return r0 (HelperFunction); the rest stays as it was.
            self.out(depth, f"if {h}c: vm.consume({h}c, {pc})",
                     f"r0 = {h}f({h}x, r1, r2, r3, r4, r5) & {M64}",
                     "live = True")
        else:
            self.clobbers = True
            self.out(depth, f"h, i = ops[{pc}]", "h(vm, i)", "live = True", f"{REGS} = regs")
        self.out(depth, *self.reload(), REDEEP)
        if cost == 1:
            self.out(depth, "cap = vm.compute_limit - vm.units",
                     f"if cap > {MAX_CAP}: cap = {MAX_CAP}")
        else:
            self.out(depth, "cap = REFILL(vm, 0)")
        self.out(depth, DROP)
        if isinstance(insn, STATIC_NEXT) and instruction_problem(insn) is None:
            # As at the loop head: the rest of the turn runs at most the unit's size.
            # A lock taken or a ring dynptr made: the interpreter checks calls and stores.
            self.out(depth, f"if {TURN} > cap or vm.guarded: pc = {next_pc}; return {BUDGET}",
                     f"{REHOIST} {next_pc}")
            if rest is not None:
                # The rest of the segment follows; its instructions count again.
                assert helper
                self.out(depth, f"n = {rest}")
                facts.drop(0)
                facts.stored.clear()
                return
            if helper:
                depth = outer
            # A helper writes r0 and maybe memory; the unit's r1-r10 stay as they were.
            after = Known(facts.bounds, None, facts.based, facts.align) if helper else Known()
            after.drop(0)
            after.covered = True
            self.goto(next_pc, depth, path, stack, after)
        else:
            self.out(depth, "pc = vm.pc", f"return {NEXT}")

    def terminator(self, pc: int, insn: Instruction, depth: int, path: frozenset[int],
                   stack: tuple[int, ...], facts: Known) -> None:
        if isinstance(insn, Exit):
            if stack:
                self.moves = True
                self.out(depth, "_, r6, r7, r8, r9, r10 = frames.pop()", *FRAME_CHANGED)
                self.goto(stack[-1], depth, path, stack[:-1],
                          facts.returned())
                return
            self.out(depth, f"if len(frames) == base: vm.stopped = True; pc = {pc}; "
                            f"return {DONE}",
                     "pc, r6, r7, r8, r9, r10 = frames.pop()", *FRAME_CHANGED,
                     f"return {NEXT}")
            return
        if isinstance(insn, CallLocal):
            self.push(pc, depth)
            callee = Known()
            callee.covered = facts.covered
            self.goto(pc + 1 + insn.offset, depth, path, (*stack, pc + 1), callee)
            return
        if isinstance(insn, Ja):
            self.goto(pc + 1 + insn.offset, depth, path, stack, facts)
            return
        assert isinstance(insn, Jump)
        target = pc + 1 + insn.offset
        if target == pc + 1:
            self.goto(target, depth, path, stack, facts)
            return
        taken, fallen = facts.copy(), facts.copy()
        _narrow(insn, taken, fallen)
        self.out(depth, f"if {_condition(insn, facts)}:")
        self.goto(target, depth + 1, path, stack, taken)
        self.goto(pc + 1, depth, path, stack, fallen)


_RELATION: Final = {
    JmpCond.EQ: "==", JmpCond.NE: "!=", JmpCond.GT: ">", JmpCond.GE: ">=", JmpCond.LT: "<",
    JmpCond.LE: "<=", JmpCond.SGT: ">", JmpCond.SGE: ">=", JmpCond.SLT: "<", JmpCond.SLE: "<=",
}
_SIGNED: Final = frozenset({JmpCond.SGT, JmpCond.SGE, JmpCond.SLT, JmpCond.SLE})


def _condition(insn: Jump, facts: Known) -> str:
    width = M64 if insn.is64 else M32

    def side(reg: int) -> str:
        if bounds_of(facts, reg)[1] <= width:
            return f"r{reg}"
        return f"(r{reg} & {width})"

    sign = 0
    if insn.cond in _SIGNED:
        sign = alu.SIGN64 if insn.is64 else alu.SIGN32
    flip = f" ^ {sign}" if sign else ""
    a = f"({side(insn.dst)}{flip})" if sign else side(insn.dst)
    if isinstance(insn.src, Reg):
        b = f"({side(insn.src.index)}{flip})" if sign else side(insn.src.index)
    else:
        b = str(alu.immediate(insn.src.value, insn.is64) ^ sign)
    if insn.cond is JmpCond.SET:
        return f"{a} & {b}"
    return f"{a} {_RELATION[insn.cond]} {b}"


def _narrow(insn: Jump, taken: Known, fallen: Known) -> None:
    """Record what a 64-bit unsigned comparison with a constant says on each side."""
    if not insn.is64 or not isinstance(insn.src, Imm):
        return
    k = alu.immediate(insn.src.value, True)
    lo, hi = bounds_of(taken, insn.dst)
    narrowed: dict[JmpCond, tuple[tuple[int, int], tuple[int, int]]] = {
        JmpCond.EQ: ((k, k), (lo, hi)),
        JmpCond.NE: ((lo, hi), (k, k)),
        JmpCond.GT: ((max(lo, k + 1), hi), (lo, min(hi, k))),
        JmpCond.GE: ((max(lo, k), hi), (lo, min(hi, k - 1) if k else hi)),
        JmpCond.LT: ((lo, min(hi, k - 1) if k else hi), (max(lo, k), hi)),
        JmpCond.LE: ((lo, min(hi, k)), (max(lo, k + 1), hi)),
    }
    if insn.cond not in narrowed:
        return
    yes, no = narrowed[insn.cond]
    for facts, (a, b) in ((taken, yes), (fallen, no)):
        if a <= b:
            facts.narrow(insn.dst, (a, b))
    if insn.cond is JmpCond.NE and k == 0 and lo == 0:
        taken.narrow(insn.dst, (1, hi))
