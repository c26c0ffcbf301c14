"""
Invariant catalogue
===================

The scheduler's invariants, one list read by the explorer (``properties.explore.invariants``;
:mod:`arspec.model.runtime_system`), the proofs and the runtime tests, plus the evaluator of
the user invariants written in a bundle (``properties.invariants[].expr``). Nothing here
explores.

Every invariant has one name, one statement (:attr:`Invariant.statement`), a kind
(:class:`InvariantKind`: a property of each state, of each atomic scheduler action, or of
infinite runs) and its checks:

* :attr:`Invariant.state` / :attr:`Invariant.transition`: what the explorer checks on every
  reachable state / transition; a predicate returns ``None`` when it holds and a one-line
  reason when it is violated. Transition predicates see the state before an atomic scheduler
  action, the events it produced and the state after it;
* :attr:`Invariant.holds`: the part every single state of a correct runtime satisfies,
  whatever the programs do; the runtime tests check it after every scheduler action of real
  runs (:func:`get_violated_invariants`).

:attr:`Invariant.proofs` names the z3 claims (:mod:`arspec.proofs`) that prove parts of it
for every state, and :attr:`Invariant.broken_by` the examples whose exploration violates it
(a test explores each and checks that this invariant is the catalogue's only violated one).
:data:`CATALOGUE` lists them in a fixed order.

User invariants
---------------
:func:`compile_user_invariant` checks an expression's names against the bundle and returns
a :class:`UserInvariant`; :func:`get_user_invariant_violation` evaluates it. Account fields
and map value fields read as little-endian integers (signed for ``i*`` types). A map
element that does not exist reads as 0 in every field; a per-CPU map is read on CPU 0.
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import Final

from arspec.spec import bundle as schema
from arspec.spec.errors import InputError
from arspec.spec.hooks import get_max_cascade_depth
from arspec.spec.maps import MapState
from arspec.spec.ringbuf import (
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    BPF_RINGBUF_HDR_SZ,
    RingBuffer,
    compute_record_size,
    compute_sample_pos,
    get_record_len_word,
    get_ringbuf_bytes,
)
from arspec.spec.runtime_watchers import MAX_WATCHERS_PER_ACCOUNT, MAX_WATCHERS_PER_PROGRAM
from arspec.spec.scheduler import (
    Event,
    EventKind,
    get_async_maps,
    get_item_budget,
    get_runtime_config,
)
from arspec.spec.state import Phase, RuntimeState, TriggerKind
from arspec.spec.timers import is_timer_due
from arspec.spec.types import MapId, RingPos, Slot

# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class CatalogueContext:
    """The numbers the catalogue predicates need, resolved once from a bundle."""

    bundle: schema.Bundle
    slot_budget: int
    tail_call_limit: int
    cascade_limit: int
    timer_bound: int
    response_bound: int


def compute_timer_bound(bundle: schema.Bundle) -> int:
    """Return the slots a due timer may wait: one full-budget round of every program.

    ``ceil(sum of every program's invocation budget / per_slot)``, at least 1. A timer still
    waiting after that has more than one invocation of every program queued ahead of it: the
    scheduler is overloaded and the timer's deadline is lost.
    """
    config = get_runtime_config(bundle)
    total = sum(config.budgets.values())
    return max(1, math.ceil(total / config.slot_budget))


def create_catalogue_context(bundle: schema.Bundle, preset_state: RuntimeState,
                             ) -> CatalogueContext:
    """Return the context of ``bundle`` (the preset is read from an initial state)."""
    explore = bundle.properties.explore
    return CatalogueContext(
        bundle=bundle,
        slot_budget=bundle.budgets.per_slot,
        tail_call_limit=preset_state.preset.max_tail_call_cnt,
        cascade_limit=get_max_cascade_depth(preset_state.preset),
        timer_bound=compute_timer_bound(bundle),
        response_bound=explore.response_bound if explore is not None else 3,
    )


# --------------------------------------------------------------------------- budget


def get_budget_violation(ctx: CatalogueContext, pre: RuntimeState, events: Sequence[Event],
                         post: RuntimeState) -> str | None:
    """Return why a transition breaks ``budget``, or ``None``."""
    config = get_runtime_config(ctx.bundle)
    for event in events:
        if event.kind != EventKind.RUN or event.item is None or event.outcome is None:
            continue
        budget = get_item_budget(config, event.item)
        outcome = event.outcome
        if event.charged > budget:
            return f"{event.item.prog} was charged {event.charged} CU, over its budget {budget}"
        if outcome.fault is not None and outcome.compute_units >= budget:
            return (f"{event.item.prog} ran out of its {budget} CU invocation budget "
                    f"({outcome.fault})")
    if post.slot_cu_used > ctx.slot_budget:
        return f"slot {post.slot} charged {post.slot_cu_used} CU, over per_slot {ctx.slot_budget}"
    return None


# --------------------------------------------------------------------------- timers


@dataclass(frozen=True)
class ArmedTimer:
    """One armed timer: where it lives, its arm sequence number and its expiry slot."""

    map_id: str
    key: bytes
    arm_seq: int
    expiry: int


def get_armed_timers(state: RuntimeState) -> list[ArmedTimer]:
    """Return every armed timer, by map order then key."""
    armed: list[ArmedTimer] = []
    for map_id, mstate in state.maps.items():
        for key in sorted(mstate.elements):
            for element in mstate.elements[key]:
                timer = element.timer
                if timer is not None and timer.expiry is not None and timer.arm_seq is not None:
                    armed.append(ArmedTimer(map_id, key, timer.arm_seq, timer.expiry))
    return armed


def is_timer_accounted(timer: ArmedTimer, events: Sequence[Event], post: RuntimeState) -> bool:
    """Return whether an arm that is gone in ``post`` fired, or a program cancelled it."""
    for event in events:
        item = event.item
        if (event.kind in (EventKind.RUN, EventKind.SKIP) and item is not None
                and item.kind == TriggerKind.TIMER and item.async_seq == timer.arm_seq):
            return True
    mstate = post.maps.get(MapId(timer.map_id))
    cells = None if mstate is None else mstate.elements.get(timer.key)
    if not cells:
        return False
    current = cells[0].timer
    # Still initialised: a program re-armed (new sequence number) or cancelled it on purpose.
    return current is not None and current.initialised


def get_lost_timer_violation(ctx: CatalogueContext, pre: RuntimeState, events: Sequence[Event],
                             post: RuntimeState) -> str | None:
    """Return why a transition loses an armed timer, or ``None``."""
    still = {(t.map_id, t.key, t.arm_seq) for t in get_armed_timers(post)}
    for timer in get_armed_timers(pre):
        if (timer.map_id, timer.key, timer.arm_seq) in still:
            continue
        if not is_timer_accounted(timer, events, post):
            return (f"timer {timer.map_id}[{timer.key.hex()}] armed for slot {timer.expiry} "
                    "was freed before it fired (its element was deleted or overwritten)")
    return None


def get_late_timer_violation(ctx: CatalogueContext, state: RuntimeState) -> str | None:
    """Return why a state holds a timer overdue by more than the bound, or ``None``."""
    for timer in get_armed_timers(state):
        if state.slot > timer.expiry + ctx.timer_bound:
            return (f"timer {timer.map_id}[{timer.key.hex()}] due at slot {timer.expiry} has "
                    f"not fired by slot {timer.expiry + ctx.timer_bound} (bound "
                    f"{ctx.timer_bound} slots)")
    return None


# --------------------------------------------------------------------------- double execution

#: A callback site: (trigger kind, map, key) of a timer or work-queue element.
CallbackSite = tuple[str, str, bytes]


def get_callback_sites(events: Sequence[Event]) -> list[CallbackSite]:
    """Return the timer / work-queue elements whose callbacks ran in ``events``."""
    sites: list[CallbackSite] = []
    for event in events:
        item = event.item
        if (event.kind == EventKind.RUN and item is not None
                and item.kind in (TriggerKind.TIMER, TriggerKind.WORKQUEUE)):
            assert item.map_id is not None and item.key is not None
            sites.append((item.kind.value, item.map_id, item.key))
    return sites


def get_duplicate_item_violation(ctx: CatalogueContext, state: RuntimeState) -> str | None:
    """Return why the FIFO holds a work item twice, or ``None``."""
    seqs: set[int] = set()
    arms: set[tuple[str, int]] = set()
    for item in state.fifo:
        if item.seq in seqs:
            return f"work item #{item.seq} ({item.prog}) is queued twice"
        seqs.add(item.seq)
        if item.kind in (TriggerKind.TIMER, TriggerKind.WORKQUEUE):
            assert item.async_seq is not None
            arm = (item.kind.value, item.async_seq)
            if arm in arms:
                return (f"{item.kind.value} start #{item.async_seq} ({item.prog}) has two "
                        "queued items")
            arms.add(arm)
    return None


def get_double_execution_violation(ran_this_slot: frozenset[CallbackSite],
                                   events: Sequence[Event]) -> str | None:
    """Return why a transition runs a callback a second time in its slot, or ``None``.

    :param ran_this_slot: the callback sites that already ran in the current slot.
    :param events: the events of the transition.
    """
    seen = set(ran_this_slot)
    for site in get_callback_sites(events):
        if site in seen:
            kind, map_id, key = site
            return (f"the {kind} callback of {map_id}[{key.hex()}] runs a second time in "
                    "the same slot")
        seen.add(site)
    return None


# --------------------------------------------------------------------------- ring buffers


def get_committed_records(ring: RingBuffer) -> tuple[list[bytes], int]:
    """Return the committed, not discarded payloads from the consumer on, and where they end."""
    records: list[bytes] = []
    pos: int = ring.consumer_pos
    while pos < ring.producer_pos:
        word = get_record_len_word(ring, pos)
        if word & BPF_RINGBUF_BUSY_BIT:
            break
        size = word & ~BPF_RINGBUF_DISCARD_BIT
        if not word & BPF_RINGBUF_DISCARD_BIT:
            records.append(get_ringbuf_bytes(ring, compute_sample_pos(RingPos(pos)), size))
        pos += compute_record_size(size)
    return records, pos


def get_ring_violation(name: str, before: RingBuffer, after: RingBuffer,
                       subscribers: int, delivered: list[bytes]) -> str | None:
    """Return why one ring's step breaks ``ringbuf_fifo``, or ``None``."""
    if (after.consumer_pos < before.consumer_pos or after.producer_pos < before.producer_pos):
        return f"ring {name}: a position moved backwards"
    if after.producer_pos - after.consumer_pos > after.size:
        return f"ring {name}: {after.producer_pos - after.consumer_pos} bytes outstanding, " \
               f"more than its size {after.size}"
    consumed = after.consumer_pos > before.consumer_pos
    if consumed:
        # A consume ends a step, after any invocation of the step: walk the post-state bytes
        # from where the consumer stood before.
        view = RingBuffer(after.size, after.data, before.consumer_pos, after.producer_pos,
                          after.pending_pos)
        records, end = get_committed_records(view)
        expected = [r for r in records for _ in range(subscribers)]
        if after.consumer_pos != end or delivered != expected:
            return (f"ring {name}: consumed {len(delivered)} deliveries, expected the "
                    f"{len(records)} committed records in ring order to each of "
                    f"{subscribers} subscriber(s)")
        return None
    if delivered:
        return f"ring {name}: records delivered without being consumed"
    end = get_committed_records(before)[1]
    if get_ringbuf_bytes(after, before.consumer_pos, end - before.consumer_pos) != \
            get_ringbuf_bytes(before, before.consumer_pos, end - before.consumer_pos):
        return f"ring {name}: a committed record was overwritten before it was consumed"
    return None


def get_ringbuf_violation(ctx: CatalogueContext, pre: RuntimeState, events: Sequence[Event],
                          post: RuntimeState) -> str | None:
    """Return why a transition breaks ``ringbuf_fifo``, or ``None``."""
    config = get_runtime_config(ctx.bundle)
    for map_id, mstate in pre.maps.items():
        ring = mstate.ringbuf
        after = post.maps[map_id].ringbuf
        if ring is None or after is None:
            continue
        delivered = [e.item.record for e in events
                     if e.kind == EventKind.ENQUEUE and e.item is not None
                     and e.item.kind == TriggerKind.RINGBUF and e.item.map_id == map_id
                     and e.item.record is not None]
        # A failed invocation is rolled back; a consume happens only in the enqueue steps.
        reason = get_ring_violation(map_id, ring, after,
                                    len(config.subscribers.get(map_id, ())), delivered)
        if reason is not None:
            return reason
    return None


# --------------------------------------------------------------------------- tail calls, cascades


def get_tail_call_violation(ctx: CatalogueContext, pre: RuntimeState, events: Sequence[Event],
                            post: RuntimeState) -> str | None:
    """Return why a transition's tail-call chain exceeds or hits the limit, or ``None``."""
    for event in events:
        if event.kind != EventKind.RUN or event.outcome is None or event.item is None:
            continue
        outcome = event.outcome
        chain = len(outcome.tail_calls)
        if chain > ctx.tail_call_limit:
            return (f"{event.item.prog} ran a chain of {chain} tail calls, over the "
                    f"limit {ctx.tail_call_limit}")
        if outcome.tail_calls_refused:
            path = " > ".join([event.item.prog, *outcome.tail_calls])
            return (f"{event.item.prog}'s tail-call chain ({path}) reached the limit "
                    f"{ctx.tail_call_limit} and {outcome.tail_calls_refused} further tail "
                    "call(s) fell through")
    return None


def get_cascade_violation(ctx: CatalogueContext, state: RuntimeState) -> str | None:
    """Return why a state shows an unbounded watcher cascade, or ``None``."""
    if state.cascades_suppressed:
        return (f"a watcher cascade went deeper than {ctx.cascade_limit} and was suppressed "
                "by the runtime")
    if state.max_depth_seen > ctx.cascade_limit:
        return f"a watcher cascade ran at depth {state.max_depth_seen} > {ctx.cascade_limit}"
    return None


def get_runtime_watcher_violation(ctx: CatalogueContext, pre: RuntimeState,
                                  events: Sequence[Event], post: RuntimeState) -> str | None:
    """Return why a transition breaks the run-time watcher rules, or ``None``.

    No item of a removed watcher runs; a watcher is enqueued only from the slot after its
    registration; and the enqueue step observes every watcher active in its slot.
    """
    for event in events:
        item = event.item
        if item is None or item.watcher_id is None:
            continue
        watcher = pre.runtime_watchers.get(item.watcher_id)
        if event.kind == EventKind.RUN and watcher is None:
            return (f"run-time watcher {item.watcher_id} fired ({item.prog} ran) after its "
                    "removal")
        if event.kind == EventKind.ENQUEUE:
            if watcher is None:
                return f"run-time watcher {item.watcher_id} was enqueued but is not registered"
            if watcher.active_from > pre.slot:
                return (f"run-time watcher {item.watcher_id} fired in slot {pre.slot}, the "
                        "slot that registered it")
    if pre.phase == Phase.WRITES and post.phase == Phase.RUN:
        for watcher in post.runtime_watchers.values():
            if watcher.active_from > post.slot:
                continue
            data = post.accounts.accounts[watcher.spec.account].data
            raw = bytes(data[watcher.spec.offset:watcher.spec.offset + watcher.spec.width])
            if watcher.edge.last_value != int.from_bytes(raw, "little",
                                                         signed=watcher.spec.signed):
                return (f"run-time watcher {watcher.id} (registered for slot "
                        f"{watcher.active_from}) was not observed in slot {post.slot}")
    return None


# --------------------------------------------------------------------------- progress, response


def get_progress_violation(ctx: CatalogueContext, state: RuntimeState) -> str | None:
    """Return why the scheduler is stuck in ``state``, or ``None``."""
    if state.phase != Phase.RUN or not state.fifo or state.slot_cu_used:
        return None
    config = get_runtime_config(ctx.bundle)
    budget = get_item_budget(config, state.fifo[0])
    if budget > config.slot_budget:
        return (f"the FIFO head {state.fifo[0].prog} needs {budget} CU, more than an empty "
                f"slot has ({config.slot_budget}): nothing can ever run again")
    return None


def get_response_violation(ctx: CatalogueContext, state: RuntimeState) -> str | None:
    """Return why a queued item waits longer than the response bound, or ``None``."""
    for item in state.fifo:
        waited = state.slot - item.enqueued_slot
        if waited > ctx.response_bound:
            return (f"{item.prog} ({item.reason}) queued in slot {item.enqueued_slot} has "
                    f"not run by slot {state.slot} (bound {ctx.response_bound} slots)")
    return None


# --------------------------------------------------------------------------- what every state holds


def is_budget_respected(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether the current slot has spent no more than its budget."""
    return state.slot_cu_used <= get_runtime_config(bundle).slot_budget


def is_fifo_ordered(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether FIFO sequence numbers strictly increase from head to back."""
    seqs = [item.seq for item in state.fifo]
    return all(a < b for a, b in pairwise(seqs)) and all(
        s < state.next_item_seq for s in seqs)


def is_no_timer_lost(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether every due armed timer (as of the last enqueue step) has an item."""
    horizon = state.slot if state.phase == Phase.RUN else state.slot - 1
    if horizon < 0:
        return True
    for map_state in get_async_maps(state, "timer").values():
        for cells in map_state.elements.values():
            timer = cells[0].timer
            if timer is None or not is_timer_due(timer, Slot(horizon)):
                continue
            if timer.arm_seq not in state.queued_timers:
                return False
    return True


def _is_queued_once(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether the FIFO is ordered and each arm and start has at most one item."""
    return is_fifo_ordered(state, bundle) and is_no_double_execution(state, bundle)


def is_no_double_execution(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether each timer arm and work start has at most one item, as booked."""
    timers = [i.async_seq for i in state.fifo if i.kind == TriggerKind.TIMER]
    work = [i.async_seq for i in state.fifo if i.kind == TriggerKind.WORKQUEUE]
    return (len(timers) == len(set(timers)) and set(timers) == state.queued_timers
            and len(work) == len(set(work)) and set(work) == state.queued_work)


def is_ringbuf_in_bounds(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether every ring's positions are ordered and within its capacity."""
    for map_state in state.maps.values():
        ring = map_state.ringbuf
        if ring is None:
            continue
        if not ring.consumer_pos <= ring.pending_pos <= ring.producer_pos:
            return False
        if ring.producer_pos - ring.consumer_pos > ring.size - BPF_RINGBUF_HDR_SZ:
            return False
    return True


def is_watcher_cascade_bounded(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether no enqueued watcher item exceeded the maximum cascade depth."""
    limit = get_max_cascade_depth(state.preset)
    return state.max_depth_seen <= limit and all(i.depth <= limit for i in state.fifo)


def is_runtime_watchers_consistent(state: RuntimeState, bundle: schema.Bundle) -> bool:
    """Return whether the run-time watchers keep their ids, limits and first slots."""
    watchers = state.runtime_watchers
    if any(i != w.id or not 1 <= i < state.next_watcher_id or w.active_from > state.slot + 1
           for i, w in watchers.items()):
        return False
    owners = Counter(w.owner for w in watchers.values())
    accounts = Counter(w.spec.account for w in watchers.values())
    if max(owners.values(), default=0) > MAX_WATCHERS_PER_PROGRAM \
            or max(accounts.values(), default=0) > MAX_WATCHERS_PER_ACCOUNT:
        return False
    return all(item.watcher_id not in watchers
               or watchers[item.watcher_id].active_from <= item.enqueued_slot
               for item in state.fifo if item.watcher_id is not None)


# --------------------------------------------------------------------------- the table

StatePredicate = Callable[[CatalogueContext, RuntimeState], "str | None"]
TransitionPredicate = Callable[[CatalogueContext, RuntimeState, Sequence[Event], RuntimeState],
                               "str | None"]
StateFact = Callable[[RuntimeState, schema.Bundle], bool]


class InvariantKind(StrEnum):
    """What an invariant is a property of."""

    #: Each reachable state.
    STATE = "state"
    #: Each atomic scheduler action (the state before, its events, the state after).
    TRANSITION = "transition"
    #: Infinite runs (checked on their own graph by :mod:`arspec.model.starvation`).
    LIVENESS = "liveness"


@dataclass(frozen=True)
class Invariant:
    """One invariant of the catalogue (see the module docstring).

    ``double_execution`` marks the invariant whose transition part also needs the callback
    sites that already ran in the slot (:func:`get_double_execution_violation`).
    """

    name: str
    #: One line, for tables and reports.
    summary: str
    #: What the invariant says, in full (the docs page shows it).
    statement: str
    kind: InvariantKind
    state: StatePredicate | None = None
    transition: TransitionPredicate | None = None
    holds: StateFact | None = None
    double_execution: bool = False
    #: The :mod:`arspec.proofs` claims that prove parts of it for every state.
    proofs: tuple[str, ...] = ()
    #: Example bundles (paths from the repository root) whose exploration violates it.
    broken_by: tuple[str, ...] = ()

    @property
    def liveness(self) -> bool:
        """Return whether it is a property of infinite runs."""
        return self.kind is InvariantKind.LIVENESS


def _text(text: str) -> str:
    return " ".join(text.split())


CATALOGUE: Final[dict[str, Invariant]] = {inv.name: inv for inv in (
    Invariant(
        "budget", "per-slot and per-invocation compute budgets respected", _text("""
        Every invocation stays within its compute budget (an invocation stopped by its
        compute limit violates it) and the slot's charged compute units never exceed
        ``per_slot`` (a reservation must fit before an item starts, and an item is charged
        at most its budget)."""),
        InvariantKind.TRANSITION, transition=get_budget_violation, holds=is_budget_respected,
        proofs=("budget.slot", "budget.invocation", "budget.fault"),
        broken_by=("examples/broken_over_budget.yaml", "examples/explore/budget_broken.yaml")),
    Invariant(
        "no_lost_timer", "an armed, uncancelled timer fires, once, within the bound", _text("""
        An armed timer that is not cancelled or re-armed by a program fires exactly once: it
        is never freed while armed (an element delete or overwrite frees the timer silently)
        and it fires at most :func:`compute_timer_bound` slots after its expiry. Once the
        enqueue step of a slot has run, every armed timer that is due has an item in the
        FIFO (it is deferred, never forgotten); before it, every timer due in an earlier slot
        has one."""),
        InvariantKind.TRANSITION, state=get_late_timer_violation,
        transition=get_lost_timer_violation, holds=is_no_timer_lost,
        proofs=("timers.cancel", "timers.restart", "timers.stays_due", "timers.strict_order"),
        broken_by=("examples/broken_lost_timer.yaml", "examples/explore/timer_broken.yaml")),
    Invariant(
        "no_double_execution", "no work item or callback executes twice", _text("""
        No work item is queued twice: the FIFO holds items in strictly increasing sequence
        order (new work goes to the back; deferral never reorders), there is one item per
        timer arm and per work-queue start, and the bookkeeping of queued arms and starts
        matches the FIFO exactly. No timer or work-queue element runs its callback twice in
        one slot (a callback that re-arms itself for the current slot would)."""),
        InvariantKind.TRANSITION, state=get_duplicate_item_violation,
        holds=_is_queued_once, double_execution=True,
        proofs=("timers.fire_once", "workqueue.coalesce", "workqueue.once", "budget.fifo"),
        broken_by=("examples/explore/double_broken.yaml",)),
    Invariant(
        "ringbuf_fifo",
        "ring records delivered in order, never discarded ones, never overwritten", _text("""
        Ring positions only advance and stay ordered (consumer <= pending <= producer), at
        most ``size - 8`` bytes are outstanding, committed records are never overwritten
        before they are consumed, and a consume delivers exactly the committed, not
        discarded records in ring order, one item per subscriber."""),
        InvariantKind.TRANSITION, transition=get_ringbuf_violation, holds=is_ringbuf_in_bounds,
        proofs=("ringbuf.positions", "ringbuf.disjoint_bytes", "ringbuf.no_overwrite",
                "ringbuf.fifo", "ringbuf.exact_space")),
    Invariant(
        "tail_call_limit",
        "tail-call chains never reach the preset's limit and ask for more", _text("""
        No tail-call chain reaches the preset's limit (33 in ``linux_like``, 3 in
        ``minimal``) and asks for more: a ``bpf_tail_call`` that falls through because the
        chain already made ``limit`` tail calls violates it, and so does (only on a faulty
        runtime) a chain longer than the limit. The spec's tail-call code
        (:mod:`~arspec.spec.tailcall`) never jumps past the limit, so "chains <= limit"
        alone could never fail on a real bundle; what a real bundle can do is spin through
        a ``prog_array`` cycle until the limit cuts it and the program silently goes on
        after the call. A chain of exactly ``limit`` tail calls that asks for no further
        one holds."""),
        InvariantKind.TRANSITION, transition=get_tail_call_violation,
        proofs=("tailcall.limit",), broken_by=("examples/explore/tail_broken.yaml",)),
    Invariant(
        "watcher_cascade", "watcher cascades bounded without the runtime's safety net", _text("""
        No watcher cascade reaches the runtime's safety net: no trigger is ever suppressed
        for exceeding the preset's maximum cascade depth, and no watcher item deeper than
        that depth is ever enqueued."""),
        InvariantKind.STATE, state=get_cascade_violation, holds=is_watcher_cascade_bounded,
        proofs=("watchers.cascade",),
        broken_by=("examples/broken_watcher_cascade.yaml",
                   "examples/explore/cascade_broken.yaml", "examples/explore/rwatch_broken.yaml")),
    Invariant(
        "runtime_watchers",
        "run-time watchers fire from the next slot, never after removal", _text("""
        Watchers registered at run time (:mod:`~arspec.spec.runtime_watchers`) keep their
        rules: ids below the counter, the per-program and per-account limits, no item of a
        removed watcher runs, none fires in the slot that registered it, and every active
        one is observed in each slot's enqueue step. No bundle can break it on a correct
        runtime; planted faults of the scheduler show the check catches them. Their
        cascades are bounded by ``watcher_cascade``, as declared watchers' are."""),
        InvariantKind.TRANSITION, transition=get_runtime_watcher_violation,
        holds=is_runtime_watchers_consistent),
    Invariant(
        "progress", "the scheduler can always advance", _text("""
        The scheduler can always advance: the FIFO head fits an empty slot (an idle slot
        tick is progress). That a transition never raises is checked by the explorer
        itself. No bundle can violate it under the current spec: the schema requires
        ``per_slot >= per_invocation`` and every program budget ``<= per_invocation``, so
        every head fits an empty slot; the check guards the scheduler and the schema
        against regressions (a planted-fault test breaks it)."""),
        InvariantKind.STATE, state=get_progress_violation),
    Invariant(
        "bounded_response", "every queued item runs within the response bound", _text("""
        Every queued work item runs within ``properties.explore.response_bound`` slots of
        the slot it was enqueued in (checked within the exploration horizon)."""),
        InvariantKind.STATE, state=get_response_violation,
        broken_by=("examples/explore/response_broken.yaml",)),
    Invariant(
        "no_starvation", "under weak fairness no queued item waits forever", _text("""
        Under weak fairness of the scheduler's own actions, no queued work item stays queued
        forever; checked by :mod:`arspec.model.starvation` on a slot-abstracted state graph
        when a bundle has no ``properties.explore``. No bundle can violate it under the
        current spec: the FIFO is strict and every head fits an empty slot, so an item
        with ``n`` items ahead of it runs within ``n + 1`` slots; a planted out-of-order
        scheduler shows that the check catches starvation."""),
        InvariantKind.LIVENESS),
)}


def get_violated_invariants(state: RuntimeState, bundle: schema.Bundle) -> list[str]:
    """Return the names of the invariants whose :attr:`~Invariant.holds` ``state`` fails."""
    return [inv.name for inv in CATALOGUE.values()
            if inv.holds is not None and not inv.holds(state, bundle)]


#: The liveness invariant (checked by :mod:`arspec.model.starvation`).
STARVATION_INVARIANT: Final = "no_starvation"


def get_requested_invariants(requested: Sequence[str] | None) -> list[str]:
    """Return the catalogue names to check, in catalogue order (every one by default).

    :param requested: ``properties.explore.invariants``, or ``None`` when the bundle has no
        ``properties.explore`` (then every entry, :data:`STARVATION_INVARIANT` included).
    :raises InputError: for a name the catalogue does not have.
    """
    if requested is None:
        return list(CATALOGUE)
    for name in requested:
        if name not in CATALOGUE:
            raise InputError(f"unknown explore invariant {name!r}")
    return [name for name in CATALOGUE if name in requested]


# --------------------------------------------------------------------------- user invariants


@dataclass(frozen=True)
class FieldRef:
    """A resolved name of a user invariant: where its bytes are and how to read them."""

    text: str
    base: str
    key: bytes | None
    offset: int
    width: int
    signed: bool


@dataclass(frozen=True)
class UserInvariant:
    """A compiled ``properties.invariants`` entry."""

    name: str
    expr: str
    tree: ast.Expression
    refs: Mapping[str, FieldRef]


def compute_ref_text(ref: schema.Reference) -> str:
    """Return the source form of a reference (``a.f`` or ``m[k].f``)."""
    return f"{ref.base}.{ref.field}" if ref.key is None else f"{ref.base}[{ref.key}].{ref.field}"


def resolve_reference(bundle: schema.Bundle, ref: schema.Reference) -> FieldRef:
    """Return where a reference's bytes are; raise :class:`InputError` for an unknown name."""
    text = compute_ref_text(ref)
    if ref.key is None:
        account = bundle.accounts.get(ref.base)
        if account is None or ref.field not in account.fields:
            raise InputError(f"invariant names unknown field '{text}'")
        spec = account.fields[ref.field]
        return FieldRef(text, ref.base, None, spec.offset, schema.field_width(spec.type),
                        spec.type.value.startswith("i"))
    mspec = bundle.maps.get(ref.base)
    if mspec is None or ref.field not in mspec.fields:
        raise InputError(f"invariant names unknown field '{text}'")
    assert mspec.key_size is not None
    vfield = mspec.fields[ref.field]
    return FieldRef(text, ref.base, ref.key.to_bytes(mspec.key_size, "little"), vfield.offset,
                    schema.field_width(vfield.type), vfield.type.value.startswith("i"))


def compile_user_invariant(bundle: schema.Bundle, name: str, expr: str) -> UserInvariant:
    """Parse ``expr`` and resolve its names against ``bundle``.

    :raises InputError: for an expression outside the grammar or a name the bundle lacks.
    """
    try:
        tree = schema.parse_expression(expr)
        refs = schema.expression_references(tree)
    except schema.ExpressionError as err:
        raise InputError(f"invariant '{name}': {err}") from None
    resolved: dict[str, FieldRef] = {}
    for ref in refs:
        try:
            resolved[compute_ref_text(ref)] = resolve_reference(bundle, ref)
        except InputError as err:
            raise InputError(f"invariant '{name}': {err.reason}") from None
    return UserInvariant(name, expr, tree, resolved)


def get_field_value(state: RuntimeState, ref: FieldRef) -> int:
    """Return the integer a reference reads in ``state`` (0 for a missing map element)."""
    if ref.key is None:
        data = state.accounts.accounts[ref.base].data  # type: ignore[index]
    else:
        mstate: MapState = state.maps[ref.base]  # type: ignore[index]
        cells = mstate.elements.get(ref.key)
        if not cells:
            return 0
        data = cells[0].value
    raw = bytes(data[ref.offset : ref.offset + ref.width])
    return int.from_bytes(raw, "little", signed=ref.signed)


_BINARY: Final[dict[type, Callable[[int, int], int]]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b if b else 0, ast.Mod: lambda a, b: a % b if b else a,
    ast.BitAnd: lambda a, b: a & b, ast.BitOr: lambda a, b: a | b,
    ast.BitXor: lambda a, b: a ^ b, ast.LShift: lambda a, b: a << min(b, 4096) if b >= 0 else 0,
    ast.RShift: lambda a, b: a >> b if b >= 0 else 0,
}
_COMPARE: Final[dict[type, Callable[[int, int], bool]]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
}


def compute_expression(node: ast.AST, values: Mapping[str, int]) -> int:
    """Return the value of a checked expression node (``True`` is 1, ``False`` 0).

    Division and modulo by zero follow the BPF convention (``x // 0 == 0``, ``x % 0 == x``);
    negative shift counts give 0.
    """
    if isinstance(node, ast.Expression):
        return compute_expression(node.body, values)
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int)
        return node.value
    if isinstance(node, ast.Attribute):
        return values[_reference_text(node)]
    if isinstance(node, ast.BoolOp):
        results = (compute_expression(v, values) for v in node.values)
        return int(all(results) if isinstance(node.op, ast.And) else any(results))
    if isinstance(node, ast.UnaryOp):
        operand = compute_expression(node.operand, values)
        if isinstance(node.op, ast.Not):
            return int(not operand)
        return -operand if isinstance(node.op, ast.USub) else ~operand
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](compute_expression(node.left, values),
                                      compute_expression(node.right, values))
    assert isinstance(node, ast.Compare)
    left = compute_expression(node.left, values)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = compute_expression(right_node, values)
        if not _COMPARE[type(op)](left, right):
            return 0
        left = right
    return 1


def _reference_text(node: ast.Attribute) -> str:
    base = node.value
    if isinstance(base, ast.Name):
        return f"{base.id}.{node.attr}"
    assert isinstance(base, ast.Subscript) and isinstance(base.value, ast.Name)
    assert isinstance(base.slice, ast.Constant)
    return f"{base.value.id}[{base.slice.value!r}].{node.attr}"


def get_user_invariant_violation(inv: UserInvariant, state: RuntimeState) -> str | None:
    """Return ``expr is false`` with the values it read, or ``None`` when it holds."""
    values = {text: get_field_value(state, ref) for text, ref in inv.refs.items()}
    if compute_expression(inv.tree, values):
        return None
    shown = ", ".join(f"{k} = {v}" for k, v in values.items())
    return f"{inv.expr} is false ({shown})"
