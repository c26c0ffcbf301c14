"""Run-time watchers (spec/runtime_watchers.py): criteria, limits, removal, visibility."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.spec import bundle as schema
from arspec.spec.errno import E2BIG, EINVAL, ENOENT
from arspec.spec.hooks import WatchSpec, create_watcher_state, process_watcher_observation
from arspec.spec.loader import load_bundle_text
from arspec.spec.runtime_watchers import (
    MAX_WATCHERS_PER_ACCOUNT,
    MAX_WATCHERS_PER_PROGRAM,
    WATCH_CRITERIA_SIZE,
    WATCH_OP_CODES,
    WatchCriteria,
    compute_watch_spec,
    decode_watch_criteria,
    encode_watch_criteria,
    get_observing_watchers,
    process_program_upgrade,
    process_runtime_watcher_observation,
    process_unwatch_account,
    process_watch_account,
)
from arspec.spec.scheduler import create_initial_state
from arspec.spec.state import RuntimeState, compute_state_key, encode_state
from arspec.spec.types import AccountName, FuncRef, Pc, ProgId, Slot

BUNDLE = textwrap.dedent("""\
    arspec: 1
    profile: solana
    accounts:
      price: {size: 16}
      other: {size: 8}
    programs:
      a: {hook: {on: startup}, code: "r0 = 0\\nexit\\n"}
      b: {hook: {on: startup}, code: "r0 = 0\\nexit\\n"}
    """)
A, B = ProgId("a"), ProgId("b")
CB = FuncRef(A, Pc(0))


def fresh() -> RuntimeState:
    return create_initial_state(load_bundle_text(BUNDLE, filename="inline.yaml"))


def criteria(account: int = 0, offset: int = 0, op: int = 4, width: int = 8, signed: int = 0,
             reserved: int = 0, bps: int = 0, value: int = 150) -> bytes:
    return encode_watch_criteria(WatchCriteria(account, offset, op, width, signed, reserved,
                                               bps, value))


# ------------------------------------------------------------------ refused registrations


@pytest.mark.parametrize(("raw", "flags", "errno"), [
    (criteria()[:-1], 0, EINVAL),                       # size 23
    (criteria() + b"\0", 0, EINVAL),                    # size 25
    (criteria(), 1, EINVAL),                            # flags
    (criteria(op=8), 0, EINVAL),                        # unknown op
    (criteria(width=3), 0, EINVAL),
    (criteria(width=0), 0, EINVAL),
    (criteria(signed=2), 0, EINVAL),
    (criteria(reserved=1), 0, EINVAL),
    (criteria(op=7, bps=0, value=0), 0, EINVAL),       # change_bps needs 1..10000 bps
    (criteria(op=7, bps=10_001, value=0), 0, EINVAL),
    (criteria(op=7, bps=50, value=3), 0, EINVAL),      # change_bps takes no threshold
    (criteria(op=6, value=1), 0, EINVAL),               # changed takes no threshold
    (criteria(op=0, bps=5), 0, EINVAL),                 # comparisons take no bps
    (criteria(offset=9), 0, EINVAL),                    # 9 + 8 > 16
    (criteria(account=1, offset=4, width=8), 0, EINVAL),
    (criteria(offset=0xFFFF_FFFF, width=1), 0, EINVAL),
    (criteria(account=2), 0, -ENOENT),                  # only two accounts
])
def test_bad_criteria_are_refused_and_register_nothing(raw: bytes, flags: int,
                                                       errno: int) -> None:
    state = fresh()
    got = process_watch_account(state, A, CB, raw, flags)
    assert got == (errno if errno < 0 else -errno)
    assert state.runtime_watchers == {} and state.next_watcher_id == 1


def test_per_program_limit_is_e2big_and_other_programs_still_register() -> None:
    state = fresh()
    ids = [process_watch_account(state, A, CB, criteria(op=6, value=0), 0)
           for _ in range(MAX_WATCHERS_PER_PROGRAM)]
    assert ids == list(range(1, MAX_WATCHERS_PER_PROGRAM + 1))
    assert process_watch_account(state, A, CB, criteria(op=6, value=0), 0) == -E2BIG
    assert process_watch_account(state, B, CB, criteria(op=6, value=0), 0) > 0


def test_per_account_limit_counts_every_program() -> None:
    state = fresh()
    for i in range(MAX_WATCHERS_PER_ACCOUNT):
        owner = ProgId(f"p{i // MAX_WATCHERS_PER_PROGRAM}")
        assert process_watch_account(state, owner, CB, criteria(), 0) > 0
    assert process_watch_account(state, ProgId("p9"), CB, criteria(), 0) == -E2BIG
    assert process_watch_account(state, ProgId("p9"), CB, criteria(account=1), 0) > 0


def test_unwatch_refuses_unknown_ids_and_other_owners() -> None:
    state = fresh()
    wid = process_watch_account(state, A, CB, criteria(), 0)
    assert process_unwatch_account(state, A, wid + 1) == -ENOENT
    assert process_unwatch_account(state, B, wid) == -ENOENT
    assert process_unwatch_account(state, A, 0) == -ENOENT
    assert wid in state.runtime_watchers
    assert process_unwatch_account(state, A, wid) == 0
    assert process_unwatch_account(state, A, wid) == -ENOENT


def test_ids_are_never_reused() -> None:
    state = fresh()
    first = process_watch_account(state, A, CB, criteria(), 0)
    process_unwatch_account(state, A, first)
    assert process_watch_account(state, A, CB, criteria(), 0) == first + 1


def test_upgrade_removes_owned_watchers_and_those_calling_into_its_code() -> None:
    state = fresh()
    owned = process_watch_account(state, A, FuncRef(B, Pc(0)), criteria(), 0)
    calls_a = process_watch_account(state, B, FuncRef(A, Pc(0)), criteria(), 0)
    kept = process_watch_account(state, B, FuncRef(B, Pc(0)), criteria(), 0)
    assert process_program_upgrade(state, A) == [owned, calls_a]
    assert list(state.runtime_watchers) == [kept]


# ------------------------------------------------------------------ visibility and firing


def test_registration_is_not_observed_in_its_own_slot() -> None:
    state = fresh()
    state.slot = Slot(4)
    process_watch_account(state, A, CB, criteria(op=6, value=0), 0)
    assert get_observing_watchers(state) == []
    state.slot = Slot(5)
    assert [w.id for w in get_observing_watchers(state)] == [1]


def test_condition_true_at_registration_does_not_fire() -> None:
    state = fresh()
    state.accounts.accounts[AccountName("price")].data[0:8] = (200).to_bytes(8, "little")
    process_watch_account(state, A, CB, criteria(op=4, value=150), 0)
    watcher = state.runtime_watchers[1]
    assert not process_runtime_watcher_observation(state, watcher)
    state.accounts.accounts[AccountName("price")].data[0:8] = (100).to_bytes(8, "little")
    assert not process_runtime_watcher_observation(state, watcher)
    state.accounts.accounts[AccountName("price")].data[0:8] = (151).to_bytes(8, "little")
    assert process_runtime_watcher_observation(state, watcher)


def test_signed_threshold_reads_twos_complement() -> None:
    spec = compute_watch_spec(decode_watch_criteria(
        criteria(op=2, signed=1, value=(-5) & (2**64 - 1))), [(AccountName("x"), 8)])
    assert isinstance(spec, WatchSpec) and spec.value == -5 and spec.signed


def test_no_watcher_keeps_the_old_state_encoding() -> None:
    state = fresh()
    before = encode_state(state)
    assert len(compute_state_key(state)) == 18
    process_watch_account(state, A, CB, criteria(), 0)
    assert encode_state(state) != before
    process_unwatch_account(state, A, 1)
    assert encode_state(state) != before  # the id counter moved: not the same state


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=WATCH_CRITERIA_SIZE, max_size=WATCH_CRITERIA_SIZE))
def test_any_criteria_bytes_decode_to_a_spec_or_an_errno(raw: bytes) -> None:
    c = decode_watch_criteria(raw)
    assert encode_watch_criteria(c) == raw
    spec = compute_watch_spec(c, [(AccountName("x"), 16)])
    if isinstance(spec, int):
        assert spec in (-EINVAL, -ENOENT)
        return
    assert c.account == 0 and c.offset + c.width <= 16 and c.reserved == 0
    assert spec.op == WATCH_OP_CODES[c.op] and spec.width == c.width


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(8)), st.integers(-2**31, 2**31),
       st.lists(st.integers(-2**31, 2**31), max_size=8))
def test_run_time_watcher_fires_exactly_like_a_declared_one(op: int, threshold: int,
                                                          values: list[int]) -> None:
    """The same predicate, whether declared in the bundle or registered at run time."""
    kind = WATCH_OP_CODES[op]
    bps = 100 if kind == schema.WatchOp.CHANGE_BPS else 0
    value = threshold & (2**64 - 1) if kind in schema.COMPARISONS else 0
    state = fresh()
    wid = process_watch_account(state, A, CB, criteria(op=op, signed=1, bps=bps, value=value), 0)
    watcher = state.runtime_watchers[wid]
    declared = WatchSpec(AccountName("price"), 0, 8, True, kind,
                         threshold if kind in schema.COMPARISONS else None,
                         bps if kind == schema.WatchOp.CHANGE_BPS else None)
    edge = create_watcher_state(declared, state.accounts)
    for v in values:
        state.accounts.accounts[AccountName("price")].data[0:8] = v.to_bytes(8, "little",
                                                                             signed=True)
        assert process_runtime_watcher_observation(state, watcher) == \
            process_watcher_observation(declared, edge, v)
