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

The project's own cases
-----------------------

``tests/linux_cases/<category>.yaml`` hold cases written for this comparison, by category
(loops, stack, map values, pointer arithmetic, null checks, helper arguments, tail calls,
timers, ring buffers, ALU bounds, context access, packet access). Each is one program with
its maps and Linux program type (``socket_filter`` unless it says otherwise), verified as a
one-program bundle with the largest compute budget (Linux has none) by
:func:`~arspec.checker.verify_bundle.verify_bundle` (the helper table's contracts, the
program type's context) and loaded into the kernel with its maps
created (:mod:`arspec.reference.differential.kernel_maps`). The kernel's verdict and error line are
recorded in ``tests/linux_cases/kernel_verdicts.yaml`` (``--record`` rewrites it from the
live kernel); the report compares arspec with the recorded verdict and, when bpf(2) works,
checks that the live kernel still says the same. ``agreement`` is ``agree``, ``disagree``
or ``undecided`` (arspec UNKNOWN). Every case arspec accepts and the kernel rejects is run
on the reference runtime with packets of several lengths: a fault there would be an unsound
proof, and the report counts such cases (they must be 0).

Run ``python benchmarks/linux_verifier_report.py [--markdown out.md] [--record]``.
"""

from __future__ import annotations

import argparse
import errno
import platform
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from arspec.checker.verdict import Verdict
from arspec.checker.verifier import verify_program
from arspec.checker.verify_bundle import verify_bundle
from arspec.reference.differential.kernel_bpf import KernelRejected, kernel_available, load_program
from arspec.reference.differential.kernel_bpf import ProgramType as KernelProgramType
from arspec.reference.differential.kernel_maps import KernelMaps, KernelMapSpec
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.encoder import encode
from arspec.reference.isa.instructions import (
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
from arspec.reference.runtime.runner import run_bundle
from arspec.reference.runtime.runtime import get_assembly_helpers
from arspec.reference.vm.helpers import test_helpers
from arspec.reference.vm.profiles import get_profile
from arspec.spec.bundle import MAX_INVOCATION_CU
from arspec.spec.contexts import KERNEL_PROGRAM_TYPES
from arspec.spec.contexts import ProgramType as ContextType
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle

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

_GLUED_STATISTICS: Final = re.compile(r"processed \d+ insns .*$")
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
            # Some messages lack their newline before the statistics line.
            return _GLUED_STATISTICS.sub("", line).strip()
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


# -- the project's own cases --------------------------------------------------------------

OWN_CASES: Final = ROOT / "tests" / "linux_cases"
KERNEL_VERDICTS: Final = OWN_CASES / "kernel_verdicts.yaml"
UNDECIDED: Final = "undecided"
#: Packets each case arspec proves but the kernel rejects is run on (lengths 0, 14, 64).
PROBE_PACKETS: Final = (b"", bytes(range(14)), bytes(range(64)))
#: Per-case limit of the bundle verifier, in seconds.
CASE_TIMEOUT: Final = 20.0


@dataclass(frozen=True)
class OwnCase:
    """One case of ``tests/linux_cases``: ``category: name``, its program and its maps."""

    name: str
    category: str
    program_type: str
    maps: Mapping[str, Mapping[str, Any]]
    code: str
    #: Callback entry points (``name: label``) the code takes the address of.
    functions: Mapping[str, str]


def load_own_cases(folder: Path = OWN_CASES) -> list[OwnCase]:
    """Return every case of every category file, in file order then in order within it."""
    cases = []
    for path in sorted(folder.glob("*.yaml")):
        if path == KERNEL_VERDICTS:
            continue
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            cases.append(OwnCase(f"{path.stem}: {entry['case']}", path.stem,
                                 entry.get("type", "socket_filter"), entry.get("maps", {}),
                                 entry["code"], entry.get("functions", {})))
    return cases


def bundle_of(case: OwnCase) -> dict[str, Any]:
    """Return the one-program bundle of ``case`` (every 1 slot, 3 slots, probe packets)."""
    program: dict[str, Any] = {"hook": {"on": "every", "slots": 1},
                               "program_type": case.program_type, "code": case.code}
    if case.functions:
        program["functions"] = dict(case.functions)
    packets = [] if case.program_type == "tracing" else [
        {"slot": i, "hex": data.hex() or ""} for i, data in enumerate(PROBE_PACKETS) if data]
    scenario: dict[str, Any] = {"slots": len(PROBE_PACKETS)}
    if packets:
        scenario["packets"] = {"prog": packets}
    # Linux has no run-time budget: the case gets the largest one arspec allows.
    budgets = {"per_invocation": MAX_INVOCATION_CU, "per_slot": MAX_INVOCATION_CU}
    return {"arspec": 1, "name": case.name, "profile": "linux", "budgets": budgets,
            "maps": dict(case.maps), "programs": {"prog": program}, "scenario": scenario}


def own_arspec_verdict(case: OwnCase, folder: Path) -> tuple[str, str]:
    """Return arspec's verdict on ``case`` and its first finding (the bundle path)."""
    path = folder / "case.yaml"
    path.write_text(yaml.safe_dump(bundle_of(case), sort_keys=False), encoding="utf-8")
    try:
        result = verify_bundle(str(path), timeout=CASE_TIMEOUT)
    except InputError as error:
        # A load error (exit 2): arspec refuses the program before verifying it.
        return REJECT, f"load error: {str(error).split('error: ', 1)[-1]}"
    report = result.programs[0].report
    verdicts = {report.verdict(p) for p in result.requested}
    first = next((f"{f.pc}: {f.message} ({f.assertion})" for f in report.findings
                  if f.verdict is not Verdict.PROVED), "")
    if verdicts == {Verdict.PROVED}:
        return ACCEPT, first
    return (REJECT if Verdict.REFUTED in verdicts else UNKNOWN), first


def _kernel_maps(case: OwnCase) -> list[KernelMapSpec]:
    out = []
    for spec in case.maps.values():
        kind = spec["type"]
        key = spec.get("key_size", 0 if kind in ("queue", "stack", "ringbuf") else 4)
        value = spec.get("value_size", 4 if kind == "prog_array" else 0)
        out.append(KernelMapSpec(kind, key, value, spec["max_entries"], spec.get("timer")))
    return out


def own_kernel_verdict(case: OwnCase) -> tuple[str, str]:
    """Load ``case`` into the kernel with its maps; return ``(accept|reject, error line)``."""
    program = assemble(case.code, symbols={n: i for i, n in enumerate(case.maps)},
                       helpers=get_assembly_helpers("linux"))
    kind = KernelProgramType(KERNEL_PROGRAM_TYPES[ContextType(case.program_type)])
    with KernelMaps(_kernel_maps(case)) as maps:
        try:
            with load_program(encode(maps.relocate(program)), kind):
                return ACCEPT, ""
        except KernelRejected as rejected:
            line = kernel_error_line(rejected.log)
            name = errno.errorcode.get(rejected.errno, str(rejected.errno))
            return REJECT, f"{name}: {line}" if line else name


def load_kernel_verdicts(path: Path = KERNEL_VERDICTS) -> dict[str, tuple[str, str]]:
    """Return the recorded ``case -> (verdict, error line)``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return {e["case"]: (e["kernel"], e.get("error", "")) for e in data or []}


def record_kernel_verdicts(cases: Iterable[OwnCase], path: Path = KERNEL_VERDICTS) -> None:
    """Write the live kernel's verdict on every case to ``path``."""
    release = platform.release()
    entries = []
    for case in cases:
        verdict, error = own_kernel_verdict(case)
        entries.append({"case": case.name, "kernel": verdict, "error": error})
    header = (f"# The live kernel's verdict on every case of tests/linux_cases (kernel {release},"
              "\n# loaded by root). Written by `python benchmarks/linux_verifier_report.py "
              "--record`.\n")
    path.write_text(header + yaml.safe_dump(entries, sort_keys=False, width=100),
                    encoding="utf-8")


def runtime_faults(case: OwnCase, folder: Path) -> int:
    """Return how many runs of ``case`` on the reference runtime fault (probe packets)."""
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(bundle_of(case), sort_keys=False), encoding="utf-8")
    report = run_bundle(load_bundle(str(path)))
    return report.totals.failures


@dataclass(frozen=True)
class OwnRow:
    """One line of the own-case report."""

    case: str
    arspec: str
    kernel: str
    agreement: str
    explanation: str
    kernel_error: str
    arspec_finding: str
    #: Runs that faulted on the runtime (only for arspec accept / kernel reject).
    faults: int = 0


def compare_own(cases: Iterable[OwnCase], recorded: Mapping[str, tuple[str, str]],
                explanations: Iterable[Mapping[str, str]] = ()) -> list[OwnRow]:
    """Return one row per own case: arspec's verdict against the recorded kernel verdict."""
    why = {entry["case"]: entry["why"] for entry in explanations}
    rows = []
    with tempfile.TemporaryDirectory(prefix="arspec-linux-cases-") as tmp:
        folder = Path(tmp)
        for case in cases:
            kernel, error = recorded.get(case.name, ("-", ""))
            arspec, finding = own_arspec_verdict(case, folder)
            faults = 0
            if arspec == UNKNOWN:
                agreement, text = UNDECIDED, ""
            elif arspec == kernel:
                agreement, text = AGREE, ""
            else:
                agreement = DISAGREE
                text = why.get(case.name, "UNEXPLAINED (add it to "
                               "tests/linux_verifier_disagreements.yaml)")
                if arspec == ACCEPT:
                    faults = runtime_faults(case, folder)
            rows.append(OwnRow(case.name, arspec, kernel, agreement, text, error, finding,
                               faults))
    return rows


def own_figures(rows: list[OwnRow]) -> dict[str, int]:
    """Return the counts the report prints (cases, agree, disagree, undecided, unsound)."""
    return {
        "cases": len(rows),
        "agree": sum(r.agreement == AGREE for r in rows),
        "disagree": sum(r.agreement == DISAGREE for r in rows),
        "undecided": sum(r.agreement == UNDECIDED for r in rows),
        "kernel accept": sum(r.kernel == ACCEPT for r in rows),
        "kernel reject": sum(r.kernel == REJECT for r in rows),
        "arspec accept, kernel reject": sum(r.arspec == ACCEPT and r.kernel == REJECT
                                            for r in rows),
        "unsound": sum(r.faults > 0 for r in rows),
    }


def own_summary(rows: list[OwnRow]) -> str:
    """Return the figures: counts, agreement on the cases both decide, per category."""
    f = own_figures(rows)
    decided = f["agree"] + f["disagree"]
    share = 100.0 * f["agree"] / decided if decided else 0.0
    lines = [f"{f['cases']} own cases: {f['agree']} agree, {f['disagree']} disagree, "
             f"{f['undecided']} undecided (arspec UNKNOWN); agreement {share:.1f} % of the "
             f"{decided} cases both sides decide",
             f"kernel: {f['kernel accept']} accept, {f['kernel reject']} reject; arspec proves "
             f"{f['arspec accept, kernel reject']} the kernel rejects, of which "
             f"{f['unsound']} fault on the runtime (must be 0)"]
    categories = sorted({r.case.split(":")[0] for r in rows})
    for category in categories:
        mine = [r for r in rows if r.case.split(":")[0] == category]
        agree = sum(r.agreement == AGREE for r in mine)
        decided_here = sum(r.agreement in (AGREE, DISAGREE) for r in mine)
        lines.append(f"  {category:<20} {len(mine):>3} cases  {agree:>3} agree  "
                     f"{decided_here - agree:>3} disagree  {len(mine) - decided_here:>3} "
                     "undecided")
    return "\n".join(lines)


def render_own_text(rows: list[OwnRow]) -> str:
    """Return the own-case report as an aligned table followed by the figures."""
    width = max((len(r.case) for r in rows), default=4)
    lines = [f"{'case':<{width}}  {'arspec':<7}  {'kernel':<6}  {'agreement':<9}  explanation"]
    for r in rows:
        text = r.explanation
        if r.agreement != AGREE:
            extra = "; ".join(x for x in (f"arspec: {r.arspec_finding}" if r.arspec_finding
                                          else "", f"kernel: {r.kernel_error}"
                                          if r.kernel_error else "") if x)
            text = f"{text} [{extra}]" if text and extra else text or (f"[{extra}]" if extra
                                                                       else "")
        lines.append(f"{r.case:<{width}}  {r.arspec:<7}  {r.kernel:<6}  {r.agreement:<9}  "
                     f"{text}".rstrip())
    return "\n".join([*lines, own_summary(rows)]) + "\n"


def own_disagreements(rows: Iterable[OwnRow]) -> list[tuple[str, str, str]]:
    """Return ``(case, arspec, kernel)`` of every disagreeing own row, sorted."""
    return sorted((r.case, r.arspec, r.kernel) for r in rows if r.agreement == DISAGREE)


def main(argv: list[str] | None = None) -> int:
    """Print both reports (and write the corpus one as Markdown when asked).

    Returns 0, or 2 when bpf(2) is missing (nothing to compare with).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--record", action="store_true",
                        help="rewrite tests/linux_cases/kernel_verdicts.yaml from the kernel")
    args = parser.parse_args(argv)
    available, reason = kernel_available()
    if not available:
        print(f"Linux verifier report skipped: {reason}")
        return 2
    own = load_own_cases()
    if args.record:
        record_kernel_verdicts(own)
    start = time.perf_counter()
    rows = compare(load_cases(), load_explanations())
    print(render_text(rows), end="")
    print(f"runtime {time.perf_counter() - start:.1f} s\n")
    start = time.perf_counter()
    recorded = load_kernel_verdicts()
    stale = [c.name for c in own if own_kernel_verdict(c) != recorded.get(c.name)]
    own_rows = compare_own(own, recorded, load_explanations())
    print(render_own_text(own_rows), end="")
    print(f"live kernel differs from the recorded verdict on {len(stale)} case(s)"
          + (f": {stale}" if stale else ""))
    print(f"runtime {time.perf_counter() - start:.1f} s")
    if args.markdown is not None:
        args.markdown.write_text(render_markdown(rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
