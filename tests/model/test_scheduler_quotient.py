"""Ring-occupancy quotient of the scheduler model: a sound reduction (same verdicts, same
shortest-trace lengths), and ``ring_ids=False`` is exactly exploring with
``canonicalize``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from model_systems import load_scheduler_module
from test_scheduler_vs_spin import load_bench, require_spin

from arspec.model.engine import ExplorationResult, ModelError, explore, render_result
from arspec.model.reduction import check_quotient

module = load_scheduler_module()

INSTANCES = [
    dict(),
    dict(timers=3, ring=2, wq=2, slots=3),
    dict(budget_check=False),
    dict(backpressure=False),
    dict(backpressure=False, ring=1, wq_costs=(1, 2, 3)),
    dict(timers=3, ring=3, wq=3, slots=4, budget=5),
]


def run(model: Any, **options: Any) -> ExplorationResult[Any, Any]:
    return explore(model, invariants=model.invariants(),
                   transition_invariants=model.transition_invariants(),
                   stop_at_first_violation=False, check_deadlock=True, **options)


@pytest.mark.parametrize("params", INSTANCES)
def test_quotient_conditions_hold_on_every_reachable_state(params: dict[str, object]) -> None:
    model = module.SchedulerModel(module.SchedulerParams(**params))
    full = explore(model)
    checked = check_quotient(model, model.canonicalize, full.space.keys,
                             invariants=model.invariants(),
                             transition_invariants=model.transition_invariants())
    assert checked == full.stats.transitions


@pytest.mark.parametrize("params", INSTANCES)
def test_quotient_keeps_verdicts_and_trace_lengths(params: dict[str, object]) -> None:
    p = module.SchedulerParams(**params)
    model = module.SchedulerModel(p)
    full = run(model)
    canonical = run(model, canonicalize=model.canonicalize)
    quotient = run(module.SchedulerModel(replace(p, ring_ids=False)))
    # ring_ids=False is the canonicalized exploration, state for state.
    assert render_result(canonical, show_states=True) == render_result(quotient,
                                                                       show_states=True)
    assert canonical.space.keys == quotient.space.keys
    assert list(canonical.space.parent) == list(quotient.space.parent)
    # ... and a sound reduction of the full model: verdicts, kinds, lengths.
    assert quotient.invariant_verdicts == full.invariant_verdicts
    assert [(v.invariant, v.kind, len(v.trace)) for v in quotient.violations] == [
        (v.invariant, v.kind, len(v.trace)) for v in full.violations]
    assert quotient.stats.max_depth <= full.stats.max_depth  # a class is as deep as its
    # shallowest member
    assert quotient.stats.states <= full.stats.states


def test_quotient_is_smaller_on_a_larger_instance() -> None:
    p = module.SchedulerParams(timers=3, ring=3, wq=3, slots=4, budget=5)
    assert explore(module.SchedulerModel(replace(p, ring_ids=False))).stats.states < \
        explore(module.SchedulerModel(p)).stats.states


def test_check_quotient_rejects_a_map_that_forgets_too_much() -> None:
    model = module.SchedulerModel(module.SchedulerParams())

    def forget_ring_length(state: bytes) -> bytes:
        return state[:4] + b"\0" + state[5:]

    with pytest.raises(ModelError):
        check_quotient(model, forget_ring_length, explore(model).space.keys,
                       invariants=model.invariants())


@pytest.mark.parametrize("params", [dict(), dict(timers=3, ring=3, wq=2, slots=3)])
def test_quotient_state_counts_match_spin(params: dict[str, object]) -> None:
    require_spin()
    p = module.SchedulerParams(ring_ids=False, **params)
    ours = explore(module.SchedulerModel(p)).stats.states
    assert ours == load_bench().run_spin(p.spin_defines(), reduce=False).states
