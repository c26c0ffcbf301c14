"""The z3 semantics of every ALU/JMP instruction equal the reference VM's, in both profiles.

For a random instruction and random register values, the solver term folded on constants
must equal what the VM computes for a tiny program: ``lddw`` the operands, run the op, exit
with the result (or faults in the same way).
"""

from __future__ import annotations

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from arspec.checker import solver as z
from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
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
from arspec.reference.vm.load_checks import ProgramRejected
from arspec.reference.vm.profiles import LINUX, SOLANA, Profile
from arspec.reference.vm.vm import execute

U64 = st.integers(0, (1 << 64) - 1)
INTERESTING = st.sampled_from([0, 1, 2, 31, 32, 63, 64, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                               1 << 63, (1 << 64) - 1, (1 << 63) - 1, 0xFFFFFFFF80000000])
VALUES = st.one_of(U64, INTERESTING)
IMMS = st.one_of(st.integers(-(1 << 31), (1 << 31) - 1),
                 st.sampled_from([0, -1, 1, 31, 32, 63, -(1 << 31)]))
PROFILES = st.sampled_from([LINUX, SOLANA])


def _lddw(dst: int, value: int) -> LoadImm64:
    low, high = value & 0xFFFFFFFF, value >> 32
    signed = lambda v: v - (1 << 32) if v >> 31 else v  # noqa: E731
    return LoadImm64(dst, Pseudo.IMM64, signed(low), signed(high))


def _run(insn: Instruction, a: int, b: int, profile: Profile) -> tuple[int | None, str]:
    program = Program.from_instructions([_lddw(0, a), _lddw(2, b), insn, Exit()])
    try:
        result = execute(program, profile=profile, engine="interpreter")
    except ProgramRejected:
        return None, "ProgramRejected"

    return (None, type(result.fault).__name__) if result.fault else (result.r0, "")


@settings(max_examples=600, deadline=None)
@given(op=st.sampled_from(list(AluOp)), is64=st.booleans(), a=VALUES, b=VALUES,
       use_imm=st.booleans(), imm=IMMS, profile=PROFILES)
def test_alu_matches_vm(op: AluOp, is64: bool, a: int, b: int, use_imm: bool, imm: int,
                        profile: Profile) -> None:
    src: Reg | Imm = Imm(imm) if use_imm else Reg(2)
    insn = Alu(op, 0, src, is64)
    vm_value, fault = _run(insn, a, b, profile)
    if fault == "ProgramRejected":
        reject()
    operand = z.immediate(imm, is64) if use_imm else z.const(b)
    if profile.division_faults and op in (AluOp.DIV, AluOp.SDIV, AluOp.MOD, AluOp.SMOD):
        zero, overflow = z.division_faults(op, z.const(a), operand, is64=is64)
        expected = ("DivisionByZero" if z.truth_of(zero) else
                    "DivisionOverflow" if z.truth_of(overflow) else "")
        assert fault == expected
        if fault:
            return
    assert fault == ""
    term = z.alu(op, z.const(a), operand, is64=is64, profile=profile)
    assert z.value_of(term) == vm_value


@settings(max_examples=300, deadline=None)
@given(cond=st.sampled_from(list(JmpCond)), is64=st.booleans(), a=VALUES, b=VALUES,
       use_imm=st.booleans(), imm=IMMS)
def test_jump_matches_vm(cond: JmpCond, is64: bool, a: int, b: int, use_imm: bool,
                         imm: int) -> None:
    src: Reg | Imm = Imm(imm) if use_imm else Reg(2)
    program = Program.from_instructions([
        _lddw(1, a), _lddw(2, b), LoadImm64(0, Pseudo.IMM64, 0, 0),
        Jump(cond, 1, src, 1, is64), Ja(1), LoadImm64(0, Pseudo.IMM64, 1, 0), Exit()])
    taken = execute(program, engine="interpreter").r0 == 1
    operand = z.immediate(imm, True) if use_imm else z.const(b)
    assert z.truth_of(z.condition(cond, z.const(a), operand, is64=is64)) is taken


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["neg32", "neg64", "movsx", "endian"]), a=VALUES,
       bits=st.sampled_from([8, 16, 32]), is64=st.booleans(),
       eop=st.sampled_from(list(EndianOp)), width=st.sampled_from([16, 32, 64]))
def test_unary_matches_vm(kind: str, a: int, bits: int, is64: bool, eop: EndianOp,
                          width: int) -> None:
    if kind.startswith("neg"):
        insn: Instruction = Neg(0, kind == "neg64")
        term = z.neg(z.const(a), is64=kind == "neg64")
    elif kind == "movsx":
        bits = bits if is64 else min(bits, 16)
        insn = MovSx(0, 2, bits, is64)
        term = z.movsx(z.const(a), bits=bits, is64=is64)
    else:
        insn = Endian(eop, 0, width)
        term = z.endian(eop, z.const(a), width=width)
    src = a if kind == "movsx" else 0
    vm_value, fault = _run(insn, a, src, LINUX)
    assert fault == ""
    assert z.value_of(term) == vm_value


@settings(max_examples=200, deadline=None)
@given(value=VALUES, size=st.sampled_from([1, 2, 4]), signed=st.booleans())
def test_memsx_load_matches_vm(value: int, size: int, signed: bool) -> None:
    program = Program.from_instructions([
        _lddw(2, value), Store(8, 10, -8, Reg(2)), Load(size, 0, 10, -8, signed), Exit()])
    vm_value = execute(program, engine="interpreter").r0
    low = z.extract(8 * size - 1, 0, z.const(value))
    term = z.sign_extend(low, 64) if signed else z.zero_extend(low, 64)
    assert z.value_of(term) == vm_value


def test_session_never_reads_unknown_as_sat() -> None:
    session = z.Session(z.SolverConfig(rlimit=1, timeout_ms=1000))
    x, y = z.var("x"), z.var("y")
    hard = z.eq(z.alu(AluOp.MUL, x, y, is64=True, profile=LINUX), z.const(0x123456789ABCDEF1))
    answer = session.check(hard, z.ult(z.const(1), x), z.ult(z.const(1), y))
    assert answer is not z.SatResult.SAT or session.solve(hard)[1] is not None
    assert answer in (z.SatResult.UNKNOWN, z.SatResult.SAT, z.SatResult.UNSAT)
    if answer is z.SatResult.UNKNOWN:
        assert session.unknown_reasons


def test_z3_exception_becomes_solver_error() -> None:
    import pytest

    from arspec.checker.solver import SolverError
    with pytest.raises(SolverError):
        z.alu(AluOp.ADD, z.const(1, 64), z.const(1, 32), is64=True, profile=LINUX)
