"""Transition checks skipped on steps that cannot change their inputs (issue 16).

:data:`~arspec.model.runtime_system.MAP_ONLY_CHECKS` are not evaluated on a step that kept
every map object and has no run, skip or enqueue event. On every such step of every example
(3,000 states each) the skipped checks are evaluated anyway here and must hold; steps that
copy a map or carry one of those events are never skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from arspec.model.engine import Bounds, explore
from arspec.model.explore_bundle import build_system, check_explore_input, compile_checks
from arspec.model.runtime_system import (
    MAP_ONLY_CHECKS,
    ModelState,
    RuntimeSystem,
    copy_runtime_state,
    is_map_only_step,
)
from arspec.spec.catalogue import CATALOGUE
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import Event, EventKind
from arspec.spec.state import RuntimeState
from arspec.spec.types import Slot

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(str(p) for p in [*ROOT.glob("examples/*.yaml"),
                                  *ROOT.glob("examples/explore/*.yaml"),
                                  ROOT / "benchmarks" / "scale_bundle.yaml"]
                 if "scenario:" in p.read_text(encoding="utf-8"))


def test_the_skipped_checks_are_the_catalogue_s() -> None:
    for name, function in MAP_ONLY_CHECKS.items():
        assert CATALOGUE[name].transition is function


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: Path(p).stem)
def test_skipped_checks_hold_on_every_skipped_step(path: str) -> None:
    bundle = load_bundle(path)
    try:
        horizon = check_explore_input(bundle, path, None, None, None)
        system = build_system(bundle, path, min(horizon, 6), compile_checks(bundle),
                              cache=True)
    except InputError:
        return  # the explorer refuses this bundle (tested elsewhere)
    skipped = [0]

    class Checking(RuntimeSystem):
        def compute_step_violations(self, pre: ModelState, events: Sequence[Event],
                                    post: RuntimeState) -> tuple[tuple[str, str], ...]:
            if is_map_only_step(pre.runtime, events, post):
                skipped[0] += 1
                for function in MAP_ONLY_CHECKS.values():
                    assert function(self.context, pre.runtime, events, post) is None
            return super().compute_step_violations(pre, events, post)

    checking = Checking(bundle, system.invoker, slots=system.slots, checks=system.checks)
    explore(checking, bounds=Bounds(max_states=3000), stop_at_first_violation=False)
    assert skipped[0] > 0


def runtime() -> RuntimeState:
    path = str(ROOT / "examples" / "pairs_trading.yaml")
    bundle = load_bundle(path)
    system = build_system(bundle, path, 6, compile_checks(bundle), cache=False)
    return system.initial_states()[0].runtime


def test_a_step_sharing_every_map_without_events_is_skipped() -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True)
    assert is_map_only_step(pre, [], post)
    assert is_map_only_step(pre, [Event(Slot(0), EventKind.END_SLOT)], post)


def test_invalid_a_copied_map_is_not_skipped() -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True)
    name = next(iter(post.maps))
    post.maps[name] = copy_runtime_state(pre).maps[name]
    assert not is_map_only_step(pre, [], post)
    assert not is_map_only_step(pre, [], copy_runtime_state(pre))


@pytest.mark.parametrize("kind", [EventKind.RUN, EventKind.SKIP, EventKind.ENQUEUE])
def test_invalid_an_event_a_check_reads_is_not_skipped(kind: EventKind) -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True)
    assert not is_map_only_step(pre, [Event(Slot(0), kind)], post)


def test_invalid_a_missing_map_is_not_skipped() -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True)
    del post.maps[next(iter(post.maps))]
    assert not is_map_only_step(pre, [], post)
