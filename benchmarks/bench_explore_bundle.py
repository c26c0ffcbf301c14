"""
Bundle exploration benchmark
============================

Explores ``examples/pairs_trading.yaml`` and ``benchmarks/scale_bundle.yaml`` (two timers, a
work queue, a 4 KiB ring buffer and a watcher), each in a fresh process, and prints side by
side: states, time, states/s, the seen-set's and the frontier's bytes per state, the peak
RSS, and the ratios to the explorer before compact states (figures measured on commit
``e788bc2`` with the same command, kept below). That explorer also told apart states whose
ring buffers differed only in records already consumed, bytes nothing reads
(:mod:`arspec.spec.ringbuf`); it explored more states for the same scenario, so the table
gives its state count and CPU time to the verdict next to the states per second.

The seen-set figure is the explorer's store estimate (fingerprint, parent, action index
and depth per state); the frontier figure is the mean deep size of a sample of explored
states (every object reachable from a state, the shared map definitions and preset
excluded), which is what each frontier entry holds.

With ``--work-slots N`` it then explores a third bundle (:data:`WORK_BUNDLE`, written to a
temporary file) whose programs do real work per invocation, once per VM engine: the
interpreter, the fast engine's Python tier and its native tier
(:mod:`arspec.reference.vm.native`), each in a fresh process, and prints states/s, the share
of the time spent inside the VM and the speed-ups over the interpreter. The two bundles
above run too few instructions per invocation for the engine to matter; this one shows
what it gains where it does. ``--work-only`` skips the two bundles above.

Usage::

    python benchmarks/bench_explore_bundle.py [--pairs-slots 20] [--scale-slots 10]
    python benchmarks/bench_explore_bundle.py --work-slots 10 --work-only
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
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


#: The work bundle (``solana``): every slot ``mixer`` loops 48 times around ``sol_memcpy_``
#: with loads, stores and arithmetic between the calls and a ``sol_sha256`` every 16 turns
#: (about 900 instructions and 50 metered syscalls), and folds the hashes into an account;
#: ``summer`` runs four checksum passes over a 256-byte map value (about 1,300 instructions,
#: no call inside the loop). The feed price is an environment domain, so every slot branches,
#: and both results depend on the path, so most invocations miss the invocation cache.
WORK_BUNDLE = """\
arspec: 1
name: explore-work
profile: solana
preset: linux_like
budgets: {per_invocation: 200000, per_slot: 400000}
accounts:
  feed:
    size: 8
    fields: {price: {offset: 0, type: u64, init: 1000}}
  book:
    size: 8
    fields: {digest: {offset: 0, type: u64}}
maps:
  blob: {type: array, value_size: 256, max_entries: 1}
programs:
  mixer:
    hook: {on: every, slots: 1}
    code: |
      r1 = 0
      r2 = 0
      r3 = r10
      r3 += -8
      r4 = 8
      call arspec_account_read
      r1 = 1
      r2 = 0
      r3 = r10
      r3 += -16
      r4 = 8
      call arspec_account_read
      *(u64 *)(r10 - 24) = 7
      r1 = r10
      r1 += -64
      *(u64 *)(r10 - 128) = r1
      *(u64 *)(r10 - 120) = 32
      r6 = 48
      loop:
      r1 = r10
      r1 += -64
      r2 = r10
      r2 += -24
      r3 = 24
      call sol_memcpy_
      r1 = *(u64 *)(r10 - 64)
      r2 = *(u64 *)(r10 - 56)
      r1 ^= r6
      r1 *= 0x9e3779b1
      r1 += r2
      *(u64 *)(r10 - 24) = r1
      r7 = r6
      r7 &= 15
      if r7 != 0 goto next
      r1 = r10
      r1 += -128
      r2 = 1
      r3 = r10
      r3 += -96
      call sol_sha256
      r1 = *(u64 *)(r10 - 96)
      r2 = *(u64 *)(r10 - 16)
      r2 ^= r1
      *(u64 *)(r10 - 16) = r2
      next:
      r6 -= 1
      if r6 != 0 goto loop
      r1 = 1
      r2 = 0
      r3 = r10
      r3 += -16
      r4 = 8
      call arspec_account_write
      r0 = 0
      exit
  summer:
    hook: {on: every, slots: 1}
    code: |
      *(u32 *)(r10 - 4) = 0
      r1 = map_idx(blob)
      r2 = r10
      r2 += -4
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      r6 = r0
      r1 = 1
      r2 = 0
      r3 = r10
      r3 += -16
      r4 = 8
      call arspec_account_read
      r7 = *(u64 *)(r10 - 16)
      r4 = 0
      r5 = 4
      pass:
      r1 = r6
      r2 = r6
      r2 += 256
      word:
      r3 = *(u64 *)(r1 + 0)
      r3 *= 31
      r3 += r7
      r3 ^= r4
      *(u64 *)(r1 + 0) = r3
      r4 += r3
      r4 <<= 1
      r1 += 8
      if r1 < r2 goto word
      r5 -= 1
      if r5 != 0 goto pass
      out:
      r0 = 0
      exit
scenario:
  slots: 20
  domains:
    feed.price: {values: [1000, 1100]}
"""
#: The engines the work bundle is explored with: (column, VM engine, native tier on).
ENGINES: tuple[tuple[str, str, bool], ...] = (
    ("interpreter", "interpreter", False), ("Python tier", "fast", False),
    ("native tier", "fast", True))


def engine_system(loaded: Any, bundle: str, horizon: int, engine: str) -> Any:
    """Return the bundle's runtime system as ``build_system`` makes it, on ``engine``
    (``interpreter``, ``python`` or ``native``)."""
    from arspec.model.bundle_system import compile_checks
    from arspec.model.runtime_system import CachingInvoker, RuntimeSystem
    from arspec.reference.runtime.runtime import ReferenceInvoker
    from arspec.reference.vm import native
    from arspec.spec import bundle as schema

    native.set_active(engine == "native")
    if engine == "native" and not native.active():
        raise SystemExit(f"error: {native.describe()}")
    inner = ReferenceInvoker(loaded, base_dir=Path(bundle).parent,
                             engine="interpreter" if engine == "interpreter" else "fast")
    invoker = CachingInvoker(inner, enabled=True,
                             include_seq=loaded.profile != schema.Profile.SOLANA)
    return RuntimeSystem(loaded, invoker, slots=horizon, checks=compile_checks(loaded))


def child(bundle: str, slots: int, engine: str | None = None) -> dict[str, Any]:
    """Explore ``bundle`` in this process (on ``engine``, else as the explorer does) and
    return its figures."""
    import resource

    from arspec.model.bundle_system import build_system, compile_checks
    from arspec.model.engine import Bounds, FrontierCodec, Progress, StoreMode, explore
    from arspec.model.explore_bundle import check_explore_input
    from arspec.model.runtime_system import EnvironmentOrder
    from arspec.reference.vm.vm import ExecutionResult, Vm
    from arspec.spec.loader import load_bundle

    loaded = load_bundle(bundle)
    horizon = check_explore_input(loaded, bundle, slots, None, None)
    if engine is None:
        system = build_system(loaded, bundle, horizon, compile_checks(loaded), cache=True)
    else:
        system = engine_system(loaded, bundle, horizon, engine)
    inside = [0.0, 0]
    plain_run = Vm.run

    def timed(vm: Vm, entry_pc: int = 0, args: tuple[int, ...] = ()) -> ExecutionResult:
        start = time.perf_counter()
        try:
            return plain_run(vm, entry_pc, args)
        finally:
            inside[0] += time.perf_counter() - start
            inside[1] += 1

    if engine is not None:
        Vm.run = timed  # type: ignore[method-assign, assignment]
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
            "cpu": cpu, "verdict": result.verdict.value, "in_vm": inside[0],
            "vm_runs": inside[1],
            "seen_per_state": st.memory_estimate_bytes / st.states,
            "frontier_per_state": sum(sample) / len(sample) if sample else 0.0,
            "widest_frontier": widest[0],
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def run_child(bundle: Path, slots: int, engine: str | None = None) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter (its own peak RSS)."""
    extra = [] if engine is None else ["--child-engine", engine]
    done = subprocess.run([sys.executable, __file__, "--child", str(bundle), str(slots), *extra],
                          check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run both bundles and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs-slots", type=int, default=20)
    parser.add_argument("--scale-slots", type=int, default=10)
    parser.add_argument("--work-slots", type=int, default=0,
                        help="also explore the work bundle this many slots on each engine")
    parser.add_argument("--work-only", action="store_true",
                        help="skip the pairs trading and scale bundles")
    parser.add_argument("--child", nargs=2, metavar=("BUNDLE", "SLOTS"), help=argparse.SUPPRESS)
    parser.add_argument("--child-engine", choices=("interpreter", "python", "native"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.child_engine)))
        return 0
    if args.work_only and args.work_slots <= 0:
        parser.error("--work-only needs --work-slots N (N > 0)")
    if not args.work_only:
        print_bundles(args.pairs_slots, args.scale_slots)
    if args.work_slots > 0:
        if not args.work_only:
            print()
        print_work(args.work_slots)
    return 0


def print_work(slots: int) -> None:
    """Explore the work bundle on each engine and print the table."""
    from arspec.reference.vm import native

    engines = [(name, "interpreter" if vm == "interpreter" else "native" if on else "python")
               for name, vm, on in ENGINES if not on or native.available()]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "explore_work.yaml"
        path.write_text(WORK_BUNDLE)
        results = [run_child(path, slots, engine) for _, engine in engines]
    names = [name for name, _ in engines]
    rows = [
        ("verdict", [r["verdict"] for r in results]),
        ("states", [f"{r['states']:,}" for r in results]),
        ("VM runs", [f"{r['vm_runs']:,}" for r in results]),
        ("time (wall / cpu)", [f"{r['seconds']:.1f} s / {r['cpu']:.1f} s" for r in results]),
        ("in the VM (wall)", [f"{r['in_vm']:.2f} s ({100 * r['in_vm'] / r['seconds']:.0f} %)"
                              for r in results]),
        ("states/s (cpu)", [f"{r['states'] / r['cpu']:,.0f}" for r in results]),
        ("speed-up (cpu)", [f"{results[0]['cpu'] / r['cpu']:.2f}x" for r in results]),
        ("speed-up in the VM", [f"{results[0]['in_vm'] / r['in_vm']:.2f}x" for r in results]),
    ]
    width = max(len(n) for n in names) + 4
    title = f"explore_work.yaml --slots {slots}"
    label_width = max(len(title), *(len(label) for label, _ in rows)) + 2
    print(title.ljust(label_width) + "".join(n.ljust(width) for n in names))
    for label, cells in rows:
        print(label.ljust(label_width) + "".join(c.ljust(width) for c in cells))
    if len({r["states"] for r in results}) != 1:
        raise SystemExit("error: the engines explored different state counts")


def print_bundles(pairs_slots: int, scale_slots: int) -> None:
    """Explore the pairs trading and scale bundles and print the table."""
    runs = [(PAIRS, pairs_slots), (SCALE, scale_slots)]
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
    ratios: dict[str, list[str]] = {"states": [], "speed": [], "time": [], "rss": []}
    for (bundle, slots), r in zip(runs, results, strict=True):
        before = BEFORE.get((bundle.name, slots))
        if before is None:
            for cells in ratios.values():
                cells.append("n/a")
            continue
        ratios["states"].append(f"{before[0]:,} ({before[0] / r['states']:.1f}x more)")
        ratios["speed"].append(f"{(r['states'] / r['cpu']) / (before[0] / before[1]):.1f}x")
        ratios["time"].append(f"{before[1]:.1f} s ({before[1] / r['cpu']:.1f}x less)")
        ratios["rss"].append(f"{before[2] / r['peak_rss']:.1f}x less")
    row("states at e788bc2", ratios["states"])
    row("states/s vs e788bc2 (cpu)", ratios["speed"])
    row("time at e788bc2 (cpu)", ratios["time"])
    row("peak RSS vs e788bc2", ratios["rss"])
    label_width = max(len(label) for label, _ in rows) + 2
    print("".ljust(label_width) + "".join(n.ljust(width) for n in names))
    for label, cells in rows:
        print(label.ljust(label_width) + "".join(c.ljust(width) for c in cells))


if __name__ == "__main__":
    sys.exit(main())
