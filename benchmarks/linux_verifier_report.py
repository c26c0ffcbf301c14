"""
Linux verifier report
=====================

Compares arspec's verdict with the Linux verifier's on every case of the verifier corpus
(``tests/checker/corpus/*.yaml``). A report, not a gate: the two verifiers answer different
questions under different machine models, so disagreement is expected; what matters is that
each disagreement is understood. The explanations live in
``tests/linux_verifier_disagreements.yaml``; ``tests/test_linux_verifier_report.py`` checks
that every disagreement has one and that none of them is stale.

Each case gets three answers:

``arspec``
    :func:`~arspec.checker.verifier.verify_program` with the case's profile, budget and
    input bound: ``accept`` when every property is PROVED, ``reject`` when any is REFUTED,
    ``unknown`` otherwise.
``kernel``
    ``BPF_PROG_LOAD`` as a socket filter: ``accept`` when it loads, ``reject`` with the
    verifier log's error line when it does not.
``agreement``
    ``agree``, ``disagree``, or ``not comparable`` with the reason: a ``solana`` case, a
    helper id whose kernel helper has another contract than arspec's test helper, or a
    program that reads the entry values of r1/r2 (arspec's input pointer and length; the
    kernel passes the skb context in r1 and leaves r2 uninitialised).

Run ``python benchmarks/linux_verifier_report.py [--markdown out.md]``. The script imports
nothing from the checker but :func:`verify_program` and the verdict types.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from arspec.checker.verdict import Verdict
from arspec.checker.verifier import verify_program
from arspec.reference.assembler import assemble
from arspec.reference.encoder import encode
from arspec.reference.helpers import test_helpers
from arspec.reference.instructions import (
    Alu,
    AluOp,
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
    Load,
    LoadImm64,
    MovSx,
    Neg,
    Program,
    Pseudo,
    Reg,
    Store,
)
from arspec.reference.kernel_bpf import KernelRejected, kernel_available, load_program
from arspec.reference.profiles import get_profile

ROOT: Final = Path(__file__).resolve().parent.parent
CORPUS: Final = ROOT / "tests" / "checker" / "corpus"
EXPLANATIONS: Final = ROOT / "tests" / "linux_verifier_disagreements.yaml"

ACCEPT: Final = "accept"
REJECT: Final = "reject"
UNKNOWN: Final = "unknown"
AGREE: Final = "agree"
DISAGREE: Final = "disagree"
NOT_COMPARABLE: Final = "not comparable"

#: Kernel helpers 1-8 as a socket filter sees them (uapi ``enum bpf_func_id``), described by
#: what their contract demands of the caller.
KERNEL_HELPERS: Final[Mapping[int, str]] = {
    1: "bpf_map_lookup_elem (map pointer and key pointer in r1/r2, returns a map value or NULL)",
    2: "bpf_map_update_elem (map pointer, key and value pointers, flags)",
    3: "bpf_map_delete_elem (map pointer and key pointer in r1/r2)",
    4: "bpf_probe_read (a tracing helper socket filters may not call)",
    5: "bpf_ktime_get_ns (no arguments, returns a scalar)",
    6: "bpf_trace_printk (format string pointer and its size in r1/r2)",
    7: "bpf_get_prandom_u32 (no arguments, returns a scalar)",
    8: "bpf_get_smp_processor_id (no arguments, returns a scalar)",
}

#: Helper ids whose arspec test helper and kernel helper make the same demands of the caller:
#: 7 is ``expensive_no_op`` (no arguments, returns a scalar) against bpf_get_prandom_u32.
COMPARABLE_HELPERS: Final = frozenset({7})

#: Verifier-log lines that are trace or statistics, not the error itself.
_LOG_NOISE: Final = re.compile(
    r"^\s*(\d+:|frame\d+:|caller:|callee:|from \d+ to \d+:|processed \d+ insns|"
    r"verification time|stack depth|cur state|old state|last_idx|regs=|parent )")

_CALLER_SAVED: Final = frozenset(range(6))
_ARGUMENTS: Final = frozenset(range(1, 6))
_INPUT_REGISTERS: Final = frozenset({1, 2})


@dataclass(frozen=True)
class Case:
    """One corpus case: its name (qualified by file when not unique) and what verifies it."""

    name: str
    file: str
    profile: str
    code: str
    #: ``budget`` and ``max_input`` when the case sets them (else the verifier's defaults).
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Row:
    """One line of the report."""

    case: str
    arspec: str
    kernel: str
    agreement: str
    explanation: str
    kernel_error: str


def load_cases(corpus: Path = CORPUS) -> list[Case]:
    """Return every corpus case in file order, then in order within the file."""
    raw: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(corpus.glob("*.yaml")):
        raw += [(path.stem, case) for case in yaml.safe_load(path.read_text(encoding="utf-8"))]
    names = [case["test-case"] for _, case in raw]
    cases = []
    for stem, case in raw:
        name = case["test-case"]
        if names.count(name) > 1:
            name = f"{stem}: {name}"
        options: dict[str, Any] = {k: int(case[k]) for k in ("budget", "max_input") if k in case}
        cases.append(Case(name, stem, case["profile"], case["code"], options))
    return cases


def arspec_verdict(case: Case, program: Program) -> str:
    """Return ``accept``, ``reject`` or ``unknown`` from :func:`verify_program`."""
    report = verify_program(program, profile=get_profile(case.profile), name=case.name,
                            **case.options)
    verdicts = set(report.verdicts.values())
    if verdicts == {Verdict.PROVED}:
        return ACCEPT
    return REJECT if Verdict.REFUTED in verdicts else UNKNOWN


def kernel_error_line(log: str) -> str:
    """Return the verifier log's last error line (skipping the trace and statistics)."""
    for line in reversed(log.splitlines()):
        if line.strip() and not _LOG_NOISE.match(line):
            return line.strip()
    return ""


def kernel_verdict(program: Program) -> tuple[str, str]:
    """Load ``program`` as a socket filter; return ``(accept|reject, error line)``."""
    try:
        with load_program(encode(program)):
            return ACCEPT, ""
    except KernelRejected as rejected:
        line = kernel_error_line(rejected.log)
        name = errno.errorcode.get(rejected.errno, str(rejected.errno))
        return REJECT, f"{name}: {line}" if line else name


def _reads_writes(insn: Instruction) -> tuple[set[int], set[int]]:
    """Return the registers ``insn`` reads and writes (calls and jumps handled by the caller)."""
    match insn:
        case Alu(op=AluOp.MOV, dst=dst, src=Reg(index=src)):
            return {src}, {dst}
        case Alu(op=AluOp.MOV, dst=dst, src=Imm()):
            return set(), {dst}
        case Alu(dst=dst, src=Reg(index=src)):
            return {dst, src}, {dst}
        case Alu(dst=dst) | Neg(dst=dst) | Endian(dst=dst):
            return {dst}, {dst}
        case MovSx(dst=dst, src=src) | Load(dst=dst, src=src):
            return {src}, {dst}
        case Store(dst=dst, value=Reg(index=value)):
            return {dst, value}, set()
        case Store(dst=dst):
            return {dst}, set()
        case Atomic(op=AtomicOp.CMPXCHG, dst=dst, src=src):
            return {dst, src, 0}, {0}
        case Atomic(dst=dst, src=src, fetch=fetch):
            return {dst, src}, {src} if fetch else set()
        case LoadImm64(dst=dst):
            return set(), {dst}
        case LegacyLoad(src=src):
            return {6, src}, set(_CALLER_SAVED)
        case Jump(dst=dst, src=Reg(index=src)):
            return {dst, src}, set()
        case Jump(dst=dst):
            return {dst}, set()
        case Callx(reg=reg):
            return {reg}, set(_CALLER_SAVED)
        case Exit():
            return {0}, set()
        case _:
            return set(), set()


def entry_live_registers(program: Program) -> frozenset[int]:
    """Return the registers whose entry value some path may read.

    A backward liveness analysis: a local call passes r1-r5 into the callee and clobbers r0-r5
    for the caller, a helper call reads nothing here (only helper 7, with no arguments, is
    compared) and clobbers r0-r5, ``exit`` reads r0.
    """
    insns = dict(program.instructions())
    live: dict[int, frozenset[int]] = {pc: frozenset() for pc in insns}
    changed = True
    while changed:
        changed = False
        for pc in sorted(insns, reverse=True):
            insn = insns[pc]
            after = live.get(pc + (2 if isinstance(insn, LoadImm64) else 1), frozenset())
            match insn:
                case Exit():
                    new = frozenset({0})
                case Ja(offset=offset):
                    new = live.get(pc + 1 + offset, frozenset())
                case CallLocal(offset=offset):
                    callee = live.get(pc + 1 + offset, frozenset())
                    new = (callee & _ARGUMENTS) | (after - _CALLER_SAVED)
                case Call() | CallKfunc():
                    new = after - _CALLER_SAVED
                case Jump(offset=offset):
                    reads, _ = _reads_writes(insn)
                    new = after | live.get(pc + 1 + offset, frozenset()) | reads
                case _:
                    reads, writes = _reads_writes(insn)
                    new = (after - writes) | reads
            if new != live[pc]:
                live[pc] = frozenset(new)
                changed = True
    return live.get(0, frozenset())


def incomparable_reasons(case: Case, program: Program, kernel_error: str) -> list[str]:
    """Return why the kernel's answer says nothing about arspec's (empty when comparable)."""
    if case.profile != "linux":
        return [f"{case.profile} profile: sBPF semantics, the Linux verifier does not apply"]
    reasons = []
    registry = test_helpers()
    known = {spec.id: spec.name for spec in registry}
    for helper in sorted({i.imm for _, i in program.instructions() if isinstance(i, Call)}):
        if helper in known and helper not in COMPARABLE_HELPERS:
            kernel = KERNEL_HELPERS.get(helper, "a kernel helper with another contract")
            reasons.append(f"helper {helper}: arspec's test helper {known[helper]} is not "
                           f"the kernel's {kernel}")
        elif helper not in known and f"unknown#{helper}" not in kernel_error:
            reasons.append(f"helper {helper} is unknown to arspec but not to the kernel")
    insns = [i for _, i in program.instructions()]
    if any(isinstance(i, CallKfunc) for i in insns):
        reasons.append("kfunc ids are BTF ids of the running kernel")
    if any(isinstance(i, LoadImm64) and i.pseudo is not Pseudo.IMM64 for i in insns):
        reasons.append("the kernel needs real map or BTF objects behind pseudo 64-bit loads")
    if any(isinstance(i, LegacyLoad) for i in insns):
        reasons.append("legacy packet loads read the skb in the kernel, the input in arspec")
    entry = sorted(entry_live_registers(program) & _INPUT_REGISTERS)
    if entry:
        used = " and ".join(f"r{r}" for r in entry)
        reasons.append(f"reads {used} at entry: arspec's input pointer (r1) and length (r2); "
                       "the kernel passes the skb context in r1 and leaves r2 uninitialised")
    return reasons


def load_explanations(path: Path = EXPLANATIONS) -> list[dict[str, str]]:
    """Return the explanation entries of ``path`` (an empty list when the file is empty)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return list(data or [])


def compare(cases: Iterable[Case], explanations: Iterable[Mapping[str, str]] = (), *,
            verify_incomparable: bool = True) -> list[Row]:
    """Return one report row per case, in corpus order.

    With ``verify_incomparable=False`` arspec does not verify the cases that cannot be
    compared (their arspec column reads ``-``); the agreement of every other case is the same.
    """
    why = {entry["case"]: entry["why"] for entry in explanations}
    rows = []
    for case in cases:
        program = assemble(case.code)
        kernel, error = ("-", "") if case.profile != "linux" else kernel_verdict(program)
        reasons = incomparable_reasons(case, program, error)
        if reasons and not verify_incomparable:
            rows.append(Row(case.name, "-", kernel, NOT_COMPARABLE, "; ".join(reasons), error))
            continue
        arspec = arspec_verdict(case, program)
        if reasons:
            rows.append(Row(case.name, arspec, kernel, NOT_COMPARABLE, "; ".join(reasons), error))
        elif arspec == kernel:
            rows.append(Row(case.name, arspec, kernel, AGREE, "", error))
        else:
            explanation = why.get(case.name, "UNEXPLAINED (add it to "
                                  "tests/linux_verifier_disagreements.yaml)")
            rows.append(Row(case.name, arspec, kernel, DISAGREE, explanation, error))
    return rows


def disagreements(rows: Iterable[Row]) -> list[tuple[str, str, str]]:
    """Return ``(case, arspec, kernel)`` of every disagreeing row, sorted."""
    return sorted((r.case, r.arspec, r.kernel) for r in rows if r.agreement == DISAGREE)


def summary(rows: list[Row]) -> str:
    """Return the counts per agreement class."""
    counts = {kind: sum(r.agreement == kind for r in rows) for kind in
              (AGREE, DISAGREE, NOT_COMPARABLE)}
    return (f"{len(rows)} cases: {counts[AGREE]} agree, {counts[DISAGREE]} disagree, "
            f"{counts[NOT_COMPARABLE]} not comparable")


def render_text(rows: list[Row]) -> str:
    """Return the report as an aligned text table followed by the counts."""
    width = max((len(r.case) for r in rows), default=4)
    lines = [f"{'case':<{width}}  {'arspec':<7}  {'kernel':<6}  {'agreement':<14}  explanation"]
    for r in rows:
        text = r.explanation
        if r.kernel_error and r.agreement != AGREE:
            text = f"{text} [kernel: {r.kernel_error}]" if text else f"[kernel: {r.kernel_error}]"
        lines.append(f"{r.case:<{width}}  {r.arspec:<7}  {r.kernel:<6}  {r.agreement:<14}  "
                     f"{text}".rstrip())
    return "\n".join([*lines, summary(rows)]) + "\n"


def render_markdown(rows: list[Row]) -> str:
    """Return the report as a Markdown table with the kernel's error line per row."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["# arspec against the Linux verifier", "", summary(rows), "",
             "| case | arspec | kernel | agreement | explanation | kernel error |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {cell(r.case)} | {r.arspec} | {r.kernel} | {r.agreement} | "
              f"{cell(r.explanation)} | {cell(r.kernel_error)} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the report (and write it as Markdown when asked); 0 unless bpf(2) is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)
    available, reason = kernel_available()
    if not available:
        print(f"Linux verifier report skipped: {reason}")
        return 2
    start = time.perf_counter()
    rows = compare(load_cases(), load_explanations())
    print(render_text(rows), end="")
    print(f"runtime {time.perf_counter() - start:.1f} s")
    if args.markdown is not None:
        args.markdown.write_text(render_markdown(rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
