"""The package import rules: the verifier does not depend on the explorer.

``arspec.checker`` (the verifier) may import ``spec`` and ``reference`` but not
``arspec.model`` (the explorer) or ``arspec.cli`` (the front end, which composes the two).
Checked twice: statically over every ``import`` in the package's source, and by importing
every checker module in a fresh interpreter and looking at what got loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: package -> packages it must not import (directly or through another package).
FORBIDDEN = {"checker": ("arspec.model", "arspec.cli"),
             "model": ("arspec.cli",), "reference": ("arspec.cli", "arspec.checker"),
             "spec": ("arspec.cli", "arspec.checker", "arspec.model")}


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Return ``(line, module)`` of every absolute import in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imported_names(path):
            for forbidden in FORBIDDEN[package]:
                if name == forbidden or name.startswith(forbidden + "."):
                    bad.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_import_in_the_source(package: str) -> None:
    assert violations(package) == []


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("import os\nfrom arspec.model.engine import explore\n"
                      "from arspec import model\nfrom . import symbolic\n")
    names = [name for _, name in imported_names(source)]
    assert "arspec.model.engine" in names and "arspec.model" in names
    assert not any(name.endswith("symbolic") for name in names)  # relative: inside


def test_importing_the_checker_loads_no_explorer_or_front_end() -> None:
    modules = sorted(p.stem for p in (ROOT / "checker").glob("*.py") if p.stem != "__init__")
    script = ("import importlib, sys\n"
              f"for name in {modules!r}:\n"
              "    importlib.import_module('arspec.checker.' + name)\n"
              "print(' '.join(sorted(m for m in sys.modules\n"
              "      if m.startswith(('arspec.model', 'arspec.cli')))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "", done.stdout
