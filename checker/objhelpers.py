"""
Bundle helper contracts
=======================

The helper layer of :class:`~arspec.checker.objects.BundleExecutor`: a helper call checks
the contract of its row in :mod:`arspec.spec.helpers` (maps, buffers, callbacks, the
async objects' map) and applies the effect the model states for the helpers in
:data:`MODELLED` (the others havoc memory); Agave syscalls go to
:mod:`~arspec.checker.syscalls`, iterators, locks and dynptrs to their modules.
"""

from __future__ import annotations

from typing import Any, Final

from arspec.reference.isa.instructions import Call
from arspec.reference.vm.profiles import (
    SLOT_SIZE,
)
from arspec.spec.conventions import MAP_HANDLE_REGION, PROG_CODE_REGION, get_map_handle
from arspec.spec.errno import EINVAL
from arspec.spec.helpers import ArgKind, HelperDef, RetKind
from arspec.spec.runtime_watchers import WATCH_CRITERIA_SIZE
from arspec.spec.syscalls import AGAVE_SYSCALLS_BY_NAME, SyscallDef

from . import solver as z
from .assertions import (
    HelperArgument,
    HelperDeterministic,
    HelperExists,
    HelperModelled,
)
from .bundle_model import CallEdge, MapInfo
from .callbacks import code_target, inline_loop
from .iterators import ITERATOR_HELPERS, iterator_call
from .lockdyn import (
    DYNPTR_HELPERS,
    LOCK_HELPERS,
    check_call,
    dynptr_call,
    lock_call,
)
from .objmemory import ARRAY_TYPES, BundleMemory
from .symbolic import (
    MAPREF,
    OBJECT,
    SCALAR,
    UNINIT,
    Context,
    Iters,
    State,
    Value,
    instance_key,
    kind_is,
)
from .symcore import may_be_object
from .syscalls import execute_syscall

#: Helpers whose runtime binding faults when the map argument has a type the helper table
#: does not accept (:func:`arspec.reference.runtime.runtime_helpers.get_ring`,
#: ``helper_tail_call``); the others return an error code (the map semantics of
#: :mod:`arspec.spec.maps`).
WRONG_MAP_FAULTS: Final = frozenset({"bpf_ringbuf_output", "bpf_ringbuf_reserve",
                                     "bpf_ringbuf_query", "bpf_tail_call",
                                     "bpf_ringbuf_reserve_dynptr"})
#: Argument kinds a helper reads as a number.
NUMBER_ARGS: Final = frozenset({ArgKind.ANYTHING, ArgKind.CONST_SIZE, ArgKind.CONST_SIZE_OR_ZERO,
                                ArgKind.CONST_ALLOC_SIZE_OR_ZERO})
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


class BundleHelpers(BundleMemory):
    """The bundle executor's helper calls and their contracts (the helper layer)."""

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
        self.observe_arguments(pc, row, state)
        syscall = AGAVE_SYSCALLS_BY_NAME.get(row.name)
        if syscall is not None:
            self.apply_syscall(pc, syscall, state, key)
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
            out, result = self.apply_nondeterministic(pc, name, key, result, state, out)
        elif name not in MODELLED:
            self.note(pc, HelperModelled(name), "memory effects are havocked")
            self.havoc_memory(state)
            state.exact = False
        else:
            out = self.apply_modelled(pc, row, key, result, maps, state, ctx, iters, out)
        if self.slice_regions and name not in DYNPTR_HELPERS:
            self.forget_regions(state, sorted(self.slice_regions))
        if row.ret is RetKind.VOID and name != "bpf_tail_call":
            out = Value(result, SCALAR)
        state.regs[0] = out
        for reg in range(1, 6):
            state.regs[reg] = Value(state.regs[reg].value, UNINIT)

    def observe_arguments(self, pc: int, row: HelperDef, state: State) -> None:
        """Record a number argument that may be an object pointer: the helper reads the
        verifier's made-up address (:meth:`~arspec.checker.symcore.ExecutorCore.observe`)."""
        values = [state.regs[i] for i, kind in enumerate(row.args, start=1)
                  if kind in NUMBER_ARGS]
        if values:
            self.observe(pc, state, f"passed to {row.name} as a number",
                         z.or_(*(may_be_object(v) for v in values)))

    def apply_syscall(self, pc: int, syscall: SyscallDef, state: State, key: str) -> None:
        """Execute an Agave syscall (:func:`~arspec.checker.syscalls.execute_syscall`): r0 is
        its result, r1-r5 are clobbered; a call that always faults ends the path."""
        returned = execute_syscall(self, pc, syscall, state, key)
        if returned is None:
            state.path = z.false()
            return
        state.regs[0] = returned
        for reg in range(1, 6):
            state.regs[reg] = Value(state.regs[reg].value, UNINIT)

    def apply_nondeterministic(self, pc: int, name: str, key: str, result: Any, state: State,
                               out: Value) -> tuple[Value, Any]:
        """Model an argument-less machine reader (clock, random, CPU id): no memory effect,
        an unknown integer result, named apart in a second copy of a self-composition.
        Return r0 and the result term."""
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
        return out, result

    def map_lookup_call(self, pc: int, key: str, result: Any, maps: list[MapInfo | None],
                        state: State) -> Value:
        """``bpf_map_lookup_elem``: a pointer to the element or NULL; for an array with a
        known map, NULL exactly when the index is out of range (a realisability fact)."""
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
        return out

    def apply_modelled(self, pc: int, row: HelperDef, key: str, result: Any,
                       maps: list[MapInfo | None], state: State, ctx: Context, iters: Iters,
                       out: Value) -> Value:
        """Apply the effect of a helper in :data:`MODELLED`; return r0 (``out`` unless the
        helper returns something else than its unknown integer)."""
        name = row.name
        if name == "bpf_map_lookup_elem":
            out = self.map_lookup_call(pc, key, result, maps, state)
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
        return out

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
