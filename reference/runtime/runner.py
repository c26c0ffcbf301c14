"""
Runner
======

Run a bundle's scenario slot by slot on the reference runtime and collect a
:class:`~arspec.reference.runtime.run_report.RunReport`: the spec's scheduler
(:func:`~arspec.spec.scheduler.process_slot`) decides what runs and in which order, and
:class:`~arspec.reference.runtime.runtime.ReferenceInvoker` executes it on the VM.

A program that faults is not bad input: the run reports the fault, rolls the invocation back
and continues. Bad input (a program that does not assemble, a helper the profile refuses, a
slot count out of range) raises :class:`~arspec.spec.errors.InputError` before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from arspec.reference.runtime.run_report import (
    RunReport,
    compute_final_contents,
    compute_slot_report,
    compute_totals,
)
from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.spec.bundle import MAX_SLOTS, Bundle
from arspec.spec.errors import InputError
from arspec.spec.scheduler import create_initial_state, process_slot
from arspec.spec.state import RuntimeState

#: ``progress(done, total)``: slots run so far and slots to run.
Progress = Callable[[int, int], None]


def check_slots(slots: int | None, bundle: Bundle) -> int:
    """Return the number of slots to run; ``None`` means the scenario's length."""
    if slots is None:
        return bundle.scenario.slots
    if isinstance(slots, bool) or not isinstance(slots, int):
        raise InputError(f"--slots must be an integer, not {slots!r}")
    if not 1 <= slots <= MAX_SLOTS:
        raise InputError(f"--slots must be in 1..{MAX_SLOTS}, not {slots}")
    return slots


def run_bundle_state(bundle: Bundle, *, slots: int | None = None, base_dir: Path | None = None,
                     engine: str = "auto", progress: Progress | None = None,
                     ) -> tuple[RunReport, RuntimeState]:
    """Run the bundle and return the report and the final state (for tests and tools).

    ``progress(done, total)`` is called after every slot.
    """
    count = check_slots(slots, bundle)
    invoker = ReferenceInvoker(bundle, base_dir=base_dir, engine=engine)
    state = create_initial_state(bundle)
    reports = []
    for done in range(count):
        slot = int(state.slot)
        reports.append(compute_slot_report(slot, process_slot(state, bundle, invoker)))
        if progress is not None:
            progress(done + 1, count)
    slot_reports = tuple(reports)
    report = RunReport(
        bundle=bundle.name,
        profile=bundle.profile.value,
        preset=bundle.preset.value,
        slot_budget=bundle.budgets.per_slot,
        slots=slot_reports,
        totals=compute_totals(slot_reports, pending=len(state.fifo)),
    )
    final, not_shown = compute_final_contents(bundle, state)
    return replace(report, final=final, not_shown=not_shown), state


def run_bundle(bundle: Bundle, *, slots: int | None = None, base_dir: Path | None = None,
               engine: str = "auto", progress: Progress | None = None) -> RunReport:
    """Run ``bundle`` for ``slots`` slots (default: ``scenario.slots``) and report it.

    Parameters
    ----------
    bundle
        A loaded bundle (:func:`arspec.spec.loader.load_bundle`).
    slots
        How many slots to run, 1..1,000,000; ``None`` runs the scenario's length.
    base_dir
        Folder ELF paths in the bundle are relative to (the bundle file's folder).
    engine
        VM engine: ``"auto"`` (fast path), ``"interpreter"`` or ``"fast"``.
    progress
        Called as ``progress(done, total)`` after every slot.

    Raises
    ------
    InputError
        For a bad slot count or a program that cannot be loaded.
    """
    return run_bundle_state(bundle, slots=slots, base_dir=base_dir, engine=engine,
                            progress=progress)[0]
