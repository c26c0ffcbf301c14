"""``spec-check --help`` and every ``COMMAND --help`` are plain text: no reST markup."""

from __future__ import annotations

import argparse

import pytest

from arspec.cli.parser import build_parser


def _commands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    raise AssertionError("spec-check has no subcommands")


def test_top_level_help_has_no_rest_markup() -> None:
    text = build_parser().format_help()
    assert "``" not in text
    assert "exit" in text.lower()


@pytest.mark.parametrize("command", _commands())
def test_command_help_has_no_rest_markup(command: str) -> None:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            text = action.choices[command].format_help()
            assert "``" not in text, command
            assert command in text
