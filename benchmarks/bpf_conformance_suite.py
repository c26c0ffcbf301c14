"""
bpf_conformance through its own runner
======================================

Runs the bpf_conformance suite's runner over the suite's tests with ``arspec-bpf-plugin`` as
the plugin (:mod:`arspec.reference.differential.suite_runner`) and prints passed/failed/total, the
skipped
count and every failing test with the runner's message::

    python benchmarks/bpf_conformance_suite.py RUNNER [--tests DIR]
    python benchmarks/bpf_conformance_suite.py --build DIR     # git + cmake, needs the network

``RUNNER`` defaults to ``$ARSPEC_BPF_CONFORMANCE_RUNNER`` or ``bpf_conformance_runner`` on
``PATH``; ``--tests`` to ``$ARSPEC_BPF_CONFORMANCE_TESTS`` or the ``tests/`` folder beside the
runner's ``bin/``. The default options are the full run: ``--cpu_version v4 --include_groups
callx``. Exit status 0 when every test that ran passed, 1 when one failed, 2 on bad input (no
runner, no tests, a runner that prints no report).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from arspec.reference.differential.suite_runner import (
    DEFAULT_CPU_VERSION,
    DEFAULT_GROUPS,
    SUITE_COMMIT,
    build_suite,
    default_tests_dir,
    find_runner,
    run_suite,
    write_plugin_wrapper,
)
from arspec.spec.errors import InputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bpf_conformance's runner driving arspec")
    parser.add_argument("runner", nargs="?", type=Path, help="bpf_conformance_runner binary")
    parser.add_argument("--tests", type=Path, help="the suite's tests/ folder")
    parser.add_argument("--build", type=Path, metavar="DIR",
                        help=f"clone the suite at {SUITE_COMMIT[:12]} into DIR and build it")
    parser.add_argument("--cpu-version", default=DEFAULT_CPU_VERSION)
    parser.add_argument("--include-groups", nargs="*", default=list(DEFAULT_GROUPS))
    parser.add_argument("--plugin-options", help="passed to the plugin, e.g. '--profile linux'")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    try:
        if args.build is not None:
            runner = build_suite(args.build)
            tests = args.tests or args.build / "build" / "tests"
        else:
            found: Path | None = args.runner or find_runner()
            if found is None:
                raise InputError("no runner: give its path, set ARSPEC_BPF_CONFORMANCE_RUNNER "
                                 "or put bpf_conformance_runner on PATH, or use --build DIR",
                                 file="<command line>")
            runner = found
            tests = args.tests or default_tests_dir(runner)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            plugin = write_plugin_wrapper(Path(tmp))
            command, report = run_suite(runner, tests, plugin, cpu_version=args.cpu_version,
                                        include_groups=args.include_groups,
                                        plugin_options=args.plugin_options,
                                        timeout=args.timeout)
        elapsed = time.perf_counter() - start
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    print("command:", " ".join(command).replace(str(plugin), "<plugin>"))
    print(f"{report.summary()}, time: {elapsed:.1f} s")
    for outcome in report.failed:
        print(f"  {outcome.status}: {outcome.name}: {outcome.message}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
