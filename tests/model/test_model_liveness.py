"""Starvation under weak fairness (SCC + lasso) and bounded response (age monitor)."""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from model_systems import (
    BrokenMutex,
    Server,
    load_scheduler_module,
    mutual_exclusion,
    server_pending,
)

from arspec.model.engine import Bounds, ModelError, Verdict, explore
from arspec.model.liveness import check_bounded_response, check_starvation


def serve_is_fair(action: tuple[str, int]) -> Hashable | None:
    return action if action[0] == "serve" else None


def never_fair(action: tuple[str, int]) -> Hashable | None:
    return None


def test_priority_server_starves_client_one_even_under_weak_fairness() -> None:
    system = Server("priority")
    result = check_starvation(system, pending=server_pending, fairness=serve_is_fair)
    assert result.verdict is Verdict.VIOLATED and result.item == 1
    lasso = result.lasso
    assert lasso is not None
    assert lasso.prefix.labels == ("request(client=0)", "request(client=1)",
                                   "serve(client=0)")
    assert [s.label for s in lasso.cycle] == ["request(client=0)", "serve(client=0)"]
    # The cycle is a real cycle of the system, client 1 pending all along.
    state = lasso.prefix.final
    for step in lasso.cycle:
        assert step.action in system.actions(state)
        state = system.apply(state, step.action)
        assert 1 in server_pending(state)
    assert state == lasso.prefix.final


def test_nondeterministic_server_starves_without_fairness() -> None:
    result = check_starvation(Server("choice"), pending=server_pending, fairness=never_fair)
    assert result.verdict is Verdict.VIOLATED and result.item == 0
    assert result.lasso is not None and result.lasso.prefix.labels == ("request(client=0)",)
    assert [s.label for s in result.lasso.cycle] == ["request(client=1)", "serve(client=1)"]


def test_nondeterministic_server_fair_runs_never_starve() -> None:
    result = check_starvation(Server("choice"), pending=server_pending,
                              fairness=serve_is_fair)
    assert result.verdict is Verdict.HOLDS and result.lasso is None


def test_round_robin_server_never_starves_even_without_fairness_on_requests() -> None:
    result = check_starvation(Server("round-robin"), pending=server_pending,
                              fairness=serve_is_fair)
    assert result.verdict is Verdict.HOLDS


def test_fixed_mutex_waiter_starves_under_weak_but_not_under_no_contention() -> None:
    def in_check(state: tuple[tuple[int, int, int], ...]) -> tuple[int, ...]:
        return tuple(i for i, p in enumerate(state) if p[0] == 1)

    # enter(p=0) is disabled whenever process 1 holds the lock, so weak fairness does not
    # force it: the classic weak-versus-strong fairness gap.
    result = check_starvation(BrokenMutex(2, 2, fixed=True), pending=in_check,
                              fairness=lambda a: a)
    assert result.verdict is Verdict.VIOLATED and result.item == 0
    assert result.lasso is not None
    # Think steps are fair too: the starving SCC is where both processes are done thinking.
    assert result.lasso.prefix.labels == ("check(p=0)", "think(p=0)", "think(p=1)")
    assert [s.label for s in result.lasso.cycle] == [
        "check(p=1)", "enter(p=1)", "leave(p=1)"] * 2
    assert explore(BrokenMutex(2, 2, fixed=True),
                   invariants=[mutual_exclusion()]).verdict is Verdict.HOLDS


def test_starvation_bound_reached() -> None:
    result = check_starvation(Server("priority"), pending=server_pending,
                              fairness=serve_is_fair, bounds=Bounds(max_states=3))
    assert result.verdict is Verdict.BOUND_REACHED and result.lasso is None


def due_timers(state: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i for i in range(3) if 0 < state[6 + i] <= state[0])


def slot_clock(pre: tuple[int, ...], action: int, post: tuple[int, ...]) -> int:
    return post[0] - pre[0]


@pytest.mark.parametrize(("within", "steps", "labels"), [
    (0, 3, ("fire(timer=0)", "fire(timer=1)", "tick()")),
    (1, 4, ("fire(timer=0)", "fire(timer=1)", "tick()", "tick()")),
])
def test_scheduler_timer_response_violated(within: int, steps: int,
                                           labels: tuple[str, ...]) -> None:
    module = load_scheduler_module()
    model = module.SchedulerModel(module.SchedulerParams(timers=3, slots=4))
    result = check_bounded_response(model, pending=due_timers, within=within, clock=slot_clock)
    assert result.verdict is Verdict.VIOLATED
    assert result.violation is not None and result.violation.trace.labels == labels
    assert len(result.violation.trace) == steps


def test_scheduler_timer_response_holds_with_room_and_budget() -> None:
    module = load_scheduler_module()
    model = module.SchedulerModel(module.SchedulerParams(timers=3, ring=8, budget=6, slots=3))
    result = check_bounded_response(model, pending=due_timers, within=0, clock=slot_clock)
    assert result.verdict is Verdict.HOLDS


def test_scheduler_ring_backpressure_delays_timers_in_slot_three() -> None:
    module = load_scheduler_module()
    model = module.SchedulerModel(module.SchedulerParams(timers=3, ring=6, budget=6, slots=4))
    result = check_bounded_response(model, pending=due_timers, within=0, clock=slot_clock)
    assert result.violation is not None and len(result.violation.trace) == 9
    assert result.violation.trace.labels[-3:] == ("tick()", "fire(timer=0)", "tick()")


def test_step_clock_response_counts_steps() -> None:
    result = check_bounded_response(Server("round-robin"), pending=server_pending, within=2)
    assert result.verdict is Verdict.VIOLATED
    assert result.violation is not None and len(result.violation.trace) == 4
    assert result.violation.trace.labels == ("request(client=1)", "request(client=0)",
                                             "serve(client=0)", "request(client=0)")
    relaxed = check_bounded_response(Server("round-robin"), pending=server_pending, within=3)
    assert relaxed.verdict is Verdict.HOLDS


def test_invalid_negative_response_bound() -> None:
    with pytest.raises(ModelError, match="within"):
        check_bounded_response(Server("priority"), pending=server_pending, within=-1)


def test_invalid_repeated_pending_item() -> None:
    with pytest.raises(ModelError, match="repeated item"):
        check_bounded_response(Server("priority"), pending=lambda s: (1, 1), within=3)
