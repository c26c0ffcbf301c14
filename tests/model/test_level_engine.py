"""The level-vectorised explorer equals the generic one, state by state (issue 16).

On the scheduler benchmark model: the same states in the same order, parents, action
indices, depths, transitions, verdicts and shortest traces, with and without
``stop_at_first_violation``, on correct instances and planted bugs. The array forms of the
transitions and invariants are also compared with the scalar ones directly: on every
reachable state, and on fixed-seed random codes (which reach the failing cases too).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from model_systems import load_scheduler_module

from arspec.model.engine import ExplorationResult, ModelError, Verdict, explore
from arspec.model.level_engine import explore_levels

module = load_scheduler_module()

INSTANCES: list[dict[str, Any]] = [
    {},
    dict(timers=2, ring=2, wq=3, slots=4),
    dict(timers=3, ring=3, wq=4, slots=4, events=3, budget=5),
    dict(timers=1, ring=1, wq=1, slots=5, wq_costs=(1, 2, 3)),
    dict(budget_check=False),
    dict(backpressure=False),
    dict(budget_check=False, backpressure=False, slots=4),
    dict(ring_ids=False, timers=3, ring=3),
    dict(delay_max=3, timers=4, slots=5, budget=6),
]


def model_of(params: dict[str, Any]) -> Any:
    return module.SchedulerModel(module.SchedulerParams(**params))


def generic(model: Any, stop: bool) -> ExplorationResult[Any, Any]:
    return explore(model, invariants=model.invariants(),
                   transition_invariants=model.transition_invariants(),
                   stop_at_first_violation=stop)


def assert_same(a: ExplorationResult[Any, Any], b: ExplorationResult[Any, Any]) -> None:
    assert (a.stats.states, a.stats.transitions, a.stats.max_depth) == (
        b.stats.states, b.stats.transitions, b.stats.max_depth)
    assert a.space.parent == b.space.parent
    assert a.space.action_index == b.space.action_index
    assert a.space.depth == b.space.depth
    assert list(a.space.keys) == list(b.space.keys)
    assert a.verdict == b.verdict and a.invariant_verdicts == b.invariant_verdicts
    assert [(v.invariant, v.kind, v.state_id, v.trace.labels, v.trace.final)
            for v in a.violations] == [(v.invariant, v.kind, v.state_id, v.trace.labels,
                                        v.trace.final) for v in b.violations]


@pytest.mark.parametrize("stop", [False, True])
@pytest.mark.parametrize("params", INSTANCES)
def test_level_explorer_equals_generic(params: dict[str, Any], stop: bool) -> None:
    model = model_of(params)
    assert_same(explore_levels(model, stop_at_first_violation=stop), generic(model, stop))


def test_planted_bugs_are_found_with_the_same_traces() -> None:
    result = explore_levels(model_of(dict(budget_check=False)), stop_at_first_violation=False)
    assert result.verdict_of("per-slot-budget") is Verdict.VIOLATED
    trace = result.violations[0].trace
    assert len(trace) == 4 and trace.labels[-1] == "run_wq()"
    result = explore_levels(model_of(dict(backpressure=False)), stop_at_first_violation=False)
    assert {v.invariant for v in result.violations} == {"ring-no-loss"}
    assert result.violations[0].trace.labels == (
        "fire(timer=0)", "fire(timer=1)", "tick()", "fire(timer=0)")


@pytest.mark.parametrize("params", INSTANCES)
def test_array_transitions_equal_successors_on_every_state(params: dict[str, Any]) -> None:
    model = model_of(params)
    result = generic(model, False)
    states = list(result.space.keys)
    codes = model.pack(np.array([list(s) for s in states], dtype=np.int64))
    assert [model.decode(int(c)) for c in codes] == states
    level = model.expand_level(codes)
    expected = [(row, i, a, post) for row, s in enumerate(states)
                for i, (a, _, post) in enumerate(model.successors(s))]
    got = [(int(r), int(i), int(a), model.decode(int(p))) for r, i, a, p in
           zip(level.source, level.index, level.action, level.post, strict=True)]
    assert got == expected


def random_codes(model: Any, count: int, seed: int) -> Any:
    """Return codes with every field uniformly random within its bit width."""
    rng = np.random.default_rng(seed)
    _, masks = model._layout()
    fields = np.stack([rng.integers(0, int(m) + 1, count) for m in masks], axis=1)
    return model.pack(fields.astype(np.int64))


@pytest.mark.parametrize("params", INSTANCES)
def test_array_invariants_equal_scalar_ones(params: dict[str, Any]) -> None:
    model = model_of(params)
    pre, post = random_codes(model, 3000, 1), random_codes(model, 3000, 2)
    actions = np.random.default_rng(3).choice(
        [0, 1, 2, *(8 + k for k in range(3)), *(16 + i for i in range(model.params.timers))],
        3000)
    scalar = model.invariants()
    checked = model.check_states(pre)
    assert [n for n, _ in checked] == [inv.name for inv in scalar]
    for (name, ok), inv in zip(checked, scalar, strict=True):
        expected = [inv.holds(model.decode(int(c))) for c in pre]
        assert ok.tolist() == expected, name
        assert not all(expected), name
    scalar_t = model.transition_invariants()
    checked_t = model.check_transitions(pre, actions, post)
    assert [n for n, _ in checked_t] == [inv.name for inv in scalar_t]
    for (name, ok), inv in zip(checked_t, scalar_t, strict=True):
        expected = [inv.holds(model.decode(int(p)), int(a), model.decode(int(q)))
                    for p, a, q in zip(pre, actions, post, strict=True)]
        assert ok.tolist() == expected, name
        assert not all(expected), name


def test_invalid_instance_too_wide_for_a_code() -> None:
    model = model_of(dict(timers=8, ring=8, wq=8, slots=200))
    with pytest.raises(ModelError, match="bits per state"):
        explore_levels(model)


def test_invalid_system_without_level_methods() -> None:
    from model_systems import Counter

    with pytest.raises(ModelError, match="needs a LevelSystem"):
        explore_levels(Counter(3))
