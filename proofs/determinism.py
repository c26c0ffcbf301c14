"""
Scheduler determinism
=====================

What the explorer checks by enumeration: within a slot the environment's writes to domain
fields (:class:`~arspec.spec.scheduler.DomainWrite`, at most one per field per slot) may
arrive in any order, and the state the slot's enqueue step then observes must not depend on
that order. Stated as a product system: two copies ``x`` and ``y`` of everything a write
touches (an account's bytes, the account's writer depth, the set of fields written this
slot), which receive the same writes in possibly different orders. Transition ``same``
applies one write to both copies; ``swap`` applies two writes to distinct fields, in one
order to ``x`` and in the other to ``y``; ``next_slot`` ends the slot for both (the written
set and writer depths are cleared). The invariant is ``x == y``. Any two orders of a
multiset of writes are linked by swaps of neighbours, so the claim means: the state after a
slot's writes depends only on their multiset. The account size is symbolic up to Solana's
10 MiB; fields are any unsigned type at any offset inside it (the bundle schema forbids
overlapping fields, so two distinct fields never overlap). One account stands for all:
writes to distinct accounts touch distinct bytes and distinct writer-depth entries.
"""

from __future__ import annotations

from typing import Final

from arspec.spec import bundle as schema
from arspec.spec import scheduler as S
from arspec.spec.accounts import AccountsState, create_account
from arspec.spec.presets import MINIMAL
from arspec.spec.state import Phase, RuntimeState
from arspec.spec.timers import AsyncSequence
from arspec.spec.types import AccountName, ComputeUnits, Slot

from . import logic as L
from .core import Claim, Field, System, Transition, Twin, Values, Vars, bools, ints
from .logic import Term
from .mutation import Mutation

ACCOUNT: Final = AccountName("acc")
WIDTHS: Final = {1: schema.FieldType.U8, 2: schema.FieldType.U16, 4: schema.FieldType.U32,
                 8: schema.FieldType.U64}
COPIES: Final = ("x", "y")
STATE: Final = tuple(f for c in COPIES for f in (
    Field(f"{c}_data", "int_array"), Field(f"{c}_written", "bool_array"),
    *bools(f"{c}_present"), *ints(f"{c}_depth")))
WRITE: Final = ints("offset", "width", "value")
#: Account bytes a counterexample shows.
SHOWN: Final = 16


def limits(k: Vars) -> Term:
    """Return: an account size Solana allows."""
    return L.and_(k["size"] >= 1, k["size"] <= schema.MAX_ACCOUNT_SIZE)


def initial(k: Vars, s: Vars) -> Term:
    """Return: equal copies at the start of a slot (any account bytes)."""
    return L.and_(s["x_data"] == s["y_data"], s["x_written"] == L.bool_array_of({}),
                  s["y_written"] == L.bool_array_of({}), L.not_(s["x_present"]),
                  L.not_(s["y_present"]), s["x_depth"] == 0, s["y_depth"] == 0)


def invariant(k: Vars, s: Vars) -> Term:
    """Return: the two copies are equal."""
    return L.and_(s["x_data"] == s["y_data"], s["x_written"] == s["y_written"],
                  s["x_present"] == s["y_present"], s["x_depth"] == s["y_depth"])


def valid(k: Vars, w: tuple[Term, Term, Term], written: Term) -> Term:
    """Return: an unsigned field write inside the account, to a field not yet written."""
    offset, width, value = w
    return L.and_(L.or_(*(width == n for n in WIDTHS)), offset >= 0,
                  offset + width <= k["size"], value >= 0,
                  value < L.ite(width == 1, 1 << 8, L.ite(width == 2, 1 << 16,
                                                          L.ite(width == 4, 1 << 32, 1 << 64))),
                  L.not_(L.select(written, offset)))


def write_bytes(data: Term, w: tuple[Term, Term, Term], *, wide: bool = False) -> Term:
    """Return ``data`` after the little-endian write ``w`` (``wide``: always 8 bytes)."""
    offset, width, value = w
    stores = {}
    for n in WIDTHS:
        out = data
        for i in range(8 if wide else n):
            out = L.store(out, offset + i, (value / (1 << (8 * i))) % 256)
        stores[n] = out
    return L.ite(width == 1, stores[1], L.ite(width == 2, stores[2],
                                              L.ite(width == 4, stores[4], stores[8])))


def apply(state: tuple[Term, Term], w: tuple[Term, Term, Term], *,
          wide: bool = False) -> tuple[Term, Term]:
    """Return (data, written) after ``process_domain_write`` of ``w``."""
    data, written = state
    return write_bytes(data, w, wide=wide), L.store(written, w[0], True)


def _post(c: str, post: Vars, state: tuple[Term, Term]) -> Term:
    return L.and_(post[f"{c}_data"] == state[0], post[f"{c}_written"] == state[1],
                  post[f"{c}_present"], post[f"{c}_depth"] == 0)


def _write(p: Vars, suffix: str = "") -> tuple[Term, Term, Term]:
    return p[f"offset{suffix}"], p[f"width{suffix}"], p[f"value{suffix}"]


def same(k: Vars, pre: Vars, p: Vars, post: Vars, *, wide: bool = False) -> Term:
    """Return one write applied to both copies."""
    w = _write(p)
    return L.and_(valid(k, w, pre["x_written"]), valid(k, w, pre["y_written"]),
                  *(_post(c, post, apply((pre[f"{c}_data"], pre[f"{c}_written"]), w,
                                         wide=wide)) for c in COPIES))


def swap(k: Vars, pre: Vars, p: Vars, post: Vars, *, wide: bool = False) -> Term:
    """Return two writes to distinct fields, in opposite orders in the two copies."""
    w1, w2 = _write(p, "1"), _write(p, "2")
    x = apply(apply((pre["x_data"], pre["x_written"]), w1, wide=wide), w2, wide=wide)
    y = apply(apply((pre["y_data"], pre["y_written"]), w2, wide=wide), w1, wide=wide)
    disjoint = L.or_(w1[0] + w1[1] <= w2[0], w2[0] + w2[1] <= w1[0])
    return L.and_(*(valid(k, w, pre[f"{c}_written"]) for w in (w1, w2) for c in COPIES),
                  disjoint, _post("x", post, x), _post("y", post, y))


def next_slot(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return the end of the slot: the written set and writer depths are cleared."""
    return L.and_(*(L.and_(post[f"{c}_data"] == pre[f"{c}_data"],
                           post[f"{c}_written"] == L.bool_array_of({}),
                           L.not_(post[f"{c}_present"]), post[f"{c}_depth"] == 0)
                    for c in COPIES))


TRANSITIONS: Final = (
    Transition("same", "one environment write to a domain field, in both copies",
               "spec.scheduler.process_domain_write", WRITE, same),
    Transition("swap", "two writes to distinct fields, in opposite orders",
               "spec.scheduler.process_domain_write",
               (*ints("offset1", "width1", "value1"), *ints("offset2", "width2", "value2")),
               swap),
    Transition("next_slot", "the slot's observation and end",
               "spec.scheduler.process_enqueue_watchers / process_end_slot", (), next_slot),
)


def equal(k: Vars, s: Vars) -> Term:
    """Return: both orders give the same state."""
    return invariant(k, s)


CLAIMS: Final = (
    Claim("scheduler.determinism", "the state after a slot's environment writes depends only "
          "on the multiset of those writes, not on their arrival order", state=equal),
)

TWINS: Final = (
    Twin("scheduler.wide_write", "an environment write stores a whole 8-byte word, "
         "clobbering the bytes after a narrower field", "scheduler.determinism", "swap",
         lambda k, pre, p, post: swap(k, pre, p, post, wide=True),
         Mutation("arspec.spec.scheduler", "process_environment_write",
                  (("target.data[offset : offset + len(data)] = data",
                    "target.data[offset : offset + 8] = data + bytes(8 - len(data))"),))),
)


def _int(values: Values, name: str) -> int:
    value = values[name]
    assert isinstance(value, int)
    return value


def _key(offset: int) -> str:
    return f"{ACCOUNT}.f{offset}"


def _copy(consts: Values, pre: Values, c: str) -> RuntimeState:
    size = _int(consts, "size")
    data = pre[f"{c}_data"]
    written = pre[f"{c}_written"]
    assert isinstance(data, dict) and isinstance(written, dict)
    account = create_account(ACCOUNT, size)
    for i in range(size):
        account.data[i] = int(data.get(i, 0))
    state = RuntimeState(slot=Slot(0), phase=Phase.WRITES, maps={},
                         accounts=AccountsState({ACCOUNT: account}), sequence=AsyncSequence(),
                         preset=MINIMAL)
    state.domains_written = {_key(i) for i, v in written.items() if v}
    if pre[f"{c}_present"]:
        state.writer_depth[ACCOUNT] = _int(pre, f"{c}_depth")
    return state


def _config(writes: list[tuple[int, int, int]]) -> S.RuntimeConfig:
    return S.RuntimeConfig(
        startup=(), every=(), watchers={}, subscribers={}, budgets={},
        slot_budget=ComputeUnits(1), writes={},
        domains={_key(o): schema.Domain(values=[v]) for o, _, v in writes},
        field_types={_key(o): (o, WIDTHS[n]) for o, n, _ in writes})


def _read(state: RuntimeState, c: str, size: int) -> Values:
    data = state.accounts.accounts[ACCOUNT].data
    shown = max(SHOWN, len(data))
    return {f"{c}_data": {i: data[i] if i < len(data) else 0 for i in range(shown)},
            f"{c}_written": {int(k.rsplit(".f", 1)[1]): True for k in state.domains_written},
            f"{c}_present": ACCOUNT in state.writer_depth,
            f"{c}_depth": state.writer_depth.get(ACCOUNT, 0)}


def execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run the spec's domain writes on both copies (in the orders the transition says)."""
    size = _int(consts, "size")
    x, y = _copy(consts, pre, "x"), _copy(consts, pre, "y")
    if name == "next_slot":
        for state in (x, y):
            state.domains_written = set()
            state.writer_depth.clear()
        orders: tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]] = ([], [])
    elif name == "same":
        w = (_int(params, "offset"), _int(params, "width"), _int(params, "value"))
        orders = ([w], [w])
    else:
        w1 = (_int(params, "offset1"), _int(params, "width1"), _int(params, "value1"))
        w2 = (_int(params, "offset2"), _int(params, "width2"), _int(params, "value2"))
        orders = ([w1, w2], [w2, w1])
    for state, order in zip((x, y), orders, strict=True):
        config = _config(order)
        for offset, _, value in order:
            S.process_domain_write(state, config, S.DomainWrite(ACCOUNT, f"f{offset}", value))
    return {**_read(x, "x", size), **_read(y, "y", size)}


def span(s: Vars) -> tuple[Term, Term]:
    """Return the account bytes a counterexample shows (from 0; capped by the engine)."""
    return L.num(0), L.num(SHOWN)


def small(k: Vars, s: Vars) -> Term:
    """Return a hint for readable counterexamples: a 16-byte account holding bytes."""
    return L.and_(k["size"] == SHOWN, *(L.and_(L.select(s[f"{c}_data"], i) >= 0,
                                               L.select(s[f"{c}_data"], i) <= 255)
                                        for c in COPIES for i in range(SHOWN)))


def view(values: Values) -> Values:
    """Return a state with the written set's true entries only (false is the default)."""
    out = dict(values)
    for c in COPIES:
        written = values[f"{c}_written"]
        assert isinstance(written, dict)
        out[f"{c}_written"] = {i: True for i, v in written.items() if v}
    return out


SYSTEM: Final = System(
    name="determinism", title="Scheduler determinism", summary=__doc__ or "",
    consts=ints("size"), limits=limits, state=STATE, initial=initial, invariant=invariant,
    transitions=TRANSITIONS, claims=CLAIMS, twins=TWINS, execute=execute, span=span,
    small=small, view=view)
