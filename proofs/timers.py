"""
Timers
======

:mod:`arspec.spec.timers` as a z3 system: two timers ``a`` and ``b`` (any two timers of a
runtime) sharing the runtime-wide :class:`~arspec.spec.timers.AsyncSequence`, the current
slot ``now``, and for each timer its :class:`~arspec.spec.timers.TimerState` (``None`` is
encoded as -1: ``exp`` and ``seq`` are -1 exactly when the timer is not armed; a callback
is a positive id, 0 for none). Two ghost fields per timer record history that the spec
does not keep: ``fired``, the arm sequence of its last firing, and ``cancelled``, the arm
sequence of the last arm a cancel or an element delete/overwrite took away (-1: none).

Every claim is about one timer or a pair, and every other timer and work item touches this
pair only through the shared sequence counter, which the ``take_seq`` transition advances
by one at any time: so the claims hold for any number of timers. ``tick`` advances the slot
by any amount. Transitions per timer: ``init``, ``set_callback``, ``start``, ``cancel``,
``free`` (:func:`~arspec.spec.timers.process_timer_cancel_and_free`), ``fire``
(:func:`~arspec.spec.timers.process_timer_fire`, in its asserted domain: armed, with a
callback, not running) and ``done``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from arspec.spec import timers as T
from arspec.spec.types import U64_MASK, FuncRef, Pc, ProgId, SeqNo, Slot

from . import logic as L
from .core import Claim, System, Transition, Twin, Values, Vars, bools, ints
from .logic import Term
from .mutation import Mutation

TIMERS: Final = ("a", "b")
FIELDS_INT: Final = ("clock", "cb", "exp", "seq", "fired", "cancelled")
FIELDS_BOOL: Final = ("init", "armed", "run")
STATE: Final = (*ints("next_seq", "now"),
                *(f for x in TIMERS for f in (*ints(*(f"{x}_{n}" for n in FIELDS_INT)),
                                              *bools(*(f"{x}_{n}" for n in FIELDS_BOOL)))))
ABS: Final = T.BPF_F_TIMER_ABS
Relation = Callable[[Vars, Vars, Vars, Vars], Term]


def _f(x: str, name: str) -> str:
    return f"{x}_{name}"


def _keep(pre: Vars, post: Vars, names: list[str]) -> Term:
    return L.and_(*(pre[n] == post[n] for n in names))


def _others(changed: set[str]) -> list[str]:
    return [f.name for f in STATE if f.name not in changed]


def limits(k: Vars) -> Term:
    """Return: no size parameter (a timer has none)."""
    return L.truth(True)


def initial(k: Vars, s: Vars) -> Term:
    """Return: fresh timers, sequence and slot at 0."""
    parts = [s["next_seq"] == 0, s["now"] == 0]
    for x in TIMERS:
        parts += [s[_f(x, "init")] == False, s[_f(x, "armed")] == False,  # noqa: E712
                  s[_f(x, "run")] == False, s[_f(x, "clock")] == 0, s[_f(x, "cb")] == 0,  # noqa: E712
                  s[_f(x, "exp")] == -1, s[_f(x, "seq")] == -1, s[_f(x, "fired")] == -1,
                  s[_f(x, "cancelled")] == -1]
    return L.and_(*parts)


def invariant(k: Vars, s: Vars) -> Term:
    """Return the inductive invariant (see the docs page)."""
    parts = [s["next_seq"] >= 0, s["now"] >= 0]
    for x in TIMERS:
        armed, seq = s[_f(x, "armed")], s[_f(x, "seq")]
        parts += [
            s[_f(x, "cb")] >= 0, s[_f(x, "fired")] >= -1, s[_f(x, "fired")] < s["next_seq"],
            s[_f(x, "cancelled")] >= -1, s[_f(x, "cancelled")] < s["next_seq"],
            L.implies(L.not_(s[_f(x, "init")]), L.and_(s[_f(x, "cb")] == 0,
                                                      s[_f(x, "clock")] == 0,
                                                      L.not_(armed))),
            L.implies(armed, L.and_(s[_f(x, "cb")] > 0, seq >= 0, seq < s["next_seq"],
                                    s[_f(x, "fired")] < seq, s[_f(x, "cancelled")] < seq,
                                    s[_f(x, "exp")] >= 0, s[_f(x, "exp")] <= U64_MASK)),
            L.implies(L.not_(armed), L.and_(seq == -1, s[_f(x, "exp")] == -1)),
        ]
    parts.append(L.implies(L.and_(s["a_armed"], s["b_armed"]), s["a_seq"] != s["b_seq"]))
    return L.and_(*parts)


def _disarm(x: str, post: Vars) -> list[Term]:
    return [post[_f(x, "armed")] == False, post[_f(x, "exp")] == -1,  # noqa: E712
            post[_f(x, "seq")] == -1]


def init(x: str) -> Relation:
    """Return ``process_timer_init`` of timer ``x``."""
    def relation(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
        flags = p["flags"]
        valid = L.and_(flags >= 0, flags < T.MAX_CLOCKS,
                       L.or_(*(flags == c for c in T.VALID_CLOCKS)))
        ok = L.and_(valid, L.not_(pre[_f(x, "init")]))
        return L.and_(flags >= 0, _keep(pre, post, _others({_f(x, "init"), _f(x, "clock")})),
                      post[_f(x, "init")] == L.or_(pre[_f(x, "init")], ok),
                      post[_f(x, "clock")] == L.ite(ok, flags, pre[_f(x, "clock")]))
    return relation


def set_callback(x: str) -> Relation:
    """Return ``process_timer_set_callback`` of timer ``x`` with callback id ``p.cb``."""
    def relation(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
        cb = _f(x, "cb")
        return L.and_(p["cb"] > 0, _keep(pre, post, _others({cb})),
                      post[cb] == L.ite(pre[_f(x, "init")], p["cb"], pre[cb]))
    return relation


def expiry(now: Term, value: Term, flags: Term) -> Term:
    """Return ``compute_timer_expiry``: absolute with ABS, else the saturating sum."""
    return L.ite(flags % 2 == 1, value, L.minimum(now + value, U64_MASK))


def start(x: str, *, draw: bool = True, replace: bool = True) -> Relation:
    """Return ``process_timer_start`` of timer ``x`` (``p.value``, ``p.flags``)."""
    def relation(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
        value, flags = p["value"], p["flags"]
        ok = L.and_(flags < 4, pre[_f(x, "init")], pre[_f(x, "cb")] > 0)
        new_exp = expiry(pre["now"], value, flags)
        if not replace:
            new_exp = L.ite(pre[_f(x, "armed")], pre[_f(x, "exp")], new_exp)
        changed = {_f(x, "armed"), _f(x, "exp"), _f(x, "seq"), "next_seq"}
        return L.and_(
            value >= 0, value <= U64_MASK, flags >= 0, flags <= U64_MASK,
            _keep(pre, post, _others(changed)),
            L.implies(L.not_(ok), _keep(pre, post, sorted(changed))),
            L.implies(ok, L.and_(post[_f(x, "armed")], post[_f(x, "exp")] == new_exp,
                                 post[_f(x, "seq")] == pre["next_seq"],
                                 post["next_seq"] == pre["next_seq"] + (1 if draw else 0))))
    return relation


def cancel(x: str, *, disarm: bool = True) -> Relation:
    """Return ``process_timer_cancel`` of timer ``x``."""
    def relation(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
        ok = L.and_(pre[_f(x, "init")], L.not_(pre[_f(x, "run")]))
        changed = {_f(x, "cb"), _f(x, "armed"), _f(x, "exp"), _f(x, "seq"), _f(x, "cancelled")}
        effect = [post[_f(x, "cb")] == 0,
                  post[_f(x, "cancelled")] == L.ite(pre[_f(x, "armed")], pre[_f(x, "seq")],
                                                    pre[_f(x, "cancelled")])]
        effect += _disarm(x, post) if disarm else [
            pre[n] == post[n] for n in (_f(x, "armed"), _f(x, "exp"), _f(x, "seq"))]
        return L.and_(_keep(pre, post, _others(changed)),
                      L.implies(L.not_(ok), _keep(pre, post, sorted(changed))),
                      L.implies(ok, L.and_(*effect)))
    return relation


def free(x: str) -> Relation:
    """Return ``process_timer_cancel_and_free`` of timer ``x`` (its element is deleted)."""
    def relation(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
        changed = {_f(x, n) for n in ("init", "clock", "cb", "armed", "exp", "seq",
                                      "cancelled")}
        return L.and_(_keep(pre, post, _others(changed)), post[_f(x, "init")] == False,  # noqa: E712
                      post[_f(x, "clock")] == 0, post[_f(x, "cb")] == 0, *_disarm(x, post),
                      post[_f(x, "cancelled")] == L.ite(pre[_f(x, "armed")], pre[_f(x, "seq")],
                                                        pre[_f(x, "cancelled")]))
    return relation


def fire(x: str, *, disarm: bool = True) -> Relation:
    """Return ``process_timer_fire`` of armed, idle timer ``x``."""
    def relation(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
        changed = {_f(x, "armed"), _f(x, "exp"), _f(x, "seq"), _f(x, "run"), _f(x, "fired")}
        effect = _disarm(x, post) if disarm else [
            pre[n] == post[n] for n in (_f(x, "armed"), _f(x, "exp"), _f(x, "seq"))]
        return L.and_(pre[_f(x, "armed")], pre[_f(x, "cb")] > 0, L.not_(pre[_f(x, "run")]),
                      _keep(pre, post, _others(changed)), *effect, post[_f(x, "run")],
                      post[_f(x, "fired")] == pre[_f(x, "seq")])
    return relation


def done(x: str, *, keep_arm: bool = True) -> Relation:
    """Return ``process_timer_callback_done`` of running timer ``x``."""
    def relation(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
        changed = {_f(x, "run")} | (set() if keep_arm else {
            _f(x, "armed"), _f(x, "exp"), _f(x, "seq")})
        return L.and_(pre[_f(x, "run")], L.not_(post[_f(x, "run")]),
                      _keep(pre, post, _others(changed)),
                      *([] if keep_arm else _disarm(x, post)))
    return relation


def take_seq(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return another timer's or work item's draw from the shared sequence."""
    return L.and_(post["next_seq"] == pre["next_seq"] + 1, _keep(pre, post, _others({"next_seq"})))


def tick(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return the passing of ``p.slots >= 0`` slots."""
    return L.and_(p["slots"] >= 0, post["now"] == pre["now"] + p["slots"],
                  _keep(pre, post, _others({"now"})))


def _per_timer() -> list[Transition]:
    out = []
    for x in TIMERS:
        out += [
            Transition(f"{x}.init", "bpf_timer_init(flags)", "spec.timers.process_timer_init",
                       ints("flags"), init(x)),
            Transition(f"{x}.set_callback", "bpf_timer_set_callback(cb)",
                       "spec.timers.process_timer_set_callback", ints("cb"), set_callback(x)),
            Transition(f"{x}.start", "bpf_timer_start(value, flags)",
                       "spec.timers.process_timer_start", ints("value", "flags"), start(x)),
            Transition(f"{x}.cancel", "bpf_timer_cancel", "spec.timers.process_timer_cancel",
                       (), cancel(x)),
            Transition(f"{x}.free", "element delete or overwrite",
                       "spec.timers.process_timer_cancel_and_free", (), free(x)),
            Transition(f"{x}.fire", "the scheduler fires the armed timer",
                       "spec.timers.process_timer_fire", (), fire(x)),
            Transition(f"{x}.done", "its callback returns",
                       "spec.timers.process_timer_callback_done", (), done(x)),
        ]
    return out


TRANSITIONS: Final = (
    *_per_timer(),
    Transition("take_seq", "another timer or work item draws a sequence number",
               "spec.timers.process_take_sequence", (), take_seq),
    Transition("tick", "slots pass", "spec.scheduler.process_end_slot", ints("slots"), tick),
)


def _on(name: str, x: str, what: str) -> bool:
    return name == f"{x}.{what}"


def fire_once(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a fire takes an arm that has never fired."""
    return L.and_(*(L.implies(L.truth(_on(name, x, "fire")),
                              pre[_f(x, "seq")] > pre[_f(x, "fired")]) for x in TIMERS))


def cancel_sticks(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a fire never takes an arm that a cancel or free took away."""
    return L.and_(*(L.implies(L.truth(_on(name, x, "fire")),
                              pre[_f(x, "seq")] > pre[_f(x, "cancelled")]) for x in TIMERS))


def restart(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a successful start sets the new expiry and a fresh, later arm."""
    parts = []
    for x in TIMERS:
        if _on(name, x, "start"):
            parts.append(L.implies(post["next_seq"] != pre["next_seq"], L.and_(
                post[_f(x, "armed")], post[_f(x, "exp")] == expiry(pre["now"], p["value"],
                                                                   p["flags"]),
                post[_f(x, "seq")] > pre[_f(x, "seq")])))
    return L.and_(*parts)


def stays_due(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a due timer stays armed and due unless it fires, is cancelled, freed or restarted."""
    parts = []
    for x in TIMERS:
        if name in (f"{x}.fire", f"{x}.cancel", f"{x}.free", f"{x}.start"):
            continue
        due = L.and_(pre[_f(x, "armed")], pre[_f(x, "exp")] <= pre["now"])
        parts.append(L.implies(due, L.and_(post[_f(x, "armed")],
                                           post[_f(x, "exp")] == pre[_f(x, "exp")],
                                           post[_f(x, "exp")] <= post["now"])))
    return L.and_(*parts)


def strict_order(k: Vars, s: Vars) -> Term:
    """Return: two armed timers never share an arm sequence, so (expiry, seq) orders them."""
    return L.implies(L.and_(s["a_armed"], s["b_armed"]),
                     L.or_(s["a_exp"] < s["b_exp"], s["b_exp"] < s["a_exp"],
                           s["a_seq"] < s["b_seq"], s["b_seq"] < s["a_seq"]))


CLAIMS: Final = (
    Claim("timers.fire_once", "a start is fired at most once: every fire takes an arm that "
          "has not fired before", step=fire_once),
    Claim("timers.cancel", "a cancelled (or freed) timer never fires for the arm it "
          "cancelled", step=cancel_sticks),
    Claim("timers.restart", "a successful start, also of an armed timer, replaces the expiry "
          "by the new one and the arm by a fresh, later one", step=restart),
    Claim("timers.stays_due", "an armed timer whose expiry has come stays armed and due at "
          "every later slot until it fires, is cancelled, freed (element gone) or restarted",
          step=stays_due),
    Claim("timers.strict_order", "two armed timers never compare equal in the due order "
          "(expiry, arm sequence), so the order is total and independent of map iteration",
          state=strict_order),
)

_FIRE_DISARM = "timer.expiry = None\n    timer.arm_seq = None\n    timer.running = True"
TWINS: Final = (
    Twin("timers.fire_keeps_arm", "fire forgets to disarm the timer", "timers.fire_once",
         "a.fire", fire("a", disarm=False),
         Mutation("arspec.spec.timers", "process_timer_fire",
                  ((_FIRE_DISARM, "timer.running = True"),))),
    Twin("timers.cancel_keeps_arm", "cancel clears the callback but forgets to disarm",
         "timers.cancel", "a.cancel", cancel("a", disarm=False),
         Mutation("arspec.spec.timers", "process_timer_cancel",
                  (("\n    timer.expiry = None\n    timer.arm_seq = None\n", "\n"),))),
    Twin("timers.restart_keeps_expiry", "a start of an armed timer keeps the old expiry",
         "timers.restart", "a.start", start("a", replace=False),
         Mutation("arspec.spec.timers", "process_timer_start",
                  (("timer.expiry = compute_timer_expiry(now, value, flags)",
                    "timer.expiry = (timer.expiry if timer.expiry is not None\n"
                    "                    else compute_timer_expiry(now, value, flags))"),))),
    Twin("timers.done_drops_rearm", "callback_done disarms, dropping a re-arm made by the "
         "callback itself", "timers.stays_due", "a.done", done("a", keep_arm=False),
         Mutation("arspec.spec.timers", "process_timer_callback_done",
                  (("timer.running = False",
                    "timer.running = False\n    timer.expiry = None\n    timer.arm_seq = None"),
                   ))),
    Twin("timers.start_reuses_seq", "start reads the sequence counter without advancing it",
         "timers.strict_order", "a.start", start("a", draw=False),
         Mutation("arspec.spec.timers", "process_timer_start",
                  (("timer.arm_seq = process_take_sequence(sequence)",
                    "timer.arm_seq = SeqNo(sequence.next_seq)"),))),
)


# --------------------------------------------------------------------------- concrete


def _int(values: Values, name: str) -> int:
    value = values[name]
    assert isinstance(value, int)
    return value


def build_timer(values: Values, x: str) -> T.TimerState:
    """Return the spec timer ``x`` of a concrete state."""
    armed = bool(values[_f(x, "armed")])
    cb = _int(values, _f(x, "cb"))
    return T.TimerState(
        initialised=bool(values[_f(x, "init")]), clock_id=_int(values, _f(x, "clock")),
        callback=FuncRef(ProgId(f"cb{cb}"), Pc(0)) if cb > 0 else None,
        expiry=Slot(_int(values, _f(x, "exp"))) if armed else None,
        arm_seq=SeqNo(_int(values, _f(x, "seq"))) if armed else None,
        running=bool(values[_f(x, "run")]))


def read_timer(timer: T.TimerState, x: str) -> Values:
    """Return the concrete fields of spec timer ``x`` (ghosts excluded)."""
    cb = 0 if timer.callback is None else int(timer.callback.prog[2:])
    return {_f(x, "init"): timer.initialised, _f(x, "clock"): timer.clock_id,
            _f(x, "cb"): cb, _f(x, "armed"): timer.expiry is not None,
            _f(x, "exp"): -1 if timer.expiry is None else timer.expiry,
            _f(x, "seq"): -1 if timer.arm_seq is None else timer.arm_seq,
            _f(x, "run"): timer.running}


def execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run the spec's transition ``name`` on concrete timers; ghosts follow what happened."""
    timers = {x: build_timer(pre, x) for x in TIMERS}
    sequence = T.AsyncSequence(_int(pre, "next_seq"))
    now = Slot(_int(pre, "now"))
    post = dict(pre)
    x, _, what = name.partition(".")
    if name == "take_seq":
        T.process_take_sequence(sequence)
    elif name == "tick":
        now = Slot(now + _int(params, "slots"))
    else:
        timer = timers[x]
        armed_seq = _int(pre, _f(x, "seq"))
        if what == "init":
            T.process_timer_init(timer, _int(params, "flags"))
        elif what == "set_callback":
            T.process_timer_set_callback(timer, FuncRef(ProgId(f"cb{_int(params, 'cb')}"), Pc(0)))
        elif what == "start":
            T.process_timer_start(timer, sequence, now, _int(params, "value"),
                                  _int(params, "flags"))
        elif what == "cancel":
            if T.process_timer_cancel(timer) == 1:
                post[_f(x, "cancelled")] = armed_seq
        elif what == "free":
            if pre[_f(x, "armed")]:
                post[_f(x, "cancelled")] = armed_seq
            T.process_timer_cancel_and_free(timer)
        elif what == "fire":
            T.process_timer_fire(timer)
            post[_f(x, "fired")] = armed_seq
        else:
            T.process_timer_callback_done(timer)
    for y in TIMERS:
        post.update(read_timer(timers[y], y))
    post["next_seq"] = sequence.next_seq
    post["now"] = now
    return post


SYSTEM: Final = System(
    name="timers", title="Timers", summary=__doc__ or "", consts=(), limits=limits,
    state=STATE, initial=initial, invariant=invariant, transitions=TRANSITIONS,
    claims=CLAIMS, twins=TWINS, execute=execute)
