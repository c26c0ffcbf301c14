"""z3 is imported in two places only: checker/solver.py and proofs/logic.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("spec", "reference", "checker", "model", "proofs", "benchmarks", "tests")


def _imports_z3(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "z3" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "z3":
            return True
    return False


def test_only_solver_module_imports_z3() -> None:
    offenders = sorted(str(p.relative_to(ROOT)) for folder in FOLDERS
                       for p in (ROOT / folder).rglob("*.py")
                       if _imports_z3(p))
    assert offenders == ["checker/solver.py", "proofs/logic.py"]


def test_detector_sees_both_import_forms(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("import z3\n")
    b = tmp_path / "b.py"
    b.write_text("from z3 import Solver\n")
    c = tmp_path / "c.py"
    c.write_text("import z3x\n")
    assert _imports_z3(a) and _imports_z3(b) and not _imports_z3(c)
