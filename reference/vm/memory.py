"""
Memory
======

The region-based virtual memory every program sees: ``address = region << 32 | offset``
(anza-xyz/sbpf ``src/memory_region.rs``). Regions are byte arrays with a writable flag.

Every violation raises :class:`~arspec.spec.errors.MemoryFault` naming the pc, the address
and the access size: an address in region 0 (the NULL page), an unmapped region, an access
that starts past the end of its region or runs partly past it, and a write to a read-only
region. An access never spans two regions.

A *gapped* region (the SBPFv0 stack, :meth:`Memory.add_gapped_region`) interleaves mapped
chunks with unmapped gaps of the same size, as Agave's ``MemoryRegion::new_writable_gapped``
does (anza-xyz/sbpf ``src/memory_region.rs``): virtual offset ``v`` is in a gap when bit
``log2(gap)`` of ``v`` is set, and otherwise maps to host offset ``(v & ~(2 * gap - 1)) / 2 +
(v % gap)``; an access that starts in a chunk and runs past it continues in the next chunk's
host bytes, as in Agave. A *framed* region (the Linux stack,
:meth:`Memory.add_framed_region`) is split in call frames: an access must lie inside one
frame below :attr:`Memory.stack_top`, the current frame's ``r10``, so a frame never sees the
bytes of a frame not yet (or no longer) live and a write at or above ``r10`` faults.
With :attr:`Memory.sbpf_faults` set, fault reasons are Agave's
(``Access violation in stack frame N`` for addresses within a frame of the stack,
``Access violation in <region> section`` otherwise).
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar, Final

from arspec.reference.vm.profiles import (
    FIRST_DYNAMIC_REGION,
    HEAP_REGION,
    INPUT_REGION,
    PROGRAM_REGION,
    REGION_SHIFT,
    STACK_REGION,
    Profile,
)
from arspec.spec.errors import MemoryFault

_OFFSET_MASK: Final = (1 << REGION_SHIFT) - 1
_MASK64: Final = (1 << 64) - 1
#: Region-0 addresses below this are reported as NULL dereferences.
NULL_PAGE_SIZE: Final = 4096
#: Little-endian unsigned formats by access size.
FORMATS: Final = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"),
                   8: struct.Struct("<Q")}
_STACK_REGION: Final = STACK_REGION
#: Region names in Agave's access-violation messages (anza-xyz/sbpf ``src/memory_region.rs``).
_SBPF_REGION_NAMES: Final = {PROGRAM_REGION: "program", STACK_REGION: "stack",
                             HEAP_REGION: "heap", INPUT_REGION: "input"}
_VALUE_MASK: Final = {size: (1 << (8 * size)) - 1 for size in FORMATS}


class Memory:
    """A set of mapped regions, indexed by ``address >> 32``."""

    __slots__ = ("_data", "_framed", "_gapped", "_next_index", "_writable", "guards",
                 "sbpf_faults", "stack_top")
    #: Whether :meth:`window` hands out runs of bytes. A subclass that checks or records
    #: accesses in its own ``load``, ``store`` or ``write_bytes`` gives none unless it
    #: defines ``window`` itself, so translated code cannot go around those methods.
    windows: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        # The guarded variants (``_unguarded``) check in load/store what window leaves out.
        if ("window" not in own and "_unguarded" not in own
                and any(name in own for name in ("load", "store", "write_bytes"))):
            cls.windows = False

    def __init__(self) -> None:
        self._data: dict[int, bytearray] = {}
        self._gapped: dict[int, tuple[bytearray, int]] = {}
        self._writable: set[int] = set()
        self._next_index = FIRST_DYNAMIC_REGION
        #: ``(stack_frame_size, max_call_depth)`` when faults are named as Agave names them.
        self.sbpf_faults: tuple[int, int] | None = None
        self._framed: dict[int, tuple[bytearray, int]] = {}
        #: Bytes of a framed region in use: the live frames end here (the current r10).
        self.stack_top = 0
        #: Address ranges ``(low, high, loads, reason)`` that a load (when ``loads``) or a
        #: store instruction may not touch: a map value's ``bpf_spin_lock``, a live
        #: ring-buffer dynptr. Helpers' own reads and writes are not checked.
        self.guards: tuple[tuple[int, int, bool, str], ...] = ()

    def add_guard(self, low: int, high: int, *, loads: bool, reason: str) -> None:
        """Refuse stores (and loads when ``loads``) touching ``[low, high)`` from now on."""
        self._set_guards((*self.guards, (low, high, loads, reason)))

    def set_store_guards(self, ranges: list[tuple[int, int, str]]) -> None:
        """Replace every store-only guard with ``ranges`` (``(low, high, reason)``)."""
        self._set_guards((*(g for g in self.guards if g[2]),
                          *((low, high, False, reason) for low, high, reason in ranges)))

    def _set_guards(self, guards: tuple[tuple[int, int, bool, str], ...]) -> None:
        # Only a memory with guards pays for checking them: it becomes an instance of a
        # subclass whose load and store check first (see _guarded_class).
        self.guards = guards
        plain: type[Memory] = getattr(type(self), "_unguarded", type(self))
        self.__class__ = _guarded_class(plain) if guards else plain

    def check_guards(self, pc: int, address: int, size: int, *, write: bool) -> None:
        """Fault when an access of ``size`` bytes at ``address`` touches a guarded range."""
        for low, high, loads, reason in self.guards:
            if address < high and low < address + size and (write or loads):
                raise MemoryFault(pc, address, size, reason)

    def add_framed_region(self, index: int, data: bytearray, frame: int) -> int:
        """Map ``data`` writable as region ``index`` split in frames of ``frame`` bytes.

        Only the frames below :attr:`stack_top` are live, and an access must lie within one
        frame: the Linux stack, where each call frame is its own 512 bytes.
        """
        if index in self._data or index in self._gapped or index in self._framed:
            raise ValueError(f"region {index} is already mapped")
        self._framed[index] = (data, frame)
        self._writable.add(index)
        self.stack_top = frame
        return index << REGION_SHIFT

    def _framed_offset(self, address: int, size: int) -> tuple[bytearray, int] | None:
        entry = self._framed.get(address >> REGION_SHIFT)
        if entry is None:
            return None
        data, frame = entry
        offset = address & _OFFSET_MASK
        end = offset + size
        if end > self.stack_top or end > len(data) or offset // frame != (end - 1) // frame:
            return None
        return data, offset

    def add_gapped_region(self, index: int, data: bytearray, gap: int) -> int:
        """Map ``data`` writable as region ``index`` in chunks of ``gap`` bytes, each
        followed by an unmapped gap of ``gap`` bytes; return its base address."""
        if gap <= 0 or gap & (gap - 1):
            raise ValueError(f"gap {gap} is not a power of two")
        if index in self._data or index in self._gapped:
            raise ValueError(f"region {index} is already mapped")
        self._gapped[index] = (data, gap)
        self._writable.add(index)
        return index << REGION_SHIFT

    def _gapped_offset(self, address: int, size: int) -> tuple[bytearray, int] | None:
        entry = self._gapped.get(address >> REGION_SHIFT)
        if entry is None:
            return self._framed_offset(address, size)
        data, gap = entry
        offset = address & _OFFSET_MASK
        if offset & gap:
            return None
        host = ((offset & ~(2 * gap - 1)) >> 1) | (offset & (gap - 1))
        if host + size > len(data):
            return None
        return data, host

    def add_region(self, index: int, data: bytearray, *, writable: bool) -> int:
        """Map ``data`` (shared, not copied) as region ``index``; return its base address."""
        if not 0 < index <= _OFFSET_MASK:
            raise ValueError(f"region index {index} must be in 1..{_OFFSET_MASK}")
        if index in self._data or index in self._gapped or index in self._framed:
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
        if base & _OFFSET_MASK or not self.is_mapped(index):
            raise ValueError(f"{base:#x} is not the base of a mapped region")
        self._data.pop(index, None)
        self._gapped.pop(index, None)
        self._framed.pop(index, None)
        self._writable.discard(index)

    def region(self, base: int) -> bytearray:
        """Return the bytes of the region whose base address is ``base`` (host bytes)."""
        index = base >> REGION_SHIFT
        if index in self._data:
            return self._data[index]
        return (self._gapped.get(index) or self._framed[index])[0]

    def window(self, address: int, *, write: bool = False) -> tuple[int, bytearray | memoryview]:
        """Return ``(base, data)``: the run of addresses around a valid access at ``address``
        in which ``data[a - base]`` is the byte at ``a`` and every access that lies inside
        ``data`` is valid, for as long as :attr:`stack_top` does not change.

        That run is the whole region, one chunk of a gapped region, or the part of one frame
        of a framed region below :attr:`stack_top`. ``data`` is empty (no run) when ``write``
        and the region is read-only, and always when the class gives no windows
        (:attr:`windows`). Translated code caches it per access site.
        """
        if not self.windows:
            return address >> REGION_SHIFT << REGION_SHIFT, bytearray()
        if self.guards:
            base, run = self._window(address, write)
            if any(base < high and low < base + len(run) for low, high, _, _ in self.guards):
                return base, bytearray()
            return base, run
        return self._window(address, write)

    def _window(self, address: int, write: bool) -> tuple[int, bytearray | memoryview]:
        index = address >> REGION_SHIFT
        base = index << REGION_SHIFT
        offset = address & _OFFSET_MASK
        data = self._data.get(index)
        if data is not None:
            return base, data if not write or index in self._writable else bytearray()
        gapped = self._gapped.get(index)
        if gapped is not None:
            data, gap = gapped
            chunk = offset // (2 * gap)
            return base + chunk * 2 * gap, memoryview(data)[chunk * gap:(chunk + 1) * gap]
        framed = self._framed.get(index)
        if framed is None:
            return base, bytearray()
        data, frame = framed
        low = offset // frame * frame
        high = min(low + frame, self.stack_top, len(data))
        return base + low, memoryview(data)[low:max(low, high)]

    def adopt(self, other: Memory, index: int) -> None:
        """Map region ``index`` of ``other`` here as it is mapped there (shared bytes, the
        same kind: plain, gapped or framed, and the same writability and fault names)."""
        if index in other._gapped:
            self.add_gapped_region(index, *other._gapped[index])
        elif index in other._framed:
            self.add_framed_region(index, *other._framed[index])
            self.stack_top = other.stack_top
        else:
            self.add_region(index, other._data[index], writable=index in other._writable)
        if index in other._gapped or index in other._framed:
            self.sbpf_faults = other.sbpf_faults
        adopted = tuple(g for g in other.guards if g[0] >> REGION_SHIFT == index)
        if adopted:
            self._set_guards((*self.guards, *adopted))

    def is_mapped(self, index: int) -> bool:
        """Return whether region ``index`` is mapped."""
        return index in self._data or index in self._gapped or index in self._framed

    def fault(self, pc: int, address: int, size: int, *, write: bool) -> MemoryFault:
        """Return the fault describing why an access of ``size`` bytes at ``address`` fails."""
        if self.sbpf_faults is not None:
            return MemoryFault(pc, address, size, self._sbpf_reason(address))
        index = address >> REGION_SHIFT
        offset = address & _OFFSET_MASK
        data = self._data.get(index)
        if data is None and index in self._gapped:
            return MemoryFault(pc, address, size, f"unmapped gap of region {index}")
        if data is None and index in self._framed:
            frame = self._framed[index][1]
            if offset + size > self.stack_top:
                return MemoryFault(pc, address, size, "outside the live stack frames "
                                                      f"(they end at {self.stack_top:#x})")
            return MemoryFault(pc, address, size, f"across two {frame}-byte stack frames")
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

    def _sbpf_reason(self, address: int) -> str:
        assert self.sbpf_faults is not None
        frame_size, depth = self.sbpf_faults
        signed = address - (1 << 64) if address >> 63 else address
        delta = signed - (_STACK_REGION << REGION_SHIFT)
        frame = -(-delta // frame_size) if delta < 0 else delta // frame_size
        if -1 <= frame <= depth:
            return f"Access violation in stack frame {frame}"
        name = _SBPF_REGION_NAMES.get(address >> REGION_SHIFT, "unknown")
        return f"Access violation in {name} section"

    def load(self, pc: int, address: int, size: int) -> int:
        """Return the little-endian unsigned value of ``size`` (1/2/4/8) bytes at ``address``."""
        data = self._data.get(address >> REGION_SHIFT)
        offset = address & _OFFSET_MASK
        if data is None or offset + size > len(data):
            found = self._gapped_offset(address, size) if data is None else None
            if found is None:
                raise self.fault(pc, address, size, write=False)
            data, offset = found
        value: int = FORMATS[size].unpack_from(data, offset)[0]
        return value

    def store(self, pc: int, address: int, size: int, value: int) -> None:
        """Write the low ``size`` bytes of ``value`` little-endian at ``address``."""
        index = address >> REGION_SHIFT
        data = self._data.get(index)
        offset = address & _OFFSET_MASK
        if data is None or offset + size > len(data) or index not in self._writable:
            found = self._gapped_offset(address, size) if data is None else None
            if found is None:
                raise self.fault(pc, address, size, write=True)
            data, offset = found
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
            found = self._gapped_offset(address, n) if data is None else None
            if found is None:
                raise self.fault(pc, address, n, write=False)
            data, offset = found
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
            found = self._gapped_offset(address, n) if region is None else None
            if found is None:
                raise self.fault(pc, address, n, write=True)
            region, offset = found
        region[offset:offset + n] = data

    @staticmethod
    def add_offset(address: int, offset: int) -> int:
        """Return ``address + offset`` wrapped to 64 bits (how effective addresses are formed)."""
        return (address + offset) & _MASK64


class GuardedMemory(Memory):
    """:class:`Memory` whose ``load`` and ``store`` check the guarded ranges first."""

    __slots__ = ()
    _unguarded = Memory

    def load(self, pc: int, address: int, size: int) -> int:
        """Fault on a guarded range, else load as :class:`Memory` does."""
        self.check_guards(pc, address, size, write=False)
        return Memory.load(self, pc, address, size)

    def store(self, pc: int, address: int, size: int, value: int) -> None:
        """Fault on a guarded range, else store as :class:`Memory` does."""
        self.check_guards(pc, address, size, write=True)
        Memory.store(self, pc, address, size, value)


_GUARDED: dict[type[Memory], type[Memory]] = {Memory: GuardedMemory}


def _guarded_class(cls: type[Memory]) -> type[Memory]:
    """Return the subclass of ``cls`` whose ``load`` and ``store`` check the guards first."""
    found = _GUARDED.get(cls)
    if found is not None:
        return found

    def load(self: Memory, pc: int, address: int, size: int) -> int:
        self.check_guards(pc, address, size, write=False)
        value: int = cls.load(self, pc, address, size)
        return value

    def store(self: Memory, pc: int, address: int, size: int, value: int) -> None:
        self.check_guards(pc, address, size, write=True)
        cls.store(self, pc, address, size, value)

    found = type(f"Guarded{cls.__name__}", (cls,), {
        "__slots__": (), "load": load, "store": store, "_unguarded": cls,
        "__module__": cls.__module__})
    _GUARDED[cls] = found
    return found


def add_stack(memory: Memory, profile: Profile) -> None:
    """Map ``profile``'s stack as region 2 and name faults its way: gapped in SBPFv0, split
    in isolated 512-byte frames in Linux (only live frames, one frame per access)."""
    data = bytearray(profile.stack_size)
    if profile.stack_frame_gaps:
        memory.add_gapped_region(STACK_REGION, data, profile.stack_frame_size)
    else:
        memory.add_framed_region(STACK_REGION, data, profile.stack_frame_size)
    if profile.sbpf_version is not None:
        memory.sbpf_faults = (profile.stack_frame_size, profile.max_frames)
