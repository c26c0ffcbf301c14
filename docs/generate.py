"""Generate the reference pages of the docs from the code, at every build.

``write_api_pages`` writes one autodoc page per package (``docs/api/``).
``write_generated_pages`` writes the ``.inc`` fragments (``docs/generated/``) that the
hand-written pages include: helper table, maps, presets, program.yaml schema, CLI, conformance
data, runtime semantics, departures from Linux and profiles. Each fragment comes from one small
``render_*`` function that returns RST text; nothing here holds a fact of its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

PACKAGES = ("spec", "reference", "checker", "model", "proofs", "cli")
_DOCS = str(Path(__file__).resolve().parent)
if _DOCS not in sys.path:
    sys.path.insert(0, _DOCS)  # docs/design.py and docs/layers.py are imported by file name

#: Spec modules of the "Runtime semantics" page, in reading order; missing ones are skipped.
SEMANTICS_MODULES = (
    "types", "presets", "maps", "timers", "workqueue", "ringbuf", "tailcall", "loops",
    "spinlock", "dynptr", "accounts", "helpers", "state", "hooks", "scheduler",
    "runtime_watchers", "syscalls", "conventions", "environment",
)
#: Paragraph openers the spec authors use for deliberate differences and choices.
DEPARTURE_MARKER = "Departures from"
CHOICE_MARKER = "Choices where"
#: The valid bundle shown literally on the program.yaml page (it uses every top-level key).
EXAMPLE_BUNDLE = "tests/bundles/valid/pairs_trading.yaml"
CONFORMANCE_DIR = "tests/conformance"


# --------------------------------------------------------------------------- RST helpers


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def rst_text(text: str) -> str:
    """Return plain text safe inside RST: ``*``/``|`` escaped, `x` turned into ``x``."""
    text = " ".join(text.split())
    text = text.replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|")
    return re.sub(r"(?<![`\\])`([^`]+)`(?!`)", r"``\1``", text)


def literal(value: object) -> str:
    """Return ``value`` as an inline literal."""
    text = str(value)
    return f"``{text}``" if text.strip() else "(empty)"


def list_table(header: Sequence[str], rows: Iterable[Sequence[str]],
               widths: Sequence[int] | None = None) -> list[str]:
    """Return a ``list-table`` directive with a header row."""
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths is not None:
        lines.append("   :widths: " + " ".join(str(w) for w in widths))
    lines.append("")
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            lines.append(("   * - " if i == 0 else "     - ") + (cell or "\\-"))
    return [*lines, ""]


def heading(title: str, char: str) -> list[str]:
    """Return a section title underlined with ``char``."""
    return [title, char * len(title), ""]


def module_doc(name: str) -> str:
    """Return the docstring of module ``name``, dedented (raise if it has none)."""
    doc = importlib.import_module(name).__doc__
    if not doc:
        raise ValueError(f"module {name} has no docstring")
    return inspect.cleandoc(doc)


def paragraphs(text: str) -> list[str]:
    """Return the blank-line separated blocks of ``text``."""
    return [block for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


# --------------------------------------------------------------------------- 1. helpers


def render_helpers() -> str:
    """Return the helper table, the argument/return kinds and the refusal rule."""
    from arspec.reference.isa.murmur3 import murmur3_32
    from arspec.spec import helpers as h
    from arspec.spec.errors import HelperNotAllowed

    rows = []
    for row in h.HELPER_TABLE:
        cost = str(row.cost)
        if row.size_arg is not None:
            cost += f" + r{row.size_arg} / {h.BYTES_PER_CU}"
        rows.append([
            str(row.id), literal(f"{row.id:#x}"), literal(row.name),
            literal(f"{murmur3_32(row.name.encode()):#010x}"),
            ", ".join(a.name for a in row.args) or "(none)",
            ", ".join(row.map_types) or "(any)" if h.ArgKind.CONST_MAP_PTR in row.args
            else "(no map)",
            row.ret.name, cost,
            "yes" if row.deterministic else "**no**", ", ".join(row.profiles),
            rst_text(row.summary),
        ])
    lines = heading("Helper table", "-")
    lines += [
        f"{len(h.HELPER_TABLE)} helpers, from ``arspec.spec.helpers.HELPER_TABLE``. The solana",
        "syscall name is the helper's name; a solana program calls it with the immediate",
        "``murmur3_32(name)`` (computed here with ``arspec.reference.isa.murmur3.murmur3_32``).",
        f"Costs are CU; ``+ rN / {h.BYTES_PER_CU}`` adds one CU per {h.BYTES_PER_CU} bytes of "
        "the size in argument register N. ``map types`` are the types the map argument may",
        "name (``HelperDef.map_types``, Linux ``check_map_func_compatibility``): another type",
        "is a verifier finding.",
        "",
    ]
    lines += list_table(
        ["id", "hex", "name (solana syscall)", "murmur3_32", "arguments", "map types", "returns",
         "CU",
         "deterministic", "profiles", "summary"], rows)
    lines += heading("Argument and return kinds", "-")
    lines += list_table(["kind", "meaning"],
                        [[literal(k.name), rst_text(k.value)] for k in h.ArgKind])
    lines += list_table(["return kind", "meaning"],
                        [[literal(k.name), rst_text(k.value)] for k in h.RetKind])
    lines += heading("Refused helpers", "-")
    lines += [
        "A profile allows a helper exactly when the profile is in the row's ``profiles``;",
        "``check_helper_allowed`` raises ``HelperNotAllowed`` otherwise. The refusals, with",
        "the message each one produces:",
        "",
    ]
    refused = []
    for profile in h.PROFILES:
        for row in h.HELPER_TABLE:
            try:
                h.check_helper_allowed(row.id, profile)
            except HelperNotAllowed as err:
                refused.append([profile, literal(row.name), rst_text(str(err))])
    lines += list_table(["profile", "helper", "message"], refused) if refused else ["(none)", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- 2. maps


MAP_GROUPS = ("HASH_TYPES", "ARRAY_TYPES", "PERCPU_TYPES", "LRU_TYPES", "QUEUE_STACK_TYPES",
              "ASYNC_FIELD_TYPES")


def _map_example_state(map_type: Any) -> Any:
    """Return a fresh one-entry map of ``map_type`` under the minimal preset."""
    from arspec.spec import maps
    from arspec.spec.presets import MINIMAL
    from arspec.spec.types import MapId

    if map_type == maps.MapType.RINGBUF:
        defn = maps.MapDef(MapId("m"), map_type, 0, 0, MINIMAL.ringbuf_min_size)
    elif map_type in maps.QUEUE_STACK_TYPES:
        defn = maps.MapDef(MapId("m"), map_type, 0, 8, 1)
    elif map_type == maps.MapType.PROG_ARRAY:
        defn = maps.MapDef(MapId("m"), map_type, 4, 4, 1)
    else:
        defn = maps.MapDef(MapId("m"), map_type, 4, 8, 1)
    return maps.create_map_state(defn, MINIMAL)


def map_operation_steps() -> list[tuple[str, Callable[[Any], object]]]:
    """Return the operations run in order on every map type for the results table."""
    from arspec.spec import maps

    def key(state: Any, n: int) -> bytes:
        size: int = state.definition.key_size
        return n.to_bytes(4, "little")[:size]

    def value(state: Any) -> bytes:
        size: int = state.definition.value_size
        return bytes([7]) * size

    def out(state: Any) -> bytearray:
        return bytearray(state.definition.value_size)

    return [
        ("lookup(k0)", lambda s: maps.process_map_lookup(s, key(s, 0))),
        ("update(k0, NOEXIST)", lambda s: maps.process_map_update(s, key(s, 0), value(s), 1)),
        ("update(k0, NOEXIST) again",
         lambda s: maps.process_map_update(s, key(s, 0), value(s), 1)),
        ("update(k0, EXIST)", lambda s: maps.process_map_update(s, key(s, 0), value(s), 2)),
        ("update(k1, ANY), map holds 1 of 1",
         lambda s: maps.process_map_update(s, key(s, 1), value(s), 0)),
        ("update(k0, F_LOCK)", lambda s: maps.process_map_update(s, key(s, 0), value(s), 4)),
        ("lookup(k0)", lambda s: maps.process_map_lookup(s, key(s, 0))),
        ("delete(k0)", lambda s: maps.process_map_delete(s, key(s, 0))),
        ("delete(k0) again", lambda s: maps.process_map_delete(s, key(s, 0))),
        ("push(v, ANY)", lambda s: maps.process_map_push(s, value(s), 0)),
        ("push(v, ANY), full", lambda s: maps.process_map_push(s, value(s), 0)),
        ("push(v, EXIST), full", lambda s: maps.process_map_push(s, value(s), 2)),
        ("push(v, NOEXIST)", lambda s: maps.process_map_push(s, value(s), 1)),
        ("peek", lambda s: maps.process_map_peek(s, out(s))),
        ("pop", lambda s: maps.process_map_pop(s, out(s))),
        ("pop, empty", lambda s: maps.process_map_pop(s, out(s))),
    ]


def _describe_result(result: object) -> str:
    from arspec.spec.errno import ERRNO_NAMES

    if result is None:
        return "NULL"
    if isinstance(result, int):
        return f"-{ERRNO_NAMES[-result]}" if result < 0 else str(result)
    return "element"


def compute_map_results() -> dict[str, list[str]]:
    """Return, per map type name, the result of each step of :func:`map_operation_steps`."""
    from arspec.spec.maps import MapType

    results: dict[str, list[str]] = {}
    for map_type in MapType:
        state = _map_example_state(map_type)
        column = []
        for _, step in map_operation_steps():
            try:
                column.append(_describe_result(step(state)))
            except AssertionError:
                column.append("invalid call")
        results[map_type.name] = column
    return results


def render_maps() -> str:
    """Return the map-type table, the computed operation results and the transitions."""
    from arspec.spec import maps

    groups = {name: getattr(maps, name) for name in MAP_GROUPS}
    rows = []
    for t in maps.MapType:
        member = [g.removesuffix("_TYPES").lower() for g, ts in groups.items() if t in ts]
        flags = maps.ALLOWED_CREATE_FLAGS.get(t, 0)
        rows.append([literal(t.name), str(int(t)), ", ".join(member) or "\\-",
                     literal(f"{flags:#x}")])
    lines = heading("Map types", "-")
    lines += ["From ``arspec.spec.maps.MapType`` (values are Linux's ``enum bpf_map_type``) and",
              "the type groups of the module (" + ", ".join(f"``{g}``" for g in MAP_GROUPS)
              + ").", ""]
    lines += list_table(["type", "Linux value", "groups", "creation flags allowed"], rows)
    lines += heading("Operation results by type", "-")
    lines += [
        "Computed at build time by running the spec's transitions, in this order, on a fresh",
        "map of each type with ``max_entries = 1`` (ring buffer: the minimal preset's smallest",
        "size), 4-byte keys (none for queue, stack and ring buffer) and the minimal preset.",
        "``element``/``NULL`` are lookup results; ``invalid call`` means a contract the",
        "verifier guarantees (the call raised ``AssertionError``).",
        "",
    ]
    results = compute_map_results()
    names = list(results)
    table_rows = [[literal(label), *(results[n][i] for n in names)]
                  for i, (label, _) in enumerate(map_operation_steps())]
    lines += list_table(["operation", *names], table_rows)
    lines += heading("Transitions", "-")
    transitions = [name for name, obj in inspect.getmembers(maps, inspect.isfunction)
                   if name.startswith("process_map_") and obj.__module__ == maps.__name__]
    transitions.sort(key=lambda n: inspect.getsourcelines(getattr(maps, n))[1])
    for name in transitions:
        lines += [f".. autofunction:: arspec.spec.maps.{name}", "   :no-index:", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- 3. presets


def _format_number(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1024 \
            and value & (value - 1) == 0:
        return f"{literal(value)} (2\\ :sup:`{value.bit_length() - 1}`)"
    return literal(value)


def preset_table() -> tuple[list[str], list[list[object]]]:
    """Return the preset table's header and raw rows: each preset, then as bundles use it."""
    from arspec.spec.presets import PRESETS, Preset
    from arspec.spec.state import get_bundle_limits

    names = list(PRESETS)
    columns = [PRESETS[n] for n in names] + [get_bundle_limits(n) for n in names]
    header = ["field", *names, *(f"{n} in a bundle" for n in names)]
    rows: list[list[object]] = [[f.name, *(getattr(c, f.name) for c in columns)]
                                for f in dataclasses.fields(Preset) if f.name != "name"]
    return header, rows


def render_presets() -> str:
    """Return a table of every field of every preset, and of each as a bundle uses it."""
    header, rows = preset_table()
    lines = ["Every field of ``arspec.spec.presets.Preset`` in each of ``PRESETS``, then as a "
             "bundle runs under it (:func:`arspec.spec.state.get_bundle_limits`): map and "
             "ring-buffer limits are the bundle schema's, and the compute budgets are the "
             "defaults of ``budgets`` (a bundle may set its own, up to 1,400,000 CU per "
             "invocation).", ""]
    shown = [[literal(row[0]), *(_format_number(v) for v in row[1:])] for row in rows]
    return "\n".join(lines + list_table(header, shown))


# --------------------------------------------------------------------------- 4. program.yaml


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def schema_type(node: dict[str, Any]) -> str:
    """Return a short RST description of the type of a JSON-schema node."""
    if "$ref" in node:
        return f":ref:`{_ref_name(node['$ref'])} <schema-{_ref_name(node['$ref']).lower()}>`"
    if "const" in node:
        return literal(json.dumps(node["const"]))
    if "enum" in node:
        return "one of " + ", ".join(literal(v) for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            text = " or ".join(schema_type(o) for o in options)
            if len(options) < len(node[key]):
                text += " or null"
            return text
    kind = node.get("type")
    if kind == "array":
        return "list of " + schema_type(node.get("items", {}))
    if kind == "object":
        values = [*node.get("patternProperties", {}).values()]
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            values.append(extra)
        if values and "properties" not in node:
            return "mapping of name to " + schema_type(values[0])
    return str(kind) if kind else "any"


CONSTRAINTS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "minProperties",
               "pattern")


def schema_constraints(node: dict[str, Any]) -> str:
    """Return the constraints of a node (and of its non-null alternatives)."""
    found = [f"{key} {literal(node[key])}" for key in CONSTRAINTS if key in node]
    for option in node.get("anyOf", []):
        found += [f"{key} {literal(option[key])}" for key in CONSTRAINTS if key in option]
    return ", ".join(found)


def schema_refs(node: Any) -> list[str]:
    """Return the ``$defs`` names referenced anywhere under ``node``, in order of appearance."""
    found: list[str] = []
    if isinstance(node, dict):
        if "$ref" in node:
            found.append(_ref_name(node["$ref"]))
        for value in node.values():
            found += schema_refs(value)
    elif isinstance(node, list):
        for value in node:
            found += schema_refs(value)
    return found


def schema_def_order(schema: dict[str, Any]) -> list[str]:
    """Return the ``$defs`` in reading order: breadth first from the top level."""
    defs: dict[str, Any] = schema.get("$defs", {})
    order: list[str] = []
    queue = schema_refs(schema.get("properties", {}))
    while queue:
        name = queue.pop(0)
        if name in order or name not in defs:
            continue
        order.append(name)
        queue += schema_refs(defs[name])
    return order + sorted(set(defs) - set(order))


def _schema_object(name: str, node: dict[str, Any], label: str) -> list[str]:
    lines = [f".. _{label}:", "", *heading(name, "~")]
    if node.get("description"):
        lines += [rst_text(node["description"]), ""]
    if "enum" in node:
        return [*lines, "One of: " + ", ".join(literal(v) for v in node["enum"]) + ".", ""]
    properties: dict[str, Any] = node.get("properties", {})
    required = set(node.get("required", []))
    rows = []
    for key, prop in properties.items():
        if key in required:
            default = "required"
        elif "default" in prop:
            default = literal(json.dumps(prop["default"]))
        else:
            default = "optional"
        rows.append([literal(key), schema_type(prop), default, schema_constraints(prop),
                     rst_text(prop.get("description", ""))])
    if rows:
        lines += list_table(["key", "type", "default", "constraints", "description"], rows,
                            widths=[14, 22, 12, 18, 34])
    if node.get("additionalProperties") is False:
        lines += ["No other keys are accepted.", ""]
    return lines


def render_bundle_schema() -> str:
    """Return every key of ``program.yaml``, nested, from ``bundle_json_schema()``."""
    from arspec.spec.loader import bundle_json_schema

    schema = bundle_json_schema()
    lines = [f"Generated from ``arspec.spec.loader.bundle_json_schema()`` "
             f"(``{schema.get('$id', '')}``); ``spec-check schema`` prints the same schema.", ""]
    lines += _schema_object("Top level", schema, "schema-top-level")
    for name in schema_def_order(schema):
        lines += _schema_object(name, schema["$defs"][name], f"schema-{name.lower()}")
    return "\n".join(lines)


def render_bundle_example() -> str:
    """Return a literal include of the example bundle (relative to docs/)."""
    return "\n".join([f"``{EXAMPLE_BUNDLE}``:", "", f".. literalinclude:: ../{EXAMPLE_BUNDLE}",
                      "   :language: yaml", ""])


# --------------------------------------------------------------------------- 5. CLI


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _argument_row(action: argparse.Action) -> list[str]:
    name = ", ".join(action.option_strings) if action.option_strings else action.dest
    metavar = "" if action.nargs == 0 or not action.option_strings \
        else " " + str(action.metavar or action.dest.upper())
    text = (action.help or "") % {"default": action.default, "prog": ""}
    default = "" if action.default in (None, argparse.SUPPRESS) or action.nargs == 0 \
        else literal(repr(action.default))
    choices = ", ".join(literal(c) for c in action.choices) if action.choices else ""
    required = "required" if action.required or not action.option_strings else "optional"
    return [literal(name + metavar), required, default, choices, rst_text(text)]


def exit_code_paragraph() -> str:
    """Return the paragraph of the CLI module docstring that states the exit codes."""
    for block in paragraphs(module_doc("arspec.cli")):
        if "Exit code" in block:
            return " ".join(block.split())
    raise ValueError("arspec.cli docstring has no 'Exit code' paragraph")


def render_cli() -> str:
    """Return every subcommand of ``spec-check`` with its arguments, and the exit codes."""
    from arspec.cli import exit_codes
    from arspec.cli.parser import build_parser

    parser = build_parser()
    lines = [*heading("Exit codes", "-"), exit_code_paragraph(), ""]
    codes = sorted((value, name) for name, value in vars(exit_codes).items()
                   if name.startswith("EXIT_") and isinstance(value, int))
    lines += list_table(["code", "constant"], [[str(v), literal(n)] for v, n in codes])
    for name, help_text, sub in _subcommands(parser):
        lines += heading(f"spec-check {name}", "-")
        if help_text:
            lines += [rst_text(help_text[0].upper() + help_text[1:]) + ".", ""]
        rows = [_argument_row(a) for a in sub._actions if not isinstance(a, argparse._HelpAction)]
        if rows:
            lines += list_table(["argument", "", "default", "choices", "help"], rows,
                                widths=[22, 10, 12, 14, 42])
        else:
            lines += ["No arguments.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- 6. conformance


def count_conformance_vectors(root: Path) -> dict[str, int]:
    """Return the number of ``.data`` vectors per folder of ``tests/conformance``, sorted."""
    base = root / CONFORMANCE_DIR
    counts = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        counts[folder.name] = sum(1 for _ in folder.rglob("*.data"))
    return counts


def render_conformance_counts(root: Path) -> str:
    """Return a table of the project's conformance vectors per folder."""
    counts = count_conformance_vectors(root)
    rows = [[literal(f"{CONFORMANCE_DIR}/{name}/"), str(n)] for name, n in counts.items()]
    rows.append(["**total**", f"**{sum(counts.values())}**"])
    return "\n".join(list_table(["folder", "vectors"], rows))


# --------------------------------------------------------------------------- 7. semantics


def existing_spec_modules() -> list[str]:
    """Return the modules of :data:`SEMANTICS_MODULES` that exist, in reading order."""
    names = [f"arspec.spec.{m}" for m in SEMANTICS_MODULES]
    return [n for n in names if importlib.util.find_spec(n) is not None]


def render_semantics() -> str:
    """Return one docstring-only automodule per existing spec module, in reading order."""
    lines = []
    for name in existing_spec_modules():
        lines += [f".. automodule:: {name}", "   :no-members:", "   :no-index:", ""]
    return "\n".join(lines)


def _doc_title(doc: str) -> str:
    return doc.splitlines()[0].strip()


def _is_title(block: str) -> bool:
    lines = block.splitlines()
    return len(lines) >= 2 and bool(lines[1].strip()) and set(lines[1].strip()) <= set("=-~^")


def marked_blocks(doc: str, marker: str) -> list[str]:
    """Return the parts of a docstring opened by ``marker``.

    A part is either a section whose title starts with the marker (its body, up to the next
    title) or a paragraph that starts with the marker together with the bullet list after it.
    """
    blocks = paragraphs(doc)
    found: list[str] = []
    i = 0
    while i < len(blocks):
        if not blocks[i].startswith(marker):
            i += 1
            continue
        section = _is_title(blocks[i])
        part = ["\n".join(blocks[i].splitlines()[2:]) if section else blocks[i]]
        i += 1
        while i < len(blocks) and (
            (section and not _is_title(blocks[i])) or blocks[i].startswith(("* ", "- "))
        ):
            part.append(blocks[i])
            i += 1
        found.append("\n\n".join(p for p in part if p.strip()))
    return found


def collect_marked(marker: str) -> list[tuple[str, str, list[str]]]:
    """Return (module, title, parts) for every spec module whose docstring uses ``marker``."""
    from arspec import spec

    found = []
    for path in sorted(Path(spec.__path__[0]).glob("*.py")):
        name = f"arspec.spec.{path.stem}"
        doc = importlib.import_module(name).__doc__
        if not doc:
            continue
        parts = marked_blocks(inspect.cleandoc(doc), marker)
        if parts:
            found.append((name, _doc_title(inspect.cleandoc(doc)), parts))
    order = {n: i for i, n in enumerate(existing_spec_modules())}
    found.sort(key=lambda item: (order.get(item[0], len(order)), item[0]))
    return found


def render_marked(marker: str) -> str:
    """Return every docstring part opened by ``marker``, grouped by module."""
    lines: list[str] = []
    for name, title, parts in collect_marked(marker):
        lines += heading(f"{title} (:mod:`{name}`)", "~")
        lines += [f".. currentmodule:: {name}", ""]
        for part in parts:
            lines += [part, ""]
    return "\n".join(lines) if lines else "(No spec module uses this marker.)\n"


# --------------------------------------------------------------------------- 8. profiles


def render_profiles() -> str:
    """Return the profile fields (LINUX vs SOLANA) and the memory regions."""
    from arspec.reference.vm import profiles as p

    names = list(p.PROFILES)
    fields = [f.name for f in dataclasses.fields(p.Profile) if f.name != "name"]
    props = sorted(n for n, v in vars(p.Profile).items() if isinstance(v, property))
    rows = [[literal(f), *(literal(getattr(p.PROFILES[n], f)) for n in names)]
            for f in [*fields, *props]]
    lines = heading("Profile fields", "-")
    lines += ["Every field (and property) of ``arspec.reference.vm.profiles.Profile`` in each of",
              "``PROFILES``; the meaning of each is in the class docstring below.", ""]
    lines += list_table(["field", *names], rows)
    lines += heading("Memory regions", "-")
    lines += [f"A virtual address is ``region << {p.REGION_SHIFT} | offset``"
              " (``REGION_SHIFT``).", ""]
    regions = sorted((v, n) for n, v in vars(p).items()
                     if n.endswith("_REGION") and isinstance(v, int))
    rows = []
    for index, name in regions:
        base = getattr(p, name.removesuffix("_REGION") + "_BASE", index << p.REGION_SHIFT)
        rows.append([literal(name), str(index), literal(f"{base:#x}")])
    lines += list_table(["region", "index", "base address"], rows)
    extra = [("FIRST_DYNAMIC_REGION", "first region allocated at run time"),
             ("HEAP_SIZE", "heap bytes (profiles with a heap)"),
             ("SLOT_SIZE", "bytes per instruction slot")]
    lines += list_table(["constant", "value", "meaning"],
                        [[literal(n), literal(getattr(p, n)), m] for n, m in extra
                         if hasattr(p, n)])
    lines += [".. autoclass:: arspec.reference.vm.profiles.Profile", "   :no-index:",
              "   :no-members:", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- proofs


def _doc_body(doc: str) -> str:
    """Return a module docstring without its RST title."""
    lines = inspect.cleandoc(doc).splitlines()
    if len(lines) > 1 and lines[1] and set(lines[1]) == {"="}:
        lines = lines[2:]
    return "\n".join(lines).strip()


#: Median proof times measured by ``benchmarks/bench_proofs.py --write``.
PROOF_TIMINGS = "benchmarks/proofs_timings.json"


@functools.cache
def proof_outcomes() -> dict[str, tuple[str, int, bool]]:
    """Return (status, queries, replayed) of every claim and twin (proved once per build)."""
    from arspec.proofs.catalogue import SYSTEMS, check_twin
    from arspec.proofs.core import prove_claim

    out: dict[str, tuple[str, int, bool]] = {}
    for system in SYSTEMS:
        for claim in system.claims:
            result = prove_claim(system, claim)
            out[claim.name] = (result.verdict.value, result.obligations, False)
        for twin in system.twins:
            checked = check_twin(system, twin)
            out[twin.name] = (checked.result.verdict.value, checked.result.obligations,
                              checked.confirmed)
    return out


def render_proofs(root: Path) -> str:
    """Return every proof system: its text, transitions, claims (proved now) and twins.

    Statuses come from proofs run during the build; times from the benchmark's record, so
    that the page is the same at every build.
    """
    import design

    from arspec.proofs.catalogue import SYSTEMS

    path = root / PROOF_TIMINGS
    timings = json.loads(path.read_text()) if path.exists() else {}

    def seconds(kind: str, name: str) -> str:
        wall = timings.get(kind, {}).get(name)
        cpu = timings.get(f"{kind}_cpu", {}).get(name)
        if wall is None or cpu is None:
            return "not measured"
        return f"{cpu:.2f} s CPU, {wall:.2f} s wall"

    outcomes = proof_outcomes()
    lines: list[str] = []
    for system in SYSTEMS:
        lines += heading(system.title, "=")
        lines += [_doc_body(system.summary), ""]
        lines += list_table(["transition", "what happens", "follows"],
                            [[literal(t.name), rst_text(t.summary), literal(t.follows)]
                             for t in system.transitions], widths=[20, 50, 30])
        rows = []
        for claim in system.claims:
            status, queries, _ = outcomes[claim.name]
            twins = ", ".join(literal(t.name) for t in system.twins if t.claim == claim.name)
            # The label after the name keeps the row's text first; the invariant catalogue
            # page links each claim here.
            label = f"{literal(claim.name)}\n\n       .. _{design.proof_label(claim.name)}:"
            rows.append([label, rst_text(claim.statement), f"**{status}**",
                         seconds("invariants", claim.name), str(queries), twins])
        lines += list_table(["invariant", "statement", "status", "time", "queries", "twins"],
                            rows, widths=[16, 44, 10, 8, 7, 15])
        rows = []
        for twin in system.twins:
            status, _, replayed = outcomes[twin.name]
            rows.append([literal(twin.name), rst_text(twin.description),
                         literal(twin.mutation.function), literal(twin.transition),
                         f"**{status}**", "yes" if replayed else "**no**",
                         seconds("twins", twin.name)])
        lines += list_table(["twin", "the break", "mutated spec function", "transition",
                             "status", "replayed", "time"], rows,
                            widths=[18, 30, 16, 12, 10, 7, 7])
    return "\n".join(lines)


# --------------------------------------------------------------------------- writers


def _sizes(sizes: frozenset[int]) -> str:
    return ", ".join(str(n) for n in sorted(sizes)) or "-"


def render_contexts() -> str:
    """Return the context layout and access rule of every program type, and Linux's rules."""
    from arspec.spec import contexts as c

    lines: list[str] = []
    for program_type in c.ProgramType:
        layout = c.get_context_layout(program_type)
        size = (f"{layout.size} bytes" if program_type is not c.ProgramType.TRACING else
                f"``context_size`` bytes (default {c.DEFAULT_RAW_CONTEXT})")
        lines += heading(f"``{program_type.value}``", "-")
        lines += [f"Context: {size}; kernel program type "
                  f"{c.KERNEL_PROGRAM_TYPES[program_type]}; "
                  + ("a packet." if layout.has_packet else "no packet."), ""]
        rows = [[literal(f.name), str(f.offset), str(f.size), f.kind.value, _sizes(f.reads),
                 _sizes(f.writes)] for f in layout.fields]
        lines += list_table(["field", "offset", "bytes", "yields", "read sizes",
                             "write sizes"], rows)
    lines += heading("Linux's other load-time rules", "-")
    lines += ["Kept by every program that declares a type (policy findings, never REFUTED).", ""]
    lines += list_table(["rule", "what it says"],
                        [[literal(name), rst_text(text)] for name, text in c.LINUX_RULES.items()])
    return "\n".join(lines)


def render_syscalls() -> str:
    """Return the solana call table: every sol_* name and Agave syscall with its hash, the
    contract it reaches and its cost, and the C header's declarations."""
    from arspec.reference.isa.murmur3 import murmur3_32
    from arspec.spec import syscalls as sc
    from arspec.spec.runtime_watchers import (
        MAX_WATCHERS_PER_ACCOUNT,
        MAX_WATCHERS_PER_PROGRAM,
        WATCH_CRITERIA_SIZE,
        WATCH_OP_CODES,
    )

    costs = {"fixed": "{cost}", "max_len": "max({cost}, r2)", "len": "r2",
             "mem_op": "max({cost}, r3 / 250)", "slices": "{cost} + per slice (not proved)"}
    aliases = [[literal(alias), literal(f"{murmur3_32(alias.encode()):#010x}"), literal(target),
                str(sc.get_solana_names()[alias].cost)] for alias, target in sc.SOL_ALIASES]
    agave = [[literal(s.row.name), literal(f"{murmur3_32(s.row.name.encode()):#010x}"),
              ", ".join(a.name for a in s.row.args) or "(none)",
              costs[s.cost].format(cost=s.row.cost), rst_text(s.row.summary)]
             for s in sc.AGAVE_SYSCALLS]
    lines = heading("The sol_* names", "-")
    lines += [f"{len(sc.SOL_ALIASES)} aliases from ``arspec.spec.syscalls.SOL_ALIASES``; each "
              "is the helper it names (contract, cost, verifier rules).", ""]
    lines += list_table(["name", "murmur3_32", "is the helper", "CU"], aliases)
    lines += heading("Agave syscalls", "-")
    lines += [f"{len(sc.AGAVE_SYSCALLS)} syscalls from ``arspec.spec.syscalls.AGAVE_SYSCALLS`` "
              "(solana profile only), with the argument kinds the verifier checks.", ""]
    lines += list_table(["name", "murmur3_32", "arguments", "CU", "effect"], agave)
    lines += heading("Run-time watcher limits", "-")
    lines += list_table(["constant", "value"], [
        [literal("WATCH_CRITERIA_SIZE"), str(WATCH_CRITERIA_SIZE)],
        [literal("MAX_WATCHERS_PER_PROGRAM"), str(MAX_WATCHERS_PER_PROGRAM)],
        [literal("MAX_WATCHERS_PER_ACCOUNT"), str(MAX_WATCHERS_PER_ACCOUNT)],
        *[[literal(f"SOL_WATCH_{op.name}"), str(code)] for code, op in enumerate(WATCH_OP_CODES)],
    ])
    return "\n".join(lines)


def generated_fragments(root: Path) -> dict[str, str]:
    """Return every generated fragment by file name."""
    import design

    return {
        "lifecycles.inc": design.render_lifecycles(),
        "layers.inc": design.render_layers(root),
        "data_flow.inc": design.render_data_flow(),
        "explorer_state.inc": design.render_explorer_state(),
        "explorer_actions.inc": design.render_explorer_actions(),
        "explorer_reductions.inc": design.render_explorer_reductions(),
        "explorer_checks.inc": design.render_explorer_checks(),
        "explorer_trace.inc": design.render_explorer_trace(),
        "invariants.inc": design.render_invariants(root),
        "helpers.inc": render_helpers(),
        "maps.inc": render_maps(),
        "presets.inc": render_presets(),
        "bundle_schema.inc": render_bundle_schema(),
        "bundle_example.inc": render_bundle_example(),
        "cli.inc": render_cli(),
        "conformance_counts.inc": render_conformance_counts(root),
        "semantics.inc": render_semantics(),
        "departures.inc": render_marked(DEPARTURE_MARKER),
        "choices.inc": render_marked(CHOICE_MARKER),
        "profiles.inc": render_profiles(),
        "contexts.inc": render_contexts(),
        "proofs.inc": render_proofs(root),
        "syscalls.inc": render_syscalls(),
    }


def write_generated_pages(root: Path, out: Path) -> list[Path]:
    """Write the fragments into ``out`` (removing stale ones) and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    fragments = generated_fragments(root)
    for stale in sorted(out.glob("*.inc")):
        if stale.name not in fragments:
            stale.unlink()
    paths = []
    for name, text in fragments.items():
        path = out / name
        _write_if_changed(path, text.rstrip("\n") + "\n")
        paths.append(path)
    return paths


def _modules(root: Path, folder: str) -> list[str]:
    """Return the modules of a package and of its subpackages (``__main__`` left out: it
    runs the command when imported)."""
    names = []
    for path in sorted((root / folder).rglob("*.py")):
        if path.name == "__main__.py":
            continue
        parts = path.relative_to(root / folder).with_suffix("").parts
        if parts == ("__init__",):
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names.append(f"arspec.{folder}.{module}")
    return names


def write_api_pages(root: Path, out: Path) -> None:
    """Write ``api/<package>.rst`` for every package, each listing its modules."""
    out.mkdir(exist_ok=True)
    index = ["API reference", "=============", "", ".. toctree::", "   :maxdepth: 2", ""]
    for folder in PACKAGES:
        index.append(f"   {folder}")
        title = f"arspec.{folder}"
        lines = [title, "=" * len(title), "", f".. automodule:: {title}", ""]
        for module in _modules(root, folder):
            lines += [f".. automodule:: {module}", ""]
        _write_if_changed(out / f"{folder}.rst", "\n".join(lines))
    _write_if_changed(out / "index.rst", "\n".join(index) + "\n")
