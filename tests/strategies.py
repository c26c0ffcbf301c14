"""Hypothesis strategies for instructions and small programs.

``instructions()`` yields every instruction the strict decoder accepts (every type, every
enum member, extreme immediates and offsets) and nothing it rejects. ``programs(max_len=...)``
yields decodable programs: every jump and local call lands on the first slot of an
instruction. Programs are not necessarily verifiable or terminating.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Call,
    CallKfunc,
    CallLocal,
    Callx,
    Endian,
    EndianOp,
    Exit,
    Imm,
    Instruction,
    Ja,
    JmpCond,
    Jump,
    LegacyLoad,
    LegacyMode,
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


def _signed(bits: int) -> st.SearchStrategy[int]:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    edges = st.sampled_from([low, low + 1, -1, 0, 1, 2, high - 1, high])
    return st.one_of(edges, st.integers(-8, 8), st.integers(low, high))


imm32 = _signed(32)
off16 = _signed(16)
any_reg = st.integers(0, 10)
writable_reg = st.integers(0, 9)
sizes = st.sampled_from([1, 2, 4, 8])
operands: st.SearchStrategy[Reg | Imm] = st.one_of(any_reg.map(Reg), imm32.map(Imm))


def _movsx() -> st.SearchStrategy[MovSx]:
    return st.booleans().flatmap(lambda is64: st.builds(
        MovSx, writable_reg, any_reg, st.sampled_from([8, 16, 32] if is64 else [8, 16]),
        st.just(is64)))


def _load() -> st.SearchStrategy[Load]:
    return sizes.flatmap(lambda size: st.builds(
        Load, st.just(size), writable_reg, any_reg, off16,
        st.just(False) if size == 8 else st.booleans()))


def _atomic() -> st.SearchStrategy[Atomic]:
    def build(op: AtomicOp) -> st.SearchStrategy[Atomic]:
        always = op in (AtomicOp.XCHG, AtomicOp.CMPXCHG)
        fetch = st.just(True) if always else st.booleans()
        made = st.builds(Atomic, st.just(op), st.sampled_from([4, 8]), any_reg, any_reg, off16,
                         fetch)
        # A fetching atomic (other than cmpxchg, which loads r0) writes its source register.
        return made.filter(lambda a: not (a.fetch and a.op is not AtomicOp.CMPXCHG
                                          and a.src == 10))
    return st.sampled_from(AtomicOp).flatmap(build)


def _legacy() -> st.SearchStrategy[LegacyLoad]:
    small = st.sampled_from([1, 2, 4])
    return st.one_of(
        st.builds(LegacyLoad, st.just(LegacyMode.ABS), small, st.just(0), imm32),
        st.builds(LegacyLoad, st.just(LegacyMode.IND), small, any_reg, imm32),
    )


def instructions() -> st.SearchStrategy[Instruction]:
    """Return a strategy for any single instruction the strict decoder accepts."""
    return st.one_of(
        st.builds(Alu, st.sampled_from(AluOp), writable_reg, operands, st.booleans()),
        st.builds(Neg, writable_reg, st.booleans()),
        _movsx(),
        st.builds(Endian, st.sampled_from(EndianOp), writable_reg, st.sampled_from([16, 32, 64])),
        _load(),
        st.builds(Store, sizes, any_reg, off16, operands),
        _atomic(),
        st.builds(Jump, st.sampled_from(JmpCond), any_reg, operands, off16, st.booleans()),
        st.builds(Ja, off16, st.just(False)),
        st.builds(Ja, imm32, st.just(True)),
        st.builds(Call, imm32),
        st.builds(CallLocal, imm32),
        st.builds(CallKfunc, imm32, off16),
        st.builds(Callx, any_reg),
        st.just(Exit()),
        st.builds(LoadImm64, writable_reg, st.sampled_from(Pseudo), imm32, imm32),
        _legacy(),
    )


def _retarget(insn: Instruction, offset: int) -> Instruction:
    """Return ``insn`` with its jump offset replaced (non-branches unchanged)."""
    if isinstance(insn, Jump):
        return replace(insn, offset=offset)
    if isinstance(insn, Ja):
        return replace(insn, offset=offset)
    if isinstance(insn, CallLocal):
        return replace(insn, offset=offset)
    return insn


@st.composite
def programs(draw: st.DrawFn, max_len: int = 8) -> Program:
    """Return a strategy for decodable programs of 1..``max_len`` instructions."""
    insns = draw(st.lists(instructions(), min_size=1, max_size=max_len))
    starts: list[int] = []
    pc = 0
    for insn in insns:
        starts.append(pc)
        pc += slot_count(insn)
    fixed: list[Instruction] = []
    for start, insn in zip(starts, insns, strict=True):
        if isinstance(insn, Jump | Ja | CallLocal):
            insn = _retarget(insn, draw(st.sampled_from(starts)) - start - 1)
        fixed.append(insn)
    return Program.from_instructions(fixed)
