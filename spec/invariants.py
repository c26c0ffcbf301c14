"""
Scheduler invariants
====================

Named predicates over a :class:`~arspec.spec.state.RuntimeState` that hold after every
scheduler action (:mod:`arspec.spec.scheduler`) whatever the programs do. The explorer checks
them on every state it visits; the runtime tests check them after every action of real runs.
Each returns ``True`` when the state is fine. :data:`INVARIANTS` lists them by name.

* ``budget``: the slot never spends more than its budget (a reservation must fit before an
  item starts, and an item is charged at most its budget);
* ``fifo_order``: the FIFO holds items in strictly increasing sequence order (new work goes to
  the back; deferral never reorders);
* ``no_lost_timer``: once the enqueue step of a slot has run, every armed timer that is due has
  an item in the FIFO (it is deferred, never forgotten); before it, every timer due in an
  earlier slot has one;
* ``no_double_execution``: no timer arm or work-queue start has two items, and the bookkeeping
  of queued arms and starts matches the FIFO exactly;
* ``ringbuf_bounds``: every ring's positions are ordered (consumer <= pending <= producer) and
  the outstanding bytes never exceed ``size - 8``;
* ``watcher_cascade``: no watcher item deeper than the preset's maximum cascade depth was ever
  enqueued;
* ``runtime_watchers``: the watchers registered at run time have ids below the counter, none
  observes before the slot after its registration, the per-program and per-account limits
  hold, and no queued item fires a watcher before its first observing slot
  (:mod:`~arspec.spec.runtime_watchers`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from typing import Final

from arspec.spec import bundle as schema
from arspec.spec.hooks import get_max_cascade_depth
from arspec.spec.ringbuf import BPF_RINGBUF_HDR_SZ
from arspec.spec.runtime_watchers import MAX_WATCHERS_PER_ACCOUNT, MAX_WATCHERS_PER_PROGRAM
from arspec.spec.scheduler import get_async_maps, get_runtime_config
from arspec.spec.state import Phase, RuntimeState, TriggerKind
from arspec.spec.timers import is_timer_due
from arspec.spec.types import Slot


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


#: Every invariant by name, in a fixed order.
INVARIANTS: Final[dict[str, Callable[[RuntimeState, schema.Bundle], bool]]] = {
    "budget": is_budget_respected,
    "fifo_order": is_fifo_ordered,
    "no_lost_timer": is_no_timer_lost,
    "no_double_execution": is_no_double_execution,
    "ringbuf_bounds": is_ringbuf_in_bounds,
    "watcher_cascade": is_watcher_cascade_bounded,
    "runtime_watchers": is_runtime_watchers_consistent,
}


def get_violated_invariants(state: RuntimeState, bundle: schema.Bundle) -> list[str]:
    """Return the names of the invariants ``state`` violates, in catalogue order."""
    return [name for name, check in INVARIANTS.items() if not check(state, bundle)]
