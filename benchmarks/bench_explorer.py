"""
Explorer benchmark against Spin
===============================

Explores the scheduler model (``scheduler_model.py``) with arspec and its Promela twin
(``scheduler.pml``) with Spin, asserts that the exhaustive state counts match (Spin built
with ``-DNOREDUCE``), and reports arspec's states/s, bytes/state and the time ratio to Spin
(Spin timed with its partial-order reduction on, ``-DSAFETY``).

Usage::

    python benchmarks/bench_explorer.py                 # ~10^6 states
    python benchmarks/bench_explorer.py --preset small  # seconds
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from arspec.model.engine import Progress, explore

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
    """States stored and wall-clock seconds of one Spin verification (compile excluded)."""

    states: int
    seconds: float
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
        start = time.perf_counter()
        done = subprocess.run(["./pan", "-E", "-m10000000"], cwd=work, check=True,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
    match = re.search(r"(\d+) states, stored", done.stdout)
    if match is None or "errors: 0" not in done.stdout:
        raise RuntimeError(f"unexpected Spin output:\n{done.stdout}")
    return SpinRun(int(match.group(1)), seconds, done.stdout)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0 on success, 1 if the state counts differ."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="large")
    parser.add_argument("--no-invariants", action="store_true",
                        help="explore only (no invariant checks)")
    args = parser.parse_args(argv)
    module = load_model()
    params = module.SchedulerParams(**PRESETS[args.preset])
    model = module.SchedulerModel(params)
    print(f"instance: {params}")

    def show(p: Progress) -> None:
        print(f"  ... {p.states} states, depth {p.depth}, {p.elapsed_seconds:.1f}s",
              file=sys.stderr)

    options: dict[str, object] = {}
    if not args.no_invariants:
        options = dict(invariants=model.invariants(),
                       transition_invariants=model.transition_invariants())
    cpu = time.process_time()
    result = explore(model, progress=show, progress_every=200_000, **options)  # type: ignore[arg-type]
    cpu = time.process_time() - cpu
    st = result.stats
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"arspec: {result.verdict.value}, {st.states} states, {st.transitions} transitions, "
          f"depth {st.max_depth}")
    print(f"arspec: {st.elapsed_seconds:.2f}s wall, {cpu:.2f}s cpu, "
          f"{st.states_per_second:,.0f} states/s (wall), {st.states / cpu:,.0f} states/s (cpu)")
    print(f"arspec: ~{st.bytes_per_state:.0f} bytes/state estimated, peak RSS {rss_mb:.0f} MB")
    exhaustive = run_spin(params.spin_defines(), reduce=False)
    reduced = run_spin(params.spin_defines(), reduce=True)
    print(f"spin -DNOREDUCE: {exhaustive.states} states, {exhaustive.seconds:.2f}s")
    print(f"spin (partial-order reduction): {reduced.states} states, {reduced.seconds:.2f}s")
    print(f"time ratio arspec/spin: {st.elapsed_seconds / max(reduced.seconds, 1e-6):.1f}x")
    if exhaustive.states != st.states:
        print(f"MISMATCH: arspec {st.states} states, spin {exhaustive.states}")
        return 1
    print("state counts match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
