"""Benchmark: exploring pairs_trading.yaml (states/s and the invocation cache's hit share).

Run: ``python benchmarks/bench_explore_bundle.py [SLOTS]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from arspec.model.explore_bundle import explore_bundle

BUNDLE = Path(__file__).resolve().parents[1] / "examples" / "pairs_trading.yaml"


def main() -> None:
    """Explore with and without reductions and print the figures."""
    slots = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    for reductions in (True, False):
        start = time.perf_counter()
        code, text = explore_bundle(str(BUNDLE), slots=slots, reductions=reductions)
        elapsed = time.perf_counter() - start
        figures = [line for line in text.splitlines()
                   if line.startswith(("states", "invocations", "time"))]
        print(f"reductions {'on ' if reductions else 'off'} exit {code} "
              f"wall {elapsed:.2f} s: {'; '.join(figures)}")


if __name__ == "__main__":
    main()
