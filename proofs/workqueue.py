"""
Work queues
===========

:mod:`arspec.spec.workqueue` as a z3 system: one work item (any item of a runtime: items
share nothing but the sequence counter, which ``take_seq`` advances at any time) and its
:class:`~arspec.spec.workqueue.WorkQueueState` (``pending_seq`` ``None`` is -1; a callback is
a positive id, 0 for none), plus two ghost fields: ``ran``, the pending sequence of the last
run, and ``dropped``, the pending sequence the last element delete/overwrite took off the
queue (-1: none). Transitions: ``init``, ``set_callback``, ``start``, ``run``
(:func:`~arspec.spec.workqueue.process_wq_run`, in its asserted domain), ``done`` and
``free`` (:func:`~arspec.spec.workqueue.process_wq_cancel_and_free`).
"""

from __future__ import annotations

from typing import Final

from arspec.spec import workqueue as W
from arspec.spec.timers import AsyncSequence, process_take_sequence
from arspec.spec.types import FuncRef, Pc, ProgId, SeqNo

from . import logic as L
from .core import Claim, System, Transition, Twin, Values, Vars, bools, ints
from .logic import Term
from .mutation import Mutation

STATE: Final = (*ints("next_seq", "cb", "seq", "ran", "dropped"), *bools("init", "run"))


def _keep(pre: Vars, post: Vars, changed: set[str]) -> Term:
    return L.and_(*(pre[f.name] == post[f.name] for f in STATE if f.name not in changed))


def limits(k: Vars) -> Term:
    """Return: no size parameter."""
    return L.truth(True)


def initial(k: Vars, s: Vars) -> Term:
    """Return: a fresh item."""
    return L.and_(s["next_seq"] == 0, s["cb"] == 0, s["seq"] == -1, s["ran"] == -1,
                  s["dropped"] == -1, L.not_(s["init"]), L.not_(s["run"]))


def invariant(k: Vars, s: Vars) -> Term:
    """Return the inductive invariant (see the docs page)."""
    pending = s["seq"] >= 0
    return L.and_(
        s["next_seq"] >= 0, s["cb"] >= 0, s["seq"] >= -1, s["seq"] < s["next_seq"],
        s["ran"] >= -1, s["ran"] < s["next_seq"], s["dropped"] >= -1,
        s["dropped"] < s["next_seq"],
        L.implies(L.not_(s["init"]), L.and_(s["cb"] == 0, L.not_(pending))),
        L.implies(pending, L.and_(s["cb"] > 0, s["ran"] < s["seq"], s["dropped"] < s["seq"])))


def init(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return ``process_wq_init(flags)``."""
    ok = L.and_(p["flags"] == 0, L.not_(pre["init"]))
    return L.and_(p["flags"] >= 0, _keep(pre, post, {"init"}),
                  post["init"] == L.or_(pre["init"], ok))


def set_callback(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return ``process_wq_set_callback(cb, flags)``."""
    ok = L.and_(p["flags"] == 0, pre["init"])
    return L.and_(p["flags"] >= 0, p["cb"] > 0, _keep(pre, post, {"cb"}),
                  post["cb"] == L.ite(ok, p["cb"], pre["cb"]))


def start(k: Vars, pre: Vars, p: Vars, post: Vars, *, coalesce: bool = True) -> Term:
    """Return ``process_wq_start(flags)``: queue the item unless it is already queued."""
    ok = L.and_(p["flags"] == 0, pre["init"], pre["cb"] > 0)
    take = L.and_(ok, pre["seq"] < 0) if coalesce else ok
    return L.and_(p["flags"] >= 0, _keep(pre, post, {"seq", "next_seq"}),
                  post["seq"] == L.ite(take, pre["next_seq"], pre["seq"]),
                  post["next_seq"] == pre["next_seq"] + L.ite(take, 1, Pc(0)))


def run(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return ``process_wq_run`` of a queued, idle item."""
    return L.and_(pre["seq"] >= 0, pre["cb"] > 0, L.not_(pre["run"]),
                  _keep(pre, post, {"seq", "run", "ran"}), post["seq"] == -1, post["run"],
                  post["ran"] == pre["seq"])


def done(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return ``process_wq_callback_done``."""
    return L.and_(pre["run"], L.not_(post["run"]), _keep(pre, post, {"run"}))


def free(k: Vars, pre: Vars, p: Vars, post: Vars, *, dequeue: bool = True) -> Term:
    """Return ``process_wq_cancel_and_free`` (the element is deleted or overwritten)."""
    seq = post["seq"] == -1 if dequeue else post["seq"] == pre["seq"]
    return L.and_(_keep(pre, post, {"init", "cb", "seq", "dropped"}), L.not_(post["init"]),
                  post["cb"] == 0, seq,
                  post["dropped"] == L.ite(pre["seq"] >= 0, pre["seq"], pre["dropped"]))


def take_seq(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return another item's or a timer's draw from the shared sequence."""
    return L.and_(post["next_seq"] == pre["next_seq"] + 1, _keep(pre, post, {"next_seq"}))


TRANSITIONS: Final = (
    Transition("init", "bpf_wq_init(flags)", "spec.workqueue.process_wq_init", ints("flags"),
               init),
    Transition("set_callback", "bpf_wq_set_callback(cb, flags)",
               "spec.workqueue.process_wq_set_callback", ints("cb", "flags"), set_callback),
    Transition("start", "bpf_wq_start(flags)", "spec.workqueue.process_wq_start",
               ints("flags"), start),
    Transition("run", "the scheduler runs the queued item", "spec.workqueue.process_wq_run",
               (), run),
    Transition("done", "its callback returns", "spec.workqueue.process_wq_callback_done", (),
               done),
    Transition("free", "element delete or overwrite",
               "spec.workqueue.process_wq_cancel_and_free", (), free),
    Transition("take_seq", "another item or a timer draws a sequence number",
               "spec.timers.process_take_sequence", (), take_seq),
)


def coalesce(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a start of a queued item keeps its one place and draws no new one."""
    if name != "start":
        return L.truth(True)
    return L.implies(pre["seq"] >= 0, L.and_(post["seq"] == pre["seq"],
                                             post["next_seq"] == pre["next_seq"]))


def once(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a run takes a queued start that has neither run nor been dropped."""
    if name != "run":
        return L.truth(True)
    return L.and_(pre["seq"] > pre["ran"], pre["seq"] > pre["dropped"])


CLAIMS: Final = (
    Claim("workqueue.coalesce", "starts before the callback runs coalesce: a start of a "
          "queued item keeps its place and queues nothing new, so they make one run",
          step=coalesce),
    Claim("workqueue.once", "a queued item runs exactly once or is dropped with its element, "
          "never both: every run takes a queued start that has not run and was not dropped",
          step=once),
)

TWINS: Final = (
    Twin("workqueue.start_requeues", "start queues the item again even when it is queued",
         "workqueue.coalesce", "start",
         lambda k, pre, p, post: start(k, pre, p, post, coalesce=False),
         Mutation("arspec.spec.workqueue", "process_wq_start",
                  (("if not is_wq_pending(wq):", "if True:"),))),
    Twin("workqueue.free_keeps_queued", "an element delete frees the item but leaves it "
         "queued", "workqueue.once", "free",
         lambda k, pre, p, post: free(k, pre, p, post, dequeue=False),
         Mutation("arspec.spec.workqueue", "process_wq_cancel_and_free",
                  (("\n    wq.pending_seq = None\n", "\n"),))),
)


def _int(values: Values, name: str) -> int:
    value = values[name]
    assert isinstance(value, int)
    return value


def build(values: Values) -> W.WorkQueueState:
    """Return the spec work item of a concrete state."""
    cb, seq = _int(values, "cb"), _int(values, "seq")
    return W.WorkQueueState(initialised=bool(values["init"]),
                            callback=FuncRef(ProgId(f"cb{cb}"), Pc(0)) if cb > 0 else None,
                            pending_seq=SeqNo(seq) if seq >= 0 else None,
                            running=bool(values["run"]))


def execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run the spec's transition ``name`` on a concrete item; ghosts follow what happened."""
    wq = build(pre)
    sequence = AsyncSequence(_int(pre, "next_seq"))
    post = dict(pre)
    if name == "init":
        W.process_wq_init(wq, _int(params, "flags"))
    elif name == "set_callback":
        W.process_wq_set_callback(wq, FuncRef(ProgId(f"cb{_int(params, 'cb')}"), Pc(0)),
                                  _int(params, "flags"))
    elif name == "start":
        W.process_wq_start(wq, sequence, _int(params, "flags"))
    elif name == "run":
        W.process_wq_run(wq)
        post["ran"] = pre["seq"]
    elif name == "done":
        W.process_wq_callback_done(wq)
    elif name == "free":
        if _int(pre, "seq") >= 0:
            post["dropped"] = pre["seq"]
        W.process_wq_cancel_and_free(wq)
    else:
        process_take_sequence(sequence)
    post.update({"init": wq.initialised, "run": wq.running, "next_seq": sequence.next_seq,
                 "cb": 0 if wq.callback is None else int(wq.callback.prog[2:]),
                 "seq": -1 if wq.pending_seq is None else wq.pending_seq})
    return post


SYSTEM: Final = System(
    name="workqueue", title="Work queues", summary=__doc__ or "", consts=(), limits=limits,
    state=STATE, initial=initial, invariant=invariant, transitions=TRANSITIONS,
    claims=CLAIMS, twins=TWINS, execute=execute)
