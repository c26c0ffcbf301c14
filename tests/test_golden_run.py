"""Golden run reports: the exact ``render_text`` output of running three examples.

The text is part of the user interface (``spec-check run``) and the run itself is part of
consensus, so any change to either shows up here. To accept a deliberate change, regenerate
with ``ARSPEC_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_run.py`` and review the diff
of ``tests/golden/`` by eye before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from arspec.reference.runtime.run_report import render_text
from arspec.reference.runtime.runner import run_bundle
from arspec.spec.loader import load_bundle

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "golden"
#: Example name -> slots to run (None: the scenario's own length).
GOLDEN = {"heartbeat": None, "oracle_watcher": None, "pairs_trading": 50}
UPDATE = os.environ.get("ARSPEC_UPDATE_GOLDEN") == "1"


def render(name: str, slots: int | None) -> str:
    path = ROOT / "examples" / f"{name}.yaml"
    return render_text(run_bundle(load_bundle(path), slots=slots, base_dir=path.parent))


@pytest.mark.parametrize(("name", "slots"), GOLDEN.items())
def test_run_report_matches_golden(name: str, slots: int | None) -> None:
    golden = GOLDEN_DIR / f"{name}.txt"
    text = render(name, slots)
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; run with ARSPEC_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "slots"), GOLDEN.items())
def test_run_report_is_the_same_with_the_interpreter(name: str, slots: int | None) -> None:
    path = ROOT / "examples" / f"{name}.yaml"
    report = run_bundle(load_bundle(path), slots=slots, base_dir=path.parent,
                        engine="interpreter")
    assert render_text(report) == (GOLDEN_DIR / f"{name}.txt").read_text(encoding="utf-8")
