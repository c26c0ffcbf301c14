"""Bundle-level verifier corpus: each case is a small bundle and its expected verdicts.

Cases live in ``bundles/*.yaml`` (``test-case``, ``bundle``, ``expect``:
program -> property -> verdict, where ``NOT_PROVED`` accepts REFUTED or UNKNOWN,
``messages``: substrings of rendered findings, ``exit``: the exit code). A case with
``error`` instead of ``expect`` must fail to load with an error line containing it, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verify_bundle import verify_bundle
from arspec.cli.exit_codes import exit_code_of
from arspec.spec.errors import InputError

CASES: list[dict[str, Any]] = [
    case for file in sorted((Path(__file__).parent / "bundles").glob("*.yaml"))
    for case in yaml.safe_load(file.read_text())["cases"]]


@pytest.mark.parametrize("case", CASES, ids=[c["test-case"] for c in CASES])
def test_bundle_case(case: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "bundle.yaml"
    path.write_text(case["bundle"])
    if "error" in case:
        with pytest.raises(InputError) as raised:
            verify_bundle(str(path), timeout=60)
        assert case["error"] in str(raised.value), str(raised.value)
        assert case.get("exit", 2) == 2
        return
    result = verify_bundle(str(path), timeout=60)
    reports = {p.name: p.report for p in result.programs}
    for program, props in case["expect"].items():
        for prop, want in props.items():
            got = reports[program].verdict(Property(prop))
            if want == "NOT_PROVED":
                assert got is not Verdict.PROVED, (program, prop)
            else:
                assert got.value == want, (program, prop, [f.render() + " " + f.verdict.value
                                                           + " " + f.note
                                                           for f in reports[program].findings])
    rendered = [f.render() for p in result.programs for f in p.report.findings]
    for message in case["messages"]:
        assert any(message in line for line in rendered), (message, rendered)
    if "exit" in case:
        assert exit_code_of(result.verdict.value) == case["exit"]
    for p in result.programs:
        for f in p.report.findings:
            if f.verdict is Verdict.REFUTED and f.counterexample is not None:
                assert f.counterexample.replayed


def test_corpus_is_mostly_negative() -> None:
    negative = [c for c in CASES if c.get("exit", 1) != 0]
    assert len(negative) > 2 * (len(CASES) - len(negative))
