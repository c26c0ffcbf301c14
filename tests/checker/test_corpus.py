"""The verifier corpus: PREVAIL-style YAML cases with expected verdicts and messages.

Each case has ``test-case``, ``profile``, ``code`` (LLVM assembly), optional ``budget`` and
``max_input``, ``expect`` (verdict per property) and ``messages`` (every finding, in report
order, as ``pc: Message (assertion)``), plus an optional ``worst-case-cu``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arspec.checker.verdict import Report, Verdict
from arspec.checker.verifier import verify_program
from arspec.reference.isa.assembler import assemble
from arspec.reference.vm.profiles import get_profile

CORPUS = Path(__file__).parent / "corpus"
KEYS = {"test-case", "profile", "code", "expect", "messages", "budget", "max_input",
        "worst-case-cu"}


def _cases() -> list[Any]:
    params = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            params.append(pytest.param(case, id=f"{path.stem}: {case['test-case']}"))
    return params


CASES = _cases()
_REPORTS: dict[str, Report] = {}


def _verify(case: dict[str, Any]) -> Report:
    key = f"{case['profile']}|{case['code']}|{case.get('budget')}|{case.get('max_input')}"
    if key not in _REPORTS:
        extra = {k: case[k] for k in ("budget", "max_input") if k in case}
        _REPORTS[key] = verify_program(assemble(case["code"]),
                                       profile=get_profile(case["profile"]), **extra)
    return _REPORTS[key]


def test_corpus_is_large_and_mostly_negative() -> None:
    cases = [p.values[0] for p in CASES]
    negative = [c for c in cases if c["messages"]]
    assert len(cases) >= 100
    assert len(negative) > len(cases) - len(negative)
    for case in cases:
        assert set(case) <= KEYS, case["test-case"]


@pytest.mark.parametrize("case", CASES)
def test_case(case: dict[str, Any]) -> None:
    report = _verify(case)
    verdicts = {p.value: v.value for p, v in report.verdicts.items()}
    assert verdicts == {**verdicts, **case["expect"]}
    messages = [f"{f.pc}: {f.message} ({f.assertion})" for f in report.findings]
    assert messages == case["messages"]
    if "worst-case-cu" in case:
        assert report.worst_case_cu == case["worst-case-cu"]


@pytest.mark.parametrize("case", CASES)
def test_refuted_findings_replayed_and_exact_models_always_replay(case: dict[str, Any]) -> None:
    report = _verify(case)
    for finding in report.findings:
        assert not finding.note.startswith("counterexample did not replay"), finding.note
        if finding.verdict is Verdict.REFUTED:
            assert finding.counterexample is not None
            assert finding.counterexample.replayed
        else:
            assert finding.counterexample is None or not finding.counterexample.replayed
