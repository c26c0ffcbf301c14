"""
ELF objects
===========

Load the relocatable objects that ``clang -target bpf -c`` produces and link each program the
way libbpf does before ``BPF_PROG_LOAD`` (libbpf's loader was read for the facts only).

* Every executable section (``SHF_EXECINSTR``) other than ``.text`` holds programs, one per
  function symbol. ``.text`` holds subprograms: a program that calls a ``.text`` function
  (``R_BPF_64_32`` relocation, or a pc-relative call inside ``.text``) gets a copy of that
  function laid out after its own code, in order of first use, and every local call offset
  is patched to the new layout. A ``lddw`` of a ``.text`` function's address (a callback for
  ``bpf_loop`` or a timer) becomes :attr:`~Pseudo.CODE_ADDR` with ``imm`` the pc offset of
  the function relative to the next instruction, like a call.
* Maps. :attr:`ElfObject.maps` lists every map in a fixed order: the BTF-defined maps of
  ``.maps`` by offset, then the legacy ``struct bpf_map_def`` maps of ``maps`` by offset, then
  one map per global-data section (``.rodata*``, ``.data*``, ``.bss*``), in section order and
  named after the section. A ``lddw`` relocated (``R_BPF_64_64``) against a map symbol becomes
  ``LoadImm64(pseudo=MAP_IDX, imm=<index in maps>)``: an index rather than an fd, because an
  object file has no fds and the index is what ``BPF_PSEUDO_MAP_IDX`` means to the kernel
  when a program is loaded with an fd array. A ``lddw`` against global data becomes
  ``LoadImm64(pseudo=MAP_IDX_VALUE, imm=<index>, next_imm=<byte offset>)``; the global-data
  map is a one-entry array whose value is the section (its initial bytes are kept, zeros for
  ``.bss``), as libbpf creates it.
* Map definitions are read from the legacy ``maps`` records (``type``, ``key_size``,
  ``value_size``, ``max_entries``, ``map_flags``) and, for ``.maps``, from the ``.BTF``
  section: ``__uint(field, N)`` is a member pointing to an array of ``N`` elements and
  ``__type(key, T)`` a member pointing to ``T``, whose size is computed from BTF.

Every problem with the input (unreadable file, not a 64-bit little-endian BPF ELF, missing or
malformed section, unsupported relocation) raises :class:`~arspec.spec.errors.InputError`
naming the file.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeAlias

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import Section, SymbolTableSection

from arspec.reference.isa.decoder import check_targets, decode_one
from arspec.reference.isa.instructions import (
    CallLocal,
    Instruction,
    Ja,
    Jump,
    LoadImm64,
    Program,
    Pseudo,
    jump_target,
)
from arspec.spec.bundle import MAX_KV_SIZE
from arspec.spec.errors import DecodeError, InputError
from arspec.spec.files import MAX_PROGRAM_FILE_BYTES, read_limited

#: ``e_machine`` of BPF objects (ELF gABI, ``EM_BPF``).
EM_BPF: Final = 247
#: BPF relocation types (LLVM ``llvm/BinaryFormat/ELFRelocs/BPF.def``).
R_BPF_64_64: Final = 1
R_BPF_64_32: Final = 10
#: ``SHF_EXECINSTR`` section flag.
SHF_EXECINSTR: Final = 0x4
#: Map types and flags used for the global-data maps (``/usr/include/linux/bpf.h``).
BPF_MAP_TYPE_ARRAY: Final = 2
BPF_F_RDONLY_PROG: Final = 1 << 7

BTF_MAPS_SECTION: Final = ".maps"
LEGACY_MAPS_SECTION: Final = "maps"
TEXT_SECTION: Final = ".text"
_GLOBAL_DATA_PREFIXES: Final = (".rodata", ".data", ".bss")
_INSN_SIZE: Final = 8
#: Largest global-data section (``.bss``, ``.data``, ``.rodata``): the largest map value a
#: bundle accepts (``spec.bundle.MAX_KV_SIZE``), since each section becomes one array value.
MAX_GLOBAL_DATA_SIZE: Final = MAX_KV_SIZE


@dataclass(frozen=True, slots=True)
class MapDefinition:
    """A map declared by the object. ``initial`` holds a global-data section's bytes."""

    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    initial: bytes | None = None
    #: Byte offset of a ``struct bpf_timer`` / ``struct bpf_wq`` in the value (BTF maps only).
    timer_offset: int | None = None
    wq_offset: int | None = None
    #: Byte offset of the ``struct bpf_spin_lock`` in the value (BTF maps only).
    spin_lock_offset: int | None = None


@dataclass(frozen=True, slots=True)
class ElfProgram:
    """One linked program: its section, function symbol, code and map references by pc."""

    section: str
    name: str
    program: Program
    map_relocations: dict[int, str] = field(default_factory=dict)
    #: pc -> (source file, line) from the ``.BTF.ext`` line info of an object built with -g;
    #: every instruction gets the line of the nearest record at or before it in its function.
    source_lines: dict[int, tuple[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ElfObject:
    """A loaded object file.

    ``programs`` is keyed by section name; a section holding several programs contributes
    one entry per function, keyed ``section:function``. ``maps`` and ``map_definitions``
    are parallel tuples; a map's position is the index that ``MAP_IDX`` references use.
    """

    path: str
    programs: dict[str, ElfProgram]
    maps: tuple[str, ...]
    map_definitions: tuple[MapDefinition, ...]
    license: str | None


@dataclass(frozen=True, slots=True)
class _Symbol:
    name: str
    kind: str
    section: str | None
    value: int


@dataclass(frozen=True, slots=True)
class _Function:
    section: str
    name: str
    start: int
    end: int


@dataclass(slots=True)
class _CodeSection:
    name: str
    slots: list[Instruction | None]
    relocations: dict[int, tuple[int, _Symbol]]
    functions: list[_Function]


class _Reader:
    """Everything read from one ELF file, with errors that name the file."""

    def __init__(self, path: str, elf: ELFFile) -> None:
        self.path = path
        self.elf = elf
        self.sections: list[Section] = list(elf.iter_sections())
        self.symbols = self._read_symbols()

    def error(self, reason: str) -> InputError:
        return InputError(reason, file=self.path)

    def section(self, name: str) -> Section | None:
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def _read_symbols(self) -> list[_Symbol]:
        tables = [s for s in self.sections if isinstance(s, SymbolTableSection)
                  and s.name == ".symtab"]
        if not tables:
            return []
        result = []
        for sym in tables[0].iter_symbols():
            shndx = sym["st_shndx"]
            owner = self.sections[shndx].name if isinstance(shndx, int) and \
                0 < shndx < len(self.sections) else None
            result.append(_Symbol(sym.name, sym["st_info"]["type"], owner, sym["st_value"]))
        return result

    def relocations_for(self, index: int, name: str) -> dict[int, tuple[int, _Symbol]]:
        """Return ``slot -> (type, symbol)`` for the relocations applying to section ``index``."""
        result: dict[int, tuple[int, _Symbol]] = {}
        for section in self.sections:
            if not isinstance(section, RelocationSection) or section["sh_info"] != index:
                continue
            if section.is_RELA():
                raise self.error(f"section {section.name}: RELA relocations are not supported")
            for reloc in section.iter_relocations():
                offset, sym_index = reloc["r_offset"], reloc["r_info_sym"]
                if offset % _INSN_SIZE or not 0 <= sym_index < len(self.symbols):
                    raise self.error(f"section {section.name}: bad relocation at offset "
                                     f"{offset:#x} (symbol {sym_index})")
                result[offset // _INSN_SIZE] = (reloc["r_info_type"], self.symbols[sym_index])
        return result


def _read_elf(path: str | Path) -> _Reader:
    name = str(path)
    data = read_limited(path, MAX_PROGRAM_FILE_BYTES, what="ELF object")
    if data[:4] != b"\x7fELF":
        raise InputError("not an ELF file", file=name)
    if len(data) < 6 or data[4] != 2:
        raise InputError("not a 64-bit ELF object (BPF objects are ELFCLASS64)", file=name)
    if data[5] != 1:
        raise InputError("not a little-endian ELF object", file=name)
    try:
        _check_layout(data, name)
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
        if machine not in ("EM_BPF", EM_BPF):
            raise InputError(f"not a BPF object (machine {machine})", file=name)
        return _Reader(name, elf)
    except _ELF_ERRORS as exc:
        raise InputError(f"malformed ELF file: {exc}", file=name) from None


#: What pyelftools raises on a truncated or inconsistent file.
_ELF_ERRORS = (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError,
               OverflowError, ZeroDivisionError)
_ELF_HEADER: Final = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION_HEADER: Final = struct.Struct("<IIQQQQIIQQ")
_SHT_NOBITS: Final = 8


def _check_layout(data: bytes, name: str) -> None:
    """Refuse headers that point outside the file, before pyelftools follows them.

    Every section's bytes (``sh_offset`` + ``sh_size``) and the section header table must lie
    inside the file; a ``SHT_NOBITS`` section (``.bss``) has no bytes in the file, so its size
    is limited by :data:`MAX_GLOBAL_DATA_SIZE` instead (Linux refuses larger array values, and
    a size of 2**36 in a 1 KB file must not allocate 64 GiB).
    """
    if len(data) < _ELF_HEADER.size:
        raise InputError("malformed ELF file: truncated ELF header", file=name)
    fields = _ELF_HEADER.unpack_from(data, 0)
    shoff, shentsize, shnum = fields[6], fields[11], fields[12]
    if shnum == 0:
        return
    if shentsize != _SECTION_HEADER.size:
        raise InputError(f"malformed ELF file: section header size {shentsize}, expected "
                         f"{_SECTION_HEADER.size}", file=name)
    if shoff > len(data) or shnum * shentsize > len(data) - shoff:
        raise InputError(f"malformed ELF file: section header table at {shoff:#x} "
                         f"({shnum} entries) lies outside the file of {len(data)} bytes",
                         file=name)
    for index in range(shnum):
        entry = _SECTION_HEADER.unpack_from(data, shoff + index * shentsize)
        kind, offset, size = entry[1], entry[4], entry[5]
        if kind == _SHT_NOBITS:
            if size > MAX_GLOBAL_DATA_SIZE:
                raise InputError(f"malformed ELF file: section {index} (SHT_NOBITS) has size "
                                 f"{size}, more than {MAX_GLOBAL_DATA_SIZE} bytes", file=name)
        elif offset > len(data) or size > len(data) - offset:
            raise InputError(f"malformed ELF file: section {index} at offset {offset:#x} with "
                             f"size {size} runs past the end of the file ({len(data)} bytes)",
                             file=name)


def _guard(reader: _Reader, action: Callable[[], Any]) -> Any:
    """Run ``action``, turning pyelftools' errors on a truncated file into an InputError."""
    try:
        return action()
    except _ELF_ERRORS as exc:
        raise reader.error(f"malformed ELF file: {exc}") from None


def load_elf(path: str | Path) -> ElfObject:
    """Load and link every program in a BPF ELF object.

    Parameters
    ----------
    path:
        An object file from ``clang -target bpf -c``.

    Returns
    -------
    ElfObject
        The linked programs, the map names and definitions, and the license string.

    Raises
    ------
    InputError
        For any file that cannot be read, is not a BPF object, or cannot be linked.
    """
    reader = _read_elf(path)
    result: ElfObject = _guard(reader, lambda: _load(reader))
    return result


def load_program(path: str | Path, section: str | None = None) -> ElfProgram:
    """Load the object at ``path`` and return the program in ``section``.

    Parameters
    ----------
    path:
        The object file.
    section:
        A key of :attr:`ElfObject.programs`; ``None`` picks the object's only program.

    Raises
    ------
    InputError
        If the object is unusable, has no program under that name, or (``section`` omitted)
        does not hold exactly one program; the message lists the program sections.
    """
    obj = load_elf(path)
    available = ", ".join(sorted(obj.programs)) or "none"
    if section is None:
        if len(obj.programs) == 1:
            return next(iter(obj.programs.values()))
        raise InputError(f"object holds {len(obj.programs)} programs; choose a section "
                         f"(program sections: {available})", file=obj.path)
    if section in obj.programs:
        return obj.programs[section]
    raise InputError(f"no program section '{section}' (program sections: {available})",
                     file=obj.path)


def _load(reader: _Reader) -> ElfObject:
    maps, definitions = _collect_maps(reader)
    code = _code_sections(reader)
    lines = _line_info(reader)
    programs: dict[str, ElfProgram] = {}
    for section in code.values():
        if section.name == TEXT_SECTION:
            continue
        for function in section.functions:
            key = section.name if len(section.functions) == 1 else \
                f"{section.name}:{function.name}"
            programs[key] = _Linker(reader, code, maps, lines).link(function)
    return ElfObject(reader.path, programs, maps, definitions, _license(reader))


def _license(reader: _Reader) -> str | None:
    section = reader.section("license")
    if section is None:
        return None
    return bytes(section.data()).split(b"\0", 1)[0].decode("utf-8", "replace")


# --------------------------------------------------------------------------- code sections


def _decode_slots(reader: _Reader, name: str, data: bytes) -> list[Instruction | None]:
    if len(data) % _INSN_SIZE:
        raise reader.error(f"section {name}: size {len(data)} is not a multiple of 8")
    count = len(data) // _INSN_SIZE
    slots: list[Instruction | None] = []
    pc = 0
    while pc < count:
        raw = data[pc * 8:pc * 8 + 8]
        nxt = data[pc * 8 + 8:pc * 8 + 16] if pc + 1 < count else None
        try:
            insn = decode_one(pc, raw, nxt)
        except DecodeError as exc:
            raise reader.error(f"section {name}: {exc}") from None
        slots.append(insn)
        if isinstance(insn, LoadImm64):
            slots.append(None)
        pc += len(slots) - pc
    return slots


def _functions(reader: _Reader, name: str, count: int) -> list[_Function]:
    """Return the functions of a code section, by FUNC symbol, each up to the next one."""
    starts = sorted({(s.value, s.name) for s in reader.symbols
                     if s.section == name and s.kind == "STT_FUNC"})
    if not starts:
        return [_Function(name, name, 0, count)]
    result = []
    for i, (value, func) in enumerate(starts):
        if value % _INSN_SIZE or value // _INSN_SIZE >= count:
            raise reader.error(f"section {name}: function {func} starts at bad offset {value:#x}")
        end = starts[i + 1][0] // _INSN_SIZE if i + 1 < len(starts) else count
        result.append(_Function(name, func, value // _INSN_SIZE, end))
    if result[0].start != 0:
        raise reader.error(f"section {name}: code before the first function symbol")
    return result


def _code_sections(reader: _Reader) -> dict[str, _CodeSection]:
    result: dict[str, _CodeSection] = {}
    for index, section in enumerate(reader.sections):
        if not section["sh_flags"] & SHF_EXECINSTR or section["sh_size"] == 0:
            continue
        if section["sh_type"] != "SHT_PROGBITS":
            raise reader.error(f"section {section.name}: executable but not PROGBITS")
        slots = _decode_slots(reader, section.name, bytes(section.data()))
        result[section.name] = _CodeSection(
            section.name, slots, reader.relocations_for(index, section.name),
            _functions(reader, section.name, len(slots)))
    return result


#: A slot after linking: the instruction (``None`` for a lddw's second slot), the function
#: whose start its offset must reach (calls and code addresses), and the map it references.
_Resolved: TypeAlias = tuple[Instruction | None, "_Function | None", str | None]


class _Linker:
    """Lay out one program and the ``.text`` functions it reaches; patch calls and lddw."""

    def __init__(self, reader: _Reader, code: dict[str, _CodeSection],
                 maps: tuple[str, ...],
                 lines: dict[str, dict[int, tuple[str, int]]] | None = None) -> None:
        self.reader = reader
        self.code = code
        self.maps = maps
        self.lines = lines or {}
        self.order: list[_Function] = []

    def error(self, function: _Function, pc: int, reason: str) -> InputError:
        where = f"section {function.section}+{pc * _INSN_SIZE:#x} (function {function.name})"
        return self.reader.error(f"{where}: {reason}")

    def function_at(self, origin: _Function, pc: int, section: str, target: int) -> _Function:
        """Return the function starting at slot ``target`` of ``section``; add it to the layout."""
        code = self.code.get(section)
        found = [f for f in code.functions if f.start == target] if code else []
        if not found:
            raise self.error(origin, pc, f"call target {section}+{target * 8:#x} is not the "
                                         "start of a function")
        if section != TEXT_SECTION and found[0] != origin:
            raise self.error(origin, pc, f"calls {found[0].name} in program section {section};"
                                         " only .text functions can be called")
        if found[0] not in self.order:
            self.order.append(found[0])
        return found[0]

    def link(self, main: _Function) -> ElfProgram:
        self.order = [main]
        resolved: dict[tuple[_Function, int], _Resolved] = {}
        index = 0
        while index < len(self.order):
            function = self.order[index]
            for pc in range(function.start, function.end):
                resolved[function, pc] = self.resolve(function, pc)
            index += 1
        bases: dict[_Function, int] = {}
        total = 0
        for function in self.order:
            bases[function] = total
            total += function.end - function.start
        slots: list[Instruction | None] = []
        relocations: dict[int, str] = {}
        source_lines: dict[int, tuple[str, int]] = {}
        for function in self.order:
            known = self.lines.get(function.section, {})
            current: tuple[str, int] | None = None
            for pc in range(function.start, function.end):
                current = known.get(pc, current)
                if current is not None:
                    source_lines[bases[function] + pc - function.start] = current
                insn, callee, map_name = resolved[function, pc]
                new_pc = bases[function] + pc - function.start
                if callee is not None and insn is not None:
                    insn = _retarget(insn, bases[callee] - new_pc - 1)
                if map_name is not None:
                    relocations[new_pc] = map_name
                slots.append(insn)
        program = Program(tuple(slots))
        try:
            check_targets(program)
        except DecodeError as exc:
            raise self.reader.error(f"program {main.name}: {exc}") from None
        return ElfProgram(main.section, main.name, program, relocations, source_lines)

    def resolve(self, function: _Function,
                pc: int) -> _Resolved:
        section = self.code[function.section]
        insn = section.slots[pc]
        relocation = section.relocations.get(pc)
        if insn is None:
            if relocation is not None:
                raise self.error(function, pc, "relocation applies to the second slot of lddw")
            return None, None, None
        if isinstance(insn, CallLocal):
            return self.resolve_call(function, pc, insn, relocation)
        if relocation is not None and isinstance(insn, LoadImm64):
            return self.resolve_lddw(function, pc, insn, relocation)
        if relocation is not None:
            raise self.error(function, pc, f"relocation type {relocation[0]} against "
                                            f"{relocation[1].name or relocation[1].section} "
                                            "applies to an instruction that is not lddw or call")
        target = jump_target(pc, insn)
        if isinstance(insn, Jump | Ja) and target is not None and \
                not function.start <= target < function.end:
            raise self.error(function, pc, f"jump to {target} leaves the function")
        return insn, None, None

    def resolve_call(self, function: _Function, pc: int, insn: CallLocal,
                     relocation: tuple[int, _Symbol] | None,
                     ) -> _Resolved:
        if relocation is None:
            target = pc + 1 + insn.offset
            if function.start <= target < function.end and function.section != TEXT_SECTION:
                return insn, None, None
            return insn, self.function_at(function, pc, function.section, target), None
        kind, symbol = relocation
        if kind != R_BPF_64_32:
            raise self.error(function, pc, f"call has relocation type {kind}, expected "
                                           f"R_BPF_64_32 ({R_BPF_64_32})")
        if symbol.section != TEXT_SECTION:
            raise self.error(function, pc, f"call to {symbol.name or symbol.section!r}, which "
                                           "is not a function in .text")
        target = symbol.value // _INSN_SIZE + insn.offset + 1
        return insn, self.function_at(function, pc, TEXT_SECTION, target), None

    def resolve_lddw(self, function: _Function, pc: int, insn: LoadImm64,
                     relocation: tuple[int, _Symbol],
                     ) -> _Resolved:
        kind, symbol = relocation
        if kind != R_BPF_64_64:
            raise self.error(function, pc, f"lddw has relocation type {kind}, expected "
                                           f"R_BPF_64_64 ({R_BPF_64_64})")
        if insn.pseudo is not Pseudo.IMM64:
            raise self.error(function, pc, "relocated lddw is already a pseudo load")
        offset = symbol.value + insn.imm
        if symbol.section in (BTF_MAPS_SECTION, LEGACY_MAPS_SECTION):
            name = self.map_at(function, pc, symbol.section, offset)
            return (LoadImm64(insn.dst, Pseudo.MAP_IDX, self.maps.index(name), 0),
                    None, name)
        if symbol.section is not None and symbol.section in self.maps:
            return (LoadImm64(insn.dst, Pseudo.MAP_IDX_VALUE, self.maps.index(symbol.section),
                              offset), None, symbol.section)
        if symbol.section == TEXT_SECTION:
            if offset % _INSN_SIZE:
                raise self.error(function, pc, f"code address .text+{offset:#x} is misaligned")
            callee = self.function_at(function, pc, TEXT_SECTION, offset // _INSN_SIZE)
            return LoadImm64(insn.dst, Pseudo.CODE_ADDR, 0, 0), callee, None
        what = symbol.name or symbol.section or "an undefined symbol"
        where = f"section {symbol.section}" if symbol.section else "no section (extern)"
        raise self.error(function, pc, f"lddw references {what} in {where}; only maps, "
                                       "global data and .text functions are supported")

    def map_at(self, function: _Function, pc: int, section: str, offset: int) -> str:
        for symbol in self.reader.symbols:
            if symbol.section == section and symbol.value == offset and symbol.name and \
                    symbol.kind in ("STT_OBJECT", "STT_NOTYPE") and symbol.name in self.maps:
                return symbol.name
        raise self.error(function, pc, f"no map at {section}+{offset:#x}")


def _retarget(insn: Instruction, offset: int) -> Instruction:
    if isinstance(insn, CallLocal):
        return CallLocal(offset)
    if isinstance(insn, LoadImm64):
        return replace(insn, imm=offset)
    raise AssertionError(f"cannot retarget {insn!r}")


# --------------------------------------------------------------------------- maps


def _collect_maps(reader: _Reader) -> tuple[tuple[str, ...], tuple[MapDefinition, ...]]:
    definitions: list[MapDefinition] = []
    btf_maps = reader.section(BTF_MAPS_SECTION)
    if btf_maps is not None:
        btf = _btf_map_definitions(reader)
        for symbol in _section_objects(reader, BTF_MAPS_SECTION):
            if symbol.name not in btf:
                raise reader.error(f"map {symbol.name} in .maps has no BTF definition")
            definitions.append(btf[symbol.name])
    legacy = reader.section(LEGACY_MAPS_SECTION)
    if legacy is not None:
        data = bytes(legacy.data()) if legacy["sh_type"] != "SHT_NOBITS" else b""
        for symbol in _section_objects(reader, LEGACY_MAPS_SECTION):
            fields = data[symbol.value:symbol.value + 20]
            if len(fields) < 16:
                raise reader.error(f"legacy map {symbol.name}: struct bpf_map_def at offset "
                                   f"{symbol.value:#x} is truncated")
            fields = fields.ljust(20, b"\0")
            map_type, key, value, entries, flags = struct.unpack("<5I", fields)
            definitions.append(MapDefinition(symbol.name, map_type, key, value, entries, flags))
    for section in reader.sections:
        name = section.name
        if any(name == p or name.startswith(p + ".") for p in _GLOBAL_DATA_PREFIXES) and \
                section["sh_size"] > 0 and not section["sh_flags"] & SHF_EXECINSTR:
            size = section["sh_size"]
            initial = bytes(size) if section["sh_type"] == "SHT_NOBITS" else bytes(section.data())
            flags = BPF_F_RDONLY_PROG if name.startswith(".rodata") else 0
            definitions.append(MapDefinition(name, BPF_MAP_TYPE_ARRAY, 4, size, 1, flags,
                                             initial))
    names = tuple(d.name for d in definitions)
    if len(set(names)) != len(names):
        raise reader.error(f"duplicate map names: {', '.join(names)}")
    return names, tuple(definitions)


def _section_objects(reader: _Reader, section: str) -> list[_Symbol]:
    symbols = [s for s in reader.symbols if s.section == section and s.name
               and s.kind in ("STT_OBJECT", "STT_NOTYPE")]
    return sorted(symbols, key=lambda s: (s.value, s.name))


# --------------------------------------------------------------------------- BTF

_BTF_MAGIC: Final = 0xEB9F
_BTF_HEADER: Final = struct.Struct("<HBBIIIII")
# BTF kinds (``include/uapi/linux/btf.h``).
_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
_VOLATILE, _CONST, _RESTRICT, _FUNC, _FUNC_PROTO, _VAR, _DATASEC = 9, 10, 11, 12, 13, 14, 15
_FLOAT, _DECL_TAG, _TYPE_TAG, _ENUM64 = 16, 17, 18, 19
#: Bytes following ``struct btf_type``: fixed, or per ``vlen`` entry.
_EXTRA_FIXED: Final = {_INT: 4, _ARRAY: 12, _VAR: 4, _DECL_TAG: 4}
_EXTRA_PER_ENTRY: Final = {_STRUCT: 12, _UNION: 12, _ENUM: 8, _FUNC_PROTO: 8, _DATASEC: 12,
                           _ENUM64: 12}
_MODIFIERS: Final = (_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG)
_SIZED: Final = (_INT, _STRUCT, _UNION, _ENUM, _FLOAT, _DATASEC, _ENUM64)
#: Structs Linux places in map values, by BTF name, and what a bundle calls them.
_ASYNC_STRUCTS: Final = {"bpf_timer": "timer", "bpf_wq": "wq", "bpf_spin_lock": "spin_lock"}
#: ``__uint(field, N)`` members of a BTF-defined map and the MapDefinition field they set.
_UINT_FIELDS: Final = {"type": "type", "max_entries": "max_entries", "map_flags": "flags",
                       "key_size": "key_size", "value_size": "value_size"}


@dataclass(frozen=True, slots=True)
class _BtfType:
    kind: int
    name: str
    size_or_type: int
    entries: tuple[tuple[int, ...], ...]
    #: For struct and union members: the member names, parallel to ``entries``.
    member_names: tuple[str, ...] = ()


class _BtfError(Exception):
    pass


def _btf_map_definitions(reader: _Reader) -> dict[str, MapDefinition]:
    section = reader.section(".BTF")
    if section is None:
        raise reader.error("section .maps needs a .BTF section to describe its maps "
                           "(compile with -g)")
    try:
        types = _parse_btf(bytes(section.data()))
        return _maps_from_btf(types)
    except (_BtfError, struct.error, IndexError) as exc:
        raise reader.error(f"malformed .BTF section: {exc}") from None


_BTF_EXT_HEADER: Final = struct.Struct("<HBBIIIII")
_LINE_RECORD: Final = struct.Struct("<IIII")


def _line_info(reader: _Reader) -> dict[str, dict[int, tuple[str, int]]]:
    """Return ``section -> slot -> (file, line)`` from ``.BTF.ext`` (empty without -g).

    The layout is ``struct btf_ext_header`` then, at ``line_info_off``, a record size and per
    section ``sec_name_off``, ``num_info`` and records of ``insn_off`` (bytes),
    ``file_name_off``, ``line_off`` and ``line_col`` (line << 10 | column), names in the
    ``.BTF`` string table (``include/uapi/linux/btf.h``, ``tools/lib/bpf/libbpf_internal.h``).
    """
    ext, btf = reader.section(".BTF.ext"), reader.section(".BTF")
    if ext is None or btf is None:
        return {}
    try:
        return _parse_line_info(bytes(ext.data()), _btf_strings(bytes(btf.data())))
    except (_BtfError, struct.error) as exc:
        raise reader.error(f"malformed .BTF.ext section: {exc}") from None


def _btf_strings(data: bytes) -> bytes:
    magic, _version, _flags, hdr_len, _type_off, _type_len, str_off, str_len = \
        _BTF_HEADER.unpack_from(data, 0)
    if magic != _BTF_MAGIC:
        raise _BtfError(f"bad magic {magic:#x}")
    return data[hdr_len + str_off:hdr_len + str_off + str_len]


def _parse_line_info(data: bytes, strings: bytes) -> dict[str, dict[int, tuple[str, int]]]:
    magic, _version, _flags, hdr_len, _fo, _fl, line_off, line_len = \
        _BTF_EXT_HEADER.unpack_from(data, 0)
    if magic != _BTF_MAGIC:
        raise _BtfError(f"bad magic {magic:#x}")
    if hdr_len < _BTF_EXT_HEADER.size:
        return {}  # an old header without line info
    start = hdr_len + line_off
    info = data[start:start + line_len]
    if len(info) != line_len:
        raise _BtfError("line info runs past the end")
    if line_len == 0:
        return {}

    def text(offset: int) -> str:
        if offset >= len(strings):
            raise _BtfError(f"string offset {offset} out of range")
        return strings[offset:].split(b"\0", 1)[0].decode("utf-8", "replace")

    (record_size,) = struct.unpack_from("<I", info, 0)
    if record_size < _LINE_RECORD.size:
        raise _BtfError(f"line info record size {record_size}")
    result: dict[str, dict[int, tuple[str, int]]] = {}
    pos = 4
    while pos < len(info):
        name_off, count = struct.unpack_from("<II", info, pos)
        pos += 8
        if count * record_size > len(info) - pos:
            raise _BtfError("line info records run past the end")
        lines = result.setdefault(text(name_off), {})
        for _ in range(count):
            insn_off, file_off, _line_off, line_col = _LINE_RECORD.unpack_from(info, pos)
            pos += record_size
            if line_col >> 10:  # line 0: compiler-made code; it keeps the line before it
                lines[insn_off // _INSN_SIZE] = (text(file_off), line_col >> 10)
    return result


def _parse_btf(data: bytes) -> list[_BtfType]:
    """Return the BTF types, indexed by type id (id 0 is ``void``)."""
    magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
        _BTF_HEADER.unpack_from(data, 0)
    if magic != _BTF_MAGIC:
        raise _BtfError(f"bad magic {magic:#x}")
    types_data = data[hdr_len + type_off:hdr_len + type_off + type_len]
    strings = data[hdr_len + str_off:hdr_len + str_off + str_len]
    if len(types_data) != type_len or len(strings) != str_len:
        raise _BtfError("type or string section runs past the end")

    def name_at(offset: int) -> str:
        if offset >= max(len(strings), 1):
            raise _BtfError(f"string offset {offset} out of range")
        return strings[offset:].split(b"\0", 1)[0].decode("utf-8", "replace")

    result = [_BtfType(0, "void", 0, ())]
    pos = 0
    while pos < len(types_data):
        name_off, info, size_or_type = struct.unpack_from("<III", types_data, pos)
        pos += 12
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind in _EXTRA_FIXED:
            width = _EXTRA_FIXED[kind]
            entries = [struct.unpack_from(f"<{width // 4}I", types_data, pos)]
            pos += width
        elif kind in _EXTRA_PER_ENTRY:
            width = _EXTRA_PER_ENTRY[kind]
            entries = [struct.unpack_from(f"<{width // 4}I", types_data, pos + i * width)
                       for i in range(vlen)]
            pos += width * vlen
        elif kind in (_PTR, _FWD, _FUNC, _FLOAT, *_MODIFIERS):
            entries = []
        else:
            raise _BtfError(f"unknown kind {kind} for type {len(result)}")
        if pos > len(types_data):
            raise _BtfError(f"type {len(result)} runs past the end")
        names = tuple(name_at(e[0]) for e in entries) if kind in (_STRUCT, _UNION) else ()
        result.append(_BtfType(kind, name_at(name_off), size_or_type, tuple(entries), names))
    return result


class _BtfTypes:
    """A BTF type table and the questions the map reader asks of it."""

    def __init__(self, types: list[_BtfType]) -> None:
        self.types = types

    def get(self, type_id: int) -> _BtfType:
        """Return type ``type_id`` (an id out of range is malformed BTF)."""
        if not 0 < type_id < len(self.types):
            raise _BtfError(f"type id {type_id} out of range")
        return self.types[type_id]

    def strip(self, type_id: int) -> _BtfType:
        """Return type ``type_id`` without its modifiers (const, volatile, typedef, ...)."""
        t = self.get(type_id)
        for _ in range(len(self.types)):
            if t.kind not in _MODIFIERS:
                return t
            t = self.get(t.size_or_type)
        raise _BtfError("modifier cycle")

    def size_of(self, type_id: int, depth: int = 0) -> int:
        """Return the size in bytes of type ``type_id``."""
        if depth > 64:
            raise _BtfError("type nesting too deep")
        t = self.strip(type_id)
        if t.kind in _SIZED:
            return t.size_or_type
        if t.kind == _PTR:
            return 8
        if t.kind == _ARRAY:
            element, _index, count = t.entries[0]
            return count * self.size_of(element, depth + 1)
        raise _BtfError(f"type {t.name or type_id} (kind {t.kind}) has no size")

    def async_offsets(self, type_id: int) -> dict[str, int]:
        """Return where ``struct bpf_timer`` and ``struct bpf_wq`` lie in a value type, as
        Linux's ``btf_find_field`` finds them (also inside nested structs)."""
        found: dict[str, int] = {}
        pending = [(type_id, 0, 0)]
        while pending:
            current, base, depth = pending.pop()
            t = self.strip(current)
            if t.kind != _STRUCT or depth > 16:
                continue
            for (_name, member_type, bits), _member in zip(t.entries, t.member_names,
                                                           strict=True):
                inner = self.strip(member_type)
                offset = base + (bits & 0xFFFFFF) // 8
                if inner.kind == _STRUCT and inner.name == "bpf_spin_lock" \
                        and "spin_lock" in found:
                    # Linux btf_find_field: a value holds at most one lock (-E2BIG).
                    raise _BtfError("a map value holds more than one struct bpf_spin_lock")
                if inner.kind == _STRUCT and inner.name in _ASYNC_STRUCTS:
                    found.setdefault(_ASYNC_STRUCTS[inner.name], offset)
                elif inner.kind == _STRUCT:
                    pending.append((member_type, offset, depth + 1))
        return found

    def pointee(self, type_id: int, member: str) -> int:
        """Return the type a map member's pointer points to."""
        t = self.strip(type_id)
        if t.kind != _PTR:
            raise _BtfError(f"map member {member} is not a pointer")
        return t.size_or_type

    def get_map(self, var_id: int) -> MapDefinition:
        """Return the map the ``.maps`` variable ``var_id`` defines (its ``__uint`` and
        ``__type`` members)."""
        var = self.get(var_id)
        if var.kind != _VAR:
            raise _BtfError(f".maps entry {var_id} is not a variable")
        layout = self.strip(var.size_or_type)
        if layout.kind != _STRUCT:
            raise _BtfError(f"map {var.name} is not a struct")
        values = {"type": 0, "key_size": 0, "value_size": 0, "max_entries": 0, "flags": 0}
        layout_of_value: dict[str, int] = {}
        for member_name, (_name, member_type, _bits) in zip(layout.member_names,
                                                             layout.entries, strict=True):
            if member_name in _UINT_FIELDS:
                array = self.strip(self.pointee(member_type, member_name))
                if array.kind != _ARRAY:
                    raise _BtfError(f"map {var.name}: __uint({member_name}) is not an array")
                values[_UINT_FIELDS[member_name]] = array.entries[0][2]
            elif member_name in ("key", "value"):
                values[f"{member_name}_size"] = self.size_of(self.pointee(member_type,
                                                                          member_name))
                if member_name == "value":
                    layout_of_value = self.async_offsets(self.pointee(member_type, member_name))
        return MapDefinition(var.name, values["type"], values["key_size"],
                             values["value_size"], values["max_entries"], values["flags"],
                             timer_offset=layout_of_value.get("timer"),
                             wq_offset=layout_of_value.get("wq"),
                             spin_lock_offset=layout_of_value.get("spin_lock"))


def _maps_from_btf(types: list[_BtfType]) -> dict[str, MapDefinition]:
    table = _BtfTypes(types)
    result: dict[str, MapDefinition] = {}
    for datasec in (t for t in types if t.kind == _DATASEC and t.name == BTF_MAPS_SECTION):
        for var_id, _offset, _size in datasec.entries:
            definition = table.get_map(var_id)
            result[definition.name] = definition
    return result



# --------------------------------------------------------------------------- bundle maps


def read_bundle_maps(path: Path) -> dict[str, dict[str, Any]]:
    """Return the BTF-defined and legacy maps of an object as bundle map declarations
    (``type``, ``key_size``, ``value_size``, ``max_entries`` and ``timer``/``wq`` offsets).

    A global-data section (``.bss``, ``.data``, ``.rodata``) becomes a one-element array named
    by :func:`get_bundle_map_name` (``_data``) holding the section's initial bytes, as libbpf
    creates it; ``.rodata`` is not write-protected in arspec.

    Raises
    ------
    InputError
        For an unusable object, or a map type arspec does not model.
    """
    from arspec.spec import bundle as schema
    from arspec.spec.maps import MapType as LinuxMapType

    result: dict[str, dict[str, Any]] = {}
    for definition in load_elf(path).map_definitions:
        if definition.initial is not None:
            data: dict[str, Any] = {"type": "array", "key_size": 4,
                                    "value_size": definition.value_size, "max_entries": 1}
            if any(definition.initial):
                data["init"] = [{"key": 0, "value": definition.initial.hex()}]
            result[get_bundle_map_name(definition.name)] = data
            continue
        try:
            kind = schema.MapType(LinuxMapType(definition.type).name.lower())
        except ValueError:
            raise InputError(f"map '{definition.name}' has type {definition.type}, which "
                             "arspec does not model", file=str(path)) from None
        spec: dict[str, Any] = {"type": kind.value, "key_size": definition.key_size,
                                "value_size": definition.value_size,
                                "max_entries": definition.max_entries}
        if definition.timer_offset is not None:
            spec["timer"] = definition.timer_offset
        if definition.wq_offset is not None:
            spec["wq"] = definition.wq_offset
        if definition.spin_lock_offset is not None:
            spec["spin_lock"] = definition.spin_lock_offset
        result[definition.name] = spec
    return result


def get_bundle_map_name(elf_name: str) -> str:
    """Return the bundle name of an object's map: a global-data section's name with every
    character that cannot start or continue an identifier replaced by ``_`` (``.data`` ->
    ``_data``, ``.rodata.str1.1`` -> ``_rodata_str1_1``); other names are unchanged."""
    if not elf_name.startswith("."):
        return elf_name
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in elf_name)
