"""The soundness campaign's fixed-seed sample, and checks that its checker can fail.

The full campaign (``benchmarks/soundness_campaign.py``) runs thousands of cases; here a
small fixed sample runs with every check of :func:`campaign.check_case`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import campaign

from arspec.checker.verdict import Property
from arspec.checker.verify_bundle import BundleResult
from arspec.reference.runtime.runner import run_bundle
from arspec.spec.loader import load_bundle

#: Seeds the full campaign once found unsound, kept as regressions: 32743 reserves a ring
#: record in a bpf-to-bpf callee and never releases it (the callee's references were dropped
#: on return, so memory was PROVED). 50024 writes past a dynptr slice inside its buffer (the
#: verifier took the VM to fault there, so the run went on past the compute figure) and 50115
#: nests a spin lock (the fault's CU left out the call's cost). 94000, 94087 and 94251 read a
#: map value's address as a number (the verifier's region number is not the runtime's: a
#: memory PROVED and a compute PROVED that the runtime broke).
FOUND = (32743, 50024, 50115, 94000, 94087, 94251)
SAMPLE = (*range(7000, 7016), *FOUND)


@pytest.mark.parametrize("seed", SAMPLE)
def test_sample_has_no_unsound_verdict(seed: int, tmp_path: Path) -> None:
    outcome = campaign.check_case(campaign.generate_case(seed), tmp_path, timeout=20,
                                  states=2, slots=2)
    assert outcome.unsound == [], (seed, outcome.unsound)


def test_generation_is_deterministic_and_varied() -> None:
    texts = [campaign.generate_case(seed).render() for seed in range(40)]
    assert texts == [campaign.generate_case(seed).render() for seed in range(40)]
    assert len(set(texts)) == 40
    joined = "\n".join(texts)
    for needle in ("bpf_tail_call", "bpf_ringbuf_reserve", "bpf_timer_start", "call f0",
                   "s>>=", "goto l", "bpf_spin_lock", "bpf_ringbuf_reserve_dynptr",
                   "bpf_dynptr_from_mem", "bpf_dynptr_data", "r1 >>= 32",
                   "*(u64 *)(r10 - 56) = r0"):
        assert needle in joined, needle


def _all_proved(real: Any) -> Any:
    """Wrap ``verify_bundle`` so that it claims every property of every program PROVED."""
    def fake(path: str, **kwargs: Any) -> BundleResult:
        result: BundleResult = real(path, **kwargs)
        for program in result.programs:
            program.report.findings = []
            program.report.checked = set(Property)
            program.report.worst_case_cu = 0
        return result
    return fake


def test_checker_reports_a_proved_program_that_faults(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    case = campaign.Case(0, "linux", [], ["r1 = 0", "r1 += 8", "r0 = *(u64 *)(r1 + 0)",
                                          "exit"], None)
    assert campaign.check_case(case, tmp_path).unsound == []
    monkeypatch.setattr(campaign, "verify_bundle", _all_proved(campaign.verify_bundle))
    unsound = campaign.check_case(case, tmp_path).unsound
    assert any("PROVED but the runtime faulted: memory fault" in u for u in unsound), unsound


def test_checker_reports_a_compute_figure_a_run_exceeds(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    case = campaign.Case(0, "linux", [], ["r0 = 0", "r0 += 1", "exit"], None)
    monkeypatch.setattr(campaign, "verify_bundle", _all_proved(campaign.verify_bundle))
    unsound = campaign.check_case(case, tmp_path).unsound
    assert any("compute PROVED at 0 CU but a run used 3" in u for u in unsound), unsound


def test_a_solana_program_error_contradicts_no_verdict(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    # r0 != 0 fails a solana invocation (Agave's Custom(1)): the program's choice, not a fault
    # any property excludes; a real fault after it in the same profile is still caught.
    chosen = campaign.Case(0, "solana", [], ["r0 = 1", "exit"], None)
    bundle = load_bundle(str(_written(chosen, tmp_path)))
    faults = [e.fault for s in run_bundle(bundle, slots=1).slots for e in s.events
              if e.kind == "run"]
    assert faults == ["program error Custom(1) (r0 = 0x1)"], faults
    assert campaign.check_case(chosen, tmp_path).unsound == []
    monkeypatch.setattr(campaign, "verify_bundle", _all_proved(campaign.verify_bundle))
    unsound = campaign.check_case(chosen, tmp_path).unsound
    assert not any("faulted" in u for u in unsound), unsound
    faulting = campaign.Case(1, "solana", [], ["r1 = 0", "r0 = *(u64 *)(r1 + 0)", "exit"],
                             None)
    unsound = campaign.check_case(faulting, tmp_path).unsound
    assert any("PROVED but the runtime faulted: " in u and "program error" not in u
               for u in unsound), unsound


def _written(case: campaign.Case, tmp_path: Path) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text(case.render(), encoding="utf-8")
    return path
