"""
Translating one instruction
===========================

The straight-line part of :mod:`~arspec.reference.vm.translate`: what a unit knows along a
path (:class:`Known`: register bounds and values stored in memory) and the
:class:`InstructionEmitter`, which turns one ALU, load, store or ``lddw`` instruction into
Python lines: memory access sites with their caches, the stack slots promoted to locals,
and the ALU with the checks its profile asks for. The unit's control flow (blocks,
segments, calls, loops) is :class:`~arspec.reference.vm.translate.Translator`'s.
"""

from __future__ import annotations

import sys
from typing import Final

from arspec.reference.isa.instructions import (
    Alu,
    AluOp,
    Endian,
    Imm,
    Instruction,
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.vm import alu
from arspec.reference.vm.profiles import SLOT_SIZE, Profile

#: Unit statuses: the base frame exited, continue at ``vm.pc``, or the budget is nearly spent.
DONE: Final = 0
NEXT: Final = 1
BUDGET: Final = 2
M64: Final = alu.MASK64
M32: Final = alu.MASK32
_WRAP: Final = 1 << 64
#: An invariant register plus offsets: (register, least, greatest, modulus, residue).
Based = tuple[int, int, int, int, int]
#: Typed views of a window for aligned accesses (native order, so little-endian hosts only).
VIEWS: Final = sys.byteorder == "little"
_SHIFT: Final = {2: 1, 4: 2, 8: 3}
#: Largest offset from an invariant register a hoisted access may have.
_NEAR: Final = 1 << 32
#: The least offset of a register's window before any access: above every offset.
_NONE_LOW: Final = 1 << 40


class Known:
    """What is known along one path: unsigned bounds of registers, the values recent
    stores left in memory (``(base register, offset) -> (size, value register or None,
    value expression)``), which a load of the same place reads without touching memory,
    registers that hold an invariant register plus a bounded offset (``based``:
    ``register -> (invariant register, least offset, greatest offset, modulus, residue)``,
    modulo 2**64, every offset congruent to the residue), and registers known to be
    multiples of 2, 4 or 8 (``align``)."""

    def __init__(self, bounds: dict[int, tuple[int, int]] | None = None,
                 stored: dict[tuple[int, int], tuple[int, int | None, str]] | None = None,
                 based: dict[int, Based] | None = None,
                 align: dict[int, int] | None = None) -> None:
        self.bounds = dict(bounds or {})
        self.stored = dict(stored or {})
        self.based = dict(based or {})
        self.align = dict(align or {})
        #: Whether the budget check at the loop head covers this path (no helper or handler
        #: since), so its segments need not look at the budget.
        self.covered = False

    def copy(self) -> Known:
        """Return an independent copy."""
        known = Known(self.bounds, self.stored, self.based, self.align)
        known.covered = self.covered
        return known

    def get(self, reg: int) -> tuple[int, int]:
        """Return the bounds of ``reg``."""
        return self.bounds.get(reg, (0, M64))

    def set(self, reg: int, bounds: tuple[int, int]) -> None:
        """Record that ``reg`` was written with a value within ``bounds``."""
        self.drop(reg)
        self.bounds[reg] = bounds

    def narrow(self, reg: int, bounds: tuple[int, int]) -> None:
        """Record that ``reg`` (not written) lies within ``bounds``."""
        self.bounds[reg] = bounds

    def drop(self, reg: int) -> None:
        """Record that ``reg`` was written with an unknown value."""
        self.bounds.pop(reg, None)
        self.based.pop(reg, None)
        self.align.pop(reg, None)
        self.stored = {place: value for place, value in self.stored.items()
                       if place[0] != reg and value[1] != reg}

    def reset(self) -> None:
        """Forget everything (after a call or a helper)."""
        self.bounds.clear()
        self.stored.clear()
        self.based.clear()
        self.align.clear()

    def holds_in(self, other: Known) -> bool:
        """Return whether every bound of this one holds in ``other`` (stores aside)."""
        for reg, (lo, hi) in self.bounds.items():
            olo, ohi = other.get(reg)
            if olo < lo or ohi > hi:
                return False
        return True

    def returned(self) -> Known:
        """Return what survives a return to the caller: r0-r5 bounds."""
        known = Known({r: b for r, b in self.bounds.items() if r < 6})
        known.covered = self.covered
        return known

    def wrote(self, base: int, offset: int, size: int) -> None:
        """Forget stored values a store of ``size`` bytes at ``base + offset`` may overlap."""
        self.stored = {place: value for place, value in self.stored.items()
                       if place[0] == base and (place[1] + value[0] <= offset
                                                or offset + size <= place[1])}


def bounds_of(facts: Known, reg: int) -> tuple[int, int]:
    return facts.get(reg)


def _span(hi: int) -> int:
    return (1 << hi.bit_length()) - 1


def _generic(pc: int, insn: Alu, d: str, s: str) -> str:
    return (f"{d} = alu.compute_alu(AluOp.{insn.op.name}, {d}, {s}, is64={insn.is64}, "
            f"profile=profile, pc={pc})")


class AluEmitter:
    """Emits the lines of ALU instructions (no memory access, no pointer bases)."""

    profile: Profile

    def alignment(self, insn: Alu, facts: Known) -> int:
        """Return the power of two (at most 8) the result of ``insn`` is a multiple of."""
        if not insn.is64:
            return 1
        mine = facts.align.get(insn.dst, 1)
        if isinstance(insn.src, Imm):
            k = alu.immediate(insn.src.value, True)
            theirs = min(8, k & -k) if k else 8
            if insn.op is AluOp.LSH:
                return min(8, mine << min(k & 63, 3))
        else:
            theirs = facts.align.get(insn.src.index, 1)
        if insn.op is AluOp.MOV:
            return theirs
        if insn.op is AluOp.AND:
            return max(mine, theirs)
        if insn.op in (AluOp.ADD, AluOp.SUB):
            return min(mine, theirs)
        return 1

    def alu_lines(self, pc: int, insn: Alu, facts: Known) -> list[str]:
        d = f"r{insn.dst}"
        if isinstance(insn.src, Reg):
            s = f"r{insn.src.index}"
            slo, shi = bounds_of(facts, insn.src.index)
        else:
            value = alu.immediate(insn.src.value, insn.is64)
            s, slo, shi = str(value), value, value
        dlo, dhi = bounds_of(facts, insn.dst)
        op = insn.op
        if not insn.is64:
            return self.alu32(pc, insn, d, s, facts)
        if op is AluOp.MOV:
            facts.set(insn.dst, (slo, shi))
            return [f"{d} = {s}"]
        if op in (AluOp.ADD, AluOp.SUB) and isinstance(insn.src, Imm) and shi > 1 << 63:
            # Adding -k is subtracting k (and the other way round): no big constant.
            op = AluOp.SUB if op is AluOp.ADD else AluOp.ADD
            s = str(_WRAP - shi)
            slo = shi = _WRAP - shi
        if op is AluOp.ADD:
            if dhi + shi <= M64:
                facts.set(insn.dst, (dlo + slo, dhi + shi))
                return [f"{d} = {d} + {s}"]
            facts.drop(insn.dst)
            return [f"{d} = {d} + {s}", f"if {d} > {M64}: {d} -= {_WRAP}"]
        if op is AluOp.SUB:
            if dlo >= shi:
                facts.set(insn.dst, (dlo - shi, dhi - slo))
                return [f"{d} = {d} - {s}"]
            facts.drop(insn.dst)
            return [f"{d} = {d} - {s}", f"if {d} < 0: {d} += {_WRAP}"]
        if op is AluOp.MUL:
            if dhi * shi <= M64:
                facts.set(insn.dst, (dlo * slo, dhi * shi))
                return [f"{d} = {d} * {s}"]
            facts.drop(insn.dst)
            return [f"{d} = {d} * {s} & {M64}"]
        if op is AluOp.AND:
            facts.set(insn.dst, (0, min(dhi, shi)))
            return [f"{d} = {d} & {s}"]
        if op in (AluOp.OR, AluOp.XOR):
            facts.set(insn.dst, (0, _span(max(dhi, shi))))
            return [f"{d} = {d} {'|' if op is AluOp.OR else '^'} {s}"]
        if op is AluOp.RSH:
            if isinstance(insn.src, Imm):
                k = shi & 63
                facts.set(insn.dst, (dlo >> k, dhi >> k))
                return [f"{d} = {d} >> {k}"]
            facts.set(insn.dst, (0, dhi))
            return [f"{d} = {d} >> ({s} & 63)"]
        if op is AluOp.LSH:
            if isinstance(insn.src, Imm):
                k = shi & 63
                if dhi << k <= M64:
                    facts.set(insn.dst, (dlo << k, dhi << k))
                    return [f"{d} = {d} << {k}"]
                facts.drop(insn.dst)
                return [f"{d} = ({d} << {k}) & {M64}"]
            facts.drop(insn.dst)
            return [f"{d} = ({d} << ({s} & 63)) & {M64}"]
        facts.drop(insn.dst)
        return [_generic(pc, insn, d, s)]

    def alu32(self, pc: int, insn: Alu, d: str, s: str, facts: Known) -> list[str]:
        op = insn.op
        facts.drop(insn.dst)
        if isinstance(insn.src, Imm):
            s = str(int(s) & M32)
        if op in alu.SIGN_EXTENDED_ALU32 and self.profile.sign_extend_alu32_arith:
            symbol = {AluOp.ADD: "+", AluOp.SUB: "-", AluOp.MUL: "*"}[op]
            return [f"{d} = ({d} {symbol} {s}) & {M32}",
                    f"if {d} > {M32 >> 1}: {d} += {M64 - M32}"]
        table = {
            AluOp.ADD: "({d} + {s}) & M32", AluOp.SUB: "({d} - {s}) & M32",
            AluOp.MUL: "({d} * {s}) & M32", AluOp.OR: "({d} | {s}) & M32",
            AluOp.AND: "{d} & {s} & M32", AluOp.XOR: "({d} ^ {s}) & M32", AluOp.MOV: "{s} & M32",
            AluOp.LSH: "(({d} & M32) << ({s} & 31)) & M32", AluOp.RSH: "({d} & M32) >> ({s} & 31)",
        }
        if op in table:
            if op is AluOp.MOV and isinstance(insn.src, Imm):
                value = int(s)
                facts.set(insn.dst, (value, value))
                return [f"{d} = {value}"]
            facts.set(insn.dst, (0, M32))
            return [f"{d} = " + table[op].replace("M32", str(M32)).format(d=d, s=s)]
        return [_generic(pc, insn, d, s)]


class InstructionEmitter(AluEmitter):
    """Emits the lines of straight-line instructions and their memory access sites."""

    def __init__(self, profile: Profile, promote: dict[tuple[int, int], int],
                 invariant: frozenset[int] = frozenset()) -> None:
        self.profile = profile
        #: Registers the unit never writes (r10 included only when it does not move it):
        #: accesses at one of them plus a bounded offset use one window per register,
        #: checked once at entry and after every helper or handler (:meth:`hoist_lines`).
        self.invariant = invariant
        #: Invariant register -> [least, greatest offset, least and greatest register
        #: offset, written]: the bytes its hoisted accesses touch, relative to it.
        self.hoisted: dict[int, list[int]] = {}
        #: Typed views of the hoisted windows: (register, access size, address modulo it).
        self.views: set[tuple[int, int, int]] = set()
        #: Stack slots ``(r10 offset, size) -> number`` kept in locals ``v<number>``: read at
        #: entry, written back at every way out and before anything else may see memory.
        self.promote = promote
        #: The r10 accesses ``(offset, size)`` emitted.
        self.r10_accesses: set[tuple[int, int]] = set()
        self.sites = 0
        #: Sites that address through r10: (cache name, offset, size).
        self.stack_sites: list[tuple[str, int, int]] = []
        #: Registers the unit's code may write (the others keep the values read at entry).
        self.written: set[int] = set()
        #: Whether the unit runs an interpreter handler, which may write any register.
        self.clobbers = False

    def wrote(self, insn: Instruction) -> None:
        """Record the register a straight instruction writes (a store writes none)."""
        if not isinstance(insn, Store):
            self.written.add(getattr(insn, "dst", 0))

    def promote_prologue(self) -> list[str]:
        """Return the lines that find the promoted slots in r10's frame and read them (or
        hand the run to the plain unit when one is not inside it)."""
        if not self.promote:
            return []
        low = min(offset for offset, _ in self.promote)
        high = max(offset + size for offset, size in self.promote)
        checks = " and ".join(f"0 <= i{k} <= proom - {size}"
                              for (offset, size), k in self.promote.items())
        lines = ["    psb, pst = memory.window(r10 - 1, write=True)", "    proom = len(pst)",
                 *(f"    i{k} = r10 - psb + {offset}"
                   for (offset, size), k in self.promote.items()),
                 f"    if DEMOTED or not ({checks}): return PLAIN(vm)",
                 f"    plo = r10 + {low}; phi = r10 + {high}"]
        return lines + ["    " + line for line in self.reload()]

    def demote(self, pc: int, address: str) -> list[str]:
        """Return the lines before a cache miss of a site not based on r10: when the window
        it would cache holds a promoted slot, the unit stops before ``pc`` (giving back the
        count of the rest of its segment) and the plain unit runs from then on."""
        return [f"    if OVERLAP(memory, {address}, plo, phi):",
                f"        n -= AFTER[s][{pc}] + 1; pc = {pc}; DEMOTED.append(True); "
                f"return {NEXT}"]

    def flush(self) -> list[str]:
        """Return the lines that write the promoted slots back to memory."""
        return [f"pst[i{k}] = v{k}" if size == 1 else f"P{size}(pst, i{k}, v{k})"
                for (_, size), k in self.promote.items()]

    def reload(self) -> list[str]:
        """Return the lines that read the promoted slots from memory."""
        return [f"v{k} = pst[i{k}]" if size == 1 else f"v{k} = G{size}(pst, i{k})[0]"
                for (_, size), k in self.promote.items()]

    def straight(self, pc: int, insn: Instruction, facts: Known) -> list[str]:
        if isinstance(insn, Alu):
            return self.alu(pc, insn, facts)
        if isinstance(insn, Load):
            return self.load(pc, insn, facts)
        if isinstance(insn, Store):
            return self.store(pc, insn, facts)
        if isinstance(insn, LoadImm64):
            if insn.pseudo not in (Pseudo.IMM64, Pseudo.CODE_ADDR):
                facts.drop(insn.dst)
                return [f"r{insn.dst} = PSEUDO(vm, {pc}, ops[{pc}][1])"]
            if insn.pseudo is Pseudo.CODE_ADDR:
                value = (self.profile.code_base + SLOT_SIZE * (pc + 1 + insn.imm)) & M64
            else:
                value = insn.value
            facts.set(insn.dst, (value, value))
            return [f"r{insn.dst} = {value}"]
        d = f"r{getattr(insn, 'dst', 0)}"
        if isinstance(insn, Neg):
            facts.drop(insn.dst)
            return [f"{d} = -{d} & {M64 if insn.is64 else M32}"]
        facts.drop(getattr(insn, "dst", 0))
        if isinstance(insn, MovSx):
            return [f"{d} = alu.compute_movsx(r{insn.src}, {insn.bits}, {insn.is64})"]
        assert isinstance(insn, Endian)
        return [f"{d} = alu.compute_endian(EndianOp.{insn.op.name}, {d}, {insn.width})"]

    def site(self, base: int, offset: int, size: int) -> str:
        """Return a new access site's cache name; ``base`` is its address register."""
        name = f"c{self.sites}"
        self.sites += 1
        if base == 10:
            self.stack_sites.append((name, offset, size))
        return name

    def stack_caches(self, indent: str) -> list[str]:
        """Return lines that point the r10-based sites at the stack region, which they reach
        unless r10 was moved out of it (they then miss and go through memory)."""
        if not self.stack_sites:
            return []
        # The window is r10's frame (Linux) or chunk (SBPFv0), only what lies below r10.
        lines = [f"{indent}sb, stack = memory.window(r10 - 1)",
                 f"{indent}room = len(stack)"]
        for name, offset, size in self.stack_sites:
            lines.append(f"{indent}{name}b = sb + {-offset}; {name}d = stack; "
                         f"{name}l = room - {size}")
        return lines

    def load(self, pc: int, insn: Load, facts: Known) -> list[str]:
        size, d = insn.size, f"r{insn.dst}"
        if insn.src == 10:
            self.r10_accesses.add((insn.offset, size))
        mask = (1 << (8 * size)) - 1
        known = facts.stored.get((insn.src, insn.offset))
        if known is not None and known[0] >= size:
            # A store on this path put this value here (so the access is valid), and
            # nothing since could have changed it.
            _, source, expr = known
            fits = source is not None and bounds_of(facts, source)[1] <= mask
            value = expr if fits or size == 8 else (
                str(int(expr) & mask) if source is None else f"{expr} & {mask}")
            lines = [f"{d} = {value}"]
        else:
            lines = self.load_site(pc, insn, facts)
        if insn.signed and size < 8:
            lines.append(f"if {d} > {mask >> 1}: {d} += {M64 - mask}")
            facts.drop(insn.dst)
        else:
            facts.set(insn.dst, (0, mask))
        return lines

    def load_site(self, pc: int, insn: Load, facts: Known) -> list[str]:
        slot = self.promote.get((insn.offset, insn.size)) if insn.src == 10 else None
        if slot is not None:
            return [f"r{insn.dst} = v{slot}"]
        hoisted = self.hoist(facts, insn.src, insn.offset, insn.size, write=False)
        if hoisted is not None:
            place, index = hoisted
            if index is None:
                return [f"r{insn.dst} = {place}"]
            return [f"r{insn.dst} = G{insn.size}({place}, {index})[0]"]
        c, size, d = self.site(insn.src, insn.offset, insn.size), insn.size, f"r{insn.dst}"
        src = f"r{insn.src}"
        address = src if insn.offset == 0 else f"({src} + {insn.offset}) & {M64}"
        fast = f"{c}d[o]" if size == 1 else f"G{size}({c}d, o)[0]"
        if self.promote and insn.src != 10:
            return [f"o = {src} - {c}b",
                    f"if 0 <= o <= {c}l: {d} = {fast}",
                    "else:", *self.demote(pc, address),
                    f"    {d}, {c}b, {c}d, {c}l = LOAD(memory, {pc}, {address}, {size}, "
                    f"{insn.offset})"]
        return [f"o = {src} - {c}b",
                f"if 0 <= o <= {c}l: {d} = {fast}",
                f"else: {d}, {c}b, {c}d, {c}l = LOAD(memory, {pc}, {address}, {size}, "
                f"{insn.offset})"]

    def store(self, pc: int, insn: Store, facts: Known) -> list[str]:
        size = insn.size
        slot = None
        if insn.dst == 10:
            self.r10_accesses.add((insn.offset, size))
            slot = self.promote.get((insn.offset, size))
        mask = (1 << (8 * size)) - 1
        if isinstance(insn.value, Reg):
            full = f"r{insn.value.index}"
            fits = bounds_of(facts, insn.value.index)[1] <= mask
            value = full if fits else f"{full} & {mask}"
        else:
            value = full = str(insn.value.value & M64 & mask)
        dst = f"r{insn.dst}"
        address = dst if insn.offset == 0 else f"({dst} + {insn.offset}) & {M64}"
        hoisted = None if slot is not None else self.hoist(facts, insn.dst, insn.offset, size,
                                                            write=True)
        facts.wrote(insn.dst, insn.offset, size)
        source = insn.value.index if isinstance(insn.value, Reg) else None
        if source != insn.dst:
            facts.stored[(insn.dst, insn.offset)] = (size, source, full)
        if slot is not None:
            return [f"v{slot} = {value}"]
        if hoisted is not None:
            place, index = hoisted
            return [f"{place} = {value}" if index is None
                    else f"P{size}({place}, {index}, {value})"]
        c = self.site(insn.dst, insn.offset, insn.size)
        fast = f"{c}d[o] = {value}" if size == 1 else f"P{size}({c}d, o, {value})"
        if self.promote and insn.dst != 10:
            return [f"o = {dst} - {c}b",
                    f"if 0 <= o <= {c}l: {fast}",
                    "else:", *self.demote(pc, address),
                    f"    {c}b, {c}d, {c}l = STORE(memory, {pc}, {address}, {size}, {full}, "
                    f"{insn.offset})"]
        return [f"o = {dst} - {c}b",
                f"if 0 <= o <= {c}l: {fast}",
                f"else: {c}b, {c}d, {c}l = STORE(memory, {pc}, {address}, {size}, {full}, "
                f"{insn.offset})"]

    def based_of(self, facts: Known, reg: int) -> Based | None:
        """Return ``reg`` as an invariant register plus offsets, if known."""
        if reg in self.invariant:
            return reg, 0, 0, 8, 0
        return facts.based.get(reg)

    def rebase(self, insn: Alu, facts: Known) -> Based | None:
        """Return what the 64-bit ``insn`` leaves in its destination as an invariant
        register plus a bounded offset, if it does (``mov``, ``add``, ``sub``)."""
        if not self.invariant or not insn.is64:
            return None
        found: Based | None = None
        if isinstance(insn.src, Imm):
            k = alu.immediate(insn.src.value, True)
            k = k - _WRAP if k > M64 >> 1 else k
            here = self.based_of(facts, insn.dst)
            if here is not None and insn.op in (AluOp.ADD, AluOp.SUB):
                k = k if insn.op is AluOp.ADD else -k
                base, lo, hi, modulus, residue = here
                found = base, lo + k, hi + k, modulus, (residue + k) % modulus
        elif insn.op is AluOp.MOV:
            found = self.based_of(facts, insn.src.index)
        elif insn.op is AluOp.ADD:
            for a, b in ((insn.dst, insn.src.index), (insn.src.index, insn.dst)):
                here, (lo, hi) = self.based_of(facts, a), bounds_of(facts, b)
                if here is not None and hi <= _NEAR:
                    base, least, greatest, modulus, residue = here
                    if lo == hi:
                        residue = (residue + lo) % modulus
                    else:
                        modulus = min(modulus, facts.align.get(b, 1))
                        residue %= modulus
                    found = base, least + lo, greatest + hi, modulus, residue
                    break
        if found is None or not -_NEAR <= found[1] <= found[2] <= _NEAR:
            return None
        return found

    def hoist(self, facts: Known, reg: int, offset: int, size: int, *,
              write: bool) -> tuple[str, str | None] | None:
        """Return how an access of ``size`` bytes at ``reg + offset`` reads and writes when
        ``reg`` is an invariant register plus a bounded offset (its range joins that
        register's window): ``(place, None)`` for a subscript (a byte, or a typed view of
        the window when the address is aligned), ``(window, index)`` for a ``struct`` call;
        else ``None``."""
        found = self.based_of(facts, reg)
        if found is None:
            return None
        base, lo, hi, modulus, residue = found
        entry = self.require(found)
        entry[0] = min(entry[0], lo + offset)
        entry[1] = max(entry[1], hi + offset + size)
        entry[4] |= write
        shift = (f" + {offset}" if offset > 0 else f" - {-offset}" if offset else "")
        if size == 1:
            return f"w{base}d[r{reg} - w{base}o{shift}]", None
        if VIEWS and modulus >= size:
            # Every address this site reaches is base + the same residue modulo ``size``.
            phase = (residue + offset) % size
            self.views.add((base, size, phase))
            view = f"w{base}q{size}_{phase}"
            return (f"{view}[(r{reg} - w{base}z{size}_{phase}{shift}) >> {_SHIFT[size]}]",
                    None)
        return f"w{base}d", f"r{reg} - w{base}o{shift}"

    def require(self, based: Based) -> list[int]:
        """Record that the invariant register plus every offset of ``based`` must stay
        within 0 and 2**64 - 1 (checked with the windows); return the register's entry."""
        base, lo, hi, _, _ = based
        entry = self.hoisted.setdefault(base, [_NONE_LOW, -_NONE_LOW, lo, hi, 0])
        entry[2], entry[3] = min(entry[2], lo), max(entry[3], hi)
        return entry

    def slots_in_window(self) -> bool:
        """Return whether the hoisted window of r10 holds a promoted slot."""
        window = self.hoisted.get(10)
        return window is not None and any(window[0] < offset + size and offset < window[1]
                                          for offset, size in self.promote)

    def hoist_lines(self, fail: str) -> list[str]:
        """Return the lines that (re)take every hoisted window, running ``fail`` when one
        is not one run of valid addresses clear of the promoted slots."""
        def views(base: int) -> list[tuple[int, int]]:
            return sorted((size, phase) for b, size, phase in self.views if b == base)

        ranges = ", ".join(f"(r{base}, {lo if lo < hi else 0}, {hi if lo < hi else 0}, "
                           f"{klo}, {khi}, {bool(write)}, {tuple(views(base))})"
                           for base, (lo, hi, klo, khi, write) in sorted(self.hoisted.items()))
        names = ", ".join(f"w{base}o, w{base}d" + "".join(
            f", w{base}z{size}_{phase}, w{base}q{size}_{phase}" for size, phase in views(base))
            for base in sorted(self.hoisted))
        slots = "plo, phi" if self.promote else "0, 0"
        return [f"hw = HOIST(memory, ({ranges},), {slots})", f"if hw is None: {fail}",
                f"{names} = hw"]

    def alu(self, pc: int, insn: Alu, facts: Known) -> list[str]:
        based = self.rebase(insn, facts)
        if based is not None and insn.op is not AluOp.MOV:
            # An add or sub whose result the entry check keeps within 0 and 2**64 - 1.
            self.require(based)
            facts.drop(insn.dst)
            facts.based[insn.dst] = based
            d = f"r{insn.dst}"
            if isinstance(insn.src, Reg):
                return [f"{d} = {d} + r{insn.src.index}"]
            step = alu.immediate(insn.src.value, True)
            step = step - _WRAP if step > M64 >> 1 else step
            step = step if insn.op is AluOp.ADD else -step
            return [f"{d} = {d} + {step}" if step >= 0 else f"{d} = {d} - {-step}"]
        align = self.alignment(insn, facts)
        lines = self.alu_lines(pc, insn, facts)
        if based is not None:
            facts.based[insn.dst] = based
        if align > 1:
            facts.align[insn.dst] = align
        return lines

