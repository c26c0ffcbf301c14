"""
State-space reductions
======================

Partial-order reduction (persistent sets from a global independence relation, with the
breadth-first cycle proviso applied by the explorer) and symmetry reduction (a system-supplied
canonical representative per orbit). Both are optional and switch off independently.

Soundness conditions (what the system promises, and what the explorer adds):

* ``independent(a, b)`` is symmetric and holds only if, in *every* state where both ``a``
  and ``b`` are enabled, executing one does not disable the other and both orders reach the
  same state. It must be given for every pair of actions of ``alphabet()``, the finite set of
  every action that can ever be enabled (enabled or not in the current state).
* ``visible(a)`` is ``True`` whenever ``a`` can change anything an invariant reads (state or
  transition invariants); a transition invariant may only fail on a visible action and may
  only read what visible actions change.
* The persistent set of a state is the dependency closure, over the whole alphabet, of one
  enabled action. It is used only if every action in it is enabled and invisible and it is a
  proper subset of the enabled actions (conditions C0-C2). Because the closure is taken over
  the alphabet, no action outside the set that is dependent on it can run first, whatever
  becomes enabled later (persistence). The explorer keeps a reduced expansion only when all
  its successors are new states; on every cycle the state expanded last sees an old
  successor and is fully expanded (cycle proviso C3). Together these preserve the verdict of
  every invariant and of deadlock freedom; counterexample traces stay valid but may be
  longer than the shortest one.
* ``canonicalize(s)`` returns the same representative for all states of an orbit of a
  symmetry group that maps transitions to transitions and leaves every invariant unchanged.
  Distances are preserved, so traces stay shortest; they pass through representatives.
  The same argument covers any *quotient map* ``c`` (for example forgetting data that no
  guard, effect or invariant reads) with: ``actions(c(s)) == actions(s)``,
  ``c(apply(s, a)) == c(apply(c(s), a))``, every state invariant equal on ``s`` and
  ``c(s)``, and every transition invariant equal on ``(s, a, t)`` and ``(c(s), a, c(t))``.
  Then ``s ~ c(s)`` is a bisimulation that preserves every verdict and every distance.
  :func:`check_quotient` tests these conditions on given states.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from arspec.model.engine import (
    ExplorationResult,
    Invariant,
    ModelError,
    TransitionInvariant,
    TransitionSystem,
    explore,
)

S = TypeVar("S")
A = TypeVar("A", bound=Hashable)
S_contra = TypeVar("S_contra", contravariant=True)
A_contra = TypeVar("A_contra", contravariant=True)


class PartialOrderInfo(Protocol[A_contra]):
    """What a system supplies for partial-order reduction (see the module docstring)."""

    def alphabet(self) -> Sequence[Any]:
        """Return every action that can ever be enabled, in a canonical order."""
        ...

    def independent(self, a: A_contra, b: A_contra) -> bool:
        """Return whether ``a`` and ``b`` commute and never disable each other."""
        ...

    def visible(self, a: A_contra) -> bool:
        """Return whether ``a`` may change anything an invariant reads."""
        ...


class Symmetric(Protocol[S]):
    """What a system supplies for symmetry reduction."""

    def canonicalize(self, state: S) -> S:
        """Return the representative of the orbit of ``state``."""
        ...


class PersistentSets(Generic[S, A]):
    """An :class:`~arspec.model.engine.AmpleSelector` built from a global independence relation.

    :param info: the system's alphabet, independence and visibility.
    :raises ModelError: if ``independent`` is not symmetric, or an action is its own
        independent.
    """

    def __init__(self, info: PartialOrderInfo[A]) -> None:
        alphabet: list[A] = list(info.alphabet())
        if len(set(alphabet)) != len(alphabet):
            raise ModelError("alphabet() lists an action twice")
        dependent: dict[A, list[A]] = {a: [] for a in alphabet}
        for i, a in enumerate(alphabet):
            if info.independent(a, a):
                raise ModelError(f"independent(a, a) must be False (action {a!r})")
            for b in alphabet[i + 1:]:
                ab, ba = info.independent(a, b), info.independent(b, a)
                if ab != ba:
                    raise ModelError(f"independent() is not symmetric on {a!r}, {b!r}")
                if not ab:
                    dependent[a].append(b)
                    dependent[b].append(a)
        # For every action: its dependency closure, or None if it holds a visible action.
        self._closure: dict[A, frozenset[A] | None] = {}
        for a in alphabet:
            seen = {a}
            todo = [a]
            while todo:
                for b in dependent[todo.pop()]:
                    if b not in seen:
                        seen.add(b)
                        todo.append(b)
            invisible = not any(info.visible(b) for b in seen)
            self._closure[a] = frozenset(seen) if invisible else None

    def select(self, state: S, enabled: Sequence[A]) -> Sequence[int] | None:
        """Return the indices of the smallest eligible persistent set, or ``None``.

        :param state: the state being expanded (unused: the relation is global).
        :param enabled: the enabled actions, in the system's canonical order.
        :returns: sorted indices into ``enabled``, or ``None`` to expand every action.
        :raises ModelError: if an enabled action is missing from the alphabet.
        """
        position = {a: i for i, a in enumerate(enabled)}
        best: frozenset[A] | None = None
        for a in enabled:
            if a not in self._closure:
                raise ModelError(f"enabled action {a!r} is not in alphabet()")
            closure = self._closure[a]
            if closure is None or len(closure) >= len(enabled):
                continue
            if (best is None or len(closure) < len(best)) and all(
                    b in position for b in closure):
                best = closure
        if best is None:
            return None
        return sorted(position[b] for b in best)


def explore_reduced(system: TransitionSystem[S, A], *, partial_order: bool = True,
                    symmetry: bool = True, **options: Any) -> ExplorationResult[S, A]:
    """Run :func:`~arspec.model.engine.explore` with the reductions the system supports.

    :param system: the model; it must implement :class:`PartialOrderInfo` if
        ``partial_order`` and :class:`Symmetric` if ``symmetry``.
    :param partial_order: use persistent sets.
    :param symmetry: canonicalize every state.
    :param options: passed on to ``explore`` (invariants, bounds, ...).
    :returns: the exploration result.
    :raises ModelError: if a requested reduction is not supported by ``system``.
    """
    if partial_order:
        for method in ("alphabet", "independent", "visible"):
            if not callable(getattr(system, method, None)):
                raise ModelError(f"partial-order reduction needs system.{method}(); "
                                 "pass partial_order=False")
        options["ample"] = PersistentSets(system)  # type: ignore[arg-type]
    if symmetry:
        canonicalize = getattr(system, "canonicalize", None)
        if not callable(canonicalize):
            raise ModelError("symmetry reduction needs system.canonicalize(); "
                             "pass symmetry=False")
        options["canonicalize"] = canonicalize
    return explore(system, **options)


def check_quotient(system: TransitionSystem[S, A], canonicalize: Callable[[S], S],
                   states: Iterable[S], *, invariants: Sequence[Invariant[S]] = (),
                   transition_invariants: Sequence[TransitionInvariant[S, A]] = (),
                   ) -> int:
    """Check on ``states`` that ``canonicalize`` is a verdict-preserving quotient map.

    Checks, for every given state ``s`` and enabled action ``a`` (module docstring): the
    same enabled actions in ``s`` and ``c(s)``; ``c(apply(s, a)) == c(apply(c(s), a))``
    (compared by encoding); every state invariant equal on ``s`` and ``c(s)``; every
    transition invariant equal on ``(s, a, apply(s, a))`` and ``(c(s), a, c(apply(s, a)))``;
    and ``c`` idempotent. Passing every reachable state of the unreduced system proves the
    reduction sound for that instance.

    :returns: the number of transitions checked.
    :raises ModelError: at the first state that breaks a condition.
    """
    checked = 0
    for s in states:
        c = canonicalize(s)
        if system.encode(canonicalize(c)) != system.encode(c):
            raise ModelError(f"canonicalize is not idempotent on {s!r}")
        acts = list(system.actions(s))
        if list(system.actions(c)) != acts:
            raise ModelError(f"actions differ between {s!r} and its representative {c!r}")
        for inv in invariants:
            if inv.holds(s) != inv.holds(c):
                raise ModelError(f"invariant {inv.name} differs on {s!r} and {c!r}")
        for a in acts:
            post = system.apply(s, a)
            cpost = canonicalize(post)
            if system.encode(canonicalize(system.apply(c, a))) != system.encode(cpost):
                raise ModelError(f"{system.describe(a)} from {s!r} and from {c!r} reach "
                                 "different classes")
            for tinv in transition_invariants:
                if tinv.holds(s, a, post) != tinv.holds(c, a, cpost):
                    raise ModelError(f"transition invariant {tinv.name} differs on "
                                     f"{system.describe(a)} from {s!r} and {c!r}")
            checked += 1
    return checked
