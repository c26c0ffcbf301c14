"""
Batch runs
==========

``spec-check exec --batch FILE`` (``-`` reads stdin) runs one program per JSON line and
writes one ``arspec-exec-batch`` line per input line, in order. An input line is an object:

``program``
    the program's bytecode in hex; or
``path``
    a program file as ``exec`` reads it (assembly, bytecode, hex text, ELF), relative to the
    batch file's folder (to the current folder for stdin), with ``section`` for an ELF object;
``profile``
    ``linux`` or ``solana`` (default: ``--profile``);
``input``
    the input bytes in hex (``exec --mem``; solana: the instruction data);
``limit``
    the compute-unit limit (default: ``--insn-limit``);
``id``
    any string, copied to the output line.

An output line is ``{"format": "arspec-exec-batch", "version": 1, "line": "FILE:N", "id",
"profile", "exit_code", "result", "error"}``: ``result`` is the object of ``exec --format
json`` (an instruction vector's ``expected`` shape) and ``error`` null; or, for a line that
is not a valid request (bad JSON, an unknown key, bad hex, a program that does not load),
``result`` is null and ``error`` one line naming ``FILE:N`` and what is wrong, with exit
code 2. Blank lines are skipped. The batch goes on after a bad line; its exit code is the
worst of its lines' (2, then 1, then 0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final, TextIO

from arspec.cli.exec_run import ExecRequest, result_exit_code, run_request
from arspec.cli.exit_codes import EXIT_OK, EXIT_USAGE
from arspec.cli.options import UsageError
from arspec.spec.errors import ArspecError

#: The ``format`` and ``version`` of an output line.
BATCH_FORMAT: Final = "arspec-exec-batch"
BATCH_VERSION: Final = 1
#: The keys an input line may hold.
KEYS: Final = ("program", "path", "section", "profile", "input", "limit", "id")
PROFILES: Final = ("linux", "solana")


class BadLine(Exception):
    """An input line that is not a valid request (the message says why)."""


def _string(line: dict[str, Any], key: str) -> str | None:
    value = line.get(key)
    if value is not None and not isinstance(value, str):
        raise BadLine(f"{key!r} must be a string, not {type(value).__name__}")
    return value


def _hex(line: dict[str, Any], key: str) -> bytes:
    text = _string(line, key) or ""
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise BadLine(f"{key!r} is not hex bytes: {text[:40]!r}") from None


def _request(line: object, folder: Path, profile: str, compute_limit: int | None
             ) -> tuple[ExecRequest, str | None]:
    """Return the request of one parsed input line and its ``id``, or raise :class:`BadLine`."""
    from arspec.reference.isa.decoder import decode, decode_sbpf_v0
    from arspec.reference.isa.loading import load_program_file
    from arspec.reference.runtime.runtime import get_assembly_helpers

    if not isinstance(line, dict):
        raise BadLine(f"expected a JSON object, not {type(line).__name__}")
    unknown = sorted(set(line) - set(KEYS))
    if unknown:
        raise BadLine(f"unknown key {unknown[0]!r} (expected: {', '.join(KEYS)})")
    line_id = _string(line, "id")
    profile = _string(line, "profile") or profile
    if profile not in PROFILES:
        raise BadLine(f"unknown profile {profile!r} (expected: {', '.join(PROFILES)})")
    limit = line.get("limit", compute_limit)
    if limit is not None and (type(limit) is not int or limit <= 0):
        raise BadLine(f"'limit' must be a positive integer, not {json.dumps(limit)}")
    if ("program" in line) == ("path" in line):
        raise BadLine("give exactly one of 'program' (hex bytecode) and 'path'")
    section = _string(line, "section")
    sbpf = profile == "solana"
    try:
        if "program" in line:
            if section is not None:
                raise BadLine("'section' applies only to a 'path'")
            code = _hex(line, "program")
            program = decode_sbpf_v0(code) if sbpf else decode(code)
        else:
            name = _string(line, "path")
            if not name:
                raise BadLine("'path' is empty")
            path = folder / name
            program = load_program_file(path, section=section, sbpf_v0=sbpf,
                                        helpers=get_assembly_helpers(profile))
    except ArspecError as err:
        raise BadLine(str(err).splitlines()[0]) from None
    return ExecRequest(program, profile, _hex(line, "input"), limit), line_id


def _line(where: str, line_id: str | None, profile: str | None, code: int,
          result: dict[str, Any] | None, error: str | None) -> str:
    return json.dumps({"format": BATCH_FORMAT, "version": BATCH_VERSION, "line": where,
                       "id": line_id, "profile": profile, "exit_code": code,
                       "result": result, "error": error}, separators=(",", ":")) + "\n"


def run_line(text: str, where: str, folder: Path, *, profile: str,
             compute_limit: int | None) -> tuple[int, str]:
    """Run one input line; return its exit code and its output line."""
    line_id = None
    try:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as err:
            raise BadLine(f"not JSON: {err.msg} at column {err.colno}") from None
        if isinstance(parsed, dict) and isinstance(parsed.get("id"), str):
            line_id = parsed["id"]
        request, line_id = _request(parsed, folder, profile, compute_limit)
        result = run_request(request)
    except (BadLine, ArspecError) as err:  # a loader refusal too: exec exits 2 for it
        # "FILE: error: reason" of a program file reads "FILE: reason" after FILE:LINE.
        reason = str(err).splitlines()[0].removeprefix("error: ").replace(": error: ", ": ", 1)
        return EXIT_USAGE, _line(where, line_id, None, EXIT_USAGE, None,
                                 f"{where}: error: {reason}")
    code = result_exit_code(result, request.profile)
    return code, _line(where, line_id, request.profile, code, result, None)


def run_batch(source: str, out: TextIO, *, profile: str = "linux",
              compute_limit: int | None = None) -> int:
    """Run every line of the file ``source`` (``-``: stdin); return the worst exit code."""
    if source == "-":
        name, folder, data = "<stdin>", Path.cwd(), sys.stdin.buffer.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as err:
            raise UsageError(f"{source}: error: cannot read the batch: "
                             f"{err.strerror or err}") from None
        name, folder = source, Path(source).parent
    worst = EXIT_OK
    for number, raw in enumerate(data.splitlines(), start=1):
        where = f"{name}:{number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            code, line = EXIT_USAGE, _line(where, None, None, EXIT_USAGE, None,
                                           f"{where}: error: not UTF-8 text")
        else:
            if not text.strip():
                continue
            code, line = run_line(text, where, folder, profile=profile,
                                  compute_limit=compute_limit)
        out.write(line)
        worst = max(worst, code)
    return worst
