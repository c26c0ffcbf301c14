"""The spec scheduler on its own: actions, order, budgets and rollback with a fake invoker."""

from __future__ import annotations

import pytest
from runtime_support import load

from arspec.spec.scheduler import (
    ApplyWrite,
    DomainWrite,
    EndSlot,
    EnqueueDue,
    EventKind,
    InvocationOutcome,
    RunHead,
    create_initial_state,
    get_enabled_actions,
    process_action,
    process_slot,
)
from arspec.spec.state import (
    Phase,
    RuntimeState,
    TriggerKind,
    WorkItem,
    compute_state_key,
    copy_state,
    encode_state,
)
from arspec.spec.timers import (
    process_timer_cancel,
    process_timer_init,
    process_timer_set_callback,
    process_timer_start,
)
from arspec.spec.types import AccountName, ComputeUnits, Cpu, FuncRef, Pc, ProgId

BUNDLE = """
    arspec: 1
    profile: linux
    budgets: {per_invocation: 100, per_slot: 300}
    accounts:
      o: {size: 8, fields: {v: {offset: 0, type: u64}}}
    maps:
      t: {type: array, value_size: 24, max_entries: 2, timer: 8}
    programs:
      s: {code: "exit", hook: {on: startup}}
      w: {code: "exit", hook: {on: watch, account: o, field: v, op: ge, value: 5}}
      e: {code: "exit", hook: {on: every, slots: 2}}
      cb: {code: "exit", hook: {on: timer}}
    scenario:
      slots: 4
      writes:
        - {slot: 1, account: o, field: v, value: 3}
        - {slot: 1, account: o, field: v, value: 7}
      domains:
        o.v: {values: [0, 9], slots: [2]}
"""


class FakeInvoker:
    """Runs nothing; writes account `o` when asked, and fails when told to."""

    def __init__(self, *, cost: int = 10, fail: set[str] | None = None,
                 write: set[str] | None = None) -> None:
        self.cost = cost
        self.fail = fail or set()
        self.write = write or set()
        self.calls: list[tuple[str, int]] = []

    def __call__(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                 cpu: Cpu) -> InvocationOutcome:
        self.calls.append((item.prog, cpu))
        written: tuple[AccountName, ...] = ()
        if item.prog in self.write:
            state.accounts.accounts[AccountName("o")].data[0] += 1
            written = (AccountName("o"),)
        fault = "boom" if item.prog in self.fail else None
        return InvocationOutcome(r0=0, compute_units=self.cost, fault=fault,
                                 accounts_written=written)


def test_canonical_action_sequence_of_a_slot_with_writes() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    invoker = FakeInvoker()
    process_slot(state, bundle, invoker)
    seen = []
    while True:
        action = get_enabled_actions(state, bundle, environment=False)[0]
        seen.append(action)
        process_action(state, action, invoker, bundle)
        if isinstance(action, EndSlot):
            break
    assert seen == [ApplyWrite(), ApplyWrite(), EnqueueDue(), RunHead(), EndSlot()]
    assert invoker.calls == [("s", 0), ("e", 1), ("w", 2)]


def test_domain_writes_only_in_their_slot_and_once_per_slot() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    invoker = FakeInvoker()
    assert get_enabled_actions(state, bundle) == [EnqueueDue()]
    process_slot(state, bundle, invoker)
    process_slot(state, bundle, invoker)
    assert get_enabled_actions(state, bundle) == [EnqueueDue(), DomainWrite("o", "v", 0),
                                                  DomainWrite("o", "v", 9)]
    process_action(state, DomainWrite("o", "v", 9), invoker, bundle)
    assert get_enabled_actions(state, bundle) == [EnqueueDue()]
    events = process_slot(state, bundle, invoker)
    assert [e.item.prog for e in events if e.kind == EventKind.RUN] == ["e"]  # type: ignore[union-attr]


def test_invalid_domain_value_is_refused() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    invoker = FakeInvoker()
    process_slot(state, bundle, invoker)
    process_slot(state, bundle, invoker)
    with pytest.raises(AssertionError):
        process_action(state, DomainWrite("o", "v", 5), invoker, bundle)


def test_invalid_run_head_when_it_does_not_fit() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    process_action(state, EnqueueDue(), FakeInvoker(), bundle)
    state.slot_cu_used = 250
    assert get_enabled_actions(state, bundle, environment=False) == [EndSlot()]
    with pytest.raises(AssertionError):
        process_action(state, RunHead(), FakeInvoker(), bundle)


def test_invalid_end_slot_while_the_head_fits() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    process_action(state, EnqueueDue(), FakeInvoker(), bundle)
    with pytest.raises(AssertionError):
        process_action(state, EndSlot(), FakeInvoker(), bundle)


def test_invalid_enqueue_before_the_writes() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    process_slot(state, bundle, FakeInvoker())
    with pytest.raises(AssertionError):
        process_action(state, EnqueueDue(), FakeInvoker(), bundle)


def test_failed_invocation_is_charged_its_budget_and_rolled_back() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    events = process_slot(state, bundle, FakeInvoker(fail={"s"}, write={"s", "e"}))
    runs = [e for e in events if e.kind == EventKind.RUN]
    assert [(e.item.prog, e.charged, e.rolled_back) for e in runs] == [  # type: ignore[union-attr]
        ("s", 100, True), ("e", 10, False)]
    assert state.accounts.accounts[AccountName("o")].data[0] == 1


def test_cpu_is_the_item_sequence_modulo_cpus() -> None:
    bundle = load(BUNDLE.replace("per_slot: 300", "per_slot: 100000"))
    state = create_initial_state(bundle)
    invoker = FakeInvoker()
    for _ in range(4):
        process_slot(state, bundle, invoker)
    assert [c for _, c in invoker.calls] == [i % 4 for i in range(len(invoker.calls))]


def arm(state: RuntimeState, index: int, delay: int) -> None:
    element = state.maps["t"].elements[index.to_bytes(4, "little")][0]  # type: ignore[index]
    timer = element.timer
    assert timer is not None
    if not timer.initialised:
        process_timer_init(timer, 0)
    process_timer_set_callback(timer, FuncRef(ProgId("cb"), Pc(0)))
    process_timer_start(timer, state.sequence, state.slot, delay, 0)


def test_due_timers_run_by_expiry_then_arm_order() -> None:
    bundle = load(BUNDLE.replace("per_slot: 300", "per_slot: 100000"))
    state = create_initial_state(bundle)
    arm(state, 1, 2)
    arm(state, 0, 1)
    arm(state, 1, 1)  # re-arm: later sequence, same expiry as index 0
    process_slot(state, bundle, FakeInvoker())
    events = process_slot(state, bundle, FakeInvoker())
    timers = [e.item for e in events if e.kind == EventKind.RUN
              and e.item.kind == TriggerKind.TIMER]  # type: ignore[union-attr]
    assert [(t.key, t.async_seq) for t in timers] == [(b"\0\0\0\0", 1), (b"\1\0\0\0", 2)]  # type: ignore[union-attr]


def test_cancelled_deferred_timer_item_is_skipped_not_run() -> None:
    bundle = load(BUNDLE.replace("per_slot: 300", "per_slot: 100"))
    state = create_initial_state(bundle)
    arm(state, 0, 0)
    invoker = FakeInvoker()
    process_slot(state, bundle, invoker)  # startup runs; the timer item is deferred
    assert [i.kind for i in state.fifo] == [TriggerKind.EVERY, TriggerKind.TIMER]
    timer = state.maps["t"].elements[b"\0\0\0\0"][0].timer  # type: ignore[index]
    assert timer is not None and process_timer_cancel(timer) == 1
    events = []
    for _ in range(3):
        events += process_slot(state, bundle, invoker)
    assert [e.kind for e in events if e.item is not None and e.item.kind == TriggerKind.TIMER] \
        == [EventKind.SKIP]
    assert "cb" not in [p for p, _ in invoker.calls]


def test_state_key_is_canonical_and_copies_are_independent() -> None:
    bundle = load(BUNDLE)
    state = create_initial_state(bundle)
    twin = copy_state(state)
    assert encode_state(state) == encode_state(twin)
    process_slot(twin, bundle, FakeInvoker())
    assert compute_state_key(state) != compute_state_key(twin)
    assert state.phase == Phase.WRITES and state.slot == 0
    again = create_initial_state(bundle)
    process_slot(again, bundle, FakeInvoker())
    assert encode_state(again) == encode_state(twin)
