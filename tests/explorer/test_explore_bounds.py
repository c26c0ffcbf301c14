"""Bounds a user controls: every bound is BOUND-REACHED (exit 3), named in the first line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from arspec.model.resources import (
    MIN_MEMORY_BYTES,
    format_size,
    get_resident_bytes,
    parse_size,
)
from arspec.spec.errors import InputError
from tests.outcomes import explore_bundle

ROOT = Path(__file__).resolve().parents[2]
PAIRS = str(ROOT / "examples" / "pairs_trading.yaml")
HEARTBEAT = ROOT / "examples" / "heartbeat.yaml"


def without_explore_settings(tmp_path: Path, source: Path) -> str:
    """Return a copy of ``source`` without ``properties.explore`` (every default applies)."""
    text = re.sub(r"  explore:\n(    .*\n)+", "", source.read_text(encoding="utf-8"))
    assert "explore:" not in text
    path = tmp_path / source.name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_holding_bundle_first_line_is_the_header() -> None:
    code, text = explore_bundle(PAIRS, timing=False)
    assert code == 0 and text.startswith("explore pairs-trading")


def test_max_states_is_named_first_with_what_was_covered() -> None:
    code, text = explore_bundle(PAIRS, slots=12, max_states=50, timing=False)
    assert code == 3
    first = text.splitlines()[0]
    assert first.startswith("BOUND-REACHED: the search stopped at --max-states 50 (depth ")
    assert first.endswith("raise --max-states")
    assert "states 50, transitions" in text and "bound reached: max-states" in text
    assert text.endswith("verdict: BOUND-REACHED\n")


def test_max_depth_is_named_first() -> None:
    code, text = explore_bundle(PAIRS, slots=12, max_depth=5, timing=False)
    assert code == 3
    assert text.splitlines()[0].startswith(
        "BOUND-REACHED: states deeper than --max-depth 5 were not expanded")


def test_max_memory_stops_with_bound_reached() -> None:
    code, text = explore_bundle(PAIRS, slots=12, max_memory=get_resident_bytes() // 2,
                                timing=False)
    assert code == 3
    assert text.splitlines()[0].startswith("BOUND-REACHED: the process reached --max-memory "
                                           "after ")
    assert "bound reached: max-memory" in text


def test_max_memory_with_room_changes_nothing() -> None:
    assert explore_bundle(PAIRS, max_memory=64 * 2**30, timing=False) == \
        explore_bundle(PAIRS, timing=False)


def test_default_starvation_cap_says_which_setting_to_raise(tmp_path: Path) -> None:
    # heartbeat's counter grows every slot: the abstract graph is infinite.
    path = without_explore_settings(tmp_path, HEARTBEAT)
    code, text = explore_bundle(path, max_states=300, timing=False)
    assert code == 3
    first = text.splitlines()[0]
    assert first.startswith("BOUND-REACHED: no_starvation stopped at 300 abstract states "
                            "(--max-states); raise --max-states")
    assert "leave no_starvation out of properties.explore.invariants" in first


def test_unabstractable_bundle_says_what_to_leave_out(tmp_path: Path) -> None:
    code, text = explore_bundle(without_explore_settings(tmp_path, ROOT / "examples"
                                                         / "pairs_trading.yaml"),
                                timing=False)
    assert code == 3
    assert text.splitlines()[0] == (
        "BOUND-REACHED: no_starvation cannot be checked (program ticker reads the slot "
        "(arspec_get_slot at pc 52)); leave no_starvation out of "
        "properties.explore.invariants for a verdict on the other invariants")


def test_timing_line_has_peak_memory() -> None:
    _, text = explore_bundle(PAIRS)
    assert re.search(r"^time .* states/s, peak RSS \d+(\.\d)? [KMG]B$", text, re.M)


@pytest.mark.parametrize(("text", "size"), [("512M", 512 * 2**20), ("2G", 2 * 2**30),
                                            ("1.5GiB", 3 * 2**29), ("1048576", 2**20),
                                            ("4 mb", 4 * 2**20)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1G", "12X", "1e9", "0", "1023K", "2 G B",
                                  "nan", "inf", "0x100000"])
def test_invalid_sizes(text: str) -> None:
    with pytest.raises(InputError, match="--max-memory"):
        parse_size(text)


def test_size_minimum() -> None:
    assert parse_size("1M") == MIN_MEMORY_BYTES


@pytest.mark.parametrize(("size", "text"), [(12, "12 B"), (2048, "2.0 KB"),
                                            (300 * 2**20, "300 MB"), (3 * 2**29, "1.5 GB")])
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize("flag", ["12X", "-5M", "0"])
def test_invalid_cli_memory_flag_is_one_line_exit_2(flag: str) -> None:
    done = subprocess.run([sys.executable, "-m", "arspec.cli", "explore", PAIRS,
                           "--max-memory", flag], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--max-memory" in done.stderr.strip().splitlines()[-1]
