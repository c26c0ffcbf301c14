"""
Compute budgets
===============

The scheduler's budget rules (:mod:`arspec.spec.scheduler`, steps 3 and 4) as a z3
system. The per-slot budget ``slot_budget`` and the per-invocation budget ``invocation``
are symbolic over everything the bundle schema accepts (``1 <= invocation <=
MAX_INVOCATION_CU <= ...``, ``invocation <= slot_budget``). The state is the slot's charged
compute units ``used``, the FIFO as the items ``head .. tail - 1`` with their scheduler
sequence numbers ``seq[i]`` and invocation budgets ``budget[i]`` (each ``1 ..
invocation``, as the schema requires of a program's budget), the next item sequence
number, and ``effects``, a stand-in for everything an invocation may change and a failed one
must roll back (the spec snapshots maps, accounts and the async sequence; the model uses the
sequence counter).

Transitions: ``enqueue`` (:func:`~arspec.spec.scheduler.process_enqueue_item`, any budget),
``run`` (:func:`~arspec.spec.scheduler.process_run_head` with any compute units, any fault
and any effects; a stale async item is skipped) and ``end_slot``
(:func:`~arspec.spec.scheduler.process_end_slot`). Any interleaving is allowed, a superset
of the canonical order, so the claims hold for any sequence of invocations, helper costs and
faults.
"""

from __future__ import annotations

from typing import Final

from arspec.spec import bundle as schema
from arspec.spec import scheduler as S
from arspec.spec.accounts import AccountsState
from arspec.spec.maps import MapDef, MapState, MapType
from arspec.spec.presets import MINIMAL
from arspec.spec.state import Phase, RuntimeState, TriggerKind, WorkItem, make_entry
from arspec.spec.timers import AsyncSequence
from arspec.spec.types import ComputeUnits, Cpu, MapId, ProgId, Slot

from . import logic as L
from .core import Claim, Field, System, Transition, Twin, Values, Vars, bools, ints
from .logic import Term
from .mutation import Mutation

STATE: Final = (*ints("used", "next_item", "head", "tail", "effects"),
                Field("seq", "int_array"), Field("budget", "int_array"))
#: The map a stale work-queue item points at (it holds no element).
STALE_MAP: Final = MapId("stale")


def limits(k: Vars) -> Term:
    """Return: budgets the bundle schema accepts."""
    return L.and_(k["invocation"] >= 1, k["invocation"] <= schema.MAX_INVOCATION_CU,
                  k["invocation"] <= k["slot_budget"])


def initial(k: Vars, s: Vars) -> Term:
    """Return: slot 0 before anything ran, an empty FIFO."""
    return L.and_(s["used"] == 0, s["next_item"] == 0, s["head"] == 0, s["tail"] == 0)


def _in_fifo(s: Vars, i: Term) -> Term:
    return L.and_(s["head"] <= i, i < s["tail"])


def invariant(k: Vars, s: Vars) -> Term:
    """Return the inductive invariant (see the docs page)."""
    seq, budget = s["seq"], s["budget"]
    return L.and_(
        s["used"] >= 0, s["used"] <= k["slot_budget"], s["head"] >= 0, s["head"] <= s["tail"],
        s["next_item"] >= 0,
        L.forall(lambda i: L.implies(_in_fifo(s, i), L.and_(
            L.select(budget, i) >= 1, L.select(budget, i) <= k["invocation"],
            L.select(seq, i) >= 0, L.select(seq, i) < s["next_item"]))),
        L.forall2(lambda i, j: L.implies(L.and_(_in_fifo(s, i), _in_fifo(s, j), i < j),
                                         L.select(seq, i) < L.select(seq, j))))


def runnable(k: Vars, s: Vars, *, swapped: bool = False) -> Term:
    """Return ``is_head_runnable``: a head whose budget fits the slot's remainder."""
    remaining = k["slot_budget"] - s["used"]
    head_budget = L.select(s["budget"], s["head"])
    fits = remaining <= head_budget if swapped else remaining >= head_budget
    return L.and_(s["head"] < s["tail"], fits)


def _keep(pre: Vars, post: Vars, *names: str) -> Term:
    return L.and_(*(pre[n] == post[n] for n in names))


def enqueue(k: Vars, pre: Vars, p: Vars, post: Vars, *, advance: bool = True) -> Term:
    """Return ``process_enqueue_item`` of an item with budget ``p.budget``."""
    return L.and_(
        p["budget"] >= 1, p["budget"] <= k["invocation"],
        post["seq"] == L.store(pre["seq"], pre["tail"], pre["next_item"]),
        post["budget"] == L.store(pre["budget"], pre["tail"], p["budget"]),
        post["tail"] == pre["tail"] + 1,
        post["next_item"] == pre["next_item"] + (1 if advance else 0),
        _keep(pre, post, "used", "head", "effects"))


def run(k: Vars, pre: Vars, p: Vars, post: Vars, *, swapped: bool = False, clamp: bool = True,
        rollback: bool = True) -> Term:
    """Return ``process_run_head``: run (or skip, if stale) the head and charge the slot."""
    budget = L.select(pre["budget"], pre["head"])
    used = L.minimum(p["cu"], budget) if clamp else p["cu"]
    charged = L.ite(p["fault"], budget, used)
    effects = L.ite(p["fault"], pre["effects"], p["effects"]) if rollback else p["effects"]
    return L.and_(
        runnable(k, pre, swapped=swapped), p["cu"] >= 0, post["head"] == pre["head"] + 1,
        post["used"] == pre["used"] + L.ite(p["stale"], 0, charged),
        post["effects"] == L.ite(p["stale"], pre["effects"], effects),
        _keep(pre, post, "next_item", "tail", "seq", "budget"))


def end_slot(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return ``process_end_slot``: the head does not fit; defer everything to the next slot."""
    return L.and_(L.not_(runnable(k, pre)), post["used"] == 0,
                  _keep(pre, post, "next_item", "head", "tail", "seq", "budget", "effects"))


TRANSITIONS: Final = (
    Transition("enqueue", "a new item joins the back of the FIFO",
               "spec.scheduler.process_enqueue_item", ints("budget"), enqueue),
    Transition("run", "the head runs with any compute units, fault and effects (or is "
               "skipped as stale)", "spec.scheduler.process_run_head",
               (*ints("cu", "effects"), *bools("fault", "stale")), run),
    Transition("end_slot", "the slot ends; what is left is deferred",
               "spec.scheduler.process_end_slot", (), end_slot),
)


def slot_bound(k: Vars, s: Vars) -> Term:
    """Return: the slot's charged compute units stay within its budget."""
    return L.and_(s["used"] >= 0, s["used"] <= k["slot_budget"])


def invocation_bound(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a run charges at most the item's budget, which is at most ``invocation``."""
    if name != "run":
        return L.truth(True)
    budget = L.select(pre["budget"], pre["head"])
    return L.and_(post["used"] - pre["used"] <= budget, budget <= k["invocation"])


def fault(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: a failed run charges its whole budget and leaves no effect."""
    if name != "run":
        return L.truth(True)
    budget = L.select(pre["budget"], pre["head"])
    return L.implies(L.and_(p["fault"], L.not_(p["stale"])), L.and_(
        post["used"] - pre["used"] == budget, post["effects"] == pre["effects"]))


def fifo(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: FIFO sequence numbers increase; a run takes the head, an end of slot defers all."""
    order = L.forall2(lambda i, j: L.implies(
        L.and_(_in_fifo(post, i), _in_fifo(post, j), i < j),
        L.select(post["seq"], i) < L.select(post["seq"], j)))
    if name == "end_slot":
        return L.and_(order, _keep(pre, post, "head", "tail", "seq", "budget"))
    if name == "run":
        return L.and_(order, post["head"] == pre["head"] + 1, post["tail"] == pre["tail"])
    return order


CLAIMS: Final = (
    Claim("budget.slot", "within one slot the compute units charged never exceed the "
          "per-slot budget, for any sequence of invocations, costs and faults",
          state=slot_bound),
    Claim("budget.invocation", "an invocation is charged at most its budget, which is at most "
          "the per-invocation budget", step=invocation_bound),
    Claim("budget.fault", "a failed invocation is charged its whole budget and all its "
          "effects are rolled back", step=fault),
    Claim("budget.fifo", "the FIFO stays in strictly increasing sequence order: a run takes "
          "the head, deferral at the end of a slot keeps every item in order", step=fifo),
)

TWINS: Final = (
    Twin("budget.fit_check_swapped", "the head starts when the slot's remainder is <= its "
         "budget instead of >=", "budget.slot", "run",
         lambda k, pre, p, post: run(k, pre, p, post, swapped=True),
         Mutation("arspec.spec.scheduler", "is_head_runnable",
                  ((">= get_item_budget", "<= get_item_budget"),))),
    Twin("budget.unclamped_charge", "a successful run is charged the compute units it "
         "reports, not at most its budget", "budget.invocation", "run",
         lambda k, pre, p, post: run(k, pre, p, post, clamp=False),
         Mutation("arspec.spec.scheduler", "process_run_head",
                  (("charged = min(outcome.compute_units, budget)",
                    "charged = outcome.compute_units"),))),
    Twin("budget.no_rollback", "a failed run keeps its effects", "budget.fault", "run",
         lambda k, pre, p, post: run(k, pre, p, post, rollback=False),
         Mutation("arspec.spec.scheduler", "process_run_head",
                  (("state.maps, state.accounts, state.sequence = snapshot", "pass"),))),
    Twin("budget.reused_item_seq", "enqueue does not advance the item sequence number",
         "budget.fifo", "enqueue",
         lambda k, pre, p, post: enqueue(k, pre, p, post, advance=False),
         Mutation("arspec.spec.scheduler", "process_enqueue_item",
                  (("\n    state.next_item_seq += 1\n", "\n"),))),
)


# --------------------------------------------------------------------------- concrete


def _int(values: Values, name: str) -> int:
    value = values[name]
    assert isinstance(value, int)
    return value


def _entries(values: Values, name: str) -> dict[int, int]:
    entries = values[name]
    assert isinstance(entries, dict)
    return {i: int(v) for i, v in entries.items()}


def create_state(preset_slot_used: int, next_item: int, effects: int) -> RuntimeState:
    """Return a runtime state in its run phase with no map but the stale item's map."""
    stale = MapState(MapDef(STALE_MAP, MapType.HASH, 1, 16, 1, wq_offset=0), num_cpus=1)
    return RuntimeState(slot=Slot(0), phase=Phase.RUN, maps={STALE_MAP: stale},
                        accounts=AccountsState(), sequence=AsyncSequence(effects),
                        preset=MINIMAL, next_item_seq=next_item, slot_cu_used=preset_slot_used)


def create_config(slot_budget: int, budgets: dict[str, int]) -> S.RuntimeConfig:
    """Return a scheduler configuration with these program budgets and nothing else."""
    return S.RuntimeConfig(
        startup=(), every=(), watchers={}, subscribers={},
        budgets={ProgId(n): ComputeUnits(b) for n, b in budgets.items()},
        slot_budget=ComputeUnits(slot_budget), writes={}, domains={}, field_types={})


def execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run the spec's scheduler step ``name`` on a concrete FIFO."""
    head, tail = _int(pre, "head"), _int(pre, "tail")
    seqs, budgets = _entries(pre, "seq"), _entries(pre, "budget")
    runtime = create_state(_int(pre, "used"), _int(pre, "next_item"), _int(pre, "effects"))
    stale = name == "run" and bool(params["stale"])
    for i in range(head, tail):
        kind = TriggerKind.WORKQUEUE if stale and i == head else TriggerKind.STARTUP
        runtime.fifo.append(WorkItem(
            seq=seqs[i], kind=kind, entry=make_entry(f"p{i}"), enqueued_slot=Slot(0),
            map_id=STALE_MAP if kind == TriggerKind.WORKQUEUE else None,
            key=b"\0" if kind == TriggerKind.WORKQUEUE else None,
            async_seq=0 if kind == TriggerKind.WORKQUEUE else None))
    programs = {f"p{i}": budgets[i] for i in range(head, tail)}
    if name == "enqueue":
        programs[f"p{tail}"] = _int(params, "budget")
    config = create_config(_int(consts, "slot_budget"), programs)
    if name == "enqueue":
        S.process_enqueue_item(runtime, TriggerKind.STARTUP, make_entry(f"p{tail}"), "proof")
    elif name == "run":
        def invoker(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                    cpu: Cpu) -> S.InvocationOutcome:
            state.sequence.next_seq = _int(params, "effects")
            return S.InvocationOutcome(r0=0, compute_units=_int(params, "cu"),
                                       fault="fault" if params["fault"] else None)
        S.process_run_head(runtime, config, invoker)
    else:
        S.process_end_slot(runtime, config)
        runtime.phase = Phase.RUN
    new_head = head + (1 if name == "run" else 0)
    new_tail = new_head + len(runtime.fifo)
    post_seqs = dict(seqs)
    post_budgets = dict(budgets)
    for i, item in zip(range(new_head, new_tail), runtime.fifo, strict=True):
        post_seqs[i] = item.seq
        post_budgets[i] = config.budgets[item.prog]
    return {"used": runtime.slot_cu_used, "next_item": runtime.next_item_seq, "head": new_head,
            "tail": new_tail, "effects": runtime.sequence.next_seq, "seq": post_seqs,
            "budget": post_budgets}


def view(values: Values) -> Values:
    """Return a state with the FIFO's entries only."""
    head, tail = _int(values, "head"), _int(values, "tail")
    return {**values, "seq": {i: v for i, v in _entries(values, "seq").items() if head <= i < tail},
            "budget": {i: v for i, v in _entries(values, "budget").items()
                       if head <= i < tail}}


def span(s: Vars) -> tuple[Term, Term]:
    """Return the FIFO's indices."""
    return s["head"], s["tail"]


def small(k: Vars, s: Vars) -> Term:
    """Return a hint for readable counterexamples: a short FIFO near index 0."""
    return L.and_(s["head"] == 0, s["tail"] <= 3, k["slot_budget"] <= 100)


SYSTEM: Final = System(
    name="budget", title="Compute budgets", summary=__doc__ or "",
    consts=ints("slot_budget", "invocation"), limits=limits, state=STATE, initial=initial,
    invariant=invariant, transitions=TRANSITIONS, claims=CLAIMS, twins=TWINS,
    execute=execute, span=span, small=small, view=view)
