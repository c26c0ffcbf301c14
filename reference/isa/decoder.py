"""
Decoder
=======

Bytes to :class:`~arspec.reference.isa.instructions.Program`. Decoding is strict: every field
the encoding leaves unused must be zero, so each valid instruction has exactly one encoding
and :func:`~arspec.reference.isa.encoder.encode` is the inverse of :func:`decode`. Anything else
raises :class:`~arspec.spec.errors.DecodeError` naming the pc and the reason (the style of
uBPF's and PREVAIL's load-time messages).

Semantic restrictions that depend on a profile (division by an immediate zero in sBPF,
helper availability, ...) are not decoding errors; they belong to the loader and verifier.
"""

from __future__ import annotations

import struct
from typing import Final

from arspec.reference.isa import opcodes as oc
from arspec.reference.isa.instructions import (
    FRAME_POINTER,
    REGISTER_COUNT,
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
    Pseudo,
    Reg,
    Store,
    jump_target,
)
from arspec.spec.errors import DecodeError

_WORD: Final = struct.Struct("<BBhi")
_ATOMIC_BY_IMM: Final = {
    **{code: (op, False) for op, code in oc.ATOMIC_CODE.items()
       if op not in (AtomicOp.XCHG, AtomicOp.CMPXCHG)},
    **{code | oc.ATOMIC_FETCH: (op, True) for op, code in oc.ATOMIC_CODE.items()
       if op not in (AtomicOp.XCHG, AtomicOp.CMPXCHG)},
    oc.ATOMIC_CODE[AtomicOp.XCHG]: (AtomicOp.XCHG, True),
    oc.ATOMIC_CODE[AtomicOp.CMPXCHG]: (AtomicOp.CMPXCHG, True),
}


#: Atomic immediates Linux added after RFC 9669 (include/uapi/linux/bpf.h, Linux 6.15).
_NEWER_ATOMICS: Final = {0x100: "load-acquire (BPF_LOAD_ACQ)",
                         0x110: "store-release (BPF_STORE_REL)"}
#: ``BPF_JCOND`` (``may_goto``), code 0xe0 of the JMP class.
_JCOND: Final = 0xE0


class _Word:
    """The raw fields of one 8-byte slot, with checks that raise at this pc."""

    __slots__ = ("dst", "imm", "offset", "opcode", "pc", "src")

    def __init__(self, pc: int, raw: bytes) -> None:
        self.pc = pc
        fields: tuple[int, int, int, int] = _WORD.unpack(raw)
        self.opcode, regs, self.offset, self.imm = fields
        self.dst = regs & 0x0F
        self.src = regs >> 4

    def fail(self, reason: str) -> DecodeError:
        return DecodeError(self.pc, f"{reason} (opcode {self.opcode:#04x})")

    def zero(self, **fields: int) -> None:
        for name, value in fields.items():
            if value != 0:
                raise self.fail(f"reserved field {name} is non-zero ({value})")

    def register(self, which: str) -> int:
        value: int = self.dst if which == "dst" else self.src
        if value >= REGISTER_COUNT:
            raise self.fail(f"invalid {which} register r{value}")
        return value

    def writable_dst(self) -> int:
        dst = self.register("dst")
        if dst == FRAME_POINTER:
            raise self.fail("cannot write to r10 (the frame pointer is read-only)")
        return dst


def _decode_alu(w: _Word, is64: bool) -> Instruction:
    code = w.opcode & 0xF0
    is_reg = bool(w.opcode & oc.SOURCE_X)
    if code == oc.ALU_CODE_NEG:
        if is_reg:
            raise w.fail("neg has no register form")
        w.zero(src=w.src, offset=w.offset, imm=w.imm)
        return Neg(w.writable_dst(), is64)
    if code == oc.ALU_CODE_END:
        w.zero(src=w.src, offset=w.offset)
        if w.imm not in (16, 32, 64):
            raise w.fail(f"invalid byte-swap width {w.imm}")
        if is64:
            if is_reg:
                raise w.fail("bswap has no register-source form")
            return Endian(EndianOp.SWAP, w.writable_dst(), w.imm)
        return Endian(EndianOp.BE if is_reg else EndianOp.LE, w.writable_dst(), w.imm)
    if code not in oc.ALU_OP_BY_CODE:
        raise w.fail("unknown opcode")
    op = oc.ALU_OP_BY_CODE[code]
    if code in oc.ALU_SIGNED_VARIANT:
        if w.offset not in (0, 1):
            raise w.fail(f"invalid offset {w.offset} for div/mod (0 unsigned, 1 signed)")
        op = oc.ALU_SIGNED_VARIANT[code][w.offset]
    elif op is AluOp.MOV and is_reg and w.offset != 0:
        allowed = (8, 16, 32) if is64 else (8, 16)
        if w.offset not in allowed:
            raise w.fail(f"invalid sign-extension width {w.offset} for movsx")
        w.zero(imm=w.imm)
        return MovSx(w.writable_dst(), w.register("src"), w.offset, is64)
    else:
        w.zero(offset=w.offset)
    dst = w.writable_dst()
    if is_reg:
        w.zero(imm=w.imm)
        return Alu(op, dst, Reg(w.register("src")), is64)
    w.zero(src=w.src)
    return Alu(op, dst, Imm(w.imm), is64)


def _decode_jmp(w: _Word, is64: bool) -> Instruction:
    code = w.opcode & 0xF0
    is_reg = bool(w.opcode & oc.SOURCE_X)
    if code == oc.JMP_CODE_JA:
        if is_reg:
            raise w.fail("ja has no register form")
        if is64:
            w.zero(dst=w.dst, src=w.src, imm=w.imm)
            return Ja(w.offset)
        w.zero(dst=w.dst, src=w.src, offset=w.offset)
        return Ja(w.imm, long=True)
    if code in (oc.JMP_CODE_CALL, oc.JMP_CODE_EXIT) and not is64:
        raise w.fail("call and exit exist only in the JMP class")
    if code == oc.JMP_CODE_CALL:
        return _decode_call(w, is_reg)
    if code == oc.JMP_CODE_EXIT:
        if is_reg:
            raise w.fail("exit has no register form")
        w.zero(dst=w.dst, src=w.src, offset=w.offset, imm=w.imm)
        return Exit()
    if code == _JCOND and is64:
        raise w.fail("may_goto (BPF_JCOND, Linux 6.9) is newer than RFC 9669 and not supported")
    if code not in oc.JMP_COND_BY_CODE:
        raise w.fail("unknown opcode")
    cond = oc.JMP_COND_BY_CODE[code]
    dst = w.register("dst")
    if is_reg:
        w.zero(imm=w.imm)
        return Jump(cond, dst, Reg(w.register("src")), w.offset, is64)
    w.zero(src=w.src)
    return Jump(cond, dst, Imm(w.imm), w.offset, is64)


def _decode_call(w: _Word, is_reg: bool) -> Instruction:
    if is_reg:
        w.zero(src=w.src, offset=w.offset, imm=w.imm)
        return Callx(w.register("dst"))
    w.zero(dst=w.dst)
    if w.src == oc.CALL_HELPER:
        w.zero(offset=w.offset)
        return Call(w.imm)
    if w.src == oc.CALL_LOCAL:
        w.zero(offset=w.offset)
        return CallLocal(w.imm)
    if w.src == oc.CALL_KFUNC:
        return CallKfunc(w.imm, w.offset)
    raise w.fail(f"invalid call source {w.src}")


def _decode_ldx(w: _Word) -> Instruction:
    mode = w.opcode & 0xE0
    size = oc.SIZE_CODE_TO_BYTES[w.opcode & 0x18]
    w.zero(imm=w.imm)
    if mode == oc.MODE_MEM:
        return Load(size, w.writable_dst(), w.register("src"), w.offset)
    if mode == oc.MODE_MEMSX and size != 8:
        return Load(size, w.writable_dst(), w.register("src"), w.offset, signed=True)
    raise w.fail("unknown opcode")


def _decode_st(w: _Word) -> Instruction:
    if w.opcode & 0xE0 != oc.MODE_MEM:
        raise w.fail("unknown opcode")
    w.zero(src=w.src)
    size = oc.SIZE_CODE_TO_BYTES[w.opcode & 0x18]
    return Store(size, w.register("dst"), w.offset, Imm(w.imm))


def _decode_stx(w: _Word) -> Instruction:
    mode = w.opcode & 0xE0
    size = oc.SIZE_CODE_TO_BYTES[w.opcode & 0x18]
    if mode == oc.MODE_MEM:
        w.zero(imm=w.imm)
        return Store(size, w.register("dst"), w.offset, Reg(w.register("src")))
    if mode == oc.MODE_ATOMIC and w.imm in _NEWER_ATOMICS:
        raise w.fail(f"{_NEWER_ATOMICS[w.imm]} is newer than RFC 9669 and not supported")
    if mode == oc.MODE_ATOMIC and size in (4, 8):
        if w.imm not in _ATOMIC_BY_IMM:
            raise w.fail(f"invalid atomic operation {w.imm:#x}")
        op, fetch = _ATOMIC_BY_IMM[w.imm]
        src = w.register("src")
        if fetch and op is not AtomicOp.CMPXCHG and src == FRAME_POINTER:
            raise w.fail("cannot write to r10 (a fetching atomic loads into its source)")
        return Atomic(op, size, w.register("dst"), src, w.offset, fetch)
    raise w.fail("unknown opcode")


def _decode_ld(w: _Word, second: _Word | None) -> Instruction:
    mode = w.opcode & 0xE0
    size = oc.SIZE_CODE_TO_BYTES[w.opcode & 0x18]
    if w.opcode == oc.OPCODE_LDDW:
        w.zero(offset=w.offset)
        if second is None:
            raise w.fail("lddw is missing its second slot")
        if (second.opcode, second.dst, second.src, second.offset) != (0, 0, 0, 0):
            raise DecodeError(second.pc, "second slot of lddw must have only an immediate")
        if w.src > max(p.value for p in Pseudo):
            raise w.fail(f"invalid lddw source {w.src}")
        return LoadImm64(w.writable_dst(), Pseudo(w.src), w.imm, second.imm)
    if mode in (oc.MODE_ABS, oc.MODE_IND) and size != 8:
        w.zero(dst=w.dst, offset=w.offset)
        if mode == oc.MODE_ABS:
            w.zero(src=w.src)
            return LegacyLoad(LegacyMode.ABS, size, 0, w.imm)
        return LegacyLoad(LegacyMode.IND, size, w.register("src"), w.imm)
    raise w.fail("unknown opcode")


def decode_one(pc: int, raw: bytes, next_raw: bytes | None = None) -> Instruction:
    """Decode the instruction at ``pc`` from its 8 bytes (and the next 8 for ``lddw``)."""
    w = _Word(pc, raw)
    cls = w.opcode & 0x07
    if cls == oc.CLASS_ALU or cls == oc.CLASS_ALU64:
        return _decode_alu(w, cls == oc.CLASS_ALU64)
    if cls == oc.CLASS_JMP or cls == oc.CLASS_JMP32:
        return _decode_jmp(w, cls == oc.CLASS_JMP)
    if cls == oc.CLASS_LDX:
        return _decode_ldx(w)
    if cls == oc.CLASS_ST:
        return _decode_st(w)
    if cls == oc.CLASS_STX:
        return _decode_stx(w)
    second = _Word(pc + 1, next_raw) if next_raw is not None else None
    return _decode_ld(w, second)


def decode(code: bytes) -> Program:
    """Decode a whole program, checking lengths, the ``lddw`` pairs and every jump target.

    Raises
    ------
    DecodeError
        On the first invalid slot, with its pc.
    """
    if len(code) == 0:
        raise DecodeError(0, "empty program")
    if len(code) % 8:
        raise DecodeError(len(code) // 8, f"program length {len(code)} is not a multiple of 8")
    count = len(code) // 8
    slots: list[Instruction | None] = []
    pc = 0
    while pc < count:
        raw = code[pc * 8:pc * 8 + 8]
        nxt = code[pc * 8 + 8:pc * 8 + 16] if pc + 1 < count else None
        insn = decode_one(pc, raw, nxt)
        slots.append(insn)
        if isinstance(insn, LoadImm64):
            slots.append(None)
            pc += 2
        else:
            pc += 1
    program = Program(tuple(slots))
    check_targets(program)
    return program


def check_targets(program: Program) -> None:
    """Verify every jump and local call lands on the first slot of an instruction."""
    for pc, insn in program.instructions():
        target = jump_target(pc, insn)
        if target is None:
            continue
        if not 0 <= target < len(program):
            last = len(program) - 1
            raise DecodeError(pc, f"jump to {target} is outside the program (0..{last})")
        if program.slots[target] is None:
            raise DecodeError(pc, f"jump to {target} lands in the second slot of lddw")


# --- SBPFv0 ---------------------------------------------------------------------------------

#: ALU opcodes SBPFv0 runs (both classes, imm and reg forms), by ``opcode & 0xf0``.
_V0_ALU_CODES: Final = frozenset(oc.ALU_OP_BY_CODE.values())
#: Conditional-jump codes of the JMP class SBPFv0 runs (``ja`` aside).
_V0_LOADS: Final = {0x61: 4, 0x69: 2, 0x71: 1, 0x79: 8}
_V0_STORES_IMM: Final = {0x62: 4, 0x6A: 2, 0x72: 1, 0x7A: 8}
_V0_STORES_REG: Final = {0x63: 4, 0x6B: 2, 0x73: 1, 0x7B: 8}
_V0_CALL, _V0_CALLX, _V0_EXIT, _V0_JA = 0x85, 0x8D, 0x95, 0x05
_V0_LE, _V0_BE, _V0_NEG32, _V0_NEG64 = 0xD4, 0xDC, 0x84, 0x87


def _v0_registers(w: _Word, store: bool) -> None:
    # anza-xyz/sbpf src/verifier.rs check_registers: every opcode, whatever it uses.
    if w.src > 10:
        raise DecodeError(w.pc, f"invalid source register (opcode {w.opcode:#04x})")
    if w.dst == FRAME_POINTER and not store:
        raise DecodeError(w.pc, f"cannot write into register r10 (opcode {w.opcode:#04x})")
    if w.dst > 10:
        raise DecodeError(w.pc, f"invalid destination register (opcode {w.opcode:#04x})")


def _v0_alu(w: _Word) -> Instruction:
    is64 = w.opcode & 0x07 == oc.CLASS_ALU64
    code = w.opcode & 0xF0
    if w.opcode in (_V0_NEG32, _V0_NEG64):
        return Neg(w.dst, is64)
    if w.opcode in (_V0_LE, _V0_BE):
        if w.imm not in (16, 32, 64):
            raise DecodeError(w.pc, f"unsupported argument {w.imm} for LE/BE "
                                    f"(opcode {w.opcode:#04x})")
        return Endian(EndianOp.LE if w.opcode == _V0_LE else EndianOp.BE, w.dst, w.imm)
    op = oc.ALU_OP_BY_CODE[code]
    if w.opcode & oc.SOURCE_X:
        return Alu(op, w.dst, Reg(w.src), is64)
    if op in (AluOp.DIV, AluOp.MOD) and w.imm == 0:
        raise DecodeError(w.pc, f"division by 0 (opcode {w.opcode:#04x})")
    width = 64 if is64 else 32
    if op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH) and not 0 <= w.imm < width:
        raise DecodeError(w.pc, f"shift with overflow of {width}-bit value by {w.imm} "
                                f"(opcode {w.opcode:#04x})")
    return Alu(op, w.dst, Imm(w.imm), is64)


def _v0_is_alu(opcode: int) -> bool:
    if opcode & 0x07 not in (oc.CLASS_ALU, oc.CLASS_ALU64):
        return False
    if opcode in (_V0_NEG32, _V0_NEG64, _V0_LE, _V0_BE):
        return True
    code = opcode & 0xF0
    return code in oc.ALU_OP_BY_CODE and code not in (oc.ALU_CODE_NEG, oc.ALU_CODE_END)


def _v0_one(w: _Word, second: _Word | None) -> Instruction:
    op = w.opcode
    if _v0_is_alu(op):
        return _v0_alu(w)
    if op in _V0_LOADS:
        return Load(_V0_LOADS[op], w.dst, w.src, w.offset)
    if op in _V0_STORES_IMM:
        return Store(_V0_STORES_IMM[op], w.dst, w.offset, Imm(w.imm))
    if op in _V0_STORES_REG:
        return Store(_V0_STORES_REG[op], w.dst, w.offset, Reg(w.src))
    if op == oc.OPCODE_LDDW:
        if second is None:
            raise DecodeError(w.pc, "LD_DW instruction cannot be last in program")
        if second.opcode != 0:
            raise DecodeError(w.pc, "incomplete LD_DW instruction (opcode 0x18)")
        return LoadImm64(w.dst, Pseudo.IMM64, w.imm, second.imm)
    if op == _V0_JA:
        return Ja(w.offset)
    if op & 0x07 == oc.CLASS_JMP and (op & 0xF0) in oc.JMP_COND_BY_CODE:
        cond = oc.JMP_COND_BY_CODE[op & 0xF0]
        src: Reg | Imm = Reg(w.src) if op & oc.SOURCE_X else Imm(w.imm)
        return Jump(cond, w.dst, src, w.offset, True)
    if op == _V0_CALL:
        return CallLocal(w.imm) if w.src == oc.CALL_LOCAL else Call(w.imm)
    if op == _V0_CALLX:
        if not 0 <= w.imm < FRAME_POINTER:
            raise DecodeError(w.pc, f"invalid callx register {w.imm} (opcode 0x8d)")
        return Callx(w.imm)
    if op == _V0_EXIT:
        return Exit()
    raise DecodeError(w.pc, f"unknown eBPF opcode {op:#04x}: SBPFv0 refuses it")


def decode_sbpf_v0(code: bytes) -> Program:
    """Decode ``code`` as Agave's SBPFv0 loader reads it (relocated ``.text``).

    Follows anza-xyz/sbpf ``src/verifier.rs`` (``RequisiteVerifier``) and
    ``src/interpreter.rs`` for version 0: only the v0 opcodes load (no JMP32 class, legacy
    packet loads, sign-extending loads, atomics, ``bswap``, ``gotol``, ...), each refused
    with its opcode and pc; fields an opcode does not use are ignored, so the signed div/mod
    and ``movsx`` encodings (offset 1, 8, 16, 32) read as unsigned div/mod and plain ``mov``;
    ``callx`` takes its register from the immediate (r0-r9); ``lddw`` ignores ``src``;
    ``call`` with ``src = 1`` is a local call to ``pc + 1 + imm``, otherwise a syscall by
    hash; every opcode's ``dst`` must be r0-r9 (r10 too for stores) and ``src`` r0-r10.
    Jumps must land inside the code and not on a slot whose opcode is 0.
    """
    if len(code) % 8:
        raise DecodeError(len(code) // 8, "program length must be a multiple of 8 octets")
    if not code:
        raise DecodeError(0, "empty program")
    count = len(code) // 8
    words = [_Word(pc, code[8 * pc:8 * pc + 8]) for pc in range(count)]
    slots: list[Instruction | None] = []
    pc = 0
    while pc < count:
        w = words[pc]
        insn = _v0_one(w, words[pc + 1] if pc + 1 < count else None)
        _v0_registers(w, isinstance(insn, Store))
        if isinstance(insn, Jump | Ja):
            target = pc + 1 + insn.offset
            if not 0 <= target < count:
                raise DecodeError(pc, f"jump out of code to #{target} (opcode {w.opcode:#04x})")
            if words[target].opcode == 0:
                raise DecodeError(pc, f"jump to middle of LD_DW at #{target} "
                                      f"(opcode {w.opcode:#04x})")
        slots.append(insn)
        if isinstance(insn, LoadImm64):
            slots.append(None)
        pc += len(slots) - pc
    program = Program(tuple(slots))
    for pc, insn in program.instructions():
        if isinstance(insn, CallLocal) and not 0 <= pc + 1 + insn.offset < count:
            raise DecodeError(pc, f"call to {pc + 1 + insn.offset} is outside the program")
    return program
