"""BPF ring buffer: layout, capacity edges, wrap-around, discard, head-of-line blocking."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from arspec.spec.errno import EAGAIN, EINVAL
from arspec.spec.ringbuf import (
    BPF_RB_AVAIL_DATA,
    BPF_RB_CONS_POS,
    BPF_RB_FORCE_WAKEUP,
    BPF_RB_NO_WAKEUP,
    BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE,
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    RINGBUF_MAX_RECORD_SZ,
    RingBuffer,
    compute_record_pos,
    compute_record_size,
    compute_sample_pos,
    create_ringbuf,
    get_ringbuf_bytes,
    get_ringbuf_query,
    process_ringbuf_consume,
    process_ringbuf_discard,
    process_ringbuf_output,
    process_ringbuf_reserve,
    process_ringbuf_submit,
    process_ringbuf_write,
)
from arspec.spec.types import RingPos


def reserve_write(rb: RingBuffer, data: bytes) -> RingPos:
    pos = process_ringbuf_reserve(rb, len(data), 0)
    assert pos is not None
    process_ringbuf_write(rb, compute_sample_pos(pos), data)
    return pos


def test_record_size_rounds_up_with_header() -> None:
    assert [compute_record_size(n) for n in (0, 1, 8, 9, 16)] == [8, 16, 16, 24, 24]


def test_reserve_writes_busy_header_and_advances_producer() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_reserve(rb, 5, 0) == 0
    assert rb.data[0:8] == (5 | BPF_RINGBUF_BUSY_BIT).to_bytes(4, "little") + bytes(4)
    assert rb.producer_pos == 16 and rb.consumer_pos == 0


def test_reserve_zeroes_stale_bytes() -> None:
    rb = create_ringbuf(32)
    for fill in (b"\xff" * 8, b"\xee" * 8):
        pos = reserve_write(rb, fill)
        process_ringbuf_submit(rb, pos, 0)
        assert process_ringbuf_consume(rb) == [fill]
    assert rb.data[8:16] == b"\xff" * 8
    assert process_ringbuf_reserve(rb, 8, 0) == 32
    assert rb.data[8:16] == bytes(8)


def test_invalid_reserve_flags() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_reserve(rb, 8, 1) is None and rb.producer_pos == 0


def test_invalid_reserve_larger_than_ring() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_reserve(rb, 57, 0) is None
    assert process_ringbuf_reserve(rb, RINGBUF_MAX_RECORD_SZ + 1, 0) is None


def test_exactly_full_then_one_byte_more() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_reserve(rb, 48, 0) == 0
    assert rb.producer_pos == 56
    assert process_ringbuf_reserve(rb, 0, 0) is None
    rb2 = create_ringbuf(64)
    assert process_ringbuf_reserve(rb2, 49, 0) is None
    assert rb2.producer_pos == 0


def test_space_comes_back_only_after_consumption() -> None:
    rb = create_ringbuf(64)
    pos = reserve_write(rb, b"a" * 48)
    process_ringbuf_submit(rb, pos, 0)
    assert process_ringbuf_reserve(rb, 0, 0) is None
    assert process_ringbuf_consume(rb) == [b"a" * 48]
    assert process_ringbuf_reserve(rb, 48, 0) == 56


def test_wrap_around_record_reads_back() -> None:
    rb = create_ringbuf(64)
    first = reserve_write(rb, b"x" * 40)
    process_ringbuf_submit(rb, first, 0)
    assert process_ringbuf_consume(rb) == [b"x" * 40]
    payload = bytes(range(1, 41))
    pos = reserve_write(rb, payload)
    assert pos == 48 and (pos + compute_record_size(40)) % 64 < pos % 64
    process_ringbuf_submit(rb, pos, 0)
    assert process_ringbuf_consume(rb) == [payload]
    assert get_ringbuf_bytes(rb, compute_sample_pos(pos), 40) == payload


def test_header_wraps_too() -> None:
    rb = create_ringbuf(16)
    for _ in range(3):
        pos = process_ringbuf_reserve(rb, 0, 0)
        assert pos is not None
        process_ringbuf_submit(rb, pos, 0)
        assert process_ringbuf_consume(rb) == [b""]
    assert rb.consumer_pos == rb.producer_pos == 24


def test_discard_is_skipped_by_the_consumer() -> None:
    rb = create_ringbuf(64)
    a, b, c = (reserve_write(rb, x) for x in (b"a", b"b", b"c"))
    process_ringbuf_submit(rb, a, 0)
    process_ringbuf_discard(rb, b, 0)
    process_ringbuf_submit(rb, c, 0)
    word = int.from_bytes(rb.data[b : b + 4], "little")
    assert word == 1 | BPF_RINGBUF_DISCARD_BIT
    assert process_ringbuf_consume(rb) == [b"a", b"c"]
    assert rb.consumer_pos == rb.producer_pos


def test_head_of_line_blocking() -> None:
    rb = create_ringbuf(64)
    a = reserve_write(rb, b"a")
    b = reserve_write(rb, b"b")
    process_ringbuf_submit(rb, b, 0)
    assert process_ringbuf_consume(rb) == []
    assert rb.consumer_pos == 0
    process_ringbuf_submit(rb, a, 0)
    assert process_ringbuf_consume(rb) == [b"a", b"b"]


def test_pending_record_blocks_lapping() -> None:
    # A consumer that moves consumer_pos past a BUSY record (user space may write it) must
    # still not let the producer overwrite that record: the pending-position rule.
    rb = create_ringbuf(32)
    a = reserve_write(rb, b"a")
    b = reserve_write(rb, b"")
    process_ringbuf_submit(rb, b, 0)
    rb.consumer_pos = rb.producer_pos
    assert process_ringbuf_reserve(rb, 0, 0) is None
    assert rb.pending_pos == a
    process_ringbuf_submit(rb, a, 0)
    assert process_ringbuf_reserve(rb, 0, 0) == 24


def test_invalid_double_submit() -> None:
    rb = create_ringbuf(64)
    pos = reserve_write(rb, b"a")
    process_ringbuf_submit(rb, pos, 0)
    with pytest.raises(AssertionError):
        process_ringbuf_discard(rb, pos, 0)


def test_invalid_commit_of_unreserved_position() -> None:
    rb = create_ringbuf(64)
    with pytest.raises(AssertionError):
        process_ringbuf_submit(rb, RingPos(0), 0)


@pytest.mark.parametrize("flags", [4, 8, 1 << 20])
def test_invalid_commit_flags(flags: int) -> None:
    rb = create_ringbuf(64)
    pos = reserve_write(rb, b"a")
    with pytest.raises(AssertionError, match="unknown ring-buffer commit flags"):
        process_ringbuf_submit(rb, pos, flags)


def test_wakeup_rules() -> None:
    rb = create_ringbuf(128)
    a, b, c, d = (reserve_write(rb, x) for x in (b"a", b"b", b"c", b"d"))
    assert process_ringbuf_submit(rb, a, 0) is True
    assert process_ringbuf_submit(rb, b, 0) is False
    assert process_ringbuf_submit(rb, c, BPF_RB_FORCE_WAKEUP) is True
    assert process_ringbuf_discard(rb, d, BPF_RB_NO_WAKEUP) is False
    rb2 = create_ringbuf(64)
    e = reserve_write(rb2, b"e")
    assert process_ringbuf_submit(rb2, e, BPF_RB_NO_WAKEUP) is False


def test_output_copies_and_submits() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_output(rb, b"hello", BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) == 0
    assert process_ringbuf_consume(rb) == [b"hello"]


def test_invalid_output_flags() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_output(rb, b"x", 4) == -EINVAL and rb.producer_pos == 0


def test_invalid_output_full() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_output(rb, b"x" * 48, 0) == 0
    assert process_ringbuf_output(rb, b"", 0) == -EAGAIN


def test_query() -> None:
    rb = create_ringbuf(64)
    pos = reserve_write(rb, b"abc")
    process_ringbuf_submit(rb, pos, 0)
    reserve_write(rb, b"d")
    assert get_ringbuf_query(rb, BPF_RB_AVAIL_DATA) == 32
    assert get_ringbuf_query(rb, BPF_RB_RING_SIZE) == 64
    assert get_ringbuf_query(rb, BPF_RB_PROD_POS) == 32
    process_ringbuf_consume(rb)
    assert get_ringbuf_query(rb, BPF_RB_CONS_POS) == 16
    assert get_ringbuf_query(rb, 4) == 0 and get_ringbuf_query(rb, 99) == 0


def test_sample_and_record_positions_are_inverse() -> None:
    assert compute_record_pos(compute_sample_pos(RingPos(40))) == 40


def test_invalid_ring_size() -> None:
    with pytest.raises(AssertionError):
        create_ringbuf(48)


@dataclass
class Outstanding:
    pos: RingPos
    payload: bytes
    state: str


class RingModel(RuleBasedStateMachine):
    """Random reserve/submit/discard/consume against a list of outstanding records."""

    def __init__(self) -> None:
        super().__init__()
        self.rb = create_ringbuf(64)
        self.records: list[Outstanding] = []
        self.counter = 0

    def busy(self) -> list[Outstanding]:
        return [r for r in self.records if r.state == "busy"]

    @rule(size=st.integers(0, 60))
    def reserve(self, size: int) -> None:
        self.counter += 1
        payload = bytes((self.counter + i) % 256 for i in range(size))
        before = self.rb.producer_pos
        pos = process_ringbuf_reserve(self.rb, size, 0)
        length = compute_record_size(size)
        oldest_busy = min((r.pos for r in self.busy()), default=before)
        fits = before + length - self.rb.consumer_pos <= 63 and before + length - oldest_busy <= 63
        assert (pos is not None) == fits
        if pos is None:
            assert self.rb.producer_pos == before
            return
        assert pos == before
        process_ringbuf_write(self.rb, compute_sample_pos(pos), payload)
        self.records.append(Outstanding(pos, payload, "busy"))

    @precondition(lambda self: bool(self.busy()))
    @rule(data=st.data(), discard=st.booleans())
    def commit(self, data: st.DataObject, discard: bool) -> None:
        record = data.draw(st.sampled_from(self.busy()))
        if discard:
            process_ringbuf_discard(self.rb, record.pos, 0)
        else:
            process_ringbuf_submit(self.rb, record.pos, 0)
        record.state = "discarded" if discard else "submitted"

    @rule()
    def consume(self) -> None:
        expected: list[bytes] = []
        while self.records and self.records[0].state != "busy":
            record = self.records.pop(0)
            if record.state == "submitted":
                expected.append(record.payload)
        assert process_ringbuf_consume(self.rb) == expected
        head = self.records[0].pos if self.records else self.rb.producer_pos
        assert self.rb.consumer_pos == head

    @invariant()
    def never_over_capacity(self) -> None:
        assert 0 <= self.rb.producer_pos - self.rb.consumer_pos <= self.rb.size - 8

    @invariant()
    def no_overwrite(self) -> None:
        for record in self.records:
            got = get_ringbuf_bytes(self.rb, compute_sample_pos(record.pos), len(record.payload))
            assert got == record.payload


RingModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestRingModel = RingModel.TestCase


def test_consume_enabled_only_when_the_head_is_committed() -> None:
    from arspec.spec.ringbuf import is_ringbuf_consume_enabled

    rb = create_ringbuf(64)
    assert not is_ringbuf_consume_enabled(rb)
    a = reserve_write(rb, b"a")
    b = reserve_write(rb, b"b")
    process_ringbuf_submit(rb, b, 0)
    assert not is_ringbuf_consume_enabled(rb)
    process_ringbuf_discard(rb, a, 0)
    assert is_ringbuf_consume_enabled(rb)
    assert process_ringbuf_consume(rb) == [b"b"]
    assert not is_ringbuf_consume_enabled(rb)


def test_pending_position_follows_commits_and_consumption() -> None:
    rb = create_ringbuf(64)
    assert process_ringbuf_output(rb, b"\x01" * 8, 0) == 0
    assert rb.pending_pos == rb.producer_pos
    assert process_ringbuf_consume(rb) == [b"\x01" * 8]
    assert rb.consumer_pos <= rb.pending_pos <= rb.producer_pos
    first = process_ringbuf_reserve(rb, 8, 0)
    second = process_ringbuf_reserve(rb, 8, 0)
    assert first is not None and second is not None
    process_ringbuf_submit(rb, second, 0)
    assert rb.pending_pos == first
    process_ringbuf_discard(rb, first, 0)
    assert rb.pending_pos == rb.producer_pos


# -- wrapped reads and writes, against their byte-at-a-time definition -------------------


@settings(max_examples=300, deadline=None, derandomize=True)
@given(order=st.integers(4, 8), pos=st.integers(0, 1 << 20), n=st.integers(0, 300),
       seed=st.binary(min_size=0, max_size=300))
def test_wrapped_bytes_match_their_definition(order: int, pos: int, n: int,
                                              seed: bytes) -> None:
    size = 1 << order
    rb = create_ringbuf(size)
    rb.data[:] = bytes((7 * i + 3) & 0xFF for i in range(size))
    assert get_ringbuf_bytes(rb, pos, n) == bytes(rb.data[(pos + i) & (size - 1)]
                                                  for i in range(n))
    expected = bytearray(rb.data)
    for i, byte in enumerate(seed):
        expected[(pos + i) & (size - 1)] = byte
    process_ringbuf_write(rb, pos, seed)
    assert rb.data == expected
