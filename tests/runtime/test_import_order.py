"""Imports inside the runtime binding go one way (issue 13): no cycle, not even for types."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[2] / "reference" / "runtime"
PREFIX = "arspec.reference.runtime."


def _imports(path: Path) -> set[str]:
    """Return the runtime-binding modules ``path`` imports anywhere (type-only ones too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.add(node.module.removeprefix(PREFIX))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix(PREFIX) for a in node.names
                      if a.name.startswith(PREFIX)}
    return found


def test_the_runtime_binding_imports_form_no_cycle() -> None:
    graph = nx.DiGraph()
    for path in sorted(PACKAGE.glob("*.py")):
        graph.add_node(path.stem)
        graph.add_edges_from((path.stem, target) for target in _imports(path))
    assert graph.has_edge("runtime", "runtime_helpers")
    assert graph.has_edge("runtime_helpers", "program")
    assert nx.is_directed_acyclic_graph(graph), list(nx.simple_cycles(graph))


def test_a_cycle_would_be_seen(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from arspec.reference.runtime.runtime import X\n")
    assert _imports(module) == {"runtime"}
