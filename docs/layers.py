"""The packages of arspec and what each may import: one declared rule table.

:data:`LAYERS` is the rule; the architecture page renders it and ``tests/test_layers.py``
enforces it over the import graph of the source (:func:`import_graph`, every ``import`` in
every file, deferred and ``TYPE_CHECKING`` imports included). A layer whose folder is not in
the tree is reported as missing (:func:`missing_layers`), never dropped.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


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


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    # ``from arspec import model`` imports the layer named by the alias
    return [f"{base}.{alias.name}" for alias in node.names] if base == "arspec" else [base]


def import_graph(root: Path, layers: tuple[Layer, ...] = LAYERS) -> list[Import]:
    """Return every import from one layer's source into another layer, in file order."""
    found: list[Import] = []
    for layer in layers:
        folder = root / layer.folder
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            module = _module_of(root, path)
            if get_layer(module, layers) != layer.name:
                continue  # a sub-layer's file (reference/vm inside reference)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                for name in _imported(node, module, path.name == "__init__.py"):
                    target = get_layer(name, layers)
                    if target is not None and target != layer.name:
                        found.append(Import(layer.name, target,
                                            path.relative_to(root).as_posix(),
                                            getattr(node, "lineno", 0), name))
    return sorted(found, key=lambda i: (i.file, i.line, i.module))


def find_violations(imports: list[Import], layers: tuple[Layer, ...] = LAYERS) -> list[Import]:
    """Return the imports the rule table does not allow."""
    allowed = {layer.name: set(layer.may_import) for layer in layers}
    return [i for i in imports if i.target not in allowed[i.source]]


def missing_layers(root: Path, layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    """Return the layers whose folder is not in the tree at ``root``."""
    return [layer.name for layer in layers if not (root / layer.folder).is_dir()]
