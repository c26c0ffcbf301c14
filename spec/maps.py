"""
Maps
====

Key/value storage shared by programs and the outside world, with the Linux map types and their
exact helper results (Linux ``kernel/bpf/hashtab.c``, ``arraymap.c``, ``queue_stack_maps.c``;
flags from ``include/uapi/linux/bpf.h``). A map is a :class:`MapDef` (what the bundle declares)
and a :class:`MapState` (what it holds). Every transition returns what the Linux helper returns:
``0`` or ``-errno`` for update/delete/push/pop/peek, the element or ``None`` for lookup. A
failed ``assert`` means the *call* was invalid (a contract the verifier guarantees, such as the
key size); callers run transitions on a copy when they need the pre-state afterwards.

Values and identity
-------------------
A value is a ``bytearray`` inside a :class:`MapElement`. Lookup returns the element itself, so
a program (through the VM, which maps ``element.value`` as a memory region) updates the value
in place. Updates follow Linux:

* a hash-map update that **replaces** an element creates a new element (Linux allocates a new
  element and unlinks the old one under RCU); a holder of the old element keeps the old bytes;
* an array update **copies in place** into the existing element;
* a per-CPU hash update of an existing key copies in place into the caller's CPU copy;
* the 16 bytes of a ``bpf_timer`` / ``bpf_wq`` field are never copied by an update
  (``copy_map_value`` skips special fields); the timer or work item behind them is
  :class:`~arspec.spec.timers.TimerState` / :class:`~arspec.spec.workqueue.WorkQueueState`.

Deleting an element, replacing it, overwriting an array slot or evicting an LRU element
cancels and frees its timer and work item (``bpf_obj_free_fields``).

Per-CPU maps
------------
Per-CPU maps keep one element per CPU (``preset.num_cpus`` of them); lookup and update take an
explicit ``cpu``. Which CPU a program runs on is the scheduler's deterministic choice. A new
per-CPU hash element gets the value on the caller's CPU and zeros elsewhere.

Departures from Linux
---------------------
* **LRU is exact.** Linux's LRU is approximate (active/inactive lists, a reference bit,
  per-CPU free lists, batch eviction). arspec keeps a use counter per map: a lookup hit, an
  insert and a replace make the key the most recent; when an update needs a node and the map
  holds ``max_entries`` elements, exactly one element, the least recently used, is evicted.
  Like Linux, the node is taken *before* the flag check, so an update that then fails with
  ``-EEXIST`` / ``-ENOENT`` may still have evicted an element, and replacing a key of a full
  LRU map evicts the least recently used element (which may be that key).
* **No spin locks.** ``BPF_F_LOCK`` is refused with ``-EINVAL`` as Linux does for a value
  without a ``bpf_spin_lock`` field; arspec values never have one.
* **Operations a type does not implement.** Linux's verifier rejects, for example,
  ``map_push_elem`` on a hash map. arspec gives such calls the kernel's "not supported"
  result, ``-ENOTSUPP`` (``None`` for lookup), so that every transition is total.
* **Pinned maps.** A pinned map keeps its contents across a bundle reload
  (:func:`carry_over_pinned`) when its definition is unchanged. Its timers and work items are
  cancelled and freed: their callbacks belonged to the unloaded bundle (Linux keeps the old
  program alive through the timer's reference; arspec does not keep old code).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from arspec.spec.errno import E2BIG, EEXIST, EINVAL, ENOENT, ENOTSUPP
from arspec.spec.errors import MapDefinitionError, PinnedMapMismatch
from arspec.spec.presets import Preset
from arspec.spec.ringbuf import RingBuffer, create_ringbuf, is_power_of_two
from arspec.spec.spinlock import BPF_SPIN_LOCK_ALIGN, BPF_SPIN_LOCK_SIZE
from arspec.spec.tailcall import ProgArray, create_prog_array
from arspec.spec.timers import (
    BPF_TIMER_ALIGN,
    BPF_TIMER_SIZE,
    TimerState,
    process_timer_cancel_and_free,
)
from arspec.spec.types import Cpu, MapId
from arspec.spec.workqueue import (
    BPF_WQ_ALIGN,
    BPF_WQ_SIZE,
    WorkQueueState,
    process_wq_cancel_and_free,
)


class MapType(IntEnum):
    """The map types arspec specifies, with their Linux ``enum bpf_map_type`` values."""

    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    LRU_HASH = 9
    LRU_PERCPU_HASH = 10
    QUEUE = 22
    STACK = 23
    RINGBUF = 27


#: The CPU used when a caller does not name one (non-per-CPU maps ignore the CPU).
FIRST_CPU: Final = Cpu(0)

#: Update flags (``map_update_elem`` / ``map_push_elem``).
BPF_ANY: Final = 0
BPF_NOEXIST: Final = 1
BPF_EXIST: Final = 2
BPF_F_LOCK: Final = 4

#: Creation flag: allocate hash elements on demand (no semantic difference in arspec).
BPF_F_NO_PREALLOC: Final = 1 << 0

HASH_TYPES: Final = (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
ARRAY_TYPES: Final = (MapType.ARRAY, MapType.PERCPU_ARRAY)
PERCPU_TYPES: Final = (MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH)
LRU_TYPES: Final = (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
QUEUE_STACK_TYPES: Final = (MapType.QUEUE, MapType.STACK)
#: Map types whose values may hold a ``bpf_timer`` or ``bpf_wq``.
ASYNC_FIELD_TYPES: Final = (MapType.HASH, MapType.LRU_HASH, MapType.ARRAY)
#: Map types whose values may hold a ``bpf_spin_lock`` (Linux ``map_check_btf``).
SPIN_LOCK_FIELD_TYPES: Final = (MapType.HASH, MapType.ARRAY)
#: Creation flags each map type accepts.
ALLOWED_CREATE_FLAGS: Final[dict[MapType, int]] = {
    MapType.HASH: BPF_F_NO_PREALLOC,
    MapType.PERCPU_HASH: BPF_F_NO_PREALLOC,
}


@dataclass(frozen=True)
class MapDef:
    """A map as the bundle declares it.

    ``timer_offset`` / ``wq_offset`` give where a 16-byte ``bpf_timer`` / ``bpf_wq`` lives inside
    the value (8-aligned; only HASH, LRU_HASH and ARRAY values may hold one). For a ring
    buffer ``max_entries`` is the data size in bytes.
    """

    name: MapId
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    pinned: bool = False
    timer_offset: int | None = None
    wq_offset: int | None = None
    #: Byte offset of the 4-byte ``struct bpf_spin_lock`` (:mod:`arspec.spec.spinlock`).
    spin_lock_offset: int | None = None


@dataclass(eq=False)
class MapElement:
    """One stored value (one CPU's copy in a per-CPU map) and the async fields inside it."""

    key: bytes
    value: bytearray
    timer: TimerState | None = None
    wq: WorkQueueState | None = None


@dataclass(eq=False)
class MapState:
    """What a map holds.

    ``elements`` maps a key to its element (one per CPU for per-CPU maps) in insertion order;
    array maps create an element on first use (:class:`ArrayElements`). ``queue`` holds
    queue/stack values oldest first; ``last_use`` and ``use_clock`` order LRU recency.
    """

    definition: MapDef
    num_cpus: int
    elements: dict[bytes, list[MapElement]] = field(default_factory=dict)
    queue: list[bytes] = field(default_factory=list)
    last_use: dict[bytes, int] = field(default_factory=dict)
    use_clock: int = 0
    ringbuf: RingBuffer | None = None
    prog_array: ProgArray | None = None


def is_percpu_map(defn: MapDef) -> bool:
    """Return whether the map keeps one value per CPU."""
    return defn.type in PERCPU_TYPES


def is_hash_map(defn: MapDef) -> bool:
    """Return whether the map is one of the hash types (including LRU and per-CPU)."""
    return defn.type in HASH_TYPES


def is_array_map(defn: MapDef) -> bool:
    """Return whether the map is ARRAY or PERCPU_ARRAY."""
    return defn.type in ARRAY_TYPES


def is_lru_map(defn: MapDef) -> bool:
    """Return whether the map evicts its least recently used element when full."""
    return defn.type in LRU_TYPES


def is_queue_stack_map(defn: MapDef) -> bool:
    """Return whether the map is a QUEUE or a STACK."""
    return defn.type in QUEUE_STACK_TYPES


def compute_array_key(index: int) -> bytes:
    """Return the 4-byte little-endian key of array index ``index``."""
    return index.to_bytes(4, "little")


def get_async_field_ranges(defn: MapDef) -> list[range]:
    """Return the byte ranges of the value that hold a timer or a work item, in order."""
    ranges = [
        range(offset, offset + BPF_TIMER_SIZE)
        for offset in (defn.timer_offset, defn.wq_offset)
        if offset is not None
    ]
    return sorted(ranges, key=lambda r: r.start)


def get_special_field_ranges(defn: MapDef) -> list[range]:
    """Return the ranges no value copy touches: timer, work item and spin lock, in order."""
    ranges = get_async_field_ranges(defn)
    if defn.spin_lock_offset is not None:
        ranges.append(range(defn.spin_lock_offset,
                            defn.spin_lock_offset + BPF_SPIN_LOCK_SIZE))
    return sorted(ranges, key=lambda r: r.start)


def check_spin_lock_field(defn: MapDef, offset: int) -> None:
    """Raise :class:`MapDefinitionError` unless a ``bpf_spin_lock`` at ``offset`` may exist."""
    where = f"map {defn.name!r}: bpf_spin_lock at offset {offset}"
    if defn.type not in SPIN_LOCK_FIELD_TYPES:
        raise MapDefinitionError(
            f"{where}: only HASH and ARRAY values may hold a bpf_spin_lock, not {defn.type.name}")
    if offset < 0 or offset % BPF_SPIN_LOCK_ALIGN:
        raise MapDefinitionError(
            f"{where}: must be a non-negative multiple of {BPF_SPIN_LOCK_ALIGN}")
    if offset + BPF_SPIN_LOCK_SIZE > defn.value_size:
        raise MapDefinitionError(
            f"{where}: {BPF_SPIN_LOCK_SIZE} bytes do not fit in the {defn.value_size}-byte value")
    for other in get_async_field_ranges(defn):
        if offset < other.stop and other.start < offset + BPF_SPIN_LOCK_SIZE:
            raise MapDefinitionError(f"{where}: overlaps a bpf_timer or bpf_wq field")


def check_async_field(defn: MapDef, what: str, offset: int, size: int, align: int) -> None:
    """Raise :class:`MapDefinitionError` unless a ``what`` field at ``offset`` may exist."""
    where = f"map {defn.name!r}: {what} at offset {offset}"
    if defn.type not in ASYNC_FIELD_TYPES:
        raise MapDefinitionError(
            f"{where}: only HASH, LRU_HASH and ARRAY values may hold a {what}, "
            f"not {defn.type.name}"
        )
    if offset < 0 or offset % align != 0:
        raise MapDefinitionError(f"{where}: must be a non-negative multiple of {align}")
    if offset + size > defn.value_size:
        raise MapDefinitionError(
            f"{where}: {size} bytes do not fit in the {defn.value_size}-byte value"
        )


def check_map_sizes(defn: MapDef, preset: Preset) -> None:
    """Raise :class:`MapDefinitionError` unless key, value and entry counts suit the type."""
    name = f"map {defn.name!r} ({defn.type.name})"
    if defn.type in ARRAY_TYPES or defn.type == MapType.PROG_ARRAY:
        expected_key: int | None = 4
    elif defn.type in QUEUE_STACK_TYPES or defn.type == MapType.RINGBUF:
        expected_key = 0
    else:
        expected_key = None
    if expected_key is not None and defn.key_size != expected_key:
        raise MapDefinitionError(f"{name}: key_size must be {expected_key}, not {defn.key_size}")
    if expected_key is None and not 0 < defn.key_size <= preset.max_key_size:
        raise MapDefinitionError(
            f"{name}: key_size {defn.key_size} is not in 1..{preset.max_key_size}"
        )
    if defn.type == MapType.RINGBUF:
        if defn.value_size != 0:
            raise MapDefinitionError(f"{name}: value_size must be 0, not {defn.value_size}")
        return
    if defn.type == MapType.PROG_ARRAY and defn.value_size != 4:
        raise MapDefinitionError(f"{name}: value_size must be 4, not {defn.value_size}")
    if not 0 < defn.value_size <= preset.max_value_size:
        raise MapDefinitionError(
            f"{name}: value_size {defn.value_size} is not in 1..{preset.max_value_size}"
        )
    if not 0 < defn.max_entries <= preset.max_map_entries:
        raise MapDefinitionError(
            f"{name}: max_entries {defn.max_entries} is not in 1..{preset.max_map_entries}"
        )


def check_ringbuf_size(defn: MapDef, preset: Preset) -> None:
    """Raise :class:`MapDefinitionError` unless a ring buffer's size suits the preset."""
    size = defn.max_entries
    name = f"map {defn.name!r} (RINGBUF)"
    if not is_power_of_two(size):
        raise MapDefinitionError(f"{name}: size {size} is not a power of two")
    if size % preset.ringbuf_page_size != 0:
        raise MapDefinitionError(
            f"{name}: size {size} is not a multiple of the {preset.ringbuf_page_size}-byte page"
        )
    if not preset.ringbuf_min_size <= size <= preset.ringbuf_max_size:
        raise MapDefinitionError(
            f"{name}: size {size} is not in {preset.ringbuf_min_size}..{preset.ringbuf_max_size}"
            f" (preset {preset.name})"
        )


def validate_map_def(defn: MapDef, preset: Preset) -> None:
    """Raise :class:`MapDefinitionError` with a one-line reason unless ``defn`` is creatable."""
    check_map_sizes(defn, preset)
    if defn.type == MapType.RINGBUF:
        check_ringbuf_size(defn, preset)
    allowed = ALLOWED_CREATE_FLAGS.get(defn.type, 0)
    if defn.flags & ~allowed:
        raise MapDefinitionError(
            f"map {defn.name!r}: creation flags {defn.flags:#x} not allowed for {defn.type.name}"
        )
    if defn.timer_offset is not None:
        check_async_field(defn, "bpf_timer", defn.timer_offset, BPF_TIMER_SIZE, BPF_TIMER_ALIGN)
    if defn.wq_offset is not None:
        check_async_field(defn, "bpf_wq", defn.wq_offset, BPF_WQ_SIZE, BPF_WQ_ALIGN)
    ranges = get_async_field_ranges(defn)
    if len(ranges) == 2 and ranges[0].stop > ranges[1].start:
        raise MapDefinitionError(f"map {defn.name!r}: the bpf_timer and bpf_wq fields overlap")
    if defn.spin_lock_offset is not None:
        check_spin_lock_field(defn, defn.spin_lock_offset)


def create_element(defn: MapDef, key: bytes, value: bytes) -> MapElement:
    """Return a new element holding ``value`` (async fields zeroed) and fresh async state."""
    element = MapElement(key=key, value=bytearray(defn.value_size))
    process_copy_value(defn, element.value, value)
    if defn.timer_offset is not None:
        element.timer = TimerState()
    if defn.wq_offset is not None:
        element.wq = WorkQueueState()
    return element


def create_cells(state: MapState, key: bytes, value: bytes, cpu: Cpu) -> list[MapElement]:
    """Return the elements of a new key: ``value`` on ``cpu`` (zeros elsewhere if per-CPU)."""
    defn = state.definition
    if not is_percpu_map(defn):
        return [create_element(defn, key, value)]
    zeros = bytes(defn.value_size)
    return [create_element(defn, key, value if c == cpu else zeros) for c in range(state.num_cpus)]


class ArrayElements(dict[bytes, list[MapElement]]):
    """The elements of an array map, each created (zeroed) when it is first used.

    Linux allocates every element of an array map at creation and zero-fills it
    (``kernel/bpf/arraymap.c``, ``array_map_alloc``), so an element nobody touched is all
    zeros with an uninitialised timer and work item. Storing only the elements that were used
    gives the same contents with memory for what a program touches, not for ``max_entries``.
    Indexing, :meth:`get` and ``in`` see every index below ``max_entries``; iteration and
    ``len`` see the elements created so far (:func:`is_pristine_cells` tells an untouched one).
    """

    def __init__(self, definition: MapDef, num_cpus: int,
                 stored: Mapping[bytes, list[MapElement]] | None = None) -> None:
        super().__init__(stored or {})
        self.definition = definition
        self.num_cpus = num_cpus

    def _in_range(self, key: object) -> bool:
        return isinstance(key, bytes) and len(key) == self.definition.key_size and \
            int.from_bytes(key, "little") < self.definition.max_entries

    def __missing__(self, key: bytes) -> list[MapElement]:
        if not self._in_range(key):
            raise KeyError(key)
        zeros = bytes(self.definition.value_size)
        cells = [create_element(self.definition, key, zeros)
                 for _ in range(self.num_cpus if is_percpu_map(self.definition) else 1)]
        self[key] = cells
        return cells

    def get(self, key: bytes, default: list[MapElement] | None = None,  # type: ignore[override]
            ) -> list[MapElement] | None:
        if dict.__contains__(self, key) or self._in_range(key):
            return self[key]
        return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._in_range(key)

    def __reduce__(self) -> tuple[object, ...]:
        return (ArrayElements, (self.definition, self.num_cpus, dict(self)))

    def copy_with(self, stored: Mapping[bytes, list[MapElement]]) -> ArrayElements:
        """Return lazy elements of the same map holding ``stored``."""
        return ArrayElements(self.definition, self.num_cpus, stored)


#: The fields of a fresh timer and work item (both compare by identity, so by fields here).
_FRESH_TIMER: Final = vars(TimerState())
_FRESH_WQ: Final = vars(WorkQueueState())


def is_pristine_cells(cells: Sequence[MapElement]) -> bool:
    """Return whether array cells are as creation left them: zeros, idle timer and work item."""
    return all(not any(e.value) and (e.timer is None or vars(e.timer) == _FRESH_TIMER)
               and (e.wq is None or vars(e.wq) == _FRESH_WQ) for e in cells)


def create_map_state(defn: MapDef, preset: Preset) -> MapState:
    """Return the empty state of a validated map (array elements are created on first use)."""
    validate_map_def(defn, preset)
    state = MapState(definition=defn, num_cpus=preset.num_cpus)
    if defn.type in ARRAY_TYPES:
        state.elements = ArrayElements(defn, preset.num_cpus)
    elif defn.type == MapType.RINGBUF:
        state.ringbuf = create_ringbuf(defn.max_entries)
    elif defn.type == MapType.PROG_ARRAY:
        state.prog_array = create_prog_array(defn.max_entries)
    return state


def process_copy_value(defn: MapDef, target: bytearray, value: bytes) -> None:
    """Copy ``value`` into ``target`` except the bytes of timer, work-queue and lock fields."""
    skipped = get_special_field_ranges(defn)
    for i in range(defn.value_size):
        if not any(i in r for r in skipped):
            target[i] = value[i]


def process_free_element_fields(element: MapElement) -> None:
    """Cancel and free the timer and the work item inside an element."""
    if element.timer is not None:
        process_timer_cancel_and_free(element.timer)
    if element.wq is not None:
        process_wq_cancel_and_free(element.wq)


def process_touch(state: MapState, key: bytes) -> None:
    """Make ``key`` the most recently used key of an LRU map."""
    state.use_clock += 1
    state.last_use[key] = state.use_clock


def process_remove_key(state: MapState, key: bytes) -> None:
    """Remove a key from a hash map, freeing the async fields of its elements."""
    for element in state.elements.pop(key):
        process_free_element_fields(element)
    state.last_use.pop(key, None)


def process_lru_make_room(state: MapState) -> None:
    """Take a node for an LRU update: evict the least recently used key if the map is full."""
    if len(state.elements) < state.definition.max_entries:
        return
    victim = min(state.last_use, key=lambda k: state.last_use[k])
    process_remove_key(state, victim)


def check_exist_flags(old_exists: bool, flags: int) -> int:
    """Return the hash-map flag result: ``-EEXIST``, ``-ENOENT`` or 0 (Linux ``check_flags``)."""
    if old_exists and flags & ~BPF_F_LOCK == BPF_NOEXIST:
        return -EEXIST
    if not old_exists and flags & ~BPF_F_LOCK == BPF_EXIST:
        return -ENOENT
    return 0


def check_cpu(state: MapState, cpu: Cpu) -> None:
    """Assert that ``cpu`` is one of the preset's CPUs."""
    # Verify the CPU exists
    assert 0 <= cpu < state.num_cpus, f"cpu {cpu} outside 0..{state.num_cpus - 1}"


def process_map_lookup(state: MapState, key: bytes, *, cpu: Cpu = FIRST_CPU) -> MapElement | None:
    """Return the element for ``key`` (the caller's CPU copy in a per-CPU map), or ``None``.

    A hit in an LRU map makes the key the most recently used. Queue, stack, ring-buffer and
    program-array maps have no lookup and return ``None``.
    """
    defn = state.definition
    check_cpu(state, cpu)
    # Verify the key has the declared size
    assert len(key) == defn.key_size
    if not (is_hash_map(defn) or is_array_map(defn)):
        return None
    cells = state.elements.get(key)
    if cells is None:
        return None
    if is_lru_map(defn):
        process_touch(state, key)
    return cells[cpu] if is_percpu_map(defn) else cells[0]


def process_array_update(state: MapState, key: bytes, value: bytes, flags: int, cpu: Cpu) -> int:
    """Update an ARRAY / PERCPU_ARRAY slot in place; see :func:`process_map_update`."""
    defn = state.definition
    if flags & ~BPF_F_LOCK > BPF_EXIST:
        return -EINVAL
    if int.from_bytes(key, "little") >= defn.max_entries:
        return -E2BIG
    if flags & BPF_NOEXIST:
        return -EEXIST
    if flags & BPF_F_LOCK:
        return -EINVAL
    element = state.elements[key][cpu if is_percpu_map(defn) else 0]
    process_copy_value(defn, element.value, value)
    process_free_element_fields(element)
    return 0


def process_hash_update(state: MapState, key: bytes, value: bytes, flags: int, cpu: Cpu) -> int:
    """Update a HASH / PERCPU_HASH key; see :func:`process_map_update`."""
    defn = state.definition
    if flags & ~BPF_F_LOCK > BPF_EXIST:
        return -EINVAL
    if flags & BPF_F_LOCK:
        return -EINVAL
    old = state.elements.get(key)
    error = check_exist_flags(old is not None, flags)
    if error != 0:
        return error
    if old is not None and is_percpu_map(defn):
        process_copy_value(defn, old[cpu].value, value)
        return 0
    if old is None and len(state.elements) >= defn.max_entries:
        return -E2BIG
    state.elements[key] = create_cells(state, key, value, cpu)
    if old is not None:
        for element in old:
            process_free_element_fields(element)
    return 0


def process_lru_update(state: MapState, key: bytes, value: bytes, flags: int, cpu: Cpu) -> int:
    """Update an LRU_HASH / LRU_PERCPU_HASH key; see :func:`process_map_update`."""
    defn = state.definition
    if flags > BPF_EXIST:
        return -EINVAL
    if not (is_percpu_map(defn) and flags == BPF_EXIST):
        process_lru_make_room(state)
    old = state.elements.get(key)
    error = check_exist_flags(old is not None, flags)
    if error != 0:
        return error
    if old is not None and is_percpu_map(defn):
        process_copy_value(defn, old[cpu].value, value)
    else:
        state.elements[key] = create_cells(state, key, value, cpu)
        for element in old or []:
            process_free_element_fields(element)
    process_touch(state, key)
    return 0


def process_map_update(
    state: MapState, key: bytes, value: bytes, flags: int, *, cpu: Cpu = FIRST_CPU
) -> int:
    """Apply ``map_update_elem``; return 0 or ``-errno`` exactly as Linux does.

    * any type: flag bits beyond ``BPF_EXIST`` (ignoring ``BPF_F_LOCK`` for array and hash)
      -> ``-EINVAL``; ``BPF_F_LOCK`` -> ``-EINVAL`` (no spin locks);
    * arrays: index >= max_entries -> ``-E2BIG``; ``BPF_NOEXIST`` -> ``-EEXIST``;
    * hash maps: ``BPF_NOEXIST`` on a present key -> ``-EEXIST``; ``BPF_EXIST`` on an absent
      key -> ``-ENOENT``; a new key in a full map -> ``-E2BIG``;
    * LRU maps: never ``-E2BIG`` (they evict instead);
    * queue / stack: ``-EINVAL``; ring buffer and program array: ``-ENOTSUPP``.
    """
    defn = state.definition
    check_cpu(state, cpu)
    # Verify the key has the declared size
    assert len(key) == defn.key_size
    if is_queue_stack_map(defn):
        return -EINVAL
    if not (is_hash_map(defn) or is_array_map(defn)):
        return -ENOTSUPP
    # Verify the value has the declared size
    assert len(value) == defn.value_size
    if is_array_map(defn):
        return process_array_update(state, key, value, flags, cpu)
    if is_lru_map(defn):
        return process_lru_update(state, key, value, flags, cpu)
    return process_hash_update(state, key, value, flags, cpu)


def process_map_delete(state: MapState, key: bytes) -> int:
    """Apply ``map_delete_elem``: 0, ``-ENOENT`` if absent, ``-EINVAL`` for arrays/queues.

    Ring buffers and program arrays return ``-ENOTSUPP``. Deleting frees the element's timer
    and work item.
    """
    defn = state.definition
    # Verify the key has the declared size
    assert len(key) == defn.key_size
    if is_array_map(defn) or is_queue_stack_map(defn):
        return -EINVAL
    if not is_hash_map(defn):
        return -ENOTSUPP
    if key not in state.elements:
        return -ENOENT
    process_remove_key(state, key)
    return 0


def process_map_push(state: MapState, value: bytes, flags: int) -> int:
    """Apply ``map_push_elem`` to a queue or stack: 0, ``-EINVAL`` or ``-E2BIG``.

    ``BPF_NOEXIST`` or unknown bits -> ``-EINVAL``. When full, ``BPF_EXIST`` drops the oldest
    element (for a stack too: its bottom) and pushes; without it the push fails with
    ``-E2BIG``. Other map types return ``-ENOTSUPP``.
    """
    defn = state.definition
    if not is_queue_stack_map(defn):
        return -ENOTSUPP
    # Verify the value has the declared size
    assert len(value) == defn.value_size
    if flags & BPF_NOEXIST or flags > BPF_EXIST:
        return -EINVAL
    if len(state.queue) >= defn.max_entries:
        if not flags & BPF_EXIST:
            return -E2BIG
        state.queue.pop(0)
    state.queue.append(bytes(value))
    return 0


def process_map_take(state: MapState, out: bytearray, remove: bool) -> int:
    """Copy the next queue/stack value into ``out`` (removing it if asked); 0 or ``-ENOENT``."""
    defn = state.definition
    if not is_queue_stack_map(defn):
        return -ENOTSUPP
    # Verify the output buffer has the value size
    assert len(out) == defn.value_size
    if not state.queue:
        out[:] = bytes(defn.value_size)
        return -ENOENT
    index = 0 if defn.type == MapType.QUEUE else len(state.queue) - 1
    out[:] = state.queue[index]
    if remove:
        del state.queue[index]
    return 0


def process_map_pop(state: MapState, out: bytearray) -> int:
    """Apply ``map_pop_elem``: oldest (queue) or newest (stack) value into ``out``.

    Empty -> ``-ENOENT`` with ``out`` zeroed; other map types -> ``-ENOTSUPP``.
    """
    return process_map_take(state, out, remove=True)


def process_map_peek(state: MapState, out: bytearray) -> int:
    """Apply ``map_peek_elem``: like :func:`process_map_pop` without removing the value."""
    return process_map_take(state, out, remove=False)


def describe_def_change(old: MapDef, new: MapDef) -> str:
    """Return ``"field old -> new"`` for every field that differs, comma separated."""
    changes = [
        f"{name} {getattr(old, name)!r} -> {getattr(new, name)!r}"
        for name in MapDef.__dataclass_fields__
        if getattr(old, name) != getattr(new, name)
    ]
    return ", ".join(changes)


def carry_over_pinned(
    old_state: Mapping[MapId, MapState], new_defs: Sequence[MapDef], preset: Preset
) -> dict[MapId, MapState]:
    """Return the map states of a reloaded bundle, keeping the contents of pinned maps.

    A map pinned in both bundles with an identical definition keeps a copy of its contents
    (timers and work items cancelled and freed); a pinned map whose definition changed raises
    :class:`PinnedMapMismatch`; every other map starts empty. Maps only the old bundle
    declared are dropped.
    """
    states: dict[MapId, MapState] = {}
    for defn in new_defs:
        old = old_state.get(defn.name)
        if not (defn.pinned and old is not None and old.definition.pinned):
            states[defn.name] = create_map_state(defn, preset)
            continue
        if old.definition != defn:
            raise PinnedMapMismatch(
                f"pinned map {defn.name!r} changed its definition on reload "
                f"({describe_def_change(old.definition, defn)}); unpin it or keep the definition"
            )
        kept = copy.deepcopy(old)
        for cells in kept.elements.values():
            for element in cells:
                process_free_element_fields(element)
        states[defn.name] = kept
    return states
