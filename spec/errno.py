"""
Error numbers
=============

The Linux ``errno`` values that helpers return, and how a helper encodes them in ``r0``.

A Linux helper that fails returns ``-errno`` as a ``long``; the program sees the 64-bit
two's-complement pattern of that number in ``r0``. arspec keeps exactly this convention in
both profiles, so that ``if (ret < 0)`` in a program means the same thing everywhere. The spec's
transitions return plain Python integers (``0``, a positive count, or ``-errno``);
:func:`compute_r0` turns such a result into the register value and :func:`compute_signed`
reads it back.
"""

from __future__ import annotations

from typing import Final

from arspec.spec.types import U64_MASK

EPERM: Final = 1
ENOENT: Final = 2
E2BIG: Final = 7
EAGAIN: Final = 11
ENOMEM: Final = 12
EBUSY: Final = 16
EEXIST: Final = 17
EINVAL: Final = 22
EDEADLK: Final = 35
EOPNOTSUPP: Final = 95
#: Kernel-internal "operation not supported" (``include/linux/errno.h``), distinct from
#: ``EOPNOTSUPP``; returned for map operations a map type does not implement.
ENOTSUPP: Final = 524

#: Symbolic names, for messages and documentation, in increasing numeric order.
ERRNO_NAMES: Final[dict[int, str]] = {
    EPERM: "EPERM",
    ENOENT: "ENOENT",
    E2BIG: "E2BIG",
    EAGAIN: "EAGAIN",
    ENOMEM: "ENOMEM",
    EBUSY: "EBUSY",
    EEXIST: "EEXIST",
    EINVAL: "EINVAL",
    EDEADLK: "EDEADLK",
    EOPNOTSUPP: "EOPNOTSUPP",
    ENOTSUPP: "ENOTSUPP",
}


def compute_r0(result: int) -> int:
    """Return the unsigned 64-bit register value of a helper result (``-EINVAL`` -> 2**64-22)."""
    return result & U64_MASK


def compute_signed(r0: int) -> int:
    """Return the signed reading of a 64-bit register value (the inverse of compute_r0)."""
    r0 &= U64_MASK
    return r0 - (1 << 64) if r0 >> 63 else r0


def get_errno_name(result: int) -> str:
    """Return ``"-EINVAL"`` for ``-22``, ``"0"`` for success, the number for anything else."""
    if result < 0 and -result in ERRNO_NAMES:
        return "-" + ERRNO_NAMES[-result]
    return str(result)
