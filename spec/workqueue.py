"""
Work queues
===========

``bpf_wq`` (Linux kfuncs ``bpf_wq_init``, ``bpf_wq_set_callback_impl``, ``bpf_wq_start`` in
Linux ``kernel/bpf/helpers.c``): deferred work with no delay. Like a timer, a work item lives in
a map value (16 opaque bytes at the map's ``wq_offset``); its state is a :class:`WorkQueueState`
attached to the map element and is cancelled and freed when the element is deleted or
overwritten. Programs have no cancel.

A start queues the item at the end of one runtime-wide FIFO, ordered by the same sequence
numbers as timer arms (:class:`~arspec.spec.timers.AsyncSequence`). Starting an item that is
already pending coalesces: it keeps its place and the start still returns 0, as
``schedule_work`` does not queue a pending work twice. Starting it while its callback runs
queues it again (the kernel clears the pending bit before it runs the work).

Departures from Linux: the callback runs "as soon as a worker picks it up", which in arspec
means at the scheduler's next work-queue step in FIFO order, never concurrently; there is no
sleeping and no ``-EPERM`` / ``-EOPNOTSUPP`` (maps always have user references, no NMI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from arspec.spec.errno import EBUSY, EINVAL
from arspec.spec.timers import AsyncSequence, process_take_sequence
from arspec.spec.types import FuncRef, MapId, SeqNo

#: Size of ``struct bpf_wq`` inside a map value.
BPF_WQ_SIZE: Final = 16
#: Required alignment of ``struct bpf_wq`` inside a map value.
BPF_WQ_ALIGN: Final = 8


@dataclass(eq=False)
class WorkQueueState:
    """The state behind one ``struct bpf_wq``; a fresh value is uninitialised.

    ``pending_seq`` is not ``None`` exactly when the item is queued; ``running`` is true while
    its callback runs.
    """

    initialised: bool = False
    callback: FuncRef | None = None
    pending_seq: SeqNo | None = None
    running: bool = False


# The maps module imports this one (a MapElement holds a WorkQueueState), so this one reads
# a map through the two protocols below, not through the maps module's classes.
class WorkHolder(Protocol):
    """A map element (:class:`~arspec.spec.maps.MapElement`) as :func:`get_pending_work`
    reads it: the work item in its value, if the value has one."""

    @property
    def wq(self) -> WorkQueueState | None: ...


class WorkMap(Protocol):
    """A map (:class:`~arspec.spec.maps.MapState`) as :func:`get_pending_work` reads it: its
    elements, one list of cells (one per CPU) per key."""

    @property
    def elements(self) -> Mapping[bytes, Sequence[WorkHolder]]: ...


@dataclass(frozen=True)
class PendingWork:
    """A queued work item: its FIFO position and where it lives."""

    seq: SeqNo
    map_id: MapId
    key: bytes
    element: WorkHolder


def is_wq_pending(wq: WorkQueueState) -> bool:
    """Return whether the work item is queued."""
    return wq.pending_seq is not None


def process_wq_init(wq: WorkQueueState, flags: int) -> int:
    """Initialise the work item; 0, ``-EINVAL`` if flags != 0, ``-EBUSY`` if initialised."""
    if flags != 0:
        return -EINVAL
    if wq.initialised:
        return -EBUSY
    wq.initialised = True
    return 0


def process_wq_set_callback(wq: WorkQueueState, callback: FuncRef, flags: int) -> int:
    """Set (or switch) the callback; 0, ``-EINVAL`` if flags != 0 or not initialised."""
    if flags != 0:
        return -EINVAL
    if not wq.initialised:
        return -EINVAL
    wq.callback = callback
    return 0


def process_wq_start(wq: WorkQueueState, sequence: AsyncSequence, flags: int) -> int:
    """Queue the work item (coalescing if pending); 0, or ``-EINVAL``.

    ``-EINVAL`` when flags != 0, the item is not initialised, or it has no callback.
    """
    if flags != 0:
        return -EINVAL
    if not wq.initialised:
        return -EINVAL
    if wq.callback is None:
        return -EINVAL
    if not is_wq_pending(wq):
        wq.pending_seq = process_take_sequence(sequence)
    return 0


def process_wq_cancel_and_free(wq: WorkQueueState) -> None:
    """Dequeue the item and return it to uninitialised (its element is deleted or overwritten).

    A running callback is not waited for (Linux does not wait either); ``running`` stays true
    until :func:`process_wq_callback_done`.
    """
    wq.initialised = False
    wq.callback = None
    wq.pending_seq = None


def get_pending_work(maps: Mapping[MapId, WorkMap]) -> list[PendingWork]:
    """Return every queued work item in FIFO (start) order."""
    pending: list[PendingWork] = []
    for map_id, state in maps.items():
        for key, cells in state.elements.items():
            for element in cells:
                wq = element.wq
                if wq is not None and wq.pending_seq is not None:
                    pending.append(PendingWork(wq.pending_seq, map_id, key, element))
    return sorted(pending, key=lambda p: p.seq)


def process_wq_run(wq: WorkQueueState) -> FuncRef:
    """Take a queued item off the queue, mark it running and return its callback."""
    # Verify the item is queued
    assert wq.pending_seq is not None
    # Verify a queued item has a callback (start requires one)
    assert wq.callback is not None
    # Verify the item is not already running
    assert not wq.running
    wq.pending_seq = None
    wq.running = True
    return wq.callback


def process_wq_callback_done(wq: WorkQueueState) -> None:
    """Mark the item's callback as returned (it stays queued if the callback restarted it)."""
    # Verify the callback was running
    assert wq.running
    wq.running = False
