"""The packages of arspec and what each may import: one declared rule table.

:data:`LAYERS` is the rule; the architecture page renders it and ``tests/test_layers.py``
enforces it, with no exception list:

* over the import graph of the source (:func:`module_imports`, every ``import`` in every
  file, deferred and ``TYPE_CHECKING`` imports included): an import into another layer must
  be one the table allows (:func:`find_violations`), and the modules of a package import
  each other in no cycle (:func:`find_cycle`);
* at run time: importing every module of a layer loads no module of a layer it may not
  reach through the table (:func:`reachable_layers`).

A layer whose folder is not in the tree is reported as missing (:func:`missing_layers`),
never dropped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx


@dataclass(frozen=True)
class Layer:
    """One package: its import name under ``arspec.``, its folder, what it owns, and the
    layers it may import (its own modules always)."""

    name: str
    folder: str
    owns: str
    may_import: tuple[str, ...]


LAYERS: tuple[Layer, ...] = (
    Layer("spec", "spec", "the executable specification: state, transitions, helper table, "
          "scheduler, invariants, bundle schema and loader", ()),
    Layer("reference.isa", "reference/isa", "the instruction set: decode, encode, assembly "
          "syntaxes, disassembly, ELF objects", ("spec",)),
    Layer("reference.vm", "reference/vm", "the interpreter, its fast path, memory, ALU and "
          "profiles", ("spec", "reference.isa")),
    Layer("reference.runtime", "reference/runtime", "the runtime binding: invocations on the "
          "VM, helpers onto spec transitions, the runner", ("spec", "reference.isa",
                                                            "reference.vm")),
    Layer("reference.differential", "reference/differential", "the implementations compared "
          "with: Agave, the Linux kernel, bpf_conformance, the plugin",
          ("spec", "reference.isa", "reference.vm", "reference.runtime")),
    Layer("checker", "checker", "the static verifier: CFG, assertions, the one solver module, "
          "verdicts, counterexample replay", ("spec", "reference.isa", "reference.vm",
                                              "reference.runtime")),
    Layer("model", "model", "the explorer: state encoding, successors from spec actions, "
          "reductions, invariants, liveness, traces", ("spec", "reference.isa",
                                                       "reference.vm", "reference.runtime")),
    Layer("proofs", "proofs", "z3 proofs of the spec's invariants for all states, through the "
          "checker's solver door", ("spec", "checker")),
    Layer("cli", "cli", "the front end: parse, load a bundle once, run the engines, render "
          "text, JSON and SARIF, one exit-code table",
          ("spec", "reference.isa", "reference.vm", "reference.runtime",
           "reference.differential", "checker", "model", "proofs")),
)


@dataclass(frozen=True)
class Import:
    """One import of another layer: where it is and what it names."""

    source: str
    target: str
    file: str
    line: int
    module: str


@dataclass(frozen=True)
class ModuleImport:
    """One name an ``import`` statement may load: the importing module, the name (a module,
    or an attribute of one: ``from x import y`` yields ``x`` and ``x.y``) and where."""

    module: str
    name: str
    file: str
    line: int


def get_layer(module: str, layers: tuple[Layer, ...] = LAYERS) -> str | None:
    """Return the layer an absolute module name belongs to (``None`` outside arspec)."""
    for layer in sorted(layers, key=lambda item: -len(item.name)):
        full = f"arspec.{layer.name}"
        if module == full or module.startswith(full + "."):
            return layer.name
    return None


def _module_of(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["arspec", *parts])


def imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Return the absolute names one AST node imports (none for other nodes).

    Relative imports resolve against ``module``'s package; ``from x import y`` gives ``x``
    and ``x.y`` (``y`` may be a submodule), ``from arspec import y`` only ``arspec.y``.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    names = [f"{base}.{alias.name}" for alias in node.names]
    return names if base == "arspec" or not node.module else [base, *names]


def source_files(root: Path, layers: tuple[Layer, ...] = LAYERS) -> list[tuple[str, Path]]:
    """Return ``(module, path)`` of every source file of every layer, in path order."""
    found = []
    for layer in layers:
        folder = root / layer.folder
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            module = _module_of(root, path)
            if get_layer(module, layers) == layer.name:  # not a sub-layer's file
                found.append((module, path))
    return found


def module_imports(root: Path, layers: tuple[Layer, ...] = LAYERS) -> list[ModuleImport]:
    """Return every name every source file imports, at any depth of its AST."""
    found: list[ModuleImport] = []
    for module, path in source_files(root, layers):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        file = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            found += [ModuleImport(module, name, file, getattr(node, "lineno", 0))
                      for name in imported_names(node, module, path.name == "__init__.py")]
    return found


def import_graph(root: Path, layers: tuple[Layer, ...] = LAYERS,
                 imports: Iterable[ModuleImport] | None = None) -> list[Import]:
    """Return every import from one layer's source into another layer, in file order (one
    per statement and imported layer)."""
    found: dict[tuple[str, int, str], Import] = {}
    for imp in module_imports(root, layers) if imports is None else imports:
        source, target = get_layer(imp.module, layers), get_layer(imp.name, layers)
        if source is None or target is None or target == source:
            continue
        found.setdefault((imp.file, imp.line, target),
                         Import(source, target, imp.file, imp.line, imp.name))
    return sorted(found.values(), key=lambda i: (i.file, i.line, i.module))


def find_violations(imports: list[Import], layers: tuple[Layer, ...] = LAYERS) -> list[Import]:
    """Return the imports the rule table does not allow."""
    allowed = {layer.name: set(layer.may_import) for layer in layers}
    return [i for i in imports if i.target not in allowed[i.source]]


def reachable_layers(name: str, layers: tuple[Layer, ...] = LAYERS) -> set[str]:
    """Return the layers ``name`` may load: itself and, through the table, what it may
    import, what those may import, and so on."""
    rule = {layer.name: layer.may_import for layer in layers}
    found, todo = {name}, [name]
    while todo:
        for target in rule[todo.pop()]:
            if target not in found:
                found.add(target)
                todo.append(target)
    return found


def module_graph(root: Path, layers: tuple[Layer, ...] = LAYERS,
                 imports: Iterable[ModuleImport] | None = None) -> nx.DiGraph:
    """Return the graph of imports between the source modules (edge data: file and line)."""
    modules = {module for module, _ in source_files(root, layers)}
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(sorted(modules))
    for imp in module_imports(root, layers) if imports is None else imports:
        if imp.name in modules and imp.name != imp.module \
                and not graph.has_edge(imp.module, imp.name):
            graph.add_edge(imp.module, imp.name, file=imp.file, line=imp.line)
    return graph


def get_packages(graph: nx.DiGraph, layer: str, layers: tuple[Layer, ...] = LAYERS,
                 ) -> list[str]:
    """Return the packages (folders) of ``layer`` whose modules are in ``graph``."""
    return sorted({m.rpartition(".")[0] for m in graph
                   if get_layer(m.rpartition(".")[0], layers) == layer})


def find_cycle(graph: nx.DiGraph, package: str) -> list[str]:
    """Return one import cycle among the modules of ``package`` (not of its subpackages) as
    ``module:line -> module`` steps, or an empty list."""
    sub = graph.subgraph([n for n in graph if n.rpartition(".")[0] == package])
    try:
        cycle = nx.find_cycle(sub)
    except nx.NetworkXNoCycle:
        return []
    return [f"{a}:{sub.edges[a, b]['line']} -> {b}" for a, b in cycle]


def count_cycles(graph: nx.DiGraph, package: str) -> int:
    """Return the number of elementary import cycles among the modules of ``package``."""
    sub = graph.subgraph([n for n in graph if n.rpartition(".")[0] == package])
    return sum(1 for _ in nx.simple_cycles(sub))


def missing_layers(root: Path, layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    """Return the layers whose folder is not in the tree at ``root``."""
    return [layer.name for layer in layers if not (root / layer.folder).is_dir()]
