"""Packaging: one import namespace, console scripts, hash-seed independence."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, cwd: Path, **env: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **env}, check=True)
    return proc.stdout


def test_packages_install_under_the_arspec_namespace(tmp_path: Path) -> None:
    out = _python(
        "import importlib.util as u\n"
        "for name in ['arspec.spec', 'arspec.reference', 'arspec.checker', 'arspec.model',"
        " 'arspec.proofs']:\n"
        "    print(name, u.find_spec(name) is not None)\n"
        "for name in ['spec', 'model', 'checker', 'reference', 'proofs']:\n"
        "    print(name, u.find_spec(name) is not None)\n",
        tmp_path,
    )
    lines = out.split("\n")
    assert all(line.endswith("True") for line in lines[:5]), out
    assert all(line.endswith("False") for line in lines[5:10]), out


def test_console_scripts_are_installed() -> None:
    assert shutil.which("spec-check") is not None
    assert shutil.which("arspec-bpf-plugin") is not None


def test_spec_does_not_import_solver_graph_or_vm() -> None:
    forbidden = ("z3", "networkx", "arspec.reference", "arspec.checker", "arspec.model")
    for path in sorted((ROOT / "spec").glob("*.py")):
        text = path.read_text()
        for name in forbidden:
            assert f"import {name}" not in text and f"from {name}" not in text, (path, name)


def test_output_is_independent_of_the_hash_seed(tmp_path: Path) -> None:
    program = ROOT / "examples" / "programs" / "counting_loop.s"
    outputs = set()
    for seed in ("0", "1", "12345"):
        proc = subprocess.run(["spec-check", "exec", "--trace", str(program)],
                              capture_output=True, text=True, cwd=tmp_path, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        outputs.add(proc.stdout)
    assert len(outputs) == 1
