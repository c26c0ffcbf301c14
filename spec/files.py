"""
Reading input files within a size limit
=======================================

Every file a user hands arspec (a bundle, a program, an ELF object, a trace) is read through
:func:`read_limited`, which stops reading one byte past the limit. A device such as
``/dev/zero`` or a file that grows while it is read is therefore refused after at most
``limit + 1`` bytes, instead of being read until memory runs out.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from arspec.spec.errors import InputError

#: Largest program file (assembly, bytecode, hex text or ELF object) accepted, in bytes.
MAX_PROGRAM_FILE_BYTES = 64 * 1024 * 1024
#: Largest trace file accepted by ``replay``, in bytes.
MAX_TRACE_FILE_BYTES = 64 * 1024 * 1024


def read_limited(path: str | Path, limit: int, *, what: str = "file") -> bytes:
    """Return the bytes of the file at ``path``, refusing more than ``limit`` bytes.

    Raises
    ------
    InputError
        Naming the file: missing, a directory, a FIFO or socket (whose read could block),
        unreadable, or larger than ``limit``.
    """
    name = str(path)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise InputError("no such file", file=name) from None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", file=name) from None
    except ValueError:  # a NUL byte in the name
        raise InputError("not a valid file name", file=name.replace("\0", "\\0")) from None
    if stat.S_ISDIR(mode):
        raise InputError(f"is a directory, expected a {what}", file=name)
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise InputError(f"is a pipe or socket, expected a {what}", file=name)
    try:
        with open(name, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", file=name) from None
    if len(data) > limit:
        raise InputError(f"{what} is larger than {limit} bytes", file=name, line=None)
    return data
