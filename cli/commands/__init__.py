"""
Subcommands
===========

One module per job. A command takes the parsed arguments and the output stream, runs an
engine on the loaded input, writes the rendered result, and returns an exit code from
:mod:`arspec.cli.exit_codes`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

Command = Callable[[argparse.Namespace, TextIO], int]


def set_status(args: argparse.Namespace, status: str) -> None:
    """Show ``status`` in the progress line of a long command (if it has one)."""
    heartbeat = getattr(args, "heartbeat", None)
    if heartbeat is not None:
        heartbeat.status = status
