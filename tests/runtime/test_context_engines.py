"""The fast engine (both tiers) against the interpreter on hot loops through a context.

Every access to a Linux program type's context region must meet the type's field rule
(:class:`~arspec.reference.runtime.contexts.ContextMemory`). Translated code caches the bytes
of the region an access site last touched; a cached context region once let a loop read and
write offsets the rule forbids (a ``socket_filter`` loop read on to offset 192 where the
interpreter faults at 72). These tests walk one access site across every context, at every
size, step and start, reading and writing, and compare the whole outcome.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.reference.isa.assembler import assemble
from arspec.reference.runtime.contexts import ContextMemory, ProgramContext
from arspec.reference.vm import native
from arspec.reference.vm.profiles import LINUX, STACK_REGION
from arspec.reference.vm.vm import Vm
from arspec.spec.contexts import ProgramType, get_context_layout
from arspec.spec.conventions import CONTEXT_BASE
from arspec.spec.errors import MemoryFault

SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
CONTEXTS = {t.value: ProgramContext(get_context_layout(t, 64)) for t in ProgramType}
#: Turns of every loop: past the arrivals that make a loop head hot.
TURNS = 60

Outcome = tuple[int, int, int, str, bytes]


def walk(size: int, start: int, step: int, *, write: bool, turns: int = TURNS) -> str:
    """A loop whose one access site reads (or writes) ``size`` bytes of the context at
    ``start``, ``start + step``, ... for ``turns`` turns."""
    access = (f"*({SIZES[size]} *)(r2 + 0) = r8" if write
              else f"r3 = *({SIZES[size]} *)(r2 + 0)\nr0 += r3")
    move = f"r7 += {step}" if step >= 0 else f"r7 -= {-step}"
    return (f"r6 = r1\nr7 = {start}\nr8 = {turns}\nr0 = 0\nloop:\nr2 = r6\nr2 += r7\n"
            f"{access}\n{move}\nr8 -= 1\nif r8 != 0 goto loop\nexit")


def outcome(code: str, context: ProgramContext, engine: str, *, tier: bool) -> Outcome:
    """Run ``code`` once on a fresh context; return r0, counters, fault and context bytes."""
    program = assemble(code)
    packet = bytes(range(64)) if context.layout.has_packet else b""
    memory = context.new_memory(program, LINUX, packet)
    with native.tier(tier):
        result = Vm(program, memory=memory, engine=engine).run(0, (CONTEXT_BASE,))
    return (result.r0, result.instructions, result.compute_units, str(result.fault),
            bytes(memory.region(CONTEXT_BASE)))


def assert_engines_agree(code: str, context: ProgramContext, tier: bool) -> Outcome:
    expected = outcome(code, context, "interpreter", tier=False)
    assert outcome(code, context, "fast", tier=tier) == expected, code
    return expected


# -- the cases that diverged ----------------------------------------------------------------


def test_invalid_socket_filter_walk_faults_where_the_interpreter_does(tier: bool) -> None:
    expected = assert_engines_agree(walk(1, 0, 1, write=False, turns=256),
                                     CONTEXTS["socket_filter"], tier)
    assert "offset 72 not allowed" in expected[3]


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_invalid_byte_walk_past_the_fields_faults_at_the_first_forbidden_offset(
        name: str, tier: bool) -> None:
    expected = assert_engines_agree(walk(1, 0, 1, write=False, turns=256), CONTEXTS[name], tier)
    assert "not allowed" in expected[3]


@pytest.mark.parametrize("name", sorted(CONTEXTS))
@pytest.mark.parametrize("size", sorted(SIZES))
def test_invalid_write_walks_meet_the_write_rule(name: str, size: int, tier: bool) -> None:
    assert_engines_agree(walk(size, 0, size, write=True), CONTEXTS[name], tier)


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_invalid_unaligned_word_walks_fault_on_the_engines_alike(name: str, tier: bool) -> None:
    assert_engines_agree(walk(4, 1, 4, write=False), CONTEXTS[name], tier)


def test_valid_repeated_read_of_one_allowed_field_runs_to_the_end(tier: bool) -> None:
    expected = assert_engines_agree(walk(4, 4, 0, write=False), CONTEXTS["xdp"], tier)
    assert expected[3] == "None"


def test_context_memory_gives_no_window_in_the_context_region_only() -> None:
    context = CONTEXTS["xdp"]
    memory = context.new_memory(assemble("r0 = 0\nexit"), LINUX, b"")
    assert isinstance(memory, ContextMemory)
    base, data = memory.window(CONTEXT_BASE + 4)
    assert (base, len(data)) == (CONTEXT_BASE, 0)
    assert len(memory.window(CONTEXT_BASE, write=True)[1]) == 0
    assert len(memory.window(STACK_REGION << 32)[1]) > 0
    with pytest.raises(MemoryFault, match="not allowed"):
        memory.load(0, CONTEXT_BASE + 1, 4)


# -- every context, size, start and step --------------------------------------------------


@settings(max_examples=150, deadline=None, derandomize=True)
@given(name=st.sampled_from(sorted(CONTEXTS)), size=st.sampled_from(sorted(SIZES)),
       start=st.integers(0, 200), step=st.integers(-8, 8), write=st.booleans(),
       native_tier=st.booleans())
def test_context_walks_agree_with_the_interpreter(name: str, size: int, start: int, step: int,
                                                  write: bool, native_tier: bool) -> None:
    tier = native_tier and native.available()
    assert_engines_agree(walk(size, start, step, write=write), CONTEXTS[name], tier)
