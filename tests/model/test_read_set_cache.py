"""The invocation cache keys a run on exactly the maps and accounts it read (issue 16).

A fake program (a Python invoker) reads chosen maps and accounts of the scale bundle's
state and writes others; the cache must hit whenever everything it read is equal (whatever
the rest holds) and miss as soon as one thing it read differs, including things only read
on the path the read values chose. Every way of reaching a map through ``state.maps`` is
recorded. The whole-explorer equality (cache on and off) is ``test_cache_effects.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from arspec.model.runtime_system import CachingInvoker, _ReadRecorder, copy_runtime_state
from arspec.spec.loader import load_bundle
from arspec.spec.scheduler import InvocationOutcome, create_initial_state
from arspec.spec.state import RuntimeState, TriggerKind, WorkItem
from arspec.spec.types import AccountName, ComputeUnits, Cpu, FuncRef, MapId, Pc, ProgId, Slot

ROOT = Path(__file__).resolve().parents[2]
KEY0 = (0).to_bytes(4, "little")
ITEM = WorkItem(seq=1, kind=TriggerKind.STARTUP, entry=FuncRef(ProgId("heart"), Pc(0)),
                enqueued_slot=Slot(0))


def initial() -> RuntimeState:
    return create_initial_state(load_bundle(str(ROOT / "benchmarks/scale_bundle.yaml")))


def value(state: RuntimeState, name: str) -> bytearray:
    return state.maps[MapId(name)].elements[KEY0][0].value


class Program:
    """``order[0].byte0 = beat[0].byte0 + 1``; when beat is 7 it also reads leg_a."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                 cpu: Cpu) -> InvocationOutcome:
        self.runs += 1
        beat = value(state, "beat")[0]
        extra = 0
        if beat == 7:
            extra = state.accounts.accounts[AccountName("leg_a")].data[0]
        value(state, "order")[0] = (beat + 1 + extra) & 0xFF
        return InvocationOutcome(0, 10)


def call(cache: CachingInvoker, state: RuntimeState) -> RuntimeState:
    post = copy_runtime_state(state)
    cache(post, ITEM, ComputeUnits(1000), Cpu(0))
    return post


def test_hit_when_what_was_read_is_equal() -> None:
    program = Program()
    cache = CachingInvoker(program)
    state = initial()
    first = call(cache, state)
    again = call(cache, state)
    assert program.runs == 1 and cache.stats.hits == 1
    assert value(again, "order") == value(first, "order") and value(again, "order")[0] == 1


@pytest.mark.parametrize("unread", ["clock", "jobs", "spreads"])
def test_hit_whatever_an_unread_map_holds(unread: str) -> None:
    program = Program()
    cache = CachingInvoker(program)
    state = initial()
    call(cache, state)
    other = copy_runtime_state(state)
    if unread == "spreads":
        ring = other.maps[MapId("spreads")].ringbuf
        assert ring is not None
        ring.data[0] = 0x5A
    else:
        value(other, unread)[0] = 9
    post = call(cache, other)
    assert program.runs == 1 and value(post, "order")[0] == 1


def test_invalid_miss_when_a_read_map_differs() -> None:
    program = Program()
    cache = CachingInvoker(program)
    state = initial()
    call(cache, state)
    other = copy_runtime_state(state)
    value(other, "beat")[0] = 3
    post = call(cache, other)
    assert program.runs == 2 and cache.stats.misses == 2
    assert value(post, "order")[0] == 4


def test_invalid_miss_when_a_map_written_but_not_yet_read_differs() -> None:
    # order is reached (to be written) only: its value before the run is part of the key
    program = Program()
    cache = CachingInvoker(program)
    state = initial()
    call(cache, state)
    other = copy_runtime_state(state)
    value(other, "order")[1] = 1
    post = call(cache, other)
    assert program.runs == 2
    assert value(post, "order")[:2] == bytearray([1, 1])


def test_invalid_miss_on_an_account_read_only_on_one_path() -> None:
    program = Program()
    cache = CachingInvoker(program)
    state = initial()
    value(state, "beat")[0] = 7
    call(cache, state)
    other = copy_runtime_state(state)
    other.accounts.accounts[AccountName("leg_a")].data[0] ^= 1
    post = call(cache, other)
    assert program.runs == 2
    assert value(post, "order")[0] == (8 + other.accounts.accounts[
        AccountName("leg_a")].data[0]) & 0xFF
    # on the other path leg_a is not read: a change to it still hits
    plain = initial()
    call(cache, plain)
    changed = copy_runtime_state(plain)
    changed.accounts.accounts[AccountName("leg_a")].data[0] ^= 1
    call(cache, changed)
    assert program.runs == 3 and cache.stats.hits == 1


def test_invalid_whole_table_iteration_reads_every_map() -> None:
    runs = []

    def scanner(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                cpu: Cpu) -> InvocationOutcome:
        runs.append(sum(len(m.elements) for m in state.maps.values()))
        return InvocationOutcome(0, 1)

    cache = CachingInvoker(scanner)
    state = initial()
    call(cache, state)
    call(cache, state)
    other = copy_runtime_state(state)
    value(other, "clock")[0] = 1
    call(cache, other)
    assert len(runs) == 2 and cache.stats.hits == 1


def test_invalid_replaced_tables_are_never_remembered() -> None:
    runs = []

    def replacer(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                 cpu: Cpu) -> InvocationOutcome:
        runs.append(1)
        state.maps = dict(state.maps)
        return InvocationOutcome(0, 1)

    cache = CachingInvoker(replacer)
    state = initial()
    for _ in range(3):
        call(cache, state)
    assert len(runs) == 3 and cache.stats.hits == 0


ACCESSES: list[tuple[str, Callable[[_ReadRecorder], object], set[str]]] = [
    ("index", lambda d: d["a"], {"a"}),
    ("get", lambda d: d.get("b"), {"b"}),
    ("get missing", lambda d: d.get("zz"), set()),
    ("contains", lambda d: "a" in d, set()),
    ("keys", lambda d: list(d.keys()), set()),
    ("iter then index", lambda d: [d[k] for k in d if k == "c"], {"c"}),
    ("values", lambda d: list(d.values()), {"a", "b", "c"}),
    ("items", lambda d: list(d.items()), {"a", "b", "c"}),
    ("copy", lambda d: d.copy(), {"a", "b", "c"}),
    ("dict()", lambda d: dict(d), {"a", "b", "c"}),
    ("unpack", lambda d: {**d}, {"a", "b", "c"}),
    ("set", lambda d: d.__setitem__("b", [9]), {"b"}),
    ("pop", lambda d: d.pop("a"), {"a"}),
    ("setdefault", lambda d: d.setdefault("c", []), {"c"}),
]


@pytest.mark.parametrize(("label", "access", "expected"), ACCESSES,
                         ids=[a[0] for a in ACCESSES])
def test_recorder_records_every_way_to_a_value(label: str,
                                               access: Callable[[_ReadRecorder], object],
                                               expected: set[str]) -> None:
    table: dict[object, object] = {"a": [1], "b": [2], "c": [3]}
    recorder = _ReadRecorder(table, lambda v: tuple(v))  # type: ignore[arg-type]
    access(recorder)
    assert set(recorder.reads) == expected
    for name in expected:
        assert recorder.reads[name] == tuple(table[name])  # type: ignore[arg-type]


def test_recorder_keeps_the_value_before_the_first_change() -> None:
    recorder = _ReadRecorder({"a": [1]}, lambda v: tuple(v))  # type: ignore[arg-type]
    cell = recorder["a"]
    cell.append(2)  # type: ignore[attr-defined]
    assert recorder["a"] == [1, 2] and recorder.reads == {"a": (1,)}


def test_invalid_a_run_that_changes_unreplayed_state_is_never_remembered() -> None:
    # e.g. a helper that registers a watcher at run time: a hit would not replay it
    from arspec.spec.hooks import WatcherState

    runs = []

    def watcher(state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                cpu: Cpu) -> InvocationOutcome:
        runs.append(1)
        state.watchers[ProgId("w")] = WatcherState(1, False, 1)
        return InvocationOutcome(0, 1)

    cache = CachingInvoker(watcher)
    state = initial()
    for _ in range(3):
        post = call(cache, state)
        assert ProgId("w") in post.watchers
    assert len(runs) == 3 and cache.stats.hits == 0
