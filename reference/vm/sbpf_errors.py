"""
SBPF exit codes
===============

How Agave reads the ``r0`` a program exits with (anza-xyz/agave
``programs/bpf_loader/src/lib.rs``, ``execute``; the ``u64`` to ``InstructionError``
conversion of the ``solana-program-error`` / ``solana-instruction`` crates): 0 is success; a
value below 2**32 is ``Custom(r0)``; ``k << 32`` for k = 1..26 is one of the builtin errors
below (``k = 1`` is ``Custom(0)``); anything else is ``InvalidError``. Every non-zero value
fails the instruction, and the runtime rolls back its writes.
"""

from __future__ import annotations

from typing import Final

#: The builtin instruction errors, in the order of their ``k << 32`` codes from k = 1.
BUILTIN_ERRORS: Final = (
    "Custom(0)", "InvalidArgument", "InvalidInstructionData", "InvalidAccountData",
    "AccountDataTooSmall", "InsufficientFunds", "IncorrectProgramId",
    "MissingRequiredSignature", "AccountAlreadyInitialized", "UninitializedAccount",
    "NotEnoughAccountKeys", "AccountBorrowFailed", "MaxSeedLengthExceeded", "InvalidSeeds",
    "BorshIoError", "AccountNotRentExempt", "UnsupportedSysvar", "IllegalOwner",
    "MaxAccountsDataAllocationsExceeded", "InvalidRealloc", "MaxInstructionTraceLengthExceeded",
    "BuiltinProgramsMustConsumeComputeUnits", "InvalidAccountOwner", "ArithmeticOverflow",
    "Immutable", "IncorrectAuthority",
)


def describe_exit_code(r0: int) -> str:
    """Return ``"success"`` or the instruction error Agave reports for ``r0``."""
    if r0 == 0:
        return "success"
    if r0 < 1 << 32:
        return f"Custom({r0})"
    k, low = divmod(r0, 1 << 32)
    if low == 0 and 1 <= k <= len(BUILTIN_ERRORS):
        return BUILTIN_ERRORS[k - 1]
    return "InvalidError"
