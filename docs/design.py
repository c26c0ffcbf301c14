"""Render the design pages' generated parts: lifecycles, architecture and the explorer.

Each ``render_*`` returns RST text built from the code (:mod:`arspec.spec.lifecycles`,
``docs/layers.py``, the explorer's modules); :mod:`generate` writes them as ``.inc``
fragments. Diagrams are Graphviz ``dot`` text inside ``.. graphviz::`` directives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from generate import heading, list_table, literal, rst_text


def dot_id(name: str) -> str:
    """Return ``name`` as a quoted dot identifier (``\\n`` in it stays dot's line break)."""
    return '"' + name.replace('"', '\\"') + '"'


def graphviz(name: str, caption: str, body: Iterable[str], *, rankdir: str = "LR") -> list[str]:
    """Return a ``.. graphviz::`` directive drawing the dot statements ``body``."""
    lines = [".. graphviz::", f"   :caption: {caption}", f"   :alt: {caption}", "",
             f"   digraph {dot_id(name)} {{",
             f"      rankdir={rankdir};",
             '      node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
             '      edge [fontname="Helvetica", fontsize=9];']
    lines += [f"      {statement}" for statement in body]
    return [*lines, "   }", ""]


# --------------------------------------------------------------------------- lifecycles


def lifecycle_dot(states: Sequence[str], initial: str,
                  rows: Iterable[tuple[str, str, str]]) -> list[str]:
    """Return the dot statements of one table: a start marker, the states, one edge per
    (from, to) pair labelled with every event that takes it."""
    body = ['__start [shape=point, width=0.12, label=""];',
            f"__start -> {dot_id(initial)};"]
    body += [f"{dot_id(s)};" for s in states]
    edges: dict[tuple[str, str], list[str]] = {}
    for source, event, target in rows:
        events = edges.setdefault((source, target), [])
        if event not in events:
            events.append(event)
    for (source, target), events in edges.items():
        label = "\\n".join(events)
        body.append(f"{dot_id(source)} -> {dot_id(target)} [label={dot_id(label)}];")
    return body


def render_lifecycles() -> str:
    """Return one diagram and one table per :data:`arspec.spec.lifecycles.LIFECYCLES` entry."""
    from arspec.spec import lifecycles as lc

    lines: list[str] = []
    for life in lc.LIFECYCLES:
        lines += heading(life.title, "-")
        lines += [f"``arspec.spec.lifecycles.{life.name.upper()}`` ({len(life.rows)} rows, "
                  f"{len(life.states)} states); the initial state is {literal(life.initial)}.",
                  ""]
        rows = [(r.source, r.event, r.target) for r in life.rows]
        lines += graphviz(life.name, f"{life.title}: every row of the table",
                          lifecycle_dot(life.states, life.initial, rows))
        lines += list_table(["from", "event", "to", "condition"],
                            [[literal(r.source), literal(r.event), literal(r.target),
                              rst_text(r.condition)] for r in life.rows],
                            widths=[16, 26, 16, 42])
    lines += heading("Events of each slot step", "-")
    lines += ["``arspec.spec.lifecycles.SLOT_STEP_EVENTS``: the scheduler events "
              "(:class:`~arspec.spec.scheduler.EventKind`) each step emits, in order.", ""]
    lines += list_table(["step", "events"],
                        [[literal(step), ", ".join(literal(k) for k in kinds)]
                         for step, kinds in lc.SLOT_STEP_EVENTS.items()])
    return "\n".join(lines)


# --------------------------------------------------------------------------- architecture


def resolve(dotted: str) -> bool:
    """Return whether ``dotted`` names an importable module or an attribute of one."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


@dataclass(frozen=True)
class Stage:
    """One box of the data-flow picture: a label and the code that does it (the first
    candidate that resolves; the front end's place changes as ``cli/`` arrives)."""

    key: str
    label: str
    candidates: tuple[str, ...]
    feeds: tuple[str, ...]


#: From a bundle file to a verdict, in reading order.
DATA_FLOW: tuple[Stage, ...] = (
    Stage("yaml", "program.yaml", (), ("loader",)),
    Stage("loader", "loader (schema, precise errors)", ("arspec.spec.loader.load_bundle",),
          ("bundle",)),
    Stage("bundle", "Bundle", ("arspec.spec.bundle.Bundle",),
          ("verifier", "explorer", "runner", "prover")),
    Stage("verifier", "verifier (z3)", ("arspec.checker.verify_bundle.verify_bundle",),
          ("verdicts",)),
    Stage("explorer", "explorer (program runs on the VM)",
          ("arspec.model.engine.explore",), ("exploration",)),
    Stage("runner", "runtime runner", ("arspec.reference.runtime.runner.run_bundle",),
          ("report",)),
    Stage("prover", "prover (spec theorems)", ("arspec.proofs.core.prove_claim",),
          ("proofs_result",)),
    Stage("verdicts", "BundleResult", ("arspec.checker.verify_bundle.BundleResult",),
          ("frontend",)),
    Stage("exploration", "ExplorationResult", ("arspec.model.engine.ExplorationResult",),
          ("frontend",)),
    Stage("report", "RunReport", ("arspec.reference.runtime.run_report.RunReport",),
          ("frontend",)),
    Stage("proofs_result", "ProofResult", ("arspec.proofs.core.ProofResult",),
          ("frontend",)),
    Stage("frontend", "front end (loads once, one exit-code table)",
          ("arspec.cli.main.main", "arspec.checker.cli.main"), ("text", "json", "sarif")),
    Stage("text", "text renderer", ("arspec.cli.render.text",
                                    "arspec.checker.verify_bundle.render_text"), ("out",)),
    Stage("json", "JSON renderer", ("arspec.cli.render.json",
                                    "arspec.checker.verify_bundle.render_json"), ("out",)),
    Stage("sarif", "SARIF renderer", ("arspec.cli.render.sarif",
                                      "arspec.checker.verify_bundle.render_sarif"), ("out",)),
    Stage("out", "text / JSON / SARIF, exit code", (), ()),
)


def stage_code(stage: Stage) -> str | None:
    """Return the first candidate of ``stage`` that resolves (``None``: none does)."""
    return next((c for c in stage.candidates if resolve(c)), None)


def render_data_flow() -> str:
    """Return the data-flow picture and the table of the code behind each box."""
    body: list[str] = []
    rows = []
    for stage in DATA_FLOW:
        code = stage_code(stage)
        label = stage.label
        if stage.candidates:
            label += "\\n" + (code.removeprefix("arspec.") if code else "(missing)")
        style = ', color="red", fontcolor="red"' if stage.candidates and code is None else ""
        body.append(f"{dot_id(stage.key)} [label={dot_id(label)}{style}];")
        body += [f"{dot_id(stage.key)} -> {dot_id(target)};" for target in stage.feeds]
        if stage.candidates:
            rows.append([rst_text(stage.label), literal(code) if code else
                         "**missing from this tree** (" + ", ".join(
                             literal(c) for c in stage.candidates) + ")"])
    lines = graphviz("data_flow", "From a bundle to a verdict", body, rankdir="TB")
    lines += list_table(["box", "code"], rows, widths=[40, 60])
    return "\n".join(lines)


def render_layers(root: Path) -> str:
    """Return the rule table of ``docs/layers.py``, its picture and the imports it flags."""
    import layers as ly

    missing = set(ly.missing_layers(root))
    module_imports = ly.module_imports(root)
    imports = ly.import_graph(root, imports=module_imports)
    violations = ly.find_violations(imports)
    graph = ly.module_graph(root, imports=module_imports)
    rows = []
    for layer in ly.LAYERS:
        modules = sum(1 for m in graph if ly.get_layer(m) == layer.name)
        cycles = sum(ly.count_cycles(graph, p) for p in ly.get_packages(graph, layer.name))
        cycle_text = "none allowed" + (f" (**{cycles} found**)" if cycles else "")
        rows.append([literal(f"arspec.{layer.name}"), literal(layer.folder + "/"),
                     "**missing from this tree**" if layer.name in missing else str(modules),
                     rst_text(layer.owns),
                     ", ".join(literal(n) for n in layer.may_import) or "(nothing)",
                     cycle_text])
    lines = list_table(["package", "folder", "modules", "owns", "may import",
                        "import cycles inside"], rows, widths=[18, 15, 7, 30, 18, 12])
    body = [f"{dot_id(layer.name)}{' [style=dashed]' if layer.name in missing else ''};"
            for layer in ly.LAYERS]
    for layer in ly.LAYERS:
        # only the edges a transitive reduction keeps, so the picture stays readable
        implied = {n for target in layer.may_import
                   for n in next(x for x in ly.LAYERS if x.name == target).may_import}
        body += [f"{dot_id(layer.name)} -> {dot_id(target)};"
                 for target in layer.may_import if target not in implied]
    counted: dict[tuple[str, str], int] = {}
    for found in violations:
        counted[(found.source, found.target)] = counted.get((found.source, found.target), 0) + 1
    body += [f'{dot_id(s)} -> {dot_id(t)} [color="red", style=dashed, fontcolor="red", '
             f'label="{n} not allowed"];' for (s, t), n in sorted(counted.items())]
    lines += graphviz("layers", "What each package may import (an arrow: may import; a "
                      "dashed red arrow: imports found that the rule forbids)", body,
                      rankdir="BT")
    lines += heading("Imports the rule does not allow", "~")
    if violations:
        these = "this one breaks" if len(violations) == 1 else \
            f"these {len(violations)} break"
        lines += [f"{len(imports)} imports cross a package boundary; {these} the rule "
                  "(``tests/test_layers.py`` fails on each):", ""]
        lines += list_table(["file", "line", "imports", "from", "into"],
                            [[literal(v.file), str(v.line), literal(v.module),
                              literal(v.source), literal(v.target)] for v in violations])
    else:
        lines += [f"None: every one of the {len(imports)} imports that cross a package "
                  "boundary is allowed.", ""]
    lines += heading("Import cycles inside a package", "~")
    cycles = [(layer, package, ly.find_cycle(graph, package)) for layer in ly.LAYERS
              for package in ly.get_packages(graph, layer.name)]
    found = [(layer, package, cycle) for layer, package, cycle in cycles if cycle]
    lines += [f"{len(cycles)} packages; the modules of {len(cycles) - len(found)} import "
              "each other in no cycle (type-only and deferred imports count)."
              + (" One cycle of each of the others:" if found else ""), ""]
    if found:
        lines += list_table(["package", "a cycle"],
                            [[literal(package), "; ".join(literal(step) for step in cycle)]
                             for _, package, cycle in found], widths=[25, 75])
    return "\n".join(lines)


# --------------------------------------------------------------------------- the explorer


def field_comments(cls: type) -> dict[str, str]:
    """Return the ``#:`` comment above each annotated field of a dataclass's source."""
    import inspect

    found: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        text = line.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
            continue
        name = text.split(":", 1)[0]
        if name.isidentifier() and ":" in text and not text.startswith(("def ", "class ")):
            found[name] = " ".join(pending)
        pending = []
    return found


def _first_sentence(doc: str | None) -> str:
    text = " ".join((doc or "").strip().split("\n\n")[0].split())
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def render_explorer_state() -> str:
    """Return what one explored state holds: the runtime state's fields and the ghost."""
    import dataclasses

    from arspec.model.runtime_system import ModelState
    from arspec.spec.state import RuntimeState

    comments = field_comments(RuntimeState)
    rows = [[literal(f.name), literal(f.type), rst_text(comments.get(f.name, ""))]
            for f in dataclasses.fields(RuntimeState)]
    lines = [f"A state is a :class:`~arspec.model.runtime_system.ModelState`: a "
             f":class:`~arspec.spec.state.RuntimeState` snapshot ({len(rows)} fields, "
             "below) plus the explorer's ghost. Field comments are the code's own.", ""]
    lines += list_table(["field", "type", "meaning"], rows, widths=[22, 30, 48])
    ghost = [[literal(f.name), literal(f.type)] for f in dataclasses.fields(ModelState)
             if f.name != "runtime"]
    lines += ["The other fields of :class:`~arspec.model.runtime_system.ModelState`: "
              + rst_text(_first_sentence(ModelState.__doc__)), ""]
    lines += list_table(["field", "type"], ghost)
    return "\n".join(lines)


def render_explorer_actions() -> str:
    """Return the scheduler's action kinds (``arspec.spec.scheduler.Action``)."""
    import dataclasses
    import typing

    from arspec.spec import scheduler

    rows = []
    for kind in typing.get_args(scheduler.Action):
        fields = ", ".join(f"``{f.name}: {f.type}``" for f in dataclasses.fields(kind))
        rows.append([f":class:`~arspec.spec.scheduler.{kind.__name__}`", fields or "(none)",
                     rst_text(_first_sentence(kind.__doc__))])
    lines = [f"The {len(rows)} kinds of ``arspec.spec.scheduler.Action``, applied by "
             ":func:`~arspec.spec.scheduler.process_action`. "
             + rst_text(_first_sentence(scheduler.get_enabled_actions.__doc__)), ""]
    lines += list_table(["action", "fields", "what it does"], rows, widths=[22, 30, 48])
    return "\n".join(lines)


#: The reductions: (name, switch, autodoc directive, the code that states its condition).
REDUCTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("Partial-order reduction", "--no-partial-order", "autoclass",
     "arspec.model.runtime_system.EnvironmentOrder"),
    ("Symmetry reduction", "--no-symmetry", "automethod",
     "arspec.model.runtime_system.RuntimeSystem.canonicalize"),
    ("Invocation cache", "--no-cache", "autoclass",
     "arspec.model.runtime_system.CachingInvoker"),
)


def render_explorer_reductions() -> str:
    """Return each reduction with its switch and its condition (the code's docstrings)."""
    from generate import _doc_body, module_doc

    lines = [".. currentmodule:: arspec.model.reduction", "",
             _doc_body(module_doc("arspec.model.reduction")), "",
             ".. currentmodule:: arspec.model.runtime_system", ""]
    bullets = module_doc("arspec.model.runtime_system").split("\n* ")
    for title, switch, directive, target in REDUCTIONS:
        lines += heading(title, "~")
        found = [b for b in bullets if b.startswith(f"**{title}")]
        if len(found) != 1:
            raise ValueError(f"arspec.model.runtime_system's docstring has no '* **{title}' "
                             "bullet")
        lines += [" ".join(found[0].split()), ""]
        lines += [f"Switched off by ``{switch}`` (``--no-reductions``: all three).", "",
                  f".. {directive}:: {target}", "   :no-index:"]
        lines += ["   :no-members:", ""] if directive == "autoclass" else [""]
    return "\n".join(lines)


def render_explorer_checks() -> str:
    """Return the explorer's checks: the catalogue entries and the explorer's own."""
    from generate import _doc_body

    from arspec.model import confluence
    from arspec.model import runtime_system as rs
    from arspec.spec.catalogue import CATALOGUE

    def how(entry: object) -> str:
        if getattr(entry, "liveness", False):
            return "liveness: strongly connected components under weak fairness"
        parts = [name for name in ("state", "transition") if getattr(entry, name) is not None]
        if getattr(entry, "double_execution", False):
            parts.append("callback sites of the slot")
        return " and ".join(parts)

    rows = [[literal(name), rst_text(entry.summary), how(entry)]
            for name, entry in CATALOGUE.items()]
    rows.append([literal(rs.STEP_INVARIANT), "every step is a valid spec transition (a step "
                 "that raises is a violation)", "transition, always on"])
    replica = _doc_body(confluence.__doc__ or "")
    rows.append([literal(rs.REPLICA_INVARIANT), rst_text(_first_sentence(replica)),
                 "every order of every choice of domain values in a slot's first state"])
    lines = [f"``arspec.spec.catalogue.CATALOGUE`` ({len(CATALOGUE)} entries) and the "
             "explorer's own two checks; a bundle picks them in ``properties.explore."
             "invariants`` and adds its own field invariants. Each catalogue entry in full "
             "(statement, checks, proofs, the examples that break it): :doc:`invariants`.", ""]
    lines += list_table(["check", "statement", "checked on"], rows, widths=[22, 48, 30])
    return "\n".join(lines)


def render_explorer_trace() -> str:
    """Return the trace file format (``arspec.model.trace_file``)."""
    from generate import _doc_body, module_doc

    from arspec.model import trace_file as tf

    actions = [*tf._ACTIONS, "DomainWrite", "Watch"]
    lines = [".. currentmodule:: arspec.model.trace_file", "",
             _doc_body(module_doc("arspec.model.trace_file")), ""]
    lines += list_table(["constant", "value"], [
        [literal("TRACE_FORMAT"), literal(tf.TRACE_FORMAT)],
        [literal("TRACE_VERSION"), literal(tf.TRACE_VERSION)],
        [literal("READABLE_VERSIONS"), ", ".join(literal(v) for v in tf.READABLE_VERSIONS)],
        ["step ``action`` values", ", ".join(literal(a) for a in actions)],
    ])
    return "\n".join(lines)


# --------------------------------------------------------------------------- invariant catalogue

#: The explorer's verdicts on every ``broken_by`` example, written by
#: ``python docs/design.py --write-examples`` (the docs build reads it and explores nothing;
#: ``tests/docs/test_invariants_page.py`` checks it against fresh explorations).
EXAMPLES_CACHE = "docs/invariant_examples.json"
EXAMPLES_FORMAT = "arspec-invariant-examples"
EXAMPLES_VERSION = 1
#: What each kind of invariant is a property of, for the page.
KIND_TEXT = {"state": "a property of every reachable state",
             "transition": "a property of every atomic scheduler action (the state before, "
                           "its events, the state after)",
             "liveness": "a property of infinite runs"}


def invariant_label(name: str) -> str:
    """Return the Sphinx label of a catalogue entry on the invariants page."""
    return f"invariant-{name}"


def proof_label(name: str) -> str:
    """Return the Sphinx label of a proof claim's row on the proofs page."""
    return f"proof-{name}"


def sha256_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, in hex."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def explore_examples(root: Path, examples: Iterable[str]) -> dict[str, object]:
    """Return the cache record of ``examples``: each one's SHA-256, verdict and violations
    (``[invariant, reason, trace steps]``), as ``spec-check explore EXAMPLE`` reports them."""
    from arspec.model.explore_bundle import explore_bundle

    found: dict[str, object] = {}
    for example in sorted(set(examples)):
        outcome = explore_bundle(str(root / example), timing=False)
        found[example] = {"sha256": sha256_file(root / example), "verdict": outcome.verdict,
                          "violations": [list(v) for v in outcome.violations]}
    return {"format": EXAMPLES_FORMAT, "version": EXAMPLES_VERSION, "examples": found}


def catalogue_examples() -> list[str]:
    """Return every example a catalogue entry names in ``broken_by``, once, sorted."""
    from arspec.spec.catalogue import CATALOGUE

    return sorted({e for inv in CATALOGUE.values() for e in inv.broken_by})


def write_examples_cache(root: Path) -> Path:
    """Explore every ``broken_by`` example and write :data:`EXAMPLES_CACHE`."""
    import json

    path = root / EXAMPLES_CACHE
    record = explore_examples(root, catalogue_examples())
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


@dataclass(frozen=True)
class ExampleViolation:
    """What the explorer reports for one example and one invariant."""

    example: str
    line: str
    steps: int


def read_example_violations(root: Path) -> dict[tuple[str, str], ExampleViolation]:
    """Return ``(invariant, example) -> violation`` for every ``broken_by`` pair.

    :raises ValueError: when the cache is missing, of another format, lacks an example,
        holds an example whose file changed since, or has no violation of the invariant that
        names the example (each message says to run ``python docs/design.py
        --write-examples``).
    """
    import json

    from arspec.spec.catalogue import CATALOGUE

    redo = "run python docs/design.py --write-examples"
    path = root / EXAMPLES_CACHE
    if not path.is_file():
        raise ValueError(f"{EXAMPLES_CACHE} is missing; {redo}")
    data = json.loads(path.read_text())
    if data.get("format") != EXAMPLES_FORMAT or data.get("version") != EXAMPLES_VERSION:
        raise ValueError(f"{EXAMPLES_CACHE} is not {EXAMPLES_FORMAT} version "
                         f"{EXAMPLES_VERSION}; {redo}")
    cached = data["examples"]
    found: dict[tuple[str, str], ExampleViolation] = {}
    for inv in CATALOGUE.values():
        for example in inv.broken_by:
            record = cached.get(example)
            if record is None:
                raise ValueError(f"{EXAMPLES_CACHE} has no run of {example}; {redo}")
            if not (root / example).is_file() or \
                    record["sha256"] != sha256_file(root / example):
                raise ValueError(f"{example} changed since {EXAMPLES_CACHE} was written; "
                                 f"{redo}")
            hits = [v for v in record["violations"] if v[0] == inv.name]
            if not hits:
                raise ValueError(f"{EXAMPLES_CACHE}: {example} does not violate {inv.name}; "
                                 "fix the catalogue's broken_by or the example, then " + redo)
            name, reason, steps = hits[0]
            found[(inv.name, example)] = ExampleViolation(example, f"VIOLATED {name}: {reason}",
                                                          int(steps))
    return found


def _code_ref(function: object) -> str:
    """Return a ``:func:`` reference to a catalogue predicate (a literal for a private one)."""
    name = getattr(function, "__name__", "")
    module = getattr(function, "__module__", "")
    target = f"{module}.{name}"
    if not resolve(target):
        raise ValueError(f"{target} does not resolve")
    shown = literal(target) if name.startswith("_") else f":func:`~{target}`"
    doc = _first_sentence(getattr(function, "__doc__", None)).removeprefix("Return ")
    return f"{shown} ({rst_text(doc.rstrip('.'))})" if doc else shown


def invariant_checks(entry: object) -> list[str]:
    """Return one bullet per engine that checks a catalogue entry, naming the code."""
    from arspec.spec.catalogue import Invariant

    assert isinstance(entry, Invariant)
    if entry.liveness:
        return ["the explorer's liveness check (:mod:`arspec.model.starvation`): strongly "
                "connected components of a slot-abstracted state graph under weak fairness "
                "of the scheduler's own actions, with a lasso as the counterexample"]
    bullets = []
    if entry.state is not None:
        bullets.append(f"the explorer, on every reachable state: {_code_ref(entry.state)}")
    if entry.transition is not None:
        bullets.append(f"the explorer, on every transition: {_code_ref(entry.transition)}")
    if entry.double_execution:
        from arspec.spec.catalogue import get_double_execution_violation

        bullets.append("the explorer, on every transition against the callback sites that "
                       f"already ran in the slot: {_code_ref(get_double_execution_violation)}")
    if entry.holds is not None:
        bullets.append("the runtime tests, after every scheduler action of real runs "
                       f"(:func:`~arspec.spec.catalogue.get_violated_invariants`): "
                       f"{_code_ref(entry.holds)}")
    else:
        bullets.append("the runtime tests: not checked (the entry has no ``holds`` part)")
    return bullets


def render_invariants(root: Path) -> str:
    """Return the invariant catalogue page: a summary table, then every entry with its
    statement, its checks, the proof claims that cover it and the examples that break it."""
    from arspec.proofs.catalogue import get_claims
    from arspec.spec.catalogue import CATALOGUE

    claims = {claim.name: (system, claim) for system, claim in get_claims()}
    violations = read_example_violations(root)
    rows = []
    for name, entry in CATALOGUE.items():
        rows.append([f":ref:`{name} <{invariant_label(name)}>`", entry.kind.value,
                     rst_text(entry.summary), str(len(entry.proofs)),
                     str(len(entry.broken_by))])
    # The statements are RST written in the catalogue module (its roles are relative to it).
    lines = [".. currentmodule:: arspec.spec.catalogue", "",
             f"``arspec.spec.catalogue.CATALOGUE``: {len(CATALOGUE)} invariants, in the "
             "order the explorer checks and reports them.", ""]
    lines += list_table(["invariant", "kind", "summary", "proofs", "broken by"], rows,
                        widths=[22, 12, 50, 8, 8])
    for name, entry in CATALOGUE.items():
        lines += [f".. _{invariant_label(name)}:", ""]
        lines += heading(f"``{name}``", "-")
        lines += [f"*{rst_text(entry.summary)}.* Kind: **{entry.kind.value}**, "
                  f"{KIND_TEXT[entry.kind.value]}.", "", " ".join(entry.statement.split()), ""]
        lines += ["Checked by:", ""]
        lines += [f"* {bullet}" for bullet in invariant_checks(entry)] + [""]
        if entry.proofs:
            proof_rows = []
            for claim_name in entry.proofs:
                if claim_name not in claims:
                    raise ValueError(f"catalogue entry {name} names proof claim "
                                     f"{claim_name!r}, which arspec.proofs does not have")
                system, claim = claims[claim_name]
                proof_rows.append([f":ref:`{claim_name} <{proof_label(claim_name)}>`",
                                   rst_text(system.title), rst_text(claim.statement)])
            lines += ["Parts of it are proved for every state of any size by these claims "
                      "(``spec-check prove``; each one's status and time are on :doc:`proofs`):",
                      ""]
            lines += list_table(["claim", "system", "statement"], proof_rows,
                                widths=[22, 18, 60])
        else:
            lines += ["No proof claim covers it.", ""]
        if entry.broken_by:
            example_rows = []
            for example in entry.broken_by:
                found = violations[(name, example)]
                shown = literal(found.line) if "`" not in found.line else rst_text(found.line)
                example_rows.append([literal(example), shown, str(found.steps)])
            lines += ["Broken by (``spec-check explore EXAMPLE``; the first line of each "
                      "violation, and the length of its shortest trace):", ""]
            lines += list_table(["example", "the explorer reports", "steps"], example_rows,
                                widths=[30, 62, 8])
        else:
            lines += ["No example breaks it (see the statement).", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python docs/design.py --write-examples``: refresh :data:`EXAMPLES_CACHE`."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--write-examples", action="store_true", required=True,
                        help=f"explore every broken_by example and write {EXAMPLES_CACHE}")
    parser.parse_args(argv)
    path = write_examples_cache(Path(__file__).resolve().parent.parent)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
