"""
The open-coded number iterator
==============================

``bpf_iter_num_new(it, start, end)``, ``bpf_iter_num_next(it)`` and
``bpf_iter_num_destroy(it)`` keep their state in 8 stack bytes: ``s32 cur`` at offset 0 and
``s32 end`` at offset 4 (:mod:`arspec.spec.loops`). The functions here give their exact
effect on the symbolic state, byte for byte as the spec computes it:

* ``new``: ``start > end`` (signed 32-bit) gives ``-EINVAL`` and ``end - start`` above the
  preset's ``bpf_max_loops`` gives ``-E2BIG``, both leaving ``cur = end = 0``; otherwise
  ``cur = start - 1`` (wrapping) and the result is 0.
* ``next``: ``cur + 1`` (wrapping) at or above ``end`` empties the iterator and returns
  NULL; otherwise ``cur`` moves on and the result points at it (the iterator's own
  address), so the usual ``if r0 == 0`` test settles the "pointer or NULL" as after a
  lookup.
* ``destroy``: ``cur = end = 0``.

Loops driven by ``next`` carry their counter in memory, where the ranking search of
:mod:`~arspec.checker.symbolic` does not look. :func:`iteration_bound` supplies the number
of ``next`` calls an iterator still allows at loop entry; the executor unrolls that many
iterations and lets the solver show that the back edge is dead afterwards, so the bound is
checked, not assumed. Like Linux, an iterator must be an 8-aligned slot of the stack;
``next`` and ``destroy`` must find it initialised.
"""

from __future__ import annotations

from typing import Any, Final

from arspec.reference.isa.instructions import JmpCond
from arspec.spec.errno import E2BIG, EINVAL
from arspec.spec.helpers import HelperDef

from . import solver as z
from .assertions import HelperArgument, InitializedStack
from .executor_api import BundleMachine
from .symstate import NULLPTR, SCALAR, STACK, State, Value, kind_is

#: Bytes of a ``struct bpf_iter_num``.
ITER_SIZE: Final = 8
#: The iterator helpers this module executes.
ITERATOR_HELPERS: Final = frozenset({"bpf_iter_num_new", "bpf_iter_num_next",
                                     "bpf_iter_num_destroy"})


def _pointer(executor: BundleMachine, pc: int, row: HelperDef, state: State) -> Any:
    """Check ``r1`` is an 8-aligned iterator slot of the stack; return its address."""
    pointer = executor.read(pc, state, 1)
    address = pointer.value
    aligned = z.eq(z.extract(2, 0, address), z.const(0, 3))
    inside = executor.range_valid(state, address, z.const(ITER_SIZE), write=True,
                                  policy=True)
    ok = z.and_(kind_is(pointer.kind, STACK), inside, aligned)
    fault = z.not_(executor.range_valid(None, address, z.const(ITER_SIZE), write=True,
                                        policy=False))
    executor.require(pc, HelperArgument(row.name, 1, "an 8-aligned bpf_iter_num on the stack"),
                     state, z.not_(ok), fault)
    executor.add_fault_exit(state, fault)
    state.path = z.and_(state.path, z.not_(fault))
    return address


def _fields(executor: BundleMachine, pc: int, state: State, address: Any,
            *, initialised: bool) -> tuple[Any, Any]:
    """Load ``(cur, end)`` (32-bit terms); require initialised bytes when asked."""
    raw, init = executor.load_bytes(state, address, ITER_SIZE)
    if initialised:
        executor.require(pc, InitializedStack(1, 0, ITER_SIZE), state, z.not_(init), None)
    return z.extract(31, 0, raw), z.extract(63, 32, raw)


def _store(executor: BundleMachine, state: State, address: Any, cur: Any, end: Any) -> None:
    executor.store_bytes(state, address, z.concat([end, cur]), ITER_SIZE)


def iterator_call(executor: BundleMachine, pc: int, row: HelperDef, state: State) -> Value:
    """Execute one iterator helper call on ``state``; return ``r0``."""
    address = _pointer(executor, pc, row, state)
    zero = z.const(0, 32)
    if row.name == "bpf_iter_num_new":
        executor.iterators.add(z.value_of(address))
        start = z.extract(31, 0, state.regs[2].value)
        end = z.extract(31, 0, state.regs[3].value)
        backwards = z.condition(JmpCond.SGT, start, end, is64=False)
        span = z.sub(z.sign_extend(end, 64), z.sign_extend(start, 64))
        too_long = z.ult(z.const(executor.context.max_loops), span)
        failed = z.or_(backwards, too_long)
        _store(executor, state, address, z.ite(failed, zero, z.sub(start, z.const(1, 32))),
               z.ite(failed, zero, end))
        result = z.ite(backwards, z.const(-EINVAL & z.MASK64),
                       z.ite(too_long, z.const(-E2BIG & z.MASK64), z.const(0)))
        return Value(result, SCALAR)
    cur, end = _fields(executor, pc, state, address, initialised=True)
    if row.name == "bpf_iter_num_destroy":
        _store(executor, state, address, zero, zero)
        return Value(z.const(0), SCALAR)
    following = z.add(cur, z.const(1, 32))
    done = z.condition(JmpCond.SGE, following, end, is64=False)
    _store(executor, state, address, z.ite(done, zero, following), z.ite(done, zero, end))
    executor.null_conditions[done.get_id()] = done
    return Value(z.ite(done, z.const(0), address),
                 z.ite(done, z.const(NULLPTR, 8), z.const(STACK, 8)))


def iteration_bound(executor: BundleMachine, state: State, limit: int) -> int | None:
    """Return how many more ``next`` calls can succeed, at most, on the known iterators.

    For ``(cur, end)`` that is ``end - s32(cur + 1)`` when positive, else 0; the largest
    over the iterators ``new`` set up at literal stack addresses, if it is at most
    ``limit`` (``None`` otherwise, or when there is no iterator).
    """
    best: int | None = None
    for address in sorted(a for a in executor.iterators if a is not None):
        cur, end = _fields(executor, 0, state, z.const(address), initialised=False)
        following = z.sign_extend(z.add(cur, z.const(1, 32)), 64)
        left = z.sub(z.sign_extend(end, 64), following)
        remaining = z.ite(z.condition(JmpCond.SLT, left, z.const(0), is64=True),
                          z.const(0), left)
        top = executor.session.maximum(remaining, state.path, limit=limit)
        if top is None:
            return None
        best = top if best is None else max(best, top)
    return best


__all__ = ["ITERATOR_HELPERS", "ITER_SIZE", "iteration_bound", "iterator_call"]
