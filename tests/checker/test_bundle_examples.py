"""Every example bundle gets a verdict; golden outputs; determinism across hash seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verify_bundle import verify_bundle
from arspec.cli.render.json import FORMAT
from arspec.reference.runtime.runtime import load_programs
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from tests.outcomes import verify_bundle_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_gets_a_verdict(path: Path) -> None:
    try:
        code, text = verify_bundle_file(str(path), timeout=60, rlimit=20_000_000,
                                        output_format="text")
    except InputError as err:
        assert path.name.startswith("broken_"), str(err)
        assert "\n" not in str(err).strip()
        return
    assert code in (0, 1, 3)
    assert text.endswith("\n")


def test_nondeterministic_example_is_refuted_by_a_diverging_replay() -> None:
    path = ROOT / "examples" / "broken_nondeterministic.yaml"
    result = verify_bundle(str(path))
    assert result.verdict is Verdict.REFUTED
    report = result.programs[0].report
    assert report.verdict(Property.DETERMINISM) is Verdict.REFUTED
    found = {f.pc: f for f in report.findings if f.property is Property.DETERMINISM}
    assert sorted(found) == [0, 3]
    assert found[0].render() == ("jitter:0: Nondeterministic helper bpf_get_prandom_u32 in the "
                                 "consensus profile (deterministic(bpf_get_prandom_u32))")
    for finding in found.values():
        assert finding.verdict is Verdict.REFUTED
        cx = finding.counterexample
        assert cx is not None and cx.replayed
        assert cx.outcome.startswith("two runs from the same input diverge")
        assert "arspec_account_write" in cx.outcome
    # The runtime itself still refuses the bundle at load.
    with pytest.raises(InputError, match="nondeterministic and refused in the solana"):
        load_programs(load_bundle(str(path)), base_dir=path.parent)


def test_invalid_over_budget_example_is_refuted_with_replay() -> None:
    result = verify_bundle(str(ROOT / "examples" / "broken_over_budget.yaml"))
    assert result.verdict is Verdict.REFUTED
    report = result.programs[0].report
    assert report.verdict(Property.COMPUTE) is Verdict.REFUTED
    refuted = [f for f in report.findings if f.verdict is Verdict.REFUTED]
    assert refuted and all(f.counterexample is not None and f.counterexample.replayed
                           for f in refuted)
    assert "instruction limit exceeded" in refuted[0].counterexample.outcome  # type: ignore


@pytest.mark.parametrize("name", ["pairs_trading", "heartbeat", "oracle_watcher", "risk_analyzer"])
def test_correct_examples_are_proved(name: str) -> None:
    result = verify_bundle(str(ROOT / "examples" / f"{name}.yaml"))
    assert result.verdict is Verdict.PROVED, [f.render() for p in result.programs
                                   for f in p.report.findings]
    assert all(p.report.worst_case_cu is not None for p in result.programs)


def test_pairs_trading_graphs() -> None:
    result = verify_bundle(str(ROOT / "examples" / "pairs_trading.yaml"))
    assert [t[2] for t in result.tail_calls] == [("signal",), ("sizer",), ("executor",),
                                                 ("logger",)]
    assert [(c[0], c[2], c[3]) for c in result.callbacks] == [("ticker", "timer", "ticker")]
    assert result.cycles == []


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_golden_heartbeat(fmt: str) -> None:
    code, text = verify_bundle_file("examples/heartbeat.yaml", timeout=60,
                                    rlimit=20_000_000, output_format=fmt) \
        if Path.cwd() == ROOT else _run_in_root(fmt)
    expected = (GOLDEN / f"heartbeat.{fmt}").read_text()
    assert text == expected
    assert code == 0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_golden_refuted_nondeterministic(fmt: str) -> None:
    """Pin the counterexample format of a REFUTED bundle (a diverging double replay)."""
    code, text = _run_in_root(fmt, "examples/broken_nondeterministic.yaml")
    expected = (GOLDEN / f"broken_nondeterministic.{fmt}").read_text()
    assert text == expected
    assert code == 1


def _run_in_root(fmt: str, bundle: str = "examples/heartbeat.yaml") -> tuple[int, str]:
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        return verify_bundle_file(bundle, timeout=60, rlimit=20_000_000, output_format=fmt)
    finally:
        os.chdir(cwd)


def test_json_schema_shape() -> None:
    _, text = verify_bundle_file(str(ROOT / "examples" / "pairs_trading.yaml"), timeout=60,
                                 rlimit=20_000_000, output_format="json")
    doc = json.loads(text)
    assert (doc["format"], doc["version"]) == (FORMAT, 1) == ("arspec-verify", 1)
    assert {p["name"] for p in doc["programs"]} == {"ticker", "strategist", "signal", "sizer",
                                                     "executor", "logger"}
    for p in doc["programs"]:
        assert set(p["verdicts"]) == {prop.value for prop in Property}


def test_sarif_shape() -> None:
    _, text = verify_bundle_file(str(ROOT / "examples" / "broken_over_budget.yaml"),
                                 timeout=60, rlimit=20_000_000, output_format="sarif")
    log = json.loads(text)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "arspec"
    result = run["results"][0]
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] > 0
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_invalid_missing_file() -> None:
    with pytest.raises(InputError):
        verify_bundle_file("no/such/bundle.yaml", timeout=1, rlimit=1, output_format="text")


def test_invalid_output_format(capsys: pytest.CaptureFixture[str]) -> None:
    from arspec.cli.main import main

    assert main(["verify", str(ROOT / "examples" / "heartbeat.yaml"), "--format", "xml"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "invalid choice: 'xml'" in err and len(err.splitlines()) == 1


def test_invalid_timeout() -> None:
    with pytest.raises(InputError):
        verify_bundle(str(ROOT / "examples" / "heartbeat.yaml"), timeout=0)


def test_invalid_undecodable_bytecode(tmp_path: Path) -> None:
    bundle = tmp_path / "b.yaml"
    bundle.write_text("arspec: 1\nprograms:\n  p:\n    hook: {on: startup}\n"
                      "    hex: 'ff ff ff ff ff ff ff ff'\n")
    with pytest.raises(InputError):
        verify_bundle(str(bundle))


def test_invalid_undeclared_map(tmp_path: Path) -> None:
    bundle = tmp_path / "b.yaml"
    bundle.write_text("arspec: 1\nprograms:\n  p:\n    hook: {on: startup}\n"
                      "    code: |\n      r1 = map_idx(nope)\n      r0 = 0\n      exit\n")
    with pytest.raises(InputError):
        verify_bundle(str(bundle))


def test_invalid_properties_list(tmp_path: Path) -> None:
    bundle = tmp_path / "b.yaml"
    bundle.write_text("arspec: 1\nprograms:\n  p:\n    hook: {on: startup}\n"
                      "    code: |\n      r0 = 0\n      exit\n"
                      "properties:\n  programs: [termination, speed]\n")
    with pytest.raises(InputError):
        verify_bundle(str(bundle))


def test_deterministic_across_hash_seeds() -> None:
    script = ("from tests.outcomes import verify_bundle_file as v;"
              "print(v('examples/pairs_trading.yaml', timeout=60, rlimit=20_000_000,"
              " output_format='json')[1])")
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_entry_skipped_by_the_time_limit_leaves_every_property_unknown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """risk_analyzer has two entries; the clock runs out after the first one."""
    import arspec.checker.symbolic as symbolic
    import arspec.checker.verify_bundle as module

    monkeypatch.setattr(symbolic, "clock", lambda: 0.0)
    ticks = iter([0.0, 0.0])
    monkeypatch.setattr(module.time, "monotonic", lambda: next(ticks, 1e9))
    result = verify_bundle(str(ROOT / "examples" / "risk_analyzer.yaml"), timeout=5)
    report = result.programs[0].report
    assert [f.message for f in report.findings] == ["Time limit reached"]
    assert all(report.verdict(p) is Verdict.UNKNOWN for p in Property)
    assert report.worst_case_cu is None
    assert result.verdict is Verdict.UNKNOWN


def test_time_limit_inside_an_entry_stops_it_with_unknown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline is also checked at every executed instruction, not only between entries."""
    import arspec.checker.symbolic as symbolic
    import arspec.checker.verify_bundle as module

    monkeypatch.setattr(module.time, "monotonic", lambda: 0.0)
    monkeypatch.setattr(symbolic, "clock", lambda: 1e9)
    result = verify_bundle(str(ROOT / "examples" / "risk_analyzer.yaml"), timeout=5)
    report = result.programs[0].report
    assert {f.message for f in report.findings} == {"Time limit reached"}
    assert all(report.verdict(p) is Verdict.UNKNOWN for p in Property)
    assert result.verdict is Verdict.UNKNOWN
