"""
The sol_* syscall interface
===========================

In the ``solana`` profile a program calls the runtime by ``murmur3_32(name)`` in the ``call``
immediate, the way Agave resolves syscalls (anza-xyz/sbpf ``src/ebpf.rs``). Three name sets
resolve there, each to one row of a contract table:

* every helper of :data:`~arspec.spec.helpers.HELPER_TABLE` by its own name (the Linux names,
  ``bpf_timer_start``, keep working);
* the design's ``sol_*`` names (:data:`SOL_ALIASES`), each the **same transition** as the
  helper it names: same arguments, result, cost and verifier contract;
* the Agave syscalls the profile already runs (:data:`AGAVE_SYSCALL_TABLE`: logging, memory
  operations, hashes, the clock sysvar), with contracts for the verifier.

``sol_watch_account`` and ``sol_unwatch_account`` are helper-table rows of their own
(:mod:`arspec.spec.runtime_watchers`). In the ``linux`` profile none of the aliases or Agave
syscalls exist: Linux programs call helpers by id.

==========================  ============================================================
sol_* name                  transition
==========================  ============================================================
``sol_timer_init``          ``bpf_timer_init(timer, map, flags)``
``sol_timer_set_callback``  ``bpf_timer_set_callback(timer, callback)``
``sol_timer_start``         ``bpf_timer_start(timer, slots, flags)`` (delays in slots)
``sol_timer_cancel``        ``bpf_timer_cancel(timer)``
``sol_wq_init``             ``bpf_wq_init(wq, map, flags)``
``sol_wq_set_callback``     ``bpf_wq_set_callback(wq, callback, flags)``
``sol_wq_start``            ``bpf_wq_start(wq, flags)``
``sol_ringbuf_reserve``     ``bpf_ringbuf_reserve(ring, size, flags)``
``sol_ringbuf_submit``      ``bpf_ringbuf_submit(record, flags)``
``sol_ringbuf_discard``     ``bpf_ringbuf_discard(record, flags)``
``sol_ringbuf_output``      ``bpf_ringbuf_output(ring, data, size, flags)``
``sol_tail_call``           ``bpf_tail_call(ctx, prog_array, index)``
``sol_iter_num_new``        ``bpf_iter_num_new(it, start, end)``
``sol_iter_num_next``       ``bpf_iter_num_next(it)``
``sol_iter_num_destroy``    ``bpf_iter_num_destroy(it)``
==========================  ============================================================

Agave syscall contracts
-----------------------
The costs and effects are Agave's (``syscalls/src/logging.rs``, ``mem_ops.rs``,
``sysvar.rs``; see :mod:`arspec.reference.runtime.solana_syscalls`). The argument kinds below are
what the verifier checks generically; :attr:`SyscallDef.cost` says how the cost grows.
``sol_log_data``, ``sol_sha256`` and ``sol_keccak256`` read an array of ``(ptr, len)`` slices
whose pointers the verifier does not follow: their memory and compute verdicts are UNKNOWN.
``sol_panic_`` and ``abort`` always fail the invocation. ``sol_get_clock_sysvar`` writes the
40-byte ``Clock`` of the current slot (deterministic: every replica sees the same slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from arspec.spec.helpers import (
    HELPER_TABLE,
    HELPERS_BY_NAME,
    PROFILE_SOLANA,
    SYSCALL_BASE_COST,
    ArgKind,
    HelperDef,
    RetKind,
    make_helper,
)
from arspec.spec.types import ComputeUnits

#: The design's sol_* names and the helper each one is.
SOL_ALIASES: Final[tuple[tuple[str, str], ...]] = (
    ("sol_timer_init", "bpf_timer_init"),
    ("sol_timer_set_callback", "bpf_timer_set_callback"),
    ("sol_timer_start", "bpf_timer_start"),
    ("sol_timer_cancel", "bpf_timer_cancel"),
    ("sol_wq_init", "bpf_wq_init"),
    ("sol_wq_set_callback", "bpf_wq_set_callback"),
    ("sol_wq_start", "bpf_wq_start"),
    ("sol_ringbuf_reserve", "bpf_ringbuf_reserve"),
    ("sol_ringbuf_submit", "bpf_ringbuf_submit"),
    ("sol_ringbuf_discard", "bpf_ringbuf_discard"),
    ("sol_ringbuf_output", "bpf_ringbuf_output"),
    ("sol_tail_call", "bpf_tail_call"),
    ("sol_iter_num_new", "bpf_iter_num_new"),
    ("sol_iter_num_next", "bpf_iter_num_next"),
    ("sol_iter_num_destroy", "bpf_iter_num_destroy"),
)
#: Every name the design lists for the sol_* interface (aliases and the watcher calls).
SOL_INTERFACE: Final = (*(name for name, _ in SOL_ALIASES), "sol_watch_account",
                        "sol_unwatch_account")
#: First id of the Agave syscall rows (the ids :mod:`arspec.reference.runtime.solana_syscalls`
#: uses).
AGAVE_SYSCALL_BASE: Final = 0x5000
#: Agave's ``mem_op_base_cost``.
MEM_OP_BASE_COST: Final = ComputeUnits(10)

A = ArgKind
INT = RetKind.INTEGER
MEM = (A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO)
OUT = (A.PTR_TO_UNINIT_MEM, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO)


@dataclass(frozen=True)
class SyscallDef:
    """One Agave syscall: its contract row and how its cost grows.

    ``cost`` is one of ``"fixed"`` (the row's cost), ``"max_len"`` (``max(row cost, r2)``:
    ``sol_log_``), ``"len"`` (``r2``: ``sol_panic_``), ``"mem_op"`` (``max(10, r3 / 250)``)
    or ``"slices"`` (depends on the slices' lengths: not known to the verifier).
    """

    row: HelperDef
    cost: str


def _syscall(n: int, name: str, args: tuple[ArgKind, ...], summary: str, cost: str,
             base: int = SYSCALL_BASE_COST) -> SyscallDef:
    return SyscallDef(make_helper(AGAVE_SYSCALL_BASE + n, name, args, INT, summary,
                                  cost=ComputeUnits(base), profiles=(PROFILE_SOLANA,)), cost)


#: The Agave syscalls, in :data:`arspec.reference.runtime.solana_syscalls.SYSCALL_NAMES` order.
AGAVE_SYSCALLS: Final[tuple[SyscallDef, ...]] = (
    _syscall(0, "sol_log_", MEM, "Log r2 bytes of UTF-8 text (fails on invalid UTF-8).",
             "max_len"),
    _syscall(1, "sol_log_64_", (A.ANYTHING,) * 5, "Log r1..r5 in hex.", "fixed"),
    _syscall(2, "sol_log_compute_units_", (), "Log the remaining compute units.", "fixed"),
    _syscall(3, "sol_log_pubkey", (A.PTR_TO_MEM,), "Log the 32 bytes at r1 in base58.",
             "fixed"),
    _syscall(4, "sol_log_data", (A.PTR_TO_MEM, A.ANYTHING),
             "Log r2 (ptr, len) slices in base64.", "slices"),
    _syscall(5, "sol_panic_", MEM, "Fail the invocation with a file name, line and column.",
             "len", base=0),
    _syscall(6, "abort", (), "Fail the invocation.", "fixed", base=0),
    _syscall(7, "sol_memcpy_", OUT, "Copy r3 bytes from r2 to r1 (overlap fails).", "mem_op",
             base=MEM_OP_BASE_COST),
    _syscall(8, "sol_memmove_", OUT, "Copy r3 bytes from r2 to r1.", "mem_op",
             base=MEM_OP_BASE_COST),
    _syscall(9, "sol_memset_", (A.PTR_TO_UNINIT_MEM, A.ANYTHING, A.CONST_SIZE_OR_ZERO),
             "Fill r3 bytes at r1 with the low byte of r2.", "mem_op", base=MEM_OP_BASE_COST),
    _syscall(10, "sol_memcmp_", (A.PTR_TO_MEM, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO,
                                 A.PTR_TO_UNINIT_MEM),
             "Compare r3 bytes; the i32 difference at r4 (4-aligned).", "mem_op",
             base=MEM_OP_BASE_COST),
    _syscall(11, "sol_sha256", (A.PTR_TO_MEM, A.ANYTHING, A.PTR_TO_UNINIT_MEM),
             "SHA-256 of r2 slices into the 32 bytes at r3.", "slices", base=85),
    _syscall(12, "sol_keccak256", (A.PTR_TO_MEM, A.ANYTHING, A.PTR_TO_UNINIT_MEM),
             "Keccak-256 of r2 slices into the 32 bytes at r3.", "slices", base=85),
    _syscall(13, "sol_get_clock_sysvar", (A.PTR_TO_UNINIT_MEM,),
             "Write the 40-byte Clock sysvar at r1 (8-aligned).", "fixed", base=140),
)
#: The Agave syscalls by name.
AGAVE_SYSCALLS_BY_NAME: Final = {s.row.name: s for s in AGAVE_SYSCALLS}
#: Agave syscalls that fail whenever they are called.
FAILING_SYSCALLS: Final = frozenset({"sol_panic_", "abort"})


def get_sol_alias_target(name: str) -> HelperDef | None:
    """Return the helper row a sol_* alias names, or ``None`` for another name."""
    target = dict(SOL_ALIASES).get(name)
    return None if target is None else HELPERS_BY_NAME[target]


def get_solana_names() -> dict[str, HelperDef]:
    """Return every name a solana program may call, with the contract row it reaches.

    Helper-table names first (their own rows), then the sol_* aliases (their target's row),
    then the Agave syscalls (their rows).
    """
    names = {row.name: row for row in HELPER_TABLE}
    for alias, target in SOL_ALIASES:
        names[alias] = HELPERS_BY_NAME[target]
    for syscall in AGAVE_SYSCALLS:
        names[syscall.row.name] = syscall.row
    return names
