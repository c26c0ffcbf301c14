"""
The machine's shared shape
==========================

What the interpreter (:mod:`~arspec.reference.vm.vm`), its fast path
(:mod:`~arspec.reference.vm.fastpath`, :mod:`~arspec.reference.vm.translate`) and the helpers
agree on: the :class:`Machine` protocol the translated units and the fast loop run against,
a saved call :data:`Frame`, how a call enters a frame (:func:`enter_frame`) and which
instruction fields no encoding allows (:func:`instruction_problem`).

The interpreter's :class:`~arspec.reference.vm.vm.Vm` is the one machine; stating its shape
here lets the fast path import no interpreter, so the imports inside ``vm/`` go one way:
``vm`` -> ``fastpath`` -> ``translate`` -> ``machine`` -> ``helpers``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from arspec.reference.isa.instructions import (
    FRAME_POINTER,
    REGISTER_COUNT,
    Alu,
    Atomic,
    Callx,
    Endian,
    Instruction,
    Jump,
    LegacyLoad,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Program,
    Reg,
    Store,
)
from arspec.reference.vm.helpers import HelperMachine, HelperRegistry
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.profiles import STACK_BASE, Profile
from arspec.reference.vm.trace import Tracer
from arspec.spec.errors import CallDepthExceeded
from arspec.spec.spinlock import HeldLock, check_local_call_allowed

#: A saved call frame: return pc, r6, r7, r8, r9, r10.
Frame = tuple[int, int, int, int, int, int]
PseudoResolver = Callable[[int, LoadImm64], int]


class CallStack(Protocol):
    """What entering a call frame reads and writes."""

    profile: Profile
    memory: Memory
    regs: list[int]
    pc: int
    frames: list[Frame]
    held_lock: HeldLock | None


class Machine(HelperMachine, CallStack, Protocol):
    """The machine a translated unit and the fast loop run against (the interpreter's
    :class:`~arspec.reference.vm.vm.Vm`)."""

    program: Program
    helpers: HelperRegistry
    tracer: Tracer | None
    pseudo_resolver: PseudoResolver | None
    instructions: int
    stopped: bool
    base_depth: int

    @property
    def _ops(self) -> Sequence[tuple[Callable[[Any, Any], None], Any]]:
        """The interpreter's handler and instruction per slot."""

    def step(self) -> None:
        """Meter, trace and execute the instruction at ``pc``."""

    def run_interpreter(self) -> None:
        """Step until the current base frame exits."""

    def push_frame(self, target: int, return_pc: int) -> None:
        """Enter a call frame at ``target`` (:func:`enter_frame`)."""


def call_depth_fault(pc: int, profile: Profile) -> CallDepthExceeded:
    """Return the fault for a call at ``pc`` that needs more than ``max_frames`` frames."""
    return CallDepthExceeded(pc, f"more than {profile.max_frames} frames")


def enter_frame(self: CallStack, target: int, return_pc: int) -> None:
    """Enter a call frame at ``target``; the frame limit faults at the current pc.

    The interpreter's ``push_frame``; the fast path reads its frame rule off it."""
    if self.held_lock is not None:
        check_local_call_allowed(self.held_lock, self.pc)
    if len(self.frames) + 1 >= self.profile.max_frames:
        raise call_depth_fault(self.pc, self.profile)
    r = self.regs
    self.frames.append((return_pc, r[6], r[7], r[8], r[9], r[10]))
    r[FRAME_POINTER] += self.profile.frame_stride
    self.memory.stack_top = r[FRAME_POINTER] - STACK_BASE
    self.pc = target


def _register_problem(reads: tuple[int, ...], writes: tuple[int, ...]) -> str | None:
    for r in reads + writes:
        if not 0 <= r < REGISTER_COUNT:
            return f"register r{r} does not exist"
    if FRAME_POINTER in writes:
        return "r10 is read-only"
    return None


def instruction_problem(insn: Instruction) -> str | None:
    """Return why ``insn`` cannot run (a field no encoding allows), or ``None``."""
    if isinstance(insn, Alu):
        src = (insn.src.index,) if isinstance(insn.src, Reg) else ()
        return _register_problem(src, (insn.dst,))
    if isinstance(insn, Neg | Endian | LoadImm64):
        if isinstance(insn, Endian) and insn.width not in (16, 32, 64):
            return f"invalid byte-swap width {insn.width}"
        return _register_problem((), (insn.dst,))
    if isinstance(insn, MovSx):
        if insn.bits not in ((8, 16, 32) if insn.is64 else (8, 16)):
            return f"invalid sign-extension width {insn.bits}"
        return _register_problem((insn.src,), (insn.dst,))
    if isinstance(insn, Load | Store | Atomic | LegacyLoad):
        return _memory_problem(insn)
    if isinstance(insn, Jump):
        src = (insn.src.index,) if isinstance(insn.src, Reg) else ()
        return _register_problem((insn.dst, *src), ())
    if isinstance(insn, Callx):
        return _register_problem((insn.reg,), ())
    return None


def _memory_problem(insn: Load | Store | Atomic | LegacyLoad) -> str | None:
    sizes = (4, 8) if isinstance(insn, Atomic) else (1, 2, 4) if isinstance(
        insn, LegacyLoad) else (1, 2, 4, 8)
    if insn.size not in sizes:
        return f"invalid access size {insn.size}"
    if isinstance(insn, Load):
        return _register_problem((insn.src,), (insn.dst,))
    if isinstance(insn, Store):
        value = (insn.value.index,) if isinstance(insn.value, Reg) else ()
        return _register_problem((insn.dst, *value), ())
    if isinstance(insn, Atomic):
        return _register_problem((insn.dst, insn.src), (insn.src,) if insn.fetch else ())
    return _register_problem((insn.src,), ())
