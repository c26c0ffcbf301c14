"""
Helper table
============

Every helper a program may call, as data: one frozen :class:`HelperDef` row per helper with its
id, name, argument contracts, return kind, compute-unit cost, determinism and the profiles that
allow it. The verifier reads the argument kinds, the VM binds the rows to spec transitions, and
the documentation renders the table; none of them keeps its own copy.

Ids and names
-------------
Helpers Linux has keep Linux's ``enum bpf_func_id`` value and name (Linux
``include/uapi/linux/bpf.h``). arspec's own helpers (the slot clock, accounts, the work queue
and number-iterator kfuncs, logging) live in one range, ``ARSPEC_HELPER_BASE + n`` with
``ARSPEC_HELPER_BASE = 0x10000``: far above Linux's ids (``__BPF_FUNC_MAX_ID`` is 212) and
inside a signed 32-bit immediate. Linux calls ``bpf_wq_*`` and ``bpf_iter_num_*`` as kfuncs
(``call`` with ``src = 2`` and a BTF id); arspec has no BTF, so they are ordinary helpers in its
range under their Linux names.

In the ``solana`` profile a program calls a helper by name: the ``call`` immediate is
``murmur3_32(name)`` of the row's :attr:`HelperDef.name` (``"bpf_map_lookup_elem"``), the
way sBPF resolves syscalls; the VM computes the hash.

Profiles and determinism
------------------------
``linux`` allows every helper. ``solana`` is the consensus profile: it refuses the
nondeterministic helpers (wall-clock time, random numbers, CPU id) and ``bpf_trace_printk``,
whose output format is kernel-defined (``arspec_log`` replaces it).
:func:`check_helper_allowed` raises :class:`~arspec.spec.errors.HelperNotAllowed` with the
reason.

Compute-unit costs
------------------
The VM charges 1 CU per executed instruction; a helper call adds :func:`compute_helper_cost`,
its row's ``cost`` plus, for helpers that copy a caller-sized buffer, one CU per
``BYTES_PER_CU`` bytes of the size argument (register ``size_arg``). The figures follow
Solana's cost model (Agave ``program-runtime/src/execution_budget.rs``):

=====================  ======  ===========================================================
cost                   CU      reason
=====================  ======  ===========================================================
``SYSCALL_BASE_COST``  100     agave's ``syscall_base_cost``: any call that leaves the VM
``ASYNC_START_COST``   1000    ``timer_start``, ``wq_start``, ``sol_watch_account``:
                               commit the scheduler to run a callback later, priced
                               like a CPI (agave ``invoke_units``)
``ITER_COST``          10      ``iter_num_*``: touch 8 stack bytes once per iteration
                               (agave ``mem_op_base_cost``; Linux inlines them)
``BYTES_PER_CU``       250     per-byte rate of copies (agave ``cpi_bytes_per_unit``)
=====================  ======  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from arspec.spec.errors import HelperNotAllowed, SpecError, UnknownHelper
from arspec.spec.types import ComputeUnits, HelperId

PROFILE_LINUX: Final = "linux"
PROFILE_SOLANA: Final = "solana"
#: Every profile, in a fixed order.
PROFILES: Final = (PROFILE_LINUX, PROFILE_SOLANA)

#: First id of arspec's own helpers.
ARSPEC_HELPER_BASE: Final = 0x10000

SYSCALL_BASE_COST: Final = ComputeUnits(100)
ASYNC_START_COST: Final = ComputeUnits(1000)
ITER_COST: Final = ComputeUnits(10)
BYTES_PER_CU: Final = 250


class ArgKind(Enum):
    """What a helper argument register must hold (Linux ``enum bpf_arg_type`` names)."""

    ANYTHING = "any value"
    CONST_MAP_PTR = "a map reference (lddw map)"
    PTR_TO_MAP_KEY = "pointer to key_size readable bytes"
    PTR_TO_MAP_VALUE = "pointer to value_size readable bytes"
    PTR_TO_UNINIT_MAP_VALUE = "pointer to value_size writable bytes"
    PTR_TO_MEM = "pointer to readable bytes, sized by the next argument"
    PTR_TO_UNINIT_MEM = "pointer to writable bytes, sized by the next argument"
    CONST_SIZE = "a size > 0 for the previous pointer argument"
    CONST_SIZE_OR_ZERO = "a size >= 0 for the previous pointer argument"
    CONST_ALLOC_SIZE_OR_ZERO = "a constant size >= 0, for a new allocation"
    PTR_TO_CTX = "the program's context pointer"
    PTR_TO_TIMER = "pointer to a bpf_timer field inside a map value"
    PTR_TO_WQ = "pointer to a bpf_wq field inside a map value"
    PTR_TO_FUNC = "the address of a static function of the program"
    PTR_TO_STACK_OR_NULL = "pointer into the stack, or NULL"
    PTR_TO_ALLOC_MEM = "a ring-buffer record returned by ringbuf_reserve (released)"
    PTR_TO_UNINIT_STACK_ITER = "pointer to an 8-aligned bpf_iter_num on the stack (new)"
    PTR_TO_STACK_ITER = "pointer to an initialised bpf_iter_num on the stack"
    PTR_TO_SPIN_LOCK = "pointer to the bpf_spin_lock field of a map value"
    PTR_TO_UNINIT_DYNPTR = "pointer to an 8-aligned 16-byte bpf_dynptr on the stack (new)"
    PTR_TO_DYNPTR = "pointer to an initialised bpf_dynptr on the stack"


class RetKind(Enum):
    """What a helper leaves in ``r0``."""

    INTEGER = "integer (0 or a count on success, -errno on failure)"
    VOID = "nothing (r0 is unknown afterwards)"
    PTR_TO_MAP_VALUE_OR_NULL = "pointer to a map value, or NULL"
    PTR_TO_ALLOC_MEM_OR_NULL = "pointer to a new ring-buffer record, or NULL"
    PTR_TO_ITER_VALUE_OR_NULL = "pointer to the iterator's current s32, or NULL when done"
    PTR_TO_DYNPTR_MEM_OR_NULL = "pointer to len bytes of the dynptr's data, or NULL"


@dataclass(frozen=True)
class HelperDef:
    """One helper: identity, contract, cost, determinism and where it is allowed.

    ``size_arg`` is the 1-based argument register whose value is the number of bytes the
    helper copies (charged per ``BYTES_PER_CU``), or ``None``. ``map_types`` are the map
    types (bundle names) its ``CONST_MAP_PTR`` argument may name; empty: any map.
    """

    id: HelperId
    name: str
    args: tuple[ArgKind, ...]
    ret: RetKind
    cost: ComputeUnits
    deterministic: bool
    profiles: tuple[str, ...]
    summary: str
    size_arg: int | None = None
    map_types: tuple[str, ...] = ()


A = ArgKind
BOTH = PROFILES
LINUX_ONLY = (PROFILE_LINUX,)


def make_helper(
    id: int,
    name: str,
    args: tuple[ArgKind, ...],
    ret: RetKind,
    summary: str,
    *,
    cost: ComputeUnits = SYSCALL_BASE_COST,
    deterministic: bool = True,
    profiles: tuple[str, ...] = BOTH,
    size_arg: int | None = None,
    map_types: tuple[str, ...] = (),
) -> HelperDef:
    """Return a table row (a shorthand that keeps the table below one row per helper)."""
    return HelperDef(
        HelperId(id), name, args, ret, cost, deterministic, profiles, summary, size_arg,
        map_types,
    )


def make_nondeterministic(id: int, name: str, summary: str) -> HelperDef:
    """Return a row for an argument-less helper that reads the machine, refused in solana."""
    return make_helper(
        id, name, (), RetKind.INTEGER, summary, deterministic=False, profiles=LINUX_ONLY
    )


INT = RetKind.INTEGER
MAP_OPS = (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY)
#: Map types of the ``CONST_MAP_PTR`` argument (Linux ``check_map_func_compatibility`` in
#: ``kernel/bpf/verifier.c``: a program array only for ``bpf_tail_call``, a ring buffer
#: only for ``bpf_ringbuf_*``, a queue or stack only for push / pop / peek).
KEYED_MAPS = ("hash", "array", "percpu_array", "percpu_hash", "lru_hash")
QUEUE_MAPS = ("queue", "stack")
RING_MAPS = ("ringbuf",)
PROG_MAPS = ("prog_array",)
#: Map types whose values may hold a ``bpf_timer`` / ``bpf_wq`` (``map_check_btf``).
ASYNC_MAPS = ("hash", "array", "lru_hash")
#: The helper table, one row per helper, in increasing id order.
HELPER_TABLE: Final[tuple[HelperDef, ...]] = (
    make_helper(1, "bpf_map_lookup_elem", MAP_OPS, RetKind.PTR_TO_MAP_VALUE_OR_NULL,
                "Return a pointer to the value of a key, or NULL.", map_types=KEYED_MAPS),
    make_helper(2, "bpf_map_update_elem",
                (*MAP_OPS, A.PTR_TO_MAP_VALUE, A.ANYTHING), INT,
                "Insert or replace a key's value (flags ANY / NOEXIST / EXIST).",
                map_types=KEYED_MAPS),
    make_helper(3, "bpf_map_delete_elem", MAP_OPS, INT, "Delete a key.", map_types=KEYED_MAPS),
    make_nondeterministic(5, "bpf_ktime_get_ns", "Monotonic wall-clock time in ns."),
    make_helper(6, "bpf_trace_printk",
                (A.PTR_TO_MEM, A.CONST_SIZE, A.ANYTHING, A.ANYTHING, A.ANYTHING), INT,
                "Format up to three values into the trace log (kernel format rules).",
                profiles=LINUX_ONLY, size_arg=2),
    make_nondeterministic(7, "bpf_get_prandom_u32", "A pseudo-random 32-bit number."),
    make_nondeterministic(8, "bpf_get_smp_processor_id", "The id of the current CPU."),
    make_helper(12, "bpf_tail_call", (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING), RetKind.VOID,
                "Replace the running program by a PROG_ARRAY slot; falls through on failure.",
                map_types=PROG_MAPS),
    make_helper(87, "bpf_map_push_elem", (A.CONST_MAP_PTR, A.PTR_TO_MAP_VALUE, A.ANYTHING), INT,
                "Push a value onto a queue or stack (BPF_EXIST overwrites the oldest).",
                map_types=QUEUE_MAPS),
    make_helper(88, "bpf_map_pop_elem", (A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MAP_VALUE), INT,
                "Remove the next value of a queue or stack into a buffer.", map_types=QUEUE_MAPS),
    make_helper(89, "bpf_map_peek_elem", (A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MAP_VALUE), INT,
                "Copy the next value of a queue or stack into a buffer.", map_types=QUEUE_MAPS),
    # spin locks (arspec.spec.spinlock)
    make_helper(93, "bpf_spin_lock", (A.PTR_TO_SPIN_LOCK,), RetKind.VOID,
                "Take a map value's lock; no other call until the unlock."),
    make_helper(94, "bpf_spin_unlock", (A.PTR_TO_SPIN_LOCK,), RetKind.VOID,
                "Release the lock taken by bpf_spin_lock (required before exit)."),
    make_nondeterministic(125, "bpf_ktime_get_boot_ns", "Boot-time clock in ns."),
    make_helper(130, "bpf_ringbuf_output",
                (A.CONST_MAP_PTR, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING), INT,
                "Copy a buffer into the ring as one record (reserve + copy + submit).",
                size_arg=3, map_types=RING_MAPS),
    make_helper(131, "bpf_ringbuf_reserve",
                (A.CONST_MAP_PTR, A.CONST_ALLOC_SIZE_OR_ZERO, A.ANYTHING),
                RetKind.PTR_TO_ALLOC_MEM_OR_NULL,
                "Reserve a record; the program must submit or discard it.", map_types=RING_MAPS),
    make_helper(132, "bpf_ringbuf_submit", (A.PTR_TO_ALLOC_MEM, A.ANYTHING), RetKind.VOID,
                "Commit a reserved record for the consumer."),
    make_helper(133, "bpf_ringbuf_discard", (A.PTR_TO_ALLOC_MEM, A.ANYTHING), RetKind.VOID,
                "Commit a reserved record as discarded (the consumer skips it)."),
    make_helper(134, "bpf_ringbuf_query", (A.CONST_MAP_PTR, A.ANYTHING), INT,
                "Report available data, size, consumer or producer position.",
                map_types=RING_MAPS),
    make_nondeterministic(160, "bpf_ktime_get_coarse_ns", "Coarse monotonic clock in ns."),
    make_helper(169, "bpf_timer_init", (A.PTR_TO_TIMER, A.CONST_MAP_PTR, A.ANYTHING), INT,
                "Initialise a timer (flags: clock id, meaningless in slots).",
                map_types=ASYNC_MAPS),
    make_helper(170, "bpf_timer_set_callback", (A.PTR_TO_TIMER, A.PTR_TO_FUNC), INT,
                "Set the function the timer calls when it fires."),
    make_helper(171, "bpf_timer_start", (A.PTR_TO_TIMER, A.ANYTHING, A.ANYTHING), INT,
                "Arm the timer: a slot delay, or an absolute slot with BPF_F_TIMER_ABS.",
                cost=ASYNC_START_COST),
    make_helper(172, "bpf_timer_cancel", (A.PTR_TO_TIMER,), INT,
                "Disarm the timer and clear its callback; 1 if it was armed."),
    make_helper(181, "bpf_loop",
                (A.ANYTHING, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING), INT,
                "Call a function nr_loops times (or until it returns non-zero)."),
    # dynamic pointers (arspec.spec.dynptr)
    make_helper(197, "bpf_dynptr_from_mem",
                (A.PTR_TO_UNINIT_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING, A.PTR_TO_UNINIT_DYNPTR),
                INT, "Make a local dynptr over a stack or map-value buffer."),
    make_helper(198, "bpf_ringbuf_reserve_dynptr",
                (A.CONST_MAP_PTR, A.ANYTHING, A.ANYTHING, A.PTR_TO_UNINIT_DYNPTR), INT,
                "Reserve a record of run-time size as a dynptr; release it even on failure.",
                map_types=RING_MAPS),
    make_helper(199, "bpf_ringbuf_submit_dynptr", (A.PTR_TO_DYNPTR, A.ANYTHING), RetKind.VOID,
                "Commit a ring-buffer dynptr's record for the consumer."),
    make_helper(200, "bpf_ringbuf_discard_dynptr", (A.PTR_TO_DYNPTR, A.ANYTHING), RetKind.VOID,
                "Commit a ring-buffer dynptr's record as discarded."),
    make_helper(201, "bpf_dynptr_read",
                (A.PTR_TO_UNINIT_MEM, A.CONST_SIZE_OR_ZERO, A.PTR_TO_DYNPTR, A.ANYTHING,
                 A.ANYTHING), INT,
                "Copy len bytes at an offset of a dynptr into a buffer.", size_arg=2),
    make_helper(202, "bpf_dynptr_write",
                (A.PTR_TO_DYNPTR, A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING),
                INT, "Copy a buffer into a dynptr at an offset.", size_arg=4),
    make_helper(203, "bpf_dynptr_data", (A.PTR_TO_DYNPTR, A.ANYTHING, A.CONST_ALLOC_SIZE_OR_ZERO),
                RetKind.PTR_TO_DYNPTR_MEM_OR_NULL,
                "Pointer to len bytes at an offset of a dynptr, or NULL (check it)."),
    make_nondeterministic(208, "bpf_ktime_get_tai_ns", "TAI clock in ns."),
    make_helper(ARSPEC_HELPER_BASE + 0, "arspec_get_slot", (), INT, "The current slot."),
    make_helper(ARSPEC_HELPER_BASE + 1, "arspec_account_read",
                (A.ANYTHING, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), INT,
                "Copy bytes of an account (by index, at an offset) into a buffer.",
                size_arg=4),
    make_helper(ARSPEC_HELPER_BASE + 2, "arspec_account_write",
                (A.ANYTHING, A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE), INT,
                "Copy a buffer into a writable account (by index, at an offset).",
                size_arg=4),
    make_helper(ARSPEC_HELPER_BASE + 3, "bpf_wq_init", (A.PTR_TO_WQ, A.CONST_MAP_PTR, A.ANYTHING),
                INT, "Initialise a work item (flags must be 0).", map_types=ASYNC_MAPS),
    make_helper(ARSPEC_HELPER_BASE + 4, "bpf_wq_set_callback",
                (A.PTR_TO_WQ, A.PTR_TO_FUNC, A.ANYTHING), INT,
                "Set the function the work item runs (flags must be 0)."),
    make_helper(ARSPEC_HELPER_BASE + 5, "bpf_wq_start", (A.PTR_TO_WQ, A.ANYTHING), INT,
                "Queue the work item (coalesces if already queued).", cost=ASYNC_START_COST),
    make_helper(ARSPEC_HELPER_BASE + 6, "bpf_iter_num_new",
                (A.PTR_TO_UNINIT_STACK_ITER, A.ANYTHING, A.ANYTHING), INT,
                "Start a number iterator over [start, end).", cost=ITER_COST),
    make_helper(ARSPEC_HELPER_BASE + 7, "bpf_iter_num_next", (A.PTR_TO_STACK_ITER,),
                RetKind.PTR_TO_ITER_VALUE_OR_NULL,
                "Advance the iterator; NULL when exhausted.", cost=ITER_COST),
    make_helper(ARSPEC_HELPER_BASE + 8, "bpf_iter_num_destroy", (A.PTR_TO_STACK_ITER,),
                RetKind.VOID, "Release the iterator (required on every path).", cost=ITER_COST),
    make_helper(ARSPEC_HELPER_BASE + 9, "arspec_log", (A.PTR_TO_MEM, A.CONST_SIZE), INT,
                "Append a message to the invocation's log; returns 0.", size_arg=2),
    # Watchers registered at run time (arspec.spec.runtime_watchers).
    make_helper(ARSPEC_HELPER_BASE + 10, "sol_watch_account",
                (A.PTR_TO_MEM, A.CONST_SIZE, A.PTR_TO_FUNC, A.ANYTHING), INT,
                "Watch an account field (24-byte criteria); the watcher id or -errno.",
                cost=ASYNC_START_COST),
    make_helper(ARSPEC_HELPER_BASE + 11, "sol_unwatch_account", (A.ANYTHING,), INT,
                "Remove one of the caller's run-time watchers; 0 or -ENOENT."),
)

#: The table by id and by name.
HELPERS_BY_ID: Final[dict[int, HelperDef]] = {h.id: h for h in HELPER_TABLE}
HELPERS_BY_NAME: Final[dict[str, HelperDef]] = {h.name: h for h in HELPER_TABLE}


def get_helpers() -> tuple[HelperDef, ...]:
    """Return every helper in increasing id order."""
    return tuple(sorted(HELPER_TABLE, key=lambda h: h.id))


def get_helper(helper_id: int) -> HelperDef:
    """Return the helper with id ``helper_id``; raise :class:`UnknownHelper` if none."""
    if helper_id not in HELPERS_BY_ID:
        raise UnknownHelper(f"unknown helper id {helper_id}")
    return HELPERS_BY_ID[helper_id]


def get_helper_by_name(name: str) -> HelperDef:
    """Return the helper called ``name`` (e.g. ``"bpf_map_lookup_elem"``)."""
    if name not in HELPERS_BY_NAME:
        raise UnknownHelper(f"unknown helper {name!r}")
    return HELPERS_BY_NAME[name]


def is_helper_allowed(helper: HelperDef, profile_name: str) -> bool:
    """Return whether the profile allows the helper."""
    return profile_name in helper.profiles


def check_helper_allowed(helper_id_or_name: int | str, profile_name: str) -> None:
    """Raise unless the profile allows the helper (given by id or by name)."""
    if profile_name not in PROFILES:
        raise SpecError(f"unknown profile {profile_name!r}; choose one of: {', '.join(PROFILES)}")
    if isinstance(helper_id_or_name, str):
        helper = get_helper_by_name(helper_id_or_name)
    else:
        helper = get_helper(helper_id_or_name)
    if is_helper_allowed(helper, profile_name):
        return
    label = f"helper {helper.name} ({helper.id})"
    if not helper.deterministic and profile_name == PROFILE_SOLANA:
        raise HelperNotAllowed(
            f"{label} is nondeterministic and refused in the solana (consensus) profile"
        )
    raise HelperNotAllowed(f"{label} is not available in the {profile_name} profile")


def compute_helper_cost(helper: HelperDef, size: int = 0) -> ComputeUnits:
    """Return the CU of one call; ``size`` is the value of the row's ``size_arg`` register."""
    if helper.size_arg is None:
        return helper.cost
    return ComputeUnits(helper.cost + max(size, 0) // BYTES_PER_CU)
