"""What ``spec-check run`` tells a user: exit code on faults, final contents, progress lines."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from arspec.cli import exit_codes, progress
from arspec.cli import main as cli
from arspec.cli.progress import Heartbeat

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_with_a_faulting_invocation_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["run", str(EXAMPLES / "broken_over_budget.yaml")], capsys)
    assert code == exit_codes.EXIT_FAILED
    assert "ROLLED BACK" in out and out.rstrip().endswith("an invocation faulted (exit code 1)")
    code, out, _ = run(["run", str(EXAMPLES / "broken_over_budget.yaml"), "--format", "json"],
                       capsys)
    assert code == exit_codes.EXIT_FAILED and json.loads(out)["faulted"] is True


def test_run_without_faults_exits_zero_and_says_nothing_of_faults(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["run", str(EXAMPLES / "heartbeat.yaml")], capsys)
    assert code == exit_codes.EXIT_OK and "faulted" not in out


def test_final_contents_show_declared_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["run", str(EXAMPLES / "heartbeat.yaml")], capsys)
    assert code == 0
    assert out.splitlines()[-1] == "  hb[0]: beats = 5"  # as examples/README.md promises
    code, out, _ = run(["run", str(EXAMPLES / "pairs_trading.yaml"), "--slots", "50",
                        "--format", "json"], capsys)
    final = {r["name"]: r for r in json.loads(out)["final"]}
    assert final["book"]["kind"] == "account" and final["book"]["fields"]["position"] == -2
    assert final["clock[0]"]["fields"] == {"ticks": 24}


def test_final_contents_without_fields_show_hex(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    text = (EXAMPLES / "heartbeat.yaml").read_text().replace(
        "    fields: {beats: {offset: 0, type: u64}}\n", "").replace(
        '    - {name: beats_bounded, expr: "hb[0].beats <= 12"}\n', "").replace(
        "  invariants:\n", "")
    path = tmp_path / "nofields.yaml"
    path.write_text(text)
    code, out, _ = run(["run", str(path)], capsys)
    assert code == 0
    assert out.splitlines()[-1].startswith("  hb[0]: 0500000000000000")


def test_final_contents_of_a_big_map_are_capped() -> None:
    from arspec.reference.runtime import run_report
    from arspec.reference.runtime.runner import run_bundle_state
    from arspec.spec.loader import load_bundle_text
    from arspec.spec.maps import BPF_ANY, process_map_update

    big = (EXAMPLES / "heartbeat.yaml").read_text().replace("    max_entries: 1\n",
                                                            "    max_entries: 1000\n")
    bundle = load_bundle_text(big, filename="big.yaml")
    _, state = run_bundle_state(bundle, slots=1, base_dir=EXAMPLES)
    for index in range(1, 300):
        process_map_update(state.maps["hb"], index.to_bytes(4, "little"),  # type: ignore[index]
                           bytes([1]) + bytes(23), BPF_ANY)
    records, not_shown = run_report.compute_final_contents(bundle, state)
    assert len([r for r in records if r.kind == "map"]) == run_report.MAX_SHOWN_ELEMENTS
    assert not_shown == (("hb", 300 - run_report.MAX_SHOWN_ELEMENTS),)  # hb[0] and 299 more


def test_heartbeat_prints_lines_with_memory_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Heartbeat("run", stream, interval=0.02) as beat:
        beat.status = "slot 7 of 9"
        time.sleep(0.15)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    assert lines[-1].startswith("spec-check run: slot 7 of 9, ")
    assert lines[-1].endswith(" MiB in use")


def test_heartbeat_is_silent_for_short_work() -> None:
    stream = io.StringIO()
    with Heartbeat("run", stream, interval=5.0):
        pass
    assert stream.getvalue() == ""


def test_long_run_reports_progress_on_stderr(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.05)
    code, out, err = run(["run", str(EXAMPLES / "heartbeat.yaml"), "--slots", "20000"], capsys)
    assert code == 0 and "hb[0]: beats = 3999" in out  # slots 5, 10, ..., 19995
    lines = err.splitlines()
    assert lines and all(line.startswith("spec-check run: ") for line in lines)
    assert any(" of 20,000, " in line for line in lines)
