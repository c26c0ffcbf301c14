"""The runtime's entry registers and memory are what :mod:`arspec.spec.conventions` states.

Every hook kind runs once (examples that cover them all); each entry register is checked
against the memory the runtime actually mapped when the program started.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from arspec.reference.runtime import runtime_helpers
from arspec.reference.runtime.runner import run_bundle_state
from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.reference.vm.memory import Memory
from arspec.spec.conventions import (
    CONTEXT_BASE,
    CONTEXT_REGION,
    INPUT_BASE,
    INPUT_REGION,
    MAP_HANDLE_REGION,
    PROG_CODE_REGION,
    REGION_SHIFT,
    STACK_REGION,
    TAIL_CALL_ENTRY,
    EntryArg,
    get_entry_registers,
    get_map_handle,
    get_map_index,
    get_program_code_address,
)
from arspec.spec.errors import MemoryFault
from arspec.spec.loader import load_bundle
from arspec.spec.state import TriggerKind, WorkItem
from arspec.spec.types import MapId

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: A watcher registered at run time (``price.value > 150``) that fires in slot 2.
RUNTIME_WATCHER = Path(__file__).resolve().parents[1] / "bundles/conventions/runtime_watcher.yaml"


@dataclass
class Entry:
    """One start of a program: the item, its registers and the memory it started with."""

    item: WorkItem
    args: tuple[int, ...]
    memory: Memory
    map_ids: list[MapId]
    value: bytes | None
    tail: bool = False
    #: The bytes each mapped region an entry register points into held at entry.
    at_entry: dict[int, bytes] = field(default_factory=dict)

    def read(self, address: int, n: int) -> bytes:
        """Return ``n`` bytes at ``address`` as the program found them."""
        offset = address & ((1 << REGION_SHIFT) - 1)
        return self.at_entry[address >> REGION_SHIFT][offset:offset + n]


@pytest.fixture
def entries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Entry]]:
    """Record every program start (first run and tail-call targets) of the runs."""
    seen: list[Entry] = []
    original_args = runtime_helpers.Invocation.entry_args
    original_make_vm = ReferenceInvoker.make_vm

    def entry_args(inv: runtime_helpers.Invocation) -> tuple[int, ...]:
        args = original_args(inv)
        value = None
        if inv.item.map_id is not None and inv.item.key is not None:
            value = bytes(inv.state.maps[inv.item.map_id].elements[inv.item.key][0].value)
        at_entry = {a >> REGION_SHIFT: bytes(inv.memory.region(a & ~0xFFFF_FFFF))
                    for a in args if inv.memory.is_mapped(a >> REGION_SHIFT)}
        seen.append(Entry(inv.item, args, inv.memory, list(inv.runtime.map_ids), value,
                          at_entry=at_entry))
        return args

    def make_vm(runtime: ReferenceInvoker, *a: Any, **k: Any) -> Any:
        vm = original_make_vm(runtime, *a, **k)
        run = vm.run

        def traced(entry_pc: int = 0, args: tuple[int, ...] = ()) -> Any:
            if runtime.current is not None and runtime.current.tail_calls \
                    and len(runtime.current.tail_calls) > sum(e.tail for e in seen
                                                              if e.item is runtime.current.item):
                seen.append(Entry(runtime.current.item, (entry_pc, *args), vm.memory,
                                  [], None, tail=True))
            return run(entry_pc, args)

        vm.run = traced  # type: ignore[method-assign]
        return vm

    monkeypatch.setattr(runtime_helpers.Invocation, "entry_args", entry_args)
    monkeypatch.setattr(ReferenceInvoker, "make_vm", make_vm)
    yield seen


def _kind(entry: Entry) -> str:
    if entry.tail:
        return "tail_call"
    if entry.item.watcher_id is not None:
        return "runtime_watcher"
    if entry.args == (CONTEXT_BASE,):
        return f"{entry.item.kind.value}+context"
    return entry.item.kind.value


def _check(entry: Entry) -> None:
    """Assert each register is what the spec's convention names, in the mapped memory."""
    item, memory = entry.item, entry.memory
    has_context = memory.is_mapped(CONTEXT_REGION)
    expected = get_entry_registers(item.kind, has_context=has_context,
                                   runtime_watcher=item.watcher_id is not None)
    assert len(entry.args) == len(expected), (item, entry.args, expected)
    for arg, value in zip(expected, entry.args, strict=True):
        if arg is EntryArg.INPUT:
            assert value == INPUT_BASE and memory.is_mapped(INPUT_REGION)
        elif arg is EntryArg.ZERO:
            assert value == 0
        elif arg is EntryArg.CONTEXT:
            assert value == CONTEXT_BASE and memory.is_mapped(CONTEXT_REGION)
        elif arg is EntryArg.MAP_HANDLE:
            assert item.map_id is not None
            assert value == get_map_handle(entry.map_ids.index(item.map_id))
            assert not memory.is_mapped(value >> REGION_SHIFT)
        elif arg is EntryArg.KEY_COPY:
            assert item.key is not None
            assert entry.read(value, len(item.key)) == item.key
            with pytest.raises(MemoryFault):  # read-only
                memory.store(0, value, 1, 0)
        elif arg is EntryArg.VALUE:
            assert entry.value is not None
            assert entry.read(value, len(entry.value)) == entry.value
            memory.store(0, value, 1, entry.value[0])  # in place: writable
        elif arg is EntryArg.RECORD_COPY:
            assert item.record is not None
            assert entry.read(value, len(item.record)) == item.record
            with pytest.raises(MemoryFault):  # read-only
                memory.store(0, value, 1, 0)
        elif arg is EntryArg.RECORD_LENGTH:
            assert item.record is not None and value == len(item.record)
        else:
            raise AssertionError(f"{arg} is not an entry register of a work item")


#: One example per hook kind (the tail-call target is checked on its own below).
KIND_EXAMPLES = {
    "startup": "pairs_trading.yaml",
    "every": "explore/tail_ok.yaml",
    "watch": "oracle_watcher.yaml",
    "timer": "explore/timer_ok.yaml",
    "workqueue": "risk_analyzer.yaml",
    "ringbuf": "explore/ring_ok.yaml",
    "runtime_watcher": str(RUNTIME_WATCHER),  # an absolute path: EXAMPLES / it is itself
    "every+context": "xdp_ipv4_counter.yaml",
}




@pytest.mark.parametrize("kind", sorted(KIND_EXAMPLES))
def test_entry_registers_are_the_conventions(kind: str, entries: list[Entry]) -> None:
    path = EXAMPLES / KIND_EXAMPLES[kind]
    run_bundle_state(load_bundle(path), base_dir=path.parent)
    mine = [e for e in entries if not e.tail and _kind(e) == kind]
    assert mine, f"{KIND_EXAMPLES[kind]} starts no {kind} program"
    for entry in mine:
        _check(entry)


def test_a_tail_call_target_starts_as_the_conventions_state(entries: list[Entry]) -> None:
    path = EXAMPLES / "explore/tail_ok.yaml"
    run_bundle_state(load_bundle(path), base_dir=path.parent, slots=1)
    first = [e for e in entries if not e.tail]
    tails = [e for e in entries if e.tail]
    assert len(first) == 1 and len(tails) == 2  # entry -> parse -> commit
    caller_r1 = first[0].args[0]
    for tail in tails:
        pc, *registers = tail.args
        assert pc == TAIL_CALL_ENTRY.pc
        assert TAIL_CALL_ENTRY.registers == (EntryArg.CALLER_R1,)
        assert registers == [caller_r1]  # the callers leave r1 unchanged
        stack = tail.memory.region(STACK_REGION << REGION_SHIFT)
        assert stack == bytes(len(stack))  # fresh


@pytest.mark.parametrize("index", [0, 1, 7, 0xFFFF])
def test_map_handles_round_trip(index: int) -> None:
    handle = get_map_handle(index)
    assert handle >> REGION_SHIFT == MAP_HANDLE_REGION + index
    assert get_map_index(handle) == index


@pytest.mark.parametrize("value", [0, 1, INPUT_BASE, CONTEXT_BASE,
                                   get_map_handle(0) + 8, get_map_handle(0) - (1 << 32),
                                   (1 << 64) - 1])
def test_a_value_that_is_no_map_handle_names_no_map(value: int) -> None:
    assert get_map_index(value) is None


def test_program_code_addresses() -> None:
    assert get_program_code_address(0) == PROG_CODE_REGION << REGION_SHIFT
    assert get_program_code_address(2, 5) == ((PROG_CODE_REGION + 2) << REGION_SHIFT) | 40


def test_a_context_is_only_for_the_hooks_that_run_the_program_itself() -> None:
    for kind in TriggerKind:
        plain = get_entry_registers(kind)
        assert get_entry_registers(kind, has_context=True, runtime_watcher=True) == plain
        if kind in (TriggerKind.TIMER, TriggerKind.WORKQUEUE, TriggerKind.RINGBUF):
            assert get_entry_registers(kind, has_context=True) == plain
        else:
            assert get_entry_registers(kind, has_context=True) == (EntryArg.CONTEXT,)


def test_the_stated_conventions() -> None:
    """The table itself (Linux's ``callback_fn(map, key, value)``; a record and its length)."""
    assert get_entry_registers(TriggerKind.TIMER) == (
        EntryArg.MAP_HANDLE, EntryArg.KEY_COPY, EntryArg.VALUE)
    assert get_entry_registers(TriggerKind.WORKQUEUE) == get_entry_registers(TriggerKind.TIMER)
    assert get_entry_registers(TriggerKind.RINGBUF) == (
        EntryArg.RECORD_COPY, EntryArg.RECORD_LENGTH)
    for kind in (TriggerKind.STARTUP, TriggerKind.EVERY, TriggerKind.WATCH):
        assert get_entry_registers(kind) == (EntryArg.INPUT, EntryArg.ZERO)
    assert TAIL_CALL_ENTRY.pc == 0 and TAIL_CALL_ENTRY.fresh_stack
