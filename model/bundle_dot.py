"""
Pictures of a bundle's counterexample
=====================================

DOT text that answers "what went wrong": the trace as a chain of states (slot, phase, FIFO
length, CU spent) whose edges carry the action, the program that ran (``program.function``
for a callback, with its tail calls), its cost or fault, and the declared fields it changed;
the last state is red and points at a note with the broken invariant and the reason. The
state graph of a small exploration labels every state the same way and draws the
counterexample's path in red.
"""

from __future__ import annotations

from collections.abc import Sequence

from arspec.model.engine import ExplorationResult, Trace, Violation
from arspec.model.graph import space_to_dot
from arspec.model.runtime_system import ModelState
from arspec.model.step_text import (
    FunctionNames,
    describe_changes,
    describe_step,
    get_named_fields,
)
from arspec.spec import bundle as schema
from arspec.spec.scheduler import Action


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def describe_state(state: ModelState) -> str:
    """Return ``slot 2 run, FIFO 1, 1323 CU``: where the scheduler stands."""
    rt = state.runtime
    text = f"slot {rt.slot} {rt.phase.value}, FIFO {len(rt.fifo)}, {rt.slot_cu_used} CU"
    return text + (f"\nERROR {state.error}" if state.error else "")


def trace_picture(trace: Trace[ModelState, Action], bundle: schema.Bundle,
                  names: FunctionNames, invariant: str, reason: str) -> str:
    """Return DOT text for a counterexample trace (see the module docstring)."""
    fields = get_named_fields(bundle)
    states = [trace.initial, *(step.state for step in trace.steps)]
    last = len(states) - 1
    lines = [f"digraph {_quote(invariant)} {{", '  node [shape=box, fontname="monospace"];',
             '  edge [fontname="monospace"];']
    for n, state in enumerate(states):
        red = ", color=red, penwidth=2" if n == last else ""
        lines.append(f"  t{n} [label={_quote(f'{n}: {describe_state(state)}')}{red}];")
    for n, step in enumerate(trace.steps):
        program, result = describe_step(step.state, names)
        changes = describe_changes(fields, states[n].runtime, step.state.runtime)
        label = "\n".join(part for part in (step.label, program, result, changes) if part)
        lines.append(f"  t{n} -> t{n + 1} [label={_quote(label)}];")
    lines.append(f"  violation [shape=note, color=red, label="
                 f"{_quote(f'VIOLATED {invariant}' + chr(10) + reason)}];")
    lines.append(f"  t{last} -> violation [style=dashed, color=red];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_picture(result: ExplorationResult[ModelState, Action],
                  labels: Sequence[str], first: Violation[ModelState, Action] | None) -> str:
    """Return DOT text for a small state graph, the first counterexample's path in red."""
    space = result.space
    path: list[int] = []
    if first is not None and first.state_id >= 0:
        path = space.path_to(first.state_id)
    return space_to_dot(space, labels=labels, path=path)


__all__: Sequence[str] = ["graph_picture", "trace_picture"]
