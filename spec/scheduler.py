"""
Scheduler
=========

How a slot runs: which work exists, in which order it runs, what it may spend, and what
happens when it fails. The order is part of consensus: it never depends on hashing, on the
iteration order of unordered collections, on wall-clock time or on the CPU.

Canonical order of one slot
---------------------------
1. **Environment writes.** The scenario's account writes for this slot, in list order
   (:class:`ApplyWrite`, one write per action).
2. **Enqueue due work** (:class:`EnqueueDue`), appended to the **back** of the FIFO, behind
   items deferred from earlier slots, in this order:

   a. ``startup`` programs (slot 0 only), in program declaration order;
   b. ``every: N`` programs with ``slot % N == 0`` (slot 0 included), in declaration order;
   c. watchers that fire (:mod:`~arspec.spec.hooks`: environment writes of this slot and
      program writes of the previous slot), in declaration order, then the watchers
      registered at run time (:mod:`~arspec.spec.runtime_watchers`) in id order; a trigger
      deeper than the preset's maximum cascade depth is suppressed and reported;
   d. due timers, ordered by (expiry slot, arm sequence);
   e. pending work-queue items, in start (FIFO) order;
   f. ring-buffer records: per ring-buffer map in declaration order, the committed records
      are consumed in ring order, and each record gets one item per subscribed program in
      program declaration order. A ring with no subscriber is never consumed (like a ring
      without a user-space reader, it fills up and reservations fail).

3. **Run the FIFO head while the slot budget allows** (:class:`RunHead`). The head starts only
   if the slot's remaining compute units are at least the item's invocation budget (its
   reservation). After it runs the slot is charged its actual compute units; a failed
   invocation is charged its whole budget, like a failed Solana transaction. Work created by
   the invocation (a timer due now, a work-queue start, ring records) is enqueued at once,
   behind everything already waiting, in the order d, e, f above, and may run in this slot if
   budget remains. The FIFO is strict: when the head does not fit, nothing behind it runs
   (head-of-line blocking keeps the order; a smaller item never overtakes a larger one).
4. **End of slot** (:class:`EndSlot`): every item still in the FIFO is deferred to the next
   slot, in order, and reported; nothing is ever dropped.

Invocations
-----------
An invocation runs one work item's program (and its tail-call chain, which shares the
invocation's budget and meter, :mod:`~arspec.spec.tailcall`) through an :class:`Invoker`, the
binding to a VM that applies the spec's transitions. The outcome is success, or failure (a
fault, or the budget exceeded): a failed invocation is rolled back entirely (maps, accounts,
ring-buffer reservations and records, timer and work-queue changes, run-time watcher
registrations and removals, logs) and reported, like a failed transaction. The **trigger
is consumed either way**: a fired timer stays fired, a work-queue item stays dequeued and a
consumed ring record stays consumed, as a failed transaction still advances its nonce;
otherwise a faulting callback would re-run forever.

* **Budgets.** The bundle's ``budgets`` (and a program's ``budget`` override) are used; the
  preset supplies the other limits.
* **CPU.** An invocation runs on CPU ``item.seq % preset.num_cpus`` (the item's FIFO sequence
  number): per-CPU maps see a deterministic CPU.
* **Stale async items.** A timer item runs only if, when it reaches the head, its timer is
  still armed with the same arm sequence (it may have been cancelled, re-armed or freed since
  it was enqueued); a work-queue item likewise, and so is the item of a run-time watcher
  removed (``sol_unwatch_account``) since it fired. A stale item is skipped (reported, charged
  nothing): the timer's current arm, if any, gets its own item when it is due.

Actions for the explorer
------------------------
:func:`get_enabled_actions` lists what may happen next; the first action is always the
canonical one, and with ``environment=True`` the explorer may additionally choose an
environment write from ``scenario.domains`` (:class:`DomainWrite`, at most one per domain key
per slot, only in the write phase and in the domain's slots). :func:`process_slot` applies the
canonical actions until the slot ends. A raising transition is invalid and leaves the state
undefined: callers run transitions on a copy (:func:`~arspec.spec.state.copy_state`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from arspec.spec import bundle as schema
from arspec.spec.hooks import (
    WatchSpec,
    compute_trigger_depth,
    create_watcher_states,
    get_max_cascade_depth,
    get_watch_specs,
    get_watched_value,
    is_every_due,
    is_startup_due,
    process_watcher_observation,
)
from arspec.spec.maps import MapElement, MapState
from arspec.spec.ringbuf import is_ringbuf_consume_enabled, process_ringbuf_consume
from arspec.spec.runtime_watchers import (
    copy_runtime_watchers,
    get_observing_watchers,
    is_watcher_item_live,
    process_runtime_watcher_observation,
)
from arspec.spec.state import (
    Phase,
    RuntimeState,
    TriggerKind,
    WorkItem,
    compute_field_bytes,
    copy_accounts,
    copy_maps,
    create_runtime_state,
    make_entry,
)
from arspec.spec.timers import (
    AsyncSequence,
    get_due_timers,
    process_timer_callback_done,
    process_timer_fire,
)
from arspec.spec.types import AccountName, ComputeUnits, Cpu, FuncRef, MapId, ProgId, Slot
from arspec.spec.workqueue import get_pending_work, process_wq_callback_done, process_wq_run

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RuntimeConfig:
    """What the scheduler needs from a bundle, resolved once and in declaration order."""

    startup: tuple[ProgId, ...]
    every: tuple[tuple[ProgId, int], ...]
    watchers: Mapping[ProgId, WatchSpec]
    subscribers: Mapping[MapId, tuple[ProgId, ...]]
    budgets: Mapping[ProgId, ComputeUnits]
    slot_budget: ComputeUnits
    writes: Mapping[int, tuple[schema.AccountWrite, ...]]
    domains: Mapping[str, schema.Domain]
    field_types: Mapping[str, tuple[int, schema.FieldType]]


def compute_runtime_config(bundle: schema.Bundle) -> RuntimeConfig:
    """Return the scheduler's view of ``bundle``."""
    progs = bundle.programs
    subscribers: dict[MapId, tuple[ProgId, ...]] = {}
    for map_name in bundle.maps:
        subs = tuple(ProgId(n) for n, p in progs.items()
                     if isinstance(p.hook, schema.RingbufHook) and p.hook.map == map_name)
        if subs:
            subscribers[MapId(map_name)] = subs
    writes: dict[int, list[schema.AccountWrite]] = {}
    for write in bundle.scenario.writes:
        writes.setdefault(write.slot, []).append(write)
    per_invocation = bundle.budgets.per_invocation
    return RuntimeConfig(
        startup=tuple(ProgId(n) for n, p in progs.items()
                      if isinstance(p.hook, schema.StartupHook)),
        every=tuple((ProgId(n), p.hook.slots) for n, p in progs.items()
                    if isinstance(p.hook, schema.EveryHook)),
        watchers=get_watch_specs(bundle),
        subscribers=subscribers,
        budgets={ProgId(n): ComputeUnits(p.budget if p.budget is not None else per_invocation)
                 for n, p in progs.items()},
        slot_budget=ComputeUnits(bundle.budgets.per_slot),
        writes={slot: tuple(items) for slot, items in writes.items()},
        domains=bundle.scenario.domains,
        field_types={f"{a}.{f}": (spec.offset, spec.type)
                     for a, acc in bundle.accounts.items() for f, spec in acc.fields.items()},
    )


_config_cache: list[tuple[schema.Bundle, RuntimeConfig]] = []


def get_runtime_config(bundle: schema.Bundle) -> RuntimeConfig:
    """Return the (cached) scheduler view of ``bundle``; bundles are immutable."""
    for cached, config in _config_cache:
        if cached is bundle:
            return config
    config = compute_runtime_config(bundle)
    _config_cache[:] = [(bundle, config)]
    return config


def create_initial_state(bundle: schema.Bundle) -> RuntimeState:
    """Return the state at the start of slot 0 with every watcher's baseline taken."""
    state = create_runtime_state(bundle)
    state.watchers = create_watcher_states(bundle, state.accounts)
    return state


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class ApplyWrite:
    """Apply the next scenario write of the current slot."""


@dataclass(frozen=True)
class DomainWrite:
    """Write ``value`` to ``account.field`` (an explorer's environment choice)."""

    account: str
    field: str
    value: int


@dataclass(frozen=True)
class EnqueueDue:
    """Enqueue the slot's due work (step 2) and start running."""


@dataclass(frozen=True)
class RunHead:
    """Run the FIFO head (step 3)."""


@dataclass(frozen=True)
class EndSlot:
    """Defer what is left and advance to the next slot (step 4)."""


Action = ApplyWrite | DomainWrite | EnqueueDue | RunHead | EndSlot


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class InvocationOutcome:
    """What an invoker reports about one invocation (before the scheduler's rollback).

    ``fault`` is ``None`` on success, else a one-line reason (a VM fault, the budget
    exceeded, or a helper misuse). ``tail_calls`` names the programs jumped to, in order;
    ``records_produced`` counts ring records submitted or output; ``accounts_written`` the
    accounts changed by successful account writes; ``tail_calls_refused`` counts the tail
    calls that fell through because the chain had already used the preset's limit (the
    program went on after the call, as in Linux).
    """

    r0: int
    compute_units: int
    fault: str | None = None
    tail_calls: tuple[ProgId, ...] = ()
    logs: tuple[bytes, ...] = ()
    records_produced: int = 0
    accounts_written: tuple[AccountName, ...] = ()
    tail_calls_refused: int = 0


class EventKind(StrEnum):
    """What an event reports."""

    WRITE = "write"
    ENQUEUE = "enqueue"
    CONSUME = "consume"
    SUPPRESS = "suppress"
    RUN = "run"
    SKIP = "skip"
    DEFER = "defer"
    END_SLOT = "end_slot"


@dataclass(frozen=True)
class Event:
    """One thing that happened, for the run report and the explorer's traces.

    ``charged`` is what the slot was charged for a run (the whole budget when it failed);
    ``rolled_back`` says whether its effects were undone; ``count`` is the number of records
    a ``consume`` took or of items a ``defer`` carried over.
    """

    slot: Slot
    kind: EventKind
    item: WorkItem | None = None
    outcome: InvocationOutcome | None = None
    detail: str = ""
    charged: int = 0
    cpu: int | None = None
    rolled_back: bool = False
    count: int = 0


class Invoker(Protocol):
    """Runs a work item's program against the state, applying spec transitions in place."""

    def __call__(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                 cpu: Cpu) -> InvocationOutcome: ...


class RollbackMaps(Protocol):
    """An :class:`Invoker` that changes some maps only through copies: it names, for the
    rollback snapshot, maps it never changes in place."""

    def get_rollback_maps(self, maps: dict[MapId, MapState]) -> dict[MapId, MapState]:
        """Return maps equal to ``maps`` that the next invocation leaves unchanged (copies,
        or the same objects where it never changes them in place)."""
        ...


def copy_rollback_maps(state: RuntimeState, invoker: Invoker) -> dict[MapId, MapState]:
    """Return the maps a failed invocation restores: a copy of every map, or what the
    invoker's ``get_rollback_maps`` returns (:class:`RollbackMaps`)."""
    if not hasattr(invoker, "get_rollback_maps"):
        return copy_maps(state.maps)
    hinted: RollbackMaps = invoker  # type: ignore[assignment]
    return hinted.get_rollback_maps(state.maps)


# --------------------------------------------------------------------------- predicates


def get_slot_writes(state: RuntimeState, config: RuntimeConfig) -> tuple[schema.AccountWrite,
                                                                         ...]:
    """Return the scenario writes of the current slot, in list order."""
    return config.writes.get(state.slot, ())


def get_item_budget(config: RuntimeConfig, item: WorkItem) -> ComputeUnits:
    """Return the invocation budget (the slot reservation) of an item."""
    return config.budgets[item.prog]


def get_remaining_cu(state: RuntimeState, config: RuntimeConfig) -> ComputeUnits:
    """Return the compute units the current slot has left."""
    return ComputeUnits(config.slot_budget - state.slot_cu_used)


def is_head_runnable(state: RuntimeState, config: RuntimeConfig) -> bool:
    """Return whether the FIFO head exists and its reservation fits the slot's remainder."""
    if state.phase != Phase.RUN or not state.fifo:
        return False
    return get_remaining_cu(state, config) >= get_item_budget(config, state.fifo[0])


def compute_cpu(state: RuntimeState, item: WorkItem) -> Cpu:
    """Return the CPU an item runs on: its FIFO sequence number modulo the CPU count."""
    return Cpu(item.seq % state.preset.num_cpus)


def is_domain_write_enabled(state: RuntimeState, key: str, domain: schema.Domain) -> bool:
    """Return whether the environment may write domain ``key`` now."""
    if state.phase != Phase.WRITES or key in state.domains_written:
        return False
    return domain.slots is None or state.slot in domain.slots


def get_canonical_action(state: RuntimeState, config: RuntimeConfig) -> Action:
    """Return the one action the canonical schedule takes next."""
    if state.phase == Phase.WRITES:
        if state.writes_applied < len(get_slot_writes(state, config)):
            return ApplyWrite()
        return EnqueueDue()
    if is_head_runnable(state, config):
        return RunHead()
    return EndSlot()


def get_enabled_actions(state: RuntimeState, bundle: schema.Bundle, *,
                        environment: bool = True) -> list[Action]:
    """Return the enabled actions: the canonical one first, then environment choices."""
    config = get_runtime_config(bundle)
    actions: list[Action] = [get_canonical_action(state, config)]
    if not environment:
        return actions
    for key, domain in config.domains.items():
        if not is_domain_write_enabled(state, key, domain):
            continue
        account, _, field_name = key.partition(".")
        actions.extend(DomainWrite(account, field_name, v) for v in domain.values)
    return actions


# --------------------------------------------------------------------------- step 1: writes


def process_environment_write(state: RuntimeState, account: AccountName, offset: int,
                              data: bytes) -> None:
    """Write account bytes from the outside world (cascade depth 0)."""
    target = state.accounts.accounts[account]
    # Verify the write lies inside the account
    assert offset >= 0 and offset + len(data) <= len(target.data)
    target.data[offset : offset + len(data)] = data
    state.writer_depth[account] = 0


def describe_write(write: schema.AccountWrite) -> str:
    """Return ``oracle.price = 105`` or ``oracle[8..10] = 01 02``."""
    if write.field is not None:
        return f"{write.account}.{write.field} = {write.value}"
    assert write.hex is not None and write.offset is not None
    end = write.offset + len(write.hex)
    return f"{write.account}[{write.offset}..{end}] = {write.hex.hex(' ')}"


def process_apply_write(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Apply the next scenario write of this slot."""
    write = get_slot_writes(state, config)[state.writes_applied]
    if write.field is not None:
        # Verify a field write has its value (the schema requires it)
        assert write.value is not None
        offset, kind = config.field_types[f"{write.account}.{write.field}"]
        data = compute_field_bytes(write.value, kind)
    else:
        assert write.offset is not None and write.hex is not None
        offset, data = write.offset, write.hex
    process_environment_write(state, AccountName(write.account), offset, data)
    state.writes_applied += 1
    return [Event(state.slot, EventKind.WRITE, detail=describe_write(write))]


def process_domain_write(state: RuntimeState, config: RuntimeConfig,
                         action: DomainWrite) -> list[Event]:
    """Apply an explorer's environment write to a domain field."""
    key = f"{action.account}.{action.field}"
    # Verify the write is enabled now
    assert is_domain_write_enabled(state, key, config.domains[key])
    # Verify the value is one of the domain's values
    assert action.value in config.domains[key].values
    offset, kind = config.field_types[key]
    process_environment_write(state, AccountName(action.account), offset,
                              compute_field_bytes(action.value, kind))
    state.domains_written.add(key)
    return [Event(state.slot, EventKind.WRITE, detail=f"{key} = {action.value}")]


# --------------------------------------------------------------------------- step 2: enqueue


def process_enqueue_item(state: RuntimeState, kind: TriggerKind, entry: FuncRef, reason: str,
                         **extra: object) -> Event:
    """Append a new work item to the back of the FIFO and return its ``enqueue`` event."""
    item = WorkItem(seq=state.next_item_seq, kind=kind, entry=entry,
                    enqueued_slot=state.slot, reason=reason, **extra)  # type: ignore[arg-type]
    state.next_item_seq += 1
    state.fifo.append(item)
    return Event(state.slot, EventKind.ENQUEUE, item=item, detail=reason)


def process_enqueue_startup(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Enqueue the startup programs (slot 0, once)."""
    if not is_startup_due(state.slot, state.startup_done):
        return []
    state.startup_done = True
    return [process_enqueue_item(state, TriggerKind.STARTUP, make_entry(p), "startup")
            for p in config.startup]


def process_enqueue_every(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Enqueue the every-N programs due in this slot."""
    return [process_enqueue_item(state, TriggerKind.EVERY, make_entry(p), f"every {n} slots")
            for p, n in config.every if is_every_due(state.slot, n)]


def process_enqueue_watchers(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Observe every watcher once; enqueue (or suppress) those that fire."""
    events: list[Event] = []
    limit = get_max_cascade_depth(state.preset)
    for prog, spec in config.watchers.items():
        value = get_watched_value(state.accounts, spec)
        if not process_watcher_observation(spec, state.watchers[prog], value):
            continue
        depth = compute_trigger_depth(state.writer_depth, spec.account)
        reason = f"watch {spec.account}@{spec.offset} {spec.op.value} (value {value})"
        if depth > limit:
            state.cascades_suppressed += 1
            events.append(Event(state.slot, EventKind.SUPPRESS,
                                detail=f"{prog}: {reason}: cascade depth {depth} exceeds "
                                       f"the maximum {limit}"))
            continue
        state.max_depth_seen = max(state.max_depth_seen, depth)
        events.append(process_enqueue_item(state, TriggerKind.WATCH, make_entry(prog), reason,
                                           depth=depth))
    events += process_enqueue_runtime_watchers(state, limit)
    state.writer_depth.clear()
    return events


def process_enqueue_runtime_watchers(state: RuntimeState, limit: int) -> list[Event]:
    """Observe the run-time watchers (after the declared ones, in id order); enqueue those
    that fire, each item naming its watcher (``watcher_id``)."""
    events: list[Event] = []
    for watcher in get_observing_watchers(state):
        if not process_runtime_watcher_observation(state, watcher):
            continue
        spec = watcher.spec
        depth = compute_trigger_depth(state.writer_depth, spec.account)
        reason = (f"runtime watcher {watcher.id} of {watcher.owner}: {spec.account}@"
                  f"{spec.offset} {spec.op.value}")
        if depth > limit:
            state.cascades_suppressed += 1
            events.append(Event(state.slot, EventKind.SUPPRESS,
                                detail=f"{reason}: cascade depth {depth} exceeds the "
                                       f"maximum {limit}"))
            continue
        state.max_depth_seen = max(state.max_depth_seen, depth)
        events.append(process_enqueue_item(state, TriggerKind.WATCH, watcher.callback, reason,
                                           depth=depth, watcher_id=watcher.id))
    return events


def get_async_maps(state: RuntimeState, which: str) -> dict[MapId, MapState]:
    """Return the maps whose values hold a timer (``which="timer"``) or a work item."""
    attribute = "timer_offset" if which == "timer" else "wq_offset"
    return {name: m for name, m in state.maps.items()
            if getattr(m.definition, attribute) is not None}


def process_enqueue_timers(state: RuntimeState) -> list[Event]:
    """Enqueue every due timer without an item yet, by (expiry, arm sequence)."""
    events: list[Event] = []
    for due in get_due_timers(get_async_maps(state, "timer"), state.slot):
        if due.arm_seq in state.queued_timers:
            continue
        timer = due.element.timer
        assert timer is not None and timer.callback is not None
        state.queued_timers.add(due.arm_seq)
        reason = f"timer {due.map_id}[{due.key.hex()}] expired at slot {due.expiry}"
        events.append(process_enqueue_item(state, TriggerKind.TIMER, timer.callback, reason,
                                           map_id=due.map_id, key=due.key,
                                           async_seq=due.arm_seq))
    return events


def process_enqueue_work(state: RuntimeState) -> list[Event]:
    """Enqueue every pending work-queue item without an item yet, in start order."""
    events: list[Event] = []
    for work in get_pending_work(get_async_maps(state, "wq")):
        if work.seq in state.queued_work:
            continue
        wq = work.element.wq
        assert wq is not None and wq.callback is not None
        state.queued_work.add(work.seq)
        reason = f"work queue {work.map_id}[{work.key.hex()}]"
        events.append(process_enqueue_item(state, TriggerKind.WORKQUEUE, wq.callback, reason,
                                           map_id=work.map_id, key=work.key,
                                           async_seq=work.seq))
    return events


def process_enqueue_records(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Consume committed ring records and enqueue one item per record and subscriber."""
    events: list[Event] = []
    for map_id, subs in config.subscribers.items():
        ring = state.maps[map_id].ringbuf
        assert ring is not None
        if not is_ringbuf_consume_enabled(ring):
            continue
        payloads = process_ringbuf_consume(ring)
        events.append(Event(state.slot, EventKind.CONSUME, detail=f"ring {map_id}",
                            count=len(payloads)))
        for index, payload in enumerate(payloads):
            for prog in subs:
                events.append(process_enqueue_item(
                    state, TriggerKind.RINGBUF, make_entry(prog),
                    f"ring {map_id} record {index} ({len(payload)} bytes)", map_id=map_id,
                    record=payload))
    return events


def process_enqueue_async(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Enqueue async work: due timers, pending work items, ring records (steps 2d-2f)."""
    events = process_enqueue_timers(state)
    events += process_enqueue_work(state)
    events += process_enqueue_records(state, config)
    return events


def process_enqueue_due(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Apply step 2: enqueue startup, every-N, watchers, timers, work, records; start running."""
    # Verify the slot is in its write phase
    assert state.phase == Phase.WRITES
    # Verify every scenario write of the slot has been applied
    assert state.writes_applied == len(get_slot_writes(state, config))
    events = process_enqueue_startup(state, config)
    events += process_enqueue_every(state, config)
    events += process_enqueue_watchers(state, config)
    events += process_enqueue_async(state, config)
    state.phase = Phase.RUN
    return events


# --------------------------------------------------------------------------- step 3: run


def get_async_element(state: RuntimeState, item: WorkItem) -> MapElement | None:
    """Return the element whose timer / work item still matches the item, or ``None``."""
    assert item.map_id is not None and item.key is not None
    cells = state.maps[item.map_id].elements.get(item.key)
    if cells is None:
        return None
    element = cells[0]
    if item.kind == TriggerKind.TIMER:
        timer = element.timer
        if timer is None or timer.arm_seq != item.async_seq or timer.expiry is None:
            return None
        return element
    wq = element.wq
    if wq is None or wq.pending_seq != item.async_seq:
        return None
    return element


def process_take_trigger(state: RuntimeState, item: WorkItem) -> MapElement | None:
    """Fire the item's timer or dequeue its work item; return its element (None if stale)."""
    if item.kind == TriggerKind.TIMER:
        assert item.async_seq is not None
        state.queued_timers.discard(item.async_seq)
    elif item.kind == TriggerKind.WORKQUEUE:
        assert item.async_seq is not None
        state.queued_work.discard(item.async_seq)
    else:
        return None
    element = get_async_element(state, item)
    if element is None:
        return None
    if item.kind == TriggerKind.TIMER:
        assert element.timer is not None
        process_timer_fire(element.timer)
    else:
        assert element.wq is not None
        process_wq_run(element.wq)
    return element


def get_fired_element(state: RuntimeState, item: WorkItem) -> MapElement | None:
    """Return the element of a fired timer / running work item (after a rollback)."""
    if not is_async_item(item):
        return None
    assert item.map_id is not None and item.key is not None
    cells = state.maps[item.map_id].elements.get(item.key)
    return None if cells is None else cells[0]


def process_callback_done(item: WorkItem, element: MapElement | None) -> None:
    """Mark the item's timer or work item callback as returned."""
    if element is None:
        return
    if item.kind == TriggerKind.TIMER and element.timer is not None and element.timer.running:
        process_timer_callback_done(element.timer)
    if item.kind == TriggerKind.WORKQUEUE and element.wq is not None and element.wq.running:
        process_wq_callback_done(element.wq)


def is_async_item(item: WorkItem) -> bool:
    """Return whether the item was created for a timer or a work-queue item."""
    return item.kind in (TriggerKind.TIMER, TriggerKind.WORKQUEUE)


def process_run_head(state: RuntimeState, config: RuntimeConfig,
                     invoker: Invoker) -> list[Event]:
    """Apply step 3 once: run the FIFO head, roll it back if it failed, enqueue new work."""
    # Verify the head may start (its reservation fits the slot)
    assert is_head_runnable(state, config)
    item = state.fifo.pop(0)
    element = process_take_trigger(state, item)
    if is_async_item(item) and element is None:
        return [Event(state.slot, EventKind.SKIP, item=item,
                      detail="stale: cancelled, re-armed or freed since it was enqueued")]
    if item.watcher_id is not None and not is_watcher_item_live(state, item.watcher_id):
        return [Event(state.slot, EventKind.SKIP, item=item,
                      detail=f"stale: runtime watcher {item.watcher_id} was removed")]
    budget = get_item_budget(config, item)
    cpu = compute_cpu(state, item)
    snapshot = (copy_rollback_maps(state, invoker), copy_accounts(state.accounts),
                AsyncSequence(state.sequence.next_seq))
    watch_snapshot = copy_runtime_watchers(state)
    outcome = invoker(state, item, budget, cpu)
    if outcome.fault is not None:
        state.maps, state.accounts, state.sequence = snapshot
        state.runtime_watchers, state.next_watcher_id = watch_snapshot
        element = get_fired_element(state, item)
        charged: int = budget
    else:
        charged = min(outcome.compute_units, budget)
        for account in outcome.accounts_written:
            previous = state.writer_depth.get(account, item.depth)
            state.writer_depth[account] = min(previous, item.depth)
    process_callback_done(item, element)
    state.slot_cu_used += charged
    events = [Event(state.slot, EventKind.RUN, item=item, outcome=outcome, charged=charged,
                    cpu=cpu, rolled_back=outcome.fault is not None)]
    return events + process_enqueue_async(state, config)


# --------------------------------------------------------------------------- step 4: end


def process_end_slot(state: RuntimeState, config: RuntimeConfig) -> list[Event]:
    """Apply step 4: report deferred items and advance to the next slot."""
    # Verify the slot is running and the head (if any) does not fit
    assert state.phase == Phase.RUN and not is_head_runnable(state, config)
    events: list[Event] = []
    if state.fifo:
        events.append(Event(state.slot, EventKind.DEFER, count=len(state.fifo),
                            detail="slot budget exhausted; kept in FIFO order"))
    events.append(Event(state.slot, EventKind.END_SLOT, charged=state.slot_cu_used))
    state.slot = Slot(state.slot + 1)
    state.phase = Phase.WRITES
    state.slot_cu_used = 0
    state.writes_applied = 0
    state.domains_written = set()
    return events


# --------------------------------------------------------------------------- top level


def process_action(state: RuntimeState, action: Action, invoker: Invoker,
                   bundle: schema.Bundle) -> list[Event]:
    """Apply one action and return what happened."""
    config = get_runtime_config(bundle)
    if isinstance(action, ApplyWrite):
        return process_apply_write(state, config)
    if isinstance(action, DomainWrite):
        return process_domain_write(state, config, action)
    if isinstance(action, EnqueueDue):
        return process_enqueue_due(state, config)
    if isinstance(action, RunHead):
        return process_run_head(state, config, invoker)
    return process_end_slot(state, config)


def process_slot(state: RuntimeState, bundle: schema.Bundle, invoker: Invoker) -> list[Event]:
    """Run the current slot to its end in the canonical order; return its events."""
    config = get_runtime_config(bundle)
    events: list[Event] = []
    while True:
        action = get_canonical_action(state, config)
        events += process_action(state, action, invoker, bundle)
        if isinstance(action, EndSlot):
            return events

