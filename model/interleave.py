"""
Interleaved invocations (the parallel-executor concurrency mode)
================================================================

The runtime runs one invocation to completion before the next, so a read-modify-write of a
map value can never lose an update there. :mod:`arspec.spec.spinlock` fixes what a parallel
executor must guarantee instead: invocations may interleave at instruction granularity
(a helper call and an atomic instruction are one indivisible step), and an invocation that
calls ``bpf_spin_lock`` on a value whose lock another invocation holds waits until it is
released. This module explores that mode for one program of a bundle.

:func:`explore_interleavings` starts ``invocations`` copies of the program (its startup /
every / watch entry: an empty input) on one shared :class:`~arspec.spec.state.RuntimeState`,
each on its own :class:`~arspec.reference.vm.vm.Vm` with its own stack and the real runtime
helpers (:mod:`arspec.reference.runtime.runtime_helpers`), and explores every schedule: a
depth-first search over which unfinished, unblocked invocation steps next, re-executing the
schedule prefix from the initial state at each node (stateless search) and pruning states
already seen (registers, pcs, frames, stacks, locks, reservations, dynptrs and the whole
runtime state as the explorer encodes it). It checks:

* **serialisability** -- every complete interleaving ends with the map and account bytes of
  some sequential order of the same invocations;
* **no fault** -- no invocation faults under interleaving that did not fault sequentially;
* **no deadlock** -- some invocation can always step until all have finished.

The first violation is returned with its schedule (the invocation index of every step).
An unprotected read-modify-write loses an update (both invocations read the old value);
the ``bpf_spin_lock`` and ``lock xadd`` twins hold.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from arspec.model.state_codec import encode_runtime
from arspec.reference.isa.instructions import FRAME_POINTER, REGISTER_COUNT, Call
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.reference.runtime.runtime_helpers import Invocation
from arspec.reference.vm.profiles import STACK_BASE, STACK_REGION
from arspec.reference.vm.vm import MASK64, Vm
from arspec.spec import bundle as schema
from arspec.spec.errors import ExecutionFault, InputError
from arspec.spec.loader import load_bundle
from arspec.spec.state import RuntimeState, TriggerKind, WorkItem, copy_state, create_runtime_state
from arspec.spec.types import ComputeUnits, Cpu, FuncRef, Pc, ProgId, Slot

#: Hook kinds whose invocations start like a fresh run (an empty input).
INPUT_HOOKS: dict[str, TriggerKind] = {"startup": TriggerKind.STARTUP,
                                       "every": TriggerKind.EVERY, "watch": TriggerKind.WATCH}
#: Most invocations explored at once (the schedules grow as a multinomial).
MAX_INVOCATIONS = 4
#: Default bound on distinct states.
DEFAULT_MAX_STATES = 200_000
#: Default bound on instructions executed in all, re-runs of schedule prefixes included
#: (a deterministic stand-in for a time limit: about 10 s).
DEFAULT_MAX_STEPS = 3_000_000
#: Instructions one invocation may run (a loop that never ends is a bound, not a hang).
STEP_LIMIT = 100_000


@dataclass(frozen=True)
class InterleaveResult:
    """The answer: ``verdict`` is ``HOLDS``, ``VIOLATED`` or ``BOUND-REACHED``."""

    bundle: str
    program: str
    invocations: int
    verdict: str
    states: int
    complete: int
    reason: str = ""
    schedule: tuple[int, ...] = ()
    #: Final map bytes of the violating run and of the sequential orders.
    observed: str = ""
    expected: tuple[str, ...] = ()

    def render(self) -> str:
        """Return the report, one fact per line (no timings: byte-identical across runs)."""
        lines = [f"interleave {self.program} x{self.invocations} ({self.bundle}): "
                 "instruction-granular schedules, bpf_spin_lock waits, atomics indivisible",
                 f"states {self.states}, distinct end states {self.complete}"]
        if self.verdict == "VIOLATED":
            lines.append(f"violation: {self.reason}")
            lines.append("schedule (invocation per step): "
                         + " ".join(str(i) for i in self.schedule))
            if self.observed:
                lines.append(f"  interleaved end:  {self.observed}")
            for text in self.expected:
                lines.append(f"  a sequential end: {text}")
        elif self.reason:
            lines.append(self.reason)
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines) + "\n"


@dataclass
class _Runner:
    """One invocation being stepped: its runtime invocation and VM."""

    invocation: Invocation
    vm: Vm
    done: bool = False
    fault: str | None = None
    steps: int = 0


@dataclass
class _World:
    """Every invocation on one shared state, advanced one step at a time."""

    invoker: ReferenceInvoker
    state: RuntimeState
    runners: list[_Runner] = field(default_factory=list)

    def enabled(self) -> list[int]:
        """Return the invocations that may step now (unfinished and not waiting)."""
        return [i for i, r in enumerate(self.runners) if not r.done and not self.waits(i)]

    def waits(self, index: int) -> bool:
        """Return whether invocation ``index`` is about to take a lock another one holds."""
        runner = self.runners[index]
        vm = runner.vm
        insn = vm.program.slots[vm.pc] if 0 <= vm.pc < len(vm.program.slots) else None
        if not isinstance(insn, Call) or not _is_spin_lock(insn.imm, self.invoker):
            return False
        wanted = runner.invocation.regions.get(vm.regs[1] >> 32)
        if wanted is None:
            return False
        for other, holder in enumerate(self.runners):
            held = holder.invocation.held_lock
            if other == index or held is None:
                continue
            owner = holder.invocation.regions.get(held.address >> 32)
            if owner is not None and owner[1] is wanted[1]:
                return True
        return False

    def step(self, index: int) -> None:
        """Run one instruction of invocation ``index`` (a helper call is one step)."""
        runner = self.runners[index]
        self.invoker.current = runner.invocation
        vm = runner.vm
        try:
            vm.step()
        except ExecutionFault as fault:
            runner.done, runner.fault = True, str(fault)
        finally:
            self.invoker.current = None
        runner.steps += 1
        if runner.done:
            return
        if vm.stopped:
            runner.done = True
            runner.fault = runner.invocation.unreleased()
        elif runner.steps >= STEP_LIMIT:
            runner.done, runner.fault = True, f"more than {STEP_LIMIT} instructions"

    def fingerprint(self) -> tuple[object, ...]:
        """Return everything a future step can depend on, as a hashable value."""
        parts: list[object] = [encode_runtime(self.state)]
        for runner in self.runners:
            vm, inv = runner.vm, runner.invocation
            stack = bytes(vm.memory.region(STACK_REGION << 32))
            held = None if inv.held_lock is None else inv.held_lock.address
            reserved = tuple(sorted((a, r.record_pos, bytes(r.buffer))
                                    for a, r in inv.reservations.items()))
            parts.append((runner.done, runner.fault, vm.pc, tuple(vm.regs), tuple(vm.frames),
                          stack, held, reserved, tuple(sorted(inv.dynptrs.items())),
                          len(inv.regions), inv.records, len(inv.logs)))
        return tuple(parts)


def _is_spin_lock(imm: int, invoker: ReferenceInvoker) -> bool:
    if invoker.profile.name == "solana":
        return imm & 0xFFFFFFFF == murmur3_32(b"bpf_spin_lock")
    return imm == 93


def _maps_bytes(state: RuntimeState) -> str:
    """Return what the programs left behind as one deterministic line: map elements, queue
    contents, ring positions (and a digest of the ring bytes) and account data."""
    parts = []
    for map_id in sorted(state.maps):
        found = state.maps[map_id]
        elements = found.elements
        for key in sorted(elements):
            values = ",".join(cell.value.hex() for cell in elements[key])
            parts.append(f"{map_id}[{key.hex()}]={values}")
        if found.queue:
            parts.append(f"{map_id}.queue=" + ",".join(bytes(v).hex() for v in found.queue))
        ring = found.ringbuf
        if ring is not None and ring.producer_pos:
            digest = hashlib.sha256(bytes(ring.data)).hexdigest()[:16]
            parts.append(f"{map_id}.ring={ring.consumer_pos}/{ring.producer_pos}/{digest}")
    for name in sorted(state.accounts.accounts):
        parts.append(f"{name}={bytes(state.accounts.accounts[name].data).hex()}")
    return " ".join(parts)


class _Explorer:
    """Builds worlds for schedules of one program."""

    def __init__(self, bundle: schema.Bundle, path: str, program: str, invocations: int) -> None:
        if program not in bundle.programs:
            raise InputError(f"interleave: no program {program!r} (the bundle has: "
                             f"{', '.join(bundle.programs)})", file=path)
        hook = bundle.programs[program].hook.on
        if hook not in INPUT_HOOKS:
            raise InputError(f"interleave: program {program!r} runs on {hook!r}; only "
                             "startup, every and watch programs can be interleaved", file=path)
        if not 2 <= invocations <= MAX_INVOCATIONS:
            raise InputError(f"interleave: --invocations must be 2..{MAX_INVOCATIONS}, got "
                             f"{invocations}", file=path)
        self.bundle = bundle
        self.program = program
        self.count = invocations
        self.kind = INPUT_HOOKS[hook]
        self.invoker = ReferenceInvoker(bundle, base_dir=Path(path).parent,
                                        engine="interpreter")
        self.initial = create_runtime_state(bundle)
        self.budget = ComputeUnits(bundle.budgets.per_invocation)

    def world(self) -> _World:
        """Return a fresh world: every invocation at its entry, nothing run."""
        state = copy_state(self.initial)
        world = _World(self.invoker, state)
        loaded = self.invoker.programs[ProgId(self.program)]
        for index in range(self.count):
            item = WorkItem(index, self.kind, FuncRef(ProgId(self.program), Pc(0)), Slot(0))
            inv = Invocation(self.invoker, state, item, Cpu(0), self.budget)
            inv.current = loaded
            inv.memory = self.invoker.new_memory(loaded.program)
            args = inv.entry_args()
            vm = Vm(loaded.program, profile=self.invoker.profile, helpers=self.invoker.registry,
                    memory=inv.memory, compute_limit=int(self.budget),
                    pseudo_resolver=inv.resolve, engine="interpreter")
            _enter(vm, args)
            world.runners.append(_Runner(inv, vm))
        return world

    def replay(self, schedule: Sequence[int]) -> _World:
        """Return the world after running ``schedule`` from the start."""
        world = self.world()
        for index in schedule:
            world.step(index)
        return world


def _enter(vm: Vm, args: tuple[int, ...]) -> None:
    """Set ``vm`` at its entry as :meth:`Vm.run` does, without running."""
    vm.regs[:] = [0] * REGISTER_COUNT
    vm.regs[1:1 + len(args)] = [a & MASK64 for a in args[:5]]
    vm.regs[FRAME_POINTER] = STACK_BASE + vm.profile.stack_frame_size
    vm.memory.stack_top = vm.profile.stack_frame_size
    vm.pc, vm.frames, vm.instructions, vm.units = 0, [], 0, 0
    vm.stopped, vm.base_depth = False, 0


def explore_interleavings(path: str, program: str, *, invocations: int = 2,
                          max_states: int = DEFAULT_MAX_STATES,
                          max_steps: int = DEFAULT_MAX_STEPS,
                          bundle: schema.Bundle | None = None) -> InterleaveResult:
    """Explore every schedule of ``invocations`` copies of ``program`` (see the module doc).

    ``bundle`` is the bundle at ``path`` when the caller has loaded it (not parsed again).

    Stops with ``BOUND-REACHED`` past ``max_states`` distinct states or ``max_steps``
    instructions executed in all.
    """
    if bundle is None:
        bundle = load_bundle(path)
    explorer = _Explorer(bundle, path, program, invocations)
    expected: dict[str, tuple[int, ...]] = {}
    for order in itertools.permutations(range(invocations)):
        steps: list[int] = []
        world = explorer.world()
        for index in order:
            while not world.runners[index].done:
                world.step(index)
                steps.append(index)
                if len(steps) > max_steps:
                    return InterleaveResult(path, program, invocations, "BOUND-REACHED", 0, 0,
                                            f"stopped after {max_steps} instructions")
        faults = [r.fault for r in world.runners if r.fault is not None]
        if faults:
            return InterleaveResult(path, program, invocations, "VIOLATED", 0, 0,
                                    f"a sequential run faults: {faults[0]}", tuple(steps))
        expected.setdefault(_maps_bytes(world.state), tuple(steps))
    seen: set[tuple[object, ...]] = set()
    pending: list[tuple[int, ...]] = [()]
    complete = 0
    work = 0
    while pending:
        schedule = pending.pop()
        work += len(schedule)
        if work > max_steps:
            return InterleaveResult(path, program, invocations, "BOUND-REACHED", len(seen),
                                    complete, f"stopped after {max_steps} instructions")
        world = explorer.replay(schedule)
        key = world.fingerprint()
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > max_states:
            return InterleaveResult(path, program, invocations, "BOUND-REACHED", len(seen),
                                    complete, f"stopped after {max_states} states")
        for runner in world.runners:
            if runner.fault is not None:
                return InterleaveResult(path, program, invocations, "VIOLATED", len(seen),
                                        complete, f"an invocation faults: {runner.fault}",
                                        schedule)
        if all(r.done for r in world.runners):
            complete += 1
            final = _maps_bytes(world.state)
            if final not in expected:
                return InterleaveResult(
                    path, program, invocations, "VIOLATED", len(seen), complete,
                    "not serialisable: the interleaved run ends in a state no sequential "
                    "order reaches (a lost update)", schedule, final, tuple(sorted(expected)))
            continue
        enabled = world.enabled()
        if not enabled:
            return InterleaveResult(path, program, invocations, "VIOLATED", len(seen),
                                    complete, "deadlock: every unfinished invocation waits "
                                    "for a lock", schedule)
        pending.extend((*schedule, i) for i in reversed(enabled))
    return InterleaveResult(path, program, invocations, "HOLDS", len(seen), complete)


__all__ = ["InterleaveResult", "explore_interleavings"]
