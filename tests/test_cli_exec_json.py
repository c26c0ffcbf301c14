"""``spec-check exec --format json``, ``--trace-out`` and ``--batch``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import programs

from arspec.cli.exec_run import ExecRequest, run_request
from arspec.cli.main import main
from arspec.cli.vectors import instruction_sources as sources
from arspec.cli.vectors.instruction import load, run_program
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.encoder import encode
from arspec.reference.isa.instructions import Program
from arspec.reference.vm.profiles import INPUT_BASE
from arspec.spec.errors import ArspecError

ROOT = Path(__file__).resolve().parents[1]
LOOP = ROOT / "examples" / "programs" / "counting_loop.s"

#: Stores, lddw, a helper that writes the input (memfrob), a local call with its own frame.
MIXED = """\
    lddw %r6, 0x1122334455667788
    stxdw [%r10-8], %r6
    mov %r7, %r1
    mov %r2, 3
    call 2
    mov %r1, 5
    call local twice
    stxw [%r10-16], %r0
    ldxb %r0, [%r7+0]
    exit
twice:
    stxdw [%r10-8], %r1
    ldxdw %r0, [%r10-8]
    add %r0, %r0
    exit
"""
#: A store past the end of a 4-byte input: a memory fault at pc 2 with an address.
FAULTING = "mov %r0, 1\nmov %r2, 7\nstxdw [%r1+8], %r2\nexit\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def source(tmp_path: Path, text: str, name: str = "p.s") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def exec_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out, err = run(["exec", *argv, "--format", "json"], capsys)
    assert err == ""
    return code, json.loads(out)


# --------------------------------------------------------------------------- --format json


def test_json_has_every_register_and_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = exec_json([str(LOOP)], capsys)
    assert code == doc["exit_code"] == 0
    assert (doc["format"], doc["version"], doc["profile"]) == ("arspec-exec", 1, "linux")
    result = doc["result"]
    assert result["status"] == "exit" and result["fault"] is None
    assert len(result["registers"]) == 11 and result["registers"][0] == 55
    assert result["instructions"] == result["compute_units"] == 33
    assert result["memory"] == [] and result["logs"] == []


def test_json_lists_bytes_written_by_stores_and_helpers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = exec_json([str(source(tmp_path, MIXED)), "--mem", "01 02 03 04"], capsys)
    assert code == 0
    result = doc["result"]
    assert result["registers"][0] == 1 ^ 42
    stack_top = result["registers"][10]
    assert result["memory"] == [
        {"address": stack_top - 16, "hex": "0a000000"},
        {"address": stack_top - 8, "hex": "8877665544332211"},
        {"address": stack_top + 512 - 8, "hex": "0500000000000000"},  # the callee's frame
        {"address": INPUT_BASE, "hex": bytes([1 ^ 42, 2 ^ 42, 3 ^ 42]).hex()},
    ]
    assert doc["input"] == "01020304"


def test_json_is_the_vector_encoders_shape(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A program without helper calls gives exactly an instruction vector's expected object."""
    text = "mov %r3, 9\nstxdw [%r10-8], %r3\nstxb [%r1+1], %r3\nldxdw %r0, [%r10-8]\nexit\n"
    code_bytes = encode(assemble(text))
    expected = run_program(code_bytes, profile="linux", loader="raw",
                           input_region=bytes(4), registers={"r1": INPUT_BASE, "r2": 4},
                           compute_limit=10**10, helpers="plugin")
    _, doc = exec_json([str(source(tmp_path, text)), "--mem", "00000000"], capsys)
    assert doc["result"] == expected


def test_json_fault_has_a_stable_code_pc_and_address(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = exec_json([str(source(tmp_path, FAULTING)), "--mem", "00 00 00 00"], capsys)
    assert code == doc["exit_code"] == 1
    fault = doc["result"]["fault"]
    assert doc["result"]["status"] == "fault"
    assert (fault["code"], fault["pc"], fault["address"]) == ("memory_access", 2, INPUT_BASE + 8)
    assert doc["result"]["registers"][2] == 7


def test_json_instruction_limit_is_a_fault_without_address(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = exec_json([str(LOOP), "--insn-limit", "5"], capsys)
    assert code == 1 and doc["compute_limit"] == 5
    assert doc["result"]["fault"]["code"] == "instruction_limit"
    assert doc["result"]["fault"]["address"] is None
    assert doc["result"]["compute_units"] == 5


def test_json_solana_non_zero_r0_exits_one(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = source(tmp_path, "mov %r0, 3\nexit\n")
    code, doc = exec_json([str(path), "--profile", "solana"], capsys)
    assert code == doc["exit_code"] == 1 and doc["result"]["fault"] is None
    code, doc = exec_json([str(source(tmp_path, "mov %r0, 0\nexit\n", "z.s")), "--profile",
                           "solana"], capsys)
    assert code == 0 and doc["profile"] == "solana"


def test_json_agrees_with_text_on_every_count(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = str(source(tmp_path, MIXED))
    _, text, _ = run(["exec", path, "--mem", "01 02 03 04"], capsys)
    _, doc = exec_json([path, "--mem", "01 02 03 04"], capsys)
    result = doc["result"]
    assert f"r0 = {result['registers'][0]:#x}" in text
    assert f"instructions: {result['instructions']}" in text
    assert f"compute units: {result['compute_units']}" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["does-not-exist.s"], "does-not-exist.s: error: no such file"),
    ([str(LOOP), "--mem", "zz"], "--mem: invalid hex digit 'z'"),
    ([str(LOOP), "--format", "yaml"], "invalid choice: 'yaml'"),
    ([], "the following arguments are required: program (or --batch FILE)"),
    ([str(LOOP), "--trace"], "--trace (text events) cannot be combined with --format json"),
])
def test_json_bad_input_is_one_line_exit_2(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["exec", *argv, "--format", "json"], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and message in err


def test_json_program_that_does_not_decode_is_exit_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes.fromhex("ff00000000000000" "9500000000000000"))
    code, out, err = run(["exec", str(path), "--format", "json"], capsys)
    assert (code, out) == (2, "")
    assert err == f"{path}: error: pc 0: unknown opcode (opcode 0xff)\n"


# --------------------------------------------------------------------------- --trace-out


def read_trace(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def replay_registers(lines: list[dict[str, Any]]) -> list[int]:
    registers = dict(lines[0]["entry"])
    for line in lines:
        registers.update(line.get("registers", {}))
    return [registers[f"r{i}"] for i in range(11)]


def replay_memory(lines: list[dict[str, Any]]) -> dict[int, int]:
    memory: dict[int, int] = {}
    for line in lines:
        for write in line.get("memory", []):
            for i, byte in enumerate(bytes.fromhex(write["hex"])):
                memory[write["address"] + i] = byte
    return memory


def trace_and_result(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
                     ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    trace = tmp_path / "trace.jsonl"
    _, doc = exec_json([*argv, "--trace-out", str(trace)], capsys)
    return read_trace(trace), doc["result"]


def test_trace_replays_to_the_final_registers_and_memory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines, result = trace_and_result([str(source(tmp_path, MIXED)), "--mem", "01020304"],
                                     tmp_path, capsys)
    assert len(lines) == result["instructions"] == 14
    assert [line["step"] for line in lines] == list(range(14))
    assert {(line["format"], line["version"]) for line in lines} == {("arspec-exec-trace", 1)}
    assert replay_registers(lines) == result["registers"]
    final = replay_memory(lines)
    for write in result["memory"]:
        data = bytes.fromhex(write["hex"])
        assert bytes(final[write["address"] + i] for i in range(len(data))) == data
    assert sum(len(bytes.fromhex(w["hex"])) for w in result["memory"]) == len(final)
    assert lines[-1]["compute_units"] == result["compute_units"]
    units = [line["compute_units"] for line in lines]
    assert units == sorted(units)


def test_trace_lines_name_the_instruction(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    lines, _ = trace_and_result([str(source(tmp_path, MIXED)), "--mem", "01020304"], tmp_path,
                                capsys)
    first = lines[0]
    assert first["pc"] == 0 and first["instruction"]["hex"] == "18060000887766550000000044332211"
    assert first["instruction"]["text"] == "r6 = 0x1122334455667788 ll"
    assert first["registers"] == {"r6": 0x1122334455667788}
    assert lines[1]["pc"] == 2  # after the two slots of lddw
    assert all(line["entry"] is None for line in lines[1:])
    call = next(line for line in lines if line["instruction"]["text"] == "call 2")
    assert call["memory"] == [{"address": INPUT_BASE, "hex": "2b2829"}]  # memfrob's bytes
    local = next(line for line in lines if line["instruction"]["text"].startswith("call pc"))
    assert set(local["registers"]) == {"r10"}


def test_trace_ends_with_the_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines, result = trace_and_result([str(source(tmp_path, FAULTING)), "--mem", "00000000"],
                                     tmp_path, capsys)
    assert "fault" not in lines[-2] and lines[-2]["pc"] == 2
    assert lines[-1]["fault"] == result["fault"]
    assert lines[-1]["step"] == len(lines) - 1 and "pc" not in lines[-1]
    assert lines[-1]["compute_units"] == result["compute_units"]
    assert replay_registers(lines[:-1]) == result["registers"]


def test_trace_of_an_instruction_limit_ends_with_the_fault(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines, result = trace_and_result([str(LOOP), "--insn-limit", "7"], tmp_path, capsys)
    assert len(lines) == 8 and lines[-1]["fault"]["code"] == "instruction_limit"
    assert replay_registers(lines[:-1]) == result["registers"]


def test_text_trace_and_trace_out_together_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["exec", str(LOOP), "--trace", "--trace-out", str(tmp_path / "t")],
                         capsys)
    assert (code, out) == (2, "") and "cannot be combined with --trace-out" in err
    assert not (tmp_path / "t").exists()


def test_trace_with_text_output_keeps_the_text(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.jsonl"
    code, out, _ = run(["exec", str(LOOP), "--trace-out", str(trace)], capsys)
    assert code == 0 and "r0 = 0x37 (55)" in out and "fault: none" in out
    assert len(trace.read_text().splitlines()) == 33


@pytest.mark.parametrize("count", [6])
def test_trace_replays_random_programs_of_both_generators(count: int) -> None:
    """Random programs of the differential generators (fixed seeds): replaying each trace's
    register changes gives the run's final registers, and its last line the run's units."""
    cases = sources.agave_cases(count) + sources.kernel_cases(count)
    ran = 0
    for name, inputs in cases:
        try:
            request = ExecRequest(load(bytes.fromhex(inputs["program"]), inputs["loader"]),
                                  inputs["profile"], b"", inputs["compute_limit"])
            out = io.StringIO()
            result = run_request(request, out)
        except ArspecError:  # a generated program the loader refuses: nothing ran
            continue
        ran += 1
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        body = [line for line in lines if "fault" not in line]
        assert len(body) == result["instructions"], name
        assert replay_registers(body) == result["registers"], name
        assert lines[-1]["compute_units"] == result["compute_units"], name
        assert ("fault" in lines[-1]) == (result["fault"] is not None), name
    assert ran >= count


def test_trace_out_that_cannot_be_written_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["exec", str(LOOP), "--trace-out", str(tmp_path / "no" / "t.jsonl")],
                         capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"{tmp_path / 'no' / 't.jsonl'}: error: cannot write the trace: ")


# --------------------------------------------------------------------------- --batch


def batch(tmp_path: Path, lines: list[str | bytes], capsys: pytest.CaptureFixture[str],
          *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n"
                              for x in lines))
    code, out, err = run(["exec", "--batch", str(path), *extra], capsys)
    return code, [json.loads(line) for line in out.splitlines()], err


LOOP_HEX = encode(assemble(LOOP.read_text())).hex()


def test_batch_results_equal_exec_json(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    source(tmp_path, MIXED, "mixed.s")
    code, out, err = batch(tmp_path, [
        json.dumps({"program": LOOP_HEX, "id": "loop"}),
        json.dumps({"path": "mixed.s", "input": "01020304"}),
        json.dumps({"program": LOOP_HEX, "profile": "solana", "limit": 100}),
    ], capsys)
    assert (code, err) == (1, "")  # solana: r0 = 55 fails the call
    assert [o["line"] for o in out] == [f"{tmp_path / 'batch.jsonl'}:{n}" for n in (1, 2, 3)]
    assert [o["exit_code"] for o in out] == [0, 0, 1]
    assert [o["id"] for o in out] == ["loop", None, None]
    assert all(o["error"] is None and o["format"] == "arspec-exec-batch" for o in out)
    _, doc = exec_json([str(tmp_path / "mixed.s"), "--mem", "01020304"], capsys)
    assert out[1]["result"] == doc["result"]
    _, doc = exec_json([str(LOOP)], capsys)
    assert out[0]["result"] == doc["result"]


def test_batch_defaults_come_from_the_options(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = batch(tmp_path, [json.dumps({"program": LOOP_HEX})], capsys,
                         "--insn-limit", "5")
    assert code == 1 and out[0]["result"]["fault"]["code"] == "instruction_limit"
    code, out, _ = batch(tmp_path, [json.dumps({"program": LOOP_HEX})], capsys,
                         "--profile", "solana")
    assert out[0]["profile"] == "solana" and code == 1


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "not JSON: Expecting property name enclosed in double quotes at column 2"),
    ("[1, 2]", "expected a JSON object, not list"),
    ('"abc"', "expected a JSON object, not str"),
    ("{}", "give exactly one of 'program' (hex bytecode) and 'path'"),
    (json.dumps({"program": LOOP_HEX, "path": "x.s"}), "give exactly one of"),
    (json.dumps({"program": LOOP_HEX, "mem": "00"}), "unknown key 'mem' (expected: program"),
    (json.dumps({"program": "zz"}), "'program' is not hex bytes: 'zz'"),
    (json.dumps({"program": 12}), "'program' must be a string, not int"),
    (json.dumps({"program": LOOP_HEX, "input": "abc"}), "'input' is not hex bytes"),
    (json.dumps({"program": LOOP_HEX, "profile": "windows"}), "unknown profile 'windows'"),
    (json.dumps({"program": LOOP_HEX, "limit": 0}), "'limit' must be a positive integer, not 0"),
    (json.dumps({"program": LOOP_HEX, "limit": True}), "not true"),
    (json.dumps({"program": LOOP_HEX, "limit": "5"}), 'not "5"'),
    (json.dumps({"program": LOOP_HEX, "section": ".text"}), "'section' applies only to a 'path'"),
    (json.dumps({"program": LOOP_HEX, "id": 3}), "'id' must be a string, not int"),
    (json.dumps({"path": "missing.s"}), "missing.s: no such file"),
    (json.dumps({"path": ""}), "'path' is empty"),
    (json.dumps({"path": "."}), ": is a directory"),
    (json.dumps({"program": "ff000000000000009500000000000000"}),
     "error: pc 0: unknown opcode (opcode 0xff)"),
    (json.dumps({"program": "b7000000"}), "error: "),  # half an instruction
])
def test_bad_line_is_one_error_object_and_the_batch_goes_on(
        line: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = batch(tmp_path, [line, json.dumps({"program": LOOP_HEX})], capsys)
    assert code == 2 and err == ""
    assert len(out) == 2
    where = f"{tmp_path / 'batch.jsonl'}:1"
    bad = out[0]
    assert bad["result"] is None and bad["exit_code"] == 2 and bad["line"] == where
    assert bad["error"].startswith(f"{where}: error: ") and reason in bad["error"]
    assert "\n" not in bad["error"]
    assert out[1]["error"] is None and out[1]["result"]["registers"][0] == 55


def test_bad_line_keeps_its_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = batch(tmp_path, [json.dumps({"program": "zz", "id": "seven"})], capsys)
    assert out[0]["id"] == "seven" and out[0]["error"] is not None


def test_blank_lines_are_skipped_and_numbers_kept(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = batch(tmp_path, ["", json.dumps({"program": LOOP_HEX}), "   ", b"\xff{}"],
                         capsys)
    assert code == 2
    assert [o["line"].rsplit(":", 1)[1] for o in out] == ["2", "4"]
    assert out[1]["error"].endswith("error: not UTF-8 text")


def test_batch_from_stdin(monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    data = (json.dumps({"program": LOOP_HEX}) + "\n{\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run(["exec", "--batch", "-"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and [o["line"] for o in lines] == ["<stdin>:1", "<stdin>:2"]
    assert lines[1]["error"].startswith("<stdin>:2: error: not JSON")


@pytest.mark.parametrize(("argv", "message"), [
    (["--batch", "missing.jsonl"], "missing.jsonl: error: cannot read the batch: "),
    (["--batch", "-", str(LOOP)], "--batch reads its programs from FILE; give no PROGRAM"),
    (["--batch", "-", "--trace-out", "t"], "--trace-out cannot be combined with --batch"),
    (["--batch", "-", "--mem", "00"], "--mem cannot be combined with --batch"),
    (["--batch", "-", "--trace"], "--trace cannot be combined with --batch"),
])
def test_batch_usage_errors_are_one_line(argv: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["exec", *argv], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and message in err


def test_outputs_are_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    import os
    import subprocess

    program = source(tmp_path, MIXED)
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"path": str(program), "input": "01020304"}) + "\n{\n")
    outputs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        trace = tmp_path / f"t{seed}.jsonl"
        single = subprocess.run(
            [sys.executable, "-m", "arspec.cli", "exec", str(program), "--mem", "01020304",
             "--format", "json", "--trace-out", str(trace)],
            capture_output=True, env=env, check=False)
        many = subprocess.run([sys.executable, "-m", "arspec.cli", "exec", "--batch",
                               str(batch)], capture_output=True, env=env, check=False)
        assert (single.returncode, many.returncode) == (0, 2)
        outputs.append((single.stdout, trace.read_bytes(), many.stdout))
    assert outputs[0] == outputs[1] == outputs[2]


#: ``call_back`` (helper 8) runs the function at ``cb`` three times with r1 = 0, 1, 2.
CALLBACK = """\
    mov %r6, 7
    lddw %r1, 0x100000040
    mov %r2, 3
    mov %r3, 10
    call 8
    add %r0, %r6
    exit
cb:
    stxdw [%r10-8], %r1
    mov %r0, %r1
    add %r0, %r2
    exit
"""


def test_trace_through_callbacks_replays(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    lines, result = trace_and_result([str(source(tmp_path, CALLBACK))], tmp_path, capsys)
    assert result["registers"][0] == (0 + 10) + (1 + 10) + (2 + 10) + 7
    assert [line["pc"] for line in lines].count(8) == 3  # the callback's first instruction
    assert replay_registers(lines) == result["registers"]
    stores = [w for line in lines for w in line["memory"]]
    assert [w["hex"][:2] for w in stores] == ["00", "01", "02"]
    assert result["memory"] == [stores[-1]]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(program=programs(max_len=10), data=st.binary(max_size=16))
def test_any_decodable_program_traces_to_its_result(program: Program, data: bytes) -> None:
    """For any program the strategies build (loops, faults, calls, atomics, lddw): the trace
    has one line per executed instruction, replays to the final registers, its writes
    replay to the bytes the result lists, and it ends in the result's fault if any."""
    request = ExecRequest(program, "linux", data, 200)
    out = io.StringIO()
    try:
        result = run_request(request, out)
    except ArspecError:  # the profile's loader refuses it: nothing runs, nothing is traced
        assert out.getvalue() == ""
        return
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    body = [line for line in lines if "fault" not in line]
    assert len(body) == result["instructions"]
    if body:
        assert replay_registers(body) == result["registers"]
    final = replay_memory(body)
    for write in result["memory"]:
        data_written = bytes.fromhex(write["hex"])
        assert bytes(final[write["address"] + i] for i in range(len(data_written))) \
            == data_written
    if result["fault"] is None:
        assert len(lines) == len(body) and body[-1]["compute_units"] == result["compute_units"]
    else:
        assert lines[-1]["fault"] == result["fault"] and len(lines) == len(body) + 1
        assert lines[-1]["compute_units"] == result["compute_units"]


def test_program_the_loader_refuses_writes_no_trace(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = source(tmp_path, "mov %r0, 1\ndiv %r0, 0\nexit\n")  # solana refuses a 0 divisor
    trace = tmp_path / "t.jsonl"
    code, out, err = run(["exec", str(path), "--profile", "solana", "--format", "json",
                          "--trace-out", str(trace)], capsys)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert err == f"{path}: error: pc 1: division by zero: constant divisor 0 is rejected at load\n"
    assert not trace.exists()
    code, out, err = run(["exec", str(path), "--profile", "solana"], capsys)
    assert (code, out) == (2, "") and err.startswith(f"{path}: error: pc 1: division by zero")
