"""Edge cases of the runtime, each through real bytecode on the reference runtime."""

from __future__ import annotations

import pytest
from runtime_support import indent, prog_addr, run, run_events, runs, u64

from arspec.spec.errno import EAGAIN, EDEADLK, compute_r0

# --------------------------------------------------------------------------- tail calls

HOP = """
      *(u32 *)(r10 - 4) = 0
      r6 = r1
      r1 = map_idx(1) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 + 0)
      r1 += 1
      *(u64 *)(r0 + 0) = r1
      r1 = r6
      r2 = map_idx(0) ll
      r3 = INDEX
      r0 = 34
      call 12
      exit
    out:
      r0 = 1
      exit
"""


def tail_bundle(preset: str, index: int = 0, size: int = 2, entry: str = "hop") -> str:
    return f"""
    arspec: 1
    profile: linux
    preset: {preset}
    maps:
      progs: {{type: prog_array, max_entries: {size}, entries: {{0: {entry}}}}}
      count: {{type: array, value_size: 8, max_entries: 1}}
    programs:
      start:
        hook: {{on: startup}}
        code: |
{indent(HOP.replace("INDEX", str(index)), 10)}
      hop:
        hook: {{on: tail_call}}
        code: |
{indent(HOP.replace("INDEX", str(index)), 10)}
    scenario: {{slots: 1}}
    """


def test_33rd_tail_call_jumps_and_34th_falls_through() -> None:
    report, state = run(tail_bundle("linux_like"))
    (event,) = run_events(report)
    assert len(event.tail_calls) == 33
    # start + 33 hops ran; the 34th call fell through with r0 unchanged
    assert u64(state, "count", b"\0\0\0\0") == 34
    assert event.r0 == 34 and event.fault is None


def test_minimal_preset_allows_three_tail_calls() -> None:
    report, state = run(tail_bundle("minimal"))
    assert len(run_events(report)[0].tail_calls) == 3
    assert u64(state, "count", b"\0\0\0\0") == 4


def test_tail_call_out_of_range_index_falls_through_without_counting() -> None:
    report, state = run(tail_bundle("linux_like", index=5))
    (event,) = run_events(report)
    assert event.tail_calls == () and event.r0 == 34
    assert u64(state, "count", b"\0\0\0\0") == 1


def test_tail_call_to_empty_slot_falls_through() -> None:
    report, _state = run(tail_bundle("linux_like", index=1))
    (event,) = run_events(report)
    assert event.tail_calls == () and event.r0 == 34


def test_tail_call_chain_shares_the_invocation_budget() -> None:
    text = tail_bundle("linux_like").replace("scenario: {slots: 1}",
                                              "budgets: {per_invocation: 300, per_slot: 1000}\n"
                                              "    scenario: {slots: 1}")
    report, state = run(text)
    (event,) = run_events(report)
    assert event.fault is not None and "compute budget exceeded" in event.fault
    assert event.rolled_back and event.charged == 300
    # rolled back: the counter is untouched
    assert u64(state, "count", b"\0\0\0\0") == 0


def test_tail_call_through_a_non_prog_array_faults() -> None:
    text = tail_bundle("linux_like").replace("r2 = map_idx(0) ll\n          r3 = 0",
                                              "r2 = map_idx(1) ll\n          r3 = 0")
    report, _ = run(text)
    event = run_events(report)[0]
    assert event.rolled_back and "not a prog_array" in (event.fault or "")


# --------------------------------------------------------------------------- ring buffers

RESERVE = """
      r1 = map_idx(0) ll
      r2 = FIRST
      r3 = 0
      call 131
      r6 = r0
      r1 = map_idx(0) ll
      r2 = SECOND
      r3 = 0
      call 131
      r7 = r0
      r8 = 0
      if r6 == 0 goto skip1
      r8 |= 1
      r1 = r6
      r2 = 0
      call 132
    skip1:
      if r7 == 0 goto skip2
      r8 |= 2
      r1 = r7
      r2 = 0
      call 133
    skip2:
      r0 = r8
      exit
"""


def ring_bundle(first: int, second: int) -> str:
    code = RESERVE.replace("FIRST", str(first)).replace("SECOND", str(second))
    return f"""
    arspec: 1
    profile: linux
    maps:
      ring: {{type: ringbuf, max_entries: 4096}}
    programs:
      fill:
        hook: {{on: startup}}
        code: |
{indent(code, 10)}
    scenario: {{slots: 1}}
    """


def test_ring_buffer_exactly_full_accepts_size_minus_header() -> None:
    # 4080 payload bytes + 8 header = 4088 = size - 8: the largest outstanding amount
    report, state = run(ring_bundle(4080, 0))
    assert run_events(report)[0].r0 == 1
    ring = state.maps["ring"].ringbuf  # type: ignore[index]
    assert ring is not None and ring.producer_pos == 4088


def test_ring_buffer_one_byte_more_than_full_is_refused() -> None:
    report, state = run(ring_bundle(4081, 0))
    assert run_events(report)[0].r0 == 2  # first NULL; the 0-byte one fits
    ring = state.maps["ring"].ringbuf  # type: ignore[index]
    assert ring is not None and ring.producer_pos == 8


def test_ring_buffer_full_then_even_an_empty_record_is_refused() -> None:
    report, _ = run(ring_bundle(4080, 0).replace("r2 = 0\n          r3 = 0\n          call 131\n"
                                                  "          r7 = r0",
                                                  "r2 = 0\n          r3 = 0\n          call 131\n"
                                                  "          r7 = r0"))
    assert run_events(report)[0].r0 == 1


def test_ring_output_on_a_full_ring_returns_eagain() -> None:
    code = """
      r1 = map_idx(0) ll
      r2 = 4080
      r3 = 0
      call 131
      r6 = r0
      *(u64 *)(r10 - 8) = 0
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -8
      r3 = 8
      r4 = 0
      call 130
      r7 = r0
      r1 = r6
      r2 = 0
      call 132
      r0 = r7
      exit
    """
    report, _ = run(ring_bundle(0, 0).replace(indent(RESERVE.replace("FIRST", "0").replace(
        "SECOND", "0"), 10), indent(code, 10)))
    assert run_events(report)[0].r0 == compute_r0(-EAGAIN)


def test_unreleased_reservation_fails_the_invocation() -> None:
    code = """
      r1 = map_idx(0) ll
      r2 = 16
      r3 = 0
      call 131
      r0 = 0
      exit
    """
    report, state = run(ring_bundle(0, 0).replace(indent(RESERVE.replace("FIRST", "0").replace(
        "SECOND", "0"), 10), indent(code, 10)))
    event = run_events(report)[0]
    assert event.rolled_back and "reservation" in (event.fault or "")
    assert state.maps["ring"].ringbuf.producer_pos == 0  # type: ignore[union-attr]


def test_double_submit_faults() -> None:
    code = """
      r1 = map_idx(0) ll
      r2 = 16
      r3 = 0
      call 131
      r6 = r0
      r1 = r6
      r2 = 0
      call 132
      r1 = r6
      r2 = 0
      call 132
      r0 = 0
      exit
    """
    report, _ = run(ring_bundle(0, 0).replace(indent(RESERVE.replace("FIRST", "0").replace(
        "SECOND", "0"), 10), indent(code, 10)))
    event = run_events(report)[0]
    assert event.rolled_back and "not an outstanding" in (event.fault or "")


def test_submit_with_unknown_flags_faults() -> None:
    report, _ = run(ring_bundle(8, 0).replace("r1 = r6\n          r2 = 0\n          call 132",
                                               "r1 = r6\n          r2 = 8\n          call 132"))
    event = run_events(report)[0]
    assert event.rolled_back and "flags" in (event.fault or "")


def test_write_after_submit_faults() -> None:
    code = """
      r1 = map_idx(0) ll
      r2 = 16
      r3 = 0
      call 131
      r6 = r0
      r1 = r6
      r2 = 0
      call 132
      *(u64 *)(r6 + 0) = 1
      r0 = 0
      exit
    """
    report, _ = run(ring_bundle(0, 0).replace(indent(RESERVE.replace("FIRST", "0").replace(
        "SECOND", "0"), 10), indent(code, 10)))
    event = run_events(report)[0]
    assert event.rolled_back and "memory fault" in (event.fault or "")


# --------------------------------------------------------------------------- timers

TIMER_SETUP = """
      *(u32 *)(r10 - 4) = 0
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r6 = r0
      r1 = r6
      r1 += 8
      r2 = map_idx(0) ll
      r3 = 0
      call 169
      r1 = r6
      r1 += 8
      r2 = CALLBACK
      call 170
      r1 = r6
      r1 += 8
      r2 = DELAY
      r3 = 0
      call 171
    out:
      r0 = 0
      exit
"""


def timer_bundle(callback_code: str, delay: int = 1, slots: int = 5) -> str:
    setup = TIMER_SETUP.replace("CALLBACK", prog_addr(1)).replace("DELAY", str(delay))
    return f"""
    arspec: 1
    profile: linux
    maps:
      t: {{type: array, value_size: 24, max_entries: 1, timer: 8}}
    programs:
      setup:
        hook: {{on: startup}}
        code: |
{indent(setup, 10)}
      cb:
        hook: {{on: timer}}
        code: |
{indent(callback_code, 10)}
    scenario: {{slots: {slots}}}
    """


def test_timer_cancel_in_own_callback_returns_edeadlk() -> None:
    cb = """
      r6 = r3
      r1 = r6
      r1 += 8
      call 172
      *(u64 *)(r6 + 0) = r0
      r0 = 0
      exit
    """
    report, state = run(timer_bundle(cb))
    assert runs(report) == [(0, "setup"), (1, "cb")]
    assert u64(state, "t", b"\0\0\0\0") == compute_r0(-EDEADLK)


def test_timer_rearming_itself_fires_every_slot() -> None:
    cb = """
      r6 = r3
      r1 = *(u64 *)(r6 + 0)
      r1 += 1
      *(u64 *)(r6 + 0) = r1
      r1 = r6
      r1 += 8
      r2 = 1
      r3 = 0
      call 171
      r0 = r2
      exit
    """
    report, state = run(timer_bundle(cb), slots=8)
    assert [s for s, p in runs(report) if p == "cb"] == [1, 2, 3, 4, 5, 6, 7]
    assert u64(state, "t", b"\0\0\0\0") == 7


def test_timer_delay_zero_runs_in_the_same_slot() -> None:
    cb = """
      r0 = 0
      exit
    """
    report, _ = run(timer_bundle(cb, delay=0), slots=2)
    assert runs(report) == [(0, "setup"), (0, "cb")]


def test_timer_callback_gets_map_key_and_value() -> None:
    cb = """
      r6 = r3
      r7 = *(u32 *)(r2 + 0)
      *(u64 *)(r6 + 0) = r7
      r1 = r1
      r0 = 0
      exit
    """
    report, state = run(timer_bundle(cb), slots=2)
    assert run_events(report, "cb")[0].fault is None
    assert u64(state, "t", b"\0\0\0\0") == 0


def test_timer_callback_key_is_read_only() -> None:
    cb = """
      *(u32 *)(r2 + 0) = 1
      r0 = 0
      exit
    """
    report, _ = run(timer_bundle(cb), slots=2)
    event = run_events(report, "cb")[0]
    assert event.rolled_back and "read-only" in (event.fault or "")


def test_faulting_timer_callback_is_consumed_not_refired() -> None:
    cb = """
      r0 = *(u64 *)(r0 + 0)
      exit
    """
    report, state = run(timer_bundle(cb), slots=4)
    assert [s for s, p in runs(report) if p == "cb"] == [1]
    timer = state.maps["t"].elements[b"\0\0\0\0"][0].timer  # type: ignore[index]
    assert timer is not None and timer.expiry is None and not timer.running


def test_timer_pointer_not_at_the_timer_offset_faults() -> None:
    text = timer_bundle("r0 = 0\nexit").replace("r1 += 8\n          r2 = map_idx(0) ll",
                                                 "r1 += 0\n          r2 = map_idx(0) ll")
    report, _ = run(text, slots=1)
    event = run_events(report, "setup")[0]
    assert event.rolled_back and "bpf_timer" in (event.fault or "")


def test_timer_callback_address_outside_any_program_faults() -> None:
    text = timer_bundle("r0 = 0\nexit").replace(prog_addr(1), prog_addr(7))
    report, _ = run(text, slots=1)
    event = run_events(report, "setup")[0]
    assert event.rolled_back and "callback" in (event.fault or "")


# --------------------------------------------------------------------------- deferral

BURN = '"r1 = 30\\nl: r1 -= 1\\nif r1 != 0 goto l\\nexit"'
DEFER = f"""
    arspec: 1
    profile: linux
    budgets: {{per_invocation: 100, per_slot: 200}}
    programs:
      p0: {{hook: {{on: startup}}, code: {BURN}}}
      p1: {{hook: {{on: startup}}, code: {BURN}}}
      p2: {{hook: {{on: startup}}, code: {BURN}}}
      p3: {{hook: {{on: startup}}, code: {BURN}}}
      p4: {{hook: {{on: startup}}, code: {BURN}}}
      q: {{hook: {{on: every, slots: 1}}, code: {BURN}}}
    scenario: {{slots: 6}}
"""


def test_deferral_under_small_slot_budget_keeps_fifo_order() -> None:
    report, _state = run(DEFER)
    # each item reserves 100 of 200 CU and uses 62: two per slot; deferred items run first
    assert runs(report) == [(0, "p0"), (0, "p1"), (1, "p2"), (1, "p3"), (2, "p4"), (2, "q"),
                            (3, "q"), (3, "q"), (4, "q"), (4, "q"), (5, "q")]
    seqs = [e.seq for e in run_events(report)]
    assert seqs == sorted(seqs)
    assert [s.deferred for s in report.slots] == [4, 3, 2, 1, 0, 0]
    assert report.totals.pending == 0


def test_deferred_items_are_never_dropped() -> None:
    report, _state = run(DEFER)
    enqueued = sum(1 for s in report.slots for e in s.events if e.kind == "enqueue")
    assert enqueued == report.totals.invocations + report.totals.pending


def test_slot_is_charged_actual_cu_not_the_reservation() -> None:
    report, _ = run(DEFER)
    # two 62-instruction programs; the third's 100-CU reservation no longer fits in 76
    assert report.slots[0].cu_used == 124


# --------------------------------------------------------------------------- rollback

ROLLBACK = """
    arspec: 1
    profile: linux
    accounts:
      acct: {size: 8, fields: {x: {offset: 0, type: u64, init: 5}}}
    maps:
      m: {type: hash, key_size: 4, value_size: 8, max_entries: 4, init: [{key: 1, value: 11}]}
      ring: {type: ringbuf, max_entries: 4096}
      q: {type: queue, value_size: 8, max_entries: 4}
    programs:
      bad:
        hook: {on: startup}
        code: |
          *(u32 *)(r10 - 4) = 1
          *(u64 *)(r10 - 16) = 99
          r1 = map_idx(0) ll
          r2 = r10
          r2 += -4
          r3 = r10
          r3 += -16
          r4 = 0
          call 2
          *(u32 *)(r10 - 4) = 2
          r1 = map_idx(0) ll
          r2 = r10
          r2 += -4
          r3 = r10
          r3 += -16
          r4 = 0
          call 2
          r1 = 0
          r2 = 0
          r3 = r10
          r3 += -16
          r4 = 8
          call 0x10002
          r1 = map_idx(1) ll
          r2 = r10
          r2 += -16
          r3 = 8
          r4 = 0
          call 130
          r1 = map_idx(2) ll
          r2 = r10
          r2 += -16
          r3 = 0
          call 87
          r1 = r10
          r1 += -16
          r2 = 8
          call 0x10009
          FAIL
          r0 = 0
          exit
    scenario: {slots: 1}
"""


@pytest.mark.parametrize("fail", ["r1 = 0\n          r0 = *(u64 *)(r1 + 0)",
                                  "r1 = 0\n          call 0x10009",
                                  "loop:\n          goto loop"])
def test_rollback_on_failure_restores_maps_accounts_and_ring(fail: str) -> None:
    report, state = run(ROLLBACK.replace("FAIL", fail))
    (event,) = run_events(report)
    assert event.rolled_back and event.charged == 200_000
    assert event.logs == () and event.records_produced == 0
    m = state.maps["m"]
    assert list(m.elements) == [b"\1\0\0\0"]
    assert u64(state, "m", b"\1\0\0\0") == 11
    assert state.accounts.accounts["acct"].data == (5).to_bytes(8, "little")
    ring = state.maps["ring"].ringbuf
    assert ring is not None and ring.producer_pos == 0 and not any(ring.data)
    assert state.maps["q"].queue == []
    assert report.totals.records_produced == 0


def test_successful_run_keeps_every_effect() -> None:
    report, state = run(ROLLBACK.replace("FAIL", "r1 = 1"))
    (event,) = run_events(report)
    assert not event.rolled_back and event.records_produced == 1
    assert event.logs == ("c" + "\0" * 7,)
    assert u64(state, "m", b"\1\0\0\0") == 99 and u64(state, "m", b"\2\0\0\0") == 99
    assert state.accounts.accounts["acct"].data == (99).to_bytes(8, "little")
    assert state.maps["q"].queue == [(99).to_bytes(8, "little")]
