"""Decoder rejections: each bad encoding fails at the right pc with the right reason."""

from __future__ import annotations

import struct

import pytest

from arspec.reference.isa.decoder import decode, decode_one
from arspec.reference.isa.instructions import Alu, AluOp, Exit, Imm, LoadImm64, Pseudo
from arspec.spec.errors import DecodeError

MOV_R0_0 = bytes.fromhex("b700000000000000")
EXIT = bytes.fromhex("9500000000000000")


def word(opcode: int, dst: int = 0, src: int = 0, offset: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, (src << 4) | dst, offset, imm)


def rejects(code: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(code)
    return info.value


def at_pc(pc: int, bad: bytes) -> bytes:
    """Place ``bad`` at ``pc`` after valid instructions and before an exit."""
    return MOV_R0_0 * pc + bad + EXIT


UNKNOWN_OPCODES = [
    0xE7,  # ALU64 code 0xe0 does not exist
    0xF4,  # ALU code 0xf0 does not exist
    0xE6,  # JMP32 code 0xe0 does not exist (JMP 0xe5 is may_goto, named apart)
    0xF6,  # JMP32 code 0xf0 does not exist
    0x01,  # LDX in IMM mode
    0x99,  # LDX MEMSX with double-word size
    0x02,  # ST in IMM mode
    0xC2,  # ST in ATOMIC mode
    0xD3,  # atomic with 1-byte size
    0xCB,  # atomic with 2-byte size
    0x38,  # LD in ABS mode with double-word size
    0x00,  # LD IMM with word size (only lddw exists)
    0x60,  # LD in MEM mode
]


@pytest.mark.parametrize("opcode", UNKNOWN_OPCODES, ids=hex)
def test_invalid_unknown_opcode(opcode: int) -> None:
    err = rejects(at_pc(2, word(opcode)))
    assert err.pc == 2
    assert err.reason == f"unknown opcode (opcode {opcode:#04x})"


RESERVED = [
    ("alu64 imm src", word(0x07, dst=1, src=1, imm=1), "src", 1),
    ("alu64 offset", word(0x07, dst=1, offset=3, imm=1), "offset", 3),
    ("alu32 reg imm", word(0x0C, dst=1, src=2, imm=7), "imm", 7),
    ("neg src", word(0x87, dst=1, src=2), "src", 2),
    ("neg imm", word(0x87, dst=1, imm=5), "imm", 5),
    ("endian offset", word(0xD4, dst=1, offset=1, imm=16), "offset", 1),
    ("movsx imm", word(0xBF, dst=1, src=2, offset=8, imm=1), "imm", 1),
    ("jmp reg imm", word(0x1D, dst=1, src=2, offset=0, imm=9), "imm", 9),
    ("jmp32 imm src", word(0x16, dst=1, src=3, imm=1), "src", 3),
    ("ja imm", word(0x05, imm=4), "imm", 4),
    ("gotol offset", word(0x06, offset=1), "offset", 1),
    ("ja dst", word(0x05, dst=2), "dst", 2),
    ("exit imm", word(0x95, imm=1), "imm", 1),
    ("exit dst", word(0x95, dst=1), "dst", 1),
    ("call dst", word(0x85, dst=1, imm=1), "dst", 1),
    ("call helper offset", word(0x85, offset=2, imm=1), "offset", 2),
    ("callx imm", word(0x8D, dst=1, imm=1), "imm", 1),
    ("ldx imm", word(0x61, dst=1, src=2, imm=1), "imm", 1),
    ("st src", word(0x62, dst=1, src=2, imm=1), "src", 2),
    ("stx imm", word(0x63, dst=1, src=2, imm=1), "imm", 1),
    ("legacy abs dst", word(0x20, dst=1, imm=1), "dst", 1),
    ("legacy abs src", word(0x20, src=1, imm=1), "src", 1),
    ("legacy ind offset", word(0x40, src=1, offset=1), "offset", 1),
    ("lddw offset", word(0x18, dst=1, offset=1) + word(0), "offset", 1),
]


@pytest.mark.parametrize(("code", "field", "value"), [r[1:] for r in RESERVED],
                         ids=[r[0] for r in RESERVED])
def test_invalid_reserved_field(code: bytes, field: str, value: int) -> None:
    err = rejects(at_pc(1, code))
    assert err.pc == 1
    assert err.reason.startswith(f"reserved field {field} is non-zero ({value})")


def test_invalid_lddw_missing_second_slot() -> None:
    err = rejects(MOV_R0_0 + word(0x18, dst=1, imm=5))
    assert (err.pc, err.reason) == (1, "lddw is missing its second slot (opcode 0x18)")


@pytest.mark.parametrize("second", [word(0x95), word(0, dst=1), word(0, src=1),
                                    word(0, offset=1)], ids=["opcode", "dst", "src", "offset"])
def test_invalid_lddw_second_slot(second: bytes) -> None:
    err = rejects(MOV_R0_0 + word(0x18, dst=1) + second + EXIT)
    assert (err.pc, err.reason) == (2, "second slot of lddw must have only an immediate")


def test_invalid_lddw_source() -> None:
    err = rejects(word(0x18, dst=1, src=7) + word(0) + EXIT)
    assert (err.pc, err.reason) == (0, "invalid lddw source 7 (opcode 0x18)")


@pytest.mark.parametrize(("offset", "target"), [(-3, -1), (2, 4)])
def test_invalid_jump_outside_program(offset: int, target: int) -> None:
    err = rejects(MOV_R0_0 + word(0x05, offset=offset) + EXIT + EXIT)
    assert (err.pc, err.reason) == (1, f"jump to {target} is outside the program (0..3)")


def test_invalid_conditional_jump_past_end() -> None:
    err = rejects(word(0x15, dst=1, offset=1) + EXIT)
    assert (err.pc, err.reason) == (0, "jump to 2 is outside the program (0..1)")


def test_invalid_local_call_outside_program() -> None:
    err = rejects(word(0x85, src=1, imm=-2) + EXIT)
    assert (err.pc, err.reason) == (0, "jump to -1 is outside the program (0..1)")


def test_invalid_gotol_outside_program() -> None:
    err = rejects(EXIT + word(0x06, imm=1 << 20))
    assert (err.pc, err.reason) == (1, f"jump to {2 + (1 << 20)} is outside the program (0..1)")


def test_invalid_jump_into_lddw_second_slot() -> None:
    err = rejects(word(0x05, offset=1) + word(0x18, dst=1) + word(0) + EXIT)
    assert (err.pc, err.reason) == (0, "jump to 2 lands in the second slot of lddw")


@pytest.mark.parametrize(("code", "reason"), [
    (word(0xB7, dst=11), "invalid dst register r11"),
    (word(0x0F, dst=1, src=12), "invalid src register r12"),
    (word(0x15, dst=15), "invalid dst register r15"),
    (word(0x61, dst=1, src=11), "invalid src register r11"),
    (word(0x63, dst=13, src=1), "invalid dst register r13"),
    (word(0x8D, dst=11), "invalid dst register r11"),
], ids=["mov dst", "add src", "jeq dst", "ldx src", "stx dst", "callx"])
def test_invalid_register(code: bytes, reason: str) -> None:
    err = rejects(at_pc(1, code))
    assert err.pc == 1
    assert err.reason.startswith(reason)


@pytest.mark.parametrize("code", [
    word(0xB7, dst=10), word(0x87, dst=10), word(0x61, dst=10, src=1),
    word(0xDC, dst=10, imm=16), word(0xBF, dst=10, src=1, offset=8),
    word(0x18, dst=10) + word(0),
], ids=["mov", "neg", "ldx", "be", "movsx", "lddw"])
def test_invalid_write_to_r10(code: bytes) -> None:
    err = rejects(at_pc(3, code))
    assert err.pc == 3
    assert err.reason.startswith("cannot write to r10")


@pytest.mark.parametrize(("opcode", "width"), [(0xBF, 24), (0xBF, 64), (0xBC, 32),
                                               (0xBF, -8)])
def test_invalid_movsx_width(opcode: int, width: int) -> None:
    err = rejects(at_pc(1, word(opcode, dst=1, src=2, offset=width)))
    assert (err.pc, err.reason) == (
        1, f"invalid sign-extension width {width} for movsx (opcode {opcode:#04x})")


@pytest.mark.parametrize(("opcode", "width"), [(0xD4, 8), (0xDC, 0), (0xD7, 128),
                                               (0xD4, -16)])
def test_invalid_endian_width(opcode: int, width: int) -> None:
    err = rejects(at_pc(1, word(opcode, dst=1, imm=width)))
    assert (err.pc, err.reason) == (
        1, f"invalid byte-swap width {width} (opcode {opcode:#04x})")


def test_invalid_bswap_register_form() -> None:
    err = rejects(word(0xDF, dst=1, imm=16))
    assert (err.pc, err.reason) == (0, "bswap has no register-source form (opcode 0xdf)")


@pytest.mark.parametrize("imm", [0x02, 0x10, 0xE0, 0xF0, 0x101, 0x41 | 0x02, -1])
def test_invalid_atomic_imm(imm: int) -> None:
    err = rejects(at_pc(1, word(0xDB, dst=1, src=2, imm=imm)))
    assert (err.pc, err.reason) == (1, f"invalid atomic operation {imm:#x} (opcode 0xdb)")


@pytest.mark.parametrize("offset", [2, -1])
def test_invalid_signed_division_offset(offset: int) -> None:
    err = rejects(word(0x3F, dst=1, src=2, offset=offset))
    assert err.pc == 0
    assert err.reason.startswith(f"invalid offset {offset} for div/mod")


@pytest.mark.parametrize("src", [3, 15])
def test_invalid_call_source(src: int) -> None:
    err = rejects(word(0x85, src=src, imm=1) + EXIT)
    assert (err.pc, err.reason) == (0, f"invalid call source {src} (opcode 0x85)")


def test_invalid_call_in_jmp32() -> None:
    err = rejects(word(0x86, imm=1) + EXIT)
    assert (err.pc, err.reason) == (0, "call and exit exist only in the JMP class (opcode 0x86)")


def test_invalid_empty_program() -> None:
    err = rejects(b"")
    assert (err.pc, err.reason) == (0, "empty program")


@pytest.mark.parametrize(("length", "pc"), [(1, 0), (7, 0), (12, 1), (23, 2)])
def test_invalid_length_not_multiple_of_8(length: int, pc: int) -> None:
    err = rejects((MOV_R0_0 * 3)[:length])
    assert (err.pc, err.reason) == (pc, f"program length {length} is not a multiple of 8")


def test_decode_mov_and_exit() -> None:
    program = decode(MOV_R0_0 + EXIT)
    assert program.slots == (Alu(AluOp.MOV, 0, Imm(0), True), Exit())


def test_decode_lddw_takes_two_slots() -> None:
    program = decode(word(0x18, dst=2, imm=-1) + word(0, imm=0x1234) + EXIT)
    assert program.slots == (LoadImm64(2, Pseudo.IMM64, -1, 0x1234), None, Exit())
    assert decode_one(0, word(0x18, dst=2, imm=-1), word(0, imm=0x1234)) == program.slots[0]


@pytest.mark.parametrize("imm", [0x01, 0x41, 0x51, 0xA1, 0xE1])
def test_invalid_fetching_atomic_into_r10(imm: int) -> None:
    word = struct.pack("<BBhi", 0xDB, (10 << 4) | 1, 0, imm)
    with pytest.raises(DecodeError, match=r"pc 0: cannot write to r10"):
        decode(word + struct.pack("<BBhi", 0x95, 0, 0, 0))


def test_cmpxchg_may_compare_against_r10() -> None:
    word = struct.pack("<BBhi", 0xDB, (10 << 4) | 1, 0, 0xF1)
    assert len(decode(word + struct.pack("<BBhi", 0x95, 0, 0, 0))) == 2


@pytest.mark.parametrize(("raw", "name"), [
    (struct.pack("<BBhi", 0xDB, 0x10, 0, 0x100), "load-acquire"),
    (struct.pack("<BBhi", 0xD3, 0x10, 0, 0x100), "load-acquire"),
    (struct.pack("<BBhi", 0xDB, 0x10, 0, 0x110), "store-release"),
    (struct.pack("<BBhi", 0xC3, 0x10, 0, 0x110), "store-release"),
    (struct.pack("<BBhi", 0xE5, 0x00, 0, 0), "may_goto")])
def test_invalid_instructions_newer_than_rfc_9669_are_named(raw: bytes, name: str) -> None:
    with pytest.raises(DecodeError, match=f"pc 0: {name} .*newer than RFC 9669"):
        decode(raw + struct.pack("<BBhi", 0x95, 0, 0, 0))
