"""Helper bindings through real bytecode: misuse faults, per-CPU choice, loops, accounts."""

from __future__ import annotations

from runtime_support import run, run_events

from arspec.spec.errno import E2BIG, EINVAL, ENOENT, compute_r0

HEAD = """
    arspec: 1
    profile: linux
    accounts:
      a: {size: 16, fields: {x: {offset: 0, type: u64, init: 42}}}
    maps:
      arr: {type: array, value_size: 24, max_entries: 2, timer: 8}
      other: {type: array, value_size: 8, max_entries: 1}
      pc: {type: percpu_array, value_size: 8, max_entries: 1}
      ring: {type: ringbuf, max_entries: 4096}
      q: {type: stack, value_size: 8, max_entries: 2}
    programs:
      p:
        hook: {on: every, slots: 1}
        code: |
"""


def program(code: str, slots: int = 1) -> str:
    body = "\n".join(" " * 10 + line.strip() for line in code.strip().splitlines())
    return HEAD + body + f"\n    scenario: {{slots: {slots}}}\n"


LOOKUP_ARR = """
    *(u32 *)(r10 - 4) = 0
    r1 = map_idx(0) ll
    r2 = r10
    r2 += -4
    call 1
    r6 = r0
"""


def fault_of(code: str) -> str:
    report, _ = run(program(code))
    event = run_events(report)[0]
    assert event.rolled_back
    return event.fault or ""


def result_of(code: str, slots: int = 1) -> list[int | None]:
    report, _ = run(program(code, slots))
    events = run_events(report)
    assert not any(e.rolled_back for e in events), events[0].fault
    return [e.r0 for e in events]


def test_invalid_map_handle_faults() -> None:
    assert "is not a map reference" in fault_of("r1 = 5\nr2 = r10\ncall 1\nexit")


def test_invalid_lookup_key_pointer_faults() -> None:
    assert "memory fault" in fault_of("r1 = map_idx(0) ll\nr2 = 0\ncall 1\nexit")


def test_invalid_timer_init_with_another_map_faults() -> None:
    code = LOOKUP_ARR + "r1 = r6\nr1 += 8\nr2 = map_idx(1) ll\nr3 = 0\ncall 169\nexit"
    assert "the timer lives in 'arr', not 'other'" in fault_of(code)


def test_invalid_timer_pointer_on_the_stack_faults() -> None:
    code = "r1 = r10\nr1 += -16\nr2 = map_idx(0) ll\nr3 = 0\ncall 169\nexit"
    assert "not inside a map value" in fault_of(code)


def test_invalid_bpf_loop_callback_faults() -> None:
    assert "not a code address" in fault_of("r1 = 3\nr2 = 8\nr3 = 0\nr4 = 0\ncall 181\nexit")


def test_invalid_ringbuf_op_on_an_array_faults() -> None:
    code = "r1 = map_idx(0) ll\nr2 = 8\nr3 = 0\ncall 131\nexit"
    assert "is not a ring buffer" in fault_of(code)


def test_invalid_direct_value_address_of_a_ring_faults() -> None:
    assert "not an array" in fault_of("r1 = map_idx_value(3) ll\nexit")


def test_invalid_huge_account_read_size_faults() -> None:
    code = "r1 = 0\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = -1\ncall 0x10001\nexit"
    assert "compute budget exceeded" in fault_of(code)


def test_timer_start_before_init_returns_einval() -> None:
    code = LOOKUP_ARR + "r1 = r6\nr1 += 8\nr2 = 1\nr3 = 0\ncall 171\nexit"
    assert result_of(code) == [compute_r0(-EINVAL)]


def test_account_read_out_of_bounds_returns_e2big_and_zeroes() -> None:
    code = """
    *(u64 *)(r10 - 8) = -1
    r1 = 0
    r2 = 12
    r3 = r10
    r3 += -8
    r4 = 8
    call 0x10001
    r6 = *(u64 *)(r10 - 8)
    if r6 != 0 goto bad
    exit
    bad:
    r0 = 1
    exit
    """
    assert result_of(code) == [compute_r0(-E2BIG)]


def test_account_index_without_account_returns_enoent() -> None:
    code = "r1 = 7\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 8\ncall 0x10001\nexit"
    assert result_of(code) == [compute_r0(-ENOENT)]


def test_account_read_returns_initial_field() -> None:
    code = ("r1 = 0\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 8\ncall 0x10001\n"
            "r0 = *(u64 *)(r10 - 8)\nexit")
    assert result_of(code) == [42]


def test_pop_on_empty_stack_returns_enoent() -> None:
    code = "r1 = map_idx(4) ll\nr2 = r10\nr2 += -8\ncall 88\nexit"
    assert result_of(code) == [compute_r0(-ENOENT)]


def test_stack_push_pop_is_lifo() -> None:
    code = """
    *(u64 *)(r10 - 8) = 1
    r1 = map_idx(4) ll
    r2 = r10
    r2 += -8
    r3 = 0
    call 87
    *(u64 *)(r10 - 8) = 2
    r1 = map_idx(4) ll
    r2 = r10
    r2 += -8
    r3 = 0
    call 87
    r1 = map_idx(4) ll
    r2 = r10
    r2 += -16
    call 88
    r0 = *(u64 *)(r10 - 16)
    exit
    """
    assert result_of(code) == [2]


def test_percpu_values_follow_the_invocation_cpu() -> None:
    code = """
    *(u32 *)(r10 - 4) = 0
    r1 = map_idx(2) ll
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0 goto out
    r1 = *(u64 *)(r0 + 0)
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    r0 = r1
    out:
    exit
    """
    # items 0..5 run on CPUs 0,1,2,3,0,1: each CPU's copy counts its own runs
    assert result_of(code, slots=6) == [1, 1, 1, 1, 2, 2]


def test_bpf_loop_runs_the_callback_with_index_and_context() -> None:
    code = """
    *(u64 *)(r10 - 8) = 0
    r1 = 5
    r2 = code_addr(7) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call 181
    r0 = *(u64 *)(r10 - 8)
    exit
    r3 = *(u64 *)(r2 + 0)
    r3 += r1
    *(u64 *)(r2 + 0) = r3
    r0 = 0
    exit
    """
    assert result_of(code) == [0 + 1 + 2 + 3 + 4]


def test_iter_num_counts_over_a_range() -> None:
    code = """
    r1 = r10
    r1 += -8
    r2 = 3
    r3 = 7
    call 0x10006
    r6 = 0
    loop:
    r1 = r10
    r1 += -8
    call 0x10007
    if r0 == 0 goto done
    r1 = *(u32 *)(r0 + 0)
    r6 += r1
    goto loop
    done:
    r1 = r10
    r1 += -8
    call 0x10008
    r0 = r6
    exit
    """
    assert result_of(code) == [3 + 4 + 5 + 6]


def test_direct_value_address_of_an_array_reads_index_zero() -> None:
    code = LOOKUP_ARR + ("*(u64 *)(r6 + 0) = 9\nr1 = map_idx_value(0) ll\n"
                         "r0 = *(u64 *)(r1 + 0)\nexit")
    assert result_of(code) == [9]


def test_nondeterministic_helpers_run_in_linux() -> None:
    assert result_of("call 8\nexit", slots=3) == [0, 1, 2]
