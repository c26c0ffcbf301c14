"""The solana call table: helper names, the sol_* aliases and the Agave syscalls by hash."""

from __future__ import annotations

import pytest
from runtime_support import load, run, runs

from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.runtime import ReferenceInvoker, get_assembly_helpers
from arspec.reference.runtime.solana_syscalls import SYSCALL_NAMES, get_solana_call_table
from arspec.spec.errors import InputError
from arspec.spec.helpers import HELPER_TABLE, HELPERS_BY_NAME
from arspec.spec.state import compute_state_key
from arspec.spec.syscalls import AGAVE_SYSCALLS, SOL_ALIASES, get_sol_alias_target

TIMER = """
arspec: 1
name: t
profile: {profile}
preset: linux_like
maps:
  hb: {{type: array, value_size: 24, max_entries: 1, pinned: true, timer: 8}}
programs:
  p:
    hook: {{on: startup}}
    code: |
      # arm a 2-slot timer that re-arms itself
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_idx(hb)
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r6 = r0
        r1 = r6
        r1 += 8
        r2 = map_idx(hb)
        r3 = 0
        call {prefix}_timer_init
        r1 = r6
        r1 += 8
        r2 = code_addr(cb)
        call {prefix}_timer_set_callback
        r1 = r6
        r1 += 8
        r2 = 2
        r3 = 0
        call {prefix}_timer_start
      out:
        r0 = 0
        exit
      cb:
        r1 = r3
        r1 += 8
        r2 = 2
        r3 = 0
        call {prefix}_timer_start
        r0 = 0
        exit
scenario: {{slots: 7}}
"""


def test_unknown_hash_is_refused_with_its_pc() -> None:
    text = TIMER.format(profile="solana", prefix="sol").replace(
        "call sol_timer_init", "call 0x12345678")
    with pytest.raises(InputError, match=r"programs.p: pc 13: unknown helper 0x12345678"):
        ReferenceInvoker(load(text))


def test_linux_profile_has_no_aliases_but_has_the_watcher_calls() -> None:
    names = get_assembly_helpers("linux")
    assert not any(alias in names for alias, _ in SOL_ALIASES)
    assert not any(name in names for name in SYSCALL_NAMES)
    assert names["sol_watch_account"] == HELPERS_BY_NAME["sol_watch_account"].id
    with pytest.raises(InputError, match="sol_timer_init"):
        ReferenceInvoker(load(TIMER.format(profile="linux", prefix="sol")))


def test_non_alias_names_have_no_target() -> None:
    assert get_sol_alias_target("bpf_timer_init") is None
    assert get_sol_alias_target("sol_log_") is None


def test_every_name_resolves_to_its_contract_by_hash() -> None:
    table = get_solana_call_table()
    assert len(table) == len(HELPER_TABLE) + len(SOL_ALIASES) + len(AGAVE_SYSCALLS)
    for row in HELPER_TABLE:
        assert table[murmur3_32(row.name.encode())] == (row.name, row)
    for alias, target in SOL_ALIASES:
        assert table[murmur3_32(alias.encode())] == (alias, HELPERS_BY_NAME[target])
    for syscall in AGAVE_SYSCALLS:
        assert table[murmur3_32(syscall.row.name.encode())] == (syscall.row.name, syscall.row)
    assert get_assembly_helpers("solana")["sol_timer_start"] == murmur3_32(b"sol_timer_start")


def test_sol_names_run_exactly_like_the_linux_names() -> None:
    sol, sol_state = run(TIMER.format(profile="solana", prefix="sol"))
    bpf, bpf_state = run(TIMER.format(profile="solana", prefix="bpf"))
    assert runs(sol) == runs(bpf) == [(0, "p"), (2, "p"), (4, "p"), (6, "p")]
    assert [e.used for s in sol.slots for e in s.events] == \
        [e.used for s in bpf.slots for e in s.events]
    assert compute_state_key(sol_state) == compute_state_key(bpf_state)
