"""bpf_timer in slots: the classic Linux state machine, every result, canonical firing order."""

from __future__ import annotations

import pytest

from arspec.spec.errno import EBUSY, EDEADLK, EINVAL
from arspec.spec.maps import (
    BPF_ANY,
    MapDef,
    MapState,
    MapType,
    create_map_state,
    process_map_delete,
    process_map_lookup,
    process_map_update,
)
from arspec.spec.presets import MINIMAL
from arspec.spec.timers import (
    BPF_F_TIMER_ABS,
    BPF_F_TIMER_CPU_PIN,
    AsyncSequence,
    TimerState,
    get_due_timers,
    is_timer_armed,
    process_timer_callback_done,
    process_timer_cancel,
    process_timer_fire,
    process_timer_init,
    process_timer_set_callback,
    process_timer_start,
)
from arspec.spec.types import U64_MASK, FuncRef, MapId, Pc, ProgId, Slot

CB = FuncRef(ProgId("p"), Pc(3))
CB2 = FuncRef(ProgId("p"), Pc(9))


def ready() -> tuple[TimerState, AsyncSequence]:
    timer = TimerState()
    assert process_timer_init(timer, 1) == 0
    assert process_timer_set_callback(timer, CB) == 0
    return timer, AsyncSequence()


@pytest.mark.parametrize("flags", [0, 1, 7])
def test_init_accepts_the_three_clocks(flags: int) -> None:
    timer = TimerState()
    assert process_timer_init(timer, flags) == 0 and timer.initialised


@pytest.mark.parametrize("flags", [2, 3, 4, 5, 6, 8, 15, 16, 17, 1 << 32])
def test_invalid_init_flags(flags: int) -> None:
    timer = TimerState()
    assert process_timer_init(timer, flags) == -EINVAL
    assert not timer.initialised


def test_invalid_reinit_is_ebusy() -> None:
    timer, _ = ready()
    assert process_timer_init(timer, 0) == -EBUSY
    assert timer.callback == CB


def test_invalid_reinit_with_bad_flags_reports_einval_first() -> None:
    timer, _ = ready()
    assert process_timer_init(timer, 16) == -EINVAL


def test_invalid_set_callback_uninitialised() -> None:
    timer = TimerState()
    assert process_timer_set_callback(timer, CB) == -EINVAL
    assert timer.callback is None


def test_set_callback_can_switch() -> None:
    timer, _ = ready()
    assert process_timer_set_callback(timer, CB2) == 0 and timer.callback == CB2


def test_invalid_start_uninitialised() -> None:
    assert process_timer_start(TimerState(), AsyncSequence(), Slot(0), 1, 0) == -EINVAL


def test_invalid_start_without_callback() -> None:
    timer = TimerState()
    process_timer_init(timer, 0)
    assert process_timer_start(timer, AsyncSequence(), Slot(0), 1, 0) == -EINVAL
    assert not is_timer_armed(timer)


@pytest.mark.parametrize("flags", [4, 8, 1 << 40])
def test_invalid_start_flags(flags: int) -> None:
    timer, seq = ready()
    assert process_timer_start(timer, seq, Slot(0), 1, flags) == -EINVAL
    assert not is_timer_armed(timer)


def test_relative_start_expires_at_now_plus_delay() -> None:
    timer, seq = ready()
    assert process_timer_start(timer, seq, Slot(10), 5, 0) == 0
    assert timer.expiry == 15


def test_absolute_start_expires_at_the_slot() -> None:
    timer, seq = ready()
    assert process_timer_start(timer, seq, Slot(10), 5, BPF_F_TIMER_ABS) == 0
    assert timer.expiry == 5


def test_cpu_pin_is_accepted_and_meaningless() -> None:
    timer, seq = ready()
    assert process_timer_start(timer, seq, Slot(10), 5, BPF_F_TIMER_CPU_PIN) == 0
    assert timer.expiry == 15


def test_relative_expiry_saturates() -> None:
    timer, seq = ready()
    assert process_timer_start(timer, seq, Slot(10), U64_MASK, 0) == 0
    assert timer.expiry == U64_MASK


def test_restart_replaces_expiry_and_order() -> None:
    timer, seq = ready()
    process_timer_start(timer, seq, Slot(0), 50, 0)
    first_seq = timer.arm_seq
    assert process_timer_start(timer, seq, Slot(0), 3, 0) == 0
    assert timer.expiry == 3 and timer.arm_seq != first_seq


def test_cancel_returns_one_when_armed_zero_when_not() -> None:
    timer, seq = ready()
    process_timer_start(timer, seq, Slot(0), 5, 0)
    assert process_timer_cancel(timer) == 1
    assert not is_timer_armed(timer)
    process_timer_set_callback(timer, CB)
    assert process_timer_cancel(timer) == 0


def test_cancel_clears_the_callback() -> None:
    timer, seq = ready()
    process_timer_start(timer, seq, Slot(0), 5, 0)
    process_timer_cancel(timer)
    assert timer.callback is None
    assert process_timer_start(timer, seq, Slot(0), 5, 0) == -EINVAL
    assert process_timer_set_callback(timer, CB) == 0
    assert process_timer_start(timer, seq, Slot(0), 5, 0) == 0


def test_invalid_cancel_uninitialised() -> None:
    assert process_timer_cancel(TimerState()) == -EINVAL


def test_invalid_cancel_from_own_callback_is_edeadlk() -> None:
    timer, seq = ready()
    process_timer_start(timer, seq, Slot(0), 0, 0)
    assert process_timer_fire(timer) == CB
    process_timer_start(timer, seq, Slot(0), 4, 0)
    assert process_timer_cancel(timer) == -EDEADLK
    assert timer.callback == CB and timer.expiry == 4
    process_timer_callback_done(timer)
    assert process_timer_cancel(timer) == 1


def test_fire_is_one_shot_and_callback_may_rearm() -> None:
    timer, seq = ready()
    process_timer_start(timer, seq, Slot(0), 1, 0)
    assert process_timer_fire(timer) == CB
    assert not is_timer_armed(timer) and timer.running
    with pytest.raises(AssertionError):
        process_timer_fire(timer)
    assert process_timer_start(timer, seq, Slot(1), 1, 0) == 0
    process_timer_callback_done(timer)
    assert not timer.running and timer.expiry == 2


def test_invalid_fire_of_unarmed_timer() -> None:
    timer, _ = ready()
    with pytest.raises(AssertionError):
        process_timer_fire(timer)


def test_invalid_callback_done_without_fire() -> None:
    timer, _ = ready()
    with pytest.raises(AssertionError):
        process_timer_callback_done(timer)


def timer_map(entries: int = 4) -> MapState:
    defn = MapDef(MapId("t"), MapType.HASH, 4, 16, entries, timer_offset=0)
    return create_map_state(defn, MINIMAL)


def arm_key(state: MapState, key: int, seq: AsyncSequence, now: int, delay: int) -> TimerState:
    kb = key.to_bytes(4, "little")
    if process_map_lookup(state, kb) is None:
        process_map_update(state, kb, bytes(16), BPF_ANY)
    element = process_map_lookup(state, kb)
    assert element is not None and element.timer is not None
    if not element.timer.initialised:
        process_timer_init(element.timer, 0)
        process_timer_set_callback(element.timer, CB)
    assert process_timer_start(element.timer, seq, Slot(now), delay, 0) == 0
    return element.timer


def test_due_timers_in_canonical_order() -> None:
    state, seq = timer_map(), AsyncSequence()
    arm_key(state, 1, seq, 0, 5)
    arm_key(state, 2, seq, 0, 3)
    arm_key(state, 3, seq, 0, 5)
    arm_key(state, 4, seq, 0, 9)
    due = get_due_timers({MapId("t"): state}, Slot(5))
    assert [(d.expiry, int.from_bytes(d.key, "little")) for d in due] == [(3, 2), (5, 1), (5, 3)]
    assert [d.arm_seq for d in due] == [1, 0, 2]
    assert get_due_timers({MapId("t"): state}, Slot(2)) == []


def test_due_timers_across_maps_use_the_global_sequence() -> None:
    a, b, seq = timer_map(), timer_map(), AsyncSequence()
    arm_key(b, 1, seq, 0, 1)
    arm_key(a, 1, seq, 0, 1)
    due = get_due_timers({MapId("a"): a, MapId("b"): b}, Slot(1))
    assert [d.map_id for d in due] == ["b", "a"]


def test_zero_delay_is_due_in_the_same_slot() -> None:
    state, seq = timer_map(), AsyncSequence()
    arm_key(state, 1, seq, 7, 0)
    assert len(get_due_timers({MapId("t"): state}, Slot(7))) == 1


def test_delete_frees_timer_and_later_init_succeeds() -> None:
    state, seq = timer_map(), AsyncSequence()
    timer = arm_key(state, 1, seq, 0, 2)
    assert process_map_delete(state, (1).to_bytes(4, "little")) == 0
    assert not timer.initialised and get_due_timers({MapId("t"): state}, Slot(9)) == []
    fresh = arm_key(state, 1, seq, 0, 2)
    assert fresh is not timer and fresh.expiry == 2


def test_delete_from_own_callback_defers_the_free() -> None:
    state, seq = timer_map(), AsyncSequence()
    timer = arm_key(state, 1, seq, 0, 0)
    process_timer_fire(timer)
    assert process_map_delete(state, (1).to_bytes(4, "little")) == 0
    assert timer.running and not timer.initialised
    assert process_timer_cancel(timer) == -EINVAL
    process_timer_callback_done(timer)
    assert not timer.running


def test_is_timer_due() -> None:
    from arspec.spec.timers import is_timer_due

    timer, seq = ready()
    assert not is_timer_due(timer, Slot(100))
    process_timer_start(timer, seq, Slot(10), 2, 0)
    assert not is_timer_due(timer, Slot(11))
    assert is_timer_due(timer, Slot(12)) and is_timer_due(timer, Slot(13))
