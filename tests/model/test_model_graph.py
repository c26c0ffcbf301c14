"""networkx graph and DOT export."""

from __future__ import annotations

import pytest
from model_systems import Counter, LossyQueue, below, in_order

from arspec.model.engine import ModelError, explore
from arspec.model.graph import space_to_dot, to_networkx, trace_to_dot


def test_networkx_graph_matches_store() -> None:
    result = explore(LossyQueue(3, 2), record_edges=True)
    graph = to_networkx(result.space)
    assert graph.number_of_nodes() == result.stats.states == 23
    assert graph.number_of_edges() == result.stats.transitions == 30
    assert graph.nodes[0]["depth"] == 0
    assert graph.edges[0, 1]["labels"] == ("send()",)


def test_parallel_actions_merge_into_one_edge() -> None:
    result = explore(Counter(2), record_edges=True)
    graph = to_networkx(result.space)
    # 2 -reset-> 0 and 1 -reset-> 0; 0 -inc1-> 1, 0 -inc2-> 2, 1 -inc1-> 2
    assert sorted(graph.edges) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0)]
    assert graph.edges[1, 0]["index"] == 1


def test_space_dot_exact() -> None:
    result = explore(Counter(2), record_edges=True)
    assert space_to_dot(result.space, highlight=(2,)) == (
        'digraph "states" {\n  node [shape=circle];\n'
        '  s0 [label="0", shape=doublecircle];\n  s1 [label="1"];\n'
        '  s2 [label="2", style=bold];\n'
        '  s0 -> s1 [label="0: inc1()"];\n  s0 -> s2 [label="1: inc2()"];\n'
        '  s1 -> s2 [label="0: inc1()"];\n  s1 -> s0 [label="1: reset()"];\n'
        '  s2 -> s0 [label="0: reset()"];\n}\n')


def test_trace_dot_exact() -> None:
    result = explore(Counter(9), invariants=[below(3)])
    assert result.violation is not None
    assert trace_to_dot(result.violation.trace, name='t"1') == (
        'digraph "t\\"1" {\n  node [shape=box];\n  t0 [label="0: 0"];\n'
        '  t1 [label="1: 1"];\n  t2 [label="2: 3"];\n'
        '  t0 -> t1 [label="inc1()"];\n  t1 -> t2 [label="inc2()"];\n}\n')


def test_invalid_export_without_edges() -> None:
    result = explore(Counter(3))
    with pytest.raises(ModelError, match="record_edges=True"):
        to_networkx(result.space)
    with pytest.raises(ModelError, match="record_edges=True"):
        space_to_dot(result.space)


def test_dot_identical_across_runs() -> None:
    first = space_to_dot(explore(LossyQueue(2, 2), record_edges=True,
                                 invariants=[in_order()],
                                 stop_at_first_violation=False).space)
    second = space_to_dot(explore(LossyQueue(2, 2), record_edges=True,
                                  invariants=[in_order()],
                                  stop_at_first_violation=False).space)
    assert first == second and first.count("->") == 12
