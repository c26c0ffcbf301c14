"""
Spin locks and dynamic pointers in the verifier
===============================================

The rules of :mod:`arspec.spec.spinlock` and :mod:`arspec.spec.dynptr` on the symbolic state.
What is held or live is a set of named boolean terms in :attr:`State.marks
<arspec.checker.symstate.State.marks>` (merged by path like every other term):

* ``lock:R`` -- the lock in the map value of object region ``R`` is held;
* ``dyn:A`` -- an initialised dynptr whose bytes are untouched lies at stack address ``A``;
* ``ring:A`` -- the dynptr made at ``A`` by ``bpf_ringbuf_reserve_dynptr`` is not yet
  submitted or discarded (true even when the reservation failed, as in Linux);
* ``slice:S`` -- the ``bpf_dynptr_data`` slice of object region ``S`` is still valid.

A dynptr's 16 bytes are stored in the symbolic stack exactly as the runtime writes them, so
``read``, ``write`` and ``data`` compute Linux's results from them. A slice gets an object
region of its constant length; the bytes behind it alias the record or the buffer, so a store
through a slice forgets every byte value and any other store or helper call forgets the
slices' bytes (sound, imprecise).

Every rule's violation is a run-time fault, so its finding carries the fault condition and
replays: a helper call, a bpf-to-bpf call, a bpf-to-bpf function's return or the exit with a
lock held, a wrong lock pointer, an unlock of a lock not held, a load or store touching a
lock's bytes, a dynptr that is not initialised, a ring dynptr not released at exit,
re-initialised while live, or overwritten by a store instruction while live. One stays a
policy finding (never PROVED, never REFUTED by itself): a helper writing over a live ring
dynptr, which the runtime lets happen (the dynptr's next use or the end then faults).
"""

from __future__ import annotations

from typing import Any, Final

from arspec.reference.isa.instructions import Atomic, Store
from arspec.reference.vm.profiles import STACK_REGION
from arspec.spec.dynptr import (
    BPF_DYNPTR_SIZE,
    DYNPTR_MAX_SIZE,
    DYNPTR_TYPE_SHIFT,
    DynptrType,
)
from arspec.spec.errno import E2BIG, EINVAL
from arspec.spec.helpers import HelperDef
from arspec.spec.spinlock import BPF_SPIN_LOCK_SIZE, UNLOCK_HELPER

from . import solver as z
from .assertions import (
    DynptrRule,
    DynptrsReleased,
    HelperArgument,
    LockReleased,
    SpinLockRule,
)
from .executor_api import BundleMachine
from .symstate import NULLPTR, OBJECT, OPAQUE, SCALAR, STACK, State, Value, kind_is

LOCK_HELPERS: Final = frozenset({"bpf_spin_lock", "bpf_spin_unlock"})
DYNPTR_INIT: Final = frozenset({"bpf_dynptr_from_mem", "bpf_ringbuf_reserve_dynptr"})
DYNPTR_HELPERS: Final = DYNPTR_INIT | frozenset({
    "bpf_ringbuf_submit_dynptr", "bpf_ringbuf_discard_dynptr", "bpf_dynptr_read",
    "bpf_dynptr_write", "bpf_dynptr_data"})
#: The argument register holding the dynptr, per helper.
DYNPTR_REG: Final = {"bpf_dynptr_from_mem": 4, "bpf_ringbuf_reserve_dynptr": 4,
                     "bpf_ringbuf_submit_dynptr": 1, "bpf_ringbuf_discard_dynptr": 1,
                     "bpf_dynptr_read": 3, "bpf_dynptr_write": 1, "bpf_dynptr_data": 1}
_U32: Final = 0xFFFFFFFF


def _mark(state: State, name: str) -> Any:
    return state.marks.get(name, z.false())


def _held(state: State) -> Any:
    return z.or_(*[t for n, t in sorted(state.marks.items()) if n.startswith("lock:")])


def _errno(value: int) -> Any:
    return z.const(-value & z.MASK64)


def _low32(term: Any) -> Any:
    return z.zero_extend(z.extract(31, 0, term), 64)


# --------------------------------------------------------------------------- spin locks


def check_call(ex: BundleMachine, pc: int, name: str, state: State) -> None:
    """Only ``bpf_spin_unlock`` may be called while a lock is held (the runtime faults)."""
    if name == UNLOCK_HELPER:
        return
    held = _held(state)
    if z.truth_of(held) is False:
        return
    ex.require(pc, SpinLockRule(f"no bpf_spin_lock is held when {name} is called"), state,
               held, held)
    ex.add_fault_exit(state, held)
    state.path = z.and_(state.path, z.not_(held))


def check_local_call(ex: BundleMachine, pc: int, state: State) -> None:
    """No bpf-to-bpf call while a lock is held (the runtime faults at the call)."""
    _refuse(ex, pc, state, "no bpf_spin_lock is held at a bpf-to-bpf call")


def check_local_return(ex: BundleMachine, pc: int, state: State) -> None:
    """A bpf-to-bpf function may not return holding a lock (the runtime faults at its
    ``exit``; Linux checks every ``exit``)."""
    _refuse(ex, pc, state, "no bpf_spin_lock is held when a bpf-to-bpf function returns")


def _refuse(ex: BundleMachine, pc: int, state: State, rule: str) -> None:
    held = _held(state)
    if z.truth_of(held) is False:
        return
    ex.require(pc, SpinLockRule(rule), state, held, held)
    ex.add_fault_exit(state, held)
    state.path = z.and_(state.path, z.not_(held))


def check_exit(ex: BundleMachine, pc: int, state: State) -> None:
    """No lock may be held and no ring-buffer dynptr live when the program ends."""
    held = _held(state)
    if z.truth_of(held) is not False:
        ex.require(pc, LockReleased(), state, held, held)
    live = z.or_(*[t for n, t in sorted(state.marks.items()) if n.startswith("ring:")])
    if z.truth_of(live) is not False:
        ex.require(pc, DynptrsReleased(), state, live, live)


def lock_regions(ex: BundleMachine) -> list[tuple[int, int]]:
    """Return ``(region, lock offset)`` of every map-value object whose map has a lock."""
    out = []
    for region, obj in sorted(ex.objects.items()):
        if obj.map_index is None:
            continue
        offset = ex.context.maps[obj.map_index].spin_lock
        if offset is not None and obj.what.startswith("value of map"):
            out.append((region, offset))
    return out


def check_lock_access(ex: BundleMachine, pc: int, state: State, address: Any,
                      size: int) -> None:
    """No load or store may touch a ``bpf_spin_lock`` (Linux ``check_map_access``)."""
    region = z.extract(63, 32, address)
    offset = z.zero_extend(z.extract(31, 0, address), 64)
    touches = []
    for number, lock in lock_regions(ex):
        touches.append(z.and_(z.eq(region, z.const(number, 32)),
                              z.ult(offset, z.const(lock + BPF_SPIN_LOCK_SIZE)),
                              z.ult(z.const(lock), z.add(offset, z.const(size)))))
    if touches:
        # The runtime guards the same bytes of every value of such a map (reference
        # Memory.add_guard): the access faults.
        touched = z.or_(*touches)
        ex.require(pc, SpinLockRule("no load or store touches a bpf_spin_lock"), state,
                   touched, touched)
        ex.add_fault_exit(state, touched)
        state.path = z.and_(state.path, z.not_(touched))


def lock_call(ex: BundleMachine, pc: int, row: HelperDef, state: State) -> None:
    """``bpf_spin_lock`` / ``bpf_spin_unlock``: the pointer and the held-lock discipline."""
    pointer = ex.read(pc, state, 1)
    region = z.extract(63, 32, pointer.value)
    offset = z.extract(31, 0, pointer.value)
    locks = lock_regions(ex)
    at = {number: z.and_(kind_is(pointer.kind, OBJECT), z.eq(region, z.const(number, 32)),
                         z.eq(offset, z.const(lock, 32))) for number, lock in locks}
    bad = z.not_(z.or_(*at.values()))
    ex.require(pc, HelperArgument(row.name, 1, "a pointer to a map value's bpf_spin_lock"),
               state, bad, bad)
    ex.add_fault_exit(state, bad)
    state.path = z.and_(state.path, z.not_(bad))
    if row.name == "bpf_spin_lock":
        # Nesting is refused by check_call (a lock held makes any call but unlock fault).
        for number, _ in locks:
            state.marks[f"lock:{number}"] = at[number]
        return
    holds = z.or_(*[z.and_(_mark(state, f"lock:{n}"), at[n]) for n, _ in locks])
    ex.require(pc, SpinLockRule("bpf_spin_unlock is given the lock that is held"), state,
               z.not_(holds), z.not_(holds))
    ex.add_fault_exit(state, z.not_(holds))
    state.path = z.and_(state.path, holds)
    for name in [n for n in state.marks if n.startswith("lock:")]:
        state.marks[name] = z.false()


# --------------------------------------------------------------------------- dynptrs


def _slot(ex: BundleMachine, pc: int, row: HelperDef, state: State) -> int | None:
    """Check the dynptr argument is an 8-aligned stack slot; return its literal address."""
    reg = DYNPTR_REG[row.name]
    pointer = ex.read(pc, state, reg)
    address = pointer.value
    aligned = z.eq(z.extract(2, 0, address), z.const(0, 3))
    on_stack = z.eq(z.extract(63, 32, address), z.const(STACK_REGION, 32))
    inside = ex.range_valid(state, address, z.const(BPF_DYNPTR_SIZE), write=True, policy=True)
    ok = z.and_(kind_is(pointer.kind, STACK), inside, aligned)
    fault = z.not_(z.and_(on_stack, aligned, ex.range_valid(
        None, address, z.const(BPF_DYNPTR_SIZE), write=True, policy=False)))
    ex.require(pc, HelperArgument(row.name, reg, "an 8-aligned bpf_dynptr on the stack"),
               state, z.not_(ok), fault)
    ex.add_fault_exit(state, fault)
    state.path = z.and_(state.path, z.not_(fault))
    literal = z.value_of(address)
    if literal is None:
        ex.require(pc, HelperArgument(row.name, reg, "a bpf_dynptr at a constant stack offset"),
                   state, z.true(), None)
    return literal


def _load(ex: BundleMachine, state: State, address: int) -> tuple[Any, Any, Any]:
    """Return ``(data, size word, offset)`` of the dynptr bytes at ``address``."""
    data, _ = ex.load_bytes(state, z.const(address), 8)
    word, _ = ex.load_bytes(state, z.const(address + 8), 4)
    offset, _ = ex.load_bytes(state, z.const(address + 12), 4)
    return data, z.zero_extend(word, 64), z.zero_extend(offset, 64)


def _write(ex: BundleMachine, state: State, address: int, data: Any, word: Any) -> None:
    """Store a dynptr's 16 bytes (offset 0) without the overwrite checks."""
    raw = z.concat([z.const(0, 32), z.extract(31, 0, word), data])
    ex.store_plain(state, z.const(address), z.extract(63, 0, raw), 8)
    ex.store_plain(state, z.const(address + 8), z.extract(127, 64, raw), 8)


def on_store(ex: BundleMachine, state: State, address: Any, size: Any) -> None:
    """A store (or helper write) over a dynptr destroys it; over a live ring one it is an error.

    The ring reference stays held (the runtime still expects it released), and stores
    through or next to slices make their bytes unknown.
    """
    if ex.dynptr_slots:
        direct = isinstance(ex.program.slots[ex.current_pc], Store | Atomic)
        end = z.add(address, size if not isinstance(size, int) else z.const(size))
        for slot in sorted(ex.dynptr_slots):
            overlap = z.and_(z.ult(address, z.const(slot + BPF_DYNPTR_SIZE)),
                             z.ult(z.const(slot), end))
            if z.truth_of(overlap) is False:
                continue
            ring = _mark(state, f"ring:{slot}")
            if z.truth_of(ring) is not False:
                clobbers = z.and_(overlap, ring)
                # A store instruction faults there (reference Memory guards); a helper's
                # write does not (the dynptr's next use or the end then faults).
                fault = clobbers if direct else None
                if ex.checking:
                    ex.require(ex.current_pc, DynptrRule(
                        "store", "a live ring-buffer dynptr is not overwritten"), state,
                        clobbers, fault)
                if fault is not None:
                    ex.add_fault_exit(state, fault)
                    state.path = z.and_(state.path, z.not_(fault))
            name = f"dyn:{slot}"
            if name in state.marks:
                state.marks[name] = z.and_(state.marks[name], z.not_(overlap))
    if ex.slice_regions:
        number = z.value_of(z.extract(63, 32, address))
        if number is None or number in ex.slice_regions:
            ex.pending_havoc = True
        else:
            ex.forget_regions(state, sorted(ex.slice_regions))


def _live(ex: BundleMachine, pc: int, row: HelperDef, state: State, slot: int) -> None:
    """Require an initialised, untouched dynptr at ``slot`` (the runtime faults otherwise)."""
    live = _mark(state, f"dyn:{slot}")
    ex.require(pc, DynptrRule(row.name, f"r{DYNPTR_REG[row.name]} is an initialised dynptr"),
               state, z.not_(live), z.not_(live))
    ex.add_fault_exit(state, z.not_(live))
    state.path = z.and_(state.path, live)


def _check_off_len(size: Any, offset: Any, length: Any) -> Any:
    """Return the condition under which ``bpf_dynptr_check_off_len`` fails (64-bit terms)."""
    return z.or_(z.ult(size, length), z.ult(z.sub(size, length), offset))


def dynptr_call(ex: BundleMachine, pc: int, row: HelperDef, key: str, result: Any,
                state: State, maps: list[Any]) -> Value:
    """Execute one dynptr helper on ``state``; return ``r0``."""
    name = row.name
    slot = _slot(ex, pc, row, state)
    if slot is None:
        ex.havoc_memory(state)
        state.exact = False
        return Value(result, OPAQUE if name == "bpf_dynptr_data" else SCALAR)
    if name in DYNPTR_INIT:
        return _init(ex, pc, row, key, result, state, slot, maps)
    _live(ex, pc, row, state, slot)
    data, word, _ = _load(ex, state, slot)
    null = z.eq(data, z.const(0))
    size = z.zero_extend(z.extract(23, 0, word), 64)
    rdonly = z.eq(z.extract(31, 31, word), z.const(1, 1))
    if name in ("bpf_ringbuf_submit_dynptr", "bpf_ringbuf_discard_dynptr"):
        ring = _mark(state, f"ring:{slot}")
        ex.require(pc, DynptrRule(name, "r1 is a ring-buffer dynptr"), state, z.not_(ring),
                   z.not_(ring))
        ex.add_fault_exit(state, z.not_(ring))
        state.path = z.and_(state.path, ring)
        state.marks[f"ring:{slot}"] = z.false()
        state.marks[f"dyn:{slot}"] = z.false()
        for region, owner in sorted(ex.slice_regions.items()):
            if owner == slot:
                state.marks[f"slice:{region}"] = z.false()
        _write(ex, state, slot, z.const(0), z.const(0))
        return Value(result, SCALAR)
    if name == "bpf_dynptr_read":
        length, off, flags = _low32(state.regs[2].value), _low32(state.regs[4].value), \
            state.regs[5].value
        r0 = z.ite(z.or_(null, z.not_(z.eq(flags, z.const(0)))), _errno(EINVAL),
                   z.ite(_check_off_len(size, off, length), _errno(E2BIG), z.const(0)))
        ex.write_buffer(state, 1, state.regs[2].value, key, z.eq(r0, z.const(0)))
        return Value(r0, SCALAR)
    if name == "bpf_dynptr_write":
        off, length, flags = _low32(state.regs[2].value), _low32(state.regs[4].value), \
            state.regs[5].value
        r0 = z.ite(z.or_(null, rdonly), _errno(EINVAL),
                   z.ite(_check_off_len(size, off, length), _errno(E2BIG),
                         z.ite(z.eq(flags, z.const(0)), z.const(0), _errno(EINVAL))))
        # The bytes behind the dynptr (a record or any buffer) are no longer known.
        ex.havoc_memory(state)
        state.exact = False
        return Value(r0, SCALAR)
    # bpf_dynptr_data: a slice of the constant length, or NULL.
    length = z.value_of(state.regs[3].value)
    if length is None or length > DYNPTR_MAX_SIZE:
        ex.require(pc, HelperArgument(name, 3, "a constant length"), state, z.true(), None)
        return Value(result, OPAQUE)
    off = _low32(state.regs[2].value)
    fails = z.or_(null, rdonly, _check_off_len(size, off, z.const(length)))
    obj = ex.new_object(length, True, f"slice of the dynptr at {slot:#x}")
    ex.slice_regions[obj.region] = slot
    if ex.checking:
        ex.slices[key] = obj.region
    state.marks[f"slice:{obj.region}"] = z.true()
    ex.null_conditions[fails.get_id()] = fails
    value = z.ite(fails, z.const(0), z.const(obj.region << 32))
    return Value(value, z.ite(fails, z.const(NULLPTR, 8), z.const(OBJECT, 8)))


def _init(ex: BundleMachine, pc: int, row: HelperDef, key: str, result: Any, state: State,
          slot: int, maps: list[Any]) -> Value:
    """``bpf_dynptr_from_mem`` / ``bpf_ringbuf_reserve_dynptr`` at ``slot``."""
    name = row.name
    ex.dynptr_slots.add(slot)
    for other in sorted(ex.dynptr_slots):
        if abs(other - slot) >= BPF_DYNPTR_SIZE:
            continue
        ring = _mark(state, f"ring:{other}")
        if z.truth_of(ring) is not False:
            ex.require(pc, DynptrRule(name, "r4 does not overwrite a live ring-buffer dynptr"),
                       state, ring, ring)
            ex.add_fault_exit(state, ring)
            state.path = z.and_(state.path, z.not_(ring))
        state.marks[f"dyn:{other}"] = z.false()
    if name == "bpf_dynptr_from_mem":
        size = _low32(state.regs[2].value)
        flags = state.regs[3].value
        r0 = z.ite(z.ult(z.const(DYNPTR_MAX_SIZE), size), _errno(E2BIG),
                   z.ite(z.eq(flags, z.const(0)), z.const(0), _errno(EINVAL)))
        ok = z.eq(r0, z.const(0))
        word = z.ite(ok, z.add(size, z.const(int(DynptrType.LOCAL) << DYNPTR_TYPE_SHIFT)),
                     z.const(0))
        _write(ex, state, slot, z.ite(ok, state.regs[1].value, z.const(0)), word)
        state.marks[f"dyn:{slot}"] = z.true()
        return Value(r0, SCALAR)
    size = _low32(state.regs[2].value)
    flags = state.regs[3].value
    info = maps[1]
    capacity = info.max_entries if info is not None else 0
    # The record is as large as the largest size this path allows (at most the ring).
    largest = z.value_of(size)
    if largest is None:
        largest = ex.session.maximum(size, state.path, limit=capacity)
    record = ex.new_object(capacity if largest is None else min(largest, capacity), True,
                           f"dynptr record of ring {info.name if info is not None else '?'}")
    if ex.checking:
        ex.facts.reservations[key] = record.region
    early = z.ite(z.eq(flags, z.const(0)),
                  z.ite(z.ult(z.const(DYNPTR_MAX_SIZE), size), _errno(E2BIG), z.const(0)),
                  _errno(EINVAL))
    # The ring may be full: the result is 0 or -EINVAL when no early error applies.
    free = z.or_(z.eq(result, z.const(0)), z.eq(result, _errno(EINVAL)))
    fits = z.ule(size, z.const(capacity))
    state.path = z.and_(state.path, z.implies(z.eq(early, z.const(0)),
                                              z.and_(free, z.implies(z.not_(fits), z.eq(
                                                  result, _errno(EINVAL))))))
    r0 = z.ite(z.eq(early, z.const(0)), result, early)
    ok = z.eq(r0, z.const(0))
    word = z.ite(ok, z.add(size, z.const(int(DynptrType.RINGBUF) << DYNPTR_TYPE_SHIFT)),
                 z.const(0))
    _write(ex, state, slot, z.ite(ok, z.const(record.region << 32), z.const(0)), word)
    state.marks[f"dyn:{slot}"] = z.true()
    state.marks[f"ring:{slot}"] = z.true()
    return Value(r0, SCALAR)


def slice_live(ex: BundleMachine, state: State, region: Any) -> list[Any]:
    """Return the policy clauses: an access to a slice needs the slice still valid."""
    return [z.or_(z.not_(z.eq(region, z.const(number, 32))), _mark(state, f"slice:{number}"))
            for number in sorted(ex.slice_regions)]


__all__ = [
    "DYNPTR_HELPERS",
    "LOCK_HELPERS",
    "check_call",
    "check_exit",
    "check_local_call",
    "check_local_return",
    "check_lock_access",
    "dynptr_call",
    "lock_call",
    "lock_regions",
    "on_store",
    "slice_live",
]
