"""The ``arspec-bpf-plugin`` protocol (bpf_conformance): every conformance vector through the
plugin in-process, a few true subprocess runs of the installed executable, and bad input."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arspec.reference.differential import plugin
from arspec.reference.differential.conformance import (
    ConformanceCase,
    find_data_files,
    load_program,
    parse_data_file,
)
from arspec.reference.isa.encoder import encode
from arspec.spec.errors import DecodeError, InputError

ROOT = Path(__file__).parent / "conformance"
EXIT_HEX = "95 00 00 00 00 00 00 00"
MOV_R0_42 = "b7 00 00 00 2a 00 00 00"


def _hex(data: bytes) -> str:
    """Encode like the suite does: ``%02x`` followed by two spaces."""
    return "".join(f"{b:02x}  " for b in data)


def _run(argv: list[str], program: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = plugin.run(argv, io.StringIO(program), out, err)
    return code, out.getvalue(), err.getvalue()


def _program_hex(case: ConformanceCase) -> str | None:
    try:
        return _hex(encode(load_program(case)))
    except DecodeError:
        raw = case.raw_bytes()
        assert raw is not None
        return _hex(raw)
    except InputError:
        return None  # an assembly error: nothing to hand the plugin


CASES = [(p, parse_data_file(p)) for p in find_data_files(ROOT)]
RUNS = [pytest.param(case, profile, id=f"{path.relative_to(ROOT).as_posix()}[{profile}]")
        for path, case in CASES for profile in case.profiles]


@pytest.mark.parametrize(("case", "profile"), RUNS)
def test_vector_through_plugin(case: ConformanceCase, profile: str) -> None:
    program = _program_hex(case)
    if program is None:
        assert case.expects_error  # assembler errors only
        return
    argv = [_hex(case.mem), f"--profile {profile} --insn-limit {case.insn_limit}"]
    code, out, err = _run(argv, program)
    assert "Traceback" not in err
    if case.result is not None and not case.expects_error:
        assert (code, out, err) == (0, f"{case.result:x}\n", "")
        return
    assert code in (1, 2) and out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    if case.error is not None:
        assert case.error in err
    if err.startswith("pc "):
        assert code == 2  # decode errors are bad input
    else:
        assert code == 1 and " at pc " in err  # faults name the fault and the pc


def test_inventory_of_plugin_runs() -> None:
    with_result = [c for _, c in CASES if c.result is not None and not c.expects_error]
    assert len(with_result) >= 200


# --------------------------------------------------------------------------- protocol


def test_result_is_lowercase_hex_without_prefix() -> None:
    program = "18 00 00 00 ef be ad de 00 00 00 00 fe ca 00 00 " + EXIT_HEX
    assert _run([], program) == (0, "cafedeadbeef\n", "")


def test_memory_argument_and_whitespace_forms() -> None:
    program = "61 10 00 00 00 00 00 00\n" + EXIT_HEX  # ldxw r0, [r1]
    assert _run(["01 02 03 04"], program)[1] == "4030201\n"
    assert _run(["01020304"], program)[1] == "4030201\n"
    assert _run(["01\n02\n03\n04\n"], "6110000000000000 9500000000000000")[1] == "4030201\n"
    assert _run(["01", "02", "03", "04"], program)[1] == "4030201\n"


def test_suite_style_empty_arguments() -> None:
    assert _run(["", ""], MOV_R0_42 + " " + EXIT_HEX) == (0, "2a\n", "")
    assert _run(["  ", " --profile   solana  "], MOV_R0_42 + EXIT_HEX) == (0, "2a\n", "")


def test_profile_option_changes_semantics() -> None:
    # mov r0, 1; mov r1, 0; div r0, r1; exit
    program = "b7 00 00 00 01 00 00 00 b7 01 00 00 00 00 00 00 3f 10 00 00 00 00 00 00 " + EXIT_HEX
    assert _run([], program) == (0, "0\n", "")
    assert _run(["--profile=linux"], program) == (0, "0\n", "")
    code, out, err = _run(["", "--profile", "solana"], program)
    assert (code, out) == (1, "")
    assert err.startswith("division by zero at pc 2")


def test_insn_limit_option() -> None:
    loop = "05 00 ff ff 00 00 00 00"  # ja -1
    code, out, err = _run(["", "--insn-limit 100"], loop)
    assert (code, out) == (1, "")
    assert err.startswith("instruction limit exceeded at pc 0")
    assert _run(["--insn-limit=2"], MOV_R0_42 + EXIT_HEX) == (0, "2a\n", "")
    assert _run(["--insn-limit", "0x2"], MOV_R0_42 + EXIT_HEX) == (0, "2a\n", "")
    assert _run(["--insn-limit", "1"], MOV_R0_42 + EXIT_HEX)[0] == 1


def test_default_limit_allows_a_billion_instructions() -> None:
    assert plugin.DEFAULT_INSN_LIMIT >= 10**9 + 10


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("argv", "program", "expected"), [
    ([], "b7 0g", "<stdin>:1:5: error: invalid hex digit 'g'"),
    ([], "b7 00\n0x95", "<stdin>:2:2: error: invalid hex digit 'x'"),
    ([], "b7 0 00", "<stdin>:1:4: error: odd number of hex digits in '0'"),
    ([], "b70", "<stdin>:1:1: error: odd number of hex digits in 'b70'"),
    (["zz"], EXIT_HEX, "<memory argument>:1:1: error: invalid hex digit 'z'"),
    (["012"], EXIT_HEX, "<memory argument>:1:1: error: odd number of hex digits"),
    ([], "", "pc 0: empty program"),
    ([], "  \n \n", "pc 0: empty program"),
    ([], "95 00 00 00", "pc 0: program length 4 is not a multiple of 8"),
    ([], "00 00 00 00 00 00 00 00", "pc 0: unknown opcode (opcode 0x00)"),
    ([], "18 00 00 00 00 00 00 00", "pc 0: lddw is missing its second slot"),
    (["--frobnicate"], EXIT_HEX, "<command line>: error: unknown option '--frobnicate'"),
    (["", "-x"], EXIT_HEX, "<command line>: error: unknown option '-x'"),
    (["", "--profile"], EXIT_HEX, "<command line>: error: option --profile needs a value"),
    (["", "--profile windows"], EXIT_HEX, "<command line>: error: unknown profile 'windows'"),
    (["", "--insn-limit ten"], EXIT_HEX,
     "<command line>: error: --insn-limit needs an integer, got 'ten'"),
    (["", "--insn-limit 0"], EXIT_HEX, "<command line>: error: --insn-limit must be positive"),
    (["", "--insn-limit -5"], EXIT_HEX, "<command line>: error: --insn-limit must be positive"),
    (["", "--profile linux extra"], EXIT_HEX,
     "<command line>: error: unexpected argument 'extra'"),
])
def test_bad_input_exits_2_with_one_line(argv: list[str], program: str, expected: str) -> None:
    code, out, err = _run(argv, program)
    assert code == 2
    assert out == ""
    assert err.startswith(expected)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_fault_exits_1_and_names_fault_and_pc() -> None:
    program = "b7 01 00 00 00 00 00 00 79 10 00 00 00 00 00 00 " + EXIT_HEX  # ldxdw r0, [0]
    code, out, err = _run([], program)
    assert (code, out) == (1, "")
    assert err.startswith("memory fault at pc 1")
    assert err.count("\n") == 1


def test_main_reads_process_streams(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(MOV_R0_42 + " " + EXIT_HEX))
    assert plugin.main(["", ""]) == 0
    assert capsys.readouterr().out == "2a\n"
    assert plugin.main(["--help"]) == 0
    assert "usage: arspec-bpf-plugin" in capsys.readouterr().out


# --------------------------------------------------------------------------- subprocess

EXE = shutil.which("arspec-bpf-plugin")
needs_exe = pytest.mark.skipif(EXE is None, reason="arspec-bpf-plugin is not installed")


def _subprocess(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    assert EXE is not None
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


@needs_exe
@pytest.mark.parametrize("rel", ["alu64/add64-reg-1.data", "mem/ldxdw-off8.data",
                                 "call/call-preserves-r6-r9.data", "jmp/loop-count.data"])
def test_installed_plugin_runs_vectors(rel: str) -> None:
    case = parse_data_file(ROOT / rel)
    program = _program_hex(case)
    assert program is not None and case.result is not None
    done = _subprocess([_hex(case.mem), ""], program)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{case.result:x}\n", "")


@needs_exe
def test_installed_plugin_solana_fault_and_bad_input() -> None:
    div = "b7 00 00 00 01 00 00 00 b7 01 00 00 00 00 00 00 3f 10 00 00 00 00 00 00 " + EXIT_HEX
    done = _subprocess(["", "--profile solana"], div)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("division by zero at pc 2")
    for args, stdin in ((["", "--bogus"], EXIT_HEX), ([], "xyz"), ([], "")):
        done = _subprocess(args, stdin)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@needs_exe
def test_installed_plugin_binary_garbage_on_stdin() -> None:
    assert EXE is not None
    done = subprocess.run([EXE], input=b"\xff\xfe\x00garbage", capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.startswith(b"<stdin>") and done.stderr.count(b"\n") == 1


@needs_exe
def test_installed_plugin_stops_endless_loop() -> None:
    done = _subprocess(["", "--insn-limit 1000"], "05 00 ff ff 00 00 00 00")
    assert done.returncode == 1
    assert done.stderr.startswith("instruction limit exceeded at pc 0")
