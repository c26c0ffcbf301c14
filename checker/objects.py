"""
Bundle memory model and helper contracts
========================================

:class:`BundleExecutor` extends the symbolic executor of :mod:`~arspec.checker.symbolic`
to programs of a bundle: map references, map values, ring-buffer records, the entry
registers of each hook kind and the helper contracts of :mod:`arspec.spec.helpers`.

Every bounded object the program may reach outside its stack (a map value, a reserved
record, a callback's key copy) gets its own 4 GiB *object region* ``OBJECT_REGION + n``,
with its size and writability in :attr:`BundleExecutor.objects`; an access through such a
pointer must stay inside ``[0, size)`` of its region. A single-element array map has one
shared region (every lookup returns the same element), an array lookup with a literal index
gets that element's region; every other lookup gets a fresh region per executed call.
Contents are unknown at entry. Aliasing is handled soundly: a store through a map-value
pointer forgets every other region of its map it may alias (elements with different
literal indexes never do), and ``bpf_map_update_elem`` / ``delete`` forget the regions of
their map.

"Pointer or NULL" results (``bpf_map_lookup_elem``, ``bpf_ringbuf_reserve``) are
``ite(null, 0, base)`` with the kind ``NULLPTR`` on the NULL side, so a use that no null
check dominates is a satisfiable :class:`~arspec.checker.assertions.NotNull` violation.
The contract lets every lookup return NULL; the runtime does so for an array only when the
index is out of range. That run-time fact goes to
:attr:`~arspec.checker.symbolic.Executor.realisable`: a missing null check after a lookup
with an index in range is still a finding, but an UNKNOWN one, since no run faults there.
Deleting from an array always fails with ``-EINVAL`` (a path condition).
Reservations are tracked as references (:attr:`~arspec.checker.symbolic.State.refs`): each
``submit``/``discard`` must release a held one, and none may be held at ``exit`` or at a
successful tail call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from arspec.reference.isa.instructions import Call, Exit, Imm, JmpCond, Jump, LoadImm64, Pseudo
from arspec.reference.runtime.solana_syscalls import get_solana_call_table
from arspec.reference.vm.helpers import HelperRegistry
from arspec.reference.vm.profiles import (
    INPUT_BASE,
    INPUT_REGION,
    PROGRAM_REGION,
    SLOT_SIZE,
    STACK_BASE,
    STACK_REGION,
    Profile,
)
from arspec.spec.conventions import MAP_HANDLE_REGION, PROG_CODE_REGION, get_map_handle
from arspec.spec.errno import EINVAL
from arspec.spec.helpers import HELPER_TABLE, ArgKind, HelperDef, RetKind
from arspec.spec.runtime_watchers import WATCH_CRITERIA_SIZE
from arspec.spec.syscalls import AGAVE_SYSCALLS_BY_NAME

from . import solver as z
from .assertions import (
    HelperArgument,
    HelperDeterministic,
    HelperExists,
    HelperModelled,
    InitializedStack,
    NotNull,
    RecordsReleased,
    ReleaseOnce,
    TypeIsPointer,
)
from .callbacks import code_target, inline_loop
from .cfg import ControlFlow, Function
from .iterators import ITERATOR_HELPERS, iteration_bound, iterator_call
from .lockdyn import (
    DYNPTR_HELPERS,
    LOCK_HELPERS,
    check_call,
    check_exit,
    check_local_call,
    check_local_return,
    check_lock_access,
    dynptr_call,
    lock_call,
    on_store,
    slice_live,
)
from .symbolic import (
    INPUT,
    MAPREF,
    NULLPTR,
    OBJECT,
    OPAQUE,
    SCALAR,
    STACK,
    UNINIT,
    Context,
    Executor,
    Iters,
    State,
    Value,
    instance_key,
    kind_is,
)
from .syscalls import execute_syscall

#: Helpers whose runtime binding faults when the map argument has a type the helper table
#: does not accept (:func:`arspec.reference.runtime.runtime_helpers.get_ring`,
#: ``helper_tail_call``); the others return an error code (the map semantics of
#: :mod:`arspec.spec.maps`).
WRONG_MAP_FAULTS: Final = frozenset({"bpf_ringbuf_output", "bpf_ringbuf_reserve",
                                     "bpf_ringbuf_query", "bpf_tail_call",
                                     "bpf_ringbuf_reserve_dynptr"})
#: Map types whose elements all exist: a lookup is NULL only for an index out of range.
ARRAY_TYPES: Final = ("array", "percpu_array")
#: First region number of the verifier's objects (far from the VM's dynamic regions).
OBJECT_REGION: Final = 0x1000
#: Largest buffer whose bytes are checked one by one (initialisation, helper writes).
BYTEWISE_LIMIT: Final = 256
#: Helpers whose effect the model states exactly (others: result and memory havocked).
#: Nondeterministic helpers whose result depends on the CPU even in the linux profile (the
#: runtime seeds the clocks and the random generator from the slot there).
PER_CPU_HELPERS: Final = frozenset({"bpf_get_smp_processor_id"})
MODELLED: Final = frozenset({
    "bpf_map_lookup_elem", "bpf_map_update_elem", "bpf_map_delete_elem",
    "bpf_ringbuf_output", "bpf_ringbuf_reserve", "bpf_ringbuf_submit", "bpf_ringbuf_discard",
    "bpf_ringbuf_query", "bpf_timer_init", "bpf_timer_set_callback", "bpf_timer_start",
    "bpf_timer_cancel", "bpf_tail_call", "arspec_get_slot", "arspec_account_read",
    "arspec_account_write", "bpf_wq_init", "bpf_wq_set_callback", "bpf_wq_start", "arspec_log",
    "bpf_loop", "bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy",
    "bpf_trace_printk", "bpf_map_push_elem", "bpf_map_pop_elem", "bpf_map_peek_elem",
    *LOCK_HELPERS, *DYNPTR_HELPERS,
    # Run-time watchers: no memory effect; the runtime keeps the registration.
    "sol_watch_account", "sol_unwatch_account",
})


@dataclass(frozen=True)
class MapInfo:
    """What the verifier needs of one bundle map."""

    index: int
    name: str
    type: str
    key_size: int
    value_size: int
    max_entries: int
    timer: int | None = None
    wq: int | None = None
    #: prog_array slots: index -> program name.
    entries: tuple[tuple[int, str], ...] = ()
    #: Offset of the value's ``bpf_spin_lock``, if it has one.
    spin_lock: int | None = None

    @property
    def single(self) -> bool:
        """Return whether every lookup returns the same element (a 1-entry array)."""
        return self.type in ("array", "percpu_array") and self.max_entries == 1


@dataclass(frozen=True)
class MemObject:
    """One object region: ``size`` bytes, writability, what it is and its map."""

    region: int
    size: int
    writable: bool
    what: str
    map_index: int | None = None
    shared: bool = False
    #: Number of the reservation (for ring records), else ``None``.
    ref: int | None = None
    #: The array index this region is the element of, when the lookup's key was a literal.
    element: int | None = None


@dataclass(frozen=True)
class EntryKind:
    """How one entry point starts (the runtime's entry registers).

    ``kind`` is ``"input"`` (startup/every/watch: an empty input), ``"record"`` (a ring
    subscriber: a read-only record of at most ``max_record`` bytes), ``"async"`` (a timer or
    work-queue callback of map ``map_index``), ``"tail"`` (a tail-call target: an opaque
    context) or ``"loop"`` (a ``bpf_loop`` callback: index and an opaque context).
    """

    kind: str
    map_index: int | None = None
    max_record: int = 0


@dataclass(frozen=True)
class CallEdge:
    """A tail call or callback installation seen in the code: ``kind`` and its target."""

    pc: int
    kind: str
    #: ``(program index, pc)`` of a callback, or ``None`` for a tail call.
    target: tuple[int, int] | None = None
    #: Prog-array slot names a tail call may reach.
    programs: tuple[str, ...] = ()
    #: A ``bpf_loop`` callback unrolled at the call (it needs no entry of its own).
    inlined: bool = False


@dataclass
class BundleContext:
    """The bundle facts one program's verification needs."""

    profile: Profile
    maps: tuple[MapInfo, ...]
    program_index: int
    map_indices: tuple[int, ...] | None = None
    #: CPUs of the bundle's preset: ``bpf_get_smp_processor_id`` returns one of them.
    num_cpus: int = 1
    #: The preset's ``bpf_max_loops``: a larger ``bpf_loop`` count fails with ``-E2BIG``.
    max_loops: int = 1 << 23

    def helper_for(self, imm: int) -> HelperDef | None:
        """Return the contract row a ``call imm`` reaches in this profile.

        In ``solana`` that is
        :func:`~arspec.reference.runtime.solana_syscalls.get_solana_call_table`:
        helper names, the sol_* aliases (their target's row) and the Agave syscalls.
        """
        if self.profile.name == "solana":
            found = get_solana_call_table().get(imm & 0xFFFFFFFF)
            return None if found is None else found[1]
        return next((row for row in HELPER_TABLE if row.id == imm), None)


@dataclass
class Reservation:
    """One ``bpf_ringbuf_reserve`` call copy: its record region."""

    key: str
    region: int


@dataclass
class BundleFacts:
    """What the executor learnt for the replay and the bundle graphs."""

    lookups: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, int] = field(default_factory=dict)
    buffers: dict[str, list[Any]] = field(default_factory=dict)
    tail_decisions: dict[str, Any] = field(default_factory=dict)
    edges: list[CallEdge] = field(default_factory=list)
    direct_values: dict[int, int] = field(default_factory=dict)
    #: Pcs of nondeterministic helper calls (clock, random, CPU id) on some path.
    nondeterministic: list[int] = field(default_factory=list)
    #: ``(pc, result term)`` of every nondeterministic helper call.
    nondet_results: list[tuple[int, Any]] = field(default_factory=list)


class BundleExecutor(Executor):
    """The symbolic executor for one entry point of a bundle program."""

    def __init__(self, cfg: ControlFlow, profile: Profile, session: z.Session, *,
                 context: BundleContext, entry: EntryKind, unroll_limit: int = 20_000) -> None:
        max_input = entry.max_record if entry.kind == "record" else 0
        super().__init__(cfg, profile, session, helpers=HelperRegistry(), max_input=max_input,
                         unroll_limit=unroll_limit)
        self.context = context
        self.entry = entry
        self.deref_kinds = (STACK, INPUT, OBJECT)
        self.arith_kinds = (STACK, INPUT, OBJECT, NULLPTR)
        self.objects: dict[int, MemObject] = {}
        self.facts = BundleFacts()
        self.unknown_memory = z.byte_array("unmapped")
        self.shared_regions: dict[int, int] = {}
        #: ``(map index, array index) -> region`` of lookups with a literal index.
        self.element_regions: dict[tuple[int, int], int] = {}
        self.entry_registers: list[int] = []
        #: Suffix of the names of nondeterministic results in a second self-composed copy.
        self.copy_name = ""
        #: The NULL conditions of "pointer or NULL" results, by term id (kept alive here).
        self.null_conditions: dict[int, Any] = {}
        #: Stack addresses ``bpf_iter_num_new`` was called on (``None``: not a literal).
        self.iterators: set[int | None] = set()
        #: Literal stack addresses dynptrs were initialised at (:mod:`.lockdyn`).
        self.dynptr_slots: set[int] = set()
        #: ``bpf_dynptr_data`` slice regions and the dynptr address each belongs to.
        self.slice_regions: dict[int, int] = {}
        #: Slice region of each ``bpf_dynptr_data`` call copy (for the replay).
        self.slices: dict[str, int] = {}
        #: The pc being executed (stores report dynptr findings there).
        self.current_pc = 0
        #: Context depths of the bpf-to-bpf frames being executed (innermost last).
        self.local_frames: list[int] = []
        #: Set by a store through a slice: forget every byte value after it.
        self.pending_havoc = False

    # -- objects ----------------------------------------------------------------------------

    def new_object(self, size: int, writable: bool, what: str, *, map_index: int | None = None,
                   ref: int | None = None) -> MemObject:
        """Allocate a fresh object region."""
        region = OBJECT_REGION + len(self.objects)
        obj = MemObject(region, size, writable, what, map_index, False, ref)
        self.objects[region] = obj
        return obj

    def map_value_object(self, info: MapInfo, element: int | None = None) -> MemObject:
        """Return the region of a lookup result of ``info``.

        A 1-entry array has one shared region; an array lookup with a literal index in range
        gets the region of that element (the same for every such lookup, and no alias of
        another literal index); every other lookup a fresh region.
        """
        if element is not None and info.type in ARRAY_TYPES and element < info.max_entries \
                and not info.single:
            region = self.element_regions.get((info.index, element))
            if region is None:
                region = OBJECT_REGION + len(self.objects)
                self.objects[region] = MemObject(
                    region, info.value_size, True, f"value of map {info.name}[{element}]",
                    info.index, element=element)
                self.element_regions[(info.index, element)] = region
            return self.objects[region]
        if info.single:
            region = self.shared_regions.get(info.index)
            if region is None:
                region = OBJECT_REGION + len(self.objects)
                self.objects[region] = MemObject(region, info.value_size, True,
                                                 f"value of map {info.name}", info.index, True)
                self.shared_regions[info.index] = region
            return self.objects[region]
        return self.new_object(info.value_size, True, f"value of map {info.name}",
                               map_index=info.index)

    def forget_regions(self, state: State, regions: list[int]) -> None:
        """Make the bytes of ``regions`` unknown (they may have been written elsewhere)."""
        if not regions:
            return
        forgotten = set(regions)
        self._flush(state.memory, keep=lambda address: address >> 32 not in forgotten)
        fresh = z.byte_array(f"objects!{self.fresh_count}")
        self.fresh_count += 1
        state.memory.base = z.havoc_regions(state.memory.base, fresh, regions)
        state.exact = False

    def map_regions(self, map_index: int | None) -> list[int]:
        """Return the object regions of one map's values (all maps' non-shared if ``None``)."""
        return sorted(r for r, o in self.objects.items() if o.map_index is not None
                      and (o.map_index == map_index if map_index is not None else not o.shared))

    # -- entry ------------------------------------------------------------------------------

    def initial_state(self) -> State:
        """Return the entry state of the hook kind (see :class:`EntryKind`)."""
        base, init = z.region_initial_memory(
            self.inputs.data, self.unknown_memory, input_base=INPUT_BASE,
            zero_regions=[STACK_REGION])
        from arspec.reference.vm.profiles import HEAP_REGION
        if self.profile.has_heap:
            base, init = z.region_initial_memory(
                self.inputs.data, self.unknown_memory, input_base=INPUT_BASE,
                zero_regions=[STACK_REGION, HEAP_REGION])
        regs = [Value(z.const(0), UNINIT) for _ in range(11)]
        path = z.ule(self.inputs.length, z.const(self.max_input))
        kind = self.entry.kind
        if kind in ("input", "record"):
            regs[1] = Value(z.const(INPUT_BASE), INPUT)
            regs[2] = Value(self.inputs.length, SCALAR)
            if kind == "input":
                path = z.eq(self.inputs.length, z.const(0))
        elif kind == "async":
            assert self.entry.map_index is not None
            info = self.context.maps[self.entry.map_index]
            regs[1] = Value(z.const(get_map_handle(info.index)), MAPREF)
            key = self.new_object(info.key_size, False, f"key copy of map {info.name}")
            value = self.map_value_object(info)
            regs[2] = Value(z.const(key.region << 32), OBJECT)
            regs[3] = Value(z.const(value.region << 32), OBJECT)
            self.entry_registers = [get_map_handle(info.index), key.region << 32,
                                    value.region << 32]
        elif kind == "tail":
            regs[1] = Value(z.var("ctx"), OPAQUE)
        elif kind == "loop":
            regs[1] = Value(z.var("loop_index"), SCALAR)
            regs[2] = Value(z.var("ctx"), OPAQUE)
        top = STACK_BASE + self.profile.stack_frame_size
        regs[10] = Value(z.const(top), STACK)
        from .symbolic import Memory
        return State(path, regs, Memory(base, init, {}, True), z.const(0), top)

    # -- memory rules ---------------------------------------------------------------------

    def havoc_memory(self, state: State) -> None:
        """Forget every byte's value but keep the "initialised" shadow (sound both ways)."""
        self._flush(state.memory)
        state.memory.base = z.byte_array(f"memory!{self.fresh_count}")
        self.fresh_count += 1

    def _object_spans(self, write: bool) -> list[MemObject]:
        return [o for _, o in sorted(self.objects.items()) if o.writable or not write]

    def range_valid(self, state: State | None, address: Any, size: Any, *, write: bool,
                    policy: bool) -> Any:
        """Return: ``size`` bytes at ``address`` are inside a region (VM rule or policy)."""
        region = z.extract(63, 32, address)
        offset = z.zero_extend(z.extract(31, 0, address), 64)
        end = z.add(offset, size)
        small = z.ule(size, z.const(1 << 32))
        spans: list[tuple[int, Any]] = []
        gapped = self.profile.stack_frame_gaps
        if not policy and not gapped:
            spans.append((STACK_REGION, z.const(self.profile.stack_size)))
        if write is False or self.entry.kind != "record":
            spans.append((INPUT_REGION, self.inputs.length))
        if not write and not policy:
            spans.append((PROGRAM_REGION, z.const(SLOT_SIZE * len(self.program)
                                                  + (self.profile.code_base & 0xFFFFFFFF))))
        # A dynptr slice aliases a record or buffer whose real bounds the runtime keeps: the
        # VM may accept an access past the slice, so only the policy bounds it.
        spans += [(o.region, z.const(1 << 32 if o.region in self.slice_regions and not policy
                                     else o.size)) for o in self._object_spans(write)]
        clauses = [z.and_(z.eq(region, z.const(index, 32)), z.ule(end, length))
                   for index, length in spans]
        if gapped and not policy:
            clauses.append(z.and_(z.eq(region, z.const(STACK_REGION, 32)),
                                  self.stack_chunk_valid(address, size)))
        if policy:
            assert state is not None
            top = state.frame_top
            clauses.append(z.and_(z.ule(z.const(STACK_BASE), address),
                                  z.ule(z.add(address, size), z.const(top)),
                                  z.ule(address, z.const(top)),
                                  self.stack_layout_valid(address, size)))
            live = [z.or_(z.not_(z.eq(region, z.const(o.region, 32))), state.refs[o.ref])
                    for o in self.objects.values()
                    if o.ref is not None and o.ref < len(state.refs)]
            live += slice_live(self, state, region)
            return z.and_(small, z.or_(*clauses), *live)
        return z.and_(small, z.or_(*clauses))

    def kind_region(self, kind: Any) -> Callable[[int], bool] | None:
        """Object pointers that passed their policy stay inside the object regions."""
        if isinstance(kind, int) and kind == OBJECT:
            return lambda address: address >> 32 >= OBJECT_REGION
        return super().kind_region(kind)

    def vm_valid(self, address: Any, size: int, *, write: bool) -> Any:
        """Return the condition under which the VM accepts this access."""
        return self.range_valid(None, address, z.const(size), write=write, policy=False)

    def policy_valid(self, state: State, kind: Any, address: Any, size: int, *,
                     write: bool = False) -> Any:
        """Return the bounds rule: inside the stack frames, the input or the object."""
        inside = self.range_valid(state, address, z.const(size), write=write, policy=True)
        return z.and_(kind_is(kind, *self.deref_kinds), inside)

    def check_base(self, pc: int, state: State, base_reg: int, base: Value,
                   fault: Any) -> bool:
        """Require a non-NULL pointer (the null check), then a dereferenceable kind."""
        null = kind_is(base.kind, NULLPTR)
        no_null = self.require(pc, NotNull(base_reg), state, null, z.and_(null, fault))
        opaque = kind_is(base.kind, OPAQUE)
        pointer = z.or_(kind_is(base.kind, *self.deref_kinds), null)
        no_type = self.require(pc, TypeIsPointer(base_reg), state, z.not_(pointer),
                               z.and_(z.not_(pointer), z.not_(opaque), fault))
        return no_null and no_type and z.truth_of(opaque) is False

    def store_bytes(self, state: State, address: Any, value: Any, size: int, *,
                    region: Callable[[int], bool] | None = None) -> None:
        """Store, first forgetting map values the store may alias (see the module doc)."""
        on_store(self, state, address, size)
        number = z.value_of(z.extract(63, 32, address))
        target = self.objects.get(number) if number is not None else None
        if number is None:
            self.forget_regions(state, self.map_regions(None))
        elif target is not None and target.map_index is not None and not target.shared:
            # Elements with different literal indexes never alias.
            self.forget_regions(state, [
                r for r in self.map_regions(target.map_index) if r != number
                and (target.element is None or self.objects[r].element is None)])
        super().store_bytes(state, address, value, size, region=region)
        if self.pending_havoc:
            self.pending_havoc = False
            self.havoc_memory(state)
            state.exact = False

    def step(self, function: Function, pc: int, state: State, ctx: Context,
             iters: Iters) -> tuple[list[tuple[int, State]], State | None]:
        """Execute ``pc`` (remembered for findings raised inside stores)."""
        self.current_pc = pc
        if ctx and self.local_frames and self.local_frames[-1] == len(ctx) \
                and isinstance(self.program.slots[pc], Exit):
            # The return of a bpf-to-bpf function (not a callback's, whose frame the
            # runtime's helper opened).
            check_local_return(self, pc, state)
        return super().step(function, pc, state, ctx, iters)

    def access(self, pc: int, state: State, base_reg: int, offset: int, size: int, *,
               write: bool) -> Any:
        """Check a memory access, and that it does not touch a ``bpf_spin_lock``."""
        address = super().access(pc, state, base_reg, offset, size, write=write)
        check_lock_access(self, pc, state, address, size)
        return address

    def exec_local_call(self, pc: int, state: State, ctx: Context, iters: Iters) -> None:
        """A bpf-to-bpf call, refused while a lock is held (so is its return)."""
        check_local_call(self, pc, state)
        self.local_frames.append(len(ctx) + 1)
        try:
            super().exec_local_call(pc, state, ctx, iters)
        finally:
            self.local_frames.pop()

    # -- null checks ----------------------------------------------------------------------

    def exec_jump(self, function: Function, pc: int, insn: Jump,
                  state: State) -> list[tuple[int, State]]:
        """Split on a jump; a null check also settles "pointer or NULL" registers."""
        value = state.regs[insn.dst].value
        condition = z.null_condition(value) if self.null_conditions else None
        tests_zero = (insn.cond in (JmpCond.EQ, JmpCond.NE) and isinstance(insn.src, Imm)
                      and insn.src.value == 0)
        succs = super().exec_jump(function, pc, insn, state)
        if condition is None or not tests_zero \
                or condition.get_id() not in self.null_conditions:
            return succs
        target = pc + 1 + insn.offset
        for successor, branch in succs:
            is_null = (successor == target) == (insn.cond is JmpCond.EQ)
            if target == pc + 1:
                continue
            branch.regs = [Value(z.assume(r.value, condition, is_null),
                                 r.kind if isinstance(r.kind, int)
                                 else _literal_kind(z.assume(r.kind, condition, is_null)))
                           for r in branch.regs]
            branch.refs = [z.assume(r, condition, is_null) for r in branch.refs]
        return succs

    # -- lddw -----------------------------------------------------------------------------

    def load_pseudo(self, pc: int, insn: LoadImm64, state: State) -> bool:
        """Load a map reference, a map value address or a code address."""
        if insn.pseudo is Pseudo.CODE_ADDR:
            target = pc + 1 + insn.imm
            state.regs[insn.dst] = Value(z.const((PROGRAM_REGION << 32) + SLOT_SIZE * target),
                                         SCALAR)
            return True
        index = insn.imm
        mapping = self.context.map_indices
        if mapping is not None and insn.pseudo in (Pseudo.MAP_IDX, Pseudo.MAP_IDX_VALUE):
            index = mapping[index] if 0 <= index < len(mapping) else -1
        if not 0 <= index < len(self.context.maps):
            return False
        info = self.context.maps[index]
        if insn.pseudo in (Pseudo.MAP_FD, Pseudo.MAP_IDX):
            state.regs[insn.dst] = Value(z.const(get_map_handle(index)), MAPREF)
            return True
        if insn.pseudo in (Pseudo.MAP_VALUE, Pseudo.MAP_IDX_VALUE) \
                and info.type in ("array", "percpu_array"):
            obj = self.map_value_object(info)
            self.facts.direct_values[pc] = obj.region
            state.regs[insn.dst] = Value(z.const((obj.region << 32) + insn.next_imm), OBJECT)
            return True
        return False

    # -- helpers --------------------------------------------------------------------------

    def arg_map(self, pc: int, row: HelperDef, state: State, reg: int) -> MapInfo | None:
        """Check a map-reference argument and its map type; return the map when known.

        The runtime faults on a value that is no map handle (a map value, a stack pointer,
        a number), so that part is a fault condition. A map of a type the row does not
        accept (:attr:`~arspec.spec.helpers.HelperDef.map_types`) is a policy violation;
        it is also a fault for the helpers in :data:`WRONG_MAP_FAULTS`.
        """
        value = self.read(pc, state, reg)
        handles = [get_map_handle(i) for i in range(len(self.context.maps))]
        is_handle = z.or_(*(z.eq(value.value, z.const(h)) for h in handles))
        bad = z.or_(z.not_(kind_is(value.kind, MAPREF)), z.not_(is_handle))
        fault = z.not_(is_handle)
        self.require(pc, HelperArgument(row.name, reg, "a map reference"), state, bad, fault)
        self.add_fault_exit(state, fault)
        state.path = z.and_(state.path, z.not_(fault))
        if row.map_types:
            wrong = [i for i, m in enumerate(self.context.maps) if m.type not in row.map_types]
            for i in wrong:
                info = self.context.maps[i]
                is_wrong = z.eq(value.value, z.const(handles[i]))
                rule = (f"a map of type {' or '.join(row.map_types)}, not {info.type} "
                        f"(map {info.name})")
                faults = row.name in WRONG_MAP_FAULTS
                self.require(pc, HelperArgument(row.name, reg, rule), state, is_wrong,
                             is_wrong if faults else None)
                if faults:
                    self.add_fault_exit(state, is_wrong)
                    state.path = z.and_(state.path, z.not_(is_wrong))
        handle = z.value_of(value.value)
        if handle is None:
            return None
        index = (handle >> 32) - MAP_HANDLE_REGION
        if handle & 0xFFFFFFFF or not 0 <= index < len(self.context.maps):
            return None
        return self.context.maps[index]

    def arg_buffer(self, pc: int, row: HelperDef, state: State, reg: int, size: Any, *,
                   write: bool, rule: str) -> None:
        """Check that ``size`` bytes at register ``reg`` are accessible (and initialised)."""
        pointer = self.read(pc, state, reg)
        assertion = HelperArgument(row.name, reg, rule)
        nonzero = z.not_(z.eq(size, z.const(0)))
        inside = self.range_valid(state, pointer.value, size, write=write, policy=True)
        ok = z.and_(kind_is(pointer.kind, STACK, INPUT, OBJECT), inside)
        fault = z.and_(nonzero, z.not_(self.range_valid(None, pointer.value, size, write=write,
                                                        policy=False)))
        self.require(pc, assertion, state, z.and_(nonzero, z.not_(ok)), fault)
        self.add_fault_exit(state, fault)
        state.path = z.and_(state.path, z.not_(fault))
        literal = z.value_of(size)
        if write or not self.checking:
            return
        if literal is None:
            sizes = z.leaves(size)
            # Checking the largest possible size is stricter than any smaller one.
            literal = sizes[-1] if sizes is not None else None
        if literal is not None and literal <= BYTEWISE_LIMIT:
            if literal:
                _, init = self.load_bytes(state, pointer.value, literal)
                self.require(pc, InitializedStack(reg, 0, literal), state, z.not_(init), None)
        else:
            self.note(pc, InitializedStack(reg, 0, 0),
                      "buffer too large or not constant: initialisation not checked")

    def write_buffer(self, state: State, reg: int, size: Any, key: str, ok: Any) -> None:
        """Fill a helper's output buffer: unknown bytes where ``ok`` holds, else zeros."""
        address = state.regs[reg].value
        on_store(self, state, address, size)
        if self.pending_havoc:
            self.pending_havoc = False
            self.havoc_memory(state)
            state.exact = False
        literal = z.value_of(size)
        if literal is None or literal > BYTEWISE_LIMIT:
            self.havoc_memory(state)
            state.exact = False
            return
        names = [z.var(f"buf:{key}:{i}", 8) if self.checking else self.fresh("buf", 8)
                 for i in range(literal)]
        if self.checking:
            self.facts.buffers[key] = names
        region = z.value_of(z.extract(63, 32, address))
        target = self.objects.get(region) if region is not None else None
        if region is None or (target is not None and target.map_index is not None):
            self.forget_regions(state, self.map_regions(None))
        memory = state.memory
        for i, byte in enumerate(names):
            at = z.add(address, z.const(i))
            new, init = z.ite(ok, byte, z.const(0, 8)), z.true()
            spot = z.value_of(at)
            if spot is not None:
                memory.overlay[spot] = (new, init)
            else:
                self._flush(memory)
                memory.base = z.store(memory.base, at, new)
                memory.init = z.store(memory.init, at, init)
                memory.initial = False

    def arg_check(self, pc: int, row: HelperDef, state: State) -> list[MapInfo | None]:
        """Check the generic argument contracts of ``row``; return the map per argument."""
        maps: list[MapInfo | None] = [None] * 6
        regs = state.regs
        for i, kind in enumerate(row.args, start=1):
            if kind is ArgKind.CONST_MAP_PTR:
                maps[i] = self.arg_map(pc, row, state, i)
            elif kind in (ArgKind.PTR_TO_MAP_KEY, ArgKind.PTR_TO_MAP_VALUE,
                          ArgKind.PTR_TO_UNINIT_MAP_VALUE):
                info = maps[1]
                if info is None:
                    self.note(pc, HelperModelled(row.name), "map not known: buffer unchecked")
                    continue
                size = info.key_size if kind is ArgKind.PTR_TO_MAP_KEY else info.value_size
                self.arg_buffer(pc, row, state, i, z.const(size),
                                write=kind is ArgKind.PTR_TO_UNINIT_MAP_VALUE,
                                rule=f"a pointer to {size} accessible bytes")
            elif kind in (ArgKind.PTR_TO_MEM, ArgKind.PTR_TO_UNINIT_MEM):
                size = self.read(pc, state, i + 1).value
                self.arg_buffer(pc, row, state, i, size,
                                write=kind is ArgKind.PTR_TO_UNINIT_MEM,
                                rule=f"a pointer to r{i + 1} accessible bytes")
            elif kind in (ArgKind.PTR_TO_TIMER, ArgKind.PTR_TO_WQ):
                self.arg_async(pc, row, state, i, "timer" if kind is ArgKind.PTR_TO_TIMER
                               else "wq")
            elif kind is ArgKind.PTR_TO_FUNC:
                self.arg_function(pc, row, state, i)
            elif kind in (ArgKind.PTR_TO_ALLOC_MEM, ArgKind.PTR_TO_SPIN_LOCK,
                          ArgKind.PTR_TO_DYNPTR, ArgKind.PTR_TO_UNINIT_DYNPTR):
                pass  # checked by the helper's own rule
            else:
                self.read(pc, state, i)
        del regs
        return maps

    def arg_async(self, pc: int, row: HelperDef, state: State, reg: int, what: str) -> None:
        """Require a pointer to the ``bpf_timer`` / ``bpf_wq`` field of a map value."""
        pointer = self.read(pc, state, reg)
        region = z.extract(63, 32, pointer.value)
        offset = z.extract(31, 0, pointer.value)
        good = []
        for obj in self.objects.values():
            info = self.context.maps[obj.map_index] if obj.map_index is not None else None
            field_at = None if info is None else (info.timer if what == "timer" else info.wq)
            if field_at is not None and obj.writable:
                good.append(z.and_(z.eq(region, z.const(obj.region, 32)),
                                   z.eq(offset, z.const(field_at, 32))))
        ok = z.and_(kind_is(pointer.kind, OBJECT), z.or_(*good))
        self.require(pc, HelperArgument(row.name, reg, f"a pointer to a map value's bpf_{what}"),
                     state, z.not_(ok), None)

    def arg_same_map(self, pc: int, row: HelperDef, state: State) -> None:
        """Require r2 to be the map whose value holds r1's timer or work item.

        The runtime faults otherwise (and Linux rejects it); the finding stays a policy one.
        """
        region = z.extract(63, 32, state.regs[1].value)
        handle = state.regs[2].value
        other = [z.and_(z.eq(region, z.const(o.region, 32)),
                        z.not_(z.eq(handle, z.const(get_map_handle(o.map_index)))))
                 for o in self.objects.values() if o.map_index is not None]
        self.require(pc, HelperArgument(row.name, 2, "the map holding r1's value"), state,
                     z.or_(*other), None)

    def arg_function(self, pc: int, row: HelperDef, state: State, reg: int) -> None:
        """Require a code address; record the callback edge when it is a literal."""
        value = self.read(pc, state, reg).value
        literal = z.value_of(value)
        target: tuple[int, int] | None = None
        own = code_target(value, self.program)
        if own is not None:
            target = (self.context.program_index, own)
        elif literal is not None and literal % SLOT_SIZE == 0 \
                and literal >> 32 >= PROG_CODE_REGION:
            target = ((literal >> 32) - PROG_CODE_REGION, (literal & 0xFFFFFFFF) // SLOT_SIZE)
        if target is None:
            self.require(pc, HelperArgument(row.name, reg, "a code address"), state, z.true(),
                         None)
            return
        kind = {"bpf_loop": "loop", "bpf_timer_set_callback": "timer",
                "bpf_wq_set_callback": "wq", "sol_watch_account": "watch"}.get(row.name,
                                                                             "callback")
        if self.checking and kind != "loop":  # a loop edge is recorded by exec_call
            edge = CallEdge(pc, kind, target)
            if edge not in self.facts.edges:
                self.facts.edges.append(edge)

    def exec_call(self, pc: int, insn: Call, state: State, ctx: Context,
                  iters: Iters) -> None:
        """Execute a helper call through its contract in the helper table."""
        row = self.context.helper_for(insn.imm)
        if row is None:
            self.require(pc, HelperExists(insn.imm), state, z.true(), z.true())
            self.add_fault_exit(state, z.true())
            state.path = z.false()
            return
        key = instance_key(pc, ctx, iters)
        syscall = AGAVE_SYSCALLS_BY_NAME.get(row.name)
        if syscall is not None:
            returned = execute_syscall(self, pc, syscall, state, key)
            if returned is None:
                state.path = z.false()
                return
            state.regs[0] = returned
            for reg in range(1, 6):
                state.regs[reg] = Value(state.regs[reg].value, UNINIT)
            return
        state.cu = z.add(state.cu, z.const(row.cost))
        # The runtime refuses a call with a lock held after the VM charged the call's cost.
        check_call(self, pc, row.name, state)
        if row.size_arg is not None:
            size = self.read(pc, state, row.size_arg).value
            capped = z.ite(z.ult(size, z.const(1 << 40)), size, z.const(1 << 40))
            state.cu = z.add(state.cu, z.udiv(capped, 250))
        maps = self.arg_check(pc, row, state)
        result = z.var(f"helper:{key}") if self.checking else self.fresh("helper")
        if self.checking:
            self.inputs.helper_results[key] = result
        out = Value(result, SCALAR)
        name = row.name
        if not row.deterministic:
            # Argument-less machine readers: no memory effect, an unknown integer result,
            # named apart in a second copy of a self-composition.
            if self.copy_name:
                result = z.var(f"helper:{key}{self.copy_name}")
                out = Value(result, SCALAR)
            if name in PER_CPU_HELPERS:
                # The runtime runs an invocation on CPU ``seq % num_cpus``.
                state.path = z.and_(state.path,
                                    z.ult(result, z.const(self.context.num_cpus)))
            self.facts.nondet_results.append((pc, result))
            if self.profile.name == "solana" or name in PER_CPU_HELPERS:
                self.require(pc, HelperDeterministic(name), state, z.true(), z.true())
            self.facts.nondeterministic.append(pc)
        elif name not in MODELLED:
            self.note(pc, HelperModelled(name), "memory effects are havocked")
            self.havoc_memory(state)
            state.exact = False
        elif name == "bpf_map_lookup_elem":
            index = None
            if maps[1] is not None and maps[1].type in ARRAY_TYPES:
                index, _ = self.load_bytes(state, state.regs[2].value, 4)
            out = self.pointer_or_null(pc, key, result, maps[1],
                                       None if index is None else z.value_of(index))
            if maps[1] is not None and index is not None and self.checking:
                null = z.eq(result, z.const(0))
                out_of_range = z.ule(z.const(maps[1].max_entries, 32), index)
                self.realisable.append(z.and_(z.implies(null, out_of_range),
                                              z.implies(out_of_range, null)))
        elif name == "bpf_ringbuf_reserve":
            out = self.reserve(pc, row, key, result, maps[1], state)
        elif name in ("bpf_ringbuf_submit", "bpf_ringbuf_discard"):
            self.release(pc, row, state)
        elif name in ("bpf_map_update_elem", "bpf_map_delete_elem"):
            if name == "bpf_map_delete_elem" and maps[1] is not None \
                    and maps[1].type in ARRAY_TYPES and self.checking:
                # The spec's own semantics, not a contract gap: a path condition.
                state.path = z.and_(state.path, z.eq(result, z.const(-EINVAL & z.MASK64)))
            self.forget_regions(state, self.map_regions(maps[1].index) if maps[1] is not None
                                else sorted(r for r, o in self.objects.items()
                                            if o.map_index is not None))
        elif name == "arspec_account_read":
            self.write_buffer(state, 3, state.regs[4].value, key, z.eq(result, z.const(0)))
        elif name in ("bpf_map_pop_elem", "bpf_map_peek_elem"):
            # The value on success, zeros otherwise (the runtime always writes the buffer).
            size = z.const(maps[1].value_size) if maps[1] is not None else z.const(1 << 32)
            self.write_buffer(state, 2, size, key, z.eq(result, z.const(0)))
        elif name in ("bpf_trace_printk", "bpf_map_push_elem"):
            pass  # they only read their (checked) buffer
        elif name in ("bpf_timer_init", "bpf_wq_init"):
            self.arg_same_map(pc, row, state)
        elif name == "sol_watch_account":
            # The runtime answers -EINVAL otherwise; like Linux for a struct argument, the
            # contract asks for exactly one criteria struct and no flags (policy, no fault).
            for reg, want, rule in ((2, WATCH_CRITERIA_SIZE,
                                     f"the size of struct sol_watch_criteria "
                                     f"({WATCH_CRITERIA_SIZE})"), (4, 0, "0 (no flags)")):
                self.require(pc, HelperArgument(name, reg, rule), state,
                             z.not_(z.eq(state.regs[reg].value, z.const(want))), None)
        elif name in ("bpf_timer_start", "bpf_timer_cancel", "bpf_timer_set_callback",
                      "bpf_wq_set_callback", "bpf_wq_start", "sol_unwatch_account"):
            pass
        elif name == "bpf_tail_call":
            out = self.tail_call(pc, key, result, maps[2], state)
        elif name == "bpf_loop":
            out = self.loop_call(pc, state, ctx, iters, result)
        elif name in ITERATOR_HELPERS:
            out = iterator_call(self, pc, row, state)
        elif name in LOCK_HELPERS:
            lock_call(self, pc, row, state)
        elif name in DYNPTR_HELPERS:
            out = dynptr_call(self, pc, row, key, result, state, maps)
        if self.slice_regions and name not in DYNPTR_HELPERS:
            self.forget_regions(state, sorted(self.slice_regions))
        if row.ret is RetKind.VOID and name != "bpf_tail_call":
            out = Value(result, SCALAR)
        state.regs[0] = out
        for reg in range(1, 6):
            state.regs[reg] = Value(state.regs[reg].value, UNINIT)

    def loop_call(self, pc: int, state: State, ctx: Context, iters: Iters,
                  result: Any) -> Value:
        """``bpf_loop``: unroll the callback at the call, else over-approximate the call."""
        target = code_target(state.regs[2].value, self.program)
        inlined = target is not None and inline_loop(self, pc, state, ctx, iters, target)
        if self.checking and target is not None:
            edge = CallEdge(pc, "loop", (self.context.program_index, target), (), inlined)
            if edge not in self.facts.edges:
                self.facts.edges.append(edge)
        if inlined:
            return state.regs[0]
        self.havoc_memory(state)
        state.cu = z.add(state.cu, self.fresh("loop_cu"))
        state.exact = False
        self.cu_exact = False
        return Value(result, SCALAR)

    def iteration_bound(self, state: State, limit: int) -> int | None:
        """Bound a loop by the steps its number iterators have left."""
        return iteration_bound(self, state, limit) if self.iterators else None

    def pointer_or_null(self, pc: int, key: str, result: Any, info: MapInfo | None,
                        element: int | None = None) -> Value:
        """Return ``ite(null, 0, base)`` for a lookup (``info`` known) or an opaque value."""
        if info is None:
            self.note(pc, HelperModelled("bpf_map_lookup_elem"), "map not known")
            return Value(result, OPAQUE)
        obj = self.map_value_object(info, element)
        if self.checking:
            self.facts.lookups[key] = obj.region
        null = z.eq(result, z.const(0))
        self.null_conditions[null.get_id()] = null
        value = z.ite(null, z.const(0), z.const(obj.region << 32))
        return Value(value, z.ite(null, z.const(NULLPTR, 8), z.const(OBJECT, 8)))

    def reserve(self, pc: int, row: HelperDef, key: str, result: Any, info: MapInfo | None,
                state: State) -> Value:
        """Reserve a record of the constant size in ``r2``: record or NULL, tracked."""
        size = z.value_of(state.regs[2].value)
        if info is None or size is None:
            self.require(pc, HelperArgument(row.name, 2, "a constant record size"), state,
                         z.true(), None)
            return Value(result, OPAQUE)
        number = len(state.refs)
        obj = self.new_object(size, True, f"record of ring {info.name}", ref=number)
        if self.checking:
            self.facts.reservations[key] = obj.region
        null = z.eq(result, z.const(0))
        self.null_conditions[null.get_id()] = null
        state.refs = [*state.refs, z.not_(null)]
        value = z.ite(null, z.const(0), z.const(obj.region << 32))
        return Value(value, z.ite(null, z.const(NULLPTR, 8), z.const(OBJECT, 8)))

    def release(self, pc: int, row: HelperDef, state: State) -> None:
        """Submit or discard: ``r1`` must be a held reservation, which is released."""
        pointer = state.regs[1]
        hits = []
        for obj in self.objects.values():
            if obj.ref is None or obj.ref >= len(state.refs):
                continue
            hit = z.and_(kind_is(pointer.kind, OBJECT),
                         z.eq(pointer.value, z.const(obj.region << 32)))
            hits.append(z.and_(hit, state.refs[obj.ref]))
            state.refs[obj.ref] = z.and_(state.refs[obj.ref], z.not_(hit))
        bad = z.not_(z.or_(*hits))
        self.require(pc, ReleaseOnce(row.name), state, bad, bad)
        self.add_fault_exit(state, bad)
        state.path = z.and_(state.path, z.not_(bad))

    def tail_call(self, pc: int, key: str, result: Any, info: MapInfo | None,
                  state: State) -> Value:
        """A tail call: the chain may leave here (an exit) or fall through (r0 unknown)."""
        slots = dict(info.entries) if info is not None else {}
        index = z.value_of(state.regs[3].value)
        if index is not None:
            names: tuple[str, ...] = (slots[index],) if index in slots else ()
        else:
            names = tuple(slots[i] for i in sorted(slots))
        if self.checking and info is not None:
            edge = CallEdge(pc, "tail", None, names)
            if edge not in self.facts.edges:
                self.facts.edges.append(edge)
        taken = z.eq(result, z.const(0)) if names else z.false()
        if self.checking:
            self.facts.tail_decisions[key] = result
        if z.truth_of(taken) is not False:
            leaving = state.fork(z.and_(state.path, taken))
            self.on_exit(pc, leaving)
            if self.checking and z.truth_of(leaving.path) is not False:
                self.exits.append(leaving)
        state.path = z.and_(state.path, z.not_(taken))
        fall = z.var(f"helper:{key}:r0") if self.checking else self.fresh("tail_r0")
        if self.checking:
            self.inputs.helper_results[f"{key}:r0"] = fall
        return Value(fall, SCALAR)

    def on_exit(self, pc: int, state: State) -> None:
        """No reservation may still be held when the program (or its chain link) ends."""
        check_exit(self, pc, state)
        if not state.refs:
            return
        held = z.or_(*state.refs)
        self.require(pc, RecordsReleased(), state, held, held)


def _literal_kind(kind: Any) -> Any:
    """Return a kind term as a Python constant when it became a literal."""
    value = z.value_of(kind)
    return kind if value is None else value


__all__ = ["OBJECT_REGION", "BundleContext", "BundleExecutor", "BundleFacts", "CallEdge",
           "EntryKind", "MapInfo", "MemObject"]
