"""
Exploring on several workers (Ray)
==================================

``spec-check explore BUNDLE --workers N [--ray-address ADDR]`` splits a bundle's state space
across ``N`` Ray actors by state fingerprint: worker ``fingerprint mod N`` owns a state, keeps
it in its seen-set and expands it. The search is breadth-first and level-synchronous:

1. every worker expands the states its frontier holds (program runs, transition checks),
   and packs each successor, with its fingerprint, parent and action index, into one pickled
   chunk per owning worker;
2. every worker receives the chunks addressed to it, in worker order, keeps the successors
   it has not seen (state checks on each), and makes them its next frontier.

So every level holds exactly the states of the single-process level, the state and
transition counts are those of a single-process run with the same reductions, and every
counterexample is a shortest one (its length is the level where it was found). A trace is
rebuilt by following the parent links from worker to worker and replaying the actions.

Chunks travel between workers through Ray's object store (the driver passes references, not
data); :attr:`DistributedStats.bytes_sent` counts their bytes. Partial-order reduction is
off on workers: its cycle proviso asks whether a successor was seen before, which only the
owning worker knows. Symmetry reduction and the invocation cache (one per worker) stay.
``--max-states`` and ``--max-depth`` stop at the end of the level that reaches them, so a
bounded run may cover more states than a single-process one; unbounded runs agree exactly.

Ray is an optional dependency (``pip install 'arspec[distributed]'``). With no address,
``ray.init`` starts a local cluster in-process with ``N`` CPUs; with one, it joins that
cluster (``ray start --head`` on one machine, ``ray start --address=HEAD:6379`` on the
others, every machine with arspec installed and the bundle at the same path).
"""

from __future__ import annotations

import importlib
import pickle
import time
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from arspec.model.bundle_system import build_system, compile_checks, get_check_names
from arspec.model.engine import (
    Bounds,
    ExplorationResult,
    StateSpace,
    Statistics,
    StoreMode,
    Trace,
    TraceStep,
    Verdict,
    Violation,
)
from arspec.model.runtime_system import ModelState, RuntimeSystem
from arspec.model.state_codec import compute_fingerprint
from arspec.spec.errors import InputError
from arspec.spec.scheduler import Action

#: Pickle protocol of the chunks (zlib-compressed; out-of-band buffers are not needed).
PICKLE_PROTOCOL: Final = 5


@dataclass(frozen=True)
class SystemSpec:
    """What a worker needs to build the bundle's runtime system itself (picklable)."""

    path: str
    slots: int
    symmetry: bool
    cache: bool

    def build(self) -> RuntimeSystem:
        """Return the runtime system with the bundle's checks."""
        from arspec.spec.loader import load_bundle

        bundle = load_bundle(self.path)
        return build_system(bundle, self.path, self.slots, compile_checks(bundle),
                            cache=self.cache)


#: One successor on its way to its owner: (fingerprint, parent id, action index, state).
Arrival = tuple[int, int, int, ModelState]
#: A violation: (trace length, kind, global state id, action index or -1).
Found = tuple[int, str, int, int]


def pack(chunk: list[Arrival]) -> bytes:
    """Return a chunk as compressed pickle bytes (ring buffers are mostly zeros)."""
    return zlib.compress(pickle.dumps(chunk, PICKLE_PROTOCOL), 1)


def unpack(data: bytes) -> list[Arrival]:
    """Return the arrivals of a packed chunk."""
    chunk: list[Arrival] = pickle.loads(zlib.decompress(data))
    return chunk


class PartitionWorker:
    """The states whose fingerprint is ``index`` modulo ``count``, and their expansion.

    A state's global id is ``local * count + index``; its owner is ``id % count``.
    """

    def __init__(self, index: int, count: int, spec: SystemSpec) -> None:
        self.index = index
        self.count = count
        self.spec = spec
        self.system = spec.build()
        states, transitions = self.system.build_invariants()
        self.state_invs = [(inv.name, inv.holds) for inv in states]
        self.trans_invs = [(inv.name, inv.holds) for inv in transitions]
        self.seen: set[int] = set()
        self.parent = array("q")
        self.action_index = array("q")
        self.frontier: list[tuple[int, ModelState]] = []
        #: the depth of the states in ``frontier``
        self.depth = 0
        #: name -> (trace length, kind, global id, action index or -1): the first found
        self.found: dict[str, Found] = {}
        self.transitions = 0
        self.bytes_sent = 0

    def canonical(self, state: ModelState) -> ModelState:
        """Return the symmetry representative (or the state)."""
        return self.system.canonicalize(state) if self.spec.symmetry else state

    def seed(self) -> int:
        """Store the initial states this worker owns; return how many."""
        arrivals = []
        for i, init in enumerate(self.system.initial_states()):
            state = self.canonical(init)
            fp = compute_fingerprint(self.system.encode(state))
            if fp % self.count == self.index:
                arrivals.append((fp, -1, i, state))
        return self.store(arrivals)

    def expand(self, expand: bool) -> list[bytes]:
        """Expand the frontier (if ``expand``); return one pickled chunk per worker."""
        out: list[list[Arrival]] = [[] for _ in range(self.count)]
        frontier, self.frontier = self.frontier, []
        if not expand:
            return [pack(chunk) for chunk in out]
        system = self.system
        length = self.depth + 1
        for gid, state in frontier:
            actions = system.actions(state)
            self.transitions += len(actions)
            for idx, action in enumerate(actions):
                post = self.canonical(system.apply(state, action))
                for name, holds in self.trans_invs:
                    if name not in self.found and not holds(state, action, post):
                        self.found[name] = (length, "transition", gid, idx)
                fp = compute_fingerprint(system.encode(post))
                out[fp % self.count].append((fp, gid, idx, system.compact(post)))
        self.depth = length
        chunks = [pack(chunk) for chunk in out]
        self.bytes_sent += sum(len(c) for dest, c in enumerate(chunks) if dest != self.index)
        return chunks

    def receive(self, *chunks: bytes | list[bytes]) -> int:
        """Keep the unseen successors of the chunks (in order); return how many.

        With one worker, Ray hands over the whole list :meth:`expand` returned.
        """
        flat = [c for chunk in chunks for c in ([chunk] if isinstance(chunk, bytes)
                                                 else chunk)]
        return self.store([arrival for chunk in flat for arrival in unpack(chunk)])

    def step(self, expand_next: bool, *chunks: bytes) -> list[int | bytes]:
        """Receive ``chunks`` (:meth:`receive`), then :meth:`expand` the new frontier.

        :returns: the number of new states, then one chunk per worker.
        """
        added = self.receive(*chunks)
        return [added, *self.expand(expand_next)]

    def store(self, arrivals: Sequence[Arrival]) -> int:
        """Add the unseen states of ``arrivals`` to the store and the next frontier."""
        added = 0
        for fp, parent, idx, state in arrivals:
            if fp in self.seen:
                continue
            self.seen.add(fp)
            gid = len(self.parent) * self.count + self.index
            self.parent.append(parent)
            self.action_index.append(idx)
            for name, holds in self.state_invs:
                if name not in self.found and not holds(state):
                    self.found[name] = (self.depth, "state", gid, -1)
            self.frontier.append((gid, state))
            added += 1
        return added

    def get_found(self) -> dict[str, Found]:
        """Return the violations found so far."""
        return dict(self.found)

    def get_link(self, gid: int) -> tuple[int, int]:
        """Return (parent id, action index) of the state ``gid`` this worker owns."""
        local = gid // self.count
        return self.parent[local], self.action_index[local]

    def get_counters(self) -> tuple[int, int, int, int, int]:
        """Return (states, transitions, bytes sent, cache hits, cache misses)."""
        cache = getattr(self.system.invoker, "stats", None)
        hits, misses = (cache.hits, cache.misses) if cache is not None else (0, 0)
        return len(self.parent), self.transitions, self.bytes_sent, hits, misses


@dataclass(frozen=True)
class DistributedStats:
    """What a distributed run cost: workers, chunk bytes, and the summed invocation cache."""

    workers: int
    bytes_sent: int
    cache_hits: int
    cache_misses: int

    def bytes_per_state(self, states: int) -> float:
        """Chunk bytes sent between workers per distinct state."""
        return self.bytes_sent / states if states else 0.0


def import_ray() -> Any:
    """Return the ``ray`` module; raise :class:`InputError` when it is not installed."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise InputError("--workers needs Ray: pip install 'arspec[distributed]'") from None


def start_ray(workers: int, address: str | None) -> Any:
    """Connect to the cluster at ``address``, or start a local one with ``workers`` CPUs."""
    ray = import_ray()
    if not ray.is_initialized():
        options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                       configure_logging=False)
        if address is None:
            ray.init(num_cpus=workers, **options)
        else:
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise InputError(f"--ray-address: cannot join the Ray cluster at "
                                 f"{address!r}: {err}") from None
    return ray


def explore_distributed(spec: SystemSpec, system: RuntimeSystem, *, workers: int,
                        address: str | None = None, bounds: Bounds | None = None,
                        ) -> tuple[ExplorationResult[ModelState, Action], DistributedStats]:
    """Explore the bundle of ``spec`` on ``workers`` Ray actors (see the module docstring).

    :param spec: how each worker builds the system.
    :param system: the same system, built here (traces are replayed on it).
    :param workers: the number of partitions (one actor each), at least 1.
    :param address: an existing Ray cluster, or ``None`` for a local one.
    :param bounds: ``max_states`` / ``max_depth``, checked at the end of each level.
    :returns: the result (its ``space`` is empty: the store is spread over the workers)
        and the run's communication figures.
    """
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    bounds = bounds or Bounds()
    ray = start_ray(workers, address)
    # On a cluster, one CPU per worker and spread over the machines; locally no reservation,
    # so more workers than CPUs (partition counts, simulated) cannot wait for each other.
    actor = (ray.remote(num_cpus=1, scheduling_strategy="SPREAD") if address is not None
             else ray.remote(num_cpus=0))(PartitionWorker)
    pool = [actor.remote(i, workers, spec) for i in range(workers)]
    start = time.perf_counter()
    count = sum(ray.get([w.seed.remote() for w in pool]))
    level = 0
    bound: str | None = None
    frontier = count
    outs: list[Any] | None = None
    while frontier:
        if bounds.max_depth is not None and level >= bounds.max_depth:
            # Conservative: the states at the bound may all lack new successors.
            bound = "max-depth"
            break
        if outs is None:
            outs = [w.expand.options(num_returns=workers).remote(True) for w in pool]
            if workers == 1:
                outs = [[ref] for ref in outs]
        # One call per worker and level: receive this level, expand it for the next.
        expand_next = bounds.max_depth is None or level + 1 < bounds.max_depth
        steps = [w.step.options(num_returns=workers + 1).remote(
            expand_next, *(outs[src][dest] for src in range(workers)))
            for dest, w in enumerate(pool)]
        frontier = sum(ray.get([refs[0] for refs in steps]))
        outs = [refs[1:] for refs in steps]
        count += frontier
        if frontier:
            level += 1
        if bounds.max_states is not None and count >= bounds.max_states and frontier:
            bound = "max-states"
            break
    elapsed = time.perf_counter() - start
    counters = ray.get([w.get_counters.remote() for w in pool])
    found = merge_found(ray.get([w.get_found.remote() for w in pool]))
    result = finish(system, pool, ray, found, count, sum(c[1] for c in counters), level,
                    elapsed, bound, complete=bound is None, symmetry=spec.symmetry)
    stats = DistributedStats(workers, sum(c[2] for c in counters), sum(c[3] for c in counters),
                             sum(c[4] for c in counters))
    for w in pool:
        ray.kill(w)
    return result, stats


def merge_found(per_worker: Sequence[dict[str, Found]]) -> dict[str, Found]:
    """Return one violation per invariant: the shortest, of the lowest worker on a tie."""
    merged: dict[str, Found] = {}
    for found in per_worker:
        for name, entry in found.items():
            if name not in merged or entry[0] < merged[name][0]:
                merged[name] = entry
    return merged


def rebuild_path(ray: Any, pool: Sequence[Any], gid: int) -> list[int]:
    """Return the action indices from an initial state to ``gid`` (the first is the
    initial state's index)."""
    indices: list[int] = []
    while True:
        parent, idx = ray.get(pool[gid % len(pool)].get_link.remote(gid))
        indices.append(idx)
        if parent < 0:
            break
        gid = parent
    indices.reverse()
    return indices


def replay_indices(system: RuntimeSystem, indices: Sequence[int], symmetry: bool,
                   ) -> Trace[ModelState, Action]:
    """Return the trace that takes the actions at ``indices`` (first: the initial state)."""
    def canon(state: ModelState) -> ModelState:
        return system.canonicalize(state) if symmetry else state

    state = canon(system.initial_states()[indices[0]])
    initial = state
    steps: list[TraceStep[ModelState, Action]] = []
    for idx in indices[1:]:
        action = system.actions(state)[idx]
        state = canon(system.apply(state, action))
        steps.append(TraceStep(idx, action, system.describe(action), state))
    return Trace(initial, tuple(steps))


def finish(system: RuntimeSystem, pool: Sequence[Any], ray: Any,
           found: dict[str, Found], states: int, transitions: int, depth: int,
           elapsed: float, bound: str | None, *, complete: bool, symmetry: bool,
           ) -> ExplorationResult[ModelState, Action]:
    """Return the result with every violation's trace rebuilt (engine's report order)."""
    names = get_check_names(system)
    violations: list[tuple[int, int, Violation[ModelState, Action]]] = []
    for name, (_, kind, gid, idx) in found.items():
        indices = rebuild_path(ray, pool, gid)
        if idx >= 0:
            indices.append(idx)
        trace = replay_indices(system, indices, symmetry)
        violations.append((len(trace), names.index(name), Violation(name, kind, trace)))
    violations.sort(key=lambda v: v[:2])
    unfinished = Verdict.BOUND_REACHED if bound is not None else Verdict.UNDECIDED
    verdicts = tuple((name, Verdict.VIOLATED if name in found
                      else Verdict.HOLDS if complete else unfinished) for name in names)
    if found:
        verdict = Verdict.VIOLATED
    elif not complete:
        verdict = Verdict.BOUND_REACHED
    else:
        verdict = Verdict.HOLDS
    space = StateSpace(store=StoreMode.FINGERPRINT, complete=complete)
    stats = Statistics(states, transitions, depth, elapsed, 0)
    return ExplorationResult(verdict, verdicts, tuple(v for _, _, v in violations), stats,
                             bound, space)


__all__: Sequence[str] = ["DistributedStats", "SystemSpec", "explore_distributed"]
