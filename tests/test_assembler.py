"""Assembler: both syntaxes, labels, comments, and every rejection with its exact location."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.reference.isa.asm_llvm import ALU_SYMBOL, JMP_SYMBOL, PSEUDO_NAME
from arspec.reference.isa.asm_ubpf import MNEMONICS
from arspec.reference.isa.assembler import assemble, assemble_instructions
from arspec.reference.isa.encoder import encode
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
    Pseudo,
    Reg,
    Store,
)
from arspec.spec.errors import InputError


def one(text: str) -> Instruction:
    insns = assemble_instructions(text)
    assert len(insns) == 1, insns
    return insns[0]


def fails(text: str, filename: str = "prog.s") -> InputError:
    with pytest.raises(InputError) as info:
        assemble(text, filename=filename)
    assert info.value.file == filename
    return info.value


MNEMONIC_CASES = [
    ("mov %r0, 1", Alu(AluOp.MOV, 0, Imm(1), True)),
    ("mov32 %r0, 1", Alu(AluOp.MOV, 0, Imm(1), False)),
    ("mov64 r3, -7", Alu(AluOp.MOV, 3, Imm(-7), True)),
    ("add %r1, %r2", Alu(AluOp.ADD, 1, Reg(2), True)),
    ("add32 %r1, %r10", Alu(AluOp.ADD, 1, Reg(10), False)),
    ("sdiv32 %r1, 3", Alu(AluOp.SDIV, 1, Imm(3), False)),
    ("smod %r1, %r2", Alu(AluOp.SMOD, 1, Reg(2), True)),
    ("arsh %r1, 0x3f", Alu(AluOp.ARSH, 1, Imm(63), True)),
    ("mov32 %r0, 0xffffffff", Alu(AluOp.MOV, 0, Imm(-1), False)),
    ("mov %r0, -2147483648", Alu(AluOp.MOV, 0, Imm(-(1 << 31)), True)),
    ("neg %r4", Neg(4, True)),
    ("neg32 %r4", Neg(4, False)),
    ("movsx832 %r1, %r2", MovSx(1, 2, 8, False)),
    ("movsx1632 %r1, %r2", MovSx(1, 2, 16, False)),
    ("movsx864 %r1, %r2", MovSx(1, 2, 8, True)),
    ("movsx1664 %r1, %r2", MovSx(1, 2, 16, True)),
    ("movsx3264 %r1, %r2", MovSx(1, 2, 32, True)),
    ("le16 %r1", Endian(EndianOp.LE, 1, 16)),
    ("be64 %r1", Endian(EndianOp.BE, 1, 64)),
    ("bswap32 %r1", Endian(EndianOp.SWAP, 1, 32)),
    ("swap16 %r1", Endian(EndianOp.SWAP, 1, 16)),
    ("ldxw %r0, [%r1+4]", Load(4, 0, 1, 4)),
    ("ldxdw %r0, [%r10-8]", Load(8, 0, 10, -8)),
    ("ldxb %r0, [%r1]", Load(1, 0, 1, 0)),
    ("ldxsh %r0, [%r1+0x7fff]", Load(2, 0, 1, 0x7FFF, True)),
    ("ldxsb %r0, [%r1-32768]", Load(1, 0, 1, -32768, True)),
    ("ldxsw %r0, [%r1+2]", Load(4, 0, 1, 2, True)),
    ("stw [%r1+2], 5", Store(4, 1, 2, Imm(5))),
    ("sth [%r1-2], -1", Store(2, 1, -2, Imm(-1))),
    ("stxdw [%r10-8], %r2", Store(8, 10, -8, Reg(2))),
    ("stxb [%r1], %r2", Store(1, 1, 0, Reg(2))),
    ("lddw %r0, 0x123456789", LoadImm64(0, Pseudo.IMM64, 0x23456789, 1)),
    ("lddw %r0, 0xffffffffffffffff", LoadImm64(0, Pseudo.IMM64, -1, -1)),
    ("lddw %r0, -1", LoadImm64(0, Pseudo.IMM64, -1, -1)),
    ("ldabsh 12", LegacyLoad(LegacyMode.ABS, 2, 0, 12)),
    ("ldindw %r3, -4", LegacyLoad(LegacyMode.IND, 4, 3, -4)),
    ("ja +2", Ja(2)),
    ("ja -1", Ja(-1)),
    ("jal +100000", Ja(100000, long=True)),
    ("jeq %r1, 0, +2", Jump(JmpCond.EQ, 1, Imm(0), 2, True)),
    ("jsle32 %r1, %r2, -3", Jump(JmpCond.SLE, 1, Reg(2), -3, False)),
    ("jset %r1, 0x10, +1", Jump(JmpCond.SET, 1, Imm(16), 1, True)),
    ("call 1", Call(1)),
    ("call 0xffffffff", Call(-1)),
    ("call helper -5", Call(-5)),
    ("call -3", CallLocal(-3)),
    ("call local +4", CallLocal(4)),
    ("call runtime 77", CallKfunc(77)),
    ("callx %r1", Callx(1)),
    ("call %r2", Callx(2)),
    ("exit", Exit()),
    ("lock add [%r1+0], %r2", Atomic(AtomicOp.ADD, 8, 1, 2, 0, False)),
    ("lock fetch add [%r1+0], %r2", Atomic(AtomicOp.ADD, 8, 1, 2, 0, True)),
    ("lock or32 [%r1+4], %r2", Atomic(AtomicOp.OR, 4, 1, 2, 4, False)),
    ("lock fetch xor32 [%r1-4], %r2", Atomic(AtomicOp.XOR, 4, 1, 2, -4, True)),
    ("lock xchg [%r1], %r2", Atomic(AtomicOp.XCHG, 8, 1, 2, 0, True)),
    ("lock cmpxchg32 [%r1], %r2", Atomic(AtomicOp.CMPXCHG, 4, 1, 2, 0, True)),
]

EXPRESSION_CASES = [
    ("r0 = 1", Alu(AluOp.MOV, 0, Imm(1), True)),
    ("w0 += 1", Alu(AluOp.ADD, 0, Imm(1), False)),
    ("r0 = r1", Alu(AluOp.MOV, 0, Reg(1), True)),
    ("w0 = w1", Alu(AluOp.MOV, 0, Reg(1), False)),
    ("r0 = -5", Alu(AluOp.MOV, 0, Imm(-5), True)),
    ("r0 = -r0", Neg(0, True)),
    ("w3 = -w3", Neg(3, False)),
    ("r0 s/= r1", Alu(AluOp.SDIV, 0, Reg(1), True)),
    ("r0 s%= r1", Alu(AluOp.SMOD, 0, Reg(1), True)),
    ("r0 s>>= 3", Alu(AluOp.ARSH, 0, Imm(3), True)),
    ("w0 <<= w2", Alu(AluOp.LSH, 0, Reg(2), False)),
    ("r9 ^= -1", Alu(AluOp.XOR, 9, Imm(-1), True)),
    ("r0 = (s8)r1", MovSx(0, 1, 8, True)),
    ("w0 = (s16)w1", MovSx(0, 1, 16, False)),
    ("r0 = (s32)r1", MovSx(0, 1, 32, True)),
    ("r0 = be16 r0", Endian(EndianOp.BE, 0, 16)),
    ("r0 = le32 r0", Endian(EndianOp.LE, 0, 32)),
    ("r0 = bswap64 r0", Endian(EndianOp.SWAP, 0, 64)),
    ("r0 = *(u32 *)(r1 + 4)", Load(4, 0, 1, 4)),
    ("w0 = *(u32 *)(r1 + 4)", Load(4, 0, 1, 4)),
    ("r0 = *(s16 *)(r1 - 2)", Load(2, 0, 1, -2, True)),
    ("r0 = *(u64 *)(r1)", Load(8, 0, 1, 0)),
    ("*(u64 *)(r10 - 8) = r1", Store(8, 10, -8, Reg(1))),
    ("*(u32 *)(r10 - 8) = 5", Store(4, 10, -8, Imm(5))),
    ("*(u8 *)(r2 + 1) = w3", Store(1, 2, 1, Reg(3))),
    ("if r1 s> 5 goto +2", Jump(JmpCond.SGT, 1, Imm(5), 2, True)),
    ("if w1 == w2 goto -1", Jump(JmpCond.EQ, 1, Reg(2), -1, False)),
    ("if r1 & 0x10 goto +1", Jump(JmpCond.SET, 1, Imm(16), 1, True)),
    ("if r1 s<= -1 goto pc+3", Jump(JmpCond.SLE, 1, Imm(-1), 3, True)),
    ("if r1 != r2 goto +0", Jump(JmpCond.NE, 1, Reg(2), 0, True)),
    ("goto +3", Ja(3)),
    ("gotol +100000", Ja(100000, long=True)),
    ("gotol -2147483648", Ja(-(1 << 31), long=True)),
    ("call 12", Call(12)),
    ("call pc+3", CallLocal(3)),
    ("call pc-1", CallLocal(-1)),
    ("call kfunc 9 module 2", CallKfunc(9, 2)),
    ("callx r1", Callx(1)),
    ("r0 = 0x1234567812345678 ll", LoadImm64(0, Pseudo.IMM64, 0x12345678, 0x12345678)),
    ("r1 = map_fd 1", LoadImm64(1, Pseudo.MAP_FD, 1, 0)),
    ("r1 = map_fd(1) ll", LoadImm64(1, Pseudo.MAP_FD, 1, 0)),
    ("r1 = map_value(1) + 8", LoadImm64(1, Pseudo.MAP_VALUE, 1, 8)),
    ("r1 = map_value(1) - 8 ll", LoadImm64(1, Pseudo.MAP_VALUE, 1, -8)),
    ("r2 = variable_addr(7)", LoadImm64(2, Pseudo.VARIABLE_ADDR, 7, 0)),
    ("r2 = code_addr(-4)", LoadImm64(2, Pseudo.CODE_ADDR, -4, 0)),
    ("r2 = map_idx(0)", LoadImm64(2, Pseudo.MAP_IDX, 0, 0)),
    ("r2 = map_idx_value(3) + 16", LoadImm64(2, Pseudo.MAP_IDX_VALUE, 3, 16)),
    ("lock *(u64 *)(r10 - 8) += r1", Atomic(AtomicOp.ADD, 8, 10, 1, -8, False)),
    ("lock *(u32 *)(r1 + 0) |= w2", Atomic(AtomicOp.OR, 4, 1, 2, 0, False)),
    ("lock *(u32 *)(r1 + 0) &= w2", Atomic(AtomicOp.AND, 4, 1, 2, 0, False)),
    ("lock *(u64 *)(r1 + 0) ^= r2", Atomic(AtomicOp.XOR, 8, 1, 2, 0, False)),
    ("r0 = atomic_fetch_add((u64 *)(r10 - 8), r0)", Atomic(AtomicOp.ADD, 8, 10, 0, -8, True)),
    ("w3 = atomic_fetch_and((u32 *)(r1 + 4), w3)", Atomic(AtomicOp.AND, 4, 1, 3, 4, True)),
    ("r1 = xchg_64(r10 - 8, r1)", Atomic(AtomicOp.XCHG, 8, 10, 1, -8, True)),
    ("w1 = xchg32_32(r10 - 8, w1)", Atomic(AtomicOp.XCHG, 4, 10, 1, -8, True)),
    ("r0 = cmpxchg_64(r10 - 8, r0, r1)", Atomic(AtomicOp.CMPXCHG, 8, 10, 1, -8, True)),
    ("w0 = cmpxchg32_32(r10 - 8, w0, w1)", Atomic(AtomicOp.CMPXCHG, 4, 10, 1, -8, True)),
    ("r0 = *(u8 *)skb[5]", LegacyLoad(LegacyMode.ABS, 1, 0, 5)),
    ("r0 = *(u32 *)skb[r1 + 5]", LegacyLoad(LegacyMode.IND, 4, 1, 5)),
    ("r0 = *(u16 *)skb[r7]", LegacyLoad(LegacyMode.IND, 2, 7, 0)),
]


@pytest.mark.parametrize(("text", "expected"), MNEMONIC_CASES, ids=[c[0] for c in MNEMONIC_CASES])
def test_mnemonic_syntax(text: str, expected: Instruction) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(("text", "expected"), EXPRESSION_CASES,
                         ids=[c[0] for c in EXPRESSION_CASES])
def test_expression_syntax(text: str, expected: Instruction) -> None:
    assert one(text) == expected


def test_mixed_syntax_labels_and_comments() -> None:
    program = assemble("""
        # conformance style header
        mov %r0, 0          ; comment
    loop:                   // label alone on a line
        r0 += 1
        jlt %r0, 10, loop
        if r0 == 10 goto done
        ja loop
    done: exit
    """)
    assert program.slots == (
        Alu(AluOp.MOV, 0, Imm(0), True),
        Alu(AluOp.ADD, 0, Imm(1), True),
        Jump(JmpCond.LT, 0, Imm(10), -2, True),
        Jump(JmpCond.EQ, 0, Imm(10), 1, True),
        Ja(-4),
        Exit(),
    )


def test_labels_count_lddw_as_two_slots() -> None:
    program = assemble("ja end\nlddw %r0, 1\nend: exit\ncall end")
    assert program.slots[0] == Ja(2)
    assert program.slots[4] == CallLocal(-2)


def test_several_labels_on_one_line() -> None:
    assert assemble("a: b: ja b\nexit").slots[0] == Ja(-1)


def test_exit_names_the_first_exit_unless_defined() -> None:
    assert assemble("jeq %r1, 0, exit\nmov %r0, 1\nexit\nexit").slots[0].offset == 1  # type: ignore[union-attr]
    assert assemble("ja exit\nexit\nexit: exit").slots[0] == Ja(1)


def test_local_call_by_label() -> None:
    program = assemble("call f\nexit\nf: r0 = 1\nexit")
    assert program.slots[0] == CallLocal(1)


def test_assemble_bytes_match_known_encoding() -> None:
    code = encode(assemble("mov %r0, 1\nr0 = 0x1122334455667788 ll\nexit"))
    assert code.hex() == ("b700000001000000" "1800000088776655" "0000000044332211"
                          "9500000000000000")


def test_assemble_instructions_allows_fragments() -> None:
    assert assemble_instructions("goto +5") == [Ja(5)]
    assert assemble_instructions("  # only a comment\n\n") == []


def test_case_of_hex_digits_and_spacing() -> None:
    assert one("r0=0XfF") == Alu(AluOp.MOV, 0, Imm(255), True)
    assert one("r0=*(u8*)(r1+1)") == Load(1, 0, 1, 1)
    assert one("if r1 s>5 goto+2") == Jump(JmpCond.SGT, 1, Imm(5), 2, True)
    assert one("r1 s>>=r2") == Alu(AluOp.ARSH, 1, Reg(2), True)
    assert one("if r1 s<=-1 goto -1") == Jump(JmpCond.SLE, 1, Imm(-1), -1, True)


# ---------------------------------------------------------------------------- rejections

REJECTIONS = [
    # (source, line, column, reason)
    ("exit\n\n    mvo %r0, 1", 3, 5, "unknown mnemonic 'mvo'"),
    ("mov %r0", 1, 1, "'mov' expects 2 operands, found 1"),
    ("exit\nadd %r0, %r1, %r2", 2, 1, "'add' expects 2 operands, found 3"),
    ("neg %r0, 1", 1, 1, "'neg' expects 1 operand, found 2"),
    ("jeq %r0, 1", 1, 1, "'jeq' expects 3 operands, found 2"),
    ("exit\nexit\nlock add [%r1]", 3, 6, "'lock add' expects 2 operands, found 1"),
    ("exit 1", 1, 6, "unexpected '1' after the instruction"),
    ("mov %r0, 0x100000000", 1, 10, "immediate 4294967296 is out of range"),
    ("mov %r0, -2147483649", 1, 10, "immediate -2147483649 is out of range"),
    ("r0 = 0x1234567812345678", 1, 6, "immediate 1311768465173141112 is out of range"),
    ("lddw %r0, 0x10000000000000000", 1, 11, "out of range"),
    ("ldxw %r0, [%r1+32768]", 1, 15, "memory offset 32768 is out of range [-32768, 32767]"),
    ("r0 = *(u32 *)(r1 - 32769)", 1, 18, "memory offset -32769 is out of range"),
    ("ja +32768", 1, 4, "jump offset 32768 is out of range [-32768, 32767]"),
    ("if r0 > 1 goto -32769", 1, 16, "jump offset -32769 is out of range"),
    ("gotol +2147483648", 1, 7, "jump offset 2147483648 is out of range"),
    ("mov %r11, 1", 1, 5, "invalid register '%r11' (registers are r0..r10)"),
    ("exit\nadd %r1, %r12", 2, 10, "invalid register '%r12'"),
    ("r11 = 1", 1, 1, "invalid register 'r11'"),
    ("w10 = 1", 1, 1, "cannot write to r10"),
    ("mov %r10, 1", 1, 5, "cannot write to r10"),
    ("r10 += 8", 1, 1, "cannot write to r10"),
    ("ldxdw %r10, [%r1]", 1, 7, "cannot write to r10"),
    ("r10 = 1 ll", 1, 1, "cannot write to r10"),
    ("be16 %r10", 1, 6, "cannot write to r10"),
    ("ja nowhere\nexit", 1, 4, "undefined label 'nowhere'"),
    ("exit\njeq %r1, 0, missing", 2, 13, "undefined label 'missing'"),
    ("a: exit\nexit\na: exit", 3, 1, "duplicate label 'a' (first defined on line 1)"),
    ("ldxw %r0, [%r1+4", 1, 17, "expected ']', found end of line"),
    ("ldxw %r0, %r1+4]", 1, 11, "expected '[', found '%r1'"),
    ("stw [5], 1", 1, 6, "expected a register, found '5'"),
    ("r0 = *(u32 *)r1", 1, 14, "expected '(', found 'r1'"),
    ("r0 = *(u24 *)(r1 + 0)", 1, 8, "unknown access size 'u24'"),
    ("*(s32 *)(r1 + 0) = 1", 1, 3, "unknown access size 's32'"),
    ("lock *(u16 *)(r1 + 0) += r2", 1, 8, "atomic operations take u32 or u64"),
    ("r0 = 1 garbage", 1, 8, "unexpected 'garbage' after the instruction"),
    ("exit\nr0 += 1, 2", 2, 8, "unexpected ',' after the instruction"),
    ("w0 += r1", 1, 7, "expected a 32-bit 'w' register, found 'r1'"),
    ("if r0 == w1 goto +1", 1, 10, "expected a 64-bit 'r' register, found 'w1'"),
    ("mov w0, 1", 1, 5, "expected a 64-bit 'r' register, found 'w0'"),
    ("r0 = -r1", 1, 7, "negation must name the destination register 'r0'"),
    ("r0 = be16 r1", 1, 11, "the byte-order operand must name the destination register 'r0'"),
    ("w0 = (s32)w1", 1, 7, "invalid sign extension '(s32)' for 'w0'"),
    ("r1 = cmpxchg_64(r10 - 8, r1, r2)", 1, 1, "cmpxchg returns its result in r0"),
    ("r1 = xchg_64(r10 - 8, r2)", 1, 23, "the exchanged operand must name the destination"),
    ("r1 = atomic_fetch_add((u64 *)(r1 + 0), r2)", 1, 40, "the fetched operand must name"),
    ("r1 = *(u8 *)skb[5]", 1, 8, "legacy packet loads are"),
    ("w1 = 5 ll", 1, 1, "a 64-bit immediate load needs an 'r' register"),
    ("if r0 <> 1 goto +1", 1, 8, "expected immediate, found '>'"),
    ("if r0 =< 1 goto +1", 1, 7, "unknown comparison '='"),
    ("if r0 == 1 goto", 1, 16, "expected a signed jump offset such as +2 or -1, found end"),
    ("if r0 == 1 +2", 1, 12, "expected 'goto', found '+'"),
    ("r0 =", 1, 5, "expected an expression, found end of line"),
    ("r0 @ 1", 1, 4, "unexpected character '@'"),
    ("lock nand [%r1], %r2", 1, 6, "unknown atomic operation 'nand'"),
    ("goto 3", 1, 6, "expected a signed jump offset such as +2 or -1, found '3'"),
    ("call", 1, 1, "'call' expects a helper id, a target or a mode"),
    ("call 4294967296", 1, 6, "helper id 4294967296 is out of range"),
    ("call kfunc 1 module 40000", 1, 21, "module 40000 is out of range"),
    ("call %r11", 1, 6, "invalid register '%r11'"),
    ("callx w1", 1, 7, "expected a 64-bit 'r' register, found 'w1'"),
    ("call helper 1 2", 1, 15, "unexpected '2' after the instruction"),
    ("call local nowhere\nexit", 1, 12, "undefined label 'nowhere'"),
    ("lock fetch", 1, 11, "expected an atomic operation, found end of line"),
    ("lock add [%r1], 5", 1, 17, "expected a register, found '5'"),
    ("stxw [%r1], 5", 1, 13, "expected a register, found '5'"),
    ("stw [%r1], %r2", 1, 12, "expected immediate, found '%r2'"),
    ("lddw %r0, map_fd", 1, 11, "expected immediate, found 'map_fd'"),
    ("jeq %r1, 1, 2", 1, 13, "expected a signed jump offset such as +2 or -1, found '2'"),
    ("ldxw %r0, [%r1*4]", 1, 15, "expected ']', found '*'"),
    ("r0 = *(u32 *)skb[r1 + 5", 1, 24, "expected ']', found end of line"),
    ("r1 = map_fd(1", 1, 14, "expected ')', found end of line"),
    ("r1 = map_value(1) + 0x80000000", 1, 19, "value offset 2147483648 is out of range"),
    ("r0 = 1 ll ll", 1, 11, "unexpected 'll' after the instruction"),
    ("r1: exit", 1, 1, "invalid label name 'r1'"),
    ("5 + 3", 1, 1, "unknown mnemonic '5'"),
    ("ldabsdw 4", 1, 1, "unknown mnemonic 'ldabsdw'"),
    ("ldxsdw %r0, [%r1]", 1, 1, "unknown mnemonic 'ldxsdw'"),
    ("movsx3232 %r0, %r1", 1, 1, "unknown mnemonic 'movsx3232'"),
    ("r0 = foo(1)", 1, 6, "unknown expression 'foo'"),
]


@pytest.mark.parametrize(("text", "line", "column", "reason"), REJECTIONS,
                         ids=[r[0].replace("\n", "|") for r in REJECTIONS])
def test_invalid_source(text: str, line: int, column: int, reason: str) -> None:
    err = fails(text)
    assert (err.line, err.column) == (line, column), str(err)
    assert reason in err.reason
    assert str(err).startswith(f"prog.s:{line}:{column}: error: ")


def test_invalid_unknown_mnemonic_message() -> None:
    assert str(fails("exit\nexit\n    mvo %r0, 1")) == "prog.s:3:5: error: unknown mnemonic 'mvo'"


def test_invalid_label_offset_out_of_16_bits() -> None:
    text = "ja far\n" + "exit\n" * 32768 + "far: exit\n"
    err = fails(text)
    assert (err.line, err.column) == (1, 4)
    assert err.reason == "jump to 'far' needs offset 32768, which does not fit in 16 signed bits"


def test_label_offset_at_16_bit_limit_is_accepted() -> None:
    text = "ja far\n" + "exit\n" * 32767 + "far: exit\n"
    assert assemble(text).slots[0] == Ja(32767)


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("exit\nja +1", 2, "jump to 3 is outside the program (0..1)"),
    ("ja -2\nexit", 1, "jump to -1 is outside the program (0..1)"),
    ("exit\nexit\ncall pc+5", 3, "jump to 8 is outside the program (0..2)"),
    ("ja +1\nlddw %r0, 1\nexit", 1, "jump to 2 lands in the second slot of lddw"),
    ("ja end\nexit\nend:", 1, "jump to 2 is outside the program (0..1)"),
])
def test_invalid_target_outside_program(text: str, line: int, reason: str) -> None:
    err = fails(text)
    assert (err.line, err.column, err.reason) == (line, None, reason)


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing\n; here\n", "label:\n"])
def test_invalid_empty_program(text: str) -> None:
    err = fails(text)
    assert err.reason == "no instructions to assemble"
    assert err.line == max(1, len(text.splitlines()))


def test_default_filename() -> None:
    with pytest.raises(InputError) as info:
        assemble("bogus")
    assert str(info.value) == "<input>:1:1: error: unknown mnemonic 'bogus'"


# ------------------------------------------------------------ systematic rejections

def _wrong_counts() -> list[tuple[str, int, int]]:
    cases = []
    for mnemonic, (count, _) in sorted(MNEMONICS.items()):
        for found in {count - 1, count + 1} - {-1}:
            cases.append((mnemonic, count, found))
    return cases


@pytest.mark.parametrize(("mnemonic", "count", "found"), _wrong_counts(),
                         ids=[f"{m}-{f}" for m, _, f in _wrong_counts()])
def test_invalid_operand_count(mnemonic: str, count: int, found: int) -> None:
    operands = ", ".join(["%r1"] * found)
    err = fails(f"exit\n  {mnemonic} {operands}")
    plural = "operand" if count == 1 else "operands"
    assert (err.line, err.column) == (2, 3)
    assert err.reason == f"'{mnemonic}' expects {count} {plural}, found {found}"


@pytest.mark.parametrize("symbol", sorted(ALU_SYMBOL.values()))
@pytest.mark.parametrize(("dst", "src"), [("w0", "r1"), ("r0", "w1")])
def test_invalid_mixed_register_views_in_alu(symbol: str, dst: str, src: str) -> None:
    err = fails(f"exit\nexit\n{dst} {symbol} {src}")
    assert (err.line, err.column) == (3, 5 + len(symbol))
    assert err.reason.endswith(f"register, found '{src}'")


@pytest.mark.parametrize("symbol", sorted(JMP_SYMBOL.values()))
def test_invalid_mixed_register_views_in_jump(symbol: str) -> None:
    err = fails(f"if w1 {symbol} r2 goto +0\nexit")
    assert (err.line, err.column) == (1, 8 + len(symbol))
    assert err.reason == "expected a 32-bit 'w' register, found 'r2'"


@pytest.mark.parametrize("name", sorted(PSEUDO_NAME.values()))
def test_invalid_pseudo_load_into_w_register(name: str) -> None:
    err = fails(f"w1 = {name}(1)\nexit")
    assert (err.line, err.column) == (1, 1)
    assert err.reason == "a 64-bit immediate load needs an 'r' register"


@pytest.mark.parametrize("name", sorted(PSEUDO_NAME.values()))
def test_invalid_pseudo_load_into_r10(name: str) -> None:
    err = fails(f"exit\nr10 = {name}(1)")
    assert (err.line, err.column, err.reason) == (
        2, 1, "cannot write to r10 (the frame pointer is read-only)")


@pytest.mark.parametrize("size", ["u1", "u24", "u128", "s64", "i32", "char"])
def test_invalid_load_size(size: str) -> None:
    err = fails(f"r0 = *({size} *)(r1 + 0)")
    assert (err.line, err.column) == (1, 8)
    assert err.reason.startswith(f"unknown access size '{size}'")


@pytest.mark.parametrize("size", ["s8", "s16", "s32", "u24"])
def test_invalid_store_size(size: str) -> None:
    err = fails(f"exit\n*({size} *)(r1 + 0) = r2")
    assert (err.line, err.column) == (2, 3)
    assert err.reason.startswith(f"unknown access size '{size}'")


@pytest.mark.parametrize("size", ["u8", "u16"])
@pytest.mark.parametrize("form", ["lock *({size} *)(r1 + 0) += r2",
                                  "r2 = atomic_fetch_or(({size} *)(r1 + 0), r2)"])
def test_invalid_atomic_size(size: str, form: str) -> None:
    err = fails(form.format(size=size))
    assert err.line == 1
    assert err.reason == "atomic operations take u32 or u64"


@pytest.mark.parametrize("register", ["r11", "r15", "r99", "%r11", "w11"])
@pytest.mark.parametrize("form", ["{r} = 1", "r1 = {r}", "if {r} == 0 goto +0",
                                  "*(u8 *)({r} + 0) = 1", "r1 = *(u8 *)(r2 + 0)\nmov {r}, 1"])
def test_invalid_register_number(register: str, form: str) -> None:
    text = form.format(r=register)
    err = fails(text + "\nexit")
    assert err.line == text.count("\n") + 1
    assert err.column == text.splitlines()[-1].index(register) + 1
    assert err.reason == f"invalid register '{register}' (registers are r0..r10)"


# ------------------------------------------------------------------------ fuzzing

FRAGMENTS = [*"rw%0189x+-*=()[]<>&|^s/,:;# \n", "goto ", "if ", "ll", "u32", "exit", "lock ",
             "mov ", "call ", "lddw ", "skb", "map_fd", "0x", "r10", "w1", "%r2"]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
def test_bad_input_raises_input_error_only(text: str) -> None:
    try:
        assemble(text, filename="fuzz.s")
    except InputError as err:
        assert err.file == "fuzz.s"
        assert err.line is not None and 1 <= err.line <= max(1, len(text.splitlines()))
