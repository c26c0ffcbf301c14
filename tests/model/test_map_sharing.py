"""Steps that never touch maps share them with their predecessor, and leave them unchanged.

:data:`~arspec.model.runtime_system.MAP_FREE_ACTIONS` lets a successor keep its
predecessor's map objects. This is sound only while the spec's transitions for those
actions never write a map: every such transition of every example is checked here, on the
predecessor's maps before and after the step.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from arspec.model.engine import Bounds, explore
from arspec.model.explore_bundle import build_system, check_explore_input, compile_checks
from arspec.model.runtime_system import (
    MAP_FREE_ACTIONS,
    ModelState,
    RuntimeSystem,
    copy_runtime_state,
)
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import Action, RunHead
from arspec.spec.state import compute_map_key, compute_state_key

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(str(p) for p in [*ROOT.glob("examples/*.yaml"),
                                  *ROOT.glob("examples/explore/*.yaml"),
                                  ROOT / "benchmarks" / "scale_bundle.yaml"]
                 if "scenario:" in p.read_text(encoding="utf-8"))


def maps_key(state: ModelState) -> tuple[object, ...]:
    return tuple(compute_map_key(m) for m in state.runtime.maps.values())


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: Path(p).stem)
def test_map_free_steps_leave_the_shared_maps_unchanged(path: str) -> None:
    bundle = load_bundle(path)
    try:
        horizon = check_explore_input(bundle, path, None, None, None)
        system = build_system(bundle, path, min(horizon, 6), compile_checks(bundle),
                              cache=True)
    except InputError:
        return  # the explorer refuses this bundle (tested elsewhere)
    checked = [0]

    class Checking(RuntimeSystem):
        def apply(self, state: ModelState, action: Action) -> ModelState:
            before = maps_key(state)
            post = super().apply(state, action)
            if isinstance(action, MAP_FREE_ACTIONS) and post.error is None:
                assert maps_key(state) == before
                assert all(post.runtime.maps[n] is state.runtime.maps[n]
                           for n in state.runtime.maps)
                checked[0] += 1
            return post

    checking = Checking(bundle, system.invoker, slots=system.slots, checks=system.checks)
    explore(checking, bounds=Bounds(max_states=3000), stop_at_first_violation=False)
    assert checked[0] > 0


def test_invalid_other_steps_copy_the_maps() -> None:
    path = str(ROOT / "examples" / "pairs_trading.yaml")
    bundle = load_bundle(path)
    system = build_system(bundle, path, 6, compile_checks(bundle), cache=False)
    state = system.initial_states()[0]
    while RunHead() not in system.actions(state):
        state = system.apply(state, system.actions(state)[0])
    post = system.apply(state, RunHead())
    assert all(post.runtime.maps[n] is not state.runtime.maps[n] for n in state.runtime.maps)


def test_shared_copy_equals_full_copy() -> None:
    path = str(ROOT / "examples" / "pairs_trading.yaml")
    bundle = load_bundle(path)
    system = build_system(bundle, path, 6, compile_checks(bundle), cache=False)
    runtime = system.initial_states()[0].runtime
    shared = copy_runtime_state(runtime, share_maps=True)
    full = copy_runtime_state(runtime)
    assert compute_state_key(shared) == compute_state_key(full) == compute_state_key(runtime)
    assert shared.maps is not runtime.maps
    assert dataclasses.fields(shared) == dataclasses.fields(full)
