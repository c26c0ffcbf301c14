"""
Loops in symbolic execution
===========================

How :class:`~arspec.checker.symbolic.Executor` runs a natural loop
(:mod:`~arspec.checker.cfg`). First a ranking function is searched: the body is executed
once from a header state whose registers and memory are fresh (so the result holds for every
iteration), and for each comparison ``a ? b`` in the body the candidates ``b - a`` and
``a - b`` (64- and 32-bit, unsigned) are tried; a candidate is a ranking function when z3
proves it strictly decreases on every back edge. Strict unsigned decrease is well-founded, so
the loop terminates, and its value at loop entry bounds the number of back edges. Then the
loop is unrolled that many times (each iteration's states merged at the header), and z3 must
show that the back edge is infeasible after the last iteration. A loop without a ranking
function, or one too long to unroll, is executed once from a havocked header state: an
over-approximation that keeps every check sound. An executor may offer a bound from state
kept in memory (:meth:`~arspec.checker.symbolic.Executor.iteration_bound`, the number
iterator); such a bound is only trusted after the full unrolling has shown the back edge
dead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arspec.reference.isa.instructions import (
    Alu,
    Atomic,
    Call,
    CallKfunc,
    CallLocal,
    Callx,
    Endian,
    Imm,
    Jump,
    LegacyLoad,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Reg,
    Store,
)

from . import solver as z
from .assertions import BoundedLoop, LoopBoundHolds
from .cfg import Function, Loop
from .executor_api import SymbolicExecutor
from .symstate import HAVOC, Context, Iters, Kind, LoopSummary, State, Value, same_kind


def run_loop(ex: SymbolicExecutor, function: Function, loop: Loop, entry: State, ctx: Context,
             iters: Iters) -> tuple[dict[int, list[State]], list[State]]:
    """Execute a natural loop: rank, unroll within the bound, or havoc."""
    outer = iters[:len(function.nesting[loop.header]) - 1]
    if not ex.checking:
        return havoc_loop(ex, function, loop, entry, ctx, outer)
    summary = ex.loops.setdefault(loop.header, LoopSummary(loop.header))
    bound = loop_bound(ex, function, loop, entry, ctx, summary)
    body = len(loop.body)
    if bound is not None:
        summary.max_bound = max(summary.max_bound, bound)
        summary.bound_known = True
    if bound is not None and (bound + 1) * body <= ex.unroll_limit:
        return unroll(ex, function, loop, entry, ctx, outer, bound)
    if summary.by_unrolling:
        summary.ranked = False
        ex.require(loop.header, BoundedLoop(loop.header), entry, z.true(), None)
    summary.unrolled = False
    ex.cu_exact = False
    return havoc_loop(ex, function, loop, entry, ctx, outer)


def unroll(ex: SymbolicExecutor, function: Function, loop: Loop, entry: State, ctx: Context,
           outer: Iters, bound: int) -> tuple[dict[int, list[State]], list[State]]:
    """Unroll ``bound + 1`` iterations; check the back edge is dead afterwards."""
    exits: dict[int, list[State]] = {}
    all_returns: list[State] = []
    state: State | None = entry
    for k in range(bound + 1):
        assert state is not None
        out, returns, latches = ex.run_region(function, loop.body, loop.header,
                                                loop.header, state, ctx,
                                                (*outer, (loop.header, k)))
        for target, states in out.items():
            exits.setdefault(target, []).extend(states)
        all_returns.extend(returns)
        state = ex.merge(latches)
        if state is None:
            return exits, all_returns
    assert state is not None
    if ex.session.check(state.path) is z.SatResult.UNSAT:
        # No run takes the back edge again: the unrolled copies are every run (and the
        # exits keep exact compute units, with no havocked copy mixed in).
        return exits, all_returns
    ex.require(loop.header, LoopBoundHolds(loop.header, bound), state, z.true(), None)
    out, returns = havoc_loop(ex, function, loop, state, ctx, outer)
    for target, states in out.items():
        exits.setdefault(target, []).extend(states)
    return exits, all_returns + returns


def havoc_state(ex: SymbolicExecutor, function: Function, loop: Loop, state: State,
                kinds: list[Kind] | None = None) -> State:
    """Return ``state`` with everything the loop may change replaced by fresh values."""
    written = written_registers(ex, loop)
    havocked = state.fork(state.path)
    for reg in sorted(written):
        kind = kinds[reg] if kinds is not None else state.regs[reg].kind
        havocked.regs[reg] = Value(ex.fresh(f"r{reg}"), kind)
    if loop_writes_memory(ex, loop):
        memory = havocked.memory
        ex._flush(memory)
        memory.base = z.byte_array(f"loopmem!{ex.fresh_count}")
        memory.init = z.merge([(z.true(), memory.init)])
        memory.initial = False
        ex.fresh_count += 1
    havocked.cu = ex.fresh("cu")
    havocked.exact = False
    if any(isinstance(ex.program.slots[pc], Call) for pc in loop.body):
        havocked.refs = [z.bool_var(f"ref!{ex.fresh_count}!{i}")
                         for i in range(len(state.refs))]
    return havocked


def written_registers(ex: SymbolicExecutor, loop: Loop) -> set[int]:
    """Return the registers some instruction of the loop (or a callee) may write."""
    written: set[int] = set()
    for pc in loop.body:
        insn = ex.program.slots[pc]
        if isinstance(insn, Alu | Neg | MovSx | Endian | LoadImm64 | Load):
            written.add(insn.dst)
        elif isinstance(insn, Atomic):
            written.update({insn.src, 0} if insn.fetch else set())
        elif isinstance(insn, Call | CallLocal | CallKfunc | Callx):
            written.update(range(0, 6))
        elif isinstance(insn, LegacyLoad):
            written.update(range(0, 10))
        if isinstance(insn, Call):
            written.update(range(1, 6))
    return written


def loop_writes_memory(ex: SymbolicExecutor, loop: Loop) -> bool:
    """Return whether the loop may write memory."""
    return any(isinstance(ex.program.slots[pc], Store | Atomic | Call | CallLocal
                          | CallKfunc | Callx | LegacyLoad) for pc in loop.body)


def havoc_loop(ex: SymbolicExecutor, function: Function, loop: Loop, entry: State, ctx: Context,
               outer: Iters) -> tuple[dict[int, list[State]], list[State]]:
    """Run one abstract iteration from a havocked header (sound for any count)."""
    kinds = [r.kind for r in entry.regs]
    for _ in range(3):
        header = havoc_state(ex, function, loop, entry, kinds)
        saved = ex.checking
        ex.checking = False
        try:
            _, _, latches = ex.run_region(function, loop.body, loop.header,
                                            loop.header, header, ctx,
                                            (*outer, (loop.header, HAVOC)))
        finally:
            ex.checking = saved
        back = ex.merge(latches)
        if back is None:
            break
        changed = False
        for reg in range(11):
            if not same_kind(back.regs[reg].kind, kinds[reg]):
                kinds[reg] = ex.fresh(f"kind{reg}", 8)
                changed = True
        if not changed:
            break
    header = havoc_state(ex, function, loop, entry, kinds)
    out, returns, _ = ex.run_region(function, loop.body, loop.header, loop.header,
                                      header, ctx, (*outer, (loop.header, HAVOC)))
    return out, returns

# -- ranking ----------------------------------------------------------------------------


def loop_bound(ex: SymbolicExecutor, function: Function, loop: Loop, entry: State, ctx: Context,
               summary: LoopSummary) -> int | None:
    """Return a proved bound on the back edges taken from ``entry``, or ``None``."""
    header = havoc_state(ex, function, loop, entry)
    first = body_latches(ex, function, loop, header, ctx)
    if first is None:
        return 0
    second_header = first.fork(first.path)
    second = body_latches(ex, function, loop, first, ctx)
    from_entry = body_latches(ex, function, loop, entry.fork(entry.path), ctx)
    steps = [(second_header, second), (entry, from_entry)]
    for name, rank in rank_candidates(ex, loop):
        proved = True
        decreases: list[int | None] = []
        for start_state, latch in steps:
            if latch is None:
                continue
            start, after = rank(start_state), rank(latch)
            if ex.session.check(latch.path, z.not_(z.ult(after, start))) \
                    is not z.SatResult.UNSAT:
                proved = False
                break
            decreases.append(z.value_of(z.sub(start, after)))
        if not proved:
            continue
        summary.ranking = name
        known = [d for d in decreases if d is not None]
        d = min(known) if known and len(known) == len(decreases) else 1
        limit = ex.unroll_limit * d
        top = ex.session.maximum(rank(entry), entry.path, limit=limit)
        return None if top is None else top // d
    extra = ex.iteration_bound(entry, ex.unroll_limit // max(len(loop.body), 1) - 1)
    if extra is not None:
        # Not a proof by itself: unroll() must show the back edge dead afterwards.
        summary.ranking = "the remaining steps of a bpf_iter_num iterator"
        summary.by_unrolling = True
        return extra
    summary.ranked = False
    ex.require(loop.header, BoundedLoop(loop.header), entry, z.true(), None)
    return None


def body_latches(ex: SymbolicExecutor, function: Function, loop: Loop, header: State,
                 ctx: Context) -> State | None:
    """Run the loop body once from ``header`` (unchecked); return the merged back edges.

    ``header`` itself is consumed (the run updates it in place).
    """
    saved = ex.checking
    ex.checking = False
    try:
        _, _, latches = ex.run_region(function, loop.body, loop.header, loop.header,
                                        header, ctx, ((loop.header, HAVOC),))
    finally:
        ex.checking = saved
    return ex.merge(latches)


def rank_candidates(ex: SymbolicExecutor, loop: Loop) -> list[tuple[str, Callable[[State], Any]]]:
    """Return ranking candidates ``b - a`` and ``a - b`` from the loop's comparisons."""
    out: list[tuple[str, Callable[[State], Any]]] = []
    seen: set[str] = set()
    for pc in sorted(loop.body):
        insn = ex.program.slots[pc]
        if not isinstance(insn, Jump):
            continue
        a = insn.dst
        for bits in (64, 32):
            for flip in (False, True):
                name = _rank_name(a, insn.src, bits, flip)
                if name in seen:
                    continue
                seen.add(name)
                out.append((name, _rank_function(a, insn.src, bits, flip)))
    return out


def _rank_name(a: int, b: Reg | Imm, bits: int, flip: bool) -> str:
    other = f"r{b.index}" if isinstance(b, Reg) else str(b.value)
    text = f"r{a} - {other}" if flip else f"{other} - r{a}"
    return text if bits == 64 else f"({text}) & 0xffffffff"


def _rank_function(a: int, b: Reg | Imm, bits: int, flip: bool) -> Callable[[State], Any]:
    def rank(state: State) -> Any:
        left = state.regs[a].value
        right = state.regs[b.index].value if isinstance(b, Reg) else z.immediate(b.value,
                                                                                bits == 64)
        if bits == 32:
            left, right = z.extract(31, 0, left), z.extract(31, 0, right)
        return z.sub(left, right) if flip else z.sub(right, left)
    return rank
