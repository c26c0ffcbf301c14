"""
Ring buffers
============

The BPF ring buffer (map type ``RINGBUF``, helpers 130-134; Linux ``kernel/bpf/ringbuf.c``): one
multi-producer, single-consumer byte ring of power-of-two size. Producers *reserve* a record,
fill it and *submit* (or *discard*) it; the consumer walks committed records in reservation
order. The layout is Linux's, byte for byte:

* each record starts with an 8-byte header ``{u32 len; u32 pg_off}`` (little-endian), where
  ``len`` is the payload size plus the flag bits ``BPF_RINGBUF_BUSY_BIT`` (1 << 31, set from
  reserve until submit/discard) and ``BPF_RINGBUF_DISCARD_BIT`` (1 << 30);
* a record occupies ``round_up(size + 8, 8)`` bytes;
* ``consumer_pos`` and ``producer_pos`` are monotonically increasing byte counters, never
  masked; a position's byte is ``data[pos & (size - 1)]``;
* a reservation fails (returns ``None``, never blocks, never overwrites) when
  ``new_prod - consumer_pos > size - 1`` or ``new_prod - pending_pos > size - 1``, where
  ``pending_pos`` is the oldest record still BUSY. Outstanding data is therefore at most
  ``size - 8`` bytes.

Departures from Linux, with reasons:

* **Wrapping.** Linux maps the data pages twice so that a record crossing the end is
  contiguous. arspec keeps one copy and reads and writes modulo the size
  (:func:`get_ringbuf_bytes`, :func:`process_ringbuf_write`); the bytes seen are identical.
* **``pg_off``** is the header's data offset divided by 4096. Linux counts from the start of
  its internal structure to find the ring from a sample pointer; programs cannot read it.
* **Reserve zeroes the new record's payload and padding.** Linux leaves stale bytes; a
  program that writes before it submits sees no difference, and no record's bytes depend on
  what the ring held before.
* **Dead bytes are not part of a state.** The bytes outside ``consumer_pos`` up to
  ``producer_pos`` (consumed records, and space never reserved) stay in ``data`` as in
  Linux, but nothing reads them: a program writes its record through its own buffer
  (copied in at submit), reserve overwrites the record's bytes, and the walks of the
  consumer and of the pending position start at ``consumer_pos`` or later (``pending_pos``
  is kept between the two, see :func:`process_ringbuf_commit`). Two rings with equal
  positions and equal live bytes (:func:`get_live_bytes`) therefore behave alike in every
  future, and a state's canonical key holds only the live bytes
  (:func:`arspec.spec.state.compute_map_key`): histories that differ only in records
  already consumed meet in one explored state.
* **Submit and discard flags.** Linux ignores unknown bits because these helpers return
  nothing; arspec treats any bit other than ``BPF_RB_NO_WAKEUP`` / ``BPF_RB_FORCE_WAKEUP`` as
  an invalid call, so no program can depend on bits a later kernel may define. The wakeup
  decision is returned so the scheduler can use it deterministically.
* **No producer lock.** There is no concurrency, so the NMI trylock failure never happens.
* **A reservation neither submitted nor discarded when the invocation ends** is a failure
  (:func:`check_reservations_released`): the scheduler rolls the invocation back, so the
  record never stays BUSY. Linux rejects such a program at load (``kernel/bpf/verifier.c``,
  ``check_reference_leak``: "Unreleased reference"); a run here faults instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from arspec.spec.errno import EAGAIN, EINVAL
from arspec.spec.types import U32_MASK, RingPos

BPF_RINGBUF_BUSY_BIT: Final = 1 << 31
BPF_RINGBUF_DISCARD_BIT: Final = 1 << 30
#: Size of a record header.
BPF_RINGBUF_HDR_SZ: Final = 8
#: Largest payload a reservation may ask for (Linux ``RINGBUF_MAX_RECORD_SZ``).
RINGBUF_MAX_RECORD_SZ: Final = U32_MASK // 4
#: The page size used for ``pg_off``.
RINGBUF_PG_SIZE: Final = 4096

BPF_RB_NO_WAKEUP: Final = 1
BPF_RB_FORCE_WAKEUP: Final = 2
#: Every flag bit ``submit`` / ``discard`` / ``output`` accept.
RINGBUF_WAKEUP_FLAGS: Final = BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP

#: Where positions start in a new ring.
RING_START: Final = RingPos(0)

BPF_RB_AVAIL_DATA: Final = 0
BPF_RB_RING_SIZE: Final = 1
BPF_RB_CONS_POS: Final = 2
BPF_RB_PROD_POS: Final = 3


@dataclass(eq=False)
class RingBuffer:
    """One ring: its data bytes and the three positions (all byte counters)."""

    size: int
    data: bytearray
    consumer_pos: RingPos = RING_START
    producer_pos: RingPos = RING_START
    pending_pos: RingPos = RING_START


def is_power_of_two(n: int) -> bool:
    """Return whether ``n`` is a positive power of two."""
    return n > 0 and n & (n - 1) == 0


def create_ringbuf(size: int) -> RingBuffer:
    """Return an empty ring of ``size`` data bytes (sizes are validated with the map)."""
    # Verify the size is a power of two no smaller than two headers
    assert is_power_of_two(size) and size >= 2 * BPF_RINGBUF_HDR_SZ
    return RingBuffer(size=size, data=bytearray(size))


def compute_record_size(payload_size: int) -> int:
    """Return the bytes a record with ``payload_size`` payload bytes occupies."""
    return (payload_size + BPF_RINGBUF_HDR_SZ + 7) & ~7


def compute_sample_pos(record_pos: RingPos) -> RingPos:
    """Return the position of a record's payload (the pointer reserve gives the program)."""
    return RingPos(record_pos + BPF_RINGBUF_HDR_SZ)


def compute_record_pos(sample_pos: RingPos) -> RingPos:
    """Return the record position of a payload position (what submit/discard receive)."""
    return RingPos(sample_pos - BPF_RINGBUF_HDR_SZ)


def get_ringbuf_bytes(rb: RingBuffer, pos: int, n: int) -> bytes:
    """Return ``n`` bytes from position ``pos``, wrapping around the end of the data."""
    out = bytearray()
    start = pos & (rb.size - 1)
    while len(out) < n:
        end = min(rb.size, start + n - len(out))
        out += rb.data[start:end]
        start = 0
    return bytes(out)


def get_live_bytes(rb: RingBuffer) -> bytes:
    """Return the bytes from ``consumer_pos`` up to ``producer_pos``: every record not yet
    consumed, committed or still reserved (the only bytes a ring's future depends on)."""
    return get_ringbuf_bytes(rb, rb.consumer_pos, rb.producer_pos - rb.consumer_pos)


def process_ringbuf_write(rb: RingBuffer, pos: int, data: bytes) -> None:
    """Write ``data`` at position ``pos``, wrapping around the end of the data."""
    start, done = pos & (rb.size - 1), 0
    while done < len(data):
        end = min(rb.size, start + len(data) - done)
        rb.data[start:end] = data[done:done + end - start]
        done += end - start
        start = 0


def get_record_len_word(rb: RingBuffer, record_pos: int) -> int:
    """Return a record header's ``len`` word: payload size plus BUSY/DISCARD bits."""
    return int.from_bytes(get_ringbuf_bytes(rb, record_pos, 4), "little")


def compute_pending_pos(rb: RingBuffer) -> RingPos:
    """Return the position of the oldest BUSY record (the producer position if none is)."""
    pos = rb.pending_pos
    while pos < rb.producer_pos:
        word = get_record_len_word(rb, pos)
        if word & BPF_RINGBUF_BUSY_BIT:
            break
        pos = RingPos(pos + compute_record_size(word & ~BPF_RINGBUF_DISCARD_BIT))
    return pos


def process_ringbuf_reserve(rb: RingBuffer, size: int, flags: int) -> RingPos | None:
    """Reserve a record of ``size`` payload bytes; return its position, or ``None``.

    ``None`` when flags != 0, the record is larger than the ring (or than
    ``RINGBUF_MAX_RECORD_SZ``), or there is not enough free space.
    """
    if flags != 0:
        return None
    if size > RINGBUF_MAX_RECORD_SZ:
        return None
    length = compute_record_size(size)
    if length > rb.size:
        return None
    rb.pending_pos = compute_pending_pos(rb)
    new_prod = rb.producer_pos + length
    if new_prod - rb.consumer_pos > rb.size - 1:
        return None
    if new_prod - rb.pending_pos > rb.size - 1:
        return None
    record_pos = rb.producer_pos
    pg_off = (record_pos & (rb.size - 1)) // RINGBUF_PG_SIZE
    header = (size | BPF_RINGBUF_BUSY_BIT).to_bytes(4, "little") + pg_off.to_bytes(4, "little")
    process_ringbuf_write(rb, record_pos, header + bytes(length - BPF_RINGBUF_HDR_SZ))
    rb.producer_pos = RingPos(new_prod)
    return record_pos


def compute_wakeup(rb: RingBuffer, record_pos: RingPos, flags: int) -> bool:
    """Return whether a commit wakes the consumer: forced, or adaptive when it has caught up."""
    if flags & BPF_RB_FORCE_WAKEUP:
        return True
    return rb.consumer_pos == record_pos and not flags & BPF_RB_NO_WAKEUP


def process_ringbuf_commit(rb: RingBuffer, record_pos: RingPos, flags: int, discard: bool) -> bool:
    """Clear the BUSY bit of a reserved record (setting DISCARD if asked); return the wakeup."""
    # Verify only the wakeup flag bits are set
    assert flags & ~RINGBUF_WAKEUP_FLAGS == 0, f"unknown ring-buffer commit flags {flags:#x}"
    # Verify the record was reserved and has not been lapped
    assert record_pos < rb.producer_pos and rb.producer_pos - record_pos < rb.size
    word = get_record_len_word(rb, record_pos)
    # Verify the record is still reserved (each reservation is committed exactly once)
    assert word & BPF_RINGBUF_BUSY_BIT
    word &= ~BPF_RINGBUF_BUSY_BIT
    if discard:
        word |= BPF_RINGBUF_DISCARD_BIT
    process_ringbuf_write(rb, record_pos, word.to_bytes(4, "little"))
    # Departure: Linux advances pending_pos lazily at the next reserve; advancing it at every
    # commit gives the same reservation results and keeps equal rings equal states.
    rb.pending_pos = compute_pending_pos(rb)
    return compute_wakeup(rb, record_pos, flags)


def process_ringbuf_submit(rb: RingBuffer, record_pos: RingPos, flags: int) -> bool:
    """Commit a reserved record for the consumer; return whether the consumer is woken."""
    return process_ringbuf_commit(rb, record_pos, flags, discard=False)


def process_ringbuf_discard(rb: RingBuffer, record_pos: RingPos, flags: int) -> bool:
    """Commit a reserved record as discarded; return whether the consumer is woken."""
    return process_ringbuf_commit(rb, record_pos, flags, discard=True)


def process_ringbuf_output(rb: RingBuffer, data: bytes, flags: int) -> int:
    """Reserve, copy and submit ``data``; 0, ``-EINVAL`` for unknown flags, ``-EAGAIN`` if full."""
    if flags & ~RINGBUF_WAKEUP_FLAGS:
        return -EINVAL
    record_pos = process_ringbuf_reserve(rb, len(data), 0)
    if record_pos is None:
        return -EAGAIN
    process_ringbuf_write(rb, compute_sample_pos(record_pos), data)
    process_ringbuf_submit(rb, record_pos, flags)
    return 0


def get_ringbuf_query(rb: RingBuffer, flag: int) -> int:
    """Return the value ``bpf_ringbuf_query`` reports for ``flag`` (0 for unknown flags)."""
    if flag == BPF_RB_AVAIL_DATA:
        return rb.producer_pos - rb.consumer_pos
    if flag == BPF_RB_RING_SIZE:
        return rb.size
    if flag == BPF_RB_CONS_POS:
        return rb.consumer_pos
    if flag == BPF_RB_PROD_POS:
        return rb.producer_pos
    return 0


def is_ringbuf_consume_enabled(rb: RingBuffer) -> bool:
    """Return whether consuming would advance: the oldest outstanding record is committed."""
    if rb.consumer_pos >= rb.producer_pos:
        return False
    return not get_record_len_word(rb, rb.consumer_pos) & BPF_RINGBUF_BUSY_BIT


def process_ringbuf_consume(rb: RingBuffer) -> list[bytes]:
    """Consume committed records in order; return the payloads of those not discarded.

    The walk starts at the consumer position and stops at the producer position or at the
    first record still BUSY (head-of-line blocking: later committed records wait).
    """
    payloads: list[bytes] = []
    while rb.consumer_pos < rb.producer_pos:
        word = get_record_len_word(rb, rb.consumer_pos)
        if word & BPF_RINGBUF_BUSY_BIT:
            break
        size = word & ~BPF_RINGBUF_DISCARD_BIT
        if not word & BPF_RINGBUF_DISCARD_BIT:
            payloads.append(get_ringbuf_bytes(rb, compute_sample_pos(rb.consumer_pos), size))
        rb.consumer_pos = RingPos(rb.consumer_pos + compute_record_size(size))
    return payloads


def check_reservations_released(outstanding: int) -> str | None:
    """Return the failure of an invocation that ends with ``outstanding`` reservations.

    ``None`` when every reservation was submitted or discarded.
    """
    if outstanding == 0:
        return None
    return f"{outstanding} ring-buffer reservation(s) neither submitted nor discarded"
