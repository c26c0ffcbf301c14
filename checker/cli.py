"""
The ``spec-check`` command line
===============================

One entry point for every job arspec does. ``spec-check BUNDLE.yaml`` (the same as
``spec-check verify BUNDLE.yaml``) checks a bundle; the other subcommands work on single
programs (``asm``, ``disasm``, ``exec``) or run and explore bundles; ``include-dir`` prints
the folder of the C header ``arspec/sol.h``.

Exit codes are uniform: 0 success (all requested properties hold), 1 a property was refuted
or a program faulted, 2 bad input or usage, 3 inconclusive (UNKNOWN or a bound reached),
4 internal error (a bug in arspec, never a verdict), 5 (``replay`` only) the trace did not
reproduce (a step is not enabled, or the invariant holds at its end).
Bad input is reported as one line on stderr, never as a traceback; so is an internal error,
whose line names the input and the failing step (``--debug`` adds the traceback).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from arspec.checker.progress import Heartbeat
from arspec.spec.errors import ArspecError, InputError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_INTERNAL = 4

#: Largest ``--timeout`` in seconds (z3 takes its timeout as 32-bit milliseconds).
MAX_TIMEOUT_SECONDS = 1_000_000.0

Command = Callable[[argparse.Namespace, TextIO], int]

#: Commands that print a progress line on stderr every few seconds while they work.
_LONG_COMMANDS = frozenset({"run", "verify", "explore", "replay"})


class UsageError(ArspecError):
    """A command line that cannot be run as written."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def _shown(text: str) -> str:
    """Return ``text`` quoted for an error line, cut to 40 characters."""
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _positive_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {_shown(text)}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {_shown(text)}")
    return value


def _memory_size(text: str) -> int:
    from arspec.model.resources import parse_size
    from arspec.spec.errors import InputError

    try:
        return parse_size(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(err.reason.removeprefix("--max-memory: ")) from None


def _timeout_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {_shown(text)}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}: "
            f"{_shown(text)}")
    return value


def _cmd_asm(args: argparse.Namespace, out: TextIO) -> int:
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


def _cmd_disasm(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.reference.isa.disassembler import disassemble, disassemble_listing
    from arspec.reference.isa.loading import load_program_file

    program = load_program_file(args.program, section=args.section)
    out.write(disassemble(program) if args.plain else disassemble_listing(program))
    return EXIT_OK


def _cmd_exec(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.reference.isa.loading import load_program_file, parse_hex_bytes
    from arspec.reference.runtime.runtime import get_assembly_helpers
    from arspec.reference.vm.profiles import get_profile
    from arspec.reference.vm.vm import execute

    profile = get_profile(args.profile)
    sbpf = profile.sbpf_version is not None
    program = load_program_file(args.program, section=args.section, sbpf_v0=sbpf,
                                helpers=get_assembly_helpers(args.profile))
    memory = parse_hex_bytes(args.mem, what="--mem") if args.mem else b""
    tracer = None
    if args.trace:
        from arspec.reference.vm.trace import ListTracer

        tracer = ListTracer()
    from arspec.reference.runtime.solana_syscalls import solana_syscalls
    from arspec.reference.vm.helpers import test_helpers
    from arspec.reference.vm.sbpf_errors import describe_exit_code

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


def _combine(codes: list[int]) -> int:
    """Return the combined verdict: refuted beats inconclusive beats proved."""
    if EXIT_FAILED in codes:
        return EXIT_FAILED
    if EXIT_INCONCLUSIVE in codes:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.checker.verify_bundle import verify_bundle_file

    if args.format == "text" and not args.no_explore:
        from arspec.spec.loader import load_bundle

        if load_bundle(args.bundle).properties.explore is not None:
            check_explore_bounds(args.bundle)  # before any output, as a load error
    code, text = verify_bundle_file(args.bundle, timeout=args.timeout, rlimit=args.rlimit,
                                    output_format=args.format)
    out.write(text)
    if args.format != "text" or args.no_explore:
        return code
    from arspec.spec.loader import load_bundle

    if load_bundle(args.bundle).properties.explore is None:
        return code
    from arspec.model.explore_bundle import explore_bundle
    from arspec.model.stopping import stop_after

    out.write("\n")
    with stop_after(args.timeout):  # the explorer step gets its own --timeout
        explored, report = explore_bundle(args.bundle, progress_stream=sys.stderr,
                                          timing=not args.no_timing)
    out.write(report)
    combined = _combine([code, explored])
    out.write(f"\ncombined verdict: {_VERDICT_NAMES[combined]}\n")
    return combined


_VERDICT_NAMES = {EXIT_OK: "PROVED/HOLDS", EXIT_FAILED: "REFUTED/VIOLATED",
                  EXIT_INCONCLUSIVE: "INCONCLUSIVE"}


def _render_svg(dot_path: str, svg_path: str) -> None:
    """Render a DOT file to SVG with Graphviz, or raise a one-line usage error."""
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        raise UsageError("spec-check: error: --svg needs Graphviz's `dot` (Debian package "
                         "graphviz; .ci/install-deps installs it)")
    proc = subprocess.run([dot, "-Tsvg", dot_path, "-o", svg_path], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["dot failed"])[0]
        raise UsageError(f"{svg_path}: error: {reason}")


def _cmd_explore(args: argparse.Namespace, out: TextIO) -> int:
    import tempfile

    dot_out = args.dot
    with tempfile.TemporaryDirectory() as scratch:
        if args.svg is not None and dot_out is None:
            dot_out = str(Path(scratch) / "trace.dot")
        code = _explore_to(args, out, dot_out)
        if args.svg is not None:
            _render_svg(dot_out, args.svg)
    return code


def _explore_to(args: argparse.Namespace, out: TextIO, dot_out: str | None) -> int:
    from arspec.model.explore_bundle import explore_bundle
    from arspec.model.stopping import stop_after

    check_explore_bounds(args.bundle, max_states=args.max_states)
    if args.timeout is not None and args.workers is not None:
        raise UsageError("spec-check explore: error: --timeout cannot be combined with "
                         "--workers")
    before = None if args.trace_out is None else _stamp(args.trace_out)
    with stop_after(args.timeout):
        code, text = _explore_bundle(args, explore_bundle, dot_out)
    out.write(text)
    if args.trace_out is not None and _stamp(args.trace_out) == before:
        out.write(f"no violation found: no trace written to {args.trace_out}\n")
    return code


def _explore_bundle(args: argparse.Namespace, explore_bundle: Callable[..., tuple[int, str]],
                    dot_out: str | None) -> tuple[int, str]:
    return explore_bundle(
        args.bundle, slots=args.slots, max_states=args.max_states, max_depth=args.max_depth,
        reductions=not args.no_reductions, trace_out=args.trace_out, dot_out=dot_out,
        progress_stream=sys.stderr, timing=not args.no_timing,
        partial_order=False if args.no_partial_order else None,
        symmetry=False if args.no_symmetry else None,
        cache=False if args.no_cache else None, exact=args.exact_states,
        max_memory=args.max_memory, workers=args.workers, ray_address=args.ray_address)


def _stamp(path: str) -> tuple[int, int, int] | None:
    """Return what changes when a file is (re)written, or ``None`` if there is none."""
    try:
        found = Path(path).stat()
    except (OSError, ValueError):
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


#: Largest state (ring-buffer and account bytes) the explorer accepts: it keeps a copy in
#: every explored state, so memory grows with states times this size.
MAX_EXPLORE_STATE_BYTES = 1 << 20


#: Most domain writes the replica-determinism check may apply in one state (every order of
#: every choice of values for up to ``MAX_REPLICA_KEYS`` domain keys).
MAX_REPLICA_WRITES = 100_000


def compute_replica_writes(domain_sizes: Sequence[int], max_keys: int) -> int:
    """Return an upper bound on the writes the replica check applies in one state."""
    sizes = sorted(domain_sizes, reverse=True)[:max_keys]
    total = 0
    for size in range(2, len(sizes) + 1):
        for subset in itertools.combinations(sizes, size):
            total += math.prod(subset) * math.factorial(size) * size
    return total


def check_explore_bounds(path: str, *, max_states: int | None = None) -> None:
    """Refuse, before exploring, a bundle whose every state would hold too many bytes or
    whose replica-determinism pre-check would apply too many writes per state (more than
    ``max_states``, which its states count in, or :data:`MAX_REPLICA_WRITES`)."""
    from arspec.model.runtime_system import MAX_REPLICA_KEYS
    from arspec.spec.bundle import compute_state_bytes
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(path)
    held = compute_state_bytes(bundle)
    if held > MAX_EXPLORE_STATE_BYTES:
        raise InputError(f"explore: ring buffers and accounts hold {held} bytes, which the "
                         f"explorer would copy into every state; it accepts at most "
                         f"{MAX_EXPLORE_STATE_BYTES} (use smaller ones, or `run`)", file=path)
    writes = compute_replica_writes([len(d.values) for d in bundle.scenario.domains.values()],
                                    MAX_REPLICA_KEYS)
    if writes > MAX_REPLICA_WRITES:
        raise InputError(f"explore: scenario.domains would make the replica-determinism check "
                         f"apply up to {writes} writes in every state; it accepts at most "
                         f"{MAX_REPLICA_WRITES} (give the domains fewer values)", file=path)
    if max_states is not None and writes > max_states:
        raise InputError(f"explore: scenario.domains would make the replica-determinism check "
                         f"compute up to {writes} states in one state, and its states count "
                         f"in --max-states {max_states} (raise --max-states or give the "
                         "domains fewer values)", file=path)


def _cmd_interleave(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.model.interleave import explore_interleavings
    result = explore_interleavings(args.bundle, args.program, invocations=args.invocations,
                                   max_states=args.max_states, max_steps=args.max_steps)
    out.write(result.render())
    return {"HOLDS": EXIT_OK, "VIOLATED": EXIT_FAILED}.get(result.verdict, EXIT_INCONCLUSIVE)


def _cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.model.explore_bundle import replay_trace
    from arspec.model.stopping import stop_after

    with stop_after(args.timeout):
        code, text = replay_trace(args.trace)
    out.write(text)
    return code


def _cmd_prove(args: argparse.Namespace, out: TextIO) -> int:
    import json

    from arspec.checker.solver import SolverConfig
    from arspec.checker.verdict import Verdict
    from arspec.proofs.catalogue import prove

    config = SolverConfig(rlimit=args.rlimit, timeout_ms=int(args.timeout * 1000))
    results = prove(args.names, config=config)
    codes = {Verdict.PROVED: EXIT_OK, Verdict.REFUTED: EXIT_FAILED,
             Verdict.UNKNOWN: EXIT_INCONCLUSIVE}
    rows = []
    for r in results:
        row: dict[str, object] = {"invariant": r.claim, "status": r.verdict.value,
                                  "obligations": r.obligations}
        if not args.no_timing:
            row["seconds"] = round(r.seconds, 3)
        if r.counterexample is not None:
            row["counterexample"] = r.counterexample.as_json()
        if r.reason:
            row["reason"] = r.reason
        rows.append(row)
    if args.format == "json":
        out.write(json.dumps({"format": "arspec-prove/1", "results": rows}, indent=2) + "\n")
    for row in rows if args.format == "text" else []:
        timing = "" if args.no_timing else f" {row['seconds']:.2f}s"
        line = f"{row['status']:<8} {row['invariant']}{timing} ({row['obligations']} obligations)"
        if "counterexample" in row:
            line += " counterexample: " + json.dumps(row["counterexample"], sort_keys=True)
        if "reason" in row:
            line += f" [{row['reason']}]"
        out.write(line + "\n")
    return _combine([codes[r.verdict] for r in results])


def _cmd_include_dir(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.reference.runtime.c_header import get_include_dir

    folder = get_include_dir()
    out.write((f"-I{folder}" if args.cflags else str(folder)) + "\n")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    import json

    from arspec.spec.loader import bundle_json_schema

    out.write(json.dumps(bundle_json_schema(), indent=2) + "\n")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from arspec.reference.runtime.run_report import render_json, render_text
    from arspec.reference.runtime.runner import run_bundle
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(args.bundle)
    heartbeat = getattr(args, "heartbeat", None)

    def progress(done: int, total: int) -> None:
        if heartbeat is not None:
            heartbeat.status = f"slot {done:,} of {total:,}"

    try:
        report = run_bundle(bundle, slots=args.slots, base_dir=Path(args.bundle).parent,
                            engine=args.engine, progress=progress)
    except InputError as err:
        raise _located(err, args.bundle) from None
    out.write(render_json(report) if args.format == "json" else render_text(report))
    return EXIT_FAILED if report.faulted else EXIT_OK


def _located(err: InputError, file: str) -> InputError:
    """Return ``err`` naming ``file`` when it does not name a file already."""
    if err.file is not None:
        return err
    return InputError(err.reason, file=file)


def _add_program_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("program", help="assembly (.s), raw bytecode, hex text or an ELF object")
    p.add_argument("--section", help="program section of an ELF object")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``spec-check`` with every subcommand."""
    parser = _Parser(prog="spec-check", description=__doc__.split("\n\n")[1].strip(),
                     epilog="\n".join(textwrap.fill(" ".join(block.split()), 88)
                                       for block in __doc__.split("\n\n")[2:4]),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spec-check {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an internal error (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("asm", help="assemble a program to bytecode")
    p.add_argument("source", help="assembly text (conformance or LLVM syntax)")
    p.add_argument("-o", "--output", help="write raw bytecode here (default: hex on stdout)")
    p.set_defaults(run=_cmd_asm)

    p = sub.add_parser("disasm", help="disassemble bytecode or an ELF object (LLVM syntax)")
    _add_program_args(p)
    p.add_argument("--plain", action="store_true",
                   help="no pc numbers or jump targets: text the assembler reads back")
    p.set_defaults(run=_cmd_disasm)

    p = sub.add_parser("exec", help="run one program on the reference VM")
    _add_program_args(p)
    p.add_argument("--mem", default="", help='input memory as hex bytes, e.g. "aa bb 11"')
    p.add_argument("--profile", default="linux", choices=["linux", "solana"])
    p.add_argument("--insn-limit", type=_positive_int, default=None,
                   help="compute-unit limit (default 10**10)")
    p.add_argument("--trace", action="store_true", help="print one event per instruction")
    p.set_defaults(run=_cmd_exec)

    p = sub.add_parser("verify", help="prove termination, memory bounds, compute bound and "
                                      "determinism of every program (then explore, if asked)")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--format", choices=["text", "json", "sarif"], default="text",
                   help="report format (json: arspec-verify/1; sarif: SARIF 2.1.0)")
    p.add_argument("--timeout", type=_timeout_seconds, default=30.0,
                   help="wall-clock limit in seconds for the proofs, and again for the "
                        "explorer step; above 0 and at most 1e6")
    p.add_argument("--rlimit", type=_positive_int, default=20_000_000,
                   help="deterministic z3 resource limit per query")
    p.add_argument("--no-explore", action="store_true",
                   help="skip the explorer even when the bundle asks for it")
    p.add_argument("--no-timing", action="store_true",
                   help="omit time and states/s from the explorer's report")
    p.set_defaults(run=_cmd_verify)

    p = sub.add_parser("run", help="run a bundle's scenario slot by slot on the reference runtime")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--slots", type=_positive_int, default=None,
                   help="number of slots to run (default: the scenario's `slots`)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--engine", choices=["auto", "interpreter", "fast"], default="auto",
                   help="VM engine (the fast path is pinned to the interpreter by tests)")
    p.set_defaults(run=_cmd_run)

    p = sub.add_parser("explore", help="explore every interleaving of a bundle's events and "
                                       "check the scheduler's invariants")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--slots", type=_positive_int, default=None,
                   help="slot horizon (default: properties.explore.slots, else 6)")
    p.add_argument("--max-states", type=_positive_int, default=None,
                   help="stop with BOUND-REACHED after this many distinct states (the "
                        "replica-determinism check's states count apart against the same "
                        "limit)")
    p.add_argument("--max-depth", type=_positive_int, default=None,
                   help="stop with BOUND-REACHED beyond this depth")
    p.add_argument("--max-memory", type=_memory_size, default=None, metavar="SIZE",
                   help="stop with BOUND-REACHED when the process's resident memory exceeds "
                        "SIZE (e.g. 512M, 2G; measured, so not reproducible byte for byte)")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
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
    p.add_argument("--timeout", type=_timeout_seconds, default=None,
                   help="wall-clock limit in seconds over every pass (search, replica "
                        "check, no_starvation): then BOUND-REACHED; above 0, at most 1e6")
    p.add_argument("--no-timing", action="store_true",
                   help="omit time and states/s (byte-identical output across runs)")
    p.set_defaults(run=_cmd_explore)

    p = sub.add_parser("interleave", help="interleave copies of one program instruction by "
                                          "instruction (a parallel executor) and check every "
                                          "end state is a sequential one")
    p.add_argument("bundle", help="program.yaml bundle")
    p.add_argument("--program", required=True, help="the program (startup, every or watch hook)")
    p.add_argument("--invocations", type=_positive_int, default=2,
                   help="copies run at once, 2..4 (default 2)")
    p.add_argument("--max-states", type=_positive_int, default=200_000,
                   help="stop with BOUND-REACHED after this many distinct states")
    p.add_argument("--max-steps", type=_positive_int, default=3_000_000,
                   help="stop with BOUND-REACHED after this many instructions in all "
                        "(schedule prefixes are re-run, so this bounds the time)")
    p.set_defaults(run=_cmd_interleave)

    p = sub.add_parser("replay", help="re-execute a trace written by explore --trace-out "
                                      "(exit 1 reproduced, 5 not reproduced)")
    p.add_argument("trace", help="trace JSON")
    p.add_argument("--timeout", type=_timeout_seconds, default=None,
                   help="wall-clock limit in seconds: then BOUND-REACHED (exit 3) with the "
                        "steps replayed; above 0, at most 1e6")
    p.set_defaults(run=_cmd_replay)

    p = sub.add_parser("prove", help="prove the spec's invariants by induction (z3) for every "
                                     "state and size; one line per invariant")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="invariants (or their group, e.g. ringbuf) to prove; default all")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--timeout", type=_timeout_seconds, default=30.0,
                   help="wall-clock fallback per solver query, seconds")
    p.add_argument("--rlimit", type=_positive_int, default=20_000_000,
                   help="deterministic z3 resource limit per query")
    p.add_argument("--no-timing", action="store_true",
                   help="omit times (byte-identical output across runs)")
    p.set_defaults(run=_cmd_prove)

    p = sub.add_parser("schema", help="print the JSON Schema of program.yaml")
    p.set_defaults(run=_cmd_schema)

    p = sub.add_parser("include-dir", help="print the folder holding the C header arspec/sol.h "
                                           "(for clang -I)")
    p.add_argument("--cflags", action="store_true", help="print it as a -I flag")
    p.set_defaults(run=_cmd_include_dir)
    return parser


def _normalise(argv: Sequence[str]) -> list[str]:
    """Treat ``spec-check BUNDLE.yaml ...`` as ``spec-check verify BUNDLE.yaml ...``."""
    args = list(argv)
    if args and args[0].endswith((".yaml", ".yml")):
        return ["verify", *args]
    return args


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("arspec")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown"


def _input_of(argv: Sequence[str]) -> str:
    """Return the file a command line names (its first non-option argument after the verb)."""
    words = [w for w in argv if not w.startswith("-")]
    return words[1] if len(words) > 1 else (words[0] if words else "(no input)")


def _failing_step(err: BaseException) -> str:
    """Return ``module.function`` of the innermost arspec frame of ``err``'s traceback."""
    step = "spec-check"
    for frame in traceback.extract_tb(err.__traceback__):
        path = frame.filename.replace("\\", "/")
        for folder in ("spec", "reference", "checker", "model", "proofs"):
            marker = f"/{folder}/"
            if marker in path:
                module = path.rsplit(marker, 1)[1].removesuffix(".py").replace("/", ".")
                step = f"{folder}.{module}.{frame.name}"
    return step


def internal_error_line(argv: Sequence[str], err: BaseException) -> str:
    """Return the one line printed for an internal error: input, step and exception."""
    verb = argv[0] if argv else "spec-check"
    if isinstance(err, MemoryError):
        what = "out of memory"
    elif isinstance(err, RecursionError):
        what = "recursion too deep"
    else:
        what = f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"
    return (f"{_input_of(argv)}: internal error in {verb} ({_failing_step(err)}): {what}; "
            "this is a bug in arspec, not a verdict (rerun with --debug for the traceback)")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run ``spec-check`` and return its exit code.

    A bug (any exception that is not an :class:`~arspec.spec.errors.ArspecError`) exits
    with :data:`EXIT_INTERNAL` and one line on stderr; ``--debug`` adds the traceback.
    """
    stdout = out if out is not None else sys.stdout
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words
    words = _normalise([w for w in words if w != "--debug"])
    try:
        parser = build_parser()
        args = parser.parse_args(words)
        if args.command is None:
            parser.print_help(stdout)
            raise UsageError("spec-check: error: a COMMAND (or a bundle file) is required")
        if args.command not in _LONG_COMMANDS:
            code: int = args.run(args, stdout)
            return code
        import arspec.reference.runtime.runtime  # noqa: F401 - installs the ELF map reader for bundles

        with Heartbeat(args.command, sys.stderr) as heartbeat:
            args.heartbeat = heartbeat
            code = args.run(args, stdout)
        return code
    except ArspecError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("spec-check: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as err:  # the one place a bug becomes an exit code
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(internal_error_line(words, err), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
