"""
Liveness at scale
=================

Runs the starvation check (:func:`arspec.model.liveness.check_starvation`: exploration with
every edge recorded, strongly connected components, lasso) on the scheduler benchmark model
(``scheduler_model.py``) and prints states, edges, time, the bytes per state of the graph
arrays and the peak RSS, for the fingerprint and the exact seen-set. Due timers are the
pending items and every scheduler action is its own weak-fairness class.

Usage::

    python benchmarks/bench_liveness.py                  # about 10^6 states
    python benchmarks/bench_liveness.py --preset small   # seconds
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Hashable
from typing import Any

from bench_explorer import PRESETS, load_model

from arspec.model.engine import StoreMode
from arspec.model.liveness import check_starvation


def main(argv: list[str] | None = None) -> int:
    """Run the check and print the figures; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="large")
    parser.add_argument("--store", choices=[m.value for m in StoreMode],
                        default=StoreMode.FINGERPRINT.value)
    args = parser.parse_args(argv)
    module = load_model()
    params = module.SchedulerParams(**PRESETS[args.preset])
    model = module.SchedulerModel(params)
    timers = params.timers

    def pending(state: Any) -> tuple[int, ...]:
        return tuple(i for i in range(timers) if 0 < state[6 + i] <= state[0])

    def fairness(action: Any) -> Hashable:
        return action  # type: ignore[no-any-return]

    start = time.perf_counter()
    cpu = time.process_time()
    result = check_starvation(model, pending=pending, fairness=fairness,
                              store=StoreMode(args.store))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - start
    space = result.exploration.space
    states, edges = len(space), len(space.edge_src)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    arrays = (space.parent.itemsize + space.action_index.itemsize + space.depth.itemsize
              + 8) * states + 32 * edges
    print(f"instance: {params}")
    print(f"no_starvation: {result.verdict.value}, {states:,} states, {edges:,} edges "
          f"({args.store} seen-set)")
    print(f"time {wall:.1f} s wall, {cpu:.1f} s cpu, {states / max(cpu, 1e-9):,.0f} states/s")
    print(f"graph arrays {arrays / states:.0f} bytes/state; peak RSS {peak / 2**20:,.0f} MB "
          f"({peak / states:.0f} bytes/state)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
