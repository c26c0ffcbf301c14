"""Hypothesis strategies for programs the Linux verifier accepts (socket filters, root).

Every program has the shape ``prologue; items...; exit``:

* the prologue writes every register r0..r9 (``mov`` or ``lddw``) and the 64 bytes of stack
  below r10, so nothing reads an uninitialised register or stack slot;
* items are ALU64/ALU32 operations (division and modulo by registers that may be zero
  included), negation, sign-extending moves, byte swaps, aligned stack stores, loads
  (sign-extending ones too) and atomics, forward conditional skips (JMP and JMP32),
  if/else diamonds joined by ``ja``/``gotol``, and counted loops;
* a loop is ``r9 = N; body; r9 -= 1; if r9 != 0 goto body`` (or an up-counting JMP32 form)
  with ``1 <= N <= MAX_TRIP`` and a body that never writes r9 and jumps only forward inside
  itself. Conditions inside a loop body test only the counter r9 against an immediate: the
  verifier walks every iteration, and a branch on a value it cannot know (a loaded, divided
  or swapped one) doubles the paths per iteration until it gives up with "BPF program is too
  large" after a million instructions (observed on 6.18 with such generated programs).

The shapes avoid, by construction, what the verifier rightly refuses: an immediate divisor of
zero, an immediate shift count of at least the width, a write to r10, a misaligned stack
access (stack alignment is always strict), an unreachable instruction, an unbounded loop.
All jumps land at or before the final ``exit``, so :func:`finish` may put ``r0 >>= 32`` just
before it to expose the high half of r0 through the 32-bit socket-filter return value.
"""

from __future__ import annotations

from hypothesis import strategies as st

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Endian,
    EndianOp,
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
    Program,
    Pseudo,
    Reg,
    Store,
    slot_count,
)

#: Largest loop trip count generated.
MAX_TRIP = 50
#: Bytes of stack the prologue initialises (r10 - STACK_BYTES .. r10 - 1).
STACK_BYTES = 64
LOOP_COUNTER = 9

_DIVISIONS = (AluOp.DIV, AluOp.SDIV, AluOp.MOD, AluOp.SMOD)
_SHIFTS = (AluOp.LSH, AluOp.RSH, AluOp.ARSH)
_INTERESTING_32 = (0, 1, -1, 2, 3, 7, 31, 32, 63, 64, 0x7FFFFFFF, -0x80000000, 0xFFFF,
                   -0x8000, 0x80, -0x80)
_INTERESTING_64 = (0, 1, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF,
                   0xFFFFFFFF, 0x80000000, 0x100000000, 0xFFFFFFFF80000000)

imm32 = st.one_of(st.sampled_from(_INTERESTING_32), st.integers(-0x80000000, 0x7FFFFFFF))
imm64 = st.one_of(st.sampled_from(_INTERESTING_64), st.integers(0, 2**64 - 1))


def _lddw(dst: int, value: int) -> LoadImm64:
    low, high = value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF
    signed = [v - (1 << 32) if v & 0x80000000 else v for v in (low, high)]
    return LoadImm64(dst, Pseudo.IMM64, signed[0], signed[1])


@st.composite
def _init_register(draw: st.DrawFn, dst: int) -> Instruction:
    if draw(st.booleans()):
        return Alu(AluOp.MOV, dst, Imm(draw(imm32)), draw(st.booleans()))
    return _lddw(dst, draw(imm64))


@st.composite
def prologue(draw: st.DrawFn) -> list[Instruction]:
    """Write r0..r9 and the STACK_BYTES bytes below r10 (with 8-byte stores)."""
    insns = [draw(_init_register(r)) for r in range(10)]
    for slot in range(STACK_BYTES // 8):
        offset = -8 * (slot + 1)
        if draw(st.booleans()):
            insns.append(Store(8, 10, offset, Reg(draw(st.integers(0, 9)))))
        else:
            insns.append(Store(8, 10, offset, Imm(draw(imm32))))
    return insns


@st.composite
def alu(draw: st.DrawFn, writable: int) -> Instruction:
    """One ALU64/ALU32 binary operation with a verifier-legal immediate."""
    op = draw(st.sampled_from(list(AluOp)))
    is64 = draw(st.booleans())
    dst = draw(st.integers(0, writable))
    if draw(st.booleans()):
        return Alu(op, dst, Reg(draw(st.integers(0, 9))), is64)
    if op in _DIVISIONS:
        value = draw(imm32.filter(lambda v: v != 0))
    elif op in _SHIFTS:
        value = draw(st.integers(0, 63 if is64 else 31))
    else:
        value = draw(imm32)
    return Alu(op, dst, Imm(value), is64)


@st.composite
def unary(draw: st.DrawFn, writable: int) -> Instruction:
    """Negation, sign-extending move or byte-order conversion."""
    dst = draw(st.integers(0, writable))
    kind = draw(st.sampled_from(("neg", "movsx", "endian")))
    if kind == "neg":
        return Neg(dst, draw(st.booleans()))
    if kind == "movsx":
        is64 = draw(st.booleans())
        bits = draw(st.sampled_from((8, 16, 32) if is64 else (8, 16)))
        return MovSx(dst, draw(st.integers(0, 9)), bits, is64)
    return Endian(draw(st.sampled_from(list(EndianOp))), dst, draw(st.sampled_from((16, 32, 64))))


@st.composite
def stack_offset(draw: st.DrawFn, size: int) -> int:
    """An offset from r10 inside the initialised area, aligned to ``size``."""
    return -size * draw(st.integers(1, STACK_BYTES // size))


@st.composite
def memory(draw: st.DrawFn, writable: int) -> Instruction:
    """An aligned stack store, load (maybe sign-extending) or atomic operation."""
    kind = draw(st.sampled_from(("store", "store_imm", "load", "atomic")))
    size = draw(st.sampled_from((1, 2, 4, 8) if kind != "atomic" else (4, 8)))
    offset = draw(stack_offset(size))
    if kind == "store":
        return Store(size, 10, offset, Reg(draw(st.integers(0, 9))))
    if kind == "store_imm":
        return Store(size, 10, offset, Imm(draw(imm32)))
    dst = draw(st.integers(0, writable))
    if kind == "load":
        return Load(size, dst, 10, offset, signed=size != 8 and draw(st.booleans()))
    op = draw(st.sampled_from(list(AtomicOp)))
    fetch = op in (AtomicOp.XCHG, AtomicOp.CMPXCHG) or draw(st.booleans())
    return Atomic(op, size, 10, dst, offset, fetch)


def _simple(writable: int) -> st.SearchStrategy[Instruction]:
    return st.one_of(alu(writable), alu(writable), unary(writable), memory(writable))


def _slots(items: list[Instruction]) -> int:
    return sum(slot_count(i) for i in items)


@st.composite
def condition(draw: st.DrawFn, offset: int, guard: int | None = None) -> Jump:
    """A conditional jump (JMP or JMP32) with the given offset.

    Without ``guard`` it compares any register with a register or an immediate; with it, it
    compares register ``guard`` with an immediate (see the loop note in the module doc).
    """
    cond = draw(st.sampled_from(list(JmpCond)))
    is64 = draw(st.booleans())
    if guard is not None:
        value = draw(st.one_of(st.integers(-2, MAX_TRIP + 2), imm32))
        return Jump(cond, guard, Imm(value), offset, is64)
    src: Reg | Imm = Reg(draw(st.integers(0, 9))) if draw(st.booleans()) else Imm(draw(imm32))
    return Jump(cond, draw(st.integers(0, 9)), src, offset, is64)


@st.composite
def block(draw: st.DrawFn, writable: int, max_items: int,
          guard: int | None = None) -> list[Instruction]:
    """Straight-line items with forward skips and if/else diamonds that stay inside.

    ``guard`` restricts every condition to that register (loop bodies pass the counter).
    """
    result: list[Instruction] = []
    for _ in range(draw(st.integers(1, max_items))):
        shape = draw(st.sampled_from(("op", "op", "op", "skip", "diamond")))
        if shape == "op":
            result.append(draw(_simple(writable)))
        elif shape == "skip":
            skipped = draw(st.lists(_simple(writable), min_size=0, max_size=3))
            result += [draw(condition(_slots(skipped), guard)), *skipped]
        else:
            then = draw(st.lists(_simple(writable), min_size=1, max_size=3))
            other = draw(st.lists(_simple(writable), min_size=1, max_size=3))
            join = Ja(_slots(then), long=draw(st.booleans()))
            result += [draw(condition(_slots(other) + 1, guard)), *other, join, *then]
    return result


@st.composite
def counted_loop(draw: st.DrawFn, max_items: int = 6) -> list[Instruction]:
    """A loop with a constant trip count in 1..MAX_TRIP whose body leaves r9 alone."""
    trips = draw(st.integers(1, MAX_TRIP))
    body = draw(block(LOOP_COUNTER - 1, max_items, LOOP_COUNTER))
    if draw(st.booleans()):
        head = Alu(AluOp.MOV, LOOP_COUNTER, Imm(trips), True)
        step = Alu(AluOp.SUB, LOOP_COUNTER, Imm(1), True)
        back = Jump(JmpCond.NE, LOOP_COUNTER, Imm(0), -(_slots(body) + 2), True)
    else:
        head = Alu(AluOp.MOV, LOOP_COUNTER, Imm(0), False)
        step = Alu(AluOp.ADD, LOOP_COUNTER, Imm(1), False)
        back = Jump(JmpCond.LT, LOOP_COUNTER, Imm(trips), -(_slots(body) + 2), False)
    return [head, *body, step, back]


@st.composite
def straight_line_programs(draw: st.DrawFn, max_items: int = 24) -> list[Instruction]:
    """A program body (no ``exit``) of forward-only code."""
    return draw(prologue()) + draw(block(9, max_items))


@st.composite
def looping_programs(draw: st.DrawFn, max_loops: int = 2) -> list[Instruction]:
    """A program body (no ``exit``) with one or more counted loops between blocks."""
    result = draw(prologue())
    for _ in range(draw(st.integers(1, max_loops))):
        if draw(st.booleans()):
            result += draw(block(9, 6))
        result += draw(counted_loop())
    if draw(st.booleans()):
        result += draw(block(9, 6))
    return result


def finish(body: list[Instruction], *, high_half: bool = False) -> Program:
    """Append ``exit`` (after ``r0 >>= 32`` when ``high_half``) and lay out the program."""
    tail: list[Instruction] = [Alu(AluOp.RSH, 0, Imm(32), True)] if high_half else []
    return Program.from_instructions([*body, *tail, Exit()])
