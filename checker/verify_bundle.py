"""
Bundle verification
===================

:func:`verify_bundle` checks every program of a ``program.yaml`` bundle and returns the
data (:class:`BundleResult`). Each program is
verified from every entry point it has: its hook's entry (with the runtime's entry registers,
:class:`~arspec.checker.objects.EntryKind`) and every callback function installed with
``bpf_timer_set_callback`` or ``bpf_wq_set_callback`` (a callback must terminate on its own;
re-arming a timer is a new invocation, not a loop). A ``bpf_loop`` callback is unrolled at
its call (:mod:`~arspec.checker.callbacks`) and gets an entry of its own only where that
was not possible (an opaque context then). The tail-call graph through
prog arrays is built from the code: a cycle is reported (a chain may then run to the
tail-call limit of 33), and the compute figure of a chain adds the worst case of every
program it may reach.

Determinism: programs are loaded with the runtime's ``allow_nondeterministic`` (the runtime
itself still refuses them). A call of a nondeterministic helper in the ``solana`` (consensus)
profile, or of ``bpf_get_smp_processor_id`` in any profile, is a finding. It is first
decided by self-composition (:mod:`~arspec.checker.selfcomp`: two symbolic copies with equal
inputs and independent nondeterministic results; z3 proves equal outputs or gives a model).
Two replays that differ only in nondeterministic results (the model's, else fixed pairs)
and end in different outputs (r0, account writes, logs, ring records, map updates, final
map values) make it REFUTED. Without such a divergence it is REFUTED on the consensus load
policy (saying so), dropped in ``linux`` when self-composition proved it, else UNKNOWN.
Reading a per-CPU map's value (with more than one CPU in the preset) is REFUTED when two
replays that differ only in the CPU's copy of the values end in different outputs, else
UNKNOWN. Otherwise every input of a run is
part of the entry state: the VM and every other helper are deterministic functions of it (the
runtime seeds clocks and random numbers from the slot in ``linux``, and no helper iterates a
hash map), so two runs from equal inputs end in equal outputs, and determinism is PROVED.

The verdict of the bundle (:attr:`BundleResult.verdict`) is REFUTED if some requested
property is REFUTED, else UNKNOWN if one is UNKNOWN, else PROVED; the front end
(:mod:`arspec.cli`) renders the result and maps it to an exit code. Bad input raises
:class:`~arspec.spec.errors.InputError`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import networkx as nx

from arspec.checker.solver import SolverError
from arspec.reference.isa.instructions import Program
from arspec.reference.runtime.contexts import ProgramContext, get_bundle_context
from arspec.reference.runtime.runtime import LoadedProgram, check_program_helpers, load_programs
from arspec.reference.vm.profiles import Profile, get_profile
from arspec.spec import bundle as schema
from arspec.spec.errors import CallDepthExceeded, InputError, InstructionLimit
from arspec.spec.loader import load_bundle
from arspec.spec.presets import get_preset
from arspec.spec.types import ProgId

from . import solver as z
from .assertions import (
    BoundedLoop,
    CallDepthWithin,
    HelperDeterministic,
    StaysInProgram,
    TailCallBounded,
    WithinBudget,
)
from .bundle_replay import (
    BundleReplay,
    bundle_confirms,
    bundle_counterexample,
    replay_bundle,
    replay_bundle_model,
)
from .cfg import build_cfg
from .contexts import ContextModel
from .objects import (
    PER_CPU_HELPERS,
    BundleContext,
    BundleExecutor,
    CallEdge,
    EntryKind,
    MapInfo,
)
from .replay import REPLAY_LIMIT, ConcreteInput
from .selfcomp import SelfComposition, self_compose
from .symbolic import RawFinding, TimeLimitReached
from .verdict import (
    PROPERTY_ORDER,
    Counterexample,
    Finding,
    Property,
    Report,
    Verdict,
)

#: Tail calls one chain may make (Linux ``MAX_TAIL_CALL_CNT``, ``include/linux/bpf.h``).
MAX_TAIL_CALLS: Final = 33
#: Properties checked whatever the bundle requests (a fault breaks every property).
ALWAYS: Final = (Property.DIVISION, Property.CONTROL)
#: Distinct compute-unit values the cheap worst-case bound may track before the solver's
#: binary search takes over (a set of sums, so it grows fast with unrolled callbacks).
LEAVES_CAP: Final = 1 << 17
#: Initial byte values given to every per-CPU value in two replays that differ only there.
PER_CPU_COPIES: Final = ((0x00, 0x01), (0x00, 0xFF))
#: Result pairs of a nondeterministic helper tried by the divergence replay (any clock,
#: random generator or CPU id can return both values of a pair).
DIVERGENCE_PAIRS: Final = ((0, 1), (0, 0xFFFFFFFF), (0x12345678, 0x9ABCDEF1))
#: Source lines a note shows of the path to an exit that still holds a lock or record.
SOURCE_PATH_KEPT: Final = 8

_HOOK_ENTRY: Final = {"startup": "input", "every": "input", "watch": "input",
                      "ringbuf": "record", "tail_call": "tail", "timer": "async",
                      "workqueue": "async"}


@dataclass
class ProgramResult:
    """The report of one program plus its entries, hook and source line."""

    name: str
    hook: str
    report: Report
    line: int | None
    entries: list[tuple[int, str]] = field(default_factory=list)
    chain_cu: int | None = None
    #: Some entry point was not checked (the time limit): no property can be PROVED.
    skipped: bool = False
    #: pc -> (file, line) of the instruction's source (bundle code or C line info).
    source_lines: dict[int, tuple[str, int]] = field(default_factory=dict)

    def source_of(self, pc: int) -> tuple[str, int] | None:
        """Return the source file and line of the instruction at ``pc``, if known."""
        return self.source_lines.get(pc)


@dataclass
class BundleResult:
    """Everything :func:`verify_bundle` found."""

    path: str
    name: str
    profile: str
    requested: tuple[Property, ...]
    programs: list[ProgramResult]
    tail_calls: list[tuple[str, int, tuple[str, ...]]]
    callbacks: list[tuple[str, int, str, str, int]]
    cycles: list[list[str]]

    @property
    def verdict(self) -> Verdict:
        """Return REFUTED if a requested property is REFUTED, else UNKNOWN if one is
        UNKNOWN, else PROVED."""
        verdicts = [p.report.verdict(prop) for p in self.programs for prop in self.requested]
        if Verdict.REFUTED in verdicts:
            return Verdict.REFUTED
        if Verdict.UNKNOWN in verdicts:
            return Verdict.UNKNOWN
        return Verdict.PROVED


def _map_infos(bundle: schema.Bundle) -> tuple[MapInfo, ...]:
    out = []
    for i, (name, spec) in enumerate(bundle.maps.items()):
        out.append(MapInfo(i, name, spec.type.value, spec.key_size, spec.value_size,
                           spec.max_entries, spec.timer, spec.wq,
                           tuple(sorted(spec.entries.items())), spec.spin_lock))
    return tuple(out)


def _program_lines(path: str, names: list[str]) -> dict[str, int]:
    """Return the 1-based line of each ``programs.<name>:`` key of the bundle file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    found: dict[str, int] = {}
    inside = False
    for number, text in enumerate(lines, start=1):
        if re.match(r"^programs\s*:", text):
            inside = True
            continue
        if inside and re.match(r"^\S", text) and not text.startswith("#"):
            inside = False
        match = re.match(r"^\s{1,8}([A-Za-z_][\w-]*)\s*:", text) if inside else None
        if match and match.group(1) in names and match.group(1) not in found:
            found[match.group(1)] = number
    return found


class _EntryRun:
    """Verify one entry point of one program; findings go to ``report``."""

    def __init__(self, loaded: LoadedProgram, context: BundleContext, profile: Profile,
                 report: Report, *, budget: int, rlimit: int, timeout: float,
                 deadline: float | None = None) -> None:
        self.loaded = loaded
        self.context = context
        self.profile = profile
        self.report = report
        self.budget = budget
        self.rlimit = rlimit
        self.timeout = timeout
        self.worst: int | None = None
        self.edges: list[CallEdge] = []
        self.complete = False
        self.reached: set[int] = set()
        self.composed: SelfComposition | None = None
        self.deadline = deadline
        #: What :meth:`run` is doing (for the time-limit finding) and its property.
        self.phase: tuple[str, Property] = ("starting", Property.TERMINATION)
        #: Replays stop where the runtime stops an invocation: at its budget.
        self.replay_limit = min(budget, REPLAY_LIMIT)
        #: The deadline passed while this entry was executed: nothing of it is known.
        self.timed_out = False
        #: The program type's context behind r1 (``None``: the hook's entry registers).
        self.program_context: ProgramContext | None = None

    def run(self, pc: int, entry: EntryKind) -> None:
        """Execute the entry symbolically, replay what can fail, check the budget.

        The deadline is checked at every executed instruction, every solver query (whose
        own limit is cut to the time left) and every 4,096 replayed instructions; when it
        passes, a "Time limit reached" finding names the step and its property, and nothing
        of this entry is PROVED.
        """
        self.phase = ("building the control flow", Property.TERMINATION)
        try:
            self._run(pc, entry)
        except TimeLimitReached:
            self.timed_out = True
            step, prop = self.phase
            self.report.add(Finding(self.report.program, pc, prop, "Time limit reached",
                                    f"verified within {self.timeout:g} s",
                                    note=f"--timeout reached while {step} ({prop.value})"))

    def _run(self, pc: int, entry: EntryKind) -> None:
        program: Program = self.loaded.program
        name = self.report.program
        cfg = build_cfg(program, pc, deadline=self.deadline)
        blocked = any(i.kind in ("recursion", "irreducible", "empty") for i in cfg.issues)
        for issue in cfg.issues:
            if issue.kind == "fall-off" and not blocked:
                continue  # the executor checks (and replays) every feasible fall-off
            prop = {"recursion": Property.TERMINATION, "irreducible": Property.TERMINATION}.get(
                issue.kind, Property.CONTROL)
            self.report.add(Finding(name, issue.pc, prop, issue.message, issue.detail))
        if blocked:
            self.report.notes.append(f"entry pc {pc}: symbolic execution skipped "
                                     "(unsupported control flow)")
            if cfg.functions:
                self.phase = ("running the probes", Property.TERMINATION)
                probe = BundleExecutor(cfg, self.profile, z.Session(z.SolverConfig()),
                                       context=self.context, entry=entry)
                probe.deadline = self.deadline
                self.probe(probe, blocked=True)
            return
        self.reached = {p for f in cfg.functions.values() for p in f.graph.nodes}
        session = z.Session(z.SolverConfig(rlimit=self.rlimit,
                                           timeout_ms=max(1, int(self.timeout * 1000))))
        session.deadline = self.deadline
        executor = BundleExecutor(cfg, self.profile, session, context=self.context,
                                  entry=entry)
        executor.deadline = self.deadline
        if self.program_context is not None:
            executor.program_context = ContextModel(self.program_context)
        self.phase = ("executing the entry symbolically", Property.MEMORY)
        try:
            executor.run()
        except SolverError as exc:
            self.report.add(Finding(name, pc, Property.TERMINATION, "Solver error",
                                    "solver answers", note=str(exc)))
            return
        except RecursionError:
            self.report.add(Finding(name, pc, Property.TERMINATION,
                                    "Program too complex for the verifier", "depth limit",
                                    note="Python recursion limit reached"))
            return
        # Inlined bpf_loop callbacks joined the control flow during the run.
        self.reached = {p for f in cfg.functions.values() for p in f.graph.nodes}
        self.edges = list(executor.facts.edges)
        self.phase = ("replaying per-CPU values", Property.DETERMINISM)
        self.per_cpu_maps(executor, pc)
        self.composed = None
        # Self-composition does not model a program type's context: no proof from it there.
        if self.program_context is None and any(
                isinstance(f.assertion, HelperDeterministic) for f in executor.findings):
            self.phase = ("composing the entry with itself", Property.DETERMINISM)
            try:
                self.composed = self_compose(cfg, self.profile, session, context=self.context,
                                             entry=entry, budget=self.budget)
            except (SolverError, RecursionError):
                self.composed = None
        for raw in executor.findings:
            self.phase = (f"replaying the finding at pc {raw.pc}", raw.assertion.property)
            found = self.finding(raw, executor)
            if found is not None:
                self.report.add(found)
        self.phase = ("running the loop probes", Property.TERMINATION)
        self.probe(executor)
        self.phase = ("bounding the compute units", Property.COMPUTE)
        self.compute(executor)
        for _header, summary in sorted(executor.loops.items()):
            if summary.ranked:
                self.report.notes.append(f"entry pc {pc}: {summary.describe()}")
        if session.unknown_reasons:
            self.report.notes.append(f"entry pc {pc}: solver gave up "
                                     f"{len(session.unknown_reasons)} time(s)")
        observed = executor.observation_note()
        if observed:
            self.report.notes.append(f"entry pc {pc}: {observed}")
        self.complete = not executor.incomplete and not observed

    def per_cpu_maps(self, executor: BundleExecutor, pc: int) -> None:
        """Decide whether the entry's outputs depend on which CPU's per-CPU values it sees.

        Each CPU has its own copy of a per-CPU map's values. Two replays from one model
        that differ only in the initial bytes of those copies (:data:`PER_CPU_COPIES`) and
        end in different outputs (per-CPU values themselves left aside) refute
        determinism. Otherwise it stays UNKNOWN: equal outputs for every pair of copies
        are not proved. A preset with one CPU has one copy, so nothing is reported.
        """
        maps = self.context.maps
        regions = {r: o for r, o in executor.objects.items()
                   if o.map_index is not None and 0 <= o.map_index < len(maps)
                   and "percpu" in maps[o.map_index].type}
        if not regions or self.context.num_cpus < 2:
            return
        used = sorted({maps[o.map_index].name for o in regions.values()
                       if o.map_index is not None})
        message, assertion = "Result may depend on the CPU", "per-cpu map " + ", ".join(used)
        name = self.report.program
        lookups = sorted(int(key.split("@")[0]) for key, region in
                         executor.facts.lookups.items() if region in regions)
        at = lookups[0] if lookups else pc
        ends = [s.path for s in executor.exits] + [g for g, _ in executor.fault_exits]
        answer, model = executor.session.solve(z.or_(*ends), *executor.realisable)
        if answer is z.SatResult.SAT and model is not None:
            private = tuple(f"{o.what} = " for o in regions.values())
            for left, right in PER_CPU_COPIES:
                runs = [replay_bundle_model(
                    executor, model, compute_limit=self.replay_limit,
                    contents={r: bytes([fill]) * o.size for r, o in regions.items()})
                    for fill in (left, right)]
                shown = [tuple(x for x in run.outcome.outputs if not x.startswith(private))
                         for run in runs]
                if shown[0] != shown[1]:
                    one, two = runs
                    text = (f"two runs that differ only in the CPU's copy of {', '.join(used)} "
                            f"diverge: with every byte {left:#04x}: {_differing(one, two)}; "
                            f"with every byte {right:#04x}: {_differing(two, one)}")
                    cx = Counterexample(one.registers, one.given.data,
                                        one.outcome.helper_returns, text, True,
                                        one.outcome.compute_units, one.objects)
                    self.report.add(Finding(name, at, Property.DETERMINISM, message,
                                            assertion, Verdict.REFUTED, cx))
                    return
        self.report.add(Finding(name, at, Property.DETERMINISM, message, assertion,
                                note="values of per-CPU maps differ between CPUs; replays "
                                     "with other copies gave equal outputs, but equal "
                                     "outputs are not proved"))

    def finding(self, raw: RawFinding, executor: BundleExecutor) -> Finding | None:
        """Turn a raw finding into a report finding, replaying its model when there is one."""
        name = self.report.program
        message, assertion, prop = raw.assertion.message, str(raw.assertion), \
            raw.assertion.property
        if isinstance(raw.assertion, HelperDeterministic) and raw.model is not None:
            return self.divergence(raw, raw.assertion, executor)
        if not raw.fault or raw.model is None:
            note = raw.note or ("the solver could not decide" if raw.unknown else "")
            return Finding(name, raw.pc, prop, message, assertion, note=note)
        replay = replay_bundle_model(executor, raw.model, compute_limit=self.replay_limit)
        ok = bundle_confirms(raw.assertion, raw.pc, replay.outcome)
        cx = bundle_counterexample(replay, ok)
        if ok:
            note = ""
            if isinstance(raw.assertion, StaysInProgram):
                note = "path: " + " -> ".join(str(p) for p in replay.outcome.path) + \
                    f" -> {raw.assertion.target} (past the end)"
            elif replay.outcome.locked or replay.outcome.leaked or replay.outcome.dynptrs:
                note = self.source_path(replay.outcome.path)
            return Finding(name, raw.pc, prop, message, assertion, Verdict.REFUTED, cx,
                           note=note)
        what = "counterexample" if raw.exact else "approximate counterexample (havocked state)"
        return Finding(name, raw.pc, prop, message, assertion, Verdict.UNKNOWN, cx,
                       note=f"{what} did not replay: {replay.outcome.describe()}")

    def source_path(self, pcs: tuple[int, ...]) -> str:
        """Return the source lines the replay went through, for a finding at a shared exit.

        A compiler merges a function's returns into one ``exit``, so a lock or reservation
        still held there is located at the last line; the lines before it show the branch
        that took the path (empty without line information).
        """
        lines: list[tuple[str, int]] = []
        for pc in pcs:
            source = self.loaded.source_lines.get(pc)
            if source is not None and (not lines or lines[-1] != source):
                lines.append(source)
        if not lines:
            return ""
        shown = lines[-SOURCE_PATH_KEPT:]
        return f"source path (last lines run): {shown[0][0]}:" + \
            " -> ".join(str(line) if f == shown[0][0] else f"{f}:{line}" for f, line in shown)

    def divergence(self, raw: RawFinding, assertion: HelperDeterministic,
                   executor: BundleExecutor) -> Finding | None:
        """Show a nondeterministic helper call by two replays that differ only in its result.

        Both runs start from the model's input, objects and helper results; every call of
        this helper at this pc returns the first value of a pair in one run and the second in
        the other (values any clock, generator or CPU id can return; every other helper
        returns the model's value). Outputs that differ are a replayed divergence (REFUTED).
        When no pair diverges, the finding is REFUTED on the consensus policy only if the
        runtime's loader, run without the verifier's allowance, refuses the program; the note
        says the replays were equal.
        """
        name = self.report.program
        model = raw.model
        assert model is not None
        message = f"{assertion.message} {assertion.name} " + (
            "in the consensus profile" if self.profile.name == "solana"
            else "(its result is the CPU's identity)")
        composed = self.composed
        if composed is not None and composed.proved and self.profile.name != "solana":
            return None
        first: BundleReplay | None = None
        pairs: tuple[tuple[int, int], ...] = DIVERGENCE_PAIRS
        if assertion.name in PER_CPU_HELPERS:
            # Only CPU ids the runtime can give: 0 .. num_cpus - 1.
            pairs = ((0, 1),) if self.context.num_cpus > 1 else ()
        tries: list[tuple[dict[int, int], dict[int, int]]] = [
            ({raw.pc: a}, {raw.pc: b}) for a, b in pairs]
        if composed is not None and composed.model is not None:
            pair = composed.model
            tries.insert(0, ({p: pair.value(a) for p, a, _ in composed.results},
                             {p: pair.value(b) for p, _, b in composed.results}))
            model = pair
        for left, right in tries:
            one = replay_bundle_model(executor, model, compute_limit=self.replay_limit,
                                      override=left)
            two = replay_bundle_model(executor, model, compute_limit=self.replay_limit,
                                      override=right)
            first = first or one
            if one.outcome.outputs != two.outcome.outputs:
                text = (f"two runs from the same input diverge: with {_show(left)}: "
                        f"{_differing(one, two)}; with {_show(right)}: "
                        f"{_differing(two, one)}")
                cx = Counterexample(one.registers, one.given.data, one.outcome.helper_returns,
                                    text, True, one.outcome.compute_units, one.objects)
                return Finding(name, raw.pc, assertion.property, message, str(assertion),
                               Verdict.REFUTED, cx)
        if first is None:
            first = replay_bundle_model(executor, model, compute_limit=self.replay_limit)
        tried = ", ".join(f"{a:#x}/{b:#x}" for a, b in pairs) or "(one CPU: no other value)"
        if composed is not None and composed.proved:
            tried += "; self-composition proved that two runs from equal inputs commit alike " \
                     "with equal r0"
        try:
            check_program_helpers(name, self.loaded.program, self.profile.name)
        except InputError as refused:
            cx = Counterexample(first.registers, first.given.data,
                                first.outcome.helper_returns, f"refused at load: {refused}",
                                True, first.outcome.compute_units, first.objects)
            return Finding(name, raw.pc, assertion.property, message, str(assertion),
                           Verdict.REFUTED, cx,
                           note="policy violation only: replays with the helper returning "
                                f"{tried} gave equal outputs")
        return Finding(name, raw.pc, assertion.property, message, str(assertion),
                       note=f"replays with the helper returning {tried} gave equal outputs")

    def probe(self, executor: BundleExecutor, *, blocked: bool = False) -> None:
        """Run fixed inputs on the VM when some loop has no proved bound or no run ends.

        Also when symbolic execution was ``blocked`` (recursion, irreducible loops). Only
        entries whose registers the runtime fixes (hooks, ring records, timer and work-queue
        callbacks) are probed. Each run gets the budget as its limit, empty or filled input
        and object bytes and helper results 0 (all values the runtime can give). A run that
        reaches the limit refutes compute (replayed); if it also repeated a machine state it
        loops for ever, refuting termination at the innermost unbounded loop header at or
        before the repeat. A run that exceeds the call depth refutes control.
        """
        if blocked:
            unbounded = sorted(h for f in executor.cfg.functions.values() for h in f.loops)
        else:
            unbounded = sorted(h for h, s in executor.loops.items() if not s.ranked)
            if not unbounded and (executor.exits or executor.fault_exits):
                return
        name, entry = self.report.program, executor.entry
        if entry.kind not in ("input", "record", "async"):
            return  # a tail-call or callback context of 0 may be no run the runtime makes
        sizes = [0] if entry.kind != "record" else [0, entry.max_record]
        for fill in (0x00, 0xFF):
            for size in sizes:
                given = ConcreteInput(bytes([fill]) * size, {})
                objects = {r: bytes([fill]) * o.size for r, o in executor.objects.items()}
                replay = replay_bundle(executor, given, objects, {}, compute_limit=self.budget,
                                       detect_repeat=True)
                outcome = replay.outcome
                if isinstance(outcome.fault, CallDepthExceeded):
                    frames = self.profile.max_frames
                    self.report.add(Finding(name, outcome.fault.pc, Property.CONTROL,
                                            CallDepthWithin.message,
                                            str(CallDepthWithin(frames + 1, frames)),
                                            Verdict.REFUTED, bundle_counterexample(replay, True)))
                    return
                if not isinstance(outcome.fault, InstructionLimit):
                    continue
                cx = bundle_counterexample(replay, True)
                self.report.add(Finding(name, outcome.fault.pc, Property.COMPUTE,
                                        WithinBudget.message, str(WithinBudget(self.budget)),
                                        Verdict.REFUTED, cx))
                if outcome.repeat_pc is not None:
                    at = outcome.repeat_pc
                    headers = [h for h in unbounded if h <= at] or [at]
                    self.report.add(Finding(name, max(headers), Property.TERMINATION,
                                            "Infinite loop", str(BoundedLoop(max(headers))),
                                            Verdict.REFUTED, cx,
                                            note=f"the machine state at pc {at} repeats"))
                return

    def compute(self, executor: BundleExecutor) -> None:
        """Bound the compute units of every ending (exit, fault, tail call) by the budget."""
        session, name, budget = executor.session, self.report.program, self.budget
        ends = [(s.path, s.cu) for s in executor.exits] + executor.fault_exits
        if self.report.verdict(Property.COMPUTE) is Verdict.REFUTED:
            return
        if not ends:
            # No run was seen to end: nothing bounds the units (a loop that never exits).
            self.report.add(Finding(name, executor.cfg.entry, Property.COMPUTE,
                                    WithinBudget.message, str(WithinBudget(budget)),
                                    note="no run of this entry was shown to end, so no "
                                         "bound on its compute units was derived"))
            return
        bound = z.leaves(z.merge(list(ends)), cap=LEAVES_CAP) if executor.cu_exact else None
        if bound is not None and bound[-1] <= budget:
            self.worst = bound[-1]
            return
        over = z.or_(*(z.and_(g, z.ult(z.const(budget), cu)) for g, cu in ends))
        answer, model = session.solve(over, *executor.realisable)
        if answer is z.SatResult.UNSAT and executor.cu_exact:
            self.worst = session.maximum(z.merge(list(ends)), z.or_(*(g for g, _ in ends)),
                                         limit=budget)
            if self.worst is None:
                self.report.add(Finding(name, executor.cfg.entry, Property.COMPUTE,
                                        WithinBudget.message, str(WithinBudget(budget)),
                                        note="the solver could not compute the maximum"))
            return
        if answer is z.SatResult.UNKNOWN or model is None:
            self.report.add(Finding(name, executor.cfg.entry, Property.COMPUTE,
                                    WithinBudget.message, str(WithinBudget(budget)),
                                    note="the solver could not decide"))
            return
        # With inexact units the model may be spurious: only a replayed overrun refutes.
        replay = replay_bundle_model(executor, model, compute_limit=budget)
        ok = bundle_confirms(None, 0, replay.outcome)
        fault = replay.outcome.fault
        pc = fault.pc if fault is not None else executor.cfg.entry
        self.report.add(Finding(name, pc, Property.COMPUTE, WithinBudget.message,
                                str(WithinBudget(budget)),
                                Verdict.REFUTED if ok else Verdict.UNKNOWN,
                                bundle_counterexample(replay, ok),
                                note="" if ok else (
                                    "" if executor.cu_exact else "compute units not exactly "
                                    "known (havocked loop or bpf_loop); ")
                                + f"counterexample did not replay: {replay.outcome.describe()}"))


def _show(override: dict[int, int]) -> str:
    """Return ``pc 0 -> 0x1, ...``: the nondeterministic results of one replay."""
    return ", ".join(f"pc {pc} -> {value:#x}" for pc, value in sorted(override.items()))


def _differing(one: BundleReplay, two: BundleReplay) -> str:
    """Return the first output of ``one`` that ``two`` does not have at the same place."""
    mine, theirs = one.outcome.outputs, two.outcome.outputs
    for i, item in enumerate(mine):
        if i >= len(theirs) or theirs[i] != item:
            return item
    return "(no further output)"


def _requested(bundle: schema.Bundle) -> tuple[Property, ...]:
    wanted = {Property(p.value) for p in bundle.properties.programs}
    return tuple(p for p in PROPERTY_ORDER if p in wanted or p in ALWAYS)


def _entry_kinds(bundle: schema.Bundle, maps: tuple[MapInfo, ...], hook: str,
                 prog: schema.Program) -> list[EntryKind]:
    kind = _HOOK_ENTRY.get(hook, "input")
    if kind == "record":
        ring = next(m for m in maps if m.name == getattr(prog.hook, "map", ""))
        return [EntryKind("record", max_record=max(ring.max_entries - 8, 0))]
    if kind == "async":
        return _async_entries(maps, "timer" if hook == "timer" else "wq")
    return [EntryKind(kind)]


def _async_entries(maps: tuple[MapInfo, ...], what: str) -> list[EntryKind]:
    candidates = [m for m in maps if (m.timer if what == "timer" else m.wq) is not None]
    return [EntryKind("async", map_index=m.index) for m in candidates] or [EntryKind("tail")]


def _run_entries(bundle: schema.Bundle, loaded: Mapping[ProgId, LoadedProgram],
                 results: list[ProgramResult], maps: tuple[MapInfo, ...], deadline: float, *,
                 rlimit: int, timeout: float
                 ) -> tuple[dict[str, list[_EntryRun]], dict[str, list[CallEdge]]]:
    """Verify every entry of every program, following tail calls and callbacks to their
    targets' entries; return the runs and the call edges per program."""
    profile = get_profile(bundle.profile.value)
    names = list(bundle.programs)
    runs: dict[str, list[_EntryRun]] = {name: [] for name in names}
    edges: dict[str, list[CallEdge]] = {name: [] for name in names}
    pending = [(name, 0, entry) for name, prog in bundle.programs.items()
               for entry in _entry_kinds(bundle, maps, prog.hook.on, prog)]
    done: set[tuple[str, int, EntryKind]] = set()
    while pending:
        name, pc, entry = pending.pop(0)
        if (name, pc, entry) in done:
            continue
        done.add((name, pc, entry))
        index = names.index(name)
        result = results[index]
        lp = loaded[name]  # type: ignore[index]
        preset = get_preset(bundle.preset.value)
        context = BundleContext(profile, maps, index, lp.map_indices, preset.num_cpus,
                                preset.bpf_max_loops)
        if time.monotonic() > deadline:
            _skip_entry(result, pc, timeout)
            continue
        run = _EntryRun(lp, context, profile, result.report, budget=result.report.budget,
                        rlimit=rlimit, timeout=timeout, deadline=deadline)
        if entry.kind == "input" and pc == 0:
            run.program_context = get_bundle_context(bundle, name)
        run.run(pc, entry)
        result.skipped = result.skipped or run.timed_out
        runs[name].append(run)
        result.entries.append((pc, entry.kind))
        for edge in run.edges:
            if edge not in edges[name]:
                edges[name].append(edge)
            pending += _callee_entries(edge, names, maps)
    return runs, edges


@z.isolated
def verify_bundle(path: str, *, timeout: float = 30.0, rlimit: int = 20_000_000,
                  bundle: schema.Bundle | None = None) -> BundleResult:
    """Verify every program of the bundle at ``path``.

    Parameters
    ----------
    path
        A ``program.yaml`` bundle.
    timeout
        Wall-clock limit for the whole run (and fallback per solver query), in seconds.
    rlimit
        Deterministic z3 resource units per query.
    bundle
        The bundle at ``path`` when the caller has loaded it already (it is then not
        parsed again).

    Returns
    -------
    BundleResult
        Per-program reports, the tail-call and callback graphs.

    Raises
    ------
    InputError
        The bundle does not load (schema, bytecode, undeclared maps or helpers).
    """
    if timeout <= 0 or rlimit <= 0:
        raise InputError("--timeout and the solver resource limit must be positive")
    if bundle is None:
        bundle = load_bundle(path)
    # Nondeterministic helpers are reported as determinism findings, not refused at load.
    loaded = load_programs(bundle, base_dir=Path(path).parent, allow_nondeterministic=True)
    profile = get_profile(bundle.profile.value)
    maps = _map_infos(bundle)
    names = list(bundle.programs)
    lines = _program_lines(path, names)
    deadline = time.monotonic() + timeout
    results = [ProgramResult(name, prog.hook.on,
                             Report(name, profile.name,
                                    budget=prog.budget or bundle.budgets.per_invocation),
                             lines.get(name),
                             source_lines=loaded[name].source_lines)  # type: ignore[index]
               for name, prog in bundle.programs.items()]
    runs, edges = _run_entries(bundle, loaded, results, maps, deadline,
                               rlimit=rlimit, timeout=timeout)
    for result in results:
        _finish_program(result, runs[result.name], bundle)
    tail_calls, callbacks, cycles = _graphs(results, edges, names)
    _chain_compute(results, runs, edges, cycles)
    for result in results:
        result.report.findings = result.report.sorted_findings()
        result.report.unreachable.sort()
    return BundleResult(path, bundle.name or Path(path).stem, profile.name,
                        _requested(bundle), results, tail_calls, callbacks, cycles)


def _skip_entry(result: ProgramResult, pc: int, timeout: float) -> None:
    """Record an entry the deadline left unchecked (no property can then be PROVED)."""
    result.report.add(Finding(result.name, pc, Property.TERMINATION, "Time limit reached",
                              f"verified within {timeout:g} s",
                              note="--timeout reached before this entry was checked"))
    result.skipped = True


def _callee_entries(edge: CallEdge, names: list[str], maps: tuple[MapInfo, ...],
                    ) -> list[tuple[str, int, EntryKind]]:
    """Return the entries a call edge adds: a callback's, or none (an inlined call, an
    unknown target)."""
    if edge.target is None or edge.inlined:
        return []
    target_index, target_pc = edge.target
    if not 0 <= target_index < len(names):
        return []
    if edge.kind in ("timer", "wq"):
        kinds = _async_entries(maps, edge.kind)
    elif edge.kind == "watch":  # a run-time watcher's callback: a watch hook's entry
        kinds = [EntryKind("input")]
    else:
        kinds = [EntryKind("loop")]
    return [(names[target_index], target_pc, kind) for kind in kinds]


def _finish_program(result: ProgramResult, runs: list[_EntryRun], bundle: schema.Bundle) -> None:
    del bundle
    report = result.report
    if runs:
        reached = set().union(*(r.reached for r in runs))
        program = runs[0].loaded.program
        report.unreachable = [pc for pc, _ in program.instructions() if pc not in reached]
    if runs and all(r.complete for r in runs) and not result.skipped:
        report.checked = set(Property)
    worst = [r.worst for r in runs]
    report.worst_case_cu = None if not worst or None in worst or result.skipped else max(
        w for w in worst if w is not None)


def _graphs(results: list[ProgramResult], edges: dict[str, list[CallEdge]], names: list[str]
            ) -> tuple[list[tuple[str, int, tuple[str, ...]]], list[tuple[str, int, str, str, int]],
                       list[list[str]]]:
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    tail_calls = []
    callbacks: list[tuple[str, int, str, str, int]] = []
    for name in names:
        for edge in sorted(edges[name], key=lambda e: (e.pc, e.kind, e.target or (0, 0))):
            if edge.kind == "tail":
                tail_calls.append((name, edge.pc, edge.programs))
                graph.add_edges_from((name, t, {"pc": edge.pc}) for t in edge.programs)
            elif edge.target is not None and 0 <= edge.target[0] < len(names) and not any(
                    (n, p, k) == (name, edge.pc, edge.kind) for n, p, k, _, _ in callbacks):
                callbacks.append((name, edge.pc, edge.kind, names[edge.target[0]],
                                  edge.target[1]))
    cycles = sorted(_rotate(c) for c in nx.simple_cycles(graph))
    for cycle in cycles:
        text = " -> ".join([*cycle, cycle[0]])
        for i, member in enumerate(cycle):
            successor = cycle[(i + 1) % len(cycle)]
            pc = graph.edges[member, successor]["pc"]
            result = results[names.index(member)]
            result.report.add(Finding(member, pc, Property.TERMINATION,
                                      TailCallBounded.message,
                                      str(TailCallBounded(text, MAX_TAIL_CALLS)),
                                      note="the chain ends only through the runtime's limit of "
                                           f"{MAX_TAIL_CALLS} tail calls"))
    return tail_calls, callbacks, cycles


def _rotate(cycle: list[str]) -> list[str]:
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def _chain_compute(results: list[ProgramResult], runs: dict[str, list[_EntryRun]],
                   edges: dict[str, list[CallEdge]], cycles: list[list[str]]) -> None:
    """Add the worst case of every tail-call target to a program's own figure."""
    in_cycle = {n for c in cycles for n in c}
    own = {r.name: (runs[r.name][0].worst if runs[r.name] else None) for r in results}
    memo: dict[str, int | None] = {}

    def chain(name: str, seen: frozenset[str]) -> int | None:
        if name in memo:
            return memo[name]
        if name in in_cycle or name in seen or own.get(name) is None:
            return None
        targets = sorted({t for e in edges[name] if e.kind == "tail" for t in e.programs})
        figures = [chain(t, seen | {name}) for t in targets]
        mine = own[name]
        assert mine is not None
        value = None if None in figures else mine + max(
            [f for f in figures if f is not None], default=0)
        memo[name] = value
        return value

    for result in results:
        figure = chain(result.name, frozenset())
        result.chain_cu = figure
        report = result.report
        has_tail = any(e.kind == "tail" and e.programs for e in edges[result.name])
        if not has_tail or report.verdict(Property.COMPUTE) is Verdict.REFUTED:
            continue
        if figure is None:
            report.add(Finding(result.name, 0, Property.COMPUTE, WithinBudget.message,
                               str(WithinBudget(report.budget)),
                               note="the tail-call chain's compute units are not bounded "
                                    "(a cycle, or a target without a figure)"))
        elif figure > report.budget:
            report.add(Finding(result.name, 0, Property.COMPUTE, WithinBudget.message,
                               str(WithinBudget(report.budget)),
                               note=f"the tail-call chain may use up to {figure} CU"))
        if figure is not None:
            report.notes.append(f"worst-case compute units with tail calls: {figure}")


__all__ = ["BundleResult", "ProgramResult", "verify_bundle"]
