"""
Kernel maps for bpf(2) loads
============================

Creates the maps a bundle program names (``BPF_MAP_CREATE``, command 0) so that the program
can be loaded into the running kernel with ``BPF_PROG_LOAD``: each ``lddw map_idx(i)`` /
``map_idx_value(i, off)`` is rewritten to the map's file descriptor
(``BPF_PSEUDO_MAP_FD`` / ``BPF_PSEUDO_MAP_VALUE``, include/uapi/linux/bpf.h).

A map whose value holds a ``struct bpf_timer`` needs BTF describing the value (the kernel
finds the timer by its BTF type name): :func:`timer_value_btf` builds a minimal BTF blob
(``struct btf_header``, ``BTF_KIND_INT`` and ``BTF_KIND_STRUCT`` records, string table,
include/uapi/linux/btf.h), loaded with ``BPF_BTF_LOAD`` (command 18).

``BPF_MAP_CREATE`` attribute layout (the anonymous struct "used by BPF_MAP_CREATE")::

    offset  0  __u32 map_type       offset 20  __u32 inner_map_fd
    offset  4  __u32 key_size       offset 24  __u32 numa_node
    offset  8  __u32 value_size     offset 28  char map_name[16]
    offset 12  __u32 max_entries    offset 44  __u32 map_ifindex
    offset 16  __u32 map_flags      offset 48  __u32 btf_fd
                                    offset 52  __u32 btf_key_type_id
                                    offset 56  __u32 btf_value_type_id
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Final

from arspec.reference.differential.kernel_bpf import ATTR_SIZE, _bpf
from arspec.reference.isa.instructions import LoadImm64, Program, Pseudo

BPF_MAP_CREATE: Final = 0
BPF_BTF_LOAD: Final = 18

#: ``enum bpf_map_type`` values of the map types a bundle may declare.
KERNEL_MAP_TYPES: Final = {
    "hash": 1, "array": 2, "prog_array": 3, "percpu_hash": 5, "percpu_array": 6,
    "lru_hash": 9, "queue": 22, "stack": 23, "ringbuf": 27,
}
#: ``BPF_F_NO_PREALLOC``: not used; ``map_flags`` stays 0.
_BTF_MAGIC: Final = 0xEB9F
_KIND_INT: Final = 1
_KIND_STRUCT: Final = 4


@dataclass(frozen=True)
class KernelMapSpec:
    """What ``BPF_MAP_CREATE`` needs of one map (``timer``: offset of a bpf_timer)."""

    type: str
    key_size: int
    value_size: int
    max_entries: int
    timer: int | None = None


def timer_value_btf(value_size: int, timer: int) -> tuple[bytes, int, int]:
    """Return a BTF blob, the key type id and the value type id for a timer value.

    The value is a struct of ``u64`` members with a ``struct bpf_timer`` (16 bytes) at
    byte ``timer``; ``value_size`` and ``timer`` must be multiples of 8.
    """
    strings = bytearray(b"\0")

    def name(text: str) -> int:
        offset = len(strings)
        strings.extend(text.encode() + b"\0")
        return offset

    def int_type(label: str, size: int) -> bytes:
        return struct.pack("<IIII", name(label), _KIND_INT << 24, size, size * 8)

    def struct_type(label: str, size: int, members: Sequence[tuple[str, int, int]]) -> bytes:
        head = struct.pack("<III", name(label), _KIND_STRUCT << 24 | len(members), size)
        return head + b"".join(struct.pack("<III", name(m), t, 8 * o) for m, t, o in members)

    types = int_type("unsigned int", 4) + int_type("unsigned long long", 8)  # ids 1, 2
    types += struct_type("bpf_timer", 16, [("a", 2, 0), ("b", 2, 8)])  # id 3
    members = [(f"f{o}", 2, o) for o in range(0, value_size, 8) if not timer <= o < timer + 16]
    members.append(("timer", 3, timer))
    types += struct_type("value", value_size, sorted(members, key=lambda m: m[2]))  # id 4
    header = struct.pack("<HBBIIIII", _BTF_MAGIC, 1, 0, 24, 0, len(types), len(types),
                         len(strings))
    return header + types + bytes(strings), 1, 4


def _load_btf(blob: bytes) -> int:
    data = ctypes.create_string_buffer(blob, len(blob))
    log = ctypes.create_string_buffer(1 << 16)
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    struct.pack_into("<QQIII", attr, 0, ctypes.addressof(data), ctypes.addressof(log),
                     len(blob), len(log), 1)
    try:
        return _bpf(BPF_BTF_LOAD, attr)
    except OSError as exc:
        text = log.value.decode("utf-8", "replace").strip()
        raise OSError(exc.errno, f"BPF_BTF_LOAD failed: {exc.strerror}: {text}") from None


def create_map(spec: KernelMapSpec) -> int:
    """Create one map in the kernel and return its file descriptor (close it when done).

    Raises
    ------
    OSError
        If the kernel refuses the map (or BTF), or ``bpf(2)`` is unavailable.
    """
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    struct.pack_into("<IIIII", attr, 0, KERNEL_MAP_TYPES[spec.type], spec.key_size,
                     spec.value_size, spec.max_entries, 0)
    btf_fd = -1
    if spec.timer is not None:
        blob, key_id, value_id = timer_value_btf(spec.value_size, spec.timer)
        btf_fd = _load_btf(blob)
        struct.pack_into("<III", attr, 48, btf_fd, key_id, value_id)
    try:
        return _bpf(BPF_MAP_CREATE, attr)
    finally:
        if btf_fd >= 0:
            os.close(btf_fd)


class KernelMaps:
    """Maps created for one load; ``with`` closes their descriptors."""

    def __init__(self, specs: Sequence[KernelMapSpec]) -> None:
        self.fds: list[int] = []
        try:
            for spec in specs:
                self.fds.append(create_map(spec))
        except BaseException:
            self.close()
            raise

    def relocate(self, program: Program) -> Program:
        """Return ``program`` with every ``map_idx`` load naming the map's descriptor.

        Raises
        ------
        IndexError
            If a load names a map index that was not created.
        """
        slots = list(program.slots)
        for pc, insn in program.instructions():
            if isinstance(insn, LoadImm64) and insn.pseudo is Pseudo.MAP_IDX:
                slots[pc] = replace(insn, pseudo=Pseudo.MAP_FD, imm=self.fds[insn.imm])
            elif isinstance(insn, LoadImm64) and insn.pseudo is Pseudo.MAP_IDX_VALUE:
                slots[pc] = replace(insn, pseudo=Pseudo.MAP_VALUE, imm=self.fds[insn.imm])
        return replace(program, slots=tuple(slots))

    def close(self) -> None:
        """Close every descriptor (idempotent)."""
        while self.fds:
            os.close(self.fds.pop())

    def __enter__(self) -> KernelMaps:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
