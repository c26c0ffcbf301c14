"""
JSON Schemas of every JSON output
=================================

Every JSON document ``spec-check`` prints or writes starts with ``{"format":
"arspec-<kind>", "version": N}`` and has a JSON Schema (draft 2020-12) built here from the
code's own constants and enums, one module per family: :mod:`~arspec.cli.schemas.reports`
(verify, explore, prove, run, replay, interleave), :mod:`~arspec.cli.schemas.programs`
(exec, its trace and batch lines) and :mod:`~arspec.cli.schemas.files` (explore traces, the
test vectors). ``spec-check schema --output KIND`` prints one. ``docs/schemas/`` holds them
all with their list (``list.inc``, included by ``docs/schemas.rst``), written by
:func:`write_docs` (``python -m arspec.cli.schemas docs``) and pinned by a test to equal what
the code generates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

Schema = dict[str, Any]


def _bundle() -> Schema:
    from arspec.spec.loader import bundle_json_schema

    return bundle_json_schema()


def _reports(name: str) -> Callable[[], Schema]:
    def get() -> Schema:
        from arspec.cli.schemas import reports

        schema: Schema = getattr(reports, name)
        return schema
    return get


def _programs(name: str) -> Callable[[], Schema]:
    def get() -> Schema:
        from arspec.cli.schemas import programs

        schema: Schema = getattr(programs, name)
        return schema
    return get


def _files(name: str) -> Callable[[], Schema]:
    def get() -> Schema:
        from arspec.cli.schemas import files

        schema: Schema = getattr(files, name)
        return schema
    return get


def _vector(kind: str) -> Callable[[], Schema]:
    def get() -> Schema:
        from arspec.cli.vectors.schemas import SCHEMAS

        return SCHEMAS[kind]
    return get


#: Each kind, what it describes, and its schema's builder, in the order they are listed.
KINDS: Final[dict[str, tuple[str, Callable[[], Schema]]]] = {
    "bundle": ("program.yaml, the bundle every bundle command reads", _bundle),
    "verify": ("spec-check verify --format json", _reports("VERIFY")),
    "explore": ("spec-check explore --format json", _reports("EXPLORE")),
    "run": ("spec-check run --format json", _reports("RUN")),
    "prove": ("spec-check prove --format json", _reports("PROVE")),
    "replay": ("spec-check replay --format json", _reports("REPLAY")),
    "interleave": ("spec-check interleave --format json", _reports("INTERLEAVE")),
    "exec": ("spec-check exec --format json", _programs("EXEC")),
    "exec-trace": ("one line of spec-check exec --trace-out", _programs("EXEC_TRACE")),
    "exec-batch": ("one line of spec-check exec --batch", _programs("EXEC_BATCH")),
    "trace": ("the trace file of spec-check explore --trace-out, read by replay",
              _files("TRACE")),
    "vectors-manifest": ("manifest.json of spec-check vectors", _files("VECTORS_MANIFEST")),
    "vectors-instruction": ("one instruction vector (a line of instruction/*.jsonl)",
                            _vector("instruction")),
    "vectors-runtime": ("one runtime vector (a line of runtime/**/*.jsonl)",
                        _vector("runtime")),
    "vectors-verifier": ("one verifier vector (a line of verifier/*.jsonl)",
                         _vector("verifier")),
}


def get_schema(kind: str) -> Schema:
    """Return the JSON Schema of ``kind`` (a key of :data:`KINDS`)."""
    return KINDS[kind][1]()


def schema_text(kind: str) -> str:
    """Return the schema of ``kind`` as printed and as written to ``docs/schemas/``."""
    return json.dumps(get_schema(kind), indent=2, sort_keys=True) + "\n"


def schema_file(kind: str) -> str:
    """Return the file name of ``kind``'s schema under ``docs/schemas/``."""
    return f"{kind}.schema.json"


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into ``folder`` (only files whose text changed); return them."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = folder / schema_file(kind)
        text = schema_text(kind)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def render_schemas_page() -> str:
    """Return the RST list of the schemas (``docs/generated/schemas.inc``)."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 20 25 10 45", "",
             "   * - ``--output``", "     - ``format``", "     - ``version``",
             "     - what it describes"]
    for kind, (what, _) in KINDS.items():
        schema = get_schema(kind)
        fmt, version = _identity(schema)
        shown = what.replace("*", "\\*")
        lines += [f"   * - :download:`{kind} <schemas/{schema_file(kind)}>`",
                  f"     - {fmt}", f"     - {version}", f"     - {shown}"]
    return "\n".join(lines) + "\n"


def _identity(schema: Schema) -> tuple[str, str]:
    """Return the ``format`` and ``version`` a schema pins, as RST (``-`` for none)."""
    properties = schema.get("properties")
    if properties is None and "oneOf" in schema:
        properties = schema["oneOf"][0].get("properties")
    if not properties or "format" not in properties:
        return "(YAML, no envelope)", "-"
    return f"``{properties['format']['const']}``", str(properties["version"]["const"])


#: The list of schemas, included by ``docs/schemas.rst``.
LIST_FILE: Final = "list.inc"


def write_docs(docs: Path) -> list[Path]:
    """Write every schema and their list into ``docs/schemas/``; return the files."""
    folder = docs / "schemas"
    paths = write_schemas(folder)
    listing = folder / LIST_FILE
    text = render_schemas_page()
    if not listing.exists() or listing.read_text(encoding="utf-8") != text:
        listing.write_text(text, encoding="utf-8", newline="\n")
    return [*paths, listing]
