"""
Assertions
==========

What must hold before an instruction runs, as data (the PREVAIL split): each instruction
kind maps to a list of small frozen assertions, and the symbolic layer discharges each one
with the solver. ``str(assertion)`` is the rendered condition that ends every message, and
:attr:`Assertion.message` the short capitalised phrase in front of it, so a finding reads
``5: Possible division by zero (r2 != 0)``.

The rules, per instruction: every register read must be initialised; a load, store or atomic
needs a pointer base, an access inside the region it points into (the live stack frames
below ``r10``, or the input bytes ``[INPUT_BASE, INPUT_BASE + len)``) and, for stack reads,
initialised bytes; in a profile where division faults, a divisor must be non-zero and a
signed division must not be ``MIN / -1``; a helper must exist (and be deterministic in the
consensus profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    CallKfunc,
    Callx,
    Endian,
    Exit,
    Instruction,
    Jump,
    LegacyLoad,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.vm.profiles import Profile

from .verdict import Property

_DIVISIONS = frozenset({AluOp.DIV, AluOp.SDIV, AluOp.MOD, AluOp.SMOD})


def _signed(offset: int) -> str:
    return f"+{offset}" if offset >= 0 else str(offset)


@dataclass(frozen=True)
class Initialized:
    """Register ``reg`` holds a value written by the program or the entry convention."""

    reg: int
    message: ClassVar[str] = "Read of an uninitialised register"
    property: ClassVar[Property] = Property.DETERMINISM

    def __str__(self) -> str:
        return f"r{self.reg}.type != uninit"


@dataclass(frozen=True)
class TypeIsPointer:
    """Register ``reg`` (a memory access base) is a stack or input pointer."""

    reg: int
    message: ClassVar[str] = "Possible dereference of a non-pointer"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"r{self.reg}.type in {{stack, input}}"


@dataclass(frozen=True)
class ValidAccess:
    """``size`` bytes at ``reg + offset`` lie inside the region ``reg`` points into."""

    reg: int
    offset: int
    size: int
    write: bool
    message: ClassVar[str] = "Possible out-of-bounds access"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"valid_access(r{self.reg}.offset{_signed(self.offset)}, width={self.size})"


@dataclass(frozen=True)
class ContextAccess:
    """The program type lets ``size`` bytes at ``reg + offset`` of its context be accessed.

    The rule is :func:`arspec.spec.contexts.get_allowed_field`; ``reg`` must be the
    context pointer unmodified, and a store must write a scalar.
    """

    reg: int
    offset: int
    size: int
    write: bool
    program_type: str
    message: ClassVar[str] = "Context access not allowed"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        what = "write" if self.write else "read"
        return (f"{self.program_type}_ctx_{what}(r{self.reg}{_signed(self.offset)}, "
                f"width={self.size})")


@dataclass(frozen=True)
class LinuxRule:
    """A load-time rule of the Linux verifier that a program of a declared type must keep.

    The rules are listed in :data:`arspec.spec.contexts.LINUX_RULES`; breaking one makes
    no arspec run fault, so the finding is never REFUTED, but nothing is PROVED either.
    """

    rule: str
    reg: int
    message: ClassVar[str] = "Linux would refuse to load this"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"{self.rule}(r{self.reg})"


@dataclass(frozen=True)
class InitializedStack:
    """The ``size`` stack bytes at ``reg + offset`` were written before this read."""

    reg: int
    offset: int
    size: int
    message: ClassVar[str] = "Possible read of uninitialised stack"
    property: ClassVar[Property] = Property.DETERMINISM

    def __str__(self) -> str:
        return f"initialised(r{self.reg}.offset{_signed(self.offset)}, width={self.size})"


@dataclass(frozen=True)
class ValidDivisor:
    """The divisor (register ``reg``, or the immediate ``imm``) is not zero."""

    reg: int | None
    imm: int | None = None
    is64: bool = True
    message: ClassVar[str] = "Possible division by zero"
    property: ClassVar[Property] = Property.DIVISION

    def __str__(self) -> str:
        width = "" if self.is64 else "w"
        return f"{width}r{self.reg} != 0" if self.reg is not None else f"{self.imm} != 0"


@dataclass(frozen=True)
class NoDivisionOverflow:
    """A signed division or modulo is not ``MIN / -1``."""

    dst: int
    src: int | None
    imm: int | None
    is64: bool
    message: ClassVar[str] = "Possible signed division overflow"
    property: ClassVar[Property] = Property.DIVISION

    def __str__(self) -> str:
        bits = 64 if self.is64 else 32
        divisor = f"r{self.src}" if self.src is not None else str(self.imm)
        return f"not (r{self.dst} == INT{bits}_MIN and {divisor} == -1)"


@dataclass(frozen=True)
class HelperExists:
    """``call imm`` reaches a helper registered for the profile."""

    imm: int
    message: ClassVar[str] = "Call to an unknown helper"
    property: ClassVar[Property] = Property.CONTROL

    def __str__(self) -> str:
        return f"helper {self.imm & 0xFFFFFFFF:#x} exists"


@dataclass(frozen=True)
class HelperDeterministic:
    """The helper ``name`` is deterministic (required by the consensus profile)."""

    name: str
    message: ClassVar[str] = "Nondeterministic helper"
    property: ClassVar[Property] = Property.DETERMINISM

    def __str__(self) -> str:
        return f"deterministic({self.name})"


@dataclass(frozen=True)
class HelperModelled:
    """The helper ``name`` has a contract the verifier understands (else: UNKNOWN)."""

    name: str
    message: ClassVar[str] = "Helper effects not modelled"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"modelled({self.name})"


@dataclass(frozen=True)
class HelperSucceeds:
    """The helper ``name`` does not fault unconditionally."""

    name: str
    message: ClassVar[str] = "Helper always faults"
    property: ClassVar[Property] = Property.CONTROL

    def __str__(self) -> str:
        return f"returns({self.name})"


@dataclass(frozen=True)
class CallDepthWithin:
    """A local call needs at most ``max_frames`` frames."""

    depth: int
    max_frames: int
    message: ClassVar[str] = "Call depth exceeded"
    property: ClassVar[Property] = Property.CONTROL

    def __str__(self) -> str:
        return f"frames {self.depth} <= {self.max_frames}"


@dataclass(frozen=True)
class Supported:
    """An instruction kind the verifier models (``what`` names the one that is not)."""

    what: str
    message: ClassVar[str] = "Instruction not supported by the verifier"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"supported({self.what})"


@dataclass(frozen=True)
class StaysInProgram:
    """Control never leaves the program: no fall-through past the last instruction."""

    target: int
    message: ClassVar[str] = "Execution can fall off the end"
    property: ClassVar[Property] = Property.CONTROL

    def __str__(self) -> str:
        return f"pc {self.target} is an instruction"


@dataclass(frozen=True)
class BoundedLoop:
    """The loop headed at ``header`` runs a bounded number of times."""

    header: int
    message: ClassVar[str] = "Loop bound could not be proved"
    property: ClassVar[Property] = Property.TERMINATION

    def __str__(self) -> str:
        return f"bounded_loop(pc {self.header})"


@dataclass(frozen=True)
class LoopBoundHolds:
    """After ``bound`` iterations the loop at ``header`` cannot take its back edge again."""

    header: int
    bound: int
    message: ClassVar[str] = "Loop runs longer than its proved bound"
    property: ClassVar[Property] = Property.TERMINATION

    def __str__(self) -> str:
        return f"iterations(pc {self.header}) <= {self.bound}"


@dataclass(frozen=True)
class WithinBudget:
    """The compute units spent up to this exit stay within ``budget``."""

    budget: int
    message: ClassVar[str] = "Compute budget may be exceeded"
    property: ClassVar[Property] = Property.COMPUTE

    def __str__(self) -> str:
        return f"compute_units <= {self.budget}"


@dataclass(frozen=True)
class NotNull:
    """The access base ``reg`` is not the NULL of a "pointer or NULL" helper result."""

    reg: int
    message: ClassVar[str] = "Possible null pointer dereference"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"r{self.reg} != null"


@dataclass(frozen=True)
class HelperArgument:
    """Argument register ``reg`` of ``helper`` meets its contract ``rule`` (helper table)."""

    helper: str
    reg: int
    rule: str
    message: ClassVar[str] = "Helper argument contract violated"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"{self.helper}: r{self.reg} is {self.rule}"


@dataclass(frozen=True)
class ReleaseOnce:
    """``helper`` is given a record that is reserved and not yet released."""

    helper: str
    message: ClassVar[str] = "Ring-buffer record released twice or never reserved"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"{self.helper}: r1 is a held reservation"


@dataclass(frozen=True)
class RecordsReleased:
    """Every ring-buffer reservation is submitted or discarded before the program ends."""

    message: ClassVar[str] = "Ring-buffer record leaked"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return "every reservation submitted or discarded"


@dataclass(frozen=True)
class TailCallBounded:
    """The tail-call graph has no cycle (else a chain may run ``limit`` tail calls)."""

    cycle: str
    limit: int
    message: ClassVar[str] = "Tail-call cycle may run to the tail-call limit"
    property: ClassVar[Property] = Property.TERMINATION

    def __str__(self) -> str:
        return f"acyclic tail calls, cycle {self.cycle} (at most {self.limit} tail calls)"


@dataclass(frozen=True)
class SpinLockRule:
    """A ``bpf_spin_lock`` rule holds here (:mod:`arspec.spec.spinlock`): ``rule`` says which."""

    rule: str
    message: ClassVar[str] = "Spin-lock rule violated"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return self.rule


@dataclass(frozen=True)
class LockReleased:
    """No ``bpf_spin_lock`` is held when the program ends."""

    message: ClassVar[str] = "bpf_spin_unlock is missing"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return "every bpf_spin_lock released before exit"


@dataclass(frozen=True)
class DynptrRule:
    """A ``bpf_dynptr`` rule holds here (:mod:`arspec.spec.dynptr`): ``rule`` says which."""

    helper: str
    rule: str
    message: ClassVar[str] = "Dynptr rule violated"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return f"{self.helper}: {self.rule}"


@dataclass(frozen=True)
class DynptrsReleased:
    """Every ring-buffer dynptr is submitted or discarded before the program ends."""

    message: ClassVar[str] = "Ring-buffer dynptr leaked"
    property: ClassVar[Property] = Property.MEMORY

    def __str__(self) -> str:
        return "every ring-buffer dynptr submitted or discarded (even a failed reservation)"


Assertion: TypeAlias = (
    Initialized | TypeIsPointer | ValidAccess | ContextAccess | LinuxRule | InitializedStack
    | ValidDivisor
    | NoDivisionOverflow | HelperExists | HelperDeterministic | HelperModelled
    | HelperSucceeds | CallDepthWithin | Supported | StaysInProgram | BoundedLoop | LoopBoundHolds
    | WithinBudget | NotNull | HelperArgument | ReleaseOnce | RecordsReleased | TailCallBounded
    | SpinLockRule | LockReleased | DynptrRule | DynptrsReleased
)


def _memory(base: int, offset: int, size: int, *, write: bool) -> list[Assertion]:
    checks: list[Assertion] = [Initialized(base), TypeIsPointer(base),
                               ValidAccess(base, offset, size, write)]
    if not write:
        checks.append(InitializedStack(base, offset, size))
    return checks


def _division(insn: Alu, profile: Profile) -> list[Assertion]:
    if insn.op not in _DIVISIONS or not profile.division_faults:
        return []
    src = insn.src
    divisor: Assertion = (ValidDivisor(src.index, None, insn.is64) if isinstance(src, Reg)
                          else ValidDivisor(None, src.value, insn.is64))
    checks = [divisor]
    if insn.op in (AluOp.SDIV, AluOp.SMOD):
        if isinstance(src, Reg):
            checks.append(NoDivisionOverflow(insn.dst, src.index, None, insn.is64))
        elif src.value == -1:
            checks.append(NoDivisionOverflow(insn.dst, None, -1, insn.is64))
    return checks


def _alu(insn: Alu, profile: Profile) -> list[Assertion]:
    checks: list[Assertion] = []
    if isinstance(insn.src, Reg):
        checks.append(Initialized(insn.src.index))
    if insn.op is not AluOp.MOV:
        checks.append(Initialized(insn.dst))
    return checks + _division(insn, profile)


def assertions_for(pc: int, insn: Instruction, profile: Profile) -> list[Assertion]:
    """Return what must hold before ``insn`` at ``pc`` runs in ``profile``.

    Helper calls and local calls get their assertions from the symbolic layer, which knows
    the helper registry and the call depth; they return ``[]`` here.

    Parameters
    ----------
    pc
        Where the instruction is (kept for rules that depend on position).
    insn
        The decoded instruction.
    profile
        The execution profile (division rules differ).

    Returns
    -------
    list[Assertion]
        The assertions, in the order they are checked.
    """
    del pc
    if isinstance(insn, Alu):
        return _alu(insn, profile)
    if isinstance(insn, Neg | Endian):
        return [Initialized(insn.dst)]
    if isinstance(insn, MovSx):
        return [Initialized(insn.src)]
    if isinstance(insn, Load):
        return _memory(insn.src, insn.offset, insn.size, write=False)
    if isinstance(insn, Store):
        value = [Initialized(insn.value.index)] if isinstance(insn.value, Reg) else []
        return value + _memory(insn.dst, insn.offset, insn.size, write=True)
    if isinstance(insn, Atomic):
        reads: list[Assertion] = [Initialized(insn.src)]
        if insn.op is AtomicOp.CMPXCHG:
            reads.append(Initialized(0))
        return reads + _memory(insn.dst, insn.offset, insn.size, write=True) + [
            InitializedStack(insn.dst, insn.offset, insn.size)]
    if isinstance(insn, Jump):
        src = [Initialized(insn.src.index)] if isinstance(insn.src, Reg) else []
        return [Initialized(insn.dst), *src]
    if isinstance(insn, Exit):
        return [Initialized(0)]
    if isinstance(insn, LoadImm64) and insn.pseudo not in (Pseudo.IMM64,):
        return [Supported(f"lddw {insn.pseudo.name.lower()}")]
    if isinstance(insn, LegacyLoad):
        return [Supported("legacy packet load")]
    if isinstance(insn, CallKfunc):
        return [Supported("kfunc call")]
    if isinstance(insn, Callx):
        return [Supported("callx")]
    return []


__all__ = [
    "Assertion",
    "BoundedLoop",
    "CallDepthWithin",
    "DynptrRule",
    "DynptrsReleased",
    "HelperArgument",
    "HelperDeterministic",
    "HelperExists",
    "HelperModelled",
    "HelperSucceeds",
    "Initialized",
    "InitializedStack",
    "LockReleased",
    "LoopBoundHolds",
    "NoDivisionOverflow",
    "NotNull",
    "RecordsReleased",
    "ReleaseOnce",
    "SpinLockRule",
    "StaysInProgram",
    "Supported",
    "TailCallBounded",
    "TypeIsPointer",
    "ValidAccess",
    "ValidDivisor",
    "WithinBudget",
    "assertions_for",
]
