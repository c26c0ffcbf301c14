"""The invariant catalogue page: every entry, its checks, proofs and breaking examples.

The examples' violations are read from ``docs/invariant_examples.json``; the first test
explores every example again and compares, so the record cannot drift from the explorer.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from arspec.proofs.catalogue import get_claims
from arspec.spec.catalogue import CATALOGUE, Invariant, InvariantKind

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))

import design  # noqa: E402
import generate  # noqa: E402


@pytest.fixture(scope="module")
def page() -> str:
    return design.render_invariants(ROOT)


def sections(text: str) -> dict[str, str]:
    """Return each entry's section text by invariant name (split at the labels)."""
    parts = re.split(r"^\.\. _invariant-([a-z_]+):\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def copy_tree(tmp_path: Path) -> Path:
    """Return a root with the cache and every ``broken_by`` example copied (editable)."""
    for example in design.catalogue_examples():
        target = tmp_path / example
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / example, target)
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / design.EXAMPLES_CACHE, tmp_path / design.EXAMPLES_CACHE)
    return tmp_path


def test_the_record_is_what_the_explorer_reports_now() -> None:
    recorded = json.loads((ROOT / design.EXAMPLES_CACHE).read_text())
    fresh = design.explore_examples(ROOT, design.catalogue_examples())
    assert recorded == fresh, "run python docs/design.py --write-examples"


def test_every_entry_has_its_section_in_catalogue_order(page: str) -> None:
    found = sections(page)
    assert list(found) == list(CATALOGUE)
    for name, entry in CATALOGUE.items():
        text = found[name]
        assert text.startswith(f"\n``{name}``\n{'-' * (len(name) + 4)}\n"), name
        assert f"Kind: **{entry.kind.value}**" in text
        assert " ".join(entry.statement.split()) in text
        assert f":ref:`{name} <invariant-{name}>`" in page


def test_each_check_names_the_catalogue_code(page: str) -> None:
    found = sections(page)
    for name, entry in CATALOGUE.items():
        text = found[name]
        for part in (entry.state, entry.transition, entry.holds):
            if part is not None:
                assert f"arspec.spec.catalogue.{part.__name__}" in text, (name, part)
        assert ("get_double_execution_violation" in text) == entry.double_execution
        assert ("arspec.model.starvation" in text) == (entry.kind is InvariantKind.LIVENESS)
        if entry.holds is None and entry.kind is not InvariantKind.LIVENESS:
            assert "not checked (the entry has no ``holds`` part)" in text


def test_every_proof_claim_is_linked_and_its_label_is_on_the_proofs_page(
        page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = {claim.name: ("PROVED", 1, False) for _, claim in get_claims()}
    for system, _ in get_claims():
        outcomes.update({t.name: ("REFUTED", 1, True) for t in system.twins})
    monkeypatch.setattr(generate, "proof_outcomes", lambda: outcomes)
    proofs = generate.render_proofs(ROOT)
    labels = set(re.findall(r"^ +\.\. _(proof-[a-z_.]+):$", proofs, re.MULTILINE))
    assert labels == {design.proof_label(claim.name) for _, claim in get_claims()}
    linked = set(re.findall(r":ref:`[^`<]+ <(proof-[a-z_.]+)>`", page))
    assert linked == {design.proof_label(p) for e in CATALOGUE.values() for p in e.proofs}
    assert linked <= labels
    for name, entry in CATALOGUE.items():
        for claim in entry.proofs:
            assert f":ref:`{claim} <proof-{claim}>`" in sections(page)[name]


def test_every_breaking_example_shows_the_explorers_line(page: str) -> None:
    recorded = json.loads((ROOT / design.EXAMPLES_CACHE).read_text())["examples"]
    found = sections(page)
    for name, entry in CATALOGUE.items():
        for example in entry.broken_by:
            reason, steps = next((r, s) for n, r, s in recorded[example]["violations"]
                                 if n == name)
            row = (f"   * - ``{example}``\n     - ``VIOLATED {name}: {reason}``\n"
                   f"     - {steps}\n")
            assert row in found[name], (name, example)
        if not entry.broken_by:
            assert "No example breaks it" in found[name]


def test_every_code_reference_on_the_page_resolves(page: str) -> None:
    targets = re.findall(r":(?:func|mod|class|data):`~?([\w.]+)`", page)
    assert targets
    for target in targets:
        full = target if target.startswith("arspec.") else f"arspec.spec.catalogue.{target}"
        assert design.resolve(full), target
    pages = {p.stem for p in (ROOT / "docs").glob("*.rst")}
    assert set(re.findall(r":doc:`(\w+)`", page)) <= pages


def test_the_page_is_in_the_docs_and_generated() -> None:
    assert "   invariants\n" in (ROOT / "docs" / "index.rst").read_text()
    assert ".. include:: generated/invariants.inc" in \
        (ROOT / "docs" / "invariants.rst").read_text()


def test_rendering_is_deterministic(page: str) -> None:
    assert design.render_invariants(ROOT) == page


# --------------------------------------------------------------------------- refusals


def test_invalid_record_missing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(
            "invariant_examples.json is missing; run python docs/design.py --write-examples")):
        design.render_invariants(tmp_path)


def test_invalid_record_of_another_version(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    path = root / design.EXAMPLES_CACHE
    data = json.loads(path.read_text())
    data["version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="is not arspec-invariant-examples version 1"):
        design.render_invariants(root)


def test_invalid_example_changed_since_the_record(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    example = CATALOGUE["budget"].broken_by[0]
    with (root / example).open("a") as handle:
        handle.write("# edited\n")
    with pytest.raises(ValueError, match=f"{re.escape(example)} changed since"):
        design.render_invariants(root)


def test_invalid_example_missing_from_the_record(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    path = root / design.EXAMPLES_CACHE
    data = json.loads(path.read_text())
    example = CATALOGUE["tail_call_limit"].broken_by[0]
    del data["examples"][example]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=f"has no run of {re.escape(example)}"):
        design.render_invariants(root)


def test_invalid_example_that_does_not_break_its_invariant(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    path = root / design.EXAMPLES_CACHE
    data = json.loads(path.read_text())
    example = CATALOGUE["bounded_response"].broken_by[0]
    data["examples"][example]["violations"] = []
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=f"{re.escape(example)} does not violate "
                                         "bounded_response"):
        design.render_invariants(root)


def test_invalid_unknown_proof_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    from arspec.spec import catalogue

    broken = Invariant("budget", "s", "statement", InvariantKind.STATE,
                       state=catalogue.get_progress_violation, proofs=("budget.nope",))
    monkeypatch.setitem(catalogue.CATALOGUE, "budget", broken)
    with pytest.raises(ValueError, match=re.escape("budget names proof claim 'budget.nope'")):
        design.render_invariants(ROOT)


def test_invalid_check_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    from arspec.spec import catalogue

    def gone(ctx: object, state: object) -> None:
        return None

    gone.__module__ = "arspec.spec.no_such_module"
    broken = Invariant("progress", "s", "statement", InvariantKind.STATE,
                       state=gone)  # type: ignore[arg-type]
    monkeypatch.setitem(catalogue.CATALOGUE, "progress", broken)
    with pytest.raises(ValueError, match=re.escape("no_such_module.gone does not resolve")):
        design.render_invariants(ROOT)


def test_invalid_record_is_refused_by_the_docs_build(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--write-examples"):
        generate.generated_fragments(tmp_path)
