"""
Interleaving benchmark
======================

Times ``spec-check interleave`` (:mod:`arspec.model.interleave`) on the counter examples: the
unprotected read-modify-write (a violation found early), the ``bpf_spin_lock`` twin and the
``lock xadd`` twin, for 2, 3 and 4 invocations. Prints states, the verdict and seconds per
run; the search is stateless (schedule prefixes are re-run), so the time grows with states
times depth.

Usage::

    python benchmarks/bench_interleave.py                 # 2 and 3 invocations
    python benchmarks/bench_interleave.py --invocations 4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from arspec.model.interleave import explore_interleavings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CASES = ("broken_spin_lock_unprotected.yaml", "counter_spin_lock.yaml", "counter_xadd.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--invocations", type=int, default=3,
                        help="run 2..N invocations (default 3)")
    args = parser.parse_args()
    print(f"{'bundle':<36} {'n':>2} {'states':>8} {'verdict':<14} {'seconds':>8}")
    for count in range(2, args.invocations + 1):
        for name in CASES:
            start = time.perf_counter()
            result = explore_interleavings(str(EXAMPLES / name), "tick", invocations=count)
            took = time.perf_counter() - start
            print(f"{name:<36} {count:>2} {result.states:>8} {result.verdict:<14} "
                  f"{took:>8.2f}")


if __name__ == "__main__":
    main()
