"""
MurmurHash3
===========

``murmur3_32``, the 32-bit x86 variant of Austin Appleby's MurmurHash3. sBPF identifies syscalls
by ``murmur3_32(name, seed=0)`` in the call immediate (anza-xyz/sbpf ``src/ebpf.rs``,
``hash_symbol_name``).
"""

from __future__ import annotations

from typing import Final

_MASK32: Final = 0xFFFFFFFF
_C1: Final = 0xCC9E2D51
_C2: Final = 0x1B873593


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK32


def _scramble(k: int) -> int:
    k = (k * _C1) & _MASK32
    k = _rotl32(k, 15)
    return (k * _C2) & _MASK32


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """Return the 32-bit MurmurHash3 (x86 variant) of ``data`` as an unsigned integer."""
    h = seed & _MASK32
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        h ^= _scramble(int.from_bytes(data[i:i + 4], "little"))
        h = _rotl32(h, 13)
        h = (h * 5 + 0xE6546B64) & _MASK32
    tail = data[whole:]
    if tail:
        h ^= _scramble(int.from_bytes(tail, "little"))
    h ^= len(data) & _MASK32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    h ^= h >> 16
    return h
