"""Fuzz every entry point of arspec in-process and report what broke.

Runs ``--count`` generated inputs (default 10**6): mutated bundles (loaded, run, verified,
explored), random bytecode (``exec``, ``disasm``, the conformance plugin), damaged assembly in
both syntaxes (``asm``, ``exec``), mutated clang objects (``disasm``, ``exec``), mutated
explorer traces (``replay``) and odd command lines. Prints each finding when it happens (the
input, then the traceback, hang or wrong exit code) and a summary with counts per kind, exit
codes, the slowest input and peak memory. Exit status 0 when nothing was found, 1 otherwise.

The inputs come in chunks of ``--chunk``; chunk ``i`` of seed ``s`` is the same inputs
whatever ``--jobs`` is, so a finding is reproduced by its seed and chunk. ``--jobs N`` runs
chunks on N worker processes. ``--log FILE`` appends one JSON line per finished chunk (its
counts, peak memory, time and the commit it ran on), so the totals of a long run survive an
interruption; ``--totals FILE`` sums such a log.

SIGTERM stops it after the current chunks, with the summary. Run it under ``nice``::

    nice python benchmarks/fuzz_inputs.py --count 1000000 --seed 1 --jobs 2 --log fuzz.log
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz.driver import fuzz, peak_rss_mib, prepare  # noqa: E402
from tests.fuzz.harness import Finding, Tally  # noqa: E402
from tests.fuzz.inputs import GENERATORS, Seeds  # noqa: E402

_SEEDS: Seeds | None = None
_HANG = 10.0
_ONLY: list[str] | None = None
_STOPPING: list[bool] = []


def _report(tally: Tally, seconds: float, peak_mib: float) -> str:
    problems = _problems(tally)
    lines = [f"inputs: {tally.runs} in {seconds:.0f} s ({tally.runs / max(seconds, 1e-9):.0f}/s)",
             *(f"  {kind}: {n} ({tally.seconds_by_kind[kind] / n * 1000:.2f} ms each)"
               for kind, n in sorted(tally.by_kind.items())),
             "exit codes: " + ", ".join(f"{c}: {n}" for c, n in sorted(tally.by_code.items())),
             f"tracebacks: {problems['traceback']}", f"hangs: {problems['hang']}",
             f"wrong exit codes: {problems['wrong exit code']}",
             f"slowest input: {tally.slowest:.2f} s",
             f"peak memory (RSS of one process): {peak_mib:.0f} MiB"]
    return "\n".join(lines)


def _problems(tally: Tally) -> dict[str, int]:
    problems: dict[str, int] = {"traceback": 0, "hang": 0, "wrong exit code": 0}
    for finding in tally.findings:
        problems[finding.problem] = problems.get(finding.problem, 0) + 1
    return problems


def _show(finding: Finding) -> str:
    return f"=== {finding.problem}\n{finding.case.show()}\n{finding.detail.rstrip()}\n"


def _merge(total: Tally, part: Tally) -> None:
    total.runs += part.runs
    for kind, n in part.by_kind.items():
        total.by_kind[kind] = total.by_kind.get(kind, 0) + n
    for code, n in part.by_code.items():
        total.by_code[code] = total.by_code.get(code, 0) + n
    for kind, seconds in part.seconds_by_kind.items():
        total.seconds_by_kind[kind] = total.seconds_by_kind.get(kind, 0.0) + seconds
    total.slowest = max(total.slowest, part.slowest)
    total.findings.extend(part.findings)


def _commit() -> str:
    """Return the checked-out commit, with ``+dirty`` when tracked files differ from it (in
    an exported copy of the tree, which is no repository, the contents of ``.commit``)."""
    if (ROOT / ".commit").is_file():
        return (ROOT / ".commit").read_text().strip()

    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def _run_chunk(job: tuple[int, int, int]) -> tuple[int, Tally, float, float]:
    """Run chunk ``index`` (``count`` inputs of ``seed``); return it with peak MiB and time."""
    seed, index, count = job
    if _STOPPING:
        return index, Tally(), peak_rss_mib(), 0.0
    assert _SEEDS is not None
    start = time.monotonic()
    part = fuzz(count, seed=seed * 1_000_003 + index, seeds=_SEEDS, hang_seconds=_HANG,
                stop=lambda: bool(_STOPPING), only=_ONLY)
    return index, part, peak_rss_mib(), time.monotonic() - start


def _worker_init(limit: int) -> None:
    import faulthandler

    faulthandler.enable()
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool ends its workers this way


def _chunks(args: argparse.Namespace) -> list[tuple[int, int, int]]:
    jobs = []
    for start in range(0, args.count, args.chunk):
        jobs.append((args.seed, start, min(args.chunk, args.count - start)))
    return jobs


def _results(args: argparse.Namespace, limit: int) -> Iterator[tuple[int, Tally, float, float]]:
    jobs = _chunks(args)
    if args.jobs == 1:
        _worker_init(limit)
        for job in jobs:
            if _STOPPING:
                return
            yield _run_chunk(job)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(args.jobs, initializer=_worker_init, initargs=(limit,)) as pool:
        for result in pool.imap_unordered(_run_chunk, jobs):
            yield result
            if _STOPPING:  # SIGTERM: the chunks still running are dropped, not logged
                break


def _log_line(args: argparse.Namespace, commit: str, index: int, part: Tally, peak: float,
              seconds: float) -> str:
    problems = _problems(part)
    return json.dumps({
        "seed": args.seed, "chunk": index, "commit": commit, "inputs": part.runs,
        "only": args.only or "all",
        "by_kind": dict(sorted(part.by_kind.items())),
        "by_code": {str(c): n for c, n in sorted(part.by_code.items())},
        "tracebacks": problems["traceback"], "hangs": problems["hang"],
        "wrong_exit_codes": problems["wrong exit code"], "slowest": round(part.slowest, 3),
        "peak_mib": round(peak), "seconds": round(seconds, 1),
        "cpu_seconds": round(sum(part.seconds_by_kind.values()), 1)}, sort_keys=True)


def totals(path: Path) -> str:
    """Return the summed counts of a ``--log`` file, per commit and overall."""
    by_commit: dict[str, dict[str, Any]] = {}
    every: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        for table in (by_commit.setdefault(row["commit"], {}), every):
            for key in ("inputs", "tracebacks", "hangs", "wrong_exit_codes", "seconds"):
                table[key] = table.get(key, 0) + row[key]
            table["peak_mib"] = max(table.get("peak_mib", 0), row["peak_mib"])
            table["slowest"] = max(table.get("slowest", 0.0), row["slowest"])
            kinds = table.setdefault("by_kind", {})
            for kind, n in row["by_kind"].items():
                kinds[kind] = kinds.get(kind, 0) + n
            table.setdefault("seeds", set()).add(row["seed"])
    lines = []
    for name, table in [*sorted(by_commit.items()), ("all", every)]:
        lines.append(f"{name}: {table['inputs']} inputs (seeds "
                     f"{', '.join(map(str, sorted(table['seeds'])))}), tracebacks "
                     f"{table['tracebacks']}, hangs {table['hangs']}, wrong exit codes "
                     f"{table['wrong_exit_codes']}, peak {table['peak_mib']} MiB, slowest "
                     f"{table['slowest']:.2f} s, {table['seconds']:.0f} worker-seconds")
        lines.append("  " + ", ".join(f"{k}: {n}" for k, n in sorted(table["by_kind"].items())))
    return "\n".join(lines)


def main() -> int:
    global _SEEDS, _HANG, _ONLY
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10**6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=5000, help="inputs per chunk")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--hang", type=float, default=10.0,
                        help="CPU seconds after which one input counts as a hang (or six "
                             "times as many wall-clock seconds)")
    parser.add_argument("--memory-limit", type=float, default=3.0,
                        help="GiB of address space per process; an input needing more is a "
                             "finding")
    parser.add_argument("--only", default=None, metavar="NAMES",
                        help="comma-separated generators to use (default all: "
                             f"{','.join(GENERATORS)})")
    parser.add_argument("--log", type=Path, default=None,
                        help="append one JSON line per finished chunk here")
    parser.add_argument("--totals", type=Path, default=None, metavar="LOG",
                        help="print the summed counts of a --log file and exit")
    args = parser.parse_args()
    if args.totals is not None:
        print(totals(args.totals))
        return 0
    if args.count < 1 or args.chunk < 1 or args.jobs < 1:
        parser.error("--count, --chunk and --jobs must be positive")
    _HANG = args.hang
    if args.only is not None:
        _ONLY = args.only.split(",")
        if not _ONLY or not set(_ONLY) <= set(GENERATORS):
            parser.error(f"--only takes names among {','.join(GENERATORS)}")
    limit = int(args.memory_limit * 2**30)
    commit = _commit()
    signal.signal(signal.SIGTERM, lambda signum, frame: _STOPPING.append(True))
    with tempfile.TemporaryDirectory() as scratch:
        _SEEDS = prepare(Path(scratch))
    print(f"seeds: {len(_SEEDS.bundles)} bundles, {len(_SEEDS.assembly)} assembly sources, "
          f"{len(_SEEDS.objects)} ELF objects, trace: {_SEEDS.trace is not None}; commit "
          f"{commit}, seed {args.seed}, {args.jobs} jobs, generators {args.only or 'all'}",
          flush=True)
    start = time.monotonic()
    tally = Tally()
    peak = 0.0
    shown = 0
    for index, part, part_peak, seconds in _results(args, limit):
        _merge(tally, part)
        peak = max(peak, part_peak)
        for finding in part.findings:
            shown += 1
            if shown <= 50:
                print(_show(finding), flush=True)
        if args.log is not None and part.runs:
            with args.log.open("a") as log:
                log.write(_log_line(args, commit, index, part, part_peak, seconds) + "\n")
        elapsed = time.monotonic() - start
        sys.stderr.write(f"fuzz: {tally.runs} inputs, {len(tally.findings)} findings, "
                         f"{tally.runs / elapsed:.0f}/s, peak {peak:.0f} MiB\n")
    print(_report(tally, time.monotonic() - start, peak), flush=True)
    return 0 if not tally.findings else 1


if __name__ == "__main__":
    sys.exit(main())
