"""The spec's transition tables (:mod:`arspec.spec.lifecycles`) against the runtime.

Every bundle of ``examples/``, ``examples/explore/`` and ``tests/bundles/lifecycles/`` runs
on the reference runtime with seeded environment choices, and the explorer explores the
last two groups (every environment choice, 6 slots, at most 400 states each); every change
of a timer, work item, ring record or slot must be a row, every row must be seen, and a
failed invocation must leave every object where it started. The negative tests break a table or a
classification and expect the check to say so.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lifecycle_observer import Observation, check_tables, observe_bundle, observe_exploration

from arspec.spec import lifecycles as lc
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import create_initial_state
from arspec.spec.state import RuntimeState
from arspec.spec.types import MapId

ROOT = Path(__file__).resolve().parent.parent
#: Bundles that do not load on purpose (a refused helper): they run nothing.
NOT_RUNNABLE = {"broken_nondeterministic.yaml"}
LIFECYCLE_BUNDLES = ROOT / "tests" / "bundles" / "lifecycles"


def bundle_paths() -> list[Path]:
    paths = [*sorted((ROOT / "examples").glob("*.yaml")),
             *sorted((ROOT / "examples" / "explore").glob("*.yaml")),
             *sorted(LIFECYCLE_BUNDLES.glob("*.yaml"))]
    return [p for p in paths if p.name not in NOT_RUNNABLE]


def observe_all(**options: object) -> Observation:
    seen = Observation()
    for path in bundle_paths():
        for seed in (0, 1):
            observe_bundle(path, seen, seed=seed, **options)  # type: ignore[arg-type]
    return seen


def explore_all(seen: Observation) -> int:
    """Explore every bundle of ``examples/explore/`` and the lifecycle bundles; return the
    number of states."""
    paths = [*sorted((ROOT / "examples" / "explore").glob("*.yaml")),
             *sorted(LIFECYCLE_BUNDLES.glob("*.yaml"))]
    return sum(observe_exploration(path, seen, slots=6, max_states=400) for path in paths)


@pytest.fixture(scope="module")
def observation() -> Observation:
    seen = observe_all()
    assert explore_all(seen) > 1000
    return seen


def test_explored_steps_are_rows() -> None:
    """The explorer's steps (every environment choice, copies of states) show only rows."""
    seen = Observation()
    explore_all(seen)
    errors = check_tables(seen, lc.LIFECYCLES, lc.SLOT_STEP_EVENTS)
    assert seen.changes and [e for e in errors if "never" not in e] == []


def test_every_change_is_a_row_and_every_row_is_seen(observation: Observation) -> None:
    assert check_tables(observation, lc.LIFECYCLES, lc.SLOT_STEP_EVENTS) == []
    assert observation.rollbacks > 0  # the rollback rule was exercised


@pytest.mark.parametrize("life", lc.LIFECYCLES, ids=lambda life: life.name)
def test_invalid_table_with_a_row_removed(observation: Observation, life: lc.Lifecycle) -> None:
    for index, row in enumerate(life.rows):
        broken = replace(life, rows=life.rows[:index] + life.rows[index + 1:])
        tables = tuple(broken if t.name == life.name else t for t in lc.LIFECYCLES)
        errors = check_tables(observation, tables, lc.SLOT_STEP_EVENTS)
        assert any(f"{row.source} --{row.event}--> {row.target} is no row" in e
                   for e in errors), row


def test_invalid_table_with_a_row_never_taken(observation: Observation) -> None:
    extra = lc.Transition("armed", "bpf_timer_cancel", "running", "made up")
    tables = (replace(lc.TIMER, rows=(*lc.TIMER.rows, extra)), *lc.LIFECYCLES[1:])
    errors = check_tables(observation, tables, lc.SLOT_STEP_EVENTS)
    assert errors == ["timer: row armed --bpf_timer_cancel--> running was never observed"]


def test_invalid_row_with_the_wrong_event(observation: Observation) -> None:
    rows = tuple(replace(r, event="bpf_timer_start") if r.event == "bpf_timer_init" else r
                 for r in lc.TIMER.rows)
    tables = (replace(lc.TIMER, rows=rows), *lc.LIFECYCLES[1:])
    errors = check_tables(observation, tables, lc.SLOT_STEP_EVENTS)
    assert any("uninitialised --bpf_timer_init--> initialised is no row" in e for e in errors)


def test_invalid_step_events(observation: Observation) -> None:
    events = dict(lc.SLOT_STEP_EVENTS, process_end_slot=("end_slot",))
    errors = check_tables(observation, lc.LIFECYCLES, events)
    assert any("process_end_slot emitted 'defer'" in e for e in errors)
    events = dict(lc.SLOT_STEP_EVENTS, process_enqueue_due=("suppress", "enqueue", "consume"))
    errors = check_tables(observation, lc.LIFECYCLES, events)
    assert errors == ["slot: process_enqueue_due never emitted 'consume'"]


def _queued_as_armed(state: RuntimeState, where: lc.ObjectId) -> str:
    found = lc.classify_timer(state, where)
    return "armed" if found == "queued" else found


def _running_ignored(state: RuntimeState, where: lc.ObjectId) -> str:
    found = lc.classify_timer(state, where)
    return found.replace("running_armed", "armed").replace("running", "callback_set")


@pytest.mark.parametrize("wrong", [_queued_as_armed, _running_ignored])
def test_invalid_classification_fails(wrong: object) -> None:
    seen = Observation()
    for path in bundle_paths():
        observe_bundle(path, seen, classify_timer=wrong)  # type: ignore[arg-type]
    assert check_tables(seen, lc.LIFECYCLES, lc.SLOT_STEP_EVENTS) != []


def test_invalid_rollback_that_keeps_the_failed_invocation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler whose rollback snapshot shares the live maps keeps what a failed
    invocation did: the rollback check must see it."""
    from arspec.spec import scheduler

    monkeypatch.setattr(scheduler, "copy_maps", lambda maps: maps)
    seen = Observation()
    observe_bundle(LIFECYCLE_BUNDLES / "rollback.yaml", seen)
    assert seen.rollbacks > 0
    assert any("ring_record" in e and "free before the invocation, reserved after" in e
               for e in seen.rollback_errors), seen.rollback_errors[:3]


def test_classify_new_state() -> None:
    bundle = load_bundle(LIFECYCLE_BUNDLES / "timers.yaml")
    state = create_initial_state(bundle)
    assert lc.classify_slot(state, bundle) == "enqueue"
    assert lc.classify_timer(state, (MapId("h"), bytes(4), 0)) == lc.ABSENT
    assert lc.classify_timer(state, (MapId("a"), bytes(4), 0)) == "uninitialised"
    assert lc.get_async_objects(state, "timer") == []  # nothing stored yet, nothing created


def test_classify_record_positions() -> None:
    bundle = load_bundle(LIFECYCLE_BUNDLES / "work.yaml")
    state = create_initial_state(bundle)
    assert lc.classify_record(state, (MapId("rb"), 0)) == "free"
    assert lc.get_records(state) == []
    with pytest.raises(AssertionError):
        lc.classify_record(state, (MapId("w"), 0))


def test_tables_are_well_formed() -> None:
    for life in lc.LIFECYCLES:
        assert life.initial in life.states
        for row in life.rows:
            assert row.source in life.states and row.target in life.states, row
            assert row.source != row.target, row
        assert len({(r.source, r.event, r.target) for r in life.rows}) == len(life.rows)
