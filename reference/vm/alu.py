"""
ALU and jump semantics
======================

Pure functions on unsigned 64-bit integers giving the result of every ALU, byte-order,
sign-extension and jump-condition instruction. The interpreter and the fast path call them,
and the verifier's concrete twin is checked against them, so there is one reading of the table.

Facts (RFC 9669 sections 4 and 4.3; anza-xyz/sbpf ``src/interpreter.rs``): arithmetic wraps;
32-bit results are zero-extended except that a profile with ``sign_extend_alu32_arith`` (sBPF
v0) sign-extends ``add32``/``sub32``/``mul32``; division by zero gives 0 and modulo by zero
keeps the dividend (its low half, zero-extended, on 32 bits) unless the profile faults; signed
``MIN / -1`` gives ``MIN`` and ``MIN % -1`` gives 0 (the kernel rewrite, commit 7dd34d7b7dcf)
unless the profile faults; signed division truncates toward zero; shift counts are masked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from arspec.reference.isa.instructions import AluOp, AtomicOp, EndianOp, JmpCond
from arspec.reference.vm.profiles import Profile
from arspec.spec.errors import DivisionByZero, DivisionOverflow

MASK64: Final = (1 << 64) - 1
MASK32: Final = (1 << 32) - 1
SIGN64: Final = 1 << 63
SIGN32: Final = 1 << 31

BinaryOp = Callable[[int, int, int], int]


def to_signed(value: int, bits: int) -> int:
    """Return the two's-complement reading of the low ``bits`` bits of ``value``."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def sign_extend(value: int, bits: int) -> int:
    """Return the low ``bits`` bits of ``value`` sign-extended to an unsigned 64-bit value."""
    return to_signed(value, bits) & MASK64


def immediate(imm: int, is64: bool) -> int:
    """Return the operand value of an immediate: sign-extended (64) or as u32 (32-bit ops)."""
    return imm & (MASK64 if is64 else MASK32)


def _truncating_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _div(a: int, b: int, bits: int) -> int:
    return a // b


def _sdiv(a: int, b: int, bits: int) -> int:
    return _truncating_div(to_signed(a, bits), to_signed(b, bits))


def _mod(a: int, b: int, bits: int) -> int:
    return a % b


def _smod(a: int, b: int, bits: int) -> int:
    sa, sb = to_signed(a, bits), to_signed(b, bits)
    return sa - sb * _truncating_div(sa, sb)


_DIVISION: Final[dict[AluOp, BinaryOp]] = {
    AluOp.DIV: _div, AluOp.SDIV: _sdiv, AluOp.MOD: _mod, AluOp.SMOD: _smod,
}

_PLAIN: Final[dict[AluOp, BinaryOp]] = {
    AluOp.ADD: lambda a, b, bits: a + b,
    AluOp.SUB: lambda a, b, bits: a - b,
    AluOp.MUL: lambda a, b, bits: a * b,
    AluOp.OR: lambda a, b, bits: a | b,
    AluOp.AND: lambda a, b, bits: a & b,
    AluOp.XOR: lambda a, b, bits: a ^ b,
    AluOp.LSH: lambda a, b, bits: a << (b & (bits - 1)),
    AluOp.RSH: lambda a, b, bits: a >> (b & (bits - 1)),
    AluOp.ARSH: lambda a, b, bits: to_signed(a, bits) >> (b & (bits - 1)),
    AluOp.MOV: lambda a, b, bits: b,
}

#: Operators whose 32-bit result sBPF v0 sign-extends (anza-xyz/sbpf ``src/interpreter.rs``).
SIGN_EXTENDED_ALU32: Final = frozenset({AluOp.ADD, AluOp.SUB, AluOp.MUL})


def _divide(op: AluOp, a: int, b: int, bits: int, profile: Profile, pc: int) -> int:
    if b == 0:
        if profile.division_faults:
            raise DivisionByZero(pc, f"{op.value}{bits} by zero")
        return a if op in (AluOp.MOD, AluOp.SMOD) else 0
    minimum = 1 << (bits - 1)
    if op in (AluOp.SDIV, AluOp.SMOD) and a == minimum and b == (1 << bits) - 1:
        if profile.division_faults:
            raise DivisionOverflow(pc, f"{op.value}{bits} of the minimum value by -1")
        return minimum if op is AluOp.SDIV else 0
    return _DIVISION[op](a, b, bits)


def compute_alu(op: AluOp, dst: int, src: int, *, is64: bool, profile: Profile,
                pc: int) -> int:
    """Return the new ``dst`` of ``dst = dst <op> src`` (operands unsigned 64-bit).

    Raises :class:`DivisionByZero` or :class:`DivisionOverflow` (naming ``pc``) only when
    ``profile.division_faults`` is set.
    """
    bits = 64 if is64 else 32
    mask = MASK64 if is64 else MASK32
    a, b = dst & mask, src & mask
    if op in _DIVISION:
        result = _divide(op, a, b, bits, profile, pc) & mask
    else:
        result = _PLAIN[op](a, b, bits) & mask
    if not is64 and profile.sign_extend_alu32_arith and op in SIGN_EXTENDED_ALU32:
        return sign_extend(result, 32)
    return result


def compute_neg(dst: int, is64: bool) -> int:
    """Return ``-dst`` wrapped to 64 bits, or to 32 bits and zero-extended."""
    return -dst & (MASK64 if is64 else MASK32)


def compute_movsx(src: int, bits: int, is64: bool) -> int:
    """Return ``src``'s low ``bits`` bits sign-extended to 64, or to 32 then zero-extended."""
    return sign_extend(src, bits) & (MASK64 if is64 else MASK32)


def byte_swap(value: int, width: int) -> int:
    """Return the low ``width`` bits of ``value`` with their bytes reversed."""
    n = width // 8
    return int.from_bytes((value & ((1 << width) - 1)).to_bytes(n, "little"), "big")


def compute_endian(op: EndianOp, dst: int, width: int) -> int:
    """Return ``le``/``be``/``bswap`` of ``dst`` on a little-endian machine, zero-extended."""
    if op is EndianOp.LE:
        return dst & ((1 << width) - 1)
    return byte_swap(dst, width)


_CONDITIONS: Final[dict[JmpCond, Callable[[int, int, int], bool]]] = {
    JmpCond.EQ: lambda a, b, bits: a == b,
    JmpCond.NE: lambda a, b, bits: a != b,
    JmpCond.GT: lambda a, b, bits: a > b,
    JmpCond.GE: lambda a, b, bits: a >= b,
    JmpCond.LT: lambda a, b, bits: a < b,
    JmpCond.LE: lambda a, b, bits: a <= b,
    JmpCond.SET: lambda a, b, bits: (a & b) != 0,
    JmpCond.SGT: lambda a, b, bits: to_signed(a, bits) > to_signed(b, bits),
    JmpCond.SGE: lambda a, b, bits: to_signed(a, bits) >= to_signed(b, bits),
    JmpCond.SLT: lambda a, b, bits: to_signed(a, bits) < to_signed(b, bits),
    JmpCond.SLE: lambda a, b, bits: to_signed(a, bits) <= to_signed(b, bits),
}


def jump_taken(cond: JmpCond, dst: int, src: int, is64: bool) -> bool:
    """Return whether ``dst <cond> src`` holds on 64 bits, or on the low 32 bits (JMP32)."""
    bits = 64 if is64 else 32
    mask = MASK64 if is64 else MASK32
    return _CONDITIONS[cond](dst & mask, src & mask, bits)


_ATOMIC: Final[dict[AtomicOp, Callable[[int, int], int]]] = {
    AtomicOp.ADD: lambda a, b: a + b,
    AtomicOp.OR: lambda a, b: a | b,
    AtomicOp.AND: lambda a, b: a & b,
    AtomicOp.XOR: lambda a, b: a ^ b,
    AtomicOp.XCHG: lambda a, b: b,
}


def atomic_value(op: AtomicOp, old: int, operand: int, size: int) -> int:
    """Return the value an atomic ``add``/``or``/``and``/``xor``/``xchg`` stores."""
    mask = (1 << (8 * size)) - 1
    return _ATOMIC[op](old & mask, operand & mask) & mask
