"""
Explorer benchmark against Spin
===============================

Explores the scheduler model (``scheduler_model.py``) with arspec and its Promela twin
(``scheduler.pml``) with Spin, asserts that the exhaustive state counts match (Spin built
with ``-DNOREDUCE``), and reports arspec's states, transitions, states/s, bytes/state and
the time ratios to Spin, with and without reductions. arspec's reduction is the
ring-occupancy quotient (``SchedulerParams(ring_ids=False)``, proved equal to exploring with
``SchedulerModel.canonicalize`` and sound by ``tests/model/test_scheduler_quotient.py``);
Spin's is its partial-order reduction (``-DSAFETY`` without ``-DNOREDUCE``), timed on the
full model and, for an equal footing, on the same quotient. CPU times are reported too: the
wall-clock ratio is unreliable on a shared machine.

Usage::

    python benchmarks/bench_explorer.py                 # ~10^6 states
    python benchmarks/bench_explorer.py --preset small  # seconds
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from arspec.model.engine import ExplorationResult, Progress, explore

HERE = Path(__file__).resolve().parent

PRESETS: dict[str, dict[str, object]] = {
    "small": dict(timers=2, ring=2, wq=3, slots=4),
    "medium": dict(timers=3, ring=3, wq=4, slots=6, events=3, budget=5),
    "large": dict(timers=3, ring=4, wq=5, slots=10, events=3, budget=5),
}


def load_model() -> ModuleType:
    """Import ``scheduler_model.py`` next to this file."""
    name = "arspec_bench_scheduler_model"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "scheduler_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class SpinRun:
    """States stored, wall-clock and CPU seconds of one Spin verification (compile excluded)."""

    states: int
    seconds: float
    cpu_seconds: float
    output: str


class SpinMissing(RuntimeError):
    """``spin`` or ``gcc`` is not installed."""


def run_spin(defines: list[str], *, reduce: bool, workdir: Path | None = None) -> SpinRun:
    """Generate, compile and run Spin's verifier for ``scheduler.pml``.

    :param defines: ``-D`` flags selecting the instance (``SchedulerParams.spin_defines()``).
    :param reduce: keep Spin's partial-order reduction (otherwise ``-DNOREDUCE``).
    :param workdir: where to build (default: a temporary directory).
    :returns: the state count and verification time.
    :raises SpinMissing: if ``spin`` or ``gcc`` cannot be found.
    """
    spin, gcc = shutil.which("spin"), shutil.which("gcc")
    if spin is None or gcc is None:
        raise SpinMissing("spin and gcc are required: .ci/run must install the Debian "
                          "packages spin and gcc")
    with tempfile.TemporaryDirectory() as tmp:
        work = workdir or Path(tmp)
        shutil.copy(HERE / "scheduler.pml", work / "scheduler.pml")
        subprocess.run([spin, *defines, "-a", "scheduler.pml"], cwd=work, check=True,
                       capture_output=True)
        flags = ["-O2", "-w", "-DSAFETY", "-DMEMLIM=8000"]
        if not reduce:
            flags.append("-DNOREDUCE")
        subprocess.run([gcc, *flags, "-o", "pan", "pan.c"], cwd=work, check=True,
                       capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(["./pan", "-E", "-m10000000"], cwd=work, check=True,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    match = re.search(r"(\d+) states, stored", done.stdout)
    if match is None or "errors: 0" not in done.stdout:
        raise RuntimeError(f"unexpected Spin output:\n{done.stdout}")
    return SpinRun(int(match.group(1)), seconds, cpu, done.stdout)


@dataclass(frozen=True)
class ArspecRun:
    """One arspec exploration of the benchmark instance, with its costs."""

    result: ExplorationResult[Any, Any]
    cpu_seconds: float
    rss_growth_bytes: int
    #: growth of the process's peak RSS during the run (0 if an earlier run peaked higher)
    peak_growth_bytes: int


def _rss_bytes() -> int:
    """Current resident set size of this process (Linux), or 0 if unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * resource.getpagesize()


def run_arspec(module: ModuleType, params: Any, *, invariants: bool) -> ArspecRun:
    """Explore ``SchedulerModel(params)`` (all invariants unless ``invariants`` is False)."""
    model = module.SchedulerModel(params)

    def show(p: Progress) -> None:
        print(f"  ... {p.states} states, depth {p.depth}, {p.elapsed_seconds:.1f}s",
              file=sys.stderr)

    options: dict[str, Any] = {}
    if invariants:
        options = dict(invariants=model.invariants(),
                       transition_invariants=model.transition_invariants())
    gc.collect()
    rss = _rss_bytes()
    cpu = time.process_time()
    result = explore(model, progress=show, progress_every=200_000, **options)
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # the store is still alive here (the last frontier is not): RSS growth ~ store size
    return ArspecRun(result, cpu, _rss_bytes() - rss, max(0, peak - rss))


def report(name: str, run: ArspecRun) -> None:
    """Print the figures of one arspec run."""
    st = run.result.stats
    print(f"{name}: {run.result.verdict.value}, {st.states:,} states, "
          f"{st.transitions:,} transitions, depth {st.max_depth}")
    print(f"{name}: {st.elapsed_seconds:.2f}s wall, {run.cpu_seconds:.2f}s cpu, "
          f"{st.states_per_second:,.0f} states/s (wall), "
          f"{st.states / max(run.cpu_seconds, 1e-9):,.0f} states/s (cpu)")
    n = max(st.states, 1)
    peak = (f", {run.peak_growth_bytes / n:.0f} with the peak frontier (peak RSS growth)"
            if run.peak_growth_bytes else "")
    print(f"{name}: ~{st.bytes_per_state:.0f} bytes/state estimated, "
          f"{run.rss_growth_bytes / n:.0f} measured (RSS growth, store){peak}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0 on success, 1 if state counts or verdicts differ."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="large")
    parser.add_argument("--no-invariants", action="store_true",
                        help="explore only (no invariant checks)")
    args = parser.parse_args(argv)
    module = load_model()
    params = module.SchedulerParams(**PRESETS[args.preset])
    quotient = replace(params, ring_ids=False)
    print(f"instance: {params}")
    full = run_arspec(module, params, invariants=not args.no_invariants)
    report("arspec exhaustive", full)
    reduced = run_arspec(module, quotient, invariants=not args.no_invariants)
    report("arspec reduced (ring-occupancy quotient)", reduced)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"arspec: peak RSS {peak:.0f} MB (both runs, one process)")
    spin_full = run_spin(params.spin_defines(), reduce=False)
    spin_por = run_spin(params.spin_defines(), reduce=True)
    spin_quotient = run_spin(quotient.spin_defines(), reduce=True)
    for label, spin_run in (("spin -DNOREDUCE", spin_full),
                            ("spin (partial-order reduction)", spin_por),
                            ("spin (partial-order reduction), ring_ids=0", spin_quotient)):
        print(f"{label}: {spin_run.states:,} states, {spin_run.seconds:.2f}s wall, "
              f"{spin_run.cpu_seconds:.2f}s cpu")

    def ratio(label: str, ours: ArspecRun, theirs: SpinRun) -> None:
        wall = ours.result.stats.elapsed_seconds / max(theirs.seconds, 1e-6)
        cpu = ours.cpu_seconds / max(theirs.cpu_seconds, 1e-6)
        print(f"time ratio {label}: {wall:.1f}x wall, {cpu:.1f}x cpu")

    ratio("arspec exhaustive / spin -DNOREDUCE (same states)", full, spin_full)
    ratio("arspec exhaustive / spin with reduction", full, spin_por)
    ratio("arspec reduced / spin with reduction (time to verdict)", reduced, spin_por)
    ratio("arspec reduced / spin with reduction on the same quotient", reduced, spin_quotient)
    status = 0
    if spin_full.states != full.result.stats.states:
        print(f"MISMATCH: arspec {full.result.stats.states} states, spin {spin_full.states}")
        status = 1
    if full.result.invariant_verdicts != reduced.result.invariant_verdicts:
        print("MISMATCH: the reduction changed a verdict")
        status = 1
    if status == 0:
        print("state counts match; the reduction keeps every verdict")
    return status


if __name__ == "__main__":
    sys.exit(main())
