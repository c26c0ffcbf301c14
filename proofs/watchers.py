"""
Watchers
========

Two systems over :mod:`arspec.spec.hooks` and the watcher step of
:mod:`arspec.spec.scheduler`.

**Cascades.** The maximum depth ``limit`` ranges over the presets' values
(:data:`~arspec.spec.hooks.MAX_CASCADE_DEPTH`). The state is the watched account's writer
depth (``present``/``depth``: the scheduler's ``writer_depth`` entry), the deepest watcher
item enqueued so far (``seen``, the spec's ``max_depth_seen``), the number of suppressed
triggers and ``enqueued``, the depth of the item the last observation enqueued (-1: none).
Transitions: an environment write (:func:`~arspec.spec.scheduler.process_environment_write`),
a successful invocation of an item of any depth ``0 .. seen`` that writes the account
(:func:`~arspec.spec.scheduler.process_run_head`), and an observation
(:func:`~arspec.spec.scheduler.process_enqueue_watchers`) that fires or not, as any watcher
may: a watcher's kind and values do not matter to the depth bound.

**Edges.** A comparison watcher (``op`` one of ``eq ne lt le gt ge`` and its threshold, both
symbolic) with its :class:`~arspec.spec.hooks.WatcherState` (``condition``, ``last``) and
``fired``, whether the last observation fired. Transition: one observation of any value
(:func:`~arspec.spec.hooks.process_watcher_observation`).
"""

from __future__ import annotations

from typing import Final

from arspec.spec import bundle as schema
from arspec.spec import hooks as H
from arspec.spec import scheduler as S
from arspec.spec.accounts import AccountsState, create_account
from arspec.spec.presets import PRESETS
from arspec.spec.state import Phase, RuntimeState, TriggerKind, WorkItem, make_entry
from arspec.spec.timers import AsyncSequence
from arspec.spec.types import AccountName, ComputeUnits, Cpu, ProgId, Slot

from . import logic as L
from .core import Claim, System, Transition, Twin, Values, Vars, bools, ints
from .logic import Term
from .mutation import Mutation

ACCOUNT: Final = AccountName("watched")
WATCHER: Final = ProgId("watcher")
#: The comparison operators in the order ``op`` numbers them.
OPS: Final = (schema.WatchOp.EQ, schema.WatchOp.NE, schema.WatchOp.LT, schema.WatchOp.LE,
              schema.WatchOp.GT, schema.WatchOp.GE)

# --------------------------------------------------------------------------- cascades

CASCADE_STATE: Final = (*ints("depth", "seen", "suppressed", "enqueued"), *bools("present"))


def _keep(pre: Vars, post: Vars, changed: set[str]) -> Term:
    return L.and_(*(pre[f.name] == post[f.name] for f in CASCADE_STATE
                    if f.name not in changed))


def cascade_limits(k: Vars) -> Term:
    """Return: a maximum cascade depth some preset has."""
    return L.or_(*(k["limit"] == v for v in sorted(set(H.MAX_CASCADE_DEPTH.values()))))


def cascade_initial(k: Vars, s: Vars) -> Term:
    """Return: nothing written, nothing enqueued."""
    return L.and_(L.not_(s["present"]), s["depth"] == 0, s["seen"] == 0,
                  s["suppressed"] == 0, s["enqueued"] == -1)


def cascade_invariant(k: Vars, s: Vars) -> Term:
    """Return: depths are within ``0 .. seen <= limit``."""
    return L.and_(s["seen"] >= 0, s["seen"] <= k["limit"], s["suppressed"] >= 0,
                  s["enqueued"] >= -1, s["enqueued"] <= s["seen"],
                  L.implies(s["present"], L.and_(s["depth"] >= 0, s["depth"] <= s["seen"])),
                  L.implies(L.not_(s["present"]), s["depth"] == 0))


def environment_write(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return an environment write of the account (writer depth 0)."""
    return L.and_(post["present"], post["depth"] == 0, _keep(pre, post, {"present", "depth"}))


def program_write(k: Vars, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return a successful invocation of an item of depth ``p.item_depth`` writing it."""
    d = p["item_depth"]
    return L.and_(d >= 0, d <= pre["seen"], post["present"],
                  post["depth"] == L.ite(pre["present"], L.minimum(pre["depth"], d), d),
                  _keep(pre, post, {"present", "depth"}))


def observe(k: Vars, pre: Vars, p: Vars, post: Vars, *, slack: int = 0) -> Term:
    """Return one observation that fires (``p.fires``) or not; too deep is suppressed."""
    depth = pre["depth"] + 1
    deep = depth > k["limit"] + slack
    run = L.and_(p["fires"], L.not_(deep))
    return L.and_(
        L.not_(post["present"]), post["depth"] == 0,
        post["suppressed"] == pre["suppressed"] + L.ite(L.and_(p["fires"], deep), 1, 0),
        post["seen"] == L.ite(run, L.ite(depth > pre["seen"], depth, pre["seen"]), pre["seen"]),
        post["enqueued"] == L.ite(run, depth, -1))


CASCADE_TRANSITIONS: Final = (
    Transition("environment_write", "the environment writes the watched account",
               "spec.scheduler.process_environment_write", (), environment_write),
    Transition("program_write", "an invocation of any depth up to the deepest enqueued item "
               "writes it", "spec.scheduler.process_run_head", ints("item_depth"),
               program_write),
    Transition("observe", "the watcher observes the account once (fires or not)",
               "spec.scheduler.process_enqueue_watchers", bools("fires"), observe),
)


def cascade_bound(k: Vars, s: Vars) -> Term:
    """Return: no enqueued watcher item is deeper than the preset's maximum."""
    return L.and_(s["seen"] <= k["limit"], s["enqueued"] <= k["limit"])


CASCADE_CLAIMS: Final = (
    Claim("watchers.cascade", "no watcher cascade exceeds the preset's maximum depth: every "
          "watcher item enqueued, and the deepest ever, is at most that depth",
          state=cascade_bound),
)

CASCADE_TWINS: Final = (
    Twin("watchers.depth_gate_off_by_one", "the suppression test lets one level too deep run",
         "watchers.cascade", "observe",
         lambda k, pre, p, post: observe(k, pre, p, post, slack=1),
         Mutation("arspec.spec.scheduler", "process_enqueue_watchers",
                  (("if depth > limit:", "if depth > limit + 1:"),))),
)


def _int(values: Values, name: str) -> int:
    value = values[name]
    assert isinstance(value, int)
    return value


def _preset_of(limit: int) -> str:
    return next(n for n, v in H.MAX_CASCADE_DEPTH.items() if v == limit)


def create_cascade_state(consts: Values, pre: Values) -> tuple[RuntimeState, S.RuntimeConfig]:
    """Return a runtime state with one account and one ``changed`` watcher on it."""
    accounts = AccountsState({ACCOUNT: create_account(ACCOUNT, 8)})
    state = RuntimeState(slot=Slot(1), phase=Phase.WRITES, maps={}, accounts=accounts,
                         sequence=AsyncSequence(), preset=PRESETS[_preset_of(
                             _int(consts, "limit"))],
                         next_item_seq=1, cascades_suppressed=_int(pre, "suppressed"),
                         max_depth_seen=_int(pre, "seen"))
    if pre["present"]:
        state.writer_depth[ACCOUNT] = _int(pre, "depth")
    state.watchers[WATCHER] = H.WatcherState(last_value=0, condition=False, reference=0)
    spec = H.WatchSpec(ACCOUNT, 0, 8, False, schema.WatchOp.CHANGED, None, None)
    config = S.RuntimeConfig(startup=(), every=(), watchers={WATCHER: spec}, subscribers={},
                             budgets={WATCHER: ComputeUnits(1)}, slot_budget=ComputeUnits(1),
                             writes={}, domains={}, field_types={})
    return state, config


def cascade_execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run the spec's step ``name`` on a concrete state."""
    state, config = create_cascade_state(consts, pre)
    enqueued = _int(pre, "enqueued")
    if name == "environment_write":
        S.process_environment_write(state, ACCOUNT, 0, bytes(8))
    elif name == "program_write":
        depth = _int(params, "item_depth")
        state.phase = Phase.RUN
        state.fifo.append(WorkItem(seq=0, kind=TriggerKind.WATCH if depth else
                                   TriggerKind.EVERY, entry=make_entry(WATCHER),
                                   enqueued_slot=Slot(1), depth=depth))

        def invoker(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                    cpu: Cpu) -> S.InvocationOutcome:
            return S.InvocationOutcome(r0=0, compute_units=1, accounts_written=(ACCOUNT,))
        S.process_run_head(state, config, invoker)
    else:
        if params["fires"]:
            state.watchers[WATCHER].last_value = 1
        before = len(state.fifo)
        S.process_enqueue_watchers(state, config)
        enqueued = state.fifo[-1].depth if len(state.fifo) > before else -1
    return {"present": ACCOUNT in state.writer_depth,
            "depth": state.writer_depth.get(ACCOUNT, 0), "seen": state.max_depth_seen,
            "suppressed": state.cascades_suppressed, "enqueued": enqueued}


CASCADE: Final = System(
    name="watchers", title="Watcher cascades", summary=__doc__ or "", consts=ints("limit"),
    limits=cascade_limits, state=CASCADE_STATE, initial=cascade_initial,
    invariant=cascade_invariant, transitions=CASCADE_TRANSITIONS, claims=CASCADE_CLAIMS,
    twins=CASCADE_TWINS, execute=cascade_execute)

# --------------------------------------------------------------------------- edges

EDGE_STATE: Final = (*ints("last"), *bools("condition", "fired"))


def condition(k: Vars, value: Term) -> Term:
    """Return ``is_condition_true`` of comparison ``op`` against the threshold."""
    th, op = k["threshold"], k["op"]
    results = (value == th, value != th, value < th, value <= th, value > th, value >= th)
    out = results[-1]
    for index in range(len(results) - 2, -1, -1):
        out = L.ite(op == index, results[index], out)
    return out


def edge_limits(k: Vars) -> Term:
    """Return: one of the six comparisons, any threshold."""
    return L.and_(k["op"] >= 0, k["op"] < len(OPS))


def edge_initial(k: Vars, s: Vars) -> Term:
    """Return ``create_watcher_state``: the baseline value and its condition, no firing."""
    return L.and_(s["condition"] == condition(k, s["last"]), L.not_(s["fired"]))


def edge_invariant(k: Vars, s: Vars) -> Term:
    """Return: the stored condition is the comparison of the last value seen."""
    return s["condition"] == condition(k, s["last"])


def observation(k: Vars, pre: Vars, p: Vars, post: Vars, *, store: bool = True) -> Term:
    """Return ``process_watcher_observation`` of value ``p.value``."""
    now = condition(k, p["value"])
    return L.and_(post["fired"] == L.and_(now, L.not_(pre["condition"])),
                  post["condition"] == (now if store else pre["condition"]),
                  post["last"] == p["value"])


EDGE_TRANSITIONS: Final = (
    Transition("observe", "the watcher observes a value",
               "spec.hooks.process_watcher_observation", ints("value"), observation),
)


def once_per_crossing(k: Vars, name: str, pre: Vars, p: Vars, post: Vars) -> Term:
    """Return: it fires exactly when the comparison goes from false (last value) to true."""
    return L.and_(post["fired"] == L.and_(condition(k, p["value"]),
                                          L.not_(condition(k, pre["last"]))),
                  post["last"] == p["value"])


EDGE_CLAIMS: Final = (
    Claim("watchers.edge", "an edge-triggered watcher fires exactly when its comparison goes "
          "from false at the previous observation to true, so once per crossing",
          step=once_per_crossing),
)

EDGE_TWINS: Final = (
    Twin("watchers.condition_not_stored", "the observation forgets to store the condition",
         "watchers.edge", "observe",
         lambda k, pre, p, post: observation(k, pre, p, post, store=False),
         Mutation("arspec.spec.hooks", "process_watcher_observation",
                  (("        state.condition = condition\n", ""),))),
)


def edge_execute(name: str, consts: Values, pre: Values, params: Values) -> Values:
    """Run ``process_watcher_observation`` on a concrete watcher."""
    spec = H.WatchSpec(ACCOUNT, 0, 8, True, OPS[_int(consts, "op")],
                       _int(consts, "threshold"), None)
    state = H.WatcherState(last_value=_int(pre, "last"), condition=bool(pre["condition"]),
                         reference=_int(pre, "last"))
    fired = H.process_watcher_observation(spec, state, _int(params, "value"))
    return {"last": state.last_value, "condition": state.condition, "fired": fired}


EDGE: Final = System(
    name="watch_edges", title="Edge-triggered watchers", summary=__doc__ or "",
    consts=ints("op", "threshold"), limits=edge_limits, state=EDGE_STATE,
    initial=edge_initial, invariant=edge_invariant, transitions=EDGE_TRANSITIONS,
    claims=EDGE_CLAIMS, twins=EDGE_TWINS, execute=edge_execute)

SYSTEMS: Final = (CASCADE, EDGE)
