"""
SARIF reports
=============

``verify --format sarif`` writes a SARIF 2.1.0 log for code-scanning tools. One rule per
property (``termination``, ``memory``, ``compute``, ``determinism``) and per explorer
invariant (``explore/<name>``). A REFUTED finding or a VIOLATED invariant is an ``error``;
an UNKNOWN finding, a property left UNKNOWN without a finding, or an invariant whose
exploration reached a bound is a ``warning``. Locations name the bundle file (or the C
source line of the instruction) and, as a logical location, ``PROGRAM:pc``. The message
carries the counterexample's replay; ``properties`` the full counterexample. The run's
``properties`` hold every verdict and the exit code, the same as the text and JSON reports.
``explore --format sarif`` writes the same log with the explorer's rules and results only.
"""

from __future__ import annotations

import json
from typing import Any, Final

from arspec.checker.verdict import Finding, Property, Verdict
from arspec.checker.verify_bundle import BundleResult, ProgramResult
from arspec.cli.render import VerifyRun
from arspec.cli.render.json import (
    EXPLORE_FORMAT,
    EXPLORE_VERSION,
    FORMAT,
    VERSION,
    counterexample_json,
)
from arspec.model.explore_bundle import ExploreOutcome

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
#: What each property's rule checks (the rule's short description).
RULE_TEXT: Final = {
    Property.TERMINATION: "every path of the program ends (loops are bounded)",
    Property.MEMORY: "every load, store and helper argument stays in a region it may use",
    Property.DIVISION: "no division or modulo by zero, no signed MIN / -1",
    Property.CONTROL: "calls reach known helpers and local functions within the call depth",
    Property.COMPUTE: "the worst case stays within the compute budget",
    Property.DETERMINISM: "equal inputs give equal outputs (consensus replicas agree)"}
EXPLORE_PREFIX: Final = "explore/"


def _location(result: BundleResult, p: ProgramResult, pc: int | None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": {"uri": result.path}}}
    if pc is not None:
        location["logicalLocations"] = [{"name": f"{p.name}:{pc}",
                                         "fullyQualifiedName": f"{p.name}:{pc}",
                                         "kind": "function"}]
    source = None if pc is None else p.source_of(pc)
    if source is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": source[0]},
                                        "region": {"startLine": source[1]}}
    elif p.line is not None:
        location["physicalLocation"]["region"] = {"startLine": p.line}
    return location


def _finding_result(result: BundleResult, p: ProgramResult, f: Finding) -> dict[str, Any]:
    text = f.render() + (f" -- {f.note}" if f.note else "")
    properties: dict[str, Any] = {"verdict": f.verdict.value, "property": f.property.value,
                                  "program": p.name, "pc": f.pc}
    if f.counterexample is not None:
        text += f" -- counterexample replay: {f.counterexample.outcome}"
        properties["counterexample"] = counterexample_json(f.counterexample)
    return {"ruleId": f.property.value,
            "level": "error" if f.verdict is Verdict.REFUTED else "warning",
            "message": {"text": text}, "locations": [_location(result, p, f.pc)],
            "properties": properties}


def verifier_results(result: BundleResult) -> list[dict[str, Any]]:
    """Return one SARIF result per finding, and one per requested property left UNKNOWN
    without a finding."""
    out = []
    for p in result.programs:
        for f in p.report.findings:
            out.append(_finding_result(result, p, f))
        for prop in result.requested:
            if p.report.verdict(prop) is Verdict.UNKNOWN and not any(
                    f.property is prop for f in p.report.findings):
                out.append({"ruleId": prop.value, "level": "warning",
                            "message": {"text": f"{p.name}: {prop.value}: UNKNOWN (not "
                                                "checked)"},
                            "locations": [_location(result, p, None)],
                            "properties": {"verdict": "UNKNOWN", "property": prop.value,
                                           "program": p.name}})
    return out


def explorer_results(path: str, outcome: ExploreOutcome) -> list[dict[str, Any]]:
    """Return one SARIF result per violated invariant and per invariant a bound left open."""
    where = [{"physicalLocation": {"artifactLocation": {"uri": path}}}]
    out: list[dict[str, Any]] = []
    for name, reason, steps in outcome.violations:
        out.append({"ruleId": EXPLORE_PREFIX + name, "level": "error",
                    "message": {"text": f"VIOLATED {name}: {reason} (shortest trace: "
                                        f"{steps} steps)"},
                    "locations": where,
                    "properties": {"verdict": "VIOLATED", "invariant": name,
                                   "steps": steps}})
    for name, verdict in outcome.invariants:
        if verdict not in ("HOLDS", "VIOLATED"):
            out.append({"ruleId": EXPLORE_PREFIX + name, "level": "warning",
                        "message": {"text": f"{name}: {verdict} ({outcome.bound or 'bound'})"},
                        "locations": where,
                        "properties": {"verdict": verdict, "invariant": name}})
    return out


def _invariant_rules(outcome: ExploreOutcome) -> list[dict[str, Any]]:
    return [{"id": EXPLORE_PREFIX + name, "name": name,
             "shortDescription": {"text": f"scheduler invariant {name}"}}
            for name, _ in outcome.invariants]


def _log(rules: list[dict[str, Any]], results: list[dict[str, Any]], exit_code: int,
         kind: tuple[str, int], verdicts: dict[str, Any]) -> str:
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    for item in results:
        item["ruleIndex"] = index[item["ruleId"]]
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "arspec", "rules": rules}},
                     "invocations": [{"executionSuccessful": True, "exitCode": exit_code}],
                     "results": results,
                     "properties": {"format": kind[0], "version": kind[1],
                                    "exit_code": exit_code,
                                    "verdicts": verdicts}}]}
    return json.dumps(log, indent=2) + "\n"


def render_explore(path: str, outcome: ExploreOutcome, exit_code: int) -> str:
    """Return the SARIF 2.1.0 log of ``explore --format sarif``: one rule per invariant."""
    return _log(_invariant_rules(outcome), explorer_results(path, outcome), exit_code,
                (EXPLORE_FORMAT, EXPLORE_VERSION), {"explore": {"verdict": outcome.verdict,
                                             "invariants": dict(outcome.invariants)}})


def _rules(run: VerifyRun) -> list[dict[str, Any]]:
    rules = [{"id": prop.value, "name": prop.value,
              "shortDescription": {"text": RULE_TEXT[prop]},
              "properties": {"requested": prop in run.result.requested}}
             for prop in Property]
    if run.explored is not None:
        rules += _invariant_rules(run.explored)
    return rules


def _verdicts(run: VerifyRun) -> dict[str, Any]:
    verdicts: dict[str, Any] = {
        "programs": {p.name: {prop.value: v.value for prop, v in p.report.verdicts.items()}
                     for p in run.result.programs}}
    if run.explored is not None:
        verdicts["explore"] = {"verdict": run.explored.verdict,
                               "invariants": dict(run.explored.invariants)}
    return verdicts


def render_verify(run: VerifyRun) -> str:
    """Return the SARIF 2.1.0 log of ``verify`` (see the module docstring)."""
    results = verifier_results(run.result)
    if run.explored is not None:
        results += explorer_results(run.result.path, run.explored)
    return _log(_rules(run), results, run.exit_code, (FORMAT, VERSION), _verdicts(run))
