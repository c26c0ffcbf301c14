"""
Bundle memory model and helper contracts
========================================

:class:`BundleExecutor` extends the symbolic executor of :mod:`~arspec.checker.symbolic`
to programs of a bundle: map references, map values, ring-buffer records, the entry
registers of each hook kind and the helper contracts of :mod:`arspec.spec.helpers`.

Every bounded object the program may reach outside its stack (a map value, a reserved
record, a callback's key copy) gets its own 4 GiB *object region* ``OBJECT_REGION + n``,
with its size and writability in :attr:`BundleExecutor.objects`; an access through such a
pointer must stay inside ``[0, size)`` of its region. A single-element array map has one
shared region (every lookup returns the same element), an array lookup with a literal index
gets that element's region; every other lookup gets a fresh region per executed call.
Contents are unknown at entry. Aliasing is handled soundly: a store through a map-value
pointer forgets every other region of its map it may alias (elements with different
literal indexes never do), and ``bpf_map_update_elem`` / ``delete`` forget the regions of
their map.

"Pointer or NULL" results (``bpf_map_lookup_elem``, ``bpf_ringbuf_reserve``) are
``ite(null, 0, base)`` with the kind ``NULLPTR`` on the NULL side, so a use that no null
check dominates is a satisfiable :class:`~arspec.checker.assertions.NotNull` violation.
The contract lets every lookup return NULL; the runtime does so for an array only when the
index is out of range. That run-time fact goes to
:attr:`~arspec.checker.symbolic.Executor.realisable`: a missing null check after a lookup
with an index in range is still a finding, but an UNKNOWN one, since no run faults there.
Deleting from an array always fails with ``-EINVAL`` (a path condition).
Reservations are tracked as references (:attr:`~arspec.checker.symbolic.State.refs`): each
``submit``/``discard`` must release a held one, and none may be held at ``exit`` or at a
successful tail call.
"""

from __future__ import annotations

from typing import Any

from arspec.reference.isa.instructions import Exit, Imm, JmpCond, Jump, LoadImm64, Pseudo
from arspec.reference.vm.profiles import (
    PROGRAM_REGION,
    SLOT_SIZE,
)
from arspec.spec.conventions import get_map_handle

from . import solver as z
from .assertions import (
    RecordsReleased,
)
from .bundle_model import BundleContext as BundleContext
from .bundle_model import BundleFacts as BundleFacts
from .bundle_model import CallEdge as CallEdge
from .bundle_model import EntryKind as EntryKind
from .bundle_model import MapInfo as MapInfo
from .bundle_model import MemObject as MemObject
from .bundle_model import Reservation as Reservation
from .cfg import Function
from .iterators import iteration_bound
from .lockdyn import (
    check_exit,
    check_local_call,
    check_local_return,
)
from .objhelpers import MODELLED as MODELLED
from .objhelpers import PER_CPU_HELPERS as PER_CPU_HELPERS
from .objhelpers import WRONG_MAP_FAULTS as WRONG_MAP_FAULTS
from .objhelpers import BundleHelpers
from .objmemory import ARRAY_TYPES as ARRAY_TYPES
from .objmemory import BYTEWISE_LIMIT as BYTEWISE_LIMIT
from .objmemory import OBJECT_REGION as OBJECT_REGION
from .symbolic import (
    MAPREF,
    OBJECT,
    SCALAR,
    Context,
    Iters,
    State,
    Value,
)


class BundleExecutor(BundleHelpers):
    """The symbolic executor for one entry point of a bundle program: the bundle's memory
    (:class:`~arspec.checker.objmemory.BundleMemory`), its helper contracts
    (:class:`~arspec.checker.objhelpers.BundleHelpers`) and the control flow they change
    (local calls, null checks, map references in ``lddw``)."""

    # -- objects ----------------------------------------------------------------------------

    # -- entry ------------------------------------------------------------------------------

    # -- memory rules ---------------------------------------------------------------------

    def step(self, function: Function, pc: int, state: State, ctx: Context,
             iters: Iters) -> tuple[list[tuple[int, State]], State | None]:
        """Execute ``pc`` (remembered for findings raised inside stores)."""
        self.current_pc = pc
        if ctx and self.local_frames and self.local_frames[-1] == len(ctx) \
                and isinstance(self.program.slots[pc], Exit):
            # The return of a bpf-to-bpf function (not a callback's, whose frame the
            # runtime's helper opened).
            check_local_return(self, pc, state)
        return super().step(function, pc, state, ctx, iters)

    def exec_local_call(self, pc: int, state: State, ctx: Context, iters: Iters) -> None:
        """A bpf-to-bpf call, refused while a lock is held (so is its return)."""
        check_local_call(self, pc, state)
        self.local_frames.append(len(ctx) + 1)
        try:
            super().exec_local_call(pc, state, ctx, iters)
        finally:
            self.local_frames.pop()

    # -- null checks ----------------------------------------------------------------------

    def exec_jump(self, function: Function, pc: int, insn: Jump,
                  state: State) -> list[tuple[int, State]]:
        """Split on a jump; a null check also settles "pointer or NULL" registers."""
        value = state.regs[insn.dst].value
        condition = z.null_condition(value) if self.null_conditions else None
        tests_zero = (insn.cond in (JmpCond.EQ, JmpCond.NE) and isinstance(insn.src, Imm)
                      and insn.src.value == 0)
        succs = super().exec_jump(function, pc, insn, state)
        if condition is None or not tests_zero \
                or condition.get_id() not in self.null_conditions:
            return succs
        target = pc + 1 + insn.offset
        for successor, branch in succs:
            is_null = (successor == target) == (insn.cond is JmpCond.EQ)
            if target == pc + 1:
                continue
            branch.regs = [Value(z.assume(r.value, condition, is_null),
                                 r.kind if isinstance(r.kind, int)
                                 else _literal_kind(z.assume(r.kind, condition, is_null)))
                           for r in branch.regs]
            branch.refs = [z.assume(r, condition, is_null) for r in branch.refs]
        return succs

    # -- lddw -----------------------------------------------------------------------------

    def load_pseudo(self, pc: int, insn: LoadImm64, state: State) -> bool:
        """Load a map reference, a map value address or a code address."""
        if insn.pseudo is Pseudo.CODE_ADDR:
            target = pc + 1 + insn.imm
            state.regs[insn.dst] = Value(z.const((PROGRAM_REGION << 32) + SLOT_SIZE * target),
                                         SCALAR)
            return True
        index = insn.imm
        mapping = self.context.map_indices
        if mapping is not None and insn.pseudo in (Pseudo.MAP_IDX, Pseudo.MAP_IDX_VALUE):
            index = mapping[index] if 0 <= index < len(mapping) else -1
        if not 0 <= index < len(self.context.maps):
            return False
        info = self.context.maps[index]
        if insn.pseudo in (Pseudo.MAP_FD, Pseudo.MAP_IDX):
            state.regs[insn.dst] = Value(z.const(get_map_handle(index)), MAPREF)
            return True
        if insn.pseudo in (Pseudo.MAP_VALUE, Pseudo.MAP_IDX_VALUE) \
                and info.type in ("array", "percpu_array"):
            obj = self.map_value_object(info)
            self.facts.direct_values[pc] = obj.region
            state.regs[insn.dst] = Value(z.const((obj.region << 32) + insn.next_imm), OBJECT)
            return True
        return False

    # -- helpers --------------------------------------------------------------------------

    def iteration_bound(self, state: State, limit: int) -> int | None:
        """Bound a loop by the steps its number iterators have left."""
        return iteration_bound(self, state, limit) if self.iterators else None

    def on_exit(self, pc: int, state: State) -> None:
        """No reservation may still be held when the program (or its chain link) ends."""
        check_exit(self, pc, state)
        if not state.refs:
            return
        held = z.or_(*state.refs)
        self.require(pc, RecordsReleased(), state, held, held)


def _literal_kind(kind: Any) -> Any:
    """Return a kind term as a Python constant when it became a literal."""
    value = z.value_of(kind)
    return kind if value is None else value


__all__ = ["OBJECT_REGION", "BundleContext", "BundleExecutor", "BundleFacts", "CallEdge",
           "EntryKind", "MapInfo", "MemObject"]
