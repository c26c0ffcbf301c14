"""The compiled fast path is pinned to the interpreter on generated programs.

Both engines run the same program on the same fresh memory; the result (r0, counters, fault
class, pc and message), the final registers and every byte of memory must be identical,
including when a fault or the compute limit hits in the middle of a block.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import programs

from arspec.reference.differential.conformance import find_data_files, load_program, parse_data_file
from arspec.reference.isa.instructions import (
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
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.run_report import render_json
from arspec.reference.runtime.runner import run_bundle
from arspec.reference.vm import fastpath, native
from arspec.reference.vm.helpers import HelperContext, HelperRegistry, HelperSpec, test_helpers
from arspec.reference.vm.load_checks import check_program
from arspec.reference.vm.profiles import INPUT_BASE, LINUX, SOLANA, Profile, get_profile
from arspec.reference.vm.translate import (
    LIGHT_FREE,
    MAX_BLOCK,
    MAX_UNIT,
    Translator,
    promotable,
)
from arspec.reference.vm.translate_insn import NEXT
from arspec.reference.vm.vm import Vm, standard_memory
from arspec.spec.errors import (
    ArspecError,
    DecodeError,
    HelperFault,
    InputError,
    InstructionLimit,
    MemoryFault,
)
from arspec.spec.loader import load_bundle, load_bundle_text


@pytest.fixture(autouse=True)
def python_tier() -> Iterator[None]:
    """Pin the pure-Python tier here; tests/test_native.py compares the native tier too."""
    with native.tier(False):
        yield


@pytest.fixture(autouse=True)
def translate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Translate every pc on its first arrival, so the generated programs run translated."""
    monkeypatch.setattr(fastpath, "HOT", 1)
    monkeypatch.setattr(fastpath, "STRAIGHT", 1)


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
        st.builds(LoadImm64, regs, st.sampled_from([Pseudo.MAP_FD, Pseudo.MAP_VALUE]), imms,
                  imms),
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


def helper_hash(name: str) -> int:
    """Return the solana ``call`` immediate of a test helper (murmur3 of its name)."""
    value = murmur3_32(name.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


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


@settings(max_examples=100, derandomize=True, deadline=None)
@given(generated(), st.sampled_from([LINUX, SOLANA]), st.binary(max_size=24),
       st.integers(0, 400))
def test_fast_path_matches_interpreter(program: Program, profile: Profile, data: bytes,
                                       limit: int) -> None:
    agree(program, profile, data, limit)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(generated(), st.sampled_from([LINUX, SOLANA]), st.binary(max_size=24),
       st.integers(0, 400))
def test_fast_path_matches_interpreter_on_a_large_random_sample(
        program: Program, profile: Profile, data: bytes, limit: int) -> None:
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


# --------------------------------------------------------------------------- conformance vectors

ROOT = Path(__file__).parent / "conformance"
VECTORS = find_data_files(ROOT)


def vector_runs(path: Path) -> Iterator[tuple[Program, Profile, bytes, int]]:
    """Yield (program, profile, input, instruction limit) for each profile in which the
    conformance vector at ``path`` loads (none when its program does not assemble)."""
    case = parse_data_file(path)
    try:
        program = load_program(case)
    except (InputError, DecodeError):
        return
    for name in case.profiles:
        profile = get_profile(name)
        try:
            check_program(program, profile)
        except ArspecError:
            continue
        yield program, profile, case.mem, case.insn_limit


@pytest.mark.parametrize("path", VECTORS, ids=[p.relative_to(ROOT).as_posix() for p in VECTORS])
def test_engines_agree_on_conformance_vector(path: Path) -> None:
    for program, profile, data, limit in vector_runs(path):
        agree(program, profile, data, limit)


# --------------------------------------------------------------------------- runtime bundles

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_engines_agree_on_example_bundle_runs(path: Path) -> None:
    bundle = load_bundle(path)
    slots = min(bundle.scenario.slots, 40)
    reports = []
    for engine in ("interpreter", "fast"):
        try:
            reports.append(render_json(run_bundle(bundle, slots=slots, base_dir=path.parent,
                                                  engine=engine)))
        except ArspecError as error:  # a bundle the runtime refuses at load
            reports.append(str(error))
    assert reports[1] == reports[0]


# --------------------------------------------------------------------------- helpers, regions

def _helper_loop(call: int, count: int) -> Program:
    """r6 counts down from ``count``; each turn loads input[0], calls ``call``, stores r0."""
    return Program.from_instructions([
        Alu(AluOp.MOV, 6, Imm(count), True), Alu(AluOp.MOV, 7, Reg(1), True),
        Load(8, 1, 7, 0), Call(call), Store(8, 7, 8, Reg(0)), Alu(AluOp.ADD, 8, Reg(0), True),
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -6, True),
        Alu(AluOp.MOV, 0, Reg(8), True), Exit()])


def _unmapping_helpers() -> HelperRegistry:
    """Helper 9 unmaps the input region on its third call (as a ring-buffer submit does)."""
    calls = []

    def unmap(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        calls.append(r1)
        if len(calls) == 3:
            ctx.memory.remove_region(INPUT_BASE)
        return r1 + 1

    registry = test_helpers()
    registry.register(HelperSpec(9, "unmap_input", unmap, cost=5))
    return registry


@pytest.mark.parametrize("entry", [2, 3, 4])
def test_region_caches_are_dropped_after_a_helper_call(entry: int) -> None:
    # Started inside the loop (as a unit entered at a loop head is), so the sites after the
    # call run again after the next call: none may keep the region the helper unmapped.
    program = _helper_loop(9, 10)
    fastpath.translations(program, LINUX).unit(entry)
    outcomes = []
    for engine in ("interpreter", "fast"):
        memory = standard_memory(program, LINUX, bytes(16))
        vm = Vm(program, profile=LINUX, helpers=_unmapping_helpers(), memory=memory,
                engine=engine)
        vm.regs[:] = [0, INPUT_BASE, 0, 0, 0, 0, 10, INPUT_BASE, 0, 0, vm.regs[10]]
        vm.pc = entry
        with pytest.raises(MemoryFault) as fault:
            if engine == "fast":
                fastpath.run_fast(vm)
            else:
                vm.run_interpreter()
        outcomes.append((vm.instructions, vm.units, str(fault.value), tuple(vm.regs)))
    assert outcomes[0] == outcomes[1]
    assert "unmapped region 4" in outcomes[0][2]


@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
def test_compute_limit_at_every_point_of_a_helper_loop(profile: Profile) -> None:
    helper = 7 if profile is LINUX else helper_hash("expensive_no_op")
    program = _helper_loop(helper, 3)
    full = agree(program, profile, bytes(16), 10**6)
    total = full[2]
    assert isinstance(total, int) and full[3] is None
    for limit in range(total + 1):
        result = agree(program, profile, bytes(16), limit)
        assert (result[3] is None) == (limit == total)


def _charging_helpers(cost: int) -> HelperRegistry:
    """Metered helper 9 charges 2 units plus the low byte of r1 itself (as a length-dependent
    syscall cost does), on top of a fixed ``cost``, and returns r1 + 1."""
    def metered(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        ctx.charge(2 + (r1 & 0xFF))
        return r1 + 1

    registry = test_helpers()
    registry.register(HelperSpec(9, "metered", metered, cost=cost, metered=True))
    return registry


@pytest.mark.parametrize("cost", [0, 3])
@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
def test_compute_limit_at_every_point_of_a_charging_helper_loop(profile: Profile,
                                                               cost: int) -> None:
    # The call's fixed cost and what the helper charges run out at every possible unit,
    # in the light path from the fifth turn on (each of the four copies of the call in
    # the two units takes the full path on its first call): faults and counters as the
    # interpreter's.
    program = _helper_loop(9 if profile is LINUX else helper_hash("metered"), 8)
    # Charges larger than a turn: the light path itself meets the limit.
    data = bytes([40]) + bytes(15)

    def run(limit: int, engine: str) -> tuple[object, ...]:
        memory = standard_memory(program, profile, data)
        vm = Vm(program, profile=profile, helpers=_charging_helpers(cost), memory=memory,
                compute_limit=limit, engine=engine)
        result = vm.run(0, (INPUT_BASE, len(data)))
        fault = None if result.fault is None else (type(result.fault).__name__,
                                                   result.fault.pc, str(result.fault))
        return (result.r0, result.instructions, result.compute_units, fault,
                tuple(vm.regs), bytes(memory.region(INPUT_BASE)))

    total = run(10**6, "interpreter")[2]
    assert total == 8 * (6 + cost + 42) + 4
    for limit in range(total + 1):
        reference = run(limit, "interpreter")
        assert run(limit, "fast") == reference
        assert (reference[3] is None) == (limit == total)


def test_unknown_helper_faults_on_its_pc_in_translated_code() -> None:
    result = agree(_helper_loop(77, 4), LINUX, bytes(16), 10**6)
    assert result[3] is not None and result[3][:2] == ("HelperFault", 3)
    assert result[1] == 4


def test_call_depth_fault_in_translated_recursion() -> None:
    recurse = Program.from_instructions([
        Store(8, 10, -8, Imm(1)), CallLocal(-2), Exit()])
    for profile in (LINUX, SOLANA):
        result = agree(recurse, profile, b"", 10**6)
        assert result[3] is not None and result[3][0] == "CallDepthExceeded"


# --------------------------------------------------------------------------- translation cost

def _straight_program(count: int) -> Program:
    return Program.from_instructions([Alu(AluOp.ADD, 0, Imm(1), True)] * count + [Exit()])


def test_loops_are_translated_and_straight_code_run_once_is_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastpath, "HOT", 16)
    monkeypatch.setattr(fastpath, "STRAIGHT", 4)
    program = _straight_program(20_000)
    for _ in range(3):
        result = agree(program, LINUX, b"", 10**6)
        assert result[0] == 20_000
    assert fastpath.translations(program, LINUX).translated == 0
    loop = Program.from_instructions([i for i in LOOP.slots if i is not None])
    found = fastpath.translations(loop, LINUX)
    agree(loop, LINUX, b"", 10**6)
    assert set(found.units) == {2}
    assert found.hits[2] == fastpath.HOT


def test_translation_is_bounded_per_unit_and_per_program(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastpath, "MAX_TRANSLATED", 3 * MAX_UNIT)
    program = _straight_program(20_000)
    for _ in range(2):
        result = agree(program, LINUX, b"", 10**6)
        assert result[0] == 20_000
    found = fastpath.translations(program, LINUX)
    assert 0 < found.translated <= 3 * MAX_UNIT
    assert len(found.units) <= 3


def test_unit_stops_at_the_size_cap() -> None:
    program = _straight_program(3 * MAX_UNIT)
    found = fastpath.translations(program, LINUX)
    found.unit(0)
    assert MAX_UNIT <= found.translated < MAX_UNIT + MAX_BLOCK


# --------------------------------------------------------------------------- store forwarding

window = st.sampled_from([-16, -12, -9, -8, -7, -4, -1, 0])
sizes = st.sampled_from([1, 2, 4, 8])
memory_ops = st.one_of(
    st.builds(Store, sizes, st.sampled_from([10, 2, 3]), window,
              st.one_of(st.integers(0, 5).map(Reg), imms.map(Imm))),
    st.builds(Load, sizes, st.integers(0, 5), st.sampled_from([10, 2, 3]), window,
              st.booleans()).map(lambda i: i if i.size < 8 else Load(8, i.dst, i.src,
                                                                     i.offset)),
    st.builds(Alu, st.sampled_from([AluOp.ADD, AluOp.MOV, AluOp.XOR]), st.integers(0, 5),
              operands, st.booleans()),
    st.builds(Alu, st.just(AluOp.ADD), st.sampled_from([2, 3]), st.sampled_from(
        [Imm(-8), Imm(8), Imm(1)]), st.just(True)),
    st.sampled_from([Call(3), Call(2)]),
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.lists(memory_ops, min_size=1, max_size=16), st.sampled_from([LINUX, SOLANA]),
       st.integers(0, 30))
def test_stores_forwarded_to_loads_match_memory(body: list[Instruction], profile: Profile,
                                                limit: int) -> None:
    # r2 and r3 alias the stack (r10 - 8, r10 - 16): loads through one register must see
    # stores through another; the loop makes the body run translated with known facts.
    program = Program.from_instructions([
        Alu(AluOp.MOV, 2, Reg(10), True), Alu(AluOp.ADD, 2, Imm(-8), True),
        Alu(AluOp.MOV, 3, Reg(10), True), Alu(AluOp.ADD, 3, Imm(-16), True),
        Alu(AluOp.MOV, 6, Imm(3), True), *body,
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -len(body) - 2, True),
        Exit()])
    agree(program, profile, bytes(range(8)), 10 * limit + 20)


# --------------------------------------------------------------------------- loop-head bounds

@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.sampled_from(list(JmpCond)), imms, st.sampled_from([1, -1, 3, -7, 0x7FFFFFFF]),
       st.integers(-3, 40), st.lists(_straight(), max_size=4), st.sampled_from([LINUX, SOLANA]),
       st.booleans())
def test_loops_specialised_on_bounds_match_the_interpreter(
        cond: JmpCond, bound: int, step: int, start: int, body: list[Instruction],
        profile: Profile, is64: bool) -> None:
    # ``r6 = start; loop: body; r6 += step; if r6 <cond> bound goto loop``: what the exit
    # test proves about r6 on the way back lets the second loop drop wrap checks.
    body = [i for i in body if not isinstance(i, LoadImm64 | Exit)]
    program = Program.from_instructions([
        Alu(AluOp.MOV, 6, Imm(start), True), *body, Alu(AluOp.ADD, 6, Imm(step), True),
        Alu(AluOp.AND, 7, Imm(0xFF), True), Alu(AluOp.ADD, 7, Reg(6), True),
        Jump(cond, 6, Imm(bound), -len(body) - 4, is64), Alu(AluOp.MOV, 0, Reg(6), True),
        Exit()])
    agree(program, profile, bytes(range(8)), 3000)


# --------------------------------------------------------------------------- local calls

@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.lists(_straight(), max_size=5), st.lists(_straight(), max_size=3),
       st.sampled_from([LINUX, SOLANA]), st.integers(0, 200))
def test_calls_inside_loops_match_the_interpreter(callee: list[Instruction],
                                                  caller: list[Instruction],
                                                  profile: Profile, limit: int) -> None:
    # A loop calling f(r6) each turn; a callee that cannot fault and leaves r6-r10 alone
    # runs without a frame, any other with one; both must look like the interpreter's.
    callee = [i for i in callee if not isinstance(i, Exit)]
    caller = [i for i in caller if not isinstance(i, Exit | LoadImm64)]
    head = [Alu(AluOp.MOV, 6, Imm(4), True), Alu(AluOp.MOV, 1, Reg(6), True)]
    loop = [*caller, Alu(AluOp.SUB, 6, Imm(1), True)]
    size = sum(2 if isinstance(i, LoadImm64) else 1 for i in loop)
    program = Program.from_instructions([
        *head, CallLocal(size + 2), *loop, Jump(JmpCond.NE, 6, Imm(0), -size - 3, True),
        Exit(), *callee, Exit()])
    agree(program, profile, bytes(range(16)), 10 * limit)


# --------------------------------------------------------------------------- shape of the code

def test_counting_loop_translates_to_one_wrap_check_per_turn() -> None:
    # The regression guard for speed that needs no clock: ``r0 += r1; r1 -= 1; if r1 != 0``
    # costs one compare-and-subtract (for r0) per turn once the loop knows r1 >= 1.
    program = Program.from_instructions([
        Alu(AluOp.MOV, 1, Imm(9), True), Alu(AluOp.MOV, 0, Imm(0), True),
        Alu(AluOp.ADD, 0, Reg(1), True), Alu(AluOp.SUB, 1, Imm(1), True),
        Jump(JmpCond.NE, 1, Imm(0), -3, True), Exit()])
    source = Translator(fastpath.translations(program, LINUX).code, 2).source()
    second = source[source.rindex("while True:"):source.index("except ExecutionFault")]
    turn = second[:second.index("continue")]
    assert "& 18446744073709551615" not in turn
    assert turn.count("18446744073709551616") == 1
    assert "r1 = r1 - 1\n" in turn


def test_nondeterministic_helper_is_refused_alike_in_solana() -> None:
    registry = test_helpers()
    registry.register(HelperSpec(10, "coin", lambda ctx, *args: 1, deterministic=False))
    program = _helper_loop(helper_hash("coin"), 3)
    outcomes = []
    for engine in ("interpreter", "fast"):
        memory = standard_memory(program, SOLANA, bytes(16))
        vm = Vm(program, profile=SOLANA, helpers=registry, memory=memory, engine=engine)
        result = vm.run(0, (INPUT_BASE, 16))
        outcomes.append((result.r0, result.instructions, result.compute_units,
                         str(result.fault), tuple(vm.regs)))
    assert outcomes[0] == outcomes[1]
    assert "nondeterministic" in outcomes[0][3]


# --------------------------------------------------------------------------- benchmark loops

@functools.cache
def _bench_loops() -> dict[str, object]:
    path = Path(__file__).parent.parent / "benchmarks" / "bench_vm.py"
    spec = importlib.util.spec_from_file_location("arspec_bench_vm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    loops: dict[str, object] = module.LOOPS
    return loops


@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
@pytest.mark.parametrize("name", sorted(_bench_loops()))
def test_engines_agree_on_the_benchmark_loops(name: str, profile: Profile) -> None:
    build = _bench_loops()[name]
    assert callable(build)
    program = build(300, profile)
    result = agree(program, profile, bytes(range(256)), 10**6)
    assert result[3] is None
    assert isinstance(result[1], int) and result[1] > 300


# --------------------------------------------------------------------------- stack slots in locals

slot_offsets = st.sampled_from([-8, -16, -24])
promoted_ops = st.one_of(
    st.builds(Store, st.just(8), st.just(10), slot_offsets,
              st.one_of(st.integers(0, 5).map(Reg), imms.map(Imm))),
    st.builds(Load, st.just(8), st.integers(0, 5), st.just(10), slot_offsets, st.just(False)),
    # Pointers to the slots (r7 = r10 - 8, r8 = r10 - 16): the same bytes through another
    # register, some of them partly or wholly outside the frame (a fault mid-loop).
    st.builds(Store, sizes, st.sampled_from([7, 8]), st.sampled_from([-8, 0, 3, 4, 8, 16]),
              st.one_of(st.integers(0, 5).map(Reg), imms.map(Imm))),
    st.builds(Load, sizes, st.integers(0, 5), st.sampled_from([7, 8]),
              st.sampled_from([-8, 0, 4, 8, 16]), st.just(False)),
    # A byte of a slot read through r10 (that slot then stays in memory), an atomic on a
    # slot (the interpreter's handler), helpers that write the slots or cost units.
    st.builds(Load, st.just(1), st.integers(0, 5), st.just(10), st.sampled_from([-16, -3]),
              st.just(False)),
    st.builds(Atomic, st.just(AtomicOp.ADD), st.just(8), st.just(10), st.integers(0, 5),
              slot_offsets, st.booleans()),
    st.builds(Alu, st.sampled_from([AluOp.ADD, AluOp.XOR]), st.integers(0, 5), operands,
              st.just(True)),
    # Values that change every turn, so a stale copy of a slot shows.
    st.builds(Alu, st.sampled_from([AluOp.ADD, AluOp.MUL]), st.integers(0, 5),
              st.just(Reg(6)), st.just(True)),
    st.sampled_from([Call(2), Call(7)]),
)


def _slot_loop(body: list[Instruction], turns: int, profile: Profile = LINUX) -> Program:
    # memfrob (helper 2) gets r1 = r10 - 24 and r2 = 24: it XORs all three slots. In solana
    # the helpers are called by the hashes of their names.
    names = {2: "memfrob", 7: "expensive_no_op"}
    prepared: list[Instruction] = []
    for insn in body:
        if insn == Call(2):
            prepared += [Alu(AluOp.MOV, 1, Reg(8), True), Alu(AluOp.ADD, 1, Imm(-8), True),
                         Alu(AluOp.MOV, 2, Imm(24), True)]
        if isinstance(insn, Call) and profile is SOLANA and insn.imm in names:
            insn = Call(helper_hash(names[insn.imm]))
        prepared.append(insn)
    return Program.from_instructions([
        Alu(AluOp.MOV, 7, Reg(10), True), Alu(AluOp.ADD, 7, Imm(-8), True),
        Alu(AluOp.MOV, 8, Reg(10), True), Alu(AluOp.ADD, 8, Imm(-16), True),
        Store(8, 10, -24, Imm(5)), Alu(AluOp.MOV, 6, Imm(turns), True), *prepared,
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -len(prepared) - 2, True),
        Load(8, 0, 10, -8), Exit()])


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(promoted_ops, min_size=1, max_size=12), st.sampled_from([LINUX, SOLANA]),
       st.integers(0, 60), st.integers(1, 4))
def test_stack_slots_kept_in_locals_match_memory(body: list[Instruction], profile: Profile,
                                                 limit: int, turns: int) -> None:
    # The loop's r10 slots live in locals: every byte of memory, the registers, the counts
    # and any fault (through a pointer to a slot, out of the frame, the compute limit
    # inside the loop, a helper writing the slots) must still be the interpreter's.
    agree(_slot_loop(body, turns, profile), profile, bytes(range(8)), 4 * limit + 8)


def _scribbling_helpers() -> HelperRegistry:
    """Light helper 9 XORs 8 bytes at r1 with r2 and, when r3 is 3, then faults (a light
    helper that wrote memory, maybe a promoted slot, before its fault)."""
    def scribble(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        ctx.memory.store(ctx.pc, r1, 8, ctx.memory.load(ctx.pc, r1, 8) ^ r2)
        if r3 == 3:
            raise HelperFault(ctx.pc, "scribbled, then failed")
        return r3 + 1

    registry = test_helpers()
    registry.register(HelperSpec(9, "scribble", scribble, cost=3, light=True))
    return registry


@pytest.mark.parametrize("limit", [10**6, 31, 40, 47])
@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
@pytest.mark.parametrize("offset", [-8, -16, 0])
def test_light_helper_writing_a_slot_in_a_local(profile: Profile, offset: int,
                                                limit: int) -> None:
    # The loop keeps r10 - 8 and r10 - 16 in locals and calls the light helper 9 on one of
    # them (or on the input): what it writes must be read back after the call, kept when
    # it then faults (fourth turn), and its cost charged as the interpreter charges it.
    call = 9 if profile is LINUX else helper_hash("scribble")
    base = [Alu(AluOp.MOV, 1, Reg(10), True), Alu(AluOp.ADD, 1, Imm(offset), True)]
    if offset == 0:
        base = [Alu(AluOp.MOV, 1, Reg(6), True)]
    program = Program.from_instructions([
        Alu(AluOp.MOV, 6, Reg(1), True), Alu(AluOp.MOV, 3, Imm(0), True),
        Store(8, 10, -8, Imm(0x1111)), Store(8, 10, -16, Imm(0x2222)),
        *base, Alu(AluOp.MOV, 2, Reg(3), True), Alu(AluOp.ADD, 2, Imm(0x40), True),
        Call(call), Alu(AluOp.MOV, 3, Reg(0), True),
        Load(8, 4, 10, -8), Load(8, 5, 10, -16), Alu(AluOp.ADD, 4, Reg(5), True),
        Store(8, 10, -16, Reg(4)), Jump(JmpCond.NE, 3, Imm(5), -11, True),
        Alu(AluOp.MOV, 0, Reg(4), True), Exit()])
    outcomes = []
    for engine in ("interpreter", "fast"):
        memory = standard_memory(program, profile, bytes(16))
        vm = Vm(program, profile=profile, helpers=_scribbling_helpers(), memory=memory,
                compute_limit=limit, engine=engine)
        result = vm.run(0, (INPUT_BASE, 16))
        fault = None if result.fault is None else (result.fault.pc, str(result.fault))
        outcomes.append((result.instructions, result.compute_units, fault, tuple(vm.regs),
                         bytes(memory.region(2 << 32)), bytes(memory.region(4 << 32))))
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][2] is not None


def _promoted_source(program: Program, entry: int) -> str:
    code = fastpath.translations(program, LINUX).code
    plain = Translator(code, entry)
    plain.source()
    slots = promotable(plain.r10_accesses)
    return Translator(code, entry, slots).source()


def test_stack_loop_keeps_its_slots_in_locals() -> None:
    # The stack loop of the benchmark: one turn touches no struct call and no bounds check.
    build = _bench_loops()["stack"]
    assert callable(build)
    program = build(10, LINUX)
    source = _promoted_source(program, 2)
    turn = source[source.index("while True:"):source.index("continue")]
    assert "v0 = " in turn and "v1 = " in turn
    assert "P8(" not in turn and "P4(" not in turn and "o = " not in turn


def test_promotable_slots_exclude_other_shapes() -> None:
    assert promotable({(-8, 8), (-16, 4)}) == {(-16, 0), (-8, 1)} or promotable(
        {(-8, 8), (-16, 4)}) == {(-16, 4): 0, (-8, 8): 1}
    assert promotable({(-8, 8), (-5, 1), (-16, 8)}) == {(-16, 8): 0}
    assert promotable({(-8, 8), (-8, 4)}) == {}
    assert promotable(set()) == {}


@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
def test_slots_outside_the_frame_run_the_plain_unit(profile: Profile) -> None:
    # A slot below r10's frame cannot live in a local: the unit hands over to the plain
    # translation, which faults as the interpreter does.
    program = Program.from_instructions([
        Alu(AluOp.MOV, 6, Imm(5), True), Store(8, 10, -8, Reg(6)),
        Store(8, 10, -(profile.stack_frame_size + 8), Reg(6)), Alu(AluOp.SUB, 6, Imm(1), True),
        Jump(JmpCond.NE, 6, Imm(0), -4, True), Exit()])
    result = agree(program, profile, b"", 10**6)
    assert result[3] is not None and result[3][0] == "MemoryFault"


def test_callbacks_run_translated() -> None:
    # ``call_back`` (helper 8) runs f(i) 64 times per call; f's loop gets translated inside
    # the callback, and the sums, counts and registers are the interpreter's.
    program = Program.from_instructions([
        Alu(AluOp.MOV, 6, Imm(3), True), Alu(AluOp.MOV, 7, Imm(0), True),
        LoadImm64(1, Pseudo.CODE_ADDR, 9, 0), Alu(AluOp.MOV, 2, Imm(64), True),
        Alu(AluOp.MOV, 3, Imm(2), True), Call(8), Alu(AluOp.ADD, 7, Reg(0), True),
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -8, True),
        Alu(AluOp.MOV, 0, Reg(7), True), Exit(),
        # f(i, k): r0 = sum of i * k over a 3-turn loop, kept on the stack.
        Alu(AluOp.MOV, 0, Imm(0), True), Alu(AluOp.MOV, 4, Imm(3), True),
        Store(8, 10, -8, Reg(1)), Load(8, 5, 10, -8), Alu(AluOp.MUL, 5, Reg(2), True),
        Alu(AluOp.ADD, 0, Reg(5), True), Alu(AluOp.SUB, 4, Imm(1), True),
        Jump(JmpCond.NE, 4, Imm(0), -6, True), Exit()])
    found = fastpath.translations(program, LINUX)
    result = agree(program, LINUX, b"", 10**6)
    assert result[3] is None and result[0] == 3 * 3 * 2 * sum(range(64))
    assert any(pc > 11 for pc in found.units)
    for limit in (500, 1000, 1500, 2500):
        agree(program, LINUX, b"", limit)


@pytest.mark.parametrize("size", [1, 8])
@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
def test_slot_in_a_local_read_and_written_through_a_pointer(profile: Profile,
                                                            size: int) -> None:
    # r10 - 8 lives in a local; r7 points at it. Loads through r7 must see this turn's store
    # through r10, and a load through r10 must see this turn's store through r7.
    program = Program.from_instructions([
        Alu(AluOp.MOV, 7, Reg(10), True), Alu(AluOp.ADD, 7, Imm(-8), True),
        Alu(AluOp.MOV, 6, Imm(20), True), Alu(AluOp.MOV, 0, Imm(0), True),
        Alu(AluOp.MOV, 1, Reg(6), True), Alu(AluOp.MUL, 1, Imm(7), True),
        Store(8, 10, -8, Reg(1)), Load(size, 2, 7, 0), Alu(AluOp.ADD, 0, Reg(2), True),
        Store(size, 7, 0, Reg(6)), Load(8, 3, 10, -8), Alu(AluOp.ADD, 0, Reg(3), True),
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -10, True), Exit()])
    # The first run finds the pointer and drops back to the plain unit; later runs start
    # there.
    first = agree(program, profile, b"", 10**6)
    assert first[3] is None and agree(program, profile, b"", 10**6) == first
    for limit in range(0, 200, 7):
        agree(program, profile, b"", limit)


def test_local_call_loop_needs_no_frame_and_helper_loop_calls_directly() -> None:
    # The regression guards for the local-call and helper loops that need no clock: the
    # callee (pure, returning within the turn) runs without a frame, and the helper is
    # called as a function, looked up once per unit run rather than per call.
    loops = _bench_loops()
    local, helper = loops["local call"], loops["helper call"]
    assert callable(local) and callable(helper)
    source = _promoted_source(local(10, LINUX), 2)
    turn = source[source.index("while True:"):source.index("continue")]
    assert "frames.append" not in turn and "depth_fault" in turn
    source = _promoted_source(helper(10, LINUX), 2)
    turn = source[source.index("while True:"):source.index("break")]
    assert "if h0k == 0: h0f, h0c, h0x, h0k = HELPERS(" in turn
    assert "HELPERS(" not in source[:source.index("try:")]
    # A light helper without a cost of its own (sqrti): one test, then the call with the
    # registers and counters left in locals.
    light = turn[turn.index(f"if h0k == {LIGHT_FREE}:"):turn.index("elif")]
    assert "r0 = h0f(h0x, r1, r2, r3, r4, r5)" in light
    assert "regs" not in light and "vm." not in light and "n = 0" not in light


@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
def test_frameless_call_at_the_depth_limit(profile: Profile) -> None:
    # Recurse to depth k, then loop calling a pure function (a frameless call in
    # translated code): at the deepest k the first such call must fault as the
    # interpreter's does, on the same pc with the same counts; one level up it must not.
    faults = []
    for k in range(1, profile.max_frames + 2):
        program = Program.from_instructions([
            Alu(AluOp.MOV, 1, Imm(0), True), CallLocal(1), Exit(),
            Alu(AluOp.ADD, 1, Imm(1), True), Jump(JmpCond.LT, 1, Imm(k), 5, True),
            Alu(AluOp.MOV, 6, Imm(20), True), CallLocal(5), Alu(AluOp.SUB, 6, Imm(1), True),
            Jump(JmpCond.NE, 6, Imm(0), -3, True), Exit(),
            CallLocal(-8), Exit(),
            Alu(AluOp.MOV, 0, Reg(1), True), Alu(AluOp.ADD, 0, Imm(1), True), Exit()])
        result = agree(program, profile, b"", 10**6)
        fault = result[3]
        assert fault is None or fault[0] == "CallDepthExceeded"
        faults.append(None if fault is None else fault[1])
    # Clean runs, then one depth where only the frameless call is one too many, then the
    # recursion itself faults.
    first = faults.index(6)
    assert faults[:first] == [None] * first and first > 0
    assert faults[first + 1:] == [10] * (len(faults) - first - 1)


@pytest.mark.parametrize("spare", [0, 1])
@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
def test_frameless_call_in_a_unit_entered_at_depth(profile: Profile, spare: int) -> None:
    # The loop ``call pure; r6 -= 1; if r6 != 0`` translated on its own (a unit that does
    # not move r10, whose depth test is taken at entry) and entered with the frames nearly
    # or wholly used up: its first call faults, or every turn runs, as in the interpreter.
    program = Program.from_instructions([
        Alu(AluOp.MOV, 6, Imm(20), True), CallLocal(3), Alu(AluOp.SUB, 6, Imm(1), True),
        Jump(JmpCond.NE, 6, Imm(0), -3, True), Exit(),
        Alu(AluOp.MOV, 0, Reg(1), True), Alu(AluOp.ADD, 0, Imm(1), True), Exit()])
    fastpath.translations(program, profile).unit(1)
    saved = Translator(fastpath.translations(program, profile).code, 1).source()
    assert "deep = len(frames)" in saved and "if deep: raise" in saved
    outcomes = []
    for engine in ("interpreter", "fast"):
        vm = Vm(program, profile=profile, helpers=test_helpers(), engine=engine)
        depth = fastpath.translations(program, profile).code.frames.max_saved - spare
        top = vm.regs[10] = 1 << 33
        vm.frames = [(4, 0, 0, 0, 0, top)] * depth
        vm.regs[6] = 20
        vm.pc = 1
        try:
            if engine == "fast":
                fastpath.run_fast(vm)
            else:
                vm.run_interpreter()
            fault = None
        except ArspecError as error:
            fault = (type(error).__name__, getattr(error, "pc", None), str(error))
        outcomes.append((vm.instructions, vm.units, fault, tuple(vm.regs), len(vm.frames)))
    assert outcomes[0] == outcomes[1]
    assert (outcomes[0][2] is not None) == (spare == 0)


# --------------------------------------------------------------------------- locks, dynptrs

_LOCKED = """arspec: 1
profile: linux
preset: linux_like
maps:
  vals: {{type: array, value_size: 16, max_entries: 1, spin_lock: 8}}
  feed: {{type: ringbuf, max_entries: 4096}}
programs:
  p:
    hook: {{on: every, slots: 1}}
    code: |
      *(u32 *)(r10 - 4) = 0
      r2 = r10
      r2 += -4
      r1 = map_idx(vals)
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      r6 = r0
      r7 = 0
      loop:
{body}
      r7 += 1
      if r7 < 40 goto loop
      out:
      r0 = r7
      exit
      f:
      r0 = 0
      exit
      g:
      r1 += 8
      call bpf_spin_lock
      r0 = 0
      exit
"""
_LOCK = "r1 = r6\nr1 += 8\ncall bpf_spin_lock\n"
_UNLOCK = "r1 = r6\nr1 += 8\ncall bpf_spin_unlock\n"
_RESERVE = ("r1 = map_idx(feed)\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += -32\n"
            "call bpf_ringbuf_reserve_dynptr\n")
_DISCARD = "r1 = r10\nr1 += -32\nr2 = 0\ncall bpf_ringbuf_discard_dynptr\n"


@pytest.mark.parametrize(("body", "fault"), [
    # A bpf-to-bpf call with the lock held, after 30 turns of translated locking.
    (_LOCK + "if r7 == 30 goto +3\n" + _UNLOCK + "call f\n",
     "bpf-to-bpf call while holding the lock"),
    # A function that returns holding the lock, on turn 25.
    ("if r7 != 25 goto +5\nr1 = r6\ncall g\n" + _UNLOCK + "call f\n",
     "bpf-to-bpf function returns holding the lock"),
    # Loads walking the value byte by byte reach the lock's bytes on turn 8.
    ("r1 = r6\nr1 += r7\nr2 = *(u8 *)(r1 + 0)\nif r7 > 14 goto out\n",
     "cannot be accessed directly by load/store"),
    # A store through a stack slot the unit keeps in a local, after a reservation on turn 20.
    ("*(u64 *)(r10 - 24) = r7\nif r7 != 20 goto +13\n" + _RESERVE + "*(u64 *)(r10 - 24) = r7\n"
     "*(u64 *)(r10 - 32) = r7\n" + _DISCARD, "cannot overwrite referenced dynptr"),
    # Correct twins: no fault, all 40 turns.
    (_LOCK + "r1 = *(u64 *)(r6 + 0)\nr1 += 1\n*(u64 *)(r6 + 0) = r1\n" + _UNLOCK + "call f\n",
     None),
    (_RESERVE + "*(u64 *)(r10 - 16) = r7\n" + _DISCARD + "*(u64 *)(r10 - 32) = r7\n", None),
])
def test_engines_agree_on_lock_and_dynptr_faults(body: str, fault: str | None) -> None:
    text = _LOCKED.format(body=textwrap.indent(body, "      ").rstrip("\n"))
    bundle = load_bundle_text(text, filename="locked.yaml")
    reports = [run_bundle(bundle, slots=2, engine=engine) for engine in ("interpreter", "fast")]
    runs = [e for s in reports[0].slots for e in s.events if e.kind == "run"]
    assert len(runs) == 2
    if fault is None:
        assert [e.fault for e in runs] == [None, None]
    else:
        assert all(e.fault is not None and fault in e.fault for e in runs), runs
    assert render_json(reports[1]) == render_json(reports[0])


# --------------------------------------------------------------------------- hoisted windows

def _indexed_loop(base: int, mask: int, offset: int, size: int, store: bool, turns: int,
                  step: int, skew: int = 0, through: bool = False) -> Program:
    """r6 = r<base> + skew; each turn accesses ``r6 + (r7 & mask) + step + offset`` (r7
    counts down from ``turns``) and the fixed ``r6 + offset``: addresses an invariant
    register plus a bounded offset, which a unit checks once per run (through typed views
    when they are aligned). With ``through``, ``step`` is added from r9."""
    access: Instruction = (Store(size, 8, offset, Reg(7)) if store
                           else Load(size, 3, 8, offset))
    return Program.from_instructions([
        Alu(AluOp.MOV, 9, Imm(step), True), Alu(AluOp.MOV, 6, Reg(base), True),
        Alu(AluOp.ADD, 6, Imm(skew), True), Alu(AluOp.MOV, 7, Imm(turns), True),
        Alu(AluOp.MOV, 8, Reg(7), True), Alu(AluOp.AND, 8, Imm(mask), True),
        Alu(AluOp.ADD, 8, Reg(6), True),
        Alu(AluOp.ADD, 8, Reg(9) if through else Imm(step), True), access,
        Load(size, 4, 6, offset), Alu(AluOp.ADD, 0, Reg(3), True),
        Alu(AluOp.ADD, 0, Reg(4), True), Alu(AluOp.SUB, 7, Imm(1), True),
        Jump(JmpCond.NE, 7, Imm(0), -10, True), Exit()])


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.sampled_from([1, 10]), st.sampled_from([0, 6, 7, 8, 12, 120, 255, 504, 4095]),
       st.sampled_from([-520, -512, -64, -9, -8, -2, -1, 0, 1, 4, 8, 128, 250]), sizes,
       st.booleans(), st.integers(1, 20), st.sampled_from([0, 1, 2, -8, 64, -300]),
       st.sampled_from([LINUX, SOLANA]), st.integers(0, 300), st.integers(0, 250),
       st.sampled_from([0, 1, 2, 4, -4]), st.booleans())
def test_hoisted_windows_match_the_interpreter(base: int, mask: int, offset: int, size: int,
                                               store: bool, turns: int, step: int,
                                               profile: Profile, length: int,
                                               limit: int, skew: int, through: bool) -> None:
    # Inside the input or the frame, partly outside (a fault on some turn), in a read-only
    # place, aligned or not, with the compute limit anywhere: the engines agree.
    program = _indexed_loop(base, mask, offset, size, store, turns, step, skew, through)
    agree(program, profile, bytes(i & 0xFF for i in range(length)), 4 * limit + 4)


def _hoisted_source(program: Program, entry: int) -> str:
    code = fastpath.translations(program, LINUX).code
    plain = Translator(code, entry)
    plain.source()
    invariant = frozenset(range(1, 11)) - plain.written
    return Translator(code, entry, None, invariant).source()


def test_input_loop_checks_its_window_once_per_run() -> None:
    # The input loop of the benchmark: its three accesses go through one window of r6
    # taken at entry; no access in a turn is bounds-checked or a struct call, and
    # r8 = r6 + (r7 & 120) needs no wrap check (the entry check keeps r6 + 120 below 2**64).
    build = _bench_loops()["input"]
    assert callable(build)
    source = _hoisted_source(build(10, LINUX), 3)
    prologue = source[:source.index("try:")]
    assert "HOIST(memory, ((r6, 0, 132, 0, 120, True, ((4, 0), (8, 0))),)" in prologue
    assert "return UNHOISTED(vm)" in prologue
    turn = source[source.index("while True:"):source.index("break")]
    # r8 - r6 is a multiple of 8 (r7 & 120): one 8-byte view serves the load and the store.
    assert "r3 = w6q8_0[(r8 - w6z8_0) >> 3]" in turn
    assert "w6q8_0[(r8 - w6z8_0) >> 3] = r3" in turn
    assert "r4 = w6q4_0[(r6 - w6z4_0 + 128) >> 2]" in turn
    assert "o = " not in turn and "LOAD(" not in turn and "STORE(" not in turn
    assert "if r8 >" not in turn


def test_hoisted_window_taken_again_after_a_helper() -> None:
    # Helper 9 unmaps the input on its third call; the loop's accesses through r7 (never
    # written in the unit) use a window checked at entry: after each call the window is
    # taken again, and once it is gone the interpreter faults where it should.
    program = _helper_loop(9, 10)
    source = _hoisted_source(program, 2)
    assert source.count("hw = HOIST(") >= 2 and f"if hw is None: pc = 4; return {NEXT}" in source
    outcomes = []
    for engine in ("interpreter", "fast"):
        memory = standard_memory(program, LINUX, bytes(16))
        vm = Vm(program, profile=LINUX, helpers=_unmapping_helpers(), memory=memory,
                engine=engine)
        result = vm.run(0, (INPUT_BASE, 16))
        assert result.fault is not None
        outcomes.append((result.instructions, result.compute_units, str(result.fault)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("profile", [LINUX, SOLANA], ids=["linux", "solana"])
@pytest.mark.parametrize("offset", [0, 4, -4])
def test_hoisted_window_holding_a_promoted_slot_runs_unhoisted(profile: Profile,
                                                               offset: int) -> None:
    # r7 = r10 - 8 is never written in the loop, so loads through it would use one window;
    # that window holds the slot r10 - 8, which the loop keeps in a local: the unit must
    # not take it (the load would read the slot's stale bytes).
    body: list[Instruction] = [Store(8, 10, -8, Reg(6)), Load(4, 2, 7, offset),
                               Alu(AluOp.ADD, 0, Reg(2), True)]
    for turns in (1, 3):
        result = agree(_slot_loop(body, turns, profile), profile, bytes(8), 1000)
        assert result[3] is None
