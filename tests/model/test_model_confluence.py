"""Replica determinism: external events of one slot must commute."""

from __future__ import annotations

import pytest
from model_systems import Counter, Replica, load_scheduler_module

from arspec.model.confluence import ENABLED, check_confluence
from arspec.model.engine import Bounds, ModelError, Verdict


def test_last_writer_wins_is_caught_with_both_orders() -> None:
    result = check_confluence(Replica([("set", 1), ("set", 2)]))
    assert result.verdict is Verdict.VIOLATED
    assert result.trace is not None and result.trace.labels == ("tick(0)",)
    d = result.divergence
    assert d is not None
    assert (d.order_a, d.order_b) == (("set(2)", "set(1)"), ("set(1)", "set(2)"))
    assert (d.component, d.value_a, d.value_b) == ("x", 1, 2)
    assert d.render() == "order [set(2), set(1)] gives x = 1 but order [set(1), set(2)] gives 2"


def test_additive_events_commute() -> None:
    result = check_confluence(Replica([("add", 1), ("add", 2), ("add", 5)]))
    assert result.verdict is Verdict.HOLDS
    assert result.exploration.stats.states == 1 + 8


def test_smallest_non_commuting_pair_is_reported() -> None:
    result = check_confluence(Replica([("add", 1), ("add", 2), ("set", 7)]))
    d = result.divergence
    assert d is not None and len(d.order_a) == 2
    assert (d.order_a, d.order_b) == (("set(7)", "add(1)"), ("add(1)", "set(7)"))
    assert (d.component, d.value_a, d.value_b) == ("x", 8, 7)


def test_later_state_found_at_minimal_depth() -> None:
    # set(3) alone commutes with nothing else enabled; after add(1) arrives only set(3) is
    # left, so the only non-commuting state is the first one of slot 1.
    result = check_confluence(Replica([("add", 1), ("set", 3)]))
    assert result.trace is not None and len(result.trace) == 1


def test_event_cap_limits_the_search() -> None:
    events = [("add", 1), ("add", 2), ("set", 4)]
    capped = check_confluence(Replica(events), max_events=2)
    full = check_confluence(Replica(events), max_events=3)
    assert capped.trace is not None and capped.trace.labels == ("tick(0)", "add(1)")
    assert full.trace is not None and full.trace.labels == ("tick(0)",)


class RefusingReplica(Replica):
    """Delivering ``add`` after ``set`` is refused (the event is not enabled any more)."""

    def actions(self, state: tuple[int, int, tuple[str, ...]]) -> list[tuple[str, int]]:
        acts = list(super().actions(state))
        if any(e.startswith("set") for e in state[2]):
            acts = [a for a in acts if a[0] != "add"]
        return acts


def test_refused_event_reported_as_enabled_component() -> None:
    result = check_confluence(RefusingReplica([("add", 1), ("set", 2)]))
    d = result.divergence
    assert d is not None and d.component == ENABLED
    assert (d.order_a, d.order_b, d.value_a, d.value_b) == (
        ("set(2)", "add(1)"), ("add(1)", "set(2)"), False, True)


def test_scheduler_work_queue_depends_on_arrival_order() -> None:
    module = load_scheduler_module()
    model = module.SchedulerModel(module.SchedulerParams())
    result = check_confluence(model)
    d = result.divergence
    assert result.verdict is Verdict.VIOLATED and d is not None
    assert result.trace is not None and len(result.trace) == 0
    assert (d.order_a, d.order_b) == (("write(kind=1)", "write(kind=0)"),
                                      ("write(kind=0)", "write(kind=1)"))
    assert (d.component, d.value_a, d.value_b) == ("wq", (2, 1), (1, 2))


def test_single_kind_writes_commute_in_scheduler() -> None:
    module = load_scheduler_module()
    model = module.SchedulerModel(module.SchedulerParams(wq_costs=(1,)))
    assert check_confluence(model).verdict is Verdict.HOLDS


def test_confluence_bound_reached() -> None:
    module = load_scheduler_module()
    model = module.SchedulerModel(module.SchedulerParams(wq_costs=(1,)))
    result = check_confluence(model, bounds=Bounds(max_states=20))
    assert result.verdict is Verdict.BOUND_REACHED and result.divergence is None


def test_invalid_max_events() -> None:
    with pytest.raises(ModelError, match="max_events"):
        check_confluence(Replica([]), max_events=1)


def test_invalid_system_without_components() -> None:
    with pytest.raises(ModelError, match="components"):
        check_confluence(Counter(3))
