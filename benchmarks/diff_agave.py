"""
Agave differential benchmark
============================

Runs random SBPFv0 programs (:func:`arspec.reference.differential.agave_diff.generate_case`) on
arspec's
``solana`` profile and on Agave's VM inside LiteSVM (``solders``), and prints the number of
programs, the divergences by class (with one example each), the outcomes seen by class and
the time. Run with ``nice python benchmarks/diff_agave.py [--programs N] [--seed S]``;
exit status 1 when a divergence was found, 3 when ``solders`` is missing.
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import sys
import time


def outcome_class(refused: bool, status: str) -> str:
    """Return a short class of an outcome: numbers, addresses and texts folded away."""
    if refused:
        return "refused at load"
    status = status.split(" at address ")[0].split(" at BPF")[0]
    status = re.sub(r"(Panicked in|sequence of|byte sequence from).*", r"\1 ...", status)
    return re.sub(r"-?\d+", "N", status)[:70]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--programs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    try:
        from arspec.reference.differential.agave_diff import (
            AgaveOracle,
            classify,
            generate_case,
            run_arspec,
        )
        oracle = AgaveOracle()
    except ImportError as err:
        print(f"diff_agave: the Agave oracle cannot run: {err}")
        return 3
    rng = random.Random(args.seed)
    clock = oracle.clock()
    divergences: collections.Counter[str] = collections.Counter()
    seen: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    start = time.perf_counter()
    for i in range(args.programs):
        case = generate_case(rng)
        program_id = oracle.program_id()
        ours, theirs = run_arspec(case, clock, program_id), oracle.run(case, program_id)
        seen[outcome_class(theirs.refused, theirs.status)] += 1
        found = classify(ours, theirs)
        if found is not None:
            divergences[found] += 1
            examples.setdefault(found, f"program {i} ({case.kind}): text {case.text.hex()} "
                                       f"sites {case.sites} data {case.data.hex()} "
                                       f"limit {case.limit}\n    arspec {ours}"
                                       f"\n    agave  {theirs}")
    elapsed = time.perf_counter() - start
    print(f"programs: {args.programs} (seed {args.seed}), divergences: "
          f"{sum(divergences.values())}, time: {elapsed:.1f} s "
          f"({args.programs / elapsed:.0f} programs/s)")
    for name, count in divergences.most_common():
        print(f"  divergence {count:7} {name}\n    {examples[name]}")
    print("outcomes (Agave's):")
    for name, count in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:7} {name}")
    return 1 if divergences else 0


if __name__ == "__main__":
    sys.exit(main())
