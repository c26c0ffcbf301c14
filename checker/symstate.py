"""
Symbolic state
==============

The data the symbolic executor (:mod:`~arspec.checker.symbolic`) works on: register kinds
(what a value may be used as), values, byte memory with its "initialised" shadow, the
merged program state, raw findings before replay, loop summaries and the symbolic inputs,
plus the naming of executed copies (:func:`instance_key`) that counterexample replay shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from . import solver as z
from .assertions import Assertion
from .cfg import Function

UNINIT: Final = 0
SCALAR: Final = 1
STACK: Final = 2
INPUT: Final = 3
#: A bounded object outside stack and input (map value, ring record, key copy); its bounds
#: come from the executor's object table (:mod:`~arspec.checker.objects`).
OBJECT: Final = 4
#: The NULL half of a "pointer or NULL" helper result (before the program's null check).
NULLPTR: Final = 5
#: A map reference loaded by ``lddw map_idx``: a handle, never dereferenceable.
MAPREF: Final = 6
#: A code address (``lddw code_addr``): a callback argument, never dereferenceable.
FUNCREF: Final = 7
#: A pointer whose region the verifier does not know (a tail-call target's context).
OPAQUE: Final = 8
#: A register kind: a Python constant, or an 8-bit term when paths disagree.
Kind: TypeAlias = Any
#: Iteration counters of the enclosing loops: ``((header, k), ...)``, outermost first.
Iters: TypeAlias = tuple[tuple[int, int], ...]
#: Call context: ``((call-site pc, iters at the call), ...)``, outermost first.
Context: TypeAlias = tuple[tuple[int, Iters], ...]

HAVOC: Final = -1


def instance_key(pc: int, ctx: Context, iters: Iters) -> str:
    """Return the name of one executed copy of ``pc`` (shared with the replay tracker)."""
    return f"{pc}@{ctx}{iters}"


def next_iters(function: Function, iters: Iters, src: int, dst: int) -> Iters:
    """Return the loop counters after the edge ``src -> dst`` of ``function``."""
    counts = dict(iters)
    nesting = function.nesting.get(dst, ())
    loop = function.loops.get(dst)
    back = loop is not None and src in loop.latches
    out: list[tuple[int, int]] = []
    for header in nesting:
        if header == dst and back:
            k = counts.get(header, 0)
            out.append((header, HAVOC if k == HAVOC else k + 1))
            break
        out.append((header, counts.get(header, 0)))
    return tuple(out)


@dataclass
class Value:
    """A register: its 64-bit value and its kind."""

    value: Any
    kind: Kind


def _kind_term(kind: Kind) -> Any:
    return z.const(kind, 8) if isinstance(kind, int) else kind


def kind_is(kind: Kind, *kinds: int) -> Any:
    """Return the condition that ``kind`` is one of ``kinds``."""
    if isinstance(kind, int):
        return z.true() if kind in kinds else z.false()
    return z.or_(*(z.eq(kind, z.const(k, 8)) for k in kinds))


def merge_kind(choices: list[tuple[Any, Kind]]) -> Kind:
    """Return the merged kind of several guarded kinds."""
    first = choices[0][1]
    if all(isinstance(k, int) and k == first for _, k in choices):
        return first
    return z.merge([(g, _kind_term(k)) for g, k in choices])


@dataclass
class Memory:
    """Byte memory over 64-bit addresses, with an "initialised" shadow.

    ``overlay`` holds the latest writes at literal addresses on top of ``base``/``init``;
    ``initial`` says ``base`` is still the memory the program started with, so reads at
    literal addresses can be answered without the solver.
    """

    base: Any
    init: Any
    overlay: dict[int, tuple[Any, Any]]
    initial: bool

    def copy(self) -> Memory:
        """Return an independent copy (terms are immutable and shared)."""
        return Memory(self.base, self.init, dict(self.overlay), self.initial)


@dataclass
class State:
    """One (merged) program state: path condition, registers, memory, compute units."""

    path: Any
    regs: list[Value]
    memory: Memory
    cu: Any
    frame_top: int
    #: False once some part was havocked: models may then be spurious.
    exact: bool = True
    #: Per tracked reference (a ring-buffer reservation, by number): "still held" condition.
    refs: list[Any] = field(default_factory=list)
    #: Named boolean facts of the lock and dynptr rules (:mod:`~arspec.checker.lockdyn`);
    #: an absent name is false.
    marks: dict[str, Any] = field(default_factory=dict)

    def fork(self, path: Any) -> State:
        """Return a copy with path condition ``path``."""
        return State(path, [Value(r.value, r.kind) for r in self.regs], self.memory.copy(),
                     self.cu, self.frame_top, self.exact, list(self.refs), dict(self.marks))


@dataclass(frozen=True)
class RawFinding:
    """A failed check before replay: ``fault`` says the VM is predicted to stop here."""

    pc: int
    assertion: Assertion
    fault: bool
    model: z.Model | None
    unknown: bool = False
    note: str = ""
    exact: bool = True


@dataclass
class LoopSummary:
    """What was learnt about one loop header across all its executions."""

    header: int
    ranked: bool = True
    max_bound: int = 0
    unrolled: bool = True
    ranking: str = ""
    #: The bound was not proved by a ranking function; only a full unrolling (whose back
    #: edge is dead afterwards) shows termination.
    by_unrolling: bool = False
    #: Whether ``max_bound`` is a figure (the ranking value at entry had a small maximum).
    bound_known: bool = False

    def describe(self) -> str:
        """Return the report note for a bounded loop."""
        how = ("bounded by " if self.by_unrolling else "ranking function ") + self.ranking
        text = f"loop at pc {self.header}: {how}"
        if self.bound_known:
            text += f", at most {self.max_bound} back edges"
        if not self.unrolled:
            text += " (not unrolled: its body was checked from a havocked state)"
        return text


@dataclass
class Inputs:
    """The symbolic inputs of a run."""

    length: Any
    data: Any
    helper_results: dict[str, Any] = field(default_factory=dict)


def same_kind(a: Kind, b: Kind) -> bool:
    """Return whether two kinds are the same literal or structurally equal terms."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, int) or isinstance(b, int):
        return False
    return z.same(a, b)
