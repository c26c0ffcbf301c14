"""Prepare the seeds and run many fuzz cases in one process."""

from __future__ import annotations

import io
import random
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from arspec.checker import cli
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
    return trace.read_text() if code == cli.EXIT_FAILED and trace.exists() else None


def prepare(scratch: Path) -> Seeds:
    """Return every seed: examples, assembly, compiled objects and a trace."""
    return load_seeds(compile_objects(scratch), make_trace(scratch))


def peak_rss_mib() -> float:
    """Return the peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fuzz(count: int, *, seed: int, seeds: Seeds, hang_seconds: float = 10.0,
         progress: TextIO | None = None, every: float = 10.0,
         seconds: float | None = None, stop: Callable[[], bool] | None = None) -> Tally:
    """Run ``count`` cases (or until ``seconds`` pass, or ``stop()`` says so) and return the
    tally."""
    rng = random.Random(seed)
    tally = Tally()
    start = last = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="arspec-fuzz-") as work:
        workdir = Path(work)
        for _ in range(count):
            case = next_case(rng, seeds)
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
