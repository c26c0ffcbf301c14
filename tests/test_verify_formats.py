"""``spec-check verify`` gives the same verdicts and exit code in text, JSON and SARIF.

Every bundle under ``examples/`` and ``examples/explore/`` runs through the command in the
three formats; the verdicts are read back from each output independently (the text lines,
the JSON document, the SARIF run's properties and results) and compared; each JSON document
is checked against its schema (:mod:`arspec.cli.schemas`). One bundle is
parsed once per command.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from arspec.cli.exit_codes import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE
from arspec.cli.main import main
from arspec.cli.schemas import get_schema

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = sorted([*(ROOT / "examples").glob("*.yaml"),
                  *(ROOT / "examples" / "explore").glob("*.yaml")])
FORMATS = ("text", "json", "sarif")
#: A time limit for each step; a verdict it leaves inconclusive must read the same in
#: every format too.
FAST = ["--timeout", "20", "--no-timing"]

_PROPERTY_LINE = re.compile(
    r"^([\w.-]+): (\w+): (PROVED|REFUTED|UNKNOWN)( \(not requested\))?$")
_INVARIANT_LINE = re.compile(r"^  (\S+)\s+(HOLDS|VIOLATED|BOUND-REACHED)\b")

Verdicts = dict[str, Any]


def validate_output(kind: str, document: object) -> None:
    """Check a JSON output against its published schema (:mod:`arspec.cli.schemas`)."""
    jsonschema.Draft202012Validator(get_schema(kind)).validate(document)


def run(bundle: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(["verify", str(bundle), "--format", fmt, *FAST], out=out)
    _, err = capsys.readouterr()
    return code, out.getvalue(), err


def text_verdicts(text: str) -> Verdicts:
    """Read the verdicts back from the text report."""
    programs: dict[str, dict[str, str]] = {}
    invariants: dict[str, str] = {}
    explored: str | None = None
    in_explore = False
    for line in text.splitlines():
        if line.startswith("explore "):
            in_explore = True
        found = _PROPERTY_LINE.match(line)
        if found and not in_explore:
            programs.setdefault(found[1], {})[found[2]] = found[3]
        found = _INVARIANT_LINE.match(line)
        if found and in_explore:
            invariants[found[1]] = found[2]
        if in_explore and line.startswith("verdict: "):
            explored = line.removeprefix("verdict: ")
    return {"programs": programs,
            "explore": None if explored is None else {"verdict": explored,
                                                      "invariants": invariants}}


def json_verdicts(text: str) -> Verdicts:
    """Read the verdicts back from the ``arspec-verify`` document."""
    doc = json.loads(text)
    explore = doc["explore"]
    return {"programs": {p["name"]: p["verdicts"] for p in doc["programs"]},
            "explore": None if explore is None else {"verdict": explore["verdict"],
                                                     "invariants": explore["invariants"]}}


def sarif_verdicts(text: str) -> tuple[Verdicts, int]:
    """Read the verdicts and exit code back from the SARIF log, and check its results
    against them (an ``error`` per REFUTED property and VIOLATED invariant)."""
    log = json.loads(text)
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    props = sarif_run["properties"]
    verdicts = props["verdicts"]
    rules = sarif_run["tool"]["driver"]["rules"]
    errors = set()
    for result in sarif_run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        level = {"REFUTED": "error", "VIOLATED": "error"}.get(
            result["properties"]["verdict"], "warning")
        assert result["level"] == level
        if level == "error":
            errors.add(result["ruleId"] if "program" not in result["properties"]
                       else (result["properties"]["program"], result["ruleId"]))
    refuted = {(name, prop) for name, props_ in verdicts.get("programs", {}).items()
               for prop, verdict in props_.items() if verdict == "REFUTED"}
    violated = {f"explore/{name}" for name, verdict in
                (verdicts.get("explore") or {"invariants": {}})["invariants"].items()
                if verdict == "VIOLATED"}
    assert errors == refuted | violated
    assert sarif_run["invocations"][0]["exitCode"] == props["exit_code"]
    verdicts.setdefault("explore", None)
    return verdicts, props["exit_code"]


def expected_code(verdicts: Verdicts) -> int:
    """Return the exit code the verdicts call for."""
    found = {v for p in verdicts["programs"].values() for v in p.values()}
    if verdicts["explore"] is not None:
        found.add(verdicts["explore"]["verdict"])
    if found & {"REFUTED", "VIOLATED"}:
        return EXIT_FAILED
    if found & {"UNKNOWN", "BOUND-REACHED"}:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def check_formats(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = {fmt: run(bundle, fmt, capsys) for fmt in FORMATS}
    codes = {fmt: r[0] for fmt, r in runs.items()}
    assert len(set(codes.values())) == 1, codes
    if codes["text"] == EXIT_USAGE:  # a bundle that does not load: the same one line
        errors = {r[2] for r in runs.values()}
        assert len(errors) == 1 and all(r[1] == "" for r in runs.values())
        assert len(errors.pop().splitlines()) == 1
        return
    text = text_verdicts(runs["text"][1])
    as_json = json_verdicts(runs["json"][1])
    validate_output("verify", json.loads(runs["json"][1]))
    sarif, sarif_code = sarif_verdicts(runs["sarif"][1])
    assert text == as_json == sarif
    assert json.loads(runs["json"][1])["exit_code"] == sarif_code == codes["text"]
    assert expected_code(text) == codes["text"]
    assert text["programs"], "no verdict line read from the text report"


BROKEN = [b for b in BUNDLES if "broken" in b.stem]


@pytest.mark.parametrize("bundle", BROKEN, ids=[b.stem for b in BROKEN])
def test_broken_example_same_verdict_in_every_format(
        bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_formats(bundle, capsys)


_CORRECT = [b for b in BUNDLES if "broken" not in b.stem]


@pytest.mark.parametrize("bundle", _CORRECT, ids=[b.stem for b in _CORRECT])
def test_correct_example_same_verdict_in_every_format(
        bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_formats(bundle, capsys)


def test_scheduler_violation_fails_json_and_sarif_too(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: text exited 1 on an explorer violation, JSON 0 without exploring."""
    bundle = ROOT / "examples" / "broken_lost_timer.yaml"
    for fmt in FORMATS:
        code, _, _ = run(bundle, fmt, capsys)
        assert code == EXIT_FAILED, fmt
    doc = json.loads(run(bundle, "json", capsys)[1])
    assert doc["explore"]["verdict"] == "VIOLATED"
    assert doc["explore"]["violations"]
    assert doc["verify_verdict"] in ("PROVED", "UNKNOWN", "REFUTED")


def test_no_explore_leaves_the_explorer_out_of_every_format(
        capsys: pytest.CaptureFixture[str]) -> None:
    bundle = ROOT / "examples" / "broken_lost_timer.yaml"
    codes = set()
    for fmt in FORMATS:
        out = io.StringIO()
        codes.add(main(["verify", str(bundle), "--format", fmt, "--no-explore"], out=out))
        capsys.readouterr()
        if fmt == "json":
            assert json.loads(out.getvalue())["explore"] is None
        if fmt == "text":
            assert "combined verdict" not in out.getvalue()
    assert len(codes) == 1


@pytest.mark.parametrize("command", [
    ["verify", "examples/explore/timer_broken.yaml", "--no-timing"],
    ["verify", "examples/explore/timer_broken.yaml", "--format", "json"],
    ["verify", "examples/explore/timer_broken.yaml", "--format", "sarif"],
    ["explore", "examples/explore/timer_broken.yaml", "--no-timing"],
    ["interleave", "examples/counter_spin_lock.yaml", "--program", "tick",
     "--max-states", "50"],
    ["run", "examples/heartbeat.yaml", "--slots", "2"],
])
def test_one_command_parses_the_bundle_once(command: list[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from arspec.spec import loader

    calls: list[str] = []
    real = loader.load_bundle_text

    def counting(text: str, **kwargs: Any) -> Any:
        calls.append(kwargs.get("filename", "?"))
        return real(text, **kwargs)

    monkeypatch.setattr(loader, "load_bundle_text", counting)
    monkeypatch.chdir(ROOT)
    code = main(command, out=io.StringIO())
    capsys.readouterr()
    assert code in (EXIT_OK, EXIT_FAILED, EXIT_INCONCLUSIVE)
    assert len(calls) == 1, calls


EXPLORED = sorted((ROOT / "examples" / "explore").glob("*.yaml"))


@pytest.mark.parametrize("bundle", EXPLORED, ids=[b.stem for b in EXPLORED])
def test_explore_same_verdict_in_every_format(bundle: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    outputs = {}
    for fmt in FORMATS:
        out = io.StringIO()
        code = main(["explore", str(bundle), "--format", fmt, "--no-timing"], out=out)
        capsys.readouterr()
        outputs[fmt] = (code, out.getvalue())
    codes = {code for code, _ in outputs.values()}
    assert len(codes) == 1, outputs
    code = codes.pop()
    text = text_verdicts(outputs["text"][1])["explore"]
    doc = json.loads(outputs["json"][1])
    validate_output("explore", doc)
    assert (doc["format"], doc["version"]) == ("arspec-explore", 1) and doc["exit_code"] == code
    sarif, sarif_code = sarif_verdicts(outputs["sarif"][1])
    assert text == {"verdict": doc["verdict"], "invariants": doc["invariants"]} \
        == sarif["explore"]
    assert sarif_code == code
    assert expected_code({"programs": {}, "explore": text}) == code


def test_explore_json_with_a_bound_is_inconclusive_in_every_format(
        capsys: pytest.CaptureFixture[str]) -> None:
    bundle = ROOT / "examples" / "explore" / "timer_ok.yaml"
    for fmt in FORMATS:
        code = main(["explore", str(bundle), "--format", fmt, "--max-states", "3"],
                    out=io.StringIO())
        assert code == EXIT_INCONCLUSIVE, fmt
    capsys.readouterr()
