"""``interleave``: copies of one program under every instruction-level schedule."""

from __future__ import annotations

import argparse
from typing import TextIO

from arspec.cli.exit_codes import exit_code_of


def run_interleave(args: argparse.Namespace, out: TextIO) -> int:
    """Explore the schedules and write the report; the verdict decides the exit code."""
    from arspec.model.interleave import explore_interleavings
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(args.bundle)
    result = explore_interleavings(args.bundle, args.program, invocations=args.invocations,
                                   max_states=args.max_states, max_steps=args.max_steps,
                                   bundle=bundle)
    code = exit_code_of(result.verdict)
    if args.format == "json":
        from arspec.cli.render.json import render_interleave

        out.write(render_interleave(result, code))
    else:
        out.write(result.render())
    return code
