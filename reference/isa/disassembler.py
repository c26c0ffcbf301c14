"""
Disassembler
============

:class:`~arspec.reference.isa.instructions.Instruction` values to the expression syntax of LLVM
and the kernel verifier log, one instruction per line. The output is deterministic and
:func:`~arspec.reference.isa.assembler.assemble` reads it back to the same encoding.

Immediates print in signed decimal, except the 64-bit constant of ``lddw`` (hex, ``ll``
suffix) and helper ids that do not fit a non-negative 32-bit signed value (``call
0xffffffff``). Jump offsets print as ``+N``/``-N`` and local calls as ``call pc+N``.
"""

from __future__ import annotations

from functools import singledispatch

from arspec.reference.isa.asm_llvm import (
    ACCESS_SIZE,
    ALU_SYMBOL,
    ATOMIC_SYMBOL,
    ENDIAN_NAME,
    JMP_SYMBOL,
    PSEUDO_NAME,
)
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
    Exit,
    Instruction,
    Ja,
    Jump,
    LegacyLoad,
    LegacyMode,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Operand,
    Program,
    Pseudo,
    Reg,
    Store,
    jump_target,
)

_SIZE_NAME = {(size, signed): name for name, (size, signed) in ACCESS_SIZE.items()}


def disassemble(program: Program) -> str:
    """Return the program as text, one instruction per line (newline-terminated)."""
    return "".join(format_instruction(insn) + "\n" for _, insn in program.instructions())


def disassemble_listing(program: Program) -> str:
    """Return the program with the pc of every instruction and the target of every jump.

    ``  3: if r3 >= r2 goto +6 ; -> 10``; a ``lddw`` takes two pcs, so the next line skips one.
    """
    width = len(str(max(len(program) - 1, 0)))
    return "".join(f"{pc:>{width}}: {format_instruction(insn, pc)}\n"
                   for pc, insn in program.instructions())


def format_instruction(insn: Instruction, pc: int | None = None) -> str:
    """Return one instruction in the expression syntax.

    When ``pc`` is given, jumps and local calls get a trailing comment with the absolute
    target, e.g. ``goto +2 ; -> 7``; the assembler ignores it.
    """
    text = _format(insn)
    target = jump_target(pc, insn) if pc is not None else None
    return text if target is None else f"{text} ; -> {target}"


def _reg(index: int, wide: bool = True) -> str:
    return f"{'r' if wide else 'w'}{index}"


def _operand(src: Operand, wide: bool) -> str:
    return _reg(src.index, wide) if isinstance(src, Reg) else str(src.value)


def _offset(offset: int) -> str:
    return f"+{offset}" if offset >= 0 else str(offset)


def _address(base: int, offset: int) -> str:
    sign = "+" if offset >= 0 else "-"
    return f"r{base} {sign} {abs(offset)}"


def _deref(size: int, base: int, offset: int, signed: bool = False) -> str:
    return f"*({_SIZE_NAME[size, signed]} *)({_address(base, offset)})"


@singledispatch
def _format(insn: Instruction) -> str:
    raise TypeError(f"not an instruction: {insn!r}")


@_format.register
def _(insn: Alu) -> str:
    symbol = "=" if insn.op is AluOp.MOV else ALU_SYMBOL[insn.op]
    return f"{_reg(insn.dst, insn.is64)} {symbol} {_operand(insn.src, insn.is64)}"


@_format.register
def _(insn: Neg) -> str:
    reg = _reg(insn.dst, insn.is64)
    return f"{reg} = -{reg}"


@_format.register
def _(insn: MovSx) -> str:
    return f"{_reg(insn.dst, insn.is64)} = (s{insn.bits}){_reg(insn.src, insn.is64)}"


@_format.register
def _(insn: Endian) -> str:
    reg = _reg(insn.dst)
    return f"{reg} = {ENDIAN_NAME[insn.op]}{insn.width} {reg}"


@_format.register
def _(insn: Load) -> str:
    return f"{_reg(insn.dst)} = {_deref(insn.size, insn.src, insn.offset, insn.signed)}"


@_format.register
def _(insn: Store) -> str:
    return f"{_deref(insn.size, insn.dst, insn.offset)} = {_operand(insn.value, True)}"


@_format.register
def _(insn: Atomic) -> str:
    wide = insn.size == 8
    src = _reg(insn.src, wide)
    if insn.op is AtomicOp.XCHG or insn.op is AtomicOp.CMPXCHG:
        name = f"{insn.op.value}_64" if wide else f"{insn.op.value}32_32"
        if insn.op is AtomicOp.CMPXCHG:
            r0 = _reg(0, wide)
            return f"{r0} = {name}({_address(insn.dst, insn.offset)}, {r0}, {src})"
        return f"{src} = {name}({_address(insn.dst, insn.offset)}, {src})"
    if insn.fetch:
        pointer = f"(u{insn.size * 8} *)({_address(insn.dst, insn.offset)})"
        return f"{src} = atomic_fetch_{insn.op.value}({pointer}, {src})"
    return f"lock {_deref(insn.size, insn.dst, insn.offset)} {ATOMIC_SYMBOL[insn.op]} {src}"


@_format.register
def _(insn: Jump) -> str:
    dst, src = _reg(insn.dst, insn.is64), _operand(insn.src, insn.is64)
    return f"if {dst} {JMP_SYMBOL[insn.cond]} {src} goto {_offset(insn.offset)}"


@_format.register
def _(insn: Ja) -> str:
    return f"{'gotol' if insn.long else 'goto'} {_offset(insn.offset)}"


@_format.register
def _(insn: Call) -> str:
    return f"call {insn.imm}" if insn.imm >= 0 else f"call {insn.imm & 0xFFFFFFFF:#x}"


@_format.register
def _(insn: CallLocal) -> str:
    return f"call pc{_offset(insn.offset)}"


@_format.register
def _(insn: CallKfunc) -> str:
    module = f" module {insn.module}" if insn.module else ""
    return f"call kfunc {insn.btf_id}{module}"


@_format.register
def _(insn: Callx) -> str:
    return f"callx {_reg(insn.reg)}"


@_format.register
def _(insn: Exit) -> str:
    return "exit"


@_format.register
def _(insn: LoadImm64) -> str:
    dst = _reg(insn.dst)
    if insn.pseudo is Pseudo.IMM64:
        return f"{dst} = {insn.value:#x} ll"
    extra = "" if insn.next_imm == 0 else f" {'+' if insn.next_imm > 0 else '-'} " \
        f"{abs(insn.next_imm)}"
    return f"{dst} = {PSEUDO_NAME[insn.pseudo]}({insn.imm}){extra} ll"


@_format.register
def _(insn: LegacyLoad) -> str:
    where = str(insn.imm)
    if insn.mode is LegacyMode.IND:
        where = _address(insn.src, insn.imm)
    return f"r0 = *({_SIZE_NAME[insn.size, False]} *)skb[{where}]"

