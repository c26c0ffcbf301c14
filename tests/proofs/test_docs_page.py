"""The generated proofs page lists every invariant as proved and every twin as replayed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from arspec.proofs import catalogue

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_recorded_timings_cover_every_invariant_and_twin() -> None:
    data = json.loads((DOCS.parent / "benchmarks" / "proofs_timings.json").read_text())
    claims = [c.name for _, c in catalogue.get_claims()]
    assert sorted(data["invariants"]) == sorted(claims)
    assert sorted(data["invariants_cpu"]) == sorted(claims)
    twins = sorted(t.name for s in catalogue.SYSTEMS for t in s.twins)
    assert sorted(data["twins"]) == twins and sorted(data["twins_cpu"]) == twins
    # The bar: every invariant under 10 s, all together under 60 s (as measured).
    for kind in ("invariants", "invariants_cpu"):
        assert max(data[kind].values()) < 10 and sum(data[kind].values()) < 60


def test_proofs_page_lists_every_invariant_and_twin() -> None:
    spec = importlib.util.spec_from_file_location("arspec_docs_generate_proofs",
                                                  DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    text: str = generate.render_proofs(DOCS.parent)
    rows = text.split("   * - ")
    for _, claim in catalogue.get_claims():
        row = next(r for r in rows if r.startswith(f"``{claim.name}``"))
        assert "**PROVED**" in row and " s wall\n" in row and "not measured" not in row
        for _, paired in catalogue.get_twins(claim.name):
            assert f"``{paired.name}``" in row
    for system in catalogue.SYSTEMS:
        assert f"{system.title}\n{'=' * len(system.title)}" in text
        for twin in system.twins:
            row = next(r for r in rows if r.startswith(f"``{twin.name}``"))
            assert "**REFUTED**" in row and "     - yes\n" in row
        for transition in system.transitions:
            assert f"``{transition.name}``" in text
    assert "**UNKNOWN**" not in text and "**no**" not in text
    assert (DOCS / "proofs.rst").read_text().count(".. include:: generated/proofs.inc") == 1
