"""The scheduler invariants hold after every action of real runs, and catch broken states."""

from __future__ import annotations

import pytest
from runtime_support import load
from test_runtime_edges import DEFER, TIMER_SETUP, ring_bundle, tail_bundle
from test_watchers import CASCADE

from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.spec.bundle import Bundle
from arspec.spec.catalogue import CATALOGUE, InvariantKind, get_violated_invariants
from arspec.spec.scheduler import (
    EndSlot,
    EnqueueDue,
    create_initial_state,
    get_enabled_actions,
    process_action,
)
from arspec.spec.state import RuntimeState, TriggerKind, WorkItem, make_entry
from arspec.spec.types import Slot

PERIODIC = """
    arspec: 1
    profile: linux
    preset: minimal
    budgets: {per_invocation: 1500, per_slot: 4000}
    maps:
      t: {type: array, value_size: 24, max_entries: 1, timer: 8}
    programs:
      setup:
        hook: {on: startup}
        code: |
SETUP
      cb:
        hook: {on: timer}
        code: |
          r1 = r3
          r1 += 8
          r2 = 0
          r3 = 0
          call 171
          r0 = 0
          exit
    scenario: {slots: 4}
"""


def periodic() -> str:
    setup = TIMER_SETUP.replace("CALLBACK", f"{(0x101 << 32):#x} ll").replace("DELAY", "0")
    return PERIODIC.replace("SETUP", "\n".join(" " * 10 + line.strip()
                                               for line in setup.strip().splitlines()))


def step_all(bundle: Bundle, slots: int) -> list[RuntimeState]:
    invoker = ReferenceInvoker(bundle)
    state = create_initial_state(bundle)
    seen = []
    while state.slot < slots:
        action = get_enabled_actions(state, bundle, environment=False)[0]
        process_action(state, action, invoker, bundle)
        assert get_violated_invariants(state, bundle) == [], action
        seen.append(state)
    return seen


@pytest.mark.parametrize("text", [
    DEFER, CASCADE.replace("PRESET", "minimal").replace("TARGET", "0"), periodic(),
    tail_bundle("linux_like"), ring_bundle(4080, 0),
], ids=["defer", "cascade", "timer-every-slot", "tail-calls", "ring-full"])
def test_invariants_hold_after_every_action(text: str) -> None:
    step_all(load(text), 6)


def test_timer_rearming_with_delay_zero_is_deferred_not_lost() -> None:
    # a callback that re-arms with delay 0 would run forever in one slot; the budget defers it
    bundle = load(periodic())
    invoker = ReferenceInvoker(bundle)
    state = create_initial_state(bundle)
    runs = 0
    while state.slot < 3:
        action = get_enabled_actions(state, bundle, environment=False)[0]
        events = process_action(state, action, invoker, bundle)
        runs += sum(1 for e in events if e.kind == "run")
        assert get_violated_invariants(state, bundle) == []
    assert any(i.kind == TriggerKind.TIMER for i in state.fifo)
    assert runs >= 6


def broken(bundle_text: str) -> tuple[RuntimeState, Bundle]:
    bundle = load(bundle_text)
    state = create_initial_state(bundle)
    process_action(state, EnqueueDue(), ReferenceInvoker(bundle), bundle)
    return state, bundle


def test_invalid_state_over_budget_is_caught() -> None:
    state, bundle = broken(DEFER)
    state.slot_cu_used = 201
    assert get_violated_invariants(state, bundle) == ["budget"]


def test_invalid_state_out_of_order_fifo_is_caught() -> None:
    state, bundle = broken(DEFER)
    state.fifo.reverse()
    assert get_violated_invariants(state, bundle) == ["no_double_execution"]


def test_invalid_state_lost_timer_is_caught() -> None:
    bundle = load(periodic())
    invoker = ReferenceInvoker(bundle)
    state = create_initial_state(bundle)
    process_action(state, EnqueueDue(), invoker, bundle)
    process_action(state, get_enabled_actions(state, bundle)[0], invoker, bundle)  # setup
    assert any(i.kind == TriggerKind.TIMER for i in state.fifo)
    state.fifo = [i for i in state.fifo if i.kind != TriggerKind.TIMER]
    state.queued_timers.clear()
    assert get_violated_invariants(state, bundle) == ["no_lost_timer"]


def test_invalid_state_double_timer_item_is_caught() -> None:
    state, bundle = broken(periodic())
    state.fifo.append(WorkItem(seq=state.next_item_seq, kind=TriggerKind.TIMER,
                               entry=make_entry("cb"), enqueued_slot=Slot(0), async_seq=0))
    state.next_item_seq += 1
    assert "no_double_execution" in get_violated_invariants(state, bundle)


def test_invalid_state_overfull_ring_is_caught() -> None:
    state, bundle = broken(ring_bundle(0, 0))
    ring = state.maps["ring"].ringbuf  # type: ignore[index]
    assert ring is not None
    ring.producer_pos = ring.pending_pos = 4096  # type: ignore[assignment]
    assert get_violated_invariants(state, bundle) == ["ringbuf_fifo"]


def test_invalid_state_deep_cascade_is_caught() -> None:
    state, bundle = broken(CASCADE.replace("PRESET", "minimal").replace("TARGET", "0"))
    state.max_depth_seen = 3
    assert get_violated_invariants(state, bundle) == ["watcher_cascade"]


def test_catalogue_names() -> None:
    assert list(CATALOGUE) == ["budget", "no_lost_timer", "no_double_execution",
                               "ringbuf_fifo", "tail_call_limit", "watcher_cascade",
                               "runtime_watchers", "progress", "bounded_response",
                               "no_starvation"]
    checked = [inv.name for inv in CATALOGUE.values() if inv.holds is not None]
    assert checked == ["budget", "no_lost_timer", "no_double_execution", "ringbuf_fifo",
                       "watcher_cascade", "runtime_watchers"]
    kinds = {inv.name: inv.kind for inv in CATALOGUE.values()}
    assert [n for n, k in kinds.items() if k is InvariantKind.LIVENESS] == ["no_starvation"]
    assert [n for n, k in kinds.items() if k is InvariantKind.STATE] == [
        "watcher_cascade", "progress", "bounded_response"]
    assert EndSlot() == EndSlot()
