"""
Conformance data files
======================

Parser and runner for the sectioned ``.data`` test format shared by uBPF's ``tests/`` and the
`bpf_conformance <https://github.com/Alan-Jowett/bpf_conformance>`_ suite, with two optional
sections of arspec's own.

A file is a sequence of sections, each introduced by a line ``-- <name>``:

``-- asm``
    Assembly text (conformance syntax ``mov %r0, 1`` or LLVM syntax ``r0 = 1``), given to
    :func:`~arspec.reference.isa.assembler.assemble` with line numbers kept, so an assembly error
    points at the line of the ``.data`` file.
``-- raw``
    The program as 64-bit words, one or more per line, ``0x`` hex or decimal. As in the
    suite, a word is the instruction's 8 bytes read as a **little-endian** integer, so the
    opcode is the lowest byte: ``0x0000000000000095`` is ``exit``.
``-- mem``
    Input memory: hex bytes separated by white space, over any number of lines.
``-- result``
    The expected r0, hex (``0x2a``) or decimal (``42``, ``-1``); compared on all 64 bits.
``-- error``
    A substring expected in the fault or load-error message.
``-- error pattern``
    A regular expression expected to match (:func:`re.search`) the fault or load-error message.
``-- no jit``
    Accepted and ignored (arspec has no JIT).
``-- profile``
    arspec: ``linux`` (default), ``solana``, or ``both`` (the same outcome in both profiles).
``-- insn-count``
    arspec: the number of instructions the run must execute (``lddw`` counts once).
``-- insn-limit``
    arspec: the instruction budget of the run (default :data:`DEFAULT_INSN_LIMIT`).

``#`` starts a comment anywhere except inside ``-- error`` and ``-- error pattern`` lines,
where only a whole-line comment is recognised (a message may contain ``#``). Blank lines are
ignored. A file that cannot be read raises :class:`~arspec.spec.errors.InputError` naming the
file and line.

When a file has both ``-- asm`` and ``-- raw``, the raw words are run and the assembly must
assemble to exactly those words (a check of the assembler). When it has both ``-- result``
and an error section, the error is the expectation (uBPF's convention).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from arspec.reference.isa.decoder import decode
from arspec.reference.isa.instructions import Program
from arspec.spec.errors import ArspecError, DecodeError, InputError

#: Instruction budget of a conformance run when the file sets no ``-- insn-limit``.
DEFAULT_INSN_LIMIT: Final = 1_000_000

#: Profiles a case may name.
PROFILE_NAMES: Final = ("linux", "solana")

_U64: Final = (1 << 64) - 1
_SECTIONS: Final = (
    "asm", "raw", "mem", "result", "error", "error pattern", "no jit", "profile",
    "insn-count", "insn-limit",
)
#: Sections of other suites' files that carry nothing arspec can use.
_IGNORED_SECTIONS: Final = ("no jit", "c", "no register offset")
_HEX_BYTE: Final = re.compile(r"(?:0x)?([0-9a-fA-F]{1,2})")


@dataclass(frozen=True, slots=True)
class ConformanceCase:
    """One parsed ``.data`` file.

    ``asm_line`` is the file line of the first assembly line, so that assembler errors can be
    reported against the file. ``profiles`` lists the profiles the expectation holds in.
    """

    name: str
    path: str
    asm: str | None
    asm_line: int
    raw: tuple[int, ...] | None
    mem: bytes
    result: int | None
    error: str | None
    error_pattern: str | None
    profiles: tuple[str, ...] = ("linux",)
    insn_count: int | None = None
    insn_limit: int = DEFAULT_INSN_LIMIT

    @property
    def expects_error(self) -> bool:
        """Whether the case expects a fault or a load error rather than a result."""
        return self.error is not None or self.error_pattern is not None

    def raw_bytes(self) -> bytes | None:
        """Return the ``-- raw`` words as program bytes, or ``None`` without a raw section."""
        if self.raw is None:
            return None
        return b"".join(struct.pack("<Q", word) for word in self.raw)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one profile's run produced: r0 and the instruction count, or an error message."""

    profile: str
    r0: int | None = None
    instructions: int | None = None
    error: str | None = None

    def describe(self) -> str:
        """Return a short human-readable description of the outcome."""
        if self.error is not None:
            return f"error {self.error!r}"
        assert self.r0 is not None
        return f"r0 = {self.r0:#x} after {self.instructions} instructions"


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """Verdict of :func:`run_case`: ``message`` explains every mismatch (empty when passed)."""

    passed: bool
    message: str
    runs: tuple[RunSummary, ...] = field(default=())


# --------------------------------------------------------------------------- parsing


def _parse_int(text: str, what: str, path: str, line: int) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise InputError(f"invalid {what} {text!r}", file=path, line=line) from None


def _strip_comment(text: str) -> str:
    return text.split("#", 1)[0].strip()


def parse_data_text(text: str, *, path: str = "<input>", name: str | None = None
                    ) -> ConformanceCase:
    """Parse the text of a ``.data`` file (see the module documentation for the format).

    Raises
    ------
    InputError
        With the file and line of the first malformed line.
    """
    data = _DataFile(path)
    for number, full in enumerate(text.splitlines(), start=1):
        data.apply_line(number, full)
    return data.get_case(name if name is not None else Path(path).stem,
                         max(1, len(text.splitlines())))


@dataclass
class _DataFile:
    """The sections of one ``.data`` file read so far."""

    path: str
    section: str | None = None
    seen: dict[str, int] = field(default_factory=dict)
    asm_lines: list[str] = field(default_factory=list)
    asm_line: int = 0
    raw: list[int] = field(default_factory=list)
    mem: bytearray = field(default_factory=bytearray)
    result: int | None = None
    errors: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    profile: str | None = None
    insn_count: int | None = None
    insn_limit: int | None = None

    def fail(self, message: str, line: int) -> InputError:
        """Return the error for ``message`` at ``line`` of this file."""
        return InputError(message, file=self.path, line=line)

    def apply_line(self, number: int, full: str) -> None:
        """Read line ``number``: a section header, or a line of the current section."""
        stripped = full.strip()
        if stripped.startswith("--"):
            self.apply_header(number, " ".join(stripped[2:].split()).lower())
            return
        section = self.section
        if section in ("error", "error pattern"):
            if stripped and not stripped.startswith("#"):
                (self.errors if section == "error" else self.patterns).append(stripped)
            return
        if section == "asm":
            self.asm_lines.append(full)
            return
        content = _strip_comment(full)
        if not content:
            return
        if section is None:
            raise self.fail("text before the first '-- section' header", number)
        if section in ("raw", "mem"):
            self.apply_bytes(section, content, number)
        elif section not in _IGNORED_SECTIONS:
            self.apply_value(section, content, number)

    def apply_header(self, number: int, header: str) -> None:
        """Start section ``header`` (unknown and repeated sections are errors)."""
        if header not in _SECTIONS and header not in _IGNORED_SECTIONS:
            raise self.fail(f"unknown section '-- {header}'", number)
        if header in self.seen:
            raise self.fail(f"section '-- {header}' repeated (first at line "
                            f"{self.seen[header]})", number)
        self.seen[header] = number
        self.section = header
        if header == "asm":
            self.asm_line = number + 1

    def apply_bytes(self, section: str, content: str, number: int) -> None:
        """Read a line of 64-bit raw instruction words or of memory bytes."""
        for token in content.split():
            if section == "raw":
                word = _parse_int(token, "raw instruction word", self.path, number)
                if not 0 <= word <= _U64:
                    raise self.fail(f"raw word {token} does not fit in 64 bits", number)
                self.raw.append(word)
                continue
            match = _HEX_BYTE.fullmatch(token)
            if match is None:
                raise self.fail(f"invalid memory byte {token!r} (expected two hex digits)",
                                number)
            self.mem.append(int(match.group(1), 16))

    def single(self, current: object, what: str, line: int) -> None:
        """Refuse a second value of a one-value section."""
        if current is not None:
            raise self.fail(f"more than one {what} value", line)

    def apply_value(self, section: str, content: str, number: int) -> None:
        """Read the value of a one-value section (result, profile, insn-count, insn-limit)."""
        path = self.path
        if section == "result":
            self.single(self.result, "result", number)
            value = _parse_int(content, "result", path, number)
            if not -(1 << 63) <= value <= _U64:
                raise self.fail(f"result {content} does not fit in 64 bits", number)
            self.result = value & _U64
        elif section == "profile":
            self.single(self.profile, "profile", number)
            if content not in (*PROFILE_NAMES, "both"):
                raise self.fail(f"unknown profile {content!r} (expected linux, solana or "
                                "both)", number)
            self.profile = content
        elif section == "insn-count":
            self.single(self.insn_count, "insn-count", number)
            self.insn_count = _parse_int(content, "instruction count", path, number)
            if self.insn_count < 0:
                raise self.fail("instruction count must not be negative", number)
        elif section == "insn-limit":
            self.single(self.insn_limit, "insn-limit", number)
            self.insn_limit = _parse_int(content, "instruction limit", path, number)
            if self.insn_limit < 1:
                raise self.fail("instruction limit must be positive", number)

    def get_case(self, name: str, end: int) -> ConformanceCase:
        """Return the case, after checking the file as a whole (``end``: its last line)."""
        seen, errors, patterns = self.seen, self.errors, self.patterns
        has_asm = "asm" in seen and any(_strip_comment(ln) for ln in self.asm_lines)
        if not has_asm and not self.raw:
            raise self.fail("no program: expected an '-- asm' or '-- raw' section", end)
        if len(errors) > 1 or len(patterns) > 1:
            where = seen["error" if len(errors) > 1 else "error pattern"]
            raise self.fail("an error section holds more than one line", where)
        if self.result is None and not errors and not patterns:
            raise self.fail("no expectation: expected '-- result', '-- error' or "
                            "'-- error pattern'", end)
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.fail(f"invalid error pattern: {exc}", seen["error pattern"]) from None
        if self.insn_count is not None and (errors or patterns):
            raise self.fail("'-- insn-count' applies only to a case that expects a result",
                            seen["insn-count"])
        profile = self.profile
        return ConformanceCase(
            name=name, path=self.path,
            asm="\n".join(self.asm_lines) if has_asm else None, asm_line=self.asm_line,
            raw=tuple(self.raw) if self.raw else None, mem=bytes(self.mem), result=self.result,
            error=errors[0] if errors else None,
            error_pattern=patterns[0] if patterns else None,
            profiles=PROFILE_NAMES if profile == "both" else (profile or "linux",),
            insn_count=self.insn_count,
            insn_limit=self.insn_limit if self.insn_limit is not None else DEFAULT_INSN_LIMIT,
        )


def parse_data_file(path: str | Path) -> ConformanceCase:
    """Read and parse one ``.data`` file.

    Raises
    ------
    InputError
        If the file cannot be read or is malformed (with the file and line).
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=name) from None
    return parse_data_text(text, path=name)


def find_data_files(root: str | Path) -> list[Path]:
    """Return every ``*.data`` file under ``root``, sorted by path."""
    return sorted(Path(root).rglob("*.data"))


# --------------------------------------------------------------------------- running


def load_program(case: ConformanceCase) -> Program:
    """Build the program of ``case``: decode ``-- raw`` if present, else assemble ``-- asm``.

    When both are present the assembly must produce exactly the raw words.

    Raises
    ------
    InputError
        From the assembler (with the ``.data`` file's line) or when asm and raw disagree.
    DecodeError
        When the bytecode is not a valid program.
    """
    from arspec.reference.isa.assembler import assemble
    from arspec.reference.isa.encoder import encode

    assembled: Program | None = None
    if case.asm is not None:
        padded = "\n" * (case.asm_line - 1) + case.asm
        assembled = assemble(padded, filename=case.path)
    code = case.raw_bytes()
    if code is None:
        assert assembled is not None
        return assembled
    if assembled is not None and encode(assembled) != code:
        raise InputError("'-- asm' and '-- raw' describe different programs", file=case.path,
                         line=case.asm_line)
    return decode(code)


def run_profile(case: ConformanceCase, profile_name: str, *, engine: str = "auto"
                ) -> RunSummary:
    """Load and execute ``case`` in one profile and summarise what happened.

    ``engine`` selects the interpreter loop (see :func:`arspec.reference.vm.vm.execute`).
    """
    from arspec.reference.isa.decoder import decode_sbpf_v0
    from arspec.reference.runtime.solana_syscalls import solana_syscalls
    from arspec.reference.vm.helpers import plugin_helpers
    from arspec.reference.vm.profiles import get_profile
    from arspec.reference.vm.vm import execute

    raw = case.raw_bytes()
    try:
        if profile_name == "solana" and raw is not None:
            program = decode_sbpf_v0(raw)  # SBPFv0 reads bytes as Agave's loader does
        else:
            program = load_program(case)
    except (InputError, DecodeError) as exc:
        return RunSummary(profile_name, error=str(exc))
    try:
        profile = get_profile(profile_name)
        helpers = solana_syscalls() if profile.sbpf_version == 0 else plugin_helpers()
        outcome = execute(program, profile=profile, memory=case.mem, helpers=helpers,
                          compute_limit=case.insn_limit, engine=engine)
    except ArspecError as exc:  # a load-time rejection by the profile
        return RunSummary(profile_name, error=str(exc))
    if outcome.fault is not None:
        return RunSummary(profile_name, error=str(outcome.fault),
                          instructions=outcome.instructions)
    return RunSummary(profile_name, r0=outcome.r0 & _U64, instructions=outcome.instructions)


def _mismatch(case: ConformanceCase, run: RunSummary) -> str | None:
    if case.expects_error:
        if run.error is None:
            return f"expected an error, got {run.describe()}"
        if case.error is not None and case.error not in run.error:
            return f"expected an error containing {case.error!r}, got {run.error!r}"
        if case.error_pattern is not None and re.search(case.error_pattern, run.error) is None:
            return f"expected an error matching /{case.error_pattern}/, got {run.error!r}"
        return None
    assert case.result is not None
    if run.error is not None:
        return f"expected r0 = {case.result:#x}, got {run.describe()}"
    if run.r0 != case.result:
        return f"expected r0 = {case.result:#x}, got r0 = {run.r0:#x}"
    if case.insn_count is not None and run.instructions != case.insn_count:
        return (f"expected {case.insn_count} executed instructions, got "
                f"{run.instructions}")
    return None


def run_case(case: ConformanceCase, *, engine: str = "auto") -> CaseOutcome:
    """Run ``case`` in each of its profiles (on ``engine``) and compare with the expectation."""
    runs = tuple(run_profile(case, name, engine=engine) for name in case.profiles)
    problems = [f"[{run.profile}] {problem}" for run in runs
                if (problem := _mismatch(case, run)) is not None]
    return CaseOutcome(not problems, "; ".join(problems), runs)
