"""JSON Schemas of every JSON output: generated, published, printed, and obeyed.

Every example goes through every command that writes JSON (``verify`` and ``explore`` are
validated in ``tests/test_verify_formats.py``, which already runs each example in each
format); negative cases check that each schema rejects a missing field, a wrong type, an
unknown field and a wrong format or version.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from arspec.cli.main import main
from arspec.cli.schemas import KINDS, LIST_FILE, get_schema, render_schemas_page, schema_file
from arspec.cli.schemas import schema_text as published_text

ROOT = Path(__file__).resolve().parents[1]
DOCS_SCHEMAS = ROOT / "docs" / "schemas"
BUNDLES = sorted([*(ROOT / "examples").glob("*.yaml"),
                  *(ROOT / "examples" / "explore").glob("*.yaml")])
PROGRAMS = sorted((ROOT / "examples" / "programs").glob("*.s"))
INTERLEAVED = [("counter_spin_lock.yaml", "tick"), ("counter_xadd.yaml", "tick"),
               ("broken_spin_lock_unprotected.yaml", "tick")]
JSON_KINDS = [k for k in KINDS if k != "bundle"]


def validate(kind: str, document: object) -> None:
    """Raise unless ``document`` obeys the schema of ``kind``."""
    jsonschema.Draft202012Validator(get_schema(kind)).validate(document)


def is_valid(kind: str, document: object) -> bool:
    return jsonschema.Draft202012Validator(get_schema(kind)).is_valid(document)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


# --------------------------------------------------------------------------- generated


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_schema_is_a_draft_2020_12_schema(kind: str) -> None:
    schema = get_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("kind", JSON_KINDS)
def test_every_json_schema_pins_format_and_version(kind: str) -> None:
    schema = get_schema(kind)
    branches = schema.get("oneOf", [schema]) if "properties" not in schema else [schema]
    for branch in branches:
        assert branch["properties"]["format"]["const"].startswith("arspec-")
        assert isinstance(branch["properties"]["version"]["const"], int)
        assert {"format", "version"} <= set(branch["required"])


def test_docs_hold_exactly_the_generated_schemas() -> None:
    """``docs/schemas/`` equals what the code generates (``python -m arspec.cli.schemas
    docs`` rewrites it), with no file left over."""
    expected = {schema_file(k): published_text(k) for k in KINDS}
    expected[LIST_FILE] = render_schemas_page()
    found = {p.name: p.read_text(encoding="utf-8") for p in DOCS_SCHEMAS.iterdir()}
    assert sorted(found) == sorted(expected)
    stale = [name for name in expected if found[name] != expected[name]]
    assert not stale, f"stale: {stale}; run `python -m arspec.cli.schemas docs`"


def test_docs_page_includes_the_list() -> None:
    page = (ROOT / "docs" / "schemas.rst").read_text(encoding="utf-8")
    assert f".. include:: schemas/{LIST_FILE}" in page
    assert "schemas" in (ROOT / "docs" / "index.rst").read_text(encoding="utf-8").split()


# --------------------------------------------------------------------------- spec-check schema


@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_command_prints_each_kind(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["schema", "--output", kind], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out) == get_schema(kind)


def test_schema_without_output_is_the_bundle_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from arspec.spec.loader import bundle_json_schema

    code, out, _ = run(["schema"], capsys)
    assert code == 0 and json.loads(out) == bundle_json_schema()


@pytest.mark.parametrize("kind", ["nope", "VERIFY", "", "verify/1", "bundle.yaml"])
def test_unknown_kind_is_one_line_listing_the_kinds(kind: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["schema", "--output", kind], capsys)
    assert (code, out) == (2, "")
    assert err == (f"spec-check schema: error: --output: unknown kind {kind!r} (expected one "
                   f"of: {', '.join(KINDS)})\n")


# --------------------------------------------------------------------------- every example


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.stem for b in BUNDLES])
def test_run_json_of_every_example_obeys_its_schema(bundle: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["run", str(bundle), "--slots", "4", "--format", "json"], capsys)
    if code == 2:  # a bundle the solana profile refuses: one line, no document
        assert out == "" and len(err.splitlines()) == 1
        return
    validate("run", json.loads(out))


def test_prove_json_obeys_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["prove", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    validate("prove", doc)
    assert all("seconds" in row for row in doc["results"])
    _, out, _ = run(["prove", "budget", "--format", "json", "--no-timing"], capsys)
    validate("prove", json.loads(out))


@pytest.mark.parametrize(("bundle", "program"), INTERLEAVED)
def test_interleave_json_obeys_its_schema(bundle: str, program: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["interleave", str(ROOT / "examples" / bundle), "--program", program,
                        "--format", "json"], capsys)
    doc = json.loads(out)
    validate("interleave", doc)
    assert doc["exit_code"] == code == (1 if "broken" in bundle else 0)
    _, text, _ = run(["interleave", str(ROOT / "examples" / bundle), "--program", program],
                     capsys)
    assert f"verdict: {doc['verdict']}" in text


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
@pytest.mark.parametrize("profile", ["linux", "solana"])
def test_exec_json_and_trace_of_every_example_obey_their_schemas(
        program: Path, profile: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.jsonl"
    code, out, _ = run(["exec", str(program), "--mem", "01 02 03", "--profile", profile,
                        "--format", "json", "--trace-out", str(trace)], capsys)
    doc = json.loads(out)
    validate("exec", doc)
    assert doc["exit_code"] == code
    lines = trace.read_text().splitlines()
    assert lines
    for line in lines:
        validate("exec-trace", json.loads(line))


def test_exec_trace_fault_line_obeys_the_schema(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.jsonl"
    run(["exec", str(PROGRAMS[0]), "--insn-limit", "3", "--trace-out", str(trace)], capsys)
    last = json.loads(trace.read_text().splitlines()[-1])
    assert "fault" in last
    validate("exec-trace", last)


def test_exec_batch_lines_obey_their_schema(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    batch = tmp_path / "batch.jsonl"
    requests = [{"path": str(p), "input": "010203", "id": p.stem} for p in PROGRAMS]
    requests += [{"path": str(PROGRAMS[0]), "profile": "solana", "limit": 3}]
    batch.write_text("\n".join([*map(json.dumps, requests), "{bad"]) + "\n")
    code, out, _ = run(["exec", "--batch", str(batch)], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and len(lines) == len(requests) + 1
    for line in lines:
        validate("exec-batch", line)
    assert lines[-1]["error"] is not None


def test_explore_trace_and_replay_json_obey_their_schemas(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every violating explore example's trace file, and its replay in JSON."""
    broken = [b for b in sorted((ROOT / "examples" / "explore").glob("*_broken.yaml"))]
    assert broken
    for bundle in broken:
        trace = tmp_path / f"{bundle.stem}.json"
        code, _, _ = run(["explore", str(bundle), "--trace-out", str(trace), "--no-timing"],
                         capsys)
        assert code == 1, bundle
        validate("trace", json.loads(trace.read_text()))
        code, out, _ = run(["replay", str(trace), "--format", "json"], capsys)
        doc = json.loads(out)
        validate("replay", doc)
        assert doc["exit_code"] == code == 1 and doc["verdict"] == "VIOLATED"
        _, text, _ = run(["replay", str(trace)], capsys)
        assert doc["report"] == text


def test_vectors_manifest_and_lines_obey_their_schemas(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "v"
    code, _, _ = run(["vectors", str(out_dir), "--limit", "1", "--programs", "1"], capsys)
    assert code == 0
    manifest = json.loads((out_dir / "manifest.json").read_text())
    validate("vectors-manifest", manifest)
    for entry in manifest["files"]:
        if entry["kind"] == "schema":
            kind = entry["path"].removeprefix("schemas/").removesuffix(".schema.json")
            assert json.loads((out_dir / entry["path"]).read_text()) == \
                get_schema(f"vectors-{kind}")
            continue
        for line in (out_dir / entry["path"]).read_text().splitlines():
            validate(f"vectors-{entry['kind']}", json.loads(line))


# --------------------------------------------------------------------------- negative


def sample(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Return one real document of ``kind``."""
    examples = ROOT / "examples"
    if kind == "verify":
        return json.loads(run(["verify", str(examples / "explore" / "tail_broken.yaml"),
                               "--format", "json", "--no-timing"], capsys)[1])
    if kind in ("explore", "trace", "replay"):
        trace = tmp_path / "t.json"
        out = run(["explore", str(examples / "explore" / "timer_broken.yaml"), "--format",
                   "json", "--no-timing", "--trace-out", str(trace)], capsys)[1]
        if kind == "explore":
            return json.loads(out)
        if kind == "trace":
            return json.loads(trace.read_text())
        return json.loads(run(["replay", str(trace), "--format", "json"], capsys)[1])
    if kind == "run":
        return json.loads(run(["run", str(examples / "heartbeat.yaml"), "--slots", "3",
                               "--format", "json"], capsys)[1])
    if kind == "prove":
        return json.loads(run(["prove", "tailcall", "--format", "json"], capsys)[1])
    if kind == "interleave":
        return json.loads(run(["interleave", str(examples / "counter_xadd.yaml"), "--program",
                               "tick", "--format", "json"], capsys)[1])
    if kind in ("exec", "exec-trace"):
        trace = tmp_path / "t.jsonl"
        out = run(["exec", str(PROGRAMS[0]), "--mem", "0102", "--format", "json",
                   "--trace-out", str(trace)], capsys)[1]
        return json.loads(out if kind == "exec" else trace.read_text().splitlines()[1])
    if kind == "exec-batch":
        batch = tmp_path / "b.jsonl"
        batch.write_text(json.dumps({"path": str(PROGRAMS[0])}) + "\n")
        return json.loads(run(["exec", "--batch", str(batch)], capsys)[1])
    vectors = tmp_path / "v"
    what = kind.removeprefix("vectors-")
    kinds = "instruction" if what == "manifest" else what
    run(["vectors", str(vectors), "--kinds", kinds, "--limit", "1", "--programs", "1"], capsys)
    if what == "manifest":
        return json.loads((vectors / "manifest.json").read_text())
    first = next(p for p in sorted((vectors / what).rglob("*.jsonl")) if p.stat().st_size)
    return json.loads(first.read_text().splitlines()[0])


@pytest.mark.parametrize("kind", JSON_KINDS)
def test_schema_rejects_broken_documents(kind: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    doc = sample(kind, tmp_path, capsys)
    validate(kind, doc)
    key = next(k for k in doc if k not in ("format", "version"))  # the first field
    broken: list[tuple[str, dict[str, Any]]] = []
    missing = copy.deepcopy(doc)
    del missing[key]
    broken.append((f"missing {key}", missing))
    for name in ("format", "version"):
        gone = copy.deepcopy(doc)
        del gone[name]
        broken.append((f"missing {name}", gone))
    wrong_type = copy.deepcopy(doc)
    wrong_type[key] = [doc[key]] if not isinstance(doc[key], list) else {"x": doc[key]}
    broken.append((f"{key} of the wrong type", wrong_type))
    broken.append(("next version", {**doc, "version": doc["version"] + 1}))
    broken.append(("version as a string", {**doc, "version": str(doc["version"])}))
    broken.append(("another format", {**doc, "format": doc["format"] + "-x"}))
    broken.append(("a field of a later version", {**doc, "added_later": 1}))
    for what, bad in broken:
        assert not is_valid(kind, bad), f"{kind}: {what} accepted"


@pytest.mark.parametrize(("kind", "path", "value"), [
    ("exec", ("result", "registers"), [0] * 10),
    ("exec", ("result", "fault"), {"code": "memory_access"}),
    ("exec", ("result", "memory"), [{"address": 1, "hex": "abc"}]),
    ("exec", ("exit_code", ), 7),
    ("exec", ("profile", ), "windows"),
    ("exec-trace", ("registers", ), {"r11": 1}),
    ("exec-trace", ("registers", ), {"r0": -1}),
    ("exec-trace", ("instruction", "hex"), "b7"),
    ("exec-batch", ("error", ), "x"),
    ("exec-batch", ("line", ), "no line number"),
    ("run", ("slots", ), [{"slot": 0}]),
    ("run", ("totals", "slots"), -1),
    ("verify", ("verify_verdict", ), "MAYBE"),
    ("verify", ("programs", ), [{"name": "p"}]),
    ("explore", ("verdict", ), "PROVED"),
    ("prove", ("results", ), [{"invariant": "x", "status": "HOLDS", "obligations": 1}]),
    ("replay", ("verdict", ), "HOLDS"),
    ("interleave", ("invocations", ), 1),
    ("trace", ("steps", ), [{"action": "Fly"}]),
    ("trace", ("bundle_sha256", ), "abc"),
    ("vectors-manifest", ("files", ), [{"path": "x", "kind": "other", "vectors": 0,
                                        "sha256": "0" * 64}]),
])
def test_schema_rejects_wrong_nested_values(kind: str, path: tuple[str, ...], value: object,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    doc = sample(kind, tmp_path, capsys)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not is_valid(kind, doc)
