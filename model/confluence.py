"""
Replica determinism
===================

Validators may receive the external events of one slot in different orders; they must still
reach the same state. For every reachable state, the external-event actions enabled there
(events that arrive in the same slot) are delivered in every order of every sub-multiset
of size two or more, and the resulting states are compared by their canonical encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from arspec.model.engine import (
    Bounds,
    ExplorationResult,
    Invariant,
    ModelError,
    Trace,
    TransitionSystem,
    Verdict,
    explore,
)

S = TypeVar("S")
A = TypeVar("A")
S_contra = TypeVar("S_contra", contravariant=True)
A_contra = TypeVar("A_contra", contravariant=True)

#: Component name reported when an event is refused in one order but accepted in another.
ENABLED = "<enabled>"


class ReplicaInfo(Protocol[S_contra, A_contra]):
    """What a system supplies for the replica-determinism check."""

    def is_external(self, action: A_contra) -> bool:
        """Return whether ``action`` is an external event (arrival order not agreed)."""
        ...

    def components(self, state: S_contra) -> list[tuple[str, object]]:
        """Return the named components of ``state``, in a fixed order."""
        ...


@dataclass(frozen=True)
class Divergence:
    """Two arrival orders of the same events that end in different states."""

    order_a: tuple[str, ...]
    order_b: tuple[str, ...]
    component: str
    value_a: object
    value_b: object

    def render(self) -> str:
        """Return the divergence as one deterministic line."""
        return (f"order [{', '.join(self.order_a)}] gives {self.component} = {self.value_a!r}"
                f" but order [{', '.join(self.order_b)}] gives {self.value_b!r}")


@dataclass(frozen=True)
class ConfluenceResult(Generic[S, A]):
    """Verdict; on ``VIOLATED`` the shortest trace to the state and the divergence."""

    verdict: Verdict
    divergence: Divergence | None
    trace: Trace[S, A] | None
    exploration: ExplorationResult[S, A]


class _Checker(Generic[S, A]):
    def __init__(self, system: TransitionSystem[S, A], info: ReplicaInfo[S, A],
                 max_events: int) -> None:
        self.system = system
        self.info = info
        self.max_events = max_events
        self.divergences: dict[bytes, Divergence] = {}

    def first_difference(self, a: S, b: S) -> tuple[str, object, object]:
        comps_a = self.info.components(a)
        comps_b = self.info.components(b)
        for (name, va), (_, vb) in zip(comps_a, comps_b, strict=True):
            if va != vb:
                return name, va, vb
        raise ModelError("states encode differently but components() are all equal")

    def holds(self, state: S) -> bool:
        system = self.system
        events = [a for a in system.actions(state) if self.info.is_external(a)]
        events = events[:self.max_events]
        if len(events) < 2:
            return True
        # Dynamic programming over subsets (bit masks), smallest first: once every proper
        # subset is order-independent, a set is iff all its "last event" choices agree.
        reached: dict[int, tuple[S, tuple[str, ...]]] = {0: (state, ())}
        masks = sorted(range(1, 1 << len(events)), key=lambda m: (m.bit_count(), m))
        for mask in masks:
            ref: tuple[S, tuple[str, ...], bytes] | None = None
            for i, event in enumerate(events):
                if not mask & (1 << i):
                    continue
                base, order = reached[mask ^ (1 << i)]
                order = (*order, system.describe(event))
                if event not in system.actions(base):
                    post, key = base, b""
                else:
                    post = system.apply(base, event)
                    key = system.encode(post)
                if ref is None:
                    ref = (post, order, key)
                    continue
                if key != ref[2]:
                    self.divergences[system.encode(state)] = self.diverge(ref, post, order, key)
                    return False
            assert ref is not None
            reached[mask] = ref[0], ref[1]
        return True

    def diverge(self, ref: tuple[S, tuple[str, ...], bytes], post: S, order: tuple[str, ...],
                key: bytes) -> Divergence:
        if not ref[2] or not key:
            return Divergence(ref[1], order, ENABLED, bool(ref[2]), bool(key))
        name, va, vb = self.first_difference(ref[0], post)
        return Divergence(ref[1], order, name, va, vb)


def check_confluence(system: TransitionSystem[S, A], info: ReplicaInfo[S, A] | None = None,
                     *, max_events: int = 5, bounds: Bounds | None = None,
                     ) -> ConfluenceResult[S, A]:
    """Check that external events of one slot commute in every reachable state.

    :param system: the model.
    :param info: the external-event predicate and the state components (default: ``system``
        itself, which must then implement :class:`ReplicaInfo`).
    :param max_events: consider at most this many external events per state (the first ones
        in canonical order); the cost is ``n * 2**(n-1)`` applications.
    :param bounds: exploration bounds.
    :returns: ``VIOLATED`` with the shortest trace to a state whose events do not commute and
        the two orders (the refused event shows as component ``<enabled>``, ``True`` for the
        order that accepted it), ``HOLDS``, or ``BOUND-REACHED``.
    :raises ModelError: if ``max_events`` is below 2 or ``info`` is missing.
    """
    if max_events < 2:
        raise ModelError(f"max_events must be >= 2, got {max_events}")
    replica: ReplicaInfo[S, A] = info if info is not None else system  # type: ignore[assignment]
    if not callable(getattr(replica, "is_external", None)) or not callable(
            getattr(replica, "components", None)):
        raise ModelError("check_confluence needs is_external() and components()")
    checker = _Checker(system, replica, max_events)
    result = explore(system, invariants=[Invariant("replica-determinism", checker.holds)],
                     bounds=bounds)
    violation = result.violation
    if violation is None:
        return ConfluenceResult(result.verdict, None, None, result)
    divergence = checker.divergences[system.encode(violation.trace.final)]
    return ConfluenceResult(Verdict.VIOLATED, divergence, violation.trace, result)
