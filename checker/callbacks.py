"""
``bpf_loop`` callbacks inlined at the call
==========================================

``bpf_loop(nr_loops, callback, ctx, flags)`` calls ``callback(index, ctx)`` for index
0, 1, ... until it returns non-zero or ``nr_loops`` (read as a ``u32``) calls were made, and
returns the number of calls (:func:`arspec.spec.loops.process_loop`); ``flags != 0`` gives
``-EINVAL`` and more than the preset's ``bpf_max_loops`` gives ``-E2BIG``, both before any
call. The VM runs each call in a new frame above the caller's, with ``r1 = index``,
``r2 = ctx``, ``r3``-``r5 = 0``; the caller's registers are restored afterwards and only
``r0`` changes. As in Linux, the callback may read only ``r1``, ``r2`` and ``r10`` before
writing a register.

:func:`inline_loop` executes exactly that, symbolically: when the number of calls is bounded
by a small constant ``n`` (a literal, or a maximum proved by the solver), the callback is
unrolled ``n`` times at the call, each copy in its own call context so that its helper
results are named apart, and the states of every way out (stopped by the callback after
call ``i``, ``nr_loops`` reached, an argument error) are merged. The callback then sees the
caller's real ``ctx`` pointer (usually the caller's stack), its memory effects and compute
units are exact, and the caller goes on with the true result. A count that is not bounded
closely enough is left to the over-approximation of
:class:`~arspec.checker.objects.BundleExecutor` (memory and compute havocked; the callback
verified on its own with an opaque context).

The replay of a model (:mod:`~arspec.checker.bundle_replay`) runs the callback on the VM
and tells the :class:`~arspec.checker.replay.InstanceTracker` which call it is in, through
:data:`LOOP_MARK`, so that both sides name each copy's helper results alike.
"""

from __future__ import annotations

from typing import Any, Final

from arspec.reference.isa.instructions import FRAME_POINTER, Program
from arspec.reference.vm.profiles import PROGRAM_REGION, SLOT_SIZE
from arspec.spec.errno import E2BIG, EINVAL

from . import solver as z
from .assertions import CallDepthWithin
from .cfg import ControlFlow, build_cfg
from .executor_api import BundleMachine
from .symstate import SCALAR, STACK, UNINIT, Context, Iters, State, Value

#: Pseudo loop header in an iteration tuple that numbers the calls of one ``bpf_loop``
#: (real headers are pcs, so never negative).
LOOP_MARK: Final = -2
#: Largest number of callback instructions one ``bpf_loop`` is unrolled into.
INLINE_COPIES: Final = 4096


def callback_context(ctx: Context, pc: int, iters: Iters, index: int) -> Context:
    """Return the call context of call ``index`` of the ``bpf_loop`` at ``pc``."""
    return (*ctx, (pc, (*iters, (LOOP_MARK, index))))


def code_target(value: Any, program: Program) -> int | None:
    """Return the instruction a literal code address of ``program`` itself names, else ``None``."""
    literal = z.value_of(value)
    if literal is None or literal % SLOT_SIZE or literal >> 32 != PROGRAM_REGION:
        return None
    offset = (literal & 0xFFFFFFFF) // SLOT_SIZE
    return offset if offset < len(program.slots) and program.slots[offset] is not None else None


def add_function(cfg: ControlFlow, target: int) -> bool:
    """Add the function at ``target`` and its callees to ``cfg``; ``False`` if unusable.

    Unusable means recursion, irreducible loops, an indirect call or no instruction there.
    """
    if target in cfg.functions:
        return True
    sub = build_cfg(cfg.program, target)
    if any(i.kind in ("recursion", "irreducible", "empty", "callx") for i in sub.issues):
        return False
    for entry, function in sub.functions.items():
        cfg.functions.setdefault(entry, function)
    for site, callee in sub.call_targets.items():
        cfg.call_targets.setdefault(site, callee)
    return True


def _callback_size(executor: BundleMachine, target: int) -> int | None:
    """Return the instructions the callback and its local callees hold (``None``: unusable)."""
    cfg = executor.cfg
    if not add_function(cfg, target):
        return None
    seen: set[int] = set()
    work = [target]
    while work:
        entry = work.pop()
        if entry in seen:
            continue
        seen.add(entry)
        function = cfg.functions[entry]
        work.extend(cfg.call_targets[pc] for pc in function.pcs if pc in cfg.call_targets)
    return sum(len(cfg.functions[e].pcs) for e in seen)


def _bound(executor: BundleMachine, state: State, count: Any, size: int) -> int | None:
    """Return a proved upper bound of ``count`` small enough to unroll, else ``None``."""
    limit = INLINE_COPIES // max(size, 1)
    if limit <= 0:
        return None
    return executor.session.maximum(count, state.path, limit=limit)


def inline_loop(executor: BundleMachine, pc: int, state: State, ctx: Context,
                iters: Iters, target: int) -> bool:
    """Execute the ``bpf_loop`` call at ``pc`` by unrolling its callback at ``target``.

    Returns ``False`` (``state`` untouched) when the callback or its count is not known
    precisely enough; the caller then over-approximates the call.
    """
    regs = state.regs
    size = _callback_size(executor, target)
    if size is None:
        return False
    count = z.zero_extend(z.extract(31, 0, regs[1].value), 64)
    flags = regs[4].value
    bad_flags = z.not_(z.eq(flags, z.const(0)))
    too_many = z.ult(z.const(executor.context.max_loops), count)
    running = state.fork(z.and_(state.path, z.not_(bad_flags), z.not_(too_many)))
    literal, flag = z.value_of(count), z.value_of(flags)
    if flag or (literal is not None and literal > executor.context.max_loops):
        bound: int | None = 0  # the call fails before calling back
    else:
        bound = _bound(executor, running, count, size)
    if bound is None:
        return False
    depth = len(ctx) + 1
    caller = [Value(r.value, r.kind) for r in regs]
    ends: list[State] = []
    error = state.fork(z.and_(state.path, z.or_(bad_flags, too_many)))
    error.regs[0] = Value(z.ite(bad_flags, z.const(-EINVAL & z.MASK64),
                                z.const(-E2BIG & z.MASK64)), SCALAR)
    ends.append(error)
    for index in range(bound + 1):
        more = z.ult(z.const(index), count)
        done = running.fork(z.and_(running.path, z.not_(more)))
        done.regs[0] = Value(z.const(index), SCALAR)
        ends.append(done)
        running.path = z.and_(running.path, more)
        if index == bound or z.truth_of(running.path) is False:
            break
        if depth >= executor.profile.max_frames:
            executor.require(pc, CallDepthWithin(depth + 1, executor.profile.max_frames),
                             running, z.true(), z.true())
            executor.add_fault_exit(running, z.true())
            break
        callee = running.fork(running.path)
        callee.frame_top = running.frame_top + executor.profile.frame_stride
        callee.regs[1] = Value(z.const(index), SCALAR)
        callee.regs[2] = Value(caller[3].value, caller[3].kind)
        # The VM passes 0 in r3-r5 and leaves r0, r6-r9 as they were; like Linux, the
        # callback may not read any of them before writing it.
        for reg in (0, 3, 4, 5, 6, 7, 8, 9):
            callee.regs[reg] = Value(callee.regs[reg].value if reg in (0, 6, 7, 8, 9)
                                     else z.const(0), UNINIT)
        callee.regs[FRAME_POINTER] = Value(z.const(callee.frame_top), STACK)
        returned = executor.run_function(target, callee,
                                         callback_context(ctx, pc, iters, index))
        if returned is None:
            break
        stop = z.not_(z.eq(returned.regs[0].value, z.const(0)))
        after = State(returned.path, [Value(r.value, r.kind) for r in caller],
                      returned.memory, returned.cu, running.frame_top, returned.exact,
                      returned.refs, returned.marks)
        stopped = after.fork(z.and_(after.path, stop))
        stopped.regs[0] = Value(z.const(index + 1), SCALAR)
        ends.append(stopped)
        after.path = z.and_(after.path, z.not_(stop))
        running = after
    merged = executor.merge(ends)
    if merged is None:
        state.path = z.false()
        return True
    state.path, state.regs, state.memory = merged.path, merged.regs, merged.memory
    state.cu, state.exact, state.refs = merged.cu, merged.exact, merged.refs
    return True


__all__ = ["INLINE_COPIES", "LOOP_MARK", "add_function", "callback_context", "code_target",
           "inline_loop"]
