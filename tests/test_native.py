"""The native tier agrees with the pure-Python tier and the interpreter, and hands off exactly.

Every run compares three engines on fresh memory: the interpreter, the fast engine with the
native tier off (:func:`arspec.reference.vm.native.tier`) and with it on: r0, counters, the
fault (class, pc, message with its address), every register, every byte of the stack, heap
and input regions, and the logs. The hand-off tests spy on the native runs to check that the
instruction left to Python is the one that faults (or limits), not a silently different one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import programs
from test_fastpath import (
    VECTORS,
    _bench_loops,
    generated,
    helper_hash,
    promoted_ops,
    vector_runs,
)
from test_light_helpers import (
    BUNDLE,
    Spans,
    helper_cases,
    limits,
    recording,
    run_helpers,
    run_syscalls,
    syscall_cases,
)

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
from arspec.reference.runtime.run_report import render_json
from arspec.reference.runtime.runner import run_bundle
from arspec.reference.runtime.runtime_helpers import LIGHT_HELPERS
from arspec.reference.runtime.solana_syscalls import solana_syscalls
from arspec.reference.vm import fastpath, native
from arspec.reference.vm.helpers import HelperContext, HelperRegistry, HelperSpec, test_helpers
from arspec.reference.vm.machine import Machine
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.profiles import INPUT_BASE, LINUX, SOLANA, STACK_BASE, Profile
from arspec.reference.vm.vm import Vm, standard_memory
from arspec.spec.errors import ArspecError, HelperFault
from arspec.spec.helpers import HELPERS_BY_NAME
from arspec.spec.loader import load_bundle, load_bundle_text

pytestmark = pytest.mark.skipif(not native.available() and os.environ.get("CI") != "true",
                                reason=f"native tier not built: {native.IMPORT_ERROR}")
PROFILES = [LINUX, SOLANA]
IDS = ["linux", "solana"]


def test_the_extension_is_built_in_ci() -> None:
    """In CI the extension must have been built: no silent fallback to the Python tier."""
    assert native.available(), native.IMPORT_ERROR
    assert native.active() == (os.environ.get("ARSPEC_NATIVE", "1") != "0")


@pytest.fixture(autouse=True)
def translate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pc is hot on its first arrival, so generated programs run in the tiers."""
    monkeypatch.setattr(fastpath, "HOT", 1)
    monkeypatch.setattr(fastpath, "STRAIGHT", 1)


Outcome = tuple[object, ...]


def outcome(program: Program, profile: Profile, data: bytes, limit: int, engine: str,
            helpers: HelperRegistry | None = None, memory: Memory | None = None,
            entry: int = 0) -> Outcome:
    """Run once; return everything an engine must reproduce."""
    memory = memory if memory is not None else standard_memory(program, profile, data)
    vm = Vm(program, profile=profile, helpers=helpers or test_helpers(), memory=memory,
            compute_limit=limit, engine=engine)
    result = vm.run(entry, (INPUT_BASE, len(data)))
    fault = result.fault
    described = None if fault is None else (type(fault).__name__, fault.pc, str(fault))
    regions = tuple(bytes(memory.region(i << 32)) if memory.is_mapped(i) else None
                    for i in (2, 3, 4))
    return (result.r0, result.instructions, result.compute_units, described, tuple(vm.regs),
            regions, result.logs)


def three_way(program: Program, profile: Profile, data: bytes = b"", limit: int = 10**6,
              helpers: HelperRegistry | None = None,
              memory: Memory | None = None) -> Outcome:
    """Assert the three engines agree; return the interpreter's outcome."""
    def fresh() -> Memory | None:
        if memory is None:
            return None
        copy = standard_memory(program, profile, data)
        for low, high, loads, reason in memory.guards:
            copy.add_guard(low, high, loads=loads, reason=reason)
        return copy
    reference = outcome(program, profile, data, limit, "interpreter", helpers, fresh())
    with native.tier(False):
        python = outcome(program, profile, data, limit, "fast", helpers, fresh())
    with native.tier(True):
        fast = outcome(program, profile, data, limit, "fast", helpers, fresh())
    assert python == reference, program
    assert fast == reference, program
    return reference


Run = tuple[int, int, int, bool]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Run]]:
    """Record every native run: (entry pc, instructions run natively, pc left at, stopped)."""
    runs: list[Run] = []
    real = native.run

    def recording(vm: Machine, prepared: native.Prepared,
                  sites: tuple[native.Site, ...]) -> int:
        pc = vm.pc
        ran = real(vm, prepared, sites)
        runs.append((pc, ran, vm.pc, vm.stopped))
        return ran
    monkeypatch.setattr(native, "run", recording)
    fastpath._cache.clear()  # no entry demoted by an earlier test
    with native.tier(True):
        yield runs


def _mov(dst: int, value: int | Reg) -> Alu:
    return Alu(AluOp.MOV, dst, value if isinstance(value, Reg) else Imm(value), True)


def _run(program: Program, profile: Profile, data: bytes = b"", limit: int = 10**6,
         helpers: HelperRegistry | None = None) -> Outcome:
    return outcome(program, profile, data, limit, "fast", helpers)


# --------------------------------------------------------------------------- agreement

@settings(max_examples=120, derandomize=True, deadline=None)
@given(generated(), st.sampled_from(PROFILES), st.binary(max_size=24), st.integers(0, 400))
def test_three_tiers_agree_on_generated_programs(program: Program, profile: Profile,
                                                 data: bytes, limit: int) -> None:
    three_way(program, profile, data, limit)


@settings(max_examples=80, derandomize=True, deadline=None)
@given(programs(max_len=12), st.sampled_from(PROFILES), st.integers(0, 200))
def test_three_tiers_agree_on_any_decodable_program(program: Program, profile: Profile,
                                                    limit: int) -> None:
    three_way(program, profile, bytes(range(16)), limit)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(generated(), st.sampled_from(PROFILES), st.binary(max_size=24), st.integers(0, 400))
def test_three_tiers_agree_on_a_large_random_sample(program: Program, profile: Profile,
                                                    data: bytes, limit: int) -> None:
    three_way(program, profile, data, limit)


ROOT = Path(__file__).parent / "conformance"


@pytest.mark.parametrize("path", VECTORS, ids=[p.relative_to(ROOT).as_posix() for p in VECTORS])
def test_three_tiers_agree_on_conformance_vector(path: Path) -> None:
    for program, profile, data, limit in vector_runs(path):
        three_way(program, profile, data, limit)


_OPS = [op for op in AluOp if op is not AluOp.MOV]
_EDGE = [0, 1, 2, 31, 32, 63, 64, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1,
         1 << 63, (1 << 64) - 1, (1 << 64) - 2]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.sampled_from(_OPS), st.sampled_from(_EDGE) | st.integers(0, (1 << 64) - 1),
       st.sampled_from(_EDGE) | st.integers(0, (1 << 64) - 1), st.booleans(),
       st.booleans(), st.sampled_from(PROFILES))
def test_every_alu_operator_on_edge_values(op: AluOp, a: int, b: int, is64: bool,
                                           by_imm: bool, profile: Profile) -> None:
    """Each operator, both widths, register or immediate operand, at the values where
    wrapping, sign extension, shift masking and division rules differ."""
    operand: Reg | Imm = Imm(((b & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) if by_imm else Reg(2)
    program = Program.from_instructions([
        LoadImm64(1, Pseudo.IMM64, a & 0xFFFFFFFF, (a >> 32) - ((a >> 63) << 32)),
        LoadImm64(2, Pseudo.IMM64, b & 0xFFFFFFFF, (b >> 32) - ((b >> 63) << 32)),
        Alu(op, 1, operand, is64), Neg(2, is64), MovSx(3, 1, 16, is64),
        Endian(EndianOp.SWAP if is64 else EndianOp.BE, 1, 32), _mov(0, Reg(1)), Exit()])
    three_way(program, profile)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.sampled_from(list(JmpCond)), st.sampled_from(_EDGE), st.sampled_from(_EDGE),
       st.booleans())
def test_every_jump_condition_on_edge_values(cond: JmpCond, a: int, b: int, is64: bool) -> None:
    program = Program.from_instructions([
        LoadImm64(1, Pseudo.IMM64, a & 0xFFFFFFFF, (a >> 32) - ((a >> 63) << 32)),
        LoadImm64(2, Pseudo.IMM64, b & 0xFFFFFFFF, (b >> 32) - ((b >> 63) << 32)),
        _mov(0, 1), Jump(cond, 1, Reg(2), 1, is64), _mov(0, 2), Exit()])
    assert three_way(program, LINUX)[0] in (1, 2)


# --------------------------------------------------------------------------- the budget

LOOP = Program.from_instructions([
    _mov(1, 30), _mov(0, 0), Store(8, 10, -8, Reg(1)), Load(8, 2, 10, -8),
    Alu(AluOp.ADD, 0, Reg(2), True), Alu(AluOp.SUB, 1, Imm(1), True),
    Jump(JmpCond.NE, 1, Imm(0), -5, True), Exit()])


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_budget_exhausted_at_every_point_of_a_loop(profile: Profile) -> None:
    total = three_way(LOOP, profile)[1]
    assert isinstance(total, int) and total == 2 + 5 * 30 + 1
    for limit in range(total + 1):
        result = three_way(LOOP, profile, limit=limit)
        assert result[1] == limit
        assert (result[3] is None) == (limit == total)


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_budget_stops_native_before_the_instruction(profile: Profile, spy: list[Run]) -> None:
    result = _run(LOOP, profile, limit=40)
    assert result[3] is not None and result[3][0] == "InstructionLimit"
    pc = result[3][1]
    assert spy and spy[-1][2] == pc and spy[-1][1] == 40 and not spy[-1][3]


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("limit", [0, 1, 3, 4, 103, 104, 105, 1000])
def test_helper_cost_that_does_not_fit(profile: Profile, limit: int) -> None:
    """``expensive_no_op`` costs 100 more: the call is left to Python when it does not fit,
    which charges the budget to its end and faults as the interpreter does."""
    imm = 7 if profile is LINUX else helper_hash("expensive_no_op")
    program = Program.from_instructions([_mov(0, 1), Call(imm), Call(imm), _mov(0, 5), Exit()])
    three_way(program, profile, limit=limit)


# --------------------------------------------------------------------------- memory edges

def _load_at(offset: int, size: int, base: int = 1) -> Program:
    return Program.from_instructions([
        _mov(0, 7), Load(size, 3, base, offset), _mov(0, Reg(3)), Exit()])


def _store_at(offset: int, size: int, base: int = 1) -> Program:
    return Program.from_instructions([
        _mov(0, 7), Store(size, base, offset, Imm(-1)), Load(size, 0, base, offset), Exit()])


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("delta", [-1, 0, 1, 4096])
def test_input_window_edges(profile: Profile, size: int, delta: int, spy: list[Run]) -> None:
    """Accesses ending at the last byte (delta 0), one byte past it, and far past it: the
    native loop runs the first and leaves the others to Python at the access."""
    data = bytes(range(40))
    offset = len(data) - size + delta
    for program in (_load_at(offset, size), _store_at(offset, size)):
        result = three_way(program, profile, data)
        assert (result[3] is None) == (delta <= 0)
        assert spy[-1][3] if delta <= 0 else spy[-1][:3] == (0, 1, 1)


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("offset", [-1, -8, -512, -513, -4096, -4097, 0, 8])
def test_stack_frame_edges(profile: Profile, offset: int) -> None:
    for size in (1, 8):
        three_way(_load_at(offset, size, base=10), profile)
        three_way(_store_at(offset, size, base=10), profile)


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_write_to_the_read_only_code_region(profile: Profile) -> None:
    program = Program.from_instructions([
        LoadImm64(1, Pseudo.CODE_ADDR, 0, 0), Load(8, 0, 1, 0), Store(1, 1, 0, Imm(1)),
        Exit()])
    result = three_way(program, profile)
    assert result[3] is not None and result[3][0] == "MemoryFault" and result[3][1] == 3


@pytest.mark.parametrize("address", [0, 8, (1 << 32) - 8, 99 << 32, (1 << 64) - 8])
def test_unmapped_and_null_addresses(address: int) -> None:
    program = Program.from_instructions([
        LoadImm64(1, Pseudo.IMM64, address & 0xFFFFFFFF,
                  (address >> 32) - ((address >> 63) << 32)),
        Load(8, 0, 1, 0), Exit()])
    for profile in PROFILES:
        assert three_way(program, profile)[3] is not None


@pytest.mark.parametrize("loads", [False, True])
@pytest.mark.parametrize("offset", [0, 8, 16, 24])
def test_guarded_ranges_are_left_to_python(loads: bool, offset: int, spy: list[Run]) -> None:
    """A region holding a guarded range has no native window: every access to it goes to
    Python, which faults on the guarded bytes and lets the others through."""
    program = Program.from_instructions([
        Load(8, 2, 1, offset), Store(8, 1, offset, Imm(5)), Load(8, 0, 1, offset), Exit()])
    data = bytes(range(32))
    memory = standard_memory(program, LINUX, data)
    memory.add_guard(INPUT_BASE + 16, INPUT_BASE + 24, loads=loads, reason="guarded")
    result = three_way(program, LINUX, data, memory=memory)
    assert (result[3] is None) == (offset != 16)
    assert spy and spy[0][1] == 0  # the first load was left to Python, not run natively


# --------------------------------------------------------------------------- division

@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("op", [AluOp.DIV, AluOp.MOD, AluOp.SDIV, AluOp.SMOD])
@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("divisor", [0, -1])
def test_division_by_zero_and_overflow(profile: Profile, op: AluOp, is64: bool, divisor: int,
                                       spy: list[Run]) -> None:
    minimum = (1 << 63) if is64 else (1 << 31)
    program = Program.from_instructions([
        LoadImm64(1, Pseudo.IMM64, minimum & 0xFFFFFFFF, minimum >> 32), _mov(2, divisor),
        Alu(op, 1, Reg(2), is64), _mov(0, Reg(1)), Exit()])
    result = three_way(program, profile)
    spy.clear()
    _run(program, profile)
    faults = profile.division_faults and (divisor == 0 or op in (AluOp.SDIV, AluOp.SMOD))
    assert (result[3] is not None) == faults
    if faults:
        assert spy[0][2] == 3 and spy[0][1] == 2  # left to Python at the division
    else:
        assert spy[0][3] and spy[0][1] == 5  # run to the exit natively


# --------------------------------------------------------------------------- calls

def _recursion(depth_register: int = 1) -> Program:
    return Program.from_instructions([
        _mov(1, 0), CallLocal(1), Exit(),
        Alu(AluOp.ADD, 1, Imm(1), True), Store(8, 10, -8, Reg(1)),
        Jump(JmpCond.GE, 1, Imm(100), 1, True), CallLocal(-4),
        Load(8, 0, 10, -8), Exit()])


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_deep_local_calls_hit_the_frame_limit(profile: Profile, spy: list[Run]) -> None:
    result = three_way(_recursion(), profile)
    assert result[3] is not None and result[3][0] == "CallDepthExceeded"
    spy.clear()
    _run(_recursion(), profile)
    assert spy[0][2] == 6 and spy[0][1] > 20  # the call past the limit is Python's


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("limit", [5, 17, 40, 200])
def test_local_calls_and_returns_across_hand_offs(profile: Profile, limit: int) -> None:
    """A callee calling a heavy helper (left to Python) on the caller's stack slot: the
    frame pushed natively is written back to the machine, and the callee's ``exit`` pops
    it from there natively."""
    program = Program.from_instructions([
        _mov(6, 6), Store(8, 10, -8, Imm(0)),
        _mov(1, Reg(10)), Alu(AluOp.ADD, 1, Imm(-8), True), CallLocal(4),
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -5, True),
        Load(8, 0, 10, -8), Exit(),
        _mov(2, 3), Call(2), Atomic(AtomicOp.ADD, 8, 1, 0, 0, False), Exit()])
    three_way(program, profile, limit=limit, helpers=_writing_helpers(False))


def test_return_into_a_frame_python_holds_runs_natively(spy: list[Run]) -> None:
    program = Program.from_instructions([
        _mov(6, 3), _mov(1, Reg(10)), Alu(AluOp.ADD, 1, Imm(-8), True), CallLocal(3),
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -5, True), Exit(),
        _mov(2, 3), Call(2), Exit()])
    three_way(program, LINUX, helpers=_writing_helpers(False))
    spy.clear()
    _run(program, LINUX, helpers=_writing_helpers(False))
    # each native run after the helper returns through the frame and reaches the next call
    assert [(s[0], s[2]) for s in spy] == [(0, 8), (9, 8), (9, 8), (9, 6)]
    assert spy[-1][3]


def test_callx_and_helper_callbacks_are_left_to_python(spy: list[Run]) -> None:
    program = Program.from_instructions([
        LoadImm64(1, Pseudo.CODE_ADDR, 5, 0), _mov(2, 3), _mov(3, 10), Call(8), Exit(),
        Alu(AluOp.ADD, 1, Reg(2), True), _mov(0, Reg(1)), Exit()])
    result = three_way(program, LINUX)
    assert result[0] == 0 + 1 + 2 + 3 * 10
    callx = Program.from_instructions([
        LoadImm64(2, Pseudo.CODE_ADDR, 3, 0), Callx(2), Exit(), _mov(0, 9), Exit()])
    three_way(callx, LINUX)
    spy.clear()
    _run(callx, LINUX)
    assert spy[0][2] == 2  # callx is Python's


# --------------------------------------------------------------------------- helpers

@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_light_helper_fault_leaves_the_machine_as_the_interpreter(profile: Profile) -> None:
    """``memfrob`` on a range running off the input faults inside the helper; ``abort``
    faults at once: both counted and charged at the call's pc."""
    memfrob = 2 if profile is LINUX else helper_hash("memfrob")
    abort = 6 if profile is LINUX else helper_hash("abort")
    for length in (8, 40, 41):
        program = Program.from_instructions([
            _mov(6, 3), _mov(2, length), Call(memfrob), Alu(AluOp.SUB, 6, Imm(1), True),
            Jump(JmpCond.NE, 6, Imm(0), -4, True), Call(abort), Exit()])
        result = three_way(program, profile, bytes(range(40)))
        assert result[3] is not None


def _writing_helpers(fault_after: bool) -> HelperRegistry:
    def write_then_fault(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                         r5: int) -> int:
        ctx.memory.store(ctx.pc, r1, 8, 0xABCDEF)
        if fault_after and r2 == 0:
            raise HelperFault(ctx.pc, "scribbled, then failed")
        return r2 * 3
    return HelperRegistry((HelperSpec(1, "scribble", write_then_fault, cost=2, light=True),
                           HelperSpec(2, "heavy", write_then_fault, cost=2)))


@pytest.mark.parametrize("fault_after", [False, True])
@pytest.mark.parametrize("call", [1, 2])
@pytest.mark.parametrize("limit", [3, 30, 31, 32, 10**6])
def test_helpers_writing_memory(fault_after: bool, call: int, limit: int) -> None:
    """A light helper runs from C, a heavy one from Python; both write the input bytes the
    native loop reads next, and a fault after the write keeps the written bytes."""
    program = Program.from_instructions([
        _mov(2, 4), Call(call), Load(8, 3, 1, 0),
        Alu(AluOp.ADD, 0, Reg(3), True), Alu(AluOp.SUB, 2, Imm(1), True),
        Jump(JmpCond.SGE, 2, Imm(0), -5, True), Exit()])
    three_way(program, LINUX, bytes(16), limit, _writing_helpers(fault_after))


def test_heavy_and_refused_helpers_are_left_to_python(spy: list[Run]) -> None:
    registry = _writing_helpers(False)
    program = Program.from_instructions([
        _mov(2, 1), Call(2), Call(1), Call(99), Exit()])
    result = three_way(program, LINUX, bytes(16), helpers=registry)
    assert result[3] is not None and result[3][0] == "HelperFault" and result[3][1] == 3
    spy.clear()
    _run(program, LINUX, bytes(16), helpers=registry)
    # native to the heavy call; Python runs it; native runs the light call, stops at 99.
    assert [(s[0], s[2]) for s in spy[:2]] == [(0, 1), (2, 3)]


def test_nondeterministic_helper_refused_in_solana() -> None:
    def clock(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        return 12345
    registry = HelperRegistry((HelperSpec(1, "clock", clock, deterministic=False,
                                          light=True),))
    for profile in PROFILES:
        imm = 1 if profile is LINUX else helper_hash("clock")
        program = Program.from_instructions([Call(imm), Exit()])
        result = three_way(program, profile, helpers=registry)
        assert (result[3] is None) == (profile is LINUX)


# --------------------------------------------------------------------------- metered helpers

def _metered_helpers(fault_at: int | None) -> HelperRegistry:
    """``meter`` (id 3): costs 2, stores r2 at r1, logs, charges ``r2`` units itself, then
    faults when r2 equals ``fault_at``; ``sqrti`` stays light (id 4)."""
    def meter(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        ctx.memory.store(ctx.pc, r1, 8, r2)
        ctx.log(f"meter {r2}")
        ctx.charge(r2)
        if r2 == fault_at:
            raise HelperFault(ctx.pc, f"metered, then failed at {r2}")
        return r2 * 5
    base = test_helpers()
    return HelperRegistry((HelperSpec(3, "meter", meter, cost=2, metered=True),
                           *(spec for spec in base if spec.id == 4)))


def _metered_loop(turns: int) -> Program:
    """``turns`` calls of ``meter`` with r2 = 1, 2, ... storing into the input, a load of the
    stored word and a light call between them."""
    return Program.from_instructions([
        _mov(6, 0), _mov(8, 0),
        Alu(AluOp.ADD, 6, Imm(1), True), LoadImm64(1, Pseudo.IMM64, INPUT_BASE & 0xFFFFFFFF,
                                                   INPUT_BASE >> 32),
        _mov(2, Reg(6)), Call(3), Alu(AluOp.ADD, 8, Reg(0), True),
        Load(8, 7, 1, 0), Alu(AluOp.ADD, 8, Reg(7), True), _mov(1, Reg(8)), Call(4),
        Alu(AluOp.ADD, 8, Reg(0), True),
        Jump(JmpCond.NE, 6, Imm(turns), -12, True), _mov(0, Reg(8)), Exit()])


def test_metered_loop_every_limit() -> None:
    """The budget runs out at every point of the loop: at the call instruction, in the
    helper's fixed cost, in what it charges itself and on the instructions just after."""
    program = _metered_loop(6)
    registry = _metered_helpers(None)
    full = three_way(program, LINUX, bytes(16), helpers=registry)
    total = full[2]
    assert full[3] is None and isinstance(total, int)
    assert full[6] == tuple(f"meter {k}" for k in range(1, 7))
    for limit in range(0, total + 2):
        result = three_way(program, LINUX, bytes(16), limit, registry)
        assert (result[3] is None) == (limit >= total)


@pytest.mark.parametrize("fault_at", [1, 3, 6])
@pytest.mark.parametrize("limit", [10, 29, 30, 31, 10**6])
def test_metered_helper_fault_keeps_its_writes_and_logs(fault_at: int, limit: int) -> None:
    result = three_way(_metered_loop(6), LINUX, bytes(16), limit, _metered_helpers(fault_at))
    assert result[3] is not None
    if limit == 10**6:
        assert result[3][:2] == ("HelperFault", 6)
        assert result[6][-1] == f"meter {fault_at}"


def test_metered_helpers_run_natively(spy: list[Run]) -> None:
    """The loop around the metered call runs in one native run: the call is not left to
    Python, and no entry is demoted."""
    program = _metered_loop(200)
    result = _run(program, LINUX, bytes(16), helpers=_metered_helpers(None))
    assert result[3] is None
    assert len(spy) == 1 and spy[0][3] and spy[0][1] == result[1]
    assert not fastpath.translations(program, LINUX).demoted


def test_metered_site_carries_the_flag() -> None:
    program = _metered_loop(1)
    vm = Vm(program, profile=LINUX, helpers=_metered_helpers(None),
            memory=standard_memory(program, LINUX, bytes(16)))
    sites = native.helper_sites(native.prepare(program, LINUX), vm)
    assert [site[2:] if site else None for site in sites] == [(2, True), (0, False)]


def test_invalid_metered_mark_reads_stale_counters_when_light() -> None:
    """Marked light, a helper that charges would run on counters the native loop holds
    back: the three-way comparison must see it (the comparison can fail)."""
    def meter(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        ctx.charge(r2)
        return ctx.vm.units
    program = _metered_loop(4)
    outcomes = []
    for light in (False, True):
        registry = HelperRegistry((
            HelperSpec(3, "meter", meter, light=light, metered=not light),
            *(spec for spec in test_helpers() if spec.id == 4)))
        reference = outcome(program, LINUX, bytes(16), 10**6, "interpreter", registry)
        with native.tier(True):
            fast = outcome(program, LINUX, bytes(16), 10**6, "fast", registry)
        outcomes.append(fast == reference)
    assert outcomes == [True, False]


METERED_SYSCALLS = sorted(spec.name for spec in solana_syscalls() if spec.metered)
METERED_HELPERS = sorted(name for name in LIGHT_HELPERS
                         if HELPERS_BY_NAME[name].size_arg is not None)


@pytest.mark.parametrize("name", METERED_SYSCALLS)
@settings(max_examples=6, derandomize=True, deadline=None)
@given(data=st.data())
def test_metered_syscall_three_tiers(name: str, data: st.DataObject) -> None:
    """The drawn syscall loops of ``tests/test_light_helpers.py``, with a limit that often
    runs out inside a call or just after it, on the interpreter and both tiers."""
    program, memory = data.draw(syscall_cases(name))
    spans: Spans = []
    full = run_syscalls(program, memory, 10**7, "interpreter",
                        recording(solana_syscalls(), spans, name))
    assert isinstance(full[2], int)
    limit = data.draw(limits(spans, full[2]))
    reference = run_syscalls(program, memory, limit, "interpreter", solana_syscalls())
    for tier in (False, True):
        with native.tier(tier):
            assert run_syscalls(program, memory, limit, "fast", solana_syscalls()) == reference


@pytest.mark.parametrize("name", METERED_HELPERS)
@settings(max_examples=5, derandomize=True, deadline=None)
@given(data=st.data())
def test_metered_runtime_helper_three_tiers(name: str, data: st.DataObject) -> None:
    """The drawn runtime helper loops of ``tests/test_light_helpers.py`` (maps, ring buffer,
    accounts, dynptrs, logs), on the interpreter and both tiers."""
    code = data.draw(helper_cases(name))
    bundle = load_bundle_text(BUNDLE.format(code=code), filename="metered.yaml")
    spans: Spans = []
    full = run_helpers(bundle, 10**7, "interpreter", lambda r: recording(r, spans, name))
    limit = data.draw(limits(spans, full[0].compute_units))  # type: ignore[attr-defined]
    reference = run_helpers(bundle, limit, "interpreter")
    for tier in (False, True):
        with native.tier(tier):
            assert run_helpers(bundle, limit, "fast") == reference


# --------------------------------------------------------------------------- preparation

@pytest.mark.parametrize("insn", [
    Atomic(AtomicOp.ADD, 2, 10, 1, -8, False), Callx(1), LegacyLoad(LegacyMode.ABS, 4, 0, 0),
    LoadImm64(1, Pseudo.MAP_FD, 1, 0), Ja(40), Jump(JmpCond.EQ, 1, Imm(0), -9, True),
    CallLocal(7), Alu(AluOp.ADD, 10, Imm(1), True), Load(3, 1, 2, 0),
    Endian(EndianOp.LE, 1, 24),
], ids=repr)
def test_instructions_the_native_loop_leaves_to_python(insn: Instruction) -> None:
    program = Program.from_instructions([insn, Exit()])
    prepared = native.prepare(program, LINUX)
    assert prepared.code[0] == native.OPCODES["HANDOFF"]
    assert prepared.native_slots == 1  # only the exit


def test_profile_choices_are_made_when_preparing() -> None:
    program = Program.from_instructions([Alu(AluOp.MUL, 1, Imm(-3), False), Exit()])
    assert native.prepare(program, LINUX).code[0] == native.OPCODES["MUL32"]
    assert native.prepare(program, SOLANA).code[0] == native.OPCODES["MUL32SX"]
    assert native.prepare(program, SOLANA).params[4] == 1
    assert native.prepare(program, LINUX).params[:4] == (1, 512, 7, STACK_BASE)


def test_memory_subclass_gets_no_windows(spy: list[Run]) -> None:
    class Logged(Memory):
        __slots__ = ()

        def load(self, pc: int, address: int, size: int) -> int:
            return super().load(pc, address, size) ^ 1
    program = _load_at(0, 8)
    memory = standard_memory(program, LINUX, bytes(8))
    memory.__class__ = Logged
    assert not native.windowed(memory)
    vm = Vm(program, profile=LINUX, helpers=test_helpers(), memory=memory, engine="fast")
    assert vm.run(0, (INPUT_BASE, 8)).r0 == 1  # the subclass's load ran
    assert spy == []  # a memory with its own load runs on the interpreter (Memory.windows)


def test_turned_off_by_the_environment() -> None:
    env = {**os.environ, "ARSPEC_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-m", "arspec.reference.vm.native"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("fast engine tier: python")
    env["ARSPEC_NATIVE"] = "1"
    out = subprocess.run([sys.executable, "-m", "arspec.reference.vm.native"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("fast engine tier: native")


def test_short_runs_demote_their_entry_to_the_python_tier() -> None:
    """A loop whose every turn calls a heavy helper: native runs of a few instructions
    between Python steps are demoted, and the Python tier's unit takes over."""
    registry = _writing_helpers(False)
    program = Program.from_instructions([
        _mov(6, 200), _mov(2, 1), Call(2),
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -3, True), Exit()])
    with native.tier(True):
        three_way(program, LINUX, bytes(16), helpers=registry)
        found = fastpath.translations(program, LINUX)
        assert found.demoted and found.units


def test_a_hand_off_before_a_long_native_run_is_not_short(spy: list[Run]) -> None:
    """Two heavy helper calls at the start, then a long loop: the runs up to the calls are
    short, but each comes once per run of the machine, so they stay native however often
    the program runs."""
    registry = _writing_helpers(False)
    program = Program.from_instructions([
        _mov(2, 1), Call(2), Call(2), _mov(6, 200),
        Alu(AluOp.ADD, 0, Reg(6), True), Alu(AluOp.SUB, 6, Imm(1), True),
        Jump(JmpCond.NE, 6, Imm(0), -3, True), Exit()])
    for _ in range(3 * native.DEMOTE):
        three_way(program, LINUX, bytes(16), helpers=registry)
    found = fastpath.translations(program, LINUX)
    assert not found.demoted and not found.short
    spy.clear()
    result = _run(program, LINUX, bytes(16), helpers=registry)
    assert [(s[0], s[2], s[3]) for s in spy] == [(0, 1, False), (2, 2, False), (3, 7, True)]
    assert spy[2][1] == result[1] - 3 and result[0] == 3 + 200 * 201 // 2


EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_native_tier_agrees_on_example_bundle_runs(path: Path) -> None:
    """The runtime's whole run report (maps, ring buffers, logs, CU per invocation) is the
    same on the interpreter and on the fast engine with the native tier (every pc hot)."""
    bundle = load_bundle(path)
    slots = min(bundle.scenario.slots, 40)
    reports = []
    for engine in ("interpreter", "fast"):
        try:
            with native.tier(True):
                reports.append(render_json(run_bundle(bundle, slots=slots,
                                                      base_dir=path.parent, engine=engine)))
        except ArspecError as error:  # a bundle the runtime refuses at load
            reports.append(str(error))
    assert reports[1] == reports[0]


def test_a_register_out_of_range_is_left_to_python() -> None:
    """A register some helper left outside 0..2**64-1 is not converted: nothing runs
    natively and the machine is untouched, so the interpreter's step decides."""
    program = Program.from_instructions([_mov(0, 1), Exit()])
    vm = Vm(program, profile=LINUX, memory=standard_memory(program, LINUX), engine="fast")
    vm.regs[3] = -5
    before = (list(vm.regs), vm.pc, vm.instructions, vm.units, vm.stopped)
    assert native.run(vm, native.prepare(program, LINUX), ()) == 0
    assert (list(vm.regs), vm.pc, vm.instructions, vm.units, vm.stopped) == before


def test_ctrl_c_interrupts_a_long_native_run() -> None:
    """The C loop lets signal handlers run: an endless loop stops on SIGINT with the
    machine state whole, as the Python tiers do."""
    script = (
        "from arspec.reference.isa.instructions import *\n"
        "from arspec.reference.vm.vm import execute\n"
        "p = Program.from_instructions([Alu(AluOp.ADD, 0, Imm(1), True), Ja(-2)])\n"
        "print('started', flush=True)\n"
        "execute(p, compute_limit=10**15, engine='fast')\n")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("op", list(AtomicOp))
@pytest.mark.parametrize("size", [4, 8])
@pytest.mark.parametrize("fetch", [False, True])
def test_atomics(profile: Profile, op: AtomicOp, size: int, fetch: bool) -> None:
    """Every atomic on the stack and the input (matching and failing ``cmpxchg``), at the
    input's last word and one past it, and on the read-only code (a fault even when
    ``cmpxchg`` compares unequal, as it always writes)."""
    data = bytes(range(200, 232))
    for base, offset in ((10, -16), (1, 0), (1, 32 - size), (1, 33 - size)):
        for r0 in (0, 0xCFCECDCC, 0xD7D6D5D4D3D2D1D0):
            program = Program.from_instructions([
                _mov(2, -3), Store(8, 10, -16, Imm(7)),
                LoadImm64(0, Pseudo.IMM64, r0 & 0xFFFFFFFF, r0 >> 32),
                Atomic(op, size, base, 2, offset, fetch), Load(8, 3, base, offset),
                Alu(AluOp.ADD, 0, Reg(3), True), Alu(AluOp.ADD, 0, Reg(2), True), Exit()])
            three_way(program, profile, data)
    code = Program.from_instructions([
        LoadImm64(1, Pseudo.CODE_ADDR, 0, 0), _mov(0, 1234),
        Atomic(op, size, 1, 2, 0, fetch), Exit()])
    result = three_way(code, profile)
    assert result[3] is not None and result[3][0] == "MemoryFault" and result[3][1] == 3


def test_atomics_run_natively(spy: list[Run]) -> None:
    program = Program.from_instructions([
        _mov(6, 100), Store(8, 10, -8, Imm(0)), _mov(1, 2),
        Atomic(AtomicOp.ADD, 8, 10, 1, -8, False), Alu(AluOp.SUB, 6, Imm(1), True),
        Jump(JmpCond.NE, 6, Imm(0), -3, True), Load(8, 0, 10, -8), Exit()])
    assert three_way(program, LINUX)[0] == 200
    spy.clear()
    _run(program, LINUX)
    assert len(spy) == 1 and spy[0][3] and spy[0][1] == 3 + 3 * 100 + 2


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("entry", [-1, 2, 3, 1 << 64])
def test_a_pc_off_the_code_is_left_to_python(profile: Profile, entry: int) -> None:
    """A pc past the end or negative is the interpreter's overrun (charged as it charges)."""
    program = Program.from_instructions([_mov(0, 1), Exit()])
    vm = Vm(program, profile=profile, memory=standard_memory(program, profile), engine="fast")
    vm.pc = entry
    assert native.run(vm, native.prepare(program, profile), ()) == 0
    assert vm.pc == entry and vm.instructions == 0 and vm.units == 0


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
@pytest.mark.parametrize("name", sorted(_bench_loops()))
def test_three_tiers_agree_on_the_benchmark_loops(name: str, profile: Profile,
                                                  spy: list[Run]) -> None:
    build = _bench_loops()[name]
    assert callable(build)
    program = build(300, profile)
    result = three_way(program, profile, bytes(range(256)))
    assert result[3] is None and isinstance(result[1], int) and result[1] > 300
    assert spy and sum(run[1] for run in spy) > 300  # the loop ran natively


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(promoted_ops, min_size=1, max_size=12), st.sampled_from(PROFILES),
       st.integers(1, 6), st.integers(0, 300))
def test_three_tiers_agree_on_stack_slot_loops(body: list[Instruction], profile: Profile,
                                               turns: int, limit: int) -> None:
    """Loops over stack slots, pointers into them (some outside the frame), atomics on them
    and helpers that write them or cost units (the Python tier's slot generator)."""
    program = Program.from_instructions([
        _mov(6, turns), Alu(AluOp.MOV, 7, Reg(10), True), Alu(AluOp.ADD, 7, Imm(-8), True),
        Alu(AluOp.MOV, 8, Reg(10), True), Alu(AluOp.ADD, 8, Imm(-16), True),
        Store(8, 10, -8, Imm(1)), Store(8, 10, -16, Imm(2)), Store(8, 10, -24, Imm(3)),
        *body, Alu(AluOp.SUB, 6, Imm(1), True),
        Jump(JmpCond.NE, 6, Imm(0), -(len(body) + 2), True), _mov(0, Reg(1)), Exit()])
    three_way(program, profile, bytes(range(16)), limit)
