"""
Bundle exploration benchmark
============================

Explores ``examples/pairs_trading.yaml`` and ``benchmarks/scale_bundle.yaml`` (two timers, a
work queue, a 4 KiB ring buffer and a watcher), each in a fresh process, and prints side by
side: states, time, states/s, the seen-set's and the frontier's bytes per state, the peak
RSS, and the ratios to the explorer before compact states (figures measured on commit
``e788bc2`` with the same command, kept below).

The seen-set figure is the explorer's store estimate (fingerprint, parent, action index
and depth per state); the frontier figure is the mean deep size of a sample of explored
states (every object reachable from a state, the shared map definitions and preset
excluded), which is what each frontier entry holds.

Usage::

    python benchmarks/bench_explore_bundle.py [--pairs-slots 20] [--scale-slots 10]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "examples" / "pairs_trading.yaml"
SCALE = ROOT / "benchmarks" / "scale_bundle.yaml"

#: (bundle, slots) -> (states, CPU seconds of the exploration, peak RSS bytes) before compact
#: states (commit e788bc2, ``explore_bundle`` timed with ``time.process_time``).
BEFORE: dict[tuple[str, int], tuple[int, float, int]] = {
    ("pairs_trading.yaml", 16): (12_381, 2.15, 312_056 * 1024),
    ("pairs_trading.yaml", 20): (56_985, 9.56, 1_232_060 * 1024),
    ("scale_bundle.yaml", 10): (155_054, 48.73, 3_507_724 * 1024),
}


def deep_size(root: object, skip: set[int]) -> int:
    """Return the bytes of every object reachable from ``root`` not in ``skip`` (ids)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or id(obj) in skip or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def child(bundle: str, slots: int) -> dict[str, Any]:
    """Explore ``bundle`` in this process and return its figures."""
    import resource

    from arspec.model.engine import Bounds, FrontierCodec, Progress, StoreMode, explore
    from arspec.model.explore_bundle import build_system, check_explore_input, compile_checks
    from arspec.model.runtime_system import EnvironmentOrder
    from arspec.spec.loader import load_bundle

    loaded = load_bundle(bundle)
    horizon = check_explore_input(loaded, bundle, slots, None, None)
    system = build_system(loaded, bundle, horizon, compile_checks(loaded), cache=True)
    states, transitions = system.build_invariants()
    widest = [0]

    def progress(p: Progress) -> None:
        widest[0] = max(widest[0], p.frontier)

    # Shared by every state: the bundle's map definitions and the preset.
    initial = system.initial_states()[0].runtime
    skip = {id(m.definition) for m in initial.maps.values()} | {id(initial.preset)}
    sample: list[int] = []
    seen = [0]

    def tagger(state: Any) -> None:
        seen[0] += 1
        if len(sample) < 200 and seen[0] % 97 == 0:
            sample.append(deep_size(system.compact(state), skip))

    start = time.perf_counter()
    cpu = time.process_time()
    result = explore(system, invariants=states, transition_invariants=transitions,
                     bounds=Bounds(), stop_at_first_violation=False,
                     ample=EnvironmentOrder(system), canonicalize=system.canonicalize,
                     progress=progress, progress_every=1000, store=StoreMode.FINGERPRINT,
                     tagger=tagger, frontier_state=system.compact,
                     frontier_codec=FrontierCodec(system.pack_state, system.unpack_state))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    st = result.stats
    return {"states": st.states, "transitions": st.transitions, "seconds": seconds,
            "cpu": cpu, "verdict": result.verdict.value,
            "seen_per_state": st.memory_estimate_bytes / st.states,
            "frontier_per_state": sum(sample) / len(sample) if sample else 0.0,
            "widest_frontier": widest[0],
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def run_child(bundle: Path, slots: int) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter (its own peak RSS)."""
    done = subprocess.run([sys.executable, __file__, "--child", str(bundle), str(slots)],
                          check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run both bundles and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs-slots", type=int, default=20)
    parser.add_argument("--scale-slots", type=int, default=10)
    parser.add_argument("--child", nargs=2, metavar=("BUNDLE", "SLOTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    runs = [(PAIRS, args.pairs_slots), (SCALE, args.scale_slots)]
    results = [run_child(bundle, slots) for bundle, slots in runs]
    names = [f"{b.name} --slots {s}" for b, s in runs]
    width = max(len(n) for n in names) + 2
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cells: list[str]) -> None:
        rows.append((label, cells))

    row("verdict", [r["verdict"] for r in results])
    row("states", [f"{r['states']:,}" for r in results])
    row("transitions", [f"{r['transitions']:,}" for r in results])
    row("time (wall / cpu)", [f"{r['seconds']:.1f} s / {r['cpu']:.1f} s" for r in results])
    row("states/s (cpu)", [f"{r['states'] / r['cpu']:,.0f}" for r in results])
    row("seen-set bytes/state", [f"{r['seen_per_state']:.0f}" for r in results])
    row("frontier bytes/state", [f"{r['frontier_per_state']:,.0f}" for r in results])
    row("widest frontier", [f"{r['widest_frontier']:,}" for r in results])
    row("peak RSS", [f"{r['peak_rss'] / 2**20:,.0f} MB" for r in results])
    ratios_speed, ratios_rss = [], []
    for (bundle, slots), r in zip(runs, results, strict=True):
        before = BEFORE.get((bundle.name, slots))
        if before is None or before[0] != r["states"]:
            ratios_speed.append("n/a")
            ratios_rss.append("n/a")
            continue
        ratios_speed.append(f"{(r['states'] / r['cpu']) / (before[0] / before[1]):.1f}x")
        ratios_rss.append(f"{before[2] / r['peak_rss']:.1f}x less")
    row("states/s vs e788bc2 (cpu)", ratios_speed)
    row("peak RSS vs e788bc2", ratios_rss)
    label_width = max(len(label) for label, _ in rows) + 2
    print("".ljust(label_width) + "".join(n.ljust(width) for n in names))
    for label, cells in rows:
        print(label.ljust(label_width) + "".join(c.ljust(width) for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
