"""``asm``, ``disasm`` and ``exec``: single programs on the reference VM."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from arspec.cli.exit_codes import EXIT_FAILED, EXIT_OK
from arspec.cli.options import UsageError
from arspec.spec.errors import InputError

if TYPE_CHECKING:
    from arspec.reference.isa.instructions import Program


def run_asm(args: argparse.Namespace, out: TextIO) -> int:
    """Assemble ``args.source``; write hex on ``out`` or raw bytes to ``--output``."""
    from arspec.reference.isa.assembler import assemble
    from arspec.reference.isa.encoder import encode
    from arspec.reference.isa.loading import read_source

    source = read_source(args.source)
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{args.source}: error: not a text file") from None
    code = encode(assemble(text, filename=args.source))
    if args.output is None:
        out.write(" ".join(f"{b:02x}" for b in code) + "\n")
    else:
        try:
            Path(args.output).write_bytes(code)
        except OSError as err:
            raise UsageError(f"{args.output}: error: cannot write: {err.strerror}") from None
    return EXIT_OK


def run_disasm(args: argparse.Namespace, out: TextIO) -> int:
    """Disassemble a program file."""
    from arspec.reference.isa.disassembler import disassemble, disassemble_listing
    from arspec.reference.isa.loading import load_program_file

    program = load_program_file(args.program, section=args.section)
    out.write(disassemble(program) if args.plain else disassemble_listing(program))
    return EXIT_OK


def run_exec(args: argparse.Namespace, out: TextIO) -> int:
    """Run one program on the reference VM (or ``--batch`` many); write the result as text
    or ``arspec-exec`` JSON, and the per-instruction trace to ``--trace-out``.

    A program the profile's loader refuses is one line naming the file and the pc.
    """
    from arspec.reference.vm.load_checks import ProgramRejected

    try:
        return _run_exec(args, out)
    except ProgramRejected as err:
        raise InputError(str(err), file=args.program) from None


def _run_exec(args: argparse.Namespace, out: TextIO) -> int:
    if args.batch is not None:
        return _run_batch(args, out)
    if args.program is None:
        raise UsageError("spec-check exec: error: the following arguments are required: program "
                         "(or --batch FILE)")
    if args.format == "text" and args.trace_out is None:
        return _run_exec_text(args, out)
    if args.trace:
        flag = "--format json" if args.format == "json" else "--trace-out"
        raise UsageError(f"spec-check exec: error: --trace (text events) cannot be combined "
                         f"with {flag}; --trace-out FILE writes the trace as JSON lines")
    import json

    from arspec.cli.exec_run import ExecRequest, exec_document, result_exit_code, run_request

    request = ExecRequest(_load_exec_program(args), args.profile, _exec_memory(args),
                          args.insn_limit)
    if args.trace_out is None:
        result = run_request(request)
    else:
        from arspec.reference.vm.load_checks import check_program
        from arspec.reference.vm.profiles import get_profile

        check_program(request.program, get_profile(args.profile))  # before the file exists
        try:
            with open(args.trace_out, "w", encoding="utf-8", newline="\n") as trace:
                result = run_request(request, trace)
        except OSError as err:
            raise UsageError(f"{args.trace_out}: error: cannot write the trace: "
                             f"{err.strerror or err}") from None
    code = result_exit_code(result, args.profile)
    if args.format == "json":
        document = exec_document(args.program, request, result, code)
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        _write_result_text(result, args.profile, out)
    return code


def _run_batch(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.cli.exec_batch import run_batch

    if args.program is not None:
        raise UsageError("spec-check exec: error: --batch reads its programs from FILE; "
                         "give no PROGRAM")
    for flag, given in (("--trace-out", args.trace_out is not None), ("--trace", args.trace),
                        ("--section", args.section is not None), ("--mem", bool(args.mem))):
        if given:
            raise UsageError(f"spec-check exec: error: {flag} cannot be combined with --batch "
                             "(give it per line)")
    return run_batch(args.batch, out, profile=args.profile, compute_limit=args.insn_limit)


def _load_exec_program(args: argparse.Namespace) -> Program:
    from arspec.reference.isa.loading import load_program_file
    from arspec.reference.runtime.runtime import get_assembly_helpers
    from arspec.reference.vm.profiles import get_profile

    sbpf = get_profile(args.profile).sbpf_version is not None
    return load_program_file(args.program, section=args.section, sbpf_v0=sbpf,
                             helpers=get_assembly_helpers(args.profile))


def _exec_memory(args: argparse.Namespace) -> bytes:
    from arspec.reference.isa.loading import parse_hex_bytes

    return parse_hex_bytes(args.mem, what="--mem") if args.mem else b""


def _write_result_text(result: dict[str, Any], profile: str, out: TextIO) -> None:
    """Write a result object the way ``exec`` writes a run (without ``--trace``)."""
    from arspec.reference.vm.profiles import get_profile
    from arspec.reference.vm.sbpf_errors import describe_exit_code

    for line in result["logs"]:
        out.write(f"log: {line}\n")
    r0 = result["registers"][0]
    out.write(f"r0 = {r0:#x} ({r0})\n")
    out.write(f"instructions: {result['instructions']}\n")
    out.write(f"compute units: {result['compute_units']}\n")
    fault = result["fault"]
    out.write(f"fault: {'none' if fault is None else fault['message']}\n")
    if fault is None and get_profile(profile).nonzero_r0_fails:
        out.write(f"result: {describe_exit_code(r0)}\n")


def _run_exec_text(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.reference.runtime.solana_syscalls import solana_syscalls
    from arspec.reference.vm.helpers import test_helpers
    from arspec.reference.vm.profiles import get_profile
    from arspec.reference.vm.sbpf_errors import describe_exit_code
    from arspec.reference.vm.trace import ListTracer
    from arspec.reference.vm.vm import execute

    profile = get_profile(args.profile)
    sbpf = profile.sbpf_version is not None
    program = _load_exec_program(args)
    memory = _exec_memory(args)
    tracer = ListTracer() if args.trace else None
    # solana: Agave's entry (--mem is the instruction data) and the sol_* syscalls.
    result = execute(program, profile=profile, memory=memory, compute_limit=args.insn_limit,
                     helpers=solana_syscalls() if sbpf else test_helpers(), tracer=tracer,
                     agave_entry=sbpf)
    if tracer is not None:
        for event in tracer.events:
            out.write(f"{event}\n")
    for line in result.logs:
        out.write(f"log: {line}\n")
    out.write(f"r0 = {result.r0:#x} ({result.r0})\n")
    out.write(f"instructions: {result.instructions}\n")
    out.write(f"compute units: {result.compute_units}\n")
    if result.fault is not None:
        out.write(f"fault: {result.fault}\n")
        return EXIT_FAILED
    out.write("fault: none\n")
    if sbpf and profile.nonzero_r0_fails:
        out.write(f"result: {describe_exit_code(result.r0)}\n")
        return EXIT_OK if result.r0 == 0 else EXIT_FAILED
    return EXIT_OK
