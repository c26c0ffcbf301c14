"""Imports inside a package go one way: no module of ``arspec.checker`` or of a
``arspec.reference.*`` subpackage reaches itself through imports (issue 13).

The graph is built from the source's AST, so imports inside functions and under
``TYPE_CHECKING`` count as edges too: a cycle hidden there is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Source folders and the package each is installed as.
FOLDERS = ("spec", "model", "checker", "reference", "proofs")
#: Packages whose modules may not import each other in a cycle.
ACYCLIC = ("arspec.checker", "arspec.reference.isa", "arspec.reference.vm",
           "arspec.reference.runtime", "arspec.reference.differential")
#: Modules whose outgoing edges are not checked (none: every package is acyclic).
PENDING: frozenset[str] = frozenset()


def module_name(path: Path) -> str:
    """Return the dotted name ``path`` (relative to the repository) is imported as."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["arspec", *parts])


def modules() -> dict[str, Path]:
    """Return every module of the source folders by name."""
    return {module_name(p): p for folder in FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))}


def imported(name: str, path: Path, tree: ast.AST) -> list[tuple[str, int]]:
    """Return ``(target, line)`` for every import in ``tree`` (at any depth)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.append((source, node.lineno))
            found += [(f"{source}.{alias.name}", node.lineno) for alias in node.names]
    return found


def import_graph() -> nx.DiGraph:
    """Return the graph of imports between the source modules (edge data: the line)."""
    known = modules()
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(known)
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for target, line in imported(name, path, tree):
            if target in known and target != name:
                graph.add_edge(name, target, line=line)
    return graph


def package_cycle(graph: nx.DiGraph, package: str) -> list[str]:
    """Return one import cycle among the modules of ``package`` (not its subpackages'), as
    ``module:line -> ...`` steps, or an empty list."""
    inside = [n for n in graph if n.rpartition(".")[0] == package and n not in PENDING]
    sub = graph.subgraph(inside)
    try:
        cycle = nx.find_cycle(sub)
    except nx.NetworkXNoCycle:
        return []
    return [f"{a}:{sub.edges[a, b]['line']} -> {b}" for a, b in cycle]


def test_graph_sees_module_and_function_level_imports() -> None:
    graph = import_graph()
    # Module level (vm imports its fast path) and the edges a cycle would need are read.
    assert graph.has_edge("arspec.reference.vm.vm", "arspec.reference.vm.fastpath")
    assert graph.has_edge("arspec.checker.objects", "arspec.checker.symbolic")
    source = "def f() -> None:\n    from .symbolic import Executor\n"
    path = ROOT / "checker" / "lockdyn.py"
    assert ("arspec.checker.symbolic", 2) in imported("arspec.checker.lockdyn", path,
                                                      ast.parse(source))


def test_a_cycle_is_found_and_named() -> None:
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_edge("arspec.checker.a", "arspec.checker.b", line=3)
    graph.add_edge("arspec.checker.b", "arspec.checker.a", line=9)
    graph.add_edge("arspec.checker.sub.c", "arspec.checker.a", line=1)
    steps = package_cycle(graph, "arspec.checker")
    assert sorted(steps) == ["arspec.checker.a:3 -> arspec.checker.b",
                             "arspec.checker.b:9 -> arspec.checker.a"]
    assert package_cycle(graph, "arspec.checker.sub") == []


def test_relative_imports_resolve_to_the_package() -> None:
    tree = ast.parse("from . import solver as z\nfrom ..vm.memory import Memory\n")
    found = imported("arspec.checker.objects", ROOT / "checker" / "objects.py", tree)
    assert ("arspec.checker.solver", 1) in found
    assert ("arspec.vm.memory.Memory", 2) in found


@pytest.mark.parametrize("package", ACYCLIC)
def test_no_import_cycle_inside_package(package: str) -> None:
    cycle = package_cycle(import_graph(), package)
    assert not cycle, f"import cycle in {package}: " + "; ".join(cycle)
