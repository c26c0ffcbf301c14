"""
Starvation under fairness
=========================

``no_starvation``: on every infinite run on which the scheduler's own actions are weakly fair,
every queued work item eventually leaves the FIFO. Within a slot horizon the state graph is
acyclic and says nothing about infinite runs, so this module explores a **slot-abstracted**
graph, which has cycles, and hands it to :func:`arspec.model.liveness.check_starvation`
(strongly connected components, lasso witness).

The slot abstraction
--------------------
A state is identified without its absolute slot. With ``T`` the first slot after slot 0
(startup), every scripted write and every domain's last listed slot (``scenario.writes``,
``domains[].slots`` and startup are the only time tables of a bundle) and ``L`` the least common
multiple of the ``every`` periods, the slot is replaced by ``slot`` below ``T`` and by
``T + (slot - T) mod L`` from ``T`` on; every other time is made relative to it: an armed
timer's expiry is shifted by the same amount (a timer that already has its queued item keeps
only "due"), and the parts of the state no transition reads are left out (a work item's
enqueue slot and reason text, the counters of suppressed cascades and the deepest cascade).
Work-item sequence numbers are kept modulo the CPU count (all an invocation sees of them in
the ``solana`` profile: its CPU), and async sequence numbers are renumbered by rank
(:meth:`~arspec.model.runtime_system.RuntimeSystem.canonicalize`).

Two states with the same abstract key then have the same enabled actions and successors
with the same abstract keys, *provided programs see no absolute time*. In the ``solana``
profile a program sees time through ``arspec_get_slot`` (refused here: the abstraction is
then unavailable and the verdict is BOUND-REACHED), a timer started with ``BPF_F_TIMER_ABS``
(an absolute slot that does not move with the shift) and a relative start that saturates
at ``2**64 - 1``. States holding an expiry at or above ``2**62`` keep their absolute slot
in the key (no merging), and every explored transition is re-run on the state shifted one
period later and must give the same abstract successor: an absolute start gives a different
relative expiry for every non-zero shift, so it is caught, and the exploration stops with
BOUND-REACHED. In the ``linux`` profile the clock helpers (``bpf_ktime_get_*``) read the slot
and the pseudo-random helper reads the slot and the item's sequence number: a bundle whose
programs call one of them is refused (BOUND-REACHED with the program and pc), and any other
``linux`` bundle is checked like a ``solana`` one (its CPU helper sees ``seq mod CPUs``,
which the key keeps).

Which item starves
------------------
A monitor picks the item to watch: in a state where nothing is watched, :class:`Watch`
``(i)`` marks the item at FIFO position ``i`` (the item keeps its mark as it moves; the mark
is dropped when it leaves the FIFO). A starving item is watched on some run, and the watched
item's position is part of the key, so the check's single pending item ``"watched"`` has a
stable identity. ``Watch`` and environment writes are under no fairness constraint; each
scheduler action (scenario write, enqueue due work, run head, end slot) is its own weak
fairness class.

Exploration is exhaustive up to ``max_states`` abstract states; a bundle whose abstract
state space is larger (a counter that grows without bound, a FIFO backlog that grows every
slot) gives BOUND-REACHED, never HOLDS.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Final

from arspec.model.engine import Bounds, StoreMode, TraceStep, Verdict
from arspec.model.liveness import Lasso, check_starvation
from arspec.model.runtime_system import (
    ModelState,
    RuntimeSystem,
    StepInfo,
    copy_runtime_state,
    describe_action,
    encode_model_state,
    make_model_state,
)
from arspec.model.stopping import get_cut_reason
from arspec.spec import bundle as schema
from arspec.spec.scheduler import (
    Action,
    ApplyWrite,
    DomainWrite,
    EndSlot,
    EnqueueDue,
    RunHead,
    get_runtime_config,
)
from arspec.spec.state import RuntimeState
from arspec.spec.types import Slot

#: Default bound on the abstract states of a starvation check.
DEFAULT_MAX_STATES: Final = 20_000
#: Horizon given to the underlying runtime system (never reached in practice).
UNBOUNDED_SLOTS: Final = 2**62
#: An expiry at or above this keeps its state's absolute slot in the key.
FAR_EXPIRY: Final = 2**62
#: The pending item of the check: the watched one.
WATCHED: Final = "watched"
#: Helpers through which a program reads the absolute slot (``solana`` profile).
SLOT_HELPERS: Final = ("arspec_get_slot",)
#: Helpers through which a ``linux`` program reads the slot or its item's sequence number:
#: the clocks (the slot's start in ns) and the pseudo-random helper (seeded by slot and item).
LINUX_TIME_HELPERS: Final = ("bpf_ktime_get_ns", "bpf_ktime_get_boot_ns",
                             "bpf_ktime_get_coarse_ns", "bpf_ktime_get_tai_ns",
                             "bpf_get_prandom_u32", "arspec_get_slot")


class AbstractionBroken(Exception):
    """A transition behaved differently one period later: the abstraction is not exact."""


@dataclass(frozen=True)
class Watch:
    """Monitor action: watch the item at FIFO position ``position`` from now on."""

    position: int


LiveAction = Action | Watch


@dataclass(frozen=True, eq=False)
class WatchedState:
    """A runtime state plus the sequence number of the watched item (``None``: none)."""

    model: ModelState
    watched: int | None
    key: bytes

    def __repr__(self) -> str:
        return f"{self.model!r}, watched {self.watched}"


@dataclass(frozen=True)
class SlotAbstraction:
    """The time tables of a bundle: abstract slots below ``threshold`` stay, then wrap."""

    threshold: int
    period: int
    cpus: int

    def get_abstract_slot(self, slot: int) -> int:
        """Return the abstract slot of ``slot``."""
        if slot < self.threshold:
            return slot
        return self.threshold + (slot - self.threshold) % self.period


def create_slot_abstraction(bundle: schema.Bundle, cpus: int) -> SlotAbstraction:
    """Return the abstraction of ``bundle`` (see the module docstring)."""
    config = get_runtime_config(bundle)
    last = [slot for slot in config.writes]
    for domain in config.domains.values():
        last.extend(domain.slots or ())
    period = math.lcm(*(n for _, n in config.every)) if config.every else 1
    # Slot 0 is a time table entry too: startup programs are due only there.
    return SlotAbstraction(max(last) + 1 if last else 1, period, cpus)


def get_abstraction_obstacle(bundle: schema.Bundle, system: RuntimeSystem) -> str | None:
    """Return why the slot abstraction is not exact for ``bundle``, or ``None``.

    A program that cannot be inspected (no loaded code at hand) in the ``linux`` profile is
    an obstacle: it might call a clock.
    """
    linux = bundle.profile != schema.Profile.SOLANA
    programs = getattr(getattr(system.invoker, "inner", system.invoker), "programs", None)
    if programs is None:
        return ("the linux profile's clock and random helpers read the slot, and the "
                "programs could not be inspected") if linux else None
    from arspec.reference.isa.instructions import Call
    from arspec.reference.isa.murmur3 import murmur3_32
    from arspec.spec.helpers import HELPER_TABLE

    names = LINUX_TIME_HELPERS if linux else SLOT_HELPERS
    by_id: dict[int, str] = {murmur3_32(name.encode()): name for name in names}
    if linux:
        by_id.update({h.id: h.name for h in HELPER_TABLE if h.name in names})
    for name, loaded in programs.items():
        for pc, insn in loaded.program.instructions():
            helper = by_id.get(insn.imm & 0xFFFFFFFF) if isinstance(insn, Call) else None
            if helper is not None:
                return f"program {name} reads the slot ({helper} at pc {pc})"
    return None


def shift_runtime(runtime: RuntimeState, by: int) -> RuntimeState:
    """Return a copy of ``runtime`` with the slot and every armed expiry moved by ``by``."""
    shifted = copy_runtime_state(runtime)
    shifted.slot = Slot(runtime.slot + by)
    for mstate in shifted.maps.values():
        for cells in mstate.elements.values():
            for element in cells:
                timer = element.timer
                if timer is not None and timer.expiry is not None:
                    timer.expiry = Slot(timer.expiry + by)
    shifted.fifo = [dataclasses.replace(item, enqueued_slot=Slot(item.enqueued_slot + by))
                    for item in runtime.fifo]
    return shifted


def compute_abstract_runtime(runtime: RuntimeState, abstraction: SlotAbstraction,
                             ) -> RuntimeState:
    """Return the slot-free representative of ``runtime`` (see the module docstring)."""
    slot = abstraction.get_abstract_slot(runtime.slot)
    shifted = shift_runtime(runtime, slot - runtime.slot)
    for mstate in shifted.maps.values():
        for cells in mstate.elements.values():
            for element in cells:
                timer = element.timer
                if (timer is not None and timer.expiry is not None
                        and timer.arm_seq in runtime.queued_timers):
                    timer.expiry = Slot(min(timer.expiry, slot))
    shifted.fifo = [dataclasses.replace(item, seq=item.seq % abstraction.cpus,
                                        enqueued_slot=Slot(0), reason="")
                    for item in shifted.fifo]
    shifted.next_item_seq = runtime.next_item_seq % abstraction.cpus
    shifted.cascades_suppressed = 0
    shifted.max_depth_seen = 0
    return shifted


def has_far_expiry(runtime: RuntimeState) -> bool:
    """Return whether some armed timer expires at or after :data:`FAR_EXPIRY`."""
    return any(element.timer is not None and element.timer.expiry is not None
               and element.timer.expiry >= FAR_EXPIRY
               for mstate in runtime.maps.values() for cells in mstate.elements.values()
               for element in cells)


def get_watched_position(model: ModelState, watched: int | None) -> int | None:
    """Return the FIFO position of the watched item, or ``None`` if it is not queued."""
    if watched is None:
        return None
    for position, item in enumerate(model.runtime.fifo):
        if item.seq == watched:
            return position
    return None


class StarvationSystem:
    """The slot-abstracted runtime with the watching monitor (a transition system).

    :param system: the runtime system (its horizon is ignored; use :data:`UNBOUNDED_SLOTS`).
    :param abstraction: the bundle's time tables.
    """

    def __init__(self, system: RuntimeSystem, abstraction: SlotAbstraction) -> None:
        self.system = system
        self.abstraction = abstraction

    def make_state(self, model: ModelState, watched: int | None) -> WatchedState:
        """Return the state with its abstract key computed."""
        position = get_watched_position(model, watched)
        watched = None if position is None else watched
        return WatchedState(model, watched, self.compute_key(model, position))

    def compute_key(self, model: ModelState, position: int | None) -> bytes:
        """Return the abstract key: slot-free runtime, ghost, error, watched position."""
        runtime = model.runtime
        if has_far_expiry(runtime):
            body = b"exact|" + model.key
        else:
            body = encode_model_state(compute_abstract_runtime(runtime, self.abstraction),
                                      model.ran, model.error)
        return body + b"|watch " + repr(position).encode()

    def initial_states(self) -> Sequence[WatchedState]:
        """Return the runtime's initial state, nothing watched."""
        return [self.make_state(self.system.initial_states()[0], None)]

    def actions(self, state: WatchedState) -> Sequence[LiveAction]:
        """Return the runtime's actions, then a :class:`Watch` per queued item if none is."""
        acts: list[LiveAction] = list(self.system.actions(state.model))
        if acts and state.watched is None:
            acts.extend(Watch(i) for i in range(len(state.model.runtime.fifo)))
        return acts

    def apply(self, state: WatchedState, action: LiveAction) -> WatchedState:
        """Return the successor; raise :class:`AbstractionBroken` if not period-invariant."""
        if isinstance(action, Watch):
            return self.make_state(state.model, state.model.runtime.fifo[action.position].seq)
        post = self.system.canonicalize(self.system.apply(state.model, action))
        result = self.make_state(post, state.watched)
        self.check_period_invariance(state, action, result)
        return result

    def check_period_invariance(self, state: WatchedState, action: Action,
                                result: WatchedState) -> None:
        """Re-run ``action`` one period later; raise if the abstract successor differs."""
        runtime = state.model.runtime
        if runtime.slot < self.abstraction.threshold or has_far_expiry(runtime):
            return
        period = self.abstraction.period
        later = make_model_state(shift_runtime(runtime, period), state.model.ran,
                                 state.model.error)
        post = self.system.canonicalize(self.system.apply(later, action))
        if self.make_state(post, state.watched).key != result.key:
            raise AbstractionBroken(
                f"{describe_action(action)} at slot {runtime.slot} behaves differently "
                f"{period} slot(s) later (a timer started at an absolute slot?)")

    def encode(self, state: WatchedState) -> bytes:
        """Return the abstract key."""
        return state.key

    def describe(self, action: LiveAction) -> str:
        """Return ``watch FIFO item 0`` or the runtime action's description."""
        if isinstance(action, Watch):
            return f"watch FIFO item {action.position}"
        return describe_action(action)


def get_fairness_class(action: LiveAction) -> Hashable | None:
    """Return the weak-fairness class of an action (``None``: the environment, the monitor)."""
    if isinstance(action, Watch | DomainWrite):
        return None
    for kind in (ApplyWrite, EnqueueDue, RunHead, EndSlot):
        if isinstance(action, kind):
            return kind.__name__
    return None


@dataclass(frozen=True)
class StarvationOutcome:
    """The verdict of ``no_starvation``, its witness and what limited the search."""

    verdict: Verdict
    lasso: Lasso[WatchedState, LiveAction] | None
    states: int
    transitions: int
    note: str | None
    #: What stopped the check: ``max-states``, ``max-memory``, ``not checked``, or ``None``.
    bound: str | None = None


def check_no_starvation(system: RuntimeSystem, *, max_states: int | None = None,
                        store: StoreMode = StoreMode.FINGERPRINT,
                        max_memory: int | None = None,
                        memory_in_use: Callable[[], int] | None = None,
                        ) -> StarvationOutcome:
    """Check ``no_starvation`` for the runtime of ``system`` (module docstring).

    :param system: a runtime system built with horizon :data:`UNBOUNDED_SLOTS` and no
        transition checks (they are not needed).
    :param max_states: bound on abstract states (default :data:`DEFAULT_MAX_STATES`).
    :param store: the seen-set of the abstract exploration (64-bit fingerprints by default).
    :param max_memory: stop when ``memory_in_use()`` (else the store estimate) exceeds this.
    :param memory_in_use: the memory probe (see :func:`~arspec.model.engine.explore`).
    :returns: HOLDS, VIOLATED with a lasso (prefix, then a cycle repeated forever), or
        BOUND-REACHED with the reason in ``note``.
    """
    obstacle = get_abstraction_obstacle(system.bundle, system)
    if obstacle is not None:
        return StarvationOutcome(Verdict.BOUND_REACHED, None, 0, 0,
                                 f"not checked: {obstacle}", "not checked")
    cpus = system.initial_states()[0].runtime.preset.num_cpus
    live = StarvationSystem(system, create_slot_abstraction(system.bundle, cpus))
    limit = max_states if max_states is not None else DEFAULT_MAX_STATES
    try:
        result = check_starvation(
            live, pending=lambda s: (WATCHED,) if s.watched is not None else (),
            fairness=get_fairness_class,
            bounds=Bounds(max_states=limit, max_memory_bytes=max_memory), store=store,
            memory_in_use=memory_in_use)
    except AbstractionBroken as err:
        return StarvationOutcome(Verdict.BOUND_REACHED, None, 0, 0,
                                 f"not checked: slot abstraction not exact: {err}",
                                 "not checked")
    stats = result.exploration.stats
    note = None
    bound = None
    if result.verdict == Verdict.BOUND_REACHED:
        bound = result.exploration.bound or get_cut_reason() or "max-states"
        limit_text = (f"{limit} abstract states" if bound == "max-states"
                      else f"{stats.states} abstract states")
        note = f"{bound} ({limit_text}) before the abstract state graph was complete"
    return StarvationOutcome(result.verdict, result.lasso, stats.states, stats.transitions,
                             note, bound)


def get_lasso_rows(lasso: Lasso[WatchedState, LiveAction],
                   ) -> tuple[ModelState, list[tuple[str, ModelState]], int]:
    """Return the lasso's initial runtime state, its (label, state) steps and prefix length."""
    steps: list[TraceStep[WatchedState, LiveAction]] = [*lasso.prefix.steps, *lasso.cycle]
    rows = [(s.label, dataclasses.replace(s.state.model, step=StepInfo())
             if isinstance(s.action, Watch) else s.state.model) for s in steps]
    return lasso.prefix.initial.model, rows, len(lasso.prefix)


def get_starving_item(lasso: Lasso[WatchedState, LiveAction]) -> str:
    """Return ``prog (reason)`` of the watched item on the lasso's cycle."""
    state = lasso.prefix.final
    position = get_watched_position(state.model, state.watched)
    assert position is not None
    item = state.model.runtime.fifo[position]
    return f"{item.prog} ({item.reason}, queued in slot {item.enqueued_slot})"


__all__: Sequence[str] = ["StarvationOutcome", "check_no_starvation"]
