"""
bpf_conformance plugin
======================

``arspec-bpf-plugin`` runs one program the way the runner of the
`bpf_conformance <https://github.com/Alan-Jowett/bpf_conformance>`_ suite drives a runtime:

* the program arrives on **stdin** as hex bytes (pairs separated by spaces or newlines; runs
  of pairs such as ``b700000000000000`` are accepted too);
* the input memory is the first argument, in the same form (it may be empty or absent);
* the suite passes its plugin options as **one** further argument, so every later argument is
  split on white space before it is read as options: ``--profile linux|solana`` (default
  ``linux``) and ``--insn-limit N`` (default :data:`DEFAULT_INSN_LIMIT`);
* in ``solana`` (SBPFv0) the bytes are read as Agave's v0 loader reads them
  (:func:`~arspec.reference.isa.decoder.decode_sbpf_v0`), the memory argument is the instruction
  data, r1 points at Agave's serialized input and r2 at the data in it
  (:func:`~arspec.reference.vm.vm.entry_input`), and the sol_* syscalls are offered;
* in ``linux`` helper 5 returns r1 (:func:`~arspec.reference.vm.helpers.plugin_helpers`), and
  ``callx`` on a register holding a helper id calls that helper;
* on success r0 is printed on stdout in lowercase hex without a ``0x`` prefix (``2a``), the
  form the suite reads back with ``std::stoull(text, nullptr, 16)``; the suite compares the low
  32 bits, the full 64-bit value is printed; exit status 0.

Failures print one line on stderr and never a traceback:

* exit **1**: a run-time fault, named with its pc (``memory fault at pc 3: ...``);
* exit **4**: an internal error (a bug in arspec), never a verdict;
* exit **2**: bad input: malformed hex (``<stdin>:LINE:COL: error: ...``), an unknown option
  (``<command line>: error: ...``), or bytecode that does not decode (``pc N: ...``).

(The suite compares a failing plugin's *stdout* with a test's ``-- error`` text; the messages
of different runtimes never agree, so arspec keeps stdout for results and reports on stderr.)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final, TextIO

from arspec.spec.errors import ArspecError, DecodeError, InputError

#: Default instruction budget: enough for a correct loop of 10**9 instructions to finish.
DEFAULT_INSN_LIMIT: Final = 10**10

PROG: Final = "arspec-bpf-plugin"
_CMDLINE: Final = "<command line>"
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_USAGE: Final = (f"usage: {PROG} [MEMORY_HEX] [--profile linux|solana] [--insn-limit N] "
                 "< PROGRAM_HEX")


def parse_hex(text: str, *, source: str) -> bytes:
    """Parse hex bytes separated by white space; every token needs an even number of digits.

    Raises
    ------
    InputError
        Naming ``source``, the line and the column of the first bad character or token.
    """
    out = bytearray()
    for line_no, line in enumerate(text.splitlines(), start=1):
        col = 0
        for token in line.split():
            col = line.index(token, col) + 1
            for i, ch in enumerate(token):
                if ch not in _HEX_DIGITS:
                    raise InputError(f"invalid hex digit {ch!r}", file=source, line=line_no,
                                     column=col + i)
            if len(token) % 2:
                raise InputError(f"odd number of hex digits in {token!r}", file=source,
                                 line=line_no, column=col)
            out += bytes.fromhex(token)
            col += len(token) - 1
    return bytes(out)


class _Options:
    """The parsed command line."""

    def __init__(self) -> None:
        self.memory_text = ""
        self.profile = "linux"
        self.insn_limit = DEFAULT_INSN_LIMIT


def _parse_args(argv: Sequence[str]) -> _Options:
    opts = _Options()
    args = list(argv)
    positional: list[str] = []
    while args and not args[0].lstrip().startswith("-"):
        positional.append(args.pop(0))
    opts.memory_text = "\n".join(positional)
    tokens = [tok for arg in args for tok in arg.split()]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        name, eq, value = tok.partition("=")
        if name not in ("--profile", "--insn-limit"):
            if tok.startswith("-"):
                raise InputError(f"unknown option {tok!r} ({_USAGE})", file=_CMDLINE)
            raise InputError(f"unexpected argument {tok!r} after the options ({_USAGE})",
                             file=_CMDLINE)
        if not eq:
            if i + 1 >= len(tokens):
                raise InputError(f"option {name} needs a value", file=_CMDLINE)
            i += 1
            value = tokens[i]
        if name == "--profile":
            if value not in ("linux", "solana"):
                raise InputError(f"unknown profile {value!r} (expected linux or solana)",
                                 file=_CMDLINE)
            opts.profile = value
        else:
            try:
                limit = int(value, 0)
            except ValueError:
                raise InputError(f"--insn-limit needs an integer, got {value!r}",
                                 file=_CMDLINE) from None
            if limit < 1:
                raise InputError(f"--insn-limit must be positive, got {limit}", file=_CMDLINE)
            opts.insn_limit = limit
        i += 1
    return opts


def run(argv: Sequence[str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Run the plugin protocol on the given streams and return the exit status."""
    from arspec.reference.isa.decoder import decode, decode_sbpf_v0
    from arspec.reference.runtime.solana_syscalls import solana_syscalls
    from arspec.reference.vm.helpers import plugin_helpers
    from arspec.reference.vm.profiles import get_profile
    from arspec.reference.vm.vm import execute

    try:
        opts = _parse_args(argv)
        memory = parse_hex(opts.memory_text, source="<memory argument>")
        try:
            text = stdin.read()
        except UnicodeDecodeError as exc:
            raise InputError(f"not text: {exc.reason} at byte {exc.start}",
                             file="<stdin>") from None
        code = parse_hex(text, source="<stdin>")
        profile = get_profile(opts.profile)
        program = decode_sbpf_v0(code) if profile.sbpf_version == 0 else decode(code)
    except (InputError, DecodeError) as exc:
        print(f"{exc}", file=stderr)
        return 2
    try:
        helpers = solana_syscalls() if profile.sbpf_version == 0 else plugin_helpers()
        result = execute(program, profile=profile, memory=memory, helpers=helpers,
                         compute_limit=opts.insn_limit, agave_entry=True)
    except ArspecError as exc:  # rejected by the profile before running
        print(f"{exc}", file=stderr)
        return 2
    if result.fault is not None:
        print(f"{result.fault}", file=stderr)
        return 1
    print(f"{result.r0 & 0xFFFF_FFFF_FFFF_FFFF:x}", file=stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``arspec-bpf-plugin``; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(_USAGE, file=sys.stdout)
        return 0
    try:
        return run(args, sys.stdin, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: exit 4 as spec-check does, never 1 (a fault)
        print(f"{PROG}: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return 4


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
