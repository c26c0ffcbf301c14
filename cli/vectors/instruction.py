"""
Instruction-level vectors
=========================

One program run on a fresh VM: the program's bytes, the profile, the input region and the
entry registers in; every register, the bytes written, the compute units, a stable fault code
and the log lines out. :func:`run_program` is the one place that runs a vector's input; it
takes and returns plain values, so the same function produces the expected results and, in
the tests, answers the vectors read back through the independent reader.

Memory: the program's code is mapped at ``0x100000000`` (SBPFv0: after ``0x40`` bytes of
zeros), the stack at ``0x200000000``, the heap (``solana``) at ``0x300000000`` and the input
region at ``0x400000000`` (:mod:`arspec.reference.vm.profiles`). ``expected.memory`` lists
every byte range a store, atomic or helper wrote, with the bytes it holds at the end of the
run, merged into maximal ranges and sorted by address.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

from arspec.cli.vectors.common import SpecCalls
from arspec.reference.isa.decoder import decode, decode_sbpf_v0
from arspec.reference.isa.instructions import Program
from arspec.reference.runtime.solana_syscalls import solana_syscalls
from arspec.reference.vm.helpers import HelperRegistry, plugin_helpers
from arspec.reference.vm.load_checks import check_program
from arspec.reference.vm.memory import Memory
from arspec.reference.vm.profiles import get_profile
from arspec.reference.vm.vm import ExecutionResult, Vm, standard_memory
from arspec.spec.errors import ArspecError, ExecutionFault, MemoryFault

#: Stable fault codes by arspec's fault class (the class names may change; these may not).
FAULT_CODES: Final = {
    "MemoryFault": "memory_access",
    "DivisionByZero": "division_by_zero",
    "DivisionOverflow": "division_overflow",
    "InstructionLimit": "instruction_limit",
    "ComputeBudgetExceeded": "compute_budget",
    "CallDepthExceeded": "call_depth",
    "HelperFault": "helper",
    "InvalidInstruction": "invalid_instruction",
    "ProgramOverrun": "program_overrun",
    "InvalidCallTarget": "invalid_call_target",
    "DecodeError": "decode",
    "ProgramRejected": "load_rejected",
}

#: Loaders a vector may name: how its program bytes become instructions.
LOADERS: Final = ("raw", "sbpf_v0")
#: Helper sets a vector may name.
HELPER_SETS: Final = ("plugin", "solana_syscalls")

_MASK64: Final = (1 << 64) - 1


def make_helpers(name: str) -> HelperRegistry:
    """Return the helper set ``name`` (one of :data:`HELPER_SETS`)."""
    return solana_syscalls() if name == "solana_syscalls" else plugin_helpers()


def _fault_code(error: ArspecError) -> str:
    name = type(error).__name__
    return FAULT_CODES.get(name, name)


def record_writes(memory: Memory, writes: list[tuple[int, int]]) -> None:
    """Make ``memory`` log every successful write as ``(address, length)``."""

    class Recording(Memory):
        __slots__ = ()

        def store(self, pc: int, address: int, size: int, value: int) -> None:
            super().store(pc, address, size, value)
            writes.append((address, size))

        def write_bytes(self, pc: int, address: int, data: bytes) -> None:
            super().write_bytes(pc, address, data)
            writes.append((address, len(data)))

    memory.__class__ = Recording


def _written(memory: Memory, writes: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Return the final bytes of every written range, merged where one access can read them.

    A range is read back the way it was written (one access), since an access that
    straddles an SBPFv0 stack gap or a Linux frame boundary is not a run of single bytes.
    """
    memory.stack_top = 1 << 32  # every frame the run wrote, not only those live at exit
    ranges: list[tuple[int, int, list[tuple[int, int]]]] = []
    for address, size in sorted(set(writes)):
        if ranges and address <= ranges[-1][1]:
            low, high, parts = ranges[-1]
            ranges[-1] = (low, max(high, address + size), [*parts, (address, size)])
        else:
            ranges.append((address, address + size, [(address, size)]))
    out = []
    for low, high, parts in ranges:
        try:
            out.append({"address": low, "hex": memory.read_bytes(0, low, high - low).hex()})
        except MemoryFault:
            out += [{"address": a, "hex": memory.read_bytes(0, a, n).hex()} for a, n in parts]
    return out


def _refused(error: ArspecError) -> dict[str, Any]:
    pc = getattr(error, "pc", None)
    return {"status": "refused", "registers": None, "memory": [], "compute_units": 0,
            "instructions": 0, "logs": [],
            "fault": {"code": _fault_code(error), "pc": pc, "address": None,
                      "message": str(error)}}


def load(program: bytes, loader: str) -> Program:
    """Decode ``program`` with ``loader`` (``raw``: RFC 9669 bytes; ``sbpf_v0``: Agave's)."""
    return decode_sbpf_v0(program) if loader == "sbpf_v0" else decode(program)


def run_program(program: bytes, *, profile: str, loader: str, input_region: bytes,
                registers: dict[str, int], compute_limit: int, helpers: str,
                text: bytes | None = None) -> dict[str, Any]:
    """Run one vector's input and return its expected result as plain JSON data.

    ``registers`` holds r1..r5 at entry (``"r1"`` ...), the others start at 0 and r10 at the
    top of the first stack frame. ``text`` replaces the code region's bytes (SBPFv0's loader
    rewrites local call immediates); ``None`` maps ``program`` itself.
    """
    prof = get_profile(profile)
    try:
        decoded = load(program, loader)
        check_program(decoded, prof)
    except ArspecError as error:
        return _refused(error)
    memory = standard_memory(decoded, prof, input_region, text=text)
    writes: list[tuple[int, int]] = []
    record_writes(memory, writes)
    vm = Vm(decoded, profile=prof, helpers=make_helpers(helpers), memory=memory,
            compute_limit=compute_limit, engine="interpreter")
    args = tuple(registers.get(f"r{i}", 0) for i in range(1, 6))
    result = vm.run(0, args)
    return encode_result(result, vm.registers, memory, writes)


def fault_json(stop: ExecutionFault) -> dict[str, Any]:
    """Return a fault as the ``fault`` object of an expected result (stable ``code``)."""
    return {"code": _fault_code(stop), "pc": stop.pc,
            "address": stop.address if isinstance(stop, MemoryFault) else None,
            "message": str(stop)}


def encode_result(result: ExecutionResult, registers: Sequence[int], memory: Memory,
                  writes: list[tuple[int, int]]) -> dict[str, Any]:
    """Return a finished run as an expected result: ``registers`` are r0..r10 at the end,
    ``writes`` what :func:`record_writes` logged on ``memory``."""
    fault = None if result.fault is None else fault_json(result.fault)
    return {"status": "exit" if fault is None else "fault",
            "registers": [r & _MASK64 for r in registers],
            "memory": _written(memory, writes),
            "compute_units": result.compute_units,
            "instructions": result.instructions,
            "fault": fault,
            "logs": list(result.logs)}


def run_input(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the plain ``input`` object of an instruction vector (see :func:`run_program`)."""
    text = inputs.get("text")
    return run_program(bytes.fromhex(inputs["program"]), profile=inputs["profile"],
                       loader=inputs["loader"], input_region=bytes.fromhex(inputs["memory"]),
                       registers=dict(inputs["registers"]),
                       compute_limit=inputs["compute_limit"], helpers=inputs["helpers"],
                       text=bytes.fromhex(text) if text is not None else None)


def make_input(program: bytes, *, profile: str, memory: bytes = b"",
               registers: dict[str, int] | None = None, compute_limit: int = 1_000_000,
               loader: str = "raw", helpers: str | None = None,
               text: bytes | None = None) -> dict[str, Any]:
    """Return the plain ``input`` object of an instruction vector.

    Without ``registers`` the entry is r1 = the input region's address, r2 = its length.
    """
    if registers is None:
        registers = {"r1": 0x4_0000_0000, "r2": len(memory)}
    if helpers is None:
        helpers = "solana_syscalls" if profile == "solana" else "plugin"
    return {"profile": profile, "loader": loader, "program": program.hex(),
            "text": None if text is None or text == program else text.hex(),
            "memory": memory.hex(), "registers": registers, "compute_limit": compute_limit,
            "helpers": helpers}


def expect(inputs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Run ``inputs`` and return the expected result and the spec functions it called."""
    with SpecCalls() as calls:
        expected = run_input(inputs)
    return expected, calls.names


def words(*parts: tuple[int, int, int, int, int]) -> bytes:
    """Return instruction words ``(opcode, dst, src, offset, imm)`` as program bytes."""
    return b"".join(struct.pack("<BBhi", op, dst | src << 4, off, imm)
                    for op, dst, src, off, imm in parts)


Producer = Callable[[], list[tuple[str, dict[str, Any]]]]
