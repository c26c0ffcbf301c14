"""
Exploring a bundle
==================

``spec-check explore BUNDLE --slots N`` and ``spec-check replay TRACE.json``: load a bundle,
explore every behaviour its scenario allows for ``N`` slots (:mod:`arspec.model.runtime_system`
on the generic explorer), check the invariant catalogue (:mod:`arspec.spec.catalogue`), the
user invariants and replica determinism, and report per invariant HOLDS / VIOLATED /
BOUND-REACHED with the shortest trace of each violation as a table.

:func:`explore_bundle` returns an :class:`ExploreOutcome`: the overall verdict (HOLDS,
VIOLATED, or BOUND-REACHED when a bound stopped the search and nothing was violated), each
invariant's verdict and the report text; it prints nothing. Bad input raises
:class:`~arspec.spec.errors.InputError`.

Everything printed is deterministic (independent of hash seeds) except the ``time`` line,
which ``timing=False`` leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from arspec.model.bundle_system import (
    build_system,
    compile_checks,
    get_bundle_invariants,
    get_check_names,
)
from arspec.model.distributed import DistributedStats, SystemSpec, explore_distributed
from arspec.model.engine import (
    Bounds,
    ExplorationResult,
    FrontierCodec,
    Invariant,
    Progress,
    StoreMode,
    Trace,
    TransitionInvariant,
    Verdict,
    Violation,
    explore,
)
from arspec.model.resources import format_size, get_peak_resident_bytes, get_resident_bytes
from arspec.model.runtime_system import (
    REPLICA_INVARIANT,
    STEP_INVARIANT,
    CacheStats,
    CheckSet,
    EnvironmentOrder,
    ModelState,
    RuntimeSystem,
)
from arspec.model.starvation import (
    UNBOUNDED_SLOTS,
    StarvationOutcome,
    check_no_starvation,
    get_lasso_rows,
    get_starving_item,
)
from arspec.model.state_codec import describe_collisions
from arspec.model.step_text import (
    FunctionNames,
    describe_changes,
    describe_step,
    get_function_names,
    get_named_fields,
)
from arspec.model.stopping import REPLICA_STATES, TIMEOUT, get_timeout_seconds
from arspec.model.trace_file import encode_trace
from arspec.spec import bundle as schema
from arspec.spec.catalogue import (
    STARVATION_INVARIANT,
)
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import (
    Action,
)

#: Longest exploration horizon, in slots (``properties.explore.slots`` allows the same).
MAX_EXPLORE_SLOTS: Final = 64
#: A domain with more values than this is refused as too large to explore exhaustively.
MAX_DOMAIN_VALUES: Final = 64
#: The state graph is drawn only for spaces with at most this many states.
MAX_DRAWN_STATES: Final = 300
TRACE_FORMAT: Final = "arspec-trace"
TRACE_VERSION: Final = 1




@dataclass(frozen=True)
class ExploreOutcome:
    """What :func:`explore_bundle` found."""

    #: ``HOLDS``, ``VIOLATED`` or ``BOUND-REACHED`` (every invariant and the starvation
    #: check combined).
    verdict: str
    #: The report text (deterministic unless ``timing``).
    report: str
    #: ``(invariant, verdict)`` in report order, ``no_starvation`` last when checked.
    invariants: tuple[tuple[str, str], ...]
    #: ``(invariant, reason, steps of the shortest trace)`` per violation.
    violations: tuple[tuple[str, str, int], ...]
    slots: int
    states: int
    transitions: int
    depth: int
    #: The bound that stopped the search (``max-states``, ``timeout``...), if one did.
    bound: str | None


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


def is_starvation_requested(bundle: schema.Bundle) -> bool:
    """Return whether the bundle asks for ``no_starvation``."""
    return STARVATION_INVARIANT in get_bundle_invariants(bundle)


def run_starvation_check(bundle: schema.Bundle, path: str, *, cache: bool,
                         max_states: int | None, max_memory: int | None = None,
                         ) -> StarvationOutcome:
    """Return the ``no_starvation`` outcome of ``bundle`` (:mod:`arspec.model.starvation`)."""
    system = build_system(bundle, path, UNBOUNDED_SLOTS, CheckSet(), cache=cache)
    return check_no_starvation(system, max_states=max_states, max_memory=max_memory,
                               memory_in_use=get_resident_bytes if max_memory else None)


# --------------------------------------------------------------------------- rendering


def render_trace(trace: Trace[ModelState, Action], bundle: schema.Bundle,
                 names: FunctionNames | None = None) -> list[str]:
    """Return the trace as table lines: step, slot, action, program, result, changes."""
    return render_rows(trace.initial, [(step.label, step.state) for step in trace.steps],
                       bundle, names=names)


def render_rows(initial: ModelState, steps: Sequence[tuple[str, ModelState]],
                bundle: schema.Bundle, *, cycle_from: int | None = None,
                names: FunctionNames | None = None) -> list[str]:
    """Return (label, state) steps as a table; steps from ``cycle_from`` on are marked ``*``."""
    fields = get_named_fields(bundle)
    rows = [("step", "slot", "action", "program", "result", "changes")]
    previous = initial
    for n, (label, state) in enumerate(steps, 1):
        program, result = describe_step(state, names)
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
    return describe_map_keys(reason or "violated", system.bundle)


#: Array-like map types: a key is a little-endian u32 index.
_INDEXED_MAPS: Final = ("array", "percpu_array", "prog_array")


def describe_map_keys(text: str, bundle: schema.Bundle) -> str:
    """Return ``text`` with array keys as indexes: ``clock[00000000]`` -> ``clock[0]``.

    The spec names an element by its raw key bytes in hex; for an array map that key is a
    little-endian u32 index, which is how the bundle and its field names address it
    (``clock[0].ticks``). Keys of other maps stay in hex.
    """
    names = [re.escape(n) for n, m in bundle.maps.items() if m.type.value in _INDEXED_MAPS]
    if not names:
        return text
    pattern = re.compile(rf"\b({'|'.join(names)})\[([0-9a-f]{{8}})\]")
    return pattern.sub(
        lambda m: f"{m.group(1)}[{int.from_bytes(bytes.fromhex(m.group(2)), 'little')}]",
        text)


def describe_reductions(partial_order: bool, symmetry: bool, cache: bool) -> str:
    """Return ``reductions on``/``off``, or which of the three are on."""
    on = [name for name, flag in (("partial-order", partial_order), ("symmetry", symmetry),
                                  ("cache", cache)) if flag]
    if len(on) == 3:
        return "reductions on"
    return "reductions off" if not on else "reductions: " + ", ".join(on)


def render_report(system: RuntimeSystem, result: ExplorationResult[ModelState, Action],
                  path: str, reductions: str, timing: bool,
                  starvation: StarvationOutcome | None = None, *,
                  given_max_states: bool = False,
                  distributed: DistributedStats | None = None) -> str:
    """Return the report text of an exploration (and of the starvation check, if run).

    When a bound made the verdict inconclusive, the first line says so and which setting
    to change (:func:`get_bound_advice`).
    """
    bundle = system.bundle
    overall = combine_verdicts(result.verdict, starvation)
    lines = [] if overall != Verdict.BOUND_REACHED else [
        f"BOUND-REACHED: "
        f"{get_bound_advice(result, starvation, given_max_states, system.replica_states)}"]
    lines += [f"explore {bundle.name or Path(path).stem} ({path}): {system.slots} slots, "
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
    lines.append("seen-set: " + describe_store(result))
    if result.bound is not None:
        lines.append(f"bound reached: {result.bound}")
    cache = getattr(system.invoker, "stats", None)
    if distributed is not None:
        lines.append(f"workers {distributed.workers}, "
                     f"{distributed.bytes_per_state(st.states):.0f} bytes/state sent between "
                     "workers")
        cache = CacheStats(distributed.cache_hits, distributed.cache_misses)
    if cache is not None:
        lines.append(f"invocations {cache.hits + cache.misses}, cache hit share "
                     f"{100 * cache.hit_share:.1f}%")
    if timing:
        lines.append(f"time {st.elapsed_seconds:.2f} s, {st.states_per_second:.0f} states/s, "
                     f"peak RSS {format_size(get_peak_resident_bytes())}")
    for violation in result.violations:
        reason = get_violation_reason(system, violation)
        lines.append(f"VIOLATED {violation.invariant}: {reason}")
        lines.append(f"  shortest trace: {len(violation.trace)} steps")
        lines.extend(render_trace(violation.trace, bundle, get_function_names(system)))
    if starvation is not None:
        lines.extend(render_starvation(starvation, bundle, get_function_names(system)))
    lines.append(f"verdict: {overall.value}")
    return "\n".join(lines) + "\n"


def get_bound_advice(result: ExplorationResult[ModelState, Action],
                     starvation: StarvationOutcome | None, given_max_states: bool,
                     replica_states: int = 0) -> str:
    """Return what stopped an inconclusive exploration, what it covered and what to raise."""
    st = result.stats
    if result.bound == TIMEOUT:
        return (f"--timeout {get_timeout_seconds() or 0:g} s passed after {st.states} states "
                f"(depth {st.max_depth}); raise --timeout")
    if result.bound == REPLICA_STATES:
        return (f"the replica-determinism check computed {replica_states} states, which "
                f"count in --max-states, after {st.states} states of the search (depth "
                f"{st.max_depth}); raise --max-states or give scenario.domains fewer values")
    if result.bound == "max-states":
        return (f"the search stopped at --max-states {st.states} (depth {st.max_depth} "
                "reached); raise --max-states")
    if result.bound == "max-depth":
        return (f"states deeper than --max-depth {st.max_depth} were not expanded "
                f"({st.states} states); raise --max-depth")
    if result.bound == "max-memory":
        return (f"the process reached --max-memory after {st.states} states (depth "
                f"{st.max_depth}); raise --max-memory or lower --slots")
    if starvation is None or starvation.verdict != Verdict.BOUND_REACHED:
        return "the search did not complete"
    leave_out = (f"leave {STARVATION_INVARIANT} out of properties.explore.invariants for a "
                 "verdict on the other invariants")
    if starvation.bound == "not checked":
        note = (starvation.note or "").removeprefix("not checked: ")
        return f"{STARVATION_INVARIANT} cannot be checked ({note}); {leave_out}"
    if starvation.bound == "max-memory":
        return (f"{STARVATION_INVARIANT} reached --max-memory after {starvation.states} "
                "abstract states; raise --max-memory")
    if starvation.bound == TIMEOUT:
        return (f"--timeout {get_timeout_seconds() or 0:g} s passed while checking "
                f"{STARVATION_INVARIANT} ({starvation.states} abstract states); raise "
                "--timeout")
    return (f"{STARVATION_INVARIANT} stopped at {starvation.states} abstract states "
            f"({'--max-states' if given_max_states else 'its default cap'}); raise "
            "--max-states (if a value grows every slot, such as a counter, "
            f"the abstract graph is infinite: then {leave_out})")


def describe_store(result: ExplorationResult[ModelState, Action]) -> str:
    """Return ``exact (every state stored)`` or the fingerprint width and expected loss."""
    if result.space.store == StoreMode.EXACT:
        return "exact (every state's encoding stored)"
    return describe_collisions(result.stats.states)


def render_starvation(outcome: StarvationOutcome, bundle: schema.Bundle,
                      names: FunctionNames | None = None) -> list[str]:
    """Return the note or the lasso of a starvation check (steps on the cycle marked ``*``)."""
    if outcome.note is not None:
        return [f"{STARVATION_INVARIANT}: {outcome.note}"]
    if outcome.lasso is None:
        return []
    initial, rows, prefix = get_lasso_rows(outcome.lasso)
    cycle = len(rows) - prefix
    item = describe_map_keys(get_starving_item(outcome.lasso), bundle)
    return [f"VIOLATED {STARVATION_INVARIANT}: {item} stays "
            "queued forever on a weakly fair run",
            f"  lasso: prefix {prefix} steps, then cycle {cycle} steps (marked *) forever",
            *render_rows(initial, rows, bundle, cycle_from=prefix, names=names)]


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


# --------------------------------------------------------------------------- entry points


def explore_bundle(path: str, *, bundle: schema.Bundle | None = None,
                   slots: int | None = None, max_states: int | None = None,
                   max_depth: int | None = None, reductions: bool = True,
                   trace_out: str | None = None, dot_out: str | None = None,
                   progress: Callable[[Progress], None] | None = None, timing: bool = True,
                   partial_order: bool | None = None, symmetry: bool | None = None,
                   cache: bool | None = None, exact: bool = False,
                   max_memory: int | None = None, workers: int | None = None,
                   ray_address: str | None = None) -> ExploreOutcome:
    """Explore a bundle's behaviours and return the :class:`ExploreOutcome`.

    :param path: the ``program.yaml`` bundle.
    :param bundle: the bundle at ``path`` when the caller has loaded it (not parsed again).
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
    :param progress: called with a :class:`~arspec.model.engine.Progress` every 2,000 new
        states (the front end draws the live line).
    :param timing: include the (non-reproducible) ``time`` line.
    :param exact: keep every state's encoding in the seen-set instead of a 64-bit
        fingerprint (no state can be lost to a collision; more memory).
    :param max_memory: stop with BOUND-REACHED when the process's resident memory exceeds
        this many bytes (measured every 1024 new states and per BFS level).
    :param workers: explore on this many Ray workers (:mod:`arspec.model.distributed`;
        partial-order reduction off, no ``dot_out`` state graph).
    :param ray_address: the Ray cluster to join (default: a local one).
    :raises InputError: for a bundle that cannot be loaded or explored, or bad options.
    """
    if bundle is None:
        bundle = load_bundle(path)
    horizon = check_explore_input(bundle, path, slots, max_states, max_depth)
    use_por = reductions if partial_order is None else partial_order
    use_symmetry = reductions if symmetry is None else symmetry
    use_cache = reductions if cache is None else cache
    system = build_system(bundle, path, horizon, compile_checks(bundle), cache=use_cache)
    system.replica_max_states, system.replica_max_memory = max_states, max_memory
    invariants = system.build_invariants()
    por = use_por and not system.domains_overlap() and workers is None
    if workers is not None and (max_memory is not None or exact):
        raise InputError("--workers cannot be combined with --max-memory or --exact-states")
    bounds = Bounds(max_depth=max_depth, max_states=max_states,
                    max_memory_bytes=None if workers is not None else max_memory)
    if workers is not None:
        result, distributed = explore_distributed(
            SystemSpec(path, horizon, use_symmetry, use_cache), system, workers=workers,
            address=ray_address, bounds=bounds)
    else:
        result, distributed = search(system, invariants, bounds, por=por, symmetry=use_symmetry,
                                     exact=exact, drawn=dot_out is not None,
                                     progress=progress), None
    starvation = (run_starvation_check(bundle, path, cache=use_cache, max_states=max_states,
                                       max_memory=max_memory)
                  if is_starvation_requested(bundle) else None)
    report = render_report(system, result, path,
                           describe_reductions(use_por and workers is None, use_symmetry,
                                               use_cache), timing,
                           starvation, given_max_states=max_states is not None,
                           distributed=distributed)
    if trace_out is not None:
        write_trace(trace_out, path, horizon, system, result.violation, starvation)
    if dot_out is not None:
        write_dots(dot_out, result, result.violation, system)
    return summarise(system, result, starvation, report)


def search(system: RuntimeSystem,
           invariants: tuple[list[Invariant[ModelState]],
                             list[TransitionInvariant[ModelState, Action]]],
           bounds: Bounds, *, por: bool, symmetry: bool, exact: bool,
           drawn: bool, progress: Callable[[Progress], None] | None,
           ) -> ExplorationResult[ModelState, Action]:
    """Run the breadth-first search of one process over the system's state space."""
    states, transitions = invariants
    return explore(system, invariants=states, transition_invariants=transitions,
                   bounds=bounds,
                   memory_in_use=get_resident_bytes if bounds.max_memory_bytes else None,
                   stop_at_first_violation=False, record_edges=drawn,
                   tagger=describe_node if drawn else None,
                   ample=EnvironmentOrder(system) if por else None,
                   canonicalize=system.canonicalize if symmetry else None,
                   progress=progress, progress_every=2000,
                   store=StoreMode.EXACT if exact else StoreMode.FINGERPRINT,
                   frontier_state=system.compact,
                   frontier_codec=FrontierCodec(system.pack_state, system.unpack_state))


def summarise(system: RuntimeSystem, result: ExplorationResult[ModelState, Action],
              starvation: StarvationOutcome | None, report: str) -> ExploreOutcome:
    """Return the outcome of a search and a starvation check as plain data."""
    names = get_check_names(system)
    invariants = [(name, (Verdict.BOUND_REACHED if v == Verdict.UNDECIDED else v).value)
                  for name, v in sorted(result.invariant_verdicts,
                                        key=lambda nv: names.index(nv[0]))]
    violations = [(v.invariant, get_violation_reason(system, v), len(v.trace))
                  for v in result.violations]
    if starvation is not None:
        invariants.append((STARVATION_INVARIANT, starvation.verdict.value))
        if starvation.lasso is not None:
            violations.append((STARVATION_INVARIANT, describe_map_keys(
                f"{get_starving_item(starvation.lasso)} stays queued forever on a weakly "
                "fair run", system.bundle),
                len(starvation.lasso.prefix) + len(starvation.lasso.cycle)))
    st = result.stats
    return ExploreOutcome(combine_verdicts(result.verdict, starvation).value, report,
                          tuple(invariants), tuple(violations), system.slots, st.states,
                          st.transitions, st.max_depth, result.bound)


def write_trace(trace_out: str, path: str, horizon: int, system: RuntimeSystem,
                first: Violation[ModelState, Action] | None,
                starvation: StarvationOutcome | None) -> None:
    """Write the shortest safety trace, else the ``no_starvation`` lasso, as JSON.

    Nothing is written when nothing is violated (the report's last lines say so).
    """
    if first is not None:
        write_text(trace_out, encode_trace(
            path, trace_out, horizon, first.invariant, first.kind,
            get_violation_reason(system, first), [s.action for s in first.trace.steps]))
    elif starvation is not None and starvation.lasso is not None:
        lasso = starvation.lasso
        actions = [s.action for s in (*lasso.prefix.steps, *lasso.cycle)]
        write_text(trace_out, encode_trace(
            path, trace_out, horizon, STARVATION_INVARIANT, "lasso",
            describe_map_keys(f"{get_starving_item(lasso)} stays queued forever on a weakly "
                              "fair run", system.bundle), actions,
            cycle_from=len(lasso.prefix)))


def describe_node(state: ModelState) -> str:
    """Return a state-graph node's label: ``slot 2 run, FIFO 1``."""
    rt = state.runtime
    return f"slot {rt.slot} {rt.phase.value}, FIFO {len(rt.fifo)}"


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path``; raise :class:`InputError` if it cannot be written."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror}", file=path) from None


def write_dots(dot_out: str, result: ExplorationResult[ModelState, Action],
               first: Violation[ModelState, Action] | None, system: RuntimeSystem) -> None:
    """Write the DOT pictures of an exploration (see :func:`explore_bundle`)."""
    from arspec.model.bundle_dot import graph_picture, trace_picture

    small = len(result.space) <= MAX_DRAWN_STATES and result.space.record_edges
    labels = [str(tag) for tag in result.space.tags]
    if first is not None:
        write_text(dot_out, trace_picture(first.trace, system.bundle,
                                          get_function_names(system), first.invariant,
                                          get_violation_reason(system, first)))
        if small:
            write_text(dot_out + ".states.dot", graph_picture(result, labels, first))
    elif small:
        write_text(dot_out, graph_picture(result, labels, None))
    else:
        write_text(dot_out, f'digraph "states" {{\n  note [shape=note, label="'
                            f'{result.stats.states} states: not drawn"];\n}}\n')


def explore_result(path: str, *, slots: int | None = None, reductions: bool = True,
                   max_states: int | None = None, store: StoreMode = StoreMode.FINGERPRINT,
                   pack_above: int = 20_000,
                   ) -> tuple[RuntimeSystem, ExplorationResult[ModelState, Action]]:
    """Return the system and the exploration result of a bundle (for tests and benchmarks).

    The safety part of :func:`explore_bundle` (no starvation check, no rendering).
    """
    bundle = load_bundle(path)
    horizon = check_explore_input(bundle, path, slots, max_states, None)
    system = build_system(bundle, path, horizon, compile_checks(bundle), cache=reductions)
    states, transitions = system.build_invariants()
    por = reductions and not system.domains_overlap()
    result = explore(system, invariants=states, transition_invariants=transitions,
                     bounds=Bounds(max_states=max_states), stop_at_first_violation=False,
                     ample=EnvironmentOrder(system) if por else None,
                     canonicalize=system.canonicalize if reductions else None, store=store,
                     frontier_state=system.compact,
                     frontier_codec=FrontierCodec(system.pack_state, system.unpack_state,
                                                  pack_above))
    return system, result


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


__all__: Sequence[str] = ["ExploreOutcome", "explore_bundle", "explore_verdicts"]
