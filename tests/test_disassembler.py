"""Disassembler: the exact text printed for each instruction form."""

from __future__ import annotations

import pytest

from arspec.reference.isa.decoder import decode
from arspec.reference.isa.disassembler import disassemble, format_instruction
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
)

GOLDEN: list[tuple[Instruction, str]] = [
    (Alu(AluOp.MOV, 0, Imm(1), True), "r0 = 1"),
    (Alu(AluOp.MOV, 0, Reg(1), False), "w0 = w1"),
    (Alu(AluOp.ADD, 2, Imm(-1), False), "w2 += -1"),
    (Alu(AluOp.SUB, 2, Reg(3), True), "r2 -= r3"),
    (Alu(AluOp.MUL, 2, Imm(3), True), "r2 *= 3"),
    (Alu(AluOp.DIV, 2, Imm(3), True), "r2 /= 3"),
    (Alu(AluOp.SDIV, 2, Reg(3), True), "r2 s/= r3"),
    (Alu(AluOp.MOD, 2, Imm(3), False), "w2 %= 3"),
    (Alu(AluOp.SMOD, 2, Imm(3), False), "w2 s%= 3"),
    (Alu(AluOp.OR, 2, Imm(3), True), "r2 |= 3"),
    (Alu(AluOp.AND, 2, Imm(3), True), "r2 &= 3"),
    (Alu(AluOp.XOR, 2, Imm(3), True), "r2 ^= 3"),
    (Alu(AluOp.LSH, 2, Imm(3), True), "r2 <<= 3"),
    (Alu(AluOp.RSH, 2, Imm(3), True), "r2 >>= 3"),
    (Alu(AluOp.ARSH, 2, Imm(3), True), "r2 s>>= 3"),
    (Alu(AluOp.MOV, 9, Imm(-(1 << 31)), True), "r9 = -2147483648"),
    (Neg(4, True), "r4 = -r4"),
    (Neg(4, False), "w4 = -w4"),
    (MovSx(0, 1, 8, True), "r0 = (s8)r1"),
    (MovSx(0, 1, 16, False), "w0 = (s16)w1"),
    (MovSx(0, 1, 32, True), "r0 = (s32)r1"),
    (Endian(EndianOp.BE, 0, 16), "r0 = be16 r0"),
    (Endian(EndianOp.LE, 0, 32), "r0 = le32 r0"),
    (Endian(EndianOp.SWAP, 0, 64), "r0 = bswap64 r0"),
    (Load(4, 0, 1, 4), "r0 = *(u32 *)(r1 + 4)"),
    (Load(2, 0, 1, -2, True), "r0 = *(s16 *)(r1 - 2)"),
    (Load(8, 3, 10, -32768), "r3 = *(u64 *)(r10 - 32768)"),
    (Store(8, 10, -8, Reg(1)), "*(u64 *)(r10 - 8) = r1"),
    (Store(4, 10, -8, Imm(5)), "*(u32 *)(r10 - 8) = 5"),
    (Store(1, 1, 0, Imm(-1)), "*(u8 *)(r1 + 0) = -1"),
    (Atomic(AtomicOp.ADD, 8, 10, 1, -8, False), "lock *(u64 *)(r10 - 8) += r1"),
    (Atomic(AtomicOp.OR, 4, 1, 2, 0, False), "lock *(u32 *)(r1 + 0) |= w2"),
    (Atomic(AtomicOp.AND, 4, 1, 2, 0, False), "lock *(u32 *)(r1 + 0) &= w2"),
    (Atomic(AtomicOp.XOR, 8, 1, 2, 0, False), "lock *(u64 *)(r1 + 0) ^= r2"),
    (Atomic(AtomicOp.ADD, 8, 10, 0, -8, True),
     "r0 = atomic_fetch_add((u64 *)(r10 - 8), r0)"),
    (Atomic(AtomicOp.XOR, 4, 1, 3, 2, True), "w3 = atomic_fetch_xor((u32 *)(r1 + 2), w3)"),
    (Atomic(AtomicOp.XCHG, 8, 10, 1, -8, True), "r1 = xchg_64(r10 - 8, r1)"),
    (Atomic(AtomicOp.XCHG, 4, 10, 1, -8, True), "w1 = xchg32_32(r10 - 8, w1)"),
    (Atomic(AtomicOp.CMPXCHG, 8, 10, 1, -8, True), "r0 = cmpxchg_64(r10 - 8, r0, r1)"),
    (Atomic(AtomicOp.CMPXCHG, 4, 10, 1, -8, True), "w0 = cmpxchg32_32(r10 - 8, w0, w1)"),
    (Jump(JmpCond.SGT, 1, Imm(5), 2, True), "if r1 s> 5 goto +2"),
    (Jump(JmpCond.EQ, 1, Reg(2), -1, False), "if w1 == w2 goto -1"),
    (Jump(JmpCond.SET, 1, Imm(16), 1, True), "if r1 & 16 goto +1"),
    (Jump(JmpCond.NE, 1, Imm(0), 0, True), "if r1 != 0 goto +0"),
    (Jump(JmpCond.GE, 1, Imm(0), 0, True), "if r1 >= 0 goto +0"),
    (Jump(JmpCond.LT, 1, Imm(0), 0, True), "if r1 < 0 goto +0"),
    (Jump(JmpCond.LE, 1, Imm(0), 0, True), "if r1 <= 0 goto +0"),
    (Jump(JmpCond.GT, 1, Imm(0), 0, True), "if r1 > 0 goto +0"),
    (Jump(JmpCond.SGE, 1, Imm(0), 0, True), "if r1 s>= 0 goto +0"),
    (Jump(JmpCond.SLT, 1, Imm(0), 0, True), "if r1 s< 0 goto +0"),
    (Jump(JmpCond.SLE, 1, Imm(0), 0, True), "if r1 s<= 0 goto +0"),
    (Ja(3), "goto +3"),
    (Ja(-32768), "goto -32768"),
    (Ja(100000, long=True), "gotol +100000"),
    (Call(12), "call 12"),
    (Call(-1), "call 0xffffffff"),
    (CallLocal(3), "call pc+3"),
    (CallLocal(-3), "call pc-3"),
    (CallKfunc(1234), "call kfunc 1234"),
    (CallKfunc(1234, -2), "call kfunc 1234 module -2"),
    (Callx(1), "callx r1"),
    (Exit(), "exit"),
    (LoadImm64(0, Pseudo.IMM64, 0x12345678, 0x12345678), "r0 = 0x1234567812345678 ll"),
    (LoadImm64(0, Pseudo.IMM64, -1, -1), "r0 = 0xffffffffffffffff ll"),
    (LoadImm64(0, Pseudo.IMM64, 0, 0), "r0 = 0x0 ll"),
    (LoadImm64(1, Pseudo.MAP_FD, 1, 0), "r1 = map_fd(1) ll"),
    (LoadImm64(1, Pseudo.MAP_VALUE, 1, 8), "r1 = map_value(1) + 8 ll"),
    (LoadImm64(1, Pseudo.VARIABLE_ADDR, 2, -4), "r1 = variable_addr(2) - 4 ll"),
    (LoadImm64(1, Pseudo.CODE_ADDR, -3, 0), "r1 = code_addr(-3) ll"),
    (LoadImm64(1, Pseudo.MAP_IDX, 0, 0), "r1 = map_idx(0) ll"),
    (LoadImm64(1, Pseudo.MAP_IDX_VALUE, 0, 16), "r1 = map_idx_value(0) + 16 ll"),
    (LegacyLoad(LegacyMode.ABS, 1, 0, 5), "r0 = *(u8 *)skb[5]"),
    (LegacyLoad(LegacyMode.IND, 4, 1, -5), "r0 = *(u32 *)skb[r1 - 5]"),
]


@pytest.mark.parametrize(("insn", "text"), GOLDEN, ids=[g[1] for g in GOLDEN])
def test_format_instruction(insn: Instruction, text: str) -> None:
    assert format_instruction(insn) == text


@pytest.mark.parametrize(("insn", "pc", "text"), [
    (Ja(2), 4, "goto +2 ; -> 7"),
    (Jump(JmpCond.EQ, 1, Imm(0), -3, True), 3, "if r1 == 0 goto -3 ; -> 1"),
    (CallLocal(-1), 0, "call pc-1 ; -> 0"),
    (Exit(), 5, "exit"),
    (Call(1), 5, "call 1"),
])
def test_format_instruction_with_pc_annotates_targets(insn: Instruction, pc: int,
                                                      text: str) -> None:
    assert format_instruction(insn, pc) == text


def test_disassemble_one_line_per_instruction() -> None:
    code = bytes.fromhex("b700000001000000" "1801000088776655" "0000000044332211"
                         "0500ffff00000000" "9500000000000000")
    assert disassemble(decode(code)) == (
        "r0 = 1\n"
        "r1 = 0x1122334455667788 ll\n"
        "goto -1\n"
        "exit\n"
    )


def test_disassemble_empty_program_is_empty_text() -> None:
    assert disassemble(Program(())) == ""


def test_invalid_format_of_non_instruction() -> None:
    with pytest.raises(TypeError):
        format_instruction("exit")  # type: ignore[arg-type]
