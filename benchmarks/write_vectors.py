"""
Test-vector benchmark
=====================

Writes every test vector (``spec-check vectors``' engine, :func:`arspec.cli.vectors.write_vectors`)
into a folder, times it, then reads the folder back through the independent reader
(``examples/vectors/reader.py``) and checks that arspec passes every vector. Prints the
counts per kind and profile, the time to write and the time to check. Run with
``nice python benchmarks/write_vectors.py [--out DIR] [--programs N]``; exit status 1 when a
vector fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from arspec.cli.vectors import render_summary, write_vectors
from arspec.cli.vectors.answer import ANSWERS
from arspec.cli.vectors.writer import RANDOM_PROGRAMS

READER = Path(__file__).resolve().parents[1] / "examples" / "vectors" / "reader.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--programs", type=int, default=RANDOM_PROGRAMS)
    args = parser.parse_args(argv)
    spec = importlib.util.spec_from_file_location("vector_reader", READER)
    assert spec is not None and spec.loader is not None
    reader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reader)
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out if args.out is not None else Path(scratch)
        start = time.perf_counter()
        summary = write_vectors(out, programs=args.programs)
        written = time.perf_counter() - start
        print(render_summary(summary))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"written in {written:.1f} s ({size / 1e6:.1f} MB)")
        start = time.perf_counter()
        failed = reader.check_all(reader.load_vectors(out), ANSWERS)
        print(f"checked through the reader in {time.perf_counter() - start:.1f} s: "
              f"{summary.total - len(failed)} passed, {len(failed)} failed")
    for name, problems in sorted(failed.items())[:10]:
        print(f"FAIL {name}: {problems[0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
