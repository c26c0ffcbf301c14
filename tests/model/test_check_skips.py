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
from test_map_sharing import explored_keys

from arspec.model import check_shortcuts
from arspec.model.check_shortcuts import (
    MAP_ONLY_CHECKS,
    is_ring_maps_kept,
    is_timer_maps_kept,
)
from arspec.model.engine import Bounds, explore
from arspec.model.explore_bundle import (
    build_system,
    check_explore_input,
    compile_checks,
    explore_result,
)
from arspec.model.runtime_system import ModelState, RuntimeSystem, copy_runtime_state
from arspec.spec.catalogue import CATALOGUE
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import Event, EventKind
from arspec.spec.state import RuntimeState, TriggerKind, WorkItem, make_entry
from arspec.spec.types import ProgId, Slot

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(str(p) for p in [*ROOT.glob("examples/*.yaml"),
                                  *ROOT.glob("examples/explore/*.yaml"),
                                  ROOT / "benchmarks" / "scale_bundle.yaml"]
                 if "scenario:" in p.read_text(encoding="utf-8"))


def test_the_skipped_checks_are_the_catalogue_s() -> None:
    for name, (function, _) in MAP_ONLY_CHECKS.items():
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
            for function, kept in MAP_ONLY_CHECKS.values():
                if kept(pre.runtime, events, post):
                    skipped[0] += 1
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


KEPT = [is_timer_maps_kept, is_ring_maps_kept]


@pytest.mark.parametrize("kept", KEPT)
def test_a_step_sharing_every_map_without_events_is_skipped(kept: object) -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True)
    assert kept(pre, [], post)  # type: ignore[operator]
    assert kept(pre, [Event(Slot(0), EventKind.END_SLOT)], post)  # type: ignore[operator]


def test_a_copied_map_of_another_kind_is_skipped() -> None:
    pre = runtime()
    for kept, other in [(is_timer_maps_kept, "spreads"), (is_ring_maps_kept, "clock")]:
        post = copy_runtime_state(pre, share_maps=True, written={other})
        assert post.maps[other] is not pre.maps[other]
        assert kept(pre, [], post)


@pytest.mark.parametrize(("kept", "name"), [(is_timer_maps_kept, "clock"),
                                            (is_ring_maps_kept, "spreads")])
def test_invalid_a_copied_map_is_not_skipped(kept: object, name: str) -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True, written={name})
    assert not kept(pre, [], post)  # type: ignore[operator]
    assert not kept(pre, [], copy_runtime_state(pre))  # type: ignore[operator]


def test_invalid_a_ring_record_enqueued_is_not_skipped() -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True)
    item = WorkItem(seq=0, kind=TriggerKind.RINGBUF, entry=make_entry(ProgId("x")),
                    enqueued_slot=Slot(0), reason="ring", map_id="spreads", record=b"r")
    assert not is_ring_maps_kept(pre, [Event(Slot(0), EventKind.ENQUEUE, item=item)], post)
    assert is_timer_maps_kept(pre, [Event(Slot(0), EventKind.ENQUEUE, item=item)], post)


@pytest.mark.parametrize("kept", KEPT)
def test_invalid_a_missing_map_is_not_skipped(kept: object) -> None:
    pre = runtime()
    post = copy_runtime_state(pre, share_maps=True)
    del post.maps[next(iter(post.maps))]
    assert not kept(pre, [], post)  # type: ignore[operator]


def test_invalid_a_skip_that_always_holds_hides_the_lost_timer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the exploration check above guards against this: a skip rule too eager
    path = str(ROOT / "examples" / "explore" / "timer_broken.yaml")
    _, before = explore_result(path, slots=None)
    assert "no_lost_timer" in {v.invariant for v in before.violations}
    always = {n: (f, lambda pre, events, post: True) for n, (f, _) in MAP_ONLY_CHECKS.items()}
    monkeypatch.setattr(check_shortcuts, "MAP_ONLY_CHECKS", always)
    _, after = explore_result(path, slots=None)
    assert "no_lost_timer" not in {v.invariant for v in after.violations}


# --------------------------------------------------------------------------- every shortcut off


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: Path(p).stem)
def test_every_check_shortcut_off_gives_the_same_exploration(
        path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # skipped transition checks, remembered user invariants, the replica check's one-copy
    # orders: the same states, order, verdicts and traces without any of them
    fast = explored_keys(path, 6)
    monkeypatch.setattr(check_shortcuts, "SKIP_CHECKS", False)
    assert explored_keys(path, 6) == fast


def test_invalid_a_user_invariant_remembered_by_the_wrong_inputs_is_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(ROOT / "examples" / "explore" / "vault_broken.yaml")
    reference = explored_keys(path, 6)
    assert "solvent" in str(reference)
    monkeypatch.setattr(check_shortcuts, "get_field_value", lambda state, ref: 0)
    broken = explored_keys(path, 6)
    assert broken != reference and "'solvent'" not in str(broken[5])


TWO_DOMAINS = (Path(__file__).parents[1] / "bundles" / "two_domains.yaml").read_text()


def test_invalid_orders_taken_as_free_hide_a_divergence(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         ) -> None:
    # the one-copy path must fall back when the orders differ: with it always saying "free",
    # the planted order-dependent write of tests/explorer is not caught
    from arspec.spec import scheduler

    original = scheduler.process_domain_write

    def planted(state, config, action):  # type: ignore[no-untyped-def]
        events = original(state, config, action)
        state.writer_depth[action.account] = len(state.domains_written)
        return events

    monkeypatch.setattr(scheduler, "process_domain_write", planted)
    path = tmp_path / "two.yaml"
    path.write_text(TWO_DOMAINS)
    _, caught = explore_result(str(path), reductions=False)
    assert "replica_determinism" in {v.invariant for v in caught.violations}
    monkeypatch.setattr(RuntimeSystem, "is_order_free", lambda self, state, writes: True)
    _, missed = explore_result(str(path), reductions=False)
    assert "replica_determinism" not in {v.invariant for v in missed.violations}
