"""
Verifier benchmark
==================

Verification time against program size: generated straight-line programs with stack and
input accesses (100 to 2,000 instructions) and single loops of growing constant bound.
Prints one line per size and the growth ratio time/size; run with
``python benchmarks/bench_verifier.py [--quick]``.
"""

from __future__ import annotations

import sys
import time

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verifier import verify_program
from arspec.reference.assembler import assemble


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


def measure(text: str) -> tuple[float, str]:
    """Return seconds to verify ``text`` and its memory verdict."""
    program = assemble(text)
    start = time.perf_counter()
    report = verify_program(program, budget=1_000_000)
    elapsed = time.perf_counter() - start
    return elapsed, report.verdict(Property.MEMORY).value + (
        "" if report.verdict(Property.TERMINATION) is Verdict.PROVED else " (termination?)")


def main(argv: list[str]) -> None:
    """Print the two curves."""
    quick = "--quick" in argv
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


if __name__ == "__main__":
    main(sys.argv[1:])
