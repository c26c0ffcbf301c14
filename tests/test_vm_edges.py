"""Interpreter edges: every fault, every boundary, every limit, on both engines.

Most cases here are negative: the program must stop with one exact fault (class, pc,
address) and never with a Python exception.
"""

from __future__ import annotations

import pytest

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Call,
    CallKfunc,
    CallLocal,
    Callx,
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
    Neg,
    Program,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.vm.helpers import HelperRegistry, HelperSpec, test_helpers
from arspec.reference.vm.load_checks import ProgramRejected
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.profiles import (
    HEAP_BASE,
    INPUT_BASE,
    LINUX,
    PROGRAM_BASE,
    SOLANA,
    STACK_BASE,
    Profile,
)
from arspec.reference.vm.trace import FaultEvent, InsnStart, ListTracer, first_divergence
from arspec.reference.vm.vm import ExecutionResult, Vm, execute, standard_memory
from arspec.spec.errors import (
    CallDepthExceeded,
    ComputeBudgetExceeded,
    DivisionByZero,
    ExecutionFault,
    HelperFault,
    InputError,
    InstructionLimit,
    InvalidCallTarget,
    InvalidInstruction,
    MemoryFault,
    ProgramOverrun,
)

M64 = (1 << 64) - 1


@pytest.fixture(params=["interpreter", "auto"])
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


def fault_of(insns: list[Instruction], engine: str, kind: type[ExecutionFault],
             pc: int, **kwargs: object) -> ExecutionResult:
    result = run(insns, engine, **kwargs)
    assert type(result.fault) is kind, result.fault
    assert result.fault.pc == pc
    return result


# --- division ---------------------------------------------------------------------------

@pytest.mark.parametrize("op", [AluOp.DIV, AluOp.MOD])
@pytest.mark.parametrize("is64", [True, False])
def test_invalid_division_by_zero_register_solana(op: AluOp, is64: bool, engine: str) -> None:
    insns = [mov(0, 5), lddw(1, 0x1_00000000 if not is64 else 0), Alu(op, 0, Reg(1), is64),
             Exit()]
    result = fault_of(insns, engine, DivisionByZero, 3, profile=SOLANA)
    assert result.r0 == 5
    assert result.instructions == 3


@pytest.mark.parametrize("op", [AluOp.DIV, AluOp.MOD])
def test_invalid_division_by_zero_immediate_solana_rejected_at_load(op: AluOp,
                                                                    engine: str) -> None:
    with pytest.raises(ProgramRejected, match="pc 1: division by zero"):
        run([mov(0, 5), Alu(op, 0, Imm(0), True), Exit()], engine, profile=SOLANA)


@pytest.mark.parametrize("op", [AluOp.DIV, AluOp.MOD])
def test_invalid_division_by_zero_immediate_solana_faults_if_run_anyway(op: AluOp) -> None:
    program = Program.from_instructions([mov(0, 5), Alu(op, 0, Imm(0), True), Exit()])
    vm = Vm(program, profile=SOLANA, memory=standard_memory(program, SOLANA, b""))
    result = vm.run(0, ())
    assert type(result.fault) is DivisionByZero and result.fault.pc == 1


@pytest.mark.parametrize(("shift", "is64"), [(32, False), (64, True), (-1, True)])
def test_invalid_shift_immediate_out_of_range_solana(shift: int, is64: bool) -> None:
    program = Program.from_instructions([mov(0, 5), Alu(AluOp.LSH, 0, Imm(shift), is64), Exit()])
    with pytest.raises(ProgramRejected, match="pc 1: shift by"):
        execute(program, profile=SOLANA)
    assert execute(program, profile=LINUX).fault is None


@pytest.mark.parametrize("op", [AluOp.SDIV, AluOp.SMOD])
@pytest.mark.parametrize("is64", [True, False])
def test_invalid_signed_division_refused_in_sbpf_v0(op: AluOp, is64: bool, engine: str) -> None:
    # SBPFv0 has no signed div/mod: the encoding runs as unsigned (see test_sbpf_v0.py).
    opcode = (0x30 if op is AluOp.SDIV else 0x90) | (0x07 if is64 else 0x04)
    with pytest.raises(ProgramRejected, match=f"pc 2: unknown eBPF opcode {opcode:#04x}"):
        run([lddw(0, 1 << 63), Alu(op, 0, Imm(-1), is64), Exit()], engine, profile=SOLANA)


# --- memory -------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_last_valid_bytes_of_input(size: int, engine: str) -> None:
    result = run([Load(size, 0, 1, 16 - size), Exit()], engine, memory=bytes(range(16)))
    assert result.fault is None
    assert result.r0 == int.from_bytes(bytes(range(16))[16 - size:], "little")


@pytest.mark.parametrize("size", [2, 4, 8])
def test_invalid_load_partially_out_of_bounds(size: int, engine: str) -> None:
    result = fault_of([Load(size, 0, 1, 16 - size + 1), Exit()], engine, MemoryFault, 0,
                      memory=bytes(16))
    assert result.fault.address == INPUT_BASE + 16 - size + 1  # type: ignore[union-attr]
    assert result.fault.size == size  # type: ignore[union-attr]
    assert "partially out of bounds" in str(result.fault)


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_invalid_load_one_past_the_end(size: int, engine: str) -> None:
    result = fault_of([Load(size, 0, 1, 16), Exit()], engine, MemoryFault, 0, memory=bytes(16))
    assert result.fault.address == INPUT_BASE + 16  # type: ignore[union-attr]
    assert "out of bounds" in str(result.fault)


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_invalid_store_one_past_the_end(size: int, engine: str) -> None:
    fault_of([Store(size, 1, 16, Imm(1)), Exit()], engine, MemoryFault, 0, memory=bytes(16))


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_invalid_store_to_program_region(size: int, engine: str) -> None:
    insns = [lddw(1, PROGRAM_BASE), Store(size, 1, 0, Imm(0)), Exit()]
    result = fault_of(insns, engine, MemoryFault, 2)
    assert "read-only" in str(result.fault)


def test_program_region_is_readable_bytecode(engine: str) -> None:
    insns = [lddw(1, PROGRAM_BASE), Load(1, 0, 1, 16), Exit()]
    assert run(insns, engine).r0 == 0x71  # ldxb opcode of the instruction at pc 2


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("address", [0, 8, 4095])
def test_invalid_null_dereference(size: int, address: int, engine: str) -> None:
    result = fault_of([mov(1, address), Load(size, 0, 1, 0), Exit()], engine, MemoryFault, 1)
    assert "null pointer" in str(result.fault)


def test_invalid_region_zero_above_null_page(engine: str) -> None:
    result = fault_of([mov(1, 4096), Store(8, 1, 0, Imm(1)), Exit()], engine, MemoryFault, 1)
    assert "unmapped region 0" in str(result.fault)


@pytest.mark.parametrize("region", [5, 9, 0xFFFFFFFF])
def test_invalid_unmapped_region(region: int, engine: str) -> None:
    insns = [lddw(1, region << 32), Load(8, 0, 1, 0), Exit()]
    assert "unmapped region" in str(fault_of(insns, engine, MemoryFault, 2).fault)


def test_invalid_heap_in_linux(engine: str) -> None:
    fault_of([lddw(1, HEAP_BASE), Store(8, 1, 0, Imm(1)), Exit()], engine, MemoryFault, 2)


def test_heap_is_mapped_in_solana(engine: str) -> None:
    insns = [lddw(1, HEAP_BASE + 32 * 1024 - 8), Store(8, 1, 0, Imm(3)), Load(8, 0, 1, 0),
             Exit()]
    assert run(insns, engine, profile=SOLANA).r0 == 3


def test_invalid_heap_one_past_the_end_solana(engine: str) -> None:
    insns = [lddw(1, HEAP_BASE + 32 * 1024), Load(1, 0, 1, 0), Exit()]
    fault_of(insns, engine, MemoryFault, 2, profile=SOLANA)


def test_invalid_stack_above_the_last_frame(engine: str) -> None:
    # 8 frames of 512 bytes: the stack region ends 7 frames above the entry frame's top.
    fault_of([Store(1, 10, 7 * 512, Imm(1)), Exit()], engine, MemoryFault, 0)


def test_invalid_stack_below_the_first_frame(engine: str) -> None:
    fault_of([Load(1, 0, 10, -513), Exit()], engine, MemoryFault, 0)


def test_invalid_negative_offset_wraps_to_huge_address(engine: str) -> None:
    result = fault_of([mov(1, 0), Load(8, 0, 1, -8), Exit()], engine, MemoryFault, 1)
    assert result.fault.address == M64 - 7  # type: ignore[union-attr]


@pytest.mark.parametrize("size", [4, 8])
def test_invalid_atomic_on_program_region(size: int, engine: str) -> None:
    insns = [lddw(1, PROGRAM_BASE), mov(2, 1), Atomic(AtomicOp.ADD, size, 1, 2, 0, True),
             Exit()]
    result = fault_of(insns, engine, MemoryFault, 3)
    assert result.r0 == 0


@pytest.mark.parametrize("size", [4, 8])
def test_invalid_cmpxchg_on_program_region_even_when_unequal(size: int, engine: str) -> None:
    insns = [lddw(1, PROGRAM_BASE), lddw(0, 0xDEAD), Atomic(AtomicOp.CMPXCHG, size, 1, 2, 0,
                                                              True), Exit()]
    result = fault_of(insns, engine, MemoryFault, 4)
    assert result.r0 == 0xDEAD


@pytest.mark.parametrize("size", [4, 8])
def test_invalid_atomic_partially_out_of_bounds(size: int, engine: str) -> None:
    insns = [Atomic(AtomicOp.XCHG, size, 1, 2, 5, True), Exit()]
    fault_of(insns, engine, MemoryFault, 0, memory=bytes(8))


@pytest.mark.parametrize(("mode", "offset"), [(LegacyMode.ABS, 3), (LegacyMode.ABS, -1),
                                              (LegacyMode.IND, 4)])
def test_invalid_legacy_load_out_of_bounds_ends_with_r0_zero(mode: LegacyMode, offset: int,
                                                             engine: str) -> None:
    # Linux: a failed LD_ABS/LD_IND ends the program with r0 = 0 (no fault).
    insns = [mov(3, 0), mov(0, 7), LegacyLoad(mode, 2, 3, offset), mov(0, 9), Exit()]
    result = run(insns, engine, memory=bytes(4))
    assert (result.fault, result.r0, result.instructions) == (None, 0, 3)


def test_invalid_legacy_load_out_of_bounds_in_a_callee_ends_the_program(engine: str) -> None:
    insns = [mov(0, 7), CallLocal(2), mov(0, 9), Exit(), LegacyLoad(LegacyMode.ABS, 4, 0, 2),
             Exit()]
    result = run(insns, engine, memory=bytes(4))
    assert (result.fault, result.r0, result.instructions) == (None, 0, 3)


@pytest.mark.parametrize(("src", "imm", "r0"), [
    (0x1_0000_0001, 0, 0x02), (0xFFFF_FFFF, 3, 0x03), (0x1_0000_0000, -1, 0)])
def test_legacy_ind_offset_is_32_bits(src: int, imm: int, r0: int, engine: str) -> None:
    insns = [lddw(3, src), mov(0, 7), LegacyLoad(LegacyMode.IND, 1, 3, imm), Exit()]
    result = run(insns, engine, memory=bytes(range(1, 5)))
    assert (result.fault, result.r0) == (None, r0)


# --- compute limit --------------------------------------------------------------------------

LOOP = [mov(1, 10), mov(0, 0), Alu(AluOp.ADD, 0, Reg(1), True),
        Alu(AluOp.SUB, 1, Imm(1), True), Jump(JmpCond.NE, 1, Imm(0), -3, True), Exit()]


def test_compute_limit_exactly_enough(engine: str) -> None:
    result = run(LOOP, engine, compute_limit=33)
    assert (result.fault, result.r0, result.instructions, result.compute_units) == (
        None, 55, 33, 33)


@pytest.mark.parametrize(("limit", "pc", "r0"), [(32, 5, 55), (31, 4, 55), (30, 3, 55),
                                                 (2, 2, 0), (0, 0, 0)])
def test_invalid_compute_limit_one_short(limit: int, pc: int, r0: int, engine: str) -> None:
    result = fault_of(LOOP, engine, InstructionLimit, pc, compute_limit=limit)
    assert (result.r0, result.instructions, result.compute_units) == (r0, limit, limit)


def test_invalid_infinite_loop_stops_at_limit(engine: str) -> None:
    result = fault_of([Ja(-1)], engine, InstructionLimit, 0, compute_limit=10_000)
    assert result.instructions == 10_000


def test_helper_cost_exactly_at_limit(engine: str) -> None:
    result = run([Call(7), Exit()], engine, helpers=test_helpers(), compute_limit=102)
    assert result.fault is None


def test_invalid_helper_cost_over_limit(engine: str) -> None:
    result = fault_of([Call(7), Exit()], engine, ComputeBudgetExceeded, 0,
                      helpers=test_helpers(), compute_limit=100)
    assert result.compute_units == 100
    assert str(result.fault).startswith("compute budget exceeded at pc 0: ")
    assert "of the 100 CU budget" in str(result.fault)


def test_invalid_exit_one_over_after_helper(engine: str) -> None:
    fault_of([Call(7), Exit()], engine, InstructionLimit, 1, helpers=test_helpers(),
             compute_limit=101)


# --- control flow -----------------------------------------------------------------------------

def test_invalid_fall_off_the_end(engine: str) -> None:
    result = fault_of([mov(0, 3), mov(1, 4)], engine, ProgramOverrun, 2)
    assert (result.r0, result.instructions) == (3, 2)


def test_invalid_fall_off_after_lddw(engine: str) -> None:
    fault_of([lddw(0, 1)], engine, ProgramOverrun, 2)


def test_invalid_jump_outside_program(engine: str) -> None:
    fault_of([mov(0, 1), Ja(5), Exit()], engine, InvalidInstruction, 1)


def test_invalid_jump_backwards_before_start(engine: str) -> None:
    fault_of([Jump(JmpCond.EQ, 0, Imm(0), -2, True), Exit()], engine, InvalidInstruction, 0)


def test_invalid_jump_into_lddw_second_slot(engine: str) -> None:
    fault_of([Ja(1), lddw(0, 1), Exit()], engine, InvalidInstruction, 0)


def test_not_taken_bad_jump_is_harmless(engine: str) -> None:
    assert run([Jump(JmpCond.EQ, 0, Imm(1), 50, True), Exit()], engine).fault is None


def test_invalid_entry_in_lddw_second_slot() -> None:
    program = Program.from_instructions([lddw(0, 1), Exit()])
    result = Vm(program, memory=standard_memory(program, LINUX)).run(1)
    assert type(result.fault) is InvalidCallTarget


@pytest.mark.parametrize("profile", [LINUX, SOLANA])
def test_invalid_call_depth_one_past_the_limit(profile: Profile, engine: str) -> None:
    # f calls itself forever: frames 1..max-1 succeed, the call needing frame max+1 faults.
    result = fault_of([CallLocal(-1), Exit()], engine, CallDepthExceeded, 0, profile=profile)
    assert result.instructions == profile.max_frames


def test_call_depth_exactly_at_the_limit(engine: str) -> None:
    # 7 nested calls below the entry frame = 8 frames, the linux maximum.
    insns = [mov(1, 6), CallLocal(1), Exit(), Jump(JmpCond.EQ, 1, Imm(0), 2, True),
             Alu(AluOp.SUB, 1, Imm(1), True), CallLocal(-3), Exit()]
    assert run(insns, engine).fault is None
    insns[0] = mov(1, 7)
    fault_of(insns, engine, CallDepthExceeded, 5)


def test_invalid_local_call_outside_program(engine: str) -> None:
    fault_of([CallLocal(7), Exit()], engine, InvalidCallTarget, 0)


@pytest.mark.parametrize("address", [0, PROGRAM_BASE + 3, PROGRAM_BASE + 8 * 9,
                                     PROGRAM_BASE - 8, PROGRAM_BASE + 8])
def test_invalid_callx_target(address: int, engine: str) -> None:
    # PROGRAM_BASE + 8 is the second slot of the lddw.
    fault_of([lddw(2, address), Callx(2), Exit()], engine, InvalidCallTarget, 2)


def test_invalid_write_to_r10(engine: str) -> None:
    fault_of([mov(0, 1), Alu(AluOp.ADD, 10, Imm(8), True), Exit()], engine,
             InvalidInstruction, 1)


@pytest.mark.parametrize("insn", [
    Alu(AluOp.ADD, 11, Imm(1), True), Neg(12, True), Load(8, 0, 11, 0), Load(3, 0, 10, -8),
    Store(16, 10, -8, Imm(0)), Atomic(AtomicOp.ADD, 2, 10, 1, -8, False),
    Atomic(AtomicOp.XCHG, 8, 10, 10, -8, True), Callx(11),
])
def test_invalid_instruction_fields(insn: Instruction, engine: str) -> None:
    fault_of([mov(0, 2), insn, Exit()], engine, InvalidInstruction, 1)


def test_invalid_map_lddw_without_resolver(engine: str) -> None:
    result = fault_of([LoadImm64(1, Pseudo.MAP_FD, 3, 0), Exit()], engine,
                      InvalidInstruction, 0)
    assert "pc 0" in str(result.fault)


def test_map_lddw_with_resolver() -> None:
    program = Program.from_instructions([LoadImm64(0, Pseudo.MAP_VALUE, 3, 16), Exit()])
    vm = Vm(program, memory=standard_memory(program, LINUX),
            pseudo_resolver=lambda pc, insn: (5 << 32) + insn.next_imm + insn.imm)
    assert vm.run().r0 == (5 << 32) + 19


# --- helpers ----------------------------------------------------------------------------------

def test_invalid_unknown_helper(engine: str) -> None:
    fault_of([Call(99), Exit()], engine, HelperFault, 0, helpers=test_helpers())


def test_invalid_helper_id_in_solana_is_a_hash(engine: str) -> None:
    fault_of([Call(1), Exit()], engine, HelperFault, 0, helpers=test_helpers(),
             profile=SOLANA)


def test_invalid_no_helpers_at_all(engine: str) -> None:
    fault_of([Call(1), Exit()], engine, HelperFault, 0)


def test_invalid_abort_helper(engine: str) -> None:
    result = fault_of([mov(0, 9), Call(6), Exit()], engine, HelperFault, 1,
                      helpers=test_helpers())
    assert result.r0 == 9


def test_invalid_helper_memory_fault_names_the_call(engine: str) -> None:
    insns = [mov(1, 0), mov(2, 4), Call(2), Exit()]
    result = fault_of(insns, engine, MemoryFault, 2, helpers=test_helpers())
    assert "null pointer" in str(result.fault)


def test_invalid_strcmp_runs_off_region(engine: str) -> None:
    insns = [Alu(AluOp.MOV, 2, Reg(1), True), Call(5), Exit()]
    fault_of(insns, engine, MemoryFault, 1, helpers=test_helpers(), memory=b"abc")


def test_invalid_nondeterministic_helper_refused_in_solana(engine: str) -> None:
    from arspec.reference.isa.murmur3 import murmur3_32
    registry = HelperRegistry((HelperSpec(1, "ktime_get_ns", lambda c, a, b, d, e, f: 7,
                                          deterministic=False),))
    fault_of([Call(murmur3_32(b"ktime_get_ns") - (1 << 32)), Exit()], engine, HelperFault, 0,
             helpers=registry, profile=SOLANA)
    assert run([Call(1), Exit()], engine, helpers=registry).r0 == 7


def test_invalid_unknown_kfunc(engine: str) -> None:
    fault_of([CallKfunc(1234), Exit()], engine, HelperFault, 0, helpers=test_helpers())


def test_registered_kfunc_runs(engine: str) -> None:
    registry = test_helpers()
    registry.register_kfunc(HelperSpec(1234, "bpf_wq_init", lambda c, a, b, d, e, f: a + 1))
    assert run([mov(1, 4), CallKfunc(1234), Exit()], engine, helpers=registry).r0 == 5


def test_invalid_callback_fault_propagates(engine: str) -> None:
    insns = [LoadImm64(1, Pseudo.CODE_ADDR, 4, 0), mov(2, 1), Call(8), Exit(),
             Load(8, 0, 2, 0), Exit()]
    result = fault_of(insns, engine, MemoryFault, 5, helpers=test_helpers())
    assert "null pointer" in str(result.fault)


def test_invalid_callback_to_non_code_address(engine: str) -> None:
    fault_of([mov(1, 5), mov(2, 1), Call(8), Exit()], engine, HelperFault, 2,
             helpers=test_helpers())


def test_invalid_duplicate_helper_id() -> None:
    registry = test_helpers()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(HelperSpec(1, "other", lambda c, a, b, d, e, f: 0))


def test_invalid_duplicate_helper_name() -> None:
    registry = test_helpers()
    with pytest.raises(ValueError, match="hashes like"):
        registry.register(HelperSpec(100, "no_op", lambda c, a, b, d, e, f: 0))


# --- API misuse ---------------------------------------------------------------------------------

def test_invalid_engine_name() -> None:
    with pytest.raises(InputError, match="unknown engine 'jit'"):
        execute(Program.from_instructions([Exit()]), engine="jit")


def test_invalid_fast_engine_with_tracer() -> None:
    with pytest.raises(InputError, match="cannot trace"):
        execute(Program.from_instructions([Exit()]), engine="fast", tracer=ListTracer())


@pytest.mark.parametrize("index", [0, -1, 1 << 32])
def test_invalid_region_index(index: int) -> None:
    with pytest.raises(ValueError, match="region index"):
        Memory().add_region(index, bytearray(1), writable=True)


def test_invalid_region_mapped_twice() -> None:
    memory = Memory()
    memory.add_region(4, bytearray(1), writable=True)
    with pytest.raises(ValueError, match="already mapped"):
        memory.add_region(4, bytearray(1), writable=True)


@pytest.mark.parametrize("base", [5 << 32, (4 << 32) + 8])
def test_invalid_remove_region(base: int) -> None:
    memory = Memory()
    memory.add_region(4, bytearray(16), writable=True)
    with pytest.raises(ValueError, match="not the base"):
        memory.remove_region(base)


def test_removed_region_faults_afterwards() -> None:
    memory = Memory()
    base = memory.allocate_region(bytearray(8), writable=True)
    memory.store(0, base, 8, 1)
    memory.remove_region(base)
    with pytest.raises(MemoryFault, match="unmapped region 5"):
        memory.load(3, base, 8)


def test_invalid_memory_byte_helpers() -> None:
    memory = Memory()
    base = memory.allocate_region(bytearray(4), writable=False)
    assert memory.read_bytes(0, base, 4) == bytes(4)
    assert memory.read_bytes(0, 0, 0) == b""
    with pytest.raises(MemoryFault, match="read-only"):
        memory.write_bytes(1, base, b"x")
    with pytest.raises(MemoryFault, match="partially"):
        memory.read_bytes(1, base + 2, 3)
    with pytest.raises(MemoryFault, match="negative"):
        memory.read_bytes(1, base, -1)


# --- traces ---------------------------------------------------------------------------------------

def test_first_divergence() -> None:
    a = [InsnStart(0, Exit(), (0,) * 11), InsnStart(1, Exit(), (0,) * 11)]
    b = [InsnStart(0, Exit(), (0,) * 11), InsnStart(1, Exit(), (1,) + (0,) * 10)]
    assert first_divergence(a, b) == 1
    assert first_divergence(a, a[:1]) == 1
    assert first_divergence(a, list(a)) is None
    assert first_divergence([], []) is None


def test_first_divergence_compares_faults_by_content() -> None:
    x = [FaultEvent(3, MemoryFault(3, 0, 8, "null pointer dereference"))]
    y = [FaultEvent(3, MemoryFault(3, 0, 8, "null pointer dereference"))]
    z = [FaultEvent(3, MemoryFault(3, 0, 4, "null pointer dereference"))]
    assert first_divergence(x, y) is None
    assert first_divergence(x, z) == 0


def test_trace_of_fault_run_ends_with_one_fault() -> None:
    tracer = ListTracer()
    execute(Program.from_instructions([mov(0, 1), mov(1, 0), Alu(AluOp.DIV, 0, Reg(1), True),
                                       Exit()]), profile=SOLANA, tracer=tracer)
    assert [type(e) for e in tracer.events] == [InsnStart, InsnStart, InsnStart, FaultEvent]
    assert tracer.events[-1].pc == 2


def test_interpreter_and_fast_path_traces_agree_on_results() -> None:
    program = Program.from_instructions(LOOP)
    tracer = ListTracer()
    traced = execute(program, tracer=tracer, engine="interpreter")
    fast = execute(program, engine="fast")
    assert (traced.r0, traced.instructions) == (fast.r0, fast.instructions)
    assert sum(isinstance(e, InsnStart) for e in tracer.events) == traced.instructions


# --- the access matrix: every region edge, every width, every access kind -----------------

REGION_EDGES = [  # (name, profile, start, length)
    ("stack", LINUX, STACK_BASE, 512),  # the live frame at entry (frames are isolated)
    ("stack", SOLANA, STACK_BASE, 63 * 8192 + 4096),  # SBPFv0: frames with gaps
    ("input", LINUX, INPUT_BASE, 16),
    ("heap", SOLANA, HEAP_BASE, 32 * 1024),
]
ACCESSES = {
    "load": lambda size: Load(size, 0, 1, 0),
    "store": lambda size: Store(size, 1, 0, Imm(-1)),
    "store_reg": lambda size: Store(size, 1, 0, Reg(1)),
    "atomic": lambda size: Atomic(AtomicOp.ADD, size, 1, 2, 0, True),
}


def _matrix() -> list[tuple[str, Profile, int, int, str, int, str]]:
    cases = []
    for name, profile, start, length in REGION_EDGES:
        for access in ACCESSES:
            if access == "atomic" and profile is SOLANA:
                continue  # SBPFv0 has no atomics (refused at load)
            for size in ((4, 8) if access == "atomic" else (1, 2, 4, 8)):
                positions = {"past": start + length, "before": start - 1,
                             "far": start + length + 4096}
                if size > 1:
                    positions["partial"] = start + length - size + 1
                for where, address in positions.items():
                    cases.append((name, profile, start, address, access, size, where))
    return cases


@pytest.mark.parametrize(("region", "profile", "start", "address", "access", "size", "where"),
                         _matrix())
def test_invalid_access_at_region_edge(region: str, profile: Profile, start: int, address: int,
                                       access: str, size: int, where: str,
                                       engine: str) -> None:
    insns = [lddw(1, address), mov(0, 77), ACCESSES[access](size), Exit()]
    result = fault_of(insns, engine, MemoryFault, 3, profile=profile, memory=bytes(16))
    assert result.fault.address == address  # type: ignore[union-attr]
    assert result.fault.size == size  # type: ignore[union-attr]
    assert (result.r0, result.instructions) == (77, 3)


@pytest.mark.parametrize(("region", "profile", "start", "length"), REGION_EDGES)
@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_first_and_last_bytes_of_each_region(region: str, profile: Profile, start: int,
                                             length: int, size: int, engine: str) -> None:
    insns = [lddw(1, start), Store(size, 1, 0, Imm(1)), lddw(1, start + length - size),
             Store(size, 1, 0, Imm(2)), Load(size, 0, 1, 0), Exit()]
    result = run(insns, engine, profile=profile, memory=bytes(16))
    assert (result.fault, result.r0) == (None, 2)
