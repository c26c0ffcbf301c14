"""bpf_tail_call: the Linux interpreter's order of checks and the 33-call limit."""

from __future__ import annotations

import pytest

from arspec.spec.presets import LINUX_LIKE, MINIMAL
from arspec.spec.tailcall import (
    ProgArray,
    TailCallChain,
    TailCallResult,
    create_prog_array,
    create_tail_call_chain,
    process_prog_array_delete,
    process_prog_array_update,
    process_tail_call,
)
from arspec.spec.types import ProgId

P = ProgId("next")


def filled(entries: int = 4) -> ProgArray:
    array = create_prog_array(entries)
    for index in range(entries):
        process_prog_array_update(array, index, ProgId(f"p{index}"))
    return array


def test_jump_to_the_slot_program() -> None:
    chain = create_tail_call_chain(LINUX_LIKE)
    outcome = process_tail_call(chain, filled(), 2)
    assert outcome.result is TailCallResult.JUMPED and outcome.target == "p2"
    assert chain.count == 1


def test_33rd_succeeds_34th_falls_through() -> None:
    chain, array = create_tail_call_chain(LINUX_LIKE), filled()
    for _ in range(32):
        assert process_tail_call(chain, array, 0).result is TailCallResult.JUMPED
    assert process_tail_call(chain, array, 0).result is TailCallResult.JUMPED
    assert chain.count == 33
    outcome = process_tail_call(chain, array, 0)
    assert outcome.result is TailCallResult.LIMIT_REACHED and outcome.target is None
    assert chain.count == 33


def test_minimal_preset_limit() -> None:
    chain, array = create_tail_call_chain(MINIMAL), filled()
    results = [process_tail_call(chain, array, 1).result for _ in range(4)]
    assert results[:3] == [TailCallResult.JUMPED] * 3
    assert results[3] is TailCallResult.LIMIT_REACHED


def test_invalid_index_out_of_range_leaves_counter() -> None:
    chain = create_tail_call_chain(LINUX_LIKE)
    outcome = process_tail_call(chain, filled(4), 4)
    assert outcome.result is TailCallResult.INDEX_OUT_OF_RANGE and chain.count == 0


def test_invalid_index_is_truncated_to_u32() -> None:
    chain = create_tail_call_chain(LINUX_LIKE)
    assert process_tail_call(chain, filled(), (1 << 32) + 1).target == "p1"
    assert process_tail_call(chain, filled(), -1).result is TailCallResult.INDEX_OUT_OF_RANGE


def test_invalid_empty_slot_still_counts() -> None:
    chain = create_tail_call_chain(LINUX_LIKE)
    array = create_prog_array(2)
    outcome = process_tail_call(chain, array, 1)
    assert outcome.result is TailCallResult.EMPTY_SLOT and outcome.target is None
    assert chain.count == 1


def test_empty_slots_exhaust_the_limit() -> None:
    chain = create_tail_call_chain(LINUX_LIKE)
    array = create_prog_array(2)
    process_prog_array_update(array, 0, P)
    for _ in range(33):
        assert process_tail_call(chain, array, 1).result is TailCallResult.EMPTY_SLOT
    assert process_tail_call(chain, array, 0).result is TailCallResult.LIMIT_REACHED


def test_limit_checked_before_empty_slot() -> None:
    chain = TailCallChain(count=33, limit=33)
    assert process_tail_call(chain, create_prog_array(1), 0).result is (
        TailCallResult.LIMIT_REACHED
    )
    assert chain.count == 33


def test_index_checked_before_limit() -> None:
    chain = TailCallChain(count=33, limit=33)
    assert process_tail_call(chain, filled(1), 5).result is TailCallResult.INDEX_OUT_OF_RANGE


def test_delete_empties_the_slot() -> None:
    array = filled(2)
    process_prog_array_delete(array, 0)
    assert array.slots == [None, "p1"]


@pytest.mark.parametrize("index", [-1, 2])
def test_invalid_loader_update_outside_array(index: int) -> None:
    with pytest.raises(AssertionError):
        process_prog_array_update(create_prog_array(2), index, P)
    with pytest.raises(AssertionError):
        process_prog_array_delete(create_prog_array(2), index)
