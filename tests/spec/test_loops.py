"""bpf_loop and the open-coded number iterator."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arspec.spec.errno import E2BIG, EINVAL
from arspec.spec.loops import (
    IterNum,
    check_loop_args,
    compute_iter_num_bytes,
    get_iter_num,
    process_iter_num_destroy,
    process_iter_num_new,
    process_iter_num_next,
    process_loop,
)

MAX = 1 << 23
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


def run_loop(
    n: int, flags: int = 0, stop_at: int | None = None, ret: int = 1
) -> tuple[int, list[int]]:
    seen: list[int] = []

    def body(index: int) -> int:
        seen.append(index)
        return ret if index == stop_at else 0

    return process_loop(n, flags, MAX, body), seen


def test_loop_runs_every_index() -> None:
    assert run_loop(4) == (4, [0, 1, 2, 3])


def test_loop_zero_iterations() -> None:
    assert run_loop(0) == (0, [])


def test_loop_stop_counts_the_stopping_iteration() -> None:
    assert run_loop(10, stop_at=2) == (3, [0, 1, 2])


def test_loop_any_nonzero_result_stops() -> None:
    assert run_loop(10, stop_at=0, ret=7) == (1, [0])
    assert run_loop(10, stop_at=1, ret=-1) == (2, [0, 1])


def test_invalid_loop_flags() -> None:
    assert run_loop(3, flags=1) == (-EINVAL, [])


def test_invalid_loop_too_many() -> None:
    assert run_loop(MAX + 1) == (-E2BIG, [])
    assert check_loop_args(MAX, 0, MAX) == 0


def test_invalid_loop_flags_checked_first() -> None:
    assert check_loop_args(MAX + 1, 2, MAX) == -EINVAL


def test_loop_count_is_truncated_to_u32() -> None:
    assert run_loop((1 << 32) + 2) == (2, [0, 1])


def drain(it: IterNum) -> list[int]:
    values = []
    while (value := process_iter_num_next(it)) is not None:
        values.append(value)
    return values


def test_iter_num_yields_the_range() -> None:
    it = IterNum()
    assert process_iter_num_new(it, 3, 6, MAX) == 0
    assert drain(it) == [3, 4, 5]
    assert process_iter_num_next(it) is None


def test_iter_num_empty_range() -> None:
    it = IterNum()
    assert process_iter_num_new(it, 5, 5, MAX) == 0
    assert drain(it) == []


def test_invalid_iter_num_start_after_end_leaves_it_empty() -> None:
    it = IterNum(cur=1, end=9)
    assert process_iter_num_new(it, 6, 5, MAX) == -EINVAL
    assert it == IterNum(0, 0) and drain(it) == []


def test_invalid_iter_num_range_too_big() -> None:
    it = IterNum()
    assert process_iter_num_new(it, 0, MAX + 1, MAX) == -E2BIG
    assert drain(it) == []
    assert process_iter_num_new(it, 0, MAX, MAX) == 0


def test_invalid_iter_num_full_int_range_is_too_big() -> None:
    assert process_iter_num_new(IterNum(), INT_MIN, INT_MAX, MAX) == -E2BIG


def test_iter_num_arguments_are_s32() -> None:
    it = IterNum()
    assert process_iter_num_new(it, (1 << 32) - 2, 1, MAX) == 0
    assert drain(it) == [-2, -1, 0]


def test_iter_num_at_the_int_edges() -> None:
    it = IterNum()
    assert process_iter_num_new(it, INT_MIN, INT_MIN + 2, MAX) == 0
    assert drain(it) == [INT_MIN, INT_MIN + 1]
    assert process_iter_num_new(it, INT_MAX - 1, INT_MAX, MAX) == 0
    assert drain(it) == [INT_MAX - 1]


def test_iter_num_destroy_empties() -> None:
    it = IterNum()
    process_iter_num_new(it, 0, 5, MAX)
    process_iter_num_next(it)
    process_iter_num_destroy(it)
    assert drain(it) == []


def test_iter_num_stack_layout() -> None:
    it = IterNum()
    process_iter_num_new(it, -1, 4, MAX)
    raw = compute_iter_num_bytes(it)
    assert raw == (-2).to_bytes(4, "little", signed=True) + (4).to_bytes(4, "little")
    assert get_iter_num(raw) == it


def test_invalid_iter_num_state_size() -> None:
    with pytest.raises(AssertionError):
        get_iter_num(b"\x00" * 4)


@given(st.integers(-50, 50), st.integers(-50, 50))
def test_iter_num_matches_range(start: int, end: int) -> None:
    it = IterNum()
    result = process_iter_num_new(it, start, end, 64)
    if start > end:
        assert result == -EINVAL and drain(it) == []
    elif end - start > 64:
        assert result == -E2BIG and drain(it) == []
    else:
        assert result == 0 and drain(it) == list(range(start, end))
        assert get_iter_num(compute_iter_num_bytes(it)) == it
