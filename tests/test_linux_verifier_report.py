"""The Linux verifier report: every disagreement explained, no explanation stale.

Runs ``benchmarks/linux_verifier_report.py`` over the verifier corpus (arspec's
``verify_program`` against ``BPF_PROG_LOAD`` of a socket filter). A report, not a gate: the
tests do not ask the two verifiers to agree, only that ``tests/linux_verifier_disagreements.yaml``
explains exactly the disagreements there are.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from arspec.reference.kernel_bpf import kernel_available

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parent.parent
EXPLANATION_KEYS = {"case", "arspec", "kernel", "why"}


def _tool() -> ModuleType:
    path = ROOT / "benchmarks" / "linux_verifier_report.py"
    spec = importlib.util.spec_from_file_location("linux_verifier_report", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


report = _tool()


@pytest.fixture(scope="module")
def rows() -> list[Any]:
    available, reason = kernel_available()
    if not available:
        print(f"Linux verifier report skipped: {reason}")
        pytest.skip(reason)
    # Cases that cannot be compared are not verified: they cannot disagree, and skipping
    # them (the input-driven loops are the slowest) keeps the run well under a minute.
    result: list[Any] = report.compare(report.load_cases(), report.load_explanations(),
                                       verify_incomparable=False)
    print(report.render_text(result))
    return result


def test_explanations_are_well_formed() -> None:
    entries = report.load_explanations()
    names = [entry["case"] for entry in entries]
    assert len(names) == len(set(names)), "a case is explained twice"
    for entry in entries:
        assert set(entry) == EXPLANATION_KEYS, entry
        assert entry["arspec"] in {"accept", "reject", "unknown"}, entry
        assert entry["kernel"] in {"accept", "reject"}, entry
        assert entry["arspec"] != entry["kernel"], entry
        assert entry["why"].strip(), entry


def test_every_disagreement_is_explained(rows: list[Any]) -> None:
    explained = {(e["case"], e["arspec"], e["kernel"]) for e in report.load_explanations()}
    missing = [d for d in report.disagreements(rows) if d not in explained]
    assert not missing, f"disagreements without an entry in {report.EXPLANATIONS.name}: {missing}"


def test_no_explanation_is_stale(rows: list[Any]) -> None:
    actual = set(report.disagreements(rows))
    stale = [(e["case"], e["arspec"], e["kernel"]) for e in report.load_explanations()
             if (e["case"], e["arspec"], e["kernel"]) not in actual]
    assert not stale, f"entries in {report.EXPLANATIONS.name} that no longer disagree: {stale}"


def test_every_case_is_classified(rows: list[Any]) -> None:
    assert [r.case for r in rows] == [c.name for c in report.load_cases()]
    for row in rows:
        assert row.agreement in {report.AGREE, report.DISAGREE, report.NOT_COMPARABLE}
        if row.agreement == report.NOT_COMPARABLE:
            assert row.explanation, row
        else:
            assert row.kernel in {report.ACCEPT, report.REJECT}, row
