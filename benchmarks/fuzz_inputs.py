"""Fuzz every entry point of arspec in-process and report what broke.

Runs ``--count`` generated inputs (default 10**6): mutated bundles (loaded, run, verified,
explored), random bytecode (``exec``, ``disasm``, the conformance plugin), damaged assembly in
both syntaxes (``asm``, ``exec``), mutated clang objects (``disasm``, ``exec``), mutated
explorer traces (``replay``) and odd command lines. Prints each finding when it happens (the
input, then the traceback, hang or wrong exit code) and a summary with counts per kind, exit
codes, the slowest input and peak memory. Exit status 0 when nothing was found, 1 otherwise.

SIGTERM stops it after the current input, with the summary. Run it under ``nice``::

    nice python benchmarks/fuzz_inputs.py --count 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.driver import fuzz, peak_rss_mib, prepare
from tests.fuzz.harness import Finding, Tally


def _report(tally: Tally, seconds: float) -> str:
    problems: dict[str, int] = {"traceback": 0, "hang": 0, "wrong exit code": 0}
    for finding in tally.findings:
        problems[finding.problem] = problems.get(finding.problem, 0) + 1
    lines = [f"inputs: {tally.runs} in {seconds:.0f} s ({tally.runs / max(seconds, 1e-9):.0f}/s)",
             *(f"  {kind}: {n} ({tally.seconds_by_kind[kind] / n * 1000:.2f} ms each)"
               for kind, n in sorted(tally.by_kind.items())),
             "exit codes: " + ", ".join(f"{c}: {n}" for c, n in sorted(tally.by_code.items())),
             f"tracebacks: {problems['traceback']}", f"hangs: {problems['hang']}",
             f"wrong exit codes: {problems['wrong exit code']}",
             f"slowest input: {tally.slowest:.2f} s",
             f"peak memory (RSS): {peak_rss_mib():.0f} MiB"]
    return "\n".join(lines)


def _show(finding: Finding) -> str:
    return f"=== {finding.problem}\n{finding.case.show()}\n{finding.detail.rstrip()}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10**6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hang", type=float, default=10.0,
                        help="seconds after which one input counts as a hang")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long even before --count inputs")
    parser.add_argument("--memory-limit", type=float, default=3.0,
                        help="GiB of address space; an input needing more is a finding")
    args = parser.parse_args()
    limit = int(args.memory_limit * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with tempfile.TemporaryDirectory() as scratch:
        seeds = prepare(Path(scratch))
        print(f"seeds: {len(seeds.bundles)} bundles, {len(seeds.assembly)} assembly sources, "
              f"{len(seeds.objects)} ELF objects, trace: {seeds.trace is not None}", flush=True)
        start = time.monotonic()
        shown = 0

        class _Stream:
            def write(self, text: str) -> None:
                sys.stderr.write(text)

            def flush(self) -> None:
                sys.stderr.flush()

        stopping: list[bool] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(True))
        tally = Tally()
        chunk = 10_000
        done = 0
        while done < args.count and not stopping:
            part = fuzz(min(chunk, args.count - done), seed=args.seed * 1_000_003 + done,
                        seeds=seeds, hang_seconds=args.hang, stop=lambda: bool(stopping))
            done += part.runs
            tally.runs += part.runs
            for table, more in ((tally.by_kind, part.by_kind), (tally.by_code, part.by_code),
                                (tally.seconds_by_kind, part.seconds_by_kind)):
                for key, value in more.items():
                    table[key] = table.get(key, 0) + value  # type: ignore[index,operator]
            tally.slowest = max(tally.slowest, part.slowest)
            for finding in part.findings:
                tally.findings.append(finding)
                shown += 1
                if shown <= 50:
                    print(_show(finding), flush=True)
            elapsed = time.monotonic() - start
            _Stream().write(f"fuzz: {tally.runs} inputs, {len(tally.findings)} findings, "
                            f"{tally.runs / elapsed:.0f}/s, peak {peak_rss_mib():.0f} MiB\n")
            if args.seconds is not None and elapsed >= args.seconds:
                break
        print(_report(tally, time.monotonic() - start), flush=True)
    return 0 if not tally.findings else 1


if __name__ == "__main__":
    sys.exit(main())
