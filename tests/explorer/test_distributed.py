"""Ray workers: the same verdicts, state counts and trace lengths as one process.

Runs on a local Ray cluster of two workers (``pip install -e '.[dev,distributed]'``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from arspec.model.distributed import import_ray, start_ray
from arspec.spec.errors import InputError
from tests.outcomes import explore_bundle

ROOT = Path(__file__).resolve().parents[2]
EXPLORE = ROOT / "examples" / "explore"
CASES = [("examples/pairs_trading.yaml", 8), ("examples/explore/vault_broken.yaml", None),
         ("examples/explore/budget_broken.yaml", None),
         ("examples/explore/timer_broken.yaml", None),
         ("examples/explore/double_broken.yaml", None),
         ("examples/explore/cascade_broken.yaml", None),
         ("examples/risk_analyzer.yaml", None)]


@pytest.fixture(scope="module", autouse=True)
def local_cluster() -> Iterator[None]:
    ray = start_ray(2, None)
    yield
    ray.shutdown()


def essentials(text: str) -> list[str]:
    """Return the lines that must agree: verdicts, counts, violations and trace lengths."""
    keep = re.compile(r"^(  \w+ +(HOLDS|VIOLATED|BOUND-REACHED)|states \d+|VIOLATED \w+|"
                      r"  shortest trace: \d+ steps|verdict: |BOUND-REACHED: )")
    return [line for line in text.splitlines() if keep.match(line)]


@pytest.mark.parametrize(("path", "slots"), CASES)
def test_two_workers_agree_with_one_process(path: str, slots: int | None) -> None:
    single = explore_bundle(str(ROOT / path), slots=slots, partial_order=False, timing=False)
    double = explore_bundle(str(ROOT / path), slots=slots, workers=2, timing=False)
    assert double[0] == single[0]
    assert essentials(double[1]) == essentials(single[1])
    assert "workers 2, " in double[1]


def test_one_worker_agrees_too() -> None:
    path = str(EXPLORE / "timer_broken.yaml")
    single = explore_bundle(path, partial_order=False, timing=False)
    one = explore_bundle(path, workers=1, timing=False)
    assert one[0] == single[0] == 1
    assert essentials(one[1]) == essentials(single[1])


def test_distributed_trace_replays(tmp_path: Path) -> None:
    from tests.outcomes import replay_trace

    trace = tmp_path / "t.json"
    code, _ = explore_bundle(str(EXPLORE / "double_broken.yaml"), workers=2,
                             trace_out=str(trace), timing=False)
    assert code == 1
    code, text = replay_trace(str(trace))
    assert code == 1 and "reproduced: VIOLATED" in text


def test_state_bound_ends_in_bound_reached() -> None:
    code, text = explore_bundle(str(ROOT / "examples" / "pairs_trading.yaml"), slots=12,
                                workers=2, max_states=40, timing=False)
    assert code == 3
    assert "bound reached: max-states" in text


def test_depth_bound_ends_in_bound_reached() -> None:
    code, text = explore_bundle(str(ROOT / "examples" / "pairs_trading.yaml"), slots=12,
                                workers=2, max_depth=4, timing=False)
    assert code == 3
    assert text.splitlines()[0].startswith("BOUND-REACHED: states deeper than --max-depth")


@pytest.mark.parametrize("options", [dict(max_memory=2**30), dict(exact=True)])
def test_invalid_combinations(options: dict[str, object]) -> None:
    with pytest.raises(InputError, match="--workers cannot be combined"):
        explore_bundle(str(EXPLORE / "timer_ok.yaml"), workers=2,
                       **options)  # type: ignore[arg-type]


def test_ray_is_installed_by_the_test_command() -> None:
    assert import_ray().__name__ == "ray"
