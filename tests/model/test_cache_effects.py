"""The invocation cache gives the same exploration as running every program."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.outcomes import explore_bundle

ROOT = Path(__file__).resolve().parents[2]
CASES = [("examples/pairs_trading.yaml", 10), ("benchmarks/scale_bundle.yaml", 6),
         ("examples/explore/vault_broken.yaml", None), ("examples/oracle_watcher.yaml", None),
         ("examples/explore/ring_ok.yaml", None), ("examples/risk_analyzer.yaml", None),
         ("examples/explore/starvation_attempt.yaml", None)]


def essentials(text: str) -> list[str]:
    keep = re.compile(r"^(  \w+ +(HOLDS|VIOLATED|BOUND-REACHED)|states \d+|VIOLATED |"
                      r"  shortest trace|    \d|verdict: )")
    return [line for line in text.splitlines() if keep.match(line)]


@pytest.mark.parametrize(("path", "slots"), CASES)
def test_cached_and_uncached_explorations_agree(path: str, slots: int | None) -> None:
    cached = explore_bundle(str(ROOT / path), slots=slots, timing=False)
    uncached = explore_bundle(str(ROOT / path), slots=slots, cache=False, timing=False)
    assert cached[0] == uncached[0]
    assert essentials(cached[1]) == essentials(uncached[1])


def test_the_cache_hits_on_pairs_trading() -> None:
    _, text = explore_bundle(str(ROOT / "examples" / "pairs_trading.yaml"), slots=10,
                             timing=False)
    hits = re.search(r"cache hit share (\d+\.\d)%", text)
    assert hits is not None and float(hits.group(1)) > 30
