"""``vectors``: language-neutral test vectors for other implementations.

The engine is :func:`arspec.cli.vectors.write_vectors`; this command parses ``--kinds``,
reports each file written on stderr and prints the summary on stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from arspec.cli.exit_codes import EXIT_OK
from arspec.cli.options import UsageError


def parse_kinds(text: str) -> tuple[str, ...]:
    """Return the kinds of a ``--kinds`` list (comma-separated), or refuse an unknown one."""
    from arspec.cli.vectors.common import KINDS

    kinds = tuple(k.strip() for k in text.split(","))
    for kind in kinds:
        if kind not in KINDS:
            raise UsageError(f"spec-check vectors: error: --kinds: unknown kind {kind!r} "
                             f"(expected a comma-separated list of: {', '.join(KINDS)})")
    return kinds


def run_vectors(args: argparse.Namespace, out: TextIO) -> int:
    """Write the vectors into ``args.out_dir``; progress on stderr, the summary on ``out``."""
    from arspec.cli.vectors import render_summary, write_vectors
    from arspec.cli.vectors.writer import RANDOM_PROGRAMS

    kinds = parse_kinds(args.kinds)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: error: not a folder (vectors are written into a folder)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{out_dir}: error: cannot create the folder: "
                         f"{err.strerror or err}") from None

    def progress(line: str) -> None:
        print(f"spec-check vectors: {line}", file=sys.stderr, flush=True)

    programs = RANDOM_PROGRAMS if args.programs is None else args.programs
    try:
        summary = write_vectors(out_dir, kinds=kinds, progress=progress, limit=args.limit,
                                programs=programs)
    except OSError as err:
        name = err.filename if err.filename is not None else out_dir
        raise UsageError(f"{name}: error: cannot write: {err.strerror or err}") from None
    out.write(render_summary(summary) + "\n")
    return EXIT_OK
