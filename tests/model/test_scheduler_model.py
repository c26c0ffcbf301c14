"""The scheduler benchmark model: planted bugs found with exact shortest traces."""

from __future__ import annotations

import pytest
from model_systems import load_scheduler_module

from arspec.model.engine import ModelError, Verdict, explore

module = load_scheduler_module()


def check(**params: object) -> object:
    model = module.SchedulerModel(module.SchedulerParams(**params))
    return explore(model, invariants=model.invariants(),
                   transition_invariants=model.transition_invariants(),
                   stop_at_first_violation=False)


def test_default_instance_holds_every_invariant() -> None:
    result = check()
    assert result.verdict is Verdict.HOLDS  # type: ignore[attr-defined]
    assert result.stats.states == 464  # type: ignore[attr-defined]


def test_budget_bug_found_in_four_steps() -> None:
    result = check(budget_check=False)
    violations = {v.invariant: v for v in result.violations}  # type: ignore[attr-defined]
    assert set(violations) == {"per-slot-budget"}
    trace = violations["per-slot-budget"].trace
    assert len(trace) == 4 and trace.labels[-1] == "run_wq()"
    assert trace.final[1] > 4


def test_ring_overflow_without_backpressure_found_in_four_steps() -> None:
    result = check(backpressure=False)
    violations = {v.invariant: v for v in result.violations}  # type: ignore[attr-defined]
    assert set(violations) == {"ring-no-loss"}
    assert violations["ring-no-loss"].trace.labels == (
        "fire(timer=0)", "fire(timer=1)", "tick()", "fire(timer=0)")


def test_single_slot_ring_loses_on_second_fire() -> None:
    result = check(backpressure=False, ring=1)
    violation = result.violations[0]  # type: ignore[attr-defined]
    assert violation.trace.labels == ("fire(timer=0)", "fire(timer=1)")


@pytest.mark.parametrize("bad", [dict(timers=0), dict(ring=0), dict(wq_costs=()),
                                 dict(slots=249, delay_max=2)])
def test_invalid_parameters(bad: dict[str, object]) -> None:
    with pytest.raises(ModelError):
        module.SchedulerParams(**bad)
