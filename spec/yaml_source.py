"""
YAML source with locations
==========================

Parse the text of a ``program.yaml`` into plain Python data (``dict``, ``list``, ``str``,
``int``, ``float``, ``bool``, ``None``) together with a :class:`SourceMap` that remembers the
1-based line and column of every node and of every mapping key, so that a later error about
``programs.heartbeat.hook.slots`` can point at the exact character.

The reader is deliberately stricter than a general YAML loader, because a bundle is
consensus input and every surprise is a bug waiting to happen:

* Scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 one: only ``true`` and
  ``false`` are booleans (so ``on: startup`` keeps the key ``"on"``), only ``null``, ``~`` and
  the empty value are null, integers are decimal (``1_400_000`` allowed), ``0x``, ``0o`` or
  ``0b`` prefixed. ``010`` and dates stay strings, so a strict integer field rejects them.
* Anchors, aliases and merge keys are refused (no "billion laughs", no hidden sharing).
* Explicit tags (``!foo``, ``!!binary``) are refused.
* A duplicate key in one mapping is an error at the second occurrence.
* Mapping keys must be strings or integers (integers are the keys of ``prog_array``
  entries); ``null``, booleans, floats and collections as keys are errors.
* A tab in indentation is an error at the tab, and nesting deeper than
  :data:`MAX_DEPTH` or text larger than :data:`MAX_BYTES` is refused.

Every problem raises :class:`~arspec.spec.errors.InputError` with ``file``, ``line`` and
``column`` set; no YAML exception ever escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from arspec.spec.errors import InputError

#: Largest bundle text accepted, in bytes (UTF-8).
MAX_BYTES = 4 * 1024 * 1024
#: Deepest nesting of mappings and sequences accepted.
MAX_DEPTH = 32
#: Longest plain number accepted, in characters (every bundle number fits in 64 bits; this
#: also keeps Python's 4,300-digit limit on ``int(str)`` out of reach).
MAX_NUMBER_CHARS = 100

#: A path from the document root: mapping keys (``str`` or ``int``) and sequence indices.
Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True,
         "false": False, "False": False, "FALSE": False}
_DEC = re.compile(r"^[-+]?(?:0|[1-9](?:_?[0-9])*)$")
_HEX = re.compile(r"^[-+]?0x[0-9a-fA-F](?:_?[0-9a-fA-F])*$")
_OCT = re.compile(r"^[-+]?0o[0-7](?:_?[0-7])*$")
_BIN = re.compile(r"^[-+]?0b[01](?:_?[01])*$")
_FLOAT = re.compile(
    r"^[-+]?(?:(?:[0-9][0-9_]*)?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)$")
_INF_NAN = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"),
            ".nan": float("nan"), ".Inf": float("inf"), "-.Inf": float("-inf"),
            ".NaN": float("nan")}


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column in the source text."""

    line: int
    column: int


@dataclass
class SourceMap:
    """Where every node of a parsed document starts.

    ``values[path]`` is the start of the node at ``path``; ``keys[path]`` is the start of the
    mapping key whose value is the node at ``path`` (absent for sequence items and the root).
    """

    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)

    def value(self, path: Path) -> Location:
        """Return the location of the node at ``path``, or of its nearest recorded ancestor."""
        for cut in range(len(path), -1, -1):
            loc = self.values.get(path[:cut])
            if loc is not None:
                return loc
        return Location(1, 1)

    def key(self, path: Path) -> Location:
        """Return the location of the key naming ``path``, falling back to the value's."""
        loc = self.keys.get(path)
        return loc if loc is not None else self.value(path)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document: the plain data and the locations of its nodes."""

    data: Any
    source_map: SourceMap


def _loc(node: Node) -> Location:
    return Location(node.start_mark.line + 1, node.start_mark.column + 1)


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors and aliases and tags every plain scalar ``str``.

    With no implicit resolvers the composer gives every untagged scalar the ``str`` tag, so
    any other tag on a node was written by the author; :func:`_plain_scalar` then applies the
    YAML 1.2 core rules.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class attribute

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            mark = event.start_mark
            raise _Refused("anchors and aliases are not allowed in a bundle",
                           Location(mark.line + 1, mark.column + 1))
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, reason: str, where: Location) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


def _check_text(text: str, filename: str) -> None:
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise InputError(f"file is larger than {MAX_BYTES} bytes", file=filename, line=1,
                         column=1)
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        tab = line.find("\t", 0, indent)
        if tab >= 0:
            raise InputError("tab character in indentation; indent with spaces",
                             file=filename, line=number, column=tab + 1)


def _scalar(node: ScalarNode) -> Any:
    if node.tag != _STR:
        raise _Refused(f"YAML tag {node.tag!r} is not allowed in a bundle", _loc(node))
    text: str = node.value
    # Quoted, literal and folded scalars are strings; plain ones are resolved here.
    if node.style is not None:
        return text
    if len(text) > MAX_NUMBER_CHARS and (_DEC.match(text) or _HEX.match(text)
                                         or _OCT.match(text) or _BIN.match(text)
                                         or _FLOAT.match(text)):
        raise _Refused(f"a number of {len(text)} characters is too long (at most "
                       f"{MAX_NUMBER_CHARS})", _loc(node))
    return _plain_scalar(text)


def _plain_scalar(text: str) -> Any:
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _DEC.match(text):
        return int(text.replace("_", ""))
    for pattern, base in ((_HEX, 16), (_OCT, 8), (_BIN, 2)):
        if pattern.match(text):
            sign = -1 if text.startswith("-") else 1
            digits = text.lstrip("+-")[2:].replace("_", "")
            return sign * int(digits, base)
    if _FLOAT.match(text):
        return float(text.replace("_", ""))
    if text in _INF_NAN:
        return _INF_NAN[text]
    return text


def _convert(node: Node, path: Path, smap: SourceMap, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", _loc(node))
    smap.values[path] = _loc(node)
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise _Refused(f"YAML tag {node.tag!r} is not allowed in a bundle", _loc(node))
        return [_convert(item, (*path, i), smap, depth + 1) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise _Refused(f"YAML tag {node.tag!r} is not allowed in a bundle", _loc(node))
        result: dict[str | int, Any] = {}
        for key_node, value_node in node.value:
            key = _mapping_key(key_node)
            if key in result:
                first = smap.keys[(*path, key)]
                raise _Refused(f"duplicate key {key!r} (first defined at line {first.line})",
                               _loc(key_node))
            smap.keys[(*path, key)] = _loc(key_node)
            result[key] = _convert(value_node, (*path, key), smap, depth + 1)
        return result
    raise _Refused("unsupported YAML node", _loc(node))  # pragma: no cover - PyYAML has 3 kinds


def _mapping_key(node: Node) -> str | int:
    if not isinstance(node, ScalarNode):
        raise _Refused("mapping keys must be plain strings or integers, not collections",
                       _loc(node))
    if node.style is None and node.value == "<<":
        raise _Refused("merge keys ('<<') are not allowed in a bundle", _loc(node))
    key = _scalar(node)
    if isinstance(key, bool) or not isinstance(key, str | int):
        shown = "null" if key is None else repr(node.value)
        raise _Refused(f"mapping key {shown} must be a string or an integer", _loc(node))
    return key


def _position(text: str, offset: int) -> tuple[int, int]:
    """Return the 1-based line and column of character ``offset`` of ``text``."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def parse_yaml(text: str, *, filename: str) -> YamlDocument:
    """Parse one YAML document, keeping the location of every node.

    Parameters
    ----------
    text:
        The document text.
    filename:
        The name used in error messages.

    Returns
    -------
    YamlDocument
        The plain data (``None`` for an empty document) and its :class:`SourceMap`.

    Raises
    ------
    InputError
        With a location, for malformed YAML or any construct this reader refuses.
    """
    _check_text(text, filename)
    loader: _StrictLoader | None = None
    try:
        # The constructor already reads the first characters, so it raises YAML errors too.
        loader = _StrictLoader(text)
        root = loader.get_single_node()
        smap = SourceMap()
        data = None if root is None else _convert(root, (), smap, 0)
    except _Refused as refused:
        raise InputError(refused.reason, file=filename, line=refused.where.line,
                         column=refused.where.column) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        reason = " ".join(" ".join(part for part in (err.context, err.problem) if part).split())
        reason = reason or "invalid YAML"
        if mark is None:
            raise InputError(f"invalid YAML: {reason}", file=filename) from None
        raise InputError(f"invalid YAML: {reason}", file=filename, line=mark.line + 1,
                         column=mark.column + 1) from None
    except ReaderError as err:
        line, column = _position(text, err.position)
        raise InputError(f"invalid YAML: character #x{err.character:04x} is not allowed in "
                         "YAML text", file=filename, line=line, column=column) from None
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML: {' '.join(str(err).split())}", file=filename, line=1,
                         column=1) from None
    except RecursionError:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", file=filename, line=1,
                         column=1) from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(data, smap if root is not None else SourceMap())
