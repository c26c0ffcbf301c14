"""
Report schemas
==============

The JSON Schemas of the bundle commands' documents, each built next to the constants of its
renderer: ``verify`` and ``explore`` (:mod:`arspec.cli.render.json`), ``prove``
(:mod:`arspec.cli.commands.prove`), ``run``
(:mod:`arspec.reference.runtime.run_report`), ``replay`` and ``interleave``.
"""

from __future__ import annotations

from typing import Final

from arspec.checker.verdict import Property, Verdict
from arspec.cli.commands import prove
from arspec.cli.render import json as render
from arspec.cli.schemas.common import (
    BOOL,
    COUNT,
    EXIT_CODE,
    HEX,
    INT,
    STRING,
    U64,
    Schema,
    array,
    document,
    enum,
    mapping,
    nullable,
    obj,
)
from arspec.reference.runtime import run_report
from arspec.spec.scheduler import EventKind

VERDICT: Final = enum(v.value for v in Verdict)
EXPLORE_VERDICT: Final = enum(["HOLDS", "VIOLATED", "BOUND-REACHED"])
PROPERTY: Final = enum(p.value for p in Property)

COUNTEREXAMPLE: Final = obj({
    "registers": {**array(U64), "minItems": 11, "maxItems": 11}, "input": HEX,
    "objects": array(obj({"what": STRING, "bytes": HEX})),
    "helper_returns": array({**array(INT), "minItems": 2, "maxItems": 2}),
    "helper_returns_total": COUNT, "outcome": STRING, "replayed": BOOL,
    "compute_units": COUNT})

FINDING: Final = obj({
    "program": STRING, "pc": COUNT, "property": PROPERTY, "verdict": VERDICT,
    "message": STRING, "assertion": STRING, "text": STRING, "note": STRING,
    "source": nullable(obj({"file": STRING, "line": INT})),
    "counterexample": nullable(COUNTEREXAMPLE)})

PROGRAM: Final = obj({
    "name": STRING, "hook": STRING, "line": nullable(INT), "budget": COUNT,
    "worst_case_cu": nullable(COUNT), "chain_worst_case_cu": nullable(COUNT),
    "verdicts": {"type": "object", "additionalProperties": False,
                 "properties": {p.value: VERDICT for p in Property}},
    "entries": array(obj({"pc": COUNT, "kind": STRING})),
    "findings": array(FINDING), "unreachable": array(COUNT), "notes": array(STRING)})

#: The fields of ``explore --format json`` after its envelope, and of ``verify``'s
#: ``explore`` object.
EXPLORE_FIELDS: Final[dict[str, Schema]] = {
    "verdict": EXPLORE_VERDICT, "slots": COUNT, "invariants": mapping(EXPLORE_VERDICT),
    "violations": array(obj({"invariant": STRING, "reason": STRING, "steps": COUNT})),
    "states": COUNT, "transitions": COUNT, "depth": COUNT, "bound": nullable(STRING)}

VERIFY: Final = document("verify", render.FORMAT, render.VERSION,
                         "spec-check verify --format json", {
    "bundle": STRING, "name": STRING, "profile": enum(["linux", "solana"]),
    "exit_code": EXIT_CODE, "verify_verdict": VERDICT, "requested": array(PROPERTY),
    "programs": array(PROGRAM),
    "tail_calls": array(obj({"program": STRING, "pc": COUNT, "targets": array(STRING)})),
    "callbacks": array(obj({"program": STRING, "pc": COUNT, "kind": STRING,
                            "target": STRING, "target_pc": COUNT})),
    "tail_call_cycles": array(array(STRING)),
    "explore": nullable(obj(EXPLORE_FIELDS))})

EXPLORE: Final = document("explore", render.EXPLORE_FORMAT, render.EXPLORE_VERSION,
                          "spec-check explore --format json",
                          {"bundle": STRING, "exit_code": EXIT_CODE, **EXPLORE_FIELDS})

PROVE: Final = document("prove", prove.PROVE_FORMAT, prove.PROVE_VERSION,
                        "spec-check prove --format json", {
    "results": array(obj({"invariant": STRING, "status": VERDICT, "obligations": COUNT,
                          "seconds": {"type": "number", "minimum": 0},
                          "counterexample": {"type": "object"}, "reason": STRING},
                         optional=("seconds", "counterexample", "reason")))})

_EVENT: Final = obj({
    "kind": enum(k.value for k in EventKind), "seq": nullable(COUNT),
    "program": nullable(STRING), "trigger": nullable(STRING), "reason": STRING,
    "depth": nullable(COUNT), "cpu": nullable(COUNT), "charged_cu": COUNT,
    "used_cu": nullable(COUNT), "r0": nullable(U64), "fault": nullable(STRING),
    "rolled_back": BOOL, "tail_calls": array(STRING), "records_produced": COUNT,
    "count": COUNT, "logs": array(STRING)})

RUN: Final = document("run", run_report.REPORT_FORMAT, run_report.REPORT_VERSION,
                      "spec-check run --format json", {
    "bundle": nullable(STRING), "profile": enum(["linux", "solana"]), "preset": STRING,
    "slot_budget_cu": COUNT,
    "slots": array(obj({"slot": COUNT, "cu_used": COUNT, "invocations": COUNT,
                        "failures": COUNT, "deferred": COUNT, "events": array(_EVENT)})),
    "totals": obj({k: COUNT for k in (
        "slots", "invocations", "failures", "compute_units", "deferred", "skipped",
        "suppressed", "records_produced", "records_consumed", "tail_calls", "pending")}),
    "final": array(obj({"kind": enum(["account", "map"]), "name": STRING,
                        "fields": mapping(INT), "data": nullable(STRING)})),
    "final_not_shown": mapping(COUNT), "faulted": BOOL})

REPLAY: Final = document("replay", render.REPLAY_FORMAT, render.REPLAY_VERSION,
                         "spec-check replay --format json", {
    "trace": STRING, "verdict": enum(["VIOLATED", "NOT-REPRODUCED", "BOUND-REACHED"]),
    "exit_code": EXIT_CODE, "report": STRING})

INTERLEAVE: Final = document("interleave", render.INTERLEAVE_FORMAT,
                             render.INTERLEAVE_VERSION, "spec-check interleave --format json", {
    "bundle": STRING, "program": STRING, "invocations": {"type": "integer", "minimum": 2},
    "exit_code": EXIT_CODE, "verdict": EXPLORE_VERDICT, "states": COUNT,
    "end_states": COUNT, "reason": STRING, "schedule": array(COUNT), "observed": STRING,
    "expected": array(STRING)})
