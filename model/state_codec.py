"""
Compact state encoding
======================

The canonical bytes of a runtime state, built from its parts: the same canonical tuple as
:func:`~arspec.spec.state.compute_state_key` (every unordered collection sorted, maps in
declaration order, every element with its timer and work-queue state, ring positions and
live bytes, account bytes, the FIFO, watchers and scheduler bookkeeping), with work items and
callbacks flattened to plain tuples, serialised by :mod:`marshal` format 2.

Why format 2: from format 3 on, :mod:`marshal` writes a back-reference for an object whose
reference count is above one, so equal values could give different bytes; format 2 has no
references, and its output depends only on the value. A marshal stream delimits itself, so
appending the explorer's ghost keeps the encoding injective.

Two states get equal bytes exactly when :func:`~arspec.spec.state.encode_state` (the
``repr`` of the canonical tuple) gives equal bytes: the flattening keeps every field, and
a ring's live bytes and account bytes go in as raw bytes rather than as escaped text (a
4 KiB ring full of records is about 4 KB here against about 16 KB as ``repr``).
``tests/model/test_state_codec.py`` checks the equivalence on every state the explorer
reaches in the examples. A
:class:`~arspec.spec.state.RuntimeState` with fields this module does not know is encoded
through ``repr`` instead (correct, only larger and slower).
"""

from __future__ import annotations

import dataclasses
import hashlib
import marshal
import weakref
from collections.abc import Sequence
from typing import Final

from arspec.spec.maps import ArrayElements, MapState, is_pristine_cells
from arspec.spec.ringbuf import get_live_bytes
from arspec.spec.state import RuntimeState, WorkItem, encode_state
from arspec.spec.types import FuncRef, MapId

#: The RuntimeState fields :func:`encode_runtime` knows.
_KNOWN_FIELDS: Final = frozenset({
    "slot", "phase", "maps", "accounts", "sequence", "preset", "fifo", "next_item_seq",
    "slot_cu_used", "writes_applied", "watchers", "writer_depth", "queued_timers",
    "queued_work", "startup_done", "domains_written", "cascades_suppressed", "max_depth_seen",
    "runtime_watchers", "next_watcher_id"})
_ITEM_FIELDS: Final = ("seq", "kind", "entry", "enqueued_slot", "depth", "reason", "map_id",
                       "key", "async_seq", "record", "watcher_id")
_COMPACT: Final = ({f.name for f in dataclasses.fields(RuntimeState)} == _KNOWN_FIELDS
                   and tuple(f.name for f in dataclasses.fields(WorkItem)) == _ITEM_FIELDS)
#: marshal format without back-references (see the module docstring).
MARSHAL_VERSION: Final = 2
#: Bits of a state fingerprint.
FINGERPRINT_BITS: Final = 64


def _func(ref: FuncRef | None) -> tuple[str, int] | None:
    return None if ref is None else (str(ref.prog), int(ref.pc))


def _item(item: WorkItem) -> tuple[object, ...]:
    return (item.seq, item.kind.value, str(item.entry.prog), int(item.entry.pc),
            item.enqueued_slot, item.depth, item.reason, item.map_id, item.key,
            item.async_seq, item.record, item.watcher_id)


def _runtime_watchers(state: RuntimeState) -> tuple[object, ...]:
    """Return the run-time watchers' part (as ``compute_runtime_watchers_key``, flattened)."""
    if not state.runtime_watchers and state.next_watcher_id == 1:
        return ()
    registered = tuple(
        (w.id, str(w.owner), _func(w.callback), str(w.spec.account), w.spec.offset,
         w.spec.width, w.spec.signed, w.spec.op.value, w.spec.value, w.spec.bps,
         w.edge.last_value, w.edge.condition, w.edge.reference, w.active_from)
        for _, w in sorted(state.runtime_watchers.items()))
    return (registered, state.next_watcher_id)


def compute_map_parts(state: MapState) -> tuple[object, ...]:
    """Return one map's canonical parts (elements sorted by key) as marshal-able values."""
    cells = []
    elements = state.elements
    lazy = isinstance(elements, ArrayElements)
    for key in sorted(elements):
        if lazy and is_pristine_cells(elements[key]):
            continue  # an array element never changed equals one never created
        copies = []
        for element in elements[key]:
            timer = element.timer
            wq = element.wq
            copies.append((
                bytes(element.value),
                None if timer is None else (timer.initialised, timer.clock_id,
                                            _func(timer.callback), timer.expiry,
                                            timer.arm_seq, timer.running),
                None if wq is None else (wq.initialised, _func(wq.callback),
                                         wq.pending_seq, wq.running),
            ))
        cells.append((key, tuple(copies)))
    ring = state.ringbuf
    ring_key = None if ring is None else (get_live_bytes(ring), ring.consumer_pos,
                                          ring.producer_pos, ring.pending_pos)
    progs = None if state.prog_array is None else tuple(
        None if p is None else str(p) for p in state.prog_array.slots)
    lru = tuple(sorted(state.last_use.items()))
    return (tuple(cells), tuple(state.queue), lru, state.use_clock, ring_key, progs)


class MapPartsCache:
    """The canonical parts of map objects, remembered by identity while the map lives.

    The explorer's successors share the map objects a step does not write with their
    predecessor (:meth:`~arspec.model.runtime_system.RuntimeSystem.get_written_maps`), so
    most maps of a new state were already encoded as part of an earlier one, usually its
    predecessor one BFS level earlier. This is sound only for map objects that are never
    changed after they were first encoded, which holds for the maps of an explored state
    (every step works on copies of what it writes); the explorer alone uses it.

    An entry holds a weak reference to its map and goes when the map does, so the cache
    holds the parts of the maps that explored states still hold, and an ``id`` reused by a
    later map never finds a dead map's entry. ``limit`` bounds it anyway.

    :param limit: forget everything when this many maps are remembered.
    :param enabled: ``False`` computes every map's parts afresh (the tests' reference).
    """

    def __init__(self, limit: int = 1_000_000, *, enabled: bool = True) -> None:
        self.limit = limit
        self.enabled = enabled
        self._parts: dict[int, tuple[weakref.ref[MapState], tuple[object, ...]]] = {}

    def _forget(self, ref: weakref.ref[MapState], key: int) -> None:
        entry = self._parts.get(key)
        if entry is not None and entry[0] is ref:
            del self._parts[key]

    def get(self, state: MapState) -> tuple[object, ...]:
        """Return :func:`compute_map_parts` of ``state``, remembered if it was computed."""
        if not self.enabled:
            return compute_map_parts(state)
        key = id(state)
        entry = self._parts.get(key)
        if entry is not None and entry[0]() is state:
            return entry[1]
        parts = compute_map_parts(state)
        if len(self._parts) >= self.limit:
            self._parts.clear()
        forget = self._forget
        self._parts[key] = (weakref.ref(state, lambda ref: forget(ref, key)), parts)
        return parts

    def get_all(self, maps: dict[MapId, MapState],
                ) -> tuple[tuple[str, tuple[object, ...]], ...]:
        """Return ``(name, parts)`` of every map, in order."""
        remembered = self._parts
        found: list[tuple[str, tuple[object, ...]]] = []
        for name, state in maps.items():
            entry = remembered.get(id(state))
            parts = entry[1] if entry is not None and entry[0]() is state else self.get(state)
            found.append((str(name), parts))
        return tuple(found)

    def __len__(self) -> int:
        return len(self._parts)

    def clear(self) -> None:
        """Forget every map."""
        self._parts.clear()


def compute_runtime_parts(state: RuntimeState, cache: MapPartsCache | None = None,
                          ) -> tuple[object, ...]:
    """Return the canonical parts of ``state`` (the order of ``compute_state_key``).

    :param cache: take the maps' parts from it (only for maps never changed once encoded).
    """
    if cache is None or not cache.enabled:
        maps = tuple((str(name), compute_map_parts(m)) for name, m in state.maps.items())
    else:
        maps = cache.get_all(state.maps)
    accounts = tuple((str(name), bytes(a.data), a.writable)
                     for name, a in state.accounts.accounts.items())
    watchers = tuple((str(name), w.last_value, w.condition, w.reference)
                     for name, w in sorted(state.watchers.items()))
    return (
        state.slot, state.phase.value, maps, accounts, state.sequence.next_seq,
        tuple(_item(item) for item in state.fifo), state.next_item_seq, state.slot_cu_used,
        state.writes_applied, watchers,
        tuple((str(k), v) for k, v in sorted(state.writer_depth.items())),
        tuple(sorted(state.queued_timers)), tuple(sorted(state.queued_work)),
        state.startup_done, tuple(sorted(state.domains_written)), state.cascades_suppressed,
        state.max_depth_seen, state.preset.name, *_runtime_watchers(state),
    )


def encode_runtime(state: RuntimeState, cache: MapPartsCache | None = None) -> bytes:
    """Return the compact canonical bytes of ``state`` (see the module docstring).

    :param cache: see :func:`compute_runtime_parts` (the bytes are the same with or without).
    """
    if not _COMPACT:
        return b"R" + encode_state(state)
    return b"M" + marshal.dumps(compute_runtime_parts(state, cache),  # type: ignore[arg-type]
                                MARSHAL_VERSION)


def compute_fingerprint(key: bytes) -> int:
    """Return the 64-bit fingerprint of an encoding (BLAKE2b: independent of hash seeds)."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def get_expected_collisions(states: int, bits: int = FINGERPRINT_BITS) -> float:
    """Return the expected number of fingerprint collisions among ``states`` distinct states.

    Each of the ``n(n-1)/2`` pairs collides with probability ``2**-bits``; a collision makes
    the explorer take a new state for one already seen and leave it (and what only it
    reaches) out, so this is also the expected number of states lost at that point.
    """
    return states * (states - 1) / 2 / 2.0 ** bits


def describe_collisions(states: int, bits: int = FINGERPRINT_BITS) -> str:
    """Return ``64-bit fingerprints, expected lost states 2.7e-12`` for a run's count."""
    return (f"{bits}-bit fingerprints, expected lost states "
            f"{get_expected_collisions(states, bits):.1e}")


__all__: Sequence[str] = ["MapPartsCache", "compute_fingerprint", "describe_collisions",
                          "encode_runtime", "get_expected_collisions"]
