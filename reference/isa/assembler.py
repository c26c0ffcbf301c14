"""
Assembler
=========

Assembly text to :class:`~arspec.reference.isa.instructions.Program`. Two syntaxes are accepted,
freely mixed line by line: the mnemonic syntax of uBPF and bpf_conformance
(:mod:`~arspec.reference.isa.asm_ubpf`) and the expression syntax of LLVM and the kernel verifier
log (:mod:`~arspec.reference.isa.asm_llvm`), which :mod:`~arspec.reference.isa.disassembler` prints.

Lines may carry labels (``loop:``, several per line, optionally followed by an instruction)
and comments (``#``, ``;`` or ``//`` to the end of the line). A jump or local-call target is
a label, ``+N``/``-N`` or ``pc+N``/``pc-N``, counted in 8-byte slots from the next
instruction. As in bpf_conformance, the label ``exit``, unless defined, names the first
``exit`` instruction.

Calls, shared by both syntaxes: ``call N`` (helper ``N``, unsigned, up to ``0xffffffff``),
``call helper N`` (any 32-bit id), ``call +N`` / ``call pc+N`` / ``call <label>`` /
``call local <target>`` (bpf-to-bpf), ``call kfunc N`` or ``call runtime N`` (by BTF id,
optionally ``module M``), ``callx r1`` (also ``call r1``) and ``exit``.

Immediates of 32-bit fields accept ``[-2**31, 2**32)`` in both syntaxes; values from ``2**31``
up are stored as their 32-bit two's-complement pattern, so ``r0 = 0xffffffff`` stores -1 (which
a 64-bit operation sign-extends). Use ``ll`` or ``lddw`` for a 64-bit constant.

Errors raise :class:`~arspec.spec.errors.InputError` with the file, line and (where a token is
to blame) column, e.g. ``prog.s:3:5: error: unknown mnemonic 'mvo'``. A program that
assembles is guaranteed to pass :func:`~arspec.reference.isa.decoder.decode`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from arspec.reference.isa.asm_lexer import IMM32, S16, Cursor, Pending, Token, strip_comment, wrap32
from arspec.reference.isa.asm_llvm import parse_statement
from arspec.reference.isa.asm_ubpf import MNEMONICS, parse_lock, parse_mnemonic
from arspec.reference.isa.decoder import decode
from arspec.reference.isa.encoder import encode_one
from arspec.reference.isa.instructions import (
    Call,
    CallKfunc,
    CallLocal,
    Callx,
    Exit,
    Instruction,
    Program,
    slot_count,
)
from arspec.spec.errors import ArspecError, DecodeError, InputError

_LLVM_HEADS = frozenset({"*", "if", "goto", "gotol"})


@dataclass(frozen=True, slots=True)
class _Item:
    """One parsed instruction, its first pc and its source line."""

    parsed: Instruction | Pending
    pc: int
    line: int


def assemble(text: str, *, filename: str = "<input>",
             symbols: Mapping[str, int] | None = None,
             helpers: Mapping[str, int] | None = None) -> Program:
    """Assemble a whole program and check it decodes (targets inside it, fields valid).

    Parameters
    ----------
    text
        Assembly source in either syntax.
    filename
        Name used in error locations.
    symbols
        Names usable where a pseudo ``lddw`` takes a number, e.g. ``r1 = map_idx(prices)``
        with ``{"prices": 0}`` (a bundle's maps by declaration index). ``code_addr(label)``
        takes a label of the program itself.
    helpers
        Helper names usable as ``call <name>``, mapped to the ``imm`` to encode (the Linux id,
        or the sBPF syscall hash). A helper name takes precedence over a label of that name.

    Returns
    -------
    Program
        The decoded-equivalent program.

    Raises
    ------
    InputError
        On the first line that cannot be assembled, or if the text has no instructions.
    """
    insns, lines = _assemble(text, filename, symbols, helpers)
    if not insns:
        raise InputError("no instructions to assemble", file=filename,
                         line=max(1, len(text.splitlines())))
    line_of_pc: dict[int, int] = {}
    chunks: list[bytes] = []
    pc = 0
    for insn, line in zip(insns, lines, strict=True):
        line_of_pc[pc] = line
        pc += slot_count(insn)
        try:
            chunks.append(encode_one(insn))
        except ArspecError as err:
            raise InputError(str(err), file=filename, line=line) from err
    try:
        return decode(b"".join(chunks))
    except DecodeError as err:
        where = line_of_pc.get(err.pc, line_of_pc.get(err.pc - 1))
        raise InputError(err.reason, file=filename, line=where) from err


def assemble_instructions(text: str, *, filename: str = "<input>",
                          symbols: Mapping[str, int] | None = None,
                          helpers: Mapping[str, int] | None = None) -> list[Instruction]:
    """Assemble a fragment: labels must resolve, but targets may lie outside the fragment.

    Returns the instructions in order (possibly none); errors as for :func:`assemble`.
    """
    return _assemble(text, filename, symbols, helpers)[0]


def get_source_lines(text: str, *, filename: str = "<input>",
                     symbols: Mapping[str, int] | None = None,
                     helpers: Mapping[str, int] | None = None) -> dict[int, int]:
    """Return the 1-based source line of every instruction, by pc (errors as for
    :func:`assemble`)."""
    insns, lines = _assemble(text, filename, symbols, helpers)
    found: dict[int, int] = {}
    pc = 0
    for insn, line in zip(insns, lines, strict=True):
        found[pc] = line
        pc += slot_count(insn)
    return found


def get_labels(text: str, *, filename: str = "<input>",
               symbols: Mapping[str, int] | None = None,
               helpers: Mapping[str, int] | None = None) -> dict[str, int]:
    """Return every label of a program and the pc it names (``exit`` included as defined).

    Errors as for :func:`assemble`; used to resolve named callback entry points.
    """
    labels: dict[str, tuple[int, int]] = {}
    pc = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        cursor = Cursor(strip_comment(raw), line=number, filename=filename, symbols=symbols,
                        helpers=helpers)
        _define_labels(cursor, labels, pc)
        if cursor.at_end():
            continue
        parsed = _parse_line(cursor)
        pc += parsed.slots if isinstance(parsed, Pending) else slot_count(parsed)
    return {name: where[0] for name, where in labels.items()}


def _assemble(text: str, filename: str,
              symbols: Mapping[str, int] | None = None,
              helpers: Mapping[str, int] | None = None) -> tuple[list[Instruction], list[int]]:
    items: list[_Item] = []
    labels: dict[str, tuple[int, int]] = {}
    pc = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        cursor = Cursor(strip_comment(raw), line=number, filename=filename, symbols=symbols,
                        helpers=helpers)
        _define_labels(cursor, labels, pc)
        if cursor.at_end():
            continue
        parsed = _parse_line(cursor)
        items.append(_Item(parsed, pc, number))
        pc += parsed.slots if isinstance(parsed, Pending) else slot_count(parsed)
    if "exit" not in labels:
        first_exit = next((i for i in items if isinstance(i.parsed, Exit)), None)
        if first_exit is not None:
            labels["exit"] = (first_exit.pc, first_exit.line)
    insns = [_resolve(item, labels, filename, helpers or {}) for item in items]
    return insns, [item.line for item in items]


def _define_labels(c: Cursor, labels: dict[str, tuple[int, int]], pc: int) -> None:
    while (head := c.peek()) is not None and (following := c.peek(1)) is not None \
            and following.text == ":":
        if head.kind != "ident":
            raise c.error(f"invalid label name '{head.text}'", head)
        if head.text in labels:
            first = labels[head.text][1]
            raise c.error(f"duplicate label '{head.text}' (first defined on line {first})", head)
        labels[head.text] = (pc, c.line)
        c.pos += 2


def _parse_line(c: Cursor) -> Instruction | Pending:
    head = c.peek()
    assert head is not None
    following = c.peek(1)
    if head.kind == "reg" or head.text in _LLVM_HEADS:
        return parse_statement(c)
    if head.text == "lock":
        if following is not None and following.text == "*":
            return parse_statement(c)
        c.take()
        return parse_lock(c)
    if head.text in ("call", "callx", "exit"):
        return _parse_call(c)
    if head.kind == "ident" and head.text in MNEMONICS:
        return parse_mnemonic(c)
    raise c.error(f"unknown mnemonic '{head.text}'", head)


def _parse_call(c: Cursor) -> Instruction | Pending:
    head = c.take()
    result: Instruction | Pending
    if head.text == "exit":
        result = Exit()
    elif head.text == "callx":
        result = Callx(c.register(wide=True).reg_index)
    else:
        result = _call_operand(c, head)
    c.finish()
    return result


def _call_operand(c: Cursor, head: Token) -> Instruction | Pending:
    mode = c.peek()
    if mode is None:
        raise c.error("'call' expects a helper id, a target or a mode", head)
    keyword = mode.text if mode.kind == "ident" and c.peek(1) is not None else None
    if keyword == "helper":
        c.take()
        return Call(wrap32(c.number(IMM32, "helper id")))
    if keyword == "local":
        c.take()
        return c.target(CallLocal, 32)
    if keyword in ("kfunc", "runtime"):
        c.take()
        btf_id = wrap32(c.number(IMM32, "BTF id"))
        module = c.number(S16, "module") if c.accept("module") else 0
        return CallKfunc(btf_id, module)
    if mode.kind == "num":
        return Call(wrap32(c.number((0, (1 << 32) - 1), "helper id")))
    if mode.kind == "ident" and mode.text in c.helpers:
        c.take()
        return Call(wrap32(c.helpers[mode.text]))
    if mode.kind == "reg":
        return Callx(c.register(wide=True).reg_index)
    return c.target(CallLocal, 32)


def _unknown_callee(name: str, helpers: Mapping[str, int]) -> str:
    """Return the error for ``call NAME`` that is neither a helper nor a label."""
    from arspec.spec.helpers import HELPER_TABLE

    known = sorted(helpers) or sorted(h.name for h in HELPER_TABLE)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
    if close:
        return f"unknown helper '{name}' (did you mean {', '.join(close)}?)"
    if not helpers and name in known:
        return f"helper '{name}' is not available here; call it by number"
    return f"unknown helper or undefined label '{name}'"


def _resolve(item: _Item, labels: dict[str, tuple[int, int]], filename: str,
             helpers: Mapping[str, int]) -> Instruction:
    parsed = item.parsed
    if not isinstance(parsed, Pending):
        return parsed
    name = parsed.label.text

    def fail(reason: str) -> InputError:
        return InputError(reason, file=filename, line=item.line, column=parsed.label.column)

    if name not in labels:
        if isinstance(parsed.make(0), CallLocal):
            raise fail(_unknown_callee(name, helpers))
        raise fail(f"undefined label '{name}'")
    offset = labels[name][0] - item.pc - 1
    limit = 1 << (parsed.bits - 1)
    if not -limit <= offset < limit:
        raise fail(f"jump to '{name}' needs offset {offset}, which does not fit in "
                   f"{parsed.bits} signed bits")
    return parsed.make(offset)
