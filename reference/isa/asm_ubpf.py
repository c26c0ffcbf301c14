"""
Mnemonic syntax
===============

The mnemonic assembly syntax of uBPF and the bpf_conformance test suite
(``mov %r0, 1``, ``ldxw %r0, [%r1+4]``, ``jeq %r1, 0, +2``), one parser per mnemonic family.

Naming choices where the suites leave room, all accepted by
:func:`~arspec.reference.isa.assembler.assemble`:

* ALU mnemonics take an optional width suffix: ``add`` and ``add64`` are 64-bit, ``add32``
  32-bit; ``neg``/``neg32`` likewise. Signed division and modulo are ``sdiv``/``smod``.
* Sign-extending moves use bpf_conformance's ``movsx<from><to>``: ``movsx832`` and
  ``movsx1632`` (32-bit), ``movsx864``, ``movsx1664`` and ``movsx3264`` (64-bit).
* Byte order: ``le16/32/64``, ``be16/32/64``, and ``bswap16/32/64`` (alias ``swap16/32/64``).
* Loads ``ldxb/h/w/dw``; sign-extending loads ``ldxsb/sh/sw`` (binutils' names); stores
  ``stb/h/w/dw [%r1+2], 5`` and ``stxb/h/w/dw [%r1-8], %r2``.
* ``lddw %r0, <u64>``; legacy packet loads ``ldabsb/h/w <imm>`` and ``ldindb/h/w %r1, <imm>``.
* ``ja <target>`` (16-bit offset) and ``jal <target>`` (alias ``ja32``: the 32-bit ``gotol``).
  Conditional jumps ``jeq``..``jsle``, with a ``32`` suffix for the JMP32 class.
* Atomics: ``lock [fetch] <op>[32] [%r1+0], %r2`` with ``op`` in ``add or and xor xchg
  cmpxchg``; the ``32`` suffix selects the 4-byte form, as in bpf_conformance. ``xchg`` and
  ``cmpxchg`` always fetch, with or without the ``fetch`` word.

Registers are written ``%r0`` or ``r0``; the 32-bit ``w`` names belong to the other syntax.
Immediates of 32-bit fields accept ``[-2**31, 2**32)``: values from ``2**31`` up are stored as
their two's-complement bit pattern (``mov32 %r0, 0xffffffff``). Offsets are 16-bit signed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from arspec.reference.isa.asm_lexer import IMM32, IMM64, Cursor, Pending, wrap32
from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    Endian,
    EndianOp,
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
    Operand,
    Pseudo,
    Reg,
    Store,
)

Parser = Callable[[Cursor], Instruction | Pending]

_SIZE_SUFFIX: Final = {"b": 1, "h": 2, "w": 4, "dw": 8}
_MOVSX: Final = {"movsx832": (8, False), "movsx1632": (16, False), "movsx864": (8, True),
                 "movsx1664": (16, True), "movsx3264": (32, True)}
_ENDIAN: Final = {"le": EndianOp.LE, "be": EndianOp.BE, "bswap": EndianOp.SWAP,
                  "swap": EndianOp.SWAP}
_ATOMIC: Final = {op.value: op for op in AtomicOp}


def _reg(c: Cursor, *, writable: bool = False) -> int:
    return c.register(writable=writable, wide=True).reg_index


def _comma(c: Cursor) -> None:
    c.expect(",")


def _operand(c: Cursor) -> Operand:
    token = c.peek()
    if token is not None and token.kind == "reg":
        return Reg(_reg(c))
    return Imm(wrap32(c.number(IMM32)))


def memory(c: Cursor) -> tuple[int, int]:
    """Consume ``[%rN]``, ``[%rN+off]`` or ``[%rN-off]``; return register and offset."""
    c.expect("[")
    reg = _reg(c)
    offset = c.memory_offset()
    c.expect("]")
    return reg, offset


def _alu(op: AluOp, is64: bool) -> Parser:
    def parse(c: Cursor) -> Instruction:
        dst = _reg(c, writable=True)
        _comma(c)
        return Alu(op, dst, _operand(c), is64)
    return parse


def _neg(is64: bool) -> Parser:
    return lambda c: Neg(_reg(c, writable=True), is64)


def _movsx(bits: int, is64: bool) -> Parser:
    def parse(c: Cursor) -> Instruction:
        dst = _reg(c, writable=True)
        _comma(c)
        return MovSx(dst, _reg(c), bits, is64)
    return parse


def _endian(op: EndianOp, width: int) -> Parser:
    return lambda c: Endian(op, _reg(c, writable=True), width)


def _load(size: int, signed: bool) -> Parser:
    def parse(c: Cursor) -> Instruction:
        dst = _reg(c, writable=True)
        _comma(c)
        src, offset = memory(c)
        return Load(size, dst, src, offset, signed)
    return parse


def _store(size: int, from_reg: bool) -> Parser:
    def parse(c: Cursor) -> Instruction:
        dst, offset = memory(c)
        _comma(c)
        value: Operand = Reg(_reg(c)) if from_reg else Imm(wrap32(c.number(IMM32)))
        return Store(size, dst, offset, value)
    return parse


def _lddw(c: Cursor) -> Instruction:
    dst = _reg(c, writable=True)
    _comma(c)
    value = c.number(IMM64) & ((1 << 64) - 1)
    return LoadImm64(dst, Pseudo.IMM64, wrap32(value), wrap32(value >> 32))


def _legacy(mode: LegacyMode, size: int) -> Parser:
    def parse(c: Cursor) -> Instruction:
        src = 0
        if mode is LegacyMode.IND:
            src = _reg(c)
            _comma(c)
        return LegacyLoad(mode, size, src, wrap32(c.number(IMM32)))
    return parse


def _ja(long: bool) -> Parser:
    return lambda c: c.target(lambda off: Ja(off, long), 32 if long else 16)


def _jump(cond: JmpCond, is64: bool) -> Parser:
    def parse(c: Cursor) -> Instruction | Pending:
        dst = _reg(c)
        _comma(c)
        src = _operand(c)
        _comma(c)
        return c.target(lambda off: Jump(cond, dst, src, off, is64), 16)
    return parse


def _build_table() -> dict[str, tuple[int, Parser]]:
    table: dict[str, tuple[int, Parser]] = {}
    for suffix, is64 in (("", True), ("64", True), ("32", False)):
        table["neg" + suffix] = (1, _neg(is64))
        for op in AluOp:
            table[op.value + suffix] = (2, _alu(op, is64))
    for name, (bits, is64) in _MOVSX.items():
        table[name] = (2, _movsx(bits, is64))
    for prefix, endian in _ENDIAN.items():
        for width in (16, 32, 64):
            table[f"{prefix}{width}"] = (1, _endian(endian, width))
    for suffix, size in _SIZE_SUFFIX.items():
        table["ldx" + suffix] = (2, _load(size, False))
        table["st" + suffix] = (2, _store(size, False))
        table["stx" + suffix] = (2, _store(size, True))
        if size != 8:
            table["ldxs" + suffix] = (2, _load(size, True))
            table["ldabs" + suffix] = (1, _legacy(LegacyMode.ABS, size))
            table["ldind" + suffix] = (2, _legacy(LegacyMode.IND, size))
    for cond in JmpCond:
        table[cond.value] = (3, _jump(cond, True))
        table[cond.value + "32"] = (3, _jump(cond, False))
    table["lddw"] = (2, _lddw)
    table["ja"] = (1, _ja(False))
    table["jal"] = table["ja32"] = (1, _ja(True))
    return table


#: Mnemonic -> (operand count, parser of the operands).
MNEMONICS: Final = _build_table()


def operand_count(c: Cursor) -> int:
    """Return how many comma-separated operands remain on the line."""
    if c.at_end():
        return 0
    return 1 + sum(1 for t in c.tokens[c.pos:] if t.text == ",")


def parse_mnemonic(c: Cursor) -> Instruction | Pending:
    """Parse a line starting with a mnemonic from :data:`MNEMONICS`."""
    head = c.take("a mnemonic")
    count, parser = MNEMONICS[head.text]
    found = operand_count(c)
    if found != count:
        plural = "operand" if count == 1 else "operands"
        raise c.error(f"'{head.text}' expects {count} {plural}, found {found}", head)
    result = parser(c)
    c.finish()
    return result


def parse_lock(c: Cursor) -> Instruction:
    """Parse ``lock [fetch] <op>[32] [%rN+off], %rM`` (the ``lock`` word is consumed)."""
    fetch = c.accept("fetch") is not None
    head = c.take("an atomic operation")
    name = head.text[:-2] if head.text.endswith("32") else head.text
    if name not in _ATOMIC:
        raise c.error(f"unknown atomic operation '{head.text}'", head)
    op = _ATOMIC[name]
    found = operand_count(c)
    if found != 2:
        raise c.error(f"'lock {head.text}' expects 2 operands, found {found}", head)
    dst, offset = memory(c)
    _comma(c)
    src = _reg(c)
    c.finish()
    always_fetch = op in (AtomicOp.XCHG, AtomicOp.CMPXCHG)
    size = 4 if head.text.endswith("32") else 8
    return Atomic(op, size, dst, src, offset, fetch or always_fetch)

