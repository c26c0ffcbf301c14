"""Memory subclasses that check or record accesses are never bypassed by translated code.

Translated code caches runs of a region's bytes (:meth:`Memory.window`) per access site. A
subclass that checks or records accesses in its own ``load``, ``store`` or ``write_bytes``
(the runtime's context memory, the vector writer's recording memory) gives no windows unless
it defines ``window`` itself (:attr:`Memory.windows`), so a hot loop on the fast engine, on
either tier, meets those methods on every access as the interpreter does.
"""

from __future__ import annotations

from arspec.cli.vectors.instruction import record_writes
from arspec.reference.isa.assembler import assemble
from arspec.reference.runtime.contexts import ContextMemory
from arspec.reference.vm import native
from arspec.reference.vm.memory import GuardedMemory, Memory, _guarded_class
from arspec.reference.vm.profiles import INPUT_BASE, LINUX, STACK_REGION
from arspec.reference.vm.vm import Vm, standard_memory
from arspec.spec.errors import MemoryFault

#: A hot loop storing to (and loading from) the input at offsets 0, 8, ..., 8 * 59.
STORE_WALK = """
r6 = r1
r7 = 0
r8 = 60
loop:
r2 = r6
r2 += r7
*(u64 *)(r2 + 0) = r8
r3 = *(u64 *)(r2 + 0)
r0 += r3
r7 += 8
r8 -= 1
if r8 != 0 goto loop
exit
"""


class OddRefused(Memory):
    """Refuses loads of odd words of the input from offset 320 on (the loop is hot by then):
    a check only ``load`` knows."""

    __slots__ = ()

    def load(self, pc: int, address: int, size: int) -> int:
        if address >= INPUT_BASE + 320 and (address - INPUT_BASE) // 8 % 2:
            raise MemoryFault(pc, address, size, "odd word refused")
        return super().load(pc, address, size)


def run(memory_class: type[Memory] | None, engine: str, tier: bool,
        writes: list[tuple[int, int]] | None = None) -> tuple[int, str, bytes]:
    program = assemble(STORE_WALK)
    memory = standard_memory(program, LINUX, bytes(512))
    if memory_class is not None:
        memory.__class__ = memory_class
    if writes is not None:
        record_writes(memory, writes)
    with native.tier(tier):
        result = Vm(program, memory=memory, engine=engine).run(0, (INPUT_BASE,))
    return result.r0, str(result.fault), bytes(memory.region(INPUT_BASE))


def test_invalid_recording_memory_records_every_store_of_a_hot_loop(tier: bool) -> None:
    expected: list[tuple[int, int]] = []
    reference = run(None, "interpreter", False, expected)
    found: list[tuple[int, int]] = []
    assert run(None, "fast", tier, found) == reference
    assert found == expected
    assert len(found) == 60


def test_invalid_checking_load_faults_on_the_fast_engine_as_on_the_interpreter(
        tier: bool) -> None:
    reference = run(OddRefused, "interpreter", False)
    assert "odd word refused" in reference[1]
    assert run(OddRefused, "fast", tier) == reference


def test_a_subclass_with_its_own_load_store_or_write_bytes_gives_no_windows() -> None:
    memory = standard_memory(assemble("r0 = 0\nexit"), LINUX, bytes(16))
    memory.__class__ = OddRefused
    assert not OddRefused.windows
    assert len(memory.window(INPUT_BASE)[1]) == 0
    assert len(memory.window(STACK_REGION << 32)[1]) == 0
    writes: list[tuple[int, int]] = []
    record_writes(memory, writes)
    assert not type(memory).windows


def test_valid_subclasses_that_define_window_or_only_add_guards_keep_windows() -> None:
    assert Memory.windows and GuardedMemory.windows and ContextMemory.windows
    assert _guarded_class(ContextMemory).windows
    assert not _guarded_class(OddRefused).windows
    memory = standard_memory(assemble("r0 = 0\nexit"), LINUX, bytes(16))
    assert len(memory.window(INPUT_BASE)[1]) == 16
