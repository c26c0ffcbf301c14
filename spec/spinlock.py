"""
Spin locks
==========

``bpf_spin_lock`` (helper 93) and ``bpf_spin_unlock`` (helper 94) with Linux's ids and rules
(Linux ``kernel/bpf/helpers.c``: ``__bpf_spin_lock_irqsave``; ``kernel/bpf/verifier.c``:
``process_spin_lock``, ``check_map_access``). A ``struct bpf_spin_lock`` is 4 bytes, 4-aligned,
and lives only in a map value, at the offset the bundle declares (``spin_lock:`` of a map, or
from BTF for an ELF program); a value holds at most one. Only HASH and ARRAY values may hold
one (Linux ``map_check_btf``).

What the lock means here
------------------------
An invocation runs to completion: nothing else runs between two of its instructions, so in
the runtime as specified a lock can never be contended. The decision: **the lock gives mutual
exclusion against a parallel executor** -- a future runtime that runs several invocations at
once on different cores, where invocations touching the same map value may interleave at
instruction (and helper-call) granularity. The spec fixes what such an executor must
guarantee: between ``bpf_spin_lock(&v->lock)`` and ``bpf_spin_unlock(&v->lock)`` no other
invocation runs an instruction inside a region locked on the same value, and atomic
instructions (``lock xadd`` and the other ``BPF_ATOMIC`` forms) are indivisible. Programs
written to these rules give the same results under the sequential runtime and under any such
interleaving; :mod:`arspec.model.interleave` explores the interleavings of a bundle program
and checks that claim (it finds the lost update of an unprotected read-modify-write).

The sequential runtime still enforces the lock discipline, so that a counterexample the
verifier reports replays as a fault:

* ``bpf_spin_lock`` while a lock is held faults (Linux's verifier refuses a nested lock;
  on a real executor it would deadlock).
* ``bpf_spin_unlock`` of a lock that is not the held one faults.
* Any other helper call while a lock is held faults (Linux: "function calls are not allowed
  while holding a lock"); so does ending the program with the lock held ("bpf_spin_unlock is
  missing").
* A bpf-to-bpf call while a lock is held faults at the call (the same Linux message), and
  a bpf-to-bpf function that returns (``exit`` in a callee frame) holding a lock faults at
  that ``exit`` (Linux checks every ``exit``: "bpf_spin_unlock is missing"). A callback's own
  ``exit`` returns to the helper that called it, which could not have been called with the
  lock held; a lock the callback takes and keeps faults at the next call or at the end.
* A load, store or atomic instruction touching any of the 4 bytes of a ``bpf_spin_lock`` in
  a map value faults, whether or not the lock is held (Linux ``check_map_access``:
  "bpf_spin_lock cannot be accessed directly by load/store"; :data:`LOCK_ACCESS_REASON`).
  Helpers that copy whole values leave the lock bytes alone (below).
* The lock word is ``1`` while held and ``0`` otherwise. A fault rolls the whole invocation
  back, lock word included. Like Linux's ``copy_map_value`` an update of the element never
  copies the lock bytes.

So each lock rule the verifier checks is also a run-time fault, and its findings are REFUTED
with a counterexample that replays.

Departures from Linux, each forced by run-to-completion:

* **Misuse faults at run time** as well as being refused by the verifier, so that a
  counterexample replays; Linux only refuses at load time.
* **The lock word is 1 / 0** (Linux's ``arch_spinlock_t`` encoding is per architecture). A
  program cannot observe it: loads and stores that touch it fault.
* **No interrupts to disable.** Linux's ``__bpf_spin_lock_irqsave`` masks interrupts; here
  nothing can preempt an invocation.
* **No ``BPF_F_LOCK``** on map updates: only programs touch values, under their own lock.
* **Helper buffers over the lock are not refused.** Linux's ``check_map_access`` also
  refuses a helper's memory argument that covers the lock; here only instructions are
  checked, and neither the runtime nor the verifier refuses such an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from arspec.spec.errors import ExecutionFault, HelperFault

#: Size of ``struct bpf_spin_lock`` inside a map value.
BPF_SPIN_LOCK_SIZE: Final = 4
#: Required alignment of ``struct bpf_spin_lock``.
BPF_SPIN_LOCK_ALIGN: Final = 4
#: The lock word while held and while free.
LOCK_HELD: Final = 1
LOCK_FREE: Final = 0
#: Map types whose values may hold a lock (bundle names; Linux ``map_check_btf``).
SPIN_LOCK_MAPS: Final = ("hash", "array")
#: The only helper a program may call while it holds a lock.
UNLOCK_HELPER: Final = "bpf_spin_unlock"
#: Why a load or store of a lock's bytes faults (the memory fault's reason).
LOCK_ACCESS_REASON: Final = "bpf_spin_lock cannot be accessed directly by load/store"


class SpinLockFault(ExecutionFault):
    """A bpf-to-bpf call, or a return from one, while a ``bpf_spin_lock`` is held."""

    kind = "spin-lock fault"


@dataclass(frozen=True)
class HeldLock:
    """The lock an invocation holds: the address of the lock word and where it lives."""

    address: int
    map_id: str


def check_lock_free(held: HeldLock | None, pc: int) -> None:
    """Raise unless no lock is held (``bpf_spin_lock`` may not nest)."""
    if held is not None:
        raise HelperFault(pc, f"bpf_spin_lock while holding the lock at {held.address:#x} "
                              f"of {held.map_id!r} (nested locks are refused)")


def check_unlock(held: HeldLock | None, address: int, pc: int) -> None:
    """Raise unless ``address`` is the lock the invocation holds."""
    if held is None:
        raise HelperFault(pc, f"bpf_spin_unlock of {address:#x} without taking a lock")
    if held.address != address:
        raise HelperFault(pc, f"bpf_spin_unlock of {address:#x}, but the lock held is "
                              f"{held.address:#x}")


def check_call_allowed(held: HeldLock | None, helper: str, pc: int) -> None:
    """Raise when ``helper`` is called while a lock is held (only the unlock may be)."""
    if held is not None and helper != UNLOCK_HELPER:
        raise HelperFault(pc, f"{helper} called while holding a bpf_spin_lock (only "
                              "bpf_spin_unlock may be called)")


def check_local_call_allowed(held: HeldLock | None, pc: int) -> None:
    """Raise when a bpf-to-bpf call is made while a lock is held."""
    if held is not None:
        raise SpinLockFault(pc, f"bpf-to-bpf call while holding the lock at {held.address:#x} "
                                f"of {held.map_id!r} (function calls are not allowed while "
                                "holding a lock)")


def check_local_return_allowed(held: HeldLock | None, pc: int) -> None:
    """Raise when a bpf-to-bpf function returns while a lock is held."""
    if held is not None:
        raise SpinLockFault(pc, f"bpf-to-bpf function returns holding the lock at "
                                f"{held.address:#x} of {held.map_id!r} (bpf_spin_unlock is "
                                "missing)")


def check_released_at_exit(held: HeldLock | None) -> str | None:
    """Return the fault text when the program ends holding a lock, else ``None``."""
    if held is None:
        return None
    return f"bpf_spin_unlock is missing: the lock at {held.address:#x} of {held.map_id!r} " \
           "is held at exit"


def process_lock_word(value: bytearray, offset: int, held: bool) -> None:
    """Write the lock word (``LOCK_HELD`` or ``LOCK_FREE``) into the value bytes."""
    word = LOCK_HELD if held else LOCK_FREE
    value[offset:offset + BPF_SPIN_LOCK_SIZE] = word.to_bytes(BPF_SPIN_LOCK_SIZE, "little")
