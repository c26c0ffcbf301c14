"""
Text reports
============

The human report of ``verify``: per program its findings with counterexamples and source
lines, the compute figure and one line per property; then the graphs; then, when the
explorer ran, its report and the combined verdict.
"""

from __future__ import annotations

from arspec.checker.verdict import Counterexample, Verdict, show_returns
from arspec.checker.verify_bundle import BundleResult
from arspec.cli.exit_codes import VERDICT_NAMES
from arspec.cli.render import VerifyRun

_SUMMARY = {Verdict.PROVED: "all requested properties PROVED", Verdict.REFUTED: "REFUTED",
            Verdict.UNKNOWN: "UNKNOWN (nothing refuted)"}


def render_counterexample(program: str, pc: int, cx: Counterexample) -> list[str]:
    """Return the lines of one counterexample: registers, input, objects, helper results."""
    regs = ", ".join(f"r{i}={v:#x}" for i, v in enumerate(cx.registers) if v)
    lines = [f"{program}:{pc}:   counterexample: registers {{{regs}}} input={cx.input.hex()}"]
    for what, data in cx.objects:
        lines.append(f"{program}:{pc}:     {what} = {data.hex() or '(empty)'}")
    lines.append(f"{program}:{pc}:     helper returns (pc, value): "
                 f"{show_returns(cx.helper_returns)}")
    lines.append(f"{program}:{pc}:     replay: {cx.outcome}")
    return lines


def render_bundle_result(result: BundleResult) -> str:
    """Return the verifier's report: per program findings, counterexamples, CU, verdicts."""
    out = [f"bundle {result.name} ({result.path}), profile {result.profile}"]
    for p in result.programs:
        r = p.report
        out.append("")
        out.append(f"program {p.name} (hook {p.hook}, entries "
                   + ", ".join(f"pc {pc} {k}" for pc, k in p.entries) + ")")
        for f in r.findings:
            source = p.source_of(f.pc)
            at = f" at {source[0]}:{source[1]}" if source is not None else ""
            out.append(f"{f.render()} [{f.verdict.value}]{at}")
            if f.counterexample is not None:
                out += render_counterexample(p.name, f.pc, f.counterexample)
            if f.note:
                out.append(f"{p.name}:{f.pc}:   note: {f.note}")
        out += [f"{p.name}:{pc}: Code becomes unreachable" for pc in r.unreachable]
        out += [f"{p.name}: note: {n}" for n in r.notes]
        cu = "unknown" if r.worst_case_cu is None else str(r.worst_case_cu)
        out.append(f"{p.name}: worst-case compute units: {cu} (budget {r.budget})")
        for prop, verdict in r.verdicts.items():
            mark = "" if prop in result.requested else " (not requested)"
            out.append(f"{p.name}: {prop.value}: {verdict.value}{mark}")
    out.append("")
    for name, pc, targets in result.tail_calls:
        out.append(f"tail call: {name}:{pc} -> {', '.join(targets) or '(empty slot)'}")
    for name, pc, kind, target, tpc in result.callbacks:
        out.append(f"callback: {name}:{pc} {kind} -> {target}:{tpc}")
    for cycle in result.cycles:
        out.append(f"tail-call cycle: {' -> '.join([*cycle, cycle[0]])}")
    out.append(f"result: {_SUMMARY[result.verdict]}")
    return "\n".join(out) + "\n"


def render_verify(run: VerifyRun) -> str:
    """Return the whole text of ``verify``: the verifier's report, then the explorer's."""
    text = render_bundle_result(run.result)
    if run.explored is None:
        return text
    return (f"{text}\n{run.explored.report}"
            f"\ncombined verdict: {VERDICT_NAMES[run.exit_code]}\n")
