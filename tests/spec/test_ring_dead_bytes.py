"""
A ring's dead bytes are never read
==================================

A state's canonical key holds only a ring's live bytes (``consumer_pos`` up to
``producer_pos``, :func:`~arspec.spec.ringbuf.get_live_bytes`), so the explorer merges states
whose rings differ elsewhere. That is sound only if no operation's result depends on those
bytes. Here two rings that agree on their positions and live bytes but not on the rest go
through the same drawn operations (reserve, write, submit, discard, output, consume, query,
with the dead bytes scrambled again between operations) and must give equal results, equal
positions and equal live bytes at every point.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.spec.ringbuf import (
    BPF_RB_AVAIL_DATA,
    BPF_RB_CONS_POS,
    BPF_RB_PROD_POS,
    RingBuffer,
    compute_pending_pos,
    compute_sample_pos,
    create_ringbuf,
    get_live_bytes,
    get_ringbuf_query,
    is_ringbuf_consume_enabled,
    process_ringbuf_consume,
    process_ringbuf_discard,
    process_ringbuf_output,
    process_ringbuf_reserve,
    process_ringbuf_submit,
    process_ringbuf_write,
)
from arspec.spec.types import RingPos

SIZE = 256

operations = st.lists(st.one_of(
    st.tuples(st.just("reserve"), st.integers(0, 120)),
    st.tuples(st.just("submit"), st.integers(0, 7)),
    st.tuples(st.just("discard"), st.integers(0, 7)),
    st.tuples(st.just("output"), st.binary(max_size=90)),
    st.tuples(st.just("consume"), st.just(0)),
    st.tuples(st.just("scramble"), st.integers(1, 255)),
), max_size=60)


def scramble(ring: RingBuffer, mask: int) -> None:
    """Flip every byte outside the live window."""
    for pos in range(ring.producer_pos, ring.consumer_pos + ring.size):
        ring.data[pos % ring.size] ^= mask


def observe(ring: RingBuffer) -> tuple[object, ...]:
    """Everything of a ring its key holds, and every query a program can make."""
    return (ring.consumer_pos, ring.producer_pos, ring.pending_pos, get_live_bytes(ring),
            compute_pending_pos(ring), is_ringbuf_consume_enabled(ring),
            tuple(get_ringbuf_query(ring, f)
                  for f in (BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_PROD_POS)))


def apply(ring: RingBuffer, op: str, arg: object, reserved: list[RingPos]) -> object:
    """Run one operation; return its result."""
    if op == "reserve":
        assert isinstance(arg, int)
        pos = process_ringbuf_reserve(ring, arg, 0)
        if pos is not None:
            process_ringbuf_write(ring, compute_sample_pos(pos), bytes([arg % 251]) * arg)
            reserved.append(pos)
        return pos
    if op in ("submit", "discard"):
        assert isinstance(arg, int)
        if not reserved:
            return None
        pos = reserved.pop(arg % len(reserved))
        commit = process_ringbuf_submit if op == "submit" else process_ringbuf_discard
        return commit(ring, pos, 0)
    if op == "output":
        assert isinstance(arg, bytes)
        return process_ringbuf_output(ring, arg, 0)
    if op == "consume":
        return tuple(process_ringbuf_consume(ring))
    return None


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(1, 255))
def test_rings_equal_but_for_dead_bytes_behave_alike(ops: list[tuple[str, object]],
                                                     first: int) -> None:
    one, two = create_ringbuf(SIZE), create_ringbuf(SIZE)
    scramble(two, first)
    held_one: list[RingPos] = []
    held_two: list[RingPos] = []
    for op, arg in ops:
        if op == "scramble":
            assert isinstance(arg, int)
            scramble(two, arg)
            continue
        assert apply(one, op, arg, held_one) == apply(two, op, arg, held_two), op
        assert held_one == held_two
        assert observe(one) == observe(two), op


def test_the_scramble_reaches_consumed_bytes() -> None:
    ring = create_ringbuf(SIZE)
    assert process_ringbuf_output(ring, b"x" * 40, 0) == 0
    assert process_ringbuf_consume(ring) == [b"x" * 40]
    before = bytes(ring.data)
    scramble(ring, 0xFF)
    assert bytes(ring.data) != before and get_live_bytes(ring) == b""


def test_a_live_byte_is_seen() -> None:
    one, two = create_ringbuf(SIZE), create_ringbuf(SIZE)
    for ring in (one, two):
        assert process_ringbuf_output(ring, b"abcdefgh", 0) == 0
    two.data[compute_sample_pos(RingPos(0))] ^= 1
    assert observe(one) != observe(two)
    assert process_ringbuf_consume(one) != process_ringbuf_consume(two)
