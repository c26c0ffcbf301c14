"""Steps share the maps they do not write with their predecessor, and leave them unchanged.

:meth:`~arspec.model.runtime_system.RuntimeSystem.get_written_maps` lets a successor keep
its predecessor's map objects except those the step may write: none for
:data:`~arspec.model.runtime_system.MAP_FREE_ACTIONS`, the consumable ring buffers for
enqueueing due work. This is sound only while the spec's transitions for those actions
write no other map: every step of every example is checked here, on the predecessor's
maps before and after the step. The encodings of shared maps are remembered by identity
(:class:`~arspec.model.state_codec.MapPartsCache`); with both shortcuts off the explorer
must reach the same states, in the same order, with the same verdicts and traces.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

import arspec.model.runtime_system as rs_module
from arspec.model.engine import Bounds, StoreMode, explore
from arspec.model.explore_bundle import (
    build_system,
    check_explore_input,
    compile_checks,
    explore_result,
)
from arspec.model.runtime_system import (
    MAP_FREE_ACTIONS,
    MAP_PARTS,
    ModelState,
    RuntimeSystem,
    copy_runtime_state,
    encode_model_state,
    make_model_state,
)
from arspec.model.state_codec import MapPartsCache, encode_runtime
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from arspec.spec.ringbuf import is_ringbuf_consume_enabled, process_ringbuf_output
from arspec.spec.scheduler import Action, EnqueueDue, RunHead
from arspec.spec.state import compute_map_key, compute_state_key

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(str(p) for p in [*ROOT.glob("examples/*.yaml"),
                                  *ROOT.glob("examples/explore/*.yaml"),
                                  ROOT / "benchmarks" / "scale_bundle.yaml"]
                 if "scenario:" in p.read_text(encoding="utf-8"))


def maps_key(state: ModelState) -> tuple[object, ...]:
    return tuple(compute_map_key(m) for m in state.runtime.maps.values())


def make_system(path: str, slots: int = 6) -> RuntimeSystem | None:
    bundle = load_bundle(path)
    try:
        horizon = check_explore_input(bundle, path, None, None, None)
        return build_system(bundle, path, min(horizon, slots), compile_checks(bundle),
                            cache=True)
    except InputError:
        return None  # the explorer refuses this bundle (tested elsewhere)


def check_sharing(path: str) -> dict[str, int]:
    """Explore ``path`` checking that no step changes its predecessor's maps and that a
    successor shares exactly the maps its step does not write; return the shared steps."""
    system = make_system(path)
    if system is None:
        return {}
    shared: dict[str, int] = {}

    class Checking(RuntimeSystem):
        def apply(self, state: ModelState, action: Action) -> ModelState:
            before = maps_key(state)
            written = self.get_written_maps(state.runtime, action)
            post = super().apply(state, action)
            assert maps_key(state) == before
            if written is not None and post.error is None:
                for name, mstate in state.runtime.maps.items():
                    assert (post.runtime.maps[name] is mstate) == (name not in written)
                shared[type(action).__name__] = shared.get(type(action).__name__, 0) + 1
            return post

        def canonicalize(self, state: ModelState) -> ModelState:
            before = maps_key(state)
            canon = super().canonicalize(state)
            assert maps_key(state) == before
            if canon is not state:
                shared["canonicalize"] = shared.get("canonicalize", 0) + 1
            return canon

    checking = Checking(system.bundle, system.invoker, slots=system.slots,
                        checks=system.checks)
    explore(checking, bounds=Bounds(max_states=3000), stop_at_first_violation=False,
            canonicalize=checking.canonicalize)
    return shared


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: Path(p).stem)
def test_steps_leave_the_shared_maps_unchanged(path: str) -> None:
    shared = check_sharing(path)
    if make_system(path) is not None:
        assert shared.get("EndSlot", 0) > 0


def ring_states() -> tuple[RuntimeSystem, ModelState, ModelState]:
    """Return the scale bundle's system, a state whose next step enqueues due work, and
    the same state with one record committed to its subscribed ring."""
    system = make_system(str(ROOT / "benchmarks" / "scale_bundle.yaml"))
    assert system is not None and system.config.subscribers
    state = system.initial_states()[0]
    while EnqueueDue() not in system.actions(state):
        state = system.apply(state, system.actions(state)[0])
    runtime = copy_runtime_state(state.runtime)
    ring = runtime.maps[next(iter(system.config.subscribers))].ringbuf
    assert ring is not None and not is_ringbuf_consume_enabled(ring)
    assert process_ringbuf_output(ring, bytes(16), 0) == 0
    return system, state, make_model_state(runtime, state.ran)


def test_enqueueing_shares_every_map_without_a_record_to_consume() -> None:
    system, state, _ = ring_states()
    post = system.apply(state, EnqueueDue())
    assert post.error is None
    assert all(post.runtime.maps[n] is m for n, m in state.runtime.maps.items())


def test_invalid_enqueueing_copies_a_ring_with_a_record_to_consume() -> None:
    system, _, state = ring_states()
    name = next(iter(system.config.subscribers))
    before = maps_key(state)
    post = system.apply(state, EnqueueDue())
    assert post.error is None and maps_key(state) == before
    assert post.runtime.maps[name] is not state.runtime.maps[name]
    assert all(post.runtime.maps[n] is m for n, m in state.runtime.maps.items() if n != name)
    ring = post.runtime.maps[name].ringbuf
    assert ring is not None and ring.consumer_pos == ring.producer_pos


def test_invalid_a_rule_forgetting_the_ring_would_change_the_predecessor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # what the exploration check above guards against: sharing a map the step writes
    def forgetful(self: RuntimeSystem, runtime: object, action: Action) -> frozenset[str] | None:
        return frozenset() if isinstance(action, (*MAP_FREE_ACTIONS, EnqueueDue)) else None

    monkeypatch.setattr(RuntimeSystem, "get_written_maps", forgetful)
    system, _, state = ring_states()
    before = maps_key(state)
    system.apply(state, EnqueueDue())
    assert maps_key(state) != before


def run_heads(cache: bool) -> list[tuple[ModelState, ModelState]]:
    """Return (state, successor) of the first runs of the head along pairs_trading's
    canonical path, each checked to leave its predecessor's maps unchanged."""
    path = str(ROOT / "examples" / "pairs_trading.yaml")
    bundle = load_bundle(path)
    system = build_system(bundle, path, 6, compile_checks(bundle), cache=cache)
    state = system.initial_states()[0]
    found = []
    while system.actions(state):
        action = system.actions(state)[0]
        before = maps_key(state)
        post = system.apply(state, action)
        assert maps_key(state) == before
        if isinstance(action, RunHead):
            found.append((state, post))
        state = post
    return found


@pytest.mark.parametrize("cache", [True, False])
def test_a_run_copies_the_maps_it_reaches_and_shares_the_others(cache: bool) -> None:
    steps = run_heads(cache)
    assert len(steps) >= 5
    copied = kept = 0
    for state, post in steps:
        assert compute_state_key(post.runtime) == compute_state_key(copy_runtime_state(
            post.runtime))
        for name, mstate in state.runtime.maps.items():
            if post.runtime.maps[name] is mstate:
                kept += 1
            else:
                copied += 1
    assert copied > 0 and kept > 0


def test_invalid_a_run_handed_the_shared_maps_would_change_its_predecessor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a recorder that records reads but does not copy: the run writes the predecessor's maps
    def read_only(self: rs_module._ReadRecorder, name: object) -> None:
        if name not in self.reads and dict.__contains__(self, name):
            self.reads[name] = self.keyer(dict.__getitem__(self, name))

    monkeypatch.setattr(rs_module._ReadRecorder, "_read", read_only)
    with pytest.raises(AssertionError):
        run_heads(True)


def test_invalid_a_run_without_the_cache_handed_the_shared_maps_fails_alike(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def direct(self: rs_module.CachingInvoker, state: object, item: object, budget: object,
               cpu: object) -> object:
        return self.inner(state, item, budget, cpu)  # type: ignore[arg-type]

    monkeypatch.setattr(rs_module.CachingInvoker, "_run_copying", direct)
    with pytest.raises(AssertionError):
        run_heads(False)


def test_a_shared_ring_with_a_record_to_consume_is_copied() -> None:
    system = make_system(str(ROOT / "benchmarks" / "scale_bundle.yaml"))
    assert system is not None
    runtime = copy_runtime_state(system.initial_states()[0].runtime)
    name = next(iter(system.config.subscribers))
    ring_map = runtime.maps[name]
    others = {n: m for n, m in runtime.maps.items() if n != name}
    rs_module.copy_consumable_rings(runtime, {name: ring_map, **others})
    assert runtime.maps[name] is ring_map  # nothing to consume: still shared
    assert ring_map.ringbuf is not None
    assert process_ringbuf_output(ring_map.ringbuf, bytes(8), 0) == 0
    rs_module.copy_consumable_rings(runtime, {name: ring_map, **others})
    assert runtime.maps[name] is not ring_map
    assert compute_map_key(runtime.maps[name]) == compute_map_key(ring_map)
    assert all(runtime.maps[n] is m for n, m in others.items())


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


@pytest.fixture
def no_shortcuts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Copy every map on every step and encode every map afresh."""
    monkeypatch.setattr(rs_module, "SHARE_MAPS", False)
    monkeypatch.setattr(MAP_PARTS, "enabled", False)
    yield


def explored_keys(path: str, slots: int | None, reductions: bool = True,
                  ) -> tuple[object, ...]:
    """Return the summary and every explored state's key, in order, each checked against
    its encoding without the cache."""
    keys: list[bytes] = []
    original = RuntimeSystem.encode

    def encode(self: RuntimeSystem, state: ModelState) -> bytes:
        key = original(self, state)
        assert key == encode_model_state(state.runtime, state.ran, state.error)
        keys.append(key)
        return key

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RuntimeSystem, "encode", encode)
        try:
            _, result = explore_result(path, slots=slots, store=StoreMode.EXACT,
                                       reductions=reductions)
        except InputError as err:
            return ("refused", str(err))
    st = result.stats
    return (result.verdict, result.invariant_verdicts, st.states, st.transitions,
            st.max_depth, tuple((v.invariant, v.trace.labels) for v in result.violations),
            tuple(keys))


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: Path(p).stem)
def test_sharing_and_cached_encodings_equal_full_copies(path: str,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        ) -> None:
    MAP_PARTS.clear()
    fast = explored_keys(path, 6)
    monkeypatch.setattr(rs_module, "SHARE_MAPS", False)
    monkeypatch.setattr(MAP_PARTS, "enabled", False)
    assert explored_keys(path, 6) == fast


def test_pairs_trading_longer_horizon_equals_full_copies(no_shortcuts: None) -> None:
    path = str(ROOT / "examples" / "pairs_trading.yaml")
    slow = explored_keys(path, 12)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rs_module, "SHARE_MAPS", True)
        patch.setattr(MAP_PARTS, "enabled", True)
        assert explored_keys(path, 12) == slow


def test_map_parts_cache_hits_only_the_same_object() -> None:
    system = make_system(str(ROOT / "examples" / "pairs_trading.yaml"))
    assert system is not None
    runtime = system.initial_states()[0].runtime
    cache = MapPartsCache()
    copy = copy_runtime_state(runtime)
    assert encode_runtime(runtime, cache) == encode_runtime(copy, cache) \
        == encode_runtime(runtime)
    name = next(iter(copy.maps))
    other = copy_runtime_state(copy)
    other.maps[name].use_clock += 1  # an equal-looking map object that differs
    assert encode_runtime(other, cache) != encode_runtime(copy, cache)
    assert encode_runtime(other, cache) == encode_runtime(other)


def test_invalid_a_changed_cached_map_keeps_its_old_parts() -> None:
    # why only maps never changed once encoded may be cached: the cache cannot see a change
    system = make_system(str(ROOT / "examples" / "pairs_trading.yaml"))
    assert system is not None
    runtime = copy_runtime_state(system.initial_states()[0].runtime)
    cache = MapPartsCache()
    before = encode_runtime(runtime, cache)
    next(iter(runtime.maps.values())).use_clock += 1
    assert encode_runtime(runtime, cache) == before != encode_runtime(runtime)
    cache.clear()
    assert encode_runtime(runtime, cache) == encode_runtime(runtime)


def test_invalid_a_disabled_cache_computes_afresh() -> None:
    system = make_system(str(ROOT / "examples" / "pairs_trading.yaml"))
    assert system is not None
    runtime = copy_runtime_state(system.initial_states()[0].runtime)
    cache = MapPartsCache(enabled=False)
    before = encode_runtime(runtime, cache)
    next(iter(runtime.maps.values())).use_clock += 1
    assert encode_runtime(runtime, cache) != before


def test_invalid_an_entry_goes_with_its_map() -> None:
    system = make_system(str(ROOT / "benchmarks" / "scale_bundle.yaml"))
    assert system is not None
    runtime = copy_runtime_state(system.initial_states()[0].runtime)
    cache = MapPartsCache()
    encode_runtime(runtime, cache)
    assert len(cache) == len(runtime.maps)
    name = next(iter(runtime.maps))
    runtime.maps[name] = copy_runtime_state(runtime).maps[name]  # the old object dies
    gc.collect()
    assert len(cache) == len(runtime.maps) - 1
    del runtime
    gc.collect()
    assert len(cache) == 0


def test_invalid_a_full_cache_starts_over() -> None:
    system = make_system(str(ROOT / "benchmarks" / "scale_bundle.yaml"))
    assert system is not None
    runtime = copy_runtime_state(system.initial_states()[0].runtime)
    maps = list(runtime.maps.values())
    cache = MapPartsCache(limit=2)
    cache.get(maps[0])
    cache.get(maps[1])
    maps[0].use_clock += 1
    assert cache.get(maps[0]) != MapPartsCache(enabled=False).get(maps[0])  # remembered
    cache.get(maps[2])  # full: forgets maps 0 and 1
    assert len(cache) == 1
    assert cache.get(maps[0]) == MapPartsCache(enabled=False).get(maps[0])
