"""``prove``: the spec's invariants by induction, one line (or JSON row) per invariant."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from arspec.cli.exit_codes import combine, exit_code_of

#: The ``format`` and ``version`` of ``prove --format json``.
PROVE_FORMAT = "arspec-prove"
PROVE_VERSION = 1


def run_prove(args: argparse.Namespace, out: TextIO) -> int:
    """Prove the named invariants (default all) and write one row per invariant."""
    from arspec.checker.solver import SolverConfig
    from arspec.proofs.catalogue import prove

    config = SolverConfig(rlimit=args.rlimit, timeout_ms=int(args.timeout * 1000))
    results = prove(args.names, config=config)
    rows = []
    for r in results:
        row: dict[str, object] = {"invariant": r.claim, "status": r.verdict.value,
                                  "obligations": r.obligations}
        if not args.no_timing:
            row["seconds"] = round(r.seconds, 3)
        if r.counterexample is not None:
            row["counterexample"] = r.counterexample.as_json()
        if r.reason:
            row["reason"] = r.reason
        rows.append(row)
    if args.format == "json":
        document = {"format": PROVE_FORMAT, "version": PROVE_VERSION, "results": rows}
        out.write(json.dumps(document, indent=2) + "\n")
    for row in rows if args.format == "text" else []:
        timing = "" if args.no_timing else f" {row['seconds']:.2f}s"
        line = f"{row['status']:<8} {row['invariant']}{timing} ({row['obligations']} obligations)"
        if "counterexample" in row:
            line += " counterexample: " + json.dumps(row["counterexample"], sort_keys=True)
        if "reason" in row:
            line += f" [{row['reason']}]"
        out.write(line + "\n")
    return combine(exit_code_of(r.verdict.value) for r in results)
