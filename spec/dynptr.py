"""
Dynamic pointers
================

``struct bpf_dynptr``: a 16-byte, 8-aligned object on the program's stack that names a run of
bytes whose length is known only at run time (Linux ``include/uapi/linux/bpf.h``,
``kernel/bpf/helpers.c``, ``kernel/bpf/ringbuf.c``). Its layout is Linux's
``struct bpf_dynptr_kern``, little-endian::

    offset 0   u64 data      address of the first byte (0: a NULL dynptr)
    offset 8   u32 size      bits 0-23 the size, bits 28-30 the type, bit 31 read-only
    offset 12  u32 offset    start of the window inside data

Helpers (Linux ids): ``bpf_dynptr_from_mem`` 197, ``bpf_ringbuf_reserve_dynptr`` 198,
``bpf_ringbuf_submit_dynptr`` 199, ``bpf_ringbuf_discard_dynptr`` 200, ``bpf_dynptr_read``
201, ``bpf_dynptr_write`` 202, ``bpf_dynptr_data`` 203. Results, as in Linux:

* ``from_mem(data, size, flags, ptr)``: ``-E2BIG`` for a size above ``DYNPTR_MAX_SIZE``,
  ``-EINVAL`` for non-zero flags (the dynptr is then NULL), else a LOCAL dynptr and 0.
* ``ringbuf_reserve_dynptr(ring, size, flags, ptr)``: ``-EINVAL`` for flags or when the ring
  is full, ``-E2BIG`` for a size too large, each leaving a NULL dynptr; else a RINGBUF dynptr
  over the new record and 0. **A NULL ring dynptr must still be submitted or discarded**
  (the verifier tracks the reference whether or not the reservation succeeded).
* ``ringbuf_submit_dynptr`` / ``discard_dynptr(ptr, flags)``: commit the record (nothing for
  a NULL dynptr) and make the dynptr NULL; they return nothing.
* ``dynptr_read(dst, len, src, offset, flags)`` / ``dynptr_write(dst, offset, src, len,
  flags)``: ``-EINVAL`` for a NULL dynptr, flags, or a write to a read-only one; ``-E2BIG``
  when ``[offset, offset + len)`` is not inside the window; else copy and 0.
* ``dynptr_data(ptr, offset, len)``: the address of ``[offset, offset + len)``, or 0
  (NULL) when the dynptr is NULL, read-only, or the range is outside the window. The
  program must test the result before using it.

Rules the verifier enforces (Linux ``process_dynptr_func``, ``check_reference_leak``): the
dynptr argument is an 8-aligned, constant stack slot; helpers other than the initialisers
need an initialised one; a RINGBUF dynptr is released (submit or discard) on every path; it
is not overwritten while live; ``dynptr_data``'s length is a constant, and the slice dies
with the dynptr. The runtime keeps the bytes it wrote for every live dynptr and faults when
a helper finds other bytes (uninitialised, overwritten or forged) or when a RINGBUF dynptr is
still live at exit. A store or atomic instruction that touches any of the 16 bytes of a
live RINGBUF dynptr (from its reservation, failed or not, until its submit or discard)
faults at that instruction (Linux ``destroy_if_dynptr_stack_slot``: "cannot overwrite
referenced dynptr"; :data:`DYNPTR_STORE_REASON`). A helper writing over them is not refused
here: the dynptr's bytes then differ and its next use, or the end, faults.

Departures from Linux:

* **Misuse faults at run time** (see above) as well as being refused by the verifier, so
  that a counterexample replays.
* **Two dynptr types.** Only LOCAL (``from_mem``) and RINGBUF dynptrs exist; the skb, xdp
  and user-ring-buffer ones and the dynptr kfuncs (``bpf_dynptr_slice``, ``adjust``,
  ``clone``) are not offered. No dynptr is read-only, so ``write`` and ``data`` never fail
  for that reason.
* **The data address** is an address of arspec's memory model (``region << 32 | offset``),
  not a kernel pointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from arspec.spec.errno import E2BIG, EINVAL

#: Why a store over a live ring-buffer dynptr faults (the memory fault's reason).
DYNPTR_STORE_REASON: Final = "cannot overwrite referenced dynptr (a live ring-buffer dynptr)"

#: Size and alignment of ``struct bpf_dynptr`` on the stack.
BPF_DYNPTR_SIZE: Final = 16
BPF_DYNPTR_ALIGN: Final = 8
#: Largest size a dynptr may have (Linux ``DYNPTR_MAX_SIZE``).
DYNPTR_MAX_SIZE: Final = (1 << 24) - 1
DYNPTR_TYPE_SHIFT: Final = 28
DYNPTR_SIZE_MASK: Final = 0xFFFFFF
DYNPTR_RDONLY_BIT: Final = 1 << 31


class DynptrType(IntEnum):
    """Linux ``enum bpf_dynptr_type`` (the ones arspec creates)."""

    INVALID = 0
    LOCAL = 1
    RINGBUF = 2


@dataclass(frozen=True)
class Dynptr:
    """The decoded contents of a ``struct bpf_dynptr``."""

    data: int
    size: int
    offset: int
    type: DynptrType
    rdonly: bool = False

    @property
    def is_null(self) -> bool:
        """Return whether the dynptr is NULL (no data)."""
        return self.data == 0


#: The NULL dynptr (all 16 bytes zero).
NULL_DYNPTR: Final = Dynptr(0, 0, 0, DynptrType.INVALID)


def compute_dynptr_bytes(ptr: Dynptr) -> bytes:
    """Return the 16 stack bytes of ``ptr`` (Linux ``struct bpf_dynptr_kern``)."""
    word = (ptr.size & DYNPTR_SIZE_MASK) | (int(ptr.type) << DYNPTR_TYPE_SHIFT)
    if ptr.rdonly:
        word |= DYNPTR_RDONLY_BIT
    return (ptr.data.to_bytes(8, "little") + word.to_bytes(4, "little")
            + ptr.offset.to_bytes(4, "little"))


def get_dynptr(raw: bytes) -> Dynptr:
    """Decode 16 stack bytes; an unknown type decodes as INVALID."""
    data = int.from_bytes(raw[0:8], "little")
    word = int.from_bytes(raw[8:12], "little")
    kind = (word >> DYNPTR_TYPE_SHIFT) & 0x7
    return Dynptr(data, word & DYNPTR_SIZE_MASK, int.from_bytes(raw[12:16], "little"),
                  DynptrType(kind) if kind in DynptrType._value2member_map_
                  else DynptrType.INVALID, bool(word & DYNPTR_RDONLY_BIT))


def check_dynptr_size(size: int) -> int:
    """Return 0, or ``-E2BIG`` when ``size`` exceeds ``DYNPTR_MAX_SIZE``."""
    return -E2BIG if size > DYNPTR_MAX_SIZE else 0


def check_off_len(ptr: Dynptr, offset: int, length: int) -> int:
    """Return 0 when ``[offset, offset + length)`` lies in the window, else ``-E2BIG``."""
    if length > ptr.size or offset > ptr.size - length:
        return -E2BIG
    return 0


def process_from_mem(data: int, size: int, flags: int) -> tuple[int, Dynptr]:
    """Return ``(result, dynptr)`` of ``bpf_dynptr_from_mem`` (NULL dynptr on failure)."""
    error = check_dynptr_size(size)
    if error:
        return error, NULL_DYNPTR
    if flags:
        return -EINVAL, NULL_DYNPTR
    return 0, Dynptr(data, size, 0, DynptrType.LOCAL)


def check_reserve_dynptr(size: int, flags: int) -> int:
    """Return the error ``bpf_ringbuf_reserve_dynptr`` gives before reserving, or 0."""
    if flags:
        return -EINVAL
    return check_dynptr_size(size)


def compute_window(ptr: Dynptr, offset: int, length: int) -> int | None:
    """Return the address of ``[offset, offset + length)``, or ``None`` if not accessible."""
    if ptr.is_null or check_off_len(ptr, offset, length):
        return None
    return ptr.data + ptr.offset + offset


def check_read(ptr: Dynptr, offset: int, length: int, flags: int) -> int:
    """Return the result of ``bpf_dynptr_read`` before it copies (0: copy)."""
    if ptr.is_null or flags:
        return -EINVAL
    return check_off_len(ptr, offset, length)


def check_write(ptr: Dynptr, offset: int, length: int, flags: int) -> int:
    """Return the result of ``bpf_dynptr_write`` before it copies (0: copy)."""
    if ptr.is_null or ptr.rdonly:
        return -EINVAL
    error = check_off_len(ptr, offset, length)
    if error:
        return error
    return -EINVAL if flags else 0


def compute_data(ptr: Dynptr, offset: int, length: int) -> int:
    """Return ``bpf_dynptr_data``'s result: the slice address, or 0."""
    if ptr.rdonly:
        return 0
    address = compute_window(ptr, offset, length)
    return 0 if address is None else address


def check_ring_dynptrs_released(live: list[int]) -> str | None:
    """Return the failure of an invocation that ends with ring-buffer dynptrs at ``live``.

    ``live`` holds the stack addresses of the ``RINGBUF`` dynptrs still neither submitted
    nor discarded (Linux ``kernel/bpf/verifier.c``, ``check_reference_leak``); ``None`` when
    there are none.
    """
    if not live:
        return None
    where = ", ".join(f"{a:#x}" for a in sorted(live))
    return f"{len(live)} ring-buffer dynptr(s) neither submitted nor discarded (at {where})"
