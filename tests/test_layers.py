"""The package rule of ``docs/layers.py`` enforced over the import graph of the source.

Every import that crosses a package boundary must be allowed by ``LAYERS``. The known
violations are listed below with the reason each is still there; the list may only shrink:
an entry whose import is gone fails too, so it is removed when the code is fixed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))

import layers  # noqa: E402

#: (file, imported layer) -> why the import is still there. Never widen the rule instead.
KNOWN_VIOLATIONS = {
    # The sBPF loader (instruction set) resolves syscall hashes through the runtime's call
    # table, in a deferred import; the table belongs below the instruction set (spec).
    ("reference/isa/loading.py", "reference.runtime"): "the solana syscall ids",
}


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


@pytest.fixture(scope="module")
def imports() -> list[layers.Import]:
    return layers.import_graph(ROOT)


def test_every_import_is_allowed_or_a_known_violation(imports: list[layers.Import]) -> None:
    found = {(v.file, v.target) for v in layers.find_violations(imports)}
    assert sorted(found - KNOWN_VIOLATIONS.keys()) == []


def test_every_known_violation_is_still_there(imports: list[layers.Import]) -> None:
    found = {(v.file, v.target) for v in layers.find_violations(imports)}
    assert sorted(KNOWN_VIOLATIONS.keys() - found) == [], "fixed: remove it from the list"


def test_the_graph_sees_the_packages(imports: list[layers.Import]) -> None:
    pairs = {(i.source, i.target) for i in imports}
    assert ("reference.vm", "reference.isa") in pairs
    assert ("checker", "spec") in pairs and ("model", "reference.runtime") in pairs
    assert not any(source == "spec" for source, _ in pairs)


def test_every_source_file_belongs_to_a_layer() -> None:
    for folder in ("spec", "reference", "checker", "model", "proofs", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []:
            module = layers._module_of(ROOT, path)
            assert layers.get_layer(module) is not None or module == "arspec.reference", path


def test_the_rule_names_only_layers_and_has_no_cycle() -> None:
    names = [layer.name for layer in layers.LAYERS]
    rule = {layer.name: layer.may_import for layer in layers.LAYERS}
    assert all(target in names for targets in rule.values() for target in targets)
    order: list[str] = []
    while len(order) < len(names):
        ready = [n for n in names if n not in order and set(rule[n]) <= set(order)]
        assert ready, f"cycle among {sorted(set(names) - set(order))}"
        order += ready


def test_invalid_spec_importing_the_explorer(tmp_path: Path) -> None:
    write(tmp_path, "spec/a.py", "from arspec.model.engine import explore\n")
    write(tmp_path, "model/engine.py", "from arspec.spec import a\n")
    bad = layers.find_violations(layers.import_graph(tmp_path))
    assert [(v.file, v.line, v.target) for v in bad] == [("spec/a.py", 1, "model")]


@pytest.mark.parametrize("source", [
    "import arspec.checker.solver\n",
    "from arspec import checker\n",
    "from ...checker import solver\n",
    "def f():\n    from arspec.checker.solver import x\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from arspec.checker import y\n",
])
def test_invalid_vm_importing_the_verifier(tmp_path: Path, source: str) -> None:
    write(tmp_path, "reference/vm/x.py", source)
    bad = layers.find_violations(layers.import_graph(tmp_path))
    assert [(v.file, v.target) for v in bad] == [("reference/vm/x.py", "checker")]


def test_relative_imports_inside_a_package_are_fine(tmp_path: Path) -> None:
    write(tmp_path, "checker/a.py", "from . import b\nfrom .b import c\n")
    write(tmp_path, "checker/b.py", "from ..spec import maps\n")
    assert layers.find_violations(layers.import_graph(tmp_path)) == []
    assert [i.module for i in layers.import_graph(tmp_path)] == ["arspec.spec"]


def test_a_missing_package_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "spec/a.py", "")
    missing = layers.missing_layers(tmp_path)
    assert "cli" in missing and "spec" not in missing
    assert len(missing) == len(layers.LAYERS) - 1


def test_the_page_reports_a_missing_package(tmp_path: Path) -> None:
    import design

    write(tmp_path, "spec/a.py", "")
    text = design.render_layers(tmp_path)
    assert text.count("**missing from this tree**") == len(layers.LAYERS) - 1
    assert "``arspec.cli``" in text
