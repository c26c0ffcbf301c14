"""The Linux verifier report: every disagreement explained, no explanation stale.

Runs ``benchmarks/linux_verifier_report.py`` over the verifier corpus (arspec's
``verify_program`` against ``BPF_PROG_LOAD`` of a socket filter) and over the project's own
cases (``tests/linux_cases``, the bundle verifier against the recorded kernel verdicts).
``tests/linux_verifier_disagreements.yaml`` must explain exactly the disagreements there are;
on the own cases arspec must also agree on at least 90 % of the cases both sides decide and
prove nothing the runtime then faults on (no explanation excuses such a case).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from arspec.reference.differential.kernel_bpf import kernel_available

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
        # An unsound proof is fixed in the verifier, never explained away here.
        assert not entry["why"].lstrip().upper().startswith("UNSOUND"), entry


@pytest.mark.kernel
def test_every_disagreement_is_explained(rows: list[Any]) -> None:
    explained = {(e["case"], e["arspec"], e["kernel"]) for e in report.load_explanations()}
    missing = [d for d in report.disagreements(rows) if d not in explained]
    assert not missing, f"disagreements without an entry in {report.EXPLANATIONS.name}: {missing}"


@pytest.mark.kernel
def test_no_explanation_is_stale(rows: list[Any]) -> None:
    actual = set(report.disagreements(rows))
    corpus = {r.case for r in rows}
    stale = [(e["case"], e["arspec"], e["kernel"]) for e in report.load_explanations()
             if e["case"] in corpus and (e["case"], e["arspec"], e["kernel"]) not in actual]
    assert not stale, f"entries in {report.EXPLANATIONS.name} that no longer disagree: {stale}"


@pytest.mark.kernel
def test_every_case_is_classified(rows: list[Any]) -> None:
    assert [r.case for r in rows] == [c.name for c in report.load_cases()]
    for row in rows:
        assert row.agreement in {report.AGREE, report.DISAGREE, report.NOT_COMPARABLE}
        if row.agreement == report.NOT_COMPARABLE:
            assert row.explanation, row
        else:
            assert row.kernel in {report.ACCEPT, report.REJECT}, row


# -- the project's own cases (tests/linux_cases) -------------------------------------------

#: Every SAMPLE-th own case runs by default (fixed, so the sample is the same everywhere);
#: the whole set runs under ``-m slow`` and in the benchmark script.
SAMPLE = 6


def _own_cases(full: bool) -> list[Any]:
    cases: list[Any] = report.load_own_cases()
    return cases if full else cases[::SAMPLE]


def _own_rows(full: bool) -> list[Any]:
    rows: list[Any] = report.compare_own(_own_cases(full), report.load_kernel_verdicts(),
                                         report.load_explanations())
    print(report.render_own_text(rows))
    return rows


@pytest.fixture(scope="module")
def own_sample() -> list[Any]:
    return _own_rows(False)


def test_own_cases_cover_every_category_with_recorded_verdicts() -> None:
    cases = report.load_own_cases()
    assert len(cases) >= 300
    assert len({c.name for c in cases}) == len(cases)
    categories = {c.category for c in cases}
    assert categories == {"loops", "stack", "map_values", "pointer_arithmetic", "null_checks",
                          "helper_arguments", "tail_calls", "timers", "ringbuf", "alu_bounds",
                          "context", "packet"}
    recorded = report.load_kernel_verdicts()
    assert set(recorded) == {c.name for c in cases}, "re-record with --record"
    assert {verdict for verdict, _ in recorded.values()} == {report.ACCEPT, report.REJECT}


def _check_explained(rows: list[Any], *, stale_too: bool) -> None:
    entries = report.load_explanations()
    explained = {(e["case"], e["arspec"], e["kernel"]): e["why"] for e in entries}
    actual = report.own_disagreements(rows)
    missing = [d for d in actual if d not in explained]
    assert not missing, f"own-case disagreements without an explanation: {missing}"
    unsound = [(row.case, row.faults) for row in rows if row.faults]
    assert not unsound, f"proved, rejected by the kernel and faulting on the runtime: {unsound}"
    if stale_too:
        own = {c.name for c in report.load_own_cases()}
        stale = [key for key in explained if key[0] in own and key not in set(actual)]
        assert not stale, f"entries that no longer disagree: {stale}"


def test_own_sample_disagreements_are_explained(own_sample: list[Any]) -> None:
    _check_explained(own_sample, stale_too=False)
    for row in own_sample:
        assert row.agreement in {report.AGREE, report.DISAGREE, report.UNDECIDED}
        assert row.kernel in {report.ACCEPT, report.REJECT}


@pytest.mark.slow
def test_own_cases_agreement_and_explanations() -> None:
    rows = _own_rows(True)
    _check_explained(rows, stale_too=True)
    figures = report.own_figures(rows)
    decided = figures["agree"] + figures["disagree"]
    assert figures["agree"] >= 0.9 * decided, report.own_summary(rows)


def _kernel_or_skip() -> None:
    available, reason = kernel_available()
    if not available:
        print(f"own cases against the live kernel skipped: {reason}")
        pytest.skip(reason)


@pytest.mark.kernel
def test_recorded_verdicts_match_the_live_kernel_sample() -> None:
    _kernel_or_skip()
    recorded = report.load_kernel_verdicts()
    differ = [c.name for c in _own_cases(False)
              if report.own_kernel_verdict(c)[0] != recorded[c.name][0]]
    assert not differ, f"the live kernel now decides otherwise: {differ} (re-record)"


@pytest.mark.slow
@pytest.mark.kernel
def test_recorded_verdicts_match_the_live_kernel() -> None:
    _kernel_or_skip()
    recorded = report.load_kernel_verdicts()
    differ = [c.name for c in _own_cases(True)
              if report.own_kernel_verdict(c)[0] != recorded[c.name][0]]
    assert not differ, f"the live kernel now decides otherwise: {differ} (re-record)"
