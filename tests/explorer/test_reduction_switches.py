"""Each reduction can be switched off alone and finds the same verdicts and traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.outcomes import explore_bundle

EXPLORE = Path(__file__).resolve().parents[2] / "examples" / "explore"
SWITCHES = [
    {},
    {"partial_order": False},
    {"symmetry": False},
    {"cache": False},
    {"reductions": False},
]


def verdict_lines(text: str) -> list[str]:
    keep = ("  ", "VIOLATED ", "verdict:")
    return [line for line in text.splitlines()
            if line.startswith(keep) and not line.startswith(("    ", "  shortest"))]


@pytest.mark.parametrize("name", ["timer_broken.yaml", "budget_broken.yaml",
                                  "double_broken.yaml", "cascade_broken.yaml", "timer_ok.yaml"])
def test_every_single_switch_gives_the_same_verdicts(name: str) -> None:
    results = [explore_bundle(str(EXPLORE / name), timing=False, **switch)
               for switch in SWITCHES]
    codes = {code for code, _ in results}
    assert len(codes) == 1
    assert len({tuple(verdict_lines(text)) for _, text in results}) == 1


def test_report_names_the_reductions_in_use() -> None:
    _, text = explore_bundle(str(EXPLORE / "timer_ok.yaml"), timing=False, symmetry=False)
    assert text.splitlines()[0].endswith("reductions: partial-order, cache")
    _, text = explore_bundle(str(EXPLORE / "timer_ok.yaml"), timing=False, reductions=False)
    assert text.splitlines()[0].endswith("reductions off")
