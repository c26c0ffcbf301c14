"""``schema`` and ``include-dir``: facts about arspec itself."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from arspec.cli.exit_codes import EXIT_OK
from arspec.cli.options import UsageError


def run_schema(args: argparse.Namespace, out: TextIO) -> int:
    """Write the JSON Schema of ``--output KIND`` (default ``bundle``: ``program.yaml``)."""
    from arspec.cli.schemas import KINDS, get_schema

    if args.output not in KINDS:
        raise UsageError(f"spec-check schema: error: --output: unknown kind {args.output!r} "
                         f"(expected one of: {', '.join(KINDS)})")
    out.write(json.dumps(get_schema(args.output), indent=2) + "\n")
    return EXIT_OK


def run_include_dir(args: argparse.Namespace, out: TextIO) -> int:
    """Write the folder of the C header (or the ``-I`` flag naming it)."""
    from arspec.reference.runtime.c_header import get_include_dir

    folder = get_include_dir()
    out.write((f"-I{folder}" if args.cflags else str(folder)) + "\n")
    return EXIT_OK
