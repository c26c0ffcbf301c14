"""The Python scheduler model and its Promela twin have the same exhaustive state count."""

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
    spin = load_bench().run_spin(p.spin_defines(), reduce=False)
    assert ours == spin.states
    assert ours > 50
