"""Differential tests: arspec's ``linux`` profile against the running kernel (bpf(2)).

Each program is loaded as a socket filter and run once with ``BPF_PROG_TEST_RUN``. Its
return value is only 32 bits, so every program is loaded twice: as generated (low half of
r0) and with ``r0 >>= 32`` before ``exit`` (high half). The two halves are compared with the
full 64-bit r0 of the reference VM. The random programs of
:mod:`arspec.reference.differential.kernel_diff` cover every opcode and fold all registers and the
stack
they wrote into r0 first, so the whole final state is compared (``benchmarks/diff_kernel.py``
runs 100,000 of them).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from kernel_programs import finish, looping_programs, straight_line_programs

from arspec.reference.differential.kernel_bpf import KernelRejected, kernel_available, load_program
from arspec.reference.differential.kernel_diff import (
    SKB_DATA,
    KernelCase,
    classify_kernel,
    compare_with_kernel,
    finish_folded,
    generate_kernel_case,
)
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.disassembler import disassemble
from arspec.reference.isa.encoder import encode
from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Exit,
    Imm,
    Instruction,
    Program,
    Reg,
    Store,
)
from arspec.reference.vm.profiles import LINUX
from arspec.reference.vm.vm import execute

pytestmark = pytest.mark.kernel

PACKET = bytes(64)


def _engines() -> tuple[str, ...]:
    """The interpreter always; the compiled fast path too once it exists."""
    try:
        import arspec.reference.vm.fastpath  # noqa: F401
    except ModuleNotFoundError:
        return ("interpreter",)
    return ("interpreter", "fast")


ENGINES = _engines()


@pytest.fixture(scope="module", autouse=True)
def kernel() -> Iterator[None]:
    available, reason = kernel_available()
    if not available:
        print(f"kernel differential tests skipped: {reason}")
        pytest.skip(reason)
    yield


def kernel_r0(body: list[Instruction]) -> int:
    """Run ``body; exit`` in the kernel twice and return the full 64-bit r0."""
    halves = []
    for high in (False, True):
        with load_program(encode(finish(body, high_half=high))) as prog:
            halves.append(prog.test_run(PACKET))
    return (halves[1] << 32) | halves[0]


def compare(body: list[Instruction]) -> None:
    """Fail with the disassembly and both results unless the kernel and the VM agree."""
    program = finish(body)
    try:
        expected = kernel_r0(body)
    except KernelRejected as exc:
        pytest.fail(f"kernel rejected a generated program (generator bug):\n"
                    f"{disassemble(program)}\n{exc.log[-3000:]}")
    for engine in ENGINES:
        result = execute(program, profile=LINUX, memory=PACKET, engine=engine)
        if result.fault is not None or result.r0 != expected:
            pytest.fail(f"linux profile ({engine} engine) diverges from the kernel on:\n"
                        f"{disassemble(program)}kernel r0 = {expected:#018x}\n"
                        f"arspec r0 = {result.r0:#018x} fault = {result.fault}")


def _body(text: str) -> list[Instruction]:
    insns = [insn for _, insn in assemble(text).instructions()]
    assert isinstance(insns[-1], Exit)
    return insns[:-1]


INT64_MIN = "r1 = 0x8000000000000000 ll\n"

#: Fixed edge cases: (name, assembly ending in exit).
EDGE_PROGRAMS = [
    ("sdiv64 INT_MIN by -1", INT64_MIN + "r2 = -1\nr1 s/= r2\nr0 = r1\nexit"),
    ("smod64 INT_MIN by -1", INT64_MIN + "r2 = -1\nr1 s%= r2\nr0 = r1\nexit"),
    ("sdiv32 INT_MIN by -1 imm", "w0 = -2147483648\nw0 s/= -1\nexit"),
    ("smod32 INT_MIN by -1", "w0 = -2147483648\nw2 = -1\nw0 s%= w2\nexit"),
    ("div64 by zero register", "r0 = -7\nr1 = 0\nr0 /= r1\nexit"),
    ("sdiv32 by zero register", "r0 = -7\nr1 = 0\nw0 s/= w1\nexit"),
    ("mod64 by zero keeps dst", INT64_MIN + "r0 = r1\nr0 += 5\nr2 = 0\nr0 %= r2\nexit"),
    ("mod32 by zero zero-extends", "r0 = -5\nr2 = 0\nw0 %= w2\nexit"),
    ("smod64 by zero keeps dst", "r0 = -5\nr2 = 0\nr0 s%= r2\nexit"),
    ("smod truncates toward zero", "r0 = -13\nr0 s%= 3\nexit"),
    ("lsh64 by register masks 63", "r0 = 3\nr1 = 65\nr0 <<= r1\nexit"),
    ("rsh32 by register masks 31", "r0 = -1\nr1 = 33\nw0 >>= w1\nexit"),
    ("arsh32 by register", "r0 = -256\nr1 = 36\nw0 s>>= w1\nexit"),
    ("arsh64 sign fills", INT64_MIN + "r0 = r1\nr0 s>>= 63\nexit"),
    ("movsx64 s32", "r1 = 0x80000000 ll\nr0 = (s32)r1\nexit"),
    ("movsx32 s8 zero-extends", "r1 = 0x80\nw0 = (s8)w1\nexit"),
    ("bswap64", "r0 = 0x0102030405060708 ll\nr0 = bswap64 r0\nexit"),
    ("be16 truncates", "r0 = 0x12345678 ll\nr0 = be16 r0\nexit"),
    ("le32 truncates", "r0 = -1\nr0 = le32 r0\nexit"),
    ("jset taken and not", "r0 = 1\nr1 = 0x10\nif r1 & 0x10 goto +1\nr0 = 2\n"
                           "if r1 & 0x1 goto +1\nr0 += 10\nexit"),
    ("signed vs unsigned jump", "r0 = 0\nr1 = -1\nif r1 s> 0 goto +1\nr0 |= 1\n"
                                "if r1 > 0 goto +1\nr0 |= 2\nexit"),
    ("jmp32 ignores high half", "r0 = 0\nr1 = 0x100000005 ll\nif w1 == 5 goto +1\n"
                                "r0 = 1\nexit"),
    ("signed load sign-extends", "r1 = 0xff80\n*(u16 *)(r10 - 2) = r1\n"
                                 "r0 = *(s8 *)(r10 - 2)\nexit"),
    ("alu32 result zero-extends", "r0 = -1\nw0 += 1\nw0 -= 2\nexit"),
    ("cmpxchg", "r1 = 7\n*(u64 *)(r10 - 8) = r1\nr0 = 7\nr2 = 9\n"
                "r0 = cmpxchg_64(r10 - 8, r0, r2)\nr0 <<= 8\nr3 = *(u64 *)(r10 - 8)\n"
                "r0 |= r3\nexit"),
]


@pytest.mark.parametrize(("name", "text"), EDGE_PROGRAMS, ids=[n for n, _ in EDGE_PROGRAMS])
def test_edge_program_matches_kernel(name: str, text: str) -> None:
    compare(_body(text))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])
@given(straight_line_programs())
def test_straight_line_programs_match_kernel(body: list[Instruction]) -> None:
    compare(body)


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large])
@given(looping_programs())
def test_looping_programs_match_kernel(body: list[Instruction]) -> None:
    compare(body)


def test_generated_program_shape_is_checked_by_the_kernel() -> None:
    """The harness itself: a program the verifier must refuse is reported, not compared."""
    bad = Program.from_instructions([Exit()])  # r0 never written
    with pytest.raises(KernelRejected, match="R0 !read_ok"):
        load_program(encode(bad))


def test_invalid_program_length_is_refused_before_the_kernel() -> None:
    with pytest.raises(ValueError, match="not a positive multiple of 8"):
        load_program(b"\x95\x00\x00\x00")
    with pytest.raises(ValueError, match="not a positive multiple of 8"):
        load_program(b"")


def test_invalid_test_run_on_a_closed_program() -> None:
    prog = load_program(encode(finish(_body("r0 = 42\nexit"))))
    assert prog.test_run(PACKET) == 42
    prog.close()
    prog.close()  # idempotent
    with pytest.raises(ValueError, match="program is closed"):
        prog.test_run(PACKET)


def test_invalid_packet_shorter_than_an_ethernet_header() -> None:
    with load_program(encode(finish(_body("r0 = 1\nexit")))) as prog, \
            pytest.raises(OSError, match="Invalid argument"):
        prog.test_run(bytes(13))


def test_invalid_unknown_opcode_is_rejected_with_the_verifier_log() -> None:
    with pytest.raises(KernelRejected, match="unknown opcode") as info:
        load_program(bytes.fromhex("b700000000000000" "ff00000000000000" "9500000000000000"))
    assert info.value.errno == 22


# --- whole-state comparison over the whole instruction set ----------------------------------

def test_invalid_fold_catches_a_difference_in_any_register() -> None:
    case = KernelCase([Alu(AluOp.MOV, 6, Reg(1), True), Alu(AluOp.MOV, 9, Imm(1), True)], "alu")
    for r in (0, 1, 2, 3, 4, 5, 7, 8):
        case.body.append(Alu(AluOp.MOV, r, Imm(0), True))
    for i in range(8):
        case.body.append(Store(8, 10, -8 * (i + 1), Imm(0)))
    base = execute(finish_folded(case.body, high_half=False, callee=False), memory=SKB_DATA)
    changed = KernelCase([*case.body, Alu(AluOp.ADD, 9, Imm(1), True)], "alu")
    other = execute(finish_folded(changed.body, high_half=False, callee=False), memory=SKB_DATA)
    assert base.r0 != other.r0
    stack = KernelCase([*case.body, Store(1, 10, -64, Imm(1))], "alu")
    assert execute(finish_folded(stack.body, high_half=False, callee=False),
                   memory=SKB_DATA).r0 != base.r0


@pytest.mark.parametrize("seed", range(3))
def test_random_programs_over_every_opcode_match_kernel(seed: int) -> None:
    rng = random.Random(seed)
    problems = []
    refused = 0
    for i in range(100):
        case = generate_kernel_case(rng)
        outcome = compare_with_kernel(case, callee=i % 5 == 0,
                                      engine="interpreter" if seed % 2 else "auto")
        if outcome.note.startswith("kernel rejected"):
            refused += 1
            continue
        found = classify_kernel(case, outcome)
        if found is not None:
            problems.append(f"{found}: {outcome}\n" + disassemble(
                finish_folded(case.body, high_half=False, callee=i % 5 == 0)))
    assert not problems, problems[0]
    assert refused <= 5  # the generator keeps to what the verifier accepts
