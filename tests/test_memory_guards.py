"""Guarded ranges of :class:`~arspec.reference.vm.memory.Memory`: a ``bpf_spin_lock``'s bytes
(loads and stores fault) and a live ring dynptr's (stores fault); helpers' own byte copies
are not checked, and a memory without guards is a plain :class:`Memory`."""

from __future__ import annotations

import pytest

from arspec.reference.runtime.contexts import ContextMemory
from arspec.reference.vm.memory import GuardedMemory, Memory
from arspec.spec.errors import MemoryFault

BASE = 7 << 32


def guarded(*, loads: bool) -> Memory:
    memory = Memory()
    memory.add_region(7, bytearray(16), writable=True)
    memory.add_guard(BASE + 8, BASE + 12, loads=loads, reason="guarded here")
    return memory


@pytest.mark.parametrize(("address", "size"), [(8, 4), (11, 1), (4, 8), (8, 8), (10, 2),
                                               (6, 4)])
def test_loads_and_stores_touching_a_lock_guard_fault(address: int, size: int) -> None:
    memory = guarded(loads=True)
    with pytest.raises(MemoryFault, match="guarded here"):
        memory.load(3, BASE + address, size)
    with pytest.raises(MemoryFault, match="guarded here") as raised:
        memory.store(3, BASE + address, size, 1)
    assert raised.value.pc == 3
    assert memory.region(BASE) == bytearray(16)


@pytest.mark.parametrize(("address", "size"), [(8, 4), (11, 1), (4, 8)])
def test_store_only_guard_faults_stores_not_loads(address: int, size: int) -> None:
    memory = guarded(loads=False)
    assert memory.load(0, BASE + address, size) == 0
    with pytest.raises(MemoryFault, match="guarded here"):
        memory.store(0, BASE + address, size, 1)


def test_guards_leave_neighbours_and_helpers_alone_and_hide_the_window() -> None:
    memory = guarded(loads=True)
    memory.store(0, BASE + 4, 4, 0x11223344)
    memory.store(0, BASE + 12, 4, 5)
    assert memory.load(0, BASE + 12, 4) == 5
    memory.write_bytes(0, BASE + 8, b"\x01\x00\x00\x00")  # a helper (the lock word)
    assert memory.read_bytes(0, BASE + 8, 4) == b"\x01\x00\x00\x00"
    assert memory.window(BASE + 12) == (BASE, bytearray())


def test_store_guards_are_replaced_and_the_plain_class_returns() -> None:
    memory = Memory()
    memory.add_region(7, bytearray(32), writable=True)
    assert type(memory) is Memory
    memory.set_store_guards([(BASE, BASE + 16, "dynptr")])
    assert type(memory) is GuardedMemory
    memory.set_store_guards([(BASE + 16, BASE + 32, "dynptr")])
    memory.store(0, BASE, 8, 1)
    with pytest.raises(MemoryFault):
        memory.store(0, BASE + 16, 1, 1)
    memory.set_store_guards([])
    assert type(memory) is Memory and memory.guards == ()
    memory.store(0, BASE + 16, 1, 1)


def test_adopted_region_keeps_its_guards_and_subclasses_keep_their_rules() -> None:
    other = Memory()
    other.add_region(9, bytearray(8), writable=True)
    mine = guarded(loads=True)
    mine.adopt(other, 9)
    assert type(mine) is GuardedMemory
    fresh = Memory()
    fresh.adopt(mine, 7)
    with pytest.raises(MemoryFault, match="guarded here"):
        fresh.load(0, BASE + 8, 1)
    fresh.adopt(mine, 9)
    assert fresh.load(0, 9 << 32, 8) == 0
    assert issubclass(type(fresh), Memory)


def test_a_context_memory_with_guards_is_still_a_context_memory() -> None:
    memory = ContextMemory.__new__(ContextMemory)
    Memory.__init__(memory)
    memory.add_region(7, bytearray(16), writable=True)
    memory.add_guard(BASE + 8, BASE + 12, loads=True, reason="guarded here")
    assert isinstance(memory, ContextMemory)
    with pytest.raises(MemoryFault, match="guarded here"):
        memory.load(0, BASE + 8, 4)
    memory.set_store_guards([])
    assert isinstance(memory, ContextMemory)
