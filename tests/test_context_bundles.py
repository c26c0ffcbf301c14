"""Bundle programs with a declared Linux program type: schema errors, runs and verification.

Invalid bundles first: each is one located error line and exit 2. Then a run hands each
invocation the scenario's packet of its slot, and the bundle verifier proves the checked
XDP program and refutes its unchecked twin with a counterexample that replays.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verify_bundle import verify_bundle
from arspec.cli.main import main
from arspec.spec.loader import bundle_json_schema

XDP_BUNDLE = """\
arspec: 1
profile: linux
maps:
  stats: {type: array, value_size: 8, max_entries: 1}
programs:
  filter:
    hook: {on: every, slots: 1}
    program_type: xdp
    code: |
      r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 14
      if r4 > r3 goto pass
      r0 = *(u16 *)(r2 + 12)
      if r0 != 0x0008 goto pass
      r0 = 1
      exit
      pass:
      r0 = 2
      exit
scenario:
  slots: 3
  packets:
    filter:
      - {slot: 0, hex: "ffffffffffff 000000000000 0800 45"}
      - {slot: 1, hex: "00 01"}
"""


def cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def write(tmp_path: Path, text: str, name: str = "b.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("old", "new", "where", "message"), [
    ("program_type: xdp", "program_type: bogus", "8:19", "input should be 'socket_filter'"),
    ("program_type: xdp", "program_type: xdp\n    context_size: 8", "9:19",
     "`context_size` is only for program_type tracing"),
    ("program_type: xdp", "program_type: tracing\n    context_size: 5000", "9:19",
     "less than or equal to 4096"),
    ("profile: linux", "profile: solana", "8:19", "a program_type needs profile linux"),
    ("hook: {on: every, slots: 1}", "hook: {on: timer}", "8:19",
     "runs on a startup, every, watch hook, not timer"),
    ("    filter:\n      - {slot: 0", "    nope:\n      - {slot: 0", "26:7",
     "program 'nope' is not declared"),
    ("slot: 1, hex", "slot: 3, hex", "27:16", "slot 3 is past the run"),
    ('slot: 1, hex: "00 01"', 'slot: 0, hex: "00"', "27:16", "a second packet in slot 0"),
    ('hex: "00 01"', f'hex: "{"00" * 65536}"', "27:24", "65536 bytes exceed the 65535"),
    ('hex: "00 01"', 'hex: "0g"', "27:24", "invalid hex bytes"),
])
def test_invalid_context_bundle_is_one_located_line(tmp_path: Path, old: str, new: str,
                                                   where: str, message: str) -> None:
    assert old in XDP_BUNDLE
    path = write(tmp_path, XDP_BUNDLE.replace(old, new, 1))
    code, _ = cli(["verify", path])
    assert code == 2
    with pytest.raises(Exception) as caught:
        verify_bundle(path)
    text = str(caught.value)
    assert f"b.yaml:{where}:" in text and message in text and "\n" not in text, text


def test_invalid_packets_for_a_program_without_a_type(tmp_path: Path) -> None:
    text = XDP_BUNDLE.replace("    program_type: xdp\n", "")
    code, _ = cli(["verify", write(tmp_path, text)])
    assert code == 2


def test_invalid_raw_context_longer_than_declared(tmp_path: Path) -> None:
    text = (XDP_BUNDLE.replace("program_type: xdp", "program_type: tracing\n    context_size: 1")
            .replace('hex: "00 01"', 'hex: "00 01"'))
    with pytest.raises(Exception, match="15 bytes exceed the 1 a tracing program takes"):
        verify_bundle(write(tmp_path, text))


def test_schema_documents_the_keys() -> None:
    text = json.dumps(bundle_json_schema())
    for key in ("program_type", "context_size", "packets", "socket_filter", "sched_cls"):
        assert key in text


def test_run_gives_each_slot_its_packet(tmp_path: Path) -> None:
    code, out = cli(["run", write(tmp_path, XDP_BUNDLE)])
    assert code == 0
    results = [word for line in out.splitlines() if line.strip().startswith("run ")
               for word in line.split() if word.startswith("r0=")]
    assert results == ["r0=1", "r0=2", "r0=2"], out


def test_verify_proves_the_checked_program(tmp_path: Path) -> None:
    result = verify_bundle(write(tmp_path, XDP_BUNDLE))
    report = result.programs[0].report
    assert {report.verdict(p) for p in Property} == {Verdict.PROVED}
    assert result.verdict is Verdict.PROVED


def test_invalid_verify_refutes_the_short_check_and_replays(tmp_path: Path) -> None:
    path = write(tmp_path, XDP_BUNDLE.replace("r4 += 14", "r4 += 13"))
    result = verify_bundle(path)
    report = result.programs[0].report
    assert report.verdict(Property.MEMORY) is Verdict.REFUTED
    finding = next(f for f in report.findings if f.verdict is Verdict.REFUTED)
    assert finding.pc == 5 and finding.counterexample is not None
    assert finding.counterexample.replayed and len(finding.counterexample.input) == 13
    code, out = cli(["verify", path])
    assert code == 1 and "r1=0xfffe000000000000" in out


def test_invalid_verify_refutes_a_forbidden_field(tmp_path: Path) -> None:
    path = write(tmp_path, XDP_BUNDLE.replace("r3 = *(u32 *)(r1 + 4)", "r3 = *(u64 *)(r1 + 4)"))
    report = verify_bundle(path).programs[0].report
    assert report.verdict(Property.MEMORY) is Verdict.REFUTED
    assert any("Context access not allowed" in f.message for f in report.findings)


def test_sched_cls_and_tracing_bundles(tmp_path: Path) -> None:
    sched = XDP_BUNDLE.replace("program_type: xdp", "program_type: sched_cls").replace(
        "r2 = *(u32 *)(r1 + 0)\n      r3 = *(u32 *)(r1 + 4)",
        "r2 = *(u32 *)(r1 + 76)\n      r3 = *(u32 *)(r1 + 80)\n      r5 = *(u32 *)(r1 + 0)\n"
        "      *(u32 *)(r1 + 8) = r5")
    result = verify_bundle(write(tmp_path, sched, "s.yaml"))
    assert result.verdict is Verdict.PROVED
    code, out = cli(["run", str(tmp_path / "s.yaml")])
    assert code == 0 and "r0=1" in out
    tracing = """\
arspec: 1
profile: linux
programs:
  probe:
    hook: {on: startup}
    program_type: tracing
    context_size: 16
    code: |
      r0 = *(u64 *)(r1 + 8)
      exit
scenario:
  slots: 1
  packets:
    probe: [{slot: 0, hex: "0000000000000000 2a00000000000000"}]
"""
    path = write(tmp_path, tracing, "t.yaml")
    assert verify_bundle(path).verdict is Verdict.PROVED
    code, out = cli(["run", path])
    assert code == 0 and "r0=42" in out
    broken = write(tmp_path, tracing.replace("r1 + 8", "r1 + 12"), "t2.yaml")
    assert verify_bundle(broken).verdict is Verdict.REFUTED


# -- the examples -----------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_xdp_example_counts_ipv4_and_is_proved() -> None:
    from arspec.reference.runtime.runner import run_bundle_state
    from arspec.spec.loader import load_bundle

    path = EXAMPLES / "xdp_ipv4_counter.yaml"
    report, state = run_bundle_state(load_bundle(path), base_dir=EXAMPLES)
    results = [e.r0 for s in report.slots for e in s.events if e.kind == "run"]
    assert results == [1, 2, 2, 1, 2]
    stats = next(iter(state.maps.values())).elements[bytes(4)][0].value
    assert int.from_bytes(stats[:8], "little") == 2
    assert verify_bundle(str(path)).verdict is Verdict.PROVED


def test_invalid_xdp_example_faults_and_is_refuted() -> None:
    from arspec.reference.runtime.runner import run_bundle
    from arspec.spec.loader import load_bundle

    path = EXAMPLES / "broken_xdp_unchecked.yaml"
    assert run_bundle(load_bundle(path), base_dir=EXAMPLES).totals.failures == 1
    result = verify_bundle(str(path))
    assert result.verdict is Verdict.REFUTED
    found = [f for f in result.programs[0].report.findings if f.verdict is Verdict.REFUTED]
    assert [f.pc for f in found] == [5]
    assert found[0].counterexample is not None and found[0].counterexample.input == bytes(12)


@pytest.mark.parametrize("code", [
    "call bpf_get_smp_processor_id\n      r0 &= 1\n      exit",
    "r6 = r1\n      call bpf_get_smp_processor_id\n      r0 = *(u32 *)(r6 + 12)\n      exit",
])
def test_invalid_determinism_of_a_typed_program_is_never_proved(tmp_path: Path,
                                                                 code: str) -> None:
    text = f"""\
arspec: 1
profile: linux
programs:
  p:
    hook: {{on: startup}}
    program_type: xdp
    code: |
      {code}
"""
    report = verify_bundle(write(tmp_path, text)).programs[0].report
    assert report.verdict(Property.DETERMINISM) is not Verdict.PROVED
