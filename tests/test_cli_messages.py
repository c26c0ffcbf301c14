"""Messages of the single-program commands and the explorer's trace output (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arspec.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
CHECKSUM = ROOT / "examples" / "programs" / "checksum.s"
EXPLORE = ROOT / "examples" / "explore"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_disasm_prints_pc_numbers_and_jump_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["disasm", str(CHECKSUM)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "0: r0 = 0"
    assert lines[2] == "2: if r3 >= r2 goto +6 ; -> 9"
    assert lines[-1] == "9: exit"


def test_disasm_counts_two_pcs_for_lddw(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "wide.s"
    src.write_text("r1 = 0x1122334455667788 ll\nr0 = 1\n" + "r0 += 1\n" * 9 + "exit\n")
    code, out, _ = run(["disasm", str(src)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(" 0: r1 = ") and lines[1] == " 2: r0 = 1"
    assert lines[-1] == "12: exit"


def test_disasm_plain_reassembles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["disasm", "--plain", str(CHECKSUM)], capsys)
    assert code == 0 and out.splitlines()[0] == "r0 = 0"
    again = tmp_path / "again.s"
    again.write_text(out)
    code, out2, _ = run(["disasm", "--plain", str(again)], capsys)
    assert code == 0 and out2 == out


@pytest.mark.parametrize("syntax", ["r0 = 1\ncall {name}\nexit\n",
                                    "mov r0, 1\ncall {name}\nexit\n"])
def test_invalid_misspelled_helper_suggests_the_name(tmp_path: Path, syntax: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "typo.s"
    src.write_text(syntax.format(name="bpf_map_lookupp_elem"))
    code, _, err = run(["exec", str(src)], capsys)
    assert code == 2
    assert err.strip() == (f"{src}:2:6: error: unknown helper 'bpf_map_lookupp_elem' (did you "
                           "mean bpf_map_lookup_elem, bpf_map_pop_elem, bpf_map_update_elem?)")


def test_invalid_call_to_nothing_known(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "nothing.s"
    src.write_text("call frobnicate\nexit\n")
    code, _, err = run(["asm", str(src)], capsys)
    assert code == 2 and "unknown helper or undefined label 'frobnicate'" in err


def test_invalid_jump_to_a_missing_label_still_says_label(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "jump.s"
    src.write_text("goto bpf_map_lookupp_elem\nexit\n")
    code, _, err = run(["asm", str(src)], capsys)
    assert code == 2 and "undefined label 'bpf_map_lookupp_elem'" in err


def test_exec_calls_a_linux_helper_by_name(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "helper.s"
    src.write_text("call bpf_ktime_get_ns\nr0 = 0\nexit\n")
    code, out, _ = run(["exec", str(src)], capsys)
    assert code in (0, 1) and "undefined" not in out


def test_trace_out_without_violation_says_no_trace(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    code, out, _ = run(["explore", str(EXPLORE / "timer_ok.yaml"), "--trace-out", str(trace),
                        "--no-timing"], capsys)
    assert code == 0 and not trace.exists()
    assert out.splitlines()[-1] == f"no violation found: no trace written to {trace}"


def test_trace_out_with_violation_writes_it_silently(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    code, out, _ = run(["explore", str(EXPLORE / "timer_broken.yaml"), "--trace-out",
                        str(trace), "--no-timing"], capsys)
    assert code == 1 and trace.exists() and "no trace written" not in out


def test_invalid_assembly_in_a_bundle_names_the_bundle_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "examples" / "heartbeat.yaml").read_text()
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines, 1) if "call bpf_timer_init " in line)
    path = tmp_path / "typo.yaml"
    path.write_text(text.replace("call bpf_timer_init ", "call bpf_timer_initt "))
    column = lines[number - 1].index("bpf_timer_init") + 1
    for command in ("run", "verify", "explore"):
        code, out, err = run([command, str(path)], capsys)
        assert code == 2 and out == ""
        assert err.strip() == (f"{path}:{number}:{column}: error: programs.heartbeat.code: "
                               "unknown helper 'bpf_timer_initt' (did you mean bpf_timer_init, "
                               "bpf_timer_start, sol_timer_init?)")


def test_invalid_assembly_in_a_quoted_code_string(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inline.yaml"
    path.write_text('arspec: 1\nprofile: linux\nprograms:\n  p:\n    hook: {on: startup}\n'
                    '    code: "r0 = 0\\nfoo r1\\nexit"\n')
    code, _, err = run(["run", str(path)], capsys)
    # One scalar on one line of the file: the error points at where the string starts.
    assert code == 2
    assert err.strip() == f"{path}:6:11: error: programs.p.code: unknown mnemonic 'foo'"


def test_findings_name_the_bundle_line_in_text_json_and_sarif(
        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    bundle = ROOT / "examples" / "broken_over_budget.yaml"
    lines = bundle.read_text().splitlines()
    loop = next(i for i, line in enumerate(lines, 1) if line.strip() == "loop:") + 1
    code, out, _ = run(["verify", str(bundle), "--no-explore"], capsys)
    assert code == 1
    assert f"compound:18: Compute budget may be exceeded (compute_units <= 5000) [REFUTED] " \
           f"at {bundle}:{loop}" in out
    code, out, _ = run(["verify", str(bundle), "--format", "json"], capsys)
    finding = json.loads(out)["programs"][0]["findings"][0]
    assert finding["source"] == {"file": str(bundle), "line": loop}
    code, out, _ = run(["verify", str(bundle), "--format", "sarif"], capsys)
    location = json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": str(bundle)},
                        "region": {"startLine": loop}}
