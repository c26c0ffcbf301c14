"""
Spin locks and dynptrs in a counterexample replay
=================================================

The replay's stub helpers (:mod:`~arspec.checker.bundle_replay`) run the lock and dynptr
helpers as the runtime does (:mod:`arspec.reference.runtime.runtime_helpers`), on the replay's
object regions: the same faults for a call with a lock held, a wrong lock pointer, an unlock
of a lock not held, a dynptr that is not initialised or was changed, a re-initialised live
ring dynptr; and at the end, whether a lock or a ring dynptr is still held. The replay's
machine checks what the runtime's does
(:func:`~arspec.reference.runtime.runtime_helpers.apply_guards`):
a bpf-to-bpf call or return with the lock held, a load or store of a lock's bytes
(:func:`guard_locks`), a store over a live ring dynptr. The records a
ring dynptr points at are the executor's object regions, and a ``bpf_dynptr_data`` slice is
its own object region, as the verifier models them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from arspec.reference.runtime.runtime_helpers import apply_guards, load_dynptr, write_dynptr
from arspec.reference.vm.helpers import HelperContext
from arspec.reference.vm.memory import Memory
from arspec.spec.dynptr import (
    NULL_DYNPTR,
    Dynptr,
    DynptrType,
    check_read,
    check_reserve_dynptr,
    check_write,
    compute_data,
    compute_dynptr_bytes,
    process_from_mem,
)
from arspec.spec.errno import EINVAL, compute_r0
from arspec.spec.errors import HelperFault
from arspec.spec.spinlock import (
    BPF_SPIN_LOCK_SIZE,
    LOCK_ACCESS_REASON,
    HeldLock,
    check_call_allowed,
    check_lock_free,
    check_unlock,
)

from .lockdyn import DYNPTR_HELPERS, LOCK_HELPERS, lock_regions

if TYPE_CHECKING:
    from .objects import BundleExecutor


def guard_locks(executor: BundleExecutor, memory: Memory) -> None:
    """Guard the lock bytes of every map-value region, as the runtime maps its values."""
    for region, offset in lock_regions(executor):
        low = (region << 32) + offset
        memory.add_guard(low, low + BPF_SPIN_LOCK_SIZE, loads=True, reason=LOCK_ACCESS_REASON)


@dataclass
class ReplayLocks:
    """The lock and dynptr state of one replay."""

    executor: BundleExecutor
    held: HeldLock | None = None
    dynptrs: dict[int, tuple[bytes, bool]] = field(default_factory=dict)

    def before(self, pc: int, name: str) -> None:
        """Fault like the runtime when a helper other than the unlock runs with a lock held."""
        check_call_allowed(self.held, name, pc)

    def handles(self, name: str) -> bool:
        """Return whether this replay state runs the helper ``name``."""
        return name in LOCK_HELPERS or name in DYNPTR_HELPERS

    def call(self, ctx: HelperContext, key: str, name: str, regs: tuple[int, ...],
             value: int) -> int:
        """Run one lock or dynptr helper; ``value`` is the model's result for the call."""
        try:
            return self.run(ctx, key, name, regs, value)
        finally:
            apply_guards(ctx.vm, self.held,
                         sorted(a for a, (_, ring) in self.dynptrs.items() if ring))

    def run(self, ctx: HelperContext, key: str, name: str, regs: tuple[int, ...],
            value: int) -> int:
        """Run one helper (see :meth:`call`)."""
        r1, r2, r3, r4, r5 = regs
        if name in LOCK_HELPERS:
            self.lock(ctx, name, r1)
            return value
        if name == "bpf_dynptr_from_mem":
            size = r2 & 0xFFFFFFFF
            ctx.memory.write_bytes(ctx.pc, r1, ctx.memory.read_bytes(ctx.pc, r1, size))
            result, ptr = process_from_mem(r1, size, r3)
            write_dynptr(self.dynptrs, ctx, r4, ptr, ring=False)
            return compute_r0(result)
        if name == "bpf_ringbuf_reserve_dynptr":
            size = r2 & 0xFFFFFFFF
            error = check_reserve_dynptr(size, r3)
            region = self.executor.facts.reservations.get(key)
            if error or value != 0 or region is None:
                write_dynptr(self.dynptrs, ctx, r4, NULL_DYNPTR, ring=True)
                return compute_r0(error or -EINVAL)
            write_dynptr(self.dynptrs, ctx, r4, Dynptr(region << 32, size, 0, DynptrType.RINGBUF),
                         ring=True)
            return 0
        if name in ("bpf_ringbuf_submit_dynptr", "bpf_ringbuf_discard_dynptr"):
            _, ring = load_dynptr(self.dynptrs, ctx, r1)
            if not ring:
                raise HelperFault(ctx.pc, f"{r1:#x} is a local dynptr, not a ring-buffer one")
            del self.dynptrs[r1]
            ctx.memory.write_bytes(ctx.pc, r1, compute_dynptr_bytes(NULL_DYNPTR))
            return value
        if name == "bpf_dynptr_read":
            ptr, _ = load_dynptr(self.dynptrs, ctx, r3)
            length, offset = r2 & 0xFFFFFFFF, r4 & 0xFFFFFFFF
            ctx.memory.read_bytes(ctx.pc, r1, length)
            result = check_read(ptr, offset, length, r5)
            if result == 0:
                data = ctx.memory.read_bytes(ctx.pc, ptr.data + ptr.offset + offset, length)
                ctx.memory.write_bytes(ctx.pc, r1, data)
            return compute_r0(result)
        if name == "bpf_dynptr_write":
            ptr, _ = load_dynptr(self.dynptrs, ctx, r1)
            length, offset = r4 & 0xFFFFFFFF, r2 & 0xFFFFFFFF
            data = ctx.memory.read_bytes(ctx.pc, r3, length)
            result = check_write(ptr, offset, length, r5)
            if result == 0:
                ctx.memory.write_bytes(ctx.pc, ptr.data + ptr.offset + offset, data)
            return compute_r0(result)
        ptr, _ = load_dynptr(self.dynptrs, ctx, r1)
        region = self.executor.slices.get(key)
        found = compute_data(ptr, r2 & 0xFFFFFFFF, r3 & 0xFFFFFFFF)
        return 0 if found == 0 or region is None else region << 32

    def lock(self, ctx: HelperContext, name: str, address: int) -> None:
        """``bpf_spin_lock`` / ``bpf_spin_unlock`` on the executor's map-value regions."""
        obj = self.executor.objects.get(address >> 32)
        info = None if obj is None or obj.map_index is None \
            else self.executor.context.maps[obj.map_index]
        if info is None or info.spin_lock is None or address & 0xFFFFFFFF != info.spin_lock \
                or not obj or not obj.what.startswith("value of map"):
            raise HelperFault(ctx.pc, f"{address:#x} is not the bpf_spin_lock of a map value")
        if name == "bpf_spin_lock":
            check_lock_free(self.held, ctx.pc)
            self.held = HeldLock(address, info.name)
        else:
            check_unlock(self.held, address, ctx.pc)
            self.held = None

    def live_rings(self) -> int:
        """Return how many ring-buffer dynptrs are still live."""
        return sum(1 for _, ring in self.dynptrs.values() if ring)
