"""
Breadth-first explorer
======================

A generic, exhaustive, breadth-first explorer over any :class:`TransitionSystem`. States
are identified by their canonical byte encoding and stored compactly (4-byte parent,
action-index and depth arrays), so the first violation found is at minimal depth and its
trace is rebuilt by replaying the parent chain.

Two stores (:class:`StoreMode`): ``EXACT`` keeps every encoding (in id order, with a set of
them for membership); ``FINGERPRINT`` keeps only a 64-bit fingerprint of each encoding
(:func:`~arspec.model.state_codec.compute_fingerprint`), as TLC and Spin's hash compaction
do: full states live only on the frontier, and traces are rebuilt from the parent links and
checked against the fingerprints. Two distinct states with one fingerprint would merge (the
second and what only it reaches would be lost); the expected number for a run is
:func:`~arspec.model.state_codec.get_expected_collisions` of its state count (about
``2.7e-6`` for ``10**7`` states), and ``EXACT`` rules it out.

Speed: a system may also implement :class:`BulkSuccessors` (all successors of a state in one
call, already encoded); the explorer then skips ``actions``/``apply``/``encode`` in its
loop, with identical results (:func:`check_successors` tests the contract). Invariants are
evaluated through one conjunction per kind, and individually only when it fails.

Reaching a bound (depth, number of states, memory estimate) never raises: the result says
``BOUND-REACHED`` and carries the statistics gathered so far.
"""

from __future__ import annotations

import enum
import gc
import time
from array import array
from collections.abc import Callable, Container, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from arspec.model.state_codec import compute_fingerprint
from arspec.model.stopping import get_cut_reason, get_stop_reason, request_stop
from arspec.spec.errors import ArspecError

S = TypeVar("S")
A = TypeVar("A")
S_contra = TypeVar("S_contra", contravariant=True)
A_contra = TypeVar("A_contra", contravariant=True)
A_co = TypeVar("A_co", covariant=True)

# Rough per-state costs in bytes (CPython 3.11, 64-bit), used only by the memory *estimate*:
#: a ``bytes`` key object: header (33) plus the allocator's 16-byte rounding (~8 on average);
#: the key's length is added separately.
_KEY_OVERHEAD = 41
#: one slot of the ``set`` of seen keys (16 bytes at a 30-60% fill).
_SET_SLOT = 36
#: one entry of a ``bytes -> id`` dict (entry and index at a 1/3-2/3 fill, ~48) plus the
#: int id object (32); only stored when edges are recorded.
_DICT_SLOT = 80
#: one pointer of the ``keys`` list, with the list's over-allocation.
_LIST_SLOT = 9
#: a fingerprint: the int object (32) plus its ``array('Q')`` entry (8).
_FINGERPRINT = 40


class StoreMode(enum.Enum):
    """What the seen-set keeps of a state (see the module docstring)."""

    EXACT = "exact"
    FINGERPRINT = "fingerprint"


class ModelError(ArspecError):
    """Misuse of the explorer API, or a transition system that breaks its contract."""


class TransitionSystem(Protocol[S, A]):
    """What the explorer needs from a model.

    Contract: ``apply`` is a pure function of its arguments (same inputs, same output);
    ``actions`` lists the enabled actions in a canonical order that does not depend on hash
    seeds; ``encode`` is injective on the states that matter and canonical (equal states give
    equal bytes); actions are hashable (they are interned for graph export and liveness).
    """

    def initial_states(self) -> Sequence[S]:
        """Return the initial states, in a canonical order."""
        ...

    def actions(self, state: S) -> Sequence[A]:
        """Return the actions enabled in ``state``, in a canonical order."""
        ...

    def apply(self, state: S, action: A) -> S:
        """Return the successor of ``state`` under the enabled ``action``."""
        ...

    def encode(self, state: S) -> bytes:
        """Return the canonical compact encoding of ``state`` (its identity)."""
        ...

    def describe(self, action: A) -> str:
        """Return a one-line, deterministic description of ``action``."""
        ...


class BulkSuccessors(Protocol[S, A_co]):
    """Optional fast path a :class:`TransitionSystem` may also implement.

    Contract: ``successors(state)`` returns exactly
    ``[(a, encode(apply(state, a)), apply(state, a)) for a in actions(state)]``, in the order
    of ``actions(state)`` (the position in the list is the action index). The explorer uses it
    instead of ``actions``/``apply``/``encode`` whenever no partial-order reduction is active;
    ``replay`` still uses the generic methods, so a divergence is reported as
    non-determinism. :func:`check_successors` tests the contract on given states.
    """

    def successors(self, state: S) -> Sequence[tuple[A_co, bytes, S]]:
        """Return ``(action, encoding of post-state, post-state)`` for every enabled action."""
        ...


def check_successors(system: TransitionSystem[S, A], states: Iterable[S]) -> int:
    """Check the :class:`BulkSuccessors` contract of ``system`` on ``states``.

    :param system: a system that implements ``successors``.
    :param states: the states to check (for example every state of an exploration).
    :returns: the number of transitions compared.
    :raises ModelError: on the first state where ``successors`` disagrees with
        ``actions``/``apply``/``encode`` (or if ``system`` has no ``successors``).
    """
    bulk = getattr(system, "successors", None)
    if not callable(bulk):
        raise ModelError("system has no successors() method")
    compared = 0
    for state in states:
        expected = [(a, system.encode(post), post) for a in system.actions(state)
                    for post in (system.apply(state, a),)]
        got = list(bulk(state))
        if got != expected:
            raise ModelError(f"successors({state!r}) = {got!r}, expected {expected!r}")
        compared += len(got)
    return compared


class AmpleSelector(Protocol[S_contra, A_contra]):
    """Partial-order reduction hook: choose a subset of the enabled actions to expand.

    The explorer adds the breadth-first cycle proviso itself: a proper subset is kept only if
    every successor it produces is a state never seen before; otherwise the state is fully
    expanded. See :mod:`arspec.model.reduction` for the soundness conditions.
    """

    def select(self, state: S_contra, enabled: Sequence[A_contra]) -> Sequence[int] | None:
        """Return indices (into ``enabled``) of a persistent subset, or ``None`` for all."""
        ...


class Verdict(enum.Enum):
    """Outcome of a check."""

    HOLDS = "HOLDS"
    VIOLATED = "VIOLATED"
    BOUND_REACHED = "BOUND-REACHED"
    #: Per-invariant only: the search stopped at another invariant's first violation.
    UNDECIDED = "UNDECIDED"


@dataclass(frozen=True)
class Invariant(Generic[S]):
    """A named predicate that must hold in every reachable state."""

    name: str
    holds: Callable[[S], bool]


@dataclass(frozen=True)
class TransitionInvariant(Generic[S, A]):
    """A named predicate ``(pre, action, post) -> bool`` that must hold on every transition."""

    name: str
    holds: Callable[[S, A, S], bool]


#: Name under which a reachable state without enabled actions is reported.
DEADLOCK = "deadlock-free"


@dataclass(frozen=True)
class Bounds:
    """Exploration limits; ``None`` means unlimited.

    :param max_depth: states at this depth are not expanded further (their outgoing
        transitions are still checked; a new successor beyond the bound marks the run
        ``BOUND-REACHED``).
    :param max_states: at most this many distinct states are stored.
    :param max_memory_bytes: stop when the estimated memory of the store exceeds this (or
        the memory measured by the ``memory_in_use`` probe given to :func:`explore`).
    """

    max_depth: int | None = None
    max_states: int | None = None
    max_memory_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_states", "max_memory_bytes"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "max_depth" else 1):
                raise ModelError(f"Bounds.{name} must be positive, got {value}")


@dataclass(frozen=True)
class Progress:
    """Snapshot handed to the progress callback."""

    states: int
    transitions: int
    depth: int
    frontier: int
    elapsed_seconds: float


@dataclass(frozen=True)
class Statistics:
    """Exploration statistics. ``elapsed_seconds`` is never part of deterministic output."""

    states: int
    transitions: int
    max_depth: int
    elapsed_seconds: float
    memory_estimate_bytes: int

    @property
    def states_per_second(self) -> float:
        """Distinct states stored per second of wall-clock time."""
        return self.states / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def bytes_per_state(self) -> float:
        """Estimated store bytes per distinct state."""
        return self.memory_estimate_bytes / self.states if self.states else 0.0


@dataclass
class StateSpace:
    """The compact store built during exploration, addressed by integer state ids.

    ``parent[i]`` is the BFS parent of state ``i`` (``-1`` for an initial state) and
    ``action_index[i]`` the index of the action in ``actions(parent)`` that reached it (for
    an initial state, its index in ``initial_states()``). When edges are recorded,
    ``edge_src/edge_dst/edge_index/edge_action`` list every explored transition, in
    exploration order; ``edge_action`` points into ``action_table`` (interned actions).
    ``keys[i]`` is the encoding of state ``i`` (``EXACT`` store) and ``fingerprints[i]`` its
    fingerprint (``FINGERPRINT`` store; ``keys`` is then empty); ``ids`` inverts the one kept.
    """

    keys: list[bytes] = field(default_factory=list)
    fingerprints: array[int] = field(default_factory=lambda: array("Q"))
    store: StoreMode = StoreMode.EXACT
    parent: array[int] = field(default_factory=lambda: array("i"))
    action_index: array[int] = field(default_factory=lambda: array("i"))
    depth: array[int] = field(default_factory=lambda: array("i"))
    record_edges: bool = False
    edge_src: array[int] = field(default_factory=lambda: array("q"))
    edge_dst: array[int] = field(default_factory=lambda: array("q"))
    edge_index: array[int] = field(default_factory=lambda: array("l"))
    edge_action: array[int] = field(default_factory=lambda: array("l"))
    action_table: list[Hashable] = field(default_factory=list)
    action_labels: list[str] = field(default_factory=list)
    action_ids: dict[Hashable, int] = field(default_factory=dict)
    tags: list[object] = field(default_factory=list)
    reduced: bool = False
    canonicalize: Callable[[object], object] | None = None
    complete: bool = False
    _ids: dict[Hashable, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.parent)

    @property
    def ids(self) -> dict[Hashable, int]:
        """The map from a state's identity (encoding or fingerprint) to its id.

        Unless edges are recorded, exploration keeps only a set of the keys (about 45
        bytes/state less); the dict is then built on first use.
        """
        kept: Sequence[Hashable] = (self.keys if self.store == StoreMode.EXACT
                                    else self.fingerprints)
        if self._ids is None or len(self._ids) != len(kept):
            self._ids = {key: sid for sid, key in enumerate(kept)}
        return self._ids

    def is_stored_as(self, state_id: int, key: bytes) -> bool:
        """Return whether state ``state_id`` was stored with encoding ``key``."""
        if self.store == StoreMode.EXACT:
            return self.keys[state_id] == key
        return self.fingerprints[state_id] == compute_fingerprint(key)

    def path_to(self, state_id: int) -> list[int]:
        """Return the ids on the BFS path from an initial state to ``state_id``."""
        path = [state_id]
        while self.parent[path[-1]] >= 0:
            path.append(self.parent[path[-1]])
        path.reverse()
        return path

    def intern_action(self, action: Hashable, label: str) -> int:
        """Return the id of ``action`` in the action table, adding it if new."""
        aid = self.action_ids.get(action)
        if aid is None:
            aid = len(self.action_table)
            self.action_ids[action] = aid
            self.action_table.append(action)
            self.action_labels.append(label)
        return aid


@dataclass(frozen=True)
class TraceStep(Generic[S, A]):
    """One step of a trace: the action taken, its description, the state reached."""

    index: int
    action: A
    label: str
    state: S


@dataclass(frozen=True)
class Trace(Generic[S, A]):
    """A path from an initial state; ``len(trace)`` is its number of steps."""

    initial: S
    steps: tuple[TraceStep[S, A], ...]

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def labels(self) -> tuple[str, ...]:
        """The action descriptions, in order."""
        return tuple(step.label for step in self.steps)

    @property
    def final(self) -> S:
        """The last state of the trace."""
        return self.steps[-1].state if self.steps else self.initial


@dataclass(frozen=True)
class Violation(Generic[S, A]):
    """The shortest (under BFS) counterexample found for one invariant."""

    invariant: str
    kind: str
    trace: Trace[S, A]
    #: the id of the state the trace ends in (before the violating step, for a transition)
    state_id: int = -1


@dataclass(frozen=True)
class ExplorationResult(Generic[S, A]):
    """Verdict, per-invariant verdicts, the counterexamples, statistics and the store."""

    verdict: Verdict
    invariant_verdicts: tuple[tuple[str, Verdict], ...]
    violations: tuple[Violation[S, A], ...]
    stats: Statistics
    bound: str | None
    space: StateSpace

    @property
    def violation(self) -> Violation[S, A] | None:
        """The first violation found (at minimal depth when no reduction is active)."""
        return self.violations[0] if self.violations else None

    def verdict_of(self, name: str) -> Verdict:
        """Return the verdict of the invariant called ``name``."""
        for inv_name, verdict in self.invariant_verdicts:
            if inv_name == name:
                return verdict
        raise ModelError(f"no invariant named {name!r} in this result")


def _identity(state: S) -> S:
    return state


def replay(system: TransitionSystem[S, A], space: StateSpace, path: Sequence[int],
           ) -> Trace[S, A]:
    """Rebuild the states and actions along ``path`` (ids from :meth:`StateSpace.path_to`).

    :param system: the system the space was built from.
    :param space: the store holding parent pointers and action indices.
    :param path: state ids from an initial state, each the BFS child of the previous one.
    :returns: the trace; states are canonicalized as during exploration.
    :raises ModelError: if replaying does not reproduce the stored state (``apply`` or
        ``actions`` is not deterministic).
    """
    canon: Callable[[S], S] = space.canonicalize or _identity  # type: ignore[assignment]
    state = canon(system.initial_states()[space.action_index[path[0]]])
    initial = state
    steps: list[TraceStep[S, A]] = []
    for sid in path[1:]:
        idx = space.action_index[sid]
        action = system.actions(state)[idx]
        state = canon(system.apply(state, action))
        if not space.is_stored_as(sid, system.encode(state)):
            raise ModelError("replay diverged: apply()/actions() are not deterministic")
        steps.append(TraceStep(idx, action, system.describe(action), state))
    return Trace(initial, tuple(steps))


def extend_trace(system: TransitionSystem[S, A], trace: Trace[S, A], index: int,
                 ) -> Trace[S, A]:
    """Return ``trace`` followed by the action at ``index`` in ``actions(trace.final)``."""
    action = system.actions(trace.final)[index]
    post = system.apply(trace.final, action)
    step = TraceStep(index, action, system.describe(action), post)
    return Trace(trace.initial, (*trace.steps, step))


def _expand_reduced(state: S, acts: Sequence[A], chosen: Sequence[int] | None,
                    apply: Callable[[S, A], S], canon: Callable[[S], S] | None,
                    encode: Callable[[S], bytes], ids: Container[bytes],
                    ) -> tuple[Sequence[int], list[S], list[bytes]]:
    """Expand ``chosen`` if the cycle proviso allows it, else every action (index order)."""
    def succ(idx: int) -> tuple[S, bytes]:
        post = apply(state, acts[idx])
        if canon is not None:
            post = canon(post)
        return post, encode(post)

    done: dict[int, tuple[S, bytes]] = {}
    if chosen is not None and len(chosen) < len(acts):
        done = {idx: succ(idx) for idx in chosen}
        # Breadth-first cycle proviso: keep the reduced set only if all its successors are
        # new. On any cycle, the state expanded last sees its cycle successor already stored,
        # so it is fully expanded: every cycle of the reduced graph has a fully expanded state.
        if all(key not in ids for _, key in done.values()):
            order = sorted(done)
            return order, [done[i][0] for i in order], [done[i][1] for i in order]
    results = [done[i] if i in done else succ(i) for i in range(len(acts))]
    return range(len(acts)), [r[0] for r in results], [r[1] for r in results]


def _all_of_1(preds: Sequence[Callable[[S], bool]]) -> Callable[[S], bool] | None:
    """Return one predicate that holds iff every one of ``preds`` holds (None if empty).

    The explorer calls this conjunction first and evaluates the individual predicates only
    when it fails, which saves the per-predicate loop on the (common) passing path.
    """
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        p, q = preds
        return lambda s: p(s) and q(s)
    if len(preds) == 3:
        p, q, r = preds
        return lambda s: p(s) and q(s) and r(s)
    half = len(preds) // 2
    left, right = _all_of_1(preds[:half]), _all_of_1(preds[half:])
    assert left is not None and right is not None
    return lambda s: left(s) and right(s)


def _all_of_3(preds: Sequence[Callable[[S, A, S], bool]],
              ) -> Callable[[S, A, S], bool] | None:
    """Like :func:`_all_of_1`, for transition predicates ``(pre, action, post)``."""
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        p, q = preds
        return lambda s, a, t: p(s, a, t) and q(s, a, t)
    if len(preds) == 3:
        p, q, r = preds
        return lambda s, a, t: p(s, a, t) and q(s, a, t) and r(s, a, t)
    half = len(preds) // 2
    left, right = _all_of_3(preds[:half]), _all_of_3(preds[half:])
    assert left is not None and right is not None
    return lambda s, a, t: left(s, a, t) and right(s, a, t)


@dataclass(frozen=True)
class FrontierCodec(Generic[S]):
    """Packs the states of a wide frontier to bytes and back.

    Once a BFS level holds ``pack_above`` states, every further state of it is stored as
    ``pack(state)`` and unpacked when it is expanded: full states cost kilobytes of objects
    each, their packed form a few hundred bytes. ``unpack(pack(s))`` must behave as ``s``.
    """

    pack: Callable[[S], bytes]
    unpack: Callable[[bytes], S]
    pack_above: int = 20_000


class _Packed(bytes):
    """A packed frontier state (a distinct type: a system's states may be bytes)."""


class _FingerprintView:
    """Membership of an encoding in a set of fingerprints (for the cycle proviso)."""

    def __init__(self, seen: Container[Hashable]) -> None:
        self.seen = seen

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and compute_fingerprint(key) in self.seen


class _Run(Generic[S, A]):
    """Mutable bookkeeping of one exploration (kept off the hot loop's locals)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.found: dict[str, tuple[str, int, int]] = {}
        self.names = list(names)


def explore(system: TransitionSystem[S, A], *,
            invariants: Sequence[Invariant[S]] = (),
            transition_invariants: Sequence[TransitionInvariant[S, A]] = (),
            bounds: Bounds | None = None,
            check_deadlock: bool = False,
            stop_at_first_violation: bool = True,
            record_edges: bool = False,
            tagger: Callable[[S], object] | None = None,
            ample: AmpleSelector[S, A] | None = None,
            canonicalize: Callable[[S], S] | None = None,
            progress: Callable[[Progress], None] | None = None,
            progress_every: int = 50_000,
            store: StoreMode = StoreMode.EXACT,
            memory_in_use: Callable[[], int] | None = None,
            frontier_state: Callable[[S], S] | None = None,
            frontier_codec: FrontierCodec[S] | None = None) -> ExplorationResult[S, A]:
    """Explore the reachable states of ``system`` breadth-first and check invariants.

    :param system: the model.
    :param invariants: state invariants, checked on every state when first stored.
    :param transition_invariants: checked on every explored transition.
    :param bounds: depth / state / memory limits (default: none).
    :param check_deadlock: report a reachable state with no enabled action as a violation
        of :data:`DEADLOCK`.
    :param stop_at_first_violation: stop at the first violation; otherwise keep exploring and
        report the shortest counterexample of every violated invariant.
    :param record_edges: store every transition (needed by :mod:`~arspec.model.graph` and
        :mod:`~arspec.model.liveness`).
    :param tagger: if given, ``tagger(state)`` is stored for every state in ``space.tags``.
    :param ample: partial-order reduction hook (traces are then valid but not always shortest);
        while it is unset, a system's :class:`BulkSuccessors` fast path is used if present.
    :param canonicalize: symmetry reduction: map every state to its orbit representative.
    :param progress: called with a :class:`Progress` every ``progress_every`` new states and
        at the end of each BFS level.
    :param progress_every: see ``progress``.
    :param store: keep every encoding (``EXACT``) or only its fingerprint (module docstring).
    :param memory_in_use: if given, the memory bound compares what it returns (e.g. the
        process's resident set, :func:`arspec.model.resources.get_resident_bytes`) instead
        of the store estimate; it is called every 1024 new states and per BFS level.
    :param frontier_state: applied to every new state (after its checks) before it waits on
        the frontier, e.g. to drop what only the checks needed; it must keep ``actions`` and
        ``apply`` unchanged.
    :param frontier_codec: pack the states of a wide BFS level to bytes (see
        :class:`FrontierCodec`).
    :returns: the :class:`ExplorationResult`; its ``bound`` is also ``timeout`` (or another
        reason of :mod:`arspec.model.stopping`) when the command's limits stopped it.
    :raises ModelError: on duplicate invariant names or a bad ``progress_every``.
    """
    bounds = bounds or Bounds()
    names = [inv.name for inv in invariants] + [inv.name for inv in transition_invariants]
    if check_deadlock:
        names.append(DEADLOCK)
    if len(set(names)) != len(names):
        raise ModelError(f"invariant names must be unique, got {names}")
    if progress_every < 1:
        raise ModelError(f"progress_every must be >= 1, got {progress_every}")
    # The store holds no reference cycles; the cyclic collector would only rescan the
    # growing frontier again and again (measured: ~35% of the run time on 10^5 states).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _explore(system, invariants, transition_invariants, bounds, check_deadlock,
                        stop_at_first_violation, record_edges, tagger, ample, canonicalize,
                        progress, progress_every, names, store, memory_in_use,
                        frontier_state, frontier_codec)
    finally:
        if gc_was_enabled:
            gc.enable()


def _explore(system: TransitionSystem[S, A], invariants: Sequence[Invariant[S]],
             transition_invariants: Sequence[TransitionInvariant[S, A]], bounds: Bounds,
             check_deadlock: bool, stop_at_first_violation: bool, record_edges: bool,
             tagger: Callable[[S], object] | None, ample: AmpleSelector[S, A] | None,
             canonicalize: Callable[[S], S] | None,
             progress: Callable[[Progress], None] | None, progress_every: int,
             names: list[str], store: StoreMode,
             memory_in_use: Callable[[], int] | None,
             frontier_state: Callable[[S], S] | None,
             frontier_codec: FrontierCodec[S] | None) -> ExplorationResult[S, A]:
    search: _Search[S, A] = _Search(system, bounds, record_edges, ample, canonicalize,
                                    names, store)
    search.set_checks(invariants, transition_invariants, check_deadlock,
                      stop_at_first_violation, tagger)
    search.set_reporting(progress, progress_every, memory_in_use, frontier_state,
                         frontier_codec)
    frontier = search.add_initial_states()
    search.fill_depth(0)
    level = 0
    first_id = 0
    search.stop = bool(search.found) and stop_at_first_violation
    search.halt = search.stop  # stop, or a max-states / max-memory bound: abandon at once
    search.refresh_active()
    while frontier and not search.halt and search.bound is None:
        next_frontier = search.run_level(frontier, first_id, level)
        search.fill_depth(level + 1)
        if search.halt:
            break
        first_id += len(frontier)
        frontier = next_frontier
        level += 1
        search.apply_level_end(frontier, level)
    return search.get_result(frontier)


class _Search(Generic[S, A]):
    """One breadth-first exploration: the store, its counters and the active invariants.

    :meth:`apply_successors`, the per-successor loop, keeps what it touches in locals and
    writes the counters back once per expanded state; the rare paths (a violation,
    progress, an edge, the memory bound) are methods."""

    def __init__(self, system: TransitionSystem[S, A], bounds: Bounds, record_edges: bool,
                 ample: AmpleSelector[S, A] | None, canonicalize: Callable[[S], S] | None,
                 names: list[str], store: StoreMode) -> None:
        self.start = time.perf_counter()
        self.system = system
        self.space = space = StateSpace(record_edges=record_edges, reduced=ample is not None
                                        or canonicalize is not None, store=store)
        self.fingerprint = compute_fingerprint if store == StoreMode.FINGERPRINT else None
        space.canonicalize = canonicalize  # type: ignore[assignment]
        self.run: _Run[S, A] = _Run(names)
        # found: invariant -> (kind, state id, action index or -1)
        self.found = self.run.found
        self.record_edges = record_edges
        # The seen keys: a dict key -> id when edges are recorded (an old target's id is
        # needed), else only a set (cheaper); ``space.ids`` is built from ``space.keys``
        # if ever asked for.
        self.ids: dict[Hashable, int] = {}
        seen: set[Hashable] | dict[Hashable, int] = self.ids if record_edges else set()
        self.seen = seen
        self.seen_add = None if record_edges else seen.add  # type: ignore[union-attr]
        self.keys_append: Callable[[Any], None] = (
            space.keys.append if self.fingerprint is None else space.fingerprints.append)
        self.ample = ample
        self.canon = canonicalize
        self.bulk: Callable[[S], Sequence[tuple[A, bytes, S]]] | None = None
        if ample is None:
            self.bulk = getattr(system, "successors", None)
        # The bulk fast path, called straight when nothing has to be added to it.
        self.direct = self.bulk if canonicalize is None else None
        self.max_depth = bounds.max_depth
        self.max_states = bounds.max_states if bounds.max_states is not None else -1
        self.max_mem = bounds.max_memory_bytes
        self.count = 0  # states stored so far (the next id)
        self.key_bytes = 0
        self.transitions = 0
        self.bound: str | None = None
        self.stop = self.halt = False

    def set_checks(self, invariants: Sequence[Invariant[S]],
                   transition_invariants: Sequence[TransitionInvariant[S, A]],
                   check_deadlock: bool, stop_at_first_violation: bool,
                   tagger: Callable[[S], object] | None) -> None:
        """Set what is checked on every state and transition, and the state tagger."""
        self.state_invs = [(inv.name, inv.holds) for inv in invariants]
        self.trans_invs = [(inv.name, inv.holds) for inv in transition_invariants]
        self.check_deadlock = check_deadlock
        self.stop_at_first_violation = stop_at_first_violation
        self.tagger = tagger

    def set_reporting(self, progress: Callable[[Progress], None] | None, progress_every: int,
                      memory_in_use: Callable[[], int] | None,
                      frontier_state: Callable[[S], S] | None,
                      frontier_codec: FrontierCodec[S] | None) -> None:
        """Set the progress callback, the memory measure and how the frontier is kept."""
        self.progress = progress
        self.progress_every = self.next_progress = progress_every
        self.memory_in_use = memory_in_use
        self.frontier_state = frontier_state
        self.frontier_codec = frontier_codec

    def refresh_active(self) -> None:
        """Keep the invariants not violated yet, and their conjunctions (the individual
        ones run only when these fail)."""
        found = self.found
        self.active_t = [e for e in self.trans_invs if e[0] not in found]
        self.active_s = [e for e in self.state_invs if e[0] not in found]
        self.len_found = len(found)
        self.all_t = _all_of_3([e[1] for e in self.active_t])
        self.all_s = _all_of_1([e[1] for e in self.active_s])

    def memory_estimate(self) -> int:
        """Return the bytes the store is estimated to hold."""
        space = self.space
        per_key = _KEY_OVERHEAD + _LIST_SLOT if self.fingerprint is None else _FINGERPRINT
        per_state = (per_key + (_DICT_SLOT if self.record_edges else _SET_SLOT)
                     + space.parent.itemsize + space.action_index.itemsize
                     + space.depth.itemsize)
        edges = len(space.edge_src) * 32
        return self.count * per_state + self.key_bytes + edges

    def over_memory(self) -> bool:
        """Return whether the memory bound is passed (the process's, or the estimate)."""
        if self.memory_in_use is not None:
            return self.memory_in_use() > self.max_mem  # type: ignore[operator]
        return self.memory_estimate() > self.max_mem  # type: ignore[operator]

    def fill_depth(self, level: int) -> None:
        """Breadth-first: every state stored since the last call is at depth ``level``."""
        depth_arr = self.space.depth
        missing = self.count - len(depth_arr)
        if missing > 0:
            depth_arr.extend(array(depth_arr.typecode, [level]) * missing)

    def expand(self, state: S) -> tuple[Sequence[int] | None, Sequence[tuple[A, bytes, S]]]:
        """Return (action indices or None for 0..n-1, [(action, key, post)]) of ``state``."""
        canon, encode, apply = self.canon, self.system.encode, self.system.apply
        if self.bulk is not None:
            succ = self.bulk(state)
            if canon is not None:
                succ = [(a, encode(c), c) for a, _, p in succ for c in (canon(p),)]
            return None, succ
        acts = self.system.actions(state)
        if self.ample is None:
            if canon is None:
                return None, [(a, encode(p), p) for a in acts for p in (apply(state, a),)]
            return None, [(a, encode(c), c) for a in acts
                          for c in (canon(apply(state, a)),)]
        seen_view: Container[bytes] = (self.seen  # type: ignore[assignment]
                                       if self.fingerprint is None
                                       else _FingerprintView(self.seen))
        order, posts, pkeys = _expand_reduced(
            state, acts, self.ample.select(state, acts), apply, canon, encode, seen_view)
        return order, [(acts[i], k, p) for i, k, p in zip(order, pkeys, posts, strict=True)]

    def add_initial_states(self) -> list[Any]:
        """Store the initial states (checking the state invariants); return the frontier."""
        frontier: list[Any] = []
        space, found = self.space, self.found
        for i, init in enumerate(self.system.initial_states()):
            if self.canon is not None:
                init = self.canon(init)
            key: Any = self.system.encode(init)
            if self.fingerprint is not None:
                key = self.fingerprint(key)
            if key in self.seen:
                continue
            if self.count == self.max_states:
                self.bound = "max-states"
                break
            if isinstance(key, bytes):
                self.key_bytes += len(key)
            if self.seen_add is None:
                self.ids[key] = self.count
            else:
                self.seen_add(key)
            self.keys_append(key)
            self.count += 1
            space.parent.append(-1)
            space.action_index.append(i)
            if self.tagger is not None:
                space.tags.append(self.tagger(init))
            for name, holds in self.state_invs:
                if name not in found and not holds(init):
                    found[name] = ("state", self.count - 1, -1)
            frontier.append(init)
        return frontier

    def run_level(self, frontier: list[Any], first_id: int, level: int) -> list[Any]:
        """Expand one level (ids from ``first_id``); return the next (the loop uses locals)."""
        next_frontier: list[Any] = []
        at_bound = self.max_depth is not None and level >= self.max_depth
        direct, codec, frontier_state = self.direct, self.frontier_codec, self.frontier_state
        fingerprint, seen, ids, record_edges = (self.fingerprint, self.seen, self.ids,
                                                self.record_edges)
        all_t, all_s, count, key_bytes = self.all_t, self.all_s, self.count, self.key_bytes
        seen_add, keys_append, tagger, tags = (self.seen_add, self.keys_append, self.tagger,
                                               self.space.tags)
        parent_append, aindex_append = self.space.parent.append, self.space.action_index.append
        max_states, next_progress, reason = self.max_states, self.next_progress, get_stop_reason
        key: Any  # an encoding, or its fingerprint
        for sid, state in enumerate(frontier, first_id):
            if reason() is not None and self.stopped_from_outside():
                break
            if type(state) is _Packed:
                state = codec.unpack(state)  # type: ignore[union-attr]
            if direct is not None:
                order = None
                succ = direct(state)
            else:
                order, succ = self.expand(state)
            if not succ:
                if self.apply_deadlock(sid):
                    break
                continue
            self.transitions += len(succ)
            for idx, (a, key, post) in (enumerate(succ) if order is None
                                        else zip(order, succ, strict=True)):
                if fingerprint is not None:
                    key = fingerprint(key)
                if all_t is not None and not all_t(state, a, post):
                    self.apply_transition_violation(sid, idx, state, a, post)
                    all_t, all_s = self.all_t, self.all_s
                if key in seen:
                    target = ids[key] if record_edges else -1
                else:
                    if at_bound:
                        self.bound = "max-depth"
                        continue
                    if count == max_states:
                        self.bound = "max-states"
                        self.halt = True
                        break
                    target = count
                    if seen_add is None:
                        ids[key] = target
                    else:
                        seen_add(key)
                    keys_append(key)
                    count += 1
                    if fingerprint is None:
                        key_bytes += len(key)
                    parent_append(sid)
                    aindex_append(idx)
                    if tagger is not None:
                        tags.append(tagger(post))
                    if all_s is not None and not all_s(post):
                        self.apply_state_violation(target, post)
                        all_t, all_s = self.all_t, self.all_s
                    if frontier_state is not None:
                        post = frontier_state(post)
                    if codec is not None and len(next_frontier) >= codec.pack_above:
                        next_frontier.append(_Packed(codec.pack(post)))
                    else:
                        next_frontier.append(post)
                    if (target & 1023) == 0 or target >= next_progress:
                        self.count, self.key_bytes = count, key_bytes
                        self.apply_checkpoint(target, level, len(next_frontier))
                        next_progress = self.next_progress
                if record_edges:
                    self.add_edge(sid, target, idx, a)
                if self.stop or self.halt:
                    self.halt = True
                    break
            if self.halt:
                break
        self.count, self.key_bytes = count, key_bytes
        return next_frontier

    def stopped_from_outside(self) -> bool:
        """Return whether ``--timeout`` or a pass out of its budget stops the search (the
        reason is then the bound)."""
        reason = get_stop_reason()
        if reason is None:
            return False
        self.bound = reason
        request_stop(str(reason))
        self.halt = True
        return True

    def apply_deadlock(self, sid: int) -> bool:
        """Record a state without successors (once); return whether the search stops."""
        if self.check_deadlock and DEADLOCK not in self.found:
            self.found[DEADLOCK] = ("deadlock", sid, -1)
            self.halt = self.stop = self.stop_at_first_violation
            return self.halt
        return False

    def apply_transition_violation(self, sid: int, idx: int, state: S, action: A,
                                   post: S) -> None:
        """Record the transition invariants ``state -action-> post`` violates."""
        for name, holds_t in self.active_t:
            if not holds_t(state, action, post):
                self.found[name] = ("transition", sid, idx)
                self.stop = self.stop or self.stop_at_first_violation
        if len(self.found) != self.len_found:
            self.refresh_active()

    def apply_state_violation(self, target: int, post: S) -> None:
        """Record the state invariants the new state ``target`` violates."""
        for name, holds in self.active_s:
            if not holds(post):
                self.found[name] = ("state", target, -1)
        if len(self.found) != self.len_found:
            self.refresh_active()
            self.stop = self.stop or self.stop_at_first_violation

    def apply_checkpoint(self, target: int, level: int, frontier: int) -> None:
        """Every 1024 new states check the memory bound; every ``progress_every`` report."""
        if (target & 1023) == 0 and self.max_mem is not None and self.over_memory():
            self.bound = "max-memory"
            self.halt = True
        if target >= self.next_progress:
            self.next_progress += self.progress_every
            if self.progress is not None:
                self.progress(Progress(self.count, self.transitions, level + 1, frontier,
                                       time.perf_counter() - self.start))

    def add_edge(self, sid: int, target: int, idx: int, action: A) -> None:
        """Record the transition ``sid -idx-> target``."""
        space = self.space
        space.edge_src.append(sid)
        space.edge_dst.append(target)
        space.edge_index.append(idx)
        space.edge_action.append(space.intern_action(action, self.system.describe(action)))

    def apply_level_end(self, frontier: list[Any], level: int) -> None:
        """Report a finished level and check the memory bound."""
        if self.progress is not None:
            self.progress(Progress(self.count, self.transitions,
                                   level if frontier else level - 1, len(frontier),
                                   time.perf_counter() - self.start))
        if self.max_mem is not None and self.bound is None and self.over_memory():
            self.bound = "max-memory"

    def get_result(self, frontier: list[Any]) -> ExplorationResult[S, A]:
        """Return the exploration's result (its statistics and violations)."""
        space = self.space
        if self.bound is None:
            self.bound = get_cut_reason()  # a check stopped early on the last states
        elapsed = time.perf_counter() - self.start
        if self.record_edges:
            space._ids = self.ids
        if self.bound is None and not self.stop and not frontier:
            space.complete = True
        depth_arr = space.depth
        stats = Statistics(self.count, self.transitions,
                           max(depth_arr) if len(depth_arr) else 0, elapsed,
                           self.memory_estimate())
        return _finish(self.system, space, self.run, stats, self.bound)


def _finish(system: TransitionSystem[S, A], space: StateSpace, run: _Run[S, A],
            stats: Statistics, bound: str | None) -> ExplorationResult[S, A]:
    violations: list[Violation[S, A]] = []
    # Report in order of trace length, then invariant declaration order: deterministic.
    ranked = []
    for name in run.names:
        if name in run.found:
            kind, sid, idx = run.found[name]
            length = space.depth[sid] + (1 if idx >= 0 else 0)
            ranked.append((length, run.names.index(name), name, kind, sid, idx))
    ranked.sort()
    for _, _, name, kind, sid, idx in ranked:
        trace: Trace[S, A] = replay(system, space, space.path_to(sid))
        if idx >= 0:
            trace = extend_trace(system, trace, idx)
            if space.canonicalize is not None:
                last = trace.steps[-1]
                canon_state: S = space.canonicalize(last.state)  # type: ignore[assignment]
                trace = Trace(trace.initial, (*trace.steps[:-1], TraceStep(
                    last.index, last.action, last.label, canon_state)))
        violations.append(Violation(name, kind, trace, sid))
    exhausted = space.complete
    unfinished = Verdict.BOUND_REACHED if bound is not None else Verdict.UNDECIDED
    verdicts = tuple(
        (name, Verdict.VIOLATED if name in run.found
         else Verdict.HOLDS if exhausted else unfinished)
        for name in run.names)
    if violations:
        verdict = Verdict.VIOLATED
    elif bound is not None or not exhausted:
        verdict = Verdict.BOUND_REACHED
    else:
        verdict = Verdict.HOLDS
    return ExplorationResult(verdict, verdicts, tuple(violations), stats, bound, space)


def render_result(result: ExplorationResult[S, A], *, timing: bool = False,
                  show_states: bool = False) -> str:
    """Render a result as deterministic text (no timing unless ``timing`` is set).

    :param result: the exploration result.
    :param timing: append elapsed time and states/s (not reproducible byte for byte).
    :param show_states: print ``repr`` of every state along each trace.
    :returns: the text, ending with a newline.
    """
    lines = [result.verdict.value]
    for name, verdict in result.invariant_verdicts:
        lines.append(f"  {name}: {verdict.value}")
    st = result.stats
    lines.append(f"states {st.states}, transitions {st.transitions}, max depth {st.max_depth}")
    if result.bound is not None:
        lines.append(f"bound reached: {result.bound}")
    for v in result.violations:
        lines.append(f"counterexample for {v.invariant} ({v.kind}), {len(v.trace)} steps:")
        if show_states:
            lines.append(f"  0. <initial> {v.trace.initial!r}")
        else:
            lines.append("  0. <initial>")
        for n, step in enumerate(v.trace.steps, 1):
            suffix = f" -> {step.state!r}" if show_states else ""
            lines.append(f"  {n}. {step.label}{suffix}")
    if timing:
        lines.append(f"time {st.elapsed_seconds:.3f}s, {st.states_per_second:.0f} states/s, "
                     f"~{st.bytes_per_state:.0f} bytes/state")
    return "\n".join(lines) + "\n"
