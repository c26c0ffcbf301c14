"""
The argument parser
===================

:func:`build_parser` builds ``spec-check``'s parser, one builder per subcommand. The
description and the exit codes in ``--help`` come from the :mod:`arspec.cli` docstring.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import TypeAlias

import arspec.cli
from arspec.cli.commands import explore, info, interleave, program, prove, replay, run, verify
from arspec.cli.commands import vectors as vectors_command
from arspec.cli.options import Parser, memory_size, positive_int, timeout_seconds
from arspec.cli.schemas import KINDS as SCHEMA_KINDS

Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("arspec")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown"


def _add_program_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("program", help="assembly (.s), raw bytecode, hex text or an ELF object")
    p.add_argument("--section", help="program section of an ELF object")


def _add_asm(sub: Subparsers) -> None:
    p = sub.add_parser("asm", help="assemble a program to bytecode")
    p.add_argument("source", help="assembly text (conformance or LLVM syntax)")
    p.add_argument("-o", "--output", help="write raw bytecode here (default: hex on stdout)")
    p.set_defaults(run=program.run_asm)


def _add_disasm(sub: Subparsers) -> None:
    p = sub.add_parser("disasm", help="disassemble bytecode or an ELF object (LLVM syntax)")
    _add_program_args(p)
    p.add_argument("--plain", action="store_true",
                   help="no pc numbers or jump targets: text the assembler reads back")
    p.set_defaults(run=program.run_disasm)


def _add_exec(sub: Subparsers) -> None:
    p = sub.add_parser("exec", help="run one program (or a batch of them) on the reference VM")
    p.add_argument("program", nargs="?", default=None,
                   help="assembly (.s), raw bytecode, hex text or an ELF object")
    p.add_argument("--section", help="program section of an ELF object")
    p.add_argument("--mem", default="", help='input memory as hex bytes, e.g. "aa bb 11"')
    p.add_argument("--profile", default="linux", choices=["linux", "solana"],
                   help="profile (with --batch: the default of a line that names none)")
    p.add_argument("--insn-limit", type=positive_int, default=None,
                   help="compute-unit limit (default 10**10; with --batch: the default of a "
                        "line that names none)")
    p.add_argument("--trace", action="store_true", help="print one event per instruction")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="result format (json: arspec-exec, every register, the bytes written, "
                        "compute units, the fault and the logs)")
    p.add_argument("--trace-out", metavar="FILE",
                   help="write one JSON line per executed instruction (arspec-exec-trace)")
    p.add_argument("--batch", metavar="FILE",
                   help="run every JSON line of FILE (- for stdin) and write one "
                        "arspec-exec-batch line per input line; no PROGRAM")
    p.set_defaults(run=program.run_exec)


def _add_verify(sub: Subparsers) -> None:
    p = sub.add_parser("verify", help="prove termination, memory bounds, compute bound and "
                                      "determinism of every program (then explore, if asked)")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--format", choices=["text", "json", "sarif"], default="text",
                   help="report format (json: arspec-verify; sarif: SARIF 2.1.0)")
    p.add_argument("--timeout", type=timeout_seconds, default=30.0,
                   help="wall-clock limit in seconds for the proofs, and again for the "
                        "explorer step; above 0 and at most 1e6")
    p.add_argument("--rlimit", type=positive_int, default=20_000_000,
                   help="deterministic z3 resource limit per query")
    p.add_argument("--no-explore", action="store_true",
                   help="skip the explorer even when the bundle asks for it")
    p.add_argument("--no-timing", action="store_true",
                   help="omit time and states/s from the explorer's report")
    p.set_defaults(run=verify.run_verify)


def _add_run(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="run a bundle's scenario slot by slot on the reference runtime")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--slots", type=positive_int, default=None,
                   help="number of slots to run (default: the scenario's `slots`)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--engine", choices=["auto", "interpreter", "fast"], default="auto",
                   help="VM engine (the fast path is pinned to the interpreter by tests)")
    p.set_defaults(run=run.run_run)


def _add_explore(sub: Subparsers) -> None:
    p = sub.add_parser("explore", help="explore every interleaving of a bundle's events and "
                                       "check the scheduler's invariants")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--format", choices=["text", "json", "sarif"], default="text",
                   help="report format (json: arspec-explore; sarif: SARIF 2.1.0)")
    p.add_argument("--slots", type=positive_int, default=None,
                   help="slot horizon (default: properties.explore.slots, else 6)")
    p.add_argument("--max-states", type=positive_int, default=None,
                   help="stop with BOUND-REACHED after this many distinct states (the "
                        "replica-determinism check's states count apart against the same "
                        "limit)")
    p.add_argument("--max-depth", type=positive_int, default=None,
                   help="stop with BOUND-REACHED beyond this depth")
    p.add_argument("--max-memory", type=memory_size, default=None, metavar="SIZE",
                   help="stop with BOUND-REACHED when the process's resident memory exceeds "
                        "SIZE (e.g. 512M, 2G; measured, so not reproducible byte for byte)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="explore on N Ray workers, the states partitioned by fingerprint "
                        "(needs the 'distributed' extra; partial-order reduction off)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="join the Ray cluster at ADDR instead of starting a local one "
                        "(with --workers)")
    p.add_argument("--no-reductions", action="store_true",
                   help="explore without partial-order and symmetry reduction and without "
                        "the invocation cache")
    p.add_argument("--no-partial-order", action="store_true",
                   help="switch off partial-order reduction alone")
    p.add_argument("--no-symmetry", action="store_true",
                   help="switch off symmetry reduction alone")
    p.add_argument("--no-cache", action="store_true",
                   help="switch off the invocation cache alone")
    p.add_argument("--exact-states", action="store_true",
                   help="store every state's encoding in the seen-set instead of a 64-bit "
                        "fingerprint (no collision can lose a state; more memory)")
    p.add_argument("--trace-out", help="write the shortest violating trace (or the "
                                       "no_starvation lasso) as JSON")
    p.add_argument("--dot", help="write the trace (or a small state graph) as DOT")
    p.add_argument("--svg", help="also render that picture as SVG (needs Graphviz)")
    p.add_argument("--timeout", type=timeout_seconds, default=None,
                   help="wall-clock limit in seconds over every pass (search, replica "
                        "check, no_starvation): then BOUND-REACHED; above 0, at most 1e6")
    p.add_argument("--no-timing", action="store_true",
                   help="omit time and states/s (byte-identical output across runs)")
    p.set_defaults(run=explore.run_explore)


def _add_interleave(sub: Subparsers) -> None:
    p = sub.add_parser("interleave", help="interleave copies of one program instruction by "
                                          "instruction (a parallel executor) and check every "
                                          "end state is a sequential one")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--program", required=True, help="the program (startup, every or watch hook)")
    p.add_argument("--invocations", type=positive_int, default=2,
                   help="copies run at once, 2..4 (default 2)")
    p.add_argument("--max-states", type=positive_int, default=200_000,
                   help="stop with BOUND-REACHED after this many distinct states")
    p.add_argument("--max-steps", type=positive_int, default=3_000_000,
                   help="stop with BOUND-REACHED after this many instructions in all "
                        "(schedule prefixes are re-run, so this bounds the time)")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="report format (json: arspec-interleave)")
    p.set_defaults(run=interleave.run_interleave)


def _add_replay(sub: Subparsers) -> None:
    p = sub.add_parser("replay", help="re-execute a trace written by explore --trace-out "
                                      "(exit 1 reproduced, 5 not reproduced)")
    p.add_argument("trace", help="trace JSON")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="report format (json: arspec-replay, the report text included)")
    p.add_argument("--timeout", type=timeout_seconds, default=None,
                   help="wall-clock limit in seconds: then BOUND-REACHED (exit 3) with the "
                        "steps replayed; above 0, at most 1e6")
    p.set_defaults(run=replay.run_replay)


def _add_prove(sub: Subparsers) -> None:
    p = sub.add_parser("prove", help="prove the spec's invariants by induction (z3) for every "
                                     "state and size; one line per invariant")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="invariants (or their group, e.g. ringbuf) to prove; default all")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--timeout", type=timeout_seconds, default=30.0,
                   help="wall-clock fallback per solver query, seconds")
    p.add_argument("--rlimit", type=positive_int, default=20_000_000,
                   help="deterministic z3 resource limit per query")
    p.add_argument("--no-timing", action="store_true",
                   help="omit times (byte-identical output across runs)")
    p.set_defaults(run=prove.run_prove)


def _add_schema(sub: Subparsers) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of program.yaml, or of a JSON "
                                      "output (--output KIND)")
    p.add_argument("--output", default="bundle", metavar="KIND",
                   help="the document: " + ", ".join(SCHEMA_KINDS) + " (default bundle: "
                        "program.yaml)")
    p.set_defaults(run=info.run_schema)


def _add_include_dir(sub: Subparsers) -> None:
    p = sub.add_parser("include-dir", help="print the folder holding the C header arspec/sol.h "
                                           "(for clang -I)")
    p.add_argument("--cflags", action="store_true", help="print it as a -I flag")
    p.set_defaults(run=info.run_include_dir)


def _add_vectors(sub: Subparsers) -> None:
    p = sub.add_parser("vectors", help="write language-neutral test vectors (instruction, "
                                       "runtime and verifier level) into a folder")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (created if missing)")
    p.add_argument("--kinds", default="instruction,runtime,verifier",
                   help="comma-separated kinds to write (default: all three)")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="keep the first N vectors of each instruction source and the first "
                        "N bundles of the runtime and verifier kinds (a quick sample)")
    p.add_argument("--programs", type=positive_int, default=None,
                   help="random programs per differential generator (default 200)")
    p.set_defaults(run=vectors_command.run_vectors)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``spec-check`` with every subcommand."""
    doc = arspec.cli.__doc__.replace("``", "") if arspec.cli.__doc__ else ""
    parser = Parser(prog="spec-check", description=doc.split("\n\n")[1].strip(),
                    epilog="\n".join(textwrap.fill(" ".join(block.split()), 88)
                                      for block in doc.split("\n\n")[2:4]),
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spec-check {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an internal error (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _add_asm(sub)
    _add_disasm(sub)
    _add_exec(sub)
    _add_verify(sub)
    _add_run(sub)
    _add_explore(sub)
    _add_interleave(sub)
    _add_replay(sub)
    _add_prove(sub)
    _add_vectors(sub)
    _add_schema(sub)
    _add_include_dir(sub)
    return parser
