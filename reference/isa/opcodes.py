"""
Opcodes
=======

The numeric facts of the encoding, shared by :mod:`~arspec.reference.isa.decoder` and
:mod:`~arspec.reference.isa.encoder`. Values are from RFC 9669 sections 3-5 (and the IANA BPF
instruction registries).

An instruction word is 8 bytes, little-endian: ``opcode:u8, regs:u8 (src << 4 | dst),
offset:s16, imm:s32``.
"""

from __future__ import annotations

from typing import Final

from arspec.reference.isa.instructions import AluOp, AtomicOp, JmpCond

# Instruction classes (opcode & 0x07).
CLASS_LD: Final = 0x00
CLASS_LDX: Final = 0x01
CLASS_ST: Final = 0x02
CLASS_STX: Final = 0x03
CLASS_ALU: Final = 0x04
CLASS_JMP: Final = 0x05
CLASS_JMP32: Final = 0x06
CLASS_ALU64: Final = 0x07

# Source bit of ALU / JMP opcodes.
SOURCE_K: Final = 0x00
SOURCE_X: Final = 0x08

# Load/store modes (opcode & 0xe0) and sizes (opcode & 0x18).
MODE_IMM: Final = 0x00
MODE_ABS: Final = 0x20
MODE_IND: Final = 0x40
MODE_MEM: Final = 0x60
MODE_MEMSX: Final = 0x80
MODE_ATOMIC: Final = 0xC0

SIZE_CODE_TO_BYTES: Final = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}
SIZE_BYTES_TO_CODE: Final = {v: k for k, v in SIZE_CODE_TO_BYTES.items()}

# ALU operation codes (opcode & 0xf0). DIV/MOD share a code with their signed forms (offset 1).
ALU_CODE: Final[dict[AluOp, int]] = {
    AluOp.ADD: 0x00, AluOp.SUB: 0x10, AluOp.MUL: 0x20, AluOp.DIV: 0x30, AluOp.SDIV: 0x30,
    AluOp.OR: 0x40, AluOp.AND: 0x50, AluOp.LSH: 0x60, AluOp.RSH: 0x70, AluOp.MOD: 0x90,
    AluOp.SMOD: 0x90, AluOp.XOR: 0xA0, AluOp.MOV: 0xB0, AluOp.ARSH: 0xC0,
}
ALU_CODE_NEG: Final = 0x80
ALU_CODE_END: Final = 0xD0
#: Codes whose offset field selects the signed variant (offset 1).
ALU_SIGNED_VARIANT: Final[dict[int, tuple[AluOp, AluOp]]] = {
    0x30: (AluOp.DIV, AluOp.SDIV),
    0x90: (AluOp.MOD, AluOp.SMOD),
}
ALU_OP_BY_CODE: Final[dict[int, AluOp]] = {
    code: op for op, code in ALU_CODE.items() if op not in (AluOp.SDIV, AluOp.SMOD)
}

# Jump codes (opcode & 0xf0).
JMP_CODE_JA: Final = 0x00
JMP_CODE_CALL: Final = 0x80
JMP_CODE_EXIT: Final = 0x90
JMP_CODE: Final[dict[JmpCond, int]] = {
    JmpCond.EQ: 0x10, JmpCond.GT: 0x20, JmpCond.GE: 0x30, JmpCond.SET: 0x40,
    JmpCond.NE: 0x50, JmpCond.SGT: 0x60, JmpCond.SGE: 0x70, JmpCond.LT: 0xA0,
    JmpCond.LE: 0xB0, JmpCond.SLT: 0xC0, JmpCond.SLE: 0xD0,
}
JMP_COND_BY_CODE: Final = {v: k for k, v in JMP_CODE.items()}

# CALL src field.
CALL_HELPER: Final = 0
CALL_LOCAL: Final = 1
CALL_KFUNC: Final = 2

# Atomic operation immediates.
ATOMIC_FETCH: Final = 0x01
ATOMIC_CODE: Final[dict[AtomicOp, int]] = {
    AtomicOp.ADD: 0x00, AtomicOp.OR: 0x40, AtomicOp.AND: 0x50, AtomicOp.XOR: 0xA0,
    AtomicOp.XCHG: 0xE0 | ATOMIC_FETCH, AtomicOp.CMPXCHG: 0xF0 | ATOMIC_FETCH,
}

# The wide load: opcode of the first slot.
OPCODE_LDDW: Final = CLASS_LD | MODE_IMM | 0x18
