"""
Steps as text
=============

The words of an explorer trace row: which programs a step ran and what came of it
(:func:`describe_step`), and which declared fields it changed (:func:`describe_changes`).
Shared by the trace tables (:mod:`arspec.model.explore_bundle`) and the trace picture
(:mod:`arspec.model.bundle_dot`).
"""

from __future__ import annotations

from arspec.model.runtime_system import ModelState, RuntimeSystem
from arspec.spec import bundle as schema
from arspec.spec.catalogue import UserInvariant, compile_user_invariant
from arspec.spec.scheduler import EventKind
from arspec.spec.state import RuntimeState, WorkItem


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


#: ``(program, pc) -> function name`` of the programs' named functions (callbacks).
FunctionNames = dict[tuple[str, int], str]


def get_function_names(system: RuntimeSystem) -> FunctionNames:
    """Return the named functions of the system's loaded programs by (program, pc)."""
    programs = getattr(getattr(system.invoker, "inner", system.invoker), "programs", None)
    if not programs:
        return {}
    return {(str(name), pc): fname for name, loaded in programs.items()
            for fname, pc in loaded.functions.items() if pc != 0}


def name_item(item: WorkItem, names: FunctionNames | None) -> str:
    """Return ``program`` or, for a callback, ``program.function``."""
    function = (names or {}).get((str(item.entry.prog), int(item.entry.pc)))
    return str(item.prog) if function is None else f"{item.prog}.{function}"


def describe_step(state: ModelState, names: FunctionNames | None = None) -> tuple[str, str]:
    """Return the (program, result) columns of the step that produced ``state``.

    A callback shows as ``program.function``: ``arm.poll (timer)``.
    """
    programs: list[str] = []
    results: list[str] = []
    for event in state.step.events:
        if event.kind == EventKind.RUN and event.item is not None and event.outcome is not None:
            chain = " > ".join([name_item(event.item, names), *event.outcome.tail_calls])
            programs.append(f"{chain} ({event.item.kind.value})")
            fault = event.outcome.fault
            results.append(f"{event.charged} CU" + ("" if fault is None
                                                    else f", FAULT {fault}, rolled back"))
        elif event.kind == EventKind.SKIP and event.item is not None:
            programs.append(event.item.prog)
            results.append("skipped (stale)")
        elif event.kind == EventKind.ENQUEUE and event.item is not None:
            results.append(f"+{name_item(event.item, names)}")
        elif event.kind == EventKind.SUPPRESS:
            results.append("suppressed cascade")
        elif event.kind == EventKind.DEFER:
            results.append(f"deferred {event.count}")
    if state.error is not None:
        results.append(f"INVALID: {state.error}")
    return ", ".join(programs), ", ".join(results)
