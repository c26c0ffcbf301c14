"""Bundle code may name helpers and maps; the loader encodes ids, hashes and indices."""

from __future__ import annotations

import pytest
from runtime_support import load, run

from arspec.reference.isa.instructions import Call, LoadImm64, Pseudo
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.runtime import load_programs
from arspec.spec.errors import InputError

BUNDLE = """\
    arspec: 1
    profile: {profile}
    maps:
      counters: {{type: array, value_size: 8, max_entries: 1}}
      stats: {{type: array, value_size: 8, max_entries: 2}}
    programs:
      bump:
        code: |
          *(u32 *)(r10 - 4) = 1
          r1 = map_idx(stats)
          r2 = r10
          r2 += -4
          call bpf_map_lookup_elem
          if r0 == 0 goto out
          r1 = *(u64 *)(r0 + 0)
          r1 += 1
          *(u64 *)(r0 + 0) = r1
          out:
          r0 = 0
          exit
        hook: {{on: every, slots: 1}}
    scenario: {{slots: 3}}
"""


@pytest.mark.parametrize("profile", ["solana", "linux"])
def test_named_helper_and_map_run(profile: str) -> None:
    _, state = run(BUNDLE.format(profile=profile))
    stats = state.maps["stats"]
    value = next(iter(stats.elements[(1).to_bytes(4, "little")]))
    assert int.from_bytes(value.value, "little") == 3


def test_names_encode_the_profile_specific_helper_id_and_map_index() -> None:
    for profile, expected in (("solana", murmur3_32(b"bpf_map_lookup_elem")), ("linux", 1)):
        program = load_programs(load(BUNDLE.format(profile=profile)))["bump"].program
        calls = [insn for _, insn in program.instructions() if isinstance(insn, Call)]
        assert [c.imm & 0xFFFFFFFF for c in calls] == [expected]
        assert program.slots[1] == LoadImm64(1, Pseudo.MAP_IDX, 1, 0)


def test_invalid_unknown_map_name_is_located() -> None:
    text = BUNDLE.format(profile="solana").replace("map_idx(stats)", "map_idx(statz)")
    # Located in the bundle file (line 10: the code block's second line).
    with pytest.raises(InputError, match=r"^inline\.yaml:10:\d+: error: programs\.bump\.code: "
                                         r"unknown name 'statz'"):
        load_programs(load(text))


def test_invalid_misspelt_helper_suggests_the_helper() -> None:
    text = BUNDLE.format(profile="solana").replace("call bpf_map_lookup_elem",
                                                   "call bpf_map_lookup_elm")
    with pytest.raises(InputError, match=r"unknown helper 'bpf_map_lookup_elm' \(did you mean "
                                         r"bpf_map_lookup_elem"):
        load_programs(load(text))
