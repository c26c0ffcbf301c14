"""
Instructions
============

The closed set of decoded instruction types. Bytecode is decoded **once** into a tuple of
these frozen, slotted values; the interpreter, the verifier and the disassembler never look
at raw opcode bits again.

Every operator is an :class:`~enum.Enum`; width (32/64 bit), operand source (register or
immediate) and access size are fields, not separate opcodes. The encoding facts (opcode
values, field layout) live in :mod:`arspec.reference.isa.opcodes` and are taken from RFC 9669,
"BPF Instruction Set Architecture", sections 3-5.

A program counter (pc) counts 8-byte slots, so :class:`LoadImm64` occupies two pcs and the
instruction after it is at ``pc + 2``. Jump offsets are kept as in the encoding (relative to
``pc + 1``); :func:`jump_target` turns them into absolute pcs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

#: Number of general registers r0..r10; r10 is the read-only frame pointer.
REGISTER_COUNT: Final = 11
FRAME_POINTER: Final = 10


class AluOp(Enum):
    """Binary ALU operators (RFC 9669 section 4.1). Signed div/mod are separate members."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    SDIV = "sdiv"
    OR = "or"
    AND = "and"
    LSH = "lsh"
    RSH = "rsh"
    MOD = "mod"
    SMOD = "smod"
    XOR = "xor"
    MOV = "mov"
    ARSH = "arsh"


class EndianOp(Enum):
    """Byte-order operators (RFC 9669 section 4.2): ``le``/``be`` (ALU) and ``bswap`` (ALU64)."""

    LE = "le"
    BE = "be"
    SWAP = "bswap"


class JmpCond(Enum):
    """Conditional jump conditions (RFC 9669 section 4.3)."""

    EQ = "jeq"
    GT = "jgt"
    GE = "jge"
    SET = "jset"
    NE = "jne"
    SGT = "jsgt"
    SGE = "jsge"
    LT = "jlt"
    LE = "jle"
    SLT = "jslt"
    SLE = "jsle"


class AtomicOp(Enum):
    """Atomic read-modify-write operators (RFC 9669 section 5.3)."""

    ADD = "add"
    OR = "or"
    AND = "and"
    XOR = "xor"
    XCHG = "xchg"
    CMPXCHG = "cmpxchg"


class Pseudo(Enum):
    """The ``src`` field of a 64-bit immediate load (RFC 9669 section 5.4)."""

    IMM64 = 0
    MAP_FD = 1
    MAP_VALUE = 2
    VARIABLE_ADDR = 3
    CODE_ADDR = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class LegacyMode(Enum):
    """Legacy packet-access modes (RFC 9669 section 5.5, historical group)."""

    ABS = "abs"
    IND = "ind"


#: Access sizes in bytes.
SIZES: Final = (1, 2, 4, 8)


@dataclass(frozen=True, slots=True)
class Reg:
    """A register operand."""

    index: int


@dataclass(frozen=True, slots=True)
class Imm:
    """A 32-bit signed immediate operand, as encoded."""

    value: int


Operand: TypeAlias = Reg | Imm


@dataclass(frozen=True, slots=True)
class Alu:
    """``dst = dst <op> src`` on 32 or 64 bits."""

    op: AluOp
    dst: int
    src: Operand
    is64: bool


@dataclass(frozen=True, slots=True)
class Neg:
    """``dst = -dst`` on 32 or 64 bits."""

    dst: int
    is64: bool


@dataclass(frozen=True, slots=True)
class MovSx:
    """``dst = (s<bits>) src``: sign-extending move (8/16 on ALU, 8/16/32 on ALU64)."""

    dst: int
    src: int
    bits: int
    is64: bool


@dataclass(frozen=True, slots=True)
class Endian:
    """Byte-order conversion of the low ``width`` bits of ``dst`` (16, 32 or 64)."""

    op: EndianOp
    dst: int
    width: int


@dataclass(frozen=True, slots=True)
class Load:
    """``dst = *(size *)(src + offset)``, zero- or sign-extended."""

    size: int
    dst: int
    src: int
    offset: int
    signed: bool = False


@dataclass(frozen=True, slots=True)
class Store:
    """``*(size *)(dst + offset) = value`` where value is a register (STX) or immediate (ST)."""

    size: int
    dst: int
    offset: int
    value: Operand


@dataclass(frozen=True, slots=True)
class Atomic:
    """Atomic ``*(size *)(dst + offset) op= src`` (size 4 or 8); ``fetch`` loads the old value.

    ``XCHG`` and ``CMPXCHG`` always fetch; ``CMPXCHG`` compares with and writes r0.
    """

    op: AtomicOp
    size: int
    dst: int
    src: int
    offset: int
    fetch: bool


@dataclass(frozen=True, slots=True)
class Jump:
    """Conditional jump: ``if dst <cond> src goto pc + 1 + offset``; JMP32 compares low halves."""

    cond: JmpCond
    dst: int
    src: Operand
    offset: int
    is64: bool


@dataclass(frozen=True, slots=True)
class Ja:
    """Unconditional jump. ``long`` is the JMP32-class ``gotol`` whose offset is in imm."""

    offset: int
    long: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """Call the helper (or sBPF syscall) whose id is ``imm``."""

    imm: int


@dataclass(frozen=True, slots=True)
class CallLocal:
    """bpf-to-bpf call to ``pc + 1 + offset``."""

    offset: int


@dataclass(frozen=True, slots=True)
class CallKfunc:
    """Call a kernel function by BTF id (``src = 2``); ``module`` is the encoded offset field."""

    btf_id: int
    module: int = 0


@dataclass(frozen=True, slots=True)
class Callx:
    """Indirect call to the code address in register ``reg`` (LLVM encodes it in ``dst``)."""

    reg: int


@dataclass(frozen=True, slots=True)
class Exit:
    """Return r0 to the caller frame, or end the program."""


@dataclass(frozen=True, slots=True)
class LoadImm64:
    """The wide ``lddw``: ``dst = imm64`` or a pseudo reference (map, variable, code address).

    ``imm`` and ``next_imm`` are the two encoded 32-bit halves (signed, as in the encoding).
    For :attr:`Pseudo.IMM64` the value is ``next_imm << 32 | (imm & 0xffffffff)``; for the map
    forms ``imm`` is the fd or index and ``next_imm`` the offset into the value.
    """

    dst: int
    pseudo: Pseudo
    imm: int
    next_imm: int

    @property
    def value(self) -> int:
        """Return the 64-bit constant of a plain ``lddw`` (unsigned)."""
        return ((self.next_imm & 0xFFFFFFFF) << 32) | (self.imm & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class LegacyLoad:
    """Legacy packet load into r0: ``ABS`` reads at ``imm``, ``IND`` at ``src + imm``.

    The loaded value is converted from network (big-endian) byte order, as in Linux.
    """

    mode: LegacyMode
    size: int
    src: int
    imm: int


Instruction: TypeAlias = (
    Alu | Neg | MovSx | Endian | Load | Store | Atomic | Jump | Ja | Call | CallLocal
    | CallKfunc | Callx | Exit | LoadImm64 | LegacyLoad
)

#: Every instruction type, in a fixed order (used by dispatch tables and exhaustiveness tests).
INSTRUCTION_TYPES: Final[tuple[type, ...]] = (
    Alu, Neg, MovSx, Endian, Load, Store, Atomic, Jump, Ja, Call, CallLocal, CallKfunc,
    Callx, Exit, LoadImm64, LegacyLoad,
)


def slot_count(insn: Instruction) -> int:
    """Return how many 8-byte slots ``insn`` occupies (2 for ``lddw``, else 1)."""
    return 2 if isinstance(insn, LoadImm64) else 1


def jump_target(pc: int, insn: Instruction) -> int | None:
    """Return the absolute pc a jump or local call at ``pc`` may transfer to, else ``None``."""
    if isinstance(insn, Jump | Ja | CallLocal):
        return pc + 1 + insn.offset
    return None


@dataclass(frozen=True, slots=True)
class Program:
    """A decoded program: instructions indexed by pc.

    ``slots[pc]`` is the instruction starting at ``pc``, or ``None`` for the second slot of a
    ``lddw``. ``len(slots)`` is the program length in 8-byte slots.
    """

    slots: tuple[Instruction | None, ...]

    def __len__(self) -> int:
        return len(self.slots)

    def instructions(self) -> list[tuple[int, Instruction]]:
        """Return ``(pc, instruction)`` pairs in program order."""
        return [(pc, insn) for pc, insn in enumerate(self.slots) if insn is not None]

    @staticmethod
    def from_instructions(insns: list[Instruction] | tuple[Instruction, ...]) -> Program:
        """Lay out instructions into slots (a ``lddw`` takes two)."""
        slots: list[Instruction | None] = []
        for insn in insns:
            slots.append(insn)
            if isinstance(insn, LoadImm64):
                slots.append(None)
        return Program(tuple(slots))
