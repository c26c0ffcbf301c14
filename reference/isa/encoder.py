"""
Encoder
=======

:class:`~arspec.reference.isa.instructions.Instruction` values to bytes: the inverse of
:mod:`~arspec.reference.isa.decoder`. Field ranges are checked here so that an assembler or a
test cannot build an instruction that does not fit its encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from functools import singledispatch
from typing import Final

from arspec.reference.isa import opcodes as oc
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
    Jump,
    LegacyLoad,
    LegacyMode,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Program,
    Reg,
    Store,
)
from arspec.spec.errors import ArspecError

_WORD: Final = struct.Struct("<BBhi")


class EncodeError(ArspecError):
    """An instruction whose fields do not fit the encoding."""


def _word(opcode: int, dst: int = 0, src: int = 0, offset: int = 0, imm: int = 0) -> bytes:
    if not (0 <= dst < 16 and 0 <= src < 16):
        raise EncodeError(f"register out of range (dst r{dst}, src r{src})")
    if not -(1 << 15) <= offset < (1 << 15):
        raise EncodeError(f"offset {offset} does not fit in 16 signed bits")
    if not -(1 << 31) <= imm < (1 << 31):
        raise EncodeError(f"immediate {imm} does not fit in 32 signed bits")
    return _WORD.pack(opcode, (src << 4) | dst, offset, imm)


def _alu_class(is64: bool) -> int:
    return oc.CLASS_ALU64 if is64 else oc.CLASS_ALU


@singledispatch
def _encode(insn: Instruction) -> bytes:
    raise EncodeError(f"cannot encode {insn!r}")


@_encode.register
def _(insn: Alu) -> bytes:
    code = oc.ALU_CODE[insn.op] | _alu_class(insn.is64)
    offset = 1 if insn.op in (AluOp.SDIV, AluOp.SMOD) else 0
    if isinstance(insn.src, Reg):
        return _word(code | oc.SOURCE_X, insn.dst, insn.src.index, offset)
    return _word(code, insn.dst, 0, offset, insn.src.value)


@_encode.register
def _(insn: Neg) -> bytes:
    return _word(oc.ALU_CODE_NEG | _alu_class(insn.is64), insn.dst)


@_encode.register
def _(insn: MovSx) -> bytes:
    code = oc.ALU_CODE[AluOp.MOV] | oc.SOURCE_X | _alu_class(insn.is64)
    return _word(code, insn.dst, insn.src, insn.bits)


@_encode.register
def _(insn: Endian) -> bytes:
    if insn.op is EndianOp.SWAP:
        opcode = oc.ALU_CODE_END | oc.CLASS_ALU64
    else:
        source = oc.SOURCE_X if insn.op is EndianOp.BE else oc.SOURCE_K
        opcode = oc.ALU_CODE_END | source | oc.CLASS_ALU
    return _word(opcode, insn.dst, imm=insn.width)


@_encode.register
def _(insn: Load) -> bytes:
    mode = oc.MODE_MEMSX if insn.signed else oc.MODE_MEM
    return _word(mode | oc.SIZE_BYTES_TO_CODE[insn.size] | oc.CLASS_LDX, insn.dst, insn.src,
                 insn.offset)


@_encode.register
def _(insn: Store) -> bytes:
    size = oc.SIZE_BYTES_TO_CODE[insn.size]
    if isinstance(insn.value, Reg):
        return _word(oc.MODE_MEM | size | oc.CLASS_STX, insn.dst, insn.value.index, insn.offset)
    assert isinstance(insn.value, Imm)
    return _word(oc.MODE_MEM | size | oc.CLASS_ST, insn.dst, 0, insn.offset, insn.value.value)


@_encode.register
def _(insn: Atomic) -> bytes:
    imm = oc.ATOMIC_CODE[insn.op]
    if insn.fetch and insn.op not in (AtomicOp.XCHG, AtomicOp.CMPXCHG):
        imm |= oc.ATOMIC_FETCH
    opcode = oc.MODE_ATOMIC | oc.SIZE_BYTES_TO_CODE[insn.size] | oc.CLASS_STX
    return _word(opcode, insn.dst, insn.src, insn.offset, imm)


@_encode.register
def _(insn: Jump) -> bytes:
    cls = oc.CLASS_JMP if insn.is64 else oc.CLASS_JMP32
    code = oc.JMP_CODE[insn.cond] | cls
    if isinstance(insn.src, Reg):
        return _word(code | oc.SOURCE_X, insn.dst, insn.src.index, insn.offset)
    return _word(code, insn.dst, 0, insn.offset, insn.src.value)


@_encode.register
def _(insn: Ja) -> bytes:
    if insn.long:
        return _word(oc.JMP_CODE_JA | oc.CLASS_JMP32, imm=insn.offset)
    return _word(oc.JMP_CODE_JA | oc.CLASS_JMP, offset=insn.offset)


@_encode.register
def _(insn: Call) -> bytes:
    return _word(oc.JMP_CODE_CALL | oc.CLASS_JMP, src=oc.CALL_HELPER, imm=insn.imm)


@_encode.register
def _(insn: CallLocal) -> bytes:
    return _word(oc.JMP_CODE_CALL | oc.CLASS_JMP, src=oc.CALL_LOCAL, imm=insn.offset)


@_encode.register
def _(insn: CallKfunc) -> bytes:
    return _word(oc.JMP_CODE_CALL | oc.CLASS_JMP, src=oc.CALL_KFUNC, offset=insn.module,
                 imm=insn.btf_id)


@_encode.register
def _(insn: Callx) -> bytes:
    return _word(oc.JMP_CODE_CALL | oc.SOURCE_X | oc.CLASS_JMP, dst=insn.reg)


@_encode.register
def _(insn: Exit) -> bytes:
    return _word(oc.JMP_CODE_EXIT | oc.CLASS_JMP)


@_encode.register
def _(insn: LoadImm64) -> bytes:
    return _word(oc.OPCODE_LDDW, insn.dst, insn.pseudo.value, 0, insn.imm) + _word(
        0, imm=insn.next_imm)


@_encode.register
def _(insn: LegacyLoad) -> bytes:
    mode = oc.MODE_ABS if insn.mode is LegacyMode.ABS else oc.MODE_IND
    return _word(mode | oc.SIZE_BYTES_TO_CODE[insn.size] | oc.CLASS_LD, 0, insn.src, 0,
                 insn.imm)


def encode_one(insn: Instruction) -> bytes:
    """Return the 8 (or 16, for ``lddw``) bytes of one instruction."""
    return _encode(insn)


def encode(program: Program | Iterable[Instruction]) -> bytes:
    """Return the bytecode of a program or of a sequence of instructions."""
    insns = program.instructions() if isinstance(program, Program) else enumerate(program)
    return b"".join(encode_one(insn) for _, insn in insns)
