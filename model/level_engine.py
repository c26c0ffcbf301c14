"""
Level-vectorised explorer
=========================

The breadth-first search of :func:`arspec.model.engine.explore`, one BFS level at a time
over arrays: a system that also implements :class:`LevelSystem` packs each state into one
64-bit integer code and expands a whole level with array operations (NumPy), so no Python
code runs per state or per transition. Used for models written that way, such as the
scheduler benchmark model (``benchmarks/scheduler_model.py``).

The result is the :class:`~arspec.model.engine.ExplorationResult` the generic explorer
gives for the same system and invariants: the same states numbered in the same order
(successors in ``actions`` order, the first discovery of a state wins), the same parents,
action indices, depths and transitions count, the same verdicts and the same shortest
traces (rebuilt by replaying with the system's scalar ``actions``/``apply`` and checked
against the stored codes). ``tests/model/test_level_engine.py`` compares the two explorers
state by state, including on planted bugs and with ``stop_at_first_violation``.

The invariants are the system's array versions of its scalar ones (same names, one bool
per state or transition); the same tests check them equal to the scalar ones on every
reachable state and transition.

The seen-set is a sorted array of codes (8 bytes per state), merged level by level; the
store adds the parent (4 bytes), the action index (4) and the depth (4).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from arspec.model.engine import (
    ExplorationResult,
    ModelError,
    StateSpace,
    Statistics,
    StoreMode,
    TransitionSystem,
    _finish,
    _Run,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Codes = NDArray[np.uint64]
    Ints = NDArray[np.int64]
    Bools = NDArray[np.bool_]
else:
    Codes = Ints = Bools = Any

S = TypeVar("S")
A = TypeVar("A")


class LevelExpansion(Protocol):
    """The transitions out of one level, in canonical order (by source, then action index).

    ``source[j]`` is the position in the level of transition ``j``'s pre-state, ``index[j]``
    the position of its action in ``actions(pre)``, ``action[j]`` the action as an int, and
    ``post[j]`` the code of the successor.
    """

    source: Ints
    index: Ints
    action: Ints
    post: Codes


class LevelSystem(Protocol):
    """What :func:`explore_levels` needs beyond a :class:`TransitionSystem`."""

    def initial_codes(self) -> Codes:
        """Return the codes of ``initial_states()``, in order."""
        ...

    def expand_level(self, codes: Codes) -> LevelExpansion:
        """Return every transition out of the states ``codes`` (canonical order)."""
        ...

    def check_states(self, codes: Codes) -> list[tuple[str, Bools]]:
        """Return ``(name, holds per state)`` for every state invariant."""
        ...

    def check_transitions(self, pre: Codes, action: Ints, post: Codes,
                          ) -> list[tuple[str, Bools]]:
        """Return ``(name, holds per transition)`` for every transition invariant."""
        ...

    def decode(self, code: int) -> Any:
        """Return the scalar state of a code (``encode(decode(c))`` is its identity)."""
        ...


class _CodeKeys(Sequence[bytes]):
    """``space.keys`` of a level exploration: the encoding of state ``i``, decoded lazily."""

    def __init__(self, codes: Codes, system: Any) -> None:
        self.codes = codes
        self.system = system

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        key: bytes = self.system.encode(self.system.decode(int(self.codes[i])))
        return key


def explore_levels(system: TransitionSystem[S, A], *, stop_at_first_violation: bool = True,
                   ) -> ExplorationResult[S, A]:
    """Explore ``system`` (also a :class:`LevelSystem`) breadth-first, a level at a time.

    Checks the system's state and transition invariants (``check_states`` and
    ``check_transitions``); no bounds, no edges, no reductions.

    :param system: the model.
    :param stop_at_first_violation: as in :func:`~arspec.model.engine.explore`: the search
        ends right after the first violating state or transition, with the states stored
        up to it.
    :raises ModelError: if the system is not a :class:`LevelSystem`.
    """
    import numpy as np

    level_sys: LevelSystem = system  # type: ignore[assignment]
    if not all(hasattr(system, m) for m in ("initial_codes", "expand_level", "check_states",
                                            "check_transitions", "decode")):
        raise ModelError("explore_levels needs a LevelSystem (initial_codes, expand_level, "
                         "check_states, check_transitions, decode)")
    start = time.perf_counter()
    frontier = np.asarray(level_sys.initial_codes(), dtype=np.uint64)
    _, first = np.unique(frontier, return_index=True)
    frontier = frontier[np.sort(first)]
    names = [n for n, _ in level_sys.check_states(frontier[:0])]
    names += [n for n, _ in level_sys.check_transitions(
        frontier[:0], np.zeros(0, np.int64), frontier[:0])]
    run: _Run[S, A] = _Run(names)
    found = run.found
    parents = [np.full(len(frontier), -1, np.int64)]
    indices = [np.sort(first).astype(np.int64)]
    levels = [frontier]
    seen = np.sort(frontier)
    count = len(frontier)
    transitions = 0
    stop = False
    for name, ok in level_sys.check_states(frontier):
        if not ok.all():
            found.setdefault(name, ("state", int(np.argmin(ok)), -1))
    stop = bool(found) and stop_at_first_violation
    first_id = 0
    level = 0
    while len(frontier) and not stop:
        exp = level_sys.expand_level(frontier)
        src, idx, post = exp.source, exp.index, exp.post
        n_trans = len(post)
        new, new_pos = compute_new_states(seen, post)
        firsts = get_first_violations(level_sys, found, frontier, exp, new, new_pos,
                                      first_id, count)
        if firsts and stop_at_first_violation:
            # the sequential explorer stops right after the first violating transition
            # (having stored its successor); every transition of that source is counted
            cut = min(f[0] for f in firsts)
            firsts = [f for f in firsts if f[0] == cut]
            new = new[new_pos <= cut]
            n_trans = int(np.searchsorted(src, src[cut], side="right"))
            new_pos = new_pos[new_pos <= cut]
            stop = True
        for _, name, kind, sid, index in firsts:
            found[name] = (kind, sid, index)
        transitions += n_trans
        parents.append(first_id + src[new_pos])
        indices.append(idx[new_pos])
        levels.append(new)
        first_id += len(frontier)
        count += len(new)
        seen = np.sort(np.concatenate((seen, np.sort(new))), kind="stable")
        frontier = new
        level += 1
        if stop:
            break
    space, max_depth = compute_space(system, levels, parents, indices)
    space.complete = not stop and not len(frontier)
    elapsed = time.perf_counter() - start
    memory = int(seen.nbytes) + 4 * 3 * count
    stats = Statistics(count, transitions, max_depth, elapsed, memory)
    return _finish(system, space, run, stats, None)


def compute_new_states(seen: Any, post: Any) -> tuple[Any, Any]:
    """Return the codes in ``post`` not in the sorted ``seen``, in order of first discovery,
    and the position in ``post`` of each one's first occurrence."""
    import numpy as np

    uniq, first_pos = np.unique(post, return_index=True)
    at = np.searchsorted(seen, uniq)
    at[at == len(seen)] = 0
    fresh = seen[at] != uniq if len(seen) else np.ones(len(uniq), bool)
    order = np.argsort(first_pos[fresh], kind="stable")
    return uniq[fresh][order], first_pos[fresh][order]


def get_first_violations(level_sys: LevelSystem, found: dict[str, tuple[str, int, int]],
                         frontier: Any, exp: Any, new: Any, new_pos: Any, first_id: int,
                         count: int) -> list[tuple[int, str, str, int, int]]:
    """Return the first violation in this level of each invariant not yet violated, as
    (transition position, name, kind, state id, action index); a new state's position is
    the one of the transition that discovered it."""
    import numpy as np

    src, idx, act, post = exp.source, exp.index, exp.action, exp.post
    firsts: list[tuple[int, str, str, int, int]] = []
    for name, ok in level_sys.check_transitions(frontier[src], act, post):
        if name not in found and not ok.all():
            j = int(np.argmin(ok))
            firsts.append((j, name, "transition", first_id + int(src[j]), int(idx[j])))
    for name, ok in level_sys.check_states(new):
        if name not in found and not ok.all():
            k = int(np.argmin(ok))
            firsts.append((int(new_pos[k]), name, "state", count + k, -1))
    return firsts


def compute_space(system: TransitionSystem[S, A], levels: list[Any], parents: list[Any],
                  indices: list[Any]) -> tuple[StateSpace, int]:
    """Return the state space of the explored ``levels`` (codes, parents, action indices,
    depths) and its greatest depth."""
    import numpy as np

    codes = np.concatenate(levels)
    depth = np.concatenate([np.full(len(lv), d, np.int64) for d, lv in enumerate(levels)])
    space = StateSpace(store=StoreMode.EXACT)
    space.keys = _CodeKeys(codes, system)  # type: ignore[assignment]
    space.parent = array("i", np.concatenate(parents).astype(np.int32).tobytes())
    space.action_index = array("i", np.concatenate(indices).astype(np.int32).tobytes())
    space.depth = array("i", depth.astype(np.int32).tobytes())
    return space, int(depth.max()) if len(codes) else 0


__all__: Sequence[str] = ["LevelExpansion", "LevelSystem", "explore_levels"]
