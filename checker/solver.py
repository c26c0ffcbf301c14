"""
Solver
======

The only module that imports :mod:`z3`. It owns three things: term constructors for
bit-vectors, booleans and byte arrays (other modules hold the returned terms as opaque
values); the bit-vector semantics of every ALU, byte-order, sign-extension and jump
instruction, matching :mod:`arspec.reference.vm.alu` in both profiles; and :class:`Session`,
the solver factory with fixed random seeds and a deterministic ``rlimit`` budget (a
wall-clock timeout is only a fallback). Terms are built in the current z3 context: each
verification opens its own (:func:`fresh_context`), so its answers do not depend on what the
process solved before.

An ``unknown`` answer is reported as :attr:`SatResult.UNKNOWN` and is never read as sat or
unsat; z3 exceptions become :class:`SolverError`.

Constant folding: when every operand of an operation is a literal, the result is simplified
to a literal, so straight-line code over constants (``r10`` arithmetic, immediates) never
reaches the solver.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import wraps
from typing import Any, Final, ParamSpec, TypeAlias, TypeVar

import z3

from arspec.reference.isa.instructions import AluOp, AtomicOp, EndianOp, JmpCond
from arspec.reference.vm.profiles import Profile
from arspec.spec.errors import ArspecError

from .cfg import TimeLimitReached


class SolverError(ArspecError):
    """The SMT solver failed (a z3 exception); the property is reported UNKNOWN."""


#: A z3 bit-vector term (opaque outside this module).
BV: TypeAlias = Any
#: A z3 boolean term (opaque outside this module).
Bool: TypeAlias = Any
#: A z3 array term from 64-bit addresses to bytes or booleans (opaque outside this module).
Array: TypeAlias = Any

MASK64: Final = (1 << 64) - 1

_P = ParamSpec("_P")
_R = TypeVar("_R")


def guarded(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn any :class:`z3.Z3Exception` raised by ``fn`` into :class:`SolverError`."""

    @wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except z3.Z3Exception as exc:
            raise SolverError(f"z3 failed in {fn.__name__}: {exc}") from exc

    return wrapper


# -- contexts ----------------------------------------------------------------------------


class _Context:
    """The z3 context new terms are built in, with its two boolean literals."""

    def __init__(self, ctx: z3.Context) -> None:
        self.ctx = ctx
        self.true = z3.BoolVal(True, ctx)
        self.false = z3.BoolVal(False, ctx)
        self.true_id: int = self.true.get_id()
        self.false_id: int = self.false.get_id()


_current = _Context(z3.main_ctx())


@contextmanager
def fresh_context() -> Iterator[None]:
    """Build every term inside the block in a new z3 context, with the garbage collector off.

    z3 numbers terms by ids it recycles and its search order follows them, so a shared
    context, or a collection freeing terms at a moment that depends on what ran before,
    would make counterexamples depend on the process's history. A fresh context and no
    collection inside make the block's z3 calls, hence its answers, a function of its input.
    On leaving, the youngest generation (the block's objects, as nothing was collected since
    the block began) is collected, which frees the context with the block's garbage; z3's
    answers also shift when dozens of other contexts are alive. The previous context is
    restored; terms must not leave the block (z3 refuses to mix contexts). Not thread-safe.
    """
    global _current
    previous = _current
    enabled = gc.isenabled()
    gc.disable()
    _current = _Context(z3.Context())
    try:
        yield
    finally:
        _current = previous
        gc.collect(0)
        if enabled:
            gc.enable()


def isolated(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run every call of ``fn`` in a :func:`fresh_context`."""

    @wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with fresh_context():
            return fn(*args, **kwargs)

    return wrapper


# -- terms -------------------------------------------------------------------------------


def const(value: int, width: int = 64) -> BV:
    """Return the literal ``value`` (wrapped) of ``width`` bits."""
    return z3.BitVecVal(value & ((1 << width) - 1), width, _current.ctx)


def var(name: str, width: int = 64) -> BV:
    """Return the free bit-vector variable ``name``."""
    return z3.BitVec(name, width, _current.ctx)


def bool_var(name: str) -> Bool:
    """Return the free boolean variable ``name``."""
    return z3.Bool(name, _current.ctx)


def true() -> Bool:
    """Return the literal true."""
    return _current.true


def false() -> Bool:
    """Return the literal false."""
    return _current.false


def _is_numeral(term: Any) -> bool:
    return bool(z3.Z3_get_ast_kind(term.ctx_ref(), term.as_ast()) == z3.Z3_NUMERAL_AST)


def value_of(term: BV) -> int | None:
    """Return the unsigned value of a literal bit-vector, else ``None``."""
    if _is_numeral(term) and z3.is_bv(term):
        value: int = term.as_long()
        return value
    return None


def truth_of(term: Bool) -> bool | None:
    """Return the value of a literal boolean, else ``None`` (literals are hash-consed).

    Ids are numbered per context, so a term of another context is refused rather than read
    by an id that may belong to a literal here."""
    if term.ctx is not _current.ctx:
        raise SolverError("a term of another z3 context reached the solver")
    ident = term.get_id()
    if ident == _current.true_id:
        return True
    if ident == _current.false_id:
        return False
    return None


def same(a: Any, b: Any) -> bool:
    """Return whether two terms are structurally identical."""
    result: bool = a.eq(b)
    return result


def _fold(term: Any, *operands: Any) -> Any:
    if all(_is_numeral(o) or truth_of(o) is not None for o in operands):
        return z3.simplify(term)
    return term


def width_of(term: BV) -> int:
    """Return the width in bits of a bit-vector term."""
    size: int = term.size()
    return size


def add(a: BV, b: BV) -> BV:
    """Return ``a + b`` (wrapping)."""
    return _fold(a + b, a, b)


def sub(a: BV, b: BV) -> BV:
    """Return ``a - b`` (wrapping)."""
    return _fold(a - b, a, b)


def extract(high: int, low: int, term: BV) -> BV:
    """Return bits ``high..low`` of ``term``."""
    if low == 0 and high == width_of(term) - 1:
        return term
    return _fold(z3.Extract(high, low, term), term)


def zero_extend(term: BV, width: int) -> BV:
    """Return ``term`` zero-extended to ``width`` bits."""
    extra = width - width_of(term)
    return term if extra == 0 else _fold(z3.ZeroExt(extra, term), term)


def sign_extend(term: BV, width: int) -> BV:
    """Return ``term`` sign-extended to ``width`` bits."""
    extra = width - width_of(term)
    return term if extra == 0 else _fold(z3.SignExt(extra, term), term)


def concat(parts: Sequence[BV]) -> BV:
    """Return the concatenation of ``parts`` (first part most significant).

    Bytes that a store took apart are put back together: contiguous extracts of one term
    become one extract (or the term), and if-then-else parts under one condition are
    concatenated branch by branch. Memory written and read back byte by byte then stays a
    word-sized term, which keeps the solver's work small.
    """
    return _concat(parts, {})


def _concat(parts: Sequence[BV], memo: dict[tuple[int, ...], BV]) -> BV:
    """:func:`concat` with a memo per call, so shared if-then-else trees stay shared."""
    if len(parts) == 1:
        return parts[0]
    key = tuple(p.get_id() for p in parts)
    if key in memo:
        return memo[key]
    result = _join_extracts(parts)
    if result is None:
        first = parts[0]
        if all(z3.is_app_of(p, z3.Z3_OP_ITE) for p in parts) and len(memo) < _CONCAT_MEMO:
            condition = first.children()[0]
            if all(p.children()[0].eq(condition) for p in parts[1:]):
                result = ite(condition, _concat([p.children()[1] for p in parts], memo),
                             _concat([p.children()[2] for p in parts], memo))
    if result is None:
        result = _fold(z3.Concat(*parts), *parts)
    memo[key] = result
    return result


#: Distinct part lists one :func:`concat` call may rebuild before it stops splitting.
_CONCAT_MEMO: Final = 4096


def _join_extracts(parts: Sequence[BV]) -> BV | None:
    """Return ``Extract(high, low, x)`` when ``parts`` are its contiguous slices of ``x``."""
    if not all(z3.is_app_of(p, z3.Z3_OP_EXTRACT) for p in parts):
        return None
    source = parts[0].children()[0]
    high, low = parts[0].params()
    for part in parts[1:]:
        part_high, part_low = part.params()
        if part_high != low - 1 or not part.children()[0].eq(source):
            return None
        low = part_low
    return extract(high, low, source)


def eq(a: BV, b: BV) -> Bool:
    """Return ``a == b``."""
    return _fold(a == b, a, b)


def ult(a: BV, b: BV) -> Bool:
    """Return unsigned ``a < b``."""
    return _fold(z3.ULT(a, b), a, b)


def ule(a: BV, b: BV) -> Bool:
    """Return unsigned ``a <= b``."""
    return _fold(z3.ULE(a, b), a, b)


def not_(a: Bool) -> Bool:
    """Return ``not a``."""
    known = truth_of(a)
    return (false() if known else true()) if known is not None else z3.Not(a)


def and_(*terms: Bool) -> Bool:
    """Return the conjunction, dropping literal trues."""
    parts = []
    for t in terms:
        known = truth_of(t)
        if known is False:
            return false()
        if known is None:
            parts.append(t)
    return true() if not parts else parts[0] if len(parts) == 1 else z3.And(*parts)


def or_(*terms: Bool) -> Bool:
    """Return the disjunction, dropping literal falses."""
    parts = []
    for t in terms:
        known = truth_of(t)
        if known is True:
            return true()
        if known is None:
            parts.append(t)
    return false() if not parts else parts[0] if len(parts) == 1 else z3.Or(*parts)


def implies(a: Bool, b: Bool) -> Bool:
    """Return ``a -> b``."""
    return or_(not_(a), b)


def ite(cond: Bool, then: Any, other: Any) -> Any:
    """Return ``then if cond else other``, collapsing literal conditions and equal arms."""
    known = truth_of(cond)
    if known is not None:
        return then if known else other
    if then.eq(other):
        return then
    return z3.If(cond, then, other)


def merge(choices: Sequence[tuple[Bool, Any]]) -> Any:
    """Return the term selected by the first true guard; the last arm is the default.

    Neighbouring arms with the same term share one arm (guards or-ed), which keeps merges of
    many states that mostly agree small; the first true guard still selects the same term.
    """
    groups: list[tuple[list[Bool], Any]] = []
    for guard, term in choices:
        if groups and groups[-1][1].get_id() == term.get_id():
            groups[-1][0].append(guard)
        else:
            groups.append(([guard], term))
    result = groups[-1][1]
    for guards, term in reversed(groups[:-1]):
        result = ite(or_(*guards), term, result)
    return result


def byte_array(name: str) -> Array:
    """Return a free array from 64-bit addresses to bytes."""
    return z3.Array(name, z3.BitVecSort(64, _current.ctx), z3.BitVecSort(8, _current.ctx))


def select(array: Array, index: BV) -> Any:
    """Return ``array[index]``."""
    return z3.Select(array, index)


def store(array: Array, index: BV, value: Any) -> Array:
    """Return ``array`` with ``index`` set to ``value``."""
    return z3.Store(array, index, value)


def region_initial_memory(input_bytes: Array, unknown: Array, *, input_base: int,
                          zero_regions: Iterable[int]) -> tuple[Array, Array]:
    """Return the initial byte memory and its "initialised" shadow as address lambdas.

    Bytes of the ``zero_regions`` (stack, heap) start at zero and uninitialised (the
    shadow is false exactly on the first zero region, the stack); input bytes come from
    ``input_bytes[address - input_base]``; every other address reads ``unknown[address]``.
    """
    zero = list(zero_regions)
    address = var("address")
    region = z3.Extract(63, 32, address)
    value = z3.If(region == input_base >> 32, z3.Select(input_bytes, address - input_base),
                  z3.Select(unknown, address))
    for index in zero:
        value = z3.If(region == index, const(0, 8), value)
    initialised = z3.Not(region == zero[0])
    return z3.Lambda([address], value), z3.Lambda([address], initialised)


def havoc_regions(array: Array, fresh: Array, regions: Iterable[int]) -> Array:
    """Return ``array`` with every byte of the 4 GiB ``regions`` taken from ``fresh``."""
    chosen = sorted(set(regions))
    if not chosen:
        return array
    address = var("address")
    region = z3.Extract(63, 32, address)
    inside = z3.Or(*(region == index for index in chosen))
    return z3.Lambda([address], z3.If(inside, z3.Select(fresh, address),
                                      z3.Select(array, address)))


def udiv(a: BV, divisor: int) -> BV:
    """Return ``a`` divided by the positive literal ``divisor`` (unsigned)."""
    return _fold(z3.UDiv(a, const(divisor, width_of(a))), a)


def _conjuncts(term: Bool) -> list[Bool]:
    """Return the top-level conjuncts of ``term`` (nested ``And`` flattened)."""
    out, stack = [], [term]
    while stack:
        node = stack.pop()
        if z3.is_and(node):
            stack.extend(reversed(node.children()))
        elif truth_of(node) is not True:
            out.append(node)
    return out


def leaves(term: BV, *, cap: int = 256) -> list[int] | None:
    """Return a superset of the values of ``term``, built of literals, ``If`` and ``+``.

    ``None`` when the term has another shape or the set would exceed ``cap`` values. The
    largest value is a sound upper bound of ``term`` on every path.
    """
    memo: dict[int, frozenset[int] | None] = {}
    width = width_of(term)
    mask = (1 << width) - 1

    def walk(node: Any) -> frozenset[int] | None:
        ident = node.get_id()
        if ident in memo:
            return memo[ident]
        value = value_of(node)
        result: frozenset[int] | None
        if value is not None:
            result = frozenset({value})
        elif z3.is_app_of(node, z3.Z3_OP_ITE):
            a, b = walk(node.children()[1]), walk(node.children()[2])
            result = None if a is None or b is None else a | b
        elif z3.is_app_of(node, z3.Z3_OP_BADD):
            result = frozenset({0})
            for child in node.children():
                part = walk(child)
                if part is None or result is None:
                    result = None
                    break
                result = frozenset((x + y) & mask for x in result for y in part)
                if len(result) > cap:
                    result = None
                    break
        else:
            result = None
        if result is not None and len(result) > cap:
            result = None
        memo[ident] = result
        return result

    found = walk(term)
    return None if found is None else sorted(found)


def assume(term: Any, condition: Bool, value: bool) -> Any:
    """Return ``term`` with the sub-term ``condition`` replaced by ``value``, simplified.

    Equal to ``term`` wherever ``condition == value`` holds (a path that implies it).
    """
    replaced = z3.substitute(term, (condition, true() if value else false()))
    return term if replaced.eq(term) else z3.simplify(replaced)


def null_condition(term: BV) -> Bool | None:
    """Return ``c`` when ``term`` is ``If(c, 0, x)`` (a "pointer or NULL"), else ``None``."""
    if z3.is_app_of(term, z3.Z3_OP_ITE) and value_of(term.children()[1]) == 0:
        return term.children()[0]
    return None


def initialised_array(default: bool) -> Array:
    """Return a constant boolean array."""
    return z3.K(z3.BitVecSort(64, _current.ctx), true() if default else false())


# -- instruction semantics ----------------------------------------------------------------


def immediate(imm: int, is64: bool) -> BV:
    """Return the 64-bit operand of an immediate: sign-extended (64) or as u32 (32-bit)."""
    return const(imm & (MASK64 if is64 else 0xFFFFFFFF))


def _division(op: AluOp, a: BV, b: BV, bits: int) -> BV:
    zero = const(0, bits)
    if op is AluOp.DIV:
        return z3.If(b == zero, zero, z3.UDiv(a, b))
    if op is AluOp.MOD:
        return z3.If(b == zero, a, z3.URem(a, b))
    minimum = const(1 << (bits - 1), bits)
    minus_one = const(-1, bits)
    overflow = z3.And(a == minimum, b == minus_one)
    if op is AluOp.SDIV:
        return z3.If(b == zero, zero, z3.If(overflow, minimum, a / b))
    return z3.If(b == zero, a, z3.If(overflow, zero, z3.SRem(a, b)))


def _binary(op: AluOp, a: BV, b: BV, bits: int) -> BV:
    shift = b & const(bits - 1, bits)
    table: dict[AluOp, Callable[[], BV]] = {
        AluOp.ADD: lambda: a + b,
        AluOp.SUB: lambda: a - b,
        AluOp.MUL: lambda: a * b,
        AluOp.OR: lambda: a | b,
        AluOp.AND: lambda: a & b,
        AluOp.XOR: lambda: a ^ b,
        AluOp.LSH: lambda: a << shift,
        AluOp.RSH: lambda: z3.LShR(a, shift),
        AluOp.ARSH: lambda: a >> shift,
        AluOp.MOV: lambda: b,
    }
    if op in table:
        return table[op]()
    return _division(op, a, b, bits)


_SIGN_EXTENDED_ALU32: Final = frozenset({AluOp.ADD, AluOp.SUB, AluOp.MUL})


@guarded
def alu(op: AluOp, dst: BV, src: BV, *, is64: bool, profile: Profile) -> BV:
    """Return the new ``dst`` of ``dst = dst <op> src`` (64-bit operands, 64-bit result).

    Division faults are not modelled here (see :func:`division_faults`); the value is the
    RFC 9669 result, which only matters on paths where the profile does not fault.
    """
    if is64:
        return _fold(_binary(op, dst, src, 64), dst, src)
    a, b = z3.Extract(31, 0, dst), z3.Extract(31, 0, src)
    low = _binary(op, a, b, 32)
    if profile.sign_extend_alu32_arith and op in _SIGN_EXTENDED_ALU32:
        return _fold(z3.SignExt(32, low), dst, src)
    return _fold(z3.ZeroExt(32, low), dst, src)


@guarded
def division_faults(op: AluOp, dst: BV, src: BV, *, is64: bool) -> tuple[Bool, Bool]:
    """Return (divisor is zero, signed ``MIN / -1``) for a division in a faulting profile."""
    bits = 64 if is64 else 32
    a = dst if is64 else z3.Extract(31, 0, dst)
    b = src if is64 else z3.Extract(31, 0, src)
    zero = _fold(b == const(0, bits), dst, src)
    if op not in (AluOp.SDIV, AluOp.SMOD):
        return zero, false()
    overflow = z3.And(a == const(1 << (bits - 1), bits), b == const(-1, bits))
    return zero, _fold(overflow, dst, src)


@guarded
def neg(dst: BV, *, is64: bool) -> BV:
    """Return ``-dst`` on 64 bits, or on 32 bits zero-extended."""
    if is64:
        return _fold(-dst, dst)
    return _fold(z3.ZeroExt(32, -z3.Extract(31, 0, dst)), dst)


@guarded
def movsx(src: BV, *, bits: int, is64: bool) -> BV:
    """Return the low ``bits`` of ``src`` sign-extended to 64, or to 32 then zero-extended."""
    low = z3.Extract(bits - 1, 0, src)
    if is64:
        return _fold(z3.SignExt(64 - bits, low), src)
    return _fold(z3.ZeroExt(32, z3.SignExt(32 - bits, low)), src)


@guarded
def endian(op: EndianOp, dst: BV, *, width: int) -> BV:
    """Return ``le``/``be``/``bswap`` of the low ``width`` bits of ``dst``, zero-extended."""
    low = z3.Extract(width - 1, 0, dst)
    if op is not EndianOp.LE:
        parts = [z3.Extract(8 * i + 7, 8 * i, low) for i in range(width // 8)]
        low = parts[0] if len(parts) == 1 else z3.Concat(*parts)
    return _fold(z3.ZeroExt(64 - width, low) if width < 64 else low, dst)


@guarded
def condition(cond: JmpCond, dst: BV, src: BV, *, is64: bool) -> Bool:
    """Return whether ``dst <cond> src`` holds (JMP32 compares the low halves)."""
    a = dst if is64 else z3.Extract(31, 0, dst)
    b = src if is64 else z3.Extract(31, 0, src)
    table: dict[JmpCond, Callable[[], Bool]] = {
        JmpCond.EQ: lambda: a == b,
        JmpCond.NE: lambda: a != b,
        JmpCond.GT: lambda: z3.UGT(a, b),
        JmpCond.GE: lambda: z3.UGE(a, b),
        JmpCond.LT: lambda: z3.ULT(a, b),
        JmpCond.LE: lambda: z3.ULE(a, b),
        JmpCond.SET: lambda: (a & b) != 0,
        JmpCond.SGT: lambda: a > b,
        JmpCond.SGE: lambda: a >= b,
        JmpCond.SLT: lambda: a < b,
        JmpCond.SLE: lambda: a <= b,
    }
    return _fold(table[cond](), dst, src)


@guarded
def atomic_value(op: AtomicOp, old: BV, operand: BV, *, size: int) -> BV:
    """Return the value (``size`` bytes, zero-extended to 64) an atomic op stores."""
    bits = 8 * size
    a, b = z3.Extract(bits - 1, 0, old), z3.Extract(bits - 1, 0, operand)
    table: dict[AtomicOp, Callable[[], BV]] = {
        AtomicOp.ADD: lambda: a + b, AtomicOp.OR: lambda: a | b,
        AtomicOp.AND: lambda: a & b, AtomicOp.XOR: lambda: a ^ b,
        AtomicOp.XCHG: lambda: b,
    }
    return _fold(zero_extend(table[op](), 64), old, operand)


# -- solving ------------------------------------------------------------------------------


class SatResult(Enum):
    """A solver answer; ``UNKNOWN`` is never read as either of the others."""

    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SolverConfig:
    """Deterministic limits: ``rlimit`` resource units per query, ``timeout_ms`` fallback."""

    rlimit: int = 20_000_000
    timeout_ms: int = 30_000
    seed: int = 0


class Model:
    """A satisfying assignment; :meth:`value` evaluates any bit-vector term under it."""

    def __init__(self, model: Any) -> None:
        self._model = model

    @guarded
    def value(self, term: BV) -> int:
        """Return the unsigned value of ``term`` (unconstrained parts default to 0)."""
        result = self._model.eval(term, model_completion=True)
        number: int = result.as_long()
        return number

    @guarded
    def truth(self, term: Bool) -> bool:
        """Return the value of a boolean term."""
        return bool(z3.is_true(self._model.eval(term, model_completion=True)))


class Session:
    """The one owner of solver queries, with fixed seeds and a resource budget.

    Every query runs on a fresh solver so that answers do not depend on query order.
    """

    def __init__(self, config: SolverConfig | None = None) -> None:
        self.config = config or SolverConfig()
        #: ``time.monotonic()`` after which a query raises :class:`TimeLimitReached` (and
        #: before which each query's timeout is cut to the time left); ``None``: no limit.
        self.deadline: float | None = None
        self.queries = 0
        self.unknown_reasons: list[str] = []
        self._symbols: dict[int, tuple[Any, frozenset[int]]] = {}

    def symbols_of(self, term: Any) -> frozenset[int]:
        """Return the ids of the free bit-vector and boolean constants of ``term``.

        Array constants are left out on purpose: every memory read mentions the same
        arrays, so they would tie every condition to every other. Leaving them out only
        makes :meth:`sliced` drop more, which can cost precision, never soundness.
        """
        ident = term.get_id()
        cached = self._symbols.get(ident)
        if cached is not None:
            return cached[1]
        # Post-order walk that expands every node once: terms share sub-terms heavily
        # (merged states), and a walk per path would be exponential.
        stack: list[tuple[Any, bool]] = [(term, False)]
        expanding: set[int] = set()
        while stack:
            node, ready = stack.pop()
            nid = node.get_id()
            if nid in self._symbols:
                continue
            opaque = z3.is_quantifier(node) or (hasattr(z3, "is_lambda") and z3.is_lambda(node))
            if ready:
                if z3.is_const(node) and node.decl().kind() == z3.Z3_OP_UNINTERPRETED \
                        and not z3.is_array(node):
                    found: frozenset[int] = frozenset({nid})
                elif opaque:
                    found = frozenset()
                else:
                    found = frozenset().union(*(self._symbols[c.get_id()][1]
                                                for c in node.children()))
                self._symbols[nid] = (node, found)
                continue
            if nid in expanding:
                continue
            expanding.add(nid)
            stack.append((node, True))
            if not opaque:
                stack.extend((c, False) for c in node.children()
                             if c.get_id() not in self._symbols)
        return self._symbols[ident][1]

    def sliced(self, conditions: Sequence[Bool]) -> Bool:
        """Return the conjuncts of ``conditions`` connected to the last one by a constant.

        A slice is implied by the whole conjunction, so "the slice is unsatisfiable" proves
        "the whole is unsatisfiable"; a satisfiable slice says nothing.
        """
        parts: list[Any] = []
        for condition in conditions:
            parts.extend(_conjuncts(condition))
        goal = _conjuncts(conditions[-1]) if conditions else []
        keep = {p.get_id() for p in goal}
        wanted: set[int] = set()
        for p in goal:
            wanted |= self.symbols_of(p)
        changed = True
        while changed:
            changed = False
            for p in parts:
                if p.get_id() in keep:
                    continue
                found = self.symbols_of(p)
                if found & wanted:
                    keep.add(p.get_id())
                    wanted |= found
                    changed = True
        return and_(*(p for p in parts if p.get_id() in keep))

    def _make_solver(self) -> Any:
        timeout = self.config.timeout_ms
        if self.deadline is not None:
            left = int((self.deadline - time.monotonic()) * 1000)
            if left <= 0:
                raise TimeLimitReached()
            timeout = min(timeout, left)
        solver = z3.Solver(ctx=_current.ctx)
        solver.set("random_seed", self.config.seed)
        solver.set("rlimit", self.config.rlimit)
        solver.set("timeout", timeout)
        return solver

    @guarded
    def check(self, *conditions: Bool) -> SatResult:
        """Return whether the conjunction of ``conditions`` is satisfiable.

        The slice of the conditions around the last one is tried first (see
        :meth:`sliced`); only when it is satisfiable is the whole conjunction asked.
        """
        if len(conditions) > 1 and truth_of(and_(*conditions)) is None:
            part = self.sliced(conditions)
            if not part.eq(and_(*conditions)):
                first, _ = self._solve_one(part)
                if first is SatResult.UNSAT:
                    return first
        result, _ = self._solve_one(and_(*conditions))
        return result

    @guarded
    def solve(self, *conditions: Bool) -> tuple[SatResult, Model | None]:
        """Return the answer and, when satisfiable, a model (a slice is tried first)."""
        if len(conditions) > 1 and truth_of(and_(*conditions)) is None:
            part = self.sliced(conditions)
            if not part.eq(and_(*conditions)):
                first, _ = self._solve_one(part)
                if first is SatResult.UNSAT:
                    return first, None
        return self._solve_one(and_(*conditions))

    def _solve_one(self, folded: Bool) -> tuple[SatResult, Model | None]:
        known = truth_of(folded)
        if known is False:
            return SatResult.UNSAT, None
        self.queries += 1
        solver = self._make_solver()
        solver.add(folded)
        answer = solver.check()
        if answer == z3.sat:
            return SatResult.SAT, Model(solver.model())
        if answer == z3.unsat:
            return SatResult.UNSAT, None
        self.unknown_reasons.append(str(solver.reason_unknown()))
        return SatResult.UNKNOWN, None

    @guarded
    def maximum(self, term: BV, *conditions: Bool, limit: int) -> int | None:
        """Return the largest unsigned value of ``term`` under ``conditions`` if <= ``limit``.

        Returns ``None`` when the maximum exceeds ``limit`` or the solver cannot tell.
        """
        known = value_of(term)
        if known is not None:
            return known if known <= limit else None
        width = width_of(term)
        candidates = leaves(term)
        if candidates is not None and len(candidates) <= 8:
            # The values of ``term`` lie among its leaves: the first feasible one, from the
            # top, is the maximum.
            for value in reversed(candidates):
                answer = self.check(*conditions, const(value, width) == term)
                if answer is SatResult.UNKNOWN:
                    return None
                if answer is SatResult.SAT:
                    return value if value <= limit else None
            return None
        above = z3.UGT(term, const(limit, width))
        if self.check(*conditions, above) is not SatResult.UNSAT:
            return None
        low, high = 0, limit
        while low < high:
            middle = (low + high + 1) // 2
            answer = self.check(*conditions, z3.UGE(term, const(middle, width)))
            if answer is SatResult.UNKNOWN:
                return None
            if answer is SatResult.SAT:
                low = middle
            else:
                high = middle - 1
        return low
