"""
One program, as JSON
====================

What ``exec --format json``, ``exec --trace-out`` and ``exec --batch`` share: run one loaded
program on a fresh reference VM with the entry of ``exec`` (Linux: r1 = the input region, r2
its length; solana: Agave's serialized input with the bytes as instruction data), record what
it writes, and encode the run with the instruction vectors' encoder
(:func:`arspec.cli.vectors.instruction.encode_result`), so an ``exec`` result and a vector's
``expected`` object have one shape and one schema.

The run is on the interpreter (every store is recorded; the fast path writes memory
directly), with the helpers of ``exec``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TextIO

from arspec.cli.exec_trace import JsonLinesTracer
from arspec.cli.exit_codes import EXIT_FAILED, EXIT_OK
from arspec.cli.vectors.instruction import encode_result, record_writes
from arspec.reference.isa.instructions import Program
from arspec.reference.vm.profiles import get_profile

#: The ``format`` and ``version`` of ``exec --format json``.
EXEC_FORMAT: Final = "arspec-exec"
EXEC_VERSION: Final = 1


@dataclass(frozen=True)
class ExecRequest:
    """One run: a loaded program, the profile's name, the input bytes and the CU limit."""

    program: Program
    profile: str
    memory: bytes = b""
    compute_limit: int | None = None


def run_request(request: ExecRequest, trace: TextIO | None = None) -> dict[str, Any]:
    """Run ``request`` and return its result object (a vector's ``expected`` shape); with
    ``trace``, write its per-instruction trace there
    (:class:`~arspec.cli.exec_trace.JsonLinesTracer`).

    A program the profile's loader refuses raises before it runs, as ``exec`` does.
    """
    from arspec.reference.runtime.solana_syscalls import solana_syscalls
    from arspec.reference.vm.helpers import test_helpers
    from arspec.reference.vm.load_checks import check_program
    from arspec.reference.vm.vm import Vm, entry_input, standard_memory

    profile = get_profile(request.profile)
    sbpf = profile.sbpf_version is not None
    check_program(request.program, profile)
    region, args = entry_input(profile, request.memory)
    memory = standard_memory(request.program, profile, region)
    writes: list[tuple[int, int]] = []
    record_writes(memory, writes)
    tracer = None if trace is None else JsonLinesTracer(trace, request.program, writes)
    vm = Vm(request.program, profile=profile,
            helpers=solana_syscalls() if sbpf else test_helpers(), memory=memory,
            compute_limit=request.compute_limit, tracer=tracer, engine="interpreter")
    if tracer is not None:
        tracer.attach(vm)
    result = vm.run(0, args)
    if tracer is not None:
        tracer.finish()
    return encode_result(result, vm.registers, memory, writes)


def result_exit_code(result: dict[str, Any], profile: str) -> int:
    """Return ``exec``'s exit code for a result object: 1 for a fault, and on a profile
    where a non-zero r0 fails the call (solana), 1 for that too; else 0."""
    if result["fault"] is not None:
        return EXIT_FAILED
    if get_profile(profile).nonzero_r0_fails and result["registers"][0] != 0:
        return EXIT_FAILED
    return EXIT_OK


def exec_document(source: str, request: ExecRequest, result: dict[str, Any],
                  exit_code: int) -> dict[str, Any]:
    """Return the ``arspec-exec`` document: what ran, its ``result`` and the exit code."""
    return {"format": EXEC_FORMAT, "version": EXEC_VERSION, "program": source,
            "profile": request.profile, "input": request.memory.hex(),
            "compute_limit": request.compute_limit, "exit_code": exit_code, "result": result}
