"""The bundles in ``examples/``: they load, they are documented, and running them shows the
behaviour their header comments promise (working examples) or the failure they were written
to exhibit (``broken_*``)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from arspec.reference.isa.instructions import LoadImm64, Pseudo
from arspec.reference.runtime.run_report import EventRecord, RunReport
from arspec.reference.runtime.runner import run_bundle_state
from arspec.reference.runtime.runtime import ReferenceInvoker, load_programs
from arspec.spec.bundle import Bundle, ProgramProperty
from arspec.spec.catalogue import get_violated_invariants
from arspec.spec.errors import InputError
from arspec.spec.helpers import HELPER_TABLE
from arspec.spec.loader import load_bundle
from arspec.spec.maps import MapElement
from arspec.spec.scheduler import (
    create_initial_state,
    get_canonical_action,
    get_runtime_config,
    process_action,
)
from arspec.spec.state import RuntimeState
from arspec.spec.timers import TimerState
from arspec.spec.types import AccountName, MapId

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.glob("*.yaml"))
BROKEN = [name for name in EXAMPLES if name.startswith("broken_")]
#: Examples refused before anything runs.
REFUSED = {"broken_nondeterministic.yaml"}
#: Examples that use BPF_ATOMIC instructions (linux profile without a program type).
ATOMICS = {"counter_xadd.yaml"}
RUNNABLE = [name for name in EXAMPLES if name not in REFUSED]
WORKING = [name for name in EXAMPLES if name not in BROKEN]


@cache
def bundle_of(name: str) -> Bundle:
    return load_bundle(EXAMPLES_DIR / name)


@cache
def run_of(name: str, slots: int | None = None) -> tuple[RunReport, RuntimeState]:
    return run_bundle_state(bundle_of(name), slots=slots, base_dir=EXAMPLES_DIR)


def header(name: str) -> str:
    lines = (EXAMPLES_DIR / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.startswith("#"))


def events(report: RunReport, kind: str = "run",
           program: str | None = None) -> list[tuple[int, EventRecord]]:
    return [(s.slot, e) for s in report.slots for e in s.events
            if e.kind == kind and (program is None or e.program == program)]


def run_slots(report: RunReport, program: str, trigger: str | None = None) -> list[int]:
    return [slot for slot, e in events(report, "run", program)
            if trigger is None or (e.trigger or "").startswith(trigger)]


def account(state: RuntimeState, name: str, offset: int, *, signed: bool = False) -> int:
    data = bytes(state.accounts.accounts[AccountName(name)].data)
    return int.from_bytes(data[offset:offset + 8], "little", signed=signed)


def element(state: RuntimeState, map_name: str, index: int = 0) -> MapElement:
    return state.maps[MapId(map_name)].elements[index.to_bytes(4, "little")][0]


def map_u64(state: RuntimeState, map_name: str, index: int, offset: int = 0) -> int:
    value = element(state, map_name, index).value
    return int.from_bytes(value[offset:offset + 8], "little")


def timer_of(state: RuntimeState, map_name: str) -> TimerState:
    timer = element(state, map_name).timer
    assert timer is not None
    return timer


# --------------------------------------------------------------------------- every example


def test_the_tour_is_complete() -> None:
    expected = {"heartbeat.yaml", "oracle_watcher.yaml", "risk_analyzer.yaml",
                "pairs_trading.yaml", "broken_watcher_cascade.yaml", "broken_over_budget.yaml",
                "broken_lost_timer.yaml", "broken_ringbuf_overflow.yaml",
                "broken_nondeterministic.yaml"}
    assert expected <= set(EXAMPLES)
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    for name in EXAMPLES:
        assert name in readme, f"examples/README.md does not mention {name}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_loads(name: str) -> None:
    bundle = bundle_of(name)
    assert bundle.name is not None
    # Programs written for a Linux program type need the linux profile, and so do atomics
    # (SBPFv0 has none); the rest is solana.
    typed = any(p.program_type is not None for p in bundle.programs.values())
    assert bundle.profile.value == ("linux" if typed or name in ATOMICS else "solana")


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_header_documents_it(name: str) -> None:
    text = header(name)
    assert text.startswith(f"# {name} -- "), "the header names the file and says what it is"
    assert f"spec-check run examples/{name}" in text, "the header says what a run prints"


@pytest.mark.parametrize("name", BROKEN)
def test_broken_example_says_what_is_wrong(name: str) -> None:
    text = header(name)
    assert "BROKEN ON PURPOSE" in text
    assert "What is wrong" in text
    assert "Fix:" in text


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_asks_for_every_program_property(name: str) -> None:
    assert set(bundle_of(name).properties.programs) == set(ProgramProperty)


@pytest.mark.parametrize("name", [n for n in BROKEN if n not in REFUSED])
def test_broken_example_is_kept_for_the_explorer(name: str) -> None:
    assert bundle_of(name).properties.explore is not None


@pytest.mark.parametrize("name", EXAMPLES)
def test_helper_calls_use_the_helper_table_names(name: str) -> None:
    # Readability: examples call helpers by name; the loader encodes the profile's id.
    names = {h.name for h in HELPER_TABLE}
    calls = 0
    for prog_name, prog in bundle_of(name).programs.items():
        assert prog.code is not None
        for line in prog.code.splitlines():
            code, _, _ = line.partition("#")
            match = re.search(r"\bcall (\S+)", code)
            if match is None:
                continue
            calls += 1
            assert match.group(1) in names, f"{prog_name}: {line.strip()}"
    assert calls > 0


@pytest.mark.parametrize("name", RUNNABLE)
def test_callbacks_are_declared_functions(name: str) -> None:
    bundle = bundle_of(name)
    for loaded in load_programs(bundle, base_dir=EXAMPLES_DIR).values():
        slots = loaded.program.slots
        targets = {pc + 1 + s.imm for pc, s in enumerate(slots)
                   if isinstance(s, LoadImm64) and s.pseudo is Pseudo.CODE_ADDR}
        assert targets <= set(loaded.functions.values()), loaded.name
        assert set(loaded.functions.values()) <= targets, f"{loaded.name}: unused function"


@pytest.mark.parametrize("name", RUNNABLE)
def test_example_runs_its_scenario(name: str) -> None:
    report, state = run_of(name)
    assert len(report.slots) == bundle_of(name).scenario.slots
    assert int(state.slot) == bundle_of(name).scenario.slots
    assert report.totals.invocations > 0
    assert report.totals.pending == 0


@pytest.mark.parametrize("name", WORKING)
def test_working_example_never_fails_or_defers(name: str) -> None:
    totals = run_of(name)[0].totals
    assert (totals.failures, totals.deferred, totals.skipped, totals.suppressed) == (0, 0, 0, 0)


@pytest.mark.parametrize("name", RUNNABLE)
def test_scheduler_invariants_hold_after_every_action(name: str) -> None:
    # Broken programs misbehave; the runtime must still keep all of its promises.
    bundle = bundle_of(name)
    invoker = ReferenceInvoker(bundle, base_dir=EXAMPLES_DIR)
    state = create_initial_state(bundle)
    config = get_runtime_config(bundle)
    actions = 0
    while int(state.slot) < bundle.scenario.slots:
        process_action(state, get_canonical_action(state, config), invoker, bundle)
        actions += 1
        assert get_violated_invariants(state, bundle) == [], f"after action {actions}"


# --------------------------------------------------------------------------- heartbeat


def test_heartbeat_fires_every_five_slots_and_rearms() -> None:
    report, state = run_of("heartbeat.yaml")
    assert run_slots(report, "heartbeat", "startup") == [0]
    assert run_slots(report, "heartbeat", "timer") == [5, 10, 15, 20, 25]
    assert all(e.logs == ("beat",) for _, e in events(report, program="heartbeat")[1:])
    assert map_u64(state, "hb", 0) == 5
    timer = timer_of(state, "hb")
    assert timer.expiry == 30 and timer.callback is not None


def test_heartbeat_keeps_beating_on_a_longer_run() -> None:
    report, state = run_of("heartbeat.yaml", 61)
    assert run_slots(report, "heartbeat", "timer") == list(range(5, 61, 5))
    assert map_u64(state, "hb", 0) == 12


# --------------------------------------------------------------------------- oracle watcher


def test_oracle_watcher_fires_exactly_on_the_crossing_slots() -> None:
    report, state = run_of("oracle_watcher.yaml")
    # 120 (slot 3) stays below; 160 (slot 6) crosses; 170 (slot 8) stays above; 140 (slot 10)
    # falls back; 155 (slot 14) crosses again.
    assert run_slots(report, "watcher") == [6, 14]
    assert all(e.records_produced == 1 for _, e in events(report, program="watcher"))
    assert run_slots(report, "recorder", "ringbuf") == [6, 14]
    assert [(slot, e.count) for slot, e in events(report, "consume")] == [(6, 1), (14, 1)]
    assert (account(state, "alerts", 0), account(state, "alerts", 8),
            account(state, "alerts", 16)) == (2, 155, 14)


# --------------------------------------------------------------------------- risk analyzer


@pytest.mark.parametrize(("slots", "expected"), [
    (1, (3400, 0, 0)), (21, (5000, 20, 0)), (31, (7000, 30, 1)), (50, (5000, 40, 0)),
])
def test_risk_analyzer_tracks_exposure(slots: int, expected: tuple[int, int, int]) -> None:
    _, state = run_of("risk_analyzer.yaml", slots)
    assert (account(state, "risk", 0), account(state, "risk", 8),
            account(state, "risk", 16)) == expected


def test_risk_analyzer_runs_through_the_work_queue() -> None:
    report, state = run_of("risk_analyzer.yaml")
    assert run_slots(report, "kick", "every") == [0, 10, 20, 30, 40]
    assert run_slots(report, "kick", "workqueue") == [0, 10, 20, 30, 40]
    assert map_u64(state, "jobs", 0) == 5
    work = element(state, "jobs").wq
    assert work is not None and work.initialised and work.pending_seq is None


# --------------------------------------------------------------------------- pairs trading


TRADES = [(6, "sell"), (8, "sell"), (16, "buy"), (18, "buy"), (28, "sell"), (30, "sell"),
          (32, "sell"), (42, "buy"), (44, "buy")]


def test_pairs_trading_timer_feeds_the_ring_buffer() -> None:
    report, state = run_of("pairs_trading.yaml")
    ticks = list(range(2, 50, 2))
    assert run_slots(report, "ticker", "timer") == ticks
    assert all(e.records_produced == 1 for _, e in events(report, program="ticker")[1:])
    assert run_slots(report, "strategist", "ringbuf") == ticks
    assert (report.totals.records_produced, report.totals.records_consumed) == (24, 24)
    assert map_u64(state, "clock", 0) == 24


def test_pairs_trading_runs_the_tail_call_chain() -> None:
    report, _ = run_of("pairs_trading.yaml")
    full = ("signal", "sizer", "executor", "logger")
    chains = {slot: e.tail_calls for slot, e in events(report, program="strategist")}
    assert [slot for slot, chain in chains.items() if chain == full] == [s for s, _ in TRADES]
    assert chains[34] == ("signal", "sizer", "executor")  # at the position limit
    assert all(chain == ("signal",) for slot, chain in chains.items()
               if slot not in dict(TRADES) and slot != 34)
    logs = [(slot, e.logs) for slot, e in events(report, program="strategist") if e.logs]
    assert logs == [(slot, (side,)) for slot, side in TRADES]
    assert report.totals.tail_calls == 24 + 3 * 10 - 1


def test_pairs_trading_book() -> None:
    _, state = run_of("pairs_trading.yaml")
    book = [account(state, "book", offset, signed=True) for offset in range(0, 48, 8)]
    # position, trades, notional, last_spread, last_slot, last_side
    assert book == [-2, 9, 39680, -40, 44, 1]


def test_pairs_trading_respects_the_position_limit_throughout() -> None:
    for slots in range(1, 51, 7):
        _, state = run_of("pairs_trading.yaml", slots)
        assert -10 <= account(state, "book", 0, signed=True) <= 10


# --------------------------------------------------------------------------- broken examples


def test_broken_watcher_cascade_is_suppressed_at_the_depth_limit() -> None:
    report, state = run_of("broken_watcher_cascade.yaml")
    runs = events(report, program="accrue_fee")
    assert [slot for slot, _ in runs] == list(range(2, 10))
    assert [e.depth for _, e in runs] == list(range(1, 9))
    suppressed = events(report, "suppress")
    assert [slot for slot, _ in suppressed] == [10]
    assert "cascade depth 9 exceeds the maximum 8" in suppressed[0][1].reason
    assert report.totals.suppressed == 1
    assert (account(state, "vault", 0), account(state, "vault", 8)) == (108, 8)


def test_broken_over_budget_faults_and_rolls_back() -> None:
    report, state = run_of("broken_over_budget.yaml")
    runs = events(report, program="compound")
    assert [slot for slot, _ in runs] == [0, 5, 10]
    for _, e in runs:
        assert e.rolled_back
        assert e.fault is not None and "compute limit 5000" in e.fault
        assert e.charged == 5000
    assert report.totals.failures == 3
    # The attempt counter was written before the loop; the rollback undid it too.
    assert (account(state, "stats", 0), account(state, "stats", 8)) == (0, 0)


def test_broken_lost_timer_is_freed_by_the_element_update() -> None:
    report, state = run_of("broken_lost_timer.yaml")
    assert run_slots(report, "heartbeat", "timer") == [3, 6, 9]
    assert run_slots(report, "reset_stats") == [10]
    assert not any(slot > 10 for slot, _ in events(report))
    timer = timer_of(state, "hb")
    assert not timer.initialised and timer.expiry is None
    assert map_u64(state, "hb", 0) == 0


def test_broken_lost_timer_was_armed_before_the_reset() -> None:
    _, state = run_of("broken_lost_timer.yaml", 10)
    timer = timer_of(state, "hb")
    assert timer.initialised and timer.expiry == 12
    assert map_u64(state, "hb", 0) == 3


def test_broken_ringbuf_overflow_reserve_fails_when_full() -> None:
    report, state = run_of("broken_ringbuf_overflow.yaml")
    bursts = events(report, program="burst")
    assert [slot for slot, _ in bursts] == [0, 1, 2, 3, 4]
    for _, e in bursts:
        assert e.records_produced == 4
        assert e.logs == ("full", "full")
    assert len(run_slots(report, "drain", "ringbuf")) == 20
    assert (account(state, "stats", 0), account(state, "stats", 8),
            account(state, "stats", 16)) == (20, 10, 20)


def test_broken_nondeterministic_is_refused_at_load() -> None:
    with pytest.raises(InputError) as caught:
        run_bundle_state(bundle_of("broken_nondeterministic.yaml"))
    message = str(caught.value)
    assert "programs.jitter" in message
    assert "bpf_get_prandom_u32" in message
    assert "nondeterministic" in message and "solana" in message
    assert "\n" not in message
