"""Vectors written by ``write_vectors`` pass through the independent reader, and the reader
catches every kind of wrong answer.

The vectors are read back ONLY through ``examples/vectors/reader.py`` (standard library
only); arspec answers them from plain values (bytes, ints, the YAML text). A fixed small
sample keeps this fast; ``benchmarks/write_vectors.py`` writes and checks the full set.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from arspec.cli.vectors import render_summary, write_vectors
from arspec.cli.vectors.answer import (
    ANSWERS,
    answer_instruction,
    answer_runtime,
    answer_verifier,
)
from arspec.cli.vectors.writer import schema_text
from arspec.reference.differential.conformance import parse_data_file
from arspec.spec.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
READER_PATH = ROOT / "examples" / "vectors" / "reader.py"


def _load_reader() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vector_reader", READER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reader = _load_reader()


run_instruction = answer_instruction
run_runtime = answer_runtime
run_verifier = answer_verifier
RUNS = ANSWERS


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vectors")
    write_vectors(out, limit=4, programs=4)
    return out


@pytest.fixture(scope="module")
def vectors(written: Path) -> dict[str, list[dict[str, Any]]]:
    return reader.load_vectors(written)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ positive


def test_arspec_passes_every_vector_it_wrote(vectors: dict[str, list[dict[str, Any]]]) -> None:
    counts = {kind: len(items) for kind, items in vectors.items()}
    # 4 of each of the 4 instruction sources; 4 bundles' slots; 4 examples' and 4 corpus
    # bundles' verdicts
    assert counts["instruction"] == 16
    assert counts["runtime"] >= 4 and counts["verifier"] == 8
    assert reader.check_all(vectors, RUNS) == {}


def test_sample_covers_both_profiles_and_every_instruction_source(
        vectors: dict[str, list[dict[str, Any]]]) -> None:
    sources = {v["source"] for v in vectors["instruction"]}
    assert sources == {"conformance", "agave", "kernel", "edge"}
    assert {v["input"]["profile"] for v in vectors["instruction"]} == {"linux", "solana"}


def test_vectors_name_the_spec_functions_they_exercise(
        vectors: dict[str, list[dict[str, Any]]]) -> None:
    for kind in ("runtime", "verifier"):
        for vector in vectors[kind]:
            names = vector["exercises"]
            assert names == sorted(set(names)), vector["id"]
            assert names and all(n.startswith("arspec.spec.") for n in names), vector["id"]
    runtime_names = {n for v in vectors["runtime"] for n in v["exercises"]}
    assert "arspec.spec.scheduler.process_slot" in runtime_names
    faulting = [v for v in vectors["instruction"] if v["expected"]["status"] == "fault"]
    assert faulting and all("arspec.spec.errors.ExecutionFault.__init__" in v["exercises"]
                            for v in faulting)


def test_conformance_vectors_agree_with_their_data_files(
        vectors: dict[str, list[dict[str, Any]]]) -> None:
    # The expectations come from arspec's run; the .data files are an independent statement.
    checked = 0
    for vector in vectors["instruction"]:
        if vector["source"] != "conformance":
            continue
        name = vector["id"].removeprefix("conformance/").rsplit("/", 1)[0]
        case = parse_data_file(ROOT / "tests" / "conformance" / f"{name}.data")
        expected = vector["expected"]
        if case.expects_error:
            assert expected["status"] in ("fault", "refused"), vector["id"]
        else:
            assert expected["status"] == "exit" and expected["registers"][0] == case.result
        checked += 1
    assert checked == 4


def test_every_vector_matches_its_schema(written: Path,
                                         vectors: dict[str, list[dict[str, Any]]]) -> None:
    for kind, items in vectors.items():
        schema = json.loads((written / "schemas" / f"{kind}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        for vector in items:
            jsonschema.validate(vector, schema)


def test_docs_publish_the_schemas() -> None:
    for kind in reader.KINDS:
        published = ROOT / "docs" / "vectors" / f"{kind}.schema.json"
        assert published.read_text(encoding="utf-8") == schema_text(kind), kind


def test_writing_twice_gives_identical_bytes(written: Path, tmp_path: Path) -> None:
    write_vectors(tmp_path, limit=4, programs=4)
    first = sorted(p.relative_to(written) for p in written.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert first == second
    for relative in first:
        assert (written / relative).read_bytes() == (tmp_path / relative).read_bytes()


def test_summary_counts_per_kind_and_profile(tmp_path: Path) -> None:
    summary = write_vectors(tmp_path, kinds=("instruction",), limit=2, programs=2)
    assert summary.total == 8
    assert set(summary.counts) == {("instruction", "linux"), ("instruction", "solana")}
    text = render_summary(summary)
    assert text.startswith(f"wrote 8 vectors in {len(summary.files)} files")
    assert not (tmp_path / "runtime").exists()
    assert "schemas/instruction.schema.json" in summary.files


# ------------------------------------------------------------------ negative: the reader fails


def _first(vectors: dict[str, list[dict[str, Any]]], kind: str,
           pick: Callable[[dict[str, Any]], bool] = lambda v: True) -> dict[str, Any]:
    return copy.deepcopy(next(v for v in vectors[kind] if pick(v)))


def _exits(v: dict[str, Any]) -> bool:
    return v["expected"]["status"] == "exit"  # type: ignore[no-any-return]


@pytest.mark.parametrize("register", [0, 5, 10])
def test_flipped_expected_register_fails(vectors: dict[str, list[dict[str, Any]]],
                                         register: int) -> None:
    vector = _first(vectors, "instruction", _exits)
    vector["expected"]["registers"][register] ^= 1
    problems = reader.check_instruction(vector, run_instruction)
    assert len(problems) == 1 and problems[0].startswith(f"r{register}: expected")


def test_flipped_expected_memory_byte_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "instruction", lambda v: bool(v["expected"]["memory"]))
    region = vector["expected"]["memory"][0]
    region["hex"] = f"{int(region['hex'][:2], 16) ^ 0x80:02x}" + region["hex"][2:]
    problems = reader.check_instruction(vector, run_instruction)
    assert problems == [problems[0]] and problems[0].startswith(
        f"memory {region['address']:#x}:")


def test_missing_written_range_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "instruction", lambda v: bool(v["expected"]["memory"]))
    vector["expected"]["memory"] = []
    assert reader.check_instruction(vector, run_instruction)


@pytest.mark.parametrize("field,value", [("code", "division_by_zero"), ("pc", 999),
                                         ("address", 0x1234)])
def test_changed_fault_fails(vectors: dict[str, list[dict[str, Any]]], field: str,
                             value: object) -> None:
    vector = _first(vectors, "instruction", lambda v: v["expected"]["status"] == "fault")
    vector["expected"]["fault"][field] = value
    problems = reader.check_instruction(vector, run_instruction)
    assert problems and problems[0].startswith(f"fault {field}:")


def test_fault_expected_where_none_happens_fails(
        vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "instruction", _exits)
    vector["expected"]["fault"] = {"code": "memory_access", "pc": 0, "address": 0,
                                   "message": ""}
    assert any(p.startswith("fault:") for p in reader.check_instruction(vector,
                                                                        run_instruction))


def test_changed_compute_units_and_status_fail(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "instruction", _exits)
    vector["expected"]["compute_units"] += 1
    assert reader.check_instruction(vector, run_instruction)[0].startswith("compute_units")
    vector = _first(vectors, "instruction", _exits)
    vector["expected"]["status"] = "fault"
    assert reader.check_instruction(vector, run_instruction)[0].startswith("status")


def test_wrong_implementation_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    def off_by_one(inputs: dict[str, Any]) -> dict[str, Any]:
        result = run_instruction(inputs)
        if result["registers"] is not None:
            result["registers"][0] = (result["registers"][0] + 1) % (1 << 64)
        result["logs"] = [*result["logs"], "extra"]
        return result

    failed = reader.check_all({"instruction": vectors["instruction"], "runtime": [],
                               "verifier": []}, {"instruction": off_by_one})
    assert len(failed) == len(vectors["instruction"])


def _flip_hex(value: Any) -> bool:
    """Flip the first bit of the first non-empty hex string inside ``value``, in place."""
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if key in ("value", "data", "live") and isinstance(item, str) and item:
                value[key] = f"{int(item[0], 16) ^ 8:x}" + item[1:]
                return True
            if _flip_hex(item):
                return True
    if isinstance(value, list):
        return any(_flip_hex(item) for item in value)
    return False


def test_flipped_state_byte_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "runtime")
    assert _flip_hex(vector["expected"]["state_after"]["maps"])
    problems = reader.check_runtime(vector, run_runtime)
    assert len(problems) == 1 and problems[0].startswith("state_after.maps[")


def test_flipped_state_before_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "runtime")
    vector["input"]["state_before"]["slot_cu_used"] += 1
    assert reader.check_runtime(vector, run_runtime) == [
        f"state_before.slot_cu_used: expected {vector['input']['state_before']['slot_cu_used']}"
        f", got {vector['input']['state_before']['slot_cu_used'] - 1}"]


def test_changed_or_missing_event_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "runtime", lambda v: len(v["expected"]["events"]) > 1)
    vector["expected"]["events"][0]["charged"] += 7
    assert reader.check_runtime(vector, run_runtime)[0].startswith("events[0].charged")
    vector = _first(vectors, "runtime", lambda v: len(v["expected"]["events"]) > 1)
    vector["expected"]["events"].pop()
    assert any("items, expected" in p for p in reader.check_runtime(vector, run_runtime))


def test_changed_account_or_fifo_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "runtime")
    vector["expected"]["state_after"]["fifo"].append({"seq": 99})
    assert reader.check_runtime(vector, run_runtime)
    vector = _first(vectors, "runtime")
    vector["expected"]["state_after"]["slot"] += 1
    assert reader.check_runtime(vector, run_runtime) == [
        f"state_after.slot: expected {vector['expected']['state_after']['slot']}, got "
        f"{vector['expected']['state_after']['slot'] - 1}"]


def test_runtime_fault_wording_and_details_are_not_compared(
        vectors: dict[str, list[dict[str, Any]]]) -> None:
    def reworded(inputs: dict[str, Any]) -> dict[str, Any]:
        out = run_runtime(inputs)
        for event in out["events"]:
            event["detail"] = "something else"
            if event["outcome"] is not None and event["outcome"]["fault"] is not None:
                event["outcome"]["fault"] = "another wording"
        return out

    faulting = [v for v in vectors["runtime"] if any(
        e["outcome"] and e["outcome"]["fault"] for e in v["expected"]["events"])]
    assert faulting
    for vector in faulting:
        assert reader.check_runtime(vector, reworded) == []


def test_runtime_fault_missing_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    def no_faults(inputs: dict[str, Any]) -> dict[str, Any]:
        out = run_runtime(inputs)
        for event in out["events"]:
            if event["outcome"] is not None:
                event["outcome"]["fault"] = None
        return out

    vector = _first(vectors, "runtime", lambda v: any(
        e["outcome"] and e["outcome"]["fault"] for e in v["expected"]["events"]))
    problems = reader.check_runtime(vector, no_faults)
    assert problems and all(".outcome.fault: expected True, got None" in p for p in problems)


@pytest.mark.parametrize("wrong,how", [("flip", "contradiction"), ("UNKNOWN", "weaker")])
def test_changed_verdict_fails(vectors: dict[str, list[dict[str, Any]]], wrong: str,
                               how: str) -> None:
    vector = _first(vectors, "verifier", lambda v: any(
        "UNKNOWN" not in p["verdicts"].values() for p in v["expected"]["programs"]))
    program = next(p for p in vector["expected"]["programs"]
                   if "UNKNOWN" not in p["verdicts"].values())
    prop, verdict = sorted(program["verdicts"].items())[0]
    if wrong == "flip":
        wrong = "REFUTED" if verdict == "PROVED" else "PROVED"
        program["verdicts"][prop] = wrong
    else:
        # the implementation answers UNKNOWN where arspec decides
        def unsure(inputs: dict[str, Any]) -> dict[str, Any]:
            out = run_verifier(inputs)
            for p in out["programs"]:
                if p["name"] == program["name"]:
                    p["verdicts"][prop] = "UNKNOWN"
            return out
        problems = reader.check_verifier(vector, unsure)
        assert problems == [f"{program['name']} {prop}: expected {verdict}, got UNKNOWN "
                            f"({how})"]
        return
    problems = reader.check_verifier(vector, run_verifier)
    assert problems == [f"{program['name']} {prop}: expected {wrong}, got {verdict} ({how})"]


def test_missing_or_extra_program_fails(vectors: dict[str, list[dict[str, Any]]]) -> None:
    vector = _first(vectors, "verifier")
    vector["expected"]["programs"].append({"name": "ghost", "verdicts": {}})
    assert reader.check_verifier(vector, run_verifier) == ["ghost: no verdicts"]
    vector = _first(vectors, "verifier")
    dropped = vector["expected"]["programs"].pop(0)["name"]
    assert reader.check_verifier(vector, run_verifier) == [f"{dropped}: unexpected program"]


def test_reader_refuses_wrong_envelope(written: Path, tmp_path: Path) -> None:
    line = (written / "instruction" / "edge.jsonl").read_text().splitlines()[0]
    for field, value in (("format", "other"), ("version", 2), ("kind", "mystery")):
        vector = json.loads(line)
        vector[field] = value
        path = tmp_path / f"{field}.jsonl"
        path.write_text(json.dumps(vector) + "\n")
        with pytest.raises(ValueError, match=f"{field}.jsonl:1: "):
            list(reader.iter_file(path))
    vector = json.loads(line)
    del vector["expected"]
    assert reader.check_envelope(vector) == ["no 'expected' field"]


def test_reader_refuses_edited_file(written: Path, tmp_path: Path) -> None:
    copy_dir = tmp_path / "copy"
    for path in written.rglob("*"):
        if path.is_file():
            target = copy_dir / path.relative_to(written)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    edited = copy_dir / "instruction" / "edge.jsonl"
    edited.write_text(edited.read_text().replace('"exit"', '"fault"', 1))
    with pytest.raises(ValueError, match="SHA-256 differs"):
        reader.read_manifest(copy_dir)
    assert reader.main([str(copy_dir)]) == 2
    assert reader.main([]) == 2


def test_schema_rejects_malformed_vector(written: Path,
                                         vectors: dict[str, list[dict[str, Any]]]) -> None:
    schema = json.loads((written / "schemas" / "instruction.schema.json").read_text())
    vector = _first(vectors, "instruction", _exits)
    vector["expected"]["registers"] = vector["expected"]["registers"][:10]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(vector, schema)
    vector = _first(vectors, "instruction")
    vector["input"]["program"] = "xyz"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(vector, schema)


def test_bad_kind_or_output_path_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown vector kind 'bogus'"):
        write_vectors(tmp_path, kinds=("bogus",))
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(InputError, match="not a folder"):
        write_vectors(afile, kinds=("instruction",), limit=1, programs=1)
    with pytest.raises(InputError, match=r"no folder tests/conformance under .*checkout"):
        write_vectors(tmp_path / "out", root=tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_full_set_passes_through_the_reader(tmp_path: Path) -> None:
    summary = write_vectors(tmp_path)
    assert summary.counts[("instruction", "linux")] > 800
    assert summary.counts[("instruction", "solana")] > 400
    assert summary.counts[("runtime", "solana")] > 300
    assert summary.counts[("verifier", "solana")] > 30
    loaded = reader.load_vectors(tmp_path)
    assert reader.check_all(loaded, RUNS) == {}
    for vector in loaded["instruction"]:
        if vector["source"] != "conformance":
            continue
        name = vector["id"].removeprefix("conformance/").rsplit("/", 1)[0]
        case = parse_data_file(ROOT / "tests" / "conformance" / f"{name}.data")
        if case.expects_error:
            assert vector["expected"]["status"] in ("fault", "refused"), vector["id"]
        else:
            assert vector["expected"]["registers"][0] == case.result, vector["id"]
    _agree_with_corpus(loaded["verifier"])


def _agree_with_corpus(vectors: list[dict[str, Any]]) -> int:
    """Check corpus vectors against the corpus's own expectations; return how many."""
    expect = {f"corpus/{file.stem}/{case['test-case']}": case.get("expect", {})
              for file in sorted((ROOT / "tests" / "checker" / "bundles").glob("*.yaml"))
              for case in yaml.safe_load(file.read_text())["cases"]}
    checked = 0
    for vector in vectors:
        if not vector["id"].startswith("corpus/"):
            continue
        got = {p["name"]: p["verdicts"] for p in vector["expected"]["programs"]}
        for program, props in expect[vector["id"]].items():
            for prop, want in props.items():
                allowed = ("REFUTED", "UNKNOWN") if want == "NOT_PROVED" else (want,)
                assert got[program][prop] in allowed, (vector["id"], program, prop)
        checked += 1
    return checked


def test_corpus_verdicts_agree_with_the_corpus(vectors: dict[str, list[dict[str, Any]]]) -> None:
    assert _agree_with_corpus(vectors["verifier"]) == 4
