"""
Differential runs against the Linux kernel
==========================================

Random programs over the whole instruction set the ``linux`` profile runs (every ALU
operator in both widths and both operand forms, signed div/mod, ``movsx``, ``neg``,
``le``/``be``/``bswap``, ``lddw``, every load, sign-extending load, store and atomic, every
jump condition in JMP and JMP32, ``ja``/``gotol``, local calls, ``LD_ABS``/``LD_IND``) run
on arspec and in the kernel (``BPF_PROG_TEST_RUN`` on a socket filter,
:mod:`~arspec.reference.differential.kernel_bpf`). Each program ends by folding every register it
may
read (r0-r5, r7-r9) and the 64 stack bytes it wrote into r0; the kernel returns only 32 bits,
so each program is loaded twice (low half, then ``r0 >>= 32``), and the whole final state is
compared through the fold.

Programs keep to what the kernel's verifier accepts: r6 holds the context (for the packet
loads) and is never read otherwise, r1-r5 are set again after a call or a packet load (the
kernel clobbers them), stack accesses are aligned, inside ``[r10 - 64, r10)`` and written
before they are read, and loops count down from a small constant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from arspec.reference.differential.kernel_bpf import KernelRejected, load_program
from arspec.reference.isa.encoder import encode
from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Atomic,
    AtomicOp,
    CallLocal,
    Endian,
    EndianOp,
    Exit,
    Imm,
    Instruction,
    Ja,
    JmpCond,
    Jump,
    LegacyLoad,
    LegacyMode,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Program,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.vm.profiles import LINUX
from arspec.reference.vm.vm import execute

#: The packet the kernel runs on (it needs at least an Ethernet header).
PACKET: Final = bytes((i * 37 + 11) & 0xFF for i in range(64))
#: What a socket filter's packet loads see: ``BPF_PROG_TEST_RUN`` pulls the 14-byte Ethernet
#: header (``eth_type_trans`` in net/bpf/test_run.c, no push for socket filters).
SKB_DATA: Final = PACKET[14:]
#: Registers the body may use freely (r6 holds the context; r10 is the frame pointer).
FREE: Final = (0, 1, 2, 3, 4, 5, 7, 8, 9)
_FNV: Final = 0x100000001B3
_INTERESTING: Final = (0, 1, -1, 2, 31, 32, 63, 64, 0x7FFFFFFF, -0x80000000, 0xFF, 0x80,
                       0x7FFF, -0x8000, 0x12345678)


def lddw(dst: int, value: int) -> LoadImm64:
    """Return ``lddw dst, value``."""
    value &= (1 << 64) - 1
    lo, hi = value & 0xFFFFFFFF, value >> 32
    return LoadImm64(dst, Pseudo.IMM64, lo - (1 << 32) if lo >> 31 else lo,
                     hi - (1 << 32) if hi >> 31 else hi)


@dataclass
class KernelCase:
    """A generated body (without the fold epilogue) and the class it was drawn from."""

    body: list[Instruction]
    kind: str


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.out: list[Instruction] = []

    def imm(self) -> int:
        if self.rng.random() < 0.5:
            return self.rng.choice(_INTERESTING)
        return self.rng.randint(-(1 << 31), (1 << 31) - 1)

    def reg(self) -> int:
        return self.rng.choice(FREE)

    def reset_args(self) -> None:
        for r in (1, 2, 3, 4, 5):
            self.out.append(lddw(r, self.rng.getrandbits(64)) if self.rng.random() < 0.3
                            else Alu(AluOp.MOV, r, Imm(self.imm()), True))

    def alu(self) -> None:
        rng, out = self.rng, self.out
        pick = rng.random()
        dst, is64 = self.reg(), rng.random() < 0.5
        if pick < 0.05:
            out.append(Neg(dst, is64))
        elif pick < 0.12:
            swap = rng.choice((EndianOp.LE, EndianOp.BE, EndianOp.SWAP))
            out.append(Endian(swap, dst, rng.choice((16, 32, 64))))
        elif pick < 0.18:
            out.append(MovSx(dst, self.reg(), rng.choice((8, 16, 32) if is64 else (8, 16)),
                             is64))
        elif pick < 0.24:
            out.append(lddw(dst, rng.getrandbits(64)))
        else:
            op = rng.choice(list(AluOp))
            src: Reg | Imm = Reg(self.reg()) if rng.random() < 0.5 else Imm(self.imm())
            # The kernel's verifier refuses constant shifts out of range and constant
            # division by zero (the register forms stay: their results are defined).
            if isinstance(src, Imm) and op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH):
                src = Imm(rng.randrange(64 if is64 else 32))
            if isinstance(src, Imm) and op in (AluOp.DIV, AluOp.SDIV, AluOp.MOD, AluOp.SMOD) \
                    and src.value == 0:
                src = Imm(rng.choice((1, -1, 3, 7)))
            out.append(Alu(op, dst, src, is64))

    def stack_slot(self, size: int) -> int:
        return -size * self.rng.randint(1, 64 // size)

    def memory(self) -> None:
        rng, out = self.rng, self.out
        pick = rng.random()
        size = rng.choice((1, 2, 4, 8))
        off = self.stack_slot(size)
        if pick < 0.35:
            out.append(Load(size, self.reg(), 10, off, signed=size != 8 and rng.random() < 0.3))
        elif pick < 0.6:
            value: Reg | Imm = Reg(self.reg()) if rng.random() < 0.5 else Imm(self.imm())
            out.append(Store(size, 10, off, value))
        elif pick < 0.85:
            size = rng.choice((4, 8))
            off = self.stack_slot(8)
            op = rng.choice(list(AtomicOp))
            fetch = op in (AtomicOp.XCHG, AtomicOp.CMPXCHG) or rng.random() < 0.5
            src = rng.choice([r for r in FREE if r != 0])
            out.append(Atomic(op, size, 10, src, off, fetch))
        else:
            mode = rng.choice((LegacyMode.ABS, LegacyMode.IND))
            size = rng.choice((1, 2, 4))
            if mode is LegacyMode.ABS:
                out.append(LegacyLoad(mode, size, 0, rng.choice((0, 1, 13, 60, 61, 62, 64, 100,
                                                                 -1))))
            else:
                base = rng.choice((1, 2, 3, 4, 5, 7, 8, 9))
                out.append(Alu(AluOp.MOV, base, Imm(rng.choice((0, 3, 40, 63, -2))), True))
                out.append(LegacyLoad(mode, size, base, rng.choice((0, 1, 2, -1, 20, 60))))
            self.reset_args()

    def branch(self) -> None:
        """``if cond goto B; A; ja/gotol end; B: ...; end:`` (both arms reachable)."""
        rng = self.rng
        arms = []
        for _ in range(2):
            arm = _Gen(rng)
            for _ in range(rng.randint(1, 3)):
                arm.alu()
            arms.append(arm.out)
        size_a = len(Program.from_instructions(arms[0]))
        size_b = len(Program.from_instructions(arms[1]))
        src: Reg | Imm = Reg(self.reg()) if rng.random() < 0.5 else Imm(self.imm())
        self.out.append(Jump(rng.choice(list(JmpCond)), self.reg(), src, size_a + 1,
                             rng.random() < 0.5))
        self.out.extend(arms[0])
        self.out.append(Ja(size_b, long=rng.random() < 0.3))
        self.out.extend(arms[1])

    def loop(self) -> None:
        rng, out = self.rng, self.out
        counter = rng.choice((7, 8, 9))
        out.append(Alu(AluOp.MOV, counter, Imm(rng.randint(1, 8)), True))
        inner = _Gen(rng)
        for _ in range(rng.randint(1, 4)):
            inner.alu()
        inner.out = [i for i in inner.out if getattr(i, "dst", None) != counter]
        out.extend(inner.out)
        out.append(Alu(AluOp.SUB, counter, Imm(1), True))
        size = len(Program.from_instructions(inner.out)) + 2
        out.append(Jump(JmpCond.NE, counter, Imm(0), -size, rng.random() < 0.5))


def generate_kernel_case(rng: random.Random) -> KernelCase:
    """Return a random body: registers and 64 stack bytes set, then 1-20 instructions."""
    g = _Gen(rng)
    g.out.append(Alu(AluOp.MOV, 6, Reg(1), True))
    # Values read from the packet are unknown to the kernel's verifier, so both arms of a
    # branch on them are reachable (it refuses unreachable code).
    for r in (7, 8, 9):
        g.out.append(LegacyLoad(LegacyMode.ABS, rng.choice((1, 2, 4)), 0,
                                rng.randint(0, len(SKB_DATA) - 4)))
        g.out.append(Alu(AluOp.MOV, r, Reg(0), True))
    for r in (0, 1, 2, 3, 4, 5, 7, 8, 9):
        pick = rng.random()
        if pick < 0.4:
            g.out.append(Alu(rng.choice((AluOp.XOR, AluOp.ADD, AluOp.MUL)), r,
                             Reg(rng.choice((7, 8, 9))) if r < 7 else Imm(g.imm()), True))
            if r < 7:
                g.out.insert(-1, Alu(AluOp.MOV, r, Imm(g.imm()), True))
        else:
            g.out.append(lddw(r, rng.getrandbits(64)) if pick < 0.7
                         else Alu(AluOp.MOV, r, Imm(g.imm()), rng.random() < 0.7))
    for i in range(8):
        g.out.append(Store(8, 10, -8 * (i + 1), Reg(g.reg())))
    kind = rng.choice(("alu", "memory", "branches", "loop", "mixed", "calls"))
    for _ in range(rng.randint(1, 20)):
        pick = rng.random()
        if kind == "alu" or (kind == "mixed" and pick < 0.4):
            g.alu()
        elif kind == "memory" or (kind == "mixed" and pick < 0.7):
            g.memory()
        elif kind == "branches" or kind == "mixed":
            g.branch()
        elif kind == "loop":
            g.loop()
            break
        else:
            g.alu()
    return KernelCase(g.out, kind)


def finish_folded(body: list[Instruction], *, high_half: bool, callee: bool,
                  fold32: bool = False) -> Program:
    """Return ``body``, the fold of r0-r5, r7-r9 and the 64 stack bytes into r0, and exit.

    ``high_half`` shifts the 64-bit fold down by 32; ``fold32`` xors its halves instead.

    With ``callee`` a function ``r0 = r1 * 3 + r5`` is called first (then r1-r5 are set
    again), so local calls are exercised too.
    """
    insns = list(body)
    tail: list[Instruction] = []
    if callee:
        insns.append(CallLocal(0))  # patched below
        for r in (1, 2, 3, 4, 5):
            insns.append(Alu(AluOp.MOV, r, Imm(r * 0x1111), True))
    fold: list[Instruction] = [Alu(AluOp.MOV, 6, Reg(0), True)]
    for r in (1, 2, 3, 4, 5, 7, 8, 9):
        fold += [lddw(0, _FNV), Alu(AluOp.MUL, 6, Reg(0), True), Alu(AluOp.XOR, 6, Reg(r), True)]
    for i in range(8):
        fold += [lddw(0, _FNV), Alu(AluOp.MUL, 6, Reg(0), True),
                 Load(8, 0, 10, -8 * (i + 1)), Alu(AluOp.XOR, 6, Reg(0), True)]
    fold.append(Alu(AluOp.MOV, 0, Reg(6), True))
    if high_half:
        fold.append(Alu(AluOp.RSH, 0, Imm(32), True))
    if fold32:  # r0 = low ^ high half: the kernel returns 32 bits, one load suffices
        fold += [Alu(AluOp.RSH, 0, Imm(32), True), Alu(AluOp.XOR, 0, Reg(6), True)]
    insns += [*fold, Exit()]
    if callee:
        tail = [Alu(AluOp.MOV, 0, Reg(1), True), Alu(AluOp.MUL, 0, Imm(3), True),
                Alu(AluOp.ADD, 0, Reg(5), True), Exit()]
        index = insns.index(CallLocal(0))
        before = len(Program.from_instructions(insns[:index + 1]))
        after = len(Program.from_instructions(insns))
        insns[index] = CallLocal(after - before)
    return Program.from_instructions(insns + tail)


@dataclass(frozen=True)
class KernelOutcome:
    """What one program gave: both r0 values, or why it could not be compared."""

    arspec: int | None
    kernel: int | None
    note: str = ""


def compare_with_kernel(case: KernelCase, *, engine: str = "auto", callee: bool = False,
                        fold32: bool = False) -> KernelOutcome:
    """Run ``case`` (folded) on arspec and in the kernel; return both r0 values.

    The full 64-bit fold takes two kernel runs (low, then high half); with ``fold32`` one
    run compares the xor of the halves (a difference is missed with odds 2**-32).
    """
    halves = []
    for high in ((False,) if fold32 else (False, True)):
        program = finish_folded(case.body, high_half=high, callee=callee, fold32=fold32)
        try:
            with load_program(encode(program)) as p:
                halves.append(p.test_run(PACKET))
        except KernelRejected as err:
            last = err.log.strip().splitlines()[-2:] if err.log else [str(err)]
            return KernelOutcome(None, None, "kernel rejected: " + " | ".join(last)[-160:])
    kernel = halves[0] if fold32 else (halves[1] << 32) | halves[0]
    result = execute(finish_folded(case.body, high_half=False, callee=callee, fold32=fold32),
                     profile=LINUX, memory=SKB_DATA, engine=engine)
    if result.fault is not None:
        return KernelOutcome(None, kernel, f"arspec fault: {result.fault}")
    return KernelOutcome(result.r0 & 0xFFFFFFFF if fold32 else result.r0, kernel)


def classify_kernel(case: KernelCase, outcome: KernelOutcome) -> str | None:
    """Return the divergence class (the first instruction kinds of the body), or ``None``."""
    if outcome.note.startswith("kernel rejected"):
        return None
    if outcome.arspec == outcome.kernel:
        return None
    kinds = sorted({type(i).__name__ for i in case.body[18:]})
    return f"{case.kind}: {'+'.join(kinds)}" + (" (arspec fault)" if outcome.note else "")
