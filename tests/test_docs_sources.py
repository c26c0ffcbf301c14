"""The docs stand on their own: facts cite primary sources, not a document outside the project,
and the preset table matches what bundles accept."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_OUTSIDE = re.compile(r"runtime[ -]facts|facts (?:section|§|\d)", re.IGNORECASE)


def _project_texts() -> list[Path]:
    found = []
    for pattern in ("**/*.py", "**/*.rst", "**/*.md", "**/*.yaml", "**/*.s", "**/*.c"):
        found += [p for p in ROOT.glob(pattern)
                  if "_build" not in p.parts and ".typecheck" not in p.parts]
    return sorted(set(found))


def test_no_text_cites_the_outside_fact_sheet() -> None:
    this = Path(__file__).resolve()
    cited = [f"{p.relative_to(ROOT)}:{n}" for p in _project_texts() if p.resolve() != this
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
             if _OUTSIDE.search(line)]
    assert cited == []
