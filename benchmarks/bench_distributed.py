"""
Distributed exploration benchmark
=================================

Explores a bundle in one process and on 1, 2, 4, ... Ray workers of a local cluster and
prints states/s and the bytes sent between workers per state, checking that every run finds
the same states and transitions. Worker counts above the machine's CPUs share them: they
show the partition counts and traffic of a larger cluster, not its speed.

Usage::

    python benchmarks/bench_distributed.py [BUNDLE] [--slots 16] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from arspec.model.distributed import SystemSpec, explore_distributed, start_ray
from arspec.model.engine import StoreMode, explore
from arspec.model.explore_bundle import build_system, check_explore_input, compile_checks
from arspec.spec.loader import load_bundle

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 if a run's counts differ from the single process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "examples/pairs_trading.yaml"))
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args(argv)
    bundle = load_bundle(args.bundle)
    horizon = check_explore_input(bundle, args.bundle, args.slots, None, None)
    system = build_system(bundle, args.bundle, horizon, compile_checks(bundle), cache=True)
    states, transitions = system.build_invariants()
    start = time.perf_counter()
    single = explore(system, invariants=states, transition_invariants=transitions,
                     stop_at_first_violation=False, canonicalize=system.canonicalize,
                     store=StoreMode.FINGERPRINT)
    wall = time.perf_counter() - start
    base = (single.stats.states, single.stats.transitions)
    print(f"{Path(args.bundle).name}, {horizon} slots, partial-order reduction off")
    print(f"1 process : {base[0]:,} states, {base[1]:,} transitions, {wall:.1f} s, "
          f"{base[0] / wall:,.0f} states/s")
    start_ray(max(args.workers), None)
    status = 0
    for workers in args.workers:
        spec = SystemSpec(args.bundle, horizon, True, True)
        start = time.perf_counter()
        result, stats = explore_distributed(spec, system, workers=workers)
        wall = time.perf_counter() - start
        got = (result.stats.states, result.stats.transitions)
        same = "same counts" if got == base else f"MISMATCH {got}"
        status |= got != base
        print(f"{workers} worker{'s' if workers > 1 else ' '}: {got[0]:,} states, {wall:.1f} s "
              f"(actor start included), {got[0] / wall:,.0f} states/s, "
              f"{stats.bytes_per_state(got[0]):.0f} bytes/state sent between workers, {same}")
    return status


if __name__ == "__main__":
    sys.exit(main())
