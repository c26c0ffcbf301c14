"""
Bounded loops
=============

The two ways a program loops a bounded number of times besides a verified back-edge (Linux
``kernel/bpf/bpf_iter.c`` and ``kernel/bpf/helpers.c``; ``BPF_MAX_LOOPS`` in
``include/linux/bpf.h``): the ``bpf_loop`` helper (181) and the open-coded number iterator
``bpf_iter_num_new`` / ``_next`` / ``_destroy``. The callback of ``bpf_loop`` runs on the VM, so
:func:`process_loop` takes it as a Python callable; the iterator is pure state.

Choices where Linux is silent or only its verifier speaks:

* **Callback results other than 0 and 1.** Linux's verifier rejects a ``bpf_loop`` callback
  that may return anything but 0 (continue) or 1 (stop). At run time the kernel only tests
  ``if (ret)``, so any non-zero value stops the loop; arspec keeps that run-time rule (the
  static checker still reports the callback), which keeps the spec total and deterministic.
* **Argument widths.** ``nr_loops`` is a ``u32`` and iterator bounds are ``int`` in the kernel
  signatures: register values are truncated to 32 bits (and read as signed for the iterator)
  before any check.
* **Iterator state.** ``struct bpf_iter_num`` is 8 bytes on the program stack, laid out as
  the kernel does: ``s32 cur`` at offset 0, ``s32 end`` at offset 4 (little-endian).
  ``new`` sets ``cur = start - 1`` and ``next`` returns ``cur + 1`` while it is below ``end``,
  both computed in wrapping 32-bit arithmetic as the kernel does ("underflow shouldn't
  matter": ``start = INT_MIN`` still yields ``INT_MIN`` first); an
  exhausted, destroyed or failed iterator holds ``cur = end = 0`` and ``next`` returns
  ``None`` forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from arspec.spec.errno import E2BIG, EINVAL
from arspec.spec.types import U32_MASK

#: Size of ``struct bpf_iter_num`` on the stack.
BPF_ITER_NUM_SIZE: Final = 8


@dataclass
class IterNum:
    """The decoded state of a ``struct bpf_iter_num`` (both fields are s32)."""

    cur: int = 0
    end: int = 0


def compute_s32(value: int) -> int:
    """Return the low 32 bits of ``value`` read as a signed 32-bit integer."""
    value &= U32_MASK
    return value - (1 << 32) if value >> 31 else value


def check_loop_args(nr_loops: int, flags: int, max_loops: int) -> int:
    """Return 0 if ``bpf_loop`` may start, ``-EINVAL`` for flags, ``-E2BIG`` for too many loops."""
    if flags != 0:
        return -EINVAL
    if nr_loops & U32_MASK > max_loops:
        return -E2BIG
    return 0


def process_loop(
    nr_loops: int, flags: int, max_loops: int, callback: Callable[[int], int]
) -> int:
    """Run ``bpf_loop``: call ``callback(index)`` for index 0, 1, ...; return iterations run.

    A non-zero callback result stops the loop after that iteration (counted). Errors are
    returned before the first call.
    """
    error = check_loop_args(nr_loops, flags, max_loops)
    if error != 0:
        return error
    count = nr_loops & U32_MASK
    for index in range(count):
        if callback(index) != 0:
            return index + 1
    return count


def process_iter_num_new(it: IterNum, start: int, end: int, max_loops: int) -> int:
    """Start an iterator over ``[start, end)``; 0, ``-EINVAL`` if start > end, ``-E2BIG``.

    ``-E2BIG`` when ``end - start > max_loops``. On error the iterator is left empty.
    """
    start, end = compute_s32(start), compute_s32(end)
    if start > end:
        process_iter_num_destroy(it)
        return -EINVAL
    if end - start > max_loops:
        process_iter_num_destroy(it)
        return -E2BIG
    it.cur = compute_s32(start - 1)
    it.end = end
    return 0


def process_iter_num_next(it: IterNum) -> int | None:
    """Advance the iterator; return the new current value, or ``None`` when exhausted."""
    following = compute_s32(it.cur + 1)
    if following >= it.end:
        process_iter_num_destroy(it)
        return None
    it.cur = following
    return it.cur


def process_iter_num_destroy(it: IterNum) -> None:
    """Empty the iterator (every path must destroy it, even after ``new`` failed)."""
    it.cur = 0
    it.end = 0


def compute_iter_num_bytes(it: IterNum) -> bytes:
    """Return the 8 stack bytes of the iterator: s32 cur, s32 end, little-endian."""
    return it.cur.to_bytes(4, "little", signed=True) + it.end.to_bytes(4, "little", signed=True)


def get_iter_num(raw: bytes) -> IterNum:
    """Return the iterator stored in 8 stack bytes."""
    # Verify the state is exactly one struct bpf_iter_num
    assert len(raw) == BPF_ITER_NUM_SIZE
    cur = int.from_bytes(raw[0:4], "little", signed=True)
    end = int.from_bytes(raw[4:8], "little", signed=True)
    return IterNum(cur=cur, end=end)
