"""
Memory
======

The region-based virtual memory every program sees: ``address = region << 32 | offset``
(anza-xyz/sbpf ``src/memory_region.rs``). Regions are byte arrays with a writable flag.

Every violation raises :class:`~arspec.spec.errors.MemoryFault` naming the pc, the address
and the access size: an address in region 0 (the NULL page), an unmapped region, an access
that starts past the end of its region or runs partly past it, and a write to a read-only
region. An access never spans two regions.
"""

from __future__ import annotations

import struct
from typing import Final

from arspec.spec.errors import MemoryFault

from .profiles import FIRST_DYNAMIC_REGION, REGION_SHIFT

_OFFSET_MASK: Final = (1 << REGION_SHIFT) - 1
_MASK64: Final = (1 << 64) - 1
#: Region-0 addresses below this are reported as NULL dereferences.
NULL_PAGE_SIZE: Final = 4096
#: Little-endian unsigned formats by access size.
FORMATS: Final = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"),
                   8: struct.Struct("<Q")}
_VALUE_MASK: Final = {size: (1 << (8 * size)) - 1 for size in FORMATS}


class Memory:
    """A set of mapped regions, indexed by ``address >> 32``."""

    __slots__ = ("_data", "_next_index", "_writable")

    def __init__(self) -> None:
        self._data: dict[int, bytearray] = {}
        self._writable: set[int] = set()
        self._next_index = FIRST_DYNAMIC_REGION

    def add_region(self, index: int, data: bytearray, *, writable: bool) -> int:
        """Map ``data`` (shared, not copied) as region ``index``; return its base address."""
        if not 0 < index <= _OFFSET_MASK:
            raise ValueError(f"region index {index} must be in 1..{_OFFSET_MASK}")
        if index in self._data:
            raise ValueError(f"region {index} is already mapped")
        if len(data) > _OFFSET_MASK + 1:
            raise ValueError(f"region of {len(data)} bytes exceeds 4 GiB")
        self._data[index] = data
        if writable:
            self._writable.add(index)
        return index << REGION_SHIFT

    def allocate_region(self, data: bytearray, *, writable: bool) -> int:
        """Map ``data`` at the next unused index >= 5 and return its base address.

        Indices are handed out in increasing order and never reused, so two runs that
        allocate in the same order see the same addresses.
        """
        while self._next_index in self._data:
            self._next_index += 1
        index = self._next_index
        self._next_index += 1
        return self.add_region(index, data, writable=writable)

    def remove_region(self, base: int) -> None:
        """Unmap the region whose base address is ``base``."""
        index = base >> REGION_SHIFT
        if base & _OFFSET_MASK or index not in self._data:
            raise ValueError(f"{base:#x} is not the base of a mapped region")
        del self._data[index]
        self._writable.discard(index)

    def region(self, base: int) -> bytearray:
        """Return the bytes of the region whose base address is ``base``."""
        return self._data[base >> REGION_SHIFT]

    def writable_view(self, index: int) -> bytearray:
        """Return region ``index`` if it is mapped and writable, else an empty bytearray."""
        data = self._data.get(index)
        return data if data is not None and index in self._writable else bytearray()

    def is_mapped(self, index: int) -> bool:
        """Return whether region ``index`` is mapped."""
        return index in self._data

    def fault(self, pc: int, address: int, size: int, *, write: bool) -> MemoryFault:
        """Return the fault describing why an access of ``size`` bytes at ``address`` fails."""
        index = address >> REGION_SHIFT
        offset = address & _OFFSET_MASK
        data = self._data.get(index)
        if data is None:
            if index == 0 and offset < NULL_PAGE_SIZE:
                return MemoryFault(pc, address, size, "null pointer dereference")
            return MemoryFault(pc, address, size, f"unmapped region {index}")
        if offset >= len(data):
            return MemoryFault(pc, address, size, f"out of bounds of region {index}")
        if offset + size > len(data):
            return MemoryFault(pc, address, size, f"partially out of bounds of region {index}")
        if write and index not in self._writable:
            return MemoryFault(pc, address, size, f"write to read-only region {index}")
        raise AssertionError(f"access at {address:#x} is valid")

    def load(self, pc: int, address: int, size: int) -> int:
        """Return the little-endian unsigned value of ``size`` (1/2/4/8) bytes at ``address``."""
        data = self._data.get(address >> REGION_SHIFT)
        offset = address & _OFFSET_MASK
        if data is None or offset + size > len(data):
            raise self.fault(pc, address, size, write=False)
        value: int = FORMATS[size].unpack_from(data, offset)[0]
        return value

    def store(self, pc: int, address: int, size: int, value: int) -> None:
        """Write the low ``size`` bytes of ``value`` little-endian at ``address``."""
        index = address >> REGION_SHIFT
        data = self._data.get(index)
        offset = address & _OFFSET_MASK
        if data is None or offset + size > len(data) or index not in self._writable:
            raise self.fault(pc, address, size, write=True)
        FORMATS[size].pack_into(data, offset, value & _VALUE_MASK[size])

    def read_bytes(self, pc: int, address: int, n: int) -> bytes:
        """Return ``n`` bytes at ``address``; ``n == 0`` is always valid and returns ``b""``."""
        if n == 0:
            return b""
        if n < 0:
            raise MemoryFault(pc, address, 0, f"negative length {n}")
        data = self._data.get(address >> REGION_SHIFT)
        offset = address & _OFFSET_MASK
        if data is None or offset + n > len(data):
            raise self.fault(pc, address, n, write=False)
        return bytes(data[offset:offset + n])

    def write_bytes(self, pc: int, address: int, data: bytes) -> None:
        """Copy ``data`` to ``address``; an empty write is always valid."""
        n = len(data)
        if n == 0:
            return
        index = address >> REGION_SHIFT
        region = self._data.get(index)
        offset = address & _OFFSET_MASK
        if region is None or offset + n > len(region) or index not in self._writable:
            raise self.fault(pc, address, n, write=True)
        region[offset:offset + n] = data

    @staticmethod
    def add_offset(address: int, offset: int) -> int:
        """Return ``address + offset`` wrapped to 64 bits (how effective addresses are formed)."""
        return (address + offset) & _MASK64
