"""Light runtime helpers and Solana syscalls run alike on both engines.

Every helper and syscall marked light or metered (:attr:`HelperSpec.light
<arspec.reference.vm.helpers.HelperSpec.light>`) runs in a loop, once on the interpreter
engine and once on the fast engine's Python tier, which calls it straight from translated
code (every pc is translated on its first arrival). Its arguments are drawn and drift from
turn to turn, so later turns may fault (a bad pointer, an overlapping copy, a bad alignment,
invalid utf-8); the compute limit is drawn too, often so that the budget runs out inside
one call (at the call instruction, at the helper's fixed cost, or at what it charges
itself) or just after it. Results, counters, the fault (class, pc, message with the
address), registers, every memory region, the logs and the runtime's state must be
identical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Call,
    Exit,
    Imm,
    Instruction,
    JmpCond,
    Jump,
    LoadImm64,
    Program,
    Pseudo,
    Reg,
)
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.reference.runtime.runtime_helpers import HELPER_FUNCTIONS, LIGHT_HELPERS
from arspec.reference.runtime.solana_syscalls import (
    CHARGES_NOTHING,
    READS_MACHINE,
    SYSCALL_NAMES,
    solana_syscalls,
)
from arspec.reference.vm import fastpath
from arspec.reference.vm.helpers import HelperContext, HelperRegistry, HelperSpec
from arspec.reference.vm.profiles import INPUT_BASE, SOLANA
from arspec.reference.vm.vm import Vm, standard_memory
from arspec.spec.bundle import Bundle
from arspec.spec.helpers import HELPERS_BY_NAME
from arspec.spec.loader import load_bundle_text
from arspec.spec.scheduler import create_initial_state
from arspec.spec.state import TriggerKind, WorkItem
from arspec.spec.types import ComputeUnits, Cpu, FuncRef, Pc, ProgId, Slot


@pytest.fixture(autouse=True)
def translate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Translate every pc on its first arrival, so every call runs from translated code."""
    monkeypatch.setattr(fastpath, "HOT", 1)
    monkeypatch.setattr(fastpath, "STRAIGHT", 1)


#: How an argument drifts per turn (most do not).
STEPS = st.sampled_from([0, 0, 0, 0, 0, 0, 1, 3, 8, -8, 24, 100])
#: How many turns a loop makes: the light path runs from the fifth call on (each of the
#: four copies of the call in the two units of the loop takes the full path first).
TURNS = st.integers(8, 16) | st.integers(1, 7)
#: Calls: (units when the call instruction starts, units when the helper returns or fails).
Spans = list[tuple[int, int]]


def recording(registry: HelperRegistry, spans: Spans, name: str) -> HelperRegistry:
    """Return ``registry`` with helper ``name`` recording the units its calls span (the
    interpreter engine's machine is up to date inside a helper)."""
    wrapped = HelperRegistry()

    def wrap(spec: HelperSpec) -> HelperSpec:
        def fn(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
            start = ctx.vm.units - spec.cost - ctx.profile.insn_cost
            try:
                return spec.fn(ctx, r1, r2, r3, r4, r5)
            finally:
                spans.append((start, ctx.vm.units))
        return replace(spec, fn=fn)

    for spec in registry:
        wrapped.register(wrap(spec) if spec.name == name else spec)
    return wrapped


@st.composite
def limits(draw: st.DrawFn, spans: Spans, total: int) -> int:
    """A compute limit: enough for the whole run (which may fault), one that runs out inside
    a drawn call or on the instructions after it, or any."""
    way = draw(st.sampled_from(["enough", "call", "call", "after", "any"]))
    if way == "call" and spans:
        start, end = draw(st.sampled_from(spans))
        return draw(st.integers(max(start - 1, 1), max(end - 1, start, 1)))
    if way == "after" and spans:
        _, end = draw(st.sampled_from(spans))
        return draw(st.integers(max(end, 1), end + 20))
    if way == "any":
        return draw(st.integers(1, total + 20))
    return total + 1000


# --------------------------------------------------------------------------- syscalls

#: Where the slice table of the hash and ``sol_log_data`` syscalls starts in the input.
TABLE = 256
SLICES = 5

Arg = tuple[str, int, int]  # kind ("in", "st", "k"), value, step


def _pointer() -> st.SearchStrategy[tuple[str, int]]:
    return st.one_of(st.tuples(st.just("in"), st.integers(0, TABLE + 16 * SLICES + 8)),
                     st.tuples(st.just("st"), st.integers(-700, 8)))


def _number(low: int, high: int) -> st.SearchStrategy[tuple[str, int]]:
    return st.tuples(st.just("k"), st.integers(low, high))


_ANY = _number(-(1 << 40), 1 << 40)
_LENGTH = _number(0, 300)
_TABLE = st.tuples(st.just("in"), st.sampled_from([TABLE, TABLE, TABLE + 4, TABLE + 8]))
_COUNT = _number(0, SLICES)

#: What each syscall's r1.. are drawn from.
SYSCALL_ARGS: dict[str, list[st.SearchStrategy[tuple[str, int]]]] = {
    "sol_log_": [_pointer(), _number(0, 64)],
    "sol_log_64_": [_ANY, _ANY, _ANY, _ANY, _ANY],
    "sol_log_pubkey": [_pointer()],
    "sol_log_data": [_TABLE, _COUNT],
    "sol_panic_": [_pointer(), _number(0, 40), _ANY, _ANY],
    "abort": [],
    "sol_memcpy_": [_pointer(), _pointer(), _LENGTH],
    "sol_memmove_": [_pointer(), _pointer(), _LENGTH],
    "sol_memset_": [_pointer(), _ANY, _LENGTH],
    "sol_memcmp_": [_pointer(), _pointer(), _LENGTH, _pointer()],
    "sol_sha256": [_TABLE, _COUNT, _pointer()],
    "sol_keccak256": [_TABLE, _COUNT, _pointer()],
    "sol_get_clock_sysvar": [_pointer()],
}
LIGHT_SYSCALLS = sorted(set(SYSCALL_NAMES) - READS_MACHINE)


def lddw(reg: int, value: int) -> LoadImm64:
    """``reg = value ll``."""
    value &= (1 << 64) - 1
    low, high = value & 0xFFFFFFFF, value >> 32
    return LoadImm64(reg, Pseudo.IMM64, low - (1 << 32) if low >> 31 else low,
                     high - (1 << 32) if high >> 31 else high)


def syscall_loop(name: str, args: list[Arg], turns: int) -> Program:
    """A loop of ``turns`` calls of ``name``: r1.. start at ``args`` and move by their steps
    each turn; r0 is the sum of the calls' results."""
    body: list[Instruction] = [Alu(AluOp.MOV, 6, Imm(0), True), Alu(AluOp.MOV, 8, Imm(0), True)]
    head = 2
    for reg, (kind, value, step) in enumerate(args, 1):
        if kind == "in":
            body.append(lddw(reg, INPUT_BASE + value))
        elif kind == "st":
            body += [Alu(AluOp.MOV, reg, Reg(10), True), Alu(AluOp.ADD, reg, Imm(value), True)]
        else:
            body.append(lddw(reg, value))
        if step:
            body += [Alu(AluOp.MOV, 9, Reg(6), True), Alu(AluOp.MUL, 9, Imm(step), True),
                     Alu(AluOp.ADD, reg, Reg(9), True)]
    digest = murmur3_32(name.encode())
    body += [Call(digest - (1 << 32) if digest >> 31 else digest),
             Alu(AluOp.ADD, 8, Reg(0), True), Alu(AluOp.ADD, 6, Imm(1), True)]
    slots = sum(2 if isinstance(insn, LoadImm64) else 1 for insn in body)
    body += [Jump(JmpCond.NE, 6, Imm(turns), head - slots - 1, True),
             Alu(AluOp.MOV, 0, Reg(8), True), Exit()]
    return Program.from_instructions(body)


def run_syscalls(program: Program, data: bytes, limit: int, engine: str,
                 registry: HelperRegistry) -> tuple[object, ...]:
    """Run ``program`` over input ``data``; return everything both engines must agree on."""
    memory = standard_memory(program, SOLANA, data)
    vm = Vm(program, profile=SOLANA, helpers=registry, memory=memory, compute_limit=limit,
            engine=engine)
    result = vm.run(0, (INPUT_BASE, len(data)))
    fault = result.fault
    described = None if fault is None else (type(fault).__name__, fault.pc, str(fault))
    regions = tuple(bytes(memory.region(i << 32)) for i in (2, 3, 4))
    return (result.r0, result.instructions, result.compute_units, described, tuple(vm.regs),
            regions, tuple(vm.logs))


@st.composite
def syscall_cases(draw: st.DrawFn, name: str) -> tuple[Program, bytes]:
    """A loop calling ``name`` and its input: text-like bytes, then the slice table."""
    args = [(kind, value, draw(STEPS)) for kind, value in
            (draw(arg) for arg in SYSCALL_ARGS[name])]
    program = syscall_loop(name, args, draw(TURNS))
    text = draw(st.binary(min_size=TABLE, max_size=TABLE) | st.text(
        st.characters(codec="utf-8"), min_size=60, max_size=80).map(
            lambda s: (s.encode() * 8)[:TABLE].ljust(TABLE, b"a")))
    table = b"".join(
        (INPUT_BASE + draw(st.integers(0, TABLE + 8))).to_bytes(8, "little")
        + draw(st.integers(0, 70)).to_bytes(8, "little") for _ in range(SLICES))
    return program, text + table + bytes(8)


def check_syscall(name: str, data: st.DataObject) -> None:
    program, memory = data.draw(syscall_cases(name))
    spans: Spans = []
    full = run_syscalls(program, memory, 10**7, "interpreter",
                        recording(solana_syscalls(), spans, name))
    total = full[2]
    assert isinstance(total, int)
    limit = data.draw(limits(spans, total))
    reference = run_syscalls(program, memory, limit, "interpreter", solana_syscalls())
    fast = run_syscalls(program, memory, limit, "fast", solana_syscalls())
    assert fast == reference


@pytest.mark.parametrize("name", LIGHT_SYSCALLS)
@settings(max_examples=12, derandomize=True, deadline=None)
@given(data=st.data())
def test_light_syscall_matches_the_interpreter(name: str, data: st.DataObject) -> None:
    check_syscall(name, data)


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_SYSCALLS)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_light_syscall_matches_the_interpreter_on_a_large_sample(
        name: str, data: st.DataObject) -> None:
    check_syscall(name, data)


def test_syscalls_are_light_but_the_budget_reader() -> None:
    specs = {spec.name: spec for spec in solana_syscalls()}
    assert set(specs) == set(SYSCALL_NAMES)
    assert sorted(name for name, spec in specs.items()
                  if spec.light or spec.metered) == LIGHT_SYSCALLS
    assert not specs["sol_log_compute_units_"].light
    assert not specs["sol_log_compute_units_"].metered
    assert sorted(name for name, spec in specs.items() if spec.light) == sorted(CHARGES_NOTHING)
    assert not any(spec.light and spec.metered for spec in specs.values())


def test_invalid_budget_read_after_a_charge_in_translated_code() -> None:
    # sol_log_compute_units_ reads the budget left: it is not light, so what it logs is the
    # interpreter's on both engines (a light call would read counters not yet written back).
    program = syscall_loop("sol_log_compute_units_", [], 5)
    logs = [run_syscalls(program, b"", 10**6, engine, solana_syscalls())[-1]
            for engine in ("interpreter", "fast")]
    assert logs[0] == logs[1]
    assert len(set(logs[0])) == 5


# --------------------------------------------------------------------------- runtime helpers

BUNDLE = """
arspec: 1
name: light-helpers
profile: linux
preset: linux_like
budgets: {{per_invocation: 1400000, per_slot: 100000000}}
accounts:
  first: {{size: 16, fields: {{a: {{offset: 0, type: u64, init: 1000}}}}}}
  second: {{size: 8, fields: {{b: {{offset: 0, type: u64, init: 7}}}}}}
maps:
  vals: {{type: array, value_size: 48, max_entries: 2, timer: 8, wq: 24}}
  hash: {{type: hash, key_size: 4, value_size: 8, max_entries: 3}}
  queue: {{type: queue, value_size: 8, max_entries: 3}}
  ring: {{type: ringbuf, max_entries: 4096}}
programs:
  main:
    hook: {{on: startup}}
    functions: {{cb: cb}}
    code: |
{code}
"""

#: Ready before the loop: r7 = &vals[0], a local dynptr over 16 stack bytes at r10 - 32
#: (its data at r10 - 64) and a number iterator at r10 - 80.
PROLOGUE = """\
*(u32 *)(r10 - 4) = 0
r1 = map_idx(vals)
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto out
r7 = r0
r1 = r10
r1 += -64
r2 = 16
r3 = 0
r4 = r10
r4 += -32
call bpf_dynptr_from_mem
r1 = r10
r1 += -80
r2 = 0
r3 = 3
call bpf_iter_num_new
r6 = 0
r8 = 0
"""

RuntimeArg = tuple[str, Any]


def _map(usual: str) -> st.SearchStrategy[RuntimeArg]:
    """Mostly the ``usual`` map, sometimes one of another type."""
    names = [usual] * 5 + ["vals", "hash", "queue", "ring"]
    return st.sampled_from(names).map(lambda m: ("map", m))


_MAP = _map("vals")
_STACK = (st.integers(-100, -16) | st.integers(-8, 0)).map(lambda o: ("st", o))
_SMALL = st.integers(-2, 80).map(lambda k: ("k", k))
_SIZE = st.sampled_from([0, 1, 4, 8, 8, 16, 16, 24, 100]).map(lambda k: ("k", k))
_FLAGS = st.sampled_from([0, 0, 1, 2, 3, 4]).map(lambda k: ("k", k))
_TIMER = st.sampled_from([8, 8, 8, 0, 24]).map(lambda o: ("val", o))
_WQ = st.sampled_from([24, 24, 24, 8]).map(lambda o: ("val", o))
_CODE = st.just(("code", "cb"))
_DYNPTR = st.sampled_from([-32, -32, -32, -16]).map(lambda o: ("st", o))
_ITER = st.sampled_from([-80, -80, -80, -72]).map(lambda o: ("st", o))

#: What each light helper's r1.. are drawn from.
HELPER_ARGS: dict[str, list[st.SearchStrategy[RuntimeArg]]] = {
    "bpf_map_update_elem": [_map("hash"), _STACK, _STACK, _FLAGS],
    "bpf_map_delete_elem": [_map("hash"), _STACK],
    "bpf_map_push_elem": [_map("queue"), _STACK, _FLAGS],
    "bpf_map_pop_elem": [_map("queue"), _STACK],
    "bpf_map_peek_elem": [_map("queue"), _STACK],
    "bpf_ringbuf_output": [_map("ring"), _STACK, _SIZE, _FLAGS],
    "bpf_ringbuf_query": [_map("ring"), _FLAGS],
    "bpf_timer_init": [_TIMER, _MAP, _FLAGS],
    "bpf_timer_set_callback": [_TIMER, _CODE],
    "bpf_timer_start": [_TIMER, _SMALL, _FLAGS],
    "bpf_timer_cancel": [_TIMER],
    "bpf_wq_init": [_WQ, _MAP, _FLAGS],
    "bpf_wq_set_callback": [_WQ, _CODE, _FLAGS],
    "bpf_wq_start": [_WQ, _FLAGS],
    "bpf_dynptr_read": [_STACK, _SIZE, _DYNPTR, _SIZE, _FLAGS],
    "bpf_dynptr_write": [_DYNPTR, _SIZE, _STACK, _SIZE, _FLAGS],
    "bpf_dynptr_data": [_DYNPTR, _SIZE, _SIZE],
    "bpf_iter_num_new": [_ITER, _SMALL, _SMALL],
    "bpf_iter_num_next": [_ITER],
    "bpf_iter_num_destroy": [_ITER],
    "bpf_ktime_get_ns": [],
    "bpf_ktime_get_boot_ns": [],
    "bpf_ktime_get_coarse_ns": [],
    "bpf_ktime_get_tai_ns": [],
    "bpf_get_prandom_u32": [],
    "bpf_get_smp_processor_id": [],
    "bpf_trace_printk": [_STACK, _SIZE],
    "arspec_log": [_STACK, _SIZE],
    "arspec_get_slot": [],
    "arspec_account_read": [_FLAGS, _SMALL, _STACK, _SIZE],
    "arspec_account_write": [_FLAGS, _SMALL, _STACK, _SIZE],
    "sol_watch_account": [st.integers(-100, -24).map(lambda o: ("st", o)),
                          st.sampled_from([24, 24, 16]).map(lambda k: ("k", k)),
                          _CODE, _FLAGS],
    "sol_unwatch_account": [_SMALL],
}


def helper_loop(name: str, args: list[tuple[RuntimeArg, int]], turns: int,
                stack: list[int]) -> str:
    """The program text: the prologue, ``stack`` stored at r10 - 8, r10 - 16, ..., then
    ``turns`` calls of ``name`` with r1.. moving by their steps each turn."""
    lines = [line for i, value in enumerate(stack)
             for line in (f"r9 = {value} ll", f"*(u64 *)(r10 - {8 * (i + 1)}) = r9")]
    lines += PROLOGUE.splitlines()
    lines.append("loop:")
    for reg, ((kind, value), step) in enumerate(args, 1):
        if kind == "map":
            lines.append(f"r{reg} = map_idx({value})")
        elif kind == "code":
            lines.append(f"r{reg} = code_addr({value})")
        elif kind in ("st", "val"):
            lines += [f"r{reg} = {'r10' if kind == 'st' else 'r7'}", f"r{reg} += {value}"]
        else:
            lines.append(f"r{reg} = {value}")
        if step and kind != "map" and kind != "code":
            lines += ["r9 = r6", f"r9 *= {step}", f"r{reg} += r9"]
    lines += [f"call {name}", "r8 += r0", "r6 += 1", f"if r6 != {turns} goto loop",
              "out:", "r0 = r8", "exit", "cb:", "r0 = 0", "exit"]
    return "\n".join("      " + line for line in lines)


def run_helpers(bundle: Bundle, limit: int, engine: str,
                wrap: Callable[[HelperRegistry], HelperRegistry] | None = None
                ) -> tuple[object, ...]:
    """Run the bundle's program once as a startup item within ``limit`` units; return what
    both engines must agree on: the outcome, the machine's registers and memory, and the
    runtime's state."""
    invoker = ReferenceInvoker(bundle, engine=engine)
    if wrap is not None:
        invoker.registry = wrap(invoker.registry)
    state = create_initial_state(bundle)
    item = WorkItem(0, TriggerKind.STARTUP, FuncRef(ProgId("main"), Pc(0)), Slot(0))
    outcome = invoker(state, item, ComputeUnits(limit), Cpu(0))
    vm = invoker.vms[ProgId("main")]
    memory = {index: bytes(data) for index, data in sorted(vm.memory._data.items())}
    return outcome, tuple(vm.regs), memory, repr(state)


@st.composite
def helper_cases(draw: st.DrawFn, name: str) -> str:
    args = [(draw(arg), draw(STEPS)) for arg in HELPER_ARGS[name]]
    stack = draw(st.lists(st.integers(0, (1 << 63) - 1) | st.sampled_from(
        [0, 1, 3, 0x20, 0x6161616161616161]), min_size=2, max_size=8))
    return helper_loop(name, args, draw(TURNS), stack)


def check_helper(name: str, data: st.DataObject) -> None:
    code = data.draw(helper_cases(name))
    bundle = load_bundle_text(BUNDLE.format(code=code), filename="light.yaml")
    spans: Spans = []
    full = run_helpers(bundle, 10**7, "interpreter", lambda r: recording(r, spans, name))
    used = full[0].compute_units  # type: ignore[attr-defined]
    limit = data.draw(limits(spans, used))
    reference = run_helpers(bundle, limit, "interpreter")
    fast = run_helpers(bundle, limit, "fast")
    assert fast == reference


LIGHT_RUNTIME_HELPERS = sorted(LIGHT_HELPERS)


@pytest.mark.parametrize("name", LIGHT_RUNTIME_HELPERS)
@settings(max_examples=10, derandomize=True, deadline=None)
@given(data=st.data())
def test_light_helper_matches_the_interpreter(name: str, data: st.DataObject) -> None:
    check_helper(name, data)


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_RUNTIME_HELPERS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_light_helper_matches_the_interpreter_on_a_large_sample(
        name: str, data: st.DataObject) -> None:
    check_helper(name, data)


def test_every_light_helper_is_drawn_and_charges_as_its_row_says() -> None:
    assert set(HELPER_ARGS) == LIGHT_HELPERS
    assert set(HELPER_FUNCTIONS) > LIGHT_HELPERS
    bundle = load_bundle_text(BUNDLE.format(code=helper_loop("arspec_get_slot", [], 1, [])),
                              filename="light.yaml")
    specs = {spec.name: spec for spec in ReferenceInvoker(bundle).registry}
    for name, spec in specs.items():
        sized = HELPERS_BY_NAME[name].size_arg is not None
        assert spec.light == (name in LIGHT_HELPERS and not sized), name
        assert spec.metered == (name in LIGHT_HELPERS and sized), name


def _zero(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return 0


def test_invalid_helper_both_light_and_metered() -> None:
    with pytest.raises(ValueError, match="light and metered"):
        HelperSpec(9, "both", _zero, light=True, metered=True)
    assert HelperSpec(9, "metered", _zero, metered=True).metered


def test_invalid_light_mark_on_the_budget_reader_is_caught() -> None:
    # Marked light, not metered, sol_log_compute_units_ would charge and read counters the
    # unit has not written back: the comparison above must see it.
    registry = HelperRegistry(tuple(
        replace(spec, light=True) if spec.name == "sol_log_compute_units_"
        else spec
        for spec in solana_syscalls()))
    program = syscall_loop("sol_log_compute_units_", [], 5)
    reference = run_syscalls(program, b"", 10**6, "interpreter", registry)
    fast = run_syscalls(program, b"", 10**6, "fast", registry)
    assert fast[-1] != reference[-1]


@pytest.mark.parametrize("name", ["bpf_map_lookup_elem", "bpf_ringbuf_reserve",
                                  "bpf_ringbuf_submit", "bpf_spin_lock", "bpf_tail_call",
                                  "bpf_loop", "bpf_dynptr_from_mem"])
def test_invalid_light_mark_on_a_machine_helper(name: str) -> None:
    # Regions, guards, registers or the machine's code: never light.
    assert name not in LIGHT_HELPERS
