"""
Program files
=============

Read a program from whatever a user hands the command line: assembly text (either syntax),
raw bytecode, hex text, or an ELF object from ``clang -target bpf`` (with a section name).
Every failure is an :class:`~arspec.spec.errors.InputError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from arspec.reference.isa.decoder import decode, decode_sbpf_v0
from arspec.reference.isa.instructions import Program
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.spec.errors import DecodeError, InputError
from arspec.spec.files import MAX_PROGRAM_FILE_BYTES, read_limited
from arspec.spec.syscalls import AGAVE_SYSCALLS

ELF_MAGIC: Final = b"\x7fELF"
_HEX_TEXT: Final = re.compile(r"^(?:\s*(?:0x)?[0-9a-fA-F]{2})+\s*$")


def parse_hex_bytes(text: str, *, what: str = "hex") -> bytes:
    """Return the bytes of ``"aa bb 11"``-style text (pairs, optionally separated by spaces).

    Raises
    ------
    InputError
        When the text is not whole hex byte pairs.
    """
    cleaned = text.replace(",", " ").split()
    digits = "".join(tok[2:] if tok.lower().startswith("0x") else tok for tok in cleaned)
    if len(digits) % 2:
        raise InputError(f"{what}: odd number of hex digits ({len(digits)})")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        bad = next((c for c in digits if c not in "0123456789abcdefABCDEF"), "?")
        raise InputError(f"{what}: invalid hex digit {bad!r}") from None


def get_syscall_ids() -> dict[str, int]:
    """Return every Agave syscall name (:data:`arspec.spec.syscalls.AGAVE_SYSCALLS`) with the
    ``call`` immediate that names it in an SBPFv0 program: ``murmur3_32(name)``."""
    return {s.row.name: murmur3_32(s.row.name.encode()) for s in AGAVE_SYSCALLS}


def read_source(path: str | Path) -> bytes:
    """Return a file's bytes, or raise an InputError that names it."""
    return read_limited(path, MAX_PROGRAM_FILE_BYTES, what="program file")


def _decode_named(code: bytes, name: str, sbpf_v0: bool = False) -> Program:
    try:
        return decode_sbpf_v0(code) if sbpf_v0 else decode(code)
    except DecodeError as err:
        raise InputError(str(err), file=name) from None


def load_program_file(path: str | Path, *, section: str | None = None,
                      sbpf_v0: bool = False,
                      helpers: Mapping[str, int] | None = None) -> Program:
    """Load a program from an assembly file, raw bytecode, hex text or an ELF object.

    The kind is chosen from the content: an ELF magic number means an object file (its
    ``section``, or its only program section); text that is all hex pairs is bytecode in
    hex; other text is assembly; anything else is raw little-endian bytecode. With
    ``sbpf_v0`` bytecode is read as Agave's SBPFv0 loader reads it. ``helpers`` names the
    helpers assembly may ``call`` by name (default: the Linux helper table, or the sBPF
    syscalls by their murmur3-32 hash with ``sbpf_v0``).
    """
    name = str(path)
    data = read_source(path)
    if data.startswith(ELF_MAGIC):
        from arspec.reference.isa.elf import (
            load_program,  # deferred: pyelftools is only needed for objects
        )

        return load_program(path, section).program
    if section is not None:
        raise InputError("--section applies only to ELF objects", file=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_named(data, name, sbpf_v0)
    if "\0" in text:
        return _decode_named(data, name, sbpf_v0)
    if _HEX_TEXT.match(text):
        return _decode_named(parse_hex_bytes(text), name, sbpf_v0)
    from arspec.reference.isa.assembler import assemble

    if helpers is None and sbpf_v0:
        helpers = get_syscall_ids()  # ``call sol_log_``
    if helpers is None:
        from arspec.spec.helpers import HELPER_TABLE

        helpers = {h.name: int(h.id) for h in HELPER_TABLE}
    return assemble(text, filename=name, helpers=helpers)
