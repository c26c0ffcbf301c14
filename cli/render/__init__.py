"""
Renderers
=========

One renderer per result and format: :mod:`~arspec.cli.render.text` for people,
:mod:`~arspec.cli.render.json` for tools (versioned documents), :mod:`~arspec.cli.render.sarif`
for code-scanning tools (SARIF 2.1.0). Every format of ``verify`` carries the same verdicts
and the same exit code: the verifier's and, when the bundle asks for it, the explorer's.
"""

from __future__ import annotations

from dataclasses import dataclass

from arspec.checker.verify_bundle import BundleResult
from arspec.model.explore_bundle import ExploreOutcome


@dataclass(frozen=True)
class VerifyRun:
    """What ``spec-check verify`` found: the verifier's result, the explorer's outcome
    (``None`` when the bundle asks for no exploration or ``--no-explore``), and the exit
    code the command returns (the combined verdict)."""

    result: BundleResult
    explored: ExploreOutcome | None
    exit_code: int
