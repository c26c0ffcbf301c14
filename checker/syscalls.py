"""
Agave syscall contracts
=======================

How a bundle program's call of an Agave syscall (:data:`arspec.spec.syscalls.AGAVE_SYSCALLS`)
is executed symbolically. Costs and faults follow
:mod:`arspec.reference.runtime.solana_syscalls` in its order: the cost is charged first, then
pointers are checked, then memory is written.

Exact:
``sol_log_64_``, ``sol_log_compute_units_`` (no memory, r0 = 0); ``sol_log_pubkey`` (32
readable bytes); ``sol_memcpy_`` / ``sol_memmove_`` / ``sol_memset_`` (readable source,
writable destination, ``memcpy``'s overlap fault; bytes copied exactly up to
``BYTEWISE_LIMIT``, memory forgotten beyond); ``sol_get_clock_sysvar`` (an 8-aligned,
writable 40-byte ``Clock`` with unknown contents); ``abort`` and ``sol_panic_`` (always fail).

Not proved, so never PROVED (a memory finding that stays UNKNOWN):

* ``sol_log_`` fails on invalid UTF-8: proved only when every byte is a known constant;
* ``sol_log_data``, ``sol_sha256``, ``sol_keccak256`` read ``(ptr, len)`` slices the verifier
  does not follow; their compute units depend on the slices, so compute is UNKNOWN too;
* ``sol_memcmp_``'s result is an unknown i32 (its bytes are written, so the state is marked
  approximate: a counterexample that depends on it may not replay).
"""

from __future__ import annotations

from typing import Any, Final

from arspec.spec.syscalls import FAILING_SYSCALLS, SyscallDef

from . import solver as z
from .assertions import HelperArgument, HelperModelled, HelperSucceeds
from .executor_api import BundleMachine
from .symstate import SCALAR, State, Value

#: Largest size argument a cost is computed from (larger ones exceed every budget).
_SIZE_CAP: Final = 1 << 40
#: Syscalls that read ``(ptr, len)`` slices the verifier does not follow.
SLICE_SYSCALLS: Final = frozenset({"sol_log_data", "sol_sha256", "sol_keccak256"})


def _capped(value: Any) -> Any:
    return z.ite(z.ult(value, z.const(_SIZE_CAP)), value, z.const(_SIZE_CAP))


def _at_least(floor: int, value: Any) -> Any:
    return z.ite(z.ult(value, z.const(floor)), z.const(floor), value)


def charge(ex: BundleMachine, pc: int, syscall: SyscallDef, state: State) -> None:
    """Add the syscall's cost to the path's compute units (Agave's formulas)."""
    row = syscall.row
    if syscall.cost == "fixed":
        state.cu = z.add(state.cu, z.const(row.cost))
    elif syscall.cost == "max_len":
        state.cu = z.add(state.cu, _at_least(row.cost, _capped(ex.read(pc, state, 2).value)))
    elif syscall.cost == "len":
        state.cu = z.add(state.cu, _capped(ex.read(pc, state, 2).value))
    elif syscall.cost == "mem_op":
        size = _capped(ex.read(pc, state, 3).value)
        state.cu = z.add(state.cu, _at_least(row.cost, z.udiv(size, 250)))
    else:
        state.cu = ex.fresh("cu")
        ex.cu_exact = False


def fault_if(ex: BundleMachine, pc: int, state: State, assertion: Any, fault: Any) -> None:
    """Record a fault condition of the runtime and continue on the runs without it."""
    ex.require(pc, assertion, state, fault, fault)
    ex.add_fault_exit(state, fault)
    state.path = z.and_(state.path, z.not_(fault))


def misaligned(value: Any, align: int) -> Any:
    """Return the condition that ``value`` is not a multiple of ``align`` (a power of two)."""
    bits = align.bit_length() - 1
    return z.not_(z.eq(z.extract(bits - 1, 0, value), z.const(0, bits)))


def is_valid_text(data: list[int | None]) -> bool | None:
    """Return whether known bytes are UTF-8 (``None`` when a byte is not known)."""
    if any(b is None for b in data):
        return None
    try:
        bytes(b for b in data if b is not None).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_text(ex: BundleMachine, pc: int, syscall: SyscallDef, state: State) -> None:
    """``sol_log_``: the text must be UTF-8, which only known constant bytes prove."""
    name = syscall.row.name
    assertion = HelperArgument(name, 1, "pointer to valid UTF-8 text")
    size = z.value_of(state.regs[2].value)
    verdict: bool | None = None
    if size is not None and size <= 256:
        data: list[int | None] = []
        for i in range(size):
            byte, _ = ex.load_bytes(state, z.add(state.regs[1].value, z.const(i)), 1)
            data.append(z.value_of(byte))
        verdict = is_valid_text(data)
    if verdict is False:
        fault_if(ex, pc, state, assertion, z.true())
    elif verdict is None:
        ex.note(pc, assertion, "the text's bytes are not all known constants: UTF-8 "
                               "validity (else the syscall fails) is not proved")


def copy_bytes(ex: BundleMachine, state: State, dst: Any, src: Any, size: Any) -> None:
    """Copy ``size`` bytes (memcpy / memmove; the source is read before any write)."""
    literal = z.value_of(size)
    if literal is None or literal > 256:
        ex.havoc_memory(state)
        state.exact = False
        return
    if literal:
        value, _ = ex.load_bytes(state, src, literal)
        ex.store_bytes(state, dst, value, literal)


def fill_bytes(ex: BundleMachine, state: State, dst: Any, byte: Any, size: Any) -> None:
    """Fill ``size`` bytes with the low byte of ``byte`` (memset)."""
    literal = z.value_of(size)
    if literal is None or literal > 256:
        ex.havoc_memory(state)
        state.exact = False
        return
    low = z.zero_extend(z.extract(7, 0, byte), 56)
    for i in range(literal):
        ex.store_bytes(state, z.add(dst, z.const(i)), low, 1)


def execute_syscall(ex: BundleMachine, pc: int, syscall: SyscallDef, state: State,
                    key: str) -> Value | None:
    """Execute one Agave syscall; return r0 (``None``: the call never returns)."""
    row = syscall.row
    name = row.name
    regs = state.regs
    for reg in range(1, len(row.args) + 1):
        ex.read(pc, state, reg)
    charge(ex, pc, syscall, state)
    if name in FAILING_SYSCALLS:
        fault_if(ex, pc, state, HelperSucceeds(name), z.true())
        return None
    zero = Value(z.const(0), SCALAR)
    if name in ("sol_log_64_", "sol_log_compute_units_"):
        return zero
    if name == "sol_log_pubkey":
        ex.arg_buffer(pc, row, state, 1, z.const(32), write=False,
                      rule="a pointer to 32 readable bytes")
        return zero
    if name == "sol_log_":
        ex.arg_buffer(pc, row, state, 1, regs[2].value, write=False,
                      rule="a pointer to r2 readable bytes")
        check_text(ex, pc, syscall, state)
        return zero
    if name in SLICE_SYSCALLS:
        ex.note(pc, HelperModelled(name), "the (ptr, len) slices are not followed: their "
                                          "bounds and the compute units are not proved")
        if name != "sol_log_data":
            ex.write_buffer(state, 3, z.const(32), key, z.true())
        return zero
    if name in ("sol_memcpy_", "sol_memmove_"):
        dst, src, size = regs[1].value, regs[2].value, regs[3].value
        if name == "sol_memcpy_":
            overlap = z.or_(z.and_(z.ult(dst, src), z.ult(z.sub(src, dst), size)),
                            z.and_(z.ule(src, dst), z.ult(z.sub(dst, src), size)))
            fault_if(ex, pc, state, HelperArgument(name, 2, "a range not overlapping r1's"),
                     overlap)
        ex.arg_buffer(pc, row, state, 1, size, write=True,
                      rule="a pointer to r3 writable bytes")
        ex.arg_buffer(pc, row, state, 2, size, write=False,
                      rule="a pointer to r3 readable bytes")
        copy_bytes(ex, state, dst, src, size)
        return zero
    if name == "sol_memset_":
        ex.arg_buffer(pc, row, state, 1, regs[3].value, write=True,
                      rule="a pointer to r3 writable bytes")
        fill_bytes(ex, state, regs[1].value, regs[2].value, regs[3].value)
        return zero
    if name == "sol_memcmp_":
        size = regs[3].value
        ex.arg_buffer(pc, row, state, 1, size, write=False,
                      rule="a pointer to r3 readable bytes")
        ex.arg_buffer(pc, row, state, 2, size, write=False,
                      rule="a pointer to r3 readable bytes")
        fault_if(ex, pc, state, HelperArgument(name, 4, "a 4-aligned pointer"),
                 misaligned(regs[4].value, 4))
        ex.arg_buffer(pc, row, state, 4, z.const(4), write=True,
                      rule="a pointer to 4 writable bytes")
        ex.write_buffer(state, 4, z.const(4), key, z.true())
        state.exact = False
        return zero
    # Verify the table has no syscall this function forgets
    assert name == "sol_get_clock_sysvar", name
    fault_if(ex, pc, state, HelperArgument(name, 1, "an 8-aligned pointer"),
             misaligned(regs[1].value, 8))
    ex.arg_buffer(pc, row, state, 1, z.const(40), write=True,
                  rule="a pointer to 40 writable bytes")
    ex.write_buffer(state, 1, z.const(40), key, z.true())
    return zero
