"""
Determinism by self-composition
===============================

:func:`self_compose` runs one entry point of a bundle program symbolically twice in one
solver session. Both copies share every input by name (the input bytes, object contents,
every deterministic helper's result); only the results of nondeterministic helper calls
(clock, random numbers, CPU id) are named apart in the second copy, and the second copy's
fresh (havoc) variables never meet the first's. The outputs of a run are whether it commits
(exits within the budget; a fault or an overrun rolls it back) and, when it does, its r0.
The solver is asked for two runs, one per copy, whose outputs differ; UNSAT proves that
equal inputs end in equal outputs, whatever the nondeterministic helpers return.

The encoding covers only programs whose sole output is r0: entries that get the input or a
read-only record, and reachable calls to nondeterministic helpers, ``arspec_get_slot`` and
local functions only (no map, account, log, ring or timer effect). Anything else, a copy
that is incomplete, inexact (havocked) or has findings of its own, answers ``None``
(UNKNOWN for the caller). A satisfying model is returned so the caller can replay it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from arspec.reference.isa.instructions import Call, CallKfunc, Callx, LoadImm64, Pseudo
from arspec.reference.vm.profiles import Profile

from . import solver as z
from .assertions import HelperDeterministic
from .cfg import ControlFlow
from .objects import BundleContext, BundleExecutor, EntryKind

#: Deterministic helpers without any effect a second run could observe.
EFFECT_FREE: Final = frozenset({"arspec_get_slot"})
#: Suffix of the second copy's nondeterministic results.
SECOND: Final = "'b"
#: First fresh-variable number of the second copy (the first copy counts up from 1).
SECOND_FRESH: Final = 1 << 40


@dataclass(frozen=True)
class SelfComposition:
    """The answer: ``proved`` (equal outputs), or a model of two diverging runs."""

    proved: bool
    model: z.Model | None
    #: ``(pc, first copy's result, second copy's result)`` of each nondeterministic call.
    results: tuple[tuple[int, Any, Any], ...]
    note: str = ""


def covered(cfg: ControlFlow, context: BundleContext, entry: EntryKind) -> str:
    """Return why the encoding cannot cover this entry, or ``""`` when it can."""
    if entry.kind not in ("input", "record"):
        return f"entry kind {entry.kind} (its arguments point into map values)"
    for function in cfg.functions.values():
        for pc in sorted(function.graph.nodes):
            insn = cfg.program.slots[pc]
            if isinstance(insn, LoadImm64) and insn.pseudo is not Pseudo.IMM64:
                return f"pc {pc}: map or code reference"
            if isinstance(insn, Call):
                row = context.helper_for(insn.imm)
                if row is None or (row.deterministic and row.name not in EFFECT_FREE):
                    return f"pc {pc}: helper call with effects"
            elif isinstance(insn, Callx | CallKfunc):
                return f"pc {pc}: indirect or kfunc call"
    return ""


def self_compose(cfg: ControlFlow, profile: Profile, session: z.Session, *,
                 context: BundleContext, entry: EntryKind, budget: int) -> SelfComposition | None:
    """Prove that two runs from equal inputs commit alike with equal r0, or find two that don't.

    Returns ``None`` when the encoding does not cover the entry (see the module docstring).
    """
    if covered(cfg, context, entry):
        return None
    copies = []
    for name in ("", SECOND):
        executor = BundleExecutor(cfg, profile, session, context=context, entry=entry)
        executor.copy_name = name
        if name:
            executor.fresh_count = SECOND_FRESH
        executor.run()
        own = [f for f in executor.findings if not isinstance(f.assertion, HelperDeterministic)]
        if own or executor.incomplete or not executor.cu_exact \
                or not all(s.exact for s in executor.exits):
            return None
        copies.append(executor)
    one, two = copies
    if [pc for pc, _ in one.facts.nondet_results] != [pc for pc, _ in two.facts.nondet_results]:
        return None
    limit = z.const(budget)

    def commits(executor: BundleExecutor) -> list[tuple[Any, Any]]:
        return [(z.and_(s.path, z.not_(z.ult(limit, s.cu))), s.regs[0].value)
                for s in executor.exits]

    def rolls_back(executor: BundleExecutor) -> Any:
        over = [z.and_(s.path, z.ult(limit, s.cu)) for s in executor.exits]
        return z.or_(*(p for p, _ in executor.fault_exits), *over)

    first, second = commits(one), commits(two)
    differ = [z.and_(g1, g2, z.not_(z.eq(r1, r2))) for g1, r1 in first for g2, r2 in second]
    differ += [z.and_(g1, rolls_back(two)) for g1, _ in first]
    differ += [z.and_(g2, rolls_back(one)) for g2, _ in second]
    results = tuple((pc, a, b) for (pc, a), (_, b) in
                    zip(one.facts.nondet_results, two.facts.nondet_results, strict=True))
    answer, model = session.solve(z.or_(*differ))
    if answer is z.SatResult.UNSAT:
        return SelfComposition(True, None, results)
    if answer is z.SatResult.SAT and model is not None:
        return SelfComposition(False, model, results)
    return None


__all__ = ["SelfComposition", "covered", "self_compose"]
