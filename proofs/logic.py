"""
Logic
=====

The one module of :mod:`arspec.proofs` that imports :mod:`z3` (the other z3 site of the
project is :mod:`arspec.checker.solver`; an AST test keeps it to these two). It offers
integer, boolean, bit-vector and array terms, the connectives, and :func:`solve`, which
asks one fresh solver with the checker's deterministic settings
(:class:`~arspec.checker.solver.SolverConfig`: a fixed random seed and an ``rlimit``
budget, a wall-clock timeout only as a fallback).

Terms are z3 expressions held as opaque values: the encodings combine them with Python's
arithmetic and comparison operators (``a + b``, ``a <= b``), which z3 overloads, and with
the functions here for everything else. An ``unknown`` answer is never read as sat or
unsat; z3 exceptions become :class:`~arspec.checker.solver.SolverError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeAlias

import z3

from arspec.checker.solver import SolverConfig, SolverError

#: A z3 term (opaque outside this module).
Term: TypeAlias = Any
#: A concrete value of a term: an integer, a boolean, or an array's entries by index.
Value: TypeAlias = int | bool | dict[int, int] | dict[int, bool]

_bound = itertools.count()
#: The z3 contexts of the proofs under way, innermost last (empty: z3's main context).
_contexts: list[Any] = []


@contextmanager
def fresh_context() -> Iterator[None]:
    """Build and solve every term of the block in a new z3 context.

    A fresh context (and fresh bound-variable names) per proof makes its answers and models
    independent of what was solved before in the same process.
    """
    global _bound
    saved = _bound
    _contexts.append(z3.Context())
    _bound = itertools.count()
    try:
        yield
    finally:
        _contexts.pop()
        _bound = saved


def _ctx() -> Any:
    return _contexts[-1] if _contexts else z3.main_ctx()


class Answer(Enum):
    """A solver answer; ``UNKNOWN`` is never read as either of the others."""

    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


def int_var(name: str) -> Term:
    """Return the free mathematical integer ``name``."""
    return z3.Int(name, _ctx())


def bool_var(name: str) -> Term:
    """Return the free boolean ``name``."""
    return z3.Bool(name, _ctx())


def bv_var(name: str, width: int) -> Term:
    """Return the free bit-vector ``name`` of ``width`` bits."""
    return z3.BitVec(name, width, _ctx())


def int_array(name: str) -> Term:
    """Return the free array ``name`` from integers to integers."""
    return z3.Array(name, z3.IntSort(_ctx()), z3.IntSort(_ctx()))


def bool_array(name: str) -> Term:
    """Return the free array ``name`` from integers to booleans."""
    return z3.Array(name, z3.IntSort(_ctx()), z3.BoolSort(_ctx()))


def num(value: int) -> Term:
    """Return the integer literal ``value``."""
    return z3.IntVal(value, _ctx())


def bv(value: int, width: int) -> Term:
    """Return the bit-vector literal ``value`` (wrapped) of ``width`` bits."""
    return z3.BitVecVal(value & ((1 << width) - 1), width, _ctx())


def truth(value: bool) -> Term:
    """Return the boolean literal ``value``."""
    return z3.BoolVal(value, _ctx())


def and_(*terms: Term) -> Term:
    """Return the conjunction of ``terms`` (true when there are none)."""
    return z3.And(*terms) if terms else z3.BoolVal(True, _ctx())


def or_(*terms: Term) -> Term:
    """Return the disjunction of ``terms`` (false when there are none)."""
    return z3.Or(*terms) if terms else z3.BoolVal(False, _ctx())


def not_(term: Term) -> Term:
    """Return the negation of ``term``."""
    return z3.Not(term)


def implies(a: Term, b: Term) -> Term:
    """Return ``a => b``."""
    return z3.Implies(a, b)


def ite(cond: Term, then: Term, other: Term) -> Term:
    """Return ``then`` if ``cond`` else ``other``."""
    return z3.If(cond, then, other)


def minimum(a: Term, b: Term) -> Term:
    """Return the smaller of two integers."""
    return z3.If(a <= b, a, b)


def select(array: Term, index: Term | int) -> Term:
    """Return ``array[index]``."""
    return z3.Select(array, index)


def store(array: Term, index: Term | int, value: Term | int | bool) -> Term:
    """Return ``array`` with ``array[index] = value``."""
    return z3.Store(array, index, value)


def forall(body: Callable[[Term], Term]) -> Term:
    """Return ``forall i: body(i)`` over the integers."""
    i = z3.Int(f"i!{next(_bound)}", _ctx())
    return z3.ForAll([i], body(i))


def forall2(body: Callable[[Term, Term], Term]) -> Term:
    """Return ``forall i, j: body(i, j)`` over the integers."""
    n = next(_bound)
    i, j = z3.Int(f"i!{n}", _ctx()), z3.Int(f"j!{n}", _ctx())
    return z3.ForAll([i, j], body(i, j))


def int_array_of(entries: Mapping[int, int], default: int = 0) -> Term:
    """Return the integer array holding ``entries`` and ``default`` elsewhere."""
    array = z3.K(z3.IntSort(_ctx()), z3.IntVal(default, _ctx()))
    for index in sorted(entries):
        array = z3.Store(array, index, entries[index])
    return array


def bool_array_of(entries: Mapping[int, bool], default: bool = False) -> Term:
    """Return the boolean array holding ``entries`` and ``default`` elsewhere."""
    array = z3.K(z3.IntSort(_ctx()), z3.BoolVal(default, _ctx()))
    for index in sorted(entries):
        array = z3.Store(array, index, z3.BoolVal(entries[index], _ctx()))
    return array


def bv_lshr(a: Term, b: Term) -> Term:
    """Return the logical right shift of a bit-vector."""
    return z3.LShR(a, b)


def bv_ult(a: Term, b: Term) -> Term:
    """Return unsigned ``a < b`` on bit-vectors."""
    return z3.ULT(a, b)


def bv_ule(a: Term, b: Term) -> Term:
    """Return unsigned ``a <= b`` on bit-vectors."""
    return z3.ULE(a, b)


def bv_to_int(a: Term) -> Term:
    """Return the unsigned integer value of a bit-vector."""
    return z3.BV2Int(a)


def conjuncts(term: Term) -> list[Term]:
    """Return the top-level conjuncts of ``term`` (itself when it is not a conjunction)."""
    if z3.is_and(term):
        return [part for child in term.children() for part in conjuncts(child)]
    return [term]


def is_quantified(term: Term) -> bool:
    """Return whether ``term`` is a quantifier."""
    return bool(z3.is_quantifier(term))


def is_array(term: Term) -> bool:
    """Return whether ``term`` is an array term."""
    return bool(z3.is_array(term))


class Model:
    """A satisfying assignment; :meth:`value` evaluates terms under it."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def value(self, term: Term) -> int | bool:
        """Return the value of an integer, bit-vector or boolean term."""
        try:
            result = self._model.eval(term, model_completion=True)
        except z3.Z3Exception as exc:
            raise SolverError(f"z3 failed to evaluate a model: {exc}") from exc
        if z3.is_bool(result):
            return bool(z3.is_true(result))
        number: int = result.as_long()
        return number


def solve(constraints: Sequence[Term], config: SolverConfig) -> tuple[Answer, Model | None, str]:
    """Ask a fresh, deterministic solver whether ``constraints`` hold together.

    Returns the answer, a model when satisfiable, and z3's reason when unknown.
    """
    try:
        solver = z3.Solver(ctx=_ctx())
        solver.set("random_seed", config.seed)
        solver.set("rlimit", config.rlimit)
        solver.set("timeout", config.timeout_ms)
        solver.add(*constraints)
        answer = solver.check()
        if answer == z3.sat:
            return Answer.SAT, Model(solver.model()), ""
        if answer == z3.unsat:
            return Answer.UNSAT, None, ""
        return Answer.UNKNOWN, None, str(solver.reason_unknown())
    except z3.Z3Exception as exc:
        raise SolverError(f"z3 failed: {exc}") from exc
