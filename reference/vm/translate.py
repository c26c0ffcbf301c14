"""
Translation
===========

Turns the code reachable from one entry pc into one Python function, a *unit*, for the fast
engine (:mod:`arspec.reference.vm.fastpath`). A unit keeps r0-r10 in local variables and runs
until control leaves the code it holds; it returns a status and leaves the machine (registers,
pc, counters) exactly as the interpreter would at that point.

How code is laid out:

* A *block* is a straight run of at most :data:`MAX_BLOCK` instructions from a start pc,
  ending at a jump, a call, ``exit``, or an instruction the unit hands to the interpreter's
  own handler. Blocks that follow each other unconditionally (a helper call included) form a
  *segment*, charged in one step on entry; when it does not fit in the budget left, the unit
  returns :data:`BUDGET` before running it, so the interpreter meets the limit on the same
  pc. A fault inside a segment takes back the count of the instructions after the faulting
  one (a pc occurs at most once per segment). The segments do not look at the budget: the
  loop head, and the code after each helper or handler (which may charge units), check that
  a whole turn (at most the unit's size) fits, and hand the rest to the interpreter when it
  does not.
* Segments are emitted along paths from the entry: a jump back to the entry is a
  ``continue`` of the unit's loop, a bpf-to-bpf call continues into the callee and its
  ``exit`` straight back to the return pc, and both arms of a conditional jump are emitted
  in place. A target already on the path (an inner loop) or past the :data:`MAX_UNIT`
  instructions a unit may hold ends the unit with :data:`NEXT` and the driver continues
  there.
* 64-bit arithmetic wraps with compare-and-subtract instead of a mask, and not at all when
  the bounds known along the path (constants, masks, loads, zero-extended 32-bit results,
  the outcome of a comparison with a constant) prove that the result stays in range. When
  bounds hold on every jump back to the entry, a second copy of the loop starts with them
  (the first copy breaks into it), so loop counters lose their checks too.
* Every memory access site caches the last region it touched (its bytes, base and room;
  sites addressing through r10 start with the stack region); an access inside it is a plain
  ``bytearray`` index or ``struct`` call, anything else takes
  :meth:`~arspec.reference.vm.memory.Memory.load`/``store`` (which fault exactly as the
  interpreter does) and refills the cache. A load of the place a store on the same path
  wrote (same base register, unchanged, same offset, no wider) reads the stored value.
* An address that is a register the unit never writes plus a bounded offset (``mov``,
  ``add`` and ``sub`` of constants and of registers with known bounds: ``r6 + (r7 & 120)``)
  needs no site: one *window* per such register, taken at entry and after every helper or
  handler (:func:`hoist_windows`), holds every address the unit's accesses through it may
  reach, or the unit's twin without windows runs (:meth:`Translator.build`); an access is
  then one index, of a typed ``memoryview`` when its addresses keep one residue modulo
  its size, and the adds that form the address need no wrap check.
* A unit that does not move r10 keeps the stack slots it addresses through r10 in one shape
  only in locals ``v<k>`` (:func:`promotable`): read at entry, written back before helpers
  and handlers (read again after) and in the ``finally`` of every way out. Its other sites
  never cache a window that holds a slot: such a miss stops the unit before the access and
  demotes it to its plain translation for good (:func:`overlaps`). A slot outside r10's
  frame at entry runs the plain translation too.
* Helper calls call the helper function directly, looked up by the site on its first call in a
  unit run (:func:`fast_helper`); unknown or refused helpers go through :func:`call_helper`.
  A light or metered helper (:attr:`HelperSpec.light
  <arspec.reference.vm.helpers.HelperSpec.light>`) is called with registers left in locals;
  its counters too when it charges nothing, else they go to the machine first, which
  charges its cost (and what a metered one charges itself) and faults as the interpreter
  does. Map forms of ``lddw`` ask the machine's pseudo resolver
  in place. Kfuncs, ``callx``, atomics, legacy packet loads and invalid instructions run
  the interpreter's own handler in place. Before every other helper and every handler the
  counters and the registers the unit may write are flushed to the machine; region caches
  are dropped after each. When a helper or handler leaves the machine
  :attr:`~arspec.reference.vm.vm.Vm.guarded` (a lock taken, a ring dynptr made), the unit
  returns :data:`BUDGET` and the interpreter runs on. A region holding a guarded range has
  no window (:meth:`Memory.window <arspec.reference.vm.memory.Memory.window>`), so its sites
  always take ``Memory.load``/``store``.
* A bpf-to-bpf call moves r10 and limits the depth as
  :meth:`~arspec.reference.vm.vm.Vm.push_frame` does: both are read off the interpreter
  (:func:`probe`), not restated here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Call,
    CallLocal,
    Endian,
    EndianOp,
    Exit,
    Instruction,
    Ja,
    Jump,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Program,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.vm import alu
from arspec.reference.vm.helpers import HelperContext, HelperFunction
from arspec.reference.vm.machine import (
    Frame,
    Machine,
    call_depth_fault,
    enter_frame,
    instruction_problem,
)
from arspec.reference.vm.memory import FORMATS, Memory
from arspec.reference.vm.profiles import STACK_BASE, Profile
from arspec.reference.vm.translate_exits import (
    DEEP,
    DROP,
    FULL,
    LIGHT_CHARGED,
    LIGHT_FREE,
    MAX_CAP,
    MAX_UNIT,
    REDEEP,
    REGS,
    REHOIST,
    SYNC,
    TURN,
    UNRESOLVED,
    FrameRule,
    SegmentExits,
)
from arspec.reference.vm.translate_insn import (
    BUDGET,
    DONE,
    M64,
    NEXT,
    Known,
)
from arspec.spec.errors import CallDepthExceeded, ExecutionFault
from arspec.spec.spinlock import HeldLock

__all__ = [
    "BUDGET", "DONE", "FULL", "LIGHT_CHARGED", "LIGHT_FREE", "MAX_BLOCK", "MAX_CAP",
    "MAX_NEST", "MAX_UNIT", "NEXT", "UNRESOLVED", "Block", "Code", "FrameRule", "Translator",
    "Unit", "call_helper", "fast_helper", "hoist_windows", "overlaps", "probe", "promotable",
    "pseudo_value", "refill", "slow_load", "slow_store",
]

#: Most instructions in one block.
MAX_BLOCK: Final = 64
#: Deepest nesting of emitted conditional arms.
MAX_NEST: Final = 40

Unit = Callable[[Machine], int]

# How one instruction is translated.
_INLINE: Final = 0      # straight-line code
_TERMINATOR: Final = 1  # jump, ja, local call, exit
_HANDLER: Final = 2     # the interpreter's handler, in place


@dataclass(frozen=True)
class Block:
    """A straight run of instructions: their pcs, how the last one ends, and the next pc."""

    start: int
    pcs: tuple[int, ...]
    last_kind: int
    next_pc: int


def refill(vm: Machine, ran: int) -> int:
    """Charge ``ran`` instructions to ``vm``; return how many more fit in its budget (at
    most :data:`MAX_CAP`)."""
    cost = vm.profile.insn_cost
    vm.instructions += ran
    vm.units += ran * cost
    if not cost:
        return MAX_CAP
    return min((vm.compute_limit - vm.units) // cost, MAX_CAP)


def call_helper(vm: Machine, pc: int, imm: int, r1: int, r2: int, r3: int, r4: int,
                r5: int) -> int:
    """Call the helper ``call imm`` at ``pc`` reaches and return r0, as the interpreter's
    handler does; a call that faults (unknown or refused helper) or is traced runs that
    handler itself, so the fault is the interpreter's."""
    helper = vm.helpers.lookup(imm, vm.profile)
    if (helper is None or vm.tracer is not None
            or (not helper.deterministic and vm.profile.name == "solana")):
        handler, insn = vm._ops[pc]
        handler(vm, insn)
        return vm.regs[0]
    if helper.cost:
        vm.consume(helper.cost, pc)
    return helper.fn(HelperContext(vm.memory, pc, vm.profile, vm), r1, r2, r3, r4, r5) & M64


def fast_helper(vm: Machine, pc: int, imm: int
                ) -> tuple[HelperFunction, int, HelperContext, int]:
    """Resolve the helper ``call imm`` at ``pc`` reaches, on the site's first call in a unit
    run: its function, its cost, its context and the site's kind (:data:`LIGHT_FREE`,
    :data:`LIGHT_CHARGED` or :data:`FULL`). An unknown or refused helper, or a tracer,
    gets :func:`call_helper` (which runs the interpreter's handler) at no extra cost, and
    is :data:`FULL`."""
    context = HelperContext(vm.memory, pc, vm.profile, vm)
    helper = vm.helpers.lookup(imm, vm.profile)
    if (helper is None or vm.tracer is not None
            or (not helper.deterministic and vm.profile.name == "solana")):
        def handled(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
            return call_helper(vm, pc, imm, r1, r2, r3, r4, r5)
        return handled, 0, context, FULL
    if not (helper.light or helper.metered):
        return helper.fn, helper.cost, context, FULL
    charged = helper.cost or helper.metered
    return helper.fn, helper.cost, context, LIGHT_CHARGED if charged else LIGHT_FREE


def pseudo_value(vm: Machine, pc: int, insn: LoadImm64) -> int:
    """Return the value of a map form of ``lddw`` from the machine's pseudo resolver; without
    one, run the interpreter's handler, which faults."""
    resolver = vm.pseudo_resolver
    if resolver is None:
        vm.pc = pc
        handler, _ = vm._ops[pc]
        handler(vm, insn)
        raise AssertionError(f"lddw at pc {pc} resolved without a resolver")
    return resolver(pc, insn) & M64


def slow_load(memory: Memory, pc: int, address: int, size: int,
              offset: int) -> tuple[int, int, bytearray | memoryview, int]:
    """Load through :class:`Memory` (faulting as the interpreter does); return the value and
    the new cache of the site: region base minus the site's offset, bytes and room."""
    value = memory.load(pc, address, size)
    base, data = memory.window(address)
    return value, base - offset, data, len(data) - size


def slow_store(memory: Memory, pc: int, address: int, size: int, value: int,
               offset: int) -> tuple[int, bytearray | memoryview, int]:
    """Store through :class:`Memory`; return the site's new cache (see :func:`slow_load`)."""
    memory.store(pc, address, size, value)
    base, data = memory.window(address, write=True)
    return base - offset, data, len(data) - size


#: ``memoryview.cast`` formats by access size (native order: see ``translate_insn.VIEWS``).
_VIEW_FORMATS: Final[dict[int, Literal["H", "I", "Q"]]] = {2: "H", 4: "I", 8: "Q"}
Window = tuple[int, int, int, int, int, bool, tuple[tuple[int, int], ...]]


def hoist_windows(memory: Memory, ranges: tuple[Window, ...], low_slot: int,
                  high_slot: int) -> tuple[int | bytearray | memoryview, ...] | None:
    """Return, for each ``(value, low, high, least, greatest, write, views)`` of
    ``ranges``, the base and bytes of the window (see :meth:`Memory.window`) holding every
    address from ``value + low`` up to ``value + high``, where no register offset from
    ``least`` to ``greatest`` wraps around 2**64 and no promoted slot (``low_slot`` to
    ``high_slot``) lies; then, for each ``(size, phase)`` of ``views``, the address of the
    first element and a view of the window as unsigned integers of ``size`` bytes whose
    elements start at addresses ``value + phase`` modulo ``size``. ``None`` when a window
    does not hold: the unit's twin without them runs instead."""
    found: list[int | bytearray | memoryview] = []
    for value, low, high, least, greatest, write, views in ranges:
        start, end = value + low, value + high
        if value + least < 0 or value + greatest > M64 or start < 0:
            return None
        base, data = memory.window(start, write=write)
        if low < high and (start < base or end > base + len(data)
                           or (start < high_slot and low_slot < end)):
            return None
        found += (base, data)
        for size, phase in views:
            first = (value + phase - base) % size
            count = (len(data) - first) // size
            found += (base + first,
                      memoryview(data)[first:first + count * size].cast(_VIEW_FORMATS[size]))
    return tuple(found)


def overlaps(memory: Memory, address: int, low: int, high: int) -> bool:
    """Return whether the window around ``address`` (see :meth:`Memory.window`) overlaps
    ``low`` to ``high``, the stack slots a unit keeps in locals."""
    base, data = memory.window(address)
    return base < high and base + len(data) > low


def promotable(accesses: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Number the r10 slots ``(offset, size)`` a unit may keep in locals: those that no other
    r10 access of the unit overlaps in another shape."""
    chosen: dict[tuple[int, int], int] = {}
    for offset, size in sorted(accesses):
        if all(other == (offset, size) or other[0] + other[1] <= offset
               or offset + size <= other[0] for other in accesses):
            chosen[(offset, size)] = len(chosen)
    return chosen


@dataclass
class _FrameProbe:
    """A bare call stack to run :func:`~arspec.reference.vm.machine.enter_frame` on."""

    profile: Profile
    memory: Memory
    regs: list[int]
    pc: int
    frames: list[Frame]
    held_lock: HeldLock | None


@functools.cache
def probe(profile: Profile) -> FrameRule:
    """Return how ``call`` moves r10 and how many frames may be saved, as the interpreter's
    :meth:`~arspec.reference.vm.vm.Vm.push_frame` does it under ``profile``."""
    stack = _FrameProbe(profile, Memory(), [0] * 11, 0, [], None)
    stack.regs[10] = STACK_BASE + profile.stack_frame_size
    enter_frame(stack, 0, 0)
    step = stack.regs[10] - STACK_BASE - profile.stack_frame_size
    try:
        while len(stack.frames) < 1 << 16:
            enter_frame(stack, 0, 0)
    except CallDepthExceeded:
        pass
    return FrameRule(step, len(stack.frames))


class Code:
    """What a program's units share: its blocks and the counts to take back on a fault."""

    def __init__(self, program: Program, profile: Profile) -> None:
        self.program = program
        self.profile = profile
        self.slots = program.slots
        self.problem = instruction_problem
        self.blocks: dict[int, Block] = {}
        #: segment -> pc in it -> instructions of the segment after that pc.
        self.after: dict[int, dict[int, int]] = {}
        self.frames = probe(profile)

    def is_instruction(self, pc: int) -> bool:
        """Return whether an instruction starts at ``pc``."""
        return 0 <= pc < len(self.slots) and self.slots[pc] is not None

    def kind(self, pc: int, insn: Instruction) -> int:
        """Return how ``insn`` at ``pc`` is translated."""
        if self.problem(insn) is not None:
            return _HANDLER
        if isinstance(insn, Jump | Ja | CallLocal):
            target = pc + 1 + insn.offset
            return _TERMINATOR if self.is_instruction(target) else _HANDLER
        if isinstance(insn, Exit):
            return _TERMINATOR
        if isinstance(insn, LoadImm64):
            return _INLINE
        if isinstance(insn, Alu | Neg | MovSx | Endian | Load | Store):
            return _INLINE
        return _HANDLER

    def block(self, start: int) -> Block:
        """Return the block that starts at ``start`` (an instruction)."""
        found = self.blocks.get(start)
        if found is not None:
            return found
        pcs: list[int] = []
        pc, kind = start, _INLINE
        while True:
            insn = self.slots[pc]
            assert insn is not None
            kind = self.kind(pc, insn)
            pcs.append(pc)
            pc += 2 if isinstance(insn, LoadImm64) else 1
            if kind != _INLINE or len(pcs) >= MAX_BLOCK or not self.is_instruction(pc):
                break
        block = Block(start, tuple(pcs), kind, pc)
        self.blocks[start] = block
        return block

    def new_segment(self, pcs: list[int]) -> int:
        """Number a segment (blocks charged together) and record its fault take-backs."""
        number = len(self.after)
        self.after[number] = {p: len(pcs) - i for i, p in enumerate(pcs, 1)}
        return number

    def light_calls(self, chain: list[tuple[Block, tuple[int, ...]]]) -> set[int]:
        """Return the chain positions of calls (and their exits) that need no frame: the
        callee returns within the chain, and no instruction of it may fault, run a handler,
        call, or use r6-r10."""
        slots = self.slots
        light: set[int] = set()
        for number, (block, stack) in enumerate(chain[:-1]):
            if not isinstance(slots[block.pcs[-1]], CallLocal) or block.last_kind != _TERMINATOR:
                continue
            inner = len(stack) + 1
            for later in range(number + 1, len(chain)):
                callee, callee_stack = chain[later]
                if len(callee_stack) < inner or not all(
                        _pure(slots[p], p == callee.pcs[-1]) for p in callee.pcs):
                    break
                if len(callee_stack) == inner and isinstance(slots[callee.pcs[-1]], Exit):
                    light.update((number, later))
                    break
        return light


_PURE_ALU: Final = frozenset({AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.AND, AluOp.OR, AluOp.XOR,
                              AluOp.MOV, AluOp.RSH, AluOp.LSH})


def _pure(insn: Instruction | None, last: bool) -> bool:
    """Return whether ``insn`` cannot fault and leaves r6-r10 alone (``exit`` only last)."""
    if isinstance(insn, Exit):
        return last
    if isinstance(insn, Ja):
        return last
    if isinstance(insn, Alu):
        source = insn.src.index if isinstance(insn.src, Reg) else 0
        return insn.op in _PURE_ALU and insn.dst < 6 and source < 6
    if isinstance(insn, Neg | Endian):
        return insn.dst < 6
    if isinstance(insn, MovSx):
        return insn.dst < 6 and insn.src < 6
    if isinstance(insn, LoadImm64):
        return insn.pseudo in (Pseudo.IMM64, Pseudo.CODE_ADDR) and insn.dst < 6
    return False


def _join(paths: list[Known]) -> Known | None:
    """Return the register bounds that hold on every one of ``paths`` (``None`` if none)."""
    if not paths:
        return None
    joined = Known()
    for reg, (lo, hi) in paths[0].bounds.items():
        for other in paths[1:]:
            if reg not in other.bounds:
                break
            olo, ohi = other.bounds[reg]
            lo, hi = min(lo, olo), max(hi, ohi)
        else:
            if (lo, hi) != (0, M64):
                joined.bounds[reg] = (lo, hi)
    return joined


class Translator(SegmentExits):
    """Emits the source of the unit entered at ``entry``."""

    def __init__(self, code: Code, entry: int,
                 promote: dict[tuple[int, int], int] | None = None,
                 invariant: frozenset[int] = frozenset(),
                 light: Callable[[int], bool] | None = None) -> None:
        super().__init__(code.profile, promote or {}, invariant, code.frames, light)
        self.code = code
        #: Whether the unit has frameless calls: in a unit that does not move r10 their depth
        #: test is a local ``deep``, set at entry and after every helper or handler.
        self.deep = False
        self.entry = entry
        self.emitted = 0
        #: What holds at the entry of the second (specialised) loop, once known.
        self.head: Known | None = None
        #: The ``continue`` lines of the first loop and what holds at each.
        self.back_edges: list[tuple[int, Known]] = []

    # ------------------------------------------------------------------ driver

    def source(self) -> str:
        """Return the unit's Python source (a function called ``unit``)."""
        self.loops()
        cost = self.profile.insn_cost
        depth_test = f"len(frames) >= {self.code.frames.max_saved}"
        deep = depth_test if self.moves else "deep"
        caches = [f"c{k}" for k in range(self.sites)]
        head = [
            "def unit(vm):",
            "    regs = vm.regs",
            f"    {REGS} = regs",
            "    frames = vm.frames",
            "    base = vm.base_depth",
            "    memory = vm.memory",
            "    ops = vm._ops",
            "    cap = REFILL(vm, 0)",
            "    n = 0",
            f"    pc = {self.entry}",
            "    s = -1",
            "    live = True",
        ]
        if caches:
            head += ["    " + " = ".join(f"{c}b" for c in caches) + " = 0",
                     "    " + " = ".join(f"{c}d" for c in caches) + " = EMPTY",
                     "    " + " = ".join(f"{c}l" for c in caches) + " = -1",
                     *self.stack_caches("    ")]
        if self.helper_sites:
            head.append("    " + " = ".join(f"{h}k" for h, _, _ in self.helper_sites)
                        + f" = {UNRESOLVED}")
        if self.deep and not self.moves:
            head.append(f"    deep = {depth_test}")
        head += self.promote_prologue()
        if self.hoisted:
            head += ["    " + line for line in self.hoist_lines("return UNHOISTED(vm)")]
        tail = [
            "    except ExecutionFault as fault:",
            "        if live:",
            "            n -= AFTER[s][fault.pc]",
            "            pc = fault.pc",
            "        raise",
            "    finally:",
            "        if live:",
            f"            regs[:] = ({REGS})",
            "            vm.pc = pc",
            *("            " + line for line in self.flush()),
            "        vm.instructions += n",
            f"        vm.units += n * {cost}" if cost != 1 else "        vm.units += n",
        ]
        # Every site of the unit forgets its region after a handler, including sites that
        # come later in the text but run again after the handler on the next turn.
        drop = " = ".join(f"c{k}l" for k in range(self.sites)) + " = -1" if caches else "pass"
        body: list[str] = []
        # Only the registers this unit may have written differ from ``vm.regs``: the rest hold
        # the values read at entry, or read back after a handler.
        written = self.written | {0} | (set(range(6, 11)) if self.moves else set())
        sync = "; ".join(f"regs[{k}] = r{k}" for k in sorted(written))
        for line in self.lines:
            if DROP in line:
                indent = line[:len(line) - len(line.lstrip())]
                body += [indent + drop, *self.stack_caches(indent)]
            elif SYNC in line:
                body.append(line.replace(SYNC, sync))
            elif TURN in line:
                body.append(line.replace(TURN, str(self.emitted)))
            elif DEEP in line:
                body.append(line.replace(DEEP, deep))
            elif REDEEP in line:
                if self.deep and not self.moves:
                    body.append(line.replace(REDEEP, f"deep = {depth_test}"))
            elif REHOIST in line:
                if self.hoisted:
                    indent, _, resume = line.partition(REHOIST)
                    body += [indent + hoisted for hoisted in
                             self.hoist_lines(f"pc = {resume.strip()}; return {NEXT}")]
            else:
                body.append(line)
        return "\n".join([*head, "    try:", *body, *tail])

    def build(self) -> Unit:
        """Return the compiled unit: with the stack slots it may keep in locals when it
        does not move r10, else plain; and, when accesses address registers it never
        writes plus bounded offsets, a twin that checks their windows once per run
        (falling back to the unit without it when they do not hold)."""
        source = self.source()
        if self.moves or self.promote:
            return self.compile(source, None)
        slots = promotable(self.r10_accesses)
        promoted = Translator(self.code, self.entry, slots, light=self.light) if slots else None
        promoted_source = promoted.source() if promoted is not None else ""
        if promoted is not None and promoted.moves:
            promoted = None
        demoted: list[bool] | None = None
        if promoted is None:
            unit = self.compile(source, None)
            plain_unit = unit
        else:
            plain: list[Unit] = []

            def fallback(vm: Machine) -> int:
                # The slots are not all inside r10's frame, or another pointer reached them.
                if not plain:
                    plain.append(self.compile(source, None))
                return plain[0](vm)
            plain_unit, demoted = fallback, []
            unit = promoted.compile(promoted_source, fallback, demoted)
        invariant = frozenset(range(1, 11)) - self.written
        if self.clobbers or not invariant or not self.sites or not self.back_edges:
            # No access to hoist (the plain translation has a site for every access), or
            # no jump back to the entry: code that runs once per run does not repay the
            # windows' check.
            return unit
        hoisting = Translator(self.code, self.entry, slots if promoted else None, invariant,
                              self.light)
        hoisted_source = hoisting.source()
        if hoisting.promote and hoisting.slots_in_window():
            # Accesses through r10 plus an offset reach the slots: keep them in memory.
            hoisting = Translator(self.code, self.entry, None, invariant, self.light)
            hoisted_source, demoted = hoisting.source(), None
        if not hoisting.hoisted or hoisting.moves or not hoisting.written <= self.written:
            return unit
        return hoisting.compile(hoisted_source, plain_unit, demoted, unit)

    def compile(self, source: str, fallback: Unit | None,
                demoted: list[bool] | None = None, unhoisted: Unit | None = None) -> Unit:
        """Return the unit ``source`` defines."""
        namespace: dict[str, object] = {
            "PLAIN": fallback, "DEMOTED": demoted, "OVERLAP": overlaps,
            "UNHOISTED": unhoisted, "HOIST": hoist_windows,
            "ExecutionFault": ExecutionFault, "AFTER": self.code.after, "EMPTY": bytearray(),
            "LOAD": slow_load, "STORE": slow_store, "REFILL": refill,
            "PSEUDO": pseudo_value, "HELPER": call_helper,
            "HELPERS": fast_helper, "alu": alu, "AluOp": AluOp,
            "EndianOp": EndianOp, "profile": self.profile, "depth_fault": call_depth_fault,
            **{f"G{size}": fmt.unpack_from for size, fmt in FORMATS.items()},
            **{f"P{size}": fmt.pack_into for size, fmt in FORMATS.items()},
        }
        exec(compile(source, f"<arspec unit {self.entry}>", "exec"), namespace)
        unit: Unit = namespace["unit"]  # type: ignore[assignment]
        return unit


    def loops(self) -> None:
        """Emit the unit's body: a loop from the entry knowing nothing, and, when what holds
        on every jump back to the entry proves bounds, a second loop that starts knowing
        them; the first loop breaks into the second on the jumps back where they hold."""
        self.out(2, "while True:")
        self.emit_block(self.entry, 3, frozenset(), (), self.head_check(Known()))
        head = _join([known for _, known in self.back_edges])
        if head is None or not head.bounds or self.emitted > MAX_UNIT // 2:
            return
        for line, known in self.back_edges:
            if head.holds_in(known):
                self.lines[line] = self.lines[line].replace("continue", "break")
        self.head = head
        self.out(2, "while True:")
        self.emit_block(self.entry, 3, frozenset(), (), self.head_check(head.copy()))

    def head_check(self, facts: Known) -> Known:
        """Emit the budget check at the loop head: every turn runs at most as many
        instructions as the unit holds, so when that many fit, the segments of the turn up
        to the first helper or handler need no check; when they do not, the interpreter runs
        the rest (it meets the limit within that many). Return ``facts``, covered."""
        self.out(3, f"if n + {TURN} > cap:",
                 "    cap = REFILL(vm, n); n = 0",
                 f"    if {TURN} > cap: pc = {self.entry}; return {BUDGET}")
        facts.covered = True
        return facts

    def back(self, depth: int, facts: Known) -> None:
        """Emit a jump back to the entry."""
        if self.head is None:
            self.back_edges.append((len(self.lines), facts.copy()))
            self.out(depth, "continue")
        elif self.head.holds_in(facts):
            self.out(depth, "continue")
        else:
            self.out(depth, f"pc = {self.entry}", f"return {NEXT}")

    # ------------------------------------------------------------------ control

    def goto(self, target: int, depth: int, path: frozenset[int], stack: tuple[int, ...],
             facts: Known) -> None:
        """Emit the code that continues at ``target``."""
        if target == self.entry:
            self.back(depth, facts)
        elif (target in path or self.emitted >= MAX_UNIT or depth > MAX_NEST
              or not self.code.is_instruction(target)):
            self.out(depth, f"pc = {target}", f"return {NEXT}")
        else:
            self.emit_block(target, depth, path, stack, facts)

    def successor(self, block: Block, stack: tuple[int, ...]
                  ) -> tuple[int, tuple[int, ...]] | None:
        """Return where ``block`` always continues (and the static call stack), if it does."""
        last = block.pcs[-1]
        insn = self.code.slots[last]
        if block.last_kind == _INLINE:
            return block.next_pc, stack
        if block.last_kind == _HANDLER:
            # A helper call continues at the next instruction, in the same segment.
            if (isinstance(insn, Call) and self.code.problem(insn) is None
                    and self.code.is_instruction(block.next_pc)):
                return block.next_pc, stack
            return None
        if isinstance(insn, Exit):
            return (stack[-1], stack[:-1]) if stack else None
        if isinstance(insn, CallLocal):
            return last + 1 + insn.offset, (*stack, last + 1)
        if isinstance(insn, Ja) or (isinstance(insn, Jump) and insn.offset == 0):
            return last + 1 + insn.offset, stack
        return None

    def emit_block(self, start: int, depth: int, path: frozenset[int],
                   stack: tuple[int, ...], facts: Known) -> None:
        """Emit a segment: the blocks from ``start`` that follow each other unconditionally,
        charged together, then where the last one goes."""
        chain, path = self.compute_chain(start, path, stack)
        pcs = [p for block, _ in chain for p in block.pcs]
        size = len(pcs)
        segment = self.code.new_segment(pcs)
        self.segment = segment
        facts = facts.copy()
        mark = len(self.lines)
        if facts.covered:
            self.out(depth, f"n += {size}")
        else:
            self.out(depth, f"n += {size}", "if n > cap:",
                     f"    cap = REFILL(vm, n - {size}); n = {size}",
                     f"    if n > cap: n = 0; pc = {start}; return {BUDGET}")
        self.emit_chain(chain, depth, path, facts)
        self.apply_segment_number(mark, depth, segment)

    def compute_chain(self, start: int, path: frozenset[int], stack: tuple[int, ...]
                      ) -> tuple[list[tuple[Block, tuple[int, ...]]], frozenset[int]]:
        """Return the blocks of the segment from ``start`` (each with its call stack) and
        ``path`` with their first pcs; count their instructions as emitted."""
        chain: list[tuple[Block, tuple[int, ...]]] = []
        pc, count = start, self.emitted
        seen: set[int] = set()
        while True:
            block = self.code.block(pc)
            chain.append((block, stack))
            seen.update(block.pcs)
            path = path | {pc}
            count += len(block.pcs)
            following = self.successor(block, stack)
            if following is None:
                break
            pc, stack = following
            # A pc occurs once per segment, so a fault's pc says how far the segment ran.
            if (pc == self.entry or pc in path or count >= MAX_UNIT
                    or not self.code.is_instruction(pc) or pc in seen
                    or not seen.isdisjoint(self.code.block(pc).pcs)):
                break
        self.emitted = count
        return chain, path

    def emit_chain(self, chain: list[tuple[Block, tuple[int, ...]]], depth: int,
                   path: frozenset[int], facts: Known) -> None:
        """Emit the instructions of a segment's blocks and where the last one goes."""
        slots = self.code.slots
        light = self.code.light_calls(chain)
        for number, (block, stack) in enumerate(chain):
            final = number == len(chain) - 1
            for pc in block.pcs[:-1]:
                insn = slots[pc]
                assert insn is not None
                self.wrote(insn)
                self.out(depth, *self.straight(pc, insn, facts))
            last = block.pcs[-1]
            insn = slots[last]
            assert insn is not None
            if block.last_kind == _INLINE:
                self.wrote(insn)
                self.out(depth, *self.straight(last, insn, facts))
                if final:
                    self.goto(block.next_pc, depth, path, stack, facts)
            elif block.last_kind == _HANDLER:
                self.handler(last, insn, block.next_pc, depth, path, stack, facts,
                             None if final else self.code.after[self.segment][last])
            elif final and number in light and isinstance(insn, Exit):
                # The exit of a light call (below) that ends the segment: no frame to pop.
                for reg in range(6, 11):
                    facts.drop(reg)
                self.goto(stack[-1], depth, path, stack[:-1], facts)
            elif final:
                self.terminator(last, insn, depth, path, stack, facts)
            elif number in light:
                # A call whose callee runs to its exit inside this segment, cannot fault
                # and leaves r6-r10 alone: only the depth check is observable.
                if isinstance(insn, CallLocal):
                    self.deep = True
                    self.out(depth, f"if {DEEP}: "
                                    f"raise depth_fault({last}, profile)")
                    facts.reset()
                else:
                    for reg in range(6, 11):
                        facts.drop(reg)
            else:
                self.transfer(last, insn, depth, facts)

    def apply_segment_number(self, mark: int, depth: int, segment: int) -> None:
        """Set ``s`` to the segment's number at ``mark`` when its own lines (up to the next
        segment's ``n +=`` line) may fault, so the fault's counts can be taken back."""
        own = len(self.lines)
        for index in range(mark + 1, len(self.lines)):
            if self.lines[index].lstrip().startswith("n += "):
                own = index
                break
        if any(word in line for line in self.lines[mark:own]
               for word in ("LOAD(", "STORE(", "alu.compute_alu",
                             "depth_fault", "PSEUDO(")):
            self.lines.insert(mark, "    " * depth + f"s = {segment}")
            # The jumps back recorded since ``mark`` moved down a line.
            self.back_edges = [(line + (line >= mark), known)
                               for line, known in self.back_edges]
