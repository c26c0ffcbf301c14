"""sol_watch_account / sol_unwatch_account and the sol_* names through the bundle runtime."""

from __future__ import annotations

from dataclasses import replace as copy_with

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_support import load, run, run_events, runs

from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.spec.bundle import Bundle
from arspec.spec.catalogue import get_violated_invariants
from arspec.spec.errno import E2BIG
from arspec.spec.errors import InputError
from arspec.spec.helpers import ASYNC_START_COST
from arspec.spec.runtime_watchers import (
    MAX_WATCHERS_PER_PROGRAM,
    WatchCriteria,
    encode_watch_criteria,
    process_watch_account,
)
from arspec.spec.scheduler import create_initial_state
from arspec.spec.state import RuntimeState
from arspec.spec.types import FuncRef, Pc, ProgId


def criteria(op: int, value: int = 0, account: int = 0, base: int = 24) -> str:
    """Assembly that writes ``struct sol_watch_criteria`` at r10 - base and sets r1, r2."""
    return f"""
        r1 = {account}
        *(u64 *)(r10 - {base}) = r1
        r1 = {op | 8 << 8}
        *(u64 *)(r10 - {base - 8}) = r1
        r1 = {value}
        *(u64 *)(r10 - {base - 16}) = r1
        r1 = r10
        r1 += -{base}
        r2 = 24"""


def bundle(setup: str, callback: str = "r0 = 0\n  exit", writes: str = "[]",
           slots: int = 8, extra_programs: str = "", preset: str = "linux_like") -> str:
    body = "\n".join("      " + line.strip() for line in setup.strip().splitlines())
    cb = "\n".join("      " + line.strip() for line in callback.strip().splitlines())
    return f"""
arspec: 1
name: rw
profile: solana
preset: {preset}
accounts:
  price: {{size: 8, fields: {{value: {{offset: 0, type: u64, init: 100}}}}}}
  out: {{size: 8, fields: {{result: {{offset: 0, type: i64}}}}}}
programs:
  setup:
    hook: {{on: startup}}
    code: |
      # setup
{body}
      on_fire:
{cb}
{extra_programs}
scenario:
  slots: {slots}
  writes: {writes}
"""


REGISTER = criteria(op=4, value=150) + """
    r3 = code_addr(on_fire)
    r4 = 0
    call sol_watch_account
    r0 = 0
    exit"""
STORE_R0 = """
    *(u64 *)(r10 - 8) = r0
    r1 = 1
    r2 = 0
    r3 = r10
    r3 += -8
    r4 = 8
    call arspec_account_write"""


def price(slot: int, value: int) -> str:
    return f"{{slot: {slot}, account: price, field: value, value: {value}}}"


# ------------------------------------------------------------------ negative cases first


def test_condition_true_at_registration_and_staying_true_never_fires() -> None:
    report, _ = run(bundle(REGISTER, writes=f"[{price(0, 200)}, {price(3, 300)}]"))
    assert runs(report) == [(0, "setup")]


def test_bad_criteria_return_einval_and_fire_nothing() -> None:
    bad = criteria(op=9, value=150) + "\nr3 = code_addr(on_fire)\nr4 = 0\n" \
        "call sol_watch_account" + STORE_R0 + "\nr0 = 0\nexit"
    report, state = run(bundle(bad, writes=f"[{price(2, 200)}]"))
    assert runs(report) == [(0, "setup")]
    assert int.from_bytes(state.accounts.accounts["out"].data, "little", signed=True) == -22
    assert state.runtime_watchers == {}


def test_callback_that_is_not_code_faults_and_rolls_back() -> None:
    bad = criteria(op=4, value=150) + "\nr3 = 12345\nr4 = 0\ncall sol_watch_account\n" \
        "r0 = 0\nexit"
    report, state = run(bundle(bad, writes=f"[{price(2, 200)}]"))
    (event,) = run_events(report)
    assert event.rolled_back and "callback" in (event.fault or "")
    assert state.runtime_watchers == {} and state.next_watcher_id == 1


def test_a_failed_invocation_undoes_its_registration() -> None:
    failing = REGISTER.replace("r0 = 0\n    exit", "r0 = 1\n    exit")
    report, state = run(bundle(failing, writes=f"[{price(2, 200)}]"))
    assert runs(report) == [(0, "setup")] and run_events(report)[0].rolled_back
    assert state.runtime_watchers == {} and state.next_watcher_id == 1


def test_limit_per_program_is_e2big() -> None:
    loop = "\n".join(REGISTER.replace("r0 = 0\n    exit", "").splitlines()) * (
        MAX_WATCHERS_PER_PROGRAM + 1)
    _, state = run(bundle(loop + STORE_R0 + "\nr0 = 0\nexit"))
    assert int.from_bytes(state.accounts.accounts["out"].data, "little",
                          signed=True) == -E2BIG
    assert len(state.runtime_watchers) == MAX_WATCHERS_PER_PROGRAM


def test_no_firing_after_removal() -> None:
    # The callback removes its own watcher (id 1) the first time it runs.
    unwatch = "r1 = 1\ncall sol_unwatch_account" + STORE_R0 + "\nr0 = 0\nexit"
    report, state = run(bundle(REGISTER, unwatch,
                               writes=f"[{price(2, 200)}, {price(3, 100)}, {price(4, 300)}]"))
    assert runs(report) == [(0, "setup"), (2, "setup")]
    assert int.from_bytes(state.accounts.accounts["out"].data, "little") == 0
    assert state.runtime_watchers == {} and state.next_watcher_id == 2


def test_an_item_queued_before_removal_is_skipped_as_stale() -> None:
    # `killer` (a declared watcher, enqueued first) removes setup's watcher... but only the
    # owner may: it gets -ENOENT, so setup's own callback, declared on `out`, does it.
    text = bundle(REGISTER, writes=f"[{price(2, 200)}, {{slot: 2, account: out, field: result,"
                                   " value: 1}]",
                  extra_programs="""
  killer:
    hook: {on: watch, account: out, field: result, op: changed}
    code: |
      r1 = 1
      call sol_unwatch_account
      r0 = 0
      exit
""")
    report, state = run(text)
    # killer does not own watcher 1: it stays, and the callback runs.
    assert runs(report) == [(0, "setup"), (2, "killer"), (2, "setup")]
    assert 1 in state.runtime_watchers


def test_stale_item_is_skipped_when_the_owner_removes_it_first() -> None:
    # A declared watcher program of the same owner: setup is startup, so put the
    # registration and the removal in one program `owner` hooked on `out` changes.
    text = f"""
arspec: 1
name: stale
profile: solana
preset: linux_like
maps:
  ids: {{type: array, value_size: 8, max_entries: 1}}
accounts:
  price: {{size: 8, fields: {{value: {{offset: 0, type: u64, init: 100}}}}}}
  out: {{size: 8, fields: {{cmd: {{offset: 0, type: u64}}}}}}
programs:
  owner:
    hook: {{on: watch, account: out, field: cmd, op: changed}}
    code: |
      # cmd 1: register a watcher on price > 150; cmd 2: remove watcher 1
        r1 = 1
        r2 = 0
        r3 = r10
        r3 += -32
        r4 = 8
        call arspec_account_read
        r1 = *(u64 *)(r10 - 32)
        if r1 == 2 goto remove
{criteria(op=4, value=150)}
        r3 = code_addr(on_fire)
        r4 = 0
        call sol_watch_account
        r0 = 0
        exit
      remove:
        r1 = 1
        call sol_unwatch_account
        r0 = 0
        exit
      on_fire:
        r0 = 0
        exit
scenario:
  slots: 6
  writes:
    - {{slot: 1, account: out, field: cmd, value: 1}}
    - {{slot: 3, account: price, field: value, value: 200}}
    - {{slot: 3, account: out, field: cmd, value: 2}}
"""
    report, state = run(text)
    skipped = [e for s in report.slots for e in s.events if e.kind == "skip"]
    assert runs(report) == [(1, "owner"), (3, "owner")]
    assert len(skipped) == 1 and "runtime watcher 1 was removed" in skipped[0].reason
    assert state.runtime_watchers == {}


def test_cascade_through_a_run_time_watcher_is_suppressed() -> None:
    # The callback adds 1 to the price it watches (op changed): it re-triggers itself.
    bump = """
        r1 = 0
        r2 = 0
        r3 = r10
        r3 += -8
        r4 = 8
        call arspec_account_read
        r1 = *(u64 *)(r10 - 8)
        r1 += 1
        *(u64 *)(r10 - 8) = r1
        r1 = 0
        r2 = 0
        r3 = r10
        r3 += -8
        r4 = 8
        call arspec_account_write
        r0 = 0
        exit"""
    register = criteria(op=6) + "\nr3 = code_addr(on_fire)\nr4 = 0\ncall sol_watch_account\n" \
        "r0 = 0\nexit"
    text = bundle(register, bump, writes=f"[{price(1, 5)}]", slots=10, preset="minimal")
    report, state = run(text)
    assert [s for s, _ in runs(report)] == [0, 1, 2]
    assert state.cascades_suppressed == 1 and state.max_depth_seen == 2
    assert get_violated_invariants(state, load(text)) == []


# ------------------------------------------------------------------ positive cases


def test_fires_on_each_crossing_from_the_next_slot_and_costs_async_start() -> None:
    report, state = run(bundle(REGISTER, writes=f"[{price(0, 90)}, {price(3, 200)}, "
                                                f"{price(4, 210)}, {price(5, 100)}, "
                                                f"{price(6, 300)}]"))
    assert runs(report) == [(0, "setup"), (3, "setup"), (6, "setup")]
    setup = run_events(report)[0]
    assert setup.used == 14 + ASYNC_START_COST  # 14 instructions
    assert [w.id for w in state.runtime_watchers.values()] == [1]
    assert "runtime watcher 1 of setup" in run_events(report)[1].reason


def test_runtime_watchers_fire_after_declared_ones_in_id_order() -> None:
    two = REGISTER.replace("r0 = 0\n    exit", "") + REGISTER
    text = bundle(two, writes=f"[{price(2, 200)}]", extra_programs="""
  declared:
    hook: {on: watch, account: price, field: value, op: gt, value: 150}
    code: |
      r0 = 0
      exit
""")
    report, _ = run(text)
    details = [e.reason for e in run_events(report)[1:]]
    assert [e.program for e in run_events(report)[1:]] == ["declared", "setup", "setup"]
    assert "watcher 1" in details[1] and "watcher 2" in details[2]


def test_deleting_the_map_element_the_criteria_came_from_changes_nothing() -> None:
    raw = encode_watch_criteria(WatchCriteria(0, 0, 4, 8, 0, 0, 0, 150)).hex()
    code = """
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_idx(crit)
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = r0
        r2 = 24
        r3 = code_addr(on_fire)
        r4 = 0
        call sol_watch_account
        r1 = map_idx(crit)
        r2 = r10
        r2 += -4
        call bpf_map_delete_elem
      out:
        r0 = 0
        exit"""
    text = bundle(code, writes=f"[{price(2, 200)}]").replace(
        "accounts:", "maps:\n  crit: {type: hash, key_size: 4, value_size: 24, max_entries: 1,"
        f" init: [{{key: 0, value: '{raw}'}}]}}\naccounts:", 1)
    report, state = run(text)
    assert runs(report) == [(0, "setup"), (2, "setup")]
    assert state.maps["crit"].elements == {}  # type: ignore[index]


def test_sol_names_and_agave_syscalls_run_in_bundles() -> None:
    code = """
        r1 = r10
        r1 += -40
        call sol_get_clock_sysvar
        r1 = *(u64 *)(r10 - 40)
        *(u64 *)(r10 - 48) = r1
        *(u32 *)(r10 - 4) = 0x6b6f
        r1 = r10
        r1 += -4
        r2 = 2
        call sol_log_
        r1 = 1
        call sol_unwatch_account
        r0 = 0
        exit"""
    text = bundle(code).replace("hook: {on: startup}", "hook: {on: every, slots: 3}")
    report, _ = run(text, slots=7)
    logs = [e.logs for e in run_events(report)]
    assert logs == [("Program log: ok",)] * 3


def test_linux_profile_has_no_sol_aliases() -> None:
    text = bundle("call sol_timer_cancel\nr0 = 0\nexit").replace("profile: solana",
                                                                  "profile: linux")
    with pytest.raises(InputError, match="sol_timer_cancel"):
        ReferenceInvoker(load(text))



CRITERIA = st.builds(
    lambda account, offset, op, width, signed, reserved, bps, value: encode_watch_criteria(
        WatchCriteria(account, offset, op, width, signed, reserved, bps, value)),
    st.sampled_from([0, 1, 2]), st.sampled_from([0, 4, 7]), st.integers(0, 8),
    st.sampled_from([1, 2, 3, 8]), st.sampled_from([0, 1, 2]), st.sampled_from([0, 0, 1]),
    st.sampled_from([0, 0, 100, 20_000]), st.sampled_from([0, 0, 150, 2**64 - 1]))


@settings(max_examples=40, deadline=None)
@given(st.one_of(CRITERIA, st.binary(min_size=24, max_size=24)), st.sampled_from([16, 24, 32]),
       st.sampled_from([0, 0, 1]))
def test_runtime_binding_returns_what_the_spec_returns(raw: bytes, size: int, flags: int) -> None:
    """sol_watch_account through the VM and the binding equals the spec transition."""
    code = f"""
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_idx(crit)
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = r0
        r2 = {size}
        r3 = code_addr(on_fire)
        r4 = {flags}
        call sol_watch_account
        {STORE_R0}
      out:
        r0 = 0
        exit"""
    text = bundle(code).replace(
        "accounts:", "maps:\n  crit: {type: array, value_size: 32, max_entries: 1,"
        f" init: [{{key: 0, value: '{raw.hex()}'}}]}}\naccounts:", 1)
    _, state = run(text, slots=1)
    got = int.from_bytes(state.accounts.accounts["out"].data, "little", signed=True)
    spec_state = create_initial_state(load(text))
    expected = process_watch_account(spec_state, ProgId("setup"), FuncRef(ProgId("setup"), Pc(0)),
                                     (raw + bytes(8))[:size], flags)
    assert got == expected
    assert sorted(state.runtime_watchers) == sorted(spec_state.runtime_watchers)


def registered() -> tuple[RuntimeState, Bundle]:
    """Return the state after slot 0 of a bundle that registered watcher 1, and the bundle."""
    text = bundle(REGISTER, writes=f"[{price(2, 200)}]")
    _, state = run(text, slots=1)
    return state, load(text)


def test_invalid_state_watcher_observing_too_early_is_caught() -> None:
    state, loaded = registered()
    assert get_violated_invariants(state, loaded) == []
    state.runtime_watchers[1].active_from = state.slot + 2
    assert get_violated_invariants(state, loaded) == ["runtime_watchers"]


def test_invalid_state_id_beyond_the_counter_is_caught() -> None:
    state, loaded = registered()
    state.next_watcher_id = 1
    assert get_violated_invariants(state, loaded) == ["runtime_watchers"]


def test_invalid_state_over_the_program_limit_is_caught() -> None:
    state, loaded = registered()
    first = state.runtime_watchers[1]
    for i in range(2, MAX_WATCHERS_PER_PROGRAM + 2):
        state.runtime_watchers[i] = copy_with(first, id=i)
    state.next_watcher_id = MAX_WATCHERS_PER_PROGRAM + 2
    assert get_violated_invariants(state, loaded) == ["runtime_watchers"]
