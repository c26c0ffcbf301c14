"""Catalogue invariants that no bundle can break, caught on planted faults of the runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from arspec.model.engine import explore
from arspec.model.runtime_system import CheckSet, RuntimeSystem
from arspec.spec import scheduler
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import InvocationOutcome
from arspec.spec.state import RuntimeState, WorkItem
from arspec.spec.types import ComputeUnits, Cpu, ProgId

BUNDLE = Path(__file__).resolve().parents[2] / "examples" / "explore" / "budget_ok.yaml"


def run_with(invoker: object, names: tuple[str, ...]) -> dict[str, str]:
    bundle = load_bundle(BUNDLE)
    system = RuntimeSystem(bundle, invoker, slots=2,  # type: ignore[arg-type]
                           checks=CheckSet(names))
    states, transitions = system.build_invariants()
    result = explore(system, invariants=states, transition_invariants=transitions,
                     stop_at_first_violation=False)
    return {n: v.value for n, v in result.invariant_verdicts}


def long_chain(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
               cpu: Cpu) -> InvocationOutcome:
    return InvocationOutcome(0, 10, tail_calls=tuple(ProgId("spin") for _ in range(4)))


def test_invalid_tail_chain_over_limit_is_caught() -> None:
    assert run_with(long_chain, ("tail_call_limit",))["tail_call_limit"] == "VIOLATED"


def test_invalid_overcharge_is_caught() -> None:
    def greedy(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
               cpu: Cpu) -> InvocationOutcome:
        return InvocationOutcome(0, budget, fault="compute limit reached")
    assert run_with(greedy, ("budget",))["budget"] == "VIOLATED"


def test_invalid_double_enqueue_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = scheduler.process_enqueue_every

    def twice(state, config):  # type: ignore[no-untyped-def]
        events = original(state, config)
        if state.fifo:
            state.fifo.append(state.fifo[-1])
        return events

    monkeypatch.setattr(scheduler, "process_enqueue_every", twice)
    assert run_with(long_chain, ("no_double_execution",))["no_double_execution"] == "VIOLATED"


def test_invalid_raising_transition_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(state, config):  # type: ignore[no-untyped-def]
        raise AssertionError("planted")

    monkeypatch.setattr(scheduler, "process_end_slot", broken)
    assert run_with(long_chain, ())["no_invalid_transition"] == "VIOLATED"


def test_honest_invoker_holds() -> None:
    def honest(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
               cpu: Cpu) -> InvocationOutcome:
        return InvocationOutcome(0, 10)
    verdicts = run_with(honest, ("budget", "tail_call_limit", "no_double_execution",
                                 "progress"))
    assert set(verdicts.values()) == {"HOLDS"}
