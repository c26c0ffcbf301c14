"""The explorer on run-time watchers: the planted cascade and its twin, and the
``runtime_watchers`` catalogue check catching planted faults of the scheduler."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from arspec.model.engine import explore
from arspec.model.explore_bundle import build_system, explore_verdicts
from arspec.model.runtime_system import CheckSet
from arspec.spec import scheduler
from arspec.spec.loader import load_bundle
from tests.outcomes import explore_bundle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "explore"

#: setup registers a watcher on vault.balance (changed), then writes the balance itself.
REGISTER_THEN_WRITE = textwrap.dedent("""\
    arspec: 1
    name: planted
    profile: solana
    preset: minimal
    accounts:
      vault: {size: 8, fields: {balance: {offset: 0, type: u64}}}
    programs:
      setup:
        hook: {on: startup}
        code: |
          # register (changed on account 0), then balance = 5
            r1 = 0
            *(u64 *)(r10 - 24) = r1
            r1 = 0x0806
            *(u64 *)(r10 - 16) = r1
            r1 = 0
            *(u64 *)(r10 - 8) = r1
            r1 = r10
            r1 += -24
            r2 = 24
            r3 = code_addr(cb)
            r4 = 0
            call sol_watch_account
            r1 = 5
            *(u64 *)(r10 - 8) = r1
            r1 = 0
            r2 = 0
            r3 = r10
            r3 += -8
            r4 = 8
            call arspec_account_write
            r0 = 0
            exit
          cb:
            r0 = 0
            exit
    scenario: {slots: 4}
    properties:
      explore: {slots: 3, invariants: [runtime_watchers]}
    """)

#: owner registers on cmd 1 and removes watcher 1 on cmd 2, in the slot the watcher fires.
REMOVE_WHILE_QUEUED = textwrap.dedent("""\
    arspec: 1
    name: stale
    profile: solana
    preset: linux_like
    accounts:
      price: {size: 8, fields: {value: {offset: 0, type: u64, init: 100}}}
      out: {size: 8, fields: {cmd: {offset: 0, type: u64}}}
    programs:
      owner:
        hook: {on: watch, account: out, field: cmd, op: changed}
        code: |
          # cmd 1: watch price > 150; cmd 2: remove watcher 1
            r1 = 1
            r2 = 0
            r3 = r10
            r3 += -32
            r4 = 8
            call arspec_account_read
            r1 = *(u64 *)(r10 - 32)
            if r1 == 2 goto remove
            r1 = 0
            *(u64 *)(r10 - 24) = r1
            r1 = 0x0804
            *(u64 *)(r10 - 16) = r1
            r1 = 150
            *(u64 *)(r10 - 8) = r1
            r1 = r10
            r1 += -24
            r2 = 24
            r3 = code_addr(cb)
            r4 = 0
            call sol_watch_account
            r0 = 0
            exit
          remove:
            r1 = 1
            call sol_unwatch_account
            r0 = 0
            exit
          cb:
            r0 = 0
            exit
    scenario:
      slots: 4
      writes:
        - {slot: 1, account: out, field: cmd, value: 1}
        - {slot: 2, account: price, field: value, value: 200}
        - {slot: 2, account: out, field: cmd, value: 2}
    properties:
      explore: {slots: 3, invariants: [runtime_watchers]}
    """)


def verdict_of(text: str, tmp_path: Path, name: str = "runtime_watchers") -> str:
    path = tmp_path / "bundle.yaml"
    path.write_text(text)
    bundle = load_bundle(path)
    system = build_system(bundle, str(path), 3, CheckSet((name,)), cache=False)
    states, transitions = system.build_invariants()
    result = explore(system, invariants=states, transition_invariants=transitions,
                     stop_at_first_violation=False)
    return dict((n, v.value) for n, v in result.invariant_verdicts)[name]


def test_invalid_same_slot_observation_is_caught(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """Planted: the run phase also observes run-time watchers, ignoring their start slot."""
    original = scheduler.process_enqueue_async

    def eager(state: Any, config: Any) -> Any:
        return original(state, config) + scheduler.process_enqueue_runtime_watchers(state, 8)

    monkeypatch.setattr(scheduler, "process_enqueue_async", eager)
    monkeypatch.setattr(scheduler, "get_observing_watchers",
                        lambda state: [w for _, w in sorted(state.runtime_watchers.items())])
    assert verdict_of(REGISTER_THEN_WRITE, tmp_path) == "VIOLATED"


def test_invalid_skipped_observation_is_caught(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setattr(scheduler, "get_observing_watchers", lambda state: [])
    assert verdict_of(REGISTER_THEN_WRITE, tmp_path) == "VIOLATED"


def test_invalid_firing_after_removal_is_caught(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setattr(scheduler, "is_watcher_item_live", lambda state, watcher_id: True)
    assert verdict_of(REMOVE_WHILE_QUEUED, tmp_path) == "VIOLATED"


@pytest.mark.parametrize("text", [REGISTER_THEN_WRITE, REMOVE_WHILE_QUEUED])
def test_honest_scheduler_holds(text: str, tmp_path: Path) -> None:
    assert verdict_of(text, tmp_path) == "HOLDS"


def test_planted_cascade_is_found_with_its_trace() -> None:
    code, text = explore_bundle(str(EXAMPLES / "rwatch_broken.yaml"), timing=False)
    assert code == 1
    assert "VIOLATED watcher_cascade:" in text
    assert "runtime_watchers       HOLDS" in text


def test_correct_twin_holds() -> None:
    code, text = explore_bundle(str(EXAMPLES / "rwatch_ok.yaml"), timing=False)
    assert code == 0, text
    assert "VIOLATED" not in text


@pytest.mark.parametrize("name", ["rwatch_broken", "rwatch_ok"])
def test_reductions_agree(name: str) -> None:
    path = str(EXAMPLES / f"{name}.yaml")
    assert explore_verdicts(path, slots=4, reductions=True) == \
        explore_verdicts(path, slots=4, reductions=False)
