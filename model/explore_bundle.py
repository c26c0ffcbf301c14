"""
Exploring a bundle
==================

``spec-check explore BUNDLE --slots N`` and ``spec-check replay TRACE.json``: load a bundle,
explore every behaviour its scenario allows for ``N`` slots (:mod:`arspec.model.runtime_system`
on the generic explorer), check the invariant catalogue (:mod:`arspec.spec.catalogue`), the
user invariants and replica determinism, and report per invariant HOLDS / VIOLATED /
BOUND-REACHED with the shortest trace of each violation as a table.

Exit codes: 0 every invariant holds, 1 one is violated, 3 a bound stopped the search and
nothing was violated. Bad input raises :class:`~arspec.spec.errors.InputError` (the CLI
prints its one line and exits 2).

Everything printed is deterministic (independent of hash seeds) except the ``time`` line,
which ``timing=False`` leaves out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from arspec.model.engine import (
    Bounds,
    ExplorationResult,
    Progress,
    Trace,
    TraceStep,
    Verdict,
    Violation,
    explore,
)
from arspec.model.graph import space_to_dot, trace_to_dot
from arspec.model.runtime_system import (
    REPLICA_INVARIANT,
    STEP_INVARIANT,
    CachingInvoker,
    CheckSet,
    EnvironmentOrder,
    ModelState,
    RuntimeSystem,
    describe_action,
)
from arspec.model.starvation import (
    UNBOUNDED_SLOTS,
    StarvationOutcome,
    check_no_starvation,
    get_lasso_rows,
    get_starving_item,
)
from arspec.spec import bundle as schema
from arspec.spec.catalogue import (
    CATALOGUE,
    STARVATION_INVARIANT,
    UserInvariant,
    compile_user_invariant,
    get_requested_invariants,
)
from arspec.spec.errors import InputError
from arspec.spec.files import MAX_TRACE_FILE_BYTES, read_limited
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import (
    Action,
    ApplyWrite,
    DomainWrite,
    EndSlot,
    EnqueueDue,
    EventKind,
    RunHead,
)
from arspec.spec.state import RuntimeState

EXIT_OK: Final = 0
EXIT_VIOLATED: Final = 1
EXIT_INCONCLUSIVE: Final = 3
#: Longest exploration horizon, in slots (``properties.explore.slots`` allows the same).
MAX_EXPLORE_SLOTS: Final = 64
#: A domain with more values than this is refused as too large to explore exhaustively.
MAX_DOMAIN_VALUES: Final = 64
#: The state graph is drawn only for spaces with at most this many states.
MAX_DRAWN_STATES: Final = 300
TRACE_FORMAT: Final = "arspec-trace"
TRACE_VERSION: Final = 1


# --------------------------------------------------------------------------- input


def check_explore_input(bundle: schema.Bundle, path: str, slots: int | None,
                        max_states: int | None, max_depth: int | None) -> int:
    """Return the horizon in slots; raise :class:`InputError` for anything unexplorable."""
    if "scenario" not in bundle.model_fields_set:
        raise InputError("the bundle has no `scenario`: the explorer needs scenario.domains "
                         "(and/or scenario.writes) to know what the environment may do",
                         file=path)
    for key, domain in bundle.scenario.domains.items():
        if len(domain.values) > MAX_DOMAIN_VALUES:
            raise InputError(f"scenario.domains.{key} has {len(domain.values)} values; the "
                             f"explorer needs a small finite domain (at most "
                             f"{MAX_DOMAIN_VALUES} values)", file=path)
    explore_props = bundle.properties.explore
    horizon = slots if slots is not None else (explore_props.slots if explore_props else 6)
    if isinstance(horizon, bool) or not isinstance(horizon, int) \
            or not 1 <= horizon <= MAX_EXPLORE_SLOTS:
        raise InputError(f"--slots must be in 1..{MAX_EXPLORE_SLOTS}, not {horizon!r}")
    for flag, value in (("--max-states", max_states), ("--max-depth", max_depth)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InputError(f"{flag} must be a positive integer, not {value!r}")
    return horizon


def get_bundle_invariants(bundle: schema.Bundle) -> list[str]:
    """Return the catalogue names a bundle asks for (every one by default), liveness too."""
    explore_props = bundle.properties.explore
    return get_requested_invariants([inv.value for inv in explore_props.invariants]
                                    if explore_props is not None else None)


def compile_checks(bundle: schema.Bundle) -> CheckSet:
    """Return the state and step checks a bundle asks for (liveness is checked apart)."""
    user = tuple(compile_user_invariant(bundle, inv.name, inv.expr)
                 for inv in bundle.properties.invariants)
    names = tuple(n for n in get_bundle_invariants(bundle) if not CATALOGUE[n].liveness)
    return CheckSet(names, user, replica=True)


def is_starvation_requested(bundle: schema.Bundle) -> bool:
    """Return whether the bundle asks for ``no_starvation``."""
    return STARVATION_INVARIANT in get_bundle_invariants(bundle)


def run_starvation_check(bundle: schema.Bundle, path: str, *, cache: bool,
                         max_states: int | None) -> StarvationOutcome:
    """Return the ``no_starvation`` outcome of ``bundle`` (:mod:`arspec.model.starvation`)."""
    system = build_system(bundle, path, UNBOUNDED_SLOTS, CheckSet(), cache=cache)
    return check_no_starvation(system, max_states=max_states)


def build_system(bundle: schema.Bundle, path: str, slots: int, checks: CheckSet, *,
                 cache: bool) -> RuntimeSystem:
    """Return the runtime system of ``bundle`` on the reference VM."""
    from arspec.reference.runtime import ReferenceInvoker

    inner = ReferenceInvoker(bundle, base_dir=Path(path).parent)
    invoker = CachingInvoker(inner, enabled=cache,
                             include_seq=bundle.profile != schema.Profile.SOLANA)
    return RuntimeSystem(bundle, invoker, slots=slots, checks=checks)


def get_check_names(system: RuntimeSystem) -> list[str]:
    """Return every check name in report order."""
    names = list(system.checks.catalogue) + [u.name for u in system.checks.user]
    if system.checks.replica:
        names.append(REPLICA_INVARIANT)
    return [*names, STEP_INVARIANT]


# --------------------------------------------------------------------------- rendering


def get_named_fields(bundle: schema.Bundle) -> list[tuple[str, UserInvariant]]:
    """Return a one-reference user invariant per declared field (to read field values)."""
    fields: list[tuple[str, UserInvariant]] = []
    for account, spec in bundle.accounts.items():
        for name in spec.fields:
            text = f"{account}.{name}"
            fields.append((text, compile_user_invariant(bundle, text, text)))
    for map_name, mspec in bundle.maps.items():
        if not mspec.fields or mspec.type.value not in ("array", "percpu_array"):
            continue
        for index in range(min(mspec.max_entries, 4)):
            for name in mspec.fields:
                text = f"{map_name}[{index}].{name}"
                fields.append((text, compile_user_invariant(bundle, text, text)))
    return fields


def describe_changes(fields: list[tuple[str, UserInvariant]], pre: RuntimeState,
                     post: RuntimeState) -> str:
    """Return ``book.position -3 -> -6, fifo 2 -> 0``: the named fields and FIFO that moved."""
    from arspec.spec.catalogue import get_field_value

    changes = []
    for text, inv in fields:
        ref = inv.refs[text]
        before, after = get_field_value(pre, ref), get_field_value(post, ref)
        if before != after:
            changes.append(f"{text} {before} -> {after}")
    if len(pre.fifo) != len(post.fifo):
        changes.append(f"fifo {len(pre.fifo)} -> {len(post.fifo)}")
    return ", ".join(changes)


def describe_step(state: ModelState) -> tuple[str, str]:
    """Return the (program, result) columns of the step that produced ``state``."""
    programs: list[str] = []
    results: list[str] = []
    for event in state.step.events:
        if event.kind == EventKind.RUN and event.item is not None and event.outcome is not None:
            chain = " > ".join([event.item.prog, *event.outcome.tail_calls])
            programs.append(f"{chain} ({event.item.kind.value})")
            fault = event.outcome.fault
            results.append(f"{event.charged} CU" + ("" if fault is None
                                                    else f", FAULT {fault}, rolled back"))
        elif event.kind == EventKind.SKIP and event.item is not None:
            programs.append(event.item.prog)
            results.append("skipped (stale)")
        elif event.kind == EventKind.ENQUEUE and event.item is not None:
            results.append(f"+{event.item.prog}")
        elif event.kind == EventKind.SUPPRESS:
            results.append("suppressed cascade")
        elif event.kind == EventKind.DEFER:
            results.append(f"deferred {event.count}")
    if state.error is not None:
        results.append(f"INVALID: {state.error}")
    return ", ".join(programs), ", ".join(results)


def render_trace(trace: Trace[ModelState, Action], bundle: schema.Bundle) -> list[str]:
    """Return the trace as table lines: step, slot, action, program, result, changes."""
    return render_rows(trace.initial, [(step.label, step.state) for step in trace.steps],
                       bundle)


def render_rows(initial: ModelState, steps: Sequence[tuple[str, ModelState]],
                bundle: schema.Bundle, *, cycle_from: int | None = None) -> list[str]:
    """Return (label, state) steps as a table; steps from ``cycle_from`` on are marked ``*``."""
    fields = get_named_fields(bundle)
    rows = [("step", "slot", "action", "program", "result", "changes")]
    previous = initial
    for n, (label, state) in enumerate(steps, 1):
        program, result = describe_step(state)
        changes = describe_changes(fields, previous.runtime, state.runtime)
        mark = "*" if cycle_from is not None and n > cycle_from else ""
        rows.append((f"{n}{mark}", str(previous.runtime.slot), label, program, result, changes))
        previous = state
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    return ["    " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            .rstrip() for row in rows]


def get_violation_reason(system: RuntimeSystem, violation: Violation[ModelState, Action],
                         ) -> str:
    """Return the one-line reason of a violation, re-evaluated on its final state."""
    final = violation.trace.final
    if violation.invariant == STEP_INVARIANT:
        return final.error or "invalid transition"
    reason = system.get_step_violation(violation.invariant, final)
    if reason is None:
        reason = system.get_state_violation(violation.invariant, final)
    if reason is None and violation.invariant == REPLICA_INVARIANT:
        system.is_replica_deterministic(final)
        reason = system.get_state_violation(violation.invariant, final)
    return reason or "violated"


def describe_reductions(partial_order: bool, symmetry: bool, cache: bool) -> str:
    """Return ``reductions on``/``off``, or which of the three are on."""
    on = [name for name, flag in (("partial-order", partial_order), ("symmetry", symmetry),
                                  ("cache", cache)) if flag]
    if len(on) == 3:
        return "reductions on"
    return "reductions off" if not on else "reductions: " + ", ".join(on)


def render_report(system: RuntimeSystem, result: ExplorationResult[ModelState, Action],
                  path: str, reductions: str, timing: bool,
                  starvation: StarvationOutcome | None = None) -> str:
    """Return the report text of an exploration (and of the starvation check, if run)."""
    bundle = system.bundle
    lines = [f"explore {bundle.name or Path(path).stem} ({path}): {system.slots} slots, "
             f"{reductions}"]
    names = get_check_names(system)
    width = max(len(n) for n in [*names, STARVATION_INVARIANT])
    for name, verdict in sorted(result.invariant_verdicts,
                                key=lambda nv: names.index(nv[0])):
        shown = Verdict.BOUND_REACHED if verdict == Verdict.UNDECIDED else verdict
        lines.append(f"  {name.ljust(width)}  {shown.value}")
    if starvation is not None:
        lines.append(f"  {STARVATION_INVARIANT.ljust(width)}  {starvation.verdict.value}"
                     f"  (fair cycles, slot-abstracted: {starvation.states} states)")
    st = result.stats
    lines.append(f"states {st.states}, transitions {st.transitions}, depth {st.max_depth}")
    if result.bound is not None:
        lines.append(f"bound reached: {result.bound}")
    cache = getattr(system.invoker, "stats", None)
    if cache is not None:
        lines.append(f"invocations {cache.hits + cache.misses}, cache hit share "
                     f"{100 * cache.hit_share:.1f}%")
    if timing:
        lines.append(f"time {st.elapsed_seconds:.2f} s, {st.states_per_second:.0f} states/s")
    for violation in result.violations:
        reason = get_violation_reason(system, violation)
        lines.append(f"VIOLATED {violation.invariant}: {reason}")
        lines.append(f"  shortest trace: {len(violation.trace)} steps")
        lines.extend(render_trace(violation.trace, bundle))
    if starvation is not None:
        lines.extend(render_starvation(starvation, bundle))
    lines.append(f"verdict: {combine_verdicts(result.verdict, starvation).value}")
    return "\n".join(lines) + "\n"


def render_starvation(outcome: StarvationOutcome, bundle: schema.Bundle) -> list[str]:
    """Return the note or the lasso of a starvation check (steps on the cycle marked ``*``)."""
    if outcome.note is not None:
        return [f"{STARVATION_INVARIANT}: {outcome.note}"]
    if outcome.lasso is None:
        return []
    initial, rows, prefix = get_lasso_rows(outcome.lasso)
    cycle = len(rows) - prefix
    return [f"VIOLATED {STARVATION_INVARIANT}: {get_starving_item(outcome.lasso)} stays "
            "queued forever on a weakly fair run",
            f"  lasso: prefix {prefix} steps, then cycle {cycle} steps (marked *) forever",
            *render_rows(initial, rows, bundle, cycle_from=prefix)]


def combine_verdicts(verdict: Verdict, starvation: StarvationOutcome | None) -> Verdict:
    """Return the overall verdict of an exploration and a starvation check."""
    if starvation is None or verdict == Verdict.VIOLATED:
        return verdict
    if starvation.verdict == Verdict.VIOLATED:
        return Verdict.VIOLATED
    if starvation.verdict != Verdict.HOLDS:
        return Verdict.BOUND_REACHED
    return verdict


# --------------------------------------------------------------------------- traces as data


def encode_action(action: Action) -> dict[str, Any]:
    """Return the JSON form of an action."""
    if isinstance(action, DomainWrite):
        return {"action": "DomainWrite", "account": action.account, "field": action.field,
                "value": action.value}
    return {"action": type(action).__name__}


_ACTIONS: Final[dict[str, Callable[[], Action]]] = {
    "ApplyWrite": ApplyWrite, "EnqueueDue": EnqueueDue, "RunHead": RunHead, "EndSlot": EndSlot}


def decode_action(data: object, where: str) -> Action:
    """Return the action of a JSON step; raise :class:`InputError` when malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        raise InputError(f"{where}: a step must be an object with an `action`")
    name = data["action"]
    if name == "DomainWrite":
        account, field_name, value = data.get("account"), data.get("field"), data.get("value")
        if not isinstance(account, str) or not isinstance(field_name, str) \
                or not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"{where}: DomainWrite needs `account`, `field` and an integer "
                             "`value`")
        return DomainWrite(account, field_name, value)
    if name not in _ACTIONS:
        raise InputError(f"{where}: unknown action {name!r}")
    return _ACTIONS[name]()


def encode_trace(path: str, slots: int, violation: Violation[ModelState, Action],
                 reason: str) -> str:
    """Return the JSON text of a counterexample trace (deterministic, sorted keys)."""
    data = {
        "format": TRACE_FORMAT, "version": TRACE_VERSION, "bundle": path, "slots": slots,
        "invariant": violation.invariant, "kind": violation.kind, "reason": reason,
        "steps": [encode_action(step.action) for step in violation.trace.steps],
    }
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- entry points


def make_progress(stream: TextIO | None) -> Callable[[Progress], None] | None:
    """Return a live progress printer for a terminal ``stream``, else ``None``."""
    if stream is None or not stream.isatty():
        return None

    def show(p: Progress) -> None:
        rate = p.states / p.elapsed_seconds if p.elapsed_seconds > 0 else 0.0
        stream.write(f"\r{p.states} states, {p.transitions} transitions, depth {p.depth}, "
                     f"frontier {p.frontier}, {rate:.0f} states/s\x1b[K")
        stream.flush()
    return show


def explore_bundle(path: str, *, slots: int | None = None, max_states: int | None = None,
                   max_depth: int | None = None, reductions: bool = True,
                   trace_out: str | None = None, dot_out: str | None = None,
                   progress_stream: TextIO | None = None, timing: bool = True,
                   partial_order: bool | None = None, symmetry: bool | None = None,
                   cache: bool | None = None) -> tuple[int, str]:
    """Explore a bundle's behaviours and return ``(exit code, report text)``.

    :param path: the ``program.yaml`` bundle.
    :param slots: horizon in slots (default ``properties.explore.slots``, else 6), 1..64.
    :param max_states: stop after this many distinct states (verdicts become BOUND-REACHED).
    :param max_depth: do not expand states deeper than this many steps.
    :param reductions: partial-order and symmetry reduction and the invocation cache.
    :param partial_order: override ``reductions`` for partial-order reduction alone.
    :param symmetry: override ``reductions`` for symmetry reduction alone.
    :param cache: override ``reductions`` for the invocation cache alone.
    :param trace_out: write the first (shortest) violation's trace here as JSON.
    :param dot_out: write DOT here: the first violation's trace (the whole state graph when
        nothing is violated and the space is small); with a violation and a small space the
        state graph also goes to ``<dot_out>.states.dot``.
    :param progress_stream: where live progress goes, only if it is a terminal.
    :param timing: include the (non-reproducible) ``time`` line.
    :returns: exit code (0 holds, 1 violated, 3 bound reached) and the report.
    :raises InputError: for a bundle that cannot be loaded or explored, or bad options.
    """
    bundle = load_bundle(path)
    horizon = check_explore_input(bundle, path, slots, max_states, max_depth)
    checks = compile_checks(bundle)
    use_por = reductions if partial_order is None else partial_order
    use_symmetry = reductions if symmetry is None else symmetry
    use_cache = reductions if cache is None else cache
    system = build_system(bundle, path, horizon, checks, cache=use_cache)
    states, transitions = system.build_invariants()
    por = use_por and not system.domains_overlap()
    progress = make_progress(progress_stream)
    result = explore(system, invariants=states, transition_invariants=transitions,
                     bounds=Bounds(max_depth=max_depth, max_states=max_states),
                     stop_at_first_violation=False, record_edges=dot_out is not None,
                     ample=EnvironmentOrder(system) if por else None,
                     canonicalize=system.canonicalize if use_symmetry else None,
                     progress=progress, progress_every=2000)
    if progress is not None and progress_stream is not None:
        progress_stream.write("\n")
    starvation = (run_starvation_check(bundle, path, cache=use_cache, max_states=max_states)
                  if is_starvation_requested(bundle) else None)
    report = render_report(system, result, path,
                           describe_reductions(use_por, use_symmetry, use_cache), timing,
                           starvation)
    first = result.violation
    if trace_out is not None and first is not None:
        write_text(trace_out, encode_trace(path, horizon, first,
                                           get_violation_reason(system, first)))
    if dot_out is not None:
        write_dots(dot_out, result, first)
    overall = combine_verdicts(result.verdict, starvation)
    if overall == Verdict.VIOLATED:
        return EXIT_VIOLATED, report
    if overall != Verdict.HOLDS:
        return EXIT_INCONCLUSIVE, report
    return EXIT_OK, report


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path``; raise :class:`InputError` if it cannot be written."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror}", file=path) from None


def write_dots(dot_out: str, result: ExplorationResult[ModelState, Action],
               first: Violation[ModelState, Action] | None) -> None:
    """Write the DOT pictures of an exploration (see :func:`explore_bundle`)."""
    small = len(result.space) <= MAX_DRAWN_STATES
    if first is not None:
        write_text(dot_out, trace_to_dot(first.trace, name=first.invariant))
        if small:
            write_text(dot_out + ".states.dot", space_to_dot(result.space))
    elif small:
        write_text(dot_out, space_to_dot(result.space))
    else:
        write_text(dot_out, f'digraph "states" {{\n  note [shape=note, label="'
                            f'{len(result.space)} states: too many to draw"];\n}}\n')


def read_trace(path: str) -> dict[str, Any]:
    """Read and check a trace file; raise :class:`InputError` when it is not one."""
    raw = read_limited(path, MAX_TRACE_FILE_BYTES, what="trace file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # ValueError: JSON, digits
        raise InputError(f"not a JSON trace: {str(err)[:200]}", file=path) from None
    if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
        raise InputError(f"not an {TRACE_FORMAT} file (missing `format: {TRACE_FORMAT}`)",
                         file=path)
    if data.get("version") != TRACE_VERSION:
        raise InputError(f"unsupported trace version {data.get('version')!r}", file=path)
    for key, kind in (("bundle", str), ("invariant", str), ("slots", int), ("steps", list)):
        if not isinstance(data.get(key), kind):
            raise InputError(f"`{key}` is missing or not a {kind.__name__}", file=path)
    return data


def resolve_bundle_path(trace_path: str, bundle: str) -> str:
    """Return the bundle path as written, or relative to the trace file if that exists."""
    try:
        if Path(bundle).exists():
            return bundle
        beside = Path(trace_path).parent / bundle
        return str(beside) if beside.exists() else bundle
    except (OSError, ValueError):  # a name too long, or with a NUL byte: loading reports it
        return bundle


def replay_trace(path: str) -> tuple[int, str]:
    """Re-execute a JSON trace on the reference runtime and check its violation again.

    :param path: a trace written by :func:`explore_bundle` (``trace_out``).
    :returns: ``(1, report)`` when the recorded invariant is violated again at the end of
        the trace, ``(0, report)`` when it is not (e.g. the bundle was fixed).
    :raises InputError: for a malformed trace, a bundle that cannot be loaded, an invariant
        the bundle does not check, or a step that is not enabled when it is replayed.
    """
    data = read_trace(path)
    bundle_path = resolve_bundle_path(path, data["bundle"])
    bundle = load_bundle(bundle_path)
    slots = data["slots"]
    if not 1 <= slots <= MAX_EXPLORE_SLOTS:
        raise InputError(f"`slots` must be in 1..{MAX_EXPLORE_SLOTS}, not {slots}", file=path)
    checks = compile_checks(bundle)
    system = build_system(bundle, bundle_path, slots, checks, cache=False)
    name = data["invariant"]
    if name not in get_check_names(system):
        raise InputError(f"the bundle does not check invariant {name!r}", file=path)
    state = system.initial_states()[0]
    steps: list[TraceStep[ModelState, Action]] = []
    for n, raw in enumerate(data["steps"], 1):
        action = decode_action(raw, f"{path}: step {n}")
        enabled = system.actions(state)
        if action not in enabled:
            raise InputError(f"step {n} ({describe_action(action)}) is not enabled when "
                             "replayed: the bundle or the spec changed since the trace was "
                             "written", file=path)
        state = system.apply(state, action)
        steps.append(TraceStep(list(enabled).index(action), action, describe_action(action),
                               state))
    trace: Trace[ModelState, Action] = Trace(system.initial_states()[0], tuple(steps))
    reason = get_replayed_reason(system, name, trace)
    lines = [f"replay {path}: {len(steps)} steps of {bundle.name or bundle_path} "
             f"({bundle_path})"]
    lines.extend(render_trace(trace, bundle))
    if reason is None:
        lines.append(f"not reproduced: {name} holds at the end of the trace")
        return EXIT_OK, "\n".join(lines) + "\n"
    lines.append(f"reproduced: VIOLATED {name}: {reason}")
    return EXIT_VIOLATED, "\n".join(lines) + "\n"


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


def explore_verdicts(path: str, *, slots: int, reductions: bool,
                     max_states: int | None = None) -> dict[str, str]:
    """Return ``{invariant: verdict}`` of an exploration (for tests and benchmarks)."""
    bundle = load_bundle(path)
    horizon = check_explore_input(bundle, path, slots, max_states, None)
    system = build_system(bundle, path, horizon, compile_checks(bundle), cache=reductions)
    states, transitions = system.build_invariants()
    result = explore(system, invariants=states, transition_invariants=transitions,
                     bounds=Bounds(max_states=max_states), stop_at_first_violation=False,
                     ample=EnvironmentOrder(system) if reductions else None,
                     canonicalize=system.canonicalize if reductions else None)
    verdicts = {name: verdict.value for name, verdict in result.invariant_verdicts}
    if is_starvation_requested(bundle):
        starvation = run_starvation_check(bundle, path, cache=reductions,
                                          max_states=max_states)
        verdicts[STARVATION_INVARIANT] = starvation.verdict.value
    return verdicts


__all__: Sequence[str] = ["explore_bundle", "explore_verdicts", "replay_trace"]
