"""
Accounts
========

Named accounts with fixed-size data, the Solana-side state a program reads and writes through
arspec's account helpers (``arspec_account_read`` / ``arspec_account_write``) and that the
outside world changes through scenario writes (:func:`on_account_write`).

An account's size never changes (no ``realloc``). Bounds results are arspec's choice, since
Linux has no accounts; they follow the shape of Linux's buffer helpers:

* ``offset > len(data)`` -> ``-EINVAL`` (the offset is not inside the account; ``offset ==
  len(data)`` is the valid empty tail);
* ``offset + size > len(data)`` -> ``-E2BIG`` (the access is larger than what remains);
* a write to an account that is not writable -> ``-EPERM`` (Solana's read-only accounts);
* a failed read zeroes the destination, as ``bpf_probe_read_kernel`` does, so the program
  never sees stale bytes.

Account helpers name an account by its index in the bundle's declared order; the VM binding
resolves the index to a name and returns ``-ENOENT`` for an index with no account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arspec.spec.errno import E2BIG, EINVAL, EPERM
from arspec.spec.types import AccountName


@dataclass(eq=False)
class Account:
    """One account: its name, its data bytes and whether programs may write it."""

    name: AccountName
    data: bytearray
    writable: bool = True


@dataclass
class AccountsState:
    """Every account of the runtime, by name, in declaration order."""

    accounts: dict[AccountName, Account] = field(default_factory=dict)


def create_account(name: AccountName, size: int, *, writable: bool = True) -> Account:
    """Return an account of ``size`` zero bytes."""
    # Verify the size is not negative
    assert size >= 0
    return Account(name=name, data=bytearray(size), writable=writable)


def get_account(state: AccountsState, name: AccountName) -> Account | None:
    """Return the account called ``name``, or ``None``."""
    return state.accounts.get(name)


def check_account_bounds(account: Account, offset: int, size: int) -> int:
    """Return 0 if ``[offset, offset + size)`` lies in the data, else ``-EINVAL`` / ``-E2BIG``."""
    if offset < 0 or offset > len(account.data):
        return -EINVAL
    if size < 0 or offset + size > len(account.data):
        return -E2BIG
    return 0


def process_account_read(account: Account, offset: int, out: bytearray) -> int:
    """Copy ``len(out)`` bytes from ``offset`` into ``out``; 0 or a bounds error (out zeroed)."""
    error = check_account_bounds(account, offset, len(out))
    if error != 0:
        out[:] = bytes(len(out))
        return error
    out[:] = account.data[offset : offset + len(out)]
    return 0


def process_account_write(account: Account, offset: int, data: bytes) -> int:
    """Copy ``data`` into the account at ``offset``; 0, ``-EPERM`` or a bounds error."""
    if not account.writable:
        return -EPERM
    error = check_account_bounds(account, offset, len(data))
    if error != 0:
        return error
    account.data[offset : offset + len(data)] = data
    return 0


def on_account_write(state: AccountsState, name: AccountName, offset: int, data: bytes) -> None:
    """Apply a write from the outside world (a scenario step) to a named account.

    Outside writes ignore ``writable`` (that flag restricts programs) but must stay in bounds.
    """
    account = get_account(state, name)
    # Verify the account exists
    assert account is not None, f"no account named {name!r}"
    # Verify the write lies inside the account's data
    assert offset >= 0 and offset + len(data) <= len(account.data)
    account.data[offset : offset + len(data)] = data
