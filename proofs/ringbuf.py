"""
Ring buffer
===========

:mod:`arspec.spec.ringbuf` as a z3 system. The ring's size ``S`` is symbolic: every power of
two a preset allows (``ringbuf_min_size`` .. ``ringbuf_max_size``, a multiple of the page).
The state is the three byte positions and the records between the consumer and the
producer, numbered in reservation order: record ``i`` starts at ``start[i]``, carries
``plen[i]`` payload bytes and its header's BUSY and DISCARD bits (``busy[i]``,
``disc[i]``); ``h`` is the oldest unconsumed record, ``t`` the next to be reserved and
``pi`` the record at ``pending_pos``. The headers the spec walks in its byte array are these
records: :func:`arspec.proofs.ringbuf.execute` builds the bytes from them and reads them
back.

Transitions: ``reserve`` (:func:`~arspec.spec.ringbuf.process_ringbuf_reserve`, including
the early refusals and the pending walk), ``commit`` (submit or discard,
:func:`~arspec.spec.ringbuf.process_ringbuf_commit`, of a reserved record) and ``consume``
(:func:`~arspec.spec.ringbuf.process_ringbuf_consume`). The pending and consume walks are
stated as relations: the walk ends at the first BUSY record or at the producer, and every
record it passes is committed.

Why the byte-level claim follows: all outstanding bytes lie in ``[consumer, producer)``,
which ``ringbuf.positions`` bounds by ``S - 8 < S``; two distinct positions less than ``S``
apart never share a data offset (``pos mod S``), so no two outstanding records share a byte.
"""

from __future__ import annotations

from typing import Final

from arspec.spec import ringbuf as R
from arspec.spec.presets import PRESETS
from arspec.spec.types import RingPos

from . import logic as L
from .core import (
    Claim,
    Field,
    System,
    Transition,
    Twin,
    Values,
    Vars,
    bools,
    get_flags,
    get_int,
    get_ints,
    ints,
)
from .logic import Term
from .mutation import Mutation

#: Every ring size some preset accepts.
SIZES: Final = tuple(sorted({1 << k for p in PRESETS.values() for k in range(64)
                             if p.ringbuf_min_size <= 1 << k <= p.ringbuf_max_size
                             and (1 << k) % p.ringbuf_page_size == 0}))
HDR: Final = R.BPF_RINGBUF_HDR_SZ
MAX_RECORD: Final = R.RINGBUF_MAX_RECORD_SZ

STATE: Final = (*ints("c", "pend", "prod", "h", "pi", "t"),
                 Field("start", "int_array"), Field("plen", "int_array"),
                 Field("busy", "bool_array"), Field("disc", "bool_array"))


def record_size(n: Term) -> Term:
    """Return ``compute_record_size``: ``round_up(n + 8, 8)`` for ``n >= 0``."""
    return ((n + HDR + 7) / 8) * 8


def limits(k: Vars) -> Term:
    """Return: the size is one a preset accepts."""
    return L.or_(*(k["S"] == size for size in SIZES))


def initial(k: Vars, s: Vars) -> Term:
    """Return: a new ring (every position 0, no record)."""
    return L.and_(s["c"] == 0, s["pend"] == 0, s["prod"] == 0, s["h"] == 0, s["pi"] == 0,
                  s["t"] == 0, L.select(s["start"], 0) == 0)


def _start(s: Vars, i: Term) -> Term:
    return L.select(s["start"], i)


def invariant(k: Vars, s: Vars) -> Term:
    """Return the inductive invariant of a ring (see the docs page for it in words)."""
    h, pi, t, start = s["h"], s["pi"], s["t"], s["start"]
    return L.and_(
        h >= 0, h <= pi, pi <= t,
        _start(s, h) == s["c"], _start(s, pi) == s["pend"], _start(s, t) == s["prod"],
        s["c"] >= 0, s["c"] % 8 == 0, s["pend"] % 8 == 0, s["prod"] % 8 == 0,
        s["c"] <= s["pend"], s["pend"] <= s["prod"],
        s["prod"] - s["c"] <= k["S"] - HDR,
        L.forall(lambda i: L.implies(L.and_(h <= i, i < t), L.and_(
            L.select(s["plen"], i) >= 0, L.select(s["plen"], i) <= MAX_RECORD,
            L.select(start, i + 1) == L.select(start, i) + record_size(L.select(s["plen"], i))))),
        L.forall(lambda i: L.implies(L.and_(h <= i, i <= t), L.select(start, i) % 8 == 0)),
        L.forall2(lambda i, j: L.implies(L.and_(h <= i, i <= j, j <= t),
                                         L.select(start, i) <= L.select(start, j))),
        L.forall(lambda i: L.implies(L.and_(h <= i, i < pi), L.not_(L.select(s["busy"], i)))),
        L.implies(pi < t, L.select(s["busy"], pi)),
    )


def walk(busy: Term, frm: Term, to: Term, t: Term) -> Term:
    """Return: ``to`` is where a walk from ``frm`` stops (first BUSY record, or ``t``)."""
    return L.and_(frm <= to, to <= t,
                  L.forall(lambda i: L.implies(L.and_(frm <= i, i < to),
                                               L.not_(L.select(busy, i)))),
                  L.or_(to == t, L.select(busy, to)))


def _same(pre: Vars, post: Vars, *names: str) -> Term:
    return L.and_(*(pre[n] == post[n] for n in names))


def reserve(k: Vars, pre: Vars, p: Vars, post: Vars, *, consumer_check: bool = True,
            slack: int = 1) -> Term:
    """Return ``process_ringbuf_reserve`` of ``p.n`` payload bytes with ``p.flags``."""
    n, size = p["n"], k["S"]
    early = L.or_(p["flags"] != 0, n > MAX_RECORD, record_size(n) > size)
    new_prod = pre["prod"] + record_size(n)
    fits = new_prod - _start(post, post["pi"]) <= size - 1
    if consumer_check:
        fits = L.and_(new_prod - pre["c"] <= size - slack, fits)
    ok = L.and_(L.not_(early), fits)
    t = pre["t"]
    return L.and_(
        n >= 0, p["flags"] >= 0,
        L.implies(early, _same(pre, post, "pi", "pend")),
        L.implies(L.not_(early), L.and_(walk(pre["busy"], pre["pi"], post["pi"], t),
                                        post["pend"] == _start(pre, post["pi"]))),
        _same(pre, post, "c", "h"),
        L.implies(ok, L.and_(
            post["t"] == t + 1, post["prod"] == new_prod,
            post["start"] == L.store(pre["start"], t + 1, new_prod),
            post["plen"] == L.store(pre["plen"], t, n),
            post["busy"] == L.store(pre["busy"], t, True),
            post["disc"] == L.store(pre["disc"], t, False))),
        L.implies(L.not_(ok), _same(pre, post, "t", "prod", "start", "plen", "busy", "disc")),
    )


def commit(k: Vars, pre: Vars, p: Vars, post: Vars, *, repend: bool = True) -> Term:
    """Return ``process_ringbuf_commit`` of reserved record ``p.j`` (discard if ``p.discard``)."""
    j = p["j"]
    busy = L.store(pre["busy"], j, False)
    pending = (L.and_(walk(busy, pre["pi"], post["pi"], pre["t"]),
                      post["pend"] == _start(pre, post["pi"]))
               if repend else _same(pre, post, "pi", "pend"))
    return L.and_(
        pre["h"] <= j, j < pre["t"], L.select(pre["busy"], j),
        post["busy"] == busy, post["disc"] == L.store(pre["disc"], j, p["discard"]),
        pending, _same(pre, post, "c", "prod", "h", "t", "start", "plen"))


def consume(k: Vars, pre: Vars, p: Vars, post: Vars, *, blocking: bool = True) -> Term:
    """Return ``process_ringbuf_consume``: take committed records from the oldest on."""
    stop = (walk(pre["busy"], pre["h"], post["h"], pre["t"]) if blocking
            else post["h"] == pre["t"])
    return L.and_(stop, post["c"] == _start(pre, post["h"]),
                  _same(pre, post, "pend", "prod", "pi", "t", "start", "plen", "busy", "disc"))


TRANSITIONS: Final = (
    Transition("reserve", "reserve a record of n payload bytes (refused when flags != 0, too "
               "large or out of space)", "spec.ringbuf.process_ringbuf_reserve",
               ints("n", "flags"), reserve),
    Transition("commit", "submit or discard reserved record j",
               "spec.ringbuf.process_ringbuf_commit",
               (*ints("j"), *bools("discard")), commit),
    Transition("consume", "consume committed records from the oldest on",
               "spec.ringbuf.process_ringbuf_consume", (), consume),
)


def _unchanged_records(pre: Vars, post: Vars, lo: Term, hi: Term) -> Term:
    return L.forall(lambda i: L.implies(L.and_(lo <= i, i < hi), L.and_(
        L.select(post["start"], i) == L.select(pre["start"], i),
        L.select(post["plen"], i) == L.select(pre["plen"], i))))


def positions(k: Vars, s: Vars) -> Term:
    """Return ``consumer <= pending <= producer`` and ``producer - consumer <= S - 8``."""
    return L.and_(s["c"] <= s["pend"], s["pend"] <= s["prod"], s["prod"] - s["c"] <= k["S"] - HDR)


def disjoint_bytes(k: Vars, s: Vars) -> Term:
    """Return: two distinct outstanding byte positions never share a data offset."""
    return L.forall2(lambda p, q: L.implies(
        L.and_(s["c"] <= p, p < q, q < s["prod"]), p % k["S"] != q % k["S"]))


def no_overwrite(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: records still unconsumed keep their place and length; one lap holds them all."""
    return L.and_(_unchanged_records(pre, post, post["h"], pre["t"]),
                  post["prod"] - post["c"] <= k["S"])


def fifo(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: records are appended at the back and taken from the front, committed only."""
    return L.and_(
        pre["h"] <= post["h"], post["t"] >= pre["t"], post["t"] <= pre["t"] + 1,
        L.forall(lambda i: L.implies(L.and_(pre["h"] <= i, i < post["h"]),
                                     L.not_(L.select(pre["busy"], i)))),
        L.implies(post["h"] < pre["t"], L.select(post["start"], post["h"])
                  == L.select(pre["start"], post["h"])))


def exact_space(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: commit frees nothing, consume frees its records, a failed reserve is a no-op."""
    if name == "commit":
        return _same(pre, post, "c", "prod", "h", "t")
    if name == "consume":
        return L.and_(post["c"] == L.select(pre["start"], post["h"]), post["prod"] == pre["prod"])
    return L.implies(post["t"] == pre["t"], _same(pre, post, "c", "pend", "prod", "h", "pi", "t"))


CLAIMS: Final = (
    Claim("ringbuf.positions", "consumer <= pending <= producer and the outstanding bytes "
          "(producer - consumer) never exceed the size minus one header, for every ring size "
          "a preset allows", state=positions),
    Claim("ringbuf.disjoint_bytes", "two distinct outstanding byte positions (between the "
          "consumer and the producer) never map to the same byte of the data area, so "
          "records lie inside it and no two unconsumed records share a byte",
          state=disjoint_bytes),
    Claim("ringbuf.no_overwrite", "no step moves or shortens a record that is not yet "
          "consumed, and every outstanding record lies within one lap of the ring (so a "
          "reserve never overwrites unconsumed data)", step=no_overwrite),
    Claim("ringbuf.fifo", "records are appended at the back in reservation order and "
          "consumed from the front, each only once it is committed, so they reach the "
          "consumer in reservation order", step=fifo),
    Claim("ringbuf.exact_space", "a submit or discard frees no space by itself, a consume "
          "frees exactly the records it takes, and a failed reserve changes nothing",
          step=exact_space),
)

_CONSUMER_CHECK: Final = "    if new_prod - rb.consumer_pos > rb.size - 1:\n        return None\n"
TWINS: Final = (
    Twin("ringbuf.free_space_off_by_one",
         "reserve compares the free space with the size instead of size - 1",
         "ringbuf.positions", "reserve",
         lambda k, pre, p, post: reserve(k, pre, p, post, slack=0),
         Mutation("arspec.spec.ringbuf", "process_ringbuf_reserve",
                  (("new_prod - rb.consumer_pos > rb.size - 1",
                    "new_prod - rb.consumer_pos > rb.size"),))),
    Twin("ringbuf.no_consumer_check",
         "reserve measures free space only from the oldest busy record, not the consumer",
         "ringbuf.no_overwrite", "reserve",
         lambda k, pre, p, post: reserve(k, pre, p, post, consumer_check=False),
         Mutation("arspec.spec.ringbuf", "process_ringbuf_reserve",
                  ((_CONSUMER_CHECK, ""),))),
    Twin("ringbuf.no_consumer_check_bytes",
         "reserve measures free space only from the oldest busy record, not the consumer",
         "ringbuf.disjoint_bytes", "reserve",
         lambda k, pre, p, post: reserve(k, pre, p, post, consumer_check=False),
         Mutation("arspec.spec.ringbuf", "process_ringbuf_reserve",
                  ((_CONSUMER_CHECK, ""),))),
    Twin("ringbuf.consume_skips_busy",
         "consume passes over a record that is still BUSY instead of stopping there",
         "ringbuf.fifo", "consume",
         lambda k, pre, p, post: consume(k, pre, p, post, blocking=False),
         Mutation("arspec.spec.ringbuf", "process_ringbuf_consume",
                  (("        if word & BPF_RINGBUF_BUSY_BIT:\n            break\n", ""),
                   ("size = word & ~BPF_RINGBUF_DISCARD_BIT",
                    "size = word & ~(BPF_RINGBUF_DISCARD_BIT | BPF_RINGBUF_BUSY_BIT)")))),
    Twin("ringbuf.commit_keeps_stale_pending",
         "commit leaves pending_pos where it was, so the next reserve moves it",
         "ringbuf.exact_space", "commit",
         lambda k, pre, p, post: commit(k, pre, p, post, repend=False),
         Mutation("arspec.spec.ringbuf", "process_ringbuf_commit",
                  (("rb.pending_pos = compute_pending_pos(rb)", "pass"),))),
)


# --------------------------------------------------------------------------- concrete


def build(consts: Values, s: Values) -> R.RingBuffer:
    """Return the spec ring whose headers are the records of ``s``."""
    rb = R.create_ringbuf(get_int(consts, "S"))
    rb.consumer_pos = RingPos(get_int(s, "c"))
    rb.pending_pos = RingPos(get_int(s, "pend"))
    rb.producer_pos = RingPos(get_int(s, "prod"))
    start, plen = get_ints(s, "start"), get_ints(s, "plen")
    busy, disc = get_flags(s, "busy"), get_flags(s, "disc")
    for i in range(get_int(s, "h"), get_int(s, "t")):
        word = plen[i] | (R.BPF_RINGBUF_BUSY_BIT if busy[i] else 0) | (
            R.BPF_RINGBUF_DISCARD_BIT if disc[i] else 0)
        R.process_ringbuf_write(rb, start[i], word.to_bytes(4, "little") + bytes(4))
    return rb


def read(rb: R.RingBuffer, starts: dict[int, int]) -> Values:
    """Return the abstract state of ``rb`` whose records start at ``starts`` (index -> pos)."""
    index = {pos: i for i, pos in starts.items()}
    h, pi, t = index[rb.consumer_pos], index[rb.pending_pos], index[rb.producer_pos]
    plen: dict[int, int] = {}
    busy: dict[int, bool] = {}
    disc: dict[int, bool] = {}
    for i in range(h, t):
        word = R.get_record_len_word(rb, starts[i])
        plen[i] = word & ~(R.BPF_RINGBUF_BUSY_BIT | R.BPF_RINGBUF_DISCARD_BIT)
        busy[i] = bool(word & R.BPF_RINGBUF_BUSY_BIT)
        disc[i] = bool(word & R.BPF_RINGBUF_DISCARD_BIT)
    return {"c": rb.consumer_pos, "pend": rb.pending_pos, "prod": rb.producer_pos,
            "h": h, "pi": pi, "t": t, "start": {i: starts[i] for i in range(h, t + 1)},
            "plen": plen, "busy": busy, "disc": disc}


def execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run the spec's transition ``name`` on the ring ``pre``; return the post-state."""
    rb = build(consts, pre)
    starts = get_ints(pre, "start")
    t = get_int(pre, "t")
    if name == "reserve":
        pos = R.process_ringbuf_reserve(rb, get_int(params, "n"), get_int(params, "flags"))
        if pos is not None:
            starts[t + 1] = rb.producer_pos
    elif name == "commit":
        record = RingPos(starts[get_int(params, "j")])
        R.process_ringbuf_commit(rb, record, 0, bool(params["discard"]))
    else:
        R.process_ringbuf_consume(rb)
    return read(rb, starts)


def view(values: Values) -> Values:
    """Return the part of a state the spec determines (record fields of live records)."""
    h, t = values["h"], values["t"]
    assert isinstance(h, int) and isinstance(t, int)
    out = dict(values)
    for name, hi in (("start", t + 1), ("plen", t), ("busy", t), ("disc", t)):
        entries = values[name]
        assert isinstance(entries, dict)
        out[name] = {i: entries[i] for i in range(h, hi)}
    return out


def span(s: Vars) -> tuple[Term, Term]:
    """Return the record indices a state's arrays hold: ``h .. t`` inclusive."""
    return s["h"], s["t"] + 1


def small(k: Vars, s: Vars) -> Term:
    """Return a hint for readable counterexamples: few records, small positions, small ring."""
    return L.and_(s["t"] - s["h"] <= 3, s["h"] == 0, k["S"] <= 64, s["c"] <= 64)


SYSTEM: Final = System(
    name="ringbuf", title="Ring buffer", summary=__doc__ or "",
    consts=ints("S"), limits=limits, state=STATE, initial=initial, invariant=invariant,
    transitions=TRANSITIONS, claims=CLAIMS, twins=TWINS, execute=execute, span=span,
    small=small, view=view)
