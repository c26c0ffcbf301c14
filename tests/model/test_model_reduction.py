"""Partial-order and symmetry reduction: same verdicts, fewer states, valid traces."""

from __future__ import annotations

from typing import Any

import pytest
from model_systems import (
    BrokenMutex,
    Counter,
    LossyQueue,
    below,
    in_order,
    mutual_exclusion,
)

from arspec.model.engine import ExplorationResult, ModelError, Trace, Verdict, explore
from arspec.model.reduction import PersistentSets, explore_reduced

MODES = [(False, False), (True, False), (False, True), (True, True)]


def run_modes(system: Any, **options: Any) -> dict[tuple[bool, bool], ExplorationResult[Any, Any]]:
    return {(po, sym): explore_reduced(system, partial_order=po, symmetry=sym,
                                       stop_at_first_violation=False, check_deadlock=True,
                                       **options)
            for po, sym in MODES}


def assert_replays(system: Any, trace: Trace[Any, Any], symmetric: bool) -> Any:
    """Replay a reduced trace in the full system (through orbit representatives if
    ``symmetric``); return the final state."""
    def canon(state: Any) -> Any:
        return system.canonicalize(state) if symmetric else state

    state = canon(system.initial_states()[0])
    assert state == trace.initial
    for step in trace.steps:
        assert step.action in system.actions(state)
        state = canon(system.apply(state, step.action))
        assert state == step.state
    return state


@pytest.mark.parametrize(("procs", "think"), [(2, 2), (2, 4), (3, 3)])
def test_mutex_race_found_in_every_mode(procs: int, think: int) -> None:
    system = BrokenMutex(procs, think)
    results = run_modes(system, invariants=[mutual_exclusion()])
    for (_, symmetric), result in results.items():
        assert result.verdict is Verdict.VIOLATED
        assert [v.invariant for v in result.violations] == ["mutual-exclusion"]
        final = assert_replays(system, result.violations[0].trace, symmetric)
        assert sum(p[0] == 2 for p in final) == 2
    full = results[False, False].stats.states
    assert results[True, False].stats.states < full
    assert results[False, True].stats.states < full
    assert results[True, True].stats.states < results[True, False].stats.states
    # Symmetry preserves distances: the trace stays shortest.
    assert len(results[False, True].violations[0].trace) == 4
    assert len(results[False, False].violations[0].trace) == 4


@pytest.mark.parametrize("procs", [2, 3])
def test_fixed_mutex_holds_in_every_mode(procs: int) -> None:
    results = run_modes(BrokenMutex(procs, 3, fixed=True), invariants=[mutual_exclusion()])
    assert {r.verdict for r in results.values()} == {Verdict.HOLDS}
    counts = {mode: r.stats.states for mode, r in results.items()}
    assert counts[True, True] < counts[True, False] < counts[False, False]
    assert counts[False, True] < counts[False, False]


def test_three_process_counts_exact() -> None:
    counts = {mode: r.stats.states for mode, r in
              run_modes(BrokenMutex(3, 3), invariants=[mutual_exclusion()]).items()}
    assert counts == {(False, False): 729, (True, False): 33, (False, True): 165,
                      (True, True): 16}


def test_dependent_counter_is_not_reduced() -> None:
    full = explore(Counter(20), invariants=[below(15)])
    reduced = explore_reduced(Counter(20), partial_order=True, symmetry=False,
                              invariants=[below(15)])
    assert reduced.stats.states == full.stats.states
    assert len(reduced.violations[0].trace) == len(full.violations[0].trace) == 8


def test_invalid_reduction_on_system_without_independence() -> None:
    with pytest.raises(ModelError, match="partial_order=False"):
        explore_reduced(LossyQueue(), symmetry=False, invariants=[in_order()])


def test_invalid_symmetry_on_system_without_canonicalize() -> None:
    with pytest.raises(ModelError, match="symmetry=False"):
        explore_reduced(Counter(3), partial_order=False)


class Asymmetric(BrokenMutex):
    def independent(self, a: tuple[str, int], b: tuple[str, int]) -> bool:
        return a[0] == "think" and b[0] != "think"


def test_invalid_asymmetric_independence_rejected() -> None:
    with pytest.raises(ModelError, match="not symmetric"):
        PersistentSets(Asymmetric())


class MissingAction(BrokenMutex):
    def alphabet(self) -> list[tuple[str, int]]:
        return [("think", 0)]

    def independent(self, a: tuple[str, int], b: tuple[str, int]) -> bool:
        return False


def test_invalid_action_outside_alphabet_rejected() -> None:
    with pytest.raises(ModelError, match="not in alphabet"):
        explore_reduced(MissingAction(), symmetry=False, invariants=[mutual_exclusion()])


class AllVisible(BrokenMutex):
    def visible(self, a: tuple[str, int]) -> bool:
        return True


def test_visible_actions_disable_partial_order_reduction() -> None:
    full = explore(BrokenMutex(2, 3), invariants=[mutual_exclusion()])
    reduced = explore_reduced(AllVisible(2, 3), symmetry=False, invariants=[mutual_exclusion()])
    assert reduced.stats.states == full.stats.states
    assert len(reduced.violations[0].trace) == 4
