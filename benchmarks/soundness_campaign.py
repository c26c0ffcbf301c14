"""Soundness campaign: verify thousands of generated bundles and hold every verdict to the runtime.

Usage::

    python benchmarks/soundness_campaign.py [--programs 10000] [--seed 0] [--timeout 5]
        [--states 3] [--slots 3] [--show-unsound 20]

Each case is drawn by ``tests/checker/campaign.py`` (:func:`generate_case`) and checked by
:func:`check_case`: every REFUTED finding must have replayed, and no run of the reference
runtime over several initial map states may contradict a PROVED verdict (a fault, more
compute units than the PROVED figure, two runs that differ with determinism PROVED).
Prints programs, load errors, bundles by exit code, verdicts by value over every
(program, property) pair, REFUTED findings (all replayed), unsound verdicts (must be 0),
the time, and the ten slowest cases. Exits 1 if any verdict was unsound.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "checker"))

from campaign import Outcome, check_case, generate_case

from arspec.checker.verdict import Verdict


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the campaign and print its figures; return 1 if a verdict was unsound."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--timeout", type=float, default=5.0, help="verifier time limit (s)")
    parser.add_argument("--states", type=int, default=3, help="initial map states per case")
    parser.add_argument("--slots", type=int, default=3, help="slots per runtime run")
    parser.add_argument("--show-unsound", type=int, default=20)
    parser.add_argument("--progress", type=int, default=500, help="print every N cases (0: off)")
    args = parser.parse_args(argv)
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    # SIGTERM (or Ctrl-C) ends the run early; the figures then cover the cases done.
    signal.signal(signal.SIGTERM, _stop)
    try:
        with tempfile.TemporaryDirectory() as work:
            for seed in range(args.seed, args.seed + args.programs):
                outcomes.append(check_case(generate_case(seed), Path(work),
                                           timeout=args.timeout, states=args.states,
                                           slots=args.slots))
                if args.progress and len(outcomes) % args.progress == 0:
                    bad = sum(1 for o in outcomes if o.unsound)
                    print(f"... {len(outcomes)} cases, {bad} unsound, "
                          f"{time.perf_counter() - start:.0f} s", flush=True)
    except KeyboardInterrupt:
        print(f"stopped early after {len(outcomes)} of {args.programs} cases")
    elapsed = time.perf_counter() - start
    verified = [o for o in outcomes if o.load_error is None]
    exits: dict[int, int] = {}
    for o in verified:
        assert o.exit_code is not None
        exits[o.exit_code] = exits.get(o.exit_code, 0) + 1
    counts = {v: sum(o.verdicts.get(v, 0) for o in verified) for v in Verdict}
    unsound = [o for o in outcomes if o.unsound]
    last = args.seed + len(outcomes) - 1
    print(f"programs: {len(outcomes)} bundles (seeds {args.seed}..{last})")
    print(f"load errors (exit 2): {len(outcomes) - len(verified)}")
    print("bundles by exit code: " + ", ".join(f"{k}: {exits[k]}" for k in sorted(exits)))
    print(f"PROVED: {counts[Verdict.PROVED]}  REFUTED: {counts[Verdict.REFUTED]}  "
          f"UNKNOWN: {counts[Verdict.UNKNOWN]}  (program x property verdicts)")
    print(f"REFUTED findings: {sum(o.refuted for o in verified)} (every one replayed "
          "unless listed as unsound)")
    print(f"unsound: {len(unsound)}")
    for o in unsound[:args.show_unsound]:
        print(f"  seed {o.seed}: {'; '.join(o.unsound[:3])}")
    print(f"time: {elapsed:.1f} s ({elapsed / max(len(outcomes), 1) * 1000:.0f} ms per case)")
    print("slowest ten cases (verification time):")
    for o in sorted(outcomes, key=lambda o: (-o.seconds, o.seed))[:10]:
        print(f"  seed {o.seed}: {o.seconds:.2f} s")
    return 1 if unsound else 0


if __name__ == "__main__":
    sys.exit(main())
