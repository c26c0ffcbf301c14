"""
JSON reports
============

The ``arspec-verify`` document (version 1) of ``verify``. Its ``exit_code`` is the command's (the
verifier's and the explorer's verdicts combined), the same in every output format.

JSON document ``arspec-verify``, version 1
------------------------------------------
The JSON Schema is :data:`arspec.cli.schemas.reports.VERIFY` (``spec-check schema --output
verify``)::

    {"format": "arspec-verify", "version": 1,
     "bundle": "<path>", "name": "<bundle name>", "profile": "solana" | "linux",
     "exit_code": 0 | 1 | 3,               # the command's: verifier and explorer combined
     "verify_verdict": "PROVED" | "REFUTED" | "UNKNOWN",
     "requested": ["termination", "memory", "compute", "determinism"],
     "programs": [
       {"name": str, "hook": str, "line": int | null, "budget": int,
        "worst_case_cu": int | null,        # one invocation of this program alone
        "chain_worst_case_cu": int | null,  # with every tail call it may make
        "verdicts": {"termination": "PROVED" | "REFUTED" | "UNKNOWN", ...all properties},
        "entries": [{"pc": int, "kind": str}],
        "findings": [
          {"program": str, "pc": int, "property": str, "verdict": "REFUTED" | "UNKNOWN",
           "message": str, "assertion": str, "text": "PROGRAM:pc: message (assertion)",
           "note": str,
           "source": null | {"file": str, "line": int},  # bundle or C line of the pc
           "counterexample": null | {
              "registers": [int x 11], "input": "<hex>",
              "objects": [{"what": str, "bytes": "<hex>"}],
              "helper_returns": [[pc, value], ...],  # the first 1,024
              "helper_returns_total": int,
              "outcome": str, "replayed": bool, "compute_units": int}}],
        "unreachable": [int], "notes": [str]}],
     "tail_calls": [{"program": str, "pc": int, "targets": [str]}],
     "callbacks": [{"program": str, "pc": int, "kind": "timer" | "wq" | "loop" | "watch",
                    "target": str, "target_pc": int}],
     "tail_call_cycles": [[str, ...]],
     "explore": null | {                   # null: no properties.explore, or --no-explore
        "verdict": "HOLDS" | "VIOLATED" | "BOUND-REACHED", "slots": int,
        "invariants": {"<name>": "HOLDS" | "VIOLATED" | "BOUND-REACHED", ...},
        "violations": [{"invariant": str, "reason": str, "steps": int}],
        "states": int, "transitions": int, "depth": int, "bound": str | null}}

Versioning: fields are only added within version 1; a rename or removal makes version 2.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from arspec.checker.verdict import RETURNS_KEPT, Counterexample
from arspec.checker.verify_bundle import BundleResult
from arspec.cli.render import VerifyRun
from arspec.model.explore_bundle import ExploreOutcome

if TYPE_CHECKING:
    from arspec.model.interleave import InterleaveResult
    from arspec.model.replay_bundle import ReplayOutcome

FORMAT: Final = "arspec-verify"
VERSION: Final = 1
#: ``explore --format json``: ``{"format", "version", "bundle", "exit_code"}`` and the fields
#: of the ``explore`` object of ``arspec-verify``.
EXPLORE_FORMAT: Final = "arspec-explore"
EXPLORE_VERSION: Final = 1
#: ``replay --format json``: the trace, the verdict, the exit code and the report text.
REPLAY_FORMAT: Final = "arspec-replay"
REPLAY_VERSION: Final = 1
#: ``interleave --format json``: the result's fields and the exit code.
INTERLEAVE_FORMAT: Final = "arspec-interleave"
INTERLEAVE_VERSION: Final = 1


def counterexample_json(cx: Counterexample | None) -> dict[str, Any] | None:
    """Return a counterexample as JSON data (``None`` stays ``None``)."""
    if cx is None:
        return None
    return {"registers": list(cx.registers), "input": cx.input.hex(),
            "objects": [{"what": w, "bytes": b.hex()} for w, b in cx.objects],
            "helper_returns": [list(p) for p in cx.helper_returns[:RETURNS_KEPT]],
            "helper_returns_total": len(cx.helper_returns), "outcome": cx.outcome,
            "replayed": cx.replayed, "compute_units": cx.compute_units}


def _source_json(source: tuple[str, int] | None) -> dict[str, Any] | None:
    return None if source is None else {"file": source[0], "line": source[1]}


def programs_json(result: BundleResult) -> list[dict[str, Any]]:
    """Return the ``programs`` array of the document."""
    programs = []
    for p in result.programs:
        r = p.report
        programs.append({
            "name": p.name, "hook": p.hook, "line": p.line, "budget": r.budget,
            "worst_case_cu": r.worst_case_cu, "chain_worst_case_cu": p.chain_cu,
            "verdicts": {prop.value: v.value for prop, v in r.verdicts.items()},
            "entries": [{"pc": pc, "kind": k} for pc, k in p.entries],
            "findings": [{"program": f.program, "pc": f.pc, "property": f.property.value,
                          "verdict": f.verdict.value, "message": f.message,
                          "assertion": f.assertion, "text": f.render(), "note": f.note,
                          "source": _source_json(p.source_of(f.pc)),
                          "counterexample": counterexample_json(f.counterexample)}
                         for f in r.findings],
            "unreachable": list(r.unreachable), "notes": list(r.notes)})
    return programs


def explore_json(outcome: ExploreOutcome | None) -> dict[str, Any] | None:
    """Return the ``explore`` object of the document (``None`` when it did not run)."""
    if outcome is None:
        return None
    return {"verdict": outcome.verdict, "slots": outcome.slots,
            "invariants": dict(outcome.invariants),
            "violations": [{"invariant": name, "reason": reason, "steps": steps}
                           for name, reason, steps in outcome.violations],
            "states": outcome.states, "transitions": outcome.transitions,
            "depth": outcome.depth, "bound": outcome.bound}


def render_verify(run: VerifyRun) -> str:
    """Return the ``arspec-verify`` document (see the module docstring)."""
    result = run.result
    doc = {"format": FORMAT, "version": VERSION, "bundle": result.path, "name": result.name,
           "profile": result.profile, "exit_code": run.exit_code,
           "verify_verdict": result.verdict.value,
           "requested": [p.value for p in result.requested], "programs": programs_json(result),
           "tail_calls": [{"program": n, "pc": pc, "targets": list(t)}
                          for n, pc, t in result.tail_calls],
           "callbacks": [{"program": n, "pc": pc, "kind": k, "target": t, "target_pc": tpc}
                         for n, pc, k, t, tpc in result.callbacks],
           "tail_call_cycles": result.cycles, "explore": explore_json(run.explored)}
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def render_explore(path: str, outcome: ExploreOutcome, exit_code: int) -> str:
    """Return the ``arspec-explore`` document of ``explore --format json``."""
    doc = {"format": EXPLORE_FORMAT, "version": EXPLORE_VERSION, "bundle": path,
           "exit_code": exit_code, **(explore_json(outcome) or {})}
    return json.dumps(doc, indent=2) + "\n"


def render_replay(path: str, outcome: ReplayOutcome, exit_code: int) -> str:
    """Return the ``arspec-replay`` document of ``replay --format json``."""
    doc = {"format": REPLAY_FORMAT, "version": REPLAY_VERSION, "trace": path,
           "verdict": outcome.verdict, "exit_code": exit_code, "report": outcome.report}
    return json.dumps(doc, indent=2) + "\n"


def render_interleave(result: InterleaveResult, exit_code: int) -> str:
    """Return the ``arspec-interleave`` document of ``interleave --format json``."""
    doc = {"format": INTERLEAVE_FORMAT, "version": INTERLEAVE_VERSION,
           "bundle": result.bundle, "program": result.program,
           "invocations": result.invocations, "exit_code": exit_code,
           "verdict": result.verdict, "states": result.states,
           "end_states": result.complete, "reason": result.reason,
           "schedule": list(result.schedule), "observed": result.observed,
           "expected": list(result.expected)}
    return json.dumps(doc, indent=2) + "\n"
