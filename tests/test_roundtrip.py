"""Round trips: bytes -> decode -> disassemble -> assemble -> encode gives the same bytes."""

from __future__ import annotations

import struct
from itertools import product

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import instructions, programs

from arspec.reference.isa.assembler import assemble, assemble_instructions
from arspec.reference.isa.decoder import decode, decode_one
from arspec.reference.isa.disassembler import disassemble, format_instruction
from arspec.reference.isa.encoder import encode, encode_one
from arspec.reference.isa.instructions import (
    INSTRUCTION_TYPES,
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
from arspec.spec.errors import DecodeError

_WORD = struct.Struct("<BBhi")


def test_instruction_text_round_trip_covers_every_form() -> None:
    seen: list[Instruction] = []

    @settings(max_examples=700)
    @given(instructions())
    def check(insn: Instruction) -> None:
        seen.append(insn)
        text = format_instruction(insn)
        assert assemble_instructions(text) == [insn], text

    check()
    missing = [t.__name__ for t in INSTRUCTION_TYPES if not any(isinstance(i, t) for i in seen)]
    assert not missing


@settings(max_examples=120)
@given(programs(max_len=10))
def test_program_bytes_round_trip(program: Program) -> None:
    code = encode(program)
    decoded = decode(code)
    assert decoded == program
    assert encode(assemble(disassemble(decoded))) == code


@settings(max_examples=50)
@given(programs(max_len=6))
def test_disassembly_is_a_fixed_point(program: Program) -> None:
    text = disassemble(program)
    assert disassemble(assemble(text)) == text


def _valid_opcodes() -> list[int]:
    """Opcodes that decode for at least one simple choice of the other fields."""
    fields = product([0, 1], [0, 1], [0, 1, 8, 16], [0, 1, 16, 0xE1, 0xF1])
    found = set()
    for opcode, (dst, src, offset, imm) in product(range(256), fields):
        try:
            decode_one(0, _WORD.pack(opcode, src << 4 | dst, offset, imm), bytes(8))
        except DecodeError:
            continue
        found.add(opcode)
    return sorted(found)


VALID_OPCODES = _valid_opcodes()


@st.composite
def words(draw: st.DrawFn) -> bytes:
    opcode = draw(st.sampled_from(VALID_OPCODES))
    dst = draw(st.integers(0, 10))
    src = draw(st.one_of(st.just(0), st.integers(0, 15)))
    offset = draw(st.one_of(st.just(0), st.sampled_from([1, 8, 16, 32, -1]),
                            st.integers(-(1 << 15), (1 << 15) - 1)))
    imm = draw(st.one_of(st.just(0), st.sampled_from([1, 16, 32, 64, 0x41, 0xA1, 0xE1, 0xF1]),
                         st.integers(-(1 << 31), (1 << 31) - 1)))
    second = draw(st.one_of(st.just(0), st.integers(-(1 << 31), (1 << 31) - 1)))
    return _WORD.pack(opcode, src << 4 | dst, offset, imm) + _WORD.pack(0, 0, 0, second)


@settings(max_examples=150)
@given(words())
def test_decodable_word_re_encodes_identically(raw: bytes) -> None:
    try:
        insn = decode_one(0, raw[:8], raw[8:])
    except DecodeError:
        assume(False)
        raise
    width = 16 if isinstance(insn, LoadImm64) else 8
    assert encode_one(insn) == raw[:width]


@settings(max_examples=200)
@given(st.binary(min_size=8, max_size=8))
def test_arbitrary_word_either_decodes_exactly_or_raises(raw: bytes) -> None:
    try:
        insn = decode_one(3, raw, bytes(8))
    except DecodeError as err:
        assert err.pc == 3
        return
    width = 16 if isinstance(insn, LoadImm64) else 8
    assert encode_one(insn) == (raw + bytes(8))[:width]


def _every_form() -> list[Instruction]:
    """One instruction per type, enum member, width and operand kind."""
    forms: list[Instruction] = []
    for op, is64, src in product(AluOp, (True, False), (Reg(3), Imm(-7))):
        forms.append(Alu(op, 2, src, is64))
    forms += [Neg(1, True), Neg(1, False)]
    forms += [MovSx(1, 2, bits, is64) for is64 in (True, False)
              for bits in ((8, 16, 32) if is64 else (8, 16))]
    forms += [Endian(op, 3, width) for op in EndianOp for width in (16, 32, 64)]
    forms += [Load(size, 1, 2, -4, signed) for size in (1, 2, 4, 8)
              for signed in ((False,) if size == 8 else (False, True))]
    forms += [Store(size, 1, 4, value) for size in (1, 2, 4, 8) for value in (Reg(2), Imm(9))]
    for op, size in product(AtomicOp, (4, 8)):
        fetches = (True,) if op in (AtomicOp.XCHG, AtomicOp.CMPXCHG) else (False, True)
        forms += [Atomic(op, size, 1, 2, -8, fetch) for fetch in fetches]
    for cond, is64, src in product(JmpCond, (True, False), (Reg(3), Imm(-7))):
        forms.append(Jump(cond, 1, src, -1, is64))
    forms += [Ja(-1), Ja(-1, long=True), Call(7), CallLocal(-1), CallKfunc(5, 1), Callx(4),
              Exit()]
    forms += [LoadImm64(1, pseudo, 3, 0) for pseudo in Pseudo]
    forms += [LegacyLoad(mode, size, 0 if mode is LegacyMode.ABS else 6, 12)
              for mode in LegacyMode for size in (1, 2, 4)]
    return forms


@pytest.mark.parametrize("insn", _every_form(), ids=format_instruction)
def test_every_form_round_trips(insn: Instruction) -> None:
    code = encode_one(insn)
    assert decode_one(0, code[:8], code[8:] or None) == insn
    assert encode(assemble_instructions(format_instruction(insn))) == code


def test_every_form_covers_every_enum_member() -> None:
    forms = _every_form()
    assert {type(i) for i in forms} == set(INSTRUCTION_TYPES)
    assert {i.op for i in forms if isinstance(i, Alu)} == set(AluOp)
    assert {i.cond for i in forms if isinstance(i, Jump)} == set(JmpCond)
    assert {i.op for i in forms if isinstance(i, Atomic)} == set(AtomicOp)
    assert {i.op for i in forms if isinstance(i, Endian)} == set(EndianOp)
    assert {i.pseudo for i in forms if isinstance(i, LoadImm64)} == set(Pseudo)
    assert {i.mode for i in forms if isinstance(i, LegacyLoad)} == set(LegacyMode)


EXTREMES: list[Instruction] = [
    Alu(AluOp.MOV, 0, Imm(-(1 << 31)), True),
    Alu(AluOp.ADD, 9, Imm((1 << 31) - 1), False),
    Load(8, 9, 10, -(1 << 15)),
    Store(1, 10, (1 << 15) - 1, Imm(-(1 << 31))),
    Jump(JmpCond.SLE, 10, Imm(-(1 << 31)), (1 << 15) - 1, False),
    Jump(JmpCond.SET, 0, Reg(10), -(1 << 15), True),
    Ja((1 << 31) - 1, long=True),
    Ja(-(1 << 31), long=True),
    CallLocal(-(1 << 31)),
    Call(-(1 << 31)),
    Call((1 << 31) - 1),
    CallKfunc(-(1 << 31), -(1 << 15)),
    CallKfunc((1 << 31) - 1, (1 << 15) - 1),
    LoadImm64(9, Pseudo.IMM64, -1, -1),
    LoadImm64(9, Pseudo.IMM64, -(1 << 31), (1 << 31) - 1),
    LoadImm64(1, Pseudo.MAP_VALUE, -(1 << 31), -(1 << 31)),
    LoadImm64(1, Pseudo.MAP_IDX_VALUE, (1 << 31) - 1, (1 << 31) - 1),
    LegacyLoad(LegacyMode.ABS, 4, 0, -(1 << 31)),
    LegacyLoad(LegacyMode.IND, 1, 10, (1 << 31) - 1),
    Atomic(AtomicOp.CMPXCHG, 4, 10, 10, -(1 << 15), True),
    Atomic(AtomicOp.ADD, 8, 0, 9, (1 << 15) - 1, True),
]


@pytest.mark.parametrize("insn", EXTREMES, ids=repr)
def test_extreme_fields_round_trip(insn: Instruction) -> None:
    code = encode_one(insn)
    decoded = decode_one(0, code[:8], code[8:] or None)
    assert decoded == insn
    assert encode(assemble_instructions(format_instruction(decoded))) == code


@settings(max_examples=40)
@given(programs(max_len=6))
def test_programs_strategy_yields_decodable_programs(program: Program) -> None:
    assert 1 <= len(program.instructions()) <= 6
    assert decode(encode(program)) == program
