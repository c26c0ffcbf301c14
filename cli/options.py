"""
Option values
=============

The parser class whose errors are one line, the usage error, and the converters of option
values (integers, sizes, seconds) shared by the subcommands.
"""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from arspec.spec.errors import ArspecError, InputError

#: Largest ``--timeout`` in seconds (z3 takes its timeout as 32-bit milliseconds).
MAX_TIMEOUT_SECONDS = 1_000_000.0


class UsageError(ArspecError):
    """A command line that cannot be run as written."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def shown(text: str) -> str:
    """Return ``text`` quoted for an error line, cut to 40 characters."""
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def positive_int(text: str) -> int:
    """Return a positive integer (decimal, ``0x``, ``0o``, ``0b``) or refuse it."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {shown(text)}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {shown(text)}")
    return value


def memory_size(text: str) -> int:
    """Return a size such as ``512M`` in bytes, or refuse it."""
    from arspec.model.resources import parse_size

    try:
        return parse_size(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(err.reason.removeprefix("--max-memory: ")) from None


def timeout_seconds(text: str) -> float:
    """Return a number of seconds above 0 and at most :data:`MAX_TIMEOUT_SECONDS`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {shown(text)}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}: "
            f"{shown(text)}")
    return value


def located(err: InputError, file: str) -> InputError:
    """Return ``err`` naming ``file`` when it does not name a file already."""
    if err.file is not None:
        return err
    return InputError(err.reason, file=file)
