"""
The 10^7-state run
==================

Explores ``benchmarks/scale_bundle.yaml`` (two timers, a work queue, a 4 KiB ring buffer and
a watcher) to the end at ``--slots`` (about 1.6x more states per slot: 788,722 at 13,
3,358,172 at 16) in this process, and prints: states, transitions, verdict, wall and CPU
time, states/s, the seen-set's bytes per state (fingerprint, parent, action index and
depth), the frontier's bytes per state (mean deep size of a sample of frontier states as
objects, and of the same states packed, which is how a wide level stores them), the widest
frontier, the peak RSS, and the ratio of states/s and bytes/state to the explorer before
compact states (the ``BEFORE`` figures of ``bench_explore_bundle.py``, commit ``e788bc2``).

Progress goes to stderr every ``--progress-every`` states (states, depth, frontier, RSS,
states/s), so a long run can be followed and, if stopped, its partial figures read off.
``--max-memory`` bounds the run (BOUND-REACHED instead of running out of memory).

Usage::

    nice python benchmarks/bench_explore_scale.py --slots 19 --max-memory 3.9G --pack-above 2000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_explore_bundle import BEFORE, SCALE, deep_size  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the exploration and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=19)
    parser.add_argument("--bundle", default=str(SCALE))
    parser.add_argument("--max-memory", default=None,
                        help="stop with BOUND-REACHED above this RSS (e.g. 3.9G)")
    parser.add_argument("--progress-every", type=int, default=250_000)
    parser.add_argument("--pack-above", type=int, default=20_000,
                        help="keep a level's states packed beyond this many (less memory)")
    args = parser.parse_args(argv)

    from arspec.model.engine import Bounds, FrontierCodec, Progress, StoreMode, explore
    from arspec.model.explore_bundle import build_system, check_explore_input, compile_checks
    from arspec.model.resources import get_resident_bytes, parse_size
    from arspec.model.runtime_system import EnvironmentOrder
    from arspec.spec.loader import load_bundle

    max_memory = parse_size(args.max_memory) if args.max_memory else None
    loaded = load_bundle(args.bundle)
    horizon = check_explore_input(loaded, args.bundle, args.slots, None, None)
    system = build_system(loaded, args.bundle, horizon, compile_checks(loaded), cache=True)
    states, transitions = system.build_invariants()
    widest = [0]
    next_print = [args.progress_every]
    cpu0 = time.process_time()

    def progress(p: Progress) -> None:
        widest[0] = max(widest[0], p.frontier)
        if p.states >= next_print[0]:
            next_print[0] += args.progress_every
            cpu = time.process_time() - cpu0
            print(f"  {p.states:,} states, {p.transitions:,} transitions, depth {p.depth}, "
                  f"frontier {p.frontier:,}, RSS {get_resident_bytes() / 2**20:,.0f} MB, "
                  f"{p.elapsed_seconds:,.0f} s wall, {cpu:,.0f} s cpu, "
                  f"{p.states / max(cpu, 1e-9):,.0f} states/s (cpu)", file=sys.stderr,
                  flush=True)

    initial = system.initial_states()[0].runtime
    skip = {id(m.definition) for m in initial.maps.values()} | {id(initial.preset)}
    objects: list[int] = []
    packed: list[int] = []
    seen = [0]

    def on_frontier(state: Any) -> Any:
        compact = system.compact(state)
        seen[0] += 1
        if len(objects) < 300 and seen[0] % 9973 == 0:
            objects.append(deep_size(compact, skip))
            packed.append(len(system.pack_state(compact)) + 33)  # bytes object header
        return compact

    start = time.perf_counter()
    result = explore(system, invariants=states, transition_invariants=transitions,
                     bounds=Bounds(max_memory_bytes=max_memory),
                     memory_in_use=get_resident_bytes if max_memory else None,
                     stop_at_first_violation=False, ample=EnvironmentOrder(system),
                     canonicalize=system.canonicalize, progress=progress,
                     progress_every=2000, store=StoreMode.FINGERPRINT,
                     frontier_state=on_frontier,
                     frontier_codec=FrontierCodec(system.pack_state, system.unpack_state,
                                                  pack_above=args.pack_above))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    st = result.stats
    rate = st.states / cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"bundle            {Path(args.bundle).name} --slots {args.slots}")
    print(f"verdict           {result.verdict.value}"
          + (f" ({result.bound})" if result.bound else ""))
    print(f"states            {st.states:,} (depth {st.max_depth})")
    print(f"transitions       {st.transitions:,}")
    print(f"time              {seconds:,.0f} s wall, {cpu:,.0f} s cpu")
    print(f"states/s (cpu)    {rate:,.0f}")
    print(f"seen-set          {st.memory_estimate_bytes / st.states:.0f} bytes/state")
    if objects:
        print(f"frontier          {sum(objects) / len(objects):,.0f} bytes/state as objects, "
              f"{sum(packed) / len(packed):,.0f} packed (mean of {len(objects)} states)")
    print(f"widest frontier   {widest[0]:,} states")
    print(f"peak RSS          {peak / 2**20:,.0f} MB ({peak / st.states:,.0f} bytes/state)")
    for (name, slots), (b_states, b_cpu, b_rss) in BEFORE.items():
        if name == "scale_bundle.yaml":
            print(f"vs e788bc2        {name} --slots {slots}: {b_states:,} states, "
                  f"{b_states / b_cpu:,.0f} states/s, {b_rss / b_states:,.0f} bytes/state "
                  f"peak -> now {rate / (b_states / b_cpu):.1f}x states/s, "
                  f"{(b_rss / b_states) / (peak / st.states):.1f}x fewer bytes/state")
    return 0


if __name__ == "__main__":
    sys.exit(main())
