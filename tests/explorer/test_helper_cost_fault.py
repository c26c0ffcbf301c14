"""A fault caused by a helper's compute-unit cost names the compute budget (issue 16).

The instruction meter running out reads ``instruction limit exceeded``; a call whose own
cost (here ``bpf_timer_start``'s 1,000 CU) does not fit what remains of the invocation's
budget reads ``compute budget exceeded`` with the cost, the remainder and the budget, in the
runtime's report and in the explorer's trace table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arspec.model.explore_bundle import describe_step, explore_result
from arspec.reference.runtime.runner import run_bundle_state
from arspec.spec.loader import load_bundle

BUNDLE = """\
arspec: 1
name: helper-cost
profile: solana
preset: linux_like
budgets: {{per_invocation: {budget}, per_slot: 400000}}
accounts:
  knob: {{size: 8, fields: {{v: {{offset: 0, type: u64}}}}}}
maps:
  clock: {{type: array, value_size: 24, max_entries: 1, timer: 8}}
programs:
  arm:
    hook: {{on: startup}}
    functions: {{tick: tick}}
    code: |
      # arm clock[0] for slot 1: bpf_timer_start costs 1000 CU on top of its instruction
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_idx(clock)
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r6 = r0
        r6 += 8
        r1 = r6
        r2 = map_idx(clock)
        r3 = 1
        call bpf_timer_init
        r1 = r6
        r2 = code_addr(tick)
        call bpf_timer_set_callback
        r1 = r6
        r2 = 1
        r3 = 0
        call bpf_timer_start
      {loop}
      out:
        r0 = 0
        exit
      tick:
        r0 = 0
        exit
scenario:
  slots: 3
  domains:
    knob.v: {{values: [0, 1]}}
"""

#: An instruction loop long enough to run out of any budget below.
SPIN = """r7 = 0
      spin:
        r7 += 1
        if r7 < 100000 goto spin"""


def write(tmp_path: Path, budget: int, loop: str = "") -> Path:
    path = tmp_path / "bundle.yaml"
    path.write_text(BUNDLE.format(budget=budget, loop=loop or "r7 = 0"), encoding="utf-8")
    return path


def get_faults(path: Path) -> list[str]:
    report, _ = run_bundle_state(load_bundle(str(path)), slots=2, base_dir=path.parent)
    return [e.fault for s in report.slots for e in s.events if e.fault is not None]


def test_helper_cost_fault_names_the_compute_budget(tmp_path: Path) -> None:
    faults = get_faults(write(tmp_path, 900))
    assert len(faults) == 1
    fault = faults[0]
    assert fault.startswith("compute budget exceeded at pc 21: the call costs 1000 CU, ")
    assert fault.endswith(" of the 900 CU budget remain")
    assert "instruction limit" not in fault


@pytest.mark.parametrize(("budget", "left"), [(1317, 998), (1318, 999)])
def test_invalid_helper_cost_one_short(tmp_path: Path, budget: int, left: int) -> None:
    # 319 CU go to the instructions and the three cheaper calls before bpf_timer_start.
    faults = get_faults(write(tmp_path, budget))
    assert faults == [f"compute budget exceeded at pc 21: the call costs 1000 CU, {left} of "
                      f"the {budget} CU budget remain"]


@pytest.mark.parametrize(("budget", "pc"), [(1319, 22), (1320, 23), (1321, 24)])
def test_invalid_call_fits_then_the_meter_runs_out(tmp_path: Path, budget: int,
                                                    pc: int) -> None:
    # The call's cost fits exactly (or with room for a few instructions): the fault is the
    # instruction meter's, at the first instruction that does not fit.
    assert get_faults(write(tmp_path, budget)) == [
        f"instruction limit exceeded at pc {pc}: compute limit {budget} reached"]


def test_instruction_meter_fault_is_still_the_instruction_limit(tmp_path: Path) -> None:
    faults = get_faults(write(tmp_path, 5000, SPIN))
    assert len(faults) == 1
    assert faults[0].startswith("instruction limit exceeded at pc ")
    assert "compute limit 5000 reached" in faults[0]
    assert "compute budget exceeded" not in faults[0]


@pytest.mark.parametrize("budget", [1322, 200_000])
def test_no_fault_when_the_budget_fits(tmp_path: Path, budget: int) -> None:
    assert get_faults(write(tmp_path, budget)) == []


def test_explorer_trace_row_names_the_compute_budget(tmp_path: Path) -> None:
    system, result = explore_result(str(write(tmp_path, 900)), slots=2, reductions=False)
    assert result.stats.states > 1
    frontier = list(system.initial_states())
    rows: list[str] = []
    for _ in range(6):  # breadth-first, as far as the startup run
        successors = [system.apply(state, action) for state in frontier
                      for action in system.actions(state)]
        rows += [describe_step(post)[1] for post in successors]
        frontier = successors[:4]
    faulted = [r for r in rows if "FAULT" in r]
    assert faulted, rows
    assert all("FAULT compute budget exceeded at pc 21" in r
               and "of the 900 CU budget remain" in r and "rolled back" in r
               for r in faulted)
