"""Map transitions: every Linux result per map type, LRU order, per-CPU isolation, pinning."""

from __future__ import annotations

import dataclasses

import pytest

from arspec.spec.errno import E2BIG, EEXIST, EINVAL, ENOENT, ENOTSUPP
from arspec.spec.errors import MapDefinitionError, PinnedMapMismatch
from arspec.spec.maps import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_F_NO_PREALLOC,
    BPF_NOEXIST,
    MapDef,
    MapState,
    MapType,
    carry_over_pinned,
    compute_array_key,
    create_map_state,
    process_map_delete,
    process_map_lookup,
    process_map_peek,
    process_map_pop,
    process_map_push,
    process_map_update,
)
from arspec.spec.presets import LINUX_LIKE, MINIMAL
from arspec.spec.timers import (
    AsyncSequence,
    get_due_timers,
    process_timer_init,
    process_timer_set_callback,
    process_timer_start,
)
from arspec.spec.types import Cpu, FuncRef, MapId, Pc, ProgId, Slot
from arspec.spec.workqueue import (
    get_pending_work,
    process_wq_init,
    process_wq_set_callback,
    process_wq_start,
)

CB = FuncRef(ProgId("prog"), Pc(7))


def make(
    kind: MapType, *, key: int = 4, value: int = 8, entries: int = 4, **kw: object
) -> MapState:
    defn = MapDef(MapId(f"m_{kind.name.lower()}"), kind, key, value, entries, **kw)  # type: ignore[arg-type]
    return create_map_state(defn, MINIMAL)


def k(n: int) -> bytes:
    return n.to_bytes(4, "little")


def v(n: int) -> bytes:
    return n.to_bytes(8, "little")


# --- definitions -------------------------------------------------------------------------------

def test_map_type_values_match_linux() -> None:
    expected = {"HASH": 1, "ARRAY": 2, "PROG_ARRAY": 3, "PERCPU_HASH": 5, "PERCPU_ARRAY": 6,
                "LRU_HASH": 9, "LRU_PERCPU_HASH": 10, "QUEUE": 22, "STACK": 23, "RINGBUF": 27}
    assert {t.name: t.value for t in MapType} == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": MapType.ARRAY, "key": 8}, "key_size must be 4"),
        ({"kind": MapType.HASH, "key": 0}, "key_size 0 is not in"),
        ({"kind": MapType.HASH, "key": 9}, "key_size 9 is not in"),
        ({"kind": MapType.HASH, "value": 0}, "value_size 0 is not in"),
        ({"kind": MapType.HASH, "value": 65}, "value_size 65 is not in"),
        ({"kind": MapType.HASH, "entries": 0}, "max_entries 0 is not in"),
        ({"kind": MapType.HASH, "entries": 9}, "max_entries 9 is not in"),
        ({"kind": MapType.QUEUE, "key": 4}, "key_size must be 0"),
        ({"kind": MapType.PROG_ARRAY, "value": 8}, "value_size must be 4"),
        ({"kind": MapType.RINGBUF, "key": 0, "value": 8, "entries": 64}, "value_size must be 0"),
        ({"kind": MapType.RINGBUF, "key": 0, "value": 0, "entries": 48}, "not a power of two"),
        ({"kind": MapType.RINGBUF, "key": 0, "value": 0, "entries": 8}, "is not in 16..256"),
        ({"kind": MapType.RINGBUF, "key": 0, "value": 0, "entries": 512}, "is not in 16..256"),
        ({"kind": MapType.ARRAY, "flags": BPF_F_NO_PREALLOC}, "creation flags 0x1"),
        ({"kind": MapType.LRU_HASH, "flags": BPF_F_NO_PREALLOC}, "creation flags 0x1"),
        ({"kind": MapType.PERCPU_HASH, "value": 16, "timer_offset": 0}, "only HASH, LRU_HASH"),
        ({"kind": MapType.QUEUE, "key": 0, "value": 16, "wq_offset": 0}, "only HASH, LRU_HASH"),
        ({"kind": MapType.HASH, "value": 24, "timer_offset": 4}, "multiple of 8"),
        ({"kind": MapType.HASH, "value": 24, "timer_offset": -8}, "multiple of 8"),
        ({"kind": MapType.HASH, "value": 16, "timer_offset": 8}, "do not fit"),
        ({"kind": MapType.ARRAY, "value": 24, "wq_offset": 16}, "do not fit"),
        ({"kind": MapType.HASH, "value": 32, "timer_offset": 0, "wq_offset": 8}, "overlap"),
    ],
)
def test_invalid_map_definition(kwargs: dict[str, object], message: str) -> None:
    kind = kwargs.pop("kind")
    assert isinstance(kind, MapType)
    with pytest.raises(MapDefinitionError, match=message):
        make(kind, **kwargs)  # type: ignore[arg-type]


def test_linux_like_ringbuf_needs_page_multiple() -> None:
    defn = MapDef(MapId("rb"), MapType.RINGBUF, 0, 0, 1 << 11)
    with pytest.raises(MapDefinitionError, match="multiple of the 4096-byte page"):
        create_map_state(defn, LINUX_LIKE)
    assert create_map_state(dataclasses.replace(defn, max_entries=4096), LINUX_LIKE).ringbuf


def test_hash_accepts_no_prealloc_and_async_fields() -> None:
    state = make(MapType.HASH, value=40, flags=BPF_F_NO_PREALLOC, timer_offset=8, wq_offset=24)
    assert state.definition.flags == BPF_F_NO_PREALLOC


# --- array -------------------------------------------------------------------------------------

def test_array_slots_exist_zeroed() -> None:
    state = make(MapType.ARRAY)
    element = process_map_lookup(state, k(3))
    assert element is not None and element.value == bytearray(8)


def test_array_lookup_out_of_range_is_null() -> None:
    assert process_map_lookup(make(MapType.ARRAY), k(4)) is None


def test_array_update_copies_in_place() -> None:
    state = make(MapType.ARRAY)
    element = process_map_lookup(state, k(1))
    assert element is not None
    assert process_map_update(state, k(1), v(42), BPF_ANY) == 0
    assert element.value == bytearray(v(42))
    assert process_map_lookup(state, k(1)) is element


def test_array_update_exist_flag_is_fine() -> None:
    assert process_map_update(make(MapType.ARRAY), k(0), v(1), BPF_EXIST) == 0


def test_invalid_array_update_index_out_of_range() -> None:
    assert process_map_update(make(MapType.ARRAY), k(4), v(1), BPF_ANY) == -E2BIG


def test_invalid_array_update_noexist() -> None:
    assert process_map_update(make(MapType.ARRAY), k(0), v(1), BPF_NOEXIST) == -EEXIST


def test_invalid_array_update_unknown_flags() -> None:
    assert process_map_update(make(MapType.ARRAY), k(0), v(1), 3) == -EINVAL
    assert process_map_update(make(MapType.ARRAY), k(0), v(1), 8) == -EINVAL


def test_invalid_array_update_f_lock_checked_after_range() -> None:
    state = make(MapType.ARRAY)
    assert process_map_update(state, k(0), v(1), BPF_F_LOCK) == -EINVAL
    assert process_map_update(state, k(9), v(1), BPF_F_LOCK) == -E2BIG
    assert process_map_update(state, k(0), v(1), BPF_F_LOCK | BPF_NOEXIST) == -EEXIST


def test_invalid_array_delete() -> None:
    assert process_map_delete(make(MapType.ARRAY), k(0)) == -EINVAL


def test_invalid_key_size_is_an_invalid_call() -> None:
    with pytest.raises(AssertionError):
        process_map_lookup(make(MapType.ARRAY), b"\x00")


def test_invalid_cpu_is_an_invalid_call() -> None:
    with pytest.raises(AssertionError):
        process_map_lookup(make(MapType.PERCPU_ARRAY), k(0), cpu=Cpu(2))


# --- hash --------------------------------------------------------------------------------------

def test_hash_insert_lookup_delete() -> None:
    state = make(MapType.HASH)
    assert process_map_lookup(state, k(5)) is None
    assert process_map_update(state, k(5), v(9), BPF_ANY) == 0
    element = process_map_lookup(state, k(5))
    assert element is not None and bytes(element.value) == v(9)
    assert process_map_delete(state, k(5)) == 0
    assert process_map_lookup(state, k(5)) is None


def test_hash_replace_creates_a_new_element() -> None:
    state = make(MapType.HASH)
    process_map_update(state, k(1), v(1), BPF_ANY)
    old = process_map_lookup(state, k(1))
    assert process_map_update(state, k(1), v(2), BPF_EXIST) == 0
    new = process_map_lookup(state, k(1))
    assert old is not None and new is not None and new is not old
    assert bytes(old.value) == v(1) and bytes(new.value) == v(2)


def test_invalid_hash_update_noexist_on_present_key() -> None:
    state = make(MapType.HASH)
    process_map_update(state, k(1), v(1), BPF_ANY)
    assert process_map_update(state, k(1), v(2), BPF_NOEXIST) == -EEXIST


def test_invalid_hash_update_exist_on_absent_key() -> None:
    assert process_map_update(make(MapType.HASH), k(1), v(1), BPF_EXIST) == -ENOENT


def test_invalid_hash_update_unknown_flags_and_lock() -> None:
    state = make(MapType.HASH)
    assert process_map_update(state, k(1), v(1), 3) == -EINVAL
    assert process_map_update(state, k(1), v(1), BPF_F_LOCK) == -EINVAL
    assert process_map_lookup(state, k(1)) is None


def test_invalid_hash_full() -> None:
    state = make(MapType.HASH)
    for i in range(4):
        assert process_map_update(state, k(i), v(i), BPF_ANY) == 0
    assert process_map_update(state, k(9), v(9), BPF_ANY) == -E2BIG
    assert process_map_update(state, k(9), v(9), BPF_NOEXIST) == -E2BIG


def test_hash_full_replace_still_works() -> None:
    state = make(MapType.HASH)
    for i in range(4):
        process_map_update(state, k(i), v(i), BPF_ANY)
    assert process_map_update(state, k(2), v(20), BPF_ANY) == 0
    assert process_map_delete(state, k(0)) == 0
    assert process_map_update(state, k(9), v(9), BPF_ANY) == 0


def test_invalid_hash_delete_absent() -> None:
    assert process_map_delete(make(MapType.HASH), k(1)) == -ENOENT


# --- LRU ---------------------------------------------------------------------------------------

def fill_lru(kind: MapType = MapType.LRU_HASH) -> MapState:
    state = make(kind)
    for i in range(4):
        assert process_map_update(state, k(i), v(i), BPF_ANY) == 0
    return state


def test_lru_evicts_least_recently_used() -> None:
    state = fill_lru()
    assert process_map_update(state, k(9), v(9), BPF_ANY) == 0
    assert process_map_lookup(state, k(0)) is None
    assert [int.from_bytes(key, "little") for key in state.elements] == [1, 2, 3, 9]


def test_lru_lookup_refreshes_recency() -> None:
    state = fill_lru()
    assert process_map_lookup(state, k(0)) is not None
    process_map_update(state, k(8), v(8), BPF_ANY)
    process_map_update(state, k(9), v(9), BPF_ANY)
    assert sorted(int.from_bytes(key, "little") for key in state.elements) == [0, 3, 8, 9]


def test_lru_failed_update_has_still_evicted() -> None:
    state = fill_lru()
    assert process_map_update(state, k(3), v(0), BPF_NOEXIST) == -EEXIST
    assert process_map_lookup(state, k(0)) is None
    assert len(state.elements) == 3


def test_lru_replace_in_full_map_can_evict_the_key_itself() -> None:
    state = fill_lru()
    assert process_map_update(state, k(0), v(5), BPF_EXIST) == -ENOENT
    assert process_map_lookup(state, k(0)) is None


def test_lru_never_e2big() -> None:
    state = fill_lru()
    for i in range(10, 30):
        assert process_map_update(state, k(i), v(i), BPF_ANY) == 0
    assert len(state.elements) == 4


def test_invalid_lru_flags() -> None:
    assert process_map_update(make(MapType.LRU_HASH), k(0), v(0), BPF_F_LOCK) == -EINVAL
    assert process_map_update(make(MapType.LRU_HASH), k(0), v(0), 3) == -EINVAL


def test_invalid_lru_delete_absent() -> None:
    assert process_map_delete(make(MapType.LRU_HASH), k(0)) == -ENOENT


def test_lru_percpu_exist_update_does_not_evict() -> None:
    state = fill_lru(MapType.LRU_PERCPU_HASH)
    assert process_map_update(state, k(3), v(33), BPF_EXIST, cpu=Cpu(1)) == 0
    assert len(state.elements) == 4
    element = process_map_lookup(state, k(3), cpu=Cpu(1))
    assert element is not None and bytes(element.value) == v(33)
    assert process_map_update(state, k(3), v(34), BPF_ANY) == 0
    assert len(state.elements) == 3


# --- per-CPU -----------------------------------------------------------------------------------

def test_percpu_array_isolation() -> None:
    state = make(MapType.PERCPU_ARRAY)
    assert process_map_update(state, k(0), v(7), BPF_ANY, cpu=Cpu(1)) == 0
    cpu0 = process_map_lookup(state, k(0), cpu=Cpu(0))
    cpu1 = process_map_lookup(state, k(0), cpu=Cpu(1))
    assert cpu0 is not None and cpu1 is not None
    assert bytes(cpu0.value) == bytes(8) and bytes(cpu1.value) == v(7)


def test_percpu_hash_new_key_zero_elsewhere_and_in_place_replace() -> None:
    state = make(MapType.PERCPU_HASH)
    assert process_map_update(state, k(1), v(5), BPF_ANY, cpu=Cpu(0)) == 0
    first = process_map_lookup(state, k(1), cpu=Cpu(1))
    assert first is not None and bytes(first.value) == bytes(8)
    assert process_map_update(state, k(1), v(6), BPF_EXIST, cpu=Cpu(1)) == 0
    assert process_map_lookup(state, k(1), cpu=Cpu(1)) is first
    assert bytes(first.value) == v(6)
    cpu0 = process_map_lookup(state, k(1), cpu=Cpu(0))
    assert cpu0 is not None and bytes(cpu0.value) == v(5)


def test_invalid_percpu_hash_full_and_lock() -> None:
    state = make(MapType.PERCPU_HASH)
    for i in range(4):
        process_map_update(state, k(i), v(i), BPF_ANY)
    assert process_map_update(state, k(9), v(9), BPF_ANY) == -E2BIG
    assert process_map_update(state, k(0), v(9), BPF_F_LOCK) == -EINVAL


# --- queue / stack -----------------------------------------------------------------------------

def qs(kind: MapType) -> MapState:
    return make(kind, key=0, value=8, entries=2)


def test_queue_is_fifo_and_stack_is_lifo() -> None:
    out = bytearray(8)
    for kind, first in ((MapType.QUEUE, 1), (MapType.STACK, 2)):
        state = qs(kind)
        assert process_map_push(state, v(1), BPF_ANY) == 0
        assert process_map_push(state, v(2), BPF_ANY) == 0
        assert process_map_peek(state, out) == 0 and bytes(out) == v(first)
        assert process_map_pop(state, out) == 0 and bytes(out) == v(first)
        assert process_map_pop(state, out) == 0 and bytes(out) == v(3 - first)


def test_invalid_queue_full_without_exist() -> None:
    for kind in (MapType.QUEUE, MapType.STACK):
        state = qs(kind)
        process_map_push(state, v(1), BPF_ANY)
        process_map_push(state, v(2), BPF_ANY)
        assert process_map_push(state, v(3), BPF_ANY) == -E2BIG
        assert state.queue == [v(1), v(2)]


def test_queue_and_stack_full_with_exist_drop_the_oldest() -> None:
    out = bytearray(8)
    for kind, expect in ((MapType.QUEUE, [2, 3]), (MapType.STACK, [3, 2])):
        state = qs(kind)
        for i in (1, 2):
            process_map_push(state, v(i), BPF_ANY)
        assert process_map_push(state, v(3), BPF_EXIST) == 0
        popped = []
        while process_map_pop(state, out) == 0:
            popped.append(int.from_bytes(out, "little"))
        assert popped == expect


def test_invalid_push_flags() -> None:
    state = qs(MapType.QUEUE)
    assert process_map_push(state, v(1), BPF_NOEXIST) == -EINVAL
    assert process_map_push(state, v(1), BPF_F_LOCK) == -EINVAL
    assert process_map_push(state, v(1), BPF_EXIST | BPF_NOEXIST) == -EINVAL
    assert state.queue == []


def test_invalid_pop_and_peek_empty_zero_the_output() -> None:
    for kind in (MapType.QUEUE, MapType.STACK):
        state = qs(kind)
        out = bytearray(b"\xff" * 8)
        assert process_map_pop(state, out) == -ENOENT and out == bytearray(8)
        out[:] = b"\xff" * 8
        assert process_map_peek(state, out) == -ENOENT and out == bytearray(8)


def test_invalid_keyed_ops_on_queue() -> None:
    state = qs(MapType.QUEUE)
    assert process_map_lookup(state, b"") is None
    assert process_map_update(state, b"", v(1), BPF_ANY) == -EINVAL
    assert process_map_delete(state, b"") == -EINVAL


def test_invalid_queue_ops_on_other_maps() -> None:
    out = bytearray(8)
    for kind in (MapType.HASH, MapType.ARRAY):
        state = make(kind)
        assert process_map_push(state, v(1), BPF_ANY) == -ENOTSUPP
        assert process_map_pop(state, out) == -ENOTSUPP
        assert process_map_peek(state, out) == -ENOTSUPP


def test_invalid_keyed_ops_on_ringbuf_and_prog_array() -> None:
    rb = make(MapType.RINGBUF, key=0, value=0, entries=64)
    assert process_map_lookup(rb, b"") is None
    assert process_map_update(rb, b"", b"", BPF_ANY) == -ENOTSUPP
    assert process_map_delete(rb, b"") == -ENOTSUPP
    pa = make(MapType.PROG_ARRAY, value=4)
    assert process_map_lookup(pa, k(0)) is None
    assert process_map_update(pa, k(0), k(0), BPF_ANY) == -ENOTSUPP
    assert process_map_delete(pa, k(0)) == -ENOTSUPP


# --- timers and work items inside elements ----------------------------------------------------

def timer_map(kind: MapType = MapType.HASH) -> MapState:
    return make(kind, value=32, timer_offset=0, wq_offset=16 if kind == MapType.LRU_HASH else None)


def arm(state: MapState, key: bytes, seq: AsyncSequence) -> None:
    element = process_map_lookup(state, key)
    assert element is not None and element.timer is not None
    assert process_timer_init(element.timer, 0) == 0
    assert process_timer_set_callback(element.timer, CB) == 0
    assert process_timer_start(element.timer, seq, Slot(0), 5, 0) == 0


@pytest.mark.parametrize("how", ["delete", "replace"])
def test_hash_delete_or_replace_frees_the_timer(how: str) -> None:
    state, seq = timer_map(), AsyncSequence()
    process_map_update(state, k(1), bytes(32), BPF_ANY)
    arm(state, k(1), seq)
    old = process_map_lookup(state, k(1))
    assert old is not None and old.timer is not None
    if how == "delete":
        assert process_map_delete(state, k(1)) == 0
    else:
        assert process_map_update(state, k(1), bytes(32), BPF_ANY) == 0
    assert not old.timer.initialised and old.timer.expiry is None
    assert get_due_timers({MapId("m"): state}, Slot(100)) == []


def test_array_overwrite_frees_the_timer_and_init_succeeds_again() -> None:
    state, seq = timer_map(MapType.ARRAY), AsyncSequence()
    arm(state, k(2), seq)
    element = process_map_lookup(state, k(2))
    assert element is not None and element.timer is not None
    assert process_map_update(state, k(2), b"\xaa" * 32, BPF_ANY) == 0
    assert not element.timer.initialised
    assert element.value[0:16] == bytearray(16)
    assert element.value[16:] == bytearray(b"\xaa" * 16)
    assert process_timer_init(element.timer, 0) == 0


def test_lru_eviction_frees_timer_and_wq() -> None:
    state, seq = timer_map(MapType.LRU_HASH), AsyncSequence()
    for i in range(4):
        process_map_update(state, k(i), bytes(32), BPF_ANY)
    victim = process_map_lookup(state, k(0))
    assert victim is not None and victim.wq is not None
    arm(state, k(0), seq)
    assert process_wq_init(victim.wq, 0) == 0
    assert process_wq_set_callback(victim.wq, CB, 0) == 0
    assert process_wq_start(victim.wq, seq, 0) == 0
    for i in (1, 2, 3):
        process_map_lookup(state, k(i))
    assert process_map_update(state, k(9), bytes(32), BPF_ANY) == 0
    assert victim.timer is not None and not victim.timer.initialised
    assert not victim.wq.initialised
    assert get_pending_work({MapId("m"): state}) == []


# --- pinned maps -------------------------------------------------------------------------------

def pinned_def(**kw: object) -> MapDef:
    base = MapDef(MapId("counts"), MapType.HASH, 4, 24, 4, pinned=True, timer_offset=8)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_pinned_map_carries_over_with_timers_freed() -> None:
    old = create_map_state(pinned_def(), MINIMAL)
    process_map_update(old, k(1), b"\x05" + bytes(23), BPF_ANY)
    arm(old, k(1), AsyncSequence())
    scratch = create_map_state(dataclasses.replace(pinned_def(), name=MapId("s"), pinned=False),
                               MINIMAL)
    process_map_update(scratch, k(1), bytes(24), BPF_ANY)
    new = carry_over_pinned(
        {MapId("counts"): old, MapId("s"): scratch, MapId("gone"): scratch},
        [pinned_def(), scratch.definition, dataclasses.replace(pinned_def(), name=MapId("new"))],
        MINIMAL,
    )
    assert list(new) == ["counts", "s", "new"]
    kept = process_map_lookup(new[MapId("counts")], k(1))
    assert kept is not None and kept.value[0] == 5
    assert kept.timer is not None and not kept.timer.initialised
    assert new[MapId("s")].elements == {}
    old_element = process_map_lookup(old, k(1))
    assert old_element is not None and old_element.timer is not None
    assert old_element.timer.initialised


def test_unpinned_in_new_bundle_starts_empty() -> None:
    old = create_map_state(pinned_def(), MINIMAL)
    process_map_update(old, k(1), bytes(24), BPF_ANY)
    new = carry_over_pinned({MapId("counts"): old}, [pinned_def(pinned=False)], MINIMAL)
    assert new[MapId("counts")].elements == {}


def test_invalid_pinned_map_definition_changed() -> None:
    old = create_map_state(pinned_def(), MINIMAL)
    with pytest.raises(PinnedMapMismatch, match=r"'counts'.*value_size 24 -> 32"):
        carry_over_pinned({MapId("counts"): old}, [pinned_def(value_size=32)], MINIMAL)


def test_array_keys_are_little_endian_indexes() -> None:
    assert compute_array_key(258) == b"\x02\x01\x00\x00"
    elements = make(MapType.ARRAY).elements
    assert all(k(i) in elements for i in range(4)) and k(4) not in elements
    assert [bytes(elements[k(i)][0].value) for i in (3, 0)] == [bytes(8)] * 2
    assert list(elements) == [k(3), k(0)]  # created on first use, in the order of use


# --- presets -----------------------------------------------------------------------------------

def test_presets_by_name() -> None:
    from arspec.spec.presets import get_preset

    assert get_preset("minimal") is MINIMAL and get_preset("linux_like") is LINUX_LIKE
    assert LINUX_LIKE.max_tail_call_cnt == 33 and LINUX_LIKE.bpf_max_loops == 1 << 23
    assert LINUX_LIKE.invocation_budget_cu == 200_000 and LINUX_LIKE.slot_budget_cu == 400_000
    assert LINUX_LIKE.num_cpus == 4 and MINIMAL.num_cpus == 2


def test_invalid_preset_name() -> None:
    from arspec.spec.errors import UnknownPreset
    from arspec.spec.presets import get_preset

    with pytest.raises(UnknownPreset, match="unknown preset 'mainnet'; choose one of: minimal"):
        get_preset("mainnet")


def test_linux_like_has_one_value_per_cpu() -> None:
    defn = MapDef(MapId("pc"), MapType.PERCPU_ARRAY, 4, 8, 2)
    state = create_map_state(defn, LINUX_LIKE)
    assert all(len(cells) == 4 for cells in state.elements.values())
    with pytest.raises(AssertionError):
        process_map_update(state, k(0), v(1), BPF_ANY, cpu=Cpu(4))
