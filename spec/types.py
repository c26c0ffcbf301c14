"""
Types
=====

The named quantities of the specification. Every identifier and every unit has its own
:class:`~typing.NewType`, so that a slot can never be passed where a compute-unit amount or a
CPU number is expected, and a reader can tell from a signature what each integer means.

Identifiers that name things in a bundle (maps, programs, accounts) are the names the bundle
gives them: strings, so that states print readably and order deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NewType

#: A point in chain time. Time in arspec is counted in slots, never in nanoseconds.
Slot = NewType("Slot", int)
#: An amount of compute units (1 per executed instruction, helpers from the cost table).
ComputeUnits = NewType("ComputeUnits", int)
#: The name of a map in the bundle.
MapId = NewType("MapId", str)
#: The name of a program in the bundle.
ProgId = NewType("ProgId", str)
#: An instruction index inside a program (8-byte slots; ``lddw`` takes two).
Pc = NewType("Pc", int)
#: A (virtual) CPU number in ``range(preset.num_cpus)``; chosen by the scheduler, never random.
Cpu = NewType("Cpu", int)
#: A number from the runtime-wide sequence that orders timer arms and work-queue starts.
SeqNo = NewType("SeqNo", int)
#: A helper id as it appears in ``call imm`` (Linux ids, or arspec's own range).
HelperId = NewType("HelperId", int)
#: The name of an account.
AccountName = NewType("AccountName", str)
#: A ring-buffer position: a monotonically increasing byte counter, never masked.
RingPos = NewType("RingPos", int)

#: Mask of an unsigned 32-bit value.
U32_MASK: Final = (1 << 32) - 1
#: Mask of an unsigned 64-bit value.
U64_MASK: Final = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class FuncRef:
    """A callback: the first instruction of a function inside a program.

    Timer and work-queue callbacks and ``bpf_loop`` bodies are static functions of the program
    that registers them (Linux: a ``PTR_TO_FUNC`` subprogram). ``pc`` is ``0`` for a program's
    entry point.
    """

    prog: ProgId
    pc: Pc
