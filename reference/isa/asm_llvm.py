"""
Expression syntax
=================

The C-like assembly syntax printed by LLVM's BPF backend and the kernel verifier log
(``r0 += 1``, ``if w1 == w2 goto -1``, ``*(u64 *)(r10 - 8) = r1``); it is also what
:mod:`~arspec.reference.isa.disassembler` prints.

``r`` registers select 64-bit operations and ``w`` registers 32-bit ones; both operands of an
ALU operation or a comparison must use the same view. Choices beyond what LLVM prints:

* ``lddw`` with a pseudo source is written ``r1 = <kind>(<imm>)``, optionally followed by
  ``+ N`` / ``- N`` for the second immediate and by ``ll``. The kinds are ``map_fd``,
  ``map_value``, ``variable_addr``, ``code_addr``, ``map_idx`` and ``map_idx_value``;
  ``r1 = map_fd 1`` (no parentheses) is accepted too.
* Legacy packet loads are ``r0 = *(u8 *)skb[5]`` (absolute) and ``r0 = *(u32 *)skb[r1 + 5]``
  (indirect); the destination is always ``r0``.
* Atomics follow LLVM: ``lock *(u32 *)(r1 + 0) += w2`` (also ``|=``, ``&=``, ``^=``),
  ``r0 = atomic_fetch_add((u64 *)(r1 + 0), r0)`` (and ``_or``, ``_and``, ``_xor``),
  ``r1 = xchg_64(r10 - 8, r1)``, ``w1 = xchg32_32(r10 - 8, w1)``,
  ``r0 = cmpxchg_64(r10 - 8, r0, r1)`` and ``w0 = cmpxchg32_32(r10 - 8, w0, w1)``.
  The register view (``r``/``w``) of atomic operands is not checked; the size is.
"""

from __future__ import annotations

from typing import Final

from arspec.reference.isa.asm_lexer import IMM32, IMM64, S32, Cursor, Pending, Token, wrap32
from arspec.reference.isa.instructions import (
    FRAME_POINTER,
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

ALU_SYMBOL: Final = {
    AluOp.ADD: "+=", AluOp.SUB: "-=", AluOp.MUL: "*=", AluOp.DIV: "/=", AluOp.SDIV: "s/=",
    AluOp.OR: "|=", AluOp.AND: "&=", AluOp.LSH: "<<=", AluOp.RSH: ">>=", AluOp.MOD: "%=",
    AluOp.SMOD: "s%=", AluOp.XOR: "^=", AluOp.ARSH: "s>>=",
}
JMP_SYMBOL: Final = {
    JmpCond.EQ: "==", JmpCond.GT: ">", JmpCond.GE: ">=", JmpCond.SET: "&", JmpCond.NE: "!=",
    JmpCond.SGT: "s>", JmpCond.SGE: "s>=", JmpCond.LT: "<", JmpCond.LE: "<=",
    JmpCond.SLT: "s<", JmpCond.SLE: "s<=",
}
ATOMIC_SYMBOL: Final = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=",
                        AtomicOp.XOR: "^="}
PSEUDO_NAME: Final = {
    Pseudo.MAP_FD: "map_fd", Pseudo.MAP_VALUE: "map_value",
    Pseudo.VARIABLE_ADDR: "variable_addr", Pseudo.CODE_ADDR: "code_addr",
    Pseudo.MAP_IDX: "map_idx", Pseudo.MAP_IDX_VALUE: "map_idx_value",
}
ACCESS_SIZE: Final = {"u8": (1, False), "u16": (2, False), "u32": (4, False),
                      "u64": (8, False), "s8": (1, True), "s16": (2, True), "s32": (4, True)}
ENDIAN_NAME: Final = {EndianOp.LE: "le", EndianOp.BE: "be", EndianOp.SWAP: "bswap"}

_ALU_BY_SYMBOL: Final = {v: k for k, v in ALU_SYMBOL.items()}
_JMP_BY_SYMBOL: Final = {v: k for k, v in JMP_SYMBOL.items()}
_ATOMIC_BY_SYMBOL: Final = {v: k for k, v in ATOMIC_SYMBOL.items()}
_PSEUDO_BY_NAME: Final = {v: k for k, v in PSEUDO_NAME.items()}
_ENDIAN_BY_NAME: Final = {f"{name}{w}": (op, w) for op, name in ENDIAN_NAME.items()
                          for w in (16, 32, 64)}
_FETCH_BY_NAME: Final = {f"atomic_fetch_{op.value}": op for op in ATOMIC_SYMBOL}
_SWAP_BY_NAME: Final = {"xchg_64": (AtomicOp.XCHG, 8), "xchg32_32": (AtomicOp.XCHG, 4),
                        "cmpxchg_64": (AtomicOp.CMPXCHG, 8),
                        "cmpxchg32_32": (AtomicOp.CMPXCHG, 4)}


def _access_size(c: Cursor, *, unsigned_only: bool = False) -> tuple[int, bool]:
    """Consume ``(u32 *)`` and return the size in bytes and signedness."""
    c.expect("(")
    token = c.take("an access size")
    allowed = [n for n, (_, signed) in ACCESS_SIZE.items() if not (unsigned_only and signed)]
    if token.text not in allowed:
        raise c.error(f"unknown access size '{token.text}' (use {', '.join(allowed)})", token)
    c.expect("*")
    c.expect(")")
    return ACCESS_SIZE[token.text]


def _base(c: Cursor) -> tuple[int, int]:
    """Consume ``rN``, ``rN + off`` or ``rN - off``."""
    reg = c.register(wide=True).reg_index
    return reg, c.memory_offset()


def _address(c: Cursor) -> tuple[int, int]:
    """Consume ``(rN + off)``."""
    c.expect("(")
    reg, offset = _base(c)
    c.expect(")")
    return reg, offset


def _same_view(c: Cursor, left: Token) -> Operand:
    """Consume a register of the same view as ``left``, or a 32-bit immediate."""
    token = c.peek()
    if token is not None and token.kind == "reg":
        return Reg(c.register(wide=left.is_wide).reg_index)
    return Imm(wrap32(c.number(IMM32)))


def _next_kind(c: Cursor) -> str | None:
    token = c.peek()
    return None if token is None else token.kind


def _writable(c: Cursor, dst: Token) -> int:
    if dst.reg_index == FRAME_POINTER:
        raise c.error("cannot write to r10 (the frame pointer is read-only)", dst)
    return dst.reg_index


def _same_register(c: Cursor, dst: Token, what: str) -> None:
    token = c.register()
    if token.reg_index != dst.reg_index:
        raise c.error(f"{what} must name the destination register '{dst.text}'", token)


def parse_statement(c: Cursor) -> Instruction | Pending:
    """Parse one statement of the expression syntax."""
    head = c.peek()
    assert head is not None
    result: Instruction | Pending
    if head.kind == "reg":
        result = _assignment(c)
    elif head.text == "*":
        result = _store(c)
    elif head.text == "if":
        result = _conditional(c)
    elif head.text in ("goto", "gotol"):
        c.take()
        long = head.text == "gotol"
        result = c.target(lambda off: Ja(off, long), 32 if long else 16)
    elif head.text == "lock":
        result = _lock(c)
    else:
        raise c.error(f"unknown mnemonic '{head.text}'", head)
    c.finish()
    return result


def _conditional(c: Cursor) -> Instruction | Pending:
    c.expect("if")
    dst = c.register()
    token = c.take("a comparison")
    if token.text not in _JMP_BY_SYMBOL:
        raise c.error(f"unknown comparison '{token.text}'", token)
    src = _same_view(c, dst)
    c.expect("goto")
    cond, is64 = _JMP_BY_SYMBOL[token.text], dst.is_wide
    return c.target(lambda off: Jump(cond, dst.reg_index, src, off, is64), 16)


def _store(c: Cursor) -> Instruction:
    c.expect("*")
    size, _ = _access_size(c, unsigned_only=True)
    dst, offset = _address(c)
    c.expect("=")
    token = c.peek()
    if token is not None and token.kind == "reg":
        return Store(size, dst, offset, Reg(c.register().reg_index))
    return Store(size, dst, offset, Imm(wrap32(c.number(IMM32))))


def _lock(c: Cursor) -> Instruction:
    c.expect("lock")
    c.expect("*")
    size_token = c.peek(1)
    size, _ = _access_size(c, unsigned_only=True)
    if size not in (4, 8):
        raise c.error("atomic operations take u32 or u64", size_token)
    dst, offset = _address(c)
    token = c.take("an atomic operator")
    if token.text not in _ATOMIC_BY_SYMBOL:
        raise c.error(f"unknown atomic operator '{token.text}' (use +=, |=, &= or ^=)", token)
    src = c.register().reg_index
    return Atomic(_ATOMIC_BY_SYMBOL[token.text], size, dst, src, offset, False)


def _assignment(c: Cursor) -> Instruction | Pending:
    dst = c.register()
    token = c.take("an assignment operator")
    if token.text in _ALU_BY_SYMBOL:
        op = _ALU_BY_SYMBOL[token.text]
        return Alu(op, _writable(c, dst), _same_view(c, dst), dst.is_wide)
    if token.text != "=":
        raise c.error(f"unknown operator '{token.text}'", token)
    _writable(c, dst)
    return _right_hand_side(c, dst)


def _right_hand_side(c: Cursor, dst: Token) -> Instruction | Pending:
    first, second = c.peek(), c.peek(1)
    if first is None:
        raise c.error("expected an expression, found end of line")
    if first.text == "-" and second is not None and second.kind == "reg":
        c.take()
        _same_register(c, dst, "negation")
        return Neg(dst.reg_index, dst.is_wide)
    if first.text == "(":
        return _movsx(c, dst)
    if first.text == "*":
        return _load(c, dst)
    if first.kind == "reg":
        return Alu(AluOp.MOV, dst.reg_index, Reg(c.register(wide=dst.is_wide).reg_index),
                   dst.is_wide)
    if first.kind == "ident":
        return _named(c, dst, first)
    value_token = c.peek()
    if c.at_number() and any(t.text == "ll" for t in c.tokens[c.pos:]):
        if not dst.is_wide:
            raise c.error("a 64-bit immediate load needs an 'r' register", dst)
        value = c.number(IMM64) & ((1 << 64) - 1)
        c.expect("ll")
        return LoadImm64(dst.reg_index, Pseudo.IMM64, wrap32(value), wrap32(value >> 32))
    if c.at_number():
        return Alu(AluOp.MOV, dst.reg_index, Imm(wrap32(c.number(IMM32))), dst.is_wide)
    raise c.error(f"unexpected '{first.text}' in expression", value_token)


def _movsx(c: Cursor, dst: Token) -> Instruction:
    c.expect("(")
    token = c.take("a sign-extension width")
    widths = {"s8": 8, "s16": 16} | ({"s32": 32} if dst.is_wide else {})
    if token.text not in widths:
        raise c.error(f"invalid sign extension '({token.text})' for '{dst.text}' "
                      f"(use {', '.join(widths)})", token)
    c.expect(")")
    src = c.register(wide=dst.is_wide)
    return MovSx(dst.reg_index, src.reg_index, widths[token.text], dst.is_wide)


def _load(c: Cursor, dst: Token) -> Instruction:
    c.expect("*")
    size_token = c.peek(1)
    size, signed = _access_size(c)
    if c.accept("skb") is None:
        src, offset = _address(c)
        return Load(size, dst.reg_index, src, offset, signed)
    if dst.reg_index != 0 or signed or size == 8:
        raise c.error("legacy packet loads are 'r0 = *(u8|u16|u32 *)skb[...]'", size_token)
    c.expect("[")
    if _next_kind(c) == "reg":
        src = c.register(wide=True).reg_index
        sign = c.peek()
        imm = c.number(S32) if sign is not None and sign.text in ("+", "-") else 0
        mode = LegacyMode.IND
    else:
        src, imm, mode = 0, c.number(S32), LegacyMode.ABS
    c.expect("]")
    return LegacyLoad(mode, size, src, imm)


def _named(c: Cursor, dst: Token, head: Token) -> Instruction | Pending:
    name = head.text
    if name in _ENDIAN_BY_NAME:
        c.take()
        _same_register(c, dst, "the byte-order operand")
        op, width = _ENDIAN_BY_NAME[name]
        return Endian(op, dst.reg_index, width)
    if name in _PSEUDO_BY_NAME:
        return _pseudo(c, dst)
    if name in _FETCH_BY_NAME:
        return _fetch(c, dst)
    if name in _SWAP_BY_NAME:
        return _exchange(c, dst)
    raise c.error(f"unknown expression '{name}'", head)


def _pseudo(c: Cursor, dst: Token) -> Instruction | Pending:
    kind = _PSEUDO_BY_NAME[c.take().text]
    if not dst.is_wide:
        raise c.error("a 64-bit immediate load needs an 'r' register", dst)
    parenthesised = c.accept("(") is not None
    name = c.peek()
    if kind is Pseudo.CODE_ADDR and name is not None and name.kind == "ident" \
            and name.text not in c.symbols:
        c.take()
        if parenthesised:
            c.expect(")")
        c.accept("ll")
        reg = dst.reg_index
        return Pending(lambda offset: LoadImm64(reg, Pseudo.CODE_ADDR, offset, 0), name, 32,
                       slots=2)
    imm = _symbol_or_number(c)
    if parenthesised:
        c.expect(")")
    next_imm = c.number(S32, "value offset") if c.at_number() else 0
    c.accept("ll")
    return LoadImm64(dst.reg_index, kind, imm, next_imm)


def _symbol_or_number(c: Cursor) -> int:
    """Consume an immediate, or a name the caller defined (e.g. a map's index)."""
    token = c.peek()
    if token is not None and token.kind == "ident":
        if token.text not in c.symbols:
            known = ", ".join(sorted(c.symbols)) or "none"
            raise c.error(f"unknown name '{token.text}' (known names: {known})", token)
        c.take()
        return wrap32(c.symbols[token.text])
    return wrap32(c.number(IMM32))


def _fetch(c: Cursor, dst: Token) -> Instruction:
    op = _FETCH_BY_NAME[c.take().text]
    c.expect("(")
    size_token = c.peek(1)
    size, _ = _access_size(c, unsigned_only=True)
    if size not in (4, 8):
        raise c.error("atomic operations take u32 or u64", size_token)
    base, offset = _address(c)
    c.expect(",")
    _same_register(c, dst, "the fetched operand")
    c.expect(")")
    return Atomic(op, size, base, dst.reg_index, offset, True)


def _exchange(c: Cursor, dst: Token) -> Instruction:
    op, size = _SWAP_BY_NAME[c.take().text]
    c.expect("(")
    base, offset = _base(c)
    c.expect(",")
    if op is AtomicOp.CMPXCHG:
        if dst.reg_index != 0:
            raise c.error("cmpxchg returns its result in r0", dst)
        _same_register(c, dst, "the compared operand")
        c.expect(",")
        src = c.register().reg_index
    else:
        _same_register(c, dst, "the exchanged operand")
        src = dst.reg_index
    c.expect(")")
    return Atomic(op, size, base, src, offset, True)
