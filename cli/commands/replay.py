"""``replay``: re-execute a trace written by ``explore --trace-out``."""

from __future__ import annotations

import argparse
from typing import TextIO

from arspec.cli.exit_codes import EXIT_NOT_REPRODUCED, exit_code_of


def run_replay(args: argparse.Namespace, out: TextIO) -> int:
    """Replay the trace; exit 1 when reproduced, 5 when not, 3 when stopped."""
    from arspec.model.replay_bundle import replay_trace
    from arspec.model.stopping import stop_after

    with stop_after(args.timeout):
        outcome = replay_trace(args.trace)
    code = EXIT_NOT_REPRODUCED if outcome.verdict == "NOT-REPRODUCED" \
        else exit_code_of(outcome.verdict)
    if args.format == "json":
        from arspec.cli.render.json import render_replay

        out.write(render_replay(args.trace, outcome, code))
    else:
        out.write(outcome.report)
    return code
