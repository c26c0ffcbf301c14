"""Benchmark: the time of every proof in ``proofs/`` and of every twin's refutation.

Run: ``python benchmarks/bench_proofs.py [REPEAT] [--write]``. Prints each invariant's
median wall time over ``REPEAT`` runs (default 3), its twins' times, and the totals; with
``--write`` the medians go to ``benchmarks/proofs_timings.json``, which the generated
proofs docs page shows (the page itself must build byte-identically).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from arspec.proofs.catalogue import SYSTEMS, check_twin
from arspec.proofs.core import prove_claim

TIMINGS = Path(__file__).resolve().parent / "proofs_timings.json"


def main() -> None:
    """Time every claim and twin and print (and optionally write) the medians."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeat = int(args[0]) if args else 3
    claims: dict[str, float] = {}
    twins: dict[str, float] = {}
    started = time.perf_counter()
    for system in SYSTEMS:
        for claim in system.claims:
            runs = [prove_claim(system, claim) for _ in range(repeat)]
            claims[claim.name] = round(statistics.median(r.seconds for r in runs), 2)
            print(f"{runs[0].verdict.value:<8} {claim.name:<28} {claims[claim.name]:6.2f} s")
        for twin in system.twins:
            checks = [check_twin(system, twin) for _ in range(repeat)]
            twins[twin.name] = round(statistics.median(c.result.seconds for c in checks), 2)
            state = "REFUTED+replayed" if all(c.confirmed for c in checks) else "NOT CONFIRMED"
            print(f"  twin {twin.name:<34} {twins[twin.name]:6.2f} s {state}")
    print(f"invariants total {sum(claims.values()):.2f} s (median per invariant), "
          f"slowest {max(claims.values()):.2f} s; twins total {sum(twins.values()):.2f} s; "
          f"wall {time.perf_counter() - started:.1f} s for {repeat} repeats")
    if "--write" in sys.argv:
        TIMINGS.write_text(json.dumps({"repeat": repeat, "invariants": claims, "twins": twins},
                                      indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
