"""
Load-time checks per profile
============================

Checks a loader makes before a program may run, beyond decoding. The ``solana`` profile
follows the sBPF static verifier (anza-xyz/sbpf ``src/verifier.rs``): a division or modulo
by an immediate zero and a shift by an immediate not below the operand width are rejected at
load. The ``linux`` profile has no such checks here: the RFC
9669 defines those results (x / 0 = 0, shift counts masked), and the kernel's own verifier is
modelled by :mod:`arspec.checker`, not by the loader.

Departure: sBPF v0 also rejects the JMP32 class and some encodings of later SBPF versions;
arspec's ``solana`` profile accepts the whole RFC 9669 instruction set with sBPF's run-time
semantics, so that one program can be checked under both profiles.
"""

from __future__ import annotations

from arspec.spec.errors import VerifierRejection

from .instructions import Alu, AluOp, Imm, Program
from .profiles import Profile

_DIVISIONS = (AluOp.DIV, AluOp.SDIV, AluOp.MOD, AluOp.SMOD)
_SHIFTS = (AluOp.LSH, AluOp.RSH, AluOp.ARSH)


class ProgramRejected(VerifierRejection):
    """A program the profile's loader refuses, with the pc of the first offending slot."""

    def __init__(self, pc: int, reason: str) -> None:
        self.pc = pc
        self.reason = reason
        super().__init__(f"pc {pc}: {reason}")


def check_program(program: Program, profile: Profile) -> None:
    """Raise :class:`ProgramRejected` if ``profile``'s loader refuses ``program``."""
    if not profile.division_faults:
        return
    for pc, insn in program.instructions():
        if not isinstance(insn, Alu) or not isinstance(insn.src, Imm):
            continue
        if insn.op in _DIVISIONS and insn.src.value == 0:
            raise ProgramRejected(pc, "division by zero: constant divisor 0 is rejected at load")
        width = 64 if insn.is64 else 32
        if insn.op in _SHIFTS and not 0 <= insn.src.value < width:
            raise ProgramRejected(
                pc, f"shift by {insn.src.value} is out of range for {width}-bit operands")
