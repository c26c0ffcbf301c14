"""
Kernel differential benchmark
=============================

Runs random programs over the whole ``linux`` instruction set
(:func:`arspec.reference.differential.kernel_diff.generate_kernel_case`) on arspec and in the
running
kernel (``bpf(2)``, ``BPF_PROG_TEST_RUN``), comparing the fold of every register and the
stack (the xor of its two 32-bit halves, one kernel run per program; ``--full`` compares all
64 bits with two runs), and prints the number of programs, divergences by class (with one
example each), programs the kernel refused and the time. Run with
``nice python benchmarks/diff_kernel.py [--programs N] [--seed S] [--full] [--progress N]``
as root; exit status 1
when a divergence was found, 3 when bpf(2) is not available here.
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import sys
import time

from arspec.reference.differential.kernel_bpf import kernel_available
from arspec.reference.differential.kernel_diff import (
    classify_kernel,
    compare_with_kernel,
    finish_folded,
    generate_kernel_case,
)
from arspec.reference.isa.disassembler import disassemble


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="arspec linux profile against the kernel")
    parser.add_argument("--programs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--full", action="store_true",
                        help="compare the whole 64-bit fold (two kernel runs per program)")
    parser.add_argument("--progress", type=int, default=0, metavar="N",
                        help="print the running figures every N programs")
    args = parser.parse_args(argv)
    available, reason = kernel_available()
    if not available:
        print(f"diff_kernel: the kernel oracle cannot run: {reason}")
        return 3
    rng = random.Random(args.seed)
    divergences: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    start = time.perf_counter()
    for i in range(args.programs):
        case = generate_kernel_case(rng)
        callee = i % 5 == 0
        outcome = compare_with_kernel(case, callee=callee, fold32=not args.full)
        if args.progress and (i + 1) % args.progress == 0:
            print(f"  ... {i + 1} programs, {sum(divergences.values())} divergences, "
                  f"{sum(refused.values())} refused, {time.perf_counter() - start:.0f} s",
                  flush=True)
        kinds[case.kind + (" + call" if callee else "")] += 1
        if outcome.note.startswith("kernel rejected"):
            refused[re.sub(r"\d+", "N", outcome.note.split(" | ")[0])] += 1
            continue
        found = classify_kernel(case, outcome)
        if found is not None:
            divergences[found] += 1
            examples.setdefault(found, disassemble(finish_folded(case.body, high_half=False,
                                                          callee=callee))
                                + f"arspec r0 {outcome.arspec} kernel r0 {outcome.kernel} "
                                  f"{outcome.note}")
    elapsed = time.perf_counter() - start
    print(f"programs: {args.programs} (seed {args.seed}), divergences: "
          f"{sum(divergences.values())}, refused by the kernel: {sum(refused.values())}, "
          f"time: {elapsed:.1f} s ({args.programs / elapsed:.0f} programs/s)")
    for name, count in divergences.most_common():
        print(f"  divergence {count:7} {name}\n{examples[name]}")
    for name, count in refused.most_common():
        print(f"  refused {count:7} {name}")
    print("programs by class:")
    for name, count in sorted(kinds.items()):
        print(f"  {count:7} {name}")
    return 1 if divergences else 0


if __name__ == "__main__":
    sys.exit(main())
