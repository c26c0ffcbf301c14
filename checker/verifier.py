"""
Verifier
========

The public entry point :func:`verify_program`: control flow (:mod:`~arspec.checker.cfg`),
symbolic execution with per-instruction assertions (:mod:`~arspec.checker.symbolic`),
replay of every predicted fault (:mod:`~arspec.checker.replay`) and a :class:`Report` with
a verdict per property.

Soundness rests on three rules. A property is ``PROVED`` only when the symbolic execution
covered every run (no unsupported construct, no recursion, no irreducible loop) and no check
of that property could fail. A finding is ``REFUTED`` only when its concrete input replayed
on the VM with the predicted outcome. Everything else is ``UNKNOWN``.
"""

from __future__ import annotations

from arspec.checker.solver import SolverError
from arspec.reference.isa.instructions import Program
from arspec.reference.runtime.contexts import ProgramContext
from arspec.reference.vm.helpers import HelperRegistry, test_helpers
from arspec.reference.vm.load_checks import ProgramRejected, check_program
from arspec.reference.vm.profiles import LINUX, Profile
from arspec.spec.errors import CallDepthExceeded, InstructionLimit

from . import solver as z
from .assertions import BoundedLoop, CallDepthWithin, WithinBudget
from .cfg import ControlFlow, build_cfg
from .contexts import ContextModel
from .replay import (
    REPLAY_LIMIT,
    ConcreteInput,
    concrete_input,
    confirms,
    counterexample,
    run_concrete,
)
from .symbolic import Executor, RawFinding
from .verdict import Counterexample, Finding, Property, Report, Verdict

#: Structural issues that stop symbolic execution, with the property they leave unknown.
_BLOCKING: dict[str, Property] = {
    "recursion": Property.TERMINATION,
    "irreducible": Property.TERMINATION,
    "empty": Property.CONTROL,
}


#: How a failed replay of a model of an over-approximated (havocked) state is described.
APPROXIMATE = "approximate counterexample (havocked state)"


def _probe_inputs(max_input: int, context: ProgramContext | None) -> list[ConcreteInput]:
    if context is not None and not context.layout.has_packet:
        return [ConcreteInput(b"", {})]
    return [ConcreteInput(b"", {}), ConcreteInput(bytes(max_input), {}),
            ConcreteInput(b"\xff" * max_input, {})]


def _structural(report: Report, cfg: ControlFlow) -> bool:
    """Report structural issues; return whether symbolic execution must be skipped."""
    blocked = False
    for issue in cfg.issues:
        if issue.kind in _BLOCKING:
            blocked = True
            report.add(Finding(report.program, issue.pc, _BLOCKING[issue.kind],
                               issue.message, issue.detail))
    if blocked:
        for issue in cfg.issues:
            if issue.kind in ("fall-off", "bad-jump"):
                report.add(Finding(report.program, issue.pc, Property.CONTROL,
                                   issue.message, issue.detail))
    return blocked


def _finding_from_raw(report: Report, raw: RawFinding, executor: Executor, cfg: ControlFlow,
                      profile: Profile, registry: HelperRegistry, budget: int,
                      context: ProgramContext | None = None) -> Finding:
    message, assertion = raw.assertion.message, str(raw.assertion)
    prop = raw.assertion.property
    if not raw.fault or raw.model is None:
        note = raw.note or ("the solver could not decide" if raw.unknown else "")
        return Finding(report.program, raw.pc, prop, message, assertion, note=note)
    given = concrete_input(raw.model, executor.inputs)
    # A run stops at its budget: a fault predicted beyond it never happens.
    outcome = run_concrete(cfg, profile, registry, given,
                           compute_limit=min(budget, REPLAY_LIMIT), context=context)
    ok = confirms(raw.assertion, raw.pc, outcome)
    cx = counterexample(given, profile, outcome, ok, context=context)
    if ok:
        return Finding(report.program, raw.pc, prop, message, assertion, Verdict.REFUTED, cx)
    what = "counterexample" if raw.exact else APPROXIMATE
    return Finding(report.program, raw.pc, prop, message, assertion, Verdict.UNKNOWN, cx,
                   note=f"{what} did not replay: {outcome.describe()}")


def _probe(report: Report, cfg: ControlFlow, profile: Profile, registry: HelperRegistry,
           budget: int, max_input: int, headers: list[int],
           context: ProgramContext | None = None) -> None:
    """Run fixed inputs concretely to refute termination or compute when no bound exists."""
    for given in _probe_inputs(max_input, context):
        outcome = run_concrete(cfg, profile, registry, given, compute_limit=budget,
                               detect_repeat=True, context=context)
        if isinstance(outcome.fault, CallDepthExceeded):
            report.add(Finding(report.program, outcome.fault.pc, Property.CONTROL,
                               CallDepthWithin.message,
                               str(CallDepthWithin(profile.max_frames + 1, profile.max_frames)),
                               Verdict.REFUTED,
                               counterexample(given, profile, outcome, True, context=context)))
            return
        if not isinstance(outcome.fault, InstructionLimit):
            continue
        cx = counterexample(given, profile, outcome, True, context=context)
        report.add(Finding(report.program, outcome.fault.pc, Property.COMPUTE,
                           WithinBudget.message, str(WithinBudget(budget)), Verdict.REFUTED,
                           cx))
        if outcome.repeat_pc is not None:
            at = outcome.repeat_pc
            header = max([h for h in headers if h <= at] or [at])
            report.add(Finding(report.program, header, Property.TERMINATION, "Infinite loop",
                               str(BoundedLoop(header)), Verdict.REFUTED, cx,
                               note=f"the machine state at pc {at} repeats"))
        return


def _compute(report: Report, executor: Executor, cfg: ControlFlow, profile: Profile,
             registry: HelperRegistry, budget: int,
             context: ProgramContext | None = None) -> None:
    """Check the budget over every terminal point and compute the worst case."""
    session = executor.session
    if report.verdict(Property.COMPUTE) is Verdict.REFUTED:
        return
    ends = [(s.path, s.cu) for s in executor.exits] + executor.fault_exits
    if not ends:
        return
    over = z.or_(*(z.and_(g, z.ult(z.const(budget), cu)) for g, cu in ends))
    answer, model = session.solve(over)
    if answer is z.SatResult.UNSAT and executor.cu_exact:
        term = z.merge(list(ends))
        report.worst_case_cu = session.maximum(term, z.or_(*(g for g, _ in ends)),
                                               limit=budget)
        return
    if answer is z.SatResult.UNKNOWN or model is None or not executor.cu_exact:
        note = ("the solver could not decide" if executor.cu_exact else
                "compute units not exactly known (havocked loop or helper)")
        report.add(Finding(report.program, 0, Property.COMPUTE, WithinBudget.message,
                           str(WithinBudget(budget)), note=note))
        return
    given = concrete_input(model, executor.inputs)
    outcome = run_concrete(cfg, profile, registry, given, compute_limit=budget,
                           context=context)
    ok = confirms(None, 0, outcome)
    pc = outcome.fault.pc if outcome.fault is not None else 0
    report.add(Finding(report.program, pc, Property.COMPUTE, WithinBudget.message,
                       str(WithinBudget(budget)), Verdict.REFUTED if ok else Verdict.UNKNOWN,
                       counterexample(given, profile, outcome, ok, context=context),
                       note="" if ok else
                       f"counterexample did not replay: {outcome.describe()}"))


@z.isolated
def verify_program(program: Program, *, profile: Profile = LINUX, name: str = "prog",
                   budget: int = 200_000, max_input: int = 64, rlimit: int = 20_000_000,
                   timeout: float = 30.0, helpers: HelperRegistry | None = None,
                   unroll_limit: int = 20_000,
                   context: ProgramContext | None = None) -> Report:
    """Verify ``program`` and return a report with a verdict per property.

    Parameters
    ----------
    program
        The decoded program.
    profile
        Execution semantics (``LINUX`` or ``SOLANA``).
    name
        Program name used in messages.
    budget
        Compute units one run may spend.
    max_input
        Largest input length considered (the length itself is symbolic).
    rlimit
        z3 resource units per query (deterministic).
    timeout
        Wall-clock fallback per query, in seconds.
    helpers
        Helpers reachable by ``call``; the conformance test helpers when omitted.
    unroll_limit
        Largest number of instruction copies one loop may be unrolled into.
    context
        The declared program type's context behind ``r1`` (:mod:`~arspec.checker.contexts`);
        ``None`` for the plain input (``r1`` the input, ``r2`` its length).

    Returns
    -------
    Report
        All findings in stable order, per-property verdicts and the worst-case CU figure.
    """
    if budget < 0 or max_input < 0:
        raise ValueError("budget and max_input must be non-negative")
    registry = helpers if helpers is not None else test_helpers()
    report = Report(name, profile.name, budget=budget)
    if not apply_load_checks(report, program, profile):
        return _finish(report)
    cfg = build_cfg(program)
    report.unreachable = list(cfg.unreachable)
    if _structural(report, cfg):
        headers = sorted(h for f in cfg.functions.values() for h in f.loops)
        _probe(report, cfg, profile, registry, budget, max_input, headers, context)
        report.notes.append("symbolic execution skipped: unsupported control flow")
        return _finish(report)
    session = z.Session(z.SolverConfig(rlimit=rlimit, timeout_ms=int(timeout * 1000)))
    executor = Executor(cfg, profile, session, helpers=registry, max_input=max_input,
                        unroll_limit=unroll_limit)
    if context is not None:
        executor.program_context = ContextModel(context)
    try:
        executor.run()
    except SolverError as exc:
        report.notes.append(f"solver error: {exc}")
        return _finish(report)
    for raw in executor.findings:
        report.add(_finding_from_raw(report, raw, executor, cfg, profile, registry, budget,
                                     context))
    unbounded = sorted(h for h, s in executor.loops.items() if not s.ranked)
    if unbounded:
        _probe(report, cfg, profile, registry, budget, max_input, unbounded, context)
    _compute(report, executor, cfg, profile, registry, budget, context)
    if not executor.incomplete:
        report.checked = set(Property)
    for _header, summary in sorted(executor.loops.items()):
        if summary.ranked:
            report.notes.append(summary.describe())
    if session.unknown_reasons:
        report.notes.append(f"solver gave up {len(session.unknown_reasons)} time(s)")
    return _finish(report)


def apply_load_checks(report: Report, program: Program, profile: Profile) -> bool:
    """Run the loader's checks; return whether the program loads, else add the refusal to
    ``report`` (REFUTED, control) and note that symbolic execution is skipped."""
    try:
        check_program(program, profile)
    except ProgramRejected as rejected:
        outcome = f"rejected at load: {rejected.reason}"
        cx = Counterexample((), b"", (), outcome, True)
        report.add(Finding(report.program, rejected.pc, Property.CONTROL,
                           "Program rejected at load", rejected.reason, Verdict.REFUTED, cx))
        report.notes.append("symbolic execution skipped: the loader refuses the program")
        return False
    return True


def _finish(report: Report) -> Report:
    report.findings = report.sorted_findings()
    return report
