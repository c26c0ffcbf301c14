"""
Explored states that differ only in dead ring bytes have the same futures
=========================================================================

The explorer keys a state on its rings' live bytes only (:mod:`arspec.spec.ringbuf`), so it
keeps one of several states whose rings differ in consumed records. Here every state the
explorer reaches in the examples with a ring buffer (a few slots, reductions off) gets a twin
with every dead ring byte flipped, and every enabled action must take both to successors
with the same key, the same error and the same check results.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arspec.model.explore_bundle import explore_result
from arspec.model.runtime_system import ModelState
from arspec.spec.state import copy_state

ROOT = Path(__file__).resolve().parents[2]
RING_BUNDLES = ["examples/pairs_trading.yaml", "examples/explore/ring_ok.yaml",
                "examples/broken_ringbuf_overflow.yaml", "examples/dynptr_records.yaml",
                "examples/oracle_watcher.yaml", "benchmarks/scale_bundle.yaml"]


def with_dead_bytes_flipped(state: ModelState) -> tuple[ModelState, int]:
    """Return a twin of ``state`` with every byte outside each ring's live window flipped,
    and how many bytes were flipped."""
    runtime = copy_state(state.runtime)
    flipped = 0
    for mstate in runtime.maps.values():
        ring = mstate.ringbuf
        if ring is None:
            continue
        for pos in range(ring.producer_pos, ring.consumer_pos + ring.size):
            ring.data[pos % ring.size] ^= 0xA5
            flipped += 1
    return ModelState(runtime, state.ran, state.error), flipped


def reached(path: str, slots: int, limit: int) -> tuple[object, list[ModelState]]:
    """Return the system and up to ``limit`` states reached breadth-first."""
    system, _ = explore_result(str(ROOT / path), slots=slots, reductions=False)
    seen: set[bytes] = set()
    frontier = list(system.initial_states())
    found: list[ModelState] = []
    while frontier and len(found) < limit:
        nxt = []
        for state in frontier:
            if state.key in seen:
                continue
            seen.add(state.key)
            found.append(state)
            nxt.extend(system.apply(state, a) for a in system.actions(state))
        frontier = nxt
    return system, found


@pytest.mark.parametrize("path", RING_BUNDLES)
def test_twins_with_other_dead_ring_bytes_step_alike(path: str) -> None:
    system, states = reached(path, 6, 400)
    consumed = 0
    for state in states:
        twin, flipped = with_dead_bytes_flipped(state)
        assert flipped > 0 and twin.key == state.key
        consumed += any(m.ringbuf is not None and m.ringbuf.consumer_pos > 0
                        for m in state.runtime.maps.values())
        actions = system.actions(state)  # type: ignore[attr-defined]
        assert system.actions(twin) == actions  # type: ignore[attr-defined]
        for action in actions:
            one = system.apply(state, action)  # type: ignore[attr-defined]
            two = system.apply(twin, action)  # type: ignore[attr-defined]
            assert (two.key, two.error, two.step.violations) == \
                (one.key, one.error, one.step.violations), (path, action)
    if path != "examples/broken_ringbuf_overflow.yaml":
        assert consumed > 0, "no reached state had consumed a record"


def test_a_moved_producer_position_changes_the_key() -> None:
    _, states = reached("examples/pairs_trading.yaml", 6, 400)
    state = states[-1]
    twin = ModelState(copy_state(state.runtime), state.ran, state.error)
    ring = next(m.ringbuf for m in twin.runtime.maps.values() if m.ringbuf is not None)
    assert ring is not None
    ring.producer_pos = ring.pending_pos = type(ring.producer_pos)(ring.producer_pos + 8)
    assert twin.key != state.key
