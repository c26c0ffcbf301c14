"""``explore``: every interleaving of a bundle's events against the scheduler invariants.

Also the explorer's input bounds (:func:`check_explore_bounds`), checked before any output
by ``explore`` and by the explorer step of ``verify``, and the live progress line.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from arspec.cli.exit_codes import exit_code_of
from arspec.cli.options import UsageError
from arspec.spec import bundle as schema
from arspec.spec.errors import InputError

if TYPE_CHECKING:
    from arspec.model.engine import Progress

#: Largest state (ring-buffer and account bytes) the explorer accepts: it keeps a copy in
#: every explored state, so memory grows with states times this size.
MAX_EXPLORE_STATE_BYTES = 1 << 20

#: Most domain writes the replica-determinism check may apply in one state (every order of
#: every choice of values for up to ``MAX_REPLICA_KEYS`` domain keys).
MAX_REPLICA_WRITES = 100_000


def compute_replica_writes(domain_sizes: Sequence[int], max_keys: int) -> int:
    """Return an upper bound on the writes the replica check applies in one state."""
    sizes = sorted(domain_sizes, reverse=True)[:max_keys]
    total = 0
    for size in range(2, len(sizes) + 1):
        for subset in itertools.combinations(sizes, size):
            total += math.prod(subset) * math.factorial(size) * size
    return total


def check_explore_bounds(bundle: schema.Bundle, path: str, *,
                         max_states: int | None = None) -> None:
    """Refuse, before exploring, a bundle whose every state would hold too many bytes or
    whose replica-determinism pre-check would apply too many writes per state (more than
    ``max_states``, which its states count in, or :data:`MAX_REPLICA_WRITES`)."""
    from arspec.model.runtime_system import MAX_REPLICA_KEYS
    from arspec.spec.bundle import compute_state_bytes

    held = compute_state_bytes(bundle)
    if held > MAX_EXPLORE_STATE_BYTES:
        raise InputError(f"explore: ring buffers and accounts hold {held} bytes, which the "
                         f"explorer would copy into every state; it accepts at most "
                         f"{MAX_EXPLORE_STATE_BYTES} (use smaller ones, or `run`)", file=path)
    writes = compute_replica_writes([len(d.values) for d in bundle.scenario.domains.values()],
                                    MAX_REPLICA_KEYS)
    if writes > MAX_REPLICA_WRITES:
        raise InputError(f"explore: scenario.domains would make the replica-determinism check "
                         f"apply up to {writes} writes in every state; it accepts at most "
                         f"{MAX_REPLICA_WRITES} (give the domains fewer values)", file=path)
    if max_states is not None and writes > max_states:
        raise InputError(f"explore: scenario.domains would make the replica-determinism check "
                         f"compute up to {writes} states in one state, and its states count "
                         f"in --max-states {max_states} (raise --max-states or give the "
                         "domains fewer values)", file=path)


def make_progress(stream: TextIO) -> Callable[[Progress], None] | None:
    """Return a live progress printer for a terminal ``stream``, else ``None``."""
    if not stream.isatty():
        return None

    def show(p: Progress) -> None:
        rate = p.states / p.elapsed_seconds if p.elapsed_seconds > 0 else 0.0
        stream.write(f"\r{p.states} states, {p.transitions} transitions, depth {p.depth}, "
                     f"frontier {p.frontier}, {rate:.0f} states/s\x1b[K")
        stream.flush()
    return show


def end_progress(progress: Callable[[Progress], None] | None, stream: TextIO) -> None:
    """End the live progress line (if there was one) so the next output starts a line."""
    if progress is not None:
        stream.write("\n")


def render_svg(dot_path: str, svg_path: str) -> None:
    """Render a DOT file to SVG with Graphviz, or raise a one-line usage error."""
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        raise UsageError("spec-check: error: --svg needs Graphviz's `dot` (Debian package "
                         "graphviz; .ci/install-deps installs it)")
    proc = subprocess.run([dot, "-Tsvg", dot_path, "-o", svg_path], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["dot failed"])[0]
        raise UsageError(f"{svg_path}: error: {reason}")


def run_explore(args: argparse.Namespace, out: TextIO) -> int:
    """Explore the bundle; write the report, and the trace, DOT and SVG files asked for."""
    dot_out = args.dot
    with tempfile.TemporaryDirectory() as scratch:
        if args.svg is not None and dot_out is None:
            dot_out = str(Path(scratch) / "trace.dot")
        code = _explore_to(args, out, dot_out)
        if args.svg is not None:
            render_svg(dot_out, args.svg)
    return code


def _explore_to(args: argparse.Namespace, out: TextIO, dot_out: str | None) -> int:
    from arspec.model.explore_bundle import explore_bundle
    from arspec.model.stopping import stop_after
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(args.bundle)
    check_explore_bounds(bundle, args.bundle, max_states=args.max_states)
    if args.timeout is not None and args.workers is not None:
        raise UsageError("spec-check explore: error: --timeout cannot be combined with "
                         "--workers")
    before = None if args.trace_out is None else _stamp(args.trace_out)
    progress = make_progress(sys.stderr)
    with stop_after(args.timeout):
        outcome = explore_bundle(
            args.bundle, bundle=bundle, slots=args.slots, max_states=args.max_states,
            max_depth=args.max_depth, reductions=not args.no_reductions,
            trace_out=args.trace_out, dot_out=dot_out, progress=progress,
            timing=not args.no_timing,
            partial_order=False if args.no_partial_order else None,
            symmetry=False if args.no_symmetry else None,
            cache=False if args.no_cache else None, exact=args.exact_states,
            max_memory=args.max_memory, workers=args.workers, ray_address=args.ray_address)
    end_progress(progress, sys.stderr)
    code = exit_code_of(outcome.verdict)
    if args.format != "text":
        from arspec.cli.render import json as json_render
        from arspec.cli.render import sarif as sarif_render

        render = json_render if args.format == "json" else sarif_render
        out.write(render.render_explore(args.bundle, outcome, code))
        return code
    out.write(outcome.report)
    if args.trace_out is not None and _stamp(args.trace_out) == before:
        out.write(f"no violation found: no trace written to {args.trace_out}\n")
    return code


def _stamp(path: str) -> tuple[int, int, int] | None:
    """Return what changes when a file is (re)written, or ``None`` if there is none."""
    try:
        found = Path(path).stat()
    except (OSError, ValueError):
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size
