"""Benchmark: the time of every proof in ``proofs/`` and of every twin's refutation.

Run: ``python benchmarks/bench_proofs.py [REPEAT] [--write]``. Prints each invariant's
median wall time and CPU time over ``REPEAT`` runs (default 3), its twins' times, and the
totals; with ``--write`` the medians go to ``benchmarks/proofs_timings.json``, which the
generated proofs docs page shows (the page itself must build byte-identically). z3 runs in
this process, so the CPU time is the solver's too: on a shared, loaded machine it is the
figure that stays put, and on an idle one the wall time matches it.
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
    figures: dict[str, dict[str, float]] = {
        "invariants": {}, "invariants_cpu": {}, "twins": {}, "twins_cpu": {}}
    started = time.perf_counter()
    for system in SYSTEMS:
        for claim in system.claims:
            wall, cpu, verdict = [], [], ""
            for _ in range(repeat):
                before = time.process_time()
                result = prove_claim(system, claim)
                cpu.append(time.process_time() - before)
                wall.append(result.seconds)
                verdict = result.verdict.value
            figures["invariants"][claim.name] = round(statistics.median(wall), 2)
            figures["invariants_cpu"][claim.name] = round(statistics.median(cpu), 2)
            print(f"{verdict:<8} {claim.name:<28} {statistics.median(wall):6.2f} s wall "
                  f"{statistics.median(cpu):6.2f} s CPU")
        for twin in system.twins:
            wall, cpu, confirmed = [], [], True
            for _ in range(repeat):
                before = time.process_time()
                checked = check_twin(system, twin)
                cpu.append(time.process_time() - before)
                wall.append(checked.result.seconds)
                confirmed = confirmed and checked.confirmed
            figures["twins"][twin.name] = round(statistics.median(wall), 2)
            figures["twins_cpu"][twin.name] = round(statistics.median(cpu), 2)
            state = "REFUTED+replayed" if confirmed else "NOT CONFIRMED"
            print(f"  twin {twin.name:<34} {statistics.median(wall):6.2f} s wall "
                  f"{statistics.median(cpu):6.2f} s CPU {state}")
    for kind in ("invariants", "invariants_cpu", "twins", "twins_cpu"):
        values = figures[kind].values()
        print(f"{kind}: total {sum(values):.2f} s, slowest {max(values):.2f} s (medians)")
    print(f"wall {time.perf_counter() - started:.1f} s for {repeat} repeats")
    if "--write" in sys.argv:
        TIMINGS.write_text(json.dumps({"repeat": repeat, **figures}, indent=2,
                                      sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
