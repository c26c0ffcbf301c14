"""
The entry point
===============

:func:`main` parses the command line, runs the subcommand (the long ones with a progress
line on stderr, :mod:`arspec.cli.progress`) and turns every error into one line on stderr
and an exit code from :mod:`arspec.cli.exit_codes`: bad input exits 2, a bug 4 (its line
names the input and the failing step; ``--debug`` adds the traceback).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from arspec.cli.exit_codes import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from arspec.cli.options import UsageError
from arspec.cli.parser import build_parser
from arspec.cli.progress import Heartbeat
from arspec.spec.errors import ArspecError

#: Commands that print a progress line on stderr every few seconds while they work.
_LONG_COMMANDS = frozenset({"run", "verify", "explore", "replay", "vectors"})

#: The top-level folders whose frames name the failing step of an internal error.
_PACKAGES = ("spec", "reference", "checker", "model", "proofs", "cli")


def _normalise(argv: Sequence[str]) -> list[str]:
    """Treat ``spec-check BUNDLE.yaml ...`` as ``spec-check verify BUNDLE.yaml ...``."""
    args = list(argv)
    if args and args[0].endswith((".yaml", ".yml")):
        return ["verify", *args]
    return args


def _input_of(argv: Sequence[str]) -> str:
    """Return the file a command line names (its first non-option argument after the verb)."""
    words = [w for w in argv if not w.startswith("-")]
    return words[1] if len(words) > 1 else (words[0] if words else "(no input)")


def _failing_step(err: BaseException) -> str:
    """Return ``module.function`` of the innermost arspec frame of ``err``'s traceback."""
    step = "spec-check"
    for frame in traceback.extract_tb(err.__traceback__):
        path = frame.filename.replace("\\", "/")
        for folder in _PACKAGES:
            marker = f"/{folder}/"
            if marker in path:
                module = path.rsplit(marker, 1)[1].removesuffix(".py").replace("/", ".")
                step = f"{folder}.{module}.{frame.name}"
    return step


def internal_error_line(argv: Sequence[str], err: BaseException) -> str:
    """Return the one line printed for an internal error: input, step and exception."""
    verb = argv[0] if argv else "spec-check"
    if isinstance(err, MemoryError):
        what = "out of memory"
    elif isinstance(err, RecursionError):
        what = "recursion too deep"
    else:
        what = f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"
    return (f"{_input_of(argv)}: internal error in {verb} ({_failing_step(err)}): {what}; "
            "this is a bug in arspec, not a verdict (rerun with --debug for the traceback)")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run ``spec-check`` and return its exit code.

    A bug (any exception that is not an :class:`~arspec.spec.errors.ArspecError`) exits
    with :data:`~arspec.cli.exit_codes.EXIT_INTERNAL` and one line on stderr; ``--debug``
    adds the traceback.
    """
    stdout = out if out is not None else sys.stdout
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words
    words = _normalise([w for w in words if w != "--debug"])
    try:
        parser = build_parser()
        args = parser.parse_args(words)
        if args.command is None:
            parser.print_help(stdout)
            raise UsageError("spec-check: error: a COMMAND (or a bundle file) is required")
        if args.command not in _LONG_COMMANDS:
            code: int = args.run(args, stdout)
            return code
        import arspec.reference.runtime.runtime  # noqa: F401 - installs the ELF map reader for bundles

        with Heartbeat(args.command, sys.stderr) as heartbeat:
            args.heartbeat = heartbeat
            code = args.run(args, stdout)
        return code
    except ArspecError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("spec-check: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as err:  # the one place a bug becomes an exit code
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(internal_error_line(words, err), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
