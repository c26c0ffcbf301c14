"""The generated documentation: every fact on the reference pages comes from the code."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from arspec.cli.exit_codes import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE
from arspec.cli.parser import build_parser
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.vm import profiles
from arspec.spec.helpers import HELPER_TABLE, ArgKind
from arspec.spec.loader import bundle_json_schema, load_bundle
from arspec.spec.presets import PRESETS, Preset

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load_generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arspec_docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generate()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("generated")
    paths = generate.write_generated_pages(ROOT, out)
    return {path.name: path.read_text() for path in paths}


def _table_rows(text: str) -> list[list[str]]:
    """Return the rows of every list-table in ``text`` as lists of cell texts."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("   * - "):
            rows.append([line[len("   * - "):]])
        elif line.startswith("     - ") and rows:
            rows[-1].append(line[len("     - "):])
    return rows


def _schema_keys(node: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                keys |= set(value)
                for child in value.values():
                    keys |= _schema_keys(child)
            else:
                keys |= _schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= _schema_keys(value)
    return keys


def test_every_fragment_is_written_and_nonempty(pages: dict[str, str]) -> None:
    assert set(pages) == set(generate.generated_fragments(ROOT))
    for name, text in pages.items():
        assert text.strip(), name


def test_generation_is_deterministic(tmp_path: Path, pages: dict[str, str]) -> None:
    again = generate.write_generated_pages(ROOT, tmp_path)
    assert {p.name: p.read_text() for p in again} == pages


def test_stale_fragments_are_removed(tmp_path: Path) -> None:
    (tmp_path / "old.inc").write_text("stale\n")
    generate.write_generated_pages(ROOT, tmp_path)
    assert not (tmp_path / "old.inc").exists()


def test_helper_page_lists_every_helper_with_its_murmur3_id(pages: dict[str, str]) -> None:
    rows = {row[2]: row for row in _table_rows(pages["helpers.inc"])
            if len(row) == 11 and row[0] != "id"}
    for helper in HELPER_TABLE:
        row = rows[f"``{helper.name}``"]
        assert row[0] == str(helper.id)
        assert row[1] == f"``{helper.id:#x}``"
        assert row[3] == f"``{murmur3_32(helper.name.encode()):#010x}``"
        assert row[5] == (", ".join(helper.map_types) or "(any)"
                          if ArgKind.CONST_MAP_PTR in helper.args else "(no map)")
        assert row[7].startswith(str(helper.cost))
        assert row[9] == ", ".join(helper.profiles)
    assert len(rows) == len(HELPER_TABLE)


def test_helper_page_known_murmur3_value(pages: dict[str, str]) -> None:
    # sBPF's own syscall: murmur3_32("sol_log_") is 0x207559bd (anza-xyz/sbpf ``doc/syscalls.md``).
    assert murmur3_32(b"sol_log_") == 0x207559BD
    assert f"``{murmur3_32(b'bpf_map_lookup_elem'):#010x}``" in pages["helpers.inc"]


def test_helper_page_lists_every_refusal(pages: dict[str, str]) -> None:
    text = pages["helpers.inc"]
    refused = text.split("Refused helpers", 1)[1]
    for helper in HELPER_TABLE:
        if "solana" not in helper.profiles:
            assert f"``{helper.name}``" in refused
    assert "nondeterministic and refused in the solana (consensus) profile" in refused


def test_every_schema_key_and_definition_appears(pages: dict[str, str]) -> None:
    schema = bundle_json_schema()
    text = pages["bundle_schema.inc"]
    for key in _schema_keys(schema):
        assert f"   * - ``{key}``" in text, key
    for name in schema["$defs"]:
        assert f".. _schema-{name.lower()}:" in text, name


def test_schema_defaults_and_required_are_shown(pages: dict[str, str]) -> None:
    rows = {row[0]: row for row in _table_rows(pages["bundle_schema.inc"])}
    assert rows["``arspec``"][2] == "required"
    assert rows["``profile``"][2] == '``"solana"``'
    assert rows["``preset``"][2] == '``"linux_like"``'


def test_example_bundle_is_valid_and_included(pages: dict[str, str]) -> None:
    load_bundle(ROOT / generate.EXAMPLE_BUNDLE)
    assert f".. literalinclude:: ../{generate.EXAMPLE_BUNDLE}" in pages["bundle_example.inc"]


def test_every_cli_subcommand_and_option_appears(pages: dict[str, str]) -> None:
    text = pages["cli.inc"]
    subcommands = generate._subcommands(build_parser())
    assert {"asm", "disasm", "exec", "schema"} <= {name for name, _, _ in subcommands}
    for name, _, sub in subcommands:
        assert f"\nspec-check {name}\n" in text, name
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in text, (name, option)


def test_cli_page_states_the_exit_codes(pages: dict[str, str]) -> None:
    text = pages["cli.inc"]
    assert "Exit codes are uniform" in text
    rows = _table_rows(text)
    for code, name in [(EXIT_OK, "EXIT_OK"), (EXIT_FAILED, "EXIT_FAILED"),
                       (EXIT_USAGE, "EXIT_USAGE"), (EXIT_INCONCLUSIVE, "EXIT_INCONCLUSIVE")]:
        assert [str(code), f"``{name}``"] in rows


def test_usage_page_commands_exist() -> None:
    names = {name for name, _, _ in generate._subcommands(build_parser())}
    used = re.findall(r"spec-check (\S+)", (DOCS / "usage.rst").read_text())
    assert used
    for word in used:
        if word.endswith((".yaml", ".yml")):
            continue  # `spec-check BUNDLE.yaml` is `spec-check verify BUNDLE.yaml`
        assert word in names, f"usage.rst uses 'spec-check {word}', which the parser lacks"


def test_preset_table_matches_the_code(pages: dict[str, str]) -> None:
    from arspec.spec.state import get_bundle_limits

    rows = _table_rows(pages["presets.inc"])
    assert rows[0] == ["field", *PRESETS, *(f"{n} in a bundle" for n in PRESETS)]
    fields = [f.name for f in dataclasses.fields(Preset) if f.name != "name"]
    assert [row[0] for row in rows[1:]] == [f"``{f}``" for f in fields]
    columns = [*PRESETS.values(), *(get_bundle_limits(n) for n in PRESETS)]
    for row in rows[1:]:
        field = row[0].strip("`")
        for cell, preset in zip(row[1:], columns, strict=True):
            assert cell.split()[0] == f"``{getattr(preset, field)}``"


def test_preset_docstring_table_matches_the_code() -> None:
    """The hand-written table in spec/presets.py (shown in the semantics book) is right."""
    import arspec.spec.presets as module

    assert module.__doc__ is not None
    seen = set()
    for line in module.__doc__.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 3 and parts[0] in {f.name for f in dataclasses.fields(Preset)}:
            for text, preset in zip(parts[1:3], PRESETS.values(), strict=True):
                assert re.fullmatch(r"[0-9_ <]+", text)
                value = eval(text, {"__builtins__": {}})
                assert value == getattr(preset, parts[0]), (parts[0], preset.name)
            seen.add(parts[0])
    assert seen == {f.name for f in dataclasses.fields(Preset)} - {"name"}


def test_profile_table_matches_the_code(pages: dict[str, str]) -> None:
    rows = {row[0]: row[1:] for row in _table_rows(pages["profiles.inc"])}
    for field in dataclasses.fields(profiles.Profile):
        if field.name == "name":
            continue
        expected = [f"``{getattr(p, field.name)}``" for p in profiles.PROFILES.values()]
        assert rows[f"``{field.name}``"] == expected
    assert rows["``STACK_REGION``"] == [str(profiles.STACK_REGION), f"``{profiles.STACK_BASE:#x}``"]
    assert rows["``HEAP_REGION``"] == [str(profiles.HEAP_REGION), f"``{profiles.HEAP_BASE:#x}``"]


def test_map_page_lists_every_type_and_computed_results(pages: dict[str, str]) -> None:
    from arspec.spec.maps import MapType

    text = pages["maps.inc"]
    for map_type in MapType:
        assert f"``{map_type.name}``" in text
    results = generate.compute_map_results()
    labels = [label for label, _ in generate.map_operation_steps()]

    def result(map_type: str, label: str) -> str:
        return str(results[map_type][labels.index(label)])

    assert result("HASH", "delete(k0) again") == "-ENOENT"
    assert result("HASH", "update(k1, ANY), map holds 1 of 1") == "-E2BIG"
    assert result("LRU_HASH", "update(k1, ANY), map holds 1 of 1") == "0"
    assert result("ARRAY", "update(k0, NOEXIST)") == "-EEXIST"
    assert result("QUEUE", "pop, empty") == "-ENOENT"
    assert result("STACK", "push(v, ANY), full") == "-E2BIG"
    assert result("RINGBUF", "push(v, ANY)") == "-ENOTSUPP"
    assert ".. autofunction:: arspec.spec.maps.process_map_update" in text


def test_conformance_counts_match_the_files(pages: dict[str, str]) -> None:
    base = ROOT / "tests" / "conformance"
    total = len(list(base.rglob("*.data")))
    assert f"   * - **total**\n     - **{total}**" in pages["conformance_counts.inc"]
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        assert f"``tests/conformance/{folder.name}/``" in pages["conformance_counts.inc"]


def test_semantics_page_includes_existing_modules_in_order(pages: dict[str, str]) -> None:
    text = pages["semantics.inc"]
    found = re.findall(r"\.\. automodule:: arspec\.spec\.(\w+)", text)
    expected = [m for m in generate.SEMANTICS_MODULES
                if importlib.util.find_spec(f"arspec.spec.{m}") is not None]
    assert found == expected
    assert found[:3] == ["types", "presets", "maps"]


def test_semantics_page_skips_missing_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "SEMANTICS_MODULES", ("types", "no_such_module", "maps"))
    text = generate.render_semantics()
    assert "no_such_module" not in text
    assert re.findall(r"arspec\.spec\.(\w+)", text) == ["types", "maps"]


def test_departures_collect_every_marked_module(pages: dict[str, str]) -> None:
    text = pages["departures.inc"]
    for module in ("maps", "timers", "workqueue", "ringbuf"):
        assert f":mod:`arspec.spec.{module}`" in text
    assert "**LRU is exact.**" in text
    assert "**Slots, not nanoseconds.**" in text
    assert "**Wrapping.**" in text


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("Title\n=====\n\nDepartures from Linux\n---------------------\n* a\n* b\n\n"
         "more\n\nNext\n----\n\nafter", ["* a\n* b\n\nmore"]),
        ("Intro.\n\nDepartures from Linux, with reasons:\n\n* a\n\n* b\n\nNot a bullet.",
         ["Departures from Linux, with reasons:\n\n* a\n\n* b"]),
        ("Departures from Linux: one paragraph.\n\nOther.", ["Departures from Linux: one "
                                                            "paragraph."]),
        ("Nothing marked here.", []),
    ],
)
def test_marked_blocks_forms(doc: str, expected: list[str]) -> None:
    assert generate.marked_blocks(doc, generate.DEPARTURE_MARKER) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default 10**10", "default 10\\*\\*10"),
        ("zero-padded `size` bytes", "zero-padded ``size`` bytes"),
        ("a | b", "a \\| b"),
    ],
)
def test_rst_text_escapes(text: str, expected: str) -> None:
    assert generate.rst_text(text) == expected


@pytest.mark.slow
def test_sphinx_build_is_clean(tmp_path: Path) -> None:
    """The full build, warnings as errors, as CI runs it (in parallel: about 50 s on 2 CPUs)."""
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-j", "auto", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stderr.strip() == "", result.stderr[-4000:]
    html = tmp_path / "html"
    for page in ("helpers", "maps", "presets", "profiles", "bundle", "cli", "conformance",
                 "semantics", "usage"):
        assert (html / f"{page}.html").exists(), page
    helpers_html = (html / "helpers.html").read_text()
    for helper in HELPER_TABLE:
        assert helper.name in helpers_html
    assert elapsed < 600
