"""Accounts: bounds results of program reads and writes, read-only accounts, outside writes."""

from __future__ import annotations

import pytest

from arspec.spec.accounts import (
    AccountsState,
    create_account,
    get_account,
    on_account_write,
    process_account_read,
    process_account_write,
)
from arspec.spec.errno import E2BIG, EINVAL, EPERM
from arspec.spec.types import AccountName

NAME = AccountName("oracle")


def state() -> AccountsState:
    account = create_account(NAME, 8)
    account.data[:] = bytes(range(1, 9))
    return AccountsState({NAME: account})


def test_read_inside_bounds() -> None:
    account = create_account(NAME, 8)
    account.data[:] = bytes(range(8))
    out = bytearray(3)
    assert process_account_read(account, 5, out) == 0 and out == bytes([5, 6, 7])


def test_read_empty_at_the_end() -> None:
    assert process_account_read(create_account(NAME, 8), 8, bytearray()) == 0


def test_invalid_read_offset_outside_zeroes_output() -> None:
    out = bytearray(b"\xff")
    assert process_account_read(create_account(NAME, 8), 9, out) == -EINVAL
    assert out == bytearray(1)


def test_invalid_read_negative_offset() -> None:
    assert process_account_read(create_account(NAME, 8), -1, bytearray(1)) == -EINVAL


def test_invalid_read_too_big_zeroes_output() -> None:
    out = bytearray(b"\xff" * 4)
    assert process_account_read(create_account(NAME, 8), 6, out) == -E2BIG
    assert out == bytearray(4)


def test_write_inside_bounds() -> None:
    account = create_account(NAME, 4)
    assert process_account_write(account, 1, b"ab") == 0
    assert account.data == bytearray(b"\x00ab\x00")


def test_invalid_write_offset_outside() -> None:
    account = create_account(NAME, 4)
    assert process_account_write(account, 5, b"") == -EINVAL
    assert account.data == bytearray(4)


def test_invalid_write_too_big_changes_nothing() -> None:
    account = create_account(NAME, 4)
    assert process_account_write(account, 2, b"abc") == -E2BIG
    assert account.data == bytearray(4)


def test_invalid_write_read_only_account() -> None:
    account = create_account(NAME, 4, writable=False)
    assert process_account_write(account, 0, b"a") == -EPERM
    assert account.data == bytearray(4)


def test_outside_write_applies_even_to_read_only() -> None:
    accounts = AccountsState({NAME: create_account(NAME, 4, writable=False)})
    on_account_write(accounts, NAME, 2, b"zz")
    account = get_account(accounts, NAME)
    assert account is not None and account.data == bytearray(b"\x00\x00zz")


def test_invalid_outside_write_unknown_account() -> None:
    with pytest.raises(AssertionError, match="no account named 'nope'"):
        on_account_write(state(), AccountName("nope"), 0, b"a")


def test_invalid_outside_write_out_of_bounds() -> None:
    with pytest.raises(AssertionError):
        on_account_write(state(), NAME, 7, b"ab")


def test_get_account_missing() -> None:
    assert get_account(state(), AccountName("nope")) is None
