"""Byte-identical output whatever the hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from model_systems import BrokenMutex, LossyQueue, Replica, load_scheduler_module, \\
    in_order, mutual_exclusion
from arspec.model.engine import explore, render_result
from arspec.model.graph import space_to_dot
from arspec.model.confluence import check_confluence
from arspec.model.reduction import explore_reduced
m = load_scheduler_module()
model = m.SchedulerModel(m.SchedulerParams(backpressure=False, budget_check=False))
r = explore(model, invariants=model.invariants(),
            transition_invariants=model.transition_invariants(),
            stop_at_first_violation=False)
print(render_result(r, show_states=True))
print(render_result(explore_reduced(BrokenMutex(3, 3), invariants=[mutual_exclusion()],
                                    stop_at_first_violation=False), show_states=True))
print(space_to_dot(explore(LossyQueue(), record_edges=True, invariants=[in_order()],
                           stop_at_first_violation=False).space))
print(check_confluence(Replica([("set", 1), ("add", 2), ("set", 3)])).divergence)
"""


def run(seed: str) -> bytes:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run([sys.executable, "-c", SCRIPT.format(here=str(HERE))], env=env,
                          check=True, capture_output=True).stdout


def test_output_identical_across_hash_seeds() -> None:
    outputs = [run(seed) for seed in ("0", "1", "4242")]
    assert outputs[0] == outputs[1] == outputs[2]
    text = outputs[0].decode()
    assert "per-slot-budget: VIOLATED" in text and "ring-no-loss: VIOLATED" in text
    assert "mutual-exclusion: VIOLATED" in text and "digraph" in text
