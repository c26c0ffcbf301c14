"""
Runtime helpers
===============

One invocation of a work item (:class:`Invocation`: memory, regions, tail-call chain, logs)
and the helper functions bound onto spec transitions (:func:`build_registry`). Each helper
reads its arguments, calls the spec, writes results back to memory and returns r0; misuse
that Linux's verifier would reject (a pointer that is not what the helper needs, a released
ring record, unknown commit flags) raises :class:`~arspec.spec.errors.HelperFault`, which the
VM turns into a fault and the scheduler into a rollback. The calling conventions (entry
registers, address space, how a tail-call target starts) are :mod:`arspec.spec.conventions`';
the values of the machine-reading helpers are :mod:`arspec.spec.environment`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from arspec.reference.isa.instructions import LoadImm64, Program, Pseudo
from arspec.reference.runtime.contexts import enter_bundle_context, get_bundle_context
from arspec.reference.runtime.program import LoadedProgram
from arspec.reference.runtime.solana_syscalls import Clock, syscall_specs
from arspec.reference.vm.helpers import HelperContext, HelperMachine, HelperRegistry, HelperSpec
from arspec.reference.vm.memory import Memory, add_stack
from arspec.reference.vm.profiles import (
    INPUT_BASE,
    INPUT_REGION,
    PROGRAM_REGION,
    REGION_SHIFT,
    SLOT_SIZE,
    STACK_REGION,
    Profile,
)
from arspec.reference.vm.sbpf_errors import describe_exit_code
from arspec.reference.vm.vm import PseudoResolver, Vm
from arspec.spec import bundle as schema
from arspec.spec.accounts import process_account_read, process_account_write
from arspec.spec.conventions import (
    CONTEXT_BASE,
    PROG_CODE_REGION,
    TAIL_CALL_ENTRY,
    EntryArg,
    get_entry_registers,
    get_map_handle,
    get_map_index,
)
from arspec.spec.dynptr import (
    BPF_DYNPTR_ALIGN,
    BPF_DYNPTR_SIZE,
    DYNPTR_STORE_REASON,
    NULL_DYNPTR,
    Dynptr,
    DynptrType,
    check_read,
    check_reserve_dynptr,
    check_ring_dynptrs_released,
    check_write,
    compute_data,
    compute_dynptr_bytes,
    get_dynptr,
    process_from_mem,
)
from arspec.spec.environment import (
    compute_ktime_ns,
    compute_prandom_u32,
    compute_unix_timestamp,
)
from arspec.spec.errno import EINVAL, ENOENT, compute_r0, compute_signed
from arspec.spec.errors import HelperFault
from arspec.spec.helpers import HELPER_TABLE, HELPERS_BY_NAME, HelperDef, compute_helper_cost
from arspec.spec.loops import (
    BPF_ITER_NUM_SIZE,
    compute_iter_num_bytes,
    get_iter_num,
    process_iter_num_destroy,
    process_iter_num_new,
    process_iter_num_next,
    process_loop,
)
from arspec.spec.maps import (
    FIRST_CPU,
    MapElement,
    MapState,
    compute_array_key,
    is_array_map,
    is_percpu_map,
    process_map_delete,
    process_map_lookup,
    process_map_peek,
    process_map_pop,
    process_map_push,
    process_map_update,
)
from arspec.spec.ringbuf import (
    RINGBUF_WAKEUP_FLAGS,
    check_reservations_released,
    compute_sample_pos,
    get_ringbuf_query,
    process_ringbuf_discard,
    process_ringbuf_output,
    process_ringbuf_reserve,
    process_ringbuf_submit,
    process_ringbuf_write,
)
from arspec.spec.runtime_watchers import process_unwatch_account, process_watch_account
from arspec.spec.scheduler import InvocationOutcome
from arspec.spec.spinlock import (
    BPF_SPIN_LOCK_SIZE,
    LOCK_ACCESS_REASON,
    HeldLock,
    check_call_allowed,
    check_lock_free,
    check_released_at_exit,
    check_unlock,
    process_lock_word,
)
from arspec.spec.state import RuntimeState, WorkItem
from arspec.spec.syscalls import SOL_ALIASES
from arspec.spec.tailcall import TailCallResult, create_tail_call_chain, process_tail_call
from arspec.spec.timers import (
    process_timer_cancel,
    process_timer_init,
    process_timer_set_callback,
    process_timer_start,
)
from arspec.spec.types import (
    AccountName,
    ComputeUnits,
    Cpu,
    FuncRef,
    MapId,
    Pc,
    ProgId,
    RingPos,
)
from arspec.spec.workqueue import process_wq_init, process_wq_set_callback, process_wq_start

_OFFSET_MASK: Final = (1 << REGION_SHIFT) - 1
#: Largest size argument a helper accepts; larger cannot fit in any region.
MAX_HELPER_SIZE: Final = 1 << REGION_SHIFT


def check_size(ctx: HelperContext, size: int) -> int:
    """Return ``size``, or fault when no region could hold that many bytes."""
    if size > MAX_HELPER_SIZE:
        raise HelperFault(ctx.pc, f"size {size} exceeds every memory region")
    return size


class Invoker(Protocol):
    """What an invocation reads of the runtime running it
    (:class:`~arspec.reference.runtime.runtime.ReferenceInvoker`)."""

    @property
    def bundle(self) -> schema.Bundle:
        """The bundle."""

    @property
    def profile(self) -> Profile:
        """The bundle's execution profile."""

    @property
    def programs(self) -> Mapping[ProgId, LoadedProgram]:
        """The loaded programs by name."""

    @property
    def by_index(self) -> Sequence[LoadedProgram]:
        """The loaded programs in declaration order."""

    @property
    def map_ids(self) -> Sequence[MapId]:
        """The bundle's maps in declaration order (map handle ``i`` names the i-th)."""

    @property
    def current(self) -> Invocation | None:
        """The invocation running now."""

    def new_memory(self, program: Program) -> Memory:
        """Return fresh memory (code, stack, heap, empty input) for ``program``."""

    def make_vm(self, loaded: LoadedProgram, memory: Memory, limit: int,
                resolver: PseudoResolver) -> Vm:
        """Return the VM of ``loaded``, set to run over ``memory`` with ``limit`` units."""


class TailCallJump(Exception):
    """Raised by the tail-call helper to end the running program and start ``target``."""

    def __init__(self, target: ProgId, r1: int) -> None:
        super().__init__(target)
        self.target = target
        self.r1 = r1


@dataclass
class Reservation:
    """A ring record reserved by the program: its ring, position and payload buffer."""

    map_id: MapId
    record_pos: RingPos
    buffer: bytearray


@dataclass
class Invocation:
    """One run of a work item: its memory regions, tail-call chain, logs and results."""

    runtime: Invoker
    state: RuntimeState
    item: WorkItem
    cpu: Cpu
    budget: ComputeUnits
    memory: Memory = field(default_factory=Memory)
    elements: dict[int, int] = field(default_factory=dict)
    regions: dict[int, tuple[MapId, MapElement]] = field(default_factory=dict)
    reservations: dict[int, Reservation] = field(default_factory=dict)
    logs: list[bytes] = field(default_factory=list)
    tail_calls: list[ProgId] = field(default_factory=list)
    written: list[AccountName] = field(default_factory=list)
    records: int = 0
    random_calls: int = 0
    tail_calls_refused: int = 0
    current: LoadedProgram | None = None
    #: The bpf_spin_lock the program holds (:mod:`arspec.spec.spinlock`).
    held_lock: HeldLock | None = None
    #: Live dynptrs by stack address: the 16 bytes written there and whether it is a
    #: ring-buffer dynptr that must still be submitted or discarded.
    dynptrs: dict[int, tuple[bytes, bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.chain = create_tail_call_chain(self.state.preset)

    # ------------------------------------------------------------------ running

    def run(self) -> InvocationOutcome:
        """Run the item's program and its tail-call chain; return the outcome."""
        loaded = self.runtime.programs[self.item.prog]
        self.memory = self.runtime.new_memory(loaded.program)
        args = self.entry_args()
        entry_pc = int(self.item.entry.pc)
        used = 0
        while True:
            self.current = loaded
            vm = self.runtime.make_vm(loaded, self.memory, self.budget - used, self.resolve)
            self.sync_guards(vm)
            try:
                result = vm.run(entry_pc, args)
            except TailCallJump as jump:
                self.logs.extend(line.encode() for line in vm.logs)
                used += vm.units
                loaded = self.runtime.programs[jump.target]
                self.tail_calls.append(jump.target)
                self.replace_code(loaded)
                entry_pc, args = TAIL_CALL_ENTRY.pc, (jump.r1,)
                continue
            used += result.compute_units
            self.logs.extend(line.encode() for line in result.logs)
            if result.fault is not None:
                return InvocationOutcome(r0=result.r0, compute_units=used,
                                         fault=str(result.fault),
                                         tail_calls=tuple(self.tail_calls),
                                         tail_calls_refused=self.tail_calls_refused)
            unreleased = self.unreleased()
            if unreleased is not None:
                return InvocationOutcome(
                    r0=result.r0, compute_units=used, tail_calls=tuple(self.tail_calls),
                    tail_calls_refused=self.tail_calls_refused, fault=unreleased)
            outstanding = check_reservations_released(len(self.reservations))
            if outstanding is not None:
                return InvocationOutcome(
                    r0=result.r0, compute_units=used, tail_calls=tuple(self.tail_calls),
                    tail_calls_refused=self.tail_calls_refused, fault=outstanding)
            if self.runtime.profile.nonzero_r0_fails and result.r0 != 0:
                return InvocationOutcome(
                    r0=result.r0, compute_units=used, tail_calls=tuple(self.tail_calls),
                    tail_calls_refused=self.tail_calls_refused,
                    fault=f"program error {describe_exit_code(result.r0)} (r0 = {result.r0:#x})")
            return InvocationOutcome(r0=result.r0, compute_units=used,
                                     tail_calls=tuple(self.tail_calls), logs=tuple(self.logs),
                                     records_produced=self.records,
                                     accounts_written=tuple(dict.fromkeys(self.written)),
                                     tail_calls_refused=self.tail_calls_refused)

    def unreleased(self) -> str | None:
        """Return the fault text for a lock or a ring-buffer dynptr still held at exit."""
        held = check_released_at_exit(self.held_lock)
        if held is not None:
            return held
        return check_ring_dynptrs_released(
            [address for address, (_, ring) in self.dynptrs.items() if ring])

    def sync_guards(self, vm: HelperMachine) -> None:
        """Make the machine check what the invocation holds (:func:`apply_guards`)."""
        apply_guards(vm, self.held_lock,
                     sorted(a for a, (_, ring) in self.dynptrs.items() if ring))

    def replace_code(self, loaded: LoadedProgram) -> None:
        """Swap in the tail-call target's code and a fresh stack (other regions stay)."""
        fresh = self.runtime.new_memory(loaded.program)
        for index in (PROGRAM_REGION, STACK_REGION):
            self.memory.remove_region(index << REGION_SHIFT)
        self.memory.add_region(PROGRAM_REGION, fresh.region(PROGRAM_REGION << REGION_SHIFT),
                               writable=False)
        add_stack(self.memory, self.runtime.profile)

    def entry_args(self) -> tuple[int, ...]:
        """Return r1.. for the item (:func:`~arspec.spec.conventions.get_entry_registers`)."""
        item = self.item
        has_context = get_bundle_context(self.runtime.bundle, item.prog) is not None
        return tuple(self.entry_value(arg) for arg in get_entry_registers(
            item.kind, has_context=has_context, runtime_watcher=item.watcher_id is not None))

    def entry_value(self, arg: EntryArg) -> int:
        """Return the value of one entry register; map the region it points at."""
        item = self.item
        if arg in (EntryArg.MAP_HANDLE, EntryArg.KEY_COPY, EntryArg.VALUE):
            assert item.map_id is not None and item.key is not None
            if arg is EntryArg.MAP_HANDLE:
                return self.map_handle(item.map_id)
            if arg is EntryArg.KEY_COPY:
                return self.memory.allocate_region(bytearray(item.key), writable=False)
            element = self.state.maps[item.map_id].elements[item.key][0]
            return self.element_address(item.map_id, element)
        if arg in (EntryArg.RECORD_COPY, EntryArg.RECORD_LENGTH):
            assert item.record is not None
            if arg is EntryArg.RECORD_LENGTH:
                return len(item.record)
            # The record copy is the subscriber's input (read-only), where the verifier has it.
            self.memory.remove_region(INPUT_BASE)
            self.memory.add_region(INPUT_REGION, bytearray(item.record), writable=False)
            return INPUT_BASE
        if arg is EntryArg.CONTEXT:
            entered = enter_bundle_context(self.runtime.bundle, item.prog, self.state.slot,
                                           self.memory)
            assert entered is not None
            self.memory = entered[0]
            return CONTEXT_BASE
        if arg is EntryArg.INPUT:
            return INPUT_BASE
        assert arg is EntryArg.ZERO, arg  # a tail call's CALLER_R1 is set by run()
        return 0

    # ------------------------------------------------------------------ resolving values

    def map_handle(self, map_id: MapId) -> int:
        """Return the handle value of a map."""
        return get_map_handle(self.runtime.map_ids.index(map_id))

    def resolve(self, pc: int, insn: LoadImm64) -> int:
        """Resolve the map forms of ``lddw`` (the VM's pseudo resolver)."""
        index = insn.imm
        loaded = self.current
        assert loaded is not None
        if loaded.map_indices is not None and insn.pseudo in (Pseudo.MAP_IDX,
                                                              Pseudo.MAP_IDX_VALUE):
            index = loaded.map_indices[index] if 0 <= index < len(loaded.map_indices) else -1
        if not 0 <= index < len(self.runtime.map_ids):
            raise HelperFault(pc, f"lddw names map {insn.imm}, which is not declared")
        map_id = self.runtime.map_ids[index]
        if insn.pseudo in (Pseudo.MAP_FD, Pseudo.MAP_IDX):
            return self.map_handle(map_id)
        if insn.pseudo in (Pseudo.MAP_VALUE, Pseudo.MAP_IDX_VALUE):
            state = self.state.maps[map_id]
            if not is_array_map(state.definition):
                raise HelperFault(pc, f"direct value address of map {map_id!r}, which is not "
                                      "an array")
            element = state.elements[compute_array_key(0)][0]
            return self.element_address(map_id, element) + insn.next_imm
        raise HelperFault(pc, f"lddw {insn.pseudo.name.lower()} is not supported")

    def get_map(self, pc: int, handle: int) -> tuple[MapId, MapState]:
        """Return the map a handle names; fault if it is not a map handle."""
        index = get_map_index(handle)
        if index is None or index >= len(self.runtime.map_ids):
            raise HelperFault(pc, f"{handle:#x} is not a map reference")
        map_id = self.runtime.map_ids[index]
        return map_id, self.state.maps[map_id]

    def element_address(self, map_id: MapId, element: MapElement) -> int:
        """Return the address of an element's value, mapping it on first use."""
        base = self.elements.get(id(element))
        if base is None:
            base = self.memory.allocate_region(element.value, writable=True)
            lock = self.state.maps[map_id].definition.spin_lock_offset
            if lock is not None:
                self.memory.add_guard(base + lock, base + lock + BPF_SPIN_LOCK_SIZE, loads=True,
                                      reason=LOCK_ACCESS_REASON)
            self.elements[id(element)] = base
            self.regions[base >> REGION_SHIFT] = (map_id, element)
        return base

    def get_async_element(self, pc: int, address: int, what: str) -> tuple[MapId, MapElement]:
        """Return the element whose ``what`` (``timer`` / ``wq``) field is at ``address``."""
        entry = self.regions.get(address >> REGION_SHIFT)
        if entry is None:
            raise HelperFault(pc, f"{address:#x} is not inside a map value")
        map_id, element = entry
        defn = self.state.maps[map_id].definition
        offset = defn.timer_offset if what == "timer" else defn.wq_offset
        if offset is None or address & _OFFSET_MASK != offset:
            raise HelperFault(pc, f"{address:#x} is not the bpf_{what} of a {map_id!r} value")
        return map_id, element

    def get_callback(self, pc: int, address: int) -> FuncRef:
        """Return the function a callback code address names (own code or a program's)."""
        region, offset = address >> REGION_SHIFT, address & _OFFSET_MASK
        if region == PROGRAM_REGION:
            loaded = self.current
            offset -= self.runtime.profile.code_base & _OFFSET_MASK
        elif 0 <= region - PROG_CODE_REGION < len(self.runtime.by_index):
            loaded = self.runtime.by_index[region - PROG_CODE_REGION]
        else:
            loaded = None
        target, rest = divmod(offset, SLOT_SIZE)
        if loaded is None or rest or not 0 <= target < len(loaded.program) \
                or loaded.program.slots[target] is None:
            raise HelperFault(pc, f"callback {address:#x} is not the address of an instruction")
        return FuncRef(loaded.name, Pc(target))

    def read(self, ctx: HelperContext, address: int, size: int) -> bytes:
        """Return ``size`` bytes of memory (faults on a bad pointer)."""
        return ctx.memory.read_bytes(ctx.pc, address, check_size(ctx, size))


HelperFn = Callable[[Invocation, HelperContext, int, int, int, int, int], int]


def invocation_of(runtime: Invoker) -> Invocation:
    """Return the invocation the runtime is running now."""
    current = runtime.current
    assert current is not None, "helper called outside an invocation"
    return current


# --------------------------------------------------------------------------- map helpers


def helper_map_lookup(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                      r5: int) -> int:
    """``bpf_map_lookup_elem(map, key)``: pointer to the value, or NULL."""
    map_id, state = inv.get_map(ctx.pc, r1)
    key = inv.read(ctx, r2, state.definition.key_size)
    cpu = inv.cpu if is_percpu_map(state.definition) else FIRST_CPU
    element = process_map_lookup(state, key, cpu=cpu)
    return 0 if element is None else inv.element_address(map_id, element)


def helper_map_update(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                      r5: int) -> int:
    """``bpf_map_update_elem(map, key, value, flags)``."""
    _, state = inv.get_map(ctx.pc, r1)
    defn = state.definition
    key = inv.read(ctx, r2, defn.key_size)
    value = inv.read(ctx, r3, defn.value_size)
    cpu = inv.cpu if is_percpu_map(defn) else FIRST_CPU
    return compute_r0(process_map_update(state, key, value, r4, cpu=cpu))


def helper_map_delete(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                      r5: int) -> int:
    """``bpf_map_delete_elem(map, key)``."""
    _, state = inv.get_map(ctx.pc, r1)
    return compute_r0(process_map_delete(state, inv.read(ctx, r2, state.definition.key_size)))


def helper_map_push(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                    r5: int) -> int:
    """``bpf_map_push_elem(map, value, flags)``."""
    _, state = inv.get_map(ctx.pc, r1)
    value = inv.read(ctx, r2, state.definition.value_size)
    return compute_r0(process_map_push(state, value, r3))


def make_take_helper(remove: bool) -> HelperFn:
    """Return the pop (``remove``) or peek helper."""
    def helper(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
               r5: int) -> int:
        _, state = inv.get_map(ctx.pc, r1)
        out = bytearray(state.definition.value_size)
        result = process_map_pop(state, out) if remove else process_map_peek(state, out)
        ctx.memory.write_bytes(ctx.pc, r2, bytes(out))
        return compute_r0(result)
    return helper


# --------------------------------------------------------------------------- ring buffers


def get_ring(inv: Invocation, ctx: HelperContext, handle: int) -> tuple[MapId, MapState]:
    """Return a ring-buffer map by handle; fault for another map type."""
    map_id, state = inv.get_map(ctx.pc, handle)
    if state.ringbuf is None:
        raise HelperFault(ctx.pc, f"map {map_id!r} is not a ring buffer")
    return map_id, state


def helper_ringbuf_output(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                          r4: int, r5: int) -> int:
    """``bpf_ringbuf_output(ring, data, size, flags)``."""
    _, state = get_ring(inv, ctx, r1)
    assert state.ringbuf is not None
    result = process_ringbuf_output(state.ringbuf, inv.read(ctx, r2, r3), r4)
    if result == 0:
        inv.records += 1
    return compute_r0(result)


def helper_ringbuf_reserve(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                           r4: int, r5: int) -> int:
    """``bpf_ringbuf_reserve(ring, size, flags)``: pointer to the payload, or NULL."""
    map_id, state = get_ring(inv, ctx, r1)
    assert state.ringbuf is not None
    record_pos = process_ringbuf_reserve(state.ringbuf, r2, r3)
    if record_pos is None:
        return 0
    buffer = bytearray(r2)
    base = ctx.memory.allocate_region(buffer, writable=True)
    inv.reservations[base] = Reservation(map_id, record_pos, buffer)
    return base


def make_commit_helper(discard: bool) -> HelperFn:
    """Return the submit or discard helper."""
    def helper(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
               r5: int) -> int:
        reservation = inv.reservations.get(r1)
        if reservation is None:
            raise HelperFault(ctx.pc, f"{r1:#x} is not an outstanding ring-buffer reservation")
        if r2 & ~RINGBUF_WAKEUP_FLAGS:
            raise HelperFault(ctx.pc, f"unknown ring-buffer commit flags {r2:#x}")
        ring = inv.state.maps[reservation.map_id].ringbuf
        assert ring is not None
        del inv.reservations[r1]
        ctx.memory.remove_region(r1)
        if discard:
            process_ringbuf_discard(ring, reservation.record_pos, r2)
        else:
            process_ringbuf_write(ring, compute_sample_pos(reservation.record_pos),
                                  bytes(reservation.buffer))
            process_ringbuf_submit(ring, reservation.record_pos, r2)
            inv.records += 1
        return ctx.vm.regs[0]
    return helper


def helper_ringbuf_query(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                         r4: int, r5: int) -> int:
    """``bpf_ringbuf_query(ring, flag)``."""
    _, state = get_ring(inv, ctx, r1)
    assert state.ringbuf is not None
    return get_ringbuf_query(state.ringbuf, r2)


# --------------------------------------------------------------------------- timers, wq


def helper_timer_init(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                      r5: int) -> int:
    """``bpf_timer_init(timer, map, flags)``; the map must hold the timer (Linux verifier)."""
    map_id, element = inv.get_async_element(ctx.pc, r1, "timer")
    named, _ = inv.get_map(ctx.pc, r2)
    if named != map_id:
        raise HelperFault(ctx.pc, f"timer_init: the timer lives in {map_id!r}, not {named!r}")
    assert element.timer is not None
    return compute_r0(process_timer_init(element.timer, r3))


def helper_timer_set_callback(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                              r4: int, r5: int) -> int:
    """``bpf_timer_set_callback(timer, callback)``."""
    _, element = inv.get_async_element(ctx.pc, r1, "timer")
    assert element.timer is not None
    return compute_r0(process_timer_set_callback(element.timer, inv.get_callback(ctx.pc, r2)))


def helper_timer_start(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                       r5: int) -> int:
    """``bpf_timer_start(timer, slots, flags)``: a slot delay or an absolute slot."""
    _, element = inv.get_async_element(ctx.pc, r1, "timer")
    assert element.timer is not None
    state = inv.state
    return compute_r0(process_timer_start(element.timer, state.sequence, state.slot, r2, r3))


def helper_timer_cancel(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                        r5: int) -> int:
    """``bpf_timer_cancel(timer)``."""
    _, element = inv.get_async_element(ctx.pc, r1, "timer")
    assert element.timer is not None
    return compute_r0(process_timer_cancel(element.timer))


def helper_wq_init(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                   r5: int) -> int:
    """``bpf_wq_init(wq, map, flags)``; the map must hold the work item."""
    map_id, element = inv.get_async_element(ctx.pc, r1, "wq")
    named, _ = inv.get_map(ctx.pc, r2)
    if named != map_id:
        raise HelperFault(ctx.pc, f"wq_init: the work item lives in {map_id!r}, not {named!r}")
    assert element.wq is not None
    return compute_r0(process_wq_init(element.wq, r3))


def helper_wq_set_callback(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                           r4: int, r5: int) -> int:
    """``bpf_wq_set_callback(wq, callback, flags)``."""
    _, element = inv.get_async_element(ctx.pc, r1, "wq")
    assert element.wq is not None
    callback = inv.get_callback(ctx.pc, r2)
    return compute_r0(process_wq_set_callback(element.wq, callback, r3))


def helper_wq_start(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                    r5: int) -> int:
    """``bpf_wq_start(wq, flags)``."""
    _, element = inv.get_async_element(ctx.pc, r1, "wq")
    assert element.wq is not None
    return compute_r0(process_wq_start(element.wq, inv.state.sequence, r2))


# --------------------------------------------------------------------------- spin locks


def get_lock_element(inv: Invocation, ctx: HelperContext, address: int) -> tuple[MapId, MapElement]:
    """Return the element whose ``bpf_spin_lock`` is at ``address``; fault otherwise."""
    entry = inv.regions.get(address >> REGION_SHIFT)
    if entry is None:
        raise HelperFault(ctx.pc, f"{address:#x} is not inside a map value")
    map_id, element = entry
    offset = inv.state.maps[map_id].definition.spin_lock_offset
    if offset is None or address & _OFFSET_MASK != offset:
        raise HelperFault(ctx.pc, f"{address:#x} is not the bpf_spin_lock of a {map_id!r} value")
    return map_id, element


def helper_spin_lock(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                     r5: int) -> int:
    """``bpf_spin_lock(lock)``: take the value's lock (never nested)."""
    map_id, element = get_lock_element(inv, ctx, r1)
    check_lock_free(inv.held_lock, ctx.pc)
    inv.held_lock = HeldLock(r1, str(map_id))
    process_lock_word(element.value, r1 & _OFFSET_MASK, held=True)
    inv.sync_guards(ctx.vm)
    return 0


def helper_spin_unlock(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                       r5: int) -> int:
    """``bpf_spin_unlock(lock)``: release the lock the program holds."""
    _, element = get_lock_element(inv, ctx, r1)
    check_unlock(inv.held_lock, r1, ctx.pc)
    inv.held_lock = None
    process_lock_word(element.value, r1 & _OFFSET_MASK, held=False)
    inv.sync_guards(ctx.vm)
    return 0


# --------------------------------------------------------------------------- dynptrs


def apply_guards(vm: HelperMachine, held: HeldLock | None, rings: list[int]) -> None:
    """Tell the machine the lock ``held`` (bpf-to-bpf calls and returns fault) and the live
    ring-buffer dynptrs at ``rings`` (stores over their 16 bytes fault); while either is
    there the fast engine interprets (:attr:`Vm.guarded <arspec.reference.vm.vm.Vm.guarded>`)."""
    vm.memory.set_store_guards([(a, a + BPF_DYNPTR_SIZE, f"{DYNPTR_STORE_REASON} at {a:#x}")
                                for a in rings])
    vm.held_lock = held
    vm.guarded = held is not None or bool(rings)


def check_dynptr_slot(ctx: HelperContext, address: int) -> None:
    """Fault unless ``address`` is an 8-aligned 16-byte slot of the stack."""
    if address >> REGION_SHIFT != STACK_REGION or address % BPF_DYNPTR_ALIGN:
        raise HelperFault(ctx.pc, f"{address:#x} is not an 8-aligned bpf_dynptr on the stack")
    ctx.memory.read_bytes(ctx.pc, address, BPF_DYNPTR_SIZE)


def write_dynptr(dynptrs: dict[int, tuple[bytes, bool]], ctx: HelperContext, address: int,
                 ptr: Dynptr, ring: bool) -> None:
    """Write a new dynptr at ``address`` and record it in ``dynptrs`` (live dynptrs by stack
    address: their 16 bytes and whether they are ring-buffer ones); a live ring-buffer dynptr
    may not be overwritten."""
    check_dynptr_slot(ctx, address)
    for other, (_, other_ring) in sorted(dynptrs.items()):
        if other_ring and abs(other - address) < BPF_DYNPTR_SIZE:
            raise HelperFault(ctx.pc, f"{address:#x} overwrites the live ring-buffer dynptr at "
                                      f"{other:#x}")
    for other in [a for a in dynptrs if abs(a - address) < BPF_DYNPTR_SIZE]:
        del dynptrs[other]
    raw = compute_dynptr_bytes(ptr)
    ctx.memory.write_bytes(ctx.pc, address, raw)
    dynptrs[address] = (raw, ring)


def store_dynptr(inv: Invocation, ctx: HelperContext, address: int, ptr: Dynptr,
                 ring: bool) -> None:
    """Write a new dynptr of the invocation (:func:`write_dynptr`) and update the guards."""
    write_dynptr(inv.dynptrs, ctx, address, ptr, ring)
    inv.sync_guards(ctx.vm)


def load_dynptr(dynptrs: dict[int, tuple[bytes, bool]], ctx: HelperContext,
                address: int) -> tuple[Dynptr, bool]:
    """Return the live dynptr of ``dynptrs`` at ``address`` and whether it is a ring-buffer
    one.

    Faults when no helper initialised one there or its bytes were changed since.
    """
    check_dynptr_slot(ctx, address)
    known = dynptrs.get(address)
    raw = ctx.memory.read_bytes(ctx.pc, address, BPF_DYNPTR_SIZE)
    if known is None or known[0] != raw:
        raise HelperFault(ctx.pc, f"{address:#x} is not an initialised bpf_dynptr "
                                  "(never initialised, released, or overwritten)")
    return get_dynptr(raw), known[1]


def helper_dynptr_from_mem(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                           r4: int, r5: int) -> int:
    """``bpf_dynptr_from_mem(data, size, flags, ptr)``: a local dynptr over writable bytes."""
    size = check_size(ctx, r2 & 0xFFFFFFFF)
    ctx.memory.write_bytes(ctx.pc, r1, ctx.memory.read_bytes(ctx.pc, r1, size))
    result, ptr = process_from_mem(r1, size, r3)
    store_dynptr(inv, ctx, r4, ptr, ring=False)
    return compute_r0(result)


def helper_ringbuf_reserve_dynptr(inv: Invocation, ctx: HelperContext, r1: int, r2: int,
                                  r3: int, r4: int, r5: int) -> int:
    """``bpf_ringbuf_reserve_dynptr(ring, size, flags, ptr)``: must be released even if NULL."""
    map_id, state = get_ring(inv, ctx, r1)
    assert state.ringbuf is not None
    size = r2 & 0xFFFFFFFF
    error = check_reserve_dynptr(size, r3)
    record_pos = None if error else process_ringbuf_reserve(state.ringbuf, size, 0)
    if record_pos is None:
        store_dynptr(inv, ctx, r4, NULL_DYNPTR, ring=True)
        return compute_r0(error or -EINVAL)
    buffer = bytearray(size)
    base = ctx.memory.allocate_region(buffer, writable=True)
    inv.reservations[base] = Reservation(map_id, record_pos, buffer)
    store_dynptr(inv, ctx, r4, Dynptr(base, size, 0, DynptrType.RINGBUF), ring=True)
    return 0


def make_commit_dynptr_helper(discard: bool) -> HelperFn:
    """Return ``bpf_ringbuf_submit_dynptr`` or ``bpf_ringbuf_discard_dynptr``."""
    commit = make_commit_helper(discard)

    def helper(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
               r5: int) -> int:
        ptr, ring = load_dynptr(inv.dynptrs, ctx, r1)
        if not ring:
            raise HelperFault(ctx.pc, f"{r1:#x} is a local dynptr, not a ring-buffer one")
        if r2 & ~RINGBUF_WAKEUP_FLAGS:
            raise HelperFault(ctx.pc, f"unknown ring-buffer commit flags {r2:#x}")
        if not ptr.is_null:
            commit(inv, ctx, ptr.data, r2, 0, 0, 0)
        del inv.dynptrs[r1]
        ctx.memory.write_bytes(ctx.pc, r1, compute_dynptr_bytes(NULL_DYNPTR))
        inv.sync_guards(ctx.vm)
        return 0
    return helper


def helper_dynptr_read(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                       r4: int, r5: int) -> int:
    """``bpf_dynptr_read(dst, len, src, offset, flags)``."""
    length = check_size(ctx, r2 & 0xFFFFFFFF)
    ptr, _ = load_dynptr(inv.dynptrs, ctx, r3)
    ctx.memory.read_bytes(ctx.pc, r1, length)
    offset = r4 & 0xFFFFFFFF
    result = check_read(ptr, offset, length, r5)
    if result == 0:
        data = ctx.memory.read_bytes(ctx.pc, ptr.data + ptr.offset + offset, length)
        ctx.memory.write_bytes(ctx.pc, r1, data)
    return compute_r0(result)


def helper_dynptr_write(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                        r4: int, r5: int) -> int:
    """``bpf_dynptr_write(dst, offset, src, len, flags)``."""
    length = check_size(ctx, r4 & 0xFFFFFFFF)
    ptr, _ = load_dynptr(inv.dynptrs, ctx, r1)
    data = inv.read(ctx, r3, length)
    offset = r2 & 0xFFFFFFFF
    result = check_write(ptr, offset, length, r5)
    if result == 0:
        ctx.memory.write_bytes(ctx.pc, ptr.data + ptr.offset + offset, data)
    return compute_r0(result)


def helper_dynptr_data(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                       r4: int, r5: int) -> int:
    """``bpf_dynptr_data(ptr, offset, len)``: the slice address, or NULL."""
    ptr, _ = load_dynptr(inv.dynptrs, ctx, r1)
    return compute_data(ptr, r2 & 0xFFFFFFFF, r3 & 0xFFFFFFFF)


# --------------------------------------------------------------------------- control flow


def helper_tail_call(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                     r5: int) -> int:
    """``bpf_tail_call(ctx, prog_array, index)``: jump, or fall through leaving r0 as is."""
    map_id, state = inv.get_map(ctx.pc, r2)
    if state.prog_array is None:
        raise HelperFault(ctx.pc, f"tail call through {map_id!r}, which is not a prog_array")
    outcome = process_tail_call(inv.chain, state.prog_array, r3)
    if outcome.result is TailCallResult.JUMPED:
        assert outcome.target is not None
        raise TailCallJump(outcome.target, r1)
    if outcome.result is TailCallResult.LIMIT_REACHED:
        inv.tail_calls_refused += 1
    return ctx.vm.regs[0]


def helper_loop(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                r5: int) -> int:
    """``bpf_loop(nr_loops, callback, ctx, flags)``: callback(index, ctx) until non-zero."""
    pc = ctx.vm.code_address_to_pc(r2)
    if pc is None:
        raise HelperFault(ctx.pc, f"bpf_loop callback {r2:#x} is not a code address")
    vm = ctx.vm
    limit = inv.state.preset.bpf_max_loops
    return compute_r0(process_loop(r1, r4, limit, lambda i: vm.call_function(pc, (i, r3))))


def read_iter(ctx: HelperContext, address: int) -> tuple[bytes, int]:
    """Return the 8 iterator bytes at ``address`` (faults on a bad pointer)."""
    return ctx.memory.read_bytes(ctx.pc, address, BPF_ITER_NUM_SIZE), address


def process_iter_call(ctx: HelperContext, name: str, r1: int, r2: int, r3: int,
                      max_loops: int) -> int:
    """Apply one number-iterator helper (``bpf_iter_num_new/next/destroy``) to memory.

    Shared by the runtime and the verifier's counterexample replay.
    """
    raw, _ = read_iter(ctx, r1)
    it = get_iter_num(raw)
    if name == "bpf_iter_num_new":
        result = compute_r0(process_iter_num_new(it, r2, r3, max_loops))
    elif name == "bpf_iter_num_next":
        result = 0 if process_iter_num_next(it) is None else r1
    else:
        process_iter_num_destroy(it)
        result = 0
    ctx.memory.write_bytes(ctx.pc, r1, compute_iter_num_bytes(it))
    return result


def helper_iter_new(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                    r5: int) -> int:
    """``bpf_iter_num_new(it, start, end)``."""
    return process_iter_call(ctx, "bpf_iter_num_new", r1, r2, r3, inv.state.preset.bpf_max_loops)


def helper_iter_next(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                     r5: int) -> int:
    """``bpf_iter_num_next(it)``: pointer to the current s32 (offset 0), or NULL."""
    return process_iter_call(ctx, "bpf_iter_num_next", r1, r2, r3, 0)


def helper_iter_destroy(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                        r5: int) -> int:
    """``bpf_iter_num_destroy(it)``."""
    return process_iter_call(ctx, "bpf_iter_num_destroy", r1, r2, r3, 0)


# --------------------------------------------------------------------------- accounts, misc


def get_account_by_index(inv: Invocation, index: int) -> AccountName | None:
    """Return the name of the ``index``-th declared account, or ``None``."""
    names = list(inv.state.accounts.accounts)
    return names[index] if 0 <= index < len(names) else None


def helper_account_read(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                        r5: int) -> int:
    """``arspec_account_read(index, offset, buf, size)``; a failed read zeroes ``buf``."""
    name = get_account_by_index(inv, r1)
    out = bytearray(check_size(ctx, r4))
    result = -ENOENT if name is None else process_account_read(
        inv.state.accounts.accounts[name], compute_signed(r2), out)
    ctx.memory.write_bytes(ctx.pc, r3, bytes(out))
    return compute_r0(result)


def helper_account_write(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                         r4: int, r5: int) -> int:
    """``arspec_account_write(index, offset, buf, size)``."""
    name = get_account_by_index(inv, r1)
    data = inv.read(ctx, r3, r4)
    if name is None:
        return compute_r0(-ENOENT)
    result = process_account_write(inv.state.accounts.accounts[name], compute_signed(r2), data)
    if result == 0:
        inv.written.append(name)
    return compute_r0(result)


def helper_get_slot(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                    r5: int) -> int:
    """``arspec_get_slot()``."""
    return int(inv.state.slot)


def helper_log(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
               r5: int) -> int:
    """``arspec_log(buf, size)``: append the bytes to the invocation's log."""
    inv.logs.append(inv.read(ctx, r1, r2))
    return 0


def helper_trace_printk(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                        r5: int) -> int:
    """``bpf_trace_printk(fmt, size, ...)`` (linux): log the format up to its NUL, unformatted."""
    text = inv.read(ctx, r1, r2).split(b"\0", 1)[0]
    inv.logs.append(text)
    return len(text)


def helper_ktime(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                 r5: int) -> int:
    """``bpf_ktime_get_*_ns()`` (linux): :func:`~arspec.spec.environment.compute_ktime_ns`."""
    return compute_ktime_ns(int(inv.state.slot))


def helper_prandom(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                   r5: int) -> int:
    """``bpf_get_prandom_u32()`` (linux): :func:`~arspec.spec.environment.compute_prandom_u32`."""
    inv.random_calls += 1
    return compute_prandom_u32(int(inv.state.slot), int(inv.item.seq), inv.random_calls)


def helper_cpu(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
               r5: int) -> int:
    """``bpf_get_smp_processor_id()`` (linux): the invocation's CPU."""
    return int(inv.cpu)


# --------------------------------------------------------------------------- run-time watchers


def helper_watch_account(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                         r4: int, r5: int) -> int:
    """``sol_watch_account(criteria, size, callback, flags)``: the watcher id or -errno."""
    raw = inv.read(ctx, r1, r2)
    callback = inv.get_callback(ctx.pc, r3)
    owner = inv.current.name if inv.current is not None else inv.item.prog
    return compute_r0(process_watch_account(inv.state, owner, callback, raw, r4))


def helper_unwatch_account(inv: Invocation, ctx: HelperContext, r1: int, r2: int, r3: int,
                           r4: int, r5: int) -> int:
    """``sol_unwatch_account(id)``: 0, or -ENOENT for no watcher of the caller's."""
    owner = inv.current.name if inv.current is not None else inv.item.prog
    return compute_r0(process_unwatch_account(inv.state, owner, r1))


#: The helper functions by helper name (every row of the helper table has one).
HELPER_FUNCTIONS: Final[dict[str, HelperFn]] = {
    "bpf_map_lookup_elem": helper_map_lookup,
    "bpf_map_update_elem": helper_map_update,
    "bpf_map_delete_elem": helper_map_delete,
    "bpf_ktime_get_ns": helper_ktime,
    "bpf_trace_printk": helper_trace_printk,
    "bpf_get_prandom_u32": helper_prandom,
    "bpf_get_smp_processor_id": helper_cpu,
    "bpf_tail_call": helper_tail_call,
    "bpf_map_push_elem": helper_map_push,
    "bpf_map_pop_elem": make_take_helper(remove=True),
    "bpf_map_peek_elem": make_take_helper(remove=False),
    "bpf_spin_lock": helper_spin_lock,
    "bpf_spin_unlock": helper_spin_unlock,
    "bpf_ktime_get_boot_ns": helper_ktime,
    "bpf_ringbuf_output": helper_ringbuf_output,
    "bpf_ringbuf_reserve": helper_ringbuf_reserve,
    "bpf_ringbuf_submit": make_commit_helper(discard=False),
    "bpf_ringbuf_discard": make_commit_helper(discard=True),
    "bpf_ringbuf_query": helper_ringbuf_query,
    "bpf_ktime_get_coarse_ns": helper_ktime,
    "bpf_timer_init": helper_timer_init,
    "bpf_timer_set_callback": helper_timer_set_callback,
    "bpf_timer_start": helper_timer_start,
    "bpf_timer_cancel": helper_timer_cancel,
    "bpf_loop": helper_loop,
    "bpf_dynptr_from_mem": helper_dynptr_from_mem,
    "bpf_ringbuf_reserve_dynptr": helper_ringbuf_reserve_dynptr,
    "bpf_ringbuf_submit_dynptr": make_commit_dynptr_helper(discard=False),
    "bpf_ringbuf_discard_dynptr": make_commit_dynptr_helper(discard=True),
    "bpf_dynptr_read": helper_dynptr_read,
    "bpf_dynptr_write": helper_dynptr_write,
    "bpf_dynptr_data": helper_dynptr_data,
    "bpf_ktime_get_tai_ns": helper_ktime,
    "arspec_get_slot": helper_get_slot,
    "arspec_account_read": helper_account_read,
    "arspec_account_write": helper_account_write,
    "bpf_wq_init": helper_wq_init,
    "bpf_wq_set_callback": helper_wq_set_callback,
    "bpf_wq_start": helper_wq_start,
    "bpf_iter_num_new": helper_iter_new,
    "bpf_iter_num_next": helper_iter_next,
    "bpf_iter_num_destroy": helper_iter_destroy,
    "arspec_log": helper_log,
    "sol_watch_account": helper_watch_account,
    "sol_unwatch_account": helper_unwatch_account,
}


#: The helpers that are light, or metered when their row has a size argument (its cost is
#: charged in the call; :attr:`HelperSpec.light
#: <arspec.reference.vm.helpers.HelperSpec.light>`): they read their arguments, memory bytes
#: and the invocation's spec state, and write memory bytes and that state. The others map or
#: unmap memory regions (``bpf_map_lookup_elem`` on first use of an element, ring
#: reservations and their commits), change what the machine guards (locks, dynptrs), read
#: its registers (tail calls, commits) or run its code (``bpf_loop``).
LIGHT_HELPERS: Final = frozenset({
    "bpf_map_update_elem", "bpf_map_delete_elem", "bpf_map_push_elem", "bpf_map_pop_elem",
    "bpf_map_peek_elem", "bpf_ringbuf_output", "bpf_ringbuf_query",
    "bpf_timer_init", "bpf_timer_set_callback", "bpf_timer_start", "bpf_timer_cancel",
    "bpf_wq_init", "bpf_wq_set_callback", "bpf_wq_start",
    "bpf_dynptr_read", "bpf_dynptr_write", "bpf_dynptr_data",
    "bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy",
    "bpf_ktime_get_ns", "bpf_ktime_get_boot_ns", "bpf_ktime_get_coarse_ns",
    "bpf_ktime_get_tai_ns", "bpf_get_prandom_u32", "bpf_get_smp_processor_id",
    "bpf_trace_printk", "arspec_log", "arspec_get_slot", "arspec_account_read",
    "arspec_account_write", "sol_watch_account", "sol_unwatch_account",
})


def bind_helper(runtime: Invoker, row: HelperDef) -> HelperSpec:
    """Return the VM helper for one table row: size-dependent cost, spec errors as faults."""
    fn = HELPER_FUNCTIONS[row.name]

    def call(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        check_call_allowed(invocation_of(runtime).held_lock, row.name, ctx.pc)
        if row.size_arg is not None:
            size = (r1, r2, r3, r4, r5)[row.size_arg - 1]
            ctx.charge(compute_helper_cost(row, min(size, 1 << 40)) - row.cost)
        try:
            return fn(invocation_of(runtime), ctx, r1, r2, r3, r4, r5)
        except AssertionError as err:
            raise HelperFault(ctx.pc, f"{row.name}: invalid call ({err})") from None
    return HelperSpec(row.id, row.name, call, cost=row.cost, deterministic=row.deterministic,
                      light=row.name in LIGHT_HELPERS and row.size_arg is None,
                      metered=row.name in LIGHT_HELPERS and row.size_arg is not None)


#: First id of the sol_* aliases in a solana registry (the VM finds them by name hash).
SOL_ALIAS_ID_BASE: Final = 0x6000


def get_invocation_clock(runtime: Invoker) -> Clock:
    """Return the ``Clock`` sysvar of the running invocation's slot.

    ``unix_timestamp`` is :func:`~arspec.spec.environment.compute_unix_timestamp`; epochs
    stay 0: a bundle's scenario spans no epoch boundary.
    """
    slot = int(invocation_of(runtime).state.slot)
    return Clock(slot=slot, unix_timestamp=compute_unix_timestamp(slot))


def build_registry(runtime: Invoker) -> HelperRegistry:
    """Return the registry of every helper in the table, bound to ``runtime``.

    In the ``solana`` profile it also holds the sol_* aliases (the same binding under the
    design's name) and the Agave syscalls (:mod:`arspec.spec.syscalls`).
    """
    specs = [bind_helper(runtime, row) for row in HELPER_TABLE]
    if runtime.profile.name == "solana":
        for i, (alias, target) in enumerate(SOL_ALIASES):
            bound = bind_helper(runtime, HELPERS_BY_NAME[target])
            specs.append(replace(bound, id=SOL_ALIAS_ID_BASE + i, name=alias))
        specs.extend(syscall_specs(lambda: get_invocation_clock(runtime)))
    return HelperRegistry(tuple(specs))
