"""Watchers, every-N and startup hooks: spec predicates and runs through the runtime."""

from __future__ import annotations

import pytest
from runtime_support import load, run, run_events, runs

from arspec.spec import bundle as schema
from arspec.spec.hooks import (
    WatcherState,
    WatchSpec,
    get_max_cascade_depth,
    is_bps_change,
    is_every_due,
    is_startup_due,
    process_watcher_observation,
)
from arspec.spec.presets import LINUX_LIKE, MINIMAL
from arspec.spec.scheduler import create_initial_state
from arspec.spec.types import AccountName, Slot


def spec(op: str, value: int | None = None, bps: int | None = None) -> WatchSpec:
    return WatchSpec(AccountName("a"), 0, 8, False, schema.WatchOp(op), value, bps)


def observe(s: WatchSpec, values: list[int], start: int = 0) -> list[bool]:
    state = WatcherState(last_value=start, condition=False, reference=start)
    if s.op in schema.COMPARISONS:
        assert s.value is not None
        state.condition = {"eq": start == s.value, "ne": start != s.value,
                           "lt": start < s.value, "le": start <= s.value,
                           "gt": start > s.value, "ge": start >= s.value}[s.op.value]
    return [process_watcher_observation(s, state, v) for v in values]


def test_comparison_is_edge_triggered() -> None:
    assert observe(spec("gt", 100), [150, 160, 50, 200, 200]) == [True, False, False, True,
                                                                  False]


@pytest.mark.parametrize(("op", "values", "fires"), [
    ("eq", [5, 5, 4, 5], [True, False, False, True]),
    ("ne", [0, 1, 2, 0, 3], [False, True, False, False, True]),
    ("lt", [-1, -2, 0, -1], [True, False, False, True]),
    ("le", [0, 1, 0], [True, False, True]),
    ("ge", [9, 10, 11, 9, 10], [False, True, False, False, True]),
])
def test_each_comparison_fires_only_on_false_to_true(op: str, values: list[int],
                                                     fires: list[bool]) -> None:
    threshold = {"eq": 5, "ne": 0, "lt": 0, "le": 0, "ge": 10}[op]
    assert observe(spec(op, threshold), values, start=threshold if op == "ne" else 99) == fires


def test_condition_true_at_creation_does_not_fire() -> None:
    assert observe(spec("gt", 100), [150], start=200) == [False]


def test_changed_fires_on_every_change_and_never_on_a_repeat() -> None:
    assert observe(spec("changed"), [0, 1, 1, 2, 1]) == [False, True, False, True, True]


def test_change_bps_measures_from_the_last_firing() -> None:
    # 50 bps of 10_000 is 50: 10_030 does not qualify, 10_060 (drift adds up) does
    # then 10_080 is 20 from 10_060 (no), 10_000 is 60 from 10_060 (yes)
    assert observe(spec("change_bps", bps=50), [10_030, 10_060, 10_080, 10_000],
                   start=10_000) == [False, True, False, True]


def test_change_bps_from_zero_fires_on_any_change_but_not_on_zero() -> None:
    assert is_bps_change(0, 1, 1_000_000)
    assert not is_bps_change(0, 0, 1)
    assert not is_bps_change(5, 5, 1)


def test_change_bps_threshold_is_inclusive() -> None:
    assert is_bps_change(10_000, 10_050, 50)
    assert not is_bps_change(10_000, 10_049, 50)
    assert is_bps_change(-10_000, -10_050, 50)


def test_every_includes_slot_zero_and_startup_runs_once() -> None:
    assert [s for s in range(10) if is_every_due(Slot(s), 3)] == [0, 3, 6, 9]
    assert is_startup_due(Slot(0), False)
    assert not is_startup_due(Slot(0), True)
    assert not is_startup_due(Slot(1), False)


def test_max_cascade_depth_per_preset() -> None:
    assert get_max_cascade_depth(MINIMAL) == 2
    assert get_max_cascade_depth(LINUX_LIKE) == 8


def test_signed_field_is_read_signed() -> None:
    bundle = load("""
    arspec: 1
    accounts:
      o: {size: 8, fields: {d: {offset: 0, type: i32, init: -5}}}
    programs:
      w: {code: "exit", hook: {on: watch, account: o, field: d, op: lt, value: -1}}
    """)
    state = create_initial_state(bundle)
    assert state.watchers["w"].last_value == -5 and state.watchers["w"].condition


WATCH = """
    arspec: 1
    profile: linux
    accounts:
      o: {size: 16, fields: {price: {offset: 0, type: u64, init: 10}}}
    programs:
      w: {code: "r0 = 0\\nexit", hook: {on: watch, account: o, field: price, op: gt, value: 100}}
    scenario:
      slots: 6
      writes:
        - {slot: 1, account: o, field: price, value: 150}
        - {slot: 2, account: o, field: price, value: 160}
        - {slot: 3, account: o, field: price, value: 50}
        - {slot: 4, account: o, field: price, value: 200}
        - {slot: 5, account: o, field: price, value: 300}
"""


def test_edge_triggered_watcher_does_not_refire_while_true() -> None:
    report, _ = run(WATCH)
    assert runs(report) == [(1, "w"), (4, "w")]
    assert all(e.depth == 1 for e in run_events(report))


def test_watcher_samples_once_per_slot_after_all_writes() -> None:
    text = WATCH.replace("{slot: 2, account: o, field: price, value: 160}",
                         "{slot: 1, account: o, field: price, value: 10}")
    report, _ = run(text)
    # slot 1 ends at 10 (150 then 10): nothing seen; slot 4's 200 fires
    assert runs(report) == [(4, "w")]


CASCADE = """
    arspec: 1
    profile: linux
    preset: PRESET
    accounts:
      x: {size: 8, fields: {v: {offset: 0, type: u64}}}
      y: {size: 8, fields: {v: {offset: 0, type: u64}}}
    programs:
      a:
        hook: {on: watch, account: x, field: v, op: changed}
        code: |
          r1 = 0
          r2 = 0
          r3 = r10
          r3 += -8
          r4 = 8
          call 0x10001
          r1 = *(u64 *)(r10 - 8)
          r1 += 1
          *(u64 *)(r10 - 8) = r1
          r1 = TARGET
          r2 = 0
          r3 = r10
          r3 += -8
          r4 = 8
          call 0x10002
          r0 = 0
          exit
      b:
        hook: {on: watch, account: y, field: v, op: changed}
        code: "r0 = 0\\nexit"
    scenario:
      slots: 14
      writes: [{slot: 1, account: x, field: v, value: 1}]
"""


def test_cascade_through_a_programs_own_write_fires_next_slot() -> None:
    report, _ = run(CASCADE.replace("PRESET", "linux_like").replace("TARGET", "1"))
    assert runs(report) == [(1, "a"), (2, "b")]
    assert [e.depth for e in run_events(report)] == [1, 2]


def test_self_cascade_is_suppressed_and_reported_past_the_maximum_depth() -> None:
    report, state = run(CASCADE.replace("PRESET", "minimal").replace("TARGET", "0"))
    assert runs(report) == [(1, "a"), (2, "a")]
    suppressed = [(s.slot, e.reason) for s in report.slots for e in s.events
                  if e.kind == "suppress"]
    assert len(suppressed) == 1 and suppressed[0][0] == 3
    assert "cascade depth 3 exceeds the maximum 2" in suppressed[0][1]
    assert report.totals.suppressed == 1 and state.cascades_suppressed == 1
    # the suppressed write is still the watcher's last observation: no re-fire later
    assert state.accounts.accounts["x"].data[0] == 3


def test_self_cascade_runs_to_linux_like_depth() -> None:
    report, state = run(CASCADE.replace("PRESET", "linux_like").replace("TARGET", "0"))
    assert [e.depth for e in run_events(report)] == list(range(1, 9))
    assert state.max_depth_seen == 8 and report.totals.suppressed == 1


def test_environment_write_resets_the_cascade_depth() -> None:
    text = CASCADE.replace("PRESET", "minimal").replace("TARGET", "0").replace(
        "writes: [{slot: 1, account: x, field: v, value: 1}]",
        "writes: [{slot: 1, account: x, field: v, value: 1}, "
        "{slot: 3, account: x, field: v, value: 100}]")
    report, _ = run(text)
    assert [(s, p) for s, p in runs(report)] == [(1, "a"), (2, "a"), (3, "a"), (4, "a")]
    assert [e.depth for e in run_events(report)] == [1, 2, 1, 2]


def test_failed_invocation_write_does_not_cascade() -> None:
    text = CASCADE.replace("PRESET", "linux_like").replace("TARGET", "1").replace(
        "          r0 = 0\n          exit\n      b:", "          r0 = *(u64 *)(r0 + 0)\n"
        "          exit\n      b:")
    report, _ = run(text)
    assert runs(report) == [(1, "a")]
    assert run_events(report)[0].rolled_back


def test_every_and_startup_order_within_slot_zero() -> None:
    report, _ = run("""
    arspec: 1
    profile: linux
    programs:
      e2: {code: "exit", hook: {on: every, slots: 2}}
      s: {code: "exit", hook: {on: startup}}
      e1: {code: "exit", hook: {on: every, slots: 1}}
    scenario: {slots: 3}
    """)
    assert runs(report) == [(0, "s"), (0, "e2"), (0, "e1"), (1, "e1"), (2, "e2"), (2, "e1")]
