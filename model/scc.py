"""
Strongly connected components on compact edge arrays
=====================================================

The liveness check needs the strongly connected components of the explored state graph
restricted to some states. Holding that graph as a :mod:`networkx` ``DiGraph`` costs about
1.7 KB per state (2.67 GB at 1.6 million states); here the graph stays in the explorer's
edge arrays, indexed by source in compressed-sparse-row form (:class:`OutEdges`: one
``array`` of ``n + 1`` offsets, about 8 bytes per state), and the components come from an
iterative Tarjan search with ``array`` bookkeeping (about 17 bytes per state), so no
per-state Python object is created.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import Final

#: Marks a state not yet visited by the search.
_UNVISITED: Final = -1


class OutEdges:
    """The edges of each state, as a range of edge numbers (compressed sparse rows).

    :param states: the number of states.
    :param edge_src: the source of every edge.

    Edge numbers are kept as recorded; when the sources are not in nondecreasing order
    (the explorer records them breadth-first, so they are), the edge numbers are sorted by
    source into ``order``.
    """

    def __init__(self, states: int, edge_src: Sequence[int]) -> None:
        counts = array("q", [0]) * (states + 1)
        monotone = True
        last = -1
        for src in edge_src:
            counts[src + 1] += 1
            if src < last:
                monotone = False
            last = src
        for v in range(states):
            counts[v + 1] += counts[v]
        self.first = counts
        self.order: array[int] | None = None
        if not monotone:
            order = array("q", sorted(range(len(edge_src)), key=edge_src.__getitem__))
            self.order = order

    def of(self, state: int) -> Sequence[int]:
        """Return the edge numbers leaving ``state``, in recorded order."""
        lo, hi = self.first[state], self.first[state + 1]
        if self.order is None:
            return range(lo, hi)
        return self.order[lo:hi]


def find_components(states: int, out: OutEdges, edge_dst: Sequence[int],
                    inside: bytes | bytearray) -> Iterator[list[int]]:
    """Yield the strongly connected components of the subgraph on the states ``inside``.

    ``inside[v]`` is non-zero for the states of the subgraph.

    Each component is yielded once, as a list of state ids (in no particular order); trivial
    components (one state, no self-loop) are yielded too.
    """
    index = array("q", [_UNVISITED]) * states
    low = array("q", [0]) * states
    on_stack = bytearray(states)
    stack: list[int] = []
    counter = 0
    for root in range(states):
        if index[root] != _UNVISITED or not inside[root]:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        work: list[tuple[int, Iterator[int]]] = [(root, iter(out.of(root)))]
        while work:
            v, edges = work[-1]
            descended = False
            for n in edges:
                w = edge_dst[n]
                if not inside[w]:
                    continue
                if index[w] == _UNVISITED:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = 1
                    work.append((w, iter(out.of(w))))
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack[w] = 0
                    component.append(w)
                    if w == v:
                        break
                yield component


def has_self_loop(out: OutEdges, edge_dst: Sequence[int], state: int) -> bool:
    """Return whether ``state`` has an edge to itself."""
    return any(edge_dst[n] == state for n in out.of(state))


__all__: Sequence[str] = ["OutEdges", "find_components", "has_self_loop"]
