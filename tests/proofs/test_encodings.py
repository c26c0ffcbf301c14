"""Every z3 transition of proofs/ agrees with the executable spec, field by field.

A random walk starts in a concrete initial state and takes random steps. At each step the
spec's own function runs (``System.execute``) and the z3 relation is evaluated on the same
concrete state (``run_transition``): the spec refuses the step exactly when the relation has
no post-state, otherwise the relation has exactly one post-state and it equals the spec's.
Every state the walk reaches satisfies the system's invariant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.proofs import budget, determinism, ringbuf, tailcall, timers, watchers, workqueue
from arspec.proofs.core import System, Values, is_invariant_state, run_transition
from arspec.spec import hooks as H
from arspec.spec.types import U64_MASK

Draw = Callable[..., Any]
Step = Callable[[Draw, Values, Values], tuple[str, Values]]


def _int(values: Values, name: str) -> int:
    value = values[name]
    assert isinstance(value, int)
    return value


def compare_step(system: System, consts: Values, state: Values, name: str,
                 params: Values) -> Values | None:
    """Run one step both ways, assert agreement and return the post-state (None: refused)."""
    try:
        spec_post: Values | None = system.execute(name, consts, state, params)
    except AssertionError:
        spec_post = None
    encoded = run_transition(system, name, consts, state, params)
    if spec_post is None or encoded is None:
        assert spec_post is None and encoded is None, (name, params, spec_post, encoded)
        return None
    view = system.view or (lambda v: v)
    assert view(encoded) == view(spec_post), (name, params)
    assert is_invariant_state(system, consts, spec_post)
    return spec_post


def walk(system: System, draw: Draw, consts: Values, state: Values, step: Step,
         steps: int) -> None:
    assert is_invariant_state(system, consts, state)
    for _ in range(steps):
        name, params = step(draw, consts, state)
        post = compare_step(system, consts, state, name, params)
        if post is not None:
            state = post


# --------------------------------------------------------------------------- ring buffer


def ring_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    name = draw(st.sampled_from(["reserve", "reserve", "commit", "commit", "consume"]))
    if name == "reserve":
        size = _int(consts, "S")
        n = draw(st.one_of(st.integers(0, size), st.sampled_from([size - 8, size - 7,
                                                                   ringbuf.MAX_RECORD + 1])))
        flags = draw(st.sampled_from([0, 0, 0, 1]))
        return name, {"n": n, "flags": flags}
    if name == "commit":
        h, t = _int(s, "h"), _int(s, "t")
        j = draw(st.integers(h, max(h, t - 1)))
        return name, {"j": j, "discard": draw(st.booleans())}
    return name, {}


@settings(max_examples=30)
@given(st.data(), st.sampled_from([16, 32, 64, 4096]))
def test_ringbuf_encoding_matches_spec(data: st.DataObject, size: int) -> None:
    start: Values = {"c": 0, "pend": 0, "prod": 0, "h": 0, "pi": 0, "t": 0, "start": {0: 0},
                     "plen": {}, "busy": {}, "disc": {}}
    walk(ringbuf.SYSTEM, data.draw, {"S": size}, start, ring_step, 10)


# --------------------------------------------------------------------------- timers


def timer_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    name = draw(st.sampled_from([t.name for t in timers.TRANSITIONS]))
    what = name.partition(".")[2]
    if what == "init":
        return name, {"flags": draw(st.sampled_from([0, 1, 7, 2, 16, 17, 0]))}
    if what == "set_callback":
        return name, {"cb": draw(st.integers(1, 3))}
    if what == "start":
        value = draw(st.one_of(st.integers(0, 5), st.just(U64_MASK),
                               st.integers(0, U64_MASK)))
        return name, {"value": value, "flags": draw(st.sampled_from([0, 1, 2, 3, 4, 0]))}
    if name == "tick":
        return name, {"slots": draw(st.integers(0, 3))}
    return name, {}


def timers_initial() -> Values:
    state: Values = {"next_seq": 0, "now": 0}
    for x in timers.TIMERS:
        state.update({f"{x}_init": False, f"{x}_armed": False, f"{x}_run": False,
                      f"{x}_clock": 0, f"{x}_cb": 0, f"{x}_exp": -1, f"{x}_seq": -1,
                      f"{x}_fired": -1, f"{x}_cancelled": -1})
    return state


@settings(max_examples=30)
@given(st.data())
def test_timers_encoding_matches_spec(data: st.DataObject) -> None:
    walk(timers.SYSTEM, data.draw, {}, timers_initial(), timer_step, 14)


# --------------------------------------------------------------------------- work queues


def wq_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    name = draw(st.sampled_from([t.name for t in workqueue.TRANSITIONS]))
    flags = draw(st.sampled_from([0, 0, 0, 1]))
    if name == "init" or name == "start":
        return name, {"flags": flags}
    if name == "set_callback":
        return name, {"cb": draw(st.integers(1, 3)), "flags": flags}
    return name, {}


@settings(max_examples=30)
@given(st.data())
def test_workqueue_encoding_matches_spec(data: st.DataObject) -> None:
    start: Values = {"next_seq": 0, "cb": 0, "seq": -1, "ran": -1, "dropped": -1,
                     "init": False, "run": False}
    walk(workqueue.SYSTEM, data.draw, {}, start, wq_step, 12)


# --------------------------------------------------------------------------- budgets


def budget_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    name = draw(st.sampled_from(["enqueue", "enqueue", "run", "run", "end_slot"]))
    invocation = _int(consts, "invocation")
    if name == "enqueue":
        return name, {"budget": draw(st.integers(1, invocation))}
    if name == "run":
        return name, {"cu": draw(st.integers(0, 2 * invocation)),
                      "effects": draw(st.integers(0, 5)), "fault": draw(st.booleans()),
                      "stale": draw(st.sampled_from([False, False, True]))}
    return name, {}


@settings(max_examples=30)
@given(st.data(), st.integers(1, 6), st.integers(0, 6))
def test_budget_encoding_matches_spec(data: st.DataObject, invocation: int,
                                      extra: int) -> None:
    start: Values = {"used": 0, "next_item": 0, "head": 0, "tail": 0, "effects": 0,
                     "seq": {}, "budget": {}}
    consts: Values = {"slot_budget": invocation + extra, "invocation": invocation}
    walk(budget.SYSTEM, data.draw, consts, start, budget_step, 10)


# --------------------------------------------------------------------------- tail calls


def tail_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    name = draw(st.sampled_from(["tail_call", "tail_call", "tail_call", "update",
                                 "new_chain"]))
    entries = _int(consts, "entries")
    if name == "tail_call":
        index = draw(st.one_of(st.integers(0, entries), st.integers(0, (1 << 64) - 1),
                               st.just((1 << 32) + 1)))
        return name, {"index": index}
    if name == "update":
        return name, {"index": draw(st.integers(0, entries - 1)), "prog": draw(st.integers(0, 3))}
    return name, {}


@settings(max_examples=30)
@given(st.data(), st.integers(0, 33), st.integers(1, 8))
def test_tailcall_encoding_matches_spec(data: st.DataObject, limit: int, entries: int) -> None:
    start: Values = {"count": 0, "jumps": 0,
                     "slots": {i: data.draw(st.integers(0, 2)) for i in range(entries)}}
    walk(tailcall.SYSTEM, data.draw, {"limit": limit, "entries": entries}, start, tail_step, 12)


# --------------------------------------------------------------------------- watchers


def cascade_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    name = draw(st.sampled_from(["environment_write", "program_write", "observe", "observe"]))
    if name == "program_write":
        return name, {"item_depth": draw(st.integers(0, _int(s, "seen")))}
    if name == "observe":
        return name, {"fires": draw(st.booleans())}
    return name, {}


@settings(max_examples=30)
@given(st.data(), st.sampled_from(sorted(set(H.MAX_CASCADE_DEPTH.values()))))
def test_cascade_encoding_matches_spec(data: st.DataObject, limit: int) -> None:
    start: Values = {"depth": 0, "seen": 0, "suppressed": 0, "enqueued": -1, "present": False}
    walk(watchers.CASCADE, data.draw, {"limit": limit}, start, cascade_step, 14)


def edge_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    threshold = _int(consts, "threshold")
    return "observe", {"value": draw(st.integers(threshold - 2, threshold + 2))}


@settings(max_examples=30)
@given(st.data(), st.integers(0, 5), st.integers(-3, 3), st.integers(-5, 5))
def test_edge_encoding_matches_spec(data: st.DataObject, op: int, threshold: int,
                                    baseline: int) -> None:
    consts: Values = {"op": op, "threshold": threshold}
    spec = H.WatchSpec(watchers.ACCOUNT, 0, 8, True, watchers.OPS[op], threshold,
                                None)
    start: Values = {"last": baseline, "fired": False,
                     "condition": H.is_condition_true(spec, baseline)}
    walk(watchers.EDGE, data.draw, consts, start, edge_step, 10)


# --------------------------------------------------------------------------- determinism


def write_step(draw: Draw, consts: Values, s: Values) -> tuple[str, Values]:
    size = _int(consts, "size")
    name = draw(st.sampled_from(["same", "swap", "swap", "next_slot"]))

    def one(suffix: str) -> Values:
        width = draw(st.sampled_from(sorted(determinism.WIDTHS)))
        offset = draw(st.integers(0, max(0, size - width)))
        return {f"offset{suffix}": offset, f"width{suffix}": width,
                f"value{suffix}": draw(st.integers(0, (1 << (8 * width)) - 1))}
    if name == "same":
        return name, one("")
    if name == "swap":
        first, second = one("1"), one("2")
        lo1, lo2 = _int(first, "offset1"), _int(second, "offset2")
        if lo1 + _int(first, "width1") <= lo2 or lo2 + _int(second, "width2") <= lo1:
            return name, {**first, **second}
        # The schema forbids overlapping fields: two writes to one place are the same field.
        return "same", {"offset": lo1, "width": first["width1"], "value": first["value1"]}
    return name, {}


@settings(max_examples=10)
@given(st.data(), st.integers(8, 12))
def test_determinism_encoding_matches_spec(data: st.DataObject, size: int) -> None:
    data_bytes = {i: data.draw(st.integers(0, 255)) for i in range(size)}
    start: Values = {"x_data": dict(data_bytes), "y_data": dict(data_bytes), "x_written": {},
                     "y_written": {}, "x_present": False, "y_present": False, "x_depth": 0,
                     "y_depth": 0}
    walk(determinism.SYSTEM, data.draw, {"size": size}, start, write_step, 6)


# --------------------------------------------------------------------------- negative


def test_invalid_ring_commit_of_unreserved_record_is_refused_by_both() -> None:
    consts: Values = {"S": 64}
    state: Values = {"c": 0, "pend": 16, "prod": 16, "h": 0, "pi": 1, "t": 1,
                     "start": {0: 0, 1: 16}, "plen": {0: 1}, "busy": {0: False},
                     "disc": {0: False}}
    assert compare_step(ringbuf.SYSTEM, consts, state, "commit",
                        {"j": 0, "discard": False}) is None


def test_invalid_timer_fire_when_not_armed_is_refused_by_both() -> None:
    assert compare_step(timers.SYSTEM, {}, timers_initial(), "a.fire", {}) is None


def test_invalid_end_slot_with_runnable_head_is_refused_by_both() -> None:
    state: Values = {"used": 0, "next_item": 1, "head": 0, "tail": 1, "effects": 0,
                     "seq": {0: 0}, "budget": {0: 1}}
    assert compare_step(budget.SYSTEM, {"slot_budget": 2, "invocation": 1}, state,
                        "end_slot", {}) is None


def test_invalid_non_invariant_state_is_recognised() -> None:
    state: Values = {"count": 5, "jumps": 6, "slots": {}}
    assert not is_invariant_state(tailcall.SYSTEM, {"limit": 33, "entries": 1}, state)


def test_invalid_disagreeing_encoding_is_caught() -> None:
    # The comparison itself can fail: the ring's off-by-one twin relation disagrees with the
    # spec on a concrete state where the ring is exactly full but for one header.
    broken = ringbuf.TWINS[0].relation
    system = ringbuf.SYSTEM
    t = system.transition("reserve")
    twisted = System(**{**system.__dict__, "transitions": (
        type(t)(t.name, t.summary, t.follows, t.params, broken),
        *system.transitions[1:])})
    consts: Values = {"S": 16}
    state: Values = {"c": 8, "pend": 16, "prod": 16, "h": 0, "pi": 1, "t": 1,
                     "start": {0: 8, 1: 16}, "plen": {0: 0}, "busy": {0: False},
                     "disc": {0: False}}
    with pytest.raises(AssertionError):
        compare_step(twisted, consts, state, "reserve", {"n": 0, "flags": 0})


# --------------------------------------------------------------------------- due timers


@settings(max_examples=40)
@given(st.data(), st.integers(0, 6))
def test_due_set_and_order_follow_the_encoding(data: st.DataObject, slot: int) -> None:
    """The encoding's "due" (armed and expiry <= now) is the spec's, and with distinct arm
    sequences (timers.strict_order) get_due_timers' order does not depend on map order."""
    from arspec.spec.maps import MapDef, MapElement, MapState, MapType
    from arspec.spec.timers import get_due_timers, is_timer_due
    from arspec.spec.types import MapId, Slot

    now = Slot(slot)
    count = data.draw(st.integers(1, 5))
    seqs = data.draw(st.lists(st.integers(0, 20), min_size=count, max_size=count, unique=True))
    elements = []
    for i, seq in enumerate(seqs):
        values = timers_initial()
        armed = data.draw(st.booleans())
        values.update({"a_init": True, "a_cb": 1, "a_armed": armed,
                       "a_exp": data.draw(st.integers(0, 8)) if armed else -1,
                       "a_seq": seq if armed else -1})
        timer = timers.build_timer(values, "a")
        assert is_timer_due(timer, now) == (armed and _int(values, "a_exp") <= now)
        elements.append(MapElement(bytes([i]), bytearray(16), timer=timer))

    def due_keys(order: list[int]) -> list[bytes]:
        definition = MapDef(MapId("m"), MapType.HASH, 1, 16, 8, timer_offset=0)
        state = MapState(definition, 1, {elements[i].key: [elements[i]] for i in order})
        return [d.key for d in get_due_timers({MapId("m"): state}, now)]

    order = list(range(count))
    shuffled = data.draw(st.permutations(order))
    assert due_keys(order) == due_keys(list(shuffled))
    assert sorted(due_keys(order)) == sorted(e.key for e in elements
                                             if e.timer is not None and is_timer_due(e.timer, now))
