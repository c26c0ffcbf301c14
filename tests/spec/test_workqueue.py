"""bpf_wq: init / set_callback / start results, coalescing, FIFO order, free on delete."""

from __future__ import annotations

import pytest

from arspec.spec.errno import EBUSY, EINVAL
from arspec.spec.maps import (
    BPF_ANY,
    MapDef,
    MapState,
    MapType,
    create_map_state,
    process_map_delete,
    process_map_lookup,
    process_map_update,
)
from arspec.spec.presets import MINIMAL
from arspec.spec.timers import AsyncSequence
from arspec.spec.types import FuncRef, MapId, Pc, ProgId
from arspec.spec.workqueue import (
    WorkQueueState,
    get_pending_work,
    is_wq_pending,
    process_wq_callback_done,
    process_wq_init,
    process_wq_run,
    process_wq_set_callback,
    process_wq_start,
)

CB = FuncRef(ProgId("p"), Pc(1))


def ready() -> tuple[WorkQueueState, AsyncSequence]:
    wq = WorkQueueState()
    assert process_wq_init(wq, 0) == 0
    assert process_wq_set_callback(wq, CB, 0) == 0
    return wq, AsyncSequence()


@pytest.mark.parametrize("flags", [1, 2, 1 << 31])
def test_invalid_init_flags(flags: int) -> None:
    wq = WorkQueueState()
    assert process_wq_init(wq, flags) == -EINVAL and not wq.initialised


def test_invalid_reinit_is_ebusy() -> None:
    wq, _ = ready()
    assert process_wq_init(wq, 0) == -EBUSY


def test_invalid_set_callback_flags() -> None:
    wq = WorkQueueState()
    process_wq_init(wq, 0)
    assert process_wq_set_callback(wq, CB, 1) == -EINVAL and wq.callback is None


def test_invalid_set_callback_uninitialised() -> None:
    assert process_wq_set_callback(WorkQueueState(), CB, 0) == -EINVAL


def test_invalid_start_flags() -> None:
    wq, seq = ready()
    assert process_wq_start(wq, seq, 4) == -EINVAL and not is_wq_pending(wq)


def test_invalid_start_uninitialised() -> None:
    assert process_wq_start(WorkQueueState(), AsyncSequence(), 0) == -EINVAL


def test_invalid_start_without_callback() -> None:
    wq = WorkQueueState()
    process_wq_init(wq, 0)
    assert process_wq_start(wq, AsyncSequence(), 0) == -EINVAL


def test_start_while_pending_coalesces() -> None:
    wq, seq = ready()
    assert process_wq_start(wq, seq, 0) == 0
    first = wq.pending_seq
    assert process_wq_start(wq, seq, 0) == 0
    assert wq.pending_seq == first
    assert process_wq_run(wq) == CB
    with pytest.raises(AssertionError):
        process_wq_run(wq)


def test_start_while_running_queues_again() -> None:
    wq, seq = ready()
    process_wq_start(wq, seq, 0)
    process_wq_run(wq)
    assert process_wq_start(wq, seq, 0) == 0 and is_wq_pending(wq)
    process_wq_callback_done(wq)
    assert is_wq_pending(wq) and not wq.running


def wq_map() -> MapState:
    return create_map_state(MapDef(MapId("w"), MapType.ARRAY, 4, 16, 4, wq_offset=0), MINIMAL)


def start_index(state: MapState, index: int, seq: AsyncSequence) -> WorkQueueState:
    element = process_map_lookup(state, index.to_bytes(4, "little"))
    assert element is not None and element.wq is not None
    if not element.wq.initialised:
        process_wq_init(element.wq, 0)
        process_wq_set_callback(element.wq, CB, 0)
    assert process_wq_start(element.wq, seq, 0) == 0
    return element.wq


def test_pending_work_is_fifo_by_start() -> None:
    state, seq = wq_map(), AsyncSequence()
    for index in (3, 0, 2, 3):
        start_index(state, index, seq)
    order = [int.from_bytes(p.key, "little") for p in get_pending_work({MapId("w"): state})]
    assert order == [3, 0, 2]


def test_overwrite_frees_pending_work() -> None:
    state, seq = wq_map(), AsyncSequence()
    wq = start_index(state, 1, seq)
    assert process_map_update(state, (1).to_bytes(4, "little"), bytes(16), BPF_ANY) == 0
    assert not wq.initialised and not is_wq_pending(wq)
    assert get_pending_work({MapId("w"): state}) == []
    assert process_wq_init(wq, 0) == 0


def test_hash_delete_frees_work() -> None:
    defn = MapDef(MapId("h"), MapType.HASH, 4, 16, 4, wq_offset=0)
    state, seq = create_map_state(defn, MINIMAL), AsyncSequence()
    key = (5).to_bytes(4, "little")
    process_map_update(state, key, bytes(16), BPF_ANY)
    element = process_map_lookup(state, key)
    assert element is not None and element.wq is not None
    process_wq_init(element.wq, 0)
    process_wq_set_callback(element.wq, CB, 0)
    process_wq_start(element.wq, seq, 0)
    assert process_map_delete(state, key) == 0
    assert not element.wq.initialised and get_pending_work({MapId("h"): state}) == []
