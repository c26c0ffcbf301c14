"""``schema`` and ``include-dir``: facts about arspec itself."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from arspec.cli.exit_codes import EXIT_OK


def run_schema(args: argparse.Namespace, out: TextIO) -> int:
    """Write the JSON Schema of ``program.yaml``."""
    from arspec.spec.loader import bundle_json_schema

    out.write(json.dumps(bundle_json_schema(), indent=2) + "\n")
    return EXIT_OK


def run_include_dir(args: argparse.Namespace, out: TextIO) -> int:
    """Write the folder of the C header (or the ``-I`` flag naming it)."""
    from arspec.reference.runtime.c_header import get_include_dir

    folder = get_include_dir()
    out.write((f"-I{folder}" if args.cflags else str(folder)) + "\n")
    return EXIT_OK
