"""
Checks evaluated only when their inputs changed
===============================================

The explorer evaluates the bundle's checks on every step and every new state. Most steps
leave most of a check's inputs as they were: a domain write changes one account, the end of
a slot only scheduler counters, and successors share the map objects their step does not
write (:mod:`arspec.model.runtime_system`). Here the checks are evaluated only when that can
change their result:

* **Transition checks** of :data:`MAP_ONLY_CHECKS` are skipped on a step that kept their
  inputs (the same map objects, no event they read): they hold.
* **User invariants** are remembered by the values of the fields their expression reads (a
  pure function of those values, message included).

(The replica-determinism check has its own: each order of writes applied to one copy of the
state, :meth:`~arspec.model.runtime_system.RuntimeSystem.is_order_free`.)

Each shortcut is tied to the catalogue function it stands for (by identity), so that a
change to the catalogue turns it off. With :data:`SKIP_CHECKS` off every check is evaluated
every time; ``tests/model/test_check_skips.py`` explores every example both ways and
compares states, order, verdicts and traces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from arspec.spec.catalogue import (
    CATALOGUE,
    CallbackSite,
    CatalogueContext,
    UserInvariant,
    get_double_execution_violation,
    get_field_value,
    get_lost_timer_violation,
    get_ringbuf_violation,
    get_user_invariant_violation,
)
from arspec.spec.scheduler import Event, EventKind
from arspec.spec.state import RuntimeState, TriggerKind

#: Evaluate checks only when their inputs changed; ``False`` evaluates every check every
#: time (the tests' reference).
SKIP_CHECKS = True
#: At most this many results are remembered per kind (then they are forgotten at once).
MAX_REMEMBERED: Final = 100_000

StepCheck = Callable[[CatalogueContext, RuntimeState, Sequence[Event], RuntimeState],
                     "str | None"]
KeptTest = Callable[[RuntimeState, Sequence[Event], RuntimeState], bool]


def is_timer_maps_kept(pre: RuntimeState, events: Sequence[Event], post: RuntimeState) -> bool:
    """Return whether a step kept every map object that can hold a timer (its value has a
    ``bpf_timer``): the armed timers are then the same before and after, and none is lost."""
    after = post.maps
    if len(after) != len(pre.maps):
        return False
    for name, mstate in pre.maps.items():
        if mstate.definition.timer_offset is not None and after.get(name) is not mstate:
            return False
    return True


def is_ring_maps_kept(pre: RuntimeState, events: Sequence[Event], post: RuntimeState) -> bool:
    """Return whether a step kept every ring-buffer map object and enqueued no ring record:
    nothing was then consumed, delivered or overwritten."""
    after = post.maps
    if len(after) != len(pre.maps):
        return False
    for name, mstate in pre.maps.items():
        if mstate.ringbuf is not None and after.get(name) is not mstate:
            return False
    return not any(event.kind == EventKind.ENQUEUE and event.item is not None
                   and event.item.kind == TriggerKind.RINGBUF for event in events)


#: Transition checks that read only some maps before and after (and some events), with
#: the test that a step left those inputs as they were (so the check holds): keyed by
#: name, valued by (the catalogue's function, the test).
MAP_ONLY_CHECKS: Final[dict[str, tuple[StepCheck, KeptTest]]] = {
    "no_lost_timer": (get_lost_timer_violation, is_timer_maps_kept),
    "ringbuf_fifo": (get_ringbuf_violation, is_ring_maps_kept)}


class StepChecks:
    """The transition checks of a list of catalogue names, in that order.

    :param context: the bundle's catalogue context.
    :param names: catalogue names (those without a transition part only add the
        double-execution check where the entry asks for it).
    """

    def __init__(self, context: CatalogueContext, names: Sequence[str]) -> None:
        self.context = context
        self.plan: list[tuple[str, StepCheck | None, KeptTest | None, bool]] = []
        for name in names:
            entry = CATALOGUE[name]
            skip = MAP_ONLY_CHECKS.get(name)
            kept = skip[1] if skip is not None and skip[0] is entry.transition else None
            self.plan.append((name, entry.transition, kept, entry.double_execution))

    def compute(self, pre: RuntimeState, ran: frozenset[CallbackSite],
                events: Sequence[Event], post: RuntimeState) -> tuple[tuple[str, str], ...]:
        """Return (name, reason) of every check the step ``pre -> post`` breaks."""
        found: list[tuple[str, str]] = []
        skipping = SKIP_CHECKS
        for name, transition, kept, double in self.plan:
            reason = None
            if transition is not None and not (
                    skipping and kept is not None and kept(pre, events, post)):
                reason = transition(self.context, pre, events, post)
            if reason is None and double:
                reason = get_double_execution_violation(ran, events)
            if reason is not None:
                found.append((name, reason))
        return tuple(found)


class RememberedResults:
    """User invariant results remembered by the values they read."""

    def __init__(self, context: CatalogueContext) -> None:
        self.context = context
        self._user: dict[tuple[object, ...], str | None] = {}

    def get_user_violation(self, inv: UserInvariant, runtime: RuntimeState) -> str | None:
        """Return :func:`~arspec.spec.catalogue.get_user_invariant_violation`, remembered
        by the values of the fields the expression reads (its only inputs)."""
        if not SKIP_CHECKS:
            return get_user_invariant_violation(inv, runtime)
        values = (inv.name, *(get_field_value(runtime, ref) for ref in inv.refs.values()))
        memo = self._user
        if values in memo:
            return memo[values]
        if len(memo) >= MAX_REMEMBERED:
            memo.clear()
        reason = memo[values] = get_user_invariant_violation(inv, runtime)
        return reason
