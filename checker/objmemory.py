"""
Bundle memory
=============

The memory layer of :class:`~arspec.checker.objects.BundleExecutor`: the object regions
(map values, ring records, key copies; see :mod:`~arspec.checker.objects`), the entry
state of each hook kind, which ranges an access may touch, stores that forget what they may
alias, and the results that are objects: "pointer or NULL" lookups, reservations and their
release, tail calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from arspec.reference.vm.helpers import HelperRegistry
from arspec.reference.vm.profiles import (
    HEAP_REGION,
    INPUT_BASE,
    INPUT_REGION,
    PROGRAM_REGION,
    SLOT_SIZE,
    STACK_BASE,
    STACK_REGION,
    Profile,
)
from arspec.spec.conventions import (
    CONTEXT_BASE,
    TAIL_CALL_ENTRY,
    EntryArg,
    get_entry_registers,
    get_map_handle,
)
from arspec.spec.helpers import HelperDef
from arspec.spec.state import TriggerKind

from . import solver as z
from .assertions import (
    HelperArgument,
    HelperModelled,
    InitializedStack,
    NotNull,
    ReleaseOnce,
    TypeIsPointer,
)
from .bundle_model import (
    BundleContext,
    BundleFacts,
    CallEdge,
    EntryKind,
    MapInfo,
    MemObject,
)
from .cfg import ControlFlow
from .contexts import CTX
from .lockdyn import (
    check_lock_access,
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
    Executor,
    Memory,
    State,
    Value,
    kind_is,
)

#: Map types whose elements all exist: a lookup is NULL only for an index out of range.
ARRAY_TYPES: Final = ("array", "percpu_array")
#: First region number of the verifier's objects (far from the VM's dynamic regions).
OBJECT_REGION: Final = 0x1000
#: Largest buffer whose bytes are checked one by one (initialisation, helper writes).
BYTEWISE_LIMIT: Final = 256
#: The work-item kind whose entry registers each verifier entry kind has. Timer and
#: work-queue callbacks start alike (the spec's table gives them one convention).
ENTRY_TRIGGERS: Final = {"input": TriggerKind.STARTUP, "record": TriggerKind.RINGBUF,
                         "async": TriggerKind.TIMER}


def get_entry_arguments(entry: EntryKind, *, has_context: bool,
                        ) -> tuple[EntryArg, ...] | None:
    """Return what ``r1``.. hold when ``entry`` starts, as :mod:`arspec.spec.conventions`
    states it (the runtime reads the same function); ``None`` for a ``bpf_loop`` callback,
    whose registers (index, context) are the helper's own.

    ``input`` stands for startup, every and watch hooks and for the callbacks of watchers
    registered at run time (these never see the program's context, and the verifier gives
    them none: ``has_context`` is set for a program's pc-0 entry only).
    """
    if entry.kind == "tail":
        return TAIL_CALL_ENTRY.registers
    if entry.kind == "loop":
        return None
    return get_entry_registers(ENTRY_TRIGGERS[entry.kind], has_context=has_context)


class BundleMemory(Executor):
    """The symbolic executor with a bundle's object regions (the memory layer)."""

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
        #: What r1.. hold at entry (:func:`get_entry_arguments`; set by :meth:`initial_state`).
        self.entry_args: tuple[EntryArg, ...] | None = None
        #: The value of each entry register that is a known address (replay sets these).
        self.entry_addresses: dict[EntryArg, int] = {}
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

    def initial_state(self) -> State:
        """Return the entry state of the hook kind (see :class:`EntryKind`)."""
        base, init = z.region_initial_memory(
            self.inputs.data, self.unknown_memory, input_base=INPUT_BASE,
            zero_regions=[STACK_REGION])
        if self.profile.has_heap:
            base, init = z.region_initial_memory(
                self.inputs.data, self.unknown_memory, input_base=INPUT_BASE,
                zero_regions=[STACK_REGION, HEAP_REGION])
        regs = [Value(z.const(0), UNINIT) for _ in range(11)]
        path = z.ule(self.inputs.length, z.const(self.max_input))
        if self.entry.kind == "input":
            path = z.eq(self.inputs.length, z.const(0))
        self.entry_args = get_entry_arguments(self.entry,
                                              has_context=self.program_context is not None)
        if self.entry_args is None:  # a bpf_loop callback: (index, context)
            regs[1] = Value(z.var("loop_index"), SCALAR)
            regs[2] = Value(z.var("ctx"), OPAQUE)
        for reg, arg in enumerate(self.entry_args or (), start=1):
            regs[reg] = self.entry_value(arg)
        top = STACK_BASE + self.profile.stack_frame_size
        regs[10] = Value(z.const(top), STACK)
        return State(path, regs, Memory(base, init, {}, True), z.const(0), top)

    def entry_value(self, arg: EntryArg) -> Value:
        """Return the symbolic value of one entry register (mapping what it points at).

        The verifier keeps a ring record in its input region (read-only here), and gives a
        callback's key copy and value object regions of their own.
        """
        known = {EntryArg.INPUT: (INPUT_BASE, INPUT), EntryArg.RECORD_COPY: (INPUT_BASE, INPUT),
                 EntryArg.ZERO: (0, SCALAR), EntryArg.CONTEXT: (CONTEXT_BASE, CTX)}
        if arg in known:
            value, kind = known[arg]
            self.entry_addresses[arg] = value
            return Value(z.const(value), kind)
        if arg is EntryArg.RECORD_LENGTH:
            return Value(self.inputs.length, SCALAR)
        if arg is EntryArg.CALLER_R1:
            return Value(z.var("ctx"), OPAQUE)
        assert self.entry.map_index is not None, arg
        info = self.context.maps[self.entry.map_index]
        if arg is EntryArg.MAP_HANDLE:
            self.entry_addresses[arg] = get_map_handle(info.index)
            return Value(z.const(get_map_handle(info.index)), MAPREF)
        if arg is EntryArg.KEY_COPY:
            region = self.new_object(info.key_size, False, f"key copy of map {info.name}").region
        else:
            assert arg is EntryArg.VALUE, arg
            region = self.map_value_object(info).region
        self.entry_addresses[arg] = region << 32
        return Value(z.const(region << 32), OBJECT)

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

    def store_plain(self, state: State, address: Any, value: Any, size: int) -> None:
        """Store without the checks and aliasing of :meth:`store_bytes` (a dynptr's own
        bytes, written by its helper)."""
        super().store_bytes(state, address, value, size)

    def access(self, pc: int, state: State, base_reg: int, offset: int, size: int, *,
               write: bool) -> Any:
        """Check a memory access, and that it does not touch a ``bpf_spin_lock``."""
        address = super().access(pc, state, base_reg, offset, size, write=write)
        check_lock_access(self, pc, state, address, size)
        return address

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
