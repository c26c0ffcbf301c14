"""The bulk ``successors`` fast path: same states, verdicts, statistics and traces as the
generic ``actions``/``apply``/``encode`` path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from model_systems import load_scheduler_module

from arspec.model.engine import (
    Bounds,
    ExplorationResult,
    ModelError,
    check_successors,
    explore,
    render_result,
)
from arspec.model.graph import space_to_dot

module = load_scheduler_module()

INSTANCES = [
    dict(),
    dict(timers=3, ring=2, wq=2, slots=3),
    dict(budget_check=False),
    dict(backpressure=False),
    dict(backpressure=False, ring=1, wq_costs=(1, 2, 3)),
    dict(timers=1, wq_costs=(3,), budget=2),
    dict(timers=3, ring=3, wq=4, slots=4, events=3, budget=5),
]


class Generic:
    """The same model without ``successors``: forces the explorer's generic path."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def initial_states(self) -> Sequence[Any]:
        return self.inner.initial_states()  # type: ignore[no-any-return]

    def actions(self, state: Any) -> Sequence[Any]:
        return self.inner.actions(state)  # type: ignore[no-any-return]

    def apply(self, state: Any, action: Any) -> Any:
        return self.inner.apply(state, action)

    def encode(self, state: Any) -> bytes:
        return self.inner.encode(state)  # type: ignore[no-any-return]

    def describe(self, action: Any) -> str:
        return self.inner.describe(action)  # type: ignore[no-any-return]


def both(params: dict[str, object], **options: Any,
         ) -> tuple[ExplorationResult[Any, Any], ExplorationResult[Any, Any]]:
    model = module.SchedulerModel(module.SchedulerParams(**params))
    if "invariants" not in options:
        options = dict(invariants=model.invariants(),
                       transition_invariants=model.transition_invariants(), **options)
    return explore(model, **options), explore(Generic(model), **options)


def assert_same(fast: ExplorationResult[Any, Any], slow: ExplorationResult[Any, Any]) -> None:
    assert render_result(fast, show_states=True) == render_result(slow, show_states=True)
    assert fast.invariant_verdicts == slow.invariant_verdicts
    assert fast.violations == slow.violations
    assert fast.bound == slow.bound
    fs, ss = fast.space, slow.space
    assert fs.keys == ss.keys and fs.ids == ss.ids
    assert list(fs.parent) == list(ss.parent)
    assert list(fs.action_index) == list(ss.action_index)
    assert list(fs.depth) == list(ss.depth)
    assert (fast.stats.states, fast.stats.transitions, fast.stats.max_depth) == (
        slow.stats.states, slow.stats.transitions, slow.stats.max_depth)
    assert fast.stats.memory_estimate_bytes == slow.stats.memory_estimate_bytes


@pytest.mark.parametrize("params", INSTANCES)
@pytest.mark.parametrize("stop", [True, False])
def test_fast_path_matches_generic_path(params: dict[str, object], stop: bool) -> None:
    fast, slow = both(params, stop_at_first_violation=stop, check_deadlock=True)
    assert_same(fast, slow)


@pytest.mark.parametrize("params", INSTANCES)
def test_successors_contract_on_every_reachable_state(params: dict[str, object]) -> None:
    model = module.SchedulerModel(module.SchedulerParams(**params))
    result = explore(Generic(model))
    compared = check_successors(model, result.space.keys)
    assert compared == result.stats.transitions


@pytest.mark.parametrize("bounds", [Bounds(max_depth=5), Bounds(max_states=300),
                                    Bounds(max_memory_bytes=20_000)])
def test_fast_path_matches_under_bounds(bounds: Bounds) -> None:
    fast, slow = both(dict(timers=3, ring=3, wq=4, slots=4), bounds=bounds)
    assert fast.bound is not None
    assert_same(fast, slow)


def test_fast_path_matches_with_edges_and_tags() -> None:
    model = module.SchedulerModel(module.SchedulerParams())
    options: dict[str, Any] = dict(record_edges=True, tagger=model.pending_work)
    fast, slow = both({}, **options)
    assert_same(fast, slow)
    assert fast.space.tags == slow.space.tags
    assert space_to_dot(fast.space) == space_to_dot(slow.space)


def test_check_successors_reports_a_broken_fast_path() -> None:
    model = module.SchedulerModel(module.SchedulerParams())

    class Broken(Generic):
        def successors(self, state: Any) -> list[tuple[Any, bytes, Any]]:
            return list(model.successors(state))[1:]

    with pytest.raises(ModelError, match="expected"):
        check_successors(Broken(model), model.initial_states())
    with pytest.raises(ModelError, match="no successors"):
        check_successors(Generic(model), model.initial_states())
