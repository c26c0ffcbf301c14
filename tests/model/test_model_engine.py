"""Breadth-first explorer: shortest counterexamples, bounds, statistics, misuse."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from model_systems import (
    BrokenMutex,
    BudgetTimers,
    Counter,
    LossyQueue,
    below,
    budget_respected,
    in_order,
    mutual_exclusion,
    no_lost_timer,
)

from arspec.model.engine import (
    DEADLOCK,
    Bounds,
    Invariant,
    ModelError,
    Progress,
    TransitionInvariant,
    Verdict,
    explore,
    render_result,
)


@pytest.mark.parametrize(("limit", "steps"), [(1, 1), (2, 1), (3, 2), (7, 4), (10, 5)])
def test_counter_violation_at_minimal_depth(limit: int, steps: int) -> None:
    result = explore(Counter(12), invariants=[below(limit)])
    assert result.verdict is Verdict.VIOLATED
    violation = result.violation
    assert violation is not None and violation.invariant == f"below-{limit}"
    assert len(violation.trace) == steps
    assert violation.trace.final == limit


def test_counter_trace_prefers_canonical_action_order() -> None:
    result = explore(Counter(12), invariants=[below(5)])
    assert result.violation is not None
    assert result.violation.trace.labels == ("inc1()", "inc2()", "inc2()")


def test_invalid_violation_in_initial_state_has_empty_trace() -> None:
    result = explore(Counter(3), invariants=[Invariant("positive", lambda v: v > 0)])
    assert result.violation is not None and len(result.violation.trace) == 0
    assert result.stats.states == 1


def test_counter_holds_when_limit_unreachable() -> None:
    result = explore(Counter(6), invariants=[below(7)])
    assert result.verdict is Verdict.HOLDS
    assert (result.stats.states, result.stats.max_depth) == (7, 3)
    assert result.invariant_verdicts == (("below-7", Verdict.HOLDS),)


def test_mutex_planted_race_shortest_trace() -> None:
    result = explore(BrokenMutex(2, think=2), invariants=[mutual_exclusion()])
    assert result.violation is not None
    assert result.violation.trace.labels == ("check(p=0)", "check(p=1)", "enter(p=0)",
                                             "enter(p=1)")
    assert result.violation.trace.final[0][0] == result.violation.trace.final[1][0] == 2


def test_mutex_three_processes_still_four_steps() -> None:
    result = explore(BrokenMutex(3, think=3), invariants=[mutual_exclusion()])
    assert result.violation is not None and len(result.violation.trace) == 4


def test_fixed_mutex_holds() -> None:
    result = explore(BrokenMutex(3, think=3, fixed=True), invariants=[mutual_exclusion()],
                     check_deadlock=True)
    assert result.verdict is Verdict.HOLDS
    assert result.stats.states == 540


def test_lossy_queue_loss_found_in_four_steps() -> None:
    result = explore(LossyQueue(3, 2), invariants=[in_order()])
    assert result.violation is not None
    assert result.violation.trace.labels == ("send()", "send()", "drop()", "recv()")


def test_lossless_queue_holds() -> None:
    result = explore(LossyQueue(3, 2, lossy=False), invariants=[in_order()])
    assert result.verdict is Verdict.HOLDS and result.stats.states == 9


def test_timer_lost_when_budget_too_small() -> None:
    system = BudgetTimers((2, 2), budget=3)
    result = explore(system, invariants=[no_lost_timer()],
                     transition_invariants=[budget_respected(3)])
    assert result.violation is not None
    assert result.violation.trace.labels == ("fire0()", "tick()")
    assert result.verdict_of("per-slot-budget") is Verdict.UNDECIDED


def test_timer_deferred_not_lost_with_correct_tick() -> None:
    system = BudgetTimers((2, 2), budget=3, drop_unrun=False)
    result = explore(system, invariants=[no_lost_timer()],
                     transition_invariants=[budget_respected(3)])
    assert result.verdict is Verdict.HOLDS
    assert result.stats.states == 5


def test_timer_not_lost_with_enough_budget() -> None:
    result = explore(BudgetTimers((2, 2), budget=4), invariants=[no_lost_timer()])
    assert result.verdict is Verdict.HOLDS


def test_invalid_budget_transition_violation_reports_the_step() -> None:
    result = explore(BudgetTimers((2, 3), budget=5), invariants=[no_lost_timer()],
                     transition_invariants=[budget_respected(4)])
    assert result.violation is not None and result.violation.kind == "transition"
    assert result.violation.trace.labels == ("fire0()", "fire1()")
    assert result.violation.trace.final[1] == 5


def test_all_violations_collected_each_shortest() -> None:
    result = explore(BudgetTimers((2, 3), budget=4), invariants=[no_lost_timer()],
                     transition_invariants=[budget_respected(1)],
                     stop_at_first_violation=False)
    assert [(v.invariant, len(v.trace)) for v in result.violations] == [
        ("per-slot-budget", 1), ("no-lost-timer", 2)]
    assert result.verdict_of("no-lost-timer") is Verdict.VIOLATED


def test_invalid_deadlock_detected_at_minimal_depth() -> None:
    result = explore(BudgetTimers((1,), budget=1, slots=2), check_deadlock=True)
    assert result.violation is not None and result.violation.invariant == DEADLOCK
    assert result.violation.trace.labels == ("fire0()", "tick()")


def test_bound_depth_reached_with_statistics() -> None:
    result = explore(Counter(50), invariants=[below(40)], bounds=Bounds(max_depth=5))
    assert result.verdict is Verdict.BOUND_REACHED and result.bound == "max-depth"
    assert result.stats.max_depth == 5 and result.stats.states == 11
    assert result.invariant_verdicts == (("below-40", Verdict.BOUND_REACHED),)


def test_depth_bound_equal_to_diameter_still_holds() -> None:
    result = explore(Counter(6), invariants=[below(7)], bounds=Bounds(max_depth=3))
    assert result.verdict is Verdict.HOLDS and result.bound is None


def test_violation_within_depth_bound_still_reported() -> None:
    result = explore(Counter(50), invariants=[below(6)], bounds=Bounds(max_depth=3))
    assert result.verdict is Verdict.VIOLATED and len(result.violations[0].trace) == 3


def test_bound_states_reached() -> None:
    result = explore(Counter(1000), bounds=Bounds(max_states=100))
    assert result.verdict is Verdict.BOUND_REACHED and result.bound == "max-states"
    assert result.stats.states == 100


def test_bound_memory_reached() -> None:
    result = explore(Counter(100_000), bounds=Bounds(max_memory_bytes=200_000))
    assert result.verdict is Verdict.BOUND_REACHED and result.bound == "max-memory"
    assert 0 < result.stats.states < 100_000
    assert result.stats.memory_estimate_bytes > 200_000


@pytest.mark.parametrize("bad", [dict(max_depth=-1), dict(max_states=0),
                                 dict(max_memory_bytes=0)])
def test_invalid_bounds_rejected(bad: dict[str, int]) -> None:
    with pytest.raises(ModelError, match="must be positive"):
        Bounds(**bad)


def test_invalid_duplicate_invariant_names() -> None:
    with pytest.raises(ModelError, match="unique"):
        explore(Counter(3), invariants=[below(2)],
                transition_invariants=[TransitionInvariant("below-2", lambda a, b, c: True)])


def test_invalid_progress_every() -> None:
    with pytest.raises(ModelError, match="progress_every"):
        explore(Counter(3), progress_every=0)


class Flaky(Counter):
    """Apply changes behaviour after ``honest`` calls: replay of the trace must notice."""

    def __init__(self, honest: int) -> None:
        super().__init__(10)
        self.calls = 0
        self.honest = honest

    def apply(self, state: int, action: str) -> int:
        self.calls += 1
        return super().apply(state, action) + (1 if self.calls > self.honest else 0)


def test_invalid_nondeterministic_system_detected_on_replay() -> None:
    probe = Flaky(honest=10**9)
    trace_length = len(explore(probe, invariants=[below(9)]).violations[0].trace)
    assert trace_length == 5
    with pytest.raises(ModelError, match="not deterministic"):
        explore(Flaky(honest=probe.calls - trace_length), invariants=[below(9)])


def test_progress_callback_sees_growing_counts() -> None:
    seen: list[Progress] = []
    result = explore(Counter(30), progress=seen.append, progress_every=4)
    assert [p.states for p in seen][-1] == result.stats.states == 31
    assert [p.states for p in seen] == sorted(p.states for p in seen)
    assert len(seen) >= 16


def test_render_is_stable_and_excludes_time() -> None:
    result = explore(LossyQueue(3, 2), invariants=[in_order()])
    assert render_result(result) == (
        "VIOLATED\n  fifo-no-loss: VIOLATED\nstates 12, transitions 14, max depth 4\n"
        "counterexample for fifo-no-loss (state), 4 steps:\n  0. <initial>\n  1. send()\n"
        "  2. send()\n  3. drop()\n  4. recv()\n")
    assert "states/s" in render_result(result, timing=True)


def test_statistics_rates() -> None:
    result = explore(Counter(200))
    assert result.stats.transitions == 200 + 199 + 200
    assert result.stats.states_per_second > 0 and result.stats.bytes_per_state > 100


class Stuck:
    """No initial state at all."""

    def initial_states(self) -> Sequence[int]:
        return []

    def actions(self, state: int) -> Sequence[int]:
        return []

    def apply(self, state: int, action: int) -> int:
        return state

    def encode(self, state: int) -> bytes:
        return b""

    def describe(self, action: int) -> str:
        return ""


def test_empty_system_holds_vacuously() -> None:
    result = explore(Stuck(), invariants=[Invariant("never", lambda s: False)])
    assert result.verdict is Verdict.HOLDS and result.stats.states == 0
