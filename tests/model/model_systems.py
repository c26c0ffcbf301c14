"""Small hand-made transition systems for the explorer tests (expected traces known by hand)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from arspec.model.engine import Invariant, TransitionInvariant

REPO = Path(__file__).resolve().parents[2]


def load_scheduler_module() -> ModuleType:
    """Import benchmarks/scheduler_model.py (benchmarks/ is not an installed package)."""
    name = "arspec_bench_scheduler_model"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks/scheduler_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Counter:
    """0..limit, steps +1 and +2 (and reset to 0): value v is first reached after ceil(v/2)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def initial_states(self) -> Sequence[int]:
        return [0]

    def actions(self, state: int) -> Sequence[str]:
        acts = [a for a, d in (("inc1", 1), ("inc2", 2)) if state + d <= self.limit]
        return [*acts, "reset"] if state else acts

    def apply(self, state: int, action: str) -> int:
        return 0 if action == "reset" else state + int(action[-1])

    def encode(self, state: int) -> bytes:
        return state.to_bytes(4, "little")

    def describe(self, action: str) -> str:
        return f"{action}()"

    def alphabet(self) -> Sequence[str]:
        return ["inc1", "inc2", "reset"]

    def independent(self, a: str, b: str) -> bool:
        return False

    def visible(self, a: str) -> bool:
        return True


def below(limit: int) -> Invariant[int]:
    return Invariant(f"below-{limit}", lambda v: v < limit)


Proc = tuple[int, int, int]  # (pc, flag, think counter); pc 0 idle, 1 checked, 2 critical
MutexState = tuple[Proc, ...]


class BrokenMutex:
    """N processes; each checks that no other flag is set, *then* sets its own (race).

    Planted bug: two processes both check before either sets its flag. Every process also
    has a private "think" counter (up to ``think - 1``), invisible and independent of all
    other processes' actions.
    """

    def __init__(self, procs: int = 2, think: int = 3, fixed: bool = False) -> None:
        self.procs = procs
        self.think = think
        self.fixed = fixed  # check-and-set in one atomic step: correct

    def initial_states(self) -> Sequence[MutexState]:
        return [tuple((0, 0, 0) for _ in range(self.procs))]

    def actions(self, state: MutexState) -> Sequence[tuple[str, int]]:
        acts: list[tuple[str, int]] = []
        for i, (pc, _, _) in enumerate(state):
            others_free = all(p[1] == 0 for j, p in enumerate(state) if j != i)
            if pc == 0 and others_free:
                acts.append(("check", i))
            elif pc == 1 and (not self.fixed or others_free):
                acts.append(("enter", i))
            elif pc == 2:
                acts.append(("leave", i))
            if state[i][2] < self.think - 1:
                acts.append(("think", i))
        return acts

    def apply(self, state: MutexState, action: tuple[str, int]) -> MutexState:
        kind, i = action
        pc, flag, t = state[i]
        new = {"check": (1, flag, t), "enter": (2, 1, t), "leave": (0, 0, t),
               "think": (pc, flag, t + 1)}[kind]
        return (*state[:i], new, *state[i + 1:])

    def encode(self, state: MutexState) -> bytes:
        return bytes(v for proc in state for v in proc)

    def describe(self, action: tuple[str, int]) -> str:
        return f"{action[0]}(p={action[1]})"

    def alphabet(self) -> Sequence[tuple[str, int]]:
        return [(k, i) for i in range(self.procs) for k in ("check", "enter", "leave", "think")]

    def independent(self, a: tuple[str, int], b: tuple[str, int]) -> bool:
        if a == b:
            return False
        if a[0] == "think" or b[0] == "think":
            return a[1] != b[1] or a[0] != b[0]
        if a[1] == b[1]:
            return False
        # check/enter(fixed) read the others' flags; enter and leave write the own flag.
        writers = {"enter", "leave"}
        readers = {"check", "enter"} if self.fixed else {"check"}
        return not ((a[0] in writers and b[0] in readers)
                    or (b[0] in writers and a[0] in readers))

    def visible(self, a: tuple[str, int]) -> bool:
        return a[0] in ("enter", "leave")

    def canonicalize(self, state: MutexState) -> MutexState:
        return tuple(sorted(state))


def mutual_exclusion() -> Invariant[MutexState]:
    return Invariant("mutual-exclusion", lambda s: sum(p[0] == 2 for p in s) <= 1)


QueueState = tuple[int, int, tuple[int, ...], int]  # next to send, next expected, channel, bad


class LossyQueue:
    """A sender puts 0..messages-1 into a FIFO channel; the channel may drop its head."""

    def __init__(self, messages: int = 3, capacity: int = 2, lossy: bool = True) -> None:
        self.messages = messages
        self.capacity = capacity
        self.lossy = lossy

    def initial_states(self) -> Sequence[QueueState]:
        return [(0, 0, (), 0)]

    def actions(self, state: QueueState) -> Sequence[str]:
        sent, _, chan, _ = state
        acts = []
        if sent < self.messages and len(chan) < self.capacity:
            acts.append("send")
        if chan:
            acts.append("recv")
            if self.lossy:
                acts.append("drop")
        return acts

    def apply(self, state: QueueState, action: str) -> QueueState:
        sent, expected, chan, bad = state
        if action == "send":
            return sent + 1, expected, (*chan, sent), bad
        if action == "drop":
            return sent, expected, chan[1:], bad
        got = chan[0]
        return sent, got + 1, chan[1:], bad | (got != expected)

    def encode(self, state: QueueState) -> bytes:
        sent, expected, chan, bad = state
        return bytes((sent, expected, bad, len(chan), *chan))

    def describe(self, action: str) -> str:
        return f"{action}()"


def in_order() -> Invariant[QueueState]:
    return Invariant("fifo-no-loss", lambda s: s[3] == 0)


TimerState = tuple[int, int, tuple[int, ...], int]  # slot, used, due (0 = idle), lost


class BudgetTimers:
    """Timers due in slot 1 with a per-slot CU budget; the buggy tick expires what did not fit.

    A correct tick defers unrun due timers (they stay due); ``drop_unrun`` loses them.
    """

    def __init__(self, costs: Sequence[int], budget: int, slots: int = 3,
                 drop_unrun: bool = True) -> None:
        self.costs = tuple(costs)
        self.budget = budget
        self.slots = slots
        self.drop_unrun = drop_unrun

    def initial_states(self) -> Sequence[TimerState]:
        return [(1, 0, tuple(1 for _ in self.costs), 0)]

    def actions(self, state: TimerState) -> Sequence[str]:
        slot, used, due, _ = state
        runnable = [i for i, d in enumerate(due) if 0 < d <= slot]
        if runnable and used + self.costs[runnable[0]] <= self.budget:
            return [f"fire{runnable[0]}"]
        return ["tick"] if slot < self.slots else []

    def apply(self, state: TimerState, action: str) -> TimerState:
        slot, used, due, lost = state
        if action == "tick":
            if self.drop_unrun and any(0 < d <= slot for d in due):
                return slot + 1, 0, tuple(0 if 0 < d <= slot else d for d in due), 1
            return slot + 1, 0, due, lost
        i = int(action[4:])
        return slot, used + self.costs[i], (*due[:i], 0, *due[i + 1:]), lost

    def encode(self, state: TimerState) -> bytes:
        slot, used, due, lost = state
        return bytes((slot, used, lost, *due))

    def describe(self, action: str) -> str:
        return f"{action}()"


def no_lost_timer() -> Invariant[TimerState]:
    return Invariant("no-lost-timer", lambda s: s[3] == 0)


def budget_respected(budget: int) -> TransitionInvariant[TimerState, str]:
    return TransitionInvariant("per-slot-budget", lambda pre, a, post: post[1] <= budget)


ReplicaState = tuple[int, int, tuple[str, ...]]  # slot, x, log of delivered events


class Replica:
    """Events arrive in slot 1. ``set`` events are last-writer-wins: order-dependent."""

    def __init__(self, events: Sequence[tuple[str, int]]) -> None:
        self.events = tuple(events)

    def initial_states(self) -> Sequence[ReplicaState]:
        return [(0, 0, ())]

    def actions(self, state: ReplicaState) -> Sequence[tuple[str, int]]:
        slot, _, log = state
        if slot == 0:
            return [("tick", 0)]
        return [e for e in self.events if f"{e[0]}{e[1]}" not in log]

    def apply(self, state: ReplicaState, action: tuple[str, int]) -> ReplicaState:
        slot, x, log = state
        kind, v = action
        if kind == "tick":
            return slot + 1, x, log
        entry = f"{kind}{v}"
        x = v if kind == "set" else x + v
        return slot, x, tuple(sorted((*log, entry)))

    def encode(self, state: ReplicaState) -> bytes:
        return repr(state).encode()

    def describe(self, action: tuple[str, int]) -> str:
        return f"{action[0]}({action[1]})"

    def is_external(self, action: tuple[str, int]) -> bool:
        return action[0] != "tick"

    def components(self, state: ReplicaState) -> list[tuple[str, object]]:
        return [("slot", state[0]), ("x", state[1]), ("log", state[2])]


Client = tuple[int, int, int]  # pending0, pending1, turn


class Server:
    """Two clients request service; client 0 re-requests at once after being served.

    ``policy``: "priority" serves client 1 only when client 0 is not pending (starves 1 even
    under weak fairness); "choice" may serve either pending client (starves 1 only without
    fairness); "round-robin" alternates when both are pending (never starves).
    """

    def __init__(self, policy: str) -> None:
        self.policy = policy

    def initial_states(self) -> Sequence[Client]:
        return [(0, 0, 0)]

    def actions(self, state: Client) -> Sequence[tuple[str, int]]:
        p0, p1, turn = state
        acts: list[tuple[str, int]] = []
        if not p0:
            acts.append(("request", 0))
        if not p1:
            acts.append(("request", 1))
        serve = [i for i, p in enumerate((p0, p1)) if p]
        if self.policy == "priority" and p0:
            serve = [0]
        if self.policy == "round-robin" and p0 and p1:
            serve = [turn]
        acts += [("serve", i) for i in serve]
        return acts

    def apply(self, state: Client, action: tuple[str, int]) -> Client:
        p = [state[0], state[1]]
        kind, i = action
        p[i] = 1 if kind == "request" else 0
        turn = 1 - i if kind == "serve" else state[2]
        return p[0], p[1], turn

    def encode(self, state: Client) -> bytes:
        return bytes(state)

    def describe(self, action: tuple[str, int]) -> str:
        return f"{action[0]}(client={action[1]})"


def server_pending(state: Client) -> tuple[int, ...]:
    return tuple(i for i in (0, 1) if state[i])
