"""The Python scheduler model and its Promela twin: same exhaustive state counts, and the
same invariants, violated on the same planted-bug variants."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from types import ModuleType

import pytest
from model_systems import REPO, load_scheduler_module

from arspec.model.engine import explore


def load_bench() -> ModuleType:
    name = "arspec_bench_explorer"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks/bench_explorer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def require_spin() -> None:
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        pytest.fail("spin/gcc not found: .ci/run must install the Debian packages spin and gcc")


@pytest.mark.parametrize("params", [
    dict(),
    dict(timers=3, ring=2, wq=2, slots=3),
    dict(budget_check=False),
    dict(backpressure=False, ring=1, wq_costs=(1, 2, 3)),
    dict(timers=1, wq_costs=(3,), budget=2),
])
def test_state_counts_match_spin(params: dict[str, object]) -> None:
    require_spin()
    model_module = load_scheduler_module()
    p = model_module.SchedulerParams(**params)
    ours = explore(model_module.SchedulerModel(p)).stats.states
    bench = load_bench()
    # Counts without assertions: Spin stops at a planted bug's first violation.
    spin = bench.run_spin(p.spin_defines() + bench.spin_only([]), reduce=False)
    assert ours == spin.states
    assert ours > 50


def arspec_violations(params: dict[str, object]) -> list[str]:
    module = load_scheduler_module()
    model = module.SchedulerModel(module.SchedulerParams(**params))
    result = explore(model, invariants=model.invariants(),
                     transition_invariants=model.transition_invariants(),
                     stop_at_first_violation=False)
    return sorted(v.invariant for v in result.violations)


def spin_violates(params: dict[str, object], names: list[str]) -> bool:
    bench = load_bench()
    p = load_scheduler_module().SchedulerParams(**params)
    run = bench.run_spin(p.spin_defines() + bench.spin_only(names), reduce=False,
                         allow_errors=True)
    return bool(run.errors)


@pytest.mark.parametrize(("params", "expected"), [
    (dict(budget_check=False), ["per-slot-budget"]),
    (dict(backpressure=False, ring=1), ["ring-no-loss"]),
    (dict(budget_check=False, backpressure=False, ring=1),
     ["per-slot-budget", "ring-no-loss"]),
])
def test_invalid_planted_bugs_are_found_by_both_tools(params: dict[str, object],
                                                      expected: list[str]) -> None:
    require_spin()
    found = arspec_violations(params)
    assert found == expected
    bench = load_bench()
    for name in bench.SPIN_INVARIANTS:
        assert spin_violates(params, [name]) == (name in found), name


def test_correct_model_holds_in_both_tools() -> None:
    require_spin()
    assert arspec_violations(dict(timers=3)) == []
    assert not spin_violates(dict(timers=3), list(load_bench().SPIN_INVARIANTS))


def test_fair_spin_settings_do_not_truncate() -> None:
    require_spin()
    bench = load_bench()
    p = load_scheduler_module().SchedulerParams(timers=3, ring=2, wq=2, slots=3)
    fair = bench.run_spin_fair(p.spin_defines(), reduce=False)
    assert fair.states == explore(load_scheduler_module().SchedulerModel(p)).stats.states
