"""Drive the runtime over a bundle and record every lifecycle change it makes.

The scheduler (:mod:`arspec.spec.scheduler`) runs the bundle on the reference runtime; the
observer classifies every timer, work item and ring record (:mod:`arspec.spec.lifecycles`)
after each helper call and each scheduler step, and the slot after each scheduler action,
and records every (lifecycle, from, event, to) change. A failed invocation is checked
against the rollback rule instead: every object must be back where the invocation started.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from arspec.reference.runtime import runtime_helpers
from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.spec import bundle as schema
from arspec.spec import lifecycles as lc
from arspec.spec import scheduler
from arspec.spec.loader import load_bundle
from arspec.spec.maps import is_array_map
from arspec.spec.scheduler import (
    ApplyWrite,
    DomainWrite,
    EndSlot,
    EnqueueDue,
    InvocationOutcome,
    RunHead,
    create_initial_state,
    get_enabled_actions,
    process_action,
)
from arspec.spec.state import RuntimeState, WorkItem
from arspec.spec.types import ComputeUnits, Cpu

Key = tuple[str, object]
Change = tuple[str, str, str, str]

STEP_NAMES: dict[type, str] = {
    ApplyWrite: "process_apply_write",
    DomainWrite: "process_domain_write",
    EnqueueDue: "process_enqueue_due",
    RunHead: "process_run_head",
    EndSlot: "process_end_slot",
}


@dataclass
class Observation:
    """What the runs showed: changes, rollback mismatches and slot step events."""

    changes: dict[Change, str] = field(default_factory=dict)
    rollback_errors: list[str] = field(default_factory=list)
    step_events: dict[tuple[str, str], str] = field(default_factory=dict)
    rollbacks: int = 0


class Observer:
    """Classifies one run's objects between steps and records the changes."""

    def __init__(self, bundle: schema.Bundle, state: RuntimeState, where: str,
                 seen: Observation, lifecycles: dict[str, lc.Lifecycle] | None = None,
                 classify_timer: Callable[[RuntimeState, lc.ObjectId], str] | None = None
                 ) -> None:
        self.bundle = bundle
        self.state = state
        self.where = where
        self.seen = seen
        self.classify_timer = classify_timer or lc.classify_timer
        self.records: set[lc.RecordId] = set()
        self.last = self.snapshot()
        self.slot_last = lc.classify_slot(state, bundle)
        self.invocation_start: dict[Key, str] | None = None
        self.failed = False

    def _default(self, key: Key) -> str:
        kind, where = key
        if kind == "ring_record":
            return "free"
        map_id = where[0]  # type: ignore[index]
        return "uninitialised" if is_array_map(self.state.maps[map_id].definition) else lc.ABSENT

    def classify_gone(self, key: Key) -> str:
        """Return the state of an object the snapshot no longer lists (deleted, consumed)."""
        if key[0] == "ring_record":
            return lc.classify_record(self.state, key[1])  # type: ignore[arg-type]
        return self._default(key)

    def snapshot(self) -> dict[Key, str]:
        """Return the state of every stored timer, work item and known ring record."""
        state = self.state
        snap: dict[Key, str] = {}
        for w in lc.get_async_objects(state, "timer"):
            snap[("timer", w)] = self.classify_timer(state, w)
        for w in lc.get_async_objects(state, "wq"):
            snap[("work_item", w)] = lc.classify_work_item(state, w)
        self.records.update(lc.get_records(state))
        for r in sorted(self.records):
            snap[("ring_record", r)] = lc.classify_record(state, r)
        return snap

    def mark(self, event: str) -> None:
        """Record every change since the last mark under ``event``."""
        now = self.snapshot()
        for key in sorted(self.last.keys() | now.keys(), key=repr):
            before = self.last.get(key, self._default(key))
            after = now.get(key) or self.classify_gone(key)
            if before != after:
                change = (key[0], before, event, after)
                self.seen.changes.setdefault(change, f"{self.where} slot {self.state.slot}")
        self.records = {r for r in self.records if now.get(("ring_record", r)) != "consumed"}
        self.last = now

    def mark_slot(self, step: str) -> None:
        """Record the slot's change over one scheduler action."""
        now = lc.classify_slot(self.state, self.bundle)
        if now != self.slot_last:
            self.seen.changes.setdefault(("slot", self.slot_last, step, now),
                                         f"{self.where} slot {self.state.slot}")
        self.slot_last = now

    def check_rollback(self) -> None:
        """After a failed invocation: every object is back where the invocation started."""
        assert self.invocation_start is not None
        now = self.snapshot()
        start = self.invocation_start
        for key in sorted(start.keys() | now.keys(), key=repr):
            before = start.get(key) or self._default(key)  # a record not yet reserved: free
            after = now.get(key) or self.classify_gone(key)
            if before != after:
                self.seen.rollback_errors.append(
                    f"{self.where} slot {self.state.slot}: {key}: {before} before the "
                    f"invocation, {after} after its rollback")
        self.seen.rollbacks += 1
        self.last = now
        self.failed = False


CURRENT: list[Observer] = []


def _wrap_helper(name: str, fn: runtime_helpers.HelperFn) -> runtime_helpers.HelperFn:
    def observed(inv: runtime_helpers.Invocation, ctx: object, *regs: int) -> int:
        try:
            return fn(inv, ctx, *regs)  # type: ignore[arg-type]
        finally:
            if CURRENT:
                CURRENT[-1].mark(name)
    return observed  # type: ignore[return-value]


def _observed_callback_done(real: Callable[..., None]) -> Callable[..., None]:
    def observed(item: WorkItem, element: object) -> None:
        observer = CURRENT[-1]
        if observer.failed:
            observer.check_rollback()
        else:
            observer.mark("process_run_head")
        real(item, element)
        observer.mark("process_callback_done")
    return observed


@contextmanager
def instrumented() -> Iterator[None]:
    """Patch the helper table and the scheduler's callback step with observers."""
    with pytest.MonkeyPatch.context() as patch:
        for name, fn in list(runtime_helpers.HELPER_FUNCTIONS.items()):
            patch.setitem(runtime_helpers.HELPER_FUNCTIONS, name, _wrap_helper(name, fn))
        patch.setattr(scheduler, "process_callback_done",
                      _observed_callback_done(scheduler.process_callback_done))
        yield


class ObservedInvoker:
    """The reference invoker, marking the trigger step before and the outcome after."""

    def __init__(self, inner: ReferenceInvoker) -> None:
        self.inner = inner

    def __call__(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                 cpu: Cpu) -> InvocationOutcome:
        observer = CURRENT[-1]
        observer.state = state  # the explorer runs each step on a copy
        observer.mark("process_take_trigger")
        observer.invocation_start = dict(observer.last)
        outcome = self.inner(state, item, budget, cpu)
        observer.failed = outcome.fault is not None
        if not observer.failed:
            observer.mark("invocation")  # every change inside is a helper's: none expected
        return outcome


def observe_bundle(path: Path, seen: Observation, *, max_slots: int = 24, seed: int = 0,
                   classify_timer: Callable[[RuntimeState, lc.ObjectId], str] | None = None
                   ) -> None:
    """Run ``path`` (with seeded environment choices) and add what it shows to ``seen``."""
    bundle = load_bundle(path)
    rng = random.Random(f"{path.name}:{seed}")
    with instrumented():
        invoker = ObservedInvoker(ReferenceInvoker(bundle, base_dir=path.parent))
        state = create_initial_state(bundle)
        observer = Observer(bundle, state, path.name, seen, classify_timer=classify_timer)
        CURRENT.append(observer)
        try:
            slots = min(bundle.scenario.slots, max_slots)
            while state.slot < slots:
                actions = get_enabled_actions(state, bundle)
                action = actions[0] if len(actions) == 1 or rng.random() < 0.5 \
                    else rng.choice(actions[1:])
                step = STEP_NAMES[type(action)]
                events = process_action(state, action, invoker, bundle)
                observer.mark("process_enqueue_async" if step == "process_run_head" else step)
                observer.mark_slot(step)
                for event in events:
                    seen.step_events.setdefault((step, event.kind.value), path.name)
        finally:
            CURRENT.pop()


def check_tables(seen: Observation, lifecycles: tuple[lc.Lifecycle, ...],
                 step_events: dict[str, tuple[str, ...]]) -> list[str]:
    """Return every disagreement between the runs and the tables (both directions)."""
    errors = list(seen.rollback_errors)
    by_name = {life.name: life for life in lifecycles}
    for (name, source, event, target), where in sorted(seen.changes.items()):
        life = by_name[name]
        if source not in life.states or target not in life.states:
            errors.append(f"{name}: {source} -> {target} names a state the table lacks ({where})")
        if not any(r.event == event for r in lc.get_rows(life, source, target)):
            errors.append(f"{name}: {source} --{event}--> {target} is no row ({where})")
    for life in lifecycles:
        for row in life.rows:
            if (life.name, row.source, row.event, row.target) not in seen.changes:
                errors.append(f"{life.name}: row {row.source} --{row.event}--> {row.target} "
                              "was never observed")
    for (step, kind), where in sorted(seen.step_events.items()):
        if kind not in step_events.get(step, ()):
            errors.append(f"slot: {step} emitted {kind!r}, which the table lacks ({where})")
    for step, kinds in step_events.items():
        errors += [f"slot: {step} never emitted {kind!r}" for kind in kinds
                   if (step, kind) not in seen.step_events]
    return errors


def observe_exploration(path: Path, seen: Observation, *, slots: int = 4,
                        max_states: int = 400) -> int:
    """Explore ``path`` breadth-first (every environment choice, no reductions, no cache)
    and add what every explored step shows to ``seen``; return the states explored."""
    from arspec.model.engine import Bounds, explore
    from arspec.model.runtime_system import ModelState, RuntimeSystem

    bundle = load_bundle(path)
    with instrumented():
        invoker = ObservedInvoker(ReferenceInvoker(bundle, base_dir=path.parent))
        system = RuntimeSystem(bundle, invoker, slots=slots)
        real_apply = system.apply

        def apply(state: ModelState, action: scheduler.Action) -> ModelState:
            observer = Observer(bundle, state.runtime, f"{path.name} (explored)", seen)
            CURRENT.append(observer)
            try:
                result = real_apply(state, action)
            finally:
                CURRENT.pop()
            assert result.error is None, result.error
            step = STEP_NAMES[type(action)]
            observer.state = result.runtime
            observer.mark("process_enqueue_async" if step == "process_run_head" else step)
            observer.mark_slot(step)
            for event in result.step.events:
                seen.step_events.setdefault((step, event.kind.value), observer.where)
            return result

        system.apply = apply  # type: ignore[method-assign]
        result = explore(system, bounds=Bounds(max_states=max_states))
    return result.stats.states
