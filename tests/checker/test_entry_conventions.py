"""The verifier and its replay start every hook kind as the runtime does.

All three read :func:`arspec.spec.conventions.get_entry_registers` (and the tail-call entry).
Each example below runs on the runtime (every program start recorded) and through
``verify_bundle`` (every entry's executor recorded); for each program start the verifier's
entry arguments must be the runtime's, each symbolic register must have the pointer kind
the argument names, and the replay's registers must be the runtime's values: exactly for
addresses the convention fixes (input, a ring record's copy in the input region, context,
map handle) and for lengths and a tail call's ``r1``, and a region of the same size and
writability for a timer or work-queue callback's key copy and value (the verifier maps these
in object regions of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from arspec.checker import objmemory
from arspec.checker.bundle_model import EntryKind
from arspec.checker.bundle_replay import _entry_registers
from arspec.checker.contexts import CTX
from arspec.checker.objects import BundleExecutor
from arspec.checker.objmemory import ENTRY_TRIGGERS, get_entry_arguments
from arspec.checker.replay import ConcreteInput
from arspec.checker.symbolic import INPUT, MAPREF, OBJECT, OPAQUE, SCALAR, State, Value
from arspec.checker.verify_bundle import verify_bundle
from arspec.reference.runtime import runtime_helpers
from arspec.reference.runtime.runner import run_bundle_state
from arspec.reference.vm.memory import Memory
from arspec.spec.conventions import (
    CONTEXT_REGION,
    REGION_SHIFT,
    TAIL_CALL_ENTRY,
    EntryArg,
    get_entry_registers,
)
from arspec.spec.errors import MemoryFault
from arspec.spec.loader import load_bundle
from arspec.spec.state import TriggerKind, WorkItem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: A watcher registered at run time (``price.value > 150``) that fires in slot 2.
RUNTIME_WATCHER = Path(__file__).resolve().parents[1] / "bundles/conventions/runtime_watcher.yaml"

#: One example per hook kind; ``tail_call`` is the targets of explore/tail_ok's chain.
KIND_EXAMPLES = {
    "startup": "pairs_trading.yaml",
    "every": "explore/tail_ok.yaml",
    "watch": "oracle_watcher.yaml",
    "timer": "explore/timer_ok.yaml",
    "workqueue": "risk_analyzer.yaml",
    "ringbuf": "explore/ring_ok.yaml",
    "runtime_watcher": str(RUNTIME_WATCHER),  # an absolute path: EXAMPLES / it is itself
    "every+context": "xdp_ipv4_counter.yaml",
    "tail_call": "explore/tail_ok.yaml",
}



@dataclass
class RuntimeStart:
    """One program start on the runtime: the item, r1.. and what they point at."""

    item: WorkItem
    args: tuple[int, ...]
    expected: tuple[EntryArg, ...]
    memory: Memory
    tail: bool = False


@dataclass
class VerifierStart:
    """One entry the verifier executed: its program's index, pc, kind and entry state."""

    program: int
    pc: int
    entry: EntryKind
    executor: BundleExecutor
    #: The entry registers (copied: the run goes on to change the state's).
    regs: list[Value]


@pytest.fixture
def runtime_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RuntimeStart]]:
    """Record every first start of a work item on the runtime."""
    seen: list[RuntimeStart] = []
    original = runtime_helpers.Invocation.entry_args

    def entry_args(inv: runtime_helpers.Invocation) -> tuple[int, ...]:
        args = original(inv)
        expected = get_entry_registers(
            inv.item.kind, has_context=inv.memory.is_mapped(CONTEXT_REGION),
            runtime_watcher=inv.item.watcher_id is not None)
        seen.append(RuntimeStart(inv.item, args, expected, inv.memory))
        return args

    monkeypatch.setattr(runtime_helpers.Invocation, "entry_args", entry_args)
    yield seen


@pytest.fixture
def verifier_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[VerifierStart]]:
    """Record the entry state of every entry ``verify_bundle`` executes."""
    seen: list[VerifierStart] = []
    original = objmemory.BundleMemory.initial_state

    def initial_state(executor: BundleExecutor) -> State:
        state = original(executor)
        seen.append(VerifierStart(executor.context.program_index, executor.cfg.entry,
                                  executor.entry, executor, list(state.regs)))
        return state

    monkeypatch.setattr(objmemory.BundleMemory, "initial_state", initial_state)
    yield seen


def _kind(start: RuntimeStart) -> str:
    if start.item.watcher_id is not None:
        return "runtime_watcher"
    if start.expected == (EntryArg.CONTEXT,):
        return f"{start.item.kind.value}+context"
    return start.item.kind.value


def _run(kind: str) -> str:
    """Run the kind's example on the runtime and through the verifier; return its path."""
    path = EXAMPLES / KIND_EXAMPLES[kind]
    run_bundle_state(load_bundle(path), base_dir=path.parent)
    return str(path)


def _verify(source: str) -> None:
    verify_bundle(source, timeout=120)


def _region(memory: Memory, address: int) -> bytes:
    return bytes(memory.region(address & ~((1 << REGION_SHIFT) - 1)))


def _check_start(start: RuntimeStart, verifier: VerifierStart) -> None:
    executor = verifier.executor
    assert executor.entry_args == start.expected, (start.item, verifier.entry)
    record = start.item.record or b""
    given = ConcreteInput(record, {"@ctx": start.args[0] if start.tail else 0})
    replayed = _entry_registers(executor, given)
    assert len(replayed) == len(start.args)
    for reg, (arg, runtime_value, replay_value) in enumerate(
            zip(start.expected, start.args, replayed, strict=True), start=1):
        symbolic = verifier.regs[reg]
        if arg in (EntryArg.INPUT, EntryArg.ZERO, EntryArg.CONTEXT, EntryArg.MAP_HANDLE,
                   EntryArg.RECORD_COPY, EntryArg.RECORD_LENGTH, EntryArg.CALLER_R1):
            assert replay_value == runtime_value, (arg, start.item)
        kinds = {EntryArg.INPUT: INPUT, EntryArg.RECORD_COPY: INPUT, EntryArg.ZERO: SCALAR,
                 EntryArg.RECORD_LENGTH: SCALAR, EntryArg.CONTEXT: CTX,
                 EntryArg.MAP_HANDLE: MAPREF, EntryArg.KEY_COPY: OBJECT,
                 EntryArg.VALUE: OBJECT, EntryArg.CALLER_R1: OPAQUE}
        assert symbolic.kind == kinds[arg], (arg, symbolic)
        if arg in (EntryArg.KEY_COPY, EntryArg.VALUE):
            obj = executor.objects[replay_value >> REGION_SHIFT]
            runtime_bytes = _region(start.memory, runtime_value)
            assert executor.entry.map_index is not None
            info = executor.context.maps[executor.entry.map_index]
            assert obj.writable == (arg is EntryArg.VALUE)
            assert obj.map_index == (info.index if arg is EntryArg.VALUE else None)
            if arg is EntryArg.KEY_COPY:
                assert obj.size == info.key_size == len(start.item.key or b"")
                assert runtime_bytes == start.item.key
            else:
                offset = runtime_value & ((1 << REGION_SHIFT) - 1)
                assert obj.size == info.value_size <= len(runtime_bytes) - offset
        if arg is EntryArg.RECORD_COPY:
            assert _region(start.memory, runtime_value) == record
            assert executor.entry.kind == "record" and len(record) <= executor.max_input
        if arg is EntryArg.KEY_COPY or arg is EntryArg.RECORD_COPY:
            with pytest.raises(MemoryFault):  # read-only on the runtime too
                start.memory.store(0, runtime_value, 1, 0)


@pytest.mark.parametrize("kind", sorted(k for k in KIND_EXAMPLES if k != "tail_call"))
def test_every_hook_kind_starts_alike(kind: str, runtime_starts: list[RuntimeStart],
                                      verifier_starts: list[VerifierStart]) -> None:
    source = _run(kind)
    _verify(source)
    mine = [s for s in runtime_starts if _kind(s) == kind]
    assert mine, f"{KIND_EXAMPLES[kind]} starts no {kind} program"
    bundle = load_bundle(source)
    names = list(bundle.programs)
    for start in mine:
        index = names.index(start.item.prog)
        matches = [v for v in verifier_starts
                   if v.program == index and v.pc == start.item.entry.pc
                   and v.entry.kind in ("input", "record", "async")]
        assert matches, (kind, start.item)
        for verifier in matches:
            _check_start(start, verifier)


def test_a_tail_call_target_starts_alike(verifier_starts: list[VerifierStart]) -> None:
    _verify(str(EXAMPLES / KIND_EXAMPLES["tail_call"]))
    tails = [v for v in verifier_starts if v.entry.kind == "tail"]
    assert tails
    for verifier in tails:
        assert verifier.executor.entry_args == TAIL_CALL_ENTRY.registers
        assert verifier.pc == TAIL_CALL_ENTRY.pc
        assert verifier.regs[1].kind == OPAQUE
        given = ConcreteInput(b"", {"@ctx": 0x4_0000_0000})
        assert _entry_registers(verifier.executor, given) == (0x4_0000_0000,)


def test_the_verifier_maps_each_entry_kind_to_the_conventions() -> None:
    assert get_entry_arguments(EntryKind("input"), has_context=False) == \
        get_entry_registers(TriggerKind.STARTUP) == get_entry_registers(TriggerKind.EVERY) \
        == get_entry_registers(TriggerKind.WATCH)
    assert get_entry_arguments(EntryKind("input"), has_context=True) == (EntryArg.CONTEXT,)
    assert get_entry_arguments(EntryKind("record"), has_context=False) == \
        get_entry_registers(TriggerKind.RINGBUF)
    assert get_entry_arguments(EntryKind("async", map_index=0), has_context=False) == \
        get_entry_registers(TriggerKind.TIMER) == get_entry_registers(TriggerKind.WORKQUEUE)
    assert get_entry_arguments(EntryKind("tail"), has_context=True) == \
        TAIL_CALL_ENTRY.registers
    assert get_entry_arguments(EntryKind("loop"), has_context=False) is None
    assert set(ENTRY_TRIGGERS) == {"input", "record", "async"}


def test_invalid_entry_that_differs_is_caught(runtime_starts: list[RuntimeStart],
                                              verifier_starts: list[VerifierStart],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A verifier that gave a ring subscriber the input and a zero length would fail."""
    monkeypatch.setattr(objmemory, "ENTRY_TRIGGERS",
                        {**ENTRY_TRIGGERS, "record": TriggerKind.EVERY})
    _verify(_run("ringbuf"))
    start = next(s for s in runtime_starts if _kind(s) == "ringbuf")
    verifier = next(v for v in verifier_starts if v.entry.kind == "record")
    with pytest.raises(AssertionError):
        _check_start(start, verifier)


def test_invalid_replay_that_differs_is_caught(runtime_starts: list[RuntimeStart],
                                               verifier_starts: list[VerifierStart]) -> None:
    """A replay whose map handle is another map's would fail."""
    _verify(_run("timer"))
    start = next(s for s in runtime_starts if _kind(s) == "timer")
    verifier = next(v for v in verifier_starts if v.entry.kind == "async")
    verifier.executor.entry_addresses[EntryArg.MAP_HANDLE] += 1 << REGION_SHIFT
    with pytest.raises(AssertionError):
        _check_start(start, verifier)


#: A ring subscriber that faults unless ``r1`` is the input region (``ADDRESS`` swapped in).
RING_ADDRESS = """
arspec: 1
name: ring-address
profile: solana
preset: minimal
budgets: {per_invocation: 6000, per_slot: 12000}
maps:
  feed: {type: ringbuf, max_entries: 4096}
programs:
  produce:
    hook: {on: every, slots: 1}
    code: |
      # one 8-byte record per slot
        r1 = map_idx(feed)
        r2 = r10
        r2 += -8
        *(u64 *)(r10 - 8) = 7
        r3 = 8
        r4 = 0
        call bpf_ringbuf_output
        r0 = 0
        exit
  consume:
    hook: {on: ringbuf, map: feed}
    code: |
      # the record's address decides whether it reads NULL
        r2 = ADDRESS ll
        if r1 == r2 goto ok
        r0 = *(u64 *)(r0 + 0)
      ok:
        r0 = 0
        exit
scenario:
  slots: 2
"""


@pytest.mark.parametrize(("address", "memory"), [("0x400000000", "PROVED"),
                                                 ("0x500000000", "REFUTED")])
def test_a_subscriber_that_tests_its_records_address(address: str, memory: str,
                                                     tmp_path: Path) -> None:
    """The verifier's verdict on the record's address is what the runtime does."""
    from arspec.checker.verdict import Property

    path = tmp_path / "ring.yaml"
    path.write_text(RING_ADDRESS.replace("ADDRESS", address))
    result = verify_bundle(str(path), timeout=120)
    consume = next(p for p in result.programs if p.name == "consume")
    assert consume.report.verdict(Property.MEMORY).value == memory
    report, _ = run_bundle_state(load_bundle(path), base_dir=tmp_path)
    assert report.faulted == (memory == "REFUTED")
