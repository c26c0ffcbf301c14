"""
Liveness
========

Bounded response, checked as a safety property over explicit age counters (a product of the
system with a monitor), and absence of starvation under weak fairness, checked on the strongly
connected components of the fully explored state graph with a lasso-shaped witness.

Weak fairness (justice): every *fairness class* of actions that is enabled continuously from
some point on is taken infinitely often. Item ``x`` starves under weak fairness iff some
non-trivial SCC ``C`` of the subgraph of states where ``x`` is pending satisfies: for every
class ``k``, either an edge of class ``k`` with both ends in ``C`` exists, or some state of
``C`` has no enabled action of class ``k``. Then a cycle through ``C`` visiting those edges
and states is a fair run on which ``x`` stays pending forever; conversely the states and
edges a fair starving run visits infinitely often lie in such an SCC (finite graphs), so the
check is exact on a complete exploration.

The graph is never built as objects: the components are computed on the explorer's edge
arrays (:mod:`arspec.model.scc`), and the seen-set may hold fingerprints
(``store``), so a million-state graph fits in a few hundred megabytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from arspec.model.engine import (
    Bounds,
    ExplorationResult,
    Invariant,
    ModelError,
    StateSpace,
    StoreMode,
    Trace,
    TraceStep,
    TransitionSystem,
    Verdict,
    explore,
    replay,
)
from arspec.model.scc import OutEdges, find_components, has_self_loop
from arspec.model.stopping import get_stop_reason, request_stop

S = TypeVar("S")
A = TypeVar("A")

Item = Hashable


@dataclass(frozen=True)
class Lasso(Generic[S, A]):
    """A witness for an infinite run: ``prefix``, then ``cycle`` repeated forever.

    The cycle starts and ends in ``prefix.final``.
    """

    prefix: Trace[S, A]
    cycle: tuple[TraceStep[S, A], ...]


@dataclass(frozen=True)
class StarvationResult(Generic[S, A]):
    """Verdict of the starvation check; on ``VIOLATED``, the starving item and its lasso."""

    verdict: Verdict
    item: Item | None
    lasso: Lasso[S, A] | None
    unfair_classes: tuple[Hashable, ...]
    exploration: ExplorationResult[S, A]


def check_starvation(system: TransitionSystem[S, A], *,
                     pending: Callable[[S], Sequence[Item]],
                     fairness: Callable[[A], Hashable | None],
                     bounds: Bounds | None = None,
                     store: StoreMode = StoreMode.EXACT,
                     memory_in_use: Callable[[], int] | None = None,
                     ) -> StarvationResult[S, A]:
    """Search for an item that can stay pending forever on a weakly fair run.

    :param system: the model (explored without reductions: the SCC check needs the full
        graph).
    :param pending: the items pending in a state.
    :param fairness: the weak-fairness class of an action, or ``None`` for actions under no
        fairness constraint.
    :param bounds: exploration bounds; if one is reached the verdict is ``BOUND-REACHED``.
    :param store: the explorer's seen-set (:class:`~arspec.model.engine.StoreMode`).
    :param memory_in_use: the memory probe of the memory bound (see
        :func:`~arspec.model.engine.explore`).
    :returns: ``HOLDS`` when no item can starve, ``VIOLATED`` with the first starving item
        (items in order of first appearance) and a lasso whose prefix is shortest among the
        starving SCCs of that item.
    """
    interned: dict[tuple[Item, ...], tuple[Item, ...]] = {}

    def tag_of(state: S) -> tuple[Item, ...]:
        items = tuple(pending(state))
        return interned.setdefault(items, items)

    result = explore(system, bounds=bounds, record_edges=True, tagger=tag_of, store=store,
                     memory_in_use=memory_in_use)
    space = result.space
    if not space.complete:
        return StarvationResult(Verdict.BOUND_REACHED, None, None, (), result)
    classes = [fairness(a) for a in space.action_table]  # type: ignore[arg-type]
    out_edges = OutEdges(len(space), space.edge_src)
    items: list[Item] = []
    seen: set[Item] = set()
    for tag in space.tags:
        for item in tag:  # type: ignore[attr-defined]
            if item not in seen:
                seen.add(item)
                items.append(item)
    for item in items:
        try:
            found = _starving_scc(space, out_edges, classes, item)
        except _Stopped:
            return StarvationResult(Verdict.BOUND_REACHED, None, None, (), result)
        if found is not None:
            component, entry = found
            lasso = _lasso(system, space, out_edges, classes, component, entry)
            return StarvationResult(Verdict.VIOLATED, item, lasso, (), result)
    return StarvationResult(Verdict.HOLDS, None, None, (), result)


class _Stopped(Exception):
    """The command's limits stopped the component search."""


def _starving_scc(space: StateSpace, out_edges: OutEdges,
                  classes: list[Hashable | None], item: Item,
                  ) -> tuple[list[int], int] | None:
    """Return (sorted SCC, entry state) of the fair starving SCC nearest the start, if any."""
    pending_tags = {tag for tag in space.tags if item in tag}  # type: ignore[operator]
    inside = bytearray(1 if tag in pending_tags else 0 for tag in space.tags)
    best: tuple[int, int, list[int]] | None = None
    for comp in find_components(len(space), out_edges, space.edge_dst, inside):
        reason = get_stop_reason()
        if reason is not None:  # --timeout (see arspec.model.stopping)
            request_stop(reason)
            raise _Stopped
        members = sorted(comp)
        if len(members) == 1 and not has_self_loop(out_edges, space.edge_dst, members[0]):
            continue
        if _unfair_classes(space, out_edges, classes, set(members)):
            continue
        entry = min(members, key=lambda v: (space.depth[v], v))
        rank = (space.depth[entry], entry)
        if best is None or rank < best[:2]:
            best = (rank[0], rank[1], members)
    return None if best is None else (best[2], best[1])


def _unfair_classes(space: StateSpace, out_edges: OutEdges,
                    classes: list[Hashable | None], members: set[int]) -> list[Hashable]:
    """Classes enabled in every state of ``members`` but never taken inside it."""
    taken: set[Hashable] = set()
    always: list[Hashable] | None = None
    for v in sorted(members):
        here: list[Hashable] = []
        for n in out_edges.of(v):
            k = classes[space.edge_action[n]]
            if k is None:
                continue
            if k not in here:
                here.append(k)
            if space.edge_dst[n] in members:
                taken.add(k)
        always = here if always is None else [k for k in always if k in here]
    return [k for k in (always or []) if k not in taken]


def _lasso(system: TransitionSystem[S, A], space: StateSpace, out_edges: OutEdges,
           classes: list[Hashable | None], members: list[int], entry: int) -> Lasso[S, A]:
    """Build prefix + a cycle through ``members`` meeting every fairness class."""
    inside = set(members)
    targets: list[tuple[str, int]] = []  # ("edge", edge number) or ("state", state id)
    needed: list[Hashable] = []
    for v in members:
        for n in out_edges.of(v):
            k = classes[space.edge_action[n]]
            if k is not None and k not in needed:
                needed.append(k)
    for k in needed:
        internal = [n for v in members for n in out_edges.of(v)
                    if classes[space.edge_action[n]] == k and space.edge_dst[n] in inside]
        if internal:
            targets.append(("edge", min(internal)))
        else:
            disabled = [v for v in members
                        if all(classes[space.edge_action[n]] != k for n in out_edges.of(v))]
            targets.append(("state", disabled[0]))
    walk: list[int] = []  # edge numbers
    here = entry
    for kind, what in targets:
        goal = space.edge_src[what] if kind == "edge" else what
        walk += _path(space, out_edges, inside, here, goal)
        here = goal
        if kind == "edge":
            walk.append(what)
            here = space.edge_dst[what]
    if not walk and here == entry:
        first = min(n for n in out_edges.of(entry) if space.edge_dst[n] in inside)
        walk.append(first)
        here = space.edge_dst[first]
    walk += _path(space, out_edges, inside, here, entry)
    prefix: Trace[S, A] = replay(system, space, space.path_to(entry))
    state = prefix.final
    steps: list[TraceStep[S, A]] = []
    for n in walk:
        idx = space.edge_index[n]
        action = system.actions(state)[idx]
        state = system.apply(state, action)
        steps.append(TraceStep(idx, action, system.describe(action), state))
    return Lasso(prefix, tuple(steps))


def _path(space: StateSpace, out_edges: OutEdges, inside: set[int], src: int,
          dst: int) -> list[int]:
    """Shortest edge path from ``src`` to ``dst`` staying in ``inside`` (BFS, edge order)."""
    if src == dst:
        return []
    via: dict[int, int] = {src: -1}
    queue = deque([src])
    while queue:
        v = queue.popleft()
        for n in out_edges.of(v):
            w = space.edge_dst[n]
            if w in inside and w not in via:
                via[w] = n
                if w == dst:
                    path = []
                    while w != src:
                        path.append(via[w])
                        w = space.edge_src[via[w]]
                    return path[::-1]
                queue.append(w)
    raise ModelError("internal error: SCC is not strongly connected")


# Bounded response ----------------------------------------------------------------------------

Ages = tuple[tuple[int, int], ...]


class ResponseMonitor(Generic[S, A]):
    """The product of a system with one age counter per pending item.

    An item's age starts at 0 when it becomes pending and grows by ``clock(pre, a, post)``
    per step while it stays pending; ages saturate at ``within + 1`` so the product is
    finite. Items are ints (ids chosen by the system), at most one of each per state.
    """

    def __init__(self, system: TransitionSystem[S, A], pending: Callable[[S], Sequence[int]],
                 within: int, clock: Callable[[S, A, S], int] | None = None) -> None:
        if within < 0:
            raise ModelError(f"within must be >= 0, got {within}")
        self.system = system
        self.pending = pending
        self.within = within
        self.clock = clock

    def _fresh(self, state: S) -> Ages:
        items = list(self.pending(state))
        if len(set(items)) != len(items):
            raise ModelError(f"pending() returned a repeated item: {items}")
        return tuple((x, 0) for x in items)

    def initial_states(self) -> Sequence[tuple[S, Ages]]:
        """Return the system's initial states with every pending item at age 0."""
        return [(s, self._fresh(s)) for s in self.system.initial_states()]

    def actions(self, state: tuple[S, Ages]) -> Sequence[A]:
        """Return the system's enabled actions."""
        return self.system.actions(state[0])

    def apply(self, state: tuple[S, Ages], action: A) -> tuple[S, Ages]:
        """Step the system and age the items still pending."""
        pre, ages = state
        post = self.system.apply(pre, action)
        tick = 1 if self.clock is None else self.clock(pre, action, post)
        old = dict(ages)
        cap = self.within + 1
        fresh = self._fresh(post)
        return post, tuple(
            (x, min(cap, old[x] + tick) if x in old else 0) for x, _ in fresh)

    def encode(self, state: tuple[S, Ages]) -> bytes:
        """Return the system's encoding followed by the (item, age) pairs."""
        body = self.system.encode(state[0])
        tail = b"".join(x.to_bytes(4, "little", signed=True) + age.to_bytes(4, "little")
                        for x, age in state[1])
        return len(body).to_bytes(4, "little") + body + tail

    def describe(self, action: A) -> str:
        """Return the system's description."""
        return self.system.describe(action)

    def invariant(self) -> Invariant[tuple[S, Ages]]:
        """Return ``bounded-response(within)``: no item older than ``within``."""
        within = self.within
        return Invariant(f"bounded-response({within})",
                         lambda st: all(age <= within for _, age in st[1]))


def check_bounded_response(system: TransitionSystem[S, A], *,
                           pending: Callable[[S], Sequence[int]], within: int,
                           clock: Callable[[S, A, S], int] | None = None,
                           bounds: Bounds | None = None,
                           ) -> ExplorationResult[tuple[S, Ages], A]:
    """Check that every pending item is served within ``within`` clock units.

    :param system: the model.
    :param pending: the int ids of the items pending in a state.
    :param within: the response bound ``K``.
    :param clock: units elapsed on a step (default 1: count steps; e.g. 1 on a slot tick
        and 0 otherwise to count slots).
    :param bounds: exploration bounds.
    :returns: the exploration result of the product; on ``VIOLATED`` the shortest trace at
        whose end some item has been pending for ``within + 1`` units.
    """
    monitor: ResponseMonitor[S, A] = ResponseMonitor(system, pending, within, clock)
    product: Any = monitor
    return explore(product, invariants=[monitor.invariant()], bounds=bounds)
