"""
Calling conventions
===================

What a program finds when the runtime starts it: the address space, the values of its entry
registers for each hook kind, and how a tail-call target starts. The runtime
(:mod:`arspec.reference.runtime.runtime_helpers`), the verifier (:mod:`arspec.checker`) and
counterexample replay read these definitions; none of them re-derives one.

Address space
-------------
A virtual address is ``region << REGION_SHIFT | offset`` (the sBPF scheme: anza-xyz/sbpf
``src/ebpf.rs``, ``MM_PROGRAM_START`` = 1 << 32, ``MM_STACK_START`` = 2 << 32,
``MM_HEAP_START`` = 3 << 32, ``MM_INPUT_START`` = 4 << 32). Region 0 is never mapped, so NULL
and small integers fault. The regions the runtime adds:

* from :data:`FIRST_DYNAMIC_REGION` up, regions allocated while a program runs: map values
  (mapped on first use, valid for the whole invocation), the read-only copy of a timer or
  work-queue entry's key, account data (a ring record's copy is the input region);
* :data:`PROG_CODE_REGION` + k: the code of the bundle's k-th program, so that
  ``(PROG_CODE_REGION + k) << 32 | 8 * pc`` is a callback address into another program;
* :data:`CONTEXT_REGION`: the context of a program of a declared Linux program type
  (:mod:`arspec.spec.contexts`);
* :data:`MAP_HANDLE_REGION` + i: never mapped; ``(MAP_HANDLE_REGION + i) << 32`` is the opaque
  value a program holds for the bundle's i-th map (there is no fd table), so dereferencing a
  map reference faults.

Entry registers
---------------
:func:`get_entry_registers` gives, for each hook kind, what ``r1``.. hold
(:class:`EntryArg`); the other argument registers are unspecified and ``r10`` is the top of
the first stack frame:

* ``startup``, ``every`` and ``watch`` hooks, and the callbacks of watchers registered at run
  time (``sol_watch_account``): ``r1`` = the input region (empty), ``r2`` = 0;
* the same hooks of a program with a declared program type: ``r1`` = the context
  (:data:`CONTEXT_BASE`);
* timer and work-queue callbacks: ``r1`` = the map's handle, ``r2`` = a read-only copy of the
  element's key, ``r3`` = the element's value, in place (Linux's ``callback_fn(map, key,
  value)``: ``kernel/bpf/helpers.c``, ``bpf_timer_cb`` and ``bpf_wq_work``);
* ring-buffer subscribers: ``r1`` = a read-only copy of the record's payload, mapped as the
  input region (:data:`INPUT_BASE`), ``r2`` = its length;
* a tail-call target (:data:`TAIL_CALL_ENTRY`): ``r1`` = the caller's ``r1`` (the context
  passed to ``bpf_tail_call``), at pc 0, with a fresh stack and the caller's compute meter
  (Linux ``kernel/bpf/core.c``, ``___bpf_prog_run`` at ``JMP_TAIL_CALL``: the target reuses the
  context and starts at its first instruction; see :mod:`arspec.spec.tailcall`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from arspec.spec.state import TriggerKind

__all__ = [
    "CONTEXT_BASE", "CONTEXT_REGION", "FIRST_DYNAMIC_REGION", "HEAP_REGION", "INPUT_BASE",
    "INPUT_REGION", "MAP_HANDLE_REGION", "PROGRAM_REGION", "PROG_CODE_REGION", "REGION_SHIFT",
    "STACK_REGION", "TAIL_CALL_ENTRY", "EntryArg", "TailCallEntry", "get_entry_registers",
    "get_map_handle", "get_map_index", "get_program_code_address",
]

#: Width of one region's offset space (anza-xyz/sbpf ``src/ebpf.rs``, ``MM_REGION_SIZE``).
REGION_SHIFT: Final = 32
PROGRAM_REGION: Final = 1
STACK_REGION: Final = 2
HEAP_REGION: Final = 3
INPUT_REGION: Final = 4
#: First region index allocated while a program runs.
FIRST_DYNAMIC_REGION: Final = 5
INPUT_BASE: Final = INPUT_REGION << REGION_SHIFT
#: First region of cross-program code addresses: program k's pc p is
#: ``(PROG_CODE_REGION + k) << 32 | 8 * p``.
PROG_CODE_REGION: Final = 0x100
#: Region of a declared program type's context.
CONTEXT_REGION: Final = 0xFFFE_0000
CONTEXT_BASE: Final = CONTEXT_REGION << REGION_SHIFT
#: First region index of map handles: map i is ``(MAP_HANDLE_REGION + i) << 32``.
MAP_HANDLE_REGION: Final = 0xFFFF_0000
_SLOT_SIZE: Final = 8  # bytes per instruction slot (RFC 9669 section 3)
_OFFSET_MASK: Final = (1 << REGION_SHIFT) - 1


class EntryArg(StrEnum):
    """What one entry register holds."""

    #: The address of the input region (:data:`INPUT_BASE`).
    INPUT = "input"
    #: Zero (the length of the empty input).
    ZERO = "zero"
    #: The context of a declared program type (:data:`CONTEXT_BASE`).
    CONTEXT = "context"
    #: The handle of the map holding the element (:func:`get_map_handle`).
    MAP_HANDLE = "map handle"
    #: The address of a read-only copy of the element's key.
    KEY_COPY = "key copy"
    #: The address of the element's value, in place (writes change the map).
    VALUE = "value"
    #: The address of a read-only copy of the ring record's payload: the input region
    #: (:data:`INPUT_BASE`), which holds the copy.
    RECORD_COPY = "record copy"
    #: The length of the ring record's payload.
    RECORD_LENGTH = "record length"
    #: The caller's ``r1`` (a tail-call target).
    CALLER_R1 = "caller r1"


_ENTRY_REGISTERS: Final[Mapping[TriggerKind, tuple[EntryArg, ...]]] = {
    TriggerKind.STARTUP: (EntryArg.INPUT, EntryArg.ZERO),
    TriggerKind.EVERY: (EntryArg.INPUT, EntryArg.ZERO),
    TriggerKind.WATCH: (EntryArg.INPUT, EntryArg.ZERO),
    TriggerKind.TIMER: (EntryArg.MAP_HANDLE, EntryArg.KEY_COPY, EntryArg.VALUE),
    TriggerKind.WORKQUEUE: (EntryArg.MAP_HANDLE, EntryArg.KEY_COPY, EntryArg.VALUE),
    TriggerKind.RINGBUF: (EntryArg.RECORD_COPY, EntryArg.RECORD_LENGTH),
}
#: Hook kinds whose program sees its declared context (the others' registers are fixed).
_CONTEXT_KINDS: Final = frozenset({TriggerKind.STARTUP, TriggerKind.EVERY, TriggerKind.WATCH})


def get_entry_registers(kind: TriggerKind, *, has_context: bool = False,
                        runtime_watcher: bool = False) -> tuple[EntryArg, ...]:
    """Return what ``r1``, ``r2``, .. hold when a work item of ``kind`` starts.

    ``has_context``: the program declares a program type; ``runtime_watcher``: the item is
    the callback of a watcher registered at run time (it gets no program context).
    """
    if has_context and not runtime_watcher and kind in _CONTEXT_KINDS:
        return (EntryArg.CONTEXT,)
    return _ENTRY_REGISTERS[kind]


class TailCallEntry:
    """How a tail-call target starts (see the module docstring)."""

    #: The target's first instruction.
    pc: Final = 0
    #: Its entry registers: the caller's r1 only.
    registers: Final = (EntryArg.CALLER_R1,)
    #: A fresh stack; the other regions (input, heap, map values) are kept.
    fresh_stack: Final = True
    #: The chain draws from one compute meter.
    same_meter: Final = True


TAIL_CALL_ENTRY: Final = TailCallEntry()


def get_map_handle(index: int) -> int:
    """Return the opaque value a program holds for the bundle's ``index``-th map."""
    return (MAP_HANDLE_REGION + index) << REGION_SHIFT


def get_map_index(handle: int) -> int | None:
    """Return the map index a handle names, or ``None`` when ``handle`` is no map handle."""
    index = (handle >> REGION_SHIFT) - MAP_HANDLE_REGION
    if handle & _OFFSET_MASK or index < 0 or handle >> REGION_SHIFT > 0xFFFF_FFFF:
        return None
    return index


def get_program_code_address(index: int, pc: int = 0) -> int:
    """Return the cross-program code address of ``pc`` in the ``index``-th program."""
    return ((PROG_CODE_REGION + index) << REGION_SHIFT) | (_SLOT_SIZE * pc)
