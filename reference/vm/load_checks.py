"""
Load-time checks per profile
============================

Checks a loader makes before a program may run, beyond decoding. The ``solana`` profile
follows the sBPF static verifier (anza-xyz/sbpf ``src/verifier.rs``): a division or modulo
by an immediate zero and a shift by an immediate not below the operand width are rejected at
load. The ``linux`` profile has no such checks here: the RFC
9669 defines those results (x / 0 = 0, shift counts masked), and the kernel's own verifier is
modelled by :mod:`arspec.checker`, not by the loader.

The ``solana`` profile is SBPFv0: an instruction v0 has no opcode for (the JMP32 class,
legacy packet loads, sign-extending loads, atomics, ``bswap``, ``gotol``, kfunc calls, the
signed div/mod and ``movsx`` forms, whose encodings v0 reads as unsigned div/mod and ``mov``)
is refused with its opcode and pc, and so are a jump or ``callx`` naming r10 (v0's
``check_registers`` / ``check_callx_register``). Bytes are read the v0 way by
:func:`~arspec.reference.isa.decoder.decode_sbpf_v0`, which never produces those instructions.
"""

from __future__ import annotations

from arspec.reference.isa.encoder import encode_one
from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    CallKfunc,
    Callx,
    Endian,
    EndianOp,
    Imm,
    Instruction,
    Ja,
    Jump,
    LegacyLoad,
    Load,
    MovSx,
    Program,
)
from arspec.reference.vm.profiles import Profile
from arspec.spec.errors import LoadRejection

_DIVISIONS = (AluOp.DIV, AluOp.SDIV, AluOp.MOD, AluOp.SMOD)
_SHIFTS = (AluOp.LSH, AluOp.RSH, AluOp.ARSH)


class ProgramRejected(LoadRejection):
    """A program the profile's loader refuses, with the pc of the first offending slot."""

    def __init__(self, pc: int, reason: str) -> None:
        self.pc = pc
        self.reason = reason
        super().__init__(f"pc {pc}: {reason}")


def sbpf_v0_problem(insn: Instruction) -> str | None:
    """Return why SBPFv0 refuses ``insn`` (naming its opcode), or ``None``."""
    missing = (
        (isinstance(insn, Jump) and not insn.is64, "JMP32 class"),
        (isinstance(insn, LegacyLoad), "legacy packet loads"),
        (isinstance(insn, Load) and insn.signed, "sign-extending loads"),
        (isinstance(insn, Atomic), "atomic operations"),
        (isinstance(insn, Endian) and insn.op is EndianOp.SWAP, "bswap"),
        (isinstance(insn, Ja) and insn.long, "gotol"),
        (isinstance(insn, CallKfunc), "kfunc calls"),
        (isinstance(insn, Alu) and insn.op in (AluOp.SDIV, AluOp.SMOD),
         "signed division (its encoding runs as unsigned div/mod in v0)"),
        (isinstance(insn, MovSx), "movsx (its encoding runs as a plain mov in v0)"),
    )
    for hit, what in missing:
        if hit:
            return f"unknown eBPF opcode {encode_one(insn)[0]:#04x}: SBPFv0 has no {what}"
    if isinstance(insn, Jump) and insn.dst == 10:
        return "cannot write into register r10 (SBPFv0 refuses dst r10 outside stores)"
    if isinstance(insn, Callx) and not 0 <= insn.reg < 10:
        return f"invalid callx register r{insn.reg} (SBPFv0 allows r0-r9)"
    return None


def check_program(program: Program, profile: Profile) -> None:
    """Raise :class:`ProgramRejected` if ``profile``'s loader refuses ``program``."""
    if not profile.division_faults:
        return
    for pc, insn in program.instructions():
        if profile.sbpf_version == 0:
            problem = sbpf_v0_problem(insn)
            if problem is not None:
                raise ProgramRejected(pc, problem)
        if not isinstance(insn, Alu) or not isinstance(insn.src, Imm):
            continue
        if insn.op in _DIVISIONS and insn.src.value == 0:
            raise ProgramRejected(pc, "division by zero: constant divisor 0 is rejected at load")
        width = 64 if insn.is64 else 32
        if insn.op in _SHIFTS and not 0 <= insn.src.value < width:
            raise ProgramRejected(
                pc, f"shift by {insn.src.value} is out of range for {width}-bit operands")
