"""
Native tier
===========

The fast engine's tier below Python: a C loop (the extension
:mod:`arspec.reference.vm.native_c`, built by ``pip install -e .`` from ``native_c.c``) that
runs a program's *happy path* and leaves everything else to the Python engine, **before** the
instruction, with registers, pc, counters, call frames and the live stack end written back.
The interpreter's own step then runs that instruction, so faults, limits, logs and results
are the interpreter's.

What it runs, prepared here per (program, profile) as a packed instruction array
(:func:`prepare`): ALU, byte-order and sign-extension instructions (the profile's choices
decided here: SBPFv0's sign-extended ``add32``/``sub32``/``mul32``, faulting division),
loads, stores and atomics, ``lddw`` of a constant or code address, jumps, bpf-to-bpf calls
and ``exit``, and calls of light helpers
(:attr:`HelperSpec.light <arspec.reference.vm.helpers.HelperSpec.light>`) and metered ones
(:attr:`HelperSpec.metered <arspec.reference.vm.helpers.HelperSpec.metered>`: before the
call the machine's instruction and unit counters are brought up to date, as the Python tier
does, since the helper charges through ``vm.consume``; the budget left is read back after).

What it hands to Python: invalid instructions and jumps to non-instructions, ``callx``,
kfuncs, legacy packet loads, map forms of ``lddw``; a division or modulo by zero
(or signed ``MIN / -1``) in a profile where it faults; an access that is not wholly inside a
region's bytes as :class:`~arspec.reference.vm.memory.Memory` maps them (plain, gapped and
framed regions, read-only ones for loads only), an access to a region holding a guarded range,
and every access when the memory is a subclass with its own ``load``/``store``; an
instruction the budget does not cover (or a helper whose cost does not fit); a call past the
frame limit (:func:`~arspec.reference.vm.translate.probe`); a helper that is neither
light nor metered, unknown or refused. An ``exit`` into a frame the machine holds (pushed
before the run) pops it as ``Vm.pop_frame`` does. A light or metered helper that raises (a
fault, or the budget running out in what it charges) leaves the machine as the interpreter
does (the call counted and charged, pc at the call).

Turning it off: ``ARSPEC_NATIVE=0`` in the environment, or :func:`set_active`;
``python -m arspec.reference.vm.native`` says which tier runs. Under ``CI=true`` a missing
extension is a test failure (``tests/test_native.py``), never a silent fallback.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Final

from arspec.reference.isa.instructions import (
    Alu,
    Atomic,
    Call,
    CallLocal,
    Endian,
    EndianOp,
    Exit,
    Imm,
    Instruction,
    Ja,
    Jump,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Program,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.vm import alu
from arspec.reference.vm.helpers import HelperContext
from arspec.reference.vm.machine import Machine, instruction_problem
from arspec.reference.vm.memory import GuardedMemory, Memory
from arspec.reference.vm.profiles import SLOT_SIZE, STACK_BASE, Profile
from arspec.reference.vm.translate import probe

native_c: ModuleType | None
try:
    from arspec.reference.vm import native_c
    IMPORT_ERROR: str | None = None
except ImportError as error:  # not built: the pure-Python tier runs
    native_c = None
    IMPORT_ERROR = str(error)

_PACK: Final = struct.Struct("<BBBBiQ")
M64: Final = (1 << 64) - 1
#: A native run that hands off after fewer instructions than this is *short*; after
#: :data:`DEMOTE` short runs from one entry pc (each one from the second at that pc in one
#: run of the machine), that pc runs the Python tier instead (the round trip costs more
#: than the instructions it saves there).
SHORT: Final = 128
DEMOTE: Final = 8

_active = os.environ.get("ARSPEC_NATIVE", "1") != "0"


def available() -> bool:
    """Return whether the extension is built and imports."""
    return native_c is not None


def active() -> bool:
    """Return whether the fast engine uses the native tier (built and not turned off)."""
    return _active and native_c is not None


def set_active(flag: bool) -> None:
    """Turn the native tier on or off for this process (``ARSPEC_NATIVE=0`` starts it off)."""
    global _active
    _active = flag


@contextmanager
def tier(native: bool) -> Iterator[None]:
    """Run the block with the native tier on or off, then restore the previous choice."""
    global _active
    saved = _active
    _active = native
    try:
        yield
    finally:
        _active = saved


def describe() -> str:
    """Return one line naming the tier the fast engine uses, and why."""
    if native_c is None:
        return f"fast engine tier: python (native extension not built: {IMPORT_ERROR})"
    if not _active:
        return "fast engine tier: python (native tier turned off: ARSPEC_NATIVE=0)"
    return f"fast engine tier: native ({native_c.__file__})"


@dataclass(frozen=True)
class Prepared:
    """A program made ready for the native loop under one profile."""

    #: Packed instructions, one per slot plus two past the end (hand-offs).
    code: bytes
    #: ``(pc, imm)`` of every ``call imm``, in site order.
    sites: tuple[tuple[int, int], ...]
    #: insn cost, r10 step per call, frames that may be saved, stack base, division faults.
    params: tuple[int, int, int, int, int]
    #: Slots the native loop runs (not hand-offs).
    native_slots: int


def _opcodes() -> dict[str, int]:
    if native_c is None:
        return {}
    names: tuple[str, ...] = native_c.OPCODES
    return {name: number for number, name in enumerate(names)}


OPCODES: Final = _opcodes()
IMM_REG: Final = 11
_HANDOFF: Final = (0, 0, 0, 0, 0, 0)


def _operand(src: Reg | Imm, is64: bool) -> tuple[int, int]:
    """Return (register, imm) of an operand: an immediate reads the scratch register."""
    if isinstance(src, Reg):
        return src.index, 0
    return IMM_REG, alu.immediate(src.value, is64)


def _target(program: Program, pc: int, offset: int) -> int | None:
    target = pc + 1 + offset
    if 0 <= target < len(program.slots) and program.slots[target] is not None:
        return target
    return None


def _alu_name(insn: Alu, profile: Profile) -> str:
    width = "64" if insn.is64 else "32"
    if (not insn.is64 and profile.sign_extend_alu32_arith
            and insn.op in alu.SIGN_EXTENDED_ALU32):
        return f"{insn.op.name}32SX"
    return f"{insn.op.name}{width}"


def encode(program: Program, pc: int, insn: Instruction | None, profile: Profile,
           sites: list[tuple[int, int]]) -> tuple[int, int, int, int, int, int]:
    """Return the packed fields (op, dst, src, size, off, imm) of ``insn`` at ``pc``, or a
    hand-off; a ``call imm`` appends its site to ``sites``."""
    if insn is None or instruction_problem(insn) is not None:
        return _HANDOFF
    op = OPCODES
    if isinstance(insn, Alu):
        src, imm = _operand(insn.src, insn.is64)
        return op[_alu_name(insn, profile)], insn.dst, src, 0, 0, imm
    if isinstance(insn, Neg):
        return op["NEG64" if insn.is64 else "NEG32"], insn.dst, 0, 0, 0, 0
    if isinstance(insn, MovSx):
        return op["MOVSX64" if insn.is64 else "MOVSX32"], insn.dst, insn.src, insn.bits, 0, 0
    if isinstance(insn, Endian):
        name = "LE" if insn.op is EndianOp.LE else "SWAP"
        return op[name], insn.dst, 0, insn.width, 0, 0
    if isinstance(insn, Load):
        return (op["LDXS" if insn.signed else "LDX"], insn.dst, insn.src, insn.size,
                insn.offset, 0)
    if isinstance(insn, Store):
        src, imm = _operand(insn.value, True)
        return op["STX"], insn.dst, src, insn.size, insn.offset, imm
    if isinstance(insn, LoadImm64):
        if insn.pseudo is Pseudo.IMM64:
            return op["LDDW"], insn.dst, 0, 0, 0, insn.value & M64
        if insn.pseudo is Pseudo.CODE_ADDR:
            value = profile.code_base + SLOT_SIZE * (pc + 1 + insn.imm)
            return op["LDDW"], insn.dst, 0, 0, 0, value & M64
        return _HANDOFF
    if isinstance(insn, Ja | Jump | CallLocal):
        target = _target(program, pc, insn.offset)
        if target is None:
            return _HANDOFF
        if isinstance(insn, Ja):
            return op["JA"], 0, 0, 0, target, 0
        if isinstance(insn, CallLocal):
            return op["CALL_LOCAL"], 0, 0, 0, target, 0
        src, imm = _operand(insn.src, insn.is64)
        name = f"J{insn.cond.name}{'64' if insn.is64 else '32'}"
        return op[name], insn.dst, src, 0, target, imm
    if isinstance(insn, Call):
        sites.append((pc, insn.imm))
        return op["CALL"], 0, 0, 0, len(sites) - 1, 0
    if isinstance(insn, Exit):
        return op["EXIT"], 0, 0, 0, 0, 0
    if isinstance(insn, Atomic):
        return op[f"A{insn.op.name}"], insn.dst, insn.src, insn.size, insn.offset, int(insn.fetch)
    return _HANDOFF


def prepare(program: Program, profile: Profile) -> Prepared:
    """Return ``program`` packed for the native loop under ``profile``."""
    sites: list[tuple[int, int]] = []
    fields = [encode(program, pc, insn, profile, sites) for pc, insn in enumerate(program.slots)]
    fields += [_HANDOFF, _HANDOFF]
    rule = probe(profile)
    params = (profile.insn_cost, rule.r10_step, rule.max_saved, STACK_BASE,
              int(profile.division_faults))
    code = b"".join(_PACK.pack(*f) for f in fields)
    return Prepared(code, tuple(sites), params, sum(1 for f in fields if f[0]))


Site = tuple[object, HelperContext, int, bool] | None


def helper_sites(prepared: Prepared, vm: Machine) -> tuple[Site, ...]:
    """Return, per call site, ``(function, context, cost, metered)`` of the light or metered
    helper the machine's registry has there, or ``None`` (the call goes to Python)."""
    out: list[Site] = []
    profile = vm.profile
    for pc, imm in prepared.sites:
        spec = vm.helpers.lookup(imm, profile)
        if (spec is None or not (spec.light or spec.metered) or vm.tracer is not None
                or (not spec.deterministic and profile.name == "solana")):
            out.append(None)
        else:
            out.append((spec.fn, HelperContext(vm.memory, pc, profile, vm), spec.cost,
                        spec.metered))
    return tuple(out)


def windowed(memory: Memory) -> bool:
    """Return whether the native loop may access ``memory``'s bytes itself: its ``load`` and
    ``store`` are :class:`Memory`'s (guarded ranges excepted, their regions are left out)."""
    return type(memory) is Memory or type(memory) is GuardedMemory


def run(vm: Machine, prepared: Prepared, sites: tuple[Site, ...]) -> int:
    """Run ``vm`` natively from its pc until its base frame exits (``vm.stopped``) or an
    instruction is left to Python (``vm.pc``); return the instructions run natively."""
    assert native_c is not None
    ran: int = native_c.run(vm, prepared.code, sites, prepared.params, windowed(vm.memory))
    return ran


def main() -> int:
    """Print which tier the fast engine uses."""
    print(describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
