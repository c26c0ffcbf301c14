"""Compact state encoding and fingerprint store: the same states, verdicts and traces.

"Today's explorer" is reproduced by encoding states with ``repr`` of the canonical tuple
(:func:`arspec.spec.state.encode_state`) in the exact store; the compact encoding in the
fingerprint store must give the same verdicts, state and transition counts, depths and
trace lengths on every example bundle.
"""

from __future__ import annotations

import dataclasses
import gc
import pickle
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from model_systems import Counter, below

import arspec.model.engine as engine_module
import arspec.model.runtime_system as rs_module
from arspec.model.engine import (
    Bounds,
    ModelError,
    StoreMode,
    Verdict,
    explore,
    replay,
)
from arspec.model.explore_bundle import explore_result
from arspec.model.frontier_pack import SharedObjects, get_shared_object
from arspec.model.runtime_system import ModelState, RuntimeSystem
from arspec.model.state_codec import (
    FINGERPRINT_BITS,
    compute_fingerprint,
    describe_collisions,
    encode_runtime,
    get_expected_collisions,
)
from arspec.spec.errors import InputError
from arspec.spec.ringbuf import (
    RingBuffer,
    compute_sample_pos,
    get_live_bytes,
    process_ringbuf_reserve,
    process_ringbuf_submit,
    process_ringbuf_write,
)
from arspec.spec.state import RuntimeState, WorkItem, copy_state, encode_state
from arspec.spec.types import MapId, RingPos

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(str(p.relative_to(ROOT)) for p in
                 [*ROOT.glob("examples/*.yaml"), *ROOT.glob("examples/explore/*.yaml")]
                 if "scenario:" in p.read_text(encoding="utf-8"))


def repr_encoding(state: RuntimeState, cache: object = None) -> bytes:
    """Encode as the explorer did before the compact encoding (the cache plays no part)."""
    return encode_state(state)


@pytest.fixture
def old_encoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Encode states as the explorer did before the compact encoding (``repr`` text)."""
    monkeypatch.setattr(rs_module, "encode_runtime", repr_encoding)
    yield


def summary(path: str, store: StoreMode, slots: int | None = None,
            ) -> tuple[object, ...]:
    try:
        _, result = explore_result(str(ROOT / path), slots=slots, store=store)
    except InputError as err:  # a bundle the explorer refuses is refused alike
        return ("refused", str(err))
    st = result.stats
    return (result.verdict, result.invariant_verdicts, st.states, st.transitions,
            st.max_depth, tuple((v.invariant, len(v.trace), v.trace.labels)
                                for v in result.violations))


def test_examples_are_found() -> None:
    assert len(BUNDLES) >= 20


@pytest.mark.parametrize("path", BUNDLES)
def test_compact_fingerprints_equal_todays_explorer(path: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    new = summary(path, StoreMode.FINGERPRINT)
    exact = summary(path, StoreMode.EXACT)
    monkeypatch.setattr(rs_module, "encode_runtime", repr_encoding)
    old = summary(path, StoreMode.EXACT)
    assert new == old == exact


def test_pairs_trading_longer_horizon_equals_todays_explorer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    new = summary("examples/pairs_trading.yaml", StoreMode.FINGERPRINT, slots=12)
    monkeypatch.setattr(rs_module, "encode_runtime", repr_encoding)
    assert summary("examples/pairs_trading.yaml", StoreMode.EXACT, slots=12) == new


def reached_runtimes(path: str, slots: int) -> list[RuntimeState]:
    """Return the runtime state of every explored transition's target, duplicates too."""
    system, _ = explore_result(str(ROOT / path), slots=slots, reductions=False)
    seen: list[RuntimeState] = []
    original: Callable[[ModelState, object], ModelState] = system.apply  # type: ignore
    for state in [system.initial_states()[0]]:
        frontier = [state]
        for _ in range(40):
            nxt = []
            for s in frontier:
                for action in system.actions(s):
                    post = original(s, action)
                    seen.append(post.runtime)
                    nxt.append(post)
            frontier = nxt[:30]
    return seen


@pytest.mark.parametrize("path", ["examples/pairs_trading.yaml", "examples/risk_analyzer.yaml",
                                  "examples/explore/ring_ok.yaml",
                                  "examples/explore/vault_broken.yaml"])
def test_compact_and_repr_encodings_partition_states_alike(path: str) -> None:
    runtimes = reached_runtimes(path, 6)
    assert len(runtimes) > 50
    to_repr: dict[bytes, bytes] = {}
    to_compact: dict[bytes, bytes] = {}
    for runtime in runtimes:
        old, new = encode_state(runtime), encode_runtime(runtime)
        assert to_repr.setdefault(new, old) == old
        assert to_compact.setdefault(old, new) == new
    assert len(to_repr) > 10


def pairs_state() -> RuntimeState:
    runtimes = reached_runtimes("examples/pairs_trading.yaml", 6)
    return max(runtimes, key=lambda r: (len(r.fifo), r.slot))


def test_compact_encoding_is_smaller_than_repr() -> None:
    state = pairs_state()
    assert len(encode_runtime(state)) * 3 < len(encode_state(state)) * 2


def test_live_ring_bytes_go_in_raw_and_dead_ones_not_at_all() -> None:
    state = with_live_record(pairs_state())
    ring = ring_of(state)
    live = get_live_bytes(ring)
    assert len(live) == 24 and live in encode_runtime(state)
    twin = copy_state(state)
    dead = ring_of(twin)
    for pos in range(dead.producer_pos, dead.consumer_pos + dead.size):
        dead.data[pos % dead.size] ^= 0x5A
    assert dead.data != ring.data
    assert encode_runtime(twin) == encode_runtime(state)
    assert encode_state(twin) == encode_state(state)
    dead.data[(ring.consumer_pos + 8) % ring.size] ^= 0x5A  # the record's first byte
    assert encode_runtime(twin) != encode_runtime(state)
    assert encode_state(twin) != encode_state(state)


def with_live_record(state: RuntimeState) -> RuntimeState:
    """Return a copy of a pairs-trading state whose ring holds one unconsumed record after
    others were consumed (its explored states never hold one: a consume ends each step)."""
    state = copy_state(state)
    ring = ring_of(state)
    assert ring.consumer_pos == ring.producer_pos > 0
    assert any(ring.data)  # the consumed records' bytes are still there
    pos = process_ringbuf_reserve(ring, 16, 0)
    assert pos is not None
    process_ringbuf_write(ring, compute_sample_pos(pos), b"live record 0123")
    process_ringbuf_submit(ring, pos, 0)
    return state


def ring_of(state: RuntimeState) -> RingBuffer:
    ring = state.maps[MapId("spreads")].ringbuf
    assert ring is not None
    return ring


def test_invalid_shared_objects_do_not_change_the_bytes() -> None:
    state = pairs_state()
    shared = copy_state(state)
    account = next(iter(shared.accounts.accounts.values()))
    keep = [bytes(account.data) for _ in range(5)]  # extra references to equal values
    assert encode_runtime(shared) == encode_runtime(state)
    assert keep


def mutations() -> list[tuple[str, Callable[[RuntimeState], None]]]:
    def ring_position(rt: RuntimeState) -> None:
        ring = next(m.ringbuf for m in rt.maps.values() if m.ringbuf is not None)
        assert ring is not None
        ring.consumer_pos = ring.producer_pos = ring.pending_pos = RingPos(ring.producer_pos + 8)

    def account_byte(rt: RuntimeState) -> None:
        next(iter(rt.accounts.accounts.values())).data[0] ^= 1

    def timer_expiry(rt: RuntimeState) -> None:
        for m in rt.maps.values():
            for cells in m.elements.values():
                for e in cells:
                    if e.timer is not None and e.timer.expiry is not None:
                        e.timer.expiry = e.timer.expiry + 1  # type: ignore[assignment]
                        return
        raise AssertionError("no armed timer")

    def item_reason(rt: RuntimeState) -> None:
        rt.fifo[0] = dataclasses.replace(rt.fifo[0], reason=rt.fifo[0].reason + "x")

    def item_kind_text(rt: RuntimeState) -> None:
        first: WorkItem = rt.fifo[0]
        rt.fifo[0] = dataclasses.replace(first, depth=first.depth + 1)

    def slot(rt: RuntimeState) -> None:
        rt.slot = rt.slot + 1  # type: ignore[assignment]

    def queued(rt: RuntimeState) -> None:
        rt.queued_timers.add(999)

    def written(rt: RuntimeState) -> None:
        rt.domains_written.add("leg_a.price")

    return [("ring position", ring_position), ("account byte", account_byte),
            ("timer expiry", timer_expiry), ("item reason", item_reason),
            ("item depth", item_kind_text), ("slot", slot), ("queued timers", queued),
            ("domains written", written)]


@pytest.mark.parametrize(("name", "mutate"), mutations())
def test_invalid_any_changed_part_changes_the_encoding(
        name: str, mutate: Callable[[RuntimeState], None]) -> None:
    state = pairs_state()
    if name.startswith("item") and not state.fifo:
        pytest.fail("the sample state has an empty FIFO")
    changed = copy_state(state)
    mutate(changed)
    assert encode_state(changed) != encode_state(state)
    assert encode_runtime(changed) != encode_runtime(state), name


def test_fingerprint_is_pinned_and_seed_independent() -> None:
    # BLAKE2b-64 of b"arspec": a fixed value, the same in every process.
    assert compute_fingerprint(b"arspec") == compute_fingerprint(b"arspec")
    assert 0 <= compute_fingerprint(b"") < 2 ** FINGERPRINT_BITS
    assert compute_fingerprint(b"a") != compute_fingerprint(b"b")
    assert compute_fingerprint(b"arspec") == int.from_bytes(
        __import__("hashlib").blake2b(b"arspec", digest_size=8).digest(), "little")


@pytest.mark.parametrize(("states", "expected"), [(0, 0.0), (1, 0.0), (2, 2 ** -64),
                                                  (10 ** 7, 10 ** 7 * (10 ** 7 - 1) / 2 ** 65)])
def test_expected_collisions(states: int, expected: float) -> None:
    assert get_expected_collisions(states) == pytest.approx(expected)


def test_collision_text_names_bits_and_expectation() -> None:
    assert describe_collisions(10 ** 7) == "64-bit fingerprints, expected lost states 2.7e-06"


# --------------------------------------------------------------------------- generic engine


@pytest.mark.parametrize("limit", [3, 7, 100])
def test_fingerprint_store_equals_exact_store(limit: int) -> None:
    exact = explore(Counter(12), invariants=[below(limit)])
    fp = explore(Counter(12), invariants=[below(limit)], store=StoreMode.FINGERPRINT)
    assert fp.verdict == exact.verdict
    assert (fp.stats.states, fp.stats.transitions) == (exact.stats.states,
                                                       exact.stats.transitions)
    assert [v.trace.labels for v in fp.violations] == [v.trace.labels
                                                        for v in exact.violations]
    assert fp.space.keys == [] and len(fp.space.fingerprints) == fp.stats.states
    assert fp.stats.memory_estimate_bytes < exact.stats.memory_estimate_bytes + 1


def test_fingerprint_store_with_edges_has_the_same_graph() -> None:
    exact = explore(Counter(8), record_edges=True)
    fp = explore(Counter(8), record_edges=True, store=StoreMode.FINGERPRINT)
    assert list(fp.space.edge_src) == list(exact.space.edge_src)
    assert list(fp.space.edge_dst) == list(exact.space.edge_dst)
    assert len(fp.space.ids) == len(exact.space.ids)


def test_invalid_collision_loses_states_only_in_the_fingerprint_store(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A one-bit "fingerprint": most states collide and are lost; the exact store is immune.
    monkeypatch.setattr(engine_module, "compute_fingerprint", lambda key: key[0] & 1)
    fp = explore(Counter(12), store=StoreMode.FINGERPRINT)
    exact = explore(Counter(12))
    assert fp.stats.states == 2 < exact.stats.states


def test_invalid_replay_detects_a_different_state_by_fingerprint() -> None:
    result = explore(Counter(6), store=StoreMode.FINGERPRINT)
    path = result.space.path_to(result.stats.states - 1)
    result.space.fingerprints[path[-1]] ^= 1
    with pytest.raises(ModelError, match="replay diverged"):
        replay(Counter(6), result.space, path)


def test_invalid_bound_still_reached_with_fingerprints() -> None:
    result = explore(Counter(1000), bounds=Bounds(max_states=50), store=StoreMode.FINGERPRINT)
    assert result.verdict is Verdict.BOUND_REACHED and result.stats.states == 50


# --------------------------------------------------------------------------- packed frontier


@pytest.mark.parametrize("path", BUNDLES)
def test_packed_frontier_explores_alike(path: str) -> None:
    def run(pack_above: int) -> tuple[object, ...]:
        try:
            _, result = explore_result(str(ROOT / path), pack_above=pack_above)
        except InputError as err:
            return ("refused", str(err))
        return (result.invariant_verdicts, result.stats.states, result.stats.transitions,
                tuple(v.trace.labels for v in result.violations))

    assert run(0) == run(10 ** 9)


def test_pack_round_trip_shares_definitions() -> None:
    system, state = after_a_consume()
    packed = system.pack_state(system.compact(state))
    back = system.unpack_state(packed)
    assert back.key == state.key
    assert back.runtime.preset is state.runtime.preset
    assert all(back.runtime.maps[n].definition is m.definition
               for n, m in state.runtime.maps.items())
    assert len(packed) * 4 < len(pickle.dumps(system.compact(state)))
    ring, unpacked = ring_of(state.runtime), ring_of(back.runtime)
    assert any(ring.data) and get_live_bytes(unpacked) == get_live_bytes(ring)
    assert not any(unpacked.data)  # only live bytes travel; the others come back zero


def after_a_consume() -> tuple[RuntimeSystem, ModelState]:
    """Return pairs trading's system and a state reached after its ring consumed a record."""
    system, _ = explore_result(str(ROOT / "examples" / "pairs_trading.yaml"), slots=4)
    state = system.initial_states()[0]
    while ring_of(state.runtime).consumer_pos == 0:
        state = system.apply(state, system.actions(state)[-1])
    return system, state


def test_packed_ring_keeps_its_live_record() -> None:
    system, state = after_a_consume()
    live = ModelState(with_live_record(state.runtime), state.ran, state.error)
    back = system.unpack_state(system.pack_state(live))
    assert back.key == live.key != state.key
    assert get_live_bytes(ring_of(back.runtime)).endswith(b"live record 0123")


def test_invalid_packed_state_with_a_persistent_reference() -> None:
    system, _ = explore_result(str(ROOT / "examples" / "pairs_trading.yaml"), slots=2)
    # protocol-0 persistent id "99": a packed state has none
    with pytest.raises(pickle.UnpicklingError, match="unknown shared object"):
        system.unpack_state(zlib.compress(b"P99\n."))


@pytest.mark.parametrize("args", [(0, 99), (0, -1), (0, "0"), (10 ** 9, 0), ("1", 0)],
                         ids=["index past the end", "negative index", "text index",
                              "no such system", "text token"])
def test_invalid_packed_state_with_an_unknown_shared_object(args: tuple[object, object],
                                                            ) -> None:
    system, _ = explore_result(str(ROOT / "examples" / "pairs_trading.yaml"), slots=2)
    token = system._shared.token
    call = (token if args[0] == 0 else args[0], args[1])
    with pytest.raises(pickle.UnpicklingError, match="unknown shared object"):
        system.unpack_state(zlib.compress(pickle.dumps(_Call(get_shared_object, call))))


def test_packed_states_of_two_systems_keep_their_own_definitions() -> None:
    one, _ = explore_result(str(ROOT / "examples" / "pairs_trading.yaml"), slots=2)
    two, _ = explore_result(str(ROOT / "examples" / "pairs_trading.yaml"), slots=2)
    state = one.initial_states()[0]
    back = two.unpack_state(one.pack_state(state))
    first = next(iter(state.runtime.maps.values())).definition
    assert next(iter(back.runtime.maps.values())).definition is first
    assert back.runtime.preset is state.runtime.preset


def test_a_packed_state_outlives_no_system() -> None:
    system, result = explore_result(str(ROOT / "examples" / "pairs_trading.yaml"), slots=2)
    packed = system.pack_state(system.initial_states()[0])
    token = system._shared.token
    del system, result
    gc.collect()
    with pytest.raises(pickle.UnpicklingError, match="unknown shared object"):
        get_shared_object(token, 0)
    with pytest.raises(pickle.UnpicklingError, match="unknown shared object"):
        SharedObjects([]).unpack(packed)


class _Call:
    """Pickles as a call of ``fn`` with ``args`` (a crafted packed state)."""

    def __init__(self, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[object, ...]:
        return (self.fn, self.args)


def timer_broken_initial() -> RuntimeState:
    system, _ = explore_result(str(ROOT / "examples/explore/timer_broken.yaml"), slots=2)
    return system.initial_states()[0].runtime


def test_invalid_copied_array_still_creates_untouched_elements() -> None:
    # copy_runtime_state once turned lazy array elements into a plain dict, so the copy's
    # untouched hb[0] was missing: lookups returned NULL and updates raised KeyError
    copied = rs_module.copy_runtime_state(timer_broken_initial())
    hb = next(iter(copied.maps.values()))
    cells = hb.elements.get(bytes(4))
    assert cells is not None and bytes(cells[0].value) == bytes(24)
    assert bytes(1) not in hb.elements  # wrong key size
    assert hb.elements.get((1).to_bytes(4, "little")) is None  # index >= max_entries


def test_untouched_array_element_encodes_as_one_never_created() -> None:
    state = timer_broken_initial()
    touched = copy_state(state)
    assert next(iter(touched.maps.values())).elements.get(bytes(4)) is not None
    assert encode_state(touched) == encode_state(state)
    assert encode_runtime(touched) == encode_runtime(state)
    next(iter(touched.maps.values())).elements[bytes(4)][0].value[0] = 1
    assert encode_runtime(touched) != encode_runtime(state)
