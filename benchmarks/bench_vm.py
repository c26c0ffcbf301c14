"""
VM benchmark
============

Instructions per second of the interpreter engine and the fast engine on the loops of
issue 14, in both profiles: a counting loop, load/store on the stack, load/store through
the input memory, a branchy loop with a local (bpf-to-bpf) call, a branchy loop with a helper
call, a byte-copy loop, and (linux, through the runtime) a tail-call chain.

The fast engine runs in two tiers: ``python`` (its Python translation alone,
``ARSPEC_NATIVE=0``) and ``native`` (the C loop of :mod:`arspec.reference.vm.native` with the
Python tier for what it hands off); the native column is left out when the extension is not
built. Each figure is the minimum time of ``--repeat`` interleaved runs (the machine is
shared); the native tier runs 10 times the fast engine's iterations, so its runs last long
enough to time. The speed-up columns are over the interpreter engine; ``--check`` exits 1
when a speed-up falls below its pinned floor (:data:`FLOORS`, :data:`NATIVE_FLOORS`), a
regression guard that compares the engines on the same machine at the same moment rather
than against the clock. The uBPF reference ratios these figures answer to are in
``docs/performance.rst``.

Usage::

    python benchmarks/bench_vm.py                  # both profiles, default scale
    python benchmarks/bench_vm.py --scale 100000 --repeat 3 --check
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Call,
    CallLocal,
    Exit,
    Imm,
    Instruction,
    Ja,
    JmpCond,
    Jump,
    Load,
    Program,
    Reg,
    Store,
)
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.vm import native
from arspec.reference.vm.helpers import test_helpers
from arspec.reference.vm.profiles import INPUT_BASE, PROFILES, Profile
from arspec.reference.vm.vm import Vm, standard_memory

#: Bytes of input memory every loop gets.
INPUT_SIZE = 256
#: Minimum fast/interpreter speed-up per loop that ``--check`` accepts: about half of the
#: medians in ``docs/performance.rst``, to absorb the noise of a shared machine while still
#: catching most falls back to an older engine's figures (stack slots in memory: about 20x;
#: a frame per local call: about 24x; helpers looked up per call: about 7x; input accesses
#: through per-site caches: about 16x, copy about 26x; helpers called with the machine
#: brought up to date: about 18x).
FLOORS: dict[str, float] = {
    "counting": 15.0, "stack": 24.0, "input": 12.0, "local call": 20.0, "helper call": 14.0,
    "copy": 17.0, "tail calls": 1.0,
}
#: The same floors for the native tier: about a third of the medians in
#: ``docs/performance.rst`` (the tail-call chain runs in the runtime, mostly Python).
NATIVE_FLOORS: dict[str, float] = {
    "counting": 120.0, "stack": 80.0, "input": 80.0, "local call": 100.0, "helper call": 18.0,
    "copy": 90.0, "tail calls": 1.0,
}


def _mov(dst: int, src: Reg | Imm) -> Alu:
    return Alu(AluOp.MOV, dst, src, True)


def _alu(op: AluOp, dst: int, src: Reg | Imm) -> Alu:
    return Alu(op, dst, src, True)


def _link(items: list[Instruction | tuple[str, Callable[[int], Instruction]] | str]
          ) -> Program:
    """Assemble a list with ``"label"`` markers and ``(label, make(offset))`` references."""
    labels: dict[str, int] = {}
    pc = 0
    for item in items:
        if isinstance(item, str):
            labels[item] = pc
        else:
            pc += 1
    out: list[Instruction] = []
    for item in items:
        if isinstance(item, str):
            continue
        if isinstance(item, tuple):
            label, make = item
            out.append(make(labels[label] - len(out) - 1))
        else:
            out.append(item)
    return Program.from_instructions(out)


def counting_loop(n: int, profile: Profile) -> Program:
    """``r0 += r1; r1 -= 1; if r1 != 0 goto`` for ``n`` iterations (3 insns each)."""
    return _link([
        _mov(1, Imm(n)), _mov(0, Imm(0)),
        "loop", _alu(AluOp.ADD, 0, Reg(1)), _alu(AluOp.SUB, 1, Imm(1)),
        ("loop", lambda o: Jump(JmpCond.NE, 1, Imm(0), o, True)),
        Exit()])


def stack_loop(n: int, profile: Profile) -> Program:
    """Store two stack slots and load them back every iteration (8 insns each)."""
    return _link([
        _mov(1, Imm(n)), _mov(0, Imm(0)),
        "loop", Store(8, 10, -8, Reg(1)), Store(4, 10, -16, Reg(0)), Load(8, 2, 10, -8),
        Load(4, 3, 10, -16), _alu(AluOp.ADD, 0, Reg(2)), _alu(AluOp.ADD, 0, Reg(3)),
        _alu(AluOp.SUB, 1, Imm(1)), ("loop", lambda o: Jump(JmpCond.NE, 1, Imm(0), o, True)),
        Exit()])


def input_loop(n: int, profile: Profile) -> Program:
    """Load, update and store words of the input memory every iteration (9 insns each)."""
    return _link([
        _mov(6, Reg(1)), _mov(7, Imm(n)), _mov(0, Imm(0)),
        "loop", _mov(8, Reg(7)), _alu(AluOp.AND, 8, Imm(0x78)), _alu(AluOp.ADD, 8, Reg(6)),
        Load(8, 3, 8, 0), _alu(AluOp.ADD, 3, Reg(7)), Store(8, 8, 0, Reg(3)),
        Load(4, 4, 6, 128), _alu(AluOp.ADD, 0, Reg(4)),
        _alu(AluOp.SUB, 7, Imm(1)), ("loop", lambda o: Jump(JmpCond.NE, 7, Imm(0), o, True)),
        Exit()])


def local_call_loop(n: int, profile: Profile) -> Program:
    """A loop with an if/else that calls a local function every iteration."""
    return _link([
        _mov(6, Imm(n)), _mov(7, Imm(0)),
        "loop", _mov(1, Reg(6)), ("f", CallLocal), _alu(AluOp.AND, 0, Imm(1)),
        ("odd", lambda o: Jump(JmpCond.NE, 0, Imm(0), o, True)),
        _alu(AluOp.ADD, 7, Imm(3)), ("next", Ja),
        "odd", _alu(AluOp.SUB, 7, Imm(1)),
        "next", _alu(AluOp.SUB, 6, Imm(1)),
        ("loop", lambda o: Jump(JmpCond.NE, 6, Imm(0), o, True)),
        _mov(0, Reg(7)), Exit(),
        "f", _mov(0, Reg(1)), _alu(AluOp.RSH, 0, Imm(1)), _alu(AluOp.XOR, 0, Reg(1)), Exit()])


def helper_id(name: str, profile: Profile) -> int:
    """Return the ``call`` immediate of the test helper ``name`` in ``profile``."""
    if profile.name == "solana":
        value = murmur3_32(name.encode())
        return value - (1 << 32) if value >= 1 << 31 else value
    return next(spec.id for spec in test_helpers() if spec.name == name)


def helper_call_loop(n: int, profile: Profile) -> Program:
    """A loop with an if/else that calls the ``sqrti`` helper every iteration."""
    return _link([
        _mov(6, Imm(n)), _mov(7, Imm(0)),
        "loop", _mov(1, Reg(6)), Call(helper_id("sqrti", profile)),
        _alu(AluOp.AND, 0, Imm(1)),
        ("odd", lambda o: Jump(JmpCond.NE, 0, Imm(0), o, True)),
        _alu(AluOp.ADD, 7, Imm(3)), ("next", Ja),
        "odd", _alu(AluOp.SUB, 7, Imm(1)),
        "next", _alu(AluOp.SUB, 6, Imm(1)),
        ("loop", lambda o: Jump(JmpCond.NE, 6, Imm(0), o, True)),
        _mov(0, Reg(7)), Exit()])


def copy_loop(n: int, profile: Profile) -> Program:
    """Copy the first 64 input bytes to the stack, byte by byte, ``n // 64`` times."""
    return _link([
        _mov(9, Imm(max(1, n // 64))), _mov(0, Imm(0)),
        "outer", _mov(6, Imm(0)),
        "loop", _mov(2, Reg(1)), _alu(AluOp.ADD, 2, Reg(6)), Load(1, 3, 2, 0),
        _mov(4, Reg(10)), _alu(AluOp.ADD, 4, Reg(6)), Store(1, 4, -64, Reg(3)),
        _alu(AluOp.ADD, 6, Imm(1)), ("loop", lambda o: Jump(JmpCond.LT, 6, Imm(64), o, True)),
        Load(8, 5, 10, -64), _alu(AluOp.ADD, 0, Reg(5)),
        _alu(AluOp.SUB, 9, Imm(1)), ("outer", lambda o: Jump(JmpCond.NE, 9, Imm(0), o, True)),
        Exit()])


LOOPS: dict[str, Callable[[int, Profile], Program]] = {
    "counting": counting_loop, "stack": stack_loop, "input": input_loop,
    "local call": local_call_loop, "helper call": helper_call_loop, "copy": copy_loop,
}


@dataclass
class Figure:
    """The best time of one loop on one engine."""

    instructions: int
    seconds: float

    @property
    def rate(self) -> float:
        """Return instructions per second."""
        return self.instructions / self.seconds


#: The engines compared: the interpreter, then the fast engine in each tier.
ENGINES = ("interpreter", "python", "native")


def time_vm(program: Program, profile: Profile, engine: str) -> tuple[int, float]:
    """Run ``program`` once on ``engine`` (one of :data:`ENGINES`); return (instructions,
    seconds)."""
    data = bytes(range(INPUT_SIZE))
    memory = standard_memory(program, profile, data)
    vm = Vm(program, profile=profile, helpers=test_helpers(), memory=memory,
            engine="interpreter" if engine == "interpreter" else "fast")
    with native.tier(engine == "native"):
        start = time.perf_counter()
        result = vm.run(0, (INPUT_BASE, len(data)))
        elapsed = time.perf_counter() - start
    if result.fault is not None:
        raise SystemExit(f"bench_vm: {engine} faulted: {result.fault}")
    return result.instructions, elapsed


def tail_call_bundle(length: int) -> str:
    """Return a linux bundle whose entry tail-calls through ``length`` programs."""
    names = [f"p{i}" for i in range(length)]
    entries = ", ".join(f"{i}: {name}" for i, name in enumerate(names))
    programs = []
    for i, name in enumerate(["entry", *names]):
        hook = "every, slots: 1" if name == "entry" else "tail_call"
        programs.append(f"""  {name}:
    hook: {{on: {hook}}}
    code: |
      r6 = r1
      r7 = 20
      loop:
      r7 -= 1
      if r7 != 0 goto loop
      r1 = r6
      r2 = map_idx(0) ll
      r3 = {i}
      call 12
      r0 = 0
      exit
""")
    return f"""arspec: 1
name: bench-tail-calls
profile: linux
preset: linux_like
budgets: {{per_invocation: 100000, per_slot: 400000}}
maps:
  chain: {{type: prog_array, max_entries: {length}, entries: {{{entries}}}}}
programs:
{''.join(programs)}"""


def time_tail_calls(slots: int, engine: str) -> tuple[int, float]:
    """Run the tail-call bundle for ``slots`` slots; return (compute units, seconds)."""
    from arspec.reference.runtime.runner import run_bundle
    from arspec.spec.loader import load_bundle_text
    bundle = load_bundle_text(tail_call_bundle(32), filename="<bench_vm>")
    with native.tier(engine == "native"):
        start = time.perf_counter()
        report = run_bundle(bundle, slots=slots,
                            engine="interpreter" if engine == "interpreter" else "fast")
        elapsed = time.perf_counter() - start
    return report.totals.compute_units, elapsed


def measure(scale: int, repeat: int, profiles: list[Profile], engines: tuple[str, ...]
            ) -> dict[tuple[str, str], dict[str, Figure]]:
    """Return the best figure per (profile, loop) and engine."""
    figures: dict[tuple[str, str], dict[str, Figure]] = {}
    iterations = {"interpreter": max(64, scale // 20), "python": scale, "native": 10 * scale}
    for profile in profiles:
        for name, build in LOOPS.items():
            best: dict[str, Figure] = {}
            programs = {engine: build(iterations[engine], profile) for engine in engines}
            for _ in range(repeat):
                for engine, program in programs.items():
                    count, seconds = time_vm(program, profile, engine)
                    if engine not in best or seconds < best[engine].seconds:
                        best[engine] = Figure(count, seconds)
            figures[(profile.name, name)] = best
    if any(p.name == "linux" for p in profiles):
        best = {}
        for _ in range(repeat):
            for engine in engines:
                count, seconds = time_tail_calls(max(2, scale // 500), engine)
                if engine not in best or seconds < best[engine].seconds:
                    best[engine] = Figure(count, seconds)
        figures[("linux", "tail calls")] = best
    return figures


def main() -> int:
    """Print insn/s per loop, profile and engine; with ``--check`` enforce the floors."""
    parser = argparse.ArgumentParser(description="VM engine benchmark (issue 14).")
    parser.add_argument("--scale", type=int, default=200_000,
                        help="loop iterations on the fast engine (interpreter: 1/20)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs; best is kept")
    parser.add_argument("--profile", choices=sorted(PROFILES), action="append",
                        help="profile to run (default: both)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a speed-up is below its pinned floor")
    args = parser.parse_args()
    if args.scale < 1 or args.repeat < 1:
        parser.error("--scale and --repeat must be positive")
    profiles = [PROFILES[name] for name in (args.profile or sorted(PROFILES))]
    engines = ENGINES if native.available() else ENGINES[:2]
    print(native.describe())
    figures = measure(args.scale, args.repeat, profiles, engines)
    header = f"{'profile':<8}{'loop':<13}{'interpreter insn/s':>20}{'python insn/s':>16}"
    header += f"{'speed-up':>10}"
    if "native" in engines:
        header += f"{'native insn/s':>16}{'speed-up':>10}"
    print(header)
    low = []
    for (profile, name), best in figures.items():
        interp = best["interpreter"]
        line = f"{profile:<8}{name:<13}{interp.rate:>20,.0f}"
        for engine in engines[1:]:
            floor = (NATIVE_FLOORS if engine == "native" else FLOORS)[name]
            speedup = best[engine].rate / interp.rate
            line += f"{best[engine].rate:>16,.0f}{speedup:>9.1f}x"
            if speedup < floor:
                low.append(f"{profile} {name} ({engine}): {speedup:.1f}x < {floor}x")
        print(line)
    if args.check and low:
        print("below the pinned floor: " + "; ".join(low), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
