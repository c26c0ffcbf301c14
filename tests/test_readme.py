"""The README's set-up commands: the main job runs and succeeds on the bundled example."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_has_exactly_two_setup_commands() -> None:
    section = README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ")]
    assert len(commands) == 2, commands
    assert commands[0].startswith("pip install . && spec-check ")
    assert commands[1].endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_main_job_succeeds_on_the_bundled_example() -> None:
    match = re.search(r"pip install \. && (spec-check [^\n]+)", README)
    assert match is not None
    proc = subprocess.run(match.group(1).split(), capture_output=True, text=True, cwd=ROOT,
                          check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "combined verdict: PROVED/HOLDS" in proc.stdout
