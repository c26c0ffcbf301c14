"""Strongly connected components on edge arrays agree with networkx (property tests)."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.model.scc import OutEdges, find_components, has_self_loop

Graph = tuple[int, list[tuple[int, int]], list[bool]]


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 25))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          max_size=60))
    inside = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return n, edges, inside


def components(n: int, edges: list[tuple[int, int]], inside: list[bool],
               ) -> set[frozenset[int]]:
    out = OutEdges(n, [s for s, _ in edges])
    dst = [d for _, d in edges]
    return {frozenset(c) for c in find_components(n, out, dst, bytes(inside))}


def reference(n: int, edges: list[tuple[int, int]], inside: list[bool],
              ) -> set[frozenset[int]]:
    graph = nx.DiGraph()
    graph.add_nodes_from(v for v in range(n) if inside[v])
    graph.add_edges_from((s, d) for s, d in edges if inside[s] and inside[d])
    return {frozenset(c) for c in nx.strongly_connected_components(graph)}


@settings(max_examples=300, derandomize=True, deadline=None)
@given(graphs())
def test_components_equal_networkx(graph: Graph) -> None:
    n, edges, inside = graph
    assert components(n, edges, inside) == reference(n, edges, inside)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(graphs())
def test_sorted_sources_give_the_same_components(graph: Graph) -> None:
    n, edges, inside = graph
    assert components(n, sorted(edges), inside) == components(n, edges, inside)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(graphs())
def test_out_edges_list_each_edge_once_in_recorded_order(graph: Graph) -> None:
    n, edges, _ = graph
    out = OutEdges(n, [s for s, _ in edges])
    listed = [list(out.of(v)) for v in range(n)]
    assert sorted(e for row in listed for e in row) == list(range(len(edges)))
    for v, row in enumerate(listed):
        assert row == [i for i, (s, _) in enumerate(edges) if s == v]


def test_self_loop_detection() -> None:
    out = OutEdges(3, [0, 1, 1])
    dst = [1, 1, 2]
    assert has_self_loop(out, dst, 1)
    assert not has_self_loop(out, dst, 0) and not has_self_loop(out, dst, 2)


def test_invalid_outside_states_are_never_visited() -> None:
    # A 3-cycle cut by one state outside the subgraph has only trivial components.
    out = OutEdges(3, [0, 1, 2])
    dst = [1, 2, 0]
    assert {frozenset(c) for c in find_components(3, out, dst, bytes([1, 0, 1]))} == \
        {frozenset({0}), frozenset({2})}
    assert {frozenset(c) for c in find_components(3, out, dst, bytes([1, 1, 1]))} == \
        {frozenset({0, 1, 2})}


def test_long_chain_does_not_recurse() -> None:
    n = 200_000
    out = OutEdges(n, list(range(n)))
    dst = [(v + 1) % n for v in range(n)]
    comps = list(find_components(n, out, dst, bytes([1]) * n))
    assert len(comps) == 1 and len(comps[0]) == n
