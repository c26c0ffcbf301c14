"""
Bundle counterexample replay
============================

Replays a solver model of one bundle entry point on the reference VM
(:class:`~arspec.reference.vm.vm.Vm`, interpreter engine, with a tracer). The VM gets the
entry registers of the hook kind, the input or record bytes, every object region of the
executor (map values, records, key copies) filled with the model's bytes, and stub helpers
that return the model's results: ``bpf_map_lookup_elem`` / ``bpf_ringbuf_reserve`` return
NULL or the object's address (an array lookup NULL exactly when the index is out of range,
as the runtime does), ``bpf_loop`` calls its callback on the VM, the number iterator runs as
the runtime runs it, buffers are read or written through the VM's memory (so a bad buffer
faults at the call's pc, as the runtime's helpers do), ``submit`` / ``discard`` fault on a
record that is not held, and a taken tail call ends the run. Costs are the helper table's,
including the per-byte part, as in :func:`arspec.reference.runtime.runtime_helpers.bind_helper`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from arspec.reference.isa.instructions import LoadImm64, Pseudo
from arspec.reference.runtime.runtime_helpers import SOL_ALIAS_ID_BASE, process_iter_call
from arspec.reference.runtime.solana_syscalls import (
    CLOCK_SIZE,
    SYSCALL_BASE_COST,
    Clock,
    syscall_specs,
)
from arspec.reference.vm.helpers import HelperContext, HelperRegistry, HelperSpec
from arspec.reference.vm.memory import Memory, add_stack
from arspec.reference.vm.profiles import (
    HEAP_REGION,
    HEAP_SIZE,
    INPUT_REGION,
    PROGRAM_BASE,
    PROGRAM_REGION,
)
from arspec.reference.vm.trace import Event, InsnStart
from arspec.reference.vm.vm import Vm, standard_memory
from arspec.spec.conventions import MAP_HANDLE_REGION, EntryArg, get_map_handle
from arspec.spec.dynptr import DYNPTR_STORE_REASON
from arspec.spec.errno import EINVAL, compute_r0
from arspec.spec.errors import (
    ExecutionFault,
    HelperFault,
    InstructionLimit,
    InvalidInstruction,
    MemoryFault,
    ProgramOverrun,
)
from arspec.spec.helpers import (
    HELPER_TABLE,
    HELPERS_BY_NAME,
    ArgKind,
    HelperDef,
    compute_helper_cost,
)
from arspec.spec.loops import process_loop
from arspec.spec.spinlock import LOCK_ACCESS_REASON, SpinLockFault
from arspec.spec.syscalls import SOL_ALIASES

from . import solver as z
from .assertions import (
    Assertion,
    DynptrRule,
    DynptrsReleased,
    HelperArgument,
    LockReleased,
    NotNull,
    RecordsReleased,
    ReleaseOnce,
    SpinLockRule,
    StaysInProgram,
)
from .callbacks import LOOP_MARK, add_function
from .cfg import check_deadline
from .iterators import ITERATOR_HELPERS
from .lockdyn_replay import ReplayLocks, guard_locks
from .objects import ARRAY_TYPES, WRONG_MAP_FAULTS, BundleExecutor
from .replay import (
    ConcreteInput,
    InstanceTracker,
    ReplayOutcome,
    concrete_input,
    confirms,
    replay_tracers,
    start_registers,
)
from .verdict import Counterexample

#: Helper buffers larger than this are not copied in a replay (the runtime caps them too).
COPY_LIMIT = 1 << 20


#: Executed pcs a replay keeps for its report.
PATH_KEPT = 64


class _PathRecorder:
    """A tracer that keeps the last :data:`PATH_KEPT` executed pcs and watches a deadline.

    Every 4,096 instructions it raises :class:`~arspec.checker.cfg.TimeLimitReached` once
    ``time.monotonic()`` has passed ``deadline``.
    """

    def __init__(self, deadline: float | None = None) -> None:
        self.pcs: deque[int] = deque(maxlen=PATH_KEPT)
        self.deadline = deadline
        self.steps = 0

    def event(self, e: Event) -> None:
        """Record one step."""
        if isinstance(e, InsnStart):
            self.pcs.append(e.pc)
            self.steps += 1
            if not self.steps & 0xFFF:
                check_deadline(self.deadline)


class _TailCallTaken(Exception):
    """Raised by the tail-call stub: the chain leaves this program at ``pc``."""

    def __init__(self, pc: int) -> None:
        super().__init__(pc)
        self.pc = pc


@dataclass(frozen=True)
class BundleOutcome(ReplayOutcome):
    """What the VM did (:class:`~arspec.checker.replay.ReplayOutcome`), where it ended and
    what it still held."""

    end_pc: int | None
    leaked: int
    tail_call: bool
    #: What the run produced, in order: helper calls with the bytes they publish (account
    #: writes, logs, ring records, map updates), the ending and r0, then the final bytes of
    #: every writable object (map values, records). Two runs are equivalent when these match.
    outputs: tuple[str, ...] = ()
    #: The last :data:`PATH_KEPT` pcs executed, oldest first.
    path: tuple[int, ...] = ()
    #: Whether the run ended holding a bpf_spin_lock.
    locked: bool = False
    #: Ring-buffer dynptrs neither submitted nor discarded at the end.
    dynptrs: int = 0

    def describe(self) -> str:
        """Return a one-line description."""
        if self.fault is not None:
            return super().describe()
        how = "tail-called out" if self.tail_call else "exited"
        text = f"{how} at pc {self.end_pc} after {self.compute_units} CU"
        if self.leaked:
            text += f" holding {self.leaked} unreleased ring-buffer record(s)"
        if self.locked:
            text += " holding a bpf_spin_lock"
        if self.dynptrs:
            text += f" holding {self.dynptrs} unreleased ring-buffer dynptr(s)"
        return text


@dataclass(frozen=True)
class BundleReplay:
    """A concrete run: the input, the entry registers, object contents and the outcome."""

    given: ConcreteInput
    registers: tuple[int, ...]
    objects: tuple[tuple[str, bytes], ...]
    outcome: BundleOutcome


def _object_bytes(executor: BundleExecutor, model: z.Model, region: int, size: int) -> bytes:
    base = region << 32
    return bytes(model.value(z.select(executor.unknown_memory, z.const(base + i)))
                 for i in range(size))


def replay_bundle_model(executor: BundleExecutor, model: z.Model, *,
                        compute_limit: int, override: dict[int, int] | None = None,
                        contents: dict[int, bytes] | None = None) -> BundleReplay:
    """Run the entry point on the reference VM with the values ``model`` chose.

    ``override`` maps the pc of a nondeterministic helper call to what every call there
    returns (instead of the model's value); ``contents`` replaces the initial bytes of some
    object regions.
    """
    given = concrete_input(model, executor.inputs)
    extra = {"@ctx": model.value(z.var("ctx")), "@loop_index": model.value(z.var("loop_index"))}
    given = ConcreteInput(given.data, {**given.helper_results, **extra})
    objects = {region: _object_bytes(executor, model, region, obj.size)
               for region, obj in sorted(executor.objects.items())}
    objects.update(contents or {})
    buffers = {key: bytes(model.value(b) for b in names)
               for key, names in sorted(executor.facts.buffers.items())}
    return replay_bundle(executor, given, objects, buffers, compute_limit=compute_limit,
                         override=override)


def solana_replay_specs(stub: Callable[[HelperDef], HelperSpec], key_of: Callable[[int], str],
                        buffers: dict[str, bytes], outputs: list[str]) -> list[HelperSpec]:
    """Return the sol_* aliases (their target's stub under the alias name) and the Agave
    syscalls: the runtime's own functions, except ``sol_get_clock_sysvar``, which writes the
    model's ``Clock`` bytes (the slot is an input of the entry)."""
    specs = [replace(stub(HELPERS_BY_NAME[target]), id=SOL_ALIAS_ID_BASE + i, name=alias)
             for i, (alias, target) in enumerate(SOL_ALIASES)]

    def clock(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        ctx.charge(SYSCALL_BASE_COST + CLOCK_SIZE)
        if r1 % 8:
            raise HelperFault(ctx.pc, "Unaligned pointer")
        data = buffers.get(key_of(ctx.pc), bytes(CLOCK_SIZE))
        ctx.memory.write_bytes(ctx.pc, r1, data)
        outputs.append(f"call sol_get_clock_sysvar at pc {ctx.pc}: {data.hex()}")
        return 0

    for spec in syscall_specs(Clock()):
        specs.append(replace(spec, fn=clock) if spec.name == "sol_get_clock_sysvar" else spec)
    return specs


def replay_bundle(executor: BundleExecutor, given: ConcreteInput, objects: dict[int, bytes],
                  buffers: dict[str, bytes], *, compute_limit: int,
                  override: dict[int, int] | None = None,
                  detect_repeat: bool = False) -> BundleReplay:
    """Run the entry point on the VM with the given input, objects and helper results.

    ``override`` maps the pc of a nondeterministic helper call to its result;
    ``detect_repeat`` watches for an exact repeat of the machine state (a proof of looping).
    """
    cfg, profile = executor.cfg, executor.profile
    memory = _replay_memory(executor, given, objects)
    recorder = _PathRecorder(executor.deadline)
    tracker, detector, tracers = replay_tracers(cfg, recorder, detect_repeat=detect_repeat)
    helpers = _ReplayHelpers(executor, given, buffers, override, tracker)
    vm = Vm(cfg.program, profile=profile, helpers=helpers.registry(), memory=memory,
            compute_limit=compute_limit, tracer=tracers,
            pseudo_resolver=lambda pc, insn: _resolve(executor, pc, insn),
            engine="interpreter")
    args = _entry_registers(executor, given)
    tail = False
    r0: int | None = None
    try:
        result = vm.run(cfg.entry, args)
        fault, units = result.fault, result.compute_units
        end_pc = tracker.prev
        r0 = result.r0
    except _TailCallTaken as taken:
        fault, units, end_pc, tail = None, vm.units, taken.pc, True
    outputs = helpers.outputs
    if fault is not None:
        outputs.append(f"fault: {fault}")
    else:
        outputs.append("tail call" if tail else f"exit r0={r0:#x}")
        for region, obj in sorted(executor.objects.items()):
            if obj.writable:
                data = memory.read_bytes(0, region << 32, obj.size)
                outputs.append(f"{obj.what} = {data.hex()}")
    ended = fault is None and not tail
    outcome = BundleOutcome(fault, units, tuple(helpers.returns), detector.repeat_pc,
                            end_pc=end_pc, leaked=len(helpers.held) if fault is None else 0,
                            tail_call=tail, outputs=tuple(outputs), path=tuple(recorder.pcs),
                            locked=ended and helpers.locks.held is not None,
                            dynptrs=helpers.locks.live_rings() if ended else 0)
    names = {r: o.what for r, o in executor.objects.items()}
    return BundleReplay(given, start_registers(args, profile),
                        tuple((names[r], data) for r, data in sorted(objects.items())), outcome)


def _replay_memory(executor: BundleExecutor, given: ConcreteInput,
                   objects: dict[int, bytes]) -> Memory:
    """Return the replay's memory: code, stack, heap, the input and every object region."""
    cfg, profile = executor.cfg, executor.profile
    code = standard_memory(cfg.program, profile).region(PROGRAM_BASE)
    context = executor.program_context
    memory = Memory() if context is None else context.replay_memory(given.data)
    memory.add_region(PROGRAM_REGION, code, writable=False)
    add_stack(memory, profile)
    if profile.has_heap:
        memory.add_region(HEAP_REGION, bytearray(HEAP_SIZE), writable=True)
    memory.add_region(INPUT_REGION, bytearray(given.data),
                      writable=executor.entry.kind != "record")
    for region, data in objects.items():
        memory.add_region(region, bytearray(data), writable=executor.objects[region].writable)
    guard_locks(executor, memory)
    return memory


def _resolve(executor: BundleExecutor, pc: int, insn: LoadImm64) -> int:
    """Return the value an ``lddw`` of a map (handle) or map value (region) loads."""
    index = insn.imm
    mapping = executor.context.map_indices
    if mapping is not None and insn.pseudo in (Pseudo.MAP_IDX, Pseudo.MAP_IDX_VALUE):
        index = mapping[index] if 0 <= index < len(mapping) else -1
    if insn.pseudo in (Pseudo.MAP_FD, Pseudo.MAP_IDX):
        return get_map_handle(index)
    region = executor.facts.direct_values.get(pc)
    if region is None:
        raise HelperFault(pc, "lddw map value not modelled")
    return (region << 32) + insn.next_imm


class _ReplayHelpers:
    """The helpers of one replay: each call returns the value the model chose for it (keyed
    by the executed copy of the call), checks its arguments as the runtime does, and records
    what it publishes in :attr:`outputs`."""

    def __init__(self, executor: BundleExecutor, given: ConcreteInput,
                 buffers: dict[str, bytes], override: dict[int, int] | None,
                 tracker: InstanceTracker) -> None:
        self.executor, self.given, self.buffers = executor, given, buffers
        self.override, self.tracker = override, tracker
        self.returns: list[tuple[int, int]] = []
        self.outputs: list[str] = []
        self.held: set[int] = set()
        self.locks = ReplayLocks(executor)
        self.maps = executor.context.maps

    def registry(self) -> HelperRegistry:
        """Return every helper of the profile (and every nondeterministic one) as a stub."""
        profile = self.executor.profile
        specs = [self.stub(row) for row in HELPER_TABLE
                 if profile.name in row.profiles or not row.deterministic]
        if profile.name == "solana":
            specs += solana_replay_specs(self.stub, self.tracker.key, self.buffers,
                                         self.outputs)
        return HelperRegistry(tuple(specs))

    def stub(self, row: HelperDef) -> HelperSpec:
        """Return the stub of one helper."""
        def fn(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
            return self.call(row, ctx, (r1, r2, r3, r4, r5))
        # The stub returns fixed values, so it is deterministic even where the helper is not
        # (the VM would otherwise refuse a nondeterministic helper in the solana profile).
        return HelperSpec(row.id, row.name, fn, cost=row.cost, deterministic=True)

    def map_of(self, handle: int) -> int | None:
        """Return the map index of a map handle, or ``None`` for any other value."""
        index = (handle >> 32) - MAP_HANDLE_REGION
        return index if 0 <= index < len(self.maps) and not handle & 0xFFFFFFFF else None

    def call(self, row: HelperDef, ctx: HelperContext, regs: tuple[int, ...]) -> int:
        """Run one helper call: charge, check, choose the result, record the outputs."""
        self.locks.before(ctx.pc, row.name)
        if row.size_arg is not None:
            ctx.charge(compute_helper_cost(row, min(regs[row.size_arg - 1], 1 << 40))
                       - row.cost)
        key = self.tracker.key(ctx.pc)
        value = self.given.helper_results.get(key, 0)
        if not row.deterministic and self.override is not None and ctx.pc in self.override:
            value = self.override[ctx.pc]
        self.outputs.append(f"call {row.name} at pc {ctx.pc}")
        self.check_map_args(row, ctx, regs)
        index = self.map_of(regs[0])
        value = self.result(row.name, ctx, regs, key, value, index)
        self.record_map_writes(row.name, ctx, regs, index)
        self.returns.append((ctx.pc, value))
        return value

    def check_map_args(self, row: HelperDef, ctx: HelperContext,
                       regs: tuple[int, ...]) -> None:
        """Fault on a map argument that is no map, or a map of a type the helper refuses."""
        maps = self.maps
        for i, kind in enumerate(row.args, start=1):
            if kind is ArgKind.CONST_MAP_PTR:
                named = self.map_of(regs[i - 1])
                if named is None:
                    raise HelperFault(ctx.pc, f"{regs[i - 1]:#x} is not a map reference")
                if row.name in WRONG_MAP_FAULTS and maps[named].type not in row.map_types:
                    raise HelperFault(ctx.pc, f"{row.name}: map {maps[named].name!r} is a "
                                              f"{maps[named].type}")
        index = self.map_of(regs[0])
        if row.name in ("bpf_map_lookup_elem", "bpf_map_update_elem", "bpf_map_delete_elem") \
                and index is not None:
            ctx.memory.read_bytes(ctx.pc, regs[1], maps[index].key_size)
            if row.name == "bpf_map_update_elem":
                ctx.memory.read_bytes(ctx.pc, regs[2], maps[index].value_size)

    def result(self, name: str, ctx: HelperContext, regs: tuple[int, ...], key: str,
               value: int, index: int | None) -> int:
        """Return what the call returns (writing what it writes), given the model's value."""
        r1, r2, r3, r4, _ = regs
        maps, facts, executor = self.maps, self.executor.facts, self.executor
        if name == "bpf_map_lookup_elem":
            region = facts.lookups.get(key)
            if index is not None and maps[index].type in ARRAY_TYPES:
                at = int.from_bytes(ctx.memory.read_bytes(ctx.pc, r2, 4), "little")
                value = int(at < maps[index].max_entries)
            value = 0 if value == 0 or region is None else region << 32
        elif name == "bpf_map_delete_elem" and index is not None \
                and maps[index].type in ARRAY_TYPES:
            value = compute_r0(-EINVAL)
        elif name == "bpf_ringbuf_reserve":
            region = facts.reservations.get(key)
            value = 0 if value == 0 or region is None else region << 32
            if value:
                self.held.add(value)
        elif name in ("bpf_ringbuf_submit", "bpf_ringbuf_discard"):
            self.release_record(name, ctx, r1)
        elif name == "bpf_tail_call":
            if value == 0 and facts.tail_decisions.get(key) is not None:
                raise _TailCallTaken(ctx.pc)
            value = self.given.helper_results.get(f"{key}:r0", 0)
        elif name == "bpf_loop":
            value = self.run_loop(ctx, r1, r2, r3, r4)
        elif name in ITERATOR_HELPERS:
            value = process_iter_call(ctx, name, r1, r2, r3, executor.context.max_loops)
        elif self.locks.handles(name):
            value = self.locks.call(ctx, key, name, regs, value)
        elif name in ("bpf_map_pop_elem", "bpf_map_peek_elem") and index is not None:
            size = maps[index].value_size
            data = self.buffers.get(key, bytes(size))
            ctx.memory.write_bytes(ctx.pc, r2, data if value == 0 else bytes(size))
        elif name == "arspec_account_read":
            data = self.buffers.get(key, bytes(r4 if r4 < COPY_LIMIT else 0))
            ctx.memory.write_bytes(ctx.pc, r3, data if value == 0 else bytes(len(data)))
        elif name in ("arspec_account_write", "arspec_log", "bpf_ringbuf_output",
                      "bpf_trace_printk", "sol_watch_account"):
            self.record_published(name, ctx, regs)
        return value

    def release_record(self, name: str, ctx: HelperContext, r1: int) -> None:
        """Submit or discard a held ring-buffer record (a submitted one is an output)."""
        if r1 not in self.held:
            raise HelperFault(ctx.pc, f"{name}: {r1:#x} is not a held reservation")
        self.held.discard(r1)
        objects = self.executor.objects
        size = objects[r1 >> 32].size if (r1 >> 32) in objects else 0
        if name == "bpf_ringbuf_submit":
            self.outputs.append("record " + ctx.memory.read_bytes(ctx.pc, r1, size).hex())

    def record_published(self, name: str, ctx: HelperContext, regs: tuple[int, ...]) -> None:
        """Record the bytes an account write, log, ring output or watch request publishes."""
        r1, r2, r3, r4, _ = regs
        pointer, size = (r3, r4) if name == "arspec_account_write" else (
            (r1, r2) if name in ("arspec_log", "bpf_trace_printk", "sol_watch_account")
            else (r2, r3))
        data = ctx.memory.read_bytes(ctx.pc, pointer, min(size, COPY_LIMIT))
        where = f" account {r1} offset {r2}" if name == "arspec_account_write" else ""
        self.outputs.append(f"{name}{where}: {data.hex()}")

    def record_map_writes(self, name: str, ctx: HelperContext, regs: tuple[int, ...],
                          index: int | None) -> None:
        """Record a map push or update (key, value and flags) as an output."""
        if index is None:
            return
        _, r2, r3, r4, _ = regs
        if name == "bpf_map_push_elem":
            data = ctx.memory.read_bytes(ctx.pc, r2, self.maps[index].value_size)
            self.outputs.append(f"push map {self.maps[index].name} value {data.hex()} "
                                f"flags {r3}")
        if name == "bpf_map_update_elem":
            key_bytes = ctx.memory.read_bytes(ctx.pc, r2, self.maps[index].key_size)
            data = ctx.memory.read_bytes(ctx.pc, r3, self.maps[index].value_size)
            self.outputs.append(f"update map {self.maps[index].name} key {key_bytes.hex()} "
                                f"value {data.hex()} flags {r4}")

    def run_loop(self, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int) -> int:
        """Run ``bpf_loop`` as the runtime does, naming each callback call for the tracker."""
        site, vm, cfg = ctx.pc, ctx.vm, self.executor.cfg
        target = vm.code_address_to_pc(r2)
        if target is None or not add_function(cfg, target):
            raise HelperFault(site, f"bpf_loop callback {r2:#x} is not a usable code address")

        def call(index: int) -> int:
            self.tracker.enter_callback(site, (LOOP_MARK, index), target)
            r0 = vm.call_function(target, (index, r3))
            self.tracker.leave_callback()
            return r0

        return compute_r0(process_loop(r1, r4, self.executor.context.max_loops, call))


def _entry_registers(executor: BundleExecutor, given: ConcreteInput) -> tuple[int, ...]:
    """Return r1.. of the replay: the executor's entry arguments
    (:func:`~arspec.checker.objmemory.get_entry_arguments`, the spec's convention) with the
    model's values for those the solver chose."""
    if executor.entry_args is None:  # a bpf_loop callback
        return (given.helper_results.get("@loop_index", 0), given.helper_results.get("@ctx", 0))
    values = []
    for arg in executor.entry_args:
        if arg is EntryArg.CALLER_R1:
            values.append(given.helper_results.get("@ctx", 0))
        elif arg is EntryArg.RECORD_LENGTH:
            values.append(len(given.data))
        else:
            values.append(executor.entry_addresses[arg])
    return tuple(values)


def bundle_confirms(assertion: Assertion | None, pc: int, outcome: BundleOutcome) -> bool:
    """Return whether ``outcome`` shows what ``assertion`` at ``pc`` predicts: the rules
    and contracts of bundles here, every other assertion (and a compute overrun, ``None``) as
    :func:`~arspec.checker.replay.confirms` decides."""
    fault = outcome.fault
    if isinstance(assertion, RecordsReleased):
        return fault is None and outcome.leaked > 0 and outcome.end_pc == pc
    if isinstance(assertion, LockReleased):
        return fault is None and outcome.locked and outcome.end_pc == pc
    if isinstance(assertion, DynptrsReleased):
        return fault is None and outcome.dynptrs > 0 and outcome.end_pc == pc
    if isinstance(assertion, SpinLockRule | DynptrRule):
        # A helper's refusal; for a lock rule also a call or return with the lock held or
        # a load/store of the lock's bytes, for a dynptr rule a store over a live one.
        if isinstance(assertion, SpinLockRule):
            expected_fault = isinstance(fault, HelperFault | SpinLockFault) or (
                isinstance(fault, MemoryFault) and fault.reason.startswith(LOCK_ACCESS_REASON))
        else:
            expected_fault = isinstance(fault, HelperFault) or (
                isinstance(fault, MemoryFault) and fault.reason.startswith(DYNPTR_STORE_REASON))
        return expected_fault and fault is not None and fault.pc == pc
    if isinstance(assertion, ReleaseOnce):
        return isinstance(fault, HelperFault) and fault.pc == pc
    if isinstance(assertion, StaysInProgram):
        return isinstance(fault, ProgramOverrun | InvalidInstruction) \
            and fault.pc == assertion.target
    if isinstance(assertion, HelperArgument | NotNull):
        return isinstance(fault, ExecutionFault) and not isinstance(fault, InstructionLimit) \
            and fault.pc == pc
    return confirms(assertion, pc, outcome)


def bundle_counterexample(replay: BundleReplay, replayed: bool) -> Counterexample:
    """Package a replay as a :class:`Counterexample`."""
    return Counterexample(replay.registers, replay.given.data, replay.outcome.helper_returns,
                          replay.outcome.describe(), replayed, replay.outcome.compute_units,
                          replay.objects)
