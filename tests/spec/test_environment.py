"""The values the machine-reading helpers return (:mod:`arspec.spec.environment`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arspec.spec.dynptr import check_ring_dynptrs_released
from arspec.spec.environment import (
    NS_PER_SLOT,
    compute_ktime_ns,
    compute_prandom_seed,
    compute_prandom_u32,
    compute_splitmix64,
    compute_unix_timestamp,
)
from arspec.spec.ringbuf import check_reservations_released


def test_splitmix64_reference_outputs() -> None:
    # The generator's first outputs from state 0 (Steele, Lea and Flood's SplitMix64).
    assert compute_splitmix64(0) == 0xE220A8397B1DCDAF
    assert compute_splitmix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


@pytest.mark.parametrize(("slot", "ns", "seconds"), [
    (0, 0, 0), (1, 400_000_000, 0), (2, 800_000_000, 0), (3, 1_200_000_000, 1),
    (5, 2_000_000_000, 2)])
def test_the_clocks_read_the_slot_start(slot: int, ns: int, seconds: int) -> None:
    assert compute_ktime_ns(slot) == ns == slot * NS_PER_SLOT
    assert compute_unix_timestamp(slot) == seconds


def test_ktime_wraps_at_64_bits() -> None:
    slot = (1 << 64) // NS_PER_SLOT + 1
    assert compute_ktime_ns(slot) == slot * NS_PER_SLOT - (1 << 64)


@given(st.integers(0, 1 << 20), st.integers(0, 1 << 16), st.integers(1, 1 << 10))
def test_prandom_is_a_function_of_slot_item_and_call(slot: int, seq: int, call: int) -> None:
    value = compute_prandom_u32(slot, seq, call)
    assert 0 <= value < 1 << 32
    assert value == compute_splitmix64(compute_prandom_seed(slot, seq, call)) & 0xFFFFFFFF


def test_successive_calls_and_items_draw_different_numbers() -> None:
    draws = {compute_prandom_u32(7, seq, call) for seq in range(4) for call in range(1, 5)}
    assert len(draws) == 16


def test_every_reservation_released_is_no_failure() -> None:
    assert check_reservations_released(0) is None
    assert check_ring_dynptrs_released([]) is None


@pytest.mark.parametrize("count", [1, 2, 9])
def test_an_outstanding_reservation_at_exit_is_a_failure(count: int) -> None:
    text = check_reservations_released(count)
    assert text == f"{count} ring-buffer reservation(s) neither submitted nor discarded"


def test_a_live_ring_dynptr_at_exit_is_a_failure_naming_its_slots() -> None:
    text = check_ring_dynptrs_released([0x2_0000_01F0, 0x2_0000_01E0])
    assert text == ("2 ring-buffer dynptr(s) neither submitted nor discarded "
                    "(at 0x2000001e0, 0x2000001f0)")
