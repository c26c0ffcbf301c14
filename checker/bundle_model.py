"""
The bundle executor's data
==========================

What :class:`~arspec.checker.objects.BundleExecutor` is given and learns: the bundle's maps
(:class:`MapInfo`), the object regions it allocates (:class:`MemObject`), how an entry starts
(:class:`EntryKind`), the program's :class:`BundleContext` and the :class:`BundleFacts` it
collects for the replay and the bundle graphs. Plain data, so the executor's helper modules
(:mod:`~arspec.checker.iterators`, :mod:`~arspec.checker.callbacks`,
:mod:`~arspec.checker.lockdyn`, :mod:`~arspec.checker.syscalls`) can name it without importing
the executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arspec.reference.runtime.solana_syscalls import get_solana_call_table
from arspec.reference.vm.profiles import Profile
from arspec.spec.helpers import HELPER_TABLE, HelperDef


@dataclass(frozen=True)
class MapInfo:
    """What the verifier needs of one bundle map."""

    index: int
    name: str
    type: str
    key_size: int
    value_size: int
    max_entries: int
    timer: int | None = None
    wq: int | None = None
    #: prog_array slots: index -> program name.
    entries: tuple[tuple[int, str], ...] = ()
    #: Offset of the value's ``bpf_spin_lock``, if it has one.
    spin_lock: int | None = None

    @property
    def single(self) -> bool:
        """Return whether every lookup returns the same element (a 1-entry array)."""
        return self.type in ("array", "percpu_array") and self.max_entries == 1


@dataclass(frozen=True)
class MemObject:
    """One object region: ``size`` bytes, writability, what it is and its map."""

    region: int
    size: int
    writable: bool
    what: str
    map_index: int | None = None
    shared: bool = False
    #: Number of the reservation (for ring records), else ``None``.
    ref: int | None = None
    #: The array index this region is the element of, when the lookup's key was a literal.
    element: int | None = None


@dataclass(frozen=True)
class EntryKind:
    """How one entry point starts (the runtime's entry registers).

    ``kind`` is ``"input"`` (startup/every/watch: an empty input), ``"record"`` (a ring
    subscriber: a read-only record of at most ``max_record`` bytes), ``"async"`` (a timer or
    work-queue callback of map ``map_index``), ``"tail"`` (a tail-call target: an opaque
    context) or ``"loop"`` (a ``bpf_loop`` callback: index and an opaque context).
    """

    kind: str
    map_index: int | None = None
    max_record: int = 0


@dataclass(frozen=True)
class CallEdge:
    """A tail call or callback installation seen in the code: ``kind`` and its target."""

    pc: int
    kind: str
    #: ``(program index, pc)`` of a callback, or ``None`` for a tail call.
    target: tuple[int, int] | None = None
    #: Prog-array slot names a tail call may reach.
    programs: tuple[str, ...] = ()
    #: A ``bpf_loop`` callback unrolled at the call (it needs no entry of its own).
    inlined: bool = False


@dataclass
class BundleContext:
    """The bundle facts one program's verification needs."""

    profile: Profile
    maps: tuple[MapInfo, ...]
    program_index: int
    map_indices: tuple[int, ...] | None = None
    #: CPUs of the bundle's preset: ``bpf_get_smp_processor_id`` returns one of them.
    num_cpus: int = 1
    #: The preset's ``bpf_max_loops``: a larger ``bpf_loop`` count fails with ``-E2BIG``.
    max_loops: int = 1 << 23

    def helper_for(self, imm: int) -> HelperDef | None:
        """Return the contract row a ``call imm`` reaches in this profile.

        In ``solana`` that is
        :func:`~arspec.reference.runtime.solana_syscalls.get_solana_call_table`:
        helper names, the sol_* aliases (their target's row) and the Agave syscalls.
        """
        if self.profile.name == "solana":
            found = get_solana_call_table().get(imm & 0xFFFFFFFF)
            return None if found is None else found[1]
        return next((row for row in HELPER_TABLE if row.id == imm), None)


@dataclass
class Reservation:
    """One ``bpf_ringbuf_reserve`` call copy: its record region."""

    key: str
    region: int


@dataclass
class BundleFacts:
    """What the executor learnt for the replay and the bundle graphs."""

    lookups: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, int] = field(default_factory=dict)
    buffers: dict[str, list[Any]] = field(default_factory=dict)
    tail_decisions: dict[str, Any] = field(default_factory=dict)
    edges: list[CallEdge] = field(default_factory=list)
    direct_values: dict[int, int] = field(default_factory=dict)
    #: Pcs of nondeterministic helper calls (clock, random, CPU id) on some path.
    nondeterministic: list[int] = field(default_factory=list)
    #: ``(pc, result term)`` of every nondeterministic helper call.
    nondet_results: list[tuple[int, Any]] = field(default_factory=list)
