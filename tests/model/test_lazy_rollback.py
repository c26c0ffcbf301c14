"""The rollback snapshot of a run keeps the maps shared with another state (issue 16).

The scheduler snapshots the maps before every invocation and restores them when it fails
(:func:`~arspec.spec.scheduler.copy_rollback_maps`). The explorer's invoker changes a map
shared with the predecessor only through a copy, so its snapshot
(:meth:`~arspec.model.runtime_system.CachingInvoker.get_rollback_maps`) keeps those maps
and copies the others (the maps of the queued timers and work items, which the scheduler
and the run change in place) and any shared ring with a record to consume. With the
shortcut off every map is copied; every example must then give the same states, in the same
order, with the same verdicts and traces. ``rollback_timer.yaml`` is a timer callback that
writes the element it was fired from and then faults.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_map_sharing import BUNDLES, explored_keys, make_system

import arspec.model.runtime_system as rs_module
from arspec.model.runtime_system import CachingInvoker, ModelState, RuntimeSystem
from arspec.spec.ringbuf import process_ringbuf_output
from arspec.spec.scheduler import EventKind, RunHead, copy_rollback_maps
from arspec.spec.state import TriggerKind, compute_map_key

HERE = Path(__file__).resolve().parent
ROLLBACK = str(HERE / "rollback_timer.yaml")


@pytest.mark.parametrize("path", [*BUNDLES, ROLLBACK], ids=lambda p: Path(p).stem)
def test_lazy_snapshot_equals_full_copies(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = explored_keys(path, 6)
    monkeypatch.setattr(rs_module, "LAZY_ROLLBACK", False)
    assert explored_keys(path, 6) == lazy


ROLLED_BACK = ["broken_dynptr_null", "broken_spin_lock_held", "tail_broken", "budget_broken"]


@pytest.mark.parametrize("name", [*ROLLED_BACK, "rollback_timer"])
def test_lazy_snapshot_without_the_cache_equals_full_copies(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the invocation cache off: the run copies the shared maps itself (_run_copying)
    path = ROLLBACK if name == "rollback_timer" else next(
        p for p in BUNDLES if Path(p).stem == name)
    lazy = explored_keys(path, 6, reductions=False)
    monkeypatch.setattr(rs_module, "LAZY_ROLLBACK", False)
    assert explored_keys(path, 6, reductions=False) == lazy


def test_the_rollback_bundle_rolls_back_a_write_to_its_timer_s_map() -> None:
    system = make_system(ROLLBACK, 8)
    assert system is not None
    state = system.initial_states()[0]
    while system.actions(state):
        post = system.apply(state, system.actions(state)[0])
        runs = [e for e in post.step.events if e.kind == EventKind.RUN]
        if runs and runs[0].rolled_back:
            assert runs[0].item is not None and runs[0].item.kind == TriggerKind.TIMER
            # the callback wrote beats = 2; the rollback restored 1
            assert post.runtime.maps["hb"].elements[bytes(4)][0].value[0] == 1
            return
        state = post
    pytest.fail("no rolled-back run")


def timer_head() -> tuple[RuntimeSystem, ModelState]:
    """Return the rollback bundle's system and its first state whose head is the timer."""
    system = make_system(ROLLBACK, 8)
    assert system is not None
    state = system.initial_states()[0]
    while not (isinstance(system.actions(state)[0], RunHead)
               and state.runtime.fifo[0].kind == TriggerKind.TIMER):
        state = system.apply(state, system.actions(state)[0])
    return system, state


def test_the_snapshot_copies_the_owned_maps_and_keeps_the_shared() -> None:
    system, state = timer_head()
    invoker = system.invoker
    assert isinstance(invoker, CachingInvoker)
    maps = state.runtime.maps
    invoker.shared = frozenset()
    full = copy_rollback_maps(state.runtime, invoker)
    assert all(full[n] is not m for n, m in maps.items())
    invoker.shared = frozenset(n for n in maps if n != "hb")
    try:
        lazy = copy_rollback_maps(state.runtime, invoker)
    finally:
        invoker.shared = frozenset()
    assert lazy["hb"] is not maps["hb"]
    assert all(lazy[n] is m for n, m in maps.items() if n != "hb")
    assert [compute_map_key(m) for m in lazy.values()] == \
        [compute_map_key(m) for m in maps.values()]


def test_invalid_a_shared_ring_with_a_record_to_consume_is_copied() -> None:
    system = make_system(str(HERE.parents[1] / "benchmarks" / "scale_bundle.yaml"))
    assert system is not None
    invoker = system.invoker
    assert isinstance(invoker, CachingInvoker)
    runtime = rs_module.copy_runtime_state(system.initial_states()[0].runtime)
    name = next(iter(system.config.subscribers))
    invoker.shared = frozenset(runtime.maps)
    try:
        assert invoker.get_rollback_maps(runtime.maps)[name] is runtime.maps[name]
        ring = runtime.maps[name].ringbuf
        assert ring is not None and process_ringbuf_output(ring, bytes(8), 0) == 0
        assert invoker.get_rollback_maps(runtime.maps)[name] is not runtime.maps[name]
    finally:
        invoker.shared = frozenset()


def test_invalid_a_snapshot_keeping_every_map_is_caught(monkeypatch: pytest.MonkeyPatch,
                                                        ) -> None:
    # what the comparison above guards against: the owned map restored as the run left it
    reference = explored_keys(ROLLBACK, 8)
    uncached = explored_keys(ROLLBACK, 8, reductions=False)

    def keep_all(self: CachingInvoker, maps: dict[str, object]) -> dict[str, object]:
        return dict(maps)

    monkeypatch.setattr(CachingInvoker, "get_rollback_maps", keep_all)
    assert explored_keys(ROLLBACK, 8) != reference
    assert explored_keys(ROLLBACK, 8, reductions=False) != uncached


def test_an_invoker_without_the_hook_gets_copies() -> None:
    system, state = timer_head()
    invoker = system.invoker
    assert isinstance(invoker, CachingInvoker)
    maps = state.runtime.maps
    snapshot = copy_rollback_maps(state.runtime, invoker.inner)
    assert all(snapshot[n] is not m for n, m in maps.items())
