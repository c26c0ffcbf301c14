"""``verify``: prove every program's properties, then explore when the bundle asks.

The bundle is loaded once and handed to both engines; the verdict and the exit code are
the same in every output format (:mod:`arspec.cli.render`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Final, TextIO

from arspec.checker.verify_bundle import verify_bundle
from arspec.cli.commands import set_status
from arspec.cli.commands.explore import check_explore_bounds, end_progress, make_progress
from arspec.cli.exit_codes import combine, exit_code_of
from arspec.cli.render import VerifyRun
from arspec.cli.render import json as json_render
from arspec.cli.render import sarif as sarif_render
from arspec.cli.render import text as text_render
from arspec.spec import bundle as schema

#: The renderer of each ``--format``.
RENDERERS: Final[dict[str, Callable[[VerifyRun], str]]] = {
    "text": text_render.render_verify, "json": json_render.render_verify,
    "sarif": sarif_render.render_verify}


def verify_run(path: str, bundle: schema.Bundle, *, timeout: float, rlimit: int,
               explore: bool, timing: bool = True, progress_stream: TextIO | None = None,
               args: argparse.Namespace | None = None) -> VerifyRun:
    """Run the verifier on the loaded ``bundle``, then the explorer (when ``explore`` and
    the bundle has ``properties.explore``), each within its own ``timeout``."""
    explore = explore and bundle.properties.explore is not None
    if explore:
        check_explore_bounds(bundle, path)  # before any output, as a load error
    if args is not None:
        set_status(args, "proving")
    result = verify_bundle(path, timeout=timeout, rlimit=rlimit, bundle=bundle)
    codes = [exit_code_of(result.verdict.value)]
    if not explore:
        return VerifyRun(result, None, codes[0])
    from arspec.model.explore_bundle import explore_bundle
    from arspec.model.stopping import stop_after

    if args is not None:
        set_status(args, "exploring")
    progress = None if progress_stream is None else make_progress(progress_stream)
    with stop_after(timeout):  # the explorer step gets its own --timeout
        explored = explore_bundle(path, bundle=bundle, progress=progress, timing=timing)
    if progress_stream is not None:
        end_progress(progress, progress_stream)
    codes.append(exit_code_of(explored.verdict))
    return VerifyRun(result, explored, combine(codes))


def run_verify(args: argparse.Namespace, out: TextIO) -> int:
    """Verify (and explore) the bundle; write the report in ``--format``."""
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(args.bundle)
    run = verify_run(args.bundle, bundle, timeout=args.timeout, rlimit=args.rlimit,
                     explore=not args.no_explore, timing=not args.no_timing,
                     progress_stream=sys.stderr, args=args)
    out.write(RENDERERS[args.format](run))
    return run.exit_code
