"""The spec-check command line: single-program subcommands, exit codes and one-line errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from arspec.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
LOOP = ROOT / "examples" / "programs" / "counting_loop.s"
CHECKSUM = ROOT / "examples" / "programs" / "checksum.s"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    err = capsys.readouterr().err
    return code, out.getvalue(), err


def test_exec_counting_loop_prints_r0_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["exec", str(LOOP)], capsys)
    assert code == 0
    assert "r0 = 0x37 (55)" in out
    assert "instructions: 33" in out
    assert "fault: none" in out


def test_exec_reads_input_memory(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["exec", str(CHECKSUM), "--mem", "aa bb 11"], capsys)
    assert code == 0
    assert f"r0 = {0xaa + 0xbb + 0x11:#x}" in out


def test_asm_then_disasm_then_exec_binary(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "loop.bin"
    assert run(["asm", str(LOOP), "-o", str(binary)], capsys)[0] == 0
    assert binary.stat().st_size == 6 * 8
    code, out, _ = run(["disasm", str(binary)], capsys)
    assert code == 0
    assert out.splitlines()[0].strip().endswith("r0 = 0")
    code, out, _ = run(["exec", str(binary)], capsys)
    assert code == 0 and "(55)" in out


def test_asm_without_output_prints_hex(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["asm", str(LOOP)], capsys)
    assert code == 0
    assert out.split()[:8] == ["b7", "00", "00", "00", "00", "00", "00", "00"]


def test_exec_fault_exits_one_and_names_pc(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "bad.s"
    src.write_text("r0 = *(u64 *)(r1 + 0)\nexit\n")
    code, out, _ = run(["exec", str(src)], capsys)
    assert code == 1
    assert "fault: memory fault at pc 0" in out


def test_exec_instruction_limit_faults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["exec", str(LOOP), "--insn-limit", "32"], capsys)
    assert code == 1
    assert "instruction limit" in out
    code, out, _ = run(["exec", str(LOOP), "--insn-limit", "33"], capsys)
    assert code == 0


def test_exec_solana_division_by_zero_faults(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "div.s"
    src.write_text("r0 = 7\nr1 = 0\nr0 /= r1\nexit\n")
    assert run(["exec", str(src), "--profile", "linux"], capsys)[0] == 0
    code, out, _ = run(["exec", str(src), "--profile", "solana"], capsys)
    assert code == 1 and "division by zero" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["exec", "does-not-exist.s"], "does-not-exist.s: error: no such file"),
        (["exec", str(ROOT / "examples")], "is a directory"),
        (["exec", str(LOOP), "--mem", "zz"], "--mem: invalid hex digit 'z'"),
        (["exec", str(LOOP), "--mem", "abc"], "--mem: odd number of hex digits"),
        (["exec", str(LOOP), "--profile", "windows"], "invalid choice: 'windows'"),
        (["exec", str(LOOP), "--insn-limit", "-3"], "must be positive"),
        (["exec", str(LOOP), "--insn-limit", "ten"], "not an integer"),
        (["exec", str(LOOP), "--section", "xdp"], "--section applies only to ELF objects"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["exec"], "the following arguments are required: program"),
        (["asm"], "the following arguments are required: source"),
        (["exec", str(LOOP), "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_invalid_usage_is_one_line_exit_two(argv: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_invalid_assembly_names_file_and_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "typo.s"
    src.write_text("r0 = 1\nr0 += 2\nmvo r0, 1\nexit\n")
    code, _, err = run(["exec", str(src)], capsys)
    assert code == 2
    assert err.startswith(f"{src}:3:")
    assert len(err.strip().splitlines()) == 1


def test_truncated_bytecode_names_pc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "trunc.bin"
    binary.write_bytes(bytes([0xB7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0]))
    code, _, err = run(["exec", str(binary)], capsys)
    assert code == 2
    assert "not a multiple of 8" in err and str(binary) in err


def test_unknown_opcode_names_pc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "bad.bin"
    binary.write_bytes(bytes([0xB7, 0, 0, 0, 1, 0, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0, 0]))
    code, _, err = run(["disasm", str(binary)], capsys)
    assert code == 2
    assert "pc 1: unknown opcode" in err


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "arspec.cli", "exec", "missing.s"],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "missing.s: error: no such file"


HEARTBEAT = ROOT / "examples" / "heartbeat.yaml"


def test_run_prints_what_ran_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["run", str(HEARTBEAT), "--slots", "6"], capsys)
    assert code == 0
    assert "slot 0:" in out and "startup" in out
    assert "timer" in out


def test_run_json_is_versioned_data(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = run(["run", str(HEARTBEAT), "--slots", "6", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert (data["format"], data["version"]) == ("arspec-run", 1)


def test_run_engines_agree(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = {run(["run", str(HEARTBEAT), "--slots", "11", "--engine", engine], capsys)[1]
               for engine in ("interpreter", "fast", "auto")}
    assert len(outputs) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.yaml"], "missing.yaml"),
        (["run", str(HEARTBEAT), "--slots", "0"], "must be positive"),
        (["run", str(HEARTBEAT), "--format", "xml"], "invalid choice: 'xml'"),
        (["run", str(LOOP)], "counting_loop.s"),
    ],
)
def test_invalid_run_is_one_line_exit_two(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_invalid_bundle_names_file_line_and_column(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "b.yaml"
    bundle.write_text("arspec: 1\nprofile: solana\nprograms:\n  p:\n    code: |\n      r0 = 0\n"
                      "      exit\n    hook: {on: startup}\n    budjet: 5\n")
    code, _, err = run(["run", str(bundle)], capsys)
    assert code == 2
    assert err.startswith(f"{bundle}:9:5: error: programs.p.budjet")
    assert len(err.strip().splitlines()) == 1


def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = run(["schema"], capsys)
    assert code == 0
    assert "programs" in json.loads(out)["properties"]


def test_run_refuses_nondeterministic_helper_naming_the_bundle(
        capsys: pytest.CaptureFixture[str]) -> None:
    bundle = ROOT / "examples" / "broken_nondeterministic.yaml"
    code, _, err = run(["run", str(bundle)], capsys)
    assert code == 2
    assert err.startswith(f"{bundle}: error: programs.jitter: pc 0: helper bpf_get_prandom_u32")
    assert "refused in the solana (consensus) profile" in err


EXPLORE = ROOT / "examples" / "explore"


def test_explore_holds_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explore", str(EXPLORE / "timer_ok.yaml"), "--no-timing"], capsys)
    assert code == 0
    assert "no_lost_timer" in out and "VIOLATED" not in out


def test_explore_violation_writes_trace_that_replays(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    trace, dot = tmp_path / "t.json", tmp_path / "t.dot"
    code, out, _ = run(["explore", str(EXPLORE / "timer_broken.yaml"), "--trace-out", str(trace),
                        "--dot", str(dot), "--no-timing"], capsys)
    assert code == 1
    assert "no_lost_timer          VIOLATED" in out
    assert "shortest trace: 6 steps" in out
    assert dot.read_text().startswith("digraph")
    code, out, _ = run(["replay", str(trace)], capsys)
    assert code == 1
    assert "reproduced: VIOLATED no_lost_timer" in out


def test_explore_state_bound_is_inconclusive(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explore", str(EXPLORE / "timer_ok.yaml"), "--max-states", "3",
                        "--no-timing"], capsys)
    assert code == 3
    assert "BOUND-REACHED" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explore", "missing.yaml"], "missing.yaml"),
        (["explore", str(HEARTBEAT), "--max-states", "0"], "must be positive"),
        (["replay", "missing.json"], "missing.json"),
        (["replay", str(HEARTBEAT)], str(HEARTBEAT)),
    ],
)
def test_invalid_explore_and_replay_usage(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_explore_svg_picture_of_the_trace(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "trace.svg"
    code, _, _ = run(["explore", str(EXPLORE / "timer_broken.yaml"), "--svg", str(svg),
                      "--no-timing"], capsys)
    assert code == 1
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
