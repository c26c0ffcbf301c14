"""
VM benchmark
============

Instructions per second of the reference interpreter and the compiled fast path on three
programs: (a) the counting loop, (b) a stack load/store loop, (c) a call-heavy loop.
Run with ``python benchmarks/bench_vm.py [--scale N]``.
"""

from __future__ import annotations

import argparse
import time

from arspec.reference.instructions import (
    Alu,
    AluOp,
    CallLocal,
    Exit,
    Imm,
    Instruction,
    JmpCond,
    Jump,
    Load,
    Program,
    Reg,
    Store,
)
from arspec.reference.vm import execute


def _add(dst: int, src: Reg | Imm) -> Alu:
    return Alu(AluOp.ADD, dst, src, True)


def counting_loop(n: int) -> Program:
    """Return ``r0 += r1; r1 -= 1; if r1 != 0 goto -3`` for ``n`` iterations."""
    return Program.from_instructions([
        Alu(AluOp.MOV, 1, Imm(n), True), Alu(AluOp.MOV, 0, Imm(0), True),
        _add(0, Reg(1)), Alu(AluOp.SUB, 1, Imm(1), True), Jump(JmpCond.NE, 1, Imm(0), -3, True),
        Exit()])


def memory_loop(n: int) -> Program:
    """Return a loop that stores and reloads stack slots every iteration."""
    return Program.from_instructions([
        Alu(AluOp.MOV, 1, Imm(n), True), Alu(AluOp.MOV, 0, Imm(0), True),
        Store(8, 10, -8, Reg(1)), Store(4, 10, -16, Reg(0)), Load(8, 2, 10, -8),
        Load(4, 3, 10, -16), _add(0, Reg(2)), _add(0, Reg(3)),
        Alu(AluOp.SUB, 1, Imm(1), True), Jump(JmpCond.NE, 1, Imm(0), -8, True), Exit()])


def call_loop(n: int) -> Program:
    """Return a loop calling a two-level chain of local functions every iteration."""
    insns: list[Instruction] = [
        Alu(AluOp.MOV, 6, Imm(n), True), Alu(AluOp.MOV, 7, Imm(0), True),
        Alu(AluOp.MOV, 1, Reg(6), True), CallLocal(4), _add(7, Reg(0)),
        Alu(AluOp.SUB, 6, Imm(1), True), Jump(JmpCond.NE, 6, Imm(0), -5, True),
        Alu(AluOp.MOV, 0, Reg(7), True), Exit(),
        # f(x) = g(x) + 1
        CallLocal(2), _add(0, Imm(1)), Exit(),
        # g(x) = x * 2
        Alu(AluOp.MOV, 0, Reg(1), True), Alu(AluOp.MUL, 0, Imm(2), True), Exit(),
    ]
    # Fix the offset of the first call to f (pc 3 -> pc 9).
    insns[3] = CallLocal(9 - 3 - 1)
    return Program.from_instructions(insns)


def measure(program: Program, engine: str) -> tuple[float, int]:
    """Return (instructions per second, instructions) of one run."""
    execute(Program.from_instructions([Exit()]), engine=engine)
    start = time.perf_counter()
    result = execute(program, engine=engine)
    elapsed = time.perf_counter() - start
    assert result.fault is None, result.fault
    return result.instructions / elapsed, result.instructions


def main() -> None:
    """Print instructions/second for each program and engine."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=200_000, help="loop iterations")
    args = parser.parse_args()
    cases = {"counting loop": counting_loop, "memory loop": memory_loop,
             "call loop": call_loop}
    print(f"{'program':<15}{'engine':<13}{'instructions':>14}{'insn/s':>14}")
    for name, build in cases.items():
        for engine in ("interpreter", "fast"):
            iterations = args.scale // 10 if engine == "interpreter" else args.scale
            rate, count = measure(build(iterations), engine)
            print(f"{name:<15}{engine:<13}{count:>14,}{rate:>14,.0f}")


if __name__ == "__main__":
    main()
