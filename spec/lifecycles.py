"""
Lifecycles
==========

The transition tables of the runtime's stateful objects, as data: a timer
(:mod:`~arspec.spec.timers`), a work item (:mod:`~arspec.spec.workqueue`), a ring-buffer
record (:mod:`~arspec.spec.ringbuf`) and the scheduler's slot (:mod:`~arspec.spec.scheduler`).
Each row is (from-state, event, to-state, condition); the event names the helper a program
calls (``bpf_timer_start``) or the spec function the scheduler applies
(``process_enqueue_due``). A ``classify_*`` function per object reads a
:class:`~arspec.spec.state.RuntimeState` and names the object's state, so a run of the
runtime can be checked against the tables: every change it makes is a row
(``tests/test_lifecycles.py`` checks both directions over the examples). The state
diagrams of the docs are drawn from these tables.

A row lists a change of state only; an event that leaves the object where it was (a start
that returns ``-EINVAL``, a cancel from inside the running callback, ``-EDEADLK``) has no row.

Some steps of the scheduler's text never meet some objects, and the tables say so by having
no row: a work item started and a record committed by an invocation are enqueued by
:func:`~arspec.spec.scheduler.process_enqueue_async` right after it, so the slot's enqueue
step (``process_enqueue_due``) never finds one waiting; and the enqueue step never leaves
the slot blocked, because a program's budget is at most ``per_invocation``, which is at most
``per_slot``, and nothing has been spent when it runs.

**Rollback.** A failed invocation is rolled back (:mod:`~arspec.spec.scheduler`): every
object returns to the state it had when the invocation started, after its trigger was taken
(a fired timer stays fired, a dequeued work item stays dequeued). That reverse step is one
rule for every table and has no rows of its own: a record reserved and never submitted or
discarded is a fault, so its reservation disappears with the rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from arspec.spec import bundle as schema
from arspec.spec.maps import MapElement, MapState, is_array_map
from arspec.spec.ringbuf import (
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    RingBuffer,
    compute_record_size,
    get_record_len_word,
)
from arspec.spec.scheduler import get_runtime_config, get_slot_writes, is_head_runnable
from arspec.spec.state import Phase, RuntimeState
from arspec.spec.types import MapId


@dataclass(frozen=True)
class Transition:
    """One row: ``source`` --``event``--> ``target`` when ``condition`` holds."""

    source: str
    event: str
    target: str
    condition: str


@dataclass(frozen=True)
class Lifecycle:
    """The transition table of one kind of object.

    ``states`` lists every state ``classify`` may return, in reading order; ``initial``
    is the state a new object starts in.
    """

    name: str
    title: str
    states: tuple[str, ...]
    initial: str
    rows: tuple[Transition, ...]


def get_rows(life: Lifecycle, source: str, target: str) -> tuple[Transition, ...]:
    """Return the rows of ``life`` from ``source`` to ``target``."""
    return tuple(r for r in life.rows if r.source == source and r.target == target)


#: Where an object lives: ``(map, key, cell)`` for timers and work items (``cell`` is the
#: CPU copy of a per-CPU map), ``(map, record position)`` for ring records.
ObjectId = tuple[MapId, bytes, int]
RecordId = tuple[MapId, int]

ABSENT: Final = "absent"

# --------------------------------------------------------------------------- timers

TIMER: Final = Lifecycle(
    name="timer",
    title="Timer (bpf_timer)",
    states=(ABSENT, "uninitialised", "initialised", "callback_set", "armed", "queued",
            "running", "running_armed", "running_freed"),
    initial="uninitialised",
    rows=(
        Transition(ABSENT, "bpf_map_update_elem", "uninitialised",
                   "a new hash element (its bpf_timer bytes start uninitialised)"),
        Transition("uninitialised", "bpf_timer_init", "initialised", "a valid clock id"),
        Transition("initialised", "bpf_timer_set_callback", "callback_set", "always"),
        Transition("callback_set", "bpf_timer_start", "armed",
                   "valid flags: an expiry slot and a new arm sequence (a timer due at once "
                   "is enqueued when the invocation ends)"),
        Transition("armed", "bpf_timer_cancel", "initialised",
                   "the timer is not running: it is disarmed and its callback cleared"),
        Transition("queued", "bpf_timer_cancel", "initialised",
                   "disarmed while its FIFO item waits: the item becomes stale"),
        Transition("queued", "bpf_timer_start", "armed",
                   "re-armed while its FIFO item waits: a new arm sequence, the item is stale"),
        Transition("armed", "process_enqueue_due", "queued",
                   "the expiry slot has come: a FIFO item is enqueued (step 2d)"),
        Transition("armed", "process_enqueue_async", "queued",
                   "the invocation that just ran armed it due now (delay 0, or an absolute "
                   "slot not after this one): enqueued behind the FIFO"),
        Transition("queued", "process_take_trigger", "running",
                   "its item reaches the FIFO head with the same arm sequence: "
                   "process_timer_fire"),
        Transition("running", "bpf_timer_start", "running_armed",
                   "the callback re-arms its own timer"),
        Transition("running", "bpf_map_update_elem", "uninitialised",
                   "the callback overwrites its own hash element: a new element"),
        Transition("running", "bpf_map_delete_elem", ABSENT,
                   "the callback deletes its own element"),
        Transition("running", "process_callback_done", "callback_set",
                   "the callback returned (or was rolled back) without re-arming"),
        Transition("running_armed", "process_callback_done", "armed",
                   "the callback returned having re-armed the timer"),
        Transition("running_freed", "process_callback_done", "uninitialised",
                   "the callback returned after its array element was overwritten"),
        Transition("running", "bpf_map_update_elem", "running_freed",
                   "the callback overwrites its own array element: the timer is freed"),
        Transition("armed", "bpf_map_delete_elem", ABSENT,
                   "its element is deleted: the timer is cancelled and freed"),
        Transition("armed", "bpf_map_update_elem", "uninitialised",
                   "its element is overwritten: the timer is cancelled and freed"),
        Transition("callback_set", "bpf_map_update_elem", "uninitialised",
                   "its element is overwritten: the timer is cancelled and freed"),
    ),
)


def classify_timer(state: RuntimeState, where: ObjectId) -> str:
    """Return the state of the timer of ``where`` in ``state`` (a state of :data:`TIMER`)."""
    element = _get_element(state, where)
    if isinstance(element, str):
        return element
    timer = element.timer
    if timer is None:
        return "uninitialised"
    if timer.running:
        if timer.expiry is not None:
            return "running_armed"
        return "running" if timer.initialised else "running_freed"
    if not timer.initialised:
        return "uninitialised"
    if timer.expiry is not None:
        return "queued" if timer.arm_seq in state.queued_timers else "armed"
    return "initialised" if timer.callback is None else "callback_set"


# --------------------------------------------------------------------------- work items

WORK_ITEM: Final = Lifecycle(
    name="work_item",
    title="Work item (bpf_wq)",
    states=(ABSENT, "uninitialised", "initialised", "callback_set", "pending", "queued",
            "running", "running_pending"),
    initial="uninitialised",
    rows=(
        Transition(ABSENT, "bpf_map_update_elem", "uninitialised",
                   "a new hash element (its bpf_wq bytes start uninitialised)"),
        Transition("uninitialised", "bpf_wq_init", "initialised", "flags are 0"),
        Transition("initialised", "bpf_wq_set_callback", "callback_set", "flags are 0"),
        Transition("callback_set", "bpf_wq_start", "pending",
                   "flags are 0: it takes a place at the end of the FIFO of starts"),
        Transition("pending", "process_enqueue_async", "queued",
                   "started by the invocation that just ran; enqueued behind the FIFO"),
        Transition("queued", "process_take_trigger", "running",
                   "its item reaches the FIFO head: process_wq_run"),
        Transition("running", "bpf_wq_start", "running_pending",
                   "the callback starts its own item again: it is queued anew"),
        Transition("running", "process_callback_done", "callback_set",
                   "the callback returned (or was rolled back)"),
        Transition("running_pending", "process_callback_done", "pending",
                   "the callback returned having restarted the item"),
        Transition("queued", "bpf_map_delete_elem", ABSENT,
                   "its element is deleted: the item is dequeued and freed"),
    ),
)


def classify_work_item(state: RuntimeState, where: ObjectId) -> str:
    """Return the state of the work item of ``where`` (a state of :data:`WORK_ITEM`)."""
    element = _get_element(state, where)
    if isinstance(element, str):
        return element
    wq = element.wq
    if wq is None:
        return "uninitialised"
    if wq.running:
        return "running_pending" if wq.pending_seq is not None else "running"
    if not wq.initialised:
        return "uninitialised"
    if wq.pending_seq is not None:
        return "queued" if wq.pending_seq in state.queued_work else "pending"
    return "initialised" if wq.callback is None else "callback_set"


# --------------------------------------------------------------------------- ring records

RECORD: Final = Lifecycle(
    name="ring_record",
    title="Ring-buffer record",
    states=("free", "reserved", "submitted", "discarded", "consumed"),
    initial="free",
    rows=(
        Transition("free", "bpf_ringbuf_reserve", "reserved",
                   "enough free space; the header's BUSY bit is set"),
        Transition("free", "bpf_ringbuf_reserve_dynptr", "reserved",
                   "enough free space (the dynptr must still be submitted or discarded)"),
        Transition("free", "bpf_ringbuf_output", "submitted",
                   "enough free space: reserve, copy and submit in one call"),
        Transition("reserved", "bpf_ringbuf_submit", "submitted", "BUSY cleared"),
        Transition("reserved", "bpf_ringbuf_submit_dynptr", "submitted", "BUSY cleared"),
        Transition("reserved", "bpf_ringbuf_discard", "discarded",
                   "BUSY cleared, DISCARD set"),
        Transition("reserved", "bpf_ringbuf_discard_dynptr", "discarded",
                   "BUSY cleared, DISCARD set"),
        Transition("submitted", "process_enqueue_async", "consumed",
                   "the ring has a subscriber and no older record is BUSY: one FIFO item per "
                   "subscriber, right after the invocation that committed it (step 2f)"),
        Transition("discarded", "process_enqueue_async", "consumed",
                   "the consumer walks past it; no item is enqueued"),
    ),
)


def classify_record(state: RuntimeState, where: RecordId) -> str:
    """Return the state of the ring record at position ``where`` (a state of :data:`RECORD`).

    ``where`` is a record's start position (a byte counter, never masked); a position
    below the consumer is consumed and one at or past the producer is free.
    """
    map_id, pos = where
    ring = state.maps[map_id].ringbuf
    # Verify the map is a ring buffer
    assert ring is not None
    if pos < ring.consumer_pos:
        return "consumed"
    if pos >= ring.producer_pos:
        return "free"
    word = get_record_len_word(ring, pos)
    if word & BPF_RINGBUF_BUSY_BIT:
        return "reserved"
    return "discarded" if word & BPF_RINGBUF_DISCARD_BIT else "submitted"


def get_record_positions(ring: RingBuffer) -> Iterator[int]:
    """Yield the start position of every record between the consumer and the producer."""
    pos: int = ring.consumer_pos
    while pos < ring.producer_pos:
        yield pos
        word = get_record_len_word(ring, pos)
        pos += compute_record_size(word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT))


# --------------------------------------------------------------------------- the slot

SLOT: Final = Lifecycle(
    name="slot",
    title="Scheduler slot",
    states=("writing", "enqueue", "running", "blocked", "idle"),
    initial="enqueue",
    rows=(
        Transition("writing", "process_apply_write", "enqueue",
                   "the slot's last scenario write is applied (step 1)"),
        Transition("enqueue", "process_enqueue_due", "running",
                   "due work was enqueued and the FIFO head's budget fits (step 2)"),
        Transition("enqueue", "process_enqueue_due", "idle", "nothing is due or waiting"),
        Transition("running", "process_run_head", "idle",
                   "the head ran and the FIFO is empty (step 3)"),
        Transition("running", "process_run_head", "blocked",
                   "the head ran and the next one does not fit"),
        Transition("idle", "process_end_slot", "enqueue",
                   "the next slot has no scenario writes (step 4)"),
        Transition("idle", "process_end_slot", "writing", "the next slot has scenario writes"),
        Transition("blocked", "process_end_slot", "enqueue",
                   "what is left is deferred to the next slot, in order"),
        Transition("blocked", "process_end_slot", "writing",
                   "deferred, and the next slot has scenario writes"),
    ),
)

#: The scheduler events (:class:`~arspec.spec.scheduler.EventKind` values) each slot step
#: emits, in the order it emits them.
SLOT_STEP_EVENTS: Final[dict[str, tuple[str, ...]]] = {
    "process_apply_write": ("write",),
    "process_domain_write": ("write",),
    "process_enqueue_due": ("suppress", "enqueue"),
    "process_run_head": ("skip", "run", "enqueue", "consume"),
    "process_end_slot": ("defer", "end_slot"),
}


def classify_slot(state: RuntimeState, bundle: schema.Bundle) -> str:
    """Return where the scheduler is in the current slot (a state of :data:`SLOT`)."""
    config = get_runtime_config(bundle)
    if state.phase == Phase.WRITES:
        pending = state.writes_applied < len(get_slot_writes(state, config))
        return "writing" if pending else "enqueue"
    if is_head_runnable(state, config):
        return "running"
    return "blocked" if state.fifo else "idle"


#: Every table, in the order the docs show them.
LIFECYCLES: Final = (TIMER, WORK_ITEM, RECORD, SLOT)


# --------------------------------------------------------------------------- objects


def _get_cell(map_state: MapState, key: bytes, cell: int) -> MapElement | None:
    cells = dict.get(map_state.elements, key)  # never creates a lazy array element
    return None if cells is None or cell >= len(cells) else cells[cell]


def _get_element(state: RuntimeState, where: ObjectId) -> MapElement | str:
    """Return the element holding the object at ``where``, or the object's state when there is
    none: absent from a hash map, uninitialised in an array map."""
    map_id, key, cell = where
    element = _get_cell(state.maps[map_id], key, cell)
    if element is None:
        return ABSENT if not is_array_map(state.maps[map_id].definition) else "uninitialised"
    return element


def get_async_objects(state: RuntimeState, field: str) -> list[ObjectId]:
    """Return where every stored timer (``field="timer"``) or work item (``"wq"``) is."""
    attribute = "timer_offset" if field == "timer" else "wq_offset"
    found: list[ObjectId] = []
    for map_id, map_state in state.maps.items():
        if getattr(map_state.definition, attribute) is None:
            continue
        for key in sorted(dict.keys(map_state.elements)):
            cells = dict.__getitem__(map_state.elements, key)
            found.extend((map_id, key, i) for i in range(len(cells)))
    return found


def get_records(state: RuntimeState) -> list[RecordId]:
    """Return every record between each ring's consumer and producer, ring by ring."""
    return [(map_id, pos) for map_id, map_state in state.maps.items()
            if map_state.ringbuf is not None
            for pos in get_record_positions(map_state.ringbuf)]
