"""The helper table: Linux ids, arspec's id range, profiles and costs."""

from __future__ import annotations

import pytest

from arspec.spec.errors import HelperNotAllowed, SpecError, UnknownHelper
from arspec.spec.helpers import (
    ARSPEC_HELPER_BASE,
    BYTES_PER_CU,
    HELPER_TABLE,
    ArgKind,
    RetKind,
    check_helper_allowed,
    compute_helper_cost,
    get_helper,
    get_helper_by_name,
    get_helpers,
)

LINUX_IDS = {
    "bpf_map_lookup_elem": 1, "bpf_map_update_elem": 2, "bpf_map_delete_elem": 3,
    "bpf_ktime_get_ns": 5, "bpf_trace_printk": 6, "bpf_get_prandom_u32": 7,
    "bpf_get_smp_processor_id": 8, "bpf_tail_call": 12, "bpf_map_push_elem": 87,
    "bpf_map_pop_elem": 88, "bpf_map_peek_elem": 89, "bpf_ktime_get_boot_ns": 125,
    "bpf_ringbuf_output": 130, "bpf_ringbuf_reserve": 131, "bpf_ringbuf_submit": 132,
    "bpf_ringbuf_discard": 133, "bpf_ringbuf_query": 134, "bpf_ktime_get_coarse_ns": 160,
    "bpf_timer_init": 169, "bpf_timer_set_callback": 170, "bpf_timer_start": 171,
    "bpf_timer_cancel": 172, "bpf_loop": 181, "bpf_ktime_get_tai_ns": 208,
    # spin locks and dynptrs (Linux include/uapi/linux/bpf.h)
    "bpf_spin_lock": 93, "bpf_spin_unlock": 94, "bpf_dynptr_from_mem": 197,
    "bpf_ringbuf_reserve_dynptr": 198, "bpf_ringbuf_submit_dynptr": 199,
    "bpf_ringbuf_discard_dynptr": 200, "bpf_dynptr_read": 201, "bpf_dynptr_write": 202,
    "bpf_dynptr_data": 203,
}
NONDETERMINISTIC = ["bpf_ktime_get_ns", "bpf_get_prandom_u32", "bpf_get_smp_processor_id",
                    "bpf_ktime_get_boot_ns", "bpf_ktime_get_coarse_ns", "bpf_ktime_get_tai_ns"]


def test_helper_ids_match_linux() -> None:
    for name, helper_id in LINUX_IDS.items():
        assert get_helper_by_name(name).id == helper_id
        assert get_helper(helper_id).name == name


def test_every_helper_below_the_arspec_base_is_a_linux_one() -> None:
    linux = {h.name for h in HELPER_TABLE if h.id < ARSPEC_HELPER_BASE}
    assert linux == set(LINUX_IDS)


def test_arspec_helpers_in_one_range_fitting_s32() -> None:
    own = [h for h in get_helpers() if h.id >= ARSPEC_HELPER_BASE]
    names = {h.name for h in own}
    assert {"arspec_get_slot", "arspec_account_read", "arspec_account_write", "bpf_wq_init",
            "bpf_wq_set_callback", "bpf_wq_start", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_iter_num_destroy", "arspec_log", "sol_watch_account",
            "sol_unwatch_account"} == names
    assert [h.id for h in own] == list(range(ARSPEC_HELPER_BASE, ARSPEC_HELPER_BASE + len(own)))
    assert all(h.id < 1 << 31 for h in own)


def test_ids_and_names_unique_and_ordered() -> None:
    ids = [h.id for h in HELPER_TABLE]
    assert ids == sorted(ids) == [h.id for h in get_helpers()]
    assert len(set(ids)) == len(ids)
    assert len({h.name for h in HELPER_TABLE}) == len(HELPER_TABLE)


def test_at_most_five_arguments() -> None:
    assert all(len(h.args) <= 5 for h in HELPER_TABLE)


def test_size_arguments_follow_a_pointer() -> None:
    sizes = (ArgKind.CONST_SIZE, ArgKind.CONST_SIZE_OR_ZERO)
    for helper in HELPER_TABLE:
        for i, kind in enumerate(helper.args):
            if kind in sizes:
                assert helper.args[i - 1] in (ArgKind.PTR_TO_MEM, ArgKind.PTR_TO_UNINIT_MEM)
        if helper.size_arg is not None:
            assert helper.args[helper.size_arg - 1] in sizes


def test_contracts_of_key_helpers() -> None:
    lookup = get_helper(1)
    assert lookup.args == (ArgKind.CONST_MAP_PTR, ArgKind.PTR_TO_MAP_KEY)
    assert lookup.ret is RetKind.PTR_TO_MAP_VALUE_OR_NULL
    assert get_helper(131).ret is RetKind.PTR_TO_ALLOC_MEM_OR_NULL
    assert get_helper(132).args[0] is ArgKind.PTR_TO_ALLOC_MEM
    assert get_helper(12).ret is RetKind.VOID
    assert get_helper(170).args == (ArgKind.PTR_TO_TIMER, ArgKind.PTR_TO_FUNC)
    assert get_helper_by_name("bpf_wq_start").args[0] is ArgKind.PTR_TO_WQ
    assert get_helper_by_name("bpf_iter_num_new").args[0] is ArgKind.PTR_TO_UNINIT_STACK_ITER


@pytest.mark.parametrize("name", NONDETERMINISTIC)
def test_invalid_nondeterministic_helper_refused_in_solana(name: str) -> None:
    helper = get_helper_by_name(name)
    assert not helper.deterministic
    message = f"helper {name} \\({helper.id}\\) is nondeterministic and refused in the solana"
    with pytest.raises(HelperNotAllowed, match=message):
        check_helper_allowed(helper.id, "solana")
    with pytest.raises(HelperNotAllowed, match=message):
        check_helper_allowed(name, "solana")
    check_helper_allowed(helper.id, "linux")


def test_invalid_trace_printk_in_solana() -> None:
    with pytest.raises(HelperNotAllowed, match="not available in the solana profile"):
        check_helper_allowed(6, "solana")


def test_deterministic_helpers_allowed_everywhere() -> None:
    for helper in HELPER_TABLE:
        if helper.deterministic and helper.name != "bpf_trace_printk":
            check_helper_allowed(helper.id, "solana")
            check_helper_allowed(helper.name, "linux")


def test_invalid_unknown_helper() -> None:
    with pytest.raises(UnknownHelper, match="unknown helper id 4"):
        check_helper_allowed(4, "linux")
    with pytest.raises(UnknownHelper, match="unknown helper 'sol_log_'"):
        get_helper_by_name("sol_log_")


def test_invalid_unknown_profile() -> None:
    with pytest.raises(SpecError, match="unknown profile 'bsd'"):
        check_helper_allowed(1, "bsd")


def test_costs() -> None:
    assert compute_helper_cost(get_helper(1)) == 100
    assert compute_helper_cost(get_helper(171)) == 1000
    assert compute_helper_cost(get_helper_by_name("bpf_iter_num_next")) == 10
    output = get_helper(130)
    assert compute_helper_cost(output, BYTES_PER_CU - 1) == 100
    assert compute_helper_cost(output, 3 * BYTES_PER_CU) == 103
    assert compute_helper_cost(get_helper(1), 10_000) == 100


# --- how helper results reach r0 ---------------------------------------------------------------

def test_errno_values_are_linux() -> None:
    from arspec.spec import errno

    assert (errno.EPERM, errno.ENOENT, errno.E2BIG, errno.EAGAIN, errno.ENOMEM, errno.EBUSY,
            errno.EEXIST, errno.EINVAL, errno.EDEADLK, errno.EOPNOTSUPP, errno.ENOTSUPP) == (
        1, 2, 7, 11, 12, 16, 17, 22, 35, 95, 524)


def test_negative_errno_encodes_as_u64_twos_complement() -> None:
    from arspec.spec.errno import EINVAL, compute_r0, compute_signed, get_errno_name

    assert compute_r0(-EINVAL) == 0xFFFF_FFFF_FFFF_FFEA
    assert compute_signed(0xFFFF_FFFF_FFFF_FFEA) == -EINVAL
    assert compute_r0(1) == 1 and compute_signed(1) == 1
    assert compute_signed(1 << 63) == -(1 << 63)
    assert get_errno_name(-EINVAL) == "-EINVAL"
    assert get_errno_name(0) == "0" and get_errno_name(-999) == "-999"
