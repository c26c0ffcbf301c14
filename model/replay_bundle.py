"""
Replaying a trace
=================

``spec-check replay TRACE.json`` re-executes a trace written by ``explore --trace-out`` on the
reference runtime and checks its violation again. There are two outcomes:

* **reproduced** (verdict ``VIOLATED``, exit 1): the recorded invariant is violated again
  at the end of the trace; for a ``no_starvation`` lasso, the cycle returns to the abstract
  state it left, the watched item stays queued all along it, and every weak-fairness class
  is taken on it or disabled in one of its states;
* **not reproduced** (verdict ``NOT-REPRODUCED``, exit 5): a step is not enabled when
  replayed, or the invariant holds at the end, or the lasso is not a fair starving cycle.
  The report says whether the bundle file changed since the trace was written (its SHA-256
  is in the trace), which is the usual reason; an unchanged bundle points at a change in the
  spec or the runtime.

With ``--timeout`` (:mod:`arspec.model.stopping`) a replay that runs out of time is
BOUND-REACHED (exit 3), its first line saying how many steps were replayed.

A malformed trace, a bundle that cannot be loaded, or an invariant the bundle does not
check is bad input (:class:`~arspec.spec.errors.InputError`, exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from arspec.model.bundle_system import build_system, compile_checks, get_check_names
from arspec.model.engine import Trace, TraceStep
from arspec.model.explore_bundle import (
    MAX_EXPLORE_SLOTS,
    describe_map_keys,
    render_rows,
    render_trace,
)
from arspec.model.liveness import Lasso
from arspec.model.runtime_system import (
    REPLICA_INVARIANT,
    STEP_INVARIANT,
    CheckSet,
    ModelState,
    RuntimeSystem,
)
from arspec.model.starvation import (
    UNBOUNDED_SLOTS,
    AbstractionBroken,
    LiveAction,
    StarvationSystem,
    Watch,
    WatchedState,
    create_slot_abstraction,
    get_abstraction_obstacle,
    get_fairness_class,
    get_lasso_rows,
)
from arspec.model.step_text import get_function_names
from arspec.model.stopping import get_stop_reason, get_timeout_seconds, request_stop
from arspec.model.trace_file import (
    compute_bundle_hash,
    decode_action,
    read_trace,
    resolve_bundle_path,
)
from arspec.spec import bundle as schema
from arspec.spec.catalogue import STARVATION_INVARIANT
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import Action

#: Exit code of a trace whose violation does not happen again.
#: The verdict of a trace that did not reproduce.
NOT_REPRODUCED: Final = "NOT-REPRODUCED"


@dataclass(frozen=True)
class ReplayOutcome:
    """What :func:`replay_trace` found: ``VIOLATED`` (reproduced), ``NOT-REPRODUCED`` or
    ``BOUND-REACHED`` (``--timeout``), and the report text."""

    verdict: str
    report: str


class NotReproduced(Exception):
    """The trace cannot be followed or does not end in its violation (the reason)."""


class ReplayStopped(Exception):
    """``--timeout`` passed (:mod:`arspec.model.stopping`); the message says how far the
    replay got."""


def check_stop(done: int, total: int) -> None:
    """Raise :class:`ReplayStopped` if the command must stop after ``done`` of ``total``
    steps."""
    reason = get_stop_reason()
    if reason is not None:
        request_stop(reason)
        raise ReplayStopped(f"--timeout {get_timeout_seconds() or 0:g} s passed after {done} "
                            f"of {total} steps were replayed; raise --timeout")


def replay_trace(path: str) -> ReplayOutcome:
    """Re-execute a trace file and check its violation again (see the module docstring).

    :param path: a trace written by ``explore --trace-out``.
    :raises InputError: for a malformed trace, a bundle that cannot be loaded, or an
        invariant the bundle does not check.
    """
    data = read_trace(path)
    bundle_path = resolve_bundle_path(path, data)
    recorded = data.get("bundle_sha256")
    changed = recorded is not None and compute_bundle_hash(bundle_path) != recorded
    bundle = load_bundle(bundle_path)
    slots = data["slots"]
    if not 1 <= slots <= MAX_EXPLORE_SLOTS:
        raise InputError(f"`slots` must be in 1..{MAX_EXPLORE_SLOTS}, not {slots}", file=path)
    name = data["invariant"]
    lines = [f"replay {path}: {len(data['steps'])} steps of {bundle.name or bundle_path} "
             f"({bundle_path})"]
    if changed:
        lines.append("note: the bundle changed since the trace was written (its SHA-256 "
                     "differs)")
    try:
        if name == STARVATION_INVARIANT:
            rows, verdict = replay_lasso(path, data, bundle, bundle_path)
        else:
            rows, verdict = replay_safety(path, data, bundle, bundle_path, slots)
    except ReplayStopped as err:
        lines.insert(0, f"BOUND-REACHED: {err}")
        lines.append("verdict: BOUND-REACHED")
        return ReplayOutcome("BOUND-REACHED", "\n".join(lines) + "\n")
    except NotReproduced as err:
        if changed:
            cause = "the bundle changed since the trace was written"
        elif recorded is None:
            cause = "the trace does not record the bundle's hash"
        else:
            cause = "the bundle is unchanged: the spec or the runtime changed"
        lines.append(f"not reproduced: {err}; {cause}")
        return ReplayOutcome(NOT_REPRODUCED, "\n".join(lines) + "\n")
    lines.extend(rows)
    lines.append(f"reproduced: VIOLATED {name}: {verdict}")
    return ReplayOutcome("VIOLATED", "\n".join(lines) + "\n")


def replay_safety(path: str, data: dict[str, Any], bundle: schema.Bundle, bundle_path: str,
                  slots: int) -> tuple[list[str], str]:
    """Return the table and the reason of a replayed safety violation.

    :raises NotReproduced: when a step is not enabled or the invariant holds at the end.
    """
    system = build_system(bundle, bundle_path, slots, compile_checks(bundle), cache=False)
    name = data["invariant"]
    if name not in get_check_names(system):
        raise InputError(f"the bundle does not check invariant {name!r}", file=path)
    state = system.initial_states()[0]
    steps: list[TraceStep[ModelState, Action]] = []
    for n, raw in enumerate(data["steps"], 1):
        check_stop(n - 1, len(data["steps"]))
        action = decode_action(raw, f"{path}: step {n}")
        if isinstance(action, Watch):
            raise InputError(f"step {n}: a Watch step belongs to a no_starvation trace",
                             file=path)
        enabled = list(system.actions(state))
        if action not in enabled:
            raise NotReproduced(f"step {n} ({system.describe(action)}) is not enabled")
        state = system.apply(state, action)
        steps.append(TraceStep(enabled.index(action), action, system.describe(action),
                               state))
    trace: Trace[ModelState, Action] = Trace(system.initial_states()[0], tuple(steps))
    reason = get_replayed_reason(system, name, trace)
    if reason is None:
        check_stop(len(steps), len(steps))  # the final check may have been cut short
        raise NotReproduced(f"{name} holds at the end of the trace")
    return (render_trace(trace, bundle, get_function_names(system)),
            describe_map_keys(reason, bundle))


def get_replayed_reason(system: RuntimeSystem, name: str,
                        trace: Trace[ModelState, Action]) -> str | None:
    """Return why ``name`` is violated at the end of ``trace`` (last step or final state)."""
    final = trace.final
    if name == STEP_INVARIANT:
        return final.error
    if name == REPLICA_INVARIANT:
        system.is_replica_deterministic(final)
    reason = system.get_step_violation(name, final) if trace.steps else None
    if reason is None:
        reason = system.get_state_violation(name, final)
    return reason


def replay_lasso(path: str, data: dict[str, Any], bundle: schema.Bundle, bundle_path: str,
                 ) -> tuple[list[str], str]:
    """Return the table and the verdict line of a replayed ``no_starvation`` lasso.

    :raises NotReproduced: when a step is not enabled, or the steps from ``cycle_from`` on
        are not a fair cycle on which the watched item stays queued.
    """
    cycle_from = data.get("cycle_from")
    if cycle_from is None:
        raise InputError("a no_starvation trace needs `cycle_from`", file=path)
    system = build_system(bundle, bundle_path, UNBOUNDED_SLOTS, CheckSet(), cache=False)
    obstacle = get_abstraction_obstacle(bundle, system)
    if obstacle is not None:
        raise NotReproduced(f"no_starvation cannot be checked ({obstacle})")
    cpus = system.initial_states()[0].runtime.preset.num_cpus
    live = StarvationSystem(system, create_slot_abstraction(bundle, cpus))
    state = live.initial_states()[0]
    states: list[WatchedState] = [state]
    steps: list[TraceStep[WatchedState, LiveAction]] = []
    for n, raw in enumerate(data["steps"], 1):
        check_stop(n - 1, len(data["steps"]))
        action = decode_action(raw, f"{path}: step {n}")
        enabled = list(live.actions(state))
        if action not in enabled:
            raise NotReproduced(f"step {n} ({live.describe(action)}) is not enabled")
        try:
            state = live.apply(state, action)
        except AbstractionBroken as err:
            raise NotReproduced(f"the slot abstraction is not exact: {err}") from None
        steps.append(TraceStep(enabled.index(action), action, live.describe(action), state))
        states.append(state)
    check_fair_starving_cycle(live, states[cycle_from:], steps[cycle_from:])
    prefix: Trace[WatchedState, LiveAction] = Trace(states[0], tuple(steps[:cycle_from]))
    lasso = Lasso(prefix, tuple(steps[cycle_from:]))
    initial, rows, prefix_len = get_lasso_rows(lasso)
    table = render_rows(initial, rows, bundle, cycle_from=prefix_len,
                        names=get_function_names(system))
    return table, "the watched item stays queued forever on a weakly fair run"


def check_fair_starving_cycle(live: StarvationSystem, states: Sequence[WatchedState],
                              steps: Sequence[TraceStep[WatchedState, LiveAction]]) -> None:
    """Raise :class:`NotReproduced` unless ``states`` (``steps`` between) is a fair cycle."""
    if not steps or states[0].key != states[-1].key:
        raise NotReproduced("the cycle does not return to the abstract state it left")
    if any(s.watched is None for s in states):
        raise NotReproduced("the watched item leaves the FIFO on the cycle")
    taken = {get_fairness_class(step.action) for step in steps}
    # A class enabled in every state of the cycle must be taken on it.
    always = set.intersection(*({get_fairness_class(a) for a in live.actions(s)}
                                for s in states[:-1]))
    unfair = sorted(str(k) for k in always - taken if k is not None)
    if unfair:
        raise NotReproduced(f"the cycle is not weakly fair (never takes {', '.join(unfair)})")


__all__: Sequence[str] = ["NOT_REPRODUCED", "ReplayOutcome", "replay_trace"]
