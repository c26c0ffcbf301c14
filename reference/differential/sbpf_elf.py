"""
Minimal sBPF v0 ELF writer
==========================

:func:`write_sbpf_v0_elf` wraps encoded bytecode in the smallest shared object Agave's
loader accepts for SBPFv0 (anza-xyz/sbpf ``src/elf.rs``, ``load_with_lenient_parser`` and
``validate``; ``src/elf_parser/mod.rs``): an ``ET_DYN`` / ``EM_BPF`` file with ``e_flags = 0``
(SBPFv0), one ``.text`` section whose address equals its file offset, and, when the code
calls syscalls, a dynamic section whose ``DT_REL`` table has one ``R_BPF_64_32`` (type 10)
relocation per call site, naming the syscall in ``.dynsym``/``.dynstr``. Agave's loader
rewrites each such ``call -1`` to ``murmur3_32(name)``; a ``call`` whose immediate is not -1
is pc-relative (``pc + 1 + imm``) in v0 whatever its ``src`` field says.

``.text`` starts at :data:`~arspec.reference.vm.profiles.SBPF_TEXT_OFFSET`, so a code address
in Agave's VM (``MM_BYTECODE_START + sh_addr + 8 * pc``) equals the one the ``solana``
profile gives the same pc; the bytes before it read as zeros there, as in Agave's read-only
region built from this file.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Final

from arspec.reference.vm.profiles import SBPF_TEXT_OFFSET

_EHDR: Final = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR: Final = struct.Struct("<IIQQQQIIQQ")
_SYM: Final = struct.Struct("<IBBHQQ")
_REL: Final = struct.Struct("<QQ")
_DYN: Final = struct.Struct("<qQ")
_EM_BPF: Final = 247
_ET_DYN: Final = 3
_SHT_PROGBITS, _SHT_SYMTAB, _SHT_STRTAB, _SHT_DYNAMIC, _SHT_REL, _SHT_DYNSYM = 1, 2, 3, 6, 9, 11
_SHF_WRITE, _SHF_ALLOC, _SHF_EXEC = 1, 2, 4
_DT_NULL, _DT_STRTAB, _DT_SYMTAB, _DT_STRSZ, _DT_SYMENT = 0, 5, 6, 10, 11
_DT_REL, _DT_RELSZ, _DT_RELENT = 17, 18, 19
#: ``R_BPF_64_32``: a call immediate naming a symbol.
R_BPF_64_32: Final = 10
_STT_FUNC, _STB_GLOBAL = 2, 1


def _align(n: int, to: int = 8) -> int:
    return (n + to - 1) // to * to


def write_sbpf_v0_elf(text: bytes, syscall_sites: Mapping[int, str] | None = None) -> bytes:
    """Return an SBPFv0 ELF whose ``.text`` is ``text`` and whose entry point is pc 0.

    Parameters
    ----------
    text
        Encoded instructions (a multiple of 8 bytes, at least one slot).
    syscall_sites
        ``pc -> syscall name`` for each ``call`` that names a syscall; the writer sets the
        slot's immediate to -1 and adds the relocation Agave resolves.
    """
    if not text or len(text) % 8:
        raise ValueError(f"text of {len(text)} bytes is not a non-empty multiple of 8")
    sites = dict(sorted((syscall_sites or {}).items()))
    code = bytearray(text)
    for pc in sites:
        if not 0 <= pc < len(text) // 8:
            raise ValueError(f"syscall site pc {pc} is outside the text")
        struct.pack_into("<i", code, 8 * pc + 4, -1)
    names = sorted(set(sites.values()))
    dynstr = bytearray(b"\0")
    name_offset: dict[str, int] = {}
    for name in names:
        name_offset[name] = len(dynstr)
        dynstr += name.encode() + b"\0"
    symbol_index = {name: i + 1 for i, name in enumerate(names)}
    dynsym = bytes(24) + b"".join(
        _SYM.pack(name_offset[n], (_STB_GLOBAL << 4) | _STT_FUNC, 0, 0, 0, 0) for n in names)
    shstr = bytearray(b"\0")

    def section_name(name: str) -> int:
        offset = len(shstr)
        shstr.extend(name.encode() + b"\0")
        return offset

    body = bytearray(bytes(SBPF_TEXT_OFFSET))
    headers: list[bytes] = [bytes(_SHDR.size)]

    def add(name: str, kind: int, flags: int, data: bytes, *, link: int = 0,
            entsize: int = 0, align: int = 8) -> int:
        offset = _align(len(body))
        body.extend(bytes(offset - len(body)))
        body.extend(data)
        headers.append(_SHDR.pack(section_name(name), kind, flags, offset, offset, len(data),
                                  link, 1 if kind == _SHT_DYNSYM else 0, align, entsize))
        return offset

    text_at = add(".text", _SHT_PROGBITS, _SHF_ALLOC | _SHF_EXEC, bytes(code))
    assert text_at == SBPF_TEXT_OFFSET
    if sites:
        strtab_index = len(headers)
        dynstr_at = add(".dynstr", _SHT_STRTAB, _SHF_ALLOC, bytes(dynstr), align=1)
        dynsym_at = add(".dynsym", _SHT_DYNSYM, _SHF_ALLOC, dynsym, link=strtab_index,
                        entsize=_SYM.size)
        symtab_index = len(headers) - 1
        rel = b"".join(_REL.pack(text_at + 8 * pc, (symbol_index[n] << 32) | R_BPF_64_32)
                       for pc, n in sites.items())
        rel_at = add(".rel.dyn", _SHT_REL, _SHF_ALLOC, rel, link=symtab_index,
                     entsize=_REL.size)
        dynamic = b"".join(_DYN.pack(tag, value) for tag, value in (
            (_DT_REL, rel_at), (_DT_RELSZ, len(rel)), (_DT_RELENT, _REL.size),
            (_DT_SYMTAB, dynsym_at), (_DT_SYMENT, _SYM.size), (_DT_STRTAB, dynstr_at),
            (_DT_STRSZ, len(dynstr)), (_DT_NULL, 0)))
        add(".dynamic", _SHT_DYNAMIC, _SHF_ALLOC | _SHF_WRITE, dynamic, link=strtab_index,
            entsize=_DYN.size)
    shstrndx = len(headers)
    section_name(".shstrtab")
    shstr_name = len(shstr) - len(b".shstrtab\0")
    shstr_at = _align(len(body))
    body.extend(bytes(shstr_at - len(body)))
    body.extend(shstr)
    headers.append(_SHDR.pack(shstr_name, _SHT_STRTAB, 0, 0, shstr_at, len(shstr), 0, 0, 1, 0))
    shoff = _align(len(body))
    body.extend(bytes(shoff - len(body)))
    ident = b"\x7fELF" + bytes((2, 1, 1, 0)) + bytes(8)
    header = _EHDR.pack(ident, _ET_DYN, _EM_BPF, 1, SBPF_TEXT_OFFSET, 0, shoff, 0,
                        _EHDR.size, 56, 0, _SHDR.size, len(headers), shstrndx)
    body[:_EHDR.size] = header
    return bytes(body) + b"".join(headers)
