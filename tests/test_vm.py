"""Interpreter semantics: every ALU, byte-order, load/store, atomic, jump and call form.

Each case runs on both engines (the reference loop and the compiled fast path).
"""

from __future__ import annotations

import pytest

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Call,
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
)
from arspec.reference.vm.helpers import HelperRegistry, HelperSpec, test_helpers
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.profiles import (
    INPUT_BASE,
    LINUX,
    PROGRAM_BASE,
    SOLANA,
    STACK_BASE,
    Profile,
    get_profile,
)
from arspec.reference.vm.trace import FaultEvent, HelperCall, InsnStart, ListTracer
from arspec.reference.vm.vm import ExecutionResult, Vm, execute, standard_memory
from arspec.spec.errors import InputError

M64 = (1 << 64) - 1
ENGINES = ["interpreter", "auto"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def lddw(dst: int, value: int) -> LoadImm64:
    value &= M64
    lo, hi = value & 0xFFFFFFFF, value >> 32
    return LoadImm64(dst, Pseudo.IMM64, lo - (1 << 32) if lo >> 31 else lo,
                     hi - (1 << 32) if hi >> 31 else hi)


def mov(dst: int, value: int) -> Alu:
    return Alu(AluOp.MOV, dst, Imm(value), True)


def run(insns: list[Instruction], engine: str, **kwargs: object) -> ExecutionResult:
    return execute(Program.from_instructions(insns), engine=engine, **kwargs)  # type: ignore[arg-type]


def ok_r0(insns: list[Instruction], engine: str, **kwargs: object) -> int:
    result = run(insns, engine, **kwargs)
    assert result.fault is None, result.fault
    return result.r0


def alu_reg(op: AluOp, a: int, b: int, is64: bool, engine: str,
            profile: Profile = LINUX) -> int:
    return ok_r0([lddw(0, a), lddw(1, b), Alu(op, 0, Reg(1), is64), Exit()], engine,
                 profile=profile)


def alu_imm(op: AluOp, a: int, imm: int, is64: bool, engine: str,
            profile: Profile = LINUX) -> int:
    return ok_r0([lddw(0, a), Alu(op, 0, Imm(imm), is64), Exit()], engine, profile=profile)


ALU64 = [
    (AluOp.ADD, M64, 2, 1), (AluOp.SUB, 0, 1, M64), (AluOp.MUL, 1 << 63, 2, 0),
    (AluOp.MUL, 3, 5, 15), (AluOp.DIV, 100, 7, 14), (AluOp.DIV, M64, 2, M64 >> 1),
    (AluOp.DIV, 5, 0, 0), (AluOp.MOD, 100, 7, 2), (AluOp.MOD, 77, 0, 77),
    (AluOp.SDIV, -7 & M64, 2, -3 & M64), (AluOp.SDIV, 7, -2 & M64, -3 & M64),
    (AluOp.SDIV, 1 << 63, M64, 1 << 63), (AluOp.SDIV, 9, 0, 0),
    (AluOp.SMOD, -13 & M64, 3, -1 & M64), (AluOp.SMOD, 13, -3 & M64, 1),
    (AluOp.SMOD, 1 << 63, M64, 0), (AluOp.SMOD, -5 & M64, 0, -5 & M64),
    (AluOp.OR, 0xF0, 0x0F, 0xFF), (AluOp.AND, 0xF0, 0x3C, 0x30), (AluOp.XOR, 0xFF, 0x0F, 0xF0),
    (AluOp.LSH, 1, 63, 1 << 63), (AluOp.LSH, 1, 64, 1), (AluOp.LSH, 1, 65, 2),
    (AluOp.RSH, 1 << 63, 63, 1), (AluOp.RSH, 4, 66, 1),
    (AluOp.ARSH, 1 << 63, 63, M64), (AluOp.ARSH, 1 << 62, 62, 1),
    (AluOp.ARSH, -8 & M64, 65, M64 - 3),
    (AluOp.MOV, 5, 9, 9),
]


@pytest.mark.parametrize(("op", "a", "b", "expected"), ALU64)
def test_alu64_register_operand(op: AluOp, a: int, b: int, expected: int, engine: str) -> None:
    assert alu_reg(op, a, b, True, engine) == expected


ALU32 = [
    (AluOp.ADD, 0x7FFFFFFF, 1, 0x80000000), (AluOp.ADD, M64, 1, 0),
    (AluOp.SUB, 0, 1, 0xFFFFFFFF), (AluOp.MUL, 0x10000, 0x10000, 0),
    (AluOp.DIV, 0xFFFFFFFF_00000010, 4, 4), (AluOp.DIV, 7, 0, 0),
    (AluOp.MOD, 0xAAAAAAAA_00000007, 0, 7), (AluOp.MOD, 10, 0x1_00000003, 1),
    (AluOp.SDIV, 0x80000000, 0xFFFFFFFF, 0x80000000), (AluOp.SDIV, -9 & M64, 2, 0xFFFFFFFC),
    (AluOp.SMOD, 0x80000000, 0xFFFFFFFF, 0), (AluOp.SMOD, -13 & M64, 3, 0xFFFFFFFF),
    (AluOp.OR, 0xFFFF0000_0000F000, 0x0F, 0xF00F), (AluOp.AND, M64, 0x1_0000FFFF, 0xFFFF),
    (AluOp.XOR, M64, 0, 0xFFFFFFFF), (AluOp.LSH, 1, 31, 0x80000000), (AluOp.LSH, 1, 33, 2),
    (AluOp.RSH, 0x1_80000000, 31, 1), (AluOp.RSH, 8, 35, 1),
    (AluOp.ARSH, 0x80000000, 31, 0xFFFFFFFF), (AluOp.ARSH, 0xFFFFFFFF_7FFFFFFF, 30, 1),
    (AluOp.MOV, 0, M64, 0xFFFFFFFF),
]


@pytest.mark.parametrize(("op", "a", "b", "expected"), ALU32)
def test_alu32_zero_extends_in_linux(op: AluOp, a: int, b: int, expected: int,
                                     engine: str) -> None:
    assert alu_reg(op, a, b, False, engine) == expected


@pytest.mark.parametrize(("op", "a", "b", "expected"), [
    (AluOp.ADD, 0x7FFFFFFF, 1, 0xFFFFFFFF_80000000),
    (AluOp.SUB, 0, 1, M64),
    (AluOp.MUL, 0x40000000, 2, 0xFFFFFFFF_80000000),
    (AluOp.ADD, 1, 1, 2),
    (AluOp.OR, 0x80000000, 0, 0x80000000),
    (AluOp.MOV, 0, 0x80000000, 0x80000000),
    (AluOp.LSH, 1, 31, 0x80000000),
])
def test_alu32_solana_sign_extends_only_add_sub_mul(op: AluOp, a: int, b: int, expected: int,
                                                   engine: str) -> None:
    assert alu_reg(op, a, b, False, engine, SOLANA) == expected


@pytest.mark.parametrize(("op", "a", "imm", "is64", "expected"), [
    (AluOp.ADD, 0, -1, True, M64), (AluOp.ADD, 0, -1, False, 0xFFFFFFFF),
    (AluOp.DIV, M64, -1, True, 1), (AluOp.DIV, 0xFFFFFFFF, -1, False, 1),
    (AluOp.MOD, 10, -1, True, 10), (AluOp.AND, M64, -2, True, M64 - 1),
    (AluOp.MOV, 7, -1, True, M64), (AluOp.MOV, 7, -1, False, 0xFFFFFFFF),
    (AluOp.SDIV, 10, -2, True, -5 & M64), (AluOp.LSH, 1, 70, True, 64),
])
def test_alu_immediate_operand(op: AluOp, a: int, imm: int, is64: bool, expected: int,
                               engine: str) -> None:
    assert alu_imm(op, a, imm, is64, engine) == expected


@pytest.mark.parametrize(("value", "is64", "expected"), [
    (1, True, M64), (0, True, 0), (1 << 63, True, 1 << 63), (1, False, 0xFFFFFFFF),
    (0xFFFFFFFF_00000000, False, 0),
])
def test_neg(value: int, is64: bool, expected: int, engine: str) -> None:
    assert ok_r0([lddw(0, value), Neg(0, is64), Exit()], engine) == expected


@pytest.mark.parametrize(("value", "bits", "is64", "expected"), [
    (0x80, 8, True, 0xFFFFFFFF_FFFFFF80), (0x7F, 8, True, 0x7F),
    (0x8000, 16, True, 0xFFFFFFFF_FFFF8000), (0x1_80000000, 32, True, 0xFFFFFFFF_80000000),
    (0x80, 8, False, 0xFFFFFF80), (0xFF_8000, 16, False, 0xFFFF8000),
])
def test_movsx(value: int, bits: int, is64: bool, expected: int, engine: str) -> None:
    insns = [lddw(1, value), MovSx(0, 1, bits, is64), Exit()]
    assert ok_r0(insns, engine) == expected


@pytest.mark.parametrize(("op", "width", "expected"), [
    (EndianOp.LE, 16, 0x0708), (EndianOp.LE, 32, 0x05060708), (EndianOp.LE, 64, 0x0102030405060708),
    (EndianOp.BE, 16, 0x0807), (EndianOp.BE, 32, 0x08070605), (EndianOp.BE, 64, 0x0807060504030201),
    (EndianOp.SWAP, 16, 0x0807), (EndianOp.SWAP, 64, 0x0807060504030201),
])
def test_byte_order(op: EndianOp, width: int, expected: int, engine: str) -> None:
    insns = [lddw(0, 0x0102030405060708), Endian(op, 0, width), Exit()]
    assert ok_r0(insns, engine) == expected


@pytest.mark.parametrize(("size", "signed", "expected"), [
    (1, False, 0xF8), (2, False, 0xF7F8), (4, False, 0xF5F6F7F8), (8, False, 0xF1F2F3F4F5F6F7F8),
    (1, True, 0xFFFFFFFF_FFFFFFF8), (2, True, 0xFFFFFFFF_FFFFF7F8),
    (4, True, 0xFFFFFFFF_F5F6F7F8),
])
def test_load_widths_and_sign_extension(size: int, signed: bool, expected: int,
                                        engine: str) -> None:
    data = bytes([0xF8, 0xF7, 0xF6, 0xF5, 0xF4, 0xF3, 0xF2, 0xF1])
    assert ok_r0([Load(size, 0, 1, 0, signed), Exit()], engine, memory=data) == expected


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_store_register_then_load_back_on_stack(size: int, engine: str) -> None:
    insns = [lddw(2, 0x1122334455667788), Store(size, 10, -8, Reg(2)),
             Load(size, 0, 10, -8), Exit()]
    assert ok_r0(insns, engine) == 0x1122334455667788 & ((1 << (8 * size)) - 1)


def test_store_immediate_sign_extends_to_doubleword(engine: str) -> None:
    insns = [Store(8, 10, -8, Imm(-2)), Load(8, 0, 10, -8), Exit()]
    assert ok_r0(insns, engine) == M64 - 1


def test_store_writes_input_memory_little_endian() -> None:
    vm_memory = standard_memory(Program.from_instructions([Exit()]), LINUX, bytes(8))
    vm = Vm(Program.from_instructions([Store(4, 1, 2, Imm(0x01020304)), Exit()]),
            memory=vm_memory)
    assert vm.run(0, (INPUT_BASE, 8)).fault is None
    assert bytes(vm_memory.region(INPUT_BASE)) == bytes([0, 0, 4, 3, 2, 1, 0, 0])


@pytest.mark.parametrize(("op", "fetch", "old", "operand", "stored"), [
    (AtomicOp.ADD, False, 5, 7, 12), (AtomicOp.ADD, True, M64, 2, 1),
    (AtomicOp.OR, True, 0xF0, 0x0F, 0xFF), (AtomicOp.AND, False, 0xF0, 0x3C, 0x30),
    (AtomicOp.XOR, True, 0xFF, 0x0F, 0xF0), (AtomicOp.XCHG, True, 3, 9, 9),
])
@pytest.mark.parametrize("size", [4, 8])
def test_atomic_read_modify_write(op: AtomicOp, fetch: bool, old: int, operand: int,
                                  stored: int, size: int, engine: str) -> None:
    mask = (1 << (8 * size)) - 1
    insns = [lddw(2, old), Store(8, 10, -8, Reg(2)), lddw(3, operand),
             Atomic(op, size, 10, 3, -8, fetch), Load(size, 0, 10, -8),
             Alu(AluOp.LSH, 0, Imm(32), True) if size == 4 else Alu(AluOp.MOV, 0, Reg(0), True),
             Alu(AluOp.OR, 0, Reg(3), True) if size == 4 else Store(8, 10, -16, Reg(3)),
             Exit()]
    result = run(insns, engine)
    assert result.fault is None
    fetched = (old & mask) if fetch else operand
    if size == 4:
        assert result.r0 == ((stored & mask) << 32) | fetched
    else:
        assert result.r0 == stored & mask


@pytest.mark.parametrize("size", [4, 8])
@pytest.mark.parametrize("equal", [True, False])
def test_cmpxchg(size: int, equal: bool, engine: str) -> None:
    old = 0xAAAAAAAA_00000005
    mask = (1 << (8 * size)) - 1
    expected_r0 = (old & mask) if equal else 6
    high_garbage = 0xFF << 40 if size == 4 else 0
    insns = [lddw(2, old), Store(8, 10, -8, Reg(2)), lddw(0, expected_r0 | high_garbage),
             mov(3, 99), Atomic(AtomicOp.CMPXCHG, size, 10, 3, -8, True),
             Load(8, 4, 10, -8), Store(8, 1, 0, Reg(4)), Exit()]
    result = run(insns, engine, memory=bytes(8))
    assert result.fault is None
    assert result.r0 == old & mask
    insns2 = [*insns[:-2], Alu(AluOp.MOV, 0, Reg(4), True), Exit()]
    stored = ok_r0(insns2, engine)
    assert stored == ((old & ~mask) | 99 if equal else old)


@pytest.mark.parametrize(("cond", "a", "b", "taken"), [
    (JmpCond.EQ, 5, 5, True), (JmpCond.EQ, 5, 6, False), (JmpCond.NE, 5, 6, True),
    (JmpCond.GT, M64, 1, True), (JmpCond.GT, 1, 1, False), (JmpCond.GE, 1, 1, True),
    (JmpCond.LT, 1, M64, True), (JmpCond.LE, 2, 1, False), (JmpCond.SET, 6, 1, False),
    (JmpCond.SET, 6, 2, True), (JmpCond.SGT, 1, M64, True), (JmpCond.SGT, M64, 1, False),
    (JmpCond.SGE, M64, M64, True), (JmpCond.SLT, 1 << 63, 0, True), (JmpCond.SLE, 0, M64, False),
])
def test_jump64(cond: JmpCond, a: int, b: int, taken: bool, engine: str) -> None:
    insns = [lddw(1, a), lddw(2, b), mov(0, 0), Jump(cond, 1, Reg(2), 1, True), Exit(),
             mov(0, 1), Exit()]
    assert ok_r0(insns, engine) == int(taken)


@pytest.mark.parametrize(("cond", "a", "b", "taken"), [
    (JmpCond.EQ, 0x1_00000005, 5, True), (JmpCond.GT, 0x1_00000000, 1, False),
    (JmpCond.SLT, 0x80000000, 0, True), (JmpCond.SGT, 0x7FFFFFFF, 0xFFFFFFFF, True),
    (JmpCond.SET, 0x1_00000000, 0x1_00000000, False), (JmpCond.NE, 0xF_00000000, 0, False),
])
def test_jump32_compares_low_halves(cond: JmpCond, a: int, b: int, taken: bool,
                                    engine: str) -> None:
    insns = [lddw(1, a), lddw(2, b), mov(0, 0), Jump(cond, 1, Reg(2), 1, False), Exit(),
             mov(0, 1), Exit()]
    assert ok_r0(insns, engine) == int(taken)


@pytest.mark.parametrize(("imm", "is64", "taken"), [(-1, True, False), (-1, False, True)])
def test_jump_immediate_sign_extension(imm: int, is64: bool, taken: bool, engine: str) -> None:
    insns = [lddw(1, 0xFFFFFFFF), mov(0, 0), Jump(JmpCond.EQ, 1, Imm(imm), 1, is64), Exit(),
             mov(0, 1), Exit()]
    assert ok_r0(insns, engine) == int(taken)


def test_counting_loop(engine: str) -> None:
    insns = [mov(1, 1000), mov(0, 0), Alu(AluOp.ADD, 0, Reg(1), True),
             Alu(AluOp.SUB, 1, Imm(1), True), Jump(JmpCond.NE, 1, Imm(0), -3, True), Exit()]
    result = run(insns, engine)
    assert (result.r0, result.instructions, result.compute_units) == (500500, 3003, 3003)


def test_ja_and_gotol(engine: str) -> None:
    insns = [mov(0, 1), Ja(1), mov(0, 2), Ja(1, long=True), mov(0, 3), Exit()]
    assert ok_r0(insns, engine) == 1


def test_lddw_counts_once_and_pseudo_code_address(engine: str) -> None:
    insns = [LoadImm64(0, Pseudo.CODE_ADDR, 1, 0), Exit(), Exit()]
    result = run(insns, engine)
    assert result.r0 == PROGRAM_BASE + 8 * 2
    assert result.instructions == 2


def test_entry_registers(engine: str) -> None:
    insns = [Alu(AluOp.MOV, 0, Reg(10), True), Exit()]
    assert ok_r0(insns, engine) == STACK_BASE + 512
    assert ok_r0(insns, engine, profile=SOLANA) == STACK_BASE + 4096
    assert ok_r0([Alu(AluOp.MOV, 0, Reg(1), True), Exit()], engine) == INPUT_BASE
    assert ok_r0([Alu(AluOp.MOV, 0, Reg(2), True), Exit()], engine, memory=b"abc") == 3


def test_local_call_preserves_callee_saved_registers(engine: str) -> None:
    insns = [mov(6, 6), mov(9, 9), CallLocal(3), Alu(AluOp.ADD, 0, Reg(6), True),
             Alu(AluOp.ADD, 0, Reg(9), True), Exit(),
             mov(6, 100), mov(9, 100), Alu(AluOp.MOV, 0, Reg(10), True), Exit()]
    assert ok_r0(insns, engine) == STACK_BASE + 1024 + 15


def test_callee_frame_is_separate_from_caller_frame(engine: str) -> None:
    insns = [Store(8, 10, -8, Imm(7)), CallLocal(2), Load(8, 0, 10, -8), Exit(),
             Store(8, 10, -8, Imm(9)), Exit()]
    assert ok_r0(insns, engine) == 7


def test_callx_to_code_address(engine: str) -> None:
    insns = [LoadImm64(2, Pseudo.CODE_ADDR, 3, 0), Callx(2), Exit(), mov(0, 42), Exit()]
    assert ok_r0(insns, engine) == 42


def test_recursion_within_frame_limit(engine: str) -> None:
    # f(n) = n == 0 ? 0 : n + f(n - 1); main + f(6)..f(0) = all 8 frames of the linux profile
    insns = [mov(1, 6), CallLocal(1), Exit(),
             Jump(JmpCond.NE, 1, Imm(0), 2, True), mov(0, 0), Exit(),
             Alu(AluOp.MOV, 6, Reg(1), True), Alu(AluOp.SUB, 1, Imm(1), True), CallLocal(-6),
             Alu(AluOp.ADD, 0, Reg(6), True), Exit()]
    assert ok_r0(insns, engine) == 21


def test_helper_call_by_id_linux(engine: str) -> None:
    insns = [mov(1, 1), mov(2, 2), mov(3, 3), mov(4, 4), mov(5, 0x105), Call(1), Exit()]
    assert ok_r0(insns, engine, helpers=test_helpers()) == 0x0102030405


def test_helper_call_by_name_hash_solana(engine: str) -> None:
    from arspec.reference.isa.murmur3 import murmur3_32
    insns = [mov(1, 81), Call(murmur3_32(b"sqrti") - (1 << 32)), Exit()]
    assert ok_r0(insns, engine, helpers=test_helpers(), profile=SOLANA) == 9


def test_helper_cost_is_charged(engine: str) -> None:
    result = run([Call(7), Exit()], engine, helpers=test_helpers())
    assert (result.instructions, result.compute_units) == (2, 102)


def test_memfrob_and_strcmp_helpers(engine: str) -> None:
    insns = [mov(2, 3), Call(2), Alu(AluOp.MOV, 1, Imm(0), True), lddw(1, INPUT_BASE),
             lddw(2, INPUT_BASE + 4), Call(5), Exit()]
    data = bytes(b ^ 42 for b in b"abc") + b"\0abd\0"
    assert ok_r0(insns, engine, helpers=test_helpers(), memory=data) == (ord("c") - ord("d")) & M64


def test_call_back_helper_runs_program_function(engine: str) -> None:
    # call_back(code address of f, 4, 10): sum over i of f(i, 10) = i * 10
    insns = [LoadImm64(1, Pseudo.CODE_ADDR, 7, 0), mov(2, 4), mov(3, 10), mov(6, 77),
             Call(8), Alu(AluOp.ADD, 0, Reg(6), True), Exit(),
             Alu(AluOp.MOV, 0, Reg(1), True), Alu(AluOp.MUL, 0, Reg(2), True), Exit()]
    assert ok_r0(insns, engine, helpers=test_helpers()) == 60 + 77


def test_legacy_loads_are_big_endian(engine: str) -> None:
    data = bytes([1, 2, 3, 4, 5, 6])
    assert ok_r0([LegacyLoad(LegacyMode.ABS, 4, 0, 1), Exit()], engine, memory=data) == 0x02030405
    insns = [mov(3, 2), LegacyLoad(LegacyMode.IND, 2, 3, 2), Exit()]
    assert ok_r0(insns, engine, memory=data) == 0x0506


def test_trace_events() -> None:
    tracer = ListTracer()
    result = execute(Program.from_instructions([mov(1, 3), Call(3), Exit()]),
                     helpers=test_helpers(), tracer=tracer)
    assert result.fault is None
    kinds = [type(e) for e in tracer.events]
    assert kinds == [InsnStart, InsnStart, HelperCall, InsnStart]
    assert tracer.events[1] == InsnStart(1, Call(3), (0, 3, 0, 0, 0, 0, 0, 0, 0, 0,
                                                      STACK_BASE + 512))
    assert tracer.events[2] == HelperCall(1, 3, "no_op", (3, 0, 0, 0, 0), 0)


def test_trace_records_fault() -> None:
    tracer = ListTracer()
    result = execute(Program.from_instructions([Load(8, 0, 0, 0), Exit()]), tracer=tracer)
    assert isinstance(tracer.events[-1], FaultEvent)
    assert tracer.events[-1].fault is result.fault


def test_vm_run_with_entry_pc_and_args() -> None:
    program = Program.from_instructions([mov(0, 1), Exit(), Alu(AluOp.MOV, 0, Reg(3), True),
                                         Exit()])
    vm = Vm(program, memory=standard_memory(program, LINUX))
    result = vm.run(2, (0, 0, 99))
    assert (result.r0, result.instructions) == (99, 2)
    assert vm.registers[3] == 99


def test_custom_region_allocation_is_deterministic() -> None:
    memory = Memory()
    first = memory.allocate_region(bytearray(4), writable=True)
    second = memory.allocate_region(bytearray(4), writable=False)
    memory.remove_region(first)
    third = memory.allocate_region(bytearray(4), writable=True)
    assert (first, second, third) == (5 << 32, 6 << 32, 7 << 32)


def test_get_profile_by_name() -> None:
    assert get_profile("linux") is LINUX
    assert get_profile("solana") is SOLANA


def test_registry_iterates_in_id_order() -> None:
    registry = HelperRegistry()
    for i in (9, 2, 5):
        registry.register(HelperSpec(i, f"h{i}", lambda ctx, a, b, c, d, e: 0))
    assert [spec.id for spec in registry] == [2, 5, 9]
    assert registry.lookup(5, LINUX) is not None
    assert registry.lookup(6, LINUX) is None


def test_unknown_profile_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown profile 'bsd'"):
        get_profile("bsd")
