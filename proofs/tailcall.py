"""
Tail calls
==========

:mod:`arspec.spec.tailcall` as a z3 system. The limit ``limit`` (a preset's
``max_tail_call_cnt``, at most Linux's ``MAX_TAIL_CALL_CNT`` 33) and the program array's
``max_entries`` are symbolic over their whole range; the array's slots are an arbitrary
integer array (0 for an empty slot, else a program id) that ``update`` and ``delete`` change
at any time between calls, so the claim holds whatever the arrays hold and however they
change. ``count`` is the chain's :class:`~arspec.spec.tailcall.TailCallChain` counter; the
ghost ``jumps`` counts the tail calls of the chain that jumped. ``new_chain`` starts the
next invocation (:func:`~arspec.spec.tailcall.create_tail_call_chain`).
"""

from __future__ import annotations

from typing import Final

from arspec.spec import tailcall as TC
from arspec.spec.presets import PRESETS
from arspec.spec.types import U32_MASK, ProgId

from . import logic as L
from .core import Claim, Field, System, Transition, Twin, Values, Vars, ints
from .logic import Term
from .mutation import Mutation

#: Linux's ``MAX_TAIL_CALL_CNT``: no preset may allow more.
MAX_TAIL_CALL_CNT: Final = 33
MAX_ENTRIES: Final = max(p.max_map_entries for p in PRESETS.values())
STATE: Final = (*ints("count", "jumps"), Field("slots", "int_array"))


def limits(k: Vars) -> Term:
    """Return: a limit up to 33 and a program array size a preset allows."""
    return L.and_(k["limit"] >= 0, k["limit"] <= MAX_TAIL_CALL_CNT, k["entries"] >= 1,
                  k["entries"] <= MAX_ENTRIES)


def initial(k: Vars, s: Vars) -> Term:
    """Return: a new chain (any program array contents)."""
    return L.and_(s["count"] == 0, s["jumps"] == 0)


def invariant(k: Vars, s: Vars) -> Term:
    """Return: ``0 <= jumps <= count <= limit``."""
    return L.and_(s["jumps"] >= 0, s["jumps"] <= s["count"], s["count"] <= k["limit"])


def tail_call(k: Vars, pre: Vars, p: Vars, post: Vars, *, increment: bool = True) -> Term:
    """Return ``process_tail_call`` with register value ``p.index``."""
    index = p["index"] % (U32_MASK + 1)
    in_range = index < k["entries"]
    go = L.and_(in_range, pre["count"] < k["limit"])
    target = L.select(pre["slots"], index)
    jumped = L.and_(go, target != 0)
    count = pre["count"] + (L.ite(go, 1, 0) if increment else 0)
    return L.and_(p["index"] >= 0, p["index"] < 1 << 64, post["count"] == count,
                  post["jumps"] == pre["jumps"] + L.ite(jumped, 1, 0),
                  post["slots"] == pre["slots"])


def update(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return ``process_prog_array_update`` (``p.prog > 0``) or ``_delete`` (``p.prog == 0``)."""
    return L.and_(p["index"] >= 0, p["index"] < k["entries"], p["prog"] >= 0,
                  post["slots"] == L.store(pre["slots"], p["index"], p["prog"]),
                  post["count"] == pre["count"], post["jumps"] == pre["jumps"])


def new_chain(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return the start of the next invocation's chain."""
    return L.and_(post["count"] == 0, post["jumps"] == 0, post["slots"] == pre["slots"])


TRANSITIONS: Final = (
    Transition("tail_call", "bpf_tail_call(ctx, prog_array, index)",
               "spec.tailcall.process_tail_call", ints("index"), tail_call),
    Transition("update", "the loader puts a program into a slot or empties it",
               "spec.tailcall.process_prog_array_update / process_prog_array_delete",
               ints("index", "prog"), update),
    Transition("new_chain", "a new invocation starts a chain",
               "spec.tailcall.create_tail_call_chain", (), new_chain),
)


def bounded(k: Vars, s: Vars) -> Term:
    """Return: the chain has jumped at most ``limit <= 33`` times."""
    return L.and_(s["jumps"] <= k["limit"], s["jumps"] <= MAX_TAIL_CALL_CNT)


CLAIMS: Final = (
    Claim("tailcall.limit", "no chain makes more tail calls than the preset's limit, and so "
          "never more than 33, whatever the program arrays hold or how they change",
          state=bounded),
)

TWINS: Final = (
    Twin("tailcall.no_increment", "the tail-call counter is not incremented",
         "tailcall.limit", "tail_call",
         lambda k, pre, p, post: tail_call(k, pre, p, post, increment=False),
         Mutation("arspec.spec.tailcall", "process_tail_call",
                  (("chain.count += 1", "pass"),))),
)


def _int(values: Values, name: str) -> int:
    value = values[name]
    assert isinstance(value, int)
    return value


def execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run the spec's transition ``name``; the ghost counts the chain's jumps."""
    entries = _int(consts, "entries")
    slots = pre["slots"]
    assert isinstance(slots, dict)
    array = TC.ProgArray([ProgId(f"p{slots.get(i, 0)}") if slots.get(i, 0) else None
                          for i in range(entries)])
    chain = TC.TailCallChain(count=_int(pre, "count"), limit=_int(consts, "limit"))
    jumps = _int(pre, "jumps")
    if name == "tail_call":
        outcome = TC.process_tail_call(chain, array, _int(params, "index"))
        jumps += outcome.result is TC.TailCallResult.JUMPED
    elif name == "update":
        if _int(params, "prog"):
            TC.process_prog_array_update(array, _int(params, "index"),
                                         ProgId(f"p{_int(params, 'prog')}"))
        else:
            TC.process_prog_array_delete(array, _int(params, "index"))
    else:
        limit = chain.limit
        chain = TC.TailCallChain(count=0, limit=limit)
        jumps = 0
    return {"count": chain.count, "jumps": jumps,
            "slots": {i: 0 if p is None else int(p[1:]) for i, p in enumerate(array.slots)}}


def view(values: Values) -> Values:
    """Return a state with only the non-empty slots listed (empty is the default)."""
    slots = values["slots"]
    assert isinstance(slots, dict)
    return {**values, "slots": {i: v for i, v in slots.items() if v}}


def span(s: Vars) -> tuple[Term, Term]:
    """Return the slots a counterexample shows (from 0; capped by the engine)."""
    return L.num(0), L.num(8)


def small(k: Vars, s: Vars) -> Term:
    """Return a hint for readable counterexamples: a small array."""
    return k["entries"] <= 8


SYSTEM: Final = System(
    name="tailcall", title="Tail calls", summary=__doc__ or "", consts=ints("limit", "entries"),
    limits=limits, state=STATE, initial=initial, invariant=invariant, transitions=TRANSITIONS,
    claims=CLAIMS, twins=TWINS, execute=execute, span=span, small=small,
    view=view)
