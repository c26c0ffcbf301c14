"""
Fast path
=========

The fast engine: the interpreter, plus translation of hot code into Python functions
(:mod:`arspec.reference.vm.translate`) pinned to the interpreter's results.

The engine interprets until a pc that control jumps to (a jump or call target, a return
address, the entry) has been reached :data:`HOT` times (a loop head) or
``HOT * STRAIGHT`` times (any other); it then translates the code
reachable from that pc, up to :data:`~arspec.reference.vm.translate.MAX_UNIT` instructions, into
a *unit* and runs it from then on. So code that runs once is never translated, a long
straight program costs what the interpreter costs, translation work is bounded per unit, and
at most :data:`MAX_TRANSLATED` instructions are translated per program (beyond that the
interpreter runs). Translations are cached per (program, profile), so the runtime and the
explorer, which run the same programs many times, pay for them once.

While a ``bpf_spin_lock`` is held or a ring-buffer dynptr is live
(:attr:`Vm.guarded <arspec.reference.vm.vm.Vm.guarded>`, set only by helpers), the interpreter
runs the rest of the frame: it alone checks bpf-to-bpf calls and returns against the lock and
stores against the dynptr, so units stay as fast as before for every other program.

When a unit stops because its next block would not fit in the budget, the interpreter
runs the rest, so :class:`~arspec.spec.errors.InstructionLimit` lands on the same pc.

With the native tier active (:func:`arspec.reference.vm.native.active`), the first hot pc of
a program packs it for the C loop (:func:`~arspec.reference.vm.native.prepare`, cached with
the units), and from then on every pc runs there: the C loop returns before any instruction
it leaves to Python, the interpreter steps that one instruction, and the C loop goes on. An
entry pc whose native runs keep stopping after fewer than
:data:`~arspec.reference.vm.native.SHORT` instructions, more than once in one run of the
machine (a loop), is *demoted* after :data:`~arspec.reference.vm.native.DEMOTE` of them and
runs the units above instead.
``tests/test_fastpath.py`` pins results, counters, faults, registers and memory to the
interpreter engine on generated programs and every conformance vector.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from arspec.reference.isa.instructions import Program
from arspec.reference.vm import native
from arspec.reference.vm.helpers import HelperRegistry
from arspec.reference.vm.machine import Machine
from arspec.reference.vm.profiles import Profile
from arspec.reference.vm.translate import MAX_UNIT, Code, Translator, Unit
from arspec.reference.vm.translate_insn import BUDGET

#: Arrivals at a loop head (a backward jump target) before the code from there is translated;
#: other pcs (the entry, forward jump targets, return addresses) need :data:`STRAIGHT` times as
#: many, since straight code must run many times to repay its translation.
HOT: int = 16
STRAIGHT: int = 4
#: Most instructions translated per program (the interpreter runs the rest).
MAX_TRANSLATED: Final = 1 << 18
_CACHE_SIZE: Final = 64


class Translations:
    """The units of one program under one profile, made on demand."""

    def __init__(self, program: Program, profile: Profile) -> None:
        self.program = program
        self.profile = profile
        self.code = Code(program, profile)
        self.units: dict[int, Unit] = {}
        self.hits: dict[int, int] = {}
        self.translated = 0
        #: The program packed for the native tier, once a pc was hot with the tier on.
        self.prepared: native.Prepared | None = None
        #: Short native runs per entry pc; pcs with :data:`~native.DEMOTE` of them run Python.
        self.short: dict[int, int] = {}
        self.demoted: set[int] = set()

    def arrive(self, pc: int, loop: bool) -> bool:
        """Count an arrival at ``pc`` (by a backward jump when ``loop``); return whether the
        pc is now hot."""
        hits = self.hits.get(pc, 0) + 1
        self.hits[pc] = hits
        return hits >= (HOT if loop else HOT * STRAIGHT)

    def reach(self, pc: int, loop: bool, helpers: HelperRegistry | None = None) -> Unit | None:
        """Count an arrival at ``pc`` (by a backward jump when ``loop``); return its unit once
        the pc is hot, else ``None``. ``helpers`` tells which call sites get a light
        helper's paths (see :class:`~arspec.reference.vm.translate.Translator`)."""
        if (not self.arrive(pc, loop)
                or self.translated + MAX_UNIT > MAX_TRANSLATED
                or not self.code.is_instruction(pc)):
            return None
        return self.unit(pc, helpers)

    def native_code(self) -> native.Prepared:
        """Return the program packed for the native tier (packed on the first call)."""
        if self.prepared is None:
            self.prepared = native.prepare(self.program, self.profile)
        return self.prepared

    def count_short(self, pc: int) -> None:
        """Count a short native run from ``pc`` (from the second in one run of the machine:
        a loop bouncing between C and Python; straight code that hands off a few times on
        its way, as before a program's loop, is not demoted); demote the pc after enough of
        them."""
        short = self.short.get(pc, 0) + 1
        self.short[pc] = short
        if short >= native.DEMOTE:
            self.demoted.add(pc)

    def unit(self, pc: int, helpers: HelperRegistry | None = None) -> Unit:
        """Return the unit entered at ``pc`` (an instruction), translating it if needed."""
        unit = self.units.get(pc)
        if unit is None:
            light = None
            if helpers is not None:
                registry, profile = helpers, self.profile

                def light(imm: int) -> bool:
                    spec = registry.lookup(imm, profile)
                    return spec is not None and (spec.light or spec.metered)
            translator = Translator(self.code, pc, light=light)
            unit = translator.build()
            self.translated += translator.emitted
            self.units[pc] = unit
        return unit


#: Keyed by identity (hashing a program walks every instruction); each entry holds its
#: program and profile, so an id is never reused while its entry lives.
_cache: OrderedDict[tuple[int, int], Translations] = OrderedDict()


def translations(program: Program, profile: Profile) -> Translations:
    """Return the (cached) translations of ``program`` under ``profile``."""
    key = (id(program), id(profile))
    found = _cache.get(key)
    if found is None or found.program is not program or found.profile is not profile:
        found = Translations(program, profile)
        _cache[key] = found
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return found


def run_fast(vm: Machine) -> None:
    """Run ``vm`` from its pc until its base frame exits; faults propagate as in the loop."""
    if not vm.memory.windows:
        # The memory checks or records accesses in its own methods (Memory.windows): only
        # the interpreter meets them on every access (translated code also forwards a
        # stored value to a load of the same place).
        vm.run_interpreter()
        return
    found = translations(vm.program, vm.profile)
    units = found.units
    loop = False
    use_native = native.active() and vm.tracer is None
    sites: tuple[native.Site, ...] | None = None
    # Entry pcs of this run's short native runs: one counts as short when it comes again.
    shorts: set[int] = set()
    while not vm.stopped:
        if vm.guarded:
            # A lock is held or a ring dynptr is live: only the interpreter checks for them.
            vm.run_interpreter()
            return
        pc = vm.pc
        if use_native and pc not in found.demoted and vm.held_lock is None:
            if found.prepared is None and not found.arrive(pc, loop):
                loop = _interpret_straight(vm)
                continue
            prepared = found.native_code()
            if sites is None:
                sites = native.helper_sites(prepared, vm)
            ran = native.run(vm, prepared, sites)
            if vm.stopped:
                return
            if ran < native.SHORT:
                if pc in shorts:
                    found.count_short(pc)
                shorts.add(pc)
            # The instruction the native tier left: the interpreter runs it (or faults).
            vm.step()
            loop = True
            continue
        unit = units.get(vm.pc)
        if unit is None:
            unit = found.reach(vm.pc, loop, vm.helpers)
            if unit is None:
                loop = _interpret_straight(vm)
                continue
        # Where a unit stops is as hot as the unit (an inner loop, a return address).
        loop = True
        if unit(vm) == BUDGET:
            vm.run_interpreter()


def _interpret_straight(vm: Machine) -> bool:
    """Step the interpreter until control jumps; return whether it jumped backward."""
    step = vm.step
    while True:
        pc = vm.pc
        step()
        if vm.stopped or not pc < vm.pc <= pc + 2:
            return vm.pc <= pc
