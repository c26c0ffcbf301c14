"""
Runtime state
=============

The whole state of the autonomous runtime between two atomic scheduler actions: the slot,
the maps (by id, in declaration order), the accounts, the runtime-wide async sequence, the
scheduler's FIFO of pending :class:`WorkItem`\\ s, the compute units spent in the current
slot, the watchers' edge state and the cascade bookkeeping.

:class:`RuntimeState` is a typed container without methods. It is copied with
:func:`copy_state` (a deep copy: the explorer snapshots before every action, and the
scheduler snapshots before every invocation so a failed invocation can be rolled back), and
compared and hashed through :func:`compute_state_key` / :func:`encode_state`, a canonical
nested tuple in which every unordered collection is sorted, so equal states give equal bytes
whatever the insertion order or the hash seed.

:func:`create_runtime_state` builds slot 0 from a :class:`~arspec.spec.bundle.Bundle`:

* **Map shapes come from the bundle, limits from the preset.** The bundle schema already
  validated key, value and entry sizes; the preset's map-size limits exist to keep explored
  cases small and are not applied to a loaded bundle (a ``minimal`` bundle may declare an
  8192-byte ring). The preset still supplies the CPUs of per-CPU maps, the tail-call limit
  and the loop limit.
* **Initial map contents** are written with ``BPF_ANY``; for per-CPU maps the value is
  written to every CPU's copy (user space writes all CPUs of a per-CPU map).
* **Accounts** start as their ``data`` (zero-padded), with field ``init`` values written over
  it (little-endian, two's complement for signed types). Every account is writable by
  programs: the bundle has no read-only accounts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final, TypeVar

from arspec.spec import bundle as schema
from arspec.spec.accounts import Account, AccountsState, create_account
from arspec.spec.hooks import WatcherState, WatchSpec
from arspec.spec.maps import (
    BPF_ANY,
    ArrayElements,
    MapDef,
    MapElement,
    MapState,
    MapType,
    create_map_state,
    is_percpu_map,
    is_pristine_cells,
    process_map_update,
)
from arspec.spec.presets import Preset, get_preset
from arspec.spec.ringbuf import RingBuffer, get_live_bytes
from arspec.spec.tailcall import ProgArray, process_prog_array_update
from arspec.spec.timers import AsyncSequence
from arspec.spec.types import AccountName, ComputeUnits, Cpu, FuncRef, MapId, Pc, ProgId, Slot

#: Bundle map type names to the spec's map types.
MAP_TYPES: Final[dict[str, MapType]] = {
    "hash": MapType.HASH,
    "array": MapType.ARRAY,
    "percpu_array": MapType.PERCPU_ARRAY,
    "percpu_hash": MapType.PERCPU_HASH,
    "lru_hash": MapType.LRU_HASH,
    "queue": MapType.QUEUE,
    "stack": MapType.STACK,
    "prog_array": MapType.PROG_ARRAY,
    "ringbuf": MapType.RINGBUF,
}


class TriggerKind(StrEnum):
    """Why a work item exists (the hook or async mechanism that created it)."""

    STARTUP = "startup"
    EVERY = "every"
    WATCH = "watch"
    TIMER = "timer"
    WORKQUEUE = "workqueue"
    RINGBUF = "ringbuf"


class Phase(StrEnum):
    """Where the scheduler is inside the current slot (see :mod:`arspec.spec.scheduler`)."""

    #: Environment writes of the slot are being applied; enqueueing ends the phase.
    WRITES = "writes"
    #: Work items run from the FIFO head; ending the slot ends the phase.
    RUN = "run"


@dataclass(frozen=True)
class WorkItem:
    """One pending invocation in the scheduler's FIFO.

    ``seq`` is the scheduler's own sequence number (the FIFO position; never reused).
    ``entry`` is the program and pc to run. ``async_seq`` is the timer arm sequence or the
    work-queue pending sequence the item was created for (``None`` for other kinds), and
    ``map_id`` / ``key`` locate the timer's or work item's element. ``record`` is the ring
    record's payload for ring-buffer subscribers. ``watcher_id`` names the run-time watcher
    a ``watch`` item fires (``None`` for a declared watcher). ``depth`` is the watcher cascade depth
    (0 for everything that is not watcher-triggered). ``reason`` is a human-readable origin.
    """

    seq: int
    kind: TriggerKind
    entry: FuncRef
    enqueued_slot: Slot
    depth: int = 0
    reason: str = ""
    map_id: MapId | None = None
    key: bytes | None = None
    async_seq: int | None = None
    record: bytes | None = None
    #: The run-time watcher (:mod:`~arspec.spec.runtime_watchers`) the item fires, by id.
    watcher_id: int | None = None

    @property
    def prog(self) -> ProgId:
        """Return the program the item runs."""
        return self.entry.prog


@dataclass
class RuntimeWatcher:
    """A watcher registered at run time by ``sol_watch_account``.

    ``owner`` registered it, ``callback`` runs when it fires, ``spec`` is what it reads and
    how it compares, ``edge`` its edge state; it observes from slot ``active_from`` on (see
    :mod:`arspec.spec.runtime_watchers`).
    """

    id: int
    owner: ProgId
    callback: FuncRef
    spec: WatchSpec
    edge: WatcherState
    active_from: Slot


@dataclass
class RuntimeState:
    """Everything the runtime holds between two scheduler actions."""

    #: The current slot (0 first; ending a slot moves to the next).
    slot: Slot
    #: Where the scheduler is inside the slot: applying environment writes, or running.
    phase: Phase
    #: Every map's elements, timers, work items and ring buffer, in declaration order.
    maps: dict[MapId, MapState]
    #: The bundle's accounts and their bytes.
    accounts: AccountsState
    #: The runtime-wide counter that numbers timer arms and work-queue starts.
    sequence: AsyncSequence
    #: The preset: CPUs, tail-call limit, loop limit, cascade depth and the other limits.
    preset: Preset
    #: The pending work items, head first.
    fifo: list[WorkItem] = field(default_factory=list)
    #: The ``seq`` the next work item gets (sequence numbers are never reused).
    next_item_seq: int = 0
    #: Compute units charged in the current slot so far (against ``per_slot``).
    slot_cu_used: int = 0
    #: How many of the current slot's scenario writes are applied.
    writes_applied: int = 0
    #: The edge state of each declared watcher program.
    watchers: dict[ProgId, WatcherState] = field(default_factory=dict)
    #: Smallest cascade depth of a writer of each account since the watchers last looked
    #: (0 for the environment and for invocations that were not watcher-triggered).
    writer_depth: dict[AccountName, int] = field(default_factory=dict)
    #: Timer arm sequences that already have a FIFO item.
    queued_timers: set[int] = field(default_factory=set)
    #: Work-queue pending sequences that already have a FIFO item.
    queued_work: set[int] = field(default_factory=set)
    #: The startup programs are enqueued (they run once, in slot 0).
    startup_done: bool = False
    #: Explorer domain keys (``account.field``) written by the environment this slot.
    domains_written: set[str] = field(default_factory=set)
    #: Watcher triggers suppressed for exceeding the maximum cascade depth, in total.
    cascades_suppressed: int = 0
    #: Deepest cascade depth of any watcher item enqueued so far.
    max_depth_seen: int = 0
    #: Watchers registered at run time (``sol_watch_account``), by id.
    runtime_watchers: dict[int, RuntimeWatcher] = field(default_factory=dict)
    #: The id the next run-time watcher gets (ids are never reused).
    next_watcher_id: int = 1


def get_map_def(name: str, spec: schema.MapSpec) -> MapDef:
    """Return the spec definition of a bundle map."""
    return MapDef(
        name=MapId(name),
        type=MAP_TYPES[spec.type.value],
        key_size=spec.key_size,
        value_size=spec.value_size,
        max_entries=spec.max_entries,
        pinned=spec.pinned,
        timer_offset=spec.timer,
        wq_offset=spec.wq,
        spin_lock_offset=spec.spin_lock,
    )


def compute_bundle_bytes(item: int | bytes, size: int) -> bytes:
    """Return a bundle integer (little-endian) or hex bytes as exactly ``size`` bytes."""
    if isinstance(item, bytes):
        return item.ljust(size, b"\0")[:size]
    return item.to_bytes(size, "little")


def compute_field_bytes(value: int, kind: schema.FieldType) -> bytes:
    """Return the little-endian bytes of ``value`` as a field of type ``kind``."""
    signed = kind.value.startswith("i")
    return value.to_bytes(schema.field_width(kind), "little", signed=signed)


def get_bundle_limits(name: str) -> Preset:
    """Return preset ``name`` as bundles use it: the schema's map and ring limits replace the
    preset's, and compute budgets are the ``budgets`` defaults (a bundle may set its own).

    ``docs/presets.rst`` shows these values beside the presets'; a test checks that bundles
    accept exactly them.
    """
    preset = get_preset(name)
    return replace(
        preset,
        max_map_entries=schema.MAX_MAP_ENTRIES,
        max_key_size=schema.MAX_KV_SIZE,
        max_value_size=schema.MAX_KV_SIZE,
        ringbuf_min_size=schema.RINGBUF_PAGE_SIZE,
        ringbuf_page_size=schema.RINGBUF_PAGE_SIZE,
        ringbuf_max_size=schema.MAX_RINGBUF_SIZE,
        invocation_budget_cu=ComputeUnits(schema.DEFAULT_INVOCATION_CU),
        slot_budget_cu=ComputeUnits(schema.DEFAULT_SLOT_CU),
    )


def get_bundle_preset(bundle: schema.Bundle) -> Preset:
    """Return the limits a bundle runs under (:func:`get_bundle_limits` of its preset)."""
    return get_bundle_limits(bundle.preset.value)


def create_bundle_map(name: str, spec: schema.MapSpec, preset: Preset) -> MapState:
    """Return the initial state of one bundle map (initial elements, prog-array entries)."""
    defn = get_map_def(name, spec)
    state = create_map_state(defn, preset)
    cpus = range(preset.num_cpus) if is_percpu_map(defn) else range(1)
    for item in spec.init:
        key = compute_bundle_bytes(item.key, defn.key_size)
        value = compute_bundle_bytes(item.value, defn.value_size)
        for cpu in cpus:
            result = process_map_update(state, key, value, BPF_ANY, cpu=Cpu(cpu))
            # Verify the schema-checked initial element is accepted
            assert result == 0, f"map {name}: initial element rejected ({result})"
    if state.prog_array is not None:
        for index, target in sorted(spec.entries.items()):
            process_prog_array_update(state.prog_array, index, ProgId(target))
    return state


def create_bundle_accounts(bundle: schema.Bundle) -> AccountsState:
    """Return the accounts of a bundle with their initial data and field values."""
    state = AccountsState()
    for name, spec in bundle.accounts.items():
        account = create_account(AccountName(name), spec.size)
        if spec.data is not None:
            account.data[: len(spec.data)] = spec.data
        for fspec in spec.fields.values():
            if fspec.init is not None:
                raw = compute_field_bytes(fspec.init, fspec.type)
                account.data[fspec.offset : fspec.offset + len(raw)] = raw
        state.accounts[AccountName(name)] = account
    return state


def create_runtime_state(bundle: schema.Bundle) -> RuntimeState:
    """Return the state at the start of slot 0, before anything has run.

    ``watchers`` is left empty: the scheduler fills it with the baselines
    :func:`arspec.spec.hooks.create_watcher_states` takes from the initial account data.
    """
    preset = get_bundle_preset(bundle)
    maps = {MapId(n): create_bundle_map(n, s, preset) for n, s in bundle.maps.items()}
    return RuntimeState(
        slot=Slot(0),
        phase=Phase.WRITES,
        maps=maps,
        accounts=create_bundle_accounts(bundle),
        sequence=AsyncSequence(),
        preset=preset,
    )


def copy_state(state: RuntimeState) -> RuntimeState:
    """Return an independent deep copy of ``state`` (for snapshots and rollback)."""
    return copy.deepcopy(state)


_Plain = TypeVar("_Plain")


def _copy_fields(obj: _Plain) -> _Plain:
    """Return a shallow copy of a timer or work-item state (all its fields are immutable),
    as ``copy.copy`` would, without its generic protocol."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


def copy_element(element: MapElement) -> MapElement:
    """Return a copy of an element: its value bytes and its timer and work-item state."""
    timer = element.timer
    wq = element.wq
    return MapElement(key=element.key, value=bytearray(element.value),
                      timer=None if timer is None else _copy_fields(timer),
                      wq=None if wq is None else _copy_fields(wq))


def _copy_elements(elements: dict[bytes, list[MapElement]]) -> dict[bytes, list[MapElement]]:
    copied = {k: [copy_element(e) for e in cells] for k, cells in elements.items()}
    return elements.copy_with(copied) if isinstance(elements, ArrayElements) else copied


def copy_map(state: MapState) -> MapState:
    """Return a copy of one map's contents; the (frozen) definition is shared."""
    ring = state.ringbuf
    progs = state.prog_array
    return MapState(
        definition=state.definition,
        num_cpus=state.num_cpus,
        elements=_copy_elements(state.elements),
        queue=list(state.queue),
        last_use=dict(state.last_use),
        use_clock=state.use_clock,
        ringbuf=None if ring is None else RingBuffer(ring.size, bytearray(ring.data),
                                                     ring.consumer_pos, ring.producer_pos,
                                                     ring.pending_pos),
        prog_array=None if progs is None else ProgArray(list(progs.slots)),
    )


def copy_maps(maps: Mapping[MapId, MapState]) -> dict[MapId, MapState]:
    """Return a copy of every map, in the same order (the scheduler's rollback snapshot).

    Equivalent to a deep copy of the maps, written out so that a snapshot per invocation
    stays cheap: only element values, async states, queues, rings and slots are copied.
    """
    return {name: copy_map(m) for name, m in maps.items()}


def copy_accounts(accounts: AccountsState) -> AccountsState:
    """Return a copy of every account's data."""
    return AccountsState({name: Account(a.name, bytearray(a.data), a.writable)
                          for name, a in accounts.accounts.items()})


def compute_map_key(state: MapState) -> tuple[object, ...]:
    """Return the canonical tuple of one map's contents (elements sorted by key; of a ring
    buffer, its positions and live bytes: :mod:`arspec.spec.ringbuf`, "Dead bytes")."""
    cells = []
    lazy = isinstance(state.elements, ArrayElements)
    for key in sorted(state.elements):
        if lazy and is_pristine_cells(state.elements[key]):
            continue  # an array element never changed equals one never created
        copies = []
        for element in state.elements[key]:
            timer = element.timer
            wq = element.wq
            copies.append((
                bytes(element.value),
                None if timer is None else (timer.initialised, timer.clock_id, timer.callback,
                                            timer.expiry, timer.arm_seq, timer.running),
                None if wq is None else (wq.initialised, wq.callback, wq.pending_seq,
                                         wq.running),
            ))
        cells.append((key, tuple(copies)))
    ring = state.ringbuf
    ring_key = None if ring is None else (get_live_bytes(ring), ring.consumer_pos,
                                          ring.producer_pos, ring.pending_pos)
    progs = None if state.prog_array is None else tuple(state.prog_array.slots)
    lru = tuple(sorted(state.last_use.items()))
    return (tuple(cells), tuple(state.queue), lru, state.use_clock, ring_key, progs)


def compute_state_key(state: RuntimeState) -> tuple[object, ...]:
    """Return a canonical, hashable tuple that is equal exactly for equal states."""
    maps = tuple((name, compute_map_key(m)) for name, m in state.maps.items())
    accounts = tuple((name, bytes(a.data), a.writable)
                     for name, a in state.accounts.accounts.items())
    watchers = tuple((name, w.last_value, w.condition, w.reference)
                     for name, w in sorted(state.watchers.items()))
    key: tuple[object, ...] = (
        state.slot, state.phase.value, maps, accounts, state.sequence.next_seq,
        tuple(state.fifo), state.next_item_seq, state.slot_cu_used, state.writes_applied,
        watchers, tuple(sorted(state.writer_depth.items())), tuple(sorted(state.queued_timers)),
        tuple(sorted(state.queued_work)), state.startup_done,
        tuple(sorted(state.domains_written)), state.cascades_suppressed, state.max_depth_seen,
        state.preset.name,
    )
    return key + compute_runtime_watchers_key(state)


def compute_runtime_watchers_key(state: RuntimeState) -> tuple[object, ...]:
    """Return the run-time watchers' part of the state key.

    Empty while no watcher was ever registered, so states of bundles that never call
    ``sol_watch_account`` keep the encoding they always had.
    """
    if not state.runtime_watchers and state.next_watcher_id == 1:
        return ()
    registered = tuple(
        (w.id, w.owner, w.callback, w.spec, w.edge.last_value, w.edge.condition,
         w.edge.reference, w.active_from)
        for _, w in sorted(state.runtime_watchers.items()))
    return (registered, state.next_watcher_id)


def encode_state(state: RuntimeState) -> bytes:
    """Return the canonical byte encoding of ``state`` (``repr`` of the canonical tuple)."""
    return repr(compute_state_key(state)).encode()


def get_account_order(accounts: AccountsState) -> list[AccountName]:
    """Return account names in declaration order (helpers address accounts by this index)."""
    return list(accounts.accounts)


def get_map_order(maps: Mapping[MapId, MapState]) -> list[MapId]:
    """Return map ids in declaration order (``map_idx(i)`` names the i-th)."""
    return list(maps)


def make_entry(prog: str, pc: int = 0) -> FuncRef:
    """Return the :class:`FuncRef` of ``prog`` at ``pc`` (0: the program's entry point)."""
    return FuncRef(ProgId(prog), Pc(pc))
