"""
Interpreter
===========

The reference interpreter: a loop over a dispatch table from instruction type to a short
handler ``(vm, insn) -> None``. Every handler reads its operands, checks, computes, writes
and advances the pc; handlers only raise, and the run loop alone turns an
:class:`~arspec.spec.errors.ExecutionFault` into :attr:`ExecutionResult.fault`.

Semantics follow RFC 9669 with the profile choices of :mod:`~arspec.reference.vm.profiles`
(the ``solana`` ones from anza-xyz/sbpf ``src/interpreter.rs``):

* Entry: r1 = ``INPUT_BASE``, r2 = input length, r10 = top of the first stack frame, other
  registers 0. A call saves r6-r9, r10 and the return pc; the callee's r10 is the top of the
  next frame; a call that would need more than ``max_frames`` frames faults.
* Compute: each instruction costs ``insn_cost`` (``lddw`` counts once), a helper adds its
  cost. Exactly ``compute_limit`` units may be spent; the instruction that would exceed it
  faults with :class:`~arspec.spec.errors.InstructionLimit` before running. An instruction
  that starts is counted even if it faults.
* Helper calls leave r1-r5 unchanged (Linux only promises they are clobbered).
* ``cmpxchg`` always performs a write access (of the old value when the comparison fails),
  as the hardware instruction does, so it faults on read-only memory either way.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from arspec.reference.isa.encoder import encode
from arspec.reference.isa.instructions import (
    FRAME_POINTER,
    REGISTER_COUNT,
    Alu,
    Atomic,
    AtomicOp,
    Call,
    CallKfunc,
    CallLocal,
    Callx,
    Endian,
    Exit,
    Imm,
    Instruction,
    Ja,
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
from arspec.reference.vm import alu
from arspec.reference.vm.fastpath import run_fast
from arspec.reference.vm.helpers import HelperContext, HelperRegistry
from arspec.reference.vm.load_checks import check_program
from arspec.reference.vm.machine import Frame, enter_frame, instruction_problem
from arspec.reference.vm.machine import PseudoResolver as PseudoResolver
from arspec.reference.vm.memory import Memory, add_stack
from arspec.reference.vm.profiles import (
    HEAP_REGION,
    HEAP_SIZE,
    INPUT_BASE,
    INPUT_REGION,
    LINUX,
    PROGRAM_BASE,
    PROGRAM_REGION,
    SLOT_SIZE,
    STACK_BASE,
    Profile,
)
from arspec.reference.vm.trace import FaultEvent, HelperCall, InsnStart, Tracer
from arspec.spec.errors import (
    ArspecError,
    ComputeBudgetExceeded,
    ExecutionFault,
    HelperFault,
    InputError,
    InstructionLimit,
    InvalidCallTarget,
    InvalidInstruction,
    MemoryFault,
    ProgramOverrun,
)
from arspec.spec.spinlock import HeldLock, check_local_return_allowed

MASK64: Final = alu.MASK64
#: Compute limit used when none is given.
DEFAULT_COMPUTE_LIMIT: Final = 10**10
ENGINES: Final = ("auto", "interpreter", "fast")

Handler = Callable[["Vm", Any], None]


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of a run: r0 (unsigned 64-bit), counters, and the fault if any."""

    r0: int
    instructions: int
    compute_units: int
    fault: ExecutionFault | None
    #: Lines the program logged (``Program log: ...`` from sBPF syscalls), in order.
    logs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Return whether the program exited without a fault."""
        return self.fault is None


class Vm:
    """One machine: a program, its memory, registers, call frames and meters.

    Parameters
    ----------
    program
        The decoded program.
    profile
        Semantics to apply (:data:`~arspec.reference.vm.profiles.LINUX` by default).
    helpers
        Helpers reachable with ``call``; none when omitted.
    memory
        The mapped regions; the caller sets them up (see :func:`standard_memory`).
    compute_limit
        Units that may be spent per :meth:`run`; ``None`` means 10**10.
    tracer
        Receives :mod:`~arspec.reference.vm.trace` events.
    pseudo_resolver
        ``(pc, insn) -> value`` for the map forms of ``lddw``; without it they fault.
    engine
        ``"interpreter"``, ``"fast"`` (compiled blocks, no tracer) or ``"auto"``.
    """

    def __init__(self, program: Program, *, profile: Profile = LINUX,
                 helpers: HelperRegistry | None = None, memory: Memory | None = None,
                 compute_limit: int | None = None, tracer: Tracer | None = None,
                 pseudo_resolver: PseudoResolver | None = None,
                 engine: str = "interpreter") -> None:
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})")
        if engine == "fast" and tracer is not None:
            raise InputError("the fast engine cannot trace; use engine='interpreter'")
        self.program = program
        self.profile = profile
        self.helpers = helpers if helpers is not None else HelperRegistry()
        self.memory = memory if memory is not None else Memory()
        self.compute_limit = DEFAULT_COMPUTE_LIMIT if compute_limit is None else compute_limit
        self.tracer = tracer
        self.pseudo_resolver = pseudo_resolver
        self.engine = engine
        self.regs: list[int] = [0] * REGISTER_COUNT
        self.pc = 0
        self.frames: list[Frame] = []
        self.instructions = 0
        self.units = 0
        self.stopped = False
        self.base_depth = 0
        self.logs: list[str] = []
        #: The ``bpf_spin_lock`` the program holds (set by the lock helpers): a bpf-to-bpf
        #: call or return faults while it is held (:mod:`arspec.spec.spinlock`).
        self.held_lock: HeldLock | None = None
        #: Whether a lock is held or a ring-buffer dynptr is live: the fast engine then runs
        #: the interpreter, which checks both (set by the helpers with :attr:`held_lock`).
        self.guarded = False
        self._ops: list[tuple[Handler, Any]] = [_resolve(insn) for insn in program.slots]

    @property
    def registers(self) -> tuple[int, ...]:
        """Return r0..r10."""
        return tuple(self.regs)

    def run(self, entry_pc: int = 0, args: tuple[int, ...] = ()) -> ExecutionResult:
        """Run from ``entry_pc`` with r1.. = ``args`` until the entry frame exits or faults."""
        self.regs[:] = [0] * REGISTER_COUNT
        self.regs[1:1 + len(args)] = [a & MASK64 for a in args[:5]]
        self.regs[FRAME_POINTER] = STACK_BASE + self.profile.stack_frame_size
        self.memory.stack_top = self.profile.stack_frame_size
        self.pc, self.frames, self.instructions, self.units = entry_pc, [], 0, 0
        self.stopped, self.base_depth = False, 0
        self.logs = []
        try:
            if self.code_address_to_pc(self.profile.code_base + SLOT_SIZE * entry_pc) is None:
                raise InvalidCallTarget(entry_pc, f"entry pc {entry_pc} is not an instruction")
            if self.engine == "fast" or (self.engine == "auto" and self.tracer is None):
                    run_fast(self)
            else:
                self.run_interpreter()
        except ExecutionFault as fault:
            if self.tracer is not None:
                self.tracer.event(FaultEvent(fault.pc, fault))
            return ExecutionResult(self.regs[0], self.instructions, self.units, fault,
                                   tuple(self.logs))
        return ExecutionResult(self.regs[0], self.instructions, self.units, None,
                               tuple(self.logs))

    def run_interpreter(self) -> None:
        """Step until the current base frame exits (raises on a fault)."""
        while not self.stopped:
            self.step()

    def step(self) -> None:
        """Meter, trace and execute the instruction at ``pc``."""
        pc = self.pc
        cost = self.profile.insn_cost
        if self.units + cost > self.compute_limit:
            raise InstructionLimit(pc, f"compute limit {self.compute_limit} reached")
        if not 0 <= pc < len(self._ops):
            self.units += self.profile.overrun_cost
            raise ProgramOverrun(pc, f"no instruction at pc {pc} (program has "
                                     f"{len(self._ops)} slots)")
        handler, insn = self._ops[pc]
        self.units += cost
        self.instructions += 1
        if self.tracer is not None:
            self.tracer.event(InsnStart(pc, insn, tuple(self.regs)))
        handler(self, insn)

    def consume(self, units: int, pc: int) -> None:
        """Charge ``units`` more; past the limit, spend everything and fault at ``pc``."""
        if self.units + units > self.compute_limit:
            remaining = self.compute_limit - self.units
            self.units = self.compute_limit
            raise ComputeBudgetExceeded(pc, f"the call costs {units} CU, {remaining} of the "
                                            f"{self.compute_limit} CU budget remain")
        self.units += units

    def code_address_to_pc(self, address: int) -> int | None:
        """Return the pc of the instruction at code ``address``, or ``None``."""
        offset = address - self.profile.code_base
        pc, rest = divmod(offset, SLOT_SIZE)
        if rest or not 0 <= pc < len(self._ops) or self.program.slots[pc] is None:
            return None
        return pc

    def goto(self, target: int) -> None:
        """Continue at ``target``; a target that is not an instruction faults here."""
        if not 0 <= target < len(self._ops) or self.program.slots[target] is None:
            raise InvalidInstruction(self.pc, f"jump to {target}, which is not an instruction")
        self.pc = target

    push_frame = enter_frame

    def pop_frame(self) -> None:
        """Return to the caller frame, restoring r6-r9 and r10."""
        r = self.regs
        self.pc, r[6], r[7], r[8], r[9], r[10] = self.frames.pop()
        self.memory.stack_top = r[FRAME_POINTER] - STACK_BASE

    def call_function(self, pc: int, args: tuple[int, ...]) -> int:
        """Run the local function at ``pc`` in a fresh frame with r1.. = ``args``; return r0.

        Used by helpers that call back into the program (``bpf_loop``, timer callbacks). The
        caller's registers and pc are restored afterwards; a fault propagates.
        """
        if self.code_address_to_pc(self.profile.code_base + SLOT_SIZE * pc) is None:
            raise InvalidCallTarget(self.pc, f"callback pc {pc} is not an instruction")
        saved_regs, saved_pc, saved_base = list(self.regs), self.pc, self.base_depth
        self.push_frame(pc, saved_pc)
        self.regs[1:6] = [a & MASK64 for a in (*args, 0, 0, 0, 0, 0)[:5]]
        self.base_depth = len(self.frames)
        if self.engine == "fast" or (self.engine == "auto" and self.tracer is None):
            run_fast(self)
        else:
            self.run_interpreter()
        r0 = self.regs[0]
        self.frames.pop()
        self.regs[:], self.pc, self.base_depth = saved_regs, saved_pc, saved_base
        self.memory.stack_top = self.regs[FRAME_POINTER] - STACK_BASE
        self.stopped = False
        return r0


def _operand(vm: Vm, src: Reg | Imm, is64: bool) -> int:
    if isinstance(src, Reg):
        return vm.regs[src.index]
    return alu.immediate(src.value, is64)


def _alu(vm: Vm, insn: Alu) -> None:
    src = _operand(vm, insn.src, insn.is64)
    result = alu.compute_alu(insn.op, vm.regs[insn.dst], src, is64=insn.is64,
                             profile=vm.profile, pc=vm.pc)
    vm.regs[insn.dst] = result
    vm.pc += 1


def _neg(vm: Vm, insn: Neg) -> None:
    vm.regs[insn.dst] = alu.compute_neg(vm.regs[insn.dst], insn.is64)
    vm.pc += 1


def _movsx(vm: Vm, insn: MovSx) -> None:
    vm.regs[insn.dst] = alu.compute_movsx(vm.regs[insn.src], insn.bits, insn.is64)
    vm.pc += 1


def _endian(vm: Vm, insn: Endian) -> None:
    vm.regs[insn.dst] = alu.compute_endian(insn.op, vm.regs[insn.dst], insn.width)
    vm.pc += 1


def _load(vm: Vm, insn: Load) -> None:
    address = (vm.regs[insn.src] + insn.offset) & MASK64
    value = vm.memory.load(vm.pc, address, insn.size)
    if insn.signed:
        value = alu.sign_extend(value, 8 * insn.size)
    vm.regs[insn.dst] = value
    vm.pc += 1


def _store(vm: Vm, insn: Store) -> None:
    address = (vm.regs[insn.dst] + insn.offset) & MASK64
    value = _operand(vm, insn.value, True)
    vm.memory.store(vm.pc, address, insn.size, value)
    vm.pc += 1


def _atomic(vm: Vm, insn: Atomic) -> None:
    address = (vm.regs[insn.dst] + insn.offset) & MASK64
    old = vm.memory.load(vm.pc, address, insn.size)
    operand = vm.regs[insn.src]
    if insn.op is AtomicOp.CMPXCHG:
        expected = vm.regs[0] & ((1 << (8 * insn.size)) - 1)
        vm.memory.store(vm.pc, address, insn.size, operand if old == expected else old)
        vm.regs[0] = old
    else:
        vm.memory.store(vm.pc, address, insn.size,
                        alu.atomic_value(insn.op, old, operand, insn.size))
        if insn.fetch:
            vm.regs[insn.src] = old
    vm.pc += 1


def _jump(vm: Vm, insn: Jump) -> None:
    src = _operand(vm, insn.src, insn.is64)
    if alu.jump_taken(insn.cond, vm.regs[insn.dst], src, insn.is64):
        vm.goto(vm.pc + 1 + insn.offset)
    else:
        vm.pc += 1


def _ja(vm: Vm, insn: Ja) -> None:
    vm.goto(vm.pc + 1 + insn.offset)


def _call(vm: Vm, insn: Call) -> None:
    spec = vm.helpers.lookup(insn.imm, vm.profile)
    if spec is None:
        raise HelperFault(vm.pc, f"unknown helper {insn.imm & 0xFFFFFFFF:#x}")
    if not spec.deterministic and vm.profile.name == "solana":
        raise HelperFault(vm.pc, f"helper {spec.name} is nondeterministic, refused in solana")
    vm.consume(spec.cost, vm.pc)
    args = (vm.regs[1], vm.regs[2], vm.regs[3], vm.regs[4], vm.regs[5])
    ctx = HelperContext(vm.memory, vm.pc, vm.profile, vm)
    result = spec.fn(ctx, *args) & MASK64
    vm.regs[0] = result
    if vm.tracer is not None:
        vm.tracer.event(HelperCall(vm.pc, spec.id, spec.name, args, result))
    vm.pc += 1


def _call_kfunc(vm: Vm, insn: CallKfunc) -> None:
    spec = vm.helpers.lookup_kfunc(insn.btf_id)
    if spec is None:
        raise HelperFault(vm.pc, f"unsupported kfunc (BTF id {insn.btf_id})")
    vm.consume(spec.cost, vm.pc)
    args = (vm.regs[1], vm.regs[2], vm.regs[3], vm.regs[4], vm.regs[5])
    result = spec.fn(HelperContext(vm.memory, vm.pc, vm.profile, vm), *args) & MASK64
    vm.regs[0] = result
    if vm.tracer is not None:
        vm.tracer.event(HelperCall(vm.pc, spec.id, spec.name, args, result))
    vm.pc += 1


def _call_local(vm: Vm, insn: CallLocal) -> None:
    target = vm.pc + 1 + insn.offset
    if not 0 <= target < len(vm.program) or vm.program.slots[target] is None:
        raise InvalidCallTarget(vm.pc, f"call to {target}, which is not an instruction")
    vm.push_frame(target, vm.pc + 1)


def _callx(vm: Vm, insn: Callx) -> None:
    address = vm.regs[insn.reg]
    if vm.profile.sbpf_version == 0:
        # Agave pushes the frame first, then rounds the offset down to a slot
        # (anza-xyz/sbpf src/interpreter.rs, CALL_REG and check_pc).
        pc, here = ((address - vm.profile.code_base) & MASK64) // SLOT_SIZE, vm.pc
        vm.push_frame(pc, here + 1)
        if pc >= len(vm.program):
            vm.pc = here
            raise InvalidCallTarget(here, "callx attempted to call outside of the text segment")
        return
    target = vm.code_address_to_pc(address)
    if target is None:
        # A register holding a registered helper id calls that helper (bpf_conformance's
        # reading of callx, as uBPF does); a code address stays a local call (LLVM's).
        if address < 1 << 31 and vm.helpers.lookup(address, vm.profile) is not None:
            _call(vm, Call(address))
            return
        raise InvalidCallTarget(vm.pc, f"callx to {address:#x}, which is not a code address")
    vm.push_frame(target, vm.pc + 1)


def _exit(vm: Vm, insn: Exit) -> None:
    if len(vm.frames) == vm.base_depth:
        vm.stopped = True
    else:
        if vm.held_lock is not None:
            check_local_return_allowed(vm.held_lock, vm.pc)
        vm.pop_frame()


def _load_imm64(vm: Vm, insn: LoadImm64) -> None:
    if insn.pseudo is Pseudo.IMM64:
        value = insn.value
    elif insn.pseudo is Pseudo.CODE_ADDR:
        value = vm.profile.code_base + SLOT_SIZE * (vm.pc + 1 + insn.imm)
    elif vm.pseudo_resolver is not None:
        value = vm.pseudo_resolver(vm.pc, insn)
    else:
        raise InvalidInstruction(vm.pc, f"unresolved lddw {insn.pseudo.name.lower()} "
                                        f"reference at pc {vm.pc}")
    vm.regs[insn.dst] = value & MASK64
    vm.pc += 2


def _legacy_load(vm: Vm, insn: LegacyLoad) -> None:
    # Linux computes the offset as a 32-bit int (bpf_skb_load_helper_*'s ``int offset``,
    # net/core/filter.c bpf_gen_ld_abs) and ends the program with r0 = 0 when the load
    # fails, from whatever frame it runs in.
    base = vm.regs[insn.src] if insn.mode is LegacyMode.IND else 0
    offset = alu.to_signed(base + insn.imm, 32)
    if not vm.memory.is_mapped(INPUT_REGION):
        raise MemoryFault(vm.pc, INPUT_BASE + (offset & MASK64), insn.size,
                          "no input memory for a packet load")
    data = vm.memory.region(INPUT_BASE)
    if offset < 0 or offset + insn.size > len(data):
        vm.regs[0] = 0
        vm.frames.clear()
        vm.base_depth = 0
        vm.stopped = True
        return
    vm.regs[0] = int.from_bytes(data[offset:offset + insn.size], "big")
    vm.pc += 1


HANDLERS: Final[dict[type, Handler]] = {
    Alu: _alu, Neg: _neg, MovSx: _movsx, Endian: _endian, Load: _load, Store: _store,
    Atomic: _atomic, Jump: _jump, Ja: _ja, Call: _call, CallKfunc: _call_kfunc,
    CallLocal: _call_local, Callx: _callx, Exit: _exit, LoadImm64: _load_imm64,
    LegacyLoad: _legacy_load,
}


def _invalid(reason: str) -> Handler:
    def handler(vm: Vm, insn: Any) -> None:
        raise InvalidInstruction(vm.pc, reason)
    return handler


def _resolve(insn: Instruction | None) -> tuple[Handler, Any]:
    if insn is None:
        return _invalid("second slot of lddw is not an instruction"), None
    problem = instruction_problem(insn)
    if problem is not None:
        return _invalid(problem), insn
    return HANDLERS[type(insn)], insn


def standard_memory(program: Program, profile: Profile, data: bytes = b"", *,
                    text: bytes | None = None) -> Memory:
    """Return the memory of a fresh run: bytecode, stack, heap (solana) and input regions.

    Region 1 holds ``text`` when given (the loaded bytes, unused fields included), else the
    program's encoding; in SBPFv0 it starts at ``SBPF_TEXT_OFFSET`` after zeros.
    """
    memory = Memory()
    try:
        code = bytearray(encode(program) if text is None else text)
    except (ArspecError, LookupError, ValueError):
        # A hand-built program may hold fields no encoding can carry; its region stays zero.
        code = bytearray(SLOT_SIZE * len(program))
    code[:0] = bytes(profile.code_base - PROGRAM_BASE)
    memory.add_region(PROGRAM_REGION, code, writable=False)
    add_stack(memory, profile)
    if profile.has_heap:
        memory.add_region(HEAP_REGION, bytearray(HEAP_SIZE), writable=True)
    memory.add_region(INPUT_REGION, bytearray(data), writable=True)
    return memory


#: Room Agave leaves after each account's data for it to grow (``MAX_PERMITTED_DATA_INCREASE``).
SBPF_ACCOUNT_DATA_ROOM: Final = 10 * 1024


@dataclass(frozen=True)
class SbpfAccount:
    """An account as an instruction passes it (``dup_of``: index of an earlier equal one)."""

    pubkey: bytes
    owner: bytes = bytes(32)
    lamports: int = 0
    data: bytes = b""
    is_signer: bool = False
    is_writable: bool = False
    executable: bool = False
    dup_of: int | None = None


def _serialize_account(account: SbpfAccount) -> bytes:
    if account.dup_of is not None:
        return struct.pack("<B7x", account.dup_of)
    data = account.data + bytes(SBPF_ACCOUNT_DATA_ROOM)
    data += bytes(-len(data) % 8)
    return (struct.pack("<BBBB4x", 0xFF, account.is_signer, account.is_writable,
                        account.executable)
            + account.pubkey + account.owner
            + struct.pack("<QQ", account.lamports, len(account.data)) + data
            + struct.pack("<Q", (1 << 64) - 1))


def serialize_sbpf_input(data: bytes, program_id: bytes = bytes(32),
                         accounts: tuple[SbpfAccount, ...] = ()) -> bytes:
    """Return Agave's serialized input of an instruction (the aligned layout).

    anza-xyz/agave ``program-runtime/src/serialization.rs`` (``serialize_parameters_aligned``):
    ``u64`` account count; per account either ``u8`` index of the account it duplicates and
    7 bytes of padding, or ``0xff``, ``u8`` is_signer, ``u8`` is_writable, ``u8``
    executable, 4 bytes of padding, key, owner, ``u64`` lamports, ``u64`` data length,
    the data, 10 KiB of room, padding to 8 bytes and ``u64`` rent epoch (always ``u64::MAX``,
    as measured on Agave); then ``u64`` data length, the instruction data and the 32-byte
    program id.
    """
    if len(program_id) != 32:
        raise InputError(f"program id of {len(program_id)} bytes (expected 32)")
    head = struct.pack("<Q", len(accounts)) + b"".join(_serialize_account(a) for a in accounts)
    return head + struct.pack("<Q", len(data)) + data + program_id


def entry_input(profile: Profile, data: bytes, program_id: bytes = bytes(32),
                accounts: tuple[SbpfAccount, ...] = ()) -> tuple[bytes, tuple[int, int]]:
    """Return the input region and (r1, r2) of a run of ``profile`` given ``data``.

    Linux: the region is ``data``, r1 its address and r2 its length. SBPFv0: ``data`` is the
    instruction data of a call passing ``accounts``, the region Agave's serialized input, r1
    its address and r2 the address of the instruction data in it (as measured on Agave).
    """
    if profile.sbpf_version is None:
        return data, (INPUT_BASE, len(data))
    region = serialize_sbpf_input(data, program_id, accounts)
    return region, (INPUT_BASE, INPUT_BASE + len(region) - 32 - len(data))


def execute(program: Program, *, profile: Profile = LINUX, memory: bytes = b"",
            helpers: HelperRegistry | None = None, compute_limit: int | None = None,
            tracer: Tracer | None = None, engine: str = "auto",
            agave_entry: bool = False) -> ExecutionResult:
    """Run ``program`` once on fresh memory holding ``memory`` as its input region.

    r1 = ``INPUT_BASE``, r2 = ``len(memory)``, r10 = top of the first frame (the entry the
    verifier models for a single program). With ``agave_entry`` in SBPFv0, ``memory`` is the
    instruction data and the entry is Agave's (:func:`entry_input`). A fault never escapes:
    it is returned in :attr:`ExecutionResult.fault`. A program the profile's loader refuses
    (:func:`~arspec.reference.vm.load_checks.check_program`) raises before it runs.
    """
    check_program(program, profile)
    if agave_entry:
        region, args = entry_input(profile, memory)
    else:
        region, args = memory, (INPUT_BASE, len(memory))
    vm = Vm(program, profile=profile, helpers=helpers,
            memory=standard_memory(program, profile, region), compute_limit=compute_limit,
            tracer=tracer, engine=engine)
    return vm.run(0, args)
