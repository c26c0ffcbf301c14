"""murmur3_32 against published vectors and the sBPF syscall ids (anza-xyz/sbpf ``src/ebpf.rs``)."""

from __future__ import annotations

import pytest

from arspec.reference.isa.murmur3 import murmur3_32

SYSCALLS = {
    "abort": 0xB6FC1A11, "sol_panic_": 0x686093BB, "sol_log_": 0x207559BD,
    "sol_log_64_": 0x5C2A3178, "sol_log_compute_units_": 0x52BA5096,
    "sol_log_pubkey": 0x7EF088CA, "sol_log_data": 0x7317B434, "sol_sha256": 0x11F49D86,
    "sol_keccak256": 0xD7793ABB, "sol_create_program_address": 0x9377323C,
    "sol_try_find_program_address": 0x48504A38, "sol_get_stack_height": 0x85532D94,
    "sol_get_sysvar": 0x13C1B505, "sol_memcpy_": 0x717CC4A3, "sol_memmove_": 0x434371F8,
    "sol_memset_": 0x3770FB22, "sol_memcmp_": 0x5FDCDE31, "sol_invoke_signed_c": 0xA22B9C85,
    "sol_invoke_signed_rust": 0xD7449092, "sol_alloc_free_": 0x83F00E8F,
    "sol_set_return_data": 0xA226D3EB, "sol_get_return_data": 0x5D2245E4,
    "sol_get_clock_sysvar": 0xD56B5FE9, "sol_get_rent_sysvar": 0xBF7188F6,
    "sol_remaining_compute_units": 0xEDEF5AEE, "sol_get_epoch_stake": 0x5BE92F4A,
}


@pytest.mark.parametrize(("name", "expected"), sorted(SYSCALLS.items()))
def test_syscall_ids(name: str, expected: int) -> None:
    assert murmur3_32(name.encode()) == expected


def test_sol_log_decimal_id_from_sbpf_docs() -> None:
    assert murmur3_32(b"sol_log_") == 544561597


# Widely published MurmurHash3_x86_32 vectors (covering every tail length 0..3).
@pytest.mark.parametrize(("data", "seed", "expected"), [
    (b"", 0, 0), (b"", 1, 0x514E28B7), (b"", 0xFFFFFFFF, 0x81F16F39),
    (b"\0\0\0\0", 0, 0x2362F9DE), (b"a", 0x9747B28C, 0x7FA09EA6),
    (b"aa", 0x9747B28C, 0x5D211726), (b"aaa", 0x9747B28C, 0x283E0130),
    (b"aaaa", 0x9747B28C, 0x5A97808A), (b"Hello, world!", 0x9747B28C, 0x24884CBA),
    (b"The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
])
def test_published_vectors(data: bytes, seed: int, expected: int) -> None:
    assert murmur3_32(data, seed) == expected


@pytest.mark.parametrize(("a", "b"), [(b"abort", b"abort\0"), (b"sol_log_", b"sol_log"),
                                      (b"a", b"b"), (b"", b"\0")])
def test_invalid_near_miss_names_hash_differently(a: bytes, b: bytes) -> None:
    assert murmur3_32(a) != murmur3_32(b)


def test_invalid_seed_changes_the_hash() -> None:
    assert murmur3_32(b"abort", 1) != murmur3_32(b"abort")


def test_result_is_unsigned_32_bit() -> None:
    for i in range(200):
        assert 0 <= murmur3_32(i.to_bytes(3, "little"), i * 7919) < (1 << 32)
