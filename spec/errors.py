"""
Errors
======

Every exception arspec raises on purpose derives from :class:`ArspecError`. The families
mirror the stages of the pipeline: input that cannot be read (:class:`InputError`, with a
location), bytecode that cannot be decoded (:class:`DecodeError`, with a pc), programs the
runtime refuses to load (:class:`LoadRejection`), and faults raised while a program executes
(:class:`ExecutionFault`).

Interpreter handlers only raise; the run loop alone catches an :class:`ExecutionFault` and
records it in the result.
"""

from __future__ import annotations


class ArspecError(Exception):
    """Root of every error arspec raises deliberately."""


class InputError(ArspecError):
    """Input that cannot be used: a file, a line of assembly, a YAML field, a CLI flag.

    ``str(err)`` is the one-line message the CLI prints: ``FILE:LINE: error: reason``
    (or ``FILE:LINE:COL:``) when a location is known.
    """

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.column = column
        super().__init__(self.render())

    def render(self) -> str:
        """Return ``FILE:LINE:COL: error: reason`` with the parts that are known."""
        where = [p for p in (self.file, self.line, self.column) if p is not None]
        prefix = ":".join(str(p) for p in where)
        return f"{prefix}: error: {self.reason}" if prefix else f"error: {self.reason}"


class DecodeError(ArspecError):
    """Bytecode that is not a valid instruction sequence, with the pc of the first bad slot."""

    def __init__(self, pc: int, reason: str) -> None:
        self.pc = pc
        self.reason = reason
        super().__init__(f"pc {pc}: {reason}")


class LoadRejection(ArspecError):
    """A program the runtime refuses to load (e.g. a helper its profile forbids)."""


class ExecutionFault(ArspecError):
    """A fault while executing a program; ``pc`` is the faulting instruction."""

    kind = "fault"

    def __init__(self, pc: int, reason: str) -> None:
        self.pc = pc
        self.reason = reason
        super().__init__(f"{self.kind} at pc {pc}: {reason}")


class MemoryFault(ExecutionFault):
    """An access outside every region the program may touch, or a write to a read-only one."""

    kind = "memory fault"

    def __init__(self, pc: int, address: int, size: int, reason: str) -> None:
        self.address = address
        self.size = size
        super().__init__(pc, f"{reason} (address {address:#x}, size {size})")


class DivisionByZero(ExecutionFault):
    """Division or modulo by zero in a profile where that faults (sBPF)."""

    kind = "division by zero"


class DivisionOverflow(ExecutionFault):
    """Signed division of the minimum value by -1 in a profile where that faults (sBPF)."""

    kind = "division overflow"


class InstructionLimit(ExecutionFault):
    """The instruction / compute-unit meter ran out."""

    kind = "instruction limit exceeded"


class ComputeBudgetExceeded(InstructionLimit):
    """A call's own compute-unit cost (a helper's, a syscall's) is more than what remains of
    the compute budget: the fault names the budget, not the instruction meter."""

    kind = "compute budget exceeded"


class CallDepthExceeded(ExecutionFault):
    """A bpf-to-bpf call beyond the profile's frame limit."""

    kind = "call depth exceeded"


class HelperFault(ExecutionFault):
    """A helper call that cannot proceed: unknown id, refused in this profile, bad argument."""

    kind = "helper fault"


class InvalidInstruction(ExecutionFault):
    """An instruction that decodes but cannot run here (e.g. an unresolved map reference)."""

    kind = "invalid instruction"


class ProgramOverrun(ExecutionFault):
    """Execution ran past the last instruction of the program (sBPF ``ExecutionOverrun``)."""

    kind = "program overrun"


class InvalidCallTarget(ExecutionFault):
    """A ``callx`` (or callback) to an address that is not the start of an instruction."""

    kind = "invalid call target"


class SpecError(ArspecError):
    """A request the specification refuses outright (not a helper result, which is an errno)."""


class UnknownPreset(SpecError):
    """A preset name that is not ``minimal`` or ``linux_like``."""


class MapDefinitionError(SpecError):
    """A map definition that cannot be created (bad sizes, misplaced timer, ...)."""


class PinnedMapMismatch(SpecError):
    """A pinned map whose definition changed between the old and the reloaded bundle."""


class UnknownHelper(LoadRejection):
    """A helper id or name that is not in the helper table."""


class HelperNotAllowed(LoadRejection):
    """A helper that exists but is refused in the selected profile (e.g. nondeterministic)."""
