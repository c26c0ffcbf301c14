"""Render the design pages' generated parts: lifecycles, architecture and the explorer.

Each ``render_*`` returns RST text built from the code (:mod:`arspec.spec.lifecycles`,
``docs/layers.py``, the explorer's modules); :mod:`generate` writes them as ``.inc``
fragments. Diagrams are Graphviz ``dot`` text inside ``.. graphviz::`` directives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
