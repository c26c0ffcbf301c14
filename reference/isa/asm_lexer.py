"""
Assembly lexer
==============

Splits one line of assembly into tokens that remember their column, and offers the
:class:`Cursor` the two syntax parsers walk with. Every error it raises is an
:class:`~arspec.spec.errors.InputError` pointing at the offending token.

Token kinds: ``reg`` (``r3``, ``w3``, ``%r3``), ``num`` (decimal or ``0x`` hex, unsigned; a sign
is a separate ``op`` token), ``ident`` and ``op`` (punctuation and operators such as ``+=``,
``s>>=``, ``==``). Comments start at ``#``, ``;`` or ``//`` and run to the end of the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from arspec.reference.isa.instructions import FRAME_POINTER, REGISTER_COUNT, Instruction
from arspec.spec.errors import InputError

_TOKEN: Final = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<reg>%?[rw][0-9]{1,3})(?![A-Za-z0-9_.$])"
    r"|(?P<num>0[xX][0-9A-Fa-f]+|[0-9]+)(?![A-Za-z0-9_.$])"
    r"|(?P<op>s>>=|s/=|s%=|s>=|s<=|s>|s<)"
    r"|(?P<ident>[A-Za-z_.$][A-Za-z0-9_.$]*)"
    r"|(?P<op2><<=|>>=|\+=|-=|\*=|/=|%=|\|=|&=|\^=|==|!=|>=|<=|[-+*/=<>&|^%(),:\[\]])"
)
_COMMENT: Final = re.compile(r"#|;|//")

#: Longest number token read; every instruction field fits in 64 bits.
MAX_NUMBER_CHARS: Final = 40
#: Largest magnitudes accepted for each field width (see :func:`Cursor.number`).
S16: Final = (-(1 << 15), (1 << 15) - 1)
S32: Final = (-(1 << 31), (1 << 31) - 1)
IMM32: Final = (-(1 << 31), (1 << 32) - 1)
IMM64: Final = (-(1 << 63), (1 << 64) - 1)


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme with its 1-based column."""

    kind: str
    text: str
    column: int

    @property
    def reg_index(self) -> int:
        """Return the register number of a ``reg`` token."""
        return int(self.text.lstrip("%")[1:])

    @property
    def is_wide(self) -> bool:
        """Return whether a ``reg`` token names the 64-bit view (``r``/``%r``, not ``w``)."""
        return self.text.lstrip("%")[0] == "r"


@dataclass(frozen=True, slots=True)
class Pending:
    """An instruction whose jump offset waits for a label to be placed.

    ``make`` builds the instruction from the resolved offset, which must fit in ``bits``.
    """

    make: Callable[[int], Instruction]
    label: Token
    bits: int
    slots: int = 1


def strip_comment(line: str) -> str:
    """Return ``line`` without its trailing comment."""
    match = _COMMENT.search(line)
    return line if match is None else line[:match.start()]


def wrap32(value: int) -> int:
    """Return the signed 32-bit field holding the bit pattern of ``value``."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


class Cursor:
    """Walks the tokens of one line; every failure raises an error located on that line."""

    def __init__(self, text: str, *, line: int, filename: str,
                 symbols: Mapping[str, int] | None = None,
                 helpers: Mapping[str, int] | None = None) -> None:
        self.line = line
        self.filename = filename
        self.symbols: Mapping[str, int] = symbols or {}
        self.helpers: Mapping[str, int] = helpers or {}
        self.end_column = len(text.rstrip()) + 1
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise self.error_at(pos + 1, f"unexpected character {text[pos]!r}")
            kind = match.lastgroup or "space"
            if kind != "space":
                tokens.append(Token("op" if kind == "op2" else kind, match.group(), pos + 1))
            pos = match.end()
        return tokens

    def error_at(self, column: int, reason: str) -> InputError:
        """Return an error at ``column`` of this line."""
        return InputError(reason, file=self.filename, line=self.line, column=column)

    def error(self, reason: str, token: Token | None = None) -> InputError:
        """Return an error at ``token`` (default: the next token, or the end of the line)."""
        token = token or self.peek()
        return self.error_at(token.column if token else self.end_column, reason)

    def peek(self, ahead: int = 0) -> Token | None:
        """Return the token ``ahead`` positions on without consuming it."""
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def at_end(self) -> bool:
        """Return whether every token has been consumed."""
        return self.pos >= len(self.tokens)

    def take(self, what: str = "an operand") -> Token:
        """Consume and return the next token."""
        token = self.peek()
        if token is None:
            raise self.error(f"expected {what}, found end of line")
        self.pos += 1
        return token

    def accept(self, *texts: str) -> Token | None:
        """Consume the next token if its text is one of ``texts``."""
        token = self.peek()
        if token is not None and token.text in texts:
            self.pos += 1
            return token
        return None

    def expect(self, text: str) -> Token:
        """Consume the next token, which must be ``text``."""
        token = self.peek()
        if token is None or token.text != text:
            found = f"'{token.text}'" if token else "end of line"
            raise self.error(f"expected '{text}', found {found}")
        self.pos += 1
        return token

    def finish(self) -> None:
        """Verify the line has no tokens left."""
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected '{token.text}' after the instruction")

    def register(self, *, writable: bool = False, wide: bool | None = None) -> Token:
        """Consume a register; ``wide`` demands the ``r`` (True) or ``w`` (False) view."""
        token = self.peek()
        if token is None or token.kind != "reg":
            found = f"'{token.text}'" if token else "end of line"
            raise self.error(f"expected a register, found {found}")
        self.pos += 1
        if token.reg_index >= REGISTER_COUNT:
            raise self.error(f"invalid register '{token.text}' (registers are r0..r10)", token)
        if writable and token.reg_index == FRAME_POINTER:
            raise self.error("cannot write to r10 (the frame pointer is read-only)", token)
        if wide is not None and token.is_wide != wide:
            want = "a 64-bit 'r'" if wide else "a 32-bit 'w'"
            raise self.error(f"expected {want} register, found '{token.text}'", token)
        return token

    def number(self, bounds: tuple[int, int], what: str = "immediate") -> int:
        """Consume an optionally signed integer and check it lies within ``bounds``."""
        start = self.peek()
        sign = self.accept("+", "-")
        token = self.peek()
        if token is None or token.kind != "num":
            found = f"'{token.text}'" if token else "end of line"
            raise self.error(f"expected {what}, found {found}")
        self.pos += 1
        text = token.text.lower()
        if len(text) > MAX_NUMBER_CHARS:  # no field needs more; int() refuses 4,300 digits
            raise self.error(f"{what} of {len(text)} characters is out of range", start)
        value = int(text, 16) if text.startswith("0x") else int(text)
        if sign is not None and sign.text == "-":
            value = -value
        low, high = bounds
        if not low <= value <= high:
            raise self.error(f"{what} {value} is out of range [{low}, {high}]", start)
        return value

    def at_number(self) -> bool:
        """Return whether an optionally signed number comes next."""
        token = self.peek()
        if token is not None and token.text in ("+", "-"):
            token = self.peek(1)
        return token is not None and token.kind == "num"

    def signed_offset(self, bits: int, what: str) -> int:
        """Consume ``+N`` or ``-N`` (the sign is mandatory) fitting ``bits`` signed bits."""
        token = self.peek()
        if token is None or token.text not in ("+", "-"):
            found = f"'{token.text}'" if token else "end of line"
            raise self.error(f"expected a signed {what} such as +2 or -1, found {found}")
        return self.number((-(1 << (bits - 1)), (1 << (bits - 1)) - 1), what)

    def target(self, make: Callable[[int], Instruction], bits: int) -> Instruction | Pending:
        """Consume a jump target: ``+N``, ``-N``, ``pc+N``, ``pc-N`` or a label name."""
        token = self.peek()
        if token is not None and token.text == "pc" and self._next_is_sign():
            self.pos += 1
            return make(self.signed_offset(bits, "jump offset"))
        if token is not None and token.kind == "ident":
            self.pos += 1
            return Pending(make, token, bits)
        return make(self.signed_offset(bits, "jump offset"))

    def _next_is_sign(self) -> bool:
        following = self.peek(1)
        return following is not None and following.text in ("+", "-")

    def memory_offset(self) -> int:
        """Consume an optional ``+ N`` / ``- N`` displacement (16-bit signed); default 0."""
        token = self.peek()
        if token is None or token.text not in ("+", "-"):
            return 0
        return self.number(S16, "memory offset")
