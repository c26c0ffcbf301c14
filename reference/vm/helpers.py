"""
Helpers
=======

Helper functions a program calls with ``call imm`` (and kfuncs, ``call`` with ``src = 2``).
A helper receives r1..r5 and returns the new r0, or raises an
:class:`~arspec.spec.errors.ExecutionFault`.

Lookup depends on the profile: ``linux`` finds a helper by its numeric id (Linux
``include/uapi/linux/bpf.h``, ``enum bpf_func_id``); ``solana`` finds it by ``murmur3_32(name)``
compared with the immediate as an unsigned 32-bit value (anza-xyz/sbpf ``src/ebpf.rs``).
:func:`test_helpers` is a small deterministic set for conformance tests, modelled on the names
and meanings of uBPF's test helpers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.profiles import Profile
from arspec.spec.errors import HelperFault
from arspec.spec.spinlock import HeldLock

_MASK64 = (1 << 64) - 1


class HelperMachine(Protocol):
    """What a helper may use of the machine that calls it (the interpreter's
    :class:`~arspec.reference.vm.vm.Vm`)."""

    profile: Profile
    memory: Memory
    regs: list[int]
    pc: int
    units: int
    compute_limit: int
    logs: list[str]
    #: The ``bpf_spin_lock`` held and whether the fast engine must interpret (set by the
    #: lock and dynptr helpers, see :attr:`Vm.guarded <arspec.reference.vm.vm.Vm.guarded>`).
    held_lock: HeldLock | None
    guarded: bool

    def consume(self, units: int, pc: int) -> None:
        """Charge ``units`` more; past the limit, spend everything and fault at ``pc``."""

    def code_address_to_pc(self, address: int) -> int | None:
        """Return the pc of the instruction at code ``address``, or ``None``."""

    def call_function(self, pc: int, args: tuple[int, ...]) -> int:
        """Run the local function at ``pc`` in a fresh frame with r1.. = ``args``; return r0."""


@dataclass
class HelperContext:
    """What a helper may see: the memory, the calling pc, the profile and the machine."""

    memory: Memory
    pc: int
    profile: Profile
    vm: HelperMachine

    def charge(self, units: int) -> None:
        """Charge ``units`` extra compute units (a length-dependent cost, for instance)."""
        self.vm.consume(units, self.pc)

    def log(self, line: str) -> None:
        """Append ``line`` to the machine's log."""
        self.vm.logs.append(line)


class HelperFunction(Protocol):
    """``fn(ctx, r1, r2, r3, r4, r5) -> r0``."""

    def __call__(self, ctx: HelperContext, r1: int, r2: int, r3: int, r4: int,
                 r5: int) -> int: ...


@dataclass(frozen=True)
class HelperSpec:
    """One helper: its id, its name, the function, its fixed cost and determinism.

    ``cost`` compute units are charged on top of the call instruction's own unit. A
    ``light`` helper uses only its arguments, ``ctx.pc``, ``ctx.profile``, the bytes of
    ``ctx.memory`` (loads and stores; no region, guard or frame change),
    :meth:`HelperContext.log` and state outside the machine that only helpers use (the
    runtime's maps, timers and logs), never ``ctx.vm`` otherwise nor
    :meth:`HelperContext.charge`: the fast engine calls it without writing its registers and
    counters back to the machine first. A ``metered`` helper may use what a light one does
    and :meth:`HelperContext.charge` too (a cost that depends on its arguments or on
    memory): the Python tier writes its counters back before calling it, and a tier that
    does not must call it as any other helper, so it is not ``light``.
    """

    id: int
    name: str
    fn: HelperFunction
    cost: int = 0
    deterministic: bool = True
    light: bool = False
    metered: bool = False

    def __post_init__(self) -> None:
        if self.light and self.metered:
            raise ValueError(f"helper {self.name!r} is light and metered: a metered helper "
                             "is not light")


class HelperRegistry:
    """Helpers by id, plus kfuncs by BTF id; iteration is in id order."""

    def __init__(self, specs: tuple[HelperSpec, ...] = ()) -> None:
        self._by_id: dict[int, HelperSpec] = {}
        self._by_hash: dict[int, HelperSpec] = {}
        self._kfuncs: dict[int, HelperSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: HelperSpec) -> None:
        """Add ``spec``; a duplicate id, or a name hash that collides, raises ValueError."""
        if spec.id in self._by_id:
            raise ValueError(f"helper id {spec.id} is already registered "
                             f"({self._by_id[spec.id].name})")
        digest = murmur3_32(spec.name.encode())
        if digest in self._by_hash:
            raise ValueError(f"helper name {spec.name!r} hashes like "
                             f"{self._by_hash[digest].name!r} ({digest:#x})")
        self._by_id[spec.id] = spec
        self._by_hash[digest] = spec

    def register_kfunc(self, spec: HelperSpec) -> None:
        """Add a kfunc, keyed by ``spec.id`` as its BTF id."""
        if spec.id in self._kfuncs:
            raise ValueError(f"kfunc BTF id {spec.id} is already registered")
        self._kfuncs[spec.id] = spec

    def lookup(self, imm: int, profile: Profile) -> HelperSpec | None:
        """Return the helper a ``call imm`` reaches in ``profile``, or ``None``."""
        if profile.name == "solana":
            return self._by_hash.get(imm & 0xFFFFFFFF)
        return self._by_id.get(imm)

    def lookup_kfunc(self, btf_id: int) -> HelperSpec | None:
        """Return the kfunc with this BTF id, or ``None``."""
        return self._kfuncs.get(btf_id)

    def __iter__(self) -> Iterator[HelperSpec]:
        return iter(sorted(self._by_id.values(), key=lambda s: s.id))

    def __len__(self) -> int:
        return len(self._by_id)


def _gather_bytes(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    result = 0
    for value in (r1, r2, r3, r4, r5):
        result = (result << 8) | (value & 0xFF)
    return result


def _memfrob(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    data = ctx.memory.read_bytes(ctx.pc, r1, r2)
    ctx.memory.write_bytes(ctx.pc, r1, bytes(b ^ 42 for b in data))
    return 0


def _no_op(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return 0


def _sqrti(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return math.isqrt(r1)


def _c_string(ctx: HelperContext, address: int) -> bytes:
    out = bytearray()
    while True:
        byte = ctx.memory.load(ctx.pc, (address + len(out)) & _MASK64, 1)
        if byte == 0:
            return bytes(out)
        out.append(byte)


def _strcmp_ext(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    a, b = _c_string(ctx, r1) + b"\0", _c_string(ctx, r2) + b"\0"
    for x, y in zip(a, b, strict=False):
        if x != y:
            return (x - y) & _MASK64
    return 0


def _abort(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    raise HelperFault(ctx.pc, "abort called")


def _call_back(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Call the code address in r1 once per value 0..r2-1 with r1 = index, r2 = r3; sum r0."""
    pc = ctx.vm.code_address_to_pc(r1)
    if pc is None:
        raise HelperFault(ctx.pc, f"callback address {r1:#x} is not an instruction")
    if r2 > 64:
        raise HelperFault(ctx.pc, f"callback count {r2} exceeds 64")
    total = 0
    for i in range(r2):
        total += ctx.vm.call_function(pc, (i, r3))
    return total & _MASK64


def test_helpers() -> HelperRegistry:
    """Return the conformance-test helpers (ids fixed; names hash to sBPF ids).

    ==  ===============  ==============================================================
    id  name             result
    ==  ===============  ==============================================================
    1   gather_bytes     low byte of r1..r5 packed big-end first: ``0x0102030405``
    2   memfrob          XORs ``r2`` bytes at ``r1`` with 42; returns 0
    3   no_op            0
    4   sqrti            integer square root of r1
    5   strcmp_ext       C ``strcmp`` of the strings at r1 and r2 (negative as u64)
    6   abort            faults (sBPF's ``abort`` syscall name)
    7   expensive_no_op  0, costing 100 extra compute units
    8   call_back        runs the function at code address r1 for i in 0..r2-1, sums r0
    ==  ===============  ==============================================================
    """
    return HelperRegistry((
        HelperSpec(1, "gather_bytes", _gather_bytes, light=True),
        HelperSpec(2, "memfrob", _memfrob, light=True),
        HelperSpec(3, "no_op", _no_op, light=True),
        HelperSpec(4, "sqrti", _sqrti, light=True),
        HelperSpec(5, "strcmp_ext", _strcmp_ext, light=True),
        HelperSpec(6, "abort", _abort, light=True),
        HelperSpec(7, "expensive_no_op", _no_op, cost=100, light=True),
        HelperSpec(8, "call_back", _call_back),
    ))


# The name is part of the contract; keep pytest from collecting it when a test imports it.
test_helpers.__test__ = False  # type: ignore[attr-defined]


def _return_r1(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return r1


def plugin_helpers() -> HelperRegistry:
    """Return the helpers the bpf_conformance plugin offers in ``linux``: helper 5 returns
    r1 (the suite's ``callx`` tests call it, as uBPF's plugin offers it)."""
    return HelperRegistry((HelperSpec(5, "return_r1", _return_r1),))
