"""
Bundle loader
=============

Read a ``program.yaml`` into a :class:`~arspec.spec.bundle.Bundle`. Every problem, whether
malformed YAML, a schema error or a broken cross-reference, becomes one
:class:`BundleError` whose ``str()`` is the single line the CLI prints::

    program.yaml:12:7: error: programs.heartbeat.hook.slots: input should be greater than ...

The location is that of the offending node: the value for a wrong value, the key itself for
an unknown key, and the enclosing mapping for a missing key. When a bundle has several
problems, the error names the first one in the file and keeps all of them, in file order, in
:attr:`BundleError.diagnostics`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from arspec.spec import bundle as schema
from arspec.spec.bundle import Bundle, SourcePosition, bundle_json_schema
from arspec.spec.errors import InputError
from arspec.spec.files import read_limited
from arspec.spec.yaml_source import MAX_BYTES, Location, SourceMap, parse_yaml

__all__ = ["BundleError", "bundle_json_schema", "load_bundle", "load_bundle_text"]


class BundleError(InputError):
    """A bundle that cannot be loaded; ``diagnostics`` lists every problem in file order."""

    def __init__(self, diagnostics: list[InputError]) -> None:
        first = diagnostics[0]
        super().__init__(first.reason, file=first.file, line=first.line, column=first.column)
        self.diagnostics: tuple[InputError, ...] = tuple(diagnostics)


def load_bundle(path: str | Path) -> Bundle:
    """Load and check the bundle file at ``path``.

    ELF paths in the bundle are resolved relative to the file's folder and must exist.

    Raises
    ------
    BundleError
        For an unreadable file or any problem in it, located to line and column.
    """
    name = str(path)
    try:
        raw = read_limited(path, MAX_BYTES, what="bundle file")
    except InputError as err:
        raise BundleError([err]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BundleError([InputError(f"not UTF-8 text (bad byte at offset {err.start})",
                                      file=name)]) from None
    return load_bundle_text(text, filename=name, base_dir=Path(path).parent)


def load_bundle_text(text: str, *, filename: str, base_dir: Path | None = None) -> Bundle:
    """Load and check a bundle from its text.

    Parameters
    ----------
    text:
        The YAML text.
    filename:
        The name used in error messages.
    base_dir:
        Folder that relative ELF paths are resolved against; ``None`` skips the existence
        check of ELF files.

    Raises
    ------
    BundleError
        For any problem, located to line and column.
    """
    try:
        doc = parse_yaml(text, filename=filename)
    except InputError as err:
        raise BundleError([err]) from None
    if doc.data is None:
        raise BundleError([InputError("empty bundle; expected a mapping that starts with "
                                      "'arspec: 1'", file=filename, line=1, column=1)])
    if not isinstance(doc.data, dict):
        where = doc.source_map.value(())
        raise BundleError([InputError("a bundle must be a mapping of keys (arspec, programs, "
                                      "...)", file=filename, line=where.line,
                                      column=where.column)])
    # The objects' maps are read first: a hook may name a map only an object defines.
    objects, unreadable = ({}, []) if base_dir is None else \
        _read_object_maps(doc.data, doc.source_map, filename, base_dir)
    try:
        bundle = Bundle.model_validate(_with_object_maps(doc.data, objects))
    except ValidationError as err:
        found = [_diagnostic(e, doc.data, doc.source_map, filename) for e in err.errors()]
        raise BundleError(_in_file_order(found + unreadable)) from None
    if unreadable:
        raise BundleError(_in_file_order(unreadable))
    problems = [problem for name, (elf, spec) in objects.items() if name in _declared(doc.data)
                for problem in _compare_map(bundle, name, elf, spec, doc.source_map, filename)]
    if problems:
        raise BundleError(problems)
    _record_code_positions(bundle, text, doc.source_map, filename)
    return bundle


def _record_code_positions(bundle: Bundle, text: str, smap: SourceMap, filename: str) -> None:
    """Remember where each program's ``code`` text starts in the file.

    A block scalar (``code: |``) starts on the line after its indicator, at the indentation
    of its first non-blank line; a quoted one a column after the quote; a plain one at its
    first character.
    """
    lines = text.splitlines()
    for name, program in bundle.programs.items():
        path = ("programs", name, "code")
        if program.code is None or path not in smap.values:
            continue
        where = smap.values[path]
        head = lines[where.line - 1][where.column - 1:] if where.line <= len(lines) else ""
        if head[:1] in ("|", ">"):
            following = [(i, line) for i, line in enumerate(lines[where.line:], where.line + 1)
                         if line.strip()]
            if not following:
                continue
            number, first = following[0]
            position = SourcePosition(filename, number, len(first) - len(first.lstrip(" ")) + 1)
        else:
            position = SourcePosition(filename, where.line, where.column, block=False)
        bundle._code_positions[name] = position


def locate_code_error(bundle: Bundle, program: str, err: InputError) -> InputError:
    """Return an assembly error in ``programs.<program>.code`` located in the bundle file."""
    found = bundle.locate_code(program, err.line, err.column)
    if found is None:
        return err
    file, line, column = found
    return InputError(f"programs.{program}.code: {err.reason}", file=file, line=line,
                      column=column)


# --------------------------------------------------------------------------- locating errors


def _diagnostic(error: ErrorDetails, data: Any, smap: SourceMap, filename: str) -> InputError:
    ctx = error.get("ctx") or {}
    at = tuple(ctx.get("at", ())) if error["type"] == "bundle_rule" else ()
    loc = (*error["loc"], *at)
    if error["type"] == "union_tag_invalid":
        loc = (*loc, "on")
    missing_allowed = error["type"] == "missing" or bool(at)
    path, where = _locate(loc, data, smap, error["type"], missing_allowed=missing_allowed)
    shown = ".".join(str(p) for p in path) or "(bundle)"
    return InputError(f"{shown}: {_message(error, path)}", file=filename, line=where.line,
                      column=where.column)


def _locate(loc: tuple[Any, ...], data: Any, smap: SourceMap, kind: str, *,
            missing_allowed: bool) -> tuple[tuple[str | int, ...], Location]:
    """Follow a pydantic error location through the data; return the path and position.

    Elements of ``loc`` that are not keys of the data (union tags such as ``watch`` or
    ``function-after[...]``) are skipped. When ``missing_allowed``, a last element that is
    not in the data names a missing (or omitted) key and is located at its mapping.
    """
    node = data
    path: list[str | int] = []
    on_key = False
    for index, element in enumerate(loc):
        if element == "[key]":
            on_key = True
            continue
        if _has_child(node, element):
            node = node[element]
            path.append(element)
        elif missing_allowed and index == len(loc) - 1 and isinstance(element, str | int):
            # A missing key (or a rule about an omitted key): point at the enclosing mapping.
            return (*path, element), smap.value(tuple(path))
    found = tuple(path)
    if on_key or kind == "extra_forbidden":
        return found, smap.key(found)
    return found, smap.value(found)


def _has_child(node: Any, element: Any) -> bool:
    if isinstance(element, bool):
        return False
    if isinstance(node, dict):
        return element in node
    return isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)


def _message(error: ErrorDetails, path: tuple[str | int, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        expected = ", ".join(str(ctx.get("expected_tags", "")).replace("'", "").split(", "))
        return f"unknown hook kind '{ctx.get('tag')}' (expected one of: {expected})"
    if kind == "union_tag_not_found":
        return "required key 'on' is missing (the hook kind)"
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        close = difflib.get_close_matches(key, _FIELD_NAMES, n=1, cutoff=0.75)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key{hint}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == schema.NAME_PATTERN:
        return ("a name must be an identifier: letters, digits and '_', not starting with a "
                "digit")
    if kind == "string_pattern_mismatch":
        return "expected `account.field`"
    message = error["msg"]
    if kind in ("too_short", "too_long") and error.get("input") in ([], {}):
        return "must not be empty"
    if kind.endswith("_type") or kind in ("enum", "literal_error"):
        message = f"{message}, got {_describe(error.get('input'))}"
    return message[:1].lower() + message[1:] if kind in _PYDANTIC_WORDING else message


_PYDANTIC_WORDING = frozenset({
    "int_type", "string_type", "bool_type", "dict_type", "list_type", "model_type",
    "model_attributes_type", "enum", "literal_error", "greater_than_equal", "less_than_equal",
    "greater_than", "less_than", "too_short", "too_long", "string_too_short", "string_too_long",
    "bytes_type", "int_from_float"})


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"the string {shown!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _in_file_order(found: list[InputError]) -> list[InputError]:
    """Sort by position, but unknown keys first: a misspelt key explains a missing one."""
    unique: dict[tuple[int, int, int, str], InputError] = {}
    for err in found:
        rank = 0 if err.reason.split(": ", 1)[-1].startswith("unknown key") else 1
        unique.setdefault((rank, err.line or 0, err.column or 0, err.reason), err)
    return [unique[k] for k in sorted(unique)]


def _all_field_names() -> list[str]:
    names: set[str] = set()
    pending: list[type[BaseModel]] = [Bundle]
    seen: set[type[BaseModel]] = set()
    for model in (getattr(schema, n) for n in dir(schema)):
        if isinstance(model, type) and issubclass(model, BaseModel):
            pending.append(model)
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        names.update(model.model_fields)
    return sorted(names)


_FIELD_NAMES = _all_field_names()


# --------------------------------------------------------------------------- files


# --------------------------------------------------------------------------- maps of ELF objects

#: Map attributes a bundle may declare that an object's BTF also states.
_ELF_MAP_ATTRIBUTES = ("type", "key_size", "value_size", "max_entries", "timer", "wq", "spin_lock")


def _read_object_maps(data: dict[str | int, Any], smap: SourceMap, filename: str,
                      base_dir: Path) -> tuple[dict[str, tuple[str, dict[str, Any]]],
                                               list[InputError]]:
    """Return the maps the bundle's ELF objects define (libbpf's ``.maps`` and BTF).

    Read from the raw document, before the schema is checked, so that a hook may name a map
    only an object defines. Each map comes with the object that defines it. A missing or
    unreadable object, or two objects defining one map differently, is a problem at
    ``programs.NAME.elf``, reported with the schema's errors.
    """
    from_objects: dict[str, tuple[str, dict[str, Any]]] = {}
    problems: list[InputError] = []
    programs = data.get("programs")
    for name, program in (programs.items() if isinstance(programs, dict) else ()):
        elf = program.get("elf") if isinstance(program, dict) else None
        if not isinstance(elf, str):
            continue
        where = smap.value(("programs", name, "elf"))
        if not (base_dir / elf).is_file():  # said with the schema's errors (a hook's map)
            problems.append(InputError(
                f"programs.{name}.elf: no such file {elf!r} (relative to the bundle)",
                file=filename, line=where.line, column=where.column))
            continue
        try:
            found = _object_maps(base_dir / elf)
        except InputError as err:
            problems.append(InputError(f"programs.{name}.elf: {err.reason}", file=filename,
                                       line=where.line, column=where.column))
            continue
        for map_name, spec in found.items():
            seen = from_objects.get(map_name)
            if seen is not None and seen[1] != spec:
                problems.append(InputError(
                    f"programs.{name}.elf: map '{map_name}' in {elf} differs from the "
                    f"one in {seen[0]}", file=filename, line=where.line, column=where.column))
            from_objects.setdefault(map_name, (elf, spec))
    return from_objects, problems


def _declared(data: dict[str | int, Any]) -> dict[str | int, Any]:
    maps = data.get("maps")
    return maps if isinstance(maps, dict) else {}


def _with_object_maps(data: dict[str | int, Any],
                      objects: dict[str, tuple[str, dict[str, Any]]]) -> dict[str | int, Any]:
    """Return the document with the object maps it does not declare added to ``maps``.

    A map the bundle declares stays as declared (it is compared with the object's after the
    schema check); a malformed ``maps`` is left for the schema to report.
    """
    maps = data.get("maps")
    if not objects or (maps is not None and not isinstance(maps, dict)):
        return data
    declared = dict(maps or {})
    added = {name: spec for name, (_, spec) in objects.items() if name not in declared}
    return {**data, "maps": {**declared, **added}} if added else data


#: Reads the maps of an object file as bundle map declarations (``name -> attributes``);
#: raises :class:`InputError` for an unusable object.
ObjectMapReader = Callable[[Path], dict[str, dict[str, Any]]]
_object_map_reader: ObjectMapReader | None = None


def set_object_map_reader(reader: ObjectMapReader) -> None:
    """Install the reader of ELF map definitions.

    ``spec/`` does not import the ELF reader of ``reference/``;
    :mod:`arspec.reference.runtime.runtime`
    installs it when imported, and the ``spec-check`` commands import that module before they
    load a bundle. Without a reader, ELF programs keep only the maps the bundle declares.
    """
    global _object_map_reader
    _object_map_reader = reader


def _object_maps(path: Path) -> dict[str, dict[str, Any]]:
    """Return the maps an object defines, through the installed reader (none without one)."""
    return {} if _object_map_reader is None else _object_map_reader(path)


def _compare_map(bundle: Bundle, name: str, elf: str, spec: dict[str, Any], smap: SourceMap,
                 filename: str) -> list[InputError]:
    declared = bundle.maps[name]
    problems = []
    for attribute in _ELF_MAP_ATTRIBUTES:
        ours = getattr(declared, attribute)
        ours = ours.value if isinstance(ours, schema.MapType) else ours
        theirs = spec.get(attribute)
        if ours == theirs:
            continue
        path = ("maps", name, attribute)
        where = smap.value(path) if path in smap.values else smap.key(("maps", name))
        shown = "none" if ours is None else ours
        problems.append(InputError(
            f"maps.{name}.{attribute}: {shown} in the bundle, but {elf} defines "
            f"{'none' if theirs is None else theirs} (its map definition)", file=filename,
            line=where.line, column=where.column))
    return problems
