"""
Where a bundle state's time goes
================================

Explores a bundle as ``bench_explore_bundle.py`` does (fingerprint store, partial order,
symmetry, invocation cache, every check) with a clock around each part the explorer calls,
and prints the microseconds per state each part costs, exclusive of the parts it calls:

* ``step`` -- the spec's scheduler step (:meth:`RuntimeSystem.apply` without what follows);
* ``state copy`` -- :func:`~arspec.model.runtime_system.copy_runtime_state`;
* ``invocation cache`` -- :class:`~arspec.model.runtime_system.CachingInvoker` (lookups and
  recording) and ``program runs`` -- the reference runtime's invocations inside it;
* ``encode``, ``canonicalize``, ``checks`` (state and transition invariants), ``partial
  order``, ``actions``, ``frontier packing``;
* ``engine`` -- what is left: the breadth-first loop, the fingerprints, the seen-set and
  the parent links, less what the clocks themselves cost (calibrated on a no-op, shown as
  its own row).

It then explores a system of integers with the same number of states and about the same
number of transitions on the same engine and settings, the engine's own floor, and prints the
budget per state that a given speed-up over the explorer before compact states (commit
``e788bc2``, figures in ``bench_explore_bundle.py``) leaves.

Usage::

    python benchmarks/bench_explore_parts.py [BUNDLE] [--slots 20] [--target 10]
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_explore_bundle import BEFORE  # type: ignore[import-not-found]  # noqa: E402

from arspec.model import runtime_system  # noqa: E402
from arspec.model.bundle_system import build_system, compile_checks  # noqa: E402
from arspec.model.engine import (  # noqa: E402
    Bounds,
    FrontierCodec,
    Invariant,
    StoreMode,
    TransitionInvariant,
    explore,
)
from arspec.model.explore_bundle import check_explore_input  # noqa: E402
from arspec.model.runtime_system import CachingInvoker, EnvironmentOrder  # noqa: E402
from arspec.reference.runtime.runtime import ReferenceInvoker  # noqa: E402
from arspec.spec.loader import load_bundle  # noqa: E402


class ExclusiveClock:
    """Sums, per part, the time spent inside wrapped callables minus the wrapped callables
    they call themselves."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._inner: list[float] = []

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``fn`` timed as ``part``."""
        inner = self._inner

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            inner.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                nested = inner.pop()
                spent = time.perf_counter() - start
                self.seconds[part] += spent - nested
                self.calls[part] += 1
                if inner:
                    inner[-1] += spent

        return timed


def calibrate(rounds: int = 200_000) -> float:
    """Return the seconds one clocked call adds to the caller's time (a wrapped no-op against
    a bare one, best of three)."""
    def bare() -> None:
        return None

    probe = ExclusiveClock()
    wrapped = probe.wrap("probe", bare)
    costs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            wrapped()
        middle = time.perf_counter()
        for _ in range(rounds):
            bare()
        costs.append((middle - start) - (time.perf_counter() - middle))
    return max(min(costs) / rounds, 0.0)


def explore_timed(bundle_path: str, slots: int) -> tuple[int, int, float, ExclusiveClock]:
    """Explore the bundle with every part clocked; return states, transitions, the wall
    time of the exploration and the clock."""
    bundle = load_bundle(bundle_path)
    horizon = check_explore_input(bundle, bundle_path, slots, None, None)
    system = build_system(bundle, bundle_path, horizon, compile_checks(bundle), cache=True)
    states, transitions = system.build_invariants()
    clock = ExclusiveClock()
    # Class and module attributes: the system calls these by those names.
    saved = (runtime_system.copy_runtime_state, CachingInvoker.__call__,
             ReferenceInvoker.__call__)
    runtime_system.copy_runtime_state = clock.wrap(
        "state copy", runtime_system.copy_runtime_state)
    CachingInvoker.__call__ = clock.wrap(  # type: ignore[method-assign]
        "invocation cache", CachingInvoker.__call__)
    ReferenceInvoker.__call__ = clock.wrap(  # type: ignore[method-assign]
        "program runs", ReferenceInvoker.__call__)
    system.apply = clock.wrap("step", system.apply)  # type: ignore[method-assign]
    system.encode = clock.wrap("encode", system.encode)  # type: ignore[method-assign]
    system.actions = clock.wrap("actions", system.actions)  # type: ignore[method-assign]
    order = EnvironmentOrder(system)
    order.select = clock.wrap("partial order", order.select)  # type: ignore[method-assign]
    timed_states = [Invariant(inv.name, clock.wrap("checks", inv.holds)) for inv in states]
    timed_steps = [TransitionInvariant(inv.name, clock.wrap("checks", inv.holds))
                   for inv in transitions]
    codec = FrontierCodec(clock.wrap("frontier packing", system.pack_state),
                          clock.wrap("frontier packing", system.unpack_state))
    try:
        start = time.perf_counter()
        result = explore(system, invariants=timed_states, transition_invariants=timed_steps,
                         bounds=Bounds(), stop_at_first_violation=False, ample=order,
                         canonicalize=clock.wrap("canonicalize", system.canonicalize),
                         store=StoreMode.FINGERPRINT,
                         frontier_state=clock.wrap("frontier packing", system.compact),
                         frontier_codec=codec)
        seconds = time.perf_counter() - start
    finally:
        runtime_system.copy_runtime_state = saved[0]
        CachingInvoker.__call__ = saved[1]  # type: ignore[method-assign]
        ReferenceInvoker.__call__ = saved[2]  # type: ignore[method-assign]
    return result.stats.states, result.stats.transitions, seconds, clock


class IntegerSystem:
    """``n`` integer states, a fork every ``fork`` states: the engine's work without a
    model."""

    def __init__(self, n: int, fork: int) -> None:
        self.n = n
        self.fork = fork

    def initial_states(self) -> Sequence[int]:
        """State 0."""
        return (0,)

    def actions(self, state: int) -> Sequence[int]:
        """One action, two at every ``fork``-th state."""
        return (1, 2) if state % self.fork == 0 else (1,)

    def apply(self, state: int, action: int) -> int:
        """The next integer, or a jump."""
        return (state + 1) % self.n if action == 1 else (state * 7 + 13) % self.n

    def encode(self, state: int) -> bytes:
        """Eight bytes."""
        return struct.pack("<q", state)

    def describe(self, action: int) -> str:
        """The action's number."""
        return str(action)


def engine_floor(states: int, transitions: int) -> tuple[int, float]:
    """Explore an :class:`IntegerSystem` of ``states`` states with about ``transitions``
    transitions; return its states and CPU seconds."""
    extra = max(transitions - states, 1)
    system = IntegerSystem(states, max(states // extra, 1))
    check: Invariant[int] = Invariant("non-negative", lambda s: s >= 0)
    cpu = time.process_time()
    result = explore(system, invariants=[check], bounds=Bounds(),
                     stop_at_first_violation=False, store=StoreMode.FINGERPRINT)
    return result.stats.states, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "examples/pairs_trading.yaml"))
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--target", type=float, default=10.0,
                        help="speed-up over e788bc2 whose per-state budget to print")
    args = parser.parse_args(argv)
    states, transitions, seconds, clock = explore_timed(args.bundle, args.slots)
    per_state = 1e6 / states
    parts = dict(clock.seconds)
    calls = sum(clock.calls.values())
    parts["clocks (calibrated)"] = calls * calibrate()
    parts["engine"] = seconds - sum(parts.values())
    name = Path(args.bundle).name
    print(f"{name}, {args.slots} slots: {states:,} states, {transitions:,} transitions, "
          f"{seconds:.2f} s clocked ({states / seconds:,.0f} states/s)")
    print(f"{'part':<18} {'us/state':>9} {'share':>6} {'calls/state':>12}")
    for part, spent in sorted(parts.items(), key=lambda item: -item[1]):
        per = clock.calls.get(part, 0) / states
        shown = f"{per:12.2f}" if part in clock.calls else f"{'':12}"
        print(f"{part:<18} {spent * per_state:9.1f} {100 * spent / seconds:5.1f}% {shown}")
    floor_states, floor_cpu = engine_floor(states, transitions)
    print(f"engine floor (integers, same engine and settings): "
          f"{floor_cpu * 1e6 / floor_states:.1f} us/state")
    before = BEFORE.get((name, args.slots))
    if before is not None:
        rate = before[0] / before[1]
        print(f"e788bc2: {rate:,.0f} states/s; {args.target:g}x is {rate * args.target:,.0f} "
              f"states/s, a budget of {1e6 / (rate * args.target):.1f} us/state for "
              f"everything above; now {seconds * per_state:.1f} us/state (clocked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
