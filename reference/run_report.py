"""
Run reports
===========

The result of running a bundle slot by slot (:func:`arspec.reference.runner.run_bundle`):
frozen data, one :class:`SlotReport` per slot with its events in the order they happened,
and :class:`RunTotals`. Two renderings, both deterministic byte for byte:

* :func:`render_text`: a readable table per slot (slots where nothing happened are counted,
  not listed; ``enqueue`` events are left out because every run line repeats its reason);
* :func:`render_json`: every event, keys in a fixed order, versioned by
  ``"format": "arspec-run/1"``; compact (no indentation), so that long runs render fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from arspec.spec.scheduler import Event, EventKind

#: The JSON format identifier; bump it when a key changes meaning or disappears.
REPORT_FORMAT: Final = "arspec-run/1"


@dataclass(frozen=True)
class EventRecord:
    """One event, flattened for rendering.

    ``charged`` is what the slot paid (a failed run pays its whole budget), ``used`` the
    compute units actually executed. ``count`` is the number of records consumed (``consume``)
    or of items carried over (``defer``).
    """

    kind: str
    seq: int | None = None
    program: str | None = None
    trigger: str | None = None
    reason: str = ""
    depth: int | None = None
    cpu: int | None = None
    charged: int = 0
    used: int | None = None
    r0: int | None = None
    fault: str | None = None
    rolled_back: bool = False
    tail_calls: tuple[str, ...] = ()
    records_produced: int = 0
    count: int = 0
    logs: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotReport:
    """Everything that happened in one slot."""

    slot: int
    events: tuple[EventRecord, ...]
    cu_used: int
    invocations: int
    failures: int
    deferred: int


@dataclass(frozen=True)
class RunTotals:
    """Sums over the whole run."""

    slots: int
    invocations: int
    failures: int
    compute_units: int
    deferred: int
    skipped: int
    suppressed: int
    records_produced: int
    records_consumed: int
    tail_calls: int
    pending: int


@dataclass(frozen=True)
class RunReport:
    """The report of one run: the bundle's identity, every slot, and the totals."""

    bundle: str | None
    profile: str
    preset: str
    slot_budget: int
    slots: tuple[SlotReport, ...]
    totals: RunTotals


def compute_event_record(event: Event) -> EventRecord:
    """Return the flat record of a scheduler event."""
    item = event.item
    outcome = event.outcome
    return EventRecord(
        kind=event.kind.value,
        seq=None if item is None else item.seq,
        program=None if item is None else str(item.prog),
        trigger=None if item is None else item.kind.value,
        reason=event.detail if item is None or event.kind != EventKind.RUN else item.reason,
        depth=None if item is None else item.depth,
        cpu=event.cpu,
        charged=event.charged if event.kind == EventKind.RUN else 0,
        used=None if outcome is None else outcome.compute_units,
        r0=None if outcome is None else outcome.r0,
        fault=None if outcome is None else outcome.fault,
        rolled_back=event.rolled_back,
        tail_calls=() if outcome is None else tuple(str(p) for p in outcome.tail_calls),
        records_produced=0 if outcome is None else outcome.records_produced,
        count=event.count,
        logs=() if outcome is None else tuple(
            b.decode("utf-8", "backslashreplace") for b in outcome.logs),
    )


def compute_slot_report(slot: int, events: list[Event]) -> SlotReport:
    """Return the report of one slot from its scheduler events."""
    records = tuple(compute_event_record(e) for e in events)
    runs = [r for r in records if r.kind == EventKind.RUN]
    deferred = sum(r.count for r in records if r.kind == EventKind.DEFER)
    return SlotReport(slot=slot, events=records, cu_used=sum(r.charged for r in runs),
                      invocations=len(runs), failures=sum(1 for r in runs if r.rolled_back),
                      deferred=deferred)


def compute_totals(slots: tuple[SlotReport, ...], pending: int) -> RunTotals:
    """Return the sums over every slot; ``pending`` is what the FIFO holds at the end."""
    events = [e for s in slots for e in s.events]
    return RunTotals(
        slots=len(slots),
        invocations=sum(s.invocations for s in slots),
        failures=sum(s.failures for s in slots),
        compute_units=sum(s.cu_used for s in slots),
        deferred=sum(s.deferred for s in slots),
        skipped=sum(1 for e in events if e.kind == EventKind.SKIP),
        suppressed=sum(1 for e in events if e.kind == EventKind.SUPPRESS),
        records_produced=sum(e.records_produced for e in events if not e.rolled_back),
        records_consumed=sum(e.count for e in events if e.kind == EventKind.CONSUME),
        tail_calls=sum(len(e.tail_calls) for e in events if e.kind == EventKind.RUN),
        pending=pending,
    )


def describe_result(record: EventRecord) -> str:
    """Return the result column of a text row."""
    if record.kind == EventKind.RUN:
        if record.fault is not None:
            return f"ROLLED BACK: {record.fault}"
        parts = [f"r0={record.r0}"]
        if record.tail_calls:
            parts.append("tail calls " + " -> ".join(record.tail_calls))
        if record.records_produced:
            parts.append(f"{record.records_produced} record(s) produced")
        parts.extend(f"log {text!r}" for text in record.logs)
        return "; ".join(parts)
    if record.kind in (EventKind.CONSUME, EventKind.DEFER):
        return f"{record.reason} ({record.count})"
    return record.reason


def render_event_row(record: EventRecord) -> str:
    """Return one text row: kind, item, program, trigger, CU, result."""
    seq = "" if record.seq is None else f"#{record.seq}"
    program = record.program or ""
    trigger = record.trigger or ""
    if record.depth:
        trigger += f"/d{record.depth}"
    cu = f"{record.charged}" if record.kind == EventKind.RUN else ""
    why = f" [{record.reason}]" if record.kind == EventKind.RUN and record.reason else ""
    return (f"  {record.kind:<8} {seq:>6} {program:<16} {trigger:<11} {cu:>8}  "
            f"{describe_result(record)}{why}").rstrip()


def render_text(report: RunReport) -> str:
    """Return the report as a readable table per slot."""
    lines = [f"run of {report.bundle or '(unnamed bundle)'}: profile {report.profile}, "
             f"preset {report.preset}, {report.totals.slots} slots, slot budget "
             f"{report.slot_budget} CU"]
    idle = 0
    for slot in report.slots:
        shown = [e for e in slot.events if e.kind not in (EventKind.ENQUEUE, EventKind.END_SLOT)]
        if not shown:
            idle += 1
            continue
        lines.append("")
        lines.append(f"slot {slot.slot}: {slot.invocations} run(s), {slot.cu_used} CU"
                     + (f", {slot.failures} rolled back" if slot.failures else "")
                     + (f", {slot.deferred} deferred" if slot.deferred else ""))
        lines.append(f"  {'event':<8} {'item':>6} {'program':<16} {'trigger':<11} "
                     f"{'CU':>8}  result")
        lines.extend(render_event_row(e) for e in shown)
    t = report.totals
    lines.append("")
    if idle:
        lines.append(f"{idle} slot(s) with no activity not shown")
    lines.append(f"totals: {t.invocations} invocation(s), {t.failures} rolled back, "
                 f"{t.compute_units} CU, {t.deferred} deferral(s), {t.skipped} skipped, "
                 f"{t.suppressed} suppressed, {t.records_produced} record(s) produced, "
                 f"{t.records_consumed} consumed, {t.tail_calls} tail call(s), "
                 f"{t.pending} item(s) pending at the end")
    return "\n".join(lines) + "\n"


def compute_event_json(record: EventRecord) -> dict[str, Any]:
    """Return an event as a JSON object with keys in a fixed order."""
    return {
        "kind": record.kind, "seq": record.seq, "program": record.program,
        "trigger": record.trigger, "reason": record.reason, "depth": record.depth,
        "cpu": record.cpu, "charged_cu": record.charged, "used_cu": record.used,
        "r0": record.r0, "fault": record.fault, "rolled_back": record.rolled_back,
        "tail_calls": list(record.tail_calls), "records_produced": record.records_produced,
        "count": record.count, "logs": list(record.logs),
    }


def render_json(report: RunReport) -> str:
    """Return the report as JSON (``"format": "arspec-run/1"``), stable byte for byte."""
    t = report.totals
    document = {
        "format": REPORT_FORMAT,
        "bundle": report.bundle,
        "profile": report.profile,
        "preset": report.preset,
        "slot_budget_cu": report.slot_budget,
        "slots": [
            {"slot": s.slot, "cu_used": s.cu_used, "invocations": s.invocations,
             "failures": s.failures, "deferred": s.deferred,
             "events": [compute_event_json(e) for e in s.events]}
            for s in report.slots
        ],
        "totals": {
            "slots": t.slots, "invocations": t.invocations, "failures": t.failures,
            "compute_units": t.compute_units, "deferred": t.deferred, "skipped": t.skipped,
            "suppressed": t.suppressed, "records_produced": t.records_produced,
            "records_consumed": t.records_consumed, "tail_calls": t.tail_calls,
            "pending": t.pending,
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True) + "\n"
