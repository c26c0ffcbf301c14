"""The compiled fast path is pinned to the interpreter on generated programs.

Both engines run the same program on the same fresh memory; the result (r0, counters, fault
class, pc and message), the final registers and every byte of memory must be identical,
including when a fault or the compute limit hits in the middle of a block.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import programs

import pytest

from arspec.reference import fastpath
from arspec.reference.helpers import test_helpers
from arspec.reference.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Call,
    CallLocal,
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
)
from arspec.reference.profiles import INPUT_BASE, LINUX, SOLANA, Profile
from arspec.reference.vm import Vm, standard_memory
from arspec.spec.errors import InstructionLimit, MemoryFault

@pytest.fixture(autouse=True)
def translate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Translate every pc on its first arrival, so the generated programs run translated."""
    monkeypatch.setattr(fastpath, "HOT", 1)


INTERESTING = [0, 1, 2, 7, 31, 32, 63, 64, -1, -2, 0x7FFFFFFF, -0x80000000, 255, 4096]


@dataclass(frozen=True)
class Target:
    """A jump placeholder: the index of the instruction it should land on."""

    index: int
    kind: str
    cond: JmpCond
    dst: int
    src: Reg | Imm
    is64: bool


imms = st.sampled_from(INTERESTING) | st.integers(-(1 << 31), (1 << 31) - 1)
regs = st.integers(0, 9)
operands = st.one_of(regs.map(Reg), st.integers(0, 10).map(Reg), imms.map(Imm))
offsets = st.sampled_from([-520, -513, -512, -16, -9, -8, -4, -1, 0, 1, 8, 12, 15, 16])
pointers = st.sampled_from([10, 10, 10, 1])


def _straight() -> st.SearchStrategy[Instruction]:
    return st.one_of(
        st.builds(Alu, st.sampled_from(list(AluOp)), regs, operands, st.booleans()),
        st.builds(Alu, st.sampled_from([AluOp.ADD, AluOp.SUB, AluOp.MOV]), regs, operands,
                  st.booleans()),
        st.builds(Neg, regs, st.booleans()),
        st.builds(MovSx, regs, regs, st.sampled_from([8, 16]), st.booleans()),
        st.builds(Endian, st.sampled_from(list(EndianOp)), regs, st.sampled_from([16, 32, 64])),
        st.builds(Load, st.sampled_from([1, 2, 4, 8]), regs, pointers, offsets, st.booleans()
                  ).map(lambda i: i if i.size < 8 or not i.signed else Load(8, i.dst, i.src,
                                                                            i.offset)),
        st.builds(Store, st.sampled_from([1, 2, 4, 8]), pointers, offsets, operands),
        st.builds(LoadImm64, regs, st.just(Pseudo.IMM64), imms, imms),
        st.builds(Atomic, st.sampled_from(list(AtomicOp)), st.sampled_from([4, 8]), pointers,
                  regs, offsets, st.booleans()).map(
            lambda a: a if a.op not in (AtomicOp.XCHG, AtomicOp.CMPXCHG) else Atomic(
                a.op, a.size, a.dst, a.src, a.offset, True)),
        st.sampled_from([Call(3), Call(7), Call(42), Exit()]),
    )


@st.composite
def generated(draw: st.DrawFn) -> Program:
    count = draw(st.integers(1, 14))
    items: list[Instruction | Target] = []
    for _ in range(count):
        if draw(st.integers(0, 3)) == 0:
            kind = draw(st.sampled_from(["jump", "jump", "ja", "call"]))
            items.append(Target(draw(st.integers(0, count)), kind,
                                draw(st.sampled_from(list(JmpCond))), draw(regs),
                                draw(operands), draw(st.booleans())))
        else:
            items.append(draw(_straight()))
    if draw(st.integers(0, 4)):
        items.append(Exit())
    pcs, pc = [], 0
    for item in items:
        pcs.append(pc)
        pc += 2 if isinstance(item, LoadImm64) else 1
    pcs.append(pc)
    insns: list[Instruction] = []
    for i, item in enumerate(items):
        if not isinstance(item, Target):
            insns.append(item)
            continue
        offset = pcs[min(item.index, len(items))] - pcs[i] - 1
        if item.kind == "ja":
            insns.append(Ja(offset))
        elif item.kind == "call":
            insns.append(CallLocal(offset))
        else:
            insns.append(Jump(item.cond, item.dst, item.src, offset, item.is64))
    return Program.from_instructions(insns)


def outcome(program: Program, profile: Profile, data: bytes, limit: int,
            engine: str) -> tuple[object, ...]:
    memory = standard_memory(program, profile, data)
    vm = Vm(program, profile=profile, helpers=test_helpers(), memory=memory,
            compute_limit=limit, engine=engine)
    result = vm.run(0, (INPUT_BASE, len(data)))
    fault = result.fault
    described = None if fault is None else (type(fault).__name__, fault.pc, str(fault))
    regions = tuple(bytes(memory.region(i << 32)) for i in (2, 4))
    return (result.r0, result.instructions, result.compute_units, described,
            tuple(vm.regs), regions)


def agree(program: Program, profile: Profile, data: bytes, limit: int) -> tuple[object, ...]:
    reference = outcome(program, profile, data, limit, "interpreter")
    fast = outcome(program, profile, data, limit, "fast")
    assert fast == reference, program
    return reference


@settings(max_examples=200, derandomize=True, deadline=None)
@given(generated(), st.sampled_from([LINUX, SOLANA]), st.binary(max_size=24),
       st.integers(0, 400))
def test_fast_path_matches_interpreter(program: Program, profile: Profile, data: bytes,
                                       limit: int) -> None:
    agree(program, profile, data, limit)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(programs(max_len=12), st.sampled_from([LINUX, SOLANA]), st.integers(0, 200))
def test_fast_path_matches_interpreter_on_any_decodable_program(program: Program,
                                                                profile: Profile,
                                                                limit: int) -> None:
    agree(program, profile, bytes(range(16)), limit)


LOOP = Program.from_instructions([
    Alu(AluOp.MOV, 1, Imm(50), True), Alu(AluOp.MOV, 0, Imm(0), True),
    Store(8, 10, -8, Reg(1)), Load(8, 2, 10, -8), Alu(AluOp.ADD, 0, Reg(2), True),
    Alu(AluOp.SUB, 1, Imm(1), True), Jump(JmpCond.NE, 1, Imm(0), -5, True), Exit()])


def test_compute_limit_at_every_point_of_a_loop() -> None:
    full = agree(LOOP, LINUX, b"", 10**6)
    assert full[0] == 1275
    total = full[1]
    assert isinstance(total, int)
    for limit in range(total + 1):
        result = agree(LOOP, LINUX, b"", limit)
        assert result[1] == limit
        assert (result[3] is None) == (limit == total)


def test_invalid_fault_mid_block_is_counted_to_its_pc() -> None:
    program = Program.from_instructions([
        Alu(AluOp.MOV, 0, Imm(1), True), Alu(AluOp.MOV, 1, Imm(0), True),
        Alu(AluOp.ADD, 0, Imm(1), True), Load(8, 2, 1, 0), Alu(AluOp.ADD, 0, Imm(1), True),
        Exit()])
    result = agree(program, LINUX, b"", 100)
    assert result[:4] == (2, 4, 4, ("MemoryFault", 3, str(MemoryFault(
        3, 0, 8, "null pointer dereference"))))


def test_invalid_limit_mid_block_falls_back_to_interpreter() -> None:
    program = Program.from_instructions([Alu(AluOp.MOV, 0, Imm(i), True) for i in range(6)]
                                        + [Exit()])
    result = agree(program, LINUX, b"", 4)
    assert result[:4] == (3, 4, 4, ("InstructionLimit", 4, str(InstructionLimit(
        4, "compute limit 4 reached"))))


def test_translations_are_cached_per_program_and_profile() -> None:
    linux = fastpath.translations(LOOP, LINUX)
    assert fastpath.translations(LOOP, LINUX) is linux
    assert fastpath.translations(LOOP, SOLANA) is not linux
    assert linux.unit(2) is linux.unit(2)
