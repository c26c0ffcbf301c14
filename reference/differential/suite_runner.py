"""
bpf_conformance suite driver
============================

Runs the bpf_conformance suite's **own** runner (``bpf_conformance_runner``) over the suite's
``tests/`` folder with ``arspec-bpf-plugin`` as the plugin, and reads the runner's report back:
one ``PASS:``/``FAIL:``/``ERROR:``/``SKIP:`` line per test and the closing
``Passed N out of M tests.`` (skipped tests are not counted in ``M``).

The runner starts the plugin itself, with the input memory as the first argument and the
program as hex on stdin (:mod:`arspec.reference.differential.plugin`); :func:`write_plugin_wrapper`
writes
the small executable it is given, which runs the plugin module with this Python.

:func:`build_suite` fetches the suite at :data:`SUITE_COMMIT` with ``git`` and builds it with
``cmake`` (Boost ``program_options`` and ``filesystem`` are needed); it needs the network.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from arspec.spec.errors import InputError

#: Where the suite is published.
SUITE_REPOSITORY: Final = "https://github.com/Alan-Jowett/bpf_conformance"
#: The commit :func:`build_suite` checks out (its instruction table has the ``callx`` group).
SUITE_COMMIT: Final = "1860a9b14d41fd3dbab61aac5fc127a3e34f7afa"
#: Environment variables naming a runner binary and the suite's ``tests/`` folder.
RUNNER_ENV: Final = "ARSPEC_BPF_CONFORMANCE_RUNNER"
TESTS_ENV: Final = "ARSPEC_BPF_CONFORMANCE_TESTS"
#: The options the issue's full run uses: ISA v4 and the ``callx`` group on top of the defaults.
DEFAULT_CPU_VERSION: Final = "v4"
DEFAULT_GROUPS: Final = ("callx",)

_STATUSES: Final = ("PASS", "FAIL", "ERROR", "SKIP", "UNKNOWN")
_RESULT_LINE: Final = re.compile(r'^(PASS|FAIL|ERROR|SKIP|UNKNOWN): "([^"]*)"(?: (.*))?$')
_SUMMARY_LINE: Final = re.compile(r"^Passed (\d+) out of (\d+) tests\.$")
_SOURCE: Final = "<runner output>"


@dataclass(frozen=True)
class TestOutcome:
    """One test as the runner reported it (``name`` is the file name, e.g. ``add.data``)."""

    name: str
    status: str
    message: str


@dataclass(frozen=True)
class SuiteReport:
    """Every test's outcome, sorted by name, and the runner's own closing count."""

    outcomes: tuple[TestOutcome, ...]
    passed: int
    run: int

    @property
    def failed(self) -> tuple[TestOutcome, ...]:
        """Tests that ran and did not pass (``FAIL`` and ``ERROR``)."""
        return tuple(o for o in self.outcomes if o.status in ("FAIL", "ERROR"))

    @property
    def skipped(self) -> tuple[TestOutcome, ...]:
        """Tests the runner did not run (``SKIP`` and ``UNKNOWN``)."""
        return tuple(o for o in self.outcomes if o.status in ("SKIP", "UNKNOWN"))

    def summary(self) -> str:
        """``passed P, failed F, total T`` (``T`` counts run tests) plus the skipped count."""
        return (f"passed {self.passed}, failed {len(self.failed)}, total {self.run} "
                f"({len(self.skipped)} skipped)")


def parse_runner_output(text: str) -> SuiteReport:
    """Read the runner's report; other lines (its debug and parser notes) are ignored.

    Raises
    ------
    InputError
        When the closing count is missing or does not match the result lines, or a test is
        reported twice.
    """
    outcomes: dict[str, TestOutcome] = {}
    summary: tuple[int, int] | None = None
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.rstrip("\r")
        match = _RESULT_LINE.match(line)
        if match:
            status, path, message = match.group(1), match.group(2), match.group(3) or ""
            name = path.replace("\\", "/").rsplit("/", 1)[-1]
            if name in outcomes:
                raise InputError(f"test {name!r} is reported twice", file=_SOURCE, line=line_no)
            outcomes[name] = TestOutcome(name, status, message)
            continue
        match = _SUMMARY_LINE.match(line)
        if match:
            summary = (int(match.group(1)), int(match.group(2)))
    if summary is None:
        raise InputError("no closing 'Passed N out of M tests.' line (did the runner crash?)",
                         file=_SOURCE)
    passed, run = summary
    ordered = tuple(outcomes[name] for name in sorted(outcomes))
    counted_pass = sum(1 for o in ordered if o.status == "PASS")
    counted_run = sum(1 for o in ordered if o.status in ("PASS", "FAIL", "ERROR"))
    if (counted_pass, counted_run) != (passed, run):
        raise InputError(f"the runner says {passed} of {run} passed, its result lines say "
                         f"{counted_pass} of {counted_run}", file=_SOURCE)
    return SuiteReport(ordered, passed, run)


def write_plugin_wrapper(directory: Path, python: str = sys.executable) -> Path:
    """Write ``arspec-bpf-plugin.sh`` into ``directory``: it runs the plugin module with
    ``python`` and the caller's environment, since the runner executes its plugin directly."""
    path = directory / "arspec-bpf-plugin.sh"
    path.write_text("#!/bin/sh\n"
                    f'exec {shlex.quote(python)} -m arspec.reference.differential.plugin "$@"\n')
    path.chmod(0o755)
    return path


def run_suite(runner: Path, tests: Path, plugin: Path, *,
              cpu_version: str = DEFAULT_CPU_VERSION,
              include_groups: Sequence[str] = DEFAULT_GROUPS,
              plugin_options: str | None = None,
              timeout: float = 1800.0) -> tuple[list[str], SuiteReport]:
    """Run ``runner`` over ``tests`` with ``plugin``; return the command line and the report.

    Raises
    ------
    InputError
        When the runner or the tests folder is missing, the runner cannot be started, runs
        longer than ``timeout`` seconds, or prints no report.
    """
    if not runner.is_file() or not os.access(runner, os.X_OK):
        raise InputError("not an executable bpf_conformance_runner", file=str(runner))
    if not tests.is_dir():
        raise InputError("not a folder of .data tests", file=str(tests))
    command = [str(runner), "--test_file_directory", str(tests), "--plugin_path", str(plugin),
               "--cpu_version", cpu_version]
    if include_groups:
        command += ["--include_groups", *include_groups]
    if plugin_options:
        command += ["--plugin_options", plugin_options]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except OSError as exc:
        raise InputError(f"cannot start the runner: {exc.strerror}", file=str(runner)) from None
    except subprocess.TimeoutExpired:
        raise InputError(f"the runner did not finish within {timeout:g} s",
                         file=str(runner)) from None
    try:
        report = parse_runner_output(proc.stdout)
    except InputError as exc:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(nothing on stderr)"]
        raise InputError(f"{exc.reason}; exit status {proc.returncode}; stderr: {tail[0]}",
                         file=str(runner)) from None
    return command, report


def find_runner() -> Path | None:
    """The runner named by ``$ARSPEC_BPF_CONFORMANCE_RUNNER``, else ``bpf_conformance_runner``
    on ``PATH``, else ``None``."""
    named = os.environ.get(RUNNER_ENV)
    if named:
        return Path(named)
    found = shutil.which("bpf_conformance_runner")
    return Path(found) if found else None


def default_tests_dir(runner: Path) -> Path:
    """``$ARSPEC_BPF_CONFORMANCE_TESTS``, else the ``tests/`` folder the suite's build copies
    beside ``bin/`` (``<build>/bin/bpf_conformance_runner`` → ``<build>/tests``)."""
    named = os.environ.get(TESTS_ENV)
    if named:
        return Path(named)
    return runner.resolve().parent.parent / "tests"


def build_suite(directory: Path, commit: str = SUITE_COMMIT) -> Path:
    """Clone the suite at ``commit`` into ``directory`` (unless it is there) and build it with
    cmake; return the runner's path.

    Raises
    ------
    InputError
        Naming the step that failed (no ``git``/``cmake``, no network, a build error).
    """
    source = directory / "bpf_conformance"
    build = directory / "build"
    steps: list[list[str]] = []
    if not (source / ".git").is_dir():
        steps.append(["git", "clone", "--quiet", SUITE_REPOSITORY, str(source)])
    steps += [["git", "-C", str(source), "checkout", "--quiet", commit],
              ["git", "-C", str(source), "submodule", "update", "--init", "--recursive"],
              ["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
              ["cmake", "--build", str(build), "--target", "bpf_conformance_runner"]]
    directory.mkdir(parents=True, exist_ok=True)
    for step in steps:
        try:
            proc = subprocess.run(step, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise InputError(f"cannot run {step[0]}: {exc.strerror}", file=str(directory)) from None
        if proc.returncode != 0:
            last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["?"]
            raise InputError(f"{' '.join(step[:3])} failed (exit {proc.returncode}): {last[0]}",
                             file=str(directory))
    return build / "bin" / "bpf_conformance_runner"
