"""
Verifier benchmark
==================

Verification time against program size: generated straight-line programs with stack and
input accesses (100 to 2,000 instructions) and single loops of growing constant bound.
Prints one line per size and the growth ratio time/size; run with
``python benchmarks/bench_verifier.py [--quick] [--bundles-only] [--limit SECONDS]``.

Two more curves go through the bundle verifier
(:func:`~arspec.checker.verify_bundle.verify_bundle`) on bundles generated into a temporary
directory, N = 1, 4, 16, 64, 128, 256 (1, 4, 16 with ``--quick``):

* ``bpf_loop`` callbacks: ``bpf_loop(N, cb, &sum, 0)`` with a literal N on a 14-instruction
  callback that adds its index to ``sum`` on the caller's stack through its ctx pointer
  (``r2``), looks up ``vals[index]`` (an array of N entries) and writes into it after the
  null check. The verifier unrolls the callback at the call up to
  :data:`~arspec.checker.callbacks.INLINE_COPIES` callback instructions in total, else it
  over-approximates the call and checks the callback on its own.
* the number iterator: ``bpf_iter_num_new(&it, 0, N)`` on the 8-aligned slot ``r10 - 16``, a
  ``bpf_iter_num_next`` loop whose 10-instruction body writes ``value[8 * cur]`` of a 1-entry
  array of ``8 * N``-byte values, and ``bpf_iter_num_destroy``. The executor unrolls the loop
  while (bound + 1) * body <= its ``unroll_limit``.

A control-flow curve builds the graph and loops (:func:`~arspec.checker.cfg.build_cfg`) of
programs of 10,000 to 260,000 instructions, one 3-iteration loop per 4 instructions
(``--quick``: up to 40,000): the pass is near-linear, so ``us/insn`` stays flat.

Every program is safe. Each line gives the wall time of ``verify_bundle``, the termination,
memory and compute verdicts and the worst-case compute units; a point within the unroll limit
must be PROVED on all three (else the run stops with ``AssertionError``). The full run adds,
per curve, the first N past the unroll limit, to show the over-approximation (not asserted).
Each point runs in a child process killed after ``--limit`` seconds (default 300): a point
that reaches it prints ``time limit`` and the larger N of that curve are skipped.
"""

from __future__ import annotations

import argparse
import inspect
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from arspec.checker.callbacks import INLINE_COPIES
from arspec.checker.cfg import build_cfg
from arspec.checker.objects import BundleExecutor
from arspec.checker.verdict import Property, Verdict
from arspec.checker.verifier import verify_program
from arspec.checker.verify_bundle import verify_bundle
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.instructions import Program
from arspec.spec.bundle import MAX_KV_SIZE

#: N of the two bundle curves (``--quick``: the first three).
BUNDLE_SIZES = (1, 4, 16, 64, 128, 256)
#: Default wall-clock limit of one bundle point, in seconds (``--limit``).
POINT_LIMIT = 300.0
#: z3 resource units per query given to ``verify_bundle``.
SOLVER_RLIMIT = 20_000_000
#: The properties a bundle line shows.
SHOWN = (Property.TERMINATION, Property.MEMORY, Property.COMPUTE)

#: The bpf_loop callback: ``*ctx += index; vals[index] = *ctx`` (continue; stop on NULL).
CALLBACK = (
    "r8 = *(u64 *)(r2 + 0)",        # r8 = *ctx (the caller's u64 at r10 - 8)
    "r8 += r1",                     # + index
    "*(u64 *)(r2 + 0) = r8",        # *ctx = r8
    "*(u32 *)(r10 - 4) = r1",       # u32 key = index (the callback's own stack)
    "r2 = r10",
    "r2 += -4",
    "r1 = map_idx(vals)",
    "call bpf_map_lookup_elem",     # r0 = &vals[index] or NULL
    "if r0 == 0 goto stop",
    "*(u64 *)(r0 + 0) = r8",        # vals[index] = *ctx
    "r0 = 0",                       # continue
    "exit",
    "stop:",
    "r0 = 1",                       # stop the loop
    "exit",
)
#: The body of the number-iterator loop, from its header to the back edge.
ITERATOR_BODY = (
    "r1 = r10",
    "r1 += -16",
    "call bpf_iter_num_next",       # r0 = &cur or NULL
    "if r0 == 0 goto done",
    "r1 = *(u32 *)(r0 + 0)",        # cur
    "r2 = r1",
    "r2 <<= 3",
    "r2 += r6",                     # &value[8 * cur]
    "*(u64 *)(r2 + 0) = r1",
    "goto loop",
)


def straight_line(n: int) -> str:
    """Return ``n`` instructions mixing stack stores/loads, ALU and guarded input loads."""
    lines = ["r0 = 0", "r6 = 0", "if r2 < 16 goto out"]
    i = 0
    while len(lines) < n - 2:
        slot = 8 * (1 + i % 60)
        lines += [f"r6 += {i % 7}", f"*(u64 *)(r10 - {slot}) = r6",
                  f"r3 = *(u64 *)(r10 - {slot})", f"r4 = *(u8 *)(r1 + {i % 16})",
                  "r0 += r4"]
        i += 1
    return "\n".join([*lines[:n - 2], "out:", "exit"])


def counted_loop(bound: int) -> str:
    """Return a loop summing ``bound`` bytes of the stack."""
    return "\n".join(["r0 = 0", "r1 = 0", "loop:", "r2 = r10", "r2 -= 8", "r3 = *(u8 *)(r2 + 0)",
                      "r0 += r3", "*(u8 *)(r2 + 0) = r0", "r1 += 1", f"if r1 < {bound} goto loop",
                      "exit"])


def many_loops(n: int) -> Program:
    """Return ``n`` instructions: a counted 3-iteration loop every 4 instructions."""
    lines = ["r0 = 0"]
    for i in range(n // 4):
        lines += ["r1 = 0", f"l{i}:", "r1 += 1", f"if r1 < 3 goto l{i}", "r0 += 1"]
    return assemble("\n".join([*lines, "exit"]) + "\n")


def cfg_curve(sizes: list[int]) -> None:
    """Print the control-flow pass time per size."""
    print("control flow and loops (one loop per 4 instructions)")
    print(f"{'insns':>7} {'seconds':>9} {'us/insn':>8}  loops")
    for n in sizes:
        program = many_loops(n)
        start = time.perf_counter()
        cfg = build_cfg(program)
        seconds = time.perf_counter() - start
        loops = sum(len(f.loops) for f in cfg.functions.values())
        print(f"{len(program):>7} {seconds:>9.2f} {1e6 * seconds / len(program):>8.1f}  {loops}")


def measure(text: str) -> tuple[float, str]:
    """Return seconds to verify ``text`` and its memory verdict."""
    program = assemble(text)
    start = time.perf_counter()
    report = verify_program(program, budget=1_000_000)
    elapsed = time.perf_counter() - start
    return elapsed, report.verdict(Property.MEMORY).value + (
        "" if report.verdict(Property.TERMINATION) is Verdict.PROVED else " (termination?)")


def _instructions(lines: tuple[str, ...]) -> int:
    """Return the instructions of ``lines`` (labels are not instructions)."""
    return sum(1 for line in lines if not line.endswith(":"))


#: Largest N whose bpf_loop is unrolled: INLINE_COPIES callback instructions in all.
CALLBACK_MAX = INLINE_COPIES // _instructions(CALLBACK)
#: Largest N whose iterator loop is unrolled: (N + 1) * body <= the executor's unroll limit.
ITERATOR_MAX = (int(inspect.signature(BundleExecutor).parameters["unroll_limit"].default)
                // _instructions(ITERATOR_BODY) - 1)


def _bundle(maps: str, code: list[str]) -> str:
    """Return a one-program ``linux`` bundle with the map line ``maps`` and ``code``."""
    return "\n".join(["arspec: 1", "profile: linux", "preset: linux_like", "maps:",
                      f"  {maps}", "programs:", "  p:", "    hook: {on: every, slots: 1}",
                      "    code: |", *(f"      {line}" for line in code),
                      "properties:", "  programs: [termination, memory, compute]", ""])


def loop_bundle(n: int) -> str:
    """Return a bundle calling ``bpf_loop(n, cb, &sum, 0)`` on :data:`CALLBACK`."""
    code = ["*(u64 *)(r10 - 8) = 0",        # u64 sum = 0
            f"r1 = {n}",
            "r2 = code_addr(cb)",
            "r3 = r10",
            "r3 += -8",                       # ctx = &sum
            "r4 = 0",
            "call bpf_loop",
            "r0 = 0",
            "exit",
            "cb:", *CALLBACK]
    return _bundle(f"vals: {{type: array, value_size: 8, max_entries: {n}}}", code)


def iterator_bundle(n: int) -> str:
    """Return a bundle writing ``value[8 * cur]`` for cur in 0 .. n - 1 with the iterator."""
    if not 1 <= 8 * n <= MAX_KV_SIZE:
        raise ValueError(f"value_size {8 * n} outside 1..{MAX_KV_SIZE}")
    code = ["*(u32 *)(r10 - 4) = 0",
            "r2 = r10",
            "r2 += -4",
            "r1 = map_idx(vals)",
            "call bpf_map_lookup_elem",
            "if r0 == 0 goto out",
            "r6 = r0",                        # r6 = &value
            "r1 = r10",
            "r1 += -16",                      # it = r10 - 16 (8-aligned)
            "r2 = 0",
            f"r3 = {n}",
            "call bpf_iter_num_new",          # bpf_iter_num_new(&it, 0, n)
            "loop:", *ITERATOR_BODY,
            "done:",
            "r1 = r10",
            "r1 += -16",
            "call bpf_iter_num_destroy",
            "out:",
            "r0 = 0",
            "exit"]
    return _bundle(f"vals: {{type: array, value_size: {8 * n}, max_entries: 1}}", code)


@dataclass
class BundlePoint:
    """One verified bundle: seconds, verdicts of :data:`SHOWN`, worst-case CU, first finding."""

    seconds: float
    verdicts: tuple[str, ...]
    worst_cu: int | None
    issue: str


def _verify_point(path: str, limit: float, out: Connection) -> None:
    """Child process: verify the bundle at ``path`` and send its figures as plain data."""
    start = time.perf_counter()
    result = verify_bundle(path, timeout=limit, rlimit=SOLVER_RLIMIT)
    seconds = time.perf_counter() - start
    report = result.programs[0].report
    issues = sorted((f for f in report.findings if f.property in SHOWN),
                    key=lambda f: SHOWN.index(f.property))
    issue = f"pc {issues[0].pc}: {issues[0].message}" if issues else ""
    out.send((seconds, tuple(report.verdict(p).value for p in SHOWN), report.worst_case_cu,
              issue))
    out.close()


def measure_bundle(path: Path, limit: float) -> BundlePoint | None:
    """Verify ``path`` in a child process; ``None`` if it took more than ``limit`` seconds."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_verify_point, args=(str(path), limit, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(limit):
            return None
        try:
            seconds, verdicts, worst, issue = receiver.recv()
        except EOFError:
            child.join()
            raise RuntimeError(f"verifying {path} failed (child exit code "
                               f"{child.exitcode})") from None
        return BundlePoint(seconds, verdicts, worst, issue)
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()


def bundle_curve(title: str, unit: str, make: Callable[[int], str], sizes: list[int],
                 most: int, folder: Path, limit: float) -> list[str]:
    """Print one bundle curve; unroll-limited points must be PROVED. Return time-outs."""
    print(title)
    print(f"{'N':>7} {'seconds':>9} {f'ms/{unit}':>8}  {'termination':<12}{'memory':<9}"
          f"{'compute':<9}{'worst CU':>8}  unrolled")
    stalled: list[str] = []
    for n in sizes:
        within = n <= most
        if within and stalled:
            print(f"{n:>7} {'-':>9} {'-':>8}  skipped: a smaller N reached the time limit")
            continue
        path = folder / f"{make.__name__}_{n}.yaml"
        path.write_text(make(n), encoding="utf-8")
        point = measure_bundle(path, limit)
        if point is None:
            stalled.append(f"{title.split(' (')[0]} N={n}")
            print(f"{n:>7} {f'>{limit:g}':>9} {'-':>8}  time limit reached")
            continue
        cu = "unknown" if point.worst_cu is None else str(point.worst_cu)
        print(f"{n:>7} {point.seconds:>9.2f} {1000 * point.seconds / n:>8.2f}  "
              f"{point.verdicts[0]:<12}{point.verdicts[1]:<9}{point.verdicts[2]:<9}{cu:>8}  "
              + ("yes" if within else f"no (N > {most})")
              + (f"; {point.issue}" if point.issue else ""), flush=True)
        if within and (any(v != Verdict.PROVED.value for v in point.verdicts)
                       or point.worst_cu is None):
            raise AssertionError(f"{make.__name__}({n}) is safe and within the unroll limit "
                                 f"but got {point.verdicts}, worst CU {cu}: {point.issue}")
    return stalled


def main(argv: list[str]) -> None:
    """Print the curves."""
    parser = argparse.ArgumentParser(description="Verifier time against program size.")
    parser.add_argument("--quick", action="store_true", help="fewer and smaller sizes")
    parser.add_argument("--bundles-only", action="store_true",
                        help="only the bpf_loop and number-iterator bundle curves")
    parser.add_argument("--limit", type=float, default=POINT_LIMIT, metavar="SECONDS",
                        help=f"wall-clock limit of one bundle point (default {POINT_LIMIT:g})")
    args = parser.parse_args(argv)
    quick = args.quick
    if not args.bundles_only:
        cfg_curve([10_000, 40_000] if quick else [10_000, 40_000, 100_000, 260_000])
        sizes = [100, 250, 500] if quick else [100, 250, 500, 1000, 1500, 2000]
        print("straight-line programs")
        print(f"{'insns':>7} {'seconds':>9} {'ms/insn':>8}  memory")
        for n in sizes:
            seconds, verdict = measure(straight_line(n))
            print(f"{n:>7} {seconds:>9.2f} {1000 * seconds / n:>8.2f}  {verdict}")
        print("loops of growing bound (7-instruction body)")
        print(f"{'bound':>7} {'seconds':>9} {'ms/iter':>8}  memory")
        for bound in ([10, 50] if quick else [10, 50, 100, 200, 400]):
            seconds, verdict = measure(counted_loop(bound))
            print(f"{bound:>7} {seconds:>9.2f} {1000 * seconds / bound:>8.2f}  {verdict}")
    sizes = list(BUNDLE_SIZES[:3] if quick else BUNDLE_SIZES)
    stalled: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_verifier_") as temp:
        folder = Path(temp)
        stalled += bundle_curve(
            f"bpf_loop callbacks ({_instructions(CALLBACK)}-instruction callback, "
            f"unrolled up to N = {CALLBACK_MAX})", "call", loop_bundle,
            sizes if quick else [*sizes, CALLBACK_MAX + 1], CALLBACK_MAX, folder, args.limit)
        stalled += bundle_curve(
            f"number iterator ({_instructions(ITERATOR_BODY)}-instruction loop body, "
            f"unrolled up to N = {ITERATOR_MAX})", "iter", iterator_bundle,
            sizes if quick else [*sizes, ITERATOR_MAX + 1], ITERATOR_MAX, folder, args.limit)
    if stalled:
        print(f"time limit ({args.limit:g} s) reached at: {', '.join(stalled)}")


if __name__ == "__main__":
    main(sys.argv[1:])
