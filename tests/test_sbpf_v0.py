"""Regression vectors: the ``solana`` profile is Agave's SBPFv0.

Every expected value here was measured on Agave's VM (solana-sbpf inside solders 0.29 /
LiteSVM) with the same bytes; ``tests/test_agave_differential.py`` re-checks them against the
live oracle on random programs. Negative cases come first.
"""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest

from arspec.reference.differential.agave_diff import describe_error, loaded_text
from arspec.reference.isa.decoder import decode, decode_sbpf_v0
from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Callx,
    Endian,
    EndianOp,
    Imm,
    Ja,
    JmpCond,
    Jump,
    LegacyLoad,
    LegacyMode,
    Load,
    MovSx,
    Program,
    Reg,
)
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.solana_syscalls import Clock, encode_base58, solana_syscalls
from arspec.reference.vm.load_checks import ProgramRejected, check_program
from arspec.reference.vm.profiles import (
    HEAP_BASE,
    INPUT_BASE,
    LINUX,
    PROGRAM_BASE,
    SBPF_TEXT_OFFSET,
    SOLANA,
    STACK_BASE,
)
from arspec.reference.vm.vm import ExecutionResult, Vm, entry_input, execute, standard_memory
from arspec.spec.errors import (
    CallDepthExceeded,
    DecodeError,
    HelperFault,
    InvalidCallTarget,
    MemoryFault,
    ProgramOverrun,
)

EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)
CODE = PROGRAM_BASE + SBPF_TEXT_OFFSET


def w(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def lddw(dst: int, value: int) -> bytes:
    return w(0x18, dst, imm=struct.unpack("<i", struct.pack("<I", value & 0xFFFFFFFF))[0]) + \
        w(0, imm=struct.unpack("<i", struct.pack("<I", value >> 32))[0])


def call(name: str) -> bytes:
    return w(0x85, imm=struct.unpack("<i", struct.pack("<I", murmur3_32(name.encode())))[0])


def run_v0(text: bytes, data: bytes = b"", limit: int = 200_000,
           clock: Clock | None = None) -> ExecutionResult:
    program = decode_sbpf_v0(text)
    region, args = entry_input(SOLANA, data)
    memory = standard_memory(program, SOLANA, region, text=loaded_text(text))
    vm = Vm(program, profile=SOLANA, helpers=solana_syscalls(clock), memory=memory,
            compute_limit=limit, engine="interpreter")
    return vm.run(0, args)


# --- opcodes SBPFv0 refuses at load ----------------------------------------------------------

@pytest.mark.parametrize("opcode", [0x16, 0x1E, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x81, 0x89,
                                    0x91, 0x99, 0xC3, 0xDB, 0xD7, 0x06, 0x0D, 0x00, 0xF7, 0x8E])
def test_invalid_opcode_refused_by_v0_with_opcode_and_pc(opcode: int) -> None:
    with pytest.raises(DecodeError, match=f"pc 1: unknown eBPF opcode {opcode:#04x}"):
        decode_sbpf_v0(w(0xB7) + w(opcode, 0, 1, 0, 16) + EXIT)


@pytest.mark.parametrize("insn", [
    Jump(JmpCond.EQ, 0, Imm(1), 0, False), LegacyLoad(LegacyMode.ABS, 4, 0, 0),
    Load(1, 0, 1, 0, signed=True), Atomic(AtomicOp.ADD, 8, 10, 1, -8, False),
    Endian(EndianOp.SWAP, 0, 32), Ja(0, long=True), Alu(AluOp.SDIV, 0, Imm(3), True),
    Alu(AluOp.SMOD, 0, Reg(1), False), MovSx(0, 1, 8, True)])
def test_invalid_instruction_refused_by_solana_loader(insn: object) -> None:
    program = Program.from_instructions([Alu(AluOp.MOV, 0, Imm(0), True), insn])  # type: ignore[list-item]
    with pytest.raises(ProgramRejected, match="pc 1: unknown eBPF opcode 0x"):
        check_program(program, SOLANA)
    check_program(program, LINUX)


@pytest.mark.parametrize(("text", "reason"), [
    (w(0x37, imm=0), "division by 0"), (w(0x97, imm=0), "division by 0"),
    (w(0x67, imm=64), "shift with overflow"), (w(0x64, imm=32), "shift with overflow"),
    (w(0xD4, imm=8), "unsupported argument 8 for LE/BE"),
    (w(0x8D, imm=10), "invalid callx register 10"), (w(0x8D, imm=11), "invalid callx register"),
    (w(0x15, 10, imm=0), "cannot write into register r10"),
    (w(0x61, 10, 1), "cannot write into register r10"),
    (w(0xB7, 11), "invalid destination register"), (w(0xBF, 1, 11), "invalid source register"),
    (w(0x95, 12), "invalid destination register"),
    (w(0x05, off=5), "jump out of code"), (w(0x18) + w(0x95), "incomplete LD_DW"),
    (w(0x05, off=1) + w(0x18) + w(0), "jump to middle of LD_DW"),
])
def test_invalid_program_refused_by_v0_verifier(text: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_sbpf_v0(text + EXIT)


def test_invalid_lddw_as_last_slot() -> None:
    with pytest.raises(DecodeError, match="LD_DW instruction cannot be last"):
        decode_sbpf_v0(EXIT + w(0x18))


# --- fields v0 ignores ------------------------------------------------------------------------

def test_signed_division_encoding_runs_unsigned() -> None:
    text = w(0xB7, 0, imm=-6) + w(0xB7, 1, imm=3) + w(0x3F, 0, 1, off=1) + EXIT
    with pytest.raises(DecodeError):
        decode(text[:16] + w(0x3F, 0, 1, off=2) + EXIT)
    assert execute(decode(text), profile=LINUX).r0 == (-2) & (2**64 - 1)
    result = run_v0(text)
    assert result.r0 == ((1 << 64) - 6) // 3
    assert describe_error(result.r0) == "InvalidError"  # Agave: program returned invalid error


@pytest.mark.parametrize(("opcode", "expected"), [
    (0x9F, ((1 << 64) - 7) % 5), (0x3C, (2**32 - 7) // 5), (0x9C, (2**32 - 7) % 5)])
def test_signed_modulo_and_32_bit_encodings_run_unsigned(opcode: int, expected: int) -> None:
    text = w(0xB7, 0, imm=-7) + w(0xB7, 1, imm=5) + w(opcode, 0, 1, off=1) + EXIT
    assert run_v0(text).r0 == expected


@pytest.mark.parametrize("offset", [8, 16, 32])
def test_movsx_encoding_runs_as_plain_mov(offset: int) -> None:
    text = w(0xB7, 1, imm=0xFF) + w(0xBF, 0, 1, off=offset) + EXIT
    assert isinstance(decode(text).slots[1], MovSx)
    result = run_v0(text)
    assert (result.r0, describe_error(result.r0)) == (0xFF, "Custom(255)")


def test_reserved_fields_are_ignored() -> None:
    text = w(0xB7, 0, 3, 7, 0) + w(0x95, 0, 4, 2, 9)
    with pytest.raises(DecodeError, match="reserved field"):
        decode(text)
    result = run_v0(text)
    assert (result.fault, result.r0, result.compute_units) == (None, 0, 2)


def test_lddw_ignores_its_pseudo_source() -> None:
    text = w(0x18, 0, 4, 0, 8) + w(0, imm=1) + w(0x77, 0, imm=32) + EXIT
    assert run_v0(text).r0 == 1


# --- callx ------------------------------------------------------------------------------------

def test_callx_takes_its_register_from_the_immediate() -> None:
    text = lddw(3, CODE + 8 * 5) + w(0x8D, 7, 0, 0, 3) + w(0xB7) + EXIT + w(0xB7, 0, imm=7) + EXIT
    program = decode_sbpf_v0(text)
    assert program.slots[2] == Callx(3)
    result = run_v0(text)
    assert (result.fault, result.r0, result.compute_units) == (None, 0, 6)


def test_callx_rounds_an_unaligned_target_down() -> None:
    text = lddw(3, CODE + 8 * 5 + 3) + w(0x8D, imm=3) + w(0xB7) + EXIT + w(0xB7, 0, imm=7) + EXIT
    assert run_v0(text).compute_units == 6


def test_invalid_callx_outside_the_text() -> None:
    result = run_v0(w(0x8D, imm=0) + EXIT)
    assert type(result.fault) is InvalidCallTarget and result.fault.pc == 0
    assert result.compute_units == 1


# --- stack frames -------------------------------------------------------------------------------

def test_invalid_read_in_the_gap_after_a_frame() -> None:
    result = run_v0(w(0x79, 0, 10, 0) + EXIT)
    fault = result.fault
    assert type(fault) is MemoryFault and (fault.address, fault.size) == (STACK_BASE + 0x1000, 8)
    assert fault.reason.startswith("Access violation in stack frame 1 ")
    assert result.compute_units == 1


def test_invalid_read_below_the_first_frame() -> None:
    fault = run_v0(w(0x79, 0, 10, -4097) + EXIT).fault
    assert type(fault) is MemoryFault and fault.address == STACK_BASE - 1
    assert fault.reason.startswith("Access violation in stack frame 0 ")


def test_read_straddling_the_frame_end_continues_in_the_next_frame() -> None:
    result = run_v0(w(0x79, 0, 10, -4) + EXIT)
    assert (result.fault, result.compute_units) == (None, 2)


def test_call_moves_the_frame_pointer_by_two_frames() -> None:
    text = w(0x85, 0, 1, 0, 1) + EXIT + w(0xBF, 0, 10) + EXIT
    assert run_v0(text).r0 == STACK_BASE + 0x1000 + 0x2000


def test_invalid_call_depth_of_64_frames() -> None:
    text = w(0x85, 0, 1, 0, -1) + EXIT
    result = run_v0(text)
    assert type(result.fault) is CallDepthExceeded and result.compute_units == 64


def test_last_frame_is_mapped() -> None:
    text = lddw(1, STACK_BASE + 63 * 0x2000 + 0xFF8) + w(0x7A, 1, 0, 0, 5) + w(0x79, 0, 1) + EXIT
    assert run_v0(text).r0 == 5


# --- compute units, exit codes, entry ------------------------------------------------------

def test_invalid_running_off_the_end_costs_one_more_unit() -> None:
    result = run_v0(w(0xB7))
    assert type(result.fault) is ProgramOverrun and result.compute_units == 2
    linux = execute(Program.from_instructions([Alu(AluOp.MOV, 0, Imm(0), True)]))
    assert type(linux.fault) is ProgramOverrun and linux.compute_units == 1


@pytest.mark.parametrize(("r0", "error"), [
    (1, "Custom(1)"), (0xFFFFFFFF, "Custom(4294967295)"), (1 << 32, "Custom(0)"),
    (2 << 32, "InvalidArgument"), (26 << 32, "IncorrectAuthority"), (27 << 32, "InvalidError"),
    ((2 << 32) | 1, "InvalidError"), (1 << 63, "InvalidError"), (0, "success")])
def test_exit_code_is_agaves_instruction_error(r0: int, error: str) -> None:
    assert describe_error(r0) == error


def test_entry_registers_point_at_the_serialized_input() -> None:
    data = b"abc"
    assert run_v0(w(0xBF, 0, 1) + EXIT, data).r0 == INPUT_BASE
    assert run_v0(w(0xBF, 0, 2) + EXIT, data).r0 == INPUT_BASE + 16
    assert run_v0(w(0x79, 0, 1, 8) + EXIT, data).r0 == 3
    assert run_v0(w(0x71, 0, 2, 1) + EXIT, data).r0 == ord("b")
    past = run_v0(w(0x71, 0, 1, 8 + 8 + 3 + 32) + EXIT, data).fault
    assert type(past) is MemoryFault and past.reason.startswith("Access violation in input")


def test_program_region_reads_zeros_before_the_text() -> None:
    assert run_v0(lddw(1, PROGRAM_BASE) + w(0x79, 0, 1) + EXIT).r0 == 0
    assert run_v0(lddw(1, CODE) + w(0x71, 0, 1) + EXIT).r0 == 0x18


def test_invalid_write_to_the_program_region() -> None:
    fault = run_v0(lddw(1, CODE) + w(0x72, 1, 0, 0, 5) + EXIT).fault
    assert type(fault) is MemoryFault
    assert fault.reason.startswith("Access violation in program section")


def test_profile_states_its_version() -> None:
    assert SOLANA.sbpf_version == 0 and LINUX.sbpf_version is None


# --- syscalls -----------------------------------------------------------------------------------

def _string(address: int, text: bytes) -> bytes:
    out = b""
    for i in range(0, len(text), 8):
        chunk = int.from_bytes(text[i:i + 8].ljust(8, b"\0"), "little")
        out += lddw(6, chunk) + lddw(7, address + i) + w(0x7B, 7, 6)
    return out


def test_invalid_utf8_log_fails() -> None:
    text = _string(HEAP_BASE, b"\xff") + lddw(1, HEAP_BASE) + w(0xB7, 2, imm=1) + \
        call("sol_log_") + EXIT
    fault = run_v0(text).fault
    assert type(fault) is HelperFault
    assert fault.reason == "invalid utf-8 sequence of 1 bytes from index 0: [255]"


def test_sol_log_costs_its_length_and_logs() -> None:
    text = _string(HEAP_BASE, b"hi") + lddw(1, HEAP_BASE) + w(0xB7, 2, imm=2) + \
        call("sol_log_") + w(0xB7) + EXIT
    result = run_v0(text)
    assert result.logs == ("Program log: hi",)
    assert result.compute_units == result.instructions + 100


def test_sol_log_64_and_compute_units() -> None:
    text = w(0xB7, 1, imm=1) + w(0xB7, 5, imm=-1) + call("sol_log_64_") + \
        call("sol_log_compute_units_") + w(0xB7) + EXIT
    result = run_v0(text, limit=1000)
    assert result.logs == (
        "Program log: 0x1, 0x400000010, 0x0, 0x0, 0xffffffffffffffff",
        f"Program consumption: {1000 - 4 - 200} units remaining")


def test_sol_log_pubkey_prints_base58() -> None:
    key = bytes(range(32))
    result = run_v0(_string(HEAP_BASE, key) + lddw(1, HEAP_BASE) + call("sol_log_pubkey") + EXIT)
    assert result.logs == ("Program log: " + encode_base58(key),)
    assert encode_base58(bytes(32)) == "1" * 32


def test_invalid_abort_and_panic() -> None:
    assert run_v0(call("abort") + EXIT).fault.reason == "SBF program panicked"  # type: ignore[union-attr]
    text = _string(HEAP_BASE, b"lib.rs") + lddw(1, HEAP_BASE) + w(0xB7, 2, imm=6) + \
        w(0xB7, 3, imm=42) + w(0xB7, 4, imm=7) + call("sol_panic_") + EXIT
    fault = run_v0(text).fault
    assert fault is not None and fault.reason == "SBF program Panicked in lib.rs at 42:7"


def test_invalid_overlapping_memcpy_but_memmove_copies() -> None:
    setup = _string(HEAP_BASE, b"abcdefgh") + lddw(1, HEAP_BASE + 2) + lddw(2, HEAP_BASE) + \
        w(0xB7, 3, imm=4)
    fault = run_v0(setup + call("sol_memcpy_") + EXIT).fault
    assert fault is not None and fault.reason == "Overlapping copy"
    result = run_v0(setup + call("sol_memmove_") + lddw(1, HEAP_BASE) + w(0x79, 0, 1) + EXIT)
    assert result.r0.to_bytes(8, "little") == b"ababcdgh"


def test_memset_and_memcmp() -> None:
    text = (lddw(1, HEAP_BASE) + w(0xB7, 2, imm=0x1FF) + w(0xB7, 3, imm=3) + call("sol_memset_")
            + _string(HEAP_BASE + 16, b"\xff\xff\x01") + lddw(1, HEAP_BASE)
            + lddw(2, HEAP_BASE + 16) + w(0xB7, 3, imm=3) + lddw(4, HEAP_BASE + 32)
            + call("sol_memcmp_") + lddw(1, HEAP_BASE + 32) + w(0x61, 0, 1) + EXIT)
    result = run_v0(text)
    assert result.r0 == 0xFF - 0x01
    assert result.compute_units == result.instructions + 10 + 10


@pytest.mark.parametrize(("name", "digest"), [
    ("sol_sha256", hashlib.sha256(b"abc").digest()),
    ("sol_keccak256", bytes.fromhex(
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"))])
def test_hash_syscalls(name: str, digest: bytes) -> None:
    text = (_string(HEAP_BASE, b"abc") + lddw(6, HEAP_BASE) + lddw(7, HEAP_BASE + 64)
            + w(0x7B, 7, 6) + w(0x7A, 7, 0, 8, 3) + lddw(1, HEAP_BASE + 64) + w(0xB7, 2, imm=1)
            + lddw(3, HEAP_BASE + 128) + call(name) + lddw(1, HEAP_BASE + 128)
            + w(0x79, 0, 1) + EXIT)
    result = run_v0(text)
    assert result.r0 == int.from_bytes(digest[:8], "little")
    assert result.compute_units == result.instructions + 85 + 10


def test_clock_sysvar_reports_the_runtime_slot() -> None:
    text = lddw(1, HEAP_BASE) + call("sol_get_clock_sysvar") + w(0x79, 0, 1) + EXIT
    result = run_v0(text, clock=Clock(slot=1234, unix_timestamp=5))
    assert (result.r0, result.compute_units) == (1234, result.instructions + 140)


def test_invalid_unaligned_clock_pointer() -> None:
    fault = run_v0(lddw(1, HEAP_BASE + 4) + call("sol_get_clock_sysvar") + EXIT).fault
    assert fault is not None and fault.reason == "Unaligned pointer"


# --- the command line -------------------------------------------------------------------------

def _exec(tmp_path: Path, text: str, *extra: str) -> tuple[int, str]:
    from arspec.cli.main import main

    source = tmp_path / "prog.s"
    source.write_text(text)
    out = io.StringIO()
    return main(["exec", str(source), "--profile", "solana", *extra], out=out), out.getvalue()


def test_invalid_exec_nonzero_exit_code_is_a_program_error(tmp_path: Path) -> None:
    code, out = _exec(tmp_path, "r1 = 0x300000000 ll\n*(u64 *)(r1 + 0) = 0x6968\nr2 = 2\n"
                                "call sol_log_\nr0 = 7\nexit\n")
    assert code == 1
    assert out.splitlines()[0] == "log: Program log: hi"
    assert "compute units: 106" in out and out.endswith("result: Custom(7)\n")


def test_exec_entry_is_agaves_serialized_input(tmp_path: Path) -> None:
    code, out = _exec(tmp_path, "r0 = *(u8 *)(r2 + 1)\nr0 -= 0xbb\nexit\n", "--mem", "aa bb")
    assert code == 0 and out.endswith("result: success\n")
