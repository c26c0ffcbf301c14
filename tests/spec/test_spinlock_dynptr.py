"""The spin-lock and dynptr spec modules: Linux's layouts, results and error order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arspec.spec.dynptr import (
    BPF_DYNPTR_SIZE,
    DYNPTR_MAX_SIZE,
    NULL_DYNPTR,
    Dynptr,
    DynptrType,
    check_off_len,
    check_read,
    check_reserve_dynptr,
    check_write,
    compute_data,
    compute_dynptr_bytes,
    get_dynptr,
    process_from_mem,
)
from arspec.spec.errno import E2BIG, EINVAL
from arspec.spec.errors import HelperFault, MapDefinitionError
from arspec.spec.maps import MapDef, MapType, create_element, process_copy_value, validate_map_def
from arspec.spec.presets import get_preset
from arspec.spec.spinlock import (
    BPF_SPIN_LOCK_SIZE,
    HeldLock,
    check_call_allowed,
    check_lock_free,
    check_released_at_exit,
    check_unlock,
    process_lock_word,
)
from arspec.spec.types import MapId

U32 = st.integers(0, 0xFFFFFFFF)
PRESET = get_preset("linux_like")


# --------------------------------------------------------------------------- spin locks


def test_nested_lock_refused() -> None:
    with pytest.raises(HelperFault, match="nested"):
        check_lock_free(HeldLock(0x1_0000_0008, "m"), 7)


def test_unlock_without_lock_refused() -> None:
    with pytest.raises(HelperFault, match="without taking a lock"):
        check_unlock(None, 0x8, 3)


def test_unlock_of_another_lock_refused() -> None:
    with pytest.raises(HelperFault, match="the lock held is 0x10"):
        check_unlock(HeldLock(0x10, "m"), 0x20, 3)


def test_call_while_held_refused_but_unlock_allowed() -> None:
    held = HeldLock(0x10, "m")
    with pytest.raises(HelperFault, match="arspec_log called while holding"):
        check_call_allowed(held, "arspec_log", 1)
    with pytest.raises(HelperFault):
        check_call_allowed(held, "bpf_spin_lock", 1)
    check_call_allowed(held, "bpf_spin_unlock", 1)
    check_call_allowed(None, "arspec_log", 1)


def test_exit_with_lock_held_is_a_fault_text() -> None:
    assert "bpf_spin_unlock is missing" in (check_released_at_exit(HeldLock(0x10, "m")) or "")
    assert check_released_at_exit(None) is None


def test_lock_word() -> None:
    value = bytearray(16)
    process_lock_word(value, 8, held=True)
    assert value[8:12] == b"\x01\0\0\0" and value[:8] == bytes(8)
    process_lock_word(value, 8, held=False)
    assert value == bytearray(16)


@pytest.mark.parametrize(("kind", "offset", "size", "why"), [
    (MapType.LRU_HASH, 8, 16, "only HASH and ARRAY"),
    (MapType.PERCPU_ARRAY, 8, 16, "only HASH and ARRAY"),
    (MapType.ARRAY, 6, 16, "multiple of 4"),
    (MapType.ARRAY, 16, 16, "do not fit"),
    (MapType.ARRAY, 4, 24, "overlaps"),
])
def test_lock_field_refused(kind: MapType, offset: int, size: int, why: str) -> None:
    timer = 0 if why == "overlaps" else None
    defn = MapDef(MapId("m"), kind, 4, size, 1, timer_offset=timer, spin_lock_offset=offset)
    with pytest.raises(MapDefinitionError, match=why):
        validate_map_def(defn, PRESET)


def test_value_copies_skip_the_lock() -> None:
    defn = MapDef(MapId("m"), MapType.ARRAY, 4, 16, 1, spin_lock_offset=8)
    validate_map_def(defn, PRESET)
    element = create_element(defn, bytes(4), bytes(range(1, 17)))
    assert element.value[8:12] == bytes(BPF_SPIN_LOCK_SIZE)
    assert element.value[:8] == bytes(range(1, 9)) and element.value[12:] == bytes(range(13, 17))
    process_lock_word(element.value, 8, held=True)
    process_copy_value(defn, element.value, bytes(16))
    assert element.value[8:12] == b"\x01\0\0\0"


# --------------------------------------------------------------------------- dynptrs


def test_layout_is_linux_bpf_dynptr_kern() -> None:
    raw = compute_dynptr_bytes(Dynptr(0x1122334455667788, 40, 3, DynptrType.RINGBUF))
    assert len(raw) == BPF_DYNPTR_SIZE
    assert raw[:8] == (0x1122334455667788).to_bytes(8, "little")
    assert int.from_bytes(raw[8:12], "little") == 40 | (2 << 28)
    assert int.from_bytes(raw[12:], "little") == 3
    assert compute_dynptr_bytes(NULL_DYNPTR) == bytes(16)


@given(st.integers(0, (1 << 64) - 1), st.integers(0, DYNPTR_MAX_SIZE), U32,
       st.sampled_from(list(DynptrType)), st.booleans())
def test_bytes_round_trip(data: int, size: int, offset: int, kind: DynptrType,
                          rdonly: bool) -> None:
    ptr = Dynptr(data, size, offset, kind, rdonly)
    assert get_dynptr(compute_dynptr_bytes(ptr)) == ptr


@given(st.integers(0, 64), st.integers(0, 80), st.integers(0, 80))
def test_off_len_is_window_containment(size: int, offset: int, length: int) -> None:
    ptr = Dynptr(0x1000, size, 0, DynptrType.LOCAL)
    inside = set(range(offset, offset + length)) <= set(range(size)) and offset <= size
    assert (check_off_len(ptr, offset, length) == 0) == inside
    address = compute_data(ptr, offset, length)
    assert address == (0x1000 + offset if inside else 0)


@given(U32, U32)
def test_off_len_never_overflows(offset: int, length: int) -> None:
    ptr = Dynptr(0x1000, DYNPTR_MAX_SIZE, 0, DynptrType.LOCAL)
    ok = check_off_len(ptr, offset, length) == 0
    assert ok == (offset + length <= DYNPTR_MAX_SIZE)


def test_from_mem_errors_in_linux_order() -> None:
    assert process_from_mem(0x10, DYNPTR_MAX_SIZE + 1, 1) == (-E2BIG, NULL_DYNPTR)
    assert process_from_mem(0x10, 8, 1) == (-EINVAL, NULL_DYNPTR)
    assert process_from_mem(0x10, 8, 0) == (0, Dynptr(0x10, 8, 0, DynptrType.LOCAL))


def test_reserve_dynptr_checks_flags_before_size() -> None:
    assert check_reserve_dynptr(DYNPTR_MAX_SIZE + 1, 1) == -EINVAL
    assert check_reserve_dynptr(DYNPTR_MAX_SIZE + 1, 0) == -E2BIG
    assert check_reserve_dynptr(DYNPTR_MAX_SIZE, 0) == 0


def test_read_write_results() -> None:
    ptr = Dynptr(0x10, 8, 0, DynptrType.LOCAL)
    assert check_read(NULL_DYNPTR, 0, 0, 0) == -EINVAL
    assert check_read(ptr, 0, 8, 1) == -EINVAL
    assert check_read(ptr, 1, 8, 0) == -E2BIG
    assert check_read(ptr, 0, 8, 0) == 0
    assert check_write(NULL_DYNPTR, 0, 0, 0) == -EINVAL
    assert check_write(Dynptr(0x10, 8, 0, DynptrType.LOCAL, rdonly=True), 0, 1, 0) == -EINVAL
    # Linux checks the window before the flags in write (and the flags first in read).
    assert check_write(ptr, 4, 8, 1) == -E2BIG
    assert check_write(ptr, 0, 8, 1) == -EINVAL
    assert check_write(ptr, 0, 8, 0) == 0


def test_data_is_null_for_null_readonly_or_outside() -> None:
    assert compute_data(NULL_DYNPTR, 0, 0) == 0
    assert compute_data(Dynptr(0x10, 8, 0, DynptrType.LOCAL, rdonly=True), 0, 4) == 0
    assert compute_data(Dynptr(0x10, 8, 2, DynptrType.RINGBUF), 4, 4) == 0x16
    assert compute_data(Dynptr(0x10, 8, 0, DynptrType.RINGBUF), 5, 4) == 0
