"""
Run reports
===========

The result of running a bundle slot by slot (:func:`arspec.reference.runtime.runner.run_bundle`):
frozen data, one :class:`SlotReport` per slot with its events in the order they happened,
and :class:`RunTotals`. Two renderings, both deterministic byte for byte:

* :func:`render_text`: a readable table per slot (slots where nothing happened are counted,
  not listed; ``enqueue`` events are left out because every run line repeats its reason);
* :func:`render_json`: every event, keys in a fixed order, versioned by
  ``"format": "arspec-run", "version": 1``; compact (no indentation), so that long runs render fast.

Both end with the final contents (:func:`compute_final_contents`): every account, and every
map element that holds something (array elements still all zeros are left out), each with the
values of its declared fields (``hb[0]: beats = 5``) or, without fields, its bytes in hex. At
most :data:`MAX_SHOWN_ELEMENTS` elements of one map are listed; the rest are counted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from arspec.spec import bundle as schema
from arspec.spec.maps import ArrayElements, is_percpu_map, is_pristine_cells
from arspec.spec.scheduler import Event, EventKind
from arspec.spec.state import RuntimeState

#: The JSON format identifier and its version; bump the version when a key changes meaning or
#: disappears.
REPORT_FORMAT: Final = "arspec-run"
REPORT_VERSION: Final = 1
#: Elements of one map listed in the final contents; the rest are counted.
MAX_SHOWN_ELEMENTS: Final = 100
#: Bytes of a value without declared fields shown in hex.
MAX_SHOWN_BYTES: Final = 64


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
class ContentsRecord:
    """One account or map element at the end of a run.

    ``name`` is ``hb[0]`` (a map element; ``@cpuN`` for a per-CPU copy) or the account name;
    ``fields`` holds the declared fields in declaration order, ``data`` the leading bytes in
    hex when no field is declared.
    """

    kind: str
    name: str
    fields: tuple[tuple[str, int], ...] = ()
    data: str | None = None


@dataclass(frozen=True)
class RunReport:
    """The report of one run: the bundle's identity, every slot, the totals and the final
    contents of accounts and maps."""

    bundle: str | None
    profile: str
    preset: str
    slot_budget: int
    slots: tuple[SlotReport, ...]
    totals: RunTotals
    final: tuple[ContentsRecord, ...] = ()
    #: Map name -> elements left out of ``final`` beyond :data:`MAX_SHOWN_ELEMENTS`.
    not_shown: tuple[tuple[str, int], ...] = ()

    @property
    def faulted(self) -> bool:
        """Whether an invocation faulted during the run."""
        return any(e.fault is not None for s in self.slots for e in s.events
                   if e.kind == EventKind.RUN)


def _field_values(data: bytes | bytearray, fields: Mapping[str, schema.AccountField]
                  | Mapping[str, schema.ValueField]) -> tuple[tuple[str, int], ...]:
    values = []
    for name, spec in fields.items():
        width = schema.field_width(spec.type)
        raw = bytes(data[spec.offset:spec.offset + width])
        values.append((name, int.from_bytes(raw, "little",
                                            signed=spec.type.value.startswith("i"))))
    return tuple(values)


def _shown_bytes(data: bytes | bytearray) -> str:
    shown = bytes(data[:MAX_SHOWN_BYTES]).hex()
    return shown + ("..." if len(data) > MAX_SHOWN_BYTES else "")


def _key_text(key: bytes) -> str:
    return str(int.from_bytes(key, "little")) if len(key) <= 8 else key.hex()


def compute_final_contents(bundle: schema.Bundle, state: RuntimeState,
                           ) -> tuple[tuple[ContentsRecord, ...], tuple[tuple[str, int], ...]]:
    """Return the accounts and the non-empty map elements at the end of a run, and how many
    elements of each map were left out."""
    records: list[ContentsRecord] = []
    not_shown: list[tuple[str, int]] = []
    for name, account in state.accounts.accounts.items():
        spec = bundle.accounts.get(str(name))
        account_fields = spec.fields if spec is not None else {}
        records.append(ContentsRecord(
            "account", str(name), _field_values(account.data, account_fields),
            None if account_fields else _shown_bytes(account.data)))
    for map_name, mstate in state.maps.items():
        mspec = bundle.maps.get(str(map_name))
        fields = mspec.fields if mspec is not None else {}
        lazy = isinstance(mstate.elements, ArrayElements)
        keys = [k for k in sorted(mstate.elements)
                if not (lazy and is_pristine_cells(mstate.elements[k]))]
        if len(keys) > MAX_SHOWN_ELEMENTS:
            not_shown.append((str(map_name), len(keys) - MAX_SHOWN_ELEMENTS))
        percpu = is_percpu_map(mstate.definition)
        for key in keys[:MAX_SHOWN_ELEMENTS]:
            for cpu, element in enumerate(mstate.elements[key]):
                label = f"{map_name}[{_key_text(key)}]" + (f"@cpu{cpu}" if percpu else "")
                records.append(ContentsRecord(
                    "map", label, _field_values(element.value, fields),
                    None if fields else _shown_bytes(element.value)))
    return tuple(records), tuple(not_shown)


def render_contents(record: ContentsRecord) -> str:
    """Return one line of the final contents: ``hb[0]: beats = 5``."""
    prefix = "account " if record.kind == "account" else ""
    if record.data is not None:
        return f"  {prefix}{record.name}: {record.data or '(empty)'}"
    values = ", ".join(f"{name} = {value}" for name, value in record.fields)
    return f"  {prefix}{record.name}: {values}"


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
    if report.final or report.not_shown:
        lines.append("")
        lines.append("final contents (array elements still zero not shown):")
        lines.extend(render_contents(r) for r in report.final)
        lines.extend(f"  {name}: {count} more element(s) not shown"
                     for name, count in report.not_shown)
    if report.faulted:
        lines.append("")
        lines.append("an invocation faulted (exit code 1)")
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
    """Return the report as JSON (``"format": "arspec-run", "version": 1``), stable byte for
    byte."""
    t = report.totals
    document = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
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
        "final": [
            {"kind": r.kind, "name": r.name, "fields": dict(r.fields), "data": r.data}
            for r in report.final
        ],
        "final_not_shown": dict(report.not_shown),
        "faulted": report.faulted,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True) + "\n"
