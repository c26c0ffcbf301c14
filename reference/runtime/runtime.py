"""
Runtime binding
===============

:class:`ReferenceInvoker` runs a scheduler :class:`~arspec.spec.state.WorkItem` on the
reference :class:`~arspec.reference.vm.vm.Vm`. Every helper is a thin adapter that reads its
arguments from VM memory and calls the spec transition (:mod:`~arspec.spec.maps`,
:mod:`~arspec.spec.timers`, :mod:`~arspec.spec.workqueue`, :mod:`~arspec.spec.ringbuf`,
:mod:`~arspec.spec.tailcall`, :mod:`~arspec.spec.loops`, :mod:`~arspec.spec.accounts`): the VM
never decides semantics. The helpers live in :mod:`~arspec.reference.runtime.runtime_helpers`.

Loading (:func:`load_programs`)
-------------------------------
A program's ``code`` is assembled, ``hex`` decoded, ``elf`` + ``section`` loaded from the
object (relative to the bundle's folder). ``functions`` resolve to pcs (a number, or a label
of the assembly). Every ``call`` is checked against the helper table for the bundle's profile:
an unknown helper, a kfunc call, or a helper the profile refuses (the nondeterministic ones in
``solana``) is an :class:`~arspec.spec.errors.InputError` at load, naming the program and pc.
In ``linux`` a program calls a helper by its id (``call 1``); in ``solana`` by
``murmur3_32(name)`` (``call 0x...``), the way sBPF names syscalls; there the design's sol_*
names and the Agave syscalls resolve too (:mod:`arspec.spec.syscalls`). In both profiles
bundle code may write ``call bpf_map_lookup_elem`` (the helper table's names, and in
``solana`` every name of :func:`~arspec.reference.runtime.solana_syscalls.get_solana_call_table`)
and
``map_idx(prices)`` (map names); the loader encodes the id, hash or index.

Values programs see
-------------------
* **Map references.** ``lddw`` ``map_idx(i)`` and ``map_fd(i)`` both name the i-th declared
  map (there is no fd table) and load the opaque handle ``(MAP_HANDLE_REGION + i) << 32``:
  an address in an unmapped region, so dereferencing it faults. In an ELF object, map
  references resolve by map name to the bundle's map of that name. ``map_idx_value(i) + off``
  and ``map_value(i) + off`` give the address of array index 0's value plus ``off``.
* **Map values** are regions mapped over the element's bytes, allocated on first use and
  valid for the whole invocation; a replaced hash element keeps its old region (Linux RCU).
  The 16 bytes of a ``bpf_timer`` / ``bpf_wq`` are ordinary bytes to the program; the timer
  behind them is found from the pointer (value base + the map's ``timer`` offset).
* **Callbacks.** ``timer_set_callback`` and ``wq_set_callback`` take a code address: in the
  calling program's own code (``r2 = code_addr(label)``: region 1), or the code of any program
  of the bundle at ``(PROG_CODE_REGION + program index) << 32 | 8 * pc`` (program index in
  declaration order; pc 0 is its entry), which is how a program installs a ``hook: timer``
  or ``hook: workqueue`` program as its callback. ``bpf_loop`` callbacks are code addresses
  in the running program.

Entry registers
---------------
Per hook kind, as :func:`~arspec.spec.conventions.get_entry_registers` states.

Invocation rules
----------------
* **Tail calls** end the running program from any frame (also inside a ``bpf_loop``
  callback) and start the target as :data:`~arspec.spec.conventions.TAIL_CALL_ENTRY` states.
  The counter is :mod:`~arspec.spec.tailcall`'s.
* **Failures.** A VM fault, the budget running out, a helper given a bad pointer or a bad
  flag the spec treats as an invalid call, and a ring-buffer reservation neither submitted
  nor discarded when the invocation ends
  (:func:`~arspec.spec.ringbuf.check_reservations_released`) are failures; the scheduler
  rolls the invocation back. A failed outcome reports no logs, no records and no account
  writes, since they were undone.
* **Nondeterministic helpers** (``linux`` only) return what :mod:`arspec.spec.environment`
  states (the clocks, the pseudo-random generator, the CPU).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from arspec.reference.isa.assembler import assemble, get_labels, get_source_lines
from arspec.reference.isa.decoder import decode, decode_sbpf_v0
from arspec.reference.isa.instructions import Call, CallKfunc, LoadImm64, Program, Pseudo
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.program import LoadedProgram
from arspec.reference.runtime.runtime_helpers import Invocation, build_registry
from arspec.reference.runtime.solana_syscalls import get_solana_call_table
from arspec.reference.vm.load_checks import ProgramRejected, check_program
from arspec.reference.vm.memory import Memory, add_stack
from arspec.reference.vm.profiles import (
    HEAP_REGION,
    HEAP_SIZE,
    INPUT_REGION,
    PROGRAM_BASE,
    PROGRAM_REGION,
    Profile,
    get_profile,
)
from arspec.reference.vm.vm import PseudoResolver, Vm, standard_memory
from arspec.spec import bundle as schema
from arspec.spec.errors import ArspecError, HelperNotAllowed, InputError, UnknownHelper
from arspec.spec.helpers import HELPER_TABLE, check_helper_allowed
from arspec.spec.loader import locate_code_error, set_object_map_reader
from arspec.spec.scheduler import InvocationOutcome
from arspec.spec.state import RuntimeState, WorkItem
from arspec.spec.types import ComputeUnits, Cpu, MapId, ProgId

__all__ = ["LoadedProgram", "ReferenceInvoker", "load_programs"]

ENGINES: Final = ("auto", "interpreter", "fast")
#: Ids of the helper-table rows (an Agave syscall row has an id outside them).
HELPER_IDS: Final = frozenset(h.id for h in HELPER_TABLE)


class HashedProgram(Program):
    """A :class:`Program` whose hash is computed once.

    The fast path caches compiled code by ``(program, profile)`` and hashes the key on every
    run; a program's hash walks every instruction, so the runtime, which runs the same
    programs thousands of times, keeps it. Equality is the dataclass's (same class and slots).
    """

    __slots__ = ("_hash",)
    _hash: int

    def __init__(self, program: Program) -> None:
        super().__init__(program.slots)
        object.__setattr__(self, "_hash", hash(program))

    def __hash__(self) -> int:
        return self._hash


def _read_object_maps(path: Path) -> dict[str, dict[str, Any]]:
    from arspec.reference.isa.elf import (
        read_bundle_maps,  # deferred: pyelftools is only needed for objects
    )

    return read_bundle_maps(path)


# Bundles name ELF objects whose maps join the bundle's; spec/ cannot import the ELF reader.
set_object_map_reader(_read_object_maps)


def check_program_helpers(name: str, program: Program, profile: str, *,
                          allow_nondeterministic: bool = False) -> None:
    """Raise :class:`InputError` for a call the profile cannot resolve or refuses.

    With ``allow_nondeterministic`` (the verifier's loading, never the runtime's), a
    nondeterministic helper of the helper table is accepted in every profile.
    """
    by_hash = get_solana_call_table()
    for pc, insn in program.instructions():
        where = f"programs.{name}: pc {pc}"
        if isinstance(insn, CallKfunc):
            raise InputError(f"{where}: kfunc calls are not supported; call bpf_wq_* and "
                             "bpf_iter_num_* by their helper ids")
        if not isinstance(insn, Call):
            continue
        imm = insn.imm & 0xFFFFFFFF
        if profile == "solana":
            found = by_hash.get(imm)
            if found is None:
                hint = ""
                if imm in {h.id for h in HELPER_TABLE}:
                    known = next(h for h in HELPER_TABLE if h.id == imm)
                    hint = (f"; solana programs call helpers by murmur3_32 of the name, "
                            f"e.g. {known.name} is {murmur3_32(known.name.encode()):#x}")
                raise InputError(f"{where}: unknown helper {imm:#x} in the solana profile{hint}")
            helper_id: int = found[1].id
            if helper_id not in HELPER_IDS:
                continue  # an Agave syscall: every one is deterministic and solana's own
        else:
            helper_id = insn.imm
        if allow_nondeterministic and any(h.id == helper_id and not h.deterministic
                                          for h in HELPER_TABLE):
            continue
        try:
            check_helper_allowed(helper_id, profile)
        except (UnknownHelper, HelperNotAllowed) as err:
            raise InputError(f"{where}: {err}") from None


def resolve_functions(name: str, prog: schema.Program, program: Program,
                      labels: dict[str, int]) -> dict[str, int]:
    """Return the pcs of the program's named functions (numbers or labels)."""
    resolved: dict[str, int] = {}
    for fname, target in prog.functions.items():
        where = f"programs.{name}.functions.{fname}"
        if isinstance(target, str):
            if target not in labels:
                raise InputError(f"{where}: no label '{target}' in the program")
            pc = labels[target]
        else:
            pc = target
        if not 0 <= pc < len(program) or program.slots[pc] is None:
            raise InputError(f"{where}: pc {pc} is not an instruction")
        resolved[fname] = pc
    return resolved


def get_assembly_symbols(bundle: schema.Bundle) -> dict[str, int]:
    """Return the names bundle code may use in pseudo ``lddw``: each map's declaration index."""
    return {map_name: index for index, map_name in enumerate(bundle.maps)}


def get_assembly_helpers(profile: str) -> dict[str, int]:
    """Return ``call <name>`` targets: Linux helper ids, or sBPF murmur3-32 syscall ids."""
    if profile == "solana":
        return {name: imm for imm, (name, _) in get_solana_call_table().items()}
    return {h.name: int(h.id) for h in HELPER_TABLE}


def load_one_program(bundle: schema.Bundle, index: int, name: str, prog: schema.Program,
                     base_dir: Path | None, *,
                     allow_nondeterministic: bool = False) -> LoadedProgram:
    """Load one bundle program (assemble, decode or read its ELF section).

    ``allow_nondeterministic`` skips the profile's refusal of nondeterministic helpers (see
    :func:`check_program_helpers`); the runtime never sets it.
    """
    labels: dict[str, int] = {}
    map_indices: tuple[int, ...] | None = None
    source_lines: dict[int, tuple[str, int]] = {}
    if prog.code is not None:
        filename = f"programs.{name}.code"
        symbols = get_assembly_symbols(bundle)
        helpers = get_assembly_helpers(bundle.profile.value)
        try:
            program = assemble(prog.code, filename=filename, symbols=symbols, helpers=helpers)
            labels = get_labels(prog.code, filename=filename, symbols=symbols, helpers=helpers)
            lines = get_source_lines(prog.code, filename=filename, symbols=symbols,
                                     helpers=helpers)
        except InputError as err:
            raise locate_code_error(bundle, name, err) from None
        for pc, line in lines.items():
            found = bundle.locate_code(name, line, None)
            if found is not None and found[1] is not None:
                source_lines[pc] = (found[0], found[1])
    elif prog.hex is not None:
        try:
            program = (decode_sbpf_v0(prog.hex) if bundle.profile.value == "solana"
                       else decode(prog.hex))
        except ArspecError as err:
            raise InputError(f"programs.{name}.hex: {err}") from None
    else:
        assert prog.elf is not None
        from arspec.reference.isa.elf import get_bundle_map_name, load_elf, load_program

        path = Path(prog.elf) if base_dir is None else base_dir / prog.elf
        elf_program = load_program(path, prog.section)
        program = elf_program.program
        source_lines = dict(elf_program.source_lines)
        declared = list(bundle.maps)
        indices = []
        for map_name in map(get_bundle_map_name, load_elf(path).maps):
            indices.append(declared.index(map_name) if map_name in declared else -1)
        for pc, raw_name in sorted(elf_program.map_relocations.items()):
            map_name = get_bundle_map_name(raw_name)
            if map_name not in declared:
                raise InputError(f"programs.{name}: pc {pc}: the ELF object uses map "
                                 f"'{map_name}', which the bundle does not declare")
            refusal = _spin_lock_refusal(prog, map_name, bundle.maps[map_name])
            if refusal is not None:
                raise InputError(f"programs.{name}: pc {pc}: {refusal}")
        map_indices = tuple(indices)
    if map_indices is None:
        check_map_references(name, prog, program, bundle)
    check_program_helpers(name, program, bundle.profile.value,
                          allow_nondeterministic=allow_nondeterministic)
    try:
        check_program(program, get_profile(bundle.profile.value))
    except ProgramRejected as err:
        raise InputError(f"programs.{name}: {err}") from None
    functions = resolve_functions(name, prog, program, labels)
    return LoadedProgram(ProgId(name), index, HashedProgram(program), functions, map_indices,
                         source_lines)


#: ``lddw`` forms whose immediate names a map: the bundle's map of that declaration index.
MAP_PSEUDOS: Final = (Pseudo.MAP_FD, Pseudo.MAP_VALUE, Pseudo.MAP_IDX, Pseudo.MAP_IDX_VALUE)


def check_map_references(name: str, prog: schema.Program, program: Program,
                         bundle: schema.Bundle) -> None:
    """Raise :class:`InputError` for a ``lddw`` naming a map the bundle does not declare, or
    a map holding a ``bpf_spin_lock`` that the program's Linux type may not use.

    For assembly the error names the bundle's ``FILE:LINE:COL`` of the map operand (as other
    assembly errors do), for bytecode ``programs.NAME.hex: pc N``.
    """
    count = len(bundle.maps)
    declared = ", ".join(bundle.maps) or "none"
    specs = list(bundle.maps.values())
    for pc, insn in program.instructions():
        if not isinstance(insn, LoadImm64) or insn.pseudo not in MAP_PSEUDOS:
            continue
        if 0 <= insn.imm < count:
            what = _spin_lock_refusal(prog, list(bundle.maps)[insn.imm], specs[insn.imm])
            if what is None:
                continue
        else:
            what = (f"lddw {insn.pseudo.name.lower()} names map {insn.imm}, which the bundle "
                    f"does not declare (maps 0..{count - 1}: {declared})" if count else
                    f"lddw {insn.pseudo.name.lower()} names map {insn.imm}, but the bundle "
                    "declares no maps")
        if prog.code is None:
            raise InputError(f"programs.{name}.hex: pc {pc}: {what}")
        filename = f"programs.{name}.code"
        lines = get_source_lines(prog.code, filename=filename,
                                 symbols=get_assembly_symbols(bundle),
                                 helpers=get_assembly_helpers(bundle.profile.value))
        line = lines.get(pc, 1)
        text = prog.code.splitlines()[line - 1]
        found = re.search(r"\b(map_idx_value|map_idx|map_fd|map_value)\b\s*\(?\s*", text)
        column = found.end() + 1 if found else 1
        raise locate_code_error(bundle, name,
                                InputError(what, file=filename, line=line, column=column))


def _spin_lock_refusal(prog: schema.Program, map_name: str,
                       spec: schema.MapSpec) -> str | None:
    """Return why Linux refuses this program a map with a ``bpf_spin_lock``, or ``None``.

    Linux ``check_map_prog_compatibility``: socket filters and tracing programs cannot use
    ``bpf_spin_lock`` ("... progs cannot use bpf_spin_lock yet").
    """
    kind = prog.program_type
    if spec.spin_lock is None or kind is None or kind.value not in ("socket_filter", "tracing"):
        return None
    label = "socket filter" if kind.value == "socket_filter" else "tracing"
    return f"{label} progs cannot use bpf_spin_lock yet (map {map_name!r} holds one)"


def load_programs(bundle: schema.Bundle, *, base_dir: Path | None = None,
                  allow_nondeterministic: bool = False) -> dict[ProgId, LoadedProgram]:
    """Load every program of the bundle, in declaration order.

    ``allow_nondeterministic`` is for verification only (see :func:`check_program_helpers`).
    """
    return {ProgId(name): load_one_program(bundle, i, name, prog, base_dir,
                                           allow_nondeterministic=allow_nondeterministic)
            for i, (name, prog) in enumerate(bundle.programs.items())}


class ReferenceInvoker:
    """The scheduler's :class:`~arspec.spec.scheduler.Invoker` on the reference VM.

    Parameters
    ----------
    bundle
        The loaded bundle.
    base_dir
        Folder ELF paths are relative to.
    engine
        The VM engine (``"auto"`` uses the compiled fast path).
    """

    def __init__(self, bundle: schema.Bundle, *, base_dir: Path | None = None,
                 engine: str = "auto") -> None:
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})")
        self.bundle = bundle
        self.engine = engine
        self.profile: Profile = get_profile(bundle.profile.value)
        self.programs = load_programs(bundle, base_dir=base_dir)
        self.by_index = list(self.programs.values())
        self.map_ids = [MapId(n) for n in bundle.maps]
        self.registry = build_registry(self)
        self.current: Invocation | None = None
        self.code: dict[int, bytearray] = {}
        self.vms: dict[ProgId, Vm] = {}

    def __call__(self, state: RuntimeState, item: WorkItem, budget: ComputeUnits,
                 cpu: Cpu) -> InvocationOutcome:
        """Run ``item`` against ``state`` (mutated in place) within ``budget``."""
        invocation = Invocation(self, state, item, cpu, budget)
        self.current = invocation
        try:
            return invocation.run()
        finally:
            self.current = None

    def new_memory(self, program: Program) -> Memory:
        """Return fresh memory (code, stack, heap, empty input) for ``program``.

        The read-only code region is encoded once per program and shared between runs.
        """
        code = self.code.get(id(program))
        if code is None:
            code = standard_memory(program, self.profile).region(PROGRAM_BASE)
            self.code[id(program)] = code
        memory = Memory()
        memory.add_region(PROGRAM_REGION, code, writable=False)
        add_stack(memory, self.profile)
        if self.profile.has_heap:
            memory.add_region(HEAP_REGION, bytearray(HEAP_SIZE), writable=True)
        memory.add_region(INPUT_REGION, bytearray(), writable=True)
        return memory

    def make_vm(self, loaded: LoadedProgram, memory: Memory, limit: int,
                resolver: PseudoResolver) -> Vm:
        """Return the VM of ``loaded``, set to run over ``memory`` with ``limit`` units.

        One VM per program is built once and reused (its dispatch table is per program);
        :meth:`Vm.run` resets registers, frames and meters, and invocations never nest.
        """
        vm = self.vms.get(loaded.name)
        if vm is None:
            vm = Vm(loaded.program, profile=self.profile, helpers=self.registry, memory=memory,
                    compute_limit=limit, pseudo_resolver=resolver, engine=self.engine)
            self.vms[loaded.name] = vm
        vm.memory = memory
        vm.compute_limit = limit
        vm.pseudo_resolver = resolver
        return vm

