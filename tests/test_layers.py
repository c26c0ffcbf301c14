"""The package rule of ``docs/layers.py`` enforced over the source, with no exception list.

Every import that crosses a package boundary must be allowed by ``LAYERS``; importing a
package's modules must load nothing the table does not let it reach; the modules of every
package import each other in no cycle (imports inside functions and
under ``TYPE_CHECKING`` count: a cycle hidden there is still a cycle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))

import layers  # noqa: E402

NAMES = [layer.name for layer in layers.LAYERS]


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


@pytest.fixture(scope="module")
def module_imports() -> list[layers.ModuleImport]:
    return layers.module_imports(ROOT)


@pytest.fixture(scope="module")
def imports(module_imports: list[layers.ModuleImport]) -> list[layers.Import]:
    return layers.import_graph(ROOT, imports=module_imports)


@pytest.fixture(scope="module")
def graph(module_imports: list[layers.ModuleImport]) -> nx.DiGraph:
    return layers.module_graph(ROOT, imports=module_imports)


# --------------------------------------------------------------------------- the rule holds


def test_every_import_is_allowed(imports: list[layers.Import]) -> None:
    bad = [f"{v.file}:{v.line}: {v.source} imports {v.module} ({v.target})"
           for v in layers.find_violations(imports)]
    assert bad == []


def _packages() -> list[str]:
    graph = layers.module_graph(ROOT)
    return [package for layer in layers.LAYERS
            for package in layers.get_packages(graph, layer.name)]


@pytest.mark.parametrize("package", _packages())
def test_no_import_cycle_inside_package(graph: nx.DiGraph, package: str) -> None:
    cycle = layers.find_cycle(graph, package)
    assert not cycle, f"import cycle in {package}: " + "; ".join(cycle)


def test_every_package_is_checked_for_cycles() -> None:
    assert {"arspec.spec", "arspec.model", "arspec.checker", "arspec.cli"} <= set(_packages())


#: Layers whose reach is not every layer (importing ``cli`` may load anything).
BOUNDED = [n for n in NAMES if layers.reachable_layers(n) != set(NAMES)]


@pytest.mark.parametrize("name", BOUNDED)
def test_importing_a_layer_loads_only_what_it_may_reach(name: str) -> None:
    """A fresh interpreter imports every module of the layer; nothing else is loaded."""
    modules = sorted(m for m, path in layers.source_files(ROOT)
                     if layers.get_layer(m) == name and path.name != "__main__.py")
    script = ("import importlib, sys\n"
              f"for name in {modules!r}:\n"
              "    importlib.import_module(name)\n"
              "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('arspec.'))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    reach = layers.reachable_layers(name)
    loaded = done.stdout.split()
    assert set(modules) <= set(loaded)
    assert [m for m in loaded if layers.get_layer(m) not in (*reach, None)] == []


def test_the_graph_sees_the_packages(imports: list[layers.Import], graph: nx.DiGraph) -> None:
    pairs = {(i.source, i.target) for i in imports}
    assert ("reference.vm", "reference.isa") in pairs
    assert ("checker", "spec") in pairs and ("model", "reference.runtime") in pairs
    assert not any(source == "spec" for source, _ in pairs)
    # module level (the VM imports its fast path) and the runtime binding's own order
    assert graph.has_edge("arspec.reference.vm.vm", "arspec.reference.vm.fastpath")
    assert graph.has_edge("arspec.checker.objects", "arspec.checker.symbolic")
    assert graph.has_edge("arspec.reference.runtime.runtime",
                          "arspec.reference.runtime.runtime_helpers")
    assert graph.has_edge("arspec.reference.runtime.runtime_helpers",
                          "arspec.reference.runtime.program")


def test_every_source_file_belongs_to_a_layer() -> None:
    for folder in ("spec", "reference", "checker", "model", "proofs", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []:
            module = layers._module_of(ROOT, path)
            assert layers.get_layer(module) is not None or module == "arspec.reference", path


def test_the_rule_names_only_layers_and_has_no_cycle() -> None:
    rule = {layer.name: layer.may_import for layer in layers.LAYERS}
    assert all(target in NAMES for targets in rule.values() for target in targets)
    order: list[str] = []
    while len(order) < len(NAMES):
        ready = [n for n in NAMES if n not in order and set(rule[n]) <= set(order)]
        assert ready, f"cycle among {sorted(set(NAMES) - set(order))}"
        order += ready


def test_the_verifier_may_not_reach_the_explorer_or_the_front_end() -> None:
    assert not {"model", "cli"} & layers.reachable_layers("checker")
    assert layers.reachable_layers("spec") == {"spec"}
    assert "checker" not in layers.reachable_layers("reference.differential")
    assert layers.reachable_layers("proofs") == {"proofs", "spec", "checker", "reference.isa",
                                                 "reference.vm", "reference.runtime"}


def test_the_solana_syscall_ids_are_the_runtimes() -> None:
    from arspec.reference.isa.loading import get_syscall_ids
    from arspec.reference.isa.murmur3 import murmur3_32
    from arspec.reference.runtime.solana_syscalls import SYSCALL_IDS

    assert get_syscall_ids() == SYSCALL_IDS
    assert get_syscall_ids()["sol_log_"] == murmur3_32(b"sol_log_")


def test_sbpf_v0_assembly_calls_a_syscall_by_its_hash(tmp_path: Path) -> None:
    from arspec.reference.isa.instructions import Call
    from arspec.reference.isa.loading import load_program_file
    from arspec.reference.isa.murmur3 import murmur3_32

    source = tmp_path / "p.s"
    source.write_text("call sol_log_\nr0 = 0\nexit\n")
    program = load_program_file(source, sbpf_v0=True)
    calls = [insn for _, insn in program.instructions() if isinstance(insn, Call)]
    assert [c.imm for c in calls] == [murmur3_32(b"sol_log_")]


# --------------------------------------------------------------------------- the checks catch


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


def test_invalid_isa_importing_the_runtime(tmp_path: Path) -> None:
    write(tmp_path, "reference/isa/loading.py",
          "def f():\n    from arspec.reference.runtime.solana_syscalls import SYSCALL_IDS\n")
    bad = layers.find_violations(layers.import_graph(tmp_path))
    assert [(v.file, v.line, v.target) for v in bad] == [
        ("reference/isa/loading.py", 2, "reference.runtime")]


def test_invalid_checker_reaching_the_explorer_through_a_layer() -> None:
    rule = tuple(layers.Layer(layer.name, layer.folder, layer.owns,
                              (*layer.may_import, "model") if layer.name == "reference.runtime"
                              else layer.may_import) for layer in layers.LAYERS)
    assert "model" in layers.reachable_layers("checker", rule)


def test_relative_imports_inside_a_package_are_fine(tmp_path: Path) -> None:
    write(tmp_path, "checker/a.py", "from . import b\nfrom .b import c\n")
    write(tmp_path, "checker/b.py", "from ..spec import maps\n")
    assert layers.find_violations(layers.import_graph(tmp_path)) == []
    assert [i.module for i in layers.import_graph(tmp_path)] == ["arspec.spec"]


def test_relative_and_deferred_imports_are_module_edges() -> None:
    tree = ast.parse("from . import solver as z\nfrom ..vm.memory import Memory\n"
                     "def f() -> None:\n    from .symbolic import Executor\n")
    names = [(name, node.lineno) for node in ast.walk(tree)
             for name in layers.imported_names(node, "arspec.checker.objects", False)]
    assert ("arspec.checker.solver", 1) in names
    assert ("arspec.vm.memory", 2) in names and ("arspec.vm.memory.Memory", 2) in names
    assert ("arspec.checker.symbolic", 4) in names
    assert ("arspec.checker", 1) not in names  # ``from . import x`` is x, not the package


def test_invalid_cycle_is_found_and_named(tmp_path: Path) -> None:
    write(tmp_path, "checker/a.py", "from arspec.checker import b\n")
    write(tmp_path, "checker/b.py", "import os\n\n\ndef f():\n    from . import a\n")
    write(tmp_path, "checker/sub/c.py", "from arspec.checker import a\n")
    graph = layers.module_graph(tmp_path)
    steps = layers.find_cycle(graph, "arspec.checker")
    assert sorted(steps) == ["arspec.checker.a:1 -> arspec.checker.b",
                             "arspec.checker.b:5 -> arspec.checker.a"]
    assert layers.find_cycle(graph, "arspec.checker.sub") == []
    assert layers.count_cycles(graph, "arspec.checker") == 1


def test_invalid_type_only_cycle_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, "reference/runtime/runtime.py",
          "from arspec.reference.runtime.helpers import H\n")
    write(tmp_path, "reference/runtime/helpers.py",
          "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
          "    from arspec.reference.runtime.runtime import R\n")
    graph = layers.module_graph(tmp_path)
    assert layers.find_cycle(graph, "arspec.reference.runtime")


def test_a_missing_package_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "spec/a.py", "")
    missing = layers.missing_layers(tmp_path)
    assert "cli" in missing and "spec" not in missing
    assert len(missing) == len(layers.LAYERS) - 1


def test_the_page_reports_a_missing_package_and_a_cycle(tmp_path: Path) -> None:
    import design

    write(tmp_path, "spec/a.py", "")
    write(tmp_path, "checker/a.py", "from arspec.checker import b\n")
    write(tmp_path, "checker/b.py", "from arspec.checker import a\n")
    text = design.render_layers(tmp_path)
    assert text.count("**missing from this tree**") == len(layers.LAYERS) - 2
    assert "``arspec.cli``" in text
    assert "none allowed (**1 found**)" in text
    assert "``arspec.checker.a:1 -> arspec.checker.b``" in text


def test_the_page_shows_the_rule_of_this_tree() -> None:
    import design

    text = design.render_layers(ROOT)
    assert "**missing from this tree**" not in text and "**1 found**" not in text
    assert "boundary is allowed." in text
