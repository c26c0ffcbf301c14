"""
Differential runs against Agave
===============================

Random SBPFv0 programs run on arspec's ``solana`` profile and on Agave's VM inside LiteSVM
(the PyPI package ``solders``, imported only when :class:`AgaveOracle` is built), with the
observable results compared: load refusal (and its pc), success or error (``Custom(n)``,
``InvalidError``, the fault message with its kind, address and size), compute units
consumed (Agave's ``consumed N of M`` log line) and the program's log lines.

A case is raw ``.text`` (relocated the way arspec reads it: a syscall ``call`` holds
``murmur3_32(name)``, a local call ``src = 1`` and a pc-relative immediate) plus its syscall
sites and instruction data. :func:`write_case_elf` turns it into the SBPFv0 ELF Agave loads.
Programs end with an epilogue that logs r1-r9 and r0 through ``sol_log_64_`` and, half the
time, a SHA-256 of the first stack frame, the heap and the input (``sol_log_data``), so the
whole final state is compared, not only r0.

:func:`generate_case` draws from every class the issue lists: straight-line ALU with junk in
unused fields (signed div/mod and ``movsx`` encodings among them), loops, local calls and
``callx`` (also unaligned, outside the text, past the call depth), loads and stores in every
region and its edges (frame gaps included), faults of every kind, refused opcodes, exit
codes, and each syscall of :mod:`~arspec.reference.runtime.solana_syscalls`.
"""

from __future__ import annotations

import random
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Final

from arspec.reference.differential.sbpf_elf import write_sbpf_v0_elf
from arspec.reference.isa.decoder import decode_sbpf_v0
from arspec.reference.isa.instructions import Call
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.solana_syscalls import (
    SYSCALL_IDS,
    SYSCALL_NAMES,
    Clock,
    solana_syscalls,
)
from arspec.reference.vm.profiles import (
    HEAP_BASE,
    INPUT_BASE,
    PROGRAM_BASE,
    SBPF_TEXT_OFFSET,
    SOLANA,
    STACK_BASE,
)
from arspec.reference.vm.sbpf_errors import BUILTIN_ERRORS, describe_exit_code
from arspec.reference.vm.vm import Vm, entry_input, standard_memory
from arspec.spec.errors import (
    CallDepthExceeded,
    ComputeBudgetExceeded,
    DecodeError,
    DivisionByZero,
    ExecutionFault,
    HelperFault,
    InstructionLimit,
    InvalidCallTarget,
    InvalidInstruction,
    MemoryFault,
    ProgramOverrun,
)

#: Agave's default per-instruction compute budget.
DEFAULT_LIMIT: Final = 200_000
CODE_BASE: Final = PROGRAM_BASE + SBPF_TEXT_OFFSET

@dataclass
class Case:
    """One program: text, syscall sites (pc -> name), instruction data, compute limit."""

    text: bytes
    sites: dict[int, str] = field(default_factory=dict)
    data: bytes = b""
    limit: int = DEFAULT_LIMIT
    kind: str = ""


@dataclass(frozen=True)
class Outcome:
    """What one engine observed: refused, or status, consumed units and log lines."""

    refused: bool
    status: str
    units: int
    logs: tuple[str, ...]


def describe_error(r0: int) -> str:
    """Return the instruction error Agave reports for a program that exits with ``r0``."""
    return describe_exit_code(r0)


def describe_fault(fault: ExecutionFault, vm: Vm) -> str:
    """Return Agave's ``failed:`` text for an arspec fault (kind, address and size)."""
    if isinstance(fault, MemoryFault):
        reason = fault.reason.split(" (address ")[0]
        return f"{reason} at address {fault.address:#x} of size {fault.size}"
    if isinstance(fault, InstructionLimit):
        if isinstance(vm.program.slots[fault.pc], Call) and isinstance(fault,
                                                                        ComputeBudgetExceeded):
            return "Computational budget exceeded"
        return "exceeded CUs meter at BPF instruction"
    if isinstance(fault, DivisionByZero):
        return "divide by zero at BPF instruction"
    if isinstance(fault, ProgramOverrun):
        return "attempted to execute past the end of the text segment at BPF instruction"
    if isinstance(fault, InvalidCallTarget):
        return "callx attempted to call outside of the text segment"
    if isinstance(fault, CallDepthExceeded):
        return "exceeded max BPF to BPF call depth"
    if isinstance(fault, InvalidInstruction):
        return "unsupported BPF instruction"
    if isinstance(fault, HelperFault):
        return fault.reason
    return f"{fault.kind}: {fault.reason}"


def run_arspec(case: Case, clock: Clock, program_id: bytes = bytes(32), *,
               engine: str = "auto") -> Outcome:
    """Run ``case`` on arspec's ``solana`` profile (SBPFv0) as program ``program_id``."""
    try:
        program = decode_sbpf_v0(case.text)
    except DecodeError as err:
        return Outcome(True, f"refused at pc {err.pc}", 0, ())
    region, args = entry_input(SOLANA, case.data, program_id)
    memory = standard_memory(program, SOLANA, region, text=loaded_text(case.text))
    vm = Vm(program, profile=SOLANA, helpers=solana_syscalls(clock), memory=memory,
            compute_limit=case.limit, engine=engine)
    result = vm.run(0, args)
    if result.fault is not None:
        status = "failed: " + describe_fault(result.fault, vm)
        if status == "failed: Computational budget exceeded":
            status = "ComputationalBudgetExceeded"  # Agave's instruction error, not a VM fault
    else:
        status = describe_error(result.r0)
    return Outcome(False, status, result.compute_units, result.logs)


def loaded_text(text: bytes) -> bytes:
    """Return ``text`` as Agave's loader leaves it in memory: a local call's immediate
    becomes ``murmur3_32`` of the target pc as 8 little-endian bytes (anza-xyz/sbpf
    ``src/elf.rs`` ``relocate``, ``register_function_hashed_legacy``)."""
    out = bytearray(text)
    for pc in range(len(text) // 8):
        opcode, regs, _, imm = struct.unpack_from("<BBhi", text, 8 * pc)
        if opcode == 0x85 and regs >> 4 == 1:
            target = pc + 1 + imm
            struct.pack_into("<I", out, 8 * pc + 4, murmur3_32(struct.pack("<Q", target)))
    return bytes(out)


def write_case_elf(case: Case) -> bytes:
    """Return the SBPFv0 ELF of ``case`` (syscall sites become relocations)."""
    return write_sbpf_v0_elf(case.text, case.sites)


_CONSUMED: Final = re.compile(r"^Program \w+ consumed (\d+) of \d+ compute units$")
_FAILED: Final = re.compile(r"^Program \w+ failed: (.*)$", re.DOTALL)
_INSN: Final = re.compile(r"insn #(\d+)|instruction (\d+)")


class AgaveOracle:
    """Runs cases on Agave's VM through ``solders.litesvm`` (one LiteSVM per batch)."""

    BATCH: Final = 400

    def __init__(self) -> None:
        from solders.compute_budget import set_compute_unit_limit
        from solders.instruction import Instruction
        from solders.keypair import Keypair
        from solders.litesvm import LiteSVM
        from solders.pubkey import Pubkey
        from solders.transaction import Transaction

        self._svm_type = LiteSVM
        self._instruction, self._transaction = Instruction, Transaction
        self._limit_ix, self._pubkey = set_compute_unit_limit, Pubkey
        self._payer = Keypair()
        self._count = 0
        self._svm: Any = None
        self._new_svm()

    def _new_svm(self) -> None:
        self._svm = self._svm_type()
        self._svm.airdrop(self._payer.pubkey(), 10**12)

    def clock(self) -> Clock:
        """Return the clock LiteSVM's programs see."""
        c = self._svm.get_clock()
        return Clock(c.slot, c.epoch_start_timestamp, c.epoch, c.leader_schedule_epoch,
                     c.unix_timestamp)

    def program_id(self) -> bytes:
        """Return a fresh program id (the input region ends with it)."""
        return bytes(self._pubkey.new_unique())

    def run(self, case: Case, program_id: bytes) -> Outcome:
        """Load ``case`` as program ``program_id`` and invoke it once."""
        self._count += 1
        if self._count % self.BATCH == 0:
            self._new_svm()
        pid = self._pubkey(program_id)
        try:
            self._svm.add_program(pid, write_case_elf(case))
        except Exception as err:  # solders does not export LiteSVMError
            if type(err).__name__ != "LiteSVMError":
                raise
            found = _INSN.search(str(err))
            pc = next(int(g) for g in found.groups() if g) if found else -1
            return Outcome(True, f"refused at pc {pc}", 0, ())
        ixs = [self._limit_ix(case.limit + 150)] if case.limit != DEFAULT_LIMIT else []
        ixs.append(self._instruction(pid, case.data, []))
        tx = self._transaction.new_signed_with_payer(ixs, self._payer.pubkey(), [self._payer],
                                                     self._svm.latest_blockhash())
        result = self._svm.send_transaction(tx)
        logs = result.logs() if hasattr(result, "logs") else result.meta().logs()
        return self._outcome(list(logs), result)

    @staticmethod
    def _outcome(logs: list[str], result: Any) -> Outcome:
        units, status, lines = -1, "success", []
        for line in logs:
            if line.startswith("Program ComputeBudget") or " invoke [" in line:
                continue
            consumed = _CONSUMED.match(line)
            failed = _FAILED.match(line)
            if consumed:
                units = int(consumed.group(1))
            elif failed:
                status = failed.group(1)
            elif not line.endswith(" success"):
                lines.append(line)
        if status != "success":
            err = str(result.err())
            custom = re.search(r"InstructionErrorCustom\((\d+)\)", err)
            if custom:
                status = f"Custom({custom.group(1)})"
            elif "ProgramFailedToComplete" not in err:
                named = re.search(r"Fieldless\((\w+)\)", err)
                status = named.group(1) if named else err
            else:
                status = "failed: " + status
        return Outcome(False, status, units, tuple(lines))


def classify(ours: Outcome, theirs: Outcome) -> str | None:
    """Return the divergence class of two outcomes, or ``None`` when they agree."""
    if ours.refused != theirs.refused:
        return "load: refused by one side only"
    if ours.refused:
        return None if ours.status == theirs.status else "load: refusal pc"
    if ours.status != theirs.status:
        return "status: " + (theirs.status.split(" at ")[0][:60])
    if ours.units != theirs.units:
        return "compute units"
    if ours.logs != theirs.logs:
        return "logs"
    return None


# --- program generation ---------------------------------------------------------------------

def word(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """Return one instruction slot (imm wrapped to 32 bits, offset to 16)."""
    off = (off + 0x8000) % 0x10000 - 0x8000
    imm = (imm + 0x8000_0000) % 0x1_0000_0000 - 0x8000_0000
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def lddw(dst: int, value: int) -> bytes:
    """Return the two slots of ``lddw dst, value``."""
    value &= (1 << 64) - 1
    return word(0x18, dst, imm=value & 0xFFFFFFFF) + word(0, imm=value >> 32)


_ALU_CODES: Final = (0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xB0, 0xC0)
_JCC: Final = (0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0)
_REFUSED: Final = (0x16, 0x1E, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x81, 0x89, 0x91, 0x99,
                   0xC3, 0xDB, 0xD7, 0x06, 0x0D, 0x8C, 0x00, 0xF7, 0x8E, 0xE5, 0x9D)
_INTERESTING: Final = (0, 1, 2, 7, 31, 32, 63, 64, 0x7F, 0x80, 0xFF, 0x7FFF_FFFF, -1, -2,
                       -0x8000_0000, 0x1234_5678, -0x1234_5678)


class _Builder:
    """Accumulates slots and syscall sites."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.slots: list[bytes] = []
        self.sites: dict[int, str] = {}

    @property
    def pc(self) -> int:
        return len(self.slots)

    def add(self, raw: bytes) -> None:
        self.slots.extend(raw[i:i + 8] for i in range(0, len(raw), 8))

    def syscall(self, name: str) -> None:
        self.sites[self.pc] = name
        junk = self.rng.choice((0, 0, 0, 3))
        self.add(word(0x85, src=junk, imm=SYSCALL_IDS[name]))

    def imm(self) -> int:
        if self.rng.random() < 0.5:
            return self.rng.choice(_INTERESTING)
        return self.rng.randint(-(1 << 31), (1 << 31) - 1)

    def reg(self) -> int:
        return self.rng.randint(0, 9)


def _alu(b: _Builder, allow_refused: bool) -> None:
    rng = b.rng
    kind = rng.random()
    cls = rng.choice((0x04, 0x07))
    dst = b.reg()
    if kind < 0.08:
        b.add(word(cls | 0x80, dst, rng.choice((0, 0, 5)), rng.choice((0, 0, 9))))
        return
    if kind < 0.16:
        width = rng.choice((16, 32, 64, 64, 16)) if not allow_refused or rng.random() < 0.9 \
            else rng.choice((0, 8, 17))
        b.add(word(rng.choice((0xD4, 0xDC)), dst, rng.choice((0, 0, 2)), 0, width))
        return
    if kind < 0.22:
        b.add(lddw(dst, rng.getrandbits(64) if rng.random() < 0.5 else b.imm()))
        return
    code = rng.choice(_ALU_CODES)
    reg_form = rng.random() < 0.5
    junk_off = rng.choice((0, 0, 0, 1, 8, 16, 32, -1))
    if reg_form:
        src = rng.randint(0, 10)
        junk_imm = rng.choice((0, 0, 0, 7, -1))
        b.add(word(cls | 0x08 | code, dst, src, junk_off, junk_imm))
        return
    imm = b.imm()
    width = 64 if cls == 0x07 else 32
    if code in (0x30, 0x90) and imm == 0 and (not allow_refused or rng.random() < 0.8):
        imm = rng.choice((1, 3, -1, 7))
    if code in (0x60, 0x70, 0xC0) and (not allow_refused or rng.random() < 0.9):
        imm = rng.randint(0, width - 1)
    b.add(word(cls | code, dst, rng.choice((0, 0, 0, 4)), junk_off, imm))


def _memory_address(b: _Builder) -> tuple[int, int]:
    """Return (base register holding an address, offset) after setting it up."""
    rng = b.rng
    region = rng.random()
    size_hint = 8
    reg = rng.randint(1, 9)
    if region < 0.35:
        choices = [-8, -16, -4096, -4095, -1, 0, 8, 4092, 4096, 0x1000 - 0x2000,
                   rng.randint(-4096, -1), rng.randint(-0x3000, 0x3000)]
        b.add(word(0xBF, reg, 10))
        return reg, rng.choice(choices)
    if region < 0.55:
        base = HEAP_BASE
        off = rng.choice((0, 8, 32 * 1024 - 8, 32 * 1024 - 4, 32 * 1024, -1,
                          rng.randint(0, 32 * 1024)))
    elif region < 0.75:
        base = INPUT_BASE
        off = rng.choice((0, 8, 16, 24, 40, 48, 56, 60, 64, rng.randint(0, 80)))
    elif region < 0.85:
        base = PROGRAM_BASE
        off = rng.choice((0, 8, 0x40, 0x48, rng.randint(0, 0x100)))
    elif region < 0.92:
        base = STACK_BASE
        off = rng.choice((0, 0x1000, 0x1FF8, 0x2000, 0x3000, 63 * 0x2000 + 0xFF8,
                          64 * 0x2000, rng.randint(0, 0x80000)))
    else:
        base = rng.choice((0, 5 << 32, 6 << 32, 0xFFFF_FFFF_FFFF_0000))
        off = rng.randint(0, 64)
    b.add(lddw(reg, base + off - size_hint * 0))
    return reg, rng.choice((0, 0, 0, -8, 8, 1))


def _mem(b: _Builder) -> None:
    rng = b.rng
    reg, off = _memory_address(b)
    size_code = rng.choice((0x00, 0x08, 0x10, 0x18))
    kind = rng.random()
    if kind < 0.4:
        dst = rng.choice([r for r in range(10) if r != reg] or [0])
        b.add(word(0x61 | size_code, dst, reg, off))
    elif kind < 0.7:
        b.add(word(0x62 | size_code, reg, rng.choice((0, 0, 3)), off, b.imm()))
    else:
        b.add(word(0x63 | size_code, reg, b.reg(), off, rng.choice((0, 0, 9))))


def _syscall(b: _Builder) -> None:
    rng = b.rng
    name = rng.choice(SYSCALL_NAMES)
    heap = HEAP_BASE + 256
    if name == "sol_log_":
        text = rng.choice((b"hello", b"", bytes(range(32, 90)), b"\xff\xfe", b"caf\xc3\xa9",
                           b"x" * 300))
        for i in range(0, len(text), 8):
            b.add(lddw(6, int.from_bytes(text[i:i + 8].ljust(8, b"\0"), "little")))
            b.add(lddw(7, heap + i) + word(0x7B, 7, 6))
        b.add(lddw(1, heap) + word(0xB7, 2, imm=len(text) + rng.choice((0, 0, 0, 1))))
    elif name == "sol_log_pubkey":
        b.add(lddw(1, rng.choice((INPUT_BASE + 16 + 0, INPUT_BASE + 16 + 4, heap,
                                  HEAP_BASE + 32 * 1024 - 16))))
    elif name == "sol_log_data":
        count = rng.choice((0, 1, 2, 3))
        for i in range(count):
            b.add(lddw(6, heap + 64 * i) + lddw(7, HEAP_BASE + 1024 + 16 * i) + word(0x7B, 7, 6))
            b.add(word(0x7A, 7, 0, 8, rng.choice((0, 1, 5, 16, 64))))
        b.add(lddw(1, HEAP_BASE + 1024 + rng.choice((0, 0, 0, 4))))
        b.add(word(0xB7, 2, imm=count))
    elif name in ("sol_memcpy_", "sol_memmove_", "sol_memcmp_"):
        a = rng.choice((heap, heap + 8, heap + 3, STACK_BASE + 0xF00, INPUT_BASE, PROGRAM_BASE))
        c = rng.choice((heap, heap + 8, heap + 16, heap + 600, STACK_BASE + 0xF80))
        b.add(lddw(1, a) + lddw(2, c))
        b.add(word(0xB7, 3, imm=rng.choice((0, 1, 8, 16, 100, 251, 600, 5000))))
        b.add(lddw(4, rng.choice((heap + 2000, heap + 2002, heap + 2001))))
    elif name == "sol_memset_":
        b.add(lddw(1, rng.choice((heap, STACK_BASE + 0xF00, PROGRAM_BASE, heap + 32 * 1024 - 50))))
        b.add(lddw(2, b.imm()) + word(0xB7, 3, imm=rng.choice((0, 1, 50, 260, 4000))))
    elif name in ("sol_sha256", "sol_keccak256"):
        count = rng.choice((0, 1, 2))
        for i in range(count):
            b.add(lddw(6, heap + 64 * i) + lddw(7, HEAP_BASE + 1024 + 16 * i) + word(0x7B, 7, 6))
            b.add(word(0x7A, 7, 0, 8, rng.choice((0, 1, 20, 64, 3000))))
        b.add(lddw(1, HEAP_BASE + 1024) + word(0xB7, 2, imm=count))
        b.add(lddw(3, rng.choice((heap + 4096, PROGRAM_BASE, heap + 32 * 1024 - 16))))
    elif name == "sol_get_clock_sysvar":
        b.add(lddw(1, rng.choice((heap + 512, heap + 516, PROGRAM_BASE + 8))))
    elif name == "sol_panic_":
        b.add(lddw(1, INPUT_BASE + 16) + word(0xB7, 2, imm=rng.choice((0, 3))))
        b.add(word(0xB7, 3, imm=rng.randint(0, 99)) + word(0xB7, 4, imm=rng.randint(0, 9)))
    elif name == "sol_log_64_":
        for r in range(1, 6):
            if rng.random() < 0.5:
                b.add(lddw(r, rng.getrandbits(64)))
    b.syscall(name)


def _epilogue(b: _Builder) -> None:
    rng = b.rng
    b.add(word(0x7B, 10, 0, -8))
    b.syscall("sol_log_64_")
    b.add(word(0xBF, 1, 6) + word(0xBF, 2, 7) + word(0xBF, 3, 8) + word(0xBF, 4, 9))
    b.add(word(0x79, 5, 10, -8))
    b.syscall("sol_log_64_")
    if rng.random() < 0.5:
        slices = ((STACK_BASE, 4096), (HEAP_BASE, 32 * 1024), (INPUT_BASE, 56))
        for i, (ptr, length) in enumerate(slices):
            b.add(lddw(6, ptr) + lddw(7, HEAP_BASE + 31 * 1024 + 16 * i) + word(0x7B, 7, 6))
            b.add(word(0x7A, 7, 0, 8, length))
        b.add(lddw(1, HEAP_BASE + 31 * 1024) + word(0xB7, 2, imm=3))
        b.add(lddw(3, HEAP_BASE + 31 * 1024 + 64))
        b.syscall("sol_sha256")
        b.add(lddw(6, HEAP_BASE + 31 * 1024 + 64) + lddw(7, HEAP_BASE + 31 * 1024 + 128))
        b.add(word(0x7B, 7, 6) + word(0x7A, 7, 0, 8, 32))
        b.add(lddw(1, HEAP_BASE + 31 * 1024 + 128) + word(0xB7, 2, imm=1))
        b.syscall("sol_log_data")
    choice = rng.random()
    if choice < 0.6:
        b.add(word(0xB7, 0))
    elif choice < 0.8:
        b.add(word(0x79, 0, 10, -8))
        b.add(word(0x57, 0, imm=rng.choice((0xFFFF, 0x7FFFFFFF, -1))))
    else:
        k = rng.randint(0, len(BUILTIN_ERRORS) + 2)
        b.add(lddw(0, (k << 32) | rng.choice((0, 0, 0, 5))))
    b.add(word(0x95, rng.choice((0, 0, 3)), rng.choice((0, 0, 4)), 0, rng.choice((0, 0, 9))))


def _body(b: _Builder, kind: str) -> None:
    rng = b.rng
    for _ in range(rng.randint(1, 12)):
        pick = rng.random()
        if kind == "alu" or pick < 0.4:
            _alu(b, allow_refused=False)
        elif kind in ("memory", "mixed") and pick < 0.8:
            _mem(b)
        elif kind in ("syscalls", "mixed"):
            _syscall(b)
        else:
            _alu(b, allow_refused=False)


def _loop(b: _Builder) -> None:
    rng = b.rng
    counter = rng.randint(6, 9)
    b.add(word(0xB7, counter, imm=rng.choice((1, 3, 10, 100))))
    start = b.pc
    for _ in range(rng.randint(0, 4)):
        _alu(b, allow_refused=False)
    b.add(word(0x07, counter, imm=-1))
    b.add(word(0x55, counter, 0, start - (b.pc + 1), 0))


def _calls(b: _Builder, case: Case) -> list[tuple[int, int]]:
    """Emit a call (local or callx) to a function written after the epilogue; return fixups."""
    rng = b.rng
    fixups: list[tuple[int, int]] = []
    if rng.random() < 0.5:
        fixups.append((b.pc, 0))
        b.add(word(0x85, src=1, imm=0))
    else:
        reg = rng.randint(0, 9)
        fixups.append((b.pc, 1))
        b.add(lddw(reg, 0))
        b.add(word(0x8D, rng.choice((0, 0, 5)), rng.choice((0, 0, 2)), 0, reg))
    return fixups


def generate_case(rng: random.Random) -> Case:
    """Return one random program (see the module text for the classes)."""
    b = _Builder(rng)
    kind = rng.choice(("alu", "memory", "syscalls", "loop", "calls", "mixed", "faults",
                       "refused", "mixed"))
    case = Case(b"", kind=kind)
    case.data = bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 3, 8, 24))))
    fixups: list[tuple[int, int]] = []
    if kind == "refused":
        _body(b, "alu")
        b.add(word(rng.choice(_REFUSED), b.reg(), b.reg(), rng.randint(-2, 2), 16))
    elif kind == "faults":
        pick = rng.random()
        _body(b, "alu")
        if pick < 0.2:
            b.add(word(0xB7, 1) + word(rng.choice((0x3F, 0x9F, 0x3C, 0x9C)), 0, 1))
        elif pick < 0.35:
            b.add(word(0x05, off=-1))
            case.limit = rng.choice((5, 50, 1000))
        elif pick < 0.5:
            b.add(word(0xB7, 0))
            b.slots.append(word(0xB7, 1))
            b.sites = dict(b.sites)
            case.text = b"".join(b.slots)
            return case
        elif pick < 0.7:
            fixups += _calls(b, case)
            case.kind = "recursion"
        else:
            _mem(b)
    elif kind == "loop":
        _body(b, "alu")
        _loop(b)
        if rng.random() < 0.3:
            case.limit = rng.randint(5, 400)
    elif kind == "calls":
        for _ in range(rng.randint(1, 3)):
            _body(b, "mixed")
            fixups += _calls(b, case)
    elif kind in ("alu", "memory", "syscalls", "mixed"):
        _body(b, kind)
    _epilogue(b)
    if fixups:
        target = b.pc
        recursive = case.kind == "recursion"
        b.add(word(0x7B, 10, rng.randint(1, 9), -8))
        _body(b, "mixed" if not recursive else "alu")
        if recursive:
            b.add(word(0x85, src=1, imm=target - (b.pc + 1)))
        b.add(word(0x95))
        for pc, how in fixups:
            if how == 0:
                b.slots[pc] = word(0x85, src=1, imm=target - (pc + 1))
            else:
                address = CODE_BASE + 8 * target + rng.choice((0, 0, 0, 3, 8, -8, 1 << 20))
                raw = lddw(b.slots[pc][1] & 0x0F, address)
                b.slots[pc], b.slots[pc + 1] = raw[:8], raw[8:]
    case.text = b"".join(b.slots)
    case.sites = dict(b.sites)
    return case


__all__ = ["AgaveOracle", "Case", "Outcome", "classify", "describe_error", "generate_case",
           "run_arspec", "write_case_elf"]
