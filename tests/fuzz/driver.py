"""Prepare the seeds and run many fuzz cases in one process.

Per input, only what the input changes is redone. Two things are shared across inputs while
:func:`fuzz` runs (:func:`shared_setup`), because they do not depend on the input:

- the ``spec-check`` argument parser is built once (building it took a third of a typical
  input's time); every input still goes through ``parse_args``;
- ``prove`` results are kept per (claim names, solver settings): an induction proof depends
  on nothing else, and proving every claim takes seconds; every input still goes through the
  command's option checks and output.

Files (the inputs' and the commands' scratch folders) go to a RAM-backed folder
(``/dev/shm``) when there is one.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import random
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from arspec.cli import exit_codes
from arspec.cli import main as cli
from tests.fuzz.harness import Tally, run_case
from tests.fuzz.inputs import ROOT, Seeds, load_seeds, next_case

#: The bundle whose explorer trace seeds the ``replay`` cases.
TRACE_BUNDLE = ROOT / "examples" / "explore" / "timer_broken.yaml"


def compile_objects(out: Path) -> tuple[bytes, ...]:
    """Return the objects clang makes from ``tests/c/*.c`` (none without clang)."""
    clang = shutil.which("clang")
    if clang is None:
        return ()
    include: list[str] = []
    gcc = shutil.which("gcc")
    if gcc is not None:
        arch = subprocess.run([gcc, "-print-multiarch"], capture_output=True, text=True,
                              check=False).stdout.strip()
        include = [f"-I/usr/include/{arch}"] if arch else []
    objects = []
    for source in sorted((ROOT / "tests" / "c").glob("*.c")):
        target = out / (source.stem + ".o")
        done = subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-c", str(source), "-o",
                               str(target), *include], capture_output=True, check=False)
        if done.returncode == 0:
            objects.append(target.read_bytes())
    return tuple(objects)


def make_trace(out: Path) -> str | None:
    """Return the JSON trace the explorer writes for a broken example."""
    trace = out / "trace.json"
    code = cli.main(["explore", str(TRACE_BUNDLE), "--trace-out", str(trace), "--no-timing"],
                    out=io.StringIO())
    return trace.read_text() if code == exit_codes.EXIT_FAILED and trace.exists() else None


def prepare(scratch: Path) -> Seeds:
    """Return every seed: examples, assembly, compiled objects and a trace."""
    return load_seeds(compile_objects(scratch), make_trace(scratch))


def scratch_root() -> str | None:
    """Return a RAM-backed folder for the inputs' files (``/dev/shm``), or ``None``."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextlib.contextmanager
def shared_setup() -> Iterator[None]:
    """Share the argument parser and ``prove`` results across inputs (module docstring)."""
    from arspec.proofs import catalogue

    real_parser = cli.build_parser
    real_prove = catalogue.prove
    real_tempdir = tempfile.tempdir
    parser = real_parser()
    proved: dict[tuple[tuple[str, ...], Any], Any] = {}

    @functools.wraps(real_prove)
    def prove(names: Sequence[str] = (), *, config: Any = None) -> Any:
        key = (tuple(names), config)
        if key not in proved:
            proved[key] = real_prove(names, config=config)
        return list(proved[key])

    cli.build_parser = lambda: parser  # type: ignore[assignment]
    catalogue.prove = prove  # type: ignore[assignment]
    tempfile.tempdir = scratch_root() or real_tempdir  # explore's scratch folder, too
    try:
        yield
    finally:
        tempfile.tempdir = real_tempdir
        cli.build_parser = real_parser  # type: ignore[assignment]
        catalogue.prove = real_prove  # type: ignore[assignment]


def peak_rss_mib() -> float:
    """Return the peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fuzz(count: int, *, seed: int, seeds: Seeds, hang_seconds: float = 10.0,
         progress: TextIO | None = None, every: float = 10.0,
         seconds: float | None = None, stop: Callable[[], bool] | None = None,
         only: Sequence[str] | None = None) -> Tally:
    """Run ``count`` cases (or until ``seconds`` pass, or ``stop()`` says so) and return the
    tally; ``only`` names the generators to use (default all)."""
    rng = random.Random(seed)
    tally = Tally()
    start = last = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="arspec-fuzz-", dir=scratch_root()) as work, \
            shared_setup():
        workdir = Path(work)
        for _ in range(count):
            case = next_case(rng, seeds, only)
            tally.add(run_case(case, workdir, hang_seconds=hang_seconds), case)
            now = time.monotonic()
            if progress is not None and now - last >= every:
                last = now
                rate = tally.runs / (now - start)
                progress.write(f"fuzz: {tally.runs} inputs, {len(tally.findings)} findings, "
                               f"{rate:.0f}/s, peak {peak_rss_mib():.0f} MiB\n")
                progress.flush()
            if seconds is not None and now - start >= seconds:
                break
            if stop is not None and stop():
                break
    return tally
