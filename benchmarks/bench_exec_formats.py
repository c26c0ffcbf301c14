"""
Single-program output benchmark
===============================

What the JSON forms of ``spec-check exec`` cost, on a loop that stores to the stack and the
input on every turn (``--turns`` turns, 5 instructions each):

* ``exec`` text (the fast engine), ``exec --format json`` (the interpreter, every store
  recorded) and ``exec --trace-out`` (one JSON line per instruction), in instructions/s;
* ``exec --batch``: requests per second on a batch of ``--requests`` short programs.

Each figure is the minimum of ``--repeat`` runs in this process (the machine is shared).

Usage::

    nice python benchmarks/bench_exec_formats.py [--turns 100000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from arspec.cli.main import main
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.encoder import encode

LOOP = """\
    mov %r3, {turns}
loop:
    stxdw [%r10-8], %r3
    stxb [%r1+0], %r3
    sub %r3, 1
    add %r0, 1
    jne %r3, 0, loop
    exit
"""


def best(repeat: int, work: Callable[[], None]) -> float:
    """Return the minimum wall time of ``repeat`` calls of ``work``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def call(argv: list[str]) -> None:
    code = main(argv, out=io.StringIO())
    if code not in (0, 1):
        raise SystemExit(f"spec-check {' '.join(argv)} exited {code}")


def run(turns: int, requests: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        program = folder / "loop.s"
        program.write_text(LOOP.format(turns=turns))
        insns = 5 * turns + 2
        base = ["exec", str(program), "--mem", "00", "--insn-limit", str(10 * insns)]
        for label, extra in (("text (fast engine)", []),
                             ("--format json (interpreter, stores recorded)",
                              ["--format", "json"]),
                             ("--trace-out (one JSON line per instruction)",
                              ["--trace-out", str(folder / "t.jsonl")])):
            seconds = best(repeat, lambda extra=extra: call([*base, *extra]))  # type: ignore[misc]
            print(f"exec {label:<46} {insns / seconds / 1e6:7.3f} M insn/s  ({seconds:.2f} s)")
        size = (folder / "t.jsonl").stat().st_size
        print(f"  trace: {insns:,} lines, {size / 1e6:.1f} MB")
        short = encode(assemble(LOOP.format(turns=10))).hex()
        batch = folder / "batch.jsonl"
        batch.write_text("".join(json.dumps({"program": short, "input": "00", "id": str(i)})
                                 + "\n" for i in range(requests)))
        seconds = best(repeat, lambda: call(["exec", "--batch", str(batch)]))
        print(f"exec --batch ({requests:,} programs of 52 instructions) "
              f"{requests / seconds:,.0f} requests/s  ({seconds:.2f} s)")


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    run(args.turns, args.requests, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main_())
