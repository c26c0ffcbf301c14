"""
Timers
======

``bpf_timer`` (helpers 169-172) with time measured in slots. A timer lives in a map value
(16 opaque bytes at the map's ``timer_offset``); its state is a :class:`TimerState` attached
to the map element, so deleting or overwriting the element cancels and frees it.

The state machine is Linux's classic one (Linux ``kernel/bpf/helpers.c``: ``bpf_timer_init``,
``bpf_timer_start``, ``bpf_timer_cancel``)::

    uninitialised --init--> initialised --set_callback--> has callback --start--> armed
         ^                                  ^                                       |
         |                                  +---- cancel clears the callback -------+
         +------ element delete / overwrite (cancel and free) from any state        |
                                                      fire (one-shot) --> running --+

Departures from Linux, each forced by consensus:

* **Slots, not nanoseconds.** ``bpf_timer_start(timer, value, flags)`` takes a slot delay, or
  with ``BPF_F_TIMER_ABS`` an absolute slot. A relative start at slot ``s`` with delay ``d``
  expires at slot ``s + d`` (saturating at 2**64-1 like the kernel's ``ktime_add_safe``);
  ``d = 0`` means "this slot, after the current work": the timer is due at once and the
  scheduler runs it after what it is running now. An absolute slot in the past is due at once.
* **Clocks are accepted and meaningless.** ``bpf_timer_init`` validates the clock id exactly
  like Linux (only ``CLOCK_REALTIME`` 0, ``CLOCK_MONOTONIC`` 1, ``CLOCK_BOOTTIME`` 7 in the
  low 4 bits, any flags >= 16 invalid) but every clock is the slot clock.
* **``BPF_F_TIMER_CPU_PIN`` is accepted and meaningless**: there is no CPU to pin to; the
  scheduler runs callbacks in one canonical order.
* **No concurrency.** A callback runs to completion before anything else, so Linux's
  "wait for a running callback" in cancel never waits. A cancel that finds the timer running
  must therefore come from inside that callback and returns ``-EDEADLK``.
* **Canonical order.** Due timers are ordered by expiry slot, then by the runtime-wide arm
  sequence number (:class:`AsyncSequence`), which every start draws from: the order is part of
  consensus and never depends on hashing or wall-clock time.
* **No user references.** A bundle's maps are always referenced while it is loaded, so the
  ``-EPERM`` (map without user references) and NMI (``-EOPNOTSUPP``) results never occur.

A timer whose element has been removed from its map is never found by
:func:`get_due_timers`: if its own callback re-initialises and re-arms it after deleting its
element, that arm is lost with the element (Linux frees the element after the callback).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from arspec.spec.errno import EBUSY, EDEADLK, EINVAL
from arspec.spec.types import U64_MASK, FuncRef, MapId, SeqNo, Slot

#: Size of ``struct bpf_timer`` inside a map value.
BPF_TIMER_SIZE: Final = 16
#: Required alignment of ``struct bpf_timer`` inside a map value.
BPF_TIMER_ALIGN: Final = 8

CLOCK_REALTIME: Final = 0
CLOCK_MONOTONIC: Final = 1
CLOCK_BOOTTIME: Final = 7
#: ``bpf_timer_init`` flags at or above this value are invalid (Linux ``MAX_CLOCKS``).
MAX_CLOCKS: Final = 16
#: The clock ids ``bpf_timer_init`` accepts, in increasing order.
VALID_CLOCKS: Final = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME)

#: ``bpf_timer_start`` flag: ``value`` is an absolute slot, not a delay.
BPF_F_TIMER_ABS: Final = 1 << 0
#: ``bpf_timer_start`` flag: pin the callback to the caller's CPU (accepted, no effect).
BPF_F_TIMER_CPU_PIN: Final = 1 << 1
#: Every flag bit ``bpf_timer_start`` accepts.
TIMER_START_FLAGS: Final = BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN


@dataclass
class AsyncSequence:
    """The runtime-wide counter that orders timer arms and work-queue starts."""

    next_seq: int = 0


@dataclass(eq=False)
class TimerState:
    """The state behind one ``struct bpf_timer``; a fresh value is uninitialised.

    ``expiry`` is not ``None`` exactly when the timer is armed, and ``arm_seq`` is then the
    sequence number of the start that armed it. ``running`` is true while its callback runs.
    """

    initialised: bool = False
    clock_id: int = 0
    callback: FuncRef | None = None
    expiry: Slot | None = None
    arm_seq: SeqNo | None = None
    running: bool = False


# The maps module imports this one (a MapElement holds a TimerState), so this one reads
# a map through the two protocols below, not through the maps module's classes.
class TimerHolder(Protocol):
    """A map element (:class:`~arspec.spec.maps.MapElement`) as :func:`get_due_timers` reads
    it: the timer in its value, if the value has one."""

    @property
    def timer(self) -> TimerState | None: ...


class TimerMap(Protocol):
    """A map (:class:`~arspec.spec.maps.MapState`) as :func:`get_due_timers` reads it: its
    elements, one list of cells (one per CPU) per key."""

    @property
    def elements(self) -> Mapping[bytes, Sequence[TimerHolder]]: ...


@dataclass(frozen=True)
class DueTimer:
    """A timer the scheduler may fire: where it lives and its place in the canonical order."""

    expiry: Slot
    arm_seq: SeqNo
    map_id: MapId
    key: bytes
    element: TimerHolder


def process_take_sequence(sequence: AsyncSequence) -> SeqNo:
    """Return the next runtime-wide sequence number and advance the counter."""
    seq = SeqNo(sequence.next_seq)
    sequence.next_seq += 1
    return seq


def is_timer_armed(timer: TimerState) -> bool:
    """Return whether the timer is armed (started and neither fired nor cancelled since)."""
    return timer.expiry is not None


def is_timer_due(timer: TimerState, slot: Slot) -> bool:
    """Return whether the timer is armed with an expiry at or before ``slot``."""
    return timer.expiry is not None and timer.expiry <= slot


def is_valid_timer_init_flags(flags: int) -> bool:
    """Return whether ``flags`` name one of the accepted clocks and nothing else."""
    return flags < MAX_CLOCKS and (flags & (MAX_CLOCKS - 1)) in VALID_CLOCKS


def compute_timer_expiry(now: Slot, value: int, flags: int) -> Slot:
    """Return the expiry slot of a start at ``now`` (absolute with ABS, else saturating add)."""
    if flags & BPF_F_TIMER_ABS:
        return Slot(value)
    return Slot(min(now + value, U64_MASK))


def process_timer_init(timer: TimerState, flags: int) -> int:
    """Initialise the timer; 0, ``-EINVAL`` for bad flags, ``-EBUSY`` if already initialised."""
    if not is_valid_timer_init_flags(flags):
        return -EINVAL
    if timer.initialised:
        return -EBUSY
    timer.initialised = True
    timer.clock_id = flags
    return 0


def process_timer_set_callback(timer: TimerState, callback: FuncRef) -> int:
    """Set (or switch) the callback; 0, or ``-EINVAL`` when the timer is not initialised."""
    if not timer.initialised:
        return -EINVAL
    timer.callback = callback
    return 0


def process_timer_start(
    timer: TimerState, sequence: AsyncSequence, now: Slot, value: int, flags: int
) -> int:
    """Arm (or re-arm) the timer; 0, or ``-EINVAL`` for bad flags, no init or no callback.

    Re-starting an armed timer replaces its expiry and its place in the order (a new
    sequence number), as ``hrtimer_start`` replaces the old expiry.
    """
    if flags & ~TIMER_START_FLAGS:
        return -EINVAL
    if not timer.initialised:
        return -EINVAL
    if timer.callback is None:
        return -EINVAL
    timer.expiry = compute_timer_expiry(now, value, flags)
    timer.arm_seq = process_take_sequence(sequence)
    return 0


def process_timer_cancel(timer: TimerState) -> int:
    """Disarm the timer and clear its callback; 1 if it was armed, 0 if not.

    ``-EINVAL`` when not initialised; ``-EDEADLK`` when called while its own callback runs
    (nothing is changed then). Like Linux (``drop_prog_refcnt``), a successful cancel clears
    the callback, so a later start returns ``-EINVAL`` until ``set_callback`` is called again.
    """
    if not timer.initialised:
        return -EINVAL
    if timer.running:
        return -EDEADLK
    was_armed = is_timer_armed(timer)
    timer.callback = None
    timer.expiry = None
    timer.arm_seq = None
    return 1 if was_armed else 0


def process_timer_cancel_and_free(timer: TimerState) -> None:
    """Cancel the timer and return it to uninitialised (its element is deleted or overwritten).

    From inside its own callback this cannot deadlock: ``running`` stays true until
    :func:`process_timer_callback_done`, which is when Linux's deferred free completes.
    """
    timer.initialised = False
    timer.clock_id = 0
    timer.callback = None
    timer.expiry = None
    timer.arm_seq = None


def get_due_timers(maps: Mapping[MapId, TimerMap], slot: Slot) -> list[DueTimer]:
    """Return every armed timer with ``expiry <= slot``, ordered by (expiry, arm sequence)."""
    due: list[DueTimer] = []
    for map_id, state in maps.items():
        for key, cells in state.elements.items():
            for element in cells:
                timer = element.timer
                if timer is None or not is_timer_due(timer, slot):
                    continue
                # Verify a due timer carries its expiry and arm sequence number
                assert timer.expiry is not None and timer.arm_seq is not None
                due.append(DueTimer(timer.expiry, timer.arm_seq, map_id, key, element))
    return sorted(due, key=lambda d: (d.expiry, d.arm_seq))


def process_timer_fire(timer: TimerState) -> FuncRef:
    """Disarm a due timer, mark it running and return the callback the scheduler must run."""
    # Verify the timer is armed (one-shot: it fires once per start)
    assert timer.expiry is not None
    # Verify an armed timer has a callback (start requires one, cancel disarms)
    assert timer.callback is not None
    # Verify the timer is not already running (callbacks never nest on the same timer)
    assert not timer.running
    timer.expiry = None
    timer.arm_seq = None
    timer.running = True
    return timer.callback


def process_timer_callback_done(timer: TimerState) -> None:
    """Mark the timer's callback as returned (it stays armed if the callback re-armed it)."""
    # Verify the callback was running
    assert timer.running
    timer.running = False
