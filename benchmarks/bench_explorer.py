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
wall-clock ratio is unreliable on a shared machine; each figure is the minimum of
``--repeat`` runs. Both tools check the same six invariants (``--no-invariants``: none), and
Spin gets a search depth and hash table fitted to the instance (:func:`run_spin_fair`).

With invariants, the model is also explored by the level-vectorised explorer
(:mod:`arspec.model.level_engine`: a BFS level at a time over packed 64-bit codes, the six
invariants in array form), which must give the generic explorer's states, parents and
verdicts; its CPU time is compared with Spin's on the same states.

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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

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
    """States stored, wall-clock and CPU seconds of one Spin verification (compile excluded).

    ``errors`` is the number of assertion violations (Spin stops at the first), ``violated``
    the text of the first one, ``depth`` the deepest DFS depth reached.
    """

    states: int
    seconds: float
    cpu_seconds: float
    output: str
    errors: int = 0
    violated: str | None = None
    depth: int = 0
    #: the commands: ``spin ... -a``, ``gcc ...``, ``./pan ...``
    commands: tuple[str, ...] = ()


#: The ``-D`` switch of each invariant in ``scheduler.pml``, by the Python model's name.
SPIN_INVARIANTS: dict[str, str] = {
    "no-lost-timer": "INV_TIMER", "ring-no-loss": "INV_LOSS", "ring-fifo-shape": "INV_FIFO",
    "per-slot-budget": "INV_BUDGET", "no-double-execution": "INV_DOUBLE",
    "slot-monotone": "INV_SLOT"}


def spin_only(names: list[str]) -> list[str]:
    """Return the ``-D`` flags that make ``scheduler.pml`` check only the named invariants."""
    return [f"-D{flag}={int(name in names)}" for name, flag in SPIN_INVARIANTS.items()]


class SpinMissing(RuntimeError):
    """``spin`` or ``gcc`` is not installed."""


def run_spin(defines: list[str], *, reduce: bool, workdir: Path | None = None,
             depth: int = 10_000_000, hash_bits: int | None = None,
             allow_errors: bool = False) -> SpinRun:
    """Generate, compile and run Spin's verifier for ``scheduler.pml``.

    :param defines: ``-D`` flags selecting the instance (``SchedulerParams.spin_defines()``)
        and, optionally, the invariants (:func:`spin_only`).
    :param reduce: keep Spin's partial-order reduction (otherwise ``-DNOREDUCE``).
    :param workdir: where to build (default: a temporary directory).
    :param depth: Spin's search depth bound ``-m`` (its DFS stack is allocated for it).
    :param hash_bits: Spin's hash table of ``2**hash_bits`` slots (``-w``; default 2**24).
    :param allow_errors: return a run with assertion violations instead of raising.
    :returns: the state count, verification time and any violation.
    :raises SpinMissing: if ``spin`` or ``gcc`` cannot be found.
    :raises RuntimeError: on a violation (unless allowed) or a truncated search.
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
        command = ["./pan", "-E", f"-m{depth}"]
        if hash_bits is not None:
            command.append(f"-w{hash_bits}")
        done = subprocess.run(command, cwd=work, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    match = re.search(r"(\d+) states, stored", done.stdout)
    errors = re.search(r"errors: (\d+)", done.stdout)
    reached = re.search(r"depth reached (\d+)", done.stdout)
    if match is None or errors is None or reached is None \
            or "max search depth too small" in done.stdout:
        raise RuntimeError(f"unexpected Spin output:\n{done.stdout}")
    violated = re.search(r"assertion violated (.*) \(at depth", done.stdout)
    if int(errors.group(1)) and not allow_errors:
        raise RuntimeError(f"Spin found a violation:\n{done.stdout}")
    commands = (" ".join(["spin", *defines, "-a", "scheduler.pml"]),
                " ".join(["gcc", *flags, "-o", "pan", "pan.c"]), " ".join(command))
    return SpinRun(int(match.group(1)), seconds, cpu, done.stdout, int(errors.group(1)),
                   None if violated is None else violated.group(1), int(reached.group(1)),
                   commands)


def run_spin_fair(defines: list[str], *, reduce: bool) -> SpinRun:
    """Run Spin with a search depth and hash table fitted to the instance.

    A first, untimed run with generous settings measures the deepest DFS depth and the
    state count; the timed run then gets ``-m`` of that depth plus 10 % and a hash table of
    at least twice the states, so Spin neither truncates its search nor allocates a stack
    of ten million frames it does not need.
    """
    probe = run_spin(defines, reduce=reduce)
    depth = probe.depth + probe.depth // 10 + 10
    hash_bits = max(10, (2 * probe.states).bit_length())
    return run_spin(defines, reduce=reduce, depth=depth, hash_bits=hash_bits)


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


def run_arspec_levels(module: ModuleType, params: Any) -> ArspecRun:
    """Explore ``SchedulerModel(params)`` with the level-vectorised explorer (all six
    invariants, in their array form: :mod:`arspec.model.level_engine`)."""
    from arspec.model.level_engine import explore_levels

    model = module.SchedulerModel(params)
    gc.collect()
    rss = _rss_bytes()
    cpu = time.process_time()
    result = explore_levels(model, stop_at_first_violation=True)
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
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


R = TypeVar("R", ArspecRun, SpinRun)


def min_of(times: int, run: Callable[[], R]) -> R:
    """Return the run with the least CPU time of ``times`` runs."""
    return min((run() for _ in range(max(1, times))), key=lambda r: r.cpu_seconds)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0 on success, 1 if state counts or verdicts differ."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="large")
    parser.add_argument("--no-invariants", action="store_true",
                        help="explore only (no invariant checks, in both tools)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="report the minimum CPU time of this many runs of each")
    args = parser.parse_args(argv)
    module = load_model()
    params = module.SchedulerParams(**PRESETS[args.preset])
    quotient = replace(params, ring_ids=False)
    print(f"instance: {params}")
    full = min_of(args.repeat, lambda: run_arspec(module, params,
                                                  invariants=not args.no_invariants))
    report("arspec exhaustive", full)
    reduced = min_of(args.repeat, lambda: run_arspec(module, quotient,
                                                     invariants=not args.no_invariants))
    report("arspec reduced (ring-occupancy quotient)", reduced)
    levels = (None if args.no_invariants
              else min_of(args.repeat, lambda: run_arspec_levels(module, params)))
    if levels is not None:
        report("arspec level-vectorised", levels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"arspec: peak RSS {peak:.0f} MB (both runs, one process)")
    checked = [] if args.no_invariants else list(SPIN_INVARIANTS)
    spin_full = min_of(args.repeat, lambda: run_spin_fair(
        params.spin_defines() + spin_only(checked), reduce=False))
    spin_por = min_of(args.repeat, lambda: run_spin_fair(
        params.spin_defines() + spin_only(checked), reduce=True))
    spin_quotient = min_of(args.repeat, lambda: run_spin_fair(
        quotient.spin_defines() + spin_only(checked), reduce=True))
    for label, spin_run in (("spin -DNOREDUCE", spin_full),
                            ("spin (partial-order reduction)", spin_por),
                            ("spin (partial-order reduction), ring_ids=0", spin_quotient)):
        print(f"{label}: {spin_run.states:,} states, {spin_run.seconds:.2f}s wall, "
              f"{spin_run.cpu_seconds:.2f}s cpu (depth {spin_run.depth}, "
              f"{len(checked)} invariants)")
        for command in spin_run.commands:
            print(f"  $ {command}")

    def ratio(label: str, ours: ArspecRun, theirs: SpinRun) -> None:
        wall = ours.result.stats.elapsed_seconds / max(theirs.seconds, 1e-6)
        cpu = ours.cpu_seconds / max(theirs.cpu_seconds, 1e-6)
        print(f"time ratio {label}: {wall:.1f}x wall, {cpu:.1f}x cpu")

    ratio("arspec exhaustive / spin -DNOREDUCE (same states)", full, spin_full)
    if levels is not None:
        ratio("arspec level-vectorised / spin -DNOREDUCE (same states)", levels, spin_full)
    ratio("arspec exhaustive / spin with reduction", full, spin_por)
    ratio("arspec reduced / spin with reduction (time to verdict)", reduced, spin_por)
    ratio("arspec reduced / spin with reduction on the same quotient", reduced, spin_quotient)
    status = 0
    if spin_full.states != full.result.stats.states:
        print(f"MISMATCH: arspec {full.result.stats.states} states, spin {spin_full.states}")
        status = 1
    if levels is not None and (
            levels.result.stats.states != full.result.stats.states
            or levels.result.invariant_verdicts != full.result.invariant_verdicts
            or levels.result.space.parent != full.result.space.parent):
        print("MISMATCH: the level-vectorised explorer differs from the generic one")
        status = 1
    if full.result.invariant_verdicts != reduced.result.invariant_verdicts:
        print("MISMATCH: the reduction changed a verdict")
        status = 1
    if status == 0:
        print("state counts match; the reduction keeps every verdict")
    return status


if __name__ == "__main__":
    sys.exit(main())
