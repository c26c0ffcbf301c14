"""
Solana syscalls
===============

The sBPF syscalls of Agave's program runtime v1 that the ``solana`` profile offers, called
by ``murmur3_32(name)`` in the ``call`` immediate (anza-xyz/agave ``syscalls/src/lib.rs``,
``logging.rs``, ``mem_ops.rs``, ``sysvar.rs``), with Agave's default costs
(``program-runtime/src/execution_budget.rs``) and log lines:

============================  ==============================================================
syscall                       cost; effect
============================  ==============================================================
``sol_log_``                  max(100, len); ``Program log: <utf-8 text at r1, r2 bytes>``
``sol_log_64_``               100; ``Program log: 0x.., 0x.., 0x.., 0x.., 0x..`` (r1-r5)
``sol_log_compute_units_``    100; ``Program consumption: <remaining> units remaining``
``sol_log_pubkey``            100; ``Program log: <base58 of the 32 bytes at r1>``
``sol_log_data``              100 + 100 per field + total bytes; ``Program data: <base64 ...>``
``sol_panic_``                len; fails ``SBF program Panicked in <file> at <line>:<column>``
``abort``                     0; fails ``SBF program panicked``
``sol_memcpy_``               max(10, n / 250); copy; overlapping ranges fail
``sol_memmove_``              max(10, n / 250); copy
``sol_memset_``               max(10, n / 250); fill with the low byte of r2
``sol_memcmp_``               max(10, n / 250); i32 at r4 = first difference a[i] - b[i] or 0
``sol_sha256``                85, then max(10, len / 2) per slice; 32-byte digest at r3
``sol_keccak256``             as ``sol_sha256``, Keccak-256 (the pre-standard padding)
``sol_get_clock_sysvar``      100 + 40; writes the 40-byte ``Clock`` at r1
============================  ==============================================================

A syscall that fails raises :class:`~arspec.spec.errors.HelperFault` with Agave's message.
Pointers to arrays of ``(ptr, len)`` slices must be 8-byte aligned, the ``memcmp`` result
4-byte aligned and the ``Clock`` 8-byte aligned (Agave checks alignment for loader v2/v3
programs). Zero-length slices are never translated.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Final

from Crypto.Hash import keccak

from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.vm.helpers import HelperContext, HelperRegistry, HelperSpec
from arspec.spec.errors import HelperFault
from arspec.spec.helpers import HelperDef
from arspec.spec.syscalls import AGAVE_SYSCALL_BASE, get_solana_names

SYSCALL_BASE_COST: Final = 100
MEM_OP_BASE_COST: Final = 10
CPI_BYTES_PER_UNIT: Final = 250
SHA256_BASE_COST: Final = 85
SHA256_MAX_SLICES: Final = 20_000
CLOCK_SIZE: Final = 40
#: Helper ids the syscalls get in a registry (programs reach them by name hash, not by id).
SYSCALL_ID_BASE: Final = AGAVE_SYSCALL_BASE
_B58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Clock:
    """The ``Clock`` sysvar: slot, epoch start timestamp, epoch, leader-schedule epoch, time."""

    slot: int = 0
    epoch_start_timestamp: int = 0
    epoch: int = 0
    leader_schedule_epoch: int = 0
    unix_timestamp: int = 0

    def pack(self) -> bytes:
        """Return the sysvar's 40 little-endian bytes."""
        return struct.pack("<QqQQq", self.slot, self.epoch_start_timestamp, self.epoch,
                           self.leader_schedule_epoch, self.unix_timestamp)


def encode_base58(data: bytes) -> str:
    """Return the Bitcoin-alphabet base58 text of ``data`` (how Solana prints pubkeys)."""
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, digit = divmod(n, 58)
        out = _B58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _log(ctx: HelperContext, line: str) -> None:
    ctx.log(line)


def _check_aligned(ctx: HelperContext, address: int, align: int) -> None:
    if address % align:
        raise HelperFault(ctx.pc, "Unaligned pointer")


def _text(ctx: HelperContext, address: int, length: int) -> str:
    raw = ctx.memory.read_bytes(ctx.pc, address, length)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.reason == "unexpected end of data":  # Rust's Utf8Error::error_len() is None
            reason = f"incomplete utf-8 byte sequence from index {err.start}"
        else:
            reason = f"invalid utf-8 sequence of {err.end - err.start} bytes from index {err.start}"
        raise HelperFault(ctx.pc, f"{reason}: {list(raw)}") from None


def _slices(ctx: HelperContext, address: int, count: int) -> list[tuple[int, int]]:
    if count == 0:
        return []
    _check_aligned(ctx, address, 8)
    raw = ctx.memory.read_bytes(ctx.pc, address, 16 * count)
    return [struct.unpack_from("<QQ", raw, 16 * i) for i in range(count)]


def sol_log(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    ctx.charge(max(SYSCALL_BASE_COST, r2))
    _log(ctx, "Program log: " + _text(ctx, r1, r2))
    return 0


def sol_log_64(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    ctx.charge(SYSCALL_BASE_COST)
    _log(ctx, "Program log: " + ", ".join(f"{v:#x}" for v in (r1, r2, r3, r4, r5)))
    return 0


def sol_log_compute_units(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                          r5: int) -> int:
    ctx.charge(SYSCALL_BASE_COST)
    remaining = ctx.vm.compute_limit - ctx.vm.units
    _log(ctx, f"Program consumption: {remaining} units remaining")
    return 0


def sol_log_pubkey(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    ctx.charge(SYSCALL_BASE_COST)
    _log(ctx, "Program log: " + encode_base58(ctx.memory.read_bytes(ctx.pc, r1, 32)))
    return 0


def sol_log_data(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    ctx.charge(SYSCALL_BASE_COST)
    fields = _slices(ctx, r1, r2)
    ctx.charge(SYSCALL_BASE_COST * len(fields))
    ctx.charge(sum(length for _, length in fields))
    data = [ctx.memory.read_bytes(ctx.pc, ptr, length) for ptr, length in fields]
    _log(ctx, "Program data: " + " ".join(base64.b64encode(d).decode() for d in data))
    return 0


def sol_panic(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    ctx.charge(r2)
    text = _text(ctx, r1, r2)
    raise HelperFault(ctx.pc, f"SBF program Panicked in {text} at {r3}:{r4}")


def abort(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    raise HelperFault(ctx.pc, "SBF program panicked")


def _mem_cost(ctx: HelperContext, n: int) -> None:
    ctx.charge(max(MEM_OP_BASE_COST, n // CPI_BYTES_PER_UNIT))


def _copy(ctx: HelperContext, dst: int, src: int, n: int) -> None:
    if n:
        ctx.memory.write_bytes(ctx.pc, dst, ctx.memory.read_bytes(ctx.pc, dst, n))
        ctx.memory.write_bytes(ctx.pc, dst, ctx.memory.read_bytes(ctx.pc, src, n))


def sol_memcpy(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    _mem_cost(ctx, r3)
    dst, src, n = r1, r2, r3
    if not (src - dst >= n if src > dst else dst - src >= n):
        raise HelperFault(ctx.pc, "Overlapping copy")
    _copy(ctx, dst, src, n)
    return 0


def sol_memmove(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    _mem_cost(ctx, r3)
    _copy(ctx, r1, r2, r3)
    return 0


def sol_memset(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    _mem_cost(ctx, r3)
    if r3:
        ctx.memory.write_bytes(ctx.pc, r1, bytes([r2 & 0xFF]) * r3)
    return 0


def sol_memcmp(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    _mem_cost(ctx, r3)
    a = ctx.memory.read_bytes(ctx.pc, r1, r3)
    b = ctx.memory.read_bytes(ctx.pc, r2, r3)
    _check_aligned(ctx, r4, 4)
    result = next((x - y for x, y in zip(a, b, strict=True) if x != y), 0)
    ctx.memory.store(ctx.pc, r4, 4, result & 0xFFFFFFFF)
    return 0


def _hash_syscall(ctx: HelperContext, vals: int, count: int, out: int, keccak256: bool) -> int:
    if count > SHA256_MAX_SLICES:
        raise HelperFault(ctx.pc, "Too many slices")
    ctx.charge(SHA256_BASE_COST)
    ctx.memory.write_bytes(ctx.pc, out, ctx.memory.read_bytes(ctx.pc, out, 32))
    hasher = keccak.new(digest_bits=256) if keccak256 else hashlib.sha256()
    for ptr, length in _slices(ctx, vals, count):
        data = ctx.memory.read_bytes(ctx.pc, ptr, length)
        ctx.charge(max(MEM_OP_BASE_COST, length // 2))
        hasher.update(data)
    ctx.memory.write_bytes(ctx.pc, out, hasher.digest())
    return 0


def sol_sha256(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _hash_syscall(ctx, r1, r2, r3, keccak256=False)


def sol_keccak256(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _hash_syscall(ctx, r1, r2, r3, keccak256=True)


def make_clock_syscall(clock: Clock | Callable[[], Clock]) -> HelperSpec:
    """Return ``sol_get_clock_sysvar`` answering with ``clock`` (or what it returns)."""

    def get_clock(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        ctx.charge(SYSCALL_BASE_COST + CLOCK_SIZE)
        _check_aligned(ctx, r1, 8)
        now = clock() if callable(clock) else clock
        ctx.memory.write_bytes(ctx.pc, r1, now.pack())
        return 0

    return HelperSpec(SYSCALL_ID_BASE + len(SYSCALLS), "sol_get_clock_sysvar", get_clock,
                      metered=True)


#: The syscalls by name, each with a private id (the VM finds them by name hash).
SYSCALLS: Final = (
    ("sol_log_", sol_log), ("sol_log_64_", sol_log_64),
    ("sol_log_compute_units_", sol_log_compute_units), ("sol_log_pubkey", sol_log_pubkey),
    ("sol_log_data", sol_log_data), ("sol_panic_", sol_panic), ("abort", abort),
    ("sol_memcpy_", sol_memcpy), ("sol_memmove_", sol_memmove), ("sol_memset_", sol_memset),
    ("sol_memcmp_", sol_memcmp), ("sol_sha256", sol_sha256),
    ("sol_keccak256", sol_keccak256),
)


#: The syscall that reads the machine (the budget left). Every other one uses its arguments,
#: memory bytes and the log only: the one that charges nothing is light, the others are
#: metered (:attr:`HelperSpec.light <arspec.reference.vm.helpers.HelperSpec.light>`).
READS_MACHINE: Final = frozenset({"sol_log_compute_units_"})
#: The syscall that charges nothing.
CHARGES_NOTHING: Final = frozenset({"abort"})


def syscall_specs(clock: Clock | Callable[[], Clock]) -> tuple[HelperSpec, ...]:
    """Return the syscalls above as helper specs (ids from :data:`SYSCALL_ID_BASE`)."""
    specs = [HelperSpec(SYSCALL_ID_BASE + i, name, fn, light=name in CHARGES_NOTHING,
                        metered=name not in READS_MACHINE | CHARGES_NOTHING)
             for i, (name, fn) in enumerate(SYSCALLS)]
    return (*specs, make_clock_syscall(clock))


#: Every syscall name (the ones of :data:`SYSCALLS` and ``sol_get_clock_sysvar``).
SYSCALL_NAMES: Final = (*(name for name, _ in SYSCALLS), "sol_get_clock_sysvar")
#: Every syscall by name: the ``call`` immediate that names it (its murmur3-32 hash).
SYSCALL_IDS: Final = {name: murmur3_32(name.encode()) for name in SYSCALL_NAMES}


@cache
def get_solana_call_table() -> Mapping[int, tuple[str, HelperDef]]:
    """Return every name a ``solana`` bundle program may call, by ``murmur3_32(name)``.

    Each entry is the name and the contract row it reaches
    (:func:`arspec.spec.syscalls.get_solana_names`): helper-table names, the sol_* aliases
    and the Agave syscalls.
    """
    table: dict[int, tuple[str, HelperDef]] = {}
    for name, row in get_solana_names().items():
        digest = murmur3_32(name.encode())
        # Verify no two callable names share a hash (the call would be ambiguous)
        assert digest not in table, f"{name} hashes like {table[digest][0]}"
        table[digest] = (name, row)
    return MappingProxyType(table)


def solana_syscalls(clock: Clock | None = None) -> HelperRegistry:
    """Return a registry of the syscalls above (``clock`` for ``sol_get_clock_sysvar``)."""
    return HelperRegistry(syscall_specs(clock or Clock()))
