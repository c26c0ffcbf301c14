"""The engines' outcomes as ``spec-check`` reports them: ``(exit code, report text)``.

The engines return result objects and define no exit codes; these wrappers map their
verdicts through the front end's one table (:mod:`arspec.cli.exit_codes`) so tests can
compare exit codes directly.
"""

from __future__ import annotations

from typing import Any

from arspec.cli.exit_codes import EXIT_NOT_REPRODUCED, exit_code_of
from arspec.model import explore_bundle as explorer
from arspec.model import replay_bundle as replayer


def explore_bundle(path: str, **options: Any) -> tuple[int, str]:
    """Explore ``path`` (:func:`arspec.model.explore_bundle.explore_bundle`); return the
    exit code of ``spec-check explore`` and the report."""
    outcome = explorer.explore_bundle(path, **options)
    return exit_code_of(outcome.verdict), outcome.report


def replay_trace(path: str) -> tuple[int, str]:
    """Replay a trace (:func:`arspec.model.replay_bundle.replay_trace`); return the exit
    code of ``spec-check replay`` and the report."""
    outcome = replayer.replay_trace(path)
    if outcome.verdict == replayer.NOT_REPRODUCED:
        return EXIT_NOT_REPRODUCED, outcome.report
    return exit_code_of(outcome.verdict), outcome.report


def verify_bundle_file(path: str, *, timeout: float, rlimit: int,
                       output_format: str) -> tuple[int, str]:
    """Verify ``path`` without the explorer step (``spec-check verify --no-explore``);
    return the exit code and the report in ``output_format``."""
    from arspec.cli.commands.verify import RENDERERS, verify_run
    from arspec.spec.loader import load_bundle

    run = verify_run(path, load_bundle(path), timeout=timeout, rlimit=rlimit, explore=False)
    return run.exit_code, RENDERERS[output_format](run)
