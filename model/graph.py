"""
State graphs
============

Turn the explorer's compact store into a networkx ``DiGraph`` (after exploration, from the
integer ids) and write deterministic DOT text for a whole (small) state space or for a trace.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import networkx as nx

from arspec.model.engine import ModelError, StateSpace, Trace


def _require_edges(space: StateSpace) -> None:
    if not space.record_edges:
        raise ModelError("the state space has no edges: explore(..., record_edges=True)")


def to_networkx(space: StateSpace) -> Any:
    """Build a ``networkx.DiGraph`` of the explored states.

    Nodes are state ids with a ``depth`` attribute; an edge ``u -> v`` carries ``index`` (the
    smallest action index of ``actions(u)`` leading to ``v``), ``labels`` (all their action
    descriptions, by index) and ``actions`` (ids into ``space.action_table``).

    :param space: a store explored with ``record_edges=True``.
    :returns: the graph (nodes and edges inserted in id / exploration order).
    :raises ModelError: if the edges were not recorded.
    """
    _require_edges(space)
    graph = nx.DiGraph()
    for sid in range(len(space)):
        graph.add_node(sid, depth=space.depth[sid])
    for n in range(len(space.edge_src)):
        u, v = space.edge_src[n], space.edge_dst[n]
        aid = space.edge_action[n]
        idx = space.edge_index[n]
        if graph.has_edge(u, v):
            data = graph.edges[u, v]
            data["labels"] = (*data["labels"], space.action_labels[aid])
            data["actions"] = (*data["actions"], aid)
            data["index"] = min(data["index"], idx)
        else:
            graph.add_edge(u, v, index=idx, labels=(space.action_labels[aid],),
                           actions=(aid,))
    return graph


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def space_to_dot(space: StateSpace, *, name: str = "states",
                 highlight: tuple[int, ...] = (), labels: Sequence[str] | None = None,
                 path: Sequence[int] = ()) -> str:
    """Return DOT text for the whole state graph, nodes by id and edges by (source, index).

    :param space: a store explored with ``record_edges=True``.
    :param name: the graph name.
    :param highlight: state ids drawn bold (e.g. a counterexample path).
    :param labels: a text per state id, shown after the id.
    :param path: state ids of a counterexample, in order: drawn red, with the edges
        between consecutive ones.
    :returns: the DOT text, ending with a newline.
    :raises ModelError: if the edges were not recorded.
    """
    _require_edges(space)
    marked = set(highlight)
    on_path = set(path)
    steps = set(itertools.pairwise(path))
    lines = [f"digraph {_quote(name)} {{", "  node [shape=circle];"]
    for sid in range(len(space)):
        style = ", style=bold" if sid in marked or sid in on_path else ""
        style += ", color=red, penwidth=2" if sid in on_path else ""
        shape = ", shape=doublecircle" if space.parent[sid] < 0 else ""
        text = f"{sid}" if labels is None else f"{sid}: {labels[sid]}"
        lines.append(f"  s{sid} [label={_quote(text)}{shape}{style}];")
    edges = sorted(range(len(space.edge_src)),
                   key=lambda n: (space.edge_src[n], space.edge_index[n], space.edge_dst[n]))
    for n in edges:
        label = f"{space.edge_index[n]}: {space.action_labels[space.edge_action[n]]}"
        src, dst = space.edge_src[n], space.edge_dst[n]
        red = ", color=red, penwidth=2" if (src, dst) in steps else ""
        lines.append(f"  s{src} -> s{dst} [label={_quote(label)}{red}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def trace_to_dot(trace: Trace[Any, Any], *, name: str = "trace",
                 show_states: bool = True) -> str:
    """Return DOT text for a trace: a chain of states labelled with ``repr`` of each state.

    :param trace: the trace.
    :param name: the graph name.
    :param show_states: label nodes with ``repr(state)`` rather than the step number.
    :returns: the DOT text, ending with a newline.
    """
    states = [trace.initial, *(step.state for step in trace.steps)]
    lines = [f"digraph {_quote(name)} {{", "  node [shape=box];"]
    for n, state in enumerate(states):
        label = f"{n}: {state!r}" if show_states else str(n)
        lines.append(f"  t{n} [label={_quote(label)}];")
    for n, step in enumerate(trace.steps):
        lines.append(f"  t{n} -> t{n + 1} [label={_quote(step.label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
