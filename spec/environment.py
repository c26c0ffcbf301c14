"""
Values from the machine
=======================

What the helpers that read the machine return: the clocks, the pseudo-random generator and
the CPU number. On Linux they are nondeterministic; here each is a function of the slot and
the work item, so a run is reproducible. They are still refused in the ``solana`` profile
(:attr:`~arspec.spec.helpers.HelperDef.deterministic`), where a program reads the clock
through the ``Clock`` sysvar only.

* **Clocks.** ``bpf_ktime_get_ns``, ``bpf_ktime_get_boot_ns`` and ``bpf_ktime_get_coarse_ns``
  (Linux ``kernel/bpf/helpers.c``: monotonic nanoseconds) return the start of the current slot,
  :func:`compute_ktime_ns`: ``slot * NS_PER_SLOT``, with :data:`NS_PER_SLOT` Solana's 400 ms
  target slot time (Agave ``sdk/clock`` ``DEFAULT_MS_PER_SLOT``). So the clock never moves
  inside a slot, and every invocation of a slot reads the same time.
* **The Clock sysvar** (``sol_get_clock_sysvar``; Agave ``sdk/clock``, ``Clock``):
  ``unix_timestamp`` is the slot's start in whole seconds, :func:`compute_unix_timestamp`;
  the epoch fields stay 0 (a scenario spans no epoch boundary).
* **Pseudo-random numbers.** ``bpf_get_prandom_u32`` (Linux ``kernel/bpf/helpers.c``, a
  per-CPU generator) returns the low 32 bits of splitmix64 (Steele, Lea and Flood, *Fast
  splittable pseudorandom number generators*, OOPSLA 2014) of the seed
  :func:`compute_prandom_seed` (slot, the work item's sequence number, the call's number
  within the invocation, counting from 1).
* **The CPU number.** ``bpf_get_smp_processor_id`` returns the CPU the scheduler gave the
  invocation (:mod:`arspec.spec.scheduler`).
"""

from __future__ import annotations

from typing import Final

from arspec.spec.types import U32_MASK, U64_MASK

#: Nanoseconds per slot (Solana's 400 ms target slot time).
NS_PER_SLOT: Final = 400_000_000
_NS_PER_SECOND: Final = 1_000_000_000


def compute_ktime_ns(slot: int) -> int:
    """Return what the ``ktime`` helpers return in ``slot``: the slot's start, in ns."""
    return (slot * NS_PER_SLOT) & U64_MASK


def compute_unix_timestamp(slot: int) -> int:
    """Return the ``Clock`` sysvar's ``unix_timestamp`` in ``slot`` (whole seconds)."""
    return slot * NS_PER_SLOT // _NS_PER_SECOND


def compute_splitmix64(seed: int) -> int:
    """Return the splitmix64 output for ``seed`` (one step of the generator)."""
    z = (seed + 0x9E3779B97F4A7C15) & U64_MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64_MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64_MASK
    return z ^ (z >> 31)


def compute_prandom_seed(slot: int, item_seq: int, call: int) -> int:
    """Return the seed of the ``call``-th (from 1) ``bpf_get_prandom_u32`` of a work item."""
    return (slot << 40) ^ (item_seq << 16) ^ call


def compute_prandom_u32(slot: int, item_seq: int, call: int) -> int:
    """Return what the ``call``-th ``bpf_get_prandom_u32`` of a work item returns."""
    return compute_splitmix64(compute_prandom_seed(slot, item_seq, call)) & U32_MASK
