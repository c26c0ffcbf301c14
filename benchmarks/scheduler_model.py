"""
Scheduler-only benchmark model
==============================

Timers, a work queue and a ring buffer with programs replaced by fixed effects, as a
:class:`~arspec.model.engine.TransitionSystem`. ``benchmarks/scheduler.pml`` is the same
model in Promela (same variables, same atomic steps), so exhaustive state counts must match.

State (a flat vector of small ints, each below 256, held as ``bytes``: the state is its own
encoding, and indexing it gives ints)::

    slot, used, ext, lost, rlen, wlen, tdue[0..T-1], ring[0..R-1], wq[0..W-1]

``slot`` runs from 1 to ``slots``; ``used`` is the CU spent in this slot; ``ext`` counts the
external account writes delivered in this slot; ``lost`` is set when a ring-buffer record is
dropped; ``tdue[i]`` is the absolute due slot of timer ``i`` (0 = disarmed); the ring and the
work queue are FIFO arrays packed to the left (zero padding), holding ``timer + 1`` and
``kind + 1``.

Actions (ints): the scheduler step is deterministic, as the runtime's canonical in-slot order
is part of consensus: the earliest due timer (by due slot, then id) runs first, then the work
queue head; work whose cost does not fit the remaining slot budget (or, with backpressure, a
timer whose record would not fit the ring) blocks everything behind it until the next slot
(FIFO deferral). Only when nothing can run does the slot end (``tick``). The environment
interleaves freely: external account writes (which enqueue work items, at most ``events``
per slot) and the ring-buffer consumer.

* ``FIRE + i`` -- timer ``i``'s callback: costs ``timer_cost`` CU, re-arms the timer
  ``1 + i % delay_max`` slots later and emits one ring record (or sets ``lost`` when full).
* ``RUN_WQ`` -- pop the work-queue head, spending its kind's cost.
* ``TICK`` -- next slot: ``used`` and ``ext`` reset.
* ``CONSUME`` -- the consumer pops the ring head.
* ``WRITE + k`` -- an external account write enqueues a work item of kind ``k``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from arspec.model.engine import Invariant, ModelError, TransitionInvariant

TICK = 0
RUN_WQ = 1
CONSUME = 2
WRITE = 8
FIRE = 16

#: A state is a flat vector of small ints stored as ``bytes``: it is its own encoding.
State = bytes

SLOT, USED, EXT, LOST, RLEN, WLEN = range(6)

#: ``bytes.translate`` table: 0 stays 0, every other byte becomes 1.
_OCCUPANCY = bytes([0, *([1] * 255)])


@dataclass(frozen=True)
class SchedulerParams:
    """Size and behaviour of the scheduler model.

    :param timers: number of periodic timers (T).
    :param delay_max: timer ``i`` re-arms ``1 + i % delay_max`` slots after it fires.
    :param ring: ring-buffer capacity in records (R).
    :param wq: work-queue capacity (W).
    :param wq_costs: CU cost of each work-item kind (one entry per kind, at most 3 kinds).
    :param events: external account writes accepted per slot.
    :param slots: the last slot explored.
    :param budget: CU budget per slot.
    :param timer_cost: CU cost of one timer callback.
    :param budget_check: the scheduler respects the slot budget (``False`` plants a bug).
    :param backpressure: a timer whose record would not fit the ring waits (``False`` drops
        the record and sets ``lost``).
    :param ring_ids: a ring record holds ``timer + 1``. ``False`` keeps only occupancy (every
        record is 1): this is the quotient of the model by
        :meth:`SchedulerModel.canonicalize` (a bisimulation that every invariant respects:
        nothing reads a record's value, only whether a ring cell is empty), so it has the same
        verdicts and shortest-trace lengths with fewer states.
    """

    timers: int = 2
    delay_max: int = 2
    ring: int = 2
    wq: int = 2
    wq_costs: tuple[int, ...] = (1, 2)
    events: int = 2
    slots: int = 3
    budget: int = 4
    timer_cost: int = 2
    budget_check: bool = True
    backpressure: bool = True
    ring_ids: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.timers <= 8 or not 1 <= len(self.wq_costs) <= 3:
            raise ModelError("timers must be in 1..8 and wq_costs must have 1..3 kinds")
        if min(self.ring, self.wq, self.delay_max, self.slots, self.budget) < 1:
            raise ModelError("ring, wq, delay_max, slots and budget must be >= 1")
        if self.slots + self.delay_max > 250 or self.budget + max(
                (self.timer_cost, *self.wq_costs)) > 250:
            raise ModelError("slots + delay_max and budget + max cost must stay below 250")

    def spin_defines(self) -> list[str]:
        """Return the ``-D`` flags that select this instance in ``scheduler.pml``."""
        costs = (*self.wq_costs, 0, 0)[:3]
        return [f"-DT={self.timers}", f"-DDMAX={self.delay_max}", f"-DR={self.ring}",
                f"-DW={self.wq}", f"-DK={len(self.wq_costs)}", f"-DC1={costs[0]}",
                f"-DC2={costs[1]}", f"-DC3={costs[2]}", f"-DE={self.events}",
                f"-DS={self.slots}", f"-DB={self.budget}", f"-DTC={self.timer_cost}",
                f"-DBUDGET_CHECK={int(self.budget_check)}",
                f"-DBACKPRESSURE={int(self.backpressure)}", f"-DRING_IDS={int(self.ring_ids)}"]


class LevelTransitions(NamedTuple):
    """The transitions out of a BFS level (:class:`arspec.model.level_engine.LevelExpansion`)."""

    source: Any
    index: Any
    action: Any
    post: Any


class SchedulerModel:
    """The scheduler model as a transition system over flat int tuples."""

    def __init__(self, params: SchedulerParams) -> None:
        self.params = params
        p = params
        self._t = p.timers
        self._ring0 = 6 + p.timers
        self._wq0 = self._ring0 + p.ring
        self._delays = tuple(1 + i % p.delay_max for i in range(p.timers))
        self._costs = p.wq_costs
        self._writes = tuple(WRITE + k for k in range(len(p.wq_costs)))
        # the value a fired timer's ring record holds
        self._records = tuple(i + 1 if p.ring_ids else 1 for i in range(p.timers))
        self._write_items = tuple((WRITE + k, k + 1) for k in range(len(p.wq_costs)))
        # timer due slots -> (earliest due, its timer) over armed timers, (256, -1) if none
        self._earliest: dict[State, tuple[int, int]] = {}
        #: ``successors(state)``: ``(action, encode(post), post)`` for every enabled action,
        #: in the order of :meth:`actions` (the explorer's bulk fast path, same result as
        #: actions/apply/encode); a closure over the instance constants, for speed.
        self.successors = self._make_successors()

    def initial_states(self) -> Sequence[State]:
        """Return the single initial state: slot 1, every timer due in slot 1."""
        p = self.params
        return [bytes((1, 0, 0, 0, 0, 0, *([1] * p.timers), *([0] * p.ring), *([0] * p.wq)))]

    def _scheduler_step(self, s: State) -> int:
        """Return the scheduler's next action, or -1 when it has nothing to do."""
        p = self.params
        slot = s[SLOT]
        best = -1
        best_due = 256
        for i in range(self._t):
            due = s[6 + i]
            if 0 < due <= slot and due < best_due:
                best = i
                best_due = due
        if best >= 0:
            if (not p.budget_check or s[USED] + p.timer_cost <= p.budget) and (
                    not p.backpressure or s[RLEN] < p.ring):
                return FIRE + best
        elif s[WLEN] and (not p.budget_check
                          or s[USED] + self._costs[s[self._wq0] - 1] <= p.budget):
            return RUN_WQ
        return TICK if slot < p.slots else -1

    def actions(self, state: State) -> Sequence[int]:
        """Return the enabled actions: scheduler step, consume, writes (in this order)."""
        acts = []
        step = self._scheduler_step(state)
        if step >= 0:
            acts.append(step)
        if state[RLEN]:
            acts.append(CONSUME)
        if state[EXT] < self.params.events and state[WLEN] < self.params.wq:
            acts.extend(self._writes)
        return acts

    def apply(self, state: State, action: int) -> State:
        """Return the successor of ``state`` under ``action``."""
        s = bytearray(state)
        p = self.params
        if action >= FIRE:
            i = action - FIRE
            s[USED] += p.timer_cost
            s[6 + i] = s[SLOT] + self._delays[i]
            if s[RLEN] < p.ring:
                s[self._ring0 + s[RLEN]] = self._records[i]
                s[RLEN] += 1
            else:
                s[LOST] = 1
        elif action >= WRITE:
            s[self._wq0 + s[WLEN]] = action - WRITE + 1
            s[WLEN] += 1
            s[EXT] += 1
        elif action == TICK:
            s[SLOT] += 1
            s[USED] = 0
            s[EXT] = 0
        elif action == RUN_WQ:
            w0 = self._wq0
            s[USED] += self._costs[s[w0] - 1]
            s[w0:w0 + p.wq] = bytes((*s[w0 + 1:w0 + p.wq], 0))
            s[WLEN] -= 1
        else:
            r0 = self._ring0
            s[r0:r0 + p.ring] = bytes((*s[r0 + 1:r0 + p.ring], 0))
            s[RLEN] -= 1
        return bytes(s)

    def _make_successors(self) -> Callable[[State], list[tuple[int, bytes, State]]]:
        """Build :meth:`successors` as a closure over the instance constants (fast locals)."""
        p = self.params
        r0, w0, ring, slots, tc = self._ring0, self._wq0, p.ring, p.slots, p.timer_cost
        events, wq, delays, costs = p.events, p.wq, self._delays, self._costs
        # fire() runs iff used <= fire_used and rlen < fire_rlen; run_wq() iff used + cost
        # <= wq_budget (the flags fold into the bounds)
        fire_used = p.budget - tc if p.budget_check else 255
        fire_rlen = ring if p.backpressure else 256
        wq_budget = p.budget if p.budget_check else 1 << 30
        writes = self._write_items
        records = self._records
        tick_heads = tuple(bytes((slot + 1, 0, 0)) for slot in range(slots))
        earliest_of = self._earliest

        def successors(s: State) -> list[tuple[int, bytes, State]]:
            slot, used, ext, _lost, rlen, wlen = s[:6]
            out: list[tuple[int, bytes, State]] = []
            tdue = s[6:r0]
            earliest = earliest_of.get(tdue)
            if earliest is None:
                armed = [(due, i) for i, due in enumerate(tdue) if due]
                earliest = earliest_of[tdue] = min(armed) if armed else (256, -1)
            due, i = earliest
            tick = slot < slots
            if due <= slot:
                if used <= fire_used and rlen < fire_rlen:
                    b = bytearray(s)
                    b[USED] = used + tc
                    b[6 + i] = slot + delays[i]
                    if rlen < ring:
                        b[r0 + rlen] = records[i]
                        b[RLEN] = rlen + 1
                    else:
                        b[LOST] = 1
                    post = bytes(b)
                    out.append((FIRE + i, post, post))
                    tick = False
            elif wlen:
                cost = costs[s[w0] - 1]
                if used + cost <= wq_budget:
                    b = bytearray(s)
                    b[USED] = used + cost
                    b[WLEN] = wlen - 1
                    b[w0:-1] = s[w0 + 1:]
                    b[-1] = 0
                    post = bytes(b)
                    out.append((RUN_WQ, post, post))
                    tick = False
            if tick:
                post = tick_heads[slot] + s[3:]
                out.append((TICK, post, post))
            if rlen:
                b = bytearray(s)
                b[RLEN] = rlen - 1
                b[r0:w0 - 1] = s[r0 + 1:w0]
                b[w0 - 1] = 0
                post = bytes(b)
                out.append((CONSUME, post, post))
            if ext < events and wlen < wq:
                b = bytearray(s)
                b[EXT] = ext + 1
                b[WLEN] = wlen + 1
                at = w0 + wlen
                for action, item in writes:
                    b[at] = item
                    post = bytes(b)
                    out.append((action, post, post))
            return out

        return successors

    def encode(self, state: State) -> bytes:
        """Return the state itself: it already is its compact canonical encoding."""
        return bytes(state)

    def canonicalize(self, state: State) -> State:
        """Return the representative of ``state`` that keeps only ring occupancy.

        Every non-zero ring record becomes 1. No action's guard or effect reads a record's
        value (only whether the cell is empty), and no invariant does either, so states with
        the same representative are bisimilar and agree on every invariant: exploring with
        this canonicalization is exploring ``SchedulerParams(ring_ids=False)``.
        """
        r0, w0 = self._ring0, self._wq0
        return state[:r0] + state[r0:w0].translate(_OCCUPANCY) + state[w0:]

    def describe(self, action: int) -> str:
        """Return a call-like description of ``action``."""
        if action >= FIRE:
            return f"fire(timer={action - FIRE})"
        if action >= WRITE:
            return f"write(kind={action - WRITE})"
        return ("tick()", "run_wq()", "consume()")[action]

    # Level-vectorised form (arspec.model.level_engine) -----------------------------------

    def _layout(self) -> tuple[Any, Any]:
        """Return the bit offsets and masks of the state's fields in a 64-bit code.

        :raises ModelError: if the instance needs more than 64 bits.
        """
        p = self.params
        due_max = p.slots + p.delay_max
        used_max = p.budget if p.budget_check else 255
        maxima = [p.slots, used_max, p.events, 1, p.ring, p.wq, *([due_max] * p.timers),
                  *([p.timers if p.ring_ids else 1] * p.ring),
                  *([len(p.wq_costs)] * p.wq)]
        widths = [max(1, m.bit_length()) for m in maxima]
        if sum(widths) > 63:
            raise ModelError(f"this instance needs {sum(widths)} bits per state; the level "
                             "explorer packs a state into 63 (int64 arithmetic)")
        offsets = np.cumsum([0, *widths[:-1]]).astype(np.uint64)
        masks = np.array([(1 << w) - 1 for w in widths], dtype=np.uint64)
        return offsets, masks

    def pack(self, fields: Any) -> Any:
        """Return the codes of rows of field values (``n x fields`` ints)."""
        offsets, _ = self._layout()
        shifted = np.left_shift(fields.astype(np.uint64), offsets)
        codes: Any = np.bitwise_or.reduce(shifted, axis=1) if len(fields) else \
            np.zeros(0, np.uint64)
        return codes

    def unpack(self, codes: Any) -> Any:
        """Return the field values of codes, one row each (``int64``)."""
        offsets, masks = self._layout()
        fields: Any = (np.right_shift(codes[:, None], offsets) & masks).astype(np.int64)
        return fields

    def initial_codes(self) -> Any:
        """Return the code of the initial state."""
        return self.pack(np.array([list(s) for s in self.initial_states()], dtype=np.int64))

    def decode(self, code: int) -> State:
        """Return the state (bytes) of a code."""
        return bytes(self.unpack(np.array([code], dtype=np.uint64))[0].tolist())

    def _field(self, codes: Any, i: int) -> Any:
        """Return field ``i`` of every code (``int64``)."""
        offsets, masks = self._layout()
        value: Any = (codes >> offsets[i]) & masks[i]
        return value.astype(np.int64)

    def expand_level(self, codes: Any) -> LevelTransitions:
        """Return every transition out of ``codes``, in canonical order.

        The array form of :meth:`successors` (the same guards and effects for every state
        at once), computed on the codes: each effect adds the changed fields' differences
        at their bit offsets, and the ring and the work queue, packed to the low cells,
        shift down by one cell's width to pop their head.
        """
        p = self.params
        t, r0, w0, ring, wq = self._t, self._ring0, self._wq0, p.ring, p.wq
        offs, masks = self._layout()
        off = [int(o) for o in offs]
        width = [int(m).bit_length() for m in masks]
        c = codes.astype(np.int64)
        n = len(c)
        rows = np.arange(n)
        slot, used, ext = (self._field(codes, i) for i in (SLOT, USED, EXT))
        rlen, wlen = self._field(codes, RLEN), self._field(codes, WLEN)
        tdue = np.stack([self._field(codes, 6 + i) for i in range(t)], axis=1)
        due = np.where(tdue > 0, tdue, 256)
        best = due.argmin(axis=1)  # the lowest id among the earliest due
        best_due = due[rows, best]
        fire_used = p.budget - p.timer_cost if p.budget_check else 255
        fire_rlen = ring if p.backpressure else 256
        wq_budget = p.budget if p.budget_check else 1 << 30
        head_cost = np.array([1 << 40, *self._costs], np.int64)[self._field(codes, w0)]
        fire = (best_due <= slot) & (used <= fire_used) & (rlen < fire_rlen)
        run_wq = (best_due > slot) & (wlen > 0) & (used + head_cost <= wq_budget)
        tick = (slot < p.slots) & ~fire & ~run_wq
        consume = rlen > 0
        write = (ext < p.events) & (wlen < wq)
        k_writes = len(self._costs)
        one = np.int64(1)
        # fire: used += cost, tdue[best] = slot + delay, record appended (or lost set)
        tdue_off = np.array(off[6:6 + t], np.int64)[best]
        new_due = slot + np.array(self._delays, np.int64)[best]
        room = rlen < ring
        ring_cell = np.where(room, np.int64(off[r0]) + rlen * width[r0], 0)
        record = np.array(self._records, np.int64)[best]
        fired = (c + (np.int64(p.timer_cost) << off[USED]) + ((new_due - best_due) << tdue_off)
                 + np.where(room, (record << ring_cell) + (one << off[RLEN]), 0))
        fired = np.where(room, fired, fired | (one << off[LOST]))
        # run the work-queue head: used += cost, the queue shifts down, wlen - 1
        wq_bits = (c >> off[w0]) & ((one << (off[w0 + wq - 1] + width[w0] - off[w0])) - 1)
        ran = (c - (wq_bits << off[w0]) + ((wq_bits >> width[w0]) << off[w0])
               + (np.where(run_wq, head_cost, 0) << off[USED]) - (one << off[WLEN]))
        ticked = c + (one << off[SLOT]) - (used << off[USED]) - (ext << off[EXT])
        step = np.where(fire, fired, np.where(run_wq, ran, ticked))
        step_action = np.where(fire, FIRE + best, np.where(run_wq, RUN_WQ, TICK))
        ring_bits = (c >> off[r0]) & ((one << (off[r0 + ring - 1] + width[r0] - off[r0])) - 1)
        consumed = (c - (ring_bits << off[r0]) + ((ring_bits >> width[r0]) << off[r0])
                    - (one << off[RLEN]))
        wq_cell = np.int64(off[w0]) + np.minimum(wlen, wq - 1) * width[w0]
        written = c + (one << off[WLEN]) + (one << off[EXT])
        post = np.stack([step, consumed,
                         *(written + (np.int64(k + 1) << wq_cell) for k in range(k_writes))],
                        axis=1)
        action = np.stack([step_action, np.full(n, CONSUME),
                           *(np.full(n, WRITE + k) for k in range(k_writes))], axis=1)
        enabled = np.stack([fire | run_wq | tick, consume, *([write] * k_writes)], axis=1)
        index = np.cumsum(enabled, axis=1) - 1
        source = np.broadcast_to(rows[:, None], enabled.shape)
        return LevelTransitions(source[enabled], index[enabled], action[enabled],
                                post[enabled].astype(np.uint64))

    def check_states(self, codes: Any) -> list[tuple[str, Any]]:
        """Return the state invariants of :meth:`invariants` for every code at once."""
        t, r0, ring = self._t, self._ring0, self.params.ring
        rlen = self._field(codes, RLEN)
        shape = rlen <= ring
        for j in range(ring):
            shape &= (self._field(codes, r0 + j) != 0) == (rlen > j)
        armed = np.ones(len(codes), bool)
        for i in range(t):
            armed &= self._field(codes, 6 + i) != 0
        return [("no-lost-timer", armed), ("ring-no-loss", self._field(codes, LOST) == 0),
                ("ring-fifo-shape", shape)]

    def check_transitions(self, pre: Any, action: Any, post: Any) -> list[tuple[str, Any]]:
        """Return the transition invariants of :meth:`transition_invariants`, at once."""
        offs, masks = self._layout()
        fired = action >= FIRE
        timer = np.where(fired, action - FIRE, 0)
        tdue_off = offs[6:6 + self._t][timer]
        rearmed = ((post >> tdue_off) & masks[6]).astype(np.int64) > self._field(pre, SLOT)
        pre_slot, post_slot = self._field(pre, SLOT), self._field(post, SLOT)
        return [("per-slot-budget", self._field(post, USED) <= self.params.budget),
                ("no-double-execution", ~fired | rearmed),
                ("slot-monotone", (pre_slot <= post_slot) & (post_slot <= self.params.slots))]

    # Properties ---------------------------------------------------------------------------

    def pending_work(self, state: State) -> tuple[int, ...]:
        """Return the work-queue kinds waiting, in FIFO order (liveness items)."""
        return tuple(state[self._wq0:self._wq0 + state[WLEN]])

    def is_external(self, action: int) -> bool:
        """Return whether ``action`` is an external account write (replica check)."""
        return WRITE <= action < FIRE

    def components(self, state: State) -> list[tuple[str, object]]:
        """Return the named parts of ``state`` (replica check)."""
        t, r0, w0 = self._t, self._ring0, self._wq0
        names = ("slot", "used", "ext", "lost", "rlen", "wlen")
        return [*zip(names, state[:6], strict=True), ("tdue", tuple(state[6:6 + t])),
                ("ring", tuple(state[r0:w0])), ("wq", tuple(state[w0:]))]

    def invariants(self) -> list[Invariant[State]]:
        """Return the state invariants: no lost timer, no lost ring record, ring FIFO shape."""
        t, r0, w0, ring = self._t, self._ring0, self._wq0, self.params.ring
        # rlen -> the only occupancy pattern allowed: rlen full cells, then empty ones
        packed = tuple(bytes([1] * n + [0] * (ring - n)) if n <= ring else None
                       for n in range(256))

        def no_lost_timer(s: State) -> bool:
            return 0 not in s[6:6 + t]

        def ring_packed(s: State) -> bool:
            return s[r0:w0].translate(_OCCUPANCY) == packed[s[RLEN]]

        return [Invariant("no-lost-timer", no_lost_timer),
                Invariant("ring-no-loss", lambda s: s[LOST] == 0),
                Invariant("ring-fifo-shape", ring_packed)]

    def transition_invariants(self) -> list[TransitionInvariant[State, int]]:
        """Return the per-slot budget and the no-double-execution transition invariants."""
        budget = self.params.budget
        slot_count = self.params.slots

        def budget_ok(pre: State, a: int, post: State) -> bool:
            return post[USED] <= budget

        def fired_once(pre: State, a: int, post: State) -> bool:
            # A fired timer is re-armed strictly in the future: it cannot run twice in a slot.
            return a < FIRE or post[6 + a - FIRE] > pre[SLOT]

        def slot_monotone(pre: State, a: int, post: State) -> bool:
            return pre[SLOT] <= post[SLOT] <= slot_count

        return [TransitionInvariant("per-slot-budget", budget_ok),
                TransitionInvariant("no-double-execution", fired_once),
                TransitionInvariant("slot-monotone", slot_monotone)]
