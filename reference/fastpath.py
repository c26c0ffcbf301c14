"""
Fast path
=========

A compiled engine pinned to the interpreter: the decoded program is turned into Python
source, one branch per basic block, exec'd once and cached per (program, profile).

Registers live in local variables; each block charges its whole instruction count on entry.
Instructions that are rare or need the machine's full state (helper calls, kfuncs, ``callx``,
atomics, packet loads, map ``lddw`` forms, invalid instructions, jumps to bad targets) are not
compiled: the block ends before them and the interpreter steps them. When a block does not fit
in the remaining budget, the interpreter runs from that block on, so
:class:`~arspec.spec.errors.InstructionLimit` lands on the same pc. A fault inside a block is
re-counted from its pc, so the result (r0, counters, fault kind, pc, address) is the
interpreter's. ``tests/test_fastpath.py`` checks that on generated programs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from arspec.spec.errors import ExecutionFault

from . import alu
from .instructions import (
    Alu,
    AluOp,
    CallLocal,
    Endian,
    Exit,
    Imm,
    Instruction,
    Ja,
    JmpCond,
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
from .memory import FORMATS as _FORMATS
from .profiles import SLOT_SIZE, STACK_BASE, STACK_REGION, Profile

if TYPE_CHECKING:
    from .vm import Vm

CompiledProgram = Callable[["Vm"], int]

#: Statuses a compiled program returns to :func:`run_fast`.
DONE: Final = 0
STEP: Final = 1
BUDGET: Final = 2
_CACHE_SIZE: Final = 64
_M64: Final = "0xFFFFFFFFFFFFFFFF"
_M32: Final = "0xFFFFFFFF"
_S64: Final = 1 << 63
_S32: Final = 1 << 31

_cache: OrderedDict[tuple[Program, Profile], CompiledProgram] = OrderedDict()


class _Leave(Exception):
    """Leave the compiled code with a status."""

    def __init__(self, status: int) -> None:
        self.status = status


def run_fast(vm: Vm) -> None:
    """Run ``vm`` from its pc until its base frame exits; faults propagate as in the loop."""
    compiled = compile_program(vm.program, vm.profile)
    while not vm.stopped:
        status = compiled(vm)
        if status == BUDGET:
            vm.run_interpreter()
        elif status == STEP:
            vm.step()


def compile_program(program: Program, profile: Profile) -> CompiledProgram:
    """Return the compiled form of ``program`` under ``profile`` (cached)."""
    key = (program, profile)
    compiled = _cache.get(key)
    if compiled is None:
        compiled = _Compiler(program, profile).build()
        _cache[key] = compiled
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return compiled


def _compilable(program: Program, pc: int, insn: Instruction) -> bool:
    from .vm import instruction_problem
    if instruction_problem(insn) is not None:
        return False
    if isinstance(insn, Jump | Ja | CallLocal):
        target = pc + 1 + insn.offset
        return 0 <= target < len(program) and program.slots[target] is not None
    if isinstance(insn, LoadImm64):
        return insn.pseudo in (Pseudo.IMM64, Pseudo.CODE_ADDR)
    return isinstance(insn, Alu | Neg | MovSx | Endian | Load | Store | Exit)


_TERMINATORS: Final = (Jump, Ja, CallLocal, Exit)


class _Compiler:
    """Generates the source of one program's compiled function."""

    def __init__(self, program: Program, profile: Profile) -> None:
        self.program = program
        self.profile = profile
        self.ok = {pc: _compilable(program, pc, insn) for pc, insn in program.instructions()}
        self.positions: dict[int, tuple[int, int]] = {}

    def leaders(self) -> list[int]:
        found = {0}
        for pc, insn in self.program.instructions():
            nxt = pc + (2 if isinstance(insn, LoadImm64) else 1)
            if isinstance(insn, _TERMINATORS) or not self.ok[pc]:
                found.add(nxt)
            if self.ok[pc] and isinstance(insn, Jump | Ja | CallLocal):
                found.add(pc + 1 + insn.offset)
        return sorted(pc for pc in found if pc < len(self.program) and self.ok.get(pc))

    def build(self) -> CompiledProgram:
        leaders = self.leaders()
        blocks = {start: self.block(start, set(leaders)) for start in leaders}
        lines = [
            "def compiled(vm):",
            "    r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 = vm.regs",
            "    frames = vm.frames",
            "    base = vm.base_depth",
            "    load = vm.memory.load",
            "    store = vm.memory.store",
            f"    stack = vm.memory.writable_view({STACK_REGION})",
            "    room1, room2, room4, room8 = (len(stack) - size for size in (1, 2, 4, 8))",
            "    pc = vm.pc",
            "    n = 0",
            f"    cap = (vm.compute_limit - vm.units) // {self.profile.insn_cost}",
            "    status = STEP",
            "    try:",
            "        while True:",
            *self.tree(leaders, blocks, 3),
            "            raise Leave(STEP)",
            "    except Leave as leave:",
            "        status = leave.status",
            "    except ExecutionFault as fault:",
            "        size, done = POSITIONS[fault.pc]",
            "        n += done - size",
            "        raise",
            "    finally:",
            "        vm.regs[:] = (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)",
            "        vm.pc = pc",
            "        vm.instructions += n",
            f"        vm.units += n * {self.profile.insn_cost}",
            "    return status",
        ]
        from .vm import call_depth_fault
        namespace: dict[str, object] = {
            "Leave": _Leave, "STEP": STEP, "BUDGET": BUDGET, "DONE": DONE,
            "ExecutionFault": ExecutionFault, "POSITIONS": self.positions,
            "alu": alu, "profile": self.profile, "AluOp": AluOp,
            **{f"get{size}": fmt.unpack_from for size, fmt in _FORMATS.items()},
            **{f"put{size}": fmt.pack_into for size, fmt in _FORMATS.items()},
            "depth_fault": call_depth_fault,
        }
        exec(compile("\n".join(lines), "<arspec fastpath>", "exec"), namespace)
        compiled: CompiledProgram = namespace["compiled"]  # type: ignore[assignment]
        return compiled

    def tree(self, leaders: list[int], blocks: dict[int, list[str]], depth: int) -> list[str]:
        pad = "    " * depth
        if len(leaders) <= 4:
            out: list[str] = []
            for start in leaders:
                out.append(f"{pad}if pc == {start}:")
                out.extend("    " * (depth + 1) + line for line in blocks[start])
            return out
        mid = len(leaders) // 2
        return [f"{pad}if pc < {leaders[mid]}:", *self.tree(leaders[:mid], blocks, depth + 1),
                f"{pad}else:", *self.tree(leaders[mid:], blocks, depth + 1)]

    def block(self, start: int, leaders: set[int]) -> list[str]:
        body: list[str] = []
        pcs: list[int] = []
        pc = start
        end: list[str] | None = None
        loop_back: list[str] | None = None
        while True:
            insn = self.program.slots[pc]
            if (pc != start and pc in leaders) or insn is None or not self.ok.get(pc):
                end = [f"pc = {pc}", "continue" if pc in leaders else "raise Leave(STEP)"]
                break
            pcs.append(pc)
            if isinstance(insn, _TERMINATORS):
                end, loop_back = self.terminator(pc, insn, start)
                break
            body.extend(self.straight(pc, insn))
            pc += 2 if isinstance(insn, LoadImm64) else 1
            if pc >= len(self.program):
                end = [f"pc = {pc}", "raise Leave(STEP)"]
                break
        size = len(pcs)
        for done, p in enumerate(pcs, 1):
            self.positions[p] = (size, done)
        charge = [f"n += {size}",
                  f"if n > cap: n -= {size}; pc = {start}; raise Leave(BUDGET)"]
        if loop_back is None:
            return charge + body + end
        inner = charge + body + loop_back
        return ["while True:", *("    " + line for line in inner), *end]

    def terminator(self, pc: int, insn: Instruction,
                   start: int) -> tuple[list[str], list[str] | None]:
        if isinstance(insn, Exit):
            return [f"pc = {pc}",
                    "if len(frames) == base: vm.stopped = True; raise Leave(DONE)",
                    "pc, r6, r7, r8, r9, r10 = frames.pop()",
                    f"vm.memory.stack_top = r10 - {STACK_BASE}", "continue"], None
        if isinstance(insn, CallLocal):
            limit = self.profile.max_frames - 1
            return [f"if len(frames) >= {limit}: raise depth_fault({pc}, profile)",
                    f"frames.append(({pc + 1}, r6, r7, r8, r9, r10))",
                    f"r10 += {self.profile.frame_stride}",
                    f"vm.memory.stack_top = r10 - {STACK_BASE}",
                    f"pc = {pc + 1 + insn.offset}", "continue"], None
        assert isinstance(insn, Jump | Ja)
        target = pc + 1 + insn.offset
        if isinstance(insn, Ja):
            if target == start:
                return [], []
            return [f"pc = {target}", "continue"], None
        cond = _condition(insn)
        if target == start:
            return [f"pc = {pc + 1}", "continue"], [f"if {cond}: continue", "break"]
        return [f"if {cond}: pc = {target}; continue", f"pc = {pc + 1}", "continue"], None

    def straight(self, pc: int, insn: Instruction) -> list[str]:
        if isinstance(insn, Alu):
            return [_alu_line(pc, insn, self.profile)]
        if isinstance(insn, Neg):
            return [f"r{insn.dst} = alu.compute_neg(r{insn.dst}, {insn.is64})"]
        if isinstance(insn, MovSx):
            return [f"r{insn.dst} = alu.compute_movsx(r{insn.src}, {insn.bits}, {insn.is64})"]
        if isinstance(insn, Endian):
            return [f"r{insn.dst} = alu.compute_endian(alu.EndianOp.{insn.op.name}, "
                    f"r{insn.dst}, {insn.width})"]
        if isinstance(insn, Load):
            return _load_lines(pc, insn)
        if isinstance(insn, Store):
            return _store_lines(pc, insn)
        assert isinstance(insn, LoadImm64)
        if insn.pseudo is Pseudo.CODE_ADDR:
            constant = (self.profile.code_base + SLOT_SIZE * (pc + 1 + insn.imm)) & alu.MASK64
        else:
            constant = insn.value
        return [f"r{insn.dst} = {constant}"]


def _stack_offset(reg: int, offset: int) -> str:
    return f"o = r{reg} + {offset - STACK_BASE}"


def _load_lines(pc: int, insn: Load) -> list[str]:
    # Stack accesses that are in bounds skip the generic region lookup.
    size, dst = insn.size, f"r{insn.dst}"
    lines = [_stack_offset(insn.src, insn.offset),
             f"if 0 <= o <= room{size}: {dst} = get{size}(stack, o)[0]",
             f"else: {dst} = load({pc}, {_address(insn.src, insn.offset)}, {size})"]
    if insn.signed:
        lines.append(f"{dst} = alu.sign_extend({dst}, {8 * size})")
    return lines


def _store_lines(pc: int, insn: Store) -> list[str]:
    size, mask = insn.size, (1 << (8 * insn.size)) - 1
    if isinstance(insn.value, Reg):
        value = f"r{insn.value.index}" + ("" if size == 8 else f" & {mask}")
        full = f"r{insn.value.index}"
    else:
        value = full = str(insn.value.value & alu.MASK64 & mask)
    return [_stack_offset(insn.dst, insn.offset),
            f"if 0 <= o <= room{size}: put{size}(stack, o, {value})",
            f"else: store({pc}, {_address(insn.dst, insn.offset)}, {size}, {full})"]


def _address(reg: int, offset: int) -> str:
    return f"r{reg}" if offset == 0 else f"(r{reg} + {offset}) & {_M64}"


def _operand(src: Reg | Imm, is64: bool) -> str:
    if isinstance(src, Reg):
        return f"r{src.index}"
    return str(alu.immediate(src.value, is64))


_INLINE64: Final = {
    AluOp.ADD: "({d} + {s}) & M64", AluOp.SUB: "({d} - {s}) & M64",
    AluOp.MUL: "({d} * {s}) & M64",
    AluOp.OR: "{d} | {s}", AluOp.AND: "{d} & {s}", AluOp.XOR: "{d} ^ {s}", AluOp.MOV: "{s}",
    AluOp.LSH: "({d} << ({s} & 63)) & M64", AluOp.RSH: "{d} >> ({s} & 63)",
}
_INLINE32: Final = {
    AluOp.ADD: "({d} + {s}) & M32", AluOp.SUB: "({d} - {s}) & M32",
    AluOp.MUL: "({d} * {s}) & M32",
    AluOp.OR: "({d} | {s}) & M32", AluOp.AND: "{d} & {s} & M32", AluOp.XOR: "({d} ^ {s}) & M32",
    AluOp.MOV: "{s} & M32", AluOp.LSH: "(({d} & M32) << ({s} & 31)) & M32",
    AluOp.RSH: "({d} & M32) >> ({s} & 31)",
}


def _alu_line(pc: int, insn: Alu, profile: Profile) -> str:
    d, s = f"r{insn.dst}", _operand(insn.src, insn.is64)
    table = _INLINE64 if insn.is64 else _INLINE32
    sign_extends = profile.sign_extend_alu32_arith and insn.op in alu.SIGN_EXTENDED_ALU32
    if insn.op in table and (insn.is64 or not sign_extends):
        expr = table[insn.op].replace("M64", _M64).replace("M32", _M32)
        return f"{d} = " + expr.format(d=d, s=s)
    return (f"{d} = alu.compute_alu(AluOp.{insn.op.name}, {d}, {s}, is64={insn.is64}, "
            f"profile=profile, pc={pc})")


_RELATION: Final = {
    JmpCond.EQ: "==", JmpCond.NE: "!=", JmpCond.GT: ">", JmpCond.GE: ">=", JmpCond.LT: "<",
    JmpCond.LE: "<=", JmpCond.SGT: ">", JmpCond.SGE: ">=", JmpCond.SLT: "<", JmpCond.SLE: "<=",
}
_SIGNED: Final = frozenset({JmpCond.SGT, JmpCond.SGE, JmpCond.SLT, JmpCond.SLE})


def _condition(insn: Jump) -> str:
    mask = "" if insn.is64 else f" & {_M32}"
    sign = 0
    if insn.cond in _SIGNED:
        sign = _S64 if insn.is64 else _S32
    flip = f" ^ {sign}" if sign else ""
    a = f"((r{insn.dst}{mask}){flip})"
    if isinstance(insn.src, Reg):
        b = f"((r{insn.src.index}{mask}){flip})"
    else:
        b = str(alu.immediate(insn.src.value, insn.is64) ^ sign)
    if insn.cond is JmpCond.SET:
        return f"{a} & {b}"
    return f"{a} {_RELATION[insn.cond]} {b}"
