"""
The runtime as a transition system
==================================

Connects the generic explorer (:mod:`arspec.model.engine`) to the executable spec: a state is
a :class:`~arspec.spec.state.RuntimeState` snapshot, the actions are those of
:func:`arspec.spec.scheduler.get_enabled_actions` (the canonical action plus the
environment's :class:`~arspec.spec.scheduler.DomainWrite` choices), and a step is
:func:`~arspec.spec.scheduler.process_action` applied to a copy, with program bodies run on
the reference VM. One invocation (a whole tail-call chain) is one atomic step.

* **Identity.** A state is identified by :func:`~arspec.model.state_codec.encode_runtime`
  (the canonical parts of the state, every unordered collection sorted, serialised as
  bytes, so equal states give equal bytes whatever the hash seed) followed by the
  explorer's ghost: the timer and work-queue
  callback sites that already ran in the current slot (for ``no_double_execution``), and the
  reason if the step raised.
* **Horizon.** States that reached slot ``slots`` have no successors; the verdicts are "within
  ``slots`` slots".
* **Transition checks** run inside :meth:`RuntimeSystem.apply`, where the state before and the
  uncanonicalised state after are both at hand, and travel with the successor
  (:class:`StepInfo`); symmetry reduction never sees them.
* **Invocation cache.** :class:`CachingInvoker` remembers the effect of an invocation keyed
  by the program entry, the item fields the binding reads, budget, CPU, slot, preset, the
  async sequence counter and the run-time watchers, plus **the maps and accounts the run
  actually read**, with their values (recorded while it ran). A later invocation hits when
  all of those are equal: a deterministic program that reads the same values takes the same
  path, so it reads nothing else and writes the same. The FIFO, budgets spent, declared
  watchers and other scheduler bookkeeping, which the binding never touches, are left out.
  An entry keeps only the maps and accounts the invocation changed, and the counter; a run
  that changed anything else (run-time watchers included) is not remembered.
* **Shared maps.** A successor keeps the map objects of its predecessor that its step does
  not write, and copies the others (:meth:`RuntimeSystem.get_written_maps`): scenario and
  domain writes and the end of a slot write no map, enqueueing due work only a ring buffer
  it consumes, and a run of the head the map of its timer or work item plus what the
  program reaches (the :class:`CachingInvoker` copies a shared map on first access).
  Canonicalisation copies only the maps that hold a live sequence number. A map object of
  an explored state is therefore never changed, and its encoding is remembered by object
  (:data:`MAP_PARTS`); most successors re-encode only the maps their step wrote.
* **Rollback snapshots.** The scheduler snapshots the maps before a run to restore them if
  it fails; the :class:`CachingInvoker` tells it which maps the run never changes in place
  (:meth:`CachingInvoker.get_rollback_maps`: those shared with the predecessor, copied on
  first access), so the snapshot copies only the others.
* **Checks only when their inputs changed** (:mod:`arspec.model.check_shortcuts`): a
  transition check is skipped on a step that kept the maps it reads, a user invariant is
  remembered by the values it reads, and the replica check applies each order of writes to
  one copy of the state.
* **Partial-order reduction** (:class:`EnvironmentOrder`): environment writes to different
  domain keys commute (each writes its own field and marks its own key), so exploring them
  only in domain declaration order reaches exactly the same states. It is switched off when
  two domain fields share bytes.
* **Symmetry reduction** (:meth:`RuntimeSystem.canonicalize`): timer arm and work-queue start
  sequence numbers are only compared, never shown to programs, so renumbering the live ones
  by rank (and the counter to their count) maps a state to an equivalent representative.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from arspec.model import check_shortcuts
from arspec.model.check_shortcuts import RememberedResults, StepChecks
from arspec.model.confluence import Divergence
from arspec.model.engine import Invariant, ModelError, TransitionInvariant
from arspec.model.frontier_pack import SharedObjects
from arspec.model.resources import get_resident_bytes
from arspec.model.state_codec import MapPartsCache, encode_runtime
from arspec.model.stopping import MAX_MEMORY, REPLICA_STATES, get_stop_reason, request_stop
from arspec.spec import bundle as schema
from arspec.spec.accounts import Account
from arspec.spec.catalogue import (
    CATALOGUE,
    CallbackSite,
    CatalogueContext,
    UserInvariant,
    create_catalogue_context,
    get_callback_sites,
)
from arspec.spec.hooks import WatcherState
from arspec.spec.maps import ArrayElements, MapElement, MapState
from arspec.spec.ringbuf import RingBuffer, is_ringbuf_consume_enabled
from arspec.spec.runtime_watchers import copy_runtime_watchers
from arspec.spec.scheduler import (
    Action,
    ApplyWrite,
    DomainWrite,
    EndSlot,
    EnqueueDue,
    Event,
    InvocationOutcome,
    Invoker,
    RunHead,
    create_initial_state,
    get_enabled_actions,
    get_runtime_config,
    is_async_item,
    process_action,
)
from arspec.spec.state import (
    RuntimeState,
    WorkItem,
    compute_map_key,
    compute_runtime_watchers_key,
    compute_state_key,
    copy_accounts,
    copy_maps,
    copy_state,
)
from arspec.spec.tailcall import ProgArray
from arspec.spec.timers import AsyncSequence, TimerState
from arspec.spec.types import AccountName, ComputeUnits, Cpu, MapId
from arspec.spec.workqueue import WorkQueueState

_T = TypeVar("_T")

#: The RuntimeState fields :func:`copy_runtime_state` knows how to copy.
_KNOWN_FIELDS: Final = frozenset({
    "slot", "phase", "maps", "accounts", "sequence", "preset", "fifo", "next_item_seq",
    "slot_cu_used", "writes_applied", "watchers", "writer_depth", "queued_timers",
    "queued_work", "startup_done", "domains_written", "cascades_suppressed", "max_depth_seen",
    "runtime_watchers", "next_watcher_id"})
#: The fields of the map parts :func:`copy_map_fast` knows (every other one is immutable).
_KNOWN_MAP_FIELDS: Final = (
    (MapState, ("definition", "num_cpus", "elements", "queue", "last_use", "use_clock",
                "ringbuf", "prog_array")),
    (MapElement, ("key", "value", "timer", "wq")),
    (TimerState, ("initialised", "clock_id", "callback", "expiry", "arm_seq", "running")),
    (WorkQueueState, ("initialised", "callback", "pending_seq", "running")),
    (RingBuffer, ("size", "data", "consumer_pos", "producer_pos", "pending_pos")),
    (ProgArray, ("slots",)))
_FAST_COPY: Final = (
    {f.name for f in dataclasses.fields(RuntimeState)} == _KNOWN_FIELDS
    and all(tuple(f.name for f in dataclasses.fields(cls)) == names
            for cls, names in _KNOWN_MAP_FIELDS))


def _shallow(obj: _T) -> _T:
    """Return a shallow copy of a plain (``__dict__``) dataclass instance, fast."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


def copy_map_fast(state: MapState) -> MapState:
    """Return a copy of one map, equal to :func:`~arspec.spec.state.copy_map`'s, faster.

    Timer and work-queue states hold only immutable fields, so a shallow copy of each is a
    full copy; element values, queues, LRU clocks, ring data and program slots are copied.
    """
    new = _shallow(state)
    elements = {}
    for key, cells in state.elements.items():
        copies = []
        for element in cells:
            copy = _shallow(element)
            copy.value = bytearray(element.value)
            if element.timer is not None:
                copy.timer = _shallow(element.timer)
            if element.wq is not None:
                copy.wq = _shallow(element.wq)
            copies.append(copy)
        elements[key] = copies
    # a lazy array stays lazy: its untouched elements are created zeroed on first use
    new.elements = (state.elements.copy_with(elements)
                    if isinstance(state.elements, ArrayElements) else elements)
    new.queue = list(state.queue)
    new.last_use = dict(state.last_use)
    ring = state.ringbuf
    if ring is not None:
        new.ringbuf = _shallow(ring)
        new.ringbuf.data = bytearray(ring.data)
    if state.prog_array is not None:
        new.prog_array = ProgArray(list(state.prog_array.slots))
    return new


def copy_maps_fast(maps: dict[MapId, MapState]) -> dict[MapId, MapState]:
    """Return a copy of every map, in the same order (:func:`copy_map_fast`)."""
    if not _FAST_COPY:
        return copy_maps(maps)
    return {name: copy_map_fast(m) for name, m in maps.items()}

#: Actions whose spec transition never touches a map (scenario and domain writes change
#: accounts, the end of a slot scheduler counters): their successor shares the map objects
#: of its predecessor (``tests/model/test_map_sharing.py`` checks they stay unchanged).
MAP_FREE_ACTIONS: Final = (ApplyWrite, DomainWrite, EndSlot)

#: Successors share the map objects their step does not write (:func:`copy_runtime_state`,
#: :meth:`RuntimeSystem.get_written_maps`); ``False`` copies every map on every step (the
#: tests' reference, ``tests/model/test_map_sharing.py``).
SHARE_MAPS = True
#: The rollback snapshot of a run keeps the maps shared with another state instead of
#: copying them (:meth:`CachingInvoker.get_rollback_maps`); ``False`` copies every map (the
#: tests' reference, ``tests/model/test_lazy_rollback.py``).
LAZY_ROLLBACK = True
#: The explored states' map encodings, by map object (see :class:`MapPartsCache`; the
#: tests switch it off through its ``enabled``).
MAP_PARTS: Final = MapPartsCache()


#: Name of the invariant that a transition of the spec never raises.
STEP_INVARIANT: Final = "no_invalid_transition"
#: Name of the replica-determinism invariant.
REPLICA_INVARIANT: Final = "replica_determinism"
#: At most this many domain keys are permuted by the replica-determinism check.
MAX_REPLICA_KEYS: Final = 4


def copy_runtime_state(state: RuntimeState, *, share_maps: bool = False,
                       written: Collection[MapId] = ()) -> RuntimeState:
    """Return an independent copy of ``state`` (field by field; deep copy if unknown fields).

    :param share_maps: keep the same map objects (a new dict of them), except those named
        in ``written``, which are copied: only for a step that writes no other map
        (:func:`get_written_maps`); every later step copies again.
    """
    if not _FAST_COPY:
        return copy_state(state)
    if share_maps:
        maps = {name: copy_map_fast(m) if name in written else m
                for name, m in state.maps.items()}
    else:
        maps = copy_maps_fast(state.maps)
    return RuntimeState(
        slot=state.slot, phase=state.phase, maps=maps,
        accounts=copy_accounts(state.accounts),
        sequence=AsyncSequence(state.sequence.next_seq), preset=state.preset,
        fifo=list(state.fifo), next_item_seq=state.next_item_seq,
        slot_cu_used=state.slot_cu_used, writes_applied=state.writes_applied,
        watchers={k: WatcherState(w.last_value, w.condition, w.reference)
                  for k, w in state.watchers.items()},
        writer_depth=dict(state.writer_depth), queued_timers=set(state.queued_timers),
        queued_work=set(state.queued_work), startup_done=state.startup_done,
        domains_written=set(state.domains_written),
        cascades_suppressed=state.cascades_suppressed, max_depth_seen=state.max_depth_seen,
        runtime_watchers=copy_runtime_watchers(state)[0] if state.runtime_watchers else {},
        next_watcher_id=state.next_watcher_id)


# --------------------------------------------------------------------------- states


@dataclass(frozen=True)
class StepInfo:
    """What the step that produced a state did: its events and broken transition checks.

    ``reached`` marks a state known to be some step's successor whose events were dropped
    (:meth:`RuntimeSystem.compact`).
    """

    events: tuple[Event, ...] = ()
    violations: tuple[tuple[str, str], ...] = ()
    reached: bool = False


#: The step of a compacted frontier state: checked on arrival, events no longer needed.
REACHED: Final = StepInfo(reached=True)


@dataclass(frozen=True, eq=False)
class ModelState:
    """One explored state: the runtime snapshot, the ghost, and the step that produced it.

    ``ran`` is the set of timer / work-queue callback sites that ran in the current slot;
    ``error`` the reason when the step raised (the spec's transition was invalid). ``key``
    is the canonical encoding, computed when first asked for (a successor that symmetry
    reduction replaces is never encoded); ``step`` is not part of it.
    """

    runtime: RuntimeState
    ran: frozenset[CallbackSite]
    error: str | None
    step: StepInfo = field(default_factory=StepInfo)

    @property
    def key(self) -> bytes:
        """The canonical encoding (:func:`encode_model_state`, maps' parts from
        :data:`MAP_PARTS`), computed once (kept in ``__dict__``)."""
        key: bytes | None = self.__dict__.get("_key")
        if key is None:
            key = self.__dict__["_key"] = encode_model_state(self.runtime, self.ran,
                                                            self.error, MAP_PARTS)
        return key

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the cached key (it is recomputed on demand; halves the bytes)."""
        return {k: v for k, v in self.__dict__.items() if k != "_key"}

    def __repr__(self) -> str:
        rt = self.runtime
        head = f"slot {rt.slot} {rt.phase.value}, fifo {len(rt.fifo)}, cu {rt.slot_cu_used}"
        return head + (f", ERROR {self.error}" if self.error else "")


def encode_model_state(runtime: RuntimeState, ran: frozenset[CallbackSite],
                       error: str | None, cache: MapPartsCache | None = None) -> bytes:
    """Return the canonical bytes of a model state (spec encoding plus the ghost).

    :param cache: see :func:`~arspec.model.state_codec.encode_runtime`.
    """
    ghost = repr((tuple(sorted(ran)), error)).encode()
    return encode_runtime(runtime, cache) + b"|" + ghost


def make_model_state(runtime: RuntimeState, ran: frozenset[CallbackSite] = frozenset(),
                     error: str | None = None, step: StepInfo | None = None) -> ModelState:
    """Return a :class:`ModelState` (its key is computed on first use)."""
    return ModelState(runtime, ran, error, step or StepInfo())


# --------------------------------------------------------------------------- invocation cache


@dataclass
class CacheStats:
    """Hits and misses of the invocation cache."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_share(self) -> float:
        """Hits over lookups (0 when nothing was looked up)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class _ReadRecorder(dict):  # type: ignore[type-arg]
    """A name -> map (or account) dict that remembers the key of every entry read.

    Every way to reach a value records it first (with its key *before* the caller can change
    it): indexing, ``get``, assignment, and iteration over values or items or a copy record
    every entry. ``__iter__`` is overridden so that ``dict(recorder)`` and ``{**recorder}``
    take the slow path through ``keys``/``__getitem__`` instead of copying silently.
    """

    def __init__(self, values: dict[object, object], keyer: Callable[[object], object],
                 shared: Collection[object] = (),
                 copier: Callable[[Any], object] | None = None) -> None:
        super().__init__(values)
        self.reads: dict[object, object] = {}
        self.keyer = keyer
        self.shared = shared
        self.copier = copier

    def _read(self, name: object) -> None:
        if name not in self.reads and dict.__contains__(self, name):
            value = dict.__getitem__(self, name)
            self.reads[name] = self.keyer(value)
            if name in self.shared:
                # shared with another state: the caller gets (and may change) a copy
                assert self.copier is not None
                dict.__setitem__(self, name, self.copier(value))

    def _read_all(self) -> None:
        for name in dict.keys(self):
            self._read(name)

    def __getitem__(self, name: object) -> object:
        self._read(name)
        return dict.__getitem__(self, name)

    def get(self, name: object, default: object = None) -> object:
        self._read(name)
        return dict.get(self, name, default)

    def __setitem__(self, name: object, value: object) -> None:
        self._read(name)
        dict.__setitem__(self, name, value)

    def __iter__(self) -> Iterator[object]:
        return iter(list(dict.keys(self)))

    def values(self) -> Any:
        self._read_all()
        return dict.values(self)

    def items(self) -> Any:
        self._read_all()
        return dict.items(self)

    def copy(self) -> dict[object, object]:
        self._read_all()
        return dict(dict.items(self))

    def pop(self, name: object, *default: object) -> object:
        self._read(name)
        return dict.pop(self, name, *default)

    def setdefault(self, name: object, default: object = None) -> object:
        self._read(name)
        return dict.setdefault(self, name, default)

    def popitem(self) -> tuple[object, object]:
        self._read_all()
        return dict.popitem(self)

    def __reduce__(self) -> Any:
        self._read_all()
        return (dict, (dict(dict.items(self)),))


def _account_key(account: Account) -> tuple[bytes, bool]:
    return bytes(account.data), account.writable


@dataclass(frozen=True)
class _Memo:
    """One remembered invocation: what it read (with the values) and what it changed."""

    maps_read: tuple[tuple[object, object], ...]
    accounts_read: tuple[tuple[object, object], ...]
    outcome: InvocationOutcome
    maps_changed: dict[MapId, MapState]
    accounts_changed: dict[AccountName, Account]
    next_seq: int


class CachingInvoker:
    """An :class:`~arspec.spec.scheduler.Invoker` that memoises another one.

    An invocation is remembered under the item as the binding reads it and the scalar
    state it can read (entry, item fields, budget, CPU, slot, preset, async sequence
    counter), together with **the maps and accounts it actually read** and their values: a
    recorded run wraps ``state.maps`` and the accounts in dicts that note the key of every
    entry reached (:class:`_ReadRecorder`). A later invocation with the same scalars hits
    when every map and account that run read is equal now: a deterministic program that
    reads the same values takes the same path, so it reads nothing else and makes the same
    writes, which are replayed (the maps and accounts it changed, the counter). Maps and
    accounts it never reached do not take part in the key, so a program that never touches
    a 4 KiB ring buffer hits whatever the ring holds.

    :param inner: the invoker that runs programs (the reference runtime).
    :param enabled: cache at all (``False``: every call runs ``inner``; still counted).
    :param include_seq: key on the item's FIFO sequence number too (the ``linux`` profile's
        pseudo-random helper reads it).
    :param max_entries: forget everything when this many invocations are remembered.
    :param per_key: at most this many read-set variants per scalar key (oldest dropped).

    ``shared`` names the maps of the state about to be run that are shared with another
    state (set by :meth:`RuntimeSystem.apply` around one step): the run gets a copy of
    such a map when it first reaches it, a hit installs the maps it changed as copies, and
    a shared ring left with records to consume is copied before the scheduler consumes
    them (:meth:`copy_consumable_rings`). The other maps stay shared.
    """

    def __init__(self, inner: Invoker, *, enabled: bool = True, include_seq: bool = False,
                 max_entries: int = 50_000, per_key: int = 64) -> None:
        self.inner = inner
        self.enabled = enabled
        self.include_seq = include_seq
        self.max_entries = max_entries
        self.per_key = per_key
        self.stats = CacheStats()
        self._store: dict[tuple[object, ...], list[_Memo]] = {}
        self._entries = 0
        self.shared: frozenset[MapId] = frozenset()

    def compute_key(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                    cpu: Cpu) -> tuple[object, ...]:
        """Return the scalar part of the key: the item as the binding reads it and the
        scalars of the state it can read."""
        return (item.entry, item.kind.value, item.map_id, item.key, item.record,
                item.seq if self.include_seq else None, budget, cpu, state.slot,
                state.preset.name, state.sequence.next_seq,
                compute_runtime_watchers_key(state))

    def _find(self, state: RuntimeState, memos: list[_Memo]) -> _Memo | None:
        """Return the remembered invocation whose reads all match ``state``, if any."""
        maps = state.maps
        accounts = state.accounts.accounts
        map_keys: dict[object, object] = {}
        account_keys: dict[object, object] = {}
        for memo in reversed(memos):
            for name, value in memo.maps_read:
                now = map_keys.get(name)
                if now is None:
                    now = map_keys[name] = compute_map_key(maps[name])  # type: ignore[index]
                if now != value:
                    break
            else:
                for name, value in memo.accounts_read:
                    now = account_keys.get(name)
                    if now is None:
                        now = account_keys[name] = _account_key(
                            accounts[name])  # type: ignore[index]
                    if now != value:
                        break
                else:
                    return memo
        return None

    def get_rollback_maps(self, maps: dict[MapId, MapState]) -> dict[MapId, MapState]:
        """Return the scheduler's rollback snapshot of ``maps``
        (:class:`~arspec.spec.scheduler.RollbackMaps`): a map of ``shared`` is never
        changed in place by the run (it gets a copy on first access), so the snapshot keeps
        it, unless its ring has a record to consume (the scheduler consumes it in place
        after a rollback too); every other map is copied."""
        if not LAZY_ROLLBACK or not self.shared:
            return copy_maps_fast(maps)
        shared = self.shared
        kept = {}
        for name, mstate in maps.items():
            ring = mstate.ringbuf
            if name in shared and (ring is None or not is_ringbuf_consume_enabled(ring)):
                kept[name] = mstate
            else:
                kept[name] = copy_map_fast(mstate)
        return kept

    def __call__(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                 cpu: Cpu) -> InvocationOutcome:
        """Run ``item`` (or replay its remembered effect) on ``state`` in place."""
        shared = {name: state.maps[name] for name in self.shared}
        outcome = self._invoke(state, item, budget, cpu)
        if shared:
            copy_consumable_rings(state, shared)
        return outcome

    def _invoke(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                cpu: Cpu) -> InvocationOutcome:
        if not self.enabled:
            self.stats.misses += 1
            if self.shared:
                return self._run_copying(state, item, budget, cpu)
            return self.inner(state, item, budget, cpu)
        key = self.compute_key(state, item, budget, cpu)
        memos = self._store.get(key)
        memo = self._find(state, memos) if memos else None
        if memo is not None:
            self.stats.hits += 1
            if memo.maps_changed:
                state.maps = install_maps(state.maps, memo.maps_changed, self.shared)
            accounts = state.accounts.accounts
            for name, account in memo.accounts_changed.items():
                accounts[name] = copy_account(account)
            state.sequence = AsyncSequence(memo.next_seq)
            return memo.outcome
        self.stats.misses += 1
        return self._record(state, item, budget, cpu, key)

    def _run_copying(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                     cpu: Cpu) -> InvocationOutcome:
        """Run ``inner`` with the shared maps copied on first access (nothing recorded)."""
        maps = _ReadRecorder(state.maps, _no_key, self.shared,  # type: ignore[arg-type]
                             copy_map_fast)
        state.maps = maps
        try:
            return self.inner(state, item, budget, cpu)
        finally:
            if state.maps is maps:
                state.maps = dict(dict.items(maps))

    def _record(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits, cpu: Cpu,
                key: tuple[object, ...]) -> InvocationOutcome:
        """Run ``inner`` with recording dicts in place and remember what it read and did."""
        untouched = get_unreplayed_parts(state)
        maps = _ReadRecorder(state.maps, compute_map_key,  # type: ignore[arg-type]
                             self.shared, copy_map_fast)
        holder = state.accounts
        accounts = _ReadRecorder(holder.accounts, _account_key)  # type: ignore[arg-type]
        state.maps = maps
        holder.accounts = accounts
        try:
            outcome = self.inner(state, item, budget, cpu)
        finally:
            replaced = state.maps is not maps or state.accounts is not holder \
                or holder.accounts is not accounts
            if state.maps is maps:
                state.maps = dict(dict.items(maps))
            if holder.accounts is accounts:
                holder.accounts = dict(dict.items(accounts))
        if replaced or get_unreplayed_parts(state) != untouched:
            # the invoker swapped whole tables (what it read is unknown) or changed a part
            # of the state a hit would not replay: run it every time
            return outcome
        changed = {name: m for name, m in state.maps.items()
                   if name in maps.reads and compute_map_key(m) != maps.reads[name]}
        accounts_now = state.accounts.accounts
        accounts_changed: dict[AccountName, Account] = {}
        for read, before in accounts.reads.items():
            name = AccountName(str(read))
            if _account_key(accounts_now[name]) != before:
                accounts_changed[name] = copy_account(accounts_now[name])
        if self._entries >= self.max_entries:
            self._store.clear()
            self._entries = 0
        memos = self._store.setdefault(key, [])
        if len(memos) >= self.per_key:
            del memos[0]
            self._entries -= 1
        memos.append(_Memo(tuple(maps.reads.items()), tuple(accounts.reads.items()),
                           outcome, copy_maps_fast(changed), accounts_changed,
                           state.sequence.next_seq))
        self._entries += 1
        return outcome


def _no_key(value: object) -> None:
    return None


def copy_consumable_rings(state: RuntimeState, shared: dict[MapId, MapState]) -> None:
    """Copy every map of ``shared`` that ``state`` still holds whose ring buffer has a
    committed record to consume (the scheduler consumes it next, in place)."""
    maps = state.maps
    for name, mstate in shared.items():
        ring = mstate.ringbuf
        if maps.get(name) is mstate and ring is not None and is_ringbuf_consume_enabled(ring):
            maps[name] = copy_map_fast(mstate)


def get_unreplayed_parts(state: RuntimeState) -> tuple[object, ...]:
    """Return the parts of ``state`` a cache hit does not replay (all but the maps, the
    accounts and the async counter), to check that a recorded run left them alone."""
    return (state.slot, state.phase, state.preset.name, len(state.fifo), state.next_item_seq,
            state.slot_cu_used, state.writes_applied,
            tuple((k, w.last_value, w.condition, w.reference)
                  for k, w in state.watchers.items()),
            tuple(state.writer_depth.items()), tuple(sorted(state.queued_timers)),
            tuple(sorted(state.queued_work)), state.startup_done,
            tuple(sorted(state.domains_written)), state.cascades_suppressed,
            state.max_depth_seen, compute_runtime_watchers_key(state))


def copy_account(account: Account) -> Account:
    """Return a copy of one account (its data copied)."""
    return Account(account.name, bytearray(account.data), account.writable)


def install_maps(current: dict[MapId, MapState], effect: dict[MapId, MapState],
                 shared: Collection[MapId] = ()) -> dict[MapId, MapState]:
    """Return ``current`` with the maps of ``effect`` copied over it (declaration order kept).

    ``effect`` holds the maps an invocation changed; the others stay as they are.
    The scheduler holds on to the element of a fired timer or running work item across the
    invocation (to mark its callback done), as if the invoker had changed the maps in place;
    an element that exists before and after therefore keeps its identity, with its value,
    timer and work-queue state taken from ``effect``. A map of ``shared`` (shared with
    another state, so no element of it is held) is replaced whole and left unchanged.
    """
    installed = copy_maps_fast(effect)
    for name, mstate in installed.items():
        old = current.get(name)
        if old is None or name in shared:
            continue
        for key, cells in mstate.elements.items():
            before = dict.get(old.elements, key)  # a lazy array element not created yet: new
            if before is None or len(before) != len(cells):
                continue
            for kept, new in zip(before, cells, strict=True):
                kept.value = new.value
                kept.timer = new.timer
                kept.wq = new.wq
            mstate.elements[key] = before
    return {name: installed.get(name, mstate) for name, mstate in current.items()}


# --------------------------------------------------------------------------- the system


@dataclass(frozen=True)
class CheckSet:
    """Which checks :class:`RuntimeSystem` evaluates (catalogue names and user invariants)."""

    catalogue: tuple[str, ...] = ()
    user: tuple[UserInvariant, ...] = ()
    replica: bool = False


class RuntimeSystem:
    """The bundle's runtime as a :class:`~arspec.model.engine.TransitionSystem`.

    :param bundle: the loaded bundle.
    :param invoker: runs programs (usually a :class:`CachingInvoker` over the reference).
    :param slots: the horizon: states at this slot have no successors.
    :param checks: the checks to evaluate.
    :raises ModelError: for an unknown catalogue name, a liveness one, or a horizon below 1.
    """

    def __init__(self, bundle: schema.Bundle, invoker: Invoker, *, slots: int,
                 checks: CheckSet | None = None) -> None:
        if slots < 1:
            raise ModelError(f"slots must be >= 1, got {slots}")
        self.bundle = bundle
        self.invoker = invoker
        self.slots = slots
        self.checks = checks or CheckSet()
        for name in self.checks.catalogue:
            if name not in CATALOGUE:
                raise ModelError(f"unknown catalogue invariant {name!r}")
            if CATALOGUE[name].liveness:
                raise ModelError(f"{name!r} is a liveness property: check it with "
                                 "arspec.model.starvation, not as a state or step check")
        self.config = get_runtime_config(bundle)
        self.domain_keys = list(self.config.domains)
        initial = create_initial_state(bundle)
        self.context: CatalogueContext = create_catalogue_context(bundle, initial)
        self._initial = make_model_state(initial)
        self.divergences: dict[bytes, Divergence] = {}
        self._step_checks = StepChecks(self.context, self.checks.catalogue)
        self.remembered = RememberedResults(self.context)
        self._shared = SharedObjects([initial.preset,
                                      *(m.definition for m in initial.maps.values())])

    # -- TransitionSystem ---------------------------------------------------------------

    def initial_states(self) -> Sequence[ModelState]:
        """Return the state at the start of slot 0."""
        return [self._initial]

    def actions(self, state: ModelState) -> Sequence[Action]:
        """Return the enabled spec actions; none at the horizon or after an invalid step."""
        if state.error is not None or state.runtime.slot >= self.slots:
            return []
        return get_enabled_actions(state.runtime, self.bundle, environment=True)

    def apply(self, state: ModelState, action: Action) -> ModelState:
        """Return the successor: ``process_action`` on a copy, with the transition checks."""
        written = self.get_written_maps(state.runtime, action) if SHARE_MAPS else None
        copying = None
        if written is None and SHARE_MAPS and isinstance(action, RunHead) \
                and isinstance(self.invoker, CachingInvoker):
            # the invoker copies a shared map when the run reaches it
            written = get_trigger_maps(state.runtime)
            copying = self.invoker
        runtime = copy_runtime_state(state.runtime, share_maps=written is not None,
                                     written=written or ())
        if copying is not None:
            owned = written or frozenset()
            copying.shared = frozenset(n for n in runtime.maps if n not in owned)
        try:
            events = tuple(process_action(runtime, action, self.invoker, self.bundle))
        except (AssertionError, KeyError, IndexError, ValueError) as err:
            reason = f"{type(err).__name__} in {self.describe(action)}: {err}".rstrip(": ")
            return make_model_state(copy_runtime_state(state.runtime), state.ran, reason,
                                    StepInfo((), ((STEP_INVARIANT, reason),)))
        finally:
            if copying is not None:
                copying.shared = frozenset()
        violations = self.compute_step_violations(state, events, runtime)
        if isinstance(action, EndSlot):
            ran: frozenset[CallbackSite] = frozenset()
        else:
            sites = get_callback_sites(events)
            ran = state.ran | frozenset(sites) if sites else state.ran
        return make_model_state(runtime, ran, None, StepInfo(events, violations))

    def get_written_maps(self, runtime: RuntimeState, action: Action,
                         ) -> frozenset[MapId] | None:
        """Return the maps the spec's transition for ``action`` may write, or ``None`` for
        any of them.

        A :data:`MAP_FREE_ACTIONS` step writes none. Enqueueing due work reads timers
        and work items and writes only the ring buffers whose records it consumes (those
        with a subscriber and something committed to hand out).
        """
        if isinstance(action, MAP_FREE_ACTIONS):
            return frozenset()
        if isinstance(action, EnqueueDue):
            written = []
            for map_id in self.config.subscribers:
                ring = runtime.maps[map_id].ringbuf
                if ring is None or is_ringbuf_consume_enabled(ring):
                    written.append(map_id)
            return frozenset(written)
        return None

    def encode(self, state: ModelState) -> bytes:
        """Return the canonical encoding (computed once per state)."""
        return state.key

    def describe(self, action: Action) -> str:
        """Return a one-line description of ``action``."""
        return describe_action(action)

    def pack_state(self, state: ModelState) -> bytes:
        """Return ``state`` as compressed bytes, for a wide frontier: the map definitions
        and the preset as references, ring buffers with their live bytes
        (:mod:`arspec.model.frontier_pack`)."""
        return self._shared.pack(state)

    def unpack_state(self, data: bytes) -> ModelState:
        """Return the state :meth:`pack_state` packed (:mod:`arspec.model.frontier_pack`)."""
        state: ModelState = self._shared.unpack(data)
        return state

    def compact(self, state: ModelState) -> ModelState:
        """Return ``state`` as it waits on the frontier: no events, no cached key.

        Its checks ran on arrival; the events (a few KB) and the encoding (the size of the
        maps) are needed again only for a trace, which is rebuilt by replaying.
        """
        return ModelState(state.runtime, state.ran, state.error, REACHED)

    # -- checks --------------------------------------------------------------------------

    def compute_step_violations(self, pre: ModelState, events: Sequence[Event],
                                post: RuntimeState) -> tuple[tuple[str, str], ...]:
        """Return (name, reason) of every requested transition check the step breaks
        (checks whose inputs the step kept are skipped: :mod:`~arspec.model.check_shortcuts`).
        """
        return self._step_checks.compute(pre.runtime, pre.ran, events, post)

    def get_state_violation(self, name: str, state: ModelState) -> str | None:
        """Return why ``state`` breaks the state check ``name``, or ``None``."""
        if name == REPLICA_INVARIANT:
            div = self.divergences.get(state.key)
            return None if div is None else div.render()
        for inv in self.checks.user:
            if inv.name == name:
                return self.remembered.get_user_violation(inv, state.runtime)
        entry = CATALOGUE[name]
        if entry.state is None:
            return None
        return entry.state(self.context, state.runtime)

    def get_step_violation(self, name: str, state: ModelState) -> str | None:
        """Return why the step into ``state`` broke the transition check ``name``, or None."""
        for vname, reason in state.step.violations:
            if vname == name:
                return reason
        return None

    def build_invariants(self) -> tuple[list[Invariant[ModelState]],
                                        list[TransitionInvariant[ModelState, Action]]]:
        """Return the engine invariants: one per check, in catalogue then user order.

        A catalogue invariant with a state part and a transition part is checked as one
        transition invariant (its state part is evaluated on the successor), plus its state
        part on the initial state, under the same name.
        """
        states: list[Invariant[ModelState]] = []
        transitions: list[TransitionInvariant[ModelState, Action]] = [
            TransitionInvariant(STEP_INVARIANT, self._holds_step(STEP_INVARIANT, None))]
        for name in self.checks.catalogue:
            entry = CATALOGUE[name]
            if entry.transition is None and not entry.double_execution:
                states.append(Invariant(name, self._holds_state(name)))
                continue
            state_part = self._holds_state(name) if entry.state is not None else None
            transitions.append(TransitionInvariant(name, self._holds_step(name, state_part)))
        for inv in self.checks.user:
            states.append(Invariant(inv.name, self._holds_state(inv.name)))
        if self.checks.replica:
            states.append(Invariant(REPLICA_INVARIANT, self.is_replica_deterministic))
        return states, transitions

    def _holds_state(self, name: str) -> Callable[[ModelState], bool]:
        """Return ``get_state_violation(name, state) is None`` as a function, the check
        looked up once."""
        remembered, context = self.remembered, self.context
        user = next((inv for inv in self.checks.user if inv.name == name), None)
        check = None if name == REPLICA_INVARIANT or user is not None \
            else CATALOGUE[name].state

        def holds(state: ModelState) -> bool:
            if user is not None:
                return remembered.get_user_violation(user, state.runtime) is None
            if check is not None:
                return check(context, state.runtime) is None
            return self.get_state_violation(name, state) is None
        return holds

    def _holds_step(self, name: str, state_part: Callable[[ModelState], bool] | None,
                    ) -> Callable[[ModelState, Action, ModelState], bool]:
        def holds(pre: ModelState, action: Action, post: ModelState) -> bool:
            violations = post.step.violations
            if violations and any(vname == name for vname, _ in violations):
                return False
            if state_part is None:
                return True
            if not state_part(post):
                return False
            # The initial state is no step's successor: check its state part here.
            return pre.step.reached or bool(pre.step.events) or state_part(pre)
        return holds

    # -- replica determinism -----------------------------------------------------------------

    #: The replica check's budget (``explore --max-states`` and ``--max-memory``): it may
    #: compute at most ``replica_max_states`` states in all and stops when the process's
    #: resident memory passes ``replica_max_memory`` bytes; ``None`` is unbounded. What
    #: it has computed so far is ``replica_states``. Out of budget (or time, see
    #: :mod:`arspec.model.stopping`), it stops the whole command and leaves its states
    #: unchecked, so the verdict is BOUND-REACHED.
    replica_max_states: int | None = None
    replica_max_memory: int | None = None
    replica_states: int = 0

    def is_replica_deterministic(self, state: ModelState) -> bool:
        """Return whether every arrival order of every set of domain writes agrees.

        Checked at the start of a slot's environment phase (no domain key written yet): for
        every subset of two or more enabled keys (at most :data:`MAX_REPLICA_KEYS`) and every
        choice of one value per key, the writes are applied in every order and the states
        compared. A divergence is remembered for the report. Stopped by its budget (see
        ``replica_max_states``), it returns ``True`` for what it could not check.
        """
        runtime = state.runtime
        if state.error is not None or runtime.domains_written or runtime.slot >= self.slots:
            return True
        by_key: dict[str, list[DomainWrite]] = {}
        for action in get_enabled_actions(runtime, self.bundle, environment=True):
            if isinstance(action, DomainWrite):
                by_key.setdefault(f"{action.account}.{action.field}", []).append(action)
        keys = list(by_key)[:MAX_REPLICA_KEYS]
        for size in range(2, len(keys) + 1):
            cost = math.factorial(size) * size  # states computed per choice of values
            for subset in itertools.combinations(keys, size):
                for choice in itertools.product(*(by_key[k] for k in subset)):
                    if not self._within_replica_budget(cost):
                        return True
                    divergence = self.compare_orders(state, choice)
                    if divergence is not None:
                        self.divergences[state.key] = divergence
                        return False
        return True

    def _within_replica_budget(self, cost: int) -> bool:
        """Count ``cost`` more replica states; stop the command if they do not fit."""
        reason = get_stop_reason()
        if reason is None and self.replica_max_states is not None \
                and self.replica_states + cost > self.replica_max_states:
            reason = REPLICA_STATES
        if reason is None and self.replica_max_memory is not None \
                and (self.replica_states >> 10) != ((self.replica_states + cost) >> 10) \
                and get_resident_bytes() > self.replica_max_memory:
            reason = MAX_MEMORY
        if reason is not None:
            request_stop(reason)
            return False
        self.replica_states += cost
        return True

    def compare_orders(self, state: ModelState, writes: Sequence[DomainWrite],
                       ) -> Divergence | None:
        """Apply ``writes`` in every order; return the first disagreement with the first."""
        if check_shortcuts.SKIP_CHECKS and self.is_order_free(state, writes):
            return None
        reference: tuple[tuple[str, ...], ModelState] | None = None
        for order in itertools.permutations(writes):
            current = state
            for write in order:
                current = self.apply(current, write)
            labels = tuple(self.describe(w) for w in order)
            if reference is None:
                reference = (labels, current)
                continue
            if current.key != reference[1].key:
                name, va, vb = first_difference(reference[1], current)
                return Divergence(reference[0], labels, name, va, vb)
        return None

    def is_order_free(self, state: ModelState, writes: Sequence[DomainWrite]) -> bool:
        """Return whether every order of ``writes`` reaches the same encoding, each order
        applied to one copy of the state (what :meth:`apply` step by step gives when no
        write raises); ``False`` also when one raises (then :meth:`compare_orders` applies
        them step by step)."""
        reference: bytes | None = None
        for order in itertools.permutations(writes):
            runtime = copy_runtime_state(state.runtime, share_maps=SHARE_MAPS)
            ran = state.ran
            try:
                for write in order:
                    sites = get_callback_sites(
                        process_action(runtime, write, self.invoker, self.bundle))
                    ran = ran | frozenset(sites) if sites else ran
            except (AssertionError, KeyError, IndexError, ValueError):
                return False
            key = encode_model_state(runtime, ran, None, MAP_PARTS)
            if reference is None:
                reference = key
            elif key != reference:
                return False
        return True

    # -- reductions ------------------------------------------------------------------------

    def canonicalize(self, state: ModelState) -> ModelState:
        """Return the representative with live async sequence numbers renumbered by rank."""
        runtime = state.runtime
        live = sorted(collect_async_seqs(runtime))
        if all(old == new for new, old in enumerate(live)) \
                and runtime.sequence.next_seq == len(live):
            return state
        rank = {old: new for new, old in enumerate(live)}
        # renumbering writes only the maps that hold a live number: share the others
        renamed = copy_runtime_state(runtime, share_maps=SHARE_MAPS,
                                     written=get_async_seq_maps(runtime))
        renumber_async_seqs(renamed, rank)
        canon = make_model_state(renamed, state.ran, state.error, state.step)
        return canon

    def domains_overlap(self) -> bool:
        """Return whether two domain fields of one account share bytes."""
        spans = []
        for key in self.domain_keys:
            offset, kind = self.config.field_types[key]
            spans.append((key.partition(".")[0], offset, offset + schema.field_width(kind)))
        for (a, s1, e1), (b, s2, e2) in itertools.combinations(spans, 2):
            if a == b and s1 < e2 and s2 < e1:
                return True
        return False


def collect_async_seqs(runtime: RuntimeState) -> set[int]:
    """Return every live timer arm / work-queue start sequence number of the state."""
    seqs: set[int] = set(runtime.queued_timers) | set(runtime.queued_work)
    for item in runtime.fifo:
        if item.async_seq is not None:
            seqs.add(item.async_seq)
    for mstate in runtime.maps.values():
        for cells in mstate.elements.values():
            for element in cells:
                seqs.update(get_element_seqs(element))
    return seqs


def get_trigger_maps(runtime: RuntimeState) -> frozenset[MapId]:
    """Return the maps the scheduler itself may write when it runs a queued item: those of
    the timers and work items in the FIFO (it fires, then marks done, an element of the
    one it runs). Every queued item counts, not only the head, so that a scheduler taking
    another one (the planted faults of the tests) still finds its element copied."""
    return frozenset(item.map_id for item in runtime.fifo
                     if item.map_id is not None and is_async_item(item))


def get_async_seq_maps(runtime: RuntimeState) -> set[MapId]:
    """Return the maps with an element that holds a live arm / start sequence number."""
    return {name for name, mstate in runtime.maps.items()
            if any(get_element_seqs(element) for cells in mstate.elements.values()
                   for element in cells)}


def get_element_seqs(element: MapElement) -> list[int]:
    """Return the arm / start sequence numbers held by one element."""
    found = []
    if element.timer is not None and element.timer.arm_seq is not None:
        found.append(int(element.timer.arm_seq))
    if element.wq is not None and element.wq.pending_seq is not None:
        found.append(int(element.wq.pending_seq))
    return found


def renumber_async_seqs(runtime: RuntimeState, rank: dict[int, int]) -> None:
    """Rename every live async sequence number through ``rank`` (in place)."""
    from arspec.spec.types import SeqNo

    runtime.queued_timers = {rank[s] for s in runtime.queued_timers}
    runtime.queued_work = {rank[s] for s in runtime.queued_work}
    runtime.fifo = [item if item.async_seq is None
                    else dataclasses.replace(item, async_seq=rank[item.async_seq])
                    for item in runtime.fifo]
    for mstate in runtime.maps.values():
        for cells in mstate.elements.values():
            for element in cells:
                if element.timer is not None and element.timer.arm_seq is not None:
                    element.timer.arm_seq = SeqNo(rank[element.timer.arm_seq])
                if element.wq is not None and element.wq.pending_seq is not None:
                    element.wq.pending_seq = SeqNo(rank[element.wq.pending_seq])
    runtime.sequence = AsyncSequence(len(rank))


class EnvironmentOrder:
    """Partial-order reduction: domain writes only in domain declaration order.

    In a write phase, the canonical action is always kept, and of the enabled domain writes
    only those whose key comes after every key already written in this slot. Writes to
    different keys commute, so every state the full graph reaches is still reached (by the
    writes in declaration order); see the module docstring.
    """

    def __init__(self, system: RuntimeSystem) -> None:
        self.order = {key: i for i, key in enumerate(system.domain_keys)}

    def select(self, state: ModelState, enabled: Sequence[Action]) -> Sequence[int] | None:
        """Return the indices to expand, or ``None`` for all of them."""
        written = state.runtime.domains_written
        if not written:
            return None
        last = max(self.order[k] for k in written)
        keep = [i for i, a in enumerate(enabled)
                if not isinstance(a, DomainWrite)
                or self.order[f"{a.account}.{a.field}"] > last]
        return keep if len(keep) < len(enabled) else None


# --------------------------------------------------------------------------- rendering


def describe_action(action: Action) -> str:
    """Return ``env leg_a.price = 1100``, ``run head``, ... for an action."""
    if isinstance(action, DomainWrite):
        return f"env {action.account}.{action.field} = {action.value}"
    if isinstance(action, ApplyWrite):
        return "scenario write"
    if isinstance(action, EnqueueDue):
        return "enqueue due work"
    if isinstance(action, RunHead):
        return "run head"
    return "end slot"


#: Names of the components of :func:`~arspec.spec.state.compute_state_key`, in order.
STATE_COMPONENTS: Final = (
    "slot", "phase", "maps", "accounts", "sequence", "fifo", "next_item_seq", "slot_cu_used",
    "writes_applied", "watchers", "writer_depth", "queued_timers", "queued_work",
    "startup_done", "domains_written", "cascades_suppressed", "max_depth_seen", "preset")


def get_components(state: ModelState) -> list[tuple[str, object]]:
    """Return the named components of a state (maps and accounts one by one), in order."""
    key = compute_state_key(state.runtime)
    parts: list[tuple[str, object]] = []
    for name, value in zip(STATE_COMPONENTS, key, strict=False):
        if name in ("maps", "accounts"):
            assert isinstance(value, tuple)
            parts.extend((f"{name}.{entry[0]}", entry[1:]) for entry in value)
        else:
            parts.append((name, value))
    parts.append(("ghost.ran", tuple(sorted(state.ran))))
    parts.append(("error", state.error))
    return parts


def first_difference(a: ModelState, b: ModelState) -> tuple[str, object, object]:
    """Return the first named component where ``a`` and ``b`` differ."""
    for (name, va), (_, vb) in zip(get_components(a), get_components(b), strict=True):
        if va != vb:
            return name, va, vb
    raise ModelError("states encode differently but every component is equal")
