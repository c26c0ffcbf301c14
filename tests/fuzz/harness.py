"""Run one fuzz case in-process and judge the outcome.

A case is a command line for ``spec-check`` (or ``arspec-bpf-plugin``) plus the files it
names. The run is good when the entry point returns an exit code of the table (0, 1, 2, 3)
and prints no traceback; an exit 2 must be exactly one line on stderr. ``replay`` has one more
documented outcome: a trace that does not reproduce exits 5 and says so on stdout (a mutated
trace often names a step that is not enabled). Everything else is a
finding: an exception escaping ``main``, exit 4 (internal error), another exit code, a
multi-line error, or a hang: a run using more CPU time than the hang limit (``SIGPROF``), or
more than :data:`WALL_FACTOR` times it in wall-clock time (``SIGALRM``).
"""

from __future__ import annotations

import contextlib
import io
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from arspec.cli import exit_codes
from arspec.cli import main as cli
from arspec.cli.exit_codes import EXIT_NOT_REPRODUCED
from arspec.reference.differential import plugin

#: Exit codes a run may end with.
GOOD_CODES = frozenset({exit_codes.EXIT_OK, exit_codes.EXIT_FAILED, exit_codes.EXIT_USAGE,
                        exit_codes.EXIT_INCONCLUSIVE})


@dataclass(frozen=True)
class Case:
    """One input: the entry point, its arguments, the files to write first, and stdin."""

    kind: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...] = ()
    stdin: str = ""
    tool: str = "spec-check"

    def show(self) -> str:
        """Return the case as a reproducible description (files shown by their start)."""
        parts = [f"[{self.kind}] {self.tool} {' '.join(self.argv)}"]
        for name, data in self.files:
            parts.append(f"  {name} ({len(data)} bytes): {data[:300]!r}")
        if self.stdin:
            parts.append(f"  stdin: {self.stdin[:300]!r}")
        return "\n".join(parts)


@dataclass
class Finding:
    """A run that broke the contract."""

    problem: str
    case: Case
    detail: str


@dataclass
class Outcome:
    """What one run did."""

    code: int | None
    stderr: str
    seconds: float
    finding: Finding | None = None


@dataclass
class Tally:
    """Counts over many runs."""

    runs: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_code: dict[int, int] = field(default_factory=dict)
    seconds_by_kind: dict[str, float] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    slowest: float = 0.0

    def add(self, outcome: Outcome, case: Case) -> None:
        self.runs += 1
        self.by_kind[case.kind] = self.by_kind.get(case.kind, 0) + 1
        self.seconds_by_kind[case.kind] = self.seconds_by_kind.get(case.kind, 0.0) + \
            outcome.seconds
        if outcome.code is not None:
            self.by_code[outcome.code] = self.by_code.get(outcome.code, 0) + 1
        self.slowest = max(self.slowest, outcome.seconds)
        if outcome.finding is not None:
            self.findings.append(outcome.finding)


class Hang(BaseException):
    """Raised by the alarm when a run exceeds the hang limit (BaseException: never caught
    by the code under test's ``except Exception``)."""


#: A run also counts as a hang after this many times the hang limit in wall-clock time
#: (a run that waits instead of computing); the limit itself is CPU time, so a busy machine
#: does not turn a slow input into a hang.
WALL_FACTOR = 6


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[list[bool]]:
    """Raise :class:`Hang` after ``seconds`` of CPU time (or :data:`WALL_FACTOR` times as
    many seconds); the yielded list records that it fired (code called through ctypes, such
    as z3's, turns the exception into its own error, which must still count as a hang)."""
    fired: list[bool] = []

    def fire(signum: int, frame: FrameType | None) -> None:
        fired.append(True)
        raise Hang

    previous = signal.signal(signal.SIGPROF, fire), signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds * WALL_FACTOR)
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, previous[0])
        signal.signal(signal.SIGALRM, previous[1])


def run_case(case: Case, workdir: Path, *, hang_seconds: float = 10.0) -> Outcome:
    """Write the case's files under ``workdir``, run it there and judge the result."""
    for name, data in case.files:
        (workdir / name).write_bytes(data)
    argv = [a.replace("{dir}", str(workdir)) for a in case.argv]
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code: int | None = None
    escaped: BaseException | None = None
    fired: list[bool] = []
    try:
        with _alarm(hang_seconds) as fired, contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(out):
            if case.tool == "spec-check":
                code = cli.main(argv, out=out)
            elif case.tool == "load":
                code = _load(argv[0], err)
            else:
                code = plugin.run(argv, io.StringIO(case.stdin), out, err)
    except Hang:
        seconds = time.perf_counter() - start
        return Outcome(None, err.getvalue(), seconds,
                       Finding("hang", case, f"still running after {hang_seconds:g} s of CPU "
                                             f"time or {seconds:.1f} s"))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
        if code != 0:
            escaped = exit_
    except BaseException as exc:
        escaped = exc
    seconds = time.perf_counter() - start
    stderr = err.getvalue()
    if fired:  # the alarm's exception surfaced as something else
        return Outcome(code, stderr, seconds,
                       Finding("hang", case, f"stopped after {seconds:.1f} s, then: "
                                             f"{stderr.strip()[:300]}"))
    return Outcome(code, stderr, seconds, _judge(case, code, stderr, escaped, out.getvalue()))


def _load(path: str, err: io.StringIO) -> int:
    """Load a bundle the way every bundle command starts: 0 loaded, 2 refused."""
    import arspec.reference.runtime.runtime  # noqa: F401 - installs the ELF map reader
    from arspec.spec.errors import ArspecError
    from arspec.spec.loader import load_bundle

    try:
        load_bundle(path)
    except ArspecError as exc:
        print(exc, file=err)
        return exit_codes.EXIT_USAGE
    return exit_codes.EXIT_OK


def _judge(case: Case, code: int | None, stderr: str, escaped: BaseException | None,
           stdout: str = "") -> Finding | None:
    if escaped is not None:
        import traceback

        text = "".join(traceback.format_exception(escaped))
        return Finding("traceback", case, text)
    if "Traceback (most recent call last)" in stderr:
        return Finding("traceback", case, stderr)
    if code == exit_codes.EXIT_INTERNAL:
        return Finding("traceback", case, stderr)
    if code == EXIT_NOT_REPRODUCED and case.tool == "spec-check" and case.argv[:1] == (
            "replay",) and "\nnot reproduced: " in stdout and not stderr:
        return None
    if code not in GOOD_CODES:
        return Finding("wrong exit code", case, f"exit {code}: {stderr}")
    # Progress lines may precede it, but bad input is exactly one error line.
    errors = [line for line in stderr.splitlines() if "error" in line]
    if code == exit_codes.EXIT_USAGE and case.tool != "plugin" and len(errors) != 1:
        return Finding("wrong exit code", case,
                       f"exit 2 with {len(errors)} error lines on stderr (expected one): "
                       f"{stderr}")
    return None
