"""
Runtime benchmark
=================

Runs a pairs-trading-like bundle on the reference runtime: a timer re-arms every slot, reads
two oracle prices (the environment moves them), and writes the spread into a ring buffer; a
subscriber consumes each record and tail-calls a signal program, which tail-calls a logger
that counts signals in a map. A watcher on the oracle fires on large moves. Reports slots/s
and invocations/s, and the time spent inside the VM (``Vm.run``); ``--compare`` runs the
interpreter engine and the fast engine one after the other and prints both speed-ups (and,
when the native tier is active, the fast engine with it turned off: the Python tier).

Usage::

    python benchmarks/bench_runtime.py                 # 10,000 slots (target: under 10 s)
    python benchmarks/bench_runtime.py --slots 1000 --engine interpreter
    python benchmarks/bench_runtime.py --slots 3000 --compare
    python benchmarks/bench_runtime.py --bundle loop --slots 1000 --compare

``--bundle loop`` runs a ``solana`` program that loops around light and metered syscalls and
helpers (:attr:`HelperSpec.light <arspec.reference.vm.helpers.HelperSpec.light>`,
:attr:`HelperSpec.metered <arspec.reference.vm.helpers.HelperSpec.metered>`) instead.
"""

from __future__ import annotations

import argparse
import sys
import time

from arspec.reference.runtime.run_report import RunReport, render_json
from arspec.reference.runtime.runner import run_bundle
from arspec.reference.vm import native
from arspec.reference.vm.vm import ExecutionResult, Vm
from arspec.spec.loader import load_bundle_text

PROG_BASE = 0x100 << 32


def build_bundle(slots: int) -> str:
    """Return the benchmark bundle's YAML for a run of ``slots`` slots."""
    writes = "\n".join(
        f"    - {{slot: {s}, account: oracle, field: a, value: {1000 + (s * 37) % 101}}}"
        for s in range(1, slots, 3))
    tick_addr = f"{PROG_BASE + (1 << 32):#x}"
    return f"""
arspec: 1
name: bench-pairs
profile: linux
preset: linux_like
budgets: {{per_invocation: 20000, per_slot: 400000}}
accounts:
  oracle:
    size: 16
    fields:
      a: {{offset: 0, type: u64, init: 1000}}
      b: {{offset: 8, type: u64, init: 1000}}
maps:
  timers: {{type: array, value_size: 24, max_entries: 1, timer: 8}}
  spreads: {{type: ringbuf, max_entries: 4096}}
  chain: {{type: prog_array, max_entries: 2, entries: {{0: signal, 1: logger}}}}
  stats: {{type: array, value_size: 16, max_entries: 1}}
programs:
  start:
    hook: {{on: startup}}
    code: |
      *(u32 *)(r10 - 4) = 0
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r6 = r0
      r1 = r6
      r1 += 8
      r2 = map_idx(0) ll
      r3 = 1
      call 169
      r1 = r6
      r1 += 8
      r2 = {tick_addr} ll
      call 170
      r1 = r6
      r1 += 8
      r2 = 1
      r3 = 0
      call 171
      out:
      r0 = 0
      exit
  tick:
    hook: {{on: timer}}
    code: |
      r6 = r3
      r1 = r6
      r1 += 8
      r2 = 1
      r3 = 0
      call 171
      r1 = 0
      r2 = 0
      r3 = r10
      r3 += -16
      r4 = 16
      call 0x10001
      r1 = map_idx(1) ll
      r2 = 16
      r3 = 0
      call 131
      if r0 == 0 goto full
      r7 = r0
      r1 = *(u64 *)(r10 - 16)
      r2 = *(u64 *)(r10 - 8)
      r1 -= r2
      *(u64 *)(r7 + 0) = r1
      call 0x10000
      *(u64 *)(r7 + 8) = r0
      r1 = r7
      r2 = 0
      call 132
      full:
      r0 = 0
      exit
  follow:
    hook: {{on: ringbuf, map: spreads}}
    code: |
      r2 = map_idx(2) ll
      r3 = 0
      call 12
      r0 = 1
      exit
  signal:
    hook: {{on: tail_call}}
    code: |
      r6 = r1
      r2 = *(u64 *)(r6 + 0)
      r3 = 0
      r4 = 20
      loop:
      r3 += r2
      r4 -= 1
      if r4 != 0 goto loop
      r1 = r6
      r2 = map_idx(2) ll
      r3 = 1
      call 12
      r0 = 2
      exit
  logger:
    hook: {{on: tail_call}}
    code: |
      r6 = r1
      *(u32 *)(r10 - 4) = 0
      r1 = map_idx(3) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 + 0)
      r1 += 1
      *(u64 *)(r0 + 0) = r1
      r1 = *(u64 *)(r6 + 0)
      *(u64 *)(r0 + 8) = r1
      out:
      r0 = 0
      exit
  mover:
    hook: {{on: watch, account: oracle, field: a, op: change_bps, bps: 400}}
    code: |
      r1 = r10
      r1 += -8
      *(u64 *)(r10 - 8) = 0x6d6f7665
      r2 = 4
      call 0x10009
      r0 = 0
      exit
scenario:
  slots: {slots}
  writes:
{writes}
"""


def build_loop_bundle(slots: int) -> str:
    """Return a ``solana`` bundle whose program loops every slot around light syscalls and
    helpers (``sol_memcpy_``, ``sol_sha256``, ``arspec_account_read``) with stack accesses
    between them: what a program that copies and hashes account data does."""
    return f"""
arspec: 1
name: bench-light-loop
profile: solana
preset: linux_like
budgets: {{per_invocation: 200000, per_slot: 400000}}
accounts:
  oracle:
    size: 16
    fields:
      a: {{offset: 0, type: u64, init: 1000}}
      b: {{offset: 8, type: u64, init: 7}}
programs:
  digest:
    hook: {{on: every, slots: 1}}
    code: |
      *(u64 *)(r10 - 72) = 0
      *(u64 *)(r10 - 128) = 1
      r1 = r10
      r1 += -128
      *(u64 *)(r10 - 96) = r1
      *(u64 *)(r10 - 88) = 32
      r6 = 100
      loop:
      r1 = r10
      r1 += -64
      r2 = r10
      r2 += -128
      r3 = 32
      call sol_memcpy_
      r1 = 0
      r2 = 0
      r3 = r10
      r3 += -16
      r4 = 16
      call arspec_account_read
      r1 = *(u64 *)(r10 - 16)
      r2 = *(u64 *)(r10 - 64)
      r1 += r2
      r1 += r6
      *(u64 *)(r10 - 128) = r1
      r7 = r6
      r7 &= 15
      if r7 != 0 goto next
      r1 = r10
      r1 += -96
      r2 = 1
      r3 = r10
      r3 += -64
      call sol_sha256
      next:
      r6 -= 1
      if r6 != 0 goto loop
      r0 = 0
      exit
scenario:
  slots: {slots}
"""


BUNDLES = {"pairs": build_bundle, "loop": build_loop_bundle}


def timed_run(bundle_text: str, engine: str) -> tuple[RunReport, float, float]:
    """Run the bundle on ``engine``; return the report, the elapsed and the in-VM seconds."""
    bundle = load_bundle_text(bundle_text, filename="bench_runtime.yaml")
    inside = [0.0]
    plain_run = Vm.run

    def run(vm: Vm, entry_pc: int = 0, args: tuple[int, ...] = ()) -> ExecutionResult:
        start = time.perf_counter()
        try:
            return plain_run(vm, entry_pc, args)
        finally:
            inside[0] += time.perf_counter() - start

    Vm.run = run  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        report = run_bundle(bundle, engine=engine)
        elapsed = time.perf_counter() - started
    finally:
        Vm.run = plain_run  # type: ignore[method-assign]
    return report, elapsed, inside[0]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else "")
    parser.add_argument("--slots", type=int, default=10_000)
    parser.add_argument("--bundle", default="pairs", choices=sorted(BUNDLES),
                        help="pairs: the pairs-trading bundle; loop: a solana program "
                             "looping around light syscalls and helpers")
    parser.add_argument("--engine", default="auto", choices=("auto", "interpreter", "fast"))
    parser.add_argument("--compare", action="store_true",
                        help="run the interpreter and the fast engine; print both speed-ups")
    args = parser.parse_args(argv)
    text = BUNDLES[args.bundle](args.slots)
    if args.compare:
        slow, slow_elapsed, slow_vm = timed_run(text, "interpreter")
        fast, fast_elapsed, fast_vm = timed_run(text, "fast")
        same = render_json(slow) == render_json(fast)
        print(f"interpreter: {slow_elapsed:.2f} s, {slow_vm:.2f} s in the VM")
        print(f"fast:        {fast_elapsed:.2f} s, {fast_vm:.2f} s in the VM "
              f"({'native' if native.active() else 'Python'} tier)")
        print(f"speed-up:    {slow_elapsed / fast_elapsed:.2f}x overall, "
              f"{slow_vm / fast_vm:.2f}x in the VM; reports identical: {same}")
        if native.active():
            with native.tier(False):
                tier, tier_elapsed, tier_vm = timed_run(text, "fast")
            same_tier = render_json(slow) == render_json(tier)
            same = same and same_tier
            print(f"Python tier: {tier_elapsed:.2f} s, {tier_vm:.2f} s in the VM; "
                  f"{slow_elapsed / tier_elapsed:.2f}x overall, {slow_vm / tier_vm:.2f}x in "
                  f"the VM; report identical: {same_tier}")
        return 0 if same else 1
    report, elapsed, in_vm = timed_run(text, args.engine)
    totals = report.totals
    print(f"slots:          {totals.slots}")
    print(f"invocations:    {totals.invocations} ({totals.tail_calls} tail calls, "
          f"{totals.failures} rolled back)")
    print(f"records:        {totals.records_produced} produced, "
          f"{totals.records_consumed} consumed")
    print(f"compute units:  {totals.compute_units}")
    print(f"elapsed:        {elapsed:.2f} s (engine {args.engine})")
    print(f"in the VM:      {in_vm:.2f} s ({100 * in_vm / elapsed:.0f} %)")
    print(f"slots/s:        {totals.slots / elapsed:,.0f}")
    print(f"invocations/s:  {totals.invocations / elapsed:,.0f}")
    print(f"report bytes:   {len(render_json(report))}")
    expected = 2 * totals.slots - 2 if args.bundle == "pairs" else totals.slots
    if totals.failures or totals.invocations < expected:
        print("error: the benchmark bundle did not run as designed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
