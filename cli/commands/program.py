"""``asm``, ``disasm`` and ``exec``: single programs on the reference VM."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from arspec.cli.exit_codes import EXIT_FAILED, EXIT_OK
from arspec.cli.options import UsageError


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
    """Run one program on the reference VM and write registers, counts and the fault."""
    from arspec.reference.isa.loading import load_program_file, parse_hex_bytes
    from arspec.reference.runtime.runtime import get_assembly_helpers
    from arspec.reference.runtime.solana_syscalls import solana_syscalls
    from arspec.reference.vm.helpers import test_helpers
    from arspec.reference.vm.profiles import get_profile
    from arspec.reference.vm.sbpf_errors import describe_exit_code
    from arspec.reference.vm.trace import ListTracer
    from arspec.reference.vm.vm import execute

    profile = get_profile(args.profile)
    sbpf = profile.sbpf_version is not None
    program = load_program_file(args.program, section=args.section, sbpf_v0=sbpf,
                                helpers=get_assembly_helpers(args.profile))
    memory = parse_hex_bytes(args.mem, what="--mem") if args.mem else b""
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
